// S3 secret keys sealed at rest (src/mds/auth/secret-seal.ts, src/mds/fs/stored-fs.ts): the
// stored record holds no plain secret, opens only with the cluster key that sealed it and only
// in its own fs's record, a rotated-out key opens it for sealing again, and a value that no key
// opens (another cluster, altered bytes, no key at all) is refused with a precise error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, toBinary } from '@bufbuild/protobuf';
import { CurveError } from '../../src/common/index.ts';
import { FsInfoSchema, type FsInfo } from '../../src/gen/mds_pb.ts';
import { ClusterKey, SecretSeal, isSealed } from '../../src/mds/auth/index.ts';
import { decodeFsRecord, encodeFsRecord } from '../../src/mds/fs/stored-fs.ts';

const SECRET = 'sk-unit-Do-Not-Store-Plain';

function s3Fs(fsId: number, sk = SECRET): FsInfo {
  return create(FsInfoSchema, { fsId, fsName: `fs${fsId}`, dataStore: { kind: { case: 's3', value: { endpoint: 'http://s3', bucketName: 'b', ak: 'AK', sk } } } });
}
const skOf = (fs: FsInfo) => (fs.dataStore!.kind.value as { sk: string }).sk;
const refusedWith = (re: RegExp) => (e: unknown) => e instanceof CurveError && re.test(e.message);

test('the stored record holds the secret sealed; the same key opens it; the record given is not changed', () => {
  const seal = new SecretSeal(ClusterKey.generate());
  const fs = s3Fs(7);
  const bytes = encodeFsRecord(fs, seal);
  assert.equal(Buffer.from(bytes).includes(SECRET), false, 'plain secret in the stored bytes');
  assert.equal(skOf(fs), SECRET, 'the record in memory keeps the plain secret');
  const back = decodeFsRecord(bytes, seal);
  assert.deepEqual([skOf(back.fs), back.reseal, back.fs.fsName], [SECRET, false, 'fs7']);
  // Two seals of one secret differ (a fresh IV each time).
  assert.notEqual(Buffer.from(encodeFsRecord(fs, seal)).toString('hex'), Buffer.from(bytes).toString('hex'));
});

test('a sealed secret opens only in its own fs record, and not altered', () => {
  const seal = new SecretSeal(ClusterKey.generate());
  const sealed = skOf(decodeFsRecord(encodeFsRecord(s3Fs(7), undefined), undefined).fs);
  assert.equal(sealed, SECRET, 'without a seal the record is stored as it is');
  const stored = seal.seal(SECRET, 'fs 7');
  assert.ok(isSealed(stored));
  assert.throws(() => seal.open(stored, 'fs 8'), refusedWith(/S3 secret key of fs 8 is sealed with another cluster key, or was altered/));
  const flipped = stored.slice(0, -2) + (stored.endsWith('A') ? 'B' : 'A') + stored.slice(-1);
  assert.throws(() => seal.open(flipped, 'fs 7'), refusedWith(/altered/));
  assert.throws(() => seal.open('cfs1-sealed:AAAA', 'fs 7'), refusedWith(/too short/));
});

test('rotation: the previous key opens what it sealed and asks for a new seal; a stranger key opens nothing', () => {
  const [old, current, stranger] = [ClusterKey.generate(), ClusterKey.generate(), ClusterKey.generate()];
  const bytes = encodeFsRecord(s3Fs(3), new SecretSeal(old));
  const rotated = decodeFsRecord(bytes, new SecretSeal(current, [old]));
  assert.deepEqual([skOf(rotated.fs), rotated.reseal], [SECRET, true]);
  const resealed = encodeFsRecord(rotated.fs, new SecretSeal(current));
  assert.deepEqual([skOf(decodeFsRecord(resealed, new SecretSeal(current)).fs)], [SECRET]);
  assert.throws(() => decodeFsRecord(bytes, new SecretSeal(stranger)), refusedWith(/fs 3 is sealed with another cluster key.*--auth-previous-key-file/));
});

test('a plain secret (stored before sealing) is opened and marked for sealing; no key: a sealed one is refused', () => {
  const seal = new SecretSeal(ClusterKey.generate());
  const plain = toBinary(FsInfoSchema, s3Fs(4));
  assert.deepEqual([skOf(decodeFsRecord(plain, seal).fs), decodeFsRecord(plain, seal).reseal], [SECRET, true]);
  assert.equal(decodeFsRecord(toBinary(FsInfoSchema, s3Fs(4, '')), seal).reseal, false, 'no secret, nothing to seal');
  assert.throws(() => decodeFsRecord(encodeFsRecord(s3Fs(4), seal), undefined), refusedWith(/fs 4 \(fs4\) is sealed: start the MDS with the cluster key/));
});
