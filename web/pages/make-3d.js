// /make-3d — turn a library image into a printable 3D model. Left: the 3D viewer with a
// live, coarse preview (POST /api/v1/meshes/preview) that follows the settings as they
// change, then the finished model. Right: the source image, the mode (relief, lithophane,
// silhouette), its settings, and "Make model", which queues the full-resolution job
// (progress by generations.js, credits) and shows the result's facts and downloads.
//
// ?source=<image asset id>   the image to start from (otherwise a picker opens)
// ?from=<model asset id>     start from the settings that model was made with

import { h, icon, pageHeader, toast, errorMessage, spinner, badge } from '../ui.js';
import { get, post, ApiError } from '../api.js';
import { replaceQuietly } from '../router.js';
import { follow, isFinal } from '../generations.js';
import { mountViewer } from '../viewer.js';
import { assetTitle, thumbImage, modelUrl, meshFacts, printableBadge, modelDownloads } from './library-common.js';
import { rangeField, pickImage, creditsText, progressFraction, stepLabel, formatDuration, newKey } from './generate-common.js';

const PREVIEW_DELAY_MS = 350;

const MODES = [
  ['relief', 'Relief', 'Height from brightness: the light parts stand up.'],
  ['lithophane', 'Lithophane', 'Thin where the picture is light, thick where it is dark. Print it in white and hold it to the light.'],
  ['extrusion', 'Silhouette', 'The outline of the subject, extruded. The shape comes from transparency or from brightness.'],
];

const DETAIL = [
  ['0', 'Full detail (largest file)'],
  ['0.02', 'Fine (within 0.02 mm)'],
  ['0.05', 'Balanced (within 0.05 mm)'],
  ['0.15', 'Light (within 0.15 mm)'],
];

const MASKS = [
  ['auto', 'Automatic'],
  ['alpha', 'Transparency'],
  ['brightness', 'Brightness'],
];

/**
 * The numeric settings: the request field each one fills, and the modes that show it.
 * Fields shared by modes with other meanings (base, height) have one control per meaning.
 */
const NUMBERS = [
  { key: 'width', name: 'width_mm', label: 'Width (mm)', min: 10, max: 1000, sliderMax: 300, step: 1, value: 100, modes: ['relief', 'lithophane', 'extrusion'], hint: 'The depth follows the image\u2019s proportions.' },
  { key: 'relief_height', name: 'max_height_mm', label: 'Relief height (mm)', min: 0.1, max: 100, sliderMax: 20, step: 0.1, value: 4, modes: ['relief'], hint: 'How far white stands above black.' },
  { key: 'relief_base', name: 'base_mm', label: 'Base (mm)', min: 0.2, max: 50, sliderMax: 10, step: 0.1, value: 2, modes: ['relief'], hint: 'Solid thickness under the darkest point.' },
  { key: 'thinnest', name: 'min_thickness_mm', label: 'Thinnest (mm)', min: 0.2, max: 20, sliderMax: 5, step: 0.1, value: 0.8, modes: ['lithophane'], hint: 'Where the picture is white.' },
  { key: 'thickest', name: 'max_thickness_mm', label: 'Thickest (mm)', min: 0.2, max: 20, sliderMax: 10, step: 0.1, value: 3.2, modes: ['lithophane'], hint: 'Where the picture is black; also the frame\u2019s thickness.' },
  { key: 'curve', name: 'curve_degrees', label: 'Curve (\u00b0)', min: 0, max: 300, step: 5, value: 0, modes: ['lithophane'], hint: '0 is flat; 10 to 300 bends it around a cylinder.' },
  { key: 'frame', name: 'frame_mm', label: 'Frame (mm)', min: 0, max: 50, sliderMax: 20, step: 0.5, value: 0, modes: ['lithophane'], hint: '0 for no frame.' },
  { key: 'shape_height', name: 'max_height_mm', label: 'Height (mm)', min: 0.2, max: 100, sliderMax: 30, step: 0.1, value: 5, modes: ['extrusion'] },
  { key: 'plate', name: 'base_mm', label: 'Base plate (mm)', min: 0, max: 50, sliderMax: 10, step: 0.1, value: 0, modes: ['extrusion'], hint: '0 for none; a plate joins separate shapes.' },
  { key: 'threshold', name: 'threshold', label: 'Threshold', min: 0, max: 255, step: 1, value: 128, modes: ['extrusion'], hint: 'Pixels darker than this are the shape (with a brightness mask).' },
  { key: 'speck', name: 'speck_px', label: 'Drop specks under (px)', min: 0, max: 1000000, sliderMax: 500, step: 1, value: 16, modes: ['extrusion'] },
  { key: 'smoothing', name: 'smoothing', label: 'Smoothing', min: 0, max: 8, step: 0.25, value: 1, modes: ['relief', 'lithophane'], hint: 'Softens noise and sharp steps.' },
  { key: 'resolution', name: 'resolution', label: 'Resolution', min: 16, max: 2048, sliderMax: 2048, step: 16, value: 1024, modes: ['relief', 'lithophane', 'extrusion'], hint: 'Samples along the longer side. The preview uses at most 160.' },
];

// The resolution each mode starts with (the server's defaults), until the user sets one.
const DEFAULT_RESOLUTION = { relief: 1024, lithophane: 400, extrusion: 512 };


function select(id, options, value, testid) {
  return h(
    'select',
    { id, class: 'input', testid },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)),
  );
}

export default {
  title: 'Make a 3D model',
  access: 'user',
  async render(main, { params, signal }) {
    main.replaceChildren(h('div', { class: 'page page-wide make3d-page' }, pageHeader('Make a 3D model', 'Turn an image into a printable model.'), h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'Loading\u2026'))));
    const models = await get('/models', { signal });
    let source = null;
    let from = null;
    if (params.get('source')) source = await get(`/assets/${encodeURIComponent(params.get('source'))}`, { signal }).catch(() => null);
    if (params.get('from')) from = await get(`/assets/${encodeURIComponent(params.get('from'))}`, { signal }).catch(() => null);
    if (!source && from && from.params && from.params.source_asset_id) {
      source = await get(`/assets/${encodeURIComponent(from.params.source_asset_id)}`, { signal }).catch(() => null);
    }

    // ------------------------------------------------------------ controls
    let mode = (from && from.params && from.params.mode) || 'relief';
    const numbers = Object.fromEntries(NUMBERS.map((n) => [n.key, { spec: n, ...rangeField({ ...n, idPrefix: `m3d-${n.key}`, testid: `make3d-${n.key}`, sliderTestid: `make3d-${n.key}-slider` }) }]));
    const detail = select('m3d-detail', DETAIL, '0.05', 'make3d-detail');
    let resolutionChosen = !!(from && from.params && from.params.resolution);
    numbers.resolution.el.addEventListener('input', () => {
      resolutionChosen = true;
    });
    const masks = models.background_model ? [...MASKS, ['subject', `The subject (${models.background_model})`]] : MASKS;
    const mask = select('m3d-mask', masks, 'auto', 'make3d-mask');
    const heightSources = [['brightness', 'Brightness'], ...(models.depth_model ? [['depth', `Depth (${models.depth_model})`]] : [])];
    const heightFrom = select('m3d-height-from', heightSources, 'brightness', 'make3d-height-from');
    const heightFromField = h(
      'div',
      { class: 'field' },
      h('label', { for: 'm3d-height-from', class: 'label' }, 'Height from'),
      heightFrom,
      h('p', { class: 'hint' }, models.depth_model ? 'Depth puts what is near on top, whatever its colour.' : 'An administrator can install a depth model to shape reliefs by depth.'),
    );
    const invert = h('input', { type: 'checkbox', id: 'm3d-invert', class: 'check', testid: 'make3d-invert' });
    const invertLabel = h('label', { for: 'm3d-invert' });
    const invertRow = h('div', { class: 'field field-check' }, h('div', { class: 'check-row' }, invert, invertLabel));
    const maskField = h('div', { class: 'field' }, h('label', { for: 'm3d-mask', class: 'label' }, 'Shape from'), mask);
    const detailField = h('div', { class: 'field' }, h('label', { for: 'm3d-detail', class: 'label' }, 'Level of detail'), detail, h('p', { class: 'hint' }, 'Flat areas are merged; no sample of the image ends up farther than this from the surface.'));

    if (from && from.params) {
      const p = from.params;
      for (const n of Object.values(numbers)) if (n.spec.modes.includes(mode) && typeof p[n.spec.name] === 'number') n.set(p[n.spec.name]);
      if (mode === 'lithophane') {
        if (p.shape && p.shape.kind === 'curved') numbers.curve.set(p.shape.angle_degrees);
        if (p.frame) numbers.frame.set(p.frame.width_mm);
        numbers.thinnest.set(p.min_thickness_mm);
        numbers.thickest.set(p.max_thickness_mm);
      }
      if (mode === 'extrusion') {
        numbers.shape_height.set(p.height_mm);
        if (p.mask) mask.value = p.mask;
      }
      if (typeof p.max_error_mm === 'number') detail.value = String(p.max_error_mm);
      if (mode === 'relief' && p.vision_model && models.depth_model) heightFrom.value = 'depth';
      invert.checked = !!p.invert;
    }

    const modeRadios = MODES.map(([id]) => h('input', { type: 'radio', name: 'mode', value: id, class: 'seg-input', id: `m3d-mode-${id}`, checked: id === mode, testid: `make3d-mode-${id}` }));
    const modeBlurb = h('p', { class: 'hint make3d-blurb', testid: 'make3d-mode-blurb' });
    const modeGroup = h(
      'div',
      { class: 'seg seg-3', role: 'radiogroup', 'aria-labelledby': 'm3d-mode-label' },
      modeRadios.map((r, i) => h('label', { class: 'seg-option', for: r.id }, r, h('span', {}, MODES[i][1]))),
    );

    function setMode(next) {
      mode = next;
      if (!resolutionChosen) numbers.resolution.set(DEFAULT_RESOLUTION[mode]);
      for (const r of modeRadios) r.checked = r.value === mode;
      for (const n of Object.values(numbers)) n.el.hidden = !n.spec.modes.includes(mode);
      const [, , blurb] = MODES.find(([id]) => id === mode);
      modeBlurb.textContent = blurb;
      maskField.hidden = mode !== 'extrusion';
      heightFromField.hidden = mode !== 'relief';
      invertRow.hidden = mode === 'lithophane';
      invertLabel.textContent = mode === 'relief' ? 'Dark is high' : 'Light shapes on a dark background';
      updateThreshold();
      changed();
    }
    function updateThreshold() {
      numbers.threshold.el.hidden = mode !== 'extrusion' || mask.value === 'alpha' || mask.value === 'subject';
    }

    /** The request for the current settings (only what the mode reads). */
    function body() {
      const b = { kind: mode, source_asset_id: source && source.id, max_error_mm: Number(detail.value) };
      for (const n of Object.values(numbers)) {
        if (!n.spec.modes.includes(mode) || n.el.hidden || n.number.value === '') continue;
        b[n.spec.name] = Number(n.number.value);
      }
      if (mode === 'extrusion') b.mask = mask.value;
      if (mode === 'relief' && heightFrom.value !== 'brightness') b.height_from = heightFrom.value;
      if (mode !== 'lithophane') b.invert = invert.checked;
      return b;
    }

    // --------------------------------------------------------------- source
    // The same card as the generate page's start image.
    const sourceThumb = h('span', { class: 'source-thumb' });
    const sourceName = h('span', { class: 'source-name', testid: 'make3d-source-name' });
    const changeBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'make3d-pick' }, icon('image'), h('span', {}, 'Choose image'));
    function showSource() {
      sourceThumb.hidden = !source;
      sourceThumb.replaceChildren(source ? thumbImage(source) : '');
      sourceName.textContent = source ? assetTitle(source) : 'No image chosen';
      changeBtn.lastChild.textContent = source ? 'Change' : 'Choose image';
    }
    changeBtn.addEventListener('click', async () => {
      const picked = await pickImage(signal, { title: 'Choose an image', intro: 'The model is made from this image of your library.', likeness: 'model_from_image' });
      if (!picked) return;
      source = picked;
      replaceQuietly(`/make-3d?source=${encodeURIComponent(source.id)}`);
      showSource();
      changed();
    });

    // --------------------------------------------------------------- viewer
    const holder = h('div', { class: 'viewer make3d-viewer', testid: 'make3d-viewer' });
    const previewNote = h('span', { class: 'make3d-chip', testid: 'make3d-preview-state', role: 'status' });
    const stage = h('div', { class: 'make3d-stage' }, holder, previewNote);
    let viewer = null;
    let previewAbort = null;
    let timer = null;
    let showingResult = false;
    signal.addEventListener('abort', () => previewAbort && previewAbort.abort(), { once: true });

    /** Shows a model (a URL, or the preview's bytes) in the viewer. */
    function showModel(url) {
      if (!viewer) {
        viewer = mountViewer(holder, { url, title: source ? assetTitle(source) : '3D model' });
        signal.addEventListener('abort', () => viewer.destroy(), { once: true });
        return viewer.ready;
      }
      return viewer.load(url);
    }

    async function refreshPreview() {
      if (!source) {
        previewNote.textContent = 'Choose an image to see a preview';
        return;
      }
      if (previewAbort) previewAbort.abort();
      const mine = new AbortController();
      previewAbort = mine;
      previewNote.textContent = 'Updating preview\u2026';
      previewNote.dataset.state = 'busy';
      clearFieldErrors();
      try {
        const blob = await post('/meshes/preview', body(), { signal: mine.signal, binary: true });
        if (mine.signal.aborted || showingResult) return;
        await showModel(blob).catch(() => {});
        if (mine.signal.aborted || showingResult) return;
        previewNote.textContent = 'Preview \u00b7 coarse';
        previewNote.dataset.state = 'ready';
      } catch (err) {
        if (mine.signal.aborted || (err && err.name === 'AbortError')) return;
        previewNote.textContent = errorMessage(err, 'The preview could not be made');
        previewNote.dataset.state = 'error';
        showFieldErrors(err);
      }
    }

    function changed() {
      showingResult = false;
      clearTimeout(timer);
      timer = setTimeout(refreshPreview, PREVIEW_DELAY_MS);
    }

    function clearFieldErrors() {
      for (const e of form.querySelectorAll('.field-error')) e.hidden = true;
    }
    function showFieldErrors(err) {
      if (!(err instanceof ApiError) || !err.errors) return;
      for (const [name, message] of Object.entries(err.errors)) {
        const n = Object.values(numbers).find((x) => x.spec.name === name && !x.el.hidden);
        const slot = n && n.el.querySelector('.field-error');
        if (slot) {
          slot.textContent = String(message);
          slot.hidden = false;
        }
      }
    }

    // ----------------------------------------------------------------- make
    const cost = Number(models.mesh_credit_cost) || 0;
    const makeBtn = h('button', { type: 'submit', class: 'btn btn-primary btn-lg', testid: 'make3d-submit' }, icon('cube'), h('span', {}, 'Make model'), h('span', { class: 'btn-note' }, creditsText(cost)));
    const jobBox = h('div', { class: 'make3d-job', testid: 'make3d-job', hidden: true, 'aria-live': 'polite' });
    let key = newKey();

    const form = h(
      'form',
      { class: 'make3d-form card', novalidate: true, testid: 'make3d-form' },
      h('div', { class: 'source-card' }, h('div', { class: 'source-head' }, sourceThumb, h('span', { class: 'source-text' }, h('span', { class: 'source-label' }, 'Made from'), sourceName), changeBtn)),
      h('div', { class: 'field' }, h('span', { class: 'label', id: 'm3d-mode-label' }, 'Kind'), modeGroup, modeBlurb),
      h('div', { class: 'make3d-grid' }, heightFromField, maskField, Object.values(numbers).map((n) => n.el), detailField, invertRow),
      h('div', { class: 'make3d-actions' }, makeBtn, h('span', { class: 'muted small' }, `You have ${creditsText(models.balance)}.`)),
      jobBox,
    );
    form.addEventListener('input', (ev) => {
      key = newKey();
      if (ev.target.name === 'mode') setMode(ev.target.value);
      else changed();
    });
    form.addEventListener('change', (ev) => {
      if (ev.target === mask) updateThreshold();
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!source) {
        toast('Choose an image first', 'error');
        return;
      }
      makeBtn.disabled = true;
      try {
        const job = await post('/generations', body(), { headers: { 'Idempotency-Key': key } });
        watch(job);
      } catch (err) {
        makeBtn.disabled = false;
        showFieldErrors(err);
        toast(errorMessage(err, 'The model could not be queued'), 'error');
      }
    });

    function watch(job) {
      jobBox.hidden = false;
      const line = h('p', { class: 'make3d-job-line', testid: 'make3d-job-status' }, 'Queued\u2026');
      const bar = h('progress', { class: 'gen-progress', max: '1', testid: 'make3d-progress', 'aria-label': 'Model progress' });
      jobBox.replaceChildren(line, bar);
      follow(
        job,
        ({ generation: g }) => {
          if (g.status === 'queued') line.textContent = g.position > 1 ? `Waiting: ${g.position - 1} ahead` : 'Starting\u2026';
          if (g.status === 'running' && g.progress) {
            line.textContent = `${stepLabel(g.progress)} \u00b7 ${formatDuration(g.progress.elapsed_ms)}`;
            bar.value = progressFraction(g.progress);
          }
          if (isFinal(g.status)) finished(g);
        },
        signal,
      );
    }

    function finished(g) {
      makeBtn.disabled = false;
      key = newKey();
      if (g.status !== 'succeeded' || !g.model) {
        jobBox.replaceChildren(h('p', { class: 'callout callout-error', testid: 'make3d-failed' }, g.status === 'cancelled' ? 'The model was cancelled.' : `The model could not be made: ${g.error || 'unknown error'}`));
        return;
      }
      const model = { id: g.model.asset_id, filename: `${source ? assetTitle(source) : 'model'}.glb` };
      showingResult = true;
      clearTimeout(timer);
      showModel(modelUrl(model)).catch(() => {});
      previewNote.textContent = 'Finished model';
      previewNote.dataset.state = 'done';
      jobBox.replaceChildren(
        h('div', { class: 'make3d-result', testid: 'make3d-result' }, h('div', { class: 'make3d-result-head' }, icon('check'), h('strong', {}, 'Your model is ready'), g.model.mesh ? printableBadge(g.model.mesh) : null), g.model.mesh ? meshFacts(g.model.mesh) : null, modelDownloads(model), h('a', { href: `/library/${encodeURIComponent(model.id)}`, class: 'btn btn-secondary btn-sm', testid: 'make3d-open' }, icon('library'), h('span', {}, 'Open in library'))),
      );
    }

    // ----------------------------------------------------------------- page
    showSource();
    setMode(mode);
    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide make3d-page' },
        pageHeader('Make a 3D model', 'Turn an image into a printable model: a relief, a lithophane or a silhouette.', badge('Closed solids, in millimetres', 'accent')),
        h('div', { class: 'make3d-layout' }, stage, form),
      ),
    );
    if (!source) changeBtn.click();
  },
};
