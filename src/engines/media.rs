//! What an uploaded file really is, and making it safe to keep: file-type sniffing from
//! the bytes, image decoding under explicit limits, EXIF orientation applied and all
//! metadata dropped by re-encoding, thumbnails (of 3D models too), and structural checks
//! of 3D files.

use std::io::{BufRead, Cursor, Read, Seek};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::mesh::read::{self, MeshFormat};
use super::mesh::{Mesh, render};

/// Largest accepted image side, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Largest accepted image area, in pixels.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Largest allocation the image decoder may make.
pub const MAX_DECODER_BYTES: u64 = 512 * 1024 * 1024;
/// Largest JSON chunk accepted in a GLB file.
const MAX_GLB_JSON: u64 = 64 * 1024 * 1024;

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
    #[error("the 3D model has {count} triangles; the limit is {limit}")]
    TooManyTriangles { count: u64, limit: u64 },
}

/// Reads the type from the first bytes (and, for text formats, a little more);
/// `size` is the whole file's, which identifies a binary STL.
pub fn sniff(head: &[u8], size: u64) -> Option<Format> {
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
    // Binary STL: an 80-byte header, then a triangle count that matches the size.
    if head.len() >= 84 {
        let count = u64::from(u32::from_le_bytes([head[80], head[81], head[82], head[83]]));
        if 84 + count * 50 == size {
            return Some(Format::Stl);
        }
    }
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
    let (thumbnail, preview) = thumbnails(&image)?;
    Ok(PreparedImage {
        width: image.width(),
        height: image.height(),
        clean,
        thumbnail,
        preview,
    })
}

/// The 256 px and 1024 px WebP thumbnails the library shows.
pub fn thumbnails(image: &DynamicImage) -> Result<(Vec<u8>, Vec<u8>), MediaError> {
    Ok((thumbnail(image, 256)?, thumbnail(image, 1024)?))
}

/// Decodes a stored image (stored files have no extension: the bytes tell the format).
pub fn open_image(path: &std::path::Path) -> Result<DynamicImage, MediaError> {
    ImageReader::open(path)
        .and_then(|reader| reader.with_guessed_format())
        .map_err(|e| MediaError::Invalid(e.to_string()))?
        .decode()
        .map_err(|e| MediaError::Invalid(e.to_string()))
}

/// [`thumbnails`] of a 3D model: a picture of it rendered on the CPU (with its
/// base-colour texture, when given and the mesh has UVs).
pub fn model_thumbnails(
    mesh: &Mesh,
    texture: Option<&image::RgbImage>,
) -> Result<(Vec<u8>, Vec<u8>), MediaError> {
    let picture = render::render(
        mesh,
        &render::View {
            size: 1024,
            texture,
        },
    );
    thumbnails(&DynamicImage::ImageRgba8(picture))
}

/// Reads a 3D file the upload checks accepted into a mesh (millimetres, z up).
pub fn read_model(bytes: &[u8], format: Format) -> Result<Mesh, MediaError> {
    let format = match format {
        Format::Glb | Format::Gltf => MeshFormat::Gltf,
        Format::Stl => MeshFormat::Stl,
        Format::ThreeMf => MeshFormat::ThreeMf,
        Format::Obj => MeshFormat::Obj,
        Format::Png | Format::Jpeg | Format::Webp => return Err(MediaError::Unsupported),
    };
    read::read(bytes, format).map_err(|e| MediaError::Invalid(e.to_string()))
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

/// Checks a 3D file's structure and counts its triangles, reading large files in a
/// streaming way (a GLB's binary chunk and a binary STL's facets are not loaded).
pub fn check_model<R: Read + Seek>(
    mut reader: R,
    format: Format,
    size: u64,
) -> Result<u64, MediaError> {
    let invalid = |e: &dyn std::fmt::Display| MediaError::Invalid(e.to_string());
    match format {
        Format::Glb => check_glb(&mut reader, size),
        Format::Gltf => {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).map_err(|e| invalid(&e))?;
            let root: gltf::json::Root =
                gltf::json::deserialize::from_slice(&bytes).map_err(|e| invalid(&e))?;
            Ok(count_triangles(&checked_document(root)?))
        }
        Format::Stl => check_stl(&mut reader, size),
        Format::Obj => {
            let mut faces = 0u64;
            let mut vertices = 0u64;
            for line in std::io::BufReader::new(reader).lines() {
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
            Ok(faces)
        }
        Format::ThreeMf => {
            let mut archive = zip::ZipArchive::new(reader).map_err(|e| invalid(&e))?;
            let model = archive
                .by_name("3D/3dmodel.model")
                .map_err(|_| MediaError::Invalid("a 3MF file needs 3D/3dmodel.model".into()))?;
            let mut saw_model = false;
            let mut triangles = 0u64;
            for line in std::io::BufReader::new(model).split(b'>') {
                let tag = line.map_err(|e| invalid(&e))?;
                let tag = String::from_utf8_lossy(&tag);
                let tag = tag.trim_start();
                saw_model |= tag.starts_with("<model");
                if tag.starts_with("<triangle ") {
                    triangles += 1;
                }
            }
            if !saw_model {
                return Err(MediaError::Invalid(
                    "3D/3dmodel.model is not a 3MF model".into(),
                ));
            }
            Ok(triangles)
        }
        _ => Err(MediaError::Unsupported),
    }
}

/// Validates a glTF JSON root into a document. The `gltf` crate (1.4) panics on a
/// primitive attribute that names a missing accessor, so that is refused first.
fn checked_document(root: gltf::json::Root) -> Result<gltf::Document, MediaError> {
    let accessors = root.accessors.len();
    let dangling = root
        .meshes
        .iter()
        .flat_map(|m| &m.primitives)
        .flat_map(|p| p.attributes.values().chain(p.indices.as_ref()))
        .any(|a| a.value() >= accessors);
    if dangling {
        return Err(MediaError::Invalid(
            "a mesh primitive refers to an accessor that does not exist".into(),
        ));
    }
    gltf::Document::from_json(root).map_err(|e| MediaError::Invalid(e.to_string()))
}

fn count_triangles(document: &gltf::Document) -> u64 {
    document
        .meshes()
        .flat_map(|m| m.primitives())
        .filter(|p| p.mode() == gltf::mesh::Mode::Triangles)
        .map(|p| {
            let count = p
                .indices()
                .or_else(|| p.get(&gltf::Semantic::Positions))
                .map_or(0, |a| a.count());
            count as u64 / 3
        })
        .sum()
}

fn read_u32<R: Read>(reader: &mut R) -> Result<u32, MediaError> {
    let mut word = [0u8; 4];
    reader
        .read_exact(&mut word)
        .map_err(|_| MediaError::Invalid("the GLB file is cut short".into()))?;
    Ok(u32::from_le_bytes(word))
}

/// GLB: the header, the JSON chunk (parsed and validated) and the binary chunk's
/// declared length; the binary data itself is not read.
fn check_glb<R: Read + Seek>(reader: &mut R, size: u64) -> Result<u64, MediaError> {
    let invalid = |e: &dyn std::fmt::Display| MediaError::Invalid(e.to_string());
    let _magic = read_u32(reader)?;
    let version = read_u32(reader)?;
    let length = u64::from(read_u32(reader)?);
    if version != 2 || length != size {
        return Err(MediaError::Invalid(
            "not a glTF 2.0 binary whose length matches the file".into(),
        ));
    }
    let json_length = u64::from(read_u32(reader)?);
    if read_u32(reader)? != 0x4E4F_534A || json_length > MAX_GLB_JSON || 20 + json_length > size {
        return Err(MediaError::Invalid(
            "the GLB file's first chunk is not its JSON".into(),
        ));
    }
    let mut json = vec![0u8; json_length as usize];
    reader.read_exact(&mut json).map_err(|e| invalid(&e))?;
    let root: gltf::json::Root =
        gltf::json::deserialize::from_slice(&json).map_err(|e| invalid(&e))?;
    let document = checked_document(root)?;
    let bin_start = 20 + json_length;
    let bin_length = if bin_start + 8 <= size {
        let length = u64::from(read_u32(reader)?);
        if read_u32(reader)? != 0x004E_4942 || bin_start + 8 + length > size {
            return Err(MediaError::Invalid(
                "the GLB file's binary chunk is damaged".into(),
            ));
        }
        length
    } else {
        0
    };
    for buffer in document.buffers() {
        if let gltf::buffer::Source::Bin = buffer.source()
            && buffer.length() as u64 > bin_length
        {
            return Err(MediaError::Invalid(
                "a buffer is longer than the GLB's binary chunk".into(),
            ));
        }
    }
    Ok(count_triangles(&document))
}

fn check_stl<R: Read + Seek>(reader: &mut R, size: u64) -> Result<u64, MediaError> {
    let mut head = [0u8; 84];
    let read = reader
        .read(&mut head)
        .map_err(|e| MediaError::Invalid(e.to_string()))?;
    if read >= 84 {
        let count = u64::from(u32::from_le_bytes([head[80], head[81], head[82], head[83]]));
        if 84 + count * 50 == size {
            return Ok(count);
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
        return Ok(facets);
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
        let image = png(2, 2);
        assert_eq!(sniff(&image, image.len() as u64), Some(Format::Png));
        assert_eq!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>", 100),
            None
        );
        assert_eq!(sniff(b"<html><script>alert(1)</script>", 100), None);
        assert_eq!(sniff(b"# cube\nv 0 0 0\nv 1 0 0\n", 100), Some(Format::Obj));
        assert_eq!(
            sniff(b"solid cube\nfacet normal 0 0 1\n", 100),
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
            1
        );
        assert!(check_model(Cursor::new(&stl[..100]), Format::Stl, 100).is_err());
        let obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n";
        assert_eq!(
            check_model(Cursor::new(&obj[..]), Format::Obj, obj.len() as u64).unwrap(),
            1
        );
    }
}
