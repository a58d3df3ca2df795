//! Making a 3D model from an image with the settings of a [`MeshMode`]: the solid, its
//! simplification to the requested level of detail, its facts (it must come out a closed
//! solid), and the GLB the library keeps. Shared by the job runner and the quick preview.

use std::borrow::Cow;
use std::io::Cursor;

use image::{DynamicImage, GenericImageView, ImageFormat, RgbImage, imageops};

use super::mesh_params::{ExtrusionSettings, MaskSource, MeshMode};
use crate::engines::mesh::check::{self, MeshFacts};
use crate::engines::mesh::contour::{self, ContourSettings, Mask};
use crate::engines::mesh::extrude::{self, ExtrudeSettings};
use crate::engines::mesh::heightfield::{self, Gray};
use crate::engines::mesh::{Mesh, simplify, write};

/// Stages a build goes through, in order, as progress reports them.
pub const STAGES: [&str; 4] = [
    "Building the solid",
    "Simplifying",
    "Writing the model",
    "Picturing it",
];

/// Pixels on a silhouette's outlines above which it is refused as too detailed to trace
/// and triangulate in reasonable time (a noisy or dithered mask has outlines everywhere).
const MAX_OUTLINE_PIXELS: usize = 400_000;

/// Largest side of the texture embedded in a GLB.
const TEXTURE_SIDE: u32 = 1024;

/// A finished model.
pub struct Built {
    pub mesh: Mesh,
    pub facts: MeshFacts,
    pub glb: Vec<u8>,
    /// The base-colour texture the GLB carries (reliefs), for pictures.
    pub texture: Option<RgbImage>,
}

/// Why no model came out.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Input(String),
    #[error("stopped")]
    Stopped,
}

/// Makes the model. `map` is the depth or subject map of an image-to-map model (one
/// value in 0..=1 per pixel of `image`) when the settings use one. `stage(k)` is called
/// before stage `k` of [`STAGES`] and says whether to go on.
pub fn build(
    image: &DynamicImage,
    map: Option<Vec<f32>>,
    settings: &MeshMode,
    max_error_mm: f32,
    name: &str,
    stage: &mut dyn FnMut(usize) -> bool,
) -> Result<Built, BuildError> {
    let mut next = |k: usize| {
        if stage(k) {
            Ok(())
        } else {
            Err(BuildError::Stopped)
        }
    };
    next(0)?;
    let mesh = match settings {
        // Built simplified: flat and gently sloped areas never become small triangles.
        MeshMode::Relief(s) => {
            let mesh = heightfield::relief_simplified(&heights(image, map)?, s, max_error_mm)
                .map_err(input)?;
            next(1)?;
            mesh
        }
        MeshMode::Lithophane(s) => {
            let solid = heightfield::lithophane(&heights(image, None)?, s).map_err(input)?;
            next(1)?;
            simplify::simplify_owned(solid, 0, max_error_mm).0
        }
        MeshMode::Extrusion(s) => {
            let solid = extrusion(image, map.as_deref(), s)?;
            next(1)?;
            simplify::simplify_owned(solid, 0, max_error_mm).0
        }
    };
    let facts = check::facts(&mesh);
    if !facts.is_closed_solid() {
        return Err(BuildError::Input(format!(
            "the model did not come out as a closed solid ({facts:?}); this is a bug, please report it"
        )));
    }
    next(2)?;
    let texture = match settings {
        MeshMode::Relief(_) => Some(texture_of(image)),
        MeshMode::Lithophane(_) | MeshMode::Extrusion(_) => None,
    };
    let jpeg = texture.as_ref().map(jpeg).transpose()?;
    let glb = write::glb(
        &mesh,
        jpeg.as_deref().map(|bytes| (bytes, "image/jpeg")),
        name,
    );
    Ok(Built {
        mesh,
        facts,
        glb,
        texture,
    })
}

fn input(error: impl std::fmt::Display) -> BuildError {
    BuildError::Input(error.to_string())
}

/// The values a heightfield follows: the map when given, else the brightness.
fn heights(image: &DynamicImage, map: Option<Vec<f32>>) -> Result<Gray, BuildError> {
    if let Some(map) = map {
        return Gray::new(image.width(), image.height(), map).map_err(input);
    }
    let luma = image.to_luma8();
    Gray::from_luma8(luma.width(), luma.height(), luma.as_raw()).map_err(input)
}

fn extrusion(
    image: &DynamicImage,
    map: Option<&[f32]>,
    s: &ExtrusionSettings,
) -> Result<Mesh, BuildError> {
    // A subject map becomes an image whose brightness is the map, light = subject.
    let (image, mask_source): (Cow<'_, DynamicImage>, MaskSource) = match (s.mask, map) {
        (MaskSource::Subject, Some(map)) => {
            let (w, h) = image.dimensions();
            let bytes = map
                .iter()
                .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                .collect();
            let gray = image::GrayImage::from_raw(w, h, bytes)
                .ok_or_else(|| BuildError::Input("the subject map has the wrong size".into()))?;
            (
                Cow::Owned(DynamicImage::ImageLuma8(gray)),
                MaskSource::Subject,
            )
        }
        (MaskSource::Subject, None) => {
            return Err(BuildError::Input("no subject map was made".into()));
        }
        (source, _) => (Cow::Borrowed(image), source),
    };
    let (w, h) = image.dimensions();
    let image = if w.max(h) > s.resolution {
        Cow::Owned(image.resize(s.resolution, s.resolution, imageops::FilterType::Triangle))
    } else {
        image
    };
    let mask = match mask_source {
        MaskSource::Subject => Mask::from_brightness(&image, 128, true),
        MaskSource::Alpha => Mask::from_alpha(&image, 128),
        MaskSource::Brightness => Mask::from_brightness(&image, s.threshold, s.invert),
        MaskSource::Auto
            if image.color().has_alpha() && image.to_rgba8().pixels().any(|p| p.0[3] < 128) =>
        {
            Mask::from_alpha(&image, 128)
        }
        MaskSource::Auto => Mask::from_brightness(&image, s.threshold, s.invert),
    };
    if outline_pixels(&mask) > MAX_OUTLINE_PIXELS {
        return Err(BuildError::Input(
            "the outline is too detailed: drop more specks (speck_px), lower the resolution, \
             or change the threshold"
                .into(),
        ));
    }
    let outlines = contour::trace(
        &mask,
        &ContourSettings {
            min_area_px: s.speck_px,
            ..ContourSettings::default()
        },
    );
    if outlines.is_empty() {
        return Err(BuildError::Input(
            "no shape was found in the image: change the threshold, or invert".into(),
        ));
    }
    // The shapes, not the whole image, get the requested width.
    let (left, right) = outlines
        .iter()
        .flat_map(|p| &p.outer)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[0]), hi.max(p[0]))
        });
    let mask_width_mm = f64::from(s.width_mm) * f64::from(mask.width()) / (right - left).max(1.0);
    let mut settings = ExtrudeSettings::new(
        mask.width(),
        mask.height(),
        mask_width_mm as f32,
        s.height_mm,
    );
    settings.base_mm = (s.base_mm > 0.0).then_some(s.base_mm);
    extrude::extrude(&outlines, &settings).map_err(input)
}

/// Mask pixels whose right or lower neighbour is on the other side of the outline.
fn outline_pixels(mask: &Mask) -> usize {
    let (w, h) = (mask.width(), mask.height());
    let mut count = 0;
    for y in 0..h {
        for x in 0..w {
            let here = mask.get(x, y);
            let right = x + 1 < w && mask.get(x + 1, y) != here;
            let below = y + 1 < h && mask.get(x, y + 1) != here;
            count += usize::from(right || below);
        }
    }
    count
}

fn texture_of(image: &DynamicImage) -> RgbImage {
    let (w, h) = image.dimensions();
    if w.max(h) > TEXTURE_SIDE {
        image.thumbnail(TEXTURE_SIDE, TEXTURE_SIDE).to_rgb8()
    } else {
        image.to_rgb8()
    }
}

fn jpeg(texture: &RgbImage) -> Result<Vec<u8>, BuildError> {
    let mut out = Cursor::new(Vec::new());
    texture
        .write_to(&mut out, ImageFormat::Jpeg)
        .map_err(|e| BuildError::Input(format!("encoding the texture failed: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domains::generation::mesh_params::complete_mode;
    use crate::domains::generation::params::GenerationRequest;

    use image::RgbaImage;

    fn disc(alpha: bool) -> DynamicImage {
        DynamicImage::ImageRgba8(RgbaImage::from_fn(64, 48, |x, y| {
            let inside = (x as f32 - 32.0).hypot(y as f32 - 24.0) < 16.0;
            match (inside, alpha) {
                (true, _) => image::Rgba([40, 40, 40, 255]),
                (false, true) => image::Rgba([255, 255, 255, 0]),
                (false, false) => image::Rgba([250, 250, 250, 255]),
            }
        }))
    }

    #[test]
    fn every_mode_makes_a_closed_solid_with_a_thumbnail() {
        for (mode, image) in [
            ("relief", disc(false)),
            ("lithophane", disc(false)),
            ("extrusion", disc(true)),
            ("extrusion", disc(false)),
        ] {
            let settings = complete_mode(
                mode,
                &GenerationRequest {
                    kind: mode.into(),
                    width_mm: Some(40.0),
                    ..GenerationRequest::default()
                },
            )
            .unwrap();
            let mut stages = Vec::new();
            let built = build(&image, None, &settings, 0.05, "test", &mut |k| {
                stages.push(k);
                true
            })
            .unwrap();
            assert!(built.facts.is_closed_solid(), "{mode}");
            let [min, max] = built.facts.bounding_box_mm;
            assert!(
                (max[0] - min[0] - 40.0).abs() < 0.01,
                "{mode}: {min:?} {max:?}"
            );
            assert_eq!(stages, [0, 1, 2], "{mode}");
            assert_eq!(&built.glb[..4], b"glTF");
            let (thumbnail, _) =
                crate::engines::media::model_thumbnails(&built.mesh, built.texture.as_ref())
                    .unwrap();
            let picture = image::load_from_memory(&thumbnail).unwrap().to_rgba8();
            assert!(
                picture.pixels().any(|p| p[3] == 255),
                "{mode}: blank picture"
            );
        }
    }

    #[test]
    fn an_empty_mask_and_a_stop_are_reported() {
        let blank = DynamicImage::ImageRgb8(RgbImage::from_pixel(16, 16, image::Rgb([255; 3])));
        let settings = complete_mode(
            "extrusion",
            &GenerationRequest {
                kind: "extrusion".into(),
                ..GenerationRequest::default()
            },
        )
        .unwrap();
        let empty = build(&blank, None, &settings, 0.05, "x", &mut |_| true);
        assert!(matches!(empty, Err(BuildError::Input(m)) if m.contains("no shape")));
        let stopped = build(&disc(true), None, &settings, 0.05, "x", &mut |k| k < 1);
        assert!(matches!(stopped, Err(BuildError::Stopped)));
        // A checkerboard has outlines everywhere: refused before tracing, not traced for
        // minutes.
        let checkers = DynamicImage::ImageRgb8(RgbImage::from_fn(1024, 1024, |x, y| {
            image::Rgb([if (x + y) % 2 == 0 { 0 } else { 255 }; 3])
        }));
        let mut fine = settings.clone();
        if let MeshMode::Extrusion(s) = &mut fine {
            s.resolution = 1024;
            s.speck_px = 0;
        }
        let detailed = build(&checkers, None, &fine, 0.05, "x", &mut |_| true);
        assert!(matches!(detailed, Err(BuildError::Input(m)) if m.contains("too detailed")));
    }
}
