// /moderation — reports for moderators and administrators: filter by status, and for each
// report what was reported (text, author, state, link), why, by whom, how many open reports
// the same thing has, and the decisions: Dismiss, Hide, Remove, Restore, Suspend author
// (Remove and Suspend ask first), with an optional note kept with the decision.

import { h, icon, badge, pageHeader, card, spinner, emptyState, showLoadError, toast, toastError, confirmDialog, timeEl } from '../ui.js';
import { get, post, qs } from '../api.js';
import { isAdmin } from '../state.js';
import { replaceQuietly } from '../router.js';
import { adminTabs } from './nav-tabs.js';
import { reasonLabel, profileHref, personName } from './community-common.js';

const FILTERS = [
  ['open', 'Open'],
  ['resolved', 'Resolved'],
  ['dismissed', 'Dismissed'],
  ['all', 'All'],
];
const STATES = {
  ok: ['Visible', 'success'],
  hidden: ['Hidden', 'warning'],
  removed: ['Removed', 'danger'],
  gone: ['Deleted', 'neutral'],
  active: ['Active', 'success'],
  suspended: ['Suspended', 'danger'],
};
const TARGET = { post: ['Post', 'image'], comment: ['Comment', 'message'], user: ['Person', 'user'] };
const STATUS = { open: ['Open', 'accent'], resolved: ['Resolved', 'success'], dismissed: ['Dismissed', 'neutral'] };

// [decision, label, icon, button class, confirm?]
const DECISIONS = {
  dismiss: ['Dismiss', 'check', 'btn-secondary'],
  hide: ['Hide', 'eyeOff', 'btn-secondary'],
  remove: ['Remove', 'trash', 'btn-danger-soft', { title: 'Remove it for everyone?', body: 'Nobody sees it any more, its author included. You can restore it later from this report.', confirmLabel: 'Remove' }],
  restore: ['Restore', 'refresh', 'btn-secondary'],
  suspend: ['Suspend author', 'ban', 'btn-danger-soft', null],
};

/** Decisions that make sense for a target in its current state. */
function decisionsFor(t) {
  if (t.state === 'gone') return ['dismiss'];
  if (t.kind === 'user') return t.state === 'suspended' ? ['dismiss'] : ['dismiss', 'suspend'];
  const out = ['dismiss'];
  if (t.state === 'ok') out.push('hide', 'remove');
  if (t.state === 'hidden') out.push('remove', 'restore');
  if (t.state === 'removed') out.push('restore');
  if (t.author) out.push('suspend');
  return out;
}

export default {
  title: 'Moderation',
  access: 'moderator',
  render(main, { params, signal }) {
    let filter = FILTERS.some(([k]) => k === params.get('status')) ? params.get('status') : 'open';
    const list = h('ul', { class: 'report-list', role: 'list', testid: 'report-list' });
    const status = h('div', { class: 'grid-status' });
    const count = h('p', { class: 'notif-summary', 'aria-live': 'polite', testid: 'report-count' });

    const chips = FILTERS.map(([k, label]) => {
      const b = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(k === filter), testid: `reports-filter-${k}` }, label);
      b.addEventListener('click', () => {
        if (filter === k) return;
        filter = k;
        for (const c of chips) c.setAttribute('aria-pressed', String(c === b));
        replaceQuietly(`/moderation${qs({ status: k === 'open' ? null : k })}`);
        load();
      });
      return b;
    });

    function setCount() {
      const n = list.children.length;
      const what = filter === 'all' ? 'report' : `${filter} report`;
      count.textContent = n ? `${n} ${what}${n === 1 ? '' : 's'}` : '';
    }

    function reportItem(r) {
      const t = r.target || {};
      const [kindLabel, kindIcon] = TARGET[t.kind] || [t.kind, 'flag'];
      const [stateLabel, stateKind] = STATES[t.state] || [t.state, 'neutral'];
      const [statusLabel, statusKind] = STATUS[r.status] || [r.status, 'neutral'];
      const noteId = `note-${r.id}`;
      const note = h('textarea', { id: noteId, class: 'input report-note', rows: '1', maxlength: '1000', placeholder: 'Why you decided so (kept in the audit log)', testid: 'report-note' });
      const actionsEl = h('div', { class: 'report-actions' });
      const li = h('li', { class: 'report', testid: 'report', dataset: { reportId: r.id, status: r.status, targetKind: t.kind || '' } });

      for (const d of decisionsFor(t)) {
        const [base, ic, cls, confirm] = DECISIONS[d];
        const label = d === 'suspend' && t.kind === 'user' ? 'Suspend' : base;
        const btn = h('button', { type: 'button', class: `btn btn-sm ${cls}`, testid: `report-${d}` }, icon(ic), h('span', {}, label));
        btn.addEventListener('click', async () => {
          if (d === 'remove' && !(await confirmDialog({ danger: true, ...confirm }))) return;
          if (d === 'suspend') {
            const who = t.author ? `@${t.author.username}` : 'this person';
            const ok = await confirmDialog({ title: `Suspend ${who}?`, body: 'They are signed out and can\u2019t sign in; everything they shared disappears until an administrator enables the account again.', confirmLabel: 'Suspend', danger: true });
            if (!ok) return;
          }
          for (const b of actionsEl.querySelectorAll('button')) b.disabled = true;
          try {
            await post(`/reports/${encodeURIComponent(r.id)}/resolve`, { decision: d, note: note.value.trim() });
            toast(d === 'dismiss' ? 'Report dismissed' : `Done: ${label.toLowerCase()}`, 'success');
            load();
          } catch (err) {
            for (const b of actionsEl.querySelectorAll('button')) b.disabled = false;
            toastError(err, 'Could not apply the decision');
          }
        });
        actionsEl.appendChild(btn);
      }

      const authorEl = t.author ? h('a', { href: profileHref(t.author.username), class: 'report-author' }, personName(t.author), h('span', { class: 'muted' }, ` @${t.author.username}`)) : h('span', { class: 'muted' }, 'unknown');
      const quote =
        t.kind === 'user'
          ? h('p', { class: 'report-target-text' }, t.author ? h('a', { href: profileHref(t.author.username) }, personName(t.author), ` (@${t.author.username})`) : t.text || t.id)
          : h('blockquote', { class: 'report-target-text' }, t.url ? h('a', { href: t.url, testid: 'report-target-link' }, t.text || '(no text)') : t.text || '(deleted)');
      li.replaceChildren(
        h(
          'div',
          { class: 'report-head' },
          h('span', { class: 'report-kind' }, icon(kindIcon), kindLabel),
          badge(stateLabel, stateKind, { testid: 'report-state' }),
          badge(reasonLabel(r.reason), 'warning'),
          r.open_reports > 1 ? badge(`${r.open_reports} open reports`, 'danger', { testid: 'report-open-count', title: 'Open reports about the same thing' }) : null,
          h('span', { class: 'report-when' }, badge(statusLabel, statusKind), ' ', timeEl(r.created_at)),
        ),
        quote,
        h(
          'dl',
          { class: 'report-facts' },
          t.kind !== 'user' ? h('div', {}, h('dt', {}, 'Author'), h('dd', {}, authorEl)) : null,
          h('div', {}, h('dt', {}, 'Reported by'), h('dd', {}, r.reporter ? h('a', { href: profileHref(r.reporter) }, `@${r.reporter}`) : h('span', { class: 'muted' }, 'a deleted account'))),
          r.details ? h('div', { class: 'report-details-row' }, h('dt', {}, 'Details'), h('dd', { class: 'report-details' }, r.details)) : null,
          r.status !== 'open' && r.resolution ? h('div', { class: 'report-details-row' }, h('dt', {}, 'Decision'), h('dd', {}, r.resolution, r.resolved_at ? [' \u00b7 ', timeEl(r.resolved_at)] : null)) : null,
        ),
        h('div', { class: 'report-decide' }, h('label', { for: noteId, class: 'visually-hidden' }, 'Note'), note, actionsEl),
      );
      return li;
    }

    let gen = 0;
    async function load() {
      const my = ++gen;
      list.replaceChildren();
      count.textContent = '';
      status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading reports\u2026')));
      try {
        const reports = await get(`/reports${qs({ status: filter })}`, { signal });
        if (my !== gen) return;
        for (const r of reports || []) list.appendChild(reportItem(r));
        status.replaceChildren();
        if (!list.children.length) status.replaceChildren(emptyState('flag', filter === 'open' ? 'No open reports' : 'No reports here', filter === 'open' ? 'Nothing needs your attention. Thank you for keeping the community kind.' : null));
        setCount();
      } catch (err) {
        if (my === gen) showLoadError(status, err, load);
      }
    }

    main.replaceChildren(
      h(
        'div',
        { class: 'page moderation-page', testid: 'moderation-page' },
        pageHeader('Moderation', 'Reports from the community. A decision closes every open report about the same thing.'),
        isAdmin() ? adminTabs('/moderation') : null,
        h('div', { class: 'library-toolbar' }, h('div', { class: 'chips', role: 'group', 'aria-label': 'Show reports' }, chips), count),
        card({ cls: 'card-flush' }, list, status),
      ),
    );
    load();
  },
};
