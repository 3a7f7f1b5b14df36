//! More podman 4.3 flags (issue 12): kill/wait/attach/restart --latest,
//! wait --interval, restart --filter, images --sort/--history, rmi
//! --no-prune, pull --disable-content-trust and login --verbose, as the
//! unprivileged user (create --init-ctr: `init_ctr`).

use crate::common::*;

fn running(env: &Env, name: &str) -> bool {
    field(env, name, "{{.State.Status}}") == "running"
}

#[test]
fn kill_wait_restart_latest_and_wait_interval() {
    let env = env_with_alpine("flagsmore");
    let _reaper = Reaper(&env);
    for (n, k) in [("a1", "a"), ("b2", "b")] {
        env.rpod_ok(&[
            "run",
            "-d",
            "--name",
            n,
            "--label",
            &format!("k={k}"),
            "alpine",
            "sleep",
            "300",
        ]);
    }
    // wait --condition running with a poll interval; a bare number is ms.
    assert_eq!(
        env.rpod_ok(&["wait", "--condition", "running", "-i", "50ms", "a1"])
            .trim(),
        "-1"
    );
    assert_eq!(
        env.rpod_ok(&["wait", "--condition", "running", "--interval", "10", "a1"])
            .trim(),
        "-1"
    );
    let (code, e) = env.rpod_fail(&["wait", "-i", "xyz", "a1"]);
    assert_eq!(code, 125);
    assert!(e.contains("time: invalid duration \"xyz\""), "{e}");
    // kill --latest signals the newest (b2) only; wait --latest reads its code.
    let (code, e) = env.rpod_fail(&["kill", "-l", "-a"]);
    assert_eq!(code, 125);
    assert!(e.contains("--all and --latest"), "{e}");
    let (_, e) = env.rpod_fail(&["kill", "-l", "a1"]);
    assert!(
        e.contains("--latest and containers cannot be used together"),
        "{e}"
    );
    let b2 = field(&env, "b2", "{{.Id}}");
    assert_eq!(env.rpod_ok(&["kill", "--latest"]).trim(), b2);
    assert_eq!(env.rpod_ok(&["wait", "--latest"]).trim(), "137");
    assert!(running(&env, "a1"));
    // restart --latest brings b2 back; container restart -l too.
    env.rpod_ok(&["restart", "--latest"]);
    assert!(running(&env, "b2"));
    env.rpod_ok(&["kill", "b2"]);
    env.rpod_ok(&["wait", "b2"]);
    env.rpod_ok(&["container", "restart", "-l"]);
    assert!(running(&env, "b2"));
    // restart --filter: only a1 (label k=a), and a filter matching nothing
    // is nothing to do.
    env.rpod_ok(&["kill", "a1", "b2"]);
    env.rpod_ok(&["wait", "a1", "b2"]);
    let a1 = field(&env, "a1", "{{.Id}}");
    assert_eq!(
        env.rpod_ok(&["restart", "--filter", "label=k=a"]).trim(),
        a1
    );
    assert!(running(&env, "a1"));
    assert!(!running(&env, "b2"));
    assert_eq!(env.rpod_ok(&["restart", "-f", "label=k=nope"]), "");
    let (code, e) = env.rpod_fail(&["restart", "-f", "label=k=a", "b2"]);
    assert_eq!(code, 125);
    assert!(e.contains("--filter takes no container names"), "{e}");
    let (_, e) = env.rpod_fail(&["restart", "-a", "-l"]);
    assert!(
        e.contains("--all and --running cannot be used together"),
        "{e}"
    );
}

#[test]
fn attach_latest_gets_the_newest_containers_output() {
    let env = env_with_alpine("attachlatest");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["run", "-d", "--name", "old", "alpine", "sleep", "300"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "new",
        "alpine",
        "sh",
        "-c",
        "sleep 1; echo late; exit 6",
    ]);
    let o = env.rpod(&["attach", "--no-stdin", "--latest"]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(out(&o).contains("late"), "{}", out(&o));
    assert!(running(&env, "old"));
    let (code, e) = env.rpod_fail(&["attach", "-l", "old"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("--latest and containers cannot be used together"),
        "{e}"
    );
}

#[test]
fn images_sort_history_and_rmi_no_prune() {
    let env = new_env("imgsort");
    let _reaper = Reaper(&env);
    // --disable-content-trust is podman's no-op too.
    env.rpod_ok(&["pull", "-q", "--disable-content-trust", "alpine"]);
    let alpine = env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let alpine = alpine.trim().to_string();
    env.rpod_ok(&["tag", &alpine, "localhost/abc:c"]);
    env.rpod_ok(&["run", "--name", "c", "alpine", "sh", "-c", "echo x > /f"]);
    env.rpod_ok(&["commit", "-q", "c", "localhost/newer:b"]);
    let rows = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        a.extend_from_slice(args);
        env.rpod_ok(&a).lines().map(String::from).collect()
    };
    // Newest first by default (podman's --sort created).
    let dflt = rows(&[]);
    assert_eq!(dflt[0], "localhost/newer:b", "{dflt:?}");
    assert_eq!(rows(&["--sort", "created"]), dflt);
    assert_eq!(
        rows(&["--sort", "repository"]),
        ["localhost/abc:c", "localhost/newer:b", alpine.as_str()]
    );
    let by_tag = rows(&["--sort", "tag"]);
    assert_eq!(by_tag[..2], ["localhost/newer:b", "localhost/abc:c"]);
    // size: the commit has alpine's layers and one more.
    let by_size = rows(&["--sort", "size"]);
    assert_eq!(by_size[2], "localhost/newer:b", "{by_size:?}");
    let ids: Vec<String> = env
        .rpod_ok(&[
            "images",
            "--no-trunc",
            "--sort",
            "id",
            "--format",
            "{{.ID}}",
        ])
        .lines()
        .map(String::from)
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let (code, e) = env.rpod_fail(&["images", "--sort", "bogus"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("\"bogus\" is not a valid field for sorting. Choose from: id, repository, size, tag, created"),
        "{e}"
    );
    // --history: a HISTORY column with the image's names.
    let t = env.rpod_ok(&["images", "--history"]);
    let mut lines = t.lines();
    assert!(lines.next().unwrap().ends_with("HISTORY"), "{t}");
    let newer = t
        .lines()
        .find(|l| l.starts_with("localhost/newer"))
        .unwrap();
    assert!(newer.ends_with("localhost/newer:b"), "{t}");
    let abc = t.lines().find(|l| l.starts_with("localhost/abc")).unwrap();
    assert!(
        abc.contains(&alpine) && abc.contains("localhost/abc:c"),
        "{t}"
    );
    // rmi --no-prune: untags, keeps the image (rpod images have no parents).
    let o = env.rpod_ok(&["rmi", "--no-prune", "localhost/abc:c"]);
    assert_eq!(o, "Untagged: localhost/abc:c\n");
    env.rpod_ok(&["image", "exists", &alpine]);
}

#[test]
fn login_verbose_names_the_auth_file() {
    let env = new_env("loginv");
    let w = world();
    let login = |extra: &[&str]| {
        let mut a = vec!["login", "-u", w.get("REG_USER"), "--password-stdin", "-v"];
        a.extend_from_slice(extra);
        a.push(w.tls_registry());
        env.rpod_stdin(&a, format!("{}\n", w.get("REG_PASS")).as_bytes())
    };
    let o = login(&[]);
    assert!(o.status.success(), "{}", err(&o));
    let want = env.runtime_dir.join("containers/auth.json");
    assert_eq!(
        out(&o),
        format!("Used:  {}\nLogin Succeeded!\n", want.display())
    );
    let custom = env.home.join("my-auth.json");
    let c = custom.to_str().unwrap();
    let o = login(&["--authfile", c]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), format!("Used:  {c}\nLogin Succeeded!\n"));
    assert!(custom.exists());
}
