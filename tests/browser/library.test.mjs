// End-to-end test of the private library (/library, /library/{id}) in a real Chromium.
//
//   node --test tests/browser/
//
// Environment (same as spine.test.mjs; set by the harness, which starts the server and an SMTP sink):
//   STRATAMAKE_URL   base URL of the running server, e.g. http://127.0.0.1:8080   (test is SKIPPED if unset)
//   MAIL_DIR         directory where the SMTP sink writes each received mail as *.eml (raw RFC 5322)
//   CHROMIUM         Chromium binary (default /usr/bin/chromium)
//   SCREENSHOT_DIR   if set, a PNG of every visited page is saved there (prefixed "library-")
//
//   ADMIN_LOGIN, ADMIN_PASSWORD  an administrator's sign-in; when set, the test ends with the
//                    admin setting the user's storage quota on /admin/users
//
// Flow: sign up through the UI (waits for the proof of work if required) -> verify the
// email from the mail -> sign in -> /library (empty) -> drop TWO files at once on the drop
// zone (a real `drop` event whose DataTransfer holds a PNG and a JPEG drawn on a canvas in
// the page) -> both upload rows reach data-state="done", both thumbnails load in the grid
// -> filter chips and search -> open the PNG: dimensions in the metadata -> rename it and
// tag it (persisted across a reload) -> back to the grid -> select it (multi-select) and
// delete it with the selection bar -> it is gone, also after a reload.
// The test also fails on any uncaught page error, any CSP violation and any 404 for a UI
// asset or blob.
//
// ---------------------------------------------------------------------------
// Stable data-testid hooks for the library (keep in sync with web/pages/library.js,
// web/pages/asset.js and web/app.js):
//
// Shell        nav-library (sidebar link), feature-library (home dashboard card, links to /library)
// Library      storage-meter, library-dropzone, library-file-input (hidden <input type=file multiple>),
//              library-upload-button (opens the file picker), library-drop-overlay (page-wide
//              overlay while files are dragged over the page), upload-queue,
//              upload-row (data-state = uploading|done|error, data-phase = queued|sending|
//              processing|done|error), upload-progress (<progress> in a row), upload-cancel,
//              upload-retry, upload-dismiss, upload-open, uploads-clear,
//              library-filter-{all,image,model,upload} (aria-pressed), library-search,
//              library-sort (<select>: newest|oldest), library-grid,
//              asset-card (data-asset-id, data-kind), asset-select (checkbox in a card),
//              selection-bar, selection-count, selection-all, selection-clear, selection-delete,
//              library-empty, library-empty-upload, library-clear-filters
// Asset page   asset-back, asset-view (the large view / 3D placeholder), asset-open-original,
//              asset-title (the <h1>; click to rename), asset-rename (pencil button),
//              asset-title-input, asset-tags (list of tag chips), asset-tag (data-tag),
//              asset-tag-remove, asset-tag-input (Enter or comma adds), asset-download,
//              asset-delete, asset-meta (<dl>), asset-meta-{type,dimensions,triangles,size,
//              created,filename,source,sha}, asset-copy-sha, asset-params (generation parameters),
//              asset-not-found
// Admin        admin-user-storage (storage cell of a user row), admin-user-quota (its edit button),
//              quota-dialog, quota-default (use the instance default), quota-gb, quota-save,
//              admin-default-quota (instance default in GB on /admin/settings)
// Shared       confirm-ok / confirm-cancel (confirmation dialog), toast
// ---------------------------------------------------------------------------

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, MAIL_DIR, ADMIN_LOGIN, ADMIN_PASSWORD, CHROMIUM, LAUNCH_ARGS, screenshotter, watch, waitForCount, pathIs, signIn, signUpAndVerify } from './support.mjs';

const shot = screenshotter('library-'); // library-NN-name.png

// ------------------------------------------------------------------ browser helpers

/**
 * In the page: draw a PNG and a JPEG on canvases, put both in one DataTransfer and
 * dispatch dragenter, dragover and drop on the drop zone, like a real drag from the desktop.
 */
async function dropTwoImages(page) {
  return page.evaluate(async () => {
    const draw = (w, h, type, name, from, to) =>
      new Promise((resolve, reject) => {
        const c = document.createElement('canvas');
        c.width = w;
        c.height = h;
        const g = c.getContext('2d');
        const grad = g.createLinearGradient(0, 0, w, h);
        grad.addColorStop(0, from);
        grad.addColorStop(1, to);
        g.fillStyle = grad;
        g.fillRect(0, 0, w, h);
        g.fillStyle = 'rgba(255,255,255,0.85)';
        g.beginPath();
        g.arc(w * 0.7, h * 0.35, Math.min(w, h) * 0.18, 0, Math.PI * 2);
        g.fill();
        c.toBlob((blob) => (blob ? resolve(new File([blob], name, { type, lastModified: Date.now() })) : reject(new Error(`toBlob(${type}) failed`))), type, 0.92);
      });
    const files = [await draw(320, 240, 'image/png', 'sunrise.png', '#7c5cff', '#ff9f5a'), await draw(200, 150, 'image/jpeg', 'forest.jpg', '#10b981', '#3b82f6')];
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(f);
    const zone = document.querySelector('[data-testid="library-dropzone"]');
    const fire = (type) => zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, composed: true, dataTransfer: dt }));
    fire('dragenter');
    fire('dragover');
    const overlay = document.querySelector('[data-testid="library-drop-overlay"]');
    const overlayShown = !!overlay && !overlay.hidden;
    const accepted = !fire('drop'); // dispatchEvent returns false when the page called preventDefault()
    return { overlayShown, accepted, overlayHiddenAfter: !overlay || overlay.hidden, types: files.map((f) => f.type), sizes: files.map((f) => f.size) };
  });
}

// ------------------------------------------------------------------ the test

test(
  'library: drop two files, see them upload, open one, rename it, delete it with multi-select',
  { skip: BASE ? false : 'STRATAMAKE_URL is not set (the harness starts the server and sets it)', timeout: 300_000 },
  async (t) => {
    assert.ok(MAIL_DIR, 'MAIL_DIR must point at the directory where the SMTP sink writes *.eml files');
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    t.after(() => browser.close());

    const problems = [];
    const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const username = `lib_${stamp}`.slice(0, 30);
    const email = `${username}@example.test`;
    const password = `Strata-${stamp}-Library-Horse!`;

    const ctx = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } });
    ctx.setDefaultTimeout(20_000);
    const page = await ctx.newPage();
    watch(page, 'library', problems);

    try {
      // 1. Account -----------------------------------------------------------------
      await signUpAndVerify(page, { email, username, password });
      await signIn(page, username, password);
      await page.getByTestId('dashboard').waitFor();

      // The dashboard's Library card and the sidebar both lead to /library.
      assert.equal(await page.locator('a[data-testid="feature-library"][href="/library"]').count(), 1, 'the home Library card should link to /library');
      await page.getByTestId('nav-library').click();
      await page.waitForURL(pathIs('/library'));

      // 2. Empty library --------------------------------------------------------------
      const cards = page.getByTestId('asset-card');
      await page.getByTestId('library-dropzone').waitFor();
      await page.getByTestId('library-empty').waitFor();
      assert.equal(await cards.count(), 0, 'a new account starts with an empty library');
      await page.locator('[data-testid="storage-meter"]', { hasText: /0 items/ }).waitFor();
      assert.equal(await page.locator('[data-testid="library-file-input"][type="file"][multiple]').count(), 1, 'the file picker accepts several files');
      assert.equal(await page.locator('[data-testid="library-filter-all"][aria-pressed="true"]').count(), 1);
      await shot(page, 'empty');

      // 3. Drop two files at once -------------------------------------------------------
      const drop = await dropTwoImages(page);
      assert.deepEqual(drop.types, ['image/png', 'image/jpeg']);
      assert.ok(drop.overlayShown, 'dragging files over the page shows the drop overlay');
      assert.ok(drop.accepted, 'the page accepts the drop (preventDefault on drop)');
      assert.ok(drop.overlayHiddenAfter, 'the overlay goes away after the drop');

      const rows = page.getByTestId('upload-row');
      await waitForCount(rows, 2);
      assert.equal(await rows.getByTestId('upload-progress').count(), 2, 'each upload has its own progress bar');
      await shot(page, 'uploading');
      await page.waitForFunction(
        () => {
          const all = [...document.querySelectorAll('[data-testid="upload-row"]')];
          return all.length === 2 && all.every((r) => r.dataset.state === 'done' || r.dataset.state === 'error');
        },
        null,
        { timeout: 60_000 },
      );
      const failed = await page.locator('[data-testid="upload-row"][data-state="error"]').allInnerTexts();
      assert.deepEqual(failed, [], 'both uploads should succeed');
      await waitForCount(page.locator('[data-testid="upload-row"][data-state="done"]'), 2);
      const progress = await page.locator('[data-testid="upload-row"] [data-testid="upload-progress"]').evaluateAll((els) => els.map((e) => e.value));
      assert.deepEqual(progress, [1, 1], 'finished rows show a full progress bar');

      // Both thumbnails appear in the grid and actually load.
      await waitForCount(cards, 2);
      await page.waitForFunction(() => {
        const imgs = [...document.querySelectorAll('[data-testid="library-grid"] [data-testid="asset-card"] img')];
        return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
      });
      await page.locator('[data-testid="storage-meter"]', { hasText: /2 items/ }).waitFor();
      await shot(page, 'uploaded');

      // The grid comes from the server after a reload too.
      await page.reload();
      await waitForCount(cards, 2);
      assert.equal(await page.getByTestId('upload-row').count(), 0, 'finished uploads are not shown again on a new visit');

      // 4. Filters and search -----------------------------------------------------------
      await page.getByTestId('library-filter-model').click();
      await page.getByTestId('library-empty').waitFor();
      await waitForCount(cards, 0);
      assert.ok(new URL(page.url()).searchParams.get('kind') === 'model', 'the filter is kept in the address');
      await page.getByTestId('library-filter-image').click();
      await waitForCount(cards, 2);
      await page.getByTestId('library-filter-all').click();
      await waitForCount(cards, 2);
      await page.getByTestId('library-search').fill('forest');
      await waitForCount(cards, 1);
      assert.match(await cards.first().innerText(), /forest/i);
      await page.getByTestId('library-search').fill('');
      await waitForCount(cards, 2);

      // 5. Open the PNG --------------------------------------------------------------------
      const pngCard = cards.filter({ hasText: 'sunrise' });
      await waitForCount(pngCard, 1);
      const id = await pngCard.getAttribute('data-asset-id');
      assert.ok(id, 'cards carry data-asset-id');
      await pngCard.getByRole('link').click();
      await page.waitForURL(pathIs(`/library/${encodeURIComponent(id)}`));
      await page.getByTestId('asset-view').waitFor();
      await page.waitForFunction(() => {
        const img = document.querySelector('[data-testid="asset-view"] img');
        return !!img && img.complete && img.naturalWidth > 0;
      });
      const meta = page.getByTestId('asset-meta');
      await meta.waitFor();
      const metaText = await meta.innerText();
      assert.match(metaText, /320\s*[×x]\s*240/, `the metadata shows the dimensions (got: ${metaText})`);
      assert.match(metaText, /sunrise\.png/, 'the metadata shows the file name');
      assert.match(metaText, /PNG/);
      const dl = page.getByTestId('asset-download');
      assert.ok(/download=1/.test((await dl.getAttribute('href')) || ''), 'Download original uses download_url');
      await shot(page, 'asset');

      // 6. Rename it and tag it --------------------------------------------------------------
      await page.getByTestId('asset-title').click();
      const titleInput = page.getByTestId('asset-title-input');
      await titleInput.waitFor();
      await titleInput.fill('Golden hour');
      const renamed = page.waitForResponse((r) => r.url().includes('/api/v1/assets/') && r.request().method() === 'PATCH');
      await titleInput.press('Enter');
      assert.equal((await renamed).status(), 200, 'PATCH title answers 200');
      await page.locator('[data-testid="asset-title"]', { hasText: 'Golden hour' }).waitFor();
      assert.ok(await titleInput.isHidden(), 'the input closes after saving');

      const tagged = page.waitForResponse((r) => r.url().includes('/api/v1/assets/') && r.request().method() === 'PATCH');
      await page.getByTestId('asset-tag-input').fill('sky');
      await page.getByTestId('asset-tag-input').press('Enter');
      assert.equal((await tagged).status(), 200, 'PATCH tags answers 200');
      await page.locator('[data-testid="asset-tags"] [data-testid="asset-tag"]', { hasText: 'sky' }).waitFor();
      await shot(page, 'asset-renamed');

      await page.reload();
      await page.locator('[data-testid="asset-title"]', { hasText: 'Golden hour' }).waitFor();
      await page.locator('[data-testid="asset-tags"] [data-testid="asset-tag"]', { hasText: 'sky' }).waitFor();

      // 7. Back to the grid, delete it with multi-select ----------------------------------------
      await page.goBack();
      await page.waitForURL(pathIs('/library'));
      await waitForCount(cards, 2);
      const target = page.locator(`[data-testid="asset-card"][data-asset-id=${JSON.stringify(id)}]`);
      await target.filter({ hasText: 'Golden hour' }).waitFor();
      await target.hover();
      await target.getByTestId('asset-select').check();
      const bar = page.getByTestId('selection-bar');
      await bar.waitFor();
      assert.match(await page.getByTestId('selection-delete').innerText(), /Delete 1\b/);
      await shot(page, 'selected');
      await page.getByTestId('selection-delete').click();
      await page.getByTestId('confirm-ok').click();
      await waitForCount(target, 0);
      await waitForCount(cards, 1);
      assert.ok(await bar.isHidden(), 'the selection bar goes away after deleting');
      await page.locator('[data-testid="storage-meter"]', { hasText: /1 item\b/ }).waitFor();
      await shot(page, 'deleted');

      await page.reload();
      await waitForCount(cards, 1);
      assert.equal(await target.count(), 0, 'the deleted asset stays gone');
      const gone = await page.evaluate(async (assetId) => (await fetch(`/api/v1/assets/${encodeURIComponent(assetId)}`, { credentials: 'same-origin' })).status, id);
      assert.equal(gone, 404, 'GET of a deleted asset answers 404');

      // 8. An admin sees the user's storage and gives them a custom quota -----------------------
      if (ADMIN_LOGIN) {
        const adminCtx = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } });
        adminCtx.setDefaultTimeout(20_000);
        const admin = await adminCtx.newPage();
        watch(admin, 'admin', problems);
        await signIn(admin, ADMIN_LOGIN, ADMIN_PASSWORD);
        await admin.goto(`/admin/users?q=${encodeURIComponent(username)}`);
        const row = admin.locator(`[data-testid="admin-user-row"][data-username=${JSON.stringify(username)}]`);
        await row.getByTestId('admin-user-storage').filter({ hasText: /of 10 GB/ }).waitFor();
        await row.getByTestId('admin-user-quota').click();
        const dialog = admin.getByTestId('quota-dialog');
        await dialog.waitFor();
        await dialog.getByTestId('quota-default').uncheck();
        await dialog.getByTestId('quota-gb').fill('2');
        await shot(admin, 'admin-quota-dialog');
        const saved = admin.waitForResponse((r) => r.url().endsWith('/quota') && r.request().method() === 'PUT');
        await dialog.getByTestId('quota-save').click();
        assert.equal((await saved).status(), 200, 'PUT quota answers 200');
        await row.getByTestId('admin-user-storage').filter({ hasText: /of 2 GB\s*Custom/ }).waitFor();
        await shot(admin, 'admin-users-storage');
        await admin.goto('/admin/settings');
        assert.equal(await admin.getByTestId('admin-default-quota').inputValue(), '10', 'the default quota is shown in GB');
        await shot(admin, 'admin-settings');
        await adminCtx.close();
        await page.reload();
        await page.locator('[data-testid="storage-meter"]', { hasText: /of 2 GB/ }).waitFor();
      }

      assert.deepEqual(problems, [], 'the UI reported errors');
    } catch (err) {
      await shot(page, 'FAILED');
      if (problems.length) console.error(`browser problems:\n${problems.join('\n')}`);
      throw err;
    }
  },
);
