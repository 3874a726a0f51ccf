// Types of the partition state machine: inodes, dentries, the operations that go through the
// Raft log (PartitionOp) and their results. Plain TypeScript, not protobuf: the metaserver maps
// wire requests (proto/metaserver.proto) onto these.
import { FileType, PartitionStatus, StatusCode } from '../../gen/common_pb.ts';

export { FileType, PartitionStatus, StatusCode };

/** Root inode id and recycle-bin inode id; ordinary ids start at FIRST_NORMAL_ID. */
export const ROOT_INODE_ID = 1;
export const RECYCLE_INODE_ID = 2;
export const FIRST_NORMAL_ID = 3;
/** Inode ids stay below 2^48 (directory entries pack id × 16 + type into one exact double). */
export const MAX_INODE_ID = 2 ** 48;

export const MAX_NAME_BYTES = 255;
/** Longest symlink target (PATH_MAX). */
export const MAX_SYMLINK_BYTES = 4096;
export const MAX_XATTR_NAME_BYTES = 255;
export const MAX_XATTR_VALUE_BYTES = 64 * 1024;
/** Sum of name + value bytes of all xattrs of one inode. */
export const MAX_XATTR_TOTAL_BYTES = 1024 * 1024;
/** Hard links per non-directory inode (ext4's limit). */
export const MAX_LINKS = 65000;
/** Default length of a directory inode (what CurveFS clients send). */
export const DIR_LENGTH = 4096;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** setattr mask bits (same values as SetAttrMask in proto/metaserver.proto). */
export const SetAttr = {
  MODE: 1,
  UID: 2,
  GID: 4,
  SIZE: 8,
  ATIME: 16,
  MTIME: 32,
  CTIME: 64,
} as const;
export const SETATTR_ALL = 127;

/** setxattr flags (Linux values). */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** renameat2 flags (Linux values). */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export interface Timestamp {
  sec: number;
  nsec: number;
}

/** Idempotence key of a mutation: the client's id and its per-client sequence number. */
export interface RequestId {
  clientId: number;
  seq: number;
}

/**
 * One slice of file data (CurveFS S3ChunkInfo): file bytes [offset, offset+len) stored in the
 * block store under chunk `chunkId`. Where slices overlap the one with the higher `seq` wins
 * (the data layer's read logic); the partition stores, appends, trims and orders them.
 */
export interface ChunkSlice {
  chunkId: number;
  /**
   * Append order within its chunk list, stamped at apply (AppendChunks: after the list's newest;
   * ReplaceChunks: the newest of the list it replaces), so every replica orders overlapping
   * slices alike whatever the chunk ids. What a request carries here is ignored.
   */
  seq?: number;
  compaction: number;
  /** File offset of the first byte. */
  offset: number;
  /** Logical length in the file. */
  len: number;
  /** Bytes stored in the block store. */
  size: number;
  zero: boolean;
  /**
   * The inode whose key prefix holds the objects, when not this slice's own (a clone's shared
   * slice, docs/architecture.md §6d). Only CloneInode sets it: request slices never carry one.
   */
  owner?: number;
}

/** The attributes of an inode (the digest's InodeAttr): everything but xattrs and block map. */
export interface InodeAttr {
  inodeId: number;
  fsId: number;
  length: number;
  ctime: number;
  ctimeNs: number;
  mtime: number;
  mtimeNs: number;
  atime: number;
  atimeNs: number;
  uid: number;
  gid: number;
  /** Full st_mode including the S_IFMT bits. */
  mode: number;
  nlink: number;
  type: FileType;
  /** Target of a symlink; "" otherwise. */
  symlink: string;
  rdev: number;
  /** Seconds when nlink reached 0; 0 while linked. */
  dtime: number;
  /** Parent directories: one entry per hard link (files), exactly one for dirs, none for root. */
  parent: number[];
}

/** A whole inode: attributes, xattrs and the block map (chunk index → slices). */
export interface Inode extends InodeAttr {
  xattrs: Map<string, Uint8Array>;
  chunks: Map<number, ChunkSlice[]>;
}

export interface DentryInfo {
  parent: number;
  name: string;
  ino: number;
  type: FileType;
}

/**
 * One-level counters of a directory. `entries` = files + subdirs; `files` counts every
 * non-directory entry; `bytes` sums the lengths of regular-file children (children in this
 * partition are tracked exactly; for children elsewhere the metaserver passes lengths along
 * with dentry ops and forwards size changes with adjustDirStats).
 */
export interface DirStats {
  entries: number;
  files: number;
  subdirs: number;
  bytes: number;
}

export interface PartitionStats {
  inodes: number;
  dentries: number;
  /** Sum of the lengths of regular files (nlink-0 ones not yet reclaimed included). */
  fileBytes: number;
  /** Inode count per FileType. */
  byType: Record<number, number>;
  /** Inodes in the deletion list (nlink 0). */
  deleted: number;
  nextId: number;
  status: PartitionStatus;
}

export interface ListOptions {
  /** Exclusive cursor: only names greater (UTF-8 byte order) than this. */
  startAfter?: string;
  /** Max entries returned; default unlimited. */
  limit?: number;
  /** Return directories only (limit counts returned entries). */
  onlyDir?: boolean;
}

export interface DeletedInode {
  ino: number;
  dtime: number;
}

// ---------------------------------------------------------------------------------------------
// Operations. Each carries the fsId it expects and, for mutations from clients, a requestId.
// Times are stamped by the proposer before the op enters the Raft log.

interface OpBase {
  fsId: number;
  requestId?: RequestId;
}

interface InodeCreateFields {
  type: FileType;
  /** Permission bits; S_IFMT bits may be present and must then match `type`. */
  mode: number;
  uid: number;
  gid: number;
  /** Device number (char/block devices). */
  rdev?: number;
  /** Symlink target (required for TYPE_SYM_LINK, forbidden otherwise). */
  symlink?: string;
  /** Directories only: the length to report (default 4096). */
  length?: number;
  time: Timestamp;
}

/** A new inode with the next id of the range; its parent list is [parent]. */
export interface CreateInodeOp extends OpBase, InodeCreateFields {
  kind: 'createInode';
  parent: number;
}

/**
 * A metadata-only copy of regular file `source` (this partition's): a new inode here with its
 * mode, owner, length, xattrs and block map, every slice naming the inode that holds its objects.
 * When `parent` is a directory of this partition the entry `name` is made in the same op.
 */
export interface CloneInodeOp extends OpBase {
  kind: 'cloneInode';
  source: number;
  parent: number;
  name: string;
  time: Timestamp;
}

/** The root directory, id 1 (fails with ID_OUT_OF_RANGE when 1 is not in this range). */
export interface CreateRootInodeOp extends OpBase {
  kind: 'createRootInode';
  mode: number;
  uid: number;
  gid: number;
  time: Timestamp;
}

/** The recycle-bin directory, id 2, parent 1. */
export interface CreateRecycleInodeOp extends OpBase {
  kind: 'createRecycleInode';
  mode: number;
  uid: number;
  gid: number;
  time: Timestamp;
}

/** createInode + createDentry in one op: inode and parent both in this partition. */
export interface CreateFileOp extends OpBase, InodeCreateFields {
  kind: 'createFile';
  parent: number;
  name: string;
}

/** A dentry (parent, name) → ino in the parent's partition; parent nlink+1 for a dir child. */
export interface CreateDentryOp extends OpBase {
  kind: 'createDentry';
  parent: number;
  name: string;
  ino: number;
  type: FileType;
  /** Length of a regular-file child that lives in another partition (for DirStats.bytes). */
  length?: number;
  time: Timestamp;
}

/**
 * Removes (parent, name). `expectDir` true: the entry must be a directory (rmdir; else
 * NOT_DIRECTORY); false: must not be one (unlink; else IS_DIRECTORY). A directory child that lives
 * here must be empty. With `unlinkInode` and the child in this partition, the child also loses
 * the link in the same op (unlink(2)/rmdir(2) in one log entry).
 */
export interface DeleteDentryOp extends OpBase {
  kind: 'deleteDentry';
  parent: number;
  name: string;
  /** When set, the entry must point at this inode (else NOT_FOUND). */
  ino?: number;
  expectDir?: boolean;
  unlinkInode?: boolean;
  /**
   * The entry is moving to another directory (commit of a cross-partition rename): the
   * empty-directory check is skipped and the child never loses a link (unlinkInode is ignored).
   */
  move?: boolean;
  /** Length of a regular-file child that lives in another partition. */
  length?: number;
  /**
   * The fs keeps a trash (stamped by the leader from the fs's retention): a file's LAST name whose
   * inode lives here, an empty directory (rmdir), or a name whose inode lives in another partition
   * (the commit of an rmdir or unlink transaction, whose share there keeps the link) goes to this
   * partition's trash instead (architecture.md §6c). A local directory kept there is sealed.
   */
  toTrash?: boolean;
  time: Timestamp;
}

/** Inode side of link(2): nlink+1, `parent` appended to the parent list. */
export interface LinkOp extends OpBase {
  kind: 'link';
  ino: number;
  parent: number;
  time: Timestamp;
}

/** Inode side of unlink(2)/rmdir(2): nlink−1 (a dir goes to 0), one `parent` occurrence removed. */
export interface UnlinkOp extends OpBase {
  kind: 'unlink';
  ino: number;
  parent: number;
  time: Timestamp;
}

/** Replaces one occurrence of `oldParent` in the parent list (after a cross-partition rename). */
export interface ReplaceParentOp extends OpBase {
  kind: 'replaceParent';
  ino: number;
  oldParent: number;
  newParent: number;
  time: Timestamp;
}

/** Only fields named in `mask` (SetAttr bits) change; ctime becomes `time` unless CTIME is set. */
export interface SetAttrOp extends OpBase {
  kind: 'setattr';
  ino: number;
  mask: number;
  mode?: number;
  uid?: number;
  gid?: number;
  length?: number;
  atime?: Timestamp;
  mtime?: Timestamp;
  ctime?: Timestamp;
  time: Timestamp;
}

export interface SetXattrOp extends OpBase {
  kind: 'setXattr';
  ino: number;
  name: string;
  value: Uint8Array;
  /** 0, XATTR_CREATE or XATTR_REPLACE. */
  flags: number;
  time: Timestamp;
}

export interface RemoveXattrOp extends OpBase {
  kind: 'removeXattr';
  ino: number;
  name: string;
  time: Timestamp;
}

/** rename(2)/renameat2(2) with both parents in this partition. */
export interface RenameOp extends OpBase {
  kind: 'rename';
  srcParent: number;
  srcName: string;
  dstParent: number;
  dstName: string;
  /** 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
  flags: number;
  /** Length of a regular-file source that lives in another partition (DirStats.bytes). */
  srcLength?: number;
  /** Same for the destination (replaced or exchanged) entry. */
  dstLength?: number;
  time: Timestamp;
}

export interface ChunkAppend {
  index: number;
  slices: ChunkSlice[];
}

/** Appends slices; length becomes max(length, minLength, end of every slice); mtime/ctime = time. */
export interface AppendChunksOp extends OpBase {
  kind: 'appendChunks';
  ino: number;
  chunks: ChunkAppend[];
  minLength?: number;
  time: Timestamp;
}

/**
 * A file's buffered writes and the setattr after them in one op: `append` applies as
 * AppendChunksOp, then `setattr` as SetAttrOp (no SIZE or CTIME: a truncate commits the data
 * first). Both are checked before either changes anything; both name the same inode.
 */
export interface AppendSetattrOp extends OpBase {
  kind: 'appendSetattr';
  append: Omit<AppendChunksOp, 'kind' | 'fsId' | 'requestId'>;
  setattr: Omit<SetAttrOp, 'kind' | 'fsId' | 'requestId'>;
}

/** Drops the block map at and beyond `length` (slices crossing it are shortened); length unchanged. */
export interface TrimChunksOp extends OpBase {
  kind: 'trimChunks';
  ino: number;
  length: number;
}

/** Compare-and-swap of one chunk index's slice list (compaction): TX_WRITE_CONFLICT on mismatch. */
export interface ReplaceChunksOp extends OpBase {
  kind: 'replaceChunks';
  ino: number;
  index: number;
  expected: ChunkSlice[];
  slices: ChunkSlice[];
}

/** Marks an empty directory so nothing can be created in it (safe rmdir across partitions). */
export interface SealDirectoryOp extends OpBase {
  kind: 'sealDirectory';
  ino: number;
}

/** Undoes sealDirectory when the rmdir could not complete. */
export interface UnsealDirectoryOp extends OpBase {
  kind: 'unsealDirectory';
  ino: number;
}

/** Adds `bytesDelta` to DirStats.bytes of a directory here (size change of a child elsewhere). */
export interface AdjustDirStatsOp extends OpBase {
  kind: 'adjustDirStats';
  ino: number;
  bytesDelta: number;
}

/** Removes an nlink-0 inode from the deletion list and the table (the reclaimer's last step). */
export interface DeleteInodeOp extends OpBase {
  kind: 'deleteInode';
  ino: number;
}

/** Status transitions: READWRITE→READONLY, READWRITE/READONLY→DELETING; nothing leaves DELETING. */
export interface SetStatusOp extends OpBase {
  kind: 'setStatus';
  status: PartitionStatus;
}

/**
 * A name in the trash: the entry an unlink or rmdir took away, kept with its inode's one link (a
 * directory: its links, sealed). The inode may live in another partition (a directory, or a file
 * whose parent's partition was full): its share then changes by a follow-up (TrashFollowup).
 */
export interface TrashEntry {
  ino: number;
  parent: number;
  name: string;
  type: FileType;
  /** When it was trashed (the unlink's time, seconds). */
  trashedAt: number;
}

/**
 * Puts trashed inode `ino` back under its old parent and name, or under `parent`/`name` when
 * given (`trash restore --to`: a directory of this partition). EXIST when the name is taken.
 */
export interface TrashRestoreOp extends OpBase {
  kind: 'trashRestore';
  ino: number;
  time: Timestamp;
  parent?: number;
  name?: string;
}

/**
 * What a restore or purge of an entry whose inode lives in another partition leaves to do there:
 * the parent list (`unlinkParent` → `linkParent`; only `unlinkParent`: drop the link) and, for a
 * directory back from the trash, the seal. The leader delivers it as a transaction follow-up.
 */
export interface TrashFollowup {
  ino: number;
  unlinkParent: number;
  linkParent: number;
  unseal: boolean;
}

/** Empties trashed inode `ino` for good: its link goes, the reclaimer deletes it (§6). */
export interface TrashPurgeOp extends OpBase {
  kind: 'trashPurge';
  ino: number;
  time: Timestamp;
}

export type PartitionOp =
  | TrashRestoreOp
  | TrashPurgeOp
  | CreateInodeOp
  | CloneInodeOp
  | CreateRootInodeOp
  | CreateRecycleInodeOp
  | CreateFileOp
  | CreateDentryOp
  | DeleteDentryOp
  | LinkOp
  | UnlinkOp
  | ReplaceParentOp
  | SetAttrOp
  | SetXattrOp
  | RemoveXattrOp
  | RenameOp
  | AppendChunksOp
  | AppendSetattrOp
  | TrimChunksOp
  | ReplaceChunksOp
  | SealDirectoryOp
  | UnsealDirectoryOp
  | AdjustDirStatsOp
  | DeleteInodeOp
  | SetStatusOp;

export type OpKind = PartitionOp['kind'];

// ---------------------------------------------------------------------------------------------
// Results. OK results carry data; errors carry a status and a deterministic message. Results
// are plain JSON-safe objects (they are kept in the request table and in snapshots); treat them
// as read-only.

export interface ErrorResult {
  status: Exclude<StatusCode, StatusCode.OK>;
  message: string;
}

export type Result<T> = ({ status: StatusCode.OK } & T) | ErrorResult;

/** What happened to the inode behind a removed or replaced dentry. */
export interface LinkEffect {
  ino: number;
  type: FileType;
  /** True when the inode lives here and lost the link in this op. */
  unlinked: boolean;
  /** True when the name went to the trash instead (the inode keeps its link). */
  trashed?: boolean;
}

export interface RenameResult {
  /** The inode that moved from src to dst. */
  moved: { ino: number; type: FileType; local: boolean };
  /** The inode that lost its dst name (plain rename over an existing entry). */
  replaced?: LinkEffect;
  /** RENAME_EXCHANGE: the inode that moved from dst to src. */
  exchanged?: { ino: number; type: FileType; local: boolean };
  /** True when nothing changed (same inode on both sides, or the same name). */
  noop: boolean;
}

export interface OpResultMap {
  createInode: { inode: InodeAttr };
  /** parent: the directory after the entry was made here (absent: the caller makes the entry). */
  cloneInode: { inode: InodeAttr; parent?: InodeAttr };
  createRootInode: { inode: InodeAttr };
  createRecycleInode: { inode: InodeAttr };
  createFile: { inode: InodeAttr; parent: InodeAttr };
  createDentry: { parent: InodeAttr };
  deleteDentry: { dentry: DentryInfo; parent: InodeAttr; inode?: InodeAttr; effect: LinkEffect };
  link: { inode: InodeAttr };
  unlink: { inode: InodeAttr };
  replaceParent: { inode: InodeAttr };
  /** lengthDelta: the change of length, for DirStats.bytes of parents in other partitions. */
  setattr: { inode: InodeAttr; lengthDelta: number };
  setXattr: object;
  removeXattr: object;
  rename: RenameResult;
  appendChunks: { inode: InodeAttr; lengthDelta: number };
  appendSetattr: { inode: InodeAttr; lengthDelta: number };
  trimChunks: object;
  replaceChunks: object;
  sealDirectory: object;
  unsealDirectory: object;
  adjustDirStats: { stats: DirStats };
  deleteInode: object;
  setStatus: { partitionStatus: PartitionStatus };
  trashRestore: { dentry: DentryInfo; parent: InodeAttr; remote?: TrashFollowup };
  /** inode: absent when it lives in another partition (then `remote` says what to do there). */
  trashPurge: { inode?: InodeAttr; remote?: TrashFollowup };
}

export type OpResult<O extends PartitionOp = PartitionOp> = Result<OpResultMap[O['kind']]>;
