// Cluster commands: run the processes (mds, metaserver, up), look at them (status), and
// inspect snapshot files.
import type { Command } from 'commander';
import { DEFAULT_DIR, DEFAULT_FS, type GlobalOptions } from '../context.ts';
import { intArg } from '../../common/index.ts';

type Globals = () => GlobalOptions;

export function registerClusterCommands(program: Command, g: Globals): void {
  program
    .command('up')
    .description('run a whole cluster on this machine (MDS + metaservers), create the default fs; Ctrl-C stops it')
    .option('--metaservers <n>', 'metaserver processes', intArg('a count', { min: 1 }), 3)
    .option('--etcd <urls>', 'use these etcd endpoints instead of the embedded store')
    .option('--fs-name <name>', 'default file system', DEFAULT_FS)
    .option('--no-mount', 'do not mount the fs even when FUSE is available')
    .option('--mount-dir <dir>', 'where to mount the default fs (default <dir>/mnt)')
    .option('--fresh-ports', "ports chosen by the OS instead of CurveFS's defaults (several clusters on one machine)")
    .action(async (o: { metaservers: number; etcd?: string; fsName: string; mount: boolean; mountDir?: string; freshPorts?: boolean }) => {
      const { upCommand } = await import('./up-command.ts');
      await upCommand({ ...o, dir: g().dir ?? DEFAULT_DIR });
    });

  program
    .command('mds')
    .description('run an MDS (see `curvefs mds --help`: embedded store in --data-dir, or etcd with --etcd)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { mdsMain } = await import('../../mds/main.ts');
      await mdsMain(args);
    });

  program
    .command('metaserver')
    .description('run a metaserver (see `curvefs metaserver --help`); `curvefs metaserver drain|decommission ID` moves its replicas away (and removes it)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      if (args[0] === 'drain' || args[0] === 'decommission') {
        const { drainCommand, decommissionCommand } = await import('./metaserver-drain.ts');
        return (args[0] === 'drain' ? drainCommand : decommissionCommand)(g(), args.slice(1));
      }
      const { cli } = await import('../../metaserver/main.ts');
      // The top-level program owns --mds; hand it on to the metaserver's own parser.
      const mds = g().mds ? ['--mds', g().mds!] : [];
      await cli(['node', 'curvefs metaserver', ...args, ...mds]);
    });

  program
    .command('status')
    .description('MDS leader and standbys, metaservers, copysets (leader, replicas, lag), file systems')
    .action(async () => {
      const { status } = await import('./status.ts');
      await status(g());
    });

  program
    .command('stats')
    .description('live ops/s, latency, errors, bytes/s, CPU and memory of each mount and metaserver (from their /metrics)')
    .option('--target <host:port...>', 'metrics endpoints to watch (default: the mount and metaservers of the `curvefs up` cluster file)')
    .option('--interval-ms <ms>', 'sampling interval', intArg('milliseconds', { min: 100 }), 1000)
    .option('--once', 'print one interval and exit (with --json: one JSON document)')
    .action(async (o: { target?: string[]; intervalMs: number; once?: boolean }) => {
      const { stats } = await import('./stats.ts');
      await stats(g(), { target: o.target ?? [], intervalMs: o.intervalMs, once: o.once === true });
    });

  program
    .command('inspect')
    .description('check a CURVEFS snapshot file: header, counts, checksum verdict (exit 6: corrupt, 3: missing)')
    .argument('<file>')
    .option('--dump', 'print every entry')
    .action(async (file: string, o: { dump?: boolean }) => {
      const { inspectCommand } = await import('../inspect.ts');
      const code = await inspectCommand(file, { dump: o.dump, json: g().json });
      if (code !== 0) process.exit(code);
    });
}
