// The client requests waiting on a group (proposals and linearizable reads): how reads are handed
// to the core as ReadIndex requests and released once applied, how proposals settle, and how
// requests time out. The state lives in Group; RaftNode calls these from its round and its timer.
import { CurveError, StatusCode } from '../../common/index.ts';
import type { Entry, ReadState } from '../core/types.ts';
import type { Group, Waiter } from './group.ts';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/**
 * Hands the reads queued since the last round to the core as one ReadIndex request. `catchUp`
 * brings the core's ticks to the clock first: a lease is judged on them.
 */
export function issueReads(g: Group, catchUp: (g: Group) => void, translate: (e: unknown) => Error): void {
  if (g.readQueue.length === 0) return;
  const waiters = g.readQueue;
  g.readQueue = [];
  const ctx = new Uint8Array(8);
  new DataView(ctx.buffer).setFloat64(0, ++g.readCounter);
  try {
    catchUp(g);
    g.node.readIndex(ctx);
    g.readsByCtx.set(hex(ctx), waiters);
  } catch (e) {
    const err = translate(e);
    for (const w of waiters) w.reject(err);
  }
}

/** The core answered read requests (`readStates`); serves every read whose index is applied. */
export function releaseReads(g: Group, readStates: readonly ReadState[]): void {
  for (const rs of readStates) {
    const key = hex(rs.requestCtx);
    const waiters = g.readsByCtx.get(key);
    if (!waiters) continue;
    g.readsByCtx.delete(key);
    g.readsAwaitingApply.push({ index: rs.index, waiters });
  }
  if (g.readsAwaitingApply.length === 0) return;
  g.readsAwaitingApply.sort((a, b) => a.index - b.index);
  while (g.readsAwaitingApply.length > 0 && g.readsAwaitingApply[0]!.index <= g.applied) {
    for (const w of g.readsAwaitingApply.shift()!.waiters) w.resolve();
  }
}

/**
 * Entry `e` was applied with `result`: the proposal at its index is ours iff the terms match;
 * otherwise another leader's entry replaced it (`replaced` makes the NOT_LEADER error).
 */
export function settleProposal(g: Group, e: Entry, result: unknown, replaced: (detail: string) => Error): void {
  const p = g.proposals.get(e.index);
  if (!p) return;
  g.proposals.delete(e.index);
  if (p.term !== e.term) p.reject(replaced(`entry ${e.index} was replaced by another leader's`));
  else p.resolve(result);
}

/** Fails requests whose deadline passed. */
export function expireRequests(g: Group, now: number): void {
  // Called every tick for every group: an idle group (most of a thousand) must cost nothing here.
  if (g.proposals.size === 0 && g.readQueue.length === 0 && g.readsByCtx.size === 0 && g.readsAwaitingApply.length === 0) return;
  const timeout = (what: string) => new CurveError(StatusCode.TIMEOUT, `${what} in group ${g.id} timed out`);
  for (const [i, p] of g.proposals) {
    if (p.deadline <= now) {
      g.proposals.delete(i);
      p.reject(timeout(`proposal at index ${i}`));
    }
  }
  const expired = (w: Waiter<void>) => {
    if (w.deadline > now) return true;
    w.reject(timeout('read'));
    return false;
  };
  g.readQueue = g.readQueue.filter(expired);
  for (const [k, ws] of g.readsByCtx) {
    const left = ws.filter(expired);
    if (left.length === 0) g.readsByCtx.delete(k);
    else g.readsByCtx.set(k, left);
  }
  g.readsAwaitingApply = g.readsAwaitingApply
    .map((r) => ({ index: r.index, waiters: r.waiters.filter(expired) }))
    .filter((r) => r.waiters.length > 0);
}
