#!/usr/bin/env bash
# The metadata workload of ../shared/peers (meta-workload.py, lowlat mode) on several mounts in
# turn, ROUNDS times, one process and then PROCS processes at once (each in its own fresh
# directory; the PROCS-process create rate printed is the sum of the processes' create rates,
# which all start together with the create phase).
#   bash bench/peers-meta.sh PEERS_DIR FILES ROUNDS PROCS LABEL=MOUNT [LABEL=MOUNT ...]
# e.g. bash bench/peers-meta.sh ../shared/peers 3000 2 4 bindfs=BINDFS_MNT mfs=MFS_MNT curvefs=D/mnt (the mount points peers-up.sh prints)
set -euo pipefail
peers=$1 files=$2 rounds=$3 procs=$4
shift 4
cd "$peers"
for r in $(seq 1 "$rounds"); do
  echo "# round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
  for lm in "$@"; do
    label=${lm%%=*} mnt=${lm#*=}
    python3 lowlat.py python3 meta-workload.py "$mnt" "$files" "$label"
  done
  for lm in "$@"; do
    label=${lm%%=*} mnt=${lm#*=}
    out=$(python3 lowlat.py bash -c "for i in \$(seq 1 $procs); do python3 meta-workload.py '$mnt' $((files / procs)) '$label' & done; wait")
    sum=$(printf '%s\n' "$out" | sed -n 's/.* create=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
    echo "$label ${procs}procs create-sum=$sum"
  done
done
echo "# end, load $(cut -d' ' -f1-3 /proc/loadavg)"
