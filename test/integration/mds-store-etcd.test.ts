// The KvStore conformance suite against a real etcd (one member, started by the test).
import { after, before } from 'node:test';
import { EtcdStore, type KvStore } from '../../src/mds/store/index.ts';
import { EtcdCluster } from '../helpers/etcd.ts';
import { kvStoreConformance } from '../helpers/kv-store-conformance.ts';

let etcd: EtcdCluster;
let n = 0;

before(async () => {
  etcd = await EtcdCluster.start({ members: 1 });
});
after(async () => {
  await etcd?.stop();
});

kvStoreConformance('etcd', async () => {
  const endpoints = etcd.endpoints();
  let store: KvStore = new EtcdStore({ endpoints });
  return {
    get store() {
      return store;
    },
    prefix: `/conformance/${process.pid}/${n++}/`,
    reopen: async () => {
      await store.close();
      store = new EtcdStore({ endpoints });
      return store;
    },
    cleanup: async () => {
      await store.close();
    },
  };
});
