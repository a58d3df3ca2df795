//! Stable-Diffusion-family image generation on ONNX Runtime: model manifests, the CLIP
//! tokenizer, the samplers, the pipeline, seeded noise, previews, and PNGs that carry
//! their parameters.

pub mod manifest;
pub mod noise;
pub mod pipeline;
pub mod png;
pub mod preview;
pub mod scheduler;
pub mod tokenizer;
