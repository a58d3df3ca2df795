// Light/dark theme. Default follows prefers-color-scheme; the toggle stores an
// explicit choice in localStorage ('sm-theme' = 'light' | 'dark').
// theme-init.js applies the stored choice before first paint.

import { h, icon } from './ui.js';

const KEY = 'sm-theme';
const mq = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

function stored() {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : null;
  } catch {
    return null;
  }
}

export function effectiveTheme() {
  return stored() || (mq && mq.matches ? 'dark' : 'light');
}

export function setTheme(theme) {
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    /* private mode: still apply for this page */
  }
  document.documentElement.setAttribute('data-theme', theme);
  for (const fn of listeners) fn(theme);
}

const listeners = new Set();
if (mq && mq.addEventListener) mq.addEventListener('change', () => { if (!stored()) for (const fn of listeners) fn(effectiveTheme()); });

/** Icon button that flips between light and dark. */
export function themeToggle() {
  const btn = h('button', { type: 'button', class: 'icon-btn', testid: 'theme-toggle' });
  let mounted = false;
  const paint = () => {
    if (mounted && !btn.isConnected) {
      listeners.delete(paint); // the top bar was re-rendered; forget this old button
      return;
    }
    mounted = true;
    const dark = effectiveTheme() === 'dark';
    const label = dark ? 'Switch to light theme' : 'Switch to dark theme';
    btn.setAttribute('aria-label', label);
    btn.title = label;
    btn.replaceChildren(icon(dark ? 'sun' : 'moon'));
  };
  btn.addEventListener('click', () => setTheme(effectiveTheme() === 'dark' ? 'light' : 'dark'));
  listeners.add(paint);
  paint();
  return btn;
}
