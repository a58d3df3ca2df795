// Client side of the signup proof-of-work: fetch a challenge, solve it in
// /pow-worker.js, return the payload the signup endpoint expects.

import { get } from './api.js';

/**
 * Fetch GET /auth/challenge and solve it.
 * Resolves to { algorithm, challenge, salt, number, signature }.
 * onProgress(fraction 0..1) is called now and then.
 */
export async function solvePow({ signal, onProgress } = {}) {
  const ch = await get('/auth/challenge', { signal });
  if (!ch || !ch.challenge) throw new Error('The server sent no challenge');
  const number = await runWorker(ch, { signal, onProgress });
  return { algorithm: ch.algorithm || 'SHA-256', challenge: ch.challenge, salt: ch.salt, number, signature: ch.signature };
}

function runWorker(ch, { signal, onProgress }) {
  return new Promise((resolve, reject) => {
    if (typeof Worker === 'undefined') {
      reject(new Error('This browser cannot run the verification (no Web Worker support)'));
      return;
    }
    const worker = new Worker('/pow-worker.js');
    const stop = () => {
      worker.terminate();
      reject(new DOMException('Aborted', 'AbortError'));
    };
    if (signal) {
      if (signal.aborted) return stop();
      signal.addEventListener('abort', stop, { once: true });
    }
    const done = () => {
      worker.terminate();
      if (signal) signal.removeEventListener('abort', stop);
    };
    worker.onmessage = (ev) => {
      const m = ev.data || {};
      if (m.type === 'progress') {
        if (onProgress && m.max) onProgress(Math.min(1, m.tried / m.max));
      } else if (m.type === 'done') {
        done();
        resolve(m.number);
      } else if (m.type === 'fail') {
        done();
        reject(new Error(m.reason || 'Verification failed'));
      }
    };
    worker.onerror = (ev) => {
      done();
      reject(new Error((ev && ev.message) || 'Verification worker crashed'));
    };
    worker.postMessage({ algorithm: ch.algorithm, challenge: ch.challenge, salt: ch.salt, maxnumber: ch.maxnumber });
  });
}
