#!/usr/bin/env bash
# `commit` of a container with 10,000 changed files (issue 11: >= 2x podman),
# rpod against rootless podman in the same run, as the test user. Each round
# commits the same container to a new name, timed, then removes that image
# (untimed), so no side reuses a layer from an earlier round.
#
#   sudo bash benches/commit.sh [ROUNDS]   default 10
#   RPOD_BIN=/path/to/rpod ...             use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...             measure only one side
#   FILES=N ...                            changed files (default 10000)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-10}
FILES=${FILES:-10000}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home commit
rpod_home commit
# podman 4.3's commit says "runroot must be set" unless storage.conf names it.
sc="$PODMAN_HOME/.config/containers/storage.conf"
grep -q '^runroot' "$sc" || sed -i "s|^driver = \"overlay\"|driver = \"overlay\"\nrunroot = \"$PODMAN_HOME/.xdg-run/containers\"\ngraphroot = \"$PODMAN_HOME/.local/share/containers/storage\"|" "$sc"
IMG="$REGISTRY/alpine:latest"

bench_sides
fresh_sides "$IMG"

# The container: FILES new files of 1 KiB in /data, one changed and one
# deleted file in /etc.
script="set -e; mkdir /data; cd /data; head -c 1024 /dev/urandom > seed; i=0; \
while [ \$i -lt $FILES ]; do cp seed f\$i; i=\$((i+1)); done; \
echo x >> /etc/passwd; rm -f /etc/group"

declare -A MED
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    as_user "$h" "$b" run --name big --network none "$IMG" sh -c "$script" >/dev/null
    times=()
    for r in $(seq 1 "$ROUNDS"); do
        t0=$(now_ns)
        as_user "$h" "$b" commit -q big "bench-commit-$r" >/dev/null
        times+=($(( ($(now_ns) - t0) / 1000000 )))
        as_user "$h" "$b" rmi "bench-commit-$r" >/dev/null
    done
    MED[$s]=$(median "${times[@]}")
    echo -e "$s\tcommit of $FILES files\tmedian ${MED[$s]} ms\tmin $(printf '%s\n' "${times[@]}" | sort -n | head -1) ms\tmax $(printf '%s\n' "${times[@]}" | sort -n | tail -1) ms"
    as_user "$h" "$b" rm -f -t 0 big >/dev/null
done
if [ -n "${MED[podman]:-}" ] && [ -n "${MED[rpod]:-}" ]; then
    awk -v p="${MED[podman]}" -v r="${MED[rpod]}" \
        'BEGIN { printf "ratio commit: rpod %.2fx podman'"'"'s speed (medians %d ms vs %d ms; target >= 2x)\n", p/r, r, p }'
fi
