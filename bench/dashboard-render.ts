// What the live status page costs the MDS: each second, while a page is open, the feed renders
// the status fragment and serialises it as the event (src/dashboard/server.ts), compares it with
// the last one. Measured on synthetic clusters of growing size, against a floor measured in the
// same run: JSON.stringify of the status alone (what one GET /api/status costs). Prints per size:
// milliseconds per snapshot, the ratio to the floor, the event's size, and the share of one core
// that one snapshot per second takes.
//
//   npx tsx bench/dashboard-render.ts
import { renderLive, type MdsStatus } from '../src/dashboard/index.ts';
import { StatusHistory } from '../src/dashboard/history.ts';
import type { CopysetLag } from '../src/dashboard/lag.ts';

function cluster(metaservers: number, copysets: number, fss: number): { status: MdsStatus; lag: CopysetLag } {
  const ms = Array.from({ length: metaservers }, (_, i) => ({
    id: i + 1, address: `10.0.${i >> 8}.${i & 255}:16701`, state: i % 50 === 7 ? 'UNSTABLE' : 'ONLINE', copysets: Math.round((copysets * 3) / metaservers),
    leaders: Math.round(copysets / metaservers), lastHeartbeatMsAgo: 400 + (i % 7) * 100, memoryUsedBytes: 2 ** 30, diskUsedBytes: 2 ** 34,
  }));
  const lag: CopysetLag = new Map();
  const cs = Array.from({ length: copysets }, (_, i) => {
    const members = [0, 1, 2].map((k) => ((i + k * 7) % metaservers) + 1);
    const id = `1:${i + 1}`;
    lag.set(id, new Map(members.map((m, k) => [m, k === 0 ? 0 : (i + k) % 4])));
    return { id, members, leader: members[0]!, epoch: 3, healthy: true, broken: [], partitions: 4, change: null };
  });
  const fs = Array.from({ length: fss }, (_, i) => ({
    fsId: i + 1, name: `fs-${i}`, status: 'FS_INITED', mounts: 2, partitions: 12, capacity: 2 ** 40, usedBytes: 2 ** 38 + i, usedInodes: 1_000_000 + i, usageComplete: true,
    sessions: [1, 2].map((k) => ({ sessionId: i * 2 + k, host: `client-${i}-${k}`, pid: 1000 + k, path: `/mnt/fs-${i}`, mountedAtMs: 1_700_000_000_000 })),
  }));
  const status: MdsStatus = {
    role: 'leader', address: '10.0.0.1:6700', leaderAddress: '10.0.0.1:6700', term: 7, leaseValidForMs: 3000, store: 'etcd', pid: 1, uptimeSec: 3600,
    cluster: { clusterId: 'bench', fs, metaservers: ms, copysets: cs, partitions: copysets * 4, heartbeats: 123_456, sessions: fss * 2 },
  };
  return { status, lag };
}

function timePerCall(fn: () => unknown, minMs = 1500): number {
  for (let i = 0; i < 5; i++) fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    fn();
    n++;
  }
  return (performance.now() - t0) / n;
}

const sizes = [
  { name: 'one machine', metaservers: 3, copysets: 3, fss: 1 },
  { name: 'small', metaservers: 12, copysets: 100, fss: 4 },
  { name: 'large', metaservers: 100, copysets: 1000, fss: 20 },
  { name: 'very large', metaservers: 300, copysets: 5000, fss: 50 },
];

console.log('size         metaservers copysets fs   floor ms  snapshot ms  ratio  event KiB  core at 1/s');
for (const s of sizes) {
  const { status, lag } = cluster(s.metaservers, s.copysets, s.fss);
  const history = new StatusHistory();
  for (let i = 0; i < 360; i++) history.add(status, i * 10_000);
  const floor = timePerCall(() => JSON.stringify(status));
  let last = '';
  const snap = timePerCall(() => {
    const data = JSON.stringify({ html: renderLive(status, history.all(), Date.now(), lag) });
    const changed = data !== last;
    last = data;
    return changed;
  });
  console.log(
    `${s.name.padEnd(12)} ${String(s.metaservers).padStart(11)} ${String(s.copysets).padStart(8)} ${String(s.fss).padStart(4)}` +
      `   ${floor.toFixed(3).padStart(7)}  ${snap.toFixed(3).padStart(11)}  ${(snap / floor).toFixed(1).padStart(5)}  ${(last.length / 1024).toFixed(0).padStart(9)}  ${((snap / 1000) * 100).toFixed(2).padStart(9)} %`,
  );
}
