#!/usr/bin/env bash
# tar x of a tree and rm -rf of it on several mounts in turn, ROUNDS times, in lowlat mode (the
# peers' lowlat.py, so every mount is measured in the same CPU mode); prints seconds per step and
# each mount's time as a ratio to the first mount's of the same round.
#   bash bench/peers-tar.sh PEERS_DIR TARBALL ROUNDS LABEL=MOUNT [LABEL=MOUNT ...]
# e.g. bash bench/peers-tar.sh ../shared/peers tree.tar 2 bindfs=BINDFS_MNT mfs=MFS_MNT curvefs=D/mnt
# A ~10k-file tarball: find node_modules -type f -size -64k > list; tar cf tree.tar -T list
set -euo pipefail
peers=$1 tarball=$(realpath "$2") rounds=$3
shift 3
secs() { python3 "$peers/lowlat.py" bash -c "s=\$(date +%s.%N); $1; e=\$(date +%s.%N); echo \"\$e - \$s\" | bc"; }
echo "# $(tar tf "$tarball" | wc -l) entries, $(du -h "$tarball" | cut -f1)"
for r in $(seq 1 "$rounds"); do
  echo "# round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
  base_x='' base_rm=''
  for lm in "$@"; do
    label=${lm%%=*} mnt=${lm#*=}
    dir="$mnt/peers-tar-$$-$r"
    mkdir "$dir"
    x=$(secs "tar xf '$tarball' -C '$dir'")
    rm_=$(secs "rm -rf '$dir'")
    [ -z "$base_x" ] && base_x=$x base_rm=$rm_
    printf '%s tar-x=%.2fs (%.2fx) rm-rf=%.2fs (%.2fx)\n' "$label" "$x" "$(echo "$x / $base_x" | bc -l)" "$rm_" "$(echo "$rm_ / $base_rm" | bc -l)"
  done
done
echo "# end, load $(cut -d' ' -f1-3 /proc/loadavg)"
