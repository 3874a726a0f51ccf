// The simulated disk of the driver-level simulation (test/helpers/sim-storage.ts): what a crash
// does to unsynced data, and the production Raft log (src/raft/log) running on it — a crash
// mid-write at any point leaves every synced record and at most cuts the torn final write;
// a bit flipped at rest in an earlier segment stops the log with LogDamagedError.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../src/common/index.ts';
import { RaftLog, type Entry } from '../../src/raft/index.ts';
import { LogDamagedError } from '../../src/raft/log/index.ts';
import { SimDisk } from '../helpers/sim-storage.ts';
import { SimWorld, type Proc } from '../helpers/sim-world.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const te = new TextEncoder();
const entry = (index: number, term: number): Entry => ({ index, term, type: 0, data: te.encode(`entry ${index} of term ${term} `.repeat(1 + ((index * 7) % 40))) });

/** Runs the world until `p` settles (or the world has nothing left to run). */
async function pump<T>(world: SimWorld, p: Promise<T>): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise<void>((r) => setImmediate(r));
  while (!settled && (await world.step()));
  assert.ok(settled, 'the world ran out of events before the operation settled');
  return p;
}

const proc = (name: string): Proc => ({ alive: true, name });

describe('simulated disk', () => {
  it('a crash keeps synced bytes, and of unsynced ones all, none or whole sectors', async () => {
    let torn = 0;
    for (let seed = 0; seed < 60; seed++) {
      const world = new SimWorld(seed);
      const disk = new SimDisk(world, 'd');
      const p = proc('p');
      const fs = disk.storage(p);
      await pump(world, fs.mkdirp('/x'));
      const f = await pump(world, fs.open('/x/f', 'create'));
      const synced = new Uint8Array(700).fill(1);
      await pump(world, f.write(synced, 0, synced.length, 0));
      await pump(world, f.datasync());
      await pump(world, fs.syncDir('/x'));
      const later = new Uint8Array(2048).fill(2);
      await pump(world, f.write(later, 0, later.length, 700));
      p.alive = false;
      disk.crash();
      const q = proc('q');
      const g = await pump(world, disk.storage(q).readFile('/x/f'));
      assert.deepEqual(g.subarray(0, 700), synced, `seed ${seed}: synced bytes changed`);
      // Every sector is either all old or all new.
      for (let s = 512; s < g.length; s += 512) {
        const sector = g.subarray(s, Math.min(s + 512, g.length));
        const fresh = sector.every((b, i) => b === (s + i < 700 ? 1 : 2));
        const old = sector.every((b, i) => b === (s + i < 700 ? 1 : 0));
        assert.ok(fresh || old, `seed ${seed}: sector at ${s} mixes old and new bytes`);
      }
      if (g.length > 700 && g.length < 2748) torn++;
      if (g.length === 2748 && g.subarray(700).some((b) => b === 0)) torn++;
    }
    assert.ok(torn > 0, 'no crash tore a write');
  });

  it('an O_DSYNC write is durable once it returns; a create is durable only after syncDir', async () => {
    const world = new SimWorld(7);
    const disk = new SimDisk(world, 'd');
    const p = proc('p');
    const fs = disk.storage(p);
    await pump(world, fs.mkdirp('/x'));
    const f = await pump(world, fs.open('/x/f', 'create', { dsync: true }));
    await pump(world, fs.syncDir('/x'));
    await pump(world, f.write(te.encode('hello'), 0, 5, 0));
    await pump(world, fs.open('/x/unsynced', 'create'));
    p.alive = false;
    disk.crash();
    const q = disk.storage(proc('q'));
    assert.equal(new TextDecoder().decode(await pump(world, q.readFile('/x/f'))), 'hello');
    // The second create was never made durable: a crash keeps a random prefix of such operations.
    assert.ok(disk.durablePaths().every((x) => x === '/x/f' || x === '/x/unsynced'));
  });

  it('operations of a crashed process never complete; failures carry EIO or ENOSPC', async () => {
    const world = new SimWorld(3);
    const disk = new SimDisk(world, 'd');
    const p = proc('p');
    const fs = disk.storage(p);
    await pump(world, fs.mkdirp('/x'));
    disk.errorRate = 1;
    await assert.rejects(pump(world, fs.open('/x/f', 'create')), (e: Error & { code?: string }) => e.code === 'EIO' || e.code === 'ENOSPC');
    disk.errorRate = 0;
    let settled = false;
    fs.readdir('/x').finally(() => (settled = true));
    p.alive = false;
    while (await world.step());
    assert.equal(settled, false);
  });

  it('the Raft log on the simulated disk: a crash at any step keeps every synced entry and cuts at most the torn final write', async () => {
    let cuts = 0;
    for (let seed = 0; seed < 80; seed++) {
      const world = new SimWorld(seed);
      const disk = new SimDisk(world, 'd');
      const syncMode = seed % 2 === 0 ? 'dsync' : 'fdatasync';
      const opts = { segmentBytes: 2048, syncMode, logger: quiet } as const;
      const p = proc('p');
      const { log } = await pump(world, RaftLog.open('/log', { ...opts, storage: disk.storage(p) }));
      let synced = 0;
      let next = 1;
      // Appends and syncs; the crash comes after a random number of simulated I/O events.
      const crashAfter = world.steps + world.rng.int(1, 400);
      const writer = (async () => {
        for (;;) {
          const batch = Array.from({ length: 1 + (next % 4) }, () => entry(next, 1)).map((e, i) => ({ ...e, index: next + i }));
          next += batch.length;
          log.append(batch);
          log.setHardState({ term: 1, vote: 1, commit: next - 1 });
          await log.sync();
          synced = next - 1;
        }
      })();
      writer.catch(() => undefined);
      await new Promise<void>((r) => setImmediate(r));
      while (world.steps < crashAfter && (await world.step()));
      p.alive = false;
      disk.crash();
      const r = await pump(world, RaftLog.open('/log', { ...opts, storage: disk.storage(proc('q')) }));
      cuts += r.report.cuts.length;
      const last = r.entries.length ? r.entries[r.entries.length - 1]!.index : 0;
      assert.ok(last >= synced, `seed ${seed}: ${synced} entries were synced, ${last} survived`);
      r.entries.forEach((e, i) => assert.equal(e.index, i + 1, `seed ${seed}: entries not contiguous`));
      assert.ok(r.hardState.commit >= synced, `seed ${seed}: hard state rolled back`);
    }
    assert.ok(cuts > 0, 'no torn final write was cut');
  });

  it('a log reopened after a process kill builds only on durable records: what the killed process left unsynced is synced at open', async () => {
    // The killed process's last write sits in the page cache: the next process reads it back
    // as part of the log and appends after it with O_DSYNC writes, which make only their own
    // range durable. A power loss then lost the middle and kept the end: the log refused to open
    // ("not a torn final write") and entries the new process acknowledged were gone.
    for (const syncMode of ['dsync', 'fdatasync'] as const) {
      const world = new SimWorld(11);
      const disk = new SimDisk(world, 'd');
      const opts = { segmentBytes: 4096, syncMode, logger: quiet };
      const a = proc('a');
      const first = await pump(world, RaftLog.open('/log', { ...opts, storage: disk.storage(a) }));
      first.log.append([entry(1, 1), entry(2, 1)]);
      await pump(world, first.log.sync());
      first.log.append([entry(3, 1)]);
      void first.log.sync().catch(() => undefined); // issued, never completes: the process dies
      await new Promise<void>((r) => setImmediate(r));
      a.alive = false;
      const b = proc('b');
      const second = await pump(world, RaftLog.open('/log', { ...opts, storage: disk.storage(b) }));
      assert.deepEqual(second.entries.map((e) => e.index), [1, 2, 3]);
      second.log.append([entry(4, 1)]);
      await pump(world, second.log.sync());
      b.alive = false;
      disk.crash('lose');
      const third = await pump(world, RaftLog.open('/log', { ...opts, storage: disk.storage(proc('c')) }));
      assert.deepEqual(third.entries.map((e) => e.index), [1, 2, 3, 4], syncMode);
    }
  });

  it('the Raft log on the simulated disk: a bit flipped at rest in an earlier segment is LogDamagedError', async () => {
    let refused = 0;
    for (let seed = 0; seed < 20; seed++) {
      const world = new SimWorld(seed);
      const disk = new SimDisk(world, 'd');
      const opts = { segmentBytes: 1024, logger: quiet };
      const p = proc('p');
      const { log } = await pump(world, RaftLog.open('/log', { ...opts, storage: disk.storage(p) }));
      for (let i = 1; i <= 60; i += 3) {
        log.append([entry(i, 1), entry(i + 1, 1), entry(i + 2, 1)]);
        await pump(world, log.sync());
      }
      await pump(world, log.close());
      p.alive = false;
      const segs = disk.durablePaths().filter((x) => x.endsWith('.seg'));
      assert.ok(segs.length >= 3, `seed ${seed}: only ${segs.length} segments`);
      disk.corruptAtRest((x) => x === segs[1]);
      await assert.rejects(pump(world, RaftLog.open('/log', { ...opts, storage: disk.storage(proc('q')) })), (e: unknown) => {
        assert.ok(e instanceof LogDamagedError, String(e));
        assert.match(e.message, new RegExp(segs[1]!.split('/').pop()!.replace('.', '\\.')));
        return true;
      });
      refused++;
    }
    assert.equal(refused, 20);
  });
});
