// / — signed in: dashboard with the "Create" hero and the credits card; signed out: landing page.

import { h, icon, logo, timeEl, spinner } from '../ui.js';
import { get } from '../api.js';
import { state, instanceName, isAdmin } from '../state.js';
import { creditKind, signedAmount, creditIcon, creditsText } from './generate-common.js';

const FEATURES = [
  ['sparkles', 'Generate image', 'Turn a prompt into images with models running on this server.', 'feature-generate', '/generate', 'Create an image'],
  ['cube', 'Make 3D', 'Turn a picture into a printable relief, lithophane or silhouette, or a prompt into a model.', 'feature-3d', '/make-3d', 'Make a 3D model'],
  ['library', 'Library', 'Everything you make and upload, organised and searchable.', 'feature-library', '/library'],
  ['community', 'Community', 'Share work, follow makers and remix what others publish.', 'feature-community', '/community', 'Open the community'],
];

function greeting() {
  const hr = new Date().getHours();
  if (hr < 5) return 'Good night';
  if (hr < 12) return 'Good morning';
  if (hr < 18) return 'Good afternoon';
  return 'Good evening';
}

function featureCard([ic, title, text, testid, href, cta = `Open ${title.toLowerCase()}`]) {
  return h(
    'li',
    { class: 'feature-slot' },
    h(
      'a',
      { href, class: 'feature-card is-live', testid },
      h('div', { class: `feature-icon feature-icon-${testid.replace('feature-', '')}` }, icon(ic)),
      h('div', { class: 'feature-text' }, h('h3', {}, title), h('p', {}, text)),
      h('span', { class: 'feature-open' }, h('span', {}, cta), icon('arrowRight')),
    ),
  );
}

function quickLink(href, ic, title, text, testid) {
  return h('li', {}, h('a', { href, class: 'quick-link', testid }, h('span', { class: 'quick-icon' }, icon(ic)), h('span', { class: 'quick-text' }, h('strong', {}, title), h('span', {}, text)), icon('arrowRight', 'quick-arrow')));
}

const RECENT_ENTRIES = 5;

/** Balance and the latest ledger entries (GET /me/credits). */
function creditsCard(signal) {
  const balance = h('strong', { class: 'credits-balance', testid: 'credits-balance' }, '\u2014');
  const list = h('ul', { class: 'credit-list', role: 'list', testid: 'credits-entries' }, h('li', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading\u2026')));
  const el = h(
    'section',
    { class: 'credits-card', 'aria-labelledby': 'credits-h', testid: 'credits-card' },
    h(
      'div',
      { class: 'credits-head' },
      creditIcon(),
      h('div', { class: 'credits-head-text' }, h('h2', { id: 'credits-h' }, 'Credits'), h('p', { class: 'muted small' }, 'Each generated image uses some.')),
      h('p', { class: 'credits-total' }, balance, h('span', { class: 'muted small' }, ' available')),
    ),
    list,
    h('a', { href: '/generate', class: 'btn btn-secondary btn-sm credits-cta' }, icon('sparkles'), h('span', {}, 'Generate')),
  );
  get('/me/credits', { signal })
    .then((c) => {
      balance.textContent = Number(c.balance).toLocaleString();
      // A settled job books 0 (its reservation was the charge): leave those out.
      const entries = (c.entries || []).filter((e) => Number(e.amount) !== 0).slice(0, RECENT_ENTRIES);
      if (!entries.length) {
        list.replaceChildren(h('li', { class: 'credit-empty muted small' }, `You start with ${creditsText(c.balance)}. Your history appears here once you generate.`));
        return;
      }
      list.replaceChildren(
        ...entries.map((e) => {
          const [label, ic, noteSaysMore] = creditKind(e.kind);
          const amount = Number(e.amount) || 0;
          return h(
            'li',
            { class: 'credit-entry', testid: 'credit-entry', dataset: { kind: e.kind } },
            h('span', { class: 'credit-entry-icon', 'aria-hidden': 'true' }, icon(ic)),
            h('span', { class: 'credit-entry-text' }, h('span', { class: 'credit-entry-kind' }, label), h('span', { class: 'muted small' }, noteSaysMore && e.note ? [e.note, ' \u00b7 '] : null, timeEl(e.created_at))),
            h('span', { class: `credit-amount${amount > 0 ? ' is-plus' : amount < 0 ? ' is-minus' : ''}` }, signedAmount(amount)),
          );
        }),
      );
    })
    .catch((err) => {
      if (err && err.name === 'AbortError') return;
      list.replaceChildren(h('li', { class: 'credit-empty muted small' }, 'Your credits could not be loaded.'));
    });
  return el;
}

function dashboard(main, signal) {
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
        h('p', { class: 'hero-sub' }, `Your studio on ${instanceName()}: turn prompts into images with models running right here, turn pictures into printable 3D models, keep everything in your private library, and share what you like.`),
        h('div', { class: 'hero-actions' }, h('a', { href: '/generate', class: 'btn btn-primary btn-lg', testid: 'hero-generate' }, icon('sparkles'), h('span', {}, 'Start generating'))),
      ),
      h('h2', { class: 'section-title' }, 'Create'),
      h('ul', { class: 'feature-grid', role: 'list' }, FEATURES.map(featureCard)),
      h('h2', { class: 'section-title' }, 'Your account'),
      h(
        'div',
        { class: 'account-grid' },
        h(
          'ul',
          { class: 'quick-grid quick-grid-stack', role: 'list' },
          quickLink('/settings/profile', 'user', 'Profile', 'Name, bio and links', 'quick-profile'),
          quickLink('/settings/security', 'shield', 'Security', 'Sessions, password, email', 'quick-security'),
          quickLink('/settings/tokens', 'key', 'API tokens', 'Automate with the API', 'quick-tokens'),
          quickLink('/settings/privacy', 'lock', 'Privacy', 'Your data, choices and account', 'quick-privacy'),
        ),
        creditsCard(signal),
      ),
      isAdmin()
        ? [
            h('h2', { class: 'section-title' }, 'Administration'),
            h(
              'ul',
              { class: 'quick-grid quick-grid-5', role: 'list' },
              quickLink('/admin/users', 'community', 'Users', 'Roles, access, credits', 'quick-admin-users'),
              quickLink('/admin/models', 'cpu', 'Models', 'Image models & queue', 'quick-admin-models'),
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
        h('li', { class: 'pill-card' }, icon('sparkles'), h('div', {}, h('h2', {}, 'Images, then 3D'), h('p', {}, 'Generate images with models that run on this server, then turn them into printable 3D models.'))),
        h('li', { class: 'pill-card' }, icon('key'), h('div', {}, h('h2', {}, 'Built for makers'), h('p', {}, 'A clean API with scoped tokens for scripts and integrations.'))),
      ),
    ),
  );
}

export default {
  title: () => (state.me ? 'Home' : 'Welcome'),
  access: 'any',
  render(main, { signal }) {
    if (state.me) dashboard(main, signal);
    else landing(main);
  },
};
