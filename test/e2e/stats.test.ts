// `curvefs stats --once` on a cluster of `curvefs up`: up gives its mount a metrics port and
// records it, and stats reads the mount and every metaserver from the cluster file; while files
// are being written on the mount, the interval shows the mount's writes and the metaservers'
// requests. A dead endpoint is one row with its reason (exit 0); only dead endpoints: exit 5.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetStats } from '../../src/cli/commands/stats.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { freePort } from '../helpers/etcd.ts';
import { startUpInTemp, stopUpInTemp, type UpInTemp, type UpProc } from '../helpers/up-proc.ts';

let cluster: UpInTemp | undefined;
let dir: string;
let up: UpProc | undefined;

before(async () => {
  cluster = await startUpInTemp('curvefs-stats-');
  ({ dir, up } = cluster);
});

after(() => stopUpInTemp(cluster));

/** Runs `fn` while files are written on the mount without pause; returns fn's result. */
async function whileWriting<T>(fn: () => Promise<T>): Promise<T> {
  const mnt = join(dir, 'mnt');
  const data = Buffer.alloc(64 * 1024, 7);
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) await fsp.writeFile(join(mnt, `f${i % 20}`), data);
  })();
  try {
    return await fn();
  } finally {
    stop = true;
    await writer;
  }
}

test('up gives its mount a metrics port; stats --once --json reads it and every metaserver', async () => {
  assert.match(up!.output, /^mount {7}\S+ \(fs curvefs, log \S+, metrics http:\/\/127\.0\.0\.1:\d+\/metrics\)$/m);
  const file = JSON.parse(await fsp.readFile(join(dir, 'cluster.json'), 'utf8')) as { mountMetrics?: string };
  assert.match(file.mountMetrics ?? '', /^127\.0\.0\.1:\d+$/);

  const r = await whileWriting(() => runCurvefs(['--dir', dir, '--json', 'stats', '--once', '--interval-ms', '1000']));
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { intervalSec: number; targets: TargetStats[] };
  assert.ok(doc.intervalSec >= 1, String(doc.intervalSec));
  assert.deepEqual(doc.targets.map((t) => t.name), ['mount', 'metaserver1', 'metaserver2', 'metaserver3']);
  for (const t of doc.targets) assert.equal(t.error, undefined, `${t.name}: ${t.error}`);
  const mount = doc.targets[0]!;
  assert.equal(mount.address, file.mountMetrics);
  assert.equal(mount.kind, 'mount');
  assert.ok(mount.opsPerSec! > 0);
  assert.ok(mount.writeBytesPerSec! > 0);
  assert.ok(mount.ops!.some((o) => o.op === 'write'), JSON.stringify(mount.ops));
  assert.ok(mount.avgLatencyMs! > 0);
  assert.ok(mount.p99LatencyMs! >= mount.avgLatencyMs! || mount.p99LatencyMs === null);
  assert.ok(mount.rssBytes! > 0);
  const ms = doc.targets.slice(1);
  for (const m of ms) assert.equal(m.kind, 'metaserver');
  // The writes' metadata (inode updates) went to the copysets' leaders.
  assert.ok(ms.reduce((a, m) => a + m.opsPerSec!, 0) > 0, JSON.stringify(ms));
});

test('a dead endpoint is a row with its reason; only dead endpoints: exit 5', async () => {
  const file = JSON.parse(await fsp.readFile(join(dir, 'cluster.json'), 'utf8')) as { mountMetrics: string };
  const dead = `127.0.0.1:${await freePort()}`;
  const some = await runCurvefs(['--json', 'stats', '--once', '--interval-ms', '200', '--target', `${file.mountMetrics},${dead}`]);
  assert.equal(some.code, 0, some.stderr);
  const rows = (JSON.parse(some.stdout) as { targets: TargetStats[] }).targets;
  assert.equal(rows[0]!.kind, 'mount');
  assert.equal(rows[1]!.address, dead);
  assert.match(rows[1]!.error ?? '', /ECONNREFUSED/);

  const none = await runCurvefs(['--json', 'stats', '--once', '--target', dead]);
  assert.equal(none.code, 5);
  assert.match(none.stderr, /"message":"no target answered: 127\.0\.0\.1:\d+ \(connect ECONNREFUSED/);

  const text = await runCurvefs(['--dir', dir, 'stats', '--once', '--interval-ms', '200']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^target\s+kind\s+ops\/s\s+avg ms/m);
  assert.match(text.stdout, /^mount\s+mount\s/m);
  assert.match(text.stdout, /^metaserver3\s+metaserver\s/m);
});
