//! Image archives: `save` and `load` in the four layouts (round trips that
//! end in a running container), interoperation with podman and skopeo both
//! ways, multi-image docker-archives, `import` (file, stdin, URL) with
//! `--change`, `history`, `image exists`, `image tree`; and attacks by
//! hostile archives (traversal, escaping symlinks, device nodes, a config
//! that lies about a layer, truncated input), each refused with exit 125
//! and one error line naming the archive and the entry, with nothing
//! written outside the store; and `kill -9` in the middle of a load.

use crate::common::{env_with_alpine, new_env, store_root, world, Env};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chown(env: &Env, p: &Path) {
    let st = Command::new("chown")
        .args(["-R", &format!("{}:", env.user)])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The output of the `layers` fixture (it prints its tree) and the tree
/// it ships as expected.
fn layers_tree_ok(env: &Env, image: &str) {
    let got = env.rpod_ok(&["run", "--rm", image]);
    let want = env.rpod_ok(&["run", "--rm", image, "cat", "/expected-tree.txt"]);
    assert_eq!(got, want, "the tree of {image} after the round trip");
}

#[test]
fn round_trips_in_each_format_end_in_a_running_container() {
    let env = new_env("arcround");
    let layers = env.image("layers");
    env.rpod_ok(&["pull", "-q", &layers]);
    for (fmt, file) in [
        ("docker-archive", "d.tar"),
        ("oci-archive", "o.tar"),
        ("oci-dir", "odir"),
        ("docker-dir", "ddir"),
    ] {
        let dest = env.home.join(file);
        env.rpod_ok(&[
            "save",
            "-q",
            "--format",
            fmt,
            "-o",
            path_str(&dest),
            &layers,
        ]);
        assert!(dest.exists(), "{fmt}: {} written", dest.display());
        let tmps: Vec<_> = std::fs::read_dir(&env.home)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("rpod-tmp"))
            .collect();
        assert!(tmps.is_empty(), "{fmt}: no temp file left beside it");
        env.rpod_ok(&["rmi", "-a", "-f"]);
        assert_eq!(env.rpod_ok(&["images", "-q"]), "");
        let out = env.rpod_ok(&["load", "-i", path_str(&dest)]);
        let line = out.lines().next().unwrap_or_default().to_string();
        if fmt == "docker-dir" {
            // dir: has no names: the image is loaded by id.
            assert!(line.starts_with("Loaded image: sha256:"), "{fmt}: {out}");
            let id = line.trim_start_matches("Loaded image: sha256:");
            layers_tree_ok(&env, id);
            env.rpod_ok(&["tag", id, &layers]);
        } else {
            assert_eq!(line, format!("Loaded image: {layers}:latest"), "{fmt}");
            layers_tree_ok(&env, &layers);
        }
    }
    // Stdout and stdin, compressed either way.
    for comp in ["gzip", "zstd -q", "cat"] {
        env.sh_ok(&format!(
            "rpod save {layers} | {comp} > s.bin && rpod rmi -a -f >/dev/null && rpod load < s.bin"
        ));
        layers_tree_ok(&env, &layers);
    }
    // Saving again what was loaded gives the same bytes (and so the same id).
    env.rpod_ok(&["save", "-q", "-o", "a1.tar", &layers]);
    env.rpod_ok(&["save", "-q", "-o", "a2.tar", &layers]);
    assert_eq!(
        std::fs::read(env.home.join("a1.tar")).unwrap(),
        std::fs::read(env.home.join("a2.tar")).unwrap()
    );
}

#[test]
fn save_refuses_a_terminal_and_bad_flags() {
    let env = env_with_alpine("arcterm");
    let out = env.sh("script -qec 'rpod save alpine' /dev/null");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(125), "{text}");
    assert!(text.contains("refusing to save to terminal"), "{text}");
    let (code, err) = env.rpod_fail(&["save", "--compress", "-o", "x.tar", "alpine"]);
    assert_eq!(code, 125);
    assert!(err.contains("--compress"), "{err}");
    let (code, err) = env.rpod_fail(&["save", "-o", "x.tar", "nosuchimage"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("nosuchimage"), "{err}");
    assert!(!env.home.join("x.tar").exists());
}

#[test]
fn multi_image_docker_archives_hold_every_image() {
    let env = new_env("arcmulti");
    let (a, c) = (env.image("alpine"), env.image("config"));
    env.rpod_ok(&["pull", "-q", &a]);
    env.rpod_ok(&["pull", "-q", &c]);
    env.rpod_ok(&["save", "-q", "-m", "-o", "m.tar", &a, &c]);
    let manifest = Command::new("tar")
        .args(["xOf", path_str(&env.home.join("m.tar")), "manifest.json"])
        .output()
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(m.as_array().unwrap().len(), 2, "{m}");
    env.rpod_ok(&["rmi", "-a", "-f"]);
    let out = env.rpod_ok(&["load", "-q", "-i", "m.tar"]);
    assert_eq!(
        out,
        format!("Loaded image: {a}:latest\nLoaded image: {c}:latest\n")
    );
    assert_eq!(env.rpod_ok(&["run", "--rm", &c]), "entry cmd-default\n");
    assert_eq!(env.rpod_ok(&["run", "--rm", &a, "echo", "ok"]), "ok\n");
    let (code, err) = env.rpod_fail(&["save", "-m", "--format", "oci-archive", "-o", "x", &a, &c]);
    assert_eq!(code, 125, "{err}");
}

/// podman as the test user in this Env's HOME (its own store there).
/// podman as the test user, with the storage and engine settings that work
/// here (its registries.conf and certs.d are the Env's).
pub(crate) fn podman(env: &Env, args: &[&str]) -> String {
    let conf = env.home.join(".config/containers");
    if !conf.join("storage.conf").exists() {
        std::fs::write(
            conf.join("storage.conf"),
            "[storage]\ndriver = \"overlay\"\n\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("containers.conf"),
            "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        chown(env, &conf);
    }
    let script = format!(
        "podman {}",
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    env.sh_ok(&script)
}

fn skopeo_ok(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn podman_and_skopeo_read_what_rpod_writes() {
    let env = new_env("arcout");
    let a = env.image("alpine");
    env.rpod_ok(&["pull", "-q", &a]);
    let h = &env.home;
    env.rpod_ok(&["save", "-q", "-o", "d.tar", &a]);
    env.rpod_ok(&["save", "-q", "--format", "oci-archive", "-o", "o.tar", &a]);
    env.rpod_ok(&["save", "-q", "--format", "oci-dir", "-o", "od", &a]);
    env.rpod_ok(&[
        "save",
        "-q",
        "--compress",
        "--format",
        "docker-dir",
        "-o",
        "dd",
        &a,
    ]);
    // The id in the archive: its config's digest.
    let m = Command::new("tar")
        .args(["xOf", path_str(&h.join("d.tar")), "manifest.json"])
        .output()
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&m.stdout).unwrap();
    let id = m[0]["Config"]
        .as_str()
        .unwrap()
        .trim_end_matches(".json")
        .to_string();
    // skopeo verifies every blob it copies; inspect reads the manifests.
    let d = skopeo_ok(&[
        "inspect",
        &format!("docker-archive:{}", h.join("d.tar").display()),
    ]);
    assert!(
        d.contains(&format!("{a}:latest")) || d.contains("Layers"),
        "{d}"
    );
    for src in [
        format!("oci-archive:{}", h.join("o.tar").display()),
        format!("oci:{}", h.join("od").display()),
        format!("dir:{}", h.join("dd").display()),
        format!("docker-archive:{}", h.join("d.tar").display()),
    ] {
        let dest = tempfile::tempdir().unwrap();
        skopeo_ok(&[
            "copy",
            "-q",
            &src,
            &format!("oci:{}:x", dest.path().display()),
        ]);
    }
    // podman loads each, and runs what it loaded.
    let out = podman(&env, &["load", "-q", "-i", path_str(&h.join("d.tar"))]);
    assert!(out.contains(&format!("Loaded image: {a}:latest")), "{out}");
    let out = podman(&env, &["load", "-q", "-i", path_str(&h.join("o.tar"))]);
    assert!(out.contains(&format!("Loaded image: {a}:latest")), "{out}");
    let pid = podman(&env, &["images", "-q", "--no-trunc", &a]);
    assert_eq!(
        pid.trim().trim_start_matches("sha256:"),
        id,
        "podman sees the id rpod saved"
    );
    let out = podman(&env, &["run", "--rm", &a, "cat", "/etc/os-release"]);
    assert!(out.contains("ID=rpod-busybox"), "{out}");
}

#[test]
fn rpod_reads_what_podman_and_skopeo_write() {
    let env = new_env("arcin");
    let h = env.home.clone();
    let reg = world().registry();
    // skopeo, straight from the registry, in the two archive layouts and
    // the two dir layouts.
    let srcs = [
        (
            "docker-archive",
            "sk-d.tar",
            format!(
                "docker-archive:{}:{reg}/config:latest",
                h.join("sk-d.tar").display()
            ),
        ),
        (
            "oci-archive",
            "sk-o.tar",
            format!(
                "oci-archive:{}:{reg}/config:latest",
                h.join("sk-o.tar").display()
            ),
        ),
        (
            "oci",
            "sk-od",
            format!("oci:{}:{reg}/config:latest", h.join("sk-od").display()),
        ),
        ("dir", "sk-dd", format!("dir:{}", h.join("sk-dd").display())),
    ];
    for (_, _, dest) in &srcs {
        skopeo_ok(&[
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{reg}/config:latest"),
            dest,
        ]);
    }
    chown(&env, &h);
    for (kind, file, _) in &srcs {
        env.rpod_ok(&["rmi", "-a", "-f"]);
        let out = env.rpod_ok(&["load", "-i", file]);
        let target = if *kind == "dir" {
            out.trim()
                .trim_start_matches("Loaded image: sha256:")
                .to_string()
        } else {
            assert_eq!(
                out,
                format!("Loaded image: {reg}/config:latest\n"),
                "{kind}"
            );
            format!("{reg}/config")
        };
        assert_eq!(
            env.rpod_ok(&["run", "--rm", &target]),
            "entry cmd-default\n",
            "{kind}"
        );
    }
    // podman's own docker-archive (with its legacy `<id>/layer.tar`
    // symlinks) and oci-archive.
    podman(&env, &["pull", "-q", &format!("{reg}/alpine")]);
    podman(
        &env,
        &["save", "-q", "-o", "p-d.tar", &format!("{reg}/alpine")],
    );
    podman(
        &env,
        &[
            "save",
            "-q",
            "--format",
            "oci-archive",
            "-o",
            "p-o.tar",
            &format!("{reg}/alpine"),
        ],
    );
    let pid = podman(
        &env,
        &["images", "-q", "--no-trunc", &format!("{reg}/alpine")],
    );
    for f in ["p-d.tar", "p-o.tar"] {
        env.rpod_ok(&["rmi", "-a", "-f"]);
        let out = env.rpod_ok(&["load", "-i", f]);
        assert_eq!(out, format!("Loaded image: {reg}/alpine:latest\n"), "{f}");
        let id = env.rpod_ok(&["images", "-q", "--no-trunc"]);
        assert_eq!(id.trim(), pid.trim(), "{f}: the same image id as podman's");
        assert_eq!(
            env.rpod_ok(&["run", "--rm", "alpine", "echo", "ok"]),
            "ok\n"
        );
    }
}

// ---- import ----

/// A small root filesystem tar: static busybox as /bin/sh and /bin/echo.
fn rootfs_tar(env: &Env) -> PathBuf {
    let d = env.dir.join("rootfs");
    std::fs::create_dir_all(d.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", d.join("bin/busybox")).unwrap();
    for l in ["sh", "echo", "cat"] {
        std::os::unix::fs::symlink("busybox", d.join("bin").join(l)).unwrap();
    }
    std::fs::write(d.join("hello"), "imported\n").unwrap();
    let tar = env.dir.join("rootfs.tar");
    let st = Command::new("tar")
        .args(["-C", path_str(&d), "-cf", path_str(&tar), "."])
        .status()
        .unwrap();
    assert!(st.success());
    chown(env, &tar);
    tar
}

#[test]
fn import_makes_a_one_layer_image_with_changes() {
    let env = new_env("arcimport");
    let tar = rootfs_tar(&env);
    let out = env.rpod_ok(&[
        "import",
        "-q",
        "-c",
        "CMD /bin/cat /hello",
        "--change",
        "ENV GREETING=hi",
        "-c",
        "LABEL=blue=image",
        "-m",
        "from a tarball",
        path_str(&tar),
        "imp",
    ]);
    let id = out.trim().strip_prefix("sha256:").expect("sha256:ID");
    assert_eq!(id.len(), 64, "{out}");
    assert_eq!(env.rpod_ok(&["run", "--rm", "imp"]), "imported\n");
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "imp", "sh", "-c", "echo $GREETING"]),
        "hi\n"
    );
    let labels = env.rpod_ok(&["image", "inspect", "--format", "{{.Labels.blue}}", "imp"]);
    assert_eq!(labels.trim(), "image");
    let names = env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(names, "localhost/imp:latest\n");
    let h = env.rpod_ok(&[
        "history",
        "--format",
        "{{.ID}}|{{.CreatedBy}}|{{.Comment}}",
        "imp",
    ]);
    assert!(h.starts_with(&id[..12]), "{h}");
    assert!(
        h.contains("|/bin/sh -c #(nop) ADD file:") && h.trim_end().ends_with("|from a tarball"),
        "{h}"
    );
    let (code, err) = env.rpod_fail(&["import", "-c", "RUN rm -rf /", path_str(&tar)]);
    assert_eq!(code, 125);
    assert!(err.contains("RUN"), "{err}");

    // From standard input, gzip-compressed, without a name.
    let out = env.sh_ok(&format!("gzip -c {} | rpod import -q -", tar.display()));
    assert!(out.starts_with("sha256:"), "{out}");
    // From a URL on loopback.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(&env.dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/rootfs.tar");
    let mut ok = false;
    for _ in 0..50 {
        let o = env.rpod(&["import", "-q", &url, "fromurl"]);
        if o.status.success() {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // load -i takes a URL too.
    env.rpod_ok(&["save", "-q", "-o", "../imp.tar", "imp"]);
    env.rpod_ok(&["rmi", "imp"]);
    let loaded = env.rpod_ok(&[
        "load",
        "-q",
        "-i",
        &format!("http://127.0.0.1:{port}/imp.tar"),
    ]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(ok, "import from {url}");
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "fromurl", "cat", "/hello"]),
        "imported\n"
    );
    assert_eq!(loaded, "Loaded image: localhost/imp:latest\n");
    assert_eq!(env.rpod_ok(&["run", "--rm", "imp"]), "imported\n");
}

// ---- history, exists, tree ----

#[test]
fn history_exists_and_tree_show_what_podman_shows() {
    let env = new_env("archist");
    let layers = env.image("layers");
    env.rpod_ok(&["pull", "-q", &layers]);
    let out = env.rpod_ok(&["history", &layers]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID ")
            && lines[0].contains("CREATED BY")
            && lines[0].trim_end().ends_with("COMMENT"),
        "{out}"
    );
    assert_eq!(lines.len(), 7, "{out}");
    assert!(lines[2].starts_with("<missing>"), "{out}");
    let q = env.rpod_ok(&["history", "-q", &layers]);
    assert_eq!(q.lines().count(), 6);
    let j: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["history", "--format", "json", &layers])).unwrap();
    let arr = j.as_array().unwrap();
    assert_eq!(arr.len(), 6);
    assert!(arr[0]["size"].as_u64().unwrap() > 0);
    assert_eq!(arr[0]["CreatedBy"], "rpod test world layer 5");
    let full = env.rpod_ok(&[
        "history",
        "--no-trunc",
        "--human=false",
        "--format",
        "{{.ID}} {{.Created}}",
        &layers,
    ]);
    let first = full.lines().next().unwrap();
    assert_eq!(first.split(' ').next().unwrap().len(), 64, "{full}");
    assert!(first.ends_with('Z'), "a timestamp: {full}");

    assert!(env.rpod(&["image", "exists", &layers]).status.success());
    assert_eq!(
        env.rpod(&["image", "exists", "nosuch"]).status.code(),
        Some(1)
    );
    assert!(env.rpod(&["image", "exists", "nosuch"]).stderr.is_empty());

    let t = env.rpod_ok(&["image", "tree", &layers]);
    let tl: Vec<&str> = t.lines().collect();
    assert!(tl[0].starts_with("Image ID: "), "{t}");
    assert_eq!(tl[1], format!("Tags:     [{layers}:latest]"));
    assert_eq!(tl[3], "Image Layers");
    assert_eq!(tl.len(), 4 + 6, "{t}");
    assert!(tl[4].starts_with("├── ID: "), "{t}");
    assert!(
        tl[9].starts_with("└── ID: ")
            && tl[9].ends_with(&format!("Top Layer of: [{layers}:latest]")),
        "{t}"
    );
    // alpine is the base of layers: it is required by it.
    env.rpod_ok(&["pull", "-q", &env.image("alpine")]);
    let w = env.rpod_ok(&["image", "tree", "--whatrequires", &env.image("alpine")]);
    assert_eq!(w.lines().count(), 4 + 1 + 5, "{w}");
}

// ---- attacks ----

/// A tar built by hand, with the names and types tar::Builder refuses.
struct Ar(tar::Builder<Vec<u8>>);

impl Ar {
    fn new() -> Ar {
        Ar(tar::Builder::new(Vec::new()))
    }
    fn raw(
        &mut self,
        name: &str,
        kind: tar::EntryType,
        data: &[u8],
        link: Option<&str>,
    ) -> &mut Ar {
        let mut h = tar::Header::new_gnu();
        {
            let g = h.as_gnu_mut().unwrap();
            g.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                g.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Ar {
        self.raw(name, tar::EntryType::Regular, data, None)
    }
    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn layer() -> Vec<u8> {
    let mut l = Ar::new();
    l.file("hello", b"world\n");
    l.bytes()
}

/// A docker-archive of one layer; `diff_id` is what its config claims.
fn docker_archive(layer: &[u8], diff_id: &str, extra: impl FnOnce(&mut Ar)) -> Vec<u8> {
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    })
    .to_string();
    let cname = format!("{}.json", &sha(config.as_bytes())[7..]);
    let manifest = serde_json::json!([{"Config": cname, "RepoTags": ["localhost/evil:latest"], "Layers": ["l/layer.tar"]}]).to_string();
    let mut a = Ar::new();
    extra(&mut a);
    a.file("l/layer.tar", layer)
        .file(&cname, config.as_bytes())
        .file("manifest.json", manifest.as_bytes());
    a.bytes()
}

/// Everything under the Env's dir outside the store and runtime dir, with
/// sizes and mtimes.
fn outside_store(env: &Env) -> BTreeMap<PathBuf, (u64, i64)> {
    fn walk(p: &Path, skip: &[PathBuf], out: &mut BTreeMap<PathBuf, (u64, i64)>) {
        use std::os::unix::fs::MetadataExt;
        if skip.iter().any(|s| s == p) {
            return;
        }
        let Ok(m) = std::fs::symlink_metadata(p) else {
            return;
        };
        out.insert(p.to_path_buf(), (m.len(), m.mtime()));
        if m.is_dir() {
            for e in std::fs::read_dir(p).unwrap().flatten() {
                walk(&e.path(), skip, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    let skip = [
        store_root(env),
        env.runtime_dir.clone(),
        env.home.join(".local/share/rpod"),
    ];
    walk(&env.dir, &skip, &mut out);
    out
}

fn attack(env: &Env, name: &str, archive: &[u8], want: &[&str]) {
    let p = env.home.join(name);
    std::fs::write(&p, archive).unwrap();
    chown(env, &p);
    let before = outside_store(env);
    let images = env.rpod_ok(&["images", "-q"]);
    let (code, err) = env.rpod_fail(&["load", "-i", path_str(&p)]);
    assert_eq!(code, 125, "{name}: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(lines.len(), 1, "{name}: one error line: {err}");
    assert!(
        lines[0].contains(path_str(&p)),
        "{name}: names the archive: {err}"
    );
    for w in want {
        assert!(lines[0].contains(w), "{name}: {w:?} in {err}");
    }
    assert_eq!(
        env.rpod_ok(&["images", "-q"]),
        images,
        "{name}: no new image"
    );
    assert!(env.store_entries("tmp").is_empty(), "{name}: tmp is empty");
    assert_eq!(
        outside_store(env),
        before,
        "{name}: nothing written outside the store"
    );
}

#[test]
fn hostile_archives_are_refused_and_write_nothing() {
    let env = env_with_alpine("arcevil");
    let layers_before = env.store_entries("layers");
    let l = layer();
    let good = sha(&l);

    let a = docker_archive(&l, &good, |a| {
        a.file("../evil-out", b"x");
    });
    attack(
        &env,
        "dotdot.tar",
        &a,
        &["entry ../evil-out", "path traversal"],
    );
    assert!(!env.dir.join("evil-out").exists());

    let a = docker_archive(&l, &good, |a| {
        a.raw(
            "abs/layer.tar",
            tar::EntryType::Symlink,
            b"",
            Some("/etc/passwd"),
        );
    });
    attack(
        &env,
        "abslink.tar",
        &a,
        &["entry abs/layer.tar", "absolute"],
    );

    let a = docker_archive(&l, &good, |a| {
        a.raw(
            "up/layer.tar",
            tar::EntryType::Symlink,
            b"",
            Some("../../../etc/shadow"),
        );
    });
    attack(
        &env,
        "uplink.tar",
        &a,
        &["entry up/layer.tar", "out of the archive"],
    );

    let a = docker_archive(&l, &good, |a| {
        a.raw("null", tar::EntryType::Char, b"", None);
    });
    attack(&env, "devnode.tar", &a, &["entry null", "device node"]);

    // The config lies about the layer.
    let liar = sha(b"another layer");
    let a = docker_archive(&l, &liar, |_| {});
    attack(
        &env,
        "liar.tar",
        &a,
        &["entry l/layer.tar", "diff id mismatch", &liar],
    );

    attack(
        &env,
        "garbage.tar",
        &b"not an archive\n".repeat(100),
        &["not a tar archive"],
    );

    // A truncated gzip of a good archive.
    let good_archive = docker_archive(&l, &good, |_| {});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &good_archive).unwrap();
    let gz = gz.finish().unwrap();
    attack(
        &env,
        "trunc.tar.gz",
        &gz[..gz.len() / 2],
        &["decompressing"],
    );

    // An OCI layout whose blob is not what its digest says.
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [good]}})
    .to_string();
    let manifest = serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config.as_bytes()), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": good, "size": l.len()}]}).to_string();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": sha(manifest.as_bytes()), "size": manifest.len()}]}).to_string();
    let mut forged = l.clone();
    let at = forged.len() - 1100;
    forged[at] ^= 1;
    let mut a = Ar::new();
    a.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file(&format!("blobs/sha256/{}", &good[7..]), &forged)
        .file(
            &format!("blobs/sha256/{}", &sha(config.as_bytes())[7..]),
            config.as_bytes(),
        )
        .file(
            &format!("blobs/sha256/{}", &sha(manifest.as_bytes())[7..]),
            manifest.as_bytes(),
        )
        .file("index.json", index.as_bytes());
    attack(
        &env,
        "forged.tar",
        &a.bytes(),
        &[&format!("entry blobs/sha256/{}", &good[7..]), "mismatch"],
    );

    // An entry larger than a layer may be.
    let big = docker_archive(&vec![0u8; 8192], &good, |_| {});
    std::fs::write(env.home.join("big.tar"), &big).unwrap();
    chown(&env, &env.home.join("big.tar"));
    let o = env.sh("RPOD_MAX_LAYER_SIZE=4K rpod load -i big.tar");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(
        err.contains("big.tar: entry l/layer.tar") && err.contains("RPOD_MAX_LAYER_SIZE"),
        "{err}"
    );

    // A directory layout whose config blob is a symlink to a file outside.
    env.rpod_ok(&["save", "-q", "--format", "oci-dir", "-o", "od", "alpine"]);
    let od = env.home.join("od");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(od.join("index.json")).unwrap()).unwrap();
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap();
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(od.join("blobs/sha256").join(&mdigest[7..])).unwrap(),
    )
    .unwrap();
    let cfg = &m["config"]["digest"].as_str().unwrap()[7..];
    let blob = od.join("blobs/sha256").join(cfg);
    let outside = env.dir.join("outside-config");
    std::fs::rename(&blob, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &blob).unwrap();
    env.rpod_ok(&["rmi", "-a", "-f"]);
    let (code, err) = env.rpod_fail(&["load", "-i", path_str(&od)]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains(&format!("entry blobs/sha256/{cfg}: a symlink")),
        "{err}"
    );
    assert_eq!(env.rpod_ok(&["images", "-q"]), "");
    env.rpod_ok(&["pull", "-q", "alpine"]);

    assert_eq!(
        env.store_entries("layers"),
        layers_before,
        "no layer was added"
    );
    // The good archive loads.
    let p = env.home.join("good.tar");
    std::fs::write(&p, &good_archive).unwrap();
    chown(&env, &p);
    assert_eq!(
        env.rpod_ok(&["load", "-q", "-i", "good.tar"]),
        "Loaded image: localhost/evil:latest\n"
    );
}

#[test]
fn kill_9_during_load_leaves_no_half_image() {
    let env = env_with_alpine("arckill");
    // A layer big enough to be caught in the middle: 96 MiB that doesn't compress.
    let big = env.home.join("big.bin");
    let st = Command::new("head")
        .args(["-c", "100663296", "/dev/urandom"])
        .stdout(std::fs::File::create(&big).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    let mut l = tar::Builder::new(Vec::new());
    l.append_path_with_name(&big, "big.bin").unwrap();
    let l = l.into_inner().unwrap();
    std::fs::remove_file(&big).unwrap();
    let a = docker_archive(&l, &sha(&l), |_| {});
    let p = env.home.join("big.tar");
    std::fs::write(&p, &a).unwrap();
    chown(&env, &p);
    let tmp = store_root(&env).join("tmp");
    let out = env.sh_ok(&format!(
        "rpod load -q -i big.tar & pid=$!\n\
         for i in $(seq 1 2000); do ls {tmp} 2>/dev/null | grep -q '^layer-' && break; sleep 0.005; done\n\
         kill -9 $pid; wait $pid; echo status=$?",
        tmp = tmp.display()
    ));
    assert!(out.contains("status=137"), "killed in the middle: {out}");
    assert!(!env
        .rpod_ok(&["images", "--format", "{{.Repository}}"])
        .contains("evil"));
    assert_eq!(
        env.rpod(&["image", "exists", "localhost/evil"])
            .status
            .code(),
        Some(1)
    );
    // The next load completes, and nothing of the killed one is left.
    assert_eq!(
        env.rpod_ok(&["load", "-q", "-i", "big.tar"]),
        "Loaded image: localhost/evil:latest\n"
    );
    assert!(env
        .rpod(&["image", "exists", "localhost/evil"])
        .status
        .success());
    assert!(
        env.store_entries("tmp").is_empty(),
        "{:?}",
        env.store_entries("tmp")
    );

    // A save killed in the middle leaves the destination as it was.
    std::fs::write(env.home.join("out.tar"), b"old content").unwrap();
    chown(&env, &env.home.join("out.tar"));
    let out = env.sh_ok(
        "rpod save -q -o out.tar localhost/evil & pid=$!\n\
         for i in $(seq 1 2000); do ls -a | grep -q '^.out.tar.rpod-tmp' && break; sleep 0.005; done\n\
         sleep 0.05; kill -9 $pid; wait $pid; echo status=$?",
    );
    assert!(out.contains("status=137"), "killed in the middle: {out}");
    assert_eq!(
        std::fs::read(env.home.join("out.tar")).unwrap(),
        b"old content"
    );
    // Done again, it replaces it with a whole archive.
    env.rpod_ok(&["save", "-q", "-o", "out.tar", "localhost/evil"]);
    let left: Vec<_> = std::fs::read_dir(&env.home)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("rpod-tmp"))
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "the killed save's temp file is cleaned: {left:?}"
    );
    assert!(std::fs::metadata(env.home.join("out.tar")).unwrap().len() > 96 << 20);
}

/// The id of `image` as `images --no-trunc` shows it.
fn full_id(env: &Env, image: &str) -> String {
    env.rpod_ok(&["images", "--no-trunc", "--format", "{{.ID}}", image])
        .trim()
        .to_string()
}

#[test]
fn pulled_images_keep_their_id_through_save_and_load() {
    let env = new_env("arcid");
    let layers = env.image("layers");
    env.rpod_ok(&["pull", "-q", &layers]);
    let id = full_id(&env, &layers);
    // The registry's config digest is the id.
    let cfg = skopeo_ok(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        "--config",
        &format!("docker://{layers}"),
    ]);
    assert_eq!(id, sha(cfg.as_bytes()));
    for (fmt, file) in [
        ("docker-archive", "d.tar"),
        ("oci-archive", "o.tar"),
        ("oci-dir", "odir"),
        ("docker-dir", "ddir"),
    ] {
        let dest = env.home.join(file);
        env.rpod_ok(&[
            "save",
            "-q",
            "--format",
            fmt,
            "-o",
            path_str(&dest),
            &layers,
        ]);
        env.rpod_ok(&["rmi", "-a", "-f"]);
        let out = env.rpod_ok(&["load", "-q", "-i", path_str(&dest)]);
        let got = if fmt == "docker-dir" {
            // dir: has no names: the image is loaded by id.
            let got = out.trim().trim_start_matches("Loaded image: ").to_string();
            env.rpod_ok(&["tag", &got, &layers]);
            got
        } else {
            full_id(&env, &layers)
        };
        assert_eq!(got, id, "{fmt}: the id survives save and load");
        layers_tree_ok(&env, &layers);
    }
    // And a second round trip, of what was loaded.
    env.sh_ok(&format!(
        "rpod save {layers} | gzip > s.gz && rpod rmi -a -f >/dev/null && rpod load -q < s.gz"
    ));
    assert_eq!(full_id(&env, &layers), id);
}
