//! Property tests: random masks → contour → extrude always gives a closed, consistently
//! wound, non-degenerate solid of the expected volume, stays one when simplified to any
//! level of detail, and survives every file round trip.
mod mesh_common;

use mesh_common::{assert_same_mesh, check_closed_manifold};
use proptest::collection::vec;
use proptest::prelude::*;
use stratamake::engines::mesh::contour::{ContourSettings, Mask, PolygonWithHoles, trace};
use stratamake::engines::mesh::extrude::{ExtrudeError, ExtrudeSettings, extrude};
use stratamake::engines::mesh::{Mesh, read, simplify, write};

/// Discs and rectangles drawn or cut (holes) in order, then single-pixel specks flipped.
fn blob_mask() -> impl Strategy<Value = Mask> {
    (2u32..48, 2u32..48)
        .prop_flat_map(|(w, h)| {
            let shape = (
                0..w,
                0..h,
                0u32..20,
                0u32..20,
                any::<bool>(),
                prop::bool::weighted(0.35),
            );
            (Just(w), Just(h), vec(shape, 1..8), vec((0..w, 0..h), 0..10))
        })
        .prop_map(|(w, h, shapes, specks)| draw_mask(w, h, &shapes, &specks))
}

/// Large ellipses drawn or cut: long smooth outlines whose traced (Douglas–Peucker) rings
/// turn by small angles, so their walls meet at shallow creases the simplifier may slide
/// along — the masks that give a simplifier something to do.
fn smooth_mask() -> impl Strategy<Value = Mask> {
    (48u32..160, 48u32..160)
        .prop_flat_map(|(w, h)| {
            let shape = (
                0..w,
                0..h,
                8u32..80,
                8u32..80,
                Just(true),
                prop::bool::weighted(0.3),
            );
            (Just(w), Just(h), vec(shape, 1..5))
        })
        .prop_map(|(w, h, shapes)| draw_mask(w, h, &shapes, &[]))
}

/// A mask with `shapes` (centre x and y, radii x and y, disc or rectangle, drawn or cut)
/// painted in order, then the `specks` flipped.
fn draw_mask(
    w: u32,
    h: u32,
    shapes: &[(u32, u32, u32, u32, bool, bool)],
    specks: &[(u32, u32)],
) -> Mask {
    let mut cells = vec![false; (w * h) as usize];
    for &(cx, cy, rx, ry, disc, cut) in shapes {
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f64 - cx as f64, y as f64 - cy as f64);
                let (rx, ry) = (rx as f64 + 0.5, ry as f64 + 0.5);
                let inside = if disc {
                    (dx / rx).powi(2) + (dy / ry).powi(2) <= 1.0
                } else {
                    dx.abs() <= rx && dy.abs() <= ry
                };
                if inside {
                    cells[(y * w + x) as usize] = !cut;
                }
            }
        }
    }
    for &(x, y) in specks {
        let i = (y * w + x) as usize;
        cells[i] = !cells[i];
    }
    Mask::new(w, h, cells).unwrap()
}

/// Pure noise: the worst case for saddles, specks and one-pixel holes.
fn noise_mask() -> impl Strategy<Value = Mask> {
    (2u32..24, 2u32..24)
        .prop_flat_map(|(w, h)| (Just(w), Just(h), vec(any::<bool>(), (w * h) as usize)))
        .prop_map(|(w, h, cells)| Mask::new(w, h, cells).unwrap())
}

fn contour_settings() -> impl Strategy<Value = ContourSettings> {
    (0u32..6, prop_oneof![Just(0.0), 0.0f64..3.0]).prop_map(|(min_area_px, simplify_px)| {
        ContourSettings {
            min_area_px,
            simplify_px,
        }
    })
}

fn extrude_settings(mask: &Mask) -> impl Strategy<Value = ExtrudeSettings> + use<> {
    let (w, h) = (mask.width(), mask.height());
    (
        1.0f32..250.0,
        0.2f32..30.0,
        prop::option::of(0.4f32..5.0),
        0.1f32..5.0,
    )
        .prop_map(
            move |(width_mm, height_mm, base_mm, base_margin_mm)| ExtrudeSettings {
                mask_width_px: w,
                mask_height_px: h,
                width_mm,
                height_mm,
                base_mm,
                base_margin_mm,
            },
        )
}

/// `PROPTEST_CASES` overrides the default number of cases.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn polygon_area_px(polygons: &[PolygonWithHoles]) -> f64 {
    polygons.iter().map(PolygonWithHoles::area).sum()
}

/// Extrudes and checks the solid; returns the mesh (None when nothing was traced).
fn extrude_and_check(
    mask: &Mask,
    contour: &ContourSettings,
    settings: &ExtrudeSettings,
) -> Result<Option<Mesh>, TestCaseError> {
    let polygons = trace(mask, contour);
    if polygons.is_empty() {
        prop_assert!(matches!(
            extrude(&polygons, settings),
            Err(ExtrudeError::Empty)
        ));
        return Ok(None);
    }
    let mesh = extrude(&polygons, settings).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let volume = check_closed_manifold(&mesh).map_err(TestCaseError::fail)?;
    prop_assert_eq!(mesh.uvs.as_ref().map(Vec::len), Some(mesh.positions.len()));

    let scale = settings.scale();
    let shapes = polygon_area_px(&polygons) * scale * scale * f64::from(settings.height_mm);
    let expected = match settings.base_mm {
        None => shapes,
        Some(base) => {
            let xs = mesh.positions.iter().map(|p| f64::from(p[0]));
            let ys = mesh.positions.iter().map(|p| f64::from(p[1]));
            let w = xs.clone().fold(f64::MIN, f64::max) - xs.fold(f64::MAX, f64::min);
            let d = ys.clone().fold(f64::MIN, f64::max) - ys.fold(f64::MAX, f64::min);
            shapes + w * d * f64::from(base)
        }
    };
    prop_assert!(
        (volume - expected).abs() <= 1e-4 * expected,
        "volume {} expected {}",
        volume,
        expected
    );
    // Everything within the mask's footprint (plus the plate's margin).
    let half_w = f64::from(settings.width_mm) / 2.0;
    let half_d = half_w * f64::from(mask.height()) / f64::from(mask.width());
    let margin = settings
        .base_mm
        .map_or(0.0, |_| f64::from(settings.base_margin_mm))
        + 1e-3;
    for p in &mesh.positions {
        prop_assert!(f64::from(p[0]).abs() <= half_w + margin);
        prop_assert!(f64::from(p[1]).abs() <= half_d + margin);
    }
    Ok(Some(mesh))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn blob_masks_extrude_to_closed_solids(
        (mask, contour, settings) in blob_mask().prop_flat_map(|m| {
            let s = extrude_settings(&m);
            (Just(m), contour_settings(), s)
        })
    ) {
        extrude_and_check(&mask, &contour, &settings)?;
    }

    #[test]
    fn noise_masks_extrude_to_closed_solids(
        (mask, contour, settings) in noise_mask().prop_flat_map(|m| {
            let s = extrude_settings(&m);
            (Just(m), contour_settings(), s)
        })
    ) {
        extrude_and_check(&mask, &contour, &settings)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), ..ProptestConfig::default() })]

    #[test]
    fn extruded_meshes_survive_every_format(
        (mask, contour, settings) in blob_mask().prop_flat_map(|m| {
            let s = extrude_settings(&m);
            (Just(m), contour_settings(), s)
        })
    ) {
        let Some(mesh) = extrude_and_check(&mask, &contour, &settings)? else { return Ok(()) };
        let stl = read::stl(&write::stl(&mesh, "p")).unwrap();
        // STL facet order may start elsewhere (see write::stl); compare as sets.
        prop_assert_eq!(sorted_triangles(&stl), sorted_triangles(&mesh));
        let (obj, _) = write::obj(&mesh, "p");
        assert_same_mesh(&mesh, &read::obj(&obj).unwrap(), 0.0, 0.0, true);
        assert_same_mesh(&mesh, &read::three_mf(&write::three_mf(&mesh, "p")).unwrap(), 0.0, 0.0, false);
        let glb = read::gltf(&write::glb(&mesh, None, "p")).unwrap();
        assert_same_mesh(&mesh, &glb, 4.0 * f32::EPSILON, 1e-9, true);
        check_closed_manifold(&glb).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    /// What the product hands out for a silhouette: the extrusion simplified to a level of
    /// detail (sometimes also to a triangle target) is still a closed, consistently wound
    /// 2-manifold, judged by the independent checker, with at most as many triangles, the
    /// same bounding box and a volume close to the original's.
    #[test]
    fn simplified_extrusions_stay_closed_manifold_and_consistently_wound(
        (mask, contour, settings) in prop_oneof![2 => smooth_mask(), 1 => blob_mask(), 1 => noise_mask()]
            .prop_flat_map(|m| {
            let s = extrude_settings(&m);
            // Mostly simplified outlines: traced stair steps turn by 45° or more everywhere.
            let contour = prop_oneof![1 => contour_settings(), 3 => (0u32..6, 0.3f64..2.5)
                .prop_map(|(min_area_px, simplify_px)| ContourSettings { min_area_px, simplify_px })];
            (Just(m), contour, s)
        }),
        lod in prop_oneof![1 => Just(Lod::Mm(0.0)), 1 => Just(Lod::Mm(0.05)),
            1 => (0.0f32..2.0).prop_map(Lod::Mm), 4 => (0.0f32..40.0).prop_map(Lod::Pixels)],
        target in prop_oneof![3 => Just(0usize), 1 => 0usize..400],
    ) {
        let Some(mesh) = extrude_and_check(&mask, &contour, &settings)? else { return Ok(()) };
        let max_error_mm = match lod {
            Lod::Mm(mm) => mm,
            Lod::Pixels(px) => px * settings.scale() as f32,
        };
        let before = check_closed_manifold(&mesh).map_err(TestCaseError::fail)?;
        let (out, stats) = simplify::simplify_with_stats(&mesh, target, max_error_mm);
        prop_assert!(stats.input_closed);
        let after = check_closed_manifold(&out)
            .map_err(|e| TestCaseError::fail(format!("simplified ({stats:?}): {e}")))?;
        prop_assert!(out.triangles.len() <= mesh.triangles.len());
        prop_assert_eq!(out.bounds(), mesh.bounds());
        prop_assert_eq!(out.uvs.as_ref().map(Vec::len), Some(out.positions.len()));
        // Every surface point moves by at most max_error_mm (sampled bound, see simplify),
        // so the volume changes by at most about that times the area; a loose check that
        // nothing was cut away or turned inside out.
        let area: f64 = (0..mesh.triangles.len())
            .map(|t| triangle_area(&mesh, t))
            .sum();
        let slack = 2.0 * area * f64::from(max_error_mm.max(1e-6)) + 1e-6 * before;
        prop_assert!(
            (after - before).abs() <= slack,
            "volume {} -> {} (allowed ±{})",
            before,
            after,
            slack
        );
    }
}

/// A level of detail: in millimetres as the API takes it (0 to 2), or in pixels of the
/// mask. Outline vertices are corners (kept) unless the outline turns by less than 40°
/// there, which takes a smooth, long outline, and removing one moves the wall by several
/// pixels: errors of up to tens of pixels (2 mm on a 10 mm wide, 512-sample silhouette is
/// 100) are what make the simplifier work on extrusions.
#[derive(Debug, Clone, Copy)]
enum Lod {
    Mm(f32),
    Pixels(f32),
}

fn triangle_area(mesh: &Mesh, t: usize) -> f64 {
    let [a, b, c] = mesh.triangles[t].map(|i| mesh.positions[i as usize].map(f64::from));
    let (u, w) = (
        [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
        [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
    );
    let cross = [
        u[1] * w[2] - u[2] * w[1],
        u[2] * w[0] - u[0] * w[2],
        u[0] * w[1] - u[1] * w[0],
    ];
    (cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]).sqrt() / 2.0
}

/// Triangles as position triples, each rotated to start at its smallest vertex, sorted.
fn sorted_triangles(mesh: &Mesh) -> Vec<[[u32; 3]; 3]> {
    let mut out: Vec<[[u32; 3]; 3]> = mesh
        .triangles
        .iter()
        .map(|t| {
            let p = t.map(|i| mesh.positions[i as usize].map(f32::to_bits));
            let k = (0..3).min_by_key(|&k| p[k]).unwrap();
            [p[k], p[(k + 1) % 3], p[(k + 2) % 3]]
        })
        .collect();
    out.sort();
    out
}

/// Found by proptest: simplifying moved a hole out of its shape without any crossing.
#[test]
fn regression_simplified_hole_stays_inside() {
    let rows = [
        "............",
        ".#.....#....",
        ".####.#.####",
        ".#####..##.#",
        "##.#.#.###.#",
        "..#.#.##.###",
        "#.##..#.#.##",
        "##.#.......#",
        "####.##..#..",
        ".......###.#",
        "..###.######",
        "#.##.##..###",
        "#.....######",
    ];
    let mask = Mask::from_fn(12, 13, |x, y| {
        rows[y as usize].as_bytes()[x as usize] == b'#'
    });
    let contour = ContourSettings {
        min_area_px: 0,
        simplify_px: 2.851904926453238,
    };
    let settings = ExtrudeSettings::new(12, 13, 1.0, 0.2);
    extrude_and_check(&mask, &contour, &settings).unwrap();
}
