// How a RaftNode turns its clock into core ticks (docs/raft.md, "Ticks and the clock").
//
// The node counts tick periods the clock says passed — not timer callbacks: a process starved of
// CPU for seconds gets one late callback, and a leader counting callbacks would think its read
// lease younger than it is. A leader's core is given every tick it is owed, at each timer
// callback and before every call that can judge its lease; any other replica gets one tick per
// timer callback, however late (a starved follower then waits longer before campaigning and
// keeps its vote lease longer: the safe direction, and a busy machine alone starts no elections).
import type { Clock } from '../../common/index.ts';
import { Role } from '../core/types.ts';
import type { Group } from './group.ts';

export class GroupTicks {
  /** Tick periods counted so far, up to `lastTickAt`. */
  private count = 0;
  private lastTickAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly tickMs: number,
    /** Most ticks given at once to a leader woken from a long pause: its timers expire anyway. */
    private readonly maxOwed: number,
  ) {
    this.lastTickAt = clock.now();
  }

  /** The node's tick count (a newly opened group starts here: Group.ticked). */
  get ticks(): number {
    return this.count;
  }

  /** Adds the whole tick periods the clock says passed since the last counted one. */
  advance(): void {
    const due = Math.floor((this.clock.now() - this.lastTickAt) / this.tickMs);
    if (due <= 0) return;
    this.lastTickAt += due * this.tickMs;
    this.count += due;
  }

  /** A timer callback: every group's core is brought forward (see the header). */
  onTimer(g: Group): void {
    this.give(g, true);
  }

  /**
   * Before anything that may judge a leader's read lease — a new read, a message stepped into
   * it, advance() — its core must be at the clock.
   */
  catchUp(g: Group): void {
    if (g.node.role !== Role.Leader) {
      g.ticked = this.count;
      return;
    }
    this.advance();
    this.give(g, false);
  }

  private give(g: Group, timerCallback: boolean): void {
    const owed = this.count - g.ticked;
    g.ticked = this.count;
    if (g.node.role !== Role.Leader) {
      if (timerCallback) g.node.tick();
      return;
    }
    for (let k = Math.min(owed, this.maxOwed); k > 0; k--) g.node.tick();
  }
}
