#!/usr/bin/env node
// The `curvefs` command. It runs the compiled JavaScript in dist/ when that is current (built by
// `npm run build` after the last change to src/ or package.json), and the TypeScript sources
// through tsx otherwise: development needs no build step, an installed package starts without
// compiling anything at run time. CURVEFS_RUNTIME=tsx or =dist forces one (dist must exist).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'BUILT');
const compiledMain = join(root, 'dist', 'src', 'cli', 'main.js');

/** Newest modification time under `dir` (a stat per file: a few ms for this tree). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function distIsCurrent() {
  if (!existsSync(built) || !existsSync(compiledMain)) return false;
  const src = join(root, 'src');
  if (!existsSync(src)) return true; // a package shipped without its sources
  return statSync(built).mtimeMs >= Math.max(newest(src), statSync(join(root, 'package.json')).mtimeMs);
}

const runtime = process.env.CURVEFS_RUNTIME;
if (runtime === 'dist' || (runtime !== 'tsx' && distIsCurrent())) {
  await import(pathToFileURL(compiledMain).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
