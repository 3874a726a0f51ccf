// A curvefs file system mounted through FUSE: the FUSE operations over the client library, and
// mountCurvefs, which `curvefs mount` and `curvefs up` use.
export { mountCurvefs, MountError, type CurvefsMount, type MountCurvefsOptions } from './mount.ts';
export { CurvefsOps, type CurvefsOpsOptions, type CurvefsConnection } from './curvefs-ops.ts';
export { ClusterLocks } from './cluster-locks.ts';
