// The MDS keyspace (etcd or the embedded store). Ids are zero-padded to 10 digits so that a
// prefix listing returns records in id order. Values are protobuf messages (src/gen).
//
//   /curvefs/mds/fs/<fsId>                   FsInfo
//   /curvefs/mds/fsname/<name>               fsId (decimal) — keeps names unique; freed at DeleteFs
//   /curvefs/mds/usage/<fsId>                no longer written (used bytes come from partition heartbeats);
//                                            an older MDS's record is deleted with its fs
//   /curvefs/mds/quota/<fsId>/<dirIno>      Quota (a directory quota, its limits and usage)
//   /curvefs/mds/quota/<fsId>/u<uid>        Quota of a user (g<gid>: of a group)
//   /curvefs/mds/id/<kind>                   highest id reserved so far (decimal)
//   /curvefs/mds/topo/pool/<id>              PoolInfo
//   /curvefs/mds/topo/zone/<id>              ZoneInfo
//   /curvefs/mds/topo/server/<id>            ServerInfo
//   /curvefs/mds/topo/metaserver/<id>        MetaServerData
//   /curvefs/mds/topo/copyset/<pool>/<id>    CopysetData
//   /curvefs/mds/topo/partition/<id>         PartitionInfo (common.proto; counts not stored)
//   /curvefs/mds/topo/cluster                ClusterData
//   /curvefs/mds/election/<lease hex>        leader address (election key; see election/)
export const ROOT = '/curvefs/mds/';

export function pad(id: number): string {
  return String(id).padStart(10, '0');
}

export const keys = {
  fs: (id: number) => `${ROOT}fs/${pad(id)}`,
  fsPrefix: `${ROOT}fs/`,
  fsName: (name: string) => `${ROOT}fsname/${name}`,
  id: (kind: string) => `${ROOT}id/${kind}`,
  /** `id` is a quota id (src/common/quota-id.ts): a directory's keeps the padded inode of old. */
  quota: (fsId: number, id: string) => `${ROOT}quota/${pad(fsId)}/${id[0] === 'd' ? id.slice(1).padStart(20, '0') : id}`,
  quotaPrefix: `${ROOT}quota/`,
  usage: (fsId: number) => `${ROOT}usage/${pad(fsId)}`,
  usagePrefix: `${ROOT}usage/`,
  pool: (id: number) => `${ROOT}topo/pool/${pad(id)}`,
  poolPrefix: `${ROOT}topo/pool/`,
  zone: (id: number) => `${ROOT}topo/zone/${pad(id)}`,
  zonePrefix: `${ROOT}topo/zone/`,
  server: (id: number) => `${ROOT}topo/server/${pad(id)}`,
  serverPrefix: `${ROOT}topo/server/`,
  metaserver: (id: number) => `${ROOT}topo/metaserver/${pad(id)}`,
  metaserverPrefix: `${ROOT}topo/metaserver/`,
  copyset: (poolId: number, copysetId: number) => `${ROOT}topo/copyset/${pad(poolId)}/${pad(copysetId)}`,
  copysetPrefix: `${ROOT}topo/copyset/`,
  partition: (id: number) => `${ROOT}topo/partition/${pad(id)}`,
  partitionPrefix: `${ROOT}topo/partition/`,
  cluster: `${ROOT}topo/cluster`,
};
