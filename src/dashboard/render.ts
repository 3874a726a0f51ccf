// Renders the status document as a Prometheus text exposition and as a small HTML page.
import type { MdsStatus } from './types.ts';

export function renderMetrics(s: MdsStatus): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, v] of samples) lines.push(`${name}${labels} ${Number.isFinite(v) ? v : 0}`);
  };
  gauge('curvefs_mds_status', 'Role of this MDS (1 for the current role).', [
    ['{role="leader"}', s.role === 'leader' ? 1 : 0],
    ['{role="loading"}', s.role === 'loading' ? 1 : 0],
    ['{role="follower"}', s.role === 'follower' ? 1 : 0],
  ]);
  gauge('curvefs_mds_term', 'Election term served (0 when not serving).', [['', s.term]]);
  gauge('curvefs_mds_uptime_seconds', 'Seconds since this MDS process started.', [['', s.uptimeSec]]);
  const c = s.cluster;
  if (c) {
    gauge('curvefs_mds_fs', 'File systems known to the leader.', [['', c.fs.length]]);
    const states = ['ONLINE', 'UNSTABLE', 'OFFLINE'];
    gauge('curvefs_mds_metaservers', 'Metaservers by online state.', states.map((st) => [`{state="${st.toLowerCase()}"}`, c.metaservers.filter((m) => m.state === st).length]));
    gauge('curvefs_mds_copysets', 'Copysets.', [['', c.copysets.length]]);
    gauge('curvefs_mds_copysets_unhealthy', 'Copysets with a member that is not online or whose replica is broken.', [['', c.copysets.filter((x) => !x.healthy).length]]);
    gauge('curvefs_mds_copysets_changing', 'Copysets with a membership change in flight.', [['', c.copysets.filter((x) => x.change).length]]);
    gauge('curvefs_mds_partitions', 'Partitions.', [['', c.partitions]]);
    gauge('curvefs_mds_sessions', 'Live mount sessions.', [['', c.sessions]]);
    lines.push('# HELP curvefs_mds_heartbeats_total Heartbeats handled in this term.', '# TYPE curvefs_mds_heartbeats_total counter', `curvefs_mds_heartbeats_total ${c.heartbeats}`);
    const fsLabel = (f: (typeof c.fs)[number]) => `{fs="${f.name}",fs_id="${f.fsId}"}`;
    gauge('curvefs_mds_fs_used_bytes', 'Bytes in use: lengths of regular files, deleted ones not yet reclaimed included (partition reports).', c.fs.map((f) => [fsLabel(f), f.usedBytes]));
    gauge('curvefs_mds_fs_used_inodes', 'Inodes in use (partition reports).', c.fs.map((f) => [fsLabel(f), f.usedInodes]));
    gauge('curvefs_mds_fs_capacity_bytes', 'Capacity in bytes (0 = unlimited).', c.fs.map((f) => [fsLabel(f), f.capacity]));
  }
  return lines.join('\n') + '\n';
}

const esc = (x: unknown) => String(x).replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);

function table(headers: string[], rows: unknown[][]): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  return `<table><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows
    .map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

export function renderHtml(s: MdsStatus): string {
  const c = s.cluster;
  const body = c
    ? `<h2>File systems</h2>${table(['id', 'name', 'status', 'mounts', 'partitions', 'capacity', 'used bytes', 'used inodes'], c.fs.map((f) => [f.fsId, f.name, f.status, f.mounts, f.partitions, f.capacity || 'unlimited', f.usageComplete ? f.usedBytes : `≥ ${f.usedBytes}`, f.usageComplete ? f.usedInodes : `≥ ${f.usedInodes}`]))}
<h2>Metaservers</h2>${table(['id', 'address', 'state', 'copysets', 'leaders', 'last heartbeat (ms ago)'], c.metaservers.map((m) => [m.id, m.address, m.state, m.copysets, m.leaders, m.lastHeartbeatMsAgo < 0 ? '—' : m.lastHeartbeatMsAgo]))}
<h2>Copysets</h2>${table(['copyset', 'members', 'leader', 'epoch', 'healthy', 'partitions', 'change in flight'], c.copysets.map((x) => [x.id, x.members.map((m) => (x.broken.includes(m) ? `${m} (BROKEN)` : String(m))).join(', '), x.leader || '?', x.epoch, x.healthy ? 'yes' : 'NO', x.partitions, x.change ?? '']))}
<p>cluster ${esc(c.clusterId)} · ${c.partitions} partitions · ${c.sessions} sessions · ${c.heartbeats} heartbeats this term</p>`
    : `<p>This MDS is not serving. Leader: ${s.leaderAddress ? `<b>${esc(s.leaderAddress)}</b>` : 'unknown'}.</p>`;
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>curvefs MDS ${esc(s.address)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}th{background:#eee}.none{color:#888}</style></head>
<body><h1>curvefs MDS ${esc(s.address)}</h1>
<p>role <b>${esc(s.role)}</b> · term ${s.term} · store ${esc(s.store)} · pid ${s.pid} · up ${s.uptimeSec} s</p>
${body}<p><a href="/api/status">/api/status</a> · <a href="/metrics">/metrics</a></p></body></html>`;
}
