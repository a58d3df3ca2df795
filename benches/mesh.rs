//! 3D model creation timing: one image (a 1024×1024 PNG by default) to a relief solid at
//! full resolution, simplified to the default level of detail, written as GLB — per stage
//! (decode, heightfield, simplify, GLB), in total, and the peak memory of a run (the
//! process's high-water mark, reset before each run). Checks every result is a closed
//! solid. Prints one JSON line.
//!
//! `cargo bench --bench mesh`; settings from the environment: BENCH_IMAGE (a PNG; default
//! a generated photo-like image), BENCH_RESOLUTION (default 1024), BENCH_MAX_ERROR_MM
//! (default the product's), BENCH_RUNS (default 5). `benches/mesh_bench.py` runs it next
//! to a Python pipeline (numpy + fast-simplification + trimesh) on the same images.

mod support;

use std::time::Instant;

use support::{median, setting};

use image::{DynamicImage, GrayImage, Luma};
use stratamake::domains::generation::mesh_params::DEFAULT_MAX_ERROR_MM;
use stratamake::engines::mesh::check;
use stratamake::engines::mesh::heightfield::{self, Gray, ReliefSettings};
use stratamake::engines::mesh::{simplify, write};

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
    heightfield: f64,
    simplify: f64,
    glb: f64,
    total: f64,
    peak_bytes: u64,
    triangles_in: usize,
    triangles_out: usize,
    glb_bytes: usize,
}

fn run(png: &[u8], settings: &ReliefSettings, max_error_mm: f32) -> Run {
    reset_peak();
    let before = memory("VmRSS");
    let started = Instant::now();
    let luma = image::load_from_memory(png).expect("a PNG").to_luma8();
    let gray = Gray::from_luma8(luma.width(), luma.height(), luma.as_raw()).expect("an image");
    drop(luma);
    let decoded = Instant::now();
    let solid = heightfield::relief(&gray, settings).expect("a relief");
    let triangles_in = solid.triangles.len();
    let built = Instant::now();
    let (mesh, _) = simplify::simplify_owned(solid, 0, max_error_mm);
    let simplified = Instant::now();
    let glb = write::glb(&mesh, None, "bench");
    let written = Instant::now();
    let peak_bytes = memory("VmHWM").saturating_sub(before);
    let facts = check::facts(&mesh);
    assert!(facts.is_closed_solid(), "not a closed solid: {facts:?}");
    Run {
        decode: (decoded - started).as_secs_f64(),
        heightfield: (built - decoded).as_secs_f64(),
        simplify: (simplified - built).as_secs_f64(),
        glb: (written - simplified).as_secs_f64(),
        total: (written - started).as_secs_f64(),
        peak_bytes,
        triangles_in,
        triangles_out: mesh.triangles.len(),
        glb_bytes: glb.len(),
    }
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
    run(&png, &settings, max_error_mm);
    let results: Vec<Run> = (0..runs)
        .map(|_| run(&png, &settings, max_error_mm))
        .collect();
    let pick = |f: fn(&Run) -> f64| median(results.iter().map(f).collect());
    let heightfield = pick(|r| r.heightfield);
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
                "heightfield": heightfield,
                "simplify": pick(|r| r.simplify),
                "glb": pick(|r| r.glb),
                "total": pick(|r| r.total),
            },
            "peak_mb": results.iter().map(|r| r.peak_bytes).max().unwrap_or(0) as f64 / 1e6,
            "heightfield_triangles_per_second": last.triangles_in as f64 / heightfield,
            "triangles_in": last.triangles_in,
            "triangles_out": last.triangles_out,
            "glb_mb": last.glb_bytes as f64 / 1e6,
            "closed_solid": true,
        })
    );
}
