// 3D model viewer: `mountViewer(container, { url, title })` shows a binary glTF (GLB), or a
// self-contained .gltf with data: URIs, in an orbitable WebGL view inside `container`
// (`url` can also be the file as a Blob or ArrayBuffer).
//
// This module owns everything the view needs: the glTF 2.0 parser (GLB chunks, accessors
// with strides, normalized and sparse data, triangle lists / strips / fans, node
// transforms, base colour factor and texture), the renderer (WebGL2, or WebGL1 as a
// fallback: Blinn-Phong with a key, fill and rim light or a headlight, wireframe edges,
// a fading ground grid with a soft contact shadow), the orbit / pan / zoom controls
// (mouse, touch, keyboard), the overlay (buttons, size in millimetres, messages) and the
// GPU resources, which destroy() releases. Frames are drawn on demand only.
//
// Materials are drawn opaque and double-sided.
//
// For tests the container carries data-state (loading | ready | error | empty), and after every
// frame data-frames (a count), data-triangles and data-dimensions ("76.0 × 54.8 × 4.0 mm").

import { h, icon, spinner } from './ui.js';

/** A failure whose message can be shown to the user as it is. */
class ModelError extends Error {}

// ---------------------------------------------------------------------------
// glTF parsing
// ---------------------------------------------------------------------------

const GLB_MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a;
const CHUNK_BIN = 0x004e4942;
const MODE_TRIANGLES = 4;
const MODE_STRIP = 5;
const MODE_FAN = 6;
const MAX_NODE_DEPTH = 64;
const MAX_NODE_VISITS = 100000;
const SUPPORTED_EXTENSIONS = new Set(['KHR_mesh_quantization', 'EXT_texture_webp']);
const ELEMENT_SIZE = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4 };
const COMPONENT = {
  5120: { bytes: 1, read: 'getInt8', unit: (v) => Math.max(v / 127, -1) },
  5121: { bytes: 1, read: 'getUint8', unit: (v) => v / 255 },
  5122: { bytes: 2, read: 'getInt16', unit: (v) => Math.max(v / 32767, -1) },
  5123: { bytes: 2, read: 'getUint16', unit: (v) => v / 65535 },
  5125: { bytes: 4, read: 'getUint32' },
  5126: { bytes: 4, read: 'getFloat32' },
};
/** Material of primitives that name none: a neutral clay. */
const CLAY = { color: [0.6, 0.6, 0.63, 1], texture: null, texCoord: 0, roughness: 0.7 };

/** Parses a GLB or .gltf file into { parts, textures, bounds, ground, dimensions, triangles }. */
async function parseModel(buffer) {
  const { json, bin } = splitFile(buffer);
  checkExtensions(json);
  const ctx = { json, buffers: loadBuffers(json, bin) };
  const parts = [];
  for (const { mesh, matrix } of meshPlacements(json)) {
    const primitives = json.meshes?.[mesh]?.primitives;
    if (!primitives) throw new ModelError('A node refers to a missing mesh.');
    for (const primitive of primitives) {
      const part = buildPart(ctx, primitive, matrix);
      if (part) parts.push(part);
    }
  }
  const triangles = parts.reduce((sum, p) => sum + p.indices.length / 3, 0);
  if (!triangles) throw new ModelError('This model has no triangles to show.');
  const bounds = boundsOf(parts);
  return { parts, textures: await loadTextures(ctx, parts), bounds, ground: groundLayout(bounds), dimensions: formatDimensions(bounds.size), triangles };
}

/** GLB: header and chunks; anything else is read as glTF JSON. */
function splitFile(buffer) {
  const view = new DataView(buffer);
  if (view.byteLength < 4 || view.getUint32(0, true) !== GLB_MAGIC) return { json: parseJson(new Uint8Array(buffer)), bin: null };
  if (view.byteLength < 20) throw new ModelError('The file is too short to be a GLB model.');
  const version = view.getUint32(4, true);
  if (version !== 2) throw new ModelError(`This is a glTF ${version} file; only glTF 2.0 can be shown.`);
  const length = view.getUint32(8, true);
  if (length > view.byteLength) throw new ModelError('The GLB file is cut short.');
  let json = null;
  let bin = null;
  for (let offset = 12; offset + 8 <= length; ) {
    const size = view.getUint32(offset, true);
    const type = view.getUint32(offset + 4, true);
    const start = offset + 8;
    if (start + size > length) throw new ModelError('The GLB file is cut short.');
    const chunk = new Uint8Array(buffer, start, size);
    if (type === CHUNK_JSON && !json) json = parseJson(chunk);
    else if (type === CHUNK_BIN && !bin) bin = chunk;
    offset = start + size;
  }
  if (!json) throw new ModelError('The GLB file has no JSON chunk.');
  return { json, bin };
}

function parseJson(bytes) {
  let json;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ModelError('This file is not a glTF 2.0 model.');
  }
  if (!json || typeof json !== 'object' || !String(json.asset?.version ?? '').startsWith('2')) {
    throw new ModelError('This file is not a glTF 2.0 model.');
  }
  return json;
}

function checkExtensions(json) {
  const missing = (json.extensionsRequired || []).filter((name) => !SUPPORTED_EXTENSIONS.has(name));
  if (missing.length) throw new ModelError(`This model needs ${missing.join(', ')}, which the preview does not support.`);
}

function loadBuffers(json, bin) {
  return (json.buffers || []).map((buffer, i) => {
    let data;
    if (buffer.uri !== undefined) data = decodeDataUri(buffer.uri).bytes;
    else if (i === 0 && bin) data = bin;
    else throw new ModelError('The GLB binary chunk is missing.');
    if (data.length < buffer.byteLength) throw new ModelError('A data buffer is shorter than declared.');
    return data;
  });
}

/** `data:<type>;base64,<data>` → { bytes, type }; anything else is a separate file. */
function decodeDataUri(uri) {
  const match = /^data:([^;,]*)[^,]*;base64,(.*)$/s.exec(uri);
  if (!match) throw new ModelError('The model refers to separate files; upload it as a single GLB file instead.');
  const raw = atob(match[2]);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return { bytes, type: match[1] };
}

/** Accessor `index` as a flat `ArrayType` (size numbers per element); normalized data becomes -1…1 / 0…1. */
function readAccessor(ctx, index, ArrayType = Float32Array) {
  const accessor = ctx.json.accessors?.[index];
  const size = accessor && ELEMENT_SIZE[accessor.type];
  const component = accessor && COMPONENT[accessor.componentType];
  if (!size || !component) throw new ModelError('A primitive refers to a missing or unreadable accessor.');
  const values = new ArrayType(accessor.count * size);
  const unit = accessor.normalized ? component.unit : null;
  if (accessor.bufferView !== undefined) readElements(ctx, values, accessor.bufferView, accessor.byteOffset || 0, component, size, unit);
  if (accessor.sparse) applySparse(ctx, values, accessor.sparse, component, size, unit);
  return { values, size, count: accessor.count };
}

/** Fills `out` with `out.length / size` elements read from a buffer view, honouring its byteStride. */
function readElements(ctx, out, viewIndex, byteOffset, component, size, unit) {
  const view = ctx.json.bufferViews?.[viewIndex];
  const data = view && ctx.buffers[view.buffer];
  if (!data) throw new ModelError('An accessor refers to missing data.');
  const count = out.length / size;
  const stride = view.byteStride || component.bytes * size;
  const viewStart = view.byteOffset || 0;
  const start = viewStart + byteOffset;
  const end = start + (count - 1) * stride + component.bytes * size;
  if (count && (end > viewStart + view.byteLength || end > data.length)) throw new ModelError('An accessor reaches past the end of its data.');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = dv[component.read].bind(dv);
  for (let i = 0; i < count; i++) {
    const at = start + i * stride;
    for (let c = 0; c < size; c++) {
      const v = read(at + c * component.bytes, true);
      out[i * size + c] = unit ? unit(v) : v;
    }
  }
}

function applySparse(ctx, out, sparse, component, size, unit) {
  const targets = new Uint32Array(sparse.count);
  readElements(ctx, targets, sparse.indices.bufferView, sparse.indices.byteOffset || 0, COMPONENT[sparse.indices.componentType], 1, null);
  const values = new out.constructor(sparse.count * size);
  readElements(ctx, values, sparse.values.bufferView, sparse.values.byteOffset || 0, component, size, unit);
  for (let k = 0; k < sparse.count; k++) out.set(values.subarray(k * size, (k + 1) * size), targets[k] * size);
}

/** Meshes of the default scene (or the first) with their world matrices; all meshes when there is no scene. */
function meshPlacements(json) {
  const scene = (json.scenes || [])[json.scene ?? 0];
  if (!scene) return (json.meshes || []).map((_, mesh) => ({ mesh, matrix: IDENTITY }));
  const placements = [];
  const stack = (scene.nodes || []).map((node) => ({ node, parent: IDENTITY, depth: 0 }));
  for (let visits = 0; stack.length; visits++) {
    const { node, parent, depth } = stack.pop();
    const n = json.nodes?.[node];
    if (!n) throw new ModelError('A scene refers to a missing node.');
    if (depth > MAX_NODE_DEPTH || visits > MAX_NODE_VISITS) throw new ModelError('The node hierarchy is too deep or loops.');
    const matrix = multiply(parent, nodeMatrix(n));
    if (n.mesh !== undefined) placements.push({ mesh: n.mesh, matrix });
    for (const child of n.children || []) stack.push({ node: child, parent: matrix, depth: depth + 1 });
  }
  return placements;
}

function nodeMatrix(node) {
  if (node.matrix) return node.matrix;
  return compose(node.translation || [0, 0, 0], node.rotation || [0, 0, 0, 1], node.scale || [1, 1, 1]);
}

/** One primitive in world space: { positions, normals, uvs, indices (triangle list), material }, or null when it draws no triangles. */
function buildPart(ctx, primitive, matrix) {
  const mode = primitive.mode ?? MODE_TRIANGLES;
  if (mode !== MODE_TRIANGLES && mode !== MODE_STRIP && mode !== MODE_FAN) return null;
  const attributes = primitive.attributes || {};
  if (attributes.POSITION === undefined) throw new ModelError('A primitive has no POSITION data.');
  const position = readAccessor(ctx, attributes.POSITION);
  if (position.size !== 3) throw new ModelError('POSITION data must have three components.');
  const order = primitive.indices === undefined ? null : readAccessor(ctx, primitive.indices, Uint32Array).values;
  let indices = triangleList(mode, order, position.count);
  if (indices.some((i) => i >= position.count)) throw new ModelError('A primitive refers to vertices it does not have.');
  const material = materialOf(ctx.json, primitive.material);
  const uvAccessor = attributes[`TEXCOORD_${material.texCoord}`];
  let positions = position.values;
  let uvs = material.texture !== null && uvAccessor !== undefined ? vertexAttribute(ctx, uvAccessor, 2, position.count) : null;
  let normals = attributes.NORMAL === undefined ? null : vertexAttribute(ctx, attributes.NORMAL, 3, position.count);
  if (!normals) {
    // glTF asks for flat normals when a primitive has none: give every triangle its own corners.
    positions = unweld(positions, indices, 3);
    uvs = uvs && unweld(uvs, indices, 2);
    normals = flatNormals(positions);
    indices = sequence(indices.length);
  }
  if (toWorld(positions, normals, matrix)) flipWinding(indices);
  return { positions, normals, uvs, indices, material: uvs ? material : { ...material, texture: null } };
}

function vertexAttribute(ctx, index, size, vertexCount) {
  const attribute = readAccessor(ctx, index);
  if (attribute.size !== size || attribute.count !== vertexCount) throw new ModelError('The vertex data of a primitive does not line up.');
  return attribute.values;
}

function materialOf(json, index) {
  const material = index === undefined ? null : json.materials?.[index];
  if (!material) return CLAY;
  const pbr = material.pbrMetallicRoughness || {};
  const texture = pbr.baseColorTexture;
  return { color: pbr.baseColorFactor || [1, 1, 1, 1], texture: texture ? texture.index : null, texCoord: texture?.texCoord || 0, roughness: Math.min(1, Math.max(0, pbr.roughnessFactor ?? 1)) };
}

/** Decodes the base colour textures the parts use: Map(texture index → { image, sampler }). A texture that fails is left out. */
async function loadTextures(ctx, parts) {
  const wanted = new Set(parts.map((p) => p.material.texture).filter((i) => i !== null));
  const textures = new Map();
  await Promise.all(
    [...wanted].map(async (index) => {
      const texture = ctx.json.textures?.[index];
      try {
        const image = await decodeImage(imageBlob(ctx, texture?.source ?? texture?.extensions?.EXT_texture_webp?.source));
        textures.set(index, { image, sampler: ctx.json.samplers?.[texture.sampler] || {} });
      } catch (err) {
        console.warn(`viewer: texture ${index} could not be decoded, drawing without it`, err);
      }
    }),
  );
  return textures;
}

function imageBlob(ctx, index) {
  const image = ctx.json.images?.[index];
  if (!image) throw new ModelError('A texture refers to a missing image.');
  if (image.uri !== undefined) {
    const { bytes, type } = decodeDataUri(image.uri);
    return new Blob([bytes], { type });
  }
  const view = ctx.json.bufferViews?.[image.bufferView];
  const data = view && ctx.buffers[view.buffer];
  if (!data) throw new ModelError('An image refers to missing data.');
  const start = view.byteOffset || 0;
  return new Blob([data.subarray(start, start + view.byteLength)], { type: image.mimeType || '' });
}

async function decodeImage(blob) {
  if (typeof createImageBitmap === 'function') return createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

function closeImages(model) {
  for (const { image } of model.textures.values()) if (typeof image.close === 'function') image.close();
}

// ---------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------

function sequence(n) {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** Triangle list (vertex indices, three per triangle) for a triangles, strip or fan primitive. */
function triangleList(mode, order, vertexCount) {
  const n = order ? order.length : vertexCount;
  const vertex = order ? (i) => order[i] : (i) => i;
  if (mode === MODE_TRIANGLES) return order ? order.subarray(0, n - (n % 3)) : sequence(n - (n % 3));
  const count = Math.max(n - 2, 0);
  const out = new Uint32Array(count * 3);
  for (let i = 0; i < count; i++) {
    const corners = mode === MODE_FAN ? [i + 1, i + 2, 0] : i % 2 ? [i + 1, i, i + 2] : [i, i + 1, i + 2];
    for (let k = 0; k < 3; k++) out[i * 3 + k] = vertex(corners[k]);
  }
  return out;
}

/** Per-corner copy of a vertex attribute (size numbers per vertex). */
function unweld(values, indices, size) {
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    for (let c = 0; c < size; c++) out[k * size + c] = values[indices[k] * size + c];
  }
  return out;
}

/** Normals of unwelded triangles: each corner gets its face's normal. */
function flatNormals(positions) {
  const normals = new Float32Array(positions.length);
  for (let t = 0; t < positions.length; t += 9) {
    const n = normalize(cross(subtract(positions, t + 3, t), subtract(positions, t + 6, t)), [0, 1, 0]);
    for (let k = 0; k < 9; k += 3) normals.set(n, t + k);
  }
  return normals;
}

function subtract(v, a, b) {
  return [v[a] - v[b], v[a + 1] - v[b + 1], v[a + 2] - v[b + 2]];
}

/** Moves positions and normals into world space in place; true when the matrix mirrors (the winding must flip). */
function toWorld(positions, normals, m) {
  const c0 = [m[0], m[1], m[2]];
  const c1 = [m[4], m[5], m[6]];
  const c2 = [m[8], m[9], m[10]];
  // Normals transform by the inverse transpose, which up to a factor 1/det is the cofactor
  // matrix, whose columns are the cross products of the matrix's columns.
  const k0 = cross(c1, c2);
  const k1 = cross(c2, c0);
  const k2 = cross(c0, c1);
  const det = dot(c0, k0);
  const sign = det < 0 ? -1 : 1;
  for (let i = 0; i < positions.length; i += 3) {
    const x = positions[i];
    const y = positions[i + 1];
    const z = positions[i + 2];
    const nx = normals[i];
    const ny = normals[i + 1];
    const nz = normals[i + 2];
    for (let r = 0; r < 3; r++) {
      positions[i + r] = c0[r] * x + c1[r] * y + c2[r] * z + m[12 + r];
      normals[i + r] = sign * (k0[r] * nx + k1[r] * ny + k2[r] * nz);
    }
    const len = Math.hypot(normals[i], normals[i + 1], normals[i + 2]);
    if (len > 0) for (let r = 0; r < 3; r++) normals[i + r] /= len;
  }
  return det < 0;
}

function flipWinding(indices) {
  for (let t = 0; t < indices.length; t += 3) [indices[t + 1], indices[t + 2]] = [indices[t + 2], indices[t + 1]];
}

/** Unique edges of a triangle list as a line list (each edge is a number lo·n + hi, sorted to drop repeats). */
function edgeList(indices, vertexCount) {
  const keys = new Float64Array(indices.length);
  for (let t = 0; t < indices.length; t += 3) {
    for (let k = 0; k < 3; k++) {
      const a = indices[t + k];
      const b = indices[t + (k === 2 ? 0 : k + 1)];
      keys[t + k] = a < b ? a * vertexCount + b : b * vertexCount + a;
    }
  }
  keys.sort();
  const lines = new Uint32Array(keys.length * 2);
  let n = 0;
  for (let i = 0; i < keys.length; i++) {
    if (i && keys[i] === keys[i - 1]) continue;
    const lo = Math.floor(keys[i] / vertexCount);
    lines[n++] = lo;
    lines[n++] = keys[i] - lo * vertexCount;
  }
  return lines.subarray(0, n);
}

/** Axis-aligned box of all parts: { min, max, size, center, radius }. */
function boundsOf(parts) {
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (const { positions } of parts) {
    for (let i = 0; i < positions.length; i += 3) {
      for (let c = 0; c < 3; c++) {
        min[c] = Math.min(min[c], positions[i + c]);
        max[c] = Math.max(max[c], positions[i + c]);
      }
    }
  }
  const size = [0, 1, 2].map((c) => max[c] - min[c]);
  const center = [0, 1, 2].map((c) => (min[c] + max[c]) / 2);
  return { min, max, size, center, radius: Math.max(Math.hypot(...size) / 2, 1e-6) };
}

/**
 * The ground just below the model: grid lines of `step` (a 1-2-5 series, about twelve cells
 * across) fading out at `radius` around `center`, and the rectangle of the contact shadow
 * (`shadowOrigin` + `shadowExtent` on the ground, drawn as `quad`) with the camera that
 * renders the model's silhouette into it and the blur step that softens it.
 */
function groundLayout(bounds) {
  const [sx, sy, sz] = bounds.size;
  const radius = Math.max(sx, sz, sy * 0.6) * 0.95;
  const step = gridStep(radius * 2);
  const y = bounds.min[1] - bounds.radius * 0.002;
  const [x0, z0] = [bounds.center[0], bounds.center[2]];
  const [cx, cz] = [x0, z0].map((c) => Math.round(c / step) * step);
  const cells = Math.ceil(radius / step);
  const lines = [];
  for (let i = -cells; i <= cells; i++) {
    lines.push(cx + i * step, y, cz - cells * step, cx + i * step, y, cz + cells * step);
    lines.push(cx - cells * step, y, cz + i * step, cx + cells * step, y, cz + i * step);
  }
  const blur = Math.max(sx, sz) * 0.025;
  const [rx, rz] = [sx / 2 + blur * 4, sz / 2 + blur * 4];
  const quad = [x0 - rx, y, z0 - rz, x0 + rx, y, z0 - rz, x0 - rx, y, z0 + rz, x0 + rx, y, z0 + rz];
  // Seen from below (looking up +Y), x runs along the map's s axis and z along t.
  const silhouette = {
    view: viewMatrix({ right: [1, 0, 0], up: [0, 0, 1], back: [0, -1, 0] }, [x0, y - bounds.radius, z0]),
    projection: orthographic(rx, rz, sy + bounds.radius * 3),
  };
  return {
    y,
    step,
    center: [x0, z0],
    radius,
    lines: new Float32Array(lines),
    quad: new Float32Array(quad),
    shadowOrigin: [x0 - rx, z0 - rz],
    shadowExtent: [2 * rx, 2 * rz],
    silhouette,
    blurStep: blur / 3 / (2 * Math.max(rx, rz)),
  };
}

function gridStep(span) {
  const raw = span / 12;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return power * (m < 1.8 ? 1 : m < 4 ? 2 : m < 8 ? 5 : 10);
}

/** "width × depth × height mm": glTF is in metres with +Y up, so depth is Z and height is Y. */
function formatDimensions([x, y, z]) {
  return `${[x, z, y].map((v) => (v * 1000).toFixed(1)).join(' \u00d7 ')} mm`;
}

// ---------------------------------------------------------------------------
// Vector and matrix helpers (column-major 4×4 matrices, as WebGL wants them)
// ---------------------------------------------------------------------------

const IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

function dot(a, b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function normalize(v, fallback = v) {
  const len = Math.hypot(v[0], v[1], v[2]);
  return len > 0 ? [v[0] / len, v[1] / len, v[2] / len] : fallback;
}

function multiply(a, b) {
  const out = new Array(16);
  for (let c = 0; c < 4; c++) {
    for (let r = 0; r < 4; r++) {
      out[c * 4 + r] = a[r] * b[c * 4] + a[4 + r] * b[c * 4 + 1] + a[8 + r] * b[c * 4 + 2] + a[12 + r] * b[c * 4 + 3];
    }
  }
  return out;
}

/** Translation × rotation (unit quaternion x, y, z, w) × scale. */
function compose([tx, ty, tz], [x, y, z, w], [sx, sy, sz]) {
  return [
    (1 - 2 * (y * y + z * z)) * sx, 2 * (x * y + z * w) * sx, 2 * (x * z - y * w) * sx, 0,
    2 * (x * y - z * w) * sy, (1 - 2 * (x * x + z * z)) * sy, 2 * (y * z + x * w) * sy, 0,
    2 * (x * z + y * w) * sz, 2 * (y * z - x * w) * sz, (1 - 2 * (x * x + y * y)) * sz, 0,
    tx, ty, tz, 1,
  ];
}

function perspective(fovY, aspect, near, far) {
  const f = 1 / Math.tan(fovY / 2);
  const nf = 1 / (near - far);
  return [f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0];
}

/** Orthographic projection of the box ±halfWidth × ±halfHeight × 0…depth in front of the camera. */
function orthographic(halfWidth, halfHeight, depth) {
  return [1 / halfWidth, 0, 0, 0, 0, 1 / halfHeight, 0, 0, 0, 0, -2 / depth, 0, 0, 0, -1, 1];
}

/** View matrix from an orthonormal camera basis and the eye position. */
function viewMatrix({ right, up, back }, eye) {
  return [right[0], up[0], back[0], 0, right[1], up[1], back[1], 0, right[2], up[2], back[2], 0, -dot(right, eye), -dot(up, eye), -dot(back, eye), 1];
}

// ---------------------------------------------------------------------------
// Orbit camera
// ---------------------------------------------------------------------------

const FOV_Y = (35 * Math.PI) / 180;
const HOME_YAW = (30 * Math.PI) / 180;
const HOME_PITCH = (32 * Math.PI) / 180;
const MAX_PITCH = (88 * Math.PI) / 180;
const FIT_MARGIN = 1.12;

function createCamera() {
  return { target: [0, 0, 0], distance: 1, yaw: HOME_YAW, pitch: HOME_PITCH, radius: 1 };
}

/** Unit vectors of the camera: right, up, and back (from the target towards the eye). */
function cameraBasis({ yaw, pitch }) {
  const back = [Math.cos(pitch) * Math.sin(yaw), Math.sin(pitch), Math.cos(pitch) * Math.cos(yaw)];
  const right = [Math.cos(yaw), 0, -Math.sin(yaw)];
  return { right, up: cross(back, right), back };
}

function eyeOf(camera, basis) {
  return camera.target.map((t, c) => t + basis.back[c] * camera.distance);
}

/** Aims at the middle of `bounds` from the current direction, just far enough to show all of it. */
function fitCamera(camera, bounds, aspect) {
  const basis = cameraBasis(camera);
  const tanY = Math.tan(FOV_Y / 2);
  const tanX = tanY * aspect;
  let distance = 0;
  for (let corner = 0; corner < 8; corner++) {
    const p = [0, 1, 2].map((c) => ((corner >> c) & 1 ? bounds.max[c] : bounds.min[c]) - bounds.center[c]);
    const depth = dot(p, basis.back);
    distance = Math.max(distance, depth + Math.abs(dot(p, basis.right)) / tanX, depth + Math.abs(dot(p, basis.up)) / tanY);
  }
  camera.target = [...bounds.center];
  camera.radius = bounds.radius;
  camera.distance = Math.max(distance * FIT_MARGIN, bounds.radius * 0.1);
}

function homeCamera(camera, bounds, aspect) {
  camera.yaw = HOME_YAW;
  camera.pitch = HOME_PITCH;
  fitCamera(camera, bounds, aspect);
}

/** Turns the view as if the model were dragged by (dx, dy) radians. */
function orbitCamera(camera, dx, dy) {
  camera.yaw -= dx;
  camera.pitch = Math.min(MAX_PITCH, Math.max(-MAX_PITCH, camera.pitch + dy));
}

/** Slides the view as if the model were dragged by (dx, dy) CSS pixels in a view `height` pixels tall. */
function panCamera(camera, dx, dy, height) {
  const { right, up } = cameraBasis(camera);
  const perPixel = (2 * camera.distance * Math.tan(FOV_Y / 2)) / Math.max(height, 1);
  camera.target = camera.target.map((t, c) => t - right[c] * dx * perPixel + up[c] * dy * perPixel);
}

/** factor < 1 moves closer. */
function zoomCamera(camera, factor) {
  camera.distance = Math.min(camera.radius * 25, Math.max(camera.radius * 0.02, camera.distance * factor));
}

// ---------------------------------------------------------------------------
// Renderer
// ---------------------------------------------------------------------------

const ATTRIBUTES = { aPosition: 0, aNormal: 1, aUv: 2 };
const FRAGMENT_PRECISION = `#ifdef GL_FRAGMENT_PRECISION_HIGH
precision highp float;
#else
precision mediump float;
#endif
`;

const MESH_VERTEX = `
attribute vec3 aPosition;
attribute vec3 aNormal;
attribute vec2 aUv;
uniform mat4 uView;
uniform mat4 uProjection;
varying vec3 vPosition;
varying vec3 vNormal;
varying vec2 vUv;
void main() {
  vec4 p = uView * vec4(aPosition, 1.0);
  vPosition = p.xyz;
  vNormal = (uView * vec4(aNormal, 0.0)).xyz;
  vUv = aUv;
  gl_Position = uProjection * p;
}`;

// Lights live in view space, so the side facing the camera is always well lit.
// Colours are shaded in linear space and written out with a 2.2 gamma.
const MESH_FRAGMENT = `${FRAGMENT_PRECISION}
uniform vec4 uBaseColor;
uniform sampler2D uBaseTexture;
uniform vec3 uLightDirs[3];
uniform vec3 uLightColors[3];
uniform vec3 uSky;
uniform vec3 uGround;
uniform vec3 uUp;
uniform float uShininess;
uniform float uSpecular;
varying vec3 vPosition;
varying vec3 vNormal;
varying vec2 vUv;
void main() {
  vec3 n = normalize(vNormal);
  if (!gl_FrontFacing) n = -n;
  vec3 v = normalize(-vPosition);
  vec3 albedo = uBaseColor.rgb * pow(texture2D(uBaseTexture, vUv).rgb, vec3(2.2));
  vec3 diffuse = mix(uGround, uSky, 0.5 + 0.5 * dot(n, uUp));
  vec3 specular = vec3(0.0);
  for (int i = 0; i < 3; i++) {
    float lambert = max(dot(n, uLightDirs[i]), 0.0);
    diffuse += uLightColors[i] * lambert;
    specular += uLightColors[i] * sign(lambert) * pow(max(dot(n, normalize(uLightDirs[i] + v)), 0.0), uShininess);
  }
  vec3 color = albedo * diffuse + specular * uSpecular;
  gl_FragColor = vec4(pow(color, vec3(1.0 / 2.2)), 1.0);
}`;

const LINE_VERTEX = `
attribute vec3 aPosition;
uniform mat4 uView;
uniform mat4 uProjection;
varying vec2 vGround;
void main() {
  vGround = aPosition.xz;
  gl_Position = uProjection * uView * vec4(aPosition, 1.0);
}`;

// Premultiplied colour, faded out with the distance from uCenter on the ground
// (measured in uRadii: full strength up to uInner, gone at 1).
const FADE_FRAGMENT = `${FRAGMENT_PRECISION}
uniform vec4 uColor;
uniform vec2 uCenter;
uniform vec2 uRadii;
uniform float uInner;
varying vec2 vGround;
void main() {
  float a = uColor.a * (1.0 - smoothstep(uInner, 1.0, length((vGround - uCenter) / uRadii)));
  gl_FragColor = vec4(uColor.rgb * a, a);
}`;

// The contact shadow: a soft silhouette texture laid on the ground.
const SHADOW_FRAGMENT = `${FRAGMENT_PRECISION}
uniform sampler2D uShadowMap;
uniform vec2 uOrigin;
uniform vec2 uExtent;
uniform float uAlpha;
varying vec2 vGround;
void main() {
  float a = uAlpha * texture2D(uShadowMap, (vGround - uOrigin) / uExtent).a;
  gl_FragColor = vec4(0.0, 0.0, 0.0, a);
}`;

// One pass of a separable Gaussian blur (sigma: three taps of uStep) over a full-screen quad.
const BLUR_VERTEX = `
attribute vec3 aPosition;
varying vec2 vUv;
void main() {
  vUv = aPosition.xy * 0.5 + 0.5;
  gl_Position = vec4(aPosition.xy, 0.0, 1.0);
}`;

const BLUR_FRAGMENT = `${FRAGMENT_PRECISION}
uniform sampler2D uSource;
uniform vec2 uStep;
varying vec2 vUv;
void main() {
  float sum = 0.0;
  float total = 0.0;
  for (int i = -8; i <= 8; i++) {
    float w = exp(-float(i * i) / 18.0);
    sum += w * texture2D(uSource, vUv + float(i) * uStep).a;
    total += w;
  }
  gl_FragColor = vec4(0.0, 0.0, 0.0, sum / total);
}`;

const LIGHTING = {
  studio: {
    sky: [0.25, 0.26, 0.28],
    ground: [0.08, 0.075, 0.07],
    lights: [
      { dir: [-0.5, 0.65, 0.6], color: [0.8, 0.77, 0.72] },
      { dir: [0.8, 0.05, 0.5], color: [0.2, 0.22, 0.27] },
      { dir: [0.15, 0.45, -0.9], color: [0.35, 0.35, 0.38] },
    ],
  },
  headlight: {
    sky: [0.16, 0.16, 0.17],
    ground: [0.1, 0.1, 0.1],
    lights: [
      { dir: [0, 0, 1], color: [0.8, 0.8, 0.8] },
      { dir: [0, 0, 1], color: [0, 0, 0] },
      { dir: [0, 0, 1], color: [0, 0, 0] },
    ],
  },
};
for (const setup of Object.values(LIGHTING)) {
  setup.dirs = setup.lights.flatMap((l) => normalize(l.dir));
  setup.colors = setup.lights.flatMap((l) => l.color);
}
const SHADOW_ALPHA = 0.4;
const SHADOW_MAP_SIZE = 256;
const FULL_SCREEN = new Float32Array([-1, -1, 0, 1, -1, 0, -1, 1, 0, 1, 1, 0]);
/** Fade radii far beyond any model: full strength everywhere. */
const NO_FADE = [1e30, 1e30];

/** Draws one model; owns every GL object it makes. */
class Renderer {
  constructor(gl) {
    this.gl = gl;
    this.webgl2 = typeof WebGL2RenderingContext !== 'undefined' && gl instanceof WebGL2RenderingContext;
    this.uintIndices = this.webgl2 || !!gl.getExtension('OES_element_index_uint');
    this.anisotropy = gl.getExtension('EXT_texture_filter_anisotropic');
    this.mesh = createProgram(gl, MESH_VERTEX, MESH_FRAGMENT);
    this.lines = createProgram(gl, LINE_VERTEX, FADE_FRAGMENT);
    this.shadow = createProgram(gl, LINE_VERTEX, SHADOW_FRAGMENT);
    this.blur = createProgram(gl, BLUR_VERTEX, BLUR_FRAGMENT);
    this.fullScreen = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.fullScreen);
    gl.bufferData(gl.ARRAY_BUFFER, FULL_SCREEN, gl.STATIC_DRAW);
    this.white = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, this.white);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, 1, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array([255, 255, 255, 255]));
    this.scene = null;
  }

  /** Replaces the scene with `model`; on failure the old scene stays. */
  upload(model) {
    const scene = { buffers: [], textures: [], parts: [], ground: null };
    try {
      const textures = new Map([...model.textures].map(([index, t]) => [index, this.texture(scene, t)]));
      scene.parts = model.parts.map((part) => this.part(scene, part, textures));
      scene.ground = this.ground(scene, model.ground);
    } catch (err) {
      this.release(scene);
      throw err;
    }
    this.release(this.scene);
    this.scene = scene;
  }

  buffer(scene, target, data) {
    const gl = this.gl;
    const buffer = gl.createBuffer();
    scene.buffers.push(buffer);
    gl.bindBuffer(target, buffer);
    gl.bufferData(target, data, gl.STATIC_DRAW);
    return buffer;
  }

  indexBuffer(scene, indices, vertexCount) {
    const gl = this.gl;
    const short = vertexCount <= 65536;
    if (!short && !this.uintIndices) throw new ModelError('This model is too large for the 3D support of this browser.');
    const data = short ? Uint16Array.from(indices) : indices;
    return { buffer: this.buffer(scene, gl.ELEMENT_ARRAY_BUFFER, data), count: indices.length, type: short ? gl.UNSIGNED_SHORT : gl.UNSIGNED_INT };
  }

  part(scene, part, textures) {
    const gl = this.gl;
    const vertexCount = part.positions.length / 3;
    const { color, texture, roughness } = part.material;
    return {
      source: part,
      vertexCount,
      position: this.buffer(scene, gl.ARRAY_BUFFER, part.positions),
      normal: this.buffer(scene, gl.ARRAY_BUFFER, part.normals),
      uv: part.uvs && this.buffer(scene, gl.ARRAY_BUFFER, part.uvs),
      triangles: this.indexBuffer(scene, part.indices, vertexCount),
      edges: null,
      texture: textures.get(texture) || this.white,
      color,
      shininess: 8 + 88 * (1 - roughness) ** 2,
      specular: 0.06 + 0.34 * (1 - roughness),
    };
  }

  /** WebGL1 can neither repeat nor mipmap a texture whose sides are not powers of two: such textures are clamped. */
  texture(scene, { image, sampler }) {
    const gl = this.gl;
    const texture = gl.createTexture();
    scene.textures.push(texture);
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, image);
    const full = this.webgl2 || (isPowerOfTwo(image.width) && isPowerOfTwo(image.height));
    const minFilter = sampler.minFilter || gl.LINEAR_MIPMAP_LINEAR;
    const mipmaps = full && minFilter !== gl.NEAREST && minFilter !== gl.LINEAR;
    if (mipmaps) gl.generateMipmap(gl.TEXTURE_2D);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, mipmaps ? minFilter : gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, sampler.magFilter || gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, full ? sampler.wrapS || gl.REPEAT : gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, full ? sampler.wrapT || gl.REPEAT : gl.CLAMP_TO_EDGE);
    if (mipmaps && this.anisotropy) {
      const max = gl.getParameter(this.anisotropy.MAX_TEXTURE_MAX_ANISOTROPY_EXT);
      gl.texParameterf(gl.TEXTURE_2D, this.anisotropy.TEXTURE_MAX_ANISOTROPY_EXT, Math.min(8, max));
    }
    return texture;
  }

  ground(scene, ground) {
    const gl = this.gl;
    return {
      grid: this.buffer(scene, gl.ARRAY_BUFFER, ground.lines),
      gridCount: ground.lines.length / 3,
      quad: this.buffer(scene, gl.ARRAY_BUFFER, ground.quad),
      shadowMap: this.bakeShadow(scene, ground),
    };
  }

  /** The contact shadow texture: the parts' silhouette seen from below, blurred across then along. */
  bakeShadow(scene, ground) {
    const gl = this.gl;
    const [target, scratch] = [renderTarget(gl), renderTarget(gl)];
    scene.textures.push(target.texture);
    gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
    gl.viewport(0, 0, SHADOW_MAP_SIZE, SHADOW_MAP_SIZE);
    gl.disable(gl.DEPTH_TEST);
    gl.disable(gl.BLEND);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    this.useLines(ground.silhouette, [1, 1, 1, 1], [0, 0], NO_FADE, 0);
    for (const part of scene.parts) {
      bindAttribute(gl, ATTRIBUTES.aPosition, part.position, 3);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, part.triangles.buffer);
      gl.drawElements(gl.TRIANGLES, part.triangles.count, part.triangles.type, 0);
    }
    this.blurPass(target.texture, scratch.framebuffer, [ground.blurStep, 0]);
    this.blurPass(scratch.texture, target.framebuffer, [0, ground.blurStep]);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.deleteFramebuffer(target.framebuffer);
    gl.deleteFramebuffer(scratch.framebuffer);
    gl.deleteTexture(scratch.texture);
    return target.texture;
  }

  blurPass(source, framebuffer, step) {
    const gl = this.gl;
    const { program, uniforms } = this.blur;
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.useProgram(program);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, source);
    gl.uniform1i(uniforms.uSource, 0);
    gl.uniform2fv(uniforms.uStep, step);
    bindAttribute(gl, ATTRIBUTES.aPosition, this.fullScreen, 3);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }

  draw(frame) {
    const gl = this.gl;
    gl.viewport(0, 0, frame.width, frame.height);
    gl.clearColor(0, 0, 0, 0);
    gl.depthMask(true);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    if (!this.scene) return;
    gl.enable(gl.DEPTH_TEST);
    gl.depthFunc(gl.LEQUAL);
    gl.disable(gl.BLEND);
    this.drawMesh(frame);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.depthMask(false);
    if (frame.wireframe) this.drawEdges(frame);
    if (frame.groundAlpha > 0) this.drawGround(frame);
  }

  drawMesh(frame) {
    const gl = this.gl;
    const { program, uniforms } = this.mesh;
    const lighting = LIGHTING[frame.lighting];
    gl.useProgram(program);
    setCamera(gl, uniforms, frame);
    gl.uniform3fv(uniforms.uLightDirs, lighting.dirs);
    gl.uniform3fv(uniforms.uLightColors, lighting.colors);
    gl.uniform3fv(uniforms.uSky, lighting.sky);
    gl.uniform3fv(uniforms.uGround, lighting.ground);
    gl.uniform3fv(uniforms.uUp, frame.upInView);
    gl.uniform1i(uniforms.uBaseTexture, 0);
    gl.activeTexture(gl.TEXTURE0);
    // In wireframe mode the surfaces step back a little so their own edges win the depth test.
    if (frame.wireframe) gl.enable(gl.POLYGON_OFFSET_FILL);
    else gl.disable(gl.POLYGON_OFFSET_FILL);
    gl.polygonOffset(1, 1);
    for (const part of this.scene.parts) {
      bindAttribute(gl, ATTRIBUTES.aPosition, part.position, 3);
      bindAttribute(gl, ATTRIBUTES.aNormal, part.normal, 3);
      if (part.uv) bindAttribute(gl, ATTRIBUTES.aUv, part.uv, 2);
      else {
        gl.disableVertexAttribArray(ATTRIBUTES.aUv);
        gl.vertexAttrib2f(ATTRIBUTES.aUv, 0, 0);
      }
      gl.bindTexture(gl.TEXTURE_2D, part.texture);
      gl.uniform4fv(uniforms.uBaseColor, part.color);
      gl.uniform1f(uniforms.uShininess, part.shininess);
      gl.uniform1f(uniforms.uSpecular, part.specular);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, part.triangles.buffer);
      gl.drawElements(gl.TRIANGLES, part.triangles.count, part.triangles.type, 0);
    }
    gl.disable(gl.POLYGON_OFFSET_FILL);
  }

  drawEdges(frame) {
    const gl = this.gl;
    this.useLines(frame, frame.edgeColor, [0, 0], NO_FADE, 0);
    for (const part of this.scene.parts) {
      part.edges ??= this.indexBuffer(this.scene, edgeList(part.source.indices, part.vertexCount), part.vertexCount);
      bindAttribute(gl, ATTRIBUTES.aPosition, part.position, 3);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, part.edges.buffer);
      gl.drawElements(gl.LINES, part.edges.count, part.edges.type, 0);
    }
  }

  drawGround(frame) {
    const gl = this.gl;
    const { grid, gridCount, quad, shadowMap } = this.scene.ground;
    const { center, radius, shadowOrigin, shadowExtent } = frame.ground;
    const { program, uniforms } = this.shadow;
    gl.useProgram(program);
    setCamera(gl, uniforms, frame);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, shadowMap);
    gl.uniform1i(uniforms.uShadowMap, 0);
    gl.uniform2fv(uniforms.uOrigin, shadowOrigin);
    gl.uniform2fv(uniforms.uExtent, shadowExtent);
    gl.uniform1f(uniforms.uAlpha, SHADOW_ALPHA * frame.groundAlpha);
    bindAttribute(gl, ATTRIBUTES.aPosition, quad, 3);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    const [r, g, b, a] = frame.gridColor;
    this.useLines(frame, [r, g, b, a * frame.groundAlpha], center, [radius, radius], 0.35);
    bindAttribute(gl, ATTRIBUTES.aPosition, grid, 3);
    gl.drawArrays(gl.LINES, 0, gridCount);
  }

  useLines(frame, color, center, radii, inner) {
    const gl = this.gl;
    const { program, uniforms } = this.lines;
    gl.useProgram(program);
    setCamera(gl, uniforms, frame);
    gl.uniform4fv(uniforms.uColor, color);
    gl.uniform2fv(uniforms.uCenter, center);
    gl.uniform2fv(uniforms.uRadii, radii);
    gl.uniform1f(uniforms.uInner, inner);
    gl.disableVertexAttribArray(ATTRIBUTES.aNormal);
    gl.disableVertexAttribArray(ATTRIBUTES.aUv);
  }

  release(scene) {
    if (!scene) return;
    for (const buffer of scene.buffers) this.gl.deleteBuffer(buffer);
    for (const texture of scene.textures) this.gl.deleteTexture(texture);
  }

  dispose() {
    const gl = this.gl;
    this.release(this.scene);
    this.scene = null;
    gl.deleteTexture(this.white);
    gl.deleteBuffer(this.fullScreen);
    for (const { program, shaders } of [this.mesh, this.lines, this.shadow, this.blur]) {
      for (const shader of shaders) gl.deleteShader(shader);
      gl.deleteProgram(program);
    }
  }
}

function isPowerOfTwo(n) {
  return n > 0 && (n & (n - 1)) === 0;
}

/** A SHADOW_MAP_SIZE² RGBA texture with a framebuffer drawing into it. */
function renderTarget(gl) {
  const texture = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, texture);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, SHADOW_MAP_SIZE, SHADOW_MAP_SIZE, 0, gl.RGBA, gl.UNSIGNED_BYTE, null);
  for (const [name, value] of [[gl.TEXTURE_MIN_FILTER, gl.LINEAR], [gl.TEXTURE_MAG_FILTER, gl.LINEAR], [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) {
    gl.texParameteri(gl.TEXTURE_2D, name, value);
  }
  const framebuffer = gl.createFramebuffer();
  gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
  gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
  return { texture, framebuffer };
}

function bindAttribute(gl, location, buffer, size) {
  gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
  gl.enableVertexAttribArray(location);
  gl.vertexAttribPointer(location, size, gl.FLOAT, false, 0, 0);
}

function setCamera(gl, uniforms, frame) {
  gl.uniformMatrix4fv(uniforms.uView, false, frame.view);
  gl.uniformMatrix4fv(uniforms.uProjection, false, frame.projection);
}

/** Compiles and links a program; returns { program, shaders, uniforms: name → location }. */
function createProgram(gl, vertexSource, fragmentSource) {
  const shaders = [compileShader(gl, gl.VERTEX_SHADER, vertexSource), compileShader(gl, gl.FRAGMENT_SHADER, fragmentSource)];
  const program = gl.createProgram();
  for (const shader of shaders) gl.attachShader(program, shader);
  for (const [name, location] of Object.entries(ATTRIBUTES)) gl.bindAttribLocation(program, location, name);
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS) && !gl.isContextLost()) throw new Error(`viewer: shader link failed: ${gl.getProgramInfoLog(program)}`);
  const uniforms = {};
  const count = gl.getProgramParameter(program, gl.ACTIVE_UNIFORMS) || 0;
  for (let i = 0; i < count; i++) {
    const name = gl.getActiveUniform(program, i).name.replace(/\[0\]$/, '');
    uniforms[name] = gl.getUniformLocation(program, name);
  }
  return { program, shaders, uniforms };
}

function compileShader(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS) && !gl.isContextLost()) throw new Error(`viewer: shader compile failed: ${gl.getShaderInfoLog(shader)}`);
  return shader;
}

function createContext(canvas) {
  const options = { antialias: true, alpha: true, premultipliedAlpha: true, preserveDrawingBuffer: true };
  return canvas.getContext('webgl2', options) || canvas.getContext('webgl', options);
}

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

const ORBIT_PER_PIXEL = 0.008;
const KEY_ORBIT = Math.PI / 24;
const KEY_PAN = 24;
const KEY_ZOOM = 1.15;
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

/**
 * Mouse, touch and keyboard on the canvas. `act` gets orbit(dx, dy) in radians, pan(dx, dy)
 * in CSS pixels, zoom(factor) with factor < 1 meaning closer, and reset().
 */
function attachControls(canvas, act) {
  const pointers = new Map();
  let panning = false;
  canvas.addEventListener('pointerdown', (ev) => {
    canvas.setPointerCapture(ev.pointerId);
    pointers.set(ev.pointerId, { x: ev.clientX, y: ev.clientY });
    panning = ev.pointerType === 'mouse' && (ev.button !== 0 || ev.shiftKey);
  });
  canvas.addEventListener('pointermove', (ev) => {
    const last = pointers.get(ev.pointerId);
    if (!last) return;
    const before = pinchOf(pointers);
    pointers.set(ev.pointerId, { x: ev.clientX, y: ev.clientY });
    if (pointers.size === 1) {
      const dx = ev.clientX - last.x;
      const dy = ev.clientY - last.y;
      if (panning || ev.shiftKey) act.pan(dx, dy);
      else act.orbit(dx * ORBIT_PER_PIXEL, dy * ORBIT_PER_PIXEL);
    } else if (pointers.size === 2) {
      const after = pinchOf(pointers);
      act.pan(after.x - before.x, after.y - before.y);
      if (before.spread > 0 && after.spread > 0) act.zoom(before.spread / after.spread);
    }
  });
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) canvas.addEventListener(type, (ev) => pointers.delete(ev.pointerId));
  canvas.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    const pixels = ev.deltaY * (ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1);
    act.zoom(Math.exp(pixels * 0.0015));
  }, { passive: false });
  canvas.addEventListener('dblclick', () => act.reset());
  canvas.addEventListener('contextmenu', (ev) => ev.preventDefault());
  canvas.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || !handleKey(ev, act)) return;
    ev.preventDefault();
  });
}

/** Midpoint and distance of the first two pointers. */
function pinchOf(pointers) {
  const [a, b = a] = pointers.values();
  return a ? { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, spread: Math.hypot(a.x - b.x, a.y - b.y) } : { x: 0, y: 0, spread: 0 };
}

/** Arrow keys orbit (with Shift: pan), + and - zoom, Home resets; false for other keys. */
function handleKey(ev, act) {
  const arrow = ARROWS[ev.key];
  if (arrow && ev.shiftKey) act.pan(arrow[0] * KEY_PAN, arrow[1] * KEY_PAN);
  else if (arrow) act.orbit(arrow[0] * KEY_ORBIT, arrow[1] * KEY_ORBIT);
  else if (ev.key === '+' || ev.key === '=') act.zoom(1 / KEY_ZOOM);
  else if (ev.key === '-' || ev.key === '_') act.zoom(KEY_ZOOM);
  else if (ev.key === 'Home') act.reset();
  else return false;
  return true;
}

// ---------------------------------------------------------------------------
// Overlay
// ---------------------------------------------------------------------------

// ui.js has no mesh or reframe icon: these use its icon frame with paths of their own.
const MESH_PATH = 'M12 3.5 3 20h18zM7.5 11.75h9M12 20l-4.5-8.25M12 20l4.5-8.25';
const REFRAME_PATH = 'M4 9V5a1 1 0 0 1 1-1h4M15 4h4a1 1 0 0 1 1 1v4M20 15v4a1 1 0 0 1-1 1h-4M9 20H5a1 1 0 0 1-1-1v-4M9.5 12a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0-5 0';
const MAX_PIXEL_RATIO = 2;
const NO_WEBGL = 'This browser cannot show 3D content: WebGL is turned off or not supported.';
let overlaySeq = 0;

function glyph(path) {
  const svg = icon('info');
  svg.firstChild.setAttribute('d', path);
  return svg;
}

function toggleButton(label, hint, svg, testid) {
  return h('button', { type: 'button', class: 'icon-btn viewer-btn', 'aria-label': label, 'aria-pressed': 'false', title: hint, testid }, svg);
}

function buildOverlay(title) {
  const hintId = `viewer-hint-${++overlaySeq}`;
  const ui = {
    canvas: h('canvas', { class: 'viewer-canvas', tabindex: '0', role: 'application', 'aria-roledescription': '3D viewer', 'aria-label': title, 'aria-describedby': hintId, testid: 'viewer-canvas' }),
    hint: h(
      'p',
      { id: hintId, class: 'visually-hidden' },
      'Drag to rotate, right-drag or Shift-drag to pan, scroll or pinch to zoom, double-click to reset the view. ' +
        'Keys: arrows rotate, Shift with arrows pans, plus and minus zoom, Home resets.',
    ),
    wireframe: toggleButton('Wireframe', 'Show the triangle edges', glyph(MESH_PATH), 'viewer-wireframe'),
    headlight: toggleButton('Headlight', 'Light from the camera instead of the studio lights', icon('sun'), 'viewer-lighting'),
    reset: h('button', { type: 'button', class: 'icon-btn viewer-btn', 'aria-label': 'Reset view', title: 'Reset view (double-click)', testid: 'viewer-reset' }, glyph(REFRAME_PATH)),
    dimensions: h('span', { class: 'viewer-dims', title: 'Width \u00d7 depth \u00d7 height' }),
    grid: h('span', { class: 'viewer-grid-size' }),
    statusText: h('span', {}, 'Loading 3D model\u2026'),
    message: h('div', { class: 'viewer-message', role: 'alert', hidden: true }),
    probe: h('span', { class: 'viewer-probe', 'aria-hidden': 'true' }),
  };
  ui.status = h('div', { class: 'viewer-status', role: 'status' }, spinner(), ui.statusText);
  ui.toolbar = h('div', { class: 'viewer-toolbar', role: 'group', 'aria-label': '3D view' }, ui.wireframe, ui.headlight, ui.reset);
  ui.info = h('div', { class: 'viewer-info', hidden: true }, ui.dimensions, ui.grid);
  ui.nodes = [ui.canvas, ui.hint, ui.toolbar, ui.info, ui.status, ui.message, ui.probe];
  return ui;
}

function showMessage(ui, heading, detail) {
  ui.message.replaceChildren(icon('alert', 'viewer-message-icon'), h('p', { class: 'viewer-message-title' }, heading), h('p', { class: 'viewer-message-text' }, detail));
  ui.message.hidden = false;
  ui.canvas.hidden = true;
  ui.toolbar.hidden = true;
  ui.info.hidden = true;
}

/** A colour custom property of the viewer as [r, g, b, a] in 0…1 (through a probe element's computed colour). */
function cssColor(probe, name) {
  probe.style.color = `var(${name})`;
  const value = getComputedStyle(probe).color;
  const [r = 0, g = 0, b = 0, a = 1] = (value.match(/-?[\d.]+(?:e-?\d+)?/g) || []).map(Number);
  const scale = value.startsWith('color(') ? 1 : 1 / 255;
  return [r * scale, g * scale, b * scale, a];
}

function formatLength(metres) {
  return `${Number((metres * 1000).toPrecision(3))} mm`;
}

function sizeInPixels(canvas) {
  const ratio = Math.min(window.devicePixelRatio || 1, MAX_PIXEL_RATIO);
  return { width: Math.max(1, Math.round(canvas.clientWidth * ratio)), height: Math.max(1, Math.round(canvas.clientHeight * ratio)) };
}

function abortError() {
  return new DOMException('The viewer moved on to another model or was closed.', 'AbortError');
}

/** The same promise, marked as handled: its failures already show in the view. */
function quiet(promise) {
  promise.catch(() => {});
  return promise;
}

// ---------------------------------------------------------------------------
// The viewer
// ---------------------------------------------------------------------------

/**
 * Mounts a viewer into `container` (which gets the class `viewer`) and loads `url`, which may
 * also be the file itself as a Blob or ArrayBuffer (so may load's argument).
 * Returns { ready, destroy(), setWireframe(on), load(url) }: `ready` and `load()` resolve once
 * the model's first frame is drawn and reject when it cannot be shown (the reason is shown
 * in the view) or when another load() or destroy() comes first (AbortError).
 */
export function mountViewer(container, { url, title = '3D model' } = {}) {
  const ui = buildOverlay(title);
  const camera = createCamera();
  const gl = createContext(ui.canvas);
  const media = window.matchMedia('(prefers-color-scheme: dark)');
  const view = { model: null, moved: false, wireframe: false, lighting: 'studio', frames: 0, raf: 0, loads: 0, abort: null, waiters: [], colors: null, destroyed: false };
  let renderer = null;

  container.classList.add('viewer');
  container.dataset.state = 'loading';
  container.append(...ui.nodes);

  function requestRender() {
    if (!view.raf && !view.destroyed) view.raf = requestAnimationFrame(render);
  }

  function render() {
    view.raf = 0;
    if (!renderer || !view.model || gl.isContextLost()) return;
    const { width, height } = sizeInPixels(ui.canvas);
    if (ui.canvas.width !== width || ui.canvas.height !== height) Object.assign(ui.canvas, { width, height });
    renderer.draw(frameOf(width, height));
    view.frames++;
    Object.assign(container.dataset, { frames: String(view.frames), triangles: String(view.model.triangles), dimensions: view.model.dimensions });
    for (const { resolve } of view.waiters.splice(0)) resolve();
  }

  function frameOf(width, height) {
    const basis = cameraBasis(camera);
    const eye = eyeOf(camera, basis);
    const { bounds, ground } = view.model;
    const fromCenter = Math.hypot(...eye.map((e, c) => e - bounds.center[c]));
    const reach = bounds.radius + ground.radius * 1.5;
    const near = Math.max(fromCenter - reach, fromCenter * 0.01, 1e-6);
    return {
      width,
      height,
      view: viewMatrix(basis, eye),
      projection: perspective(FOV_Y, width / height, near, fromCenter + reach),
      upInView: [basis.right[1], basis.up[1], basis.back[1]],
      lighting: view.lighting,
      wireframe: view.wireframe,
      edgeColor: view.colors.edge,
      gridColor: view.colors.grid,
      ground,
      groundAlpha: Math.min(1, Math.max(0, ((eye[1] - ground.y) / fromCenter) * 4)),
    };
  }

  function nextFrame() {
    return new Promise((resolve, reject) => {
      view.waiters.push({ resolve, reject });
      requestRender();
    });
  }

  function aspect() {
    return ui.canvas.clientWidth / ui.canvas.clientHeight || 4 / 3;
  }

  function refreshColors() {
    view.colors = { edge: cssColor(ui.probe, '--viewer-edge'), grid: cssColor(ui.probe, '--viewer-grid') };
    requestRender();
  }

  function setBusy(busy, text = 'Loading 3D model\u2026') {
    ui.statusText.textContent = text;
    ui.status.hidden = !busy;
    if (busy) container.setAttribute('aria-busy', 'true');
    else container.removeAttribute('aria-busy');
  }

  function fail(err) {
    if (err instanceof ModelError) showMessage(ui, 'Could not show this model', err.message);
    else {
      console.warn('viewer: could not show the model', err);
      showMessage(ui, 'Could not show this model', 'The file is damaged or is not a glTF 2.0 model.');
    }
    container.dataset.state = 'error';
    for (const key of ['triangles', 'dimensions']) delete container.dataset[key];
  }

  /** Shows a parsed model; a replacement of about the same size keeps the view the user chose. */
  function show(model) {
    if (renderer) renderer.upload(model);
    const previous = view.model;
    const keepView = !!previous && view.moved && similarBounds(previous.bounds, model.bounds);
    if (previous) closeImages(previous);
    view.model = model;
    if (!previous) homeCamera(camera, model.bounds, aspect());
    else if (!keepView) fitCamera(camera, model.bounds, aspect());
    view.moved = keepView;
    ui.dimensions.textContent = model.dimensions;
    ui.grid.textContent = `grid ${formatLength(model.ground.step)}`;
    ui.message.hidden = true;
    ui.canvas.hidden = ui.toolbar.hidden = ui.info.hidden = false;
    container.dataset.state = 'ready';
    requestRender();
  }

  function load(source) {
    if (view.destroyed) return quiet(Promise.reject(abortError()));
    const seq = ++view.loads;
    view.abort?.abort();
    const abort = (view.abort = new AbortController());
    setBusy(true);
    const done = (async () => {
      if (!supported) throw new ModelError(NO_WEBGL);
      const model = await fetchModel(source, abort.signal);
      if (seq !== view.loads || view.destroyed) {
        closeImages(model);
        throw abortError();
      }
      show(model);
      await nextFrame();
    })();
    done.then(
      () => seq === view.loads && setBusy(false),
      (err) => {
        if (seq !== view.loads || view.destroyed || err.name === 'AbortError') return;
        setBusy(false);
        fail(err);
      },
    );
    return quiet(done);
  }

  function setWireframe(on) {
    view.wireframe = !!on;
    ui.wireframe.setAttribute('aria-pressed', String(view.wireframe));
    requestRender();
  }

  function setHeadlight(on) {
    view.lighting = on ? 'headlight' : 'studio';
    ui.headlight.setAttribute('aria-pressed', String(on));
    requestRender();
  }

  function resetView() {
    if (!view.model) return;
    homeCamera(camera, view.model.bounds, aspect());
    view.moved = false;
    requestRender();
  }

  function moved(change) {
    return (...args) => {
      if (!view.model) return;
      change(...args);
      view.moved = true;
      requestRender();
    };
  }

  /** Until the user moves the view, a resized view frames the model again. */
  function resized() {
    if (view.model && !view.moved) fitCamera(camera, view.model.bounds, aspect());
    requestRender();
  }

  attachControls(ui.canvas, {
    orbit: moved((dx, dy) => orbitCamera(camera, dx, dy)),
    pan: moved((dx, dy) => panCamera(camera, dx, dy, ui.canvas.clientHeight)),
    zoom: moved((factor) => zoomCamera(camera, factor)),
    reset: resetView,
  });
  ui.wireframe.addEventListener('click', () => setWireframe(!view.wireframe));
  ui.headlight.addEventListener('click', () => setHeadlight(view.lighting !== 'headlight'));
  ui.reset.addEventListener('click', resetView);

  ui.canvas.addEventListener('webglcontextlost', (ev) => {
    if (view.destroyed) return;
    ev.preventDefault();
    renderer = null;
    cancelAnimationFrame(view.raf);
    view.raf = 0;
    setBusy(true, 'Restoring the 3D view\u2026');
  });
  ui.canvas.addEventListener('webglcontextrestored', () => {
    if (view.destroyed) return;
    renderer = new Renderer(gl);
    if (view.model) renderer.upload(view.model);
    setBusy(false);
    requestRender();
  });

  const resizeObserver = new ResizeObserver(resized);
  resizeObserver.observe(ui.canvas);
  const themeObserver = new MutationObserver(refreshColors);
  themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
  media.addEventListener('change', refreshColors);
  refreshColors();

  try {
    renderer = gl && new Renderer(gl);
  } catch (err) {
    console.warn(err);
  }
  const supported = !!renderer;

  let ready;
  if (!supported) {
    setBusy(false);
    showMessage(ui, '3D preview unavailable', NO_WEBGL);
    container.dataset.state = 'error';
    ready = quiet(Promise.reject(new ModelError(NO_WEBGL)));
  } else if (!url) {
    setBusy(false);
    container.dataset.state = 'empty';
    ready = quiet(Promise.reject(new ModelError('No model URL was given.')));
  } else ready = load(url);

  function destroy() {
    if (view.destroyed) return;
    view.destroyed = true;
    view.abort?.abort();
    cancelAnimationFrame(view.raf);
    resizeObserver.disconnect();
    themeObserver.disconnect();
    media.removeEventListener('change', refreshColors);
    for (const { reject } of view.waiters.splice(0)) reject(abortError());
    if (view.model) closeImages(view.model);
    view.model = null;
    if (renderer && !gl.isContextLost()) renderer.dispose();
    gl?.getExtension('WEBGL_lose_context')?.loseContext();
    for (const node of ui.nodes) node.remove();
    container.classList.remove('viewer');
    container.removeAttribute('aria-busy');
    for (const key of ['state', 'frames', 'triangles', 'dimensions']) delete container.dataset[key];
  }

  return { ready, destroy, setWireframe, load };
}

/** `source` is a URL, or the file itself as a Blob or ArrayBuffer (the app's CSP does not let fetch() read blob: URLs). */
async function fetchModel(source, signal) {
  if (source instanceof ArrayBuffer) return parseModel(source);
  if (source instanceof Blob) return parseModel(await source.arrayBuffer());
  let response;
  try {
    response = await fetch(source, { signal, credentials: 'same-origin' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ModelError('The model could not be downloaded. Check the connection and try again.');
  }
  if (!response.ok) throw new ModelError(`The model could not be downloaded (HTTP ${response.status}).`);
  return parseModel(await response.arrayBuffer());
}

/** Boxes whose sides lie within 5 % of the larger model's size of each other. */
function similarBounds(a, b) {
  const tolerance = Math.max(a.radius, b.radius) * 0.1;
  return [0, 1, 2].every((c) => Math.abs(a.min[c] - b.min[c]) < tolerance && Math.abs(a.max[c] - b.max[c]) < tolerance);
}
