// Bits shared by the library grid (pages/library.js) and the asset page (pages/asset.js).

import { h, icon } from '../ui.js';
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

// The last library view (filters, search) so "Back to library" returns to it.
let lastLibrary = '/library';
export function rememberLibrary(href) {
  lastLibrary = href;
}
export const libraryHref = () => lastLibrary;
