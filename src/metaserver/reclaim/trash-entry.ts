// Proposing a TrashRestore or TrashPurge (architecture.md §6c), shared by the RPCs of `curvefs
// trash` and the expiry pass. An entry whose inode lives in another partition (a directory, or a
// file whose parent's partition was full) changes that inode by a follow-up, so the leader names
// the inode's partition in the entry (`inode_p`) and, once applied, delivers the follow-up at
// once rather than on the next recovery pass.
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { TrashEntryRequestSchema, type PartitionRef, type TxId } from '../../gen/metaserver_pb.ts';
import type { Copyset } from '../copyset/copyset.ts';
import { OpType, type OpMsg } from '../copyset/op-codec.ts';
import type { OpAnswer } from '../copyset/op-results.ts';
import { txKey } from '../tx/tx-store.ts';

export interface TrashRouting {
  /** The partition holding inode `ino` of fs `fsId`. */
  locate(fsId: number, ino: number): Promise<PartitionRef>;
  /** Delivers a decided record's follow-ups now (the coordinator's recovery does it later anyway). */
  recoverOne(cs: Copyset, key: string): Promise<void>;
}

/** The request with `inode_p` set when its entry's inode lives in another partition. */
export async function routedTrashRequest(
  cs: Copyset,
  routing: TrashRouting,
  req: MessageInitShape<typeof TrashEntryRequestSchema>,
): Promise<MessageInitShape<typeof TrashEntryRequestSchema>> {
  const p = req.p;
  const part = p?.partitionId !== undefined ? cs.sm.partitions.get(p.partitionId) : undefined;
  const ino = req.inodeId ?? 0;
  if (!part || !part.trash.has(ino) || part.owns(ino)) return { ...req, inodeP: undefined };
  return { ...req, inodeP: await routing.locate(part.fsId, ino) };
}

/** Proposes TrashRestore or TrashPurge (waiting out transaction locks until `deadline`). */
export async function proposeTrashOp<T extends OpType.TrashRestore | OpType.TrashPurge>(
  cs: Copyset,
  routing: TrashRouting,
  type: T,
  req: MessageInitShape<typeof TrashEntryRequestSchema>,
  deadline: number,
): Promise<OpAnswer<T>> {
  const routed = create(TrashEntryRequestSchema, await routedTrashRequest(cs, routing, req));
  const r = await cs.proposeWaiting(type, routed as OpMsg<T>, deadline);
  const followup = (r as { followup?: TxId }).followup;
  if (followup) void routing.recoverOne(cs, txKey(followup));
  return r;
}
