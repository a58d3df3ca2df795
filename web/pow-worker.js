// Proof-of-work solver (ALTCHA-style), runs in a dedicated Web Worker.
// Input:  { algorithm, challenge, salt, maxnumber }
// Finds n in 0..=maxnumber with hex(HASH(salt + String(n))) === challenge.
// Output: { type: 'progress', tried } … then { type: 'done', number, took } or { type: 'fail', reason }.
//
// Uses crypto.subtle.digest when available. Browsers hide crypto.subtle on
// insecure origins (plain http:// on a LAN address), so a small SHA-256
// implementation written from FIPS 180-4 is used as a fallback.

'use strict';

// ---- SHA-256 fallback ------------------------------------------------------
// Round constants: first 32 bits of the fractional parts of the cube roots of
// the first 64 primes; initial hash: same for square roots of the first 8.
// Computed exactly with BigInt integer roots instead of a hard-coded table.

function primes(n) {
  const out = [];
  for (let c = 2; out.length < n; c++) if (out.every((p) => c % p !== 0)) out.push(c);
  return out;
}

function iroot(x, k) {
  // floor(x ** (1/k)) for BigInt x by Newton's method
  if (x < 2n) return x;
  let r = 1n << BigInt(Math.ceil(x.toString(2).length / k));
  for (;;) {
    const next = ((BigInt(k) - 1n) * r + x / r ** BigInt(k - 1)) / BigInt(k);
    if (next >= r) break;
    r = next;
  }
  while (r ** BigInt(k) > x) r -= 1n;
  while ((r + 1n) ** BigInt(k) <= x) r += 1n;
  return r;
}

function fracBits(p, k) {
  // floor(frac(p^(1/k)) * 2^32) = floor(root(p * 2^(32k))) mod 2^32
  return Number(iroot(BigInt(p) << BigInt(32 * k), k) & 0xffffffffn);
}

let K = null;
let H0 = null;
function initConstants() {
  if (K) return;
  const ps = primes(64);
  K = new Uint32Array(ps.map((p) => fracBits(p, 3)));
  H0 = new Uint32Array(ps.slice(0, 8).map((p) => fracBits(p, 2)));
}

const W = new Uint32Array(64);

function sha256(bytes) {
  initConstants();
  const len = bytes.length;
  const total = (((len + 9 + 63) >> 6) << 6);
  const buf = new Uint8Array(total);
  buf.set(bytes);
  buf[len] = 0x80;
  const bitLen = len * 8;
  const dv = new DataView(buf.buffer);
  dv.setUint32(total - 8, Math.floor(bitLen / 0x100000000));
  dv.setUint32(total - 4, bitLen >>> 0);
  let h0 = H0[0], h1 = H0[1], h2 = H0[2], h3 = H0[3], h4 = H0[4], h5 = H0[5], h6 = H0[6], h7 = H0[7];
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = dv.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = W[i - 15], b = W[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, hh = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[i] + W[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + hh) | 0;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  [h0, h1, h2, h3, h4, h5, h6, h7].forEach((v, i) => ov.setUint32(i * 4, v >>> 0));
  return out;
}

// ---- solver ----------------------------------------------------------------

function hexToBytes(hex) {
  const clean = String(hex).trim().toLowerCase();
  if (!/^[0-9a-f]*$/.test(clean) || clean.length % 2) return null;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const SUBTLE_ALGS = { 'SHA-1': 'SHA-1', 'SHA-256': 'SHA-256', 'SHA-384': 'SHA-384', 'SHA-512': 'SHA-512' };

async function solve({ algorithm = 'SHA-256', challenge, salt, maxnumber }) {
  const started = Date.now();
  const alg = SUBTLE_ALGS[String(algorithm).toUpperCase()];
  const target = hexToBytes(challenge);
  const max = Number.isFinite(Number(maxnumber)) ? Math.max(0, Math.floor(Number(maxnumber))) : 1000000;
  if (!alg || !target) return { type: 'fail', reason: `Unsupported challenge (${algorithm})` };
  const subtle = self.crypto && self.crypto.subtle;
  if (!subtle && alg !== 'SHA-256') return { type: 'fail', reason: `${alg} needs a secure (https) connection` };
  const enc = new TextEncoder();
  const prefix = String(salt);
  const batch = subtle ? 1000 : 4000;
  let lastReport = 0;
  for (let base = 0; base <= max; base += batch) {
    const end = Math.min(base + batch - 1, max);
    if (subtle) {
      const jobs = [];
      for (let n = base; n <= end; n++) jobs.push(subtle.digest(alg, enc.encode(prefix + n)));
      const digests = await Promise.all(jobs);
      for (let i = 0; i < digests.length; i++) {
        if (equal(new Uint8Array(digests[i]), target)) return { type: 'done', number: base + i, took: Date.now() - started };
      }
    } else {
      for (let n = base; n <= end; n++) {
        if (equal(sha256(enc.encode(prefix + n)), target)) return { type: 'done', number: n, took: Date.now() - started };
      }
    }
    if (end - lastReport >= 20000) {
      lastReport = end;
      self.postMessage({ type: 'progress', tried: end + 1, max: max + 1 });
    }
  }
  return { type: 'fail', reason: 'No solution found' };
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  if (msg.type === 'selftest') {
    // used by tests: hash a string with the fallback implementation
    const bytes = sha256(new TextEncoder().encode(String(msg.input)));
    self.postMessage({ type: 'selftest', hex: Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('') });
    return;
  }
  try {
    self.postMessage(await solve(msg));
  } catch (err) {
    self.postMessage({ type: 'fail', reason: String((err && err.message) || err) });
  }
};
