// An fs's record as the MDS stores it (key keys.fs(id)): the FsInfo message with its S3 secret
// key sealed when the MDS holds the cluster key (src/mds/auth/secret-seal.ts); FsManager keeps
// and serves the plain record.
import { clone, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FsInfoSchema, type FsInfo, type S3Info } from '../../gen/mds_pb.ts';
import { isSealed, refuseSealed, type SecretSeal } from '../auth/secret-seal.ts';

/** What a sealed secret is bound to: moved to another fs's record, it does not open. */
function contextOf(fsId: number): string {
  return `fs ${fsId}`;
}

function s3Of(fs: FsInfo): S3Info | undefined {
  return fs.dataStore?.kind.case === 's3' ? fs.dataStore.kind.value : undefined;
}

/** The bytes to store for `fs` (which is not changed). */
export function encodeFsRecord(fs: FsInfo, seal: SecretSeal | undefined): Uint8Array {
  const s3 = s3Of(fs);
  if (!seal || !s3?.sk) return toBinary(FsInfoSchema, fs);
  const stored = clone(FsInfoSchema, fs);
  s3Of(stored)!.sk = seal.seal(s3.sk, contextOf(fs.fsId));
  return toBinary(FsInfoSchema, stored);
}

/**
 * The plain record of stored bytes, and whether it must be stored again (its secret was plain,
 * or sealed with a previous cluster key). Throws, naming the fs, when the secret cannot be opened.
 */
export function decodeFsRecord(bytes: Uint8Array, seal: SecretSeal | undefined): { fs: FsInfo; reseal: boolean } {
  const fs = fromBinary(FsInfoSchema, bytes);
  const s3 = s3Of(fs);
  if (!s3?.sk) return { fs, reseal: false };
  if (!seal) {
    if (isSealed(s3.sk)) refuseSealed(`${contextOf(fs.fsId)} (${fs.fsName})`);
    return { fs, reseal: false };
  }
  const { plain, reseal } = seal.open(s3.sk, contextOf(fs.fsId));
  s3.sk = plain;
  return { fs, reseal };
}
