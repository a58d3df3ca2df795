// Follows generation jobs with Server-Sent Events (GET /api/v1/generations/{id}/events).
// The watchers live at module level, like the upload queue: a job keeps being followed
// while the user browses other pages, and a toast says when it is done. Unfinished jobs
// are remembered in sessionStorage so that a reload resumes them (app.js calls
// resumeWatching()).
//
// Every event's data is the whole Generation and its name is the status. EventSource
// reconnects by itself after a network drop (the server sends the current state first);
// an HTTP error (e.g. an expired session) closes it for good, so then the job is fetched
// once through api.js (which refreshes the session) and followed again if still running.
//
// An open EventSource holds one of the ~6 HTTP/1.1 connections a browser keeps per
// server, so at most MAX_STREAMS jobs are streamed (the one on screen and running ones
// first); the others are polled every few seconds until a stream is free.

import { get } from './api.js';
import { toast, notifyListeners } from './ui.js';

export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
export const isFinal = (status) => status === 'succeeded' || status === 'failed' || status === 'cancelled';
export const isActiveJob = (g) => !!g && (g.status === 'queued' || g.status === 'running');

const STORE = 'sm-gen-watch';
const RETRY_MS = 3000;
const POLL_MS = 4000;
const MAX_STREAMS = 2;

/** id -> { id, seq, es, poll, retry, last, reconnecting, wasActive, done, checking, listeners:Set } */
const entries = new Map();
let seq = 0;
const anyListeners = new Set();

function remembered() {
  try {
    const v = JSON.parse(sessionStorage.getItem(STORE) || '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function remember(id, on) {
  try {
    const ids = new Set(remembered());
    if (on) ids.add(id);
    else ids.delete(id);
    if (ids.size) sessionStorage.setItem(STORE, JSON.stringify([...ids]));
    else sessionStorage.removeItem(STORE);
  } catch {
    /* storage unavailable: nothing to resume after a reload */
  }
}

function notify(entry) {
  notifyListeners([...entry.listeners, ...anyListeners], { generation: entry.last, reconnecting: entry.reconnecting });
}

function promptStart(g) {
  const params = g.params || {};
  const p = String(params.prompt || (params.image && params.image.prompt) || '').trim();
  return p.length > 48 ? `${p.slice(0, 47)}\u2026` : p;
}

function announce(g) {
  const what = promptStart(g);
  if (g.status === 'succeeded' && g.model) {
    toast(`Your 3D model is ready${what ? `: \u201c${what}\u201d` : ''}`, 'success');
  } else if (g.status === 'succeeded') {
    const n = (g.images || []).length;
    toast(`${n === 1 ? 'Your image is' : `Your ${n} images are`} ready${what ? `: \u201c${what}\u201d` : ''}`, 'success');
  } else if (g.status === 'failed') {
    toast(`Generation failed${g.error ? `: ${g.error}` : ''}`, 'error');
  } else {
    toast(`Generation cancelled${what ? `: \u201c${what}\u201d` : ''}`, 'info');
  }
}

function close(entry) {
  clearTimeout(entry.retry);
  entry.retry = null;
  if (entry.es) entry.es.close();
  entry.es = null;
}

function finish(entry) {
  entry.done = true;
  close(entry);
  clearTimeout(entry.poll);
  remember(entry.id, false);
  entries.delete(entry.id);
  schedule();
}

function apply(entry, g) {
  if (entry.done || !g || g.id !== entry.id) return;
  const was = entry.last && entry.last.status;
  entry.last = g;
  entry.reconnecting = false;
  if (isFinal(g.status)) {
    // Close at once: the server ends the stream, and an open EventSource would reconnect.
    finish(entry);
    if (entry.wasActive) announce(g);
    notify(entry);
    return;
  }
  entry.wasActive = true;
  notify(entry);
  if (was !== g.status) schedule();
}

// Streams go to the jobs on screen first, then to running ones, then the oldest.
const rank = (e) => (e.listeners.size ? 0 : 2) + (e.last && e.last.status === 'running' ? 0 : 1);

function schedule() {
  const live = [...entries.values()].filter((e) => !e.done).sort((a, b) => rank(a) - rank(b) || a.seq - b.seq);
  live.forEach((e, i) => {
    if (i < MAX_STREAMS) {
      clearTimeout(e.poll);
      e.poll = null;
      if (!e.es && !e.retry) open(e);
    } else {
      if (e.es) close(e);
      if (!e.poll) e.poll = setTimeout(() => poll(e), POLL_MS);
    }
  });
}

async function poll(entry) {
  entry.poll = null;
  if (entry.done || entry.es) return;
  await fetchOnce(entry);
  if (!entry.done) schedule();
}

/** GET the job once and apply it; a 404 means it is gone. */
async function fetchOnce(entry) {
  try {
    apply(entry, await get(`/generations/${encodeURIComponent(entry.id)}`));
  } catch (err) {
    // The job is gone (or belongs to someone else now that the session changed).
    if (err && err.status === 404) finish(entry);
  }
}

function open(entry) {
  close(entry);
  const es = new EventSource(`/api/v1/generations/${encodeURIComponent(entry.id)}/events`);
  entry.es = es;
  for (const status of STATUSES) {
    es.addEventListener(status, (ev) => {
      let g = null;
      try {
        g = JSON.parse(ev.data);
      } catch {
        return;
      }
      apply(entry, g);
    });
  }
  es.addEventListener('error', () => {
    if (entry.done || entry.es !== es) return;
    if (!entry.reconnecting) {
      entry.reconnecting = true;
      notify(entry);
    }
    check(entry, es);
  });
}

/** After a stream error: fetch the job once; follow it again if the browser gave up. */
async function check(entry, es) {
  if (entry.checking) return;
  entry.checking = true;
  await fetchOnce(entry);
  entry.checking = false;
  if (!entry.done && entry.es === es && es.readyState === EventSource.CLOSED) {
    entry.es = null;
    clearTimeout(entry.retry);
    entry.retry = setTimeout(() => {
      entry.retry = null;
      if (!entry.done) schedule();
    }, RETRY_MS);
  }
}

function start(id, known, wasActive) {
  const entry = { id, seq: ++seq, es: null, poll: null, retry: null, last: known, reconnecting: false, wasActive, done: false, checking: false, listeners: new Set() };
  entries.set(id, entry);
  remember(id, true);
  return entry;
}

/**
 * Follow a job: `generation` is a Generation (e.g. the POST answer) or an id.
 * `listener({ generation, reconnecting })` runs on every update until `signal` aborts;
 * the job itself is followed until it ends, listener or not.
 */
export function follow(generation, listener, signal) {
  const id = typeof generation === 'string' ? generation : generation.id;
  const known = typeof generation === 'object' ? generation : null;
  if (known && isFinal(known.status) && !entries.has(id)) {
    if (listener) listener({ generation: known, reconnecting: false });
    return;
  }
  const entry = entries.get(id) || start(id, known, !!known);
  if (listener) {
    entry.listeners.add(listener);
    if (signal) {
      signal.addEventListener(
        'abort',
        () => {
          entry.listeners.delete(listener);
          if (!entry.done) schedule();
        },
        { once: true },
      );
    }
    if (entry.last) listener({ generation: entry.last, reconnecting: entry.reconnecting });
  }
  schedule();
}

/** Listen to updates of every followed job until `signal` aborts. */
export function onGenerations(fn, signal) {
  anyListeners.add(fn);
  if (signal) signal.addEventListener('abort', () => anyListeners.delete(fn), { once: true });
  return () => anyListeners.delete(fn);
}

/** Jobs being followed that have not ended. */
export function activeGenerations() {
  return [...entries.values()].filter((e) => !e.done).map((e) => e.last).filter(Boolean);
}

/** On boot (signed in): follow the jobs this tab was following before a reload. */
export function resumeWatching() {
  // They were running before the reload: say so if they ended meanwhile.
  for (const id of remembered()) if (!entries.has(id)) start(id, null, true);
  schedule();
}

/** On sign-out: stop following everything. */
export function stopWatching() {
  for (const entry of entries.values()) {
    entry.done = true;
    close(entry);
    clearTimeout(entry.poll);
  }
  entries.clear();
  try {
    sessionStorage.removeItem(STORE);
  } catch {
    /* ignore */
  }
}
