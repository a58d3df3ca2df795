// /login — username-or-email + password. Goes to ?next= (same-origin only) or /.
// An account waiting for its deletion answers 403 account-pending-deletion: the page
// says when it will be deleted and offers "Keep my account" (POST /me/delete/cancel
// with the same login and password), then signs in as usual.

import { h, icon, field, formAlert, onSubmit, showErrors, spinner, toast, toastError } from '../ui.js';
import { post, ApiError } from '../api.js';
import { state, loadMe, instanceName } from '../state.js';
import { navigate, safeNext } from '../router.js';
import { authLayout, oidcButtons, legalNote } from './auth-common.js';

export default {
  title: 'Sign in',
  access: 'guest',
  render(main, { params }) {
    const next = safeNext(params.get('next'));
    const pendingSlot = h('div', { class: 'pending-deletion-slot' });
    const form = h(
      'form',
      { class: 'form', testid: 'login-form' },
      formAlert(),
      pendingSlot,
      field({ name: 'login', label: 'Username or email', autocomplete: 'username', required: true, testid: 'login-login', attrs: { autocapitalize: 'none', spellcheck: 'false' } }),
      field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' }),
      h('div', { class: 'form-row-end' }, h('a', { href: '/forgot', class: 'link-sm', testid: 'login-forgot' }, 'Forgot password?')),
      h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', testid: 'login-submit' }, 'Sign in'),
    );

    async function finishSignIn() {
      await loadMe({ assumeSignedIn: false });
      if (!state.me) throw new ApiError(0, { detail: 'Signed in, but the session cookie was not stored. Are cookies enabled?' });
      navigate(next || '/', { replace: true });
    }

    // The account is scheduled for deletion: say when, and offer to keep it.
    function showPendingDeletion(err, login, password) {
      const keep = h('button', { type: 'button', class: 'btn btn-primary btn-sm', testid: 'login-keep-account' }, icon('refresh'), h('span', {}, 'Keep my account'));
      keep.addEventListener('click', async () => {
        keep.disabled = true;
        keep.replaceChildren(spinner(), h('span', {}, 'Keeping your account\u2026'));
        try {
          await post('/me/delete/cancel', { login, password });
          await post('/auth/login', { login, password });
          toast('Your account is kept. Welcome back!', 'success');
          await finishSignIn();
        } catch (e) {
          keep.disabled = false;
          keep.replaceChildren(icon('refresh'), h('span', {}, 'Keep my account'));
          toastError(e, 'Could not keep your account');
        }
      });
      pendingSlot.replaceChildren(
        h(
          'div',
          { class: 'callout callout-warning pending-deletion', role: 'alert', testid: 'login-pending-deletion' },
          icon('clock'),
          h('div', {}, h('p', {}, err.detail || 'This account is scheduled for deletion.'), keep),
        ),
      );
      keep.focus();
    }

    onSubmit(
      form,
      async () => {
        const login = form.elements.login.value.trim();
        const password = form.elements.password.value;
        pendingSlot.replaceChildren();
        try {
          await post('/auth/login', { login, password });
        } catch (err) {
          if (err instanceof ApiError && err.status === 401 && !Object.keys(err.errors).length) {
            throw new ApiError(401, { detail: err.detail || 'That username/email and password combination is not right.' });
          }
          if (err instanceof ApiError && err.status === 403 && err.is('account-pending-deletion')) {
            showPendingDeletion(err, login, password);
            return;
          }
          throw err;
        }
        await finishSignIn();
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
