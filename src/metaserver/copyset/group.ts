// What a copyset needs from consensus: propose an entry and get its apply result, wait for a
// linearizable read point, know who leads. RaftGroup (raft-group.ts) implements it over the
// multi-group RaftNode; LocalGroup below is a single replica that applies at once (unit tests
// and tools), with no persistence.
import { CurveError, StatusCode } from '../../common/index.ts';
import type { SmResult } from './state-machine.ts';

export interface GroupStatus {
  role: 'leader' | 'follower' | 'candidate';
  term: number;
  leaderId: number;
  leaderAddress: string | undefined;
  commitIndex: number;
  appliedIndex: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  /** Log entries after the newest snapshot. */
  logEntries: number;
  /** Voters: metaserver id and address. */
  peers: { id: number; address: string }[];
}

export interface ConsensusGroup {
  /** Appends `data`; resolves with its apply result on this replica. Rejects NOT_LEADER (+hint). */
  propose(data: Uint8Array, timeoutMs?: number): Promise<SmResult>;
  /** Resolves once local state reflects every write committed before the call (ReadIndex). */
  readBarrier(timeoutMs?: number): Promise<void>;
  isLeader(): boolean;
  status(): GroupStatus;
  /** Replaces the voters with `peers` (one change at a time; resolves once committed). */
  changePeers(peers: { id: number; address: string }[]): Promise<void>;
  transferLeader(to: number): Promise<void>;
  /** Takes a snapshot now (tests and tools). */
  snapshotNow?(): Promise<void>;
}

/** One in-process replica that is always the leader; entries apply synchronously. */
export class LocalGroup implements ConsensusGroup {
  private index = 0;
  private readonly address: string;
  constructor(
    private readonly apply: (index: number, data: Uint8Array) => SmResult,
    address = 'local',
  ) {
    this.address = address;
  }

  async propose(data: Uint8Array): Promise<SmResult> {
    return this.apply(++this.index, data);
  }

  async readBarrier(): Promise<void> {}

  isLeader(): boolean {
    return true;
  }

  status(): GroupStatus {
    return {
      role: 'leader',
      term: 1,
      leaderId: 1,
      leaderAddress: this.address,
      commitIndex: this.index,
      appliedIndex: this.index,
      firstIndex: 1,
      lastIndex: this.index,
      snapshotIndex: 0,
      logEntries: this.index,
      peers: [{ id: 1, address: this.address }],
    };
  }

  async changePeers(): Promise<void> {
    throw new CurveError(StatusCode.NOT_SUPPORTED, 'a local group has one replica');
  }

  async transferLeader(): Promise<void> {
    throw new CurveError(StatusCode.NOT_SUPPORTED, 'a local group has one replica');
  }
}
