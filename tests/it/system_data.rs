//! `rpod system df|prune|reset|check` and the system verbs that do
//! nothing here: each test sets up a known store (fixtures pulled from the
//! loopback registry, containers created) and asserts against what is in it.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root(env: &Env) -> PathBuf {
    env.home.join(".local/share/rpod")
}

fn runroot(env: &Env) -> PathBuf {
    env.runtime_dir.join("rpod")
}

/// The recorded size of an image, read from its record as root.
fn recorded_size(env: &Env, id: &str) -> u64 {
    let p = root(env).join(format!("images/{id}.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["size"].as_u64().unwrap()
}

fn pull(env: &Env, name: &str) -> String {
    env.rpod_ok(&["pull", "-q", &env.image(name)])
        .trim()
        .to_string()
}

fn df_json(env: &Env) -> Vec<serde_json::Value> {
    serde_json::from_str(&env.rpod_ok(&["system", "df", "--format", "json"])).unwrap()
}

#[test]
fn df_numbers_are_what_the_store_holds() {
    let env = Env::new("sysdf");
    let alpine = pull(&env, "alpine");
    let layers = pull(&env, "layers");
    env.rpod_ok(&["create", "--name", "c1", "alpine", "true"]);
    env.rpod_ok(&[
        "run",
        "--name",
        "c2",
        "alpine",
        "sh",
        "-c",
        "printf hello > /f",
    ]);
    let (a, l) = (recorded_size(&env, &alpine), recorded_size(&env, &layers));
    let rows = df_json(&env);
    assert_eq!(rows.len(), 3);
    let img = &rows[0];
    assert_eq!(img["Type"], "Images");
    assert_eq!(img["Total"], 2);
    assert_eq!(img["Active"], 1, "alpine is used by both containers");
    assert_eq!(img["RawSize"], a + l);
    assert_eq!(
        img["RawReclaimable"], l,
        "only the unused image is reclaimable"
    );
    let ctr = &rows[1];
    assert_eq!(ctr["Type"], "Containers");
    assert_eq!(ctr["Total"], 2);
    assert_eq!(ctr["Active"], 0);
    assert_eq!(ctr["RawSize"], 5, "the five bytes c2 wrote");
    assert_eq!(ctr["RawReclaimable"], 5);
    assert_eq!(rows[2]["Type"], "Local Volumes");
    // The default table and podman's template fields.
    let table = env.rpod_ok(&["system", "df"]);
    let first = table.lines().next().unwrap();
    for col in ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"] {
        assert!(first.contains(col), "{table}");
    }
    assert!(
        table.contains("Containers     2           0           5B          5B (100%)"),
        "{table}"
    );
    let t = env.rpod_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.Total}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}",
    ]);
    assert_eq!(t.lines().nth(1), Some("Containers|2|0|5B|5B (100%)"), "{t}");
    // -v: one line per image and container.
    let v = env.rpod_ok(&["system", "df", "-v"]);
    assert!(v.starts_with("Images space usage:\n\nREPOSITORY"), "{v}");
    assert!(
        v.contains(&alpine[..12]) && v.contains(&layers[..12]),
        "{v}"
    );
    let c2 = v.lines().find(|l| l.ends_with(" c2")).expect("c2's line");
    assert!(
        c2.contains("sh -c printf hello > /f") && c2.contains(" 5B "),
        "{c2}"
    );
    assert!(c2.contains("exited"), "{c2}");
    assert!(
        v.contains("Local Volumes space usage:\n\nVOLUME NAME"),
        "{v}"
    );
    let (code, err) = env.rpod_fail(&["system", "df", "-v", "--format", "json"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("cannot combine --format and --verbose"),
        "{err}"
    );
    // A second run reads the cached container sizes and agrees.
    assert_eq!(df_json(&env)[1]["RawSize"], 5);
    assert!(root(&env)
        .join("containers")
        .read_dir()
        .unwrap()
        .flatten()
        .any(|e| e.path().join("rwsize.json").is_file()));
    // Fast enough for a prompt (debug build, as the test user).
    let t0 = Instant::now();
    env.rpod_ok(&["system", "df"]);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn prune_removes_what_podman_would() {
    let env = Env::new("sysprune");
    let alpine = pull(&env, "alpine");
    let layers = pull(&env, "layers");
    let config = pull(&env, "config");
    env.rpod_ok(&["untag", &config]); // dangling now
    let stopped = env.rpod_ok(&["create", "--name", "stopped", "alpine", "true"]);
    let labelled = env.rpod_ok(&[
        "create", "--name", "labelled", "--label", "app=x", "alpine", "true",
    ]);
    env.rpod_ok(&[
        "run", "-d", "--name", "up", "--init", "alpine", "sleep", "4242301",
    ]);
    // No answer, no removal; the prompt is podman's, on stdout.
    let out = env.rpod_stdin(&["system", "prune"], b"n\n");
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("WARNING! This command removes:\n\t- all stopped containers\n"),
        "{said}"
    );
    assert!(
        said.contains("\t- all dangling images\n") && said.ends_with("[y/N] "),
        "{said}"
    );
    assert_eq!(env.rpod_ok(&["ps", "-aq"]).lines().count(), 3);
    // A label filter: only the labelled stopped container (the dangling
    // image has no such label).
    let out = env.rpod_ok(&["system", "prune", "-f", "--filter", "label=app=x"]);
    assert_eq!(
        out,
        format!(
            "Deleted Containers\n{}Total reclaimed space: 0B\n",
            labelled
        ),
        "{out}"
    );
    // Stopped containers and the dangling image; tagged images stay.
    let out = env.rpod_ok(&["system", "prune", "-f"]);
    assert!(
        out.starts_with(&format!(
            "Deleted Containers\n{}Deleted Images\n{config}\n",
            stopped
        )),
        "{out}"
    );
    assert!(out.ends_with("Total reclaimed space: 2.161MB\n"), "{out}");
    let images = env.rpod_ok(&["images", "-q", "--no-trunc"]);
    assert!(!images.contains(&config) && images.contains(&layers) && images.contains(&alpine));
    // -a: every image no container uses; the running container stays.
    let out = env.rpod_ok(&["system", "prune", "-af", "--volumes"]);
    assert_eq!(
        out,
        format!("Deleted Images\n{layers}\nTotal reclaimed space: 2.253MB\n"),
        "{out}"
    );
    assert_eq!(env.rpod_ok(&["ps", "-q"]).lines().count(), 1);
    assert!(env
        .rpod_ok(&["images", "-q", "--no-trunc"])
        .contains(&alpine));
    let (code, err) = env.rpod_fail(&["system", "prune", "-f", "--filter", "bogus=1"]);
    assert_eq!(code, 125);
    assert!(err.contains("bogus is an invalid filter"), "{err}");
    // Nothing left to prune.
    assert_eq!(
        env.rpod_ok(&["system", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "up"]);
}

#[test]
fn reset_removes_all_of_rpods_and_nothing_else() {
    let env = Env::new("sysreset");
    pull(&env, "alpine");
    env.rpod_ok(&[
        "run", "-d", "--name", "up", "--init", "alpine", "sleep", "4242302",
    ]);
    env.rpod_ok(&["create", "--name", "c", "alpine", "true"]);
    // The user's config, podman's storage and a neighbour of the runtime dir.
    env.sh_ok(
        "set -e; c=$XDG_CONFIG_HOME/containers; echo '{\"auths\":{}}' > $c/auth.json; echo '# keep' > $c/containers.conf; \
         mkdir -p $XDG_DATA_HOME/containers/storage; echo keep > $XDG_DATA_HOME/containers/storage/sentinel; \
         echo keep > $XDG_RUNTIME_DIR/sentinel; echo keep > $XDG_DATA_HOME/sentinel",
    );
    let out = env.rpod_stdin(&["system", "reset"], b"no\n");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("WARNING! This will remove:\n"), "{said}");
    assert!(said.contains(&format!(
        "the graphRoot directory: \"{}\"",
        root(&env).display()
    )));
    assert!(root(&env).join("images").is_dir(), "a no keeps everything");
    env.rpod_ok(&["system", "reset", "-f"]);
    assert!(!root(&env).exists(), "the store is gone");
    assert!(!runroot(&env).exists(), "the runtime dir is gone");
    assert!(
        env.leftover_processes().is_empty(),
        "{:?}",
        env.leftover_processes()
    );
    let conf = env.home.join(".config/containers");
    assert_eq!(
        std::fs::read_to_string(conf.join("auth.json")).unwrap(),
        "{\"auths\":{}}\n"
    );
    assert_eq!(
        std::fs::read_to_string(conf.join("containers.conf")).unwrap(),
        "# keep\n"
    );
    for p in [
        env.home.join(".local/share/containers/storage/sentinel"),
        env.runtime_dir.join("sentinel"),
        env.home.join(".local/share/sentinel"),
    ] {
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "keep\n",
            "{}",
            p.display()
        );
    }
    assert!(conf.join("registries.conf").is_file());
    // rpod starts afresh.
    assert_eq!(env.rpod_ok(&["images", "-q"]), "");
    assert_eq!(env.rpod_ok(&["ps", "-aq"]), "");
    pull(&env, "alpine");
}

/// Run `script` as the test user with R=the store and RUN=the runroot.
fn user_sh(env: &Env, script: &str) -> String {
    env.sh_ok(&format!(
        "set -e; R={}; RUN={}; {script}",
        root(env).display(),
        runroot(env).display()
    ))
}

#[test]
fn check_finds_and_repairs_each_fault() {
    let env = Env::new("syscheck");
    pull(&env, "alpine");
    let layers = pull(&env, "layers");
    let config = pull(&env, "config");
    env.rpod_ok(&["create", "--name", "ok", "alpine", "true"]);
    env.rpod_ok(&["run", "--name", "ran", "alpine", "true"]);
    let orphan = env.rpod_ok(&["create", "--name", "orphan", &config, "true"]);
    let orphan = orphan.trim();
    let ghost = env.rpod_ok(&["create", "--name", "ghost", "alpine", "true"]);
    let ghost = ghost.trim();
    // Healthy: nothing to say, success.
    assert_eq!(env.rpod_ok(&["system", "check"]), "");
    assert_eq!(env.rpod_ok(&["system", "check", "--quick"]), "");

    let a = "a".repeat(64);
    let b = "b".repeat(64);
    let c = "c".repeat(64);
    let d = "d".repeat(64);
    // An image whose layer is gone (removed inside the user namespace).
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root(&env).join(format!("images/{layers}.json"))).unwrap(),
    )
    .unwrap();
    let top = rec["layers"].as_array().unwrap().last().unwrap()["chain_id"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    env.rpod_ok(&[
        "unshare",
        "rm",
        "-rf",
        &format!("{}/layers/{top}", root(&env).display()),
    ]);
    user_sh(
        &env,
        &format!(
            "mkdir -p $R/tmp/layer-dead/diff/etc; echo x > $R/tmp/layer-dead/diff/etc/f; \
             echo half > $R/tmp/blob-dead; \
             mkdir -p $R/layers/{a}/diff; \
             echo lies > $R/blobs/sha256/{b}; \
             echo '{{' > $R/images/.x.json.tmp-999999999-0; \
             mkdir -p $RUN/containers/{c}; \
             mkdir -p $R/containers/.removing-{d}/upper; \
             mkdir -p $R/volumes/.removing-gone/_data; \
             rm $R/images/{config}.json; \
             sed -i -e 's/\"status\":\"created\",\"pid\":0/\"status\":\"running\",\"pid\":999999998/' -e 's/\"monitor_pid\":0/\"monitor_pid\":999999999/' $R/containers/{ghost}/state.json; grep -q running $R/containers/{ghost}/state.json"
        ),
    );
    let out = env.rpod(&["system", "check"]);
    assert_eq!(out.status.code(), Some(125));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("damage detected in local storage"), "{err}");
    for want in [
        format!("Damaged layer {a}:\n\t* layer.json is missing"),
        format!("Damaged blob {b}:\n\t* its content does not match its digest"),
        format!("Damaged image {layers}:\n\t* its layer sha256:{top} is missing"),
        format!("Damaged container {orphan}:\n\t* its image {config} is gone"),
        format!("Damaged container {ghost}:\n\t* recorded as running, but its monitor"),
        "tmp/layer-dead:\n\t* left in tmp/".to_string(),
        "tmp/blob-dead:\n\t* left in tmp/".to_string(),
        ".x.json.tmp-999999999-0:\n\t* a temporary file whose writer was killed".to_string(),
        format!("containers/{c}:\n\t* the runtime dir of a container that no longer exists"),
        format!(".removing-{d}:\n\t* the files of a removed container"),
        "volumes/.removing-gone:\n\t* the files of a removed volume".to_string(),
    ] {
        assert!(said.contains(&want), "missing {want:?} in\n{said}");
    }
    // --quick skips hashing blobs.
    let quick = String::from_utf8_lossy(&env.rpod(&["system", "check", "-q"]).stdout).into_owned();
    assert!(!quick.contains(&format!("Damaged blob {b}")), "{quick}");
    // Nothing was changed by looking.
    assert!(root(&env).join("tmp/blob-dead").exists());

    // --repair: all but the container whose image is gone (that needs --force).
    let out = env.rpod(&["system", "check", "--repair"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(125), "{said}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("still present after repair"));
    for want in [
        format!("Deleted damaged layer: {a}"),
        format!("Deleted damaged blob: {b}"),
        format!("Deleted damaged image: {layers}"),
        format!("Repaired container {}: now exited", &ghost[..12]),
        format!("Kept container {orphan}: use --force"),
    ] {
        assert!(said.contains(&want), "missing {want:?} in\n{said}");
    }
    let out = env.rpod(&["system", "check", "--repair", "--force"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("Deleted damaged container: {orphan}")),
        "{said}"
    );
    assert_eq!(env.rpod_ok(&["system", "check"]), "");
    // What was fine is still there and works.
    let names = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["ghost", "ok", "ran"]);
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "alpine", "echo", "fine"]),
        "fine\n"
    );
    assert!(!root(&env).join(format!("layers/{a}")).exists());
    assert!(!runroot(&env).join(format!("containers/{c}")).exists());
    assert!(!root(&env).join("volumes/.removing-gone").exists());
}

/// Pids of rpod processes (not runuser/env) whose command line has `needle`.
fn rpod_pids(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if cmd.contains(needle) && exe.to_string_lossy().ends_with("/rpod") {
            out.push(pid);
        }
    }
    out
}

fn tmp_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|r| r.count()).unwrap_or(0)
}

#[test]
fn check_repairs_what_a_killed_pull_left() {
    let env = Env::new("syscheckkill");
    let large = env.image("large");
    let mut child = env
        .cmd(&["pull", "-q", &large])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tmp = root(&env).join("tmp");
    let t0 = Instant::now();
    while tmp_entries(&tmp) == 0 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(tmp_entries(&tmp) > 0, "the pull never started writing");
    for pid in rpod_pids(&format!("pull -q {large}")) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let _ = child.wait();
    if tmp_entries(&tmp) == 0 {
        // The pull finished before the kill landed: nothing to repair then.
        eprintln!("check_repairs_what_a_killed_pull_left: the pull finished before the kill");
        assert_eq!(env.rpod_ok(&["system", "check"]), "");
        return;
    }
    let out = env.rpod(&["system", "check"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(125), "{said}");
    assert!(
        said.contains("* left in tmp/ by an interrupted pull"),
        "{said}"
    );
    let out = env.rpod(&["system", "check", "--repair"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(tmp_entries(&tmp), 0);
    assert_eq!(env.rpod_ok(&["system", "check"]), "");
    // The store works: the pull completes.
    env.rpod_ok(&["pull", "-q", &large]);
    assert_eq!(env.rpod_ok(&["system", "check"]), "");
}

#[test]
fn system_verbs_without_work_say_so() {
    let env = Env::new("sysverbs");
    let info = env.rpod_ok(&["system", "info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert!(v["store"]["graphRoot"].as_str().unwrap().ends_with("rpod"));
    for verb in ["migrate", "renumber"] {
        let out = env.rpod(&["system", verb]);
        assert!(out.status.success());
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to"));
    }
    for verb in [&["system", "service"][..], &["system", "connection", "ls"]] {
        let (code, err) = env.rpod_fail(verb);
        assert_eq!(code, 125);
        assert!(err.contains("rpod has no API service"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn check_finds_a_rootfs_left_mounted() {
    let env = Env::new("syscheckmnt");
    pull(&env, "alpine");
    let id = env.rpod_ok(&["run", "-d", "--name", "done", "alpine", "true"]);
    let id = id.trim();
    env.rpod_ok(&["wait", "done"]);
    let merged = root(&env).join(format!("containers/{id}/merged"));
    assert!(merged.is_dir());
    // As a monitor killed mid-way would leave it, in this mount namespace.
    let out = env.sh_ok_in_private_mounts(
        &format!("mount -t tmpfs none {}", merged.display()),
        "rpod system check; echo rc=$?",
    );
    assert!(
        out.contains(&format!(
            "Damaged container {id}:\n\t* its root filesystem is still mounted at {}",
            merged.display()
        )),
        "{out}"
    );
    assert!(out.ends_with("rc=125\n"), "{out}");
    // Outside that namespace nothing is mounted: healthy.
    assert_eq!(env.rpod_ok(&["system", "check"]), "");
}

#[test]
fn volumes_in_df_and_prune() {
    let env = Env::new("sysvol");
    pull(&env, "alpine");
    env.rpod_ok(&["volume", "create", "v1"]);
    let c = env.rpod_ok(&[
        "create",
        "--name",
        "c",
        "-v",
        "v2:/data",
        "alpine",
        "sh",
        "-c",
        "printf abc > /data/x",
    ]);
    env.rpod_ok(&["start", "-a", "c"]);
    let rows = df_json(&env);
    let vols = &rows[2];
    assert_eq!(vols["Type"], "Local Volumes");
    assert_eq!(vols["Total"], 2);
    assert_eq!(vols["Active"], 1, "v2 has one container");
    assert_eq!(vols["RawSize"], 3);
    assert_eq!(vols["RawReclaimable"], 0);
    let v = env.rpod_ok(&["system", "df", "-v"]);
    assert!(v.contains("VOLUME NAME  LINKS       SIZE\nv1           0           0B\nv2           1           3B\n"), "{v}");
    // Without --volumes they stay; with it, the container goes first, then both.
    let out = env.rpod_ok(&["system", "prune", "-f"]);
    assert_eq!(
        out,
        format!("Deleted Containers\n{c}Total reclaimed space: 0B\n")
    );
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), "v1\nv2\n");
    let out = env.rpod_ok(&["system", "prune", "-f", "--volumes"]);
    assert_eq!(out, "Deleted Volumes\nv1\nv2\nTotal reclaimed space: 3B\n");
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), "");
}
