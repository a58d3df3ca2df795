//! The content-addressed store and the private library through HTTP: uploads,
//! deduplication, private and public serving, metadata stripping, limits, quotas,
//! garbage collection, fsck and crash safety.

mod support;

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Server, png, problem};

/// A JPEG carrying EXIF with GPS coordinates and orientation 6 (rotate 90° clockwise).
fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        width,
        height,
        image::Rgb([200, 30, 30]),
    ));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Jpeg).unwrap();
    let plain = out.into_inner();
    // TIFF (big endian): IFD0 with Orientation=6 and a GPS IFD pointer; GPS IFD with
    // GPSLatitudeRef = "N".
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&[0x00, 0x02]);
    tiff.extend_from_slice(&[
        0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,
    ]);
    tiff.extend_from_slice(&[
        0x88, 0x25, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x26,
    ]);
    tiff.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]);
    tiff.extend_from_slice(&[0x00, 0x01]);
    tiff.extend_from_slice(&[
        0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, b'N', 0x00, 0x00, 0x00,
    ]);
    tiff.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]);
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut jpeg = plain[..2].to_vec();
    jpeg.extend_from_slice(&[0xFF, 0xE1]);
    jpeg.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    jpeg.extend_from_slice(&app1);
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| {
            if e.path().is_dir() {
                files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test]
async fn same_bytes_are_stored_once_and_private_files_stay_private() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let bob = server.verified_user("bob").await;
    let bytes = png(600, 400, 7);
    let a = ann.uploaded("sunset.png", bytes.clone()).await;
    let b = bob.uploaded("copy.png", bytes).await;
    assert_eq!(a["sha256"], b["sha256"]);
    assert_ne!(a["id"], b["id"]);
    assert_eq!(
        (a["width"].as_i64(), a["height"].as_i64()),
        (Some(600), Some(400))
    );
    assert_eq!(a["title"], "sunset");
    // Original, 256 px and 1024 px thumbnails: three files for both users together.
    assert_eq!(files_under(&server.data_dir().join("blobs/sha256")), 3);

    // Concurrent uploads of one new file by both: every one succeeds, one copy is kept.
    let fresh = png(300, 200, 8);
    let racing = (0..6).map(|i| {
        let uploader = if i % 2 == 0 { &ann } else { &bob };
        uploader.upload("race.png", fresh.clone())
    });
    let answers = futures_util::future::join_all(racing).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::CREATED));
    assert_eq!(files_under(&server.data_dir().join("blobs/sha256")), 6);
    let fsck = server.command().args(["blobs", "fsck"]).output().unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );

    let url = a["url"].as_str().unwrap().to_string();
    let own = ann.get(&url).await;
    assert_eq!(own.status(), StatusCode::OK);
    assert!(
        own.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert_eq!(own.headers()["content-type"], "image/png");
    assert_eq!(own.headers()["x-content-type-options"], "nosniff");
    // Bob uploaded the same bytes: he may see them through his own asset.
    assert_eq!(bob.get(&url).await.status(), StatusCode::OK);
    let carl = server.verified_user("carl").await;
    let missing = format!("/blobs/{}", "0".repeat(64));
    let private = carl.get(&url).await;
    let absent = carl.get(&missing).await;
    assert_eq!(private.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        private.text().await.unwrap(),
        absent.text().await.unwrap(),
        "no difference from a missing hash"
    );
    assert_eq!(server.api().get(&url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        server
            .api()
            .get("/blobs/..%2F..%2Fetc%2Fpasswd")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn public_files_are_cacheable_with_etag_and_ranges() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let asset = ann.uploaded("public.png", png(40, 40, 1)).await;
    let shared = ann
        .post(
            "/api/v1/posts",
            json!({"asset_id": asset["id"], "title": "Public"}),
        )
        .await;
    assert_eq!(shared.status(), StatusCode::CREATED);
    let url = format!("{}{}", server.url, asset["url"].as_str().unwrap());
    let client = reqwest::Client::new();
    let full = client.get(&url).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    let etag = full.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", asset["sha256"].as_str().unwrap()));
    assert_eq!(
        full.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let bytes = full.bytes().await.unwrap();
    let cached = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let part = client
        .get(&url)
        .header("range", "bytes=8-15")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 8-15/{}", bytes.len())
    );
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(8..16));
    let beyond = client
        .get(&url)
        .header("range", format!("bytes={}-", bytes.len() + 5))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let download = client
        .get(format!("{url}?download=1"))
        .send()
        .await
        .unwrap();
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"public.png\"")
    );
}

#[tokio::test]
async fn uploaded_jpeg_loses_its_exif_and_gps_with_orientation_applied() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let original = jpeg_with_gps(40, 20);
    assert!(original.windows(4).any(|w| w == b"Exif"));
    let asset = ann.uploaded("holiday.jpg", original).await;
    // Orientation 6 turns 40×20 into 20×40.
    assert_eq!(
        (asset["width"].as_i64(), asset["height"].as_i64()),
        (Some(20), Some(40))
    );
    let stored = ann
        .get(asset["url"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    assert!(!stored.windows(4).any(|w| w == b"Exif"), "no EXIF left");
    assert!(
        !stored.windows(2).any(|w| w == [0xFF, 0xE1]),
        "no APP1 segment left"
    );
    let decoded = image::load_from_memory(&stored).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (20, 40));
}

#[tokio::test]
async fn refused_uploads_leave_nothing_behind() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    // A decompression bomb: a tiny PNG whose header claims 100,000 × 100,000 pixels.
    let mut bomb = png(1, 1, 0);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    problem(
        ann.upload("bomb.png", bomb).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Content that does not match its name, SVG, HTML, garbage.
    problem(
        ann.upload("photo.jpg", png(4, 4, 0)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    problem(
        ann.upload("logo.svg", svg).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    problem(
        ann.upload("page.png", b"<html><body>hi</body></html>".to_vec())
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    problem(
        ann.upload("broken.stl", vec![0xFFu8; 300]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        ann.upload("noise.bin", vec![7u8; 300]).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(files_under(&server.data_dir().join("blobs/sha256")), 0);
    assert_eq!(files_under(&server.data_dir().join("blobs/tmp")), 0);
    assert_eq!(ann.json("/api/v1/me/storage").await["asset_count"], 0);
}

#[tokio::test]
async fn library_lists_filters_edits_and_deletes() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    for i in 0..3u8 {
        ann.uploaded(&format!("image-{i}.png"), png(8, 8, i)).await;
    }
    let obj = b"# cube\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n".to_vec();
    let model = ann.uploaded("tri.obj", obj).await;
    assert_eq!(model["kind"], "model");
    assert_eq!(model["triangles"], 1);
    let all = ann.json("/api/v1/assets").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    assert_eq!(all["items"][0]["id"], model["id"], "newest first");
    assert_eq!(
        ann.json("/api/v1/assets?kind=model").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ann.json("/api/v1/assets?kind=image").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        ann.json("/api/v1/assets?sort=oldest").await["items"][0]["title"],
        "image-0"
    );
    let id = all["items"][1]["id"].as_str().unwrap().to_string();
    let edited: Value = ann
        .patch(
            &format!("/api/v1/assets/{id}"),
            json!({"title": "Blue hour", "tags": ["Night", "#city", "night"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["title"], "Blue hour");
    assert_eq!(edited["tags"], json!(["night", "city"]));
    assert_eq!(
        ann.json("/api/v1/assets?q=blue").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ann.json("/api/v1/assets?q=city").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    problem(
        ann.get("/api/v1/assets?kind=sound").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Another user sees none of it.
    let bob = server.verified_user("bob").await;
    assert_eq!(
        bob.json("/api/v1/assets").await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    problem(
        bob.get(&format!("/api/v1/assets/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        bob.delete(&format!("/api/v1/assets/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Delete one, then two at once.
    assert_eq!(
        ann.delete(&format!("/api/v1/assets/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let rest: Vec<String> = ann.json("/api/v1/assets").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ann.post("/api/v1/assets/delete", json!({"ids": rest}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let storage = ann.json("/api/v1/me/storage").await;
    assert_eq!(storage["asset_count"], 1);
}

#[tokio::test]
async fn quota_holds_even_for_concurrent_uploads() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let id = ann.json("/api/v1/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = png(64, 64, 3);
    let size = ann.uploaded("first.png", one.clone()).await["size"]
        .as_i64()
        .unwrap();
    // The admin leaves room for exactly two more of that size.
    let admin = server.admin().await;
    let set = admin
        .put(
            &format!("/api/v1/admin/users/{id}/quota"),
            json!({"quota_bytes": size * 3}),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    problem(
        ann.put(
            &format!("/api/v1/admin/users/{id}/quota"),
            json!({"quota_bytes": 1}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let uploads = (0..4).map(|_| ann.upload("again.png", one.clone()));
    let results = futures_util::future::join_all(uploads).await;
    let created = results
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    let refused = results
        .iter()
        .filter(|r| r.status() == StatusCode::PAYLOAD_TOO_LARGE)
        .count();
    assert_eq!((created, refused), (2, 2));
    let storage = ann.json("/api/v1/me/storage").await;
    assert_eq!(storage["used_bytes"], json!(size * 3));
    assert_eq!(storage["quota_is_custom"], json!(true));

    // The admin's user list shows the use; clearing the override restores the default.
    let listed = admin.json("/api/v1/admin/users?q=ann").await;
    assert_eq!(listed["items"][0]["storage"]["used_bytes"], json!(size * 3));
    assert_eq!(listed["items"][0]["storage"]["asset_count"], json!(3));
    let reset: Value = admin
        .put(
            &format!("/api/v1/admin/users/{id}/quota"),
            json!({"quota_bytes": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reset["quota_is_custom"], json!(false));
    assert_eq!(reset["quota_bytes"], json!(10i64 * 1024 * 1024 * 1024));

    // The admin's default replaces the config's for everyone without their own quota.
    let settings = admin.json("/api/v1/admin/settings").await;
    assert_eq!(
        settings["default_quota_bytes"],
        json!(10i64 * 1024 * 1024 * 1024)
    );
    let mut changed = settings.clone();
    changed["default_quota_bytes"] = json!(size * 3);
    assert_eq!(
        admin.put("/api/v1/admin/settings", changed).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        ann.json("/api/v1/me/storage").await["quota_bytes"],
        json!(size * 3)
    );
    problem(
        ann.upload("over.png", png(64, 64, 4)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let mut negative = settings;
    negative["default_quota_bytes"] = json!(-1);
    problem(
        admin.put("/api/v1/admin/settings", negative).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn gc_waits_for_the_grace_period_and_fsck_finds_corruption() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let asset = ann.uploaded("old.png", png(16, 16, 9)).await;
    let hash = asset["sha256"].as_str().unwrap().to_string();
    let path = server
        .data_dir()
        .join("blobs/sha256")
        .join(&hash[0..2])
        .join(&hash[2..4])
        .join(&hash);
    assert!(path.is_file());

    // fsck: clean, then a flipped byte is found and quarantined.
    let fsck = server.command().args(["blobs", "fsck"]).output().unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[40] ^= 0xFF;
    std::fs::write(&path, bytes).unwrap();
    let fsck = server.command().args(["blobs", "fsck"]).output().unwrap();
    assert!(!fsck.status.success());
    let report: Value = serde_json::from_slice(&fsck.stdout).unwrap();
    assert_eq!(report["corrupt"], json!([hash]));
    assert_eq!(report["broken_assets"], json!([asset["id"]]));
    assert!(!path.exists(), "moved to quarantine");

    // GC: a deleted asset's files stay during the grace period, then go.
    let second = ann.uploaded("second.png", png(16, 16, 10)).await;
    let second_hash = second["sha256"].as_str().unwrap().to_string();
    let second_path = server
        .data_dir()
        .join("blobs/sha256")
        .join(&second_hash[0..2])
        .join(&second_hash[2..4])
        .join(&second_hash);
    ann.delete(&format!(
        "/api/v1/assets/{}",
        second["id"].as_str().unwrap()
    ))
    .await;
    let gc = server.command().args(["blobs", "gc"]).output().unwrap();
    assert!(gc.status.success());
    assert!(second_path.exists(), "kept within the grace period");
    // A day and a minute later the original and its WebP thumbnail (a 16 px image's
    // two thumbnails are the same file) go.
    let gc = server
        .command()
        .args(["blobs", "gc", "--clock-offset", "86460"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&gc.stdout).starts_with("2 unreferenced"),
        "{}",
        String::from_utf8_lossy(&gc.stdout)
    );
    assert!(!second_path.exists());
}

#[tokio::test]
async fn a_crash_mid_upload_leaves_no_blob_and_no_temp_file() {
    let mut server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let token = ann.token.clone().unwrap();
    let url = format!("{}/api/v1/assets?filename=big.stl", server.url);
    // A body that keeps coming: 64 KiB chunks until the server dies.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(receiver));
    let request = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
    });
    for _ in 0..64 {
        sender.send(Ok(vec![1u8; 64 * 1024])).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        files_under(&server.data_dir().join("blobs/tmp")) >= 1,
        "the upload is being written"
    );
    server.kill9();
    drop(sender);
    let _ = request.await;
    server.restart().await;
    assert_eq!(files_under(&server.data_dir().join("blobs/tmp")), 0);
    assert_eq!(files_under(&server.data_dir().join("blobs/sha256")), 0);
}

fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// A one-triangle GLB; `claimed` is the buffer length its JSON declares.
fn glb(claimed: usize) -> Vec<u8> {
    let mut json = format!(
        r#"{{"asset":{{"version":"2.0"}},"buffers":[{{"byteLength":{claimed}}}],"bufferViews":[{{"buffer":0,"byteLength":36}}],"accessors":[{{"bufferView":0,"componentType":5126,"count":3,"type":"VEC3","min":[0,0,0],"max":[1,1,0]}}],"meshes":[{{"primitives":[{{"attributes":{{"POSITION":0}}}}]}}]}}"#
    )
    .into_bytes();
    while !json.len().is_multiple_of(4) {
        json.push(b' ');
    }
    let mut bin = Vec::new();
    for v in [0f32, 0., 0., 1., 0., 0., 0., 1., 0.] {
        bin.extend_from_slice(&v.to_le_bytes());
    }
    let total = 12 + 8 + json.len() + 8 + bin.len();
    let mut out = b"glTF".to_vec();
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}

#[tokio::test]
async fn three_d_uploads_are_parsed_and_checked() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let model = ann.uploaded("tri.glb", glb(36)).await;
    assert_eq!(
        (
            model["kind"].as_str(),
            model["format"].as_str(),
            model["triangles"].as_i64()
        ),
        (Some("model"), Some("glb"), Some(1))
    );
    assert_eq!(model["mime"], "model/gltf-binary");
    problem(
        ann.upload("lying.glb", glb(4096)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // A binary STL of two facets (a square), and one whose facets are all zeros, which
    // has no triangle to show.
    let binary_stl = |facets: &[[[f32; 3]; 3]]| {
        let mut stl = vec![0u8; 80];
        stl.extend_from_slice(&(facets.len() as u32).to_le_bytes());
        for facet in facets {
            stl.extend_from_slice(&[0u8; 12]);
            for corner in facet {
                for c in corner {
                    stl.extend_from_slice(&c.to_le_bytes());
                }
            }
            stl.extend_from_slice(&[0u8; 2]);
        }
        stl
    };
    let square = [
        [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]],
        [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]],
    ];
    assert_eq!(
        ann.uploaded("two.stl", binary_stl(&square)).await["triangles"],
        2
    );
    problem(
        ann.upload("zeros.stl", binary_stl(&[[[0.0; 3]; 3]; 2]))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let ascii = b"solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n".to_vec();
    assert_eq!(ann.uploaded("ascii.stl", ascii).await["triangles"], 1);
    // A primitive naming an accessor that does not exist (the gltf crate would panic on
    // it) is a clear 422, as glTF JSON and inside a GLB.
    let dangling =
        br#"{"asset":{"version":"2.0"},"meshes":[{"primitives":[{"attributes":{"POSITION":5}}]}]}"#;
    problem(
        ann.upload("dangling.gltf", dangling.to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut json = dangling.to_vec();
    while !json.len().is_multiple_of(4) {
        json.push(b' ');
    }
    let mut glb_bytes = b"glTF".to_vec();
    glb_bytes.extend_from_slice(&2u32.to_le_bytes());
    glb_bytes.extend_from_slice(&(20 + json.len() as u32).to_le_bytes());
    glb_bytes.extend_from_slice(&(json.len() as u32).to_le_bytes());
    glb_bytes.extend_from_slice(b"JSON");
    glb_bytes.extend_from_slice(&json);
    problem(
        ann.upload("dangling.glb", glb_bytes).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}
