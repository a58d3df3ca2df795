import { chromium } from 'playwright-core';
import { startMockServer } from './tests/browser/mock-server.mjs';
import fs from 'node:fs';
const srv = await startMockServer({ pow: false, mailDir: '/tmp/mails3', accessTtl: 2 });
const out = '/tmp/tour2'; fs.rmSync(out, { recursive: true, force: true }); fs.mkdirSync(out);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const problems = [];
const log = [];
function watch(p, label) {
  p.on('pageerror', e => problems.push(`${label} pageerror ${e.message}`));
  p.on('console', m => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`${label} console ${m.text()}`); });
  p.on('request', r => { if (r.url().includes('/api/')) log.push(`${label} ${r.method()} ${new URL(r.url()).pathname}`); });
}
const ctx = await browser.newContext({ baseURL: srv.url });
const page = await ctx.newPage(); watch(page, 'u');
// create an unverified user via signup
await page.goto('/signup');
await page.getByTestId('signup-email').fill('bob@example.test');
await page.getByTestId('signup-username').fill('bob');
await page.getByTestId('signup-password').fill('bob-password-1');
await page.getByTestId('signup-age').check();
await page.getByTestId('signup-terms').check();
await page.getByTestId('signup-submit').click();
await page.getByTestId('signup-done').waitFor();
// login unverified, with next
await page.goto('/settings/tokens');
await page.waitForURL(/\/login\?next=/);
console.log('redirected to', page.url());
await page.getByTestId('login-login').fill('bob');
await page.getByTestId('login-password').fill('bob-password-1');
await page.getByTestId('login-submit').click();
await page.waitForURL(u => new URL(u).pathname === '/settings/tokens');
await page.getByTestId('verify-banner').waitFor();
await page.getByTestId('verify-resend').click();
await page.getByTestId('toast').first().waitFor();
await page.screenshot({ path: `${out}/banner.png`, fullPage: true });
// access expiry: wait then navigate in-app
log.length = 0;
await page.waitForTimeout(3000);
await page.getByTestId('nav-security').click();
await page.getByTestId('session-row').first().waitFor();
console.log('after expiry (in-app nav):', log.join(' | '));
// full reload after expiry (cookie dropped by browser)
log.length = 0;
await page.waitForTimeout(3000);
await page.reload();
await page.getByTestId('session-row').first().waitFor();
console.log('after expiry (reload):', log.join(' | '));
// admin page as non-admin
await page.goto('/admin/users');
await page.getByTestId('forbidden').waitFor();
console.log('forbidden ok');
// keyboard: skip link
await page.goto('/settings/profile');
await page.keyboard.press('Tab');
const f1 = await page.evaluate(() => document.activeElement.className + '|' + document.activeElement.textContent);
await page.keyboard.press('Enter');
const f2 = await page.evaluate(() => document.activeElement.tagName + '|' + document.activeElement.textContent);
console.log('skip link:', f1, '->', f2, page.url());
// user menu keyboard
await page.getByTestId('user-menu').focus();
await page.keyboard.press('ArrowDown');
const m1 = await page.evaluate(() => document.activeElement.textContent);
await page.keyboard.press('ArrowUp');
const m2 = await page.evaluate(() => document.activeElement.textContent);
await page.keyboard.press('Escape');
const m3 = await page.evaluate(() => document.activeElement.dataset.testid);
console.log('menu keys:', m1, '/', m2, '/', m3);
// theme toggle
await page.getByTestId('theme-toggle').click();
console.log('theme:', await page.evaluate(() => document.documentElement.dataset.theme + ' ' + localStorage.getItem('sm-theme')));
// csrf cookie deleted before POST
await ctx.clearCookies({ name: 'sm_csrf' });
await page.goto('/settings/profile');
await ctx.clearCookies({ name: 'sm_csrf' });
await page.getByTestId('profile-bio').fill('hello');
await page.getByTestId('profile-submit').click();
await page.getByText('Profile saved').waitFor();
console.log('csrf re-prime ok');
// sign out everywhere
await page.goto('/settings/security');
await page.getByTestId('signout-all').click();
await page.getByTestId('confirm-ok').click();
await page.waitForURL(/\/login/);
console.log('signout-all ok', page.url());
// bad verify / reset token flows, forgot
await page.goto('/forgot');
await page.getByTestId('forgot-email').fill('bob@example.test');
await page.getByTestId('forgot-submit').click();
await page.getByTestId('forgot-done').waitFor();
const files = fs.readdirSync('/tmp/mails3').map(f => fs.readFileSync('/tmp/mails3/' + f, 'utf8')).filter(r => r.includes('/reset?token'));
const { findLink } = await import('./tests/browser/spine.test.mjs').catch(() => ({}));
console.log('reset mails', files.length);
console.log('problems:', problems);
await browser.close(); await srv.close();
