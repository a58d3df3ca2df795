// /forgot — request a password reset email.

import { h, field, formAlert, onSubmit } from '../ui.js';
import { post } from '../api.js';
import { state } from '../state.js';
import { authLayout, resultScreen, legalNote } from './auth-common.js';

export default {
  title: 'Reset your password',
  access: 'any',
  render(main, { signal }) {
    const form = h(
      'form',
      { class: 'form', testid: 'forgot-form' },
      formAlert(),
      field({ name: 'email', label: 'Email', type: 'email', autocomplete: 'email', required: true, testid: 'forgot-email', value: state.me ? state.me.email : null }),
      h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', testid: 'forgot-submit' }, 'Send reset link'),
    );
    const layout = authLayout(
      { title: 'Forgot your password?', subtitle: 'Enter the email of your account and we\u2019ll send you a link to choose a new one.' },
      form,
      h('p', { class: 'auth-alt' }, 'Remembered it? ', h('a', { href: '/login' }, 'Back to sign in')),
      legalNote(),
    );
    onSubmit(
      form,
      async () => {
        const email = form.elements.email.value.trim();
        const res = await post('/auth/password/forgot', { email }, { signal });
        const screen = resultScreen({
          kind: 'mail',
          title: 'Check your inbox',
          message: (res && res.message) || `If an account exists for ${email}, a reset link is on its way.`,
          testid: 'forgot-done',
          actions: [h('a', { href: '/login', class: 'btn btn-secondary' }, 'Back to sign in')],
        });
        form.replaceWith(screen);
        screen.querySelector('h2').focus();
      },
      { busyLabel: 'Sending\u2026' },
    );
    main.replaceChildren(layout);
  },
};
