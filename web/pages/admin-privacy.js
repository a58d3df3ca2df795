// /admin/privacy — the admin side of the privacy center: requests people sent by mail
// (find the account, then export its data, delete it, or purge a child's account at
// once), the exports run for them, accounts waiting for their purge, the policies (each
// edit a new version, on /admin/policies/{slug}) and news by mail to those who opted in.
// Every action here is in the audit log.

import { h, icon, pageHeader, card, badge, timeEl, toast, toastError, spinner, emptyState, showLoadError, confirmDialog, formDialog, pagedTable, avatar, field, formAlert, onSubmit } from '../ui.js';
import { get, post, qs } from '../api.js';
import { state } from '../state.js';
import { adminTabs } from './nav-tabs.js';
import { dateEl, dateText, dateShort, exportRow, watchExports, graceDays, exportDays } from './privacy-common.js';

function userCell(u) {
  return h(
    'div',
    { class: 'user-cell' },
    avatar(u, 'sm'),
    h('div', { class: 'user-cell-text' }, h('strong', { class: 'truncate', title: u.username }, u.username), h('span', { class: 'muted truncate', title: u.email || '' }, u.email || '')),
  );
}

// ---------------------------------------------------------------------------
// Pending deletions
// ---------------------------------------------------------------------------

function deletionsCard(signal) {
  const make = () =>
    pagedTable({
      label: 'Accounts waiting for deletion',
      rowTestid: 'deletion-row',
      rowProps: (d) => ({ dataset: { username: d.username } }),
      signal,
      emptyIcon: 'check',
      emptyTitle: 'No account is waiting for deletion',
      emptyText: 'When someone deletes their account, it waits here for its grace period.',
      columns: [
        { label: 'Account', cell: userCell, primary: true, cls: 'cell-user' },
        { label: 'Asked', cls: 'nowrap', cell: (d) => timeEl(d.requested_at) },
        { label: 'Erased on', cls: 'nowrap', cell: (d) => h('span', { class: 'stack-cell' }, dateEl(d.purge_after), h('span', { class: 'muted small' }, timeEl(d.purge_after))) },
        { label: 'By', cell: (d) => (d.reason === 'admin' ? badge('Written request', 'accent') : badge('Themselves', 'neutral')) },
      ],
      load: async (_cursor, sig) => ({ items: await get('/admin/privacy/deletions', { signal: sig }), next_cursor: null }),
    });
  const slot = h('div', {});
  let table = make();
  slot.replaceChildren(table.el);
  const el = card(
    { title: 'Waiting for deletion', description: 'Locked and hidden now; erased when the date comes, unless the person keeps the account with the mailed link.', cls: 'card-flush', testid: 'admin-deletions' },
    slot,
  );
  return {
    el,
    reload() {
      table = make();
      slot.replaceChildren(table.el);
    },
  };
}

// ---------------------------------------------------------------------------
// Exports run for others
// ---------------------------------------------------------------------------

function exportsCard(signal) {
  const list = h('ul', { class: 'export-list', role: 'list', testid: 'admin-export-list' });
  const status = h('div', {}, h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading\u2026')));
  const show = (items) => {
    list.replaceChildren(...items.map((x) => exportRow(x, { who: x.username || 'deleted account' })));
    status.replaceChildren(items.length ? '' : emptyState('database', 'No exports yet', 'Exports you run for written requests appear here, ready to download and send.'));
  };
  const { reload } = watchExports('/admin/privacy/exports', show, status, signal);
  const el = card({ title: 'Exports you ran', description: `Only you and the person can download them, for ${exportDays()}.`, testid: 'admin-exports' }, list, status);
  return { el, refresh: reload };
}

// ---------------------------------------------------------------------------
// Written requests: find the account, then act
// ---------------------------------------------------------------------------

function requestsCard(signal, { onExport, onDelete }) {
  const input = h('input', { type: 'search', id: 'privacy-user-q', class: 'input', placeholder: 'Username or email', autocomplete: 'off', spellcheck: 'false', testid: 'privacy-user-search' });
  const form = h(
    'form',
    { class: 'search-bar privacy-user-search', role: 'search' },
    h('label', { for: 'privacy-user-q', class: 'visually-hidden' }, 'Find the account'),
    h('span', { class: 'search-icon' }, icon('search')),
    input,
    h('button', { type: 'submit', class: 'btn btn-secondary' }, 'Find'),
  );
  const results = h('ul', { class: 'request-results', role: 'list', testid: 'privacy-user-results' });
  const status = h('div', {}, h('p', { class: 'muted small' }, 'Find the person who wrote to you by their username or email address.'));
  let gen = 0;

  function actions(u) {
    const self = state.me && String(state.me.id) === String(u.id);
    const exp = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'privacy-user-export' }, icon('download'), h('span', {}, 'Export data'));
    exp.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: `Export the data of @${u.username}?`, body: 'A ZIP of everything kept about this account is prepared for you to download and send to them. This is recorded in the audit log.', confirmLabel: 'Export data' });
      if (!ok) return;
      exp.disabled = true;
      try {
        await post(`/admin/users/${encodeURIComponent(u.id)}/export`, {});
        toast(`Preparing the data of @${u.username}`, 'success');
        onExport();
      } catch (err) {
        toastError(err, 'Could not start the export');
      } finally {
        exp.disabled = false;
      }
    });
    const rm = h('button', { type: 'button', class: 'btn btn-danger-soft btn-sm', testid: 'privacy-user-delete', disabled: self || !!u.deletion_due_at }, icon('trash'), h('span', {}, 'Delete account'));
    rm.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Delete the account of @${u.username}?`,
        body: `It is locked and hidden at once and erased after ${graceDays()}. They get a mail with a link that keeps the account until then. This is recorded in the audit log.`,
        confirmLabel: 'Delete account',
        danger: true,
      });
      if (!ok) return;
      rm.disabled = true;
      try {
        const res = await post(`/admin/users/${encodeURIComponent(u.id)}/delete`, {});
        toast(`@${u.username} will be erased on ${dateText(res.purge_after)}`, 'success');
        u.deletion_due_at = res.purge_after;
        onDelete();
        search();
      } catch (err) {
        rm.disabled = false;
        toastError(err, 'Could not delete the account');
      }
    });
    const child = h('button', { type: 'button', class: 'btn btn-danger-soft btn-sm', testid: 'privacy-user-child', disabled: self }, icon('ban'), h('span', {}, 'A child\u2019s account'));
    child.addEventListener('click', async () => {
      const typed = h('input', { type: 'text', id: 'child-confirm', name: 'confirm_username', class: 'input', autocomplete: 'off', spellcheck: 'false', testid: 'child-confirm-username' });
      const res = await formDialog({
        title: `Erase @${u.username} now?`,
        intro: 'Mark this account as belonging to a child under 13. It is erased at once, without a grace period: its data, files, posts and generations. This cannot be undone.',
        fields: [h('div', { class: 'field' }, h('label', { for: 'child-confirm', class: 'label' }, 'Type the username to confirm'), typed, h('p', { class: 'hint' }, h('code', {}, u.username)))],
        submitLabel: 'Erase now',
        danger: true,
        testid: 'child-dialog',
        submitTestid: 'child-confirm',
        submit: () => {
          if (typed.value.trim().toLowerCase() !== u.username.toLowerCase()) throw new Error(`Type \u201c${u.username}\u201d to confirm.`);
          return post(`/admin/users/${encodeURIComponent(u.id)}/child`, { confirm_username: typed.value.trim() });
        },
      });
      if (!res) return;
      toast(`@${u.username} was erased: ${res.rows} records and ${res.files} files.`, 'success', { timeout: 8000 });
      onDelete();
      search();
    });
    return h('div', { class: 'request-actions' }, exp, rm, child);
  }

  function row(u) {
    return h(
      'li',
      { class: 'request-row', testid: 'privacy-user', dataset: { username: u.username, userId: String(u.id) } },
      userCell(u),
      h('span', { class: 'badges' }, u.disabled && !u.deletion_due_at ? badge('Disabled', 'danger') : null, u.deletion_due_at ? badge(`Erased on ${dateText(u.deletion_due_at)}`, 'warning') : null),
      actions(u),
    );
  }

  async function search() {
    const q = input.value.trim();
    const my = ++gen;
    if (!q) {
      results.replaceChildren();
      status.replaceChildren(h('p', { class: 'muted small' }, 'Find the person who wrote to you by their username or email address.'));
      return;
    }
    status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Searching\u2026')));
    try {
      const res = await get(`/admin/users${qs({ q })}`, { signal });
      if (my !== gen) return;
      const items = ((res && res.items) || []).slice(0, 8);
      results.replaceChildren(...items.map(row));
      status.replaceChildren(items.length ? '' : h('p', { class: 'muted small' }, `No account matches \u201c${q}\u201d.`));
    } catch (err) {
      if (my === gen) showLoadError(status, err, search);
    }
  }
  let timer = null;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    search();
  });
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 300);
  });
  signal.addEventListener('abort', () => clearTimeout(timer));

  return card(
    { title: 'Requests by mail', description: 'Someone wrote to you asking for their data, or to delete their account. Check it is really them first.', testid: 'admin-requests' },
    form,
    results,
    status,
  );
}

// ---------------------------------------------------------------------------
// Policies and news
// ---------------------------------------------------------------------------

function policiesCard(signal) {
  const list = h('ul', { class: 'policy-links', role: 'list', testid: 'admin-policy-list' });
  const status = h('div', {}, h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading\u2026')));
  async function load() {
    try {
      const items = await get('/policies', { signal });
      list.replaceChildren(
        ...items.map((p) =>
          h(
            'li',
            { class: 'policy-row', testid: 'admin-policy', dataset: { slug: p.slug } },
            h('span', { class: 'policy-link-icon' }, icon('file')),
            h('span', { class: 'quick-text' }, h('strong', {}, p.title), h('span', {}, `Version ${p.version} \u00b7 since ${dateShort(p.published_at)}`)),
            h('a', { href: `/policies/${encodeURIComponent(p.slug)}`, class: 'btn btn-ghost btn-sm', 'aria-label': `Read ${p.title}` }, 'Read'),
            h('a', { href: `/admin/policies/${encodeURIComponent(p.slug)}`, class: 'btn btn-secondary btn-sm', testid: 'admin-policy-edit', 'aria-label': `Edit ${p.title}` }, icon('pencil'), h('span', {}, 'Edit')),
          ),
        ),
      );
      status.replaceChildren();
    } catch (err) {
      showLoadError(status, err, load);
    }
  }
  load();
  return card({ title: 'Policies', description: 'Linked from every page. Each edit is a new version; important ones are announced.', testid: 'admin-policies' }, list, status);
}

function newsCard(signal) {
  const result = h('div', { role: 'status' });
  const form = h(
    'form',
    { class: 'form', testid: 'news-form' },
    formAlert(),
    field({ name: 'subject', label: 'Subject', required: true, testid: 'news-subject', attrs: { maxlength: '150' } }),
    field({ name: 'text', label: 'Message', required: true, multiline: true, testid: 'news-text', hint: 'Plain text; a blank line starts a new paragraph. Each mail has a one-click unsubscribe link.', attrs: { rows: '6', maxlength: '20000' } }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'news-send' }, icon('send'), h('span', {}, 'Send'))),
    result,
  );
  onSubmit(
    form,
    async () => {
      result.replaceChildren();
      const ok = await confirmDialog({ title: 'Send this news?', body: 'Everyone who chose to get news by email receives it now. Nobody else does.', confirmLabel: 'Send now' });
      if (!ok) return;
      const res = await post('/admin/announcements', { subject: form.elements.subject.value.trim(), text: form.elements.text.value }, { signal });
      form.reset();
      const n = res.recipients;
      result.replaceChildren(h('div', { class: 'callout callout-success', testid: 'news-sent' }, icon('mail'), h('p', {}, n ? `Sent to ${n} ${n === 1 ? 'person' : 'people'}.` : 'Nobody has chosen to get news yet, so no mail was sent.')));
    },
    { busyLabel: 'Sending\u2026' },
  );
  return card({ title: 'News by email', description: 'Only to people who switched \u201cNews by email\u201d on.', testid: 'admin-news' }, form);
}

export default {
  title: 'Privacy',
  access: 'admin',
  render(main, { signal }) {
    const deletions = deletionsCard(signal);
    const exports = exportsCard(signal);
    const requests = requestsCard(signal, { onExport: () => exports.refresh(), onDelete: () => deletions.reload() });
    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide', testid: 'admin-privacy-page' },
        pageHeader('Administration', 'Requests about personal data, the policies, and news.'),
        adminTabs('/admin/privacy'),
        h(
          'div',
          { class: 'stack' },
          h('div', { class: 'grid-2 grid-top' }, requests, exports.el),
          deletions.el,
          h('div', { class: 'grid-2 grid-top' }, policiesCard(signal), newsCard(signal)),
        ),
      ),
    );
  },
};
