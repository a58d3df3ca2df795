// Bits shared by the library grid (pages/library.js), the asset page (pages/asset.js) and
// the make-3D page: format names, titles, thumbnails, and a 3D model's facts and downloads.

import { h, icon, badge } from '../ui.js';
import { extensionOf } from '../uploads.js';

const MIME_LABELS = {
  'image/png': 'PNG',
  'image/jpeg': 'JPEG',
  'image/webp': 'WebP',
  'model/gltf-binary': 'GLB',
  'model/gltf+json': 'glTF',
  'model/stl': 'STL',
  'model/3mf': '3MF',
  'model/obj': 'OBJ',
};
const EXT_LABELS = { png: 'PNG', jpg: 'JPEG', jpeg: 'JPEG', webp: 'WebP', glb: 'GLB', gltf: 'glTF', stl: 'STL', '3mf': '3MF', obj: 'OBJ' };

/** Short format name: PNG, JPEG, WebP, GLB, glTF, STL, 3MF, OBJ. */
export function formatLabel(asset) {
  const fmt = String(asset.format || '').toLowerCase();
  if (EXT_LABELS[fmt]) return EXT_LABELS[fmt];
  const mime = String(asset.mime || '').toLowerCase().split(';')[0].trim();
  if (MIME_LABELS[mime]) return MIME_LABELS[mime];
  const ext = extensionOf(asset.filename);
  if (EXT_LABELS[ext]) return EXT_LABELS[ext];
  if (ext) return ext.toUpperCase();
  const sub = mime.split('/')[1];
  return sub ? sub.replace(/^(x-|vnd\.)/, '').toUpperCase() : 'File';
}

export const kindLabel = (asset) => (asset.kind === 'model' ? '3D model' : 'Image');

export function assetTitle(asset) {
  return (asset.title && String(asset.title).trim()) || asset.filename || 'Untitled';
}

export function dimensions(asset) {
  return asset.width && asset.height ? `${asset.width} \u00d7 ${asset.height}` : null;
}

export function assetHref(asset) {
  return `/library/${encodeURIComponent(asset.id)}`;
}

/** Tile for assets without a picture (3D models, broken thumbnails): icon + format. */
export function placeholderTile(asset, { big = false } = {}) {
  const model = asset.kind === 'model';
  return h(
    'div',
    { class: `asset-tile ${model ? 'asset-tile-model' : 'asset-tile-image'} ${big ? 'asset-tile-big' : ''}`.trim(), 'aria-hidden': 'true' },
    h('span', { class: 'asset-tile-icon' }, icon(model ? 'cube' : 'image')),
    h('span', { class: 'asset-tile-format' }, formatLabel(asset)),
  );
}

/** <img> for a card: the 256px thumbnail (falls back to the preview, then the original). */
export function thumbImage(asset) {
  const src = asset.thumbnail_url || asset.preview_url || asset.url;
  const img = h('img', { src, alt: '', loading: 'lazy', decoding: 'async', class: 'asset-img', draggable: 'false' });
  img.addEventListener('error', () => {
    if (img.isConnected) img.replaceWith(placeholderTile(asset));
  });
  return img;
}

/** A 3D model as GLB, whatever format it was stored in (the server converts). */
export const modelUrl = (asset) => `/api/v1/assets/${encodeURIComponent(asset.id)}/download?format=glb`;

const mm = (v) => Number(v).toLocaleString(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** "100.0 × 75.0 × 6.0 mm" (width × depth × height). */
export function mmSize(mesh) {
  const s = (mesh && mesh.size_mm) || [];
  return s.length === 3 ? `${mm(s[0])} \u00d7 ${mm(s[1])} \u00d7 ${mm(s[2])} mm` : null;
}

/** Printable, or what keeps a model from printing. */
export function printableBadge(mesh) {
  if (mesh.printable) return badge('Ready to print', 'success', { testid: 'mesh-printable', title: 'Closed, manifold and consistently wound' });
  const why = !mesh.watertight ? 'Has holes' : !mesh.manifold ? 'Not manifold' : !mesh.consistent_winding ? 'Mixed winding' : 'Needs repair';
  return badge(why, 'warning', { testid: 'mesh-printable', title: 'A slicer may need to repair it before printing' });
}

/** The facts of a model's mesh as a definition list. */
export function meshFacts(mesh) {
  const yes = (v) => (v ? 'Yes' : 'No');
  const row = (label, value, testid) => [h('dt', {}, label), h('dd', { testid }, value)];
  return h(
    'dl',
    { class: 'meta-list', testid: 'mesh-facts' },
    row('Size', mmSize(mesh) || '\u2014', 'mesh-size'),
    row('Volume', `${Number(mesh.volume_cm3).toLocaleString(undefined, { maximumFractionDigits: 2 })} cm\u00b3`, 'mesh-volume'),
    row('Triangles', Number(mesh.triangles).toLocaleString(), 'mesh-triangles'),
    row('Watertight', yes(mesh.watertight), 'mesh-watertight'),
    row('Manifold', yes(mesh.manifold), 'mesh-manifold'),
  );
}

const DOWNLOADS = [
  ['glb', 'GLB', 'Viewers, games and the web; keeps the colours'],
  ['stl', 'STL', 'Any slicer'],
  ['3mf', '3MF', 'Modern slicers; sizes in millimetres'],
  ['obj', 'OBJ', 'OBJ and MTL in a zip, for 3D tools'],
];

/** One download link per format a model converts to. */
export function modelDownloads(asset) {
  const stem = String(asset.filename || 'model').replace(/\.[^.]+$/, '');
  return h(
    'ul',
    { class: 'download-list', role: 'list', testid: 'mesh-downloads' },
    DOWNLOADS.map(([format, label, hint]) =>
      h(
        'li',
        {},
        h(
          'a',
          { href: `/api/v1/assets/${encodeURIComponent(asset.id)}/download?format=${format}`, download: `${stem}.${format === 'obj' ? 'zip' : format}`, class: 'download-item', testid: `mesh-download-${format}` },
          icon('download'),
          h('span', { class: 'download-label' }, label),
          h('span', { class: 'download-hint' }, hint),
        ),
      ),
    ),
  );
}

// The last library view (filters, search) so "Back to library" returns to it.
let lastLibrary = '/library';
export function rememberLibrary(href) {
  lastLibrary = href;
}
export const libraryHref = () => lastLibrary;
