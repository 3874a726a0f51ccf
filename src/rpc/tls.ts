// Mutual TLS for the framed RPC (docs/security.md): both sides present a certificate signed by
// the cluster CA and accept only peers whose certificate that CA signed. The CA is private to the
// cluster, so "signed by it" is the identity check; host names are not checked (cluster nodes
// are dialled by IP address, and certificates are not tied to addresses that may change).
import { readFileSync } from 'node:fs';
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { join } from 'node:path';

export interface TlsConfig {
  /** PEM of the cluster CA certificate. */
  ca: Buffer;
  /** PEM of this process's certificate (signed by the CA) and its private key. */
  cert: Buffer;
  key: Buffer;
}

/** `<dir>/ca.crt`, `<dir>/<name>.crt`, `<dir>/<name>.key` (the layout `curvefs certs` writes). */
export function loadTlsConfig(dir: string, name: string): TlsConfig {
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f));
    } catch (e) {
      throw new Error(`TLS: cannot read ${join(dir, f)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  };
  return { ca: read('ca.crt'), cert: read(`${name}.crt`), key: read(`${name}.key`) };
}

/** No host-name check: the private CA's signature is the identity (see the header). */
export function skipHostnameCheck(): undefined {
  return undefined;
}

/** The `--tls-dir` / `--tls-name` flags of the MDS and metaserver: both or neither. */
export function tlsOption(dir: string | undefined, name: string | undefined): { dir: string; name: string } | undefined {
  if (!dir && !name) return undefined;
  if (!dir || !name) throw new Error('give both --tls-dir and --tls-name (or neither)');
  return { dir, name };
}

/** The common name of a TLS peer's verified certificate; undefined for plain TCP or none. */
export function peerCertificateName(socket: Socket): string | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}
