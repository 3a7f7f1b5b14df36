#!/usr/bin/env bash
# `rpod images` against `podman images` with 50 images in each store, both
# as the unprivileged test user, measured with hyperfine in the same run.
# Not a test. The 50 images (localhost:5000/many:img-01 ... img-50) are
# distinct images sharing the alpine layer; they are built and pushed on
# first use.
#
#   sudo bash benches/images.sh [RUNS]         default 30 runs each
#   RPOD_BIN=/path/to/rpod ...                 use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...                 measure only one side
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${1:-30}
N=50
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home images
rpod_home images

# The fixture: built by the world's builder, pushed once.
STATE=/var/lib/rpod-world
tags=()
for i in $(seq 1 $N); do tags+=("$(printf 'img-%02d' "$i")"); done
served() { curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY/v2/many/manifests/$1"; }
if ! served img-01 || ! served "img-$N"; then
    echo "building and pushing $REGISTRY/many:img-01..$N" >&2
    python3 "$REPO/tests/world/build_fixtures.py" "$STATE/oci" many >/dev/null
    for t in "${tags[@]}"; do
        skopeo copy --quiet --dest-tls-verify=false --preserve-digests \
            "oci:$STATE/oci/many:$t" "docker://$REGISTRY/many:$t"
    done
fi

# Fill each store with exactly those N images (and nothing else).
fill() { # WHO HOME CMD...
    local who=$1 home=$2; shift 2
    local have
    have=$(as_user "$home" "$@" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -c "^$REGISTRY/many:" || true)
    [ "$have" = "$N" ] && return 0
    echo "pulling $N images into $who's store" >&2
    as_user "$home" "$@" rmi -a -f >/dev/null 2>&1 || true
    for t in "${tags[@]}"; do
        as_user "$home" "$@" pull -q "$REGISTRY/many:$t" >/dev/null
    done
}
[ "${BENCH_SKIP:-}" = podman ] || fill podman "$PODMAN_HOME" podman
[ "${BENCH_SKIP:-}" = rpod ] || fill rpod "$RPOD_HOME" "$RPOD"

# hyperfine runs as the test user, inside each side's environment, so the
# measured command is the tool alone (no runuser or env in the timing).
measure() { # WHO HOME CMD
    local who=$1 home=$2 cmd=$3
    local json="$BENCH_ROOT/images-$who.json"
    as_user "$home" hyperfine -N --style none --warmup 3 --runs "$RUNS" \
        --export-json "$home/.hyperfine.json" "$cmd" >/dev/null
    cp "$home/.hyperfine.json" "$json"
    jq -r --arg who "$who" '.results[0] | "\($who)\tmedian \(.median*1000|.*100|round/100) ms\tmean \(.mean*1000|.*100|round/100) ms\tmin \(.min*1000|.*100|round/100) ms\tmax \(.max*1000|.*100|round/100) ms"' "$json"
}
echo "images with $N images in the store, $RUNS runs each"
[ "${BENCH_SKIP:-}" = podman ] || measure podman "$PODMAN_HOME" "podman images"
[ "${BENCH_SKIP:-}" = rpod ] || measure rpod "$RPOD_HOME" "$RPOD images"
if [ "${BENCH_SKIP:-}" = "" ]; then
    jq -rn --slurpfile p "$BENCH_ROOT/images-podman.json" --slurpfile r "$BENCH_ROOT/images-rpod.json" \
        '"ratio: rpod images is \($p[0].results[0].median / $r[0].results[0].median * 100 | round / 100)x as fast as podman (medians)"'
fi
