// End-to-end test of image generation in a real Chromium: the admin's model page, the
// /generate tool with live progress over Server-Sent Events, results, reuse of settings,
// image to image, the asset page's "Generation" section and credits. The server runs the
// tiny random-weights model (models/tiny-sd) on its real ONNX Runtime.
//
//   node --test tests/browser/
//
// Environment (set by the harness, which starts the server with
// STRATAMAKE_GENERATION__ALLOW_TEST_MODELS=true and an SMTP sink):
//   STRATAMAKE_URL   base URL of the running server, e.g. http://127.0.0.1:8080   (test is SKIPPED if unset)
//   MAIL_DIR         directory where the SMTP sink writes each received mail as *.eml (raw RFC 5322)
//   ADMIN_LOGIN, ADMIN_PASSWORD  an administrator's sign-in
//   TINY_MODEL_DIR   absolute path of models/tiny-sd (imported through /admin/models)
//   CHROMIUM         Chromium binary (default /usr/bin/chromium)
//   SCREENSHOT_DIR   if set, a PNG of every stage is saved there (prefixed "generate-")
//
// Flow: the admin opens /admin/models (removes the tiny model first if a previous run left
// it) -> /generate says plainly that generation isn't set up, with the fix's commands ->
// the admin imports TINY_MODEL_DIR through the form and its row appears -> a new user signs
// up, verifies the email and signs in -> /generate (prompt focused, cost shown) -> prompt,
// Advanced: 64 x 64, 8 steps, seed 1234, 2 images -> a bigger job queued through the API
// first keeps the worker busy, so the user's job is seen waiting ("Next in line") -> the
// bigger job, picked in the Recent list, shows its live progress and preview; it is
// cancelled -> the user's job runs and ends with two images, a toast and the credits taken
// -> "Use these settings" puts seed 1234 and the prompt back -> "New seed" queues the same
// with a random seed -> the first image's asset page shows the Generation section with
// "Seed 1234" -> "Use these settings again" there refills /generate -> image to image from
// a library image -> phone viewport and dark mode -> the home dashboard's credits card ->
// the admin gives the user credits on /admin/users.
// The test also fails on any uncaught page error, any CSP violation and any 404 for a UI asset.
//
// ---------------------------------------------------------------------------
// Stable data-testid hooks for generation (keep in sync with web/pages/generate.js,
// web/pages/admin-models.js, web/pages/asset.js, web/pages/home.js, web/pages/admin-users.js
// and web/app.js):
//
// Shell        nav-generate (sidebar link), nav-generate-count (jobs in progress, on that link),
//              nav-admin-models, feature-generate (home card, links to /generate), hero-generate
// Generate     generate-form, generate-prompt, generate-negative, generate-model (<select>, hidden
//              with one model), generate-width, generate-height, generate-aspect-{1x1,3x2,2x3,16x9,9x16}
//              (aria-pressed), generate-size-swap, generate-count (fieldset of radios 1..4),
//              generate-advanced (<details>), generate-steps, generate-steps-slider,
//              generate-guidance, generate-guidance-slider, generate-scheduler, generate-seed (empty =
//              random), generate-seed-dice, generate-seed-random, generate-cost, generate-submit,
//              credits-balance (the number of credits, in the page header)
//   start image source-pick, source-dialog, source-dialog-close, source-item (data-asset-id),
//              source-selected, source-strength (slider), source-strength-value, source-remove
//   the job    generate-stage, generate-status (data-status = idle|queued|running|succeeded|failed|
//              cancelled, data-job-id), generate-status-label, generate-reconnecting,
//              generate-position ("Next in line", "2nd in line"), generate-progress (<progress>),
//              generate-preview (<img>, the live latent preview), generate-cancel,
//              generate-result (container), generate-image (data-asset-id, data-seed),
//              generate-image-link, generate-open, generate-download, generate-reuse,
//              generate-new-seed, generate-error, generate-retry, generate-edit, generate-cancelled
//   recent     generate-recent, recent-item (data-job-id, data-status), recent-more
//   not set up generate-unavailable, generate-fix, generate-command (+ generate-command-copy),
//              generate-admin-link
// Asset page   asset-generation (the section), asset-params, asset-reuse (-> /generate?from=id),
//              asset-use-source (-> /generate?source=id)
// Home         credits-card, credits-balance, credits-entries, credit-entry (data-kind)
// Admin        admin-runtime (engine line), admin-runtime-fix, admin-models, admin-models-table,
//              admin-models-empty, admin-model-row (data-model-id), admin-model-badge-default,
//              admin-model-cost, admin-model-enabled, admin-model-default, admin-model-verify,
//              admin-model-verify-error, admin-model-remove, admin-model-import-form,
//              admin-model-import-path, admin-model-import, admin-model-import-command,
//              admin-jobs (queue card), admin-jobs-table, admin-job-row (data-job-id, data-status),
//              admin-job-cancel; on /admin/users: admin-user-credits, admin-user-balance,
//              credits-dialog, credits-amount, credits-note, credits-save
// Shared       confirm-ok / confirm-cancel (confirmation dialog), toast
// ---------------------------------------------------------------------------

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, MAIL_DIR, ADMIN_LOGIN, ADMIN_PASSWORD, TINY_MODEL_DIR, CHROMIUM, LAUNCH_ARGS, screenshotter, watch, waitForCount, pathIs, signIn, signUpAndVerify, apiInPage } from './support.mjs';

const snap = screenshotter('generate-'); // generate-NN-name.png
/** Full-page screenshot from the top (sticky bars are drawn where the page was scrolled to). */
async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0)).catch(() => {});
  await snap(page, name);
}
const MODEL_ID = 'tiny-sd-test';

/** Record, in the page, every status the job view goes through, progress, previews and toasts. */
async function recordJobView(page) {
  await page.evaluate(() => {
    const rec = { statuses: [], progress: 0, preview: false, toasts: [] };
    window.__genRecord = rec;
    const look = () => {
      const s = document.querySelector('[data-testid="generate-status"]');
      if (s) {
        const key = `${s.dataset.jobId || ''}:${s.dataset.status}`;
        if (rec.statuses[rec.statuses.length - 1] !== key) rec.statuses.push(key);
      }
      const p = document.querySelector('[data-testid="generate-progress"]');
      if (p && p.hasAttribute('value')) rec.progress = Math.max(rec.progress, p.value);
      const img = document.querySelector('[data-testid="generate-preview"]');
      if (img && !img.hidden && /\/preview\b/.test(img.getAttribute('src') || '')) rec.preview = true;
      for (const t of document.querySelectorAll('[data-testid="toast"]')) if (!rec.toasts.includes(t.textContent)) rec.toasts.push(t.textContent);
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    look();
  });
}

const record = (page) => page.evaluate(() => window.__genRecord);

/** Wait until the job view shows `status` for job `id`. */
function jobView(page, id, status) {
  return page.locator(`[data-testid="generate-status"][data-job-id=${JSON.stringify(id)}][data-status="${status}"]`);
}

async function balance(page) {
  return Number((await page.getByTestId('credits-balance').innerText()).replace(/[^\d-]/g, ''));
}

async function waitForBalance(page, n) {
  await page.locator('[data-testid="credits-balance"]', { hasText: new RegExp(`^${n}$`) }).waitFor({ timeout: 20_000 });
}

async function imagesLoaded(page, n) {
  await page.waitForFunction(
    (count) => {
      const imgs = [...document.querySelectorAll('[data-testid="generate-image"] img')];
      return imgs.length === count && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    n,
    { timeout: 20_000 },
  );
}

test(
  'generate: admin imports the tiny model; a user generates, follows progress, reuses settings and opens the result',
  { skip: BASE ? false : 'STRATAMAKE_URL is not set (the harness starts the server and sets it)', timeout: 420_000 },
  async (t) => {
    assert.ok(MAIL_DIR, 'MAIL_DIR must point at the directory where the SMTP sink writes *.eml files');
    assert.ok(ADMIN_LOGIN && ADMIN_PASSWORD, 'ADMIN_LOGIN and ADMIN_PASSWORD must name an administrator');
    assert.ok(TINY_MODEL_DIR, 'TINY_MODEL_DIR must be the absolute path of models/tiny-sd');
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    t.after(() => browser.close());

    const problems = [];
    const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const username = `gen_${stamp}`.slice(0, 30);
    const email = `${username}@example.test`;
    const password = `Strata-${stamp}-Correct-Horse!`;
    const prompt = 'a red fox in a snowy birch forest, golden hour';

    const adminCtx = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } });
    adminCtx.setDefaultTimeout(20_000);
    const admin = await adminCtx.newPage();
    watch(admin, 'admin', problems);
    const ctx = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } });
    ctx.setDefaultTimeout(20_000);
    const page = await ctx.newPage();
    watch(page, 'user', problems);

    try {
      // 1. The admin's models page; start without the tiny model ----------------------------
      await signIn(admin, ADMIN_LOGIN, ADMIN_PASSWORD);
      await admin.getByTestId('nav-admin-models').click();
      await admin.waitForURL(pathIs('/admin/models'));
      await admin.locator('[data-testid="admin-runtime"] .callout').waitFor();
      await admin.locator('[data-testid="admin-model-row"], [data-testid="admin-models-empty"]').first().waitFor();
      const tinyRow = admin.locator(`[data-testid="admin-model-row"][data-model-id="${MODEL_ID}"]`);
      if (await tinyRow.count()) {
        await tinyRow.getByTestId('admin-model-remove').click();
        await admin.getByTestId('confirm-ok').click();
        await waitForCount(tinyRow, 0);
      }

      // Without a usable model, /generate explains what is missing instead of a form.
      const models = await apiInPage(admin, 'GET', '/models');
      if (!models.data.available) {
        await admin.getByTestId('nav-generate').click();
        await admin.waitForURL(pathIs('/generate'));
        const unavailable = admin.getByTestId('generate-unavailable');
        await unavailable.waitFor();
        assert.match(await unavailable.innerText(), /isn.t set up yet/);
        assert.equal(await admin.getByTestId('generate-form').count(), 0, 'no form while generation is unavailable');
        if (models.data.problem && /`/.test(models.data.problem.fix)) {
          assert.ok((await admin.getByTestId('generate-command').count()) >= 1, 'the fix shows its commands in code blocks');
          await admin.getByTestId('generate-command-copy').first().waitFor();
        }
        assert.equal(await admin.getByTestId('generate-admin-link').getAttribute('href'), '/admin/models');
        await shot(admin, 'unavailable');
        await admin.getByTestId('generate-admin-link').click();
        await admin.waitForURL(pathIs('/admin/models'));
      }

      // 2. Import the tiny model through the form ------------------------------------------------
      await admin.getByTestId('admin-model-import-command').waitFor();
      await shot(admin, 'admin-models-before');
      await admin.getByTestId('admin-model-import-path').fill(TINY_MODEL_DIR);
      const imported = admin.waitForResponse((r) => r.url().endsWith('/api/v1/admin/models') && r.request().method() === 'POST', { timeout: 120_000 });
      await admin.getByTestId('admin-model-import').click();
      assert.equal((await imported).status(), 201, 'POST /admin/models answers 201');
      await tinyRow.waitFor();
      const rowText = await tinyRow.innerText();
      assert.match(rowText, /Tiny SD/);
      assert.match(rowText, /Test only/i);
      assert.ok(await tinyRow.getByTestId('admin-model-enabled').isChecked(), 'an imported model is enabled');
      assert.equal(await tinyRow.getByTestId('admin-model-cost').inputValue(), '1');
      await admin.locator('[data-testid="admin-runtime"]', { hasText: /ONNX Runtime/ }).waitFor();
      await admin.getByTestId('admin-jobs').waitFor();
      await shot(admin, 'admin-model-imported');

      // 3. A new user ------------------------------------------------------------------------------
      await signUpAndVerify(page, { email, username, password });
      await signIn(page, username, password);
      await page.getByTestId('dashboard').waitFor();
      assert.equal(await page.locator('a[data-testid="feature-generate"][href="/generate"]').count(), 1, 'the home Generate card links to /generate');
      await page.getByTestId('nav-generate').click();
      await page.waitForURL(pathIs('/generate'));
      const form = page.getByTestId('generate-form');
      await form.waitFor();
      assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.dataset.testid), 'generate-prompt', 'the prompt has focus');
      const start = await balance(page);
      assert.ok(start >= 3, `a new user starts with some credits (has ${start})`);
      assert.match(await page.getByTestId('generate-cost').innerText(), new RegExp(`Uses 1 credit\\b.*you have ${start}`));
      assert.equal(await page.locator('[data-testid="generate-status"][data-status="idle"]').count(), 1);
      await shot(page, 'empty');

      // 4. Fill in the form ---------------------------------------------------------------------------
      await page.getByTestId('generate-prompt').fill(prompt);
      await page.locator('[data-testid="generate-advanced"] > summary').click();
      await page.getByTestId('generate-width').fill('64');
      await page.getByTestId('generate-height').fill('64');
      await page.getByTestId('generate-steps').fill('8');
      await page.getByTestId('generate-count').locator('label', { hasText: '2' }).click();
      await page.getByTestId('generate-seed').fill('1234');
      assert.ok(!(await page.getByTestId('generate-seed-random').isChecked()), 'typing a seed turns "random" off');
      assert.match(await page.getByTestId('generate-cost').innerText(), /Uses 2 credits/);
      await shot(page, 'filled');

      // A bigger job first keeps the single worker busy, so the user's job has to wait.
      const big = await apiInPage(page, 'POST', '/generations', { prompt: 'warm-up: a big slow picture', width: 512, height: 512, steps: 24 });
      assert.equal(big.status, 202, `queueing the warm-up job: ${JSON.stringify(big.data)}`);
      const bigId = big.data.id;
      for (let i = 0; i < 100; i++) {
        if ((await apiInPage(page, 'GET', `/generations/${bigId}`)).data.status === 'running') break;
        await page.waitForTimeout(200);
      }

      // 5. Generate: queued ---------------------------------------------------------------------------
      await recordJobView(page);
      const posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/generations') && r.request().method() === 'POST');
      await page.getByTestId('generate-submit').click();
      const response = await posted;
      assert.equal(response.status(), 202, 'POST /generations answers 202');
      assert.ok(response.request().headers()['idempotency-key'], 'the request carries an Idempotency-Key');
      const sent = JSON.parse(response.request().postData());
      assert.deepEqual([sent.prompt, sent.width, sent.height, sent.steps, sent.count, sent.seed], [prompt, 64, 64, 8, 2, 1234]);
      const job = await response.json();
      await jobView(page, job.id, 'queued').waitFor();
      assert.match(await page.getByTestId('generate-position').innerText(), /Next in line|\d+(st|nd|rd|th) in line/);
      await page.getByTestId('nav-generate-count').waitFor();
      await shot(page, 'queued');

      // 6. The warm-up job, picked in Recent: live progress and preview; then cancelled -------------
      const bigItem = page.locator(`[data-testid="recent-item"][data-job-id=${JSON.stringify(bigId)}]`);
      await bigItem.waitFor();
      await bigItem.click();
      await jobView(page, bigId, 'running').waitFor();
      await page.waitForFunction(() => {
        const p = document.querySelector('[data-testid="generate-progress"]');
        const img = document.querySelector('[data-testid="generate-preview"]');
        return p && p.value > 0 && img && !img.hidden && img.complete && img.naturalWidth > 0;
      }, null, { timeout: 30_000 });
      assert.match(await page.locator('.gen-progress-box').innerText(), /Step \d+ of 24/);
      await shot(page, 'running');
      await page.getByTestId('generate-cancel').click();
      await jobView(page, bigId, 'cancelled').waitFor({ timeout: 30_000 });
      await page.getByTestId('generate-cancelled').waitFor();
      await shot(page, 'cancelled');

      // 7. Back to the user's job: it runs and ends with two images ---------------------------------
      await page.locator(`[data-testid="recent-item"][data-job-id=${JSON.stringify(job.id)}]`).click();
      await jobView(page, job.id, 'succeeded').waitFor({ timeout: 120_000 });
      const images = page.getByTestId('generate-image');
      await waitForCount(images, 2);
      await imagesLoaded(page, 2);
      assert.deepEqual(await images.evaluateAll((els) => els.map((e) => e.dataset.seed)), ['1234', '1235'], 'seeds are seed, seed + 1');
      const firstAsset = await images.first().getAttribute('data-asset-id');
      assert.ok(firstAsset, 'result images carry data-asset-id');
      assert.equal(await images.first().getByTestId('generate-image-link').getAttribute('href'), `/library/${encodeURIComponent(firstAsset)}`);
      assert.match((await images.first().getByTestId('generate-download').getAttribute('href')) || '', /download=1/);
      await page.locator(`[data-testid="recent-item"][data-job-id=${JSON.stringify(job.id)}][data-status="succeeded"]`).waitFor();
      await waitForBalance(page, start - 2); // the warm-up job's credit came back when it was cancelled
      await page.getByTestId('nav-generate-count').waitFor({ state: 'hidden' });
      const rec = await record(page);
      assert.ok(rec.statuses.includes(`${job.id}:queued`) && rec.statuses.includes(`${job.id}:succeeded`), `the job view went from queued to succeeded (${rec.statuses.join(', ')})`);
      assert.ok(rec.statuses.some((s) => s.endsWith(':running')), `a running job was shown (${rec.statuses.join(', ')})`);
      assert.ok(rec.progress > 0, 'the progress bar moved');
      assert.ok(rec.preview, 'a live preview was shown');
      assert.ok(rec.toasts.some((x) => /Your 2 images are ready/.test(x)), `a toast said the images are ready (${rec.toasts.join(' | ')})`);
      await shot(page, 'result');

      // 8. Use these settings again: seed and prompt come back ------------------------------------------
      await page.getByTestId('generate-prompt').fill('something else');
      await page.getByTestId('generate-seed').fill('');
      await images.first().getByTestId('generate-reuse').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="generate-seed"]').value === '1234');
      assert.equal(await page.getByTestId('generate-prompt').inputValue(), prompt);
      assert.ok(await page.locator('[data-testid="generate-count"] input[value="1"]').isChecked(), 'reusing one image makes one image');
      await shot(page, 'reused');

      // 9. New seed: same settings, random seed, queued at once -----------------------------------------
      const rerolled = page.waitForResponse((r) => r.url().endsWith('/api/v1/generations') && r.request().method() === 'POST');
      await images.first().getByTestId('generate-new-seed').click();
      const reroll = await rerolled;
      assert.equal(reroll.status(), 202);
      const rerollBody = JSON.parse(reroll.request().postData());
      assert.equal(rerollBody.seed, undefined, 'New seed leaves the seed to the server');
      assert.equal(rerollBody.prompt, prompt);
      assert.equal(rerollBody.count, 2, 'New seed keeps the job\u2019s image count');
      const rerollJob = await reroll.json();
      await jobView(page, rerollJob.id, 'succeeded').waitFor({ timeout: 120_000 });
      await waitForCount(images, 2);
      assert.notDeepEqual(await images.evaluateAll((els) => els.map((e) => e.dataset.seed)), ['1234', '1235']);
      await waitForBalance(page, start - 4);

      // 10. The first image's asset page: the Generation section -----------------------------------------
      await page.locator(`[data-testid="recent-item"][data-job-id=${JSON.stringify(job.id)}]`).click();
      await jobView(page, job.id, 'succeeded').waitFor();
      await page.locator(`[data-testid="generate-image"][data-asset-id=${JSON.stringify(firstAsset)}] [data-testid="generate-image-link"]`).click();
      await page.waitForURL(pathIs(`/library/${encodeURIComponent(firstAsset)}`));
      const section = page.getByTestId('asset-generation');
      await section.waitFor();
      const sectionText = await section.innerText();
      assert.match(sectionText, /Seed\s*1234/i, `the asset page shows the seed (got: ${sectionText})`);
      assert.ok(sectionText.includes(prompt), 'the asset page shows the prompt');
      assert.match(sectionText, /64\s*×\s*64/);
      assert.match(sectionText, /Euler/);
      assert.equal(await page.getByTestId('asset-reuse').getAttribute('href'), `/generate?from=${encodeURIComponent(firstAsset)}`);
      assert.equal(await page.getByTestId('asset-use-source').getAttribute('href'), `/generate?source=${encodeURIComponent(firstAsset)}`);
      await shot(page, 'asset');

      // 11. "Use these settings again" from the asset page fills /generate ----------------------------------
      await page.getByTestId('asset-reuse').click();
      await page.waitForURL(pathIs('/generate'));
      await page.waitForFunction(() => document.querySelector('[data-testid="generate-seed"]')?.value === '1234');
      assert.equal(await page.getByTestId('generate-prompt').inputValue(), prompt);

      // 12. Image to image: pick a start image from the library ------------------------------------------
      await page.getByTestId('source-pick').click();
      const dialog = page.getByTestId('source-dialog');
      await dialog.waitFor();
      const items = dialog.getByTestId('source-item');
      await items.first().waitFor();
      assert.ok((await items.count()) >= 4, 'the picker lists the user\u2019s images');
      await shot(page, 'source-dialog');
      await dialog.locator(`[data-testid="source-item"][data-asset-id=${JSON.stringify(firstAsset)}]`).click();
      await waitForCount(page.locator('[data-testid="source-dialog"]'), 0);
      await page.getByTestId('source-selected').waitFor();
      await page.getByTestId('source-strength').fill('0.5');
      assert.equal(await page.getByTestId('source-strength-value').inputValue(), '0.5');
      const img2img = page.waitForResponse((r) => r.url().endsWith('/api/v1/generations') && r.request().method() === 'POST');
      await page.getByTestId('generate-prompt').press(process.platform === 'darwin' ? 'Meta+Enter' : 'Control+Enter');
      const img2imgRes = await img2img;
      assert.equal(img2imgRes.status(), 202, 'Ctrl+Enter submits');
      const img2imgBody = JSON.parse(img2imgRes.request().postData());
      assert.deepEqual([img2imgBody.source_asset_id, img2imgBody.strength], [firstAsset, 0.5]);
      const img2imgJob = await img2imgRes.json();
      await page.locator(`[data-testid="generate-status"][data-job-id=${JSON.stringify(img2imgJob.id)}]:is([data-status="succeeded"], [data-status="failed"])`).waitFor({ timeout: 120_000 });
      await shot(page, 'image-to-image');
      assert.equal(await page.getByTestId('generate-error').count(), 0, 'image to image succeeds');
      await waitForCount(images, 1);
      await imagesLoaded(page, 1);
      const spent = 5;
      await waitForBalance(page, start - spent);

      // 13. Phone and dark mode ---------------------------------------------------------------------------
      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await form.waitFor();
      await page.getByTestId('generate-recent').waitFor();
      await shot(page, 'phone');
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.waitForTimeout(300); // colour transitions
      await shot(page, 'phone-dark');
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.locator(`[data-testid="recent-item"][data-job-id=${JSON.stringify(job.id)}]`).click();
      await imagesLoaded(page, 2);
      await shot(page, 'dark');
      await page.emulateMedia({ colorScheme: 'light' });

      // 14. Credits on the home dashboard -------------------------------------------------------------------
      await page.getByTestId('nav-home').click();
      await page.getByTestId('credits-card').waitFor();
      await waitForBalance(page, start - spent);
      assert.ok((await page.getByTestId('credit-entry').count()) >= 3, 'the last credit entries are listed');
      await shot(page, 'home-credits');

      // 15. The admin gives the user credits ----------------------------------------------------------------
      await admin.goto(`/admin/users?q=${encodeURIComponent(username)}`);
      const userRow = admin.locator(`[data-testid="admin-user-row"][data-username=${JSON.stringify(username)}]`);
      await userRow.getByTestId('admin-user-credits').click();
      const creditsDialog = admin.getByTestId('credits-dialog');
      await creditsDialog.waitFor();
      await creditsDialog.getByTestId('credits-amount').fill('10');
      await creditsDialog.getByTestId('credits-note').fill('Welcome to the beta');
      await shot(admin, 'admin-credits-dialog');
      const granted = admin.waitForResponse((r) => r.url().endsWith('/credits') && r.request().method() === 'POST');
      await creditsDialog.getByTestId('credits-save').click();
      assert.equal((await granted).status(), 200, 'POST credits answers 200');
      await userRow.getByTestId('admin-user-balance').filter({ hasText: `${start - spent + 10} credits` }).waitFor();
      await page.reload();
      await waitForBalance(page, start - spent + 10);
      await page.locator('[data-testid="credit-entry"][data-kind="grant"]', { hasText: 'Welcome to the beta' }).waitFor();

      // 16. Opt in to a mail when a generation finishes (saved at once) -------------------------------
      await page.goto('/settings/profile');
      const mailSwitch = page.getByTestId('notify-generation-done');
      await page.locator('[data-testid="notify-generation-done"]:not([disabled])').waitFor();
      assert.equal(await mailSwitch.isChecked(), false, 'optional mails are off until chosen');
      const savedChoice = page.waitForResponse((r) => r.url().endsWith('/api/v1/me/notifications') && r.request().method() === 'PUT');
      await mailSwitch.check();
      assert.equal((await savedChoice).status(), 200);
      assert.deepEqual((await apiInPage(page, 'GET', '/me/notifications')).data, { generation_done: true, community: 'off' });
      await shot(page, 'profile-mails');


      assert.deepEqual(problems, [], 'the UI reported errors');
    } catch (err) {
      await shot(page, 'FAILED');
      await shot(admin, 'FAILED-admin');
      if (problems.length) console.error(`browser problems:\n${problems.join('\n')}`);
      throw err;
    }
  },
);
