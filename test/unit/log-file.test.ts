// A process's own log file (`--log-file`): it rotates by renaming (FILE.1 newest … FILE.keep
// oldest, the oldest beyond keep deleted), never loses or splits a line, and in the json format
// every line is one object with time, level, component, msg and the fields. Also the flags'
// checks: bad numbers and formats are usage errors (exit 2), as is a rotation flag without a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { applyLogSettings, createLogger, formatLogLine, logToFile, logToStderr, RotatingLogFile, setLogLevel, type LogLevel } from '../../src/common/index.ts';
import { parseMdsArgs } from '../../src/mds/index.ts';

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'curvefs-logfile-'));
  try {
    run(dir);
  } finally {
    logToStderr();
    rmSync(dir, { recursive: true, force: true });
  }
}

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0) : []);

/** What `run` writes to stderr (the logger's default output). */
function stderrOf(run: () => void): string[] {
  const said: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => said.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    run();
  } finally {
    process.stderr.write = write;
    logToStderr();
  }
  return said;
}

/** Logs `n` numbered warnings (warn: shown at every CURVEFS_LOG level but error/silent). */
function logNumbered(n: number): void {
  const log = createLogger('test').child('rotation');
  for (let i = 0; i < n; i++) log.warn('line', { i, padding: 'x'.repeat(i % 7) });
}

test('json lines through the logger: rotated by rename into .1 … .keep, oldest deleted, none lost or split', () => {
  withDir((dir) => {
    const file = join(dir, 'mds.log');
    const maxBytes = 400;
    const out = logToFile(file, { maxBytes, keep: 3 }, 'json');
    logNumbered(200);
    out.close();
    assert.equal(existsSync(`${file}.4`), false, 'no copy beyond keep');
    const files = [`${file}.3`, `${file}.2`, `${file}.1`, file];
    for (const f of files) {
      assert.ok(existsSync(f), `${f} exists`);
      assert.ok(statSync(f).size <= maxBytes, `${f} within the bound`);
    }
    // Oldest first, the kept lines are one unbroken run ending with the last line logged: the
    // oldest were deleted with the copy beyond keep, nothing in between is missing.
    const kept = files.flatMap(lines).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(kept.length > 0 && kept.length < 200, `${kept.length} lines kept`);
    kept.forEach((o, k) => {
      assert.deepEqual(Object.keys(o), ['time', 'level', 'component', 'msg', 'i', 'padding']);
      assert.equal(o.level, 'warn');
      assert.equal(o.component, 'test/rotation');
      assert.equal(o.msg, 'line');
      assert.ok(!Number.isNaN(Date.parse(o.time as string)));
      assert.equal(o.i, 200 - kept.length + k);
    });
  });
});

test('with enough copies kept, every line logged is in the files, in order', () => {
  withDir((dir) => {
    const file = join(dir, 'ms.log');
    const out = logToFile(file, { maxBytes: 300, keep: 100 }, 'text');
    logNumbered(120);
    out.close();
    let copies = 0;
    while (existsSync(`${file}.${copies + 1}`)) copies++;
    assert.ok(copies >= 10, `rotated ${copies} times`);
    const all = [...Array.from({ length: copies }, (_, k) => `${file}.${copies - k}`), file].flatMap(lines);
    assert.deepEqual(
      all.map((l) => Number(/\{"i":(\d+)/.exec(l)?.[1])),
      Array.from({ length: 120 }, (_, i) => i),
    );
    for (const l of all) assert.match(l, /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN \[test\/rotation\] line \{"i":\d+,"padding":"x*"\}$/);
  });
});

test('a log file that exists is appended to, and its size counts toward the first rotation', () => {
  withDir((dir) => {
    const file = join(dir, 'm.log');
    const a = new RotatingLogFile(file, { maxBytes: 20, keep: 1 });
    a.write('0123456789\n');
    a.close();
    const b = new RotatingLogFile(file, { maxBytes: 20, keep: 1 });
    b.write('abcdefghij\n'); // 11 + 11 > 20: the old file becomes .1
    b.write('a line longer than the whole bound\n'); // alone in a fresh file, never split
    b.close();
    assert.equal(readFileSync(file, 'utf8'), 'a line longer than the whole bound\n');
    assert.equal(readFileSync(`${file}.1`, 'utf8'), 'abcdefghij\n');
    assert.equal(existsSync(`${file}.2`), false);
  });
});

test('reopen (SIGHUP) after an outside rename: new lines in a fresh file at the path, none lost', () => {
  withDir((dir) => {
    const file = join(dir, 'm.log');
    const log = new RotatingLogFile(file, { maxBytes: 1000, keep: 2 });
    log.write('before\n');
    renameSync(file, `${file}.rotated`); // what logrotate does
    log.write('after the rename, before the reopen\n'); // still the open file: the renamed one
    log.reopen();
    log.write('after the reopen\n');
    log.close();
    assert.equal(readFileSync(`${file}.rotated`, 'utf8'), 'before\nafter the rename, before the reopen\n');
    assert.equal(readFileSync(file, 'utf8'), 'after the reopen\n');
  });
});

test('--log-level: lines below it are dropped in every logger', () => {
  withDir((dir) => {
    const file = join(dir, 'l.log');
    applyLogSettings({ file, rotation: { maxBytes: 10_000, keep: 1 }, format: 'text', level: 'warn' });
    try {
      const log = createLogger('test/level');
      log.info('an info line');
      log.warn('a warning');
      log.error('an error');
    } finally {
      setLogLevel((process.env.CURVEFS_LOG as LogLevel | undefined) ?? 'info');
    }
    const got = lines(file);
    assert.equal(got.length, 2, got.join('\n'));
    assert.match(got[0]!, / WARN \[test\/level\] a warning$/);
    assert.match(got[1]!, / ERROR \[test\/level\] an error$/);
  });
});

test('a file that cannot be opened is a precise error, and logging stays where it was', () => {
  withDir((dir) => {
    const said = stderrOf(() => {
      assert.throws(() => logToFile(join(dir, 'missing', 'x.log'), { maxBytes: 100, keep: 1 }, 'json'), /cannot open log file .*missing\/x\.log: ENOENT/);
      createLogger('still').error('here');
    });
    assert.match(said.join(''), /^\S+ ERROR \[still\] here\n$/, 'still text on stderr');
    assert.throws(() => new RotatingLogFile(join(dir, 'y.log'), { maxBytes: 0, keep: 1 }), /maxBytes must be a whole number >= 1, not 0/);
    assert.equal(existsSync(join(dir, 'y.log')), false, 'nothing created');
  });
});

test('a line the file refuses (disk full: /dev/full) goes to stderr with one note, not nowhere', () => {
  const said = stderrOf(() => {
    const out = logToFile('/dev/full', { maxBytes: 1 << 20, keep: 1 }, 'json');
    const log = createLogger('full');
    log.error('first');
    log.error('second');
    out.close();
  });
  assert.equal(said.length, 3, said.join(''));
  assert.match(said[0]!, /^log file \/dev\/full cannot be written \(ENOSPC\): logging to stderr\n$/);
  assert.deepEqual(said.slice(1).map((l) => (JSON.parse(l) as { msg: string }).msg), ['first', 'second']);
});

test('json: bigints as strings, Errors as their message, a field named like a key kept apart', () => {
  const line = formatLogLine('json', new Date(0), 'error', 'mds', 'boom', { level: 'x', n: 5n, err: new Error('disk full') });
  assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
  assert.deepEqual(JSON.parse(line), { time: '1970-01-01T00:00:00.000Z', level: 'error', component: 'mds', msg: 'boom', 'fields.level': 'x', n: '5', err: 'disk full' });
  assert.equal(formatLogLine('text', new Date(0), 'info', 'ms', 'hi'), '1970-01-01T00:00:00.000Z INFO [ms] hi\n');
});

/** The CommanderError a bad command line throws (usage: exit 2). */
function usageError(args: string[]): string {
  try {
    parseMdsArgs(['--insecure', ...args]);
  } catch (e) {
    assert.ok(e instanceof CommanderError, String(e));
    assert.equal(e.exitCode, 2, e.message);
    return e.message;
  }
  assert.fail(`accepted: ${args.join(' ')}`);
}

test('the log flags: defaults, strict numbers, known formats, no rotation flag without a file', () => {
  assert.deepEqual(parseMdsArgs(['--insecure']).log, { file: undefined, rotation: { maxBytes: 10 * 1024 * 1024, keep: 3 }, format: 'text', level: undefined });
  assert.deepEqual(parseMdsArgs(['--insecure', '--log-file', 'm.log', '--log-max-bytes', '1000', '--log-keep', '5', '--log-format', 'json', '--log-level', 'warn']).log, {
    file: 'm.log',
    rotation: { maxBytes: 1000, keep: 5 },
    format: 'json',
    level: 'warn',
  });
  assert.match(usageError(['--log-level', 'verbose']), /--log-level <level>.*'verbose' is invalid.*debug, info, warn, error, silent/);
  assert.match(usageError(['--log-file', 'f', '--log-max-bytes', '10MiB']), /--log-max-bytes <n>.*'10MiB' is invalid.*a size in bytes: a whole number >= 1/);
  assert.match(usageError(['--log-file', 'f', '--log-max-bytes', '0']), /a whole number >= 1/);
  assert.match(usageError(['--log-file', 'f', '--log-keep', '0']), /--log-keep <n>.*'0' is invalid/);
  assert.match(usageError(['--log-format', 'xml']), /--log-format <format>.*'xml' is invalid.*text or json/);
  assert.match(usageError(['--log-keep', '2']), /--log-keep needs --log-file/);
  assert.match(usageError(['--log-max-bytes', '2000']), /--log-max-bytes needs --log-file/);
});
