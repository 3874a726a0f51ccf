// FileHandle's write-behind: flushes store their objects concurrently and in any order, yet
// slices reach the block map in write order; a failed flush is reported once and nothing written
// after it is committed; the caller's buffer may be reused as soon as write resolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { InodeAttrSchema, InodeSchema, type ChunkSlice } from '../../src/gen/metaserver_pb.ts';
import { FileHandle, SpaceGuard, type BlockMap, type FileData, type FsCore, type Slice } from '../../src/client/index.ts';
import { CurveError, SeededRandom, StatusCode } from '../../src/common/index.ts';

const CHUNK = 2 ** 40; // one chunk: every slice is in chunk 0, the map's list order is commit order

/**
 * A data layer whose writes complete when the test's scheduler says so (in a seeded random
 * order), keeping a copy of the bytes each slice stored; reads overlay the block map.
 */
class ShuffledData implements FileData {
  readonly layout = { chunkSize: CHUNK, blockSize: 4096 };
  readonly objects = new Map<number, Uint8Array>();
  private nextId = 1;
  private pending: Array<() => void> = [];
  private running = true;
  failOnWrite = 0;
  writes = 0;

  constructor(private readonly random: SeededRandom) {
    const pump = () => {
      if (!this.running) return;
      if (this.pending.length) {
        const i = Math.floor(this.random.next() * this.pending.length);
        this.pending.splice(i, 1)[0]!();
      }
      setImmediate(pump);
    };
    setImmediate(pump);
  }

  stop(): void {
    this.running = false;
  }

  write(_ino: number, offset: number, data: Uint8Array): Promise<Slice[]> {
    const n = ++this.writes;
    const chunkId = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.push(() => {
        if (n === this.failOnWrite) return reject(new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `write ${n} failed`));
        // Copied only now, when the store "runs": a buffer reused too early would show here.
        this.objects.set(chunkId, Uint8Array.from(data));
        resolve([{ chunkId, compaction: 0, offset, len: data.length, size: data.length, zero: false }]);
      });
    });
  }

  async read(_ino: number, map: BlockMap, fileLength: number, offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.min(length, fileLength - offset));
    for (const s of map.get(0) ?? []) {
      const bytes = this.objects.get(s.chunkId)!;
      for (let i = 0; i < s.len; i++) {
        const at = s.offset + i - offset;
        if (at >= 0 && at < out.length) out[at] = bytes[i]!;
      }
    }
    return out;
  }
}

/** The metadata side: appendChunks records the commit order. */
function fakeCore() {
  const commits: number[][] = [];
  let length = 0;
  const core = {
    // Capacity unlimited: the handle only counts its growth (settled at commit, given back on failure).
    space: new SpaceGuard(),
    async appendChunks(ino: number, slices: ChunkSlice[], minLength: number) {
      commits.push(slices.map((s) => s.chunkId));
      for (const s of slices) length = Math.max(length, s.offset + s.len);
      length = Math.max(length, minLength);
      return create(InodeAttrSchema, { inodeId: ino, length });
    },
  };
  return { core: core as unknown as FsCore, commits };
}

const emptyInode = () => create(InodeSchema, { attr: create(InodeAttrSchema, { inodeId: 7, length: 0 }) });

for (const seed of [1, 2, 3, 4]) {
  test(`write-behind keeps the bytes and the commit order (seed ${seed})`, async () => {
    const random = new SeededRandom(seed);
    const data = new ShuffledData(random);
    const { core, commits } = fakeCore();
    const fh = new FileHandle(core, data, emptyInode(), { maxBufferBytes: 1000, append: false, flushesInFlight: 3 });
    const want = new Uint8Array(20_000);
    const callerBuf = new Uint8Array(4000); // reused for every write, as FUSE and the CLI do
    try {
      let end = 0;
      for (let i = 0; i < 60; i++) {
        // Mostly sequential writes, sometimes an overwrite further back.
        const at = random.next() < 0.2 ? Math.floor(random.next() * end) : end;
        const len = 1 + Math.floor(random.next() * 2500);
        if (at + len > want.length) break;
        for (let j = 0; j < len; j++) callerBuf[j] = Math.floor(random.next() * 256);
        want.set(callerBuf.subarray(0, len), at);
        await fh.write(at, callerBuf.subarray(0, len));
        callerBuf.fill(0xee); // the handle must have copied what it needs
        end = Math.max(end, at + len);
        assert.equal(fh.size, end, 'size counts bytes still being flushed');
      }
      await fh.flush();
      const got = await fh.read(0, end);
      assert.deepEqual(got, want.subarray(0, end));
      const order = commits.flat();
      assert.deepEqual(order, [...order].sort((a, b) => a - b), 'slices committed in write order');
      assert.equal(core.space.used, end, 'the growth counted against the capacity is the length');
      await fh.close();
    } finally {
      data.stop();
    }
  });
}

test('a failed flush is reported once and nothing written after it is committed', async () => {
  const data = new ShuffledData(new SeededRandom(9));
  data.failOnWrite = 2;
  const { core, commits } = fakeCore();
  const fh = new FileHandle(core, data, emptyInode(), { maxBufferBytes: 100, append: false, flushesInFlight: 4 });
  try {
    const block = new Uint8Array(100).fill(1);
    // Four full buffers: flushes 1..4 start without waiting (four may be in flight).
    for (let i = 0; i < 4; i++) await fh.write(i * 100, block);
    await assert.rejects(fh.flush(), (e: CurveError) => e.status === StatusCode.STORAGE_INTERNAL_ERROR);
    assert.deepEqual(commits, [[1]], 'only the flush before the failure is in the block map');
    await fh.flush(); // reported once
    await fh.write(400, block);
    await fh.close();
    assert.deepEqual(commits, [[1], [5]]);
    // Counted: the committed 100 bytes, then 400 of growth to 500; the failed flushes gave theirs back.
    assert.equal(core.space.used, 500);
  } finally {
    data.stop();
  }
});

test('append mode writes after bytes still being flushed', async () => {
  const data = new ShuffledData(new SeededRandom(5));
  const { core } = fakeCore();
  const fh = new FileHandle(core, data, emptyInode(), { maxBufferBytes: 10, append: true, flushesInFlight: 4 });
  try {
    for (let i = 0; i < 10; i++) await fh.write(null, new Uint8Array(7).fill(i + 1));
    await fh.flush();
    const got = await fh.read(0, 70);
    assert.deepEqual(got, Uint8Array.from({ length: 70 }, (_, j) => Math.floor(j / 7) + 1));
    await fh.close();
  } finally {
    data.stop();
  }
});
