// A copyset image carries the Raft members' addresses: a replica that installs it (instead of the
// log entries that added those members) learns how to reach them. A malformed address rejects
// the image before anything is loaded; an image without addresses loads with none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CopysetStateMachine } from '../../src/metaserver/copyset/state-machine.ts';
import { captureSnapshot, loadCopysetSnapshot, CopysetSnapshotError, type MemberAddress } from '../../src/metaserver/copyset/snapshot.ts';

async function image(members?: MemberAddress[]): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  await captureSnapshot(new CopysetStateMachine(1, 7), members)({ write: (c) => void chunks.push(c.slice()) });
  return chunks;
}

test('the members in an image reach the loader', async () => {
  const members = [
    { id: 3, address: '127.0.0.1:7003' },
    { id: 9, address: 'ms-9.example:16701' },
  ];
  let seen: MemberAddress[] | undefined;
  const sm = await loadCopysetSnapshot(1, 7, await image(members), (m) => (seen = m));
  assert.equal(sm.copysetId, 7);
  assert.deepEqual(seen, members);
});

test('an image without members loads with none', async () => {
  let seen: MemberAddress[] | undefined;
  await loadCopysetSnapshot(1, 7, await image(), (m) => (seen = m));
  assert.deepEqual(seen, []);
});

test('a malformed member address rejects the image and reports nothing', async () => {
  for (const bad of [{ id: 0, address: '127.0.0.1:1' }, { id: 4, address: 'no-port' }, { id: 4, address: '' }]) {
    let called = false;
    await assert.rejects(
      loadCopysetSnapshot(1, 7, await image([bad]), () => (called = true)),
      (e: unknown) => e instanceof CopysetSnapshotError && /bad member address/.test(e.message),
    );
    assert.equal(called, false);
  }
});
