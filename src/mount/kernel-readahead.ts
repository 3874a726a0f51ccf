// The kernel's readahead window for a FUSE mount is its backing device's read_ahead_kb: 128 KiB
// unless raised, and the INIT reply cannot raise it (the kernel takes the smaller of its value
// and ours). With 128 KiB a sequential reader's data arrives in 128 KiB requests, one or two in
// flight, and the mount's cost per request dominates (3.9 ms of CPU per MiB read measured);
// with 16 MiB the kernel sends 1 MiB requests (max_pages) several at a time, matching the 16 MiB
// of objects the mount reads ahead itself (docs/benchmarks.md, "data path"). The device is found
// in /proc/self/mountinfo rather than by a stat of the mountpoint, which this process serves.
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** "major:minor" of the file system mounted at `mountpoint` (the last mount there), or undefined. */
export function deviceOf(mountinfo: string, mountpoint: string): string | undefined {
  const want = resolve(mountpoint);
  let dev: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    // Fields: id, parent id, major:minor, root, mount point (octal escapes for space, tab, \, newline).
    if (f.length < 5) continue;
    const at = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (at === want) dev = f[2];
  }
  return dev;
}

/**
 * Sets the kernel's readahead window (KiB) for the FUSE mount at `mountpoint`. Answers why it
 * could not (not root, no sysfs, mount not found) instead of throwing: the mount works without.
 */
export async function setKernelReadahead(mountpoint: string, kb: number): Promise<string | undefined> {
  try {
    const dev = deviceOf(await readFile('/proc/self/mountinfo', 'utf8'), mountpoint);
    if (!dev) return `no mount at ${mountpoint} in /proc/self/mountinfo`;
    await writeFile(`/sys/class/bdi/${dev}/read_ahead_kb`, `${kb}\n`);
    return undefined;
  } catch (e) {
    return String(e);
  }
}
