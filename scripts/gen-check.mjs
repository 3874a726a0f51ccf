#!/usr/bin/env node
// Fails when src/gen is not what `npm run gen` makes from proto/: generates into a
// temporary directory and compares file by file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';

const out = mkdtempSync(join(tmpdir(), 'curvefs-gen-'));
const bin = resolve('node_modules', '.bin');
// buf finds the protoc-gen-es plugin on PATH (npm scripts put node_modules/.bin there; plain
// `node scripts/...` does not).
const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };
const r = spawnSync(join(bin, 'buf'), ['generate', '--output', out], { stdio: 'inherit', env });
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
