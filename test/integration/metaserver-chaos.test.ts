// kill -9 and restart of random replicas (one at a time) during a random namespace workload on
// two 3-replica copysets; afterwards every acknowledged operation is checked against a model,
// and the replicas of each copyset agree. Each worker owns a subtree, so its model is exact;
// a call whose outcome is unknown (the replica died) is retried with the same request id until it
// answers, so idempotence is exercised too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, SeededRandom, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { MetaserverCluster, type MetaMethod } from '../helpers/metaserver-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'ms-chaos-'));
let c: MetaserverCluster;
const SPAN = 1 << 20;
const P1: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 1, fsId: 1 };
const P2: PartitionRef = { ...P1, copysetId: 2, partitionId: 2 };
const partOf = (ino: number): PartitionRef => (ino < SPAN ? P1 : P2);
const WORKERS = 4;
const OPS = 60;

before(async () => {
  c = await MetaserverCluster.start({ n: 3, dir });
  await c.createCopyset(1, 1);
  await c.createCopyset(1, 2);
  await c.createPartition({ fsId: 1, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: SPAN - 1 });
  await c.createPartition({ fsId: 1, poolId: 1, copysetId: 2, partitionId: 2, start: SPAN, end: 2 * SPAN - 1 });
  await c.call(1, 1, 'createRootInode', { p: P1, mode: 0o755 });
});

after(async () => {
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Calls until the copyset answers (same request, same id), through replica deaths. */
async function must<M extends MetaMethod>(p: PartitionRef, method: M, req: Parameters<MetaserverCluster['call']>[3] & object): Promise<Awaited<ReturnType<MetaserverCluster['call']>>> {
  for (let i = 0; ; i++) {
    try {
      return await c.call(1, p.copysetId, method, req as never, 30_000);
    } catch (e) {
      if (e instanceof CurveError && [StatusCode.TIMEOUT, StatusCode.UNAVAILABLE, StatusCode.TX_INPROGRESS, StatusCode.NOT_LEADER].includes(e.status) && i < 10) continue;
      throw e;
    }
  }
}

interface Entry {
  ino: number;
  dir: boolean;
  xattr?: string;
}

test('acknowledged operations survive kill -9 of random replicas', async () => {
  let acked = 0;
  /** Inodes whose last name an acknowledged unlink removed: their link must be gone too. */
  const unlinked: number[] = [];
  let killed: number | undefined;
  let chaosOps = 0;
  const chaosRnd = new SeededRandom(99);
  const kills: number[] = [];
  // Chaos by operation count: kill a replica, restart it some operations later.
  let chaos: Promise<void> = Promise.resolve();
  const tick = (): void => {
    acked++;
    if (acked % 25 !== 0) return;
    chaos = chaos.then(async () => {
      if (killed === undefined) {
        killed = chaosRnd.int(0, 3);
        kills.push(killed);
        await c.kill(killed);
      } else {
        const k = killed;
        killed = undefined;
        await c.restart(k);
      }
      chaosOps++;
    });
  };

  // Each worker: a home directory whose inode is in P1 or P2, and a model of its subtree.
  const models = await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      const rnd = new SeededRandom(1000 + w);
      let seq = 0;
      const rid = () => ({ clientId: 500 + w, seq: ++seq });
      const homeP = w % 2 === 0 ? P1 : P2;
      const ci = await must(homeP, 'createInode', { p: homeP, rid: rid(), parent: 1, type: FileType.TYPE_DIRECTORY, mode: 0o755 });
      const home = (ci as { inode: { inodeId: number } }).inode.inodeId;
      await must(P1, 'createDentry', { p: P1, rid: rid(), dentry: { fsId: 1, inodeId: home, parentInodeId: 1, name: `w${w}`, type: FileType.TYPE_DIRECTORY } });
      // dirs: ino -> (name -> entry)
      const model = new Map<number, Map<string, Entry>>([[home, new Map()]]);
      for (let k = 0; k < OPS; k++) {
        const dirs = [...model.keys()];
        const d = dirs[rnd.int(0, dirs.length)]!;
        const entries = model.get(d)!;
        const files = [...entries].filter(([, e]) => !e.dir);
        const r = rnd.next();
        const p = partOf(d);
        if (r < 0.35 || files.length === 0) {
          const name = `f${k}`;
          const res = (await must(p, 'createFile', { p, rid: rid(), parent: d, name, type: FileType.TYPE_S3, mode: 0o644 })) as { inode: { inodeId: number } };
          entries.set(name, { ino: res.inode.inodeId, dir: false });
        } else if (r < 0.45) {
          // A subdirectory in the other partition (cross-copyset entries).
          const where = p === P1 ? P2 : P1;
          const ci2 = (await must(where, 'createInode', { p: where, rid: rid(), parent: d, type: FileType.TYPE_DIRECTORY, mode: 0o755 })) as { inode: { inodeId: number } };
          const sub = ci2.inode.inodeId;
          await must(p, 'createDentry', { p, rid: rid(), dentry: { fsId: 1, inodeId: sub, parentInodeId: d, name: `d${k}`, type: FileType.TYPE_DIRECTORY } });
          entries.set(`d${k}`, { ino: sub, dir: true });
          model.set(sub, new Map());
        } else if (r < 0.6) {
          const [name, e] = files[rnd.int(0, files.length)]!;
          const un = (await must(p, 'unlink', { p, rid: rid(), parentInodeId: d, name })) as { inodeUnlinked: boolean };
          entries.delete(name);
          // The name and its link go in one call, also when the inode lives in another copyset
          // (one transaction: no second client step that a crash could leave undone).
          assert.ok(un.inodeUnlinked, `unlink of ${name} (inode ${e.ino}) did not drop its link`);
          unlinked.push(e.ino);
        } else if (r < 0.85) {
          // Rename a file to a new name in a random directory of this worker (often another copyset).
          const [name, e] = files[rnd.int(0, files.length)]!;
          const to = dirs[rnd.int(0, dirs.length)]!;
          const newName = `r${k}`;
          await must(p, 'rename', { p, rid: rid(), oldParent: d, oldName: name, newP: partOf(to), newParent: to, newName });
          entries.delete(name);
          model.get(to)!.set(newName, e);
        } else {
          const [, e] = files[rnd.int(0, files.length)]!;
          const value = `v${k}`;
          await must(partOf(e.ino), 'setXAttr', { p: partOf(e.ino), rid: rid(), inodeId: e.ino, name: 'user.k', value: new TextEncoder().encode(value) });
          e.xattr = value;
        }
        tick();
      }
      return { home, model };
    }),
  );
  await chaos;
  if (killed !== undefined) await c.restart(killed);
  assert.ok(kills.length >= 3, `only ${kills.length} kills happened`);

  // Every acknowledged operation is there, exactly.
  for (const { model } of models) {
    for (const [d, entries] of model) {
      const p = partOf(d);
      const list = (await must(p, 'listDentry', { p, dirInodeId: d })) as { dentrys: { name: string; inodeId: number }[] };
      assert.deepEqual(
        list.dentrys.map((x) => `${x.name}=${x.inodeId}`).sort(),
        [...entries].map(([n, e]) => `${n}=${e.ino}`).sort(),
        `directory ${d}`,
      );
      for (const [, e] of entries) {
        if (!e.xattr) continue;
        const v = (await must(partOf(e.ino), 'getXAttr', { p: partOf(e.ino), inodeId: e.ino, name: 'user.k' })) as { value: Uint8Array };
        assert.equal(new TextDecoder().decode(v.value), e.xattr);
      }
    }
  }
  // Links: every named file has exactly its one name's link; an unlinked one none (or is gone
  // already) — a link dropped twice or left behind shows here.
  const nlinkOf = async (ino: number): Promise<number> => {
    try {
      return ((await must(partOf(ino), 'getInode', { p: partOf(ino), inodeId: ino })) as { inode: { attr: { nlink: number } } }).inode.attr.nlink;
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return 0;
      throw e;
    }
  };
  for (const { model } of models) {
    for (const [, entries] of model) {
      for (const [name, e] of entries) if (!e.dir) assert.equal(await nlinkOf(e.ino), 1, `${name} (inode ${e.ino})`);
    }
  }
  for (const ino of unlinked) assert.equal(await nlinkOf(ino), 0, `unlinked inode ${ino} kept a link`);

  // Replicas agree once caught up.
  for (const cs of [1, 2]) {
    const deadline = performance.now() + 30_000;
    for (;;) {
      const st = await Promise.all(c.procs.map((p) => c.pool.client(CopysetService, p.address).getCopysetStatus({ poolId: 1, copysetId: cs }).catch(() => undefined)));
      const keys = st.map((s) => (s?.status ? `${s.status.appliedIndex}/${s.status.partitions.map((x) => `${x.inodeNum}:${x.dentryNum}:${x.nextId}`).join(',')}` : 'down'));
      if (keys.every((k) => k === keys[0] && k !== 'down')) break;
      if (performance.now() > deadline) assert.fail(`copyset ${cs} replicas differ: ${keys.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  void chaosOps;
});
