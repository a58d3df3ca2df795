// /admin/users — search users, change role, enable/disable accounts, see storage use,
// set a per-user storage quota and give or take generation credits. Accounts waiting to
// be erased carry a "Deletion pending" badge (their requests: /admin/privacy).

import { h, icon, pageHeader, card, badge, timeEl, toast, toastError, pagedTable, avatar, formatBytes, formDialog } from '../ui.js';
import { get, patch, put, post, qs } from '../api.js';
import { state } from '../state.js';
import { replaceQuietly } from '../router.js';
import { adminTabs } from './nav-tabs.js';
import { creditsText } from './generate-common.js';

const ROLES = [
  ['user', 'User'],
  ['moderator', 'Moderator'],
  ['admin', 'Admin'],
];

export default {
  title: 'Users',
  access: 'admin',
  render(main, { params, signal }) {
    let q = params.get('q') || '';

    const searchInput = h('input', { type: 'search', id: 'admin-user-q', name: 'q', class: 'input', value: q, placeholder: 'Username or email', testid: 'admin-user-search', autocomplete: 'off', spellcheck: 'false' });
    const searchForm = h(
      'form',
      { class: 'search-bar', role: 'search', testid: 'admin-user-search-form' },
      h('label', { for: 'admin-user-q', class: 'visually-hidden' }, 'Search users'),
      h('span', { class: 'search-icon' }, icon('search')),
      searchInput,
      h('button', { type: 'submit', class: 'btn btn-secondary' }, 'Search'),
    );

    function userCell(u) {
      const self = state.me && String(state.me.id) === String(u.id);
      return h(
        'div',
        { class: 'user-cell' },
        avatar(u, 'sm'),
        h(
          'div',
          { class: 'user-cell-text' },
          h('span', { class: 'user-cell-name' }, h('strong', { class: 'truncate', title: u.username }, u.username), self ? badge('You', 'accent') : null),
          h('span', { class: 'muted truncate', title: u.email || '' }, u.email || ''),
        ),
      );
    }

    function roleCell(u) {
      const self = state.me && String(state.me.id) === String(u.id);
      const sel = h(
        'select',
        { class: 'input input-sm', testid: 'admin-user-role', 'aria-label': `Role for ${u.username}`, disabled: self, title: self ? 'You can\u2019t change your own role' : null, value: u.role },
        ROLES.map(([v, l]) => h('option', { value: v }, l)),
      );
      let prev = u.role;
      sel.addEventListener('change', async () => {
        const role = sel.value;
        sel.disabled = true;
        try {
          const res = await patch(`/admin/users/${encodeURIComponent(u.id)}`, { role });
          prev = (res && res.role) || role;
          sel.value = prev;
          toast(`${u.username} is now ${prev}`, 'success');
        } catch (err) {
          sel.value = prev;
          toastError(err, 'Could not change the role');
        } finally {
          sel.disabled = false;
        }
      });
      return sel;
    }

    function statusCell(u) {
      const due = u.deletion_due_at;
      return h(
        'span',
        { class: 'badges' },
        u.email_verified ? badge('Verified', 'success') : badge('Unverified', 'warning'),
        due ? badge('Deletion pending', 'danger', { testid: 'admin-user-deletion', title: `Erased on ${new Date(due * 1000).toLocaleDateString()} unless they keep the account`, dataset: { flag: 'deletion' } }) : u.disabled ? badge('Disabled', 'danger', { dataset: { flag: 'disabled' } }) : null,
      );
    }

    function disabledCell(u) {
      const self = state.me && String(state.me.id) === String(u.id);
      const id = `dis-${u.id}`;
      const box = h('input', { type: 'checkbox', role: 'switch', class: 'switch switch-danger', id, testid: 'admin-user-disabled', checked: !!u.disabled, disabled: self });
      const label = h('label', { for: id, class: 'switch-label' }, h('span', { class: 'visually-hidden' }, `Disable ${u.username}`), h('span', { 'aria-hidden': 'true' }, u.disabled ? 'Disabled' : 'Active'));
      box.addEventListener('change', async () => {
        const want = box.checked;
        box.disabled = true;
        try {
          const res = await patch(`/admin/users/${encodeURIComponent(u.id)}`, { disabled: want });
          const now = res && typeof res.disabled === 'boolean' ? res.disabled : want;
          box.checked = now;
          u.disabled = now;
          label.lastChild.textContent = now ? 'Disabled' : 'Active';
          const row = box.closest('tr');
          if (row) row.classList.toggle('is-disabled', now);
          toast(now ? `${u.username} can no longer sign in` : `${u.username} is active again`, 'success');
        } catch (err) {
          box.checked = !want;
          toastError(err, 'Could not update the account');
        } finally {
          box.disabled = false;
        }
      });
      return h('div', { class: 'switch-wrap' }, box, label);
    }

    function storageSummary(st) {
      const used = Number(st.used_bytes) || 0;
      const quota = Number(st.quota_bytes) || 0;
      const ratio = quota > 0 ? Math.min(1, used / quota) : 1;
      return [
        h('span', { class: 'storage-cell-text' }, `${formatBytes(used)} of ${formatBytes(quota)}`, st.quota_is_custom ? badge('Custom', 'accent', { title: 'Quota set for this user' }) : null),
        h('progress', { class: `meter-bar${ratio >= 0.9 ? ' is-over' : ''}`, max: '1', value: String(ratio), 'aria-label': `Storage used by this user: ${Math.round(ratio * 100)}%` }),
      ];
    }

    function storageCell(u) {
      const summary = h('div', { class: 'storage-cell-lines' }, ...storageSummary(u.storage));
      const edit = h('button', { type: 'button', class: 'icon-btn icon-btn-sm', testid: 'admin-user-quota', 'aria-label': `Storage quota for ${u.username}`, title: 'Set storage quota' }, icon('pencil'));
      edit.addEventListener('click', async () => {
        const storage = await quotaDialog(u);
        if (!storage) return;
        u.storage = storage;
        summary.replaceChildren(...storageSummary(storage));
        toast(storage.quota_is_custom ? `${u.username} may now store ${formatBytes(storage.quota_bytes)}` : `${u.username} is back on the default quota`, 'success');
      });
      return h('div', { class: 'storage-cell', testid: 'admin-user-storage' }, summary, edit);
    }

    /** Dialog to set a user's quota in GB or return to the default; resolves to the new storage or null. */
    function quotaDialog(u) {
      const GB = 1024 ** 3;
      const st = u.storage;
      const amount = h('input', { type: 'number', id: 'quota-gb', name: 'quota_gb', class: 'input', min: '0', step: '0.1', required: true, testid: 'quota-gb', value: String(Math.round((st.quota_bytes / GB) * 10) / 10), disabled: !st.quota_is_custom });
      const useDefault = h('input', { type: 'checkbox', id: 'quota-default', class: 'check', testid: 'quota-default', checked: !st.quota_is_custom });
      useDefault.addEventListener('change', () => {
        amount.disabled = useDefault.checked;
        if (!useDefault.checked) amount.focus();
      });
      return formDialog({
        title: `Storage for ${u.username}`,
        intro: `Uses ${formatBytes(st.used_bytes)} in ${st.asset_count} ${st.asset_count === 1 ? 'file' : 'files'}. Uploads that would go over the quota are refused; nothing already stored is removed.`,
        fields: [
          h('div', { class: 'field field-check' }, h('div', { class: 'check-row' }, useDefault, h('label', { for: 'quota-default' }, 'Use the instance default'))),
          h('div', { class: 'field' }, h('label', { for: 'quota-gb', class: 'label' }, 'Quota in GB'), amount),
        ],
        submitLabel: 'Save quota',
        testid: 'quota-dialog',
        submitTestid: 'quota-save',
        focus: () => (useDefault.checked ? useDefault : amount),
        submit: () => {
          const gb = Number(amount.value);
          if (!useDefault.checked && !(amount.value !== '' && gb >= 0)) throw new Error('Enter a number of GB, 0 or more.');
          return put(`/admin/users/${encodeURIComponent(u.id)}/quota`, { quota_bytes: useDefault.checked ? null : Math.round(gb * GB) });
        },
      });
    }

    function creditsCell(u) {
      const shown = h('span', { class: 'credits-cell-text', testid: 'admin-user-balance' }, '');
      const btn = h('button', { type: 'button', class: 'icon-btn icon-btn-sm', testid: 'admin-user-credits', 'aria-label': `Credits for ${u.username}`, title: 'Give or take credits' }, icon('coins'));
      btn.addEventListener('click', async () => {
        const res = await creditsDialog(u);
        if (!res) return;
        shown.textContent = creditsText(res.balance);
        toast(`${u.username} now has ${creditsText(res.balance)}`, 'success');
      });
      return h('div', { class: 'credits-cell' }, btn, shown);
    }

    /** Dialog to grant (or, negative, remove) credits; resolves to {balance, entries} or null. */
    function creditsDialog(u) {
      const amount = h('input', { type: 'number', id: 'credits-amount', name: 'amount', class: 'input', step: '1', required: true, testid: 'credits-amount', inputmode: 'numeric', placeholder: '50' });
      const note = h('input', { type: 'text', id: 'credits-note', name: 'note', class: 'input', maxlength: '200', testid: 'credits-note', placeholder: 'Thanks for testing!' });
      return formDialog({
        title: `Credits for ${u.username}`,
        intro: 'Each generated image uses credits. The user sees the amount and your note in their credit history.',
        fields: [
          h('div', { class: 'field' }, h('label', { for: 'credits-amount', class: 'label' }, 'Amount'), amount, h('p', { class: 'hint' }, 'A negative number takes credits away.')),
          h('div', { class: 'field' }, h('label', { for: 'credits-note', class: 'label' }, 'Note', h('span', { class: 'optional' }, ' (optional)')), note),
        ],
        submitLabel: 'Save',
        testid: 'credits-dialog',
        submitTestid: 'credits-save',
        submit: () => {
          const n = Number(amount.value);
          if (amount.value === '' || !Number.isInteger(n) || n === 0) throw new Error('Enter a whole number of credits other than 0.');
          return post(`/admin/users/${encodeURIComponent(u.id)}/credits`, { amount: n, note: note.value.trim() });
        },
      });
    }

    const table = () =>
      pagedTable({
        label: 'Users',
        rowTestid: 'admin-user-row',
        rowProps: (u) => ({ class: u.disabled ? 'is-disabled' : null, dataset: { userId: String(u.id), username: u.username } }),
        signal,
        emptyIcon: 'community',
        emptyTitle: q ? 'No users match your search' : 'No users yet',
        emptyText: q ? `Nothing found for \u201c${q}\u201d. Try part of a username or an email address.` : null,
        columns: [
          { label: 'User', cell: userCell, primary: true, cls: 'cell-user' },
          { label: 'Role', cell: roleCell },
          { label: 'Status', cell: statusCell },
          { label: 'Access', cell: disabledCell },
          { label: 'Storage', cell: storageCell, cls: 'cell-storage' },
          { label: 'Credits', cell: creditsCell },
          { label: 'Joined', cls: 'nowrap', cell: (u) => timeEl(u.created_at) },
          { label: 'Last sign-in', cls: 'nowrap', cell: (u) => timeEl(u.last_login_at, 'Never') },
        ],
        load: (cursor, sig) => get(`/admin/users${qs({ q, cursor })}`, { signal: sig }),
      });

    const slot = h('div', {});
    let current = table();
    slot.replaceChildren(current.el);

    let timer = null;
    function runSearch() {
      clearTimeout(timer);
      const v = searchInput.value.trim();
      if (v === q) return;
      q = v;
      replaceQuietly(`/admin/users${qs({ q })}`);
      current = table();
      slot.replaceChildren(current.el);
    }
    searchForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      runSearch();
    });
    searchInput.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(runSearch, 350);
    });
    signal.addEventListener('abort', () => clearTimeout(timer));

    main.replaceChildren(
      h('div', { class: 'page page-wide' }, pageHeader('Administration', 'People on this instance.'), adminTabs('/admin/users'), card({ title: 'Users', actions: searchForm, cls: 'card-flush' }, slot)),
    );
  },
};
