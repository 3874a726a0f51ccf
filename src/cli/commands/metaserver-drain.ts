// `curvefs metaserver drain ID` and `curvefs metaserver decommission ID` (docs/operations.md,
// "Draining and decommissioning a metaserver"). The leading MDS does the moving — its recovery
// scheduler replaces the metaserver in each of its copysets with CHANGE_PEER operators, as it
// replaces a dead one — and these commands ask for the drain, then poll until no copyset has
// the metaserver as a member, printing progress. The MDS stores the drain with the metaserver's
// record, so it survives an MDS failover; the commands also ask again at every poll.
// Decommission then removes the emptied metaserver from the topology.
import { Command } from 'commander';
import { CurveError, StatusCode, intArg, parseMs } from '../../common/index.ts';
import { TopologyService } from '../../gen/topology_pb.ts';
import type { RpcClientOf } from '../../rpc/types.ts';
import { openMds, type GlobalOptions } from '../context.ts';
import { printJson } from '../output.ts';

interface DrainFlags {
  wait: boolean;
  cancel?: boolean;
  timeoutMs: number;
  pollMs: number;
}

type Progress = { copysetsLeft: number; changesRunning: number };
type State = 'drained' | 'draining' | 'cancelled' | 'decommissioned';

function command(name: string, description: string): Command {
  return new Command(`curvefs metaserver ${name}`)
    .description(description)
    .argument('<id>', 'metaserver id (`curvefs status` lists them)', intArg('a metaserver id', { min: 1 }))
    .option('--timeout-ms <ms>', 'give up waiting after this long (the drain goes on)', parseMs, 3_600_000)
    .option('--poll-ms <ms>', 'how often to look', parseMs, 1000)
    .exitOverride();
}

export async function drainCommand(g: GlobalOptions, argv: string[]): Promise<void> {
  const cmd = command('drain', 'move every copyset replica off metaserver ID (through the MDS), and wait until none is left')
    .option('--no-wait', 'ask for the drain and return at once')
    .option('--cancel', 'stop draining it (changes already running finish)');
  cmd.parse(argv, { from: 'user' });
  const id = cmd.processedArgs[0] as number;
  const o = cmd.opts<DrainFlags>();
  await withTopology(g, async (topology) => {
    const started = Date.now();
    const ask = () => topology.drainMetaServer({ metaserverId: id, cancel: o.cancel === true });
    const r = await ask();
    if (o.cancel || !o.wait || r.copysetsLeft === 0) return report(g, id, r, started, o.cancel ? 'cancelled' : r.copysetsLeft === 0 ? 'drained' : 'draining');
    report(g, id, await waitDrained(g, id, r, ask, started, o), started, 'drained');
  });
}

/**
 * Drain, wait until the metaserver holds no replica, then remove it from the topology. Refused
 * by the MDS, with nothing changed, when one of its copysets would have nowhere to go.
 */
export async function decommissionCommand(g: GlobalOptions, argv: string[]): Promise<void> {
  const cmd = command('decommission', 'drain metaserver ID, wait until it holds no copyset replica, then remove it from the topology');
  cmd.parse(argv, { from: 'user' });
  const id = cmd.processedArgs[0] as number;
  const o = cmd.opts<DrainFlags>();
  await withTopology(g, async (topology) => {
    const started = Date.now();
    const ask = () => topology.drainMetaServer({ metaserverId: id });
    const r = await waitDrained(g, id, await ask(), ask, started, o);
    await topology.deleteMetaServer({ metaserverId: id, decommission: true });
    report(g, id, r, started, 'decommissioned');
  });
}

async function withTopology(g: GlobalOptions, fn: (topology: RpcClientOf<typeof TopologyService>) => Promise<void>): Promise<void> {
  const mds = await openMds(g);
  try {
    await fn(mds.connector.client(TopologyService));
  } finally {
    mds.close();
  }
}

/** Polls (asking for the drain each time) until no copyset has metaserver `id`; progress on stderr. */
async function waitDrained(g: GlobalOptions, id: number, first: Progress, ask: () => Promise<Progress>, started: number, o: { timeoutMs: number; pollMs: number }): Promise<Progress> {
  let r = first;
  let last = '';
  while (r.copysetsLeft > 0) {
    const line = `metaserver ${id}: ${r.copysetsLeft} copyset${r.copysetsLeft === 1 ? '' : 's'} left, ${r.changesRunning} moving`;
    if (line !== last && !g.json) process.stderr.write(`${line}\n`);
    last = line;
    if (Date.now() - started > o.timeoutMs) {
      throw new CurveError(StatusCode.TIMEOUT, `metaserver ${id} still in ${r.copysetsLeft} copysets after ${o.timeoutMs} ms; the drain goes on (run the command again to keep watching)`);
    }
    await new Promise((resolve) => setTimeout(resolve, o.pollMs));
    r = await ask();
  }
  return r;
}

function report(g: GlobalOptions, id: number, r: Progress, started: number, state: State): void {
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  if (g.json) return printJson({ metaserverId: id, state, copysetsLeft: r.copysetsLeft, changesRunning: r.changesRunning, seconds });
  const what = {
    drained: `drained: no copyset has it as a member (${seconds} s); it can be stopped and deleted`,
    decommissioned: `decommissioned: drained and removed from the topology (${seconds} s); stop its process now`,
    cancelled: `drain cancelled (${r.copysetsLeft} copysets still have it)`,
    draining: `draining: ${r.copysetsLeft} copysets left`,
  }[state];
  process.stdout.write(`metaserver ${id} ${what}\n`);
}
