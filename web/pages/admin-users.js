// /admin/users — search users, change role, enable/disable accounts.

import { h, icon, pageHeader, card, badge, timeEl, toast, toastError, pagedTable, avatar } from '../ui.js';
import { get, patch, qs } from '../api.js';
import { state } from '../state.js';
import { replaceQuietly } from '../router.js';
import { adminTabs } from './nav-tabs.js';

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
      return h('span', { class: 'badges' }, u.email_verified ? badge('Verified', 'success') : badge('Unverified', 'warning'), u.disabled ? badge('Disabled', 'danger', { dataset: { flag: 'disabled' } }) : null);
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
