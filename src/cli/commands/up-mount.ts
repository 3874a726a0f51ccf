// Mounting the default fs for `curvefs up`: a `curvefs mount` child process of the cluster's
// supervisor (so a FUSE problem can never take the cluster down, and a crashed mount is
// restarted like any other child), started only when FUSE can work here.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pollUntil } from '../../common/index.ts';
import { mountInfo, recoverStaleMount } from '../../fuse/index.ts';
import type { ClusterFile } from '../context.ts';
import type { Supervisor } from '../supervisor.ts';

export function fuseUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting needs root';
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/fuse is missing or not accessible';
  }
  return undefined;
}

/**
 * Makes `dir` mountable: a mount left by a process that died (every `up` process killed with
 * -9: "Transport endpoint is not connected", on which even mkdir fails) is detached lazily; a
 * live mount there is someone else's and refused.
 */
async function prepareMountPoint(dir: string, say: (line: string) => void): Promise<void> {
  try {
    if (await recoverStaleMount(dir)) say(`mount       cleared the dead mount at ${dir} (its process had died)`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const live = await mountInfo(dir);
  if (live) throw new Error(`cannot mount at ${dir}: ${live.fsType} ${live.source} is mounted there; unmount it, or give --mount-dir or --no-mount`);
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() === false) throw new Error(`cannot mount at ${dir}: not a directory`);
  mkdirSync(dir, { recursive: true });
}

/**
 * Mounts the fs in a supervised child; returns once mounted (true) or when mounting is not
 * possible here (false, with a message: the CLI and SDK work without a mount). Throws when the
 * mount point cannot be used.
 */
export async function mountDefault(file: ClusterFile, dirArg: string, sup: Supervisor, say: (line: string) => void): Promise<boolean> {
  const dir = resolve(dirArg);
  const why = fuseUnavailableReason();
  if (why) {
    say(`mount       skipped: ${why} (the CLI and SDK work without a mount)`);
    return false;
  }
  await prepareMountPoint(dir, say);
  // The mount is a client of its fs only: it gets the fs token, not the operator's.
  const token = file.auth ? ['--token-file', file.auth.fsTokenFile] : [];
  const tls = file.tls ? { CURVEFS_TLS_DIR: file.tls.dir, CURVEFS_TLS_NAME: 'mount' } : {};
  // Its metrics on the port `up` planned, for `curvefs stats` and Prometheus.
  const metrics = file.mountMetrics ? ['--metrics-port', file.mountMetrics.slice(file.mountMetrics.lastIndexOf(':') + 1)] : [];
  const p = sup.start('mount', ['--mds', file.mdsAddrs.join(','), ...token, 'mount', file.fsName, dir, ...metrics], tls);
  try {
    await pollUntil('the mount', 60_000, async () => ((await mountInfo(dir))?.fsType === 'fuse.curvefs' ? true : undefined), {
      minDelayMs: 20,
      maxDelayMs: 200,
      check: () => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`the mount process exited with code ${p.child.exitCode}`);
      },
    });
  } catch (e) {
    await sup.stopOne(p);
    say(`mount       failed: ${(e as Error).message} (see ${p.logFile}); the CLI and SDK still work`);
    return false;
  }
  say(`mount       ${dir} (fs ${file.fsName}, log ${p.logFile}${file.mountMetrics ? `, metrics http://${file.mountMetrics}/metrics` : ''})`);
  return true;
}
