// /admin/policies/{slug} — the policy editor: title and Markdown (placeholders such as
// {{instance}} are filled when shown), whether the change is important (material: a
// notice to everyone until they acknowledge it, and a mail) with its summary, then
// PUT /api/v1/admin/policies/{slug} publishes it as a new version. Beside it, the version
// in force as the server renders it (there is no preview of unsaved text: nothing
// unsanitised is ever put into the page), and every earlier version.

import { h, icon, pageHeader, card, badge, toast, spinner, field, checkbox, formAlert, onSubmit, confirmDialog, errorBox } from '../ui.js';
import { get, put } from '../api.js';
import { adminTabs } from './nav-tabs.js';
import { dateEl, dateShort } from './privacy-common.js';
import { fillPolicyHtml } from './policy.js';

const PLACEHOLDERS = [
  ['{{instance}}', 'the name of this site'],
  ['{{contact}}', 'how to reach the administrators'],
  ['{{export_days}}', 'days a data export can be downloaded'],
  ['{{deletion_grace_days}}', 'days before a deleted account is erased'],
  ['{{analytics_full_ip_days}}', 'days IP addresses are kept whole'],
  ['{{analytics_retention_days}}', 'days usage records are kept'],
];

let pageTitle = 'Edit policy';

export default {
  title: () => pageTitle,
  access: 'admin',
  async render(main, { route, signal }) {
    const slug = route.slug;
    pageTitle = 'Edit policy';
    const shell = h('div', { class: 'page page-wide', testid: 'policy-editor-page' }, h('a', { href: '/admin/privacy', class: 'back-link' }, icon('arrowLeft'), h('span', {}, 'Privacy')));
    main.replaceChildren(shell);
    const body = h('div', {}, h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'Loading\u2026')));
    shell.append(body);

    let p;
    try {
      p = await get(`/policies/${encodeURIComponent(slug)}`, { signal });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      body.replaceChildren(errorBox(err, () => location.reload()));
      return;
    }
    pageTitle = `Edit ${p.title}`;

    const header = h('div', {});
    const preview = h('div', { class: 'prose policy-prose policy-preview', testid: 'policy-preview' });
    const history = h('ol', { class: 'version-list', role: 'list', testid: 'policy-history' });

    function showPolicy(policy) {
      p = policy;
      header.replaceChildren(
        pageHeader(
          `Edit: ${policy.title}`,
          h('span', {}, `Version ${policy.version} is in force since `, dateEl(policy.published_at), '.'),
          h('a', { href: `/policies/${encodeURIComponent(policy.slug)}`, class: 'btn btn-secondary', testid: 'policy-view' }, icon('eye'), h('span', {}, 'Read it')),
        ),
      );
      fillPolicyHtml(preview, policy.html, policy.title);
      history.replaceChildren(
        ...(policy.versions || []).map((v, i) =>
          h(
            'li',
            { class: 'version-row', testid: 'policy-history-version', dataset: { version: String(v.version) } },
            h(
              'div',
              { class: 'version-head' },
              h('a', { href: `/policies/${encodeURIComponent(policy.slug)}${i ? `?version=${v.version}` : ''}` }, h('strong', {}, `Version ${v.version}`)),
              i === 0 ? badge('In force', 'success') : null,
              v.material ? badge('Important', 'warning') : null,
              h('span', { class: 'muted small' }, dateShort(v.published_at)),
            ),
            v.summary ? h('p', { class: 'version-summary' }, v.summary) : null,
          ),
        ),
      );
      submitLabel.textContent = `Publish version ${policy.version + 1}`;
    }

    const submitLabel = h('span', {}, 'Publish');
    const titleField = field({ name: 'title', label: 'Title', required: true, value: p.title, testid: 'policy-title-input', attrs: { maxlength: '120' } });
    const markdown = field({ name: 'markdown', label: 'Text (Markdown)', required: true, multiline: true, value: p.markdown, testid: 'policy-markdown', attrs: { rows: '22', spellcheck: 'true', class: 'input mono policy-markdown' } });
    const textarea = markdown.querySelector('textarea');
    const chips = h(
      'div',
      { class: 'placeholder-chips', role: 'group', 'aria-label': 'Insert a placeholder' },
      PLACEHOLDERS.map(([token, what]) => {
        const b = h('button', { type: 'button', class: 'chip chip-sm placeholder-chip', title: `Insert ${token}: ${what}` }, h('code', {}, token));
        b.addEventListener('click', () => {
          const { selectionStart: a, selectionEnd: z, value } = textarea;
          textarea.value = value.slice(0, a) + token + value.slice(z);
          textarea.focus();
          textarea.setSelectionRange(a + token.length, a + token.length);
        });
        return b;
      }),
    );
    const material = checkbox({
      name: 'material',
      role: 'switch',
      label: 'Important change',
      testid: 'policy-material',
      hint: 'Everyone sees a notice until they acknowledge it, and every active account gets a mail. Use it when what you promise changes, not for typos.',
    });
    const summary = field({ name: 'summary', label: 'What changed', multiline: true, testid: 'policy-summary', hint: 'One or two sentences; shown in the notice and the mail.', attrs: { rows: '3', maxlength: '500' } });
    const summaryInput = summary.querySelector('textarea');
    const materialInput = material.querySelector('input');
    const syncSummary = () => {
      summary.hidden = !materialInput.checked;
      summaryInput.required = materialInput.checked;
    };
    materialInput.addEventListener('change', () => {
      syncSummary();
      if (materialInput.checked) summaryInput.focus();
    });
    syncSummary();

    const form = h(
      'form',
      { class: 'form', testid: 'policy-editor' },
      formAlert(),
      titleField,
      markdown,
      h('div', { class: 'field placeholder-field' }, h('p', { class: 'label' }, 'Placeholders'), chips, h('p', { class: 'hint' }, 'Filled in when the policy is shown, from this site\u2019s settings.')),
      material,
      summary,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'policy-publish' }, icon('check'), submitLabel)),
    );
    onSubmit(
      form,
      async () => {
        const isMaterial = materialInput.checked;
        const body = { title: form.elements.title.value.trim(), markdown: textarea.value, material: isMaterial, summary: isMaterial ? summaryInput.value.trim() : '' };
        if (isMaterial) {
          const ok = await confirmDialog({ title: 'Publish as an important change?', body: 'Everyone sees a notice until they acknowledge it, and every active account gets a mail now.', confirmLabel: 'Publish and tell everyone' });
          if (!ok) return;
        }
        const saved = await put(`/admin/policies/${encodeURIComponent(slug)}`, body, { signal });
        materialInput.checked = false;
        summaryInput.value = '';
        syncSummary();
        showPolicy(saved);
        toast(`Version ${saved.version} published${isMaterial ? ': everyone will be told' : ''}`, 'success');
      },
      { busyLabel: 'Publishing\u2026' },
    );

    showPolicy(p);
    body.replaceChildren(
      header,
      adminTabs('/admin/privacy'),
      h(
        'div',
        { class: 'editor-layout' },
        card({ title: 'New version', description: 'Publishing never changes an earlier version: people can still read what they agreed to.' }, form),
        h(
          'div',
          { class: 'stack' },
          card({ title: 'In force now', description: 'As readers see it.', cls: 'policy-preview-card' }, preview),
          card({ title: 'Versions' }, history),
        ),
      ),
    );
  },
};
