// Small helpers for crash-safe file handling shared by the Raft log and snapshot stores.
import { access, open, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** Makes the directory's entries (creates, renames, deletes) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Renames `from` to `to` and syncs the directory, so the new name survives a crash. */
export async function durableRename(from: string, to: string, dir: string): Promise<void> {
  await rename(from, to);
  await fsyncDir(dir);
}

/** Writes all of `data` at `position`, looping over short writes. */
export async function writeFully(
  fh: import('node:fs/promises').FileHandle,
  data: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Renames `name` in `dir` to `name` + `suffix` (".cut", ".corrupt") to set it aside, adding a
 * counter when an earlier file was set aside under the same name, so no evidence is overwritten.
 * Returns the new name.
 */
export async function setAside(dir: string, name: string, suffix: string): Promise<string> {
  for (let n = 0; ; n++) {
    const target = n === 0 ? `${name}${suffix}` : `${name}${suffix}.${n}`;
    try {
      await access(join(dir, target));
    } catch {
      await rename(join(dir, name), join(dir, target));
      return target;
    }
  }
}
