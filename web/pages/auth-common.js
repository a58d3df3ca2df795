// Shared layout pieces for the signed-out flows (login, signup, verify, forgot, reset, setup).

import { h, icon, logo } from '../ui.js';
import { state, instanceName } from '../state.js';

/** Centered card with the logo on top. `body` nodes go inside the card. */
export function authLayout({ title, subtitle, testid, wide = false }, ...body) {
  return h(
    'div',
    { class: 'auth-page' },
    h('div', { class: 'auth-glow', 'aria-hidden': 'true' }),
    h(
      'div',
      { class: `auth-card ${wide ? 'auth-card-wide' : ''}`.trim(), testid },
      h('div', { class: 'auth-logo' }, logo(44)),
      h('h1', { tabindex: '-1' }, title),
      subtitle ? h('p', { class: 'auth-subtitle' }, subtitle) : null,
      body,
    ),
  );
}

/** "Continue with X" links for configured OIDC providers (plain links: the server redirects). */
export function oidcButtons() {
  const providers = state.config.oidc_providers || [];
  if (!providers.length) return null;
  return h(
    'div',
    { class: 'oidc' },
    h('div', { class: 'divider', role: 'separator' }, h('span', {}, 'or')),
    providers.map((p) =>
      h(
        'a',
        {
          class: 'btn btn-secondary btn-block',
          href: `/api/v1/auth/oidc/${encodeURIComponent(p.id)}/start`,
          testid: `oidc-${p.id}`,
        },
        icon('globe'),
        h('span', {}, `Continue with ${p.name || p.id}`),
      ),
    ),
  );
}

/** Message screen (success / error) used after a flow completes. */
export function resultScreen({ kind = 'success', title, message, testid, actions = [] }) {
  return h(
    'div',
    { class: `result result-${kind}`, testid, role: kind === 'error' ? 'alert' : 'status' },
    h('div', { class: 'result-icon' }, icon(kind === 'error' ? 'alert' : kind === 'mail' ? 'mail' : 'check')),
    h('h2', { tabindex: '-1' }, title),
    message ? h('p', { class: 'muted' }, message) : null,
    actions.length ? h('div', { class: 'result-actions' }, actions) : null,
  );
}

export function legalNote() {
  return h('p', { class: 'auth-legal' }, `${instanceName()} · `, h('a', { href: '/policies/terms' }, 'Terms'), ' · ', h('a', { href: '/policies/privacy' }, 'Privacy'));
}

/** Read a one-time token from the query string and drop it from the address bar/history. */
export function takeToken(params, replaceQuietly) {
  const token = params.get('token');
  if (token) {
    const u = new URL(location.href);
    u.searchParams.delete('token');
    replaceQuietly(u.pathname + u.search + u.hash);
  }
  return token;
}
