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
    args.extend_from_slice(&["alpine", "sh", "-c", "touch /tmp/ok; exec sleep 4242301"]);
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
    assert_clean(&env, &["4242301"]);
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
    env.rpod_ok(&["run", "-d", "--name", "plain", "alpine", "sleep", "4242302"]);
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
    assert_clean(&env, &["4242301", "4242302"]);
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
        "sleep 4242303",
        "--health-interval",
        "disable",
        "--health-timeout",
        "1s",
        "alpine",
        "sleep",
        "4242304",
    ]);
    let t = std::time::Instant::now();
    let o = env.rpod(&["healthcheck", "run", "to"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(t.elapsed().as_secs() < 20);
    let log = field(&env, "to", "{{json .State.Health.Log}}");
    assert!(log.contains("exceeded timeout of 1s"), "{log}");
    assert!(log.contains("\"ExitCode\":-1"), "{log}");
    // The check's process is gone, not left in the container.
    assert!(eventually(10, || procs_with("sleep 4242303").is_empty()));
    env.rpod_ok(&["rm", "-f", "-t", "0", "to"]);
    assert_clean(&env, &["4242303", "4242304"]);
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
