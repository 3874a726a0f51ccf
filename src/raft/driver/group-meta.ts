// group.meta: the membership a group was created with, so a restart without a snapshot knows
// it. Layout: magic "CFSRGRP1" (8) | version u32 | body length u32 | JSON body | crc32c u32 of
// everything before it. Written once, atomically (temporary file, sync, rename, directory sync).
import { join } from 'node:path';
import { CurveError, StatusCode, crc32c } from '../../common/index.ts';
import type { ConfState } from '../core/types.ts';
import { writeFully } from '../durable-fs.ts';
import type { RaftStorage } from '../storage.ts';

const MAGIC = 'CFSRGRP1';
const VERSION = 1;
const FILE = 'group.meta';

export interface GroupMeta {
  groupId: number;
  initialConf: ConfState;
}

export function encodeGroupMeta(m: GroupMeta): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(m));
  const b = new Uint8Array(16 + body.length + 4);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode(MAGIC), 0);
  v.setUint32(8, VERSION, true);
  v.setUint32(12, body.length, true);
  b.set(body, 16);
  v.setUint32(16 + body.length, crc32c(b.subarray(0, 16 + body.length)), true);
  return b;
}

export function decodeGroupMeta(b: Uint8Array, where: string): GroupMeta {
  const bad = (why: string) => new CurveError(StatusCode.PARSE_FROM_STRING_FAILED, `${where}: ${why}`);
  if (b.length < 20 || new TextDecoder().decode(b.subarray(0, 8)) !== MAGIC) throw bad('bad magic');
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint32(8, true) !== VERSION) throw bad(`unsupported version ${v.getUint32(8, true)}`);
  const len = v.getUint32(12, true);
  if (b.length !== 16 + len + 4) throw bad('length mismatch');
  if (v.getUint32(16 + len, true) !== crc32c(b.subarray(0, 16 + len))) throw bad('checksum mismatch');
  const m = JSON.parse(new TextDecoder().decode(b.subarray(16, 16 + len))) as GroupMeta;
  const ids = (x: unknown) => Array.isArray(x) && x.every((i) => Number.isSafeInteger(i) && i > 0);
  if (!Number.isSafeInteger(m.groupId) || !ids(m.initialConf?.voters) || !ids(m.initialConf?.learners)) throw bad('malformed body');
  return m;
}

/** Reads dir/group.meta; undefined when the group has never been created here. */
export async function readGroupMeta(fs: RaftStorage, dir: string): Promise<GroupMeta | undefined> {
  let b: Uint8Array;
  try {
    b = await fs.readFile(join(dir, FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return decodeGroupMeta(b, join(dir, FILE));
}

export async function writeGroupMeta(fs: RaftStorage, dir: string, m: GroupMeta): Promise<void> {
  const tmp = join(dir, `${FILE}.tmp`);
  const fh = await fs.open(tmp, 'create');
  try {
    await writeFully(fh, encodeGroupMeta(m), 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, join(dir, FILE));
  await fs.syncDir(dir);
}
