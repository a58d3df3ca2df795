//! 3D model creation timing: one image (a 1024×1024 PNG by default) to a relief at full
//! resolution, simplified to the default level of detail, written as GLB — exactly as the
//! product does it, through `meshing::build` (the simplified solid built directly by
//! `relief_simplified`, its closed-solid check, and the GLB with the image embedded as its
//! base-colour JPEG texture) — per stage (decode, solid, check, GLB with texture), in
//! total, and the peak memory of a run (the process's high-water mark, reset before each
//! run); and the throughput of the full-resolution heightfield (`relief`, every sample two
//! triangles) in triangles per second. Prints one JSON line.
//!
//! `cargo bench --bench mesh`; settings from the environment: BENCH_IMAGE (a PNG; default
//! a generated photo-like image), BENCH_RESOLUTION (default 1024), BENCH_MAX_ERROR_MM
//! (default the product's), BENCH_RUNS (default 5). `benches/mesh_bench.py` runs it next
//! to a Python pipeline (numpy + fast-simplification + trimesh) on the same images.

mod support;

use std::time::Instant;

use support::{median, setting};

use image::{DynamicImage, GrayImage, Luma};
use stratamake::domains::generation::mesh_params::{DEFAULT_MAX_ERROR_MM, MeshMode};
use stratamake::domains::generation::meshing;
use stratamake::engines::mesh::heightfield::{self, Gray, ReliefSettings};

/// A deterministic stand-in for a photo: a gradient, soft blobs and fine grain.
fn photo_like(side: u32) -> Vec<u8> {
    let image = GrayImage::from_fn(side, side, |x, y| {
        let (u, v) = (x as f32 / side as f32, y as f32 / side as f32);
        let blob = |cx: f32, cy: f32, r: f32| (-((u - cx).powi(2) + (v - cy).powi(2)) / r).exp();
        let grain = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) % 17) as f32 / 17.0;
        let value = 0.25 + 0.3 * u + 0.4 * blob(0.35, 0.4, 0.02) + 0.3 * blob(0.7, 0.65, 0.05)
            - 0.2 * blob(0.6, 0.25, 0.01)
            + 0.04 * grain;
        Luma([(value.clamp(0.0, 1.0) * 255.0) as u8])
    });
    let mut png = Vec::new();
    DynamicImage::ImageLuma8(image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encoding a PNG in memory");
    png
}

/// A memory figure of this process from /proc (`VmRSS`, `VmHWM` = high-water mark), in
/// bytes.
fn memory(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Resets the high-water mark to the current use (Linux: `5` to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Run {
    decode: f64,
    solid: f64,
    check: f64,
    glb: f64,
    total: f64,
    peak_bytes: u64,
    triangles_out: usize,
    glb_bytes: usize,
    texture_bytes: usize,
}

fn run(png: &[u8], settings: &MeshMode, max_error_mm: f32) -> Run {
    reset_peak();
    let before = memory("VmRSS");
    let started = Instant::now();
    let image = image::load_from_memory(png).expect("a PNG");
    // When each stage of `meshing::STAGES` began: building the solid, simplifying (done
    // while building, for reliefs) and its check, writing the model.
    let mut began = [started; 3];
    let built = meshing::build(&image, None, settings, max_error_mm, "bench", &mut |k| {
        if let Some(at) = began.get_mut(k) {
            *at = Instant::now();
        }
        true
    })
    .expect("a relief");
    let written = Instant::now();
    let peak_bytes = memory("VmHWM").saturating_sub(before);
    // `build` refuses anything but a closed solid; the GLB must carry the image.
    assert!(built.facts.is_closed_solid(), "{:?}", built.facts);
    let texture_bytes = embedded_image_bytes(&built.glb);
    assert!(texture_bytes > 0, "the GLB has no texture");
    Run {
        decode: (began[0] - started).as_secs_f64(),
        solid: (began[1] - began[0]).as_secs_f64(),
        check: (began[2] - began[1]).as_secs_f64(),
        glb: (written - began[2]).as_secs_f64(),
        total: (written - started).as_secs_f64(),
        peak_bytes,
        triangles_out: built.mesh.triangles.len(),
        glb_bytes: built.glb.len(),
        texture_bytes,
    }
}

/// Bytes of the images a GLB embeds (the `byteLength` of the buffer views its images use).
fn embedded_image_bytes(glb: &[u8]) -> usize {
    let json_len = u32::from_le_bytes(glb[12..16].try_into().expect("a GLB header")) as usize;
    let json: serde_json::Value = serde_json::from_slice(&glb[20..20 + json_len]).expect("JSON");
    let views = &json["bufferViews"];
    json["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|image| views[image["bufferView"].as_u64()? as usize]["byteLength"].as_u64())
        .sum::<u64>() as usize
}

/// Seconds to build the full-resolution relief (every sample two triangles) and its
/// triangle count.
fn full_heightfield(png: &[u8], settings: &ReliefSettings) -> (f64, usize) {
    let luma = image::load_from_memory(png).expect("a PNG").to_luma8();
    let gray = Gray::from_luma8(luma.width(), luma.height(), luma.as_raw()).expect("an image");
    let started = Instant::now();
    let mesh = heightfield::relief(&gray, settings).expect("a relief");
    (started.elapsed().as_secs_f64(), mesh.triangles.len())
}

fn main() {
    // `cargo test --all-targets` runs this too (without `--bench`): then one small run, as a
    // smoke test of the bench itself.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let png = match std::env::var_os("BENCH_IMAGE") {
        Some(path) => std::fs::read(&path).expect("BENCH_IMAGE is readable"),
        None => photo_like(1024),
    };
    let settings = ReliefSettings {
        width_mm: 100.0,
        base_mm: 2.0,
        max_height_mm: 4.0,
        resolution: if smoke {
            128
        } else {
            setting("BENCH_RESOLUTION", 1024)
        },
        smoothing: 1.0,
        invert: false,
    };
    let max_error_mm: f32 = setting("BENCH_MAX_ERROR_MM", DEFAULT_MAX_ERROR_MM);
    let runs: usize = if smoke { 1 } else { setting("BENCH_RUNS", 5) };
    let mode = MeshMode::Relief(settings);
    run(&png, &mode, max_error_mm);
    let results: Vec<Run> = (0..runs).map(|_| run(&png, &mode, max_error_mm)).collect();
    let pick = |f: fn(&Run) -> f64| median(results.iter().map(f).collect());
    let full: Vec<(f64, usize)> = (0..runs)
        .map(|_| full_heightfield(&png, &settings))
        .collect();
    let full_seconds = median(full.iter().map(|f| f.0).collect());
    let full_triangles = full[0].1;
    let last = results.last().expect("at least one run");
    println!(
        "{}",
        serde_json::json!({
            "impl": "stratamake",
            "resolution": settings.resolution,
            "max_error_mm": max_error_mm,
            "runs": runs,
            "median_seconds": {
                "decode": pick(|r| r.decode),
                "solid": pick(|r| r.solid),
                "check": pick(|r| r.check),
                "glb": pick(|r| r.glb),
                "total": pick(|r| r.total),
            },
            "peak_mb": results.iter().map(|r| r.peak_bytes).max().unwrap_or(0) as f64 / 1e6,
            "full_heightfield_seconds": full_seconds,
            "heightfield_triangles_per_second": full_triangles as f64 / full_seconds,
            "triangles_in": full_triangles,
            "triangles_out": last.triangles_out,
            "glb_mb": last.glb_bytes as f64 / 1e6,
            "texture_mb": last.texture_bytes as f64 / 1e6,
            "closed_solid": true,
        })
    );
}
