// CURVEFS snapshot files on disk: the I/O edge of the pure codec in ../partition/. Writes go to
// a temporary name, are fsynced and renamed into place, so a reader sees the old file or the
// whole new one; reads stream the file in 1 MiB chunks.
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadSnapshot, writeSnapshot, type Partition, type SnapshotSummary } from '../partition/index.ts';

export const READ_CHUNK = 1024 * 1024;

/**
 * The file as a sequence of chunks read into one reused buffer: each chunk is valid only until
 * the next one is requested (the snapshot parser consumes every chunk before asking for more).
 */
export async function* fileChunks(path: string, start = 0): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let pos = start;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** Writes a snapshot of `partitions` (frozen now) to `path` atomically. */
export async function writeSnapshotFile(path: string, partitions: readonly Partition[]): Promise<SnapshotSummary> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  let summary: SnapshotSummary;
  try {
    summary = await writeSnapshot(partitions, {
      write: async (chunk) => {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
      },
    });
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return summary;
}

/** Loads every partition of a snapshot file; throws SnapshotFormatError for a bad file. */
export function loadSnapshotFile(path: string): Promise<Map<number, Partition>> {
  return loadSnapshot(fileChunks(path));
}
