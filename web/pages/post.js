// /p/{id} — one community post: the picture (or the 3D viewer with the model's facts and
// downloads), title, author with a Follow button, time, tags, description, reactions,
// the prompt and settings when shared ("Use this prompt" opens /generate?post={id}),
// Edit / Delete for the author, Report for others, and the comments: one level of
// replies, @mentions, reactions on comments, edit and delete.
// The server also renders /p/{id} as plain HTML for search engines; this page is what a
// visitor sees once the app runs.

import { h, icon, avatar, toast, toastError, spinner, timeEl, confirmDialog, confirmAction, copyText, showLoadError, menuButton } from '../ui.js';
import { get, post as apiPost, patch, del, qs, ApiError } from '../api.js';
import { state, instanceName } from '../state.js';
import { navigate } from '../router.js';
import { mountViewer } from '../viewer.js';
import { meshFacts, printableBadge, modelDownloads, placeholderTile } from './library-common.js';
import { generationList, plural } from './generate-common.js';
import { personLink, personName, profileHref, tagHref, reactionBar, followButton, postBadges, postDialog, reportDialog, backToList, communityError } from './community-common.js';

const MAX_COMMENT = 2000;

let current = null; // the post on screen, for the document title

function notFound(main) {
  main.replaceChildren(
    h(
      'div',
      { class: 'page page-narrow center-page', testid: 'post-not-found' },
      h('div', { class: 'empty-icon big' }, icon('image')),
      h('h1', { tabindex: '-1' }, 'This post isn\u2019t available'),
      h('p', { class: 'muted' }, 'It may have been deleted, or it is shared only with some people.'),
      h('a', { href: '/community', class: 'btn btn-primary' }, icon('community'), h('span', {}, 'Browse the community')),
    ),
  );
}

/** The prompt of a generation (images keep it at the top, prompt-to-3D jobs under `image`). */
export function promptOf(g) {
  if (!g || typeof g !== 'object') return '';
  return g.prompt || (g.image && g.image.prompt) || '';
}

/** The asset id in a model's GLB link (/api/v1/assets/{id}/download?format=glb). */
function modelAssetId(url) {
  const m = /\/assets\/([^/?#]+)\/download/.exec(String(url || ''));
  return m ? decodeURIComponent(m[1]) : null;
}

function stage(p) {
  const m = p.media || {};
  if (m.kind === 'model' && m.model_url) {
    const holder = h('div', { class: 'viewer asset-viewer', testid: 'post-viewer' });
    const viewer = mountViewer(holder, { url: m.model_url, title: p.title });
    viewer.ready.catch(() => {});
    return { el: h('figure', { class: 'asset-stage asset-stage-model', testid: 'post-view' }, holder), destroy: () => viewer.destroy() };
  }
  const src = m.preview_url || m.image_url;
  const small = Number(m.width) > 0 && Number(m.width) < 256;
  const img = h('img', { src, alt: p.title, class: small ? 'asset-full is-small' : 'asset-full', decoding: 'async', width: m.width || null, height: m.height || null, testid: 'post-image' });
  // A click on the picture opens it full size (keyboard users have the "Full size" button).
  const inner = h('a', { href: m.image_url, class: 'asset-stage-inner', target: '_blank', rel: 'noopener', title: 'Open the full-size image', tabindex: '-1' }, img);
  img.addEventListener('load', () => inner.classList.add('is-loaded'));
  img.addEventListener('error', () => inner.replaceChildren(placeholderTile({ kind: m.kind, format: m.format }, { big: true })));
  const fig = h(
    'figure',
    { class: 'asset-stage asset-stage-image', testid: 'post-view' },
    inner,
    h('a', { href: m.image_url, class: 'stage-btn', target: '_blank', rel: 'noopener', testid: 'post-open-original' }, icon('external'), h('span', {}, m.width && m.height ? `Full size \u00b7 ${m.width} \u00d7 ${m.height}` : 'Full size')),
  );
  // The stage takes the picture's shape (within limits), so there is no empty frame around it.
  if (m.width > 0 && m.height > 0 && !small) fig.style.setProperty('--ar', `${m.width} / ${m.height}`);
  return { el: fig, destroy() {} };
}

function modelSection(p) {
  const m = p.media;
  const id = modelAssetId(m.model_url);
  const stem = p.title.replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-|-$/g, '').toLowerCase().slice(0, 60) || 'model';
  return h(
    'section',
    { class: 'side-section', 'aria-labelledby': 'post-model-h', testid: 'post-model' },
    h('h2', { id: 'post-model-h', class: 'side-heading' }, icon('cube'), h('span', {}, '3D model'), m.mesh ? printableBadge(m.mesh) : null),
    m.mesh ? meshFacts(m.mesh) : null,
    id ? [h('h3', { class: 'side-subheading' }, 'Download as'), modelDownloads({ id, filename: `${stem}.glb` })] : null,
  );
}

function generationSection(p) {
  const g = { ...p.generation };
  // A prompt-to-3D job keeps the picture's prompt and settings under `image`.
  const shown = g.image && typeof g.image === 'object' ? { ...g.image } : g;
  const model = p.media.kind === 'model' && shown === g && !g.prompt;
  // The source image lives in the author's private library: only the author can open it.
  const own = p.mine;
  if (!own) {
    delete shown.source_asset_id;
    delete shown.strength;
  }
  delete shown.image;
  const { list } = generationList(shown, { model, testid: 'post-params', sourceHref: own ? (id) => `/library/${encodeURIComponent(id)}` : null, sourceLabel: model ? 'Made from' : 'Start image' });
  const prompt = promptOf(p.generation);
  return h(
    'section',
    { class: 'side-section', 'aria-labelledby': 'post-gen-h', testid: 'post-generation' },
    h('h2', { id: 'post-gen-h', class: 'side-heading' }, icon('sparkles'), h('span', {}, prompt ? 'Prompt and settings' : 'Settings')),
    own && !p.remix ? h('p', { class: 'hint' }, icon('lock'), ' Only you see this: the prompt isn\u2019t shared with others.') : null,
    list,
    prompt
      ? h(
          'div',
          { class: 'side-actions' },
          h('a', { href: `/generate${qs({ post: p.id })}`, class: 'btn btn-primary', testid: 'post-use-prompt' }, icon('sliders'), h('span', {}, 'Use this prompt')),
        )
      : null,
  );
}

export default {
  title: () => (current ? current.title : 'Post'),
  access: 'any',
  async render(main, { route, signal }) {
    current = null;
    const id = route.id;
    main.replaceChildren(h('div', { class: 'page page-wide post-page' }, h('div', { class: 'asset-topbar' }, backToList()), h('div', { class: 'loading-block' }, spinner('Loading'), h('p', {}, 'Loading\u2026'))));
    let p;
    try {
      p = await get(`/posts/${encodeURIComponent(id)}`, { signal });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 400 || err.status === 403)) {
        notFound(main);
        return;
      }
      throw err;
    }
    current = p;
    const me = state.me;
    const path = `/posts/${encodeURIComponent(p.id)}`;

    // --------------------------------------------------------------- the view
    const view = stage(p);
    signal.addEventListener('abort', () => view.destroy(), { once: true });

    // ----------------------------------------------------------------- header
    const titleEl = h('h1', { class: 'post-title', testid: 'post-title', tabindex: '-1' }, p.title);
    const badges = h('div', { class: 'badges' }, postBadges(p));
    const description = h('div', { class: 'prose', testid: 'post-description' });
    const tagList = h('ul', { class: 'tag-links', role: 'list', 'aria-label': 'Tags', testid: 'post-tags' });
    function renderText() {
      titleEl.textContent = p.title;
      badges.replaceChildren(...postBadges(p));
      description.innerHTML = p.description_html || ''; // safe HTML rendered by the server
      description.hidden = !p.description_html;
      tagList.replaceChildren(...p.tags.map((t) => h('li', {}, h('a', { href: tagHref(t), class: 'tag-link', testid: 'post-tag' }, h('span', { 'aria-hidden': 'true' }, '#'), t))));
      tagList.hidden = !p.tags.length;
      document.title = `${p.title} \u00b7 ${instanceName()}`;
    }
    renderText();

    const followSlot = h('div', { class: 'post-follow' });
    if (!p.mine) {
      // Whether the viewer follows the author is on the author's profile.
      const place = (you_follow) => followSlot.replaceChildren(followButton({ username: p.author.username, display_name: p.author.display_name, you_follow }, { size: 'btn-sm', testid: 'post-follow' }));
      if (me) {
        get(`/users/${encodeURIComponent(p.author.username)}`, { signal })
          .then((prof) => place(prof.you_follow))
          .catch(() => {});
      } else place(false);
    }
    const byline = h(
      'div',
      { class: 'post-byline' },
      personLink(p.author, { size: 'md', handle: true, testid: 'post-author' }),
      followSlot,
    );
    const when = h('p', { class: 'post-when' }, 'Shared ', timeEl(p.created_at), p.updated_at && p.updated_at - p.created_at > 60 ? h('span', { class: 'muted', title: new Date(p.updated_at * 1000).toLocaleString() }, ' \u00b7 edited') : null);

    const reactions = reactionBar({ postId: p.id, reactions: p.reactions, testid: 'post-reactions' });

    // ---------------------------------------------------------------- actions
    const copyLink = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'post-copy-link' }, icon('link'), h('span', {}, 'Copy link'));
    copyLink.addEventListener('click', async () => {
      const ok = await copyText(new URL(p.url || `/p/${p.id}`, location.origin).href);
      toast(ok ? 'Link copied' : 'Could not copy the link', ok ? 'success' : 'error');
    });
    const actions = [copyLink];
    if (p.mine) {
      const edit = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'post-edit' }, icon('pencil'), h('span', {}, 'Edit'));
      edit.addEventListener('click', async () => {
        const saved = await postDialog({ post: p });
        if (saved) {
          p = saved;
          current = p;
          renderText();
          genSlot.replaceChildren(...(p.generation ? [generationSection(p)] : []));
          toast('Post saved', 'success');
        }
      });
      const remove = confirmAction(
        h('button', { type: 'button', class: 'btn btn-danger-soft btn-sm', testid: 'post-delete' }, icon('trash'), h('span', {}, 'Delete')),
        { title: `Delete \u201c${p.title}\u201d?`, body: 'The post, its comments and reactions are deleted for everyone. The picture stays in your library.', confirmLabel: 'Delete post' },
        async () => {
          await del(path);
          toast('Post deleted', 'success');
          navigate(profileHref(p.author.username));
        },
        'Could not delete the post',
      );
      actions.push(edit, remove);
    } else {
      const report = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'post-report' }, icon('flag'), h('span', {}, 'Report'));
      report.addEventListener('click', () => reportDialog({ kind: 'post', id: p.id, what: 'this post' }));
      actions.push(report);
    }

    const genSlot = h('div', { class: 'gen-slot' }, p.generation ? generationSection(p) : null);
    const side = h(
      'aside',
      { class: 'asset-side post-side', 'aria-label': 'About this post' },
      h('div', { class: 'side-section side-head' }, titleEl, badges, byline, when, description, tagList),
      h('div', { class: 'side-section' }, reactions.el, h('div', { class: 'side-actions side-actions-wrap' }, actions)),
      p.media.kind === 'model' ? modelSection(p) : null,
      genSlot,
    );

    // --------------------------------------------------------------- comments
    const comments = commentsSection(p, signal);

    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide post-page', dataset: { postId: p.id } },
        h('div', { class: 'asset-topbar' }, backToList()),
        h('div', { class: 'post-layout' }, h('div', { class: 'post-stage' }, view.el), side, comments.el),
      ),
    );
    comments.load();
    signal.addEventListener('abort', () => {
      if (current === p) current = null;
    });
  },
};

// ---------------------------------------------------------------------------
// Comments
// ---------------------------------------------------------------------------

/**
 * A comment box: textarea, hint, counter; Ctrl/Cmd+Enter sends. `send(body)` saves it
 * (throws to keep the text); `cancel` adds a Cancel button.
 */
function composer({ label, placeholder, value = '', submitLabel = 'Comment', send, cancel, testid = 'comment-composer', autofocus = false }) {
  const id = `c-${Math.random().toString(36).slice(2, 9)}`;
  const area = h('textarea', { id, name: 'body', class: 'input comment-input', rows: '2', maxlength: String(MAX_COMMENT), placeholder, testid: `${testid}-input`, 'aria-describedby': `${id}-hint` });
  area.value = value;
  const counter = h('span', { class: 'counter', 'aria-hidden': 'true' });
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', testid: `${testid}-submit` }, h('span', {}, submitLabel));
  const cancelBtn = cancel ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', onClick: cancel }, 'Cancel') : null;
  const form = h(
    'form',
    { class: 'composer', testid, novalidate: true },
    h('label', { for: id, class: 'visually-hidden' }, label),
    area,
    error,
    h('div', { class: 'composer-foot' }, h('p', { class: 'hint', id: `${id}-hint` }, 'Mention someone with @username. **Bold**, _italic_ and links work.'), counter, h('div', { class: 'composer-actions' }, cancelBtn, submit)),
  );
  const sync = () => {
    const n = area.value.length;
    counter.textContent = n > MAX_COMMENT - 200 ? `${n}/${MAX_COMMENT}` : '';
    submit.disabled = !area.value.trim();
    // Grow with the text (up to a limit), so long comments stay readable while typed.
    area.style.height = 'auto';
    area.style.height = `${Math.min(area.scrollHeight + 2, 320)}px`;
  };
  area.addEventListener('input', () => {
    error.hidden = true;
    sync();
  });
  area.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    } else if (ev.key === 'Escape' && cancel) {
      ev.preventDefault();
      cancel();
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = area.value.trim();
    if (!body || form.dataset.busy) return;
    form.dataset.busy = '1';
    submit.disabled = true;
    area.readOnly = true;
    try {
      await send(body);
      area.value = '';
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      const fieldMsg = err instanceof ApiError && err.errors && err.errors.body;
      error.textContent = communityError(err) || (fieldMsg ? [].concat(fieldMsg).join(' ') : (err && err.detail) || 'Could not send it. Please try again.');
      error.hidden = false;
      area.focus();
    } finally {
      delete form.dataset.busy;
      area.readOnly = false;
      if (form.isConnected) sync();
    }
  });
  requestAnimationFrame(() => {
    sync();
    if (autofocus) {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    }
  });
  return { el: form, area };
}

function commentsSection(p, signal) {
  const me = state.me;
  const base = `/posts/${encodeURIComponent(p.id)}/comments`;
  let count = p.comment_count || 0;
  let cursor = null;
  const countEl = h('span', { class: 'comments-count', testid: 'comments-count', 'aria-live': 'polite' });
  const setCount = (n) => {
    count = Math.max(0, n);
    countEl.textContent = count ? String(count) : '';
    countEl.setAttribute('aria-label', plural(count, 'comment'));
  };
  setCount(count);
  const list = h('ol', { class: 'comment-list', role: 'list', testid: 'comment-list' });
  const status = h('div', { class: 'comments-status' });
  const more = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', hidden: true, testid: 'comments-more' }, 'Show more comments');

  let top;
  if (me) {
    top = composer({
      label: 'Add a comment',
      placeholder: 'Add a comment\u2026',
      send: async (body) => {
        const c = await apiPost(base, { body });
        list.appendChild(commentItem(c));
        setCount(count + 1);
        status.replaceChildren();
        toast('Comment posted', 'success');
      },
    }).el;
  } else {
    top = h('div', { class: 'comment-signin' }, icon('message'), h('p', {}, h('a', { href: `/login?next=${encodeURIComponent(location.pathname)}`, testid: 'comments-signin' }, 'Sign in'), ' to join the conversation.'));
  }

  const canDelete = (c) => c.mine || p.mine;

  function commentItem(c, parent = null) {
    const li = h('li', { class: `comment ${parent ? 'is-reply' : ''} ${c.author ? '' : 'is-deleted'}`.trim(), id: `comment-${c.id}`, testid: 'comment', dataset: { commentId: c.id } });
    const replies = h('ol', { class: 'reply-list', role: 'list' });
    const replySlot = h('div', { class: 'reply-slot' });

    function render() {
      const body = h('div', { class: 'comment-body prose', testid: 'comment-body' });
      if (c.author) body.innerHTML = c.body_html; // safe HTML rendered by the server
      else body.textContent = '[deleted]';
      const head = h(
        'div',
        { class: 'comment-head' },
        c.author ? h('a', { href: profileHref(c.author.username), class: 'comment-author', testid: 'comment-author' }, personName(c.author)) : h('span', { class: 'comment-author is-deleted' }, '[deleted]'),
        c.author && c.author.username === p.author.username ? h('span', { class: 'badge badge-accent comment-op', title: 'The author of the post' }, 'Author') : null,
        h('span', { class: 'comment-time' }, timeEl(c.created_at)),
        c.edited_at ? h('span', { class: 'comment-edited', title: `Edited ${new Date(c.edited_at * 1000).toLocaleString()}` }, '(edited)') : null,
      );
      const tools = [];
      if (!parent && me) {
        const reply = h('button', { type: 'button', class: 'link-btn', testid: 'comment-reply' }, icon('reply'), h('span', {}, 'Reply'));
        reply.addEventListener('click', () => openReply(c.author && !c.mine ? `@${c.author.username} ` : ''));
        tools.push(reply);
      }
      const menuItems = [];
      if (c.mine && c.author) {
        const edit = h('button', { type: 'button', class: 'menu-item', testid: 'comment-edit' }, icon('pencil'), h('span', {}, 'Edit'));
        edit.addEventListener('click', startEdit);
        menuItems.push(edit);
      }
      if (me && canDelete(c)) {
        const remove = h('button', { type: 'button', class: 'menu-item menu-item-danger', testid: 'comment-delete' }, icon('trash'), h('span', {}, 'Delete'));
        remove.addEventListener('click', removeComment);
        menuItems.push(remove);
      }
      if (me && !c.mine && c.author) {
        const report = h('button', { type: 'button', class: 'menu-item', testid: 'comment-report' }, icon('flag'), h('span', {}, 'Report'));
        report.addEventListener('click', () => reportDialog({ kind: 'comment', id: c.id, what: 'this comment' }));
        menuItems.push(report);
      }
      if (menuItems.length) {
        const more = h('button', { type: 'button', class: 'icon-btn icon-btn-sm', 'aria-label': 'More actions for this comment', title: 'More', testid: 'comment-menu' }, icon('more'));
        tools.push(menuButton(more, menuItems, { label: 'Comment actions', cls: 'menu-sm' }));
      }
      const rx = c.author ? reactionBar({ postId: p.id, commentId: c.id, reactions: c.reactions, compact: true, testid: 'comment-reactions' }).el : null;
      const art = h(
        'article',
        { class: 'comment-card' },
        c.author ? h('a', { href: profileHref(c.author.username), class: 'comment-avatar', tabindex: '-1', 'aria-hidden': 'true' }, avatar(c.author, 'sm')) : h('span', { class: 'comment-avatar avatar avatar-sm avatar-deleted', 'aria-hidden': 'true' }, icon('user')),
        h('div', { class: 'comment-main' }, head, body, h('div', { class: 'comment-foot' }, rx, tools)),
      );
      li.replaceChildren(...(parent ? [art] : [art, replies, replySlot]));
    }

    function startEdit() {
      const art = li.querySelector('.comment-body');
      const box = composer({
        label: 'Edit your comment',
        value: c.body,
        submitLabel: 'Save',
        testid: 'comment-edit-composer',
        autofocus: true,
        cancel: () => {
          box.el.replaceWith(art);
          li.querySelector('[data-testid="comment-menu"]')?.focus();
        },
        send: async (body) => {
          const saved = await patch(`${base}/${encodeURIComponent(c.id)}`, { body });
          const keep = c.replies;
          c = { ...saved, replies: keep };
          const reps = [...replies.children];
          render();
          replies.replaceChildren(...reps);
          toast('Comment saved', 'success');
          (li.querySelector('[data-testid="comment-menu"]') || li.querySelector('a, button')).focus();
        },
      });
      art.replaceWith(box.el);
    }

    async function removeComment() {
      const n = 1 + (parent ? 0 : replies.children.length);
      const ok = await confirmDialog({
        title: 'Delete this comment?',
        body: !parent && replies.children.length ? `Its ${plural(replies.children.length, 'reply', 'replies')} are deleted with it.` : c.mine ? 'It is gone for everyone.' : 'You can delete comments on your own posts. It is gone for everyone.',
        confirmLabel: 'Delete',
        danger: true,
      });
      if (!ok) return;
      try {
        await del(`${base}/${encodeURIComponent(c.id)}`);
        const next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        setCount(count - n);
        toast('Comment deleted', 'success');
        (next ? next.querySelector('a, button') : countEl.closest('section').querySelector('textarea, a')).focus();
        if (!list.children.length) status.replaceChildren(emptyComments());
      } catch (err) {
        toastError(err, 'Could not delete the comment');
      }
    }

    function openReply(prefill) {
      const existing = replySlot.querySelector('textarea');
      if (existing) {
        existing.focus();
        return;
      }
      const box = composer({
        label: `Reply to ${personName(c.author)}`,
        placeholder: 'Write a reply\u2026',
        value: prefill,
        submitLabel: 'Reply',
        testid: 'reply-composer',
        autofocus: true,
        cancel: () => {
          box.el.remove();
          li.querySelector('[data-testid="comment-reply"]')?.focus();
        },
        send: async (body) => {
          const r = await apiPost(base, { body, parent_id: c.id });
          replies.appendChild(commentItem(r, c));
          setCount(count + 1);
          box.el.remove();
          toast('Reply posted', 'success');
          li.querySelector('[data-testid="comment-reply"]')?.focus();
        },
      });
      replySlot.appendChild(box.el);
    }

    render();
    if (!parent) for (const r of c.replies || []) replies.appendChild(commentItem(r, c));
    return li;
  }

  const emptyComments = () => h('p', { class: 'comments-empty muted', testid: 'comments-empty' }, me ? 'No comments yet. Say something nice!' : 'No comments yet.');

  async function load() {
    more.hidden = true;
    status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading comments\u2026')));
    try {
      const res = await get(`${base}${qs({ cursor })}`, { signal });
      for (const c of res.items || []) list.appendChild(commentItem(c));
      cursor = res.next_cursor || null;
      more.hidden = !cursor;
      status.replaceChildren(list.children.length ? '' : emptyComments());
      // A link to one comment (#comment-…, e.g. from a notification) scrolls to it.
      const target = location.hash && location.hash.startsWith('#comment-') ? document.getElementById(location.hash.slice(1)) : null;
      if (target && !target.classList.contains('is-target')) {
        target.classList.add('is-target');
        target.scrollIntoView({ block: 'center' });
      }
    } catch (err) {
      showLoadError(status, err, load);
    }
  }
  more.addEventListener('click', load);

  const el = h(
    'section',
    { class: 'comments', 'aria-labelledby': 'comments-h', testid: 'comments' },
    h('h2', { id: 'comments-h', class: 'comments-title' }, icon('message'), h('span', {}, 'Comments'), countEl),
    top,
    list,
    status,
    h('div', { class: 'comments-more' }, more),
  );
  return { el, load };
}
