//! `pod top`, `pod stats`, `pod logs` and `pod clone` as the unprivileged
//! test user (issue 15), in podman's layouts: `pod top` lists the processes
//! of every running container of the pod under `top`'s headers; `pod stats`
//! has podman's POD/CID/NAME columns and JSON keys (podman itself refuses
//! here: it needs cgroups v2, rpod reads /proc); `pod logs` prefixes each
//! line with the container's short id (or name with `--names`), and `-c`
//! shows one container as `logs` does; `pod clone` makes NAME-clone pods
//! and containers, `--start` starts them, `--destroy` removes the original.

use crate::common::*;

/// Removes every pod (and container) of the env when dropped.
struct PodReaper<'a>(&'a Env);

impl Drop for PodReaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.rpod(&["pod", "rm", "-a", "-f", "-t", "0"]);
        let _ = self.0.rpod(&["rm", "-a", "-f", "-t", "0"]);
    }
}

/// A pod `tp` with two sleeping members that wrote a line each (tpc2 one
/// on stderr too), their logs written before this returns.
fn two_member_pod(env: &Env) {
    env.rpod_ok(&["pod", "create", "--name", "tp", "--label", "app=tp"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--pod",
        "tp",
        "--name",
        "tpc1",
        "alpine",
        "sh",
        "-c",
        "echo hello1; exec sleep 4243101",
    ]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--pod",
        "tp",
        "--name",
        "tpc2",
        "alpine",
        "sh",
        "-c",
        "echo hello2; echo err2 >&2; exec sleep 4243102",
    ]);
    assert!(
        eventually(10, || env.rpod_ok(&["logs", "tpc2"]).contains("hello2")
            && env.rpod_ok(&["logs", "tpc1"]).contains("hello1")),
        "the members never logged"
    );
}

fn id_of(env: &Env, ctr: &str) -> String {
    env.rpod_ok(&["inspect", "--format", "{{.Id}}", ctr]).trim()[..12].to_string()
}

#[test]
fn pod_top_lists_the_processes_of_every_running_member() {
    let env = env_with_alpine("podtop");
    let _r = PodReaper(&env);
    two_member_pod(&env);
    let out = env.rpod_ok(&["pod", "top", "tp"]);
    let mut lines = out.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"],
        "{out}"
    );
    let rows: Vec<&str> = lines.collect();
    // The infra's catatonit and both sleeps, each as PID 1 of its namespace.
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows.iter().any(|r| r.contains("sleep 4243101")), "{out}");
    assert!(rows.iter().any(|r| r.contains("sleep 4243102")), "{out}");
    assert!(rows.iter().any(|r| r.contains("catatonit")), "{out}");
    // Descriptors, comma- or blank-separated, pick and order the columns.
    let out = env.rpod_ok(&["pod", "top", "tp", "pid,args", "user"]);
    let head: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["PID", "COMMAND", "USER"], "{out}");
    assert!(out.contains("sleep 4243101"), "{out}");
    // Bad input: one line naming it.
    let (code, err) = env.rpod_fail(&["pod", "top", "tp", "bogus"]);
    assert_eq!(code, 125);
    assert!(err.contains("\"bogus\""), "{err}");
    let (code, err) = env.rpod_fail(&["pod", "top", "nosuchpod"]);
    assert_eq!(code, 125);
    assert!(err.contains("nosuchpod"), "{err}");
    // A pod with nothing running has nothing to show: an error, as podman.
    env.rpod_ok(&["pod", "stop", "-t", "0", "tp"]);
    let (_, err) = env.rpod_fail(&["pod", "top", "tp"]);
    assert!(err.contains("running"), "{err}");
}

#[test]
fn pod_stats_shows_podmans_columns_and_json_keys_from_proc() {
    let env = env_with_alpine("podstats");
    let _r = PodReaper(&env);
    two_member_pod(&env);
    let pod_id = env.rpod_ok(&["pod", "inspect", "--format", "{{.Id}}", "tp"]);
    let pod12 = &pod_id.trim()[..12];
    let out = env.rpod_ok(&["pod", "stats", "--no-stream", "tp"]);
    let mut lines = out.lines();
    let head = lines.next().unwrap();
    for col in [
        "POD",
        "CID",
        "NAME",
        "CPU %",
        "MEM USAGE/ LIMIT",
        "MEM %",
        "NET IO",
        "BLOCK IO",
        "PIDS",
    ] {
        assert!(head.contains(col), "{col}: {out}");
    }
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "infra and two members: {out}");
    for r in &rows {
        assert!(r.starts_with(pod12), "{out}");
    }
    let c1 = rows.iter().find(|r| r.contains(" tpc1 ")).expect(&out);
    assert!(c1.contains(&id_of(&env, "tpc1")), "{out}");
    // JSON: podman's PodStatsReport keys, a sleeping shell has one process.
    let js = env.rpod_ok(&["pod", "stats", "--no-stream", "--format", "json", "tp"]);
    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 3, "{js}");
    let keys: Vec<&str> = arr[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut want = [
        "CPU",
        "MemUsage",
        "MemUsageBytes",
        "Mem",
        "NetIO",
        "BlockIO",
        "PIDS",
        "Pod",
        "CID",
        "Name",
    ];
    let mut got = keys.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{js}");
    let c1 = arr.iter().find(|r| r["Name"] == "tpc1").unwrap();
    assert_eq!(c1["PIDS"], "1", "{js}");
    assert_eq!(c1["Pod"], pod12, "{js}");
    assert!(c1["MemUsage"].as_str().unwrap().contains(" / "), "{js}");
    // Templates; no pod named: every pod.
    let t = env.rpod_ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDS}}",
    ]);
    let mut names: Vec<&str> = t.lines().collect();
    names.sort();
    assert_eq!(names.len(), 3, "{t}");
    assert!(names.contains(&"tpc2 1"), "{t}");
    let (code, err) = env.rpod_fail(&["pod", "stats", "--no-stream", "nosuchpod"]);
    assert_eq!(code, 125);
    assert!(err.contains("nosuchpod"), "{err}");
}

#[test]
fn pod_logs_prefixes_ids_or_names_and_follows_every_member() {
    let env = env_with_alpine("podlogs");
    let _r = PodReaper(&env);
    two_member_pod(&env);
    let (id1, id2) = (id_of(&env, "tpc1"), id_of(&env, "tpc2"));
    let out = env.rpod(&["pod", "logs", "tp"]);
    assert!(out.status.success(), "{}", err(&out));
    let so = String::from_utf8_lossy(&out.stdout);
    let se = String::from_utf8_lossy(&out.stderr);
    assert_eq!(so, format!("{id1} hello1\n{id2} hello2\n"));
    assert_eq!(se, format!("{id2} err2\n"));
    let so = env.rpod_ok(&["pod", "logs", "--names", "tp"]);
    assert_eq!(so, "tpc1 hello1\ntpc2 hello2\n");
    // --color: each container's lines in its own color, as `logs --color`.
    let so = env.rpod_ok(&["pod", "logs", "--color", "--names", "tp"]);
    assert_eq!(
        so,
        "\x1b[37mtpc1 hello1\x1b[0m\n\x1b[32mtpc2 hello2\x1b[0m\n"
    );
    // -c: one container, as `logs` shows it.
    assert_eq!(
        env.rpod_ok(&["pod", "logs", "-c", "tpc1", "tp"]),
        "hello1\n"
    );
    let ts = env.rpod_ok(&["pod", "logs", "-t", "-c", "tpc2", "tp"]);
    assert!(
        ts.starts_with("20") && ts.trim_end().ends_with(" hello2"),
        "{ts}"
    );
    assert_eq!(env.rpod_ok(&["pod", "logs", "--tail", "0", "tp"]), "");
    let (code, e) = env.rpod_fail(&["pod", "logs", "-c", "nosuch", "tp"]);
    assert_eq!(code, 125);
    assert!(e.contains("nosuch") && e.contains("tp"), "{e}");
    // -f follows all members at once and ends when they have all stopped.
    env.rpod_ok(&[
        "run",
        "-d",
        "--pod",
        "tp",
        "--name",
        "tpc3",
        "alpine",
        "sh",
        "-c",
        "sleep 1; echo late3",
    ]);
    let child = env
        .cmd(&["pod", "logs", "-f", "--names", "tp"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    env.rpod_ok(&["pod", "stop", "-t", "0", "tp"]);
    let out = child.wait_with_output().unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    for l in ["tpc1 hello1", "tpc2 hello2", "tpc3 late3"] {
        assert!(so.lines().any(|x| x == l), "{l}: {so}");
    }
}

#[test]
fn pod_clone_copies_the_pod_and_its_members_and_destroy_removes_the_original() {
    let env = env_with_alpine("podclone");
    let _r = PodReaper(&env);
    two_member_pod(&env);
    let id = env.rpod_ok(&["pod", "clone", "tp"]).trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let ps = env.rpod_ok(&[
        "pod",
        "ps",
        "--format",
        "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
    ]);
    assert!(ps.lines().any(|l| l == "tp-clone Created 3"), "{ps}");
    assert!(ps.lines().any(|l| l == "tp Running 3"), "{ps}");
    let ctrs = env.rpod_ok(&[
        "ps",
        "-a",
        "--pod",
        "--format",
        "{{.Names}} {{.PodName}} {{.Status}}",
    ]);
    assert!(
        ctrs.lines().any(|l| l == "tpc1-clone tp-clone Created"),
        "{ctrs}"
    );
    assert!(
        ctrs.lines().any(|l| l == "tpc2-clone tp-clone Created"),
        "{ctrs}"
    );
    // The labels come along; the clone's members run the same commands.
    let labels = env.rpod_ok(&["pod", "inspect", "--format", "{{.Labels}}", "tp-clone"]);
    assert!(labels.contains("app:tp"), "{labels}");
    // --name, --start, --destroy.
    env.rpod_ok(&["pod", "rm", "-f", "tp-clone"]);
    env.rpod_ok(&["pod", "stop", "-t", "0", "tp"]);
    env.rpod_ok(&["pod", "clone", "--name", "tq", "--start", "--destroy", "tp"]);
    let ps = env.rpod_ok(&["pod", "ps", "--format", "{{.Name}} {{.Status}}"]);
    assert_eq!(ps.trim(), "tq Running", "{ps}");
    assert!(
        eventually(10, || env
            .rpod_ok(&["logs", "tpc2-clone"])
            .contains("hello2")),
        "the clone's member did not run its command"
    );
    let ctrs = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!ctrs.lines().any(|l| l == "tpc1"), "{ctrs}");
    let (code, e) = env.rpod_fail(&["pod", "clone", "nosuchpod"]);
    assert_eq!(code, 125);
    assert!(e.contains("nosuchpod"), "{e}");
    // The clone's own hostname, extra labels and infra name.
    env.rpod_ok(&[
        "pod",
        "clone",
        "--name",
        "tr",
        "--hostname",
        "hh",
        "--label",
        "extra=1",
        "--infra-name",
        "tr-inf",
        "tq",
    ]);
    let i = env.rpod_ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.Hostname}} {{.Labels}}",
        "tr",
    ]);
    assert!(
        i.starts_with("hh ") && i.contains("extra:1") && i.contains("app:tp"),
        "{i}"
    );
    let ctrs = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(ctrs.lines().any(|l| l == "tr-inf"), "{ctrs}");
    assert!(ctrs.lines().any(|l| l == "tpc1-clone-clone"), "{ctrs}");
    // A clone whose name is taken makes nothing.
    env.rpod_ok(&["pod", "create", "--name", "taken"]);
    let before = env.rpod_ok(&["ps", "-a", "-q"]).lines().count();
    env.rpod_fail(&["pod", "clone", "--name", "taken", "tq"]);
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]).lines().count(), before);
}
