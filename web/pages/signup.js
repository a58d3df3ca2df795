// /signup — create an account. Honors signup_mode (open / invite / closed),
// ?invite= prefill, and solves the proof-of-work challenge in a Web Worker
// as soon as the page opens (when the instance requires it).

import { h, icon, logo, field, checkbox, formAlert, onSubmit, spinner } from '../ui.js';
import { post, ApiError } from '../api.js';
import { state, instanceName } from '../state.js';
import { solvePow } from '../pow.js';
import { authLayout, oidcButtons, resultScreen, legalNote } from './auth-common.js';

export default {
  title: 'Create account',
  access: 'guest',
  render(main, { params, signal }) {
    const mode = state.config.signup_mode;
    const invite = (params.get('invite') || '').trim();

    if (mode === 'closed') {
      main.replaceChildren(
        authLayout(
          { title: 'Signups are closed', subtitle: `${instanceName()} is not accepting new accounts right now.`, testid: 'signup-closed' },
          h('div', { class: 'callout callout-info' }, icon('lock'), h('p', {}, 'If you think you should have access, ask the administrator of this instance.')),
          h('p', { class: 'auth-alt' }, 'Already have an account? ', h('a', { href: '/login' }, 'Sign in')),
          legalNote(),
        ),
      );
      return;
    }

    // --- proof of work ------------------------------------------------------
    const powRequired = !!state.config.pow_required;
    let pow = null; // { promise, result, state }
    const powText = h('span', { class: 'pow-text' });
    const powBar = h('progress', { class: 'pow-progress', max: '100', value: 0, 'aria-label': 'Verification progress' });
    const powRetry = h('button', { type: 'button', class: 'btn btn-sm btn-secondary', hidden: true }, 'Try again');
    const powBox = h('div', { class: 'pow', role: 'status', testid: 'signup-pow', hidden: !powRequired }, h('span', { class: 'pow-icon' }), powText, powBar, powRetry);

    function setPowUi(s, progress) {
      powBox.dataset.state = s;
      const iconSlot = powBox.querySelector('.pow-icon');
      powRetry.hidden = s !== 'error';
      if (s === 'solving') {
        iconSlot.replaceChildren(spinner());
        powText.textContent = 'Verifying you\u2019re human\u2026 (local, no third party)';
      } else if (s === 'solved') {
        iconSlot.replaceChildren(icon('check'));
        powText.textContent = 'Verified \u2014 computed locally in your browser';
      } else if (s === 'error') {
        iconSlot.replaceChildren(icon('alert'));
        powText.textContent = 'Verification did not finish.';
      }
      powBar.hidden = s !== 'solving';
      if (typeof progress === 'number') powBar.value = Math.round(progress * 100);
    }
    powRetry.addEventListener('click', () => startPow());

    function startPow() {
      setPowUi('solving', 0);
      const entry = { result: null };
      entry.promise = solvePow({ signal, onProgress: (f) => setPowUi('solving', f) }).then(
        (r) => {
          entry.result = r;
          if (pow === entry) setPowUi('solved');
          return r;
        },
        (err) => {
          if (err && err.name === 'AbortError') throw err;
          console.warn('proof of work failed', err);
          if (pow === entry) setPowUi('error');
          throw err;
        },
      );
      entry.promise.catch(() => {});
      pow = entry;
    }
    if (powRequired) startPow();

    // --- form ---------------------------------------------------------------
    const needInvite = mode === 'invite';
    const termsLabel = [
      'I accept the ',
      h('a', { href: '/policies/terms', target: '_blank', rel: 'noopener' }, 'Terms of Service'),
      ' and ',
      h('a', { href: '/policies/privacy', target: '_blank', rel: 'noopener' }, 'Privacy Policy'),
    ];
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', testid: 'signup-submit' }, 'Create account');
    const form = h(
      'form',
      { class: 'form', testid: 'signup-form' },
      formAlert(),
      needInvite || invite
        ? field({
            name: 'invite',
            label: 'Invite code',
            required: needInvite,
            value: invite,
            testid: 'signup-invite',
            autocomplete: 'off',
            hint: needInvite ? 'This instance is invite-only. Paste the code or open the invite link you received.' : null,
            attrs: { spellcheck: 'false', autocapitalize: 'none' },
          })
        : null,
      field({ name: 'email', label: 'Email', type: 'email', autocomplete: 'email', required: true, testid: 'signup-email', hint: 'We\u2019ll send a link to confirm it.', attrs: { spellcheck: 'false', autocapitalize: 'none' } }),
      field({
        name: 'username',
        label: 'Username',
        autocomplete: 'username',
        required: true,
        testid: 'signup-username',
        hint: 'Your public handle: 3\u201330 letters, digits, _ or . (starting with a letter or digit).',
        attrs: { spellcheck: 'false', autocapitalize: 'none', maxlength: '30' },
      }),
      field({
        name: 'password',
        label: 'Password',
        type: 'password',
        autocomplete: 'new-password',
        required: true,
        testid: 'signup-password',
        hint: 'At least 8 characters. A few random words make a strong, memorable password.',
        attrs: { minlength: '8', maxlength: '128' },
      }),
      checkbox({ name: 'age_confirmed', label: 'I am at least 13 years old', required: true, testid: 'signup-age' }),
      checkbox({ name: 'accept_terms', label: termsLabel, required: true, testid: 'signup-terms' }),
      powBox,
      submit,
    );

    onSubmit(
      form,
      async () => {
        const body = {
          email: form.elements.email.value.trim(),
          username: form.elements.username.value.trim(),
          password: form.elements.password.value,
          age_confirmed: form.elements.age_confirmed.checked,
          accept_terms: form.elements.accept_terms.checked,
        };
        const inv = form.elements.invite ? form.elements.invite.value.trim() : '';
        if (inv) body.invite = inv;
        if (powRequired) {
          if (!pow || powBox.dataset.state === 'error') startPow();
          if (!pow.result) submit.replaceChildren(spinner(), h('span', {}, 'Finishing verification\u2026'));
          try {
            body.pow = await pow.promise;
          } catch (err) {
            if (err && err.name === 'AbortError') throw err;
            throw new ApiError(0, { detail: 'We could not complete the human check. Press \u201cTry again\u201d next to it, then submit again.' });
          } finally {
            submit.replaceChildren('Create account');
          }
        }
        submit.replaceChildren(spinner(), h('span', {}, 'Creating account\u2026'));
        try {
          const res = await post('/auth/signup', body, { signal });
          showDone(body.email, res && res.message);
        } catch (err) {
          // a challenge is single-use: get a fresh one for the next attempt
          if (powRequired && !(err && err.name === 'AbortError')) startPow();
          throw err;
        } finally {
          if (submit.isConnected) submit.replaceChildren('Create account');
        }
      },
    );

    function showDone(email, message) {
      const screen = resultScreen({
        kind: 'mail',
        title: 'Check your inbox',
        message: message || `We sent a confirmation link to ${email}. Open it to activate your account.`,
        testid: 'signup-done',
        actions: [h('a', { href: '/login', class: 'btn btn-primary' }, 'Go to sign in')],
      });
      card.replaceChildren(
        h('div', { class: 'auth-logo' }, logo(44)),
        screen,
        h('p', { class: 'auth-legal' }, 'Nothing arrived after a few minutes? Check your spam folder.'),
      );
      const h2 = screen.querySelector('h2');
      if (h2) h2.focus();
    }

    const layout = authLayout(
      {
        title: needInvite ? 'Join with your invite' : `Create your ${instanceName()} account`,
        subtitle: 'A studio for images, 3D and ideas \u2014 hosted right here.',
      },
      form,
      oidcButtons(),
      h('p', { class: 'auth-alt' }, 'Already have an account? ', h('a', { href: '/login' }, 'Sign in')),
      legalNote(),
    );
    const card = layout.querySelector('.auth-card');
    main.replaceChildren(layout);
  },
};
