//! Pods as the unprivileged test user (issue 15): containers of a pod share
//! the infra's network, ipc and uts namespaces (they reach each other on
//! localhost), ports are published on the pod, `--exit-policy stop`, `pod
//! rm -f` leaves no process, podman's columns, JSON keys and exit codes,
//! and a `kill -9` during `pod create` leaves a consistent state.

use crate::common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Removes every pod (and container) of the env when dropped.
struct PodReaper<'a>(&'a Env);

impl Drop for PodReaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.rpod(&["pod", "rm", "-a", "-f", "-t", "0"]);
        let _ = self.0.rpod(&["rm", "-a", "-f", "-t", "0"]);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    for _ in 0..100 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = write!(s, "GET {path} HTTP/1.0\r\n\r\n");
            let mut out = String::new();
            if s.read_to_string(&mut out).is_ok() && out.starts_with("HTTP/") {
                return Some(out);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn pod_status(env: &Env, pod: &str) -> String {
    env.rpod_ok(&["pod", "inspect", "--format", "{{.State}}", pod])
        .trim()
        .to_string()
}

#[test]
fn members_share_localhost_ipc_and_uts_with_the_pods_hostname() {
    let env = env_with_alpine("podshare");
    let _r = PodReaper(&env);
    let id = env.rpod_ok(&["pod", "create", "--name", "web"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    // A server in one container, a client in another: localhost is shared.
    env.rpod_ok(&[
        "run",
        "-d",
        "--pod",
        "web",
        "--name",
        "srv",
        "alpine",
        "sh",
        "-c",
        "echo from-srv | nc -l -p 7000; sleep 4242150",
    ]);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--pod",
        "web",
        "alpine",
        "sh",
        "-c",
        "for i in $(seq 50); do nc 127.0.0.1 7000 </dev/null && break; sleep 0.1; done; \
         echo ==; hostname; echo ==; for n in net ipc uts pid; do readlink /proc/self/ns/$n; done",
    ]);
    let parts: Vec<&str> = o.split("==\n").collect();
    assert_eq!(parts.len(), 3, "{o}");
    assert!(parts[0].contains("from-srv"), "{o}");
    assert_eq!(parts[1].trim(), "web", "the pod's name is the hostname");
    let srv = env.rpod_ok(&[
        "exec",
        "srv",
        "sh",
        "-c",
        "for n in net ipc uts pid; do readlink /proc/self/ns/$n; done",
    ]);
    let a: Vec<&str> = parts[2].lines().collect();
    let b: Vec<&str> = srv.lines().collect();
    assert_eq!(a[..3], b[..3], "net, ipc and uts are shared");
    assert_ne!(a[3], b[3], "each container has its own pid namespace");
    // ps --pod shows the pod; the infra is a container of the pod too.
    let ps = env.rpod_ok(&["ps", "-a", "--pod"]);
    let head = ps.lines().next().unwrap();
    assert!(head.ends_with("POD ID        PODNAME"), "{ps}");
    let srv_line = ps.lines().find(|l| l.contains(" srv ")).unwrap();
    assert!(
        srv_line.contains(&id.trim()[..12]) && srv_line.ends_with("web"),
        "{ps}"
    );
    assert!(ps.contains("-infra"), "{ps}");
    assert_eq!(pod_status(&env, "web"), "Running");
}

#[test]
fn ports_are_published_on_the_pod() {
    let env = env_with_alpine("podports");
    let _r = PodReaper(&env);
    let port = free_port();
    env.rpod_ok(&["pod", "create", "--name", "pp", "-p", &format!("{port}:80")]);
    env.rpod_ok(&[
        "run", "-d", "--pod", "pp", "alpine", "httpd", "-f", "-p", "80", "-h", "/etc",
    ]);
    let got = http_get(port, "/hostname").expect("the pod's published port answers");
    assert!(
        got.contains("200 OK") && got.trim_end().ends_with("pp"),
        "{got}"
    );
    let insp = env.rpod_ok(&["pod", "inspect", "pp"]);
    assert!(
        insp.contains(&format!("\"HostPort\": \"{port}\"")),
        "{insp}"
    );
    // A member can't publish ports of its own.
    let (code, e) = env.rpod_fail(&["run", "--pod", "pp", "-p", "81:81", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("published or exposed ports must be defined when the pod is created"),
        "{e}"
    );
}

#[test]
fn exit_policy_stop_ends_the_pod_with_its_last_container() {
    let env = env_with_alpine("podexit");
    let _r = PodReaper(&env);
    env.rpod_ok(&[
        "pod",
        "create",
        "--name",
        "stopper",
        "--exit-policy",
        "stop",
    ]);
    env.rpod_ok(&["pod", "create", "--name", "goer"]);
    for p in ["stopper", "goer"] {
        env.rpod_ok(&["run", "-d", "--pod", p, "alpine", "sleep", "1"]);
    }
    assert!(
        eventually(20, || pod_status(&env, "stopper") == "Exited"),
        "exit policy stop: {}",
        pod_status(&env, "stopper")
    );
    assert_eq!(
        env.rpod_ok(&["pod", "inspect", "--format", "{{.ExitPolicy}}", "stopper"])
            .trim(),
        "stop"
    );
    // continue: the infra runs on.
    assert!(eventually(10, || pod_status(&env, "goer") == "Degraded"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pod_status(&env, "goer"), "Degraded");
    let (code, e) = env.rpod_fail(&["pod", "create", "--exit-policy", "bogus"]);
    assert_eq!(code, 125);
    assert!(e.contains("invalid pod exit policy: \"bogus\""), "{e}");
}

#[test]
fn pod_rm_force_leaves_no_process() {
    let env = env_with_alpine("podrmf");
    let _r = PodReaper(&env);
    env.rpod_ok(&[
        "pod",
        "create",
        "--name",
        "gone",
        "-p",
        &format!("{}:80", free_port()),
    ]);
    env.rpod_ok(&["run", "-d", "--pod", "gone", "alpine", "sleep", "4242151"]);
    // A member that runs as another uid than 0 is stopped too.
    env.rpod_ok(&[
        "run", "-d", "--pod", "gone", "--user", "1000", "alpine", "sleep", "4242152",
    ]);
    assert_eq!(procs_with("4242151").len(), 1);
    let infra = env.rpod_ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.InfraContainerID}}",
        "gone",
    ]);
    let infra_pid = field(&env, infra.trim(), "{{.State.Pid}}");
    assert!(std::path::Path::new(&format!("/proc/{infra_pid}")).exists());
    // Without -f, a running pod stays.
    let (code, e) = env.rpod_fail(&["pod", "rm", "gone"]);
    assert_eq!(code, 125, "{e}");
    assert!(e.contains("cannot remove container"), "{e}");
    let id = env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "gone"]);
    assert_eq!(id.trim().len(), 64);
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]), "");
    assert_clean(&env, &["4242151", "4242152"]);
    assert!(eventually(5, || !std::path::Path::new(&format!(
        "/proc/{infra_pid}"
    ))
    .exists()));
    // podman 4.3: rm -f of a pod that does not exist is no error.
    env.rpod_ok(&["pod", "rm", "-f", "nosuchpod"]);
    env.rpod_ok(&["pod", "rm", "--ignore", "nosuchpod"]);
    let (code, e) = env.rpod_fail(&["pod", "rm", "nosuchpod"]);
    assert_ne!(code, 0);
    assert!(e.contains("no such pod"), "{e}");
}

/// `pod create --replace` of a pod whose member runs as uid 1000 stops
/// that member (from the user's own namespace: a new one could not signal
/// it) and makes the new pod.
#[test]
fn pod_create_replace_stops_members_of_any_uid() {
    let env = env_with_alpine("podrepl");
    let _r = PodReaper(&env);
    env.rpod_ok(&["pod", "create", "--name", "rp"]);
    env.rpod_ok(&[
        "run", "-d", "--pod", "rp", "--user", "1000", "alpine", "sleep", "4242161",
    ]);
    let old = env.rpod_ok(&["pod", "inspect", "--format", "{{.Id}}", "rp"]);
    let new = env.rpod_ok(&["pod", "create", "--replace", "--name", "rp"]);
    assert_ne!(old.trim(), new.trim());
    assert_eq!(
        env.rpod_ok(&["pod", "ps", "-q", "--no-trunc"]).trim(),
        new.trim()
    );
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "rp"]);
    assert_clean(&env, &["4242161"]);
}

/// A pod on the host's network: its members are too, and get none of the
/// net.* default sysctls (the host's namespace is not theirs to change).
#[test]
fn members_of_a_pod_on_the_host_network_start() {
    let env = env_with_alpine("podhost");
    let _r = PodReaper(&env);
    env.rpod_ok(&["pod", "create", "--network", "host", "--name", "hp"]);
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    let theirs = env.rpod_ok(&[
        "run",
        "--rm",
        "--pod",
        "hp",
        "alpine",
        "readlink",
        "/proc/self/ns/net",
    ]);
    assert_eq!(theirs.trim(), ours.to_string_lossy());
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "hp"]);
}

#[test]
fn pod_ls_columns_json_and_exit_codes_are_podmans() {
    let env = env_with_alpine("podls");
    let _r = PodReaper(&env);
    let id = env.rpod_ok(&["pod", "create", "--name", "p1", "--label", "a=b"]);
    let id = id.trim();
    let ls = env.rpod_ok(&["pod", "ls"]);
    let mut lines = ls.lines();
    assert_eq!(
        lines
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        "POD ID NAME STATUS CREATED INFRA ID # OF CONTAINERS"
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&id[..12]) && row.contains(" p1 ") && row.contains("Created"),
        "{ls}"
    );
    assert!(row.trim_end().ends_with(" 1"), "{ls}");
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]).trim(), &id[..12]);
    let v: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["pod", "ps", "--format", "json"])).unwrap();
    let keys: Vec<&str> = v[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for k in [
        "Cgroup",
        "Containers",
        "Created",
        "Id",
        "InfraId",
        "Name",
        "Namespace",
        "Networks",
        "Status",
        "Labels",
    ] {
        assert!(keys.contains(&k), "{k} missing: {keys:?}");
    }
    assert_eq!(v[0]["Labels"]["a"], "b");
    assert_eq!(v[0]["Containers"][0]["Status"], "created");
    let insp: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["pod", "inspect", "p1"])).unwrap();
    assert_eq!(insp["Id"], id);
    assert_eq!(insp["State"], "Created");
    assert_eq!(insp["NumContainers"], 1);
    assert_eq!(
        insp["SharedNamespaces"],
        serde_json::json!(["uts", "ipc", "net"])
    );
    assert_eq!(insp["InfraContainerID"], v[0]["InfraId"]);
    assert_eq!(env.rpod(&["pod", "exists", "p1"]).status.code(), Some(0));
    assert_eq!(env.rpod(&["pod", "exists", "nope"]).status.code(), Some(1));
    let (code, e) = env.rpod_fail(&["pod", "inspect", "nope"]);
    assert_eq!(code, 125);
    assert!(e.contains("no such pod"), "{e}");
    let (code, e) = env.rpod_fail(&["pod", "create", "--name", "p1"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("name \"p1\" is in use: pod already exists"),
        "{e}"
    );
    // Start, pause, unpause, stop, restart, kill: the states follow.
    env.rpod_ok(&["run", "-d", "--pod", "p1", "alpine", "sleep", "4242153"]);
    assert_eq!(pod_status(&env, "p1"), "Running");
    assert_eq!(env.rpod_ok(&["pod", "stop", "-t", "0", "p1"]).trim(), id);
    assert_eq!(pod_status(&env, "p1"), "Exited");
    assert_eq!(env.rpod_ok(&["pod", "start", "p1"]).trim(), id);
    assert_eq!(pod_status(&env, "p1"), "Running");
    env.rpod_ok(&["pod", "pause", "p1"]);
    assert_eq!(pod_status(&env, "p1"), "Paused");
    env.rpod_ok(&["pod", "unpause", "p1"]);
    assert_eq!(pod_status(&env, "p1"), "Running");
    env.rpod_ok(&["pod", "kill", "p1"]);
    assert!(eventually(10, || pod_status(&env, "p1") == "Exited"));
    let (code, e) = env.rpod_fail(&["pod", "kill", "p1"]);
    assert_eq!(code, 125, "{e}");
    env.rpod_ok(&["pod", "restart", "p1"]);
    assert_eq!(pod_status(&env, "p1"), "Running");
    // prune removes only stopped pods.
    env.rpod_ok(&["pod", "create", "--name", "p2"]);
    env.rpod_ok(&["pod", "stop", "-t", "0", "p1"]);
    assert_eq!(env.rpod_ok(&["pod", "prune", "-f"]).trim(), id);
    assert_eq!(
        env.rpod_ok(&["pod", "ps", "--format", "{{.Name}}"]).trim(),
        "p2"
    );
    // Events of the pod's life.
    let ev = env.rpod_ok(&["events", "--stream=false"]);
    assert!(ev.contains(&format!("pod create {id}")), "{ev}");
    assert!(ev.contains(&format!("pod remove {id}")), "{ev}");
}

#[test]
fn create_pod_new_and_pod_id_file() {
    let env = env_with_alpine("podnew");
    let _r = PodReaper(&env);
    let o = env.rpod_ok(&["run", "--rm", "--pod", "new:fresh", "alpine", "hostname"]);
    assert_eq!(o.trim(), "fresh");
    let f = env.home.join("pod.id");
    env.rpod_ok(&[
        "pod",
        "create",
        "--name",
        "byfile",
        "--pod-id-file",
        f.to_str().unwrap(),
    ]);
    let c = env.rpod_ok(&[
        "create",
        "--pod-id-file",
        f.to_str().unwrap(),
        "alpine",
        "hostname",
    ]);
    // create does not start the infra; start does.
    assert_eq!(pod_status(&env, "byfile"), "Created");
    env.rpod_ok(&["start", c.trim()]);
    assert!(eventually(10, || env.rpod_ok(&["logs", c.trim()]).trim() == "byfile"));
    let (code, e) = env.rpod_fail(&["run", "--pod", "nosuch", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("no such pod"), "{e}");
}

#[test]
fn kill_9_during_pod_create_leaves_a_consistent_state() {
    let env = env_with_alpine("podkill");
    let _r = PodReaper(&env);
    // Make the pause image first, so the kills land in the create itself.
    env.rpod_ok(&["pod", "create", "--name", "warm"]);
    for (i, delay) in [5u64, 20, 40, 60, 90, 120, 200].iter().enumerate() {
        let name = format!("k{i}");
        let mut child = crate::common::spawn_killable(env.cmd(&["pod", "create", "--name", &name]));
        std::thread::sleep(Duration::from_millis(*delay));
        crate::common::kill9(&mut child);
        // Every pod has its infra; every container of a pod has its pod.
        let pods = env.rpod_ok(&[
            "pod",
            "ps",
            "--no-trunc",
            "--format",
            "{{.Id}} {{.InfraId}}",
        ]);
        let ps = env.rpod_ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Pod}}"]);
        for l in pods.lines() {
            let (_, infra) = l.split_once(' ').unwrap();
            assert!(ps.contains(infra), "pod without its infra: {l}\n{ps}");
        }
        for l in ps.lines() {
            let (_, pod) = l.split_once(' ').unwrap_or((l, ""));
            assert!(
                pod.is_empty() || pods.contains(pod),
                "orphan container {l}\n{pods}"
            );
        }
        // The name is usable again (or taken by a whole pod).
        let o = env.rpod(&["pod", "create", "--name", &name]);
        if !o.status.success() {
            assert!(err(&o).contains("pod already exists"), "{}", err(&o));
            env.rpod_ok(&["pod", "exists", &name]);
        }
    }
    env.rpod_ok(&["pod", "rm", "-a", "-f", "-t", "0"]);
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]), "");
    assert_clean(&env, &[]);
}
