// Renders the status page. One renderer, on the server: the page's first answer carries the
// rendered figures, and every update pushed over /api/events carries the same fragment rendered
// again, which the page's few lines of script swap in. No client-side templating to keep in step
// with this one, no external script or stylesheet (the page works offline, behind a firewall).
//
// Elements carry data-* attributes (data-metaserver, data-state, data-fs-inodes, …) naming what
// they show, for scripts and for the browser test.
import type { HistorySample } from './history.ts';
import type { CopysetLag } from './lag.ts';
import type { MdsStatus } from './types.ts';

/** A metaserver silent longer than this is flagged at once, before the MDS calls it UNSTABLE:
 *  2.5 heartbeat periods of the default 2 s (a metaserver's --heartbeat-ms). */
export const HEARTBEAT_LATE_MS = 5000;

/** A replica this many entries behind needs attention (a few behind is the normal pipeline). */
export const LAG_ATTENTION = 100;

/** Copyset rows on the page at most, beyond those that need attention. */
export const MAX_COPYSET_ROWS = 200;

const esc = (x: unknown) => String(x).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

/** A cell: plain text (escaped), or markup already built from escaped parts. */
type Cell = string | number | { html: string };
const cell = (v: Cell) => (typeof v === 'object' ? v.html : esc(v));

function table(headers: string[], rows: { attrs?: string; cells: Cell[] }[]): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  return `<table><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows
    .map((r) => `<tr${r.attrs ? ` ${r.attrs}` : ''}>${r.cells.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

export function humanBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1024) return `${Number.isFinite(n) ? n : 0} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function ago(ms: number): string {
  if (ms < 0) return '—';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s ago` : `${Math.round(ms / 1000)} s ago`;
}

/** An inline SVG line of `values` (no axes: the last value is printed beside it). */
function sparkline(values: number[], label: string, format: (v: number) => string = String): string {
  const w = 240;
  const h = 36;
  const last = values.at(-1);
  if (values.length < 2) return `<div class="spark"><span class="spark-label">${esc(label)}</span> <b>${last === undefined ? '—' : esc(format(last))}</b> <span class="none">(collecting)</span></div>`;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min || 1;
  const pts = values.map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - 2 - ((v - min) / span) * (h - 4)).toFixed(1)}`).join(' ');
  return `<div class="spark"><span class="spark-label">${esc(label)}</span><svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}"><polyline fill="none" stroke="#2b6cb0" stroke-width="1.5" points="${pts}"/></svg><b>${esc(format(last!))}</b> <span class="none">min ${esc(format(min))} · max ${esc(format(max))}</span></div>`;
}

/** The last graphs rendered per history (one per dashboard): they change only when a sample is
 *  added (every 10 s), the page is pushed every second. Keyed by the samples' span and fs names. */
const graphsCache = new WeakMap<readonly HistorySample[], { key: string; html: string }>();

function graphs(history: readonly HistorySample[], fsNames: string[]): string {
  if (history.length === 0) return '<p class="none">no samples yet</p>';
  const key = `${history.length}:${history[0]!.at}:${history.at(-1)!.at}:${fsNames.join('\0')}`;
  const cached = graphsCache.get(history);
  if (cached?.key === key) return cached.html;
  const html = renderGraphs(history, fsNames);
  graphsCache.set(history, { key, html });
  return html;
}

function renderGraphs(history: readonly HistorySample[], fsNames: string[]): string {
  const minutes = Math.max(0, Math.round((history.at(-1)!.at - history[0]!.at) / 60_000));
  const lines = [
    sparkline(history.map((x) => x.metaserversOnline), 'metaservers online'),
    sparkline(history.map((x) => x.unhealthyCopysets), 'unhealthy copysets'),
    sparkline(history.map((x) => x.heartbeatsPerSec), 'heartbeats/s', (v) => v.toFixed(1)),
    sparkline(history.map((x) => x.sessions), 'mount sessions'),
    ...fsNames.flatMap((n) => [
      sparkline(history.map((x) => x.fs[n]?.inodes ?? 0), `${n}: inodes`),
      sparkline(history.map((x) => x.fs[n]?.bytes ?? 0), `${n}: bytes`, humanBytes),
    ]),
  ];
  return `<p class="none">last ${minutes} min, ${history.length} samples</p>${lines.join('')}`;
}

/** What needs an operator's eye now; empty when nothing does. */
export function alerts(s: MdsStatus, now = Date.now()): string[] {
  const c = s.cluster;
  if (!c) return [];
  const out: string[] = [];
  for (const m of c.metaservers) {
    const heal = m.healAtMs === undefined ? '' : `; ${healText(m.healAtMs, now)}`;
    if (m.state !== 'ONLINE') out.push(`metaserver ${m.id} (${m.address}) is ${m.state}: no heartbeat for ${m.lastHeartbeatMsAgo < 0 ? 'ever' : `${Math.round(m.lastHeartbeatMsAgo / 1000)} s`}${heal}`);
    else if (m.lastHeartbeatMsAgo > HEARTBEAT_LATE_MS) out.push(`metaserver ${m.id} (${m.address}) missed heartbeats: silent for ${(m.lastHeartbeatMsAgo / 1000).toFixed(1)} s`);
  }
  for (const x of c.copysets) {
    if (x.broken.length > 0) out.push(`copyset ${x.id}: broken replica on metaserver ${x.broken.join(', ')}`);
    else if (!x.healthy) out.push(`copyset ${x.id} is unhealthy (a member is not online)`);
    if (!x.leader) out.push(`copyset ${x.id} has no known leader`);
  }
  for (const f of c.fs) if (f.capacity > 0 && f.usedBytes >= 0.9 * f.capacity) out.push(`fs ${f.name} is ${Math.round((100 * f.usedBytes) / f.capacity)} % full`);
  return out;
}

/**
 * When an OFFLINE metaserver's replicas start being rebuilt elsewhere (the MDS's heal delay):
 * "heal starts 14:03:12 UTC (in 8 min 12 s)", or "heal under way since …" once it has begun.
 */
export function healText(healAtMs: number, now: number): string {
  const at = new Date(healAtMs).toISOString().slice(11, 19);
  const left = Math.round((healAtMs - now) / 1000);
  if (left <= 0) return `heal under way since ${at} UTC`;
  return `heal starts ${at} UTC (in ${left >= 60 ? `${Math.floor(left / 60)} min ${left % 60} s` : `${left} s`})`;
}

function metaserverClass(state: string, msAgo: number): string {
  if (state !== 'ONLINE') return state === 'OFFLINE' ? 'bad' : 'warn';
  return msAgo > HEARTBEAT_LATE_MS ? 'warn' : 'ok';
}

/** The live part of the page: everything that changes, swapped in whole on each update. */
export function renderLive(s: MdsStatus, history: readonly HistorySample[] = [], now = Date.now(), lag: CopysetLag = new Map()): string {
  const c = s.cluster;
  const head = `<p data-role="${esc(s.role)}">MDS <b>${esc(s.address)}</b> · role <b class="${s.role === 'leader' ? 'ok' : 'warn'}">${esc(s.role)}</b> · leader <b data-mds-leader>${esc(s.leaderAddress ?? 'unknown')}</b> · term ${s.term} · store ${esc(s.store)} · pid ${s.pid} · up ${s.uptimeSec} s</p>`;
  if (!c) {
    return `${head}<p class="banner warn">This MDS is not serving. ${s.leaderAddress ? `The leader's page: <a href="http://${esc(s.leaderAddress)}/">${esc(s.leaderAddress)}</a> (its dashboard port may differ).` : 'No leader is known.'}</p>`;
  }
  const issues = alerts(s, now);
  const banner = issues.length === 0
    ? '<p class="banner ok" data-alerts="0">All metaservers online, every copyset healthy.</p>'
    : `<div class="banner bad" data-alerts="${issues.length}"><b>${issues.length} alert${issues.length > 1 ? 's' : ''}</b><ul>${issues.map((a) => `<li>${esc(a)}</li>`).join('')}</ul></div>`;
  const fsRows = c.fs.map((f) => {
    const pct = f.capacity > 0 ? Math.min(100, (100 * f.usedBytes) / f.capacity) : undefined;
    const used = `${f.usageComplete ? '' : '≥ '}${humanBytes(f.usedBytes)}`;
    const bar = pct === undefined ? '' : ` <span class="bar"><span style="width:${pct.toFixed(1)}%" class="${pct >= 90 ? 'bad' : pct >= 75 ? 'warn' : 'ok'}"></span></span> ${pct.toFixed(0)} %`;
    return {
      attrs: `data-fs="${esc(f.name)}"`,
      cells: [f.fsId, f.name, f.status, { html: `<span data-fs-bytes="${esc(f.name)}" data-value="${f.usedBytes}">${esc(used)}</span>${bar}` },
        f.capacity ? humanBytes(f.capacity) : 'unlimited',
        { html: `<span data-fs-inodes="${esc(f.name)}" data-value="${f.usedInodes}">${f.usageComplete ? '' : '≥ '}${f.usedInodes}</span>` },
        f.mounts, f.partitions],
    };
  });
  const mounts = c.fs.flatMap((f) => (f.sessions ?? []).map((m) => ({
    attrs: `data-session="${m.sessionId}"`,
    cells: [f.name, m.host, m.pid, m.path, m.sessionId, m.mountedAtMs > 0 ? `${Math.max(0, Math.round((now - m.mountedAtMs) / 1000))} s ago` : '—'],
  })));
  const msRows = c.metaservers.map((m) => ({
    attrs: `data-metaserver="${m.id}" data-state="${esc(m.state)}" data-late="${m.lastHeartbeatMsAgo > HEARTBEAT_LATE_MS}" class="${metaserverClass(m.state, m.lastHeartbeatMsAgo)}"`,
    cells: [m.id, m.address, { html: `<b>${esc(m.state)}</b>${m.draining ? ' <span data-draining>draining</span>' : ''}${m.healAtMs === undefined ? '' : ` <span data-heal-at="${m.healAtMs}">${esc(healText(m.healAtMs, now))}</span>`}` }, m.copysets, m.leaders,
      m.memoryUsedBytes ? humanBytes(m.memoryUsedBytes) : '—', m.diskUsedBytes ? humanBytes(m.diskUsedBytes) : '—', ago(m.lastHeartbeatMsAgo)],
  }));
  const stateOf = new Map(c.metaservers.map((m) => [m.id, m.state]));
  // A large cluster's table would be thousands of healthy rows pushed every second: the page
  // lists every copyset that is not healthy or trails, then healthy ones up to MAX_COPYSET_ROWS.
  const shown = c.copysets.length <= MAX_COPYSET_ROWS ? c.copysets : (() => {
    const trailing = (id: string) => [...(lag.get(id)?.values() ?? [])].some((v) => v === 'unreachable' || v >= LAG_ATTENTION);
    const attention = c.copysets.filter((x) => !x.healthy || x.change || !x.leader || trailing(x.id));
    const rest = c.copysets.filter((x) => !attention.includes(x)).slice(0, Math.max(0, MAX_COPYSET_ROWS - attention.length));
    return [...attention, ...rest];
  })();
  const hidden = c.copysets.length - shown.length;
  const csRows = shown.map((x) => {
    const lags = lag.get(x.id);
    const numeric = [...(lags?.values() ?? [])].filter((v): v is number => typeof v === 'number');
    const maxLag = numeric.length > 0 ? Math.max(...numeric) : undefined;
    return {
      attrs: `data-copyset="${esc(x.id)}" data-healthy="${x.healthy}"${maxLag === undefined ? '' : ` data-max-lag="${maxLag}"`} class="${x.healthy ? 'ok' : x.broken.length ? 'bad' : 'warn'}"`,
      cells: [x.id,
        { html: x.members.map((m) => {
          const st = x.broken.includes(m) ? 'BROKEN' : stateOf.get(m) ?? '?';
          const l = lags?.get(m);
          const cls = st === 'ONLINE' && l !== 'unreachable' ? 'ok' : st === 'BROKEN' || st === 'OFFLINE' ? 'bad' : 'warn';
          const lagText = l === undefined ? '' : l === 'unreachable' ? ' unreachable' : l > 0 ? ` −${l}` : '';
          return `<span class="member ${cls}" data-member="${m}"${l === undefined ? '' : ` data-lag="${l}"`} title="${esc(st)}">${m === x.leader ? '★' : ''}${m}${st === 'ONLINE' ? '' : ` ${esc(st)}`}${esc(lagText)}</span>`;
        }).join(' ') },
        x.leader || '?', maxLag === undefined ? '—' : maxLag, x.epoch, x.healthy ? 'yes' : 'NO', x.partitions, x.change ?? ''],
    };
  });
  return `${head}${banner}
<h2>File systems</h2>${table(['id', 'name', 'status', 'used', 'capacity', 'inodes', 'mounts', 'partitions'], fsRows)}
<h2>Mounts</h2>${table(['fs', 'host', 'pid', 'path', 'session', 'mounted'], mounts)}
<h2>Metaservers</h2>${table(['id', 'address', 'state', 'copysets', 'leaders', 'memory', 'disk', 'last heartbeat'], msRows)}
<h2>Copysets</h2>${table(['copyset', 'members (★ leader, −entries behind)', 'leader', 'max lag', 'epoch', 'healthy', 'partitions', 'change in flight'], csRows)}${hidden > 0 ? `<p class="none" data-copysets-hidden="${hidden}">${hidden} more copysets, healthy and caught up, not listed (all of them: <a href="/api/status">/api/status</a>)</p>` : ''}
<p>cluster ${esc(c.clusterId)} · ${c.partitions} partitions · ${c.sessions} sessions · ${c.heartbeats} heartbeats this term</p>
<h2>History</h2>${graphs(history, c.fs.map((f) => f.name))}`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#1a202c}table{border-collapse:collapse;margin-bottom:.5em}
td,th{border:1px solid #cbd5e0;padding:.2em .6em;text-align:left}th{background:#edf2f7}.none{color:#718096}
tr.ok td:first-child{border-left:4px solid #38a169}tr.warn{background:#fefcbf}tr.bad{background:#fed7d7}
b.ok,span.ok{color:#276749}b.warn,span.warn{color:#975a16}span.bad{color:#9b2c2c;font-weight:bold}
.banner{padding:.5em 1em;border-radius:4px}.banner.ok{background:#c6f6d5}.banner.bad{background:#feb2b2;color:#742a2a}.banner.warn{background:#fefcbf}
.banner ul{margin:.2em 0}.member{margin-right:.4em}.bar{display:inline-block;width:6em;height:.7em;background:#e2e8f0;vertical-align:middle}
.bar span{display:block;height:100%}.bar .ok{background:#48bb78}.bar .warn{background:#ecc94b}.bar .bad{background:#f56565}
.spark{display:flex;gap:.6em;align-items:center;margin:.2em 0}.spark-label{width:14em}
#conn{position:fixed;top:.5em;right:1em;font-size:.85em;padding:.1em .5em;border-radius:3px}#conn.ok{background:#c6f6d5}#conn.bad{background:#feb2b2}`;

// The page's script: subscribe to /api/events and swap in each pushed fragment. EventSource
// reconnects by itself after the MDS restarts; a 401 (logged out) ends the stream for good.
const SCRIPT = `(() => {
  const live = document.getElementById('live');
  const conn = document.getElementById('conn');
  let updates = 0;
  const es = new EventSource('/api/events');
  es.addEventListener('status', (e) => {
    live.innerHTML = JSON.parse(e.data).html;
    updates++;
    document.body.dataset.updates = String(updates);
    conn.textContent = 'live · ' + new Date().toLocaleTimeString();
    conn.className = 'ok';
  });
  es.onerror = () => {
    conn.textContent = es.readyState === EventSource.CLOSED ? 'disconnected: reload the page' : 'disconnected from the MDS, reconnecting…';
    conn.className = 'bad';
  };
})();`;

/** The whole page: the live fragment as of now, and the script that keeps it current. */
export function renderHtml(s: MdsStatus, history: readonly HistorySample[] = [], opts: { loggedIn?: boolean } = {}): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>curvefs MDS ${esc(s.address)}</title>
<style>${STYLE}</style></head>
<body data-updates="0"><h1>curvefs</h1><span id="conn">connecting…</span>
<div id="live">${renderLive(s, history)}</div>
<p><a href="/api/status">/api/status</a> (JSON) · <a href="/api/events">/api/events</a> (the live stream) · <a href="/metrics">/metrics</a> (Prometheus)${opts.loggedIn ? ' · <a href="/logout">log out</a>' : ''}</p>
<script>${SCRIPT}</script></body></html>`;
}

/** The login form of a cluster with authentication on: no figures, only why and where to look. */
export function renderLogin(reason?: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>curvefs: log in</title><style>${STYLE}</style></head>
<body><h1>curvefs</h1><p>This cluster has authentication on: the status page needs the <b>admin token</b> or a <b>viewer token</b>
(<code>curvefs auth token --key-file KEY --admin</code> or <code>--viewer</code>; <code>curvefs up</code> keeps it in <code>DIR/auth/admin.token</code>).</p>
${reason ? `<p class="banner bad" data-login-error>${esc(reason)}</p>` : ''}
<form method="post" action="/login"><label>token <input name="token" type="password" size="60" autocomplete="off" autofocus></label> <button type="submit">log in</button></form></body></html>`;
}
