// Fetch wrapper for /api/v1.
// - same-origin cookies (auth cookies are HttpOnly; the UI never sees tokens)
// - X-CSRF-Token header (double-submit cookie sm_csrf / __Host-sm_csrf) on unsafe methods
// - problem+json errors -> ApiError {status, type, title, detail, errors}
// - one shared POST /auth/refresh on 401, then a single retry; if that fails the
//   "auth lost" handler (set by app.js) sends the user to /login.

const BASE = '/api/v1';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

// Endpoints whose 401 means "wrong credentials / bad token", never "session expired".
const NO_REFRESH = new Set([
  '/auth/login',
  '/auth/signup',
  '/auth/refresh',
  '/auth/verify-email',
  '/auth/password/forgot',
  '/auth/password/reset',
  '/auth/challenge',
  '/setup',
  '/setup/status',
  '/config/public',
]);

// 401 answers that ask to confirm who you are (e.g. deleting the account), not to refresh.
const REAUTH = /(?:wrong-password|sign-in-again)$/;

export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem && typeof problem === 'object' ? problem : {};
    super(p.detail || p.title || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.type = typeof p.type === 'string' ? p.type : 'about:blank';
    this.title = p.title || '';
    this.detail = p.detail || '';
    this.errors = p.errors && typeof p.errors === 'object' && !Array.isArray(p.errors) ? p.errors : {};
    /** Seconds from the Retry-After header, when the server sent one. */
    this.retryAfter = null;
  }
  /** true when the problem type URI ends with the given slug, e.g. is('token-expired') */
  is(slug) {
    return this.type.endsWith(slug);
  }
}

/** Value of the CSRF cookie (prefers the __Host- variant used on HTTPS). */
export function csrfToken() {
  let plain = null;
  for (const part of document.cookie ? document.cookie.split(';') : []) {
    const c = part.trim();
    const i = c.indexOf('=');
    if (i < 0) continue;
    const name = c.slice(0, i);
    const val = c.slice(i + 1);
    if (name === '__Host-sm_csrf') return val;
    if (name === 'sm_csrf') plain = val;
  }
  return plain;
}

let signedIn = false;
/** app.js keeps this in sync with state.me so that any 401 while signed in triggers a refresh. */
export function setSignedIn(v) {
  signedIn = !!v;
}

let authLostHandler = () => {};
export function onAuthLost(fn) {
  authLostHandler = fn;
}

async function primeCsrf() {
  try {
    await fetch(`${BASE}/config/public`, { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    /* ignore */
  }
}

async function send(method, path, body, signal, extraHeaders) {
  const headers = { ...extraHeaders, Accept: 'application/json, application/problem+json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal };
  if (typeof FormData !== 'undefined' && body instanceof FormData) {
    init.body = body; // multipart: the browser sets Content-Type with its boundary
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (!SAFE.has(method)) {
    let token = csrfToken();
    if (!token) {
      await primeCsrf();
      token = csrfToken();
    }
    if (token) headers['X-CSRF-Token'] = token;
  }
  try {
    return await fetch(BASE + path, init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, { title: 'Network error', detail: 'Could not reach the server. Check your connection and try again.' });
  }
}

async function readBody(res) {
  if (res.status === 204 || res.status === 205) return null;
  const text = await res.text();
  if (!text) return null;
  const ct = (res.headers.get('content-type') || '').toLowerCase();
  if (ct.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      /* fall through */
    }
  }
  return res.ok ? text : { detail: text.length > 300 ? `${text.slice(0, 300)}…` : text };
}

let refreshing = null;
/** POST /auth/refresh once, shared by every concurrent caller. Resolves to true on success. */
export function refreshSession() {
  if (!refreshing) {
    refreshing = send('POST', '/auth/refresh', {})
      .then((res) => res.ok)
      .catch(() => false)
      .finally(() => {
        setTimeout(() => {
          refreshing = null;
        }, 0);
      });
  }
  return refreshing;
}

/**
 * api(path, { method, body, signal, headers, assumeSignedIn, redirect })
 *  headers: extra request headers (e.g. Idempotency-Key).
 *  assumeSignedIn: try the refresh dance on 401 even if we don't know we're signed in (boot /me).
 *  redirect: on definitive auth loss, call the auth-lost handler (default true).
 *  binary: resolve a successful answer to its body as a Blob (e.g. a model file).
 *  A FormData body is sent as multipart/form-data (e.g. likeness samples).
 */
export async function api(path, { method = 'GET', body, signal, headers, assumeSignedIn = false, redirect = true, binary = false } = {}) {
  const bare = path.split('?')[0];
  let res = await send(method, path, body, signal, headers);
  let data;

  if (res.status === 401 && !NO_REFRESH.has(bare)) {
    data = await readBody(res).catch(() => null);
    // A wrong password, or a sign-in too old for what was asked: the session is fine.
    if (data && typeof data.type === 'string' && REAUTH.test(data.type)) throw new ApiError(401, data);
    const expired = !!(data && typeof data.type === 'string' && data.type.endsWith('token-expired'));
    if (expired || signedIn || assumeSignedIn) {
      const ok = await refreshSession();
      if (ok) {
        res = await send(method, path, body, signal, headers);
        data = undefined;
      }
      if (res.status === 401) {
        if (data === undefined) data = await readBody(res).catch(() => null);
        if (redirect && (signedIn || expired)) authLostHandler();
        throw new ApiError(401, data);
      }
    } else {
      throw new ApiError(401, data);
    }
  }

  if (res.status === 403 && !SAFE.has(method)) {
    data = await readBody(res).catch(() => null);
    const t = data && typeof data.type === 'string' ? data.type : '';
    if (/csrf/i.test(t)) {
      await primeCsrf();
      res = await send(method, path, body, signal, headers);
      data = undefined;
    }
  }

  if (binary && res.ok && data === undefined) return res.blob();
  if (data === undefined) data = await readBody(res);
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    // 429 and 503 may say when to come back (seconds).
    const wait = Number(res.headers.get('Retry-After'));
    if (Number.isFinite(wait) && wait > 0) err.retryAfter = wait;
    throw err;
  }
  return data;
}

export const get = (path, opts) => api(path, { ...opts, method: 'GET' });
export const post = (path, body = {}, opts) => api(path, { ...opts, method: 'POST', body });
export const put = (path, body = {}, opts) => api(path, { ...opts, method: 'PUT', body });
export const patch = (path, body = {}, opts) => api(path, { ...opts, method: 'PATCH', body });
export const del = (path, opts) => api(path, { ...opts, method: 'DELETE' });

/** Build a query string from an object, skipping empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}
