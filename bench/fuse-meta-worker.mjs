// One worker process of bench/fuse-meta.ts and bench/fuse-curvefs.ts: runs each metadata phase on
// its own directory when told to, with synchronous fs calls (this process serves no mount), and
// reports when done with the phase's own time.
import * as fs from 'node:fs';
import { join } from 'node:path';

const [dir, countArg] = process.argv.slice(2);
const count = Number(countArg);
const name = (i) => join(dir, `file-${i}`);
const moved = (i) => join(dir, `moved-${i}`);

const phases = {
  create() {
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < count; i++) fs.closeSync(fs.openSync(name(i), 'w'));
  },
  stat() {
    for (let i = 0; i < count; i++) fs.statSync(name(i));
  },
  readdir() {
    if (fs.readdirSync(dir).length !== count) throw new Error('readdir count');
  },
  rename() {
    for (let i = 0; i < count; i++) fs.renameSync(name(i), moved(i));
  },
  unlink() {
    for (let i = 0; i < count; i++) fs.unlinkSync(moved(i));
  },
};

process.on('message', (m) => {
  const t0 = performance.now();
  phases[m.phase]();
  process.send({ phase: m.phase, ms: performance.now() - t0 });
});
process.send({ ready: true });
