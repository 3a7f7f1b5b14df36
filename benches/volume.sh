#!/usr/bin/env bash
# `volume ls` with 100 volumes, rpod against rootless podman in the same run,
# both as the test world's unprivileged user (issue 11: under 10 ms).
# Not a test: prints numbers and the ratio.
#
#   sudo bash benches/volume.sh [RUNS]    default 20 runs each
#   RPOD_BIN=/path/to/rpod ...            use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...            measure only one side
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${1:-20}
N=100
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home volume
rpod_home volume
bench_sides

declare -A RESULT
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    # From no volumes to exactly N, with a label each (as a real store has).
    as_user "$h" "$b" volume rm -a -f >/dev/null 2>&1 || true
    for i in $(seq -w 1 $N); do
        as_user "$h" "$b" volume create --label bench=volume "vol$i" >/dev/null
    done
    got=$(as_user "$h" "$b" volume ls -q | wc -l)
    [ "$got" = "$N" ] || { echo "$s: $got volumes, expected $N" >&2; exit 1; }
    as_user "$h" hyperfine -N --style none --warmup 3 --runs "$RUNS" \
        --export-json "$h/.hf-volume-ls.json" "$b volume ls" >/dev/null
    RESULT[$s]=$(jq '.results[0].median * 1000' "$h/.hf-volume-ls.json")
    jq -r --arg who "$s" '.results[0] | "\($who)\tvolume ls ('$N' volumes)\tmedian \(.median*1000|.*100|round/100) ms\tmin \(.min*1000|.*100|round/100) ms\tmax \(.max*1000|.*100|round/100) ms"' \
        "$h/.hf-volume-ls.json"
    as_user "$h" "$b" volume rm -a -f >/dev/null
done
if [ -n "${RESULT[podman]:-}" ] && [ -n "${RESULT[rpod]:-}" ]; then
    awk -v p="${RESULT[podman]}" -v r="${RESULT[rpod]}" \
        'BEGIN { printf "ratio volume ls: rpod takes 1/%.1f of podman'"'"'s time (medians %.2f ms vs %.1f ms; target under 10 ms)\n", p/r, r, p }'
fi
