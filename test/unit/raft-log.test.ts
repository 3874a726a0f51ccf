import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, readdir, rm, truncate, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { RaftLog, LogDamagedError, SEGMENT_HEADER_BYTES } from '../../src/raft/log/index.ts';
import { encodeEntryRecord } from '../../src/raft/log/format.ts';
import type { Entry, HardState } from '../../src/raft/core/types.ts';
import { crc32c, type Logger } from '../../src/common/index.ts';

// The cuts these tests provoke are expected: keep their warnings out of the test output.
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

const te = new TextEncoder();
const entry = (index: number, term: number, text = `e${index}t${term}`): Entry => ({ index, term, type: 0, data: te.encode(text) });
const range = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'raft-log-'));
}

function sameEntries(a: Entry[], b: Entry[]): void {
  assert.deepEqual(
    a.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]),
    b.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]),
  );
}

test('round trip: entries and hard state survive a restart', async () => {
  const dir = await tmp();
  const { log, entries, hardState, report } = await RaftLog.open(dir, { logger: quiet });
  assert.deepEqual(entries, []);
  assert.deepEqual(hardState, { term: 0, vote: 0, commit: 0 });
  assert.deepEqual(report.cuts, []);
  log.append(range(1, 100, 1));
  log.setHardState({ term: 1, vote: 2, commit: 50 });
  await log.sync();
  log.append([entry(101, 2, 'x'.repeat(5000))]);
  log.setHardState({ term: 2, vote: 3, commit: 101 });
  await log.sync();
  await log.close();
  const r = await RaftLog.open(dir, { logger: quiet });
  sameEntries(r.entries, [...range(1, 100, 1), entry(101, 2, 'x'.repeat(5000))]);
  assert.deepEqual(r.hardState, { term: 2, vote: 3, commit: 101 });
  assert.deepEqual(r.report.cuts, []);
  assert.equal(r.log.lastIndex, 101);
  await r.log.close();
  await rm(dir, { recursive: true });
});

test('records buffered but never synced are not in the log after a restart', async () => {
  const dir = await tmp();
  const { log } = await RaftLog.open(dir, { logger: quiet });
  log.append(range(1, 3, 1));
  await log.sync();
  log.append(range(4, 6, 1));
  await log.close();
  const r = await RaftLog.open(dir, { logger: quiet });
  sameEntries(r.entries, range(1, 3, 1));
  await r.log.close();
  await rm(dir, { recursive: true });
});

test('a conflicting suffix is replaced, by overlapping append or by truncateSuffix', async () => {
  const dir = await tmp();
  const { log } = await RaftLog.open(dir, { logger: quiet });
  log.append(range(1, 10, 1));
  await log.sync();
  log.append(range(6, 8, 2));
  await log.sync();
  assert.equal(log.lastIndex, 8);
  await log.close();
  let r = await RaftLog.open(dir, { logger: quiet });
  sameEntries(r.entries, [...range(1, 5, 1), ...range(6, 8, 2)]);
  r.log.truncateSuffix(4);
  await r.log.sync();
  assert.equal(r.log.lastIndex, 3);
  assert.throws(() => r.log.append([entry(9, 3)]), /gap/);
  r.log.append([entry(4, 3)]);
  await r.log.sync();
  await r.log.close();
  r = await RaftLog.open(dir, { logger: quiet });
  sameEntries(r.entries, [...range(1, 3, 1), entry(4, 3)]);
  await r.log.close();
  await rm(dir, { recursive: true });
});

test('segments rotate, and compaction drops whole segments below the snapshot index', async () => {
  const dir = await tmp();
  const opts = { segmentBytes: 1024 };
  const { log } = await RaftLog.open(dir, { ...opts, logger: quiet });
  for (let i = 0; i < 20; i++) {
    log.append(range(i * 20 + 1, i * 20 + 20, 1));
    log.setHardState({ term: 1, vote: 1, commit: i * 20 + 20 });
    await log.sync();
  }
  assert.ok(log.segmentCount > 5, `${log.segmentCount} segments`);
  const before = log.segmentCount;
  const removed = await log.compactPrefix(200);
  assert.ok(removed > 0 && removed < before);
  await log.close();
  const r = await RaftLog.open(dir, { ...opts, logger: quiet });
  assert.ok(r.entries[0]!.index > 1 && r.entries[0]!.index <= 201, `first ${r.entries[0]!.index}`);
  sameEntries(r.entries, range(r.entries[0]!.index, 400, 1));
  // The hard state survives even though the segments it was first written to are gone.
  assert.deepEqual(r.hardState, { term: 1, vote: 1, commit: 400 });
  assert.equal((await readdir(dir)).filter((n) => n.endsWith('.seg')).length, before - removed);
  await r.log.close();
  await rm(dir, { recursive: true });
});

test('a record larger than a segment gets a segment of its own', async () => {
  const dir = await tmp();
  const opts = { segmentBytes: 4096 };
  const { log } = await RaftLog.open(dir, { ...opts, logger: quiet });
  const big = entry(2, 1, 'b'.repeat(10000));
  log.append([entry(1, 1), big, entry(3, 1)]);
  await log.sync();
  await log.close();
  const r = await RaftLog.open(dir, { ...opts, logger: quiet });
  sameEntries(r.entries, [entry(1, 1), big, entry(3, 1)]);
  await r.log.close();
  await rm(dir, { recursive: true });
});

test('resetTo empties the log; earlier segments become deletable whatever their indexes', async () => {
  const dir = await tmp();
  const opts = { segmentBytes: 2048 };
  const { log } = await RaftLog.open(dir, { ...opts, logger: quiet });
  log.append(range(1, 100, 1));
  await log.sync();
  log.resetTo(50, 3);
  log.setHardState({ term: 3, vote: 0, commit: 50 });
  await log.sync();
  await log.close();
  let r = await RaftLog.open(dir, { ...opts, logger: quiet });
  assert.deepEqual(r.entries, []);
  assert.deepEqual(r.base, { index: 50, term: 3 });
  assert.equal(r.log.lastIndex, 50);
  r.log.append(range(51, 60, 3));
  await r.log.sync();
  const removed = await r.log.compactPrefix(50);
  assert.ok(removed > 0);
  await r.log.close();
  r = await RaftLog.open(dir, { ...opts, logger: quiet });
  sameEntries(r.entries, range(51, 60, 3));
  assert.deepEqual(r.hardState, { term: 3, vote: 0, commit: 50 });
  await r.log.close();
  await rm(dir, { recursive: true });
});

/** Writes entries 1..n in one segment; returns the segment path and each record's offset. */
async function writeLog(dir: string, n: number, opts = {}): Promise<{ path: string; offsets: number[] }> {
  const { log } = await RaftLog.open(dir, { ...opts, logger: quiet });
  const offsets: number[] = [];
  let off = SEGMENT_HEADER_BYTES;
  for (let i = 1; i <= n; i++) {
    offsets.push(off);
    off += encodeEntryRecord(entry(i, 1)).length;
    log.append([entry(i, 1)]);
    await log.sync();
  }
  offsets.push(off);
  await log.close();
  const seg = (await readdir(dir)).find((x) => x.endsWith('.seg'))!;
  return { path: join(dir, seg), offsets };
}

test('a torn last record is cut and reported at every byte offset (preallocated file)', async () => {
  const dir = await tmp();
  const opts = { segmentBytes: 4096, preallocate: 'zeros' as const };
  const { path, offsets } = await writeLog(dir, 5, opts);
  const pristine = await readFile(path);
  const start = offsets[4]!, end = offsets[5]!;
  for (let k = 0; k < end - start; k++) {
    const torn = Buffer.from(pristine);
    torn.fill(0, start + k, end); // the bytes of the record after k never reached the disk
    await writeFile(path, torn);
    const r = await RaftLog.open(dir, { ...opts, logger: quiet });
    sameEntries(r.entries, range(1, 4, 1));
    if (k === 0) assert.deepEqual(r.report.cuts, [], 'nothing of the record was written: a clean end');
    else {
      assert.equal(r.report.cuts.length, 1, `offset ${k}`);
      assert.equal(r.report.cuts[0]!.offset, start);
      assert.equal(r.report.cuts[0]!.recordsBefore, 4);
    }
    // The cut is durable: the log reopens clean and takes new entries where the cut was.
    r.log.append([entry(5, 2)]);
    await r.log.sync();
    await r.log.close();
    const again = await RaftLog.open(dir, { ...opts, logger: quiet });
    assert.deepEqual(again.report.cuts, []);
    sameEntries(again.entries, [...range(1, 4, 1), entry(5, 2)]);
    await again.log.close();
  }
  await rm(dir, { recursive: true });
});

test('a torn last record at the end of the file is cut at every byte offset (grown file)', async () => {
  const dir = await tmp();
  // A segment size smaller than the records makes the file grow, so a tear shortens the file.
  const { offsets } = await writeLog(dir, 5, { segmentBytes: 40 });
  const files = (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
  assert.equal(files.length, 5);
  const last = join(dir, files[4]!);
  const pristine = await readFile(last);
  const recStart = SEGMENT_HEADER_BYTES + (pristine.length - SEGMENT_HEADER_BYTES - (offsets[5]! - offsets[4]!));
  for (let k = 1; k < pristine.length - recStart; k++) {
    await writeFile(last, pristine.subarray(0, recStart + k));
    const r = await RaftLog.open(dir, { segmentBytes: 40, logger: quiet });
    sameEntries(r.entries, range(1, 4, 1));
    assert.equal(r.report.cuts.length, 1, `offset ${k}`);
    await r.log.close();
  }
  await rm(dir, { recursive: true });
});

test('a flipped byte in any record but a torn final one stops the open, naming the file and offset', async () => {
  const dir = await tmp();
  const small = { segmentBytes: 4096 };
  const { path, offsets } = await writeLog(dir, 6, small);
  const pristine = await readFile(path);
  const seg = path.slice(dir.length + 1);
  // Every byte of record 3 of 6 (synced long ago; records 4..6 follow it), three bit positions:
  // type, length, payload and checksum damage are all refused, the file is left untouched.
  for (let pos = offsets[2]!; pos < offsets[3]!; pos++) {
    for (const bit of [0x01, 0x40, 0x80]) {
      const bad = Buffer.from(pristine);
      bad[pos]! ^= bit;
      await writeFile(path, bad);
      await assert.rejects(RaftLog.open(dir, { ...small, logger: quiet }), (e: Error) => {
        assert.ok(e instanceof LogDamagedError, String(e));
        assert.equal(e.segment, seg);
        assert.equal(e.offset, offsets[2], `byte ${pos - offsets[2]!} bit ${bit}: ${e.message}`);
        return true;
      });
      assert.deepEqual(await readFile(path), bad, 'nothing cut or zeroed');
    }
  }
  await rm(dir, { recursive: true });

  // With several segments, damage in any but the last is refused, wherever it is.
  const dir2 = await tmp();
  const opts = { segmentBytes: 200 };
  const { log } = await RaftLog.open(dir2, { ...opts, logger: quiet });
  for (let i = 1; i <= 30; i++) {
    log.append([entry(i, 1)]);
    await log.sync();
  }
  await log.close();
  const segs = (await readdir(dir2)).filter((n) => n.endsWith('.seg')).sort();
  assert.ok(segs.length >= 4);
  const second = join(dir2, segs[1]!);
  const b = await readFile(second);
  b[SEGMENT_HEADER_BYTES + 3]! ^= 1;
  await writeFile(second, b);
  await assert.rejects(RaftLog.open(dir2, { ...opts, logger: quiet }), new RegExp(`${segs[1]!.replace('.', '\\.')} at offset ${SEGMENT_HEADER_BYTES}: .*later segment`));
  assert.deepEqual((await readdir(dir2)).sort(), segs, 'no segment set aside');
  await rm(dir2, { recursive: true });
});

test('a torn final write whose middle sector did not land is cut; a lost last sector too', async () => {
  const dir = await tmp();
  const opts = { segmentBytes: 8192, preallocate: 'zeros' as const, logger: quiet };
  const { log } = await RaftLog.open(dir, opts);
  log.append(range(1, 3, 1));
  await log.sync();
  // One write of two records spanning sectors 1..5 of the file.
  const big = (i: number) => entry(i, 1, String(i).repeat(1000));
  log.append([big(4), big(5)]);
  await log.sync();
  await log.close();
  const path = join(dir, (await readdir(dir)).find((n) => n.endsWith('.seg'))!);
  const pristine = await readFile(path);
  const start = SEGMENT_HEADER_BYTES + 3 * encodeEntryRecord(entry(1, 1)).length;
  const end = start + 2 * encodeEntryRecord(big(4)).length;
  for (let sector = Math.ceil(start / 512); sector * 512 < end; sector++) {
    const torn = Buffer.from(pristine);
    torn.fill(0, sector * 512, sector * 512 + 512); // this sector of the last write never landed
    await writeFile(path, torn);
    const r = await RaftLog.open(dir, opts);
    assert.equal(r.report.cuts.length, 1, `sector ${sector}`);
    const kept = sector * 512 >= start + encodeEntryRecord(big(4)).length ? [...range(1, 3, 1), big(4)] : range(1, 3, 1);
    sameEntries(r.entries, kept);
    await r.log.close();
    await writeFile(path, pristine);
  }
  await rm(dir, { recursive: true });
});

for (const preallocate of ['truncate', 'zeros'] as const) {
  test(`stale bytes far past a clean end (a torn write whose first sectors were lost) are cleared at open (${preallocate})`, async () => {
    const dir = await tmp();
    const opts = { segmentBytes: 256 * 1024, preallocate, logger: quiet };
    const { log } = await RaftLog.open(dir, opts);
    log.append(range(1, 3, 1));
    await log.sync();
    await log.close();
    const path = join(dir, (await readdir(dir)).find((n) => n.endsWith('.seg'))!);
    const b = await readFile(path);
    // A sector of a write that never finished, far past the end of the records (out of reach of
    // the end-marker probe) and where records never reach before the segment fills up.
    b.fill(0x77, opts.segmentBytes - 512, opts.segmentBytes);
    await writeFile(path, b);
    let r = await RaftLog.open(dir, opts);
    assert.deepEqual(r.report.cuts, []);
    sameEntries(r.entries, range(1, 3, 1));
    // Records now fill the segment up to near the stale sector and go on in the next one; the
    // first segment must still open once it is no longer the last.
    const big = (i: number) => entry(i, 1, 'x'.repeat(4000));
    for (let i = 4; r.log.segmentCount < 2; i++) {
      r.log.append([big(i)]);
      await r.log.sync();
    }
    const last = r.log.lastIndex;
    await r.log.close();
    r = await RaftLog.open(dir, opts);
    assert.equal(r.log.lastIndex, last);
    assert.deepEqual(r.report.cuts, []);
    await r.log.close();
    await rm(dir, { recursive: true });
  });
}

test('a segment with a corrupt header stops the open (segments are created whole, by rename)', async () => {
  const dir = await tmp();
  const { path } = await writeLog(dir, 3);
  const b = await readFile(path);
  b[9]! ^= 1;
  await writeFile(path, b);
  await assert.rejects(RaftLog.open(dir, { logger: quiet }), /offset 0: segment header: header checksum mismatch/);
  assert.deepEqual(await readFile(path), b);
  await rm(dir, { recursive: true });
});

test('a file cut short inside the header stops the open', async () => {
  const dir = await tmp();
  const { path } = await writeLog(dir, 3);
  await truncate(path, 10);
  await assert.rejects(RaftLog.open(dir, { logger: quiet }), /header truncated/);
  assert.equal((await stat(path)).size, 10);
  await rm(dir, { recursive: true });
});

// Restart after each operation: a model of the log (a plain array) against the real one,
// closing and reopening the log after every step.
type Op =
  | { kind: 'append'; back: number; count: number; term: number }
  | { kind: 'hs'; commit: number }
  | { kind: 'truncate'; back: number }
  | { kind: 'compact'; keep: number }
  | { kind: 'reset'; ahead: number };

// Both ways of making a write durable (O_DSYNC writes; pwrite then fdatasync).
for (const syncMode of ['dsync', 'fdatasync'] as const) {
  test(`restart after each operation gives back exactly what was synced (property, ${syncMode})`, async () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), back: fc.nat(5), count: fc.integer({ min: 1, max: 30 }), term: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('hs' as const), commit: fc.nat(1000) }),
      fc.record({ kind: fc.constant('truncate' as const), back: fc.nat(10) }),
      fc.record({ kind: fc.constant('compact' as const), keep: fc.nat(40) }),
      fc.record({ kind: fc.constant('reset' as const), ahead: fc.nat(20) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const dir = await tmp();
        const opts = { segmentBytes: 1024, syncMode };
        let model: Entry[] = [];
        let base = 0;
        let hs: HardState = { term: 0, vote: 0, commit: 0 };
        let term = 1;
        let compacted = 0;
        let known = false; // the log has had an entry or a reset: it knows where it ends
        let { log } = await RaftLog.open(dir, { ...opts, logger: quiet });
        try {
          for (const o of ops) {
            const last = base + model.length;
            if (o.kind === 'append') {
              term = Math.max(term, o.term);
              // Raft never replaces entries a snapshot already covers.
              const from = Math.max(base + 1, compacted + 1, last + 1 - o.back);
              const es = range(from, from + o.count - 1, term);
              log.append(es);
              model = [...model.slice(0, from - 1 - base), ...es];
              known = true;
            } else if (o.kind === 'hs') {
              hs = { term, vote: 1, commit: o.commit };
              log.setHardState(hs);
            } else if (o.kind === 'truncate') {
              const from = Math.max(base + 1, compacted + 1, last + 1 - o.back);
              log.truncateSuffix(from);
              model = model.slice(0, from - 1 - base);
            } else if (o.kind === 'compact') {
              compacted = Math.max(compacted, Math.min(last, base + o.keep));
              await log.sync();
              await log.compactPrefix(compacted);
            } else {
              base = last + o.ahead;
              compacted = Math.max(compacted, base);
              model = [];
              known = true;
              log.resetTo(base, term);
            }
            await log.sync();
            await log.close();
            const r = await RaftLog.open(dir, { ...opts, logger: quiet });
            log = r.log;
            assert.deepEqual(r.report.cuts, []);
            assert.deepEqual(r.hardState, hs);
            // Compaction may keep entries at or below the compaction point: compare the rest.
            const got = r.entries.filter((e) => e.index > compacted);
            const want = model.filter((e) => e.index > compacted);
            sameEntries(got, want);
            if (r.entries.length > 0) assert.ok(r.entries[0]!.index <= compacted + 1);
            assert.equal(log.lastIndex, known ? base + model.length : -1);
          }
        } finally {
          await log.close();
          await rm(dir, { recursive: true });
        }
      }),
      { numRuns: 60 },
    );
  });
}

test('an entry rewritten just before compaction removed its segment is read back (regression, CI seed -1491544268)', async () => {
  const dir = await tmp();
  const opts = { segmentBytes: 1024, logger: quiet };
  let { log } = await RaftLog.open(dir, opts);
  const reopen = async () => {
    await log.sync();
    await log.close();
    const r = await RaftLog.open(dir, opts);
    log = r.log;
    return r;
  };
  try {
    // The counterexample's exact steps: with these sizes the first segment is full after
    // entry 30, so the rewrite of entry 30 opens the second segment.
    log.resetTo(0, 1);
    await reopen();
    log.resetTo(0, 1);
    await reopen();
    log.append(range(1, 30, 1));
    await reopen();
    log.append(range(30, 30, 2));
    await reopen();
    assert.equal(log.segmentCount, 2);
    assert.equal(await log.compactPrefix(30), 1);
    const r = await reopen();
    assert.deepEqual(r.report.cuts, []);
    sameEntries(r.entries.filter((e) => e.index >= 30), range(30, 30, 2));
    assert.equal(log.lastIndex, 30);
    log.resetTo(30, 2);
    const r2 = await reopen();
    assert.equal(r2.entries.length, 0);
    assert.equal(log.lastIndex, 30);
  } finally {
    await log.close();
    await rm(dir, { recursive: true });
  }
});

test('scenario 4: one flipped bit in segment 2 of 16 stops the open with the file and offset, and changes nothing on disk', async () => {
  const dir = await tmp();
  const opts = { segmentBytes: 400, logger: quiet };
  const { log } = await RaftLog.open(dir, opts);
  for (let i = 1; log.segmentCount < 16; i++) {
    log.append([entry(i, 1)]);
    log.setHardState({ term: 1, vote: 1, commit: i });
    await log.sync();
  }
  await log.close();
  const segs = (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
  assert.equal(segs.length, 16);
  const second = join(dir, segs[1]!);
  const b = await readFile(second);
  // The first record after the restated hard state and position: an entry synced long ago.
  const pos = SEGMENT_HEADER_BYTES + 33 + 17 + 9 + 3;
  b[pos]! ^= 0x10;
  await writeFile(second, b);
  const before = await snapshotDir(dir);
  await assert.rejects(RaftLog.open(dir, opts), (e: Error & { code?: number }) => {
    assert.match(e.message, new RegExp(`${segs[1]!.replace('.', '\\.')}.* offset ${SEGMENT_HEADER_BYTES + 33 + 17}\\b`));
    assert.match(e.message, /checksum/);
    return true;
  });
  // Nothing was cut, zeroed or set aside: the evidence stays for whoever repairs the replica.
  assert.deepEqual(await snapshotDir(dir), before);
  await rm(dir, { recursive: true });
});

/** Every file in `dir` with its bytes (hex digest of content), for "nothing changed" checks. */
async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of (await readdir(dir)).sort()) out[n] = createHash('sha256').update(await readFile(join(dir, n))).digest('hex');
  return out;
}

// A crash during the last write leaves any subset of its sectors on disk (the rest read as
// zeros). Whatever the subset, the log must open (the torn tail is cut, never refused) and give
// back everything synced before that write, plus at most a prefix of the write itself.
test('a crash during the last write, any subset of its sectors lost, always opens with what was synced (property)', async () => {
  const letters = fc.stringMatching(/^[a-z]{1,1500}$/);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(letters, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
      fc.array(letters, { minLength: 1, maxLength: 12 }),
      fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
      fc.constantFrom('truncate' as const, 'zeros' as const),
      async (earlier, last, landed, preallocate) => {
        const dir = await tmp();
        const opts = { segmentBytes: 256 * 1024, preallocate, logger: quiet };
        try {
          const { log } = await RaftLog.open(dir, opts);
          let index = 0;
          const synced: Entry[] = [];
          for (const batch of earlier) {
            const es = batch.map((t) => entry(++index, 1, t));
            log.append(es);
            log.setHardState({ term: 1, vote: 1, commit: index });
            await log.sync();
            synced.push(...es);
          }
          const path = join(dir, (await readdir(dir)).find((n) => n.endsWith('.seg'))!);
          const before = await readFile(path);
          const lastEntries = last.map((t) => entry(++index, 1, t));
          log.append(lastEntries);
          await log.sync();
          await log.close();
          const after = await readFile(path);
          // The sectors the last write touched, each landed or lost.
          let first = 0;
          while (first < after.length && before[first] === after[first]) first++;
          let end = after.length;
          while (end > first && before[end - 1] === after[end - 1]) end--;
          const crashed = Buffer.from(before);
          for (let s = Math.floor(first / 512), k = 0; s * 512 < end; s++, k++) {
            if (landed[k % landed.length]) after.copy(crashed, s * 512, s * 512, Math.min(end, s * 512 + 512));
          }
          await writeFile(path, crashed);
          // The one shape refused on purpose: the write began within a record header's length of
          // a sector's end, that sector was lost while the record's other bytes landed (they are
          // zero where the lost ones would be). It reads exactly like a bit flip of a synced
          // record's type byte, which must not be cut (damage.ts); the replica is rebuilt from its
          // peers instead.
          if (512 - (first % 512) <= 9 && !landed[0]) {
            const refused = await RaftLog.open(dir, opts).then(
              async (r) => {
                await r.log.close();
                return false;
              },
              (e: unknown) => e instanceof LogDamagedError,
            );
            if (refused) return;
          }
          const r = await RaftLog.open(dir, opts);
          await r.log.close();
          sameEntries(r.entries.slice(0, synced.length), synced);
          sameEntries(r.entries.slice(synced.length), lastEntries.slice(0, r.entries.length - synced.length));
        } finally {
          await rm(dir, { recursive: true });
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('records carry the CRC-32C of the format (the fast checksum writes the same values the bytewise one did)', () => {
  for (const len of [0, 1, 7, 8, 9, 100, 4097]) {
    const data = new Uint8Array(len).map((_, i) => (i * 31 + len) & 0xff);
    const rec = encodeEntryRecord({ index: 5, term: 2, type: 0, data });
    const end = rec.length - 4;
    const stored = new DataView(rec.buffer, rec.byteOffset, rec.length).getUint32(end, true);
    assert.equal(stored, crc32c(rec.subarray(0, end)), `payload of ${len} bytes`);
  }
});
