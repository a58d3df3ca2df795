//! Cheap previews of latents during denoising: a fixed linear map from the four latent
//! channels to RGB (factors measured for Stable Diffusion's VAE, published by the
//! community and used by most UIs), encoded as a small PNG.

use image::RgbImage;

/// RGB = Σ channel × factor + bias, per latent channel (SD 1.x/2.x VAE).
const FACTORS: [[f32; 3]; 4] = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
];

/// Renders one image's latents (`[4, h, w]`, NCHW without the batch) as an RGB image
/// of `h × w` pixels.
pub fn latents_to_rgb(latents: &[f32], height: usize, width: usize) -> RgbImage {
    let plane = height * width;
    RgbImage::from_fn(width as u32, height as u32, |x, y| {
        let at = y as usize * width + x as usize;
        let mut rgb = [0f32; 3];
        for (channel, factors) in FACTORS.iter().enumerate() {
            let value = latents.get(channel * plane + at).copied().unwrap_or(0.0);
            for (sum, factor) in rgb.iter_mut().zip(factors) {
                *sum += value * factor;
            }
        }
        image::Rgb(rgb.map(|v| (((v + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}

/// A preview PNG of the latents.
pub fn preview_png(latents: &[f32], height: usize, width: usize) -> Vec<u8> {
    let image = latents_to_rgb(latents, height, width);
    let mut out = std::io::Cursor::new(Vec::new());
    // Writing a PNG into memory cannot fail for a well-formed image.
    let _ = image.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}
