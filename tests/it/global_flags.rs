//! podman 4.3's global flags and the environment that selects its config
//! files: every flag is accepted before or after the subcommand, the ones
//! that mean something to rpod are honoured, remote access is refused.

use crate::common::*;

/// Every global flag of podman 4.3 (and rpod's own) with a value that parses.
fn every_flag(env: &Env) -> Vec<Vec<String>> {
    let d = env.dir.display().to_string();
    let pairs: Vec<(&str, String)> = vec![
        ("--cgroup-manager", "cgroupfs".into()),
        ("--conmon", "/usr/bin/conmon".into()),
        ("--events-backend", "file".into()),
        ("--events-backend", "none".into()),
        ("--events-backend", "journald".into()),
        ("--hooks-dir", format!("{d}/hooks")),
        ("--identity", format!("{d}/id_rsa")),
        ("--imagestore", format!("{d}/images")),
        ("--network-cmd-path", "/usr/bin/slirp4netns".into()),
        ("--network-config-dir", format!("{d}/net")),
        ("--runtime", "runc".into()),
        ("--runtime-flag", "debug".into()),
        ("--ssh", "native".into()),
        ("--storage-driver", "vfs".into()),
        (
            "--storage-opt",
            "overlay.mount_program=/usr/bin/fuse-overlayfs".into(),
        ),
        ("--storage-opt", "".into()),
        ("--tmpdir", format!("{d}/tmp")),
        ("--volumepath", format!("{d}/vols")),
        ("--root", format!("{d}/root")),
        ("--runroot", format!("{d}/runroot")),
        ("--log-level", "warning".into()),
        (
            "--registries-conf",
            format!("{d}/h/.config/containers/registries.conf"),
        ),
        ("--namespace", "ns1".into()),
    ];
    let mut v: Vec<Vec<String>> = pairs
        .into_iter()
        .map(|(f, x)| vec![f.to_string(), x])
        .collect();
    for b in ["--noout", "--syslog", "--transient-store"] {
        v.push(vec![b.to_string()]);
    }
    // Repeatable ones, twice.
    v.push(
        ["--hooks-dir", "/a", "--hooks-dir", "/b"]
            .map(String::from)
            .to_vec(),
    );
    v.push(
        [
            "--runtime-flag",
            "debug",
            "--runtime-flag",
            "log-format=json",
        ]
        .map(String::from)
        .to_vec(),
    );
    v
}

#[test]
fn every_global_flag_is_accepted_before_and_after_the_subcommand() {
    let env = new_env("gflags");
    for flag in every_flag(&env) {
        let f: Vec<&str> = flag.iter().map(String::as_str).collect();
        let before: Vec<&str> = f.iter().copied().chain(["ps", "-a"]).collect();
        let after: Vec<&str> = ["ps", "-a"].into_iter().chain(f.iter().copied()).collect();
        let nested: Vec<&str> = ["container", "ls"]
            .into_iter()
            .chain(f.iter().copied())
            .collect();
        for args in [before, after, nested] {
            let o = env.rpod(&args);
            assert!(o.status.success(), "rpod {args:?}: {}", err(&o));
            if !args.contains(&"--noout") {
                assert!(
                    out(&o).starts_with("CONTAINER ID"),
                    "rpod {args:?}: {}",
                    out(&o)
                );
            }
        }
    }
}

#[test]
fn flags_without_meaning_are_noted_at_debug_level() {
    let env = new_env("gfnoted");
    let o = env.rpod(&["--runtime", "crun", "--conmon", "/x", "ps"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(err(&o), "", "nothing said at the default level");
    let o = env.rpod(&[
        "--log-level",
        "debug",
        "--runtime",
        "crun",
        "ps",
        "--cgroup-manager",
        "systemd",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("ignoring --runtime"), "{e}");
    assert!(e.contains("ignoring --cgroup-manager"), "{e}");
    assert!(e.contains("DEBU"), "{e}");
}

#[test]
fn hooks_dir_with_hooks_warns_that_none_run() {
    let env = new_env("gfhooks");
    let hooks = env.dir.join("hooks.d");
    std::fs::create_dir(&hooks).unwrap();
    std::fs::write(hooks.join("h.json"), "{}").unwrap();
    let o = env.rpod(&["--hooks-dir", hooks.to_str().unwrap(), "ps"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("does not run OCI hooks"), "{}", err(&o));
}

#[test]
fn remote_access_is_refused_in_one_line() {
    let env = new_env("gfremote");
    for args in [
        &["--remote", "ps"][..],
        &["-r", "ps"],
        &["ps", "--remote"],
        &["--url", "unix:///run/podman/podman.sock", "ps"],
        &["images", "--url", "ssh://x"],
        &["--connection", "prod", "ps"],
        &["-c", "prod", "ps"],
        &["ps", "--connection=prod"],
    ] {
        let (code, e) = env.rpod_fail(args);
        assert_eq!(code, 125, "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
        assert!(
            e.starts_with("Error: rpod has no service: remote connections are not supported"),
            "{args:?}: {e}"
        );
    }
    for var in ["CONTAINER_HOST", "CONTAINER_CONNECTION"] {
        let mut env = new_env("gfremotev");
        env.set_env(var, "unix:///run/podman/podman.sock");
        let (code, e) = env.rpod_fail(&["ps"]);
        assert_eq!(code, 125, "{var}: {e}");
        assert_eq!(e.lines().count(), 1, "{var}: {e}");
        assert!(
            e.contains("remote connections are not supported"),
            "{var}: {e}"
        );
        assert!(e.contains(var), "{var}: {e}");
    }
}

#[test]
fn invalid_log_level_has_podmans_text() {
    let env = new_env("gfloglvl");
    let (code, e) = env.rpod_fail(&["--log-level=bogus", "ps"]);
    assert_eq!(code, 1);
    assert_eq!(
        e,
        "Log Level \"bogus\" is not supported, choose from: trace, debug, info, warn, warning, error, fatal, panic\n"
    );
    let (code, _) = env.rpod_fail(&["ps", "--log-level", "loud"]);
    assert_eq!(code, 1);
}

#[test]
fn noout_prints_nothing_on_stdout_but_still_acts() {
    let env = new_env("gfnoout");
    assert!(env.rpod_ok(&["images"]).starts_with("REPOSITORY"));
    let o = env.rpod(&["--noout", "images"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "");
    let o = env.rpod(&["volume", "create", "--noout", "quiet"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "");
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]).trim(), "quiet");
    // stderr is untouched.
    let (code, e) = env.rpod_fail(&["--noout", "volume", "inspect", "nosuch"]);
    assert_eq!(code, 125);
    assert!(e.contains("nosuch"), "{e}");
}

#[test]
fn noout_leaves_the_containers_own_output_alone() {
    let env = env_with_alpine("gfnooutc");
    // As podman: an attached container still writes to stdout...
    let o = env.rpod(&[
        "--noout", "run", "--name", "c", "alpine", "echo", "from-ctr",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "from-ctr\n");
    // ...but what rpod prints (an id, logs, a listing) does not.
    let o = env.rpod(&["--noout", "logs", "c"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "");
    let o = env.rpod(&["--noout", "run", "-d", "alpine", "true"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "");
    assert_eq!(env.rpod_ok(&["ps", "-aq"]).lines().count(), 2);
}

#[test]
fn volumepath_is_where_named_volumes_live() {
    let env = env_with_alpine("gfvolpath");
    let vp = env.dir.join("vols");
    let vps = vp.to_str().unwrap();
    env.rpod_ok(&["--volumepath", vps, "volume", "create", "data"]);
    assert!(vp.join("data/_data").is_dir());
    assert!(!store_root(&env).join("volumes/data").exists());
    let mp = env.rpod_ok(&[
        "volume",
        "inspect",
        "--volumepath",
        vps,
        "--format",
        "{{.Mountpoint}}",
        "data",
    ]);
    assert_eq!(mp.trim(), vp.join("data/_data").to_str().unwrap());
    // Without the flag it is another set of volumes.
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]).trim(), "");
    env.rpod_ok(&[
        "--volumepath",
        vps,
        "run",
        "--rm",
        "-v",
        "data:/d",
        "alpine",
        "sh",
        "-c",
        "echo hi > /d/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(vp.join("data/_data/f")).unwrap(),
        "hi\n"
    );
    // An anonymous volume of a --rm container goes with it, from the
    // container's own volume path.
    env.rpod_ok(&[
        "--volumepath",
        vps,
        "run",
        "--rm",
        "-v",
        "/anon",
        "alpine",
        "true",
    ]);
    let left: Vec<_> = std::fs::read_dir(&vp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        eventually(10, || std::fs::read_dir(&vp).unwrap().count() == 1),
        "{left:?}"
    );
}

#[test]
fn storage_opt_mount_program_selects_fuse_overlayfs_and_the_rest_is_refused() {
    let env = env_with_alpine("gfstopt");
    env.rpod_ok(&[
        "--storage-opt",
        "overlay.mount_program=/usr/bin/fuse-overlayfs",
        "create",
        "--name",
        "f",
        "alpine",
        "true",
    ]);
    assert_eq!(field(&env, "f", "{{.Driver}}"), "fuse-overlayfs");
    for bad in [
        "overlay.mountopt=nodev",
        "overlay.mount_program=/bin/sh",
        "size=10G",
    ] {
        let (code, e) = env.rpod_fail(&["--storage-opt", bad, "ps"]);
        assert_eq!(code, 125, "{bad}: {e}");
        assert_eq!(e.lines().count(), 1, "{bad}: {e}");
        assert!(
            e.contains(bad.split('=').nth(1).unwrap()) || e.contains(bad),
            "{bad}: {e}"
        );
    }
}

fn write(env: &Env, name: &str, text: &str) -> String {
    let p = env.dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn containers_storage_conf_replaces_storage_conf() {
    let mut env = env_with_alpine("gfstconf");
    let user = env.home.join(".config/containers/storage.conf");
    std::fs::write(&user, "[storage]\ndriver = \"vfs\"\n").unwrap();
    env.rpod_ok(&["create", "--name", "u", "alpine", "true"]);
    assert_eq!(field(&env, "u", "{{.Driver}}"), "vfs");
    // The flag wins over the file.
    env.rpod_ok(&[
        "--storage-driver",
        "overlay",
        "create",
        "--name",
        "o",
        "alpine",
        "true",
    ]);
    assert_eq!(field(&env, "o", "{{.Driver}}"), "overlay");
    let f = write(
        &env,
        "st.conf",
        "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
    );
    env.set_env("CONTAINERS_STORAGE_CONF", &f);
    env.rpod_ok(&["create", "--name", "e", "alpine", "true"]);
    assert_eq!(field(&env, "e", "{{.Driver}}"), "fuse-overlayfs");
    // A file rpod can't honour is named.
    let bad = write(&env, "bad.conf", "[storage]\ndriver = \"btrfs\"\n");
    let mut env2 = new_env("gfstconf2");
    env2.set_env("CONTAINERS_STORAGE_CONF", &bad);
    let (code, e) = env2.rpod_fail(&["ps"]);
    assert_eq!(code, 125);
    assert!(e.contains("bad.conf") && e.contains("btrfs"), "{e}");
}

#[test]
fn containers_conf_and_its_override_select_the_files() {
    let mut env = env_with_alpine("gfctconf");
    let pasta = "[network]\ndefault_rootless_network_cmd = \"pasta\"\n";
    let slirp = "[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n";
    std::fs::write(env.home.join(".config/containers/containers.conf"), pasta).unwrap();
    env.rpod_ok(&["create", "--name", "user", "alpine", "true"]);
    assert_eq!(field(&env, "user", "{{.HostConfig.NetworkMode}}"), "pasta");
    // CONTAINERS_CONF replaces the user's file.
    let s = write(&env, "slirp.conf", slirp);
    env.set_env("CONTAINERS_CONF", &s);
    env.rpod_ok(&["create", "--name", "replaced", "alpine", "true"]);
    assert_eq!(
        field(&env, "replaced", "{{.HostConfig.NetworkMode}}"),
        "slirp4netns"
    );
    // CONTAINERS_CONF_OVERRIDE is read last.
    let p = write(&env, "pasta.conf", pasta);
    env.set_env("CONTAINERS_CONF_OVERRIDE", &p);
    env.rpod_ok(&["create", "--name", "over", "alpine", "true"]);
    assert_eq!(field(&env, "over", "{{.HostConfig.NetworkMode}}"), "pasta");
}

#[test]
fn help_and_version_as_podman_spells_them() {
    let env = new_env("gfhelp");
    for args in [&["-v"][..], &["--version"], &["-V"]] {
        assert!(env.rpod_ok(args).starts_with("rpod "), "{args:?}");
    }
    let help = env.rpod_ok(&["--help"]);
    for flag in [
        "--events-backend",
        "--storage-opt",
        "--volumepath",
        "--noout",
        "--url",
    ] {
        assert!(help.contains(flag), "{flag} in --help");
    }
    assert!(env.rpod_ok(&["ps", "--help"]).contains("--noout"));
}
