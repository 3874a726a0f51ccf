// Size-bounded logs of `curvefs up`'s children: copy-and-truncate rotation keeps `keep` old
// copies, and a writer holding an O_APPEND descriptor (as each child does) goes on writing at the
// start of the emptied file, with no hole; the supervisor rotates its children's logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateIfLarge } from '../../src/cli/log-rotation.ts';
import { Supervisor } from '../../src/cli/supervisor.ts';

test('copy-and-truncate: old copies shift, the oldest beyond keep goes, the writer goes on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'curvefs-logrot-'));
  try {
    const file = join(dir, 'mds.log');
    const policy = { maxBytes: 64, keep: 2 };
    assert.equal(rotateIfLarge(file, policy), false, 'a missing file is not rotated');
    const fd = openSync(file, 'a');
    const gen = (n: number) => `generation ${n} `.repeat(8) + '\n';
    try {
      writeSync(fd, 'short\n');
      assert.equal(rotateIfLarge(file, policy), false);
      assert.equal(readFileSync(file, 'utf8'), 'short\n');
      for (const n of [1, 2, 3]) {
        writeSync(fd, gen(n));
        assert.equal(rotateIfLarge(file, policy), true);
        assert.equal(statSync(file).size, 0);
      }
      writeSync(fd, 'after\n');
      // The writer's next line is at the start of the emptied file: no run of NULs before it.
      assert.equal(readFileSync(file, 'utf8'), 'after\n');
      assert.equal(readFileSync(`${file}.1`, 'utf8'), gen(3));
      assert.equal(readFileSync(`${file}.2`, 'utf8'), gen(2));
      assert.equal(existsSync(`${file}.3`), false);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the supervisor rotates a child\'s log once it has reached the bound', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'curvefs-logrot-sup-'));
  try {
    const sup = new Supervisor(join(dir, 'logs'), join(dir, 'pids'), false, { maxBytes: 100, keep: 1, checkMs: 3_600_000 });
    const said: string[] = [];
    sup.log = (l) => said.push(l);
    // A real child: `curvefs --help` writes its help (well over 100 bytes) to its log and exits.
    const p = sup.start('helper', ['--help']);
    await p.exited;
    assert.match(readFileSync(p.logFile, 'utf8'), /Usage: curvefs/);
    sup.rotateLogs();
    assert.equal(statSync(p.logFile).size, 0);
    assert.match(readFileSync(`${p.logFile}.1`, 'utf8'), /Usage: curvefs/);
    assert.deepEqual(said.filter((l) => l.includes('rotated')), [`helper log rotated (${p.logFile}.1 … .1)`]);
    await sup.stopAll();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
