// /oidc/welcome — first sign-in with an OpenID provider: choose a username, confirm age
// and accept the terms. The pending identity lives in an HttpOnly cookie set by the
// server's callback; this page only reads its public facts.

import { h, icon, field, checkbox, formAlert, onSubmit, spinner, toast } from '../ui.js';
import { get, post } from '../api.js';
import { loadMe, instanceName } from '../state.js';
import { navigate } from '../router.js';
import { authLayout, resultScreen } from './auth-common.js';

export function expired(body, message) {
  body.replaceChildren(
    resultScreen({
      kind: 'error',
      title: 'This sign-in has expired',
      message: message || 'Start again from the sign-in page.',
      testid: 'oidc-expired',
      actions: [h('a', { href: '/login', class: 'btn btn-primary' }, 'Back to sign in')],
    }),
  );
}

export async function loadPending(body, signal) {
  body.replaceChildren(h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'One moment\u2026')));
  try {
    return await get('/auth/oidc/pending', { signal });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    expired(body, err && err.detail);
    return null;
  }
}

export default {
  title: 'Choose your username',
  access: 'guest',
  async render(main, { signal }) {
    const body = h('div', {});
    main.replaceChildren(authLayout({ title: `Welcome to ${instanceName()}`, subtitle: 'One last step: pick the name people will see.' }, body));
    const pending = await loadPending(body, signal);
    if (!pending) return;
    if (pending.existing_account) {
      navigate('/oidc/link', { replace: true });
      return;
    }
    const form = h(
      'form',
      { class: 'form', testid: 'oidc-welcome-form' },
      formAlert(),
      h('div', { class: 'callout callout-info' }, icon('shield'), h('p', {}, `Signed in with ${pending.provider_name}${pending.email ? ` as ${pending.email}` : ''}.`)),
      field({ name: 'username', label: 'Username', autocomplete: 'username', required: true, testid: 'oidc-username', value: pending.suggested_username || '', hint: 'Your public handle: 3\u201330 letters, digits, _ or .', attrs: { spellcheck: 'false', autocapitalize: 'none', maxlength: '30' } }),
      checkbox({ name: 'age_confirmed', label: 'I am at least 13 years old', required: true, testid: 'oidc-age' }),
      checkbox({ name: 'accept_terms', label: h('span', {}, 'I accept the ', h('a', { href: '/policies/terms' }, 'Terms of Service'), ' and ', h('a', { href: '/policies/privacy' }, 'Privacy Policy')), required: true, testid: 'oidc-terms' }),
      h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', testid: 'oidc-welcome-submit' }, 'Create my account'),
    );
    onSubmit(
      form,
      async () => {
        await post('/auth/oidc/complete', {
          username: form.elements.username.value.trim(),
          age_confirmed: form.elements.age_confirmed.checked,
          accept_terms: form.elements.accept_terms.checked,
        }, { signal });
        await loadMe();
        toast('Your account is ready. Welcome!', 'success');
        navigate('/', { replace: true });
      },
      { busyLabel: 'Creating\u2026' },
    );
    body.replaceChildren(form);
  },
};
