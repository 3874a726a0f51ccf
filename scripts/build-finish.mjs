#!/usr/bin/env node
// Second half of `npm run build` (after tsc): copies the JavaScript files tsc does not emit
// (src/**/*.mjs, e.g. the FUSE reader worker) into dist/src, then writes dist/BUILT. Its mtime
// is what bin/curvefs.mjs compares with the sources to decide whether dist is current.
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function assets(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) assets(p, out);
    else if (e.name.endsWith('.mjs')) out.push(p);
  }
  return out;
}

const copied = assets(join(root, 'src'));
for (const src of copied) {
  const dst = join(root, 'dist', relative(root, src));
  mkdirSync(dirname(dst), { recursive: true });
  copyFileSync(src, dst);
}
writeFileSync(join(root, 'dist', 'BUILT'), `${new Date().toISOString()}\n`);
console.log(`build: dist/ is current (${copied.length} asset files copied)`);
