// Every process's /metrics on a real cluster (an MDS, three metaservers, a `curvefs mount`
// process with --metrics-port) passes `promtool check metrics`, carries the process and Node.js
// runtime metrics, and shows what was just done: FUSE ops by name, bytes, object-store calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountInfo } from '../../src/fuse/index.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { MountProc, runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { promtoolCheck, sampleValue, scrape } from '../helpers/prometheus.ts';

const FS = 'metricsfs';

/** Valid and lint-clean by Prometheus's own checker; an empty text would pass, so not empty. */
async function assertPromtoolClean(what: string, text: string): Promise<void> {
  assert.ok(text.includes('# TYPE '), `${what}: no metrics at all`);
  const r = await promtoolCheck(text);
  assert.equal(r.code, 0, `promtool check metrics on ${what}:\n${r.output}`);
}

/** Process and runtime metrics, which every curvefs process exports. */
function assertRuntimeMetrics(what: string, text: string): void {
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    assert.notEqual(sampleValue(text, name), undefined, `${what}: no ${name}`);
  }
}

describe('metrics of every process', () => {
  let base: string;
  let cluster: CurvefsCluster | undefined;
  let mount: MountProc | undefined;
  let dir: string;
  let mountMetrics: string;

  before(async () => {
    base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-metrics-'));
    await fsp.chmod(base, 0o755);
    cluster = await CurvefsCluster.start({ dir: join(base, 'cluster'), mdsArgs: ['--dashboard-port', '0'] });
    await cluster.createFs(FS);
    dir = join(base, 'mnt');
    await fsp.mkdir(dir);
    mount = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: FS, dir, args: ['--metrics-port', '0'] });
    const line = mount.output.map((l) => /^metrics at http:\/\/(\S+)\/metrics$/.exec(l)).find((m) => m);
    assert.ok(line, `the mount printed no metrics address:\n${mount.output.join('\n')}`);
    mountMetrics = line[1]!;
  });

  after(async () => {
    await mount?.stop();
    if (dir && (await mountInfo(dir))) await runCurvefs(['umount', '--lazy', dir]);
    await cluster?.stop();
    if (base) await fsp.rm(base, { recursive: true, force: true });
  });

  test('promtool rejects a sample without HELP, as the hand-written MDS exposition had', async () => {
    // The shape the MDS served before prom-client: proves the check below can fail.
    const r = await promtoolCheck('# HELP curvefs_mds_fs File systems.\n# TYPE curvefs_mds_fs gauge\ncurvefs_mds_fs 1\ncurvefs_mds_fs_used_bytes{fs="f",fs_id="1"} 10\n');
    assert.notEqual(r.code, 0);
    assert.match(r.output, /curvefs_mds_fs_used_bytes no help text/);
  });

  test('the MDS: promtool-clean, with the used bytes of each fs and runtime metrics', async () => {
    assert.ok(cluster!.mdsDashboard, 'the MDS printed no dashboard address');
    const text = await scrape(cluster!.mdsDashboard!);
    await assertPromtoolClean('the MDS', text);
    assert.match(text, /^# HELP curvefs_mds_fs_used_bytes /m);
    assert.notEqual(sampleValue(text, 'curvefs_mds_fs_used_bytes', { fs: FS }), undefined);
    assert.equal(sampleValue(text, 'curvefs_mds_status', { role: 'leader' }), 1);
    // Present, not a count: on a loaded machine a late heartbeat may show one as unstable.
    assert.notEqual(sampleValue(text, 'curvefs_mds_metaservers', { state: 'online' }), undefined);
    assertRuntimeMetrics('the MDS', text);
  });

  test('each metaserver: promtool-clean, with copyset state, requests served and runtime metrics', async () => {
    let requests = 0;
    for (const p of cluster!.metaservers.procs) {
      const text = await scrape(p.metrics);
      await assertPromtoolClean(`metaserver ${p.id}`, text);
      assert.match(text, /^curvefs_copyset_is_leader\{/m, `metaserver ${p.id} reports no copyset`);
      // The snapshot-transfer bound is counted where operators look (issue [L], finding 5).
      assert.match(text, /^curvefs_metaserver_raft_snapshot_chunks_refused_total 0$/m, `metaserver ${p.id}`);
      assertRuntimeMetrics(`metaserver ${p.id}`, text);
      for (const m of text.matchAll(/^curvefs_metaserver_request_seconds_count\{[^}]*\} (\d+)$/gm)) requests += Number(m[1]);
    }
    // Creating the fs and mounting it asked the copysets' leaders for its root at least.
    assert.ok(requests > 0, 'no metaserver counted a request');
  });

  test('the mount: FUSE ops by name, bytes and object-store calls after real I/O; promtool-clean', async () => {
    // A write through the mount, synced so that its object is stored before the scrape.
    const written = Buffer.alloc(300_000, 7);
    const fh = await fsp.open(join(dir, 'written.bin'), 'w');
    await fh.write(written);
    await fh.sync();
    await fh.close();
    // A missing name: one LOOKUP answered with a negative entry, counted as ENOENT.
    await assert.rejects(fsp.stat(join(dir, 'missing')), { code: 'ENOENT' });
    // A file stored by the CLI (another client), so the kernel has none of it cached and the
    // mount must read it from the object store.
    const local = join(base, 'local.bin');
    const stored = Buffer.alloc(200_000, 9);
    await fsp.writeFile(local, stored);
    const put = await runCurvefs(['--mds', cluster!.mdsAddrs.join(','), '--fs', FS, 'put', local, '/stored.bin']);
    assert.equal(put.code, 0, put.stderr);
    assert.deepEqual(await fsp.readFile(join(dir, 'stored.bin')), stored);

    const text = await scrape(mountMetrics);
    await assertPromtoolClean('the mount', text);
    assertRuntimeMetrics('the mount', text);
    const count = (op: string) => sampleValue(text, 'curvefs_mount_fuse_op_seconds_count', { op }) ?? 0;
    assert.ok(count('write') >= 1, 'no write op observed');
    assert.ok(count('create') >= 1, 'no create op observed');
    assert.ok(count('read') >= 1, 'no read op observed');
    assert.ok((sampleValue(text, 'curvefs_mount_fuse_op_errors_total', { op: 'lookup', errno: 'ENOENT' }) ?? 0) >= 1, 'no ENOENT lookup counted');
    assert.ok((sampleValue(text, 'curvefs_mount_written_bytes_total') ?? 0) >= written.length);
    assert.ok((sampleValue(text, 'curvefs_mount_read_bytes_total') ?? 0) >= stored.length);
    assert.ok((sampleValue(text, 'curvefs_mount_object_seconds_count', { op: 'put' }) ?? 0) >= 1, 'no object put observed');
    assert.ok((sampleValue(text, 'curvefs_mount_object_seconds_count', { op: 'get' }) ?? 0) >= 1, 'no object get observed');
    assert.ok((sampleValue(text, 'curvefs_mount_cache_misses_total') ?? 0) >= 1, 'no read-cache miss counted');
  });
});
