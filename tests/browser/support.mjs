// Shared helpers for the browser tests in this directory (spine, library, generate).
// Not a test itself: `node --test tests/browser/` only runs the *.test.mjs files.
//
// Environment (set by the harness, which starts the server and an SMTP sink):
//   STRATAMAKE_URL   base URL of the running server, e.g. http://127.0.0.1:8080   (tests are SKIPPED if unset)
//   MAIL_DIR         directory where the SMTP sink writes each received mail as *.eml (raw RFC 5322)
//   CHROMIUM         Chromium binary (default /usr/bin/chromium)
//   SCREENSHOT_DIR   if set, a PNG of every visited page is saved there
//   ADMIN_LOGIN, ADMIN_PASSWORD  an administrator's sign-in (tests that need one skip those parts without it)
//   TINY_MODEL_DIR   absolute path of models/tiny-sd (generate.test.mjs imports it as the admin)

import fs from 'node:fs/promises';
import path from 'node:path';
import assert from 'node:assert/strict';

export const BASE = process.env.STRATAMAKE_URL ? process.env.STRATAMAKE_URL.replace(/\/+$/, '') : '';
export const MAIL_DIR = process.env.MAIL_DIR || '';
export const ADMIN_LOGIN = process.env.ADMIN_LOGIN || '';
export const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
export const TINY_MODEL_DIR = process.env.TINY_MODEL_DIR || '';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// ------------------------------------------------------------------ mail parsing

export function parseHeaders(text) {
  const headers = {};
  for (const line of text.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

export function splitMessage(raw) {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return { headers: parseHeaders(raw), body: '' };
  return { headers: parseHeaders(raw.slice(0, m.index)), body: raw.slice(m.index + m[0].length) };
}

/** Quoted-printable: drop soft line breaks ("=\r\n" / "=\n"), turn =XX runs into UTF-8 text. */
export function decodeQuotedPrintable(s) {
  return s
    .replace(/=\r?\n/g, '')
    .replace(/(?:=[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/=/g, ''), 'hex').toString('utf8'));
}

/** Returns [{ type, text }] for every leaf part of a MIME message, decoded. */
export function mimeTextParts(raw) {
  const { headers, body } = splitMessage(raw);
  const ctype = headers['content-type'] || 'text/plain';
  if (/^multipart\//i.test(ctype)) {
    const b = /boundary="?([^";]+)"?/i.exec(ctype);
    if (!b) return [{ type: ctype, text: body }];
    const delim = `--${b[1]}`;
    const out = [];
    const segments = body.split(delim).slice(1);
    for (const seg of segments) {
      if (seg.startsWith('--')) break; // closing delimiter
      out.push(...mimeTextParts(seg.replace(/^[ \t]*\r?\n/, '')));
    }
    return out;
  }
  const cte = (headers['content-transfer-encoding'] || '').toLowerCase();
  let text = body;
  if (cte === 'quoted-printable') text = decodeQuotedPrintable(body);
  else if (cte === 'base64') text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return [{ type: ctype.toLowerCase(), text }];
}

/** Find a "/<route>?token=…" link in a raw mail; text/plain parts first. Returns the URL string or null. */
export function findLink(raw, route = '/verify') {
  const parts = mimeTextParts(raw);
  parts.sort((a, b) => (b.type.startsWith('text/plain') ? 1 : 0) - (a.type.startsWith('text/plain') ? 1 : 0));
  const candidates = [...parts.map((p) => p.text), decodeQuotedPrintable(raw)];
  const re = new RegExp(`(?:https?://[^\\s"'<>]+?)?${route.replace(/[/]/g, '\\/')}\\?token=[^\\s"'<>)\\]]+`);
  for (const text of candidates) {
    const m = re.exec(text.replace(/&amp;/g, '&'));
    if (m) return m[0];
  }
  return null;
}

/**
 * Poll `dir` until a *.eml addressed to `recipient` holds a "<route>?token=…" link.
 * Returns the link (URL string); throws after `timeoutMs`.
 */
export async function waitForMail(dir, recipient, route, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const needle = recipient.toLowerCase();
  let seen = 0;
  while (Date.now() < deadline) {
    let names = [];
    try {
      names = (await fs.readdir(dir)).filter((n) => n.endsWith('.eml'));
    } catch {
      /* directory may not exist yet */
    }
    seen = names.length;
    for (const name of names) {
      const raw = await fs.readFile(path.join(dir, name), 'utf8').catch(() => '');
      if (!raw.toLowerCase().includes(needle)) continue;
      const link = findLink(raw, route);
      if (link) return link;
    }
    await new Promise((r) => setTimeout(r, 400));
  }
  throw new Error(`no mail to ${recipient} containing ${route}?token= arrived in ${dir} within ${timeoutMs} ms (${seen} .eml files there)`);
}

// ------------------------------------------------------------------ browser helpers

/**
 * Returns `shot(page, name)`, which saves a full-page PNG to SCREENSHOT_DIR (if set) as
 * `${prefix}NN-${name}.png`, NN counting up from 01 for each returned function.
 */
export function screenshotter(prefix = '') {
  let seq = 0;
  return async function shot(page, name) {
    if (!SCREENSHOT_DIR || !page || page.isClosed()) return;
    await fs.mkdir(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `${prefix}${String(++seq).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch((e) => console.warn(`screenshot ${name} failed: ${e.message}`));
  };
}

/** Collect problems (JS errors, CSP violations, missing UI assets or blobs) from a page. */
export function watch(page, label, problems) {
  page.on('pageerror', (err) => problems.push(`[${label}] page error: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy/i.test(text)) problems.push(`[${label}] CSP violation: ${text}`);
  });
  page.on('response', (res) => {
    const u = new URL(res.url());
    if (res.status() === 404 && u.origin === new URL(BASE).origin && !u.pathname.startsWith('/api/')) problems.push(`[${label}] 404 for UI asset ${u.pathname}`);
  });
}

export async function waitForCount(locator, n, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let c = -1;
  while (Date.now() < deadline) {
    c = await locator.count();
    if (c === n) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`expected ${n} elements, still have ${c}`);
}

/** Predicate for page.waitForURL: the URL's path is exactly `p`. */
export const pathIs = (p) => (url) => new URL(url).pathname === p;

export async function signIn(page, login, password) {
  await page.goto('/login');
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-login').fill(login);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(pathIs('/'));
  await page.getByTestId('user-menu').waitFor();
}

/**
 * Sign up through the UI (waits for the proof of work if the instance asks for it), then
 * open the verification link from the mail. Needs signup_mode=open and MAIL_DIR.
 */
export async function signUpAndVerify(page, { email, username, password }, shot = async () => {}) {
  await page.goto('/signup');
  await page.locator('[data-testid="signup-form"], [data-testid="signup-closed"]').first().waitFor();
  assert.equal(await page.getByTestId('signup-closed').count(), 0, 'signups are closed on this server; the browser tests need signup_mode=open');
  assert.equal(await page.locator('[data-testid="signup-invite"][required]').count(), 0, 'this server is invite-only; the browser tests need signup_mode=open');
  await shot(page, 'signup');
  await page.getByTestId('signup-email').fill(email);
  await page.getByTestId('signup-username').fill(username);
  await page.getByTestId('signup-password').fill(password);
  await page.getByTestId('signup-age').check();
  await page.getByTestId('signup-terms').check();
  const pow = page.getByTestId('signup-pow');
  if (await pow.isVisible()) await page.locator('[data-testid="signup-pow"][data-state="solved"]').waitFor({ timeout: 120_000 });
  await shot(page, 'signup-filled');
  await page.getByTestId('signup-submit').click();
  await page.getByTestId('signup-done').waitFor({ timeout: 60_000 });
  await shot(page, 'signup-done');

  const link = await waitForMail(MAIL_DIR, email, '/verify', 60_000);
  const verifyUrl = new URL(link, BASE); // the mail may use the public URL; stay on BASE
  await page.goto(verifyUrl.pathname + verifyUrl.search);
  await page.locator('[data-testid="verify-success"], [data-testid="verify-error"]').first().waitFor({ timeout: 30_000 });
  await shot(page, 'verify');
  if (await page.getByTestId('verify-error').count()) assert.fail(`verification failed: ${await page.getByTestId('verify-error').innerText()}`);
}

/** JSON from the API inside the page (its cookies), with the CSRF header on unsafe methods. */
export async function apiInPage(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const csrf = (document.cookie.match(/(?:^|;\s*)(?:__Host-)?sm_csrf=([^;]+)/) || [])[1];
      const res = await fetch(`/api/v1${path}`, {
        method,
        credentials: 'same-origin',
        headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}), ...(csrf && method !== 'GET' ? { 'X-CSRF-Token': csrf } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, data: text ? JSON.parse(text) : null };
    },
    { method, path, body },
  );
}
