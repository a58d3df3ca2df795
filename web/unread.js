// The number of unread community notifications, for the bell in the top bar.
// Asks GET /api/v1/notifications/unread every 30 s while the tab is visible and someone
// is signed in, when the tab becomes visible again, and whenever app.js says the page
// changed (refreshUnread). The notifications page sets the count itself after marking
// things read (setUnread).

import { get } from './api.js';
import { notifyListeners } from './ui.js';

const POLL_MS = 30000;
const MIN_GAP_MS = 2000; // navigations in quick succession ask once

let count = 0;
let active = false;
let timer = null;
let inflight = null;
let lastAsked = 0;
const listeners = new Set();

export const unreadCount = () => count;

/** Calls fn(count) now and on every change; returns the unsubscribe function. */
export function onUnread(fn) {
  listeners.add(fn);
  fn(count);
  return () => listeners.delete(fn);
}

export function setUnread(n) {
  const v = Math.max(0, Number(n) || 0);
  if (v === count) return;
  count = v;
  notifyListeners(listeners, count);
}

function schedule() {
  clearTimeout(timer);
  timer = active && document.visibilityState === 'visible' ? setTimeout(() => refreshUnread(true), POLL_MS) : null;
}

/** Asks the server for the count (at most once per MIN_GAP_MS unless `force`). */
export function refreshUnread(force = false) {
  if (!active) return Promise.resolve(count);
  if (inflight) return inflight;
  if (!force && Date.now() - lastAsked < MIN_GAP_MS) return Promise.resolve(count);
  lastAsked = Date.now();
  inflight = get('/notifications/unread', { redirect: false })
    .then((r) => {
      if (active) setUnread(r && r.unread);
      return count;
    })
    .catch(() => count) // offline or signed out meanwhile: keep the last count
    .finally(() => {
      inflight = null;
      schedule();
    });
  return inflight;
}

/** app.js: start when someone signs in, stop (and forget the count) when they leave. */
export function watchUnread(on) {
  if (on === active) return;
  active = on;
  if (on) refreshUnread(true);
  else {
    clearTimeout(timer);
    setUnread(0);
  }
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refreshUnread();
  else clearTimeout(timer);
});
