// Attributes after a file's last close, through a real `curvefs mount` on a real cluster: a
// setattr's answer (chmod, chown, utimes) is kept to answer the kernel's next GETATTR
// (src/vfs/dir-attrs.ts), but a later open and write change the file without a setattr — so the
// stat right after close must show the written size, not the size the setattr answered.
// (Found by the user-quota tests: the size read 0 for ~3 s after such a close.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { MountProc } from '../helpers/curvefs-mount-proc.ts';

let base: string;
let cluster: CurvefsCluster;
let m: MountProc | undefined;
let dir: string;

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-attr-close-'));
  cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
  await cluster.createFs('ac');
  dir = join(base, 'mnt');
  await fsp.mkdir(dir);
  m = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: 'ac', dir });
});

after(async () => {
  await m?.stop();
  await cluster?.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

/** Writes `data` at 0 through a fresh r+ handle and closes it. */
async function writeThroughReopen(p: string, data: string): Promise<void> {
  const h = await fsp.open(p, 'r+');
  await h.write(data, 0);
  await h.close();
}

const setattrs: [string, (p: string) => Promise<void>][] = [
  ['chmod', (p) => fsp.chmod(p, 0o600)],
  ['chown', (p) => fsp.chown(p, 1000, 1000)],
  ['utimes', (p) => fsp.utimes(p, 1_000_000, 1_000_000)],
];

for (const [name, setattr] of setattrs) {
  test(`create, close, ${name}, reopen and write, close: stat shows the written size and the content`, async () => {
    const p = join(dir, `after-${name}`);
    await fsp.writeFile(p, '');
    await setattr(p);
    await writeThroughReopen(p, 'hello world');
    assert.equal((await fsp.stat(p)).size, 11);
    assert.equal(await fsp.readFile(p, 'utf8'), 'hello world');
  });
}

test('open, write, fchmod, write more, close: stat shows the final size', async () => {
  const p = join(dir, 'fchmod-between');
  const h = await fsp.open(p, 'w');
  await h.write('abc', 0);
  await h.chmod(0o640);
  await h.write('defgh', 3);
  await h.close();
  const st = await fsp.stat(p);
  assert.equal(st.size, 8);
  assert.equal(st.mode & 0o777, 0o640);
});

test('chmod, then truncate through a handle, close: stat shows the new size', async () => {
  const p = join(dir, 'truncate-after-chmod');
  await fsp.writeFile(p, 'x'.repeat(100));
  await fsp.chmod(p, 0o644);
  const h = await fsp.open(p, 'r+');
  await h.truncate(10);
  await h.close();
  assert.equal((await fsp.stat(p)).size, 10);
});
