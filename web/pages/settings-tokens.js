// /settings/tokens — personal API tokens: create (secret shown once), list, revoke.

import { h, icon, field, formAlert, onSubmit, pageHeader, card, badge, timeEl, toast, emptyState, showLoadError, spinner, confirmAction, copyButton } from '../ui.js';
import { get, post, del } from '../api.js';
import { isAdmin } from '../state.js';
import { settingsTabs } from './nav-tabs.js';

const SCOPES = [
  ['read', 'Read', 'See your account and your content.'],
  ['generate', 'Generate', 'Start image and 3D generations.'],
  ['publish', 'Publish', 'Publish and manage your public work.'],
  ['admin', 'Admin', 'Administer this instance (admins only).'],
];

const EXPIRY = [
  ['7', '7 days'],
  ['30', '30 days'],
  ['90', '90 days'],
  ['365', '1 year'],
  ['', 'No expiration'],
];

export default {
  title: 'API tokens',
  access: 'user',
  render(main, { signal }) {
    // --- list ---------------------------------------------------------------
    const listBody = h('div', {});
    async function load() {
      listBody.replaceChildren(h('div', { class: 'loading-block' }, spinner('Loading tokens'), h('p', {}, 'Loading tokens\u2026')));
      try {
        const res = await get('/me/tokens', { signal });
        const items = (res && res.items) || [];
        if (!items.length) {
          listBody.replaceChildren(emptyState('key', 'No tokens yet', 'Create one above to use the API from scripts and tools.'));
          return;
        }
        const tbody = h('tbody', {}, items.map(row));
        listBody.replaceChildren(
          h(
            'div',
            { class: 'table-wrap', role: 'region', 'aria-label': 'Your API tokens', tabindex: '0' },
            h(
              'table',
              { class: 'table' },
              h('caption', { class: 'visually-hidden' }, 'Your API tokens'),
              h('thead', {}, h('tr', {}, ['Name', 'Token', 'Scopes', 'Created', 'Last used', 'Expires', ''].map((c, i) => h('th', { scope: 'col', class: i === 6 ? 'cell-actions' : null }, c ? c : h('span', { class: 'visually-hidden' }, 'Actions'))))),
              tbody,
            ),
          ),
        );
      } catch (err) {
        showLoadError(listBody, err, load);
      }
    }

    function row(t) {
      const expired = t.expires_at && t.expires_at * 1000 < Date.now();
      const revoke = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'token-revoke', 'aria-label': `Revoke token ${t.name}` }, 'Revoke');
      const tr = h(
        'tr',
        { testid: 'token-row', dataset: { tokenId: String(t.id) } },
        h('td', { 'data-label': 'Name', class: 'cell-primary' }, h('strong', { class: 'clip clip-sm', title: t.name }, t.name)),
        h('td', { 'data-label': 'Token' }, h('code', { class: 'mono' }, `${t.prefix || ''}\u2026`)),
        h('td', { 'data-label': 'Scopes' }, h('span', { class: 'badges' }, (t.scopes || []).map((s) => badge(s, s === 'admin' ? 'accent' : 'neutral')))),
        h('td', { 'data-label': 'Created', class: 'nowrap' }, timeEl(t.created_at)),
        h('td', { 'data-label': 'Last used', class: 'nowrap' }, timeEl(t.last_used_at, 'Never')),
        h('td', { 'data-label': 'Expires', class: 'nowrap' }, expired ? badge('Expired', 'danger') : timeEl(t.expires_at, 'Never')),
        h('td', { class: 'cell-actions' }, revoke),
      );
      confirmAction(
        revoke,
        { title: `Revoke \u201c${t.name}\u201d?`, body: 'Anything using this token stops working immediately.', confirmLabel: 'Revoke token' },
        async () => {
          await del(`/me/tokens/${encodeURIComponent(t.id)}`);
          tr.remove();
          toast(`Token \u201c${t.name}\u201d revoked`, 'success');
          if (!listBody.querySelector('tbody tr')) load();
        },
        'Could not revoke the token',
      );
      return tr;
    }

    // --- create -------------------------------------------------------------
    const secretSlot = h('div', { class: 'secret-slot' });
    const scopes = SCOPES.filter(([id]) => id !== 'admin' || isAdmin());
    const expiryId = 'token-expiry';
    const form = h(
      'form',
      { class: 'form', testid: 'token-form' },
      formAlert(),
      h(
        'div',
        { class: 'grid-2' },
        field({ name: 'name', label: 'Token name', required: true, testid: 'token-name', hint: 'Something that reminds you where it\u2019s used, e.g. \u201cRender script\u201d.', attrs: { maxlength: '60', autocomplete: 'off' } }),
        h(
          'div',
          { class: 'field' },
          h('label', { for: expiryId, class: 'label' }, 'Expiration'),
          h('select', { id: expiryId, name: 'expires_in_days', class: 'input', testid: 'token-expiry', value: '30' }, EXPIRY.map(([v, l]) => h('option', { value: v }, l))),
          h('p', { class: 'field-error', id: `${expiryId}-error`, hidden: true }),
        ),
      ),
      h(
        'fieldset',
        { class: 'fieldset', 'data-field': 'scopes' },
        h('legend', { class: 'label' }, 'Scopes'),
        h(
          'div',
          { class: 'scope-grid' },
          scopes.map(([id, label, desc]) =>
            h(
              'label',
              { class: 'scope-option' },
              h('input', { type: 'checkbox', name: 'scopes', value: id, class: 'check', testid: `token-scope-${id}`, checked: id === 'read' }),
              h('span', {}, h('strong', {}, label), h('span', { class: 'muted' }, desc)),
            ),
          ),
        ),
        h('p', { class: 'field-error', id: 'token-scopes-error', hidden: true }),
      ),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'token-create' }, icon('plus'), h('span', {}, 'Create token'))),
    );

    onSubmit(
      form,
      async () => {
        const chosen = [...form.querySelectorAll('input[name="scopes"]:checked')].map((i) => i.value);
        const exp = form.elements.expires_in_days.value;
        const name = form.elements.name.value.trim();
        const res = await post('/me/tokens', { name, scopes: chosen, expires_in_days: exp ? Number(exp) : null }, { signal });
        form.reset();
        form.elements.expires_in_days.value = '30';
        showSecret(name, res && res.token);
        load();
      },
      {
        busyLabel: 'Creating\u2026',
        extraValidate: (f) => (f.querySelector('input[name="scopes"]:checked') ? null : { scopes: 'Pick at least one scope.' }),
      },
    );

    function showSecret(name, token) {
      if (!token) {
        toast('Token created', 'success');
        return;
      }
      const input = h('input', { class: 'input mono secret-input', readonly: true, value: token, testid: 'token-secret', 'aria-label': `New token for ${name}` });
      input.addEventListener('focus', () => input.select());
      const dismiss = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'token-secret-done' }, 'I\u2019ve saved it');
      dismiss.addEventListener('click', () => {
        secretSlot.replaceChildren();
        form.elements.name.focus();
      });
      const box = h(
        'div',
        { class: 'secret-box', role: 'region', 'aria-label': 'Your new token', tabindex: '-1' },
        h(
          'div',
          { class: 'secret-head' },
          h('span', { class: 'secret-icon' }, icon('key')),
          h('div', { class: 'secret-text' }, h('p', { class: 'secret-title' }, `Token \u201c${name}\u201d is ready \u2014 copy it now`), h('p', {}, 'For your security it will not be shown again. Treat it like a password.')),
        ),
        h('div', { class: 'secret-row' }, input, copyButton(() => token, { testid: 'token-copy' })),
        h('div', { class: 'secret-foot' }, dismiss),
      );
      secretSlot.replaceChildren(box);
      toast(`Token \u201c${name}\u201d created`, 'success');
      box.focus();
    }

    main.replaceChildren(
      h(
        'div',
        { class: 'page' },
        pageHeader('Settings', 'Personal tokens let scripts and tools use the API as you.'),
        settingsTabs('/settings/tokens'),
        h(
          'div',
          { class: 'stack' },
          card({ title: 'New token', description: 'Give it only the scopes it needs.' }, secretSlot, form),
          card({ title: 'Your tokens', description: 'Tokens act as you, limited to their scopes. Revoke any you no longer use.', testid: 'tokens-card', cls: 'card-flush' }, listBody),
        ),
      ),
    );
    load();
  },
};
