// Pieces shared by the privacy pages (/settings/privacy, /admin/privacy, /admin/analytics,
// /policies/{slug}): dates, data export rows and their polling, waiting times.

import { h, icon, badge, spinner, timeEl, formatBytes, copyIconButton, showLoadError } from '../ui.js';
import { get } from '../api.js';
import { state } from '../state.js';

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' });
const mediumDateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** "7 January 2027" for unix seconds. */
export function dateText(ts) {
  return dateFmt.format(new Date(Number(ts) * 1000));
}

/** "Jan 7, 2027", for lists. */
export function dateShort(ts) {
  return mediumDateFmt.format(new Date(Number(ts) * 1000));
}

/** A <time> showing the date (the full date and time in its title). */
export function dateEl(ts) {
  const d = new Date(Number(ts) * 1000);
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, dateText(ts));
}

/** "Jan 7" for an ISO day ("2027-01-07"), read as a calendar day (no time zone shift). */
export function shortDay(day) {
  const [y, m, d] = String(day).split('-').map(Number);
  return shortDateFmt.format(new Date(y, (m || 1) - 1, d || 1));
}

/** A waiting time in words: "about 20 hours", "a few minutes". */
export function waitText(seconds) {
  const s = Number(seconds) || 0;
  if (s < 90) return 'a minute';
  if (s < 3600) return `${Math.round(s / 60)} minutes`;
  const hrs = Math.round(s / 3600);
  return hrs <= 1 ? 'about an hour' : `about ${hrs} hours`;
}

/** How a consent was given, in words. */
export function methodText(method) {
  return (
    {
      signup: 'the default when you signed up',
      settings: 'on this page',
      unsubscribe: 'with an unsubscribe link',
      api: 'through the API',
      banner: 'from the notice',
    }[method] || method || 'unknown'
  );
}

const EXPORT_STATUS = {
  queued: ['Waiting', 'neutral'],
  running: ['Being prepared', 'accent'],
  ready: ['Ready', 'success'],
  failed: ['Failed', 'danger'],
  expired: ['Expired', 'neutral'],
};

export const exportBusy = (e) => e && (e.status === 'queued' || e.status === 'running');

export function exportBadge(e) {
  const [text, kind] = EXPORT_STATUS[e.status] || [e.status, 'neutral'];
  return badge(exportBusy(e) ? [spinner(), h('span', {}, text)] : text, kind, { testid: 'export-status' });
}

/**
 * One data export as a list row: what it is, its state, size, expiry and checksum,
 * and a Download link once ready. `who` names the person (admin list); `highlight`
 * marks the one a mail linked to.
 */
export function exportRow(e, { who = null, highlight = false } = {}) {
  const meta = [];
  meta.push(h('span', { class: 'nowrap' }, 'Requested ', timeEl(e.created_at)));
  if (e.status === 'ready') {
    meta.push(h('span', { class: 'nowrap' }, formatBytes(e.size)));
    if (e.expires_at) meta.push(h('span', { class: 'nowrap' }, 'available until ', dateEl(e.expires_at)));
  } else if (e.status === 'expired') {
    meta.push(h('span', {}, 'deleted after its download period'));
  } else if (e.status === 'failed') {
    meta.push(h('span', {}, e.error || 'Something went wrong while writing it.'));
  } else if (e.status === 'running') {
    meta.push(h('span', {}, 'collecting your data and files\u2026'));
  } else {
    meta.push(h('span', {}, 'starts in a moment'));
  }
  const sha = e.status === 'ready' && e.sha256
    ? h('p', { class: 'export-sha' }, h('span', { class: 'export-sha-label' }, 'SHA-256'), h('code', { class: 'clip clip-code', title: e.sha256 }, e.sha256), copyIconButton(() => e.sha256, { what: 'Checksum' }))
    : null;
  const download = e.status === 'ready' && e.download_url
    ? h('a', { href: e.download_url, class: 'btn btn-primary btn-sm', download: '', testid: 'export-download', 'aria-label': `Download the copy requested ${new Date(e.created_at * 1000).toLocaleString()}` }, icon('download'), h('span', {}, 'Download'))
    : null;
  return h(
    'li',
    { class: `export-row${highlight ? ' is-highlighted' : ''}`, testid: 'export-row', dataset: { exportId: e.id, status: e.status } },
    h('div', { class: `export-icon export-icon-${e.status}` }, icon(e.status === 'ready' ? 'download' : e.status === 'failed' ? 'alert' : e.status === 'expired' ? 'clock' : 'database')),
    h(
      'div',
      { class: 'export-main' },
      h('p', { class: 'export-title' }, who ? h('strong', {}, `@${who}`) : h('strong', {}, 'Copy of your data'), exportBadge(e), e.by_admin && !who ? badge('Asked for by mail', 'neutral', { title: 'An administrator ran this export for a request you sent them' }) : null),
      h('p', { class: 'export-meta' }, meta.flatMap((m, i) => (i ? [' \u00b7 ', m] : [m]))),
      sha,
    ),
    download ? h('div', { class: 'export-actions' }, download) : null,
  );
}

/**
 * Polls `load()` every few seconds while `busy(list)` is true; `show(list)` draws each
 * answer. Stops when `signal` aborts. Returns `kick()` to poll again after a change.
 */
export function pollWhile(load, show, busy, signal, every = 2000) {
  let timer = null;
  let running = false;
  async function tick() {
    timer = null;
    if (signal.aborted || running) return;
    running = true;
    try {
      const list = await load();
      if (signal.aborted) return;
      show(list);
      if (busy(list)) timer = setTimeout(tick, every);
    } catch {
      if (!signal.aborted) timer = setTimeout(tick, every * 3);
    } finally {
      running = false;
    }
  }
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  return () => {
    clearTimeout(timer);
    timer = setTimeout(tick, every);
  };
}

/**
 * Loads the exports at `path` (GET), shows them with `show`, and polls while one is being
 * made; a failed load is shown in `status` with a retry. Returns `{ reload, poll }`:
 * `poll()` starts polling again (after asking for a new export).
 */
export function watchExports(path, show, status, signal) {
  const load = () => get(path, { signal });
  const poll = pollWhile(load, show, (items) => items.some(exportBusy), signal);
  async function reload() {
    try {
      const items = await load();
      show(items);
      if (items.some(exportBusy)) poll();
    } catch (err) {
      showLoadError(status, err, reload);
    }
  }
  reload();
  return { reload, poll };
}

/** `el.replaceChildren` that flattens arrays and skips null / undefined / false. */
export function fill(el, ...kids) {
  el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
}

/** Whole numbers with the reader's digit grouping. */
export const num = (n) => Number(n || 0).toLocaleString();

/** "30 days", from the instance's privacy settings (GET /config/public). */
export function graceDays() {
  const n = (state.config.privacy && state.config.privacy.deletion_grace_days) ?? 30;
  return `${n} ${n === 1 ? 'day' : 'days'}`;
}

/** "7 days": how long a data export can be downloaded. */
export function exportDays() {
  const n = (state.config.privacy && state.config.privacy.export_days) ?? 7;
  return `${n} ${n === 1 ? 'day' : 'days'}`;
}
