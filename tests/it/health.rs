//! Healthchecks run by rpod's monitor (no systemd timer): `--health-*`
//! flags, `healthcheck run`, `State.Health` in inspect, `(healthy)` in ps,
//! `--filter health=`, `health_status` events and `--health-on-failure`.
//! Timings are never asserted: every wait polls with a generous deadline.

use crate::common::*;

fn health(env: &Env, ctr: &str) -> String {
    field(env, ctr, "{{.State.Health.Status}}")
}

fn streak(env: &Env, ctr: &str) -> u32 {
    field(env, ctr, "{{.State.Health.FailingStreak}}")
        .parse()
        .unwrap()
}

/// A container whose check passes while /tmp/ok exists.
fn run_toggled(env: &Env, name: &str, interval: &str, extra: &[&str]) {
    let mut args = vec![
        "run",
        "-d",
        "--name",
        name,
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        interval,
        "--health-retries",
        "2",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["alpine", "sh", "-c", "touch /tmp/ok; exec sleep 4243301"]);
    env.rpod_ok(&args);
}

#[test]
fn a_failing_check_turns_unhealthy_after_retries_and_back() {
    let env = env_with_alpine("hcflip");
    let _r = Reaper(&env);
    run_toggled(&env, "hc", "1s", &[]);
    // inspect shows the configuration as podman does.
    assert_eq!(
        field(&env, "hc", "{{.Config.Healthcheck.Test}}"),
        "[CMD-SHELL test -e /tmp/ok]"
    );
    assert_eq!(
        field(&env, "hc", "{{.Config.Healthcheck.Interval}}"),
        "1000000000"
    );
    assert_eq!(field(&env, "hc", "{{.Config.Healthcheck.Retries}}"), "2");
    assert_eq!(
        field(&env, "hc", "{{.Config.HealthcheckOnFailureAction}}"),
        "none"
    );
    // The monitor runs the check: healthy without anyone asking.
    assert!(
        eventually(30, || health(&env, "hc") == "healthy"),
        "status {}",
        health(&env, "hc")
    );
    let ps = env.rpod_ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        ps.trim().starts_with("hc Up ") && ps.trim().ends_with("(healthy)"),
        "{ps}"
    );
    let ps = env.rpod_ok(&["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]);
    assert_eq!(ps.trim(), "hc");
    let ps = env.rpod_ok(&[
        "ps",
        "--filter",
        "health=unhealthy",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.trim(), "");
    // Break it: one failure is a streak of 1 (still healthy), two unhealthy.
    env.rpod_ok(&["exec", "hc", "rm", "/tmp/ok"]);
    assert!(
        eventually(30, || health(&env, "hc") == "unhealthy"),
        "status {}",
        health(&env, "hc")
    );
    assert!(streak(&env, "hc") >= 2);
    let ps = env.rpod_ok(&[
        "ps",
        "--filter",
        "health=unhealthy",
        "--format",
        "{{.Status}}",
    ]);
    assert!(ps.trim().ends_with("(unhealthy)"), "{ps}");
    // The log holds at most 5 runs, with podman's keys.
    let log = field(&env, "hc", "{{json .State.Health.Log}}");
    let v: serde_json::Value = serde_json::from_str(&log).unwrap();
    let runs = v.as_array().unwrap();
    assert!(!runs.is_empty() && runs.len() <= 5, "{log}");
    let last = runs.last().unwrap();
    assert_eq!(last["ExitCode"], 1, "{log}");
    assert!(last["Start"].as_str().unwrap().contains('T'));
    assert!(last["End"].as_str().is_some() && last["Output"].is_string());
    // podman 4.3's other name for it.
    assert_eq!(
        field(&env, "hc", "{{.State.Healthcheck.Status}}"),
        "unhealthy"
    );
    // Fixed: healthy again at the next run, streak 0.
    env.rpod_ok(&["exec", "hc", "touch", "/tmp/ok"]);
    assert!(eventually(30, || health(&env, "hc") == "healthy"));
    assert_eq!(streak(&env, "hc"), 0);
    // health_status events, with the status.
    let ev = env.rpod_ok(&[
        "events",
        "--since",
        "5m",
        "--stream=false",
        "--filter",
        "event=health_status",
        "--format",
        "{{.Name}} {{.Status}} {{.HealthStatus}}",
    ]);
    assert!(ev.contains("hc health_status unhealthy"), "{ev}");
    assert!(ev.contains("hc health_status healthy"), "{ev}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "hc"]);
    assert_clean(&env, &["4243301"]);
}

#[test]
fn healthcheck_run_exits_0_healthy_1_unhealthy() {
    let env = env_with_alpine("hcrun");
    let _r = Reaper(&env);
    // No schedule: only `healthcheck run` runs it.
    run_toggled(&env, "hr", "disable", &[]);
    assert_eq!(field(&env, "hr", "{{.Config.Healthcheck.Interval}}"), "0");
    assert_eq!(health(&env, "hr"), "starting");
    let ok = env.rpod_ok(&["healthcheck", "run", "hr"]);
    assert_eq!(ok, "", "podman prints nothing for a pass");
    assert_eq!(health(&env, "hr"), "healthy");
    env.rpod_ok(&["exec", "hr", "rm", "/tmp/ok"]);
    let (code, _) = env.rpod_fail(&["healthcheck", "run", "hr"]);
    assert_eq!(code, 1);
    let o = env.rpod(&["healthcheck", "run", "hr"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o).trim(), "unhealthy");
    assert_eq!(health(&env, "hr"), "unhealthy");
    assert_eq!(streak(&env, "hr"), 2);
    // Nothing ran it meanwhile: exactly the three runs are logged.
    let n = field(&env, "hr", "{{len .State.Health.Log}}");
    assert_eq!(n, "3");
    // A container without a check, and one that is not running: 125.
    env.rpod_ok(&["run", "-d", "--name", "plain", "alpine", "sleep", "4243302"]);
    let (code, e) = env.rpod_fail(&["healthcheck", "run", "plain"]);
    assert_eq!(code, 125);
    assert!(e.contains("has no defined healthcheck"), "{e}");
    env.rpod_ok(&["stop", "-t", "0", "hr"]);
    let (code, e) = env.rpod_fail(&["healthcheck", "run", "hr"]);
    assert_eq!(code, 125);
    assert!(e.contains("not running"), "{e}");
    let (code, e) = env.rpod_fail(&["healthcheck", "run", "nosuch"]);
    assert_eq!(code, 125);
    assert!(e.contains("no such container"), "{e}");
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4243301", "4243302"]);
}

#[test]
fn a_check_that_hangs_is_killed_at_its_timeout() {
    let env = env_with_alpine("hcto");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "to",
        "--health-cmd",
        "sleep 4243303",
        "--health-interval",
        "disable",
        "--health-timeout",
        "1s",
        "alpine",
        "sleep",
        "4243304",
    ]);
    let t = std::time::Instant::now();
    let o = env.rpod(&["healthcheck", "run", "to"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(t.elapsed().as_secs() < 20);
    let log = field(&env, "to", "{{json .State.Health.Log}}");
    assert!(log.contains("exceeded timeout of 1s"), "{log}");
    assert!(log.contains("\"ExitCode\":-1"), "{log}");
    // The check's process is gone, not left in the container.
    assert!(eventually(10, || procs_with("sleep 4243303").is_empty()));
    env.rpod_ok(&["rm", "-f", "-t", "0", "to"]);
    assert_clean(&env, &["4243303", "4243304"]);
}

#[test]
fn flags_are_checked_and_none_removes_the_check() {
    let env = env_with_alpine("hcflags");
    let (code, e) = env.rpod_fail(&[
        "create",
        "--health-cmd",
        "true",
        "--health-interval",
        "10ms",
        "alpine",
    ]);
    assert_eq!(code, 125);
    assert!(e.contains("at least 1 second"), "{e}");
    let (_, e) = env.rpod_fail(&[
        "create",
        "--health-cmd",
        "true",
        "--health-on-failure",
        "explode",
        "alpine",
    ]);
    assert!(e.contains("invalid on-failure action"), "{e}");
    let (_, e) = env.rpod_fail(&[
        "create",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        "alpine",
    ]);
    assert!(e.contains("--no-healthcheck"), "{e}");
    env.rpod_ok(&["create", "--name", "n", "--health-cmd", "none", "alpine"]);
    let cfg = field(&env, "n", "{{json .Config}}");
    assert!(!cfg.contains("Healthcheck"), "{cfg}");
    // The exec form, and podman's defaults.
    env.rpod_ok(&[
        "create",
        "--name",
        "j",
        "--health-cmd",
        r#"["ls","/"]"#,
        "alpine",
    ]);
    assert_eq!(
        field(&env, "j", "{{.Config.Healthcheck.Test}}"),
        "[CMD ls /]"
    );
    assert_eq!(
        field(&env, "j", "{{.Config.Healthcheck.Timeout}}"),
        "30000000000"
    );
    assert_eq!(field(&env, "j", "{{.Config.Healthcheck.Retries}}"), "3");
    let ps = env.rpod_ok(&[
        "ps",
        "-a",
        "--filter",
        "health=none",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.trim(), "n");
    env.rpod_ok(&["rm", "-a"]);
}

/// `--health-on-failure ACTION` on a check that always fails.
fn run_failing(env: &Env, name: &str, action: &str, marker: &str) {
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--health-cmd",
        "exit 1",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--health-on-failure",
        action,
        "--stop-timeout",
        "1",
        "alpine",
        "sleep",
        marker,
    ]);
    assert_eq!(
        field(env, name, "{{.Config.HealthcheckOnFailureAction}}"),
        action
    );
}

#[test]
fn on_failure_kill_and_stop_end_an_unhealthy_container() {
    let env = env_with_alpine("hckill");
    let _r = Reaper(&env);
    run_failing(&env, "k", "kill", "4243311");
    run_failing(&env, "s", "stop", "4243312");
    let exited = |c: &str| field(&env, c, "{{.State.Status}}") == "exited";
    assert!(eventually(60, || exited("k") && exited("s")));
    // kill: SIGKILL; stop: the stop signal (sleep as PID 1 ignores
    // SIGTERM), then SIGKILL after the stop timeout (1 s).
    assert_eq!(field(&env, "k", "{{.State.ExitCode}}"), "137");
    assert!(procs_with("sleep 4243311").is_empty());
    assert_eq!(health(&env, "k"), "unhealthy");
    let ev = env.rpod_ok(&[
        "events",
        "--since",
        "5m",
        "--stream=false",
        "--filter",
        "container=k",
        "--format",
        "{{.Status}}",
    ]);
    let ev: Vec<&str> = ev.lines().collect();
    let unhealthy = ev.iter().position(|e| *e == "health_status").unwrap();
    let kill = ev.iter().position(|e| *e == "kill").unwrap();
    let died = ev.iter().position(|e| *e == "died").unwrap();
    assert!(unhealthy < kill && kill < died, "{ev:?}");
    // Stopped: no more checks run (the log stops growing).
    let n = field(&env, "k", "{{len .State.Health.Log}}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(field(&env, "k", "{{len .State.Health.Log}}"), n);
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4243311", "4243312"]);
}

#[test]
fn on_failure_restart_restarts_an_unhealthy_container() {
    let env = env_with_alpine("hcrest");
    let _r = Reaper(&env);
    let started = |c: &str| field(&env, c, "{{.State.StartedAt}}");
    run_failing(&env, "r", "restart", "4243313");
    let first = started("r");
    // podman's restart: a stop (SIGKILL after the timeout) and a start.
    assert!(
        eventually(90, || started("r") != first
            && field(&env, "r", "{{.State.Status}}") == "running"),
        "status {} started {}",
        field(&env, "r", "{{.State.Status}}"),
        started("r")
    );
    let ev = env.rpod_ok(&[
        "events",
        "--since",
        "5m",
        "--stream=false",
        "--filter",
        "container=r",
        "--format",
        "{{.Status}}",
    ]);
    assert!(ev.lines().filter(|l| *l == "start").count() >= 2, "{ev}");
    assert!(ev.lines().any(|l| l == "restart"), "{ev}");
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4243313"]);
}

#[test]
fn the_monitor_writes_a_restart_event_when_the_policy_restarts() {
    let env = env_with_alpine("hcrsev");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "p",
        "--restart",
        "on-failure:1",
        "alpine",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert!(eventually(60, || field(&env, "p", "{{.RestartCount}}")
        == "1"
        && field(&env, "p", "{{.State.Status}}") == "exited"));
    let ev = env.rpod_ok(&[
        "events",
        "--since",
        "5m",
        "--stream=false",
        "--filter",
        "container=p",
        "--format",
        "{{.Status}}",
    ]);
    let ev: Vec<&str> = ev.lines().collect();
    // podman's sequence: died, (cleanup), restart, init, start, …
    let r = ev
        .iter()
        .position(|e| *e == "restart")
        .expect("a restart event");
    assert_eq!(ev.iter().filter(|e| **e == "restart").count(), 1, "{ev:?}");
    assert!(ev[..r].contains(&"died"), "{ev:?}");
    assert_eq!(&ev[r + 1..r + 3], &["init", "start"], "{ev:?}");
    env.rpod_ok(&["rm", "-a"]);
    assert_clean(&env, &[]);
}

/// `rpod restart` by the user: podman 4.3 writes restart, died, cleanup,
/// init, start (restartWithTimeout's event comes before the stop).
#[test]
fn a_restart_by_the_user_writes_podmans_event_sequence() {
    let env = env_with_alpine("hcursev");
    let _r = Reaper(&env);
    env.rpod_ok(&["run", "-d", "--name", "u", "alpine", "sleep", "4243319"]);
    env.rpod_ok(&["restart", "-t", "0", "u"]);
    assert_eq!(field(&env, "u", "{{.State.Status}}"), "running");
    let ev = env.rpod_ok(&[
        "events",
        "--since",
        "5m",
        "--stream=false",
        "--filter",
        "container=u",
        "--format",
        "{{.Status}}",
    ]);
    let ev: Vec<&str> = ev.lines().collect();
    let r = ev
        .iter()
        .position(|e| *e == "restart")
        .expect("a restart event");
    assert_eq!(ev.iter().filter(|e| **e == "restart").count(), 1, "{ev:?}");
    assert_eq!(&ev[..r], &["create", "init", "start"], "{ev:?}");
    assert_eq!(
        &ev[r..],
        &["restart", "died", "cleanup", "init", "start"],
        "{ev:?}"
    );
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4243319"]);
}

#[test]
fn the_image_healthcheck_is_used_and_tuned_by_flags() {
    let img = push_image(
        "healthcheck",
        r#"config["Healthcheck"] = {"Test": ["CMD-SHELL", "echo image-check; exit 0"], "Interval": 1000000000, "Retries": 4}"#,
    );
    let env = env_with_alpine("hcimg");
    let _r = Reaper(&env);
    env.rpod_ok(&["run", "-d", "--name", "i", &img, "sleep", "4243321"]);
    assert_eq!(
        field(&env, "i", "{{.Config.Healthcheck.Test}}"),
        "[CMD-SHELL echo image-check; exit 0]"
    );
    assert_eq!(field(&env, "i", "{{.Config.Healthcheck.Retries}}"), "4");
    // Docker's 0 is the default: podman's 30s timeout.
    assert_eq!(
        field(&env, "i", "{{.Config.Healthcheck.Timeout}}"),
        "30000000000"
    );
    assert!(eventually(30, || health(&env, "i") == "healthy"));
    let log = field(&env, "i", "{{json .State.Health.Log}}");
    assert!(
        log.contains("image-check"),
        "the check's output is logged: {log}"
    );
    // Flags tune it; --no-healthcheck removes it.
    env.rpod_ok(&["create", "--name", "t", "--health-retries", "9", &img]);
    assert_eq!(field(&env, "t", "{{.Config.Healthcheck.Retries}}"), "9");
    env.rpod_ok(&["create", "--name", "n", "--no-healthcheck", &img]);
    let cfg = field(&env, "n", "{{json .Config}}");
    assert!(!cfg.contains("Healthcheck"), "{cfg}");
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4243321"]);
}

/// (fd count, VmRSS in kB) of a process. The fd count is the least of a
/// few samples: while a check runs, the monitor holds its pipe for a moment.
fn fds_and_rss(pid: &str) -> Option<(usize, u64)> {
    let mut fds = usize::MAX;
    for _ in 0..10 {
        fds = fds.min(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count());
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((fds, rss))
}

/// Zombie processes whose parent is `ppid`.
fn zombies_of(ppid: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.first() == Some(&"Z") && f.get(1) == Some(&ppid)
        })
        .count()
}

/// 20 containers with 1 s healthchecks (half of them also restarting by
/// their policy every few seconds) for RPOD_SOAK_SECS (default 45; the
/// issue's 10 minutes is RPOD_SOAK_SECS=600): the monitors of the ones that
/// keep running hold the same fds and their memory stays flat, no zombie
/// piles up, checks keep running, and nothing is left after `rm -af`.
#[test]
fn soak_twenty_containers_with_healthchecks_leak_nothing() {
    let secs: u64 = std::env::var("RPOD_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(45);
    let env = env_with_alpine("hcsoak");
    let _r = Reaper(&env);
    for i in 0..20 {
        let name = format!("s{i}");
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--health-cmd",
            "test -e /tmp/ok || ls /nonexistent",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
        ];
        if i % 2 == 0 {
            // Long-running; its check flips every few seconds.
            args.extend_from_slice(&[
                "alpine",
                "sh",
                "-c",
                "while :; do touch /tmp/ok; sleep 3; rm /tmp/ok; sleep 3; done # 4243331",
            ]);
        } else {
            args.extend_from_slice(&[
                "--restart",
                "always",
                "alpine",
                "sh",
                "-c",
                "sleep 4; exit 1 # 4243332",
            ]);
        }
        env.rpod_ok(&args);
    }
    let steady: Vec<String> = (0..20).step_by(2).map(|i| format!("s{i}")).collect();
    let monitors: Vec<String> = steady
        .iter()
        .map(|n| field(&env, n, "{{.State.ConmonPid}}"))
        .collect();
    // Past the start: a few checks have run.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let first: Vec<(usize, u64)> = monitors
        .iter()
        .map(|p| fds_and_rss(p).expect("monitor alive"))
        .collect();
    let log_runs = |n: &str| field(&env, n, "{{len .State.Health.Log}}");
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut max_zombies = 0;
    let mut max_checks = 0;
    while std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_secs(5));
        let z: usize = monitors.iter().map(|p| zombies_of(p)).sum();
        max_zombies = max_zombies.max(z);
        max_checks = max_checks.max(procs_with("__healthcheck").len());
    }
    let last: Vec<(usize, u64)> = monitors
        .iter()
        .map(|p| fds_and_rss(p).expect("monitor still alive"))
        .collect();
    let rss_first: u64 = first.iter().map(|f| f.1).sum();
    let rss_last: u64 = last.iter().map(|f| f.1).sum();
    eprintln!(
        "soak {secs}s: 10 steady monitors fds {:?} -> {:?}, RSS total {rss_first} kB -> {rss_last} kB; \
         at most {max_checks} checks in flight, {max_zombies} zombies",
        first.iter().map(|f| f.0).collect::<Vec<_>>(),
        last.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    for (i, (a, b)) in first.iter().zip(&last).enumerate() {
        assert_eq!(a.0, b.0, "monitor of {} changed its fd count", steady[i]);
        assert!(
            b.1 <= a.1 + 512,
            "monitor of {} grew from {} kB to {} kB",
            steady[i],
            a.1,
            b.1
        );
    }
    // Checks are short-lived: never more in flight than containers, no pile of zombies.
    assert!(max_checks <= 20, "{max_checks} healthchecks at once");
    assert!(max_zombies <= 3, "{max_zombies} zombies under the monitors");
    // The checks kept running, and flipped the status both ways.
    for n in &steady {
        assert_eq!(log_runs(n), "5", "{n}: the log is full and capped");
        assert_eq!(field(&env, n, "{{.State.Status}}"), "running");
    }
    let ev = env.rpod_ok(&[
        "events",
        "--since",
        "10m",
        "--stream=false",
        "--filter",
        "container=s0",
        "--format",
        "{{.HealthStatus}}",
    ]);
    assert!(ev.contains("unhealthy") && ev.contains("healthy\n"), "{ev}");
    // The restarting half was restarted by the monitor.
    let r: u32 = field(&env, "s1", "{{.RestartCount}}").parse().unwrap();
    assert!(r >= 1, "s1 restarted {r} times");
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    // Its own check processes are in leftover_processes (they carry this
    // env's XDG_RUNTIME_DIR); a global "__healthcheck" marker would also
    // match the other health tests' checks running in parallel.
    assert_clean(&env, &["4243331", "4243332"]);
}

/// The monitor's pid from the container's state file.
fn monitor_pid(env: &Env, ctr: &str) -> i32 {
    let id = field(env, ctr, "{{.Id}}");
    let st = std::fs::read_to_string(
        store_root(env)
            .join("containers")
            .join(&id)
            .join("state.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&st).unwrap();
    v["monitor_pid"].as_i64().unwrap() as i32
}

fn kill9(pid: i32) {
    assert!(pid > 0, "no monitor pid");
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -9 {pid}");
}

/// kill -9 of the monitor while a healthcheck runs: the container's init
/// lives on ("running", truthfully), the check in flight ends, and once the
/// init dies `ps` says "Exited" with no health status stuck on it.
#[test]
fn a_monitor_killed_during_a_healthcheck_leaves_a_truthful_state() {
    let env = env_with_alpine("hckill");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "h",
        "--health-cmd",
        "sleep 2; true 4243341",
        "--health-interval",
        "1s",
        "alpine",
        "sleep",
        "4243342",
    ]);
    assert!(
        eventually(60, || !procs_with("4243341").is_empty()),
        "no check ran"
    );
    kill9(monitor_pid(&env, "h"));
    assert_eq!(field(&env, "h", "{{.State.Status}}"), "running");
    // The check in flight ends and no other one is left behind.
    assert!(
        eventually(20, || procs_with("4243341").is_empty()),
        "{:?}",
        procs_with("4243341")
    );
    let s = health(&env, "h");
    assert_eq!(s, "healthy", "the check in flight was not recorded");
    for p in procs_with("4243342") {
        let pid: i32 = p.split(':').next().unwrap().parse().unwrap();
        kill9(pid);
    }
    assert!(
        eventually(10, || field(&env, "h", "{{.State.Status}}") == "exited"),
        "{}",
        field(&env, "h", "{{json .State}}")
    );
    let ps = env.rpod_ok(&["ps", "-a", "--filter", "name=h", "--format", "{{.Status}}"]);
    assert!(ps.starts_with("Exited"), "{ps}");
    assert!(!ps.contains("starting") && !ps.contains("healthy"), "{ps}");
    let ps = env.rpod_ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(ps.trim(), "");
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4243341", "4243342"]);
}

/// `--sdnotify=healthy`: the monitor sends MAINPID at the start and READY=1
/// only once the first check passes; without a healthcheck it is refused.
#[test]
fn sdnotify_healthy_sends_ready_at_the_first_healthy_check() {
    use std::os::unix::fs::PermissionsExt;
    let mut env = env_with_alpine("hcsdnot");
    let sock = env.dir.join("notify.sock");
    let srv = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    srv.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    env.set_env("NOTIFY_SOCKET", sock.to_str().unwrap());
    let _r = Reaper(&env);
    let (_, e) = env.rpod_fail(&["create", "--sdnotify=healthy", "alpine", "true"]);
    assert!(
        e.contains("sdnotify policy \"healthy\" requires a healthcheck to be set"),
        "{e}"
    );
    env.rpod_ok(&[
        "run",
        "-d",
        "--sdnotify=healthy",
        "--name",
        "sh",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "1s",
        "alpine",
        "sh",
        "-c",
        "sleep 3; touch /tmp/ok; exec sleep 4243323",
    ]);
    assert_eq!(field(&env, "sh", "{{.Config.sdNotifyMode}}"), "healthy");
    let mut buf = [0u8; 256];
    let recv = |buf: &mut [u8]| {
        let n = srv.recv(buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = recv(&mut buf);
    let monitor = field(&env, "sh", "{{.State.ConmonPid}}");
    assert_eq!(
        first,
        format!("MAINPID={monitor}\n"),
        "READY before healthy"
    );
    let ready = recv(&mut buf);
    assert!(ready.contains("READY=1"), "{ready}");
    assert!(ready.contains(&format!("MAINPID={monitor}")), "{ready}");
    assert_eq!(health(&env, "sh"), "healthy");
    // The check keeps passing: no second READY.
    srv.set_read_timeout(Some(std::time::Duration::from_secs(3)))
        .unwrap();
    assert!(srv.recv(&mut buf).is_err(), "a second notification");
    env.rpod_ok(&["rm", "-f", "-t", "0", "sh"]);
    assert_clean(&env, &["4243323"]);
}
