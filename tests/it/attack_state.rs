//! Container state under the container's lock (issue 9, class 5): racing
//! `start`, `stop`, `kill` and `rm` end in one consistent state: at most one
//! monitor, and a state.json that agrees with the processes there are.
//! Every race is a bounded number of rounds of a few processes each.

use crate::common::*;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(c: Child) -> Output {
    c.wait_with_output().unwrap()
}

/// The monitor processes of container `id` (`rpod __monitor ID` while it
/// sets up, `rpod-monitor … id=ID` after).
fn monitors(id: &str) -> Vec<String> {
    procs_with(id)
        .into_iter()
        .filter(|p| p.contains("monitor"))
        .collect()
}

/// `status` from the container's state.json ("" once it is removed).
fn state_on_disk(env: &Env, id: &str) -> String {
    let p = store_root(env)
        .join("containers")
        .join(id)
        .join("state.json");
    match std::fs::read(&p) {
        Ok(b) => {
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            v["status"].as_str().unwrap().to_string()
        }
        Err(_) => String::new(),
    }
}

fn exists(env: &Env, name: &str) -> bool {
    env.rpod(&["container", "inspect", name]).status.success()
}

/// The container runs exactly once: one monitor, one process of the
/// program (`marker`), and both the CLI and state.json say running.
fn assert_runs_once(env: &Env, name: &str, id: &str, marker: &str) {
    assert!(
        eventually(5, || monitors(id).len() == 1),
        "monitors: {:?}",
        monitors(id)
    );
    assert_eq!(procs_with(marker).len(), 1, "{:?}", procs_with(marker));
    assert_eq!(field(env, name, "{{.State.Status}}"), "running");
    assert_eq!(state_on_disk(env, id), "running");
}

/// The container does not run: no monitor, no program, and neither the CLI
/// nor state.json claims it does.
fn assert_not_running(env: &Env, name: &str, id: &str, marker: &str) {
    // The monitor's exec of `__monitor-finish` has a moment with an empty
    // cmdline, so "no monitor" alone can be seen before the exit is written.
    let stopped = |d: &str| d == "exited" || d == "created";
    assert!(
        eventually(10, || monitors(id).is_empty()
            && procs_with(marker).is_empty()
            && stopped(&state_on_disk(env, id))),
        "left: {:?} {:?}",
        monitors(id),
        procs_with(marker)
    );
    let disk = state_on_disk(env, id);
    assert!(
        disk == "exited" || disk == "created",
        "state.json says {disk}"
    );
    let st = field(env, name, "{{.State.Status}}");
    assert!(st == "exited" || st == "created", "inspect says {st}");
}

#[test]
fn eight_concurrent_starts_make_one_monitor() {
    let env = env_with_alpine("st-8starts");
    let _reaper = Reaper(&env);
    for round in 0..3 {
        let name = format!("c{round}");
        let marker = format!("424290{round}");
        let id = env
            .rpod_ok(&["create", "--name", &name, "alpine", "sleep", &marker])
            .trim()
            .to_string();
        let kids: Vec<_> = (0..8).map(|_| spawn(&env, &["start", &name])).collect();
        let mut printed = 0;
        for o in kids.into_iter().map(finish) {
            assert!(o.status.success(), "a start failed: {}", err(&o));
            match out(&o).as_str() {
                "" => {}
                s => {
                    assert_eq!(s, format!("{name}\n"));
                    printed += 1;
                }
            }
        }
        // podman 4.3.1: the start that started it prints the name; a start
        // of a running container succeeds silently.
        assert_eq!(printed, 1, "exactly one start started it");
        assert_runs_once(&env, &name, &id, &marker);
        // And once more, alone: still a no-op that succeeds.
        assert_eq!(env.rpod_ok(&["start", &name]), "");
        assert_runs_once(&env, &name, &id, &marker);
        env.rpod_ok(&["rm", "-f", "-t", "0", &name]);
    }
    assert_clean(&env, &["4242900", "4242901", "4242902"]);
}

#[test]
fn start_racing_rm_force_leaves_one_consistent_end() {
    let env = env_with_alpine("st-start-rm");
    let _reaper = Reaper(&env);
    let mut outcomes = Vec::new();
    for round in 0..5 {
        let name = format!("r{round}");
        let marker = format!("424291{round}");
        let id = env
            .rpod_ok(&["create", "--name", &name, "alpine", "sleep", &marker])
            .trim()
            .to_string();
        let start = spawn(&env, &["start", &name]);
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_millis(30 * round as u64));
        }
        let rm = finish(spawn(&env, &["rm", "-f", "-t", "0", &name]));
        let start = finish(start);
        assert!(rm.status.success(), "rm -f failed: {}", err(&rm));
        if !start.status.success() {
            assert!(
                err(&start).contains("no such container"),
                "start failed otherwise: {}",
                err(&start)
            );
        }
        if exists(&env, &name) {
            // rm won and start made it again? Not possible: rm -f
            // removes whatever it finds, so a start after it finds nothing.
            assert_runs_once(&env, &name, &id, &marker);
            env.rpod_ok(&["rm", "-f", "-t", "0", &name]);
        }
        assert!(
            eventually(10, || monitors(&id).is_empty()
                && procs_with(&marker).is_empty()),
            "left: {:?} {:?}",
            monitors(&id),
            procs_with(&marker)
        );
        assert_eq!(state_on_disk(&env, &id), "", "state.json outlived rm");
        assert!(!exists(&env, &name));
        outcomes.push(start.status.success());
    }
    eprintln!("start succeeded in rounds: {outcomes:?}");
    assert_clean(&env, &[]);
}

#[test]
fn stop_racing_start_ends_running_once_or_stopped() {
    let env = env_with_alpine("st-stop-start");
    let _reaper = Reaper(&env);
    let marker = "4242920";
    let id = env
        .rpod_ok(&["run", "-d", "--name", "s", "alpine", "sleep", marker])
        .trim()
        .to_string();
    for round in 0..5 {
        // Half the rounds stop first, half start first.
        let (stop, start) = if round % 2 == 0 {
            let stop = spawn(&env, &["stop", "-t", "0", "s"]);
            (stop, spawn(&env, &["start", "s"]))
        } else {
            let start = spawn(&env, &["start", "s"]);
            (spawn(&env, &["stop", "-t", "0", "s"]), start)
        };
        let t = Instant::now();
        let (stop, start) = (finish(stop), finish(start));
        assert!(stop.status.success(), "stop failed: {}", err(&stop));
        assert!(start.status.success(), "start failed: {}", err(&start));
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the race took {:?}",
            t.elapsed()
        );
        if field(&env, "s", "{{.State.Status}}") == "running" {
            assert_runs_once(&env, "s", &id, marker);
        } else {
            assert_not_running(&env, "s", &id, marker);
            env.rpod_ok(&["start", "s"]);
            assert_runs_once(&env, "s", &id, marker);
        }
    }
    env.rpod_ok(&["rm", "-f", "-t", "0", "s"]);
    assert_clean(&env, &[marker]);
}

#[test]
fn kill_while_start_runs_kills_it_or_finds_it_not_running() {
    let env = env_with_alpine("st-kill-start");
    let _reaper = Reaper(&env);
    for round in 0..5 {
        let name = format!("k{round}");
        let marker = format!("424293{round}");
        let id = env
            .rpod_ok(&["create", "--name", &name, "alpine", "sleep", &marker])
            .trim()
            .to_string();
        let start = spawn(&env, &["start", &name]);
        std::thread::sleep(Duration::from_millis(20 * round as u64));
        let kill = finish(spawn(&env, &["kill", &name]));
        let start = finish(start);
        assert!(start.status.success(), "start failed: {}", err(&start));
        if kill.status.success() {
            // It was killed once it ran: it ends exited, with no process.
            assert_not_running(&env, &name, &id, &marker);
            assert!(eventually(5, || state_on_disk(&env, &id) == "exited"));
            assert_eq!(field(&env, &name, "{{.State.ExitCode}}"), "137");
        } else {
            assert!(
                err(&kill).contains("can only kill running containers"),
                "{}",
                err(&kill)
            );
            assert_eq!(kill.status.code(), Some(125));
            assert_runs_once(&env, &name, &id, &marker);
        }
        env.rpod_ok(&["rm", "-f", "-t", "0", &name]);
    }
    assert_clean(&env, &[]);
}

#[test]
fn a_long_stop_blocks_neither_ps_nor_inspect_nor_kill() {
    let env = env_with_alpine("st-longstop");
    let _reaper = Reaper(&env);
    // A shell as PID 1 ignores SIGTERM: stop waits out its timeout.
    env.rpod_ok(&["run", "-d", "--name", "l", "alpine", "sleep", "4242940"]);
    let stop = spawn(&env, &["stop", "-t", "20", "l"]);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    assert!(env.rpod_ok(&["ps", "-q"]).trim().len() >= 12);
    assert_eq!(field(&env, "l", "{{.State.Status}}"), "running");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // kill takes the lock too: it is not held across stop's wait.
    env.rpod_ok(&["kill", "l"]);
    let o = finish(stop);
    assert!(o.status.success(), "{}", err(&o));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(field(&env, "l", "{{.State.Status}}"), "exited");
    env.rpod_ok(&["rm", "l"]);
    assert_clean(&env, &["4242940"]);
}

#[test]
fn rm_without_force_refuses_a_running_container_like_podman() {
    let env = env_with_alpine("st-rm-running");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["run", "-d", "--name", "u", "alpine", "sleep", "4242950"]);
    let (code, e) = env.rpod_fail(&["rm", "u"]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("container state improper"), "{e}");
    assert_eq!(field(&env, "u", "{{.State.Status}}"), "running");
    env.rpod_ok(&["rm", "-f", "-t", "0", "u"]);
    assert_clean(&env, &["4242950"]);
}

#[test]
fn a_start_that_waits_for_the_lock_says_so_then_starts_once() {
    let env = env_with_alpine("st-lockmsg");
    let _reaper = Reaper(&env);
    let marker = "4242960";
    let id = env
        .rpod_ok(&["create", "--name", "w", "alpine", "sleep", marker])
        .trim()
        .to_string();
    let lock = store_root(&env).join("containers").join(&id).join("lock");
    // Someone else holds the container's lock for a second (as a stop
    // signalling it, or a monitor setting it up, would).
    let script = format!(
        "flock -x {l} sleep 1 & sleep 0.3; rpod start w; echo rc=$?; wait",
        l = lock.display()
    );
    let t = Instant::now();
    let o = env.sh(&script);
    let (so, se) = (out(&o), err(&o));
    assert!(so.contains("w\nrc=0"), "stdout: {so}\nstderr: {se}");
    assert!(
        se.contains(&format!("waiting for lock on {}", lock.display())),
        "{se}"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_runs_once(&env, "w", &id, marker);
    // kill takes the same lock, and says so too.
    let script = format!(
        "flock -x {l} sleep 0.5 & sleep 0.2; rpod kill w; echo rc=$?; wait",
        l = lock.display()
    );
    let o = env.sh(&script);
    assert!(out(&o).contains("rc=0"), "{}", err(&o));
    assert!(err(&o).contains("waiting for lock on"), "{}", err(&o));
    assert_not_running(&env, "w", &id, marker);
    env.rpod_ok(&["rm", "w"]);
    assert_clean(&env, &[marker]);
}
