// CPU of the Raft log's own work per entry — buffering, encoding, checksumming — without the
// disk: RaftLog over the real file system for opening, with writes and syncs that return at once.
// Load-independent (process.cpuUsage of this process), so builds compare in one window.
//
//   npx tsx bench/raft-log-cpu.ts [--batches 1,64,1024] [--entries 200000] [--bytes 100] [--rounds 3]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftLog, nodeStorage, type RaftStorage, type StorageFile } from '../src/raft/index.ts';
import { EntryType, type Entry } from '../src/raft/core/types.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const BATCHES = arg('batches', '1,64,1024').split(',').map(Number);
const ENTRIES = Number(arg('entries', '200000'));
const BYTES = Number(arg('bytes', '100'));
const ROUNDS = Number(arg('rounds', '3'));

/** The real files, but writes and syncs return at once: what is left is the log's CPU. */
function noDisk(base: RaftStorage): RaftStorage {
  return {
    ...base,
    async open(path, mode, opts) {
      const f = await base.open(path, mode, opts);
      const fake: StorageFile = {
        read: (b, o, l, p) => f.read(b, o, l, p),
        write: (_d, _o, l) => Promise.resolve(l),
        writeSync: (_d, _o, l) => l,
        size: () => f.size(),
        allocated: () => f.allocated(),
        truncate: (l) => f.truncate(l),
        datasync: () => Promise.resolve(),
        sync: () => Promise.resolve(),
        close: () => f.close(),
      };
      return fake;
    },
  };
}

async function cpuPerEntry(dir: string, batch: number): Promise<number> {
  const { log } = await RaftLog.open(dir, { storage: noDisk(nodeStorage), segmentBytes: 1 << 30 });
  const data = new Uint8Array(BYTES).fill(7);
  let index = log.lastIndex + 1 || 1;
  const t0 = process.cpuUsage();
  for (let n = 0; n < ENTRIES; n += batch) {
    const entries: Entry[] = [];
    for (let k = 0; k < batch; k++) entries.push({ index: index++, term: 1, type: EntryType.Normal, data });
    log.append(entries);
    log.setHardState({ term: 1, vote: 1, commit: index - 1 });
    await log.sync();
  }
  const u = process.cpuUsage(t0);
  await log.close();
  return (u.user + u.system) / ENTRIES;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'raft-log-cpu-'));
  try {
    console.log(`raft-log-cpu: ${ENTRIES} entries of ${BYTES} B per level, ${ROUNDS} rounds; CPU µs per entry (append + hard state + sync, no disk)`);
    for (let r = 0; r < ROUNDS; r++) {
      const cells: string[] = [];
      for (const b of BATCHES) cells.push(`batch ${b}: ${(await cpuPerEntry(join(root, `r${r}-b${b}`), b)).toFixed(3)}`);
      console.log(`round ${r + 1}  ${cells.join('   ')}`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
