// /generate — the image tool. Left: the prompt form (size presets, an optional start
// image from the library, and an "Advanced" disclosure for steps, guidance, scheduler
// and seed). Right: the job on show (queue position, progress with the live latent
// preview, then the images) and the user's recent generations.
// Jobs are followed by generations.js at module level, so they keep going, and end with
// a toast, while the user is elsewhere; the form's values and the job on show are kept
// here at module level too, so coming back finds the page as it was left.
//
// ?from=<asset id>   fills the form with that image's settings (seed included)
// ?source=<asset id> starts from that image (image to image)
// ?post=<post id>    fills the form with the prompt and settings a community post shares

import { h, icon, pageHeader, card, field, formAlert, onSubmit, toast, toastError, spinner, errorBox, timeEl } from '../ui.js';
import { get, post, del, qs, ApiError } from '../api.js';
import { isAdmin } from '../state.js';
import { replaceQuietly } from '../router.js';
import { follow, onGenerations, isFinal, isActiveJob } from '../generations.js';
import { assetTitle, assetHref, thumbImage, mmSize } from './library-common.js';
import { SCHEDULER_LABELS, schedulerLabel, statusBadge, positionText, formatDuration, progressFraction, sizeText, creditsText, plural, problemDetails, creditIcon, rangeField, pickImage, stepLabel, newKey } from './generate-common.js';

const MIN_SIDE = 64;
const MAX_SIDE = 2048;
const MAX_STEPS = 150;
const MAX_SEED = 4294967295;
const MAX_PROMPT = 2000;
const ASPECTS = [
  ['1:1', 1, 1],
  ['3:2', 3, 2],
  ['2:3', 2, 3],
  ['16:9', 16, 9],
  ['9:16', 9, 16],
];
const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || '');

let draft = null; // the form's values, kept while the user browses elsewhere
let shownId = null; // the job shown on the right

const randomSeed = () => crypto.getRandomValues(new Uint32Array(1))[0];
const snap8 = (v) => Math.min(MAX_SIDE, Math.max(MIN_SIDE, Math.round(v / 8) * 8));
const withDownload = (url) => `${url}${url.includes('?') ? '&' : '?'}download=1`;

/** Width and height for an aspect ratio, keeping about the model's default pixel count. */
function sizeFor(model, a, b) {
  const area = model.defaults.width * model.defaults.height;
  return [snap8(Math.sqrt((area * a) / b)), snap8(Math.sqrt((area * b) / a))];
}

/** The image settings of a job: its params, or for prompt to 3D their `image` part. */
const imageParams = (p) => (p && p.image) || p || {};

function promptOf(g) {
  return String(imageParams(g && g.params).prompt || '').trim() || 'Untitled';
}

/** A small labelled control with its own error slot (width, height, scheduler…). */
function miniField(id, label, control) {
  return h('div', { class: 'field field-mini' }, h('label', { for: id, class: 'label' }, label), control, h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

// ---------------------------------------------------------------------------
// Not set up
// ---------------------------------------------------------------------------

function unavailable(info) {
  return h(
    'section',
    { class: 'card gen-unavailable', testid: 'generate-unavailable' },
    h('div', { class: 'gen-unavailable-art', 'aria-hidden': 'true' }, h('span', {}, icon('image')), h('span', {}, icon('sparkles')), h('span', {}, icon('cpu'))),
    h('h2', {}, 'Image generation isn\u2019t set up yet'),
    problemDetails(info.problem || { reason: 'No image model can be used right now.', fix: '' }),
    info.runtime ? h('p', { class: 'gen-runtime' }, icon('cpu'), h('span', {}, info.runtime)) : null,
    isAdmin()
      ? h('a', { href: '/admin/models', class: 'btn btn-primary', testid: 'generate-admin-link' }, icon('sliders'), h('span', {}, 'Set up models'))
      : h('p', { class: 'muted small' }, 'An administrator of this instance can set it up. Your library works as usual meanwhile.'),
  );
}

// ---------------------------------------------------------------------------
// Page
// ---------------------------------------------------------------------------

export default {
  title: 'Generate',
  access: 'user',
  async render(main, { params, signal }) {
    main.replaceChildren(h('div', { class: 'page page-wide generate-page' }, pageHeader('Generate', 'Describe an image and let this server paint it.'), h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'Loading models\u2026'))));
    const info = await get('/models', { signal });
    const models = (info && info.models) || [];
    let balance = Number(info && info.balance) || 0;

    // ------------------------------------------------------------ credits pill
    const balanceEl = h('strong', { testid: 'credits-balance' }, balance.toLocaleString());
    const balanceWord = h('span', {}, ` ${balance === 1 ? 'credit' : 'credits'}`);
    const creditPill = h('div', { class: 'credit-pill', title: 'Your credits: each image uses some' }, creditIcon(), h('span', { class: 'credit-pill-text' }, balanceEl, balanceWord));
    function setBalance(n) {
      balance = Number(n) || 0;
      balanceEl.textContent = balance.toLocaleString();
      balanceWord.textContent = ` ${balance === 1 ? 'credit' : 'credits'}`;
      updateCost();
    }
    let balanceTimer = null;
    const refreshBalance = () => {
      clearTimeout(balanceTimer);
      balanceTimer = setTimeout(async () => {
        try {
          const c = await get('/me/credits', { signal });
          setBalance(c.balance);
        } catch {
          /* keep the last known balance */
        }
      }, 250);
    };
    signal.addEventListener('abort', () => clearTimeout(balanceTimer));

    const recent = recentList({ hideWhenEmpty: !info.available || !models.length });
    const header = pageHeader('Generate', 'Describe an image and let this server paint it.', creditPill);
    if (!info.available || !models.length) {
      main.replaceChildren(h('div', { class: 'page page-wide generate-page' }, header, unavailable(info), recent.el));
      recent.load();
      return;
    }

    // ------------------------------------------------------------------- form
    const modelOf = (id) => models.find((m) => m.id === id) || models.find((m) => m.is_default) || models[0];
    let model = modelOf(draft && draft.model);

    const promptField = field({
      name: 'prompt',
      label: 'Prompt',
      multiline: true,
      required: true,
      testid: 'generate-prompt',
      attrs: { rows: '4', maxlength: String(MAX_PROMPT), placeholder: 'A lighthouse on a cliff at dusk, warm light, oil painting', autofocus: true, spellcheck: 'true' },
    });
    const prompt = promptField.querySelector('textarea');
    promptField.classList.add('field-prompt');
    const negativeField = field({ name: 'negative_prompt', label: 'Negative prompt', multiline: true, testid: 'generate-negative', attrs: { rows: '2', maxlength: String(MAX_PROMPT), placeholder: 'What to keep out: blurry, text, watermark' } });
    const negative = negativeField.querySelector('textarea');

    const modelSelect = h('select', { id: 'gen-model', name: 'model', class: 'input', testid: 'generate-model' }, models.map((m) => h('option', { value: m.id }, m.name)));
    const modelHint = h('p', { class: 'hint' });
    const modelField = h('div', { class: 'field', hidden: models.length < 2 }, h('label', { for: 'gen-model', class: 'label' }, 'Model'), modelSelect, modelHint, h('p', { class: 'field-error', id: 'gen-model-error', hidden: true }));

    // size
    const widthInput = h('input', { type: 'number', id: 'gen-width', name: 'width', class: 'input input-num', min: String(MIN_SIDE), max: String(MAX_SIDE), step: '8', inputmode: 'numeric', testid: 'generate-width' });
    const heightInput = h('input', { type: 'number', id: 'gen-height', name: 'height', class: 'input input-num', min: String(MIN_SIDE), max: String(MAX_SIDE), step: '8', inputmode: 'numeric', testid: 'generate-height' });
    const swapBtn = h('button', { type: 'button', class: 'icon-btn size-swap', 'aria-label': 'Swap width and height', title: 'Swap width and height', testid: 'generate-size-swap' }, icon('swap'));
    const presetBtns = ASPECTS.map(([label, a, b]) => {
      const shape = h('span', { class: `aspect-shape aspect-${label.replace(':', 'x')}`, 'aria-hidden': 'true' });
      const btn = h('button', { type: 'button', class: 'chip chip-sm aspect-chip', 'aria-pressed': 'false', testid: `generate-aspect-${label.replace(':', 'x')}`, dataset: { a: String(a), b: String(b) } }, shape, h('span', {}, label));
      btn.addEventListener('click', () => {
        const [w, hh] = sizeFor(model, a, b);
        widthInput.value = String(w);
        heightInput.value = String(hh);
        changed();
      });
      return btn;
    });
    swapBtn.addEventListener('click', () => {
      [widthInput.value, heightInput.value] = [heightInput.value, widthInput.value];
      changed();
    });
    const sizeField = h(
      'fieldset',
      { class: 'fieldset size-fieldset' },
      h('legend', { class: 'label' }, 'Size'),
      h('div', { class: 'chips aspect-chips', role: 'group', 'aria-label': 'Aspect ratio' }, presetBtns),
      h('div', { class: 'size-row' }, miniField('gen-width', 'Width', widthInput), h('span', { class: 'size-x', 'aria-hidden': 'true' }, '\u00d7'), miniField('gen-height', 'Height', heightInput), swapBtn),
    );

    // count
    const countRadios = [1, 2, 3, 4].map((n) => h('input', { type: 'radio', name: 'count', value: String(n), class: 'seg-input', id: `gen-count-${n}`, checked: n === 1 }));
    const countField = h(
      'fieldset',
      { class: 'fieldset field seg-field', testid: 'generate-count' },
      h('legend', { class: 'label' }, 'Images'),
      h('div', { class: 'seg' }, countRadios.map((r) => h('label', { class: 'seg-option', for: r.id }, r, h('span', {}, r.value)))),
      h('p', { class: 'field-error', id: 'gen-count-error', hidden: true }),
    );
    const countValue = () => Number((countRadios.find((r) => r.checked) || countRadios[0]).value);

    // output: images, or a 3D model made from the image (prompt to 3D, one job)
    const outputRadios = [
      ['image', 'Images'],
      ['model', '3D model'],
    ].map(([value, label]) => [h('input', { type: 'radio', name: 'output', value, class: 'seg-input', id: `gen-output-${value}`, checked: value === 'image', testid: `generate-output-${value}` }), label]);
    const outputField = h(
      'fieldset',
      { class: 'fieldset field seg-field' },
      h('legend', { class: 'label' }, 'Make'),
      h('div', { class: 'seg seg-2' }, outputRadios.map(([r, label]) => h('label', { class: 'seg-option', for: r.id }, r, h('span', {}, label)))),
    );
    const meshModeSelect = h(
      'select',
      { id: 'gen-mesh-mode', class: 'input', testid: 'generate-mesh-mode' },
      h('option', { value: 'relief' }, 'Relief'),
      h('option', { value: 'lithophane' }, 'Lithophane'),
      h('option', { value: 'extrusion' }, 'Silhouette'),
    );
    const meshModeField = miniField('gen-mesh-mode', 'Kind of model', meshModeSelect);
    const wantsModel = () => outputRadios[1][0].checked;
    const setOutput = (model) => {
      outputRadios[0][0].checked = !model;
      outputRadios[1][0].checked = model;
    };
    const setCount = (n) => {
      for (const r of countRadios) r.checked = Number(r.value) === n;
    };

    // start image
    let source = null; // the chosen asset
    const sourceInput = h('input', { type: 'hidden', name: 'source_asset_id', value: '' });
    const pickBtn = h('button', { type: 'button', class: 'btn btn-secondary source-pick', testid: 'source-pick' }, icon('image'), h('span', {}, 'Start from an image'));
    const strength = rangeField({ name: 'strength', label: 'Strength', min: 0.05, max: 1, step: 0.05, numberStep: 'any', value: 0.75, testid: 'source-strength-value', sliderTestid: 'source-strength', hint: 'Low keeps the start image, 1 repaints it completely.' });
    const sourceThumb = h('span', { class: 'source-thumb' });
    const sourceName = h('span', { class: 'source-name' });
    const sourceDims = h('span', { class: 'source-dims' });
    const removeSource = h('button', { type: 'button', class: 'icon-btn icon-btn-sm', 'aria-label': 'Remove the start image', title: 'Remove', testid: 'source-remove' }, icon('x'));
    const sourceCard = h(
      'div',
      { class: 'source-card', hidden: true, testid: 'source-selected' },
      h('div', { class: 'source-head' }, sourceThumb, h('span', { class: 'source-text' }, h('span', { class: 'source-label' }, 'Start image'), sourceName, sourceDims), removeSource),
      strength.el,
    );
    const sourceField = h('div', { class: 'field source-field' }, sourceInput, pickBtn, sourceCard, h('p', { class: 'field-error', id: 'gen-source-error', hidden: true }));

    function setSource(asset, strengthValue) {
      source = asset || null;
      sourceInput.value = source ? String(source.id) : '';
      sourceCard.hidden = !source;
      pickBtn.hidden = !!source;
      if (source) {
        sourceThumb.replaceChildren(thumbImage(source));
        sourceName.textContent = assetTitle(source);
        sourceName.title = assetTitle(source);
        sourceDims.textContent = sizeText(source) || '';
        if (strengthValue !== undefined && strengthValue !== null) strength.set(strengthValue);
      }
      saveDraft();
    }
    pickBtn.addEventListener('click', async () => {
      const asset = await pickImage(signal, { likeness: 'image_to_image' });
      if (asset) {
        setSource(asset);
        strength.range.focus();
      }
    });
    removeSource.addEventListener('click', () => {
      setSource(null);
      pickBtn.focus();
    });

    // advanced
    const steps = rangeField({ name: 'steps', label: 'Steps', min: 1, max: MAX_STEPS, sliderMax: 80, step: 1, value: model.defaults.steps, testid: 'generate-steps', sliderTestid: 'generate-steps-slider', hint: 'More steps add detail and take longer.' });
    const guidance = rangeField({ name: 'guidance_scale', label: 'Guidance', min: 0, max: 30, sliderMax: 20, step: 0.5, numberStep: 'any', value: model.defaults.guidance_scale, testid: 'generate-guidance', sliderTestid: 'generate-guidance-slider', hint: 'How closely the image follows the prompt.' });
    const schedulerSelect = h('select', { id: 'gen-scheduler', name: 'scheduler', class: 'input', testid: 'generate-scheduler' });
    const seedInput = h('input', { type: 'number', id: 'gen-seed', name: 'seed', class: 'input', min: '0', max: String(MAX_SEED), step: '1', inputmode: 'numeric', placeholder: 'Random', testid: 'generate-seed' });
    const diceBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-square', 'aria-label': 'Pick a seed', title: 'Pick a seed', testid: 'generate-seed-dice' }, icon('dice'));
    const randomBox = h('input', { type: 'checkbox', id: 'gen-seed-random', class: 'check', testid: 'generate-seed-random', checked: true });
    seedInput.addEventListener('input', () => {
      randomBox.checked = seedInput.value === '';
    });
    randomBox.addEventListener('change', () => {
      seedInput.value = randomBox.checked ? '' : String(randomSeed());
      changed();
    });
    diceBtn.addEventListener('click', () => {
      seedInput.value = String(randomSeed());
      randomBox.checked = false;
      changed();
    });
    const seedField = h(
      'div',
      { class: 'field' },
      h('label', { for: 'gen-seed', class: 'label' }, 'Seed'),
      h('div', { class: 'seed-row' }, seedInput, diceBtn),
      h('div', { class: 'check-row seed-random' }, randomBox, h('label', { for: 'gen-seed-random' }, 'New random seed each time')),
      h('p', { class: 'hint' }, 'The same seed and settings make the same image.'),
      h('p', { class: 'field-error', id: 'gen-seed-error', hidden: true }),
    );
    const advSummary = h('span', { class: 'adv-summary' });
    const advanced = h(
      'details',
      { class: 'gen-advanced', testid: 'generate-advanced' },
      h('summary', {}, h('span', { class: 'adv-title' }, icon('sliders'), h('span', {}, 'Advanced')), advSummary, icon('chevronDown', 'adv-chev')),
      h('div', { class: 'adv-body' }, steps.el, guidance.el, miniField('gen-scheduler', 'Scheduler', schedulerSelect), seedField),
    );

    // cost and submit
    const costEl = h('p', { class: 'gen-cost', testid: 'generate-cost', 'aria-live': 'polite' });
    const submitBtn = h(
      'button',
      { type: 'submit', class: 'btn btn-primary btn-lg gen-submit', testid: 'generate-submit' },
      icon('sparkles'),
      h('span', {}, 'Generate'),
      h('kbd', { class: 'kbd', 'aria-hidden': 'true' }, IS_MAC ? '\u2318\u21b5' : 'Ctrl \u21b5'),
    );
    submitBtn.setAttribute('aria-keyshortcuts', IS_MAC ? 'Meta+Enter' : 'Control+Enter');

    const form = h(
      'form',
      { class: 'form gen-form', testid: 'generate-form', 'aria-label': 'Image settings' },
      formAlert(),
      promptField,
      negativeField,
      modelField,
      sourceField,
      h('div', { class: 'gen-row' }, outputField, meshModeField),
      h('div', { class: 'gen-row' }, sizeField, countField),
      advanced,
      h('div', { class: 'gen-submit-row' }, costEl, submitBtn),
    );

    function applyModel(m, { defaults }) {
      model = m;
      modelSelect.value = m.id;
      const cost = Number(m.credit_cost) || 0;
      modelHint.textContent = [m.description, `${creditsText(cost)} per image`].filter(Boolean).join(' \u00b7 ');
      schedulerSelect.replaceChildren(...(m.schedulers && m.schedulers.length ? m.schedulers : Object.keys(SCHEDULER_LABELS)).map((s) => h('option', { value: s }, schedulerLabel(s))));
      schedulerSelect.value = m.defaults.scheduler;
      if (defaults) {
        widthInput.value = String(m.defaults.width);
        heightInput.value = String(m.defaults.height);
        steps.set(m.defaults.steps);
        guidance.set(m.defaults.guidance_scale);
      }
    }
    modelSelect.addEventListener('change', () => {
      applyModel(modelOf(modelSelect.value), { defaults: true });
      changed();
    });

    function updateCost() {
      const cost = wantsModel() ? (Number(model.credit_cost) || 0) + (Number(info.mesh_credit_cost) || 0) : (Number(model.credit_cost) || 0) * countValue();
      costEl.classList.toggle('is-short', cost > balance);
      costEl.replaceChildren(
        icon('coins'),
        h('span', {}, 'Uses ', h('strong', {}, creditsText(cost)), ` \u00b7 you have ${balance.toLocaleString()}`, cost > balance ? ' \u2014 not enough' : ''),
      );
    }
    function updatePresets() {
      const w = Number(widthInput.value);
      const hh = Number(heightInput.value);
      for (const b of presetBtns) {
        const [pw, ph] = sizeFor(model, Number(b.dataset.a), Number(b.dataset.b));
        b.setAttribute('aria-pressed', String(pw === w && ph === hh));
      }
    }
    function updateSummary() {
      const seed = seedInput.value === '' ? 'random seed' : `seed ${seedInput.value}`;
      advSummary.textContent = `${steps.number.value || '?'} steps \u00b7 guidance ${guidance.number.value || '?'} \u00b7 ${schedulerLabel(schedulerSelect.value)} \u00b7 ${seed}`;
    }
    function saveDraft() {
      draft = {
        prompt: prompt.value,
        negative_prompt: negative.value,
        model: model.id,
        width: widthInput.value,
        height: heightInput.value,
        steps: steps.number.value,
        guidance_scale: guidance.number.value,
        scheduler: schedulerSelect.value,
        seed: seedInput.value,
        count: countValue(),
        output: wantsModel() ? 'model' : 'image',
        mesh_mode: meshModeSelect.value,
        source,
        strength: strength.number.value,
        advanced: advanced.open,
      };
    }
    function changed() {
      countField.hidden = wantsModel();
      meshModeField.hidden = !wantsModel();
      updateCost();
      updatePresets();
      updateSummary();
      saveDraft();
    }
    form.addEventListener('input', changed);
    form.addEventListener('change', changed);
    advanced.addEventListener('toggle', saveDraft);

    /** Fill the form from generation parameters (a job's or an asset's). */
    async function fill(params, { seed = true, count } = {}) {
      setOutput(!!params.image);
      if (params.settings && params.settings.mode) meshModeSelect.value = params.settings.mode;
      const p = params.image ? { ...params.image, seed: params.seed ?? params.image.seed } : params;
      if (p.model && p.model !== model.id) {
        if (models.some((m) => m.id === p.model)) applyModel(modelOf(p.model), { defaults: false });
        else toast(`The model \u201c${p.model_name || p.model}\u201d isn\u2019t available any more; using ${model.name}.`, 'info');
      }
      prompt.value = p.prompt || '';
      negative.value = p.negative_prompt || '';
      if (p.width) widthInput.value = String(p.width);
      if (p.height) heightInput.value = String(p.height);
      if (p.steps) steps.set(p.steps);
      if (p.guidance_scale !== undefined && p.guidance_scale !== null) guidance.set(p.guidance_scale);
      if (p.scheduler && [...schedulerSelect.options].some((o) => o.value === p.scheduler)) schedulerSelect.value = p.scheduler;
      const useSeed = seed && p.seed !== undefined && p.seed !== null;
      seedInput.value = useSeed ? String(p.seed) : '';
      randomBox.checked = !useSeed;
      if (useSeed) advanced.open = true;
      setCount(count || Number(p.count) || 1);
      changed();
      if (p.source_asset_id) await loadSource(p.source_asset_id, p.strength);
      else setSource(null);
    }

    function restore(d) {
      prompt.value = d.prompt || '';
      negative.value = d.negative_prompt || '';
      widthInput.value = d.width;
      heightInput.value = d.height;
      steps.set(d.steps);
      guidance.set(d.guidance_scale);
      if ([...schedulerSelect.options].some((o) => o.value === d.scheduler)) schedulerSelect.value = d.scheduler;
      seedInput.value = d.seed || '';
      randomBox.checked = !d.seed;
      setCount(d.count || 1);
      setOutput(d.output === 'model');
      if (d.mesh_mode) meshModeSelect.value = d.mesh_mode;
      advanced.open = !!d.advanced;
      if (d.source) setSource(d.source, d.strength);
    }

    async function loadSource(id, strengthValue) {
      try {
        const a = await get(`/assets/${encodeURIComponent(id)}`, { signal });
        if (a.kind !== 'image') {
          toast('Only images can be a start image.', 'error');
          return;
        }
        setSource(a, strengthValue);
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        toast(err instanceof ApiError && err.status === 404 ? 'The start image is no longer in your library.' : 'Could not load the start image.', 'error');
      }
    }

    async function loadFrom(id) {
      try {
        const a = await get(`/assets/${encodeURIComponent(id)}`, { signal });
        if (!a.params || !a.params.prompt) {
          toast('This image has no generation settings to reuse.', 'info');
          return;
        }
        await fill(a.params, { count: 1 });
        toast(`Settings of \u201c${assetTitle(a)}\u201d loaded`, 'success');
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        toastError(err, 'Could not load that image\u2019s settings');
      }
    }

    /** The prompt and settings a community post shares (its start image stays the author's). */
    async function loadFromPost(id) {
      try {
        const p = await get(`/posts/${encodeURIComponent(id)}`, { signal });
        const g = p.generation && typeof p.generation === 'object' ? { ...p.generation } : null;
        const prompt = g && (g.prompt || (g.image && g.image.prompt));
        if (!prompt) {
          toast('This post doesn\u2019t share its prompt.', 'info');
          return;
        }
        if (!p.mine) {
          delete g.source_asset_id;
          delete g.strength;
          if (g.image) g.image = { ...g.image, source_asset_id: undefined, strength: undefined };
        }
        await fill(g, { count: 1 });
        toast(`Prompt of \u201c${p.title}\u201d by ${p.author.display_name || p.author.username} loaded`, 'success');
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        toast(err instanceof ApiError && err.status === 404 ? 'That post isn\u2019t available any more.' : 'Could not load the post\u2019s prompt.', 'error');
      }
    }

    function readBody() {
      const body = {
        prompt: prompt.value.trim(),
        model: model.id,
        width: Number(widthInput.value),
        height: Number(heightInput.value),
        steps: Number(steps.number.value),
        guidance_scale: Number(guidance.number.value),
        scheduler: schedulerSelect.value,
        count: countValue(),
      };
      if (wantsModel()) {
        body.kind = 'prompt_to_3d';
        body.mode = meshModeSelect.value;
        delete body.count;
      }
      if (negative.value.trim()) body.negative_prompt = negative.value.trim();
      if (seedInput.value !== '') body.seed = Number(seedInput.value);
      if (source) {
        body.source_asset_id = String(source.id);
        body.strength = Number(strength.number.value);
      }
      return body;
    }

    function extraValidate() {
      const errors = {};
      const side = (v) => Number.isInteger(v) && v >= MIN_SIDE && v <= MAX_SIDE && v % 8 === 0;
      if (!prompt.value.trim()) errors.prompt = 'Describe the image you want.';
      if (!side(Number(widthInput.value))) errors.width = `A multiple of 8 from ${MIN_SIDE} to ${MAX_SIDE}.`;
      if (!side(Number(heightInput.value))) errors.height = `A multiple of 8 from ${MIN_SIDE} to ${MAX_SIDE}.`;
      const st = Number(steps.number.value);
      if (steps.number.value === '' || !Number.isInteger(st) || st < 1 || st > MAX_STEPS) errors.steps = `Use 1 to ${MAX_STEPS} steps.`;
      const gs = Number(guidance.number.value);
      if (guidance.number.value === '' || !(gs >= 0 && gs <= 30)) errors.guidance_scale = 'Use a guidance from 0 to 30.';
      if (seedInput.value !== '') {
        const s = Number(seedInput.value);
        if (!Number.isInteger(s) || s < 0 || s > MAX_SEED) errors.seed = `Use a whole number from 0 to ${MAX_SEED}, or leave it empty for a random one.`;
      }
      if (source) {
        const s = Number(strength.number.value);
        if (!(s > 0 && s <= 1)) errors.strength = 'Use a strength above 0 and up to 1.';
      }
      // Errors in the closed disclosure would be invisible.
      if (errors.steps || errors.guidance_scale || errors.seed) advanced.open = true;
      return errors;
    }

    // Same request after a network error: same key, so the server queues it only once.
    let pending = null; // { key, json }
    async function submit() {
      const body = readBody();
      const json = JSON.stringify(body);
      const key = pending && pending.json === json ? pending.key : newKey();
      pending = { key, json };
      let g;
      try {
        g = await post('/generations', body, { headers: { 'Idempotency-Key': key } });
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 0)) pending = null;
        if (err instanceof ApiError && ['steps', 'guidance_scale', 'scheduler', 'seed'].some((k) => err.errors[k])) advanced.open = true;
        throw err;
      }
      pending = null;
      saveDraft();
      setBalance(balance - (Number(g.cost) || 0));
      show(g);
      recent.upsert(g);
      recent.load();
      if (window.matchMedia('(max-width: 960px)').matches) stageEl.scrollIntoView({ behavior: 'smooth', block: 'start' });
    }
    onSubmit(form, submit, { extraValidate, busyLabel: 'Queuing\u2026' });
    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });

    /** Fill the form from a job and queue it again with a new random seed. */
    async function rerollFrom(p) {
      await fill(p, { seed: false });
      form.requestSubmit();
    }
    async function reuse(p, seed) {
      await fill({ ...p, seed }, { count: 1 });
      form.scrollIntoView({ behavior: 'smooth', block: 'start' });
      prompt.focus({ preventScroll: true });
      toast(`Settings loaded \u2014 seed ${seed}`, 'success');
    }

    // ------------------------------------------------------------------ stage
    const statusEl = h('div', { class: 'gen-status', testid: 'generate-status', dataset: { status: 'idle' }, 'aria-live': 'polite' });
    const stageMeta = h('p', { class: 'gen-stage-meta' });
    const reconnectEl = h('span', { class: 'gen-reconnect', hidden: true, testid: 'generate-reconnecting', role: 'status' }, spinner(), h('span', {}, 'Reconnecting\u2026'));
    const cancelBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'generate-cancel', hidden: true }, icon('stop'), h('span', {}, 'Cancel'));
    const stageBody = h('div', { class: 'gen-stage-body' });
    const stageEl = h(
      'section',
      { class: 'gen-stage', 'aria-label': 'Current generation', testid: 'generate-stage' },
      h('div', { class: 'gen-stage-head' }, h('div', { class: 'gen-stage-title' }, statusEl, stageMeta), h('div', { class: 'gen-stage-actions' }, reconnectEl, cancelBtn)),
      stageBody,
    );

    let shown = null; // the Generation on show
    let live = null; // the queued/running view while one is on show
    let attachment = null; // AbortController of the current follow()

    cancelBtn.addEventListener('click', async () => {
      if (!shown) return;
      cancelBtn.disabled = true;
      try {
        const g = await del(`/generations/${encodeURIComponent(shown.id)}`);
        if (g && g.id === (shown && shown.id)) renderStage(g, false);
      } catch (err) {
        toastError(err, 'Could not cancel it');
      } finally {
        cancelBtn.disabled = false;
      }
    });

    function idleView() {
      return h(
        'div',
        { class: 'gen-idle' },
        h('div', { class: 'gen-idle-art', 'aria-hidden': 'true' }, h('span', { class: 'orb orb-1' }), h('span', { class: 'orb orb-2' }), icon('sparkles')),
        h('p', { class: 'gen-idle-title' }, 'Your images appear here'),
        h('p', { class: 'muted' }, 'Write a prompt and press Generate. You\u2019ll see the picture take shape step by step.'),
      );
    }

    function liveView(g) {
      const p = imageParams(g.params);
      const frame = h('div', { class: 'gen-frame is-waiting' });
      const ratio = p.width && p.height ? p.width / p.height : 1;
      frame.style.setProperty('--ar', String(ratio));
      const preview = h('img', { class: 'gen-preview', alt: 'Live preview', testid: 'generate-preview', width: String(p.width || 64), height: String(p.height || 64), hidden: true });
      frame.append(preview, h('span', { class: 'gen-frame-glow', 'aria-hidden': 'true' }));
      const position = h('p', { class: 'gen-position', testid: 'generate-position' });
      const positionSub = h('p', { class: 'gen-position-sub muted' });
      const queueBox = h('div', { class: 'gen-queue' }, icon('clock'), h('div', {}, position, positionSub));
      const progress = h('progress', { class: 'gen-progress', max: '1', value: '0', testid: 'generate-progress', 'aria-label': 'Generation progress' });
      const stepText = h('span', { class: 'gen-step' });
      const timeText = h('span', { class: 'gen-time' });
      const progressBox = h('div', { class: 'gen-progress-box', hidden: true }, h('div', { class: 'gen-progress-line' }, stepText, timeText), progress);
      let seq = 0;
      let received = 0;
      let last = null;
      const tick = () => {
        if (!last || !last.progress) return;
        const since = Date.now() - received;
        const left = last.progress.eta_ms === null || last.progress.eta_ms === undefined ? null : Math.max(0, last.progress.eta_ms - since);
        timeText.textContent = `${formatDuration(last.progress.elapsed_ms + since)} elapsed${left === null ? '' : ` \u00b7 about ${formatDuration(left)} left`}`;
      };
      const timer = setInterval(tick, 1000);
      const update = (next) => {
        last = next;
        received = Date.now();
        const running = next.status === 'running';
        queueBox.hidden = running;
        progressBox.hidden = !running;
        if (!running) {
          position.textContent = positionText(next.position);
          positionSub.textContent = next.position > 1 ? `${plural(next.position - 1, 'job')} ahead of this one` : 'It starts as soon as the worker is free.';
          return;
        }
        const pr = next.progress;
        if (!pr) {
          stepText.textContent = 'Loading the model\u2026';
          progress.removeAttribute('value');
          timeText.textContent = '';
          return;
        }
        progress.value = progressFraction(pr);
        progress.setAttribute('aria-valuetext', `${Math.round(progressFraction(pr) * 100)}%`);
        stepText.textContent = stepLabel(pr);
        tick();
        if (next.preview_url && pr.preview_seq > seq) {
          const mySeq = pr.preview_seq;
          seq = mySeq;
          // Swap only once decoded, so the preview never blinks empty between steps.
          const img = new Image();
          img.addEventListener('load', () => {
            if (mySeq < Number(preview.dataset.seq || 0)) return;
            preview.src = img.src;
            preview.dataset.seq = String(mySeq);
            preview.hidden = false;
            frame.classList.remove('is-waiting');
          });
          img.src = next.preview_url;
        }
      };
      update(g);
      return { el: h('div', { class: 'gen-live' }, frame, queueBox, progressBox), update, stop: () => clearInterval(timer) };
    }

    function imageCard(g, img, index) {
      const p = g.params || {};
      const alt = `${promptOf(g)} (seed ${img.seed})`;
      const picture = h('img', { src: img.thumbnail_url || img.url, alt, width: String(img.width || p.width || 512), height: String(img.height || p.height || 512), decoding: 'async', class: `gen-img${(img.width || p.width) < 256 ? ' is-small' : ''}` });
      picture.addEventListener('load', () => picture.classList.add('is-loaded'));
      const href = assetHref({ id: img.asset_id });
      const reuseBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'generate-reuse', title: 'Use these settings again', 'aria-label': `Use the settings of image ${index + 1} again (seed ${img.seed})` }, icon('sliders'), h('span', { class: 'label-long' }, 'Use these settings'), h('span', { class: 'label-short' }, 'Reuse'));
      reuseBtn.addEventListener('click', () => reuse(p, img.seed));
      const rerollBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'generate-new-seed', title: 'Same settings, new random seed' }, icon('dice'), h('span', {}, 'New seed'));
      rerollBtn.addEventListener('click', () => rerollFrom(p));
      return h(
        'figure',
        { class: 'gen-image', testid: 'generate-image', dataset: { assetId: String(img.asset_id), seed: String(img.seed) } },
        h('a', { href, class: 'gen-image-link', testid: 'generate-image-link', title: 'Open in your library' }, picture),
        h(
          'figcaption',
          { class: 'gen-image-bar' },
          h(
            'div',
            { class: 'gen-image-top' },
            h('span', { class: 'gen-seed' }, 'Seed ', h('strong', { class: 'mono' }, String(img.seed))),
            h(
              'span',
              { class: 'gen-image-icons' },
              h('a', { href, class: 'icon-btn icon-btn-sm', 'aria-label': `Open image ${index + 1}`, title: 'Open', testid: 'generate-open' }, icon('external')),
              h('a', { href: withDownload(img.url), class: 'icon-btn icon-btn-sm', download: '', 'aria-label': `Download image ${index + 1}`, title: 'Download', testid: 'generate-download' }, icon('download')),
            ),
          ),
          h('div', { class: 'gen-image-actions' }, reuseBtn, rerollBtn),
        ),
      );
    }

    function modelCard(g) {
      const m = g.model;
      const href = assetHref({ id: m.asset_id });
      return h(
        'figure',
        { class: 'gen-image gen-model', testid: 'generate-model-result', dataset: { assetId: String(m.asset_id) } },
        h('a', { href, class: 'gen-image-link', title: 'Open the 3D model' }, h('img', { src: m.thumbnail_url, alt: `3D model: ${promptOf(g)}`, class: 'gen-img is-loaded', decoding: 'async' })),
        h(
          'figcaption',
          { class: 'gen-image-bar' },
          h('div', { class: 'gen-image-top' }, h('span', { class: 'gen-seed' }, icon('cube'), ' ', m.mesh ? mmSize(m.mesh) : '3D model')),
          h(
            'div',
            { class: 'gen-image-actions' },
            h('a', { href, class: 'btn btn-secondary btn-sm', testid: 'generate-open-model' }, icon('external'), h('span', {}, 'Open')),
            h('a', { href: `/make-3d?from=${encodeURIComponent(m.asset_id)}`, class: 'btn btn-secondary btn-sm', testid: 'generate-tune-model' }, icon('sliders'), h('span', {}, 'Fine-tune')),
          ),
        ),
      );
    }

    function resultView(g) {
      const images = g.model ? [] : g.images || [];
      const secs = g.started_at && g.finished_at ? g.finished_at - g.started_at : null;
      const took = secs === null ? null : secs < 1 ? 'under a second' : formatDuration(secs * 1000);
      return h(
        'div',
        { class: 'gen-result', testid: 'generate-result' },
        h('div', { class: `gen-images count-${g.model ? 1 : Math.min(4, images.length)}` }, g.model ? modelCard(g) : images.map((img, i) => imageCard(g, img, i))),
        h('p', { class: 'gen-result-note muted small' }, icon('check'), h('span', {}, `${g.model ? 'The model and its image are saved' : images.length === 1 ? 'Saved' : `All ${images.length} saved`} to your library`, took ? ` \u00b7 took ${took}` : '', g.cost ? ` \u00b7 ${creditsText(g.cost)}` : '')),
      );
    }

    function endedView(g) {
      const p = g.params || {};
      // A model made from a library image is edited where it was made.
      const editBtn = p.source_asset_id && !p.image && g.kind !== 'image'
        ? h('a', { href: `/make-3d?source=${encodeURIComponent(p.source_asset_id)}`, class: 'btn btn-secondary btn-sm', testid: 'generate-edit' }, icon('sliders'), h('span', {}, 'Edit settings'))
        : h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'generate-edit', onClick: () => reuse(p, imageParams(p).seed) }, icon('sliders'), h('span', {}, 'Edit settings'));
      if (g.status === 'failed') {
        const again = h('button', { type: 'button', class: 'btn btn-primary btn-sm', testid: 'generate-retry', hidden: editBtn.tagName === 'A' }, icon('refresh'), h('span', {}, 'Try again'));
        again.addEventListener('click', async () => {
          await fill(p, { seed: true });
          form.requestSubmit();
        });
        return h(
          'div',
          { class: 'callout callout-error gen-error', role: 'alert', testid: 'generate-error' },
          icon('alert'),
          h('div', {}, h('p', {}, h('strong', {}, 'This generation failed.')), h('p', { class: 'gen-error-text' }, g.error || 'The server did not say why.'), h('p', { class: 'muted small' }, 'Your credits for it were given back.'), h('div', { class: 'btn-row' }, again, editBtn)),
        );
      }
      return h('div', { class: 'gen-idle gen-cancelled', testid: 'generate-cancelled' }, h('div', { class: 'empty-icon' }, icon('x')), h('p', { class: 'gen-idle-title' }, 'Cancelled'), h('p', { class: 'muted' }, 'It stopped before it was finished. No credits were used.'), editBtn);
    }

    function renderStage(g, reconnecting) {
      const same = shown && g && shown.id === g.id;
      const statusChanged = !same || shown.status !== g.status;
      shown = g;
      statusEl.dataset.status = g ? g.status : 'idle';
      if (g) statusEl.dataset.jobId = g.id;
      else delete statusEl.dataset.jobId;
      reconnectEl.hidden = !reconnecting;
      cancelBtn.hidden = !isActiveJob(g);
      recent.mark(g && g.id);
      if (!statusChanged && live && isActiveJob(g)) {
        live.update(g);
        return;
      }
      if (live) live.stop();
      live = null;
      if (!g) {
        statusEl.replaceChildren(h('span', { class: 'gen-status-pill' }, icon('sparkles'), h('span', {}, 'Ready')));
        stageMeta.textContent = `${model.name} \u00b7 ${creditsText(model.credit_cost)} per image`;
        stageBody.replaceChildren(idleView());
        return;
      }
      const p = imageParams(g.params);
      statusEl.replaceChildren(statusBadge(g.status, { testid: 'generate-status-label' }));
      stageMeta.replaceChildren(h('span', { class: 'gen-stage-prompt', title: promptOf(g) }, promptOf(g)), h('span', { class: 'gen-stage-facts' }, [p.model_name || p.model, sizeText(p), p.steps ? plural(p.steps, 'step') : null, p.count > 1 ? plural(p.count, 'image') : null].filter(Boolean).join(' \u00b7 ')));
      if (isActiveJob(g)) {
        live = liveView(g);
        stageBody.replaceChildren(live.el);
      } else if (g.status === 'succeeded') stageBody.replaceChildren(resultView(g));
      else stageBody.replaceChildren(endedView(g));
    }

    /** Show a job on the right; follow it while it runs. */
    function show(g) {
      if (attachment) attachment.abort();
      attachment = new AbortController();
      const mine = attachment.signal;
      shownId = g ? g.id : null;
      if (!g) {
        renderStage(null, false);
        return;
      }
      renderStage(g, false);
      if (isActiveJob(g)) follow(g, ({ generation, reconnecting }) => {
        if (!mine.aborted && generation) renderStage(generation, reconnecting);
      }, mine);
    }
    signal.addEventListener(
      'abort',
      () => {
        if (attachment) attachment.abort();
        if (live) live.stop();
      },
      { once: true },
    );

    // ----------------------------------------------------------------- recent
    recent.onPick((g) => {
      show(g);
      if (window.matchMedia('(max-width: 960px)').matches) stageEl.scrollIntoView({ behavior: 'smooth', block: 'start' });
    });

    onGenerations(({ generation }) => {
      if (!generation) return;
      recent.upsert(generation);
      if (isFinal(generation.status)) refreshBalance();
    }, signal);

    // ------------------------------------------------------------------- page
    applyModel(model, { defaults: true });
    if (draft) restore(draft);
    const from = params.get('from');
    const start = params.get('source');
    const fromPost = params.get('post');
    if (from || start || fromPost) replaceQuietly('/generate');

    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide generate-page' },
        header,
        h(
          'div',
          { class: 'gen-layout' },
          h('div', { class: 'gen-form-col' }, card({ cls: 'gen-form-card' }, form)),
          h('div', { class: 'gen-main-col' }, stageEl, recent.el),
        ),
      ),
    );
    changed();
    renderStage(null, false);
    recent.load();
    if (from) loadFrom(from);
    if (fromPost) loadFromPost(fromPost);
    if (start) loadSource(start);
    if (shownId) {
      const id = shownId;
      get(`/generations/${encodeURIComponent(id)}`, { signal })
        .then((g) => {
          if (shownId === id && !shown) show(g);
        })
        .catch(() => {
          if (shownId === id) shownId = null;
        });
    }
  },
};

// ---------------------------------------------------------------------------
// Recent generations
// ---------------------------------------------------------------------------

/** The user's last generations (GET /generations), newest first; click one to show it. */
const newer = (a, b) => (a.created_at !== b.created_at ? a.created_at > b.created_at : a.id > b.id);

function recentList({ hideWhenEmpty = false } = {}) {
  const items = new Map(); // id -> { g, li }
  const list = h('ul', { class: 'recent-list', role: 'list' });
  const status = h('div', { class: 'recent-status' });
  const more = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', hidden: true, testid: 'recent-more' }, 'Show older');
  let cursor = null;
  let current = null;
  let pick = () => {};
  let loading = false;

  function thumbs(g) {
    const imgs = g.images || [];
    if (imgs.length) {
      return h(
        'span',
        { class: 'recent-thumb' },
        h('img', { src: imgs[0].thumbnail_url || imgs[0].url, alt: '', loading: 'lazy', decoding: 'async' }),
        imgs.length > 1 ? h('span', { class: 'recent-count' }, `+${imgs.length - 1}`) : null,
      );
    }
    if (g.status === 'running') return h('span', { class: 'recent-thumb is-running' }, spinner());
    return h('span', { class: `recent-thumb is-${g.status}` }, icon({ queued: 'clock', failed: 'alert', cancelled: 'x' }[g.status] || 'image'));
  }

  function item(g) {
    const p = imageParams(g.params);
    const meta = [sizeText(p), p.count > 1 ? plural(p.count, 'image') : null].filter(Boolean).join(' \u00b7 ');
    return h(
      'button',
      { type: 'button', class: 'recent-item', testid: 'recent-item', dataset: { jobId: g.id, status: g.status }, 'aria-current': g.id === current ? 'true' : null, onClick: () => pick(items.get(g.id).g) },
      thumbs(g),
      h('span', { class: 'recent-text' }, h('span', { class: 'recent-prompt', title: promptOf(g) }, promptOf(g)), h('span', { class: 'recent-meta' }, statusBadge(g.status), g.status === 'queued' && g.position ? h('span', {}, positionText(g.position)) : null, meta ? h('span', {}, meta) : null, timeEl(g.created_at))),
    );
  }

  function upsert(g) {
    const had = items.get(g.id);
    if (had && had.g.status === g.status && (had.g.images || []).length === (g.images || []).length && had.g.position === g.position) {
      had.g = g;
      return;
    }
    const btn = item(g);
    if (had) {
      const focused = had.li.contains(document.activeElement);
      had.li.replaceChildren(btn);
      had.g = g;
      if (focused) btn.focus();
    } else {
      const li = h('li', {}, btn);
      // Newest first, like the server: by creation time, then id.
      const older = [...items.values()].find((x) => newer(g, x.g));
      items.set(g.id, { g, li });
      if (older) list.insertBefore(li, older.li);
      else list.append(li);
    }
    status.replaceChildren();
    el.hidden = false;
  }

  async function load(older = false) {
    if (loading) return;
    loading = true;
    try {
      const res = await get(`/generations${qs({ cursor: older ? cursor : null })}`);
      for (const g of (res && res.items) || []) {
        upsert(g);
        // Keep active ones up to date (and end them with a toast).
        if (isActiveJob(g)) follow(g);
      }
      if (older || !cursor) cursor = (res && res.next_cursor) || null;
      more.hidden = !cursor;
      status.replaceChildren();
      if (!items.size) status.replaceChildren(h('p', { class: 'recent-empty muted small' }, 'Nothing yet: your generations will be listed here.'));
      el.hidden = hideWhenEmpty && !items.size;
    } catch (err) {
      if (!items.size) status.replaceChildren(errorBox(err, () => load(older)));
    } finally {
      loading = false;
    }
  }
  more.addEventListener('click', () => load(true));

  const el = card({ title: 'Recent', testid: 'generate-recent', cls: 'gen-recent' }, list, status, h('div', { class: 'recent-more' }, more));
  el.hidden = hideWhenEmpty;
  return {
    el,
    load: () => load(false),
    upsert,
    onPick: (fn) => {
      pick = fn;
    },
    mark(id) {
      current = id || null;
      for (const { g, li } of items.values()) {
        const btn = li.firstElementChild;
        if (!btn) continue;
        if (g.id === current) btn.setAttribute('aria-current', 'true');
        else btn.removeAttribute('aria-current');
      }
    },
  };
}
