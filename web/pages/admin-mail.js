// /admin/mail — outbox and a "send test mail" tool showing the SMTP transcript.

import { h, icon, pageHeader, card, badge, timeEl, pagedTable, field, formAlert, onSubmit, asText } from '../ui.js';
import { get, post, qs } from '../api.js';
import { state } from '../state.js';
import { adminTabs } from './nav-tabs.js';

const STATUS = { queued: 'warning', sent: 'success', failed: 'danger' };

export default {
  title: 'Mail',
  access: 'admin',
  render(main, { signal }) {
    const result = h('div', { class: 'mail-result', 'aria-live': 'polite' });
    const form = h(
      'form',
      { class: 'form form-inline', testid: 'mail-test-form' },
      formAlert(),
      field({ name: 'to', label: 'Send a test message to', type: 'email', required: true, value: state.me.email, testid: 'mail-test-to', autocomplete: 'email' }),
      h('button', { type: 'submit', class: 'btn btn-primary', testid: 'mail-test-submit' }, icon('mail'), h('span', {}, 'Send test')),
    );
    onSubmit(
      form,
      async () => {
        result.replaceChildren();
        const res = await post('/admin/mail/test', { to: form.elements.to.value.trim() }, { signal });
        const ok = !!(res && res.ok);
        result.replaceChildren(
          h(
            'div',
            { class: `callout ${ok ? 'callout-success' : 'callout-error'}`, testid: 'mail-test-result', dataset: { ok: String(ok) } },
            icon(ok ? 'check' : 'alert'),
            h('p', {}, ok ? 'The mail server accepted the message.' : 'Sending failed. The transcript below shows where.'),
          ),
          res && res.transcript ? h('details', { class: 'transcript', open: true }, h('summary', {}, 'SMTP transcript'), h('pre', { class: 'pre', testid: 'mail-test-transcript', tabindex: '0' }, res.transcript)) : null,
        );
        table.reload();
      },
      { busyLabel: 'Sending\u2026' },
    );

    const table = pagedTable({
      label: 'Outgoing mail',
      rowTestid: 'mail-row',
      rowProps: (m) => ({ dataset: { status: m.status } }),
      signal,
      emptyIcon: 'mail',
      emptyTitle: 'No mail sent yet',
      emptyText: 'Verification and password-reset emails show up here.',
      columns: [
        { label: 'To', primary: true, cell: (m) => h('span', { class: 'clip clip-sm', title: asText(m.to) }, asText(m.to)) },
        {
          label: 'Subject',
          cell: (m) => h('div', { class: 'stack-cell' }, h('span', { class: 'clip', title: m.subject || '' }, m.subject || '\u2014'), h('code', { class: 'mono small muted' }, asText(m.kind))),
        },
        {
          label: 'Status',
          cell: (m) => {
            const n = Number(m.attempts ?? 0);
            return h('div', { class: 'stack-cell' }, badge(m.status, STATUS[m.status] || 'neutral'), h('span', { class: 'small muted nowrap' }, `${n} attempt${n === 1 ? '' : 's'}`));
          },
        },
        {
          label: 'Created',
          cls: 'nowrap',
          cell: (m) => h('div', { class: 'stack-cell' }, timeEl(m.created_at), h('span', { class: 'small muted' }, m.sent_at ? ['sent ', timeEl(m.sent_at)] : 'not sent yet')),
        },
        { label: 'Last error', cell: (m) => (m.last_error ? h('span', { class: 'clip text-danger', title: m.last_error }, m.last_error) : h('span', { class: 'muted' }, '\u2014')) },
      ],
      load: (cursor, sig) => get(`/admin/mail${qs({ cursor })}`, { signal: sig }),
    });

    const refresh = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'mail-refresh' }, icon('refresh'), h('span', {}, 'Refresh'));
    refresh.addEventListener('click', () => table.reload());

    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide' },
        pageHeader('Administration', 'Check that verification and reset emails get out.'),
        adminTabs('/admin/mail'),
        h('div', { class: 'stack' }, card({ title: 'Test delivery' }, form, result), card({ title: 'Outbox', actions: refresh, cls: 'card-flush' }, table.el)),
      ),
    );
  },
};
