#!/usr/bin/env bash
# Push of localhost:5000/large:latest (about 200 MiB of incompressible gzip
# layers) to a loopback registry: rpod against rootless podman, both as the
# unprivileged test user, interleaved in the same run. Not a test: it prints
# per-round times, the medians, throughput and the ratios.
#
# Two measurements:
#   1. a full push: to a new repository of the TLS registry ($TLS_REGISTRY),
#      which has none of the blobs, with each side's blob-info cache emptied
#      first (else the second round would mount what the first pushed). Both
#      sides keep the pulled layers unpacked, so both write and compress each
#      layer's tar again on the way.
#      Besides wall times: each side's CPU time (user + system) and the TLS
#      registry's CPU time during the push, per round and as medians.
#   2. a second push of the same image to the same repository of the plain
#      registry: every blob is there, nothing is read or sent but HEADs and
#      the manifest (issue 11's target: under 100 ms).
#
#   sudo bash benches/push.sh [ROUNDS]        default 3
#   RPOD_BIN=/path/to/rpod ...                use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...                measure only one side
#   BENCH_IMAGE=alpine:latest ...             another fixture (to try the script quickly)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
IMAGE_NAME=${BENCH_IMAGE:-large:latest}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
. "$WORLD_ENV"
IMAGE="$REGISTRY/$IMAGE_NAME"
BYTES=$(image_bytes "$IMAGE_NAME")
CREDS="$REG_USER:$REG_PASS"
podman_home push
rpod_home push
install -d -m 0755 -o "$TEST_USER" -g "$TEST_USER" "$RPOD_HOME/.config/containers/certs.d/$TLS_REGISTRY"
install -m 0644 -o "$TEST_USER" -g "$TEST_USER" "$CA_CERT" "$RPOD_HOME/.config/containers/certs.d/$TLS_REGISTRY/ca.crt"
bench_sides
for s in "${sides[@]}"; do
    as_user "$(home_of "$s")" "$(bin_of "$s")" pull -q "$IMAGE" >/dev/null
done

RUN=$(date +%s)-$$
TLS_PID=$(pgrep -f 'docker-registry serve .*tls.yml' | head -1 || true)
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }

push_full() { # SIDE ROUND
    local h b t0 dest
    h=$(home_of "$1") b=$(bin_of "$1")
    dest="$TLS_REGISTRY/bench-push/$1-$RUN-$2:latest"
    # What each remembers about where blobs are (so nothing is mounted).
    rm -f "$h/.local/share/containers/cache/blob-info-cache-v1.boltdb" \
        "$h/.local/share/rpod/cache/blob-info-v1.json"
    local r0=0
    [ -z "$TLS_PID" ] || r0=$(proc_cpu_ms "$TLS_PID")
    t0=$(now_ns)
    as_user_cpu "$h" "$b" push -q --creds "$CREDS" "$IMAGE" "$dest" >/dev/null 2>"$BENCH_ROOT/$1-push.err" ||
        { cat "$BENCH_ROOT/$1-push.err" >&2; exit 1; }
    local ms
    ms=$(ms_since "$t0")
    echo "$ms $(cpu_ms "$h") $([ -z "$TLS_PID" ] && echo 0 || echo $(($(proc_cpu_ms "$TLS_PID") - r0)))"
}

push_again() { # SIDE ROUND: the repository got every blob in round 1
    local h b t0 dest
    h=$(home_of "$1") b=$(bin_of "$1")
    dest="$REGISTRY/bench-push/again-$1-$RUN:latest"
    if [ "$2" = 0 ]; then
        as_user "$h" "$b" push -q "$IMAGE" "$dest" >/dev/null 2>&1
        return
    fi
    t0=$(now_ns)
    as_user "$h" "$b" push -q "$IMAGE" "$dest" >/dev/null 2>"$BENCH_ROOT/$1-push.err" ||
        { cat "$BENCH_ROOT/$1-push.err" >&2; exit 1; }
    ms_since "$t0"
}

echo "push of $IMAGE: $(awk -v b="$BYTES" 'BEGIN{printf "%.1f MB", b/1e6}') compressed, $ROUNDS rounds"
declare -A full again cpu regcpu
for s in "${sides[@]}"; do full[$s]="" again[$s]="" cpu[$s]="" regcpu[$s]=""; push_again "$s" 0; done
for i in $(seq 1 "$ROUNDS"); do
    # Alternate who goes first, so neither always gets the warmer cache.
    if [ $((i % 2)) = 1 ]; then order="rpod podman"; else order="podman rpod"; fi
    line="round $i:"
    for who in $order; do
        [[ " ${sides[*]} " == *" $who "* ]] || continue
        out=$(push_full "$who" "$i")
        read -r ms c rc <<<"$out"
        full[$who]="${full[$who]} $ms" cpu[$who]="${cpu[$who]} $c" regcpu[$who]="${regcpu[$who]} $rc"
        line="$line $who ${ms} ms (cpu ${c} ms, registry ${rc} ms)"
    done
    echo "$line"
done
for i in $(seq 1 $((ROUNDS * 5))); do
    for who in "${sides[@]}"; do
        again[$who]="${again[$who]} $(push_again "$who" "$i")"
    done
done

report() { # NAME MS...
    local name=$1; shift
    local med
    med=$(median "$@")
    printf '%-7s median %6.0f ms  min %6d  max %6d  %7.1f MB/s\n' "$name" "$med" \
        "$(printf '%s\n' "$@" | sort -n | head -1)" "$(printf '%s\n' "$@" | sort -n | tail -1)" \
        "$(awk -v b="$BYTES" -v ms="$med" 'BEGIN{print b/1e6/(ms/1000)}')"
}
echo "full push to a new repository of $TLS_REGISTRY:"
for s in "${sides[@]}"; do
    # shellcheck disable=SC2086
    report "$s" ${full[$s]}
    # shellcheck disable=SC2086
    printf '        CPU median %6d ms, the registry meanwhile %6d ms\n' "$(median ${cpu[$s]})" "$(median ${regcpu[$s]})"
done
echo "second push, every blob present ($REGISTRY):"
for s in "${sides[@]}"; do
    # shellcheck disable=SC2086
    printf '%-7s median %6.1f ms  min %6d  max %6d\n' "$s" "$(median ${again[$s]})" \
        "$(printf '%s\n' ${again[$s]} | sort -n | head -1)" "$(printf '%s\n' ${again[$s]} | sort -n | tail -1)"
done
if [ ${#sides[@]} = 2 ]; then
    # shellcheck disable=SC2086
    awk -v p="$(median ${full[podman]})" -v r="$(median ${full[rpod]})" \
        'BEGIN{printf "ratio: rpod pushes %.2fx as fast as podman (median podman / median rpod)\n", p/r}'
    # shellcheck disable=SC2086
    awk -v p="$(median ${cpu[podman]})" -v r="$(median ${cpu[rpod]})" \
        'BEGIN{printf "CPU: rpod uses %.2fx less CPU than podman (median podman / median rpod)\n", p/r}'
    # shellcheck disable=SC2086
    awk -v p="$(median ${again[podman]})" -v r="$(median ${again[rpod]})" \
        'BEGIN{printf "second push: rpod %.1f ms, podman %.1f ms\n", r, p}'
fi
