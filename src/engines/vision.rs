//! Image-to-map ONNX models: one image in, one value per pixel out — relative depth
//! (Depth Anything V2 class) or the subject's mask (background removal, RMBG / U²-Net
//! class). The image is squeezed to the model's square input and normalised as its
//! manifest says; the first output (`[1, H, W]` or `[1, 1, H, W]`, f32 or f16) is scaled
//! back to the image's size and stretched to 0..1.

use std::path::Path;

use image::{DynamicImage, ImageBuffer, Luma, imageops};
use ort::session::{Session, SessionInputValue};
use ort::value::ValueType;

use super::diffusion::manifest::VisionInput;
use super::onnx::{OnnxError, Runtime, float_tensor, to_f32};

#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error("the model's output has shape {0:?}; expected [1, H, W] or [1, 1, H, W]")]
    Output(Vec<i64>),
    #[error("the model has no input")]
    NoInput,
}

/// A loaded image-to-map model.
pub struct MapModel {
    session: Session,
    input: VisionInput,
}

impl MapModel {
    /// Opens `model.onnx` of a model folder.
    pub fn load(runtime: &Runtime, dir: &Path, input: VisionInput) -> Result<Self, VisionError> {
        let session = runtime.session(&dir.join("model.onnx"))?;
        Ok(MapModel { session, input })
    }

    /// The map of `image`: `width × height` values in 0..=1, row by row (0 everywhere
    /// when the model answers one value for the whole image).
    pub fn map(&mut self, image: &DynamicImage) -> Result<Vec<f32>, VisionError> {
        let side = self.input.input_size;
        let rgb = image
            .resize_exact(side, side, imageops::FilterType::Triangle)
            .to_rgb8();
        let plane = (side * side) as usize;
        let mut pixels = vec![0f32; 3 * plane];
        for (at, pixel) in rgb.pixels().enumerate() {
            for c in 0..3 {
                let value = f32::from(pixel.0[c]) / 255.0;
                pixels[c * plane + at] = (value - self.input.mean[c]) / self.input.std[c];
            }
        }
        let outlet = self.session.inputs().first().ok_or(VisionError::NoInput)?;
        let name = outlet.name().to_string();
        let ty = match outlet.dtype() {
            ValueType::Tensor { ty, .. } => *ty,
            _ => return Err(VisionError::NoInput),
        };
        let tensor = float_tensor(vec![1, 3, i64::from(side), i64::from(side)], pixels, ty)?;
        let inputs: Vec<(String, SessionInputValue<'_>)> = vec![(name, tensor.into())];
        let outputs = self
            .session
            .run(inputs)
            .map_err(|e| OnnxError::Runtime(e.to_string()))?;
        let (_, first) = outputs
            .iter()
            .next()
            .ok_or_else(|| VisionError::Output(Vec::new()))?;
        let (shape, values) = to_f32(&first)?;
        let (h, w) = match shape.as_slice() {
            [1, h, w] | [1, 1, h, w] => (*h as u32, *w as u32),
            _ => return Err(VisionError::Output(shape)),
        };
        // Stretched first: resizing a float image clamps it to 0..1, and depth models
        // answer in their own units. The triangle filter never leaves 0..1 after that.
        let map: ImageBuffer<Luma<f32>, Vec<f32>> =
            ImageBuffer::from_raw(w, h, stretch(values)).ok_or(VisionError::Output(shape))?;
        let scaled = imageops::resize(
            &map,
            image.width(),
            image.height(),
            imageops::FilterType::Triangle,
        );
        Ok(scaled.into_raw())
    }
}

/// Values moved and scaled so that they span 0..=1 (all 0 when they are all equal).
fn stretch(mut values: Vec<f32>) -> Vec<f32> {
    let (low, high) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = high - low;
    for v in &mut values {
        *v = if range > 0.0 && v.is_finite() {
            (*v - low) / range
        } else {
            0.0
        };
    }
    values
}

#[cfg(test)]
mod tests {
    use super::stretch;

    #[test]
    fn stretch_spans_zero_to_one() {
        assert_eq!(stretch(vec![2.0, 4.0, 3.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(stretch(vec![5.0, 5.0]), vec![0.0, 0.0]);
        assert_eq!(stretch(vec![f32::NAN, 1.0, 3.0]), vec![0.0, 0.0, 1.0]);
    }
}
