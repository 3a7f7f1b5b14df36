#!/usr/bin/env bash
# Rootless networking, rpod against rootless podman in the same run, both as
# the test world's unprivileged user (issue 4's table):
#   1. the start-up cost of default networking (slirp4netns): median of
#      `run --rm alpine true` minus median of `run --rm --network none alpine true`
#   2. `run --rm alpine true` with default networking, rpod vs podman
#   3. a 1 GiB transfer through a published port (`-p`): host client on
#      127.0.0.1 -> each side's default port forwarder -> a sink in the
#      container; MB/s, best of 3
#   4. user-defined networks (netavark + aardvark-dns; podman configured with
#      network_backend = "netavark"): `run --rm --network benchnet alpine true`
#   5. container-to-container TCP on one network, by name: 1 GiB, best of 3
#   6. name resolution from inside a container (aardvark-dns): 200 lookups,
#      best of 3
# Not a test: prints numbers and ratios. All traffic stays on loopback.
#
#   sudo bash benches/network.sh [RUNS]   default 20 runs each
#   RPOD_BIN=/path/to/rpod ...            use that binary (default: a release build)
#   BENCH_SKIP=podman|rpod ...            measure only one side
set -euo pipefail
# Own, short homes: podman 4.3 refuses a runroot longer than 50 characters
# in the `container cleanup` that conmon runs when a container exits, and
# every attached `podman run` then waits out its 20 s conmon timeout
# (/var/tmp/rpod-bench/podman-home/.xdg-run/containers is 51).
BENCH_ROOT=${BENCH_ROOT:-/var/tmp/rbn}
. "$(dirname "$0")/lib.sh"

RUNS=${1:-20}
bench_init
[ "${BENCH_SKIP:-}" = rpod ] || need_rpod
podman_home
# Section 4 compares with podman's netavark backend (the default rootless
# networking, slirp4netns, is the same with either backend).
printf '\n[network]\nnetwork_backend = "netavark"\n' >>"$PODMAN_HOME/.config/containers/containers.conf"
rpod_home
IMG="$REGISTRY/alpine:latest"
# The sink needs a reader with big buffers (busybox nc reads 4 KiB at a
# time and would be what is measured): perl from the debian fixture.
SINK_IMG="$REGISTRY/debian:latest"
[ "${DEBIAN_OK:-0}" = 1 ] || SINK_IMG=""

bench_sides
fresh_sides "$IMG" ${SINK_IMG:+"$SINK_IMG"}

declare -A RESULT
hf() { # SIDE NAME CMD
    local s=$1 name=$2 cmd=$3 h
    h=$(home_of "$s")
    as_user "$h" hyperfine -N --style none --warmup 3 --runs "$RUNS" \
        --export-json "$h/.hf-$name.json" "$cmd" >/dev/null
    RESULT[$s-$name]=$(jq '.results[0].median * 1000' "$h/.hf-$name.json")
    jq -r --arg who "$s" --arg n "$name" '.results[0] | "\($who)\t\($n)\tmedian \(.median*1000|.*100|round/100) ms\tmin \(.min*1000|.*100|round/100) ms\tmax \(.max*1000|.*100|round/100) ms"' "$h/.hf-$name.json"
}

echo "== 1. start-up cost of default networking over --network none ($RUNS runs each)"
for s in "${sides[@]}"; do
    b=$(bin_of "$s")
    hf "$s" none "$b run --rm --network none $IMG true"
    hf "$s" slirp "$b run --rm $IMG true"
    awk -v a="${RESULT[$s-slirp]}" -v n="${RESULT[$s-none]}" -v who="$s" \
        'BEGIN { printf "%s\tnetworking adds %.1f ms at the median\n", who, a-n }'
done

echo "== 2. run --rm alpine true with default networking"
if [ -n "${RESULT[podman-slirp]:-}" ] && [ -n "${RESULT[rpod-slirp]:-}" ]; then
    awk -v p="${RESULT[podman-slirp]}" -v r="${RESULT[rpod-slirp]}" \
        'BEGIN { printf "ratio: rpod takes 1/%.1f of podman'"'"'s time (medians %.1f ms vs %.1f ms)\n", p/r, r, p }'
fi

echo "== 3. 1 GiB through a published port (best of 3)"
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
send_gib() { # PORT -> MB/s (retries the connection while the container starts)
    python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1]); total = 1 << 30; buf = b"\0" * (1 << 20)
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2); break
    except OSError:
        time.sleep(0.1)
s.settimeout(None)
t = time.time(); sent = 0
while sent < total:
    s.sendall(buf); sent += len(buf)
s.shutdown(socket.SHUT_WR)
s.recv(1)  # the sink closes once it has read everything
print("%.0f" % (total / (time.time() - t) / 1e6))
PY
}
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    best=0
    for i in 1 2 3; do
        port=$(free_port)
        if [ -n "$SINK_IMG" ]; then
            as_user "$h" "$b" run -d --name sink -p "$port:9000" "$SINK_IMG" perl -MIO::Socket::INET -e \
                '$l=IO::Socket::INET->new(LocalPort=>9000,Listen=>5,ReuseAddr=>1) or die $!; $c=$l->accept; while(sysread($c,$b,1<<20)){} close $c' >/dev/null
        else
            as_user "$h" "$b" run -d --name sink -p "$port:9000" "$IMG" sh -c 'nc -l -p 9000 >/dev/null' >/dev/null
        fi
        sleep 0.5
        mbs=$(send_gib "$port")
        as_user "$h" "$b" rm -f -t 0 sink >/dev/null
        echo -e "$s\ttransfer $i\t$mbs MB/s"
        [ "$mbs" -gt "$best" ] && best=$mbs
    done
    RESULT[$s-bw]=$best
    echo -e "$s\tbest\t$best MB/s"
done
if [ -n "${RESULT[podman-bw]:-}" ] && [ -n "${RESULT[rpod-bw]:-}" ]; then
    awk -v p="${RESULT[podman-bw]}" -v r="${RESULT[rpod-bw]}" \
        'BEGIN { printf "ratio throughput: rpod %.2fx podman'"'"'s default forwarder (%d vs %d MB/s)\n", r/p, r, p }'
fi

echo "== 4. run --rm --network benchnet alpine true ($RUNS runs each)"
for s in "${sides[@]}"; do
    h=$(home_of "$s") b=$(bin_of "$s")
    as_user "$h" "$b" network exists benchnet || as_user "$h" "$b" network create benchnet >/dev/null
    hf "$s" bridge "$b run --rm --network benchnet $IMG true"
done
if [ -n "${RESULT[podman-bridge]:-}" ] && [ -n "${RESULT[rpod-bridge]:-}" ]; then
    awk -v p="${RESULT[podman-bridge]}" -v r="${RESULT[rpod-bridge]}" \
        'BEGIN { printf "ratio: rpod takes 1/%.1f of podman'"'"'s time (medians %.1f ms vs %.1f ms)\n", p/r, r, p }'
fi

if [ -n "$SINK_IMG" ]; then
    # The debian fixture's perl is perl-base: no Time::HiRes. The clock is
    # `date +%s%N` around the transfer (and around the lookups) instead.
    echo "== 5. 1 GiB container to container over benchnet, by name (best of 3)"
    for s in "${sides[@]}"; do
        h=$(home_of "$s") b=$(bin_of "$s")
        best=0
        for i in 1 2 3; do
            # The sink accepts again after each connection: the client's
            # readiness probe is one.
            as_user "$h" "$b" run -d --name sink --network benchnet "$SINK_IMG" perl -MIO::Socket::INET -e \
                '$l=IO::Socket::INET->new(LocalPort=>9000,Listen=>5,ReuseAddr=>1) or die $!; while ($c=$l->accept) { while(sysread($c,$b,1<<20)){} close $c }' >/dev/null
            mbs=$(as_user "$h" "$b" run --rm --network benchnet "$SINK_IMG" sh -c '
                perl -MIO::Socket::INET -e '"'"'for (1..100) { IO::Socket::INET->new(PeerAddr=>"sink:9000") and exit 0; select(undef,undef,undef,0.1) } exit 1'"'"' || exit 1
                t0=$(date +%s%N)
                perl -MIO::Socket::INET -e '"'"'$s=IO::Socket::INET->new(PeerAddr=>"sink:9000") or die; $b="\0" x (1<<20); syswrite($s,$b) for 1..1024; shutdown($s,1); sysread($s,$x,1)'"'"' || exit 1
                t1=$(date +%s%N)
                echo $(( (1 << 30) * 1000 / (t1 - t0) ))')
            as_user "$h" "$b" rm -f -t 0 sink >/dev/null
            echo -e "$s\ttransfer $i\t$mbs MB/s"
            [ "${mbs:-0}" -gt "$best" ] && best=$mbs
        done
        RESULT[$s-c2c]=$best
        echo -e "$s\tbest\t$best MB/s"
    done
    if [ -n "${RESULT[podman-c2c]:-}" ] && [ -n "${RESULT[rpod-c2c]:-}" ]; then
        awk -v p="${RESULT[podman-c2c]}" -v r="${RESULT[rpod-c2c]}" \
            'BEGIN { printf "ratio throughput: rpod %.2fx podman'"'"'s (%d vs %d MB/s)\n", r/p, r, p }'
    fi

    echo "== 6. 200 name lookups of a peer from inside a container (aardvark-dns), best of 3"
    for s in "${sides[@]}"; do
        h=$(home_of "$s") b=$(bin_of "$s")
        as_user "$h" "$b" run -d --name peer --network benchnet "$IMG" sleep 300 >/dev/null
        best=""
        for i in 1 2 3; do
            us=$(as_user "$h" "$b" run --rm --network benchnet "$SINK_IMG" sh -c '
                perl -e '"'"'for (1..50) { gethostbyname("peer") and exit 0; select(undef,undef,undef,0.1) } exit 1'"'"' || exit 1
                t0=$(date +%s%N)
                perl -e '"'"'for (1..200) { gethostbyname("peer") or die "no peer" }'"'"' || exit 1
                t1=$(date +%s%N)
                echo $(( (t1 - t0) / 200 / 1000 ))')
            echo -e "$s\tlookups $i\t$us us each"
            { [ -z "$best" ] || [ "$us" -lt "$best" ]; } && best=$us
        done
        as_user "$h" "$b" rm -f -t 0 peer >/dev/null
        RESULT[$s-dns]=$best
        echo -e "$s\tbest\t$best us each"
    done
    if [ -n "${RESULT[podman-dns]:-}" ] && [ -n "${RESULT[rpod-dns]:-}" ]; then
        awk -v p="${RESULT[podman-dns]}" -v r="${RESULT[rpod-dns]}" \
            'BEGIN { printf "ratio lookup latency: rpod %.2fx podman'"'"'s (%d vs %d us; below 1 is faster)\n", r/p, r, p }'
    fi
fi
