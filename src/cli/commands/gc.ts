// `curvefs gc FS [--delete] [--min-age 1h] [--json]`: objects no inode references (src/admin/gc.ts).
import type { Command } from 'commander';
import { DEFAULT_GC_MIN_AGE_MS, gc, parseDuration } from '../../admin/index.ts';
import { humanBytes, printJson } from '../output.ts';
import type { GlobalOptions } from '../context.ts';
import { withAdmin } from './admin-connect.ts';

export function registerGcCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('gc')
    .description('find objects in the block store that no inode references; --delete removes them')
    .argument('<fs>', 'file system name')
    .option('--delete', 'delete them (without it, only list)')
    .option('--min-age <age>', 'keep objects younger than this (an upload may be in progress)', parseDuration, DEFAULT_GC_MIN_AGE_MS)
    .action(async (fsName: string, o: { delete?: boolean; minAge: number }) => {
      const r = await withAdmin(g(), fsName, (ctx) => gc(ctx, { delete: Boolean(o.delete), minAgeMs: o.minAge }));
      if (g().json) return printJson({ fs: fsName, ...r });
      const out = (s: string) => process.stdout.write(s + '\n');
      for (const x of r.garbage) out(`${x.deleted ? 'deleted' : 'garbage'} ${x.key} ${x.size} bytes, ${Math.round(x.ageMs / 1000)} s old`);
      for (const k of r.foreign) out(`foreign ${k} (not a data object key; left alone)`);
      const bytes = r.garbage.reduce((n, x) => n + x.size, 0);
      out(`gc ${fsName}: ${r.objects} objects, ${r.inodes} inodes; ${r.garbage.length} unreferenced (${humanBytes(bytes)})${o.delete ? `, ${humanBytes(r.bytesFreed)} freed` : ' (--delete to remove)'}; ${r.young} younger than the age bound kept`);
    });
}
