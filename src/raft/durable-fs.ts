// Small helpers for crash-safe file handling shared by the Raft log and snapshot stores. All
// I/O goes through a RaftStorage (storage.ts): the real disk, or the simulation's.
import { join } from 'node:path';
import type { RaftStorage, StorageFile } from './storage.ts';

/** Renames `from` to `to` and syncs the directory, so the new name survives a crash. */
export async function durableRename(fs: RaftStorage, from: string, to: string, dir: string): Promise<void> {
  await fs.rename(from, to);
  await fs.syncDir(dir);
}

/** Writes all of `data` at `position`, looping over short writes. */
export async function writeFully(fh: StorageFile, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    done += await fh.write(data, done, data.length - done, position + done);
  }
}

/** writeFully on the calling thread (StorageFile.writeSync). */
export function writeFullySync(write: NonNullable<StorageFile['writeSync']>, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += write(data, done, data.length - done, position + done);
}

/**
 * Renames `name` in `dir` to `name` + `suffix` (".cut", ".corrupt") to set it aside, adding a
 * counter when an earlier file was set aside under the same name, so no evidence is overwritten.
 * Returns the new name.
 */
export async function setAside(fs: RaftStorage, dir: string, name: string, suffix: string): Promise<string> {
  for (let n = 0; ; n++) {
    const target = n === 0 ? `${name}${suffix}` : `${name}${suffix}.${n}`;
    if (!(await fs.exists(join(dir, target)))) {
      await fs.rename(join(dir, name), join(dir, target));
      return target;
    }
  }
}
