//! Stable-Diffusion-family image generation on ONNX Runtime: model manifests, seeded
//! noise, previews, and PNGs that carry their parameters.

pub mod manifest;
pub mod noise;
pub mod png;
pub mod preview;
