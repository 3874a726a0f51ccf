// User and group quotas on a real cluster (an MDS and 3 metaserver processes) through a
// `curvefs mount` process and the CLI: what inodes of a uid or gid use, across the fs, is counted
// as files are written, truncated, chowned, linked and removed; a write, a create or a chown past
// the limit fails with EDQUOT; `quota check --repair` recomputes the usage from a scan. The
// quotas are set before the mount starts (a client reads the quotas when it connects), so no
// wait is needed for the mount to know them; every other wait polls a predicate with a deadline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsService, QuotaKind } from '../../src/gen/mds_pb.ts';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { MountProc, runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { writeUntilRefused } from '../helpers/write-until-refused.ts';

const MiB = 2 ** 20;
/** node has no name for EDQUOT ("Unknown system error -122"): match the number. */
const EDQUOT = { errno: -constants.errno.EDQUOT };
const DEADLINE = 60_000;
const UID = 1000;
const GID = 2000;

let base: string;
let cluster: CurvefsCluster;
let mnt: string;
let mount: MountProc | undefined;

interface QuotaJson {
  kind: string;
  uid?: number;
  gid?: number;
  maxBytes: number;
  maxInodes: number;
  usedBytes: number;
  usedInodes: number;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCurvefs(['--mds', cluster.mdsAddrs.join(','), '--json', ...args]);
}

async function quota(verb: 'get' | 'set', owner: string[], more: string[] = []): Promise<QuotaJson> {
  const r = await cli(['quota', verb, 'u', ...owner, ...more]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as QuotaJson[])[0]!;
}

/** Polls `quota get` until the usage is `bytes`/`inodes` (the mount's deltas come with its refresh). */
function usageBecomes(owner: string[], bytes: number, inodes: number): Promise<QuotaJson> {
  return waitUntil(`quota of ${owner.join(' ')} to show ${bytes} bytes, ${inodes} inodes`, DEADLINE, async () => {
    const q = await quota('get', owner);
    return q.usedBytes === bytes && q.usedInodes === inodes ? q : undefined;
  });
}

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-uquota-'));
  await fsp.chmod(base, 0o755);
  cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
  await cluster.createFs('u');
  const user = await quota('set', ['--uid', String(UID)], ['--bytes', '4MiB', '--inodes', '3']);
  assert.deepEqual([user.kind, user.uid, user.maxBytes, user.maxInodes, user.usedBytes, user.usedInodes], ['user', UID, 4 * MiB, 3, 0, 0]);
  const group = await quota('set', ['--gid', String(GID)], ['--inodes', '2']);
  assert.deepEqual([group.kind, group.gid, group.maxInodes, group.usedInodes], ['group', GID, 2, 0]);
  mnt = join(base, 'mnt');
  await fsp.mkdir(mnt);
  mount = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: 'u', dir: mnt });
});

after(async () => {
  await mount?.stop().catch(() => mount?.kill());
  await cluster?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

test("a user's files count in its quota: writes past the byte limit and a chown past the inode limit fail with EDQUOT", async () => {
  const u = ['--uid', String(UID)];
  const dir = join(mnt, 'home');
  await fsp.mkdir(dir);
  await fsp.chown(dir, UID, UID); // the directory is the user's: 1 inode
  const f = join(dir, 'f');
  await fsp.writeFile(f, '');
  await fsp.chown(f, UID, UID); // 2 inodes
  // Whoever writes, the owner's quota pays: 4 MiB fit exactly, the next byte does not.
  const { written, refused } = await writeUntilRefused(f, 'r+', MiB / 2, 10, 7);
  assert.equal((refused as NodeJS.ErrnoException | undefined)?.errno, EDQUOT.errno, `refused with ${String(refused)}`);
  assert.equal(written, 4 * MiB);
  await assert.rejects(fsp.truncate(f, 4 * MiB + 1), EDQUOT);
  await usageBecomes(u, 4 * MiB, 2);
  // A root-owned file elsewhere is not the user's.
  await fsp.writeFile(join(mnt, 'roots'), Buffer.alloc(MiB));
  await fsp.truncate(f, MiB);
  await usageBecomes(u, MiB, 2);
  // A second name of the same inode is not a second inode.
  await fsp.link(f, join(dir, 'f-link'));
  const g = join(dir, 'g');
  await fsp.writeFile(g, 'x');
  await fsp.chown(g, UID, UID); // 3 inodes: the limit
  const h = join(dir, 'h');
  await fsp.writeFile(h, 'y');
  await assert.rejects(fsp.chown(h, UID, UID), EDQUOT, "a chown past the new owner's limit");
  assert.equal((await fsp.stat(h)).uid, 0, 'the refused chown changed nothing');
  await usageBecomes(u, MiB + 1, 3);
  // Giving away and removing free the user's usage; removing one of two names does not.
  await fsp.chown(g, 0, 0);
  await fsp.unlink(join(dir, 'f-link'));
  await usageBecomes(u, MiB, 2);
  await fsp.chown(h, UID, UID);
  await fsp.unlink(f);
  await usageBecomes(u, 1, 2);
  await fsp.rename(join(mnt, 'roots'), h); // replaces the user's h: its last name
  await usageBecomes(u, 0, 1);
  await fsp.rm(g);
  await fsp.rm(h); // root's since the rename
  await fsp.rmdir(dir);
  await usageBecomes(u, 0, 0);
});

test("creates in a setgid directory count in the group's quota and one past its inode limit fails with EDQUOT", async () => {
  const grp = ['--gid', String(GID)];
  const dir = join(mnt, 'shared');
  await fsp.mkdir(dir);
  await fsp.chown(dir, 0, GID);
  await fsp.chmod(dir, 0o2775); // new names inherit the group
  await fsp.writeFile(join(dir, 'a'), 'a');
  assert.equal((await fsp.stat(join(dir, 'a'))).gid, GID);
  await assert.rejects(fsp.writeFile(join(dir, 'b'), 'b'), EDQUOT);
  await assert.rejects(fsp.mkdir(join(dir, 'c')), EDQUOT);
  assert.deepEqual(await fsp.readdir(dir), ['a'], 'nothing was created');
  await usageBecomes(grp, 1, 2);
  await fsp.chown(join(dir, 'a'), 0, 0);
  await fsp.mkdir(join(dir, 'c'));
  await usageBecomes(grp, 0, 2);
});

test('quota check finds an injected drift of a user quota, --repair puts back what a scan counts; list and delete', async () => {
  const u = ['--uid', String(UID)];
  const dir = join(mnt, 'chk');
  await fsp.mkdir(dir);
  await fsp.writeFile(join(dir, 'x'), Buffer.alloc(5000, 1));
  await fsp.chown(join(dir, 'x'), UID, 0);
  await fsp.link(join(dir, 'x'), join(dir, 'y'));
  await usageBecomes(u, 5000, 1);
  await waitUntil('every quota to agree with the scan', DEADLINE, async () => ((await cli(['quota', 'check', 'u'])).code === 0 ? true : undefined));
  // Drift, as a lost delta would leave it.
  await cluster.mds.client(MdsService).setQuota({ fsName: 'u', quota: { kind: QuotaKind.QUOTA_USER, ownerId: UID, maxBytes: 4 * MiB, maxInodes: 3, usedBytes: 123, usedInodes: 9 }, setUsage: true });
  const found = await cli(['quota', 'check', 'u', ...u]);
  assert.equal(found.code, 1, 'a drift is a failed check');
  const f = (JSON.parse(found.stdout) as { ok: boolean; recorded: { bytes: number }; walked: { bytes: number; inodes: number } }[])[0]!;
  assert.deepEqual([f.ok, f.recorded.bytes, f.walked.bytes, f.walked.inodes], [false, 123, 5000, 1]);
  const fixed = await cli(['quota', 'check', 'u', '--repair']);
  assert.equal(fixed.code, 0, fixed.stderr);
  const q = await quota('get', u);
  assert.deepEqual([q.usedBytes, q.usedInodes], [5000, 1]);
  const list = JSON.parse((await cli(['quota', 'list', 'u'])).stdout) as QuotaJson[];
  assert.deepEqual(list.map((x) => [x.kind, x.uid ?? x.gid]), [['user', UID], ['group', GID]]);
  assert.notEqual((await cli(['quota', 'set', 'u', '/chk', '--uid', '5', '--inodes', '1'])).code, 0, 'a path and an owner are two quotas');
  assert.equal((await cli(['quota', 'delete', 'u', ...u])).code, 0);
  assert.notEqual((await cli(['quota', 'get', 'u', ...u])).code, 0);
});
