// Which quota a record, a delta or a request names: a directory's (by its inode), a user's (by
// uid) or a group's (by gid). One string per quota, for maps and store keys alike: "d<ino>",
// "u<uid>", "g<gid>" — the MDS and the clients agree on it without a registry.
import { QuotaKind } from '../gen/mds_pb.ts';

/** The fields of a Quota, QuotaDelta, GetQuotaRequest or DeleteQuotaRequest that name the quota. */
export interface QuotaTarget {
  /** Absent: a directory quota (what a record of an older MDS is). */
  kind?: QuotaKind;
  dirInodeId: number;
  ownerId?: number;
}

const PREFIX: Record<QuotaKind, string> = { [QuotaKind.QUOTA_DIRECTORY]: 'd', [QuotaKind.QUOTA_USER]: 'u', [QuotaKind.QUOTA_GROUP]: 'g' };

export type QuotaId = string;

export function quotaId(t: QuotaTarget): QuotaId {
  const kind = t.kind ?? QuotaKind.QUOTA_DIRECTORY;
  return `${PREFIX[kind] ?? '?'}${kind === QuotaKind.QUOTA_DIRECTORY ? t.dirInodeId : (t.ownerId ?? 0)}`;
}

export function dirQuotaId(dirIno: number): QuotaId {
  return `d${dirIno}`;
}

export function userQuotaId(uid: number): QuotaId {
  return `u${uid}`;
}

export function groupQuotaId(gid: number): QuotaId {
  return `g${gid}`;
}

/** The target named by `id` (the inverse of quotaId). */
export function quotaTargetOf(id: QuotaId): QuotaTarget {
  const n = Number(id.slice(1));
  if (id[0] === 'u') return { kind: QuotaKind.QUOTA_USER, dirInodeId: 0, ownerId: n };
  if (id[0] === 'g') return { kind: QuotaKind.QUOTA_GROUP, dirInodeId: 0, ownerId: n };
  return { kind: QuotaKind.QUOTA_DIRECTORY, dirInodeId: n, ownerId: 0 };
}

/** How a person names the quota: its path, or "user 1000" / "group 100". */
export function quotaLabel(q: QuotaTarget & { path?: string }): string {
  if (q.kind === QuotaKind.QUOTA_USER) return `user ${q.ownerId}`;
  if (q.kind === QuotaKind.QUOTA_GROUP) return `group ${q.ownerId}`;
  return q.path || `inode ${q.dirInodeId}`;
}

/** Sort order of listings: directories by inode, then users, then groups by id. */
export function compareQuotas(a: QuotaTarget, b: QuotaTarget): number {
  return (a.kind ?? 0) - (b.kind ?? 0) || a.dirInodeId - b.dirInodeId || (a.ownerId ?? 0) - (b.ownerId ?? 0);
}
