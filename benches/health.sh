#!/usr/bin/env bash
# The CPU one healthcheck costs (issue 13): `healthcheck run C` of a
# container whose check is `true`, rpod against rootless podman in the same
# run, both as the test world's unprivileged user. CPU is user+system time
# of the command and all its children (GNU time), summed over N runs; the
# wall time is hyperfine's median. Not a test: prints numbers and ratios.
#
#   sudo bash benches/health.sh [RUNS]   default 30 runs each
#   RPOD_BIN=/path/to/rpod ...           use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...           measure only one side
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${1:-30}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home health
rpod_home health
bench_sides
IMG="$REGISTRY/alpine"
fresh_sides "$IMG"

declare -A CPU WALL
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    # A long interval: only the measured runs execute the check.
    as_user "$h" "$b" run -d --name hc --health-cmd true --health-interval 1h \
        "$IMG" sleep 1000000 >/dev/null
    as_user "$h" "$b" healthcheck run hc >/dev/null
    out="$h/.health-cpu"
    as_user "$h" bash -c "TIMEFORMAT='%U %S'; { time (for i in \$(seq 1 $RUNS); do $b healthcheck run hc >/dev/null; done) ; } 2>'$out'"
    CPU[$s]=$(awk -v n="$RUNS" '{ printf "%.2f", ($1 + $2) * 1000 / n }' "$out")
    as_user "$h" hyperfine -N --style none --warmup 3 --runs "$RUNS" \
        --export-json "$h/.hf-health.json" "$b healthcheck run hc" >/dev/null
    WALL[$s]=$(jq -r '.results[0].median*1000|.*100|round/100' "$h/.hf-health.json")
    echo -e "$s\thealthcheck run: CPU ${CPU[$s]} ms per check\twall median ${WALL[$s]} ms"
    as_user "$h" "$b" rm -f -t 0 hc >/dev/null 2>&1 || true
done
if [ -n "${CPU[podman]:-}" ] && [ -n "${CPU[rpod]:-}" ]; then
    awk -v p="${CPU[podman]}" -v r="${CPU[rpod]}" 'BEGIN { printf "ratio CPU: rpod uses %.2f of podman'"'"'s (target < 1)\n", r/p }'
    awk -v p="${WALL[podman]}" -v r="${WALL[rpod]}" 'BEGIN { printf "ratio wall: rpod takes 1/%.1f of podman'"'"'s time\n", p/r }'
fi
