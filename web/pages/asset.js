// /library/{id} — one asset: large view (the 3D viewer for models), inline title, tags,
// details, a model's mesh facts and downloads in every format, generation parameters
// (with "use these settings again" / "use as start image" / "make a 3D model"), download,
// delete, and "Share to community" (a post of it).

import { h, icon, toast, errorMessage, spinner, confirmAction, copyIconButton, formatBytes, absoluteTime, relativeTime, badge, tagEditor } from '../ui.js';
import { get, patch, del, ApiError } from '../api.js';
import { navigate } from '../router.js';
import { instanceName } from '../state.js';
import { assetTitle, formatLabel, kindLabel, dimensions, placeholderTile, libraryHref, modelUrl, meshFacts, printableBadge, modelDownloads } from './library-common.js';
import { mountViewer } from '../viewer.js';
import { generationList } from './generate-common.js';

const MAX_TITLE = 120; // the server accepts 1 to 120 characters
const MAX_TAG = 32; // tags are 1 to 32 characters, at most 20 per asset, stored lowercase
const MAX_TAGS = 20;

let current = null; // the asset on screen, for the document title

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

/** "Generation": the prompts, the settings, and buttons to make more like it. */
function generationSection(asset, rawParams) {
  const { list, params } = generationList(rawParams, {
    model: asset.kind === 'model',
    testid: 'asset-params',
    sourceHref: (id) => `/library/${encodeURIComponent(id)}`,
    sourceLabel: asset.kind === 'model' ? 'Made from' : 'Start image',
  });
  return h(
    'section',
    { class: 'side-section', 'aria-labelledby': 'asset-params-h', testid: 'asset-generation' },
    h('h2', { id: 'asset-params-h', class: 'side-heading' }, icon('sparkles'), h('span', {}, 'Generation')),
    list,
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
    // Every change is saved at once; saves run one after another, and a failed one
    // puts back the tags last saved.
    let savedTags = Array.isArray(asset.tags) ? asset.tags.slice() : [];
    let chain = Promise.resolve();
    let latest = null;
    const sameTags = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    const tags = tagEditor({
      tags: savedTags,
      id: 'asset-tag-input',
      max: MAX_TAGS,
      maxLength: MAX_TAG,
      describedBy: 'asset-tag-hint',
      testids: { list: 'asset-tags', chip: 'asset-tag', remove: 'asset-tag-remove', input: 'asset-tag-input' },
      onChange(next) {
        latest = next;
        chain = chain.then(async () => {
          try {
            const res = await patch(`/assets/${encodeURIComponent(asset.id)}`, { tags: next });
            if (res && Array.isArray(res.tags)) {
              asset = res;
              current = asset;
              savedTags = res.tags.slice();
              // Show the server's normalised tags unless the user has changed them again meanwhile.
              if (latest === next && !sameTags(next, res.tags)) tags.set(res.tags);
            } else savedTags = next;
          } catch (err) {
            const msg = (err instanceof ApiError && err.errors && err.errors.tags) || errorMessage(err, 'Could not save the tags');
            toast(Array.isArray(msg) ? msg.join(' ') : String(msg), 'error');
            if (latest === next) tags.set(savedTags);
          }
        });
      },
    });
    const tagEditorEl = tags.el;

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

    // Share to the community: a post of this asset (the dialog asks title, text, tags, audience).
    const shareBtn = h('button', { type: 'button', class: 'btn btn-share', testid: 'asset-share' }, icon('send'), h('span', {}, 'Share to community'));
    shareBtn.addEventListener('click', async () => {
      const { postDialog } = await import('./community-common.js');
      const saved = await postDialog({ asset });
      if (saved) {
        toast('Shared with the community', 'success');
        navigate(`/p/${encodeURIComponent(saved.id)}`);
      }
    });

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
          asset.visibility === 'public'
            ? badge('Public', 'success', { title: 'Shared in a public or unlisted community post', testid: 'asset-visibility' })
            : asset.visibility === 'followers'
            ? h('span', { class: 'badge badge-accent', title: 'Shared with your followers in a community post', testid: 'asset-visibility' }, icon('community'), 'Followers')
            : h('span', { class: 'badge', title: 'Only you can see this', testid: 'asset-visibility' }, icon('lock'), 'Private'),
          asset.source === 'generated' ? badge('Generated', 'accent') : null,
        ),
        h('div', { class: 'side-actions' }, download, deleteBtn),
        shareBtn,
      ),
      h(
        'section',
        { class: 'side-section', 'aria-labelledby': 'asset-tags-h' },
        h('h2', { id: 'asset-tags-h', class: 'side-heading' }, icon('tag'), h('label', { for: 'asset-tag-input' }, 'Tags')),
        tagEditorEl,
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
