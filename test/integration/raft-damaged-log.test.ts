// Issue G scenario 4 at the driver: a group whose log is damaged before its torn tail does not
// open (the replica stops, with the file and offset), instead of coming up with term, vote and
// acknowledged entries silently rolled back; a torn final write is cut and reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode } from '../../src/raft/node.ts';
import { LocalNetwork } from '../../src/raft/local-transport.ts';
import { LogDamagedError, SEGMENT_HEADER_BYTES } from '../../src/raft/log/index.ts';
import { KvStateMachine, encodeKv, waitFor } from '../helpers/raft-kv.ts';
import { Role } from '../../src/raft/index.ts';

const GROUP = 7;

/** A single-voter group that commits `n` puts with tiny segments; returns its log directory. */
async function writeGroup(dir: string, n: number): Promise<string> {
  const node = new RaftNode({ id: 1, dataDir: dir, transport: new LocalNetwork().transport(1), tickMs: 20, log: { segmentBytes: 400 } });
  try {
    await node.addGroup(GROUP, [1], new KvStateMachine());
    await waitFor(() => node.status(GROUP).role === Role.Leader, 20_000, 'the single voter to lead');
    for (let i = 0; i < n; i++) await node.propose(GROUP, encodeKv({ op: 'put', key: `k${i}`, value: `v${i}` }));
  } finally {
    await node.stop();
  }
  return join(dir, `group-${GROUP}`, 'log');
}

async function reopen(dir: string) {
  const node = new RaftNode({ id: 1, dataDir: dir, transport: new LocalNetwork().transport(1), tickMs: 20, log: { segmentBytes: 400 } });
  const sm = new KvStateMachine();
  try {
    const report = await node.addGroup(GROUP, [1], sm);
    // The commit index is not made durable with every entry (a leader learns it only after its
    // own write, issue [G] scenario 1), so a restarted voter applies its log once it leads again.
    await waitFor(() => node.status(GROUP).role === Role.Leader && node.status(GROUP).applied === node.status(GROUP).lastIndex, 20_000, 'the reopened voter to lead and apply its log');
    return { report, sm };
  } finally {
    await node.stop();
  }
}

test('addGroup refuses a log with one bit flipped in segment 2 of 16, naming the file and offset', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-damaged-'));
  try {
    const logDir = await writeGroup(dir, 100);
    const segs = (await readdir(logDir)).filter((x) => x.endsWith('.seg')).sort();
    assert.ok(segs.length >= 16, `${segs.length} segments`);
    const second = join(logDir, segs[1]!);
    const b = await readFile(second);
    b[SEGMENT_HEADER_BYTES + 7]! ^= 0x02;
    await writeFile(second, b);
    await assert.rejects(reopen(dir), (e: Error) => {
      assert.ok(e instanceof LogDamagedError, String(e));
      assert.equal(e.segment, segs[1]);
      assert.equal(e.offset, SEGMENT_HEADER_BYTES);
      assert.match(e.message, /rebuilt from its peers/);
      return true;
    });
    assert.deepEqual(await readFile(second), b, 'the evidence is left as it was');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a torn final write is cut, reported in the open report, and the group opens with what was synced', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raft-torn-'));
  try {
    const logDir = await writeGroup(dir, 20);
    const segs = (await readdir(logDir)).filter((x) => x.endsWith('.seg')).sort();
    const last = join(logDir, segs[segs.length - 1]!);
    const b = await readFile(last);
    // The end of the written data: the last non-zero byte.
    let end = b.length;
    while (end > 0 && b[end - 1] === 0) end--;
    // A write that lost its last bytes: they never reached the disk.
    b.fill(0, end - 3, end);
    await writeFile(last, b);
    const { report, sm } = await reopen(dir);
    assert.equal(report.log.cuts.length, 1);
    assert.equal(report.log.cuts[0]!.segment, segs[segs.length - 1]);
    assert.ok(sm.data.size >= 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
