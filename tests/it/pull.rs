//! `rpod pull` as the unprivileged test user against the loopback registries:
//! formats, platforms, verification, retries, credentials, and every failure
//! the issue lists, each with a clear error, exit 125, and nothing kept.

use crate::common;
use crate::common::{world, Env};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn pull_short_name_prints_the_id_and_lists_the_image() {
    let env = Env::new("pullshort");
    let out = env.rpod(&["pull", "alpine"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "pull prints the full image id: {id:?}");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "Trying to pull {}/alpine:latest",
            world().registry()
        )),
        "{err}"
    );
    let images = env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        images
            .lines()
            .any(|l| l == format!("{}/alpine:latest", world().registry())),
        "{images}"
    );
    // The unpacked tree keeps the image's files.
    let inspect = env.rpod_ok(&["image", "inspect", "--format", "{{.Id}}", "alpine"]);
    assert_eq!(inspect.trim(), id);
}

#[test]
fn quiet_pull_prints_only_the_id() {
    let env = Env::new("pullquiet");
    let out = env.rpod(&["pull", "-q", &env.image("alpine")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout.clone()).unwrap().trim().len(),
        64
    );
    assert!(
        out.stderr.is_empty(),
        "-q prints nothing on stderr: {}",
        stderr(&out)
    );
}

#[test]
fn second_pull_skips_layers_already_in_the_store() {
    let env = Env::new("pullskip");
    let img = env.image("layers");
    let first = env.rpod_ok(&["pull", &img]);
    let out = env.rpod(&["pull", &img]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout.clone()).unwrap(), first);
    let err = stderr(&out);
    assert!(err.contains("skipped: already exists"), "{err}");
    assert!(
        !err.lines()
            .any(|l| l.starts_with("Copying blob") && l.ends_with(" done")),
        "no layer is downloaded again: {err}"
    );
}

#[test]
fn zstd_uncompressed_and_schema2_images_pull() {
    let env = Env::new("pullformats");
    for name in ["alpine-zstd", "alpine-plain", "schema2"] {
        let out = env.rpod(&["pull", "-q", &env.image(name)]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    let json = env.rpod_ok(&["image", "inspect", &env.image("schema2")]);
    assert!(
        json.contains("application/vnd.docker.distribution.manifest.v2+json")
            || json.contains("sha256:"),
        "{json}"
    );
}

/// Pushes a Docker schema2 image whose one layer is an uncompressed tar
/// ("application/vnd.docker.image.rootfs.diff.tar", which containers/image
/// writes) straight to the plain registry; prints the layer's diff id.
const PUSH_DOCKER_PLAIN_PY: &str = r#"
import hashlib, io, json, sys, tarfile, urllib.request
reg, repo = sys.argv[1], sys.argv[2]
def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()
def put_blob(data):
    d = sha(data)
    req = urllib.request.Request(f"http://{reg}/v2/{repo}/blobs/uploads/", data=b"", method="POST")
    with urllib.request.urlopen(req) as r:
        loc = r.headers["Location"]
    if loc.startswith("/"):
        loc = f"http://{reg}{loc}"
    sep = "&" if "?" in loc else "?"
    urllib.request.urlopen(urllib.request.Request(f"{loc}{sep}digest={d}", data=data, method="PUT",
        headers={"Content-Type": "application/octet-stream"})).close()
    return d
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
    ti = tarfile.TarInfo("hello.txt")
    ti.size = 6
    tf.addfile(ti, io.BytesIO(b"hello\n"))
tar = buf.getvalue()
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [sha(tar)]}}).encode()
mt = "application/vnd.docker.distribution.manifest.v2+json"
manifest = json.dumps({"schemaVersion": 2, "mediaType": mt,
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
               "digest": put_blob(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar",
                "digest": put_blob(tar), "size": len(tar)}]}).encode()
urllib.request.urlopen(urllib.request.Request(f"http://{reg}/v2/{repo}/manifests/latest",
    data=manifest, method="PUT", headers={"Content-Type": mt})).close()
print(sha(tar))
"#;

/// The layer media types pull accepts are the store's: a Docker
/// uncompressed layer (refused by pull before, though the store knew it).
#[test]
fn docker_uncompressed_layers_pull() {
    let env = Env::new("pulldplain");
    let repo = "docker-plain-layer".to_string(); // deterministic content: re-pushing is a no-op
    let out = std::process::Command::new("python3")
        .args(["-c", PUSH_DOCKER_PLAIN_PY, world().registry(), &repo])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "pushing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff_id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    env.rpod_ok(&["pull", "-q", &env.image(&repo)]);
    let layers = env.rpod_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.RootFS.Layers}} {{.ManifestType}}",
        &env.image(&repo),
    ]);
    assert!(
        layers.contains(&diff_id)
            && layers.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{layers}"
    );
    let hex = diff_id.trim_start_matches("sha256:");
    assert_eq!(env.store_entries("layers"), [hex]);
    let hello = env
        .home
        .join(".local/share/rpod/layers")
        .join(hex)
        .join("diff/hello.txt");
    assert_eq!(std::fs::read(&hello).unwrap(), b"hello\n");
}

#[test]
fn index_platform_selection() {
    let env = Env::new("pullplatform");
    let amd = env.rpod_ok(&[
        "pull",
        "-q",
        "--platform",
        "linux/amd64",
        &env.image("multiarch"),
    ]);
    let arm = env.rpod_ok(&[
        "pull",
        "-q",
        "--platform",
        "linux/arm64/v8",
        &env.image("multiarch"),
    ]);
    assert_ne!(amd, arm, "different platforms are different images");
    let arm2 = env.rpod_ok(&["pull", "-q", "--arch", "arm64", &env.image("multiarch")]);
    assert_eq!(arm, arm2);
    let arch = env.rpod_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Architecture}}",
        arm.trim(),
    ]);
    assert_eq!(arch.trim(), "arm64");
    let (code, err) =
        env.rpod_fail(&["pull", "--platform", "linux/s390x", &env.image("multiarch")]);
    assert_eq!(code, 125);
    assert!(err.contains("no image for platform linux/s390x"), "{err}");
    assert!(
        err.contains("linux/amd64"),
        "the error lists what the index has: {err}"
    );
}

#[test]
fn tls_registry_needs_credentials_and_accepts_them() {
    let env = Env::new("pulltls");
    let w = world();
    let img = format!("{}/alpine", w.tls_registry());
    let (code, err) = env.rpod_fail(&["pull", &img]);
    assert_eq!(code, 125);
    assert!(err.contains("authentication required"), "{err}");
    assert!(err.lines().count() <= 2, "one clear line: {err}");
    let (code, err) = env.rpod_fail(&[
        "pull",
        "--creds",
        &format!("{}:wrong-password", w.get("REG_USER")),
        &img,
    ]);
    assert_eq!(code, 125);
    assert!(err.contains("invalid username/password"), "{err}");
    assert!(
        !err.contains("wrong-password"),
        "the password never appears: {err}"
    );
    let creds = format!("{}:{}", w.get("REG_USER"), w.get("REG_PASS"));
    let out = env.rpod(&["pull", "-q", "--creds", &creds, &img]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn tls_registry_with_an_unknown_ca_is_refused_clearly() {
    let env = Env::new("pullca");
    let w = world();
    // Remove the CA from certs.d: the registry's certificate is now untrusted.
    std::fs::remove_dir_all(
        env.home
            .join(format!(".config/containers/certs.d/{}", w.tls_registry())),
    )
    .unwrap();
    let creds = format!("{}:{}", w.get("REG_USER"), w.get("REG_PASS"));
    let (code, err) = env.rpod_fail(&[
        "pull",
        "--creds",
        &creds,
        &format!("{}/alpine", w.tls_registry()),
    ]);
    assert_eq!(code, 125);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(err.contains(w.tls_registry()), "{err}");
    let errors = err.lines().filter(|l| l.starts_with("Error:")).count();
    assert_eq!(errors, 1, "one error line: {err}");
}

#[test]
fn tls_verify_false_is_unverified_https_not_plain_http() {
    let env = Env::new("pullnoverify");
    let w = world();
    // No CA: only skipping verification gets through, and the registry
    // speaks nothing but TLS, so the credentials went over TLS.
    std::fs::remove_dir_all(
        env.home
            .join(format!(".config/containers/certs.d/{}", w.tls_registry())),
    )
    .unwrap();
    let creds = format!("{}:{}", w.get("REG_USER"), w.get("REG_PASS"));
    let img = format!("{}/alpine", w.tls_registry());
    let out = env.rpod(&["pull", "-q", "--tls-verify=false", "--creds", &creds, &img]);
    assert!(out.status.success(), "{}", stderr(&out));
    // An auth.json login is used the same way.
    env.rpod_ok(&[
        "login",
        "--tls-verify=false",
        "-u",
        w.get("REG_USER"),
        "-p",
        w.get("REG_PASS"),
        w.tls_registry(),
    ]);
    env.rpod_ok(&["rmi", &img]);
    let out = env.rpod(&["pull", "-q", "--tls-verify=false", &img]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The plain registry still works with --tls-verify=false: HTTPS fails,
    // then plain HTTP.
    let out = env.rpod(&["pull", "-q", "--tls-verify=false", &env.image("alpine")]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A registry that answered only plain HTTP is asked that way first next
/// time (no HTTPS attempt at its plain port); a note that went stale (the
/// port speaks TLS now) is dropped and HTTPS is used.
#[test]
fn a_plain_http_registry_is_remembered_and_a_stale_note_dropped() {
    let env = Env::new("pullnote");
    let w = world();
    let notes = env.runtime_dir.join("rpod/plain-http");
    let out = env.rpod(&["--log-level", "debug", "pull", "-q", &env.image("alpine")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("trying plain HTTP"),
        "{}",
        stderr(&out)
    );
    assert!(notes.join(w.registry()).exists());
    let out = env.rpod(&["--log-level", "debug", "pull", "-q", &env.image("alpine")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("HTTPS to"), "{}", stderr(&out));
    // The TLS registry, noted (wrongly) as plain HTTP.
    env.sh_ok(&format!("touch {}/{}", notes.display(), w.tls_registry()));
    let creds = format!("{}:{}", w.get("REG_USER"), w.get("REG_PASS"));
    let img = format!("{}/alpine", w.tls_registry());
    let out = env.rpod(&[
        "--log-level",
        "debug",
        "pull",
        "-q",
        "--tls-verify=false",
        "--creds",
        &creds,
        &img,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no longer answers plain HTTP"),
        "{}",
        stderr(&out)
    );
    assert!(
        !notes.join(w.tls_registry()).exists(),
        "the stale note is gone"
    );
}

#[test]
fn tls_verify_true_overrides_insecure_and_never_falls_back_to_http() {
    let env = Env::new("pullverify");
    // localhost:5000 is `insecure = true` in the Env's registries.conf.
    let (code, err) = env.rpod_fail(&["pull", "--tls-verify=true", &env.image("alpine")]);
    assert_eq!(code, 125);
    assert!(err.contains(world().registry()), "{err}");
    assert!(err.contains("https://"), "tried HTTPS: {err}");
    assert!(err.contains("plain HTTP"), "says why: {err}");
    let errors = err.lines().filter(|l| l.starts_with("Error:")).count();
    assert_eq!(errors, 1, "one error line: {err}");
    assert!(env.rpod_ok(&["images", "-q"]).trim().is_empty());
}

#[test]
fn unknown_image_and_unreachable_registries_fail_with_125() {
    let env = Env::new("pullunknown");
    let (code, err) = env.rpod_fail(&["pull", &env.image("does-not-exist")]);
    assert_eq!(code, 125);
    assert!(
        err.to_lowercase().contains("manifest unknown")
            || err.contains("not found")
            || err.contains("unknown"),
        "{err}"
    );
    // Connection refused: nothing listens on port 1.
    let (code, err) = env.rpod_fail(&["pull", "--tls-verify=false", "127.0.0.1:1/alpine"]);
    assert_eq!(code, 125);
    assert!(err.to_lowercase().contains("connect"), "{err}");
}

#[test]
fn unknown_registry_host_fails_without_leaving_loopback() {
    // In a network namespace with no interfaces up, name resolution fails at
    // once and no DNS query leaves the machine.
    let env = Env::new("pullhost");
    let mut cmd = std::process::Command::new("unshare");
    cmd.arg("-n").arg("--");
    let inner = env.cmd(&["pull", "registry.invalid/alpine"]);
    cmd.arg(inner.get_program());
    cmd.args(inner.get_args());
    cmd.current_dir(&env.home);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("registry.invalid"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn broken_registry_content_is_refused_and_nothing_is_kept() {
    let env = Env::new("pullbad");
    let bad = world().bad_registry();
    let cases = [
        ("malformed", "malformed manifest"),
        ("badmedia", "unsupported"),
        ("corrupt", "digest mismatch"),
        ("truncated", "truncated"),
        ("baddiffid", "diff"),
    ];
    for (name, expect) in cases {
        let (code, err) = env.rpod_fail(&["pull", &format!("{bad}/{name}")]);
        assert_eq!(code, 125, "{name}: {err}");
        assert!(
            err.to_lowercase().contains(expect),
            "{name}: expected {expect:?} in: {err}"
        );
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
        assert_eq!(errors.len(), 1, "{name}: one error line: {err}");
    }
    let images = env.rpod_ok(&["images", "-q"]);
    assert!(images.trim().is_empty(), "no image was recorded: {images}");
    assert!(
        env.store_entries("layers").is_empty(),
        "no layer kept: {:?}",
        env.store_entries("layers")
    );
}

#[test]
fn layer_tar_escapes_are_refused() {
    let env = Env::new("pullevil");
    let bad = world().bad_registry();
    for name in ["evil-dotdot", "evil-abs", "evil-symlink"] {
        let (code, err) = env.rpod_fail(&["pull", &format!("{bad}/{name}")]);
        assert_eq!(code, 125, "{name}: {err}");
        assert!(
            !std::path::Path::new("/tmp/pwned").exists(),
            "{name} wrote outside the layer"
        );
    }
    assert!(env.store_entries("layers").is_empty());
}

#[test]
fn corrupt_registries_conf_names_the_file_and_line() {
    let env = Env::new("pullconf");
    let conf = env.home.join(".config/containers/registries.conf");
    std::fs::write(&conf, "unqualified-search-registries = [\"a\"\nbroken =\n").unwrap();
    let (code, err) = env.rpod_fail(&["pull", "alpine"]);
    assert_eq!(code, 125);
    assert!(err.contains(conf.to_str().unwrap()), "{err}");
    assert!(err.contains("line"), "{err}");
}

#[test]
fn corrupt_auth_json_names_the_file() {
    let env = Env::new("pullauth");
    let dir = env.runtime_dir.join("containers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("auth.json"), "{\"auths\": {").unwrap();
    let _ = std::process::Command::new("chown")
        .args(["-R", &env.user, dir.to_str().unwrap()])
        .status();
    let (code, err) = env.rpod_fail(&["pull", &format!("{}/alpine", world().tls_registry())]);
    assert_eq!(code, 125);
    assert!(err.contains("auth.json"), "{err}");
}

#[test]
fn missing_subuid_entry_is_named() {
    // `nobody` has no /etc/subuid entry.
    let dir = tempfile_dir("subuid");
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--", "env", "-i", "PATH=/usr/bin:/bin"])
        .arg(format!("HOME={dir}"))
        .arg(format!("XDG_RUNTIME_DIR={dir}"))
        .arg(common::rpod_bin())
        .args(["pull", "alpine"])
        .current_dir("/")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("/etc/subuid") && err.contains("\"nobody\""),
        "{err}"
    );
}

fn tempfile_dir(name: &str) -> String {
    let dir = format!("/tmp/rt/{name}-{}", std::process::id());
    std::fs::create_dir_all(&dir).unwrap();
    let st = std::process::Command::new("chown")
        .args(["nobody:", &dir])
        .status()
        .unwrap();
    assert!(st.success());
    dir
}

#[test]
fn missing_newuidmap_names_the_package() {
    let mut env = Env::new("pullsubuid");
    // A PATH without newuidmap gives the package hint.
    env.set_env("PATH", "/nonexistent");
    let out = env.cmd(&["pull", "alpine"]).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("uidmap"), "names the package: {err}");
}

#[test]
fn concurrent_pulls_of_the_same_image_both_succeed() {
    let env = Env::new("pullconc");
    let img = env.image("layers");
    let spawn = || {
        env.cmd(&["pull", "-q", &img])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(env.rpod_ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn kill_9_during_a_pull_leaves_a_store_the_next_pull_completes() {
    let env = Env::new("pullkill");
    let img = env.image("large");
    for delay_ms in [150u64, 600] {
        let mut child = crate::common::spawn_killable(env.cmd(&["pull", "-q", &img]));
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // runuser's child is rpod: kill what runs below this test's child
        // (never by name: a parallel test pulls the same image).
        crate::common::kill9(&mut child);
        let images = env.rpod_ok(&["images", "-q"]);
        assert!(
            images.trim().is_empty(),
            "a killed pull never shows a half image: {images}"
        );
    }
    let id = env.rpod_ok(&["pull", "-q", &img]);
    assert_eq!(id.trim().len(), 64);
    assert_eq!(
        env.rpod_ok(&["images", "-q", "--no-trunc"])
            .trim()
            .trim_start_matches("sha256:"),
        id.trim()
    );
}

#[test]
fn one_image_through_two_manifests_keeps_both_repo_digests() {
    // `alpine` (OCI) and `schema2` (Docker schema2) carry the same config,
    // so they are one image, pulled through two different manifests.
    let env = Env::new("pulldigests");
    let a = env.rpod_ok(&["pull", "-q", &env.image("alpine")]);
    let b = env.rpod_ok(&["pull", "-q", &env.image("schema2")]);
    assert_eq!(a, b, "one image id");
    let out = env.rpod_ok(&["image", "inspect", a.trim()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let digests: Vec<&str> = v[0]["RepoDigests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let alpine: Vec<&&str> = digests
        .iter()
        .filter(|d| d.starts_with(&format!("{}@sha256:", env.image("alpine"))))
        .collect();
    let schema2: Vec<&&str> = digests
        .iter()
        .filter(|d| d.starts_with(&format!("{}@sha256:", env.image("schema2"))))
        .collect();
    assert_eq!((alpine.len(), schema2.len()), (1, 1), "{digests:?}");
    let digest_of = |d: &str| d.split('@').nth(1).unwrap().to_string();
    assert_ne!(digest_of(alpine[0]), digest_of(schema2[0]), "{digests:?}");
    // Each digest is the one its registry serves for that name.
    let pinned = format!("{}@{}", env.image("schema2"), digest_of(schema2[0]));
    assert_eq!(env.rpod_ok(&["pull", "-q", &pinned]), a);
}
