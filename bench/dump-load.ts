// `curvefs dump` and `curvefs load` of a tree of small files through the CLI (child processes,
// as an operator runs them) against a local 3-replica cluster (`curvefs up`: auth and TLS on),
// with `cp -a` and `tar c | tar x` of the same tree on the local disk measured in the same run as
// the floor. Files/s each way; peak RSS of each command from GNU time (%M): run with two tree
// sizes to see that dump's memory does not grow with the number of files.
//   npx tsx bench/dump-load.ts [--files N] [--dirs D] [--file-bytes B]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CURVEFS_BIN } from '../src/cli/supervisor.ts';
import { startCluster } from '../test/helpers/cluster.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FILES = arg('files', 2000);
const DIRS = arg('dirs', 20);
const FILE_BYTES = arg('file-bytes', 1024);

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { s: number; rssMiB: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, CURVEFS_LOG: 'warn', ...env }, maxBuffer: 1 << 26 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  return { s, rssMiB: Number(lines[lines.length - 1]) / 1024, stdout: r.stdout };
}

const scratch = mkdtempSync(join(tmpdir(), 'curvefs-bench-dump-'));
const cluster = await startCluster({ fsName: 'dumpsrc' });
try {
  const tree = join(scratch, 'tree');
  const body = Buffer.alloc(FILE_BYTES, 7);
  for (let d = 0; d < DIRS; d++) {
    mkdirSync(join(tree, `d${d}`), { recursive: true });
    for (let f = d; f < FILES; f += DIRS) writeFileSync(join(tree, `d${d}`, `f${f}`), body);
  }
  const load = loadavg()[0]!.toFixed(1);
  // Floors on the local disk, same tree, same run (each followed by sync: load's objects are
  // durable when it returns).
  const cp = timed('sh', ['-c', `cp -a ${tree} ${join(scratch, 'cp')} && sync`]);
  const tar = timed('sh', ['-c', `mkdir ${join(scratch, 'tar')} && tar -C ${tree} -cf - . | tar -C ${join(scratch, 'tar')} -xf - && sync`]);
  const tlsDir = cluster.running.file.tls?.dir;
  const env = tlsDir ? { CURVEFS_TLS_DIR: tlsDir, CURVEFS_TLS_NAME: 'admin' } : {};
  const cli = (...a: string[]) => [CURVEFS_BIN, '--mds', cluster.mdsAddrs.join(','), '--token-file', cluster.running.file.auth!.adminTokenFile, ...a];
  const put = cluster.cli(['put', tree, '/t']);
  if (put.status !== 0) throw new Error(`put failed: ${put.stderr}`);
  const rows: string[] = [];
  for (const format of ['binary', 'json']) {
    const file = join(scratch, `dump.${format}`);
    const dump = timed(process.execPath, cli('dump', 'dumpsrc', '--format', format, '--out', file), env);
    const ld = timed(process.execPath, cli('--json', 'load', file, `copy-${format}`), env);
    const loaded = JSON.parse(ld.stdout) as { entries: number };
    const names = FILES + DIRS + 1; // files, their directories, /t
    if (loaded.entries !== names) throw new Error(`load: ${loaded.entries} names, expected ${names}`);
    const fps = (s: number) => (FILES / s).toFixed(0);
    rows.push(
      `| ${format} | ${(statSync(file).size / FILES).toFixed(0)} | ${fps(dump.s)} (${dump.rssMiB.toFixed(0)} MiB) | ${fps(ld.s)} (${ld.rssMiB.toFixed(0)} MiB) | ${(dump.s / cp.s).toFixed(2)} / ${(ld.s / cp.s).toFixed(2)} | ${(dump.s / tar.s).toFixed(2)} / ${(ld.s / tar.s).toFixed(2)} |`,
    );
  }
  console.log(`files=${FILES} dirs=${DIRS} file-bytes=${FILE_BYTES} load=${load}`);
  console.log(`floor: cp -a ${(FILES / cp.s).toFixed(0)} files/s, tar|tar ${(FILES / tar.s).toFixed(0)} files/s`);
  console.log('| format | dump bytes/file | dump files/s (peak RSS) | load files/s (peak RSS) | time vs cp -a (dump / load) | time vs tar (dump / load) |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
} finally {
  await cluster.stop();
  rmSync(scratch, { recursive: true, force: true });
}
