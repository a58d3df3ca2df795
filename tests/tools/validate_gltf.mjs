// Validates GLB/glTF files with the Khronos glTF Validator (npm `gltf-validator`).
// Usage: node tests/tools/validate_gltf.mjs [--strict] FILE...
// Prints one summary line per file (errors/warnings/infos/hints) and every error and
// warning message; exits 1 when any file has an error (or, with --strict, a warning).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const validator = require('gltf-validator');

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const files = args.filter((a) => a !== '--strict');
let failed = false;
for (const file of files) {
  const bytes = new Uint8Array(await readFile(file));
  const report = await validator.validateBytes(bytes, {
    uri: path.basename(file),
    maxIssues: 0,
    writeTimestamp: false,
    externalResourceFunction: () => Promise.reject(new Error('external resources are not allowed')),
  });
  const i = report.issues;
  const bad = i.numErrors > 0 || (strict && i.numWarnings > 0);
  failed ||= bad;
  console.log(
    `${bad ? 'FAIL' : 'ok  '} ${file}: errors=${i.numErrors} warnings=${i.numWarnings} infos=${i.numInfos} hints=${i.numHints}`,
  );
  for (const m of i.messages) {
    const severity = ['error', 'warning', 'info', 'hint'][m.severity] ?? m.severity;
    console.log(`     ${severity} ${m.code} ${m.pointer ?? ''}: ${m.message}`);
  }
}
process.exit(failed ? 1 : 0);
