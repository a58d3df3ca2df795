//! Test-only helpers: a closed-manifold checker, canonical forms for comparing meshes
//! read back from files, and sample masks.
#![allow(dead_code)]

use std::collections::HashMap;

use stratamake::engines::mesh::Mesh;
use stratamake::engines::mesh::contour::Mask;

/// Checks that the mesh is a closed, consistently wound, non-degenerate 2-manifold:
/// every directed edge is used exactly once and its reverse exactly once, every vertex's
/// triangles form one fan, no triangle has zero area, and the signed volume is positive.
/// Returns the signed volume (mm³).
pub fn check_closed_manifold(mesh: &Mesh) -> Result<f64, String> {
    if mesh.triangles.is_empty() {
        return Err("no triangles".into());
    }
    let n = mesh.positions.len() as u32;
    let mut directed: HashMap<(u32, u32), usize> = HashMap::new();
    for (i, t) in mesh.triangles.iter().enumerate() {
        if t.iter().any(|&v| v >= n) {
            return Err(format!("triangle {i} has an index out of range"));
        }
        if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
            return Err(format!("triangle {i} repeats a vertex"));
        }
        for k in 0..3 {
            if directed.insert((t[k], t[(k + 1) % 3]), i).is_some() {
                return Err(format!(
                    "directed edge {}->{} used twice",
                    t[k],
                    t[(k + 1) % 3]
                ));
            }
        }
    }
    for &(a, b) in directed.keys() {
        if !directed.contains_key(&(b, a)) {
            return Err(format!(
                "edge {a}->{b} has no opposite (open or inconsistent winding)"
            ));
        }
    }
    // One fan per vertex: the opposite edges of its triangles form a single cycle.
    let mut link: HashMap<u32, HashMap<u32, u32>> = HashMap::new();
    for t in &mesh.triangles {
        for k in 0..3 {
            link.entry(t[k])
                .or_default()
                .insert(t[(k + 1) % 3], t[(k + 2) % 3]);
        }
    }
    for (v, next) in &link {
        let start = *next.keys().next().expect("non-empty");
        let (mut at, mut steps) = (start, 0);
        loop {
            at = *next
                .get(&at)
                .ok_or_else(|| format!("vertex {v}: broken fan"))?;
            steps += 1;
            if at == start {
                break;
            }
            if steps > next.len() {
                return Err(format!("vertex {v}: broken fan"));
            }
        }
        if steps != next.len() {
            return Err(format!(
                "vertex {v} is non-manifold ({} fans)",
                next.len() / steps.max(1)
            ));
        }
    }
    let p = |i: u32| mesh.positions[i as usize].map(f64::from);
    let mut volume = 0.0;
    for (i, t) in mesh.triangles.iter().enumerate() {
        let [a, b, c] = t.map(p);
        let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let w = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
        let cr = [
            u[1] * w[2] - u[2] * w[1],
            u[2] * w[0] - u[0] * w[2],
            u[0] * w[1] - u[1] * w[0],
        ];
        let area2 = (cr[0] * cr[0] + cr[1] * cr[1] + cr[2] * cr[2]).sqrt();
        if area2 <= 1e-12 {
            return Err(format!("triangle {i} is degenerate"));
        }
        volume += (a[0] * cr[0] + a[1] * cr[1] + a[2] * cr[2]) / 6.0;
    }
    if volume <= 0.0 {
        return Err(format!("signed volume {volume} is not positive"));
    }
    Ok(volume)
}

/// The mesh with vertices renumbered in order of first use by the triangles (unused
/// vertices dropped), so meshes read back from files compare with the original.
pub fn canonical(mesh: &Mesh) -> Mesh {
    let mut map: HashMap<u32, u32> = HashMap::new();
    let mut out = Mesh {
        positions: Vec::new(),
        triangles: Vec::new(),
        uvs: mesh.uvs.as_ref().map(|_| Vec::new()),
    };
    for t in &mesh.triangles {
        let t = t.map(|v| {
            *map.entry(v).or_insert_with(|| {
                out.positions.push(mesh.positions[v as usize]);
                if let (Some(uvs), Some(src)) = (out.uvs.as_mut(), mesh.uvs.as_ref()) {
                    uvs.push(src[v as usize]);
                }
                (out.positions.len() - 1) as u32
            })
        });
        out.triangles.push(t);
    }
    out
}

/// Asserts same triangles (after [`canonical`]) and positions equal within `rel`
/// (relative) or `abs` (absolute) tolerance.
pub fn assert_same_mesh(original: &Mesh, read: &Mesh, rel: f32, abs: f32, check_uvs: bool) {
    let (a, b) = (canonical(original), canonical(read));
    assert_eq!(a.triangles.len(), b.triangles.len(), "triangle count");
    assert_eq!(a.triangles, b.triangles, "triangles");
    assert_eq!(a.positions.len(), b.positions.len(), "vertex count");
    for (i, (p, q)) in a.positions.iter().zip(&b.positions).enumerate() {
        for k in 0..3 {
            let tol = abs.max(rel * p[k].abs());
            assert!((p[k] - q[k]).abs() <= tol, "vertex {i}: {p:?} vs {q:?}");
        }
    }
    if check_uvs {
        let (ua, ub) = (a.uvs.expect("original uvs"), b.uvs.expect("uvs read back"));
        for (i, (p, q)) in ua.iter().zip(&ub).enumerate() {
            for k in 0..2 {
                assert!((p[k] - q[k]).abs() <= 1e-6, "uv {i}: {p:?} vs {q:?}");
            }
        }
    }
}

/// A small deterministic random generator for sample masks.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Blobs (discs and rectangles), holes cut into them, and single-pixel specks.
pub fn blob_mask(seed: u64, width: u32, height: u32) -> Mask {
    let mut rng = Lcg(seed);
    let mut cells = vec![false; (width * height) as usize];
    let shapes = 1 + rng.below(5);
    for s in 0..shapes + 3 {
        let cut = s >= shapes; // the last three shapes cut holes
        let cx = rng.below(u64::from(width)) as f64;
        let cy = rng.below(u64::from(height)) as f64;
        let r = 1.0 + rng.below(u64::from(width.max(height) / 2 + 1)) as f64;
        let disc = rng.below(2) == 0;
        let (rx, ry) = (r, 1.0 + rng.below(u64::from(height / 2 + 1)) as f64);
        for y in 0..height {
            for x in 0..width {
                let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                let inside = if disc {
                    dx * dx + dy * dy <= r * r
                } else {
                    dx.abs() <= rx && dy.abs() <= ry
                };
                if inside {
                    cells[(y * width + x) as usize] = !cut;
                }
            }
        }
    }
    for _ in 0..rng.below(6) {
        let i = rng.below(u64::from(width * height)) as usize;
        cells[i] = !cells[i];
    }
    Mask::new(width, height, cells).expect("sizes match")
}

/// Random noise with the given density (0–100 %): many saddles, specks and tiny holes.
pub fn noise_mask(seed: u64, width: u32, height: u32, percent: u64) -> Mask {
    let mut rng = Lcg(seed);
    Mask::from_fn(width, height, |_, _| rng.below(100) < percent)
}
