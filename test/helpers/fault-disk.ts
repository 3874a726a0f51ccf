// The full-disk nemesis of the fault suite (docs/testing.md): each metaserver keeps its files on
// a small tmpfs of its own, mounted before it starts (so the mount namespace `ip netns exec`
// gives it has the tmpfs too, and a file written here fills the same filesystem); fill() writes
// a filler file until ENOSPC, free() deletes it.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Mounts a tmpfs of `sizeMiB` at `dir` (created if missing). */
export function mountTmpfs(dir: string, sizeMiB: number): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir]);
}

/** Unmounts it; lazily if a process still holds a file there (it goes when that process does). */
export function unmountTmpfs(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  }
}

const FILLER = '.filler';

/** Fills the filesystem holding `dir` to the last byte; returns the bytes written. */
export async function fill(dir: string): Promise<number> {
  const fh = await open(join(dir, FILLER), 'a');
  let written = 0;
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const buf = Buffer.alloc(size, 1);
      for (;;) {
        try {
          // Near the end a write may be short (what fit), then the next one fails.
          written += (await fh.write(buf)).bytesWritten;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
  return written;
}

/** Gives the space back. */
export async function free(dir: string): Promise<void> {
  await rm(join(dir, FILLER), { force: true });
}
