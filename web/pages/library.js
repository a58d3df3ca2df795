// /library — the private library: storage meter, uploads (drop anywhere or pick
// files, one progress row per file), filter chips, search, sort, and an infinitely
// scrolling grid of square cards with multi-select and bulk delete.

import { h, icon, pageHeader, toast, toastError, emptyState, errorBox, spinner, confirmDialog, formatBytes } from '../ui.js';
import { get, post, qs } from '../api.js';
import { replaceQuietly } from '../router.js';
import { enqueueUploads, uploadJobs, onUploads, cancelUpload, retryUpload, dismissUpload, clearFinished, isActive, ACCEPT_ATTR } from '../uploads.js';
import { assetTitle, assetHref, formatLabel, kindLabel, placeholderTile, thumbImage, rememberLibrary } from './library-common.js';

const FILTERS = [
  ['all', 'All', 'library'],
  ['image', 'Images', 'image'],
  ['model', '3D', 'cube'],
  ['upload', 'Uploads', 'upload'],
];
const SORTS = [
  ['newest', 'Newest'],
  ['oldest', 'Oldest'],
];
const SKELETONS = 8;

export default {
  title: 'Library',
  access: 'user',
  render(main, { params, signal }) {
    let kind = FILTERS.some(([k]) => k === params.get('kind')) ? params.get('kind') : 'all';
    let q = (params.get('q') || '').trim();
    let sort = params.get('sort') === 'oldest' ? 'oldest' : 'newest';

    // Finished uploads from an earlier visit are already in the grid; keep failures.
    clearFinished({ onlyDone: true });

    // ---------------------------------------------------------------- storage
    const meterText = h('span', { class: 'meter-text' }, 'Storage');
    const meterSub = h('span', { class: 'meter-sub' }, '\u00a0');
    const meterBar = h('progress', { class: 'meter-bar', max: '1', value: '0', 'aria-label': 'Storage used' });
    const meter = h(
      'div',
      { class: 'storage-meter is-loading', testid: 'storage-meter' },
      h('div', { class: 'meter-head' }, h('span', { class: 'meter-icon' }, icon('database')), h('div', { class: 'meter-lines' }, meterText, meterSub)),
      meterBar,
    );
    let storageTimer = null;
    async function loadStorage() {
      try {
        const s = await get('/me/storage', { signal });
        const used = Number(s.used_bytes) || 0;
        const quota = Number(s.quota_bytes) || 0;
        const count = Number(s.asset_count) || 0;
        meter.classList.remove('is-loading');
        const items = `${count.toLocaleString()} ${count === 1 ? 'item' : 'items'}`;
        if (quota > 0) {
          const ratio = Math.min(1, used / quota);
          meterText.textContent = `${formatBytes(used)} of ${formatBytes(quota)}`;
          const pct = used > 0 && ratio < 0.01 ? '<1' : ratio >= 0.995 && used < quota ? '99' : String(Math.round(ratio * 100));
          meterSub.textContent = `${items} \u00b7 ${pct}% used`;
          meterBar.hidden = false;
          meterBar.value = ratio;
          meterBar.setAttribute('aria-valuetext', `${formatBytes(used)} of ${formatBytes(quota)} used`);
          meter.classList.toggle('is-high', ratio >= 0.8 && ratio < 0.95);
          meter.classList.toggle('is-full', ratio >= 0.95);
          meter.title = `${used.toLocaleString()} of ${quota.toLocaleString()} bytes used`;
        } else {
          meterText.textContent = `${formatBytes(used)} used`;
          meterSub.textContent = `${items} \u00b7 no storage limit`;
          meterBar.hidden = true;
          meter.title = `${used.toLocaleString()} bytes used`;
        }
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        meter.classList.remove('is-loading');
        meterText.textContent = 'Storage';
        meterSub.textContent = 'Usage unavailable';
        meterBar.hidden = true;
      }
    }
    const refreshStorage = () => {
      clearTimeout(storageTimer);
      storageTimer = setTimeout(loadStorage, 300);
    };

    // ---------------------------------------------------------------- upload
    const fileInput = h('input', { type: 'file', multiple: true, accept: ACCEPT_ATTR, class: 'visually-hidden', tabindex: '-1', 'aria-hidden': 'true', testid: 'library-file-input' });
    fileInput.addEventListener('change', () => {
      const files = [...(fileInput.files || [])];
      fileInput.value = '';
      if (files.length) startUploads(files);
    });
    const pickFiles = () => fileInput.click();

    const uploadBtn = h('button', { type: 'button', class: 'btn btn-primary', testid: 'library-upload-button' }, icon('upload'), h('span', {}, 'Choose files'));
    uploadBtn.addEventListener('click', pickFiles);
    const dropzone = h(
      'section',
      { class: 'dropzone', testid: 'library-dropzone', 'aria-label': 'Upload files' },
      h('span', { class: 'dropzone-icon', 'aria-hidden': 'true' }, icon('upload')),
      h('div', { class: 'dropzone-text' }, h('p', { class: 'dropzone-title' }, 'Drop images or 3D models here'), h('p', { class: 'dropzone-hint' }, 'PNG, JPEG, WebP \u00b7 GLB, glTF, STL, 3MF, OBJ \u2014 or drop anywhere on this page')),
      uploadBtn,
      fileInput,
    );
    // A click on the empty part of the zone opens the picker too (the button is the keyboard path).
    dropzone.addEventListener('click', (ev) => {
      if (ev.target instanceof Element && ev.target.closest('button,input,a')) return;
      pickFiles();
    });

    function startUploads(files) {
      const jobs = enqueueUploads(files);
      if (jobs.length) queueSection.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    }

    // --- page-wide drop target ---------------------------------------------------
    const overlay = h(
      'div',
      { class: 'drop-overlay', hidden: true, 'aria-hidden': 'true', testid: 'library-drop-overlay' },
      h('div', { class: 'drop-overlay-card' }, h('span', { class: 'drop-overlay-icon' }, icon('upload')), h('p', { class: 'drop-overlay-title' }, 'Drop to upload'), h('p', {}, 'Images and 3D models go straight into your private library.')),
    );
    document.body.appendChild(overlay);
    let dragDepth = 0;
    let dragTimer = null;
    const hasFiles = (ev) => !!(ev.dataTransfer && [...(ev.dataTransfer.types || [])].includes('Files'));
    const showOverlay = () => {
      overlay.hidden = false;
      dropzone.classList.add('is-over');
      // dragover fires continuously while a drag is over the page: if it stops
      // without a drop (Escape, left the window), hide the overlay again.
      clearTimeout(dragTimer);
      dragTimer = setTimeout(hideOverlay, 400);
    };
    function hideOverlay() {
      clearTimeout(dragTimer);
      dragDepth = 0;
      overlay.hidden = true;
      dropzone.classList.remove('is-over');
    }
    const opts = { signal };
    window.addEventListener('dragenter', (ev) => { if (!hasFiles(ev)) return; ev.preventDefault(); dragDepth++; showOverlay(); }, opts);
    window.addEventListener('dragover', (ev) => { if (!hasFiles(ev)) return; ev.preventDefault(); ev.dataTransfer.dropEffect = 'copy'; showOverlay(); }, opts);
    window.addEventListener('dragleave', (ev) => { if (!hasFiles(ev)) return; dragDepth = Math.max(0, dragDepth - 1); if (!dragDepth) hideOverlay(); }, opts);
    window.addEventListener('drop', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      hideOverlay();
      if (document.querySelector('dialog[open]')) return;
      const files = [...ev.dataTransfer.files];
      if (files.length) startUploads(files);
    }, opts);
    signal.addEventListener('abort', () => {
      clearTimeout(dragTimer);
      clearTimeout(storageTimer);
      clearTimeout(searchTimer);
      overlay.remove();
    });

    // --- queue ---------------------------------------------------------------------
    const queueList = h('ul', { class: 'upload-list', role: 'list' });
    const queueSummary = h('p', { class: 'upload-summary', 'aria-live': 'polite' });
    const clearBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'uploads-clear' }, 'Clear finished');
    clearBtn.addEventListener('click', () => {
      clearFinished();
      dropzone.querySelector('button').focus();
    });
    const queueSection = h(
      'section',
      { class: 'upload-queue', 'aria-label': 'Uploads', testid: 'upload-queue', hidden: true },
      h('div', { class: 'upload-queue-head' }, h('h2', {}, 'Uploads'), queueSummary, clearBtn),
      queueList,
    );
    const rows = new Map(); // job id -> row parts

    function statusText(job) {
      if (job.state === 'queued') return 'Waiting\u2026';
      if (job.state === 'sending') return `${Math.round(job.progress * 100)}%`;
      if (job.state === 'processing') return 'Processing\u2026';
      if (job.state === 'done') return 'Added to your library';
      return job.error || 'Upload failed';
    }

    function makeRow(job) {
      const fallback = () => icon(job.kind === 'model' ? 'cube' : 'file');
      const thumb = h('span', { class: 'upload-thumb', 'aria-hidden': 'true' });
      if (job.preview) {
        const img = h('img', { src: job.preview, alt: '' });
        img.addEventListener('error', () => img.replaceWith(fallback())); // not a decodable image
        thumb.appendChild(img);
      } else thumb.appendChild(fallback());
      const progress = h('progress', { class: 'upload-progress', max: '1', value: '0', testid: 'upload-progress', 'aria-label': `Upload progress for ${job.name}` });
      const status = h('span', { class: 'upload-status' });
      const actions = h('div', { class: 'upload-actions' });
      const li = h(
        'li',
        { class: 'upload-row', testid: 'upload-row', dataset: { jobId: String(job.id) } },
        thumb,
        h('div', { class: 'upload-main' }, h('div', { class: 'upload-line' }, h('span', { class: 'upload-name', title: job.name }, job.name), h('span', { class: 'upload-size' }, formatBytes(job.size))), progress, status),
        actions,
      );
      const row = { li, progress, status, actions, thumb, shownState: null };
      rows.set(job.id, row);
      return row;
    }

    function updateRow(job) {
      const row = rows.get(job.id) || makeRow(job);
      if (!row.li.isConnected) queueList.appendChild(row.li);
      const state = job.state === 'done' ? 'done' : job.state === 'error' ? 'error' : 'uploading';
      row.li.dataset.state = state;
      row.li.dataset.phase = job.state;
      if (job.state === 'processing' || job.state === 'queued') row.progress.removeAttribute('value'); // indeterminate
      else row.progress.value = job.state === 'done' ? 1 : job.progress;
      row.status.textContent = statusText(job);
      // Percentages are not announced (the summary line is the live region); errors are.
      if (job.state === 'error') row.status.setAttribute('role', 'alert');
      else row.status.removeAttribute('role');
      if (row.shownState === job.state) return;
      row.shownState = job.state;
      // Actions change only with the state.
      const acts = [];
      if (isActive(job)) {
        acts.push(h('button', { type: 'button', class: 'icon-btn', testid: 'upload-cancel', 'aria-label': `Cancel upload of ${job.name}`, title: 'Cancel', onClick: () => cancelUpload(job.id) }, icon('x')));
      } else if (job.state === 'done') {
        const a = job.assets[0];
        if (a) {
          if (a.thumbnail_url && a.kind === 'image') row.thumb.replaceChildren(h('img', { src: a.thumbnail_url, alt: '' }));
          acts.push(h('a', { href: assetHref(a), class: 'btn btn-ghost btn-sm', testid: 'upload-open' }, 'Open'));
        }
        row.thumb.classList.add('is-done');
        acts.push(h('button', { type: 'button', class: 'icon-btn', testid: 'upload-dismiss', 'aria-label': `Dismiss ${job.name}`, title: 'Dismiss', onClick: () => dismissUpload(job.id) }, icon('x')));
      } else {
        if (job.file) acts.push(h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'upload-retry', onClick: () => retryUpload(job.id) }, icon('refresh'), h('span', {}, 'Retry')));
        acts.push(h('button', { type: 'button', class: 'icon-btn', testid: 'upload-dismiss', 'aria-label': `Dismiss ${job.name}`, title: 'Dismiss', onClick: () => dismissUpload(job.id) }, icon('x')));
      }
      const focused = row.actions.contains(document.activeElement);
      row.actions.replaceChildren(...acts);
      if (focused && acts.length) acts[acts.length - 1].focus();
    }

    function syncQueue() {
      const jobs = uploadJobs();
      for (const [id, row] of rows) {
        if (!jobs.some((j) => j.id === id)) {
          row.li.remove();
          rows.delete(id);
        }
      }
      for (const job of jobs) updateRow(job);
      const active = jobs.filter(isActive).length;
      const done = jobs.filter((j) => j.state === 'done').length;
      const failed = jobs.filter((j) => j.state === 'error').length;
      queueSection.hidden = !jobs.length;
      clearBtn.hidden = !(done + failed);
      const parts = [];
      if (active) parts.push(`Uploading ${active} ${active === 1 ? 'file' : 'files'}`);
      if (done) parts.push(`${done} done`);
      if (failed) parts.push(`${failed} failed`);
      queueSummary.textContent = parts.join(' \u00b7 ');
    }

    onUploads((ev) => {
      if (ev.type === 'done') {
        for (const a of ev.job.assets) addUploaded(a);
        refreshStorage();
      }
      if (ev.type !== 'idle') syncQueue();
    }, signal);

    // ---------------------------------------------------------------- toolbar
    const chips = FILTERS.map(([k, label, ic]) => {
      const b = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(k === kind), testid: `library-filter-${k}` }, icon(ic), h('span', {}, label));
      b.addEventListener('click', () => {
        if (kind === k) return;
        kind = k;
        for (const c of chips) c.setAttribute('aria-pressed', String(c === b));
        changed();
      });
      return b;
    });
    const searchInput = h('input', { type: 'search', id: 'library-q', class: 'input', value: q, placeholder: 'Search titles, tags, prompts', autocomplete: 'off', spellcheck: 'false', testid: 'library-search', enterkeyhint: 'search' });
    const searchForm = h(
      'form',
      { class: 'search-bar library-search', role: 'search' },
      h('label', { for: 'library-q', class: 'visually-hidden' }, 'Search your library'),
      h('span', { class: 'search-icon' }, icon('search')),
      searchInput,
    );
    let searchTimer = null;
    const runSearch = () => {
      clearTimeout(searchTimer);
      const v = searchInput.value.trim();
      if (v === q) return;
      q = v;
      changed();
    };
    searchForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      runSearch();
    });
    searchInput.addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(runSearch, 300);
    });
    const sortSelect = h('select', { id: 'library-sort', class: 'input input-sm', testid: 'library-sort', value: sort }, SORTS.map(([v, l]) => h('option', { value: v }, l)));
    sortSelect.addEventListener('change', () => {
      sort = sortSelect.value === 'oldest' ? 'oldest' : 'newest';
      changed();
    });
    const toolbar = h(
      'div',
      { class: 'library-toolbar' },
      h('div', { class: 'chips', role: 'group', 'aria-label': 'Show' }, chips),
      h('div', { class: 'library-toolbar-end' }, searchForm, h('div', { class: 'sort-field' }, h('label', { for: 'library-sort', class: 'sort-label' }, 'Sort'), sortSelect)),
    );

    const viewHref = () => `/library${qs({ kind: kind === 'all' ? null : kind, q, sort: sort === 'newest' ? null : sort })}`;
    function changed() {
      replaceQuietly(viewHref());
      rememberLibrary(viewHref());
      load(true);
    }
    rememberLibrary(viewHref());

    // ------------------------------------------------------------------- grid
    const grid = h('ul', { class: 'asset-grid', role: 'list', testid: 'library-grid', 'aria-label': 'Your assets', 'aria-busy': 'true' });
    const status = h('div', { class: 'library-status' });
    const sentinel = h('div', { class: 'grid-sentinel', 'aria-hidden': 'true' });
    const assets = new Map(); // String(id) -> asset
    let cursor = null;
    let gen = 0;
    let inflight = null;

    function card(a) {
      const title = assetTitle(a);
      const media = a.kind === 'image' || a.thumbnail_url ? thumbImage(a) : placeholderTile(a);
      const box = h('input', { type: 'checkbox', class: 'asset-check', testid: 'asset-select', 'aria-label': `Select ${title}` });
      return h(
        'li',
        { class: `asset-card asset-${a.kind === 'model' ? 'model' : 'image'}`, testid: 'asset-card', dataset: { assetId: String(a.id), kind: a.kind || '' } },
        h(
          'a',
          { href: assetHref(a), class: 'asset-link', draggable: 'false' },
          h('span', { class: 'asset-media' }, media),
          h('span', { class: 'asset-caption' }, h('span', { class: 'asset-name' }, title), h('span', { class: 'asset-sub' }, `${kindLabel(a)} \u00b7 ${formatLabel(a)} \u00b7 ${formatBytes(a.size)}`)),
        ),
        a.source === 'generated' ? h('span', { class: 'asset-flag', title: 'Generated' }, icon('sparkles'), h('span', { class: 'visually-hidden' }, 'Generated')) : null,
        h('label', { class: 'asset-check-wrap', title: 'Select' }, box, h('span', { class: 'asset-check-box', 'aria-hidden': 'true' }, icon('check'))),
      );
    }

    function matchesView(a) {
      if (kind === 'image' && a.kind !== 'image') return false;
      if (kind === 'model' && a.kind !== 'model') return false;
      if (kind === 'upload' && a.source !== 'upload') return false;
      if (q) {
        const hay = [a.title, a.filename, ...(a.tags || []), a.params && a.params.prompt].filter(Boolean).join(' ').toLowerCase();
        if (!hay.includes(q.toLowerCase())) return false;
      }
      return true;
    }

    function addUploaded(a) {
      const key = String(a.id);
      if (assets.has(key) || !matchesView(a)) return;
      if (sort === 'oldest' && cursor) return; // it belongs on a page not loaded yet
      assets.set(key, a);
      const el = card(a);
      el.classList.add('is-new');
      if (sort === 'newest') grid.prepend(el);
      else grid.appendChild(el);
      updateEmpty();
    }

    function skeletons() {
      return Array.from({ length: SKELETONS }, () => h('li', { class: 'asset-skeleton', 'aria-hidden': 'true' }));
    }

    function updateEmpty() {
      const any = assets.size > 0;
      grid.hidden = !any && !grid.querySelector('.asset-skeleton');
      if (any || inflight === gen) {
        if (status.dataset.kind === 'empty') status.replaceChildren();
        delete status.dataset.kind;
        return;
      }
      status.dataset.kind = 'empty';
      if (kind === 'all' && !q) {
        const cta = h('button', { type: 'button', class: 'btn btn-primary', testid: 'library-empty-upload' }, icon('upload'), h('span', {}, 'Upload your first file'));
        cta.addEventListener('click', pickFiles);
        status.replaceChildren(
          h(
            'div',
            { class: 'library-empty', testid: 'library-empty' },
            h('div', { class: 'library-empty-art', 'aria-hidden': 'true' }, h('span', {}, icon('image')), h('span', {}, icon('cube')), h('span', {}, icon('sparkles'))),
            h('p', { class: 'empty-title' }, 'Your library is empty'),
            h('p', { class: 'muted' }, 'Upload images and 3D models to keep them here, private to you. Drop files anywhere on this page, or pick them from your device.'),
            cta,
          ),
        );
      } else {
        const reset = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'library-clear-filters' }, 'Show everything');
        reset.addEventListener('click', () => {
          kind = 'all';
          q = '';
          searchInput.value = '';
          for (const c of chips) c.setAttribute('aria-pressed', String(c.dataset.testid === 'library-filter-all'));
          changed();
        });
        const what = kind === 'image' ? 'images' : kind === 'model' ? '3D models' : kind === 'upload' ? 'uploads' : 'items';
        status.replaceChildren(
          h('div', { class: 'library-empty', testid: 'library-empty' }, emptyState('search', q ? `No ${what} match \u201c${q}\u201d` : `No ${what} yet`, q ? 'Try another word: titles, file names, tags and prompts are searched.' : null), reset),
        );
      }
    }

    async function load(reset) {
      if (reset) {
        gen++;
        cursor = null;
        assets.clear();
        clearSelection();
        grid.replaceChildren(...skeletons());
        grid.hidden = false;
        status.replaceChildren();
        delete status.dataset.kind;
      } else if (inflight === gen || !cursor) return;
      const my = gen;
      inflight = my;
      grid.setAttribute('aria-busy', 'true');
      if (!reset) status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading more\u2026')));
      try {
        const res = await get(`/assets${qs({ kind: kind === 'all' ? null : kind, q, sort, cursor })}`, { signal });
        if (my !== gen) return;
        for (const s of grid.querySelectorAll('.asset-skeleton')) s.remove();
        for (const a of (res && res.items) || []) {
          const key = String(a.id);
          if (assets.has(key)) continue; // e.g. just uploaded and already shown
          assets.set(key, a);
          grid.appendChild(card(a));
        }
        cursor = (res && res.next_cursor) || null;
        status.replaceChildren();
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        if (my !== gen) return;
        for (const s of grid.querySelectorAll('.asset-skeleton')) s.remove();
        status.replaceChildren(errorBox(err, () => (assets.size ? load(false) : load(true))));
        return;
      } finally {
        if (inflight === my) inflight = null;
        if (my === gen) grid.setAttribute('aria-busy', 'false');
      }
      updateEmpty();
      // The sentinel may still be near the screen (short page): keep filling.
      if (cursor) requestAnimationFrame(() => {
        if (my === gen && nearEnd()) load(false);
      });
    }

    function nearEnd() {
      if (!sentinel.isConnected) return false;
      return sentinel.getBoundingClientRect().top < window.innerHeight + 600;
    }

    if ('IntersectionObserver' in window) {
      const io = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting)) load(false);
        },
        { rootMargin: '600px 0px' },
      );
      io.observe(sentinel);
      signal.addEventListener('abort', () => io.disconnect());
    }

    // -------------------------------------------------------------- selection
    const selected = new Set();
    let anchor = null;
    const selCount = h('span', { class: 'selection-count', testid: 'selection-count', 'aria-live': 'polite' });
    const selAll = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'selection-all' }, 'Select all');
    const selClear = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'selection-clear' }, 'Clear');
    const selDeleteLabel = h('span', {}, 'Delete');
    const selDelete = h('button', { type: 'button', class: 'btn btn-danger btn-sm', testid: 'selection-delete' }, icon('trash'), selDeleteLabel);
    const selectionBar = h(
      'div',
      { class: 'selection-bar', role: 'region', 'aria-label': 'Selection', testid: 'selection-bar', hidden: true },
      h('span', { class: 'selection-icon', 'aria-hidden': 'true' }, icon('checkSquare')),
      selCount,
      h('span', { class: 'selection-sep', 'aria-hidden': 'true' }),
      selAll,
      selClear,
      selDelete,
    );

    const cardOf = (id) => grid.querySelector(`.asset-card[data-asset-id="${CSS.escape(id)}"]`);
    const orderedIds = () => [...grid.querySelectorAll('.asset-card')].map((li) => li.dataset.assetId);

    function setSelected(id, on) {
      if (on) selected.add(id);
      else selected.delete(id);
      const li = cardOf(id);
      if (li) {
        li.classList.toggle('is-selected', on);
        const box = li.querySelector('.asset-check');
        if (box) box.checked = on;
      }
    }

    function toggle(id, on, range) {
      if (range && anchor !== null && anchor !== id) {
        const ids = orderedIds();
        const a = ids.indexOf(anchor);
        const b = ids.indexOf(id);
        if (a >= 0 && b >= 0) {
          for (const x of ids.slice(Math.min(a, b), Math.max(a, b) + 1)) setSelected(x, on);
        } else setSelected(id, on);
      } else setSelected(id, on);
      anchor = id;
      syncSelection();
    }

    function clearSelection() {
      for (const id of [...selected]) setSelected(id, false);
      anchor = null;
      syncSelection();
    }

    function syncSelection() {
      for (const id of [...selected]) if (!assets.has(id)) selected.delete(id);
      const n = selected.size;
      grid.classList.toggle('is-selecting', n > 0);
      selectionBar.hidden = n === 0;
      selCount.textContent = `${n} selected`;
      selDeleteLabel.textContent = `Delete ${n}`;
      selDelete.setAttribute('aria-label', `Delete ${n} selected ${n === 1 ? 'item' : 'items'}`);
      selAll.hidden = n >= assets.size;
    }

    grid.addEventListener('click', (ev) => {
      const t = ev.target instanceof Element ? ev.target : null;
      if (!t) return;
      const box = t.closest('.asset-check');
      if (box) {
        const id = box.closest('.asset-card').dataset.assetId;
        toggle(id, box.checked, ev.shiftKey);
        return;
      }
      const link = t.closest('.asset-link');
      // While selecting, a click on a card toggles it instead of opening it.
      if (link && selected.size && !ev.metaKey && !ev.ctrlKey) {
        ev.preventDefault();
        const id = link.closest('.asset-card').dataset.assetId;
        toggle(id, !selected.has(id), ev.shiftKey);
      }
    });
    selAll.addEventListener('click', () => {
      for (const id of orderedIds()) setSelected(id, true);
      syncSelection();
    });
    selClear.addEventListener('click', () => {
      clearSelection();
      const first = grid.querySelector('.asset-link');
      if (first) first.focus();
    });
    selDelete.addEventListener('click', deleteSelected);
    document.addEventListener(
      'keydown',
      (ev) => {
        if (!selected.size || document.querySelector('dialog[open]')) return;
        const typing = ev.target instanceof Element && ev.target.closest('input:not([type="checkbox"]),textarea,select,[contenteditable]');
        if (ev.key === 'Escape' && !typing) {
          clearSelection();
        } else if (ev.key === 'Delete' && !typing) {
          ev.preventDefault();
          deleteSelected();
        }
      },
      { signal },
    );

    async function deleteSelected() {
      const ids = orderedIds().filter((id) => selected.has(id));
      const n = ids.length;
      if (!n) return;
      const only = n === 1 ? assets.get(ids[0]) : null;
      const ok = await confirmDialog({
        title: only ? `Delete \u201c${assetTitle(only)}\u201d?` : `Delete ${n} items?`,
        body: `${n === 1 ? 'It is' : 'They are'} removed from your library and ${n === 1 ? 'its' : 'their'} storage is freed. This can\u2019t be undone.`,
        confirmLabel: n === 1 ? 'Delete' : `Delete ${n} items`,
        danger: true,
      });
      if (!ok) return;
      selDelete.disabled = true;
      try {
        await post('/assets/delete', { ids: ids.map((id) => assets.get(id).id) });
        const next = nextFocusAfter(ids);
        for (const id of ids) {
          const li = cardOf(id);
          if (li) li.remove();
          assets.delete(id);
          selected.delete(id);
        }
        anchor = null;
        syncSelection();
        toast(only ? `Deleted \u201c${assetTitle(only)}\u201d` : `Deleted ${n} items`, 'success');
        refreshStorage();
        updateEmpty();
        if (next && next.isConnected) next.focus();
        else (main.querySelector('h1') || main).focus();
        if (!assets.size && cursor) load(false);
      } catch (err) {
        toastError(err, 'Could not delete the selected items');
      } finally {
        selDelete.disabled = false;
      }
    }

    function nextFocusAfter(ids) {
      const all = orderedIds();
      const last = Math.max(...ids.map((id) => all.indexOf(id)));
      const rest = all.filter((id) => !ids.includes(id));
      const after = all.slice(last + 1).find((id) => !ids.includes(id)) || rest[rest.length - 1];
      const li = after ? cardOf(after) : null;
      return li ? li.querySelector('.asset-link') : null;
    }

    // ------------------------------------------------------------------ page
    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide library-page' },
        pageHeader('Library', 'Your images and 3D models, private to you.', meter),
        dropzone,
        queueSection,
        toolbar,
        h('div', { class: 'library-results' }, grid, status, sentinel, selectionBar),
      ),
    );
    syncQueue();
    loadStorage();
    load(true);
  },
};
