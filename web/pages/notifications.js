// /notifications — follows, comments, replies, mentions and reactions, newest first.
// Opening the page marks what it shows as read (they stay highlighted as "new" while the
// page is open); "Mark all read" also covers older pages not loaded yet. Each item links
// to the post (the comment, when there is one) or to the person who followed.

import { h, icon, avatar, pageHeader, card, spinner, timeEl, emptyState, showLoadError, toastError } from '../ui.js';
import { get, post, qs } from '../api.js';
import { setUnread } from '../unread.js';
import { personName, profileHref, reactionEmoji, reactionLabel } from './community-common.js';

const KIND_ICON = { follow: 'userPlus', comment: 'message', reply: 'reply', mention: 'message', reaction: 'heart' };

function linkOf(n) {
  if (n.kind === 'follow' || !n.post) return n.actor ? profileHref(n.actor.username) : '/community';
  return `${n.post.url || `/p/${encodeURIComponent(n.post.id)}`}${n.comment_id ? `#comment-${encodeURIComponent(n.comment_id)}` : ''}`;
}

/** The sentence, with the person and the post set apart (falls back to the server's text). */
function sentence(n) {
  const who = h('strong', { class: 'notif-actor' }, n.actor ? personName(n.actor) : 'Someone');
  const what = n.post ? h('span', { class: 'notif-post' }, `\u201c${n.post.title}\u201d`) : null;
  const onComment = n.comment_id ? ' to your comment on ' : ' to ';
  switch (n.kind) {
    case 'follow':
      return [who, ' started following you'];
    case 'comment':
      return [who, ' commented on ', what];
    case 'reply':
      return [who, ' replied to your comment on ', what];
    case 'mention':
      return [who, ' mentioned you on ', what];
    case 'reaction':
      return [who, ' reacted ', h('span', { class: 'notif-emoji', role: 'img', 'aria-label': reactionLabel(n.reaction) }, reactionEmoji(n.reaction)), onComment, what];
    default:
      return [n.text];
  }
}

export default {
  title: 'Notifications',
  access: 'user',
  render(main, { signal }) {
    const list = h('ul', { class: 'notif-list', role: 'list', testid: 'notification-list' });
    const status = h('div', { class: 'notif-status' });
    const more = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', hidden: true, testid: 'notifications-more' }, 'Show older');
    const markAll = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'notifications-mark-all', disabled: true }, icon('check'), h('span', {}, 'Mark all read'));
    const summary = h('p', { class: 'notif-summary', 'aria-live': 'polite', testid: 'notifications-summary' });
    let cursor = null;
    let serverUnread = 0;

    const syncButton = () => {
      const fresh = list.querySelectorAll('.notif.is-unread').length;
      markAll.disabled = !fresh && !serverUnread;
      summary.textContent = fresh ? `${fresh} new` : serverUnread ? `${serverUnread} unread in older notifications` : '';
    };

    function item(n) {
      const actor = n.actor || { username: '?', display_name: 'Someone' };
      return h(
        'li',
        { class: `notif ${n.read ? '' : 'is-unread'}`.trim(), testid: 'notification', dataset: { kind: n.kind, id: String(n.id) } },
        h(
          'a',
          { href: linkOf(n), class: 'notif-link' },
          h('span', { class: 'notif-avatar' }, avatar(actor, 'md'), h('span', { class: `notif-kind notif-kind-${n.kind}`, 'aria-hidden': 'true' }, icon(KIND_ICON[n.kind] || 'bell'))),
          h(
            'span',
            { class: 'notif-text' },
            h('span', { class: 'notif-sentence', testid: 'notification-text' }, sentence(n)),
            n.excerpt ? h('span', { class: 'notif-excerpt' }, n.excerpt) : null,
            h('span', { class: 'notif-time' }, timeEl(n.created_at)),
          ),
          n.read ? null : h('span', { class: 'notif-dot', title: 'New' }, h('span', { class: 'visually-hidden' }, 'New')),
        ),
      );
    }

    async function markShown(items) {
      const ids = items.filter((n) => !n.read).map((n) => n.id);
      if (!ids.length) return;
      try {
        const res = await post('/notifications/read', { ids });
        serverUnread = Number(res && res.unread) || 0;
        setUnread(serverUnread);
        syncButton();
      } catch {
        /* they stay unread; the bell says so */
      }
    }

    async function load() {
      more.hidden = true;
      status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading\u2026')));
      try {
        const res = await get(`/notifications${qs({ cursor })}`, { signal });
        const items = res.items || [];
        for (const n of items) list.appendChild(item(n));
        cursor = res.next_cursor || null;
        more.hidden = !cursor;
        serverUnread = Number(res.unread) || 0;
        status.replaceChildren();
        if (!list.children.length) {
          status.replaceChildren(emptyState('bell', 'You\u2019re all caught up', 'When people follow you, comment on your posts, mention you or react, it shows up here.'));
        }
        syncButton();
        markShown(items);
      } catch (err) {
        showLoadError(status, err, load);
      }
    }

    markAll.addEventListener('click', async () => {
      markAll.disabled = true;
      try {
        const res = await post('/notifications/read', {});
        serverUnread = Number(res && res.unread) || 0;
        setUnread(serverUnread);
        for (const li of list.querySelectorAll('.notif.is-unread')) {
          li.classList.remove('is-unread');
          const dot = li.querySelector('.notif-dot');
          if (dot) dot.remove();
        }
      } catch (err) {
        toastError(err, 'Could not mark them read');
      } finally {
        syncButton();
      }
    });
    more.addEventListener('click', load);

    main.replaceChildren(
      h(
        'div',
        { class: 'page notifications-page', testid: 'notifications-page' },
        pageHeader('Notifications', 'Follows, comments, replies, mentions and reactions.', markAll),
        summary,
        card({ cls: 'card-flush notif-card' }, list, status),
        h('div', { class: 'picker-more' }, more),
        h('p', { class: 'hint notif-mail-hint' }, icon('mail'), ' Want these by email too? Choose instant mails or a daily digest in ', h('a', { href: '/settings/profile#community-mail' }, 'Settings \u2192 Profile'), '.'),
      ),
    );
    load();
  },
};
