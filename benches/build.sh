#!/usr/bin/env bash
# `build` (issue 16), rpod against rootless podman in the same run, as the
# test user: a 6-step Containerfile on the world's alpine that COPYs a
# 50 MiB tree, RUNs a few shell commands and sets ENV and CMD.
#   cold:    --no-cache, every step runs (target: rpod >= 3x podman)
#   cached:  the same build again, every step from the cache (< 150 ms, >= 5x)
#   changed: one copied file changed: the COPY and the steps after it rerun
#
#   sudo bash benches/build.sh [ROUNDS]    default 5 (cached: 3x ROUNDS)
#   RPOD_BIN=/path/to/rpod ...             use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...             measure only one side
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-5}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home build
rpod_home build
IMG="$REGISTRY/alpine:latest"
bench_sides
fresh_sides "$IMG"

# The context: 50 files of 1 MiB in 5 directories, made once.
CTX="$BENCH_ROOT/build-ctx"
if [ ! -f "$CTX/tree/d4/f9" ]; then
    rm -rf "$CTX"
    for d in 0 1 2 3 4; do
        mkdir -p "$CTX/tree/d$d"
        for f in 0 1 2 3 4 5 6 7 8 9; do
            head -c 1048576 /dev/urandom > "$CTX/tree/d$d/f$f"
        done
    done
fi
cat > "$CTX/Containerfile" <<CF
FROM $IMG
COPY tree /srv/tree
RUN ls /srv/tree > /srv/list && echo built > /srv/stamp
RUN mkdir -p /var/app && cp /srv/list /var/app/
ENV APP=/var/app
CMD ["cat", "/var/app/list"]
CF
chown -R "$TEST_USER:" "$CTX"

declare -A COLD CACHED CHANGED
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    t=()
    for r in $(seq 1 "$ROUNDS"); do
        t0=$(now_ns)
        as_user "$h" "$b" build -q --no-cache -t bench-build "$CTX" >/dev/null
        t+=($(( ($(now_ns) - t0) / 1000000 )))
    done
    COLD[$s]=$(median "${t[@]}")
    t=()
    for r in $(seq 1 $((ROUNDS * 3))); do
        t0=$(now_ns)
        as_user "$h" "$b" build -q -t bench-build "$CTX" >/dev/null
        t+=($(( ($(now_ns) - t0) / 1000000 )))
    done
    CACHED[$s]=$(median "${t[@]}")
    t=()
    for r in $(seq 1 "$ROUNDS"); do
        echo "$s $r $(date +%s%N)" > "$CTX/tree/d0/changed"
        chown "$TEST_USER:" "$CTX/tree/d0/changed"
        t0=$(now_ns)
        as_user "$h" "$b" build -q -t bench-build "$CTX" >/dev/null
        t+=($(( ($(now_ns) - t0) / 1000000 )))
    done
    CHANGED[$s]=$(median "${t[@]}")
    echo -e "$s\tcold ${COLD[$s]} ms\tcached ${CACHED[$s]} ms\tone file changed ${CHANGED[$s]} ms"
    as_user "$h" "$b" rmi -f bench-build >/dev/null 2>&1 || true
done
rm -f "$CTX/tree/d0/changed"
if [ -n "${COLD[podman]:-}" ] && [ -n "${COLD[rpod]:-}" ]; then
    awk -v p="${COLD[podman]}" -v r="${COLD[rpod]}" 'BEGIN { printf "ratio cold: rpod %.2fx podman'"'"'s speed (target >= 3x)\n", p/r }'
    awk -v p="${CACHED[podman]}" -v r="${CACHED[rpod]}" 'BEGIN { printf "ratio cached: rpod %.2fx podman'"'"'s speed (target >= 5x, rpod < 150 ms)\n", p/r }'
    awk -v p="${CHANGED[podman]}" -v r="${CHANGED[rpod]}" 'BEGIN { printf "ratio one file changed: rpod %.2fx podman'"'"'s speed\n", p/r }'
fi
