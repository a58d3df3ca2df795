// /search?q=&type=posts|users|tags&kind=image|model&sort=relevance|newest — search the
// community as you type (GET /api/v1/search, 200 ms after the last key, older requests
// aborted). Posts can be narrowed to images or 3D models and sorted by relevance or date;
// people lead to profiles, tags to their listing. Matched words come back in <mark>.

import { h, icon, pageHeader, spinner, emptyState, errorBox, avatar, timeEl } from '../ui.js';
import { get, qs, ApiError } from '../api.js';
import { instanceName } from '../state.js';
import { replaceQuietly } from '../router.js';
import { postHref, profileHref, tagHref, personLink, rememberList, compactNumber } from './community-common.js';
import { placeholderTile } from './library-common.js';
import { plural } from './generate-common.js';

const TYPES = [
  ['posts', 'Posts', 'image'],
  ['users', 'People', 'community'],
  ['tags', 'Tags', 'hash'],
];
const KINDS = [
  ['', 'All'],
  ['image', 'Images'],
  ['model', '3D models'],
];
const SORTS = [
  ['relevance', 'Relevance'],
  ['newest', 'Newest'],
];
const DEBOUNCE_MS = 200;

let title = 'Search';

/** Safe HTML from the server (matched words in <mark>) in a span. */
function marked(html, cls, fallback = '') {
  const el = h('span', { class: cls });
  if (html) el.innerHTML = html;
  else el.textContent = fallback;
  return el;
}

function postHit({ post: p, title_html, snippet_html }) {
  const m = p.media || {};
  const src = m.thumbnail_url || m.preview_url;
  const href = postHref(p);
  const thumb = src ? h('img', { src, alt: '', loading: 'lazy', decoding: 'async' }) : placeholderTile({ kind: m.kind, format: m.format });
  return h(
    'li',
    { class: 'search-hit', testid: 'search-result', dataset: { postId: p.id } },
    h('a', { href, class: 'search-thumb', tabindex: '-1', 'aria-hidden': 'true' }, thumb, m.kind === 'model' ? h('span', { class: 'post-3d' }, icon('cube'), '3D') : null),
    h(
      'div',
      { class: 'search-hit-text' },
      h('h3', { class: 'search-hit-title' }, h('a', { href, testid: 'search-result-link' }, marked(title_html, '', p.title))),
      snippet_html ? marked(snippet_html, 'search-snippet') : null,
      h(
        'div',
        { class: 'search-hit-meta' },
        personLink(p.author, { size: 'xs' }),
        h('span', {}, timeEl(p.created_at)),
        h('span', { title: plural((p.reactions && p.reactions.total) || 0, 'reaction') }, icon('heart'), compactNumber((p.reactions && p.reactions.total) || 0)),
        h('span', { title: plural(p.comment_count || 0, 'comment') }, icon('message'), compactNumber(p.comment_count || 0)),
      ),
    ),
  );
}

/**
 * A person's highlighted title is "Display Name username": split it into the name and the
 * @handle, each keeping its <mark>s (the whole title as it is when it has another shape).
 */
function personTitle(u, html) {
  const all = marked(html, '', u.display_name || u.username);
  const name = u.display_name || '';
  const plain = () => [all, h('span', { class: 'person-handle' }, `@${u.username}`)];
  if (!name || all.textContent !== `${name} ${u.username}`) return plain();
  const first = h('span', {});
  const handle = h('span', { class: 'person-handle' }, '@');
  const cut = name.length; // the space between the two
  let at = 0;
  for (const node of [...all.childNodes]) {
    const len = node.textContent.length;
    if (at + len <= cut) first.appendChild(node.cloneNode(true));
    else if (at > cut) handle.appendChild(node.cloneNode(true));
    else if (node.nodeType === Node.TEXT_NODE) {
      first.appendChild(document.createTextNode(node.data.slice(0, cut - at)));
      handle.appendChild(document.createTextNode(node.data.slice(cut - at + 1)));
    } else return plain(); // a <mark> across the space
    at += len;
  }
  return [first, handle];
}

function userHit({ user: u, title_html, snippet_html }) {
  const [name, handle] = personTitle(u, title_html);
  return h(
    'li',
    { class: 'search-hit search-person', testid: 'search-result', dataset: { username: u.username } },
    h(
      'a',
      { href: profileHref(u.username), class: 'search-person-link', testid: 'search-result-link' },
      avatar(u, 'md'),
      h('span', { class: 'search-hit-text' }, h('span', { class: 'search-hit-title' }, name), handle, snippet_html ? marked(snippet_html, 'search-snippet') : null),
      icon('arrowRight', 'search-go'),
    ),
  );
}

function tagHit({ tag, posts, title_html }) {
  return h(
    'li',
    { class: 'search-tag', testid: 'search-result', dataset: { tag } },
    h('a', { href: tagHref(tag), class: 'tag-result', testid: 'search-result-link' }, h('span', { class: 'tag-hash', 'aria-hidden': 'true' }, '#'), marked(title_html, 'tag-result-name', tag), h('span', { class: 'tag-result-count' }, plural(posts || 0, 'post'))),
  );
}

export default {
  title: () => title,
  access: 'any',
  render(main, { params, signal }) {
    let q = (params.get('q') || '').trim();
    let type = TYPES.some(([k]) => k === params.get('type')) ? params.get('type') : 'posts';
    let kind = KINDS.some(([k]) => k && k === params.get('kind')) ? params.get('kind') : '';
    let sort = params.get('sort') === 'newest' ? 'newest' : 'relevance';
    title = q ? `Search: ${q}` : 'Search';

    // ---------------------------------------------------------------- controls
    const input = h('input', { type: 'search', id: 'search-q', name: 'q', class: 'input input-lg', value: q, placeholder: 'Search posts, people and tags', autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search', autofocus: true, testid: 'search-input' });
    const form = h('form', { class: 'search-bar search-hero', role: 'search', testid: 'search-form' }, h('label', { for: 'search-q', class: 'visually-hidden' }, 'Search'), h('span', { class: 'search-icon' }, icon('search')), input);

    const typeBtns = TYPES.map(([k, label, ic]) => {
      const b = h('button', { type: 'button', class: 'tab', 'aria-pressed': String(k === type), testid: `search-type-${k}` }, icon(ic), h('span', {}, label));
      b.addEventListener('click', () => {
        if (type === k) return;
        type = k;
        for (const x of typeBtns) x.setAttribute('aria-pressed', String(x === b));
        syncControls();
        run(true);
      });
      return b;
    });
    const kindChips = KINDS.map(([k, label]) => {
      const b = h('button', { type: 'button', class: 'chip chip-sm', 'aria-pressed': String(k === kind), testid: `search-kind-${k || 'all'}` }, label);
      b.addEventListener('click', () => {
        if (kind === k) return;
        kind = k;
        for (const x of kindChips) x.setAttribute('aria-pressed', String(x === b));
        run(true);
      });
      return b;
    });
    const kindGroup = h('div', { class: 'chips', role: 'group', 'aria-label': 'Show' }, kindChips);
    const sortSelect = h('select', { id: 'search-sort', class: 'input input-sm', testid: 'search-sort', value: sort }, SORTS.map(([v, l]) => h('option', { value: v }, l)));
    sortSelect.addEventListener('change', () => {
      sort = sortSelect.value === 'newest' ? 'newest' : 'relevance';
      run(true);
    });
    const sortField = h('div', { class: 'sort-field' }, h('label', { for: 'search-sort', class: 'sort-label' }, 'Sort'), sortSelect);
    const syncControls = () => {
      kindGroup.hidden = type !== 'posts';
      sortField.hidden = type !== 'posts';
    };
    syncControls();

    // ----------------------------------------------------------------- results
    const total = h('p', { class: 'search-total', 'aria-live': 'polite', testid: 'search-total' });
    const results = h('ul', { class: 'search-results', role: 'list', testid: 'search-results', 'aria-label': 'Results' });
    const status = h('div', { class: 'grid-status' });
    const sentinel = h('div', { class: 'grid-sentinel', 'aria-hidden': 'true' });
    let cursor = null;
    let controller = null;
    let gen = 0;
    let timer = null;
    let loading = false;

    const href = () => `/search${qs({ q, type: type === 'posts' ? null : type, kind: type === 'posts' ? kind : null, sort: type === 'posts' && sort !== 'relevance' ? sort : null })}`;

    function idle() {
      total.textContent = '';
      results.replaceChildren();
      results.className = 'search-results';
      status.replaceChildren(emptyState('search', `Search ${instanceName()}`, 'Titles, descriptions, tags, shared prompts and people are searched. Small typos are fine.'));
    }

    async function run(reset) {
      if (reset) {
        // A typed query waiting for its pause is replaced by this one; a "load more" from
        // the scroll observer must leave it waiting.
        clearTimeout(timer);
        gen++;
        cursor = null;
        if (controller) controller.abort();
        replaceQuietly(href());
        rememberList(href(), 'Search');
        title = q ? `Search: ${q}` : 'Search';
        document.title = `${title} \u00b7 ${instanceName()}`;
        if (!q) {
          idle();
          return;
        }
        results.setAttribute('aria-busy', 'true');
        status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Searching\u2026')));
      } else {
        if (loading || !cursor) return;
        status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading more\u2026')));
      }
      const my = gen;
      controller = new AbortController();
      const stop = () => controller && controller.abort();
      signal.addEventListener('abort', stop, { once: true });
      loading = true;
      try {
        const res = await get(`/search${qs({ q, type, kind: type === 'posts' ? kind : null, sort: type === 'posts' ? sort : null, cursor: reset ? null : cursor })}`, { signal: controller.signal });
        if (my !== gen) return;
        const items = (res && res.items) || [];
        const hit = type === 'users' ? userHit : type === 'tags' ? tagHit : postHit;
        if (reset) {
          results.replaceChildren();
          results.className = `search-results search-results-${type}`;
        }
        for (const it of items) {
          try {
            results.appendChild(hit(it));
          } catch (err) {
            console.warn('search result not shown', err);
          }
        }
        cursor = (res && res.next_cursor) || null;
        // Only what this viewer may see is counted: the shown results, "+" while more may follow.
        const n = results.children.length;
        const what = type === 'users' ? ['person', 'people'] : type === 'tags' ? ['tag', 'tags'] : [kind === 'model' ? '3D model' : kind === 'image' ? 'image' : 'post', kind === 'model' ? '3D models' : kind === 'image' ? 'images' : 'posts'];
        total.textContent = n ? `${n.toLocaleString()}${cursor ? '+' : ''} ${n === 1 && !cursor ? what[0] : what[1]}` : '';
        // The index is (re)built in the background after an upgrade or a repair.
        if (res && res.indexing) total.textContent = `${total.textContent}${total.textContent ? ' \u00b7 ' : ''}The search index is being rebuilt; some results may be missing.`;
        status.replaceChildren();
        if (!results.children.length) {
          status.replaceChildren(h('div', { class: 'feed-empty', testid: 'search-empty' }, emptyState('search', `No ${what[1]} match \u201c${q}\u201d`, type === 'posts' ? 'Check the spelling or try fewer words. You can also look for people or tags.' : 'Check the spelling or try fewer words.')));
        }
      } catch (err) {
        if (err && err.name === 'AbortError') return;
        if (my !== gen) return;
        if (reset) results.replaceChildren();
        total.textContent = '';
        if (err instanceof ApiError && (err.status === 404 || err.status === 501 || err.status === 503)) {
          status.replaceChildren(
            h('div', { class: 'callout callout-info', role: 'status', testid: 'search-unavailable' }, icon('info'), h('div', {}, h('p', {}, err.status === 404 ? 'Search isn\u2019t available on this server yet.' : err.detail || 'Search is being prepared. Try again in a minute.'), h('a', { href: '/community', class: 'btn btn-sm btn-secondary' }, 'Browse the community instead'))),
          );
        } else status.replaceChildren(errorBox(err, () => run(true)));
      } finally {
        signal.removeEventListener('abort', stop);
        if (my === gen) {
          loading = false;
          results.setAttribute('aria-busy', 'false');
        }
      }
      if (cursor) requestAnimationFrame(() => {
        if (my === gen && sentinel.isConnected && sentinel.getBoundingClientRect().top < window.innerHeight + 400) run(false);
      });
    }

    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const v = input.value.trim();
        if (v === q) return;
        q = v;
        run(true);
      }, DEBOUNCE_MS);
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      q = input.value.trim();
      run(true);
    });
    signal.addEventListener('abort', () => clearTimeout(timer));

    if ('IntersectionObserver' in window) {
      const io = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) run(false);
      }, { rootMargin: '400px 0px' });
      io.observe(sentinel);
      signal.addEventListener('abort', () => io.disconnect());
    }

    main.replaceChildren(
      h(
        'div',
        { class: 'page search-page', testid: 'search-page' },
        pageHeader('Search', `Find posts, people and tags on ${instanceName()}.`),
        form,
        h('div', { class: 'search-controls' }, h('div', { class: 'tabs search-types', role: 'group', 'aria-label': 'Search in' }, typeBtns), h('div', { class: 'search-filters' }, kindGroup, sortField)),
        total,
        results,
        status,
        sentinel,
      ),
    );
    run(true);
  },
};
