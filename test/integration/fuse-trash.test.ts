// The trash on a real cluster (an MDS and 3 metaserver processes) through a `curvefs mount`
// process and the `curvefs trash` CLI (docs/architecture.md §6c, docs/operations.md "Trash"):
// rm → listed in the trash, its bytes still counted → restore → content intact; a name taken
// meanwhile is refused; `rm -rf` of a tree leaves its files and directories in the trash and
// restore puts the tree back (contents, modes; a file's trashed directories first); `restore --to
// DIR` puts a name into another directory; purge and a retention of 0 empty it (directories too)
// and the space and inodes come back.
// Every wait polls a predicate with a deadline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsService, type FsInfo } from '../../src/gen/mds_pb.ts';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { MountProc, runCurvefs } from '../helpers/curvefs-mount-proc.ts';

const DEADLINE = 60_000;
const FS = 'trashy';

let base: string;
let cluster: CurvefsCluster;
let mount: MountProc | undefined;
let dir: string;

interface TrashItem {
  inodeId: number;
  parentInodeId: number;
  name: string;
  length: number;
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCurvefs(['--mds', cluster.mdsAddrs.join(','), ...args]);
}

async function trashList(): Promise<TrashItem[]> {
  const r = await cli('--json', 'trash', 'list', FS);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as TrashItem[];
}

async function info(): Promise<FsInfo> {
  return (await cluster.mds.client(MdsService).getFsInfo({ fsName: FS })).fsInfo!;
}

/** Bytes of the regular files reachable in the mount. */
async function namedBytes(d: string): Promise<number> {
  let n = 0;
  for (const e of await fsp.readdir(d, { withFileTypes: true })) {
    if (e.isDirectory()) n += await namedBytes(join(d, e.name));
    else if (e.isFile()) n += (await fsp.stat(join(d, e.name))).size;
  }
  return n;
}

/** Waits until the fs's used bytes are `want()`: what the partitions report is exact. */
async function usageIs(what: string, want: () => Promise<number>): Promise<number> {
  return waitUntil(what, DEADLINE, async () => {
    const f = await info();
    const w = await want();
    return f.usageComplete && f.usedBytes === w ? w : undefined;
  });
}

const content = (n: number, seed: number) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff));

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-trash-'));
  await fsp.chmod(base, 0o755);
  // Reclaim 1 s after the last link goes; the trash's expiry pass every 200 ms.
  cluster = await CurvefsCluster.start({
    dir: join(base, 'cluster'),
    metaserverArgs: () => ['--reclaim-grace-sec', '1', '--reclaim-interval-ms', '200', '--trash-interval-ms', '200'],
  });
  await cluster.createFs(FS, { trashHours: 24 });
  dir = join(base, 'mnt');
  await fsp.mkdir(dir);
  mount = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: FS, dir });
});

after(async () => {
  await mount?.stop().catch(() => mount?.kill());
  await cluster?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

test('rm puts a file in the trash (space still counted); restore brings it back intact; a taken name is refused', async () => {
  const data = content(3 * 2 ** 20 + 17, 5);
  await fsp.mkdir(join(dir, 'docs'));
  await fsp.writeFile(join(dir, 'docs', 'report'), data);
  const used = await waitUntil('usage to show the file', DEADLINE, async () => {
    const f = await info();
    return f.usageComplete && f.usedBytes === data.length ? f.usedBytes : undefined;
  });
  await fsp.rm(join(dir, 'docs', 'report'));
  await assert.rejects(fsp.stat(join(dir, 'docs', 'report')), { code: 'ENOENT' });
  assert.deepEqual(await fsp.readdir(join(dir, 'docs')), []);
  assert.deepEqual(await fsp.readdir(dir), ['docs'], 'the trash is not a name in the namespace');

  const listed = await trashList();
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.name, 'report');
  assert.equal(listed[0]!.length, data.length);
  const human = await cli('trash', 'list', FS);
  assert.match(human.stdout, /report/);
  assert.match(human.stdout, /1 in the trash/);

  // The space in the trash stays counted; nothing is reclaimed (the reclaimer runs every 200 ms).
  const f = await info();
  assert.equal(f.usedBytes, used);

  // Someone made a new "report": restore refuses and says why; nothing changes.
  await fsp.writeFile(join(dir, 'docs', 'report'), 'newer');
  const refused = await cli('trash', 'restore', FS, String(listed[0]!.inodeId));
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /already exists/);
  assert.equal((await trashList()).length, 1);
  await fsp.rename(join(dir, 'docs', 'report'), join(dir, 'docs', 'report.new'));

  const ok = await cli('trash', 'restore', FS, String(listed[0]!.inodeId));
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /restored/);
  assert.deepEqual(await fsp.readFile(join(dir, 'docs', 'report')), data);
  assert.deepEqual(await trashList(), []);
});

test('rm -rf of a tree: files and directories wait in the trash; restore puts the tree back (contents, modes); --to; purge frees the space', async () => {
  const tree = join(dir, 'tree');
  await fsp.mkdir(join(tree, 'a', 'b'), { recursive: true });
  const sizes = [1000, 2000, 3000];
  const files = [join(tree, 'top'), join(tree, 'a', 'mid'), join(tree, 'a', 'b', 'deep')];
  for (const [k, f] of files.entries()) await fsp.writeFile(f, content(sizes[k]!, k + 1));
  const modes = new Map([[tree, 0o755], [join(tree, 'a'), 0o750], [join(tree, 'a', 'b'), 0o700], [files[0]!, 0o640], [files[1]!, 0o600], [files[2]!, 0o444]]);
  for (const [path, mode] of modes) await fsp.chmod(path, mode);
  const trashBytes = async () => (await trashList()).reduce((a, t) => a + t.length, 0);
  const before = await usageIs('usage to show the tree', async () => (await namedBytes(dir)) + (await trashBytes()));
  const inodesBefore = (await info()).usedInodes;
  await fsp.rm(tree, { recursive: true });
  await assert.rejects(fsp.stat(tree), { code: 'ENOENT' });
  const items = await trashList();
  assert.deepEqual(items.map((t) => t.name).sort(), ['a', 'b', 'deep', 'mid', 'top', 'tree'], 'the directories are in the trash too');
  assert.equal((await info()).usedBytes, before, 'the trashed tree is still counted');
  assert.equal((await info()).usedInodes, inodesBefore, 'and its inodes');
  // fsck sees the trash's links as backed and its directories as reachable, not as orphans.
  const check = await cli('--json', 'fsck', FS);
  assert.equal(check.code, 0, check.stdout + check.stderr);

  // One file back in place: its trashed directories go back first (outermost first).
  const deep = items.find((t) => t.name === 'deep')!;
  const one = await cli('trash', 'restore', FS, String(deep.inodeId));
  assert.equal(one.code, 0, one.stdout + one.stderr);
  assert.deepEqual(await fsp.readFile(files[2]!), content(sizes[2]!, 3));
  assert.deepEqual((await trashList()).map((t) => t.name).sort(), ['mid', 'top']);
  const all = await cli('trash', 'restore', FS, '--all');
  assert.equal(all.code, 0, all.stdout + all.stderr);
  assert.deepEqual(await trashList(), []);
  for (const [k, f] of files.entries()) assert.deepEqual(await fsp.readFile(f), content(sizes[k]!, k + 1));
  for (const [path, mode] of modes) assert.equal((await fsp.stat(path)).mode & 0o7777, mode, path);
  // The restored directories take entries again.
  await fsp.writeFile(join(tree, 'a', 'b', 'new'), 'x');
  await fsp.rm(join(tree, 'a', 'b', 'new'));
  await fsp.rm(tree, { recursive: true });

  // --to DIR puts a name into an existing directory instead. Refused, changing nothing, when DIR
  // is missing or not a directory, or the name is taken there.
  const inTrash = await trashList(); // the tree, and the 'new' file made and removed above
  const top = inTrash.find((t) => t.name === 'top')!;
  const missing = await cli('trash', 'restore', FS, String(top.inodeId), '--to', '/saved');
  assert.equal(missing.code, 3, missing.stdout + missing.stderr); // the CLI's "not found"
  assert.match(missing.stderr, /\/saved/);
  await fsp.mkdir(join(dir, 'saved'));
  await fsp.writeFile(join(dir, 'saved', 'top'), 'in the way');
  const notDir = await cli('trash', 'restore', FS, String(top.inodeId), '--to', '/saved/top');
  assert.equal(notDir.code, 6, notDir.stdout + notDir.stderr); // the CLI's "invalid input"
  assert.match(notDir.stderr, /not a directory/);
  const taken = await cli('trash', 'restore', FS, String(top.inodeId), '--to', '/saved');
  assert.equal(taken.code, 1);
  assert.match(taken.stdout, /^not restored \d+: (DENTRY_EXIST: inode \d+: "top" already exists|CROSS_DEVICE)/);
  assert.deepEqual(await trashList(), inTrash, 'the refusals changed nothing');
  await fsp.rm(join(dir, 'saved'), { recursive: true });

  const purged = await cli('trash', 'purge', FS, '--all');
  assert.equal(purged.code, 0, purged.stdout + purged.stderr);
  assert.deepEqual(await trashList(), []);
  // Space in the trash was counted until the purge; the reclaimer then gives it back, and the
  // directories' inodes too.
  await usageIs('the purged bytes to be reclaimed', async () => before - sizes.reduce((a, b) => a + b, 0));
  await waitUntil('the purged inodes to be reclaimed', DEADLINE, async () => ((await info()).usedInodes === inodesBefore - modes.size ? true : undefined));
});

test('retention 0 turns the trash off: the expiry pass empties it and rm deletes again', async () => {
  const inodesBefore = await waitUntil('a complete usage report', DEADLINE, async () => {
    const f = await info();
    return f.usageComplete ? f.usedInodes : undefined;
  });
  await fsp.writeFile(join(dir, 'last'), content(4096, 9));
  await fsp.mkdir(join(dir, 'gone', 'sub'), { recursive: true });
  await fsp.writeFile(join(dir, 'gone', 'sub', 'f'), 'y');
  await waitUntil('usage to count the 4 new inodes', DEADLINE, async () => ((await info()).usedInodes === inodesBefore + 4 ? true : undefined));
  await fsp.rm(join(dir, 'last'));
  await fsp.rm(join(dir, 'gone'), { recursive: true });
  assert.deepEqual((await trashList()).map((t) => t.name).sort(), ['f', 'gone', 'last', 'sub']);
  const set = await cli('trash', 'retention', FS, '0');
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /no trash/);
  assert.equal((await info()).recycleTimeHour, 0);
  // The metaservers see the new retention within their cache period, then the pass purges.
  await waitUntil('the expiry pass to empty the trash', DEADLINE, async () => ((await trashList()).length === 0 ? true : undefined));
  // Expired directories are removed like the files: every inode is reclaimed.
  await waitUntil('the expired inodes to be reclaimed', DEADLINE, async () => ((await info()).usedInodes === inodesBefore ? true : undefined));
  const check = await cli('--json', 'fsck', FS);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  await fsp.writeFile(join(dir, 'after'), 'x');
  await fsp.rm(join(dir, 'after'));
  assert.deepEqual(await trashList(), []);
  const shown = await cli('trash', 'retention', FS);
  assert.match(shown.stdout, /no trash/);
  // A bad retention is refused precisely and changes nothing.
  const bad = await cli('trash', 'retention', FS, 'soon');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Expected days of trash retention/);
  const tooLong = await cluster.mds.client(MdsService).updateFsInfo({ fsName: FS, recycleTimeHour: 10 ** 6 }).then(
    () => 'accepted',
    (e: unknown) => String(e),
  );
  assert.match(tooLong, /trash retention 1000000 h must be/);
  assert.equal((await info()).recycleTimeHour, 0);
});
