// <dataDir>/metaserver.dat: this metaserver's id and token from MDS registration, so a restart
// skips registration (CurveFS MetaServerMetadata). Layout, little-endian:
//   "CURVEMSD" (8) | version u32 (1) | id u32 | token length u32 | token (UTF-8) | CRC-32C u32
//   of every preceding byte
// Written to a temporary name, synced, renamed; a torn or corrupt file is an error, never loaded.
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { CurveError, StatusCode, crc32c } from '../common/index.ts';

const MAGIC = new TextEncoder().encode('CURVEMSD');
const VERSION = 1;
export const IDENTITY_FILE = 'metaserver.dat';

export interface Identity {
  id: number;
  token: string;
}

export function encodeIdentity(idn: Identity): Uint8Array {
  const token = new TextEncoder().encode(idn.token);
  const out = new Uint8Array(MAGIC.length + 12 + token.length + 4);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(8, VERSION, true);
  v.setUint32(12, idn.id, true);
  v.setUint32(16, token.length, true);
  out.set(token, 20);
  v.setUint32(out.length - 4, crc32c(out.subarray(0, out.length - 4)), true);
  return out;
}

export function decodeIdentity(b: Uint8Array, where = IDENTITY_FILE): Identity {
  const bad = (why: string): CurveError => new CurveError(StatusCode.STORAGE_INTERNAL_ERROR, `${where}: ${why}`);
  if (b.length < MAGIC.length + 16) throw bad(`${b.length} bytes is too short`);
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) throw bad('bad magic');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const version = v.getUint32(8, true);
  if (version !== VERSION) throw bad(`unsupported version ${version}`);
  const len = v.getUint32(16, true);
  if (20 + len + 4 !== b.length) throw bad('length does not match the token length');
  if (crc32c(b.subarray(0, b.length - 4)) !== v.getUint32(b.length - 4, true)) throw bad('checksum mismatch');
  const id = v.getUint32(12, true);
  if (id === 0) throw bad('id 0');
  return { id, token: new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(20, 20 + len)) };
}

/** The saved identity, or undefined when there is none yet. */
export async function loadIdentity(dataDir: string): Promise<Identity | undefined> {
  const path = join(dataDir, IDENTITY_FILE);
  let b: Uint8Array;
  try {
    b = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return decodeIdentity(b, path);
}

export async function saveIdentity(dataDir: string, idn: Identity): Promise<void> {
  const path = join(dataDir, IDENTITY_FILE);
  const fh = await open(`${path}.tmp`, 'w');
  try {
    await fh.writeFile(encodeIdentity(idn));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(`${path}.tmp`, path);
  const dir = await open(dataDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
