// The KvStore conformance suite on the embedded and memory engines, plus the embedded store's
// file handling: torn tails, corruption, compaction, the directory lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, appendFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurveError, StatusCode } from '../../src/common/index.ts';
import { EmbeddedStore, MemoryStore, LOG_FILE, LOG_MIRROR_FILE, SNAP_FILE, SNAP_MIRROR_FILE, type KvStore } from '../../src/mds/store/index.ts';
import { kvStoreConformance } from '../helpers/kv-store-conformance.ts';

const b = (s: string) => new TextEncoder().encode(s);
const tmp = () => mkdtempSync(join(tmpdir(), 'curvefs-kv-'));

kvStoreConformance('memory', async () => ({ store: new MemoryStore(), prefix: 'p/', cleanup: async () => undefined }));

kvStoreConformance('embedded', async () => {
  const dir = tmp();
  let store: KvStore = await EmbeddedStore.open(dir);
  return {
    get store() {
      return store;
    },
    prefix: 'p/',
    reopen: async () => {
      await store.close();
      store = await EmbeddedStore.open(dir);
      return store;
    },
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

kvStoreConformance('embedded (compacting every write)', async () => {
  const dir = tmp();
  let store: KvStore = await EmbeddedStore.open(dir, { compactBytes: 1 });
  return {
    get store() {
      return store;
    },
    prefix: 'p/',
    reopen: async () => {
      await store.close();
      store = await EmbeddedStore.open(dir, { compactBytes: 1 });
      return store;
    },
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tmp();
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fill(dir: string, n: number, opts = {}): Promise<void> {
  const s = await EmbeddedStore.open(dir, opts);
  for (let i = 0; i < n; i++) await s.txn({ ops: [{ type: 'put', key: `k${i}`, value: b(`v${i}`) }] });
  await s.close();
}

test('embedded: a torn last record is cut at open and reported; earlier records survive', async () => {
  await withDir(async (dir) => {
    await fill(dir, 5);
    const logPath = join(dir, LOG_FILE);
    const full = readFileSync(logPath);
    // Simulate a crash in the middle of appending the 5th record (to both copies of the log).
    const cutAt = full.length - 7;
    writeFileSync(logPath, full.subarray(0, cutAt));
    writeFileSync(join(dir, LOG_MIRROR_FILE), full.subarray(0, cutAt));
    const s = await EmbeddedStore.open(dir);
    assert.ok(s.openReport.tornTailBytes > 0);
    assert.match(s.openReport.tornTailReason ?? '', /declares|less than a record header/);
    assert.equal(await s.revision(), 4);
    assert.equal(await s.get('k4'), undefined);
    assert.ok(await s.get('k3'));
    // The file was cut back to whole records; new writes follow them and survive a reopen.
    await s.txn({ ops: [{ type: 'put', key: 'after', value: b('x') }] });
    await s.close();
    const again = await EmbeddedStore.open(dir);
    assert.equal(again.openReport.tornTailBytes, 0);
    assert.equal(await again.revision(), 5);
    assert.ok(await again.get('after'));
    await again.close();
  });
});

test('embedded: a garbled last record (checksum) is a torn tail', async () => {
  await withDir(async (dir) => {
    await fill(dir, 3);
    const logPath = join(dir, LOG_FILE);
    const buf = readFileSync(logPath);
    buf[buf.length - 2]! ^= 0xff;
    writeFileSync(logPath, buf);
    writeFileSync(join(dir, LOG_MIRROR_FILE), buf);
    const s = await EmbeddedStore.open(dir);
    assert.match(s.openReport.tornTailReason ?? '', /checksum/);
    assert.equal(await s.revision(), 2);
    await s.close();
  });
});

test('embedded: a record corrupt in both copies followed by more records fails the open with MDS_STORAGE_ERROR', async () => {
  await withDir(async (dir) => {
    await fill(dir, 3);
    const logPath = join(dir, LOG_FILE);
    const buf = readFileSync(logPath);
    buf[20]! ^= 0x55; // inside the first record's payload
    writeFileSync(logPath, buf);
    writeFileSync(join(dir, LOG_MIRROR_FILE), buf);
    await assert.rejects(
      () => EmbeddedStore.open(dir),
      (e: unknown) => e instanceof CurveError && e.status === StatusCode.MDS_STORAGE_ERROR && /checksum mismatch at offset 0/.test(e.message),
    );
    // A failed open leaves no lock behind.
    buf[20]! ^= 0x55;
    writeFileSync(logPath, buf);
    writeFileSync(join(dir, LOG_MIRROR_FILE), buf);
    const s = await EmbeddedStore.open(dir);
    assert.equal(await s.revision(), 3);
    await s.close();
  });
});

test('embedded: compaction writes a checked snapshot and empties the log', async () => {
  await withDir(async (dir) => {
    await fill(dir, 50, { compactBytes: 1024 });
    assert.ok(existsSync(join(dir, SNAP_FILE)));
    assert.ok(statSync(join(dir, LOG_FILE)).size < 1024);
    const s = await EmbeddedStore.open(dir);
    assert.ok(s.openReport.snapshotRevision > 0);
    assert.equal(await s.revision(), 50);
    assert.equal((await s.list('k')).length, 50);
    await s.close();
  });
});

test('embedded: a snapshot damaged in both copies is refused, never loaded', async () => {
  await withDir(async (dir) => {
    await fill(dir, 20, { compactBytes: 1 });
    const snapPath = join(dir, SNAP_FILE);
    const buf = readFileSync(snapPath);
    buf[30]! ^= 1;
    writeFileSync(snapPath, buf);
    writeFileSync(join(dir, SNAP_MIRROR_FILE), buf);
    await assert.rejects(() => EmbeddedStore.open(dir), (e: unknown) => e instanceof CurveError && /both copies of the snapshot are damaged: .*kv\.snap: snapshot: checksum mismatch/.test(e.message));
    writeFileSync(snapPath, Buffer.concat([Buffer.from('NOTASNAP'), buf.subarray(8)]));
    writeFileSync(join(dir, SNAP_MIRROR_FILE), Buffer.concat([Buffer.from('NOTASNAP'), buf.subarray(8)]));
    await assert.rejects(() => EmbeddedStore.open(dir), (e: unknown) => e instanceof CurveError && /bad magic/.test(e.message));
  });
});

test('embedded: a crash between snapshot and log truncation replays nothing twice', async () => {
  await withDir(async (dir) => {
    await fill(dir, 10);
    const logBefore = readFileSync(join(dir, LOG_FILE));
    const s = await EmbeddedStore.open(dir);
    await s.compact();
    await s.close();
    // Put the old log back, as if the truncate after the snapshot rename never happened.
    appendFileSync(join(dir, LOG_FILE), logBefore);
    const again = await EmbeddedStore.open(dir);
    assert.equal(again.openReport.replayedRecords, 0);
    assert.equal(await again.revision(), 10);
    assert.equal((await again.get('k9'))?.version, 1);
    await again.close();
  });
});

test('embedded: a second open of the same directory is refused while the first is open', async () => {
  await withDir(async (dir) => {
    const s = await EmbeddedStore.open(dir);
    await assert.rejects(() => EmbeddedStore.open(dir), (e: unknown) => e instanceof CurveError && e.status === StatusCode.BUSY);
    await s.close();
    const again = await EmbeddedStore.open(dir);
    await again.close();
  });
});

test('embedded: a lock left by a dead process is taken over', async () => {
  await withDir(async (dir) => {
    // pid 2^22+1 is above Linux's pid_max default range and never a live process here.
    writeFileSync(join(dir, 'kv.lock'), `${(1 << 22) + 1}\n`);
    const s = await EmbeddedStore.open(dir);
    await s.close();
  });
});

test('[H] scenario 7: a flipped byte in kv.log or kv.snap is repaired from the second copy; both copies bad is a precise error', async () => {
  await withDir(async (dir) => {
    await fill(dir, 20, { compactBytes: 600 });
    const logPath = join(dir, LOG_FILE);
    const snapPath = join(dir, SNAP_FILE);
    assert.ok(statSync(snapPath).size > 0 && statSync(logPath).size > 40, 'a snapshot and a log with records after it');
    const flip = (path: string, at: number): void => {
      const buf = readFileSync(path);
      buf[at]! ^= 0x55;
      writeFileSync(path, buf);
    };
    // One byte inside the first record of the log and one inside the snapshot.
    flip(logPath, 20);
    flip(snapPath, 30);
    const s = await EmbeddedStore.open(dir);
    assert.equal(await s.revision(), 20);
    for (let i = 0; i < 20; i++) assert.equal(new TextDecoder().decode((await s.get(`k${i}`))!.value), `v${i}`);
    assert.deepEqual(s.openReport.repaired.sort(), [LOG_FILE, SNAP_FILE]);
    await s.txn({ ops: [{ type: 'put', key: 'after', value: b('x') }] });
    await s.close();
    // The repair rewrote the damaged copies: a damage of the other copy is repaired in turn.
    const again = await EmbeddedStore.open(dir);
    assert.deepEqual(again.openReport.repaired, []);
    await again.close();
    flip(join(dir, LOG_MIRROR_FILE), 20);
    const third = await EmbeddedStore.open(dir);
    assert.deepEqual(third.openReport.repaired, [LOG_MIRROR_FILE]);
    assert.ok(await third.get('after'));
    for (let i = 0; i < 3; i++) await third.txn({ ops: [{ type: 'put', key: `late${i}`, value: b('y') }] });
    await third.close();
    // The same record damaged in both copies: nothing to repair from, a precise error.
    flip(logPath, 20);
    flip(join(dir, LOG_MIRROR_FILE), 20);
    await assert.rejects(
      () => EmbeddedStore.open(dir),
      (e: unknown) => e instanceof CurveError && e.status === StatusCode.MDS_STORAGE_ERROR && /both copies/.test(e.message),
    );
  });
});

test('embedded: a store written before the mirror (one copy) opens and gains its second copy', async () => {
  await withDir(async (dir) => {
    await fill(dir, 30, { compactBytes: 700 });
    rmSync(join(dir, LOG_MIRROR_FILE));
    rmSync(join(dir, SNAP_MIRROR_FILE));
    const s = await EmbeddedStore.open(dir);
    assert.equal(await s.revision(), 30);
    assert.deepEqual(s.openReport.repaired, []);
    await s.close();
    assert.ok(existsSync(join(dir, SNAP_MIRROR_FILE)) && existsSync(join(dir, LOG_MIRROR_FILE)));
    // From now on a damage of the primary snapshot is repaired from the mirror.
    const buf = readFileSync(join(dir, SNAP_FILE));
    buf[30]! ^= 1;
    writeFileSync(join(dir, SNAP_FILE), buf);
    const again = await EmbeddedStore.open(dir);
    assert.equal(await again.revision(), 30);
    assert.deepEqual(again.openReport.repaired, [SNAP_FILE]);
    await again.close();
  });
});
