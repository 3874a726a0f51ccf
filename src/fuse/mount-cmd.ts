// The system side of mounting: preflight checks, mount(8) with the /dev/fuse descriptor,
// umount, and recovery of a mount whose server died.
//
// Every command runs asynchronously (spawn, never spawnSync): the process that serves a mount
// must keep its event loop free, or a command that touches the mount waits forever for a reply
// only this process can give.

import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, readFile, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Why mounting cannot work here, or null when it can. */
export async function fusePreflight(): Promise<string | null> {
  if (process.getuid?.() !== 0) {
    return 'mounting needs root (uid 0): run as root, or in a container with CAP_SYS_ADMIN';
  }
  try {
    await access('/dev/fuse', fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    return '/dev/fuse is missing or not accessible: load the fuse module (modprobe fuse) or pass --device /dev/fuse to the container';
  }
  return null;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; `extraFd` becomes descriptor 3 in the child. */
export function runCommand(cmd: string, args: string[], extraFd?: number): Promise<CommandResult> {
  return new Promise((done, fail) => {
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe'];
    if (extraFd !== undefined) stdio.push(extraFd);
    const child = spawn(cmd, args, { stdio });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

export interface MountArgs {
  /** The /dev/fuse descriptor in this process. */
  fd: number;
  mountpoint: string;
  fsName: string;
  /** Filesystem type after "fuse.", shown in /proc/mounts. */
  subtype: string;
  allowOther: boolean;
  defaultPermissions: boolean;
  extraOptions?: string[];
}

/** Builds the mount(8) argument list; the fd is 3 in the child (see runCommand). */
export function mountCommandArgs(a: MountArgs): string[] {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const opts = [`fd=3`, `rootmode=40000`, `user_id=${uid}`, `group_id=${gid}`];
  if (a.allowOther) opts.push('allow_other');
  if (a.defaultPermissions) opts.push('default_permissions');
  opts.push(...(a.extraOptions ?? []));
  // -i: do not look for a /sbin/mount.fuse.* helper; we hand the kernel the fd ourselves.
  return ['-i', '-t', `fuse.${a.subtype}`, '-o', opts.join(','), a.fsName, a.mountpoint];
}

export async function mountDevice(a: MountArgs): Promise<void> {
  const r = await runCommand('mount', mountCommandArgs(a), a.fd);
  if (r.code !== 0) {
    throw new Error(`mount of ${a.mountpoint} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  }
}

/** Unmounts `dir`: umount(8), lazily (detach now, finish when no longer busy) if asked. */
export async function unmountDir(dir: string, opts: { lazy?: boolean } = {}): Promise<void> {
  const args = opts.lazy ? ['-l', dir] : [dir];
  const r = await runCommand('umount', args);
  if (r.code !== 0) {
    throw new Error(`umount ${opts.lazy ? '-l ' : ''}${dir} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  }
}

/** The mount entry at `dir` from /proc/self/mountinfo, if any (read without touching the mount). */
export async function mountInfo(dir: string): Promise<{ fsType: string; source: string; dev: string } | null> {
  const target = resolve(dir);
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  let found: { fsType: string; source: string; dev: string } | null = null;
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    if (parts.length < 10) continue;
    const point = unescapeMount(parts[4]!);
    if (point !== target) continue;
    const dash = parts.indexOf('-');
    found = { fsType: parts[dash + 1]!, source: unescapeMount(parts[dash + 2]!), dev: parts[2]! };
  }
  return found; // the last one is the top of the stack
}

/**
 * Aborts the FUSE connection behind the mount at `dir` through the fusectl file system
 * (/sys/fs/fuse/connections/N/abort): every waiting and future request fails with ENOTCONN.
 * The way out when a server hangs, or dies while its own threads wait on its mount.
 * Returns false when `dir` is not a FUSE mount.
 */
export async function abortConnection(dir: string): Promise<boolean> {
  const info = await mountInfo(dir);
  if (!info || !info.fsType.startsWith('fuse')) return false;
  const minor = info.dev.split(':')[1]!;
  const ctl = '/sys/fs/fuse/connections';
  try {
    await access(`${ctl}/${minor}/abort`);
  } catch {
    await runCommand('mount', ['-t', 'fusectl', 'fusectl', ctl]);
  }
  await writeFile(`${ctl}/${minor}/abort`, '1');
  return true;
}
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Clears a FUSE mount left behind by a dead server ("Transport endpoint is not connected"):
 * detaches it lazily so the directory can be mounted again without a reboot. Returns true when
 * a stale mount was removed, false when `dir` was not stale.
 */
export async function recoverStaleMount(dir: string): Promise<boolean> {
  try {
    await stat(dir);
    return false;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ENOTCONN' && code !== 'ECONNABORTED') throw e;
  }
  await unmountDir(dir, { lazy: true });
  return true;
}
