// Real programs on a MemFs mount served by a child process: cp -a, tar, git, make + exec, sqlite
// with locking, xattr tools, ln/mv, and an interrupted lock wait.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { diffTrees, snapshotTree, type TreeEntry } from '../helpers/fsdiff.ts';
import { run, sh, startMemFsServer, waitFor, type ServedMount } from '../helpers/fuse.ts';

/** A source tree on the local disk with hard links, symlinks, odd modes, an empty dir, a big file. */
async function makeSourceTree(root: string): Promise<void> {
  await sh(
    [
      `mkdir -p ${root}/src/sub/deep ${root}/empty`,
      `printf 'hello\\n' > ${root}/src/a.txt`,
      `head -c 300000 /dev/urandom > ${root}/src/sub/big.bin`,
      `ln ${root}/src/a.txt ${root}/src/sub/a-hardlink`,
      `ln -s ../a.txt ${root}/src/sub/a-symlink`,
      `ln -s deep ${root}/src/sub/dirlink`,
      `ln -s nowhere ${root}/src/dangling`,
      `printf 'x' > ${root}/src/sub/deep/x && chmod 0640 ${root}/src/sub/deep/x`,
      `printf '#!/bin/sh\\necho run\\n' > ${root}/src/script.sh && chmod 0755 ${root}/src/script.sh`,
      `chmod 2775 ${root}/src/sub`,
      `chown 1000:1000 ${root}/src/sub/deep/x`,
      `truncate -s 5M ${root}/src/sparse`,
    ].join(' && '),
  );
}

/** The tree without the fields a copy may legitimately change (the root directory itself). */
function comparable(t: TreeEntry[]): TreeEntry[] {
  return t.filter((e) => e.path !== '');
}

describe('real programs on a fuse mount', () => {
  let m: ServedMount;
  let work: string; // local-disk scratch beside the mount
  before(async () => {
    m = await startMemFsServer();
    work = join(m.base, 'work');
    await fsp.mkdir(work);
    await makeSourceTree(work);
  });
  after(async () => {
    await m?.stop();
  });

  test('cp -a copies a tree with hard links, symlinks, modes and owners exactly', async () => {
    await sh(`cp -a ${work}/src ${m.dir}/cp-copy`);
    const a = comparable(await snapshotTree(join(work, 'src')));
    const b = comparable(await snapshotTree(join(m.dir, 'cp-copy')));
    assert.equal(diffTrees(a, b, ['local', 'mount']), null);
  });

  test('tar extracts onto the mount and archives from it, round trip equal', async () => {
    await sh(`tar -C ${work} -S -cf ${work}/src.tar src`);
    await fsp.mkdir(join(m.dir, 'tar-x'));
    await sh(`tar -C ${m.dir}/tar-x --same-owner -xpf ${work}/src.tar`);
    const a = comparable(await snapshotTree(join(work, 'src')));
    assert.equal(diffTrees(a, comparable(await snapshotTree(join(m.dir, 'tar-x/src'))), ['local', 'mount']), null);
    // tar's own verification (--compare) reads every file back and checks metadata.
    await sh(`tar -C ${m.dir}/tar-x --compare -f ${work}/src.tar`);
    // And the other way: archive from the mount, extract locally.
    await sh(`tar -C ${m.dir}/tar-x -S -cf ${work}/back.tar src && mkdir ${work}/back && tar -C ${work}/back --same-owner -xpf ${work}/back.tar`);
    assert.equal(diffTrees(a, comparable(await snapshotTree(join(work, 'back/src'))), ['local', 'back']), null);
  });

  test('git init, add, commit, gc and fsck', async () => {
    const repo = join(m.dir, 'repo');
    const git = (args: string) =>
      sh(`cd ${repo} && git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main -c safe.directory='*' ${args}`);
    await fsp.mkdir(repo);
    await git('init -q');
    await sh(`cp -a ${work}/src/. ${repo}/`);
    await git('add -A');
    await git('commit -q -m first');
    await sh(`printf 'change\\n' >> ${repo}/a.txt && mv ${repo}/sub/deep ${repo}/sub/renamed`);
    await git('add -A');
    await git('commit -q -m second');
    await git('gc -q');
    await git('fsck --full --strict');
    assert.equal((await git('status --porcelain')).trim(), '');
    assert.equal((await git('rev-list --count HEAD')).trim(), '2');
    const log = await git('log --format=%s');
    assert.deepEqual(log.trim().split('\n'), ['second', 'first']);
  });

  test('make builds a C program on the mount, and it runs from there', async () => {
    const proj = join(m.dir, 'cproj');
    await fsp.mkdir(proj);
    await fsp.writeFile(join(proj, 'util.c'), 'int twice(int x) { return 2 * x; }\n');
    await fsp.writeFile(join(proj, 'main.c'), '#include <stdio.h>\nint twice(int);\nint main(void) { printf("%d\\n", twice(21)); return 0; }\n');
    await fsp.writeFile(join(proj, 'Makefile'), 'prog: main.o util.o\n\tcc -o $@ $^\n%.o: %.c\n\tcc -c -o $@ $<\n');
    await sh(`make -s -C ${proj}`);
    assert.equal((await sh(`${proj}/prog`)).trim(), '42');
    assert.equal((await sh(`make -C ${proj} prog`)).includes('up to date'), true, 'timestamps let make see nothing changed');
  });

  test('sqlite: transactions, and fcntl locks keep a second writer out', async () => {
    const db = join(m.dir, 'test.db');
    await sh(`sqlite3 ${db} "create table t(id integer primary key, v text); begin; ${Array.from({ length: 500 }, (_, i) => `insert into t(v) values('row${i}');`).join(' ')} commit;"`);
    assert.equal((await sh(`sqlite3 ${db} "select count(*) from t"`)).trim(), '500');
    assert.equal((await sh(`sqlite3 ${db} "pragma integrity_check"`)).trim(), 'ok');
    // Hold a write lock in one process...
    const holder = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    holder.stdout.on('data', (d: Buffer) => (out += d));
    holder.stdin.write("begin exclusive; insert into t(v) values('held'); select 'locked';\n");
    await waitFor(() => out.includes('locked'), 'the holder took its lock');
    // ...and a second writer must be refused.
    const second = await run('sqlite3', ['-cmd', '.timeout 0', db, "insert into t(v) values('other')"]);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /locked/);
    holder.stdin.end('commit;\n');
    await new Promise((r) => holder.once('exit', r));
    await sh(`sqlite3 ${db} "insert into t(v) values('after')"`);
    assert.equal((await sh(`sqlite3 ${db} "select count(*) from t"`)).trim(), '502');
  });

  test('setfattr/getfattr, ln and mv', async () => {
    const f = join(m.dir, 'xa');
    await fsp.writeFile(f, 'x');
    await sh(`setfattr -n user.color -v blue ${f} && setfattr -n user.empty ${f}`);
    assert.equal((await sh(`getfattr --only-values -n user.color ${f}`)), 'blue');
    const dump = await sh(`getfattr -d ${f}`);
    assert.match(dump, /user\.color="blue"/);
    assert.match(dump, /user\.empty/);
    await sh(`setfattr -x user.color ${f}`);
    const gone = await run('getfattr', ['-n', 'user.color', f]);
    assert.match(gone.stderr, /No such attribute/);
    await sh(`cd ${m.dir} && mkdir -p mvd/a && ln xa mvd/a/xa-link && ln -s ../../xa mvd/a/xa-sym && mv mvd/a mvd/b && mv mvd/b/xa-link mvd/moved`);
    assert.equal(await sh(`cat ${m.dir}/mvd/b/xa-sym`), 'x');
    assert.equal((await fsp.stat(join(m.dir, 'mvd/moved'))).nlink, 2);
    const r = await run('mv', ['-T', join(m.dir, 'mvd/b'), join(m.dir, 'mvd')]);
    assert.notEqual(r.code, 0, 'moving a directory onto its non-empty parent fails');
  });

  test('a lock waiter killed by a signal is interrupted, and the lock stays usable', async () => {
    const f = join(m.dir, 'lk');
    await fsp.writeFile(f, '');
    // The holder keeps an exclusive flock until its stdin closes.
    const holder = spawn('flock', ['-x', f, 'sh', '-c', 'echo held; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let held = '';
    holder.stdout.on('data', (d: Buffer) => (held += d));
    await waitFor(() => held.includes('held'), 'holder has the lock');
    const waiter = spawn('flock', ['-x', f, 'true'], { stdio: 'ignore' });
    await waitFor(async () => (await m.stats()).inFlight > 0, 'the waiter is blocked in SETLKW');
    const exited = new Promise<NodeJS.Signals | null>((r) => waiter.once('exit', (_c, sig) => r(sig)));
    waiter.kill('SIGKILL');
    // Without INTERRUPT handling the kernel would wait for our answer forever.
    assert.equal(await exited, 'SIGKILL');
    await waitFor(async () => (await m.stats()).inFlight === 0, 'the interrupted request is answered');
    holder.stdin.end();
    await new Promise((r) => holder.once('exit', r));
    const again = await run('flock', ['-n', '-x', f, 'true']);
    assert.equal(again.code, 0);
  });
});
