// The client's MDS mount session: the one place that holds its id. The id names this client
// everywhere at the metaservers — the client id of every RequestId, the owner of open-handle
// registrations and file locks — and lives exactly as long as the MDS keeps the session
// (docs/architecture.md §2). When the session ends (the MDS expired it while this client was cut
// off: the refresh answers it is not valid, or a metaserver answers SESSION_EXPIRED), the client
// registers a new session — a new id, never the old one revived — and tells its parts
// (`onRenewed`): the MetaClient starts a fresh request-id sequence, the open registry registers
// its open handles again, the mount marks the file locks it held as lost.
import { CurveError, StatusCode, createLogger } from '../common/index.ts';
import type { MdsApi } from './mds-api.ts';
import type { SpaceReport } from './space.ts';

const log = createLogger('client-session');

export type RenewListener = (sessionId: number, endedId: number) => void;

export class ClientSession {
  private current: number;
  private renewing: Promise<number> | undefined;
  private readonly listeners: RenewListener[] = [];
  private readonly refreshed: ((report: SpaceReport) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Sessions registered after the first (for diagnostics and tests). */
  renewals = 0;

  constructor(
    private readonly mds: MdsApi,
    private readonly fsName: string,
    private readonly mountpoint: { host: string; path: string },
    sessionId: number,
  ) {
    this.current = sessionId;
  }

  get id(): number {
    return this.current;
  }

  onRenewed(f: RenewListener): void {
    this.listeners.push(f);
  }

  /** Called with the fs's usage each refresh answers with (capacity checks and statfs use it). */
  onRefreshed(f: (report: SpaceReport) => void): void {
    this.refreshed.push(f);
  }

  /**
   * Session `endedId` has ended: registers a new one unless that was done already (many calls
   * learn it at once; one registration serves them all). Resolves with the session id in use.
   */
  renew(endedId: number): Promise<number> {
    if (endedId !== this.current) return Promise.resolve(this.current);
    if (this.closed) return Promise.reject(new CurveError(StatusCode.SESSION_EXPIRED, `session ${endedId} has ended and the client is closing`));
    this.renewing ??= (async () => {
      try {
        const next = (await this.mds.mount(this.fsName, this.mountpoint)).sessionId;
        this.current = next;
        this.renewals++;
        log.warn('mount session ended; registered a new one', { fs: this.fsName, ended: endedId, session: next });
        for (const f of this.listeners) f(next, endedId);
        return next;
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  /** Refreshes the session every `periodMs`; a refresh that says it ended registers a new one. */
  keepAlive(periodMs: number): void {
    this.timer = setInterval(() => void this.refresh(), periodMs);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    const id = this.current;
    try {
      const report = await this.mds.refreshSession(this.fsName, id);
      if (report) for (const f of this.refreshed) f(report);
    } catch (e) {
      if (e instanceof CurveError && e.status === StatusCode.SESSION_EXPIRED) {
        await this.renew(id).catch((err: unknown) => log.warn('registering a new session failed', { error: String(err) }));
        return;
      }
      log.warn('session refresh failed', { error: String(e) });
    }
  }

  /** Stops refreshing and ends the session at the MDS. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.renewing?.catch(() => undefined);
    await this.mds.umount(this.fsName, this.current).catch(() => undefined);
  }
}
