//! Facts about a mesh that every later stage relies on: closed (watertight), 2-manifold,
//! consistently wound, signed volume, bounds and degenerate triangles.
//!
//! Topology is checked on **indices**, not on positions: two vertices at the same place
//! with different indices are different vertices, so a triangle soup (e.g. a freshly read
//! STL) is reported open. Weld it first with [`Mesh::welded`]. Every generator in this
//! folder shares vertices between the triangles that meet, so the check is meaningful on
//! their output as is.

use serde::Serialize;

use super::Mesh;

/// A triangle is degenerate when its height is below this fraction of its longest edge
/// (2·area < ratio·longest²), when it repeats an index, or when an index is out of range.
pub const DEGENERATE_RATIO: f64 = 1e-6;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshFacts {
    pub triangles: usize,
    pub vertices: usize,
    /// Every edge is shared by exactly two triangles (and the mesh is not empty).
    pub watertight: bool,
    /// Every edge has at most two triangles and the triangles around every vertex form one
    /// fan (closed, or open at a boundary). A watertight manifold is a closed surface.
    pub manifold: bool,
    /// No edge is used twice in the same direction: each shared edge is used once in each
    /// direction, so all triangles face the same side.
    pub consistent_winding: bool,
    /// Signed volume by the divergence theorem; positive when the winding points outward.
    pub volume_mm3: f64,
    pub bounding_box_mm: [[f32; 3]; 2],
    pub degenerate_triangles: usize,
}

impl MeshFacts {
    pub fn volume_cm3(&self) -> f64 {
        self.volume_mm3 / 1000.0
    }

    /// A printable solid: closed, 2-manifold, consistently and outward wound, no degenerate
    /// triangles.
    pub fn is_closed_solid(&self) -> bool {
        self.watertight
            && self.manifold
            && self.consistent_winding
            && self.volume_mm3 > 0.0
            && self.degenerate_triangles == 0
    }
}

/// Whether the triangle `a b c` is degenerate by [`DEGENERATE_RATIO`].
pub fn is_degenerate(a: [f32; 3], b: [f32; 3], c: [f32; 3]) -> bool {
    let d = |p: [f32; 3], q: [f32; 3]| {
        [
            q[0] as f64 - p[0] as f64,
            q[1] as f64 - p[1] as f64,
            q[2] as f64 - p[2] as f64,
        ]
    };
    let (e0, e1, e2) = (d(a, b), d(b, c), d(c, a));
    let len2 = |e: [f64; 3]| e[0] * e[0] + e[1] * e[1] + e[2] * e[2];
    let longest = len2(e0).max(len2(e1)).max(len2(e2));
    let n = [
        e0[1] * e1[2] - e0[2] * e1[1],
        e0[2] * e1[0] - e0[0] * e1[2],
        e0[0] * e1[1] - e0[1] * e1[0],
    ];
    let twice_area = len2(n).sqrt();
    // Written so that NaN counts as degenerate.
    let fine = longest > 0.0 && twice_area > DEGENERATE_RATIO * longest;
    !fine
}

/// Compute the facts of `mesh` (topology on indices, see the module doc).
pub fn facts(mesh: &Mesh) -> MeshFacts {
    let n = mesh.positions.len();
    let mut degenerate = 0usize;
    let mut volume = 0.0f64;
    // Triangles whose indices are out of range or repeated cannot be part of a surface.
    let mut topology_ok = !mesh.triangles.is_empty();
    // Directed edges keyed by (min, max); `forward` says whether it runs min -> max.
    let mut edges: Vec<(u64, bool)> = Vec::with_capacity(mesh.triangles.len() * 3);
    for t in &mesh.triangles {
        if t.iter().any(|&i| i as usize >= n) || t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
            degenerate += 1;
            topology_ok = false;
            continue;
        }
        let p = t.map(|i| mesh.positions[i as usize]);
        if is_degenerate(p[0], p[1], p[2]) {
            degenerate += 1;
        }
        let q = p.map(|v| v.map(f64::from));
        volume += (q[0][0] * (q[1][1] * q[2][2] - q[1][2] * q[2][1])
            - q[0][1] * (q[1][0] * q[2][2] - q[1][2] * q[2][0])
            + q[0][2] * (q[1][0] * q[2][1] - q[1][1] * q[2][0]))
            / 6.0;
        for k in 0..3 {
            let (a, b) = (t[k], t[(k + 1) % 3]);
            let key = ((a.min(b) as u64) << 32) | a.max(b) as u64;
            edges.push((key, a < b));
        }
    }
    edges.sort_unstable();

    let mut watertight = topology_ok;
    let mut edge_manifold = topology_ok;
    let mut consistent = topology_ok;
    let mut i = 0;
    while i < edges.len() {
        let mut j = i;
        let mut forward = 0;
        while j < edges.len() && edges[j].0 == edges[i].0 {
            forward += edges[j].1 as usize;
            j += 1;
        }
        let count = j - i;
        let backward = count - forward;
        watertight &= count == 2;
        edge_manifold &= count <= 2;
        consistent &= forward <= 1 && backward <= 1;
        i = j;
    }
    drop(edges);

    let manifold = edge_manifold && topology_ok && vertex_fans_ok(mesh);

    MeshFacts {
        triangles: mesh.triangles.len(),
        vertices: n,
        watertight,
        manifold,
        consistent_winding: consistent,
        volume_mm3: volume,
        bounding_box_mm: mesh.bounds(),
        degenerate_triangles: degenerate,
    }
}

/// Every vertex's triangles form one fan: the edges opposite the vertex (its link) are
/// connected. Assumes indices are valid and not repeated.
fn vertex_fans_ok(mesh: &Mesh) -> bool {
    let n = mesh.positions.len();
    let mut offsets = vec![0u32; n + 1];
    for t in &mesh.triangles {
        for &i in t {
            offsets[i as usize + 1] += 1;
        }
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut incident = vec![0u32; mesh.triangles.len() * 3];
    for (ti, t) in mesh.triangles.iter().enumerate() {
        for &i in t {
            incident[fill[i as usize] as usize] = ti as u32;
            fill[i as usize] += 1;
        }
    }
    drop(fill);

    let mut link: Vec<[u32; 2]> = Vec::new();
    let mut ids: Vec<u32> = Vec::new();
    let mut parent: Vec<usize> = Vec::new();
    for v in 0..n {
        let range = offsets[v] as usize..offsets[v + 1] as usize;
        if range.len() < 2 {
            // An unused vertex is no problem; a vertex with one triangle is a lone fan.
            continue;
        }
        link.clear();
        ids.clear();
        for &ti in &incident[range] {
            let t = mesh.triangles[ti as usize];
            let k = t.iter().position(|&x| x as usize == v).unwrap_or(0);
            let e = [t[(k + 1) % 3], t[(k + 2) % 3]];
            link.push(e);
            ids.extend_from_slice(&e);
        }
        ids.sort_unstable();
        ids.dedup();
        parent.clear();
        parent.extend(0..ids.len());
        fn root(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut components = ids.len();
        for e in &link {
            let a = ids.binary_search(&e[0]).unwrap_or(0);
            let b = ids.binary_search(&e[1]).unwrap_or(0);
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            if ra != rb {
                parent[ra] = rb;
                components -= 1;
            }
        }
        if components != 1 {
            return false;
        }
    }
    true
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A unit cube (side `s`, min corner `o`), outward counter-clockwise.
    pub fn cube(o: [f32; 3], s: f32) -> Mesh {
        let mut positions = Vec::new();
        for z in 0..2 {
            for y in 0..2 {
                for x in 0..2 {
                    positions.push([
                        o[0] + s * x as f32,
                        o[1] + s * y as f32,
                        o[2] + s * z as f32,
                    ]);
                }
            }
        }
        // Vertex index = x + 2y + 4z.
        let quads = [
            [0, 2, 3, 1], // bottom (z = 0), seen from below
            [4, 5, 7, 6], // top
            [0, 1, 5, 4], // y = 0
            [2, 6, 7, 3], // y = 1
            [0, 4, 6, 2], // x = 0
            [1, 3, 7, 5], // x = 1
        ];
        let mut triangles = Vec::new();
        for q in quads {
            triangles.push([q[0], q[1], q[2]]);
            triangles.push([q[0], q[2], q[3]]);
        }
        Mesh {
            positions,
            triangles,
            uvs: None,
        }
    }

    #[test]
    fn a_cube_is_a_closed_solid() {
        let f = facts(&cube([1.0, 2.0, 3.0], 2.0));
        assert!(f.is_closed_solid(), "{f:?}");
        assert_eq!((f.triangles, f.vertices), (12, 8));
        assert!((f.volume_mm3 - 8.0).abs() < 1e-9);
        assert!((f.volume_cm3() - 0.008).abs() < 1e-12);
        assert_eq!(f.bounding_box_mm, [[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]);
    }

    #[test]
    fn a_cube_missing_a_face_is_open() {
        let mut m = cube([0.0; 3], 1.0);
        m.triangles.truncate(10);
        let f = facts(&m);
        assert!(!f.watertight);
        // Still an orientable surface with boundary whose fans are single.
        assert!(f.manifold);
        assert!(f.consistent_winding);
        assert!(!f.is_closed_solid());
    }

    #[test]
    fn a_cube_with_a_flipped_face_is_inconsistent() {
        let mut m = cube([0.0; 3], 1.0);
        m.triangles[3].swap(1, 2);
        let f = facts(&m);
        assert!(f.watertight);
        assert!(f.manifold);
        assert!(!f.consistent_winding);
        assert!(f.volume_mm3 < 1.0);
        assert!(!f.is_closed_solid());
    }

    #[test]
    fn two_cubes_sharing_a_vertex_are_not_manifold() {
        let mut m = cube([0.0; 3], 1.0);
        let other = cube([1.0; 3], 1.0);
        // Merge, then point the second cube's corner (its vertex 0) at the first's vertex 7.
        m.merge(&other);
        for t in m.triangles.iter_mut().skip(12) {
            for i in t.iter_mut() {
                if *i == 8 {
                    *i = 7;
                }
            }
        }
        let f = facts(&m);
        assert!(f.watertight);
        assert!(f.consistent_winding);
        assert!(!f.manifold);
        assert!((f.volume_mm3 - 2.0).abs() < 1e-9);
        // Two edge-sharing cubes are not edge-manifold either.
        let mut m = cube([0.0; 3], 1.0);
        m.merge(&cube([1.0, 1.0, 0.0], 1.0).welded());
        let f = facts(&m.welded());
        assert!(!f.manifold);
    }

    #[test]
    fn degenerate_and_broken_triangles_are_counted() {
        let mut m = cube([0.0; 3], 1.0);
        m.positions.push([0.5, 0.0, 0.0]);
        m.triangles.push([0, 1, 8]); // collinear
        m.triangles.push([0, 0, 1]); // repeated index
        m.triangles.push([0, 1, 99]); // out of range
        let f = facts(&m);
        assert_eq!(f.degenerate_triangles, 3);
        assert!(!f.watertight && !f.manifold);
        assert!(facts(&Mesh::default()).degenerate_triangles == 0);
        assert!(!facts(&Mesh::default()).watertight);
    }
}
