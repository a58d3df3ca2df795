// /settings/security — active sessions (revoke, sign out everywhere), change password, change email.

import { h, icon, field, formAlert, onSubmit, pageHeader, card, badge, timeEl, toast, toastError, spinner, emptyState, showLoadError, confirmAction } from '../ui.js';
import { get, post, del } from '../api.js';
import { state, setMe } from '../state.js';
import { navigate } from '../router.js';
import { settingsTabs } from './nav-tabs.js';

function deviceIcon(s) {
  const d = `${s.device || ''} ${s.os || ''}`.toLowerCase();
  return /phone|mobile|android|ios|iphone|ipad|tablet/.test(d) ? 'phone' : 'monitor';
}

function sessionTitle(s) {
  const browser = s.browser || 'Unknown browser';
  const os = s.os ? ` on ${s.os}` : '';
  return `${browser}${os}`;
}

function sessionsCard(signal) {
  let reload = () => {};
  const list = h('ul', { class: 'session-list', role: 'list', testid: 'session-list' });
  const body = h('div', {}, h('div', { class: 'loading-block' }, spinner('Loading sessions'), h('p', {}, 'Loading sessions\u2026')));

  const signOutAll = confirmAction(
    h('button', { type: 'button', class: 'btn btn-danger-soft btn-sm', testid: 'signout-all' }, icon('logout'), h('span', {}, 'Sign out everywhere')),
    {
      title: 'Sign out everywhere?',
      body: 'Every device signed in to your account, including this one, will be signed out.',
      confirmLabel: 'Sign out everywhere',
    },
    async () => {
      await post('/auth/logout', { all: true }, { redirect: false });
      setMe(null);
      toast('Signed out on all devices', 'success');
      navigate('/login');
    },
    'Could not sign out everywhere',
  );

  function row(s) {
    const current = !!s.current;
    const title = sessionTitle(s);
    const meta = [s.place, s.ip].filter(Boolean).join(' \u00b7 ');
    const li = h(
      'li',
      { class: `session ${current ? 'is-current' : ''}`.trim(), testid: 'session-row', dataset: { current: String(current), sessionId: String(s.id) } },
      h('div', { class: 'session-icon' }, icon(deviceIcon(s))),
      h(
        'div',
        { class: 'session-main' },
        h('p', { class: 'session-title' }, title, s.device && !/^(other|desktop|unknown)$/i.test(s.device) ? h('span', { class: 'muted' }, ` \u00b7 ${s.device}`) : null, current ? badge('This device', 'success', { testid: 'session-current' }) : null),
        h('p', { class: 'session-meta' }, meta || 'Location unknown'),
        h('p', { class: 'session-meta' }, h('span', { class: 'nowrap' }, 'Last active ', timeEl(s.last_used_at, 'unknown')), ' \u00b7 ', h('span', { class: 'nowrap' }, 'signed in ', timeEl(s.created_at, 'unknown'))),
      ),
    );
    if (!current) {
      const btn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'session-revoke', 'aria-label': `Revoke session: ${title}${meta ? `, ${meta}` : ''}` }, 'Revoke');
      btn.addEventListener('click', async () => {
        btn.disabled = true;
        btn.replaceChildren(spinner(), h('span', {}, 'Revoking\u2026'));
        try {
          await del(`/me/sessions/${encodeURIComponent(s.id)}`);
          const next = li.nextElementSibling || li.previousElementSibling;
          li.remove();
          toast(`Signed out ${title}`, 'success');
          if (next) {
            const b = next.querySelector('button');
            if (b) b.focus();
          } else signOutAll.focus();
          if (!list.children.length) load();
        } catch (err) {
          btn.disabled = false;
          btn.replaceChildren('Revoke');
          toastError(err, 'Could not revoke that session');
        }
      });
      li.appendChild(h('div', { class: 'session-actions' }, btn));
    }
    return li;
  }

  async function load() {
    try {
      const res = await get('/me/sessions', { signal });
      const items = (res && res.items) || [];
      items.sort((a, b) => (b.current ? 1 : 0) - (a.current ? 1 : 0) || (b.last_used_at || 0) - (a.last_used_at || 0));
      list.replaceChildren(...items.map(row));
      body.replaceChildren(items.length ? list : emptyState('monitor', 'No active sessions'));
    } catch (err) {
      showLoadError(body, err, load);
    }
  }
  load();
  reload = load;

  const el = card({ title: 'Where you\u2019re signed in', description: 'Revoke any session you don\u2019t recognise. Revoked devices have to sign in again.', actions: signOutAll, testid: 'sessions-card' }, body);
  return { el, reload: () => reload() };
}

function passwordCard(signal, onChanged) {
  if (state.me.has_password === false) {
    return card(
      { title: 'Add a password', description: 'You sign in with an external provider.' },
      h(
        'div',
        { class: 'callout callout-info' },
        icon('info'),
        h('div', {}, h('p', {}, 'To also sign in with a password, request a password link by email and choose one there.'), h('a', { href: '/forgot', class: 'btn btn-secondary btn-sm' }, 'Email me a link')),
      ),
    );
  }
  const form = h(
    'form',
    { class: 'form', testid: 'password-form' },
    formAlert(),
    field({ name: 'current_password', label: 'Current password', type: 'password', autocomplete: 'current-password', required: true, testid: 'password-current' }),
    field({ name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password', required: true, testid: 'password-new', hint: 'At least 8 characters.', attrs: { minlength: '8', maxlength: '128' } }),
    field({ name: 'confirm_password', label: 'Repeat new password', type: 'password', autocomplete: 'new-password', required: true, testid: 'password-confirm' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'password-submit' }, 'Change password')),
  );
  onSubmit(
    form,
    async () => {
      await post('/me/password', { current_password: form.elements.current_password.value, new_password: form.elements.new_password.value }, { signal });
      form.reset();
      toast('Password changed. Your other devices were signed out.', 'success');
      onChanged();
    },
    {
      busyLabel: 'Saving\u2026',
      extraValidate: (f) => (f.elements.confirm_password.value && f.elements.confirm_password.value !== f.elements.new_password.value ? { confirm_password: 'The two passwords do not match.' } : null),
    },
  );
  return card({ title: 'Change password', description: 'Changing it signs out your other devices.' }, form);
}

function emailCard(signal) {
  const me = state.me;
  const hasPw = me.has_password !== false;
  const status = h('div', { class: 'form-status', role: 'status' });
  const form = h(
    'form',
    { class: 'form', testid: 'email-form' },
    formAlert(),
    h('p', { class: 'current-email' }, h('span', {}, 'Current address:'), h('strong', { class: 'truncate', title: me.email }, me.email), me.email_verified ? badge('Verified', 'success') : badge('Unverified', 'warning')),
    field({ name: 'new_email', label: 'New email', type: 'email', autocomplete: 'email', required: true, testid: 'email-new', attrs: { spellcheck: 'false', autocapitalize: 'none' } }),
    field({ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password', required: true, testid: 'email-password', hint: 'To confirm it\u2019s really you.' }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'email-submit', disabled: !hasPw }, 'Change email')),
    status,
  );
  if (!hasPw) form.prepend(h('div', { class: 'callout callout-info' }, icon('info'), h('p', {}, 'Set a password first; it is needed to confirm an email change.')));
  onSubmit(
    form,
    async () => {
      const newEmail = form.elements.new_email.value.trim();
      let res;
      try {
        res = await post('/me/email', { password: form.elements.password.value, new_email: newEmail }, { signal });
      } catch (err) {
        // the server names the re-authentication field current_password
        if (err && err.errors && err.errors.current_password && !err.errors.password) {
          err.errors.password = err.errors.current_password;
          delete err.errors.current_password;
        }
        throw err;
      }
      form.reset();
      const msg = (res && res.message) || `We sent a confirmation link to ${newEmail}. Your address changes once you open it.`;
      status.replaceChildren(h('div', { class: 'callout callout-success', testid: 'email-done' }, icon('mail'), h('p', {}, msg)));
    },
    { busyLabel: 'Sending\u2026' },
  );
  return card({ title: 'Change email', description: 'We\u2019ll confirm the new address before switching.' }, form);
}

export default {
  title: 'Security',
  access: 'user',
  render(main, { signal }) {
    const sessions = sessionsCard(signal);
    main.replaceChildren(
      h(
        'div',
        { class: 'page' },
        pageHeader('Settings', 'Keep your account safe.'),
        settingsTabs('/settings/security'),
        h('div', { class: 'stack' }, sessions.el, h('div', { class: 'grid-2 grid-top' }, passwordCard(signal, sessions.reload), emailCard(signal))),
      ),
    );
  },
};
