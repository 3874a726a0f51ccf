// bin/curvefs.mjs picks the compiled dist/ when it is current and the sources through tsx
// otherwise. Checked on a copy of the launcher in a scratch package whose two entry points say
// which one ran; modification times are set explicitly (no waiting for the clock).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

test('the launcher runs dist/ while it is newer than src/ and package.json, tsx otherwise', (t) => {
  const pkg = mkdtempSync(join(tmpdir(), 'curvefs-launcher-'));
  t.after(() => rmSync(pkg, { recursive: true, force: true }));
  mkdirSync(join(pkg, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'curvefs.mjs'), join(pkg, 'bin', 'curvefs.mjs'));
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'curvefs-ts', version: '0.0.0', type: 'module' }));
  mkdirSync(join(pkg, 'src', 'cli'), { recursive: true });
  // TypeScript only tsx can run (a type annotation), so "tsx" really means the tsx loader.
  writeFileSync(join(pkg, 'src', 'cli', 'main.ts'), "const ran: string = 'tsx';\nprocess.stdout.write(ran);\n");
  const run = (env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [join(pkg, 'bin', 'curvefs.mjs')], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const at = (path: string, seconds: number) => utimesSync(join(pkg, path), seconds, seconds);

  assert.equal(run(), 'tsx', 'no dist/: the sources');

  mkdirSync(join(pkg, 'dist', 'src', 'cli'), { recursive: true });
  writeFileSync(join(pkg, 'dist', 'src', 'cli', 'main.js'), "process.stdout.write('dist');\n");
  at('package.json', 1000);
  at('src/cli/main.ts', 1000);
  assert.equal(run(), 'tsx', 'dist/ without BUILT (an interrupted build): the sources');

  writeFileSync(join(pkg, 'dist', 'BUILT'), 'x\n');
  at('dist/BUILT', 2000);
  assert.equal(run(), 'dist', 'built after every source change: dist');
  assert.equal(run({ CURVEFS_RUNTIME: 'tsx' }), 'tsx', 'CURVEFS_RUNTIME=tsx forces the sources');

  at('src/cli/main.ts', 3000);
  assert.equal(run(), 'tsx', 'a source changed after the build: the sources');
  assert.equal(run({ CURVEFS_RUNTIME: 'dist' }), 'dist', 'CURVEFS_RUNTIME=dist forces dist');

  at('src/cli/main.ts', 1000);
  at('package.json', 3000);
  assert.equal(run(), 'tsx', 'package.json changed after the build (new dependencies): the sources');
});
