// The status page's parts without a cluster: what raises an alert, that names from the cluster
// are escaped (an fs name is user input), the history's rates and bound, and the live feed
// (an event on connect, one per change, none while nothing changes, only a keepalive comment).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { alerts, MAX_COPYSET_ROWS, renderLive, type MdsStatus } from '../../src/dashboard/index.ts';
import { StatusHistory } from '../../src/dashboard/history.ts';
import { StatusFeed } from '../../src/dashboard/live.ts';
import { LagTracker } from '../../src/dashboard/lag.ts';
import { waitFor } from '../helpers/wait.ts';

type Cluster = NonNullable<MdsStatus['cluster']>;

function status(over: Partial<Cluster> = {}): MdsStatus {
  return {
    role: 'leader', address: '127.0.0.1:6700', leaderAddress: '127.0.0.1:6700', term: 2, leaseValidForMs: -1, store: 'etcd', pid: 1, uptimeSec: 5,
    cluster: {
      clusterId: 'c1',
      fs: [{ fsId: 1, name: 'a', status: 'FS_INITED', mounts: 1, partitions: 3, capacity: 0, usedBytes: 10, usedInodes: 2, usageComplete: true,
        sessions: [{ sessionId: 7, host: 'h1', pid: 42, path: '/mnt/a', mountedAtMs: 1000 }] }],
      metaservers: [1, 2, 3].map((id) => ({ id, address: `127.0.0.1:${16700 + id}`, state: 'ONLINE', copysets: 1, leaders: id === 1 ? 1 : 0, lastHeartbeatMsAgo: 300 })),
      copysets: [{ id: '1:1', members: [1, 2, 3], leader: 1, epoch: 0, healthy: true, broken: [], partitions: 3, change: null }],
      partitions: 3, heartbeats: 10, sessions: 1,
      ...over,
    },
  };
}

test('alerts: none when all is well; a silent, unstable or broken member and a full fs each raise one', () => {
  assert.deepEqual(alerts(status()), []);
  const s = status();
  s.cluster!.metaservers[0]!.lastHeartbeatMsAgo = 6000;
  s.cluster!.metaservers[1]!.state = 'UNSTABLE';
  s.cluster!.metaservers[1]!.lastHeartbeatMsAgo = 31_000;
  s.cluster!.copysets[0] = { ...s.cluster!.copysets[0]!, healthy: false, broken: [3] };
  s.cluster!.fs[0] = { ...s.cluster!.fs[0]!, capacity: 100, usedBytes: 95 };
  assert.deepEqual(alerts(s), [
    'metaserver 1 (127.0.0.1:16701) missed heartbeats: silent for 6.0 s',
    'metaserver 2 (127.0.0.1:16702) is UNSTABLE: no heartbeat for 31 s',
    'copyset 1:1: broken replica on metaserver 3',
    'fs a is 95 % full',
  ]);
  const html = renderLive(s);
  assert.match(html, /data-alerts="4"/);
  assert.match(html, /data-metaserver="1" data-state="ONLINE" data-late="true" class="warn"/);
  assert.match(html, /data-metaserver="2" data-state="UNSTABLE" data-late="true" class="warn"/);
  assert.match(html, /data-metaserver="3" data-state="ONLINE" data-late="false" class="ok"/);
  assert.match(html, /data-session="7"><td>a<\/td><td>h1<\/td><td>42<\/td><td>\/mnt\/a<\/td>/);
});

test('an OFFLINE metaserver shows when its pending heal starts, and once it has started', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const s = status();
  Object.assign(s.cluster!.metaservers[2]!, { state: 'OFFLINE', lastHeartbeatMsAgo: 70_000, healAtMs: now + 492_000 });
  assert.deepEqual(alerts(s, now), ['metaserver 3 (127.0.0.1:16703) is OFFLINE: no heartbeat for 70 s; heal starts 12:08:12 UTC (in 8 min 12 s)']);
  assert.match(renderLive(s, [], now), new RegExp(`<span data-heal-at="${now + 492_000}">heal starts 12:08:12 UTC \\(in 8 min 12 s\\)</span>`));
  assert.match(renderLive(s, [], now + 500_000), /heal under way since 12:08:12 UTC/);
});

test('names from the cluster are escaped', () => {
  const evil = '<img src=x onerror="alert(1)">';
  const s = status();
  s.cluster!.fs[0] = { ...s.cluster!.fs[0]!, name: evil, sessions: [{ sessionId: 1, host: evil, pid: 1, path: evil, mountedAtMs: 0 }] };
  const html = renderLive(s);
  assert.ok(!html.includes('<img'), html);
  assert.match(html, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/);
});

test('history: heartbeats per second between samples, none across a new term, bounded length', () => {
  const h = new StatusHistory(3);
  h.add(status({ heartbeats: 10 }), 0);
  h.add(status({ heartbeats: 30 }), 10_000);
  h.add(status({ heartbeats: 5 }), 20_000); // a new term counts from 0 again
  h.add(status({ heartbeats: 25 }), 30_000);
  assert.deepEqual(h.all().map((x) => x.heartbeatsPerSec), [2, 0, 2]);
  assert.deepEqual(h.all().map((x) => x.at), [10_000, 20_000, 30_000]);
  assert.deepEqual(h.all()[0]!.fs, { a: { inodes: 2, bytes: 10 } });
  // A standby has no figures: no sample.
  h.add({ ...status(), role: 'follower', cluster: null }, 40_000);
  assert.equal(h.all().length, 3);
});

class FakeResponse extends EventEmitter {
  readonly chunks: string[] = [];
  status = 0;
  writeHead(code: number): this {
    this.status = code;
    return this;
  }
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  end(): this {
    this.emit('close');
    return this;
  }
  events(): string[] {
    return this.chunks.filter((c) => c.startsWith('event: status\n')).map((c) => c.slice('event: status\ndata: '.length, -2));
  }
}

test('live feed: an event on connect, one per change, only keepalives while nothing changes', async () => {
  let value = 'one';
  const feed = new StatusFeed({ snapshot: () => JSON.stringify({ value }), intervalMs: 5, keepaliveMs: 10 });
  const res = new FakeResponse();
  feed.subscribe(res as unknown as ServerResponse);
  try {
    assert.equal(res.status, 200);
    assert.deepEqual(res.events(), ['{"value":"one"}']);
    value = 'two';
    await waitFor(() => res.events().length === 2, 'the change pushed');
    const keepalives = () => res.chunks.filter((c) => c === ': keepalive\n\n').length;
    await waitFor(() => keepalives() >= 2, 'keepalives while nothing changes');
    assert.deepEqual(res.events(), ['{"value":"one"}', '{"value":"two"}']);
    assert.equal(feed.listeners, 1);
  } finally {
    feed.close();
  }
  assert.equal(feed.listeners, 0);
});

test('a large cluster: every copyset needing attention listed, healthy ones up to the cap, the rest counted', () => {
  const s = status();
  const healthy = s.cluster!.copysets[0]!;
  s.cluster!.copysets = Array.from({ length: MAX_COPYSET_ROWS + 100 }, (_, i) => ({ ...healthy, id: `1:${i + 1}` }));
  const last = `1:${MAX_COPYSET_ROWS + 100}`;
  s.cluster!.copysets.at(-1)!.healthy = false;
  // One far behind, one with an unreachable replica, one a few entries behind (normal).
  const lag = new Map([
    [`1:${MAX_COPYSET_ROWS + 50}`, new Map<number, number | 'unreachable'>([[1, 0], [2, 500], [3, 0]])],
    [`1:${MAX_COPYSET_ROWS + 60}`, new Map<number, number | 'unreachable'>([[1, 0], [2, 'unreachable'], [3, 0]])],
    [`1:${MAX_COPYSET_ROWS + 70}`, new Map<number, number | 'unreachable'>([[1, 0], [2, 3], [3, 0]])],
  ]);
  const html = renderLive(s, [], 0, lag);
  const rows = [...html.matchAll(/data-copyset="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(rows.length, MAX_COPYSET_ROWS);
  assert.deepEqual(rows.slice(0, 3), [`1:${MAX_COPYSET_ROWS + 50}`, `1:${MAX_COPYSET_ROWS + 60}`, last]);
  assert.ok(!rows.includes(`1:${MAX_COPYSET_ROWS + 70}`));
  assert.match(html, /data-copysets-hidden="100">100 more copysets/);
  // Below the cap every copyset is listed, in order.
  s.cluster!.copysets = s.cluster!.copysets.slice(0, 5);
  assert.deepEqual([...renderLive(s).matchAll(/data-copyset="([^"]+)"/g)].map((m) => m[1]), ['1:1', '1:2', '1:3', '1:4', '1:5']);
});

test('replica lag: highest commit minus each applied index; a member that fails to answer is unreachable', async () => {
  const s = status();
  s.cluster!.copysets = [{ ...s.cluster!.copysets[0]!, id: '1:7' }];
  const asked: string[] = [];
  const tracker = new LagTracker(async (address, poolId, copysetId) => {
    asked.push(`${address} ${poolId}:${copysetId}`);
    if (address.endsWith(':16703')) throw new Error('ECONNREFUSED');
    return address.endsWith(':16701') ? { state: 'leader', committed: 120, applied: 118 } : { state: 'follower', committed: 100, applied: 90 };
  }, () => s);
  await tracker.round();
  assert.deepEqual(asked.sort(), ['127.0.0.1:16701 1:7', '127.0.0.1:16702 1:7', '127.0.0.1:16703 1:7']);
  assert.deepEqual([...tracker.current.get('1:7')!], [[1, 2], [2, 30], [3, 'unreachable']]);
  // A standby knows no copysets: nothing to show.
  const standby = new LagTracker(async () => ({ state: 'x', committed: 0, applied: 0 }), () => ({ ...s, cluster: null }));
  await standby.round();
  assert.equal(standby.current.size, 0);
});
