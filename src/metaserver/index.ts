// The metaserver: copysets (Raft groups of partitions), the metadata service, multi-partition
// transactions (docs/rename.md), deferred deletion, metrics. Other folders use this face.
//
//   const h = await runMetaserver({ listen: '127.0.0.1:16701', dataDir: 'D', mdsAddrs: ['127.0.0.1:6700'] });
//   ... h.stop();
export { runMetaserver, cli, type RunMetaserverOptions, type MetaserverHandle } from './main.ts';
export { MetaServer, type MetaServerOptions } from './server.ts';
export { MetaService, type CopysetRegistry } from './service.ts';
export { Copyset } from './copyset/copyset.ts';
export { CopysetManager, localGroupFactory, type GroupFactory } from './copyset/manager.ts';
export { LocalGroup, type ConsensusGroup, type GroupStatus } from './copyset/group.ts';
export { raftGroupFactory, RaftGroup } from './copyset/raft-group.ts';
export { CopysetStateMachine, type SmResult } from './copyset/state-machine.ts';
export { OpType, encodeOp, decodeOp, opName, OP_CODEC_VERSION } from './copyset/op-codec.ts';
export { captureSnapshot, loadCopysetSnapshot, encodeExtras, COPYSET_SNAPSHOT_MAGIC, COPYSET_SNAPSHOT_VERSION, CopysetSnapshotError } from './copyset/snapshot.ts';
export { copysetGroupId, copysetOfGroup, copysetName } from './copyset/group-id.ts';
export { TxCoordinator, type TxStep, type CoordinatorOptions } from './tx/coordinator.ts';
export { RpcCluster, DiscoveryRouter, dialAddress, type Cluster, type Router } from './cluster.ts';
export { HeartbeatLoop, MdsRouter, registerWithMds } from './mds-link.ts';
export { loadIdentity, saveIdentity, encodeIdentity, decodeIdentity, IDENTITY_FILE, type Identity } from './identity.ts';
export { Reclaimer, type ReclaimerOptions } from './reclaim/reclaimer.ts';
export { CachedFsData, mdsFsData, type FsDataProvider } from './reclaim/fs-data.ts';
export { OpMetrics } from './metrics.ts';
