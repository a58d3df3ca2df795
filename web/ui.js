// Small DOM toolkit shared by every page: element builder, icons, toasts,
// time formatting, form helpers, dialogs and tables.
// Everything builds real DOM nodes (never innerHTML with data), so text coming
// from the API can never turn into markup.

import { ApiError } from './api.js';

// ---------------------------------------------------------------------------
// Element builder
// ---------------------------------------------------------------------------

/**
 * h('button', { class: 'btn', onClick: fn, testid: 'x' }, 'Label', child, [more])
 * - `class`      -> className
 * - `testid`     -> data-testid
 * - `dataset`    -> Object.assign(el.dataset, …)
 * - `onXxx`      -> addEventListener('xxx', fn)
 * - `value`, `checked`, `selected`, `indeterminate` -> set as properties (after children)
 * - boolean true -> empty attribute; false/null/undefined -> skipped
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  const late = [];
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'testid') el.setAttribute('data-testid', v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (k === 'value') {
        if (tag === 'input') el.setAttribute('value', String(v)); // default value, restored by form.reset()
        late.push([k, v]);
      } else if (k === 'checked' || k === 'selected') {
        el.setAttribute(k, ''); // default state, restored by form.reset()
        late.push([k, v]);
      } else if (k === 'indeterminate') late.push([k, v]);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  for (const [k, v] of late) el[k] = v;
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === true) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// ---------------------------------------------------------------------------
// Icons (hand-drawn 24x24 stroke icons) and the logo
// ---------------------------------------------------------------------------

const SVG_NS = 'http://www.w3.org/2000/svg';
const circ = (cx, cy, r) => `M${cx - r} ${cy}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;
const rect = (x, y, w, hh, r) =>
  `M${x + r} ${y}h${w - 2 * r}a${r} ${r} 0 0 1 ${r} ${r}v${hh - 2 * r}a${r} ${r} 0 0 1 ${-r} ${r}h${-(w - 2 * r)}a${r} ${r} 0 0 1 ${-r} ${-r}v${-(hh - 2 * r)}a${r} ${r} 0 0 1 ${r} ${-r}z`;

const ICONS = {
  home: 'M3 10.5 12 3l9 7.5V20a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z',
  image: `${rect(3, 3, 18, 18, 3)}${circ(9, 9, 2)}M21 15l-5-5L5 21`,
  cube: 'M12 2.5 3.5 7v10l8.5 4.5 8.5-4.5V7zM3.5 7l8.5 4.5L20.5 7M12 11.5v10',
  library: `${rect(3, 3, 7, 7, 1.5)}${rect(14, 3, 7, 7, 1.5)}${rect(3, 14, 7, 7, 1.5)}${rect(14, 14, 7, 7, 1.5)}`,
  community: `${circ(9, 8, 3.5)}M2.5 20a6.5 6.5 0 0 1 13 0${circ(17, 9, 2.5)}M16.5 14.2A5 5 0 0 1 21.5 19`,
  user: `${circ(12, 8, 4)}M4 21a8 8 0 0 1 16 0`,
  shield: 'M12 3 4.5 6v6c0 4.6 3.2 7.9 7.5 9 4.3-1.1 7.5-4.4 7.5-9V6zM9 12l2 2 4-4',
  key: `${circ(8, 15, 4)}M11 12l9-9M16.5 6.5l3 3M14.5 8.5l2 2`,
  mail: `${rect(3, 5, 18, 14, 2)}M3 7l9 6 9-6`,
  ticket: 'M4 6h16a1 1 0 0 1 1 1v3a2 2 0 0 0 0 4v3a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-3a2 2 0 0 0 0-4V7a1 1 0 0 1 1-1zM14 6v12',
  sliders: `M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1${circ(15, 6, 2)}${circ(9, 12, 2)}${circ(17, 18, 2)}`,
  list: 'M9 6h12M9 12h12M9 18h12M4 6h.01M4 12h.01M4 18h.01',
  sun: `${circ(12, 12, 4)}M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4`,
  moon: 'M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z',
  menu: 'M4 6h16M4 12h16M4 18h16',
  logout: 'M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11',
  copy: `${rect(9, 9, 12, 12, 2)}M5 15H4.5A1.5 1.5 0 0 1 3 13.5v-9A1.5 1.5 0 0 1 4.5 3h9A1.5 1.5 0 0 1 15 4.5V5`,
  check: 'm5 12.5 4.5 4.5L19 7',
  x: 'M6 6l12 12M18 6 6 18',
  eye: `M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z${circ(12, 12, 3)}`,
  eyeOff: `M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z${circ(12, 12, 3)}M3 3l18 18`,
  monitor: `${rect(3, 4, 18, 12, 2)}M8 20h8M12 16v4`,
  phone: `${rect(7, 2, 10, 20, 2)}M11 18h2`,
  sparkles: 'M11 3l1.9 5.1L18 10l-5.1 1.9L11 17l-1.9-5.1L4 10l5.1-1.9zM18.5 14.5l.8 2.2 2.2.8-2.2.8-.8 2.2-.8-2.2-2.2-.8 2.2-.8z',
  plus: 'M12 5v14M5 12h14',
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
  search: `${circ(11, 11, 7)}M20 20l-4-4`,
  alert: `${circ(12, 12, 9)}M12 7.5v5.5M12 16.5h.01`,
  info: `${circ(12, 12, 9)}M12 11v5.5M12 7.5h.01`,
  chevronDown: 'm6 9 6 6 6-6',
  arrowRight: 'M5 12h14M13 6l6 6-6 6',
  refresh: 'M20 11a8 8 0 0 0-14.6-4.5L4 8M4 4v4h4M4 13a8 8 0 0 0 14.6 4.5L20 16M20 20v-4h-4',
  lock: `${rect(4, 11, 16, 10, 2)}M8 11V7a4 4 0 0 1 8 0v4`,
  globe: `${circ(12, 12, 9)}M3 12h18M12 3c2.5 2.7 3.8 5.7 3.8 9s-1.3 6.3-3.8 9c-2.5-2.7-3.8-5.7-3.8-9S9.5 5.7 12 3z`,
  upload: 'M12 15V4M7.5 8.5 12 4l4.5 4.5M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3',
  download: 'M12 4v11M7.5 10.5 12 15l4.5-4.5M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3',
  pencil: 'M4 20h4L19 9a2.83 2.83 0 0 0-4-4L4 16zM13.5 6.5l4 4',
  arrowLeft: 'M19 12H5M11 6l-6 6 6 6',
  database: 'M4 6.5c0-1.9 3.6-3.5 8-3.5s8 1.6 8 3.5S16.4 10 12 10 4 8.4 4 6.5zM4 6.5v11c0 1.9 3.6 3.5 8 3.5s8-1.6 8-3.5v-11M4 12c0 1.9 3.6 3.5 8 3.5s8-1.6 8-3.5',
  tag: `M3.5 4.5v7l9 9 8-8-9-9h-7a1 1 0 0 0-1 1z${circ(8, 8, 1.5)}`,
  file: 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5',
  external: 'M14 4h6v6M20 4l-9 9M18 14v4a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h4',
  checkSquare: `${rect(3, 3, 18, 18, 4)}m7.5 12 3 3 6-6`,
  dice: `${rect(3, 3, 18, 18, 4)}${circ(8.5, 8.5, 1.1)}${circ(15.5, 8.5, 1.1)}${circ(12, 12, 1.1)}${circ(8.5, 15.5, 1.1)}${circ(15.5, 15.5, 1.1)}`,
  coins: 'M4 7c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 7v5c0 1.7 3.6 3 8 3s8-1.3 8-3V7M4 12v5c0 1.7 3.6 3 8 3s8-1.3 8-3v-5',
  clock: `${circ(12, 12, 9)}M12 7v5l3 2`,
  swap: 'M7 4 3 8l4 4M3 8h14M17 20l4-4-4-4M21 16H7',
  terminal: `${rect(3, 4, 18, 16, 2)}M7 9l3 3-3 3M13 15h4`,
  cpu: `${rect(6, 6, 12, 12, 2)}M9 2v4M15 2v4M9 18v4M15 18v4M2 9h4M2 15h4M18 9h4M18 15h4`,
  stop: rect(6, 6, 12, 12, 2.5),
  bell: 'M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 1.5h-15zM10 20.5a2 2 0 0 0 4 0',
  message: 'M20.5 11.5a8 8 0 0 1-11.9 7l-4.6 1.3 1.3-4.4a8 8 0 1 1 15.2-3.9z',
  heart: 'M12 20s-7.5-4.6-9.3-9.4A4.9 4.9 0 0 1 12 6.3a4.9 4.9 0 0 1 9.3 4.3C19.5 15.4 12 20 12 20z',
  flag: 'M5 21V4M5 4h12l-2.5 4.5L17 13H5',
  more: `${circ(5.5, 12, 1.2)}${circ(12, 12, 1.2)}${circ(18.5, 12, 1.2)}`,
  userPlus: `${circ(9, 8, 4)}M2.5 21a6.5 6.5 0 0 1 13 0M19 8v6M16 11h6`,
  userCheck: `${circ(9, 8, 4)}M2.5 21a6.5 6.5 0 0 1 13 0M16 11l2 2 4-4`,
  ban: `${circ(12, 12, 9)}M5.7 5.7l12.6 12.6`,
  send: 'M21 3 10.5 13.5M21 3l-6.5 18-4-7.5L3 9.5z',
  smile: `${circ(12, 12, 9)}M8.5 14.5a4.5 4.5 0 0 0 7 0M9 9.5h.01M15 9.5h.01`,
  reply: 'M9.5 14.5 4.5 9.5l5-5M4.5 9.5h10a5.5 5.5 0 0 1 5.5 5.5v5',
  link: 'M10 14a4.5 4.5 0 0 0 6.4 0l3-3a4.5 4.5 0 0 0-6.4-6.4l-1 1M14 10a4.5 4.5 0 0 0-6.4 0l-3 3a4.5 4.5 0 0 0 6.4 6.4l1-1',
  trending: 'M3 17l6-6 4 4 8-8M15 7h6v6',
  hash: 'M5 9h15M4 15h15M10 3 8 21M16 3l-2 18',
  calendar: `${rect(3, 5, 18, 16, 2)}M3 10h18M8 3v4M16 3v4`,
  chart: 'M3 3v18h18M7.5 17v-5M12 17V7M16.5 17v-8',
};

export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '1.8');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon ${cls}`.trim());
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name] || ICONS.info);
  svg.appendChild(path);
  return svg;
}

let logoSeq = 0;
/** The StrataMake mark: three stacked strata on a gradient tile. */
export function logo(size = 32) {
  const id = `sm-logo-grad-${++logoSeq}`;
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'logo');
  const mk = (tag, attrs) => {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  };
  const defs = mk('defs', {});
  const grad = mk('linearGradient', { id, x1: '0', y1: '0', x2: '1', y2: '1' });
  grad.appendChild(mk('stop', { offset: '0', 'stop-color': '#7c5cff' }));
  grad.appendChild(mk('stop', { offset: '0.55', 'stop-color': '#e255c8' }));
  grad.appendChild(mk('stop', { offset: '1', 'stop-color': '#ff9f5a' }));
  defs.appendChild(grad);
  svg.appendChild(defs);
  svg.appendChild(mk('rect', { x: '0', y: '0', width: '32', height: '32', rx: '9', fill: `url(#${id})` }));
  svg.appendChild(mk('path', { d: 'M16 6.5 25 11l-9 4.5L7 11z', fill: '#fff', 'fill-opacity': '0.95' }));
  svg.appendChild(mk('path', { d: 'm7 15.5 9 4.5 9-4.5', fill: 'none', stroke: '#fff', 'stroke-opacity': '0.8', 'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round' }));
  svg.appendChild(mk('path', { d: 'm7 20 9 4.5 9-4.5', fill: 'none', stroke: '#fff', 'stroke-opacity': '0.55', 'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round' }));
  return svg;
}

// ---------------------------------------------------------------------------
// Toasts (aria-live region lives in index.html: #toasts)
// ---------------------------------------------------------------------------

export function toast(message, kind = 'info', { timeout = kind === 'error' ? 8000 : 4500 } = {}) {
  const region = document.getElementById('toasts');
  if (!region) return;
  const item = h(
    'div',
    { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', testid: 'toast' },
    icon(kind === 'error' ? 'alert' : kind === 'success' ? 'check' : 'info', 'toast-icon'),
    h('p', { class: 'toast-text' }, message),
    h('button', { type: 'button', class: 'icon-btn toast-close', 'aria-label': 'Dismiss notification', onClick: () => dismiss() }, icon('x')),
  );
  let timer = null;
  const dismiss = () => {
    clearTimeout(timer);
    item.classList.add('leaving');
    setTimeout(() => item.remove(), 180);
  };
  const arm = () => { timer = setTimeout(dismiss, timeout); };
  item.addEventListener('mouseenter', () => clearTimeout(timer));
  item.addEventListener('mouseleave', arm);
  item.addEventListener('focusin', () => clearTimeout(timer));
  region.appendChild(item);
  while (region.children.length > 4) region.firstElementChild.remove();
  arm();
}

/** Toast for a caught error (ApiError or anything else). */
export function toastError(err, fallback = 'Something went wrong') {
  if (err && err.name === 'AbortError') return;
  toast(errorMessage(err, fallback), 'error');
}

/** Calls every listener with `value`; one that throws is logged and does not stop the others. */
export function notifyListeners(listeners, value) {
  for (const fn of [...listeners]) {
    try {
      fn(value);
    } catch (err) {
      console.error(err);
    }
  }
}

export function errorMessage(err, fallback = 'Something went wrong') {
  if (err instanceof ApiError) return err.detail || err.title || fallback;
  return fallback;
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

const rtf = typeof Intl !== 'undefined' && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null;
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function relativeTime(ts) {
  const diff = ts - Date.now() / 1000;
  const abs = Math.abs(diff);
  if (abs < 45) return diff <= 0 ? 'just now' : 'in a few seconds';
  const steps = [
    [3600, 60, 'minute'],
    [86400, 3600, 'hour'],
    [86400 * 26, 86400, 'day'],
    [86400 * 320, 86400 * 30.44, 'month'],
    [Infinity, 86400 * 365.25, 'year'],
  ];
  for (const [limit, unit, name] of steps) {
    if (abs < limit) {
      const v = Math.round(diff / unit) || (diff < 0 ? -1 : 1);
      return rtf ? rtf.format(v, name) : `${Math.abs(v)} ${name}${Math.abs(v) === 1 ? '' : 's'} ${v < 0 ? 'ago' : 'from now'}`;
    }
  }
  return absoluteTime(ts);
}

export function absoluteTime(ts) {
  return dtf.format(new Date(ts * 1000));
}

/** <time> showing relative time with the absolute date in its title; `empty` when ts is null. */
export function timeEl(ts, empty = '—') {
  if (ts === null || ts === undefined || ts === '' || Number.isNaN(Number(ts))) return h('span', { class: 'muted' }, empty);
  const n = Number(ts);
  const d = new Date(n * 1000);
  return h('time', { datetime: d.toISOString(), title: absoluteTime(n), dataset: { ts: String(n) } }, relativeTime(n));
}

let clockStarted = false;
/** Refresh every relative <time> on screen once a minute. */
export function startClock() {
  if (clockStarted) return;
  clockStarted = true;
  setInterval(() => {
    for (const t of document.querySelectorAll('time[data-ts]')) t.textContent = relativeTime(Number(t.dataset.ts));
  }, 30000);
}

// ---------------------------------------------------------------------------
// Generic bits
// ---------------------------------------------------------------------------

/** Human file size: 512 B, 4.2 KB, 18 MB, 1.5 GB (binary units). */
export function formatBytes(n) {
  const v = Number(n);
  if (n === null || n === undefined || n === '' || !Number.isFinite(v) || v < 0) return '\u2014';
  if (v < 1024) return `${v} B`;
  const units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  const digits = x < 10 ? 1 : 0;
  return `${x.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 })} ${units[i]}`;
}

export function spinner(label) {
  return h('span', { class: 'spinner', role: label ? 'status' : null, 'aria-label': label || null, 'aria-hidden': label ? null : 'true' });
}

export function badge(text, kind = 'neutral', props = {}) {
  return h('span', { class: `badge badge-${kind}`, ...props }, text);
}

export function avatar(me, size = 'md') {
  const name = (me && (me.display_name || me.username)) || '?';
  const initials = name
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .map((w) => w[0])
    .join('')
    .toUpperCase();
  let hash = 0;
  for (const ch of (me && me.username) || name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const el = h('span', { class: `avatar avatar-${size} avatar-hue-${hash % 6}`, 'aria-hidden': 'true' }, initials || '?');
  // A picture when there is one (community profiles); the initials stay if it fails.
  if (me && me.avatar_url) {
    const img = h('img', { src: me.avatar_url, alt: '', class: 'avatar-img', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => img.remove());
    el.appendChild(img);
  }
  return el;
}

export function pageHeader(title, subtitle, ...actions) {
  return h(
    'header',
    { class: 'page-header' },
    h('div', { class: 'page-header-text' }, h('h1', { tabindex: '-1' }, title), subtitle ? h('p', { class: 'page-subtitle' }, subtitle) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

export function card({ title, description, actions, testid, cls = '' } = {}, ...body) {
  const headingId = title ? `card-${Math.random().toString(36).slice(2, 9)}` : null;
  return h(
    'section',
    { class: `card ${cls}`.trim(), 'aria-labelledby': headingId, testid },
    title || actions
      ? h(
          'div',
          { class: 'card-head' },
          h('div', { class: 'card-head-text' }, title ? h('h2', { id: headingId }, title) : null, description ? h('p', { class: 'card-desc' }, description) : null),
          actions ? h('div', { class: 'card-actions' }, actions) : null,
        )
      : null,
    body,
  );
}

/** Secondary tab strip (Settings / Admin sub-pages). */
export function tabs(label, items, current) {
  const nav = h(
    'nav',
    { class: 'tabs', 'aria-label': label },
    items.map(([href, text, ic]) =>
      h('a', { href, class: 'tab', 'aria-current': href === current ? 'page' : null }, ic ? icon(ic) : null, h('span', {}, text)),
    ),
  );
  // On narrow screens the strip scrolls sideways: keep the current tab in view and
  // fade the edge that has more tabs behind it.
  let ro = null;
  const sync = () => {
    if (!nav.isConnected) {
      if (ro) ro.disconnect(); // the page was replaced
      return;
    }
    const max = nav.scrollWidth - nav.clientWidth;
    nav.classList.toggle('more-end', max > 1 && nav.scrollLeft < max - 1);
    nav.classList.toggle('more-start', max > 1 && nav.scrollLeft > 1);
  };
  nav.addEventListener('scroll', sync, { passive: true });
  if (typeof ResizeObserver === 'function') {
    ro = new ResizeObserver(sync);
    ro.observe(nav);
  }
  requestAnimationFrame(() => {
    const cur = nav.querySelector('[aria-current="page"]');
    if (cur && nav.scrollWidth > nav.clientWidth) nav.scrollLeft = Math.max(0, cur.offsetLeft - nav.clientWidth / 2 + cur.offsetWidth / 2);
    sync();
  });
  return nav;
}

export function emptyState(ic, title, text) {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-icon' }, icon(ic)), h('p', { class: 'empty-title' }, title), text ? h('p', { class: 'muted' }, text) : null);
}

export function errorBox(err, retry) {
  return h(
    'div',
    { class: 'callout callout-error', role: 'alert', testid: 'load-error' },
    icon('alert'),
    h('div', {}, h('p', {}, errorMessage(err, 'Could not load this section.')), retry ? h('button', { type: 'button', class: 'btn btn-sm btn-secondary', onClick: retry }, 'Try again') : null),
  );
}

/** Shows a failed load in `slot` (an error box with a retry button), unless it was aborted (the page was left). */
export function showLoadError(slot, err, retry) {
  if (err && err.name === 'AbortError') return;
  slot.replaceChildren(errorBox(err, retry));
}

/** Plain text for any API value (string, number, object, null). */
export function asText(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'object') {
    if (v.username) return v.username;
    if (v.name) return v.name;
    try {
      return JSON.stringify(v);
    } catch {
      return String(v);
    }
  }
  return String(v);
}

export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  const ta = h('textarea', { class: 'visually-hidden', readonly: true });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function copyButton(getText, { label = 'Copy', testid } = {}) {
  const text = h('span', {}, label);
  const btn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid }, icon('copy'), text);
  btn.addEventListener('click', async () => {
    const ok = await copyText(getText());
    text.textContent = ok ? 'Copied' : 'Copy failed';
    toast(ok ? 'Copied to clipboard' : 'Could not copy: select the text and copy it manually', ok ? 'success' : 'error');
    setTimeout(() => { text.textContent = label; }, 2000);
  });
  return btn;
}

/** Small icon-only copy button; `what` names the copied thing in its label and toast. */
export function copyIconButton(getText, { what = 'Text', testid } = {}) {
  const btn = h('button', { type: 'button', class: 'icon-btn icon-btn-sm', testid, 'aria-label': `Copy ${what.toLowerCase()}`, title: 'Copy' }, icon('copy'));
  btn.addEventListener('click', async () => {
    const ok = await copyText(getText());
    toast(ok ? `${what} copied` : 'Could not copy: select the text and copy it manually', ok ? 'success' : 'error');
  });
  return btn;
}

const dialogTitleId = () => `dlg-${Math.random().toString(36).slice(2, 9)}`;

/**
 * Shows `dlg` (a <dialog>) as a modal. When it closes, `onClose()` runs, the dialog is
 * removed and the focus goes back to whatever had it before.
 */
export function openModal(dlg, onClose) {
  const opener = document.activeElement;
  dlg.addEventListener('close', () => {
    onClose();
    dlg.remove();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  });
  document.body.appendChild(dlg);
  dlg.showModal();
}

/** Modal confirmation using <dialog>. Resolves true when confirmed. */
export function confirmDialog({ title, body, confirmLabel = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const titleId = dialogTitleId();
    const dlg = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      h(
        'form',
        { method: 'dialog', class: 'dialog-body' },
        h('h2', { id: titleId }, title),
        body ? h('p', { class: 'muted' }, body) : null,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'btn btn-secondary', testid: 'confirm-cancel' }, 'Cancel'),
          h('button', { type: 'submit', value: 'ok', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, testid: 'confirm-ok' }, confirmLabel),
        ),
      ),
    );
    openModal(dlg, () => resolve(dlg.returnValue === 'ok'));
    dlg.querySelector('[value="cancel"]').focus();
  });
}

/**
 * Makes `btn` ask first (`confirm`: confirmDialog's options, danger by default), then run
 * `action()` with the button disabled. It stays disabled when that succeeds (the action
 * redraws or leaves); on failure it is enabled again and the error shown with `failMessage`.
 */
export function confirmAction(btn, confirm, action, failMessage) {
  btn.addEventListener('click', async () => {
    if (!(await confirmDialog({ danger: true, ...confirm }))) return;
    btn.disabled = true;
    try {
      await action();
    } catch (err) {
      btn.disabled = false;
      toastError(err, failMessage);
    }
  });
  return btn;
}

/**
 * Modal <dialog> holding a small form (admin quota, credits…). `submit(form)` returns
 * the result, which closes the dialog and resolves the promise, or throws: an Error's
 * message (or an ApiError's field errors / detail) is shown above the buttons.
 * Cancel or Escape resolves null. `danger` gives the submit button the danger look.
 */
export function formDialog({ title, intro, fields, submitLabel, testid, submitTestid, submit, focus, danger = false }) {
  return new Promise((resolve) => {
    const titleId = dialogTitleId();
    const alert = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, testid: submitTestid }, submitLabel);
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Cancel');
    const form = h('form', { class: 'dialog-body', novalidate: true }, h('h2', { id: titleId }, title), intro ? h('p', { class: 'muted' }, intro) : null, fields, alert, h('div', { class: 'dialog-actions' }, cancel, save));
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, testid }, form);
    let result = null;
    cancel.addEventListener('click', () => dlg.close());
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      alert.hidden = true;
      save.disabled = true;
      try {
        result = await submit(form);
        dlg.close();
      } catch (err) {
        const fieldMsgs = err instanceof ApiError ? Object.values(err.errors || {}).flat() : [];
        alert.textContent = fieldMsgs.length ? fieldMsgs.join(' ') : err instanceof ApiError ? errorMessage(err) : (err && err.message) || 'Something went wrong.';
        alert.hidden = false;
      } finally {
        save.disabled = false;
      }
    });
    openModal(dlg, () => resolve(result));
    const first = focus ? focus(form) : form.querySelector('input,select,textarea');
    if (first) first.focus();
  });
}

// ---------------------------------------------------------------------------
// Forms
// ---------------------------------------------------------------------------

let fieldSeq = 0;

/**
 * Labelled input with hint and error slot.
 * field({ name, label, type, testid, autocomplete, required, value, hint, attrs })
 */
export function field(opts) {
  const { name, label, type = 'text', testid, autocomplete, required, value, hint, attrs = {}, multiline = false } = opts;
  const id = `f-${name.replace(/[^a-z0-9_-]/gi, '')}-${++fieldSeq}`;
  const hintId = hint ? `${id}-hint` : null;
  const props = {
    id,
    name,
    class: 'input',
    autocomplete: autocomplete || null,
    required: !!required,
    'aria-describedby': hintId,
    testid,
    value: value ?? null,
    ...attrs,
  };
  let control;
  if (multiline) control = h('textarea', props);
  else control = h('input', { type, ...props });
  if (multiline && value !== undefined && value !== null) control.value = value;

  let wrapped = control;
  if (type === 'password') {
    const toggle = h('button', { type: 'button', class: 'input-addon', 'aria-label': 'Show password', 'aria-pressed': 'false', 'aria-controls': id }, icon('eye'));
    toggle.addEventListener('click', () => {
      const show = control.type === 'password';
      control.type = show ? 'text' : 'password';
      toggle.setAttribute('aria-pressed', String(show));
      toggle.setAttribute('aria-label', show ? 'Hide password' : 'Show password');
      toggle.replaceChildren(icon(show ? 'eyeOff' : 'eye'));
    });
    wrapped = h('div', { class: 'input-group' }, control, toggle);
  }
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id, class: 'label' }, label, required ? null : h('span', { class: 'optional' }, ' (optional)')),
    wrapped,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }),
  );
}

/** Checkbox with label content (may contain links). */
export function checkbox({ name, label, testid, required, checked, hint, role }) {
  const id = `f-${name}-${++fieldSeq}`;
  const hintId = hint ? `${id}-hint` : null;
  return h(
    'div',
    { class: 'field field-check' },
    h(
      'div',
      { class: 'check-row' },
      h('input', { type: 'checkbox', id, name, class: role === 'switch' ? 'switch' : 'check', role: role || null, required: !!required, testid, checked: !!checked, 'aria-describedby': hintId }),
      h('label', { for: id }, label),
    ),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }),
  );
}

export function formAlert() {
  return h('div', { class: 'form-alert callout callout-error', role: 'alert', hidden: true, tabindex: '-1' });
}

function controlFor(form, name) {
  const base = String(name).split(/[.[]/)[0];
  return form.querySelector(`[name="${CSS.escape(name)}"]`) || form.querySelector(`[name="${CSS.escape(base)}"]`) || form.querySelector(`[data-field="${CSS.escape(base)}"]`);
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) {
    el.removeAttribute('aria-invalid');
    const errId = el.dataset.errorId;
    if (errId) {
      const ids = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter((x) => x && x !== errId);
      if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  }
  for (const e of form.querySelectorAll('.field-error')) {
    e.hidden = true;
    e.textContent = '';
  }
  for (const a of form.querySelectorAll('.form-alert')) {
    a.hidden = true;
    a.replaceChildren();
  }
}

/** Show {field: message} errors next to inputs; unknown fields go to the form alert. Returns true if anything was shown. */
export function showErrors(form, errors, general) {
  const leftovers = [];
  let first = null;
  for (const [name, msgRaw] of Object.entries(errors || {})) {
    const msg = Array.isArray(msgRaw) ? msgRaw.join(' ') : String(msgRaw);
    const ctl = controlFor(form, name);
    const wrap = ctl && (ctl.closest('.field') || ctl.closest('fieldset'));
    const slot = wrap && wrap.querySelector('.field-error');
    if (!ctl || !slot) {
      leftovers.push(msg);
      continue;
    }
    slot.textContent = msg;
    slot.hidden = false;
    const target = ctl.matches('input,select,textarea') ? ctl : ctl.querySelector('input,select,textarea') || ctl;
    target.setAttribute('aria-invalid', 'true');
    target.dataset.errorId = slot.id;
    const ids = (target.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    if (!ids.includes(slot.id)) target.setAttribute('aria-describedby', [...ids, slot.id].join(' '));
    if (!first) first = target;
  }
  const alert = form.querySelector('.form-alert');
  const lines = [];
  if (general) lines.push(general);
  lines.push(...leftovers);
  if (alert && lines.length) {
    alert.replaceChildren(icon('alert'), h('div', {}, lines.map((l) => h('p', {}, l))));
    alert.hidden = false;
  }
  if (first) first.focus();
  else if (alert && !alert.hidden) alert.focus();
  return !!(first || lines.length);
}

/** Client-side validation with friendly messages (forms use novalidate). */
export function validate(form) {
  const errors = {};
  for (const el of form.querySelectorAll('input,select,textarea')) {
    if (!el.name || el.disabled || errors[el.name]) continue;
    const v = el.validity;
    if (v.valid) continue;
    let msg = 'Please check this field.';
    if (v.valueMissing) msg = el.type === 'checkbox' ? 'Please tick this box to continue.' : el.type === 'radio' ? 'Please choose an option.' : 'This field is required.';
    else if (v.typeMismatch && el.type === 'email') msg = 'Enter a valid email address.';
    else if (v.typeMismatch && el.type === 'url') msg = 'Enter a full URL, starting with https://';
    else if (v.tooShort) msg = `Use at least ${el.minLength} characters.`;
    else if (v.tooLong) msg = `Use at most ${el.maxLength} characters.`;
    else if (v.patternMismatch) msg = el.dataset.patternMessage || 'This format is not valid.';
    else if (v.customError) msg = el.validationMessage;
    errors[el.name] = msg;
  }
  return errors;
}

/**
 * Wire a form: novalidate, client validation, busy state, API error display.
 * `handler(values, form)` may throw ApiError; its field errors are shown inline.
 * `extraValidate(form)` may return additional {field: message}.
 */
export function onSubmit(form, handler, { extraValidate, busyLabel } = {}) {
  form.noValidate = true;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (form.dataset.busy === '1') return;
    clearErrors(form);
    const errs = { ...validate(form), ...(extraValidate ? extraValidate(form) || {} : {}) };
    if (Object.keys(errs).length) {
      showErrors(form, errs);
      return;
    }
    const submit = form.querySelector('[type="submit"]');
    const label = submit ? [...submit.childNodes] : null;
    form.dataset.busy = '1';
    form.setAttribute('aria-busy', 'true');
    if (submit) {
      submit.disabled = true;
      if (busyLabel) submit.replaceChildren(spinner(), h('span', {}, busyLabel));
    }
    try {
      await handler(form, ev.submitter);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      if (form.isConnected) {
        if (err instanceof ApiError) {
          const fieldCount = Object.keys(err.errors || {}).length;
          showErrors(form, err.errors, fieldCount ? null : err.detail || err.title || 'Request failed.');
        } else {
          console.error(err);
          showErrors(form, {}, 'Something went wrong. Please try again.');
        }
      }
    } finally {
      delete form.dataset.busy;
      form.removeAttribute('aria-busy');
      if (submit && submit.isConnected) {
        submit.disabled = false;
        if (busyLabel && label) submit.replaceChildren(...label);
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Tag editor (asset page, community posts)
// ---------------------------------------------------------------------------

/** A tag as stored: trimmed, without leading #, lower case, at most `max` characters. */
export const cleanTag = (raw, max = 32) => String(raw).replace(/\s+/g, ' ').trim().replace(/^#+/, '').trim().toLowerCase().slice(0, max);

/**
 * Chips with remove buttons and an input: Enter or comma adds, Backspace in the empty
 * input removes the last one, a pasted "a, b, c" adds each. `onChange(next)` runs after
 * every change the user makes. Returns { el, input, tags(), set(tags) }; set() redraws
 * without calling onChange. `testids`: { list, chip, remove, input }.
 */
export function tagEditor({ tags = [], id, max = 20, maxLength = 32, placeholder = 'Add a tag\u2026', describedBy, testids = {}, onChange = () => {} }) {
  let current = tags.slice();
  const list = h('ul', { class: 'tag-list', role: 'list', testid: testids.list, 'aria-label': 'Tags' });
  const input = h('input', { type: 'text', id, class: 'tag-input', testid: testids.input, placeholder, maxlength: String(maxLength), autocomplete: 'off', enterkeyhint: 'enter', 'aria-describedby': describedBy });
  const el = h('div', { class: 'tag-editor' }, list, input);
  el.addEventListener('click', (ev) => {
    if (ev.target === el || ev.target === list) input.focus();
  });

  function render() {
    // Re-rendering must not drop keyboard focus from a remove button.
    const focused = list.contains(document.activeElement) ? document.activeElement.closest('[data-tag]') : null;
    const focusIndex = focused ? [...list.children].indexOf(focused) : -1;
    list.replaceChildren(
      ...current.map((t) => {
        const rm = h('button', { type: 'button', class: 'tag-remove', testid: testids.remove, 'aria-label': `Remove tag ${t}` }, icon('x'));
        rm.addEventListener('click', () => {
          const i = current.indexOf(t);
          change(current.filter((x) => x !== t));
          // Keep keyboard users in the list: focus the neighbour's remove button, else the input.
          const btns = list.querySelectorAll('.tag-remove');
          (btns[Math.min(i, btns.length - 1)] || input).focus();
        });
        return h('li', { class: 'tag-chip', testid: testids.chip, dataset: { tag: t } }, h('span', { class: 'tag-text' }, t), rm);
      }),
    );
    if (focusIndex >= 0) {
      const btns = list.querySelectorAll('.tag-remove');
      (btns[Math.min(focusIndex, btns.length - 1)] || input).focus();
    }
  }
  function change(next) {
    current = next;
    render();
    onChange(current.slice());
  }
  function add(raw) {
    const t = cleanTag(raw, maxLength);
    if (!t) return;
    if (current.includes(t)) {
      toast(`\u201c${t}\u201d is already a tag`, 'info');
      return;
    }
    if (current.length >= max) {
      toast(`At most ${max} tags`, 'error');
      return;
    }
    change([...current, t]);
  }
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ',') {
      ev.preventDefault();
      const v = input.value;
      input.value = '';
      add(v);
    } else if (ev.key === 'Backspace' && !input.value && current.length) {
      ev.preventDefault();
      change(current.slice(0, -1));
    }
  });
  input.addEventListener('paste', (ev) => {
    const text = ev.clipboardData ? ev.clipboardData.getData('text') : '';
    if (!text.includes(',')) return;
    ev.preventDefault();
    let next = current.slice();
    for (const t of text.split(',').map((x) => cleanTag(x, maxLength))) if (t && !next.includes(t) && next.length < max) next = [...next, t];
    if (next.length !== current.length) change(next);
  });
  render();
  return {
    el,
    input,
    tags: () => {
      // Text still in the input counts (a form submitted without pressing Enter).
      const pending = cleanTag(input.value, maxLength);
      return pending && !current.includes(pending) && current.length < max ? [...current, pending] : current.slice();
    },
    set(next) {
      current = next.slice();
      render();
    },
  };
}

// ---------------------------------------------------------------------------
// Menu buttons (user menu, "more" menus): arrows, Home/End, Escape, Tab
// ---------------------------------------------------------------------------

const openMenus = new Set();
document.addEventListener('click', (ev) => {
  for (const m of [...openMenus]) m(ev);
});

/**
 * A button that opens a menu of `items` (buttons or links; each becomes a menuitem and
 * closes the menu when chosen). `head` is an optional non-interactive first block.
 * Returns the wrapper (position: relative) holding both.
 */
export function menuButton(btn, items, { label, head, id = `menu-${Math.random().toString(36).slice(2, 9)}`, cls = '' } = {}) {
  btn.setAttribute('aria-haspopup', 'menu');
  btn.setAttribute('aria-expanded', 'false');
  btn.setAttribute('aria-controls', id);
  for (const el of items) {
    if (!el.classList.contains('menu-sep')) {
      el.setAttribute('role', 'menuitem');
      el.setAttribute('tabindex', '-1');
    }
  }
  const list = h('div', { class: `menu ${cls}`.trim(), id, role: 'menu', 'aria-label': label, hidden: true }, head || null, items);
  const all = () => [...list.querySelectorAll('[role="menuitem"]')];
  // While open, a click anywhere else closes it (the listener is only registered then).
  const outside = (ev) => {
    if (!wrap.isConnected) openMenus.delete(outside); // the page was replaced
    else if (!list.hidden && ev.target instanceof Node && !wrap.contains(ev.target)) close(false);
  };
  const open = (focusIdx = 0) => {
    list.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    openMenus.add(outside);
    const els = all();
    if (els.length) els[(focusIdx + els.length) % els.length].focus();
  };
  const close = (refocus = true) => {
    openMenus.delete(outside);
    if (list.hidden) return;
    list.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    if (refocus) btn.focus();
  };
  btn.addEventListener('click', () => (list.hidden ? open(0) : close()));
  btn.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') { ev.preventDefault(); open(0); }
    if (ev.key === 'ArrowUp') { ev.preventDefault(); open(-1); }
  });
  list.addEventListener('keydown', (ev) => {
    const els = all();
    const i = els.indexOf(document.activeElement);
    if (ev.key === 'ArrowDown') { ev.preventDefault(); els[(i + 1) % els.length].focus(); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); els[(i - 1 + els.length) % els.length].focus(); }
    else if (ev.key === 'Home') { ev.preventDefault(); els[0].focus(); }
    else if (ev.key === 'End') { ev.preventDefault(); els[els.length - 1].focus(); }
    else if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); close(); }
    else if (ev.key === 'Tab') close(false);
  });
  list.addEventListener('click', (ev) => {
    if (ev.target instanceof Element && ev.target.closest('[role="menuitem"]')) close(false);
  });
  const wrap = h('div', { class: 'menu-wrap' }, btn, list);
  return wrap;
}

// ---------------------------------------------------------------------------
// Paged tables (admin lists)
// ---------------------------------------------------------------------------

/**
 * pagedTable({ label, columns: [{ label, cell(item), cls, primary }], load(cursor, signal) -> {items, next_cursor},
 *              rowTestid, emptyIcon, emptyTitle, emptyText, signal, rowProps(item) })
 * Returns { el, reload(), prepend(item) }.
 */
export function pagedTable(opts) {
  const { label, columns, load, rowTestid, emptyIcon = 'list', emptyTitle = 'Nothing here yet', emptyText, signal, rowProps } = opts;
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'table' },
    h('caption', { class: 'visually-hidden' }, label),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.cls || null }, c.label)))),
    tbody,
  );
  const wrap = h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' }, table);
  const status = h('div', { class: 'table-status' });
  const moreBtn = h('button', { type: 'button', class: 'btn btn-secondary', hidden: true }, 'Load more');
  const el = h('div', { class: 'paged' }, wrap, status, h('div', { class: 'table-more' }, moreBtn));
  let cursor = null;
  let count = 0;
  let gen = 0;

  // `primary: true` marks the column that heads each row when the table is
  // stacked into cards on phones (it loses its label and moves to the top).
  const cellClass = (c) => [c.cls, c.primary ? 'cell-primary' : null].filter(Boolean).join(' ') || null;
  const row = (item) =>
    h('tr', { testid: rowTestid, ...(rowProps ? rowProps(item) : {}) }, columns.map((c) => h('td', { class: cellClass(c), 'data-label': c.label }, c.cell(item))));

  async function page(reset) {
    const my = ++gen;
    if (reset) {
      cursor = null;
      count = 0;
      tbody.replaceChildren();
    }
    moreBtn.hidden = true;
    status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading…')));
    try {
      const res = await load(cursor, signal);
      if (my !== gen) return;
      const items = (res && res.items) || [];
      for (const it of items) tbody.appendChild(row(it));
      count += items.length;
      cursor = (res && res.next_cursor) || null;
      status.replaceChildren();
      if (!count) status.replaceChildren(emptyState(emptyIcon, emptyTitle, emptyText));
      wrap.hidden = !count;
      moreBtn.hidden = !cursor;
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      if (my !== gen) return;
      status.replaceChildren(errorBox(err, () => page(false)));
      moreBtn.hidden = !cursor;
    }
  }
  moreBtn.addEventListener('click', () => page(false));
  page(true);
  return {
    el,
    reload: () => page(true),
    prepend(item) {
      tbody.prepend(row(item));
      count++;
      wrap.hidden = false;
      status.replaceChildren();
    },
  };
}
