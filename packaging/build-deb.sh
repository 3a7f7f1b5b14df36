#!/bin/sh
# Build the Debian package with plain dpkg-deb, from an already built binary:
#
#   packaging/build-deb.sh [OUTDIR]      (default OUTDIR: target/debian)
#
# Environment: RPOD_BIN (default target/release/rpod: run
# `cargo build --release` first), DEBFULLNAME/DEBEMAIL for Maintainer.
# Prints the path of the .deb. Files are laid out by packaging/install.sh.
set -eu
umask 022

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/target/debian}
bin=${RPOD_BIN:-$src/target/release/rpod}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/Cargo.toml" | head -n 1)
arch=$(dpkg --print-architecture)
[ -n "$version" ] || { echo "build-deb.sh: no version in $src/Cargo.toml" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
mkdir -p "$root/DEBIAN"
chmod 0755 "$root"

# Debian keeps packaged zsh completions in vendor-completions (on $fpath).
DESTDIR=$root RPOD_BIN=$bin ZSH_COMPDIR=share/zsh/vendor-completions \
    sh "$src/packaging/install.sh" /usr

# Policy: compressed man pages, a copyright file.
find "$root/usr/share/man" -type f -name '*.[15]' -exec gzip -9n {} +
mkdir -p "$root/usr/share/doc/rpod"
cat >"$root/usr/share/doc/rpod/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: rpod

Files: *
Copyright: the rpod authors
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

# The newest glibc symbol version the binary needs (it links only libc).
glibc=2.36
if command -v objdump >/dev/null; then
    v=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
    [ -n "$v" ] && glibc=$v
fi

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: rpod
Version: $version-1
Architecture: $arch
Maintainer: ${DEBFULLNAME:-rpod maintainers} <${DEBEMAIL:-rpod@localhost}>
Installed-Size: $size
Depends: libc6 (>= $glibc), uidmap, slirp4netns | passt, fuse-overlayfs
Recommends: catatonit, netavark, aardvark-dns
Suggests: systemd
Section: admin
Priority: optional
Description: rootless, daemonless containers
 rpod runs OCI containers as an unprivileged user, without a daemon and
 without root. Its commands and flags are podman's: pull, run, exec, ps,
 logs, stop, rm, images and the rest, with shell completion, man pages,
 and systemd user units (generate systemd, and Quadlet .container files
 through a systemd user generator).
CONTROL
(cd "$root" && find usr -type f -exec md5sum {} + | sort -k 2 >DEBIAN/md5sums)

mkdir -p "$out"
deb=$out/rpod_${version}-1_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
