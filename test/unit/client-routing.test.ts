import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { PartitionInfoSchema, PartitionStatus } from '../../src/gen/common_pb.ts';
import { PartitionTable, backoffDelay, DEFAULT_BACKOFF, checkName, splitPath, TtlCache } from '../../src/client/index.ts';
import { CurveError, SeededRandom } from '../../src/common/index.ts';

const part = (id: number, start: number, inodeNum = 0, status = PartitionStatus.READWRITE) =>
  create(PartitionInfoSchema, { partitionId: id, poolId: 1, copysetId: id % 2, fsId: 1, start, end: start + 1023, status, inodeNum });

test('partition table finds the partition holding an inode id', () => {
  const t = new PartitionTable();
  t.setPartitions([part(3, 2048), part(1, 0), part(2, 1024)]);
  assert.equal(t.find(0)?.partitionId, 1);
  assert.equal(t.find(1023)?.partitionId, 1);
  assert.equal(t.find(1024)?.partitionId, 2);
  assert.equal(t.find(3071)?.partitionId, 3);
  assert.equal(t.find(3072), undefined);
});

test('writable partitions: least loaded first, read-only ones excluded', () => {
  const t = new PartitionTable();
  t.setPartitions([part(1, 0, 50), part(2, 1024, 10), part(3, 2048, 5, PartitionStatus.READONLY)]);
  assert.deepEqual(t.writable().map((p) => p.partitionId), [2, 1]);
  t.markReadonly(2);
  assert.deepEqual(t.writable().map((p) => p.partitionId), [1]);
});

test('copyset routes keep a known leader that is still a member', () => {
  const t = new PartitionTable();
  t.setCopyset({ poolId: 1, copysetId: 1, peers: ['a', 'b', 'c'], leader: 'b' });
  t.setCopyset({ poolId: 1, copysetId: 1, peers: ['a', 'b', 'd'], leader: undefined });
  assert.equal(t.copyset(1, 1)?.leader, 'b');
  t.setCopyset({ poolId: 1, copysetId: 1, peers: ['a', 'c', 'd'], leader: undefined });
  assert.equal(t.copyset(1, 1)?.leader, undefined);
});

test('backoff grows, is capped and jittered', () => {
  const r = new SeededRandom(7);
  const d = [0, 1, 2, 3, 10, 30].map((a) => backoffDelay(a, DEFAULT_BACKOFF, r));
  assert.ok(d[0]! < d[3]!);
  for (const x of d) assert.ok(x <= DEFAULT_BACKOFF.maxMs * (1 + DEFAULT_BACKOFF.jitter));
});

test('names and paths get the kernel errno', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
      return 'ok';
    } catch (e) {
      return (e as CurveError).code;
    }
  };
  assert.equal(code(() => checkName('a')), 'ok');
  assert.equal(code(() => checkName('')), 'EINVAL');
  assert.equal(code(() => checkName('.')), 'EINVAL');
  assert.equal(code(() => checkName('..')), 'EINVAL');
  assert.equal(code(() => checkName('a/b')), 'EINVAL');
  assert.equal(code(() => checkName('a\0b')), 'EINVAL');
  assert.equal(code(() => checkName('x'.repeat(255))), 'ok');
  assert.equal(code(() => checkName('x'.repeat(256))), 'ENAMETOOLONG');
  assert.equal(code(() => checkName('é'.repeat(128))), 'ENAMETOOLONG');
  assert.deepEqual(splitPath('/a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(splitPath('/a/../b'), ['a', '..', 'b']);
  assert.equal(code(() => splitPath('/a/' + 'y'.repeat(256))), 'ENAMETOOLONG');
  assert.equal(code(() => splitPath('/a\0')), 'EINVAL');
});

test('ttl cache expires entries and can be disabled', () => {
  let now = 0;
  const clock = { now: () => now, wallTime: (): [number, number] => [0, 0] };
  const c = new TtlCache<string, number>(100, clock);
  c.set('a', 1);
  assert.equal(c.get('a'), 1);
  now = 100;
  assert.equal(c.get('a'), undefined);
  const off = new TtlCache<string, number>(0, clock);
  off.set('a', 1);
  assert.equal(off.get('a'), undefined);
});
