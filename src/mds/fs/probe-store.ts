// The store probe of CreateFs: before a new fs is recorded, the MDS writes one small object to
// its data store, reads it back, deletes it and checks it is gone. A store that cannot be
// reached, written or read (a wrong endpoint, bucket or key; a read-only or unmountable
// directory) is refused at `fs create` with the store's own error and nothing is created —
// instead of an fs that mounts and whose every write fails later.
//
// The MDS probes, not the CLI: every way of creating an fs (CLI, SDK, `load`, `up`) goes through
// CreateFs, and the MDS is itself one of the store's users (it deletes a removed fs's objects),
// so it must reach the store too. The probe's requests are bounded by PROBE_BUDGET_MS, below one
// attempt of the CLI's MDS calls (5 s), so a store that does not answer is reported as such
// rather than as an MDS that timed out. Opening the store is not counted: it sends nothing, and
// the first S3 open of a process loads the AWS SDK (~0.7 s, more on a loaded machine).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { CurveError, StatusCode } from '../../common/index.ts';
import { blockStoreConfigOf, openBlockStore, type BlockStore, type BlockStoreConfig } from '../../data/index.ts';
import type { DataStore } from '../../gen/mds_pb.ts';

/** Checks that an fs's data store can be written, read and deleted from; throws a precise CurveError if not. */
export type DataProber = (dataStore: DataStore, fsName: string) => Promise<void>;

/** Probe objects live outside every fs's key prefix (`{fsId}/`), so gc and fsck never see one. */
export const PROBE_PREFIX = 'curvefs-probe/';
/** The probe's requests: put, get, delete, head. */
export const PROBE_BUDGET_MS = 3000;
/** An S3 request is tried twice at most within the budget (a refused connection fails at once). */
const S3_ATTEMPTS = 2;
const S3_REQUEST_TIMEOUT_MS = 1200;

/** The store as an operator names it; never its credentials. */
export function describeStore(ds: DataStore): string {
  const k = ds.kind;
  if (k.case === 'local') return `local directory ${k.value.dir}`;
  if (k.case === 's3') return `S3 bucket ${k.value.bucketName} at ${k.value.endpoint || 'the AWS endpoint'}${k.value.prefix ? ` (prefix ${k.value.prefix})` : ''}`;
  return 'no data store';
}

function refused(ds: DataStore, what: string, cause: unknown): CurveError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CurveError(StatusCode.PARAM_ERROR, `data store unusable: ${describeStore(ds)}: ${what}: ${detail}; no fs was created`);
}

async function writable(dir: string): Promise<void> {
  try {
    await access(dir, constants.W_OK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // absent: the store creates it
  }
}

export const probeBlockStore: DataProber = async (dataStore, fsName) => {
  const stored = blockStoreConfigOf(dataStore);
  if (!stored) return;
  const config: BlockStoreConfig = stored.kind === 's3' ? { ...stored, maxAttempts: S3_ATTEMPTS, requestTimeoutMs: S3_REQUEST_TIMEOUT_MS } : stored;
  let deadline = Infinity;
  const key = `${PROBE_PREFIX}${fsName}-${randomBytes(8).toString('hex')}`;
  const body = randomBytes(64);
  // Each step within what is left of the budget; a step that overruns is reported by name.
  const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      if (deadline !== Infinity) timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_BUDGET_MS} ms`)), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([run(), late]);
    } catch (e) {
      throw refused(dataStore, what, e);
    } finally {
      clearTimeout(timer);
    }
  };
  // A directory that exists but cannot be written (a read-only mount) is named as such; opening
  // would report the failed mkdir of its first subdirectory, as ENOENT.
  if (config.kind === 'local') await step('cannot write in it', () => writable(config.dir));
  const store: BlockStore = await step('cannot open it', () => openBlockStore(config));
  deadline = Date.now() + PROBE_BUDGET_MS;
  try {
    await step(`cannot write a probe object (${key})`, () => store.put(key, body));
    const back = await step(`cannot read back the probe object (${key})`, () => store.get(key));
    if (Buffer.compare(Buffer.from(back), body) !== 0) throw refused(dataStore, `the probe object (${key}) read back differs from what was written`, `${back.length} bytes`);
    await step(`cannot delete the probe object (${key})`, () => store.delete([key]));
    const left = await step(`cannot check the probe object's deletion (${key})`, () => store.head(key));
    if (left !== undefined) throw refused(dataStore, `the probe object (${key}) is still there after its deletion`, 'delete is not honoured');
  } finally {
    await store.close().catch(() => undefined);
  }
};
