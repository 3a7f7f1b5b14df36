#!/usr/bin/env bash
# What keeping the rpod binary out of a container's reach costs (issue 9,
# CVE-2019-5736): `rpod run` spawns its monitor from a read-only overlay of
# rpod's directory, and `rpod oci run`/`exec` re-exec from a sealed memfd
# copy. One hyperfine run per pair, so the numbers share the machine's load:
#   1. run --rm --network none alpine true: podman, rpod before, rpod now
#   2. oci run of a rootless busybox bundle (`true`): runc, rpod before, now
#   3. the same with rpod installed where the user owns it (~/.local/bin:
#      then the memfd copy is made) against root's copy of the same binary,
#      and `run` likewise
# Not a test: prints medians and ratios.
#
#   sudo RPOD_BASE=/path/to/old/rpod bash benches/seal.sh [RUNS]
#   RPOD_BIN=/path/to/rpod ...   the binary measured as "now" (default: a release build)
# Each rpod needs its rpod-monitor beside it.
set -euo pipefail
BENCH_ROOT=${BENCH_ROOT:-/var/tmp/rbseal}
. "$(dirname "$0")/lib.sh"

RUNS=${1:-30}
[ -n "${RPOD_BASE:-}" ] || { echo "set RPOD_BASE to the rpod binary to compare with" >&2; exit 1; }
bench_init
need_rpod
install -d -m 0755 "$BENCH_ROOT/now" "$BENCH_ROOT/base"
install -m 0755 "$RPOD" "$BENCH_ROOT/now/rpod"
install -m 0755 "$(dirname "${RPOD_BIN:-$REPO/target/release/rpod}")/rpod-monitor" "$BENCH_ROOT/now/"
install -m 0755 "$RPOD_BASE" "$BENCH_ROOT/base/rpod"
install -m 0755 "$(dirname "$RPOD_BASE")/rpod-monitor" "$BENCH_ROOT/base/"
NOW=$BENCH_ROOT/now/rpod BASE=$BENCH_ROOT/base/rpod
podman_home seal
rpod_home seal
IMG="$REGISTRY/alpine:latest"
as_user "$PODMAN_HOME" podman pull -q "$IMG" >/dev/null
as_user "$RPOD_HOME" "$NOW" pull -q "$IMG" >/dev/null

show() { # JSON: one line per command, then ratios to the first
    jq -r '.results[] | "\(.command)\n    median \(.median*1000|.*100|round/100) ms  min \(.min*1000|.*100|round/100) ms  max \(.max*1000|.*100|round/100) ms"' "$1"
    jq -r '.results as $r | "ratios to the first: second 1/\($r[0].median/$r[1].median|.*10|round/10), third 1/\($r[0].median/$r[2].median|.*10|round/10); third minus second: \(($r[2].median-$r[1].median)*1000|.*100|round/100) ms"' "$1"
}

echo "== 1. run --rm --network none alpine true ($RUNS runs)"
# podman and rpod in their own HOMEs; hyperfine runs as the user with
# rpod's HOME, so podman's is passed explicitly.
out="$RPOD_HOME/seal-run.json"
as_user "$RPOD_HOME" hyperfine -N --style none -w 3 -r "$RUNS" --export-json "$out" \
    "env HOME=$PODMAN_HOME XDG_RUNTIME_DIR=$PODMAN_HOME/.xdg-run XDG_CONFIG_HOME=$PODMAN_HOME/.config XDG_DATA_HOME=$PODMAN_HOME/.local/share podman run --rm --network none $IMG true" \
    "$BASE run --rm --network none $IMG true" \
    "$NOW run --rm --network none $IMG true" >/dev/null
show "$out"

echo "== 2. oci run of a bundle running true ($RUNS runs)"
B="$RPOD_HOME/bundle"
rm -rf "$B"
install -d -m 0755 -o "$TEST_USER" -g "$TEST_USER" "$B" "$B/rootfs" "$B/rootfs/bin"
for d in proc sys dev etc tmp; do install -d -m 0755 -o "$TEST_USER" "$B/rootfs/$d"; done
install -m 0755 -o "$TEST_USER" /bin/busybox "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
chown -h -R "$TEST_USER:$TEST_USER" "$B/rootfs"
as_user "$RPOD_HOME" sh -c "cd '$B' && '$NOW' oci spec --rootless"
jq '.process.terminal = false | .process.args = ["true"]' "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"
chown "$TEST_USER:$TEST_USER" "$B/config.json"
out="$RPOD_HOME/seal-oci.json"
as_user "$RPOD_HOME" sh -c "cd '$B' && hyperfine -N --style none -w 3 -r $RUNS --export-json '$out' \
    'runc --root $RPOD_HOME/.xdg-run/runc run bench' \
    '$BASE oci --root $RPOD_HOME/.xdg-run/rpod-oci run bench' \
    '$NOW oci --root $RPOD_HOME/.xdg-run/rpod-oci run bench'" >/dev/null
show "$out"

echo "== 3. rpod owned by the user (sealed memfd copy) vs root's ($RUNS runs)"
install -d -m 0755 -o "$TEST_USER" -g "$TEST_USER" "$RPOD_HOME/.local" "$RPOD_HOME/.local/bin"
install -m 0755 -o "$TEST_USER" -g "$TEST_USER" "$NOW" "$BENCH_ROOT/now/rpod-monitor" "$RPOD_HOME/.local/bin/"
MINE=$RPOD_HOME/.local/bin/rpod
out="$RPOD_HOME/seal-mine.json"
as_user "$RPOD_HOME" sh -c "cd '$B' && hyperfine -N --style none -w 3 -r $RUNS --export-json '$out' \
    'runc --root $RPOD_HOME/.xdg-run/runc run bench' \
    '$NOW oci --root $RPOD_HOME/.xdg-run/rpod-oci run bench' \
    '$MINE oci --root $RPOD_HOME/.xdg-run/rpod-oci run bench'" >/dev/null
show "$out"
out="$RPOD_HOME/seal-mine-run.json"
as_user "$RPOD_HOME" hyperfine -N --style none -w 3 -r "$RUNS" --export-json "$out" \
    "env HOME=$PODMAN_HOME XDG_RUNTIME_DIR=$PODMAN_HOME/.xdg-run XDG_CONFIG_HOME=$PODMAN_HOME/.config XDG_DATA_HOME=$PODMAN_HOME/.local/share podman run --rm --network none $IMG true" \
    "$NOW run --rm --network none $IMG true" \
    "$MINE run --rm --network none $IMG true" >/dev/null
show "$out"
