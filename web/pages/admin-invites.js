// /admin/invites — create, copy and delete invite links.

import { h, icon, pageHeader, card, badge, timeEl, toast, pagedTable, copyButton, confirmAction, asText, formAlert, onSubmit } from '../ui.js';
import { get, post, del } from '../api.js';
import { state } from '../state.js';
import { adminTabs } from './nav-tabs.js';

const EXPIRY = [
  ['1', '1 day'],
  ['7', '7 days'],
  ['30', '30 days'],
  ['90', '90 days'],
];

// The server keeps only a hash of each invite: the full link comes back once, when
// the invite is created (listed invites show a code prefix and no url).
function inviteUrl(inv) {
  if (inv.url) return inv.url;
  if (inv.code && !inv.code.endsWith('\u2026')) return `${location.origin}/signup?invite=${encodeURIComponent(inv.code)}`;
  return null;
}

function statusBadge(inv) {
  if (inv.used_at) return badge(`Used${inv.used_by ? ` by ${asText(inv.used_by)}` : ''}`, 'neutral');
  if (inv.expires_at && inv.expires_at * 1000 < Date.now()) return badge('Expired', 'danger');
  return badge('Active', 'success');
}

export default {
  title: 'Invites',
  access: 'admin',
  render(main, { signal }) {
    let table;
    const fresh = h('div', { class: 'secret-slot secret-slot-after', 'aria-live': 'polite' });

    const columns = [
      { label: 'Code', primary: true, cell: (i) => h('code', { class: 'mono clip clip-code', title: i.code }, i.code) },
      { label: 'Status', cell: statusBadge },
      { label: 'Created', cls: 'nowrap', cell: (i) => timeEl(i.created_at) },
      { label: 'Expires', cls: 'nowrap', cell: (i) => timeEl(i.expires_at, 'Never') },
      {
        label: 'Actions',
        cls: 'cell-actions',
        cell: (i) => {
          const remove = confirmAction(
            h('button', { type: 'button', class: 'icon-btn', testid: 'invite-delete', 'aria-label': `Delete invite ${i.code}` }, icon('trash')),
            { title: 'Delete this invite?', body: 'The link stops working. Accounts already created with it are not affected.', confirmLabel: 'Delete invite' },
            async () => {
              await del(`/admin/invites/${encodeURIComponent(i.id)}`);
              const tr = remove.closest('tr');
              if (tr) tr.remove();
              toast('Invite deleted', 'success');
            },
            'Could not delete the invite',
          );
          const url = inviteUrl(i);
          return h('div', { class: 'row-actions' }, i.used_at || !url ? null : copyButton(() => url, { label: 'Copy link', testid: 'invite-copy' }), remove);
        },
      },
    ];

    const form = h(
      'form',
      { class: 'form form-inline form-compact', testid: 'invite-form' },
      formAlert(),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'invite-expiry', class: 'label' }, 'Link expires after'),
        h('select', { id: 'invite-expiry', name: 'expires_in_days', class: 'input', testid: 'invite-expiry', value: '7' }, EXPIRY.map(([v, l]) => h('option', { value: v }, l))),
        h('p', { class: 'field-error', id: 'invite-expiry-error', hidden: true }),
      ),
      h('button', { type: 'submit', class: 'btn btn-primary', testid: 'invite-create' }, icon('plus'), h('span', {}, 'Create invite')),
    );
    onSubmit(
      form,
      async () => {
        const v = form.elements.expires_in_days.value;
        const inv = await post('/admin/invites', { expires_in_days: Number(v) }, { signal });
        const url = inv && inviteUrl(inv);
        if (url) {
          const input = h('input', { class: 'input mono', readonly: true, value: url, testid: 'invite-new-url', 'aria-label': 'New invite link' });
          input.addEventListener('focus', () => input.select());
          fresh.replaceChildren(
            h(
              'div',
              { class: 'secret-box secret-box-success' },
              h(
                'div',
                { class: 'secret-head' },
                h('span', { class: 'secret-icon' }, icon('check')),
                h('div', { class: 'secret-text' }, h('p', { class: 'secret-title' }, 'Invite created'), h('p', {}, 'Send this link to the person you want to invite. It is shown only now.')),
              ),
              h('div', { class: 'secret-row' }, input, copyButton(() => url, { testid: 'invite-new-copy' })),
            ),
          );
          table.prepend(inv);
        } else table.reload();
        toast('Invite created', 'success');
      },
      { busyLabel: 'Creating\u2026' },
    );

    table = pagedTable({
      label: 'Invites',
      rowTestid: 'invite-row',
      rowProps: (i) => ({ dataset: { inviteId: String(i.id) } }),
      signal,
      emptyIcon: 'ticket',
      emptyTitle: 'No invites yet',
      emptyText: 'Create one to let someone join.',
      columns,
      load: async (cursor, sig) => {
        if (cursor) return { items: [], next_cursor: null };
        return get('/admin/invites', { signal: sig });
      },
    });

    const mode = state.config.signup_mode;
    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide' },
        pageHeader('Administration', 'Bring people into your instance.'),
        adminTabs('/admin/invites'),
        mode !== 'invite'
          ? h(
              'div',
              { class: 'callout callout-info' },
              icon('info'),
              h('p', {}, `Signups are currently ${mode === 'open' ? 'open to everyone' : 'closed'}. `, mode === 'closed' ? 'Invite links only work when signups are set to invite-only. ' : 'Invite links work too. ', h('a', { href: '/admin/settings' }, 'Change signup mode')),
            )
          : null,
        h('div', { class: 'stack' }, card({ title: 'New invite', description: 'Each invite link creates one account. The full link is shown once, right after you create it.' }, form, fresh), card({ title: 'Invites', cls: 'card-flush' }, table.el)),
      ),
    );
  },
};
