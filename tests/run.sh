#!/usr/bin/env bash
# The README's test command, and what CI runs (.ci/run): as root on a fresh
# clone, set up the test world (packages, the unprivileged user, loopback
# registries, fixture images), build rpod, run every unit and integration
# test. Integration tests run rpod as the unprivileged test user; the harness
# copies the binary out, so the clone may sit where that user can't read.
#
#   sudo bash tests/run.sh [cargo test args...]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "tests/run.sh: run me as root (it installs packages, adds the test user, starts registries)" >&2; exit 1; }

echo "== test world"
bash "$HERE/tests/world/setup.sh"

# cargo may be on root's PATH only through rustup's env file.
if ! command -v cargo >/dev/null 2>&1; then
    for f in "${CARGO_HOME:-$HOME/.cargo}/env" /root/.cargo/env; do
        # shellcheck disable=SC1090
        [ -r "$f" ] && { . "$f"; break; }
    done
fi
command -v cargo >/dev/null 2>&1 || { echo "tests/run.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }

cd "$HERE"
echo "== cargo build"
cargo build
echo "== cargo test"
cargo test --no-fail-fast "$@"
