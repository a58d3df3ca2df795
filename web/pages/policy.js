// /policies/{slug}[?version=N] — a policy (Privacy Policy, Terms of Service, Cookie
// Policy, Accessibility statement, Support): its title, version and date, the text
// (GET /api/v1/policies/{slug}: Markdown rendered and sanitised by the server, as the
// server-rendered page shows it with JavaScript off), a picker for earlier versions and,
// for admins, a link to the editor.

import { h, icon, badge, spinner, errorBox } from '../ui.js';
import { get, ApiError, qs } from '../api.js';
import { state, isAdmin } from '../state.js';
import { navigate } from '../router.js';
import { dateEl, dateShort } from './privacy-common.js';

let pageTitle = 'Policy';

/**
 * The policy's HTML in `el`, tidied for the page: the heading that repeats the title
 * goes (the page has its own), other top-level headings step down one level, and wide
 * tables scroll sideways on their own.
 */
export function fillPolicyHtml(el, html, title) {
  el.innerHTML = html; // sanitised by the server (raw HTML shown as text, safe links only)
  const first = el.firstElementChild;
  if (first && first.tagName === 'H1' && first.textContent.trim().toLowerCase() === String(title).trim().toLowerCase()) first.remove();
  for (const h1 of el.querySelectorAll('h1')) {
    const h2 = document.createElement('h2');
    h2.append(...h1.childNodes);
    h1.replaceWith(h2);
  }
  for (const table of el.querySelectorAll('table')) {
    const wrap = h('div', { class: 'prose-table', role: 'region', tabindex: '0', 'aria-label': 'Table' });
    table.replaceWith(wrap);
    wrap.appendChild(table);
  }
}

function otherPolicies(current) {
  const list = state.config.policies || [];
  if (!list.length) return null;
  return h(
    'nav',
    { class: 'card policy-nav', 'aria-label': 'Policies' },
    h('p', { class: 'policy-nav-title' }, 'Policies'),
    h(
      'ul',
      { role: 'list' },
      list.map((p) =>
        h('li', {}, h('a', { href: `/policies/${encodeURIComponent(p.slug)}`, class: 'policy-nav-link', 'aria-current': p.slug === current ? 'page' : null }, icon('file'), h('span', {}, p.title))),
      ),
    ),
    state.me ? h('a', { href: '/settings/privacy', class: 'link-sm policy-nav-more' }, 'Your privacy settings \u2192') : null,
  );
}

export default {
  title: () => pageTitle,
  access: 'any',
  async render(main, { route, params, signal }) {
    const slug = route.slug;
    const wanted = params.get('version');
    pageTitle = 'Policy';
    main.replaceChildren(h('div', { class: 'page' }, h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'Loading\u2026'))));
    let p;
    try {
      p = await get(`/policies/${encodeURIComponent(slug)}${qs({ version: wanted && /^\d+$/.test(wanted) ? wanted : null })}`, { signal });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      if (err instanceof ApiError && err.status === 404) {
        pageTitle = 'Policy not found';
        main.replaceChildren(
          h(
            'div',
            { class: 'page page-narrow center-page', testid: 'policy-not-found' },
            h('div', { class: 'empty-icon big' }, icon('file')),
            h('h1', { tabindex: '-1' }, wanted ? 'No such version' : 'Policy not found'),
            h('p', { class: 'muted' }, wanted ? 'This policy has no such version.' : 'There is no policy at this address.'),
            h('a', { href: wanted ? `/policies/${encodeURIComponent(slug)}` : '/', class: 'btn btn-primary' }, wanted ? 'Read the current version' : 'Go home'),
          ),
        );
        return;
      }
      main.replaceChildren(h('div', { class: 'page' }, errorBox(err, () => navigate(location.pathname + location.search, { replace: true }))));
      return;
    }
    pageTitle = p.title;

    const versions = p.versions || [];
    const select = h(
      'select',
      { class: 'input input-sm', id: 'policy-version', testid: 'policy-version' },
      versions.map((v, i) => h('option', { value: String(v.version), selected: v.version === p.version }, `Version ${v.version} \u00b7 ${dateShort(v.published_at)}${i === 0 ? ' \u00b7 in force' : ''}`)),
    );
    select.value = String(p.version);
    select.addEventListener('change', () => {
      const v = Number(select.value);
      navigate(versions.length && v === versions[0].version ? `/policies/${encodeURIComponent(slug)}` : `/policies/${encodeURIComponent(slug)}?version=${v}`);
    });

    const text = h('div', { class: 'prose policy-prose', testid: 'policy-text' });
    fillPolicyHtml(text, p.html, p.title);

    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide policy-page', testid: 'policy-page', dataset: { slug: p.slug, version: String(p.version) } },
        h(
          'div',
          { class: 'policy-layout' },
          h(
            'article',
            { class: 'card policy-doc', 'aria-labelledby': 'policy-title' },
            h(
              'header',
              { class: 'policy-head' },
              h('div', { class: 'policy-head-text' }, h('h1', { id: 'policy-title', tabindex: '-1', testid: 'policy-title' }, p.title), h('p', { class: 'policy-meta', testid: 'policy-meta' }, `Version ${p.version} \u00b7 ${p.current ? 'in force since' : 'published'} `, dateEl(p.published_at), p.current ? null : [' ', badge('Earlier version', 'warning')])),
              h(
                'div',
                { class: 'policy-tools' },
                versions.length > 1 ? h('div', { class: 'policy-version' }, h('label', { for: 'policy-version', class: 'visually-hidden' }, 'Version'), select) : null,
                isAdmin() ? h('a', { href: `/admin/policies/${encodeURIComponent(p.slug)}`, class: 'btn btn-secondary btn-sm', testid: 'policy-edit' }, icon('pencil'), h('span', {}, 'Edit')) : null,
              ),
            ),
            p.current
              ? null
              : h('div', { class: 'callout callout-warning', testid: 'policy-old' }, icon('clock'), h('p', {}, 'This is an earlier version, kept for reference. ', h('a', { href: `/policies/${encodeURIComponent(p.slug)}` }, 'Read the version in force'), '.')),
            p.material && p.summary ? h('div', { class: 'callout callout-info policy-change', testid: 'policy-change' }, icon('info'), h('p', {}, h('strong', {}, 'What changed in this version: '), p.summary)) : null,
            text,
          ),
          h('aside', { class: 'policy-aside' }, otherPolicies(p.slug)),
        ),
      ),
    );
  },
};
