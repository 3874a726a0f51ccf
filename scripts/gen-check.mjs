#!/usr/bin/env node
// Fails when src/gen is not what `npm run gen` makes from proto/: generates into a
// temporary directory and compares file by file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const out = mkdtempSync(join(tmpdir(), 'curvefs-gen-'));
const buf = join('node_modules', '.bin', 'buf');
const r = spawnSync(buf, ['generate', '--output', out], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

function list(dir, base = dir, acc = []) {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) list(p, base, acc);
    else acc.push(relative(base, p));
  }
  return acc.sort();
}
const fresh = list(join(out, 'src', 'gen'));
const have = list(join('src', 'gen'));
const stale = [];
for (const f of new Set([...fresh, ...have])) {
  let a = null, b = null;
  try { a = readFileSync(join(out, 'src', 'gen', f), 'utf8'); } catch { /* missing */ }
  try { b = readFileSync(join('src', 'gen', f), 'utf8'); } catch { /* missing */ }
  if (a !== b) stale.push(f);
}
rmSync(out, { recursive: true, force: true });
if (stale.length) {
  console.error(`generated code is stale (run \`npm run gen\`): ${stale.join(', ')}`);
  process.exit(1);
}
console.log(`gen-check: ${fresh.length} generated files are current`);
