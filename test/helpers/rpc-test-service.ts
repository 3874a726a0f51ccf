// The RpcTestService implementation shared by the RPC tests, the fixture server process and the
// benchmark. `hang` waits for its AbortSignal and records what it saw, so tests can observe the
// server side of deadlines and cancellation.
import { CurveError, type StatusCode } from '../../src/common/index.ts';
import type { ServiceImplOf } from '../../src/rpc/index.ts';
import { RpcTestService } from '../../src/gen/rpctest_pb.ts';

export interface HangRecord {
  tag: string;
  /** Reason the handler's signal fired with (a CurveError), set once it fired. */
  reason?: unknown;
  deadline: number;
}

export function rpcTestImpl(hangs: Map<string, HangRecord> = new Map()): ServiceImplOf<typeof RpcTestService> {
  return {
    echo: (req, ctx) => ({ text: req.text, data: req.data, seq: req.seq, peer: ctx.peer }),
    hang: (req, ctx) =>
      new Promise((resolve) => {
        const rec: HangRecord = { tag: req.tag, deadline: ctx.deadline };
        hangs.set(req.tag, rec);
        ctx.signal.addEventListener('abort', () => {
          rec.reason = ctx.signal.reason;
          resolve({ aborted: true });
        });
      }),
    fail: (req) => {
      if (req.status === 0) throw new Error(req.message);
      throw new CurveError(req.status as StatusCode, req.message || undefined, req.leaderHint || undefined);
    },
  };
}
