// /admin/models — the generation engine's state (ONNX Runtime or what is missing),
// the installed image models (enable, default, credit cost, verify, remove), importing
// a model folder from the server's disk, and the live queue of everyone's jobs.

import { h, icon, pageHeader, card, badge, timeEl, toast, toastError, confirmAction, field, formAlert, onSubmit, spinner, emptyState, showLoadError, asText } from '../ui.js';
import { get, post, patch, del } from '../api.js';
import { adminTabs } from './nav-tabs.js';
import { statusBadge, positionText, progressFraction, sizeText, creditsText, problemDetails, commandBlock } from './generate-common.js';

// Depth and background-removal models: used by 3D models, not offered for images (each
// family has its own default).
const MAP_FAMILIES = new Set(['depth', 'background-removal']);

const QUEUE_REFRESH_MS = 3000;

/** A table whose rows stack into cards on phones (same markup as pagedTable's). */
function table(label, columns, testid) {
  const tbody = h('tbody');
  const el = h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' },
    h('table', { class: 'table', testid }, h('caption', { class: 'visually-hidden' }, label), h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.cls || null }, c.label)))), tbody),
  );
  const cellClass = (c) => [c.cls, c.primary ? 'cell-primary' : null].filter(Boolean).join(' ') || null;
  const row = (item, props) => h('tr', props, columns.map((c) => h('td', { class: cellClass(c), 'data-label': c.label }, c.cell(item))));
  return { el, tbody, row };
}

export default {
  title: 'Models',
  access: 'admin',
  render(main, { signal }) {
    // ---------------------------------------------------------------- runtime
    const runtimeSlot = h('div', { class: 'runtime-slot', testid: 'admin-runtime' }, h('div', { class: 'loading-row' }, spinner(), h('span', {}, 'Checking the generation engine\u2026')));
    async function loadRuntime() {
      try {
        const info = await get('/models', { signal });
        if (info.runtime) {
          runtimeSlot.replaceChildren(
            h(
              'div',
              { class: 'callout callout-success runtime-ok' },
              icon('cpu'),
              h('div', {}, h('p', {}, h('strong', {}, info.runtime)), h('p', { class: 'muted' }, info.available ? 'Generation is available to users.' : 'The engine is ready; users can generate once a model is enabled.')),
            ),
          );
        } else {
          runtimeSlot.replaceChildren(h('div', { class: 'callout callout-warning' }, icon('alert'), h('div', {}, h('p', {}, h('strong', {}, 'Generation is unavailable')), problemDetails(info.problem, 'admin-runtime-fix'))));
        }
      } catch (err) {
        showLoadError(runtimeSlot, err, loadRuntime);
      }
    }

    // ----------------------------------------------------------------- models
    const modelsStatus = h('div', { class: 'table-status' });
    const modelsTable = table(
      'Installed models',
      [
        { label: 'Model', primary: true, cell: modelCell },
        { label: 'Status', cell: statusCell },
        { label: 'Credits per image', cell: costCell },
        { label: 'Enabled', cell: enabledCell },
        { label: 'Actions', cls: 'cell-actions', cell: actionsCell },
      ],
      'admin-models-table',
    );

    function modelCell(m) {
      return h(
        'div',
        { class: 'stack-cell model-cell' },
        h('strong', { class: 'model-name' }, m.name),
        h('code', { class: 'mono small muted' }, m.id),
        h('span', { class: 'small muted' }, [m.family ? m.family.toUpperCase() : null, m.license].filter(Boolean).join(' \u00b7 ')),
      );
    }

    function statusCell(m) {
      const badges = [
        m.is_default ? badge('Default', 'accent', { testid: 'admin-model-badge-default' }) : null,
        m.enabled ? null : badge('Disabled', 'neutral'),
        m.test_only ? badge('Test only', 'warning', { title: 'Random weights, for tests: only offered when the instance allows test models' }) : null,
        m.supported ? null : badge('Unsupported', 'danger', { title: 'This build cannot run this model family' }),
        m.verify_error ? badge('Verification failed', 'danger') : m.verified_at ? badge('Verified', 'success') : null,
      ];
      return h(
        'div',
        { class: 'stack-cell' },
        h('span', { class: 'badges' }, badges),
        m.verify_error ? h('span', { class: 'small text-danger verify-error', testid: 'admin-model-verify-error' }, m.verify_error) : null,
        m.verified_at ? h('span', { class: 'small muted' }, 'checked ', timeEl(m.verified_at)) : null,
      );
    }

    function costCell(m) {
      if (MAP_FAMILIES.has(m.family)) return h('span', { class: 'small muted', title: 'Used by 3D models, which have their own price' }, 'For 3D');
      const id = `cost-${m.id}`;
      const input = h('input', { type: 'number', id, class: 'input input-sm input-cost', min: '0', max: '100000', step: '1', value: String(m.credit_cost), testid: 'admin-model-cost', inputmode: 'numeric' });
      input.addEventListener('change', async () => {
        const v = Number(input.value);
        if (!Number.isInteger(v) || v < 0 || v > 100000) {
          toast('Use a whole number of credits from 0 to 100000.', 'error');
          input.value = String(m.credit_cost);
          return;
        }
        const saved = await change(m, { credit_cost: v }, `${m.name} now costs ${creditsText(v)} per image`);
        if (!saved) input.value = String(m.credit_cost);
      });
      return h('span', { class: 'cost-cell' }, h('label', { for: id, class: 'visually-hidden' }, `Credits per image for ${m.name}`), input);
    }

    function enabledCell(m) {
      const id = `enabled-${m.id}`;
      const box = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id, testid: 'admin-model-enabled', checked: !!m.enabled });
      box.addEventListener('change', async () => {
        const saved = await change(m, { enabled: box.checked }, `${m.name} is ${box.checked ? 'enabled' : 'disabled'}`);
        if (!saved) box.checked = !!m.enabled;
      });
      return h('div', { class: 'switch-wrap' }, box, h('label', { for: id, class: 'switch-label' }, h('span', { class: 'visually-hidden' }, `Offer ${m.name} to users`), h('span', { 'aria-hidden': 'true' }, m.enabled ? 'On' : 'Off')));
    }

    function actionsCell(m) {
      const makeDefault = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'admin-model-default', hidden: m.is_default }, 'Make default');
      makeDefault.addEventListener('click', async () => {
        makeDefault.disabled = true;
        if (await change(m, { is_default: true }, `${m.name} is the default model`)) loadModels();
        makeDefault.disabled = false;
      });
      const verify = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'admin-model-verify', title: 'Check every file against the manifest\u2019s SHA-256' }, icon('shield'), h('span', {}, 'Verify'));
      verify.addEventListener('click', async () => {
        verify.disabled = true;
        verify.replaceChildren(spinner(), h('span', {}, 'Verifying\u2026'));
        try {
          const res = await post(`/admin/models/${encodeURIComponent(m.id)}/verify`, {});
          replaceRow(res);
          if (res.verify_error) toast(`${m.name}: ${res.verify_error}`, 'error');
          else toast(`${m.name}: every file is intact`, 'success');
          loadRuntime();
        } catch (err) {
          toastError(err, 'Could not verify the model');
          verify.disabled = false;
          verify.replaceChildren(icon('shield'), h('span', {}, 'Verify'));
        }
      });
      const remove = confirmAction(
        h('button', { type: 'button', class: 'icon-btn', testid: 'admin-model-remove', 'aria-label': `Remove ${m.name}`, title: 'Remove' }, icon('trash')),
        {
          title: `Remove \u201c${m.name}\u201d?`,
          body: 'Its files are deleted from the data dir and users can no longer pick it. Images already made stay in their libraries. You can import it again later.',
          confirmLabel: 'Remove model',
        },
        async () => {
          await del(`/admin/models/${encodeURIComponent(m.id)}`);
          toast(`Removed ${m.name}`, 'success');
          loadModels();
          loadRuntime();
        },
        'Could not remove the model',
      );
      return h('div', { class: 'row-actions' }, makeDefault, verify, remove);
    }

    const rowProps = (m) => ({ testid: 'admin-model-row', class: m.enabled ? null : 'is-disabled', dataset: { modelId: m.id } });
    function replaceRow(m) {
      const old = modelsTable.tbody.querySelector(`tr[data-model-id="${CSS.escape(m.id)}"]`);
      const next = modelsTable.row(m, rowProps(m));
      if (old) old.replaceWith(next);
      else modelsTable.tbody.append(next);
    }

    /** PATCH a model; returns true when saved. */
    async function change(m, body, done) {
      try {
        const res = await patch(`/admin/models/${encodeURIComponent(m.id)}`, body);
        replaceRow(res);
        toast(done, 'success');
        loadRuntime();
        return true;
      } catch (err) {
        toastError(err, 'Could not save the change');
        return false;
      }
    }

    async function loadModels() {
      try {
        const list = await get('/admin/models', { signal });
        modelsTable.tbody.replaceChildren(...list.map((m) => modelsTable.row(m, rowProps(m))));
        modelsTable.el.hidden = !list.length;
        if (list.length) modelsStatus.replaceChildren();
        else modelsStatus.replaceChildren(h('div', { testid: 'admin-models-empty' }, emptyState('cpu', 'No models installed', 'Import a folder below, or run the command on the server.')));
      } catch (err) {
        showLoadError(modelsStatus, err, loadModels);
      }
    }

    // ----------------------------------------------------------------- import
    const importForm = h(
      'form',
      { class: 'form form-inline', testid: 'admin-model-import-form' },
      formAlert(),
      field({
        name: 'path',
        label: 'Folder on the server',
        required: true,
        testid: 'admin-model-import-path',
        attrs: { placeholder: '/srv/models/sd-turbo', spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off', class: 'input mono' },
      }),
      h('button', { type: 'submit', class: 'btn btn-primary', testid: 'admin-model-import' }, icon('download'), h('span', {}, 'Import')),
    );
    onSubmit(
      importForm,
      async () => {
        const path = importForm.elements.path.value.trim();
        const m = await post('/admin/models', { path }, { signal });
        importForm.reset();
        toast(`Imported \u201c${m.name}\u201d`, 'success');
        await loadModels();
        loadRuntime();
      },
      {
        busyLabel: 'Importing\u2026',
        extraValidate: (f) => (f.elements.path.value.trim().startsWith('/') ? {} : { path: 'Give the absolute path of a folder, starting with /.' }),
      },
    );
    const importHelp = h(
      'div',
      { class: 'import-help' },
      h('p', { class: 'hint' }, 'The folder holds ', h('code', { class: 'inline-code' }, 'model.toml'), ' (the manifest: id, name, family, default settings and every file with its SHA-256) and the ONNX files it lists. StrataMake copies it into its data dir and checks every file before offering it. Large models take a while.'),
      h('p', { class: 'hint' }, 'The same from a shell on the server:'),
      commandBlock('stratamake models import DIR', 'admin-model-import-command'),
    );

    // ------------------------------------------------------------------ queue
    const queueStatus = h('div', { class: 'table-status' });
    let showUser = false;
    const userOf = (g) => g.user || g.username || g.user_id || null;
    const queueColumns = [
      { label: 'Job', primary: true, cell: jobCell },
      { label: 'User', cell: (g) => h('span', {}, asText(userOf(g))) },
      { label: 'Status', cell: jobStatusCell },
      { label: 'Queued', cls: 'nowrap', cell: (g) => timeEl(g.created_at) },
      { label: 'Credits', cls: 'num', cell: (g) => String(g.cost ?? 0) },
      { label: 'Actions', cls: 'cell-actions', cell: jobActions },
    ];
    let queueTable = null;

    function jobCell(g) {
      const p = g.params || {};
      const prompt = String(p.prompt || '').trim() || 'Untitled';
      return h('div', { class: 'stack-cell' }, h('span', { class: 'clip', title: prompt }, prompt), h('span', { class: 'small muted' }, [p.model_name || p.model, sizeText(p), p.count > 1 ? `${p.count} images` : null].filter(Boolean).join(' \u00b7 ')));
    }

    function jobStatusCell(g) {
      const pr = g.progress;
      return h(
        'div',
        { class: 'stack-cell job-status' },
        statusBadge(g.status),
        g.status === 'queued' ? h('span', { class: 'small muted' }, positionText(g.position)) : null,
        g.status === 'running' && pr ? h('progress', { class: 'meter-bar', max: '1', value: String(progressFraction(pr)), 'aria-label': `Step ${pr.step} of ${pr.steps}` }) : null,
        g.status === 'running' && pr ? h('span', { class: 'small muted' }, `Step ${pr.step} of ${pr.steps}${pr.count > 1 ? `, image ${pr.image} of ${pr.count}` : ''}`) : null,
      );
    }

    function jobActions(g) {
      return confirmAction(
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'admin-job-cancel', dataset: { jobId: g.id } }, icon('stop'), h('span', {}, 'Cancel')),
        { title: 'Cancel this job?', body: 'A queued job ends at once; a running one stops after its current step. The user gets the credits back.', confirmLabel: 'Cancel job' },
        async () => {
          await del(`/admin/jobs/${encodeURIComponent(g.id)}`);
          toast('Job cancelled', 'success');
          loadQueue();
        },
        'Could not cancel the job',
      );
    }

    const queueSlot = h('div', {});
    let queueTimer = null;
    async function loadQueue() {
      clearTimeout(queueTimer);
      try {
        const jobs = await get('/admin/jobs', { signal });
        const wantUser = jobs.some((g) => userOf(g) !== null);
        if (!queueTable || wantUser !== showUser) {
          showUser = wantUser;
          queueTable = table('Queued and running jobs', queueColumns.filter((c) => showUser || c.label !== 'User'), 'admin-jobs-table');
          queueSlot.replaceChildren(queueTable.el);
        }
        // Rebuilt every few seconds: keep keyboard focus on the same job's button.
        const focusedJob = document.activeElement && document.activeElement.closest ? document.activeElement.closest('tr[data-job-id]') : null;
        const focusId = focusedJob && queueTable.tbody.contains(focusedJob) ? focusedJob.dataset.jobId : null;
        queueTable.tbody.replaceChildren(...jobs.map((g) => queueTable.row(g, { testid: 'admin-job-row', dataset: { jobId: g.id, status: g.status } })));
        if (focusId) {
          const again = queueTable.tbody.querySelector(`tr[data-job-id="${CSS.escape(focusId)}"] button`);
          if (again) again.focus();
        }
        queueTable.el.hidden = !jobs.length;
        if (jobs.length) queueStatus.replaceChildren();
        else queueStatus.replaceChildren(emptyState('clock', 'The queue is empty', 'Jobs waiting or running show up here, live.'));
      } catch (err) {
        showLoadError(queueStatus, err, loadQueue);
      }
      if (!signal.aborted) queueTimer = setTimeout(pollQueue, QUEUE_REFRESH_MS);
    }
    // No refresh while the tab is in the background.
    const pollQueue = () => (document.hidden ? (queueTimer = setTimeout(pollQueue, QUEUE_REFRESH_MS)) : loadQueue());
    signal.addEventListener('abort', () => clearTimeout(queueTimer));

    const live = h('span', { class: 'live-dot', title: `Refreshes every ${QUEUE_REFRESH_MS / 1000} seconds` }, h('span', { class: 'live-dot-mark', 'aria-hidden': 'true' }), 'Live');

    main.replaceChildren(
      h(
        'div',
        { class: 'page page-wide' },
        pageHeader('Administration', 'Image models and the generation queue.'),
        adminTabs('/admin/models'),
        h(
          'div',
          { class: 'stack' },
          runtimeSlot,
          card({ title: 'Models', description: 'What users can pick on the Generate page. A request without a model uses the default.', cls: 'card-flush', testid: 'admin-models' }, modelsTable.el, modelsStatus),
          card({ title: 'Import a model', description: 'Add a model folder that is already on this server.', testid: 'admin-model-import-card' }, importForm, importHelp),
          card({ title: 'Queue', description: 'Everyone\u2019s queued and running jobs.', actions: live, cls: 'card-flush', testid: 'admin-jobs' }, queueSlot, queueStatus),
        ),
      ),
    );
    loadRuntime();
    loadModels();
    loadQueue();
  },
};
