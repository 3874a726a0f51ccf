#!/bin/sh
# Installs the Debian packages the tests and a real cluster need:
#   etcd-server (the MDS store in a real cluster; tests start their own members),
#   fuse3 (fusermount3 and the fuse module helpers), bindfs (the FUSE passthrough baseline),
#   redis-server (the metadata benchmark's baseline, bench/metaserver-bench.ts),
#   attr, gcc, make, git, sqlite3 (the FUSE tests: xattr tools, the differential test's helper,
#   and the real programs run on the mount),
#   fio (the curvefs mount's data benchmark, bench/fuse-curvefs.ts),
#   openssl (`curvefs certs` and `curvefs up` make the cluster CA and certificates with it),
#   chromium (headless: test/e2e/dashboard-live.test.ts drives the MDS status page in a real browser),
#   prometheus (for promtool: test/e2e/metrics-promtool.test.ts checks every /metrics with it;
#   installed without its recommends, which would add node-exporter, and only promtool is used).
#   iproute2, nftables, iptables, libnetfilter-queue-dev (the multi-host fault suite: network
#   namespaces, veths, a bridge, packet loss and partitions by nftables rules, link delay by an
#   NFQUEUE helper compiled at run time; docs/testing.md).
# Safe to run again; does nothing when everything is present.
set -e
need=""
command -v etcd >/dev/null 2>&1 || need="$need etcd-server"
command -v etcdctl >/dev/null 2>&1 || need="$need etcd-client"
command -v fusermount3 >/dev/null 2>&1 || need="$need fuse3"
command -v bindfs >/dev/null 2>&1 || need="$need bindfs"
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
command -v setfattr >/dev/null 2>&1 || need="$need attr"
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v git >/dev/null 2>&1 || need="$need git"
command -v sqlite3 >/dev/null 2>&1 || need="$need sqlite3"
command -v fio >/dev/null 2>&1 || need="$need fio"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v iptables >/dev/null 2>&1 || need="$need iptables"
[ -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || need="$need libnetfilter-queue-dev"
lean=""
command -v promtool >/dev/null 2>&1 || lean="$lean prometheus"
if [ -n "$need$lean" ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  [ -z "$need" ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need
  [ -z "$lean" ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $lean
fi
echo "system packages present: etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), $(fusermount3 -V 2>/dev/null)"
