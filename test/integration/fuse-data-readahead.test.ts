// The mount raises the kernel's readahead window for itself (src/mount/kernel-readahead.ts):
// through a real `curvefs mount` process on a real cluster, the mount's backing device reads
// ahead 16 MiB (not the kernel's 128 KiB), and a file written through the mount reads back
// intact after a remount (cold caches: every byte through the object cache and its readahead).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceOf } from '../../src/mount/kernel-readahead.ts';
import { CurvefsCluster } from '../helpers/curvefs-cluster.ts';
import { MountProc } from '../helpers/curvefs-mount-proc.ts';

let base: string;
let cluster: CurvefsCluster;
let m: MountProc | undefined;
let dir: string;

const mount = async () => (m = await MountProc.start({ mdsAddrs: cluster.mdsAddrs, fsName: 'ra', dir }));

before(async () => {
  base = await fsp.mkdtemp(join(tmpdir(), 'curvefs-readahead-'));
  cluster = await CurvefsCluster.start({ dir: join(base, 'cluster') });
  await cluster.createFs('ra');
  dir = join(base, 'mnt');
  await fsp.mkdir(dir);
  await mount();
});

after(async () => {
  await m?.stop();
  await cluster?.stop();
  await fsp.rm(base, { recursive: true, force: true });
});

test('deviceOf finds the last mount at a path, with octal escapes undone', () => {
  const info = [
    '22 1 0:21 / /proc rw - proc proc rw',
    '40 22 0:40 / /mnt/a\\040b rw - fuse x rw',
    '41 40 0:41 / /mnt/a\\040b rw - fuse.curvefs y rw',
  ].join('\n');
  assert.equal(deviceOf(info, '/mnt/a b'), '0:41');
  assert.equal(deviceOf(info, '/mnt/nothing'), undefined);
});

test("the mount's kernel readahead window is 16 MiB, and a multi-object file reads back intact after a remount", async () => {
  const dev = deviceOf(await fsp.readFile('/proc/self/mountinfo', 'utf8'), dir);
  assert.ok(dev, 'the mount is in mountinfo');
  assert.equal((await fsp.readFile(`/sys/class/bdi/${dev}/read_ahead_kb`, 'utf8')).trim(), '16384');

  // 10 MiB + a tail: three 4 MiB objects, the last partial.
  const data = Buffer.alloc(10 * 1024 * 1024 + 12_345);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i - (i + 4 > data.length ? 4 : 0));
  await fsp.writeFile(join(dir, 'big'), data);
  await m!.stop();
  await mount();
  const got = await fsp.readFile(join(dir, 'big'));
  assert.equal(got.length, data.length);
  assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
});
