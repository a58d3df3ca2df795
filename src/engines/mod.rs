//! Pure computation with no HTTP and no SQL: libraries the domains call.

pub mod diffusion;
pub mod media;
pub mod mesh;
pub mod onnx;
pub mod vision;
