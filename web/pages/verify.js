// /verify?token=… — confirms an email address as soon as the page opens.

import { h, spinner } from '../ui.js';
import { post } from '../api.js';
import { state, loadMe } from '../state.js';
import { replaceQuietly } from '../router.js';
import { authLayout, resultScreen, takeToken } from './auth-common.js';

// token -> promise, so a re-render never submits the same one-time token twice
const attempts = new Map();

export default {
  title: 'Verify email',
  access: 'any',
  async render(main, { params }) {
    const token = takeToken(params, replaceQuietly);
    const body = h('div', { class: 'verify-body' });
    main.replaceChildren(authLayout({ title: 'Email verification' }, body));

    if (!token) {
      body.replaceChildren(
        resultScreen({
          kind: 'error',
          title: 'This link is incomplete',
          message: 'The verification link is missing its token. Open the link from the email again, or copy the whole address into your browser.',
          testid: 'verify-error',
          actions: [h('a', { href: state.me ? '/' : '/login', class: 'btn btn-secondary' }, state.me ? 'Back to home' : 'Sign in')],
        }),
      );
      return;
    }

    body.replaceChildren(h('div', { class: 'loading-block', testid: 'verify-pending' }, spinner('Verifying'), h('p', {}, 'Confirming your email address\u2026')));

    if (!attempts.has(token)) attempts.set(token, post('/auth/verify-email', { token }));
    let res;
    try {
      res = await attempts.get(token);
    } catch (err) {
      attempts.delete(token);
      const actions = [];
      if (state.me && !state.me.email_verified) {
        const resend = h('button', { type: 'button', class: 'btn btn-primary', testid: 'verify-resend-again' }, 'Send a new link');
        resend.addEventListener('click', async () => {
          resend.disabled = true;
          try {
            await post('/auth/verify-email/resend', {});
            resend.textContent = 'Sent \u2014 check your inbox';
          } catch {
            resend.disabled = false;
            resend.textContent = 'Could not send, try again';
          }
        });
        actions.push(resend);
      } else {
        actions.push(h('a', { href: state.me ? '/' : '/login', class: 'btn btn-secondary' }, state.me ? 'Back to home' : 'Sign in'));
      }
      body.replaceChildren(
        resultScreen({
          kind: 'error',
          title: 'We could not verify this link',
          message: (err && err.detail) || 'The link is invalid or has expired. Sign in to request a new one.',
          testid: 'verify-error',
          actions,
        }),
      );
      return;
    }

    if (state.me) await loadMe().catch(() => {});
    body.replaceChildren(
      resultScreen({
        kind: 'success',
        title: 'Email verified',
        message: (res && res.message) || 'Thanks! Your email address is confirmed.',
        testid: 'verify-success',
        actions: [
          state.me
            ? h('a', { href: '/', class: 'btn btn-primary', testid: 'verify-continue' }, 'Continue')
            : h('a', { href: '/login', class: 'btn btn-primary', testid: 'verify-signin' }, 'Sign in'),
        ],
      }),
    );
  },
};
