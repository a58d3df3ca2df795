// scratch: tour every page as admin against the mock, light/dark/mobile, report problems
import { chromium } from 'playwright-core';
import { startMockServer } from './tests/browser/mock-server.mjs';
import fs from 'node:fs';
const srv = await startMockServer({ pow: true, mailDir: '/tmp/mails2' });
const out = '/tmp/tour'; fs.rmSync(out, { recursive: true, force: true }); fs.mkdirSync(out);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const problems = [];
function watch(p, label) {
  p.on('pageerror', e => problems.push(`${label} pageerror ${e.message}`));
  p.on('console', m => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`${label} console ${m.text()}`); });
}
const ctx = await browser.newContext({ baseURL: srv.url, viewport: { width: 1280, height: 860 } });
const page = await ctx.newPage(); watch(page, 'admin');
await page.goto(srv.setupUrl.replace(srv.url, ''));
await page.getByTestId('setup-form').waitFor();
await page.screenshot({ path: `${out}/setup.png`, fullPage: true });
await page.getByTestId('setup-email').fill('admin@example.test');
await page.getByTestId('setup-username').fill('admin');
await page.getByTestId('setup-password').fill('short');
await page.getByTestId('setup-submit').click();
await page.screenshot({ path: `${out}/setup-error.png`, fullPage: true });
await page.getByTestId('setup-password').fill('admin-password-123');
await page.getByTestId('setup-submit').click();
await page.getByTestId('dashboard').waitFor();
const pages = ['/', '/settings/profile', '/settings/security', '/settings/tokens', '/admin/users', '/admin/invites', '/admin/settings', '/admin/mail', '/admin/audit', '/nope'];
for (const theme of ['light', 'dark']) {
  await page.evaluate(t => localStorage.setItem('sm-theme', t), theme);
  for (const p of pages) {
    await page.goto(p); await page.waitForTimeout(300);
    await page.screenshot({ path: `${out}/${theme}${p.replace(/\//g, '_') || '_home'}.png`, fullPage: true });
  }
}
// interactions
await page.goto('/settings/tokens');
await page.getByTestId('token-name').fill('CI script');
await page.getByTestId('token-scope-generate').check();
await page.getByTestId('token-create').click();
await page.getByTestId('token-secret').waitFor();
await page.waitForTimeout(300);
await page.screenshot({ path: `${out}/token-created.png`, fullPage: true });
await page.goto('/settings/profile');
await page.getByTestId('profile-display-name').fill('Ada Admin');
await page.getByTestId('profile-link').first().fill('ftp://bad');
await page.getByTestId('profile-submit').click();
await page.waitForTimeout(300);
await page.screenshot({ path: `${out}/profile-error.png`, fullPage: true });
await page.getByTestId('profile-link').first().fill('https://example.com');
await page.getByTestId('profile-submit').click();
await page.waitForTimeout(400);
await page.screenshot({ path: `${out}/profile-saved.png`, fullPage: true });
await page.goto('/admin/invites');
await page.getByTestId('invite-create').click();
await page.getByTestId('invite-new-url').waitFor();
await page.screenshot({ path: `${out}/invite-created.png`, fullPage: true });
await page.goto('/admin/mail');
await page.getByTestId('mail-test-submit').click();
await page.getByTestId('mail-test-transcript').waitFor();
await page.screenshot({ path: `${out}/mail-test.png`, fullPage: true });
await page.goto('/admin/settings');
await page.getByTestId('admin-signup-mode-invite').check();
await page.getByTestId('admin-settings-save').click();
await page.waitForTimeout(300);
await page.screenshot({ path: `${out}/settings-saved.png`, fullPage: true });
// user menu open
await page.getByTestId('user-menu').click();
await page.screenshot({ path: `${out}/user-menu.png` });
await page.keyboard.press('Escape');
// mobile
const m = await browser.newContext({ baseURL: srv.url, viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
await m.addCookies(await ctx.cookies());
const mp = await m.newPage(); watch(mp, 'mobile');
await mp.goto('/admin/users'); await mp.waitForTimeout(400);
await mp.screenshot({ path: `${out}/m-admin-users.png`, fullPage: true });
await mp.locator('.menu-toggle').click(); await mp.waitForTimeout(400);
await mp.screenshot({ path: `${out}/m-drawer.png` });
await mp.keyboard.press('Escape');
await mp.goto('/settings/security'); await mp.waitForTimeout(400);
await mp.screenshot({ path: `${out}/m-security.png`, fullPage: true });
// signed out pages
const so = await browser.newContext({ baseURL: srv.url, viewport: { width: 1280, height: 860 }, colorScheme: 'dark' });
const sp = await so.newPage(); watch(sp, 'anon');
for (const p of ['/', '/login', '/signup?invite=abc', '/forgot', '/reset', '/reset?token=zzz', '/verify?token=bad', '/setup?token=bad', '/settings/profile']) {
  await sp.goto(p); await sp.waitForTimeout(500);
  await sp.screenshot({ path: `${out}/anon${p.replace(/[/?=]/g, '_')}.png`, fullPage: true });
}
await sp.goto('/login'); await sp.getByTestId('login-login').fill('admin'); await sp.getByTestId('login-password').fill('wrong'); await sp.getByTestId('login-submit').click(); await sp.waitForTimeout(400);
await sp.screenshot({ path: `${out}/anon-login-error.png`, fullPage: true });
await sp.goto('/signup'); await sp.getByTestId('signup-submit').click(); await sp.waitForTimeout(400);
await sp.screenshot({ path: `${out}/anon-signup-errors.png`, fullPage: true });
console.log('problems:', problems);
await browser.close(); await srv.close();
