// /settings/profile — display name, username, bio and links (PATCH /me).

import { h, icon, field, formAlert, onSubmit, pageHeader, card, avatar, badge, timeEl, toast, toastError } from '../ui.js';
import { get, put, patch, ApiError } from '../api.js';
import { state, setMe } from '../state.js';
import { settingsTabs } from './nav-tabs.js';

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

    // Optional mails: each is a switch saved at once (GET|PUT /api/v1/me/notifications).
    const mailSwitch = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: 'notify-generation', testid: 'notify-generation-done', disabled: true });
    const mails = card(
      { title: 'Email notifications', description: 'Optional mails. Account and security mails are always sent.' },
      h(
        'div',
        { class: 'field field-check' },
        h('div', { class: 'check-row' }, mailSwitch, h('label', { for: 'notify-generation' }, 'Email me when a generation finishes')),
        h('p', { class: 'hint' }, 'Every such mail has a one-click unsubscribe link.'),
      ),
    );
    get('/me/notifications', { signal })
      .then((settings) => {
        mailSwitch.checked = !!settings.generation_done;
        mailSwitch.disabled = false;
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

    const side = h('div', { class: 'profile-side' });
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
          ),
          h(
            'dl',
            { class: 'facts' },
            h('div', {}, h('dt', {}, 'Email'), h('dd', { class: 'fact-email' }, h('span', { class: 'truncate', title: m.email }, m.email), m.email_verified ? badge('Verified', 'success') : badge('Unverified', 'warning'))),
            h('div', {}, h('dt', {}, 'Role'), h('dd', {}, badge(m.role, m.role === 'admin' ? 'accent' : 'neutral'))),
            h('div', {}, h('dt', {}, 'Member since'), h('dd', {}, timeEl(m.created_at))),
          ),
          h('a', { href: '/settings/security', class: 'link-sm' }, 'Change email or password \u2192'),
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
        h('div', { class: 'split' }, card({ title: 'Public profile', description: 'Shown next to the things you publish.' }, form), side),
      ),
    );
  },
};
