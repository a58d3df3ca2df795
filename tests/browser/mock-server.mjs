// Development stand-in for the StrataMake server, used to exercise the web UI
// (and tests/browser/spine.test.mjs) without the Rust binary. It serves web/
// with the production Content-Security-Policy and implements the /api/v1
// contract the UI relies on, in memory. Mails are written as *.eml files
// (quoted-printable text part + base64 HTML part) into MAIL_DIR.
//
//   node tests/browser/mock-server.mjs            # prints URL, setup link, MAIL_DIR
//   PORT=8099 MOCK_POW=1 MAIL_DIR=/tmp/mails node tests/browser/mock-server.mjs
//
// Then, in another shell:
//   STRATAMAKE_URL=http://127.0.0.1:8099 MAIL_DIR=/tmp/mails node --test tests/browser/
//
// This is NOT the real server and not a spec; it only mirrors the API shapes
// documented for the UI so front-end work can be checked in isolation.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'";
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};
const PROBLEM_BASE = 'urn:stratamake:problem:'; // same shape as the real server

const now = () => Math.floor(Date.now() / 1000);
const rand = (n = 16) => crypto.randomBytes(n).toString('hex');
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

// ---------------------------------------------------------------- mail encoding

function qpEncode(text) {
  const bytes = Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
  const lines = [];
  let line = '';
  const push = (tok) => {
    if (line.length + tok.length > 75) {
      lines.push(`${line}=`);
      line = '';
    }
    line += tok;
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0d && bytes[i + 1] === 0x0a) {
      lines.push(line);
      line = '';
      i++;
      continue;
    }
    if ((b >= 33 && b <= 126 && b !== 61) || b === 32) push(String.fromCharCode(b));
    else push(`=${b.toString(16).toUpperCase().padStart(2, '0')}`);
  }
  lines.push(line);
  return lines.join('\r\n');
}

function buildMail({ to, subject, text, html }) {
  const boundary = `b_${rand(8)}`;
  const b64 = Buffer.from(html, 'utf8')
    .toString('base64')
    .replace(/(.{76})/g, '$1\r\n');
  return [
    'From: StrataMake <noreply@stratamake.invalid>',
    `To: ${to}`,
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${rand(8)}@stratamake.invalid>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    qpEncode(text),
    `--${boundary}`,
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

// ---------------------------------------------------------------- server

export function startMockServer(opts = {}) {
  const webDir = opts.webDir || path.resolve(HERE, '../../web');
  const mailDir = opts.mailDir || fs.mkdtempSync(path.join(os.tmpdir(), 'sm-mail-'));
  fs.mkdirSync(mailDir, { recursive: true });
  const accessTtl = opts.accessTtl || 900;
  const hmacKey = rand(32);

  const db = {
    settings: { signup_mode: opts.signupMode || 'open', pow_required: !!opts.pow },
    users: new Map(),
    sessions: new Map(),
    access: new Map(),
    verify: new Map(),
    reset: new Map(),
    emailChange: new Map(),
    invites: new Map(),
    tokens: new Map(),
    usedPow: new Set(),
    mail: [],
    audit: [],
    setupToken: rand(16),
    seq: 1,
  };
  const nextId = () => String(db.seq++);

  function audit(actor, action, target, detail = '') {
    db.audit.unshift({ id: nextId(), actor, action, target, detail, created_at: now() });
  }

  function sendMail(origin, to, subject, kind, text) {
    const html = `<p>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/(https?:\/\/[^\s<]+)/g, '<a href="$1">$1</a>').replace(/\n/g, '<br>')}</p>`;
    const raw = buildMail({ to, subject, text, html });
    fs.writeFileSync(path.join(mailDir, `${Date.now()}-${rand(4)}.eml`), raw);
    db.mail.unshift({ id: nextId(), to, subject, kind, status: 'sent', attempts: 1, last_error: null, created_at: now(), sent_at: now() });
  }

  // --- helpers -----------------------------------------------------------------
  const cookies = (req) => Object.fromEntries((req.headers.cookie || '').split(';').map((c) => c.trim().split('=')).filter((p) => p[0]).map(([k, ...v]) => [k, v.join('=')]));

  function send(res, status, body, headers = {}) {
    const h = { 'Cache-Control': 'no-store', ...headers };
    if (body === null || body === undefined) {
      res.writeHead(status, h);
      res.end();
      return;
    }
    h['Content-Type'] = h['Content-Type'] || 'application/json';
    res.writeHead(status, h);
    res.end(JSON.stringify(body));
  }
  function problem(res, status, slug, title, detail, errors) {
    send(res, status, { type: PROBLEM_BASE + slug, title, status, detail, ...(errors ? { errors } : {}) }, { 'Content-Type': 'application/problem+json' });
  }
  const pubUser = (u) => ({ id: u.id, username: u.username, email: u.email, email_verified: u.email_verified, display_name: u.display_name, bio: u.bio, links: u.links, role: u.role, created_at: u.created_at, has_password: true });
  const adminUser = (u) => ({ id: u.id, username: u.username, email: u.email, role: u.role, email_verified: u.email_verified, disabled: u.disabled, created_at: u.created_at, last_login_at: u.last_login_at });

  function uaInfo(ua = '') {
    const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? (/HeadlessChrome/.test(ua) ? 'Headless Chrome' : 'Chrome') : /Safari\//.test(ua) ? 'Safari' : 'Unknown browser';
    const osName = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : 'Unknown OS';
    const device = /Mobile|Android|iPhone/.test(ua) ? 'Smartphone' : 'Desktop';
    return { browser, os: osName, device };
  }

  function authCookies(res, session, secure) {
    const access = rand(24);
    db.access.set(access, { session_id: session.id, exp: now() + accessTtl });
    session.refresh = rand(24);
    const attrs = `Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
    return {
      cookies: [`sm_access=${access}; ${attrs}; Max-Age=${accessTtl}`, `sm_refresh=${session.refresh}; ${attrs}; Max-Age=2592000`],
      body: { access_token: access, refresh_token: session.refresh, expires_in: accessTtl, token_type: 'Bearer' },
    };
  }
  const clearAuth = ['sm_access=; Path=/; HttpOnly; Max-Age=0', 'sm_refresh=; Path=/; HttpOnly; Max-Age=0'];

  function newSession(req, user) {
    const s = { id: nextId(), user_id: user.id, created_at: now(), last_used_at: now(), ip: req.socket.remoteAddress || '', ...uaInfo(req.headers['user-agent']) };
    db.sessions.set(s.id, s);
    user.last_login_at = now();
    return s;
  }

  function currentAuth(req) {
    const c = cookies(req);
    const a = c.sm_access && db.access.get(c.sm_access);
    if (!a) return { err: 'unauthenticated' };
    if (a.exp < now()) return { err: 'token-expired' };
    const s = db.sessions.get(a.session_id);
    if (!s) return { err: 'unauthenticated' };
    const u = db.users.get(s.user_id);
    if (!u || u.disabled) return { err: 'unauthenticated' };
    s.last_used_at = now();
    return { user: u, session: s };
  }

  function readJson(req) {
    return new Promise((resolve) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        try {
          resolve(data ? JSON.parse(data) : {});
        } catch {
          resolve(null);
        }
      });
    });
  }

  const validEmail = (e) => typeof e === 'string' && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e);
  const validUsername = (u) => typeof u === 'string' && /^[a-z0-9][a-z0-9_.]{2,29}$/i.test(u);
  const findLogin = (login) => [...db.users.values()].find((u) => u.username.toLowerCase() === String(login).toLowerCase() || u.email.toLowerCase() === String(login).toLowerCase());
  const page = (items, cursor, size = 20) => {
    const start = cursor ? Number(cursor) : 0;
    const slice = items.slice(start, start + size);
    return { items: slice, next_cursor: start + size < items.length ? String(start + size) : null };
  };

  // --- API ---------------------------------------------------------------------
  async function api(req, res, url) {
    const method = req.method;
    const p = url.pathname.replace(/^\/api\/v1/, '');
    const c = cookies(req);
    const origin = `http://${req.headers.host}`;

    if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) {
      if (!c.sm_csrf || req.headers['x-csrf-token'] !== c.sm_csrf) return problem(res, 403, 'csrf', 'CSRF check failed', 'Missing or wrong X-CSRF-Token header.');
    }
    const body = ['POST', 'PUT', 'PATCH'].includes(method) ? await readJson(req) : {};
    if (body === null) return problem(res, 400, 'bad-request', 'Bad request', 'Body is not valid JSON.');

    const needUser = () => {
      const a = currentAuth(req);
      if (a.err) {
        problem(res, 401, a.err, a.err === 'token-expired' ? 'Token expired' : 'Not signed in', 'Please sign in.');
        return null;
      }
      return a;
    };
    const needAdmin = () => {
      const a = needUser();
      if (!a) return null;
      if (a.user.role !== 'admin') {
        problem(res, 403, 'forbidden', 'Forbidden', 'Administrators only.');
        return null;
      }
      return a;
    };
    let m;

    if (method === 'GET' && p === '/config/public') {
      return send(res, 200, { instance_name: 'StrataMake', signup_mode: db.settings.signup_mode, pow_required: db.settings.pow_required, oidc_providers: opts.oidc ? [{ id: 'example', name: 'Example ID' }] : [], terms_version: '2025-01', privacy_version: '2025-01' });
    }
    if (method === 'GET' && p === '/auth/challenge') {
      const maxnumber = opts.powMax || 60000;
      const salt = `${rand(12)}?expires=${now() + 600}`;
      const number = crypto.randomInt(0, maxnumber + 1);
      const challenge = sha256(salt + number);
      const signature = crypto.createHmac('sha256', hmacKey).update(challenge).digest('hex');
      return send(res, 200, { algorithm: 'SHA-256', challenge, salt, maxnumber, signature });
    }
    if (method === 'POST' && p === '/auth/signup') {
      if (db.settings.signup_mode === 'closed') return problem(res, 403, 'signups-closed', 'Signups are closed', 'This instance does not accept new accounts.');
      const errors = {};
      if (!validEmail(body.email)) errors.email = 'Enter a valid email address.';
      else if ([...db.users.values()].some((u) => u.email === body.email.toLowerCase())) errors.email = 'An account with this email already exists.';
      if (!validUsername(body.username)) errors.username = 'Use 3 to 30 letters, digits, _ or ., starting with a letter or digit.';
      else if (findLogin(body.username)) errors.username = 'This username is taken.';
      if (typeof body.password !== 'string' || body.password.length < 8) errors.password = 'Use at least 8 characters.';
      if (body.age_confirmed !== true) errors.age_confirmed = 'You must be at least 13 years old.';
      if (body.accept_terms !== true) errors.accept_terms = 'You need to accept the terms to continue.';
      let invite = null;
      if (db.settings.signup_mode === 'invite') {
        invite = [...db.invites.values()].find((i) => i.code === body.invite && !i.used_at && (!i.expires_at || i.expires_at > now()));
        if (!invite) errors.invite = 'This invite code is not valid.';
      }
      if (db.settings.pow_required) {
        const pw = body.pow || {};
        const sig = crypto.createHmac('sha256', hmacKey).update(String(pw.challenge)).digest('hex');
        if (pw.signature !== sig || sha256(String(pw.salt) + String(pw.number)) !== pw.challenge || db.usedPow.has(pw.challenge)) errors.pow = 'Proof of work failed, please retry.';
        else db.usedPow.add(pw.challenge);
      }
      if (Object.keys(errors).length) return problem(res, 422, 'validation', 'Invalid input', 'Some fields need attention.', errors);
      const u = { id: nextId(), username: body.username, email: body.email.toLowerCase(), password: body.password, email_verified: false, display_name: '', bio: '', links: [], role: 'user', disabled: false, created_at: now(), last_login_at: null };
      db.users.set(u.id, u);
      if (invite) {
        invite.used_at = now();
        invite.used_by = u.username;
      }
      const t = rand(20);
      db.verify.set(t, u.id);
      sendMail(origin, u.email, 'Confirm your StrataMake account', 'verify_email', `Hi ${u.username} \u2014 welcome to StrataMake!\n\nConfirm your email address by opening this link:\n${origin}/verify?token=${t}\n\nIf you did not sign up, ignore this message.`);
      audit(u.username, 'user.signup', u.username);
      return send(res, 202, { message: `We sent a confirmation link to ${u.email}.` });
    }
    if (method === 'POST' && p === '/auth/verify-email') {
      const uid = db.verify.get(body.token);
      if (!uid) return problem(res, 400, 'invalid-token', 'Invalid link', 'This verification link is invalid or has expired.');
      db.verify.delete(body.token);
      const u = db.users.get(uid);
      const pending = db.emailChange.get(body.token);
      if (pending) u.email = pending;
      u.email_verified = true;
      audit(u.username, 'user.email_verified', u.email);
      return send(res, 200, { message: 'Your email address is confirmed.' });
    }
    if (method === 'POST' && p === '/auth/verify-email/resend') {
      const a = needUser();
      if (!a) return;
      const t = rand(20);
      db.verify.set(t, a.user.id);
      sendMail(origin, a.user.email, 'Confirm your StrataMake account', 'verify_email', `Confirm your email:\n${origin}/verify?token=${t}`);
      return send(res, 202, { message: 'Sent.' });
    }
    if (method === 'POST' && p === '/auth/login') {
      const u = findLogin(body.login || '');
      if (!u || u.password !== body.password) return problem(res, 401, 'invalid-credentials', 'Sign-in failed', 'Wrong username/email or password.');
      if (u.disabled) return problem(res, 403, 'account-disabled', 'Account disabled', 'This account has been disabled.');
      const s = newSession(req, u);
      const { cookies: ck, body: out } = authCookies(res, s);
      audit(u.username, 'auth.login', `session ${s.id}`);
      return send(res, 200, out, { 'Set-Cookie': ck });
    }
    if (method === 'POST' && p === '/auth/refresh') {
      const s = [...db.sessions.values()].find((x) => x.refresh && x.refresh === c.sm_refresh);
      if (!s) return problem(res, 401, 'invalid-refresh', 'Session ended', 'Please sign in again.');
      s.last_used_at = now();
      const { cookies: ck, body: out } = authCookies(res, s);
      return send(res, 200, out, { 'Set-Cookie': ck });
    }
    if (method === 'POST' && p === '/auth/logout') {
      const a = currentAuth(req);
      const s = a.session || [...db.sessions.values()].find((x) => x.refresh === c.sm_refresh);
      if (s) {
        if (body.all) for (const [id, x] of db.sessions) if (x.user_id === s.user_id) db.sessions.delete(id);
        db.sessions.delete(s.id);
      }
      return send(res, 204, null, { 'Set-Cookie': clearAuth });
    }
    if (method === 'POST' && p === '/auth/password/forgot') {
      const u = validEmail(body.email) && [...db.users.values()].find((x) => x.email === body.email.toLowerCase());
      if (!validEmail(body.email)) return problem(res, 422, 'validation', 'Invalid input', 'Check the email.', { email: 'Enter a valid email address.' });
      if (u) {
        const t = rand(20);
        db.reset.set(t, u.id);
        sendMail(origin, u.email, 'Reset your StrataMake password', 'password_reset', `Choose a new password:\n${origin}/reset?token=${t}`);
      }
      return send(res, 202, { message: `If an account exists for ${body.email}, we sent a reset link.` });
    }
    if (method === 'POST' && p === '/auth/password/reset') {
      const uid = db.reset.get(body.token);
      if (!uid) return problem(res, 400, 'invalid-token', 'Invalid link', 'This reset link is invalid or has expired.');
      if (typeof body.password !== 'string' || body.password.length < 8) return problem(res, 422, 'validation', 'Invalid input', 'Check the password.', { password: 'Use at least 8 characters.' });
      db.reset.delete(body.token);
      db.users.get(uid).password = body.password;
      return send(res, 200, { message: 'Password updated.' });
    }
    if ((m = /^\/auth\/oidc\/([^/]+)\/start$/.exec(p))) return send(res, 302, null, { Location: `/login?error=oidc_not_configured` });
    if (method === 'GET' && p === '/setup/status') return send(res, 200, { valid: !!db.setupToken && url.searchParams.get('token') === db.setupToken });
    if (method === 'POST' && p === '/setup') {
      if (!db.setupToken || body.token !== db.setupToken) return problem(res, 403, 'invalid-setup-token', 'Invalid setup link', 'This setup link is not valid.');
      const errors = {};
      if (!validEmail(body.email)) errors.email = 'Enter a valid email address.';
      if (!validUsername(body.username)) errors.username = 'Use 3 to 30 letters, digits, _ or ., starting with a letter or digit.';
      if (typeof body.password !== 'string' || body.password.length < 8) errors.password = 'Use at least 8 characters.';
      if (Object.keys(errors).length) return problem(res, 422, 'validation', 'Invalid input', 'Some fields need attention.', errors);
      const u = { id: nextId(), username: body.username, email: body.email.toLowerCase(), password: body.password, email_verified: true, display_name: '', bio: '', links: [], role: 'admin', disabled: false, created_at: now(), last_login_at: null };
      db.users.set(u.id, u);
      db.setupToken = null;
      const s = newSession(req, u);
      const { cookies: ck, body: out } = authCookies(res, s);
      audit(u.username, 'setup.admin_created', u.username);
      return send(res, 201, out, { 'Set-Cookie': ck });
    }

    // --- signed in -------------------------------------------------------------
    if (p === '/me' && method === 'GET') {
      const a = needUser();
      if (a) send(res, 200, pubUser(a.user));
      return;
    }
    if (p === '/me' && method === 'PATCH') {
      const a = needUser();
      if (!a) return;
      const errors = {};
      if ('username' in body && !validUsername(body.username)) errors.username = 'Use 3 to 30 letters, digits, _ or ., starting with a letter or digit.';
      else if ('username' in body && findLogin(body.username) && findLogin(body.username) !== a.user) errors.username = 'This username is taken.';
      if ('links' in body && (body.links || []).length > 5) errors.links = 'Add at most 5 links.';
      if ('links' in body) (body.links || []).forEach((l, i) => { if (!/^https?:\/\//.test(l)) errors[`links[${i}]`] = 'Links must start with http:// or https://'; });
      if ('bio' in body && String(body.bio).length > 500) errors.bio = 'Keep it under 500 characters.';
      if (Object.keys(errors).length) return problem(res, 422, 'validation', 'Invalid input', 'Some fields need attention.', errors);
      for (const k of ['display_name', 'bio', 'links', 'username']) if (k in body) a.user[k] = body[k];
      return send(res, 200, pubUser(a.user));
    }
    if (p === '/me/password' && method === 'POST') {
      const a = needUser();
      if (!a) return;
      if (body.current_password !== a.user.password) return problem(res, 422, 'validation', 'Invalid input', 'Check your current password.', { current_password: 'This is not your current password.' });
      if (typeof body.new_password !== 'string' || body.new_password.length < 8) return problem(res, 422, 'validation', 'Invalid input', 'Check the new password.', { new_password: 'Use at least 8 characters.' });
      a.user.password = body.new_password;
      return send(res, 204, null);
    }
    if (p === '/me/email' && method === 'POST') {
      const a = needUser();
      if (!a) return;
      if (body.password !== a.user.password) return problem(res, 422, 'validation', 'Invalid input', 'Check your password.', { password: 'Wrong password.' });
      if (!validEmail(body.new_email)) return problem(res, 422, 'validation', 'Invalid input', 'Check the email.', { new_email: 'Enter a valid email address.' });
      const t = rand(20);
      db.verify.set(t, a.user.id);
      db.emailChange.set(t, body.new_email.toLowerCase());
      sendMail(origin, body.new_email, 'Confirm your new email', 'email_change', `Confirm your new address:\n${origin}/verify?token=${t}`);
      return send(res, 202, { message: `We sent a confirmation link to ${body.new_email}.` });
    }
    if (p === '/me/sessions' && method === 'GET') {
      const a = needUser();
      if (!a) return;
      const items = [...db.sessions.values()].filter((s) => s.user_id === a.user.id).map((s) => ({ id: s.id, device: s.device, browser: s.browser, os: s.os, ip: s.ip, place: 'Local network', created_at: s.created_at, last_used_at: s.last_used_at, current: s.id === a.session.id }));
      return send(res, 200, { items });
    }
    if ((m = /^\/me\/sessions\/([^/]+)$/.exec(p)) && method === 'DELETE') {
      const a = needUser();
      if (!a) return;
      const s = db.sessions.get(decodeURIComponent(m[1]));
      if (!s || s.user_id !== a.user.id) return problem(res, 404, 'not-found', 'Not found', 'No such session.');
      db.sessions.delete(s.id);
      audit(a.user.username, 'session.revoke', `session ${s.id}`);
      return send(res, 204, null);
    }
    if (p === '/me/tokens' && method === 'GET') {
      const a = needUser();
      if (!a) return;
      return send(res, 200, { items: [...db.tokens.values()].filter((t) => t.user_id === a.user.id).map(({ user_id, secret, ...t }) => t) });
    }
    if (p === '/me/tokens' && method === 'POST') {
      const a = needUser();
      if (!a) return;
      const errors = {};
      if (!body.name || !String(body.name).trim()) errors.name = 'Give the token a name.';
      const allowed = ['read', 'generate', 'publish', ...(a.user.role === 'admin' ? ['admin'] : [])];
      if (!Array.isArray(body.scopes) || !body.scopes.length || body.scopes.some((s) => !allowed.includes(s))) errors.scopes = 'Choose valid scopes.';
      if (Object.keys(errors).length) return problem(res, 422, 'validation', 'Invalid input', 'Some fields need attention.', errors);
      const secret = `smk_${rand(24)}`;
      const t = { id: nextId(), user_id: a.user.id, name: body.name, scopes: body.scopes, prefix: secret.slice(0, 10), created_at: now(), last_used_at: null, expires_at: body.expires_in_days ? now() + body.expires_in_days * 86400 : null, secret };
      db.tokens.set(t.id, t);
      const { user_id, secret: _s, ...pub } = t;
      return send(res, 201, { ...pub, token: secret });
    }
    if ((m = /^\/me\/tokens\/([^/]+)$/.exec(p)) && method === 'DELETE') {
      const a = needUser();
      if (!a) return;
      const t = db.tokens.get(decodeURIComponent(m[1]));
      if (!t || t.user_id !== a.user.id) return problem(res, 404, 'not-found', 'Not found', 'No such token.');
      db.tokens.delete(t.id);
      return send(res, 204, null);
    }

    // --- admin -------------------------------------------------------------------
    if (p === '/admin/users' && method === 'GET') {
      if (!needAdmin()) return;
      const q = (url.searchParams.get('q') || '').toLowerCase();
      const all = [...db.users.values()].filter((u) => !q || u.username.toLowerCase().includes(q) || u.email.includes(q)).map(adminUser);
      return send(res, 200, page(all, url.searchParams.get('cursor')));
    }
    if ((m = /^\/admin\/users\/([^/]+)$/.exec(p)) && method === 'PATCH') {
      const a = needAdmin();
      if (!a) return;
      const u = db.users.get(decodeURIComponent(m[1]));
      if (!u) return problem(res, 404, 'not-found', 'Not found', 'No such user.');
      if (u.id === a.user.id) return problem(res, 409, 'self-change', 'Not allowed', 'You cannot change your own role or access.');
      if ('role' in body) {
        if (!['user', 'moderator', 'admin'].includes(body.role)) return problem(res, 422, 'validation', 'Invalid input', 'Unknown role.', { role: 'Unknown role.' });
        u.role = body.role;
      }
      if ('disabled' in body) {
        u.disabled = !!body.disabled;
        if (u.disabled) for (const [id, s] of db.sessions) if (s.user_id === u.id) db.sessions.delete(id);
      }
      audit(a.user.username, 'admin.user_update', u.username, JSON.stringify(body));
      return send(res, 200, adminUser(u));
    }
    if (p === '/admin/settings' && method === 'GET') {
      if (!needAdmin()) return;
      return send(res, 200, db.settings);
    }
    if (p === '/admin/settings' && method === 'PUT') {
      const a = needAdmin();
      if (!a) return;
      if (!['open', 'invite', 'closed'].includes(body.signup_mode)) return problem(res, 422, 'validation', 'Invalid input', 'Unknown mode.', { signup_mode: 'Unknown mode.' });
      db.settings = { signup_mode: body.signup_mode, pow_required: !!body.pow_required };
      audit(a.user.username, 'admin.settings_update', 'instance', JSON.stringify(db.settings));
      return send(res, 200, db.settings);
    }
    if (p === '/admin/invites' && method === 'GET') {
      if (!needAdmin()) return;
      // like the real server: only a code prefix and no url once created
      return send(res, 200, { items: [...db.invites.values()].reverse().map((i) => ({ ...i, code: `${i.code.slice(0, 6)}\u2026`, url: null })), next_cursor: null });
    }
    if (p === '/admin/invites' && method === 'POST') {
      const a = needAdmin();
      if (!a) return;
      const code = rand(6);
      const inv = { id: nextId(), code, url: `${origin}/signup?invite=${code}`, created_at: now(), expires_at: body.expires_in_days ? now() + body.expires_in_days * 86400 : null, used_at: null, used_by: null };
      db.invites.set(inv.id, inv);
      audit(a.user.username, 'admin.invite_create', code);
      return send(res, 201, inv);
    }
    if ((m = /^\/admin\/invites\/([^/]+)$/.exec(p)) && method === 'DELETE') {
      if (!needAdmin()) return;
      db.invites.delete(decodeURIComponent(m[1]));
      return send(res, 204, null);
    }
    if (p === '/admin/mail' && method === 'GET') {
      if (!needAdmin()) return;
      return send(res, 200, page(db.mail, url.searchParams.get('cursor')));
    }
    if (p === '/admin/mail/test' && method === 'POST') {
      if (!needAdmin()) return;
      if (!validEmail(body.to)) return problem(res, 422, 'validation', 'Invalid input', 'Check the address.', { to: 'Enter a valid email address.' });
      sendMail(origin, body.to, 'StrataMake test mail', 'test', 'This is a test message from StrataMake.');
      return send(res, 200, { ok: true, transcript: `220 mock ESMTP ready\r\nEHLO stratamake\r\n250 OK\r\nMAIL FROM:<noreply@stratamake.invalid>\r\n250 OK\r\nRCPT TO:<${body.to}>\r\n250 OK\r\nDATA\r\n354 go\r\n.\r\n250 queued\r\nQUIT\r\n221 bye` });
    }
    if (p === '/admin/audit' && method === 'GET') {
      if (!needAdmin()) return;
      return send(res, 200, page(db.audit, url.searchParams.get('cursor')));
    }
    return problem(res, 404, 'not-found', 'Not found', `No route for ${method} ${url.pathname}`);
  }

  // --- static ------------------------------------------------------------------
  function serveStatic(req, res, url) {
    const base = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin', 'Cache-Control': 'no-cache' };
    if (url.pathname === '/terms' || url.pathname === '/privacy') {
      res.writeHead(200, { ...base, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`${url.pathname === '/terms' ? 'Terms of Service' : 'Privacy Policy'} (mock)\n`);
      return;
    }
    const rel = path.normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
    const file = path.join(webDir, rel);
    if (file.startsWith(webDir) && path.extname(file) && fs.existsSync(file) && fs.statSync(file).isFile()) {
      res.writeHead(200, { ...base, 'Content-Type': MIME[path.extname(file)] || 'application/octet-stream' });
      res.end(fs.readFileSync(file));
      return;
    }
    if (path.extname(url.pathname)) {
      res.writeHead(404, { ...base, 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { ...base, 'Content-Type': MIME['.html'] });
    res.end(fs.readFileSync(path.join(webDir, 'index.html')));
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, `http://${req.headers.host || 'localhost'}`);
    const c = cookies(req);
    if (!c.sm_csrf) {
      const orig = res.writeHead.bind(res);
      res.writeHead = (status, headers = {}) => {
        const existing = headers['Set-Cookie'] ? [].concat(headers['Set-Cookie']) : [];
        return orig(status, { ...headers, 'Set-Cookie': [...existing, `sm_csrf=${rand(16)}; Path=/; SameSite=Strict`] });
      };
    }
    try {
      if (url.pathname.startsWith('/api/')) await api(req, res, url);
      else serveStatic(req, res, url);
    } catch (err) {
      console.error(err);
      if (!res.headersSent) problem(res, 500, 'internal', 'Internal error', String(err));
    }
  });

  return new Promise((resolve) => {
    server.listen(opts.port || 0, '127.0.0.1', () => {
      const { port } = server.address();
      const url = `http://127.0.0.1:${port}`;
      resolve({ url, mailDir, setupUrl: `${url}/setup?token=${db.setupToken}`, db, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const srv = await startMockServer({
    port: Number(process.env.PORT || 8099),
    mailDir: process.env.MAIL_DIR,
    pow: process.env.MOCK_POW === '1',
    powMax: process.env.MOCK_POW_MAX ? Number(process.env.MOCK_POW_MAX) : undefined,
    signupMode: process.env.MOCK_SIGNUP_MODE,
    accessTtl: process.env.MOCK_ACCESS_TTL ? Number(process.env.MOCK_ACCESS_TTL) : undefined,
    oidc: process.env.MOCK_OIDC === '1',
  });
  console.log(`mock StrataMake on ${srv.url}\nsetup link: ${srv.setupUrl}\nMAIL_DIR=${srv.mailDir}`);
}
