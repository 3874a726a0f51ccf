// A copyset replica that cannot open (damaged Raft log) must not take the metaserver's other
// copysets down with it: it is set aside as broken (reported to the MDS by the heartbeat) and its
// files are deleted only when the MDS says it is no longer a member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { PeerSchema } from '../../src/gen/common_pb.ts';
import { CopysetManager, localGroupFactory, type GroupFactory } from '../../src/metaserver/copyset/manager.ts';

const peers = [1, 2, 3].map((id) => create(PeerSchema, { id, address: `127.0.0.1:${6700 + id}` }));

test('a replica that cannot open is set aside as broken; the others open; its files go only when dropped', async () => {
  const destroyed: string[] = [];
  let damaged = true;
  const damage = 'raft log d is damaged: 00000000000000000001.seg at offset 82: record checksum mismatch';
  const factory: GroupFactory = {
    async open(cs, p) {
      if (cs.copysetId === 2 && damaged) throw new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, damage);
      return localGroupFactory.open(cs, p);
    },
    async destroy() {},
    async existing() {
      return [1, 2, 3].map((copysetId) => ({ poolId: 1, copysetId, peers }));
    },
    async destroyBroken(poolId, copysetId) {
      destroyed.push(`${poolId}-${copysetId}`);
      damaged = false;
    },
  };
  const m = new CopysetManager(factory);
  assert.equal(await m.reopenExisting(), 2);
  assert.deepEqual(m.list().map((c) => c.copysetId), [1, 3]);
  const broken = m.broken();
  assert.equal(broken.length, 1);
  assert.deepEqual([broken[0]!.poolId, broken[0]!.copysetId], [1, 2]);
  assert.match(broken[0]!.error, /00000000000000000001\.seg at offset 82/);
  // Creating it again here is refused while the broken replica's files are in place.
  await assert.rejects(m.create(1, 2, peers), /broken replica/);
  assert.deepEqual(destroyed, []);
  assert.equal(await m.dropBroken(1, 2), true);
  assert.deepEqual(destroyed, ['1-2']);
  assert.deepEqual(m.broken(), []);
  assert.equal(await m.dropBroken(1, 2), false);
  // Now it may be created anew (e.g. the MDS places a fresh replica here later).
  await m.create(1, 2, peers);
  assert.deepEqual(m.list().map((c) => c.copysetId), [1, 2, 3]);
});

test('a running replica whose storage failed is closed (files kept) and set aside as broken', async () => {
  const closed: number[] = [];
  const factory: GroupFactory = {
    open: (cs, p) => localGroupFactory.open(cs, p),
    async destroy() {},
    async close(cs) {
      closed.push(cs.copysetId);
    },
    async destroyBroken() {},
  };
  const m = new CopysetManager(factory);
  const cs = await m.create(1, 5, peers);
  await m.create(1, 6, peers);
  m.failed(cs.groupId, 'raft log failed: ENOSPC: no space left on device, write');
  m.failed(cs.groupId, 'again'); // once only
  assert.equal(m.get(1, 5), undefined, 'requests for it find no copyset (clients go to another replica)');
  assert.deepEqual(m.list().map((c) => c.copysetId), [6]);
  assert.deepEqual(m.broken().map((b) => [b.copysetId, b.error]), [[5, 'raft log failed: ENOSPC: no space left on device, write']]);
  assert.deepEqual(closed, [5]);
  await assert.rejects(m.create(1, 5, peers), /broken replica/);
  assert.equal(await m.dropBroken(1, 5), true);
});
