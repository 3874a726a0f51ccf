// Which inodes this client holds open, and the metaserver registrations (OpenHandle) that keep
// an open inode whose last name went from being reclaimed (docs/architecture.md §6). Shared by
// the SDK (fs.ts) and the mount (src/mount), through FsCore.opens.
//
// Why an open is not registered when it is made: a registration and its release are two Raft
// commits, more than the create itself, and nearly every open closes long before anything could
// reclaim its inode. Registration happens only when it can matter:
//  - this client removes what may be the last name of an inode it holds open (unlink, rename
//    over it): FsCore registers it right after the removal is answered, before its caller is;
//  - the inode has no name already when it is opened (nlink 0, e.g. reopened through a handle);
//  - the open has lasted `registerAfterMs` (another client may unlink the file). The reclaimer
//    waits a grace period after an inode's last name goes (30 s by default) before it may take
//    the inode, so an open made before another client's unlink is registered within
//    `registerAfterMs` of it, well inside that grace. This delay must stay below the grace.
// The window these rules leave: an open another client unlinks is unprotected only for
// `registerAfterMs` after the open, which the grace covers; an open by a client that dies holds
// nothing (its handles die with it, and its session's registrations expire with the session).
//
// When this client's session ends while it lives (it was cut off from the MDS), the metaservers
// drop the registrations made under it; once the client has a new session (`renewed`) every
// registered open is registered again under the new id. Until then an inode whose last name goes
// is held only by the reclaimer's grace period.
import { CurveError, StatusCode, createLogger } from '../common/index.ts';

const log = createLogger('client-opens');

/** The OpenHandle call (FsCore.openHandle): registers (open=true) or releases one handle. */
export type OpenHandleCall = (ino: number, sessionId: number, open: boolean) => Promise<void>;

export interface OpenRegistryOptions {
  /** Register an open this long after it was made (ms); 0 = at once. Default 5000. */
  registerAfterMs?: number;
}

interface OpenState {
  /** Opens of the inode by this client. */
  count: number;
  /** Settles true once registered (false if registering failed); undefined while unregistered. */
  registration?: Promise<boolean>;
  timer?: NodeJS.Timeout;
}

export class OpenRegistry {
  private readonly open = new Map<number, OpenState>();
  /** Releases in flight by inode: a later registration of the inode goes after its release. */
  private readonly releasing = new Map<number, Promise<void>>();
  private readonly registerAfterMs: number;
  /** Registrations and releases made (for tests and benchmarks). */
  readonly counts = { registered: 0, released: 0 };

  constructor(
    private readonly call: OpenHandleCall,
    private session: number,
    opts: OpenRegistryOptions = {},
  ) {
    this.registerAfterMs = opts.registerAfterMs ?? 5000;
  }

  /** The mount session registrations are made under. */
  get sessionId(): number {
    return this.session;
  }

  /**
   * The client has a new session (the old one ended, and with it its registrations at the
   * metaservers): registers every open that was registered again, under the new id, after any
   * registration still in flight under the old one.
   */
  renewed(sessionId: number): void {
    this.session = sessionId;
    for (const [ino, s] of this.open) {
      if (s.registration) this.startRegistration(ino, s, s.registration);
    }
  }

  /** Inodes held open now. */
  get size(): number {
    return this.open.size;
  }

  isOpen(ino: number): boolean {
    return this.open.has(ino);
  }

  /**
   * One more open of `ino`, whose link count (as just read) is `nlink`. Resolves at once unless
   * the inode already has no name: then once it is registered (throws if that fails).
   */
  async opened(ino: number, nlink: number): Promise<void> {
    let s = this.open.get(ino);
    if (!s) this.open.set(ino, (s = { count: 0 }));
    s.count++;
    if (nlink === 0 || this.registerAfterMs <= 0) {
      if (!(await this.register(ino, s))) {
        this.closed(ino);
        throw new Error(`registering the open of inode ${ino} failed`);
      }
      return;
    }
    if (!s.registration && !s.timer) {
      const state = s;
      s.timer = setTimeout(() => {
        state.timer = undefined;
        if (this.open.get(ino) === state) void this.register(ino, state);
      }, this.registerAfterMs);
      s.timer.unref();
    }
  }

  /**
   * This client removed a name of `ino` that may have been its last: if it holds `ino` open,
   * registers that open now (resolves when registered, or at once when not open here).
   */
  async lostName(ino: number): Promise<void> {
    const s = this.open.get(ino);
    if (s) await this.register(ino, s);
  }

  /** One open of `ino` closed. The last one releases the registration, if any (await to know it reached the metaserver). */
  closed(ino: number): Promise<void> {
    const s = this.open.get(ino);
    if (!s) return Promise.resolve();
    if (--s.count > 0) return Promise.resolve();
    this.open.delete(ino);
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    if (!s.registration) return Promise.resolve();
    const registration = s.registration;
    const release: Promise<void> = (async () => {
      if (!(await registration)) return;
      this.counts.released++;
      await this.call(ino, this.session, false).catch((e: unknown) =>
        log.warn('releasing an open handle failed (the session expiry drops it)', { ino, error: String(e) }),
      );
    })().finally(() => {
      if (this.releasing.get(ino) === release) this.releasing.delete(ino);
    });
    this.releasing.set(ino, release);
    return release;
  }

  /** The session is ending: no more delayed registrations (its end releases everything anyway). */
  stopTimers(): void {
    for (const s of this.open.values()) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
    }
  }

  /** Waits until every release made so far reached the metaservers (before the session ends). */
  async settle(): Promise<void> {
    while (this.releasing.size > 0) await Promise.all([...this.releasing.values()]);
  }

  private register(ino: number, s: OpenState): Promise<boolean> {
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    if (!s.registration) this.startRegistration(ino, s, this.releasing.get(ino) ?? Promise.resolve());
    return s.registration!;
  }

  /** Registers `ino` under the current session once `after` settled. */
  private startRegistration(ino: number, s: OpenState, after: Promise<unknown>): void {
    this.counts.registered++;
    const registration: Promise<boolean> = after
      .then(() => this.call(ino, this.session, true))
      .then(
        () => true,
        (e: unknown) => {
          log.warn('registering an open file failed', { ino, error: String(e) });
          // Refused because our session ended (the metaservers refuse an ended session's opens):
          // keep it marked, so the new session registers it again (renewed()).
          if (e instanceof CurveError && e.status === StatusCode.SESSION_EXPIRED) return false;
          // Allow another attempt (a later unlink, the next open, a new session).
          if (this.open.get(ino) === s && s.registration === registration) s.registration = undefined;
          return false;
        },
      );
    s.registration = registration;
  }
}
