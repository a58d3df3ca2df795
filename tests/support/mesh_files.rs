//! 3D downloads and their validation by the field's own tools, shared by every test that
//! makes models: download a model in each format, save the files into a folder, and run
//! `tests/tools/validate_meshes.sh` on it (Khronos glTF Validator for GLB, admesh and
//! PrusaSlicer for STL and 3MF).

use std::io::{Cursor, Read};
use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use super::Api;

/// Downloads `asset` as `format`; returns the Content-Disposition and the bytes.
pub async fn download(api: &Api, asset: &Value, format: &str) -> (String, Vec<u8>) {
    let id = asset["id"].as_str().unwrap();
    let response = api
        .get(&format!("/api/v1/assets/{id}/download?format={format}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{format}");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    (disposition, response.bytes().await.unwrap().to_vec())
}

/// Saves the model in every download format the validators read into `dir` as
/// `<label>.<ext>` (GLB, STL, 3MF); the OBJ zip must hold the OBJ, with faces, and its MTL.
pub async fn save_all_formats(api: &Api, asset: &Value, label: &str, dir: &Path) {
    for format in ["glb", "stl", "3mf"] {
        let (_, bytes) = download(api, asset, format).await;
        std::fs::write(dir.join(format!("{label}.{format}")), bytes).unwrap();
    }
    let (disposition, zipped) = download(api, asset, "obj").await;
    assert!(disposition.contains(".zip"), "{disposition}");
    let mut archive = zip::ZipArchive::new(Cursor::new(zipped)).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|name| name.unwrap().to_string())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".mtl")), "{names:?}");
    let obj_name = names
        .iter()
        .find(|n| n.ends_with(".obj"))
        .unwrap_or_else(|| panic!("no OBJ in {names:?}"))
        .clone();
    let mut obj = String::new();
    archive
        .by_name(&obj_name)
        .unwrap()
        .read_to_string(&mut obj)
        .unwrap();
    assert!(
        obj.lines().any(|l| l.starts_with("f ")),
        "{label}: no faces"
    );
}

/// Runs the validators on every mesh file of `dir` (which must hold `expected` of them)
/// and fails with their report unless every check passed.
pub fn validate_meshes(dir: &Path, expected: usize) {
    let files = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.path().extension()?.to_str().map(str::to_lowercase))
        .filter(|ext| ["glb", "gltf", "stl", "3mf"].contains(&ext.as_str()))
        .count();
    assert_eq!(files, expected, "mesh files in {}", dir.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/validate_meshes.sh");
    let out = Command::new(script).arg(dir).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "validators refused outputs:\n{report}"
    );
    assert!(!report.contains("FAIL"), "{report}");
    assert!(
        report.contains("validate_meshes: ") && !report.contains("validate_meshes: 0 passed"),
        "the validators checked nothing:\n{report}"
    );
}
