// The VFS's POSIX permission rules (for the SDK; the mount's kernel checks its own callers):
// the owner's, group's or others' bits by the first class the caller is in, supplementary
// groups, root's exemptions, the sticky rule, and setattr's ownership rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAccess, checkSetattr, checkSticky, setgidCleared } from '../../src/vfs/permissions.ts';
import { R_OK, W_OK, X_OK } from '../../src/vfs/index.ts';

const file = (mode: number, uid = 10, gid = 20) => ({ mode, uid, gid, isDir: false });
const code = (fn: () => void): string => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
};

test('the first class the caller is in decides, even when a later class would allow more', () => {
  assert.equal(code(() => checkAccess(file(0o066), { uid: 10, gid: 20 }, R_OK)), 'EACCES', 'the owner gets the owner bits (none)');
  assert.equal(code(() => checkAccess(file(0o606), { uid: 11, gid: 20 }, R_OK)), 'EACCES', 'a group member gets the group bits');
  assert.equal(code(() => checkAccess(file(0o640), { uid: 11, gid: 99, groups: [20] }, R_OK)), 'ok', 'supplementary groups count');
  assert.equal(code(() => checkAccess(file(0o640), { uid: 11, gid: 99 }, R_OK)), 'EACCES');
  assert.equal(code(() => checkAccess(file(0o644), { uid: 10, gid: 20 }, R_OK | W_OK)), 'ok');
  assert.equal(code(() => checkAccess(file(0o444), { uid: 10, gid: 20 }, R_OK | W_OK)), 'EACCES', 'every bit asked for is needed');
});

test('root reads and writes anything, executes only what someone may execute', () => {
  const root = { uid: 0, gid: 0 };
  assert.equal(code(() => checkAccess(file(0o000), root, R_OK | W_OK)), 'ok');
  assert.equal(code(() => checkAccess(file(0o600), root, X_OK)), 'EACCES');
  assert.equal(code(() => checkAccess(file(0o601), root, X_OK)), 'ok');
  assert.equal(code(() => checkAccess({ ...file(0o000), isDir: true }, root, X_OK)), 'ok', 'directories are always searchable by root');
});

test('sticky directories: only the entry\'s or the directory\'s owner removes an entry', () => {
  const dir = { mode: 0o1777, uid: 0, gid: 0 };
  const victim = { mode: 0o644, uid: 10, gid: 20 };
  assert.equal(code(() => checkSticky(dir, victim, { uid: 11, gid: 20 })), 'EPERM');
  assert.equal(code(() => checkSticky(dir, victim, { uid: 10, gid: 20 })), 'ok');
  assert.equal(code(() => checkSticky({ ...dir, uid: 11 }, victim, { uid: 11, gid: 20 })), 'ok');
  assert.equal(code(() => checkSticky({ ...dir, mode: 0o777 }, victim, { uid: 11, gid: 20 })), 'ok', 'no sticky bit, no rule');
});

test('setattr: chmod by the owner, chown by root, chgrp to one of the owner\'s groups, explicit times by the owner', () => {
  const node = { mode: 0o644, uid: 10, gid: 20 };
  const owner = { uid: 10, gid: 20, groups: [30] };
  const other = { uid: 11, gid: 20 };
  assert.equal(code(() => checkSetattr(node, { mode: 0o600 }, owner)), 'ok');
  assert.equal(code(() => checkSetattr(node, { mode: 0o600 }, other)), 'EPERM');
  assert.equal(code(() => checkSetattr(node, { uid: 11 }, owner)), 'EPERM');
  assert.equal(code(() => checkSetattr(node, { uid: 10 }, owner)), 'ok', 'chown to the same owner changes nothing');
  assert.equal(code(() => checkSetattr(node, { gid: 30 }, owner)), 'ok');
  assert.equal(code(() => checkSetattr(node, { gid: 40 }, owner)), 'EPERM');
  assert.equal(code(() => checkSetattr(node, { times: 'explicit' }, other)), 'EPERM');
  assert.equal(code(() => checkSetattr(node, { uid: 99, gid: 99, mode: 0 }, { uid: 0, gid: 0 })), 'ok');
  assert.equal(setgidCleared({ mode: 0o2755, uid: 10, gid: 20 }, 0o2755, { uid: 10, gid: 21 }), 0o755, 'not in the group: S_ISGID dropped');
  assert.equal(setgidCleared({ mode: 0o2755, uid: 10, gid: 20 }, 0o2755, { uid: 10, gid: 20 }), 0o2755);
});
