// Listings of a directory many pages long while another client creates and unlinks in it,
// through the mount (the kernel's READDIR/READDIRPLUS over real FUSE, a child `ls -f`) and the
// SDK (fs.opendir). The rules (POSIX readdir): no entry is returned twice, and every entry that
// exists for the whole listing is returned exactly once; entries created or removed during the
// listing may or may not appear. The other client changes the directory between the listing's
// requests (the mount's ops and the SDK's iteration wait for a batch of changes before going on),
// so changes land behind, at and ahead of the cursor. The cluster is real processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FileDataIO } from '../../src/data/index.ts';
import type { FuseOps } from '../../src/fuse/index.ts';
import { CurvefsOps } from '../../src/mount/index.ts';
import type { Connection } from '../../src/client/index.ts';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { mountForTest, run, type TestMount } from '../helpers/fuse.ts';

const STABLE = 3000; // names present for the whole listing
const CHURN = 1000; // names present at the start, unlinked during the listing

let cluster: TestCluster;
let conn: Connection;
let other: Connection;
let m: TestMount;
/** Set by a test: run before each READDIR/READDIRPLUS the mount answers. */
let beforeListing: (() => Promise<void>) | undefined;

before(async () => {
  cluster = await startCluster({ fsName: 'hugedir' });
  conn = await cluster.connect();
  other = await cluster.connect();
  const v = conn.view;
  const data = new FileDataIO(conn.store, { fsId: v.fsId, chunkSize: v.chunkSize, blockSize: v.blockSize, allocChunkIds: async () => { throw new Error('no data is written through the mount in this test'); } });
  // Small ListDentry pages, so one listing is dozens of pages.
  const inner = new CurvefsOps({ core: conn.core, data, sessionId: conn.sessionId, view: v }, { listPageSize: 64 });
  const ops = new Proxy(inner as FuseOps, {
    get(target, prop) {
      const v2: unknown = Reflect.get(target, prop, target);
      if (typeof v2 !== 'function') return v2;
      const fn = v2 as (...a: unknown[]) => unknown;
      if (prop === 'readdir' || prop === 'readdirplus') {
        return async (...a: unknown[]) => {
          await beforeListing?.();
          return fn.apply(target, a);
        };
      }
      return fn.bind(target);
    },
  });
  m = await mountForTest(ops, { entryTimeoutSec: 1, attrTimeoutSec: 1 });
});

after(async () => {
  await m?.cleanup();
  await other?.close();
  await conn?.close();
  await cluster?.stop();
});

function pad(i: number): string {
  return String(i).padStart(5, '0');
}

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T>(items: T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Fills `dir` with stable names s…, churn names c… spread among them; returns a function that
 * makes one batch of changes from the other client (unlinks churn names, creates new n… names
 * spread over the whole name range) and the sets to check a listing against.
 */
async function churnDir(dir: string) {
  const fs = conn.fs;
  await fs.mkdir(dir);
  const stable = Array.from({ length: STABLE }, (_, i) => `e${pad(i * 4)}s`);
  const churn = Array.from({ length: CHURN }, (_, i) => `e${pad(i * 12 + 1)}c`);
  await inParallel([...stable, ...churn], 32, (n) => fs.symlink('t', `${dir}/${n}`));
  const created: string[] = [];
  let unlinked = 0;
  let batch = 0;
  const change = async () => {
    const work: Promise<void>[] = [];
    // A deterministic spread: names land before, at and after wherever the listing is.
    for (let k = 0; k < 20; k++) {
      const i = ((batch * 20 + k) * 7919) % (STABLE * 4);
      const name = `e${pad(i)}n${batch}`;
      created.push(name);
      work.push(other.fs.symlink('t', `${dir}/${name}`));
    }
    for (let k = 0; k < 15 && unlinked < CHURN; k++) work.push(other.fs.unlink(`${dir}/${churn[(unlinked++ * 37) % CHURN]}`));
    batch++;
    await Promise.all(work);
  };
  return { stable, churn, created, change, batches: () => batch };
}

function checkListing(listed: string[], sets: { stable: string[]; churn: string[]; created: string[] }): void {
  const seen = new Set<string>();
  for (const n of listed) {
    assert.ok(!seen.has(n), `${n} listed twice`);
    seen.add(n);
  }
  for (const n of sets.stable) assert.ok(seen.has(n), `${n} (present throughout) listed`);
  const known = new Set([...sets.stable, ...sets.churn, ...sets.created]);
  for (const n of listed) assert.ok(known.has(n), `${n} is a name of the directory`);
}

test('ls -f through the mount while another client creates and unlinks: nothing twice, the unchanged entries once each', async () => {
  const sets = await churnDir('/churn-mount');
  await conn.fs.settle();
  beforeListing = sets.change;
  let r;
  try {
    r = await run('ls', ['-f', '-1', join(m.dir, 'churn-mount')]);
  } finally {
    beforeListing = undefined;
  }
  assert.equal(r.code, 0, r.stderr);
  const listed = r.stdout.split('\n').filter((n) => n !== '' && n !== '.' && n !== '..');
  assert.ok(sets.batches() >= 4, `changes made between ${sets.batches()} kernel requests`);
  checkListing(listed, sets);
});

test('fs.opendir through the SDK while another client creates and unlinks: nothing twice, the unchanged entries once each', async () => {
  const sets = await churnDir('/churn-sdk');
  const listed: string[] = [];
  for await (const e of conn.fs.opendir('/churn-sdk')) {
    listed.push(e.name);
    if (listed.length % 100 === 0) await sets.change();
  }
  assert.ok(listed.length > 3 * 1024, 'more than three SDK pages (1024 entries each)');
  checkListing(listed, sets);
});
