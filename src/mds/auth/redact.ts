// What callers without a claim to an fs's data may see of it: everything but the object-store
// credentials (the access key identifies an account, the secret key opens it).
import { clone } from '@bufbuild/protobuf';
import { FsInfoSchema, type FsInfo } from '../../gen/mds_pb.ts';

/** A copy of `fs` without S3 credentials (the stored record is never changed). */
export function redactFsInfo(fs: FsInfo): FsInfo {
  if (fs.dataStore?.kind.case !== 's3') return fs;
  const out = clone(FsInfoSchema, fs);
  const s3 = out.dataStore!.kind.value as { ak: string; sk: string };
  s3.ak = '';
  s3.sk = '';
  return out;
}
