//! `ps`, `logs`, `start`, `stop`, `rm` and `inspect` flags of podman 4.3
//! (issue 12): --latest, --filter since/before, --sort, stop/rm --filter,
//! logs --names/--color, as the unprivileged user.

use crate::common::*;

#[test]
fn ps_sort_filters_and_latest_everywhere() {
    let env = env_with_alpine("psflags");
    let _reaper = Reaper(&env);
    for n in ["b1", "a2", "c3"] {
        env.rpod_ok(&[
            "create",
            "--name",
            n,
            "--label",
            &format!("k={n}"),
            "alpine",
            "sh",
            "-c",
            &format!("echo out-{n}; echo err-{n} >&2"),
        ]);
    }
    let names = |args: &[&str]| -> String {
        let mut a = vec!["ps", "-a", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        env.rpod_ok(&a)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Newest first by default, as podman; --sort names.
    assert_eq!(names(&[]), "c3 a2 b1");
    assert_eq!(names(&["--sort", "names"]), "a2 b1 c3");
    assert_eq!(names(&["--sort", "runningfor"]), "b1 a2 c3");
    let (code, _) = env.rpod_fail(&["ps", "--sort", "bogus"]);
    assert_eq!(code, 125); // a usage error: podman 4.3.1 exits 125
                           // since= / before= a container.
    assert_eq!(names(&["--filter", "since=b1"]), "c3 a2");
    assert_eq!(names(&["--filter", "before=a2"]), "b1");
    assert_eq!(names(&["--external", "--sync"]), "c3 a2 b1");
    // --latest: the newest (c3) for start, logs, inspect, stop, rm.
    assert_eq!(
        env.rpod_ok(&["inspect", "-l", "--format", "{{.Name}}"])
            .trim(),
        "c3"
    );
    assert_eq!(
        env.rpod_ok(&["container", "inspect", "-l", "--format", "{{.Name}}"])
            .trim(),
        "c3"
    );
    env.rpod_ok(&["start", "-l"]);
    env.rpod_ok(&["start", "b1"]);
    assert!(eventually(10, || env
        .rpod_ok(&["ps", "-a", "--filter", "status=exited", "-q"])
        .lines()
        .count()
        == 2));
    assert!(eventually(10, || env.rpod_ok(&["logs", "c3"]) == "out-c3\n"));
    assert_eq!(env.rpod_ok(&["logs", "--latest"]), "out-c3\n");
    let o = env.rpod(&["logs", "--names", "b1", "c3"]);
    assert_eq!(out(&o), "b1 out-b1\nc3 out-c3\n");
    assert_eq!(err(&o), "b1 err-b1\nc3 err-c3\n");
    let o = env.rpod_ok(&["logs", "--color", "--names", "b1", "c3"]);
    assert_eq!(o, "\x1b[37mb1 out-b1\x1b[0m\n\x1b[32mc3 out-c3\x1b[0m\n");
    let (code, e) = env.rpod_fail(&["logs", "-l", "b1"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("--latest and containers cannot be used together"),
        "{e}"
    );
    // stop/rm --filter, rm --latest.
    env.rpod_ok(&["stop", "--filter", "label=k=a2"]);
    let a2 = field(&env, "a2", "{{.Id}}");
    let rm = env.rpod_ok(&["rm", "--filter", "label=k=a2"]);
    assert_eq!(rm.trim(), a2);
    assert_eq!(names(&[]), "c3 b1");
    // A filter that matches nothing is nothing to do, as in podman: exit 0,
    // silent (rpod-restart.service's ExecStop relies on it).
    assert_eq!(env.rpod_ok(&["rm", "--filter", "label=k=nope"]), "");
    assert_eq!(env.rpod_ok(&["stop", "--filter", "label=k=nope"]), "");
    env.rpod_ok(&["rm", "-l"]);
    assert_eq!(names(&[]), "b1");
    env.rpod_ok(&["rm", "b1"]);
    let (code, e) = env.rpod_fail(&["stop", "-l"]);
    assert_eq!(code, 125);
    assert!(e.contains("no containers"), "{e}");
    assert_clean(&env, &[]);
}
