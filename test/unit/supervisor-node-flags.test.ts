// CURVEFS_NODE_FLAGS reaches the node command line of every child the supervisor starts (before
// the curvefs launcher), for flags NODE_OPTIONS refuses; without it children start with none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor } from '../../src/cli/supervisor.ts';

async function childLog(flags: string | undefined): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'curvefs-sup-flags-'));
  const before = process.env.CURVEFS_NODE_FLAGS;
  try {
    if (flags === undefined) delete process.env.CURVEFS_NODE_FLAGS;
    else process.env.CURVEFS_NODE_FLAGS = flags;
    const sup = new Supervisor(join(dir, 'logs'), join(dir, 'pids'), false);
    const p = sup.start('helper', ['--help']);
    await p.exited;
    await sup.stopAll();
    return readFileSync(p.logFile, 'utf8');
  } finally {
    if (before === undefined) delete process.env.CURVEFS_NODE_FLAGS;
    else process.env.CURVEFS_NODE_FLAGS = before;
    rmSync(dir, { recursive: true, force: true });
  }
}

test('CURVEFS_NODE_FLAGS goes to node, ahead of the launcher', async () => {
  // `node --version <script>` prints node's version and never runs the script.
  const log = await childLog('  --version  ');
  assert.equal(log.trim(), process.version);
});

test('without CURVEFS_NODE_FLAGS a child runs the launcher with no node flags', async () => {
  assert.match(await childLog(undefined), /Usage: curvefs/);
});
