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
      columns: [
        { label: 'To', cell: (m) => asText(m.to) },
        { label: 'Subject', cell: (m) => h('span', { class: 'clip', title: m.subject || '' }, m.subject || '\u2014') },
        { label: 'Kind', cell: (m) => h('code', { class: 'mono small' }, asText(m.kind)) },
        { label: 'Status', cell: (m) => badge(m.status, STATUS[m.status] || 'neutral') },
        { label: 'Attempts', cls: 'num', cell: (m) => String(m.attempts ?? 0) },
        { label: 'Created', cell: (m) => timeEl(m.created_at) },
        { label: 'Sent', cell: (m) => timeEl(m.sent_at, '\u2014') },
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
