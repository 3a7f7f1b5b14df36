//! Restart policies (`--restart`), honoured by the container's monitor, and
//! the `restart` command. Timings are never asserted: every wait polls with
//! a generous deadline.

use crate::common::*;

fn restarts(env: &Env, ctr: &str) -> u32 {
    field(env, ctr, "{{.RestartCount}}").parse().unwrap()
}

fn status(env: &Env, ctr: &str) -> String {
    field(env, ctr, "{{.State.Status}}")
}

/// The names `ps` (running containers only) lists.
fn running(env: &Env) -> String {
    env.rpod_ok(&["ps", "--format", "{{.Names}}"])
}

#[test]
fn on_failure_restarts_n_times_then_stays_exited() {
    let env = env_with_alpine("rson");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "of",
        "--restart",
        "on-failure:3",
        "alpine",
        "sh",
        "-c",
        "echo run; exit 1",
    ]);
    assert_eq!(
        field(&env, "of", "{{.HostConfig.RestartPolicy.Name}}"),
        "on-failure"
    );
    assert_eq!(
        field(
            &env,
            "of",
            "{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "3"
    );
    let done = eventually(60, || {
        restarts(&env, "of") == 3 && status(&env, "of") == "exited"
    });
    assert!(
        done,
        "restarts {} status {}",
        restarts(&env, "of"),
        status(&env, "of")
    );
    // No fourth run comes.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(restarts(&env, "of"), 3);
    assert_eq!(status(&env, "of"), "exited");
    assert_eq!(field(&env, "of", "{{.State.ExitCode}}"), "1");
    let ps = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}} {{.Restarts}}"]);
    assert_eq!(ps.trim(), "of 3");
    // Four runs, four lines in the log.
    let logs = env.rpod_ok(&["logs", "of"]);
    assert_eq!(logs.matches("run").count(), 4, "{logs}");
    // A start by the user begins the count again.
    env.rpod_ok(&["start", "of"]);
    assert!(eventually(60, || restarts(&env, "of") == 3
        && status(&env, "of") == "exited"
        && env.rpod_ok(&["logs", "of"]).matches("run").count() == 8));
    env.rpod_ok(&["rm", "-f", "of"]);
    assert_clean(&env, &[]);
}

#[test]
fn on_failure_does_not_restart_a_success() {
    let env = env_with_alpine("rsok");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "ok",
        "--restart",
        "on-failure",
        "alpine",
        "true",
    ]);
    assert!(eventually(30, || status(&env, "ok") == "exited"));
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(restarts(&env, "ok"), 0);
    assert_eq!(status(&env, "ok"), "exited");
}

/// `always` and `unless-stopped` restart whatever the exit code, until the
/// user stops the container; then it stays stopped.
fn restarts_until_stopped(policy: &str, code: &str) {
    let env = env_with_alpine(&format!("rs{policy}"));
    let script = format!("sleep 0.2; exit {code}");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "al",
        "--restart",
        policy,
        "alpine",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(
        field(&env, "al", "{{.HostConfig.RestartPolicy.Name}}"),
        policy
    );
    assert!(
        eventually(60, || restarts(&env, "al") >= 3),
        "restarts {}",
        restarts(&env, "al")
    );
    env.rpod_ok(&["stop", "-t", "0", "al"]);
    let n = restarts(&env, "al");
    // Stopped during a run or during the back-off: no run comes after it.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(restarts(&env, "al"), n, "restarted after stop");
    assert_eq!(status(&env, "al"), "exited");
    assert!(!running(&env).contains("al"));
    // A start by the user lifts the stop: the policy applies again.
    env.rpod_ok(&["start", "al"]);
    assert!(eventually(60, || restarts(&env, "al") >= 1));
    // Between two runs (the back-off) the container is exited and `kill`
    // refuses it, as podman does; it still calls off the scheduled restart.
    let killed = env.rpod(&["kill", "al"]);
    if !killed.status.success() {
        assert!(
            String::from_utf8_lossy(&killed.stderr).contains("can only kill running containers"),
            "{killed:?}"
        );
    }
    assert!(eventually(30, || status(&env, "al") == "exited"));
    let n = restarts(&env, "al");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(restarts(&env, "al"), n, "restarted after kill");
    assert_eq!(status(&env, "al"), "exited");
    env.rpod_ok(&["rm", "-f", "al"]);
    assert_clean(&env, &[]);
}

#[test]
fn always_restarts_a_success_until_stopped() {
    restarts_until_stopped("always", "0");
}

#[test]
fn unless_stopped_restarts_until_stopped() {
    restarts_until_stopped("unless-stopped", "2");
}

#[test]
fn no_policy_never_restarts() {
    let env = env_with_alpine("rsno");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "no",
        "--restart",
        "no",
        "alpine",
        "sh",
        "-c",
        "exit 1",
    ]);
    env.rpod_ok(&[
        "run", "-d", "--name", "none", "alpine", "sh", "-c", "exit 1",
    ]);
    assert!(eventually(30, || status(&env, "no") == "exited"
        && status(&env, "none") == "exited"));
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(restarts(&env, "no"), 0);
    assert_eq!(restarts(&env, "none"), 0);
    assert_eq!(
        field(&env, "no", "{{.HostConfig.RestartPolicy.Name}}"),
        "no"
    );
    assert_eq!(
        field(&env, "none", "{{.HostConfig.RestartPolicy.Name}}"),
        ""
    );
    assert_eq!(
        env.rpod_ok(&[
            "ps",
            "-a",
            "--filter",
            "restart-policy=none",
            "--format",
            "{{.Names}}"
        ])
        .trim(),
        "none"
    );
}

#[test]
fn bad_policies_and_rm_are_refused() {
    let env = env_with_alpine("rsbad");
    let (code, e) = env.rpod_fail(&["run", "--rm", "--restart", "always", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("the --rm option conflicts with --restart"),
        "{e}"
    );
    let (_, e) = env.rpod_fail(&["create", "--restart", "always:3", "alpine", "true"]);
    assert!(e.contains("only be specified with on-failure"), "{e}");
    let (_, e) = env.rpod_fail(&["create", "--restart", "bogus", "alpine", "true"]);
    assert!(e.contains("\"bogus\" is not a valid restart policy"), "{e}");
    // --rm with "no" is fine.
    env.rpod_ok(&["run", "--rm", "--restart", "no", "alpine", "true"]);
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn restart_command_stops_and_starts() {
    let env = env_with_alpine("rscmd");
    env.rpod_ok(&["run", "-d", "--name", "r1", "alpine", "sleep", "4242601"]);
    env.rpod_ok(&["create", "--name", "r2", "alpine", "sleep", "4242602"]);
    let pid1 = field(&env, "r1", "{{.State.Pid}}");
    let out = env.rpod_ok(&["restart", "-t", "0", "r1", "r2"]);
    assert_eq!(out, "r1\nr2\n");
    assert_eq!(status(&env, "r1"), "running");
    assert_eq!(status(&env, "r2"), "running");
    assert_ne!(field(&env, "r1", "{{.State.Pid}}"), pid1, "a new run");
    // --running: only what runs; the stopped one stays stopped.
    env.rpod_ok(&["stop", "-t", "0", "r2"]);
    let id1 = field(&env, "r1", "{{.Id}}");
    let out = env.rpod_ok(&["container", "restart", "--running", "-t", "0"]);
    assert_eq!(out.trim(), id1);
    assert_eq!(status(&env, "r2"), "exited");
    let (_, e) = env.rpod_fail(&["restart", "nosuch"]);
    assert!(e.contains("no container with name or ID \"nosuch\""), "{e}");
    // start --all --filter restart-policy=always: the boot-time path.
    env.rpod_ok(&["stop", "-t", "0", "r1"]);
    env.rpod_ok(&[
        "create",
        "--name",
        "r3",
        "--restart",
        "always",
        "alpine",
        "sleep",
        "4242603",
    ]);
    let id3 = field(&env, "r3", "{{.Id}}");
    let out = env.rpod_ok(&["start", "--all", "--filter", "restart-policy=always"]);
    assert_eq!(out.trim(), id3);
    assert_eq!(running(&env).trim(), "r3");
    env.rpod_ok(&["rm", "-f", "-t", "0", "-a"]);
    assert_clean(&env, &["4242601", "4242602", "4242603"]);
}

/// kill -9 of the monitor while it waits to restart the container: the
/// container is reported as exited, never as running, and starts again.
#[test]
fn monitor_killed_during_back_off_leaves_a_true_state() {
    let env = env_with_alpine("rskill");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "kb",
        "--restart",
        "always",
        "alpine",
        "sh",
        "-c",
        "exit 7",
    ]);
    let id = field(&env, "kb", "{{.Id}}");
    // The back-off doubles: by the fifth restart it is over a second long.
    assert!(eventually(60, || restarts(&env, "kb") >= 5));
    assert!(eventually(30, || status(&env, "kb") == "exited"
        && field(&env, "kb", "{{.State.Restarting}}") == "true"));
    let killed: Vec<String> = procs_with(&id)
        .into_iter()
        .map(|p| p.split(':').next().unwrap().to_string())
        .collect();
    assert!(
        !killed.is_empty(),
        "a monitor waits to restart the container"
    );
    // Five generations of monitors later, none carries its elders' fds.
    for pid in &killed {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0);
        eprintln!("monitor {pid}: {fds} fds");
        assert!(fds < 16, "monitor {pid} holds {fds} fds");
    }
    for pid in &killed {
        let _ = std::process::Command::new("kill")
            .args(["-9", pid])
            .status();
    }
    assert!(eventually(10, || procs_with(&id).is_empty()));
    for _ in 0..3 {
        let st = status(&env, "kb");
        assert_eq!(st, "exited", "ps must not claim a dead container runs");
        assert_eq!(field(&env, "kb", "{{.State.Restarting}}"), "false");
        assert!(!running(&env).contains("kb"));
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // It starts again, and the policy applies again.
    env.rpod_ok(&["start", "kb"]);
    assert!(eventually(60, || restarts(&env, "kb") >= 1));
    env.rpod_ok(&["rm", "-f", "-t", "0", "kb"]);
    assert_clean(&env, &[]);
}

/// The packaged user unit (podman-restart.service's twin): its ExecStart
/// starts exactly the containers whose policy is always, its ExecStop
/// stops them, and an ExecStop with nothing to stop succeeds; systemd
/// accepts the unit.
#[test]
fn the_rpod_restart_unit_starts_and_stops_the_always_containers() {
    let unit_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/systemd/rpod-restart.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let args_of = |key: &str| -> Vec<String> {
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in the unit"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&words[..2], ["rpod", "$LOGGING"], "{line}");
        // $LOGGING is the unit's Environment=LOGGING="--log-level=info".
        std::iter::once("--log-level=info".to_string())
            .chain(words[2..].iter().map(|w| w.to_string()))
            .collect()
    };
    let start = args_of("ExecStart=");
    let stop = args_of("ExecStop=");
    let env = env_with_alpine("rsunit");
    fn as_strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    // Nothing to stop yet: still a success (podman's stop --filter is too).
    env.rpod_ok(&as_strs(&stop));
    for (name, policy) in [("al", "always"), ("no", "no")] {
        env.rpod_ok(&[
            "create",
            "--name",
            name,
            "--restart",
            policy,
            "alpine",
            "sleep",
            "1000",
        ]);
    }
    env.rpod_ok(&as_strs(&start));
    assert!(
        eventually(30, || running(&env).trim() == "al"),
        "{}",
        running(&env)
    );
    env.rpod_ok(&as_strs(&stop));
    assert!(eventually(30, || running(&env).trim().is_empty()));
    assert_eq!(status(&env, "al"), "exited");
    assert_eq!(status(&env, "no"), "created");
    env.rpod_ok(&["rm", "-f", "al", "no"]);

    // systemd's own check, with the command made absolute (verify wants
    // it on this machine, where rpod is not installed) and no man lookup.
    let dir = std::env::temp_dir().join(format!("rpod-it-rsunit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = rpod_bin();
    let abs = unit
        .replace("ExecStart=rpod", &format!("ExecStart={}", bin.display()))
        .replace("ExecStop=rpod", &format!("ExecStop={}", bin.display()));
    let copy = dir.join("rpod-restart.service");
    std::fs::write(&copy, abs).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze (package systemd, installed by tests/world/setup.sh)");
    assert!(out.status.success(), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
