// Upload queue for POST /api/v1/assets.
// Each file goes in its own multipart request (one `file` part) so it gets its own
// progress bar and its own error; at most PARALLEL requests run at a time.
// XMLHttpRequest (not fetch) because fetch cannot report upload progress.
// The queue lives at module level: uploads keep going while the user browses other
// pages, and the library shows them again when it is re-opened.

import { ApiError, csrfToken, refreshSession } from './api.js';
import { toast, notifyListeners } from './ui.js';

const ENDPOINT = '/api/v1/assets';
const PARALLEL = 3;

// Accepted formats (the server decides; this only spares a round trip for obvious misses).
export const ACCEPT_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'glb', 'gltf', 'stl', '3mf', 'obj'];
const ACCEPT_MIME = ['image/png', 'image/jpeg', 'image/webp'];
export const ACCEPT_ATTR = [...ACCEPT_EXTENSIONS.map((e) => `.${e}`), ...ACCEPT_MIME].join(',');
const MODEL_EXTENSIONS = new Set(['glb', 'gltf', 'stl', '3mf', 'obj']);

/**
 * Job states: queued -> sending -> processing -> done | error  (cancelled jobs are removed).
 * job = { id, name, size, kind: 'image'|'model'|'other', state, progress (0..1), error, assets, preview }
 */
const jobs = [];
const listeners = new Set();
let seq = 0;
let batch = { done: 0, failed: 0 };

export function extensionOf(name) {
  const m = /\.([a-z0-9]{1,8})$/i.exec(name || '');
  return m ? m[1].toLowerCase() : '';
}

function guessKind(file) {
  const ext = extensionOf(file.name);
  if (MODEL_EXTENSIONS.has(ext)) return 'model';
  if ((file.type || '').startsWith('image/') || ['png', 'jpg', 'jpeg', 'webp'].includes(ext)) return 'image';
  return 'other';
}

/** A reason to refuse a file before sending it, or null. */
function precheck(file) {
  const ext = extensionOf(file.name);
  if (ext === 'svg' || file.type === 'image/svg+xml') return 'SVG images are not accepted. Export it as PNG or WebP first.';
  if (!ACCEPT_EXTENSIONS.includes(ext) && !ACCEPT_MIME.includes(file.type)) {
    return 'This file type isn\u2019t supported. Use PNG, JPEG or WebP images, or GLB, glTF, STL, 3MF or OBJ models.';
  }
  if (file.size === 0) return 'This file is empty.';
  return null;
}

function emit(event) {
  notifyListeners(listeners, event);
}

/** Listen to queue events ({type: 'add'|'change'|'done'|'remove'|'idle', job?}) until `signal` aborts. */
export function onUploads(fn, signal) {
  listeners.add(fn);
  if (signal) signal.addEventListener('abort', () => listeners.delete(fn), { once: true });
}

export const uploadJobs = () => jobs.slice();
export const isActive = (job) => job.state === 'queued' || job.state === 'sending' || job.state === 'processing';
export const activeCount = () => jobs.filter(isActive).length;

/** Queue files for upload. Returns the new jobs. */
export function enqueueUploads(fileList) {
  const added = [];
  for (const file of fileList) {
    const kind = guessKind(file);
    const job = { id: ++seq, file, name: file.name || 'Untitled file', size: file.size, kind, state: 'queued', progress: 0, error: null, assets: [], xhr: null, preview: null };
    const problem = precheck(file);
    if (problem) {
      job.state = 'error';
      job.error = problem;
      job.file = null; // nothing to retry
      batch.failed++;
    } else if (kind === 'image') {
      try {
        job.preview = URL.createObjectURL(file);
      } catch {
        job.preview = null;
      }
    }
    jobs.push(job);
    added.push(job);
  }
  if (added.length) emit({ type: 'add', jobs: added });
  pump();
  if (!activeCount()) settle();
  return added;
}

export function cancelUpload(id) {
  const job = jobs.find((j) => j.id === id);
  if (!job || !isActive(job)) return;
  if (job.xhr) job.xhr.abort();
  else remove(job); // still queued
}

export function retryUpload(id) {
  const job = jobs.find((j) => j.id === id);
  if (!job || job.state !== 'error' || !job.file) return;
  job.state = 'queued';
  job.progress = 0;
  job.error = null;
  emit({ type: 'change', job });
  pump();
}

/** Remove a finished (done or failed) row. */
export function dismissUpload(id) {
  const job = jobs.find((j) => j.id === id);
  if (job && !isActive(job)) remove(job);
}

/** Remove every finished row (`onlyDone`: keep failures so they stay visible). */
export function clearFinished({ onlyDone = false } = {}) {
  for (const job of jobs.slice()) {
    if (job.state === 'done' || (!onlyDone && job.state === 'error')) remove(job);
  }
}

function remove(job) {
  const i = jobs.indexOf(job);
  if (i < 0) return;
  jobs.splice(i, 1);
  if (job.preview) URL.revokeObjectURL(job.preview);
  job.preview = null;
  job.file = null;
  emit({ type: 'remove', job });
}

function pump() {
  while (jobs.filter((j) => j.state === 'sending' || j.state === 'processing').length < PARALLEL) {
    const next = jobs.find((j) => j.state === 'queued');
    if (!next) break;
    run(next);
  }
}

async function run(job) {
  job.state = 'sending';
  job.progress = 0;
  emit({ type: 'change', job });
  try {
    const data = await send(job);
    job.assets = (data && Array.isArray(data.items) ? data.items : []).filter((a) => a && a.id !== undefined);
    job.state = 'done';
    job.progress = 1;
    job.file = null;
    batch.done++;
    emit({ type: 'done', job });
  } catch (err) {
    job.xhr = null;
    if (err && err.name === 'AbortError') {
      remove(job);
    } else {
      job.state = 'error';
      job.error = uploadErrorMessage(err);
      // Only worth retrying when the file itself was not the problem.
      const status = err instanceof ApiError ? err.status : 0;
      if (!(status === 0 || status === 401 || status === 408 || status === 429 || status >= 500)) job.file = null;
      batch.failed++;
      emit({ type: 'change', job });
    }
  }
  job.xhr = null;
  pump();
  if (!activeCount()) settle();
}

/** The queue drained: one summary toast for the whole batch. */
function settle() {
  const { done, failed } = batch;
  batch = { done: 0, failed: 0 };
  if (!done && !failed) return;
  emit({ type: 'idle', done, failed });
  if (failed && done) toast(`${done} ${done === 1 ? 'file' : 'files'} added to your library, ${failed} failed`, 'error');
  else if (failed) toast(failed === 1 ? 'A file could not be uploaded' : `${failed} files could not be uploaded`, 'error');
  else toast(`${done} ${done === 1 ? 'file' : 'files'} added to your library`, 'success');
}

const FALLBACK = {
  0: 'The upload was interrupted. The file may be too large, or the connection dropped.',
  401: 'Your session has ended. Sign in again to upload.',
  413: 'This file is too large, or your storage is full.',
  415: 'This file type isn\u2019t supported. Use PNG, JPEG or WebP images, or GLB, glTF, STL, 3MF or OBJ models.',
  422: 'This file looks damaged, or its content doesn\u2019t match its type.',
  429: 'Too many uploads at once. Wait a moment and try again.',
};

export function uploadErrorMessage(err) {
  if (err instanceof ApiError) {
    const fieldMsg = err.errors && (err.errors.file || Object.values(err.errors)[0]);
    const msg = err.detail || (fieldMsg ? String(fieldMsg) : '') || FALLBACK[err.status] || err.title || `Upload failed (${err.status}).`;
    return msg.charAt(0).toUpperCase() + msg.slice(1);
  }
  return 'Upload failed. Please try again.';
}

async function primeCsrf() {
  try {
    await fetch('/api/v1/config/public', { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    /* ignore */
  }
}

function parseBody(xhr) {
  const text = xhr.responseText || '';
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.length > 300 ? `${text.slice(0, 300)}\u2026` : text };
  }
}

function sendOnce(job) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    job.xhr = xhr;
    xhr.open('POST', ENDPOINT);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json, application/problem+json');
    const token = csrfToken();
    if (token) xhr.setRequestHeader('X-CSRF-Token', token);
    xhr.upload.addEventListener('progress', (ev) => {
      if (!ev.lengthComputable || !ev.total) return;
      job.progress = Math.min(1, ev.loaded / ev.total);
      emit({ type: 'change', job });
    });
    // Every byte is sent: the server now checks the file and makes thumbnails.
    xhr.upload.addEventListener('load', () => {
      if (job.state !== 'sending') return;
      job.state = 'processing';
      job.progress = 1;
      emit({ type: 'change', job });
    });
    xhr.addEventListener('load', () => resolve({ status: xhr.status, data: parseBody(xhr) }));
    xhr.addEventListener('error', () => reject(new ApiError(0, { title: 'Network error', detail: FALLBACK[0] })));
    xhr.addEventListener('timeout', () => reject(new ApiError(0, { title: 'Timeout', detail: 'The server took too long to answer.' })));
    xhr.addEventListener('abort', () => reject(new DOMException('Upload cancelled', 'AbortError')));
    const form = new FormData();
    form.append('file', job.file, job.name);
    xhr.send(form);
  });
}

async function send(job) {
  if (!csrfToken()) await primeCsrf();
  let res = await sendOnce(job);
  const type = res.data && typeof res.data.type === 'string' ? res.data.type : '';
  if (res.status === 401 && (await refreshSession())) {
    job.state = 'sending';
    res = await sendOnce(job);
  } else if (res.status === 403 && /csrf/i.test(type)) {
    await primeCsrf();
    job.state = 'sending';
    res = await sendOnce(job);
  }
  if (res.status >= 200 && res.status < 300) return res.data || {};
  const problem = res.data && typeof res.data === 'object' ? res.data : {};
  throw new ApiError(res.status, { ...problem, detail: problem.detail || FALLBACK[res.status] || '' });
}

// Leaving the site (reload, close) would kill running uploads: ask first.
window.addEventListener('beforeunload', (ev) => {
  if (!activeCount()) return;
  ev.preventDefault();
  ev.returnValue = '';
});
