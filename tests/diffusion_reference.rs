//! The Rust pipeline against diffusers: for the tiny test model, the same prompt, initial
//! latents and sampler noise must give the same latents as diffusers' ONNX pipeline
//! (fixtures made by `models/scripts/make_pipeline_fixtures.py`), for every sampler and
//! both guidance paths, plus image-to-image and the VAE decoder.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stratamake::engines::diffusion::manifest::Manifest;
use stratamake::engines::diffusion::pipeline::Pipeline;
use stratamake::engines::onnx::{self, RuntimeOptions};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The model in `models/<folder>` on ONNX Runtime as `scripts/setup.sh` installs it (or
/// `ORT_DYLIB_PATH`).
fn pipeline(folder: &str) -> Pipeline {
    let installed = root().join("target/debug/libonnxruntime.so");
    let options = RuntimeOptions {
        explicit_library: std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .or(Some(installed)),
        data_dir: std::env::temp_dir(),
        provider: onnx::ProviderChoice::Cpu,
        intra_threads: 1,
        inter_threads: 1,
    };
    let runtime = onnx::runtime(&options).unwrap_or_else(|e| {
        panic!("ONNX Runtime is needed (scripts/setup.sh test installs it): {e}")
    });
    let dir = root().join("models").join(folder);
    let manifest = Manifest::read(&dir).unwrap();
    manifest.verify(&dir).unwrap();
    Pipeline::load(runtime, &dir, manifest).unwrap()
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= tolerance,
        "{what}: largest difference {worst} > {tolerance}"
    );
}

fn fixture(folder: &str, name: &str) -> Value {
    let path = root()
        .join("tests/fixtures/diffusion")
        .join(folder)
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Replays the sampler noise diffusers drew, in order.
fn recorded_noise(case: &Value) -> impl FnMut(&mut [f32]) {
    let mut draws: Vec<Vec<f32>> = case["step_noise"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|d| floats(&d["values"]))
        .collect();
    draws.reverse();
    move |buffer: &mut [f32]| {
        let draw = draws
            .pop()
            .expect("the sampler drew more noise than diffusers did");
        buffer.copy_from_slice(&draw);
    }
}

fn run_case(pipeline: &mut Pipeline, folder: &str, name: &str) {
    let case = fixture(folder, name);
    let tolerance = case["tolerance"].as_f64().unwrap() as f32;
    let prompt = case["prompt"].as_str().unwrap();
    let negative = case["negative_prompt"].as_str().unwrap_or("");
    let guidance = case["guidance_scale"].as_f64().unwrap() as f32;
    let steps = case["steps"].as_u64().unwrap() as u32;
    let kind = case["scheduler"].as_str().unwrap().parse().unwrap();
    let ids: Vec<i64> = case["token_ids"]["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(pipeline.tokens(prompt), ids, "{name}: token ids");

    let strength = case["strength"].as_f64().unwrap_or(1.0) as f32;
    let mut scheduler = pipeline.scheduler(kind, steps, strength).unwrap();
    let want_timesteps: Vec<f64> = case["timesteps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_close(
        &format!("{name}: timesteps"),
        &scheduler
            .timesteps()
            .iter()
            .map(|&t| t as f32)
            .collect::<Vec<_>>(),
        &want_timesteps.iter().map(|&t| t as f32).collect::<Vec<_>>(),
        1e-3,
    );
    let conditioning = pipeline.condition(prompt, negative, guidance).unwrap();
    let mut latents = if case.get("init_image").is_some() {
        let pixels: Vec<u8> = case["init_image"]["pixels_hwc"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let image = image::RgbImage::from_raw(64, 64, pixels).unwrap();
        let encoded = pipeline.encode_image(&image).unwrap();
        assert_close(
            &format!("{name}: encoded image"),
            &encoded,
            &floats(&case["encoded_init_latents"]["values"]),
            tolerance,
        );
        let mut noised = vec![0f32; encoded.len()];
        scheduler
            .add_noise(&encoded, &floats(&case["noise"]["values"]), &mut noised)
            .unwrap();
        assert_close(
            &format!("{name}: noised latents"),
            &noised,
            &floats(&case["noised_latents"]["values"]),
            tolerance,
        );
        noised
    } else {
        let sigma = scheduler.init_noise_sigma();
        floats(&case["initial_latents"]["values"])
            .iter()
            .map(|v| v * sigma)
            .collect()
    };
    let mut noise = recorded_noise(&case);
    pipeline
        .denoise(
            &conditioning,
            &mut latents,
            (8, 8),
            &mut scheduler,
            guidance,
            &mut noise,
            &mut |_| true,
        )
        .unwrap();
    assert_close(
        &format!("{name}: final latents"),
        &latents,
        &floats(&case["final_latents"]["values"]),
        tolerance,
    );
    if let Some(decoded) = case.get("decoded_image") {
        let pixels = pipeline.decode(&latents, (8, 8)).unwrap();
        assert_close(
            &format!("{name}: decoded image"),
            &pixels,
            &floats(&decoded["values"]),
            tolerance,
        );
    }
}

#[test]
fn every_sampler_and_guidance_path_matches_diffusers() {
    let mut pipeline = pipeline("tiny-sd");
    let dir = root().join("tests/fixtures/diffusion/pipeline");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 11, "fixtures missing: {names:?}");
    for name in names {
        run_case(&mut pipeline, "pipeline", &name);
    }
}

/// Float16 graphs get float16 tensors and give float16 outputs; the pipeline keeps f32
/// between calls (the fixture's reference loop does the same).
#[test]
fn float16_graphs_match_their_reference() {
    let mut pipeline = pipeline("tiny-sd-fp16");
    run_case(&mut pipeline, "pipeline-fp16", "euler_cfg7.5.json");
}
