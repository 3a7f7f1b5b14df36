#!/usr/bin/env bash
# Cold pull of localhost:5000/large:latest (about 200 MiB of incompressible
# gzip layers over loopback): rpod against rootless podman, both as the
# unprivileged test user, interleaved in the same run. Not a test: it prints
# per-round times, the medians, throughput and the ratio.
#
#   sudo bash benches/pull.sh [ROUNDS]        default 5
#   RPOD_BIN=/path/to/rpod ...                use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...                measure only one side
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-5}
IMAGE_NAME=large:latest
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
IMAGE="$REGISTRY/$IMAGE_NAME"
BYTES=$(image_bytes "$IMAGE_NAME")
podman_home pull
rpod_home pull

pull_podman() {
    as_user "$PODMAN_HOME" podman rmi -a -f >/dev/null 2>&1 || true
    local t0 t1
    t0=$(now_ns)
    as_user "$PODMAN_HOME" podman pull -q "$IMAGE" >/dev/null 2>"$BENCH_ROOT/podman-pull.err" ||
        { cat "$BENCH_ROOT/podman-pull.err" >&2; exit 1; }
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000000 ))
}

pull_rpod() {
    rpod_reset_store
    local t0 t1
    t0=$(now_ns)
    as_user "$RPOD_HOME" "$RPOD" pull -q "$IMAGE" >/dev/null 2>"$BENCH_ROOT/rpod-pull.err" ||
        { cat "$BENCH_ROOT/rpod-pull.err" >&2; exit 1; }
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000000 ))
}

echo "cold pull of $IMAGE: $(awk -v b="$BYTES" 'BEGIN{printf "%.1f MB", b/1e6}') compressed, $ROUNDS rounds"
pod=() rp=()
for i in $(seq 1 "$ROUNDS"); do
    # Alternate who goes first, so neither always gets the warmer cache.
    if [ $((i % 2)) = 1 ]; then order="rpod podman"; else order="podman rpod"; fi
    line="round $i:"
    for who in $order; do
        [ "${BENCH_SKIP:-}" = "$who" ] && continue
        ms=$("pull_$who")
        if [ "$who" = rpod ]; then rp+=("$ms"); else pod+=("$ms"); fi
        line="$line $who ${ms} ms"
    done
    echo "$line"
done

# A fast pull that stored nothing would be no result.
if [ ${#rp[@]} -gt 0 ]; then
    as_user "$RPOD_HOME" "$RPOD" images --format '{{.Repository}}:{{.Tag}}' | grep -qx "$IMAGE" ||
        { echo "rpod images does not list $IMAGE after the pull" >&2; exit 1; }
fi

report() { # NAME MS...
    local name=$1; shift
    local med
    med=$(median "$@")
    printf '%-7s median %6.0f ms  min %6d  max %6d  %7.1f MB/s\n' "$name" "$med" \
        "$(printf '%s\n' "$@" | sort -n | head -1)" "$(printf '%s\n' "$@" | sort -n | tail -1)" \
        "$(awk -v b="$BYTES" -v ms="$med" 'BEGIN{print b/1e6/(ms/1000)}')"
}
[ ${#pod[@]} -gt 0 ] && report podman "${pod[@]}"
[ ${#rp[@]} -gt 0 ] && report rpod "${rp[@]}"
if [ ${#pod[@]} -gt 0 ] && [ ${#rp[@]} -gt 0 ]; then
    awk -v p="$(median "${pod[@]}")" -v r="$(median "${rp[@]}")" \
        'BEGIN{printf "ratio: rpod pulls %.2fx as fast as podman (median podman / median rpod)\n", p/r}'
fi
