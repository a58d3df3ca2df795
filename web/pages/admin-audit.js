// /admin/audit — append-only log of security-relevant actions.

import { h, icon, pageHeader, card, timeEl, pagedTable, asText } from '../ui.js';
import { get, qs } from '../api.js';
import { adminTabs } from './nav-tabs.js';

export default {
  title: 'Audit log',
  access: 'admin',
  render(main, { signal }) {
    const table = pagedTable({
      label: 'Audit log',
      rowTestid: 'audit-row',
      signal,
      emptyIcon: 'list',
      emptyTitle: 'Nothing logged yet',
      emptyText: 'Admin actions such as role changes, invites and settings updates are recorded here.',
      columns: [
        { label: 'When', cls: 'nowrap', cell: (e) => timeEl(e.created_at) },
        { label: 'Actor', cell: (e) => h('span', { class: 'clip clip-sm', title: asText(e.actor) }, asText(e.actor)) },
        { label: 'Action', primary: true, cell: (e) => h('code', { class: 'mono action-code' }, asText(e.action)) },
        { label: 'Target', cell: (e) => h('span', { class: 'clip', title: asText(e.target) }, asText(e.target)) },
        { label: 'Detail', cell: (e) => h('span', { class: 'clip', title: asText(e.detail) }, asText(e.detail)) },
      ],
      load: (cursor, sig) => get(`/admin/audit${qs({ cursor })}`, { signal: sig }),
    });
    const refresh = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'audit-refresh' }, icon('refresh'), h('span', {}, 'Refresh'));
    refresh.addEventListener('click', () => table.reload());
    main.replaceChildren(
      h('div', { class: 'page page-wide' }, pageHeader('Administration', 'Who did what, and when.'), adminTabs('/admin/audit'), card({ title: 'Audit log', actions: refresh, cls: 'card-flush' }, table.el)),
    );
  },
};
