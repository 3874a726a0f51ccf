// One MDS process's role over time: follower, loading (elected, reading the store) or leader
// (serving a term). Only a leader whose elector still confirms the same term (on its own clock)
// serves; everything else answers NOT_LEADER with the leader's address.
import { CurveError, StatusCode, createLogger, type Clock, type Random, type Timer } from '../common/index.ts';
import type { ElectionEvent, Elector, Leadership } from './election/index.ts';
import type { DataReclaimer } from './fs/fs-manager.ts';
import type { DataProber } from './fs/probe-store.ts';
import type { SecretSeal } from './auth/secret-seal.ts';
import type { LeaderJournal } from './journal.ts';
import type { MdsTuning } from './options.ts';
import type { KvStore } from './store/index.ts';
import { MdsTerm } from './term.ts';
import type { MetaserverAdmin } from './topology/metaserver-admin.ts';

const log = createLogger('mds');

export type MdsRole = 'follower' | 'loading' | 'leader';

export interface MdsNodeOptions {
  address: string;
  store: KvStore;
  elector: Elector;
  admin: MetaserverAdmin;
  timer: Timer;
  random: Random;
  tuning: MdsTuning;
  reclaimData?: DataReclaimer;
  /** Checks a new fs's data store before CreateFs records it (none: not checked). */
  probeData?: DataProber;
  /** Seals S3 secret keys in the store (auth/secret-seal.ts); none without the cluster key. */
  secrets?: SecretSeal;
  journal?: LeaderJournal;
  /** Called when the term ends (e.g. to drop dead etcd connections). */
  onDeposed?: () => void;
}

export class MdsNode {
  private term: MdsTerm | undefined;
  private loadingTerm: number | undefined;
  private stopped = false;
  readonly clock: Clock;
  /** Terms this process has served, for the status page. */
  termsServed = 0;

  constructor(private readonly opts: MdsNodeOptions) {
    this.clock = opts.elector.clock;
  }

  start(): void {
    this.opts.elector.on((ev) => this.onElection(ev));
    this.opts.elector.start();
  }

  role(): MdsRole {
    if (this.current()) return 'leader';
    return this.loadingTerm !== undefined && this.opts.elector.current()?.term === this.loadingTerm ? 'loading' : 'follower';
  }

  /** The term being served now, if any (checked against the elector's clock). */
  current(): MdsTerm | undefined {
    const l = this.opts.elector.current();
    const t = this.term;
    return l && t && t.leadership.term === l.term ? t : undefined;
  }

  /** The term to serve a call with, or NOT_LEADER (UNAVAILABLE while the term is loading). */
  serving(): MdsTerm {
    const t = this.current();
    if (t) return t;
    if (this.role() === 'loading') throw new CurveError(StatusCode.UNAVAILABLE, 'elected; loading state');
    const hint = this.opts.elector.leaderAddress();
    throw new CurveError(StatusCode.NOT_LEADER, hint && hint !== this.opts.address ? `the leader is ${hint}` : 'no leader known', hint !== this.opts.address ? hint : undefined);
  }

  leaderAddress(): string | undefined {
    return this.opts.elector.leaderAddress();
  }

  validUntil(): number {
    return this.opts.elector.validUntil();
  }

  async stop(resign = true): Promise<void> {
    this.stopped = true;
    this.endTerm('stopped');
    await this.opts.elector.stop({ resign });
  }

  private onElection(ev: ElectionEvent): void {
    switch (ev.kind) {
      case 'elected':
        void this.load(ev.leadership);
        break;
      case 'renewed':
        if (this.term && this.term.leadership.term === ev.leadership.term) {
          this.opts.journal?.append('renew', this.clock.now(), ev.leadership.term, { until: ev.validUntil });
        }
        break;
      case 'deposed':
        this.endTerm(ev.reason);
        this.opts.onDeposed?.();
        break;
      case 'observed':
        break;
    }
  }

  /** Loads the term's state; retries while the leadership lasts (the store may be slow). */
  private async load(l: Leadership): Promise<void> {
    this.loadingTerm = l.term;
    for (let attempt = 0; !this.stopped; attempt++) {
      if (this.opts.elector.current()?.term !== l.term) return;
      try {
        const term = await MdsTerm.open(l, {
          store: this.opts.store,
          admin: this.opts.admin,
          clock: this.clock,
          timer: this.opts.timer,
          random: this.opts.random,
          tuning: this.opts.tuning,
          reclaimData: this.opts.reclaimData,
          probeData: this.opts.probeData,
          secrets: this.opts.secrets,
          onFenceLost: () => this.fenceLost(l.term),
        });
        // Serve only if the same term still holds now; record it before the first call is served.
        if (this.stopped || this.opts.elector.current()?.term !== l.term) return;
        this.opts.journal?.append('serve-start', this.clock.now(), l.term, { until: this.opts.elector.validUntil() });
        this.term = term;
        this.termsServed++;
        term.start();
        log.info('serving as leader', { term: l.term, address: this.opts.address });
        return;
      } catch (e) {
        log.warn('loading the leader state failed', { term: l.term, attempt, error: String(e) });
        await new Promise<void>((r) => this.opts.timer.setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }

  private fenceLost(term: number): void {
    if (this.term?.leadership.term !== term) return;
    log.warn('a write found the term over; stepping down', { term });
    this.endTerm('fence lost');
    this.opts.elector.restart('fence lost');
  }

  private endTerm(reason: string): void {
    const t = this.term;
    if (!t) return;
    this.term = undefined;
    t.close();
    this.opts.journal?.append('serve-end', this.clock.now(), t.leadership.term, { reason });
    log.info('stopped serving', { term: t.leadership.term, reason });
  }
}
