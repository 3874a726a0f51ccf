// One copyset on this metaserver: its replicated state machine and its consensus group, plus
// the waiting that transaction locks need (an entry refused with TX_KEY_LOCKED is proposed again
// after the next lock release; a read of a key a participant holds waits for it).
import { CurveError, StatusCode, systemClock, systemTimer, type Clock, type Timer } from '../../common/index.ts';
import type { Peer } from '../../gen/common_pb.ts';
import { copysetGroupId, copysetName } from './group-id.ts';
import type { ConsensusGroup } from './group.ts';
import { encodeOp, type OpMsg, type OpType } from './op-codec.ts';
import type { OpAnswer } from './op-results.ts';
import { CopysetStateMachine, type SmResult } from './state-machine.ts';

export class Copyset {
  readonly poolId: number;
  readonly copysetId: number;
  readonly groupId: number;
  readonly name: string;
  sm: CopysetStateMachine;
  group!: ConsensusGroup;
  /** Configuration epoch: +1 per committed membership change. */
  epoch = 0;
  /** Peers as the MDS/admin named them (id + "ip:port:0"). */
  peers: Peer[] = [];
  private readonly waiters = new Set<() => void>();
  private unwatch: () => void;

  constructor(
    poolId: number,
    copysetId: number,
    private readonly clock: Clock = systemClock,
    private readonly timer: Timer = systemTimer,
  ) {
    this.poolId = poolId;
    this.copysetId = copysetId;
    this.groupId = copysetGroupId(poolId, copysetId);
    this.name = copysetName(poolId, copysetId);
    this.sm = new CopysetStateMachine(poolId, copysetId);
    this.unwatch = this.sm.onLocksReleased(() => this.wake());
  }

  /** Applies a committed entry (called by the consensus driver, in log order). */
  apply(index: number, data: Uint8Array): SmResult {
    return this.sm.apply(index, data);
  }

  /** Swaps in a state loaded from a snapshot. */
  replaceState(sm: CopysetStateMachine): void {
    this.unwatch();
    this.sm = sm;
    this.unwatch = sm.onLocksReleased(() => this.wake());
    this.wake();
  }

  isLeader(): boolean {
    return this.group.isLeader();
  }

  leaderAddress(): string | undefined {
    return this.group.status().leaderAddress;
  }

  /**
   * Proposes an entry and resolves with what apply answered for it, typed by the op (op-results.ts:
   * the state machine's apply is checked against the same map, so this is the one cast).
   */
  async propose<T extends OpType>(type: T, msg: OpMsg<T>, timeoutMs?: number): Promise<OpAnswer<T>> {
    return (await this.group.propose(encodeOp(type, msg), timeoutMs)) as OpAnswer<T>;
  }

  /**
   * Proposes until the entry is not refused for a transaction lock, waiting for lock releases in
   * between; TX_INPROGRESS (retryable) when `deadline` (clock ms) passes first.
   */
  async proposeWaiting<T extends OpType>(type: T, msg: OpMsg<T>, deadline: number): Promise<OpAnswer<T>> {
    for (;;) {
      const r = await this.propose(type, msg, this.remaining(deadline));
      if (r.status !== StatusCode.TX_KEY_LOCKED) return r;
      await this.waitRelease(r.lockEpoch ?? this.sm.lockEpoch, deadline, r.message);
    }
  }

  /** Linearizable read point, then `fn` on the local state; waits while `blocked` says so. */
  async read<R>(fn: (sm: CopysetStateMachine) => R, deadline: number, blocked?: (sm: CopysetStateMachine) => string | undefined): Promise<R> {
    await this.group.readBarrier(this.remaining(deadline));
    for (;;) {
      const why = blocked?.(this.sm);
      if (!why) return fn(this.sm);
      await this.waitRelease(this.sm.lockEpoch, deadline, why);
    }
  }

  /** Resolves after the next lock release past `epoch` (at once if it already happened). */
  waitRelease(epoch: number, deadline: number, why?: string): Promise<void> {
    if (this.sm.lockEpoch > epoch) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const ms = deadline - this.clock.now();
      if (ms <= 0) {
        reject(new CurveError(StatusCode.TX_INPROGRESS, why ?? 'a transaction holds the key'));
        return;
      }
      const done = (): void => {
        if (this.sm.lockEpoch <= epoch) return;
        this.waiters.delete(done);
        this.timer.clear(t);
        resolve();
      };
      const t = this.timer.setTimeout(() => {
        this.waiters.delete(done);
        reject(new CurveError(StatusCode.TX_INPROGRESS, why ?? 'a transaction holds the key'));
      }, ms);
      this.waiters.add(done);
    });
  }

  /** How many requests wait for a lock release right now (tests wait for a request to block). */
  get lockWaiters(): number {
    return this.waiters.size;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private remaining(deadline: number): number {
    const ms = deadline - this.clock.now();
    if (ms <= 0) throw new CurveError(StatusCode.TIMEOUT, `copyset ${this.name}: deadline passed`);
    return Math.ceil(ms);
  }
}
