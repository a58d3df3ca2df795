// /account/restore?token=… — the link in the "your account will be deleted" mail.
// Says what is pending and offers "Keep my account" (POST /me/delete/cancel {token});
// then the account is back as it was and its owner signs in again.

import { h, icon, spinner } from '../ui.js';
import { post } from '../api.js';
import { state } from '../state.js';
import { replaceQuietly } from '../router.js';
import { authLayout, resultScreen, takeToken } from './auth-common.js';

// The token leaves the address bar at once; a re-render of this page still has it.
let kept = null;

export default {
  title: 'Keep your account',
  access: 'any',
  render(main, { params }) {
    const token = takeToken(params, replaceQuietly) || kept;
    kept = token;
    const body = h('div', { class: 'restore-body' });
    main.replaceChildren(authLayout({ title: 'Keep your account?', subtitle: 'Your account is scheduled for deletion. Until the date in our mail, you can change your mind.', testid: 'restore-page' }, body));

    const signInLink = () => h('a', { href: '/login', class: 'btn btn-primary', testid: 'restore-signin' }, 'Sign in');

    if (!token) {
      body.replaceChildren(
        resultScreen({
          kind: 'error',
          title: 'This link is incomplete',
          message: 'The link is missing its token. Open it from the mail again, or sign in with your password and choose \u201cKeep my account\u201d.',
          testid: 'restore-error',
          actions: [signInLink()],
        }),
      );
      return;
    }

    const keep = h('button', { type: 'button', class: 'btn btn-primary btn-lg btn-block', testid: 'restore-keep' }, icon('refresh'), h('span', {}, 'Keep my account'));
    keep.addEventListener('click', async () => {
      keep.disabled = true;
      keep.replaceChildren(spinner(), h('span', {}, 'Keeping your account\u2026'));
      try {
        const res = await post('/me/delete/cancel', { token });
        kept = null;
        main.replaceChildren(
          authLayout(
            { title: `Welcome back${res && res.username ? `, @${res.username}` : ''}`, testid: 'restore-page' },
            resultScreen({
              kind: 'success',
              title: 'Your account is kept',
              message: 'Everything is as it was, and what you shared is shown again. Sign in again on your devices to continue.',
              testid: 'restore-done',
              actions: [state.me ? h('a', { href: '/', class: 'btn btn-primary' }, 'Back to home') : signInLink()],
            }),
          ),
        );
        main.querySelector('h1').focus();
      } catch (err) {
        body.replaceChildren(
          resultScreen({
            kind: 'error',
            title: 'We could not keep this account',
            message: (err && err.detail) || 'The link is not valid any more: the account may already be deleted, or kept.',
            testid: 'restore-error',
            actions: [signInLink()],
          }),
        );
        body.querySelector('h2').focus();
      }
    });

    body.replaceChildren(
      h(
        'ul',
        { class: 'restore-facts', role: 'list' },
        h('li', {}, icon('check'), h('span', {}, 'Your library, posts, generations and settings come back as they were.')),
        h('li', {}, icon('check'), h('span', {}, 'What you shared is shown again.')),
        h('li', {}, icon('lock'), h('span', {}, 'You were signed out everywhere; sign in again afterwards.')),
      ),
      keep,
      h('p', { class: 'auth-alt' }, 'Want it gone after all? Do nothing: the account is deleted on the date in the mail.'),
    );
  },
};
