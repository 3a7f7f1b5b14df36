#!/usr/bin/env bash
# `save` and `load` of localhost:5000/large:latest (alpine + 4 layers of
# 50 MiB incompressible data, ~210 MB unpacked) as a docker-archive file:
# rpod against rootless podman, both as the unprivileged test user,
# interleaved in the same run. Not a test: it prints per-round times, the
# medians, throughput (archive bytes per second) and the ratios.
#
#   sudo bash benches/save_load.sh [ROUNDS]   default 5
#   RPOD_BIN=/path/to/rpod ...                use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...                measure only one side
#   BENCH_FORMAT=oci-archive ...              another --format (default docker-archive)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-5}
FORMAT=${BENCH_FORMAT:-docker-archive}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
IMAGE="$REGISTRY/large:latest"
podman_home saveload
rpod_home saveload
bench_sides

archive_of() { echo "$(home_of "$1")/large.tar"; }

# Each side starts with the image in its store (pulled once).
for s in "${sides[@]}"; do
    as_user "$(home_of "$s")" "$(bin_of "$s")" pull -q "$IMAGE" >/dev/null
done

time_ms() { # CMD...: run it, print the milliseconds it took
    local t0 t1
    t0=$(now_ns)
    "$@" >/dev/null 2>"$BENCH_ROOT/saveload.err" || { cat "$BENCH_ROOT/saveload.err" >&2; exit 1; }
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000000 ))
}

save_one() { # SIDE
    local h b f
    h=$(home_of "$1") b=$(bin_of "$1") f=$(archive_of "$1")
    rm -f "$f"
    sync
    time_ms as_user "$h" "$b" save -q --format "$FORMAT" -o "$f" "$IMAGE"
}

load_one() { # SIDE
    local h b f
    h=$(home_of "$1") b=$(bin_of "$1") f=$(archive_of "$1")
    as_user "$h" "$b" rmi -a -f >/dev/null 2>&1 || true
    sync
    time_ms as_user "$h" "$b" load -q -i "$f"
}

echo "save and load of $IMAGE as $FORMAT, $ROUNDS rounds"
declare -A saves loads
for s in "${sides[@]}"; do saves[$s]=""; loads[$s]=""; done
for i in $(seq 1 "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then order=("${sides[@]}"); else order=($(printf '%s\n' "${sides[@]}" | tac)); fi
    line="round $i:"
    for s in "${order[@]}"; do
        sv=$(save_one "$s")
        ld=$(load_one "$s")
        saves[$s]+="$sv "
        loads[$s]+="$ld "
        line="$line $s save ${sv} ms load ${ld} ms;"
    done
    echo "$line"
done

# A fast load that stored nothing would be no result.
for s in "${sides[@]}"; do
    as_user "$(home_of "$s")" "$(bin_of "$s")" images --format '{{.Repository}}:{{.Tag}}' | grep -qx "$IMAGE" ||
        { echo "$s: images does not list $IMAGE after the load" >&2; exit 1; }
done

for s in "${sides[@]}"; do
    bytes=$(stat -c %s "$(archive_of "$s")")
    # shellcheck disable=SC2086
    ms=$(median ${saves[$s]}) ml=$(median ${loads[$s]})
    printf '%-7s archive %6.1f MB  save median %6.0f ms (%6.1f MB/s)  load median %6.0f ms (%6.1f MB/s)\n' \
        "$s" "$(awk -v b="$bytes" 'BEGIN{print b/1e6}')" "$ms" \
        "$(awk -v b="$bytes" -v ms="$ms" 'BEGIN{print b/1e6/(ms/1000)}')" "$ml" \
        "$(awk -v b="$bytes" -v ms="$ml" 'BEGIN{print b/1e6/(ms/1000)}')"
done
if [ ${#sides[@]} = 2 ]; then
    # shellcheck disable=SC2086
    awk -v ps="$(median ${saves[podman]})" -v rs="$(median ${saves[rpod]})" \
        -v pl="$(median ${loads[podman]})" -v rl="$(median ${loads[rpod]})" \
        'BEGIN{printf "ratio: rpod saves %.2fx and loads %.2fx as fast as podman (median podman / median rpod)\n", ps/rs, pl/rl}'
fi
