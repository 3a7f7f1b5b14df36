//! `container clone`, `container runlabel`, `container checkpoint/restore`:
//! podman 4.3's behaviour, as the unprivileged user.

use crate::common::*;

#[test]
fn clone_makes_the_container_again_named_clone_and_replaces_resources() {
    let env = env_with_alpine("ctrclone");
    env.rpod_ok(&[
        "create",
        "--name",
        "c1",
        "--label",
        "k=v",
        "--env",
        "X=1",
        "alpine",
        "sh",
        "-c",
        "echo hi $X",
    ]);
    let id = env
        .rpod_ok(&["container", "clone", "c1"])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(field(&env, "c1-clone", "{{.Id}}"), id);
    assert_eq!(field(&env, "c1-clone", "{{.State.Status}}"), "created");
    assert_eq!(
        field(&env, "c1-clone", "{{index .Config.Labels \"k\"}}"),
        "v"
    );
    assert!(field(&env, "c1-clone", "{{.Config.Env}}").contains("X=1"));
    // The original is untouched.
    assert_eq!(field(&env, "c1", "{{.State.Status}}"), "created");

    // NAME as argument, a resource flag replacing the original's, --run
    // starts the clone and --destroy removes the original.
    env.rpod_ok(&[
        "create", "--name", "c2", "--memory", "32m", "alpine", "echo", "cloned",
    ]);
    env.rpod_ok(&[
        "container",
        "clone",
        "--memory",
        "64m",
        "--run",
        "--destroy",
        "c2",
        "c3",
    ]);
    assert_eq!(field(&env, "c3", "{{.HostConfig.Memory}}"), "67108864");
    assert!(
        eventually(20, || env.rpod_ok(&["logs", "c3"]).contains("cloned")),
        "{}",
        env.rpod_ok(&["logs", "c3"])
    );
    let (code, e) = env.rpod_fail(&["container", "inspect", "c2"]);
    assert_eq!(code, 125, "{e}");
    env.rpod_ok(&["rm", "-f", "c1", "c1-clone", "c3"]);
}

#[test]
fn clone_of_no_such_container_is_podmans_error() {
    let env = new_env("ctrclonenone");
    let (code, e) = env.rpod_fail(&["container", "clone", "nope"]);
    assert_eq!(code, 125, "{e}");
    assert!(
        e.contains("no container with name or ID \"nope\" found: no such container"),
        "{e}"
    );
}

#[test]
fn checkpoint_and_restore_fail_naming_criu() {
    let env = new_env("ctrcriu");
    for args in [
        &["container", "checkpoint", "x"][..],
        &[
            "container",
            "checkpoint",
            "--all",
            "--leave-running",
            "-c",
            "gzip",
        ][..],
        &["container", "restore", "x"][..],
        &[
            "container",
            "restore",
            "--all",
            "--import",
            "/nonexistent.tar.gz",
        ][..],
    ] {
        let (code, e) = env.rpod_fail(args);
        assert_eq!(code, 125, "{args:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{args:?}: {e}");
        assert!(e.contains("requires CRIU"), "{args:?}: {e}");
    }
}

#[test]
fn runlabel_runs_the_images_label_with_rpod_for_podman() {
    let img = push_image(
        "runlabel",
        r#"config["Labels"] = {"RUN": "podman run --rm IMAGE echo hi NAME", "EMPTY": "", "FAIL": "false"}"#,
    );
    let env = new_env("ctrrunlabel");
    // --display pulls (the image is missing) and prints, running nothing.
    let shown = env.rpod_ok(&["container", "runlabel", "-q", "--display", "RUN", &img]);
    let line = shown.lines().last().unwrap_or_default();
    let want = format!(" run --rm {img} echo hi attack-runlabel");
    // rpod's argv[0] stands for podman, as podman prints its own.
    assert!(line.starts_with("command: "), "{shown}");
    assert!(line.ends_with(&want), "{shown}");
    assert!(!line.contains("podman run"), "{shown}");
    assert!(env.rpod_ok(&["ps", "-aq"]).trim().is_empty());
    // Run: rpod runs the command, ARGs appended, --name for NAME.
    let out = env.rpod_ok(&["container", "runlabel", "--name", "nm", "RUN", &img, "more"]);
    assert!(out.lines().any(|l| l == "hi nm more"), "{out}");
    // --replace removes a container of that name first.
    env.rpod_ok(&["create", "--name", "nm", "alpine", "true"]);
    let out = env.rpod_ok(&[
        "container",
        "runlabel",
        "--replace",
        "--name",
        "nm",
        "RUN",
        &img,
    ]);
    assert!(out.lines().any(|l| l == "hi nm"), "{out}");
    let (code, e) = env.rpod_fail(&["container", "inspect", "nm"]);
    assert_eq!(code, 125, "{e}");
    // The command's exit code is rpod's.
    let (code, e) = env.rpod_fail(&["container", "runlabel", "FAIL", &img]);
    assert_eq!(code, 1, "{e}");
    // A missing or empty label is an error naming it.
    for label in ["NOPE", "EMPTY"] {
        let (code, e) = env.rpod_fail(&["container", "runlabel", label, &img]);
        assert_eq!(code, 125, "{e}");
        assert!(
            e.contains(&format!(
                "cannot find the value of label: {label} in image: {img}"
            )),
            "{e}"
        );
    }
}
