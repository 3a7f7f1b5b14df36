#!/usr/bin/env bash
# `rpod events --stream=false` against `podman events --stream=false` over
# the same 10,000-event log (podman 4.3's JSON-lines format: container
# lifecycles with labels, image pulls, volume events), both as the
# unprivileged test user, measured with hyperfine in the same run. Not a
# test. Also the same read with a filter and with a --since that skips
# most of the log.
#
#   sudo bash benches/events.sh [RUNS]         default 30 runs each
#   RPOD_BIN=/path/to/rpod ...                 use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...                 measure only one side
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${1:-30}
N=10000
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home events
rpod_home events
# Neither side may rotate the log under the bench (podman writes a `system
# refresh` event on its first run in a runroot, and its default limit is 1m).
sed -i '/^events_logger/a events_logfile_max_size = "100m"' "$PODMAN_HOME/.config/containers/containers.conf"
cp "$PODMAN_HOME/.config/containers/containers.conf" "$RPOD_HOME/.config/containers/containers.conf"
chown "$TEST_USER:$TEST_USER" "$RPOD_HOME/.config/containers/containers.conf"
[ "${BENCH_SKIP:-}" = podman ] || as_user "$PODMAN_HOME" podman info >/dev/null 2>&1

# One log, written into each side's events file (podman's with
# events_logger = "file": $XDG_RUNTIME_DIR/libpod/tmp/events/events.log).
LOG="$BENCH_ROOT/events-$N.log"
python3 - "$N" >"$LOG" <<'PY'
import json, sys, random
n = int(sys.argv[1])
random.seed(7)
t0 = 1796000000 * 10**9
cycle = ["create", "init", "start", "attach", "died", "cleanup", "remove"]
out, i, k = [], 0, 0
while len(out) < n:
    k += 1
    t = t0 + k * 10**9
    if k % 10 == 0:
        out.append({"Name": "localhost:5000/alpine", "Status": "pull",
                    "Time": t, "Type": "image", "Attributes": None})
        continue
    if k % 17 == 0:
        out.append({"Name": f"vol{k}", "Status": "create", "Time": t,
                    "Type": "volume", "Attributes": None})
        continue
    cid = "%064x" % random.getrandbits(256)
    name = f"ctr_{k}"
    labels = {"app": f"web{k % 5}", "io.buildah.version": "1.28.2"}
    for j, s in enumerate(cycle):
        e = {}
        if s == "died":
            e["ContainerExitCode"] = k % 3
        e.update({"ID": cid, "Image": "localhost:5000/alpine:latest", "Name": name,
                  "Status": s, "Time": t + j * 1000003, "Type": "container",
                  "Attributes": labels})
        out.append(e)
for e in out[:n]:
    ns = e["Time"]
    s, f = divmod(ns, 10**9)
    import time as _t
    stamp = _t.strftime("%Y-%m-%dT%H:%M:%S", _t.gmtime(s))
    frac = ("%09d" % f).rstrip("0")
    e["Time"] = stamp + ("." + frac if frac else "") + "Z"
    if e.get("ContainerExitCode") == 0:
        del e["ContainerExitCode"]
    print(json.dumps(e, separators=(",", ":")))
PY
place() { # HOME DIR
    local d="$1/.xdg-run/$2"
    install -d -m 0700 -o "$TEST_USER" -g "$TEST_USER" "$(dirname "$d")" "$d"
    install -m 0600 -o "$TEST_USER" -g "$TEST_USER" "$LOG" "$d/events.log"
}
[ "${BENCH_SKIP:-}" = podman ] || { install -d -m 0700 -o "$TEST_USER" -g "$TEST_USER" "$PODMAN_HOME/.xdg-run/libpod" "$PODMAN_HOME/.xdg-run/libpod/tmp"; place "$PODMAN_HOME" libpod/tmp/events; }
[ "${BENCH_SKIP:-}" = rpod ] || { install -d -m 0700 -o "$TEST_USER" -g "$TEST_USER" "$RPOD_HOME/.xdg-run/rpod"; place "$RPOD_HOME" rpod/events; }
echo "log: $N events, $(stat -c %s "$LOG") bytes"

# Both sides must print the same thing.
if [ "${BENCH_SKIP:-}" = "" ]; then
    a=$(as_user "$PODMAN_HOME" podman events --stream=false --format json | sha256sum)
    b=$(as_user "$RPOD_HOME" "$RPOD" events --stream=false --format json | sha256sum)
    [ "$a" = "$b" ] && echo "same JSON output on both sides" || echo "WARNING: the JSON outputs differ"
fi

measure() { # LABEL WHO HOME CMD
    local label=$1 who=$2 home=$3 cmd=$4
    local json="$BENCH_ROOT/events-$label-$who.json"
    as_user "$home" hyperfine -N --style none --warmup 3 --runs "$RUNS" \
        --export-json "$home/.hyperfine.json" "$cmd" >/dev/null
    cp "$home/.hyperfine.json" "$json"
    jq -r --arg who "$who" '.results[0] | "  \($who)\tmedian \(.median*1000|.*100|round/100) ms\tmin \(.min*1000|.*100|round/100) ms\tmax \(.max*1000|.*100|round/100) ms"' "$json"
}
case_() { # LABEL ARGS
    local label=$1 args=$2
    echo "events --stream=false $args ($RUNS runs each)"
    [ "${BENCH_SKIP:-}" = podman ] || measure "$label" podman "$PODMAN_HOME" "podman events --stream=false $args"
    [ "${BENCH_SKIP:-}" = rpod ] || measure "$label" rpod "$RPOD_HOME" "$RPOD events --stream=false $args"
    if [ "${BENCH_SKIP:-}" = "" ]; then
        jq -rn --slurpfile p "$BENCH_ROOT/events-$label-podman.json" --slurpfile r "$BENCH_ROOT/events-$label-rpod.json" \
            '"  ratio: rpod is \($p[0].results[0].median / $r[0].results[0].median * 10 | round / 10)x as fast as podman (medians)"'
    fi
}
case_ all ""
case_ filter "--filter event=died --filter label=app=web1"
case_ since "--since 2026-12-01T00:00:00Z"
