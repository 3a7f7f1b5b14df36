//! Attacks by image content and by registries: forged overlay metadata in a
//! layer, manifests and configs too large to read whole, declared sizes
//! that would abort an allocation, decompression bombs, and a plain-HTTP
//! downgrade. Each asserts that the pull fails with exit code 125 and one
//! clear error line naming what was at fault, and that nothing was left in
//! the store (or written outside it).

use crate::common::{push_image, world, Env};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The one `Error:` line of a failed rpod command.
fn error_line(err: &str) -> &str {
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    lines[0]
}

/// The xattr names of `p` (not following symlinks), read as root: layer
/// dirs belong to subordinate ids.
fn xattr_names(p: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os,sys\nfor n in os.listxattr(sys.argv[1], follow_symlinks=False): print(n)",
        ])
        .arg(p)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "listxattr {}: {}",
        p.display(),
        stderr(&out)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn store(env: &Env) -> PathBuf {
    env.home.join(".local/share/rpod")
}

/// The diff dirs of every stored layer.
fn layer_diffs(env: &Env) -> Vec<PathBuf> {
    env.store_entries("layers")
        .iter()
        .map(|l| store(env).join("layers").join(l).join("diff"))
        .collect()
}

/// What the store holds: image ids and layer dirs.
fn contents(env: &Env) -> (String, Vec<String>) {
    (env.rpod_ok(&["images", "-q"]), env.store_entries("layers"))
}

/// Nothing half-done is left: no new image or layer since `before`, an
/// empty tmp dir.
fn assert_store_clean(env: &Env, before: &(String, Vec<String>)) {
    assert_eq!(&contents(env), before, "no new image or layer");
    assert!(
        env.store_entries("tmp").is_empty(),
        "nothing left in tmp: {:?}",
        env.store_entries("tmp")
    );
}

// ---------------------------------------------------------------- class 4

#[test]
fn layer_xattrs_cannot_forge_overlay_metadata() {
    // Upper layer: /d claims to be opaque and /r claims a redirect, by
    // xattrs rather than by a .wh..wh..opq entry. Either would hide the
    // lower layer's files if it reached the store.
    let img = push_image(
        "overlay-xattrs",
        r#"
layers = [
    [D("d"), F("d/lower1", "one\n"), F("d/lower2", "two\n"),
     D("r"), F("r/lower", "rl\n"), D("target"), F("target/t", "t\n")],
    [Entry("d", "d", 0o755, xattrs={"user.overlay.opaque": "y",
                                    "user.fuseoverlayfs.opaque": "y",
                                    "trusted.overlay.opaque": "y",
                                    "user.rpod.kept": "yes"}),
     F("d/upper", "up\n"),
     Entry("r", "d", 0o755, xattrs={"user.overlay.redirect": "/target",
                                    "user.overlay.metacopy": "",
                                    "user.containers.override_stat": "0:0:04755"}),
     F("r/upper", "ru\n"),
     F("f", "f\n", xattrs={"user.overlay.opaque": "y", "user.rpod.test": "hello"})],
]
"#,
    );
    let env = Env::new("ovlxattr");
    env.rpod_ok(&["pull", "-q", &img]);

    // In the store: no overlay xattr anywhere in the upper layer, the
    // others kept.
    let mut seen_kept = 0;
    for diff in layer_diffs(&env) {
        for rel in ["d", "r", "f"] {
            let p = diff.join(rel);
            if !p.exists() {
                continue;
            }
            let names = xattr_names(&p);
            for n in &names {
                assert!(
                    !n.starts_with("user.overlay.")
                        && !n.starts_with("user.fuseoverlayfs.")
                        && !n.starts_with("user.containers.")
                        && !n.starts_with("trusted."),
                    "{} kept {n}",
                    p.display()
                );
            }
            seen_kept += names
                .iter()
                .filter(|n| *n == "user.rpod.kept" || *n == "user.rpod.test")
                .count();
        }
    }
    assert_eq!(seen_kept, 2, "user.rpod.* xattrs survive");

    // In a container, under kernel overlay and fuse-overlayfs: the lower
    // files are all there.
    for driver in [None, Some("fuse-overlayfs")] {
        let mut args = vec![];
        if let Some(d) = driver {
            args.extend(["--storage-driver", d]);
        }
        args.extend([
            "run",
            "--rm",
            "--network",
            "none",
            &img,
            "sh",
            "-c",
            "cat /d/lower1 /d/lower2 /d/upper /r/lower /r/upper; ls /r",
        ]);
        let out = env.rpod_ok(&args);
        assert_eq!(
            out, "one\ntwo\nup\nrl\nru\nlower\nupper\n",
            "driver {driver:?}"
        );
    }
}

#[test]
fn the_layers_fixture_keeps_its_user_xattr() {
    let env = Env::new("keepxattr");
    env.rpod_ok(&["pull", "-q", &env.image("layers")]);
    let found = layer_diffs(&env).iter().any(|d| {
        let p = d.join("t/xattr");
        p.exists() && xattr_names(&p).iter().any(|n| n == "user.rpod.test")
    });
    assert!(found, "user.rpod.test on /t/xattr in the store");
}

// ---------------------------------------------------------------- class 7

/// A zip bomb: 50 MiB of zeros that gzip to a few dozen KiB.
#[test]
fn a_decompression_bomb_stops_at_the_layer_size_limit() {
    let img = push_image("zipbomb", r#"layers = [[F("zeros", b"\0" * (50 << 20))]]"#);
    let mut env = Env::new("zipbomb");
    env.rpod_ok(&["pull", "-q", "alpine"]);
    let before = contents(&env);
    env.set_env("RPOD_MAX_LAYER_SIZE", "10M");
    let (code, err) = env.rpod_fail(&["pull", &img]);
    assert_eq!(code, 125, "{err}");
    let line = error_line(&err);
    assert!(line.contains(&img), "{line}");
    assert!(line.contains("layer sha256:"), "names the layer: {line}");
    assert!(
        line.contains("over the 10 MiB limit") && line.contains("RPOD_MAX_LAYER_SIZE"),
        "{line}"
    );
    assert_store_clean(&env, &before);
    assert!(
        !env.home.join("zeros").exists() && !Path::new("/tmp/zeros").exists(),
        "nothing written outside the store"
    );

    // A malformed limit is named.
    env.set_env("RPOD_MAX_LAYER_SIZE", "lots");
    let (code, err) = env.rpod_fail(&["pull", &img]);
    assert_eq!(code, 125);
    assert!(
        error_line(&err).contains("RPOD_MAX_LAYER_SIZE=\"lots\""),
        "{err}"
    );
}

#[test]
fn too_many_entries_stop_at_the_entry_limit() {
    let img = push_image(
        "manyentries",
        r#"layers = [[D("many")] + [F("many/f%d" % i, "") for i in range(3000)]]"#,
    );
    let mut env = Env::new("manyent");
    env.rpod_ok(&["pull", "-q", "alpine"]);
    let before = contents(&env);
    env.set_env("RPOD_MAX_LAYER_ENTRIES", "1000");
    let (code, err) = env.rpod_fail(&["pull", &img]);
    assert_eq!(code, 125, "{err}");
    let line = error_line(&err);
    assert!(line.contains("layer sha256:"), "{line}");
    assert!(
        line.contains("more than 1000 entries") && line.contains("RPOD_MAX_LAYER_ENTRIES"),
        "{line}"
    );
    assert_store_clean(&env, &before);
    // The default limits take it.
    let env = Env::new("manyentok");
    env.rpod_ok(&["pull", "-q", &img]);
}

/// A small hostile registry on 127.0.0.1 (random port), plain HTTP: serves
/// manifests too large to read whole, descriptors with absurd sizes, and
/// blobs bigger than their descriptors. It logs each GET it answers (path
/// and bytes sent) and exits by itself after five minutes; dropping it
/// kills it.
struct HostileRegistry {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: PathBuf,
}

const HOSTILE_PY: &str = r#"
import gzip, hashlib, json, os, signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

signal.alarm(300)
LOG = sys.argv[1]
HUGE = 1 << 60

def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}).encode()
BLOB = gzip.compress(b"\0" * (4 << 20), mtime=0)
BLOB_NOLEN = gzip.compress(b"\0" * (4 << 20), mtime=1)

def manifest(config_size=len(CONFIG), layer=BLOB, layer_size=1000):
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(CONFIG), "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha(layer), "size": layer_size}]}).encode()

INDEX = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": "sha256:" + "1" * 64, "size": HUGE,
                   "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()

MANIFESTS = {
    "huge": (b"{" + b" " * (5242880 - 2) + b"}", True),
    "endless": (None, False),
    "bigconfig": (manifest(config_size=HUGE), True),
    "biglayer": (manifest(layer_size=HUGE), True),
    "bigindex": (INDEX, True),
    "lyinglayer": (manifest(layer=BLOB), True),
    "lyinglayer-nolen": (manifest(layer=BLOB_NOLEN), True),
}
BLOBS = {sha(CONFIG): (CONFIG, True), sha(BLOB): (BLOB, True), sha(BLOB_NOLEN): (BLOB_NOLEN, False)}

# A real one-layer image, "private", for the Bearer token flow (argv[2] ==
# "bearer"): every request but the token's needs "Bearer T-<n>".
import base64, io, tarfile
_tar = io.BytesIO()
with tarfile.open(fileobj=_tar, mode="w", format=tarfile.PAX_FORMAT) as tf:
    ti = tarfile.TarInfo("hello.txt")
    ti.size = 6
    tf.addfile(ti, io.BytesIO(b"hello\n"))
TAR = _tar.getvalue()
LAYER = gzip.compress(TAR, mtime=0)
CONFIG2 = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [sha(TAR)]}}).encode()
MANIFESTS["private"] = (json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": sha(CONFIG2), "size": len(CONFIG2)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha(LAYER), "size": len(LAYER)}]}).encode(), True)
BLOBS[sha(CONFIG2)] = (CONFIG2, True)
BLOBS[sha(LAYER)] = (LAYER, True)
BEARER = len(sys.argv) > 2 and sys.argv[2] == "bearer"
GOOD = "Basic " + base64.b64encode(b"rpoduser:rpodpass").decode()
# Each token is good for two requests: a pull (manifest, config, layer)
# must get a fresh one on the way, as with expiring tokens.
TOKENS = {}

def use_token(header):
    t = header[len("Bearer "):] if header.startswith("Bearer ") else ""
    if TOKENS.get(t, 0) <= 0:
        return False
    TOKENS[t] -= 1
    return True

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def body(self, data, ctype, with_len):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if with_len:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return len(data)

    def challenge(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate",
                         'Bearer realm="http://%s/token",service="hostile"' % self.headers["Host"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        sent = 0
        try:
            parts = self.path.split("?")[0].split("/")
            if BEARER and self.path.startswith("/token"):
                if self.headers.get("Authorization") == GOOD and "scope=repository%3Aprivate%3Apull" in self.path:
                    t = "T-%d" % len(TOKENS)
                    TOKENS[t] = 2
                    sent = self.body(json.dumps({"token": t}).encode(), "application/json", True)
                else:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
            elif BEARER and not use_token(self.headers.get("Authorization") or ""):
                self.challenge()
            elif self.path.startswith("/v2/") and len(parts) == 3:
                sent = self.body(b"{}", "application/json", True)
            elif len(parts) == 5 and parts[2] == "errbody":
                # An error answer that never ends.
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                chunk = b" " * (1 << 20)
                for _ in range(64):
                    self.wfile.write(chunk)
                    sent += len(chunk)
            elif len(parts) == 5 and parts[3] == "manifests" and parts[2] in MANIFESTS:
                data, with_len = MANIFESTS[parts[2]]
                if data is None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                    self.end_headers()
                    chunk = b" " * (1 << 20)
                    for _ in range(64):
                        self.wfile.write(chunk)
                        sent += len(chunk)
                else:
                    ctype = json.loads(data).get("mediaType", "application/json") if len(data) < 65536 else "application/vnd.oci.image.manifest.v1+json"
                    sent = self.body(data, ctype, with_len)
            elif len(parts) == 5 and parts[3] == "blobs" and parts[4] in BLOBS:
                data, with_len = BLOBS[parts[4]]
                sent = self.body(data, "application/octet-stream", with_len)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass
        with open(LOG, "a") as f:
            f.write("%s %d\n" % (self.path, sent))

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

impl HostileRegistry {
    fn start(name: &str) -> HostileRegistry {
        Self::start_with(name, &[])
    }

    fn start_with(name: &str, args: &[&str]) -> HostileRegistry {
        let dir = std::env::temp_dir().join(format!("rpod-hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("reg.py");
        std::fs::write(&script, HOSTILE_PY).unwrap();
        let log = dir.join("requests.log");
        std::fs::write(&log, "").unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&log)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the registry's port");
        HostileRegistry {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// (path, bytes sent) of every GET answered so far.
    fn requests(&self) -> Vec<(String, u64)> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(p, n)| (p.to_string(), n.parse().unwrap()))
            .collect()
    }

    /// Mark it `insecure = true` in the Env's registries.conf.
    fn trust_insecure(&self, env: &Env) {
        use std::io::Write;
        let conf = env.home.join(".config/containers/registries.conf");
        let mut f = std::fs::OpenOptions::new().append(true).open(conf).unwrap();
        write!(
            f,
            "\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            self.host()
        )
        .unwrap();
    }
}

impl Drop for HostileRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

#[test]
fn manifests_configs_and_declared_sizes_are_bounded() {
    let reg = HostileRegistry::start("sizes");
    let env = Env::new("sizes");
    reg.trust_insecure(&env);
    let host = reg.host();
    let cases: &[(&str, &[&str])] = &[
        // 5 MiB with an honest Content-Length: refused before reading it.
        (
            "huge",
            &["manifest latest: 5242880 bytes is over the 4 MiB limit"],
        ),
        // No Content-Length, 64 MiB on the way: reading stops at the cap.
        (
            "endless",
            &["manifest latest: more than 4194304 bytes arrived: over the 4 MiB limit"],
        ),
        // 2^60-byte config: refused before anything is allocated.
        (
            "bigconfig",
            &[
                "config sha256:",
                "1152921504606846976 bytes is over the 4 MiB limit",
            ],
        ),
        (
            "biglayer",
            &[
                "layer sha256:",
                "1152921504606846976 bytes is over the 64 GiB limit",
                "RPOD_MAX_LAYER_SIZE",
            ],
        ),
        (
            "bigindex",
            &[
                "manifest sha256:1111",
                "1152921504606846976 bytes is over the 4 MiB limit",
            ],
        ),
        // An endless error answer: cut, not read whole.
        ("errbody", &["status 404 from http://"]),
        // A blob bigger than its descriptor says, by Content-Length...
        (
            "lyinglayer",
            &[
                "layer sha256:",
                "the registry sends",
                "descriptor says 1000",
            ],
        ),
        // ...and without one: cut off once it passes the declared size.
        (
            "lyinglayer-nolen",
            &[
                "layer sha256:",
                "more than the 1000 bytes its descriptor says",
            ],
        ),
    ];
    for (name, expect) in cases {
        let img = format!("{host}/{name}");
        let (code, err) = env.rpod_fail(&["pull", &img]);
        assert_eq!(code, 125, "{name}: {err}");
        let line = error_line(&err);
        assert!(line.contains(&format!("pulling {img}")), "{name}: {line}");
        for e in *expect {
            assert!(line.contains(e), "{name}: expected {e:?} in: {line}");
        }
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_store_clean(&env, &(String::new(), vec![]));
    }
    let reqs = reg.requests();
    // Nothing was fetched for the absurd descriptors.
    assert!(
        !reqs
            .iter()
            .any(|(p, _)| p.contains("/bigindex/manifests/sha256:")),
        "{reqs:?}"
    );
    assert!(
        !reqs
            .iter()
            .any(|(p, _)| p.contains("/bigconfig/blobs/") || p.contains("/biglayer/blobs/")),
        "{reqs:?}"
    );
    // The endless manifest and error answer were not read to their end.
    let endless: Vec<u64> = reqs
        .iter()
        .filter(|(p, _)| p.contains("/endless/") || p.contains("/errbody/"))
        .map(|r| r.1)
        .collect();
    assert!(
        !endless.is_empty() && endless.iter().all(|&n| n < 32 << 20),
        "{endless:?}"
    );
}

// ---------------------------------------------------------------- class 6

#[test]
fn tls_verify_true_never_falls_back_to_plain_http() {
    let reg = HostileRegistry::start("downgrade");
    let env = Env::new("downgrade");
    reg.trust_insecure(&env);
    let img = format!("{}/huge", reg.host());
    let w = world();
    let creds = format!("{}:{}", w.get("REG_USER"), w.get("REG_PASS"));
    // insecure = true, but --tls-verify=true: HTTPS only, and this registry
    // speaks plain HTTP, so nothing (least of all the credentials) is sent
    // in clear text.
    let (code, err) = env.rpod_fail(&["pull", "--tls-verify=true", "--creds", &creds, &img]);
    assert_eq!(code, 125, "{err}");
    let line = error_line(&err);
    assert!(
        line.contains(&reg.host()) && line.contains("plain HTTP"),
        "{line}"
    );
    assert!(!err.contains(w.get("REG_PASS")), "{err}");
    assert_eq!(reg.requests(), vec![], "no plain-HTTP request");
    // Without the override, insecure = true falls back to HTTP after HTTPS fails.
    let (_, err) = env.rpod_fail(&["pull", &img]);
    assert!(error_line(&err).contains("over the 4 MiB limit"), "{err}");
    assert!(
        reg.requests().iter().any(|(p, _)| p == "/v2/"),
        "{:?}",
        reg.requests()
    );
}

/// The Bearer token flow of a pull (what Docker Hub, quay.io and ghcr.io
/// use), against the hostile registry in its "bearer" mode.
#[test]
fn bearer_token_registries_are_pulled_from() {
    let reg = HostileRegistry::start_with("bearer", &["bearer"]);
    let env = Env::new("bearer");
    reg.trust_insecure(&env);
    let img = format!("{}/private", reg.host());
    let (code, err) = env.rpod_fail(&["pull", &img]);
    assert_eq!(code, 125);
    assert!(
        error_line(&err).contains("authentication required"),
        "{err}"
    );
    let (code, err) = env.rpod_fail(&["pull", "--creds", "rpoduser:wrong", &img]);
    assert_eq!(code, 125);
    assert!(
        error_line(&err).contains("invalid username/password"),
        "{err}"
    );
    assert!(!err.contains("wrong"), "{err}");
    env.rpod_ok(&["pull", "-q", "--creds", "rpoduser:rpodpass", &img]);
    let names = env.rpod_ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(names.trim(), img);
    let tokens = reg
        .requests()
        .iter()
        .filter(|(p, n)| p.starts_with("/token") && *n > 0)
        .count();
    assert!(
        tokens >= 2,
        "an expired token was renewed: {:?}",
        reg.requests()
    );
}
