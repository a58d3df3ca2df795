// End-to-end test of the privacy center in a real Chromium: the data export, account
// deletion and its cancellation, a policy change and its notice, the cookies a session
// sets, and that no page asks another origin for anything.
//
//   node --test tests/browser/privacy.test.mjs
//
// Environment (set by the harness, which starts the server and an SMTP sink):
//   STRATAMAKE_URL   base URL of the running server                 (test is SKIPPED if unset)
//   MAIL_DIR         directory where the SMTP sink writes each received mail as *.eml
//   ADMIN_LOGIN, ADMIN_PASSWORD  an administrator (the policy edit and admin pages need one)
//   CHROMIUM         Chromium binary (default /usr/bin/chromium)
//   SCREENSHOT_DIR   if set, PNGs of every new page (light, dark, phone), prefixed "privacy-"
//
// Flow: a person signs up -> /settings/privacy: requests a copy of their data, waits for
// "Ready", downloads it (a ZIP whose central directory lists manifest.json) -> the admin
// runs an export for them as a written request, looks at the analytics, and publishes a
// new Privacy Policy as an important change in the editor -> the person sees the notice,
// clicks "Got it": it is gone, also after a reload -> they delete their account with
// their password: signed out, the date shown; the admin sees the pending deletion ->
// signing in says the account waits for deletion -> the mailed /account/restore link
// keeps it -> signing in works -> a second deletion is undone with "Keep my account" on
// the sign-in page -> every cookie the browser holds is named in the Cookie Policy -> no
// request of any page went to another origin. The test also fails on any uncaught page
// error, any CSP violation and any 404 for a UI asset.
//
// ---------------------------------------------------------------------------
// Stable data-testid hooks for the privacy center (keep in sync with web/pages/settings-privacy.js,
// privacy-common.js, policy.js, account-restore.js, account-deleted.js, login.js,
// admin-privacy.js, admin-policy.js, admin-analytics.js, admin-users.js and web/app.js):
//
// Shell        nav-privacy, menu-privacy, nav-admin-privacy, nav-admin-analytics, footer-policies,
//              policy-banner (data-slug, data-version), policy-banner-read, policy-banner-ack
// Privacy page privacy-page; sections privacy-export, privacy-correct, privacy-choices,
//              privacy-likeness, privacy-usage, privacy-policies, privacy-delete;
//              export-request, export-list, export-row (data-export-id, data-status),
//              export-status, export-download; correct-{profile,username,email,security};
//              consent-marketing / consent-analytics (switches), consent-*-text, consent-*-block,
//              consent-since, consent-history, consent-record (data-purpose);
//              likeness-form, likeness-subject, likeness-use-{image_to_image,model_from_image},
//              likeness-text, likeness-agree, likeness-submit, likeness-consent,
//              likeness-consent-subject, likeness-withdraw, likeness-drop, likeness-file,
//              likeness-samples, likeness-sample (data-asset-id), likeness-sample-delete,
//              likeness-count; usage-page-views, usage-api-requests, usage-top-features,
//              usage-top-pages, usage-opted-out, usage-off; policy-link (data-slug);
//              delete-account, delete-dialog, delete-password, delete-confirm
// Deletion     deletion-scheduled, deletion-date (data-purge-after), deletion-home;
//              restore-page, restore-keep, restore-done, restore-error, restore-signin;
//              login-pending-deletion, login-keep-account
// Policy page  policy-page (data-slug, data-version), policy-title, policy-meta,
//              policy-version (select), policy-edit (admins), policy-old, policy-change,
//              policy-text, policy-not-found
// Admin        admin-privacy-page, admin-requests, privacy-user-search, privacy-user-results,
//              privacy-user (data-username), privacy-user-export, privacy-user-delete,
//              privacy-user-child, child-dialog, child-confirm-username, child-confirm,
//              admin-exports, admin-export-list, admin-deletions, deletion-row (data-username),
//              admin-policies, admin-policy (data-slug), admin-policy-edit, admin-news,
//              news-form, news-subject, news-text, news-send, news-sent;
//              policy-editor-page, policy-editor, policy-title-input, policy-markdown,
//              policy-material, policy-summary, policy-publish, policy-preview, policy-view,
//              policy-history, policy-history-version (data-version);
//              admin-analytics-page, analytics-period-{7,30,90}, analytics-{active,page-views,
//              api-requests,opted-out}, analytics-{users,views,api} (chart cards),
//              chart-{users,views,api}, analytics-top-{features,pages,requests},
//              analytics-retention, analytics-off; admin-user-deletion (users list badge)
// ---------------------------------------------------------------------------

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { BASE, MAIL_DIR, ADMIN_LOGIN, ADMIN_PASSWORD, CHROMIUM, LAUNCH_ARGS, screenshotter, watch, pathIs, signIn, signUpAndVerify, waitForMail, apiInPage } from './support.mjs';

const shot = screenshotter('privacy-'); // privacy-NN-name.png

/** Light desktop, dark desktop and dark phone pictures of the page as it is now. */
async function threeWays(page, name) {
  const size = page.viewportSize();
  await shot(page, `${name}-light`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, `${name}-dark`);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(150); // charts redraw to their new width
  await shot(page, `${name}-phone-dark`);
  await page.setViewportSize(size);
  await page.emulateMedia({ colorScheme: 'light' });
}

/** The cookie names the Cookie Policy's table lists (first column, in `code`). */
function cookieNamesIn(markdown) {
  const names = new Set();
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|/.exec(line.trim());
    if (m) names.add(m[1]);
  }
  return names;
}

test(
  'privacy: export and download, policy notice after an admin edit, delete and keep the account, cookies, no third parties',
  { skip: BASE ? false : 'STRATAMAKE_URL is not set (the harness starts the server and sets it)', timeout: 480_000 },
  async (t) => {
    assert.ok(MAIL_DIR, 'MAIL_DIR must point at the directory where the SMTP sink writes *.eml files');
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    t.after(() => browser.close());

    const origin = new URL(BASE).origin;
    const problems = [];
    const offsite = [];
    const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const username = `pv_${stamp}`.slice(0, 30);
    const me = { username, email: `${username}@example.test`, password: `Strata-${stamp}-Privacy!` };

    const newContext = async () => {
      const ctx = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 }, acceptDownloads: true });
      ctx.setDefaultTimeout(20_000);
      // Every request any page makes, from any frame or worker: only this origin.
      ctx.on('request', (req) => {
        const u = new URL(req.url());
        if ((u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') && u.origin !== origin) offsite.push(req.url());
      });
      return ctx;
    };
    const ctx = await newContext();
    const page = await ctx.newPage();
    watch(page, 'privacy user', problems);

    try {
      // 1. An account -------------------------------------------------------------------
      await signUpAndVerify(page, me);
      await signIn(page, me.username, me.password);

      // 2. The privacy center: a copy of my data -----------------------------------------
      await page.getByTestId('nav-privacy').click();
      await page.waitForURL(pathIs('/settings/privacy'));
      await page.getByTestId('privacy-page').waitFor();
      for (const s of ['privacy-export', 'privacy-correct', 'privacy-choices', 'privacy-likeness', 'privacy-usage', 'privacy-policies', 'privacy-delete']) await page.getByTestId(s).waitFor();
      // The choices show their exact words: news off by default, analytics on.
      await page.getByTestId('consent-marketing-text').waitFor();
      assert.equal(await page.getByTestId('consent-marketing').isChecked(), false, 'news by email is off by default');
      assert.equal(await page.getByTestId('consent-analytics').isChecked(), true, 'usage analytics are on by default');
      assert.equal(await page.getByTestId('policy-link').count(), 5, 'the five policies are listed');
      await threeWays(page, 'privacy-empty');

      await page.getByTestId('export-request').click();
      const ready = page.locator('[data-testid="export-row"][data-status="ready"]');
      await ready.waitFor({ timeout: 120_000 });
      await page.getByTestId('privacy-export').scrollIntoViewIfNeeded();
      await shot(page, 'export-ready');
      const [download] = await Promise.all([page.waitForEvent('download'), ready.getByTestId('export-download').click()]);
      const zip = await fs.readFile(await download.path());
      assert.ok(zip.length > 100, `the download has ${zip.length} bytes`);
      assert.equal(zip.subarray(0, 4).toString('binary'), 'PK\u0003\u0004', 'the download starts like a ZIP file');
      const eocd = zip.lastIndexOf(Buffer.from('PK\u0005\u0006', 'binary'));
      assert.ok(eocd > 0, 'the ZIP has an end-of-central-directory record');
      const central = zip.indexOf(Buffer.from('PK\u0001\u0002', 'binary'));
      assert.ok(central > 0 && zip.subarray(central, eocd).includes(Buffer.from('manifest.json')), 'the central directory lists manifest.json');
      assert.match(download.suggestedFilename(), /\.zip$/, 'the file is offered as .zip');

      // A withdrawn-then-given choice is one switch, and it lands in the history.
      await page.getByTestId('consent-marketing').click();
      await page.locator('[data-testid="consent-marketing"]:checked:not(:disabled)').waitFor();
      await page.locator('[data-testid="consent-history"] summary').click();
      await page.locator('[data-testid="consent-record"][data-purpose="marketing_email"]').first().waitFor();
      assert.equal(await page.locator('[data-testid="consent-record"]').count(), 3, 'signup defaults (2) and the change (1) are recorded');
      await page.getByTestId('privacy-choices').scrollIntoViewIfNeeded();
      await shot(page, 'choices');

      // 3. The admin: a written request, the dashboard, a material policy change ---------
      let admin = null;
      let actx = null;
      if (!ADMIN_LOGIN || !ADMIN_PASSWORD) {
        t.diagnostic('ADMIN_LOGIN / ADMIN_PASSWORD not set: skipping the admin pages and the policy notice');
      } else {
        actx = await newContext();
        admin = await actx.newPage();
        watch(admin, 'privacy admin', problems);
        await signIn(admin, ADMIN_LOGIN, ADMIN_PASSWORD);

        await admin.getByTestId('nav-admin-privacy').click();
        await admin.waitForURL(pathIs('/admin/privacy'));
        await admin.getByTestId('admin-privacy-page').waitFor();
        await admin.getByTestId('privacy-user-search').fill(me.username);
        const found = admin.locator(`[data-testid="privacy-user"][data-username="${me.username}"]`);
        await found.waitFor();
        await found.getByTestId('privacy-user-export').click();
        await admin.getByTestId('confirm-ok').click();
        await admin.locator('[data-testid="admin-export-list"] [data-testid="export-row"][data-status="ready"]').waitFor({ timeout: 120_000 });
        await threeWays(admin, 'admin-privacy');

        await admin.getByTestId('nav-admin-analytics').click();
        await admin.waitForURL(pathIs('/admin/analytics'));
        await admin.locator('[data-testid="chart-views"] svg').waitFor();
        assert.ok(Number((await admin.getByTestId('analytics-page-views').innerText()).replace(/\D/g, '')) > 0, 'page views were counted');
        assert.ok(await admin.locator('[data-testid="analytics-top-pages"] code').count(), 'the most viewed pages are listed, by their routes');
        // The person's own page views are counted by route (other tests share this server,
        // so the instance-wide top ten need not include them).
        const usage = await (await page.request.get('/api/v1/me/usage')).json();
        assert.ok(usage.top_pages.some((p) => p.name === '/settings/privacy'), `the privacy page is counted by its route (${JSON.stringify(usage.top_pages)})`);
        await admin.getByTestId('analytics-period-7').check();
        await admin.waitForURL((u) => new URL(u).search === '?days=7');
        await admin.locator('[data-testid="chart-users"] svg').waitFor();
        await threeWays(admin, 'admin-analytics');

        // Publish a new Privacy Policy as an important change, in the editor.
        await admin.goto('/admin/privacy');
        await admin.locator('[data-testid="admin-policy"][data-slug="privacy"]').getByTestId('admin-policy-edit').click();
        await admin.waitForURL(pathIs('/admin/policies/privacy'));
        await admin.getByTestId('policy-editor').waitFor();
        const before = Number(await admin.locator('[data-testid="policy-history-version"]').first().getAttribute('data-version'));
        await threeWays(admin, 'policy-editor');
        const md = admin.getByTestId('policy-markdown');
        await md.fill(`${await md.inputValue()}\n\n## Changes in this version\n\nUsage records are kept for a shorter time (${stamp}).\n`);
        await admin.getByTestId('policy-material').check();
        await admin.getByTestId('policy-summary').fill(`Usage records are kept for a shorter time (${stamp}).`);
        await admin.getByTestId('policy-publish').click();
        await admin.getByTestId('confirm-ok').click();
        await admin.locator(`[data-testid="policy-history-version"][data-version="${before + 1}"]`).waitFor();
        await admin.getByTestId('policy-view').click();
        await admin.waitForURL(pathIs('/policies/privacy'));
        await admin.locator(`[data-testid="policy-page"][data-version="${before + 1}"]`).waitFor();
        await admin.getByTestId('policy-change').waitFor();
        assert.match(await admin.getByTestId('policy-text').innerText(), new RegExp(`shorter time \\(${stamp}\\)`), 'the new text is shown');
        await threeWays(admin, 'policy-page');

        // 4. The person sees the notice, acknowledges it, and it stays gone ----------------
        await page.goto('/');
        const banner = page.locator('[data-testid="policy-banner"][data-slug="privacy"]');
        await banner.waitFor();
        assert.match(await banner.innerText(), new RegExp(`shorter time \\(${stamp}\\)`), 'the notice carries the summary');
        await shot(page, 'policy-banner');
        await banner.getByTestId('policy-banner-ack').click();
        await banner.waitFor({ state: 'detached' });
        const pending = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/me/policies');
        await page.reload();
        await page.getByTestId('user-menu').waitFor();
        assert.deepEqual(await (await pending).json(), [], 'nothing is pending after "Got it"');
        await page.waitForTimeout(300);
        assert.equal(await page.getByTestId('policy-banner').count(), 0, 'the notice stays gone after a reload');
      }

      {
        // 5. Deleting the account: password dialog, signed out, the date -------------------
        await page.goto('/settings/privacy');
        await page.getByTestId('delete-account').click();
        await page.getByTestId('delete-dialog').waitFor();
        await page.getByTestId('delete-password').fill('not my password');
        await page.getByTestId('delete-confirm').click();
        await page.getByTestId('delete-dialog').getByText('The password is not right.').waitFor();
        await shot(page, 'delete-dialog');
        await page.getByTestId('delete-password').fill(me.password);
        await page.getByTestId('delete-confirm').click();
        await page.waitForURL(pathIs('/account/deleted'));
        const date = page.getByTestId('deletion-date');
        await date.waitFor();
        const purgeAfter = Number(await date.getAttribute('data-purge-after'));
        assert.ok(purgeAfter > Date.now() / 1000 + 86_400, 'the purge is days away');
        assert.equal(await page.getByTestId('user-menu').count(), 0, 'signed out');
        assert.equal((await apiInPage(page, 'GET', '/me')).status, 401, 'the session is gone');
        await threeWays(page, 'deletion-scheduled');

        // The admin sees it waiting, and the users list says so.
        if (admin) {
          await admin.goto('/admin/privacy');
          await admin.locator(`[data-testid="deletion-row"][data-username="${me.username}"]`).waitFor();
          await admin.goto(`/admin/users?q=${encodeURIComponent(me.username)}`);
          await admin.locator(`[data-testid="admin-user-row"][data-username="${me.username}"] [data-testid="admin-user-deletion"]`).waitFor();
        }

        // Signing in says the account waits for its deletion.
        await page.goto('/login');
        await page.getByTestId('login-login').fill(me.username);
        await page.getByTestId('login-password').fill(me.password);
        await page.getByTestId('login-submit').click();
        await page.getByTestId('login-pending-deletion').waitFor();
        await threeWays(page, 'login-pending');

        // 6. The mailed link keeps the account; signing in works again ----------------------
        const link = new URL(await waitForMail(MAIL_DIR, me.email, '/account/restore', 60_000), BASE);
        await page.goto(link.pathname + link.search);
        await page.getByTestId('restore-keep').waitFor();
        assert.ok(!page.url().includes('token='), 'the token leaves the address bar');
        await threeWays(page, 'restore');
        await page.getByTestId('restore-keep').click();
        await page.getByTestId('restore-done').waitFor();
        await shot(page, 'restore-done');
        await page.getByTestId('restore-signin').click();
        await page.waitForURL(pathIs('/login'));
        await page.getByTestId('login-login').fill(me.username);
        await page.getByTestId('login-password').fill(me.password);
        await page.getByTestId('login-submit').click();
        await page.waitForURL(pathIs('/'));
        await page.getByTestId('user-menu').waitFor();

        // 7. Once more, kept from the sign-in page with "Keep my account" --------------------
        await page.goto('/settings/privacy');
        await page.getByTestId('delete-account').click();
        await page.getByTestId('delete-password').fill(me.password);
        await page.getByTestId('delete-confirm').click();
        await page.waitForURL(pathIs('/account/deleted'));
        await page.goto('/login');
        await page.getByTestId('login-login').fill(me.username);
        await page.getByTestId('login-password').fill(me.password);
        await page.getByTestId('login-submit').click();
        await page.getByTestId('login-keep-account').click();
        await page.waitForURL(pathIs('/'));
        await page.getByTestId('user-menu').waitFor();
        assert.equal((await apiInPage(page, 'GET', '/me')).data.username, me.username, 'signed in again, account kept');

        if (admin) {
          await admin.goto('/admin/privacy');
          await admin.locator('[data-testid="admin-deletions"] .table-status:empty, [data-testid="admin-deletions"] .empty').first().waitFor();
          assert.equal(await admin.locator(`[data-testid="deletion-row"][data-username="${me.username}"]`).count(), 0, 'no deletion is pending any more');
          await actx.close();
        }
      }

      // 8. The footer links every policy; each opens in the app -----------------------------
      await page.goto('/');
      const footerLinks = page.locator('[data-testid="footer-policies"] a');
      assert.equal(await footerLinks.count(), 5, 'the footer links the five policies');
      await page.locator('[data-testid="footer-policies"] a[href="/policies/cookies"]').click();
      await page.waitForURL(pathIs('/policies/cookies'));
      await page.locator('[data-testid="policy-page"][data-slug="cookies"]').waitFor();
      await page.locator('[data-testid="policy-text"] table').waitFor();
      await threeWays(page, 'cookie-policy');
      await page.goto('/terms');
      await page.waitForURL(pathIs('/policies/terms'));
      await page.locator('[data-testid="policy-page"][data-slug="terms"]').waitFor();

      // 9. Every cookie set is in the Cookie Policy ------------------------------------------
      const policy = await apiInPage(page, 'GET', '/policies/cookies');
      const listed = cookieNamesIn(policy.data.markdown);
      assert.ok(listed.size >= 3, `the Cookie Policy lists its cookies (${[...listed].join(', ')})`);
      const held = (await ctx.cookies()).map((c) => c.name);
      assert.ok(held.length >= 2, `the browser holds the session cookies (${held.join(', ')})`);
      for (const name of held) assert.ok(listed.has(name.replace(/^__Host-/, '')), `cookie ${name} is not named in the Cookie Policy (${[...listed].join(', ')})`);

      // 10. Nothing went to another origin ---------------------------------------------------
      assert.deepEqual(offsite, [], `requests to other origins: ${offsite.join(', ')}`);
      assert.deepEqual(problems, [], problems.join('\n'));
    } catch (err) {
      await shot(page, 'failure');
      throw err;
    }
  },
);
