//! `exec`'s podman 4.3 flags (issue 12): --latest, --privileged, and the
//! environment/user/workdir ones, as the unprivileged user.

use crate::common::*;

#[test]
fn exec_latest_privileged_env_user_workdir() {
    let env = env_with_alpine("execflags");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["run", "-d", "--name", "old", "alpine", "sleep", "3013"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "new",
        "--cap-drop",
        "ALL",
        "alpine",
        "sleep",
        "3013",
    ]);
    // --latest: the newest container, and the first word is the command.
    assert_eq!(
        env.rpod_ok(&["exec", "-l", "hostname"]).trim(),
        field(&env, "new", "{{.Config.Hostname}}")
    );
    let (code, e) = env.rpod_fail(&["exec", "-l", "new", "true"]);
    assert_eq!(code, 127, "{e}"); // "new" is the command, as podman reads it
    let (code, e) = env.rpod_fail(&["exec", "new"]);
    assert_eq!(code, 125);
    assert!(e.contains("you must provide a command to exec"), "{e}");
    // --privileged raises every capability, over the container's --cap-drop ALL.
    let caps = |args: &[&str]| -> String {
        let mut a = vec!["exec"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["new", "grep", "CapEff", "/proc/self/status"]);
        env.rpod_ok(&a)
    };
    assert!(caps(&[]).contains("0000000000000000"), "{}", caps(&[]));
    let p = caps(&["--privileged"]);
    assert!(!p.contains("0000000000000000"), "{p}");
    // -e, --env-file, -u, -w.
    let f = env.dir.join("e.env");
    std::fs::write(&f, "FROMFILE=1\n").unwrap();
    std::process::Command::new("chmod")
        .args(["644", f.to_str().unwrap()])
        .status()
        .unwrap();
    let o = env.rpod_ok(&[
        "exec",
        "-e",
        "A=b",
        "--env-file",
        f.to_str().unwrap(),
        "-u",
        "nobody",
        "-w",
        "/etc",
        "old",
        "sh",
        "-c",
        "echo $A $FROMFILE; id -un; pwd",
    ]);
    assert_eq!(o, "b 1\nnobody\n/etc\n");
    env.rpod_ok(&["rm", "-f", "-t", "0", "old", "new"]);
    // A marker no other test uses: markers match every process of the user.
    assert_clean(&env, &["sleep 3013"]);
}
