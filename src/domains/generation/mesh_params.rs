//! What a 3D request may ask for — the mode (relief, lithophane, silhouette extrusion)
//! and its settings — checked once when it is queued, with every default filled in. The
//! job keeps these complete parameters; the engine settings are built from them.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::params::{GenerationParams, GenerationRequest, json_value};
use crate::engines::diffusion::manifest::Family;
use crate::engines::mesh::heightfield::{
    Frame, LithophaneSettings, LithophaneShape, ReliefSettings,
};
use crate::error::ApiError;

/// Samples along the longer image side for a model made without a `resolution`, by
/// mode. Reliefs are triangulated adaptively, so their cost follows the level of detail
/// rather than the resolution; lithophanes and extrusions are simplified after they are
/// built, so theirs stays moderate.
pub fn default_resolution(mode: &str) -> u32 {
    match mode {
        "relief" => 1024,
        "extrusion" => 512,
        _ => 400,
    }
}
pub const MIN_RESOLUTION: u32 = 16;
pub const MAX_RESOLUTION: u32 = 2048;
/// Level of detail when none is asked for: every sample of the image (every vertex of the
/// full-resolution solid) stays within this distance of the simplified surface.
pub const DEFAULT_MAX_ERROR_MM: f32 = 0.05;

/// Where a silhouette's mask comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaskSource {
    /// The alpha channel when the image has transparent pixels, else brightness.
    Auto,
    /// Opaque pixels are the shape.
    Alpha,
    /// Pixels darker than `threshold` are the shape (lighter ones with `invert`).
    Brightness,
    /// The subject, as the installed background-removal model finds it.
    Subject,
}

/// Settings of a silhouette extrusion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExtrusionSettings {
    /// Width of the shapes (a base plate reaches beyond them by its margin).
    pub width_mm: f32,
    /// Height of the shapes above the base plate.
    pub height_mm: f32,
    /// Base plate thickness; 0 for none.
    pub base_mm: f32,
    pub resolution: u32,
    pub mask: MaskSource,
    pub threshold: u8,
    pub invert: bool,
    /// Shapes and holes smaller than this many mask pixels are dropped.
    pub speck_px: u32,
}

/// The mode and its engine settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum MeshMode {
    Relief(ReliefSettings),
    Lithophane(LithophaneSettings),
    Extrusion(ExtrusionSettings),
}

impl MeshMode {
    pub fn name(&self) -> &'static str {
        match self {
            MeshMode::Relief(_) => "relief",
            MeshMode::Lithophane(_) => "lithophane",
            MeshMode::Extrusion(_) => "extrusion",
        }
    }

    /// The same settings at no more than `cap` samples (for quick previews), with the
    /// settings measured in samples (smoothing, speck size) scaled along, so the preview
    /// looks like the full model.
    pub fn capped(&self, cap: u32) -> MeshMode {
        let mut mode = self.clone();
        let scale = |resolution: &mut u32| {
            let factor = f64::from(cap.min(*resolution)) / f64::from(*resolution);
            *resolution = cap.min(*resolution);
            factor
        };
        match &mut mode {
            MeshMode::Relief(s) => s.smoothing *= scale(&mut s.resolution) as f32,
            MeshMode::Lithophane(s) => s.smoothing *= scale(&mut s.resolution) as f32,
            MeshMode::Extrusion(s) => {
                let factor = scale(&mut s.resolution);
                s.speck_px = (f64::from(s.speck_px) * factor * factor).round() as u32;
            }
        }
        mode
    }
}

/// The complete parameters of a 3D job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshParams {
    /// The mode (`"mode": "relief"`, ...) and its settings.
    pub settings: MeshMode,
    /// Level of detail: the simplification's error bound; 0 merges only flat areas.
    pub max_error_mm: f32,
    /// The image the model is made from (absent for prompt to 3D).
    pub source_asset_id: Option<String>,
    /// Prompt to 3D: the image generated first.
    pub image: Option<GenerationParams>,
    /// The depth or background-removal model whose map the model is made from.
    #[serde(default)]
    pub vision_model: Option<String>,
}

impl MeshParams {
    /// A title for the library.
    pub fn title(&self, source_title: Option<&str>) -> String {
        let what = match &self.settings {
            MeshMode::Relief(_) => "Relief",
            MeshMode::Lithophane(_) => "Lithophane",
            MeshMode::Extrusion(_) => "Extrusion",
        };
        match (&self.image, source_title) {
            (Some(image), _) => format!("{what}: {}", image.title()),
            (None, Some(title)) => format!("{what} of {title}"),
            (None, None) => what.to_string(),
        }
    }

    /// What the model asset records about how it was made.
    pub fn asset_params(&self, source_asset_id: Option<&str>) -> Value {
        let mut recorded = json_value(&self.settings);
        recorded["max_error_mm"] = json_value(&self.max_error_mm);
        recorded["source_asset_id"] = json!(source_asset_id);
        recorded["vision_model"] = json!(self.vision_model);
        if let Some(image) = &self.image {
            recorded["prompt"] = json!(image.prompt);
            recorded["model"] = json!(image.model);
            recorded["seed"] = json!(image.seed);
        }
        recorded
    }
}

/// The request fields that only 3D kinds use, with the JSON name of each, so an image
/// request that sets one is told so.
fn mesh_fields(request: &GenerationRequest) -> Vec<&'static str> {
    let r = request;
    [
        ("mode", r.mode.is_some()),
        ("width_mm", r.width_mm.is_some()),
        ("base_mm", r.base_mm.is_some()),
        ("max_height_mm", r.max_height_mm.is_some()),
        ("min_thickness_mm", r.min_thickness_mm.is_some()),
        ("max_thickness_mm", r.max_thickness_mm.is_some()),
        ("smoothing", r.smoothing.is_some()),
        ("resolution", r.resolution.is_some()),
        ("invert", r.invert.is_some()),
        ("max_error_mm", r.max_error_mm.is_some()),
        ("curve_degrees", r.curve_degrees.is_some()),
        ("frame_mm", r.frame_mm.is_some()),
        ("mask", r.mask.is_some()),
        ("threshold", r.threshold.is_some()),
        ("speck_px", r.speck_px.is_some()),
        ("height_from", r.height_from.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

/// Refuses 3D settings on an image request.
pub fn refuse_mesh_fields(request: &GenerationRequest) -> Result<(), ApiError> {
    match mesh_fields(request).first() {
        Some(name) => Err(ApiError::field(
            name,
            "This setting applies to 3D kinds (relief, lithophane, extrusion, prompt_to_3d).",
        )),
        None => Ok(()),
    }
}

/// The 3D settings each mode reads (`mode` itself belongs to prompt to 3D).
const MODE_FIELDS: [(&str, &[&str]); 3] = [
    (
        "relief",
        &[
            "width_mm",
            "base_mm",
            "max_height_mm",
            "smoothing",
            "resolution",
            "invert",
            "max_error_mm",
            "height_from",
        ],
    ),
    (
        "lithophane",
        &[
            "width_mm",
            "min_thickness_mm",
            "max_thickness_mm",
            "smoothing",
            "resolution",
            "max_error_mm",
            "curve_degrees",
            "frame_mm",
        ],
    ),
    (
        "extrusion",
        &[
            "width_mm",
            "base_mm",
            "max_height_mm",
            "resolution",
            "invert",
            "max_error_mm",
            "mask",
            "threshold",
            "speck_px",
        ],
    ),
];

/// Refuses a setting `mode` does not read, naming the modes that do.
fn refuse_other_modes_fields(mode: &str, r: &GenerationRequest) -> Result<(), ApiError> {
    let reads = |m: &str, name: &str| {
        MODE_FIELDS
            .iter()
            .any(|(candidate, fields)| *candidate == m && fields.contains(&name))
    };
    for name in mesh_fields(r) {
        if name == "mode" || reads(mode, name) {
            continue;
        }
        let readers: Vec<&str> = MODE_FIELDS
            .iter()
            .filter(|(m, _)| reads(m, name))
            .map(|(m, _)| *m)
            .collect();
        return Err(ApiError::field(
            name,
            format!("This setting applies to {} only.", readers.join(" and ")),
        ));
    }
    Ok(())
}

/// A number in `min..=max`, or the default.
fn within(
    name: &'static str,
    value: Option<f32>,
    default: f32,
    min: f32,
    max: f32,
) -> Result<f32, ApiError> {
    let value = value.unwrap_or(default);
    if !(value.is_finite() && (min..=max).contains(&value)) {
        return Err(ApiError::field(
            name,
            format!("Use a value from {min} to {max}."),
        ));
    }
    Ok(value)
}

/// Checks the 3D settings of a request for `mode` and fills in the defaults.
pub fn complete_mode(mode: &str, r: &GenerationRequest) -> Result<MeshMode, ApiError> {
    let resolution = r.resolution.unwrap_or_else(|| default_resolution(mode));
    if !(MIN_RESOLUTION..=MAX_RESOLUTION).contains(&resolution) {
        return Err(ApiError::field(
            "resolution",
            format!("Use {MIN_RESOLUTION} to {MAX_RESOLUTION} samples."),
        ));
    }
    // Lithophanes show fine detail against the light: they are smoothed less.
    let default_smoothing = if mode == "lithophane" { 0.5 } else { 1.0 };
    let smoothing = within("smoothing", r.smoothing, default_smoothing, 0.0, 8.0)?;
    let invert = r.invert.unwrap_or(false);
    refuse_other_modes_fields(mode, r)?;
    match mode {
        "relief" => Ok(MeshMode::Relief(ReliefSettings {
            width_mm: within("width_mm", r.width_mm, 100.0, 10.0, 1000.0)?,
            base_mm: within("base_mm", r.base_mm, 2.0, 0.2, 50.0)?,
            max_height_mm: within("max_height_mm", r.max_height_mm, 4.0, 0.1, 100.0)?,
            resolution,
            smoothing,
            invert,
        })),
        "lithophane" => {
            let min = within("min_thickness_mm", r.min_thickness_mm, 0.8, 0.2, 20.0)?;
            let max = within("max_thickness_mm", r.max_thickness_mm, 3.2, 0.2, 20.0)?;
            if min > max {
                return Err(ApiError::field(
                    "min_thickness_mm",
                    "The thinnest part cannot be thicker than the thickest.",
                ));
            }
            let curve = within("curve_degrees", r.curve_degrees, 0.0, 0.0, 300.0)?;
            if curve > 0.0 && curve < 10.0 {
                return Err(ApiError::field(
                    "curve_degrees",
                    "Use 0 for a flat lithophane, or 10 to 300 degrees of curve.",
                ));
            }
            let frame = within("frame_mm", r.frame_mm, 0.0, 0.0, 50.0)?;
            Ok(MeshMode::Lithophane(LithophaneSettings {
                width_mm: within("width_mm", r.width_mm, 100.0, 10.0, 1000.0)?,
                min_thickness_mm: min,
                max_thickness_mm: max,
                resolution,
                smoothing,
                shape: if curve > 0.0 {
                    LithophaneShape::Curved {
                        angle_degrees: curve,
                    }
                } else {
                    LithophaneShape::Flat
                },
                frame: (frame > 0.0).then_some(Frame {
                    width_mm: frame,
                    thickness_mm: max,
                }),
            }))
        }
        "extrusion" => {
            let speck_px = r.speck_px.unwrap_or(16);
            if speck_px > 1_000_000 {
                return Err(ApiError::field("speck_px", "Use 0 to 1000000 pixels."));
            }
            Ok(MeshMode::Extrusion(ExtrusionSettings {
                width_mm: within("width_mm", r.width_mm, 80.0, 10.0, 1000.0)?,
                height_mm: within("max_height_mm", r.max_height_mm, 5.0, 0.2, 100.0)?,
                base_mm: within("base_mm", r.base_mm, 0.0, 0.0, 50.0)?,
                resolution,
                mask: r.mask.unwrap_or(MaskSource::Auto),
                threshold: r.threshold.unwrap_or(128),
                invert,
                speck_px,
            }))
        }
        _ => Err(ApiError::field(
            "mode",
            "Choose relief, lithophane or extrusion.",
        )),
    }
}

/// The family of image-to-map model the settings need: depth for a relief whose heights
/// come from depth, background removal for a silhouette of the subject.
pub fn vision_family(
    settings: &MeshMode,
    r: &GenerationRequest,
) -> Result<Option<Family>, ApiError> {
    match r.height_from.as_deref() {
        None | Some("brightness") => {}
        Some("depth") => return Ok(Some(Family::Depth)),
        Some(_) => return Err(ApiError::field("height_from", "Use brightness or depth.")),
    }
    Ok(match settings {
        MeshMode::Extrusion(s) if s.mask == MaskSource::Subject => Some(Family::BackgroundRemoval),
        _ => None,
    })
}

/// The level of detail of a request.
pub fn max_error(r: &GenerationRequest) -> Result<f32, ApiError> {
    within(
        "max_error_mm",
        r.max_error_mm,
        DEFAULT_MAX_ERROR_MM,
        0.0,
        2.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: Value) -> GenerationRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_fill_in_and_settings_are_checked_per_mode() {
        let relief = complete_mode("relief", &request(json!({"kind": "relief"}))).unwrap();
        let MeshMode::Relief(s) = relief else {
            panic!("not a relief")
        };
        assert_eq!((s.width_mm, s.resolution), (100.0, 1024));

        let curved = complete_mode(
            "lithophane",
            &request(json!({"kind": "lithophane", "curve_degrees": 120, "frame_mm": 4})),
        )
        .unwrap();
        let MeshMode::Lithophane(s) = curved else {
            panic!("not a lithophane")
        };
        assert!(
            matches!(s.shape, LithophaneShape::Curved { angle_degrees } if angle_degrees == 120.0)
        );
        assert_eq!(s.frame.map(|f| f.width_mm), Some(4.0));

        let wrong = complete_mode("relief", &request(json!({"kind": "relief", "frame_mm": 3})));
        assert!(wrong.is_err());
        let thin = complete_mode(
            "lithophane",
            &request(json!({"kind": "lithophane", "min_thickness_mm": 3, "max_thickness_mm": 1})),
        );
        assert!(thin.is_err());
        let huge = complete_mode(
            "extrusion",
            &request(json!({"kind": "extrusion", "width_mm": 5000})),
        );
        assert!(huge.is_err());
        assert!(refuse_mesh_fields(&request(json!({"prompt": "x", "width_mm": 3}))).is_err());
        assert!(refuse_mesh_fields(&request(json!({"prompt": "x"}))).is_ok());
    }

    #[test]
    fn params_round_trip_through_json() {
        let params = MeshParams {
            settings: complete_mode("extrusion", &request(json!({"kind": "extrusion"}))).unwrap(),
            max_error_mm: 0.05,
            source_asset_id: Some("a".into()),
            image: None,
            vision_model: None,
        };
        let value = json_value(&params);
        assert_eq!(value["settings"]["mode"], "extrusion");
        assert_eq!(value["max_error_mm"], json!(0.05));
        assert_eq!(value["settings"]["mask"], "auto");
        let back: MeshParams = serde_json::from_value(value).unwrap();
        assert_eq!(back, params);
    }
}
