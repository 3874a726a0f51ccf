// The `curvefs` command. Each subcommand lives in commands/; heavy modules load only when their
// command runs, so `curvefs --help` and scripts stay quick.
import { Command, CommanderError } from 'commander';
import { EXIT_HELP, commanderExitCode, errorFormat, fail, handleBrokenPipes, reportError } from './output.ts';
import { useCredential, type GlobalOptions } from './context.ts';
import { registerFileCommands } from './commands/files.ts';
import { registerFsCommands } from './commands/fs-admin.ts';
import { registerClusterCommands } from './commands/cluster.ts';
import { registerMountCommands } from './commands/mount.ts';
import { registerAuthCommands } from './commands/auth.ts';
import { registerCertsCommand } from './commands/certs.ts';
import { registerFsckCommand } from './commands/fsck.ts';
import { registerGcCommand } from './commands/gc.ts';
import { registerCloneCommand } from './commands/clone.ts';
import { registerTrashCommands } from './commands/trash.ts';
import { registerQuotaCommands } from './commands/quota.ts';
import { registerDumpCommand } from './commands/dump.ts';
import { registerLoadCommand } from './commands/load.ts';
import { registerBenchCommand } from './commands/bench.ts';
import { versionLine } from './version.ts';
import { callerIdentity, parseIdentity, processIdentity } from './identity.ts';

handleBrokenPipes();
// Known before parsing, so that even a usage error comes out as JSON for a script.
errorFormat.json = process.argv.slice(2).includes('--json');

const program = new Command();
program
  .name('curvefs')
  .description('curvefs-ts: a POSIX distributed file system (CurveFS design) — cluster, file systems, files, mounts')
  .version(versionLine(), '-V, --version', 'print the version and exit')
  .option('--mds <addrs>', 'MDS addresses, comma separated (default: $CURVEFS_MDS, the cluster file of `curvefs up`, or 127.0.0.1:6700)')
  .option('--fs <name>', 'file system for file commands (default: $CURVEFS_FS or "curvefs")')
  .option('--dir <dir>', 'cluster directory of `curvefs up` (default .curvefs)')
  .option('--json', 'machine-readable output (errors too)')
  .option('--token-file <file>', 'credential for the cluster (default: $CURVEFS_TOKEN_FILE, or the admin token `curvefs up` wrote)')
  .option('--as <uid:gid[:groups]>', 'act as this user in file commands (root only; default: the invoking user, whose permissions are checked)', parseIdentity)
  .addHelpText('after', `\n${EXIT_HELP}`)
  // A hint, not the whole help: the error line is what the user needs to see.
  .showHelpAfterError(errorFormat.json ? false : '(see `curvefs help [command]`)')
  .configureOutput({
    // Under --json, usage errors are reported by the exit handler below, as JSON.
    outputError: (str, write) => {
      if (!errorFormat.json) write(str);
    },
  })
  .exitOverride((err: CommanderError) => {
    const code = commanderExitCode(err);
    if (errorFormat.json && code !== 0) reportError(err.message.replace(/^error: /, ''), 'usage', code);
    process.exit(code);
  });

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
// Before any command opens a connection: which token its pools present.
// A non-root --as for someone else is refused before anything runs, whichever the command.
program.hook('preAction', () => {
  callerIdentity(globals().as, processIdentity());
  useCredential(globals());
});

registerClusterCommands(program, globals);
registerFsCommands(program, globals);
registerFileCommands(program, globals);
registerMountCommands(program, globals);
registerAuthCommands(program);
registerCertsCommand(program);
registerFsckCommand(program, globals);
registerGcCommand(program, globals);
registerCloneCommand(program, globals);
registerTrashCommands(program, globals);
registerQuotaCommands(program, globals);
registerDumpCommand(program, globals);
registerLoadCommand(program, globals);
registerBenchCommand(program, globals);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  fail(e);
}
