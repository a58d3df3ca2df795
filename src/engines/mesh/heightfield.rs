//! Grayscale images to closed, 2-manifold, outward-wound solids: reliefs (bright = high,
//! lying on the plate) and lithophanes (dark = thick, standing up, flat or bent around the
//! vertical axis, with an optional frame), plus the [`Gray`] image they read.
//!
//! Axes and units (millimetres):
//! - **relief**: x to the right of the image, y up the image, z up. The bottom is the plane
//!   z = 0, the top is z = base + h·max_height. Seen from above (+z) the image reads as in
//!   the source, not mirrored. Bounds: x ∈ [0, width], y ∈ [0, depth], depth = width ·
//!   image height / image width.
//! - **lithophane**: stands on z = 0 with the image upright; the viewer is at −y looking
//!   towards +y, so x is to the right and z up the image. Flat: the back is the plane y = 0,
//!   the image surface is at y = −thickness. Curved: the back is a cylinder of radius
//!   r = width / angle about a vertical axis at x = 0, y = r; the image is on the outside,
//!   bulging towards the viewer; `width_mm` is the arc length of the back. A frame adds
//!   `frame.width_mm` on every side; z (and x of a flat one) start at 0 on the outer frame
//!   edge, a curved one is centred on x = 0.
//!
//! Every top sample is a vertex shared by its neighbours; the bottom (or back) is a coarse
//! grid (every [`BOTTOM_STRIDE`]th sample; every column on a curved back, so it stays round)
//! fanned out to the full-resolution rim: a few % of the top's triangles, no needles.
//! Vertical walls join the rims. [`relief_simplified`] instead triangulates the top
//! adaptively within an error bound, and its walls and bottom follow the border samples
//! the top keeps (see `rtin`): a simplified relief in one pass, without the full-resolution
//! mesh. UVs: the top sample's image coordinate (glTF convention, (0, 0) = top-left); bottom
//! and wall vertices copy the UV of the top sample above them, frame vertices that of the
//! nearest image edge.

use serde::{Deserialize, Serialize};

use super::{Mesh, MeshError, rtin};

/// Fewest samples along the longer image side.
pub const MIN_RESOLUTION: u32 = 2;
/// Most samples along the longer image side.
pub const MAX_RESOLUTION: u32 = 4096;
/// Most triangles a generator will make (2^24, about 200 MB of positions and indices);
/// a 4096 × 2048 relief (16.8 M triangles) is just over it, 2896 × 2896 just under.
pub const MAX_TRIANGLES: u64 = 1 << 24;
/// Largest accepted size, thickness or height.
pub const MAX_SIZE_MM: f32 = 10_000.0;
/// Largest accepted gaussian sigma, in samples.
pub const MAX_SMOOTHING: f32 = 64.0;
/// The bottom (back) is a coarse grid over every this-many-th sample row and column
/// (columns: every one on a curved back), fanned to the full-resolution rim.
pub const BOTTOM_STRIDE: usize = 8;
/// Largest arc a curved lithophane's image may span.
pub const MAX_CURVE_DEGREES: f32 = 300.0;
/// Largest arc including the frame (the ends must not meet).
pub const MAX_TOTAL_CURVE_DEGREES: f32 = 350.0;
/// Largest angle between two columns of a curved lithophane: fewer samples across are
/// raised to this, so the cylinder stays round.
pub const MAX_CURVE_STEP_DEGREES: f32 = 2.0;

/// A grayscale image: `width × height` values in [0, 1], row-major, row 0 at the top.
/// Values outside [0, 1] are clamped when sampled, NaN reads as 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<f32>,
}

impl Gray {
    pub fn new(width: u32, height: u32, pixels: Vec<f32>) -> Result<Gray, MeshError> {
        if width == 0 || height == 0 {
            return Err(MeshError::EmptyImage { width, height });
        }
        let expected = width as u64 * height as u64;
        if pixels.len() as u64 != expected {
            return Err(MeshError::PixelCount {
                width,
                height,
                expected,
                actual: pixels.len(),
            });
        }
        Ok(Gray {
            width,
            height,
            pixels,
        })
    }

    /// From 8-bit luma (0 = black, 255 = white), row-major from the top.
    pub fn from_luma8(width: u32, height: u32, data: &[u8]) -> Result<Gray, MeshError> {
        let expected = width as u64 * height as u64;
        if width == 0 || height == 0 {
            return Err(MeshError::EmptyImage { width, height });
        }
        if data.len() as u64 != expected {
            return Err(MeshError::PixelCount {
                width,
                height,
                expected,
                actual: data.len(),
            });
        }
        let pixels = data.iter().map(|&v| v as f32 / 255.0).collect();
        Gray::new(width, height, pixels)
    }

    fn check(&self) -> Result<(), MeshError> {
        if self.width == 0 || self.height == 0 || self.pixels.is_empty() {
            return Err(MeshError::EmptyImage {
                width: self.width,
                height: self.height,
            });
        }
        let expected = self.width as u64 * self.height as u64;
        if self.pixels.len() as u64 != expected {
            return Err(MeshError::PixelCount {
                width: self.width,
                height: self.height,
                expected,
                actual: self.pixels.len(),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReliefSettings {
    /// Size along x; the depth (y) follows the image aspect.
    pub width_mm: f32,
    /// Solid thickness under the darkest point.
    pub base_mm: f32,
    /// Height added by a white pixel.
    pub max_height_mm: f32,
    /// Samples along the longer image side (the image is area-averaged to it).
    pub resolution: u32,
    /// Gaussian sigma in samples, 0 = none.
    pub smoothing: f32,
    /// Dark = high instead of bright = high.
    pub invert: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LithophaneShape {
    Flat,
    /// Bent around the vertical axis; the image spans `angle_degrees` of arc.
    Curved {
        angle_degrees: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frame {
    /// Border added on every side of the image.
    pub width_mm: f32,
    /// Thickness of the border (measured like the image thickness, from the back).
    pub thickness_mm: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LithophaneSettings {
    /// Image width (for a curved one: arc length of the back surface).
    pub width_mm: f32,
    /// Thickness at white.
    pub min_thickness_mm: f32,
    /// Thickness at black.
    pub max_thickness_mm: f32,
    /// Samples along the longer image side; a curved one gets at least one column per
    /// [`MAX_CURVE_STEP_DEGREES`] of arc.
    pub resolution: u32,
    pub smoothing: f32,
    pub shape: LithophaneShape,
    pub frame: Option<Frame>,
}

/// A closed relief: flat bottom at z = 0, top at base + brightness · max height; every
/// sample is a vertex.
pub fn relief(image: &Gray, settings: &ReliefSettings) -> Result<Mesh, MeshError> {
    let samples = ReliefSamples::new(image, settings, |dims| dims)?;
    Ok(build_solid(&samples.grid(), |u, v, h| [u, v, h]))
}

/// [`relief`] triangulated adaptively: flat or planar areas become a few large triangles
/// (top, walls and bottom alike) while every sample stays within `max_error_mm` of the top
/// surface (in height, hence in distance). The same kind of solid (closed, 2-manifold,
/// outward wound, same axes and UVs) over the same area, sampled like [`relief`] on a grid
/// whose cell counts are rounded up to multiples of a power of two, adding at most 1/32 of
/// a side's cells (at least one): 1024 samples a side become 1025. Its bounding box is
/// exactly that of [`relief`] on that grid: the corners are vertices, and so is the highest
/// sample, which the surface (interpolating samples) never rises above. A `max_error_mm`
/// below 1e-6 (or NaN) counts as 1e-6: only flat and planar areas merge. Much faster than
/// [`relief`] followed by [`super::simplify`], and smaller.
pub fn relief_simplified(
    image: &Gray,
    settings: &ReliefSettings,
    max_error_mm: f32,
) -> Result<Mesh, MeshError> {
    let samples = ReliefSamples::new(image, settings, tile_aligned)?;
    Ok(build_solid_adaptive(
        &samples.grid(),
        max_error_mm,
        |u, v, h| [u, v, h],
    ))
}

/// The checked settings of a relief turned into its sample grid.
struct ReliefSamples {
    us: Vec<f32>,
    vs: Vec<f32>,
    hs: Vec<f32>,
    uv_s: Vec<f32>,
    uv_t: Vec<f32>,
}

impl ReliefSamples {
    /// `dims` may change the sample counts [`grid_dims`] picks.
    fn new(
        image: &Gray,
        settings: &ReliefSettings,
        dims: fn((usize, usize)) -> (usize, usize),
    ) -> Result<ReliefSamples, MeshError> {
        image.check()?;
        let s = settings;
        positive("width_mm", s.width_mm)?;
        positive("base_mm", s.base_mm)?;
        positive("max_height_mm", s.max_height_mm)?;
        check_resolution(s.resolution)?;
        check_smoothing(s.smoothing)?;
        let depth = depth_of(image, s.width_mm)?;
        let (nx, ny) = grid_dims(image, s.resolution);
        // The limits are those of the grid `relief` uses, whatever `dims` makes of it.
        check_triangles(&axis(s.width_mm, nx), &axis(depth, ny), BOTTOM_STRIDE)?;
        let (nx, ny) = dims((nx, ny));
        let us = axis(s.width_mm, nx);
        let vs = axis(depth, ny);

        let samples = sample(image, nx, ny, s.smoothing);
        let mut hs = Vec::with_capacity(nx * ny);
        for k in 0..ny {
            let row = &samples[(ny - 1 - k) * nx..(ny - k) * nx];
            hs.extend(row.iter().map(|&b| {
                let b = if s.invert { 1.0 - b } else { b };
                s.base_mm + b * s.max_height_mm
            }));
        }
        Ok(ReliefSamples {
            us,
            vs,
            hs,
            uv_s: unit_axis(nx),
            uv_t: unit_axis(ny).into_iter().rev().collect(),
        })
    }

    fn grid(&self) -> Grid<'_> {
        Grid {
            us: &self.us,
            vs: &self.vs,
            hs: &self.hs,
            uv_s: &self.uv_s,
            uv_t: &self.uv_t,
            column_stride: BOTTOM_STRIDE,
        }
    }
}

/// A closed lithophane: thickness from inverted brightness (dark = thick), standing up.
pub fn lithophane(image: &Gray, settings: &LithophaneSettings) -> Result<Mesh, MeshError> {
    image.check()?;
    let s = settings;
    positive("width_mm", s.width_mm)?;
    positive("min_thickness_mm", s.min_thickness_mm)?;
    positive("max_thickness_mm", s.max_thickness_mm)?;
    if s.min_thickness_mm > s.max_thickness_mm {
        return Err(MeshError::ThicknessOrder {
            min_mm: s.min_thickness_mm,
            max_mm: s.max_thickness_mm,
        });
    }
    check_resolution(s.resolution)?;
    check_smoothing(s.smoothing)?;
    if let Some(f) = s.frame {
        positive("frame.width_mm", f.width_mm)?;
        positive("frame.thickness_mm", f.thickness_mm)?;
    }
    let angle = match s.shape {
        LithophaneShape::Flat => None,
        LithophaneShape::Curved { angle_degrees } => {
            if !(angle_degrees > 0.0 && angle_degrees <= MAX_CURVE_DEGREES) {
                return Err(MeshError::OutOfRange {
                    name: "angle_degrees",
                    value: angle_degrees,
                    min: 0.0,
                    max: MAX_CURVE_DEGREES,
                });
            }
            Some((angle_degrees as f64).to_radians())
        }
    };
    let depth = depth_of(image, s.width_mm)?;
    let (mut nx, ny) = grid_dims(image, s.resolution);
    if let Some(a) = angle {
        let fewest = (a.to_degrees() / MAX_CURVE_STEP_DEGREES as f64).ceil() as usize + 1;
        nx = nx.max(fewest);
    }
    let du = s.width_mm / (nx - 1) as f32;
    let dv = depth / (ny - 1) as f32;
    let (fw, ft) = s.frame.map_or((0.0, 0.0), |f| (f.width_mm, f.thickness_mm));
    // On a curve the flat frame part is split like the image so it stays round.
    let segments_u = match angle {
        Some(_) if fw > 0.0 => (((fw - du.min(fw / 2.0)) / du).ceil() as usize).clamp(1, 256),
        _ => 1,
    };
    let (us, image_u) = framed_axis(s.width_mm, nx, fw, du.min(fw / 2.0), segments_u);
    let (vs, image_v) = framed_axis(depth, ny, fw, dv.min(fw / 2.0), 1);
    let (gx, gy) = (us.len(), vs.len());
    let column_stride = if angle.is_some() { 1 } else { BOTTOM_STRIDE };
    check_triangles(&us, &vs, column_stride)?;
    let total_width = *us.last().unwrap_or(&0.0);
    if let Some(a) = angle {
        let total = (total_width as f64 / s.width_mm as f64 * a).to_degrees() as f32;
        if total > MAX_TOTAL_CURVE_DEGREES {
            return Err(MeshError::OutOfRange {
                name: "curve angle including the frame (degrees)",
                value: total,
                min: 0.0,
                max: MAX_TOTAL_CURVE_DEGREES,
            });
        }
    }

    let samples = sample(image, nx, ny, s.smoothing);
    let span = s.max_thickness_mm - s.min_thickness_mm;
    let mut hs = Vec::with_capacity(gx * gy);
    for iv in &image_v {
        for iu in &image_u {
            hs.push(match (iu, iv) {
                (Some(i), Some(k)) => {
                    let b = samples[(ny - 1 - k) * nx + i];
                    s.min_thickness_mm + (1.0 - b) * span
                }
                _ => ft,
            });
        }
    }
    drop(samples);
    let uv_s: Vec<f32> = us
        .iter()
        .map(|u| ((u - fw) / s.width_mm).clamp(0.0, 1.0))
        .collect();
    let uv_t: Vec<f32> = vs
        .iter()
        .map(|v| (1.0 - (v - fw) / depth).clamp(0.0, 1.0))
        .collect();
    let grid = Grid {
        us: &us,
        vs: &vs,
        hs: &hs,
        uv_s: &uv_s,
        uv_t: &uv_t,
        column_stride,
    };
    Ok(match angle {
        // `0.0 - h`, not `-h`: the back is at +0.0, not −0.0 (text formats print the sign).
        None => build_solid(&grid, |u, v, h| [u, 0.0 - h, v]),
        Some(a) => {
            let radius = s.width_mm as f64 / a;
            let center = total_width as f64 / 2.0;
            build_solid(&grid, move |u, v, h| {
                let phi = (u as f64 - center) / radius;
                let r = radius + h as f64;
                let (sin, cos) = phi.sin_cos();
                [(r * sin) as f32, (radius - r * cos) as f32, v]
            })
        }
    })
}

/// Triangles of the solid over the sample columns `us` and rows `vs` whose bottom takes
/// at most every `column_stride`-th column (1 for curved backs).
fn triangle_count(us: &[f32], vs: &[f32], column_stride: usize) -> u64 {
    let (nx, ny) = (us.len() as u64, vs.len() as u64);
    let ring = 2 * (nx + ny) - 4;
    let plan = BottomPlan::new(us, vs, column_stride);
    2 * (nx - 1) * (ny - 1) + 2 * ring + plan.triangles() as u64
}

fn positive(name: &'static str, value: f32) -> Result<(), MeshError> {
    if value > 0.0 && value <= MAX_SIZE_MM {
        Ok(())
    } else {
        Err(MeshError::NotPositive {
            name,
            value,
            max: MAX_SIZE_MM,
        })
    }
}

fn check_resolution(value: u32) -> Result<(), MeshError> {
    if (MIN_RESOLUTION..=MAX_RESOLUTION).contains(&value) {
        Ok(())
    } else {
        Err(MeshError::Resolution {
            value,
            min: MIN_RESOLUTION,
            max: MAX_RESOLUTION,
        })
    }
}

fn check_smoothing(value: f32) -> Result<(), MeshError> {
    if (0.0..=MAX_SMOOTHING).contains(&value) {
        Ok(())
    } else {
        Err(MeshError::OutOfRange {
            name: "smoothing",
            value,
            min: 0.0,
            max: MAX_SMOOTHING,
        })
    }
}

fn check_triangles(us: &[f32], vs: &[f32], column_stride: usize) -> Result<(), MeshError> {
    let triangles = triangle_count(us, vs, column_stride);
    if triangles > MAX_TRIANGLES {
        Err(MeshError::TooManyTriangles {
            triangles,
            limit: MAX_TRIANGLES,
        })
    } else {
        Ok(())
    }
}

fn depth_of(image: &Gray, width_mm: f32) -> Result<f32, MeshError> {
    let depth = (width_mm as f64 * image.height as f64 / image.width as f64) as f32;
    if depth > 0.0 && depth <= MAX_SIZE_MM {
        Ok(depth)
    } else {
        Err(MeshError::OutOfRange {
            name: "depth_mm (width × image aspect)",
            value: depth,
            min: 0.0,
            max: MAX_SIZE_MM,
        })
    }
}

/// Samples along x and y: `resolution` along the longer side, the other by aspect (≥ 2).
fn grid_dims(image: &Gray, resolution: u32) -> (usize, usize) {
    let (w, h, r) = (image.width as f64, image.height as f64, resolution as usize);
    let short = |a: f64, b: f64| ((r as f64 * a / b).round() as usize).clamp(2, r);
    if w >= h {
        (r, short(h, w))
    } else {
        (short(w, h), r)
    }
}

/// Sample counts whose cell counts (`n − 1`) are rounded up to multiples of the largest
/// power of two that adds at most 1/32 of a side's cells (at least one) to either side, so
/// an adaptive triangulation ([`rtin`]) can cover large areas with few triangles: tiles of
/// 1024 cells for a 1024 × 1024 grid (1025 samples a side), 256 for 1024 × 768.
fn tile_aligned((nx, ny): (usize, usize)) -> (usize, usize) {
    let (w, h) = (nx - 1, ny - 1);
    let allowed = |cells: usize| (cells / 32).max(1);
    let mut best = (w, h);
    let mut tile = 2;
    // Rounding up to a multiple of 2t adds at least as much as to a multiple of t.
    while tile <= w.max(h) {
        let (tw, th) = (w.next_multiple_of(tile), h.next_multiple_of(tile));
        if tw - w > allowed(w) || th - h > allowed(h) {
            break;
        }
        best = (tw, th);
        tile *= 2;
    }
    (best.0 + 1, best.1 + 1)
}

/// `n` positions from 0 to `length`, the last one exactly `length`.
fn axis(length: f32, n: usize) -> Vec<f32> {
    let d = (n - 1) as f64;
    (0..n)
        .map(|i| (length as f64 * i as f64 / d) as f32)
        .collect()
}

fn unit_axis(n: usize) -> Vec<f32> {
    axis(1.0, n)
}

/// Positions along one side with a frame of width `frame` around an image of `length`
/// sampled `n` times: the flat frame part in `segments`, a `ramp` up to the image edge,
/// the image samples, and the same mirrored. Each position says which image sample it is.
fn framed_axis(
    length: f32,
    n: usize,
    frame: f32,
    ramp: f32,
    segments: usize,
) -> (Vec<f32>, Vec<Option<usize>>) {
    let inner = axis(length, n);
    if frame <= 0.0 {
        return (inner, (0..n).map(Some).collect());
    }
    let flat = (frame - ramp) as f64;
    let mut pos = Vec::with_capacity(n + 2 * segments + 2);
    let mut which = Vec::with_capacity(pos.capacity());
    for s in 0..=segments {
        pos.push((flat * s as f64 / segments as f64) as f32);
        which.push(None);
    }
    for (i, u) in inner.iter().enumerate() {
        pos.push(frame + u);
        which.push(Some(i));
    }
    let right = frame as f64 + length as f64 + ramp as f64;
    for s in 0..=segments {
        pos.push((right + flat * s as f64 / segments as f64) as f32);
        which.push(None);
    }
    (pos, which)
}

/// Area-averaging taps from `src` samples to `dst` samples: each output covers
/// `src / dst` input pixels and averages them weighted by overlap.
struct Taps {
    start: Vec<u32>,
    offset: Vec<u32>,
    weight: Vec<f32>,
}

impl Taps {
    fn new(src: usize, dst: usize) -> Taps {
        let scale = src as f64 / dst as f64;
        let mut taps = Taps {
            start: Vec::with_capacity(dst),
            offset: Vec::with_capacity(dst + 1),
            weight: Vec::new(),
        };
        taps.offset.push(0);
        for i in 0..dst {
            let lo = i as f64 * scale;
            let hi = (i + 1) as f64 * scale;
            let first = (lo.floor() as usize).min(src - 1);
            let last = ((hi.ceil() as usize).max(first + 1)).min(src);
            taps.start.push(first as u32);
            for p in first..last {
                let overlap = hi.min(p as f64 + 1.0) - lo.max(p as f64);
                taps.weight.push((overlap.max(0.0) / scale) as f32);
            }
            taps.offset.push(taps.weight.len() as u32);
        }
        taps
    }

    fn of(&self, i: usize) -> (usize, &[f32]) {
        let range = self.offset[i] as usize..self.offset[i + 1] as usize;
        (self.start[i] as usize, &self.weight[range])
    }
}

/// The image area-averaged to `nx × ny` (row 0 at the top), then blurred, values in [0, 1].
fn sample(image: &Gray, nx: usize, ny: usize, sigma: f32) -> Vec<f32> {
    let (w, h) = (image.width as usize, image.height as usize);
    let tx = Taps::new(w, nx);
    let ty = Taps::new(h, ny);
    let mut rows = vec![0.0f32; h * nx];
    for y in 0..h {
        let src = &image.pixels[y * w..(y + 1) * w];
        let out = &mut rows[y * nx..(y + 1) * nx];
        for (i, o) in out.iter_mut().enumerate() {
            let (start, weights) = tx.of(i);
            let mut acc = 0.0;
            for (wgt, &p) in weights.iter().zip(&src[start..]) {
                let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
                acc += wgt * p;
            }
            *o = acc;
        }
    }
    let mut out = vec![0.0f32; ny * nx];
    for k in 0..ny {
        let (start, weights) = ty.of(k);
        let dst = &mut out[k * nx..(k + 1) * nx];
        for (j, wgt) in weights.iter().enumerate() {
            let src = &rows[(start + j) * nx..(start + j + 1) * nx];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += wgt * s;
            }
        }
    }
    drop(rows);
    if sigma > 0.0 {
        blur(&mut out, nx, ny, sigma);
    }
    for v in &mut out {
        *v = v.clamp(0.0, 1.0);
    }
    out
}

/// The normalised gaussian taps for `sigma` (radius 3σ, rounded up) and the radius.
fn gaussian_kernel(sigma: f32) -> (isize, Vec<f32>) {
    let radius = (3.0 * sigma).ceil() as isize;
    let mut kernel: Vec<f32> = (-radius..=radius)
        .map(|x| (-(x * x) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= sum);
    (radius, kernel)
}

/// Separable gaussian blur with clamped edges.
fn blur(data: &mut [f32], nx: usize, ny: usize, sigma: f32) {
    let (radius, kernel) = gaussian_kernel(sigma);
    let mut tmp = vec![0.0f32; data.len()];
    // Horizontal. Columns whose taps all lie in the row go tap by tap over the whole run,
    // so the loop runs along memory; each output still adds its taps in the same order.
    let r = radius as usize;
    // Rows no wider than the kernel have no such columns.
    let (inner_start, inner_end) = if nx > 2 * r { (r, nx - r) } else { (nx, nx) };
    for y in 0..ny {
        let row = &data[y * nx..(y + 1) * nx];
        let out = &mut tmp[y * nx..(y + 1) * nx];
        if inner_start < inner_end {
            for (j, k) in kernel.iter().enumerate() {
                let taps = &row[j..j + (inner_end - inner_start)];
                for (o, s) in out[inner_start..inner_end].iter_mut().zip(taps) {
                    *o += k * s;
                }
            }
        }
        for x in (0..inner_start).chain(inner_end..nx) {
            let mut acc = 0.0;
            for (j, k) in kernel.iter().enumerate() {
                let sx = (x as isize + j as isize - radius).clamp(0, nx as isize - 1) as usize;
                acc += k * row[sx];
            }
            out[x] = acc;
        }
    }
    // Vertical, row by row so the inner loop runs along memory.
    data.fill(0.0);
    for y in 0..ny {
        for (j, k) in kernel.iter().enumerate() {
            let sy = (y as isize + j as isize - radius).clamp(0, ny as isize - 1) as usize;
            let (dst, src) = (y * nx, sy * nx);
            for x in 0..nx {
                data[dst + x] += k * tmp[src + x];
            }
        }
    }
}

/// A sample grid in an unrolled (u, v, h) space: u along the columns, v along the rows
/// (row 0 at v = vs[0], the bottom of the image), h > 0 the height over the bottom.
struct Grid<'a> {
    us: &'a [f32],
    vs: &'a [f32],
    /// Row-major, `vs.len()` rows of `us.len()`.
    hs: &'a [f32],
    uv_s: &'a [f32],
    uv_t: &'a [f32],
    /// The bottom uses every this-many-th column (1 keeps a curved back round).
    column_stride: usize,
}

/// Ring position (counter-clockwise seen from +h, starting at (0, 0)) of a rim sample.
fn ring_index(nx: usize, ny: usize, i: usize, k: usize) -> usize {
    if k == 0 {
        i
    } else if i == nx - 1 {
        (nx - 1) + k
    } else if k == ny - 1 {
        (nx - 1) + (ny - 1) + (nx - 1 - i)
    } else {
        2 * (nx - 1) + (ny - 1) + (ny - 1 - k)
    }
}

/// Which sample columns and rows carry bottom vertices: a coarse grid (every `stride`-th
/// index plus the last), each of whose cells is triangulated on its own. Cells on the
/// outside also use every rim vertex along their outer sides.
struct BottomPlan {
    cols: Vec<usize>,
    rows: Vec<usize>,
    nx: usize,
    ny: usize,
}

/// How a bottom cell is triangulated: a fan from one corner (index into its boundary
/// polygon, which starts at the bottom-left corner) or from a new centre vertex.
#[derive(Clone, Copy)]
enum Fan {
    Corner(usize),
    Centre,
}

impl BottomPlan {
    fn new(us: &[f32], vs: &[f32], column_stride: usize) -> BottomPlan {
        /// Cell boundaries along one axis: a cell spans at most `stride` samples and at
        /// most `stride` times its narrowest sample gap, so a fan inside it has no needles
        /// even where the spacing changes (frame borders, ramps).
        fn pick(pos: &[f32], stride: usize) -> Vec<usize> {
            let stride = stride.max(1);
            let mut picked = vec![0];
            let (mut start, mut narrowest) = (0, f32::INFINITY);
            for j in 1..pos.len() {
                let gap = pos[j] - pos[j - 1];
                let narrow = narrowest.min(gap);
                if j - start > stride || pos[j] - pos[start] > stride as f32 * narrow {
                    start = j - 1;
                    picked.push(start);
                    narrowest = gap;
                } else {
                    narrowest = narrow;
                }
            }
            picked.push(pos.len() - 1);
            picked
        }
        BottomPlan {
            cols: pick(us, column_stride),
            rows: pick(vs, BOTTOM_STRIDE),
            nx: us.len(),
            ny: vs.len(),
        }
    }

    /// Rim samples strictly inside each side of cell (a, b): bottom, right, top, left.
    fn dense(&self, a: usize, b: usize) -> [usize; 4] {
        let (c0, c1) = (self.cols[a], self.cols[a + 1]);
        let (r0, r1) = (self.rows[b], self.rows[b + 1]);
        [
            if r0 == 0 { c1 - c0 - 1 } else { 0 },
            if c1 == self.nx - 1 { r1 - r0 - 1 } else { 0 },
            if r1 == self.ny - 1 { c1 - c0 - 1 } else { 0 },
            if c0 == 0 { r1 - r0 - 1 } else { 0 },
        ]
    }

    /// Boundary length of the cell and how it is fanned.
    fn shape(&self, a: usize, b: usize) -> (usize, Fan) {
        let d = self.dense(a, b);
        let len = 4 + d.iter().sum::<usize>();
        // Corner k sits between side k−1 and side k; its position in the polygon.
        let starts = [0, 1 + d[0], 2 + d[0] + d[1], 3 + d[0] + d[1] + d[2]];
        for k in 0..4 {
            if d[k] == 0 && d[(k + 3) % 4] == 0 {
                return (len, Fan::Corner(starts[k]));
            }
        }
        (len, Fan::Centre)
    }

    fn triangles(&self) -> usize {
        let mut n = 0;
        for b in 0..self.rows.len() - 1 {
            for a in 0..self.cols.len() - 1 {
                n += match self.shape(a, b) {
                    (len, Fan::Corner(_)) => len - 2,
                    (len, Fan::Centre) => len,
                };
            }
        }
        n
    }
}

/// The closed solid over `grid`: top vertices at h, bottom vertices (h = 0) under each rim
/// sample and at the inner points of a coarse grid, walls between the rims. `map` takes
/// (u, v, h) to millimetres and must preserve orientation (positive Jacobian), so the
/// counter-clockwise-from-outside winding built here in (u, v, h) survives it.
fn build_solid(grid: &Grid, map: impl Fn(f32, f32, f32) -> [f32; 3]) -> Mesh {
    let (nx, ny) = (grid.us.len(), grid.vs.len());
    let top = nx * ny;
    let ring_len = 2 * (nx + ny) - 4;
    let mut ring = Vec::with_capacity(ring_len);
    ring.extend((0..nx).map(|i| (i, 0)));
    ring.extend((1..ny).map(|k| (nx - 1, k)));
    ring.extend((0..nx - 1).rev().map(|i| (i, ny - 1)));
    ring.extend((1..ny - 1).rev().map(|k| (0, k)));
    debug_assert_eq!(ring.len(), ring_len);
    let plan = BottomPlan::new(grid.us, grid.vs, grid.column_stride);
    let (pc, pr) = (plan.cols.len(), plan.rows.len());
    let inner = (pc - 2) * (pr - 2);

    let triangle_count = triangle_count(grid.us, grid.vs, grid.column_stride) as usize;
    let vertex_count = top + ring_len + inner + 4;
    let mut positions = Vec::with_capacity(vertex_count);
    let mut uvs = Vec::with_capacity(vertex_count);
    for k in 0..ny {
        let v = grid.vs[k];
        let t = grid.uv_t[k];
        let hs = &grid.hs[k * nx..(k + 1) * nx];
        for ((&u, &h), &s) in grid.us.iter().zip(hs).zip(grid.uv_s) {
            positions.push(map(u, v, h));
            uvs.push([s, t]);
        }
    }
    for (i, k) in ring.iter().copied().chain(
        plan.rows[1..pr - 1]
            .iter()
            .flat_map(|&k| plan.cols[1..pc - 1].iter().map(move |&i| (i, k))),
    ) {
        positions.push(map(grid.us[i], grid.vs[k], 0.0));
        uvs.push([grid.uv_s[i], grid.uv_t[k]]);
    }

    let mut triangles: Vec<[u32; 3]> = Vec::with_capacity(triangle_count);
    // Top: two triangles per cell, split along the diagonal whose ends differ least so
    // steps stay crisp. Counter-clockwise seen from +h.
    for k in 0..ny - 1 {
        let (row, next) = (&grid.hs[k * nx..(k + 1) * nx], &grid.hs[(k + 1) * nx..]);
        for i in 0..nx - 1 {
            let p00 = (k * nx + i) as u32;
            let (p10, p01) = (p00 + 1, p00 + nx as u32);
            let p11 = p01 + 1;
            if (row[i] - next[i + 1]).abs() <= (row[i + 1] - next[i]).abs() {
                triangles.push([p00, p10, p11]);
                triangles.push([p00, p11, p01]);
            } else {
                triangles.push([p00, p10, p01]);
                triangles.push([p10, p11, p01]);
            }
        }
    }
    // Walls: along the ring, the outside is on the right.
    for r in 0..ring_len {
        let s = (r + 1) % ring_len;
        let (ia, ka) = ring[r];
        let (ib, kb) = ring[s];
        let (ta, tb) = ((ka * nx + ia) as u32, (kb * nx + ib) as u32);
        let (ba, bb) = ((top + r) as u32, (top + s) as u32);
        triangles.push([ba, bb, tb]);
        triangles.push([ba, tb, ta]);
    }
    // Bottom: each coarse cell's boundary polygon (counter-clockwise seen from +h, rim
    // vertices included on outer sides) fanned from a corner that is not on a side with
    // rim vertices, or from a new centre vertex; pushed reversed (the bottom faces −h).
    // Point (a, b) of the coarse grid is column plan.cols[a], row plan.rows[b].
    let bottom = |i: usize, k: usize, a: usize, b: usize| -> u32 {
        if i == 0 || k == 0 || i == nx - 1 || k == ny - 1 {
            (top + ring_index(nx, ny, i, k)) as u32
        } else {
            (top + ring_len + (b - 1) * (pc - 2) + (a - 1)) as u32
        }
    };
    let mut poly: Vec<u32> = Vec::new();
    for b in 0..pr - 1 {
        for a in 0..pc - 1 {
            let (c0, c1) = (plan.cols[a], plan.cols[a + 1]);
            let (r0, r1) = (plan.rows[b], plan.rows[b + 1]);
            let d = plan.dense(a, b);
            poly.clear();
            poly.push(bottom(c0, r0, a, b));
            if d[0] > 0 {
                poly.extend((c0 + 1..c1).map(|i| bottom(i, r0, 0, 0)));
            }
            poly.push(bottom(c1, r0, a + 1, b));
            if d[1] > 0 {
                poly.extend((r0 + 1..r1).map(|k| bottom(c1, k, 0, 0)));
            }
            poly.push(bottom(c1, r1, a + 1, b + 1));
            if d[2] > 0 {
                poly.extend((c0 + 1..c1).rev().map(|i| bottom(i, r1, 0, 0)));
            }
            poly.push(bottom(c0, r1, a, b + 1));
            if d[3] > 0 {
                poly.extend((r0 + 1..r1).rev().map(|k| bottom(c0, k, 0, 0)));
            }
            let n = poly.len();
            match plan.shape(a, b).1 {
                Fan::Corner(p) => {
                    for j in 1..n - 1 {
                        triangles.push([poly[p], poly[(p + j + 1) % n], poly[(p + j) % n]]);
                    }
                }
                Fan::Centre => {
                    let centre = positions.len() as u32;
                    let (im, km) = ((c0 + c1) / 2, (r0 + r1) / 2);
                    let u = (grid.us[c0] + grid.us[c1]) / 2.0;
                    let v = (grid.vs[r0] + grid.vs[r1]) / 2.0;
                    positions.push(map(u, v, 0.0));
                    uvs.push([grid.uv_s[im], grid.uv_t[km]]);
                    for j in 0..n {
                        triangles.push([centre, poly[(j + 1) % n], poly[j]]);
                    }
                }
            }
        }
    }
    debug_assert_eq!(triangles.len(), triangle_count);
    Mesh {
        positions,
        triangles,
        uvs: Some(uvs),
    }
}

/// The closed solid over `grid` triangulated adaptively ([`rtin`]): the top keeps every
/// sample within `max_error` in h and has the highest sample as a vertex; walls join its
/// border vertices (the rim) to the bottom, which is the coarsest triangulation of the same
/// kind with the rim as vertices. That one has no other vertex on the border (the rim is
/// already closed under the rule that adds vertices, see [`rtin`]), so top, walls and
/// bottom meet edge to edge: every top edge on the border is a wall's top edge, every
/// bottom edge on the border a wall's bottom edge. `map` as for [`build_solid`].
fn build_solid_adaptive(
    grid: &Grid,
    max_error: f32,
    map: impl Fn(f32, f32, f32) -> [f32; 3],
) -> Mesh {
    let (nx, ny) = (grid.us.len(), grid.vs.len());
    let highest = (0..grid.hs.len())
        .reduce(|a, b| if grid.hs[b] > grid.hs[a] { b } else { a })
        .unwrap_or(0);
    let mut top = rtin::triangulate(nx, ny, grid.hs, max_error, &[highest]);
    let (top_vertex, top_samples) = vertex_numbers(&top, nx * ny, 0);
    let rim: Vec<usize> = ring_samples(nx, ny)
        .filter(|&s| top_vertex[s] != UNUSED)
        .collect();
    let mut bottom = rtin::coarsest(nx, ny, &rim);
    let (bottom_vertex, bottom_samples) = vertex_numbers(&bottom, nx * ny, top_samples.len());
    debug_assert!(
        ring_samples(nx, ny).all(|s| (top_vertex[s] == UNUSED) == (bottom_vertex[s] == UNUSED))
    );

    let vertex_count = top_samples.len() + bottom_samples.len();
    let mut positions = Vec::with_capacity(vertex_count);
    let mut uvs = Vec::with_capacity(vertex_count);
    for (samples, bottom_side) in [(&top_samples, false), (&bottom_samples, true)] {
        for &sample in samples {
            let sample = sample as usize;
            let (i, k) = (sample % nx, sample / nx);
            let h = if bottom_side { 0.0 } else { grid.hs[sample] };
            positions.push(map(grid.us[i], grid.vs[k], h));
            uvs.push([grid.uv_s[i], grid.uv_t[k]]);
        }
    }
    for t in &mut top {
        *t = t.map(|s| top_vertex[s as usize]);
    }
    // The bottom faces −h: reversed.
    for t in &mut bottom {
        *t = [t[0], t[2], t[1]].map(|s| bottom_vertex[s as usize]);
    }
    let mut triangles = top;
    triangles.reserve_exact(2 * rim.len() + bottom.len());
    // Walls: along the rim (counter-clockwise seen from +h), the outside is on the right.
    for (r, &a) in rim.iter().enumerate() {
        let b = rim[(r + 1) % rim.len()];
        let (ta, tb) = (top_vertex[a], top_vertex[b]);
        let (ba, bb) = (bottom_vertex[a], bottom_vertex[b]);
        triangles.push([ba, bb, tb]);
        triangles.push([ba, tb, ta]);
    }
    triangles.append(&mut bottom);
    Mesh {
        positions,
        triangles,
        uvs: Some(uvs),
    }
}

/// Marks a sample that is not a vertex.
const UNUSED: u32 = u32::MAX;

/// For each of `samples` samples, its vertex number if `triangles` use it or [`UNUSED`],
/// and the used samples in vertex order. Vertices are numbered from `first` in order of
/// first use, so later passes over vertices and their triangles stay local in memory.
fn vertex_numbers(triangles: &[[u32; 3]], samples: usize, first: usize) -> (Vec<u32>, Vec<u32>) {
    let mut numbers = vec![UNUSED; samples];
    let mut used = Vec::new();
    for t in triangles {
        for &s in t {
            if numbers[s as usize] == UNUSED {
                numbers[s as usize] = (first + used.len()) as u32;
                used.push(s);
            }
        }
    }
    (numbers, used)
}

/// The border samples of an `nx × ny` grid (row-major indices), counter-clockwise seen
/// from +h starting at (0, 0), each once.
fn ring_samples(nx: usize, ny: usize) -> impl Iterator<Item = usize> {
    (0..nx)
        .chain((1..ny).map(move |k| k * nx + nx - 1))
        .chain((0..nx - 1).rev().map(move |i| (ny - 1) * nx + i))
        .chain((1..ny - 1).rev().map(move |k| k * nx))
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::check::facts;
    use super::*;
    use proptest::prelude::*;

    pub fn relief_settings(resolution: u32) -> ReliefSettings {
        ReliefSettings {
            width_mm: 63.0,
            base_mm: 2.0,
            max_height_mm: 9.0,
            resolution,
            smoothing: 0.0,
            invert: false,
        }
    }

    /// 64 × 64 pixels: rings of 8 pixels at 0, 1/3, 2/3, 1.
    fn stepped_pyramid() -> Gray {
        let mut pixels = Vec::new();
        for y in 0..64i32 {
            for x in 0..64i32 {
                let ring = x.min(y).min(63 - x).min(63 - y) / 8;
                pixels.push(ring.min(3) as f32 / 3.0);
            }
        }
        Gray::new(64, 64, pixels).unwrap()
    }

    #[test]
    fn stepped_pyramid_volume_and_bounds() {
        let s = relief_settings(64);
        let mesh = relief(&stepped_pyramid(), &s).unwrap();
        let f = facts(&mesh);
        assert!(f.is_closed_solid(), "{f:?}");
        // Sample i sits at x = i mm (64 samples over 63 mm); pixel i covers [i − ½, i + ½],
        // so level ℓ ≥ 1 covers the square of side 64 − 16ℓ mm and adds 3 mm on it.
        let exact = 2.0 * 63.0 * 63.0
            + (1..=3)
                .map(|l| 3.0 * ((64 - 16 * l) as f64).powi(2))
                .sum::<f64>();
        let rel = (f.volume_mm3 - exact).abs() / exact;
        assert!(
            rel < 1e-3,
            "volume {} vs exact {exact}: {rel}",
            f.volume_mm3
        );
        let [min, max] = f.bounding_box_mm;
        let want = [[0.0, 0.0, 0.0], [63.0, 63.0, 11.0]];
        for k in 0..3 {
            assert!((min[k] - want[0][k]).abs() < 0.01, "{min:?}");
            assert!((max[k] - want[1][k]).abs() < 0.01, "{max:?}");
        }
    }

    #[test]
    fn stepped_pyramid_resampled_keeps_bounds() {
        // Width 80 mm from a 64 × 32 image: depth 40 mm, height 2 + 9.
        let mut pixels = stepped_pyramid().pixels;
        pixels.truncate(64 * 32);
        let img = Gray::new(64, 32, pixels).unwrap();
        let mut s = relief_settings(200);
        s.width_mm = 80.0;
        s.smoothing = 1.5;
        let mesh = relief(&img, &s).unwrap();
        let f = facts(&mesh);
        assert!(f.is_closed_solid(), "{f:?}");
        let [min, max] = f.bounding_box_mm;
        assert_eq!(min, [0.0, 0.0, 0.0]);
        assert!((max[0] - 80.0).abs() < 0.01 && (max[1] - 40.0).abs() < 0.01);
        assert!(max[2] <= 11.0 + 1e-4);
    }

    #[test]
    fn relief_is_not_mirrored_and_has_uvs() {
        // A white pixel at the top-left, the rest black.
        let mut px = vec![0u8; 4 * 3];
        px[0] = 255;
        let img = Gray::from_luma8(4, 3, &px).unwrap();
        let mut s = relief_settings(4);
        s.width_mm = 30.0;
        let mesh = relief(&img, &s).unwrap();
        let highest = (0..mesh.positions.len())
            .max_by(|&a, &b| mesh.positions[a][2].total_cmp(&mesh.positions[b][2]))
            .unwrap();
        // Top-left of the image: smallest x, largest y, seen from +z.
        assert_eq!(mesh.positions[highest], [0.0, 22.5, 11.0]);
        assert_eq!(mesh.uvs.as_ref().unwrap()[highest], [0.0, 0.0]);
        let inverted = relief(&img, &ReliefSettings { invert: true, ..s }).unwrap();
        assert_eq!(inverted.positions[highest][2], 2.0);
    }

    #[test]
    fn lithophane_dark_is_thick_and_curves_outward() {
        // Left half black, right half white.
        let px: Vec<u8> = (0..8 * 8)
            .map(|i| if i % 8 < 4 { 0 } else { 255 })
            .collect();
        let img = Gray::from_luma8(8, 8, &px).unwrap();
        let mut s = LithophaneSettings {
            width_mm: 40.0,
            min_thickness_mm: 0.8,
            max_thickness_mm: 3.0,
            resolution: 8,
            smoothing: 0.0,
            shape: LithophaneShape::Flat,
            frame: None,
        };
        let flat = lithophane(&img, &s).unwrap();
        let f = facts(&flat);
        assert!(f.is_closed_solid(), "{f:?}");
        assert_eq!(flat.positions[0], [0.0, -3.0, 0.0]); // black bottom-left: thick
        assert_eq!(flat.positions[7], [40.0, -0.8, 0.0]); // white: thin
        assert_eq!(f.bounding_box_mm, [[0.0, -3.0, 0.0], [40.0, 0.0, 40.0]]);

        s.shape = LithophaneShape::Curved {
            angle_degrees: 90.0,
        };
        s.frame = Some(Frame {
            width_mm: 3.0,
            thickness_mm: 4.0,
        });
        let curved = lithophane(&img, &s).unwrap();
        let f = facts(&curved);
        assert!(f.is_closed_solid(), "{f:?}");
        let [min, max] = f.bounding_box_mm;
        assert!((min[2] - 0.0).abs() < 1e-4 && (max[2] - 46.0).abs() < 1e-4);
        // Symmetric about x = 0, bulging towards −y by the frame thickness.
        assert!((min[0] + max[0]).abs() < 1e-3, "{min:?} {max:?}");
        // The frame's bottom border is 4 mm thick; nearest the axis at φ ≈ ±0.11 rad.
        assert!(min[1] < -3.5 && min[1] > -4.0, "{min:?}");
        // Back radius 40 / (π/2) ≈ 25.46 mm; the frame adds 3 mm of arc on each side.
        let r = 40.0 / std::f32::consts::FRAC_PI_2;
        let half = (20.0 + 3.0) / r;
        let expect_x = (r + 4.0) * half.sin();
        assert!((max[0] - expect_x).abs() < 0.05, "{} vs {expect_x}", max[0]);
    }

    #[test]
    fn bad_settings_are_refused() {
        let img = Gray::new(2, 2, vec![0.5; 4]).unwrap();
        let s = relief_settings(64);
        let bad = |s: ReliefSettings| relief(&img, &s).unwrap_err().to_string();
        assert!(bad(ReliefSettings { width_mm: 0.0, ..s }).contains("width_mm"));
        assert!(bad(ReliefSettings { base_mm: -1.0, ..s }).contains("base_mm"));
        assert!(
            bad(ReliefSettings {
                max_height_mm: f32::NAN,
                ..s
            })
            .contains("max_height_mm")
        );
        assert!(bad(ReliefSettings { resolution: 0, ..s }).contains("resolution"));
        assert!(
            bad(ReliefSettings {
                resolution: 4097,
                ..s
            })
            .contains("resolution")
        );
        assert!(
            bad(ReliefSettings {
                smoothing: -1.0,
                ..s
            })
            .contains("smoothing")
        );
        assert!(matches!(
            relief(
                &img,
                &ReliefSettings {
                    resolution: 4096,
                    ..s
                }
            ),
            Err(MeshError::TooManyTriangles { .. })
        ));
        assert!(matches!(
            Gray::new(0, 5, vec![]),
            Err(MeshError::EmptyImage { .. })
        ));
        assert!(matches!(
            Gray::from_luma8(2, 2, &[1, 2, 3]),
            Err(MeshError::PixelCount { .. })
        ));
        let empty = Gray {
            width: 0,
            height: 0,
            pixels: vec![],
        };
        assert!(matches!(
            relief(&empty, &s),
            Err(MeshError::EmptyImage { .. })
        ));
        let l = LithophaneSettings {
            width_mm: 50.0,
            min_thickness_mm: 3.0,
            max_thickness_mm: 1.0,
            resolution: 16,
            smoothing: 0.0,
            shape: LithophaneShape::Flat,
            frame: None,
        };
        assert!(matches!(
            lithophane(&img, &l),
            Err(MeshError::ThicknessOrder { .. })
        ));
        let l = LithophaneSettings {
            min_thickness_mm: 1.0,
            max_thickness_mm: 3.0,
            shape: LithophaneShape::Curved {
                angle_degrees: 400.0,
            },
            ..l
        };
        assert!(
            lithophane(&img, &l)
                .unwrap_err()
                .to_string()
                .contains("angle")
        );
        let l = LithophaneSettings {
            shape: LithophaneShape::Curved {
                angle_degrees: 300.0,
            },
            frame: Some(Frame {
                width_mm: 10.0,
                thickness_mm: 2.0,
            }),
            ..l
        };
        assert!(matches!(
            lithophane(&img, &l),
            Err(MeshError::OutOfRange { .. })
        ));
    }

    #[test]
    fn triangle_count_matches() {
        for (nx, ny) in [
            (2, 2),
            (2, 5),
            (7, 2),
            (13, 9),
            (30, 3),
            (3, 40),
            (33, 17),
            (64, 64),
        ] {
            let hs = vec![1.0; nx * ny];
            let us = axis(10.0, nx);
            let vs = axis(5.0, ny);
            for column_stride in [1, 3, BOTTOM_STRIDE] {
                let g = Grid {
                    us: &us,
                    vs: &vs,
                    hs: &hs,
                    uv_s: &us,
                    uv_t: &vs,
                    column_stride,
                };
                let m = build_solid(&g, |u, v, h| [u, v, h]);
                assert_eq!(
                    m.triangles.len() as u64,
                    triangle_count(&us, &vs, column_stride)
                );
                let f = facts(&m);
                assert!(f.is_closed_solid(), "{nx}×{ny}: {f:?}");
                assert!((f.volume_mm3 - 50.0).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn grids_round_up_to_tiles() {
        assert_eq!(tile_aligned((1024, 1024)), (1025, 1025));
        assert_eq!(tile_aligned((1024, 768)), (1025, 769));
        assert_eq!(tile_aligned((1025, 577)), (1025, 577));
        assert_eq!(tile_aligned((65, 49)), (65, 49));
        assert_eq!(tile_aligned((40, 30)), (41, 31));
        assert_eq!(tile_aligned((2, 2)), (2, 2));
        assert_eq!(rtin::tile_size(1025, 769), 256);
        assert_eq!(rtin::tile_size(41, 31), 2);
    }

    #[test]
    fn simplified_relief_has_the_limits_of_relief() {
        let img = Gray::new(2, 2, vec![0.5; 4]).unwrap();
        let s = ReliefSettings {
            resolution: 4096,
            ..relief_settings(64)
        };
        assert_eq!(
            relief_simplified(&img, &s, 0.05).unwrap_err(),
            relief(&img, &s).unwrap_err()
        );
    }

    #[test]
    fn simplified_flat_relief_is_a_box() {
        let img = Gray::new(33, 33, vec![0.5; 33 * 33]).unwrap();
        let mut s = relief_settings(33);
        s.width_mm = 32.0;
        let mesh = relief_simplified(&img, &s, 0.0).unwrap();
        let f = facts(&mesh);
        assert!(f.is_closed_solid(), "{f:?}");
        assert_eq!(f.triangles, 12);
        assert_eq!(f.bounding_box_mm, [[0.0; 3], [32.0, 32.0, 6.5]]);
        assert!((f.volume_mm3 - 32.0 * 32.0 * 6.5).abs() < 1e-3);
    }

    #[test]
    fn simplified_relief_keeps_the_shape_of_steps() {
        // 65 × 65 pixels (one sample each, no resampling): rings of 8 at 0, 1/3, 2/3, 1.
        let px = (0..65 * 65)
            .map(|i: i32| {
                let (x, y) = (i % 65, i / 65);
                (x.min(y).min(64 - x).min(64 - y) / 8).min(3) as f32 / 3.0
            })
            .collect();
        let img = Gray::new(65, 65, px).unwrap();
        let s = relief_settings(65);
        let mesh = relief_simplified(&img, &s, 0.0).unwrap();
        let samples = ReliefSamples::new(&img, &s, tile_aligned).unwrap();
        let full = build_solid(&samples.grid(), |u, v, h| [u, v, h]);
        // Terraces merge; every sample stays on the surface.
        assert!(mesh.triangles.len() < full.triangles.len() / 3);
        assert!(largest_height_error(&samples, &mesh) <= 1e-6);
        let f = facts(&mesh);
        assert!(f.is_closed_solid(), "{f:?}");
        assert_eq!(f.bounding_box_mm, facts(&full).bounding_box_mm);
    }

    /// Largest difference in height between a sample of `samples` and the top of `mesh`
    /// above it, in grid coordinates (infinite if some sample has no top triangle above
    /// it). Top triangles are those with every vertex above z = 0; their vertices are
    /// samples, found by position.
    fn largest_height_error(samples: &ReliefSamples, mesh: &Mesh) -> f64 {
        let (nx, ny) = (samples.us.len(), samples.vs.len());
        let find = |axis: &[f32], x: f32| axis.binary_search_by(|a| a.total_cmp(&x)).unwrap();
        let mut error = vec![f64::INFINITY; nx * ny];
        for t in &mesh.triangles {
            let p = t.map(|i| mesh.positions[i as usize]);
            if p.iter().any(|q| q[2] <= 0.0) {
                continue;
            }
            let g = p.map(|q| {
                let (i, k) = (find(&samples.us, q[0]), find(&samples.vs, q[1]));
                [i as f64, k as f64, samples.hs[k * nx + i] as f64]
            });
            let area = (g[1][0] - g[0][0]) * (g[2][1] - g[0][1])
                - (g[2][0] - g[0][0]) * (g[1][1] - g[0][1]);
            let lo = [0, 1].map(|c| g[0][c].min(g[1][c]).min(g[2][c]) as usize);
            let hi = [0, 1].map(|c| g[0][c].max(g[1][c]).max(g[2][c]) as usize);
            for k in lo[1]..=hi[1] {
                for i in lo[0]..=hi[0] {
                    let (x, y) = (i as f64, k as f64);
                    let edge = |a: [f64; 3], b: [f64; 3]| {
                        ((b[0] - a[0]) * (y - a[1]) - (x - a[0]) * (b[1] - a[1])) / area
                    };
                    let w = [edge(g[1], g[2]), edge(g[2], g[0]), edge(g[0], g[1])];
                    if w.iter().all(|&c| c >= 0.0) {
                        let z = w[0] * g[0][2] + w[1] * g[1][2] + w[2] * g[2][2];
                        let e = &mut error[k * nx + i];
                        *e = e.min((z - samples.hs[k * nx + i] as f64).abs());
                    }
                }
            }
        }
        error.into_iter().fold(0.0, f64::max)
    }

    #[test]
    fn blur_is_the_clamped_sum_bit_for_bit() {
        // The sum per output in tap order, edges clamped: what `blur` computes faster.
        fn reference(data: &[f32], nx: usize, ny: usize, sigma: f32) -> Vec<f32> {
            let (radius, kernel) = gaussian_kernel(sigma);
            let tap = |i: usize, j: usize, n: usize| {
                (i as isize + j as isize - radius).clamp(0, n as isize - 1) as usize
            };
            let mut rows = vec![0.0f32; nx * ny];
            for y in 0..ny {
                for x in 0..nx {
                    let mut acc = 0.0;
                    for (j, k) in kernel.iter().enumerate() {
                        acc += k * data[y * nx + tap(x, j, nx)];
                    }
                    rows[y * nx + x] = acc;
                }
            }
            let mut out = vec![0.0f32; nx * ny];
            for y in 0..ny {
                for x in 0..nx {
                    let mut acc = 0.0;
                    for (j, k) in kernel.iter().enumerate() {
                        acc += k * rows[tap(y, j, ny) * nx + x];
                    }
                    out[y * nx + x] = acc;
                }
            }
            out
        }
        for (nx, ny, sigma) in [(3, 5, 3.0), (40, 7, 1.5), (64, 64, 1.0), (19, 2, 2.5)] {
            let data: Vec<f32> = (0..nx * ny)
                .map(|i| ((i * 7919) % 101) as f32 / 100.0)
                .collect();
            let mut fast = data.clone();
            blur(&mut fast, nx, ny, sigma);
            assert_eq!(
                fast,
                reference(&data, nx, ny, sigma),
                "{nx}×{ny}, σ {sigma}"
            );
        }
    }

    #[test]
    fn area_averaging_keeps_the_mean() {
        let px: Vec<f32> = (0..37 * 23)
            .map(|i| ((i * 7919) % 101) as f32 / 100.0)
            .collect();
        let mean = px.iter().sum::<f32>() / px.len() as f32;
        let img = Gray::new(37, 23, px).unwrap();
        for (nx, ny) in [(10, 6), (37, 23), (80, 50)] {
            let out = sample(&img, nx, ny, 0.0);
            let m = out.iter().sum::<f32>() / out.len() as f32;
            assert!((m - mean).abs() < 1e-4, "{nx}×{ny}: {m} vs {mean}");
        }
    }

    prop_compose! {
        pub fn any_image()(w in 2u32..64, h in 2u32..64)
            (pixels in proptest::collection::vec(0.0f32..=1.0, (w * h) as usize), w in Just(w), h in Just(h))
            -> Gray {
            Gray::new(w, h, pixels).unwrap()
        }
    }

    prop_compose! {
        pub fn any_relief()(width_mm in 5.0f32..200.0, base_mm in 0.3f32..5.0,
            max_height_mm in 0.1f32..20.0, resolution in 2u32..80, smoothing in prop_oneof![Just(0.0f32), 0.1f32..3.0],
            invert in any::<bool>()) -> ReliefSettings {
            ReliefSettings { width_mm, base_mm, max_height_mm, resolution, smoothing, invert }
        }
    }

    prop_compose! {
        pub fn any_lithophane()(width_mm in 10.0f32..200.0, min_t in 0.3f32..2.0, extra in 0.0f32..4.0,
            resolution in 2u32..80, smoothing in prop_oneof![Just(0.0f32), 0.1f32..3.0],
            curved in any::<bool>(), angle in 5.0f32..300.0,
            frame in proptest::option::of((0.5f32..8.0, 0.5f32..6.0))) -> LithophaneSettings {
            let mut s = LithophaneSettings {
                width_mm, min_thickness_mm: min_t, max_thickness_mm: min_t + extra, resolution, smoothing,
                shape: if curved { LithophaneShape::Curved { angle_degrees: angle } } else { LithophaneShape::Flat },
                frame: frame.map(|(w, t)| Frame { width_mm: w, thickness_mm: t }),
            };
            // Keep the arc with its frame below the limit.
            if let (LithophaneShape::Curved { angle_degrees }, Some(f)) = (s.shape, s.frame) {
                let total = angle_degrees * (1.0 + 2.0 * f.width_mm / width_mm);
                if total > MAX_TOTAL_CURVE_DEGREES {
                    s.frame = None;
                }
            }
            s
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn reliefs_are_closed_solids(img in any_image(), s in any_relief()) {
            let mesh = relief(&img, &s).unwrap();
            let f = facts(&mesh);
            prop_assert!(f.is_closed_solid(), "{:?}", f);
            let [min, max] = f.bounding_box_mm;
            let depth = s.width_mm * img.height as f32 / img.width as f32;
            prop_assert!(min[0].abs() < 0.01 && min[1].abs() < 0.01 && min[2] == 0.0);
            prop_assert!((max[0] - s.width_mm).abs() < 0.01 && (max[1] - depth).abs() < 0.01);
            prop_assert!(max[2] <= s.base_mm + s.max_height_mm + 1e-3);
            prop_assert_eq!(mesh.uvs.as_ref().map(Vec::len), Some(mesh.positions.len()));
        }

        #[test]
        fn lithophanes_are_closed_solids(img in any_image(), s in any_lithophane()) {
            let mesh = lithophane(&img, &s).unwrap();
            let f = facts(&mesh);
            prop_assert!(f.is_closed_solid(), "{:?} {:?}", s, f);
        }

        #[test]
        fn simplified_reliefs_are_closed_solids_within_the_bound(img in any_image(),
                s in any_relief(), eps in prop_oneof![Just(0.0f32), 0.0f32..2.0]) {
            let mesh = relief_simplified(&img, &s, eps).unwrap();
            let f = facts(&mesh);
            prop_assert!(f.is_closed_solid(), "{:?}", f);
            let samples = ReliefSamples::new(&img, &s, tile_aligned).unwrap();
            let full = build_solid(&samples.grid(), |u, v, h| [u, v, h]);
            prop_assert_eq!(f.bounding_box_mm, facts(&full).bounding_box_mm);
            prop_assert_eq!(mesh.uvs.as_ref().map(Vec::len), Some(mesh.positions.len()));
            let error = largest_height_error(&samples, &mesh);
            prop_assert!(error <= eps.max(1e-6) as f64 + 1e-9, "{} > {}", error, eps);
        }
    }
}
