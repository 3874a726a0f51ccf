// `curvefs certs`: a cluster CA and certificates signed by it, for mutual TLS between cluster
// processes and clients (docs/security.md). Made with the openssl command (node can verify
// certificates but not issue them); keys are written mode 0600.
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
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

export interface CertOptions {
  /** Subject alternative names (IP addresses, DNS names) of each new certificate. Cluster
   *  processes do not check host names (tls.ts), but etcd's clients do: a certificate for an etcd
   *  server needs the addresses it is dialled by. */
  ips?: string[];
  dns?: string[];
}

/**
 * Makes `<dir>/ca.crt` + `ca.key` unless they exist, then `<name>.crt` + `<name>.key` for each
 * name (an existing pair is kept). P-256 keys; the CA for 10 years, the others for 825 days.
 */
export function makeCerts(dir: string, names: string[], opts: CertOptions = {}): void {
  for (const n of names) if (!NAME.test(n) || n === 'ca') throw new Error(`certificate name ${JSON.stringify(n)} must be lower-case letters, digits and dashes (and not "ca")`);
  for (const ip of opts.ips ?? []) if (!isIP(ip)) throw new Error(`--ip ${JSON.stringify(ip)} is not an IP address`);
  for (const d of opts.dns ?? []) if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})$/.test(d)) throw new Error(`--dns ${JSON.stringify(d)} is not a DNS name`);
  const san = [...(opts.ips ?? []).map((ip) => `IP:${ip}`), ...(opts.dns ?? []).map((d) => `DNS:${d}`)];
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
    const ext = san.length > 0 ? `${p}.ext` : undefined;
    if (ext) writeFileSync(ext, `subjectAltName=${san.join(',')}\n`);
    openssl(['x509', '-req', '-in', `${p}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${p}.crt`, '-days', '825', ...(ext ? ['-extfile', ext] : [])]);
    rmSync(`${p}.csr`);
    if (ext) rmSync(ext);
  }
}

export function registerCertsCommand(program: Command): void {
  program
    .command('certs')
    .description('make a cluster CA (once) and a certificate signed by it for each name (mutual TLS)')
    .argument('<dir>', 'where the CA and certificates live (mode 0700)')
    .argument('<names...>', 'one certificate per name, e.g. mds1 metaserver1 admin')
    .option('--ip <addrs>', 'comma-separated IP addresses the new certificates are valid for (etcd servers need these)')
    .option('--dns <names>', 'comma-separated DNS names the new certificates are valid for')
    .action((dir: string, names: string[], o: { ip?: string; dns?: string }) => {
      const list = (v: string | undefined) => v?.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
      makeCerts(dir, names, { ips: list(o.ip), dns: list(o.dns) });
      process.stdout.write(`certificates for ${names.join(', ')} in ${dir} (CA ${join(dir, 'ca.crt')})\n`);
    });
}
