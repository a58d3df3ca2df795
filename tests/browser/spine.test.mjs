// End-to-end "spine" test of the StrataMake web UI in a real Chromium.
//
//   node --test tests/browser/
//
// Environment (set by the harness, which starts the server and an SMTP sink):
//   STRATAMAKE_URL   base URL of the running server, e.g. http://127.0.0.1:8080   (test is SKIPPED if unset)
//   MAIL_DIR         directory where the SMTP sink writes each received mail as *.eml (raw RFC 5322)
//   CHROMIUM         Chromium binary (default /usr/bin/chromium)
//   SCREENSHOT_DIR   if set, a PNG of every visited page is saved there
//
// Flow: sign up (waits for the proof-of-work if the instance requires it) -> open the
// verification link from the mail -> sign in -> /settings/security -> sign in from a
// second browser context -> revoke that other session from the first (its row
// disappears, its refresh stops working) -> sign out.
// The test also fails on any uncaught page error, any CSP violation and any 404 for
// a UI asset.
//
// ---------------------------------------------------------------------------
// Stable data-testid hooks provided by web/ (keep in sync with the UI):
//
// Shell        user-menu (account menu button), signout (menu item), theme-toggle,
//              nav-signin, nav-signup (signed out), nav-home, nav-profile, nav-security,
//              nav-tokens, nav-admin (admin nav group), nav-admin-{users,invites,settings,mail,audit},
//              verify-banner, verify-resend (unverified-email banner), toast,
//              confirm-ok / confirm-cancel (confirmation dialog)
// Home         dashboard (signed in), landing, landing-signup, landing-signin,
//              feature-{generate,3d,library,community} (each links to its page), quick-*
// Sign up      signup-form, signup-invite, signup-email, signup-username, signup-password,
//              signup-age, signup-terms, signup-pow (data-state = solving|solved|error),
//              signup-submit, signup-done ("Check your inbox"), signup-closed, oidc-{provider id}
// Verify       verify-pending, verify-success, verify-error, verify-signin, verify-continue
// Sign in      login-form, login-login, login-password, login-submit, login-forgot, login-to-signup
// Forgot       forgot-form, forgot-email, forgot-submit, forgot-done
// Reset        reset-form, reset-password, reset-confirm, reset-submit, reset-done, reset-error
// Setup        setup-form, setup-email, setup-username, setup-password, setup-submit, setup-invalid
// Profile      profile-form, profile-display-name, profile-username, profile-bio, profile-link,
//              profile-link-add, profile-link-remove, profile-submit
// Security     sessions-card, session-list, session-row (data-current="true|false",
//              data-session-id), session-current (the "This device" badge), session-revoke,
//              signout-all, password-form, password-current, password-new, password-confirm,
//              password-submit, email-form, email-new, email-password, email-submit, email-done
// Tokens       token-form, token-name, token-expiry, token-scope-{read,generate,publish,admin},
//              token-create, token-secret (shown once), token-copy, token-secret-done,
//              tokens-card, token-row, token-revoke
// Admin        admin-user-search, admin-user-row (data-user-id, data-username), admin-user-role,
//              admin-user-disabled; invite-form, invite-expiry, invite-create, invite-new-url,
//              invite-row, invite-copy, invite-delete; admin-settings-form,
//              admin-signup-mode-{open,invite,closed}, admin-pow-required, admin-settings-save;
//              mail-test-form, mail-test-to, mail-test-submit, mail-test-result (data-ok),
//              mail-test-transcript, mail-row (data-status), mail-refresh; audit-row, audit-refresh
// Misc         not-found, forbidden
// ---------------------------------------------------------------------------

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  MAIL_DIR,
  CHROMIUM,
  LAUNCH_ARGS,
  decodeQuotedPrintable,
  findLink,
  screenshotter,
  signUpAndVerify,
  watch,
  waitForCount,
  pathIs,
  signIn,
} from './support.mjs';

const shot = screenshotter(); // NN-name.png

// ------------------------------------------------------------------ the test

test(
  'spine: sign up, verify email, sign in, manage sessions, sign out',
  { skip: BASE ? false : 'STRATAMAKE_URL is not set (the harness starts the server and sets it)', timeout: 240_000 },
  async (t) => {
    assert.ok(MAIL_DIR, 'MAIL_DIR must point at the directory where the SMTP sink writes *.eml files');
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    t.after(() => browser.close());

    const problems = [];
    const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const username = `spine_${stamp}`.slice(0, 30);
    const email = `${username}@example.test`;
    const password = `Strata-${stamp}-Correct-Horse!`;

    const ctxA = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 860 } });
    ctxA.setDefaultTimeout(20_000);
    const page = await ctxA.newPage();
    watch(page, 'A', problems);
    let pageB = null;

    try {
      // 1-2. Sign up, then verify the email address from the mail ---------------------
      await signUpAndVerify(page, { email, username, password }, shot);
      assert.ok(!new URL(page.url()).searchParams.has('token'), 'the one-time token should be removed from the address bar');

      // 3. Sign in ----------------------------------------------------------------
      await signIn(page, username, password);
      await page.getByTestId('dashboard').waitFor();
      assert.equal(await page.getByTestId('verify-banner').count(), 0, 'verified users must not see the verify banner');
      await shot(page, 'home');

      // 4. Security page: one session, this device -------------------------------
      await page.goto('/settings/security');
      const rows = page.getByTestId('session-row');
      await rows.first().waitFor();
      await shot(page, 'security');
      await page.locator('[data-testid="session-row"][data-current="true"]').getByTestId('session-current').waitFor();
      const before = await rows.count();

      // 5. Second device -----------------------------------------------------------
      const ctxB = await browser.newContext({ baseURL: BASE, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      ctxB.setDefaultTimeout(20_000);
      pageB = await ctxB.newPage();
      watch(pageB, 'B', problems);
      await signIn(pageB, email, password);
      await shot(pageB, 'second-device-home');

      // 6. Revoke the other session from the first device ---------------------------
      await page.reload();
      await waitForCount(rows, before + 1);
      const others = page.locator('[data-testid="session-row"][data-current="false"]');
      assert.ok((await others.count()) >= 1, 'the second device should be listed as another session');
      await shot(page, 'security-two-sessions');
      const otherId = await others.last().getAttribute('data-session-id');
      await others.last().getByTestId('session-revoke').click();
      await waitForCount(page.locator(`[data-testid="session-row"][data-session-id="${otherId}"]`), 0);
      await waitForCount(rows, before);
      assert.equal(await page.locator('[data-testid="session-row"][data-current="true"]').count(), 1, 'this device must still be listed');
      await shot(page, 'security-revoked');

      // The revoked device can no longer refresh its session.
      const refreshStatus = await pageB.evaluate(async () => {
        const m = document.cookie.match(/(?:^|;\s*)(?:__Host-)?sm_csrf=([^;]*)/);
        const res = await fetch('/api/v1/auth/refresh', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': m ? m[1] : '' },
          body: '{}',
        });
        return res.status;
      });
      assert.ok(refreshStatus >= 400, `refresh for a revoked session answered ${refreshStatus}`);

      // 7. Sign out -------------------------------------------------------------------
      await page.getByTestId('user-menu').click();
      await page.getByTestId('signout').click();
      await page.waitForURL(pathIs('/login'));
      await page.getByTestId('login-form').waitFor();
      await shot(page, 'signed-out');

      await page.goto('/settings/security');
      await page.waitForURL(pathIs('/login'));
      assert.equal(new URL(page.url()).searchParams.get('next'), '/settings/security');
      await page.getByTestId('login-form').waitFor();
      await shot(page, 'signed-out-redirect');

      assert.deepEqual(problems, [], 'the UI reported errors');
    } catch (err) {
      await shot(page, 'FAILED-A');
      if (pageB) await shot(pageB, 'FAILED-B');
      if (problems.length) console.error(`browser problems:\n${problems.join('\n')}`);
      throw err;
    }
  },
);

test('mail parsing handles quoted-printable soft breaks and =3D', () => {
  const raw = [
    'From: StrataMake <noreply@example.test>',
    'To: someone@example.test',
    'Subject: Verify',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Hi =E2=80=94 open http://localhost:8080/verify?token=3DabcDEF_123-xyz0123456789abcdef=',
    '0123456789 to confirm.',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('<a href="http://x/verify?token=other&amp;a=1">x</a>').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n');
  assert.equal(findLink(raw), 'http://localhost:8080/verify?token=abcDEF_123-xyz0123456789abcdef0123456789');
  assert.equal(decodeQuotedPrintable('a=3Db=\nc =E2=80=94'), 'a=bc \u2014');
});
