// fsck: checks an fs's metadata against itself (names against nlink, dentries against inodes,
// the directory tree for loops and detached parts), against the block store (objects no inode
// references, inodes whose objects are missing) and the MDS's partition list against what the
// replicas hold; with `repair`, fixes what can be fixed and says what it did.
//
// Consistency: the scans read partitions page by page (scan.ts), so a finding can be an
// operation in flight; each one is read again from the partition that decides it (recheck.ts)
// and dropped when it no longer holds. Memory: a few numbers per inode and per name.
import { CurveError, StatusCode } from '../common/index.ts';
import { FileType } from '../gen/common_pb.ts';
import type { AdminContext } from './context.ts';
import { collectGarbage, scanReferences } from './gc.ts';
import { referencedKeys } from './objects.ts';
import { dentryNow, inodeNow, namesNow, type NameRef } from './recheck.ts';
import { allDentries, fsPartitions } from './scan.ts';
import { listTrash } from './trash.ts';

export const ROOT_INODE = 1;
/** The recycle directory's fixed id: nameless by design. */
export const RECYCLE_INODE = 2;
export const LOST_FOUND = 'lost+found';

export type FindingKind =
  | 'dangling-dentry'
  | 'nlink'
  | 'orphan-inode'
  | 'directory-loop'
  | 'directory-names'
  | 'unreachable-directory'
  | 'missing-object'
  | 'unreferenced-object'
  | 'partition-agreement';

export interface Finding {
  kind: FindingKind;
  message: string;
  ino?: number;
  parent?: number;
  name?: string;
  key?: string;
  /** What --repair did, or why it did not. */
  repair?: string;
  repaired: boolean;
}

export interface FsckOptions {
  repair: boolean;
  /** Unreferenced objects younger than this are reported but never deleted (gc.ts). */
  minAgeMs: number;
}

export interface FsckReport {
  inodes: number;
  dentries: number;
  objects: number;
  partitions: number;
  findings: Finding[];
  /** Findings of the scan that the second look dropped (operations in flight). */
  dropped: number;
}

interface InodeFacts {
  type: FileType;
  nlink: number;
  parents: number[];
}

export async function fsck(ctx: AdminContext, opts: FsckOptions): Promise<FsckReport> {
  const findings: Finding[] = [];
  let dropped = 0;
  const facts = new Map<number, InodeFacts>();
  const missingByIno = new Map<number, string[]>();

  // 1. Objects, then inodes (gc.ts says why in this order).
  const { index } = await scanReferences(ctx, (inode, missing) => {
    const a = inode.attr!;
    facts.set(a.inodeId, { type: a.type, nlink: a.nlink, parents: a.parent });
    if (missing.length > 0) missingByIno.set(a.inodeId, missing);
  });
  const partitions = await fsPartitions(ctx.meta);

  // 2. Names.
  const names = new Map<number, NameRef[]>();
  const subdirs = new Map<number, number>();
  let dentries = 0;
  const dangling: { parent: number; name: string; ino: number; type: number }[] = [];
  for await (const d of allDentries(ctx.meta)) {
    dentries++;
    const ref = { parent: d.parentInodeId, name: d.name, type: d.type };
    const list = names.get(d.inodeId);
    if (list) list.push(ref);
    else names.set(d.inodeId, [ref]);
    if (d.type === FileType.TYPE_DIRECTORY) subdirs.set(d.parentInodeId, (subdirs.get(d.parentInodeId) ?? 0) + 1);
    const f = facts.get(d.inodeId);
    if (!f || f.nlink === 0) dangling.push({ parent: d.parentInodeId, name: d.name, ino: d.inodeId, type: d.type });
  }

  // A trash entry keeps a removed name (architecture.md §6c): its inode's link (a directory's
  // links) stays, so it counts as a name and a trashed directory is reached through it. It does
  // not count as a subdirectory: the rmdir dropped its parent's link.
  for (const t of await listTrash(ctx.meta)) {
    const ref = { parent: t.parentInodeId, name: t.name, type: t.type };
    const list = names.get(t.inodeId);
    if (list) list.push(ref);
    else names.set(t.inodeId, [ref]);
  }

  // 3. Dangling dentries.
  for (const d of dangling) {
    const still = (await dentryNow(ctx, d.parent, d.name)) === d.ino && !((await inodeNow(ctx, d.ino))?.attr?.nlink);
    if (!still) {
      dropped++;
      continue;
    }
    const f: Finding = { kind: 'dangling-dentry', parent: d.parent, name: d.name, ino: d.ino, message: `${d.parent}/${JSON.stringify(d.name)} names inode ${d.ino}, which does not exist (or has no links left)`, repaired: false };
    if (opts.repair) {
      await ctx.meta.callForInode('deleteDentry', d.parent, { parentInodeId: d.parent, name: d.name, type: d.type });
      f.repaired = true;
      f.repair = 'removed the name';
    }
    findings.push(f);
  }

  // 4. Link counts and orphans (a trashed inode's kept link is backed by its trash entry, above).
  let lostFound: number | undefined;
  const lostAndFound = async () => (lostFound ??= await ensureLostFound(ctx));
  const multiNamed: number[] = [];
  for (const [ino, fact] of facts) {
    if (fact.nlink === 0 || ino === ROOT_INODE || ino === RECYCLE_INODE) continue;
    const seen = names.get(ino) ?? [];
    const isDir = fact.type === FileType.TYPE_DIRECTORY;
    if (!isDir) {
      if (seen.length === fact.nlink) continue;
      const r = await checkFileLinks(ctx, ino, seen, opts.repair, lostAndFound);
      if (r) findings.push(r);
      else dropped++;
      continue;
    }
    const expectLinks = 2 + (subdirs.get(ino) ?? 0);
    if (fact.nlink !== expectLinks) {
      const attr = (await inodeNow(ctx, ino))?.attr;
      const stats = attr ? (await ctx.meta.callForInode('getDirStats', ino, { inodeId: ino })).stats : undefined;
      if (attr && stats && attr.nlink !== 2 + stats.subdirs) {
        findings.push({ kind: 'nlink', ino, message: `directory ${ino} has nlink ${attr.nlink}, but ${stats.subdirs} subdirectories (expected ${2 + stats.subdirs})`, repair: opts.repair ? 'not repaired: no metaserver call sets a directory\'s link count' : undefined, repaired: false });
      } else dropped++;
    }
    if (seen.length !== 1) {
      const attr = (await inodeNow(ctx, ino))?.attr;
      const now = attr && attr.nlink > 0 ? await namesNow(ctx, ino, [...attr.parent, ...seen.map((s) => s.parent)]) : undefined;
      if (!now || now.length === 1) {
        dropped++;
        continue;
      }
      if (now.length === 0) {
        const f: Finding = { kind: 'orphan-inode', ino, message: `directory ${ino} has no name`, repaired: false };
        if (opts.repair) {
          const lf = await lostAndFound();
          await ctx.meta.callForInode('createDentry', lf, { dentry: { fsId: ctx.fsId, inodeId: ino, parentInodeId: lf, name: `#${ino}`, type: FileType.TYPE_DIRECTORY } });
          f.repaired = true;
          f.repair = `named /${LOST_FOUND}/#${ino}`;
        }
        findings.push(f);
      }
      multiNamed.push(ino); // more than one name: after the loop check (a loop has two)
    }
  }

  // 5. The tree: every directory with links must be reachable from the root, once.
  const tree = await checkTree(ctx, facts, names, opts.repair);
  findings.push(...tree);
  const looping = new Set(tree.filter((f) => f.kind === 'directory-loop').map((f) => f.ino));
  for (const ino of multiNamed) {
    if (looping.has(ino)) continue;
    const f = await checkDirNames(ctx, ino, names.get(ino) ?? [], opts.repair);
    if (f) findings.push(f);
    else dropped++;
  }

  // 6. Objects: missing (confirmed by a HEAD and the inode read again) and unreferenced.
  for (const [ino, keys] of missingByIno) {
    const inode = await inodeNow(ctx, ino);
    if (!inode) {
      dropped += keys.length;
      continue;
    }
    const refs = new Set(referencedKeys(ctx.fsId, inode, ctx.layout));
    for (const key of keys) {
      if (!refs.has(key) || (await ctx.store.head(key)) !== undefined) {
        dropped++;
        continue;
      }
      findings.push({ kind: 'missing-object', ino, key, message: `inode ${ino} references object ${key}, which is not in the block store (its bytes read as an error)`, repair: opts.repair ? 'not repaired: the data is lost; restore the object or rewrite the file' : undefined, repaired: false });
    }
  }
  const garbage = await collectGarbage(ctx, index, facts.size, { minAgeMs: opts.minAgeMs, delete: opts.repair });
  for (const g of garbage.garbage) {
    findings.push({ kind: 'unreferenced-object', key: g.key, message: `object ${g.key} (${g.size} bytes, ${Math.round(g.ageMs / 1000)} s old) is referenced by no inode`, repaired: g.deleted, repair: g.deleted ? 'deleted' : undefined });
  }
  for (const key of garbage.foreign) {
    findings.push({ kind: 'unreferenced-object', key, message: `${key} is under the fs's prefix but is not a data object key`, repaired: false, repair: opts.repair ? 'not repaired: not an object curvefs writes' : undefined });
  }

  // 7. The MDS's partitions against the replicas.
  findings.push(...(await checkAgreement(ctx)));

  return { inodes: facts.size, dentries, objects: index.size, partitions: partitions.length, findings, dropped };
}

/** /lost+found (mode 0700, root's), created when missing; its inode id. */
async function ensureLostFound(ctx: AdminContext): Promise<number> {
  try {
    return (await ctx.core.lookup(ROOT_INODE, LOST_FOUND)).inodeId;
  } catch (e) {
    if (!(e instanceof CurveError && e.status === StatusCode.NOT_FOUND)) throw e;
  }
  try {
    return (await ctx.core.create(ROOT_INODE, LOST_FOUND, { type: FileType.TYPE_DIRECTORY, mode: 0o700, uid: 0, gid: 0 })).inodeId;
  } catch (e) {
    if (e instanceof CurveError && e.status === StatusCode.DENTRY_EXIST) return (await ctx.core.lookup(ROOT_INODE, LOST_FOUND)).inodeId;
    throw e;
  }
}

/** Items of `a` not matched one for one by an item of `b` (multiset difference). */
function minus(a: readonly number[], b: readonly number[]): number[] {
  const left = [...b];
  const out: number[] = [];
  for (const x of a) {
    const k = left.indexOf(x);
    if (k >= 0) left.splice(k, 1);
    else out.push(x);
  }
  return out;
}

/**
 * A non-directory whose link count differs from its names, looked at again. Repair makes nlink
 * the number of names (LinkInode / UnlinkInode, which keep the parent list in step); a file with
 * no name at all is given one in /lost+found rather than dropped, so no data goes away.
 */
async function checkFileLinks(ctx: AdminContext, ino: number, seen: NameRef[], repair: boolean, lostAndFound: () => Promise<number>): Promise<Finding | undefined> {
  const attr = (await inodeNow(ctx, ino))?.attr;
  if (!attr || attr.nlink === 0) return undefined;
  const now = await namesNow(ctx, ino, [...attr.parent, ...seen.map((s) => s.parent)]);
  if (now.length === attr.nlink) return undefined;
  const nameParents = now.map((n) => n.parent);
  if (now.length === 0) {
    const f: Finding = { kind: 'orphan-inode', ino, message: `inode ${ino} has nlink ${attr.nlink} but no name`, repaired: false };
    if (repair) {
      const lf = await lostAndFound();
      await ctx.meta.callForInode('linkInode', ino, { inodeId: ino, newParent: lf });
      await ctx.meta.callForInode('createDentry', lf, { dentry: { fsId: ctx.fsId, inodeId: ino, parentInodeId: lf, name: `#${ino}`, type: attr.type } });
      for (let k = 0; k < attr.nlink; k++) {
        await ctx.meta.callForInode('unlinkInode', ino, { inodeId: ino, parent: attr.parent[k] ?? ROOT_INODE });
      }
      f.repaired = true;
      f.repair = `named /${LOST_FOUND}/#${ino}, nlink 1`;
    }
    return f;
  }
  const f: Finding = { kind: 'nlink', ino, message: `inode ${ino} has nlink ${attr.nlink} but ${now.length} name(s)`, repaired: false };
  if (repair) {
    if (attr.nlink > now.length) {
      // Drop the links no name backs, naming their parents so the parent list follows.
      const stale = minus(attr.parent, nameParents);
      for (let k = 0; k < attr.nlink - now.length; k++) {
        await ctx.meta.callForInode('unlinkInode', ino, { inodeId: ino, parent: stale[k] ?? nameParents[0]! });
      }
    } else {
      const unbacked = minus(nameParents, attr.parent);
      for (let k = 0; k < now.length - attr.nlink; k++) {
        await ctx.meta.callForInode('linkInode', ino, { inodeId: ino, newParent: unbacked[k] ?? nameParents[0]! });
      }
    }
    f.repaired = true;
    f.repair = `nlink set to ${now.length}`;
  }
  return f;
}

/**
 * Walks the directory tree from the root over the scanned names. A directory named inside its
 * own subtree closes a loop; a directory with links that the walk never reaches hangs off such a
 * loop or off nothing. Repair removes a looping name (the one that is not the directory's
 * recorded parent) when the metaserver allows it; it refuses to drop the name of a non-empty
 * directory it also holds (no metaserver call can; a rename of the looping name did not
 * complete when tried), and then the finding says what the operator must do.
 */
async function checkTree(
  ctx: AdminContext,
  facts: Map<number, InodeFacts>,
  names: Map<number, NameRef[]>,
  repair: boolean,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const childDirs = new Map<number, number[]>();
  for (const [ino, refs] of names) {
    if (facts.get(ino)?.type !== FileType.TYPE_DIRECTORY) continue;
    for (const r of refs) {
      const list = childDirs.get(r.parent);
      if (list) list.push(ino);
      else childDirs.set(r.parent, [ino]);
    }
  }
  // Depth-first with an explicit stack; `onPath` marks the directories of the current path.
  const reached = new Set<number>([ROOT_INODE]);
  const onPath = new Set<number>();
  const loops: { dir: number; parent: number }[] = [];
  const stack: { dir: number; next: number }[] = [{ dir: ROOT_INODE, next: 0 }];
  onPath.add(ROOT_INODE);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const kids = childDirs.get(top.dir) ?? [];
    if (top.next >= kids.length) {
      onPath.delete(top.dir);
      stack.pop();
      continue;
    }
    const child = kids[top.next++]!;
    if (onPath.has(child)) {
      loops.push({ dir: child, parent: top.dir });
      continue;
    }
    if (reached.has(child)) continue; // a second name of a directory: reported below if it loops
    reached.add(child);
    onPath.add(child);
    stack.push({ dir: child, next: 0 });
  }
  for (const loop of loops) {
    const attr = (await inodeNow(ctx, loop.dir))?.attr;
    const refs = attr ? (await namesNow(ctx, loop.dir, [loop.parent])).filter((n) => n.parent === loop.parent) : [];
    if (refs.length === 0) continue; // gone since the scan
    for (const ref of refs) {
      const f: Finding = {
        kind: 'directory-loop',
        ino: loop.dir,
        parent: loop.parent,
        name: ref.name,
        message: `directory ${loop.dir} is named ${JSON.stringify(ref.name)} inside its own subtree (in directory ${loop.parent}): a loop`,
        repaired: false,
      };
      if (repair) {
        try {
          await ctx.meta.callForInode('deleteDentry', loop.parent, { parentInodeId: loop.parent, name: ref.name, type: FileType.TYPE_DIRECTORY });
          f.repaired = true;
          f.repair = 'removed the looping name';
        } catch (e) {
          if (!(e instanceof CurveError && e.status === StatusCode.DIRECTORY_NOT_EMPTY)) throw e;
          // A non-empty directory's name is kept by the metaserver that also holds the directory
          // (only a rename may move such a name, and a rename out of a loop is refused as one).
          f.repair = `not repaired: the metaserver keeps the name of a non-empty directory it also holds; move the entries of directory ${loop.dir} elsewhere, then run fsck --repair again`;
        }
      }
      out.push(f);
    }
  }
  for (const [ino, fact] of facts) {
    if (fact.type !== FileType.TYPE_DIRECTORY || fact.nlink === 0 || reached.has(ino) || ino === RECYCLE_INODE) continue;
    if (!names.has(ino)) continue; // nameless: reported as an orphan
    const attr = (await inodeNow(ctx, ino))?.attr;
    if (!attr || attr.nlink === 0) continue;
    out.push({ kind: 'unreachable-directory', ino, message: `directory ${ino} has names but cannot be reached from the root (it hangs off a loop)`, repaired: false, repair: repair ? 'not repaired: repair the loop first' : undefined });
  }
  return out;
}

/**
 * The MDS's partitions of the fs against the replicas of their copysets: every member hosts the
 * copyset and the partition with the same inode range, and the members agree on one leader.
 */
async function checkAgreement(ctx: AdminContext): Promise<Finding[]> {
  if (!ctx.copysetStatus) return [];
  const out: Finding[] = [];
  const agreement = (message: string): Finding => ({ kind: 'partition-agreement', message, repaired: false });
  for (const part of await fsPartitions(ctx.meta)) {
    const route = ctx.meta.table.copyset(part.poolId, part.copysetId);
    const where = `partition ${part.partitionId} (copyset ${part.poolId}:${part.copysetId})`;
    if (!route || route.peers.length === 0) {
      out.push(agreement(`${where}: the MDS lists no members for its copyset`));
      continue;
    }
    const leaders = new Set<string>();
    for (const addr of route.peers) {
      let st;
      try {
        st = await ctx.copysetStatus(addr, part.poolId, part.copysetId);
      } catch (e) {
        out.push(agreement(`${where}: member ${addr} did not answer (${(e as Error).message})`));
        continue;
      }
      if (!st) {
        out.push(agreement(`${where}: member ${addr} does not host the copyset`));
        continue;
      }
      const held = st.partitions.find((p) => p.partitionId === part.partitionId);
      if (!held) out.push(agreement(`${where}: member ${addr} does not hold the partition`));
      else if (held.start !== part.start || held.end !== part.end || held.fsId !== part.fsId) {
        out.push(agreement(`${where}: member ${addr} holds fs ${held.fsId} [${held.start}, ${held.end}], the MDS says fs ${part.fsId} [${part.start}, ${part.end}]`));
      }
      if (st.leader?.address) leaders.add(`${st.term}:${st.leader.address}`);
    }
    const terms = new Map<string, Set<string>>();
    for (const l of leaders) {
      const [term, addr] = [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)];
      if (!terms.has(term)) terms.set(term, new Set());
      terms.get(term)!.add(addr);
    }
    for (const [term, addrs] of terms) if (addrs.size > 1) out.push(agreement(`${where}: members name different leaders in term ${term}: ${[...addrs].join(', ')}`));
    if (leaders.size === 0) out.push(agreement(`${where}: no member knows a leader`));
  }
  return out;
}

/**
 * A directory with several names and no loop (a hard link to a directory, which POSIX forbids):
 * repair keeps the name in its recorded parent (the first when none is) and removes the others,
 * as far as the metaserver allows (see checkTree).
 */
async function checkDirNames(ctx: AdminContext, ino: number, seen: NameRef[], repair: boolean): Promise<Finding | undefined> {
  const attr = (await inodeNow(ctx, ino))?.attr;
  if (!attr || attr.nlink === 0) return undefined;
  const now = await namesNow(ctx, ino, [...attr.parent, ...seen.map((s) => s.parent)]);
  if (now.length <= 1) return undefined;
  const keep = now.find((n) => n.parent === attr.parent[0]) ?? now[0]!;
  const extra = now.filter((n) => n !== keep);
  const f: Finding = {
    kind: 'directory-names',
    ino,
    message: `directory ${ino} has ${now.length} names (${now.map((n) => `${n.parent}/${JSON.stringify(n.name)}`).join(', ')}); a directory has one`,
    repaired: false,
  };
  if (repair) {
    const kept: string[] = [];
    for (const n of extra) {
      try {
        await ctx.meta.callForInode('deleteDentry', n.parent, { parentInodeId: n.parent, name: n.name, type: FileType.TYPE_DIRECTORY });
      } catch (e) {
        if (!(e instanceof CurveError && e.status === StatusCode.DIRECTORY_NOT_EMPTY)) throw e;
        kept.push(`${n.parent}/${JSON.stringify(n.name)}`);
      }
    }
    f.repaired = kept.length === 0;
    f.repair = f.repaired
      ? `removed every name but ${keep.parent}/${JSON.stringify(keep.name)}`
      : `not repaired: the metaserver keeps ${kept.join(', ')} (a non-empty directory's name where it also holds the directory); move the entries of directory ${ino} elsewhere, then run fsck --repair again`;
  }
  return f;
}
