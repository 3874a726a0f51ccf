// `curvefs mount FS DIR` and `curvefs umount DIR`.
//
// mount runs in the foreground until the file system is unmounted (by `curvefs umount`, umount(8)
// or Ctrl-C / SIGTERM, which unmount cleanly: open files are saved and the mount session ends).
// --log-file sends the serving process's log to a file it rotates itself (src/common/log-file.ts).
// --daemon detaches: the command returns once the mount is up, the serving process logs to
// --log-file (default: in the temp directory) and keeps its pid in --pid-file. A mount whose process died ("Transport endpoint is
// not connected") is cleared by running `curvefs mount` on the directory again, or by umount.
import { fork } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { mountInfo, unmountDir } from '../../fuse/index.ts';
import { mountCurvefs, MountError, type CurvefsMount } from '../../mount/index.ts';
import { addLogFlags, applyLogSettings, logSettingsOf, nonNegativeArg, parsePort, processAlive, readPidFile } from '../../common/index.ts';
import { brokenPipe, CliError, EXIT, exitCodeOf, reportError } from '../output.ts';
import { ensureMdsReachable, mdsAddrsOf, type GlobalOptions } from '../context.ts';

type Globals = () => GlobalOptions;

/** Set in the environment of the detached child of `mount --daemon`. */
const DAEMON_CHILD_ENV = 'CURVEFS_MOUNT_DAEMON_CHILD';

interface MountCmdOptions {
  mds?: string;
  entryTimeout: number;
  attrTimeout: number;
  readCache: number;
  daemon?: boolean;
  logFile?: string;
  pidFile?: string;
  debug?: boolean;
  metricsPort?: number;
  metricsHost?: string;
}

/** Default pid/log file of the mount at `dir` (the same for mount and umount). */
function defaultFile(dir: string, ext: 'pid' | 'log'): string {
  return join(tmpdir(), `curvefs-mount${dir.replace(/[^A-Za-z0-9._-]/g, '_')}.${ext}`);
}

function mountFailure(e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  const code = exitCodeOfMount(e);
  reportError(msg, e instanceof CliError ? e.code : 'error', code);
  process.exit(code);
}

/**
 * Refuses a directory something live is mounted on: a second FUSE mount would stack on top,
 * hiding the first while its process keeps serving it. A dead mount (its server gone,
 * ENOTCONN) is not refused: mounting clears it (src/mount).
 */
async function refuseMounted(dir: string): Promise<void> {
  const info = await mountInfo(dir);
  if (info && !(await isStale(dir))) {
    throw new CliError(`${dir} is already a mount point (${info.fsType} ${info.source}); unmount it first (\`curvefs umount ${dir}\`)`, EXIT.EXISTS, 'EBUSY');
  }
}

export function registerMountCommands(program: Command, g: Globals): void {
  const mount = program
    .command('mount')
    .description('mount a file system with FUSE; runs until unmounted (--daemon: in the background)')
    .argument('<fs>', 'file system name')
    .argument('<dir>', 'mount point: an existing directory')
    .option('--mds <addrs>', 'MDS addresses, comma separated (default: the global --mds)')
    .option('--entry-timeout <sec>', 'how long the kernel caches names (seconds)', nonNegativeArg('seconds'), 1)
    .option('--attr-timeout <sec>', 'how long the kernel caches attributes (seconds)', nonNegativeArg('seconds'), 1)
    .option('--read-cache <MiB>', 'memory for cached data objects (MiB)', nonNegativeArg('MiB'), 256)
    .option('--daemon', 'detach once mounted; logs go to --log-file, the pid to --pid-file')
    .option('--pid-file <file>', 'pid file of a --daemon mount (default: in the temp directory)')
    .option('--debug', 'log every FUSE request')
    .option('--metrics-port <port>', 'serve Prometheus metrics at /metrics on this port (0: any free port)', parsePort)
    .option('--metrics-host <host>', 'interface of the metrics endpoint', '127.0.0.1');
  addLogFlags(mount, 'write the log to this file and rotate it (default: stderr; with --daemon: a file in the temp directory)')
    .action(async (fsName: string, dirArg: string, o: MountCmdOptions) => {
      // A closed stdout or stderr must not end the process serving the mount: it would leave a
      // dead mount behind instead of unmounting.
      brokenPipe.onClosed = () => undefined;
      const dir = resolve(dirArg);
      const globals: GlobalOptions = { ...g(), ...(o.mds ? { mds: o.mds } : {}) };
      const entryTimeoutSec = o.entryTimeout;
      const attrTimeoutSec = o.attrTimeout;
      const readCacheBytes = o.readCache * 1024 * 1024;
      const metrics = o.metricsPort === undefined ? undefined : { port: o.metricsPort, host: o.metricsHost };
      const pidFile = resolve(o.pidFile ?? defaultFile(dir, 'pid'));
      // A daemon always logs to a file (it has no terminal); the default one is named after DIR.
      const logTo = logSettingsOf(mount, o.daemon ? defaultFile(dir, 'log') : undefined);
      const logFile = logTo.file === undefined ? undefined : resolve(logTo.file);
      try {
        // Checked before forking a daemon too, so that its caller sees the refusal.
        await refuseMounted(dir);
        await ensureMdsReachable(mdsAddrsOf(globals));
      } catch (e) {
        mountFailure(e);
      }
      if (o.daemon && process.env[DAEMON_CHILD_ENV] !== '1') return startDaemon(dir, pidFile, logFile!);
      try {
        // The serving process (foreground, or the daemon's child): its log lines go to the file
        // it rotates itself, or to stderr.
        applyLogSettings({ ...logTo, file: logFile });
      } catch (e) {
        mountFailure(e);
      }

      // Signals are taken before mounting: the mount shows in /proc/mounts (and a supervisor may
      // send SIGTERM) before mountCurvefs returns, and a SIGTERM in that window must still
      // unmount rather than kill the process and leave a dead mount behind.
      let m: CurvefsMount | undefined;
      let stopping: NodeJS.Signals | undefined;
      const unmountNow = (mounted: CurvefsMount, sig: NodeJS.Signals): void => {
        process.stderr.write(`${sig}: unmounting ${dir}\n`);
        mounted.unmount().catch(async (e: unknown) => {
          process.stderr.write(`curvefs: ${e instanceof Error ? e.message : String(e)}; detaching lazily (the mount goes once no longer busy)\n`);
          await mounted.unmount({ lazy: true }).catch(() => undefined);
        });
      };
      const onSignal = (sig: NodeJS.Signals) => {
        if (stopping) return;
        stopping = sig;
        if (m) unmountNow(m, sig);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        m = await mountCurvefs({
          mdsAddrs: mdsAddrsOf(globals),
          fsName,
          mountpoint: dir,
          entryTimeoutSec,
          attrTimeoutSec,
          readCacheBytes,
          fuse: { debug: o.debug === true },
          metrics,
        });
      } catch (e) {
        if (process.send) process.send({ error: e instanceof Error ? e.message : String(e), code: exitCodeOfMount(e) });
        mountFailure(e);
      }
      const daemon = process.env[DAEMON_CHILD_ENV] === '1';
      if (daemon) {
        writeFileSync(pidFile, `${process.pid}\n`);
        process.send?.({ ready: true, pid: process.pid, sessionId: m.sessionId });
        process.disconnect?.();
      } else {
        if (m.metricsAddress) process.stdout.write(`metrics at http://${m.metricsAddress}/metrics\n`);
        process.stdout.write(`mounted ${fsName} at ${dir} (session ${m.sessionId}); Ctrl-C or \`curvefs umount ${dir}\` unmounts\n`);
      }
      if (stopping) unmountNow(m, stopping);
      await m.closed;
      if (daemon) rmSync(pidFile, { force: true });
      process.stdout.write(`unmounted ${dir}\n`);
      process.exit(EXIT.OK);
    });

  program
    .command('umount')
    .description('unmount a curvefs mount (also one whose process died)')
    .argument('<dir>', 'mount point')
    .option('--lazy', 'detach now even if busy; the mount goes once no longer in use')
    .option('--pid-file <file>', 'pid file of a --daemon mount, to wait for its process to finish')
    .action(async (dirArg: string, o: { lazy?: boolean; pidFile?: string }) => {
      const dir = resolve(dirArg);
      const info = await mountInfo(dir);
      if (!info) {
        process.stderr.write(`curvefs: nothing is mounted at ${dir}\n`);
        process.exit(EXIT.NOT_FOUND);
      }
      if (!info.fsType.startsWith('fuse')) {
        process.stderr.write(`curvefs: ${dir} is a ${info.fsType} mount, not a curvefs (FUSE) mount\n`);
        process.exit(EXIT.INVALID);
      }
      const pidFile = resolve(o.pidFile ?? defaultFile(dir, 'pid'));
      const pid = readPidFile(pidFile);
      const stale = await isStale(dir);
      try {
        await unmountDir(dir, { lazy: o.lazy === true || stale });
      } catch (e) {
        process.stderr.write(`curvefs: ${e instanceof Error ? e.message : String(e)}${o.lazy ? '' : ' (busy? --lazy detaches it anyway)'}\n`);
        process.exit(EXIT.ERROR);
      }
      // A daemon saves open files and ends its session after the unmount: wait for it.
      if (pid !== undefined && !stale) await waitForExit(pid, 60_000);
      process.stdout.write(`unmounted ${dir}${stale ? ' (its process had died)' : ''}\n`);
    });
}

function exitCodeOfMount(e: unknown): number {
  if (e instanceof MountError) return e.reason === 'mountpoint' ? EXIT.INVALID : EXIT.ERROR;
  if (e instanceof CliError) return e.exitCode;
  return exitCodeOf(e);
}

/** A mount whose serving process died answers "Transport endpoint is not connected". */
async function isStale(dir: string): Promise<boolean> {
  try {
    await stat(dir);
    return false;
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === 'ENOTCONN' || code === 'ECONNABORTED';
  }
}


async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (let delay = 10; processAlive(pid); delay = Math.min(delay * 2, 200)) {
    if (performance.now() > end) {
      process.stderr.write(`curvefs: mount process ${pid} is still running after the unmount\n`);
      return;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Runs this same command detached, returns once it reports the mount up (or failed). */
async function startDaemon(dir: string, pidFile: string, logFile: string): Promise<void> {
  const log = openSync(logFile, 'a');
  // The child writes its log lines to logFile itself (and rotates it): named explicitly, last,
  // so it wins over an earlier --log-file and covers the default. Its stdout and stderr (start-up
  // lines, a crash's stack trace) are appended to the file as it is now.
  const args = [...process.argv.slice(2).filter((a) => a !== '--daemon'), '--log-file', logFile];
  const child = fork(process.argv[1]!, args, {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
    env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
    execArgv: process.execArgv,
  });
  closeSync(log);
  const outcome = await new Promise<{ ready?: boolean; pid?: number; error?: string; code?: number }>((resolvePromise) => {
    child.once('message', (m) => resolvePromise(m as { ready?: boolean; pid?: number; error?: string; code?: number }));
    child.once('exit', (code) => resolvePromise({ error: `the mount process exited with code ${code}; see ${logFile}`, code: code ?? EXIT.ERROR }));
  });
  if (!outcome.ready) {
    process.stderr.write(`curvefs: ${outcome.error}\n`);
    process.exit(outcome.code || EXIT.ERROR);
  }
  child.unref();
  child.disconnect();
  process.stdout.write(`mounted at ${dir} (daemon pid ${outcome.pid}, log ${logFile}, pid file ${pidFile})\n`);
  process.exit(EXIT.OK);
}
