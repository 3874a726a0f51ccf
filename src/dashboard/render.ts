// Renders the status document as a small HTML page (the metrics are in metrics.ts).
import type { MdsStatus } from './types.ts';

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
