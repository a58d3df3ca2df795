// /oidc/link — an OpenID sign-in whose email already has an account here: the account
// is linked only after its password is given.

import { h, icon, field, formAlert, onSubmit, toast } from '../ui.js';
import { post } from '../api.js';
import { loadMe, instanceName } from '../state.js';
import { navigate } from '../router.js';
import { authLayout } from './auth-common.js';
import { loadPending } from './oidc-welcome.js';

export default {
  title: 'Link your account',
  access: 'guest',
  async render(main, { signal }) {
    const body = h('div', {});
    main.replaceChildren(authLayout({ title: 'Link your account', subtitle: `An account on ${instanceName()} already uses this email.` }, body));
    const pending = await loadPending(body, signal);
    if (!pending) return;
    const form = h(
      'form',
      { class: 'form', testid: 'oidc-link-form' },
      formAlert(),
      h('div', { class: 'callout callout-info' }, icon('shield'), h('p', {}, `To sign in with ${pending.provider_name} from now on, prove this account is yours once with its password.`)),
      field({ name: 'login', label: 'Username or email', autocomplete: 'username', required: true, testid: 'oidc-link-login', value: pending.email || '', attrs: { autocapitalize: 'none', spellcheck: 'false' } }),
      field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true, testid: 'oidc-link-password' }),
      h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', testid: 'oidc-link-submit' }, 'Link and sign in'),
      h('p', { class: 'auth-alt' }, 'Forgot it? ', h('a', { href: '/forgot' }, 'Reset your password'), ', then sign in with the provider again.'),
    );
    onSubmit(
      form,
      async () => {
        await post('/auth/oidc/link', { login: form.elements.login.value.trim(), password: form.elements.password.value }, { signal });
        await loadMe();
        toast(`${pending.provider_name} is now linked to your account.`, 'success');
        navigate('/', { replace: true });
      },
      { busyLabel: 'Linking\u2026' },
    );
    body.replaceChildren(form);
  },
};
