// `curvefs certs`: a cluster CA and certificates signed by it, for mutual TLS between cluster
// processes and clients (docs/security.md). Made with the openssl command (node can verify
// certificates but not issue them); keys are written mode 0600.
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('curvefs certs needs the openssl command (Debian: apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() ?? String(e)}`);
  }
}

/**
 * Makes `<dir>/ca.crt` + `ca.key` unless they exist, then `<name>.crt` + `<name>.key` for each
 * name (an existing pair is kept). P-256 keys; the CA for 10 years, the others for 825 days.
 */
export function makeCerts(dir: string, names: string[]): void {
  for (const n of names) if (!NAME.test(n) || n === 'ca') throw new Error(`certificate name ${JSON.stringify(n)} must be lower-case letters, digits and dashes (and not "ca")`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = join(dir, 'ca');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  if (!existsSync(`${ca}.crt`)) {
    openssl(['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '3650', '-subj', '/CN=curvefs cluster CA']);
    chmodSync(`${ca}.key`, 0o600);
  }
  for (const n of names) {
    const p = join(dir, n);
    if (existsSync(`${p}.crt`)) continue;
    openssl(['req', ...ec, '-keyout', `${p}.key`, '-out', `${p}.csr`, '-subj', `/CN=${n}`]);
    chmodSync(`${p}.key`, 0o600);
    openssl(['x509', '-req', '-in', `${p}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${p}.crt`, '-days', '825']);
    rmSync(`${p}.csr`);
  }
}

export function registerCertsCommand(program: Command): void {
  program
    .command('certs')
    .description('make a cluster CA (once) and a certificate signed by it for each name (mutual TLS)')
    .argument('<dir>', 'where the CA and certificates live (mode 0700)')
    .argument('<names...>', 'one certificate per name, e.g. mds1 metaserver1 admin')
    .action((dir: string, names: string[]) => {
      makeCerts(dir, names);
      process.stdout.write(`certificates for ${names.join(', ')} in ${dir} (CA ${join(dir, 'ca.crt')})\n`);
    });
}
