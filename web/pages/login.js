// /login — username-or-email + password. Goes to ?next= (same-origin only) or /.

import { h, field, formAlert, onSubmit, showErrors } from '../ui.js';
import { post, ApiError } from '../api.js';
import { state, loadMe, instanceName } from '../state.js';
import { navigate, safeNext } from '../router.js';
import { authLayout, oidcButtons, legalNote } from './auth-common.js';

export default {
  title: 'Sign in',
  access: 'guest',
  render(main, { params }) {
    const next = safeNext(params.get('next'));
    const form = h(
      'form',
      { class: 'form', testid: 'login-form' },
      formAlert(),
      field({ name: 'login', label: 'Username or email', autocomplete: 'username', required: true, testid: 'login-login', attrs: { autocapitalize: 'none', spellcheck: 'false' } }),
      field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' }),
      h('div', { class: 'form-row-end' }, h('a', { href: '/forgot', class: 'link-sm', testid: 'login-forgot' }, 'Forgot password?')),
      h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', testid: 'login-submit' }, 'Sign in'),
    );

    onSubmit(
      form,
      async () => {
        const login = form.elements.login.value.trim();
        const password = form.elements.password.value;
        try {
          await post('/auth/login', { login, password });
        } catch (err) {
          if (err instanceof ApiError && err.status === 401 && !Object.keys(err.errors).length) {
            throw new ApiError(401, { detail: err.detail || 'That username/email and password combination is not right.' });
          }
          throw err;
        }
        await loadMe({ assumeSignedIn: false });
        if (!state.me) throw new ApiError(0, { detail: 'Signed in, but the session cookie was not stored. Are cookies enabled?' });
        navigate(next || '/', { replace: true });
      },
      { busyLabel: 'Signing in…' },
    );

    const mode = state.config.signup_mode;
    main.replaceChildren(
      authLayout(
        { title: `Sign in to ${instanceName()}`, subtitle: 'Welcome back. Pick up where you left off.' },
        form,
        oidcButtons(),
        mode !== 'closed'
          ? h('p', { class: 'auth-alt' }, 'New here? ', h('a', { href: `/signup${location.search.includes('invite=') ? location.search : ''}`, testid: 'login-to-signup' }, 'Create an account'))
          : null,
        legalNote(),
      ),
    );

    const oidcError = params.get('error');
    if (oidcError) showErrors(form, {}, `Sign-in with your provider did not complete (${oidcError}). Please try again.`);
  },
};
