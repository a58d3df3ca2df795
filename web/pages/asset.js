// /library/{id} — one asset: large view (the 3D viewer for models), inline title, tags,
// details, a model's mesh facts and downloads in every format, generation parameters
// (with "use these settings again" / "use as start image" / "make a 3D model"), download
// and delete.

import { h, icon, toast, errorMessage, spinner, confirmAction, copyIconButton, formatBytes, absoluteTime, relativeTime, badge, asText } from '../ui.js';
import { get, patch, del, ApiError } from '../api.js';
import { navigate } from '../router.js';
import { instanceName } from '../state.js';
import { assetTitle, formatLabel, kindLabel, dimensions, placeholderTile, libraryHref, modelUrl, meshFacts, printableBadge, modelDownloads } from './library-common.js';
import { mountViewer } from '../viewer.js';
import { paramFacts } from './generate-common.js';

const MAX_TITLE = 120; // the server accepts 1 to 120 characters
const MAX_TAG = 32; // tags are 1 to 32 characters, at most 20 per asset, stored lowercase
const MAX_TAGS = 20;

// Generation parameters shown first, in this order; everything else follows alphabetically.
const PARAM_ORDER = ['model', 'seed', 'steps', 'cfg_scale', 'guidance', 'sampler', 'scheduler', 'width', 'height', 'strength'];
const PARAM_LABELS = { cfg_scale: 'CFG scale', cfg: 'CFG scale', seed: 'Seed', steps: 'Steps', sampler: 'Sampler', scheduler: 'Scheduler', model: 'Model', width: 'Width', height: 'Height', strength: 'Strength', guidance: 'Guidance' };

let current = null; // the asset on screen, for the document title

function humanKey(k) {
  if (PARAM_LABELS[k]) return PARAM_LABELS[k];
  const s = String(k).replace(/[_-]+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function backLink() {
  return h('a', { href: libraryHref(), class: 'back-link', testid: 'asset-back' }, icon('arrowLeft'), h('span', {}, 'Library'));
}

function notFound(main) {
  main.replaceChildren(
    h(
      'div',
      { class: 'page page-narrow center-page', testid: 'asset-not-found' },
      h('div', { class: 'empty-icon big' }, icon('image')),
      h('h1', { tabindex: '-1' }, 'This item isn\u2019t in your library'),
      h('p', { class: 'muted' }, 'It may have been deleted, or the link belongs to someone else\u2019s private library.'),
      h('a', { href: libraryHref(), class: 'btn btn-primary' }, icon('arrowLeft'), h('span', {}, 'Back to library')),
    ),
  );
}

// Parameters shown by paramFacts() or not worth showing; anything else is listed after them.
const HIDDEN_PARAMS = new Set(['prompt', 'negative_prompt', 'model', 'model_name', 'model_hash', 'width', 'height', 'seed', 'steps', 'guidance_scale', 'scheduler', 'strength', 'source_asset_id', 'count', 'job_id']);

const generateHref = (key, asset) => `/generate?${key}=${encodeURIComponent(asset.id)}`;

function useAsStartLink(asset) {
  return h('a', { href: generateHref('source', asset), class: 'btn btn-secondary btn-sm', testid: 'asset-use-source' }, icon('image'), h('span', {}, 'Use as start image'));
}

function make3dLink(asset) {
  return h('a', { href: `/make-3d?source=${encodeURIComponent(asset.id)}`, class: 'btn btn-secondary btn-sm', testid: 'asset-make-3d' }, icon('cube'), h('span', {}, 'Make a 3D model'));
}

/** A 3D model: whether it prints, its facts, and every download format. */
function modelSection(asset) {
  const mesh = asset.mesh;
  return h(
    'section',
    { class: 'side-section', 'aria-labelledby': 'asset-model-h', testid: 'asset-model' },
    h('h2', { id: 'asset-model-h', class: 'side-heading' }, icon('cube'), h('span', {}, '3D model'), mesh ? printableBadge(mesh) : null),
    mesh ? meshFacts(mesh) : h('p', { class: 'hint' }, 'The facts of this model were not measured when it was uploaded.'),
    h('h3', { class: 'side-subheading' }, 'Download as'),
    modelDownloads(asset),
  );
}

const MODE_LABELS = { relief: 'Relief', lithophane: 'Lithophane', extrusion: 'Silhouette' };
const MM_PARAMS = { width_mm: 'Width', base_mm: 'Base', max_height_mm: 'Relief height', height_mm: 'Height', min_thickness_mm: 'Thinnest', max_thickness_mm: 'Thickest', max_error_mm: 'Detail tolerance' };

/** A 3D model's settings in words: "Lithophane", "12 mm", "Curved, 120°". */
function readableMeshParams(params) {
  const p = { ...params };
  const out = {};
  if (p.mode) out.mode = MODE_LABELS[p.mode] || p.mode;
  if (p.shape) out.shape = p.shape.kind === 'curved' ? `Curved, ${p.shape.angle_degrees}\u00b0` : 'Flat';
  if (p.frame) out.frame = `${p.frame.width_mm} mm`;
  for (const [k, label] of Object.entries(MM_PARAMS)) if (typeof p[k] === 'number') out[label] = `${p[k]} mm`;
  for (const k of ['mode', 'shape', 'frame', ...Object.keys(MM_PARAMS)]) delete p[k];
  return { ...p, ...out };
}

/** "Generation": the prompts, the settings, and buttons to make more like it. */
function generationSection(asset, rawParams) {
  const params = asset.kind === 'model' ? readableMeshParams(rawParams) : rawParams;
  const promptBlock = (k) =>
    h(
      'div',
      { class: `prompt-block ${k === 'negative_prompt' ? 'is-negative' : ''}`.trim() },
      h('dt', {}, humanKey(k), copyIconButton(() => String(params[k]), { what: humanKey(k) })),
      h('dd', {}, asText(params[k])),
    );
  const prose = ['prompt', 'negative_prompt'].filter((k) => params[k] !== undefined && params[k] !== null && params[k] !== '');
  const facts = paramFacts(params, { sourceHref: (id) => `/library/${encodeURIComponent(id)}`, sourceLabel: asset.kind === 'model' ? 'Made from' : 'Start image' });
  const extra = Object.keys(params)
    .filter((k) => !HIDDEN_PARAMS.has(k) && params[k] !== null && params[k] !== undefined && params[k] !== '')
    .sort((a, b) => {
      const ia = PARAM_ORDER.indexOf(a);
      const ib = PARAM_ORDER.indexOf(b);
      if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
      return a.localeCompare(b);
    })
    .map((k) => [humanKey(k), asText(params[k]), k]);
  const rows = [...facts, ...extra];
  return h(
    'section',
    { class: 'side-section', 'aria-labelledby': 'asset-params-h', testid: 'asset-generation' },
    h('h2', { id: 'asset-params-h', class: 'side-heading' }, icon('sparkles'), h('span', {}, 'Generation')),
    h(
      'dl',
      { class: 'params-list', testid: 'asset-params' },
      prose.map(promptBlock),
      rows.length
        ? h(
            'div',
            { class: 'params-grid' },
            rows.map(([label, value, key]) => h('div', { class: `param${key === 'model' ? ' param-wide' : ''}`, dataset: { param: key } }, h('dt', {}, label), h('dd', { class: typeof value === 'number' ? 'num' : null }, value))),
          )
        : null,
    ),
    asset.kind === 'model' && rawParams.source_asset_id
      ? h('div', { class: 'side-actions side-actions-wrap' }, h('a', { href: `/make-3d?from=${encodeURIComponent(asset.id)}`, class: 'btn btn-secondary btn-sm', testid: 'asset-remake-3d' }, icon('sliders'), h('span', {}, 'Adjust and make again')))
      : params.prompt
      ? h(
          'div',
          { class: 'side-actions side-actions-wrap' },
          h('a', { href: generateHref('from', asset), class: 'btn btn-secondary btn-sm', testid: 'asset-reuse' }, icon('sliders'), h('span', {}, 'Use these settings again')),
          asset.kind === 'image' ? useAsStartLink(asset) : null,
          asset.kind === 'image' ? make3dLink(asset) : null,
        )
      : null,
  );
}

/** For uploaded images: start a generation from it. */
function startImageSection(asset) {
  return h(
    'section',
    { class: 'side-section', 'aria-labelledby': 'asset-create-h' },
    h('h2', { id: 'asset-create-h', class: 'side-heading' }, icon('sparkles'), h('span', {}, 'Create')),
    h('p', { class: 'hint' }, 'Make new images that start from this one, or turn it into a printable 3D model.'),
    h('div', { class: 'side-actions side-actions-wrap' }, useAsStartLink(asset), make3dLink(asset)),
  );
}

export default {
  title: () => (current ? assetTitle(current) : 'Library'),
  access: 'user',
  async render(main, { route, signal }) {
    current = null;
    const id = route.id;
    main.replaceChildren(h('div', { class: 'page page-wide asset-page' }, h('div', { class: 'asset-topbar' }, backLink()), h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'Loading\u2026'))));
    let asset;
    try {
      asset = await get(`/assets/${encodeURIComponent(id)}`, { signal });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 400 || err.status === 403)) {
        notFound(main);
        return;
      }
      throw err;
    }
    current = asset;

    // ----------------------------------------------------------------- viewer
    let view;
    if (asset.kind === 'image') {
      const img = h('img', {
        src: asset.preview_url || asset.url,
        alt: assetTitle(asset),
        class: Number(asset.width) > 0 && Number(asset.width) < 256 ? 'asset-full is-small' : 'asset-full',
        decoding: 'async',
        width: asset.width || null,
        height: asset.height || null,
      });
      const stage = h('div', { class: 'asset-stage-inner' }, img);
      img.addEventListener('load', () => stage.classList.add('is-loaded'));
      img.addEventListener('error', () => stage.replaceChildren(placeholderTile(asset, { big: true })));
      view = h(
        'figure',
        { class: 'asset-stage asset-stage-image', testid: 'asset-view' },
        stage,
        h('a', { href: asset.url, class: 'stage-btn', target: '_blank', rel: 'noopener', testid: 'asset-open-original' }, icon('external'), h('span', {}, 'Full size')),
      );
    } else {
      const holder = h('div', { class: 'viewer asset-viewer', testid: 'asset-viewer' });
      view = h('figure', { class: 'asset-stage asset-stage-model', testid: 'asset-view' }, holder);
      const viewer = mountViewer(holder, { url: modelUrl(asset), title: assetTitle(asset) });
      viewer.ready.catch(() => {});
      signal.addEventListener('abort', () => viewer.destroy(), { once: true });
    }

    // ------------------------------------------------------------------ title
    const titleH = h('h1', { class: 'asset-title', testid: 'asset-title', tabindex: '-1', title: 'Click to rename' }, assetTitle(asset));
    const renameBtn = h('button', { type: 'button', class: 'icon-btn', testid: 'asset-rename', 'aria-label': 'Rename', title: 'Rename' }, icon('pencil'));
    const titleInput = h('input', { type: 'text', class: 'input asset-title-input', testid: 'asset-title-input', 'aria-label': 'Title', maxlength: String(MAX_TITLE), autocomplete: 'off', enterkeyhint: 'done', hidden: true });
    const titleError = h('p', { class: 'field-error', id: 'asset-title-error', hidden: true });
    const titleWrap = h('div', { class: 'asset-title-row' }, titleH, renameBtn, titleInput);
    let editing = false;
    let saving = false;

    function startEdit() {
      if (editing) return;
      editing = true;
      titleInput.value = asset.title || '';
      titleInput.placeholder = asset.filename || 'Title';
      titleH.hidden = true;
      renameBtn.hidden = true;
      titleInput.hidden = false;
      titleInput.focus();
      titleInput.select();
    }
    function stopEdit(refocus = true) {
      editing = false;
      titleInput.hidden = true;
      titleH.hidden = false;
      renameBtn.hidden = false;
      titleError.hidden = true;
      titleInput.removeAttribute('aria-invalid');
      titleInput.removeAttribute('aria-describedby');
      if (refocus) renameBtn.focus();
    }
    async function commitTitle() {
      if (!editing || saving) return;
      const v = titleInput.value.replace(/\s+/g, ' ').trim();
      if (!v || v === (asset.title || '')) {
        stopEdit();
        return;
      }
      saving = true;
      titleInput.disabled = true;
      try {
        const res = await patch(`/assets/${encodeURIComponent(asset.id)}`, { title: v });
        asset = res && typeof res === 'object' && res.id !== undefined ? res : { ...asset, title: v };
        current = asset;
        titleH.textContent = assetTitle(asset);
        document.title = `${assetTitle(asset)} \u00b7 ${instanceName()}`;
        titleInput.disabled = false;
        saving = false;
        stopEdit();
        toast('Renamed', 'success');
      } catch (err) {
        saving = false;
        titleInput.disabled = false;
        const msg = (err instanceof ApiError && err.errors && err.errors.title) || errorMessage(err, 'Could not rename it');
        titleError.textContent = Array.isArray(msg) ? msg.join(' ') : String(msg);
        titleError.hidden = false;
        titleInput.setAttribute('aria-invalid', 'true');
        titleInput.setAttribute('aria-describedby', titleError.id);
        titleInput.focus();
      }
    }
    titleH.addEventListener('click', startEdit);
    renameBtn.addEventListener('click', startEdit);
    titleInput.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        commitTitle();
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        ev.stopPropagation();
        stopEdit();
      }
    });
    titleInput.addEventListener('blur', () => {
      // Clicking elsewhere saves, unless the failed save is still being shown.
      if (editing && !saving && titleError.hidden) commitTitle();
    });
    titleInput.addEventListener('input', () => {
      titleError.hidden = true;
      titleInput.removeAttribute('aria-invalid');
    });

    // ------------------------------------------------------------------- tags
    let tags = Array.isArray(asset.tags) ? asset.tags.slice() : [];
    let savedTags = tags.slice();
    let chain = Promise.resolve();
    const tagList = h('ul', { class: 'tag-list', role: 'list', testid: 'asset-tags', 'aria-label': 'Tags' });
    const tagInput = h('input', { type: 'text', id: 'asset-tag-input', class: 'tag-input', testid: 'asset-tag-input', placeholder: 'Add a tag\u2026', maxlength: String(MAX_TAG), autocomplete: 'off', enterkeyhint: 'enter', 'aria-describedby': 'asset-tag-hint' });
    const tagEditor = h('div', { class: 'tag-editor' }, tagList, tagInput);
    tagEditor.addEventListener('click', (ev) => {
      if (ev.target === tagEditor || ev.target === tagList) tagInput.focus();
    });

    function renderTags() {
      // Re-rendering must not drop keyboard focus from a remove button.
      const focusedTag = tagList.contains(document.activeElement) ? document.activeElement.closest('[data-tag]') : null;
      const focusIndex = focusedTag ? [...tagList.children].indexOf(focusedTag) : -1;
      tagList.replaceChildren(
        ...tags.map((t) => {
          const rm = h('button', { type: 'button', class: 'tag-remove', testid: 'asset-tag-remove', 'aria-label': `Remove tag ${t}` }, icon('x'));
          rm.addEventListener('click', () => {
            const i = tags.indexOf(t);
            setTags(tags.filter((x) => x !== t));
            // Keep keyboard users in the list: focus the neighbour's remove button, else the input.
            const btns = tagList.querySelectorAll('.tag-remove');
            (btns[Math.min(i, btns.length - 1)] || tagInput).focus();
          });
          return h('li', { class: 'tag-chip', testid: 'asset-tag', dataset: { tag: t } }, h('span', { class: 'tag-text' }, t), rm);
        }),
      );
      if (focusIndex >= 0) {
        const btns = tagList.querySelectorAll('.tag-remove');
        (btns[Math.min(focusIndex, btns.length - 1)] || tagInput).focus();
      }
    }
    const sameTags = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    function setTags(next) {
      tags = next;
      renderTags();
      const snapshot = next.slice();
      chain = chain.then(async () => {
        try {
          const res = await patch(`/assets/${encodeURIComponent(asset.id)}`, { tags: snapshot });
          if (res && Array.isArray(res.tags)) {
            asset = res;
            current = asset;
            savedTags = res.tags.slice();
            // Show the server's normalised tags unless the user has changed them again meanwhile.
            if (tags === next && !sameTags(tags, res.tags)) {
              tags = res.tags.slice();
              renderTags();
            }
          } else savedTags = snapshot;
        } catch (err) {
          const msg = (err instanceof ApiError && err.errors && err.errors.tags) || errorMessage(err, 'Could not save the tags');
          toast(Array.isArray(msg) ? msg.join(' ') : String(msg), 'error');
          if (tags === next) {
            tags = savedTags.slice();
            renderTags();
          }
        }
      });
    }
    const cleanTag = (raw) => raw.replace(/\s+/g, ' ').trim().replace(/^#+/, '').trim().toLowerCase().slice(0, MAX_TAG);
    function addTag(raw) {
      const t = cleanTag(raw);
      if (!t) return;
      if (tags.includes(t)) {
        toast(`\u201c${t}\u201d is already a tag`, 'info');
        return;
      }
      if (tags.length >= MAX_TAGS) {
        toast(`An item can have at most ${MAX_TAGS} tags`, 'error');
        return;
      }
      setTags([...tags, t]);
    }
    tagInput.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ',') {
        ev.preventDefault();
        const v = tagInput.value;
        tagInput.value = '';
        addTag(v);
      } else if (ev.key === 'Backspace' && !tagInput.value && tags.length) {
        ev.preventDefault();
        setTags(tags.slice(0, -1));
      }
    });
    tagInput.addEventListener('paste', (ev) => {
      const text = ev.clipboardData ? ev.clipboardData.getData('text') : '';
      if (!text.includes(',')) return;
      ev.preventDefault();
      let next = tags.slice();
      for (const t of text.split(',').map(cleanTag)) if (t && !next.includes(t) && next.length < MAX_TAGS) next = [...next, t];
      if (next.length !== tags.length) setTags(next);
    });
    renderTags();

    // ---------------------------------------------------------------- actions
    const download = h('a', { href: asset.download_url || asset.url, class: 'btn btn-primary', download: asset.filename || '', testid: 'asset-download' }, icon('download'), h('span', {}, 'Download original'));
    const deleteBtn = confirmAction(
      h('button', { type: 'button', class: 'btn btn-danger-soft', testid: 'asset-delete' }, icon('trash'), h('span', {}, 'Delete')),
      {
        title: `Delete \u201c${assetTitle(asset)}\u201d?`,
        body: 'It is removed from your library and its storage is freed. This can\u2019t be undone.',
        confirmLabel: 'Delete',
      },
      async () => {
        await del(`/assets/${encodeURIComponent(asset.id)}`);
        toast(`Deleted \u201c${assetTitle(asset)}\u201d`, 'success');
        navigate(libraryHref());
      },
      'Could not delete it',
    );

    // ---------------------------------------------------------------- details
    const sha = String(asset.sha256 || '');
    const shaBtn = copyIconButton(() => sha, { what: 'Checksum', testid: 'asset-copy-sha' });
    const created = new Date(Number(asset.created_at) * 1000);
    const fact = (label, value, testid) => [h('dt', {}, label), h('dd', { testid }, value)];
    const meta = h(
      'dl',
      { class: 'meta-list', testid: 'asset-meta' },
      fact('Type', `${kindLabel(asset)} \u00b7 ${formatLabel(asset)}`, 'asset-meta-type'),
      dimensions(asset) ? fact('Dimensions', `${dimensions(asset)} px`, 'asset-meta-dimensions') : null,
      Number(asset.triangles) > 0 ? fact('Triangles', Number(asset.triangles).toLocaleString(), 'asset-meta-triangles') : null,
      fact('Size', h('span', { title: `${Number(asset.size).toLocaleString()} bytes` }, formatBytes(asset.size)), 'asset-meta-size'),
      fact(
        'Created',
        asset.created_at ? h('time', { datetime: created.toISOString(), title: relativeTime(Number(asset.created_at)) }, absoluteTime(Number(asset.created_at))) : '\u2014',
        'asset-meta-created',
      ),
      fact('File name', h('span', { class: 'mono break' }, asset.filename || '\u2014'), 'asset-meta-filename'),
      fact('Source', asset.source === 'generated' ? 'Generated' : 'Uploaded', 'asset-meta-source'),
      sha ? fact('SHA-256', h('span', { class: 'sha' }, h('code', { class: 'mono', title: sha }, `${sha.slice(0, 12)}\u2026`), shaBtn), 'asset-meta-sha') : null,
    );

    const params = asset.params && typeof asset.params === 'object' && !Array.isArray(asset.params) ? asset.params : null;
    const paramsCard = params && Object.keys(params).length ? generationSection(asset, params) : asset.kind === 'image' ? startImageSection(asset) : null;

    // -------------------------------------------------------------------- page
    const side = h(
      'aside',
      { class: 'asset-side', 'aria-label': 'Details' },
      h(
        'div',
        { class: 'side-section side-head' },
        titleWrap,
        titleError,
        h(
          'div',
          { class: 'badges' },
          badge(kindLabel(asset), 'accent'),
          badge(formatLabel(asset)),
          asset.visibility === 'public' ? badge('Public', 'success') : h('span', { class: 'badge', title: 'Only you can see this' }, icon('lock'), 'Private'),
          asset.source === 'generated' ? badge('Generated', 'accent') : null,
        ),
        h('div', { class: 'side-actions' }, download, deleteBtn),
      ),
      h(
        'section',
        { class: 'side-section', 'aria-labelledby': 'asset-tags-h' },
        h('h2', { id: 'asset-tags-h', class: 'side-heading' }, icon('tag'), h('label', { for: 'asset-tag-input' }, 'Tags')),
        tagEditor,
        h('p', { class: 'hint', id: 'asset-tag-hint' }, 'Press Enter to add a tag. Tags help you find things with search.'),
      ),
      asset.kind === 'model' ? modelSection(asset) : null,
      h('section', { class: 'side-section', 'aria-labelledby': 'asset-meta-h' }, h('h2', { id: 'asset-meta-h', class: 'side-heading' }, icon('info'), h('span', {}, 'Details')), meta),
      paramsCard,
    );

    main.replaceChildren(h('div', { class: 'page page-wide asset-page', dataset: { assetId: String(asset.id) } }, h('div', { class: 'asset-topbar' }, backLink()), h('div', { class: 'asset-layout' }, view, side)));
    signal.addEventListener('abort', () => {
      if (current === asset) current = null;
    });
  },
};
