//! The local image commands as the unprivileged test user: images, tag,
//! untag, rmi, image inspect and image prune, with podman's output shapes
//! and exit codes.

use crate::common;
use crate::common::Env;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn pull(env: &Env, name: &str) -> String {
    env.rpod_ok(&["pull", "-q", &env.image(name)])
        .trim()
        .to_string()
}

fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn images_table_quiet_digests_templates_and_json() {
    let env = Env::new("imgs");
    let id = pull(&env, "alpine");
    assert!(is_hex(&id, 64), "{id}");
    let reg = common::world().registry();

    let table = env.rpod_ok(&["images"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    let cols: Vec<&str> = lines[0]
        .split("  ")
        .filter(|c| !c.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        cols,
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{table}"
    );
    let row = lines[1];
    assert!(row.starts_with(&format!("{reg}/alpine  ")), "{row}");
    assert!(
        row.contains(&format!("latest      {}  ", &id[..12])),
        "{row}"
    );
    assert!(
        row.contains(" ago  ") && (row.ends_with(" MB") || row.ends_with(" kB")),
        "{row}"
    );
    // Column starts line up, as a tabwriter lays them out.
    assert_eq!(lines[0].find("IMAGE ID"), row.find(&id[..12]), "{table}");

    assert_eq!(env.rpod_ok(&["images", "-q"]).trim(), &id[..12]);
    assert_eq!(
        env.rpod_ok(&["images", "-q", "--no-trunc"]).trim(),
        format!("sha256:{id}")
    );
    assert_eq!(env.rpod_ok(&["images", "--noheading"]).lines().count(), 1);
    assert_eq!(
        env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        format!("{reg}/alpine:latest")
    );
    assert_eq!(
        env.rpod_ok(&["images", "--format", "{{.ID}}"]).trim(),
        &id[..12]
    );
    assert_eq!(
        env.rpod_ok(&["images", "--format", "{{.ID}}", "--no-trunc"])
            .trim(),
        format!("sha256:{id}")
    );
    let t = env.rpod_ok(&["images", "--format", "table {{.ID}}\\t{{.Repository}}"]);
    assert!(t.starts_with("IMAGE ID    "), "{t}");

    let digests = env.rpod_ok(&["images", "--digests"]);
    assert!(
        digests.lines().next().unwrap().contains("DIGEST"),
        "{digests}"
    );
    let digest = env
        .rpod_ok(&["images", "--format", "{{.Digest}}"])
        .trim()
        .to_string();
    assert!(
        digest.starts_with("sha256:") && is_hex(&digest[7..], 64),
        "{digest}"
    );
    assert!(digests.contains(&digest));

    let json: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["images", "--format", "json"])).unwrap();
    let first = &json[0];
    assert_eq!(first["Id"], id.as_str());
    assert_eq!(
        first["RepoTags"][0],
        format!("{reg}/alpine:latest").as_str()
    );
    assert_eq!(first["Digest"], digest.as_str());
    assert_eq!(
        first["RepoDigests"][0],
        format!("{reg}/alpine@{digest}").as_str()
    );
    assert!(first["Size"].as_u64().unwrap() > 0);
    assert!(first["Created"].as_i64().is_some());

    // Name filters: short name, glob, no match.
    assert_eq!(env.rpod_ok(&["images", "-q", "alpine"]).trim(), &id[..12]);
    assert_eq!(
        env.rpod_ok(&["images", "-q", &format!("{reg}/*")]).trim(),
        &id[..12]
    );
    assert_eq!(env.rpod_ok(&["images", "-q", "busybox"]).trim(), "");
    assert_eq!(
        env.rpod_ok(&["images", "-q", "--filter", "dangling=true"])
            .trim(),
        ""
    );
    let (code, err) = env.rpod_fail(&["images", "--filter", "bogus=1"]);
    assert_eq!(code, 125, "{err}");
    let (code, err) = env.rpod_fail(&["images", "--format", "{{.Nope}}"]);
    assert_eq!(code, 125);
    assert!(err.contains(".Nope"), "{err}");
}

#[test]
fn empty_store_prints_only_the_header() {
    let env = Env::new("imgsempty");
    let out = env.rpod_ok(&["images"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("REPOSITORY"));
    assert_eq!(env.rpod_ok(&["images", "--format", "json"]).trim(), "[]");
}

#[test]
fn tag_and_untag_normalise_names_as_podman() {
    let env = Env::new("tag");
    let id = pull(&env, "alpine");
    env.rpod_ok(&["tag", "alpine", "mine", "mine:v2", "quay.io/x/y"]);
    let names = env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for n in [
        "localhost/mine:latest",
        "localhost/mine:v2",
        "quay.io/x/y:latest",
    ] {
        assert!(names.lines().any(|l| l == n), "{n} missing from {names}");
    }
    // The new names find the image.
    assert_eq!(
        env.rpod_ok(&["image", "inspect", "--format", "{{.Id}}", "mine:v2"])
            .trim(),
        id
    );
    let (code, err) = env.rpod_fail(&["tag", "alpine", "Bad:Name"]);
    assert_eq!(code, 125);
    assert!(err.contains("Bad:Name"), "{err}");
    let (code, err) = env.rpod_fail(&["tag", "nosuchimage", "x"]);
    assert_eq!(code, 125);
    assert!(err.contains("nosuchimage: image not known"), "{err}");

    env.rpod_ok(&["untag", &id, "mine:v2"]);
    let names = env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        !names.contains("mine:v2") && names.contains("localhost/mine:latest"),
        "{names}"
    );
    let (code, err) = env.rpod_fail(&["untag", &id, "never:there"]);
    assert_eq!(code, 125);
    assert!(err.contains("never:there"), "{err}");
    // All names go: the image stays, dangling.
    env.rpod_ok(&["untag", &id]);
    let out = env.rpod_ok(&["images"]);
    assert!(out.lines().nth(1).unwrap().starts_with("<none>"), "{out}");
    assert_eq!(
        env.rpod_ok(&["images", "-q", "--filter", "dangling=true"])
            .trim(),
        &id[..12]
    );
}

#[test]
fn tag_moves_a_name_from_another_image() {
    let env = Env::new("tagmove");
    let a = pull(&env, "alpine");
    let c = pull(&env, "config");
    env.rpod_ok(&["tag", &a, "shared"]);
    env.rpod_ok(&["tag", &c, "shared"]);
    let fmt = "{{.Id}} {{json .RepoTags}}";
    let a_tags = env.rpod_ok(&["image", "inspect", "--format", fmt, &a]);
    let c_tags = env.rpod_ok(&["image", "inspect", "--format", fmt, &c]);
    assert!(!a_tags.contains("localhost/shared"), "{a_tags}");
    assert!(c_tags.contains("localhost/shared:latest"), "{c_tags}");
}

#[test]
fn rmi_untags_deletes_and_reports_like_podman() {
    let env = Env::new("rmi");
    let id = pull(&env, "alpine");
    env.rpod_ok(&["tag", "alpine", "second"]);
    // By one of several names: only that name goes.
    let out = env.rpod_ok(&["rmi", "second"]);
    assert_eq!(out, "Untagged: localhost/second:latest\n");
    assert!(env.store_entries("images").contains(&format!("{id}.json")));

    let (code, err) = env.rpod_fail(&["rmi", "nosuch"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nosuch: image not known"), "{err}");
    env.rpod_ok(&["rmi", "-i", "nosuch"]);

    let reg = common::world().registry();
    let out = env.rpod_ok(&["rmi", &id[..10]]);
    assert_eq!(
        out,
        format!("Untagged: {reg}/alpine:latest\nDeleted: {id}\n")
    );
    assert_eq!(env.rpod_ok(&["images", "-q"]), "");
    assert!(
        env.store_entries("layers").is_empty(),
        "{:?}",
        env.store_entries("layers")
    );
    assert!(env.store_entries("blobs/sha256").is_empty());
    assert!(env.store_entries("tmp").is_empty());

    pull(&env, "alpine");
    pull(&env, "config");
    let out = env.rpod_ok(&["rmi", "--all"]);
    assert_eq!(out.matches("Deleted: ").count(), 2, "{out}");
    assert!(env.store_entries("layers").is_empty());
    let (code, _) = env.rpod_fail(&["rmi", "--all", "alpine"]);
    assert_eq!(code, 125);
}

#[test]
fn rmi_refuses_an_image_a_container_uses_unless_forced() {
    let env = Env::new("rmiuse");
    let id = pull(&env, "alpine");
    // A container record as the container commands write it.
    env.sh_ok(&format!(
        "d=$XDG_DATA_HOME/rpod/containers/c0ffee; mkdir -p $d && \
         printf '{{\"id\":\"c0ffee\",\"image_id\":\"{id}\"}}' > $d/container.json"
    ));
    let (code, err) = env.rpod_fail(&["rmi", "alpine"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("c0ffee") && err.contains("in use by a container"),
        "{err}"
    );
    // prune -a skips images that containers use.
    assert_eq!(env.rpod_ok(&["image", "prune", "-a", "-f"]).trim(), "");
    let out = env.rpod(&["rmi", "-f", "alpine"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Deleted: {id}")));
    assert!(
        stderr(&out).contains("c0ffee"),
        "the kept layers are explained: {}",
        stderr(&out)
    );
    assert_eq!(env.rpod_ok(&["images", "-q"]), "");
    // The container still has its layers…
    assert!(!env.store_entries("layers").is_empty());
    // …until it is gone.
    env.sh_ok("rm -rf $XDG_DATA_HOME/rpod/containers/c0ffee");
    env.rpod_ok(&["image", "prune", "-f"]);
    assert!(env.store_entries("layers").is_empty());
}

#[test]
fn image_inspect_is_docker_like_json() {
    let env = Env::new("inspect");
    let id = pull(&env, "config");
    let out = env.rpod_ok(&["image", "inspect", "config"]);
    assert!(
        out.starts_with("[\n     {\n          \"Id\": "),
        "podman's indentation: {out}"
    );
    // An empty format and `json` mean the default JSON, as podman has it.
    for f in ["", "json"] {
        assert_eq!(
            env.rpod_ok(&["image", "inspect", "--format", f, "config"]),
            out,
            "--format {f:?}"
        );
    }
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let img = &v[0];
    assert_eq!(img["Id"], id.as_str());
    assert_eq!(img["Os"], "linux");
    assert!(img["Architecture"].is_string());
    assert_eq!(img["RootFS"]["Type"], "layers");
    let layers = img["RootFS"]["Layers"].as_array().unwrap();
    assert!(!layers.is_empty());
    assert!(img["RepoDigests"][0].as_str().unwrap().contains("@sha256:"));
    let cfg = &img["Config"];
    assert!(
        cfg["User"]
            .as_str()
            .is_some_and(|u| !u.is_empty() && u != "root"),
        "{cfg}"
    );
    assert!(
        cfg["Env"].as_array().is_some_and(|e| !e.is_empty()),
        "{cfg}"
    );
    assert!(
        cfg["Entrypoint"].is_array() && cfg["Cmd"].is_array(),
        "{cfg}"
    );
    assert!(
        cfg["WorkingDir"].is_string() && cfg["Labels"].is_object(),
        "{cfg}"
    );
    assert_eq!(img["Labels"], cfg["Labels"]);
    assert!(img["Created"].as_str().unwrap().ends_with('Z'));

    assert_eq!(
        env.rpod_ok(&["image", "inspect", "--format", "{{.Id}}", "config"])
            .trim(),
        id
    );
    assert_eq!(
        env.rpod_ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.WorkingDir}}",
            "config"
        ])
        .trim(),
        cfg["WorkingDir"].as_str().unwrap()
    );
    assert_eq!(
        env.rpod_ok(&[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            "config"
        ])
        .trim(),
        layers.len().to_string()
    );
    let (code, err) = env.rpod_fail(&["image", "inspect", "nosuch"]);
    assert_eq!(code, 125);
    assert!(err.contains("nosuch: image not known"), "{err}");
}

#[test]
fn image_prune_removes_dangling_then_unused() {
    let env = Env::new("prune");
    let a = pull(&env, "alpine");
    let c = pull(&env, "config");
    env.rpod_ok(&["untag", &a]);
    // Without -f it asks; "n" keeps everything.
    let out = env.rpod_stdin(&["image", "prune"], b"n\n");
    assert!(out.status.success());
    assert!(stderr(&out).contains("Are you sure you want to continue? [y/N]"));
    // The untagged alpine is config's parent: intermediate, so listed with -a
    // only (as podman 4.3.1 lists it).
    assert_eq!(env.rpod_ok(&["images", "-a", "-q"]).lines().count(), 2);
    assert_eq!(env.rpod_ok(&["images", "-q"]).lines().count(), 1);
    // Not dangling either: it has a child (podman 4.3.1 keeps it too).
    assert_eq!(env.rpod_ok(&["image", "prune", "-f"]).trim(), "");
    assert_eq!(env.rpod_ok(&["images", "-a", "-q"]).lines().count(), 2);
    assert_eq!(env.rpod_ok(&["images", "-q"]).trim(), &c[..12]);
    // config untagged: dangling, and once it is gone so is alpine (the
    // chain goes, as podman's prune removes it).
    env.rpod_ok(&["untag", &c]);
    assert_eq!(
        env.rpod_ok(&["image", "prune", "-f"]),
        format!("{c}\n{a}\n")
    );
    assert_eq!(env.rpod_ok(&["images", "-a", "-q"]), "");
    // -a: named images no container uses too.
    let a = pull(&env, "alpine");
    assert_eq!(env.rpod_ok(&["image", "prune", "-f"]).trim(), "");
    assert_eq!(env.rpod_ok(&["image", "prune", "-a", "-f"]).trim(), a);
    assert!(env.store_entries("layers").is_empty());
    assert!(env.store_entries("blobs/sha256").is_empty());
}
