// NodeId -> "host:port" for every replica this process talks to (shared by the driver, which
// puts the leader's address in NOT_LEADER errors, and the RPC transport).
import type { NodeId } from './core/types.ts';

export class AddressBook {
  private readonly map = new Map<NodeId, string>();

  constructor(entries?: Iterable<[NodeId, string]>) {
    if (entries) for (const [id, a] of entries) this.set(id, a);
  }

  get(id: NodeId): string | undefined {
    return this.map.get(id);
  }

  set(id: NodeId, address: string): void {
    this.map.set(id, address);
  }

  delete(id: NodeId): void {
    this.map.delete(id);
  }

  entries(): IterableIterator<[NodeId, string]> {
    return this.map.entries();
  }
}
