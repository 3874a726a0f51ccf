// CreateFs input checks (pure). Each failure names the field and gets its own status:
// FSNAME_INVALID for the name, NOT_SUPPORTED for CurveBS-backed types, PARAM_ERROR otherwise.
import { CurveError, StatusCode } from '../../common/index.ts';
import { FsType, type CreateFsRequest, type DataStore } from '../../gen/mds_pb.ts';

export const DEFAULT_BLOCK_SIZE = 4 << 20;
export const DEFAULT_CHUNK_SIZE = 64 << 20;
export const MIN_BLOCK_SIZE = 4 << 10;
export const MAX_BLOCK_SIZE = 64 << 20;
export const MAX_CHUNK_SIZE = 1 << 30;
export const MAX_FS_NAME = 128;
export const MAX_PARTITIONS_PER_REQUEST = 64;

// CurveFS's rule ^([a-z0-9]+\-?)+$, written without nested quantifiers (the original backtracks
// exponentially on a long invalid name).
const FS_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*-?$/;

export function validateFsName(name: string): void {
  if (name.length === 0 || name.length > MAX_FS_NAME || !FS_NAME.test(name)) {
    throw new CurveError(StatusCode.FSNAME_INVALID, `fs name ${JSON.stringify(name)} must match ^([a-z0-9]+-?)+$ and be 1..${MAX_FS_NAME} bytes`);
  }
}

export interface FsParams {
  fsName: string;
  blockSize: number;
  chunkSize: number;
  fsType: FsType;
  capacity: number;
  maxInodes: number;
  dataStore: DataStore;
  partitionCount: number;
}

function isUint(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/** Checks a CreateFs request and fills its defaults. */
export function validateCreateFs(req: CreateFsRequest, defaultPartitions: number): FsParams {
  validateFsName(req.fsName);
  const blockSize = req.blockSize || DEFAULT_BLOCK_SIZE;
  if (!isUint(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || (blockSize & (blockSize - 1)) !== 0) {
    throw new CurveError(StatusCode.PARAM_ERROR, `block size ${req.blockSize} must be a power of two in [${MIN_BLOCK_SIZE}, ${MAX_BLOCK_SIZE}]`);
  }
  const chunkSize = req.chunkSize || Math.max(DEFAULT_CHUNK_SIZE, blockSize);
  if (!isUint(chunkSize) || chunkSize < blockSize || chunkSize > MAX_CHUNK_SIZE || chunkSize % blockSize !== 0) {
    throw new CurveError(StatusCode.PARAM_ERROR, `chunk size ${req.chunkSize} must be a multiple of the block size ${blockSize}, at most ${MAX_CHUNK_SIZE}`);
  }
  if (!isUint(req.capacity)) throw new CurveError(StatusCode.PARAM_ERROR, `capacity ${req.capacity} must be a non-negative integer`);
  if (!isUint(req.maxInodes)) throw new CurveError(StatusCode.PARAM_ERROR, `inode limit ${req.maxInodes} must be a non-negative integer`);
  const fsType = req.fsType === FsType.UNKNOWN ? FsType.S3 : req.fsType;
  if (fsType !== FsType.S3) throw new CurveError(StatusCode.NOT_SUPPORTED, `fs type ${FsType[fsType] ?? fsType} is not supported (only S3-style block stores)`);
  const ds = req.dataStore;
  if (!ds || ds.kind.case === undefined) throw new CurveError(StatusCode.PARAM_ERROR, 'data store settings are required (a local directory or an S3 bucket)');
  if (ds.kind.case === 'local') {
    if (!ds.kind.value.dir.startsWith('/')) throw new CurveError(StatusCode.PARAM_ERROR, `local data directory ${JSON.stringify(ds.kind.value.dir)} must be an absolute path`);
  } else {
    const s3 = ds.kind.value;
    if (!s3.endpoint) throw new CurveError(StatusCode.PARAM_ERROR, 'S3 endpoint is required');
    if (!s3.bucketName) throw new CurveError(StatusCode.PARAM_ERROR, 'S3 bucket name is required');
  }
  const partitionCount = req.partitionCount || defaultPartitions;
  if (!(partitionCount >= 1 && partitionCount <= MAX_PARTITIONS_PER_REQUEST)) {
    throw new CurveError(StatusCode.PARAM_ERROR, `partition count ${req.partitionCount} must be in [1, ${MAX_PARTITIONS_PER_REQUEST}]`);
  }
  return { fsName: req.fsName, blockSize, chunkSize, fsType, capacity: req.capacity, maxInodes: req.maxInodes, dataStore: ds, partitionCount };
}
