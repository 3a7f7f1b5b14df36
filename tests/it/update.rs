//! `update` / `container update`: podman 4.3's resource flags, kept in the
//! container's bundle and shown by inspect; on this host (cgroup v1, no
//! delegation) they cannot be enforced, and rpod says so. `--restart`
//! changes the policy the monitor follows.

use crate::common::*;

#[test]
fn update_records_limits_and_warns_they_are_not_enforced() {
    let env = env_with_alpine("upd");
    let _r = Reaper(&env);
    let id = env.rpod_ok(&["run", "-d", "--name", "u", "alpine", "sleep", "4242401"]);
    let o = env.rpod(&[
        "update",
        "--memory",
        "64m",
        "--cpus",
        "1.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--memory-reservation",
        "32m",
        "--blkio-weight",
        "300",
        "u",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    // podman prints the container's id.
    assert_eq!(out(&o).trim(), id.trim());
    // Not enforceable here: said clearly, never claimed.
    let e = err(&o);
    assert!(
        e.contains("recorded but not enforced") && e.contains("cgroup"),
        "{e}"
    );
    let hc = |f: &str| field(&env, "u", &format!("{{{{.HostConfig.{f}}}}}"));
    assert_eq!(hc("Memory"), (64u64 << 20).to_string());
    assert_eq!(hc("MemoryReservation"), (32u64 << 20).to_string());
    assert_eq!(hc("NanoCpus"), "1500000000");
    assert_eq!(hc("CpuQuota"), "150000");
    assert_eq!(hc("CpuShares"), "512");
    assert_eq!(hc("CpusetCpus"), "0");
    assert_eq!(hc("BlkioWeight"), "300");
    // The container runs on, and a later update keeps what it does not change.
    assert_eq!(field(&env, "u", "{{.State.Status}}"), "running");
    env.rpod_ok(&["container", "update", "--memory", "128m", "u"]);
    assert_eq!(hc("Memory"), (128u64 << 20).to_string());
    assert_eq!(hc("CpuShares"), "512");
    // The bundle the next start uses carries them.
    env.rpod_ok(&["stop", "-t", "0", "u"]);
    let o = env.rpod(&["update", "--pids-limit", "10", "u"]);
    assert!(
        !o.status.success(),
        "podman 4.3's update has no --pids-limit"
    );
    let o = env.rpod(&[
        "update",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        "u",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("will not be enforced"), "{}", err(&o));
    env.rpod_ok(&["start", "u"]);
    assert_eq!(hc("CpuQuota"), "50000");
    assert_eq!(field(&env, "u", "{{.State.Status}}"), "running");
    env.rpod_ok(&["rm", "-f", "-t", "0", "u"]);
    assert_clean(&env, &["4242401"]);
}

#[test]
fn update_rejects_bad_values_and_unknown_containers() {
    let env = env_with_alpine("updbad");
    env.rpod_ok(&["create", "--name", "b", "alpine"]);
    let bad = |args: &[&str], want: &str| {
        let mut a = vec!["update"];
        a.extend_from_slice(args);
        a.push("b");
        let (code, e) = env.rpod_fail(&a);
        assert_eq!(code, 125, "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: {e}");
    };
    bad(
        &["--cpus", "1", "--cpu-quota", "5"],
        "cannot be set together",
    );
    bad(&["--blkio-weight", "5"], "between 10 and 1000");
    bad(&["--memory-swappiness", "101"], "swappiness");
    bad(&["--memory", "lots"], "lots");
    bad(&["--device-read-bps", "sda:1mb"], "DEVICE:VALUE");
    bad(
        &["--device-read-bps", "/etc/passwd:1mb"],
        "not a block device",
    );
    bad(&["--restart", "sometimes"], "not a valid restart policy");
    let (code, e) = env.rpod_fail(&["update", "--memory", "1g", "nosuch"]);
    assert_eq!(code, 125);
    assert!(e.contains("no such container"), "{e}");
    // Nothing was written by the refusals.
    assert_eq!(field(&env, "b", "{{.HostConfig.BlkioWeight}}"), "0");
    env.rpod_ok(&["rm", "b"]);
}

#[test]
fn update_restart_changes_the_policy_the_monitor_follows() {
    let env = env_with_alpine("updrs");
    let _r = Reaper(&env);
    // Exits 1 after a moment, without a policy.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "p",
        "alpine",
        "sh",
        "-c",
        "sleep 2; exit 1",
    ]);
    env.rpod_ok(&["update", "--restart", "on-failure:2", "p"]);
    assert_eq!(
        field(&env, "p", "{{.HostConfig.RestartPolicy.Name}}"),
        "on-failure"
    );
    assert_eq!(
        field(&env, "p", "{{.HostConfig.RestartPolicy.MaximumRetryCount}}"),
        "2"
    );
    // Its monitor started before the update, and still restarts it.
    assert!(
        eventually(60, || field(&env, "p", "{{.RestartCount}}") == "2"
            && field(&env, "p", "{{.State.Status}}") == "exited"),
        "restarts {}",
        field(&env, "p", "{{.RestartCount}}")
    );
    env.rpod_ok(&["rm", "-a"]);
    assert_clean(&env, &[]);
}

#[test]
fn auto_update_recreates_a_container_when_the_registry_has_a_newer_image() {
    let tag = format!("autoupd{}", std::process::id());
    let img = push_image(&tag, r#"layers = [[F("version", b"1\n")]]"#);
    let env = env_with_alpine("autoupd");
    let _r = Reaper(&env);
    let old_id = env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "au",
        "--label",
        "io.containers.autoupdate=registry",
        &img,
        "sleep",
        "4242411",
    ]);
    env.rpod_ok(&["run", "-d", "--name", "plain", &img, "sleep", "4242412"]);
    let row = |fmt: &str| {
        env.rpod_ok(&["auto-update", "--dry-run", "--format", fmt])
            .trim()
            .to_string()
    };
    // Up to date; unlabelled containers are not listed.
    assert_eq!(
        row("{{.ContainerName}} {{.Policy}} {{.Updated}}"),
        "au registry false"
    );
    let o = env.rpod_ok(&["auto-update", "--dry-run"]);
    assert!(o.starts_with("UNIT"), "{o}");
    assert!(
        o.contains("CONTAINER") && o.contains("UPDATED") && o.contains("(au)"),
        "{o}"
    );
    // A new image under the same tag.
    push_image(&tag, r#"layers = [[F("version", b"2\n")]]"#);
    assert_eq!(row("{{.ContainerName}} {{.Updated}}"), "au pending");
    // --dry-run changed nothing.
    assert_eq!(env.rpod_ok(&["exec", "au", "cat", "/version"]).trim(), "1");
    let out = env.rpod_ok(&["auto-update", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["Updated"], "true", "{out}");
    assert_eq!(v[0]["ContainerName"], "au");
    // A new container, same name and flags, running the new image.
    let new_id = field(&env, "au", "{{.Id}}");
    assert_ne!(new_id, old_id.trim());
    assert_eq!(field(&env, "au", "{{.State.Status}}"), "running");
    let labels = field(&env, "au", "{{json .Config.Labels}}");
    assert!(
        labels.contains(r#""io.containers.autoupdate":"registry""#),
        "{labels}"
    );
    assert_eq!(env.rpod_ok(&["exec", "au", "cat", "/version"]).trim(), "2");
    assert!(procs_with("sleep 4242411").len() == 1);
    // Now up to date.
    assert_eq!(row("{{.ContainerName}} {{.Updated}}"), "au false");
    // The unlabelled one kept its old image.
    assert_eq!(
        env.rpod_ok(&["exec", "plain", "cat", "/version"]).trim(),
        "1"
    );
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4242411", "4242412"]);
}

#[test]
fn auto_update_local_and_bad_policies() {
    let env = env_with_alpine("autoloc");
    let _r = Reaper(&env);
    env.rpod_ok(&["tag", "alpine", "localhost/mine:1"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "l",
        "--label",
        "io.containers.autoupdate=local",
        "localhost/mine:1",
        "sleep",
        "4242421",
    ]);
    env.rpod_ok(&[
        "create",
        "--name",
        "bad",
        "--label",
        "io.containers.autoupdate=sometimes",
        "alpine",
    ]);
    let o = env.rpod(&[
        "auto-update",
        "--dry-run",
        "--format",
        "{{.ContainerName}} {{.Updated}}",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(
        err(&o).contains("invalid auto-update policy"),
        "{}",
        err(&o)
    );
    assert!(out(&o).contains("l false"), "{}", out(&o));
    assert!(out(&o).contains("bad failed"), "{}", out(&o));
    env.rpod_ok(&["rm", "bad"]);
    // The name now means another local image: a commit of the container.
    env.rpod_ok(&["exec", "l", "sh", "-c", "echo new > /version"]);
    env.rpod_ok(&["commit", "l", "localhost/mine:1"]);
    assert_eq!(
        env.rpod_ok(&["auto-update", "--format", "{{.ContainerName}} {{.Updated}}"])
            .trim(),
        "l true"
    );
    assert_eq!(env.rpod_ok(&["exec", "l", "cat", "/version"]).trim(), "new");
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4242421"]);
}

/// `auto-update` rolls back (podman's default `--rollback`) when the new
/// image's container turns unhealthy: the previous image gets its name back
/// and the container runs it again; `--rollback=false` leaves it failed.
#[test]
fn auto_update_rolls_back_when_the_new_container_is_unhealthy() {
    let tag = format!("autorb{}", std::process::id());
    let img = push_image(&tag, r#"layers = [[F("version", b"1\n"), F("ok", b"")]]"#);
    let env = env_with_alpine("autorb");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "rb",
        "--label",
        "io.containers.autoupdate=registry",
        "--health-cmd",
        "test -e /ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        &img,
        "sleep",
        "4242431",
    ]);
    let old_image = field(&env, "rb", "{{.Image}}");
    // A broken image under the same tag: its check fails.
    push_image(&tag, r#"layers = [[F("version", b"2\n")]]"#);
    let out = env.rpod_ok(&["auto-update", "--format", "{{.ContainerName}} {{.Updated}}"]);
    assert_eq!(out.trim(), "rb rolled back");
    assert_eq!(field(&env, "rb", "{{.State.Status}}"), "running");
    assert_eq!(field(&env, "rb", "{{.Image}}"), old_image);
    assert_eq!(env.rpod_ok(&["exec", "rb", "cat", "/version"]).trim(), "1");
    assert!(eventually(30, || health(&env, "rb") == "healthy"));
    let named = env.rpod_ok(&["image", "inspect", "--format", "{{.Id}}", &img]);
    assert_eq!(named.trim(), old_image);
    // Still pending; without the rollback the broken one stays, failed.
    let (code, e) = env.rpod_fail(&["auto-update", "--rollback=false"]);
    assert_eq!(code, 125, "{e}");
    assert!(e.contains("rb is unhealthy"), "{e}");
    assert_eq!(env.rpod_ok(&["exec", "rb", "cat", "/version"]).trim(), "2");
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4242431"]);
}

fn health(env: &Env, ctr: &str) -> String {
    field(env, ctr, "{{.State.Health.Status}}")
}

/// A new image whose container cannot start (its command is gone) is rolled
/// back too: the container made from the previous image runs again.
#[test]
fn auto_update_rolls_back_when_the_new_container_cannot_start() {
    let tag = format!("autorbs{}", std::process::id());
    let img = push_image(&tag, r#"layers = [[F("version", b"1\n")]]"#);
    let env = env_with_alpine("autorbs");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "rs",
        "--label",
        "io.containers.autoupdate=registry",
        &img,
        "sleep",
        "4242441",
    ]);
    let old_image = field(&env, "rs", "{{.Image}}");
    push_image(
        &tag,
        r#"layers = [[F("version", b"2\n"), WH("bin/sleep")]]"#,
    );
    let out = env.rpod_ok(&["auto-update", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["Updated"], "rolled back", "{out}");
    assert_eq!(field(&env, "rs", "{{.State.Status}}"), "running");
    assert_eq!(field(&env, "rs", "{{.Image}}"), old_image);
    assert_eq!(env.rpod_ok(&["exec", "rs", "cat", "/version"]).trim(), "1");
    assert_eq!(procs_with("sleep 4242441").len(), 1);
    env.rpod_ok(&["rm", "-af", "-t", "0"]);
    assert_clean(&env, &["4242441"]);
}
