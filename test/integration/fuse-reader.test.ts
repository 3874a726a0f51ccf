// The ends of the /dev/fuse reader, for both readers (the main-thread stream and the worker
// threads): an unmount by another process and an aborted connection end the session cleanly;
// a caller killed while its request waits in the server does not stop the reader. And
// READDIRPLUS: `ls -l` of a directory the kernel has never seen lists it with attributes
// (equal to the file system's own) and needs no LOOKUP per entry.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { abortConnection, E, Errno, MemFs, mountInfo, unmountDir, type FuseOps, type RequestContext } from '../../src/fuse/index.ts';
import { mountForTest, run, waitFor, type TestMount } from '../helpers/fuse.ts';

const ROOT = 1;
const S_IFREG = 0o100000;

/**
 * A MemFs as the kernel sees it, counting lookups and READDIRPLUS calls, and holding a lookup
 * of "slow" until it is interrupted. `fs` is the MemFs itself, to change behind the kernel's back.
 */
function observed() {
  const fs = new MemFs();
  const seen = { lookups: [] as string[], readdirplusCalls: 0, slowWaiting: 0 };
  const ops = new Proxy(fs as FuseOps, {
    get(target, prop) {
      if (prop === 'lookup') {
        return (ctx: RequestContext, parent: number, name: string) => {
          seen.lookups.push(name);
          if (name !== 'slow') return fs.lookup(ctx, parent, name);
          seen.slowWaiting++;
          return new Promise<never>((_resolve, reject) => {
            const stop = () => {
              seen.slowWaiting--;
              reject(new Errno(E.EINTR, 'interrupted'));
            };
            if (ctx.signal.aborted) stop();
            else ctx.signal.addEventListener('abort', stop, { once: true });
          });
        };
      }
      if (prop === 'readdirplus') {
        return (...args: Parameters<MemFs['readdirplus']>) => {
          seen.readdirplusCalls++;
          return fs.readdirplus(...args);
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { fs, seen, ops };
}

const ctx: RequestContext = { uid: 0, gid: 0, pid: 0, signal: new AbortController().signal };

for (const reader of ['stream', 'worker'] as const) {
  describe(`fuse reader: ${reader}`, () => {
    const mounts: TestMount[] = [];
    type Observed = ReturnType<typeof observed>;
    after(async () => {
      for (const m of mounts) await m.cleanup();
    });
    const mount = async (): Promise<TestMount & Omit<Observed, 'ops'>> => {
      const o = observed();
      const m = await mountForTest(o.ops, { reader });
      mounts.push(m);
      assert.equal(m.mount.readerKind, reader);
      return { ...m, fs: o.fs, seen: o.seen };
    };

    test('an unmount by another process ends the session', async () => {
      const m = await mount();
      await fsp.writeFile(join(m.dir, 'f'), 'x');
      const r = await run('umount', [m.dir]);
      assert.equal(r.code, 0, r.stderr);
      await m.mount.closed;
      assert.equal(await mountInfo(m.dir), null);
    });

    test('an aborted connection ends the session', async () => {
      const m = await mount();
      await fsp.writeFile(join(m.dir, 'f'), 'x');
      try {
        assert.equal(await abortConnection(m.dir), true);
        await m.mount.closed;
        await assert.rejects(fsp.stat(join(m.dir, 'f')), { code: 'ENOTCONN' });
      } finally {
        // An aborted mount stays attached (every call fails) until it is detached.
        await unmountDir(m.dir, { lazy: true });
      }
    });

    test('a caller killed while its request waits in the server does not stop the reader', async () => {
      const m = await mount();
      const ops = m.seen;
      const child = spawn('stat', [join(m.dir, 'slow')], { stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, sig) => r(sig)));
      await waitFor(() => ops.slowWaiting === 1, 'the lookup of "slow" is waiting in the server');
      child.kill('SIGTERM');
      // The kernel sends INTERRUPT; the lookup changes nothing, so it is answered EINTR at once.
      assert.equal(await exited, 'SIGTERM');
      await waitFor(() => ops.slowWaiting === 0, 'the waiting lookup saw the interrupt');
      await fsp.writeFile(join(m.dir, 'after'), 'still served');
      assert.equal(await fsp.readFile(join(m.dir, 'after'), 'utf8'), 'still served');
      assert.equal(m.mount.stats().inFlight, 0);
    });

    test('ls -l of an unseen directory: attributes from READDIRPLUS, equal to the file system, no LOOKUP per entry', async () => {
      const m = await mount();
      const ops = m.fs;
      const seen = m.seen;
      // Made behind the kernel's back, so it has cached nothing of it.
      const dir = ops.mkdir(ctx, ROOT, 'big', 0o755).attr.ino;
      const names: string[] = [];
      for (let i = 0; i < 300; i++) {
        const name = `file-${String(i).padStart(4, '0')}`;
        names.push(name);
        const c = ops.create(ctx, dir, name, S_IFREG | 0o640, 1);
        ops.write(ctx, c.entry.attr.ino, c.open.fh, 0, new Uint8Array(i));
        ops.release(ctx, c.entry.attr.ino, c.open.fh, 1);
      }
      ops.mkdir(ctx, dir, 'sub', 0o700);
      seen.lookups.length = 0;
      const r = await run('ls', ['-ln', '--time-style=+%s', join(m.dir, 'big')]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(seen.readdirplusCalls > 0, 'the kernel listed with READDIRPLUS');
      assert.deepEqual(seen.lookups.filter((n) => n !== 'big'), [], 'no LOOKUP of a listed entry');

      const lines = r.stdout.trim().split('\n').slice(1); // "total N" first
      const listed = new Map(lines.map((l) => {
        const f = l.split(/\s+/);
        return [f[6]!, { mode: f[0]!, nlink: Number(f[1]), uid: Number(f[2]), gid: Number(f[3]), size: Number(f[4]), mtime: Number(f[5]) }];
      }));
      assert.deepEqual([...listed.keys()].sort(), [...names, 'sub'].sort());
      for (const name of [...names, 'sub']) {
        const a = ops.lookup(ctx, dir, name).attr;
        const want = {
          mode: (a.mode & 0o170000) === 0o040000 ? 'drwx------' : '-rw-r-----',
          nlink: a.nlink,
          uid: a.uid,
          gid: a.gid,
          size: a.size,
          mtime: a.mtimeSec,
        };
        assert.deepEqual(listed.get(name), want, name);
      }
    });
  });
}

describe('fuse: a file system without readdirplus', () => {
  let m: TestMount | undefined;
  after(async () => {
    await m?.cleanup();
  });

  test('is listed through READDIR (INIT does not ask for READDIRPLUS)', async () => {
    const fs = new MemFs();
    // The same file system with no readdirplus method at all.
    const ops = new Proxy(fs as FuseOps, {
      has: (target, prop) => prop !== 'readdirplus' && Reflect.has(target, prop),
      get(target, prop) {
        if (prop === 'readdirplus') return undefined;
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    m = await mountForTest(ops);
    fs.mkdir(ctx, ROOT, 'd', 0o755);
    fs.mknod(ctx, ROOT, 'f', S_IFREG | 0o644, 0);
    assert.deepEqual((await fsp.readdir(m.dir)).sort(), ['d', 'f']);
    const r = await run('ls', ['-l', m.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / d\n/);
  });
});
