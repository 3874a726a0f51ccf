// Cross-copyset renames of files with a process killed at each protocol step (coordinator and
// participant); see test/helpers/metaserver-tx-faults.ts for what is checked.
import { test, before, after } from 'node:test';
import { COORD_STEPS, PART_STEPS, scenario, setupFaultCluster, teardownFaultCluster } from '../helpers/metaserver-tx-faults.ts';

before(setupFaultCluster);
after(teardownFaultCluster);

let n = 0;
for (const step of [...COORD_STEPS, ...PART_STEPS]) {
  test(`rename of a file across copysets, crash ${step}`, async () => scenario('file', step, ++n));
}
