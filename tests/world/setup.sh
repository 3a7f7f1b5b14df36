#!/usr/bin/env bash
# Build rpod's test world on this machine. Run as root; idempotent; a second
# run takes a few seconds. See tests/world/README.md for what it provides.
#
#   tests/world/setup.sh            everything
#   RPOD_WORLD_SKIP_DEBIAN=1 ...    skip the debootstrap fixture (DEBIAN_OK=0)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Overridable only to try setup.sh beside a running world; tests read the
# defaults through the env file.
STATE=${RPOD_WORLD_DIR:-/var/lib/rpod-world}
TEST_USER=rpodtest
# 1000000: clear of the ranges useradd hands out by itself (100000 + n*65536)
# and of hand-made scratch users on the shared dev machines.
SUB_START=1000000
SUB_COUNT=65536
REG_USER=rpoduser
REG_PASS=rpodpass
PLAIN_PORT=${RPOD_WORLD_PLAIN_PORT:-5000}
TLS_PORT=${RPOD_WORLD_TLS_PORT:-5443}
BAD_PORT=${RPOD_WORLD_BAD_PORT:-5001}

T0=$(date +%s%N)
say() { printf 'world: %s\n' "$*"; }
warn() { printf 'world: WARNING: %s\n' "$*" >&2; }
die() { printf 'world: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run me as root (I install packages, add a user and start registries)"
umask 022

# One setup at a time: engineers and CI share this machine.
install -d -m 0755 "$STATE"
exec 9>"$STATE/.lock"
if ! flock -n 9; then
    say "waiting for another setup.sh to finish"
    flock 9
fi

# ------------------------------------------------------------------ packages
PKGS=(uidmap slirp4netns passt fuse-overlayfs fuse3 docker-registry skopeo umoci
      busybox-static apache2-utils openssl podman runc conmon catatonit hyperfine
      jq curl ca-certificates iproute2 procps psmisc util-linux python3 debootstrap
      groff-base man-db zstd systemd zsh fish gcc libc6-dev python3-venv
      netavark aardvark-dns podman-compose openssh-server)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    # No init system runs services here: stop maintainer scripts from trying
    # (docker-registry would otherwise start on :5000 with the packaged config).
    policy_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_added=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/rpod-world-apt.log 2>&1; then
        [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d
        tail -20 /tmp/rpod-world-apt.log >&2
        die "apt-get install failed (full log: /tmp/rpod-world-apt.log)"
    fi
    [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# ------------------------------------------------------------------ user
if ! id "$TEST_USER" >/dev/null 2>&1; then
    # -K ..._COUNT=0: no automatic subordinate range; we add a fixed one below.
    useradd -m -d "/home/$TEST_USER" -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$TEST_USER"
    say "created user $TEST_USER"
fi
for f in /etc/subuid /etc/subgid; do
    touch "$f"
    want="$TEST_USER:$SUB_START:$SUB_COUNT"
    if grep -qx "$want" "$f"; then continue; fi
    grep -q "^$TEST_USER:" "$f" && die "$f has another range for $TEST_USER; expected $want"
    # Refuse to overlap anyone else's range: the kernel would let two users'
    # containers share ids.
    awk -F: -v s=$SUB_START -v c=$SUB_COUNT -v f="$f" \
        'NF==3 && $2 < s+c && s < $2+$3 { print f ": range of " $1 " (" $2 "+" $3 ") overlaps " s "+" c; bad=1 }
         END { exit bad }' "$f" >&2 || die "subordinate id ranges overlap"
    echo "$want" >>"$f"
done

# ------------------------------------------------------------------ devices
[ -e /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229
mkdir -p /dev/net
[ -e /dev/net/tun ] || mknod -m 0666 /dev/net/tun c 10 200
chmod 0666 /dev/fuse /dev/net/tun

# ------------------------------------------------------------------ state, CA, auth
install -d -m 0755 "$STATE" "$STATE/ca" "$STATE/auth" "$STATE/run" "$STATE/log" \
    "$STATE/stamps" "$STATE/oci" "$STATE/cache" "$STATE/registry" \
    "$STATE/certs.d/localhost:$TLS_PORT" "$STATE/certs.d/127.0.0.1:$TLS_PORT"
CA="$STATE/ca"
if [ ! -s "$CA/ca.crt" ] || [ ! -s "$CA/server.crt" ] || [ ! -s "$CA/other-ca.crt" ]; then
    say "making the test CA and server certificate"
    tmp=$(mktemp -d)
    ( cd "$tmp"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
          -subj "/CN=rpod test world CA" \
          -addext "basicConstraints=critical,CA:TRUE" \
          -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      # A second, unrelated CA for "wrong CA" tests.
      openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -days 3650 \
          -subj "/CN=rpod test world other CA" \
          -addext "basicConstraints=critical,CA:TRUE" \
          -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
          -subj "/CN=localhost" 2>/dev/null
      printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
          "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >ext.cnf
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 2 \
          -out server.crt -days 3650 -extfile ext.cnf 2>/dev/null
      chmod 0600 ca.key other-ca.key server.key
      chmod 0644 ca.crt other-ca.crt server.crt
      mv ca.key other-ca.key server.key "$CA/"
      mv other-ca.crt server.crt "$CA/"
      mv ca.crt "$CA/" )    # ca.crt last: its presence means the set is complete
    rm -rf "$tmp"
fi
for d in "localhost:$TLS_PORT" "127.0.0.1:$TLS_PORT"; do
    cp "$CA/ca.crt" "$STATE/certs.d/$d/ca.crt"
done
if [ ! -s "$STATE/auth/htpasswd" ] || ! htpasswd -vbi "$STATE/auth/htpasswd" "$REG_USER" <<<"$REG_PASS" >/dev/null 2>&1; then
    printf '%s' "$REG_PASS" | htpasswd -niB "$REG_USER" >"$STATE/auth/htpasswd.tmp"
    mv "$STATE/auth/htpasswd.tmp" "$STATE/auth/htpasswd"
fi
chmod 0644 "$STATE/auth/htpasswd"

# ------------------------------------------------------------------ registries
write_config() { # NAME PORT TLS(0/1)
    local name=$1 port=$2 tls=$3
    mkdir -p "$STATE/registry/$name"
    {
        echo "version: 0.1"
        echo "log: {level: warn, accesslog: {disabled: true}}"
        echo "storage:"
        echo "  filesystem: {rootdirectory: $STATE/registry/$name}"
        echo "  delete: {enabled: true}"
        echo "  cache: {blobdescriptor: inmemory}"
        echo "http:"
        echo "  addr: 127.0.0.1:$port"
        echo "  headers: {X-Content-Type-Options: [nosniff]}"
        if [ "$tls" = 1 ]; then
            echo "  tls: {certificate: $CA/server.crt, key: $CA/server.key}"
            echo "auth:"
            echo "  htpasswd: {realm: rpod-test-world, path: $STATE/auth/htpasswd}"
        fi
    } >"$STATE/registry/$name.yml.tmp"
    mv "$STATE/registry/$name.yml.tmp" "$STATE/registry/$name.yml"
}

healthy() { # NAME
    case $1 in
        plain) curl -sf -o /dev/null --max-time 3 "http://127.0.0.1:$PLAIN_PORT/v2/" ;;
        tls) curl -sf -o /dev/null --max-time 3 --cacert "$CA/ca.crt" -u "$REG_USER:$REG_PASS" \
                 "https://localhost:$TLS_PORT/v2/" ;;
        bad) curl -sf -o /dev/null --max-time 3 "http://127.0.0.1:$BAD_PORT/v2/" ;;
    esac
}

start_service() { # NAME PORT CMD...
    local name=$1 port=$2; shift 2
    local pidfile="$STATE/run/$name.pid"
    healthy "$name" && return 0
    # Alive but unhealthy: stop it, but only if the pid is still ours (pids
    # get reused after a reboot).
    local old
    old=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$old" ] && tr '\0' ' ' 2>/dev/null </proc/"$old"/cmdline | grep -qF -- "$*"; then
        kill "$old" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$old" 2>/dev/null || true
        sleep 0.2
    fi
    local holder
    holder=$(ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
    if [ -n "$holder" ] && tr '\0' ' ' 2>/dev/null </proc/"$holder"/cmdline |
            grep -q '^docker-registry serve /etc/docker/registry/config.yml'; then
        # The packaged service, started by its postinst on some machine: its
        # config listens on :5000 with auth. Ours replaces it.
        warn "stopping the packaged docker-registry service (pid $holder) that holds port $port"
        /etc/init.d/docker-registry stop >/dev/null 2>&1 || kill "$holder" 2>/dev/null || true
        sleep 0.5
    fi
    if ss -Hltn "sport = :$port" | grep -q .; then
        ss -Hltnp "sport = :$port" >&2
        die "port $port is taken by something else (see above); stop it and re-run"
    fi
    # 9>&-: the service must not inherit (and hold forever) setup's lock.
    setsid "$@" </dev/null >>"$STATE/log/$name.log" 2>&1 9>&- &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        healthy "$name" && { say "started $name on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return 0; }
        kill -0 "$(cat "$pidfile")" 2>/dev/null || break
        sleep 0.1
    done
    tail -5 "$STATE/log/$name.log" >&2
    die "$name did not come up on port $port (log: $STATE/log/$name.log)"
}

write_config plain $PLAIN_PORT 0
write_config tls $TLS_PORT 1
start_service plain $PLAIN_PORT docker-registry serve "$STATE/registry/plain.yml"
start_service tls $TLS_PORT docker-registry serve "$STATE/registry/tls.yml"
install -d -m 0755 "$STATE/oci/bad"
start_service bad $BAD_PORT python3 "$HERE/badreg.py" --addr 127.0.0.1 --port $BAD_PORT --root "$STATE/oci/bad"

# ------------------------------------------------------------------ fixtures
# A layout is rebuilt when the hash of the builder's inputs changes; a tag is
# re-pushed when its stamp is stale or the registry no longer serves the
# digest the stamp recorded.
INPUTS=$(cat "$HERE/build_fixtures.py" /bin/busybox | sha256sum | cut -c1-64)
BUILDER=(python3 "$HERE/build_fixtures.py" "$STATE/oci")

layout_fresh() { [ -d "$STATE/oci/$1" ] && [ "$(cat "$STATE/stamps/layout-${1//\//_}" 2>/dev/null)" = "$2" ]; }

build_layouts() { # INPUTHASH NAME...
    local h=$1; shift
    local todo=()
    for n in "$@"; do layout_fresh "$n" "$h" || todo+=("$n"); done
    [ ${#todo[@]} -eq 0 ] && return 0
    say "building ${todo[*]}"
    # Explicit: errexit does not apply when called from an `if`.
    "${BUILDER[@]}" "${todo[@]}" >/dev/null || return 1
    for n in "${todo[@]}"; do echo "$h" >"$STATE/stamps/layout-${n//\//_}"; done
}

MANIFEST_ACCEPT="application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json"

served_digest() { # HOST:PORT/REPO:TAG
    local ref=$1 host=${1%%/*} rest=${1#*/}
    local repo=${rest%:*} tag=${rest##*:} url opts=()
    if [ "$host" = "localhost:$TLS_PORT" ]; then
        url="https://$host"; opts=(--cacert "$CA/ca.crt" -u "$REG_USER:$REG_PASS")
    else
        url="http://$host"
    fi
    curl -sfI --max-time 5 "${opts[@]}" -H "Accept: $MANIFEST_ACCEPT" "$url/v2/$repo/manifests/$tag" |
        tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}

pushed=0
push() { # LAYOUT DEST-REF [skopeo flags...]
    local layout=$1 dest=$2; shift 2
    local stampf="$STATE/stamps/push-$(echo "$dest" | tr '/:' '__')"
    local want="$(cat "$STATE/stamps/layout-$layout" 2>/dev/null)"
    if [ -s "$stampf" ]; then
        local s_in s_dig
        read -r s_in s_dig <"$stampf" || true
        if [ "$s_in" = "$want" ] && [ -n "$s_dig" ] && [ "$(served_digest "$dest")" = "$s_dig" ]; then
            return 0
        fi
    fi
    local opts=(--quiet --dest-tls-verify=false)
    if [[ $dest == localhost:$TLS_PORT/* ]]; then
        opts=(--quiet --dest-cert-dir "$STATE/certs.d/localhost:$TLS_PORT" --dest-creds "$REG_USER:$REG_PASS")
    fi
    local dfile
    dfile=$(mktemp)
    # Explicit: errexit does not apply when push is called from an `if`.
    if ! skopeo copy "${opts[@]}" --digestfile "$dfile" "$@" "oci:$STATE/oci/$layout:latest" "docker://$dest"; then
        rm -f "$dfile" "$stampf"
        return 1
    fi
    echo "$want $(cat "$dfile")" >"$stampf"
    rm -f "$dfile"
    say "pushed $dest ($(cut -d' ' -f2 "$stampf"))"
    pushed=$((pushed + 1))
}

# The small fixtures first: everyone tests against alpine.
SMALL=(alpine alpine-zstd alpine-plain layers config nocmd multiarch sparse-gnu devnodes)
build_layouts "$INPUTS" "${SMALL[@]}"
R=localhost:$PLAIN_PORT
push alpine "$R/alpine:latest" --preserve-digests
push alpine "$R/alpine:3" --preserve-digests
push alpine "$R/library/alpine:latest" --preserve-digests
push alpine "localhost:$TLS_PORT/alpine:latest" --preserve-digests
push alpine "$R/schema2:latest" --format v2s2
push alpine-zstd "$R/alpine-zstd:latest" --preserve-digests
push alpine-plain "$R/alpine-plain:latest" --preserve-digests
push layers "$R/layers:latest" --preserve-digests
push config "$R/config:latest" --preserve-digests
push nocmd "$R/nocmd:latest" --preserve-digests
push sparse-gnu "$R/sparse-gnu:latest" --preserve-digests
push devnodes "$R/devnodes:latest" --preserve-digests
push multiarch "$R/multiarch:latest" --all --preserve-digests
if ! push multiarch "$R/schema2-list:latest" --all --format v2s2 2>"$STATE/log/schema2-list.err"; then
    warn "skopeo could not make a Docker manifest list: $(tail -1 "$STATE/log/schema2-list.err")"
fi

BAD=(malformed badmedia corrupt truncated baddiffid evil-dotdot evil-abs evil-symlink
     evil-symlink-layers evil-hardlink)
build_layouts "$INPUTS" "${BAD[@]/#/bad/}"

build_layouts "$INPUTS" large
push large "$R/large:latest" --preserve-digests

# The mirror this machine's apt already uses for SUITE's main component
# (deb822 .sources files and one-line sources.list), so the world builds
# wherever apt works and no mirror is written into the repository.
apt_mirror() { # SUITE
    local suite=$1 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        # Stanzas are separated by blank lines; take the first that has the suite and main.
        awk -v suite="$suite" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && (" " comps " ") ~ / main /) {
                    split(uris, u, " "); print u[1]; found = 1; exit
                }
                types = suites = comps = uris = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            tolower($1) == "types:" { $1 = ""; types = $0 }
            tolower($1) == "uris:" { $1 = ""; uris = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "components:" { $1 = ""; comps = $0 }
            END { if (!found) flush() }' "$f" | head -1 | grep . && return 0
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        # deb [options] URI SUITE COMPONENT...
        sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '
            $1 == "deb" && $3 == suite { for (i = 4; i <= NF; i++) if ($i == "main") { print $2; exit } }' |
            head -1 | grep . && return 0
    done
    return 0
}

# Debian: debootstrap once into a cached tar, then a one-layer image.
DEBIAN_OK=0
DEB_TAR="$STATE/cache/debian-bookworm-minbase.tar"
if [ "${RPOD_WORLD_SKIP_DEBIAN:-0}" = 1 ]; then
    warn "RPOD_WORLD_SKIP_DEBIAN=1: no debian fixture; tests that need it will skip"
else
    if [ ! -s "$DEB_TAR" ]; then
        say "debootstrap bookworm minbase (about a minute, once)"
        dtmp="$STATE/cache/debian-rootfs.tmp"
        rm -rf "$dtmp" "$DEB_TAR.sha256"
        mirror=$(apt_mirror bookworm)
        if [ -z "$mirror" ]; then
            warn "no apt source for bookworm main in /etc/apt: no debian fixture"
        elif debootstrap --variant=minbase bookworm "$dtmp" "$mirror" \
                >"$STATE/log/debootstrap.log" 2>&1 &&
           "${BUILDER[@]}" pack-dir "$dtmp" "$DEB_TAR"; then
            :
        else
            warn "debootstrap failed (log: $STATE/log/debootstrap.log): $(tail -1 "$STATE/log/debootstrap.log")"
        fi
        rm -rf "$dtmp"
    fi
    if [ -s "$DEB_TAR" ]; then
        DEB_INPUTS=$( (echo "$INPUTS"; cat "$DEB_TAR.sha256" 2>/dev/null || sha256sum "$DEB_TAR" | tee "$DEB_TAR.sha256") | sha256sum | cut -c1-64)
        if RPOD_DEBIAN_TAR="$DEB_TAR" build_layouts "$DEB_INPUTS" debian &&
           push debian "$R/debian:latest" --preserve-digests; then
            DEBIAN_OK=1
        else
            warn "could not build or push the debian fixture"
        fi
    fi
fi

# ------------------------------------------------------------------ kubernetes-validate
# The official Kubernetes schemas, offline, for the kube tests (PyPI's
# kubernetes-validate in a venv). Optional: without it the tests say so and
# check what they can.
KUBE_VALIDATE=""
KV="$STATE/kv"
if [ -x "$KV/bin/kubernetes-validate" ] ||
   { python3 -m venv "$KV" >/dev/null 2>&1 &&
     "$KV/bin/pip" install -q kubernetes-validate >/tmp/rpod-world-kv.log 2>&1; }; then
    KUBE_VALIDATE="$KV/bin/kubernetes-validate"
else
    warn "could not install kubernetes-validate (log: /tmp/rpod-world-kv.log)"
fi

# ------------------------------------------------------------------ env file
cat >"$STATE/env.tmp" <<EOF
TEST_USER=$TEST_USER
TEST_UID=$(id -u $TEST_USER)
TEST_GID=$(id -g $TEST_USER)
SUBID_START=$SUB_START
SUBID_COUNT=$SUB_COUNT
REGISTRY=localhost:$PLAIN_PORT
TLS_REGISTRY=localhost:$TLS_PORT
BAD_REGISTRY=localhost:$BAD_PORT
REG_USER=$REG_USER
REG_PASS=$REG_PASS
CA_CERT=$CA/ca.crt
OTHER_CA_CERT=$CA/other-ca.crt
CERTS_D=$STATE/certs.d
STATE_DIR=$STATE
DEBIAN_OK=$DEBIAN_OK
KUBE_VALIDATE=$KUBE_VALIDATE
EOF
chmod 0644 "$STATE/env.tmp"
mv "$STATE/env.tmp" "$STATE/env"

T1=$(date +%s%N)
ms=$(( (T1 - T0) / 1000000 ))
say "ready in $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s: plain http://localhost:$PLAIN_PORT, tls+auth https://localhost:$TLS_PORT ($REG_USER), bad http://localhost:$BAD_PORT; user $TEST_USER; $pushed tag(s) pushed; DEBIAN_OK=$DEBIAN_OK; env in $STATE/env"
