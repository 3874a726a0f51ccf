// `curvefs metaserver drain ID`: moves every copyset replica off one metaserver before it is
// taken away (docs/operations.md, "Draining a metaserver"). The leading MDS does the moving —
// its recovery scheduler replaces the metaserver in each copyset with CHANGE_PEER operators, as
// it replaces a dead one — and this command asks for the drain, then polls until no copyset has
// the metaserver as a member, printing progress. It asks again at every poll, so a drain
// survives an MDS failover (the new leader learns it at the next poll).
import { Command } from 'commander';
import { CurveError, StatusCode, intArg, parseMs } from '../../common/index.ts';
import { TopologyService } from '../../gen/topology_pb.ts';
import { openMds, type GlobalOptions } from '../context.ts';
import { printJson } from '../output.ts';

interface DrainFlags {
  wait: boolean;
  cancel?: boolean;
  timeoutMs: number;
  pollMs: number;
}

export async function drainCommand(g: GlobalOptions, argv: string[]): Promise<void> {
  const cmd = new Command('curvefs metaserver drain')
    .description('move every copyset replica off metaserver ID (through the MDS), and wait until none is left')
    .argument('<id>', 'metaserver id (`curvefs status` lists them)', intArg('a metaserver id', { min: 1 }))
    .option('--no-wait', 'ask for the drain and return at once')
    .option('--cancel', 'stop draining it (changes already running finish)')
    .option('--timeout-ms <ms>', 'give up waiting after this long (the drain goes on)', parseMs, 3_600_000)
    .option('--poll-ms <ms>', 'how often to look', parseMs, 1000)
    .exitOverride();
  cmd.parse(argv, { from: 'user' });
  const id = cmd.processedArgs[0] as number;
  const o = cmd.opts<DrainFlags>();
  const mds = await openMds(g);
  try {
    const topology = mds.connector.client(TopologyService);
    const ask = () => topology.drainMetaServer({ metaserverId: id, cancel: o.cancel === true });
    const started = Date.now();
    let r = await ask();
    if (o.cancel || !o.wait || r.copysetsLeft === 0) return report(g, id, r, started, o.cancel ? 'cancelled' : r.copysetsLeft === 0 ? 'drained' : 'draining');
    let last = '';
    for (;;) {
      const line = `metaserver ${id}: ${r.copysetsLeft} copyset${r.copysetsLeft === 1 ? '' : 's'} left, ${r.changesRunning} moving`;
      if (line !== last && !g.json) process.stderr.write(`${line}\n`);
      last = line;
      if (Date.now() - started > o.timeoutMs) {
        throw new CurveError(StatusCode.TIMEOUT, `metaserver ${id} still in ${r.copysetsLeft} copysets after ${o.timeoutMs} ms; the drain goes on (run the command again to keep watching)`);
      }
      await new Promise((resolve) => setTimeout(resolve, o.pollMs));
      r = await ask();
      if (r.copysetsLeft === 0) return report(g, id, r, started, 'drained');
    }
  } finally {
    mds.close();
  }
}

function report(g: GlobalOptions, id: number, r: { copysetsLeft: number; changesRunning: number }, started: number, state: 'drained' | 'draining' | 'cancelled'): void {
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  if (g.json) return printJson({ metaserverId: id, state, copysetsLeft: r.copysetsLeft, changesRunning: r.changesRunning, seconds });
  const what =
    state === 'drained'
      ? `drained: no copyset has it as a member (${seconds} s); it can be stopped and deleted`
      : state === 'cancelled'
        ? `drain cancelled (${r.copysetsLeft} copysets still have it)`
        : `draining: ${r.copysetsLeft} copysets left`;
  process.stdout.write(`metaserver ${id} ${what}\n`);
}
