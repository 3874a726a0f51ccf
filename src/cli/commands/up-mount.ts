// Mounting the default fs for `curvefs up`: a `curvefs mount` child process (so a FUSE problem
// can never take the cluster down), started only when FUSE can work here.
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClusterFile } from '../context.ts';
import { Supervisor } from '../supervisor.ts';

export function fuseUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting needs root';
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/fuse is missing or not accessible';
  }
  return undefined;
}

export function isMounted(dir: string): boolean {
  const abs = resolve(dir);
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[1] === abs);
}

/** Mounts the fs in a child process; returns how to unmount, or undefined (with a message) when FUSE is unavailable. */
export async function tryMountDefault(file: ClusterFile, dir: string, logDir = resolve(dir, '..', 'logs')): Promise<(() => Promise<void>) | undefined> {
  const why = fuseUnavailableReason();
  if (why) {
    process.stdout.write(`mount       skipped: ${why} (the CLI and SDK work without a mount)\n`);
    return undefined;
  }
  mkdirSync(dir, { recursive: true });
  const sup = new Supervisor(logDir);
  // The mount is a client of its fs only: it gets the fs token, not the operator's.
  const token = file.auth ? ['--token-file', file.auth.fsTokenFile] : [];
  const tls = file.tls ? { CURVEFS_TLS_DIR: file.tls.dir, CURVEFS_TLS_NAME: 'mount' } : {};
  const p = sup.start('mount', ['--mds', file.mdsAddrs.join(','), ...token, 'mount', file.fsName, dir], tls);
  const end = performance.now() + 30_000;
  while (!isMounted(dir)) {
    if (p.child.exitCode !== null || performance.now() > end) {
      process.stdout.write(`mount       failed (see ${p.logFile}); the CLI and SDK still work\n`);
      await sup.stopAll();
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`mount       ${resolve(dir)} (fs ${file.fsName})\n`);
  return () => sup.stopAll();
}
