// / — signed in: dashboard with the "Create" hero; signed out: landing page.

import { h, icon, logo } from '../ui.js';
import { state, instanceName, isAdmin } from '../state.js';

const FEATURES = [
  ['sparkles', 'Generate image', 'Turn a prompt into images with models running on this server.', 'feature-generate'],
  ['cube', 'Make 3D', 'Create textured 3D models from text or a picture.', 'feature-3d'],
  ['library', 'Library', 'Everything you make and upload, organised and searchable.', 'feature-library', '/library'],
  ['community', 'Community', 'Share work and remix what others publish.', 'feature-community'],
];

function greeting() {
  const hr = new Date().getHours();
  if (hr < 5) return 'Good night';
  if (hr < 12) return 'Good morning';
  if (hr < 18) return 'Good afternoon';
  return 'Good evening';
}

function featureCard([ic, title, text, testid, href]) {
  if (href) {
    return h(
      'li',
      { class: 'feature-slot' },
      h(
        'a',
        { href, class: 'feature-card is-live', testid },
        h('div', { class: `feature-icon feature-icon-${testid.replace('feature-', '')}` }, icon(ic)),
        h('div', { class: 'feature-text' }, h('h3', {}, title), h('p', {}, text)),
        h('span', { class: 'feature-open' }, h('span', {}, `Open ${title.toLowerCase()}`), icon('arrowRight')),
      ),
    );
  }
  return h(
    'li',
    { class: 'feature-card is-soon', 'aria-disabled': 'true', testid },
    h('div', { class: `feature-icon feature-icon-${testid.replace('feature-', '')}` }, icon(ic)),
    h('div', { class: 'feature-text' }, h('h3', {}, title), h('p', {}, text)),
    h('span', { class: 'badge badge-soon' }, 'Coming soon'),
  );
}

function quickLink(href, ic, title, text, testid) {
  return h('li', {}, h('a', { href, class: 'quick-link', testid }, h('span', { class: 'quick-icon' }, icon(ic)), h('span', { class: 'quick-text' }, h('strong', {}, title), h('span', {}, text)), icon('arrowRight', 'quick-arrow')));
}

function dashboard(main) {
  const me = state.me;
  const name = me.display_name || me.username;
  main.replaceChildren(
    h(
      'div',
      { class: 'page page-wide', testid: 'dashboard' },
      h(
        'section',
        { class: 'hero', 'aria-labelledby': 'hero-title' },
        h('div', { class: 'hero-art', 'aria-hidden': 'true' }, h('span', { class: 'orb orb-1' }), h('span', { class: 'orb orb-2' }), h('span', { class: 'orb orb-3' })),
        h('p', { class: 'eyebrow' }, `${greeting()}, ${name}`),
        h('h1', { id: 'hero-title', tabindex: '-1' }, 'What will you ', h('span', { class: 'gradient-text' }, 'create'), ' today?'),
        h('p', { class: 'hero-sub' }, `Your studio on ${instanceName()} is getting ready. Your library is open for uploads; image and 3D generation are on their way.`),
      ),
      h('h2', { class: 'section-title' }, 'Create'),
      h('ul', { class: 'feature-grid', role: 'list' }, FEATURES.map(featureCard)),
      h('h2', { class: 'section-title' }, 'Your account'),
      h(
        'ul',
        { class: 'quick-grid', role: 'list' },
        quickLink('/settings/profile', 'user', 'Profile', 'Name, bio and links', 'quick-profile'),
        quickLink('/settings/security', 'shield', 'Security', 'Sessions, password, email', 'quick-security'),
        quickLink('/settings/tokens', 'key', 'API tokens', 'Automate with the API', 'quick-tokens'),
      ),
      isAdmin()
        ? [
            h('h2', { class: 'section-title' }, 'Administration'),
            h(
              'ul',
              { class: 'quick-grid quick-grid-4', role: 'list' },
              quickLink('/admin/users', 'community', 'Users', 'Roles and access', 'quick-admin-users'),
              quickLink('/admin/invites', 'ticket', 'Invites', 'Invite people in', 'quick-admin-invites'),
              quickLink('/admin/settings', 'sliders', 'Settings', 'Signups & bot checks', 'quick-admin-settings'),
              quickLink('/admin/mail', 'mail', 'Mail', 'Outbox & test mail', 'quick-admin-mail'),
            ),
          ]
        : null,
    ),
  );
}

function landing(main) {
  const mode = state.config.signup_mode;
  main.replaceChildren(
    h(
      'div',
      { class: 'landing', testid: 'landing' },
      h(
        'section',
        { class: 'landing-hero', 'aria-labelledby': 'landing-title' },
        h('div', { class: 'hero-art', 'aria-hidden': 'true' }, h('span', { class: 'orb orb-1' }), h('span', { class: 'orb orb-2' }), h('span', { class: 'orb orb-3' })),
        h('div', { class: 'landing-logo' }, logo(56)),
        h('p', { class: 'eyebrow' }, instanceName() === 'StrataMake' ? 'Self-hosted creative studio' : `${instanceName()} \u00b7 powered by StrataMake`),
        h('h1', { id: 'landing-title', tabindex: '-1' }, 'Imagine in ', h('span', { class: 'gradient-text' }, 'layers'), '.'),
        h('p', { class: 'hero-sub' }, 'StrataMake is an AI studio for images and 3D that runs on your own server. Your prompts, your models, your community.'),
        h(
          'div',
          { class: 'hero-actions' },
          mode !== 'closed' ? h('a', { href: '/signup', class: 'btn btn-primary btn-lg', testid: 'landing-signup' }, mode === 'invite' ? 'Join with an invite' : 'Create account') : null,
          h('a', { href: '/login', class: `btn ${mode === 'closed' ? 'btn-primary' : 'btn-secondary'} btn-lg`, testid: 'landing-signin' }, 'Sign in'),
        ),
        mode === 'closed' ? h('p', { class: 'muted small' }, 'New signups are currently closed on this instance.') : null,
      ),
      h(
        'ul',
        { class: 'pill-grid', role: 'list' },
        h('li', { class: 'pill-card' }, icon('lock'), h('div', {}, h('h2', {}, 'Private by design'), h('p', {}, 'Everything lives on this server. No third-party trackers, fonts or captchas.'))),
        h('li', { class: 'pill-card' }, icon('cube'), h('div', {}, h('h2', {}, 'Images and 3D'), h('p', {}, 'Generation tools are arriving soon \u2014 create your account now.'))),
        h('li', { class: 'pill-card' }, icon('key'), h('div', {}, h('h2', {}, 'Built for makers'), h('p', {}, 'A clean API with scoped tokens for scripts and integrations.'))),
      ),
    ),
  );
}

export default {
  title: () => (state.me ? 'Home' : 'Welcome'),
  access: 'any',
  render(main) {
    if (state.me) dashboard(main);
    else landing(main);
  },
};
