// Rmdir of a directory whose inode lives in another copyset, with a process killed at each
// protocol step; see test/helpers/metaserver-tx-faults.ts for what is checked.
import { test, before, after } from 'node:test';
import { COORD_STEPS, PART_STEPS, scenario, setupFaultCluster, teardownFaultCluster } from '../helpers/metaserver-tx-faults.ts';

before(setupFaultCluster);
after(teardownFaultCluster);

let n = 0;
for (const step of [...COORD_STEPS, ...PART_STEPS]) {
  test(`rmdir of a directory in another copyset, crash ${step}`, async () => scenario('rmdir', step, ++n));
}
