// `curvefs --version`: the package's version, read from its package.json (found by walking up
// from this file, so it is the same from src/ through tsx and from the compiled dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'curvefs-ts' && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

export function versionLine(): string {
  return `curvefs ${packageVersion()} (curvefs-ts, node ${process.version})`;
}
