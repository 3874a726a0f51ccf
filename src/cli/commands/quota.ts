// `curvefs quota set|get|list|delete|check FS ...`: directory quotas (docs/operations.md
// "Directory quotas"). The MDS keeps each quota's limits and usage (src/mds/quota.ts); clients
// keep the usage current and refuse past a limit (src/vfs/quota.ts); `check` adds the tree up
// again and, with --repair, sets the usage to what it found.
import type { Command } from 'commander';
import { MdsService, type Quota } from '../../gen/mds_pb.ts';
import { CurveError, OptionValueError, StatusCode } from '../../common/index.ts';
import { treeUsage } from '../../vfs/index.ts';
import type { Connection } from '../../client/index.ts';
import { humanBytes, printJson, printTable } from '../output.ts';
import type { GlobalOptions, MdsSession } from '../context.ts';
import { withAdmin } from './admin-connect.ts';
import { parseSize } from './fs-admin.ts';

function countArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new OptionValueError('Expected a whole number (0 = no limit).');
  return n;
}

function quotaJson(q: Quota) {
  return { inode: q.dirInodeId, path: q.path, maxBytes: q.maxBytes, maxInodes: q.maxInodes, usedBytes: q.usedBytes, usedInodes: q.usedInodes };
}

function printQuotas(qs: Quota[], json: boolean): void {
  if (json) return printJson(qs.map(quotaJson));
  printTable(
    ['path', 'inode', 'size', 'used', 'inodes', 'iused'],
    qs.map((q) => [q.path, q.dirInodeId, q.maxBytes ? humanBytes(q.maxBytes) : 'unlimited', `${humanBytes(q.usedBytes)} (${q.usedBytes})`, q.maxInodes || 'unlimited', q.usedInodes]),
  );
}

/** The directory inode of `path` (NOT_DIRECTORY when it is something else). */
async function dirInode(conn: Connection, path: string): Promise<number> {
  const st = await conn.fs.stat(path);
  if (!st.isDirectory()) throw new CurveError(StatusCode.NOT_DIRECTORY, `${path} is not a directory`);
  return st.ino;
}

function mdsOf(mds: MdsSession) {
  return mds.connector.client(MdsService);
}

export interface QuotaFinding {
  path: string;
  inode: number;
  recorded: { bytes: number; inodes: number };
  walked: { bytes: number; inodes: number };
  ok: boolean;
  repaired: boolean;
}

export function registerQuotaCommands(program: Command, g: () => GlobalOptions): void {
  const quota = program.command('quota').description('directory quotas: limits on the bytes and inodes of a tree (set, get, list, delete, check)');

  quota
    .command('set')
    .description('set (or change) the limits of a directory; a new quota starts from a walk of the tree')
    .argument('<fs>', 'file system name')
    .argument('<path>', 'directory in the fs')
    .option('--bytes <size>', 'byte limit (sum of file lengths; 0 = none)', parseSize)
    .option('--inodes <n>', 'inode limit (names under the directory; 0 = none)', countArg)
    .action(async (fsName: string, path: string, o: { bytes?: number; inodes?: number }) => {
      if (o.bytes === undefined && o.inodes === undefined) throw new OptionValueError('give --bytes and/or --inodes');
      const q = await withAdmin(g(), fsName, async (_ctx, conn, mds) => {
        const ino = await dirInode(conn, path);
        const api = mdsOf(mds);
        const old = await api.getQuota({ fsName, dirInodeId: ino }).then((r) => r.quota, (e: unknown) => {
          if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
          throw e;
        });
        const limits = { dirInodeId: ino, path, maxBytes: o.bytes ?? old?.maxBytes ?? 0, maxInodes: o.inodes ?? old?.maxInodes ?? 0 };
        if (old) return (await api.setQuota({ fsName, quota: limits, setUsage: false })).quota!;
        const u = await treeUsage(conn.core, ino);
        return (await api.setQuota({ fsName, quota: { ...limits, usedBytes: u.bytes, usedInodes: u.inodes }, setUsage: true })).quota!;
      });
      printQuotas([q], Boolean(g().json));
    });

  quota
    .command('get')
    .description("a directory's quota: limits and usage")
    .argument('<fs>', 'file system name')
    .argument('<path>', 'directory in the fs')
    .action(async (fsName: string, path: string) => {
      const q = await withAdmin(g(), fsName, async (_ctx, conn, mds) => (await mdsOf(mds).getQuota({ fsName, dirInodeId: await dirInode(conn, path) })).quota!);
      printQuotas([q], Boolean(g().json));
    });

  quota
    .command('list')
    .description('every quota of the fs')
    .argument('<fs>', 'file system name')
    .action(async (fsName: string) => {
      const qs = await withAdmin(g(), fsName, async (_ctx, _conn, mds) => (await mdsOf(mds).listQuota({ fsName })).quotas);
      printQuotas(qs, Boolean(g().json));
    });

  quota
    .command('delete')
    .description("remove a directory's quota (the tree is not touched)")
    .argument('<fs>', 'file system name')
    .argument('<path>', 'directory in the fs')
    .action(async (fsName: string, path: string) => {
      await withAdmin(g(), fsName, async (_ctx, conn, mds) => mdsOf(mds).deleteQuota({ fsName, dirInodeId: await dirInode(conn, path) }));
      if (!g().json) process.stdout.write(`deleted the quota of ${path}\n`);
    });

  quota
    .command('check')
    .description('add up the tree of each quota (or of PATH) and compare with its recorded usage; --repair sets the usage found')
    .argument('<fs>', 'file system name')
    .argument('[path]', 'only the quota of this directory')
    .option('--repair', 'set the recorded usage to what the walk found')
    .action(async (fsName: string, path: string | undefined, o: { repair?: boolean }) => {
      const findings = await withAdmin(g(), fsName, async (_ctx, conn, mds) => {
        const api = mdsOf(mds);
        const qs = path === undefined ? (await api.listQuota({ fsName })).quotas : [(await api.getQuota({ fsName, dirInodeId: await dirInode(conn, path) })).quota!];
        const out: QuotaFinding[] = [];
        for (const q of qs) {
          // The clients' deltas still unsent reach the MDS within a refresh period: a drift
          // that small right after writes is not yet one (docs/operations.md).
          const walked = await treeUsage(conn.core, q.dirInodeId);
          const ok = walked.bytes === q.usedBytes && walked.inodes === q.usedInodes;
          if (!ok && o.repair) await api.setQuota({ fsName, quota: { ...q, usedBytes: walked.bytes, usedInodes: walked.inodes }, setUsage: true });
          out.push({ path: q.path, inode: q.dirInodeId, recorded: { bytes: q.usedBytes, inodes: q.usedInodes }, walked, ok, repaired: !ok && Boolean(o.repair) });
        }
        return out;
      });
      if (g().json) printJson(findings);
      else {
        for (const f of findings) {
          const what = `${f.path} (inode ${f.inode}): recorded ${f.recorded.bytes} bytes ${f.recorded.inodes} inodes, tree ${f.walked.bytes} bytes ${f.walked.inodes} inodes`;
          process.stdout.write(`${f.ok ? 'ok' : f.repaired ? 'repaired' : 'DRIFT'} ${what}\n`);
        }
      }
      if (findings.some((f) => !f.ok && !f.repaired)) process.exitCode = 1;
    });
}
