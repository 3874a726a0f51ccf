// `curvefs fsck FS [--repair] [--min-age 1h] [--json]`: src/admin/fsck.ts. Exit 0 when nothing
// is left to fix (clean, or every finding repaired), 1 when findings remain.
import type { Command } from 'commander';
import { DEFAULT_GC_MIN_AGE_MS, fsck, parseDuration } from '../../admin/index.ts';
import { printJson } from '../output.ts';
import type { GlobalOptions } from '../context.ts';
import { withAdmin } from './admin-connect.ts';

export function registerFsckCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('fsck')
    .description('check a file system\'s metadata and block store; --repair fixes what it can')
    .argument('<fs>', 'file system name')
    .option('--repair', 'repair what can be repaired (a report says what was done)')
    .option('--min-age <age>', 'unreferenced objects younger than this are kept (an upload may be in progress)', parseDuration, DEFAULT_GC_MIN_AGE_MS)
    .action(async (fsName: string, o: { repair?: boolean; minAge: number }) => {
      const report = await withAdmin(g(), fsName, (ctx) => fsck(ctx, { repair: Boolean(o.repair), minAgeMs: o.minAge }));
      const left = report.findings.filter((f) => !f.repaired).length;
      if (g().json) printJson({ fs: fsName, ...report, clean: left === 0 });
      else {
        const out = (s: string) => process.stdout.write(s + '\n');
        out(`fsck ${fsName}: ${report.inodes} inodes, ${report.dentries} names, ${report.objects} objects, ${report.partitions} partitions`);
        for (const f of report.findings) out(`${f.repaired ? 'REPAIRED' : 'FOUND   '} ${f.kind}: ${f.message}${f.repair ? ` — ${f.repair}` : ''}`);
        if (report.dropped > 0) out(`${report.dropped} suspect(s) of the scan were in flight and are fine on a second look`);
        out(report.findings.length === 0 ? 'clean' : `${report.findings.length} finding(s), ${left} not repaired`);
      }
      if (left > 0) process.exitCode = 1;
    });
}
