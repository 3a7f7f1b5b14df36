//! `rpod push` and `rpod search` against the test world's registries: what
//! rpod pushes, rpod and skopeo pull back and verify; blobs the destination
//! has are skipped or mounted, not uploaded; --format and
//! --compression-format decide the media types; bad credentials and a
//! registry that can't take a push fail fast with one line; pushes to
//! `oci:`, `oci-archive:`, `docker-archive:` and `dir:` are what skopeo reads.

use crate::common::*;
use std::process::Command;
use std::time::Instant;

/// A repository name of its own (the registries are shared by parallel tests).
fn repo(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("rpod-push/{test}-{}-{nanos}", std::process::id())
}

fn tls_certs() -> String {
    format!("{}/{}", world().get("CERTS_D"), world().tls_registry())
}

fn creds() -> String {
    format!("{}:{}", world().get("REG_USER"), world().get("REG_PASS"))
}

/// `skopeo inspect` (or `--raw`) of an image on the test registries, as JSON.
fn skopeo_inspect(reference: &str, raw: bool) -> serde_json::Value {
    let mut c = Command::new("skopeo");
    c.arg("inspect");
    if raw {
        c.arg("--raw");
    }
    if reference.starts_with(world().tls_registry()) {
        c.args(["--creds", &creds(), "--cert-dir", &tls_certs()]);
    } else {
        c.arg("--tls-verify=false");
    }
    let out = c.arg(format!("docker://{reference}")).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `skopeo copy` to an OCI dir: skopeo checks every blob's digest.
fn skopeo_copy_verifies(reference: &str) {
    let d = tempfile::tempdir().unwrap();
    let mut c = Command::new("skopeo");
    c.args(["copy", "-q"]);
    if reference.starts_with(world().tls_registry()) {
        c.args(["--src-creds", &creds(), "--src-cert-dir", &tls_certs()]);
    } else {
        c.arg("--src-tls-verify=false");
    }
    let out = c
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:x", d.path().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn digest_of(env: &Env, image: &str) -> String {
    env.rpod_ok(&["image", "inspect", "--format", "{{.Digest}}", image])
        .trim()
        .to_string()
}

#[test]
fn push_mounts_from_the_source_repo_and_keeps_the_digest() {
    let env = env_with_alpine("pushmount");
    let src = env.image("alpine");
    let dest = format!("{}/{}:1", world().registry(), repo("mount"));
    let digestfile = env.home.join("digest");
    let out = env.rpod(&[
        "--log-level",
        "debug",
        "push",
        "--digestfile",
        digestfile.to_str().unwrap(),
        &src,
        &format!("docker://{dest}"),
    ]);
    let stderr = err(&out);
    assert!(out.status.success(), "{stderr}");
    // The registry answered the mount with 201: no upload.
    assert!(
        stderr.contains(&format!("mounted from {src}")),
        "no cross-repo mount: {stderr}"
    );
    assert!(!stderr.contains("uploading a blob"), "{stderr}");
    for l in [
        "Getting image source signatures",
        "Copying blob sha256:",
        "Copying config sha256:",
        "Writing manifest to image destination",
        "Storing signatures",
    ] {
        assert!(stderr.contains(l), "{l}: {stderr}");
    }
    // Nothing changed, so the manifest is the source's, byte for byte.
    let pushed = std::fs::read_to_string(&digestfile).unwrap();
    assert_eq!(pushed, digest_of(&env, &src));
    assert_eq!(skopeo_inspect(&dest, false)["Digest"], pushed.as_str());
    skopeo_copy_verifies(&dest);

    // Another user pulls it back.
    let other = new_env("pushback");
    other.rpod_ok(&["pull", "-q", &dest]);
    assert_eq!(digest_of(&other, &dest), pushed);
    let os = other.rpod_ok(&["run", "--rm", &dest, "cat", "/etc/os-release"]);
    assert!(os.contains("ID=rpod-busybox"), "{os}");
}

#[test]
fn push_to_the_tls_registry_remakes_layers_that_pull_back_identical() {
    // Pulled layers keep no compressed blob: pushing to another registry
    // gives each layer's tar back as it came (from its tar-split) and
    // compresses it again: new blob digests, the same diff ids, config and
    // image id.
    let env = new_env("pushtls");
    let src = env.image("layers");
    env.rpod_ok(&["pull", "-q", &src]);
    let id = env
        .rpod_ok(&["images", "--no-trunc", "--format", "{{.ID}}", &src])
        .trim()
        .to_string();
    let dest = format!("{}/{}:v1", world().tls_registry(), repo("tls"));
    let digestfile = env.home.join("digest");
    env.rpod_ok(&[
        "image",
        "push",
        "-q",
        "--creds",
        &creds(),
        "--digestfile",
        digestfile.to_str().unwrap(),
        &src,
        &dest,
    ]);
    let pushed = std::fs::read_to_string(&digestfile).unwrap();
    assert!(
        pushed.starts_with("sha256:") && pushed.len() == 71,
        "{pushed}"
    );
    assert_eq!(skopeo_inspect(&dest, false)["Digest"], pushed.as_str());
    skopeo_copy_verifies(&dest);
    assert_eq!(
        skopeo_inspect(&dest, true)["config"]["digest"],
        id.as_str(),
        "the config (and so the image id) is the one pulled"
    );

    // Pulled back by someone else: the tree is the one the fixture expects.
    let other = new_env("pushtlsback");
    other.rpod_ok(&["pull", "-q", "--creds", &creds(), &dest]);
    assert_eq!(digest_of(&other, &dest), pushed);
    // podman pulls it too, to the same id.
    crate::archives::podman(&other, &["pull", "-q", "--creds", &creds(), &dest]);
    let pid = crate::archives::podman(
        &other,
        &["images", "--no-trunc", "--format", "{{.ID}}", &dest],
    );
    assert_eq!(
        format!("sha256:{}", pid.trim()).replace("sha256:sha256:", "sha256:"),
        id
    );
    let got = other.rpod_ok(&["run", "--rm", &dest]);
    let want = other.rpod_ok(&["run", "--rm", &dest, "cat", "/expected-tree.txt"]);
    assert!(want.lines().count() > 10, "{want}");
    assert_eq!(got, want, "the pushed layers unpack to another tree");

    // A second push finds every blob there: nothing is made or uploaded.
    let t0 = Instant::now();
    let out = env.rpod(&[
        "--log-level",
        "debug",
        "push",
        "--creds",
        &creds(),
        "--digestfile",
        digestfile.to_str().unwrap(),
        &src,
        &dest,
    ]);
    let took = t0.elapsed();
    let stderr = err(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("uploading a blob"), "{stderr}");
    assert!(!stderr.contains("made blob"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&digestfile).unwrap(), pushed);
    eprintln!("second push to the TLS registry: {took:?}");
}

#[test]
fn second_push_to_the_same_repository_reads_no_blob() {
    let env = new_env("pushtwice");
    let src = env.image("config");
    env.rpod_ok(&["pull", "-q", &src]);
    // Another registry, so the layers are made (and remembered) once.
    let dest = format!("{}/{}", world().tls_registry(), repo("twice"));
    env.rpod_ok(&["push", "-q", "--creds", &creds(), &src, &dest]);
    // Logged in, the credentials come from auth.json.
    let w = world();
    let login = env.rpod_stdin(
        &[
            "login",
            "-u",
            w.get("REG_USER"),
            "--password-stdin",
            w.tls_registry(),
        ],
        w.get("REG_PASS").as_bytes(),
    );
    assert!(login.status.success(), "{}", err(&login));
    let out = env.rpod(&["--log-level", "debug", "push", &src, &dest]);
    let stderr = err(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("made blob") && !stderr.contains("uploading a blob"),
        "{stderr}"
    );
    // The same destination under a new name of the same registry: the
    // blobs made for the first are mounted from it.
    let dest2 = format!("{}/{}", world().tls_registry(), repo("twice2"));
    let out = env.rpod(&[
        "--log-level",
        "debug",
        "push",
        "--creds",
        &creds(),
        &src,
        &dest2,
    ]);
    let stderr = err(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("mounted from"), "{stderr}");
    assert!(!stderr.contains("uploading a blob"), "{stderr}");
    assert_eq!(
        skopeo_inspect(&dest2, false)["Digest"],
        skopeo_inspect(&dest, false)["Digest"]
    );
}

#[test]
fn format_decides_the_media_types() {
    let env = env_with_alpine("pushfmt");
    let src = env.image("alpine");
    let reg = world().registry();
    let v2 = format!("{reg}/{}", repo("v2s2"));
    env.rpod_ok(&["push", "-q", "--format", "v2s2", &src, &v2]);
    let m = skopeo_inspect(&v2, true);
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    skopeo_copy_verifies(&v2);

    // A Docker schema2 image pushed as OCI.
    let s2 = env.image("schema2");
    env.rpod_ok(&["pull", "-q", &s2]);
    let oci = format!("{reg}/{}", repo("oci"));
    env.rpod_ok(&["push", "-q", "--format", "oci", &s2, &oci]);
    let m = skopeo_inspect(&oci, true);
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    skopeo_copy_verifies(&oci);
    // The same blobs: only the manifest changed.
    let src_m = skopeo_inspect(&s2, true);
    assert_eq!(m["layers"][0]["digest"], src_m["layers"][0]["digest"]);

    // zstd needs OCI.
    let (code, e) = env.rpod_fail(&[
        "push",
        "--format",
        "v2s2",
        "--compression-format",
        "zstd",
        &src,
        &v2,
    ]);
    assert_eq!(code, 125);
    assert!(e.contains("zstd") && e.trim().lines().count() == 1, "{e}");
}

#[test]
fn compression_format_zstd_recompresses_and_pulls_back() {
    let env = env_with_alpine("pushzstd");
    let src = env.image("alpine");
    let dest = format!("{}/{}", world().registry(), repo("zstd"));
    let digestfile = env.home.join("d");
    env.rpod_ok(&[
        "push",
        "-q",
        "--compression-format",
        "zstd",
        "--digestfile",
        digestfile.to_str().unwrap(),
        &src,
        &dest,
    ]);
    let m = skopeo_inspect(&dest, true);
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    skopeo_copy_verifies(&dest);
    let other = new_env("pushzstdback");
    other.rpod_ok(&["pull", "-q", &dest]);
    assert_eq!(
        digest_of(&other, &dest),
        std::fs::read_to_string(&digestfile).unwrap()
    );
    let os = other.rpod_ok(&["run", "--rm", &dest, "cat", "/etc/os-release"]);
    assert!(os.contains("ID=rpod-busybox"), "{os}");
}

#[test]
fn wrong_credentials_fail_with_one_line() {
    let env = env_with_alpine("pushcreds");
    let dest = format!("{}/{}", world().tls_registry(), repo("creds"));
    let (code, e) = env.rpod_fail(&[
        "push",
        "--creds",
        "rpoduser:wrong",
        &env.image("alpine"),
        &dest,
    ]);
    assert_eq!(code, 125, "{e}");
    let last = e.trim().lines().last().unwrap();
    assert!(last.starts_with("Error: "), "{e}");
    assert!(
        last.contains("invalid username/password") && last.contains(world().tls_registry()),
        "{e}"
    );
    assert!(!e.contains("wrong"), "the password in a message: {e}");
    // Without credentials: told to log in.
    let (code, e) = env.rpod_fail(&["push", &env.image("alpine"), &dest]);
    assert_eq!(code, 125);
    assert!(e.contains("rpod login"), "{e}");
}

#[test]
fn a_registry_that_takes_no_push_fails_fast_and_clearly() {
    let env = env_with_alpine("pushbad");
    let bad = world().bad_registry();
    let t0 = Instant::now();
    let (code, e) = env.rpod_fail(&["push", &env.image("alpine"), &format!("{bad}/x/y")]);
    assert!(t0.elapsed().as_secs() < 20, "took {:?}", t0.elapsed());
    assert_eq!(code, 125);
    let last = e.trim().lines().last().unwrap();
    assert!(last.contains(bad) && last.contains("501"), "{e}");
}

#[test]
fn unsupported_transports_and_bad_destinations_are_refused() {
    let env = env_with_alpine("pushrefuse");
    let src = env.image("alpine");
    for (dest, what) in [
        ("docker-daemon:x:1", "docker-daemon transport"),
        ("containers-storage:x:1", "containers-storage transport"),
    ] {
        let (code, e) = env.rpod_fail(&["push", &src, dest]);
        assert_eq!(code, 125);
        assert!(e.contains(what) && e.trim().lines().count() == 1, "{e}");
    }
    let digest = format!("{}/a@sha256:{}", world().registry(), "0".repeat(64));
    let (code, e) = env.rpod_fail(&["push", &src, &digest]);
    assert_eq!(code, 125);
    assert!(e.contains("not a digest"), "{e}");
    let (code, e) = env.rpod_fail(&["push", "no-such-image", &digest]);
    assert_eq!(code, 125);
    assert!(e.contains("no-such-image"), "{e}");
}

/// `skopeo inspect` (or `--raw`) of a local layout, as JSON.
fn skopeo_inspect_local(reference: &str, raw: bool) -> serde_json::Value {
    let mut c = Command::new("skopeo");
    c.arg("inspect");
    if raw {
        c.arg("--raw");
    }
    let out = c.arg(reference).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn push_to_oci_oci_archive_docker_archive_and_dir_is_what_skopeo_reads() {
    let env = env_with_alpine("pushlayout");
    let src = env.image("alpine");
    let layers = env
        .rpod_ok(&[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            &src,
        ])
        .trim()
        .parse::<usize>()
        .unwrap();
    let h = &env.home;
    let oci = h.join("oci");
    let oci_tar = h.join("oci.tar");
    let docker_tar = h.join("docker.tar");
    let dir = h.join("dir");
    for dest in [
        format!("oci:{}:v1", oci.display()),
        format!("oci-archive:{}:v2", oci_tar.display()),
        format!(
            "docker-archive:{}:localhost/pushed:v3",
            docker_tar.display()
        ),
        format!("dir:{}", dir.display()),
    ] {
        env.rpod_ok(&["push", "-q", &src, &dest]);
    }
    let mut configs = Vec::new();
    for (reference, tagged) in [
        (format!("oci:{}:v1", oci.display()), None),
        (format!("oci-archive:{}:v2", oci_tar.display()), None),
        (
            format!("docker-archive:{}", docker_tar.display()),
            Some("localhost/pushed:v3"),
        ),
        (format!("dir:{}", dir.display()), None),
    ] {
        // The manifest names one config (the image's, with the diff ids of
        // the layer tars written), the same in every layout, and all layers.
        let m = skopeo_inspect_local(&reference, true);
        let config = m["config"]["digest"].as_str().unwrap().to_string();
        configs.push(config);
        assert_eq!(
            m["layers"].as_array().map(Vec::len),
            Some(layers),
            "{reference}: {m}"
        );
        let i = skopeo_inspect_local(&reference, false);
        assert_eq!(i["Layers"].as_array().map(Vec::len), Some(layers), "{i}");
        if let Some(t) = tagged {
            // The archive's RepoTags name it as the destination said.
            let out = Command::new("tar")
                .args(["xOf", docker_tar.to_str().unwrap(), "manifest.json"])
                .output()
                .unwrap();
            let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(m[0]["RepoTags"], serde_json::json!([t]), "{m}");
        }
        // skopeo verifies every blob it copies.
        let d = tempfile::tempdir().unwrap();
        let out = Command::new("skopeo")
            .args(["copy", "-q", &reference])
            .arg(format!("oci:{}:x", d.path().display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo copy {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    configs.dedup();
    assert_eq!(configs.len(), 1, "{configs:?}");
    // The reference of an OCI layout is its ref.name annotation.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "v1",
        "{index}"
    );
    // --digestfile needs a registry's answer.
    let (code, e) = env.rpod_fail(&[
        "push",
        "--digestfile",
        h.join("d").to_str().unwrap(),
        &src,
        &format!("oci:{}", h.join("oci2").display()),
    ]);
    assert_eq!(code, 125);
    assert!(e.contains("--digestfile"), "{e}");
}

#[test]
fn search_lists_catalog_matches_and_tags() {
    let env = new_env("search");
    let reg = world().registry();
    let out = env.rpod_ok(&["search", &format!("{reg}/alpine")]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("NAME") && header.trim_end().ends_with("DESCRIPTION"),
        "{out}"
    );
    let names: Vec<&str> = lines
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    for n in ["alpine", "alpine-plain", "alpine-zstd", "library/alpine"] {
        assert!(names.contains(&format!("{reg}/{n}").as_str()), "{n}: {out}");
    }
    assert!(names.iter().all(|n| n.contains("alpine")), "{out}");
    // A term without a registry searches the unqualified-search registries.
    let short = env.rpod_ok(&["image", "search", "--format", "{{.Name}}", "alpine-zst"]);
    assert_eq!(short.trim(), format!("{reg}/alpine-zstd"));
    let one = env.rpod_ok(&[
        "search",
        "--limit",
        "1",
        "--format",
        "{{.Name}}",
        &format!("{reg}/"),
    ]);
    assert_eq!(one.lines().count(), 1, "{one}");
    // Tags.
    let tags = env.rpod_ok(&["search", "--list-tags", &format!("{reg}/alpine")]);
    let rows: Vec<Vec<&str>> = tags
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "TAG"], "{tags}");
    assert!(
        rows.contains(&vec![format!("{reg}/alpine").as_str(), "latest"]),
        "{tags}"
    );
    assert!(
        rows.contains(&vec![format!("{reg}/alpine").as_str(), "3"]),
        "{tags}"
    );
    // JSON, with podman's keys.
    let j: serde_json::Value = serde_json::from_str(&env.rpod_ok(&[
        "search",
        "--format",
        "json",
        &format!("{reg}/alpine-plain"),
    ]))
    .unwrap();
    assert_eq!(j[0]["Name"], format!("{reg}/alpine-plain"));
    assert_eq!(j[0]["Index"], reg);
    for k in ["Description", "Stars", "Official", "Automated", "Tag"] {
        assert!(j[0].get(k).is_some(), "{k}: {j}");
    }
    // Filters: nothing on a plain registry is official.
    let none = env.rpod_ok(&[
        "search",
        "--filter",
        "is-official=true",
        &format!("{reg}/alpine"),
    ]);
    assert_eq!(none, "", "podman prints no header without results");
    let (code, e) = env.rpod_fail(&["search", "--filter", "color=blue", "alpine"]);
    assert_eq!(code, 125);
    assert!(e.contains("color=blue"), "{e}");
    let (code, e) = env.rpod_fail(&["search", "--list-tags", "alpine"]);
    assert_eq!(code, 125);
    assert!(e.contains("fully qualified"), "{e}");
}

#[test]
fn stored_blobs_are_pushed_as_they_are_and_checked() {
    let env = env_with_alpine("pushstored");
    let src = env.image("alpine");
    // The layer blob as the registry serves it, put in the store as rpod
    // keeps the blobs it is given whole.
    let layer = skopeo_inspect(&src, true)["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = Command::new("curl")
        .args([
            "-sf",
            &format!("http://{src}/blobs/{layer}").replace("/alpine/", "/v2/alpine/"),
        ])
        .output()
        .unwrap();
    assert!(blob.status.success() && !blob.stdout.is_empty());
    let path = store_root(&env)
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    std::fs::write(&path, &blob.stdout).unwrap();
    let st = Command::new("chown")
        .arg(format!("{}:", world().user()))
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());

    // Nothing to mount from on the TLS registry: the stored blob is
    // uploaded as it is, so the manifest and its digest stay the same.
    let dest = format!("{}/{}", world().tls_registry(), repo("stored"));
    let digestfile = env.home.join("d");
    let out = env.rpod(&[
        "--log-level",
        "debug",
        "push",
        "--creds",
        &creds(),
        "--digestfile",
        digestfile.to_str().unwrap(),
        &src,
        &dest,
    ]);
    let stderr = err(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("uploading a blob"), "{stderr}");
    assert!(!stderr.contains("made blob"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&digestfile).unwrap(),
        digest_of(&env, &src)
    );
    skopeo_copy_verifies(&dest);

    // A stored blob that no longer matches its digest is not pushed, and
    // neither is the manifest.
    let mut bad = blob.stdout.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    // Forget that the TLS registry has it now (else it is mounted from there).
    std::fs::remove_file(store_root(&env).join("cache/blob-info-v1.json")).unwrap();
    let dest2 = format!("{}/{}", world().tls_registry(), repo("damaged"));
    let (code, e) = env.rpod_fail(&["push", "--creds", &creds(), &src, &dest2]);
    assert_eq!(code, 125);
    assert!(e.contains("damaged") && e.contains(&layer), "{e}");
    let out = Command::new("skopeo")
        .args(["inspect", "--creds", &creds(), "--cert-dir", &tls_certs()])
        .arg(format!("docker://{dest2}"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a manifest was pushed");
}

#[test]
fn two_pushes_of_one_image_at_once_both_complete() {
    let env = new_env("pushconc");
    let src = env.image("layers");
    env.rpod_ok(&["pull", "-q", &src]);
    // The TLS registry has none of the blobs: both remake and upload them.
    let dest = format!("{}/{}", world().tls_registry(), repo("conc"));
    let c = creds();
    let children: Vec<_> = (0..2)
        .map(|i| {
            let df = env.home.join(format!("d{i}"));
            env.cmd(&[
                "push",
                "-q",
                "--creds",
                &c,
                "--digestfile",
                df.to_str().unwrap(),
                &src,
                &dest,
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", err(&out));
    }
    let d0 = std::fs::read_to_string(env.home.join("d0")).unwrap();
    assert_eq!(d0, std::fs::read_to_string(env.home.join("d1")).unwrap());
    assert_eq!(skopeo_inspect(&dest, false)["Digest"], d0.as_str());
    skopeo_copy_verifies(&dest);
}

#[test]
fn a_killed_push_leaves_no_manifest_and_the_next_one_completes() {
    let env = new_env("pushkill");
    let src = env.image("layers");
    env.rpod_ok(&["pull", "-q", &src]);
    let dest = format!("{}/{}", world().tls_registry(), repo("kill"));
    let mut child = env
        .cmd(&["push", "-q", "--creds", &creds(), &src, &dest])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // runuser is our child and rpod its: kill rpod, by its pid.
    let pid = child.id();
    let kids =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for k in kids.split_whitespace() {
        let _ = Command::new("kill").args(["-KILL", k]).status();
    }
    let _ = child.kill();
    let _ = child.wait();
    // Whatever it got to: a manifest at the destination is a whole image.
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--creds", &creds(), "--cert-dir", &tls_certs()])
        .arg(format!("docker://{dest}"));
    if c.output().unwrap().status.success() {
        skopeo_copy_verifies(&dest);
    }
    // The store is intact and the next push completes.
    let digestfile = env.home.join("d");
    env.rpod_ok(&[
        "push",
        "-q",
        "--creds",
        &creds(),
        "--digestfile",
        digestfile.to_str().unwrap(),
        &src,
        &dest,
    ]);
    assert_eq!(
        skopeo_inspect(&dest, false)["Digest"],
        std::fs::read_to_string(&digestfile).unwrap().as_str()
    );
    skopeo_copy_verifies(&dest);
    assert!(
        env.store_entries("tmp").is_empty(),
        "{:?}",
        env.store_entries("tmp")
    );
}
