//! `rpod manifest …`: podman 4.3's manifest lists, kept as image records,
//! built from local and remote images, pushed with their images, and read
//! back by the real podman; a hostile index is refused before anything is
//! stored.

use crate::archives::podman;
use crate::common::*;
use serde_json::Value;

const MULTIARCH_AMD64: &str =
    "sha256:ab8766b6b5d5adbe9018dd0f7550abf540bd712686ef434326abf39248491373";
const MULTIARCH_ARM64: &str =
    "sha256:8ea12825f3a47d4f15d3f5bc02dcad7474b4451e12f825a6cb0ae7b87c43ecc2";

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn digests(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["digest"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The digest of the local image `name` (its manifest's).
fn local_digest(env: &Env, name: &str) -> String {
    env.rpod_ok(&["image", "inspect", "--format", "{{.Digest}}", name])
        .trim()
        .to_string()
}

#[test]
fn lists_are_made_annotated_inspected_and_removed_as_podmans() {
    let env = env_with_alpine("mflife");
    let reg = world().registry();
    let alpine = format!("{reg}/alpine:latest");
    let alpine_digest = local_digest(&env, &alpine);

    // create: a 64-hex id; an empty list inspects as podman's.
    let id = env
        .rpod_ok(&["manifest", "create", "mylist"])
        .trim()
        .to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        env.rpod_ok(&["manifest", "inspect", "mylist"]),
        "{\n    \"schemaVersion\": 2,\n    \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n    \"manifests\": null\n}\n"
    );
    let (code, err) = env.rpod_fail(&["manifest", "create", "mylist"]);
    assert_eq!(code, 125);
    assert!(err.contains("that name is already in use"), "{err}");
    // --amend takes the existing list.
    assert_eq!(
        env.rpod_ok(&["manifest", "create", "--amend", "mylist"])
            .trim(),
        id
    );

    // exists: 0, 1, and 125 for an image that is no list.
    env.rpod_ok(&["manifest", "exists", "mylist"]);
    assert_eq!(env.rpod_fail(&["manifest", "exists", "nolist"]).0, 1);
    let (code, err) = env.rpod_fail(&["manifest", "exists", &alpine]);
    assert_eq!(code, 125);
    assert_eq!(
        err.trim(),
        format!("Error: {alpine}: image is not a manifest list")
    );

    // add: a local image, and every image of a remote index; the id stays.
    let cs = format!("containers-storage:{alpine}");
    assert_eq!(env.rpod_ok(&["manifest", "add", "mylist", &cs]).trim(), id);
    let multi = format!("{reg}/multiarch");
    assert_eq!(
        env.rpod_ok(&["manifest", "add", "--all", "mylist", &multi])
            .trim(),
        id
    );
    let (code, err) = env.rpod_fail(&["manifest", "add", "nolist", &cs]);
    assert_eq!((code, err.trim()), (125, "Error: nolist: image not known"));
    let out = env.rpod_ok(&["manifest", "inspect", "mylist"]);
    let v = json(&out);
    assert_eq!(
        digests(&v),
        [alpine_digest.as_str(), MULTIARCH_AMD64, MULTIARCH_ARM64]
    );
    assert_eq!(v["manifests"][2]["platform"]["variant"], "v8");
    // podman's layout: 4 spaces, Docker list keys in its order.
    assert!(out.contains("\n        {\n            \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n            \"size\": "), "{out}");

    // annotate: podman's fields, printed as podman prints them.
    let out = env.rpod_ok(&[
        "manifest",
        "annotate",
        "--arch",
        "arm",
        "--variant",
        "v7",
        "--os",
        "plan9",
        "--os-version",
        "1.0",
        "--os-features",
        "f1,f2",
        "--features",
        "x",
        "--annotation",
        "a=b",
        "mylist",
        MULTIARCH_AMD64,
    ]);
    assert_eq!(out.trim(), id);
    let v = json(&env.rpod_ok(&["manifest", "inspect", "mylist"]));
    let m = &v["manifests"][1];
    assert_eq!(
        m["platform"],
        json(r#"{"architecture":"arm","os":"plan9","os.version":"1.0","variant":"v7"}"#)
    );
    assert_eq!(m["annotations"], json(r#"{"a":"b"}"#));
    let (code, err) = env.rpod_fail(&[
        "manifest",
        "annotate",
        "--annotation",
        "novalue",
        "mylist",
        MULTIARCH_AMD64,
    ]);
    assert_eq!(code, 125, "{err}");

    // The list is an image: `images` shows it.
    let images = env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(
        images.contains(&format!("localhost/mylist:latest {}", &id[..12])),
        "{images}"
    );

    // Not an image to push or save as one; no damage to `system check`.
    let (code, e) = env.rpod_fail(&["push", "mylist", &format!("{reg}/rpod-mf-no:1")]);
    assert_eq!(code, 125);
    assert!(
        e.contains("is a manifest list: push it with rpod manifest push"),
        "{e}"
    );
    let tar = env.home.join("l.tar");
    let (code, e) = env.rpod_fail(&["save", "-o", tar.to_str().unwrap(), "mylist"]);
    assert_eq!(code, 125);
    assert!(e.contains("a manifest list can't be saved"), "{e}");
    assert!(!tar.exists());
    env.rpod_ok(&["system", "check"]);

    // remove: one entry; an unknown digest is podman's error.
    let zero = format!("sha256:{}", "0".repeat(64));
    let (code, err) = env.rpod_fail(&["manifest", "remove", "mylist", &zero]);
    assert_eq!(code, 125);
    assert_eq!(
        err.trim(),
        format!("Error: removing from manifest list mylist: no instance matching digest \"{zero}\" found in manifest list: file does not exist")
    );
    assert_eq!(
        env.rpod_ok(&["manifest", "remove", "mylist", MULTIARCH_ARM64])
            .trim(),
        id
    );
    let v = json(&env.rpod_ok(&["manifest", "inspect", "mylist"]));
    assert_eq!(digests(&v), [alpine_digest.as_str(), MULTIARCH_AMD64]);

    // rm: the list goes, its images stay; a missing one exits 1, an image
    // that is no list 125.
    let out = env.rpod_ok(&["manifest", "rm", "mylist"]);
    assert_eq!(
        out,
        format!("Untagged: localhost/mylist:latest\nDeleted: {id}\n")
    );
    assert_eq!(env.rpod_fail(&["manifest", "exists", "mylist"]).0, 1);
    assert_eq!(local_digest(&env, &alpine), alpine_digest);
    assert_eq!(env.rpod_fail(&["manifest", "rm", "mylist"]).0, 1);
    assert_eq!(env.rpod_fail(&["manifest", "rm", &alpine]).0, 125);
    // Nothing of the list is left in the store: its blobs went with it.
    let images = env.rpod_ok(&["images", "-q"]);
    assert_eq!(images.lines().count(), 1, "{images}");
}

#[test]
fn inspect_of_a_remote_index_is_podmans() {
    let env = new_env("mfremote");
    let reg = world().registry();
    let out = env.rpod_ok(&["manifest", "inspect", &format!("{reg}/multiarch")]);
    let p = podman(&env, &["manifest", "inspect", &format!("{reg}/multiarch")]);
    assert_eq!(out, p);
    // A single image is no list (podman: "not implemented").
    let (code, err) = env.rpod_fail(&["manifest", "inspect", &format!("{reg}/alpine")]);
    assert_eq!(code, 125);
    assert!(
        err.contains("Treating single images as manifest lists is not implemented"),
        "{err}"
    );
    // Nothing was stored.
    assert_eq!(env.rpod_ok(&["images", "-q"]), "");
}

#[test]
fn a_pushed_list_is_what_podman_pulls_and_run_picks_the_platform() {
    let env = env_with_alpine("mfpush");
    let reg = world().registry();
    let alpine = format!("{reg}/alpine:latest");
    let alpine_digest = local_digest(&env, &alpine);
    env.rpod_ok(&[
        "manifest",
        "create",
        "pl",
        &format!("containers-storage:{alpine}"),
    ]);
    env.rpod_ok(&[
        "manifest",
        "add",
        "--all",
        "pl",
        &format!("{reg}/multiarch"),
    ]);
    // Two amd64 images: the arm64 one is the only entry for its platform.
    env.rpod_ok(&["manifest", "remove", "pl", MULTIARCH_AMD64]);

    // run of the list's name: the local image of this platform.
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "pl", "echo", "from-list"]),
        "from-list\n"
    );

    let dest = format!("{reg}/rpod-mf-{}/list:1", std::process::id());
    let digestfile = env.home.join("digest");
    let out = env.rpod(&[
        "manifest",
        "push",
        "--all",
        "--digestfile",
        digestfile.to_str().unwrap(),
        "pl",
        &dest,
    ]);
    assert!(out.status.success(), "{}", err(&out));
    let e = err(&out);
    for line in [
        "Getting image list signatures",
        "Copying 2 of 2 images in list",
        &format!("Copying image {alpine_digest} (1/2)"),
        &format!("Copying image {MULTIARCH_ARM64} (2/2)"),
        "Writing manifest list to image destination",
        "Storing list signatures",
    ] {
        assert!(e.lines().any(|l| l == line), "{line:?} in\n{e}");
    }
    // The arm64 image was pulled only for the push: it is gone again.
    let images = env.rpod_ok(&["images", "-q"]);
    assert_eq!(images.lines().count(), 2, "{images}");

    // The registry's index is what --digestfile names, with both images.
    let digest = std::fs::read_to_string(&digestfile).unwrap();
    let remote = env.rpod_ok(&["manifest", "inspect", &dest]);
    assert_eq!(
        digests(&json(&remote)),
        [alpine_digest.as_str(), MULTIARCH_ARM64]
    );

    // podman reads it: inspect, and a pull of the list takes this
    // platform's image by digest; one of arm64 works too.
    let p = json(&podman(&env, &["manifest", "inspect", &dest]));
    assert_eq!(digests(&p), [alpine_digest.as_str(), MULTIARCH_ARM64]);
    // (podman records the list's digest as the image's, and the image's
    // own among its repo digests.)
    let pid = podman(&env, &["pull", "-q", &dest]);
    let p = json(&podman(&env, &["image", "inspect", &dest]))[0].clone();
    assert_eq!(p["Digest"].as_str().unwrap(), digest.trim());
    let own = format!("{}@{alpine_digest}", dest.rsplit_once(':').unwrap().0);
    assert!(
        p["RepoDigests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == own.as_str()),
        "{p}"
    );
    let rid = env.rpod_ok(&["image", "inspect", "--format", "{{.Id}}", &alpine]);
    assert_eq!(pid.trim(), rid.trim());
    podman(
        &env,
        &[
            "pull",
            "-q",
            "--arch",
            "arm64",
            &format!("{}@{digest}", dest.rsplit_once(':').unwrap().0),
        ],
    );

    // --format v2s2 converts the images, and the list names the converted
    // manifests; without --all it can't (the images stay OCI).
    let v2 = format!("{reg}/rpod-mf-{}/list:v2", std::process::id());
    env.rpod_ok(&["manifest", "push", "-q", "--format", "v2s2", "pl", &v2]);
    let remote = json(&env.rpod_ok(&["manifest", "inspect", &v2]));
    for m in remote["manifests"].as_array().unwrap() {
        assert_eq!(
            m["mediaType"], "application/vnd.docker.distribution.manifest.v2+json",
            "{remote}"
        );
    }
    let (code, e) = env.rpod_fail(&[
        "manifest",
        "push",
        "-q",
        "--all=false",
        "--format",
        "v2s2",
        "pl",
        &v2,
    ]);
    assert_eq!(code, 125);
    assert!(
        e.contains("an OCI manifest can't be listed in a Docker manifest list"),
        "{e}"
    );

    // --rm: the local list goes once pushed; its images stay.
    env.rpod_ok(&["manifest", "push", "-q", "--rm", "pl", &dest]);
    assert_eq!(env.rpod_fail(&["manifest", "exists", "pl"]).0, 1);
    assert_eq!(local_digest(&env, &alpine), alpine_digest);
}

#[test]
fn a_list_goes_to_the_tls_registry_with_credentials() {
    let env = env_with_alpine("mftls");
    let w = world();
    let alpine = format!("{}/alpine:latest", w.registry());
    env.rpod_ok(&[
        "manifest",
        "create",
        "tl",
        &format!("containers-storage:{alpine}"),
    ]);
    let dest = format!("{}/rpod-mf-{}/tls:1", w.tls_registry(), std::process::id());
    let creds = format!("{}:{}", w.get("REG_USER"), w.get("REG_PASS"));
    // Without credentials the registry refuses, in one line.
    let (code, e) = env.rpod_fail(&["manifest", "push", "-q", "--all", "tl", &dest]);
    assert_eq!(code, 125);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(e.contains("authentication required"), "{e}");
    // --all=false: the list only, which the registry refuses without its image.
    let (code, e) = env.rpod_fail(&[
        "manifest",
        "push",
        "-q",
        "--all=false",
        "--creds",
        &creds,
        "tl",
        &dest,
    ]);
    assert_eq!(code, 125, "{e}");
    env.rpod_ok(&[
        "manifest", "push", "-q", "--all", "--creds", &creds, "tl", &dest,
    ]);
    let v = json(&env.rpod_ok(&["manifest", "inspect", "--creds", &creds, &dest]));
    // The layer was made again for this registry (rpod keeps no compressed
    // copy, and another registry can't lend it): the list names the
    // manifest that was pushed, and a pull through the list gives the
    // same image.
    assert_eq!(digests(&v).len(), 1);
    let id = env.rpod_ok(&["image", "inspect", "--format", "{{.Id}}", &alpine]);
    env.rpod_ok(&["rmi", &alpine]);
    let pulled = env.rpod_ok(&["pull", "-q", "--creds", &creds, &dest]);
    assert_eq!(pulled.trim(), id.trim());
    assert_eq!(local_digest(&env, &dest), digests(&v)[0]);
}

/// A repository of the hostile registry (tests/world/badreg.py serves
/// STATE/oci/bad/NAME as an OCI layout), removed when dropped.
struct BadRepo {
    dir: std::path::PathBuf,
    name: String,
}

impl BadRepo {
    fn new(tag: &str) -> BadRepo {
        let name = format!("rpod-mf-{tag}-{}", std::process::id());
        let dir = std::path::Path::new(world().get("STATE_DIR"))
            .join("oci/bad")
            .join(&name);
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        BadRepo { dir, name }
    }

    /// Store `body` under `hex` (its digest or not) and return "sha256:HEX".
    fn blob_as(&self, hex: &str, body: &[u8]) -> String {
        std::fs::write(self.dir.join("blobs/sha256").join(hex), body).unwrap();
        format!("sha256:{hex}")
    }

    fn blob(&self, body: &[u8]) -> String {
        self.blob_as(&sha256_hex(body), body)
    }

    /// Tag `tag` names the index `body`.
    fn tag_index(&self, tag: &str, body: &str) {
        let d = self.blob(body.as_bytes());
        let idx = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": d, "size": body.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}}]});
        let p = self.dir.join("index.json");
        let mut cur: Value = std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| serde_json::json!({"schemaVersion": 2, "manifests": []}));
        cur["manifests"]
            .as_array_mut()
            .unwrap()
            .push(idx["manifests"][0].clone());
        std::fs::write(p, serde_json::to_vec(&cur).unwrap()).unwrap();
    }
}

impl Drop for BadRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use std::io::Write;
    let mut c = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn a_hostile_index_is_refused_and_nothing_is_stored() {
    let env = new_env("mfhostile");
    let bad = BadRepo::new("h");
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2},"layers":[]}"#;
    // 1. An entry whose bytes are not its digest.
    let claimed = "2".repeat(64);
    let lie = bad.blob_as(&claimed, manifest);
    let entry = |digest: &str, size: usize| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{size},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
        )
    };
    bad.tag_index("mismatch", &entry(&lie, manifest.len()));
    // 2. An entry that claims to be huge (with --all it is never fetched).
    let honest = bad.blob(manifest);
    bad.tag_index("huge", &entry(&honest, 5 << 30));
    // 3. An entry whose digest is a path.
    bad.tag_index("pathy", &entry("sha256:../../../../etc/passwd", 10));

    let at = |tag: &str| format!("{}/{}:{tag}", world().bad_registry(), bad.name);
    env.rpod_ok(&["manifest", "create", "victim"]);
    let empty = env.rpod_ok(&["manifest", "inspect", "victim"]);
    let blobs_before = env.store_entries("blobs/sha256");
    for (tag, all, want) in [
        ("mismatch", false, "digest mismatch"),
        ("huge", true, "is not within 1 byte to 4 MiB"),
        ("pathy", true, "malformed manifest"),
    ] {
        let mut args = vec!["manifest", "add"];
        if all {
            args.push("--all");
        }
        let image = at(tag);
        args.extend(["victim", image.as_str()]);
        let (code, e) = env.rpod_fail(&args);
        assert_eq!(code, 125, "{tag}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{tag}: {e}");
        assert!(e.contains(want), "{tag}: {e}");
        // create with the same image leaves no list behind.
        let mut args = vec!["manifest", "create"];
        if all {
            args.push("--all");
        }
        args.extend(["other", image.as_str()]);
        assert_eq!(env.rpod_fail(&args).0, 125, "{tag}");
        assert_eq!(
            env.rpod_fail(&["manifest", "exists", "other"]).0,
            1,
            "{tag}"
        );
    }
    assert_eq!(env.rpod_ok(&["manifest", "inspect", "victim"]), empty);
    assert_eq!(env.store_entries("blobs/sha256"), blobs_before);
}

#[test]
fn concurrent_changes_are_never_lost_silently() {
    let env = new_env("mfrace");
    let reg = world().registry();
    let images = ["alpine", "alpine-plain", "alpine-zstd", "schema2"];
    env.rpod_ok(&["manifest", "create", "race"]);
    // Four adds at once: a change made on a state another process changed
    // meanwhile is made again on the new one, so all four land.
    let script: String = images
        .iter()
        .map(|i| format!("rpod manifest add race {reg}/{i} >/dev/null &\n"))
        .collect::<String>()
        + "wait\n";
    env.sh_ok(&script);
    let listed = json(&env.rpod_ok(&["manifest", "inspect", "race"]));
    let mut want: Vec<String> = images
        .iter()
        .map(|i| {
            env.rpod_ok(&[
                "manifest",
                "create",
                &format!("one-{i}"),
                &format!("{reg}/{i}"),
            ]);
            digests(&json(&env.rpod_ok(&[
                "manifest",
                "inspect",
                &format!("one-{i}"),
            ])))
            .remove(0)
        })
        .collect();
    let mut got = digests(&listed);
    want.sort();
    got.sort();
    assert_eq!(got, want, "{listed}");

    // Two creates of one name: one list.
    let out = env.sh_ok(
        "(rpod manifest create twin >/dev/null 2>&1; echo $?) & (rpod manifest create twin >/dev/null 2>&1; echo $?) & wait",
    );
    let mut rcs: Vec<&str> = out.lines().collect();
    rcs.sort();
    assert_eq!(rcs, ["0", "125"], "{out}");
    let names = env.rpod_ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(names.lines().filter(|l| *l == "localhost/twin").count(), 1);
}
