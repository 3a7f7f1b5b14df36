#!/usr/bin/env bash
# `cp` of a large tree into and out of a running container (issue 11: >= 1.5x
# podman each way), rpod against rootless podman in the same run, as the test
# user. The tree: MIB files of 1 MiB of random data plus 2,000 small files in
# nested dirs. Each round copies in to a new path and out to a new host dir
# (both timed, wall and CPU: user + system of the command and its children),
# then removes both (untimed).
#
#   sudo bash benches/cp.sh [ROUNDS]       default 5
#   RPOD_BIN=/path/to/rpod ...             use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...             measure only one side
#   MIB=N ...                              size of the tree in MiB (default 1024)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-5}
MIB=${MIB:-1024}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home cp
rpod_home cp
IMG="$REGISTRY/alpine:latest"

bench_sides
fresh_sides "$IMG"

# The tree, its copy in a container and its copy back out, for one side at
# a time, plus slack.
need=$(( MIB * 4 ))
free=$(df -Pm "$BENCH_ROOT" | awk 'NR==2 {print $4}')
[ "$free" -ge "$need" ] || { echo "cp.sh needs ${need} MiB free in $BENCH_ROOT, has ${free} MiB (try MIB=smaller)" >&2; exit 1; }

SRC="$BENCH_ROOT/cp-tree-$MIB"
if [ ! -e "$SRC/.done" ]; then
    echo "making a $MIB MiB tree in $SRC" >&2
    rm -rf "$SRC"
    install -d -o "$TEST_USER" -g "$TEST_USER" "$SRC"
    as_user "$BENCH_ROOT" bash -c "
        set -e; cd '$SRC'
        for i in \$(seq 1 $MIB); do
            d=big/\$((i % 16)); mkdir -p \$d; head -c 1048576 /dev/urandom > \$d/f\$i
        done
        for i in \$(seq 1 2000); do
            d=small/\$((i % 40))/\$((i % 7)); mkdir -p \$d; echo \"file \$i\" > \$d/s\$i
        done
        touch .done"
fi

declare -A IN OUT CIN COUT
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    as_user "$h" "$b" run -d --name cpb --network none "$IMG" sleep 3600 >/dev/null
    tin=() tout=() cin=() cout=()
    for r in $(seq 1 "$ROUNDS"); do
        dest="$h/cp-out-$r"
        rm -rf "$dest"
        t0=$(now_ns)
        as_user_cpu "$h" "$b" cp "$SRC" "cpb:/in-$r"
        tin+=($(( ($(now_ns) - t0) / 1000000 )))
        cin+=($(cpu_ms "$h"))
        t0=$(now_ns)
        as_user_cpu "$h" "$b" cp "cpb:/in-$r" "$dest"
        tout+=($(( ($(now_ns) - t0) / 1000000 )))
        cout+=($(cpu_ms "$h"))
        echo "$s round $r: in ${tin[-1]} ms (cpu ${cin[-1]} ms), out ${tout[-1]} ms (cpu ${cout[-1]} ms)" >&2
        [ "$(du -sm "$dest" | cut -f1)" -ge "$MIB" ] || { echo "$s: copy out is short" >&2; exit 1; }
        as_user "$h" "$b" exec cpb rm -rf "/in-$r"
        rm -rf "$dest"
    done
    IN[$s]=$(median "${tin[@]}") OUT[$s]=$(median "${tout[@]}")
    CIN[$s]=$(median "${cin[@]}") COUT[$s]=$(median "${cout[@]}")
    echo -e "$s\tcp in  ($MIB MiB)\tmedian ${IN[$s]} ms\t$(awk -v m="$MIB" -v t="${IN[$s]}" 'BEGIN{printf "%.0f MiB/s", m*1000/t}')\tCPU ${CIN[$s]} ms"
    echo -e "$s\tcp out ($MIB MiB)\tmedian ${OUT[$s]} ms\t$(awk -v m="$MIB" -v t="${OUT[$s]}" 'BEGIN{printf "%.0f MiB/s", m*1000/t}')\tCPU ${COUT[$s]} ms"
    as_user "$h" "$b" rm -f -t 0 cpb >/dev/null
done
if [ -n "${IN[podman]:-}" ] && [ -n "${IN[rpod]:-}" ]; then
    awk -v pi="${IN[podman]}" -v ri="${IN[rpod]}" -v po="${OUT[podman]}" -v ro="${OUT[rpod]}" \
        'BEGIN { printf "ratio cp in: %.2fx podman, cp out: %.2fx podman (target >= 1.5x each)\n", pi/ri, po/ro }'
    awk -v pi="${CIN[podman]}" -v ri="${CIN[rpod]}" -v po="${COUT[podman]}" -v ro="${COUT[rpod]}" \
        'BEGIN { printf "CPU ratio cp in: %.2fx less than podman, cp out: %.2fx less\n", pi/ri, po/ro }'
fi
