//! Image generation timing on the real ONNX Runtime: end-to-end time of one generation
//! (prompt to PNG bytes, model already loaded) against the time spent inside ONNX
//! Runtime `run` calls, i.e. the pipeline's own overhead. Prints one JSON line.
//!
//! `cargo bench --bench generation` (after `scripts/setup.sh run`); settings from the
//! environment: BENCH_MODEL (folder, default models/tiny-sd), BENCH_WIDTH, BENCH_HEIGHT,
//! BENCH_STEPS, BENCH_SCHEDULER, BENCH_GUIDANCE, BENCH_RUNS, BENCH_THREADS (0 = ONNX
//! Runtime's default). `benches/generation_bench.py` runs it next to diffusers.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{median, setting};

use stratamake::engines::diffusion::manifest::Manifest;
use stratamake::engines::diffusion::pipeline::{Pipeline, Request};
use stratamake::engines::diffusion::png;
use stratamake::engines::onnx::{self, ProviderChoice, RuntimeOptions};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models/tiny-sd"));
    let threads: usize = setting("BENCH_THREADS", 0);
    let options = RuntimeOptions {
        explicit_library: std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .or_else(|| Some(root.join("target/release/libonnxruntime.so"))),
        data_dir: std::env::temp_dir(),
        provider: ProviderChoice::Cpu,
        intra_threads: threads,
        inter_threads: 1,
    };
    let runtime = onnx::runtime(&options).unwrap_or_else(|e| panic!("{e}"));
    let manifest = Manifest::read(&dir).expect("a model folder with model.toml");
    let defaults = manifest.defaults.clone();
    let mut pipeline = Pipeline::load(runtime, &dir, manifest).expect("the model loads");
    let request = Request {
        prompt: "a red cube on a wooden table, studio light".into(),
        negative_prompt: "blurry".into(),
        width: setting("BENCH_WIDTH", defaults.width),
        height: setting("BENCH_HEIGHT", defaults.height),
        steps: setting("BENCH_STEPS", defaults.steps),
        guidance_scale: setting("BENCH_GUIDANCE", defaults.guidance_scale),
        scheduler: std::env::var("BENCH_SCHEDULER")
            .unwrap_or(defaults.scheduler)
            .parse()
            .expect("a known scheduler"),
        seed: 1234,
        init: None,
    };
    let runs: usize = setting("BENCH_RUNS", 10);
    // One untimed warm-up (first-run allocations inside ONNX Runtime).
    pipeline.generate(&request, &mut |_| true).unwrap();
    let mut totals = Vec::new();
    let mut onnx = Vec::new();
    for _ in 0..runs {
        pipeline.onnx_time = Duration::ZERO;
        let started = Instant::now();
        let image = pipeline.generate(&request, &mut |_| true).unwrap();
        let bytes = png::encode(&image, "bench").unwrap();
        std::hint::black_box(bytes);
        totals.push(started.elapsed().as_secs_f64());
        onnx.push(pipeline.onnx_time.as_secs_f64());
    }
    let overheads: Vec<f64> = totals
        .iter()
        .zip(&onnx)
        .map(|(total, inside)| (total - inside) / total)
        .collect();
    let total = median(totals);
    println!(
        "{}",
        serde_json::json!({
            "impl": "stratamake",
            "model": dir.display().to_string(),
            "width": request.width,
            "height": request.height,
            "steps": request.steps,
            "scheduler": request.scheduler.as_str(),
            "guidance": request.guidance_scale,
            "runs": runs,
            "threads": threads,
            "median_seconds_per_image": total,
            "median_seconds_per_step": total / f64::from(request.steps),
            "median_onnx_seconds_per_image": median(onnx),
            "median_overhead_fraction": median(overheads),
        })
    );
}
