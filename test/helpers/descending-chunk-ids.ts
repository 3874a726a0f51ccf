// An MDS adapter whose chunk ids go down: every write gets a lower id than the one before it, so
// a test can check that reads order slices by the metaserver's append sequence, not by chunk id.
import { MdsAdapter } from '../../src/client/index.ts';

export class DescendingChunkIds extends MdsAdapter {
  private next = 1e12;
  override allocateChunkIds(_fsId: number, count: number): Promise<number> {
    this.next -= count;
    return Promise.resolve(this.next);
  }
}
