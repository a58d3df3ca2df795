// Global app state: public instance config and the signed-in user (or null).
// Pages read `state`; the shell subscribes to re-draw navigation when it changes.

import { get, setSignedIn, ApiError } from './api.js';
import { notifyListeners } from './ui.js';

export const state = {
  /** GET /api/v1/config/public */
  config: {
    instance_name: 'StrataMake',
    signup_mode: 'open',
    pow_required: false,
    oidc_providers: [],
    policies: [],
  },
  /** GET /api/v1/me, or null when signed out */
  me: null,
};

const listeners = new Set();

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit() {
  notifyListeners(listeners, state);
}

// A non-secret hint that this browser had a session, so that a page load after the
// access cookie expired tries the refresh cookie, while anonymous visitors don't
// send a pointless POST /auth/refresh on every page load.
const HINT = 'sm-session-hint';
function hint(v) {
  try {
    if (v === undefined) return localStorage.getItem(HINT) === '1';
    if (v) localStorage.setItem(HINT, '1');
    else localStorage.removeItem(HINT);
  } catch {
    return true; // storage unavailable: always try
  }
  return v;
}

export function setMe(me) {
  state.me = me || null;
  setSignedIn(!!state.me);
  hint(!!state.me);
  emit();
}

export function isAdmin() {
  return !!(state.me && state.me.role === 'admin');
}

/** Moderators and administrators handle reports (/moderation). */
export function isModerator() {
  return !!(state.me && (state.me.role === 'moderator' || state.me.role === 'admin'));
}

export function instanceName() {
  return (state.config && state.config.instance_name) || 'StrataMake';
}

export async function loadConfig() {
  const cfg = await get('/config/public');
  if (cfg && typeof cfg === 'object') {
    state.config = { ...state.config, ...cfg, oidc_providers: Array.isArray(cfg.oidc_providers) ? cfg.oidc_providers : [] };
  }
  emit();
  return state.config;
}

/**
 * Load the current user. `assumeSignedIn` makes a 401 try the refresh cookie first
 * (default: when this browser had a session before). Resolves to the user or null.
 */
export async function loadMe({ assumeSignedIn = hint() } = {}) {
  try {
    const me = await get('/me', { assumeSignedIn, redirect: false });
    setMe(me && typeof me === 'object' ? me : null);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) setMe(null);
    else throw err;
  }
  return state.me;
}
