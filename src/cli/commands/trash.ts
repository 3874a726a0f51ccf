// `curvefs trash list|restore|purge|retention FS`: the per-fs trash (src/admin/trash.ts,
// docs/operations.md "Trash").
import type { Command } from 'commander';
import { FileType } from '../../gen/common_pb.ts';
import { MdsService } from '../../gen/mds_pb.ts';
import { OptionValueError } from '../../common/index.ts';
import { listTrash, parseDuration, purgeTrash, restoreTarget, restoreTrash, type TrashOutcome } from '../../admin/index.ts';
import { humanBytes, printJson, printTable } from '../output.ts';
import { openMds, type GlobalOptions } from '../context.ts';
import { withAdmin } from './admin-connect.ts';

function inodeIds(values: string[]): number[] {
  return values.map((v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new OptionValueError(`${JSON.stringify(v)} is not an inode id`);
    return n;
  });
}

/** Trash retention in days (fractions allowed) → whole hours. */
export function trashDaysArg(v: string): number {
  const d = Number(v);
  const h = Math.round(d * 24);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !Number.isSafeInteger(h) || (d > 0 && h === 0)) {
    throw new OptionValueError('Expected days of trash retention (0 = no trash; e.g. 1, 7, 0.5 — at least one hour).');
  }
  return h;
}

function report(outcomes: TrashOutcome[], verb: string, json: boolean): void {
  if (json) printJson(outcomes);
  else {
    for (const o of outcomes) {
      process.stdout.write(o.ok ? `${verb} ${o.inodeId}${o.name !== undefined ? ` as ${o.parentInodeId}/${o.name}` : ''}\n` : `not ${verb} ${o.inodeId}: ${o.error}\n`);
    }
  }
  if (outcomes.some((o) => !o.ok)) process.exitCode = 1;
}

export function registerTrashCommands(program: Command, g: () => GlobalOptions): void {
  const trash = program.command('trash').description("an fs's trash: removed files and directories kept for its retention (list, restore, purge)");

  trash
    .command('list')
    .description('names in the trash, oldest first: inode, original parent inode and name, size, when removed')
    .argument('<fs>', 'file system name')
    .action(async (fsName: string) => {
      const items = await withAdmin(g(), fsName, (ctx) => listTrash(ctx.meta));
      if (g().json) return printJson(items);
      printTable(
        ['inode', 'parent', 'name', 'type', 'size', 'removed'],
        items.map((t) => [t.inodeId, t.parentInodeId, t.name, FileType[t.type] ?? t.type, humanBytes(t.length), new Date(t.trashedAtSec * 1000).toISOString()]),
      );
      const bytes = items.reduce((n, t) => n + t.length, 0);
      process.stdout.write(`${items.length} in the trash, ${humanBytes(bytes)} (${bytes} bytes, counted as used)\n`);
    });

  trash
    .command('restore')
    .description('put names back where they were (a trashed parent directory first), or into another directory (refused when the name is taken or the directory is gone)')
    .argument('<fs>', 'file system name')
    .argument('[inodes...]', 'inode ids (from `trash list`)')
    .option('--all', 'every name in the trash')
    .option('--to <dir>', "into this existing directory of the fs (a path) instead; it must be in the inode's partition")
    .option('--name <name>', 'under this name instead of the trashed one (one inode, with --to)')
    .action(async (fsName: string, ids: string[], o: { all?: boolean; to?: string; name?: string }) => {
      if (!o.all && ids.length === 0) throw new OptionValueError('name inode ids, or --all');
      if (o.name !== undefined && (o.to === undefined || o.all || ids.length !== 1)) throw new OptionValueError('--name restores one inode, with --to');
      const named = o.all ? undefined : inodeIds(ids);
      const out = await withAdmin(g(), fsName, async (ctx, conn) => {
        const to = o.to === undefined ? undefined : await restoreTarget(conn.fs, o.to, o.name);
        return restoreTrash(ctx.meta, named ?? (await listTrash(ctx.meta)).map((t) => t.inodeId), to);
      });
      report(out, 'restored', Boolean(g().json));
    });

  trash
    .command('purge')
    .description('empty names from the trash for good (their data is deleted shortly after)')
    .argument('<fs>', 'file system name')
    .argument('[inodes...]', 'inode ids (from `trash list`)')
    .option('--all', 'every name in the trash')
    .option('--older-than <age>', 'only names removed longer ago than this (e.g. 2h, 1d)', parseDuration)
    .action(async (fsName: string, ids: string[], o: { all?: boolean; olderThan?: number }) => {
      if (!o.all && o.olderThan === undefined && ids.length === 0) throw new OptionValueError('name inode ids, --all or --older-than');
      const out = await withAdmin(g(), fsName, async (ctx) => {
        if (ids.length > 0) return purgeTrash(ctx.meta, inodeIds(ids));
        const cutoffSec = (ctx.now() - (o.olderThan ?? 0)) / 1000;
        const pick = (await listTrash(ctx.meta)).filter((t) => t.trashedAtSec <= cutoffSec);
        return purgeTrash(ctx.meta, pick.map((t) => t.inodeId));
      });
      report(out, 'purged', Boolean(g().json));
    });

  trash
    .command('retention')
    .description('show or set how long the fs keeps removed files (days; 0 = no trash)')
    .argument('<fs>', 'file system name')
    .argument('[days]', 'new retention in days (e.g. 1, 7, 0.5; 0 turns the trash off and empties it)')
    .action(async (fsName: string, days: string | undefined) => {
      const mds = await openMds(g());
      try {
        const api = mds.connector.client(MdsService);
        const fs = days === undefined ? (await api.getFsInfo({ fsName })).fsInfo! : (await api.updateFsInfo({ fsName, recycleTimeHour: trashDaysArg(days) })).fsInfo!;
        if (g().json) return printJson({ fs: fsName, trashHours: fs.recycleTimeHour });
        process.stdout.write(fs.recycleTimeHour > 0 ? `${fsName}: removed files stay in the trash for ${fs.recycleTimeHour} h (${+(fs.recycleTimeHour / 24).toFixed(2)} days)\n` : `${fsName}: no trash (removed files are deleted)\n`);
      } finally {
        mds.close();
      }
    });
}
