// Leader election on etcd, in the shape of etcd's concurrency.Election (which CurveFS uses), with
// the fixes the digest asks for (§7, §10.10):
//
//  campaign   grant a lease; put `<prefix>/<leaseId hex>` = our address if absent; our create
//             revision R is our term. Wait until no key under the prefix has a smaller create
//             revision (watch the predecessor; poll as a backstop). Re-read our key after winning
//             (if every lease expired at once, all waiters wake up "winning" without a key).
//  lead       keep the lease alive every `keepaliveMs`; act only while the LeaseGuard says the
//             lease is surely alive on etcd (last confirmed send + TTL − margin, own clock);
//             re-read our key on every keepalive round. Every store write carries the fence
//             {key, R}: a deposed leader's write fails in etcd itself.
//  lose       at the guard deadline, on a lost lease or key, we stop acting at once; the session
//             (client, lease, watchers) is torn down and a new campaign starts with a new client
//             and a new lease. A session that failed is never resumed: its late answers are
//             ignored because every step checks that its session is still the current one.
//  resign     stop acting first, then revoke the lease (deleting the key): the next candidate's
//             watch fires at once.
import type { Etcd3, IKeyValue } from 'etcd3';
import { createLogger, systemRandom, systemTimer, type Clock, type Random, type Timer, type TimerHandle } from '../../common/index.ts';
import { createEtcdClient, prefixEnd, type EtcdSecurity } from '../store/index.ts';
import { LeaseGuard } from './lease-guard.ts';
import { monotonicClock, type ElectionEvent, type Elector, type Leadership } from './types.ts';

const log = createLogger('mds/election');

export interface EtcdElectorOptions {
  endpoints: string[];
  /** Value of the election key: the address clients should use for this MDS. */
  address: string;
  prefix?: string;
  /** Lease TTL in seconds (etcd's unit). Default 5, as CurveFS's leader.sessionInterSec. */
  ttlSec?: number;
  /** Safety margin subtracted from the lease (ms). Default max(300, 20 % of the TTL). */
  marginMs?: number;
  /** Keepalive period (ms). Default TTL / 5. */
  keepaliveMs?: number;
  /** Deadline of each etcd call (ms). Default min(2000, (TTL − margin) / 2): a slow etcd (or a
   *  loaded host) gets time to answer, and one answer per lease window is enough. */
  opTimeoutMs?: number;
  /** Pause before a new campaign after a failed one (ms, randomised ±50 %). Default 200. */
  retryMs?: number;
  /** gRPC keepalive ping period towards etcd (ms). Default 5000. */
  grpcKeepaliveMs?: number;
  /** TLS and user/password towards etcd (store/etcd-security.ts). */
  security?: EtcdSecurity;
  clock?: Clock;
  timer?: Timer;
  random?: Random;
}

export const DEFAULT_ELECTION_PREFIX = '/curvefs/mds/election';

class SessionLost extends Error {}

/** One campaign: a client, a lease and (maybe) a key. Never reused after it ends. */
interface Session {
  id: number;
  client: Etcd3;
  leaseId?: string;
  key?: string;
  revision?: number;
  guard: LeaseGuard;
  ended: boolean;
  endReason?: string;
  /** Resolves when the session ends (used to interrupt waits). */
  endedPromise: Promise<void>;
  end: (reason: string) => void;
  watchdog?: TimerHandle;
  /** The best-effort lease revoke sent when the session ended. */
  revoking?: Promise<unknown>;
}

export class EtcdElector implements Elector {
  readonly clock: Clock;
  private readonly timer: Timer;
  private readonly random: Random;
  private readonly prefix: string;
  private readonly ttlSec: number;
  private readonly marginMs: number;
  private readonly keepaliveMs: number;
  private readonly opTimeoutMs: number;
  private readonly retryMs: number;
  private readonly listeners: ((ev: ElectionEvent) => void)[] = [];
  private session: Session | undefined;
  private leadership: Leadership | undefined;
  private observed: string | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private sessionSeq = 0;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: EtcdElectorOptions) {
    this.clock = opts.clock ?? monotonicClock;
    this.timer = opts.timer ?? systemTimer;
    this.random = opts.random ?? systemRandom;
    this.prefix = (opts.prefix ?? DEFAULT_ELECTION_PREFIX).replace(/\/+$/, '');
    this.ttlSec = opts.ttlSec ?? 5;
    const ttlMs = this.ttlSec * 1000;
    this.marginMs = opts.marginMs ?? Math.max(300, ttlMs * 0.2);
    this.keepaliveMs = opts.keepaliveMs ?? ttlMs / 5;
    this.opTimeoutMs = opts.opTimeoutMs ?? Math.min(2000, (ttlMs - this.marginMs) / 2);
    this.retryMs = opts.retryMs ?? 200;
    if (!(this.keepaliveMs < ttlMs - this.marginMs)) {
      throw new RangeError(`keepalive period ${this.keepaliveMs} ms must be shorter than TTL − margin (${ttlMs - this.marginMs} ms)`);
    }
  }

  on(listener: (ev: ElectionEvent) => void): void {
    this.listeners.push(listener);
  }

  restart(reason: string): void {
    const s = this.session;
    if (s) this.endSession(s, reason);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.campaignLoop();
  }

  current(): Leadership | undefined {
    const s = this.session;
    if (!this.leadership || !s || s.ended) return undefined;
    if (!s.guard.isValid(this.clock.now())) {
      // The watchdog timer may not have run yet (a stalled event loop): the clock decides.
      this.endSession(s, 'lease not confirmed within TTL − margin');
      return undefined;
    }
    return this.leadership;
  }

  validUntil(): number {
    return this.current() ? this.session!.guard.validUntil() : Number.NEGATIVE_INFINITY;
  }

  leaderAddress(): string | undefined {
    return this.current() ? this.opts.address : this.observed;
  }

  private stopping: Promise<void> | undefined;

  stop(opts: { resign?: boolean } = {}): Promise<void> {
    return (this.stopping ??= this.doStop(opts));
  }

  private async doStop(opts: { resign?: boolean }): Promise<void> {
    this.running = false;
    const s = this.session;
    if (s) {
      const wasLeader = this.leadership !== undefined;
      // Stop acting before anything else; then let the next candidate in at once.
      this.endSession(s, 'stopped', { keepLease: true });
      if (opts.resign !== false && s.leaseId) {
        s.revoking = s.client.leaseClient.leaseRevoke({ ID: s.leaseId }, { deadline: Date.now() + this.opTimeoutMs }).catch((e) => {
          log.warn('resign: lease revoke failed; the key will expire with its lease', { error: String(e) });
        });
        await s.revoking;
        if (wasLeader) log.info('resigned', { key: s.key });
      }
    }
    this.wake?.();
    await this.loop;
  }

  // ---- campaign ----

  private async campaignLoop(): Promise<void> {
    while (this.running) {
      const s = this.newSession();
      try {
        await this.campaign(s);
      } catch (e) {
        if (!(e instanceof SessionLost)) log.warn('campaign failed', { error: String(e) });
      } finally {
        this.endSession(s, s.endReason ?? 'campaign ended');
        await s.revoking;
        s.client.close();
      }
      if (!this.running) break;
      await this.pause(this.retryMs * (0.5 + this.random.next()));
    }
  }

  private newSession(): Session {
    let end!: (reason: string) => void;
    const endedPromise = new Promise<void>((resolve) => {
      end = () => resolve();
    });
    const s: Session = {
      id: ++this.sessionSeq,
      client: createEtcdClient({ endpoints: this.opts.endpoints, opTimeoutMs: this.opTimeoutMs, keepaliveMs: this.opts.grpcKeepaliveMs, security: this.opts.security }),
      guard: new LeaseGuard(this.ttlSec * 1000, this.marginMs),
      ended: false,
      endedPromise,
      end: (reason) => {
        s.endReason ??= reason;
        end(reason);
      },
    };
    this.session = s;
    return s;
  }

  private async campaign(s: Session): Promise<void> {
    const deadline = () => ({ deadline: Date.now() + this.opTimeoutMs });
    // 1. Lease.
    const sentAt = this.clock.now();
    const grant = await this.alive(s, s.client.leaseClient.leaseGrant({ TTL: this.ttlSec }, deadline()));
    if (grant.error) throw new Error(`lease grant: ${grant.error}`);
    s.leaseId = grant.ID;
    s.guard.confirm(sentAt, Number(grant.TTL) * 1000);
    this.armWatchdog(s);
    void this.keepaliveLoop(s);

    // 2. Our key, created only if absent; its create revision is our term.
    const key = `${this.prefix}/${BigInt(grant.ID).toString(16)}`;
    s.key = key;
    const keyBuf = Buffer.from(key);
    const put = await this.alive(
      s,
      s.client.kv.txn(
        {
          compare: [{ key: keyBuf, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key: keyBuf, value: Buffer.from(this.opts.address), lease: grant.ID } }],
          failure: [{ request_range: { key: keyBuf } }],
        },
        deadline(),
      ),
    );
    s.revision = put.succeeded ? Number(put.header.revision) : Number(put.responses[0]?.response_range.kvs[0]?.create_revision ?? 0);
    if (!s.revision) throw new Error('election key vanished right after creation');

    // 3. Wait for every older candidate to go.
    for (;;) {
      const pred = await this.alive(
        s,
        s.client.kv.range(
          { key: Buffer.from(`${this.prefix}/`), range_end: prefixEnd(Buffer.from(`${this.prefix}/`)), max_create_revision: s.revision - 1, sort_target: 'Create', sort_order: 'Descend', limit: 1 },
          deadline(),
        ),
      );
      const p = pred.kvs[0];
      if (!p) break;
      await this.observeLeader(s);
      await this.waitDeleted(s, p, Number(pred.header.revision));
    }

    // 4. Re-read our own key: winning without it means our lease expired meanwhile.
    const mine = await this.alive(s, s.client.kv.range({ key: keyBuf }, deadline()));
    const kv = mine.kvs[0];
    if (!kv || Number(kv.create_revision) !== s.revision) throw new Error('own election key is gone after winning');
    if (!s.guard.isValid(this.clock.now())) throw new SessionLost('lease expired while campaigning');

    // 5. Lead until the session ends.
    this.leadership = { fence: { key, revision: s.revision }, term: s.revision, address: this.opts.address };
    this.observed = this.opts.address;
    log.info('elected leader', { key, term: s.revision, validUntil: s.guard.validUntil() });
    this.emit({ kind: 'elected', leadership: this.leadership, validUntil: s.guard.validUntil() });
    await s.endedPromise;
  }

  /** Awaits `p` unless the session ends first (then throws SessionLost). */
  private async alive<T>(s: Session, p: Promise<T>): Promise<T> {
    if (s.ended) throw new SessionLost(s.endReason);
    const r = await Promise.race([p, s.endedPromise.then(() => SessionLost)]);
    p.catch(() => undefined);
    if (r === SessionLost || s.ended) throw new SessionLost(s.endReason);
    return r as T;
  }

  private async observeLeader(s: Session): Promise<void> {
    const first = await this.alive(
      s,
      s.client.kv.range(
        { key: Buffer.from(`${this.prefix}/`), range_end: prefixEnd(Buffer.from(`${this.prefix}/`)), sort_target: 'Create', sort_order: 'Ascend', limit: 1 },
        { deadline: Date.now() + this.opTimeoutMs },
      ),
    );
    const addr = first.kvs[0]?.value.toString('utf8');
    if (addr !== this.observed) {
      this.observed = addr;
      this.emit({ kind: 'observed', leaderAddress: addr });
    }
  }

  /** Returns when `pred` is deleted (watch), after one poll period, or throws when `s` ends. */
  private async waitDeleted(s: Session, pred: IKeyValue, revision: number): Promise<void> {
    // watcher() attaches synchronously, so the watcher is always in hand to cancel: a pending
    // create() abandoned by an ending session would stay in the client's watch manager, which
    // then retries its stream forever.
    const watcher = s.client.watch().key(pred.key).startRevision(String(revision + 1)).only('delete').watcher();
    watcher.on('error', () => undefined); // the poll below still notices the deletion
    let h: TimerHandle | undefined;
    try {
      const deleted = new Promise<void>((resolve) => {
        watcher.on('delete', () => resolve());
        h = this.timer.setTimeout(resolve, this.keepaliveMs);
      });
      await this.alive(s, deleted);
    } finally {
      if (h) this.timer.clear(h);
      void watcher.cancel().catch(() => undefined);
    }
  }

  // ---- lease upkeep ----

  private async keepaliveLoop(s: Session): Promise<void> {
    while (!s.ended) {
      const started = this.clock.now();
      try {
        await this.keepaliveOnce(s);
        if (this.leadership && this.session === s) await this.checkOwnKey(s);
      } catch (e) {
        if (s.ended) return;
        log.debug('keepalive round failed', { error: String(e) });
      }
      if (s.ended) return;
      const next = Math.max(0, this.keepaliveMs - (this.clock.now() - started));
      await Promise.race([new Promise<void>((r) => this.timer.setTimeout(r, next)), s.endedPromise]);
    }
  }

  /**
   * One keepalive round. A stream goes to a random etcd member; when it fails (a dead member),
   * another stream is tried at once while the round's time lasts, so one dead member of three
   * does not cost the lease.
   */
  private async keepaliveOnce(s: Session): Promise<void> {
    const roundEnd = Date.now() + this.opTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const sentAt = this.clock.now();
      let res: { TTL: string };
      try {
        const stream = await s.client.leaseClient.leaseKeepAlive({ deadline: roundEnd });
        res = await new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on('data', resolve);
          stream.on('error', reject);
          stream.on('end', () => reject(new Error('keepalive stream ended')));
          stream.write({ ID: s.leaseId });
        }).finally(() => stream.end());
      } catch (e) {
        if (s.ended || Date.now() >= roundEnd || attempt >= 2 * this.opts.endpoints.length) throw e;
        continue;
      }
      if (s.ended) return;
      const ttl = Number(res.TTL);
      if (!(ttl > 0)) {
        this.endSession(s, 'lease expired on etcd');
        return;
      }
      s.guard.confirm(sentAt, ttl * 1000);
      this.armWatchdog(s);
      if (this.leadership && this.session === s) {
        this.emit({ kind: 'renewed', leadership: this.leadership, validUntil: s.guard.validUntil() });
      }
      return;
    }
  }

  private async checkOwnKey(s: Session): Promise<void> {
    const res = await s.client.kv.range({ key: Buffer.from(s.key!) }, { deadline: Date.now() + this.opTimeoutMs });
    if (s.ended) return;
    const kv = res.kvs[0];
    if (!kv || Number(kv.create_revision) !== s.revision) this.endSession(s, 'own election key is gone');
  }

  /** Ends the session exactly at the guard's deadline unless a keepalive extends it first. */
  private armWatchdog(s: Session): void {
    if (s.watchdog) this.timer.clear(s.watchdog);
    if (s.ended) return;
    const wait = Math.max(0, s.guard.validUntil() - this.clock.now());
    s.watchdog = this.timer.setTimeout(() => {
      if (!s.ended && !s.guard.isValid(this.clock.now())) this.endSession(s, 'lease not confirmed within TTL − margin');
      else this.armWatchdog(s);
    }, wait);
  }

  /** Stops acting (synchronously) and ends the session; idempotent. */
  private endSession(s: Session, reason: string, opts: { keepLease?: boolean } = {}): void {
    if (s.ended) return;
    s.ended = true;
    s.guard.invalidate();
    if (s.watchdog) this.timer.clear(s.watchdog);
    s.end(reason);
    if (this.session === s && this.leadership) {
      const l = this.leadership;
      this.leadership = undefined;
      (reason === 'stopped' ? log.info : log.warn)('stepped down', { term: l.term, reason });
      this.emit({ kind: 'deposed', leadership: l, reason });
    }
    if (!opts.keepLease && s.leaseId) {
      // Best effort: hand over at once if etcd is reachable. The key expires anyway.
      s.revoking = s.client.leaseClient.leaseRevoke({ ID: s.leaseId }, { deadline: Date.now() + this.opTimeoutMs }).catch(() => undefined);
    }
  }

  private emit(ev: ElectionEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (e) {
        log.error('election listener threw', { error: String(e) });
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const h = this.timer.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.timer.clear(h);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
