// What each copyset log operation answers when it succeeds: the type map from OpType to the data
// of its OK result. The result of an entry crosses Raft as `unknown` (the consensus library knows
// nothing of ops); this map gives it its type back at the one place that proposes
// (Copyset.propose), and the state machine's apply is checked against it (`answer` in
// state-machine.ts), so a proposer reads `r.inode` without a cast and a change of what apply
// returns fails to compile where it is read. Ops whose answer nobody reads carry `object`.
import type { StatusCode } from '../../common/index.ts';
import type { TxState } from '../../gen/metaserver_pb.ts';
import type { OpResultMap } from '../partition/index.ts';
import type { LockOutcome } from './file-locks.ts';
import type { OpType } from './op-codec.ts';

export interface OpAnswers {
  [OpType.CreateInode]: OpResultMap['createInode'];
  [OpType.CreateFile]: OpResultMap['createFile'];
  [OpType.CreateRootInode]: OpResultMap['createRootInode'];
  [OpType.CreateDentry]: OpResultMap['createDentry'];
  [OpType.DeleteDentry]: OpResultMap['deleteDentry'];
  [OpType.Unlink]: OpResultMap['deleteDentry'];
  [OpType.Rmdir]: OpResultMap['deleteDentry'];
  [OpType.LinkInode]: OpResultMap['link'];
  [OpType.UnlinkInode]: OpResultMap['unlink'];
  [OpType.UpdateInode]: OpResultMap['setattr'];
  [OpType.DeleteInode]: object;
  [OpType.SetXAttr]: object;
  [OpType.RemoveXAttr]: object;
  [OpType.AppendChunks]: OpResultMap['appendChunks'];
  [OpType.ReplaceChunks]: object;
  /** A one-entry rename; `followup` when an inode of it lives in another partition. */
  [OpType.Rename]: OpResultMap['rename'];
  [OpType.OpenHandle]: object;
  [OpType.Lock]: LockOutcome;
  [OpType.TrashRestore]: OpResultMap['trashRestore'];
  [OpType.TrashPurge]: OpResultMap['trashPurge'];
  [OpType.AppendAndUpdateInode]: OpResultMap['appendSetattr'];
  [OpType.CloneInode]: OpResultMap['cloneInode'];
  [OpType.CreatePartition]: { existed?: boolean };
  [OpType.DeletePartition]: object;
  [OpType.TxBegin]: object;
  [OpType.TxPrepare]: object;
  [OpType.TxDecide]: { state?: TxState };
  [OpType.TxFinish]: object;
  [OpType.TxForget]: object;
  [OpType.ExpireSessions]: object;
  [OpType.MarkReclaim]: object;
  [OpType.DropPartition]: object;
}

/** A refused or failed entry (the same on every replica); TX_KEY_LOCKED carries the lock epoch to wait past. */
export interface OpRefusal {
  status: Exclude<StatusCode, StatusCode.OK>;
  message?: string;
  lockEpoch?: number;
}

/** What an entry of type T answers its proposer. */
export type OpAnswer<T extends OpType> = ({ status: StatusCode.OK } & OpAnswers[T]) | OpRefusal;

/** The OK branch of an answer. */
export type OpOk<T extends OpType> = Extract<OpAnswer<T>, { status: StatusCode.OK }>;
