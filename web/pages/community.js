// /community — the feeds: Following (signed in), Latest and Trending, as an infinitely
// scrolling grid of post cards, with a search box that leads to /search.
// /community?feed=latest picks a feed; /community?tag=x lists the public posts with a tag.
// Default feed: Following for people who follow someone, else Latest.

import { h, icon, pageHeader, emptyState, tabs } from '../ui.js';
import { get, qs } from '../api.js';
import { state, instanceName } from '../state.js';
import { navigate, replaceQuietly } from '../router.js';
import { postGrid, rememberList } from './community-common.js';

const FEEDS = [
  ['following', 'Following', 'userCheck'],
  ['latest', 'Latest', 'clock'],
  ['trending', 'Trending', 'trending'],
];

let title = 'Community';

function searchBox(value = '') {
  const input = h('input', { type: 'search', id: 'community-q', name: 'q', class: 'input', value, placeholder: 'Search the community', autocomplete: 'off', enterkeyhint: 'search', testid: 'community-search' });
  const form = h(
    'form',
    { class: 'search-bar community-search', role: 'search', action: '/search', testid: 'community-search-form' },
    h('label', { for: 'community-q', class: 'visually-hidden' }, 'Search the community'),
    h('span', { class: 'search-icon' }, icon('search')),
    input,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = input.value.trim();
    navigate(`/search${qs({ q })}`);
  });
  return form;
}

/** The feed tab strip (links, so they can be opened in a new tab; switching stays in the page). */
function feedTabs(feeds, current, onPick) {
  const nav = tabs('Feeds', feeds.map(([k, label, ic]) => [`/community?feed=${k}`, label, ic]), `/community?feed=${current}`);
  nav.classList.add('feed-tabs');
  nav.setAttribute('data-testid', 'feed-tabs');
  for (const a of nav.querySelectorAll('a')) {
    const k = new URL(a.href).searchParams.get('feed');
    a.dataset.testid = `feed-${k}`;
    a.addEventListener('click', (ev) => {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      for (const b of nav.querySelectorAll('a')) b.removeAttribute('aria-current');
      a.setAttribute('aria-current', 'page');
      onPick(k);
    });
  }
  return nav;
}

function tagPage(main, tag, signal) {
  title = `#${tag}`;
  rememberList(`/community${qs({ tag })}`, `#${tag}`);
  const grid = postGrid({
    label: `Posts tagged ${tag}`,
    signal,
    load: (cursor, sig) => get(`/posts${qs({ tag, cursor })}`, { signal: sig }),
    empty: () => h('div', { class: 'feed-empty', testid: 'feed-empty' }, emptyState('hash', `Nothing tagged #${tag} yet`, 'Public posts with this tag show up here.'), h('a', { href: '/community', class: 'btn btn-secondary btn-sm' }, 'Back to the community')),
  });
  main.replaceChildren(
    h(
      'div',
      { class: 'page page-wide community-page', testid: 'tag-page' },
      h('div', { class: 'asset-topbar' }, h('a', { href: '/community', class: 'back-link' }, icon('arrowLeft'), h('span', {}, 'Community'))),
      pageHeader(h('span', { class: 'tag-heading' }, h('span', { class: 'tag-hash', 'aria-hidden': 'true' }, '#'), tag), 'Public posts with this tag, newest first.', searchBox()),
      grid.el,
    ),
  );
}

export default {
  title: () => title,
  access: 'any',
  async render(main, { params, signal }) {
    title = 'Community';
    const tag = (params.get('tag') || '').trim().replace(/^#+/, '').toLowerCase();
    if (tag) {
      tagPage(main, tag, signal);
      return;
    }
    const me = state.me;
    const feeds = me ? FEEDS : FEEDS.filter(([k]) => k !== 'following');
    let feed = params.get('feed');
    if (!feeds.some(([k]) => k === feed)) {
      feed = 'latest';
      if (me) {
        // People who follow someone start with what they follow.
        try {
          const prof = await get(`/users/${encodeURIComponent(me.username)}`, { signal });
          if (prof && prof.following > 0) feed = 'following';
        } catch (err) {
          if (err && err.name === 'AbortError') throw err;
        }
      }
    }

    const empties = {
      following: () =>
        h(
          'div',
          { class: 'feed-empty', testid: 'feed-empty' },
          emptyState('community', 'Follow people to see their work here', 'When people you follow share something, it shows up in this feed. Find someone whose work you like in Latest or Trending.'),
          h('div', { class: 'feed-empty-actions' }, h('a', { href: '/community?feed=latest', class: 'btn btn-primary btn-sm', testid: 'feed-empty-latest', onClick: pick('latest') }, icon('clock'), h('span', {}, 'Browse latest')), h('a', { href: '/community?feed=trending', class: 'btn btn-secondary btn-sm', onClick: pick('trending') }, icon('trending'), h('span', {}, 'See what\u2019s trending'))),
        ),
      latest: () =>
        h(
          'div',
          { class: 'feed-empty', testid: 'feed-empty' },
          emptyState('sparkles', 'Nothing shared yet', `Be the first to share something on ${instanceName()}.`),
          me ? h('a', { href: '/library', class: 'btn btn-primary btn-sm' }, icon('library'), h('span', {}, 'Share from your library')) : null,
        ),
      trending: () => h('div', { class: 'feed-empty', testid: 'feed-empty' }, emptyState('trending', 'Nothing trending yet', 'Posts that people react to and talk about rise here.')),
    };

    function pick(k) {
      return (ev) => {
        if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();
        const tab = tabStrip.querySelector(`[data-testid="feed-${k}"]`);
        if (tab) tab.click();
      };
    }

    const loadFeed = (k) => (cursor, sig) => get(`/feed${qs({ kind: k, cursor })}`, { signal: sig });
    const grid = postGrid({ label: 'Posts', signal, load: loadFeed(feed), empty: () => empties[feed](), testid: 'feed-grid' });
    const tabStrip = feedTabs(feeds, feed, (k) => {
      if (k === feed) return;
      feed = k;
      replaceQuietly(`/community?feed=${k}`);
      rememberList(`/community?feed=${k}`, 'Community');
      grid.reload(loadFeed(k));
    });
    rememberList(`/community?feed=${feed}`, 'Community');
    if (params.get('feed') !== feed) replaceQuietly(`/community?feed=${feed}`);

    const intro = me ? `See what people on ${instanceName()} are making, and share your own from the library.` : `See what people on ${instanceName()} are making with images and 3D.`;
    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide community-page', testid: 'community-page' },
        pageHeader('Community', intro, searchBox()),
        tabStrip,
        grid.el,
      ),
    );
  },
};
