// /settings/profile — display name, username, bio, links and picture (PATCH /me), optional mails
// (finished generations; community activity: off, instant or a daily digest) and the
// people this account blocks.

import { h, icon, field, formAlert, onSubmit, pageHeader, card, avatar, badge, timeEl, toast, toastError, spinner, showLoadError } from '../ui.js';
import { get, put, patch, del, ApiError } from '../api.js';
import { state, setMe } from '../state.js';
import { settingsTabs } from './nav-tabs.js';
import { pickImage } from './generate-common.js';

const MAX_LINKS = 5;

export default {
  title: 'Profile',
  access: 'user',
  render(main, { signal }) {
    const me = state.me;

    // --- links editor ---------------------------------------------------------
    const linkList = h('ul', { class: 'link-list', role: 'list' });
    const addBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'profile-link-add' }, icon('plus'), h('span', {}, 'Add link'));
    const linksError = h('p', { class: 'field-error', id: 'profile-links-error', hidden: true });
    let linkSeq = 0;
    function addLink(value = '', focus = false) {
      const n = ++linkSeq;
      const input = h('input', {
        type: 'url',
        id: `profile-link-${n}`,
        class: 'input',
        name: 'links',
        value,
        placeholder: 'https://',
        inputmode: 'url',
        autocomplete: 'url',
        testid: 'profile-link',
      });
      const label = h('label', { for: input.id, class: 'visually-hidden' }, `Link ${linkList.children.length + 1}`);
      const remove = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Remove this link', testid: 'profile-link-remove' }, icon('trash'));
      const li = h('li', { class: 'link-item' }, label, input, remove);
      remove.addEventListener('click', () => {
        const next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        renumber();
        (next ? next.querySelector('input') : addBtn).focus();
      });
      linkList.appendChild(li);
      renumber();
      if (focus) input.focus();
    }
    function renumber() {
      [...linkList.children].forEach((li, i) => {
        li.querySelector('label').textContent = `Link ${i + 1}`;
      });
      addBtn.hidden = linkList.children.length >= MAX_LINKS;
    }
    addBtn.addEventListener('click', () => addLink('', true));
    for (const l of me.links || []) addLink(l);
    if (!(me.links || []).length) addLink('');

    const bio = field({ name: 'bio', label: 'Bio', multiline: true, value: me.bio || '', testid: 'profile-bio', hint: 'A line or two about you and what you make.', attrs: { rows: '4', maxlength: '500' } });
    const bioInput = bio.querySelector('textarea');
    const counter = h('span', { class: 'counter', 'aria-hidden': 'true' });
    const count = () => { counter.textContent = `${bioInput.value.length}/500`; };
    bioInput.addEventListener('input', count);
    count();
    bio.querySelector('label').append(counter);

    const form = h(
      'form',
      { class: 'form', testid: 'profile-form' },
      formAlert(),
      h(
        'div',
        { class: 'grid-2' },
        field({ name: 'display_name', label: 'Display name', value: me.display_name || '', testid: 'profile-display-name', autocomplete: 'name', attrs: { maxlength: '60' } }),
        field({ name: 'username', label: 'Username', value: me.username, required: true, testid: 'profile-username', autocomplete: 'username', hint: '3\u201330 letters, digits, _ or . \u2014 it is your public handle.', attrs: { spellcheck: 'false', autocapitalize: 'none', maxlength: '30' } }),
      ),
      bio,
      h(
        'fieldset',
        { class: 'fieldset', 'data-field': 'links', 'aria-describedby': 'profile-links-error' },
        h('legend', { class: 'label' }, 'Links', h('span', { class: 'optional' }, ' (optional)')),
        h('p', { class: 'hint' }, 'Portfolio, socials, shop \u2014 up to five http(s) links.'),
        linkList,
        addBtn,
        linksError,
      ),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'profile-submit' }, 'Save profile')),
    );

    onSubmit(
      form,
      async () => {
        const cur = state.me;
        const links = [...form.querySelectorAll('input[name="links"]')].map((i) => i.value.trim()).filter(Boolean);
        const body = {};
        const dn = form.elements.display_name.value.trim();
        const un = form.elements.username.value.trim();
        const b = bioInput.value.trim();
        if (dn !== (cur.display_name || '')) body.display_name = dn;
        if (un !== cur.username) body.username = un;
        if (b !== (cur.bio || '')) body.bio = b;
        if (JSON.stringify(links) !== JSON.stringify(cur.links || [])) body.links = links;
        if (!Object.keys(body).length) {
          toast('Nothing changed', 'info');
          return;
        }
        try {
          const updated = await patch('/me', body, { signal });
          setMe(updated && typeof updated === 'object' && updated.username ? updated : { ...cur, ...body });
          toast('Profile saved', 'success');
          renderSide();
        } catch (err) {
          if (err instanceof ApiError) {
            // map "links[2]" / "links.2" errors onto the links group
            const errors = {};
            for (const [k, v] of Object.entries(err.errors)) errors[k.startsWith('links') ? 'links' : k] = v;
            // a taken username answers 409 Conflict without field errors
            if (err.status === 409 && body.username && !Object.keys(errors).length) errors.username = err.detail || 'This username is taken.';
            err.errors = errors;
          }
          throw err;
        }
      },
      { busyLabel: 'Saving\u2026' },
    );

    // Optional mails, each saved at once (GET|PUT /api/v1/me/notifications, only the changed field).
    const mailSwitch = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: 'notify-generation', testid: 'notify-generation-done', disabled: true });
    const COMMUNITY_MAIL = [
      ['off', 'Off', 'Only in the app (the bell).'],
      ['instant', 'Instant', 'A mail soon after something happens.'],
      ['daily', 'Daily', 'A digest, at most one mail a day.'],
    ];
    const communityRadios = COMMUNITY_MAIL.map(([value]) => h('input', { type: 'radio', name: 'community-mail', value, class: 'seg-input', id: `community-mail-${value}`, disabled: true, testid: `notify-community-${value}` }));
    const communityHint = h('p', { class: 'hint', id: 'community-mail-hint' }, 'Follows, comments, replies, mentions and reactions.');
    const communityField = h(
      'fieldset',
      { class: 'fieldset community-mail', id: 'community-mail', 'aria-describedby': 'community-mail-hint', testid: 'notify-community' },
      h('legend', { class: 'label' }, 'Community activity'),
      h('div', { class: 'seg seg-3' }, communityRadios.map((r, i) => h('label', { class: 'seg-option', for: r.id, title: COMMUNITY_MAIL[i][2] }, r, h('span', {}, COMMUNITY_MAIL[i][1])))),
      communityHint,
    );
    let community = 'off';
    const showCommunity = (v) => {
      community = v;
      for (const r of communityRadios) r.checked = r.value === v;
      const choice = COMMUNITY_MAIL.find(([k]) => k === v);
      communityHint.textContent = `Follows, comments, replies, mentions and reactions. ${choice ? choice[2] : ''}`;
    };
    const mails = card(
      { title: 'Email notifications', description: 'Optional mails. Account and security mails are always sent.' },
      h(
        'div',
        { class: 'stack stack-sm' },
        h(
          'div',
          { class: 'field field-check' },
          h('div', { class: 'check-row' }, mailSwitch, h('label', { for: 'notify-generation' }, 'Email me when a generation finishes')),
        ),
        communityField,
        h('p', { class: 'hint' }, 'Every such mail has a one-click unsubscribe link.'),
      ),
    );
    get('/me/notifications', { signal })
      .then((settings) => {
        mailSwitch.checked = !!settings.generation_done;
        mailSwitch.disabled = false;
        showCommunity(settings.community || 'off');
        for (const r of communityRadios) r.disabled = false;
      })
      .catch((err) => {
        if (err && err.name !== 'AbortError') toastError(err, 'Could not load your mail choices');
      });
    mailSwitch.addEventListener('change', async () => {
      const wanted = mailSwitch.checked;
      mailSwitch.disabled = true;
      try {
        await put('/me/notifications', { generation_done: wanted });
        toast(wanted ? 'You will get a mail when a generation finishes' : 'No more mails about finished generations', 'success');
      } catch (err) {
        mailSwitch.checked = !wanted;
        toastError(err, 'Could not save your choice');
      } finally {
        mailSwitch.disabled = false;
      }
    });
    for (const r of communityRadios) {
      r.addEventListener('change', async () => {
        if (!r.checked) return;
        const before = community;
        const wanted = r.value;
        for (const x of communityRadios) x.disabled = true;
        try {
          const saved = await put('/me/notifications', { community: wanted });
          showCommunity((saved && saved.community) || wanted);
          toast(wanted === 'off' ? 'No more mails about community activity' : wanted === 'daily' ? 'You will get a daily digest of community activity' : 'You will get a mail about community activity', 'success');
        } catch (err) {
          showCommunity(before);
          toastError(err, 'Could not save your choice');
        } finally {
          for (const x of communityRadios) x.disabled = false;
          r.focus();
        }
      });
    }

    // People this account blocks (GET /api/v1/blocks), each with Unblock.
    const blockList = h('ul', { class: 'person-list', role: 'list', testid: 'blocked-list' });
    const blockStatus = h('div', {});
    const blocked = card({ title: 'Blocked people', description: 'You don\u2019t see each other\u2019s posts, comments or profiles.', testid: 'blocked-card' }, blockList, blockStatus);
    function blockRow(p) {
      const unblock = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'unblock', 'aria-label': `Unblock @${p.username}` }, 'Unblock');
      unblock.addEventListener('click', async () => {
        unblock.disabled = true;
        try {
          await del(`/blocks/${encodeURIComponent(p.username)}`);
          const li = unblock.closest('li');
          const next = li.nextElementSibling || li.previousElementSibling;
          li.remove();
          toast(`You unblocked @${p.username}`, 'success');
          if (next) next.querySelector('button').focus();
          if (!blockList.children.length) blockStatus.replaceChildren(h('p', { class: 'muted small' }, 'You haven\u2019t blocked anyone.'));
        } catch (err) {
          unblock.disabled = false;
          toastError(err, 'Could not unblock');
        }
      });
      return h('li', { class: 'person-row', testid: 'blocked-person', dataset: { username: p.username } }, h('span', { class: 'person-link' }, avatar(p, 'sm'), h('span', { class: 'person-text' }, h('span', { class: 'person-name' }, p.display_name || p.username), h('span', { class: 'person-handle' }, `@${p.username}`))), unblock);
    }
    async function loadBlocks() {
      blockStatus.replaceChildren(h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading\u2026')));
      try {
        const res = await get('/blocks', { signal });
        blockList.replaceChildren(...(res.items || []).map(blockRow));
        blockStatus.replaceChildren(blockList.children.length ? '' : h('p', { class: 'muted small' }, 'You haven\u2019t blocked anyone.'));
      } catch (err) {
        showLoadError(blockStatus, err, loadBlocks);
      }
    }
    loadBlocks();

    const side = h('div', { class: 'profile-side' });
    // The profile picture: one of the user's library images (PATCH /me avatar_asset_id).
    async function setAvatar(id, btn) {
      btn.disabled = true;
      try {
        const updated = await patch('/me', { avatar_asset_id: id }, { signal });
        setMe(updated && updated.username ? updated : { ...state.me, avatar_url: null });
        toast(id ? 'Profile picture changed' : 'Profile picture removed', 'success');
        renderSide();
        side.querySelector('[data-testid="avatar-change"]').focus();
      } catch (err) {
        btn.disabled = false;
        toastError(err, 'Could not change the picture');
      }
    }
    function avatarButtons(m) {
      const change = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'avatar-change' }, icon('image'), h('span', {}, m.avatar_url ? 'Change picture' : 'Add a picture'));
      change.addEventListener('click', async () => {
        const a = await pickImage(signal, { title: 'Choose a profile picture', intro: 'Pick one of your library images. Everyone can see your profile picture, next to your name and on your profile.' });
        if (a) setAvatar(String(a.id), change);
      });
      const remove = m.avatar_url ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'avatar-remove' }, 'Remove') : null;
      if (remove) remove.addEventListener('click', () => setAvatar('', remove));
      return h('div', { class: 'avatar-actions' }, change, remove);
    }

    function renderSide() {
      const m = state.me;
      side.replaceChildren(
        card(
          { cls: 'profile-card' },
          h('div', { class: 'profile-banner', 'aria-hidden': 'true' }),
          h(
            'div',
            { class: 'profile-id' },
            avatar(m, 'lg'),
            h('div', { class: 'profile-id-text' }, h('p', { class: 'profile-name truncate', title: m.display_name || m.username }, m.display_name || m.username), h('p', { class: 'muted truncate', title: `@${m.username}` }, `@${m.username}`)),
            avatarButtons(m),
          ),
          h(
            'dl',
            { class: 'facts' },
            h('div', {}, h('dt', {}, 'Email'), h('dd', { class: 'fact-email' }, h('span', { class: 'truncate', title: m.email }, m.email), m.email_verified ? badge('Verified', 'success') : badge('Unverified', 'warning'))),
            h('div', {}, h('dt', {}, 'Role'), h('dd', {}, badge(m.role, m.role === 'admin' ? 'accent' : 'neutral'))),
            h('div', {}, h('dt', {}, 'Member since'), h('dd', {}, timeEl(m.created_at))),
          ),
          h('a', { href: '/settings/security', class: 'link-sm' }, 'Change email or password \u2192'),
          h('a', { href: `/u/${encodeURIComponent(m.username)}`, class: 'link-sm', testid: 'profile-public-link' }, 'See your public profile \u2192'),
        ),
        mails,
      );
    }
    renderSide();


    main.replaceChildren(
      h(
        'div',
        { class: 'page' },
        pageHeader('Settings', 'Manage how you appear and how you sign in.'),
        settingsTabs('/settings/profile'),
        h('div', { class: 'split' }, h('div', { class: 'stack' }, card({ title: 'Public profile', description: 'Shown next to the things you publish.' }, form), blocked), side),
      ),
    );
  },
};
