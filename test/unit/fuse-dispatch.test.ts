// The FUSE request/reply codec and dispatcher, driven with hand-built kernel messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as abi from '../../src/fuse/abi.ts';
import { Op } from '../../src/fuse/abi.ts';
import { Dispatcher, E, Errno, MemFs, type FuseOps } from '../../src/fuse/index.ts';

/** Builds a request: header + body parts. */
function req(opcode: number, unique: number, nodeid: number, body: Uint8Array[] = [], ids = { uid: 0, gid: 0, pid: 42 }): Uint8Array {
  const len = 40 + body.reduce((s, b) => s + b.length, 0);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, len, true);
  dv.setUint32(4, opcode, true);
  abi.setU64(dv, 8, unique);
  abi.setU64(dv, 16, nodeid);
  dv.setUint32(24, ids.uid, true);
  dv.setUint32(28, ids.gid, true);
  dv.setUint32(32, ids.pid, true);
  let off = 40;
  for (const b of body) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}
function cstr(s: string): Uint8Array {
  return Buffer.from(s + '\0');
}
function struct(size: number, fill: (dv: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

interface Reply {
  unique: number;
  error: number;
  body: Uint8Array;
}
function harness(ops: FuseOps) {
  const replies: Reply[] = [];
  const d = new Dispatcher(ops, {
    write(parts) {
      const all = Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
      const dv = new DataView(all.buffer, all.byteOffset, all.byteLength);
      assert.equal(dv.getUint32(0, true), all.length, 'out header length matches the write');
      replies.push({ unique: abi.u64(dv, 8), error: -dv.getInt32(4, true) || 0, body: new Uint8Array(all.subarray(16)) });
    },
  });
  return { d, replies };
}
const flush = () => new Promise((r) => setImmediate(r));

test('INIT caps the minor version and intersects flags', async () => {
  const { d, replies } = harness(new MemFs());
  const init = struct(64, (dv) => {
    dv.setUint32(0, 7, true);
    dv.setUint32(4, 45, true);
    dv.setUint32(8, 128 * 1024, true);
    dv.setUint32(12, 0xffffffff, true);
  });
  d.handle(req(Op.INIT, 2, 0, [init]));
  const r = replies[0]!;
  assert.equal(r.error, 0);
  assert.equal(r.body.length, abi.INIT_OUT_SIZE);
  const dv = new DataView(r.body.buffer);
  assert.equal(dv.getUint32(0, true), 7);
  assert.equal(dv.getUint32(4, true), abi.FUSE_MAX_MINOR);
  const flags = dv.getUint32(12, true);
  assert.ok(flags & abi.InitFlag.POSIX_LOCKS && flags & abi.InitFlag.FLOCK_LOCKS && flags & abi.InitFlag.DO_READDIRPLUS);
  assert.equal(flags & abi.InitFlag.WRITEBACK_CACHE, 0, 'writeback cache off by default');
  assert.equal(dv.getUint32(20, true), 1024 * 1024, 'max_write');
  assert.equal(dv.getUint16(28, true), 256, 'max_pages');
  assert.equal((await d.initialized).minor, abi.FUSE_MAX_MINOR);
});

test('INIT from a kernel older than the minimum is refused', async () => {
  const { d, replies } = harness(new MemFs());
  d.handle(req(Op.INIT, 2, 0, [struct(16, (dv) => (dv.setUint32(0, 7, true), dv.setUint32(4, 12, true)))]));
  assert.equal(replies[0]!.error, E.EPROTO);
  await assert.rejects(d.initialized);
});

test('INIT keeps an older kernel minor and clamps max_write without MAX_PAGES', () => {
  const out = abi.negotiateInit({ major: 7, minor: 26, maxReadahead: 65536, flags: abi.InitFlag.BIG_WRITES }, {
    writebackCache: false,
    readdirplus: true,
    maxWrite: 1 << 20,
    maxReadahead: 1 << 20,
    maxBackground: 64,
  })!;
  assert.equal(out.minor, 26);
  assert.equal(out.flags, abi.InitFlag.BIG_WRITES);
  assert.equal(out.maxWrite, 128 * 1024);
  assert.equal(out.maxReadahead, 65536);
});

test('MKDIR then LOOKUP return entries and count kernel references; FORGET drops them', () => {
  const fs = new MemFs();
  const { d, replies } = harness(fs);
  d.handle(req(Op.MKDIR, 4, 1, [struct(8, (dv) => dv.setUint32(0, 0o755, true)), cstr('sub')]));
  const mk = replies.at(-1)!;
  assert.equal(mk.error, 0);
  assert.equal(mk.body.length, abi.ENTRY_OUT_SIZE);
  const dv = new DataView(mk.body.buffer);
  const ino = abi.u64(dv, 0);
  assert.equal(abi.u64(dv, 40), ino, 'attr.ino');
  assert.equal(dv.getUint32(40 + 60, true), 0o040755, 'mode');
  assert.equal(dv.getUint32(40 + 64, true), 2, 'nlink');
  d.handle(req(Op.LOOKUP, 6, 1, [cstr('sub')]));
  assert.equal(replies.at(-1)!.error, 0);
  assert.equal(d.nodes.lookupCount(ino), 2);
  d.handle(req(Op.LOOKUP, 8, 1, [cstr('nope')]));
  assert.equal(replies.at(-1)!.error, E.ENOENT);
  const n = replies.length;
  d.handle(req(Op.FORGET, 10, ino, [struct(8, (v) => abi.setU64(v, 0, 1))]));
  assert.equal(replies.length, n, 'no reply to FORGET');
  assert.equal(d.nodes.lookupCount(ino), 1);
  const batch = struct(8 + 16, (v) => {
    v.setUint32(0, 1, true);
    abi.setU64(v, 8, ino);
    abi.setU64(v, 16, 1);
  });
  d.handle(req(Op.BATCH_FORGET, 12, 0, [batch]));
  assert.equal(replies.length, n, 'no reply to BATCH_FORGET');
  assert.equal(d.nodes.lookupCount(ino), 0);
});

test('a lookup answered with node id 0 is a negative entry: sent with the entry timeout, no reference counted', async () => {
  const zeroAttr = { ino: 0, size: 0, blocks: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 4096 };
  const { d, replies } = harness({ lookup: () => ({ attr: zeroAttr, entryTimeoutSec: 7 }) });
  d.handle(req(Op.LOOKUP, 6, 1, [cstr('missing')]));
  await flush();
  const r = replies.at(-1)!;
  assert.equal(r.error, 0);
  assert.equal(r.body.length, abi.ENTRY_OUT_SIZE);
  const dv = new DataView(r.body.buffer);
  assert.equal(abi.u64(dv, 0), 0, 'nodeid 0');
  assert.equal(abi.u64(dv, 16), 7, 'entry_valid');
  assert.equal(d.nodes.lookupCount(0), 0);
});

test('unknown and unimplemented opcodes answer ENOSYS', () => {
  const { d, replies } = harness({});
  d.handle(req(Op.BMAP, 2, 1, [new Uint8Array(16)]));
  d.handle(req(999, 4, 1));
  d.handle(req(Op.GETATTR, 6, 1, [new Uint8Array(16)]));
  assert.deepEqual(replies.map((r) => r.error), [E.ENOSYS, E.ENOSYS, E.ENOSYS]);
});

test('GETXATTR size probe: 0 asks for the size, too small is ERANGE', () => {
  const fs = new MemFs();
  const { d, replies } = harness(fs);
  const set = struct(8, (v) => v.setUint32(0, 5, true));
  d.handle(req(Op.SETXATTR, 2, 1, [set, cstr('user.k'), Buffer.from('value')]));
  assert.equal(replies.at(-1)!.error, 0);
  const get = (size: number) => struct(8, (v) => v.setUint32(0, size, true));
  d.handle(req(Op.GETXATTR, 4, 1, [get(0), cstr('user.k')]));
  assert.equal(new DataView(replies.at(-1)!.body.buffer).getUint32(0, true), 5);
  d.handle(req(Op.GETXATTR, 6, 1, [get(4), cstr('user.k')]));
  assert.equal(replies.at(-1)!.error, E.ERANGE);
  d.handle(req(Op.GETXATTR, 8, 1, [get(5), cstr('user.k')]));
  assert.equal(Buffer.from(replies.at(-1)!.body).toString(), 'value');
  d.handle(req(Op.LISTXATTR, 10, 1, [get(0)]));
  assert.equal(new DataView(replies.at(-1)!.body.buffer).getUint32(0, true), 7);
  d.handle(req(Op.LISTXATTR, 12, 1, [get(100)]));
  assert.equal(Buffer.from(replies.at(-1)!.body).toString(), 'user.k\0');
  d.handle(req(Op.GETXATTR, 14, 1, [get(100), cstr('user.none')]));
  assert.equal(replies.at(-1)!.error, E.ENODATA);
});

test('READDIR packs whole records, offsets resume without loss or repeats', () => {
  const fs = new MemFs();
  const { d, replies } = harness(fs);
  const names: string[] = [];
  for (let i = 0; i < 200; i++) {
    names.push(`file-${i}`);
    d.handle(req(Op.MKNOD, 100 + 2 * i, 1, [struct(16, (v) => v.setUint32(0, 0o100644, true)), cstr(`file-${i}`)]));
  }
  d.handle(req(Op.OPENDIR, 2, 1, [new Uint8Array(8)]));
  const fh = abi.u64(new DataView(replies.at(-1)!.body.buffer), 0);
  const seen: string[] = [];
  let offset = 0;
  for (let round = 0; round < 100; round++) {
    const rin = struct(40, (v) => {
      abi.setU64(v, 0, fh);
      abi.setU64(v, 8, offset);
      v.setUint32(16, 512, true);
    });
    d.handle(req(Op.READDIR, 1000 + round * 2, 1, [rin]));
    const body = replies.at(-1)!.body;
    assert.ok(body.length <= 512);
    if (body.length === 0) break;
    const dv = new DataView(body.buffer);
    for (let off = 0; off < body.length; ) {
      const nameLen = dv.getUint32(off + 16, true);
      seen.push(Buffer.from(body.subarray(off + 24, off + 24 + nameLen)).toString());
      offset = abi.u64(dv, off + 8);
      off += abi.direntSize(nameLen);
    }
    if (round === 3) {
      // Removing an entry not yet listed must not disturb the listing.
      d.handle(req(Op.UNLINK, 5000, 1, [cstr('file-199')]));
      names.pop();
    }
  }
  assert.deepEqual(seen, ['.', '..', ...names]);
});

test('handler errors map to errno: Errno, node errors, unknown → EIO', async () => {
  const { d, replies } = harness({
    getattr: (_c, ino) => {
      if (ino === 2) throw new Errno(E.ESTALE);
      if (ino === 3) throw Object.assign(new Error('x'), { code: 'EACCES' });
      if (ino === 4) return Promise.reject(new Errno(E.EXDEV));
      throw new Error('boom');
    },
  });
  for (const ino of [2, 3, 4, 5]) d.handle(req(Op.GETATTR, ino * 2, ino, [new Uint8Array(16)]));
  await flush();
  assert.deepEqual(
    replies.map((r) => r.error),
    [E.ESTALE, E.EACCES, E.EIO, E.EXDEV],
  );
});

test('INTERRUPT: a read-only request answers EINTR at once; a waiting lock is aborted', async () => {
  let release!: () => void;
  const { d, replies } = harness({
    getattr: () => new Promise((r) => (release = () => r({ attr: new MemFs().getattr(null as never, 1).attr }))),
  });
  d.handle(req(Op.GETATTR, 20, 1, [new Uint8Array(16)]));
  d.handle(req(Op.INTERRUPT, 21, 0, [struct(8, (v) => abi.setU64(v, 0, 20))]));
  assert.equal(replies.length, 1);
  assert.equal(replies[0]!.unique, 20);
  assert.equal(replies[0]!.error, E.EINTR);
  release();
  await flush();
  assert.equal(replies.length, 1, 'the late answer is not sent twice');

  // SETLKW waits for a conflicting lock; the interrupt aborts the wait and the answer is EINTR.
  const fs = new MemFs();
  const h2 = harness(fs);
  const lk = (owner: bigint, type: number) =>
    struct(48, (v) => {
      v.setBigUint64(8, owner, true);
      abi.setU64(v, 16, 0);
      v.setBigUint64(24, 0x7fffffffffffffffn, true);
      v.setUint32(32, type, true);
      v.setUint32(36, 99, true);
    });
  h2.d.handle(req(Op.SETLK, 30, 1, [lk(1n, 1)]));
  assert.equal(h2.replies.at(-1)!.error, 0);
  h2.d.handle(req(Op.SETLKW, 32, 1, [lk(2n, 1)]));
  await flush();
  assert.equal(h2.replies.length, 1, 'second owner waits');
  // An interrupt that arrives before its request (reader threads race) is remembered.
  h2.d.handle(req(Op.INTERRUPT, 35, 0, [struct(8, (v) => abi.setU64(v, 0, 34))]));
  h2.d.handle(req(Op.SETLKW, 34, 1, [lk(3n, 1)]));
  h2.d.handle(req(Op.INTERRUPT, 33, 0, [struct(8, (v) => abi.setU64(v, 0, 32))]));
  await flush();
  const byUnique = new Map(h2.replies.map((r) => [r.unique, r.error]));
  assert.equal(byUnique.get(32), E.EINTR);
  assert.equal(byUnique.get(34), E.EINTR);
  // GETLK from another owner reports the holder, range "to end of file" intact.
  h2.d.handle(req(Op.GETLK, 36, 1, [lk(2n, 0)]));
  const out = new DataView(h2.replies.at(-1)!.body.buffer);
  assert.equal(out.getBigUint64(8, true), 0x7fffffffffffffffn);
  assert.equal(out.getUint32(16, true), 1);
  assert.equal(out.getUint32(20, true), 99);
});

test('names that are not UTF-8 are refused with EILSEQ', () => {
  const { d, replies } = harness(new MemFs());
  d.handle(req(Op.LOOKUP, 2, 1, [Uint8Array.from([0xff, 0xfe, 0])]));
  assert.equal(replies[0]!.error, E.EILSEQ);
});

test('a borrowed request buffer: WRITE data and xattr values the ops keep are copies, not views of it', async () => {
  const kept: Uint8Array[] = [];
  const ops: FuseOps = {
    // Both answer later, as a file system that buffers writes does.
    write: (_ctx, _ino, _fh, _off, data) => {
      kept.push(data);
      return Promise.resolve(data.byteLength);
    },
    setxattr: (_ctx, _ino, _name, value) => {
      kept.push(value);
      return Promise.resolve();
    },
  };
  const { d, replies } = harness(ops);
  const payload = Buffer.from('payload!');
  const writeIn = struct(abi.WRITE_IN_SIZE, (dv) => dv.setUint32(16, payload.length, true));
  const setxattrIn = struct(abi.SETXATTR_IN_SIZE, (dv) => dv.setUint32(0, payload.length, true));
  for (const [i, msg] of [req(Op.WRITE, 10, 5, [writeIn, payload]), req(Op.SETXATTR, 12, 5, [setxattrIn, cstr('user.x'), payload])].entries()) {
    d.handle(msg, true);
    msg.fill(0xee); // the reader reads the next request into the same buffer
    assert.equal(Buffer.from(kept[i]!).toString(), 'payload!');
  }
  // Owned buffers are handed on as they are: no copy of big write payloads.
  const owned = req(Op.WRITE, 14, 5, [writeIn, payload]);
  d.handle(owned, false);
  assert.equal(kept[2]!.buffer, owned.buffer);
  await flush();
  assert.deepEqual(replies.map((r) => r.error), [0, 0, 0]);
});
