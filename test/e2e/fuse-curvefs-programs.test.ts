// Real programs on a curvefs mount of a real cluster (an MDS and 3 metaservers; `curvefs mount`
// in its own process): git, tar, cp -a, make + gcc, SQLite with locking; two mounts of one fs
// (close-to-open visibility, locks that conflict across mounts); git completing across a kill -9
// of a metaserver leader. Every tool must be installed: a missing one fails the test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdsAdapter } from '../../src/client/index.ts';
import { CurvefsCluster, waitUntil } from '../helpers/curvefs-cluster.ts';
import { MountProc } from '../helpers/curvefs-mount-proc.ts';
import { diffTrees, snapshotTree, type TreeEntry } from '../helpers/fsdiff.ts';
import { run, sh } from '../helpers/fuse.ts';

const TOOLS = ['git', 'tar', 'cp', 'make', 'gcc', 'sqlite3', 'python3', 'flock'];

/** A source tree on the local disk with hard links, symlinks, odd modes and owners, a sparse file. */
async function makeSourceTree(root: string): Promise<void> {
  await sh(
    [
      `mkdir -p ${root}/src/sub/deep ${root}/src/empty`,
      `printf 'hello\\n' > ${root}/src/a.txt`,
      `head -c 3000000 /dev/urandom > ${root}/src/sub/big.bin`,
      `ln ${root}/src/a.txt ${root}/src/sub/a-hardlink`,
      `ln -s ../a.txt ${root}/src/sub/a-symlink`,
      `ln -s deep ${root}/src/sub/dirlink`,
      `ln -s nowhere ${root}/src/dangling`,
      `printf 'x' > ${root}/src/sub/deep/x && chmod 0640 ${root}/src/sub/deep/x`,
      `printf '#!/bin/sh\\necho run\\n' > ${root}/src/script.sh && chmod 0755 ${root}/src/script.sh`,
      `chmod 2775 ${root}/src/sub`,
      `chown 1000:1000 ${root}/src/sub/deep/x`,
      `truncate -s 5M ${root}/src/sparse`,
      `for i in $(seq 1 40); do printf "file $i\\n" > ${root}/src/sub/f$i; done`,
    ].join(' && '),
  );
}

/** The tree without the root directory itself (a copy may give it other attributes). */
function comparable(t: TreeEntry[]): TreeEntry[] {
  return t.filter((e) => e.path !== '');
}

function git(repo: string, args: string): Promise<string> {
  return sh(`cd ${repo} && git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main -c safe.directory='*' -c gc.auto=0 ${args}`);
}

describe('real programs on a curvefs mount', () => {
  let base: string;
  let work: string;
  let cluster: CurvefsCluster | undefined;
  let m1: MountProc | undefined;
  let m2: MountProc | undefined;
  let dir1: string;
  let dir2: string;

  before(async () => {
    const missing = [];
    for (const t of TOOLS) if ((await run('sh', ['-c', `command -v ${t}`])).code !== 0) missing.push(t);
    if (missing.length > 0) throw new Error(`these tests need ${missing.join(', ')} on PATH (see scripts/setup-system.sh)`);
    base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-programs-'));
    work = join(base, 'work');
    dir1 = join(base, 'm1');
    dir2 = join(base, 'm2');
    await Promise.all([fsp.mkdir(work), fsp.mkdir(dir1), fsp.mkdir(dir2)]);
    await makeSourceTree(work);
    cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
    await cluster.createFs('progs');
    // Kernel caches off: what one mount wrote and closed, the other sees at its next open.
    const args = ['--entry-timeout', '0', '--attr-timeout', '0'];
    [m1, m2] = await Promise.all([
      MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: 'progs', dir: dir1, args }),
      MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: 'progs', dir: dir2, args }),
    ]);
  });

  after(async () => {
    await m1?.stop();
    await m2?.stop();
    await cluster?.stop();
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  test('cp -a copies a tree with hard links, symlinks, modes and owners exactly', async () => {
    await sh(`cp -a ${work}/src ${dir1}/cp-copy`);
    const a = comparable(await snapshotTree(join(work, 'src')));
    assert.equal(diffTrees(a, comparable(await snapshotTree(join(dir1, 'cp-copy'))), ['local', 'mount']), null);
  });

  test('tar extracts onto the mount, compares, and archives back out equal', async () => {
    await sh(`tar -C ${work} -S -cf ${work}/src.tar src`);
    await fsp.mkdir(join(dir1, 'tar-x'));
    await sh(`tar -C ${dir1}/tar-x --same-owner -xpf ${work}/src.tar`);
    const a = comparable(await snapshotTree(join(work, 'src')));
    assert.equal(diffTrees(a, comparable(await snapshotTree(join(dir1, 'tar-x/src'))), ['local', 'mount']), null);
    await sh(`tar -C ${dir1}/tar-x --compare -f ${work}/src.tar`);
    await sh(`tar -C ${dir1}/tar-x -S -cf ${work}/back.tar src && mkdir ${work}/back && tar -C ${work}/back --same-owner -xpf ${work}/back.tar`);
    assert.equal(diffTrees(a, comparable(await snapshotTree(join(work, 'back/src'))), ['local', 'back']), null);
  });

  test('git init, add, commit, gc and fsck', async () => {
    const repo = join(dir1, 'repo');
    await fsp.mkdir(repo);
    await git(repo, 'init -q');
    await sh(`cp -a ${work}/src/. ${repo}/`);
    await git(repo, 'add -A');
    await git(repo, 'commit -q -m first');
    await sh(`printf 'change\\n' >> ${repo}/a.txt && mv ${repo}/sub/deep ${repo}/sub/renamed`);
    await git(repo, 'add -A');
    await git(repo, 'commit -q -m second');
    await git(repo, 'gc -q');
    await git(repo, 'fsck --full --strict');
    assert.equal((await git(repo, 'status --porcelain')).trim(), '');
    assert.deepEqual((await git(repo, 'log --format=%s')).trim().split('\n'), ['second', 'first']);
  });

  test('make builds a C program with gcc on the mount, and it runs from there', async () => {
    const proj = join(dir1, 'cproj');
    await fsp.mkdir(proj);
    await fsp.writeFile(join(proj, 'util.c'), 'int twice(int x) { return 2 * x; }\n');
    await fsp.writeFile(join(proj, 'main.c'), '#include <stdio.h>\nint twice(int);\nint main(void) { printf("%d\\n", twice(21)); return 0; }\n');
    await fsp.writeFile(join(proj, 'Makefile'), 'CC=gcc\nprog: main.o util.o\n\t$(CC) -o $@ $^\n%.o: %.c\n\t$(CC) -c -o $@ $<\n');
    await sh(`make -s -C ${proj}`);
    assert.equal((await sh(`${proj}/prog`)).trim(), '42');
    assert.match(await sh(`make -C ${proj} prog`), /up to date/, 'timestamps let make see nothing changed');
  });

  test('SQLite (python3 sqlite3): transactions, integrity, and a second writer locked out', async () => {
    const db = join(dir1, 'test.db');
    const py = (code: string) => run('python3', ['-c', code]);
    const fill = await py(
      `import sqlite3; c = sqlite3.connect(${JSON.stringify(db)}); c.execute("create table t(id integer primary key, v text)")\n` +
        `with c:\n  c.executemany("insert into t(v) values(?)", [("row%d" % i,) for i in range(2000)])\n` +
        `print(c.execute("select count(*) from t").fetchone()[0], c.execute("pragma integrity_check").fetchone()[0])`,
    );
    assert.equal(fill.stdout.trim(), '2000 ok', fill.stderr);
    // One process holds an exclusive transaction through mount 1 ...
    const holder = spawn('python3', ['-u', '-c',
      `import sqlite3, sys; c = sqlite3.connect(${JSON.stringify(db)}, isolation_level=None); c.execute("begin exclusive"); ` +
        `c.execute("insert into t(v) values('held')"); print("locked"); sys.stdin.read(); c.execute("commit")`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    holder.stdout.on('data', (d: Buffer) => (out += d));
    await waitUntil('the holder took its lock', 20_000, async () => (out.includes('locked') ? true : undefined));
    // ... so a writer through mount 2 (another client of the cluster) is refused.
    const other = join(dir2, 'test.db');
    const second = await py(`import sqlite3; c = sqlite3.connect(${JSON.stringify(other)}, timeout=0)\ntry:\n  c.execute("insert into t(v) values('other')"); c.commit(); print("wrote")\nexcept sqlite3.OperationalError as e:\n  print("refused:", e)`);
    assert.match(second.stdout, /refused: database is locked/);
    holder.stdin.end();
    await new Promise((r) => holder.once('exit', r));
    const after = await py(`import sqlite3; c = sqlite3.connect(${JSON.stringify(other)}); c.execute("insert into t(v) values('after')"); c.commit(); print(c.execute("select count(*) from t").fetchone()[0], c.execute("pragma integrity_check").fetchone()[0])`);
    assert.equal(after.stdout.trim(), '2002 ok', after.stderr);
  });

  test('two mounts: a file written and closed in one is read whole in the other at its next open', async () => {
    await fsp.writeFile(join(dir1, 'shared.txt'), 'version 1\n');
    assert.equal(await fsp.readFile(join(dir2, 'shared.txt'), 'utf8'), 'version 1\n');
    const h = await fsp.open(join(dir2, 'shared.txt'), 'r');
    await fsp.appendFile(join(dir1, 'shared.txt'), 'version 2, longer\n');
    await h.close();
    assert.equal(await fsp.readFile(join(dir2, 'shared.txt'), 'utf8'), 'version 1\nversion 2, longer\n');
    await fsp.mkdir(join(dir2, 'from2'));
    await fsp.writeFile(join(dir2, 'from2', 'f'), Buffer.alloc(5 * 1024 * 1024, 7));
    const back = await fsp.readFile(join(dir1, 'from2', 'f'));
    assert.equal(back.length, 5 * 1024 * 1024);
    assert.ok(back.every((b) => b === 7));
    await fsp.rename(join(dir1, 'from2', 'f'), join(dir1, 'moved'));
    await assert.rejects(fsp.stat(join(dir2, 'from2', 'f')), { code: 'ENOENT' });
    assert.equal((await fsp.stat(join(dir2, 'moved'))).size, 5 * 1024 * 1024);
  });

  test('locks conflict across mounts: flock and fcntl, and a waiter gets the lock when it is freed', async () => {
    const f1 = join(dir1, 'lockfile');
    const f2 = join(dir2, 'lockfile');
    await fsp.writeFile(f1, '');
    const holder = spawn('flock', ['-x', f1, 'sh', '-c', 'echo held; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let held = '';
    holder.stdout.on('data', (d: Buffer) => (held += d));
    await waitUntil('flock holder', 20_000, async () => (held.includes('held') ? true : undefined));
    assert.equal((await run('flock', ['-n', '-x', f2, 'true'])).code, 1, 'flock through mount 2 must fail while mount 1 holds it');
    // A blocking waiter through mount 2 gets it once the holder lets go.
    const waiter = spawn('flock', ['-x', f2, 'echo', 'got it'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let got = '';
    waiter.stdout.on('data', (d: Buffer) => (got += d));
    const waiterExit = new Promise<number | null>((r) => waiter.once('exit', r));
    holder.stdin.end();
    await new Promise((r) => holder.once('exit', r));
    assert.equal(await waiterExit, 0);
    assert.equal(got.trim(), 'got it');

    // fcntl byte-range locks: a write lock on bytes 0..99 through mount 1 blocks an overlapping
    // one through mount 2 and shows up in F_GETLK; a disjoint range is free.
    const py = `import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
def try_lock(start, length):
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start); return "granted"
    except OSError as e:
        return "refused"
if sys.argv[2] == "hold":
    fcntl.lockf(fd, fcntl.LOCK_EX, 100, 0); print("held", flush=True); sys.stdin.read()
else:
    probe = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 50, 10, 0)
    t = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    print(try_lock(50, 10), try_lock(200, 10), "getlk-type", t[0] == fcntl.F_WRLCK, t[2], t[3])`;
    const h2 = spawn('python3', ['-c', py, f1, 'hold'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let h2out = '';
    h2.stdout.on('data', (d: Buffer) => (h2out += d));
    await waitUntil('fcntl holder', 20_000, async () => (h2out.includes('held') ? true : undefined));
    const probe = await run('python3', ['-c', py, f2, 'probe']);
    assert.equal(probe.stdout.trim(), 'refused granted getlk-type True 0 100', probe.stderr);
    h2.stdin.end();
    await new Promise((r) => h2.once('exit', r));
    const free = await run('python3', ['-c', py, f2, 'probe']);
    assert.match(free.stdout, /^granted granted/, free.stderr);
  });

  test('git completes while the leader of the root partition\'s copyset is killed with SIGKILL', async () => {
    const c = cluster!;
    const view = await new MdsAdapter(c.mds).getFsInfo('progs');
    const parts = await new MdsAdapter(c.mds).listPartitions(view.fsId);
    const root = parts.find((p) => p.start <= 1 && 1 <= p.end)!;
    const leaderAddr = await c.metaservers.waitLeader(root.poolId, root.copysetId);
    const victim = c.metaservers.procs.findIndex((p) => p.address === leaderAddr);
    assert.ok(victim >= 0);

    const repo = join(dir1, 'repo-kill');
    await fsp.mkdir(repo);
    await sh(`cp -a ${work}/src/. ${repo}/ && for i in $(seq 1 120); do printf "content $i\\n" > ${repo}/sub/g$i; done`);
    const job = git(repo, 'init -q && git add -A && git -c user.name=t -c user.email=t@example.com commit -q -m one && git fsck --full --strict && echo done');
    // Kill the leader once git is writing objects (the repo's object store is filling up).
    await waitUntil('git writing objects', 60_000, async () => {
      const dirs = await fsp.readdir(join(repo, '.git', 'objects')).catch(() => [] as string[]);
      return dirs.length > 10 ? true : undefined;
    });
    await c.metaservers.kill(victim);
    assert.match(await job, /done/);
    assert.equal((await git(repo, 'rev-list --count HEAD')).trim(), '1');
    await git(repo, 'fsck --full --strict');
    await c.metaservers.restart(victim);
  });
});
