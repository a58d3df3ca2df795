// End-to-end test of 3D model creation in a real Chromium with WebGL (SwiftShader).
//
// Flow: sign up and verify -> upload a picture (drawn on a canvas in the page) -> its asset
// page -> "Make a 3D model" -> choose Lithophane -> the live preview appears in the 3D
// viewer and follows a width change (the viewer's dimensions say 80.0 mm) -> the viewer's
// canvas is not blank -> "Make model" -> progress -> the result says "Ready to print" ->
// download the GLB and the STL, check their bytes and pass the saved files through the
// glTF Validator, admesh and PrusaSlicer (tests/tools/validate_meshes.sh) -> open it in
// the library: the asset page shows the viewer, the mesh facts and the downloads -> the
// library card shows the server-rendered thumbnail. Fails on page errors, CSP violations
// and missing UI assets.
//
// Stable data-testid hooks (keep in sync with web/pages/make-3d.js, web/pages/asset.js,
// web/pages/library-common.js and web/viewer.js):
//   asset-make-3d, make3d-form, make3d-mode-{relief,lithophane,extrusion} (radio inputs),
//   make3d-{width,relief_height,...} (number boxes), make3d-viewer (the viewer container,
//   data-state = loading|ready|error, data-frames, data-triangles, data-dimensions),
//   make3d-preview-state (data-state = busy|ready|error|done), make3d-submit, make3d-job,
//   make3d-progress, make3d-result, make3d-open, mesh-facts, mesh-size, mesh-printable,
//   mesh-downloads, mesh-download-{glb,stl,3mf,obj}, asset-viewer, asset-model

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BASE, MAIL_DIR, CHROMIUM, screenshotter, watch, signIn, signUpAndVerify } from './support.mjs';

const shot = screenshotter('meshes-');
const execFileAsync = promisify(execFile);

// Software WebGL: headless Chromium without a GPU renders through SwiftShader.
const WEBGL_ARGS = ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

/** Uploads a portrait-like picture drawn on a canvas; returns its asset id. */
async function uploadPicture(page) {
  return page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 240;
    c.height = 180;
    const g = c.getContext('2d');
    const grad = g.createLinearGradient(0, 0, 240, 180);
    grad.addColorStop(0, '#202030');
    grad.addColorStop(1, '#e0d8c8');
    g.fillStyle = grad;
    g.fillRect(0, 0, 240, 180);
    g.fillStyle = '#fafafa';
    g.beginPath();
    g.arc(150, 80, 45, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = '#101010';
    g.fillRect(30, 110, 70, 50);
    const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/png'));
    const form = new FormData();
    form.append('file', blob, 'portrait.png');
    const csrf = (document.cookie.match(/(?:^|;\s*)(?:__Host-)?sm_csrf=([^;]+)/) || [])[1];
    const res = await fetch('/api/v1/assets', { method: 'POST', body: form, credentials: 'same-origin', headers: csrf ? { 'X-CSRF-Token': csrf } : {} });
    if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    return (await res.json()).items[0].id;
  });
}

/** Share of the viewer canvas's pixels that differ clearly from its top-left corner. */
async function drawnShare(page, testid) {
  return page.evaluate((id) => {
    const canvas = document.querySelector(`[data-testid="${id}"] canvas`);
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const g = copy.getContext('2d');
    g.drawImage(canvas, 0, 0);
    const { data } = g.getImageData(0, 0, copy.width, copy.height);
    const [r0, g0, b0] = data;
    let differing = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - r0) + Math.abs(data[i + 1] - g0) + Math.abs(data[i + 2] - b0) > 40) differing += 1;
    }
    return differing / (data.length / 4);
  }, testid);
}

/** Waits until the viewer has drawn something (at least 3% of its pixels); returns the share. */
async function waitForDrawn(page, testid) {
  let share = 0;
  for (let i = 0; i < 60 && share <= 0.03; i += 1) {
    share = await drawnShare(page, testid);
    if (share <= 0.03) await page.waitForTimeout(250);
  }
  assert.ok(share > 0.03, `the ${testid} viewer looks blank (${(share * 100).toFixed(1)}% of pixels drawn)`);
  return share;
}

/** Clicks a download link and saves the file into `dir` under its suggested name. */
async function downloaded(page, testid, dir) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).first().click()]);
  const name = download.suggestedFilename();
  const file = path.join(dir, path.basename(name));
  await download.saveAs(file);
  return { name, file, bytes: await fs.readFile(file) };
}

/** Runs tests/tools/validate_meshes.sh (glTF Validator, admesh, PrusaSlicer) on `dir`; fails with its report. */
async function validateMeshes(dir) {
  const script = fileURLToPath(new URL('../tools/validate_meshes.sh', import.meta.url));
  let report;
  try {
    const { stdout, stderr } = await execFileAsync('bash', [script, dir], { maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });
    report = stdout + stderr;
  } catch (e) {
    assert.fail(`the validators refused the downloads (exit ${e.code}):\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
  assert.doesNotMatch(report, /^FAIL /m, report);
  assert.match(report, /^validate_meshes: [1-9]\d* passed, 0 failed$/m, report);
  return report;
}

test(
  'meshes: make a lithophane from an image, see it in the 3D viewer, download GLB and STL',
  { skip: BASE ? false : 'STRATAMAKE_URL is not set (the harness starts the server and sets it)', timeout: 300_000 },
  async (t) => {
    assert.ok(MAIL_DIR, 'MAIL_DIR must point at the directory where the SMTP sink writes *.eml files');
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: WEBGL_ARGS });
    t.after(() => browser.close());
    const problems = [];
    const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const username = `m3d_${stamp}`.slice(0, 30);
    const ctx = await browser.newContext({ baseURL: BASE, viewport: { width: 1360, height: 900 }, acceptDownloads: true });
    ctx.setDefaultTimeout(30_000);
    const page = await ctx.newPage();
    watch(page, 'meshes', problems);

    const password = `Strata-${stamp}-Mesh-Horse!`;
    await signUpAndVerify(page, { email: `${username}@example.test`, username, password }, shot);
    await signIn(page, username, password);
    const id = await uploadPicture(page);

    // The image's page offers to make a model of it.
    await page.goto(`/library/${id}`);
    await page.getByTestId('asset-make-3d').first().click();
    await page.getByTestId('make3d-form').waitFor();
    await page.locator('label[for="m3d-mode-lithophane"]').click();
    assert.equal(await page.getByTestId('make3d-mode-lithophane').isChecked(), true);

    // The coarse preview appears and follows the settings.
    const viewer = page.getByTestId('make3d-viewer');
    await page.locator('[data-testid="make3d-preview-state"][data-state="ready"]').waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="make3d-viewer"][data-state="ready"]').waitFor();
    await page.getByTestId('make3d-width').fill('80');
    await page.waitForFunction(() => (document.querySelector('[data-testid="make3d-viewer"]').dataset.dimensions || '').startsWith('80.0'), null, { timeout: 60_000 });
    assert.ok(Number(await viewer.getAttribute('data-triangles')) > 100);
    assert.ok(Number(await viewer.getAttribute('data-frames')) > 0);
    await waitForDrawn(page, 'make3d-viewer');
    await shot(page, 'preview');

    // The full model, as a job.
    await page.getByTestId('make3d-submit').click();
    await page.getByTestId('make3d-result').waitFor({ timeout: 120_000 });
    assert.match(await page.getByTestId('mesh-printable').first().innerText(), /ready to print/i);
    assert.match(await page.getByTestId('mesh-size').first().innerText(), /^80\.0 ×/);
    await page.locator('[data-testid="make3d-preview-state"][data-state="done"]').waitFor();
    await shot(page, 'result');

    const downloads = await fs.mkdtemp(path.join(os.tmpdir(), 'stratamake-meshes-'));
    t.after(() => fs.rm(downloads, { recursive: true, force: true }));
    const glb = await downloaded(page, 'mesh-download-glb', downloads);
    assert.match(glb.name, /\.glb$/);
    assert.equal(glb.bytes.subarray(0, 4).toString('latin1'), 'glTF');
    assert.equal(glb.bytes.readUInt32LE(8), glb.bytes.length, 'the GLB header gives its length');
    const stl = await downloaded(page, 'mesh-download-stl', downloads);
    assert.match(stl.name, /\.stl$/);
    const facets = stl.bytes.readUInt32LE(80);
    assert.ok(facets > 100);
    assert.equal(stl.bytes.length, 84 + 50 * facets, 'a binary STL of that many facets');
    // The files as the browser saved them pass the field's own tools.
    assert.deepEqual((await fs.readdir(downloads)).sort(), [path.basename(glb.name), path.basename(stl.name)].sort());
    const report = await validateMeshes(downloads);
    assert.match(report, /^ok {3}gltf-validator .*\.glb: errors=0/m, report);
    assert.match(report, /^ok {3}admesh .*\.stl: closed/m, report);
    assert.match(report, /^ok {3}prusa-slicer --export-gcode .*\.stl/m, report);

    // In the library: the asset page's viewer, facts and downloads; the card's thumbnail.
    await page.getByTestId('make3d-open').click();
    await page.getByTestId('asset-model').waitFor();
    await page.locator('[data-testid="asset-viewer"][data-state="ready"]').waitFor({ timeout: 60_000 });
    await waitForDrawn(page, 'asset-viewer');
    await shot(page, 'asset');
    assert.equal(await page.getByTestId('mesh-downloads').locator('a').count(), 4);
    await page.goto('/library');
    const card = page.locator('[data-testid="asset-card"][data-kind="model"]').first();
    await card.waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="asset-card"][data-kind="model"] img');
      return img && img.complete && img.naturalWidth > 0;
    });
    await shot(page, 'library');
    assert.deepEqual(problems, []);
  },
);
