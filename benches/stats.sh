#!/usr/bin/env bash
# `rpod stats --no-stream` for 10 running containers against `podman stats
# --no-stream`, both as the unprivileged test user, measured with hyperfine
# in the same run. Not a test. Rootless podman has no cgroup on a cgroup v1
# (or undelegated v2) host and refuses stats there: the bench then says so
# and prints podman's error instead of a ratio. Target: rpod under 50 ms.
# Also measured: `rpod pause` + `rpod unpause` of one container.
#
#   sudo bash benches/stats.sh [RUNS]          default 30 runs each
#   RPOD_BIN=/path/to/rpod ...                 use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...                 measure only one side
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${1:-30}
N=10
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home stats
rpod_home stats
bench_sides
IMG="$REGISTRY/alpine"
fresh_sides "$IMG"

for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    for i in $(seq 1 $N); do
        as_user "$h" "$b" run -d --name "st$i" "$IMG" sleep 1000000 >/dev/null
    done
done

measure() { # WHO HOME CMD
    local who=$1 home=$2 cmd=$3
    local json="$BENCH_ROOT/stats-$who.json"
    as_user "$home" hyperfine -N --style none --warmup 3 --runs "$RUNS" \
        --export-json "$home/.hyperfine.json" "$cmd" >/dev/null
    cp "$home/.hyperfine.json" "$json"
    jq -r --arg who "$who" '.results[0] | "\($who)\tmedian \(.median*1000|.*100|round/100) ms\tmean \(.mean*1000|.*100|round/100) ms\tmin \(.min*1000|.*100|round/100) ms\tmax \(.max*1000|.*100|round/100) ms"' "$json"
}

echo "stats --no-stream with $N running containers, $RUNS runs each"
podman_ok=0
if [ "${BENCH_SKIP:-}" != podman ]; then
    if err=$(as_user "$PODMAN_HOME" podman stats --no-stream 2>&1 >/dev/null); then
        podman_ok=1
        measure podman "$PODMAN_HOME" "podman stats --no-stream"
    else
        echo "podman	refuses here: ${err//$'\n'/ }"
    fi
fi
if [ "${BENCH_SKIP:-}" != rpod ]; then
    as_user "$RPOD_HOME" "$RPOD" stats --no-stream --format '{{.Name}} {{.Source}} {{.PIDS}}' | head -3
    measure rpod "$RPOD_HOME" "$RPOD stats --no-stream"
    echo "pause + unpause of one container (rpod; SIGSTOP/SIGCONT without a cgroup)"
    measure rpod-pause "$RPOD_HOME" "sh -c '$RPOD pause st1 >/dev/null && $RPOD unpause st1 >/dev/null'"
fi
if [ "${BENCH_SKIP:-}" = "" ] && [ "$podman_ok" = 1 ]; then
    jq -rn --slurpfile p "$BENCH_ROOT/stats-podman.json" --slurpfile r "$BENCH_ROOT/stats-rpod.json" \
        '"ratio: rpod stats is \($p[0].results[0].median / $r[0].results[0].median * 100 | round / 100)x as fast as podman (medians)"'
fi

for s in "${sides[@]}"; do
    as_user "$(home_of "$s")" "$(bin_of "$s")" rm -a -f -t 0 >/dev/null 2>&1 || true
done
