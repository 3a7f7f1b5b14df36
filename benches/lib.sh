# Shared helpers for rpod's benchmarks (sourced, not run). Run benches as root:
# they switch to the test world's unprivileged user for every measured command.
#
#   bench_init                 checks the world, sets TEST_USER, REGISTRY, ...
#   as_user HOME CMD...        run CMD as the test user with HOME and its own XDG dirs
#   podman_home [NAME]         PODMAN_HOME: a separate HOME with rootless podman configured
#   rpod_home [NAME]           RPOD_HOME: a separate HOME for rpod
#   need_rpod                  RPOD: the rpod binary to measure (RPOD_BIN or a release build)
#   median N...                median of numbers
set -euo pipefail

# Short: podman 4.3's `container cleanup` refuses a runroot over 50 characters,
# and an attached `podman run` then waits 20 s for it.
BENCH_ROOT=${BENCH_ROOT:-/var/tmp/rb}
WORLD_ENV=/var/lib/rpod-world/env
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bench_init() {
    [ "$(id -u)" = 0 ] || { echo "run benches as root (they switch to the test user)" >&2; exit 1; }
    [ -r "$WORLD_ENV" ] || { echo "no test world: run tests/world/setup.sh first" >&2; exit 1; }
    # shellcheck disable=SC1090
    . "$WORLD_ENV"
    export TEST_USER REGISTRY TLS_REGISTRY CA_CERT
    install -d -m 0755 "$BENCH_ROOT"
    RPOD=""
}

# as_user HOME CMD...: a clean environment, like a login would give, but
# explicit (runuser -u reads no profile). XDG_RUNTIME_DIR is fixed per HOME:
# podman records its first runroot and is confused if it changes.
as_user() {
    local home=$1; shift
    local xdg="$home/.xdg-run"
    runuser -u "$TEST_USER" -- env -i \
        HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        XDG_RUNTIME_DIR="$xdg" XDG_CONFIG_HOME="$home/.config" \
        XDG_DATA_HOME="$home/.local/share" XDG_CACHE_HOME="$home/.cache" \
        LANG=C.UTF-8 "$@"
}

_user_home() { # DIR
    install -d -m 0755 -o "$TEST_USER" -g "$TEST_USER" "$1"
    install -d -m 0700 -o "$TEST_USER" -g "$TEST_USER" "$1/.xdg-run"
    install -d -m 0755 -o "$TEST_USER" -g "$TEST_USER" "$1/.config" "$1/.config/containers"
}

# The configuration that made rootless podman 4.3.1 work here (runc: crun
# refuses the hybrid cgroup layout; cgroupfs and file events: no systemd).
podman_home() { # [NAME]: one HOME per bench, so one bench's rmi doesn't empty another's store
    local h="$BENCH_ROOT/podman-${1:-home}"
    _user_home "$h"
    local c="$h/.config/containers"
    cat >"$c/containers.conf" <<CONF
[containers]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
    cat >"$c/storage.conf" <<CONF
[storage]
driver = "overlay"

[storage.options.overlay]
mount_program = "/usr/bin/fuse-overlayfs"
CONF
    cat >"$c/registries.conf" <<CONF
unqualified-search-registries = ["$REGISTRY"]

[[registry]]
location = "$REGISTRY"
insecure = true
CONF
    install -d -m 0755 "$c/certs.d" "$c/certs.d/$TLS_REGISTRY"
    cp "$CA_CERT" "$c/certs.d/$TLS_REGISTRY/ca.crt"
    chown -R "$TEST_USER:$TEST_USER" "$c"
    PODMAN_HOME=$h
}

rpod_home() { # [NAME]
    local h="$BENCH_ROOT/rpod-${1:-home}"
    _user_home "$h"
    local c="$h/.config/containers"
    cat >"$c/registries.conf" <<CONF
unqualified-search-registries = ["$REGISTRY"]

[[registry]]
location = "$REGISTRY"
insecure = true
CONF
    chown -R "$TEST_USER:$TEST_USER" "$c"
    RPOD_HOME=$h
}

# need_rpod: sets RPOD to a copy of RPOD_BIN, or of a fresh release build,
# where the test user can run it (the clone may be unreadable to that user).
# The small monitor goes beside it (rpod looks for it there first): a
# stale rpod-monitor left there would be measured instead.
need_rpod() {
    if [ -n "${RPOD_BIN:-}" ]; then
        [ "$RPOD_BIN" -ef "$BENCH_ROOT/rpod" ] || install -m 0755 "$RPOD_BIN" "$BENCH_ROOT/rpod"
        local mon
        mon="$(dirname "$RPOD_BIN")/rpod-monitor"
        [ -x "$mon" ] || mon="$REPO/target/release/rpod-monitor"
        [ "$mon" -ef "$BENCH_ROOT/rpod-monitor" ] || install -m 0755 "$mon" "$BENCH_ROOT/rpod-monitor"
        RPOD="$BENCH_ROOT/rpod"
    else
        build_release
    fi
}

# Cargo may be on root's PATH only through rustup's env file.
build_release() {
    command -v cargo >/dev/null 2>&1 || . "${CARGO_HOME:-$HOME/.cargo}/env"
    echo "building rpod (release)" >&2
    (cd "$REPO" && cargo build --release --quiet) >"$BENCH_ROOT/build.log" 2>&1 ||
        { tail -30 "$BENCH_ROOT/build.log" >&2; echo "cargo build --release failed" >&2; exit 1; }
    install -m 0755 "$REPO/target/release/rpod" "$BENCH_ROOT/rpod"
    install -m 0755 "$REPO/target/release/rpod-monitor" "$BENCH_ROOT/rpod-monitor"
    RPOD="$BENCH_ROOT/rpod"
}

# Empty rpod's store (cold start) for the bench user. As root: the store
# holds files owned by the user's subordinate ids.
rpod_reset_store() {
    as_user "$RPOD_HOME" "$RPOD" rmi -a -f >/dev/null 2>&1 || true
    rm -rf "$RPOD_HOME/.local/share/rpod" "$RPOD_HOME/.xdg-run/rpod"
}

# Compressed size of a fixture on the plain registry: what a cold pull moves.
image_bytes() { # NAME:TAG
    local repo=${1%:*} tag=${1##*:}
    curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://$REGISTRY/v2/$repo/manifests/$tag" |
        jq '[.config.size] + [.layers[].size] | add'
}

# The sides to compare (podman, rpod) in `sides`, as BENCH_SKIP allows, and
# each side's HOME and binary. Needs podman_home and rpod_home first.
bench_sides() {
    sides=()
    [ "${BENCH_SKIP:-}" = podman ] || sides+=(podman)
    [ "${BENCH_SKIP:-}" = rpod ] || sides+=(rpod)
}
home_of() { if [ "$1" = podman ]; then echo "$PODMAN_HOME"; else echo "$RPOD_HOME"; fi; }
bin_of() { if [ "$1" = podman ]; then echo podman; else echo "$RPOD"; fi; }

# Start each side from no containers, with the images IMAGE... present.
fresh_sides() {
    local s h b img
    for s in "${sides[@]}"; do
        h=$(home_of "$s") b=$(bin_of "$s")
        as_user "$h" "$b" rm -a -f -t 0 >/dev/null 2>&1 || true
        for img in "$@"; do
            as_user "$h" "$b" pull -q "$img" >/dev/null
        done
    done
}

# as_user_cpu HOME CMD...: as_user, and the CPU time (user + system, its
# children included) the command took is left for cpu_ms: on these shared
# 2-core machines wall times move with the other load, CPU time much less.
as_user_cpu() {
    local home=$1; shift
    rm -f "$home/.cpu-time"
    as_user "$home" /usr/bin/time -q -f '%U %S' -o "$home/.cpu-time" "$@"
}
cpu_ms() { # HOME: the last as_user_cpu's CPU time in ms
    awk '{printf "%d\n", ($1 + $2) * 1000}' "$1/.cpu-time"
}

# The CPU time (ms) a process has used so far, e.g. a registry's.
proc_cpu_ms() { # PID
    awk -v hz="$(getconf CLK_TCK)" '{printf "%d\n", ($14 + $15) * 1000 / hz}' "/proc/$1/stat"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2}'
}

now_ns() { date +%s%N; }
