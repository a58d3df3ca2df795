//! PNG output with the generation parameters inside, in the `parameters` text chunk that
//! AUTOMATIC1111's web UI writes and that other tools read: the prompt, a `Negative
//! prompt:` line, then `Key: value` pairs separated by ", ". Text that Latin-1 cannot
//! hold goes into an iTXt chunk of the same name (as A1111 does), else tEXt.

use image::RgbImage;

/// What a generated image records about how it was made.
pub struct Parameters<'a> {
    pub prompt: &'a str,
    pub negative_prompt: &'a str,
    pub steps: u32,
    /// The A1111 sampler name, e.g. `Euler a`.
    pub sampler: &'a str,
    pub guidance_scale: f32,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub model_hash: &'a str,
    pub model_name: &'a str,
    /// Image-to-image strength.
    pub denoising_strength: Option<f32>,
}

/// A number as A1111 prints it: no trailing `.0` noise beyond what the value needs.
fn number(value: f32) -> String {
    let text = format!("{value}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// Values with separators in them are quoted as JSON strings, as A1111 does.
fn value(text: &str) -> String {
    if text.contains([',', ':', '"', '\n']) {
        serde_json::to_string(text).unwrap_or_default()
    } else {
        text.to_string()
    }
}

impl Parameters<'_> {
    pub fn to_a1111(&self) -> String {
        let mut text = self.prompt.to_string();
        if !self.negative_prompt.is_empty() {
            text.push_str("\nNegative prompt: ");
            text.push_str(self.negative_prompt);
        }
        let mut pairs = vec![
            ("Steps", self.steps.to_string()),
            ("Sampler", value(self.sampler)),
            ("CFG scale", number(self.guidance_scale)),
            ("Seed", self.seed.to_string()),
            ("Size", format!("{}x{}", self.width, self.height)),
            ("Model hash", value(self.model_hash)),
            ("Model", value(self.model_name)),
        ];
        if let Some(strength) = self.denoising_strength {
            pairs.push(("Denoising strength", number(strength)));
        }
        pairs.push((
            "Version",
            format!("StrataMake {}", env!("CARGO_PKG_VERSION")),
        ));
        let line: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        text.push('\n');
        text.push_str(&line.join(", "));
        text
    }
}

/// Encodes an RGB image as PNG with `parameters`; the same input gives the same bytes.
pub fn encode(image: &RgbImage, parameters: &str) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width(), image.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    if parameters.chars().all(|c| (c as u32) <= 0xFF) {
        encoder.add_text_chunk("parameters".into(), parameters.into())?;
    } else {
        encoder.add_itxt_chunk("parameters".into(), parameters.into())?;
    }
    let mut writer = encoder.write_header()?;
    writer.write_image_data(image.as_raw())?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params<'a>(prompt: &'a str, negative: &'a str) -> Parameters<'a> {
        Parameters {
            prompt,
            negative_prompt: negative,
            steps: 20,
            sampler: "Euler a",
            guidance_scale: 7.0,
            seed: 1234,
            width: 512,
            height: 768,
            model_hash: "0123456789",
            model_name: "sd-turbo",
            denoising_strength: None,
        }
    }

    #[test]
    fn a1111_layout() {
        assert_eq!(
            params("a cat, sitting", "blurry").to_a1111(),
            format!(
                "a cat, sitting\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, \
                 Size: 512x768, Model hash: 0123456789, Model: sd-turbo, Version: StrataMake {}",
                env!("CARGO_PKG_VERSION")
            )
        );
        let mut with_strength = params("x", "");
        with_strength.guidance_scale = 7.5;
        with_strength.denoising_strength = Some(0.5);
        let text = with_strength.to_a1111();
        assert!(text.starts_with("x\nSteps: 20"), "{text}");
        assert!(text.contains("CFG scale: 7.5, ") && text.contains("Denoising strength: 0.5, "));
    }

    /// The chunk is read back by an independent decoder (the `png` crate's reader).
    #[test]
    fn chunk_is_text_or_itxt_and_bytes_are_stable() {
        let image = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 7]));
        let latin = params("café", "").to_a1111();
        let bytes = encode(&image, &latin).unwrap();
        assert_eq!(bytes, encode(&image, &latin).unwrap());
        let reader = png::Decoder::new(std::io::Cursor::new(&bytes))
            .read_info()
            .unwrap();
        let text = &reader.info().uncompressed_latin1_text;
        assert_eq!(
            (text[0].keyword.as_str(), text[0].text.as_str()),
            ("parameters", latin.as_str())
        );

        let wide = params("東京の夜景", "").to_a1111();
        let bytes = encode(&image, &wide).unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(&bytes))
            .read_info()
            .unwrap();
        let itxt = &reader.info().utf8_text[0];
        assert_eq!(itxt.keyword, "parameters");
        assert_eq!(itxt.get_text().unwrap(), wide);
    }
}
