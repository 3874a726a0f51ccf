// The `curvefs up` command around up(): pid files, the mount, and the process's life — Ctrl-C
// (or SIGTERM) is a clean stop reported as such, a start that fails stops whatever it started,
// and a child that dies on its own is restarted by the supervisor (logged).
import { join, resolve } from 'node:path';
import { brokenPipe } from '../output.ts';
import { DEFAULT_RESTART, Supervisor } from '../supervisor.ts';
import { up } from './up.ts';

export interface UpCommandOptions {
  dir: string;
  metaservers: number;
  etcd?: string;
  fsName: string;
  mount: boolean;
  mountDir?: string;
  freshPorts?: boolean;
}

export async function upCommand(o: UpCommandOptions): Promise<void> {
  const say = (line: string) => process.stdout.write(line + '\n');
  // Output is for a person; a closed terminal or pipe must not take the cluster down.
  brokenPipe.onClosed = () => undefined;
  const dir = resolve(o.dir);
  const sup = new Supervisor(join(dir, 'logs'), join(dir, 'pids'), DEFAULT_RESTART);

  // From the first child on, a signal stops the children in order and ends `up`.
  // Only ever our own pid file: when up() refuses, the file names the `up` that is running.
  const removeOwnPid = () => {
    if (sup.pids.read('up')?.pid === process.pid) sup.pids.remove('up');
  };
  let shuttingDown: Promise<never> | undefined;
  const shutdown = (why: string, exitCode: number): Promise<never> =>
    (shuttingDown ??= (async () => {
      say(why);
      try {
        await sup.stopAll();
      } finally {
        removeOwnPid();
      }
      say('cluster stopped');
      process.exit(exitCode);
    })());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(`${sig}: stopping the cluster`, 0));

  try {
    // up() refuses when the pid file names a live `up`, and stops orphans of a dead one.
    const cluster = await up({ dir: o.dir, metaservers: o.metaservers, etcd: o.etcd, fsName: o.fsName, fresh: o.freshPorts, supervisor: sup, log: say });
    sup.pids.write('up', process.pid);
    if (o.mount) {
      const { mountDefault } = await import('./up-mount.ts');
      await mountDefault(cluster.file, o.mountDir ?? join(o.dir, 'mnt'), sup, say);
    }
  } catch (e) {
    // A signal during the start: its shutdown ends the process (children dying made up() throw).
    if (shuttingDown) await shuttingDown;
    await sup.stopAll();
    removeOwnPid();
    throw e;
  }
  say('cluster is up; Ctrl-C to stop');
}
