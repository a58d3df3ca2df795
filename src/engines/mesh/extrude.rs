//! Extrusion of 2D outlines into one closed solid: triangulated top and bottom caps
//! (constrained Delaunay, no added points), side walls, and an optional rectangular base
//! plate, all sharing vertices so the result is a closed 2-manifold with outward
//! counter-clockwise triangles.
//!
//! Frame: outlines come in the pixel units of [`crate::engines::mesh::contour`] (y up, the mask
//! covering `[0, mask_width_px] × [0, mask_height_px]`). The mask's width becomes
//! `width_mm` and its height follows the aspect ratio; the model is centred on the mask's
//! centre in x and y and stands on z = 0 with +z up. Seen from above the model reads like
//! the image (image x → +x, image row 0 → largest y), not mirrored.
//!
//! Which area is solid follows the even–odd rule over all rings, so neither ring
//! orientation nor the grouping of holes matters here. Rings must be simple and must not
//! cross or touch each other; [`ExtrudeError::InvalidOutline`] says so otherwise
//! (outlines from [`crate::engines::mesh::contour::trace`] always qualify).
//!
//! UVs: every vertex gets the image coordinate above or below it (u right, v down, origin
//! at the image's top-left, as in glTF), so the source image can texture the top.

use std::collections::HashSet;

use spade::handles::FixedVertexHandle;
use spade::{ConstrainedDelaunayTriangulation, Point2, Triangulation};

use super::Mesh;
use super::contour::{PolygonWithHoles, face_parity};

/// Sizes of the extruded model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtrudeSettings {
    /// Width of the mask the outlines were traced from, in pixels.
    pub mask_width_px: u32,
    /// Height of that mask, in pixels.
    pub mask_height_px: u32,
    /// The mask's width in the model; its depth (y) follows the mask's aspect ratio.
    pub width_mm: f32,
    /// Height of the shapes, measured from the top of the base plate when there is one.
    pub height_mm: f32,
    /// Thickness of a base plate under everything, or `None` for no plate. The plate is
    /// the bounding rectangle of all outlines grown by `base_margin_mm` on every side;
    /// the shapes stand on it, and holes in the shapes show the plate's top.
    pub base_mm: Option<f32>,
    /// How far the base plate reaches beyond the outlines (must be > 0 with a plate).
    pub base_margin_mm: f32,
}

impl ExtrudeSettings {
    /// Settings without a base plate (a plate, when later set, gets a 2 mm margin).
    pub fn new(mask_width_px: u32, mask_height_px: u32, width_mm: f32, height_mm: f32) -> Self {
        ExtrudeSettings {
            mask_width_px,
            mask_height_px,
            width_mm,
            height_mm,
            base_mm: None,
            base_margin_mm: 2.0,
        }
    }

    /// Millimetres per pixel.
    pub fn scale(&self) -> f64 {
        f64::from(self.width_mm) / f64::from(self.mask_width_px)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtrudeError {
    #[error("invalid extrusion settings: {0}")]
    Settings(&'static str),
    #[error("there is no outline to extrude")]
    Empty,
    #[error("invalid outline: {0}")]
    InvalidOutline(String),
    #[error("triangulation failed: {0}")]
    Triangulation(String),
}

/// Where an outline point's two vertices sit.
#[derive(Clone, Copy)]
struct Levels {
    low: f32,
    high: f32,
}

/// Extrudes the outlines into one closed solid (see the module documentation).
pub fn extrude(
    polygons: &[PolygonWithHoles],
    settings: &ExtrudeSettings,
) -> Result<Mesh, ExtrudeError> {
    check_settings(settings)?;
    let scale = settings.scale();
    let (half_w, half_h) = (
        f64::from(settings.mask_width_px) / 2.0,
        f64::from(settings.mask_height_px) / 2.0,
    );
    let to_mm = |p: [f64; 2]| -> [f32; 2] {
        [
            ((p[0] - half_w) * scale) as f32,
            ((p[1] - half_h) * scale) as f32,
        ]
    };

    // Every ring as a list of 2D points in millimetres (rounded to f32 once, so that the
    // triangulation decides on exactly the coordinates the mesh will have).
    let mut rings: Vec<Vec<[f32; 2]>> = Vec::new();
    for polygon in polygons {
        for ring in std::iter::once(&polygon.outer).chain(&polygon.holes) {
            let mut points: Vec<[f32; 2]> = Vec::with_capacity(ring.len());
            for &p in ring {
                if !(p[0].is_finite() && p[1].is_finite()) {
                    return Err(ExtrudeError::InvalidOutline("a point is not finite".into()));
                }
                let q = to_mm(p);
                if points.last() != Some(&q) {
                    points.push(q);
                }
            }
            while points.len() > 1 && points.first() == points.last() {
                points.pop();
            }
            if points.len() < 3 {
                return Err(ExtrudeError::InvalidOutline(
                    "a ring has fewer than three distinct points".into(),
                ));
            }
            rings.push(points);
        }
    }
    if rings.is_empty() {
        return Err(ExtrudeError::Empty);
    }

    let height = settings.height_mm;
    let shape_levels = match settings.base_mm {
        Some(base) => Levels {
            low: base,
            high: base + height,
        },
        None => Levels {
            low: 0.0,
            high: height,
        },
    };
    let mut levels: Vec<Levels> = Vec::new();
    let mut points: Vec<[f32; 2]> = Vec::new();
    let mut edges: Vec<[usize; 2]> = Vec::new();
    for ring in &rings {
        let first = points.len();
        for k in 0..ring.len() {
            edges.push([first + k, first + (k + 1) % ring.len()]);
        }
        points.extend_from_slice(ring);
        levels.extend(std::iter::repeat_n(shape_levels, ring.len()));
    }
    let plate = settings.base_mm.map(|base| {
        let margin = settings.base_margin_mm;
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in &points {
            for a in 0..2 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        let first = points.len();
        let corners = [
            [lo[0] - margin, lo[1] - margin],
            [hi[0] + margin, lo[1] - margin],
            [hi[0] + margin, hi[1] + margin],
            [lo[0] - margin, hi[1] + margin],
        ];
        for k in 0..4 {
            edges.push([first + k, first + (k + 1) % 4]);
        }
        points.extend_from_slice(&corners);
        levels.extend(std::iter::repeat_n(
            Levels {
                low: 0.0,
                high: base,
            },
            4,
        ));
        first
    });

    let cdt = triangulate(&points, &edges)?;
    let inside = face_parity(&cdt);
    let n = points.len() as u32;

    let mut mesh = Mesh {
        positions: Vec::with_capacity(2 * points.len()),
        triangles: Vec::new(),
        uvs: None,
    };
    let mut uvs = Vec::with_capacity(2 * points.len());
    let (mask_w, mask_h) = (
        f64::from(settings.mask_width_px),
        f64::from(settings.mask_height_px),
    );
    for pass in 0..2 {
        for (p, l) in points.iter().zip(&levels) {
            let z = if pass == 0 { l.low } else { l.high };
            mesh.positions.push([p[0], p[1], z]);
            let u = f64::from(p[0]) / scale / mask_w + 0.5;
            let v = 0.5 - f64::from(p[1]) / scale / mask_h;
            uvs.push([u as f32, v as f32]);
        }
    }
    mesh.uvs = Some(uvs);
    let low = |i: usize| i as u32;
    let high = |i: usize| i as u32 + n;
    let is_corner = |i: usize| plate.is_some_and(|first| i >= first);

    // Caps.
    for face in cdt.inner_faces() {
        let [a, b, c] = face.vertices().map(|v| v.fix().index());
        let odd = inside[face.fix().index()];
        match plate {
            None if odd => {
                mesh.triangles.push([high(a), high(b), high(c)]);
                mesh.triangles.push([low(a), low(c), low(b)]);
            }
            None => {}
            Some(_) if odd => {
                // The plate's top, between the shapes: z = base for every point there.
                let at_base = |i: usize| if is_corner(i) { high(i) } else { low(i) };
                mesh.triangles.push([at_base(a), at_base(b), at_base(c)]);
            }
            Some(_) => mesh.triangles.push([high(a), high(b), high(c)]),
        }
    }
    if let Some(first) = plate {
        let c = |k: usize| low(first + k);
        mesh.triangles.push([c(0), c(2), c(1)]);
        mesh.triangles.push([c(0), c(3), c(2)]);
    }

    // Walls: solid on the left of a → b, so the outside is on the right.
    for &[a, b] in &edges {
        let edge = cdt
            .get_edge_from_neighbors(
                FixedVertexHandle::from_index(a),
                FixedVertexHandle::from_index(b),
            )
            .ok_or_else(|| ExtrudeError::Triangulation("an outline edge went missing".into()))?;
        let left_odd = edge.face().as_inner().is_some_and(|f| inside[f.index()]);
        // Without a plate the solid is the odd region; with one, the shapes (the raised
        // part) are the even region inside the plate, and the plate's own rim has the
        // plate (odd) on its inner side.
        let solid_left = match plate {
            None => left_odd,
            Some(_) if is_corner(a) => left_odd,
            Some(_) => !left_odd,
        };
        let (a, b) = if solid_left { (a, b) } else { (b, a) };
        mesh.triangles.push([low(a), low(b), high(b)]);
        mesh.triangles.push([low(a), high(b), high(a)]);
    }
    Ok(mesh)
}

fn check_settings(s: &ExtrudeSettings) -> Result<(), ExtrudeError> {
    let positive = |v: f32| v.is_finite() && v > 0.0;
    if s.mask_width_px == 0 || s.mask_height_px == 0 {
        return Err(ExtrudeError::Settings("the mask has no pixels"));
    }
    if !positive(s.width_mm) {
        return Err(ExtrudeError::Settings("width_mm must be positive"));
    }
    if !positive(s.height_mm) {
        return Err(ExtrudeError::Settings("height_mm must be positive"));
    }
    if let Some(base) = s.base_mm {
        if !positive(base) {
            return Err(ExtrudeError::Settings("base_mm must be positive"));
        }
        if !positive(s.base_margin_mm) {
            return Err(ExtrudeError::Settings("base_margin_mm must be positive"));
        }
    }
    Ok(())
}

type Cdt = ConstrainedDelaunayTriangulation<Point2<f64>>;

/// Triangulates the points with every edge as a constraint, and checks that the result
/// contains every point once and every edge whole (no crossing, touching or overlapping
/// outlines).
fn triangulate(points: &[[f32; 2]], edges: &[[usize; 2]]) -> Result<Cdt, ExtrudeError> {
    let mut seen = HashSet::with_capacity(points.len());
    for p in points {
        if !seen.insert([p[0].to_bits(), p[1].to_bits()]) {
            return Err(ExtrudeError::InvalidOutline(format!(
                "outlines share the point ({}, {}) mm",
                p[0], p[1]
            )));
        }
    }
    let vertices: Vec<Point2<f64>> = points
        .iter()
        .map(|p| Point2::new(f64::from(p[0]), f64::from(p[1])))
        .collect();
    let mut conflicts = 0usize;
    let cdt = Cdt::try_bulk_load_cdt(vertices, edges.to_vec(), |_| conflicts += 1)
        .map_err(|e| ExtrudeError::Triangulation(format!("{e:?}")))?;
    if conflicts > 0 {
        return Err(ExtrudeError::InvalidOutline(format!(
            "{conflicts} outline edge(s) cross other outline edges"
        )));
    }
    if cdt.num_vertices() != points.len() {
        return Err(ExtrudeError::Triangulation("points were merged".into()));
    }
    for &[a, b] in edges {
        if !cdt.exists_constraint(
            FixedVertexHandle::from_index(a),
            FixedVertexHandle::from_index(b),
        ) {
            let p = points[a];
            return Err(ExtrudeError::InvalidOutline(format!(
                "the outline edge from ({}, {}) mm touches another outline",
                p[0], p[1]
            )));
        }
    }
    Ok(cdt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::mesh::contour::{ContourSettings, Mask, trace};
    use std::collections::HashMap;

    /// Closed, consistently wound, non-degenerate; returns the signed volume.
    fn check_solid(mesh: &Mesh) -> f64 {
        let mut directed: HashMap<(u32, u32), u32> = HashMap::new();
        for t in &mesh.triangles {
            for k in 0..3 {
                *directed.entry((t[k], t[(k + 1) % 3])).or_default() += 1;
            }
        }
        for (&(a, b), &count) in &directed {
            assert_eq!(count, 1, "edge {a}->{b} used {count} times");
            assert_eq!(directed.get(&(b, a)), Some(&1), "edge {a}->{b} has no twin");
        }
        let p = |i: u32| mesh.positions[i as usize].map(f64::from);
        let mut volume = 0.0;
        for t in &mesh.triangles {
            let [a, b, c] = t.map(p);
            let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
            let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
            let n = [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ];
            assert!(n.iter().any(|&x| x != 0.0), "degenerate triangle {t:?}");
            volume += (a[0] * n[0] + a[1] * n[1] + a[2] * n[2]) / 6.0;
        }
        volume
    }

    fn square_polygon() -> PolygonWithHoles {
        PolygonWithHoles {
            outer: vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]],
            holes: vec![vec![[3.0, 3.0], [3.0, 7.0], [7.0, 7.0], [7.0, 3.0]]],
        }
    }

    #[test]
    fn square_with_hole_has_the_right_volume() {
        let settings = ExtrudeSettings::new(10, 10, 20.0, 5.0);
        let mesh = extrude(&[square_polygon()], &settings).unwrap();
        let volume = check_solid(&mesh);
        assert!((volume - (400.0 - 64.0) * 5.0).abs() < 1e-6, "{volume}");
        assert_eq!(mesh.positions.len(), 16);
        assert_eq!(mesh.uvs.as_ref().unwrap().len(), 16);
        // Centred: x and y span -10..10.
        let xs: Vec<f32> = mesh.positions.iter().map(|p| p[0]).collect();
        assert_eq!(xs.iter().cloned().fold(f32::MAX, f32::min), -10.0);
        assert_eq!(xs.iter().cloned().fold(f32::MIN, f32::max), 10.0);
    }

    #[test]
    fn orientation_of_input_rings_does_not_matter() {
        let mut p = square_polygon();
        p.outer.reverse();
        p.holes[0].reverse();
        let settings = ExtrudeSettings::new(10, 10, 20.0, 5.0);
        let volume = check_solid(&extrude(&[p], &settings).unwrap());
        assert!((volume - 336.0 * 5.0).abs() < 1e-6);
    }

    #[test]
    fn base_plate_joins_everything() {
        let mut settings = ExtrudeSettings::new(10, 10, 10.0, 3.0);
        settings.base_mm = Some(2.0);
        settings.base_margin_mm = 1.0;
        let mesh = extrude(&[square_polygon()], &settings).unwrap();
        let volume = check_solid(&mesh);
        // Plate 12 x 12 x 2 plus the shape (100 - 16) x 3.
        assert!((volume - (288.0 + 84.0 * 3.0)).abs() < 1e-4, "{volume}");
        let zmax = mesh.positions.iter().map(|p| p[2]).fold(0.0, f32::max);
        assert_eq!(zmax, 5.0);
    }

    #[test]
    fn image_top_is_far_y_and_not_mirrored() {
        // An L: the long stroke on the left, the foot at the bottom of the image.
        let mask = Mask::from_fn(4, 6, |x, y| x == 0 || y == 5);
        let polys = trace(
            &mask,
            &ContourSettings {
                min_area_px: 0,
                simplify_px: 0.0,
            },
        );
        let mesh = extrude(&polys, &ExtrudeSettings::new(4, 6, 4.0, 1.0)).unwrap();
        check_solid(&mesh);
        // The top-left pixel (row 0, column 0) is at x < 0, y > 0.
        assert!(mesh.positions.iter().any(|p| p[0] < -1.0 && p[1] > 2.4));
        // Nothing at the top right.
        assert!(!mesh.positions.iter().any(|p| p[0] > 0.0 && p[1] > 0.0));
        // UV of the point nearest the image's top-left corner is near (0, 0).
        let uvs = mesh.uvs.as_ref().unwrap();
        let i = (0..mesh.positions.len())
            .min_by(|&a, &b| {
                let d = |i: usize| {
                    (mesh.positions[i][0] + 2.0).powi(2) + (mesh.positions[i][1] - 3.0).powi(2)
                };
                d(a).partial_cmp(&d(b)).unwrap()
            })
            .unwrap();
        assert!(uvs[i][0] < 0.2 && uvs[i][1] < 0.2, "{:?}", uvs[i]);
    }

    #[test]
    fn crossing_outlines_are_refused() {
        let bow = PolygonWithHoles {
            outer: vec![[0.0, 0.0], [4.0, 4.0], [4.0, 0.0], [0.0, 4.0]],
            holes: vec![],
        };
        let err = extrude(&[bow], &ExtrudeSettings::new(4, 4, 4.0, 1.0)).unwrap_err();
        assert!(matches!(err, ExtrudeError::InvalidOutline(_)), "{err}");
        let touching = vec![
            PolygonWithHoles {
                outer: vec![[0.0, 0.0], [2.0, 0.0], [2.0, 2.0]],
                holes: vec![],
            },
            PolygonWithHoles {
                outer: vec![[2.0, 2.0], [4.0, 2.0], [4.0, 4.0]],
                holes: vec![],
            },
        ];
        assert!(extrude(&touching, &ExtrudeSettings::new(4, 4, 4.0, 1.0)).is_err());
        assert!(matches!(
            extrude(&[], &ExtrudeSettings::new(4, 4, 4.0, 1.0)),
            Err(ExtrudeError::Empty)
        ));
        assert!(matches!(
            extrude(&[square_polygon()], &ExtrudeSettings::new(4, 4, 4.0, 0.0)),
            Err(ExtrudeError::Settings(_))
        ));
    }
}
