// Bits shared by the generate page (pages/generate.js), the make-3D page, the asset page,
// the admin models page and the home dashboard: readable names for schedulers, statuses
// and credit entries, generation parameters as label/value facts, the "not set up"
// notice whose fix holds shell commands, a slider with a number box, and the dialog that
// picks an image of the library.

import { h, icon, badge, copyIconButton, spinner, emptyState, showLoadError, openModal, asText } from '../ui.js';
import { get, qs } from '../api.js';
import { assetTitle, thumbImage } from './library-common.js';

export const SCHEDULER_LABELS = {
  euler: 'Euler',
  euler_a: 'Euler ancestral',
  ddim: 'DDIM',
  lcm: 'LCM',
  dpmpp_2m_karras: 'DPM++ 2M Karras',
};

export const schedulerLabel = (id) => SCHEDULER_LABELS[id] || String(id || '\u2014');

const STATUS = {
  queued: ['Queued', 'warning'],
  running: ['Running', 'accent'],
  succeeded: ['Done', 'success'],
  failed: ['Failed', 'danger'],
  cancelled: ['Cancelled', 'neutral'],
};

export function statusBadge(status, props = {}) {
  const [label, kind] = STATUS[status] || [String(status), 'neutral'];
  return badge(label, kind, { ...props, class: `badge badge-${kind} status-badge status-${status}` });
}

export const plural = (n, one, many = `${one}s`) => `${Number(n).toLocaleString()} ${Number(n) === 1 ? one : many}`;
export const creditsText = (n) => plural(n, 'credit');

/** A fresh Idempotency-Key for a request that spends credits. */
export const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

const ordinals = typeof Intl !== 'undefined' && Intl.PluralRules ? new Intl.PluralRules('en', { type: 'ordinal' }) : null;
const SUFFIX = { one: 'st', two: 'nd', few: 'rd', other: 'th' };

/** 1 -> "Next in line", 2 -> "2nd in line". */
export function positionText(position) {
  const n = Number(position);
  if (!n || n < 1) return 'Waiting to start';
  if (n === 1) return 'Next in line';
  return `${n}${ordinals ? SUFFIX[ordinals.select(n)] : 'th'} in line`;
}

/** 4200 -> "4 s", 75000 -> "1 min 15 s". */
export function formatDuration(ms) {
  const s = Math.max(0, Math.round(Number(ms) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
}

/** How far a running job is, 0..1, over all of its images. */
export function progressFraction(p) {
  if (!p || !p.steps) return 0;
  const count = Math.max(1, Number(p.count) || 1);
  const image = Math.min(count, Math.max(1, Number(p.image) || 1));
  return Math.min(1, ((image - 1) * p.steps + Number(p.step || 0)) / (count * p.steps));
}

/** "Step 3 of 8 (image 1 of 2)", or with a 3D model's stage "Step 9 of 12 · Simplifying". */
export function stepLabel(p) {
  const images = p.count > 1 ? ` (image ${p.image} of ${p.count})` : '';
  return `Step ${p.step} of ${p.steps}${images}${p.stage ? ` \u00b7 ${p.stage}` : ''}`;
}

export function sizeText(p) {
  return p && p.width && p.height ? `${p.width} \u00d7 ${p.height}` : null;
}

const present = (v) => v !== null && v !== undefined && v !== '';

/**
 * Generation parameters as [label, value, key] rows in a sensible order (prompts
 * excluded). `sourceHref(id)` turns the start image id into a link.
 */
export function paramFacts(params, { sourceHref, sourceLabel = 'Start image' } = {}) {
  const p = params || {};
  const rows = [];
  const add = (label, value, key) => {
    if (present(value)) rows.push([label, value, key]);
  };
  add('Model', p.model_name || p.model, 'model');
  add('Size', sizeText(p), 'size');
  add('Seed', p.seed, 'seed');
  add('Steps', p.steps, 'steps');
  add('Guidance', present(p.guidance_scale) ? Number(p.guidance_scale).toLocaleString(undefined, { maximumFractionDigits: 2 }) : null, 'guidance_scale');
  add('Scheduler', present(p.scheduler) ? schedulerLabel(p.scheduler) : null, 'scheduler');
  if (present(p.source_asset_id)) {
    add('Strength', present(p.strength) ? Number(p.strength).toLocaleString(undefined, { maximumFractionDigits: 2 }) : null, 'strength');
    add(sourceLabel, sourceHref ? h('a', { href: sourceHref(p.source_asset_id) }, 'Open') : p.source_asset_id, 'source_asset_id');
  }
  if (Number(p.count) > 1) add('Images', p.count, 'count');
  return rows;
}

// Generation parameters shown first, in this order; everything else follows alphabetically.
const PARAM_ORDER = ['model', 'seed', 'steps', 'cfg_scale', 'guidance', 'sampler', 'scheduler', 'width', 'height', 'strength'];
const PARAM_LABELS = { cfg_scale: 'CFG scale', cfg: 'CFG scale', seed: 'Seed', steps: 'Steps', sampler: 'Sampler', scheduler: 'Scheduler', model: 'Model', width: 'Width', height: 'Height', strength: 'Strength', guidance: 'Guidance' };
// Parameters shown by paramFacts() or not worth showing; anything else is listed after them.
const HIDDEN_PARAMS = new Set(['prompt', 'negative_prompt', 'model', 'model_name', 'model_hash', 'width', 'height', 'seed', 'steps', 'guidance_scale', 'scheduler', 'strength', 'source_asset_id', 'count', 'job_id']);

export function humanKey(k) {
  if (PARAM_LABELS[k]) return PARAM_LABELS[k];
  const s = String(k).replace(/[_-]+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const MODE_LABELS = { relief: 'Relief', lithophane: 'Lithophane', extrusion: 'Silhouette' };
const MM_PARAMS = { width_mm: 'Width', base_mm: 'Base', max_height_mm: 'Relief height', height_mm: 'Height', min_thickness_mm: 'Thinnest', max_thickness_mm: 'Thickest', max_error_mm: 'Detail tolerance' };

/** A 3D model's settings in words: "Lithophane", "12 mm", "Curved, 120°". */
export function readableMeshParams(params) {
  const p = { ...params };
  const out = {};
  if (p.mode) out.mode = MODE_LABELS[p.mode] || p.mode;
  if (p.shape) out.shape = p.shape.kind === 'curved' ? `Curved, ${p.shape.angle_degrees}\u00b0` : 'Flat';
  if (p.frame) out.frame = `${p.frame.width_mm} mm`;
  for (const [k, label] of Object.entries(MM_PARAMS)) if (typeof p[k] === 'number') out[label] = `${p[k]} mm`;
  for (const k of ['mode', 'shape', 'frame', ...Object.keys(MM_PARAMS)]) delete p[k];
  return { ...p, ...out };
}

/**
 * Generation parameters as a <dl>: the prompts (each with a copy button), then the
 * settings as small tiles. `model`: the parameters of a 3D model (put in words).
 * Returns { list, params } (params as shown).
 */
export function generationList(rawParams, { model = false, testid, sourceHref, sourceLabel } = {}) {
  const params = model ? readableMeshParams(rawParams) : rawParams;
  const promptBlock = (k) =>
    h(
      'div',
      { class: `prompt-block ${k === 'negative_prompt' ? 'is-negative' : ''}`.trim(), dataset: { param: k } },
      h('dt', {}, humanKey(k), copyIconButton(() => String(params[k]), { what: humanKey(k) })),
      h('dd', {}, asText(params[k])),
    );
  const prose = ['prompt', 'negative_prompt'].filter((k) => present(params[k]));
  const facts = paramFacts(params, { sourceHref, sourceLabel });
  const extra = Object.keys(params)
    .filter((k) => !HIDDEN_PARAMS.has(k) && present(params[k]))
    .sort((a, b) => {
      const ia = PARAM_ORDER.indexOf(a);
      const ib = PARAM_ORDER.indexOf(b);
      if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
      return a.localeCompare(b);
    })
    .map((k) => [humanKey(k), asText(params[k]), k]);
  const rows = [...facts, ...extra];
  const list = h(
    'dl',
    { class: 'params-list', testid },
    prose.map(promptBlock),
    rows.length
      ? h(
          'div',
          { class: 'params-grid' },
          rows.map(([label, value, key]) => h('div', { class: `param${key === 'model' ? ' param-wide' : ''}`, dataset: { param: key } }, h('dt', {}, label), h('dd', { class: typeof value === 'number' ? 'num' : null }, value))),
        )
      : null,
  );
  return { list, params };
}

/** Text with `backtick` spans turned into <code>. */
export function withCode(text) {
  return String(text || '')
    .split(/(`[^`]+`)/)
    .filter(Boolean)
    .map((part) => (part.startsWith('`') && part.endsWith('`') ? h('code', { class: 'inline-code' }, part.slice(1, -1)) : part));
}

/** The `backtick` spans of a text that look like commands to run. */
export function commandsIn(text) {
  return [...String(text || '').matchAll(/`([^`]+)`/g)].map((m) => m[1].trim()).filter((c) => /^[a-z0-9_./-]+\s/i.test(c));
}

/** A shell command in a code block with a copy button. */
export function commandBlock(cmd, testid) {
  return h('div', { class: 'cmd', testid }, h('span', { class: 'cmd-prompt', 'aria-hidden': 'true' }, '$'), h('code', { class: 'cmd-text' }, cmd), copyIconButton(() => cmd, { what: 'Command', testid: testid ? `${testid}-copy` : null }));
}

/** Why generation is unavailable and how to fix it: the reason, the fix, and its commands. */
export function problemDetails(problem, testid = 'generate-fix') {
  if (!problem) return null;
  const cmds = commandsIn(problem.fix);
  return h(
    'div',
    { class: 'problem' },
    problem.reason ? h('p', { class: 'problem-reason' }, withCode(problem.reason)) : null,
    problem.fix ? h('p', { class: 'problem-fix', testid }, withCode(problem.fix)) : null,
    cmds.length ? h('div', { class: 'cmd-list' }, cmds.map((c) => commandBlock(c, 'generate-command'))) : null,
  );
}

// [label, icon, whether the entry's note says more than the label]
const CREDIT_KINDS = {
  starting: ['Welcome credits', 'sparkles', false],
  reserve: ['Image generation', 'image', false],
  settle: ['Charged', 'check', false],
  refund: ['Refunded', 'refresh', true],
  grant: ['From an admin', 'coins', true],
};

export const creditKind = (kind) => CREDIT_KINDS[kind] || [String(kind || 'Entry'), 'coins', true];

/** Signed amount, e.g. "+100", "\u22122", "0". */
export function signedAmount(n) {
  const v = Number(n) || 0;
  if (v > 0) return `+${v.toLocaleString()}`;
  if (v < 0) return `\u2212${Math.abs(v).toLocaleString()}`;
  return '0';
}

export function creditIcon() {
  return h('span', { class: 'credit-icon', 'aria-hidden': 'true' }, icon('coins'));
}

/** A labelled slider with a number box beside it; the number box carries the name. */
export function rangeField({ name, label, min, max, sliderMax = max, step, numberStep = step, value, testid, sliderTestid, hint, idPrefix = 'gen' }) {
  const id = `${idPrefix}-${name}`;
  const number = h('input', { type: 'number', id, name, class: 'input input-num', min: String(min), max: String(max), step: String(numberStep), value: String(value), inputmode: 'decimal', testid });
  const range = h('input', { type: 'range', class: 'range', min: String(min), max: String(sliderMax), step: String(step), value: String(value), 'aria-label': label, testid: sliderTestid });
  range.addEventListener('input', () => {
    number.value = range.value;
    number.dispatchEvent(new Event('input', { bubbles: true }));
  });
  number.addEventListener('input', () => {
    if (number.value !== '') range.value = number.value;
  });
  const set = (v) => {
    number.value = String(v);
    range.value = String(v);
  };
  const el = h(
    'div',
    { class: 'field' },
    h('label', { for: id, class: 'label' }, label),
    h('div', { class: 'range-row' }, range, number),
    hint ? h('p', { class: 'hint' }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }),
  );
  return { el, number, range, set };
}

// ---------------------------------------------------------------------------
// Start image picker
// ---------------------------------------------------------------------------

/**
 * Dialog listing the user's library images; resolves to the chosen asset or null.
 * `likeness` (a use: 'image_to_image' or 'model_from_image') also offers the person's
 * likeness samples first, when their likeness consent names that use.
 */
export function pickImage(signal, { title = 'Start from an image', intro = 'Choose an image from your library. The new image keeps its layout and colours; the strength says how much is repainted.', likeness = null } = {}) {
  return new Promise((resolve) => {
    let chosen = null;
    let cursor = null;
    const grid = h('ul', { class: 'picker-grid', role: 'list', 'aria-label': 'Your images' });
    const samples = h('div', { class: 'picker-samples', hidden: true });
    const status = h('div', { class: 'picker-status' });
    const more = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', hidden: true }, 'Load more');
    const closeBtn = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', testid: 'source-dialog-close' }, icon('x'));
    const dlg = h(
      'dialog',
      { class: 'dialog dialog-wide', 'aria-labelledby': 'picker-title', testid: 'source-dialog' },
      h(
        'div',
        { class: 'dialog-body' },
        h('div', { class: 'dialog-head' }, h('h2', { id: 'picker-title' }, title), closeBtn),
        h('p', { class: 'muted' }, intro),
        samples,
        grid,
        status,
        h('div', { class: 'picker-more' }, more),
      ),
    );
    const pick = (a) => {
      chosen = a;
      dlg.close();
    };
    async function load() {
      status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading your images\u2026')));
      more.hidden = true;
      try {
        const res = await get(`/assets${qs({ kind: 'image', cursor })}`, { signal });
        for (const a of (res && res.items) || []) {
          grid.append(
            h(
              'li',
              {},
              h(
                'button',
                { type: 'button', class: 'picker-item', testid: 'source-item', dataset: { assetId: String(a.id) }, title: assetTitle(a), onClick: () => pick(a) },
                h('span', { class: 'picker-thumb' }, thumbImage(a)),
                h('span', { class: 'picker-name' }, assetTitle(a)),
              ),
            ),
          );
        }
        cursor = (res && res.next_cursor) || null;
        more.hidden = !cursor;
        status.replaceChildren();
        if (!grid.children.length) {
          const link = h('a', { href: '/library', class: 'btn btn-primary btn-sm' }, icon('upload'), h('span', {}, 'Upload images'));
          link.addEventListener('click', () => dlg.close());
          status.replaceChildren(h('div', { class: 'picker-empty' }, emptyState('image', 'No images in your library yet', 'Upload a picture, or generate one first, then start from it.'), link));
        }
      } catch (err) {
        showLoadError(status, err, load);
      }
    }
    // Likeness samples, only while the consent names this use.
    async function loadSamples() {
      try {
        const res = await get('/me/likeness', { signal });
        if (!res || !res.consent || !res.consent.uses.includes(likeness) || !(res.samples || []).length) return;
        samples.replaceChildren(
          h('h3', { class: 'picker-section' }, icon('user'), h('span', {}, 'Your likeness samples')),
          h(
            'ul',
            { class: 'picker-grid', role: 'list', 'aria-label': 'Your likeness samples' },
            res.samples.map((a) =>
              h('li', {}, h('button', { type: 'button', class: 'picker-item', testid: 'source-likeness-item', dataset: { assetId: String(a.id) }, title: assetTitle(a), onClick: () => pick(a) }, h('span', { class: 'picker-thumb' }, thumbImage(a)), h('span', { class: 'picker-name' }, assetTitle(a)))),
            ),
          ),
          h('h3', { class: 'picker-section' }, icon('library'), h('span', {}, 'Your library')),
        );
        samples.hidden = false;
      } catch {
        /* the library alone still works */
      }
    }
    if (likeness) loadSamples();
    more.addEventListener('click', load);
    closeBtn.addEventListener('click', () => dlg.close());
    signal.addEventListener('abort', () => dlg.open && dlg.close(), { once: true });
    openModal(dlg, () => resolve(chosen));
    closeBtn.focus();
    load();
  });
}
