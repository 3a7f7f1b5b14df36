//! podman 4.3's `run`/`create` flags beyond the everyday ones (issue 12):
//! each family checked from inside the container, as the unprivileged user,
//! against what rootless podman 4.3.1 printed for the same command here.

use crate::common::*;

fn run(env: &Env, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    env.rpod_ok(&a)
}

fn run_fail(env: &Env, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    let (code, e) = env.rpod_fail(&a);
    assert_eq!(code, 125, "{args:?}: {e}");
    e
}

fn user_file(env: &Env, name: &str, text: &str) -> String {
    let p = env.dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::process::Command::new("chmod")
        .args(["644", p.to_str().unwrap()])
        .status()
        .unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn environment_labels_and_annotations() {
    let mut env = env_with_alpine("runenv");
    env.set_env("http_proxy", "http://127.0.0.1:3128");
    let _reaper = Reaper(&env);
    // --env-merge expands the image's value; an unset reference is empty.
    let o = run(
        &env,
        &[
            "--env-merge",
            "PATH=/x:${PATH}",
            "--env-merge",
            "B=${NOPE}y",
            "alpine",
            "env",
        ],
    );
    assert!(
        o.contains("PATH=/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"),
        "{o}"
    );
    assert!(o.contains("\nB=y\n"), "{o}");
    // --http-proxy (default on) passes the host's proxy variables; =false does not.
    assert!(o.contains("http_proxy=http://127.0.0.1:3128\n"), "{o}");
    let o = run(&env, &["--http-proxy=false", "alpine", "env"]);
    assert!(!o.contains("http_proxy"), "{o}");
    // --unsetenv drops defaults; --unsetenv-all keeps only what was set
    // (podman: PATH goes too, so the command needs its full path).
    let o = run(
        &env,
        &["--unsetenv", "TERM", "-t", "alpine", "/usr/bin/env"],
    );
    assert!(!o.contains("TERM="), "{o}");
    assert!(o.contains("HOSTNAME="), "{o}");
    let o = run(
        &env,
        &["--unsetenv-all", "-e", "A=1", "alpine", "/usr/bin/env"],
    );
    let keys: Vec<&str> = o.lines().map(|l| l.split('=').next().unwrap()).collect();
    assert!(
        keys.contains(&"A") && !keys.contains(&"PATH") && !keys.contains(&"container"),
        "{o}"
    );
    // --label-file, then --label; --annotation reaches the spec and inspect.
    let lf = user_file(&env, "labels", "# c\nfrom=file\nboth=file\n");
    env.rpod_ok(&[
        "create",
        "--name",
        "lab",
        "--label-file",
        &lf,
        "--label",
        "both=flag",
        "--annotation",
        "org.example.a=b",
        "--umask",
        "0027",
        "alpine",
        "true",
    ]);
    let labels: serde_json::Value =
        serde_json::from_str(&field(&env, "lab", "{{json .Config.Labels}}")).unwrap();
    assert_eq!(
        (labels["from"].as_str(), labels["both"].as_str()),
        (Some("file"), Some("flag"))
    );
    let ann: serde_json::Value =
        serde_json::from_str(&field(&env, "lab", "{{json .Config.Annotations}}")).unwrap();
    assert_eq!(ann["org.example.a"], "b");
    assert_eq!(field(&env, "lab", "{{.Config.Umask}}"), "0027");
    env.rpod_ok(&["rm", "lab"]);
    let e = run_fail(&env, &["--annotation", "novalue", "alpine", "true"]);
    assert!(e.contains("--annotation \"novalue\""), "{e}");
    assert_clean(&env, &[]);
}

#[test]
fn files_mounts_and_devices() {
    let env = env_with_alpine("runfiles");
    let _reaper = Reaper(&env);
    // --no-hosts: the image's /etc/hosts, without the container's name.
    let o = run(
        &env,
        &[
            "--no-hosts",
            "--hostname",
            "nh",
            "alpine",
            "cat",
            "/etc/hosts",
        ],
    );
    assert!(!o.contains("nh"), "{o}");
    let o = run(&env, &["--hostname", "nh", "alpine", "cat", "/etc/hosts"]);
    assert!(o.contains("nh"), "{o}");
    // --shm-size, as podman shows it.
    let o = run(
        &env,
        &["--shm-size", "1m", "alpine", "df", "-k", "/dev/shm"],
    );
    assert!(
        o.lines().nth(1).unwrap().split_whitespace().nth(1) == Some("1024"),
        "{o}"
    );
    let e = run_fail(&env, &["--shm-size", "1x", "alpine", "true"]);
    assert!(
        e.contains("unable to translate --shm-size: invalid size: '1x'"),
        "{e}"
    );
    // --tz: an IANA name, local, and a bad one (podman's error).
    assert_eq!(
        run(&env, &["--tz", "Europe/Paris", "alpine", "date", "+%Z"]),
        "CET\n"
    );
    let host_tz = sh_out("date +%Z");
    assert_eq!(
        run(&env, &["--tz", "local", "alpine", "date", "+%Z"]),
        host_tz
    );
    let e = run_fail(&env, &["--tz", "Nope/Nope", "alpine", "true"]);
    assert!(
        e.contains("stat /usr/share/zoneinfo/Nope/Nope: no such file or directory"),
        "{e}"
    );
    assert!(run_fail(&env, &["--tz", "../../etc/passwd", "alpine", "true"]).contains("--tz"));
    // --umask.
    assert_eq!(
        run(&env, &["--umask", "0077", "alpine", "sh", "-c", "umask"]),
        "0077\n"
    );
    let e = run_fail(&env, &["--umask", "999", "alpine", "true"]);
    assert!(e.contains("invalid umask string 999"), "{e}");
    // --read-only-tmpfs=false: no writable /tmp over a read-only root.
    let o = env.rpod(&["run", "--rm", "--read-only", "alpine", "touch", "/tmp/x"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = env.rpod(&[
        "run",
        "--rm",
        "--read-only",
        "--read-only-tmpfs=false",
        "alpine",
        "touch",
        "/tmp/x",
    ]);
    assert!(!o.status.success());
    // --device: a node the user can open is bound in, at a new path too;
    // a missing one is podman's error; a node nobody may open is refused.
    let o = run(
        &env,
        &[
            "--device",
            "/dev/null:/dev/mynull:rw",
            "alpine",
            "sh",
            "-c",
            "ls -l /dev/mynull; echo x > /dev/mynull && echo wrote",
        ],
    );
    assert!(
        o.starts_with("crw-rw-rw-") && o.contains("1,   3") && o.ends_with("wrote\n"),
        "{o}"
    );
    let e = run_fail(&env, &["--device", "/dev/nonexist", "alpine", "true"]);
    assert!(
        e.contains("stat /dev/nonexist: no such file or directory"),
        "{e}"
    );
    let e = run_fail(&env, &["--device", "/etc/passwd", "alpine", "true"]);
    assert!(e.contains("not a device node"), "{e}");
    if std::path::Path::new("/dev/kmsg").exists() {
        // root-only (0600 or 0644 root): a rootless user can't open it for writing.
        let e = run_fail(
            &env,
            &["--device", "/dev/kmsg:/dev/kmsg:rw", "alpine", "true"],
        );
        assert!(
            e.contains("a rootless container can only use a device node you can open"),
            "{e}"
        );
    }
    // --init-path.
    let e = run_fail(&env, &["--init", "--init-path", "/nope", "alpine", "true"]);
    assert!(e.contains("--init-path /nope"), "{e}");
    let o = run(
        &env,
        &[
            "--init",
            "--init-path",
            "/usr/bin/catatonit",
            "alpine",
            "cat",
            "/proc/1/cmdline",
        ],
    );
    assert!(o.starts_with("/run/podman-init"), "{o:?}");
    assert_clean(&env, &[]);
}

fn sh_out(script: &str) -> String {
    let o = std::process::Command::new("sh")
        .args(["-c", script])
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn namespaces() {
    let env = env_with_alpine("runns");
    let _reaper = Reaper(&env);
    // --uts host: the host's name.
    let host = sh_out("hostname");
    assert_eq!(run(&env, &["--uts", "host", "alpine", "hostname"]), host);
    // --pid host: the host's processes (pid 1 is the host's init, not our command).
    let o = run(
        &env,
        &[
            "--pid",
            "host",
            "alpine",
            "sh",
            "-c",
            "ls /proc | grep -c '^[0-9]'",
        ],
    );
    assert!(o.trim().parse::<u32>().unwrap() > 10, "{o}");
    let o = run(&env, &["alpine", "sh", "-c", "ls /proc | grep -c '^[0-9]'"]);
    assert!(o.trim().parse::<u32>().unwrap() < 5, "{o}");
    // --ipc none: no /dev/shm; --ipc shareable and --cgroupns private run.
    let o = env.rpod(&["run", "--rm", "--ipc", "none", "alpine", "ls", "/dev/shm"]);
    assert!(
        !o.status.success() && err(&o).contains("No such file"),
        "{}",
        err(&o)
    );
    run(
        &env,
        &[
            "--ipc",
            "shareable",
            "--cgroupns",
            "private",
            "alpine",
            "true",
        ],
    );
    assert!(run_fail(&env, &["--uts", "none", "alpine", "true"]).contains("invalid --uts"));
    // container:NAME would need that container's user namespace (only
    // --network container: joins it): refused with the reason; --pid can't
    // join any pid namespace in rpod's runtime.
    for flag in ["--ipc", "--uts", "--pid"] {
        let e = run_fail(&env, &[flag, "container:x", "alpine", "true"]);
        assert!(e.contains("rpod"), "{flag}: {e}");
    }
    assert_clean(&env, &[]);
}

#[test]
fn ids_limits_and_refusals() {
    let env = env_with_alpine("runids");
    let _reaper = Reaper(&env);
    // --uidmap/--gidmap, relative to rpod's namespace (podman's rootless meaning).
    let o = run(
        &env,
        &[
            "--uidmap",
            "0:1:1000",
            "--uidmap",
            "1000:0:1",
            "alpine",
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map",
        ],
    );
    let rows: Vec<Vec<&str>> = o.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows,
        vec![
            vec!["0", "1", "1000"],
            vec!["1000", "0", "1"],
            vec!["0", "1", "1000"],
            vec!["1000", "0", "1"]
        ]
    );
    let e = run_fail(&env, &["--uidmap", "0:1:1000", "alpine", "true"]);
    assert!(e.contains("--uidmap 1000:0:1"), "{e}");
    let e = run_fail(&env, &["--uidmap", "0:1:70000", "alpine", "true"]);
    assert!(e.contains("goes past it"), "{e}");
    let e = run_fail(
        &env,
        &["--userns", "keep-id", "--uidmap", "0:0:1", "alpine", "true"],
    );
    assert!(e.contains("cannot be used together"), "{e}");
    let e = run_fail(&env, &["--userns", "nomap", "alpine", "true"]);
    assert!(e.contains("not supported by rpod"), "{e}");
    let e = run_fail(&env, &["--subuidname", "rpodtest", "alpine", "true"]);
    assert!(e.contains("need root"), "{e}");
    // --oom-score-adj: raised as asked; lowering is refused (podman's runc fails too).
    assert_eq!(
        run(
            &env,
            &[
                "--oom-score-adj",
                "100",
                "alpine",
                "cat",
                "/proc/self/oom_score_adj"
            ]
        ),
        "100\n"
    );
    let e = run_fail(&env, &["--oom-score-adj", "-100", "alpine", "true"]);
    assert!(e.contains("CAP_SYS_RESOURCE"), "{e}");
    // Resource flags: run, and the warning names what is not applied.
    let o = env.rpod(&[
        "run",
        "--rm",
        "--cpu-shares",
        "10",
        "--cpuset-cpus",
        "0",
        "--memory-reservation",
        "10m",
        "--device-read-bps",
        "/dev/null:1m",
        "alpine",
        "true",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains("--device-read-bps not applied"),
        "{}",
        err(&o)
    );
    let o = env.rpod(&[
        "run",
        "--rm",
        "--cgroups",
        "disabled",
        "--memory",
        "10m",
        "alpine",
        "true",
    ]);
    assert!(
        o.status.success() && err(&o).contains("--cgroups=disabled"),
        "{}",
        err(&o)
    );
    assert!(run_fail(&env, &["--cgroups", "split", "alpine", "true"]).contains("systemd"));
    // --seccomp-policy image with an image that names none: podman's error.
    let e = run_fail(&env, &["--seccomp-policy", "image", "alpine", "true"]);
    assert!(e.contains("no seccomp policy defined by image"), "{e}");
    // No-ops podman also has.
    run(&env, &["--disable-content-trust", "-q", "alpine", "true"]);
    // --expose adds a port that -P publishes.
    env.rpod_ok(&[
        "create", "--name", "exp", "--expose", "7001", "-P", "alpine", "true",
    ]);
    let ports = env.rpod_ok(&["ps", "-a", "--format", "{{.Ports}}"]);
    assert!(ports.contains("->7001/tcp"), "{ports}");
    env.rpod_ok(&["rm", "exp"]);
    assert!(run_fail(&env, &["--expose", "http", "alpine", "true"]).contains("--expose"));
    // --rmi removes the image once the container is gone (implies --rm).
    let e = run_fail(&env, &["--rmi", "-d", "alpine", "true"]);
    assert!(e.contains("--rmi"), "{e}");
    run(&env, &["--rmi", "alpine", "true"]);
    assert_eq!(env.rpod_ok(&["images", "-q"]).trim(), "");
    assert_clean(&env, &[]);
}
