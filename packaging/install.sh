#!/bin/sh
# Install rpod under PREFIX (default /usr/local): the binary, shell
# completions, man pages and the systemd user generator for Quadlet files.
#
#   packaging/install.sh [PREFIX]
#
# Environment:
#   DESTDIR      stage into this directory (packages: DESTDIR=$pkgdir ... /usr)
#   RPOD_BIN     the binary to install (default: target/release/rpod)
#   RPOD_MONITOR_BIN  the monitor loop binary (default: rpod-monitor beside RPOD_BIN)
#   ZSH_COMPDIR  zsh completion directory relative to PREFIX
#                (default share/zsh/site-functions; Debian: share/zsh/vendor-completions)
#   GENERATOR_DIR  where systemd looks for user generators
#                (default: /usr/lib/systemd/user-generators when PREFIX is /usr,
#                 else PREFIX/lib/systemd/user-generators; a user install under
#                 ~/.local can use ~/.config/systemd/user-generators)
#   USER_UNIT_DIR  where user units go (default: beside GENERATOR_DIR, .../systemd/user)
#   UNINSTALL=1  remove what an install put there instead
#
# The package files (packaging/build-deb.sh, rpm/rpod.spec, arch/PKGBUILD)
# all install through this script, so the layout is defined once.
set -eu

prefix=${1:-/usr/local}
case $prefix in
/*) ;;
*) echo "install.sh: PREFIX must be an absolute path, not '$prefix'" >&2; exit 2 ;;
esac
prefix=${prefix%/}
destdir=${DESTDIR:-}
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${RPOD_BIN:-$src/target/release/rpod}
# The small per-container monitor loop (about 2 MB resident instead of
# rpod's 7); rpod finds it in ../libexec/rpod and falls back to itself.
monitor=${RPOD_MONITOR_BIN:-$(dirname "$bin")/rpod-monitor}
zsh_dir=${ZSH_COMPDIR:-share/zsh/site-functions}
if [ "$prefix" = /usr ]; then
    gen_dir=${GENERATOR_DIR:-/usr/lib/systemd/user-generators}
else
    gen_dir=${GENERATOR_DIR:-$prefix/lib/systemd/user-generators}
fi
# User units beside the generator: rpod-restart.service, podman-restart's twin.
unit_dir=${USER_UNIT_DIR:-$(dirname "$gen_dir")/user}

# Every installed path, relative to DESTDIR, with its source (or "->target"
# for a symlink), so that install and uninstall agree.
manifest() {
    echo "$prefix/bin/rpod	$bin"
    echo "$prefix/libexec/rpod/rpod-monitor	$monitor"
    echo "$prefix/share/bash-completion/completions/rpod	$src/completions/rpod.bash"
    echo "$prefix/$zsh_dir/_rpod	$src/completions/_rpod"
    echo "$prefix/share/fish/vendor_completions.d/rpod.fish	$src/completions/rpod.fish"
    for page in "$src"/man/*.1 "$src"/man/*.5; do
        [ -e "$page" ] || continue
        name=$(basename "$page")
        echo "$prefix/share/man/man${name##*.}/$name	$page"
    done
    echo "$gen_dir/rpod-user-generator	->$prefix/bin/rpod"
    echo "$unit_dir/rpod-restart.service	$src/packaging/systemd/rpod-restart.service"
}

if [ "${UNINSTALL:-}" = 1 ]; then
    manifest | while IFS='	' read -r dst _; do
        rm -f "$destdir$dst" "$destdir$dst.gz"
    done
    exit 0
fi

if [ ! -x "$monitor" ]; then
    echo "install.sh: $monitor is not an executable: build it first (cargo build --release) or set RPOD_MONITOR_BIN" >&2
    exit 1
fi
if [ ! -x "$bin" ]; then
    echo "install.sh: $bin is not an executable: build it first (cargo build --release) or set RPOD_BIN" >&2
    exit 1
fi

manifest | while IFS='	' read -r dst from; do
    mkdir -p "$destdir$(dirname "$dst")"
    case $from in
    '->'*)
        # A relative link, so a staged tree works wherever it is unpacked.
        target=${from#->}
        rel=$(realpath -m --relative-to="$(dirname "$dst")" "$target")
        ln -sfn "$rel" "$destdir$dst"
        ;;
    "$bin"|"$monitor") install -m 0755 "$from" "$destdir$dst" ;;
    *) install -m 0644 "$from" "$destdir$dst" ;;
    esac
done
