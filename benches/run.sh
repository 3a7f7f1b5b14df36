#!/usr/bin/env bash
# Container start-up and listing, rpod against rootless podman in the same
# run, both as the test world's unprivileged user (issue 3's table):
#   1. `run --rm --network none alpine true`, median of RUNS (hyperfine)
#   2. `ps -a` with 100 containers in each store
#   3. the memory (VmHWM) of one running container's monitor vs conmon
#   4. 16 parallel `run --rm --network none alpine true`, total time vs one run
# Not a test: prints numbers and ratios.
#
#   sudo bash benches/run.sh [RUNS]       default 20 runs each
#   RPOD_BIN=/path/to/rpod ...            use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...            measure only one side
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${1:-20}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
# The small monitor binary rpod execs for a running container's monitor.
if [ -n "$RPOD" ]; then
    mon="$(dirname "${RPOD_BIN:-$REPO/target/release/rpod}")/rpod-monitor"
    if [ -x "$mon" ]; then install -m 0755 "$mon" "$BENCH_ROOT/rpod-monitor"
    else echo "note: no rpod-monitor beside rpod: the monitor loop runs in rpod itself" >&2; fi
fi
podman_home
rpod_home
IMG="$REGISTRY/alpine:latest"

bench_sides
fresh_sides "$IMG"

declare -A RESULT
hf() { # SIDE NAME CMD
    local s=$1 name=$2 cmd=$3 h
    h=$(home_of "$s")
    as_user "$h" hyperfine -N --style none --warmup 3 --runs "$RUNS" \
        --export-json "$h/.hf-$name.json" "$cmd" >/dev/null
    RESULT[$s-$name]=$(jq '.results[0].median * 1000' "$h/.hf-$name.json")
    jq -r --arg who "$s" --arg n "$name" '.results[0] | "\($who)\t\($n)\tmedian \(.median*1000|.*100|round/100) ms\tmin \(.min*1000|.*100|round/100) ms\tmax \(.max*1000|.*100|round/100) ms"' "$h/.hf-$name.json"
}
ratio() { # NAME
    if [ -n "${RESULT[podman-$1]:-}" ] && [ -n "${RESULT[rpod-$1]:-}" ]; then
        awk -v p="${RESULT[podman-$1]}" -v r="${RESULT[rpod-$1]}" -v n="$1" \
            'BEGIN { printf "ratio %s: rpod takes 1/%.1f of podman'"'"'s time (medians %.1f ms vs %.1f ms)\n", n, p/r, r, p }'
    fi
}

echo "== 1. run --rm --network none alpine true ($RUNS runs)"
for s in "${sides[@]}"; do
    hf "$s" run "$(bin_of "$s") run --rm --network none $IMG true"
done
ratio run

echo "== 2. ps -a with 100 containers"
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    for i in $(seq 1 100); do as_user "$h" "$b" create --network none "$IMG" true >/dev/null; done
    hf "$s" ps "$b ps -a"
    as_user "$h" "$b" rm -a -f -t 0 >/dev/null
done
ratio ps

echo "== 3. memory of a running container's monitor (VmHWM)"
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    as_user "$h" "$b" run -d --name rss --network none "$IMG" sleep 300 >/dev/null
    pid=$(as_user "$h" "$b" inspect --format '{{.State.ConmonPid}}' rss 2>/dev/null ||
        as_user "$h" "$b" container inspect --format '{{.State.ConmonPid}}' rss)
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    RESULT[$s-rss]=$kb
    echo -e "$s\tmonitor pid $pid\tVmHWM $kb kB\tVmRSS $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status") kB"
    as_user "$h" "$b" rm -f -t 0 rss >/dev/null
done
if [ -n "${RESULT[podman-rss]:-}" ] && [ -n "${RESULT[rpod-rss]:-}" ]; then
    awk -v p="${RESULT[podman-rss]}" -v r="${RESULT[rpod-rss]}" \
        'BEGIN { printf "ratio monitor memory: rpod %.2f of conmon\n", r/p }'
fi

echo "== 4. 16 parallel runs, total time vs one run"
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    one=() par=()
    for k in 1 2 3 4 5; do
        t0=$(now_ns)
        as_user "$h" "$b" run --rm --network none "$IMG" true >/dev/null
        one+=($(( ($(now_ns) - t0) / 1000000 )))
        t0=$(now_ns)
        as_user "$h" bash -c "for i in \$(seq 16); do $b run --rm --network none $IMG true >/dev/null & done; wait"
        par+=($(( ($(now_ns) - t0) / 1000000 )))
    done
    o=$(median "${one[@]}") p=$(median "${par[@]}")
    echo -e "$s\tone run $o ms\t16 parallel $p ms\tfactor $(awk -v o="$o" -v p="$p" 'BEGIN{printf "%.2f", p/o}')x (target <= 3x)"
done
