// The servers refuse to start without a cluster key unless told --insecure (src/mds/auth/
// insecure.ts). Test harnesses start most processes without a key: this adds --insecure to a
// command line that names neither a key nor certificates.
export function insecureUnlessSecured(args: readonly string[]): string[] {
  return args.includes('--auth-key-file') || args.includes('--tls-dir') ? [] : ['--insecure'];
}

/**
 * Test MDSes run without leader and replica balancing unless a test asks for it (names
 * --balance-interval-ms): what a test checks about placement and leaders is then not moved
 * under it by a balancing round. test/e2e/mds-balance.test.ts and the unit tests cover balancing.
 */
export function noBalanceUnlessAsked(args: readonly string[]): string[] {
  return args.includes('--balance-interval-ms') ? [] : ['--balance-interval-ms', '0'];
}
