// /admin/settings — signup mode, proof-of-work toggle and the default storage quota.

import { h, icon, pageHeader, card, checkbox, field, formAlert, onSubmit, toast, spinner, errorBox } from '../ui.js';
import { get, put } from '../api.js';
import { state } from '../state.js';
import { adminTabs } from './nav-tabs.js';

const MODES = [
  ['open', 'Open', 'Anyone can create an account.', 'globe'],
  ['invite', 'Invite only', 'People need an invite link from an admin.', 'ticket'],
  ['closed', 'Closed', 'No new accounts. Existing users can still sign in.', 'lock'],
];

const GB = 1024 ** 3;

export default {
  title: 'Instance settings',
  access: 'admin',
  async render(main, { signal }) {
    const body = h('div', {}, h('div', { class: 'loading-block' }, spinner('Loading settings'), h('p', {}, 'Loading settings\u2026')));
    main.replaceChildren(h('div', { class: 'page' }, pageHeader('Administration', 'How people join this instance and what they may store.'), adminTabs('/admin/settings'), card({ title: 'Signups and storage' }, body)));

    async function load() {
      let s;
      try {
        s = await get('/admin/settings', { signal });
      } catch (err) {
        if (err && err.name === 'AbortError') throw err;
        body.replaceChildren(errorBox(err, load));
        return;
      }
      const form = h(
        'form',
        { class: 'form', testid: 'admin-settings-form' },
        formAlert(),
        h(
          'fieldset',
          { class: 'fieldset', 'data-field': 'signup_mode' },
          h('legend', { class: 'label' }, 'Who can sign up'),
          h(
            'div',
            { class: 'radio-cards' },
            MODES.map(([v, l, d, ic]) =>
              h(
                'label',
                { class: 'radio-card' },
                h('input', { type: 'radio', name: 'signup_mode', value: v, class: 'radio', checked: s.signup_mode === v, testid: `admin-signup-mode-${v}`, required: true }),
                h('span', { class: 'radio-card-icon' }, icon(ic)),
                h('span', { class: 'radio-card-text' }, h('strong', {}, l), h('span', { class: 'muted' }, d)),
              ),
            ),
          ),
          h('p', { class: 'field-error', id: 'admin-signup-mode-error', hidden: true }),
        ),
        checkbox({
          name: 'pow_required',
          role: 'switch',
          label: 'Require proof-of-work on signup',
          checked: !!s.pow_required,
          testid: 'admin-pow-required',
          hint: 'The signup form solves a small puzzle in the visitor\u2019s browser (a second or two). It slows down bots without any third-party captcha.',
        }),
        field({
          name: 'default_quota_gb',
          label: 'Default storage per user (GB)',
          type: 'number',
          required: true,
          testid: 'admin-default-quota',
          value: String(Math.round((Number(s.default_quota_bytes) / GB) * 10) / 10),
          attrs: { min: '0', step: '0.1', inputmode: 'decimal' },
          hint: 'What each account may keep in its library. A user\u2019s own quota (set on the Users page) takes precedence. Lowering it removes nothing; uploads over it are refused.',
        }),
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'admin-settings-save' }, 'Save settings')),
      );
      onSubmit(
        form,
        async () => {
          const next = {
            signup_mode: form.querySelector('input[name="signup_mode"]:checked').value,
            pow_required: form.elements.pow_required.checked,
            default_quota_bytes: Math.round(Number(form.elements.default_quota_gb.value) * GB),
          };
          const saved = await put('/admin/settings', next, { signal });
          const applied = saved && typeof saved === 'object' && saved.signup_mode ? saved : next;
          state.config.signup_mode = applied.signup_mode;
          state.config.pow_required = !!applied.pow_required;
          toast('Settings saved', 'success');
        },
        { busyLabel: 'Saving\u2026' },
      );
      body.replaceChildren(form);
    }
    await load();
  },
};
