// /admin/analytics[?days=7|30|90] — local usage analytics (GET /api/v1/admin/analytics):
// active people, page views and API requests per day as bar charts (inline SVG built
// with DOM calls, coloured by CSS classes, redrawn to the width they get), the most used
// features, pages and requests, who opted out, and how long records are kept.

import { h, icon, pageHeader, card, spinner, showLoadError } from '../ui.js';
import { get } from '../api.js';
import { replaceQuietly } from '../router.js';
import { adminTabs } from './nav-tabs.js';
import { shortDay, num, fill } from './privacy-common.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const PERIODS = [7, 30, 90];

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/** A round axis maximum and its tick step for values up to `max`. */
function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: 4, step: 1 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw));
  return { top: Math.ceil(max / step) * step, step };
}

const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

/**
 * A bar chart of `days` (oldest first) by `value(day)` in `host`, redrawn whenever the
 * host's width changes. `what` names one unit ("page views") for labels.
 */
function barChart(host, { days, value, what, cls, signal }) {
  const values = days.map(value);
  const total = values.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...values);
  const peakDay = days[values.indexOf(peak)];
  const label = total
    ? `${what} per day over ${days.length} days: ${num(total)} in all, at most ${num(peak)} on ${shortDay(peakDay.day)}.`
    : `${what} per day over ${days.length} days: none yet.`;

  function draw() {
    const width = Math.max(240, Math.floor(host.clientWidth));
    const height = width < 480 ? 170 : 210;
    const { top, step } = niceScale(peak);
    const left = 8 + Math.max(2, compact.format(top).length) * 7;
    const pad = { top: 10, right: 6, bottom: 26, left };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const band = plotW / days.length;
    const barW = Math.max(1.5, Math.min(28, band * 0.68));
    const y = (v) => pad.top + plotH - (v / top) * plotH;

    const grid = svg('g', { class: 'chart-grid' });
    for (let t = 0; t <= top + 1e-9; t += step) {
      grid.append(
        svg('line', { x1: pad.left, x2: width - pad.right, y1: y(t), y2: y(t), class: t === 0 ? 'chart-baseline' : 'chart-gridline' }),
        svg('text', { x: pad.left - 8, y: y(t), 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'chart-tick' }, compact.format(t)),
      );
    }

    const bars = svg('g', { class: `chart-bars chart-bars-${cls}` });
    days.forEach((d, i) => {
      const v = values[i];
      const x = pad.left + i * band + (band - barW) / 2;
      const hgt = v > 0 ? Math.max(2, y(0) - y(v)) : 0;
      // A full-height hit area carries the tooltip, so short bars are easy to point at.
      bars.append(
        svg(
          'g',
          { class: 'chart-col' },
          svg('rect', { x: pad.left + i * band, y: pad.top, width: band, height: plotH, class: 'chart-hit' }),
          hgt ? svg('rect', { x, y: y(0) - hgt, width: barW, height: hgt, rx: Math.min(3, barW / 3), class: 'chart-bar' }) : null,
          svg('title', {}, `${shortDay(d.day)}: ${num(v)} ${what.toLowerCase()}`),
        ),
      );
    });

    // Day labels, as many as fit without touching (always the last one).
    const every = Math.max(1, Math.ceil(56 / band));
    const labels = svg('g', { class: 'chart-days' });
    days.forEach((d, i) => {
      const last = i === days.length - 1;
      if ((days.length - 1 - i) % every !== 0) return;
      if (!last && days.length - 1 - i < every) return;
      labels.append(svg('text', { x: pad.left + i * band + band / 2, y: height - 8, 'text-anchor': last && band < 40 ? 'end' : 'middle', class: 'chart-tick' }, shortDay(d.day)));
    });

    host.replaceChildren(svg('svg', { class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label }, grid, bars, labels));
  }

  let lastWidth = 0;
  let frame = 0;
  const ro = new ResizeObserver(() => {
    const w = Math.floor(host.clientWidth);
    if (w === lastWidth) return;
    lastWidth = w;
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(draw);
  });
  ro.observe(host);
  signal.addEventListener('abort', () => ro.disconnect(), { once: true });
}

function chartCard(title, total, sub, opts) {
  const host = h('div', { class: 'chart-host', testid: `chart-${opts.cls}` });
  const el = card(
    { cls: 'chart-card', testid: `analytics-${opts.cls}` },
    h('div', { class: 'chart-head' }, h('h2', {}, title), h('p', { class: 'chart-total' }, h('strong', {}, total), h('span', { class: 'muted' }, sub))),
    host,
  );
  barChart(host, opts);
  return el;
}

function topCard(title, items, { code = false, testid, empty }) {
  const max = Math.max(1, ...items.map((x) => x.count));
  return card(
    { title, testid },
    items.length
      ? h(
          'ol',
          { class: 'top-list', role: 'list' },
          items.map((x) =>
            h(
              'li',
              { class: 'top-item' },
              h('span', { class: 'top-name', title: x.name }, code ? h('code', {}, x.name) : x.name),
              h('span', { class: 'top-count' }, num(x.count)),
              h('progress', { class: 'meter-bar top-bar', max: String(max), value: String(x.count), 'aria-hidden': 'true' }),
            ),
          ),
        )
      : h('p', { class: 'muted small' }, empty),
  );
}

function daysTable(days) {
  return h(
    'details',
    { class: 'disclosure analytics-table' },
    h('summary', {}, icon('chevronDown', 'chev'), h('span', {}, 'Show the numbers for each day')),
    h(
      'div',
      { class: 'table-wrap', role: 'region', 'aria-label': 'Usage per day', tabindex: '0' },
      h(
        'table',
        { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col', class: 'num' }, 'Active people'), h('th', { scope: 'col', class: 'num' }, 'Page views'), h('th', { scope: 'col', class: 'num' }, 'API requests'), h('th', { scope: 'col', class: 'num' }, 'Features used'))),
        h(
          'tbody',
          {},
          [...days].reverse().map((d) =>
            h(
              'tr',
              {},
              h('td', { class: 'cell-primary', 'data-label': 'Day' }, h('time', { datetime: d.day }, shortDay(d.day))),
              h('td', { class: 'num', 'data-label': 'Active people' }, num(d.active_users)),
              h('td', { class: 'num', 'data-label': 'Page views' }, num(d.page_views)),
              h('td', { class: 'num', 'data-label': 'API requests' }, num(d.api_requests)),
              h('td', { class: 'num', 'data-label': 'Features used' }, num(d.features)),
            ),
          ),
        ),
      ),
    ),
  );
}

export default {
  title: 'Analytics',
  access: 'admin',
  render(main, { params, signal }) {
    let days = PERIODS.includes(Number(params.get('days'))) ? Number(params.get('days')) : 30;
    const body = h('div', { class: 'stack analytics-body' });
    const radios = PERIODS.map((n) => h('input', { type: 'radio', name: 'analytics-days', value: String(n), class: 'seg-input', id: `analytics-days-${n}`, checked: n === days, testid: `analytics-period-${n}` }));
    const period = h(
      'fieldset',
      { class: 'analytics-period' },
      h('legend', { class: 'visually-hidden' }, 'Period'),
      h('div', { class: 'seg seg-3' }, radios.map((r, i) => h('label', { class: 'seg-option', for: r.id }, r, h('span', {}, `${PERIODS[i]} days`)))),
    );
    let seq = 0;
    let inner = null;

    async function load() {
      const my = ++seq;
      if (inner) inner.abort();
      inner = new AbortController();
      const sub = inner.signal;
      signal.addEventListener('abort', () => inner.abort(), { once: true });
      body.setAttribute('aria-busy', 'true');
      if (!body.children.length) body.replaceChildren(h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'Loading\u2026')));
      let a;
      try {
        a = await get(`/admin/analytics?days=${days}`, { signal: sub });
      } catch (err) {
        if (my === seq) showLoadError(body, err, load);
        body.removeAttribute('aria-busy');
        return;
      }
      if (my !== seq) return;
      body.removeAttribute('aria-busy');
      const list = a.days || [];
      const sum = (k) => list.reduce((t, d) => t + (d[k] || 0), 0);
      const activeAvg = list.length ? sum('active_users') / list.length : 0;
      const activePeak = Math.max(0, ...list.map((d) => d.active_users));
      fill(
        body,
        a.recording ? null : h('div', { class: 'callout callout-warning', testid: 'analytics-off' }, icon('alert'), h('p', {}, 'Usage is not recorded on this site (privacy.analytics is off in the configuration). Only earlier records are shown.')),
        h(
          'div',
          { class: 'analytics-stats' },
          h('div', { class: 'usage-stat' }, h('span', { class: 'usage-stat-num', testid: 'analytics-active' }, activeAvg.toLocaleString(undefined, { maximumFractionDigits: 1 })), h('span', { class: 'usage-stat-label' }, `active people a day \u00b7 at most ${num(activePeak)}`)),
          h('div', { class: 'usage-stat' }, h('span', { class: 'usage-stat-num', testid: 'analytics-page-views' }, num(sum('page_views'))), h('span', { class: 'usage-stat-label' }, 'page views')),
          h('div', { class: 'usage-stat' }, h('span', { class: 'usage-stat-num', testid: 'analytics-api-requests' }, num(sum('api_requests'))), h('span', { class: 'usage-stat-label' }, 'API requests')),
          h('div', { class: 'usage-stat' }, h('span', { class: 'usage-stat-num', testid: 'analytics-opted-out' }, num(a.opted_out)), h('span', { class: 'usage-stat-label' }, a.opted_out === 1 ? 'person opted out' : 'people opted out')),
        ),
        chartCard('Active people', activeAvg.toLocaleString(undefined, { maximumFractionDigits: 1 }), ' a day on average', { days: list, value: (d) => d.active_users, what: 'Active people', cls: 'users', signal: sub }),
        h(
          'div',
          { class: 'grid-2' },
          chartCard('Page views', num(sum('page_views')), ` in ${days} days`, { days: list, value: (d) => d.page_views, what: 'Page views', cls: 'views', signal: sub }),
          chartCard('API requests', num(sum('api_requests')), ` in ${days} days`, { days: list, value: (d) => d.api_requests, what: 'API requests', cls: 'api', signal: sub }),
        ),
        daysTable(list),
        h(
          'div',
          { class: 'top-grid' },
          topCard('Features used most', a.top_features || [], { testid: 'analytics-top-features', empty: 'No features used in this period.' }),
          topCard('Pages viewed most', a.top_pages || [], { code: true, testid: 'analytics-top-pages', empty: 'No page views in this period.' }),
          topCard('Requests made most', a.top_requests || [], { code: true, testid: 'analytics-top-requests', empty: 'No requests in this period.' }),
        ),
        h(
          'div',
          { class: 'callout callout-info analytics-facts', testid: 'analytics-retention' },
          icon('lock'),
          h(
            'div',
            {},
            h('p', {}, `Counted per person and day on this machine; nothing is sent anywhere. IP addresses are kept whole for ${a.full_ip_days} ${a.full_ip_days === 1 ? 'day' : 'days'}, then shortened (to /24 for IPv4, /48 for IPv6); records are deleted after ${a.retention_days} days.`),
            h('p', {}, `People who opted out (${num(a.opted_out)}) are never counted, and an erased account\u2019s records keep no identifier.`),
          ),
        ),
      );
    }

    for (const r of radios) {
      r.addEventListener('change', () => {
        if (!r.checked) return;
        days = Number(r.value);
        replaceQuietly(`/admin/analytics${days === 30 ? '' : `?days=${days}`}`);
        load();
      });
    }

    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide', testid: 'admin-analytics-page' },
        pageHeader('Administration', 'How this site is used, counted locally.', period),
        adminTabs('/admin/analytics'),
        body,
      ),
    );
    load();
  },
};
