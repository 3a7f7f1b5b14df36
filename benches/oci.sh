#!/usr/bin/env bash
# `rpod oci run` of a prepared bundle running `true`, against `runc run` of
# the same bundle in the same run (issue 5's and issue 17's table: target
# <= 0.5x runc's median). Not a test: prints numbers and the ratio.
#
#   sudo bash benches/oci.sh [RUNS]       rootless: an `oci spec --rootless`
#                                         bundle, both as the test world's
#                                         unprivileged user; default 30 runs each
#   sudo OCI_MODE=root bash benches/oci.sh [RUNS]
#                                         as root: an `oci spec` bundle (no user
#                                         namespace; its device list gives both
#                                         runtimes a cgroup), both as root
#   RPOD_BIN=/path/to/rpod ...            use that binary (default: a release build)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${1:-30}
bench_init
need_rpod
command -v runc >/dev/null || { echo "runc is not installed (apt-get install runc)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 1; }
if [ "${OCI_MODE:-user}" = root ]; then
    R="$BENCH_ROOT/oci-root"
    B="$R/bundle"
    rm -rf "$B"
    install -d -m 0755 "$R" "$B" "$B/rootfs" "$B/rootfs/bin"
    for d in proc sys dev etc tmp; do install -d -m 0755 "$B/rootfs/$d"; done
    install -m 0755 /bin/busybox "$B/rootfs/bin/busybox"
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$B/rootfs/bin/$a"; done
    (cd "$B" && "$RPOD" oci spec)
    jq '.process.terminal = false | .process.args = ["true"]' "$B/config.json" >"$B/config.json.new"
    mv "$B/config.json.new" "$B/config.json"
    out="$R/oci-hyperfine.json"
    (cd "$B" && hyperfine -N -w 3 -r "$RUNS" --export-json "$out.tmp" \
        "$RPOD oci --root $R/rpod-state run bench" \
        "runc --root $R/runc-state run bench") >&2
    mv "$out.tmp" "$out"
    rpod_ms=$(jq '.results[0].median * 1000' "$out")
    runc_ms=$(jq '.results[1].median * 1000' "$out")
    printf 'as root: rpod oci run true: median %.1f ms\n' "$rpod_ms"
    printf 'as root: runc run true:     median %.1f ms\n' "$runc_ms"
    awk -v a="$rpod_ms" -v b="$runc_ms" 'BEGIN { printf "ratio rpod/runc: %.2f (target <= 0.5)\n", a / b }'
    exit 0
fi

rpod_home oci
B="$RPOD_HOME/bundle"
rm -rf "$B"
install -d -m 0755 -o "$TEST_USER" -g "$TEST_USER" "$B" "$B/rootfs" "$B/rootfs/bin"
for d in proc sys dev etc tmp; do install -d -m 0755 -o "$TEST_USER" "$B/rootfs/$d"; done
install -m 0755 -o "$TEST_USER" /bin/busybox "$B/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$B/rootfs/bin/$a"; done
chown -h -R "$TEST_USER:$TEST_USER" "$B/rootfs"
as_user "$RPOD_HOME" sh -c "cd '$B' && '$RPOD' oci spec --rootless"
jq '.process.terminal = false | .process.args = ["true"]' "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"
chown "$TEST_USER:$TEST_USER" "$B/config.json"

out="$RPOD_HOME/oci-hyperfine.json"
as_user "$RPOD_HOME" sh -c "cd '$B' && hyperfine -N -w 3 -r $RUNS --export-json '$out.tmp' \
    '$RPOD oci --root $RPOD_HOME/.xdg-run/rpod-oci run bench' \
    'runc --root $RPOD_HOME/.xdg-run/runc run bench'" >&2
mv "$out.tmp" "$out"
rpod_ms=$(jq '.results[0].median * 1000' "$out")
runc_ms=$(jq '.results[1].median * 1000' "$out")
printf 'rpod oci run true: median %.1f ms\n' "$rpod_ms"
printf 'runc run true:     median %.1f ms\n' "$runc_ms"
awk -v a="$rpod_ms" -v b="$runc_ms" 'BEGIN { printf "ratio rpod/runc: %.2f (target <= 0.5)\n", a / b }'
