// The checker of the multi-host fault suite: compares the tree dumped after healing every fault
// with what each client's log says (fault-model.ts), and checks the invariants no log is needed
// for: no duplicated name, every file's nlink equals its number of names, no directory reached
// twice (a loop), and two clients on different hosts see the same tree.
import { ClientModel, content, RACE_DIRS, RACE_ROOT, sha, type Entry, type FileState, type LogLine, type RaceLine } from './fault-model.ts';

export interface DumpEntry {
  path: string;
  type: 'dir' | 'file' | 'other';
  ino: number;
  nlink: number;
  size: number;
  sha?: string;
}

export interface Dump {
  entries: DumpEntry[];
  problems: string[];
}

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);

function matches(actual: Map<string, DumpEntry>, paths: string[], want: Map<string, Entry>, files: Map<number, FileState>): string | undefined {
  const inoOf = new Map<number, number>();
  for (const p of paths) {
    const a = actual.get(p);
    const w = want.get(p);
    if (!w) {
      if (a) return `${p} exists`;
      continue;
    }
    if (!a) return `${p} missing`;
    if (a.type !== w.kind) return `${p} is a ${a.type}, not a ${w.kind}`;
    if (w.kind !== 'file') continue;
    const f = files.get(w.file)!;
    const data = content(w.file, f.version, f.size);
    if (a.size !== data.length || a.sha !== sha(data)) return `${p}: content is not version ${f.version} of file ${w.file} (size ${a.size}, want ${data.length})`;
    const seen = inoOf.get(w.file);
    if (seen !== undefined && seen !== a.ino) return `${p}: names of file ${w.file} are different inodes`;
    inoOf.set(w.file, a.ino);
  }
  return undefined;
}

/** Every violation found (empty = the run is correct). */
export function check(logs: LogLine[], dumps: Dump[], clients: number): string[] {
  const v: string[] = [];
  const [d0, ...others] = dumps;
  if (!d0) return ['no dump'];
  for (const d of dumps) v.push(...d.problems);
  for (const [i, d] of others.entries()) {
    const a = JSON.stringify(d0.entries.map((e) => [e.path, e.type, e.ino, e.nlink, e.size, e.sha]));
    const b = JSON.stringify(d.entries.map((e) => [e.path, e.type, e.ino, e.nlink, e.size, e.sha]));
    if (a !== b) v.push(`client dumps 0 and ${i + 1} differ`);
  }
  const actual = new Map(d0.entries.map((e) => [e.path, e]));
  // nlink of every file against its names in the whole tree.
  const names = new Map<number, string[]>();
  for (const e of d0.entries) if (e.type === 'file') names.set(e.ino, [...(names.get(e.ino) ?? []), e.path]);
  for (const [ino, ps] of names) {
    const nlink = actual.get(ps[0]!)!.nlink;
    if (nlink !== ps.length) v.push(`inode ${ino}: nlink ${nlink} but ${ps.length} names (${ps.join(' ')})`);
  }
  for (let k = 0; k < clients; k++) {
    const model = new ClientModel(k);
    const lines = logs.filter((l) => l.c === k).sort((a, b) => a.n - b.n);
    for (const l of lines) {
      if (l.r === 'error') v.push(`client ${k} op ${l.n} ${JSON.stringify(l.o)}: unexpected ${l.err}`);
      model.record(l);
    }
    const own = [...actual.keys()].filter((p) => basename(p).startsWith(model.prefix()));
    const grouped = new Set<string>();
    for (const g of model.groups) {
      const paths = [...new Set([...g.before.keys(), ...g.after.keys()])];
      for (const p of paths) grouped.add(p);
      const before = matches(actual, paths, g.before, g.filesBefore);
      const after = matches(actual, paths, g.after, g.filesAfter);
      if (before && after) v.push(`client ${k} op ${g.n} ${JSON.stringify(g.op)} (outcome unknown) matches neither outcome: before: ${before}; after: ${after}`);
    }
    const certain = [...model.entries.keys()];
    const bad = matches(actual, certain, model.entries, model.files);
    if (bad) v.push(`client ${k}: acknowledged state differs: ${bad}`);
    for (const p of own) if (!model.entries.has(p) && !grouped.has(p)) v.push(`client ${k}: ${p} exists but no op of this client leaves it there`);
    // Distinct files of the model are distinct inodes.
    const inoFile = new Map<number, number>();
    for (const [p, e] of model.entries) {
      if (e.kind !== 'file') continue;
      const a = actual.get(p);
      if (!a) continue;
      const f = inoFile.get(a.ino);
      if (f !== undefined && f !== e.file) v.push(`client ${k}: ${p} shares inode ${a.ino} with another file`);
      inoFile.set(a.ino, e.file);
    }
  }
  return v;
}

/**
 * The racing directory renames: in one round two clients moved rX into rY and rY into rX at the
 * same moment, so at most one side may be acknowledged (both would make a loop). Afterwards every
 * race directory is in the tree exactly once, under the racing area (a loop would detach them
 * from the root: missing from the dump), and when no move's outcome is unknown each sits where
 * the acknowledged moves, replayed in order, put it.
 */
export function checkRaces(lines: readonly RaceLine[], dump: Dump): string[] {
  const v: string[] = [];
  const rounds = new Map<number, RaceLine[]>();
  for (const l of lines) rounds.set(l.race, [...(rounds.get(l.race) ?? []), l]);
  const parent = new Map<number, number | undefined>();
  let unknown = false;
  for (const [n, sides] of [...rounds].sort((a, b) => a[0] - b[0])) {
    const ok = sides.filter((l) => l.r === 'ok');
    if (ok.length > 1) v.push(`race round ${n}: both moves acknowledged (${ok.map((l) => `r${l.from} into r${l.to}`).join(', ')}): a directory loop`);
    for (const l of ok) parent.set(l.from, l.to);
    if (sides.some((l) => l.r === 'unknown')) unknown = true;
  }
  const at = new Map<number, string[]>();
  for (const e of dump.entries) {
    const m = /\/r(\d+)$/.exec(e.path);
    if (e.type === 'dir' && m && e.path.startsWith(RACE_ROOT + '/')) at.set(Number(m[1]), [...(at.get(Number(m[1])) ?? []), e.path]);
  }
  for (let i = 0; i < RACE_DIRS; i++) {
    const paths = at.get(i) ?? [];
    if (paths.length !== 1) {
      v.push(`race directory r${i} is in the tree ${paths.length} times (${paths.join(' ')})`);
      continue;
    }
    if (unknown) continue;
    const p = parent.get(i);
    const want = p === undefined ? RACE_ROOT : at.get(p)?.[0];
    const got = paths[0]!.slice(0, paths[0]!.lastIndexOf('/'));
    if (want !== got) v.push(`race directory r${i} is at ${paths[0]}, but the acknowledged moves put it under ${want ?? `r${p}`}`);
  }
  return v;
}
