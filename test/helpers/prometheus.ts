// Reading a process's /metrics in tests: fetch it, check it with Prometheus's own linter
// (`promtool check metrics`, from Debian's `prometheus` package, which scripts/setup-system.sh
// installs), and read one sample's value.
import { spawn } from 'node:child_process';

/** GET http://addr/metrics; fails on any status but 200. */
export async function scrape(addr: string): Promise<string> {
  const res = await fetch(`http://${addr}/metrics`);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${addr}/metrics: ${res.status} ${body}`);
  return body;
}

/** Runs `promtool check metrics` on the text: exit code 0 means valid and lint-clean. */
export function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d));
    p.stderr.on('data', (d: Buffer) => (output += d));
    p.once('error', (e) => reject(new Error(`cannot run promtool (Debian package "prometheus"; npm run setup:system installs it): ${e.message}`)));
    p.once('close', (code) => resolve({ code: code ?? -1, output }));
    p.stdin.end(text);
  });
}

/**
 * The value of the sample `name{labels}` (labels matched as a subset, in any order), or
 * undefined when there is no such sample.
 */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(l[1]!, l[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}
