// Entry point: builds the app shell (sidebar, top bar, banner, footer),
// loads config + current user, and renders pages chosen by the router.

import { get, post, onAuthLost } from './api.js';
import { state, subscribe, loadConfig, loadMe, setMe, isAdmin, isModerator, instanceName } from './state.js';
import { startRouter, resolve, navigate, safeNext, currentKey } from './router.js';
import { h, icon, logo, avatar, toast, toastError, spinner, startClock, errorBox, menuButton } from './ui.js';
import { themeToggle } from './theme.js';
import { resumeWatching, stopWatching, onGenerations, activeGenerations } from './generations.js';
import { watchUnread, refreshUnread, onUnread } from './unread.js';

const root = document.getElementById('app');

// ---------------------------------------------------------------------------
// Shell
// ---------------------------------------------------------------------------

const sidebar = h('aside', { class: 'sidebar', id: 'sidebar', 'aria-label': 'Sidebar' });
const topbar = h('header', { class: 'topbar' });
const bannerSlot = h('div', { class: 'banner-slot' });
const main = h('main', { id: 'main', class: 'content', tabindex: '-1' });
const footer = h('footer', { class: 'footer' });
const scrim = h('div', { class: 'scrim', 'aria-hidden': 'true' });
scrim.addEventListener('click', () => setDrawer(false));

let menuBtn = null;

function setDrawer(open) {
  root.classList.toggle('nav-open', open);
  if (menuBtn) menuBtn.setAttribute('aria-expanded', String(open));
  if (open) {
    const first = sidebar.querySelector('a,button');
    if (first) first.focus();
  }
}

document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && root.classList.contains('nav-open')) {
    setDrawer(false);
    if (menuBtn) menuBtn.focus();
  }
});

function navLink(href, text, ic, testid, extra = null) {
  return h('a', { href, class: 'nav-link', testid, dataset: { nav: href } }, icon(ic), h('span', {}, text), extra);
}

// Posts, profiles and search belong to the community section.
function communityLink() {
  const a = navLink('/community', 'Community', 'community', 'nav-community');
  a.dataset.navAlso = '/p/ /u/ /search';
  return a;
}

// "Generate" shows how many of the user's jobs are queued or running (followed by generations.js).
const genCount = h('span', { class: 'nav-count', testid: 'nav-generate-count', hidden: true });
function syncGenCount() {
  const n = activeGenerations().filter((g) => g.status === 'queued' || g.status === 'running').length;
  genCount.hidden = n === 0;
  genCount.textContent = n ? String(n) : '';
  genCount.setAttribute('aria-label', `${n} ${n === 1 ? 'generation' : 'generations'} in progress`);
}
onGenerations(syncGenCount);

// The bell: unread community notifications (counted by unread.js).
const bellCount = h('span', { class: 'bell-count', testid: 'notifications-badge', hidden: true });
const bellLabel = h('span', { class: 'visually-hidden' }, 'Notifications');
const bell = h('a', { href: '/notifications', class: 'icon-btn bell', testid: 'nav-notifications', title: 'Notifications', dataset: { nav: '/notifications' } }, icon('bell'), bellLabel, bellCount);
const bellLive = h('span', { class: 'visually-hidden', 'aria-live': 'polite', testid: 'notifications-live' });
let bellShown = 0;
onUnread((n) => {
  bellCount.hidden = n === 0;
  bellCount.textContent = n > 99 ? '99+' : String(n);
  bellLabel.textContent = n ? `Notifications, ${n} unread` : 'Notifications';
  bell.classList.toggle('has-unread', n > 0);
  // Announce new ones (not the count going down as they are read).
  if (n > bellShown) bellLive.textContent = `${n} unread ${n === 1 ? 'notification' : 'notifications'}`;
  bellShown = n;
});

function brand() {
  return h(
    'a',
    { href: '/', class: 'brand', 'aria-label': `${instanceName()} home` },
    logo(30),
    h('span', { class: 'brand-text' }, h('span', { class: 'brand-name' }, 'StrataMake'), instanceName() !== 'StrataMake' ? h('span', { class: 'brand-sub' }, instanceName()) : null),
  );
}

function renderSidebar() {
  if (!state.me) {
    sidebar.hidden = true;
    sidebar.replaceChildren();
    return;
  }
  sidebar.hidden = false;
  const sections = [
    h(
      'nav',
      { class: 'nav', 'aria-label': 'Main' },
      h(
        'ul',
        { role: 'list' },
        h('li', {}, navLink('/', 'Home', 'home', 'nav-home')),
        h('li', {}, navLink('/generate', 'Generate', 'sparkles', 'nav-generate', genCount)),
        h('li', {}, navLink('/library', 'Library', 'library', 'nav-library')),
        h('li', {}, communityLink()),
      ),
    ),
    h(
      'nav',
      { class: 'nav', 'aria-labelledby': 'nav-h-account' },
      h('h2', { class: 'nav-heading', id: 'nav-h-account' }, 'Account'),
      h(
        'ul',
        { role: 'list' },
        h('li', {}, navLink('/settings/profile', 'Profile', 'user', 'nav-profile')),
        h('li', {}, navLink('/settings/security', 'Security', 'shield', 'nav-security')),
        h('li', {}, navLink('/settings/tokens', 'API tokens', 'key', 'nav-tokens')),
        h('li', {}, navLink('/settings/privacy', 'Privacy', 'lock', 'nav-privacy')),
      ),
    ),
  ];
  if (isAdmin()) {
    sections.push(
      h(
        'nav',
        { class: 'nav', 'aria-labelledby': 'nav-h-admin', testid: 'nav-admin' },
        h('h2', { class: 'nav-heading', id: 'nav-h-admin' }, 'Admin'),
        h(
          'ul',
          { role: 'list' },
          h('li', {}, navLink('/admin/users', 'Users', 'community', 'nav-admin-users')),
          h('li', {}, navLink('/admin/models', 'Models', 'cpu', 'nav-admin-models')),
          h('li', {}, navLink('/admin/invites', 'Invites', 'ticket', 'nav-admin-invites')),
          h('li', {}, navLink('/admin/settings', 'Instance settings', 'sliders', 'nav-admin-settings')),
          h('li', {}, navLink('/admin/mail', 'Mail', 'mail', 'nav-admin-mail')),
          h('li', {}, navLink('/admin/audit', 'Audit log', 'list', 'nav-admin-audit')),
          h('li', {}, navLink('/admin/privacy', 'Privacy', 'lock', 'nav-admin-privacy')),
          h('li', {}, navLink('/admin/analytics', 'Analytics', 'chart', 'nav-admin-analytics')),
          h('li', {}, navLink('/moderation', 'Moderation', 'flag', 'nav-moderation')),
        ),
      ),
    );
  } else if (isModerator()) {
    sections.push(
      h(
        'nav',
        { class: 'nav', 'aria-labelledby': 'nav-h-moderation' },
        h('h2', { class: 'nav-heading', id: 'nav-h-moderation' }, 'Moderation'),
        h('ul', { role: 'list' }, h('li', {}, navLink('/moderation', 'Reports', 'flag', 'nav-moderation'))),
      ),
    );
  }
  // The <aside> stretches over the whole grid row (so its background and border
  // always reach the bottom of the page); the inner column sticks to the viewport.
  sidebar.replaceChildren(
    h(
      'div',
      { class: 'sidebar-inner' },
      h('div', { class: 'sidebar-top' }, brand()),
      h('div', { class: 'sidebar-scroll' }, sections),
    ),
  );
  markActive();
}

sidebar.addEventListener('click', (ev) => {
  if (ev.target instanceof Element && ev.target.closest('a')) setDrawer(false);
});

function markActive() {
  const p = location.pathname.replace(/\/+$/, '') || '/';
  for (const a of document.querySelectorAll('.sidebar a[data-nav], .topbar a[data-nav]')) {
    const nav = a.dataset.nav;
    const also = (a.dataset.navAlso || '').split(' ').filter(Boolean);
    // Sub-pages (e.g. /library/{id}) keep their section highlighted.
    if (nav === p || (nav !== '/' && p.startsWith(`${nav}/`)) || also.some((x) => p === x || p.startsWith(x))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// --- user menu ---------------------------------------------------------------

function userMenu(me) {
  const btn = h(
    'button',
    { type: 'button', class: 'user-btn', testid: 'user-menu' },
    avatar(me, 'sm'),
    h('span', { class: 'user-btn-name', title: me.display_name || me.username }, me.display_name || me.username),
    icon('chevronDown', 'chev'),
  );
  btn.setAttribute('aria-label', `Account menu for ${me.username}`);
  const signOutBtn = h('button', { type: 'button', class: 'menu-item menu-item-danger', testid: 'signout' }, icon('logout'), h('span', {}, 'Sign out'));
  signOutBtn.addEventListener('click', () => signOut(false));
  return menuButton(
    btn,
    [
      h('a', { href: `/u/${encodeURIComponent(me.username)}`, class: 'menu-item', testid: 'menu-public-profile' }, icon('globe'), h('span', {}, 'Public profile')),
      h('a', { href: '/settings/profile', class: 'menu-item' }, icon('user'), h('span', {}, 'Profile')),
      h('a', { href: '/settings/security', class: 'menu-item' }, icon('shield'), h('span', {}, 'Security')),
      h('a', { href: '/settings/tokens', class: 'menu-item' }, icon('key'), h('span', {}, 'API tokens')),
      h('a', { href: '/settings/privacy', class: 'menu-item', testid: 'menu-privacy' }, icon('lock'), h('span', {}, 'Privacy')),
      h('div', { class: 'menu-sep', role: 'separator' }),
      signOutBtn,
    ],
    {
      id: 'user-menu-list',
      label: 'Account',
      head: h('div', { class: 'menu-head', role: 'presentation' }, h('p', { class: 'menu-name', title: me.display_name || me.username }, me.display_name || me.username), h('p', { class: 'menu-email', title: me.email }, me.email)),
    },
  );
}

export async function signOut(all) {
  try {
    await post('/auth/logout', { all: !!all }, { redirect: false });
  } catch (err) {
    // Even if the server call fails we drop local state; cookies may already be gone.
    if (err && err.status && err.status !== 401) toastError(err, 'Sign-out request failed');
  }
  setMe(null);
  toast(all ? 'Signed out on all devices' : 'You have been signed out', 'success');
  navigate('/login', { replace: false });
}

function renderTopbar() {
  const left = [];
  menuBtn = null;
  if (state.me) {
    menuBtn = h('button', { type: 'button', class: 'icon-btn menu-toggle', 'aria-label': 'Open navigation', 'aria-controls': 'sidebar', 'aria-expanded': 'false' }, icon('menu'));
    menuBtn.addEventListener('click', () => setDrawer(!root.classList.contains('nav-open')));
    left.push(menuBtn, h('div', { class: 'topbar-brand-mobile' }, brand()));
  } else {
    left.push(brand());
  }
  const right = [themeToggle()];
  if (state.me) {
    right.unshift(bell);
    right.push(userMenu(state.me));
  } else {
    left.push(h('a', { href: '/community', class: 'btn btn-ghost btn-sm topbar-link', testid: 'nav-community', 'aria-label': 'Community', dataset: { nav: '/community', navAlso: '/p/ /u/ /search' } }, icon('community'), h('span', { class: 'topbar-link-text' }, 'Community')));
    right.push(h('a', { href: '/login', class: 'btn btn-ghost btn-sm', testid: 'nav-signin' }, 'Sign in'));
    if (state.config.signup_mode !== 'closed') right.push(h('a', { href: '/signup', class: 'btn btn-primary btn-sm', testid: 'nav-signup' }, 'Create account'));
  }
  topbar.replaceChildren(h('div', { class: 'topbar-left' }, left), h('div', { class: 'topbar-right' }, right));
  markActive();
}

// Material policy changes the signed-in person has not acknowledged yet
// (GET /api/v1/me/policies), loaded once per account and after each acknowledgement.
let pendingPolicies = [];
let policiesFor = null;

function loadPendingPolicies() {
  const who = state.me ? String(state.me.id) : null;
  if (who === policiesFor) return;
  policiesFor = who;
  pendingPolicies = [];
  if (!who) return;
  get('/me/policies', { redirect: false })
    .then((list) => {
      if (policiesFor !== who) return;
      pendingPolicies = Array.isArray(list) ? list : [];
      renderBanner();
    })
    .catch(() => {
      /* the notice comes back on the next page load */
    });
}

function policyBanner(p) {
  const ack = h('button', { type: 'button', class: 'btn btn-sm btn-secondary', testid: 'policy-banner-ack' }, 'Got it');
  ack.addEventListener('click', async () => {
    ack.disabled = true;
    try {
      const left = await post(`/me/policies/${encodeURIComponent(p.slug)}/accept`, { version: p.version });
      pendingPolicies = Array.isArray(left) ? left : pendingPolicies.filter((x) => x.slug !== p.slug);
      renderBanner();
      const next = bannerSlot.querySelector('[data-testid="policy-banner-ack"]');
      if (next) next.focus();
      else main.focus({ preventScroll: true });
    } catch (err) {
      ack.disabled = false;
      toastError(err, 'Could not save that you read it');
    }
  });
  return h(
    'div',
    { class: 'banner banner-info', role: 'region', 'aria-label': `${p.title} updated`, testid: 'policy-banner', dataset: { slug: p.slug, version: String(p.version) } },
    icon('file'),
    h('p', {}, h('strong', {}, `We updated our ${p.title}. `), p.summary || 'Please read what changed.'),
    h(
      'div',
      { class: 'banner-actions' },
      h('a', { href: `/policies/${encodeURIComponent(p.slug)}`, class: 'btn btn-sm btn-ghost', testid: 'policy-banner-read' }, 'Read'),
      ack,
    ),
  );
}

function verifyBanner(me) {
  const resend = h('button', { type: 'button', class: 'btn btn-sm btn-secondary', testid: 'verify-resend' }, 'Resend email');
  resend.addEventListener('click', async () => {
    resend.disabled = true;
    try {
      await post('/auth/verify-email/resend', {});
      toast(`We sent a new verification link to ${me.email}.`, 'success');
      resend.textContent = 'Sent';
      setTimeout(() => {
        if (resend.isConnected) {
          resend.disabled = false;
          resend.textContent = 'Resend email';
        }
      }, 60000);
    } catch (err) {
      resend.disabled = false;
      toastError(err, 'Could not resend the email');
    }
  });
  return h(
    'div',
    { class: 'banner', role: 'region', 'aria-label': 'Email verification', testid: 'verify-banner' },
    icon('mail'),
    h('p', {}, h('strong', {}, 'Verify your email. '), `We sent a link to ${me.email}. Please confirm it to keep your account recoverable.`),
    resend,
  );
}

function renderBanner() {
  const me = state.me;
  if (!me) {
    bannerSlot.replaceChildren();
    return;
  }
  bannerSlot.replaceChildren(...(me.email_verified ? [] : [verifyBanner(me)]), ...pendingPolicies.map(policyBanner));
}

function renderFooter() {
  // Every policy in force, by its title (the server's public pages list the same).
  const policies = Array.isArray(state.config.policies) && state.config.policies.length
    ? state.config.policies
    : [
        { slug: 'terms', title: 'Terms of Service' },
        { slug: 'privacy', title: 'Privacy Policy' },
      ];
  footer.replaceChildren(
    h(
      'div',
      { class: 'footer-inner' },
      h('p', {}, `\u00a9 ${new Date().getFullYear()} ${instanceName()}`, instanceName() !== 'StrataMake' ? ' \u00b7 Powered by StrataMake' : null),
      h(
        'nav',
        { 'aria-label': 'Policies' },
        h('ul', { role: 'list', class: 'footer-links', testid: 'footer-policies' }, policies.map((p) => h('li', {}, h('a', { href: `/policies/${encodeURIComponent(p.slug)}` }, p.title)))),
      ),
    ),
  );
}

let watchingFor = null;
function renderChrome() {
  root.dataset.signedIn = state.me ? 'true' : 'false';
  // Resume following this tab's unfinished generations; forget them on sign-out.
  const who = state.me ? String(state.me.id) : null;
  if (who !== watchingFor) {
    if (watchingFor) stopWatching();
    watchingFor = who;
    if (who) resumeWatching();
    syncGenCount();
  }
  watchUnread(!!state.me);
  loadPendingPolicies();
  renderSidebar();
  renderTopbar();
  renderBanner();
  renderFooter();
}

// ---------------------------------------------------------------------------
// Page rendering
// ---------------------------------------------------------------------------

let controller = null;
let renderSeq = 0;

async function renderPage({ initial }) {
  const seq = ++renderSeq;
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal;
  setDrawer(false);
  markActive();
  if (!initial) refreshUnread();

  const url = new URL(location.href);
  const r = resolve(url.pathname);
  if (r.redirect) {
    navigate(r.redirect + url.search, { replace: true });
    return;
  }

  let page;
  try {
    page = (await r.loader()).default;
  } catch (err) {
    console.error(err);
    if (seq !== renderSeq) return;
    main.replaceChildren(h('div', { class: 'page' }, errorBox(null, () => location.reload())));
    return;
  }
  if (seq !== renderSeq) return;

  const access = page.access || 'any';
  if ((access === 'user' || access === 'admin' || access === 'moderator') && !state.me) {
    navigate(`/login?next=${encodeURIComponent(currentKey())}`, { replace: true });
    return;
  }
  if (access === 'guest' && state.me) {
    navigate(safeNext(url.searchParams.get('next')) || '/', { replace: true });
    return;
  }

  let title = null;
  main.replaceChildren();
  main.dataset.page = r.path;
  if ((access === 'admin' && !isAdmin()) || (access === 'moderator' && !isModerator())) {
    title = 'Not allowed';
    const mod = await import('./pages/not-found.js');
    mod.forbidden(main, access);
  } else {
    try {
      await page.render(main, { url, params: url.searchParams, route: r.route || {}, signal });
      // Evaluated after render so pages can title themselves from what they loaded.
      title = typeof page.title === 'function' ? page.title() : page.title;
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      console.error(err);
      if (seq !== renderSeq) return;
      title = typeof page.title === 'string' ? page.title : null;
      main.replaceChildren(h('div', { class: 'page' }, errorBox(err, () => renderPage({ initial: false }))));
    }
  }
  if (seq !== renderSeq) return;
  document.title = title ? `${title} · ${instanceName()}` : instanceName();
  countPageView(r.notFound ? '/not-found' : r.path);
  // A page may ask for its main control to get focus (e.g. the prompt on /generate).
  const auto = main.querySelector('[autofocus]');
  if (auto) {
    if (!initial) window.scrollTo(0, 0);
    auto.focus({ preventScroll: true });
  } else if (!initial) {
    window.scrollTo(0, 0);
    const h1 = main.querySelector('h1');
    if (h1) {
      if (!h1.hasAttribute('tabindex')) h1.setAttribute('tabindex', '-1');
      h1.focus({ preventScroll: true });
    } else main.focus({ preventScroll: true });
  }
}

/**
 * Local usage analytics: tells the server which page was shown, by its route pattern
 * (`/library/:id`, never an address with ids in it). Fire and forget; the server leaves
 * out people who opted out.
 */
function countPageView(page) {
  if (!/^\/[A-Za-z0-9/_:-]{0,79}$/.test(page)) return;
  post('/usage/page-view', { page }, { redirect: false }).catch(() => {});
}

// ---------------------------------------------------------------------------
// Boot
// ---------------------------------------------------------------------------

function skipLinkFix() {
  const skip = document.querySelector('.skip-link');
  if (skip)
    skip.addEventListener('click', (ev) => {
      ev.preventDefault();
      const h1 = main.querySelector('h1');
      (h1 || main).focus();
    });
}

async function boot() {
  // A page the server rendered (/p/{id}, /u/{username}) stays readable until the app takes over.
  if (!root.querySelector('.public-page')) root.replaceChildren(h('div', { class: 'boot' }, logo(44), spinner('Loading StrataMake')));
  let configErr = null;
  const [cfgRes, meRes] = await Promise.allSettled([loadConfig(), loadMe()]);
  if (cfgRes.status === 'rejected') configErr = cfgRes.reason;
  if (meRes.status === 'rejected') console.warn('Could not load the current user', meRes.reason);

  if (configErr && (!configErr.status || configErr.status >= 500)) {
    const retry = h('button', { type: 'button', class: 'btn btn-primary' }, icon('refresh'), h('span', {}, 'Try again'));
    retry.addEventListener('click', () => location.reload());
    root.replaceChildren(
      h('div', { class: 'boot boot-error' }, logo(44), h('h1', {}, 'StrataMake is not reachable'), h('p', { class: 'muted' }, 'The server did not answer. It may be restarting — try again in a moment.'), retry),
    );
    return;
  }

  root.replaceChildren(sidebar, h('div', { class: 'main-col' }, topbar, bannerSlot, main, footer), scrim, bellLive);
  renderChrome();
  subscribe(renderChrome);
  skipLinkFix();
  startClock();

  onAuthLost(() => {
    if (!state.me) return;
    setMe(null);
    toast('Your session has ended. Please sign in again.', 'info');
    navigate(`/login?next=${encodeURIComponent(currentKey())}`, { replace: true });
  });

  startRouter(renderPage);
}

boot();
