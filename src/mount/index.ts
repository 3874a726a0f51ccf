// A curvefs file system mounted through FUSE: the adapter from the kernel protocol to the VFS
// (src/vfs), and mountCurvefs, which `curvefs mount` and `curvefs up` use.
export { mountCurvefs, MountError, type CurvefsMount, type MountCurvefsOptions } from './mount.ts';
export { CurvefsOps, type CurvefsOpsOptions, type CurvefsConnection } from './curvefs-ops.ts';
