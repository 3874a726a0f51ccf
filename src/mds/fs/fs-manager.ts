// File systems of one leadership term: create (partitions + root inode), info, update, delete
// (refused while mounted; partitions and records reclaimed in the background), mount points and
// their sessions (refresh, expiry), chunk ids. Digest §6.2–6.4.
import { create, equals } from '@bufbuild/protobuf';
import { CurveError, StatusCode, createLogger, type Clock } from '../../common/index.ts';
import { PartitionStatus, TimespecSchema, type PartitionInfo } from '../../gen/common_pb.ts';
import {
  DataStoreSchema,
  FsInfoSchema,
  FsStatus,
  MountSessionSchema,
  MountpointSchema,
  type CreateFsRequest,
  type FsInfo,
  type Mountpoint,
} from '../../gen/mds_pb.ts';
import type { FencedStore } from '../fenced-store.ts';
import type { IdAllocator } from '../id-allocator.ts';
import { keys } from '../keys.ts';
import { KeyedMutex } from '../mutex.ts';
import { PARTITION_SIZE, type PartitionAllocator } from '../topology/allocator.ts';
import type { MetaserverAdmin } from '../topology/metaserver-admin.ts';
import { csKey, type FsUsage, type Topology } from '../topology/topology.ts';
import type { DataProber } from './probe-store.ts';
import { decodeFsRecord, encodeFsRecord } from './stored-fs.ts';
import type { SecretSeal } from '../auth/secret-seal.ts';
import { validateCreateFs, validateFsName, type FsParams } from './validate.ts';

const log = createLogger('mds/fs');
const te = new TextEncoder();

export const ROOT_INODE_ID = 1;
/** S_IFDIR | 01777, as CurveFS creates the root. */
export const ROOT_MODE = 0o40000 | 0o1777;

export interface FsOptions {
  /** Partitions created with a new fs (CurveFS 12; 3 suits one machine). */
  partitionsPerFs: number;
  /** A session not refreshed for this long is ended (CurveFS 20 s). */
  sessionTimeoutMs: number;
  /** Keep at least this many read-write partitions with ≥ 10 % of their ids free per fs. */
  minWritablePartitions: number;
  /** Seals S3 secret keys in the store (none: an MDS without the cluster key stores them plain). */
  secrets?: SecretSeal;
}

export interface FsIds {
  fs: IdAllocator;
  chunk: IdAllocator;
  session: IdAllocator;
}

/** Removes an fs's file data from its block store once its metadata is gone (optional). */
export type DataReclaimer = (fs: FsInfo) => Promise<void>;

interface Session {
  fsId: number;
  sessionId: number;
  mountpoint: Mountpoint;
  lastRefresh: number;
}

/** The longest trash retention an fs may have: ten years, in hours. */
export const MAX_TRASH_HOURS = 87_600;

function checkTrashHours(hours: number): number {
  if (!(Number.isSafeInteger(hours) && hours >= 0 && hours <= MAX_TRASH_HOURS)) {
    throw new CurveError(StatusCode.PARAM_ERROR, `trash retention ${hours} h must be a whole number of hours in [0, ${MAX_TRASH_HOURS}]`);
  }
  return hours;
}

export class FsManager {
  private readonly byId = new Map<number, FsInfo>();
  private readonly byName = new Map<string, number>();
  private readonly sessions = new Map<number, Session>();
  private readonly locks = new KeyedMutex();
  private readonly growing = new Set<number>();
  maxSessionId = 0;

  private constructor(
    private readonly store: FencedStore,
    private readonly topo: Topology,
    private readonly allocator: PartitionAllocator,
    private readonly admin: MetaserverAdmin,
    private readonly ids: FsIds,
    private readonly clock: Clock,
    readonly opts: FsOptions,
    private readonly reclaimData?: DataReclaimer,
    private readonly probeData?: DataProber,
  ) {}

  static async load(
    store: FencedStore,
    topo: Topology,
    allocator: PartitionAllocator,
    admin: MetaserverAdmin,
    ids: FsIds,
    clock: Clock,
    opts: FsOptions,
    reclaimData?: DataReclaimer,
    probeData?: DataProber,
  ): Promise<FsManager> {
    const m = new FsManager(store, topo, allocator, admin, ids, clock, opts, reclaimData, probeData);
    const now = clock.now();
    const reseal: FsInfo[] = [];
    for (const e of await store.list(keys.fsPrefix)) {
      const { fs, reseal: again } = decodeFsRecord(e.value, opts.secrets);
      if (again) reseal.push(fs);
      m.byId.set(fs.fsId, fs);
      if (fs.status !== FsStatus.FS_DELETING) m.byName.set(fs.fsName, fs.fsId);
      // Every recorded mount starts alive (CurveFS rebuilds its alive table with "now").
      for (const s of fs.mountpoints) {
        m.sessions.set(s.sessionId, { fsId: fs.fsId, sessionId: s.sessionId, mountpoint: s.mountpoint!, lastRefresh: now });
        m.maxSessionId = Math.max(m.maxSessionId, s.sessionId);
      }
    }
    // Secrets stored plain (before sealing, or by an MDS without the key) or sealed with a
    // rotated-out key are sealed with the current key now, so the old key can be dropped.
    for (const fs of reseal) {
      await store.commit([{ type: 'put', key: keys.fs(fs.fsId), value: encodeFsRecord(fs, opts.secrets) }]);
      log.info('sealed the S3 secret key of an fs with the current cluster key', { fs: fs.fsName, fsId: fs.fsId });
    }
    return m;
  }

  // ---- queries ----

  list(): FsInfo[] {
    return [...this.byId.values()].sort((a, b) => a.fsId - b.fsId);
  }

  get(req: { fsId?: number; fsName?: string }): FsInfo {
    if (req.fsName) {
      const id = this.byName.get(req.fsName);
      if (id === undefined) throw new CurveError(StatusCode.FS_NOT_FOUND, `fs ${req.fsName} not found`);
      return this.byId.get(id)!;
    }
    if (!req.fsId) throw new CurveError(StatusCode.PARAM_ERROR, 'fs id or name is required');
    const fs = this.byId.get(req.fsId);
    if (!fs) throw new CurveError(StatusCode.FS_NOT_FOUND, `fs ${req.fsId} not found`);
    return fs;
  }

  liveSessionIds(): number[] {
    return [...this.sessions.keys()].sort((a, b) => a - b);
  }

  /**
   * Used bytes and inodes: the partitions' own counts from their leaders' heartbeats, not client
   * reports (a client that crashes or races another loses its deltas; the partitions' counts are
   * replicated state, exact as of each report). docs/architecture.md "Space accounting".
   */
  usage(fsId: number): FsUsage {
    return this.topo.fsUsage(fsId);
  }

  /** An fs as answered to callers: with its usage (never stored: it changes with every write). */
  withUsage(fs: FsInfo): FsInfo {
    const u = this.usage(fs.fsId);
    return { ...fs, usedBytes: u.bytes, usedInodes: u.inodes, usageComplete: u.complete };
  }

  // ---- create ----

  createFs(req: CreateFsRequest): Promise<FsInfo> {
    const params = validateCreateFs(req, this.opts.partitionsPerFs);
    const trashHours = checkTrashHours(req.recycleTimeHour);
    return this.locks.run(`name:${params.fsName}`, async () => {
      const existingId = this.byName.get(params.fsName);
      if (existingId !== undefined) {
        const fs = this.byId.get(existingId)!;
        if (!sameParams(fs, params)) throw new CurveError(StatusCode.FS_EXIST, `fs ${params.fsName} exists with other settings`);
        if (fs.status === FsStatus.FS_INITED) return fs; // idempotent retry
        return this.finishCreate(fs, params.partitionCount); // resume a create that stopped half-way
      }
      // Before anything is recorded: a store that cannot be written is refused here, not at the first write.
      await this.probeData?.(params.dataStore, params.fsName);
      const fs = create(FsInfoSchema, {
        fsId: await this.ids.fs.allocate(),
        fsName: params.fsName,
        status: FsStatus.FS_NEW,
        rootInodeId: ROOT_INODE_ID,
        capacity: params.capacity,
        maxInodes: params.maxInodes,
        blockSize: params.blockSize,
        chunkSize: params.chunkSize,
        fsType: params.fsType,
        dataStore: params.dataStore,
        enableSumInDir: req.enableSumInDir,
        owner: req.owner,
        recycleTimeHour: trashHours,
        createdAtMs: Date.now(),
      });
      const nameKey = keys.fsName(fs.fsName);
      await this.store.commit(
        [
          { type: 'put', key: keys.fs(fs.fsId), value: encodeFsRecord(fs, this.opts.secrets) },
          { type: 'put', key: nameKey, value: te.encode(String(fs.fsId)) },
        ],
        [{ key: nameKey, target: 'createRevision', equals: 0 }],
      );
      this.byId.set(fs.fsId, fs);
      this.byName.set(fs.fsName, fs.fsId);
      log.info('creating fs', { fsId: fs.fsId, name: fs.fsName });
      try {
        return await this.finishCreate(fs, params.partitionCount);
      } catch (e) {
        await this.undoCreate(fs).catch((u) => log.warn('could not undo a failed create; a retry resumes it', { fs: fs.fsName, error: String(u) }));
        throw e;
      }
    });
  }

  /** Partitions (if none yet), the root inode in the partition starting at 0, status INITED. */
  private async finishCreate(fs: FsInfo, partitionCount: number): Promise<FsInfo> {
    let parts = this.topo.partitionsOfFs(fs.fsId);
    if (parts.length === 0) parts = await this.allocator.createPartitions(fs.fsId, partitionCount);
    const first = parts.find((p) => p.start === 0);
    if (!first) throw new CurveError(StatusCode.CREATE_PARTITION_ERROR, `fs ${fs.fsName} has no partition starting at 0`);
    const cs = this.topo.copysets.get(csKey(first.poolId, first.copysetId));
    if (!cs) throw new CurveError(StatusCode.TOPO_COPYSET_NOT_FOUND, `copyset ${first.poolId}:${first.copysetId} of partition ${first.partitionId} not found`);
    const [sec, nsec] = this.clock.wallTime();
    await this.admin.createRootInode(this.allocator.target(cs), fs.fsId, first.partitionId, {
      uid: 0,
      gid: 0,
      mode: ROOT_MODE,
      time: create(TimespecSchema, { sec, nsec }),
    });
    const done = { ...fs, status: FsStatus.FS_INITED };
    await this.store.commit([{ type: 'put', key: keys.fs(fs.fsId), value: encodeFsRecord(done, this.opts.secrets) }]);
    this.byId.set(fs.fsId, done);
    log.info('created fs', { fsId: fs.fsId, name: fs.fsName, partitions: parts.length });
    return done;
  }

  /** Compensation of a failed create: partitions, then the records (digest §6.2 step 7). */
  private async undoCreate(fs: FsInfo): Promise<void> {
    const parts = this.topo.partitionsOfFs(fs.fsId);
    for (const p of parts) {
      const cs = this.topo.copysets.get(csKey(p.poolId, p.copysetId));
      if (cs) await this.admin.deletePartition(this.allocator.target(cs), fs.fsId, p.partitionId);
    }
    await this.topo.removePartitions(
      parts.map((p) => p.partitionId),
      [
        { type: 'delete', key: keys.fs(fs.fsId) },
        { type: 'delete', key: keys.fsName(fs.fsName) },
      ],
      fs.fsId,
    );
    this.byId.delete(fs.fsId);
    this.byName.delete(fs.fsName);
  }

  // ---- update / delete ----

  updateFs(fsName: string, capacity: number): Promise<FsInfo> {
    validateFsName(fsName);
    if (!(Number.isSafeInteger(capacity) && capacity >= 0)) throw new CurveError(StatusCode.PARAM_ERROR, `capacity ${capacity} must be a non-negative integer`);
    return this.locks.run(`name:${fsName}`, async () => {
      const fs = this.get({ fsName });
      return this.put({ ...fs, capacity });
    });
  }

  /** Sets how long the fs's trash keeps removed files (hours; 0 = no trash). */
  setTrashRetention(fsName: string, hours: number): Promise<FsInfo> {
    validateFsName(fsName);
    checkTrashHours(hours);
    return this.locks.run(`name:${fsName}`, async () => {
      const fs = this.get({ fsName });
      return this.put({ ...fs, recycleTimeHour: hours });
    });
  }

  /**
   * Marks the fs for deletion (its name is free at once). `force`: its blocks stay in the data
   * store and only its metadata is reclaimed — for a store that cannot be reached, whose deletion
   * would be retried for ever; on an fs already being deleted (found by its former name) it sets
   * just that.
   */
  deleteFs(fsName: string, opts: { force?: boolean } = {}): Promise<void> {
    validateFsName(fsName);
    if (opts.force && !this.byName.has(fsName)) {
      const pending = [...this.byId.values()].filter((f) => f.status === FsStatus.FS_DELETING && f.fsName === fsName);
      if (pending.length > 0) return this.keepData(pending);
    }
    return this.locks.run(`name:${fsName}`, async () => {
      const fs = this.get({ fsName });
      if (fs.mountpoints.length > 0) throw new CurveError(StatusCode.FS_BUSY, `fs ${fsName} is mounted at ${fs.mountpoints.length} mount point(s)`);
      const deleting = { ...fs, status: FsStatus.FS_DELETING, keepData: opts.force === true };
      // Mark DELETING and free the name in one transaction: the name can be reused at once.
      await this.store.commit([
        { type: 'put', key: keys.fs(fs.fsId), value: encodeFsRecord(deleting, this.opts.secrets) },
        { type: 'delete', key: keys.fsName(fsName) },
      ]);
      this.byId.set(fs.fsId, deleting);
      this.byName.delete(fsName);
      log.info('fs marked for deletion', { fsId: fs.fsId, name: fsName, keepData: opts.force === true });
    });
  }

  /** Deleting file systems whose blocks are to stay in their store from now on. */
  private async keepData(pending: FsInfo[]): Promise<void> {
    for (const f of pending) {
      // Under the reclaimer's lock: a pass in flight ends first, the next one sees the flag.
      await this.locks.run(`id:${f.fsId}`, async () => {
        const cur = this.byId.get(f.fsId);
        if (!cur || cur.keepData) return;
        const next = { ...cur, keepData: true };
        await this.store.commit([{ type: 'put', key: keys.fs(cur.fsId), value: encodeFsRecord(next, this.opts.secrets) }]);
        this.byId.set(cur.fsId, next);
        log.info('fs being deleted: its data will be left in the store', { fsId: cur.fsId, name: cur.fsName });
      });
    }
  }

  /** One pass of the reclaimer: deletes partitions of DELETING file systems, then their records. */
  async reclaimDeleted(): Promise<void> {
    for (const fs of [...this.byId.values()]) {
      if (fs.status !== FsStatus.FS_DELETING) continue;
      await this.locks.run(`id:${fs.fsId}`, async () => {
        for (const p of this.topo.partitionsOfFs(fs.fsId)) {
          const cs = this.topo.copysets.get(csKey(p.poolId, p.copysetId));
          if (cs) await this.admin.deletePartition(this.allocator.target(cs), fs.fsId, p.partitionId);
          await this.topo.removePartitions([p.partitionId]);
        }
        const cur = this.byId.get(fs.fsId) ?? fs;
        if (this.reclaimData && !cur.keepData) await this.reclaimData(cur);
        if (cur.keepData) log.warn('fs deleted with --force: its blocks are left in its data store', { fsId: fs.fsId, name: fs.fsName });
        await this.topo.removePartitions([], [{ type: 'delete', key: keys.fs(fs.fsId) }, { type: 'delete', key: keys.usage(fs.fsId) }], fs.fsId);
        this.byId.delete(fs.fsId);
        log.info('fs reclaimed', { fsId: fs.fsId, name: fs.fsName });
      }).catch((e) => log.warn('fs reclaim pass failed; will retry', { fsId: fs.fsId, error: String(e) }));
    }
  }

  // ---- mounts and sessions ----

  mount(fsName: string, mp: Mountpoint | undefined): Promise<{ fs: FsInfo; sessionId: number }> {
    validateFsName(fsName);
    const point = checkMountpoint(mp);
    return this.locks.run(`name:${fsName}`, async () => {
      const fs = this.get({ fsName });
      if (fs.status === FsStatus.FS_NEW) throw new CurveError(StatusCode.FS_NOT_INITED, `fs ${fsName} is still being created`);
      if (fs.status === FsStatus.FS_DELETING) throw new CurveError(StatusCode.FS_UNDER_DELETING, `fs ${fsName} is being deleted`);
      if (fs.mountpoints.some((s) => sameMount(s.mountpoint!, point))) {
        throw new CurveError(StatusCode.MOUNT_POINT_EXIST, `${point.hostname}:${point.port}:${point.path} is already mounted`);
      }
      const sessionId = await this.ids.session.allocate();
      const session = create(MountSessionSchema, { mountpoint: point, sessionId, mountedAtMs: Date.now() });
      const next = await this.put({ ...fs, mountpoints: [...fs.mountpoints, session], mountNum: fs.mountpoints.length + 1 });
      this.sessions.set(sessionId, { fsId: fs.fsId, sessionId, mountpoint: point, lastRefresh: this.clock.now() });
      this.maxSessionId = Math.max(this.maxSessionId, sessionId);
      log.info('mounted', { fs: fsName, sessionId, at: `${point.hostname}:${point.path}` });
      return { fs: next, sessionId };
    });
  }

  umount(fsName: string, sessionId: number, mp: Mountpoint | undefined): Promise<void> {
    validateFsName(fsName);
    return this.locks.run(`name:${fsName}`, async () => {
      const fs = this.get({ fsName });
      const idx = fs.mountpoints.findIndex((s) => (sessionId ? s.sessionId === sessionId : mp !== undefined && sameMount(s.mountpoint!, mp)));
      if (idx < 0) throw new CurveError(StatusCode.MOUNT_POINT_NOT_EXIST, `fs ${fsName} has no such mount (session ${sessionId})`);
      await this.removeMount(fs, idx);
    });
  }

  private async removeMount(fs: FsInfo, idx: number): Promise<void> {
    const gone = fs.mountpoints[idx]!;
    const mountpoints = fs.mountpoints.filter((_, i) => i !== idx);
    await this.put({ ...fs, mountpoints, mountNum: mountpoints.length });
    this.sessions.delete(gone.sessionId);
  }

  /**
   * Keeps a session alive. An ended session is never revived (valid: false; the client mounts
   * again and gets a new id): the metaservers dropped its request windows when it ended, so
   * reviving its id would let an old retry apply twice (docs/architecture.md §2).
   */
  refresh(fsName: string, sessionId: number, _mp: Mountpoint | undefined): Promise<{ fs: FsInfo; valid: boolean }> {
    validateFsName(fsName);
    if (!Number.isSafeInteger(sessionId) || sessionId <= 0) throw new CurveError(StatusCode.PARAM_ERROR, `invalid session id ${sessionId}`);
    const fs = this.get({ fsName });
    const s = this.sessions.get(sessionId);
    if (s && s.fsId === fs.fsId) {
      s.lastRefresh = this.clock.now();
      return Promise.resolve({ fs, valid: true });
    }
    return Promise.resolve({ fs, valid: false });
  }

  /** Ends sessions silent past the timeout. */
  async expireSessions(): Promise<void> {
    const now = this.clock.now();
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastRefresh <= this.opts.sessionTimeoutMs) continue;
      const fs = this.byId.get(s.fsId);
      if (!fs) {
        this.sessions.delete(s.sessionId);
        continue;
      }
      await this.locks
        .run(`name:${fs.fsName}`, async () => {
          const cur = this.byId.get(s.fsId)!;
          const idx = cur.mountpoints.findIndex((m) => m.sessionId === s.sessionId);
          if (this.sessions.get(s.sessionId) !== s || this.clock.now() - s.lastRefresh <= this.opts.sessionTimeoutMs) return;
          if (idx >= 0) await this.removeMount(cur, idx);
          else this.sessions.delete(s.sessionId);
          log.info('session expired', { fs: cur.fsName, sessionId: s.sessionId });
        })
        .catch((e) => log.warn('session expiry failed', { error: String(e) }));
    }
  }

  // ---- chunk ids ----

  async allocateChunks(fsId: number, n: number): Promise<number> {
    const count = n || 1;
    if (!(Number.isSafeInteger(count) && count >= 1 && count <= 1_000_000)) throw new CurveError(StatusCode.PARAM_ERROR, `chunk id count ${n} must be in [1, 1000000]`);
    const fs = this.get({ fsId });
    if (fs.status === FsStatus.FS_DELETING) throw new CurveError(StatusCode.FS_UNDER_DELETING, `fs ${fs.fsName} is being deleted`);
    return this.ids.chunk.allocate(count);
  }

  // ---- partitions ----

  createPartitions(fsId: number, count: number): Promise<PartitionInfo[]> {
    if (!(count >= 1 && count <= 64)) throw new CurveError(StatusCode.PARAM_ERROR, `partition count ${count} must be in [1, 64]`);
    const fs = this.get({ fsId });
    if (fs.status !== FsStatus.FS_INITED) {
      throw new CurveError(fs.status === FsStatus.FS_DELETING ? StatusCode.FS_UNDER_DELETING : StatusCode.FS_NOT_INITED, `fs ${fs.fsName} is not in service`);
    }
    return this.allocator.createPartitions(fsId, count);
  }

  /** Removes one partition (its data on the metaservers, then the record); its range is not reused. */
  async deletePartition(partitionId: number): Promise<void> {
    const p = this.topo.partitions.get(partitionId);
    if (!p) throw new CurveError(StatusCode.TOPO_PARTITION_NOT_FOUND, `partition ${partitionId} not found`);
    const cs = this.topo.copysets.get(csKey(p.poolId, p.copysetId));
    if (cs) await this.admin.deletePartition(this.allocator.target(cs), p.fsId, partitionId);
    await this.topo.removePartitions([partitionId]);
  }

  /**
   * Allocates ahead of need: when fewer than `minWritablePartitions` read-write partitions of the
   * fs have ≥ 10 % of their ids left (per the leaders' reports), creates the difference in the
   * background. At most one such allocation per fs runs at a time.
   */
  growIfNeeded(fsId: number): void {
    const fs = this.byId.get(fsId);
    if (!fs || fs.status !== FsStatus.FS_INITED || this.growing.has(fsId)) return;
    const roomy = this.topo
      .partitionsOfFs(fsId)
      .map((p) => this.topo.partitionWithStats(p))
      .filter((p) => p.status === PartitionStatus.READWRITE && p.end - Math.max(p.nextId, p.start) + 1 >= PARTITION_SIZE / 10).length;
    const want = this.opts.minWritablePartitions - roomy;
    if (want <= 0) return;
    this.growing.add(fsId);
    log.info('allocating partitions ahead of need', { fsId, count: want });
    this.allocator
      .createPartitions(fsId, want)
      .catch((e) => log.warn('proactive partition allocation failed', { fsId, error: String(e) }))
      .finally(() => this.growing.delete(fsId));
  }

  // ---- helpers ----

  private async put(fs: FsInfo): Promise<FsInfo> {
    const next = create(FsInfoSchema, fs);
    await this.store.commit([{ type: 'put', key: keys.fs(fs.fsId), value: encodeFsRecord(next, this.opts.secrets) }]);
    this.byId.set(fs.fsId, next);
    return next;
  }
}

function sameParams(fs: FsInfo, p: FsParams): boolean {
  return (
    fs.blockSize === p.blockSize &&
    fs.chunkSize === p.chunkSize &&
    fs.fsType === p.fsType &&
    fs.dataStore !== undefined &&
    equals(DataStoreSchema, fs.dataStore, p.dataStore)
  );
}

function checkMountpoint(mp: Mountpoint | undefined): Mountpoint {
  if (!mp || !mp.hostname || !mp.path) throw new CurveError(StatusCode.PARAM_ERROR, 'mount point needs a host name and a path');
  return create(MountpointSchema, mp);
}

function sameMount(a: Mountpoint, b: Mountpoint): boolean {
  return a.hostname === b.hostname && a.port === b.port && a.path === b.path;
}
