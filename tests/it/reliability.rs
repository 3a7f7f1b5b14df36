//! Reliability and bad input (issue 3): each case ends with `ps`, `rm` and
//! the next `run` still working and nothing left behind: no process, mount,
//! fuse daemon, directory or name.

use crate::common;
use crate::common::*;

/// After a scenario: the tools still work, then everything is gone.
fn still_works_then_clean(env: &common::Env, markers: &[&str]) {
    env.rpod_ok(&["ps", "-a"]);
    let ids = env.rpod_ok(&["ps", "-a", "-q"]);
    for id in ids.split_whitespace() {
        env.rpod_ok(&["rm", "-f", "-t", "0", id]);
    }
    let o = env.rpod(&["run", "--rm", "alpine", "echo", "next"]);
    assert_eq!(out(&o), "next\n", "the next run fails: {}", err(&o));
    assert_clean(env, markers);
}

#[test]
fn sixteen_concurrent_runs_all_succeed() {
    let env = env_with_alpine("conc16");
    let _reaper = Reaper(&env);
    let children: Vec<_> = (0..16)
        .map(|_| {
            env.cmd(&["run", "--rm", "alpine", "true"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "a concurrent run failed: {}", err(&o));
        assert!(!err(&o).contains("lock"), "{}", err(&o));
    }
    assert_clean(&env, &[]);
}

#[test]
fn two_runs_with_one_name_have_one_winner() {
    let env = env_with_alpine("samename");
    let _reaper = Reaper(&env);
    for _ in 0..3 {
        let children: Vec<_> = (0..2)
            .map(|_| {
                env.cmd(&["run", "-d", "--name", "x", "alpine", "sleep", "4242101"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let wins = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(wins, 1, "exactly one of two --name x wins");
        let loser = outs.iter().find(|o| !o.status.success()).unwrap();
        assert_eq!(loser.status.code(), Some(125));
        assert!(
            err(loser).contains("the container name \"x\" is already in use by"),
            "{}",
            err(loser)
        );
        assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]).lines().count(), 1);
        env.rpod_ok(&["rm", "-f", "-t", "0", "x"]);
    }
    still_works_then_clean(&env, &["4242101"]);
}

#[test]
fn rm_force_removes_a_running_container() {
    let env = env_with_alpine("rmforce");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["run", "-d", "--name", "busy", "alpine", "sleep", "4242102"]);
    let (code, e) = env.rpod_fail(&["rm", "busy"]);
    assert_eq!(code, 2, "podman rm exits 2 for a running container");
    assert!(e.contains("cannot remove container"), "{e}");
    let t = std::time::Instant::now();
    let o = env.rpod_ok(&["rm", "-f", "-t", "0", "busy"]);
    assert_eq!(
        o.trim(),
        "busy",
        "rm prints the name as given, as podman 4.3.1: {o}"
    );
    assert!(t.elapsed().as_secs() < 8);
    still_works_then_clean(&env, &["4242102"]);
}

#[test]
fn stop_kills_a_pid1_that_ignores_sigterm_with_137() {
    let env = env_with_alpine("stop137");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "run", "-d", "--name", "stubborn", "alpine", "sleep", "4242103",
    ]);
    let t = std::time::Instant::now();
    let o = env.rpod(&["stop", "-t", "1", "stubborn"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o), "stubborn\n");
    let took = t.elapsed().as_secs_f64();
    assert!((0.9..8.0).contains(&took), "stop took {took}s");
    assert_eq!(field(&env, "stubborn", "{{.State.ExitCode}}"), "137");
    assert_eq!(env.rpod_ok(&["wait", "stubborn"]).trim(), "137");
    let ps = env.rpod_ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(ps.starts_with("Exited (137)"), "{ps}");
    still_works_then_clean(&env, &["4242103"]);
}

#[test]
fn command_not_found_is_127_and_not_executable_is_126() {
    let env = env_with_alpine("e127");
    let _reaper = Reaper(&env);
    let (code, e) = env.rpod_fail(&["run", "--rm", "alpine", "no-such-command"]);
    assert_eq!(code, 127, "{e}");
    assert!(e.contains("no-such-command"), "{e}");
    let (code, e) = env.rpod_fail(&["run", "--rm", "alpine", "/etc/passwd"]);
    assert_eq!(code, 126, "{e}");
    // Detached runs report the same codes.
    let (code, _) = env.rpod_fail(&["run", "-d", "--rm", "alpine", "no-such-command"]);
    assert_eq!(code, 127);
    still_works_then_clean(&env, &[]);
}

#[test]
fn missing_bind_source_is_a_clear_error() {
    let env = env_with_alpine("nobind");
    let _reaper = Reaper(&env);
    let (code, e) = env.rpod_fail(&["run", "--rm", "-v", "/no/such/dir:/data", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("statfs /no/such/dir: no such file or directory"),
        "{e}"
    );
    let (code, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,source=/no/such/file,target=/x",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(e.contains("/no/such/file"), "{e}");
    still_works_then_clean(&env, &[]);
}

#[test]
fn bad_user_is_a_clear_error() {
    let env = env_with_alpine("baduser");
    let _reaper = Reaper(&env);
    let (code, e) = env.rpod_fail(&["run", "--rm", "--user", "nosuchuser", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("nosuchuser"), "{e}");
    let (code, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--user",
        "root:nosuchgroup",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(e.contains("nosuchgroup"), "{e}");
    // Numeric ids need no entry.
    let o = env.rpod_ok(&["run", "--rm", "--user", "1234:5678", "alpine", "id"]);
    assert!(o.contains("uid=1234") && o.contains("gid=5678"), "{o}");
    still_works_then_clean(&env, &[]);
}

#[test]
fn image_without_command_is_refused() {
    let env = new_env("nocmd");
    let _reaper = Reaper(&env);
    let (code, e) = env.rpod_fail(&["run", "--rm", "localhost:5000/nocmd"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("no command or entrypoint provided, and no CMD or ENTRYPOINT from image"),
        "{e}"
    );
    // With a command it runs.
    env.rpod_ok(&["run", "--rm", "localhost:5000/nocmd", "true"]);
    env.rpod_ok(&["pull", "-q", "alpine"]);
    still_works_then_clean(&env, &[]);
}

#[test]
fn init_that_exits_at_once() {
    let env = env_with_alpine("instant");
    let _reaper = Reaper(&env);
    let id = env.rpod_ok(&["run", "-d", "alpine", "true"]);
    let id = id.trim();
    assert_eq!(env.rpod_ok(&["wait", id]).trim(), "0");
    let st = env.rpod_ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(st.starts_with("Exited (0)"), "{st}");
    let id2 = env.rpod_ok(&["run", "-d", "alpine", "sh", "-c", "exit 7"]);
    assert_eq!(env.rpod_ok(&["wait", id2.trim()]).trim(), "7");
    // And it can be started again.
    env.rpod_ok(&["start", id]);
    assert_eq!(env.rpod_ok(&["wait", id]).trim(), "0");
    still_works_then_clean(&env, &[]);
}

fn state_pids(env: &Env, name: &str) -> (i32, i32) {
    let id = field(env, name, "{{.Id}}");
    let st = std::fs::read_to_string(
        store_root(env)
            .join("containers")
            .join(&id)
            .join("state.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&st).unwrap();
    (
        v["monitor_pid"].as_i64().unwrap() as i32,
        v["pid"].as_i64().unwrap() as i32,
    )
}

#[test]
fn monitor_killed_with_9_never_leaves_running_stuck() {
    let env = env_with_alpine("killmon");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "run", "-d", "--name", "orphan", "alpine", "sleep", "4242104",
    ]);
    let (mon, init) = state_pids(&env, "orphan");
    send_signal(mon, 9);
    // The init lives on: still running, truthfully.
    assert!(eventually(5, || field(&env, "orphan", "{{.State.Status}}")
        == "running"));
    send_signal(init, 9);
    assert!(
        eventually(5, || field(&env, "orphan", "{{.State.Status}}") == "exited"),
        "state is stuck at {}",
        field(&env, "orphan", "{{.State.Status}}")
    );
    let ps = env.rpod_ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(ps.starts_with("Exited"), "{ps}");
    // A second container whose monitor dies, removed while running.
    env.rpod_ok(&[
        "run", "-d", "--name", "orphan2", "alpine", "sleep", "4242105",
    ]);
    let (mon, _) = state_pids(&env, "orphan2");
    send_signal(mon, 9);
    env.rpod_ok(&["rm", "-f", "-t", "0", "orphan2"]);
    still_works_then_clean(&env, &["4242104", "4242105"]);
}

#[test]
fn foreground_run_killed_with_9_leaves_the_container_running() {
    let env = env_with_alpine("killrun");
    let _reaper = Reaper(&env);
    let mut child = env
        .cmd(&["run", "--name", "fg", "alpine", "sleep", "4242106"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(10, || !env
        .rpod_ok(&["ps", "-q"])
        .trim()
        .is_empty()));
    // `runuser` is our child; kill the rpod under it.
    let rpod_pid = procs_with("run --name fg alpine sleep 4242106")
        .iter()
        .filter(|p| !p.contains("runuser"))
        .filter(|p| !p.contains(" env "))
        .filter_map(|p| p.split(':').next()?.parse::<i32>().ok())
        .find(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .map(|e| e.to_string_lossy().contains("rpod"))
                .unwrap_or(false)
        })
        .expect("the rpod run process");
    send_signal(rpod_pid, 9);
    let _ = child.wait();
    assert_eq!(field(&env, "fg", "{{.State.Status}}"), "running");
    let ps = env.rpod_ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("fg Up"), "{ps}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "fg"]);
    still_works_then_clean(&env, &["4242106"]);
}

fn send_signal(pid: i32, sig: i32) {
    let st = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}
