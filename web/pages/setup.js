// /setup?token=… — first-run: create the administrator account.

import { h, icon, field, formAlert, onSubmit, spinner, toast } from '../ui.js';
import { get, post, qs } from '../api.js';
import { loadMe } from '../state.js';
import { navigate } from '../router.js';
import { authLayout, resultScreen } from './auth-common.js';

export default {
  title: 'Set up StrataMake',
  access: 'any',
  async render(main, { params, signal }) {
    const token = params.get('token') || '';
    const body = h('div', {});
    main.replaceChildren(
      authLayout({ title: 'Welcome \u2014 create the administrator account', subtitle: 'This account will manage users, invites and mail for this instance.', wide: true }, body),
    );

    const invalid = (msg) =>
      body.replaceChildren(
        resultScreen({
          kind: 'error',
          title: 'This setup link is not valid',
          message: msg || 'It may have been used already. Restart the server to print a fresh setup link, or sign in if the administrator exists.',
          testid: 'setup-invalid',
          actions: [h('a', { href: '/login', class: 'btn btn-secondary' }, 'Sign in')],
        }),
      );

    if (!token) return invalid('The link is missing its token. Use the full setup URL printed in the server log.');

    body.replaceChildren(h('div', { class: 'loading-block' }, spinner('Checking setup link'), h('p', {}, 'Checking your setup link\u2026')));
    try {
      const st = await get(`/setup/status${qs({ token })}`, { signal });
      if (!st || !st.valid) return invalid();
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      return invalid(err && err.detail);
    }

    const form = h(
      'form',
      { class: 'form', testid: 'setup-form' },
      formAlert(),
      h('div', { class: 'callout callout-info' }, icon('shield'), h('p', {}, 'The setup link works once. Keep this password safe \u2014 it unlocks the admin area.')),
      field({ name: 'email', label: 'Admin email', type: 'email', autocomplete: 'email', required: true, testid: 'setup-email' }),
      field({ name: 'username', label: 'Username', autocomplete: 'username', required: true, testid: 'setup-username', hint: '3\u201330 letters, digits, _ or .', attrs: { spellcheck: 'false', autocapitalize: 'none', maxlength: '30' } }),
      field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', required: true, testid: 'setup-password', hint: 'At least 8 characters; longer is better.', attrs: { minlength: '8', maxlength: '128' } }),
      h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', testid: 'setup-submit' }, 'Create administrator'),
    );
    onSubmit(
      form,
      async () => {
        await post('/setup', { token, email: form.elements.email.value.trim(), username: form.elements.username.value.trim(), password: form.elements.password.value }, { signal });
        await loadMe();
        toast('Your instance is ready. Welcome aboard!', 'success');
        navigate('/', { replace: true });
      },
      { busyLabel: 'Creating\u2026' },
    );
    body.replaceChildren(form);
  },
};
