// The single-node elector for the embedded store. The store already holds an exclusive lock on
// its directory (kv.lock), so this process is the only possible leader: it writes a fresh
// election key into the store (a new create revision = a new term on every start) and leads
// until stopped. The fence works exactly as with etcd, so the same fenced write path is used.
import { createLogger, type Clock } from '../../common/index.ts';
import type { KvStore } from '../store/index.ts';
import { DEFAULT_ELECTION_PREFIX } from './etcd-elector.ts';
import { monotonicClock, type ElectionEvent, type Elector, type Leadership } from './types.ts';

const log = createLogger('mds/election');

export class EmbeddedElector implements Elector {
  readonly clock: Clock;
  private leadership: Leadership | undefined;
  private readonly listeners: ((ev: ElectionEvent) => void)[] = [];
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: KvStore,
    private readonly address: string,
    private readonly prefix = DEFAULT_ELECTION_PREFIX,
    clock: Clock = monotonicClock,
  ) {
    this.clock = clock;
  }

  on(listener: (ev: ElectionEvent) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.starting ??= this.elect().catch((e) => log.error('embedded election failed', { error: String(e) }));
  }

  /** Resolves once this process leads (tests and the MDS startup use it). */
  async ready(): Promise<void> {
    this.start();
    await this.starting;
  }

  private async elect(): Promise<void> {
    const key = `${this.prefix.replace(/\/+$/, '')}/embedded`;
    // Remove the previous run's key, then create ours: its create revision is the new term.
    await this.store.txn({ ops: [{ type: 'delete', key }] });
    const r = await this.store.txn({
      compares: [{ key, target: 'createRevision', equals: 0 }],
      ops: [{ type: 'put', key, value: new TextEncoder().encode(this.address) }],
    });
    if (!r.ok) throw new Error('embedded election key appeared concurrently');
    if (this.stopped) return;
    this.leadership = { fence: { key, revision: r.revision }, term: r.revision, address: this.address };
    log.info('leader (embedded store)', { term: r.revision });
    for (const l of this.listeners) l({ kind: 'elected', leadership: this.leadership, validUntil: Number.POSITIVE_INFINITY });
  }

  restart(reason: string): void {
    // The store's directory lock makes this process the only writer: a lost fence means the
    // store was changed behind our back. Leading on would be unsafe, so stop.
    log.error('embedded election key lost; stopping leadership', { reason });
    void this.stop();
  }

  current(): Leadership | undefined {
    return this.leadership;
  }

  validUntil(): number {
    return this.leadership ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  leaderAddress(): string | undefined {
    return this.leadership ? this.address : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    const l = this.leadership;
    if (!l) return;
    this.leadership = undefined;
    for (const fn of this.listeners) fn({ kind: 'deposed', leadership: l, reason: 'stopped' });
  }
}
