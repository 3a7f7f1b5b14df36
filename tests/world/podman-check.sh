#!/usr/bin/env bash
# Check the fixtures against the reference peer: rootless podman, as the test
# user, must pull and run them and agree with what tests expect of rpod. Run
# as root after setup.sh; prints one line per check and fails on the first
# disagreement. Not part of tests/run.sh (podman is slow); run it when the
# fixtures change.
set -euo pipefail
. "$(dirname "$0")/../../benches/lib.sh"
bench_init
BENCH_ROOT=$BENCH_ROOT/podman-check
install -d -m 0755 "$BENCH_ROOT"
podman_home
P() { as_user "$PODMAN_HOME" podman "$@" 2>"$BENCH_ROOT/err" || { cat "$BENCH_ROOT/err" >&2; return 1; }; }
R=$REGISTRY
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }
expect() { # WHAT WANT GOT
    [ "$2" = "$3" ] && ok "$1" || fail "$1: want [$2] got [$3]"
}

P rmi -a -f >/dev/null 2>&1 || true
expect "alpine runs" hi "$(P run --rm "$R/alpine" echo hi)"
expect "alpine guest" "uid=405(guest) gid=100(users) groups=50(staff),100(users)" \
    "$(P run --rm --user guest "$R/alpine" id)"
expect "alpine:3 and library/alpine are alpine" "$(P image inspect --format '{{.Id}}' "$R/alpine")" \
    "$(P pull -q "$R/alpine:3" >/dev/null && P pull -q "$R/library/alpine" >/dev/null && P image inspect --format '{{.Id}}' "$R/library/alpine")"
expect "layers tree" "" "$(P run --rm "$R/layers" sh -c '/check-tree.sh | diff /expected-tree.txt -')"
expect "config default run" "entry cmd-default" "$(P run --rm "$R/config")"
expect "config user, dir, env" "405 /work hello world [] " \
    "$(P run --rm --entrypoint /bin/sh "$R/config" -c 'echo "$(id -u) $PWD $GREETING [$EMPTY]" "${UNSET-}"')"
expect "config metadata" "SIGUSR1 map[53/udp:{} 80/tcp:{}]" \
    "$(P image inspect --format '{{.Config.StopSignal}} {{.Config.ExposedPorts}}' "$R/config")"
expect "nocmd has no command" 1 "$(P run --rm "$R/nocmd" >/dev/null 2>&1; echo $?)"
expect "multiarch amd64" amd64 "$(P run --rm "$R/multiarch" cat /arch)"
expect "multiarch arm64" arm64 "$(P run --rm --arch arm64 "$R/multiarch" cat /arch 2>/dev/null | tail -1)"
expect "schema2" ok "$(P run --rm "$R/schema2" echo ok)"
expect "schema2-list" amd64 "$(P run --rm "$R/schema2-list" cat /arch)"
expect "alpine-zstd" ok "$(P run --rm "$R/alpine-zstd" echo ok)"
expect "alpine-plain" ok "$(P run --rm "$R/alpine-plain" echo ok)"
expect "devnodes: devices skipped" "fifo regular" "$(P run --rm "$R/devnodes" ls /nodes | tr '\n' ' ' | sed 's/ $//')"
if [ "$DEBIAN_OK" = 1 ]; then
    expect "debian" 12 "$(P run --rm "$R/debian" sh -c 'cut -d. -f1 /etc/debian_version')"
fi
printf '%s' "$REG_PASS" | P login --cert-dir "$PODMAN_HOME/.config/containers/certs.d/$TLS_REGISTRY" \
    -u "$REG_USER" --password-stdin "$TLS_REGISTRY" >/dev/null
expect "tls+auth alpine" "$(P image inspect --format '{{.Id}}' "$R/alpine")" "$(P pull -q "$TLS_REGISTRY/alpine")"
P logout "$TLS_REGISTRY" >/dev/null
# Podman's own verdicts on the broken images. It must refuse the first four;
# podman 4.3.1's containers/image does not compare diff_ids, so it takes
# baddiffid (rpod must not). For the evil layers only the outcome matters:
# nothing may land outside the layer.
for n in malformed badmedia corrupt truncated baddiffid evil-dotdot evil-abs evil-symlink \
         evil-symlink-layers evil-hardlink; do
    if as_user "$PODMAN_HOME" podman pull --tls-verify=false "$BAD_REGISTRY/$n" >/dev/null 2>"$BENCH_ROOT/err"; then
        case $n in
            malformed|badmedia|corrupt|truncated) fail "podman accepted $n" ;;
            *) ok "podman accepts $n" ;;
        esac
    else
        ok "podman refuses $n: $(tail -1 "$BENCH_ROOT/err" | cut -c1-110)"
    fi
done
for f in /tmp/pwned /tmp/pwned2 /x /abs/x "$PODMAN_HOME/.local/share/containers/storage/overlay/x"; do
    [ ! -e "$f" ] || fail "an evil layer wrote $f"
done
ok "no evil layer wrote outside its layer"
echo "all fixtures agree with podman"
