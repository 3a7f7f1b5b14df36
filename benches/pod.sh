#!/usr/bin/env bash
# Pods, rpod against rootless podman in the same run, both as the test
# world's unprivileged user (issue 15's speed target): one cycle is
#   pod create P; pod start P; run -d --pod P alpine sleep; pod rm -f -t 0 P
# and `kube play` of a 3-container pod then `kube down` (each cycle),
# timed with hyperfine. Not a test: prints medians and the ratios.
#
#   sudo bash benches/pod.sh [RUNS]   default 15 runs each
#   RPOD_BIN=/path/to/rpod ...        use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...        measure only one side
set -euo pipefail
BENCH_ROOT=${BENCH_ROOT:-/var/tmp/rbp}
. "$(dirname "$0")/lib.sh"

RUNS=${1:-15}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home pod
rpod_home pod
IMG="$REGISTRY/alpine:latest"
bench_sides
fresh_sides "$IMG"

# Services that end on SIGTERM, as real ones do: a bare `sleep` as PID 1
# ignores it, so each `kube down` waited 10 s for the SIGKILL, and on these
# VMs the first command after 10 s of idling runs 2-3 times slower (page
# faults: the system time triples), whichever tool it is.
SVC="trap 'exit 0' TERM; sleep 1000 & wait"
YAML="$BENCH_ROOT/play3.yaml"
cat >"$YAML" <<YML
apiVersion: v1
kind: Pod
metadata:
  name: benchplay
spec:
  containers:
  - {name: a, image: "$IMG", command: [sh, -c, "$SVC"]}
  - {name: b, image: "$IMG", command: [sh, -c, "$SVC"]}
  - {name: c, image: "$IMG", command: [sh, -c, "$SVC"]}
YML
chmod 0644 "$YAML"

declare -A RESULT KUBE
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    as_user "$h" "$b" pod rm -a -f -t 0 >/dev/null 2>&1 || true
    cycle="$b pod create --name benchpod >/dev/null && $b pod start benchpod >/dev/null && \
$b run -d --pod benchpod $IMG sleep 1000 >/dev/null && $b pod rm -f -t 0 benchpod >/dev/null"
    as_user "$h" hyperfine --style none --warmup 2 --runs "$RUNS" \
        --export-json "$h/.hf-pod.json" "$cycle" >/dev/null
    RESULT[$s]=$(jq '.results[0].median * 1000' "$h/.hf-pod.json")
    # Both follow Kubernetes' pull policy (:latest: always), so each play
    # also asks the loopback registry for the manifest.
    as_user "$h" hyperfine --style none --warmup 2 --runs "$RUNS" \
        --prepare "$b kube down $YAML >/dev/null 2>&1 || true" \
        --export-json "$h/.hf-play.json" "$b kube play $YAML >/dev/null" >/dev/null
    as_user "$h" "$b" kube down "$YAML" >/dev/null 2>&1 || true
    KUBE[$s]=$(jq '.results[0].median * 1000' "$h/.hf-play.json")
    jq -r --arg who "$s" '.results[0] | "\($who)\tkube play (3 containers)\tmedian \(.median*1000|.*10|round/10) ms\tmin \(.min*1000|.*10|round/10) ms\tmax \(.max*1000|.*10|round/10) ms"' "$h/.hf-play.json"
    jq -r --arg who "$s" '.results[0] | "\($who)\tpod cycle\tmedian \(.median*1000|.*10|round/10) ms\tmin \(.min*1000|.*10|round/10) ms\tmax \(.max*1000|.*10|round/10) ms"' "$h/.hf-pod.json"
done
if [ -n "${RESULT[podman]:-}" ] && [ -n "${RESULT[rpod]:-}" ]; then
    awk -v p="${RESULT[podman]}" -v r="${RESULT[rpod]}" \
        'BEGIN { printf "ratio: rpod takes 1/%.1f of podman'"'"'s time (medians %.1f ms vs %.1f ms; target 1/5)\n", p/r, r, p }'
fi
if [ -n "${KUBE[podman]:-}" ] && [ -n "${KUBE[rpod]:-}" ]; then
    awk -v p="${KUBE[podman]}" -v r="${KUBE[rpod]}" \
        'BEGIN { printf "kube play: rpod takes 1/%.1f of podman'"'"'s time (medians %.1f ms vs %.1f ms; target 1/3)\n", p/r, r, p }'
fi
