//! Readers from uploaded 3D files (byte buffers) to a [`Mesh`] in millimetres, +z up:
//! binary and ASCII STL, OBJ, glTF (GLB or JSON with embedded buffers) and 3MF.
//!
//! Every reader welds vertices that have exactly the same position, so that topology
//! checks see shared edges, and drops triangles that use one vertex twice after welding.
//! Since a [`Mesh`] has one UV per position, UVs are kept only when every vertex has one
//! and no two welded vertices had different UVs: a textured model with UV seams (most
//! third-party ones) comes back without UVs — show the original file for a textured
//! preview. Files written by [`crate::engines::mesh::write`] keep theirs. UVs follow glTF's
//! convention (u right, v down, origin at the image's top-left).
//!
//! Units and axes: STL, OBJ and 3MF are taken as millimetres with +z up (3MF's `unit`
//! is honoured). glTF is metres with +y up, so it is converted back:
//! mm `(x, y, z) = 1000 · (x, −z, y)` of glTF, the inverse of the GLB writer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Cursor, Read};

use base64::Engine as _;

use super::Mesh;

/// Largest number of triangles a reader accepts.
pub const MAX_TRIANGLES: usize = 5_000_000;
/// Largest uncompressed part of a 3MF package that is read.
pub const MAX_PART_BYTES: u64 = 1 << 30;
/// Deepest nesting of glTF nodes or 3MF components followed.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshFormat {
    Stl,
    Obj,
    /// `.glb` or `.gltf` (the reader tells them apart by the bytes).
    Gltf,
    ThreeMf,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a recognised 3D file")]
    UnknownFormat,
    #[error("invalid {format} file: {message}")]
    Invalid {
        format: &'static str,
        message: String,
    },
    #[error("{0} is not supported")]
    Unsupported(String),
    #[error(
        "the model is too large: more than {MAX_TRIANGLES} triangles once its repeated parts are placed"
    )]
    TooLarge,
    #[error("the model has no triangles")]
    Empty,
}

fn invalid(format: &'static str, message: impl std::fmt::Display) -> ReadError {
    ReadError::Invalid {
        format,
        message: message.to_string(),
    }
}

/// Guesses the format from the bytes alone.
pub fn sniff(bytes: &[u8]) -> Option<MeshFormat> {
    if bytes.starts_with(b"glTF") {
        return Some(MeshFormat::Gltf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Some(MeshFormat::ThreeMf);
    }
    if binary_stl_count(bytes).is_some() {
        return Some(MeshFormat::Stl);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        return Some(MeshFormat::Gltf);
    }
    if trimmed.starts_with("solid") && head.contains("facet") {
        return Some(MeshFormat::Stl);
    }
    if head
        .lines()
        .any(|l| l.starts_with("v ") || l.starts_with("f ") || l.starts_with("vt "))
    {
        return Some(MeshFormat::Obj);
    }
    None
}

/// Reads a file of the given format.
pub fn read(bytes: &[u8], format: MeshFormat) -> Result<Mesh, ReadError> {
    match format {
        MeshFormat::Stl => stl(bytes),
        MeshFormat::Obj => obj(bytes),
        MeshFormat::Gltf => gltf(bytes),
        MeshFormat::ThreeMf => three_mf(bytes),
    }
}

// ---------------------------------------------------------------------------------------
// Welding

/// Collects vertices (welding exact duplicate positions) and triangles. UVs are kept when
/// every vertex has one and welding never joined two different UVs (a texture seam).
struct Builder {
    with_uvs: bool,
    positions: Vec<[f32; 3]>,
    uvs: Vec<[f32; 2]>,
    index: HashMap<[u32; 3], u32>,
    triangles: Vec<[u32; 3]>,
    /// Work done so far (vertices placed, triangles offered, parts visited): a file whose
    /// instancing would take more than [`MAX_WORK`] is refused, however few triangles it
    /// ends with.
    work: usize,
}

/// The most work one file may cause: three times the triangle limit.
pub const MAX_WORK: usize = 3 * MAX_TRIANGLES;

/// Bits of a float with −0 and +0 made equal.
fn key_bits(x: f32) -> u32 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

impl Builder {
    fn new(with_uvs: bool) -> Builder {
        Builder {
            with_uvs,
            positions: Vec::new(),
            uvs: Vec::new(),
            index: HashMap::new(),
            triangles: Vec::new(),
            work: 0,
        }
    }

    /// Counts `units` of work; refuses the file once it is over the budget.
    fn spend(&mut self, units: usize) -> Result<(), ReadError> {
        self.work = self.work.saturating_add(units);
        if self.work > MAX_WORK {
            return Err(ReadError::TooLarge);
        }
        Ok(())
    }

    fn vertex(
        &mut self,
        format: &'static str,
        p: [f32; 3],
        uv: [f32; 2],
    ) -> Result<u32, ReadError> {
        if !p.iter().all(|c| c.is_finite()) {
            return Err(invalid(format, "a vertex position is not a finite number"));
        }
        let uv = if self.with_uvs {
            if !uv.iter().all(|c| c.is_finite()) {
                return Err(invalid(
                    format,
                    "a texture coordinate is not a finite number",
                ));
            }
            uv
        } else {
            [0.0; 2]
        };
        let key = p.map(key_bits);
        if let Some(&i) = self.index.get(&key) {
            if self.with_uvs && self.uvs[i as usize].map(key_bits) != uv.map(key_bits) {
                // A seam: topology wins, the UVs go.
                self.with_uvs = false;
                self.uvs = Vec::new();
            }
            return Ok(i);
        }
        let i = self.positions.len() as u32;
        self.positions.push(p);
        if self.with_uvs {
            self.uvs.push(uv);
        }
        self.index.insert(key, i);
        Ok(i)
    }

    fn triangle(&mut self, t: [u32; 3]) -> Result<(), ReadError> {
        self.spend(1)?;
        if t[0] == t[1] || t[1] == t[2] || t[2] == t[0] {
            return Ok(());
        }
        if self.triangles.len() >= MAX_TRIANGLES {
            return Err(ReadError::TooLarge);
        }
        self.triangles.push(t);
        Ok(())
    }

    fn finish(self) -> Result<Mesh, ReadError> {
        if self.triangles.is_empty() {
            return Err(ReadError::Empty);
        }
        // Vertices only used by dropped triangles stay; they do no harm to topology.
        Ok(Mesh {
            positions: self.positions,
            triangles: self.triangles,
            uvs: self.with_uvs.then_some(self.uvs),
        })
    }
}

// ---------------------------------------------------------------------------------------
// STL

/// The facet count of a binary STL whose length matches it.
fn binary_stl_count(bytes: &[u8]) -> Option<usize> {
    let count = u32::from_le_bytes(bytes.get(80..84)?.try_into().ok()?) as usize;
    (bytes.len() as u64 == 84 + 50 * count as u64).then_some(count)
}

/// Reads binary or ASCII STL (millimetres). Stored facet normals are ignored; the vertex
/// order decides which side is outside.
pub fn stl(bytes: &[u8]) -> Result<Mesh, ReadError> {
    const F: &str = "STL";
    let looks_ascii = {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]);
        head.trim_start().starts_with("solid")
            && (head.contains("facet") || head.contains("endsolid"))
    };
    let count = match binary_stl_count(bytes) {
        Some(count) => Some(count),
        None if looks_ascii => None,
        // Some writers append junk after the facets; accept it when nothing else fits.
        None => {
            let count = bytes
                .get(80..84)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as u64)
                .ok_or_else(|| invalid(F, "too short"))?;
            if bytes.len() as u64 >= 84 + 50 * count {
                Some(count as usize)
            } else {
                return Err(invalid(F, "the facet count does not match the file size"));
            }
        }
    };
    let mut builder = Builder::new(false);
    match count {
        Some(count) => {
            if count > MAX_TRIANGLES {
                return Err(ReadError::TooLarge);
            }
            for facet in bytes[84..84 + 50 * count].chunks_exact(50) {
                let mut t = [0u32; 3];
                for (k, corner) in t.iter_mut().enumerate() {
                    let at = 12 + 12 * k;
                    let p: [f32; 3] = std::array::from_fn(|c| {
                        let o = at + 4 * c;
                        f32::from_le_bytes(facet[o..o + 4].try_into().expect("4 bytes"))
                    });
                    *corner = builder.vertex(F, p, [0.0; 2])?;
                }
                builder.triangle(t)?;
            }
        }
        None => {
            let text = String::from_utf8_lossy(bytes);
            let mut tokens = text.split_ascii_whitespace();
            let mut corners: Vec<u32> = Vec::with_capacity(3);
            while let Some(token) = tokens.next() {
                if !token.eq_ignore_ascii_case("vertex") {
                    continue;
                }
                let mut p = [0f32; 3];
                for c in &mut p {
                    *c = tokens
                        .next()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| invalid(F, "a vertex needs three numbers"))?;
                }
                corners.push(builder.vertex(F, p, [0.0; 2])?);
                if corners.len() == 3 {
                    builder.triangle([corners[0], corners[1], corners[2]])?;
                    corners.clear();
                }
            }
            if !corners.is_empty() {
                return Err(invalid(F, "a facet does not have three vertices"));
            }
        }
    }
    builder.finish()
}

// ---------------------------------------------------------------------------------------
// OBJ

/// Reads Wavefront OBJ (millimetres, +z up): `v`, `vt`, `f` (polygons are fan
/// triangulated; negative indices count back from the latest vertex). `vn`, groups,
/// objects and materials are ignored.
pub fn obj(bytes: &[u8]) -> Result<Mesh, ReadError> {
    const F: &str = "OBJ";
    let text = String::from_utf8_lossy(bytes);
    let mut positions: Vec<[f32; 3]> = Vec::new();
    let mut texcoords: Vec<[f32; 2]> = Vec::new();
    // Every face as a range of corners; corners as (position index, texcoord index).
    let mut corners: Vec<(usize, Option<usize>)> = Vec::new();
    let mut faces: Vec<(usize, usize)> = Vec::new();
    let mut triangle_count = 0usize;

    // Negative indices count back from the vertices read so far; positive ones may point
    // forward and are range-checked once the whole file is read.
    let resolve = |token: &str, len: usize, what: &str| -> Result<usize, ReadError> {
        let i: i64 = token
            .parse()
            .map_err(|_| invalid(F, format!("bad {what} index {token:?}")))?;
        let resolved = match i {
            0 => None,
            i if i > 0 => usize::try_from(i - 1).ok(),
            i => usize::try_from(i.unsigned_abs())
                .ok()
                .and_then(|back| len.checked_sub(back)),
        };
        resolved.ok_or_else(|| invalid(F, format!("{what} index {i} is out of range")))
    };

    let mut pending = String::new();
    for raw in text.lines() {
        // A trailing backslash continues the statement on the next line.
        if let Some(stripped) = raw.strip_suffix('\\') {
            pending.push_str(stripped);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        let line = line.split('#').next().unwrap_or("");
        let mut parts = line.split_ascii_whitespace();
        match parts.next() {
            Some("v") => {
                let mut p = [0f32; 3];
                for c in &mut p {
                    *c = parts
                        .next()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| invalid(F, "a `v` line needs three numbers"))?;
                }
                positions.push(p);
            }
            Some("vt") => {
                let u: f32 = parts
                    .next()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| invalid(F, "a `vt` line needs a number"))?;
                let v: f32 = match parts.next() {
                    Some(t) => t.parse().map_err(|_| invalid(F, "bad `vt` number"))?,
                    None => 0.0,
                };
                texcoords.push([u, 1.0 - v]);
            }
            Some("f") => {
                let first = corners.len();
                for token in parts {
                    let mut fields = token.split('/');
                    let v = resolve(fields.next().unwrap_or(""), positions.len(), "vertex")?;
                    let vt = match fields.next() {
                        Some(t) if !t.is_empty() => Some(resolve(t, texcoords.len(), "texture")?),
                        _ => None,
                    };
                    corners.push((v, vt));
                }
                let n = corners.len() - first;
                if n < 3 {
                    return Err(invalid(F, "a face has fewer than three vertices"));
                }
                triangle_count += n - 2;
                if triangle_count > MAX_TRIANGLES {
                    return Err(ReadError::TooLarge);
                }
                faces.push((first, corners.len()));
            }
            _ => {}
        }
    }

    if corners
        .iter()
        .any(|&(v, vt)| v >= positions.len() || vt.is_some_and(|t| t >= texcoords.len()))
    {
        return Err(invalid(F, "a face refers to a missing vertex"));
    }
    let with_uvs = !corners.is_empty() && corners.iter().all(|c| c.1.is_some());
    let mut builder = Builder::new(with_uvs);
    let mut welded: HashMap<(usize, Option<usize>), u32> = HashMap::new();
    let mut index_of =
        |builder: &mut Builder, c: (usize, Option<usize>)| -> Result<u32, ReadError> {
            if let Some(&i) = welded.get(&c) {
                return Ok(i);
            }
            let uv = c.1.map_or([0.0; 2], |t| texcoords[t]);
            let i = builder.vertex(F, positions[c.0], uv)?;
            welded.insert(c, i);
            Ok(i)
        };
    for (start, end) in faces {
        let a = index_of(&mut builder, corners[start])?;
        for k in start + 1..end - 1 {
            let b = index_of(&mut builder, corners[k])?;
            let c = index_of(&mut builder, corners[k + 1])?;
            builder.triangle([a, b, c])?;
        }
    }
    builder.finish()
}

// ---------------------------------------------------------------------------------------
// glTF

type Matrix4 = [[f64; 4]; 4]; // column-major, as glTF stores it

fn mat_mul(a: &Matrix4, b: &Matrix4) -> Matrix4 {
    let mut out = [[0.0; 4]; 4];
    for (c, column) in out.iter_mut().enumerate() {
        for (r, cell) in column.iter_mut().enumerate() {
            *cell = (0..4).map(|k| a[k][r] * b[c][k]).sum();
        }
    }
    out
}

fn mat_det3(m: &Matrix4) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[2][1] * m[1][2])
        - m[1][0] * (m[0][1] * m[2][2] - m[2][1] * m[0][2])
        + m[2][0] * (m[0][1] * m[1][2] - m[1][1] * m[0][2])
}

/// Bytes of a `data:` URI with base64 content.
fn data_uri(uri: &str) -> Option<Vec<u8>> {
    let rest = uri.strip_prefix("data:")?;
    let (header, data) = rest.split_once(',')?;
    if !header.ends_with(";base64") {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()
}

/// Checks that an accessor can be read safely as `count` items of `item_size` bytes.
fn check_accessor(
    accessor: &gltf::Accessor<'_>,
    buffers: &[Cow<'_, [u8]>],
    dimensions: &[gltf::accessor::Dimensions],
    data_types: &[gltf::accessor::DataType],
) -> Result<(), ReadError> {
    const F: &str = "glTF";
    if accessor.sparse().is_some() {
        return Err(ReadError::Unsupported("a sparse glTF accessor".into()));
    }
    if !dimensions.contains(&accessor.dimensions()) || !data_types.contains(&accessor.data_type()) {
        return Err(ReadError::Unsupported(format!(
            "a glTF accessor of {:?} {:?}",
            accessor.dimensions(),
            accessor.data_type()
        )));
    }
    let count = accessor.count();
    if count == 0 {
        return Err(invalid(F, "an accessor has no elements"));
    }
    let view = accessor
        .view()
        .ok_or_else(|| invalid(F, "an accessor has no buffer view"))?;
    let size = accessor.size();
    let stride = view.stride().unwrap_or(size);
    if stride < size {
        return Err(invalid(
            F,
            "a buffer view's stride is smaller than its elements",
        ));
    }
    let need = (count - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(size))
        .and_then(|n| n.checked_add(accessor.offset()));
    if need.is_none_or(|n| n > view.length()) {
        return Err(invalid(F, "an accessor reaches past its buffer view"));
    }
    let buffer = buffers
        .get(view.buffer().index())
        .ok_or_else(|| invalid(F, "a buffer is missing"))?;
    if view
        .offset()
        .checked_add(view.length())
        .is_none_or(|end| end > buffer.len())
    {
        return Err(invalid(F, "a buffer view reaches past its buffer"));
    }
    Ok(())
}

/// `gltf::Gltf::from_slice` without its two panics on hostile input (gltf 1.4.1): a GLB
/// header length below 12 underflows, and validation indexes `accessors` with a
/// primitive's `POSITION` before checking it exists.
fn parse_gltf(bytes: &[u8]) -> Result<gltf::Gltf, ReadError> {
    const F: &str = "glTF";
    let (json_bytes, blob) = if bytes.starts_with(b"glTF") {
        let declared = bytes
            .get(8..12)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
        if declared.is_none_or(|n| n < 20) {
            return Err(invalid(F, "bad GLB header"));
        }
        let glb = gltf::binary::Glb::from_slice(bytes).map_err(|e| invalid(F, e))?;
        (glb.json, glb.bin.map(Cow::into_owned))
    } else {
        (Cow::Borrowed(bytes), None)
    };
    let root: gltf::json::Root =
        gltf::json::deserialize::from_slice(&json_bytes).map_err(|e| invalid(F, e))?;
    let accessors = root.accessors.len();
    let dangling = root
        .meshes
        .iter()
        .flat_map(|m| &m.primitives)
        .flat_map(|p| p.attributes.values())
        .any(|a| a.value() >= accessors);
    if dangling {
        return Err(invalid(F, "a primitive refers to a missing accessor"));
    }
    let document = gltf::Document::from_json(root).map_err(|e| invalid(F, e))?;
    Ok(gltf::Gltf { document, blob })
}

/// Reads glTF 2.0, binary (GLB) or JSON with `data:` buffers, following the default scene
/// (or the first) with node transforms, and converts metres/+y up to millimetres/+z up.
/// Triangle, strip and fan primitives are read; points and lines are skipped.
pub fn gltf(bytes: &[u8]) -> Result<Mesh, ReadError> {
    const F: &str = "glTF";
    use gltf::accessor::{DataType, Dimensions};
    use gltf::mesh::Mode;

    let document = parse_gltf(bytes)?;
    let mut buffers: Vec<Cow<'_, [u8]>> = Vec::new();
    for buffer in document.buffers() {
        let data: Cow<'_, [u8]> = match buffer.source() {
            gltf::buffer::Source::Bin => Cow::Borrowed(
                document
                    .blob
                    .as_deref()
                    .ok_or_else(|| invalid(F, "the binary chunk is missing"))?,
            ),
            gltf::buffer::Source::Uri(uri) => Cow::Owned(data_uri(uri).ok_or_else(|| {
                ReadError::Unsupported("a glTF buffer in a separate file".into())
            })?),
        };
        if data.len() < buffer.length() {
            return Err(invalid(F, "a buffer is shorter than declared"));
        }
        buffers.push(data);
    }

    // Which meshes to draw, and where.
    let mut placements: Vec<(gltf::Mesh<'_>, Matrix4)> = Vec::new();
    let identity: Matrix4 = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    match document
        .default_scene()
        .or_else(|| document.scenes().next())
    {
        Some(scene) => {
            let mut stack: Vec<(gltf::Node<'_>, Matrix4, usize)> =
                scene.nodes().map(|n| (n, identity, 0)).collect();
            let mut visits = 0usize;
            while let Some((node, parent, depth)) = stack.pop() {
                visits += 1;
                if depth > MAX_DEPTH || visits > 1_000_000 {
                    return Err(invalid(F, "the node hierarchy is too deep or cyclic"));
                }
                let local = node.transform().matrix().map(|c| c.map(f64::from));
                let world = mat_mul(&parent, &local);
                if let Some(mesh) = node.mesh() {
                    placements.push((mesh, world));
                }
                stack.extend(node.children().map(|c| (c, world, depth + 1)));
            }
        }
        None => placements.extend(document.meshes().map(|m| (m, identity))),
    }

    let drawn = |p: &gltf::Primitive<'_>| {
        matches!(
            p.mode(),
            Mode::Triangles | Mode::TriangleStrip | Mode::TriangleFan
        )
    };
    let with_uvs = placements
        .iter()
        .flat_map(|(m, _)| m.primitives())
        .filter(|p| drawn(p))
        .all(|p| p.get(&gltf::Semantic::TexCoords(0)).is_some())
        && placements
            .iter()
            .flat_map(|(m, _)| m.primitives())
            .any(|p| drawn(&p));
    let mut builder = Builder::new(with_uvs);

    for (mesh, world) in &placements {
        let flip = mat_det3(world) < 0.0;
        for primitive in mesh.primitives().filter(|p| drawn(p)) {
            let positions = primitive
                .get(&gltf::Semantic::Positions)
                .ok_or_else(|| invalid(F, "a primitive has no POSITION"))?;
            check_accessor(&positions, &buffers, &[Dimensions::Vec3], &[DataType::F32])?;
            if let Some(indices) = primitive.indices() {
                check_accessor(
                    &indices,
                    &buffers,
                    &[Dimensions::Scalar],
                    &[DataType::U8, DataType::U16, DataType::U32],
                )?;
            }
            if with_uvs {
                let uv = primitive
                    .get(&gltf::Semantic::TexCoords(0))
                    .expect("checked above");
                check_accessor(
                    &uv,
                    &buffers,
                    &[Dimensions::Vec2],
                    &[DataType::F32, DataType::U8, DataType::U16],
                )?;
            }
            builder.spend(positions.count())?;
            let reader = primitive.reader(|b| buffers.get(b.index()).map(|d| &d[..]));
            let points: Vec<[f32; 3]> = reader
                .read_positions()
                .ok_or_else(|| invalid(F, "unreadable POSITION"))?
                .map(|p| {
                    let p = p.map(f64::from);
                    let w: [f64; 3] = std::array::from_fn(|r| {
                        world[0][r] * p[0] + world[1][r] * p[1] + world[2][r] * p[2] + world[3][r]
                    });
                    // metres, +y up → millimetres, +z up
                    [w[0] * 1000.0, -w[2] * 1000.0, w[1] * 1000.0].map(|c| c as f32)
                })
                .collect();
            let uvs: Option<Vec<[f32; 2]>> = if with_uvs {
                reader.read_tex_coords(0).map(|t| t.into_f32().collect())
            } else {
                None
            };
            let mut vertex_index = Vec::with_capacity(points.len());
            for (i, &p) in points.iter().enumerate() {
                let uv = uvs
                    .as_ref()
                    .and_then(|u| u.get(i).copied())
                    .unwrap_or([0.0; 2]);
                vertex_index.push(builder.vertex(F, p, uv)?);
            }
            let order: Vec<u32> = match reader.read_indices() {
                Some(indices) => indices.into_u32().collect(),
                None => (0..points.len() as u32).collect(),
            };
            let corner = |i: u32| -> Result<u32, ReadError> {
                vertex_index
                    .get(i as usize)
                    .copied()
                    .ok_or_else(|| invalid(F, "an index is out of range"))
            };
            let mut emit = |a: u32, b: u32, c: u32| -> Result<(), ReadError> {
                let t = [corner(a)?, corner(b)?, corner(c)?];
                builder.triangle(if flip { [t[0], t[2], t[1]] } else { t })
            };
            match primitive.mode() {
                Mode::Triangles => {
                    for t in order.chunks_exact(3) {
                        emit(t[0], t[1], t[2])?;
                    }
                }
                Mode::TriangleStrip => {
                    for k in 0..order.len().saturating_sub(2) {
                        if k % 2 == 0 {
                            emit(order[k], order[k + 1], order[k + 2])?;
                        } else {
                            emit(order[k + 1], order[k], order[k + 2])?;
                        }
                    }
                }
                _ => {
                    for k in 1..order.len().saturating_sub(1) {
                        emit(order[0], order[k], order[k + 1])?;
                    }
                }
            }
        }
    }
    builder.finish()
}

// ---------------------------------------------------------------------------------------
// 3MF

/// One tag of an XML document.
struct Tag<'a> {
    /// Local name (namespace prefix removed).
    name: &'a str,
    attributes: Vec<(&'a str, Cow<'a, str>)>,
    /// `</name>`
    end: bool,
    /// `<name/>`
    self_closing: bool,
}

impl Tag<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
    }
}

fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Calls `visit` for every start, end and empty-element tag, skipping comments,
/// processing instructions, CDATA and DOCTYPE. Text content is ignored.
fn scan_xml<'a>(
    text: &'a str,
    mut visit: impl FnMut(Tag<'a>) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    const F: &str = "3MF";
    let bytes = text.as_bytes();
    let mut pos = 0;
    let skip_to = |from: usize, pattern: &str| -> Result<usize, ReadError> {
        text[from..]
            .find(pattern)
            .map(|i| from + i + pattern.len())
            .ok_or_else(|| invalid(F, "unterminated XML markup"))
    };
    while let Some(offset) = text[pos..].find('<') {
        let start = pos + offset;
        let rest = &text[start..];
        if rest.starts_with("<!--") {
            pos = skip_to(start, "-->")?;
        } else if rest.starts_with("<![CDATA[") {
            pos = skip_to(start, "]]>")?;
        } else if rest.starts_with("<?") {
            pos = skip_to(start, "?>")?;
        } else if rest.starts_with("<!") {
            pos = skip_to(start, ">")?;
        } else if rest.starts_with("</") {
            let end = skip_to(start, ">")?;
            let name = text[start + 2..end - 1].trim();
            visit(Tag {
                name: local_name(name),
                attributes: Vec::new(),
                end: true,
                self_closing: false,
            })?;
            pos = end;
        } else {
            let mut i = start + 1;
            let name_start = i;
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && bytes[i] != b'>'
                && bytes[i] != b'/'
            {
                i += 1;
            }
            let name = local_name(&text[name_start..i]);
            let mut attributes = Vec::new();
            let self_closing;
            loop {
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                match bytes.get(i) {
                    None => return Err(invalid(F, "unterminated XML tag")),
                    Some(b'>') => {
                        self_closing = false;
                        i += 1;
                        break;
                    }
                    Some(b'/') if bytes.get(i + 1) == Some(&b'>') => {
                        self_closing = true;
                        i += 2;
                        break;
                    }
                    Some(_) => {}
                }
                let attr_start = i;
                while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b'>' {
                    i += 1;
                }
                if bytes.get(i) != Some(&b'=') {
                    return Err(invalid(F, "malformed XML attribute"));
                }
                let attr_name = local_name(text[attr_start..i].trim());
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                let quote = *bytes
                    .get(i)
                    .filter(|q| **q == b'"' || **q == b'\'')
                    .ok_or_else(|| invalid(F, "unquoted XML attribute"))?;
                let value_start = i + 1;
                let value_end = text[value_start..]
                    .find(quote as char)
                    .map(|e| value_start + e)
                    .ok_or_else(|| invalid(F, "unterminated XML attribute"))?;
                attributes.push((attr_name, decode_entities(&text[value_start..value_end])));
                i = value_end + 1;
            }
            visit(Tag {
                name,
                attributes,
                end: false,
                self_closing,
            })?;
            pos = i;
        }
    }
    Ok(())
}

/// Row-vector affine transform as 3MF writes it: `m00 m01 m02 m10 … m32`, so that
/// `x' = x·m00 + y·m10 + z·m20 + m30`.
type Transform3 = [f64; 12];

const IDENTITY3: Transform3 = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];

/// `a` applied first, then `b`.
fn then(a: &Transform3, b: &Transform3) -> Transform3 {
    let mut out = [0.0; 12];
    for r in 0..4 {
        for c in 0..3 {
            let mut v = if r == 3 { b[9 + c] } else { 0.0 };
            for k in 0..3 {
                v += a[r * 3 + k] * b[k * 3 + c];
            }
            out[r * 3 + c] = v;
        }
    }
    out
}

fn apply(t: &Transform3, p: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|c| p[0] * t[c] + p[1] * t[3 + c] + p[2] * t[6 + c] + t[9 + c])
}

fn det3(t: &Transform3) -> f64 {
    t[0] * (t[4] * t[8] - t[5] * t[7]) - t[1] * (t[3] * t[8] - t[5] * t[6])
        + t[2] * (t[3] * t[7] - t[4] * t[6])
}

fn parse_transform(s: Option<&str>) -> Result<Transform3, ReadError> {
    let Some(s) = s else { return Ok(IDENTITY3) };
    let values: Vec<f64> = s
        .split_ascii_whitespace()
        .map(|v| v.parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("3MF", "bad transform"))?;
    let t: Transform3 = values
        .try_into()
        .map_err(|_| invalid("3MF", "a transform needs 12 numbers"))?;
    if t.iter().all(|v| v.is_finite()) {
        Ok(t)
    } else {
        Err(invalid("3MF", "bad transform"))
    }
}

/// A reference to an object: from a build item or a component.
struct ObjectRef {
    object: u32,
    transform: Transform3,
    /// The model part holding the object (production extension), if not this one.
    path: Option<String>,
}

enum Object {
    Mesh {
        vertices: Vec<[f64; 3]>,
        triangles: Vec<[u32; 3]>,
    },
    Components(Vec<ObjectRef>),
    /// Support or other non-model geometry.
    Ignored,
}

struct Model {
    unit_mm: f64,
    objects: HashMap<u32, Object>,
    items: Vec<ObjectRef>,
}

fn parse_model(text: &str) -> Result<Model, ReadError> {
    const F: &str = "3MF";
    let mut model = Model {
        unit_mm: 1.0,
        objects: HashMap::new(),
        items: Vec::new(),
    };
    let mut current: Option<(u32, Object)> = None;
    let mut in_build = false;
    let mut triangle_count = 0usize;
    let number = |tag: &Tag<'_>, name: &str| -> Result<f64, ReadError> {
        tag.get(name)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or_else(|| invalid(F, format!("<{}> needs a number in {name}", tag.name)))
    };
    let integer = |tag: &Tag<'_>, name: &str| -> Result<u32, ReadError> {
        tag.get(name)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .ok_or_else(|| invalid(F, format!("<{}> needs an index in {name}", tag.name)))
    };
    let reference = |tag: &Tag<'_>| -> Result<ObjectRef, ReadError> {
        Ok(ObjectRef {
            object: integer(tag, "objectid")?,
            transform: parse_transform(tag.get("transform"))?,
            path: tag
                .get("path")
                .map(|p| p.trim_start_matches('/').to_owned()),
        })
    };
    scan_xml(text, |tag| {
        match (tag.name, tag.end) {
            ("model", false) => {
                model.unit_mm = match tag.get("unit").unwrap_or("millimeter") {
                    "micron" => 0.001,
                    "millimeter" => 1.0,
                    "centimeter" => 10.0,
                    "inch" => 25.4,
                    "foot" => 304.8,
                    "meter" => 1000.0,
                    other => return Err(invalid(F, format!("unknown unit {other:?}"))),
                };
            }
            ("object", false) => {
                let id = integer(&tag, "id")?;
                let kind = tag.get("type").unwrap_or("model");
                let object = if matches!(kind, "model" | "solidsupport") {
                    Object::Mesh {
                        vertices: Vec::new(),
                        triangles: Vec::new(),
                    }
                } else {
                    Object::Ignored
                };
                if tag.self_closing {
                    model.objects.insert(id, object);
                } else {
                    current = Some((id, object));
                }
            }
            ("object", true) => {
                if let Some((id, object)) = current.take() {
                    if let Object::Mesh {
                        vertices,
                        triangles,
                    } = &object
                        && triangles
                            .iter()
                            .flatten()
                            .any(|&v| v as usize >= vertices.len())
                    {
                        return Err(invalid(F, format!("object {id} uses a missing vertex")));
                    }
                    model.objects.insert(id, object);
                }
            }
            ("vertex", false) => {
                if let Some((_, Object::Mesh { vertices, .. })) = &mut current {
                    vertices.push([number(&tag, "x")?, number(&tag, "y")?, number(&tag, "z")?]);
                }
            }
            ("triangle", false) => {
                if let Some((_, Object::Mesh { triangles, .. })) = &mut current {
                    triangle_count += 1;
                    if triangle_count > MAX_TRIANGLES {
                        return Err(ReadError::TooLarge);
                    }
                    triangles.push([
                        integer(&tag, "v1")?,
                        integer(&tag, "v2")?,
                        integer(&tag, "v3")?,
                    ]);
                }
            }
            ("components", false) => {
                if let Some((_, object @ Object::Mesh { .. })) = &mut current {
                    *object = Object::Components(Vec::new());
                }
            }
            ("component", false) => {
                if let Some((_, Object::Components(parts))) = &mut current {
                    parts.push(reference(&tag)?);
                }
            }
            ("build", false) => in_build = !tag.self_closing,
            ("build", true) => in_build = false,
            ("item", false) if in_build => model.items.push(reference(&tag)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(model)
}

/// The model parts of a 3MF package, parsed on demand.
struct Package<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    models: HashMap<String, Model>,
}

impl Package<'_> {
    fn read_part(&mut self, path: &str) -> Result<Option<Vec<u8>>, ReadError> {
        let name = if self.zip.index_for_name(path).is_some() {
            path.to_owned()
        } else {
            let found = self
                .zip
                .file_names()
                .filter_map(Result::ok)
                .find(|n| n.eq_ignore_ascii_case(path))
                .map(|n| n.into_owned());
            match found {
                Some(n) => n,
                None => return Ok(None),
            }
        };
        let file = self.zip.by_name(&name).map_err(|e| invalid("3MF", e))?;
        let mut data = Vec::new();
        file.take(MAX_PART_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| invalid("3MF", e))?;
        if data.len() as u64 > MAX_PART_BYTES {
            return Err(ReadError::TooLarge);
        }
        Ok(Some(data))
    }

    fn model(&mut self, path: &str) -> Result<&Model, ReadError> {
        if !self.models.contains_key(path) {
            let data = self
                .read_part(path)?
                .ok_or_else(|| invalid("3MF", format!("the part {path} is missing")))?;
            let model = parse_model(&String::from_utf8_lossy(&data))?;
            self.models.insert(path.to_owned(), model);
        }
        Ok(&self.models[path])
    }

    /// Adds an object's triangles, placed by `transform`, scaled to millimetres.
    fn emit(
        &mut self,
        path: &str,
        object: u32,
        transform: &Transform3,
        depth: usize,
        builder: &mut Builder,
    ) -> Result<(), ReadError> {
        if depth > MAX_DEPTH {
            return Err(invalid("3MF", "components nest too deeply"));
        }
        builder.spend(1)?;
        let model = self.model(path)?;
        match model.objects.get(&object) {
            None => Err(invalid("3MF", format!("object {object} is missing"))),
            Some(Object::Ignored) => Ok(()),
            Some(Object::Mesh {
                vertices,
                triangles,
            }) => {
                let flip = det3(transform) < 0.0;
                builder.spend(vertices.len())?;
                let mut index = Vec::with_capacity(vertices.len());
                for &v in vertices {
                    let p = apply(transform, v).map(|c| c as f32);
                    index.push(builder.vertex("3MF", p, [0.0; 2])?);
                }
                for t in triangles {
                    let t = t.map(|i| index[i as usize]);
                    builder.triangle(if flip { [t[0], t[2], t[1]] } else { t })?;
                }
                Ok(())
            }
            Some(Object::Components(parts)) => {
                let parts: Vec<(u32, Transform3, String)> = parts
                    .iter()
                    .map(|p| {
                        let part_path = p.path.clone().unwrap_or_else(|| path.to_owned());
                        (p.object, then(&p.transform, transform), part_path)
                    })
                    .collect();
                for (id, t, part_path) in parts {
                    self.emit(&part_path, id, &t, depth + 1, builder)?;
                }
                Ok(())
            }
        }
    }
}

/// Reads a 3MF package: the root model part named by `_rels/.rels` (else
/// `3D/3dmodel.model`), every build item with its transform, components (also from other
/// parts, as the production extension allows), in the root model's unit. Objects of type
/// `support` or `other` are skipped; colours, materials and textures are ignored.
pub fn three_mf(bytes: &[u8]) -> Result<Mesh, ReadError> {
    const F: &str = "3MF";
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| invalid(F, e))?;
    let mut package = Package {
        zip,
        models: HashMap::new(),
    };
    let mut root = "3D/3dmodel.model".to_owned();
    if let Some(rels) = package.read_part("_rels/.rels")? {
        let text = String::from_utf8_lossy(&rels).into_owned();
        scan_xml(&text, |tag| {
            if tag.name == "Relationship"
                && !tag.end
                && tag.get("Type").is_some_and(|t| t.ends_with("/3dmodel"))
                && let Some(target) = tag.get("Target")
            {
                root = target.trim_start_matches('/').to_owned();
            }
            Ok(())
        })?;
    }
    let (unit, items) = {
        let model = package.model(&root)?;
        let items: Vec<(u32, Transform3, String)> = model
            .items
            .iter()
            .map(|i| {
                (
                    i.object,
                    i.transform,
                    i.path.clone().unwrap_or_else(|| root.clone()),
                )
            })
            .collect();
        (model.unit_mm, items)
    };
    let scale: Transform3 = [
        unit, 0.0, 0.0, 0.0, unit, 0.0, 0.0, 0.0, unit, 0.0, 0.0, 0.0,
    ];
    let mut builder = Builder::new(false);
    for (id, transform, path) in items {
        package.emit(&path, id, &then(&transform, &scale), 0, &mut builder)?;
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_stl_is_welded() {
        let text = "solid t\n\
            facet normal 0 0 1\n outer loop\n vertex 0 0 0\n vertex 1 0 0\n vertex 0 1 0\n endloop\nendfacet\n\
            facet normal 0 0 1\n outer loop\n vertex 1 0 0\n vertex 1 1 0\n vertex 0 1 0\n endloop\nendfacet\n\
            endsolid t\n";
        assert_eq!(sniff(text.as_bytes()), Some(MeshFormat::Stl));
        let mesh = stl(text.as_bytes()).unwrap();
        assert_eq!(mesh.positions.len(), 4);
        assert_eq!(mesh.triangles, vec![[0, 1, 2], [1, 3, 2]]);
    }

    #[test]
    fn obj_polygons_and_negative_indices() {
        let text = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 1\n\
                    f -4/1 -3/1 -2/2 -1/2\n";
        let mesh = obj(text.as_bytes()).unwrap();
        assert_eq!(mesh.triangles.len(), 2);
        let uvs = mesh.uvs.unwrap();
        // OBJ v up → mesh v down.
        assert_eq!(uvs[0], [0.0, 1.0]);
        assert_eq!(uvs[2], [1.0, 0.0]);
        assert!(obj(b"v 0 0 0\nf 1 2 3\n").is_err());
        assert!(matches!(obj(b"v 0 0 0\n"), Err(ReadError::Empty)));
    }

    #[test]
    fn xml_scanner_handles_markup() {
        let xml = r#"<?xml version="1.0"?><!-- <fake/> --><a:model x='1' y="&lt;2&#x41;"><b/><![CDATA[<c/>]]></a:model>"#;
        let mut seen = Vec::new();
        scan_xml(xml, |t| {
            seen.push(format!(
                "{}{}{}{}",
                if t.end { "/" } else { "" },
                t.name,
                t.attributes
                    .iter()
                    .map(|(n, v)| format!(" {n}={v}"))
                    .collect::<String>(),
                if t.self_closing { "/" } else { "" }
            ));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec!["model x=1 y=<2A", "b/", "/model"]);
    }

    #[test]
    fn three_mf_transforms_compose() {
        let shift: Transform3 = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 5.0, 0.0, 0.0];
        let double: Transform3 = [2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0];
        // Shift, then double: x = (1 + 5) * 2.
        assert_eq!(
            apply(&then(&shift, &double), [1.0, 0.0, 0.0]),
            [12.0, 0.0, 0.0]
        );
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for bytes in [
            &b""[..],
            b"glTF\x02\0\0\0",
            b"PK\x03\x04junk",
            b"solid x\nvertex 1 2\n",
            b"{}",
        ] {
            let format = sniff(bytes);
            if let Some(f) = format {
                assert!(read(bytes, f).is_err());
            }
        }
    }
}
