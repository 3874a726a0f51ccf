// The election contract the MDS runs on. Only the elected process serves; its fencing token
// (election key + create revision) goes with every write it makes to the store.
import type { Clock } from '../../common/index.ts';
import type { Fence } from '../store/index.ts';

export interface Leadership {
  /** Guard for every store write made as leader. */
  fence: Fence;
  /** The term: the election key's create revision (grows with every new leader). */
  term: number;
  /** Address this leader advertises. */
  address: string;
}

export type ElectionEvent =
  | { kind: 'elected'; leadership: Leadership; validUntil: number }
  /** The lease was confirmed again: the leader may act until `validUntil` (clock ms). */
  | { kind: 'renewed'; leadership: Leadership; validUntil: number }
  | { kind: 'deposed'; leadership: Leadership; reason: string }
  /** Another process leads (or nobody, address undefined); for NOT_LEADER hints. */
  | { kind: 'observed'; leaderAddress: string | undefined };

export interface Elector {
  readonly clock: Clock;
  /** Begins campaigning in the background (and keeps campaigning after losing). */
  start(): void;
  /**
   * The leadership this process may act under *now*, checked against its own clock (so it ends
   * on time even if a timer fires late), or undefined.
   */
  current(): Leadership | undefined;
  /** Until when (clock ms) the current leadership is valid; -Infinity when not leader. */
  validUntil(): number;
  /** The leader's address as last seen (own address when leading). */
  leaderAddress(): string | undefined;
  on(listener: (ev: ElectionEvent) => void): void;
  /**
   * Ends the current campaign or leadership at once and campaigns again with a fresh session
   * (used when a fenced write found the term over before the elector noticed).
   */
  restart(reason: string): void;
  /**
   * Stops campaigning. A leader first stops acting, then (resign=true) deletes its key so a
   * standby takes over at once instead of waiting for the lease to expire.
   */
  stop(opts?: { resign?: boolean }): Promise<void>;
}

/**
 * Milliseconds of the system-wide monotonic clock (CLOCK_MONOTONIC, shared by all processes
 * on a host): leadership intervals recorded by different MDS processes on one machine can be
 * compared with each other and with the test's own clock.
 */
export const monotonicClock: Clock = {
  now: () => Number(process.hrtime.bigint()) / 1e6,
  wallTime: () => {
    const ms = Date.now();
    return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
  },
};
