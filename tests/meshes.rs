//! 3D models through the HTTP API: reliefs, lithophanes (flat, framed, curved) and
//! silhouette extrusions made from library images as jobs, with progress, credits, mesh
//! facts and server-rendered thumbnails; every download format checked by the field's
//! own tools (Khronos glTF Validator, admesh, PrusaSlicer); uploaded models get the same
//! facts and conversions; heights from a depth model and silhouettes from a background-
//! removal model (tiny models with known answers, on ONNX Runtime); quick previews; bad
//! requests refused without changing anything.

mod support;

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use reqwest::StatusCode;
use serde_json::{Value, json};
use stratamake::domains::generation::mesh_preview::PREVIEW_RESOLUTION;
use support::mesh_files::{save_all_formats, validate_meshes};
use support::{Api, Server, problem};

fn png(image: RgbaImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(image)
        .write_to(&mut out, ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// A photo-like picture: a gradient with a bright disc and a dark bar.
fn photo_png() -> Vec<u8> {
    png(RgbaImage::from_fn(96, 64, |x, y| {
        let disc = (x as f32 - 60.0).hypot(y as f32 - 30.0) < 14.0;
        let bar = (10..30).contains(&x) && (20..50).contains(&y);
        let v = match (disc, bar) {
            (true, _) => 240,
            (_, true) => 20,
            _ => (60 + x + y) as u8,
        };
        Rgba([v, v, v, 255])
    }))
}

/// A cut-out: an opaque ring (a shape with a hole) and a speck on transparency.
fn cutout_png() -> Vec<u8> {
    png(RgbaImage::from_fn(80, 80, |x, y| {
        let r = (x as f32 - 40.0).hypot(y as f32 - 40.0);
        let speck = x == 5 && y == 5;
        if (12.0..30.0).contains(&r) || speck {
            Rgba([200, 60, 30, 255])
        } else {
            Rgba([255, 255, 255, 0])
        }
    }))
}

/// A binary STL of `triangles` (millimetres).
fn stl(triangles: &[[[f32; 3]; 3]]) -> Vec<u8> {
    let mut out = vec![b' '; 80];
    out.extend_from_slice(&(triangles.len() as u32).to_le_bytes());
    for t in triangles {
        out.extend_from_slice(&[0u8; 12]);
        for p in t {
            for c in p {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        out.extend_from_slice(&[0, 0]);
    }
    out
}

/// A closed cube of side `s` with outward winding.
fn cube_triangles(s: f32) -> Vec<[[f32; 3]; 3]> {
    let p = |i: usize| {
        [
            if i & 1 == 0 { 0.0 } else { s },
            if i & 2 == 0 { 0.0 } else { s },
            if i & 4 == 0 { 0.0 } else { s },
        ]
    };
    let quads = [
        [0, 2, 3, 1],
        [4, 5, 7, 6],
        [0, 1, 5, 4],
        [2, 6, 7, 3],
        [0, 4, 6, 2],
        [1, 3, 7, 5],
    ];
    quads
        .iter()
        .flat_map(|q| [[p(q[0]), p(q[1]), p(q[2])], [p(q[0]), p(q[2]), p(q[3])]])
        .collect()
}

async fn balance(api: &Api) -> i64 {
    api.json("/api/v1/me/credits").await["balance"]
        .as_i64()
        .unwrap()
}

/// Queues a 3D job, follows it to success and returns the final job and its model asset.
async fn make(api: &Api, body: Value) -> (Vec<(String, Value)>, Value) {
    let response = api.post("/api/v1/generations", body.clone()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{body}");
    let job: Value = response.json().await.unwrap();
    let events = api.follow(job["id"].as_str().unwrap()).await;
    let (name, done) = events.last().unwrap();
    assert_eq!(name, "succeeded", "{body}: {done}");
    let id = done["model"]["asset_id"].as_str().unwrap();
    let asset = api.json(&format!("/api/v1/assets/{id}")).await;
    (events, asset)
}

/// Asks for a quick preview; asserts a GLB comes back and returns it.
async fn preview_glb(api: &Api, body: Value) -> Vec<u8> {
    let response = api.post("/api/v1/meshes/preview", body.clone()).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_eq!(response.headers()["content-type"], "model/gltf-binary");
    let glb = response.bytes().await.unwrap().to_vec();
    assert_eq!(&glb[..4], b"glTF");
    glb
}

/// Asserts every coordinate lies (within 0.001 mm) on a grid of `samples` lines spread
/// evenly over `0..=length` mm; returns how many of those lines are used.
fn grid_lines(coordinates: impl Iterator<Item = f32>, length: f64, samples: usize) -> usize {
    let step = length / (samples - 1) as f64;
    let mut used = std::collections::BTreeSet::new();
    for c in coordinates {
        let k = f64::from(c) / step;
        let line = k.round();
        assert!(
            (k - line).abs() * step <= 1e-3 && (0.0..samples as f64).contains(&line),
            "{c} mm is off the grid of {samples} samples over {length} mm"
        );
        used.insert(line as i64);
    }
    used.len()
}

fn assert_close(actual: &Value, expected: f64, what: &str) {
    let actual = actual.as_f64().unwrap();
    assert!(
        (actual - expected).abs() <= 0.01,
        "{what}: {actual} mm, expected {expected} mm"
    );
}

#[tokio::test]
async fn every_mode_makes_a_printable_model_the_validators_accept() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let photo = ann.uploaded("photo.png", photo_png()).await;
    let cutout = ann.uploaded("cutout.png", cutout_png()).await;
    let before = balance(&ann).await;
    let dir = tempfile::tempdir().unwrap();

    let jobs = [
        (
            "relief",
            json!({"kind": "relief", "source_asset_id": photo["id"], "width_mm": 40,
                   "resolution": 96, "base_mm": 1.5, "max_height_mm": 3}),
            Some(40.0),
        ),
        (
            "framed-lithophane",
            json!({"kind": "lithophane", "source_asset_id": photo["id"], "width_mm": 40,
                   "resolution": 96, "frame_mm": 3}),
            Some(46.0),
        ),
        (
            "curved-lithophane",
            json!({"kind": "lithophane", "source_asset_id": photo["id"], "width_mm": 60,
                   "resolution": 96, "curve_degrees": 120}),
            None,
        ),
        (
            "extrusion",
            json!({"kind": "extrusion", "source_asset_id": cutout["id"], "width_mm": 30,
                   "max_height_mm": 4, "base_mm": 1.5}),
            // The shapes are 30 mm wide and the base plate reaches 2 mm beyond them.
            Some(34.0),
        ),
    ];
    for (label, body, width) in &jobs {
        let (events, asset) = make(&ann, body.clone()).await;
        let stages: Vec<&str> = events
            .iter()
            .filter_map(|(_, e)| e["progress"]["stage"].as_str())
            .collect();
        assert!(!stages.is_empty(), "{label}: no stage was reported");
        assert_eq!(asset["kind"], "model");
        assert_eq!(asset["source"], "generated");
        assert_eq!(asset["format"], "glb");
        let mesh = &asset["mesh"];
        assert_eq!(mesh["printable"], true, "{label}: {mesh}");
        assert_eq!(mesh["watertight"], true);
        assert_eq!(mesh["manifold"], true);
        assert!(mesh["volume_cm3"].as_f64().unwrap() > 0.0);
        if let Some(width) = width {
            assert_close(&mesh["size_mm"][0], *width, label);
        }
        assert_eq!(asset["params"]["mode"], body["kind"]);
        assert_eq!(asset["params"]["source_asset_id"], body["source_asset_id"]);

        // The server pictured it: a WebP with the model on a transparent background.
        let thumbnail = ann.get(asset["thumbnail_url"].as_str().unwrap()).await;
        assert_eq!(thumbnail.headers()["content-type"], "image/webp");
        let picture = image::load_from_memory(&thumbnail.bytes().await.unwrap())
            .unwrap()
            .to_rgba8();
        let opaque = picture.pixels().filter(|p| p[3] == 255).count();
        assert!(opaque > 1000, "{label}: the thumbnail is nearly empty");
        assert!(picture.get_pixel(0, 0)[3] == 0, "{label}: no background");

        save_all_formats(&ann, &asset, label, dir.path()).await;
    }
    // One credit per model.
    assert_eq!(balance(&ann).await, before - jobs.len() as i64);
    validate_meshes(dir.path(), 3 * jobs.len());
}

#[tokio::test]
async fn uploaded_models_get_facts_thumbnails_and_conversions() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let cube = ann.uploaded("cube.stl", stl(&cube_triangles(20.0))).await;
    let mesh = &cube["mesh"];
    assert_eq!(mesh["printable"], true, "{mesh}");
    assert_eq!(mesh["triangles"], 12);
    assert_eq!(mesh["vertices"], 8);
    assert!((mesh["volume_cm3"].as_f64().unwrap() - 8.0).abs() < 1e-6);
    for k in 0..3 {
        assert_close(&mesh["size_mm"][k], 20.0, "cube side");
    }
    assert!(cube["thumbnail_url"].is_string());

    // A lone triangle is read and pictured, and reported as not printable.
    let open = ann
        .uploaded(
            "sheet.stl",
            stl(&[[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]]]),
        )
        .await;
    assert_eq!(open["mesh"]["watertight"], false);
    assert_eq!(open["mesh"]["printable"], false);

    let dir = tempfile::tempdir().unwrap();
    save_all_formats(&ann, &cube, "uploaded-cube", dir.path()).await;
    // The stored file itself, without a format.
    let id = cube["id"].as_str().unwrap();
    let original = ann.get(&format!("/api/v1/assets/{id}/download")).await;
    assert_eq!(original.status(), StatusCode::OK);
    assert_eq!(
        original.bytes().await.unwrap().to_vec(),
        stl(&cube_triangles(20.0))
    );
    validate_meshes(dir.path(), 3);
}

#[tokio::test]
async fn previews_are_quick_glbs_and_bad_requests_change_nothing() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let bob = server.verified_user("bob").await;
    let photo = ann.uploaded("photo.png", photo_png()).await;
    let blank = ann
        .uploaded(
            "blank.png",
            png(RgbaImage::from_pixel(32, 32, Rgba([255; 4]))),
        )
        .await;
    let bobs = bob.uploaded("bob.png", photo_png()).await;
    let before = balance(&ann).await;

    // Asked for 2000 samples, a preview is built on PREVIEW_RESOLUTION (160) along the
    // longer side: a flat lithophane of the 96 × 64 photo, 100 mm wide by default, samples
    // 160 columns over its width and 107 rows over its 66.7 mm height, and simplification
    // never moves a vertex, so every vertex lies on that grid (on a 2000-sample grid, steps
    // of 0.05 mm, most would not).
    let cap = PREVIEW_RESOLUTION as usize;
    assert!(cap < 2000);
    let glb = preview_glb(
        &ann,
        json!({"kind": "lithophane", "source_asset_id": photo["id"], "resolution": 2000}),
    )
    .await;
    let mesh = stratamake::engines::mesh::read::gltf(&glb).unwrap();
    let [min, max] = mesh.bounds();
    assert!((max[0] - min[0] - 100.0).abs() < 1e-3, "{min:?} {max:?}");
    let columns = grid_lines(mesh.positions.iter().map(|p| p[0]), 100.0, cap);
    let rows = grid_lines(
        mesh.positions.iter().map(|p| p[2]),
        100.0 * 64.0 / 96.0,
        (cap as f64 * 64.0 / 96.0).round() as usize,
    );
    // The grid is really used (the disc and the bar keep detail), not just its corners.
    assert!(columns > 20 && rows > 20, "{columns} columns, {rows} rows");
    let previews = tempfile::tempdir().unwrap();
    std::fs::write(previews.path().join("lithophane-preview.glb"), glb).unwrap();
    let no_shape = problem(
        ann.post(
            "/api/v1/meshes/preview",
            json!({"kind": "extrusion", "source_asset_id": blank["id"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        no_shape["detail"].as_str().unwrap().contains("no shape"),
        "{no_shape}"
    );

    let refused = [
        (
            json!({"kind": "sculpture", "source_asset_id": photo["id"]}),
            "kind",
        ),
        (json!({"kind": "relief"}), "source_asset_id"),
        (
            json!({"kind": "relief", "source_asset_id": bobs["id"]}),
            "source_asset_id",
        ),
        (
            json!({"kind": "relief", "source_asset_id": photo["id"], "prompt": "a cat"}),
            "prompt",
        ),
        (
            json!({"kind": "relief", "source_asset_id": photo["id"], "frame_mm": 2}),
            "frame_mm",
        ),
        (
            json!({"kind": "relief", "source_asset_id": photo["id"], "resolution": 4}),
            "resolution",
        ),
        (
            json!({"kind": "relief", "source_asset_id": photo["id"], "width_mm": -3}),
            "width_mm",
        ),
        (
            json!({"kind": "lithophane", "source_asset_id": photo["id"],
                   "min_thickness_mm": 3, "max_thickness_mm": 1}),
            "min_thickness_mm",
        ),
        (
            json!({"kind": "lithophane", "source_asset_id": photo["id"], "curve_degrees": 5}),
            "curve_degrees",
        ),
        (
            json!({"kind": "image", "prompt": "a cat", "width_mm": 50}),
            "width_mm",
        ),
        (
            json!({"kind": "prompt_to_3d", "prompt": "a cat", "count": 2}),
            "count",
        ),
        (
            json!({"kind": "prompt_to_3d", "prompt": "a cat", "mode": "sculpture"}),
            "mode",
        ),
        // No depth or background-removal model is installed on this server.
        (
            json!({"kind": "relief", "source_asset_id": photo["id"], "height_from": "depth"}),
            "height_from",
        ),
        (
            json!({"kind": "extrusion", "source_asset_id": photo["id"], "mask": "subject"}),
            "mask",
        ),
        (
            json!({"kind": "lithophane", "source_asset_id": photo["id"], "height_from": "depth"}),
            "height_from",
        ),
    ];
    for (body, field) in refused {
        let answer = problem(
            ann.post("/api/v1/generations", body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(answer["errors"][field].is_string(), "{body}: {answer}");
    }
    let malformed = ann
        .post(
            "/api/v1/generations",
            json!({"kind": "extrusion", "source_asset_id": photo["id"], "mask": "x-ray"}),
        )
        .await;
    assert!(malformed.status().is_client_error());

    let id = photo["id"].as_str().unwrap();
    problem(
        ann.get(&format!("/api/v1/assets/{id}/download?format=stl"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let bobs_id = bobs["id"].as_str().unwrap();
    problem(
        ann.get(&format!("/api/v1/assets/{bobs_id}/download")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    validate_meshes(previews.path(), 1);

    // Nothing was queued or charged.
    let jobs = ann.json("/api/v1/generations").await;
    assert_eq!(jobs["items"].as_array().unwrap().len(), 0);
    assert_eq!(balance(&ann).await, before);
}

fn model_dir(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
        .display()
        .to_string()
}

/// Three quarters black, one quarter white (opaque).
fn mostly_dark_png() -> Vec<u8> {
    png(RgbaImage::from_fn(64, 48, |x, _| {
        let v = if x < 48 { 0 } else { 255 };
        Rgba([v, v, v, 255])
    }))
}

fn volume(asset: &Value) -> f64 {
    asset["mesh"]["volume_cm3"].as_f64().unwrap()
}

#[tokio::test]
async fn depth_and_background_models_shape_the_model() {
    let server = Server::start_with(&[("STRATAMAKE_GENERATION__ALLOW_TEST_MODELS", "true")]).await;
    let admin = server.admin().await;
    for name in ["tiny-depth", "tiny-background"] {
        let imported = admin
            .post("/api/v1/admin/models", json!({ "path": model_dir(name) }))
            .await;
        assert_eq!(imported.status(), StatusCode::CREATED, "{name}");
    }
    let ann = server.verified_user("ann").await;
    // Image models are what /models offers for generation; these two are not among them.
    let offered = ann.json("/api/v1/models").await;
    assert_eq!(offered["models"].as_array().unwrap().len(), 0, "{offered}");

    let dark = ann.uploaded("dark.png", mostly_dark_png()).await;
    let relief = |extra: Value| {
        let mut body = json!({"kind": "relief", "source_asset_id": dark["id"], "width_mm": 40,
                              "resolution": 64, "max_error_mm": 0});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // The tiny depth model answers 1 - brightness: dark is near, so the relief rises
    // where the brightness relief stays low, like an inverted one.
    let (_, by_brightness) = make(&ann, relief(json!({}))).await;
    let (_, by_depth) = make(&ann, relief(json!({"height_from": "depth"}))).await;
    let (_, inverted) = make(&ann, relief(json!({"invert": true}))).await;
    assert_eq!(by_depth["mesh"]["printable"], true);
    assert_eq!(by_depth["params"]["vision_model"], "tiny-depth-test");
    assert_eq!(by_brightness["params"]["vision_model"], Value::Null);
    assert!(
        volume(&by_depth) > 1.4 * volume(&by_brightness),
        "{} vs {}",
        volume(&by_depth),
        volume(&by_brightness)
    );
    let off = (volume(&by_depth) - volume(&inverted)).abs() / volume(&inverted);
    assert!(
        off < 0.05,
        "depth {} vs inverted {}",
        volume(&by_depth),
        volume(&inverted)
    );

    // The tiny background model finds dark pixels: the same silhouette as a brightness
    // mask, from an opaque picture whose alpha says nothing.
    let ring = ann.uploaded("ring.png", cutout_on_white_png()).await;
    let extrusion = |mask: &str| {
        json!({"kind": "extrusion", "source_asset_id": ring["id"], "width_mm": 30,
               "mask": mask, "max_height_mm": 3})
    };
    let (_, by_subject) = make(&ann, extrusion("subject")).await;
    let (_, by_threshold) = make(&ann, extrusion("brightness")).await;
    assert_eq!(by_subject["mesh"]["printable"], true);
    assert_close(&by_subject["mesh"]["size_mm"][0], 30.0, "subject width");
    let off = (volume(&by_subject) - volume(&by_threshold)).abs() / volume(&by_threshold);
    assert!(
        off < 0.05,
        "subject {} vs threshold {}",
        volume(&by_subject),
        volume(&by_threshold)
    );

    let preview = preview_glb(&ann, relief(json!({"height_from": "depth"}))).await;

    // The models made from the depth and background-removal maps, and the depth preview,
    // pass the validators like every other model.
    let dir = tempfile::tempdir().unwrap();
    save_all_formats(&ann, &by_depth, "depth-relief", dir.path()).await;
    save_all_formats(&ann, &by_subject, "subject-extrusion", dir.path()).await;
    std::fs::write(dir.path().join("depth-relief-preview.glb"), preview).unwrap();
    validate_meshes(dir.path(), 7);
}

/// A dark ring on an opaque white background.
fn cutout_on_white_png() -> Vec<u8> {
    png(RgbaImage::from_fn(80, 80, |x, y| {
        let r = (x as f32 - 40.0).hypot(y as f32 - 40.0);
        if (12.0..30.0).contains(&r) {
            Rgba([30, 30, 30, 255])
        } else {
            Rgba([255, 255, 255, 255])
        }
    }))
}
