// History-API router. Routes map a pathname to a lazily imported page module.
// Same-origin <a href> clicks to known routes are intercepted; everything else
// (API links such as OIDC start, downloads, external links) navigates normally.

const routes = new Map([
  ['/', () => import('./pages/home.js')],
  ['/login', () => import('./pages/login.js')],
  ['/signup', () => import('./pages/signup.js')],
  ['/verify', () => import('./pages/verify.js')],
  ['/forgot', () => import('./pages/forgot.js')],
  ['/reset', () => import('./pages/reset.js')],
  ['/setup', () => import('./pages/setup.js')],
  ['/oidc/welcome', () => import('./pages/oidc-welcome.js')],
  ['/oidc/link', () => import('./pages/oidc-link.js')],
  ['/settings/profile', () => import('./pages/settings-profile.js')],
  ['/settings/security', () => import('./pages/settings-security.js')],
  ['/settings/tokens', () => import('./pages/settings-tokens.js')],
  ['/settings/privacy', () => import('./pages/settings-privacy.js')],
  ['/account/restore', () => import('./pages/account-restore.js')],
  ['/account/deleted', () => import('./pages/account-deleted.js')],
  ['/admin/users', () => import('./pages/admin-users.js')],
  ['/admin/invites', () => import('./pages/admin-invites.js')],
  ['/admin/settings', () => import('./pages/admin-settings.js')],
  ['/admin/mail', () => import('./pages/admin-mail.js')],
  ['/admin/audit', () => import('./pages/admin-audit.js')],
  ['/admin/privacy', () => import('./pages/admin-privacy.js')],
  ['/admin/analytics', () => import('./pages/admin-analytics.js')],
  ['/library', () => import('./pages/library.js')],
  ['/generate', () => import('./pages/generate.js')],
  ['/make-3d', () => import('./pages/make-3d.js')],
  ['/admin/models', () => import('./pages/admin-models.js')],
  ['/community', () => import('./pages/community.js')],
  ['/search', () => import('./pages/search.js')],
  ['/notifications', () => import('./pages/notifications.js')],
  ['/moderation', () => import('./pages/moderation.js')],
]);

// Parameterised routes: [pattern, name, loader]. The pattern's named groups become
// the page's `route` params (URL-decoded), e.g. /library/abc -> { id: 'abc' }.
const patterns = [
  [/^\/library\/(?<id>[^/]+)$/, '/library/:id', () => import('./pages/asset.js')],
  [/^\/p\/(?<id>[^/]+)$/, '/p/:id', () => import('./pages/post.js')],
  [/^\/u\/(?<username>[^/]+)$/, '/u/:username', () => import('./pages/profile.js')],
  [/^\/policies\/(?<slug>[^/]+)$/, '/policies/:slug', () => import('./pages/policy.js')],
  [/^\/admin\/policies\/(?<slug>[^/]+)$/, '/admin/policies/:slug', () => import('./pages/admin-policy.js')],
];

const redirects = new Map([
  ['/settings', '/settings/profile'],
  ['/admin', '/admin/users'],
  // Old addresses of two policies (the server redirects them too).
  ['/terms', '/policies/terms'],
  ['/privacy', '/policies/privacy'],
]);

// Paths the server serves itself (not SPA pages).
const SERVER_PATHS = ['/api', '/.well-known', '/healthz', '/metrics', '/docs'];

export function normalizePath(p) {
  if (p.length > 1 && p.endsWith('/')) p = p.replace(/\/+$/, '') || '/';
  return p;
}

/** True for paths rendered by the SPA (known routes, their aliases, and unknown non-server paths). */
export function isSpaPath(pathname) {
  const p = normalizePath(pathname);
  if (SERVER_PATHS.some((x) => p === x || p.startsWith(`${x}/`))) return false;
  if (/\.[a-z0-9]{1,8}$/i.test(p)) return false; // static files
  return true;
}

export function resolve(pathname) {
  const p = normalizePath(pathname);
  if (redirects.has(p)) return { redirect: redirects.get(p) };
  const loader = routes.get(p);
  if (loader) return { path: p, loader, route: {} };
  for (const [re, name, load] of patterns) {
    const m = re.exec(p);
    if (!m) continue;
    try {
      const route = {};
      for (const [k, v] of Object.entries(m.groups || {})) route[k] = decodeURIComponent(v);
      return { path: name, loader: load, route };
    } catch {
      break; // malformed %-escape: not found
    }
  }
  return { path: p, loader: () => import('./pages/not-found.js'), route: {}, notFound: true };
}

/**
 * Validate a ?next= value: same-origin SPA path only (prevents open redirects).
 * Returns "/path?query" or null.
 */
export function safeNext(next) {
  if (!next || typeof next !== 'string') return null;
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return null;
  try {
    const u = new URL(next, location.origin);
    if (u.origin !== location.origin) return null;
    if (['/login', '/signup', '/forgot'].includes(normalizePath(u.pathname))) return null;
    return u.pathname + u.search + u.hash;
  } catch {
    return null;
  }
}

let onChange = () => {};
let lastKey = null;

export function currentKey() {
  return location.pathname + location.search;
}

/** Navigate within the SPA (or fully, for non-SPA paths). */
export function navigate(to, { replace = false } = {}) {
  const u = new URL(to, location.href);
  if (u.origin !== location.origin || !isSpaPath(u.pathname)) {
    if (replace) location.replace(u.href);
    else location.assign(u.href);
    return;
  }
  const target = u.pathname + u.search + u.hash;
  if (replace) history.replaceState({}, '', target);
  else history.pushState({}, '', target);
  lastKey = currentKey();
  onChange({ initial: false });
}

/** Replace the current URL without re-rendering (e.g. to drop a token or sync ?q=). */
export function replaceQuietly(to) {
  history.replaceState(history.state, '', to);
  lastKey = currentKey();
}

export function startRouter(handler) {
  onChange = handler;
  lastKey = currentKey();

  window.addEventListener('popstate', () => {
    // Fragment-only changes (e.g. the skip link) must not re-render the page.
    if (currentKey() === lastKey) return;
    lastKey = currentKey();
    onChange({ initial: false, pop: true });
  });

  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target instanceof Element ? ev.target.closest('a[href]') : null;
    if (!a || a.hasAttribute('download') || (a.target && a.target !== '_self') || a.dataset.native !== undefined) return;
    const u = new URL(a.href, location.href);
    if (u.origin !== location.origin || !isSpaPath(u.pathname)) return;
    if (u.pathname === location.pathname && u.search === location.search && u.hash) return; // in-page anchor
    ev.preventDefault();
    navigate(u.pathname + u.search + u.hash);
  });

  onChange({ initial: true });
}
