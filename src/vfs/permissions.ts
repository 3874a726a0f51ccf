// POSIX permission rules for callers the kernel does not check for us (the SDK; the mount runs
// with default_permissions, so its kernel checks them with the caller's groups and
// capabilities). Pure: attributes and a caller in, a PosixError out.
import { posixError, S_ISGID, S_ISVTX, X_OK, type Caller } from './types.ts';

/** What a check needs of an inode. */
export interface Owned {
  mode: number;
  uid: number;
  gid: number;
}

/** Root: bypasses read/write checks and ownership rules (CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN). */
export function isPrivileged(caller: Caller): boolean {
  return caller.uid === 0;
}

export function inGroup(caller: Caller, gid: number): boolean {
  return caller.gid === gid || (caller.groups?.includes(gid) ?? false);
}

/**
 * access(2) of `mask` (R_OK 4 | W_OK 2 | X_OK 1) on a node: the owner's, the group's or the
 * others' bits, whichever class the caller is in first. Root may do anything except execute a
 * file nobody may execute.
 */
export function checkAccess(node: Owned & { isDir: boolean }, caller: Caller, mask: number, what = ''): void {
  if (mask === 0) return;
  if (isPrivileged(caller)) {
    if (mask & X_OK && !node.isDir && (node.mode & 0o111) === 0) throw posixError('EACCES', what);
    return;
  }
  const bits = caller.uid === node.uid ? (node.mode >> 6) & 7 : inGroup(caller, node.gid) ? (node.mode >> 3) & 7 : node.mode & 7;
  if ((bits & mask) !== mask) throw posixError('EACCES', what);
}

/** The sticky-directory rule (may_delete): only the owner of the entry or of the directory removes it. */
export function checkSticky(dir: Owned, victim: Owned, caller: Caller, what = ''): void {
  if (!(dir.mode & S_ISVTX) || isPrivileged(caller)) return;
  if (caller.uid !== dir.uid && caller.uid !== victim.uid) throw posixError('EPERM', what);
}

/** setattr's ownership rules (setattr_prepare): chmod by the owner, chown by root, chgrp to one's own group. */
export function checkSetattr(
  node: Owned,
  set: { mode?: number; uid?: number; gid?: number; times?: 'explicit' | 'now' },
  caller: Caller,
  what = '',
): void {
  if (isPrivileged(caller)) return;
  const owner = caller.uid === node.uid;
  if (set.uid !== undefined && set.uid !== node.uid) throw posixError('EPERM', what);
  if (set.gid !== undefined && set.gid !== node.gid && (!owner || !inGroup(caller, set.gid))) throw posixError('EPERM', what);
  if (set.mode !== undefined && !owner) throw posixError('EPERM', what);
  if (set.times === 'explicit' && !owner) throw posixError('EPERM', what);
}

/** chmod by someone not in the file's group clears S_ISGID (as the kernel does). */
export function setgidCleared(node: Owned, mode: number, caller: Caller): number {
  if (isPrivileged(caller) || inGroup(caller, node.gid)) return mode;
  return mode & ~S_ISGID;
}
