// Request latency while a copyset snapshot of 1,000,000 files is written (issue [C]: "writing a
// snapshot must not stall requests"). One metaserver in this process holds a copyset whose state
// is 1,000 directories × 1,000 files; a separate load process (bench/metaserver-load.ts) runs
// lookups and creates at 16 callers, first with no snapshot, then while the copyset's snapshot
// image (the same capture-and-stream code the Raft driver runs: copy-on-write views of the
// partitions, chunks written with awaits in between) is written to a file and fsynced.
//
//   npx tsx bench/metaserver-snapshot.ts            (SNAP_FILES=1000000 by default)
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { FileType, PartitionInfoSchema } from '../src/gen/common_pb.ts';
import { CopysetService, CreateFileRequestSchema, CreatePartitionRequestSchema, CreateRootInodeRequestSchema } from '../src/gen/metaserver_pb.ts';
import { ChannelPool } from '../src/rpc/index.ts';
import { MetaServer } from '../src/metaserver/server.ts';
import { localGroupFactory } from '../src/metaserver/copyset/manager.ts';
import { encodeOp, OpType } from '../src/metaserver/copyset/op-codec.ts';
import { captureSnapshot } from '../src/metaserver/copyset/snapshot.ts';
import { runLoad as load, type LoadJob } from './metaserver-load.ts';

const FILES = Number(process.env.SNAP_FILES ?? 1_000_000);
const PER_DIR = 1000;
const dir = mkdtempSync(join(tmpdir(), 'ms-snap-'));
const P = { poolId: 1, copysetId: 1, partitionId: 1, fsId: 1 };

async function writeSnapshotFile(server: MetaServer, path: string): Promise<{ ms: number; bytes: number }> {
  const cs = server.manager.get(1, 1)!;
  const t0 = performance.now();
  const write = captureSnapshot(cs.sm);
  const fh = await open(path, 'w');
  let bytes = 0;
  try {
    await write({
      write: async (chunk) => {
        bytes += chunk.length;
        await fh.write(chunk);
      },
    });
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { ms: performance.now() - t0, bytes };
}

async function main(): Promise<void> {
  console.error(`load average at start: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const server = new MetaServer({ listen: '127.0.0.1:0', id: 1, groups: () => localGroupFactory });
  await server.start();
  const pool = new ChannelPool();
  await pool.client(CopysetService, server.address).createCopysetNode({ copysets: [{ poolId: 1, copysetId: 1, peers: [server.self()] }] });
  const cs = server.manager.get(1, 1)!;
  // Fill the state directly through apply (the same entries a log would carry), fast.
  let index = 1_000_000;
  const apply = (type: OpType, msg: unknown) => {
    const r = cs.apply(++index, encodeOp(type as never, msg as never));
    if (r.status !== 0) throw new Error(`fill failed: ${r.message}`);
    return r as { inode?: { inodeId: number } };
  };
  const t0 = performance.now();
  apply(OpType.CreatePartition, create(CreatePartitionRequestSchema, { partition: create(PartitionInfoSchema, { ...P, start: 0, end: 1 << 22 }) }));
  apply(OpType.CreateRootInode, create(CreateRootInodeRequestSchema, { p: P, mode: 0o755, time: { sec: 1, nsec: 0 } }));
  const dirs: number[] = [];
  for (let d = 0; d * PER_DIR < FILES; d++) {
    const ino = apply(OpType.CreateFile, create(CreateFileRequestSchema, { p: P, parent: 1, name: `d${d}`, type: FileType.TYPE_DIRECTORY, mode: 0o755, time: { sec: 1, nsec: 0 } })).inode!.inodeId;
    dirs.push(ino);
    for (let f = 0; f < PER_DIR && d * PER_DIR + f < FILES; f++) {
      apply(OpType.CreateFile, create(CreateFileRequestSchema, { p: P, parent: ino, name: `n${f}`, type: FileType.TYPE_S3, mode: 0o644, time: { sec: 1, nsec: 0 } }));
    }
    if (d % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  console.error(`filled ${FILES} files in ${((performance.now() - t0) / 1000).toFixed(1)} s; heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);

  // Snapshot alone, to size the load window.
  const dry = await writeSnapshotFile(server, join(dir, 'dry.snap'));
  console.error(`snapshot alone: ${(dry.ms / 1000).toFixed(2)} s, ${(dry.bytes / 2 ** 20).toFixed(1)} MiB`);
  const seconds = Math.max(5, Math.ceil(dry.ms / 1000) + 2);
  const job = (op: LoadJob['op'], tag: string): LoadJob => ({
    system: 'curvefs',
    op,
    concurrency: 16,
    seconds,
    warmupSeconds: 1,
    prefix: `${op}-${tag}`,
    curvefs: { members: [server.address], p: P, createDir: dirs[0]!, lookupDir: dirs[1]!, lookupNames: PER_DIR, listDir: dirs[1]!, clientId: tag === 'quiet' ? 1 : 2 },
  });
  const rows: string[] = [];
  for (const op of ['lookup', 'createFile'] as const) {
    const quiet = await load(job(op, 'quiet'));
    const during = load(job(op, 'snap'));
    // Start the snapshot once the load's warm-up is over.
    await new Promise((r) => setTimeout(r, 1500));
    const snap = await writeSnapshotFile(server, join(dir, `${op}.snap`));
    const r = await during;
    rows.push(`| ${op} | ${quiet.rate.toFixed(0)} | ${quiet.p50us} | ${quiet.p99us} | ${r.rate.toFixed(0)} | ${r.p50us} | ${r.p99us} | ${r.maxus} | ${(snap.ms / 1000).toFixed(2)} |`);
    console.error(`${op}: quiet p99 ${quiet.p99us} µs; during snapshot p99 ${r.p99us} µs max ${r.maxus} µs; snapshot ${(snap.ms / 1000).toFixed(2)} s`);
  }
  console.log(`files: ${FILES}; snapshot: ${(dry.bytes / 2 ** 20).toFixed(1)} MiB written in ${(dry.ms / 1000).toFixed(2)} s alone`);
  console.log('| op (16 callers) | quiet ops/s | p50 µs | p99 µs | during snapshot ops/s | p50 µs | p99 µs | max µs | snapshot s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  console.log(`load average at end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  pool.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
