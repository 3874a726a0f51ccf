// The servers refuse to start without a cluster key unless told --insecure (src/mds/auth/
// insecure.ts). Test harnesses start most processes without a key: this adds --insecure to a
// command line that names neither a key nor certificates.
export function insecureUnlessSecured(args: readonly string[]): string[] {
  return args.includes('--auth-key-file') || args.includes('--tls-dir') ? [] : ['--insecure'];
}
