#!/usr/bin/env node
// Runs the multi-host fault suite (test/helpers/fault-suite.ts, docs/testing.md) through tsx.
// Needs root (network namespaces, nftables).
//   node scripts/fault-suite.mjs --minutes N --seed S [--keep] [--fuse] [--no-replace] [--etcd]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/fault-suite.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
