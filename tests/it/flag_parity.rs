//! podman's command-line grammar (cobra/pflag), which rpod lays over its
//! whole clap tree (`cli::pflag`): a scalar flag given twice takes the
//! last value; every bool flag takes an attached value (`--rm=false`,
//! `-t=0`, `--privileged=T`) and never the next word; a usage error exits
//! 125. The expectations were taken from rootless podman 4.3.1 on this
//! machine (`podman create -w /a -w /b --name a --name b
//! --privileged=false --privileged=T -t=false --rm=false --read-only=true
//! -i=0 …` gives b, /b, privileged, no tty, no auto-remove, read-only, no
//! stdin). The unit tests in `cli::pflag` walk every flag of every command.

use crate::common::*;

#[test]
fn a_repeated_scalar_flag_takes_the_last_value() {
    let env = env_with_alpine("fp-last");
    env.rpod_ok(&[
        "create",
        "-w",
        "/a",
        "-w",
        "/b",
        // Not hex: `exists` also takes an id prefix.
        "--name",
        "nfirst",
        "--name",
        "nlast",
        "--hostname",
        "h1",
        "--hostname=h2",
        "-u",
        "1",
        "-u2",
        "-c",
        "100",
        "-c",
        "512",
        "--stop-signal",
        "TERM",
        "--stop-signal",
        "KILL",
        "alpine",
        "true",
    ]);
    assert!(env.rpod_fail(&["container", "exists", "nfirst"]).0 == 1);
    assert_eq!(
        field(
            &env,
            "nlast",
            "{{.Name}} {{.Config.WorkingDir}} {{.Config.Hostname}} {{.Config.User}} {{.HostConfig.CpuShares}}"
        ),
        "nlast /b h2 2 512"
    );
    assert_eq!(field(&env, "nlast", "{{.Config.StopSignal}}"), "9");
    // Through `container run` too, and the process sees the last one.
    let out = env.rpod_ok(&[
        "container",
        "run",
        "--rm",
        "-w",
        "/etc",
        "-w",
        "/tmp",
        "-e",
        "X=1",
        "-e",
        "Y=2",
        "alpine",
        "sh",
        "-c",
        "pwd; echo $X$Y",
    ]);
    assert_eq!(out, "/tmp\n12\n", "-e stays repeatable (a slice in podman)");
    // update: its flags are run's definitions, repeated too.
    env.rpod_ok(&[
        "update",
        "--restart",
        "on-failure:3",
        "--restart",
        "always",
        "nlast",
    ]);
    assert_eq!(
        field(&env, "nlast", "{{.HostConfig.RestartPolicy.Name}}"),
        "always"
    );
    env.rpod_ok(&["rm", "nlast"]);
}

#[test]
fn bool_flags_take_attached_values_on_create_and_run() {
    let env = env_with_alpine("fp-bool");
    env.rpod_ok(&[
        "create",
        "--name",
        "c1",
        "--privileged=false",
        "--privileged=T",
        "-t=false",
        "--rm=false",
        "--read-only=true",
        "-i=0",
        "--init=false",
        "--env-host=FALSE",
        "alpine",
        "true",
    ]);
    assert_eq!(
        field(
            &env,
            "c1",
            "{{.HostConfig.Privileged}} {{.Config.Tty}} {{.HostConfig.AutoRemove}} {{.HostConfig.ReadonlyRootfs}} {{.Config.OpenStdin}}"
        ),
        "true false false true false"
    );
    // -dit is three bools, each true; -t=1 an attached value.
    env.rpod_ok(&[
        "create",
        "--name",
        "c2",
        "-it=1",
        "--rm=True",
        "alpine",
        "sh",
    ]);
    assert_eq!(
        field(
            &env,
            "c2",
            "{{.Config.Tty}} {{.Config.OpenStdin}} {{.HostConfig.AutoRemove}}"
        ),
        "true true true"
    );
    // The word after a bool flag is never its value: here it is the image
    // (these flags once read it as one).
    env.rpod_ok(&["create", "--name", "c3", "--http-proxy", "alpine", "true"]);
    env.rpod_ok(&[
        "create",
        "--name",
        "c4",
        "--read-only-tmpfs",
        "alpine",
        "true",
    ]);
    assert_eq!(field(&env, "c3", "{{.Config.Cmd}}"), "[true]");
    assert_eq!(field(&env, "c4", "{{.Config.Cmd}}"), "[true]");
    // An attached short value before the image (-p8080:80) is the flag's.
    env.rpod_ok(&["create", "--name", "c5", "-p8080:80", "alpine", "true"]);
    let ports = field(&env, "c5", "{{json .HostConfig.PortBindings}}");
    assert!(
        ports.contains("80/tcp") && ports.contains("8080"),
        "{ports}"
    );
    // run: --detach=false stays attached, --rm=true removes.
    let out = env.rpod_ok(&[
        "run",
        "--detach=false",
        "--rm=true",
        "--name",
        "r1",
        "alpine",
        "echo",
        "attached",
    ]);
    assert_eq!(out, "attached\n");
    assert_eq!(env.rpod_fail(&["container", "exists", "r1"]).0, 1);
    env.rpod_ok(&["rm", "c1", "c2", "c3", "c4", "c5"]);
}

#[test]
fn bool_flags_take_attached_values_on_other_commands() {
    let env = env_with_alpine("fp-other");
    let id = env.rpod_ok(&["create", "--name", "o1", "alpine", "true"]);
    let short = &id.trim()[..12];
    // ps: --all=false shows only running ones, --all=true all of them.
    assert_eq!(env.rpod_ok(&["ps", "--all=false", "--quiet=true"]), "");
    assert_eq!(env.rpod_ok(&["ps", "-a=true", "-q=T"]).trim(), short);
    assert_eq!(
        env.rpod_ok(&["container", "ls", "--all=1", "--quiet", "--no-trunc=true"])
            .trim(),
        id.trim()
    );
    // images/volume ls --quiet=..., --noheading=...
    let img = env.rpod_ok(&["images", "--quiet=true", "--noheading=1"]);
    assert_eq!(img.lines().count(), 1, "{img}");
    assert!(!img.contains("REPOSITORY"), "{img}");
    env.rpod_ok(&["volume", "create", "v1"]);
    assert_eq!(env.rpod_ok(&["volume", "ls", "--quiet=t"]).trim(), "v1");
    let table = env.rpod_ok(&["volume", "ls", "--quiet=false"]);
    assert!(table.contains("DRIVER"), "{table}");
    // start --attach=false returns at once; rm --force=true.
    env.rpod_ok(&["start", "--attach=false", "o1"]);
    env.rpod_ok(&["rm", "--force=true", "o1"]);
    env.rpod_ok(&["volume", "rm", "--force=True", "v1"]);
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn bad_bool_values_and_usage_errors_exit_125() {
    let env = new_env("fp-bad");
    // podman: invalid argument "maybe" for "-a, --all" flag … (125).
    let (code, err) = env.rpod_fail(&["ps", "--all=maybe"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("maybe") && err.contains("--all"), "{err}");
    let (code, err) = env.rpod_fail(&["create", "--privileged=yes", "alpine"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("--privileged"), "{err}");
    let (code, _) = env.rpod_fail(&["ps", "--no-such-flag"]);
    assert_eq!(code, 125);
    // Help and --version are no errors.
    assert!(env.rpod_ok(&["ps", "--help"]).contains("--all"));
    assert!(env.rpod_ok(&["--version"]).starts_with("rpod"));
}

#[test]
fn pod_create_network_is_repeatable_but_one_mode() {
    let env = new_env("fp-pod");
    // podman's --network is a slice; rpod's pods join one mode, and say so
    // rather than silently keeping the last.
    let (code, err) = env.rpod_fail(&[
        "pod",
        "create",
        "--network",
        "none",
        "--network",
        "host",
        "p1",
    ]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("--network"), "{err}");
    assert_eq!(env.rpod_fail(&["pod", "exists", "p1"]).0, 1);
}
