// `curvefs stats` figures: the exposition parser and the per-second rates between two scrapes
// (ops by name, mean and p99 latency from the histogram, failures, bytes, CPU), a counter reset
// by a restart, and what kind of process an endpoint is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figures, kindOf, parseExposition } from '../../src/cli/commands/stats-sample.ts';

const mount = (n: { lookup: number; write: number; sumSec: number; fast: number; errs: number; written: number; cpu: number }) => `
# HELP curvefs_mount_fuse_op_seconds FUSE requests.
# TYPE curvefs_mount_fuse_op_seconds histogram
curvefs_mount_fuse_op_seconds_bucket{le="0.001",op="lookup"} ${n.fast}
curvefs_mount_fuse_op_seconds_bucket{le="0.01",op="lookup"} ${n.lookup}
curvefs_mount_fuse_op_seconds_bucket{le="+Inf",op="lookup"} ${n.lookup}
curvefs_mount_fuse_op_seconds_sum{op="lookup"} ${n.sumSec / 2}
curvefs_mount_fuse_op_seconds_count{op="lookup"} ${n.lookup}
curvefs_mount_fuse_op_seconds_bucket{le="0.001",op="write"} 0
curvefs_mount_fuse_op_seconds_bucket{le="0.01",op="write"} ${n.write}
curvefs_mount_fuse_op_seconds_bucket{le="+Inf",op="write"} ${n.write}
curvefs_mount_fuse_op_seconds_sum{op="write"} ${n.sumSec / 2}
curvefs_mount_fuse_op_seconds_count{op="write"} ${n.write}
curvefs_mount_fuse_op_errors_total{op="lookup",errno="ENOENT"} ${n.errs}
curvefs_mount_written_bytes_total ${n.written}
curvefs_mount_read_bytes_total 0
process_cpu_seconds_total ${n.cpu}
process_resident_memory_bytes 1048576
`;

test('parses samples, labels with escapes, +Inf, and skips comments', () => {
  const s = parseExposition('# HELP x y\nx_total{a="q\\"uote",b="two"} 3 1700000000\nbucket{le="+Inf"} +Inf\nbad line here\n');
  assert.deepEqual(s, [
    { name: 'x_total', labels: { a: 'q"uote', b: 'two' }, value: 3 },
    { name: 'bucket', labels: { le: '+Inf' }, value: Infinity },
  ]);
});

test('rates of a mount over two seconds: ops by name, mean and p99 latency, errors, bytes, CPU', () => {
  const a = parseExposition(mount({ lookup: 100, write: 10, sumSec: 1, fast: 100, errs: 1, written: 1000, cpu: 1 }));
  // In 2 s: 200 lookups (100 of them under 1 ms), 20 writes, 0.4 s spent, 6 ENOENT, 4096 bytes, 0.5 s CPU.
  const b = parseExposition(mount({ lookup: 300, write: 30, sumSec: 1.44, fast: 200, errs: 7, written: 5096, cpu: 1.5 }));
  assert.equal(kindOf(b), 'mount');
  const f = figures(a, b, 2);
  assert.equal(f.kind, 'mount');
  assert.equal(f.opsPerSec, 110);
  assert.deepEqual(f.ops, [{ op: 'lookup', perSec: 100 }, { op: 'write', perSec: 10 }]);
  assert.ok(Math.abs(f.avgLatencyMs! - 2) < 1e-9, String(f.avgLatencyMs));
  // 100 of 220 under 1 ms, all under 10 ms: the p99 lies in the 10 ms bucket.
  assert.equal(f.p99LatencyMs, 10);
  assert.equal(f.errorsPerSec, 3);
  assert.equal(f.writeBytesPerSec, 2048);
  assert.equal(f.readBytesPerSec, 0);
  assert.equal(f.cpuPercent, 25);
  assert.equal(f.rssBytes, 1048576);
});

test('an idle interval has no latency; a restarted process counts from zero', () => {
  const a = parseExposition(mount({ lookup: 100, write: 10, sumSec: 1, fast: 100, errs: 1, written: 1000, cpu: 1 }));
  const idle = figures(a, a, 1);
  assert.equal(idle.opsPerSec, 0);
  assert.equal(idle.avgLatencyMs, null);
  assert.equal(idle.p99LatencyMs, null);
  assert.deepEqual(idle.ops, []);
  const restarted = parseExposition(mount({ lookup: 4, write: 0, sumSec: 0.004, fast: 4, errs: 0, written: 0, cpu: 0.2 }));
  const r = figures(a, restarted, 1);
  assert.equal(r.opsPerSec, 4);
  assert.equal(r.p99LatencyMs, 1);
});

test('a metaserver: answers other than OK are its failures; the MDS has no op figures', () => {
  const ms = (ok: number, notFound: number) => parseExposition(`curvefs_metaserver_requests_total{op="GetInode",status="OK"} ${ok}
curvefs_metaserver_requests_total{op="GetInode",status="NOT_FOUND"} ${notFound}
curvefs_metaserver_request_seconds_count{op="GetInode"} ${ok + notFound}
curvefs_metaserver_request_seconds_sum{op="GetInode"} ${(ok + notFound) / 1000}
curvefs_metaserver_request_seconds_bucket{op="GetInode",le="0.001"} ${ok + notFound}
curvefs_metaserver_request_seconds_bucket{op="GetInode",le="+Inf"} ${ok + notFound}
`);
  const f = figures(ms(10, 0), ms(50, 10), 1);
  assert.equal(f.kind, 'metaserver');
  assert.equal(f.opsPerSec, 50);
  assert.equal(f.errorsPerSec, 10);
  assert.equal(f.readBytesPerSec, null);
  assert.equal(f.cpuPercent, null);
  assert.equal(kindOf(parseExposition('curvefs_mds_term 3\n')), 'mds');
  assert.equal(kindOf(parseExposition('go_goroutines 3\n')), 'unknown');
});
