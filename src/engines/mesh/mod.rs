//! Triangle meshes for printing and viewing: the shared [`Mesh`] type (millimetres,
//! counter-clockwise outward winding), its small geometric helpers, and [`MeshError`], the
//! errors of the mesh engines. Pure computation: no IO of any kind. Its submodules make
//! solids from images (`heightfield`) and masks (`contour`, `extrude`), check them
//! (`check`), simplify them (`simplify`), and write and read GLB, STL, 3MF and OBJ
//! (`write`, `read`); `render` pictures them for thumbnails.
//!
//! Conventions every stage relies on:
//! - units are millimetres; +z is up (the build plate is z = 0 for generated solids);
//! - triangles are counter-clockwise seen from outside, so the right-hand rule gives the
//!   outward normal and the signed volume of a closed solid is positive;
//! - vertices are shared between the triangles that meet at them (index-based topology);
//! - `uvs` follow the glTF convention: (0, 0) is the top-left corner of the source image.

pub mod check;
pub mod contour;
pub mod extrude;
pub mod heightfield;
pub mod read;
pub mod render;
mod rtin;
pub mod simplify;
pub mod write;

/// A triangle mesh in millimetres. Triangles are counter-clockwise seen from outside
/// (right-hand rule gives outward normals). `uvs`, when present, has one entry per position.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    pub positions: Vec<[f32; 3]>,
    pub triangles: Vec<[u32; 3]>,
    pub uvs: Option<Vec<[f32; 2]>>,
}

/// Why a mesh could not be made from the given input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeshError {
    #[error("the image is empty ({width}×{height} pixels)")]
    EmptyImage { width: u32, height: u32 },
    #[error(
        "the image is {width}×{height} pixels, which needs {expected} values, but {actual} were given"
    )]
    PixelCount {
        width: u32,
        height: u32,
        expected: u64,
        actual: usize,
    },
    #[error("{name} must be a finite number greater than 0 and at most {max}, got {value}")]
    NotPositive {
        name: &'static str,
        value: f32,
        max: f32,
    },
    #[error("{name} must be between {min} and {max}, got {value}")]
    OutOfRange {
        name: &'static str,
        value: f32,
        min: f32,
        max: f32,
    },
    #[error("resolution must be between {min} and {max} samples, got {value}")]
    Resolution { value: u32, min: u32, max: u32 },
    #[error(
        "minimum thickness ({min_mm} mm) must not be greater than maximum thickness ({max_mm} mm)"
    )]
    ThicknessOrder { min_mm: f32, max_mm: f32 },
    #[error(
        "the mesh would have {triangles} triangles, more than the limit of {limit}; lower the resolution"
    )]
    TooManyTriangles { triangles: u64, limit: u64 },
}

impl Mesh {
    /// Number of triangles.
    pub fn triangle_count(&self) -> usize {
        self.triangles.len()
    }

    /// Axis-aligned bounds `[min, max]` of all positions; all zeros for an empty mesh.
    pub fn bounds(&self) -> [[f32; 3]; 2] {
        let Some(first) = self.positions.first() else {
            return [[0.0; 3]; 2];
        };
        let mut min = *first;
        let mut max = *first;
        for p in &self.positions {
            for k in 0..3 {
                min[k] = min[k].min(p[k]);
                max[k] = max[k].max(p[k]);
            }
        }
        [min, max]
    }

    /// Unit outward normal of one triangle (zero for a degenerate one).
    pub fn face_normal(&self, triangle: usize) -> [f32; 3] {
        let [a, b, c] = self.triangles[triangle];
        let n = triangle_normal(
            self.positions[a as usize],
            self.positions[b as usize],
            self.positions[c as usize],
        );
        normalize(n)
    }

    /// Area-weighted unit normal at every position (zero where no triangle uses it).
    pub fn vertex_normals(&self) -> Vec<[f32; 3]> {
        let mut normals = vec![[0.0f32; 3]; self.positions.len()];
        for t in &self.triangles {
            let p = t.map(|i| self.positions[i as usize]);
            // The cross product's length is twice the area: area weighting for free.
            let n = triangle_normal(p[0], p[1], p[2]);
            for &i in t {
                let v = &mut normals[i as usize];
                v[0] += n[0];
                v[1] += n[1];
                v[2] += n[2];
            }
        }
        for n in &mut normals {
            *n = normalize(*n);
        }
        normals
    }

    /// Append `other` (its indices shifted). UVs survive when either side has them; the
    /// side without gets zeros.
    pub fn merge(&mut self, other: &Mesh) {
        let offset = self.positions.len() as u32;
        let uvs = match (self.uvs.take(), &other.uvs) {
            (None, None) => None,
            (mine, theirs) => {
                let mut uvs = mine.unwrap_or_else(|| vec![[0.0; 2]; self.positions.len()]);
                match theirs {
                    Some(t) => uvs.extend_from_slice(t),
                    None => uvs.resize(uvs.len() + other.positions.len(), [0.0; 2]),
                }
                Some(uvs)
            }
        };
        self.uvs = uvs;
        self.positions.extend_from_slice(&other.positions);
        self.triangles
            .extend(other.triangles.iter().map(|t| t.map(|i| i + offset)));
    }

    /// Move every position by `offset` millimetres.
    pub fn translate(&mut self, offset: [f32; 3]) {
        for p in &mut self.positions {
            p[0] += offset[0];
            p[1] += offset[1];
            p[2] += offset[2];
        }
    }

    /// A copy in which positions that are bit-for-bit equal (and have equal UVs) share one
    /// index; useful before [`check::facts`] on a mesh read from a triangle soup (STL).
    pub fn welded(&self) -> Mesh {
        use std::collections::HashMap;
        let mut map: HashMap<([u32; 3], [u32; 2]), u32> =
            HashMap::with_capacity(self.positions.len());
        let mut remap = Vec::with_capacity(self.positions.len());
        let mut out = Mesh {
            positions: Vec::new(),
            triangles: Vec::with_capacity(self.triangles.len()),
            uvs: self.uvs.as_ref().map(|_| Vec::new()),
        };
        for (i, p) in self.positions.iter().enumerate() {
            // -0.0 and 0.0 are the same place.
            let key_p = p.map(|c| if c == 0.0 { 0 } else { c.to_bits() });
            let uv = self.uvs.as_ref().map_or([0.0; 2], |u| u[i]);
            let key = (key_p, uv.map(f32::to_bits));
            let next = out.positions.len() as u32;
            let index = *map.entry(key).or_insert_with(|| {
                out.positions.push(*p);
                if let Some(u) = &mut out.uvs {
                    u.push(uv);
                }
                next
            });
            remap.push(index);
        }
        out.triangles.extend(
            self.triangles
                .iter()
                .map(|t| t.map(|i| remap.get(i as usize).copied().unwrap_or(i))),
        );
        out
    }
}

// Small vector helpers shared by the files of this folder (child modules see them).

#[inline]
fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

#[inline]
fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[inline]
fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Cross product of two edges: direction of the outward normal, length twice the area.
#[inline]
fn triangle_normal(a: [f32; 3], b: [f32; 3], c: [f32; 3]) -> [f32; 3] {
    cross(sub(b, a), sub(c, a))
}

#[inline]
fn normalize(v: [f32; 3]) -> [f32; 3] {
    let len = dot(v, v).sqrt();
    if len > 0.0 && len.is_finite() {
        [v[0] / len, v[1] / len, v[2] / len]
    } else {
        [0.0; 3]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A closed tetrahedron with legs of `size` mm along the axes, outward wound.
    pub(crate) fn tetrahedron(size: f32) -> Mesh {
        Mesh {
            positions: vec![
                [0.0, 0.0, 0.0],
                [size, 0.0, 0.0],
                [0.0, size, 0.0],
                [0.0, 0.0, size],
            ],
            triangles: vec![[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]],
            uvs: None,
        }
    }

    #[test]
    fn bounds_normals_merge_weld() {
        let mut m = tetrahedron(1.0);
        assert_eq!(m.bounds(), [[0.0; 3], [1.0; 3]]);
        assert_eq!(m.face_normal(0), [0.0, 0.0, -1.0]);
        let n = m.vertex_normals();
        assert!(n[0].iter().all(|c| *c < 0.0));
        let mut other = tetrahedron(1.0);
        other.translate([2.0, 0.0, 0.0]);
        other.uvs = Some(vec![[0.5; 2]; 4]);
        m.merge(&other);
        assert_eq!(m.positions.len(), 8);
        assert_eq!(m.triangles[4], [4, 6, 5]);
        assert_eq!(m.uvs.as_ref().unwrap()[0], [0.0; 2]);
        assert_eq!(m.uvs.as_ref().unwrap()[7], [0.5; 2]);
        assert_eq!(m.bounds()[1], [3.0, 1.0, 1.0]);

        // A soup (every triangle its own vertices) welds back to four positions.
        let t = tetrahedron(1.0);
        let mut soup = Mesh::default();
        for tri in &t.triangles {
            let base = soup.positions.len() as u32;
            soup.positions
                .extend(tri.iter().map(|&i| t.positions[i as usize]));
            soup.triangles.push([base, base + 1, base + 2]);
        }
        let welded = soup.welded();
        assert_eq!(welded.positions.len(), 4);
        assert!(check::facts(&welded).watertight);
        assert!(!check::facts(&soup).watertight);
    }

    #[test]
    fn errors_read_well() {
        let e = MeshError::Resolution {
            value: 0,
            min: 2,
            max: 4096,
        };
        assert_eq!(
            e.to_string(),
            "resolution must be between 2 and 4096 samples, got 0"
        );
    }
}
