// Shared by metaserver-rename-faults.test.ts and metaserver-rmdir-faults.test.ts.
// The cross-copyset rename and rmdir protocols (docs/rename.md) with a process killed (SIGKILL)
// at each step: the coordinator's leader after TxBegin, after the prepares, after the decision,
// after the participants finished; a participant's leader right after it prepared and right
// after it applied the decision. After each crash the client retries with the same request id,
// the crashed process restarts, and we check: the operation happened exactly once, the name is
// found exactly once, parent lists and link counts agree, no transaction or lock is left, and a
// reader never saw both names or neither.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { FileType } from '../../src/gen/common_pb.ts';
import { CopysetService, type PartitionRef } from '../../src/gen/metaserver_pb.ts';
import { MetaserverCluster } from './metaserver-cluster.ts';

let dir = '';
let c: MetaserverCluster;
const SPAN = 1 << 20;
const P1: PartitionRef = { $typeName: 'curvefs.metaserver.PartitionRef', poolId: 1, copysetId: 1, partitionId: 1, fsId: 1 };
const P2: PartitionRef = { ...P1, copysetId: 2, partitionId: 2 };
const partOf = (ino: number): PartitionRef => (ino < SPAN ? P1 : P2);
const csOf = (p: PartitionRef): number => p.copysetId;
let seq = 0;
const rid = () => ({ clientId: 9, seq: ++seq });

export async function setupFaultCluster(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'ms-tx-faults-'));
  c = await MetaserverCluster.start({ n: 3, dir, args: (i) => ['--crash-file', join(dir, `crash-${i}`)] });
  await c.createCopyset(1, 1);
  await c.createCopyset(1, 2);
  await c.createPartition({ fsId: 1, poolId: 1, copysetId: 1, partitionId: 1, start: 0, end: SPAN - 1 });
  await c.createPartition({ fsId: 1, poolId: 1, copysetId: 2, partitionId: 2, start: SPAN, end: 2 * SPAN - 1 });
  await c.call(1, 1, 'createRootInode', { p: P1, mode: 0o755 });
}

export async function teardownFaultCluster(): Promise<void> {
  await c?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

async function lookup(parent: number, name: string): Promise<number | undefined> {
  const p = partOf(parent);
  try {
    return (await c.call(1, csOf(p), 'getDentry', { p, parentInodeId: parent, name })).dentry!.inodeId;
  } catch (e) {
    if (e instanceof CurveError && e.status === StatusCode.NOT_FOUND) return undefined;
    throw e;
  }
}

async function attr(ino: number) {
  const p = partOf(ino);
  const r = await c.call(1, csOf(p), 'batchGetInodeAttr', { p, inodeId: [ino] });
  return r.attr[0]!;
}

/** A directory under `parent` whose inode lives in partition `where`. */
async function mkdirAt(where: PartitionRef, parent: number, name: string): Promise<number> {
  const ci = await c.call(1, csOf(where), 'createInode', { p: where, rid: rid(), parent, type: FileType.TYPE_DIRECTORY, mode: 0o755 });
  const pp = partOf(parent);
  await c.call(1, csOf(pp), 'createDentry', { p: pp, rid: rid(), dentry: { fsId: 1, inodeId: ci.inode!.inodeId, parentInodeId: parent, name, type: FileType.TYPE_DIRECTORY } });
  return ci.inode!.inodeId;
}

function indexOf(addr: string): number {
  return c.procs.findIndex((p) => p.address === addr);
}

/** Makes process `i` the leader of copyset `cs` (transfer, then wait). */
async function lead(cs: number, i: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const leader = await c.waitLeader(1, cs);
    if (indexOf(leader) === i) return;
    if (performance.now() > deadline) throw new Error(`could not move copyset ${cs} to replica ${i}`);
    await c.pool.client(CopysetService, leader).transferLeader({ poolId: 1, copysetId: cs, transferee: c.peer(i) }).catch(() => undefined);
    // Wait for the transfer to show (or give up on this round and ask again).
    const until = performance.now() + 2000;
    while (performance.now() < until) {
      const st = await c.pool.client(CopysetService, c.procs[i]!.address).getCopysetStatus({ poolId: 1, copysetId: cs }).catch(() => undefined);
      if (st?.status?.state === 'leader') {
        await c.waitLeader(1, cs);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Moves the other copyset's leadership off process `i`. */
async function notLead(cs: number, i: number): Promise<void> {
  const leader = await c.waitLeader(1, cs);
  if (indexOf(leader) === i) await lead(cs, (i + 1) % 3);
}

/** Every live replica reports no transaction record and no lock for either copyset. */
async function waitTxClean(): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    let dirty = '';
    for (const p of c.procs) {
      if (!p.proc) continue;
      const text = await c.metricsText(p.index).catch(() => '');
      for (const m of text.matchAll(/^curvefs_copyset_tx_(records|locks)\{copyset="([^"]+)"\} (\d+)$/gm)) {
        if (m[3] !== '0') dirty += ` ms${p.index}:${m[2]}:${m[1]}=${m[3]}`;
      }
    }
    if (!dirty) return;
    if (performance.now() > deadline) assert.fail(`transactions left behind:${dirty}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export type Kind = 'file' | 'dir' | 'rmdir';
export const COORD_STEPS = ['after-begin', 'after-prepare', 'after-decide', 'after-finish'] as const;
export const PART_STEPS = ['participant-prepared', 'participant-finished'] as const;

const T0 = performance.now();
const mark = (what: string) => process.env.TRACE && console.error(`${(performance.now() - T0).toFixed(0)}ms ${what}`);
export async function scenario(kind: Kind, step: string, n: number): Promise<void> {
  mark(`start ${kind} ${step}`);
  const coordinatorStep = (COORD_STEPS as readonly string[]).includes(step);
  const targetCs = coordinatorStep ? 1 : 2;
  const target = indexOf(await c.waitLeader(1, targetCs));
  // A crash an earlier (failed) scenario armed and never reached must not fire in this one.
  for (const p of c.procs) rmSync(join(dir, `crash-${p.index}`), { force: true });
  writeFileSync(join(dir, `crash-${target}`), step);
  await lead(targetCs, target);
  await notLead(targetCs === 1 ? 2 : 1, target);
  mark('leaders placed');

  // Source in the root (copyset 1); target directory with its inode in copyset 2.
  const dst = await mkdirAt(P2, 1, `dst-${n}`);
  let x: number;
  let srcName = `src-${n}`;
  if (kind === 'file') {
    x = (await c.call(1, 1, 'createFile', { p: P1, rid: rid(), parent: 1, name: srcName, type: FileType.TYPE_S3, mode: 0o644 })).inode!.inodeId;
  } else {
    x = await mkdirAt(P2, 1, srcName);
  }
  if (kind === 'rmdir') srcName = `src-${n}`;

  // A reader watching both names.
  let stop = false;
  const seen: Array<[boolean, boolean]> = [];
  const reader = (async () => {
    while (!stop) {
      const a = (await lookup(1, srcName).catch(() => -1)) !== undefined;
      const b = kind === 'rmdir' ? false : (await lookup(dst, 'moved').catch(() => -1)) !== undefined;
      seen.push([a, b]);
    }
  })();

  const req = rid();
  try {
    if (kind === 'rmdir') {
      await c.call(1, 1, 'rmdir', { p: P1, rid: req, parentInodeId: 1, name: srcName }, 60_000);
    } else {
      const r = await c.call(1, 1, 'rename', { p: P1, rid: req, oldParent: 1, oldName: srcName, newP: P2, newParent: dst, newName: 'moved' }, 60_000);
      assert.equal(r.movedInodeId, x);
    }
  } finally {
    // Also when the call failed: a reader left running would keep this file's process alive
    // (retrying against a stopped cluster) long after its test ended.
    stop = true;
    await reader;
  }
  mark('op done');
  assert.ok((await c.waitExit(target)) !== 0, `replica ${target} should have crashed at ${step}`);
  await c.restart(target);
  mark('restarted again');
  await waitTxClean();
  mark('clean');

  // Exactly once, and consistent.
  assert.equal(await lookup(1, srcName), undefined, 'the old name is gone');
  if (kind === 'rmdir') {
    assert.equal((await attr(x)).nlink, 0, 'the removed directory has no links');
    const again = await c.call(1, 1, 'rmdir', { p: P1, rid: req, parentInodeId: 1, name: srcName });
    assert.equal(again.dentry?.inodeId, x, 'a retry returns the first outcome');
  } else {
    assert.equal(await lookup(dst, 'moved'), x, 'the new name holds the inode');
    assert.deepEqual((await attr(x)).parent, [dst]);
    assert.equal((await attr(dst)).nlink, kind === 'dir' ? 3 : 2);
    const again = await c.call(1, 1, 'rename', { p: P1, rid: req, oldParent: 1, oldName: srcName, newP: P2, newParent: dst, newName: 'moved' });
    assert.equal(again.movedInodeId, x, 'a retry returns the first outcome');
  }
  // The reader: once it saw the result, never the old state again; never neither name.
  let sawResult = false;
  for (const [a, b] of seen) {
    if (kind !== 'rmdir') assert.ok(a || b, `${step}: a reader found neither name`);
    if (sawResult) assert.ok(!a, `${step}: the old name came back after the result was seen`);
    if (!a || b) sawResult = true;
  }
}

