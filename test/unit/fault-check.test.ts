// The fault suite's checker (test/helpers/fault-check.ts) must catch what it claims to: a lost or
// resurrected name, a wrong nlink, wrong content, a duplicated name, dumps that differ — and must
// accept either outcome of an op whose result the client never learned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, checkRaces, type Dump, type DumpEntry } from '../helpers/fault-check.ts';
import { content, sha, type LogLine, type Op, type RaceLine } from '../helpers/fault-model.ts';
import { partition } from '../helpers/fault-suite.ts';
import { SeededRandom } from '../../src/common/index.ts';

const shared = ['/d0', '/d1', '/d2', '/d3'].map((path, i): DumpEntry => ({ path, type: 'dir', ino: 100 + i, nlink: 2, size: 4096 }));
const file = (path: string, ino: number, nlink: number, f: number, version: number, size: number): DumpEntry => {
  const data = content(f, version, size);
  return { path, type: 'file', ino, nlink, size: data.length, sha: sha(data) };
};
const dump = (...entries: DumpEntry[]): Dump => ({ entries: [...shared, ...entries].sort((a, b) => (a.path < b.path ? -1 : 1)), problems: [] });
let n = 0;
const line = (o: Op, r: LogLine['r'] = 'ok'): LogLine => ({ c: 0, n: ++n, o, r });

// create f1 at /d0/c0-f1, write version 1, link it as /d1/c0-f2.
const base = (): LogLine[] => {
  n = 0;
  return [line({ op: 'create', path: '/d0/c0-f1', file: 1, size: 100 }), line({ op: 'write', path: '/d0/c0-f1', file: 1, version: 1 }), line({ op: 'link', from: '/d0/c0-f1', to: '/d1/c0-f2' })];
};
const good = () => [file('/d0/c0-f1', 7, 2, 1, 1, 100), file('/d1/c0-f2', 7, 2, 1, 1, 100)];

test('a tree that matches the log passes; two identical dumps agree', () => {
  assert.deepEqual(check(base(), [dump(...good()), dump(...good())], 1), []);
});

test('a lost name, a resurrected name, a wrong nlink and wrong content are each caught', () => {
  const [a, b] = good();
  assert.match(check(base(), [dump({ ...a!, nlink: 1 })], 1).join('\n'), /missing/);
  assert.match(check(base(), [dump(a!, b!, file('/d2/c0-f9', 8, 1, 9, 0, 0))], 1).join('\n'), /no op of this client leaves it there/);
  assert.match(check(base(), [dump({ ...a!, nlink: 3 }, { ...b!, nlink: 3 })], 1).join('\n'), /nlink 3 but 2 names/);
  assert.match(check(base(), [dump(file('/d0/c0-f1', 7, 2, 1, 0, 0), file('/d1/c0-f2', 7, 2, 1, 0, 0))], 1).join('\n'), /content is not version 1/);
  assert.match(check(base(), [dump(a!, { ...b!, ino: 9, nlink: 1 }), dump(...good())], 1).join('\n'), /different inodes|differ/);
  assert.match(check(base(), [{ ...dump(...good()), problems: ['duplicate names in /d0: c0-f1'] }], 1).join('\n'), /duplicate names/);
});

test('an op of unknown outcome may have applied or not, but nothing else', () => {
  const logs = [...base(), line({ op: 'rename', from: '/d1/c0-f2', to: '/d2/c0-f3' }, 'unknown')];
  const [a, b] = good();
  assert.deepEqual(check(logs, [dump(a!, b!)], 1), [], 'not applied');
  assert.deepEqual(check(logs, [dump(a!, { ...b!, path: '/d2/c0-f3' })], 1), [], 'applied');
  assert.match(check(logs, [dump(a!, b!, { ...b!, path: '/d2/c0-f3' })], 1).join('\n'), /matches neither outcome|nlink/);
  assert.match(check(logs, [dump({ ...a!, nlink: 1 })], 1).join('\n'), /matches neither outcome/);
});

test('a definite error the model did not expect is a violation', () => {
  const logs = [...base(), { ...line({ op: 'unlink', path: '/d1/c0-f2' }, 'error'), err: 'ENOENT' }];
  assert.match(check(logs, [dump(...good())], 1).join('\n'), /unexpected ENOENT/);
});

// The racing directory renames (checkRaces): r0 … r3 under /race, moved into each other in rounds.
const raceDump = (...paths: string[]): Dump => ({ entries: paths.map((path, i): DumpEntry => ({ path, type: 'dir', ino: 200 + i, nlink: 2, size: 4096 })), problems: [] });
const side = (race: number, c: number, from: number, to: number, r: RaceLine['r'], err?: string): RaceLine => ({ race, c, from, to, r, ...(err ? { err } : {}) });

test('racing directory renames: one acknowledged move per round, replayed to where the tree has it', () => {
  const lines = [side(1, 0, 0, 1, 'ok'), side(1, 1, 1, 0, 'error', 'EINVAL'), side(2, 0, 2, 3, 'error', 'ENOENT'), side(2, 1, 3, 2, 'ok')];
  assert.deepEqual(checkRaces(lines, raceDump('/race', '/race/r1', '/race/r1/r0', '/race/r2', '/race/r2/r3')), []);
  assert.match(checkRaces(lines, raceDump('/race', '/race/r1', '/race/r0', '/race/r2', '/race/r2/r3')).join('\n'), /r0 is at \/race\/r0, but the acknowledged moves put it under \/race\/r1/);
});

test('racing directory renames: both sides acknowledged, a lost or a duplicated race directory are caught', () => {
  const both = [side(1, 0, 0, 1, 'ok'), side(1, 1, 1, 0, 'ok')];
  assert.match(checkRaces(both, raceDump('/race', '/race/r2', '/race/r3')).join('\n'), /both moves acknowledged/);
  // A loop r0 ⇄ r1 detaches both from the root: the dump does not reach them.
  assert.match(checkRaces(both, raceDump('/race', '/race/r2', '/race/r3')).join('\n'), /r0 is in the tree 0 times/);
  assert.match(checkRaces([], raceDump('/race', '/race/r0', '/race/r1', '/race/r1/r1', '/race/r2', '/race/r3')).join('\n'), /r1 is in the tree 2 times/);
  // An unknown outcome: either place is right, but each directory still exactly once.
  const unknown = [side(1, 0, 0, 1, 'unknown'), side(1, 1, 1, 0, 'error', 'ENOENT')];
  assert.deepEqual(checkRaces(unknown, raceDump('/race', '/race/r1', '/race/r1/r0', '/race/r2', '/race/r3')), []);
  assert.deepEqual(checkRaces(unknown, raceDump('/race', '/race/r0', '/race/r1', '/race/r2', '/race/r3')), []);
});

test('partition shapes: majority cuts one metaserver and one client from the rest, bridge keeps one server on both sides, ring cuts the diagonals', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const reach = (cuts: [string, string][], a: string, b: string) => !cuts.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
    const servers = ['mds', 'ms0', 'ms1', 'ms2'];
    const maj = partition(new SeededRandom(seed), 'majority');
    assert.equal(maj.targets.length, 2);
    assert.match(maj.targets[0]!, /^ms\d$/);
    assert.equal(maj.cuts.length, 2 * 5 - 1 - 1, 'minority × majority links, no client–client one');
    const br = partition(new SeededRandom(seed), 'bridge');
    const bridge = br.targets[0]!;
    for (const s of servers) assert.ok(reach(br.cuts, bridge, s), `the bridge ${bridge} reaches ${s}`);
    assert.ok(servers.some((a) => servers.some((b) => !reach(br.cuts, a, b))), 'two servers do not see each other');
    const ring = partition(new SeededRandom(seed), 'ring');
    for (const s of servers) assert.equal(servers.filter((o) => o !== s && reach(ring.cuts, s, o)).length, 2, `${s} reaches its two neighbours only`);
  }
});
