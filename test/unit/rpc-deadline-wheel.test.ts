// DeadlineWheel with a manual clock and timer: items expire once their tick has passed, never
// before their deadline, and removed items never expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Clock, Timer, TimerHandle } from '../../src/common/index.ts';
import { DeadlineWheel, type Expirable } from '../../src/rpc/deadline-wheel.ts';

class ManualTime implements Clock, Timer {
  t = 1000;
  private pending: Array<{ at: number; fn: () => void; handle: TimerHandle }> = [];
  now(): number {
    return this.t;
  }
  wallTime(): [number, number] {
    return [0, 0];
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = { id: {} };
    this.pending.push({ at: this.t + ms, fn, handle });
    return handle;
  }
  setInterval(): TimerHandle {
    throw new Error('unused');
  }
  clear(h: TimerHandle): void {
    this.pending = this.pending.filter((p) => p.handle !== h);
  }
  get timers(): number {
    return this.pending.length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at);
      const next = this.pending[0];
      if (!next || next.at > end) break;
      this.pending.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

interface Item extends Expirable {
  id: number;
  deadline: number;
}

test('items expire after their deadline and within one resolution step; removed ones never', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 200 }), timeout: fc.integer({ min: 1, max: 300 }), removeAfter: fc.option(fc.integer({ min: 0, max: 400 })) }), { maxLength: 40 }),
      (specs) => {
        const time = new ManualTime();
        const expired: Array<{ item: Item; at: number }> = [];
        const wheel = new DeadlineWheel<Item>(time, time, (item) => expired.push({ item, at: time.now() }), 5);
        const events = specs
          .flatMap((s, id) => {
            const ev: Array<{ t: number; kind: 'add' | 'remove'; id: number }> = [{ t: s.at, kind: 'add', id }];
            if (s.removeAfter !== null) ev.push({ t: s.at + s.removeAfter, kind: 'remove', id });
            return ev;
          })
          .sort((a, b) => a.t - b.t || (a.kind === 'add' ? -1 : 1));
        const items = new Map<number, Item>();
        const removed = new Set<number>();
        const start = time.now();
        for (const ev of events) {
          time.advance(start + ev.t - time.now());
          if (ev.kind === 'add') {
            const item: Item = { id: ev.id, deadline: time.now() + specs[ev.id]!.timeout, wheelSlot: undefined };
            items.set(ev.id, item);
            wheel.add(item, specs[ev.id]!.timeout);
          } else if (!expired.some((e) => e.item.id === ev.id)) {
            wheel.remove(items.get(ev.id)!);
            removed.add(ev.id);
          }
        }
        time.advance(1000);
        for (const { item, at } of expired) {
          assert.ok(!removed.has(item.id));
          assert.ok(at >= item.deadline, `expired at ${at} before deadline ${item.deadline}`);
          assert.ok(at <= item.deadline + 10, `expired at ${at}, deadline ${item.deadline}`);
        }
        assert.equal(expired.length + removed.size, items.size);
        assert.equal(wheel.size, 0);
        assert.equal(time.timers, 0, 'no timer left once nothing waits');
      },
    ),
  );
});
