// The MDS status page in a real browser (Debian's headless chromium over the DevTools protocol)
// against a real cluster (etcd, an MDS process, three metaserver processes): the page, loaded
// once, follows the cluster live. A file created through the CLI raises the used inode count on
// the page; a SIGKILLed metaserver turns its row UNSTABLE and raises the alert banner, then
// OFFLINE with the time its pending heal starts; the page
// is never reloaded (a marker set in the page after loading survives to the end). A screenshot
// is saved (in $CURVEFS_TEST_ARTIFACTS when set, otherwise in the test's temporary directory).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser } from '../helpers/chromium.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { runCurvefs } from '../helpers/curvefs-mount-proc.ts';
import { EtcdCluster } from '../helpers/etcd.ts';
import { waitFor } from '../helpers/wait.ts';

const FS = 'livefs';

let base: string;
let etcd: EtcdCluster | undefined;
let cluster: CurvefsCluster | undefined;
let browser: Browser | undefined;

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-dashboard-'));
  etcd = await EtcdCluster.start({ baseDir: base });
  cluster = await CurvefsCluster.start({
    dir: join(base, 'cluster'),
    // Metaservers heartbeat every 500 ms here; 2 s of silence makes one UNSTABLE, 8 s OFFLINE
    // (its heal then pending for the default 10 min).
    mdsArgs: ['--etcd', etcd.endpoints().join(','), '--dashboard-port', '0', '--unstable-after-ms', '2000', '--offline-after-ms', '8000'],
  });
  await cluster.createFs(FS);
  browser = await Browser.launch(base);
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
  await etcd?.stop();
  if (base) await fsp.rm(base, { recursive: true, force: true });
});

/** A figure the page shows now (evaluated in the page). */
function onPage<T>(expression: string): Promise<T> {
  return browser!.eval<T>(expression);
}

const inodesOnPage = () => onPage<number>(`Number(document.querySelector('[data-fs-inodes="${FS}"]')?.dataset.value ?? -1)`);
const stateOnPage = (id: number) => onPage<string>(`document.querySelector('[data-metaserver="${id}"]')?.dataset.state ?? 'absent'`);

test('the page follows the cluster live: a new file, then a killed metaserver, without a reload', async () => {
  const c = cluster!;
  assert.ok(c.mdsDashboard, 'the MDS printed no dashboard address');
  await browser!.goto(`http://${c.mdsDashboard}/`);
  await onPage('window.__loadedOnce = 42');

  // The stream is connected and every metaserver is shown online, with the fs's usage reported.
  await waitFor(async () => (await onPage<number>('Number(document.body?.dataset.updates)')) >= 1, 'a first pushed update');
  const ids = c.metaservers.procs.map((p) => p.id);
  for (const id of ids) await waitFor(async () => (await stateOnPage(id)) === 'ONLINE', `metaserver ${id} ONLINE on the page`);
  await waitFor(async () => (await inodesOnPage()) >= 1, 'the root inode counted on the page');
  const inodesBefore = await inodesOnPage();
  // Every copyset shows how far its replicas trail (asked of the metaservers while the page is open).
  await waitFor(async () => onPage<boolean>(`[...document.querySelectorAll('[data-copyset]')].every((r) => /^\\d+$/.test(r.dataset.maxLag ?? ''))`), 'the copysets\' lag on the page');
  assert.ok((await onPage<number>('document.querySelectorAll("[data-copyset]").length')) >= 1);

  // A file created through the CLI: its inode reaches the page by heartbeats and the stream.
  const local = join(base, 'hello.txt');
  await fsp.writeFile(local, 'hello, dashboard\n');
  const put = await runCurvefs(['--mds', c.mdsAddrs.join(','), '--fs', FS, 'put', local, '/hello.txt']);
  assert.equal(put.code, 0, put.stderr);
  await waitFor(async () => (await inodesOnPage()) > inodesBefore, `used inodes above ${inodesBefore} on the page`);
  // Its length follows (the create and the write may reach different heartbeats).
  const bytesOnPage = () => onPage<number>(`Number(document.querySelector('[data-fs-bytes="${FS}"]').dataset.value)`);
  await waitFor(async () => (await bytesOnPage()) === 'hello, dashboard\n'.length, 'the file\'s length in the used bytes on the page');

  // Kill a metaserver: its row turns UNSTABLE and the banner names it.
  const victim = c.metaservers.procs[1]!;
  assert.equal(await onPage<number>('Number(document.querySelector("[data-alerts]").dataset.alerts)'), 0);
  await c.metaservers.kill(1);
  await waitFor(async () => (await stateOnPage(victim.id)) === 'UNSTABLE', `metaserver ${victim.id} UNSTABLE on the page`);
  assert.equal(await onPage<string>(`document.querySelector('[data-metaserver="${victim.id}"]').className`), 'warn');
  assert.ok((await onPage<number>('Number(document.querySelector("[data-alerts]").dataset.alerts)')) >= 1);
  assert.match(await onPage<string>('document.querySelector("[data-alerts]").textContent'), new RegExp(`metaserver ${victim.id} \\(`));
  // Its replicas no longer answer: every copyset it is a member of says so.
  const lagsOfVictim = () => onPage<string[]>(`[...document.querySelectorAll('[data-member="${victim.id}"]')].map((m) => m.dataset.lag ?? 'none')`);
  await waitFor(async () => {
    const l = await lagsOfVictim();
    return l.length > 0 && l.every((x) => x === 'unreachable');
  }, `metaserver ${victim.id}'s replicas unreachable on the page`);
  // The other two stay online.
  for (const id of ids.filter((i) => i !== victim.id)) assert.equal(await stateOnPage(id), 'ONLINE');
  // OFFLINE: its row and the alert say when its replicas start being rebuilt elsewhere.
  await waitFor(async () => (await stateOnPage(victim.id)) === 'OFFLINE', `metaserver ${victim.id} OFFLINE on the page`);
  await waitFor(async () => /heal starts \d\d:\d\d:\d\d UTC \(in \d+ min \d+ s\)/.test(await onPage<string>(`document.querySelector('[data-metaserver="${victim.id}"] [data-heal-at]')?.textContent ?? ''`)), 'the pending heal on the page');
  assert.match(await onPage<string>('document.querySelector("[data-alerts]").textContent'), new RegExp(`metaserver ${victim.id} \\(.*is OFFLINE.*heal starts`));

  // All of it arrived in the page that was loaded once.
  assert.equal(await onPage<number>('window.__loadedOnce'), 42, 'the page was reloaded');
  const shot = join(process.env.CURVEFS_TEST_ARTIFACTS ?? base, 'dashboard-live.png');
  await browser!.screenshot(shot);
  const png = await fsp.readFile(shot);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'not a PNG');
});
