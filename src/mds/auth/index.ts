// Authentication and authorisation of the MDS's callers (docs/security.md).
export { ClusterKey, writeSecret } from './credentials.ts';
export { readTokenFile } from '../../rpc/index.ts';
export { FsAccess, MDS_RULES, METASERVER_RULES, ruleOf, tokenAuth, type Rule } from './policy.ts';
export { redactFsInfo } from './redact.ts';
export { SecretSeal, isSealed } from './secret-seal.ts';
export { NOBODY, claimedRole, squashRoot } from './root-squash.ts';
export { INSECURE_HELP, logInsecure, securityFlagsProblem, type SecurityFlags } from './insecure.ts';
export { RaftPeerIdentity, CERT_NAME_PREFIX, certRegistrationName, checkRegistrationName, fixedNames, type NameLookup } from './peer-identity.ts';
