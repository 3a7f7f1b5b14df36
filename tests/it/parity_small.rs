//! Small podman 4.3 parity points (issue 12): `info --format '{{json
//! .Host.X}}'` prints podman's JSON keys; `run`/`create -c` is
//! --cpu-shares, and everything after the image is the command's (podman
//! stops reading flags there). The expectations were taken from rootless
//! podman 4.3.1 on this machine.

use crate::common::*;
use serde_json::Value;

fn keys(env: &Env, tmpl: &str) -> Vec<String> {
    let out = env.rpod_ok(&["info", "--format", tmpl]);
    let v: Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{tmpl}: {e}: {out}"));
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn info_json_of_a_field_has_podmans_keys() {
    let env = new_env("infojson");
    // podman 4.3.1: {"name":"runc","package":…,"path":…,"version":…}
    assert_eq!(
        keys(&env, "{{json .Host.OCIRuntime}}"),
        ["name", "package", "path", "version"]
    );
    // The same through a pipe.
    assert_eq!(
        keys(&env, "{{.Host.OCIRuntime | json}}"),
        ["name", "package", "path", "version"]
    );
    let sec = keys(&env, "{{json .Host.Security}}");
    for k in [
        "apparmorEnabled",
        "capabilities",
        "rootless",
        "seccompEnabled",
        "seccompProfilePath",
        "selinuxEnabled",
    ] {
        assert!(sec.contains(&k.to_string()), "{k} in {sec:?}");
    }
    assert_eq!(
        keys(&env, "{{json .Host.IDMappings}}"),
        ["gidmap", "uidmap"]
    );
    let ids = env.rpod_ok(&["info", "--format", "{{json .Host.IDMappings.UIDMap}}"]);
    assert!(
        ids.contains("\"container_id\":0") && ids.contains("\"host_id\""),
        "{ids}"
    );
    assert_eq!(
        keys(&env, "{{json .Host.Distribution}}"),
        ["codename", "distribution", "version"]
    );
    assert_eq!(
        keys(&env, "{{json .Plugins}}"),
        ["authorization", "log", "network", "volume"]
    );
    assert_eq!(keys(&env, "{{json .Store.ImageStore}}"), ["number"]);
    // podman's Version has no json tags: Go's names.
    assert!(keys(&env, "{{json .Version}}").contains(&"APIVersion".to_string()));
    // Fields themselves keep Go's names.
    assert_eq!(
        env.rpod_ok(&["info", "--format", "{{.Host.OCIRuntime.Name}}"])
            .trim(),
        "rpod"
    );
}

#[test]
fn c_is_cpu_shares_and_flags_after_the_image_are_the_commands() {
    let env = env_with_alpine("cshort");
    env.rpod_ok(&["create", "--name", "cs", "-c", "512", "alpine", "true"]);
    assert_eq!(field(&env, "cs", "{{.HostConfig.CpuShares}}"), "512");
    // After the image, -c (and any flag of run's) belongs to the command.
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "alpine",
        "-c",
        "echo from-sh",
    ]);
    assert_eq!(out, "from-sh\n");
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "echo",
        "alpine",
        "-l",
        "x",
        "--version",
        "-t",
    ]);
    assert_eq!(out, "-l x --version -t\n");
    env.rpod_ok(&["create", "--name", "cc", "alpine", "echo", "-c", "1"]);
    assert_eq!(field(&env, "cc", "{{.Config.Cmd}}"), "[echo -c 1]");
    assert_eq!(field(&env, "cc", "{{.HostConfig.CpuShares}}"), "0");
    env.rpod_ok(&["rm", "cs", "cc"]);
}
