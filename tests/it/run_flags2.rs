//! podman 4.3's remaining `run`/`create`/`exec`/`ps`/`rm`/`logs` flags
//! (issue 12), as the unprivileged user, each checked against what rootless
//! podman 4.3.1 printed for the same command on this machine: pid files,
//! `--requires` and `rm --depend`, systemd mode, `--personality`, passwd
//! entries, `--timeout`, `--attach`, `--preserve-fds`, log drivers and
//! options, `ps --size/--ns/--watch`, `logs -n`/`-f` on several
//! containers, and podman's template functions.

use crate::common::*;
use std::time::{Duration, Instant};

fn run(env: &Env, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    env.rpod_ok(&a)
}

/// A file the test user can write in (the Env's dir is theirs).
fn user_path(env: &Env, name: &str) -> String {
    env.dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn pid_files_timeout_and_attach() {
    let env = env_with_alpine("pidfiles");
    let _reaper = Reaper(&env);
    // --pidfile holds the container's process, --conmon-pidfile its monitor.
    let pf = user_path(&env, "ctr.pid");
    let cpf = user_path(&env, "mon.pid");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "pf",
        "--pidfile",
        &pf,
        "--conmon-pidfile",
        &cpf,
        "alpine",
        "sleep",
        "7301",
    ]);
    let pid: i32 = std::fs::read_to_string(&pf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mon: i32 = std::fs::read_to_string(&cpf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, "sleep\x007301\x00");
    assert_eq!(field(&env, "pf", "{{.State.Pid}}"), pid.to_string());
    assert!(
        descendants(mon).contains(&pid),
        "{mon} is not {pid}'s monitor"
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "pf"]);

    // --timeout: killed after N seconds; podman 4.3 reports exit code -1 (255).
    let t = Instant::now();
    let o = env.rpod(&[
        "run",
        "--name",
        "to",
        "--timeout",
        "1",
        "alpine",
        "sleep",
        "7302",
    ]);
    assert_eq!(o.status.code(), Some(255), "{}", err(&o));
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(field(&env, "to", "{{.State.ExitCode}}"), "-1");
    assert!(procs_with("sleep 7302").is_empty());
    env.rpod_ok(&["rm", "to"]);

    // --attach: only the streams named.
    let o = env.rpod(&[
        "run",
        "--rm",
        "-a",
        "stdout",
        "alpine",
        "sh",
        "-c",
        "echo o; echo e >&2",
    ]);
    assert_eq!((out(&o).as_str(), err(&o).as_str()), ("o\n", ""));
    let o = env.rpod(&[
        "run",
        "--rm",
        "-a",
        "STDERR",
        "alpine",
        "sh",
        "-c",
        "echo o; echo e >&2",
    ]);
    assert_eq!((out(&o).as_str(), err(&o).as_str()), ("", "e\n"));
    let (code, e) = env.rpod_fail(&["run", "--rm", "-a", "foo", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("invalid stream \"foo\" for --attach - must be one of stdin, stdout, or stderr"),
        "{e}"
    );
    assert_clean(&env, &["sleep 7301", "sleep 7302"]);
}

#[test]
fn preserve_fds_reach_run_and_exec() {
    let env = env_with_alpine("presfds");
    let _reaper = Reaper(&env);
    let f = user_path(&env, "data");
    std::fs::write(&f, "through fd 3\n").unwrap();
    std::process::Command::new("chmod")
        .args(["644", &f])
        .status()
        .unwrap();
    let rpod = rpod_bin().display().to_string();
    let o = env.sh(&format!(
        "{rpod} run --rm --preserve-fds 1 alpine sh -c 'cat <&3' 3<{f}"
    ));
    assert_eq!(out(&o), "through fd 3\n", "{}", err(&o));
    // A pipe: the monitor keeps no copy, so the reader sees EOF.
    let o = env.sh(&format!(
        "exec 3< <(echo piped); {rpod} run --rm --preserve-fds 1 alpine sh -c 'cat <&3; echo eof'"
    ));
    assert_eq!(out(&o), "piped\neof\n", "{}", err(&o));
    // Without the flag, fd 3 does not reach the container.
    let o = env.sh(&format!("{rpod} run --rm alpine sh -c 'cat <&3' 3<{f}"));
    assert!(
        !o.status.success() && !out(&o).contains("through"),
        "{}",
        out(&o)
    );
    env.rpod_ok(&["run", "-d", "--name", "ex", "alpine", "sleep", "7303"]);
    let o = env.sh(&format!(
        "{rpod} exec --preserve-fds 1 ex sh -c 'cat <&3' 3<{f}"
    ));
    assert_eq!(out(&o), "through fd 3\n", "{}", err(&o));
    // Asking for an fd rpod does not have is an error naming it.
    let o = env.sh(&format!("{rpod} exec --preserve-fds 2 ex true 3<{f}"));
    assert_eq!(o.status.code(), Some(125));
    assert!(
        err(&o).contains("file descriptor 4 is not available"),
        "{}",
        err(&o)
    );
    let (_, e) = env.rpod_fail(&["create", "--preserve-fds", "1", "alpine", "true"]);
    assert!(e.contains("--preserve-fds"), "{e}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "ex"]);
    assert_clean(&env, &["sleep 7303"]);
}

#[test]
fn requires_starts_first_and_rm_depend_removes_dependents() {
    let env = env_with_alpine("requires");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["create", "--name", "db", "alpine", "sleep", "7304"]);
    env.rpod_ok(&["create", "--name", "cache", "alpine", "sleep", "7305"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--requires",
        "db,cache",
        "alpine",
        "sleep",
        "7306",
    ]);
    for c in ["db", "cache", "app"] {
        assert_eq!(field(&env, c, "{{.State.Status}}"), "running", "{c}");
    }
    // start starts what the container requires.
    env.rpod_ok(&["stop", "-t", "0", "db", "app"]);
    env.rpod_ok(&["start", "app"]);
    assert_eq!(field(&env, "db", "{{.State.Status}}"), "running");
    let (code, e) = env.rpod_fail(&["run", "--rm", "--requires", "nope", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("\"nope\" is not a valid container, cannot be used as a dependency: no container with name or ID \"nope\" found"),
        "{e}"
    );
    // rm refuses a container others require; --depend takes them along.
    let (code, e) = env.rpod_fail(&["rm", "-f", "db"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("has dependent containers which must be removed before it"),
        "{e}"
    );
    let o = env.rpod_ok(&["rm", "-f", "-t", "0", "--depend", "db"]);
    assert_eq!(o.lines().count(), 2, "{o}");
    let left = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "cache", "{left}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "cache"]);
    // A container that joins another's network depends on it too.
    env.rpod_ok(&["create", "--name", "owner", "alpine", "true"]);
    env.rpod_ok(&[
        "create",
        "--name",
        "joiner",
        "--network",
        "container:owner",
        "alpine",
        "true",
    ]);
    let (code, e) = env.rpod_fail(&["rm", "owner"]);
    assert_eq!(code, 125);
    assert!(e.contains("has dependent containers"), "{e}");
    // Both at once is fine; so is --depend.
    env.rpod_ok(&["rm", "--depend", "owner"]);
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "");
    assert_clean(&env, &["sleep 7304", "sleep 7305", "sleep 7306"]);
}

#[test]
fn systemd_mode_personality_and_chrootdirs() {
    let env = env_with_alpine("systemd");
    let _reaper = Reaper(&env);
    // --systemd always: podman's tmpfs mounts, container=podman, SIGRTMIN+3.
    let o = run(
        &env,
        &[
            "--systemd",
            "always",
            "alpine",
            "sh",
            "-c",
            "echo $container; awk '$3 == \"tmpfs\" {print $2}' /proc/mounts",
        ],
    );
    assert!(o.starts_with("podman\n"), "{o}");
    for d in ["/run", "/run/lock", "/tmp", "/var/log/journal"] {
        assert!(o.lines().any(|l| l == d), "{d} in {o}");
    }
    // true: only for an init command; false never.
    env.rpod_ok(&["create", "--name", "init", "alpine", "/sbin/init"]);
    assert_eq!(field(&env, "init", "{{.Config.StopSignal}}"), "37");
    env.rpod_ok(&[
        "create",
        "--name",
        "noinit",
        "--systemd",
        "false",
        "alpine",
        "/sbin/init",
    ]);
    assert_eq!(field(&env, "noinit", "{{.Config.StopSignal}}"), "15");
    let o = run(
        &env,
        &[
            "alpine",
            "sh",
            "-c",
            "echo $container; grep -c ' /var/log/journal ' /proc/mounts || true",
        ],
    );
    assert_eq!(o, "rpod\n0\n");
    // --personality LINUX32: the kernel says i686 (podman 4.3 with runc 1.1
    // ignores it; runc 1.2 and crun apply it).
    assert_eq!(
        run(&env, &["--personality", "LINUX32", "alpine", "uname", "-m"]),
        "i686\n"
    );
    assert_eq!(
        run(&env, &["--personality", "linux", "alpine", "uname", "-m"]),
        "x86_64\n"
    );
    let (code, e) = env.rpod_fail(&["run", "--rm", "--personality", "foo", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("invalid --personality \"foo\""), "{e}");
    // --chrootdirs: the name files are mounted in the chroot too.
    let o = run(
        &env,
        &[
            "--chrootdirs",
            "/srv/jail",
            "--hostname",
            "jailed",
            "alpine",
            "sh",
            "-c",
            "cat /srv/jail/etc/hostname; grep -c jailed /srv/jail/etc/hosts",
        ],
    );
    assert_eq!(o, "jailed\n1\n");
    let (_, e) = env.rpod_fail(&["run", "--rm", "--chrootdirs", "../x", "alpine", "true"]);
    assert!(e.contains("--chrootdirs"), "{e}");
}

#[test]
fn passwd_entries_as_podman_writes_them() {
    let env = env_with_alpine("passwd");
    // A uid the image does not know gets podman's entry, and its group.
    let o = run(
        &env,
        &[
            "--user",
            "1234:1234",
            "alpine",
            "sh",
            "-c",
            "tail -1 /etc/passwd; tail -1 /etc/group; id",
        ],
    );
    assert_eq!(
        o,
        "1234:*:1234:1234:container user:/:/bin/sh\n1234:x:1234:1234\nuid=1234(1234) gid=1234(1234) groups=1234(1234)\n"
    );
    // --passwd=false: nothing added.
    let o = run(
        &env,
        &[
            "--user",
            "1234:1234",
            "--passwd=false",
            "alpine",
            "sh",
            "-c",
            "grep -c 1234 /etc/passwd /etc/group || true",
        ],
    );
    assert_eq!(o, "/etc/passwd:0\n/etc/group:0\n");
    // --passwd-entry: a template.
    let o = run(
        &env,
        &[
            "--user",
            "1234:99",
            "--passwd-entry",
            "X$USERNAME:$UID:$GID:$NAME:$HOME",
            "alpine",
            "sh",
            "-c",
            "tail -1 /etc/passwd; tail -1 /etc/group",
        ],
    );
    assert_eq!(o, "X1234:1234:99:container user:/\n99:x:99:1234\n");
    // A user the image has: nothing added.
    let o = run(
        &env,
        &[
            "--user",
            "nobody",
            "alpine",
            "grep",
            "-c",
            "",
            "/etc/passwd",
        ],
    );
    let n = run(&env, &["alpine", "grep", "-c", "", "/etc/passwd"]);
    assert_eq!(o, n);
    // --hostuser: the host user's entry (root is already there).
    let me = env.user.clone();
    let o = run(
        &env,
        &[
            "--hostuser",
            &me,
            "--hostuser",
            "root",
            "alpine",
            "sh",
            "-c",
            "grep -c '^root:' /etc/passwd; tail -1 /etc/passwd",
        ],
    );
    let uid = env.sh_ok("id -u").trim().to_string();
    let gid = env.sh_ok("id -g").trim().to_string();
    assert!(o.starts_with("1\n"), "{o}");
    assert!(
        o.ends_with(&format!("{me}:*:{uid}:{gid}::/:/bin/sh\n")),
        "{o}"
    );
    let (code, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--hostuser",
        "no-such-user-x",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(e.contains("--hostuser no-such-user-x"), "{e}");
    // --userns keep-id: your entry and group, named as on the host;
    // keep-id:uid=,gid=: the generic entry.
    let o = run(
        &env,
        &[
            "--userns",
            "keep-id",
            "alpine",
            "sh",
            "-c",
            "tail -1 /etc/passwd; tail -1 /etc/group; id -un",
        ],
    );
    assert_eq!(
        o,
        format!("{me}:*:{uid}:{gid}::/:/bin/sh\n{me}:x:{gid}:{me}\n{me}\n")
    );
    let o = run(
        &env,
        &[
            "--userns",
            "keep-id:uid=200,gid=300",
            "alpine",
            "sh",
            "-c",
            "tail -1 /etc/passwd; tail -1 /etc/group",
        ],
    );
    assert_eq!(o, "200:*:200:300:container user:/:/bin/sh\n300:x:300:200\n");
}

#[test]
fn log_drivers_and_options() {
    let env = env_with_alpine("logopts");
    let _reaper = Reaper(&env);
    // none: nothing is logged, and logs says so as podman does.
    env.rpod_ok(&[
        "run",
        "--name",
        "nolog",
        "--log-driver",
        "none",
        "alpine",
        "echo",
        "hi",
    ]);
    let (code, e) = env.rpod_fail(&["logs", "nolog"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("this container is using the 'none' log driver, cannot read logs"),
        "{e}"
    );
    // json-file is k8s-file.
    env.rpod_ok(&[
        "run",
        "--name",
        "jf",
        "--log-driver",
        "json-file",
        "alpine",
        "echo",
        "hi",
    ]);
    assert_eq!(env.rpod_ok(&["logs", "jf"]), "hi\n");
    let (_, e) = env.rpod_fail(&["run", "--rm", "--log-driver", "bogus", "alpine", "true"]);
    assert!(e.contains("invalid log driver"), "{e}");
    let (_, e) = env.rpod_fail(&["run", "--rm", "--log-driver", "journald", "alpine", "true"]);
    assert!(e.contains("--log-driver journald"), "{e}");
    let (_, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--log-driver",
        "passthrough",
        "alpine",
        "true",
    ]);
    assert!(e.contains("--log-driver passthrough"), "{e}");
    // path=: the log is written there, and read from there.
    let lp = user_path(&env, "my.log");
    env.rpod_ok(&[
        "run",
        "--name",
        "lp",
        "--log-opt",
        &format!("path={lp}"),
        "alpine",
        "echo",
        "there",
    ]);
    let text = std::fs::read_to_string(&lp).unwrap();
    assert!(text.ends_with(" stdout F there\n"), "{text}");
    assert_eq!(env.rpod_ok(&["logs", "lp"]), "there\n");
    // max-size: past it the log starts over (conmon's rotation), so it
    // never holds much more than the limit.
    env.rpod_ok(&[
        "run",
        "--name",
        "ms",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "tag=mytag",
        "alpine",
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    let logs = env.rpod_ok(&["logs", "ms"]);
    assert!(logs.ends_with("line-199\n"), "{logs}");
    assert!(!logs.contains("line-0\n"), "{logs}");
    let f = store_root(&env)
        .join("containers")
        .join(field(&env, "ms", "{{.Id}}"))
        .join("ctr.log");
    assert!(
        std::fs::metadata(&f).unwrap().len() <= 1024,
        "{}",
        f.display()
    );
    // An option podman's k8s-file driver does not know is ignored, as podman does.
    env.rpod_ok(&["run", "--rm", "--log-opt", "foo=bar", "alpine", "true"]);
}

/// `--log-opt max-size` starts the log over in a new file; `logs -f`
/// reads the old one to its end and goes on in the new one, so a follower
/// sees every line although the file on disk never holds them all.
#[test]
fn logs_follow_reads_on_across_max_size_rotations() {
    let env = env_with_alpine("logsrotate");
    let _reaper = Reaper(&env);
    let sig = user_path(&env, "sig");
    env.sh_ok(&format!("mkdir -p {sig}"));
    let out = user_path(&env, "followed");
    // The container writes only once the follower runs (the go file), ten
    // lines per 0.1 s: a 2 kB file holds about 45, so it is replaced every
    // half second while `logs -f` polls every 50 ms.
    env.sh_ok(&format!(
        "rpod run -d --name rot -v {sig}:/sig --log-opt max-size=2k alpine sh -c \
           'while [ ! -e /sig/go ]; do sleep 0.05; done; i=0; \
            while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); \
              [ $((i % 10)) = 0 ] && sleep 0.1; done' >/dev/null
         rpod logs -f rot > {out} & sleep 0.5; touch {sig}/go; wait $!"
    ));
    let want: String = (0..300).map(|i| format!("line-{i}\n")).collect();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), want);
    let dir = store_root(&env)
        .join("containers")
        .join(field(&env, "rot", "{{.Id}}"));
    let log = dir.join("ctr.log");
    assert!(std::fs::metadata(&log).unwrap().len() <= 2048);
    // Nothing of a rotation is left beside the log.
    assert!(!dir.join("ctr.log.rotating").exists());
    // A plain `logs` reads what the last file holds: the end.
    assert!(env.rpod_ok(&["logs", "rot"]).ends_with("line-299\n"));
}

#[test]
fn logs_names_short_flag_and_follow_of_several() {
    let env = env_with_alpine("logsfollow");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["run", "--name", "one", "alpine", "echo", "from-one"]);
    // -n is --names, as in podman (--tail has no short form).
    assert_eq!(env.rpod_ok(&["logs", "-n", "one"]), "one from-one\n");
    assert_eq!(env.rpod_ok(&["logs", "--tail", "-1", "one"]), "from-one\n");
    // -f on two running containers: both followed until both exit.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "a",
        "alpine",
        "sh",
        "-c",
        "echo a1; sleep 1; echo a2",
    ]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "b",
        "alpine",
        "sh",
        "-c",
        "echo b1; sleep 2; echo b2",
    ]);
    let t = Instant::now();
    let o = env.rpod_ok(&["logs", "-f", "-n", "a", "b"]);
    let mut lines: Vec<&str> = o.lines().collect();
    lines.sort();
    assert_eq!(lines, ["a a1", "a a2", "b b1", "b b2"], "{o}");
    assert!(t.elapsed() < Duration::from_secs(15));
}

#[test]
fn ps_size_ns_and_watch() {
    let env = env_with_alpine("pssize");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "sz",
        "alpine",
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /f; sleep 7307",
    ]);
    assert!(eventually(10, || {
        env.rpod_ok(&["ps", "-s", "--format", "{{.Size}}"])
            .starts_with("5")
    }));
    let o = env.rpod_ok(&["ps", "--size"]);
    let head = o.lines().next().unwrap();
    assert!(head.ends_with("NAMES       SIZE"), "{o}");
    assert!(o.contains("kB (virtual "), "{o}");
    let j: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["ps", "-s", "--format", "json"])).unwrap();
    let s = &j[0]["Size"];
    assert!(s["rwSize"].as_u64().unwrap() >= 5000, "{s}");
    assert!(
        s["rootFsSize"].as_u64().unwrap() > s["rwSize"].as_u64().unwrap(),
        "{s}"
    );
    // --ns: podman's columns, with the namespaces' inode numbers.
    let o = env.rpod_ok(&["ps", "--ns"]);
    let mut l = o.lines();
    let cols: Vec<&str> = l.next().unwrap().split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "CONTAINER",
            "ID",
            "NAMES",
            "PID",
            "CGROUPNS",
            "IPC",
            "MNT",
            "NET",
            "PIDNS",
            "USERNS",
            "UTS"
        ]
    );
    let row: Vec<&str> = l.next().unwrap().split_whitespace().collect();
    let pid = field(&env, "sz", "{{.State.Pid}}");
    let uts = std::fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap();
    assert_eq!(row[2], pid);
    assert_eq!(format!("uts:[{}]", row[9]), uts.to_string_lossy());
    let j: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["ps", "--ns", "--format", "json"])).unwrap();
    assert_eq!(j[0]["Namespaces"]["Uts"], row[9]);
    let (_, e) = env.rpod_fail(&["ps", "--ns", "--size"]);
    assert!(e.contains("size and namespace options conflict"), "{e}");
    // --watch: the list again and again (on a terminal the screen is
    // cleared each time); with -q or json once, as podman 4.3 does.
    let rpod = rpod_bin().display().to_string();
    let o = env.sh(&format!(
        "timeout 2.5 {rpod} ps -w 1 --format '{{{{.Names}}}}'"
    ));
    let text = out(&o);
    assert_eq!(o.status.code(), Some(124), "{text:?}");
    assert!(text.matches("sz\n").count() >= 2, "{text:?}");
    assert!(!text.contains('\x1b'), "{text:?}");
    let t = Instant::now();
    let o = env.rpod_ok(&["ps", "-w", "1", "-q"]);
    assert_eq!(o.lines().count(), 1, "{o}");
    assert!(t.elapsed() < Duration::from_secs(5));
    env.rpod_ok(&["rm", "-f", "-t", "0", "sz"]);
    assert_clean(&env, &["sleep 7307"]);
}

#[test]
fn podman_template_functions() {
    let env = env_with_alpine("tmplfn");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "create",
        "--name",
        "tf",
        "--label",
        "a.b=Hello world",
        "alpine",
        "true",
    ]);
    let f = |t: &str| {
        env.rpod_ok(&["ps", "-a", "--format", t])
            .trim_end()
            .to_string()
    };
    assert_eq!(f("{{index .Labels \"a.b\"}}"), "Hello world");
    assert_eq!(f("{{upper (index .Labels \"a.b\")}}"), "HELLO WORLD");
    assert_eq!(f("{{.Names | upper}}"), "TF");
    assert_eq!(f("{{title .Names}}"), "Tf");
    assert_eq!(
        f("{{join (split (index .Labels \"a.b\") \" \") \"+\"}}"),
        "Hello+world"
    );
    assert_eq!(f("{{printf \"%-4s|\" .Names}}"), "tf  |");
    assert_eq!(f("{{truncate .ID 4}}"), field(&env, "tf", "{{.Id}}")[..4]);
    assert_eq!(f("{{json .Names}}"), "\"tf\"");
    assert_eq!(
        field(&env, "tf", "{{index .Config.Labels \"a.b\"}}"),
        "Hello world"
    );
    let (code, e) = env.rpod_fail(&["ps", "-a", "--format", "{{nosuch .Names}}"]);
    assert_eq!(code, 125);
    assert!(e.contains("nosuch"), "{e}");
}

#[test]
fn rootfs_runs_a_directory_and_o_keeps_it_unchanged() {
    let env = env_with_alpine("rootfs");
    let _reaper = Reaper(&env);
    // A root file system in a directory of the user's: alpine's, exported.
    let dir = user_path(&env, "rfs");
    env.rpod_ok(&["create", "--name", "src", "alpine", "true"]);
    env.sh_ok(&format!(
        "mkdir {dir} && {} export src | tar -x -C {dir}",
        rpod_bin().display()
    ));
    env.rpod_ok(&["rm", "src"]);
    let o = run(
        &env,
        &[
            "--rootfs",
            &dir,
            "sh",
            "-c",
            "echo kept > /kept; cat /etc/os-release | head -1",
        ],
    );
    assert!(o.starts_with("NAME="), "{o}");
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/kept")).unwrap(),
        "kept\n"
    );
    // :O: an overlay; the directory is not written.
    let o = run(
        &env,
        &[
            "--rootfs",
            &format!("{dir}:O"),
            "sh",
            "-c",
            "echo x > /ov; cat /ov /kept",
        ],
    );
    assert_eq!(o, "x\nkept\n");
    assert!(!std::path::Path::new(&format!("{dir}/ov")).exists());
    // As podman shows it: no image, the directory as Rootfs.
    env.rpod_ok(&["create", "--name", "r", "--rootfs", &dir, "echo", "hi"]);
    assert_eq!(
        field(&env, "r", "{{.ImageName}}|{{.Rootfs}}"),
        format!("|{dir}")
    );
    env.rpod_ok(&["start", "-a", "r"]);
    assert_eq!(env.rpod_ok(&["logs", "r"]), "hi\n");
    // No image below it: commit and diff say so.
    let (_, e) = env.rpod_fail(&["commit", "r", "from-rootfs"]);
    assert!(e.contains("--rootfs"), "{e}");
    let (_, e) = env.rpod_fail(&["diff", "r"]);
    assert!(e.contains("--rootfs"), "{e}");
    env.rpod_ok(&["rm", "r"]);
    // Removing the container leaves the directory alone.
    assert!(std::path::Path::new(&format!("{dir}/etc/os-release")).exists());
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/kept")).unwrap(),
        "kept\n"
    );
    let (code, e) = env.rpod_fail(&["run", "--rm", "--rootfs", "/no/such/dir", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("--rootfs /no/such/dir"), "{e}");
}

#[test]
fn inspect_shows_the_new_settings_as_podman() {
    let env = env_with_alpine("inspect12");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["create", "--name", "dep", "alpine", "true"]);
    let pf = user_path(&env, "x.pid");
    env.rpod_ok(&[
        "create",
        "--name",
        "i",
        "--timeout",
        "5",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "tag=tg",
        "--requires",
        "dep",
        "--pidfile",
        &pf,
        "alpine",
        "true",
    ]);
    let dep = field(&env, "dep", "{{.Id}}");
    assert_eq!(
        field(&env, "i", "{{json .Dependencies}}"),
        format!("[\"{dep}\"]")
    );
    assert_eq!(field(&env, "i", "{{.PidFile}}"), pf);
    assert_eq!(field(&env, "i", "{{.Config.Timeout}}"), "5");
    assert_eq!(
        field(&env, "i", "{{.HostConfig.LogConfig.Type}} {{.HostConfig.LogConfig.Tag}} {{.HostConfig.LogConfig.Size}}"),
        "k8s-file tg 1kB"
    );
    assert!(field(&env, "i", "{{.HostConfig.LogConfig.Path}}").ends_with("/ctr.log"));
}
