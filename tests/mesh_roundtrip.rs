//! Write → read round trips for every format, and readers on hand-written files that use
//! features our writers don't (transforms, components, polygons, strips, ASCII STL).
mod mesh_common;

use mesh_common::{assert_same_mesh, blob_mask, check_closed_manifold};
use stratamake::engines::mesh::contour::{ContourSettings, trace};
use stratamake::engines::mesh::extrude::{ExtrudeSettings, extrude};
use stratamake::engines::mesh::read::{self, MeshFormat, ReadError};
use stratamake::engines::mesh::{Mesh, write};

fn sample_mesh(base: Option<f32>) -> Mesh {
    let mask = blob_mask(7, 40, 30);
    let polygons = trace(&mask, &ContourSettings::default());
    let mut settings = ExtrudeSettings::new(40, 30, 80.0, 6.0);
    settings.base_mm = base;
    extrude(&polygons, &settings).unwrap()
}

fn png_texture() -> Vec<u8> {
    let img = image::RgbImage::from_fn(32, 16, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 16) as u8, 90])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

#[test]
fn stl_round_trip() {
    for base in [None, Some(1.5)] {
        let mesh = sample_mesh(base);
        let bytes = write::stl(&mesh, "sample");
        assert_eq!(read::sniff(&bytes), Some(MeshFormat::Stl));
        let back = read::stl(&bytes).unwrap();
        // Same triangles as sets (the writer may move one facet to the front).
        let key = |m: &Mesh| {
            let mut v: Vec<[[u32; 3]; 3]> = m
                .triangles
                .iter()
                .map(|t| {
                    let p = t.map(|i| m.positions[i as usize].map(f32::to_bits));
                    let k = (0..3).min_by_key(|&k| p[k]).unwrap();
                    [p[k], p[(k + 1) % 3], p[(k + 2) % 3]]
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(key(&mesh), key(&back));
        assert_eq!(back.positions.len(), mesh.positions.len());
        check_closed_manifold(&back).unwrap();
    }
}

#[test]
fn obj_round_trip_keeps_uvs() {
    let mesh = sample_mesh(Some(2.0));
    let (obj, mtl) = write::obj(&mesh, "sample model");
    let text = String::from_utf8(obj.clone()).unwrap();
    assert!(text.contains("mtllib sample_model.mtl"));
    assert!(text.lines().any(|l| l.starts_with("vt ")));
    assert!(text.lines().any(|l| l.starts_with("vn ")));
    assert!(String::from_utf8(mtl).unwrap().contains("newmtl material"));
    assert_eq!(read::sniff(&obj), Some(MeshFormat::Obj));
    let back = read::obj(&obj).unwrap();
    assert_same_mesh(&mesh, &back, 0.0, 0.0, true);
}

#[test]
fn three_mf_round_trip() {
    let mesh = sample_mesh(None);
    let bytes = write::three_mf(&mesh, "a <sample> & more");
    assert_eq!(read::sniff(&bytes), Some(MeshFormat::ThreeMf));
    let back = read::three_mf(&bytes).unwrap();
    assert_same_mesh(&mesh, &back, 0.0, 0.0, false);
    check_closed_manifold(&back).unwrap();
}

#[test]
fn glb_round_trip_with_and_without_texture() {
    let png = png_texture();
    for texture in [None, Some((&png[..], "image/png"))] {
        let mesh = sample_mesh(Some(1.0));
        let bytes = write::glb(&mesh, texture, "sample");
        assert_eq!(read::sniff(&bytes), Some(MeshFormat::Gltf));
        let back = read::gltf(&bytes).unwrap();
        // mm → m → mm costs at most a couple of f32 roundings.
        assert_same_mesh(&mesh, &back, 4.0 * f32::EPSILON, 1e-9, true);
        check_closed_manifold(&back).unwrap();
    }
}

#[test]
fn glb_embeds_texture_and_converts_axes() {
    let png = png_texture();
    let mesh = sample_mesh(None);
    let bytes = write::glb(&mesh, Some((&png, "image/png")), "sample");
    let gltf = gltf::Gltf::from_slice(&bytes).unwrap();
    let image = gltf.document.images().next().expect("an image");
    match image.source() {
        gltf::image::Source::View { view, mime_type } => {
            assert_eq!(mime_type, "image/png");
            let blob = gltf.blob.as_ref().unwrap();
            assert_eq!(
                &blob[view.offset()..view.offset() + view.length()],
                &png[..]
            );
        }
        _ => panic!("image not embedded"),
    }
    let material = gltf.document.materials().next().unwrap();
    assert!(
        material
            .pbr_metallic_roughness()
            .base_color_texture()
            .is_some()
    );
    // Height (mm z, 0..6) is glTF y in metres; the image's top (mm +y) is glTF −z.
    let bounds = gltf
        .document
        .meshes()
        .next()
        .unwrap()
        .primitives()
        .next()
        .unwrap()
        .bounding_box();
    assert_eq!(bounds.min[1], 0.0);
    assert!((bounds.max[1] - 0.006).abs() < 1e-7);
    let mm_y_max = mesh.positions.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
    assert!((bounds.min[2] + mm_y_max / 1000.0).abs() < 1e-7);
    // A WebP texture is re-encoded as PNG; garbage is dropped.
    let mut webp = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::new(4, 4))
        .write_to(
            &mut std::io::Cursor::new(&mut webp),
            image::ImageFormat::WebP,
        )
        .unwrap();
    let bytes = write::glb(&mesh, Some((&webp, "image/webp")), "w");
    let g = gltf::Gltf::from_slice(&bytes).unwrap();
    assert!(matches!(
        g.document.images().next().unwrap().source(),
        gltf::image::Source::View {
            mime_type: "image/png",
            ..
        }
    ));
    let bytes = write::glb(&mesh, Some((b"not an image", "image/png")), "g");
    assert_eq!(
        gltf::Gltf::from_slice(&bytes)
            .unwrap()
            .document
            .images()
            .count(),
        0
    );
}

#[test]
fn empty_mesh_writes_valid_files() {
    let empty = Mesh::default();
    let glb = write::glb(&empty, None, "empty");
    if let Err(e) = gltf::Gltf::from_slice(&glb) {
        panic!("{e}: {}", String::from_utf8_lossy(&glb));
    }
    assert!(matches!(read::gltf(&glb), Err(ReadError::Empty)));
    assert!(matches!(
        read::stl(&write::stl(&empty, "e")),
        Err(ReadError::Empty)
    ));
    assert!(matches!(
        read::three_mf(&write::three_mf(&empty, "e")),
        Err(ReadError::Empty)
    ));
}

/// A unit cube (mm), counter-clockwise from outside.
fn cube() -> Mesh {
    Mesh {
        positions: vec![
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [1.0, 0.0, 1.0],
            [1.0, 1.0, 1.0],
            [0.0, 1.0, 1.0],
        ],
        triangles: vec![
            [0, 2, 1],
            [0, 3, 2],
            [4, 5, 6],
            [4, 6, 7],
            [0, 1, 5],
            [0, 5, 4],
            [1, 2, 6],
            [1, 6, 5],
            [2, 3, 7],
            [2, 7, 6],
            [3, 0, 4],
            [3, 4, 7],
        ],
        uvs: None,
    }
}

fn bounds(mesh: &Mesh) -> ([f32; 3], [f32; 3]) {
    let mut lo = [f32::MAX; 3];
    let mut hi = [f32::MIN; 3];
    for p in &mesh.positions {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}

fn zip(parts: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in parts {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn three_mf_items_components_units_and_parts() {
    let rels = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
        <Relationship Target="/3D/main.model" Id="r" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>"#;
    let cube_xml = |id: u32| {
        let m = cube();
        let mut s = format!("<object id=\"{id}\" type=\"model\"><mesh><vertices>");
        for p in &m.positions {
            s += &format!("<vertex x=\"{}\" y=\"{}\" z=\"{}\"/>", p[0], p[1], p[2]);
        }
        s += "</vertices><triangles>";
        for t in &m.triangles {
            s += &format!(
                "<triangle v1=\"{}\" v2=\"{}\" v3=\"{}\" p1=\"0\"/>",
                t[0], t[1], t[2]
            );
        }
        s + "</triangles></mesh></object>"
    };
    // Root model in centimetres: object 2 is a component made of object 1 (here) moved
    // by 5 cm in x, and object 7 from another part (production extension); the build
    // places object 2 once more mirrored (x → −x), which must flip the winding back.
    let main = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <model unit="centimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
               xmlns:p="http://schemas.microsoft.com/3dmanufacturing/production/2015/06">
        <!-- a comment <object id="99"/> -->
        <resources>{}
          <object id="2" type="model"><components>
            <component objectid="1" transform="1 0 0 0 1 0 0 0 1 5 0 0"/>
            <component objectid="7" p:path="/3D/Objects/other.model"/>
          </components></object>
          <object id="3" type="support"><mesh><vertices/><triangles/></mesh></object>
        </resources>
        <build>
          <item objectid="2"/>
          <item objectid="2" transform="-1 0 0 0 1 0 0 0 1 0 0 20"/>
          <item objectid="3"/>
        </build></model>"#,
        cube_xml(1)
    );
    let other = format!(
        r#"<model unit="centimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02"><resources>{}</resources><build/></model>"#,
        cube_xml(7)
    );
    let bytes = zip(&[
        ("[Content_Types].xml", "<Types/>"),
        ("_rels/.rels", rels),
        ("3D/main.model", &main),
        ("3D/Objects/other.model", &other),
    ]);
    let mesh = read::three_mf(&bytes).unwrap();
    assert_eq!(mesh.triangles.len(), 4 * 12);
    let volume = check_closed_manifold(&mesh).unwrap();
    assert!((volume - 4000.0).abs() < 1e-3, "{volume}"); // four 10 mm cubes
    let (lo, hi) = bounds(&mesh);
    assert_eq!(lo, [-60.0, 0.0, 0.0]);
    assert_eq!(hi, [60.0, 10.0, 210.0]);
}

#[test]
fn gltf_json_with_data_uri_nodes_and_strips() {
    use base64::Engine;
    // Two triangles of a unit square in glTF's xz-plane (y up), as a strip, in a node
    // scaled by 2 and moved up by 1 m, under a parent moved by 1 m in x.
    let positions: [[f32; 3]; 4] = [
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, -1.0],
        [1.0, 0.0, -1.0],
    ];
    let bytes: Vec<u8> = positions
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let uri = format!(
        "data:application/octet-stream;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    let json = format!(
        r#"{{"asset":{{"version":"2.0"}},"scene":0,"scenes":[{{"nodes":[0]}}],
        "nodes":[{{"translation":[1,0,0],"children":[1]}},{{"mesh":0,"scale":[2,2,2],"translation":[0,1,0]}}],
        "meshes":[{{"primitives":[{{"attributes":{{"POSITION":0}},"mode":5}}]}}],
        "accessors":[{{"bufferView":0,"componentType":5126,"count":4,"type":"VEC3","min":[0,0,-1],"max":[1,0,0]}}],
        "bufferViews":[{{"buffer":0,"byteLength":48}}],
        "buffers":[{{"byteLength":48,"uri":"{uri}"}}]}}"#
    );
    assert_eq!(read::sniff(json.as_bytes()), Some(MeshFormat::Gltf));
    let mesh = read::gltf(json.as_bytes()).unwrap();
    assert_eq!(mesh.triangles.len(), 2);
    let (lo, hi) = bounds(&mesh);
    // x: 1 + 2·[0, 1] m; glTF −z → mm +y: 2·[0, 1] m; glTF y = 1 m → mm z = 1000.
    assert_eq!(lo, [1000.0, 0.0, 1000.0]);
    assert_eq!(hi, [3000.0, 2000.0, 1000.0]);
    // Both triangles face up (+z in mm) as the strip's alternating order demands.
    for t in &mesh.triangles {
        let [a, b, c] = t.map(|i| mesh.positions[i as usize]);
        let nz = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
        assert!(nz > 0.0);
    }
    // Separate files are refused.
    let external = json.replace(&uri, "buffer.bin");
    assert!(matches!(
        read::gltf(external.as_bytes()),
        Err(ReadError::Unsupported(_))
    ));
}

#[test]
fn hostile_gltf_accessors_are_refused() {
    let json = r#"{"asset":{"version":"2.0"},"meshes":[{"primitives":[{"attributes":{"POSITION":0}}]}],
        "accessors":[{"bufferView":0,"componentType":5126,"count":1000,"type":"VEC3"}],
        "bufferViews":[{"buffer":0,"byteLength":12}],
        "buffers":[{"byteLength":12,"uri":"data:application/octet-stream;base64,AAAAAAAAAAAAAAAA"}]}"#;
    assert!(read::gltf(json.as_bytes()).is_err());
    let zero = json.replace("\"count\":1000", "\"count\":0");
    assert!(read::gltf(zero.as_bytes()).is_err());
}

#[test]
fn obj_and_ascii_stl_from_elsewhere() {
    let obj = "# quad cube top and a pentagon\nmtllib x.mtl\no thing\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n\
               vn 0 0 1\ng top\nusemtl m\nf 1//1 2//1 3//1 4//1\nf -4 -3 -2\n";
    let mesh = read::obj(obj.as_bytes()).unwrap();
    assert_eq!(mesh.triangles.len(), 3);
    assert!(mesh.uvs.is_none());
    let stl = b"solid cube\n  facet normal 0 0 -1\n    outer loop\n      vertex 0 0 0\n      vertex 0 1 0\n      vertex 1 1 0\n    endloop\n  endfacet\nendsolid cube\n";
    let mesh = read::stl(stl).unwrap();
    assert_eq!(mesh.triangles.len(), 1);
    // The unit cube through every writer and reader stays a closed 1 mm³ solid.
    let cube = cube();
    for bytes in [
        write::stl(&cube, "c"),
        write::three_mf(&cube, "c"),
        write::glb(&cube, None, "c"),
        write::obj(&cube, "c").0,
    ] {
        let format = read::sniff(&bytes).unwrap();
        let back = read::read(&bytes, format).unwrap();
        let volume = check_closed_manifold(&back).unwrap();
        assert!((volume - 1.0).abs() < 1e-5, "{format:?}: {volume}");
    }
}

#[test]
fn obj_forward_references_are_allowed() {
    let obj = b"f 1 2 3\nv 0 0 0\nv 1 0 0\nv 0 1 0\n";
    assert_eq!(read::obj(obj).unwrap().triangles.len(), 1);
    assert!(read::obj(b"f 1 2 4\nv 0 0 0\nv 1 0 0\nv 0 1 0\n").is_err());
    assert!(read::obj(b"v 0 0 0\nv 1 0 0\nf 1 2 -3\n").is_err());
}

/// Truncated and bit-flipped versions of valid files give errors or meshes, never panics.
#[test]
fn readers_never_panic_on_damaged_files() {
    let mesh = sample_mesh(Some(1.0));
    let png = png_texture();
    let files = [
        write::stl(&mesh, "d"),
        write::three_mf(&mesh, "d"),
        write::glb(&mesh, Some((&png, "image/png")), "d"),
        write::obj(&mesh, "d").0,
    ];
    let mut rng = mesh_common::Lcg(42);
    let mut outcomes = [0usize; 2];
    for file in &files {
        let format = read::sniff(file).unwrap();
        for cut in (0..file.len()).step_by((file.len() / 60).max(1)) {
            outcomes[read::read(&file[..cut], format).is_ok() as usize] += 1;
        }
        let rounds: usize = std::env::var("DAMAGE_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        for _ in 0..rounds {
            let mut damaged = file.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(damaged.len() as u64) as usize;
                damaged[i] ^= 1 << rng.below(8);
            }
            outcomes[read::read(&damaged, format).is_ok() as usize] += 1;
        }
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn uv_seams_are_welded_and_drop_uvs() {
    // Two triangles sharing an edge whose vertices have different UVs on each side.
    let obj = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nvt 0.5 0.5\n\
               f 1/1 2/2 3/3\nf 2/4 4/2 3/4\n";
    let mesh = read::obj(obj.as_bytes()).unwrap();
    assert_eq!(mesh.positions.len(), 4);
    assert_eq!(mesh.triangles, vec![[0, 1, 2], [1, 3, 2]]);
    assert!(mesh.uvs.is_none());
    // Without a seam the UVs stay.
    let obj = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nvt 1 1\n\
               f 1/1 2/2 3/3\nf 2/2 4/4 3/3\n";
    assert_eq!(read::obj(obj.as_bytes()).unwrap().uvs.unwrap().len(), 4);
}

#[test]
fn three_mf_instancing_bombs_are_refused_quickly() {
    // Object k holds object k−1 twice: 2^60 placements of an ignored leaf from a few KB.
    let mut objects = String::from(r#"<object id="1" type="other"/>"#);
    for k in 2..=60 {
        objects += &format!(
            r#"<object id="{k}" type="model"><components><component objectid="{0}"/><component objectid="{0}"/></components></object>"#,
            k - 1
        );
    }
    let model = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">
        <resources>{objects}</resources><build><item objectid="60"/></build></model>"#
    );
    let bytes = zip(&[("3D/3dmodel.model", &model)]);
    assert!(matches!(
        read::three_mf(&bytes),
        Err(read::ReadError::TooLarge)
    ));
}
