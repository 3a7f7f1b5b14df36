//! `rpod secret create/ls/inspect/rm/exists` and `run/create --secret`, as
//! the test user: podman 4.3's outputs and JSON keys, the file driver's
//! layout (0600 files, no data anywhere `inspect` looks), a secret as a
//! read-only file or a variable, and what `secret rm` of a secret in use
//! does (the container keeps its copy).

use crate::common::{env_with_alpine, new_env, store_root, Env};
use std::os::unix::fs::PermissionsExt;

const DATA: &str = "s3cr3t-Pa55-9137";

/// A file the test user can read, holding `DATA`.
fn data_file(env: &Env) -> String {
    let p = env.dir.join("secret.txt");
    std::fs::write(&p, DATA).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.to_string_lossy().into_owned()
}

/// Every regular file under `dir`, recursively, never through a symlink.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(files(&e.path()));
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn create_ls_inspect_rm_as_podman() {
    let env = new_env("secretcli");
    let f = data_file(&env);
    let id = env.rpod_ok(&[
        "secret",
        "create",
        "-l",
        "a=b",
        "-l",
        "c",
        "--driver-opts",
        "x=y",
        "web",
        &f,
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 25, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    let piped = env.rpod_stdin(&["secret", "create", "piped", "-"], b"from-stdin");
    assert!(piped.status.success(), "{}", crate::common::err(&piped));

    // ls: podman's columns, -q, --noheading, --filter, templates.
    let ls = env.rpod_ok(&["secret", "ls"]);
    let head: Vec<&str> = ls.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"], "{ls}");
    assert_eq!(ls.lines().count(), 3, "{ls}");
    assert!(ls.contains(&format!("{id}  web ")), "{ls}");
    assert!(ls.contains("file") && ls.contains("ago"), "{ls}");
    let q = env.rpod_ok(&["secret", "ls", "-q", "--filter", "name=we"]);
    assert_eq!(q.trim(), id);
    assert_eq!(
        env.rpod_ok(&["secret", "ls", "--noheading"])
            .lines()
            .count(),
        2
    );
    let t = env.rpod_ok(&[
        "secret",
        "ls",
        "--filter",
        &format!("id={}", &id[..5]),
        "--format",
        "{{.Name}}|{{.Driver}}",
    ]);
    assert_eq!(t, "web|file\n");
    let (code, e) = env.rpod_fail(&["secret", "ls", "--filter", "bogus=1"]);
    assert_eq!(code, 125);
    assert!(e.contains("invalid filter \"bogus\""), "{e}");

    // inspect: podman's keys; the driver's options, never the data.
    let out = env.rpod_ok(&["secret", "inspect", "web"]);
    assert!(
        out.starts_with("[\n    {\n        \"ID\": "),
        "podman's indent: {out}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let s = &v[0];
    assert_eq!(s["ID"], id.as_str());
    assert_eq!(s["Spec"]["Name"], "web");
    assert_eq!(s["Spec"]["Driver"]["Name"], "file");
    assert_eq!(s["Spec"]["Driver"]["Options"]["x"], "y");
    let path = store_root(&env).join("secrets/filedriver");
    assert_eq!(
        s["Spec"]["Driver"]["Options"]["path"],
        path.to_str().unwrap()
    );
    assert_eq!(s["Spec"]["Labels"], serde_json::json!({"a": "b", "c": ""}));
    assert_eq!(s["CreatedAt"], s["UpdatedAt"]);
    let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(!out.contains(DATA), "{out}");
    let t = env.rpod_ok(&[
        "secret",
        "inspect",
        "--format",
        "{{.Spec.Name}} {{.ID}}",
        "web",
    ]);
    assert_eq!(t, format!("web {id}\n"));
    let pretty = env.rpod_ok(&["secret", "inspect", "--pretty", "web"]);
    assert!(pretty.starts_with(&format!("ID:              {id}\nName:              web\nLabels:\n - a=b\n - c\nDriver:            file\nCreated at:        ")), "{pretty}");
    let o = env.rpod(&["secret", "inspect", "web", "nope"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        crate::common::out(&o).contains("\"web\""),
        "the found one is printed"
    );
    assert!(crate::common::err(&o)
        .contains("Error: inspecting secret: no secret with name or id \"nope\": no such secret"));

    // exists
    assert!(env.rpod(&["secret", "exists", "web"]).status.success());
    assert_eq!(
        env.rpod(&["secret", "exists", "nope"]).status.code(),
        Some(1)
    );

    // Mistakes, with podman's words.
    let (code, e) = env.rpod_fail(&["secret", "create", "web", &f]);
    assert_eq!((code, e.trim()), (125, "Error: web: secret name in use"));
    let (_, e) = env.rpod_fail(&["secret", "create", "bad/name", &f]);
    assert!(e.contains("invalid secret name"), "{e}");
    let empty = env.dir.join("empty");
    std::fs::write(&empty, "").unwrap();
    let (_, e) = env.rpod_fail(&["secret", "create", "empty", empty.to_str().unwrap()]);
    assert!(
        e.contains("secret data must be larger than 0 and less than 512000 bytes"),
        "{e}"
    );
    let (_, e) = env.rpod_fail(&["secret", "create", "-d", "bogus", "d", &f]);
    assert!(e.contains("invalid driver"), "{e}");
    let (_, e) = env.rpod_fail(&["secret", "create", "--env", "ev", "RPOD_TEST_UNSET"]);
    assert!(
        e.contains("environment variable RPOD_TEST_UNSET is not set"),
        "{e}"
    );
    let (_, e) = env.rpod_fail(&["secret", "rm"]);
    assert!(
        e.contains("requires one argument, or the --all flag"),
        "{e}"
    );

    // rm prints the id; a missing one is an error after the others went.
    assert_eq!(env.rpod_ok(&["secret", "rm", "web"]).trim(), id);
    let (code, e) = env.rpod_fail(&["secret", "rm", "nope", "piped"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("no secret with name or id \"nope\": no such secret"),
        "{e}"
    );
    assert_eq!(env.rpod_ok(&["secret", "ls", "-q"]), "");
    env.rpod_stdin(&["secret", "create", "one", "-"], b"1");
    env.rpod_stdin(&["secret", "create", "two", "-"], b"2");
    assert_eq!(env.rpod_ok(&["secret", "rm", "--all"]).lines().count(), 2);
    assert_eq!(env.rpod_ok(&["secret", "ls", "-q"]), "");
}

#[test]
fn the_file_driver_keeps_data_private() {
    let mut env = new_env("secretfile");
    env.set_env("RPOD_TEST_SECRET", DATA);
    env.rpod_ok(&["secret", "create", "--env", "fromenv", "RPOD_TEST_SECRET"]);
    let dir = store_root(&env).join("secrets");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("filedriver")), 0o700);
    assert_eq!(mode(&dir.join("secrets.json")), 0o600);
    let data = dir.join("filedriver/secretsdata.json");
    assert_eq!(mode(&data), 0o600);
    // podman's layout: the data base64 under the id, nowhere else.
    let db: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("secrets.json")).unwrap()).unwrap();
    let id = db["nameToID"]["fromenv"].as_str().unwrap().to_string();
    assert_eq!(db["idToName"][&id], "fromenv");
    assert_eq!(db["secrets"][&id]["driver"], "file");
    let d: serde_json::Value = serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(DATA);
    assert_eq!(d[&id], b64.as_str());
    for p in files(&store_root(&env)) {
        if p != data {
            let text = std::fs::read(&p).unwrap();
            let text = String::from_utf8_lossy(&text);
            assert!(
                !text.contains(DATA) && !text.contains(&b64),
                "{} holds the secret",
                p.display()
            );
        }
    }
}

#[test]
fn run_mounts_a_secret_read_only_or_sets_a_variable() {
    let env = env_with_alpine("secretrun");
    let f = data_file(&env);
    env.rpod_ok(&["secret", "create", "mysec", &f]);
    // type=mount (the default): /run/secrets/NAME, 0444 root, read-only.
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--secret",
        "mysec",
        "alpine",
        "sh",
        "-c",
        "cat /run/secrets/mysec; echo; stat -c '%a %u %g' /run/secrets/mysec; \
         echo x > /run/secrets/mysec 2>/dev/null && echo WROTE; \
         grep ' /run/secrets/mysec ' /proc/mounts",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], DATA, "{out}");
    assert_eq!(lines[1], "444 0 0", "{out}");
    assert!(!out.contains("WROTE"), "{out}");
    assert!(
        lines[2]
            .split_whitespace()
            .nth(3)
            .unwrap()
            .starts_with("ro,"),
        "{out}"
    );
    // target (relative and absolute), uid, gid, mode.
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--secret",
        "mysec,target=other",
        "--secret",
        "mysec,target=/etc/app/key,uid=5,gid=6,mode=0400",
        "alpine",
        "sh",
        "-c",
        "cat /run/secrets/other; echo; stat -c '%a %u %g' /etc/app/key",
    ]);
    assert_eq!(out, format!("{DATA}\n400 5 6\n"));
    // mode is honoured: a user other than the owner can't read 0400.
    let o = env.rpod(&[
        "run",
        "--rm",
        "--user",
        "1000",
        "--secret",
        "mysec,mode=0400",
        "alpine",
        "cat",
        "/run/secrets/mysec",
    ]);
    assert!(!o.status.success());
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--user",
        "1000",
        "--secret",
        "mysec,uid=1000,mode=0400",
        "alpine",
        "cat",
        "/run/secrets/mysec",
    ]);
    assert_eq!(out, DATA);
    // keep-id: uid= is the container's uid, which is the user's.
    let me = crate::common::world().get("TEST_UID").to_string();
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--userns",
        "keep-id",
        "--secret",
        &format!("mysec,uid={me},mode=0400"),
        "alpine",
        "sh",
        "-c",
        "stat -c '%u' /run/secrets/mysec; cat /run/secrets/mysec",
    ]);
    assert_eq!(out, format!("{me}\n{DATA}"));
    // type=env: NAME, or target's name.
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--secret",
        "mysec,type=env",
        "--secret",
        "mysec,type=env,target=FOO",
        "alpine",
        "sh",
        "-c",
        "echo $mysec $FOO",
    ]);
    assert_eq!(out, format!("{DATA} {DATA}\n"));
    // podman's errors.
    let (code, e) = env.rpod_fail(&["create", "--secret", "nope", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("no secret with name or id \"nope\": no such secret"),
        "{e}"
    );
    for (bad, want) in [
        ("mysec,type=foo", "type foo is invalid: parsing secret"),
        ("mysec,bogus=1", "option bogus=1 invalid: parsing secret"),
        (
            "mysec,type=env,mode=0400",
            "UID, GID, Mode options cannot be set with secret type env",
        ),
    ] {
        let (code, e) = env.rpod_fail(&["create", "--secret", bad, "alpine", "true"]);
        assert_eq!(code, 125);
        assert!(e.contains(want), "{bad}: {e}");
    }
}

#[test]
fn inspect_never_shows_a_secret_and_rm_leaves_containers_their_copy() {
    let env = env_with_alpine("secretuse");
    let f = data_file(&env);
    env.rpod_ok(&["secret", "create", "filesec", &f]);
    env.rpod_ok(&["secret", "create", "envsec", &f]);
    env.rpod_ok(&[
        "create",
        "--name",
        "c",
        "--secret",
        "filesec",
        "--secret",
        "envsec,type=env,target=APP_KEY",
        "alpine",
        "sh",
        "-c",
        "echo APP_KEY=$APP_KEY; cat /run/secrets/filesec",
    ]);
    let inspect = env.rpod_ok(&["inspect", "c"]);
    assert!(
        !inspect.contains(DATA),
        "inspect shows the secret: {inspect}"
    );
    // podman's Config.Secrets: the mounted ones, by name and id.
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let shown = &v[0]["Config"]["Secrets"];
    assert_eq!(shown.as_array().map(Vec::len), Some(1), "{shown}");
    assert_eq!(shown[0]["Name"], "filesec");
    assert_eq!(shown[0]["Mode"], 0o444);
    assert_eq!(shown[0]["ID"].as_str().unwrap().len(), 25);
    let ps = env.rpod_ok(&["ps", "-a", "--format", "json"]);
    assert!(!ps.contains(DATA), "{ps}");
    // podman lets a secret in use go; the container keeps what it got at create.
    env.rpod_ok(&["secret", "rm", "filesec", "envsec"]);
    env.rpod_stdin(&["secret", "create", "filesec", "-"], b"replaced");
    let out = env.rpod_ok(&["start", "-a", "c"]);
    assert_eq!(out, format!("APP_KEY={DATA}\n{DATA}"));
    // The container's copy goes with the container.
    let id = env.rpod_ok(&["inspect", "--format", "{{.Id}}", "c"]);
    let dir = store_root(&env).join("containers").join(id.trim());
    let copy = dir.join("secrets");
    assert!(copy.is_dir());
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o700
    );
    env.rpod_ok(&["rm", "c"]);
    assert!(!dir.exists());
    // Nothing the container wrote (its upper dir) holds the data.
    for p in files(&store_root(&env)) {
        if !p.ends_with("filedriver/secretsdata.json") {
            let text = std::fs::read(&p).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&text).contains(DATA),
                "{} holds the secret",
                p.display()
            );
        }
    }
}

/// A hostile image makes /run/secrets a symlink to a host directory: the
/// secret is mounted inside the container's root (the link resolved there),
/// and nothing appears in the host directory.
#[test]
fn a_symlinked_secrets_dir_stays_in_the_container() {
    let env = env_with_alpine("secretlink");
    let outside = env.dir.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let st = std::process::Command::new("chown")
        .args([&format!("{0}:{0}", env.user), outside.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let img = crate::common::push_image(
        "secret-link",
        &format!(
            "layers.append([D('run'), L('run/secrets', {:?})])\n",
            outside.to_str().unwrap()
        ),
    );
    env.rpod_ok(&["pull", "-q", &img]);
    let f = data_file(&env);
    env.rpod_ok(&["secret", "create", "k", &f]);
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--secret",
        "k",
        &img,
        "cat",
        "/run/secrets/k",
    ]);
    assert_eq!(out, DATA);
    let left: Vec<_> = std::fs::read_dir(&outside).unwrap().flatten().collect();
    assert!(left.is_empty(), "written outside the container: {left:?}");
    // A target that climbs out is refused before anything runs.
    let (code, e) = env.rpod_fail(&["create", "--secret", "k,target=../../etc/k", &img, "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("must not contain \"..\""), "{e}");
}
