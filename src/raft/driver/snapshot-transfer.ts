// Snapshot files between replicas: a leader streams its current snapshot file to a follower
// that needs compacted entries; a follower receives the chunks into a temporary file, checks it
// whole and steps the Snapshot message into its core. Installing happens in the Ready round
// (RaftNode.persist), which takes the file out of Group.received.
import { CurveError, StatusCode, type Logger } from '../../common/index.ts';
import type { RaftMessage } from '../core/types.ts';
import type { RaftTransport, SnapshotChunk } from '../transport.ts';
import type { Group } from './group.ts';

const EMPTY = new Uint8Array(0);

/** What a transfer needs of its RaftNode. */
export interface TransferHost {
  readonly transport: RaftTransport;
  readonly log: Logger;
  /** Schedules a round (the core may have something to say). */
  kick(): void;
  stopped(): boolean;
  /** The core dropped `msg` (its sender is not a member). */
  noteDropped(g: Group, msg: RaftMessage): void;
}

/** Streams g's current snapshot file to `m.to` (one transfer per follower at a time). */
export function sendSnapshot(host: TransferHost, g: Group, m: RaftMessage): void {
  if (g.sendingSnapshot.has(m.to)) return;
  g.sendingSnapshot.add(m.to);
  void (async () => {
    let ok = false;
    let chunks: AsyncGenerator<Uint8Array> | undefined;
    try {
      // The core names the latest snapshot it knows; the file on disk may be newer, and the
      // follower acknowledges whatever it installed.
      const s = await g.snaps.openForSend();
      chunks = s.chunks;
      const header: RaftMessage = { ...m, snapshot: { meta: s.meta, data: EMPTY } };
      await host.transport.sendSnapshot(m.to, g.id, header, chunks);
      ok = true;
    } catch (e) {
      host.log.warn('snapshot send failed', { group: g.id, to: m.to, error: String(e) });
    } finally {
      await chunks?.return(undefined);
      g.sendingSnapshot.delete(m.to);
      if (!g.removed && !host.stopped()) {
        g.node.reportSnapshot(m.to, ok);
        host.kick();
      }
    }
  })();
}

/** Stores one received chunk; at the last one, checks the file and steps it into the core. */
export async function receiveSnapshotChunk(host: TransferHost, g: Group, c: SnapshotChunk): Promise<void> {
  const from = c.msg.from;
  let rx = g.receiving.get(from);
  if (c.offset === 0) {
    // Only a node the core would hear may start a transfer: a stranger's chunks are refused
    // before a byte reaches the disk (issue [L]: snapshot transfers only from members).
    if (!g.node.wouldAccept(c.msg)) {
      g.node.noteDroppedFromNonMember();
      host.noteDropped(g, c.msg);
      throw new CurveError(StatusCode.FORBIDDEN, `snapshot transfer from node ${from}, not a member of group ${g.id} that may send one now`);
    }
    if (rx) await rx.abort();
    rx = await g.snaps.createReceiver();
    g.receiving.set(from, rx);
  }
  if (!rx) throw new CurveError(StatusCode.PARAM_ERROR, `no snapshot transfer from ${from} in progress`);
  try {
    if (c.data.length > 0) await rx.write(c.offset, c.data);
    if (!c.done) return;
    g.receiving.delete(from);
    const meta = await rx.finish();
    const want = c.msg.snapshot?.meta;
    if (!want || want.index !== meta.index || want.term !== meta.term) {
      throw new CurveError(StatusCode.PARAM_ERROR, `snapshot file ${meta.index}/${meta.term} does not match its message`);
    }
  } catch (e) {
    g.receiving.delete(from);
    await rx.abort();
    throw e;
  }
  if (g.removed || host.stopped()) {
    await rx.abort();
    return;
  }
  const meta = rx.meta!;
  const key = `${meta.index}-${meta.term}`;
  const dup = g.received.get(key);
  g.received.set(key, rx);
  if (dup) await dup.abort();
  const dropped = g.node.droppedFromNonMembers;
  g.node.step({ ...c.msg, snapshot: { meta, data: EMPTY } });
  if (g.node.droppedFromNonMembers !== dropped) host.noteDropped(g, c.msg);
  // Keep only the file the core now wants installed (a snapshot in a Ready being persisted was
  // already taken out of `received`): one it refused (old, or from a non-member) or one it
  // replaced with this newer one is deleted now rather than at close. Before issue [G] the
  // install deleted every other received file, a newer one too, and the next round stopped the
  // group with "never received".
  const wanted = g.node.pendingSnapshotMeta();
  const wantKey = wanted ? `${wanted.index}-${wanted.term}` : undefined;
  for (const [k, other] of [...g.received]) {
    if (k === wantKey) continue;
    g.received.delete(k);
    await other.abort();
  }
  host.kick();
}
