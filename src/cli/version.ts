// Where this package is installed and its version: found by walking up from this file to the
// package.json named curvefs-ts, so the answer is the same from src/ (tsx) and from dist/src/
// (compiled), whose relative paths to the root differ.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let found: { root: string; version: string } | undefined;

function find(): { root: string; version: string } {
  if (found) return found;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'curvefs-ts') return (found = { root: dir, version: pkg.version ?? 'unknown' });
    }
    if (dirname(dir) === dir) throw new Error(`curvefs-ts: no package.json above ${fileURLToPath(import.meta.url)}`);
  }
}

export function packageRoot(): string {
  return find().root;
}

export function packageVersion(): string {
  return find().version;
}

export function versionLine(): string {
  return `curvefs ${packageVersion()} (curvefs-ts, node ${process.version})`;
}
