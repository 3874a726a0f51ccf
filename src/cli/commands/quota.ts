// `curvefs quota set|get|list|delete|check FS ...`: directory quotas (FS PATH) and user and
// group quotas (FS --uid N | --gid N) (docs/operations.md "Directory quotas", "User and group
// quotas"). The MDS keeps each quota's limits and usage (src/mds/quota.ts); clients keep the
// usage current and refuse past a limit (src/vfs/quota.ts); `check` adds the tree (for a user
// or group: the whole fs) up again and, with --repair, sets the usage to what it found.
import type { Command } from 'commander';
import { MdsService, QuotaKind, type Quota } from '../../gen/mds_pb.ts';
import { CurveError, OptionValueError, quotaId, quotaLabel, StatusCode, type QuotaTarget } from '../../common/index.ts';
import { ownerUsage, treeUsage, type Usage } from '../../vfs/index.ts';
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

const KIND_NAME: Record<QuotaKind, string> = { [QuotaKind.QUOTA_DIRECTORY]: 'dir', [QuotaKind.QUOTA_USER]: 'user', [QuotaKind.QUOTA_GROUP]: 'group' };

function quotaJson(q: Quota) {
  const owner = q.kind === QuotaKind.QUOTA_USER ? { uid: q.ownerId } : q.kind === QuotaKind.QUOTA_GROUP ? { gid: q.ownerId } : { inode: q.dirInodeId, path: q.path };
  return { kind: KIND_NAME[q.kind], ...owner, maxBytes: q.maxBytes, maxInodes: q.maxInodes, usedBytes: q.usedBytes, usedInodes: q.usedInodes };
}

function printQuotas(qs: Quota[], json: boolean): void {
  if (json) return printJson(qs.map(quotaJson));
  printTable(
    ['quota', 'inode', 'size', 'used', 'inodes', 'iused'],
    qs.map((q) => [quotaLabel(q), q.kind === QuotaKind.QUOTA_DIRECTORY ? q.dirInodeId : '-', q.maxBytes ? humanBytes(q.maxBytes) : 'unlimited', `${humanBytes(q.usedBytes)} (${q.usedBytes})`, q.maxInodes || 'unlimited', q.usedInodes]),
  );
}

/** --uid / --gid: the owner a user or group quota is of. */
interface OwnerOptions {
  uid?: number;
  gid?: number;
}

/** Which quota PATH / --uid / --gid name (exactly one of them). */
async function targetOf(conn: Connection, path: string | undefined, o: OwnerOptions): Promise<QuotaTarget & { path: string }> {
  const given = [path !== undefined, o.uid !== undefined, o.gid !== undefined].filter(Boolean).length;
  if (given !== 1) throw new OptionValueError('name one quota: a directory PATH, --uid N or --gid N');
  if (o.uid !== undefined) return { kind: QuotaKind.QUOTA_USER, dirInodeId: 0, ownerId: o.uid, path: '' };
  if (o.gid !== undefined) return { kind: QuotaKind.QUOTA_GROUP, dirInodeId: 0, ownerId: o.gid, path: '' };
  return { kind: QuotaKind.QUOTA_DIRECTORY, dirInodeId: await dirInode(conn, path!), ownerId: 0, path: path! };
}

function withOwnerOptions(c: Command): Command {
  return c.option('--uid <n>', "a user's quota (what inodes of that uid use, across the fs)", countArg).option('--gid <n>', "a group's quota (what inodes of that gid use, across the fs)", countArg);
}

/** The usage a walk finds for quota `t`: its tree, or for a user or group what it owns in the fs (walked once, on first need). */
function walker(conn: Connection): (t: QuotaTarget) => Promise<Usage> {
  let owners: Promise<Map<string, Usage>> | undefined;
  return async (t) => {
    if (t.kind === QuotaKind.QUOTA_DIRECTORY) return treeUsage(conn.core, t.dirInodeId);
    owners ??= ownerUsage(conn.core);
    return (await owners).get(quotaId(t)) ?? { bytes: 0, inodes: 0 };
  };
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
  const quota = program.command('quota').description('quotas: limits on the bytes and inodes of a tree (FS PATH) or of what a user or group owns (FS --uid N | --gid N)');

  withOwnerOptions(
    quota
      .command('set')
      .description('set (or change) the limits of a directory, user or group; a new quota starts from a walk of the tree (of the whole fs for a user or group)')
      .argument('<fs>', 'file system name')
      .argument('[path]', 'directory in the fs (or --uid / --gid)'),
  )
    .option('--bytes <size>', 'byte limit (sum of file lengths; 0 = none)', parseSize)
    .option('--inodes <n>', 'inode limit (names under the directory, or inodes owned; 0 = none)', countArg)
    .action(async (fsName: string, path: string | undefined, o: OwnerOptions & { bytes?: number; inodes?: number }) => {
      if (o.bytes === undefined && o.inodes === undefined) throw new OptionValueError('give --bytes and/or --inodes');
      const q = await withAdmin(g(), fsName, async (_ctx, conn, mds) => {
        const t = await targetOf(conn, path, o);
        const api = mdsOf(mds);
        const old = await api.getQuota({ fsName, ...t }).then((r) => r.quota, (e: unknown) => {
          if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
          throw e;
        });
        const limits = { ...t, maxBytes: o.bytes ?? old?.maxBytes ?? 0, maxInodes: o.inodes ?? old?.maxInodes ?? 0 };
        if (old) return (await api.setQuota({ fsName, quota: limits, setUsage: false })).quota!;
        const u = await walker(conn)(t);
        return (await api.setQuota({ fsName, quota: { ...limits, usedBytes: u.bytes, usedInodes: u.inodes }, setUsage: true })).quota!;
      });
      printQuotas([q], Boolean(g().json));
    });

  withOwnerOptions(
    quota
      .command('get')
      .description("a directory's, user's or group's quota: limits and usage")
      .argument('<fs>', 'file system name')
      .argument('[path]', 'directory in the fs (or --uid / --gid)'),
  ).action(async (fsName: string, path: string | undefined, o: OwnerOptions) => {
    const q = await withAdmin(g(), fsName, async (_ctx, conn, mds) => (await mdsOf(mds).getQuota({ fsName, ...(await targetOf(conn, path, o)) })).quota!);
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

  withOwnerOptions(
    quota
      .command('delete')
      .description("remove a directory's, user's or group's quota (no file is touched)")
      .argument('<fs>', 'file system name')
      .argument('[path]', 'directory in the fs (or --uid / --gid)'),
  ).action(async (fsName: string, path: string | undefined, o: OwnerOptions) => {
    const t = await withAdmin(g(), fsName, async (_ctx, conn, mds) => {
      const target = await targetOf(conn, path, o);
      await mdsOf(mds).deleteQuota({ fsName, ...target });
      return target;
    });
    if (!g().json) process.stdout.write(`deleted the quota of ${quotaLabel(t)}\n`);
  });

  withOwnerOptions(
    quota
      .command('check')
      .description('add up the tree of each quota (or of PATH; for a user or group the whole fs) and compare with its recorded usage; --repair sets the usage found')
      .argument('<fs>', 'file system name')
      .argument('[path]', 'only the quota of this directory'),
  )
    .option('--repair', 'set the recorded usage to what the walk found')
    .action(async (fsName: string, path: string | undefined, o: OwnerOptions & { repair?: boolean }) => {
      const findings = await withAdmin(g(), fsName, async (_ctx, conn, mds) => {
        const api = mdsOf(mds);
        const one = path !== undefined || o.uid !== undefined || o.gid !== undefined;
        const qs = one ? [(await api.getQuota({ fsName, ...(await targetOf(conn, path, o)) })).quota!] : (await api.listQuota({ fsName })).quotas;
        const walk = walker(conn);
        const out: QuotaFinding[] = [];
        for (const q of qs) {
          // The clients' deltas still unsent reach the MDS within a refresh period: a drift
          // that small right after writes is not yet one (docs/operations.md).
          const walked = await walk(q);
          const ok = walked.bytes === q.usedBytes && walked.inodes === q.usedInodes;
          if (!ok && o.repair) await api.setQuota({ fsName, quota: { ...q, usedBytes: walked.bytes, usedInodes: walked.inodes }, setUsage: true });
          out.push({ path: quotaLabel(q), inode: q.dirInodeId, recorded: { bytes: q.usedBytes, inodes: q.usedInodes }, walked, ok, repaired: !ok && Boolean(o.repair) });
        }
        return out;
      });
      if (g().json) printJson(findings);
      else {
        for (const f of findings) {
          const what = `${f.path}${f.inode ? ` (inode ${f.inode})` : ''}: recorded ${f.recorded.bytes} bytes ${f.recorded.inodes} inodes, tree ${f.walked.bytes} bytes ${f.walked.inodes} inodes`;
          process.stdout.write(`${f.ok ? 'ok' : f.repaired ? 'repaired' : 'DRIFT'} ${what}\n`);
        }
      }
      if (findings.some((f) => !f.ok && !f.repaired)) process.exitCode = 1;
    });
}
