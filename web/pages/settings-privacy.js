// /settings/privacy — the privacy center: a copy of your data (exports), where to
// correct it, your choices (news by email, usage analytics, with their exact wording and
// history), likeness samples under their own consent, what is recorded about your use,
// the policies, and deleting the account. `?export={id}` (from the "ready" mail)
// highlights that export.

import { h, icon, pageHeader, card, badge, timeEl, toast, toastError, spinner, emptyState, showLoadError, confirmDialog, formDialog, field, checkbox, formAlert, onSubmit, errorMessage } from '../ui.js';
import { get, post, put, del, ApiError } from '../api.js';
import { state, setMe } from '../state.js';
import { navigate } from '../router.js';
import { settingsTabs } from './nav-tabs.js';
import { dateEl, dateShort, waitText, methodText, exportRow, exportBusy, watchExports, num, fill, graceDays, exportDays } from './privacy-common.js';

const SECTIONS = [
  ['privacy-data', 'Your data', 'database'],
  ['privacy-correct', 'Correct your data', 'pencil'],
  ['privacy-choices', 'Choices', 'sliders'],
  ['privacy-likeness', 'Likeness', 'user'],
  ['privacy-usage', 'What we record', 'chart'],
  ['privacy-policies', 'Policies', 'file'],
  ['privacy-delete', 'Delete account', 'trash'],
];

const USES = [
  ['image_to_image', 'Start images for image generation', 'A generation may start from a sample and repaint it.'],
  ['model_from_image', 'Pictures to make 3D models from', 'A relief, lithophane or silhouette may be made from a sample.'],
];
const useLabel = (u) => (USES.find(([k]) => k === u) || [u, u])[1];

const PURPOSES = { marketing_email: 'News by email', analytics: 'Usage analytics', likeness: 'Likeness samples' };

/** A card with an id for the in-page links. */
function section(id, opts, ...body) {
  const el = card({ ...opts, cls: `privacy-section ${opts.cls || ''}`.trim() }, ...body);
  el.id = id;
  return el;
}

// ---------------------------------------------------------------------------
// Your data: exports
// ---------------------------------------------------------------------------

function exportsSection(signal, highlightId) {
  const list = h('ul', { class: 'export-list', role: 'list', testid: 'export-list' });
  const status = h('div', {}, h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading your exports\u2026')));
  const request = h('button', { type: 'button', class: 'btn btn-primary', testid: 'export-request' }, icon('download'), h('span', {}, 'Request a copy'));
  let shown = [];
  let highlighted = false;

  function show(items) {
    const before = new Map(shown.map((e) => [e.id, e.status]));
    shown = items;
    list.replaceChildren(...items.map((e) => exportRow(e, { highlight: e.id === highlightId })));
    status.replaceChildren(items.length ? '' : emptyState('database', 'No copies yet', 'Ask for one: it usually takes a minute or two.'));
    for (const e of items) {
      const was = before.get(e.id);
      if (was && was !== e.status && e.status === 'ready') toast('Your copy is ready to download', 'success');
      if (was && was !== e.status && e.status === 'failed') toast('Your copy could not be made. Please try again.', 'error');
    }
    request.disabled = items.some(exportBusy);
    if (highlightId && !highlighted) {
      const row = list.querySelector(`[data-export-id="${CSS.escape(highlightId)}"]`);
      if (row) {
        highlighted = true;
        requestAnimationFrame(() => row.scrollIntoView({ block: 'center', behavior: 'smooth' }));
      }
    }
  }
  const { poll } = watchExports('/me/exports', show, status, signal);

  request.addEventListener('click', async () => {
    request.disabled = true;
    try {
      const e = await post('/me/export', {});
      const already = shown.some((x) => x.id === e.id);
      show([e, ...shown.filter((x) => x.id !== e.id)]);
      toast(already ? 'A copy is already being prepared' : 'We are preparing your copy. We will also mail you when it is ready.', 'success');
      poll();
    } catch (err) {
      request.disabled = false;
      if (err instanceof ApiError && err.status === 429) toast(`You can ask for a few copies a day. Try again in ${waitText(err.retryAfter)}.`, 'error');
      else toastError(err, 'Could not ask for a copy');
    }
  });

  return section(
    'privacy-data',
    { title: 'Your data', description: 'Download everything we keep about you.', actions: request, testid: 'privacy-export' },
    h(
      'p',
      { class: 'section-text' },
      `One ZIP file with a JSON file for each kind of data \u2014 your account and profile, sessions and security log, consents, generations with every setting, library, posts, comments, reactions, follows, notifications and credits \u2014 the original files of your library, and a README that explains the format. We mail you when it is ready. Only you can download it, for ${exportDays()}; then it is deleted.`,
    ),
    list,
    status,
  );
}

// ---------------------------------------------------------------------------
// Correct your data
// ---------------------------------------------------------------------------

function correctSection() {
  const link = (href, ic, title, text, testid) =>
    h('li', {}, h('a', { href, class: 'quick-link', testid }, h('span', { class: 'quick-icon' }, icon(ic)), h('span', { class: 'quick-text' }, h('strong', {}, title), h('span', {}, text)), icon('arrowRight', 'quick-arrow')));
  return section(
    'privacy-correct',
    { title: 'Correct your data', description: 'Something wrong or out of date? Change it yourself.', testid: 'privacy-correct' },
    h(
      'ul',
      { class: 'quick-grid privacy-links', role: 'list' },
      link('/settings/profile', 'user', 'Profile', 'Display name, bio, links, picture', 'correct-profile'),
      link('/settings/profile', 'tag', 'Username', 'Your public handle', 'correct-username'),
      link('/settings/security', 'mail', 'Email address', 'Confirmed before it changes', 'correct-email'),
      link('/settings/security', 'shield', 'Password and sessions', 'Where you are signed in', 'correct-security'),
    ),
    h('p', { class: 'hint' }, 'For anything you cannot change here, write to the administrators (see ', h('a', { href: '/policies/support' }, 'Support and contact'), ').'),
  );
}

// ---------------------------------------------------------------------------
// Choices: consents and their history
// ---------------------------------------------------------------------------

function choicesSection(signal) {
  const body = h('div', {}, h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading your choices\u2026')));
  const history = h('div', {});
  let data = null;

  function meta(c, id) {
    const state = c.granted ? 'On' : 'Off';
    return h(
      'p',
      { class: 'consent-choice-meta', id, testid: 'consent-since' },
      `Wording version ${c.text_version} \u00b7 `,
      c.since ? [`${state} since `, dateEl(c.since), ` (${methodText(c.method)})`] : `${state}: the default, never changed`,
    );
  }

  function choice(key, title, text, testid) {
    const c = data[key];
    const id = `consent-${key}`;
    const sw = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id, checked: !!c.granted, testid, 'aria-describedby': `${id}-text ${id}-meta` });
    sw.addEventListener('change', async () => {
      const wanted = sw.checked;
      sw.disabled = true;
      try {
        data = await put('/me/consents', { [key]: wanted }, { signal });
        render();
        toast(
          key === 'marketing_email'
            ? wanted ? 'You will get our news by email' : 'No more news by email'
            : wanted ? 'Your use of the site is counted again' : 'Your use of the site is no longer counted',
          'success',
        );
        const again = body.querySelector(`#${id}`);
        if (again) again.focus();
      } catch (err) {
        sw.checked = !wanted;
        sw.disabled = false;
        toastError(err, 'Could not save your choice');
      }
    });
    return h(
      'div',
      { class: 'consent-choice', testid: `${testid}-block` },
      h('div', { class: 'consent-choice-head' }, h('div', { class: 'consent-choice-title' }, h('label', { for: id }, h('strong', {}, title)), h('p', { class: 'hint' }, text)), sw),
      h('blockquote', { class: 'consent-text', id: `${id}-text`, testid: `${testid}-text` }, c.text),
      meta(c, `${id}-meta`),
    );
  }

  function record(r) {
    const d = r.detail && typeof r.detail === 'object' ? r.detail : {};
    const extra = r.purpose === 'likeness' && r.granted && d.subject ? ` \u2014 ${d.subject}; ${(d.uses || []).map(useLabel).join(', ').toLowerCase()}` : '';
    return h(
      'li',
      { class: 'consent-record', testid: 'consent-record', dataset: { purpose: r.purpose } },
      h('span', { class: 'consent-record-when' }, timeEl(r.at)),
      h('span', { class: 'consent-record-what' }, h('strong', {}, PURPOSES[r.purpose] || r.purpose), ' ', r.granted ? badge('Given', 'success') : badge('Withdrawn', 'neutral'), extra),
      h('span', { class: 'consent-record-how muted' }, `wording v${r.text_version}, ${methodText(r.method)}`),
    );
  }

  function render() {
    body.replaceChildren(
      h(
        'div',
        { class: 'consent-choices' },
        choice('marketing_email', 'News by email', 'Off unless you switch it on.', 'consent-marketing'),
        choice('analytics', 'Usage analytics', 'On unless you switch it off. It stays on this machine.', 'consent-analytics'),
      ),
    );
    const items = data.history || [];
    history.replaceChildren(
      h(
        'details',
        { class: 'disclosure consent-history', testid: 'consent-history' },
        h('summary', {}, icon('chevronDown', 'chev'), h('span', {}, `History of your choices (${items.length})`)),
        items.length ? h('ol', { class: 'consent-records', role: 'list' }, items.map(record)) : h('p', { class: 'muted small' }, 'Nothing recorded yet.'),
      ),
    );
  }

  async function load() {
    try {
      data = await get('/me/consents', { signal });
      render();
    } catch (err) {
      showLoadError(body, err, load);
    }
  }
  load();

  const el = section('privacy-choices', { title: 'Choices', description: 'Each choice is recorded with its time and the exact words you saw. Changing your mind is one switch.', testid: 'privacy-choices' }, body, history);
  return { el, reload: load };
}

// ---------------------------------------------------------------------------
// Likeness samples
// ---------------------------------------------------------------------------

function likenessSection(signal, onConsentChange) {
  const body = h('div', {}, h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading\u2026')));
  let data = null;
  const MAX = 20;

  function consentForm() {
    const form = h(
      'form',
      { class: 'form likeness-form', testid: 'likeness-form' },
      formAlert(),
      field({ name: 'subject', label: 'Whose likeness do the photos show?', required: true, testid: 'likeness-subject', hint: 'Your own \u2014 for example \u201cMe, Ann Lee\u201d. Only upload photos of yourself.', attrs: { maxlength: '100', autocomplete: 'name' } }),
      h(
        'fieldset',
        { class: 'fieldset', 'data-field': 'uses' },
        h('legend', { class: 'label' }, 'What they may be used for'),
        h(
          'div',
          { class: 'scope-grid' },
          USES.map(([value, label, hint]) =>
            h('label', { class: 'scope-option' }, h('input', { type: 'checkbox', class: 'check', name: 'uses', value, testid: `likeness-use-${value}` }), h('span', {}, h('strong', {}, label), h('span', { class: 'muted' }, hint))),
          ),
        ),
        h('p', { class: 'field-error', id: 'likeness-uses-error', hidden: true }),
      ),
      h('div', { class: 'consent-box' }, h('p', { class: 'consent-box-label' }, `The consent (wording version ${data.text_version})`), h('blockquote', { class: 'consent-text', testid: 'likeness-text' }, data.text)),
      checkbox({ name: 'agree', label: 'I have read this and I agree', required: true, testid: 'likeness-agree' }),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'likeness-submit' }, icon('check'), h('span', {}, 'Give consent'))),
    );
    onSubmit(
      form,
      async () => {
        const uses = [...form.querySelectorAll('input[name="uses"]:checked')].map((i) => i.value);
        data = await put('/me/likeness', { subject: form.elements.subject.value.trim(), uses, agree: form.elements.agree.checked, text_version: data.text_version }, { signal });
        toast('Consent given. You can add your samples now.', 'success');
        render();
        onConsentChange();
        const drop = body.querySelector('[data-testid="likeness-drop"]');
        if (drop) drop.focus();
      },
      {
        busyLabel: 'Saving\u2026',
        extraValidate: (f) => (f.querySelector('input[name="uses"]:checked') ? null : { uses: 'Choose at least one use.' }),
      },
    );
    return form;
  }

  function sampleTile(a) {
    const rm = h('button', { type: 'button', class: 'icon-btn icon-btn-sm sample-remove', testid: 'likeness-sample-delete', 'aria-label': `Delete sample ${a.filename || ''}`.trim(), title: 'Delete this sample' }, icon('trash'));
    rm.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: 'Delete this sample?', body: 'It is deleted at once, with its file. Generations waiting to use it are stopped.', confirmLabel: 'Delete sample', danger: true });
      if (!ok) return;
      rm.disabled = true;
      try {
        await del(`/me/likeness/samples/${encodeURIComponent(a.id)}`);
        data.samples = data.samples.filter((s) => s.id !== a.id);
        toast('Sample deleted', 'success');
        render();
      } catch (err) {
        rm.disabled = false;
        toastError(err, 'Could not delete the sample');
      }
    });
    const src = a.thumbnail_url || a.preview_url || a.url;
    return h('li', { class: 'sample', testid: 'likeness-sample', dataset: { assetId: a.id } }, h('img', { src, alt: `Likeness sample ${a.filename || ''}`.trim(), loading: 'lazy', decoding: 'async', class: 'sample-img' }), rm);
  }

  async function upload(files, grid, pending) {
    const list = [...files].filter((f) => f && f.size);
    if (!list.length) return;
    const room = MAX - data.samples.length;
    if (list.length > room) toast(room > 0 ? `Only ${room} more ${room === 1 ? 'sample fits' : 'samples fit'} (at most ${MAX}).` : `You already keep ${MAX} samples; delete one first.`, 'error');
    let added = 0;
    for (const file of list.slice(0, Math.max(0, room))) {
      const tile = h('li', { class: 'sample sample-pending', 'aria-label': `Uploading ${file.name}` }, spinner());
      grid.appendChild(tile);
      pending.textContent = `Uploading ${file.name}\u2026`;
      try {
        const form = new FormData();
        form.append('file', file, file.name);
        const res = await post('/me/likeness/samples', form, { signal });
        for (const a of (res && res.items) || []) data.samples.push(a);
        added++;
      } catch (err) {
        toastError(err, `Could not upload ${file.name}`);
      } finally {
        tile.remove();
      }
    }
    pending.textContent = '';
    if (added) toast(`${added} ${added === 1 ? 'sample' : 'samples'} added`, 'success');
    render();
  }

  function withdrawButton() {
    const btn = h('button', { type: 'button', class: 'btn btn-danger-soft btn-sm', testid: 'likeness-withdraw' }, icon('x'), h('span', {}, 'Withdraw consent'));
    btn.addEventListener('click', async () => {
      const n = data.samples.length;
      const ok = await confirmDialog({
        title: 'Withdraw your likeness consent?',
        body: `${n ? `Your ${n} ${n === 1 ? 'sample is' : 'samples are'}` : 'Any samples are'} deleted at once, with everything made from them \u2014 images and 3D models \u2014 and their files. Generations waiting to use them are stopped. This cannot be undone.`,
        confirmLabel: 'Withdraw and delete',
        danger: true,
      });
      if (!ok) return;
      btn.disabled = true;
      try {
        const res = await del('/me/likeness', { signal });
        data = res.likeness;
        const parts = [`${res.samples_deleted} ${res.samples_deleted === 1 ? 'sample' : 'samples'}`];
        if (res.made_from_deleted) parts.push(`${res.made_from_deleted} ${res.made_from_deleted === 1 ? 'thing' : 'things'} made from them`);
        let msg = `Consent withdrawn. Deleted ${parts.join(' and ')}`;
        if (res.jobs_stopped) msg += `; ${res.jobs_stopped} ${res.jobs_stopped === 1 ? 'job' : 'jobs'} stopped`;
        toast(`${msg}.`, 'success', { timeout: 8000 });
        render();
        onConsentChange();
      } catch (err) {
        btn.disabled = false;
        toastError(err, 'Could not withdraw the consent');
      }
    });
    return btn;
  }

  function consentSummary() {
    const c = data.consent;
    return h(
      'div',
      { class: 'likeness-consent', testid: 'likeness-consent' },
      h('div', { class: 'likeness-consent-icon' }, icon('checkSquare')),
      h(
        'div',
        { class: 'likeness-consent-text' },
        h('p', {}, h('strong', {}, 'Consent given'), ' for ', h('strong', { testid: 'likeness-consent-subject' }, c.subject), ' on ', dateEl(c.given_at), '.'),
        h('p', { class: 'badges' }, c.uses.map((u) => badge(useLabel(u), 'accent'))),
      ),
      withdrawButton(),
    );
  }

  function samples() {
    const grid = h('ul', { class: 'sample-grid', role: 'list', testid: 'likeness-samples', 'aria-label': 'Your likeness samples' }, data.samples.map(sampleTile));
    const pending = h('p', { class: 'visually-hidden', role: 'status' });
    const full = data.samples.length >= MAX;
    const input = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp', multiple: true, class: 'visually-hidden', id: 'likeness-file', testid: 'likeness-file', tabindex: '-1' });
    input.addEventListener('change', () => {
      const files = [...input.files];
      input.value = '';
      upload(files, grid, pending);
    });
    const choose = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', disabled: full }, icon('upload'), h('span', {}, 'Choose photos'));
    choose.addEventListener('click', () => input.click());
    const drop = h(
      'div',
      { class: `dropzone likeness-drop${full ? ' is-full' : ''}`, testid: 'likeness-drop', tabindex: '-1' },
      h('div', { class: 'dropzone-icon' }, icon('upload')),
      h('div', { class: 'dropzone-text' }, h('p', { class: 'dropzone-title' }, full ? `You keep the most samples allowed (${MAX})` : 'Drop photos of yourself here'), h('p', { class: 'dropzone-hint' }, 'PNG, JPEG or WebP. Location and camera details are removed before they are stored.')),
      choose,
      input,
    );
    drop.addEventListener('click', (ev) => {
      if (!full && ev.target === drop) input.click();
    });
    drop.addEventListener('dragover', (ev) => {
      if (full) return;
      ev.preventDefault();
      drop.classList.add('is-over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('is-over'));
    drop.addEventListener('drop', (ev) => {
      ev.preventDefault();
      drop.classList.remove('is-over');
      if (!full && ev.dataTransfer) upload(ev.dataTransfer.files, grid, pending);
    });
    return [
      drop,
      h('div', { class: 'sample-head' }, h('h3', {}, 'Your samples'), h('span', { class: 'muted small', testid: 'likeness-count' }, `${data.samples.length} of ${MAX}`)),
      data.samples.length ? grid : h('p', { class: 'muted small sample-empty' }, 'No samples yet.'),
      pending,
      data.consent.uses.includes('image_to_image') ? h('p', { class: 'hint' }, 'On the ', h('a', { href: '/generate' }, 'Generate'), ' page, choose a start image and pick one of your samples.') : null,
    ];
  }

  function render() {
    fill(
      body,
      h(
        'p',
        { class: 'section-text' },
        'Likeness samples are photos of your own face or body that your generations may start from. They are kept apart from your library, never shown to anyone or shared, and used only in your own generations, for the uses you choose. Every use checks that your consent still stands.',
      ),
      data.consent ? [consentSummary(), ...samples()] : consentForm(),
    );
  }

  async function load() {
    try {
      data = await get('/me/likeness', { signal });
      render();
    } catch (err) {
      showLoadError(body, err, load);
    }
  }
  load();

  return section('privacy-likeness', { title: 'Likeness', description: 'Photos of yourself, only under your explicit consent.', testid: 'privacy-likeness' }, body);
}

// ---------------------------------------------------------------------------
// What we record
// ---------------------------------------------------------------------------

function usageSection(signal) {
  const body = h('div', {}, h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Loading\u2026')));
  const topList = (title, items, testid, code = false) =>
    h(
      'div',
      { class: 'usage-top' },
      h('h3', {}, title),
      items.length
        ? h('ol', { class: 'usage-top-list', role: 'list', testid }, items.map((x) => h('li', {}, h('span', { class: 'usage-top-name', title: x.name }, code ? h('code', {}, x.name) : x.name), h('span', { class: 'usage-top-count' }, num(x.count)))))
        : h('p', { class: 'muted small' }, 'Nothing yet.'),
    );

  async function load() {
    try {
      const u = await get('/me/usage', { signal });
      const facts = `Your IP address is kept whole for ${u.full_ip_days} ${u.full_ip_days === 1 ? 'day' : 'days'}, then shortened (to /24 for IPv4, /48 for IPv6). Records are deleted after ${u.retention_days} days, and they are in your copy of your data.`;
      fill(
        body,
        !u.recording
          ? h('div', { class: 'callout callout-success', testid: 'usage-off' }, icon('check'), h('p', {}, 'This site does not record how it is used.'))
          : !u.counted
            ? h('div', { class: 'callout callout-info', testid: 'usage-opted-out' }, icon('info'), h('p', {}, 'You switched usage analytics off: nothing new is recorded about you. ', h('a', { href: '#privacy-choices' }, 'Change this')))
            : null,
        h(
          'div',
          { class: 'usage-stats' },
          h('div', { class: 'usage-stat' }, h('span', { class: 'usage-stat-num', testid: 'usage-page-views' }, num(u.page_views)), h('span', { class: 'usage-stat-label' }, 'pages viewed')),
          h('div', { class: 'usage-stat' }, h('span', { class: 'usage-stat-num', testid: 'usage-api-requests' }, num(u.api_requests)), h('span', { class: 'usage-stat-label' }, 'requests made')),
        ),
        h('p', { class: 'hint' }, `In the last ${u.days} days, counted per day on this machine.`),
        h('div', { class: 'usage-tops' }, topList('Features you used most', u.top_features || [], 'usage-top-features'), topList('Pages you viewed most', u.top_pages || [], 'usage-top-pages', true)),
        h('p', { class: 'section-text usage-facts' }, icon('clock'), h('span', {}, facts)),
      );
    } catch (err) {
      showLoadError(body, err, load);
    }
  }
  load();
  const el = section('privacy-usage', { title: 'What we record', description: 'How you use the site, counted locally. Nothing leaves this machine.', testid: 'privacy-usage' }, body);
  return { el, reload: load };
}

// ---------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------

function policiesSection() {
  const list = state.config.policies || [];
  return section(
    'privacy-policies',
    { title: 'Policies', description: 'What we promise, in full. Each change is a new version.', testid: 'privacy-policies' },
    h(
      'ul',
      { class: 'policy-links', role: 'list' },
      list.map((p) =>
        h(
          'li',
          {},
          h(
            'a',
            { href: `/policies/${encodeURIComponent(p.slug)}`, class: 'policy-link', testid: 'policy-link', dataset: { slug: p.slug } },
            h('span', { class: 'policy-link-icon' }, icon('file')),
            h('span', { class: 'quick-text' }, h('strong', {}, p.title), h('span', {}, `Version ${p.version} \u00b7 since ${dateShort(p.published_at)}`)),
            icon('arrowRight', 'quick-arrow'),
          ),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------
// Delete account
// ---------------------------------------------------------------------------

function deleteSection() {
  const me = state.me;
  const hasPassword = me.has_password !== false;
  const btn = h('button', { type: 'button', class: 'btn btn-danger', testid: 'delete-account' }, icon('trash'), h('span', {}, 'Delete my account\u2026'));
  btn.addEventListener('click', async () => {
    const pw = hasPassword ? field({ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password', required: true, testid: 'delete-password' }) : null;
    const res = await formDialog({
      title: 'Delete your account?',
      intro: hasPassword
        ? 'You are signed out everywhere at once and your account is locked. Enter your password to confirm.'
        : 'You are signed out everywhere at once and your account is locked. You sign in with another provider, so a sign-in within the last 10 minutes confirms it is you.',
      fields: [
        h(
          'ul',
          { class: 'delete-facts' },
          h('li', {}, 'Nothing you shared is shown any more, from now on.'),
          h('li', {}, `After ${graceDays()} everything is erased: account, library and files, posts and generations.`),
          h('li', {}, 'Comments in other people\u2019s conversations stay as \u201c[deleted]\u201d, with no link to you.'),
          h('li', {}, 'Until then, the link in the mail we send you keeps your account.'),
        ),
        pw,
      ],
      submitLabel: 'Delete my account',
      danger: true,
      testid: 'delete-dialog',
      submitTestid: 'delete-confirm',
      submit: async (form) => {
        const password = hasPassword ? form.elements.password.value : undefined;
        if (hasPassword && !password) throw new Error('Enter your password to confirm.');
        try {
          return await post('/me/delete', hasPassword ? { password } : {}, { redirect: false });
        } catch (err) {
          if (err instanceof ApiError && err.is('sign-in-again')) throw new Error(`${errorMessage(err)} Sign out, sign in again, then come back here.`);
          throw err;
        }
      },
    });
    if (!res) return;
    setMe(null);
    navigate(`/account/deleted?on=${encodeURIComponent(res.purge_after)}`, { replace: true });
  });
  return section(
    'privacy-delete',
    { title: 'Delete account', description: 'Leave for good, with everything you keep here.', testid: 'privacy-delete', cls: 'danger-zone' },
    h(
      'ol',
      { class: 'delete-steps', role: 'list' },
      h('li', {}, h('span', { class: 'delete-step-icon' }, icon('lock')), h('span', {}, h('strong', {}, 'Locked at once. '), 'You are signed out on every device and nothing you shared is shown.')),
      h('li', {}, h('span', { class: 'delete-step-icon' }, icon('mail')), h('span', {}, h('strong', {}, 'A mail with a way back. '), 'Its link keeps your account, as it was, until the date it gives. So does signing in with your password.')),
      h('li', {}, h('span', { class: 'delete-step-icon' }, icon('trash')), h('span', {}, h('strong', {}, 'Then erased. '), `After ${graceDays()} your account, library and files, posts and generations are deleted; your comments in others\u2019 conversations stay as \u201c[deleted]\u201d. A last mail confirms it.`)),
    ),
    h('p', { class: 'hint' }, 'Want to keep a copy? ', h('a', { href: '#privacy-data' }, 'Download your data'), ' first.'),
    h('div', { class: 'form-actions' }, btn),
  );
}

// ---------------------------------------------------------------------------

export default {
  title: 'Privacy',
  access: 'user',
  render(main, { params, signal }) {
    const highlight = params.get('export');
    const usage = usageSection(signal);
    const choices = choicesSection(signal);
    const tocLinks = new Map(SECTIONS.map(([id, text, ic]) => [id, h('a', { href: `#${id}`, class: 'privacy-toc-link' }, icon(ic), h('span', {}, text))]));
    const toc = h(
      'nav',
      { class: 'privacy-toc', 'aria-label': 'On this page' },
      h('p', { class: 'privacy-toc-title' }, 'On this page'),
      h('ul', { role: 'list' }, [...tocLinks.values()].map((a) => h('li', {}, a))),
    );
    main.replaceChildren(
      h(
        'div',
        { class: 'page privacy-page', testid: 'privacy-page' },
        pageHeader('Settings', 'Your data and your choices. Everything here stays on this machine.'),
        settingsTabs('/settings/privacy'),
        h(
          'div',
          { class: 'privacy-layout' },
          toc,
          h(
            'div',
            { class: 'stack privacy-sections' },
            exportsSection(signal, highlight),
            correctSection(),
            choices.el,
            likenessSection(signal, () => choices.reload()),
            usage.el,
            policiesSection(),
            deleteSection(),
          ),
        ),
      ),
    );

    // The in-page links mark the section being read.
    const seen = new Set();
    const spy = new IntersectionObserver(
      (entries) => {
        for (const e of entries) (e.isIntersecting ? seen.add(e.target.id) : seen.delete(e.target.id));
        const current = SECTIONS.map(([id]) => id).find((id) => seen.has(id));
        for (const [id, a] of tocLinks) {
          if (id === current) a.setAttribute('aria-current', 'location');
          else a.removeAttribute('aria-current');
        }
      },
      { rootMargin: '-72px 0px -55% 0px' },
    );
    for (const [id] of SECTIONS) {
      const el = main.querySelector(`#${id}`);
      if (el) spy.observe(el);
    }
    signal.addEventListener('abort', () => spy.disconnect(), { once: true });
  },
};
