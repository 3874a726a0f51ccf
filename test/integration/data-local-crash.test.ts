// A writer killed with SIGKILL in the middle of a put leaves the object as it was before (old
// version or absent), never a partial one, and the next open removes its temp file; every put
// that answered before the kill is there, whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { LocalBlockStore, objectKey } from '../../src/data/index.ts';
import { bigPattern } from '../helpers/data-patterns.ts';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'data-put-child.ts');
const MANY_CHILD = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'data-put-many-child.ts');
const BIG = 96 * 1024 * 1024;

/** Spawns a writer of `key`, kills it once its temp file has data, returns what was seen. */
async function killMidPut(dir: string, key: string, seed: number): Promise<{ tempSizeAtKill: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, key, String(BIG), String(seed)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => (l === 'writing' ? resolve() : reject(new Error(l))));
    child.once('exit', () => reject(new Error('writer exited before writing')));
  });
  // Poll (not sleep) for the temp file to hold some bytes, then kill.
  const deadline = Date.now() + 30_000;
  let tempSizeAtKill = -1;
  while (Date.now() < deadline && child.exitCode === null) {
    const names = await readdir(join(dir, 'tmp'));
    const sizes = await Promise.all(names.map((n) => stat(join(dir, 'tmp', n)).then((s) => s.size, () => 0)));
    const max = Math.max(0, ...sizes);
    if (max > 0) {
      tempSizeAtKill = max;
      break;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  child.kill('SIGKILL');
  await exited;
  return { tempSizeAtKill };
}

test('SIGKILL during a put: the object is the old version or absent, never partial', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'curvefs-crash-'));
  try {
    const old = bigPattern(3 * 1024 * 1024 + 17, 1);
    const store = await LocalBlockStore.open(dir);
    await store.put('1/ab/cd/9/0/5_0_0', old);
    await store.close();

    for (const [key, before] of [['1/ab/cd/9/0/5_0_0', old], ['1/ab/cd/9/0/6_0_0', undefined]] as const) {
      const { tempSizeAtKill } = await killMidPut(dir, key, 2);
      t.diagnostic(`${key}: temp file had ${tempSizeAtKill} of ${BIG} bytes when killed`);
      const reopened = await LocalBlockStore.open(dir);
      assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'the dead writer\'s temp file is removed');
      const info = await reopened.head(key);
      if (info === undefined) {
        assert.equal(before, undefined, 'an existing object never disappears');
      } else if (before !== undefined && info.size === before.length) {
        assert.ok(Buffer.from(await reopened.get(key)).equals(before), 'old version intact');
      } else {
        // The put finished before the kill landed: then it must be whole.
        assert.equal(info.size, BIG);
        assert.ok(Buffer.from(await reopened.get(key)).equals(bigPattern(BIG, 2)), 'new version whole');
      }
      await reopened.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGKILL of a writer of many small objects: every acknowledged put is there, whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'curvefs-crash-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', MANY_CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let acked = -1;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (l) => {
        const m = /^acked (\d+)$/.exec(l);
        if (!m) return reject(new Error(l));
        acked = Number(m[1]);
        if (acked >= 20) {
          child.kill('SIGKILL'); // while the next put is under way
          resolve();
        }
      });
      child.once('exit', () => reject(new Error('writer exited before 20 puts')));
    });
    await exited;
    const store = await LocalBlockStore.open(dir);
    for (let n = 0; n <= acked; n++) {
      const key = objectKey(1, 1000 + n, { chunkIndex: 0, chunkId: n + 1, blockIndex: 0, compaction: 0 });
      assert.ok(Buffer.from(await store.get(key)).equals(bigPattern(4096 + n, n)), `acknowledged object ${n}`);
    }
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
