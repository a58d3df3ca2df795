//! What an uploaded file really is, and making it safe to keep: file-type sniffing from
//! the bytes, image decoding under explicit limits, EXIF orientation applied and all
//! metadata dropped by re-encoding, thumbnails, and structural checks of 3D files.

use std::io::{BufRead, Cursor, Read, Seek};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Largest accepted image side, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Largest accepted image area, in pixels.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Largest allocation the image decoder may make.
pub const MAX_DECODER_BYTES: u64 = 512 * 1024 * 1024;
/// Most triangles accepted in an uploaded 3D file.
pub const MAX_TRIANGLES: u64 = 5_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Webp,
    Glb,
    Gltf,
    Stl,
    ThreeMf,
    Obj,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
            Format::Glb => "model/gltf-binary",
            Format::Gltf => "model/gltf+json",
            Format::Stl => "model/stl",
            Format::ThreeMf => "model/3mf",
            Format::Obj => "model/obj",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
            Format::Glb => "glb",
            Format::Gltf => "gltf",
            Format::Stl => "stl",
            Format::ThreeMf => "3mf",
            Format::Obj => "obj",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(self, Format::Png | Format::Jpeg | Format::Webp)
    }

    /// The format a file name or MIME type claims, if it is one we know.
    pub fn claimed(filename: &str, mime: Option<&str>) -> Option<Format> {
        let by_mime = match mime.unwrap_or("").split(';').next().unwrap_or("").trim() {
            "image/png" => Some(Format::Png),
            "image/jpeg" | "image/jpg" => Some(Format::Jpeg),
            "image/webp" => Some(Format::Webp),
            "model/gltf-binary" => Some(Format::Glb),
            "model/gltf+json" => Some(Format::Gltf),
            "model/stl" | "application/sla" | "model/x.stl-binary" | "model/x.stl-ascii" => {
                Some(Format::Stl)
            }
            "model/3mf" | "application/vnd.ms-package.3dmanufacturing-3dmodel+xml" => {
                Some(Format::ThreeMf)
            }
            "model/obj" => Some(Format::Obj),
            _ => None,
        };
        let extension = filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase());
        let by_name = match extension.as_deref() {
            Some("png") => Some(Format::Png),
            Some("jpg" | "jpeg") => Some(Format::Jpeg),
            Some("webp") => Some(Format::Webp),
            Some("glb") => Some(Format::Glb),
            Some("gltf") => Some(Format::Gltf),
            Some("stl") => Some(Format::Stl),
            Some("3mf") => Some(Format::ThreeMf),
            Some("obj") => Some(Format::Obj),
            _ => None,
        };
        by_name.or(by_mime)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    #[error(
        "this kind of file is not accepted; upload PNG, JPEG or WebP images, or GLB, glTF, STL, 3MF or OBJ 3D files"
    )]
    Unsupported,
    #[error("the file's content is {actual}, but it is named or labelled as {claimed}")]
    Mismatch {
        claimed: &'static str,
        actual: &'static str,
    },
    #[error(
        "the image is {width}×{height}; the limit is {MAX_SIDE} pixels a side and 100 megapixels"
    )]
    TooManyPixels { width: u32, height: u32 },
    #[error("the file is damaged or not valid: {0}")]
    Invalid(String),
    #[error("the 3D model has {0} triangles; the limit is {MAX_TRIANGLES}")]
    TooManyTriangles(u64),
}

/// Reads the type from the first bytes (and, for text formats, a little more).
pub fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(Format::Webp);
    }
    if head.starts_with(b"glTF") {
        return Some(Format::Glb);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some(Format::ThreeMf);
    }
    // Binary STL: 80-byte header and a triangle count that matches the size is checked
    // later; here any other binary content with an STL-sized header is a candidate.
    let text = std::str::from_utf8(head).ok().or_else(|| {
        // A valid UTF-8 prefix cut in the middle of a character.
        std::str::from_utf8(&head[..head.len().saturating_sub(3)]).ok()
    });
    match text {
        Some(text) => {
            let trimmed = text.trim_start_matches('\u{feff}').trim_start();
            if trimmed.starts_with('{') && trimmed.contains("\"asset\"") {
                Some(Format::Gltf)
            } else if trimmed.starts_with("solid") {
                Some(Format::Stl)
            } else if looks_like_obj(trimmed) {
                Some(Format::Obj)
            } else {
                None
            }
        }
        None if head.len() >= 84 => Some(Format::Stl),
        None => None,
    }
}

fn looks_like_obj(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(20)
        .any(|l| {
            l.starts_with("v ")
                || l.starts_with("o ")
                || l.starts_with("mtllib ")
                || l.starts_with("g ")
        })
}

/// What was learnt from an accepted image.
pub struct PreparedImage {
    pub width: u32,
    pub height: u32,
    /// The image re-encoded in its own format, orientation applied, no metadata.
    pub clean: Vec<u8>,
    /// 256 px and 1024 px (longest side) WebP thumbnails.
    pub thumbnail: Vec<u8>,
    pub preview: Vec<u8>,
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_BYTES);
    limits
}

/// Decodes an image under the limits, applies its EXIF orientation, and re-encodes it
/// without any metadata (EXIF, GPS, XMP, IPTC, comments), with thumbnails.
pub fn prepare_image<R: BufRead + Seek>(
    reader: R,
    format: Format,
) -> Result<PreparedImage, MediaError> {
    let image_format = match format {
        Format::Png => ImageFormat::Png,
        Format::Jpeg => ImageFormat::Jpeg,
        Format::Webp => ImageFormat::WebP,
        _ => return Err(MediaError::Unsupported),
    };
    let mut reader = ImageReader::with_format(reader, image_format);
    reader.limits(limits());
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| MediaError::Invalid(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(MediaError::TooManyPixels { width, height });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => MediaError::TooManyPixels { width, height },
        other => MediaError::Invalid(other.to_string()),
    })?;
    image.apply_orientation(orientation);
    let clean = encode(&image, image_format)?;
    Ok(PreparedImage {
        width: image.width(),
        height: image.height(),
        clean,
        thumbnail: thumbnail(&image, 256)?,
        preview: thumbnail(&image, 1024)?,
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, MediaError> {
    let mut out = Cursor::new(Vec::new());
    let result = match format {
        // JPEG has no alpha channel.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8()).write_to(&mut out, format),
        // The WebP encoder writes 8-bit RGB(A).
        ImageFormat::WebP => DynamicImage::ImageRgba8(image.to_rgba8()).write_to(&mut out, format),
        _ => image.write_to(&mut out, format),
    };
    result.map_err(|e| MediaError::Invalid(format!("re-encoding failed: {e}")))?;
    Ok(out.into_inner())
}

/// A WebP no larger than `size` pixels on its longest side.
fn thumbnail(image: &DynamicImage, size: u32) -> Result<Vec<u8>, MediaError> {
    let small = if image.width().max(image.height()) > size {
        image.thumbnail(size, size)
    } else {
        image.clone()
    };
    encode(&small, ImageFormat::WebP)
}

/// Checks a 3D file's structure; returns its triangle count when it can be counted.
pub fn check_model<R: Read + Seek>(
    mut reader: R,
    format: Format,
    size: u64,
) -> Result<Option<u64>, MediaError> {
    let invalid = |e: &dyn std::fmt::Display| MediaError::Invalid(e.to_string());
    match format {
        Format::Glb | Format::Gltf => {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).map_err(|e| invalid(&e))?;
            let gltf = gltf::Gltf::from_slice(&bytes).map_err(|e| invalid(&e))?;
            let triangles: u64 = gltf
                .meshes()
                .flat_map(|m| m.primitives())
                .map(|p| {
                    let count = p
                        .indices()
                        .or_else(|| p.get(&gltf::Semantic::Positions))
                        .map_or(0, |a| a.count());
                    count as u64 / 3
                })
                .sum();
            limit_triangles(triangles).map(Some)
        }
        Format::Stl => check_stl(&mut reader, size),
        Format::Obj => {
            let mut faces = 0u64;
            let mut vertices = 0u64;
            let text = std::io::BufReader::new(reader);
            for line in text.lines() {
                let line =
                    line.map_err(|_| MediaError::Invalid("an OBJ file must be text".into()))?;
                let line = line.trim();
                if let Some(rest) = line.strip_prefix("v ") {
                    let ok = rest
                        .split_whitespace()
                        .take(3)
                        .filter(|v| v.parse::<f64>().is_ok())
                        .count()
                        == 3;
                    if !ok {
                        return Err(MediaError::Invalid(format!("bad vertex line: {line}")));
                    }
                    vertices += 1;
                } else if let Some(rest) = line.strip_prefix("f ") {
                    let corners = rest.split_whitespace().count() as u64;
                    if corners < 3 {
                        return Err(MediaError::Invalid(format!(
                            "a face needs three corners: {line}"
                        )));
                    }
                    faces += corners - 2;
                }
            }
            if vertices == 0 || faces == 0 {
                return Err(MediaError::Invalid("the OBJ file has no faces".into()));
            }
            limit_triangles(faces).map(Some)
        }
        Format::ThreeMf => {
            let mut archive = zip::ZipArchive::new(reader).map_err(|e| invalid(&e))?;
            let mut model = archive
                .by_name("3D/3dmodel.model")
                .map_err(|_| MediaError::Invalid("a 3MF file needs 3D/3dmodel.model".into()))?;
            let mut xml = String::new();
            model
                .by_ref()
                .take(512 * 1024 * 1024)
                .read_to_string(&mut xml)
                .map_err(|e| invalid(&e))?;
            if !xml.contains("<model") {
                return Err(MediaError::Invalid(
                    "3D/3dmodel.model is not a 3MF model".into(),
                ));
            }
            limit_triangles(xml.matches("<triangle ").count() as u64).map(Some)
        }
        _ => Err(MediaError::Unsupported),
    }
}

fn limit_triangles(count: u64) -> Result<u64, MediaError> {
    if count > MAX_TRIANGLES {
        Err(MediaError::TooManyTriangles(count))
    } else {
        Ok(count)
    }
}

fn check_stl<R: Read + Seek>(reader: &mut R, size: u64) -> Result<Option<u64>, MediaError> {
    let mut head = [0u8; 84];
    let read = reader
        .read(&mut head)
        .map_err(|e| MediaError::Invalid(e.to_string()))?;
    if read >= 84 {
        let count = u64::from(u32::from_le_bytes([head[80], head[81], head[82], head[83]]));
        if 84 + count * 50 == size {
            return limit_triangles(count).map(Some);
        }
    }
    if head.starts_with(b"solid") {
        reader
            .rewind()
            .map_err(|e| MediaError::Invalid(e.to_string()))?;
        let mut facets = 0u64;
        for line in std::io::BufReader::new(reader).lines() {
            let line =
                line.map_err(|_| MediaError::Invalid("an ASCII STL file must be text".into()))?;
            if line.trim_start().starts_with("facet") {
                facets += 1;
            }
        }
        if facets == 0 {
            return Err(MediaError::Invalid("the STL file has no facets".into()));
        }
        return limit_triangles(facets).map(Some);
    }
    Err(MediaError::Invalid(
        "not a binary STL (size does not match its triangle count) nor an ASCII STL".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn sniffs_real_types() {
        assert_eq!(sniff(&png(2, 2)), Some(Format::Png));
        assert_eq!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"),
            None
        );
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"# cube\nv 0 0 0\nv 1 0 0\n"), Some(Format::Obj));
        assert_eq!(
            sniff(b"solid cube\nfacet normal 0 0 1\n"),
            Some(Format::Stl)
        );
        assert_eq!(Format::claimed("photo.JPG", None), Some(Format::Jpeg));
    }

    #[test]
    fn prepares_images_and_refuses_bombs() {
        let prepared = prepare_image(Cursor::new(png(300, 200)), Format::Png).unwrap();
        assert_eq!((prepared.width, prepared.height), (300, 200));
        let thumb = image::load_from_memory(&prepared.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (256, 171));
        // A PNG header that claims 100,000 × 100,000 pixels.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(
            prepare_image(Cursor::new(bomb), Format::Png),
            Err(MediaError::TooManyPixels { .. } | MediaError::Invalid(_))
        ));
    }

    #[test]
    fn checks_stl_and_obj() {
        let mut stl = vec![0u8; 80];
        stl.extend_from_slice(&1u32.to_le_bytes());
        stl.extend_from_slice(&[0u8; 50]);
        assert_eq!(
            check_model(Cursor::new(&stl), Format::Stl, stl.len() as u64).unwrap(),
            Some(1)
        );
        assert!(check_model(Cursor::new(&stl[..100]), Format::Stl, 100).is_err());
        let obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n";
        assert_eq!(
            check_model(Cursor::new(&obj[..]), Format::Obj, obj.len() as u64).unwrap(),
            Some(1)
        );
    }
}
