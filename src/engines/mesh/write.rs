//! Writers from a [`Mesh`] (millimetres, +z up) to the download formats, all into byte
//! buffers: GLB (glTF 2.0 binary, metres and +y up as glTF requires, with normals, UVs
//! and an optional embedded texture), binary STL, 3MF and OBJ with its MTL.
//!
//! Triangles whose indices are out of range are skipped, and `uvs` whose length does not
//! match `positions` are ignored, so a malformed mesh still gives a well-formed file.
//!
//! Normals (GLB and OBJ) are per vertex, area-weighted, and split at creases sharper than
//! [`CREASE_ANGLE_DEG`], so the flat faces of an extruded shape stay flat while a curved
//! outline's walls still look smooth.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Cursor, Write as _};

use gltf::json;
use json::validation::{Checked::Valid, USize64};

use super::Mesh;

/// Faces meeting at a sharper angle than this get separate normals.
pub const CREASE_ANGLE_DEG: f64 = 50.0;

/// A glTF vertex not made yet.
const UNSET: u32 = u32::MAX;

/// glTF is in metres; meshes are in millimetres.
const METRES_PER_MM: f64 = 0.001;

/// Triangles with every index in range.
fn valid_triangles(mesh: &Mesh) -> impl Iterator<Item = [u32; 3]> + '_ {
    let n = mesh.positions.len() as u64;
    mesh.triangles
        .iter()
        .copied()
        .filter(move |t| t.iter().all(|&i| u64::from(i) < n))
}

/// [`valid_triangles`] as a list: the mesh's own when every index is in range.
fn valid_triangle_list(mesh: &Mesh) -> Cow<'_, [[u32; 3]]> {
    let n = mesh.positions.len() as u64;
    if mesh.triangles.iter().flatten().all(|&i| u64::from(i) < n) {
        Cow::Borrowed(&mesh.triangles)
    } else {
        Cow::Owned(valid_triangles(mesh).collect())
    }
}

fn valid_uvs(mesh: &Mesh) -> Option<&[[f32; 2]]> {
    mesh.uvs
        .as_deref()
        .filter(|uvs| uvs.len() == mesh.positions.len())
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalize(v: [f64; 3]) -> Option<[f64; 3]> {
    let len = dot(v, v).sqrt();
    (len > 0.0 && len.is_finite()).then(|| [v[0] / len, v[1] / len, v[2] / len])
}

/// Cross product of two edges: the face normal scaled by twice the area.
fn face_cross(mesh: &Mesh, t: [u32; 3]) -> [f64; 3] {
    let [a, b, c] = t.map(|i| mesh.positions[i as usize].map(f64::from));
    cross(sub(b, a), sub(c, a))
}

/// Unit facet normal, or zero for a degenerate triangle.
fn facet_normal(mesh: &Mesh, t: [u32; 3]) -> [f32; 3] {
    normalize(face_cross(mesh, t)).map_or([0.0; 3], |n| n.map(|x| x as f32))
}

/// Creased vertex normals: a list of unit normals and, for every triangle corner, which
/// one it uses. Faces around a vertex are grouped greedily, in face order: a face joins the
/// first group whose first face is within the crease angle of it. A group's normal is the
/// area-weighted sum of its faces'; normals are numbered vertex by vertex, each vertex's
/// groups in the order they were made.
fn corner_normals(mesh: &Mesh, triangles: &[[u32; 3]]) -> (Vec<[f32; 3]>, Vec<[u32; 3]>) {
    /// Faces around one vertex: the first one's unit normal, the sum of their normals
    /// scaled by twice their areas, and the vertex's next group.
    struct Group {
        seed: [f64; 3],
        sum: [f64; 3],
        next: u32,
    }
    const NONE: u32 = u32::MAX;
    let cos_crease = CREASE_ANGLE_DEG.to_radians().cos();
    // One pass over the faces, so every vertex sees its faces in order. `head[v]` is v's
    // first group; each corner gets the rank of its group among its vertex's.
    let mut head = vec![NONE; mesh.positions.len()];
    // About one group per vertex on a smooth mesh (at most one per corner): start there
    // and let the list grow, rather than reserving for the worst case.
    let mut groups: Vec<Group> = Vec::with_capacity(mesh.positions.len());
    let mut corners = vec![[0u32; 3]; triangles.len()];
    for (&t, ranks) in triangles.iter().zip(&mut corners) {
        let c = face_cross(mesh, t);
        let unit = normalize(c);
        for (&v, rank) in t.iter().zip(ranks) {
            let (mut last, mut g) = (NONE, head[v as usize]);
            while g != NONE {
                let group = &groups[g as usize];
                if unit.is_none_or(|u| dot(group.seed, u) >= cos_crease) {
                    break;
                }
                (last, g) = (g, group.next);
                *rank += 1;
            }
            if g == NONE {
                let made = groups.len() as u32;
                groups.push(Group {
                    seed: unit.unwrap_or([0.0, 0.0, 1.0]),
                    sum: c,
                    next: NONE,
                });
                match last {
                    NONE => head[v as usize] = made,
                    _ => groups[last as usize].next = made,
                }
            } else {
                let sum = &mut groups[g as usize].sum;
                *sum = [sum[0] + c[0], sum[1] + c[1], sum[2] + c[2]];
            }
        }
    }
    // Number the normals; `head[v]` becomes the number of v's first one.
    let mut normals = Vec::with_capacity(groups.len());
    for first in &mut head {
        let mut g = *first;
        *first = normals.len() as u32;
        while g != NONE {
            let group = &groups[g as usize];
            let normal = normalize(group.sum).unwrap_or(group.seed);
            normals.push(normal.map(|x| x as f32));
            g = group.next;
        }
    }
    for (t, ranks) in triangles.iter().zip(&mut corners) {
        for (&v, rank) in t.iter().zip(ranks) {
            *rank += head[v as usize];
        }
    }
    (normals, corners)
}

/// A name made safe for file names and headers: ASCII letters, digits, `-`, `_`, `.`.
pub fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let trimmed = cleaned.trim_matches('.');
    if trimmed.is_empty() {
        "model".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// GLB

/// A texture ready to embed: bytes and the MIME type they really are.
fn texture_for_gltf(bytes: &[u8]) -> Option<(Cow<'_, [u8]>, &'static str)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((Cow::Borrowed(bytes), "image/png"));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some((Cow::Borrowed(bytes), "image/jpeg"));
    }
    // Anything else the image crate reads (WebP, say) is re-encoded as PNG, the only
    // other format core glTF allows.
    let image = image::load_from_memory(bytes).ok()?;
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .ok()?;
    Some((Cow::Owned(png), "image/png"))
}

/// mm, +z up → m, +y up: (x, y, z) ↦ (x, z, −y) · 0.001 (a rotation of −90° about x).
fn to_gltf_position(p: [f32; 3]) -> [f32; 3] {
    let [x, y, z] = p.map(f64::from);
    [x, z, -y].map(|c| (c * METRES_PER_MM) as f32)
}

fn to_gltf_direction(n: [f32; 3]) -> [f32; 3] {
    [n[0], n[2], -n[1]]
}

struct BinBuilder {
    bin: Vec<u8>,
    views: Vec<json::buffer::View>,
}

impl BinBuilder {
    /// Appends bytes as a new buffer view (4-byte aligned) and returns its index.
    fn push(&mut self, bytes: &[u8], target: Option<json::buffer::Target>) -> u32 {
        self.push_with(target, |bin| bin.extend_from_slice(bytes))
    }

    /// Appends a new buffer view (4-byte aligned) of the bytes `write` appends to the
    /// buffer, and returns its index.
    fn push_with(
        &mut self,
        target: Option<json::buffer::Target>,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> u32 {
        while !self.bin.len().is_multiple_of(4) {
            self.bin.push(0);
        }
        let offset = self.bin.len();
        write(&mut self.bin);
        self.views.push(json::buffer::View {
            buffer: json::Index::new(0),
            byte_length: USize64((self.bin.len() - offset) as u64),
            byte_offset: Some(USize64(offset as u64)),
            byte_stride: None,
            target: target.map(Valid),
            extensions: None,
            extras: Default::default(),
        });
        (self.views.len() - 1) as u32
    }
}

/// Appends the little-endian bytes of `items` to `bytes`.
fn extend_f32<const N: usize>(bytes: &mut Vec<u8>, items: &[[f32; N]]) {
    for v in items.iter().flatten() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends the little-endian bytes of `items` to `bytes`.
fn extend_u32(bytes: &mut Vec<u8>, items: &[u32]) {
    for v in items {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
}

fn accessor(
    view: u32,
    count: usize,
    component: json::accessor::ComponentType,
    type_: json::accessor::Type,
    min_max: Option<([f32; 3], [f32; 3])>,
) -> json::Accessor {
    json::Accessor {
        buffer_view: Some(json::Index::new(view)),
        byte_offset: Some(USize64(0)),
        count: USize64(count as u64),
        component_type: Valid(json::accessor::GenericComponentType(component)),
        extensions: None,
        extras: Default::default(),
        type_: Valid(type_),
        min: min_max.map(|(min, _)| json::Value::from(min.to_vec())),
        max: min_max.map(|(_, max)| json::Value::from(max.to_vec())),
        normalized: false,
        sparse: None,
    }
}

/// A GLB (binary glTF 2.0) file holding the mesh as one node, one mesh and one
/// primitive, with a metallic-roughness material.
///
/// * Positions are converted from millimetres to metres and rotated so the mesh's +z
///   (up) becomes glTF's +y (up): glTF `(x, y, z) = 0.001 · (x, z, −y)`. The mesh's
///   +y (the image's top) therefore points to glTF −z, away from a default viewer.
/// * `NORMAL` is computed (creased vertex normals, see the module documentation); vertices
///   are duplicated where normals differ, and carry the same position and UV.
/// * `TEXCOORD_0` is written when the mesh has UVs (u right, v down, as in glTF).
/// * `texture` (PNG or JPEG bytes; anything else the image crate decodes is re-encoded as
///   PNG; the MIME string is only a hint, the bytes decide) becomes the base colour
///   texture when the mesh has UVs. Otherwise the material is a neutral light grey.
pub fn glb(mesh: &Mesh, texture: Option<(&[u8], &str)>, name: &str) -> Vec<u8> {
    let triangles = valid_triangle_list(mesh);
    let uvs = valid_uvs(mesh);
    let texture = texture
        .filter(|_| uvs.is_some())
        .and_then(|(bytes, _mime)| texture_for_gltf(bytes));

    let mut root = json::Root {
        asset: json::Asset {
            generator: Some("StrataMake".to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut bin = BinBuilder {
        bin: Vec::new(),
        views: Vec::new(),
    };

    let mut nodes = Vec::new();
    if !triangles.is_empty() {
        // One glTF vertex per distinct (position, normal) pair. Every normal belongs to one
        // position, so the normal's index names the pair; vertices go in order of first use.
        // The corners' normals become the corners' vertices (the index buffer) in place.
        let (normals, mut indices) = corner_normals(mesh, &triangles);
        let mut vertex_of = vec![UNSET; normals.len()];
        let mut out_positions: Vec<[f32; 3]> = Vec::with_capacity(normals.len());
        let mut out_normals: Vec<[f32; 3]> = Vec::with_capacity(normals.len());
        let mut out_uvs: Vec<[f32; 2]> = Vec::with_capacity(uvs.map_or(0, |_| normals.len()));
        for (t, c) in triangles.iter().zip(&mut indices) {
            for k in 0..3 {
                let slot = &mut vertex_of[c[k] as usize];
                if *slot == UNSET {
                    *slot = out_positions.len() as u32;
                    out_positions.push(to_gltf_position(mesh.positions[t[k] as usize]));
                    out_normals.push(to_gltf_direction(normals[c[k] as usize]));
                    if let Some(uvs) = uvs {
                        out_uvs.push(uvs[t[k] as usize]);
                    }
                }
                c[k] = *slot;
            }
        }
        // Only the glTF arrays are needed from here on; free the rest before the buffer.
        drop((triangles, normals, vertex_of));
        let indices = indices.as_flattened();
        let mut min = [f32::INFINITY; 3];
        let mut max = [f32::NEG_INFINITY; 3];
        for p in &out_positions {
            for a in 0..3 {
                min[a] = min[a].min(p[a]);
                max[a] = max[a].max(p[a]);
            }
        }
        use json::accessor::{ComponentType, Type};
        use json::buffer::Target;
        let count = out_positions.len();
        // Every view's size, with room for alignment, so the buffer grows once.
        let texture_len = texture.as_ref().map_or(0, |(bytes, _)| bytes.len() + 3);
        bin.bin
            .reserve(count * (12 + 12 + 8) + indices.len() * 4 + texture_len + 16);
        let position_view =
            bin.push_with(Some(Target::ArrayBuffer), |b| extend_f32(b, &out_positions));
        let normal_view = bin.push_with(Some(Target::ArrayBuffer), |b| extend_f32(b, &out_normals));
        let mut attributes = BTreeMap::new();
        attributes.insert(
            Valid(json::mesh::Semantic::Positions),
            root.push(accessor(
                position_view,
                count,
                ComponentType::F32,
                Type::Vec3,
                Some((min, max)),
            )),
        );
        attributes.insert(
            Valid(json::mesh::Semantic::Normals),
            root.push(accessor(
                normal_view,
                count,
                ComponentType::F32,
                Type::Vec3,
                None,
            )),
        );
        if uvs.is_some() {
            let uv_view = bin.push_with(Some(Target::ArrayBuffer), |b| extend_f32(b, &out_uvs));
            attributes.insert(
                Valid(json::mesh::Semantic::TexCoords(0)),
                root.push(accessor(
                    uv_view,
                    count,
                    ComponentType::F32,
                    Type::Vec2,
                    None,
                )),
            );
        }
        let index_view =
            bin.push_with(Some(Target::ElementArrayBuffer), |b| extend_u32(b, indices));
        let index_accessor = root.push(accessor(
            index_view,
            indices.len(),
            ComponentType::U32,
            Type::Scalar,
            None,
        ));

        let base_color_texture = texture.as_ref().map(|(bytes, mime)| {
            let view = bin.push(bytes, None);
            let image = root.push(json::Image {
                buffer_view: Some(json::Index::new(view)),
                mime_type: Some(json::image::MimeType((*mime).to_owned())),
                uri: None,
                extensions: None,
                extras: Default::default(),
            });
            let sampler = root.push(json::texture::Sampler {
                mag_filter: Some(Valid(json::texture::MagFilter::Linear)),
                min_filter: Some(Valid(json::texture::MinFilter::LinearMipmapLinear)),
                wrap_s: Valid(json::texture::WrappingMode::ClampToEdge),
                wrap_t: Valid(json::texture::WrappingMode::ClampToEdge),
                ..Default::default()
            });
            let texture = root.push(json::Texture {
                sampler: Some(sampler),
                source: image,
                extensions: None,
                extras: Default::default(),
            });
            json::texture::Info {
                index: texture,
                tex_coord: 0,
                extensions: None,
                extras: Default::default(),
            }
        });
        let base_color_factor = if base_color_texture.is_some() {
            [1.0, 1.0, 1.0, 1.0]
        } else {
            [0.8, 0.8, 0.8, 1.0]
        };
        let material = root.push(json::Material {
            pbr_metallic_roughness: json::material::PbrMetallicRoughness {
                base_color_factor: json::material::PbrBaseColorFactor(base_color_factor),
                base_color_texture,
                metallic_factor: json::material::StrengthFactor(0.0),
                roughness_factor: json::material::StrengthFactor(0.8),
                ..Default::default()
            },
            ..Default::default()
        });
        let gltf_mesh = root.push(json::Mesh {
            extensions: None,
            extras: Default::default(),
            primitives: vec![json::mesh::Primitive {
                attributes,
                extensions: None,
                extras: Default::default(),
                indices: Some(index_accessor),
                material: Some(material),
                mode: Valid(json::mesh::Mode::Triangles),
                targets: None,
            }],
            weights: None,
        });
        nodes.push(root.push(json::Node {
            mesh: Some(gltf_mesh),
            ..Default::default()
        }));
    }
    if !bin.bin.is_empty() {
        while !bin.bin.len().is_multiple_of(4) {
            bin.bin.push(0);
        }
        root.push(json::Buffer {
            byte_length: USize64(bin.bin.len() as u64),
            uri: None,
            extensions: None,
            extras: Default::default(),
        });
        root.buffer_views = std::mem::take(&mut bin.views);
    }
    if nodes.is_empty() {
        // An empty scene still gets a node: gltf-json drops an empty `nodes` list when
        // writing but requires it when reading.
        nodes.push(root.push(json::Node::default()));
    }
    let scene = root.push(json::Scene {
        extensions: None,
        extras: Default::default(),
        nodes,
    });
    root.scene = Some(scene);

    let json_text = with_names(&root, name);
    let glb = gltf::binary::Glb {
        header: gltf::binary::Header {
            magic: *b"glTF",
            version: 2,
            length: 0, // computed by to_vec
        },
        json: Cow::Owned(json_text.into_bytes()),
        bin: (!bin.bin.is_empty()).then_some(Cow::Owned(bin.bin)),
    };
    glb.to_vec().expect("writing GLB to memory cannot fail")
}

/// Serialises the document and names its scene, node, mesh and material. (The product
/// builds gltf without its `names` feature, so names are added to the JSON here.)
fn with_names(root: &json::Root, name: &str) -> String {
    let mut value = json::serialize::to_value(root).expect("glTF JSON serialises");
    for key in ["scenes", "nodes", "meshes", "materials"] {
        if let Some(items) = value.get_mut(key).and_then(|v| v.as_array_mut()) {
            for item in items {
                if let Some(object) = item.as_object_mut() {
                    object.insert("name".to_owned(), json::Value::from(name));
                }
            }
        }
    }
    json::serialize::to_string(&value).expect("JSON serialises")
}

// ---------------------------------------------------------------------------------------
// STL

/// One 50-byte binary STL facet record.
fn stl_facet(mesh: &Mesh, t: [u32; 3]) -> [u8; 50] {
    let mut record = [0u8; 50];
    let values = facet_normal(mesh, t)
        .into_iter()
        .chain(t.iter().flat_map(|&i| mesh.positions[i as usize]));
    for (k, v) in values.enumerate() {
        record[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
    }
    record
}

/// A binary STL in millimetres with facet normals (computed; zero for degenerate
/// triangles). The 80-byte header names the model, never starts with `solid` and ends in
/// a NUL byte.
///
/// admesh and PrusaSlicer take a file for ASCII STL when none of the 128 bytes after the
/// header is above 127, whatever its size, and then fail or hang. So the first facet
/// written is one whose record has such a byte (almost any facet with a unit normal);
/// the facet order carries no meaning in STL.
pub fn stl(mesh: &Mesh, name: &str) -> Vec<u8> {
    let triangles: Vec<[u32; 3]> = valid_triangles(mesh).collect();
    let mut records: Vec<[u8; 50]> = triangles.iter().map(|&t| stl_facet(mesh, t)).collect();
    if let Some(k) = records.iter().position(|r| r.iter().any(|&b| b > 127)) {
        records.swap(0, k);
    }
    let mut out = Vec::with_capacity(84 + 50 * records.len());
    let mut header = format!("StrataMake binary STL: {}", safe_name(name)).into_bytes();
    header.truncate(79);
    header.resize(80, 0);
    out.extend_from_slice(&header);
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for record in &records {
        out.extend_from_slice(record);
    }
    out
}

// ---------------------------------------------------------------------------------------
// 3MF

const CONTENT_TYPES_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
  <Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>
</Types>
"#;

const RELS_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Target="/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>
</Relationships>
"#;

/// The model part of a 3MF package: `unit="millimeter"`, one mesh object, one build item.
fn three_mf_model(mesh: &Mesh, name: &str) -> String {
    let name = xml_escape(name);
    let mut xml = String::with_capacity(64 * mesh.positions.len() + 64 * mesh.triangles.len());
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(
        "<model unit=\"millimeter\" xml:lang=\"en-US\" \
         xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\">\n",
    );
    let _ = writeln!(xml, "  <metadata name=\"Title\">{name}</metadata>");
    xml.push_str("  <metadata name=\"Application\">StrataMake</metadata>\n");
    xml.push_str("  <resources>\n");
    let _ = writeln!(xml, "    <object id=\"1\" type=\"model\" name=\"{name}\">");
    xml.push_str("      <mesh>\n        <vertices>\n");
    for p in &mesh.positions {
        let _ = writeln!(
            xml,
            "          <vertex x=\"{}\" y=\"{}\" z=\"{}\"/>",
            p[0], p[1], p[2]
        );
    }
    xml.push_str("        </vertices>\n        <triangles>\n");
    for t in valid_triangles(mesh) {
        let _ = writeln!(
            xml,
            "          <triangle v1=\"{}\" v2=\"{}\" v3=\"{}\"/>",
            t[0], t[1], t[2]
        );
    }
    xml.push_str("        </triangles>\n      </mesh>\n    </object>\n  </resources>\n");
    xml.push_str("  <build>\n    <item objectid=\"1\"/>\n  </build>\n</model>\n");
    xml
}

/// A 3MF package (core specification): `[Content_Types].xml`, `_rels/.rels` and
/// `3D/3dmodel.model` in millimetres, the mesh as it is (no build transform).
pub fn three_mf(mesh: &Mesh, name: &str) -> Vec<u8> {
    let model = three_mf_model(mesh, name);
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES_XML.as_bytes()),
        ("_rels/.rels", RELS_XML.as_bytes()),
        ("3D/3dmodel.model", model.as_bytes()),
    ])
}

/// A deflated zip archive of `(path, bytes)` parts, in memory.
fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes) in parts {
        zip.start_file(*path, options)
            .and_then(|()| zip.write_all(bytes).map_err(Into::into))
            .expect("writing a zip to memory cannot fail");
    }
    zip.finish()
        .expect("writing a zip to memory cannot fail")
        .into_inner()
}

// ---------------------------------------------------------------------------------------
// OBJ

/// [`obj`] as one download: a zip with `<name>.obj` and its MTL.
pub fn obj_zip(mesh: &Mesh, name: &str) -> Vec<u8> {
    let (obj, mtl) = obj(mesh, name);
    zip_of(&[
        (&format!("{}.obj", safe_name(name)), &obj),
        (&obj_mtl_file_name(name), &mtl),
    ])
}

/// The MTL file name an OBJ written for `name` refers to (`mtllib`): save the MTL under
/// this name next to the OBJ.
pub fn obj_mtl_file_name(name: &str) -> String {
    format!("{}.mtl", safe_name(name))
}

/// An OBJ (millimetres, +z up as in the mesh; most tools import OBJ as +y up, so the model
/// lies on its back there) and its MTL. Writes `v`, `vt` when the mesh has UVs (OBJ's v
/// points up, so `vt u 1−v`), creased `vn`, and `f v/vt/vn` faces using one material.
/// The MTL is named by [`obj_mtl_file_name`].
pub fn obj(mesh: &Mesh, name: &str) -> (Vec<u8>, Vec<u8>) {
    let triangles: Vec<[u32; 3]> = valid_triangles(mesh).collect();
    let uvs = valid_uvs(mesh);
    let (normals, corners) = corner_normals(mesh, &triangles);
    let safe = safe_name(name);
    let mut text = String::with_capacity(40 * (mesh.positions.len() * 2 + triangles.len()));
    let _ = writeln!(text, "# {safe}, written by StrataMake (units: millimetres)");
    let _ = writeln!(text, "mtllib {}", obj_mtl_file_name(name));
    let _ = writeln!(text, "o {safe}");
    for p in &mesh.positions {
        let _ = writeln!(text, "v {} {} {}", p[0], p[1], p[2]);
    }
    if let Some(uvs) = uvs {
        for uv in uvs {
            let _ = writeln!(text, "vt {} {}", uv[0], 1.0 - uv[1]);
        }
    }
    for n in &normals {
        let _ = writeln!(text, "vn {} {} {}", n[0], n[1], n[2]);
    }
    text.push_str("usemtl material\n");
    for (t, c) in triangles.iter().zip(&corners) {
        text.push('f');
        for k in 0..3 {
            let (v, vn) = (t[k] + 1, c[k] + 1);
            if uvs.is_some() {
                let _ = write!(text, " {v}/{v}/{vn}");
            } else {
                let _ = write!(text, " {v}//{vn}");
            }
        }
        text.push('\n');
    }
    let mtl = "# StrataMake\nnewmtl material\nKa 0 0 0\nKd 0.8 0.8 0.8\nKs 0 0 0\nd 1\nillum 1\n";
    (text.into_bytes(), mtl.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tetrahedron() -> Mesh {
        crate::engines::mesh::tests::tetrahedron(10.0)
    }

    #[test]
    fn stl_layout() {
        let bytes = stl(&tetrahedron(), "solid thing");
        assert_eq!(bytes.len(), 84 + 4 * 50);
        assert!(!bytes.starts_with(b"solid"));
        assert_eq!(u32::from_le_bytes(bytes[80..84].try_into().unwrap()), 4);
        // First facet normal points down (−z).
        let nz = f32::from_le_bytes(bytes[92..96].try_into().unwrap());
        assert_eq!(nz, -1.0);
    }

    #[test]
    fn stl_never_looks_like_ascii_to_admesh() {
        let mut mesh = tetrahedron();
        mesh.triangles.insert(0, [0, 1, 1]); // degenerate: zero normal, small coordinates
        let bytes = stl(&mesh, &"a very long name ".repeat(10));
        assert_eq!(bytes[79], 0);
        assert!(bytes[80..80 + 128].iter().any(|&b| b > 127));
        assert_eq!(bytes.len(), 84 + 5 * 50);
    }

    #[test]
    fn glb_converts_units_and_axes() {
        let bytes = glb(&tetrahedron(), None, "tet");
        let g = gltf::Gltf::from_slice(&bytes).unwrap();
        let prim = g
            .document
            .meshes()
            .next()
            .unwrap()
            .primitives()
            .next()
            .unwrap();
        let bounds = prim.bounding_box();
        assert_eq!(bounds.min, [0.0, 0.0, -0.01]);
        assert_eq!(bounds.max, [0.01, 0.01, 0.0]);
        let json = String::from_utf8_lossy(&bytes[20..]).to_string();
        assert!(json.contains("\"name\":\"tet\""));
    }

    #[test]
    fn crease_splits_a_cube_corner() {
        // Every tetrahedron corner has faces at ≥ 90°, except none are coplanar: each
        // vertex gets one normal per face.
        let mesh = tetrahedron();
        let (normals, _) = corner_normals(&mesh, &mesh.triangles);
        assert_eq!(normals.len(), 12);
        for n in normals {
            let len = n.iter().map(|c| c * c).sum::<f32>().sqrt();
            assert!((len - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn out_of_range_triangles_are_skipped() {
        let mut mesh = tetrahedron();
        mesh.triangles.push([0, 1, 99]);
        assert_eq!(stl(&mesh, "x").len(), 84 + 4 * 50);
        let (obj_text, _) = obj(&mesh, "x");
        assert_eq!(
            String::from_utf8(obj_text)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("f "))
                .count(),
            4
        );
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_name("my logo/../x"), "my_logo_.._x");
        assert_eq!(safe_name("..."), "model");
        assert_eq!(obj_mtl_file_name("Logo v2"), "Logo_v2.mtl");
    }
}
