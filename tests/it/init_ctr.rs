//! A pod's init containers (`create --pod P --init-ctr always|once`): `pod
//! start` runs them after the infra, in order, each to completion, before
//! the other members; `once` ones go after they succeeded; a failure ends
//! the pod start. The texts and exit codes were taken from rootless podman
//! 4.3.1 on this machine.

use crate::common::*;

fn names(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .rpod_ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        .lines()
        .filter(|l| !l.contains("-infra"))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn pod_start_runs_init_containers_first_in_order_and_once_only_once() {
    let env = env_with_alpine("initctr");
    env.rpod_ok(&["pod", "create", "--name", "pd"]);
    // Each appends to a shared volume: the order is visible there. The
    // regular member records what it found when it started.
    env.rpod_ok(&[
        "create",
        "--pod",
        "pd",
        "--init-ctr",
        "once",
        "--name",
        "i1",
        "-v",
        "vol:/v",
        "alpine",
        "sh",
        "-c",
        "echo once >> /v/log",
    ]);
    env.rpod_ok(&[
        "create",
        "--pod",
        "pd",
        "--init-ctr",
        "always",
        "--name",
        "i2",
        "-v",
        "vol:/v",
        "alpine",
        "sh",
        "-c",
        "sleep 1; echo always >> /v/log",
    ]);
    env.rpod_ok(&[
        "create",
        "--pod",
        "pd",
        "--name",
        "m",
        "--stop-signal",
        "KILL",
        "-v",
        "vol:/v",
        "alpine",
        "sh",
        "-c",
        "echo member >> /v/log; exec sleep 4242903",
    ]);
    let pod_id = env.rpod_ok(&["pod", "inspect", "--format", "{{.Id}}", "pd"]);
    assert_eq!(env.rpod_ok(&["pod", "start", "pd"]), pod_id);
    // The once container is gone; the always one exited 0; the member runs.
    assert_eq!(names(&env), ["i2 exited", "m running"]);
    assert_eq!(field(&env, "i2", "{{.State.ExitCode}}"), "0");
    let log = || env.rpod_ok(&["exec", "m", "cat", "/v/log"]);
    assert_eq!(log(), "once\nalways\nmember\n");
    // Again: only the always one runs before the member.
    env.rpod_ok(&["pod", "stop", "-t", "0", "pd"]);
    env.rpod_ok(&["pod", "start", "pd"]);
    assert!(
        eventually(10, || log() == "once\nalways\nmember\nalways\nmember\n"),
        "{}",
        log()
    );
    // A running pod takes no new init container (podman's text, 125).
    let (code, err) = env.rpod_fail(&[
        "create",
        "--pod",
        "pd",
        "--init-ctr",
        "always",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(
        err.contains("cannot add init-ctr to a running pod"),
        "{err}"
    );
    // pod restart runs no init containers, as podman's.
    env.rpod_ok(&["pod", "restart", "pd"]);
    assert!(
        eventually(10, || log().ends_with("always\nmember\nmember\n")),
        "{}",
        log()
    );
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "pd"]);
    assert_clean(&env, &["4242903"]);
}

#[test]
fn a_failing_init_container_fails_the_pod_start() {
    let env = env_with_alpine("initctrf");
    env.rpod_ok(&["pod", "create", "--name", "pf"]);
    let bad = env.rpod_ok(&[
        "create",
        "--pod",
        "pf",
        "--init-ctr",
        "once",
        "--name",
        "bad",
        "alpine",
        "sh",
        "-c",
        "exit 4",
    ]);
    env.rpod_ok(&[
        "create", "--pod", "pf", "--name", "m", "alpine", "sleep", "4242904",
    ]);
    let (code, err) = env.rpod_fail(&["pod", "start", "pf"]);
    assert_eq!(code, 125);
    assert!(
        err.contains(&format!("init container {} exited with code 4", bad.trim())),
        "{err}"
    );
    // The member did not start; the failed once container stays.
    assert_eq!(names(&env), ["bad exited", "m created"]);
    assert!(procs_with("4242904").is_empty());
    // A started-by-hand once container runs as any container and stays.
    env.rpod_ok(&["start", "bad"]);
    assert_eq!(env.rpod_ok(&["wait", "bad"]), "4\n");
    assert!(names(&env).contains(&"bad exited".to_string()));
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "pf"]);
    assert_clean(&env, &["4242904"]);
}

#[test]
fn init_ctr_flag_checks_as_podman() {
    let env = env_with_alpine("initctrc");
    let (code, err) = env.rpod_fail(&["create", "--init-ctr", "always", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("must specify pod value with init-ctr"),
        "{err}"
    );
    env.rpod_ok(&["pod", "create", "--name", "pc"]);
    let (code, err) = env.rpod_fail(&[
        "create",
        "--pod",
        "pc",
        "--init-ctr",
        "sometimes",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(
        err.contains("init-ctr value must be 'always' or 'once'"),
        "{err}"
    );
    env.rpod_ok(&["pod", "rm", "-f", "pc"]);
}
