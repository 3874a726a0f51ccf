// Cross-copyset renames of directories (fs rename lock, ancestor walk) with the coordinator's
// process killed at each protocol step; see test/helpers/metaserver-tx-faults.ts.
import { test, before, after } from 'node:test';
import { COORD_STEPS, scenario, setupFaultCluster, teardownFaultCluster } from '../helpers/metaserver-tx-faults.ts';

before(setupFaultCluster);
after(teardownFaultCluster);

let n = 0;
for (const step of COORD_STEPS) {
  test(`rename of a directory across copysets, crash ${step}`, async () => scenario('dir', step, ++n));
}
