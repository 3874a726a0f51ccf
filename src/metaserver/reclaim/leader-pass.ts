// The shape the reclaimer and the orphan sweeper share: a periodic pass over every copyset this
// process leads. One pass at a time (a call during a pass gets that pass), and a copyset whose
// pass fails is logged by the subclass while the others still get theirs.
import type { Timer, TimerHandle } from '../../common/index.ts';
import type { Copyset } from '../copyset/copyset.ts';

export abstract class LeaderPass {
  private handle: TimerHandle | undefined;
  private running: Promise<void> | undefined;

  protected constructor(
    protected readonly timer: Timer,
    private readonly intervalMs: number,
    private readonly copysets: () => Iterable<Copyset>,
  ) {}

  start(): void {
    this.handle = this.timer.setInterval(() => void this.runOnce(), this.intervalMs);
  }

  stop(): void {
    if (this.handle) this.timer.clear(this.handle);
    this.handle = undefined;
  }

  /** One pass over every copyset this process leads (concurrent calls share the pass). */
  runOnce(): Promise<void> {
    if (!this.running) {
      this.running = (async () => {
        for (const cs of this.copysets()) {
          if (!cs.isLeader()) continue;
          try {
            await this.passCopyset(cs);
          } catch (e) {
            this.passFailed(cs, e);
          }
        }
        this.passDone();
      })().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  protected abstract passCopyset(cs: Copyset): Promise<void>;
  protected abstract passFailed(cs: Copyset, e: unknown): void;
  protected passDone(): void {}
}
