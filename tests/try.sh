#!/usr/bin/env bash
# The README's first command: set up this machine (packages, the test user,
# the loopback registries and their images), build rpod, and run
# `rpod run -it alpine sh` as the unprivileged user `rpodtest`.
#
#   sudo bash tests/try.sh            a shell in an alpine container
#   sudo bash tests/try.sh CMD...     any rpod command as rpodtest, e.g. `ps -a`
#
# Images come from the local registry on 127.0.0.1:5000 (short names are
# searched there), so nothing leaves the machine.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "try.sh: run me as root (it installs packages and adds a user)" >&2; exit 1; }

bash "$HERE/tests/world/setup.sh" >/dev/null
# shellcheck disable=SC1091
. /var/lib/rpod-world/env
command -v cargo >/dev/null || . "$HOME/.cargo/env"
(cd "$HERE" && cargo build --release --quiet)
install -D -m 0755 "$HERE/target/release/rpod" /usr/local/bin/rpod
install -D -m 0755 "$HERE/target/release/rpod-monitor" /usr/local/libexec/rpod/rpod-monitor

uid=$(id -u "$TEST_USER")
home=$(getent passwd "$TEST_USER" | cut -d: -f6)
run_dir=/run/user/$uid
install -d -m 0700 -o "$TEST_USER" -g "$TEST_USER" "$run_dir"
conf=$home/.config/containers
if [ ! -e "$conf/registries.conf" ]; then
    install -d -o "$TEST_USER" -g "$TEST_USER" "$home/.config" "$conf" "$conf/certs.d" "$conf/certs.d/$TLS_REGISTRY"
    cat >"$conf/registries.conf" <<CONF
unqualified-search-registries = ["$REGISTRY"]

[[registry]]
location = "$REGISTRY"
insecure = true
CONF
    install -m 0644 "$CA_CERT" "$conf/certs.d/$TLS_REGISTRY/ca.crt"
    chown -R "$TEST_USER:" "$conf"
fi

[ $# -gt 0 ] || set -- run --rm -it alpine sh
if [ "$*" = "run --rm -it alpine sh" ] && ! [ -t 0 ]; then
    # No terminal (CI, a pipe): show the same thing without -it.
    set -- run --rm alpine sh -c 'echo "hello from $(hostname) as $(id -un)"; cat /etc/os-release | head -1'
fi
exec runuser -u "$TEST_USER" -- env -i HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" \
    TERM="${TERM:-xterm}" PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="$run_dir" rpod "$@"
