#!/usr/bin/env python3
"""Build rpod's fixture images as OCI layouts, reproducibly.

Every tar entry has a fixed mtime, empty owner names and a fixed order, and
gzip streams carry mtime 0, so the same inputs (this file and /bin/busybox)
give the same digests on every machine of the project's kind.

Usage: build_fixtures.py OUTDIR NAME...     build the named layouts
       build_fixtures.py --list              print the fixture names

Each layout is OUTDIR/NAME (oci-layout, index.json, blobs/sha256), with the
tag "latest". Bad-registry fixtures (names starting with "bad/") land in
OUTDIR/bad/NAME, with an optional badreg.json read by badreg.py.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

MTIME = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
BUSYBOX = "/bin/busybox"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_GZIP = MT_TAR + "+gzip"
MT_ZSTD = MT_TAR + "+zstd"


# ---------------------------------------------------------------- entries


class Entry:
    """One tar entry. kind: d (dir), f (file), l (symlink), h (hardlink)."""

    def __init__(self, path, kind, mode=0o644, uid=0, gid=0, data=b"",
                 target=None, xattrs=None, sparse=None, stream=None, size=None):
        self.path = path.rstrip("/") or path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.data = data
        self.target = target
        self.xattrs = xattrs or {}
        self.sparse = sparse  # (realsize, [(offset, bytes), ...])
        self.stream = stream  # callable -> file object giving `size` bytes
        self.size = size if size is not None else len(data)


def D(path, mode=0o755, uid=0, gid=0):
    return Entry(path, "d", mode, uid, gid)


def F(path, data=b"", mode=0o644, uid=0, gid=0, xattrs=None):
    if isinstance(data, str):
        data = data.encode()
    return Entry(path, "f", mode, uid, gid, data=data, xattrs=xattrs)


def L(path, target):
    return Entry(path, "l", 0o777, target=target)


def H(path, target):
    return Entry(path, "h", target=target)


def WH(path):
    d, _, name = path.rpartition("/")
    return F((d + "/" if d else "") + ".wh." + name, b"", 0o644)


def OPQ(dirpath):
    return F(dirpath.rstrip("/") + "/.wh..wh..opq", b"", 0o644)


def SPARSE(path, realsize, chunks, mode=0o644, uid=0, gid=0, fmt="pax"):
    """A sparse file. fmt "pax": PAX sparse 1.0 (GNU tar --format=posix; what
    Go's archive/tar, hence podman and docker, read); "gnu": an old-GNU 'S'
    entry (GNU tar's default; the Rust tar crate reads it, podman can't)."""
    e = Entry(path, "f", mode, uid, gid)
    e.sparse = (realsize, chunks)
    e.sparse_fmt = fmt
    e.size = realsize
    return e


def sparse_chunks(size, block=4096):
    """Block-aligned data at both ends and a hole between, as GNU tar lays
    out such a file: "begin\\n" ... "end\\n"."""
    head = b"begin\n".ljust(block, b"\0")
    tail = b"end\n".rjust(block, b"\0")
    return [(0, head), (size - block, tail)]


def tar_order(entries):
    """Parents before children; hardlink targets before links."""
    out = sorted(entries, key=lambda e: e.path.split("/"))
    seen = set()
    for e in out:
        if e.kind == "h" and not e.target.startswith(("/", "..")):  # evil ones may
            assert e.target in seen, f"hardlink {e.path} before its target {e.target}"
        seen.add(e.path)
    return out


# ---------------------------------------------------------------- tar writing


def _octal(n, width):
    return ("%0*o" % (width - 1, n)).encode() + b"\0"


def gnu_sparse_header(e):
    """An old-GNU sparse ('S') header: tarfile reads these but can't write them."""
    realsize, chunks = e.sparse
    assert len(chunks) <= 4, "no extended sparse headers needed here"
    stored = sum(len(b) for _, b in chunks)
    h = bytearray(512)
    name = e.path.encode()
    assert len(name) < 100
    h[0:len(name)] = name
    h[100:108] = _octal(e.mode, 8)
    h[108:116] = _octal(e.uid, 8)
    h[116:124] = _octal(e.gid, 8)
    h[124:136] = _octal(stored, 12)
    h[136:148] = _octal(MTIME, 12)
    h[156:157] = b"S"
    h[257:265] = b"ustar  \0"
    for i, (off, b) in enumerate(chunks):
        base = 386 + i * 24
        h[base:base + 12] = _octal(off, 12)
        h[base + 12:base + 24] = _octal(len(b), 12)
    h[482] = 0  # no extension headers
    h[483:495] = _octal(realsize, 12)
    h[148:156] = b" " * 8
    chk = sum(h)
    h[148:156] = ("%06o" % chk).encode() + b"\0 "
    data = b"".join(b for _, b in chunks)
    pad = (-len(data)) % 512
    return bytes(h) + data + b"\0" * pad


def pax_sparse(e):
    """(TarInfo, payload) for a PAX sparse 1.0 entry: the map in decimal lines,
    padded to a block, then the data chunks."""
    realsize, chunks = e.sparse
    chunks = list(chunks) + [(realsize, b"")]  # GNU tar ends the map so
    lines = [str(len(chunks))]
    for off, b in chunks:
        lines += [str(off), str(len(b))]
    m = ("\n".join(lines) + "\n").encode()
    m += b"\0" * ((-len(m)) % 512)
    payload = m + b"".join(b for _, b in chunks)
    d, _, base = e.path.rpartition("/")
    ti = tarfile.TarInfo((d + "/" if d else "") + "GNUSparseFile.0/" + base)
    ti.size = len(payload)
    ti.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                      "GNU.sparse.name": e.path, "GNU.sparse.realsize": str(realsize)}
    return ti, payload


def write_tar(entries, fileobj, order=True):
    tf = tarfile.open(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT,
                      encoding="utf-8")
    by_path = {e.path: e for e in entries}
    for e in (tar_order(entries) if order else entries):
        if e.kind == "h" and e.target in by_path:
            # As tar writes them: a hardlink header repeats its inode's
            # metadata, and extractors (podman's among them) apply it.
            t = by_path[e.target]
            e.mode, e.uid, e.gid = t.mode, t.uid, t.gid
        if e.sparse is not None and e.sparse_fmt == "pax":
            ti, payload = pax_sparse(e)
            ti.mtime, ti.mode, ti.uid, ti.gid = MTIME, e.mode, e.uid, e.gid
            ti.uname = ti.gname = ""
            tf.addfile(ti, io.BytesIO(payload))
            continue
        if e.sparse is not None:
            raw = gnu_sparse_header(e)
            tf.fileobj.write(raw)
            tf.offset += len(raw)
            continue
        ti = tarfile.TarInfo(e.path)
        ti.mtime = MTIME
        ti.mode = e.mode
        ti.uid, ti.gid = e.uid, e.gid
        ti.uname = ti.gname = ""
        if e.xattrs:
            ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in e.xattrs.items()}
        src = None
        if e.kind == "d":
            ti.type = tarfile.DIRTYPE
        elif e.kind == "l":
            ti.type = tarfile.SYMTYPE
            ti.linkname = e.target
        elif e.kind == "h":
            ti.type = tarfile.LNKTYPE
            ti.linkname = e.target
        elif e.kind in ("c", "b"):
            ti.type = tarfile.CHRTYPE if e.kind == "c" else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = e.target
        elif e.kind == "p":
            ti.type = tarfile.FIFOTYPE
        else:
            ti.type = tarfile.REGTYPE
            ti.size = e.size
            src = e.stream() if e.stream else io.BytesIO(e.data)
        tf.addfile(ti, src)
        if e.stream and src is not None and hasattr(src, "close"):
            src.close()
    tf.close()


# ---------------------------------------------------------------- layout


class Layout:
    def __init__(self, root):
        self.root = root
        if os.path.exists(root):
            shutil.rmtree(root)
        os.makedirs(os.path.join(root, "blobs", "sha256"))
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        self.index = []

    def blob_path(self, digest):
        return os.path.join(self.root, "blobs", "sha256", digest.split(":", 1)[1])

    def put_bytes(self, data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(self.blob_path(digest), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def put_file(self, path, media_type):
        h = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
                size += len(b)
        digest = "sha256:" + h.hexdigest()
        shutil.move(path, self.blob_path(digest))
        return {"mediaType": media_type, "digest": digest, "size": size}

    def put_json(self, obj, media_type):
        return self.put_bytes(canon(obj), media_type)

    def tag(self, desc, tag="latest"):
        d = dict(desc)
        d["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.index.append(d)

    def close(self):
        with open(os.path.join(self.root, "index.json"), "wb") as f:
            f.write(canon({"schemaVersion": 2, "mediaType": MT_INDEX,
                           "manifests": self.index}))


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return "sha256:" + h.hexdigest()


_layer_cache = {}
_cache_dir = None


def add_layer(layout, entries, compression="gzip", key=None, tar_path=None):
    """Write one layer blob; return (descriptor, diff_id). key caches by name."""
    ck = (key, compression) if key else None
    if ck and ck in _layer_cache:
        src, desc, diff_id = _layer_cache[ck]
        dst = layout.blob_path(desc["digest"])
        if not os.path.exists(dst):
            shutil.copyfile(src, dst)
        return desc, diff_id
    tmpdir = os.path.join(layout.root, "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    if tar_path is None:
        tar_path = os.path.join(tmpdir, "layer.tar")
        with open(tar_path, "wb") as f:
            write_tar(entries, f)
        own_tar = True
    else:
        own_tar = False
    diff_id = sha256_file(tar_path)
    out = os.path.join(tmpdir, "layer.blob")
    if compression == "gzip":
        level = 1 if os.path.getsize(tar_path) > (32 << 20) else 6
        with open(tar_path, "rb") as src, open(out, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                               compresslevel=level) as gz:
                shutil.copyfileobj(src, gz, 1 << 20)
        mt = MT_GZIP
    elif compression == "zstd":
        subprocess.run(["zstd", "-q", "-f", "-3", "--single-thread", tar_path, "-o", out],
                       check=True)
        mt = MT_ZSTD
    elif compression == "none":
        shutil.copyfile(tar_path, out)
        mt = MT_TAR
    else:
        raise ValueError(compression)
    if own_tar:
        os.unlink(tar_path)
    desc = layout.put_file(out, mt)
    if ck:
        global _cache_dir
        if _cache_dir is None:
            _cache_dir = tempfile.mkdtemp(prefix="rpod-fixtures-")
        keep = os.path.join(_cache_dir, desc["digest"].split(":", 1)[1])
        shutil.copyfile(layout.blob_path(desc["digest"]), keep)
        _layer_cache[ck] = (keep, desc, diff_id)
    shutil.rmtree(tmpdir, ignore_errors=True)
    return desc, diff_id


def add_image(layout, layers, config=None, arch="amd64", variant=None,
              history=None, tag="latest"):
    """layers: list of (descriptor, diff_id). Returns the manifest descriptor."""
    cfg = {
        "created": CREATED,
        "architecture": arch,
        "os": "linux",
        "config": config if config is not None else {},
        "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]},
        "history": history or [
            {"created": CREATED, "created_by": "rpod test world layer %d" % i}
            for i in range(len(layers))
        ],
    }
    if variant:
        cfg["variant"] = variant
    cdesc = layout.put_json(cfg, MT_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": cdesc,
        "layers": [d for d, _ in layers],
    }
    mdesc = layout.put_json(manifest, MT_MANIFEST)
    if tag:
        layout.tag(mdesc, tag)
    return mdesc


# ---------------------------------------------------------------- alpine


PASSWD = """root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
guest:x:405:100:guest:/home/guest:/bin/sh
nobody:x:65534:65534:nobody:/:/sbin/nologin
"""

GROUP = """root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
wheel:x:10:root
staff:x:50:guest
users:x:100:
nogroup:x:65533:
nobody:x:65534:
"""

OS_RELEASE = """NAME="rpod test world (busybox)"
ID=rpod-busybox
ID_LIKE=alpine
VERSION_ID=1
PRETTY_NAME="rpod test world busybox image"
HOME_URL="https://example.invalid/rpod"
"""


def busybox_applets():
    out = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True,
                         text=True).stdout.split()
    return sorted(p for p in out if p and p != "bin/busybox")


def alpine_entries():
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    es = [D(d) for d in ("bin", "dev", "etc", "home", "lib", "media", "mnt", "opt",
                         "proc", "run", "sbin", "srv", "sys", "usr", "usr/bin",
                         "usr/local", "usr/local/bin", "usr/sbin", "var",
                         "var/cache", "var/lib", "var/log", "var/spool")]
    es += [D("root", 0o700), D("tmp", 0o1777), D("var/tmp", 0o1777),
           D("home/guest", 0o755, 405, 100)]
    es.append(F("bin/busybox", bb, 0o755))
    es += [L(p, "/bin/busybox") for p in busybox_applets()]
    es += [
        F("etc/passwd", PASSWD),
        F("etc/group", GROUP),
        F("etc/shadow", "root:*::0:::::\nguest:!::0:::::\nnobody:!::0:::::\n", 0o640),
        F("etc/os-release", OS_RELEASE),
        F("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n"),
        F("etc/hostname", "localhost\n"),
        F("etc/shells", "/bin/sh\n/bin/ash\n"),
    ]
    return es


ALPINE_CONFIG = {"Env": [PATH_ENV], "Cmd": ["/bin/sh"]}


def alpine_layer(layout, compression="gzip"):
    return add_layer(layout, alpine_entries(), compression, key="alpine")


def build_alpine(out, compression="gzip"):
    lay = Layout(out)
    add_image(lay, [alpine_layer(lay, compression)], ALPINE_CONFIG)
    lay.close()


# ---------------------------------------------------------------- layers


def layers_spec():
    """The layers of the `layers` fixture, all under /t."""
    big = 8 << 20
    l1 = [
        D("t"),
        F("t/keep", "keep\n"),
        F("t/deleted", "gone\n"),
        F("t/readd", "v1\n"),
        F("t/chmod", "chmod\n", 0o644),
        D("t/opq"), F("t/opq/a", "a\n"), F("t/opq/b", "b\n"),
        D("t/opq/sub"), F("t/opq/sub/c", "c\n"),
        D("t/dir2file"), F("t/dir2file/x", "x\n"),
        F("t/file2dir", "file\n"),
        D("t/deldir"), D("t/deldir/deep"), F("t/deldir/deep/z", "z\n"),
        F("t/hard-a", "hardlinked\n", 0o644, 1000, 1000),
        H("t/hard-b", "t/hard-a"),
        L("t/sym-abs", "/t/keep"),
        L("t/sym-rel", "keep"),
        L("t/sym-dangling", "does-not-exist"),
        L("t/sym-dir", "opq"),
        L("t/sym-up", "../etc/os-release"),
        L("t/sym2file", "keep"),
        F("t/suid", "#!/bin/sh\necho suid\n", 0o4755),
        F("t/sgid", "sgid\n", 0o2755, 0, 100),
        D("t/sticky", 0o1777),
        F("t/secret", "secret\n", 0o600, 1000, 1000),
        F("t/nomode", "nomode\n", 0o000),
        F("t/nobody", "nobody\n", 0o644, 65534, 65534),
        F("t/xattr", "xattr\n", xattrs={"user.rpod.test": "hello"}),
        SPARSE("t/sparse", big, sparse_chunks(big)),
        D("t/private", 0o700, 1000, 1000),
        F("t/private/inside", "inside\n", 0o640, 1000, 1000),
        D("t/ro", 0o555),
        F("t/ro/f", "ro\n", 0o444),
        D("t/owned", 0o750, 1000, 1000),
        F("t/owned/by-1000", "x\n", 0o664, 1000, 1000),
    ]
    l2 = [
        D("t"),
        WH("t/deleted"),
        WH("t/readd"),
        F("t/chmod", "chmod\n", 0o600, 65534, 65534),
        D("t/opq"), OPQ("t/opq"), F("t/opq/new", "new\n"),
        F("t/dir2file", "now a file\n"),
        D("t/file2dir"), F("t/file2dir/y", "y\n"),
        WH("t/deldir"),
        D("t/ro", 0o555), F("t/ro/g", "added later\n", 0o444),
        D("t/private", 0o700, 1000, 1000), WH("t/private/inside"),
    ]
    l3 = [
        D("t"),
        F("t/readd", "v2\n", 0o600, 1000, 1000),
        D("t/deldir"),  # recreated after the whiteout: must come back empty
        F("t/sym2file", "was a symlink\n"),
        D("t/h3"),
        F("t/h3/one", "three links\n", 0o640, 0, 100),
        H("t/h3/three", "t/h3/one"),
        H("t/h3/two", "t/h3/one"),
    ]
    l4 = [
        D("t"),
        D("t/opq"),
        D("t/opq/sub2"),
        F("t/opq/sub2/d", "d\n"),
        D("t/file2dir"),
        WH("t/file2dir/y"),
        F("t/file2dir/z", "z\n"),
    ]
    return [l1, l2, l3, l4]


def apply_layers(layers):
    """The builder's model of the merged tree: path -> Entry (with nlink)."""
    tree = {}

    def drop(prefix):
        for p in [p for p in tree if p == prefix or p.startswith(prefix + "/")]:
            del tree[p]

    for layer in layers:
        added = set()
        for e in tar_order(layer):
            d, _, name = e.path.rpartition("/")
            if name == ".wh..wh..opq":
                for p in [p for p in tree if p.startswith(d + "/") and p not in added]:
                    del tree[p]
                continue
            if name.startswith(".wh."):
                drop((d + "/" if d else "") + name[4:])
                continue
            old = tree.get(e.path)
            if old is not None and not (old.kind == "d" and e.kind == "d"):
                drop(e.path)
            if e.kind == "h":
                tgt = tree[e.target]
                e2 = Entry(e.path, "f", tgt.mode, tgt.uid, tgt.gid, size=tgt.size)
                e2.inode = tgt.inode
                tree[e.path] = e2
            else:
                e.inode = e
                tree[e.path] = e
            added.add(e.path)
    return tree


def expected_tree(tree, root="t"):
    """The format check-tree.sh prints; see tests/world/README.md."""
    nlink = {}
    for e in tree.values():
        if e.kind == "f":
            nlink[id(e.inode)] = nlink.get(id(e.inode), 0) + 1
    lines = []
    for p in sorted(tree):
        if p != root and not p.startswith(root + "/"):
            continue
        e = tree[p]
        if e.kind == "d":
            lines.append("/%s d %o %d %d - - -" % (p, e.mode, e.uid, e.gid))
        elif e.kind == "l":
            lines.append("/%s l - %d %d - - %s" % (p, e.uid, e.gid, e.target))
        else:
            lines.append("/%s f %o %d %d %d %d -" % (p, e.mode, e.uid, e.gid, e.size,
                                                    nlink[id(e.inode)]))
    return "".join(l + "\n" for l in lines)


CHECK_TREE = r"""#!/bin/sh
# Print the live tree under ${1:-/t} in the format of /expected-tree.txt:
# PATH TYPE MODE UID GID SIZE NLINK TARGET, '-' where a field does not apply.
# TYPE is d, f or l; MODE is octal with setuid/setgid/sticky bits, no leading
# zeros; SIZE and NLINK only for files, TARGET only for symlinks.
find "${1:-/t}" | sort | while IFS= read -r p; do
    stat -c '%a %u %g %s %h %F' "$p" | {
        read -r mode uid gid size nlink ftype
        case "$ftype" in
            directory) echo "$p d $mode $uid $gid - - -" ;;
            "symbolic link") echo "$p l - $uid $gid - - $(readlink "$p")" ;;
            "regular file"|"regular empty file") echo "$p f $mode $uid $gid $size $nlink -" ;;
            *) echo "$p ? $mode $uid $gid $size $nlink $ftype" ;;
        esac
    }
done
"""


def build_layers(out):
    lay = Layout(out)
    layers = [alpine_layer(lay)]
    spec = layers_spec()
    for l in spec:
        layers.append(add_layer(lay, l))
    exp = expected_tree(apply_layers(spec))
    layers.append(add_layer(lay, [F("expected-tree.txt", exp),
                                  F("check-tree.sh", CHECK_TREE, 0o755)]))
    add_image(lay, layers, {"Env": [PATH_ENV], "Cmd": ["/bin/sh", "/check-tree.sh"]})
    lay.close()


# ---------------------------------------------------------------- config / nocmd


CONFIG_CONFIG = {
    "User": "guest",
    "Env": [PATH_ENV, "EMPTY=", "GREETING=hello world", "RPOD_FIXTURE=config"],
    "WorkingDir": "/work",
    "Entrypoint": ["/bin/echo", "entry"],
    "Cmd": ["cmd-default"],
    "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
    "Labels": {"org.rpod.fixture": "config", "maintainer": "rpod test world"},
    "StopSignal": "SIGUSR1",
}


def build_config(out):
    lay = Layout(out)
    extra = add_layer(lay, [D("work", 0o755, 405, 100),
                            F("work/hello.txt", "hello from /work\n", 0o644, 405, 100)])
    add_image(lay, [alpine_layer(lay), extra], CONFIG_CONFIG)
    lay.close()


def build_sparse_gnu(out):
    big = 8 << 20
    lay = Layout(out)
    extra = add_layer(lay, [D("sparse"),
                            SPARSE("sparse/file", big, sparse_chunks(big), fmt="gnu")])
    add_image(lay, [alpine_layer(lay), extra], ALPINE_CONFIG)
    lay.close()


def build_devnodes(out):
    """Device nodes and a fifo in a layer: an unprivileged user can't mknod
    devices, so rpod skips them with a note; the fifo and file are kept."""
    lay = Layout(out)
    extra = add_layer(lay, [D("nodes"),
                            Entry("nodes/null", "c", 0o666, target=(1, 3)),
                            Entry("nodes/loop9", "b", 0o660, 0, 6, target=(7, 9)),
                            Entry("nodes/fifo", "p", 0o644),
                            F("nodes/regular", "regular\n")])
    add_image(lay, [alpine_layer(lay), extra], ALPINE_CONFIG)
    lay.close()


MANY = 50


def build_many(out):
    """MANY distinct images (tags img-01...) sharing the alpine layer: an image
    store of realistic size for `images` benchmarks. Not pushed by setup.sh."""
    lay = Layout(out)
    base = alpine_layer(lay)
    for i in range(1, MANY + 1):
        cfg = dict(ALPINE_CONFIG, Labels={"org.rpod.bench.n": "%02d" % i})
        add_image(lay, [base], cfg, tag="img-%02d" % i)
    lay.close()


def build_nocmd(out):
    lay = Layout(out)
    add_image(lay, [alpine_layer(lay)], {"Env": [PATH_ENV]})
    lay.close()


# ---------------------------------------------------------------- multiarch


def build_multiarch(out):
    lay = Layout(out)
    base = alpine_layer(lay)
    manifests = []
    for arch, variant in (("amd64", None), ("arm64", "v8")):
        extra = add_layer(lay, [F("arch", arch + "\n")])
        m = add_image(lay, [base, extra], dict(ALPINE_CONFIG), arch=arch,
                      variant=variant, tag=None)
        m = dict(m)
        m["platform"] = {"architecture": arch, "os": "linux"}
        if variant:
            m["platform"]["variant"] = variant
        manifests.append(m)
    idx = lay.put_json({"schemaVersion": 2, "mediaType": MT_INDEX,
                        "manifests": manifests}, MT_INDEX)
    lay.tag(idx)
    lay.close()


# ---------------------------------------------------------------- large


LARGE_LAYERS = 4
LARGE_LAYER_BYTES = 50 << 20


def aes_stream(seed, size):
    """Incompressible, reproducible bytes: AES-256-CTR of zeros with a fixed key."""
    key = hashlib.sha256(b"rpod-large-key-%d" % seed).hexdigest()
    iv = hashlib.sha256(b"rpod-large-iv-%d" % seed).hexdigest()[:32]

    class Stream:
        def __init__(self):
            self.zero = open("/dev/zero", "rb")
            self.p = subprocess.Popen(
                ["openssl", "enc", "-aes-256-ctr", "-nosalt", "-K", key, "-iv", iv],
                stdin=self.zero, stdout=subprocess.PIPE)

        def read(self, n=-1):
            return self.p.stdout.read(n)

        def close(self):
            self.p.kill()
            self.p.wait()
            self.p.stdout.close()
            self.zero.close()

    return Stream


def build_large(out):
    lay = Layout(out)
    layers = [alpine_layer(lay)]
    for i in range(LARGE_LAYERS):
        e = Entry("large/blob-%d" % i, "f", 0o644, stream=aes_stream(i, LARGE_LAYER_BYTES),
                  size=LARGE_LAYER_BYTES)
        layers.append(add_layer(lay, [D("large"), e]))
    add_image(lay, layers, ALPINE_CONFIG)
    lay.close()


# ---------------------------------------------------------------- debian


def build_debian(out, rootfs_tar):
    """rootfs_tar: a cached tar of a debootstrap minbase tree (setup.sh makes it)."""
    lay = Layout(out)
    layer = add_layer(lay, None, "gzip", tar_path=rootfs_tar)
    add_image(lay, [layer], {"Env": [PATH_ENV], "Cmd": ["bash"]})
    lay.close()


def pack_dir(src, dst_tar):
    """Tar a directory reproducibly: sorted, clamped mtimes, no owner names,
    xattrs kept, /dev, /proc, /sys and /run left empty as in Debian's images."""
    tmp = dst_tar + ".tmp"
    skip_children = {"dev", "proc", "sys", "run", "tmp"}
    with open(tmp, "wb") as f:
        tf = tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT)
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            rel = os.path.relpath(dirpath, src)
            if rel in skip_children:
                dirnames[:] = []
                filenames = []
            if rel == "var/cache/apt/archives":
                filenames = [n for n in filenames if not n.endswith(".deb")]
            for name in [None] + sorted(filenames + dirnames):
                if name is None:
                    if rel == ".":
                        continue
                    path, arc = dirpath, rel
                elif name in dirnames and not os.path.islink(os.path.join(dirpath, name)):
                    continue  # the walk adds it when it enters
                else:
                    path, arc = os.path.join(dirpath, name), os.path.join(rel, name)
                    if rel == ".":
                        arc = name
                ti = tf.gettarinfo(path, arc)
                ti.mtime = min(int(ti.mtime), MTIME)
                ti.uname = ti.gname = ""
                try:
                    xs = {k: os.getxattr(path, k, follow_symlinks=False).decode("utf-8", "surrogateescape")
                          for k in os.listxattr(path, follow_symlinks=False)}
                    if xs:
                        ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in xs.items()}
                except OSError:
                    pass
                if ti.isreg():
                    with open(path, "rb") as fh:
                        tf.addfile(ti, fh)
                else:
                    tf.addfile(ti)
        tf.close()
    os.replace(tmp, dst_tar)


# ---------------------------------------------------------------- bad registry


def _badmeta(lay, meta):
    with open(os.path.join(lay.root, "badreg.json"), "w") as f:
        json.dump(meta, f, sort_keys=True, indent=1)


def build_bad(name, out):
    lay = Layout(out)
    small = [D("etc"), F("etc/hello", "hello\n")]
    if name == "malformed":
        body = b'{"schemaVersion":2,"mediaType":"' + MT_MANIFEST.encode() + b'","config":{"mediaType":'
        lay.tag(lay.put_bytes(body, MT_MANIFEST))
    elif name == "badmedia":
        layer = add_layer(lay, small)
        cfg = lay.put_json({"architecture": "amd64", "os": "linux", "config": {},
                            "rootfs": {"type": "layers", "diff_ids": [layer[1]]}}, MT_CONFIG)
        mt = "application/vnd.rpod.unknown.manifest.v1+json"
        lay.tag(lay.put_json({"schemaVersion": 2, "mediaType": mt, "config": cfg,
                              "layers": [layer[0]]}, mt))
    elif name == "corrupt":
        layer = add_layer(lay, small)
        add_image(lay, [layer])
        p = lay.blob_path(layer[0]["digest"])
        with open(p, "rb") as f:
            b = bytearray(f.read())
        b[len(b) // 2] ^= 0xFF  # same size, wrong bytes
        with open(p, "wb") as f:
            f.write(b)
    elif name == "truncated":
        blob = Entry("data", "f", 0o644, stream=aes_stream(99, 1 << 20), size=1 << 20)
        layer = add_layer(lay, [blob])
        add_image(lay, [layer])
        _badmeta(lay, {"truncate": {layer[0]["digest"]: layer[0]["size"] // 2}})
    elif name == "baddiffid":
        desc, _ = add_layer(lay, small)
        add_image(lay, [(desc, "sha256:" + hashlib.sha256(b"not the layer").hexdigest())])
    elif name == "evil-dotdot":
        add_image(lay, [add_layer(lay, [F("../x", "escaped\n")])])
    elif name == "evil-abs":
        add_image(lay, [add_layer(lay, [D("/abs"), F("/abs/x", "absolute\n")])])
    elif name == "evil-symlink":
        add_image(lay, [add_layer(lay, [L("link", "/tmp"), F("link/pwned", "pwned\n")])])
    elif name == "evil-symlink-layers":
        add_image(lay, [add_layer(lay, [L("link", "/tmp")]),
                        add_layer(lay, [D("link"), F("link/pwned2", "pwned\n")])])
    elif name == "evil-hardlink":
        add_image(lay, [add_layer(lay, [H("passwd", "/etc/passwd")], key=None)])
    else:
        raise SystemExit("unknown bad fixture " + name)
    lay.close()


BAD = ["malformed", "badmedia", "corrupt", "truncated", "baddiffid", "evil-dotdot",
       "evil-abs", "evil-symlink", "evil-symlink-layers", "evil-hardlink"]

GOOD = {
    "alpine": build_alpine,
    "alpine-zstd": lambda out: build_alpine(out, "zstd"),
    "alpine-plain": lambda out: build_alpine(out, "none"),
    "layers": build_layers,
    "config": build_config,
    "nocmd": build_nocmd,
    "sparse-gnu": build_sparse_gnu,
    "many": build_many,
    "devnodes": build_devnodes,
    "multiarch": build_multiarch,
    "large": build_large,
}


def main(argv):
    if argv[1:] == ["--list"]:
        print(" ".join(list(GOOD) + ["debian"] + ["bad/" + b for b in BAD]))
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = argv[1]
    for name in argv[2:]:
        dest = os.path.join(outdir, name)
        tmp = dest + ".building"
        if name in GOOD:
            GOOD[name](tmp)
        elif name == "debian":
            build_debian(tmp, os.environ["RPOD_DEBIAN_TAR"])
        elif name.startswith("bad/") and name[4:] in BAD:
            build_bad(name[4:], tmp)
        elif name == "pack-dir":  # helper: build_fixtures.py OUT pack-dir SRC DST
            pack_dir(argv[3], argv[4])
            return 0
        else:
            print("unknown fixture: " + name, file=sys.stderr)
            return 2
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.rename(tmp, dest)
        print("built " + name)
    if _cache_dir:
        shutil.rmtree(_cache_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
