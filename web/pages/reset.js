// /reset?token=… — choose a new password.

import { h, field, formAlert, onSubmit } from '../ui.js';
import { post } from '../api.js';
import { state, loadMe } from '../state.js';
import { replaceQuietly } from '../router.js';
import { authLayout, resultScreen, takeToken, legalNote } from './auth-common.js';

export default {
  title: 'Choose a new password',
  access: 'any',
  render(main, { params, signal }) {
    const token = takeToken(params, replaceQuietly);
    if (!token) {
      main.replaceChildren(
        authLayout(
          { title: 'Reset link incomplete' },
          resultScreen({
            kind: 'error',
            title: 'This link is missing its token',
            message: 'Open the link from the email again, or request a new one.',
            testid: 'reset-error',
            actions: [h('a', { href: '/forgot', class: 'btn btn-primary' }, 'Request a new link')],
          }),
        ),
      );
      return;
    }
    const form = h(
      'form',
      { class: 'form', testid: 'reset-form' },
      formAlert(),
      field({ name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password', required: true, testid: 'reset-password', hint: 'At least 8 characters.', attrs: { minlength: '8', maxlength: '128' } }),
      field({ name: 'confirm', label: 'Repeat new password', type: 'password', autocomplete: 'new-password', required: true, testid: 'reset-confirm' }),
      h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', testid: 'reset-submit' }, 'Set new password'),
    );
    onSubmit(
      form,
      async () => {
        await post('/auth/password/reset', { token, password: form.elements.password.value }, { signal });
        if (state.me) await loadMe().catch(() => {});
        const screen = resultScreen({
          kind: 'success',
          title: 'Password updated',
          message: 'You can now sign in with your new password.',
          testid: 'reset-done',
          actions: [h('a', { href: state.me ? '/' : '/login', class: 'btn btn-primary' }, state.me ? 'Continue' : 'Sign in')],
        });
        form.replaceWith(screen);
        screen.querySelector('h2').focus();
      },
      {
        busyLabel: 'Saving\u2026',
        extraValidate: (f) => (f.elements.confirm.value && f.elements.confirm.value !== f.elements.password.value ? { confirm: 'The two passwords do not match.' } : null),
      },
    );
    main.replaceChildren(authLayout({ title: 'Choose a new password', subtitle: 'Pick something you haven\u2019t used here before.' }, form, legalNote()));
  },
};
