// `curvefs auth key|token`: the cluster key and the tokens derived from it (docs/security.md).
// Both are written to files (mode 0600), never printed: terminals and logs keep what they show.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';

export function registerAuthCommands(program: Command): void {
  const auth = program.command('auth').description('cluster key and tokens (docs/security.md)');

  auth
    .command('key')
    .description('make a new cluster key (give it to every MDS and metaserver with --auth-key-file)')
    .argument('<file>', 'where to write it (mode 0600); an existing file is not replaced')
    .action(async (file: string) => {
      const { ClusterKey } = await import('../../mds/index.ts');
      if (existsSync(file)) throw new Error(`${file} exists; rotating the key revokes every token, remove the file first if that is what you want`);
      ClusterKey.generate().save(file);
      process.stdout.write(`cluster key written to ${file}\n`);
    });

  auth
    .command('token')
    .description('write a token derived from the cluster key')
    .requiredOption('--key-file <file>', 'the cluster key')
    .requiredOption('--out <file>', 'where to write the token (mode 0600)')
    .option('--admin', 'the operator role')
    .option('--cluster', 'the role of MDSes and metaservers')
    .option('--for-fs <name>', 'a client of this fs only')
    .option('--viewer', 'the status page only (page, /api/status, /metrics), read-only; nothing on any RPC port')
    .action(async (o: { keyFile: string; out: string; admin?: boolean; cluster?: boolean; forFs?: string; viewer?: boolean }) => {
      const roles = [o.admin && 'admin', o.cluster && 'cluster', o.forFs !== undefined && 'fs', o.viewer && 'viewer'].filter(Boolean);
      if (roles.length !== 1) throw new Error('give exactly one of --admin, --cluster, --for-fs <name>, --viewer');
      const { ClusterKey, writeSecret } = await import('../../mds/index.ts');
      const key = ClusterKey.load(o.keyFile);
      const token = o.viewer
        ? key.viewerToken()
        : o.forFs !== undefined
          ? key.token({ role: 'fs', fsName: o.forFs })
          : key.token({ role: o.admin ? 'admin' : 'cluster' });
      writeSecret(o.out, token + '\n');
      process.stdout.write(`${roles[0] === 'fs' ? `fs ${o.forFs} client` : roles[0]} token written to ${o.out}\n`);
    });
}
