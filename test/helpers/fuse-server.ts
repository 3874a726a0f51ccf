// Child-process entry that serves a MemFs mount for tests (run by startMemFsServer in
// test/helpers/fuse.ts). A test process that keeps files open on a mount and spawns programs
// must not serve that mount itself: exec(2) in the child closes the inherited close-on-exec
// descriptors, each close sends FLUSH, and the parent's only serving thread is blocked in
// spawn waiting for that very exec. So the mount lives here, and the test talks over IPC.
//
//   argv: <mountpoint> <options JSON>
//   → {ready, negotiated} | {error}      ← {cmd: 'stats'} → {stats}   ← {cmd: 'unmount'}
import { mountFuse, MemFs, type MountFuseOptions } from '../../src/fuse/index.ts';

const [dir, json] = process.argv.slice(2);
const options = JSON.parse(json ?? '{}') as MountFuseOptions;
const fs = new MemFs();
const send = (m: unknown) => process.send?.(m);

try {
  const m = await mountFuse({ mountpoint: dir!, ops: fs, fsName: 'memfs-test', options: { ...options, unmountOnSignal: true } });
  const stop = async () => {
    await m.unmount().catch(() => m.unmount({ lazy: true }));
  };
  process.on('message', (msg: { cmd?: string }) => {
    if (msg.cmd === 'stats') {
      const cpu = process.cpuUsage();
      send({ stats: { ...m.stats(), inodes: fs.inodeCount, handles: fs.openHandleCount, cpuMicros: cpu.user + cpu.system } });
    }
    if (msg.cmd === 'unmount') void stop();
  });
  // The test process went away: do not leave the mount behind.
  process.on('disconnect', () => void stop());
  void m.closed.then(() => process.exit(0));
  send({ ready: true, negotiated: m.negotiated });
} catch (e) {
  send({ error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}
