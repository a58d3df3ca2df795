// Pieces shared by the community pages (feed, post, profile, search, notifications) and
// the asset page's "Share to community": links, reactions, follow buttons, post cards and
// the infinitely scrolling grid, the share / edit dialog, the report dialog, the list of
// people, and the sign-in prompt for visitors.

import { h, icon, badge, avatar, toast, toastError, spinner, emptyState, errorBox, openModal, field, formAlert, onSubmit, tagEditor, checkbox } from '../ui.js';
import { get, post, patch, del, qs, ApiError } from '../api.js';
import { state, instanceName } from '../state.js';
import { navigate, currentKey } from '../router.js';
import { placeholderTile } from './library-common.js';
import { plural } from './generate-common.js';

// ---------------------------------------------------------------------------
// Links and names
// ---------------------------------------------------------------------------

export const postHref = (p) => `/p/${encodeURIComponent(p.id)}`;
export const profileHref = (username) => `/u/${encodeURIComponent(username)}`;
export const tagHref = (tag) => `/community${qs({ tag })}`;
export const personName = (p) => (p && (p.display_name || p.username)) || 'Someone';

// The last list the visitor saw (a feed, a tag, a profile, a search), for "back" links.
let lastList = { href: '/community', label: 'Community' };
export function rememberList(href, label) {
  lastList = { href, label };
}

export function backToList(testid = 'community-back') {
  return h('a', { href: lastList.href, class: 'back-link', testid }, icon('arrowLeft'), h('span', {}, lastList.label));
}

/** Avatar and name linking to the profile; `handle` adds "@username" under the name. */
export function personLink(p, { size = 'sm', handle = false, testid, cls = '' } = {}) {
  return h(
    'a',
    { href: profileHref(p.username), class: `person-link ${cls}`.trim(), testid, dataset: { username: p.username } },
    avatar(p, size),
    h('span', { class: 'person-text' }, h('span', { class: 'person-name' }, personName(p)), handle ? h('span', { class: 'person-handle' }, `@${p.username}`) : null),
  );
}

// ---------------------------------------------------------------------------
// Visitors: "sign in to …"
// ---------------------------------------------------------------------------

/** A dialog inviting a visitor to sign in (or sign up) to do `what` ("react", "comment"…). */
export function signInPrompt(what) {
  const next = encodeURIComponent(currentKey());
  const close = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Not now');
  const dlg = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': 'signin-prompt-h', testid: 'signin-prompt' },
    h(
      'div',
      { class: 'dialog-body signin-prompt' },
      h('div', { class: 'empty-icon' }, icon('community')),
      h('h2', { id: 'signin-prompt-h' }, `Sign in to ${what}`),
      h('p', { class: 'muted' }, `Join the community on ${instanceName()} to react, comment, follow people and share your own work.`),
      h(
        'div',
        { class: 'dialog-actions' },
        close,
        state.config.signup_mode !== 'closed' ? h('a', { href: `/signup?next=${next}`, class: 'btn btn-secondary' }, 'Create account') : null,
        h('a', { href: `/login?next=${next}`, class: 'btn btn-primary', testid: 'signin-prompt-login' }, 'Sign in'),
      ),
    ),
  );
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('click', (ev) => {
    if (ev.target instanceof Element && ev.target.closest('a')) dlg.close();
  });
  openModal(dlg, () => {});
  dlg.querySelector('.btn-primary').focus();
}

/** True when someone is signed in; otherwise shows the sign-in prompt. */
export function requireUser(what) {
  if (state.me) return true;
  signInPrompt(what);
  return false;
}

// ---------------------------------------------------------------------------
// Reactions
// ---------------------------------------------------------------------------

export const REACTIONS = [
  ['like', '\u{1F44D}', 'Like'],
  ['love', '\u2764\uFE0F', 'Love'],
  ['wow', '\u{1F62E}', 'Wow'],
  ['fire', '\u{1F525}', 'Fire'],
  ['laugh', '\u{1F602}', 'Laugh'],
];
const EMOJI = Object.fromEntries(REACTIONS.map(([k, e]) => [k, e]));
const LABEL = Object.fromEntries(REACTIONS.map(([k, , l]) => [k, l]));
export const reactionEmoji = (kind) => EMOJI[kind] || '\u2728';
export const reactionLabel = (kind) => LABEL[kind] || String(kind);

/** The reactions after the viewer toggles `kind` (for an instant answer before the server's). */
function toggled(r, kind) {
  const mine = new Set(r.mine || []);
  const counts = { ...(r.counts || {}) };
  const on = !mine.has(kind);
  if (on) mine.add(kind);
  else mine.delete(kind);
  counts[kind] = Math.max(0, (counts[kind] || 0) + (on ? 1 : -1));
  if (!counts[kind]) delete counts[kind];
  return { counts, total: Math.max(0, (r.total || 0) + (on ? 1 : -1)), mine: [...mine] };
}

/**
 * Reaction toggles for a post (all five, with counts) or, `compact`, for a comment (the
 * kinds someone chose, plus a button opening the five). Visitors get the sign-in prompt.
 * `onChange(reactions)` runs with the server's answer.
 */
export function reactionBar({ postId, commentId = null, reactions, compact = false, onChange = () => {}, testid = 'reactions' }) {
  let r = { counts: {}, total: 0, mine: [], ...reactions };
  let busy = false;
  const el = h('div', { class: `reactions ${compact ? 'reactions-compact' : ''}`.trim(), role: 'group', 'aria-label': compact ? 'Reactions to this comment' : 'Reactions', 'aria-busy': 'false', testid });
  const live = h('span', { class: 'visually-hidden', 'aria-live': 'polite' });

  async function react(kind) {
    if (!requireUser('react')) return;
    if (busy) return;
    busy = true;
    el.setAttribute('aria-busy', 'true');
    const before = r;
    r = toggled(r, kind);
    render(kind);
    try {
      const res = await post(`/posts/${encodeURIComponent(postId)}/reactions`, { kind, ...(commentId ? { comment_id: commentId } : {}) });
      if (res && res.counts) r = res;
      render(kind);
      live.textContent = `${reactionLabel(kind)} ${r.mine.includes(kind) ? 'added' : 'removed'}`;
      onChange(r);
    } catch (err) {
      r = before;
      render(kind);
      toastError(err, 'Could not save your reaction');
    } finally {
      busy = false;
      el.setAttribute('aria-busy', 'false');
    }
  }

  function chip(kind, emoji, label) {
    const n = r.counts[kind] || 0;
    const mine = r.mine.includes(kind);
    return h(
      'button',
      {
        type: 'button',
        class: 'reaction',
        'aria-pressed': String(mine),
        'aria-label': `${label}${n ? `, ${n}` : ''}`,
        title: mine ? `${label} (click to take back)` : label,
        testid: `${testid}-${kind}`,
        dataset: { kind, count: String(n) },
        onClick: () => react(kind),
      },
      h('span', { class: 'reaction-emoji', 'aria-hidden': 'true' }, emoji),
      n || !compact ? h('span', { class: 'reaction-count', 'aria-hidden': 'true' }, n ? n.toLocaleString() : '') : null,
    );
  }

  function picker() {
    const btn = h('button', { type: 'button', class: 'reaction reaction-add', 'aria-label': 'Add a reaction', title: 'React', testid: `${testid}-add` }, icon('smile'));
    const items = REACTIONS.map(([kind, emoji, label]) =>
      h('button', { type: 'button', class: 'reaction-pick', 'aria-label': label, title: label, 'aria-pressed': String(r.mine.includes(kind)), testid: `${testid}-pick-${kind}`, onClick: () => react(kind) }, emoji),
    );
    return menuWrap(btn, items);
  }

  function render(focusKind) {
    const hadFocus = el.contains(document.activeElement);
    const kids = compact ? REACTIONS.filter(([k]) => r.counts[k] || r.mine.includes(k)).map(([k, e, l]) => chip(k, e, l)) : REACTIONS.map(([k, e, l]) => chip(k, e, l));
    if (compact && state.me) kids.push(picker());
    el.replaceChildren(...kids, live);
    el.dataset.total = String(r.total || 0);
    if (hadFocus) {
      const again = el.querySelector(`[data-kind="${focusKind}"]`) || el.querySelector('.reaction-add') || el.querySelector('button');
      if (again) again.focus();
    }
  }
  render();
  return { el, set: (next) => { r = { counts: {}, total: 0, mine: [], ...next }; render(); } };
}

// A small popover of reaction buttons (the compact bar's "add" button).
function menuWrap(btn, items) {
  const pop = h('div', { class: 'reaction-pop', role: 'group', 'aria-label': 'Choose a reaction', hidden: true }, items);
  const wrap = h('span', { class: 'reaction-pop-wrap' }, btn, pop);
  btn.setAttribute('aria-expanded', 'false');
  const close = (refocus) => {
    pop.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    document.removeEventListener('click', outside, true);
    if (refocus) btn.focus();
  };
  const outside = (ev) => {
    if (!wrap.contains(ev.target)) close(false);
  };
  btn.addEventListener('click', () => {
    if (!pop.hidden) return close(false);
    pop.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    items[0].focus();
    document.addEventListener('click', outside, true);
  });
  pop.addEventListener('keydown', (ev) => {
    const i = items.indexOf(document.activeElement);
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') { ev.preventDefault(); items[(i + 1) % items.length].focus(); }
    else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') { ev.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
    else if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); close(true); }
  });
  pop.addEventListener('click', (ev) => {
    if (ev.target instanceof Element && ev.target.closest('.reaction-pick')) close(false);
  });
  return wrap;
}

// ---------------------------------------------------------------------------
// Follow
// ---------------------------------------------------------------------------

/**
 * Follow / Following toggle for `person` ({ username, you_follow }). `onChange(state)` gets
 * the server's { following, followers }.
 */
export function followButton(person, { onChange = () => {}, size = '', testid = 'follow-button' } = {}) {
  let following = !!person.you_follow;
  const label = h('span', {});
  const btn = h('button', { type: 'button', class: 'btn', testid });
  function render() {
    btn.className = `btn ${following ? 'btn-secondary' : 'btn-primary'} ${size}`.trim();
    btn.setAttribute('aria-pressed', String(following));
    btn.title = following ? `You follow @${person.username}. Click to unfollow.` : `Follow @${person.username}`;
    label.textContent = following ? 'Following' : 'Follow';
    btn.replaceChildren(icon(following ? 'userCheck' : 'userPlus'), label);
  }
  btn.addEventListener('click', async () => {
    if (!requireUser('follow people')) return;
    btn.disabled = true;
    const want = !following;
    try {
      const path = `/users/${encodeURIComponent(person.username)}/follow`;
      const res = want ? await post(path, {}) : await del(path);
      following = res ? !!res.following : want;
      render();
      toast(following ? `You follow ${personName(person)} now` : `You unfollowed ${personName(person)}`, 'success');
      onChange(res || { following });
    } catch (err) {
      toastError(err, want ? 'Could not follow' : 'Could not unfollow');
    } finally {
      btn.disabled = false;
    }
  });
  render();
  return btn;
}

// ---------------------------------------------------------------------------
// Post cards and the grid
// ---------------------------------------------------------------------------

const AUDIENCE = {
  public: ['Public', 'globe', 'Anyone can see it, in feeds, search and on your profile.'],
  unlisted: ['Unlisted', 'link', 'Anyone with the link. Not in feeds, search or on your profile.'],
  followers: ['Followers only', 'community', 'Only people who follow you.'],
};
export const audienceLabel = (v) => (AUDIENCE[v] || AUDIENCE.public)[0];

/** "Unlisted" / "Followers only" / "Hidden by moderators" badges (nothing for a plain public post). */
export function postBadges(p) {
  const out = [];
  if (p.moderation === 'hidden') out.push(badge('Hidden by moderators', 'danger', { testid: 'post-moderation', title: 'Only you can see it. It broke the rules of this community.' }));
  if (p.visibility && p.visibility !== 'public') {
    const [label, ic, hint] = AUDIENCE[p.visibility] || AUDIENCE.public;
    out.push(h('span', { class: 'badge', title: hint, testid: 'post-visibility' }, icon(ic), label));
  }
  return out;
}

function mediaImage(p) {
  const m = p.media || {};
  const src = m.thumbnail_url || m.preview_url || (m.kind === 'image' ? m.image_url : null);
  if (!src) return placeholderTile({ kind: m.kind, format: m.format });
  const img = h('img', { src, alt: '', loading: 'lazy', decoding: 'async', class: 'post-img', draggable: 'false' });
  img.addEventListener('error', () => {
    if (img.isConnected) img.replaceWith(placeholderTile({ kind: m.kind, format: m.format }));
  });
  return img;
}

/** A post in a grid: picture (the 3D badge on models), title, author, reactions and comments. */
export function postCard(p, { showAuthor = true, showAudience = false } = {}) {
  const href = postHref(p);
  const model = p.media && p.media.kind === 'model';
  const total = (p.reactions && p.reactions.total) || 0;
  const comments = p.comment_count || 0;
  return h(
    'li',
    { class: `post-card ${model ? 'is-model' : ''}`.trim(), testid: 'post-card', dataset: { postId: p.id, kind: (p.media && p.media.kind) || '' } },
    h(
      'a',
      { href, class: 'post-thumb', tabindex: '-1', 'aria-hidden': 'true', draggable: 'false' },
      mediaImage(p),
      model ? h('span', { class: 'post-3d', title: '3D model' }, icon('cube'), '3D') : null,
      showAudience && (p.visibility !== 'public' || p.moderation) ? h('span', { class: 'post-flags' }, postBadges(p)) : null,
    ),
    h(
      'div',
      { class: 'post-card-body' },
      h('h3', { class: 'post-card-title' }, h('a', { href, title: p.title, testid: 'post-card-link' }, p.title)),
      h(
        'div',
        { class: 'post-card-meta' },
        showAuthor ? personLink(p.author, { size: 'xs', cls: 'post-card-author' }) : h('span', { class: 'post-card-time' }, relTime(p.created_at)),
        h(
          'span',
          { class: 'post-stats' },
          h('span', { class: 'post-stat', title: plural(total, 'reaction') }, icon('heart'), h('span', { 'aria-hidden': 'true' }, compactNumber(total)), h('span', { class: 'visually-hidden' }, plural(total, 'reaction'))),
          h('span', { class: 'post-stat', title: plural(comments, 'comment') }, icon('message'), h('span', { 'aria-hidden': 'true' }, compactNumber(comments)), h('span', { class: 'visually-hidden' }, plural(comments, 'comment'))),
        ),
      ),
    ),
  );
}

const compactFormat = typeof Intl !== 'undefined' ? new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 }) : null;
/** 1234 -> "1.2K". */
export const compactNumber = (n) => (compactFormat ? compactFormat.format(Number(n) || 0) : String(Number(n) || 0));

function relTime(ts) {
  // A <time> would make the card's text change every minute; the grid only needs the day.
  const d = new Date(Number(ts) * 1000);
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }));
}

const SKELETONS = 8;

/**
 * A grid of post cards that pages on with `next_cursor` as it nears the screen.
 * `load(cursor, signal)` -> { items, next_cursor }; `empty()` -> the node shown when
 * there is nothing. Returns { el, reload(load?), remove(id) }.
 */
export function postGrid({ load, empty, signal, label, testid = 'post-grid', card = postCard }) {
  const grid = h('ul', { class: 'post-grid', role: 'list', testid, 'aria-label': label, 'aria-busy': 'true' });
  const status = h('div', { class: 'grid-status' });
  const sentinel = h('div', { class: 'grid-sentinel', 'aria-hidden': 'true' });
  const el = h('div', { class: 'post-results' }, grid, status, sentinel);
  const seen = new Set();
  let cursor = null;
  let gen = 0;
  let inflight = null;
  let loader = load;

  async function page(reset) {
    if (reset) {
      gen++;
      cursor = null;
      seen.clear();
      grid.replaceChildren(...Array.from({ length: SKELETONS }, () => h('li', { class: 'post-skeleton', 'aria-hidden': 'true' }, h('span'), h('span'))));
      grid.hidden = false;
      status.replaceChildren();
    } else if (inflight === gen || !cursor) return;
    const my = gen;
    inflight = my;
    grid.setAttribute('aria-busy', 'true');
    if (!reset) status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading more\u2026')));
    try {
      const res = await loader(cursor, signal);
      if (my !== gen) return;
      for (const s of grid.querySelectorAll('.post-skeleton')) s.remove();
      for (const p of (res && res.items) || []) {
        if (seen.has(p.id)) continue;
        seen.add(p.id);
        grid.appendChild(card(p));
      }
      cursor = (res && res.next_cursor) || null;
      status.replaceChildren();
      if (!seen.size) {
        grid.hidden = true;
        status.replaceChildren(empty());
      } else if (!cursor && seen.size > SKELETONS) status.replaceChildren(h('p', { class: 'grid-end' }, 'You\u2019re all caught up'));
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      if (my !== gen) return;
      for (const s of grid.querySelectorAll('.post-skeleton')) s.remove();
      grid.hidden = !seen.size;
      status.replaceChildren(errorBox(err, () => page(!seen.size)));
      return;
    } finally {
      if (inflight === my) inflight = null;
      if (my === gen) grid.setAttribute('aria-busy', 'false');
    }
    // A short page leaves the sentinel on screen: keep filling.
    if (cursor) requestAnimationFrame(() => {
      if (my === gen && sentinel.isConnected && sentinel.getBoundingClientRect().top < window.innerHeight + 600) page(false);
    });
  }

  if ('IntersectionObserver' in window) {
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) page(false);
    }, { rootMargin: '600px 0px' });
    io.observe(sentinel);
    if (signal) signal.addEventListener('abort', () => io.disconnect());
  }
  page(true);
  return {
    el,
    reload(next) {
      if (next) loader = next;
      page(true);
    },
    remove(id) {
      const li = grid.querySelector(`[data-post-id="${CSS.escape(id)}"]`);
      if (li) li.remove();
      seen.delete(id);
      if (!seen.size && !cursor) {
        grid.hidden = true;
        status.replaceChildren(empty());
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Share / edit a post
// ---------------------------------------------------------------------------

const MAX_TITLE = 120;
const MAX_DESCRIPTION = 5000;

/** A message for a failed community write: the server's words, with what to do next. */
export function communityError(err, fallback) {
  if (err instanceof ApiError && err.status === 403 && state.me && !state.me.email_verified) {
    return `${err.detail || 'Verify your email address first.'} Use the link we mailed to ${state.me.email}, or send a new one from the banner at the top.`;
  }
  if (err instanceof ApiError && err.status === 429) return err.detail || 'You are doing that too often. Wait a little and try again.';
  return null;
}

/**
 * The dialog that shares a library asset (`asset`) or edits a post (`post`): title,
 * description (Markdown), tags, audience and whether the prompt is shared. Resolves to
 * the saved post, or null when cancelled.
 */
export function postDialog({ asset = null, post: existing = null }) {
  return new Promise((resolve) => {
    const editing = !!existing;
    const canRemix = editing ? !!existing.generation : !!(asset && asset.source === 'generated' && asset.params && Object.keys(asset.params).length);
    const titleField = field({ name: 'title', label: 'Title', required: true, value: editing ? existing.title : (asset.title || '').trim(), testid: 'post-form-title', attrs: { maxlength: String(MAX_TITLE), autocomplete: 'off' } });
    const desc = field({
      name: 'description',
      label: 'Description',
      multiline: true,
      value: editing ? existing.description : '',
      testid: 'post-form-description',
      hint: 'Markdown works: **bold**, _italic_, [links](https://\u2026), lists. Mention people with @username.',
      attrs: { rows: '4', maxlength: String(MAX_DESCRIPTION), placeholder: 'How you made it, what it is for, what you would try next\u2026' },
    });
    const tags = tagEditor({ tags: editing ? existing.tags : (asset.tags || []).slice(0, 20), id: 'post-form-tags', describedBy: 'post-form-tags-hint', testids: { list: 'post-form-tags', chip: 'post-form-tag', remove: 'post-form-tag-remove', input: 'post-form-tag-input' } });
    const tagsField = h(
      'div',
      { class: 'field', 'data-field': 'tags' },
      h('label', { class: 'label', for: 'post-form-tags' }, 'Tags', h('span', { class: 'optional' }, ' (optional)')),
      tags.el,
      h('p', { class: 'hint', id: 'post-form-tags-hint' }, 'Press Enter after each tag. Tags help people find your work.'),
      h('p', { class: 'field-error', hidden: true, id: 'post-form-tags-error' }),
    );
    const current = editing ? existing.visibility : 'public';
    const audience = h(
      'fieldset',
      { class: 'fieldset', 'data-field': 'visibility' },
      h('legend', { class: 'label' }, 'Who can see it'),
      h(
        'div',
        { class: 'choice-list' },
        Object.entries(AUDIENCE).map(([value, [label, ic, hint]]) =>
          h(
            'label',
            { class: 'choice' },
            h('input', { type: 'radio', name: 'visibility', value, class: 'radio', checked: value === current, testid: `post-form-visibility-${value}`, 'aria-describedby': `post-vis-${value}-hint` }),
            h('span', { class: 'choice-icon', 'aria-hidden': 'true' }, icon(ic)),
            h('span', { class: 'choice-text' }, h('span', { class: 'choice-title' }, label), h('span', { class: 'choice-hint', id: `post-vis-${value}-hint` }, hint)),
          ),
        ),
      ),
      h('p', { class: 'field-error', hidden: true, id: 'post-form-visibility-error' }),
    );
    const remix = canRemix
      ? checkbox({ name: 'remix', label: 'Let others see and reuse the prompt', testid: 'post-form-remix', checked: editing ? existing.remix : false, hint: 'The prompt and settings are shown on the post, with a \u201cUse this prompt\u201d button.' })
      : null;
    const alert = formAlert();
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Cancel');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'post-form-submit' }, icon(editing ? 'check' : 'send'), h('span', {}, editing ? 'Save changes' : 'Share'));
    const form = h(
      'form',
      { class: 'dialog-body form', testid: 'post-form' },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'post-form-h' }, editing ? 'Edit post' : 'Share to community'), h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onClick: () => dlg.close() }, icon('x'))),
      !editing && asset ? sharePreview(asset) : null,
      alert,
      titleField,
      desc,
      tagsField,
      audience,
      remix,
      h('div', { class: 'dialog-actions' }, cancel, submit),
    );
    const dlg = h('dialog', { class: 'dialog dialog-wide post-dialog', 'aria-labelledby': 'post-form-h', testid: 'post-dialog' }, form);
    let saved = null;
    cancel.addEventListener('click', () => dlg.close());
    onSubmit(
      form,
      async () => {
        const body = {
          title: form.elements.title.value.trim(),
          description: form.elements.description.value.trim(),
          tags: tags.tags(),
          visibility: form.querySelector('input[name="visibility"]:checked').value,
        };
        if (remix) body.remix = form.elements.remix.checked;
        try {
          saved = editing ? await patch(`/posts/${encodeURIComponent(existing.id)}`, body) : await post('/posts', { asset_id: String(asset.id), ...body, remix: !!body.remix });
        } catch (err) {
          const msg = communityError(err);
          if (msg) {
            err.detail = msg;
            err.errors = {};
          }
          throw err;
        }
        dlg.close();
      },
      { busyLabel: editing ? 'Saving\u2026' : 'Sharing\u2026' },
    );
    openModal(dlg, () => resolve(saved));
    form.elements.title.focus();
    form.elements.title.select();
  });
}

function sharePreview(asset) {
  const src = asset.thumbnail_url || asset.preview_url;
  return h(
    'div',
    { class: 'share-preview' },
    h('span', { class: 'share-thumb' }, src ? h('img', { src, alt: '' }) : placeholderTile(asset)),
    h('span', { class: 'share-text' }, h('strong', {}, asset.kind === 'model' ? 'A 3D model from your library' : 'An image from your library'), h('span', { class: 'muted' }, 'The post shows it with your name. Your library copy stays private; deleting the post stops sharing it.')),
  );
}

// ---------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------

export const REPORT_REASONS = [
  ['spam', 'Spam', 'Ads, scams, repeated posts'],
  ['harassment', 'Harassment or bullying', 'Targets or threatens someone'],
  ['hate', 'Hate', 'Attacks people for who they are'],
  ['violence', 'Violence', 'Threats, glorified violence, gore'],
  ['sexual', 'Sexual content', 'Nudity or sexual content'],
  ['self_harm', 'Self-harm', 'Encourages hurting oneself'],
  ['copyright', 'Copyright', 'Someone else\u2019s work shared without permission'],
  ['other', 'Something else', 'Tell the moderators below'],
];
export const reasonLabel = (r) => (REPORT_REASONS.find(([k]) => k === r) || [r, String(r)])[1];

/** Report a post, a comment or a person (`kind`, `id`: post / comment id or username). */
export function reportDialog({ kind, id, what }) {
  if (!requireUser('report')) return Promise.resolve(false);
  return new Promise((resolve) => {
    const alert = formAlert();
    const details = field({ name: 'details', label: 'Anything the moderators should know?', multiline: true, testid: 'report-details', attrs: { rows: '3', maxlength: '1000' } });
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Cancel');
    const form = h(
      'form',
      { class: 'dialog-body form', testid: 'report-form' },
      h('div', { class: 'dialog-head' }, h('h2', { id: 'report-h' }, `Report ${what}`), h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onClick: () => dlg.close() }, icon('x'))),
      h('p', { class: 'muted' }, 'Reports go to this instance\u2019s moderators. They don\u2019t tell who reported.'),
      alert,
      h(
        'fieldset',
        { class: 'fieldset', 'data-field': 'reason' },
        h('legend', { class: 'label' }, 'What is wrong?'),
        h(
          'div',
          { class: 'reason-list' },
          REPORT_REASONS.map(([value, label, hint]) =>
            h('label', { class: 'choice choice-compact' }, h('input', { type: 'radio', name: 'reason', value, class: 'radio', required: true, testid: `report-reason-${value}` }), h('span', { class: 'choice-text' }, h('span', { class: 'choice-title' }, label), h('span', { class: 'choice-hint' }, hint))),
          ),
        ),
        h('p', { class: 'field-error', hidden: true, id: 'report-reason-error' }),
      ),
      details,
      h('div', { class: 'dialog-actions' }, cancel, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'report-submit' }, icon('flag'), h('span', {}, 'Send report'))),
    );
    const dlg = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': 'report-h', testid: 'report-dialog' }, form);
    let sent = false;
    cancel.addEventListener('click', () => dlg.close());
    onSubmit(
      form,
      async () => {
        try {
          await post('/reports', { target_kind: kind, target_id: String(id), reason: form.querySelector('input[name="reason"]:checked').value, details: form.elements.details.value.trim() });
        } catch (err) {
          const msg = communityError(err);
          if (msg) err.detail = msg;
          throw err;
        }
        sent = true;
        dlg.close();
        toast('Thanks for the report. A moderator will take a look.', 'success');
      },
      { busyLabel: 'Sending\u2026' },
    );
    openModal(dlg, () => resolve(sent));
    form.querySelector('input[name="reason"]').focus();
  });
}

// ---------------------------------------------------------------------------
// People
// ---------------------------------------------------------------------------

/** A person in a list: avatar, name and @username, linking to the profile. */
export function personRow(p, ...extra) {
  return h('li', { class: 'person-row', testid: 'person-row', dataset: { username: p.username } }, personLink(p, { size: 'md', handle: true }), extra.length ? h('div', { class: 'person-row-actions' }, extra) : null);
}

/** A dialog listing people page by page (followers, following). */
export function peopleDialog({ title, path, emptyText, testid = 'people-dialog' }) {
  const list = h('ul', { class: 'person-list', role: 'list' });
  const status = h('div', { class: 'picker-status' });
  const more = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', hidden: true }, 'Load more');
  const closeBtn = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close' }, icon('x'));
  const dlg = h(
    'dialog',
    { class: 'dialog people-dialog', 'aria-labelledby': 'people-h', testid },
    h('div', { class: 'dialog-body' }, h('div', { class: 'dialog-head' }, h('h2', { id: 'people-h' }, title), closeBtn), list, status, h('div', { class: 'picker-more' }, more)),
  );
  const controller = new AbortController();
  let cursor = null;
  async function load() {
    more.hidden = true;
    status.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading\u2026')));
    try {
      const res = await get(`${path}${qs({ cursor })}`, { signal: controller.signal });
      for (const p of res.items || []) list.appendChild(personRow(p));
      cursor = res.next_cursor || null;
      more.hidden = !cursor;
      status.replaceChildren(list.children.length ? '' : emptyState('community', emptyText));
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      status.replaceChildren(errorBox(err, load));
    }
  }
  more.addEventListener('click', load);
  closeBtn.addEventListener('click', () => dlg.close());
  // Following a link to a profile leaves the dialog behind.
  dlg.addEventListener('click', (ev) => {
    if (ev.target instanceof Element && ev.target.closest('a')) dlg.close();
  });
  openModal(dlg, () => controller.abort());
  closeBtn.focus();
  load();
}

/** Sends the visitor somewhere after an action made the current page pointless. */
export function leaveTo(href, message) {
  if (message) toast(message, 'success');
  navigate(href);
}
