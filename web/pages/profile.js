// /u/{username} — a person's public profile: picture (or initials), names, bio, links,
// when they joined, followers / following (each opens a list) and post counts, Follow or
// "Edit profile", a "…" menu to report or block them, and their posts (infinite scroll).
// The server also renders /u/{username} as plain HTML for search engines.

import { h, icon, avatar, badge, toast, toastError, spinner, confirmDialog, menuButton, emptyState, absoluteTime } from '../ui.js';
import { get, post, qs, ApiError } from '../api.js';
import { instanceName } from '../state.js';
import { navigate } from '../router.js';
import { postGrid, postCard, followButton, peopleDialog, reportDialog, requireUser, personName, rememberList, compactNumber } from './community-common.js';

let title = 'Profile';

function notFound(main, username) {
  main.replaceChildren(
    h(
      'div',
      { class: 'page page-narrow center-page', testid: 'profile-not-found' },
      h('div', { class: 'empty-icon big' }, icon('user')),
      h('h1', { tabindex: '-1' }, 'This profile isn\u2019t available'),
      h('p', { class: 'muted' }, `There is nobody called @${username} here, or you can\u2019t see them.`),
      h('a', { href: '/community', class: 'btn btn-primary' }, icon('community'), h('span', {}, 'Browse the community')),
    ),
  );
}

/** "ann.example.org/portfolio" for a link. */
function linkText(url) {
  try {
    const u = new URL(url);
    return `${u.host.replace(/^www\./, '')}${u.pathname === '/' ? '' : u.pathname}`.replace(/\/$/, '');
  } catch {
    return url;
  }
}

// On a profile the author is known: cards show when instead of who, and the owner sees
// which posts are unlisted, followers-only or hidden.
const postCardFor = (p) => postCard(p, { showAuthor: false, showAudience: p.mine });

const joined = new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric' });

export default {
  title: () => title,
  access: 'any',
  async render(main, { route, signal }) {
    const username = route.username.replace(/^@/, '');
    title = `@${username}`;
    main.replaceChildren(h('div', { class: 'page page-wide' }, h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'Loading\u2026'))));
    let prof;
    try {
      prof = await get(`/users/${encodeURIComponent(username)}`, { signal });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) {
        title = 'Profile not found';
        notFound(main, username);
        return;
      }
      throw err;
    }
    const name = personName(prof);
    title = prof.display_name ? `${prof.display_name} (@${prof.username})` : `@${prof.username}`;
    rememberList(`/u/${encodeURIComponent(prof.username)}`, name);

    // ------------------------------------------------------------------ stats
    const followersNum = h('span', { class: 'stat-num', testid: 'profile-followers' });
    const setFollowers = (n) => {
      prof.followers = n;
      followersNum.textContent = compactNumber(n);
      followersBtn.setAttribute('aria-label', `${n.toLocaleString()} ${n === 1 ? 'follower' : 'followers'}: show them`);
    };
    const followersBtn = h('button', { type: 'button', class: 'stat stat-btn', testid: 'profile-followers-button' }, followersNum, h('span', { class: 'stat-label' }, 'Followers'));
    const followingBtn = h(
      'button',
      { type: 'button', class: 'stat stat-btn', testid: 'profile-following-button', 'aria-label': `Follows ${prof.following.toLocaleString()}: show them` },
      h('span', { class: 'stat-num', testid: 'profile-following' }, compactNumber(prof.following)),
      h('span', { class: 'stat-label' }, 'Following'),
    );
    followersBtn.addEventListener('click', () => peopleDialog({ title: `People following ${name}`, path: `/users/${encodeURIComponent(prof.username)}/followers`, emptyText: 'No followers yet.', testid: 'followers-dialog' }));
    followingBtn.addEventListener('click', () => peopleDialog({ title: `${name} follows`, path: `/users/${encodeURIComponent(prof.username)}/following`, emptyText: 'Not following anyone yet.', testid: 'following-dialog' }));
    setFollowers(prof.followers);
    const live = h('span', { class: 'visually-hidden', 'aria-live': 'polite' });

    // ---------------------------------------------------------------- actions
    const actions = [];
    if (prof.is_me) {
      actions.push(h('a', { href: '/settings/profile', class: 'btn btn-secondary', testid: 'profile-edit' }, icon('pencil'), h('span', {}, 'Edit profile')));
    } else {
      actions.push(
        followButton(prof, {
          testid: 'profile-follow',
          onChange: (res) => {
            if (typeof res.followers === 'number') setFollowers(res.followers);
            live.textContent = `${res.following ? 'Following' : 'Not following'} ${name}. ${prof.followers} followers.`;
          },
        }),
      );
      const report = h('button', { type: 'button', class: 'menu-item', testid: 'profile-report' }, icon('flag'), h('span', {}, 'Report'));
      report.addEventListener('click', () => reportDialog({ kind: 'user', id: prof.username, what: `@${prof.username}` }));
      const block = h('button', { type: 'button', class: 'menu-item menu-item-danger', testid: 'profile-block' }, icon('ban'), h('span', {}, `Block @${prof.username}`));
      block.addEventListener('click', async () => {
        if (!requireUser('block people')) return;
        const ok = await confirmDialog({
          title: `Block @${prof.username}?`,
          body: `You won\u2019t see each other\u2019s posts, comments or profiles, they can\u2019t follow you or mention you, and any follows between you end. They aren\u2019t told. You can unblock them any time in Settings \u2192 Profile.`,
          confirmLabel: 'Block',
          danger: true,
        });
        if (!ok) return;
        try {
          await post('/blocks', { username: prof.username });
          toast(`You blocked @${prof.username}`, 'success');
          navigate('/community');
        } catch (err) {
          toastError(err, 'Could not block them');
        }
      });
      const moreBtn = h('button', { type: 'button', class: 'icon-btn icon-btn-bordered', 'aria-label': `More actions for @${prof.username}`, title: 'More', testid: 'profile-menu' }, icon('more'));
      actions.push(menuButton(moreBtn, [report, block], { label: `Actions for @${prof.username}` }));
    }

    // ------------------------------------------------------------------- hero
    const bio = h('div', { class: 'prose profile-bio', testid: 'profile-bio' });
    bio.innerHTML = prof.bio_html || ''; // safe HTML rendered by the server
    const links = (prof.links || []).filter(Boolean);
    const hero = h(
      'section',
      { class: 'card profile-hero', 'aria-labelledby': 'profile-name', testid: 'profile-hero' },
      h('div', { class: 'profile-hero-banner', 'aria-hidden': 'true' }),
      h(
        'div',
        { class: 'profile-hero-top' },
        avatar(prof, 'xl'),
        h('div', { class: 'profile-hero-actions' }, actions),
      ),
      h(
        'div',
        { class: 'profile-hero-id' },
        h('h1', { id: 'profile-name', tabindex: '-1', testid: 'profile-name' }, name),
        h('p', { class: 'profile-handle' }, h('span', { testid: 'profile-username' }, `@${prof.username}`), prof.follows_you ? badge('Follows you', 'neutral', { testid: 'profile-follows-you' }) : null, prof.is_me ? badge('You', 'accent') : null),
      ),
      prof.bio_html ? bio : null,
      links.length
        ? h(
            'ul',
            { class: 'profile-links', role: 'list', 'aria-label': 'Links' },
            links.map((l) => h('li', {}, h('a', { href: l, target: '_blank', rel: 'nofollow noopener ugc me', class: 'profile-link' }, icon('link'), h('span', {}, linkText(l))))),
          )
        : null,
      h(
        'div',
        { class: 'profile-stats' },
        h('div', { class: 'stat', testid: 'profile-posts' }, h('span', { class: 'stat-num' }, compactNumber(prof.posts)), h('span', { class: 'stat-label' }, prof.posts === 1 ? 'Post' : 'Posts')),
        followersBtn,
        followingBtn,
        h('div', { class: 'stat stat-joined', title: absoluteTime(prof.joined_at) }, icon('calendar'), h('span', { class: 'stat-label' }, `Joined ${joined.format(new Date(prof.joined_at * 1000))}`)),
        live,
      ),
    );

    const grid = postGrid({
      label: `Posts by ${name}`,
      signal,
      testid: 'profile-posts-grid',
      load: (cursor, sig) => get(`/posts${qs({ author: prof.username, cursor })}`, { signal: sig }),
      card: (p) => postCardFor(p),
      empty: () =>
        h(
          'div',
          { class: 'feed-empty', testid: 'profile-empty' },
          emptyState('image', prof.is_me ? 'You haven\u2019t shared anything yet' : `${name} hasn\u2019t shared anything yet`, prof.is_me ? 'Open something in your library and choose \u201cShare to community\u201d.' : null),
          prof.is_me ? h('a', { href: '/library', class: 'btn btn-primary btn-sm' }, icon('library'), h('span', {}, 'Go to your library')) : null,
        ),
    });

    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide profile-page', testid: 'profile-page', dataset: { username: prof.username } },
        hero,
        h('h2', { class: 'section-title' }, prof.is_me ? 'Your posts' : 'Posts'),
        grid.el,
      ),
    );
    document.title = `${title} \u00b7 ${instanceName()}`;
  },
};
