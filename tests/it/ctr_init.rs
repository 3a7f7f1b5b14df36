//! `rpod init` / `rpod container init`: podman's "initialized" state. The
//! container is set up (rootfs mounted, runtime created, its monitor
//! waiting) but its program does not run until `start`. The texts and exit
//! codes were taken from rootless podman 4.3.1 on this machine.

use crate::common::*;

fn status(env: &Env, ctr: &str) -> String {
    field(env, ctr, "{{.State.Status}}")
}

#[test]
fn init_sets_up_without_running_and_start_runs_it() {
    let env = env_with_alpine("cinit");
    let marker = "sleep 4242901";
    env.rpod_ok(&[
        "create",
        "--name",
        "a",
        "alpine",
        "sh",
        "-c",
        "echo started; exec sleep 4242901",
    ]);
    // podman prints the name it was given.
    assert_eq!(env.rpod_ok(&["init", "a"]), "a\n");
    assert_eq!(status(&env, "a"), "initialized");
    assert_eq!(field(&env, "a", "{{.State.Running}}"), "false");
    // The runtime's init exists, in the container's root, but the program
    // has not run: no output, no process.
    let pid: i32 = field(&env, "a", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    assert!(
        std::path::Path::new(&format!("/proc/{pid}/root/etc/passwd")).exists(),
        "the init's root is the container's rootfs"
    );
    assert!(procs_with(marker).is_empty());
    assert_eq!(env.rpod_ok(&["logs", "a"]), "");
    // ps lists it only with -a, as podman's STATUS "Initialized".
    assert_eq!(env.rpod_ok(&["ps", "--format", "{{.Names}}"]), "");
    assert_eq!(
        env.rpod_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]),
        "a Initialized\n"
    );
    assert_eq!(
        env.rpod_ok(&[
            "ps",
            "-a",
            "--filter",
            "status=initialized",
            "--format",
            "{{.Names}}"
        ]),
        "a\n"
    );
    // Twice: podman's state error, 125.
    let (code, err) = env.rpod_fail(&["container", "init", "a"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("has already been created in runtime: container state improper"),
        "{err}"
    );
    // start runs the program in what init set up: the same init.
    assert_eq!(env.rpod_ok(&["start", "a"]), "a\n");
    assert_eq!(status(&env, "a"), "running");
    assert_eq!(field(&env, "a", "{{.State.Pid}}"), pid.to_string());
    assert!(eventually(10, || !procs_with(marker).is_empty()));
    assert!(eventually(10, || env.rpod_ok(&["logs", "a"]) == "started\n"));
    // A running container can't be initialized either.
    let (code, _) = env.rpod_fail(&["init", "a"]);
    assert_eq!(code, 125);
    // init is an event, once; start follows.
    let ev = env.rpod_ok(&[
        "events",
        "--stream=false",
        "--filter",
        "container=a",
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(
        ev.split_whitespace().collect::<Vec<_>>(),
        ["create", "init", "start"]
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "a"]);
    assert!(eventually(10, || procs_with(marker).is_empty()));
}

#[test]
fn start_attach_of_an_initialized_container_sees_all_its_output() {
    let env = env_with_alpine("cinita");
    env.rpod_ok(&["create", "--name", "p", "alpine", "echo", "hello"]);
    env.rpod_ok(&["create", "-t", "--name", "t", "alpine", "echo", "tty"]);
    env.rpod_ok(&["init", "p", "t"]);
    assert_eq!(env.rpod_ok(&["start", "-a", "p"]), "hello\n");
    assert_eq!(env.rpod_ok(&["start", "-a", "t"]).trim_end(), "tty");
    // An exited container can be initialized again.
    env.rpod_ok(&["create", "--name", "x", "alpine", "sh", "-c", "exit 3"]);
    env.rpod_ok(&["init", "x"]);
    env.rpod_ok(&["start", "x"]);
    assert_eq!(env.rpod_ok(&["wait", "x"]), "3\n");
    env.rpod_ok(&["init", "x"]);
    assert_eq!(status(&env, "x"), "initialized");
    env.rpod_ok(&["rm", "-a"]);
}

#[test]
fn stop_kill_rm_exec_of_an_initialized_container_as_podman() {
    let env = env_with_alpine("cinitk");
    let marker = "sleep 4242902";
    let pidfile = env.home.join("b.pid");
    env.rpod_ok(&[
        "create",
        "--name",
        "b",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "alpine",
        "sleep",
        "4242902",
    ]);
    env.rpod_ok(&["init", "b"]);
    // podman writes the pid file when the runtime has created the container.
    let pid = field(&env, "b", "{{.State.Pid}}");
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid);
    // kill: podman refuses, 125, and it stays initialized.
    let (code, err) = env.rpod_fail(&["kill", "b"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("can only kill running containers.")
            && err.contains("is in state initialized"),
        "{err}"
    );
    assert_eq!(status(&env, "b"), "initialized");
    // exec: not running (podman 4.3: 255, for created and exited ones too).
    let (code, err) = env.rpod_fail(&["exec", "b", "true"]);
    assert_eq!(code, 255);
    assert!(
        err.contains("can only create exec sessions on running containers"),
        "{err}"
    );
    // stop ends it at once (its init handles no signal): exited.
    let t = std::time::Instant::now();
    env.rpod_ok(&["stop", "b"]);
    assert!(t.elapsed().as_secs() < 8, "stop waited for the timeout");
    assert_eq!(status(&env, "b"), "exited");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            // A reused pid is not our init.
            !std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .contains("--init-only")
        }
    );
    // rm needs no force for an initialized container (podman removes it).
    env.rpod_ok(&["init", "b"]);
    env.rpod_ok(&["rm", "b"]);
    assert!(env.rpod(&["container", "exists", "b"]).status.code() == Some(1));
    // podman 4.3.1 leaves a --pidfile where it is on rm.
    assert!(pidfile.exists());
    assert!(procs_with(marker).is_empty());
    assert_clean(&env, &[marker]);
}

#[test]
fn init_all_and_latest_as_podman() {
    let env = env_with_alpine("cinitall");
    let a = env.rpod_ok(&["create", "--name", "a", "alpine", "true"]);
    let b = env.rpod_ok(&["create", "--name", "b", "alpine", "true"]);
    // podman's argument checks, each 125.
    for (args, text) in [
        (
            &["init", "--all", "a"][..],
            "no arguments are needed with --all",
        ),
        (&["init"][..], "you must provide at least one name or id"),
        (
            &["init", "--all", "--latest"][..],
            "--all and --latest cannot be used together",
        ),
        (
            &["init", "-l", "a"][..],
            "--latest and containers cannot be used together",
        ),
    ] {
        let (code, err) = env.rpod_fail(args);
        assert_eq!(code, 125, "{args:?}");
        assert!(err.contains(text), "{args:?}: {err}");
    }
    // --latest: the newest, by id.
    assert_eq!(env.rpod_ok(&["init", "--latest"]), b);
    assert_eq!(status(&env, "b"), "initialized");
    // --all: every container, the ones set up already passed over quietly.
    let out = env.rpod_ok(&["init", "--all"]);
    let mut ids: Vec<&str> = out.lines().collect();
    ids.sort();
    let mut want = vec![a.trim(), b.trim()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(status(&env, "a"), "initialized");
    // Several names: each failure reported, 125.
    let (code, err) = env.rpod_fail(&["init", "a", "nosuch"]);
    assert_eq!(code, 125);
    assert!(err.contains("has already been created in runtime"), "{err}");
    assert!(
        err.contains("no container with name or ID \"nosuch\" found"),
        "{err}"
    );
    env.rpod_ok(&["rm", "-a"]);
}

#[test]
fn an_initialized_container_whose_monitor_was_killed_starts_afresh() {
    let env = env_with_alpine("cinitkill");
    let marker = "sleep 4242905";
    env.rpod_ok(&["create", "--name", "k", "alpine", "sleep", "4242905"]);
    env.rpod_ok(&["init", "k"]);
    let monitor: i32 = field(&env, "k", "{{.State.ConmonPid}}").parse().unwrap();
    let init: i32 = field(&env, "k", "{{.State.Pid}}").parse().unwrap();
    assert!(monitor > 0 && init > 0);
    let st = std::process::Command::new("kill")
        .args(["-9", &monitor.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    // start ends the orphaned init and runs the container with a new monitor.
    env.rpod_ok(&["start", "k"]);
    assert_eq!(status(&env, "k"), "running");
    assert!(eventually(10, || !procs_with(marker).is_empty()));
    assert!(eventually(10, || !std::path::Path::new(&format!(
        "/proc/{init}"
    ))
    .exists()
        || !std::fs::read_to_string(format!("/proc/{init}/cmdline"))
            .unwrap_or_default()
            .contains("--init-only")));
    env.rpod_ok(&["rm", "-f", "-t", "0", "k"]);
    assert_clean(&env, &[marker]);
}

/// The monitor process `pid`'s image: its comm (and its exe, which the
/// test, as root, can read).
fn image_of(pid: i32) -> (String, String) {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    (
        comm.trim_end().to_string(),
        exe.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

/// Process `pid` has ended (a zombie waits only for its reaper).
fn gone(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

fn assert_small(pid: i32) {
    assert_eq!(
        image_of(pid),
        ("rpod-monitor".to_string(), "rpod-monitor".to_string()),
        "monitor {pid} is not the small binary"
    );
}

#[test]
fn an_initialized_containers_monitor_waits_in_the_small_binary() {
    let env = env_with_alpine("cinitsmall");
    let _r = Reaper(&env);
    let marker = "sleep 4242906";
    env.rpod_ok(&[
        "create",
        "--name",
        "w",
        "alpine",
        "sh",
        "-c",
        "echo up; exec sleep 4242906",
    ]);
    env.rpod_ok(&["init", "w"]);
    let monitor: i32 = field(&env, "w", "{{.State.ConmonPid}}").parse().unwrap();
    let pid = field(&env, "w", "{{.State.Pid}}");
    // The waiting monitor is the small binary, not rpod (about 2 MB, not 28).
    assert_small(monitor);
    assert_eq!(status(&env, "w"), "initialized");
    assert!(procs_with(marker).is_empty());
    // start from there: the same monitor process (rpod in between, then
    // the small binary's loop again) runs the same init.
    assert_eq!(env.rpod_ok(&["start", "w"]), "w\n");
    assert_eq!(status(&env, "w"), "running");
    assert_eq!(field(&env, "w", "{{.State.Pid}}"), pid);
    assert_eq!(
        field(&env, "w", "{{.State.ConmonPid}}"),
        monitor.to_string()
    );
    assert!(eventually(10, || image_of(monitor).0 == "rpod-monitor"));
    assert_small(monitor);
    assert!(eventually(10, || !procs_with(marker).is_empty()));
    assert!(eventually(10, || env.rpod_ok(&["logs", "w"]) == "up\n"));
    // stop from the loop; then a waiting one is stopped and removed.
    env.rpod_ok(&["stop", "-t", "0", "w"]);
    assert_eq!(status(&env, "w"), "exited");
    assert!(procs_with(marker).is_empty());
    env.rpod_ok(&["init", "w"]);
    let monitor: i32 = field(&env, "w", "{{.State.ConmonPid}}").parse().unwrap();
    assert_small(monitor);
    let t = std::time::Instant::now();
    env.rpod_ok(&["stop", "w"]);
    assert!(t.elapsed().as_secs() < 8, "stop waited for the timeout");
    assert_eq!(status(&env, "w"), "exited");
    assert!(eventually(10, || gone(monitor)));
    env.rpod_ok(&["init", "w"]);
    assert_small(field(&env, "w", "{{.State.ConmonPid}}").parse().unwrap());
    env.rpod_ok(&["rm", "w"]);
    // The events are those of the big monitor: init and start once each,
    // a died for each end.
    let ev = env.rpod_ok(&[
        "events",
        "--stream=false",
        "--filter",
        "container=w",
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(
        ev.split_whitespace().collect::<Vec<_>>(),
        [
            "create", "init", "start", "died", "cleanup", "init", "died", "cleanup", "init",
            "died", "cleanup", "remove"
        ]
    );
    assert_clean(&env, &[marker]);
}

#[test]
fn rm_f_after_a_kill_9_of_the_waiting_small_monitor_cleans_up() {
    let env = env_with_alpine("cinitsk9");
    let _r = Reaper(&env);
    let marker = "sleep 4242907";
    env.rpod_ok(&["create", "--name", "k", "alpine", "sleep", "4242907"]);
    env.rpod_ok(&["init", "k"]);
    let monitor: i32 = field(&env, "k", "{{.State.ConmonPid}}").parse().unwrap();
    assert_small(monitor);
    let st = std::process::Command::new("kill")
        .args(["-9", &monitor.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(eventually(10, || gone(monitor)));
    env.rpod_ok(&["rm", "-f", "k"]);
    assert!(env.rpod(&["container", "exists", "k"]).status.code() == Some(1));
    assert_clean(&env, &[marker]);
}
