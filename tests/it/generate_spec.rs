//! `generate spec` as the unprivileged test user: podman's SpecGenerator
//! JSON of a container and PodSpecGenerator JSON of a pod, checked for what
//! they say, and side by side with rootless podman 4.3.1's for the same
//! `create` flags (same keys, in the same order, same values).

use crate::build_podman::podman;
use crate::common::*;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The top-level keys of pretty-printed JSON, in the order written (a
/// serde_json map forgets the order).
fn key_order(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(" \""))
        .filter_map(|l| l.split_once('"').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn spec_of_a_container_says_what_it_was_made_with() {
    let env = env_with_alpine("genspec");
    let _r = Reaper(&env);
    let host = env.dir.join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    let host = host.to_str().unwrap();
    env.rpod_ok(&["volume", "create", "specv"]);
    env.rpod_ok(&[
        "create",
        "--name",
        "web",
        "-e",
        "A=1",
        "-e",
        "B=<&>",
        "--label",
        "l=v",
        "--annotation",
        "an=av",
        "-p",
        "8093:80",
        "-v",
        "specv:/data:ro",
        "-v",
        &format!("{host}:/h"),
        "--tmpfs",
        "/scr",
        "--cap-add",
        "net_admin",
        "--cap-drop",
        "chown",
        "-u",
        "1000:1000",
        "--hostname",
        "hh",
        "-w",
        "/tmp",
        "--restart",
        "on-failure:3",
        "--health-cmd",
        "true",
        "--stop-signal",
        "SIGINT",
        "--stop-timeout",
        "5",
        "--read-only",
        "alpine",
        "sleep",
        "100",
    ]);
    let text = env.rpod_ok(&["generate", "spec", "web"]);
    // podman's layout: one space per level, Go's escapes.
    assert!(text.starts_with("{\n \"name\": \"web-clone\",\n"), "{text}");
    assert!(text.contains("\"B\": \"\\u003c\\u0026\\u003e\""), "{text}");
    let s = json(&text);
    assert_eq!(s["command"], serde_json::json!(["sleep", "100"]));
    assert_eq!(s["env"]["A"], "1");
    assert_eq!(s["env"]["B"], "<&>");
    assert_eq!(s["labels"]["l"], "v");
    assert_eq!(s["annotations"]["an"], "av");
    assert_eq!(
        s["portmappings"],
        serde_json::json!([{"host_ip": "", "container_port": 80, "host_port": 8093,
                            "range": 1, "protocol": "tcp"}])
    );
    assert_eq!(s["volumes"][0]["Name"], "specv");
    assert_eq!(s["volumes"][0]["Dest"], "/data");
    assert_eq!(s["volumes"][0]["Options"][0], "ro");
    let mounts = s["mounts"].as_array().unwrap();
    let m = |d: &str| mounts.iter().find(|m| m["destination"] == d).cloned();
    let h = m("/h").unwrap_or_else(|| panic!("no /h in {text}"));
    assert_eq!(
        (h["type"].as_str(), h["source"].as_str()),
        (Some("bind"), Some(host))
    );
    assert_eq!(m("/scr").unwrap()["type"], "tmpfs");
    // --read-only's tmpfs are there too.
    for d in ["/run", "/tmp", "/var/tmp"] {
        assert!(m(d).is_some(), "no {d} in {text}");
    }
    assert_eq!(s["cap_add"], serde_json::json!(["net_admin"]));
    assert_eq!(s["cap_drop"], serde_json::json!(["chown"]));
    assert_eq!(s["user"], "1000:1000");
    assert_eq!(s["hostname"], "hh");
    assert_eq!(s["work_dir"], "/tmp");
    assert_eq!(s["restart_policy"], "on-failure");
    assert_eq!(s["restart_tries"], 3);
    assert_eq!(s["stop_signal"], 2);
    assert_eq!(s["stop_timeout"], 5);
    assert_eq!(s["read_only_filesystem"], true);
    assert_eq!(
        s["healthconfig"]["Test"],
        serde_json::json!(["CMD-SHELL", "true"])
    );
    assert_eq!(s["netns"], serde_json::json!({"nsmode": "slirp4netns"}));
    assert_eq!(s["umask"], "0022");
    let image = env.rpod_ok(&["inspect", "--format", "{{.Image}}", "web"]);
    assert_eq!(s["image"], image.trim());
    // -c: one line; --name=false keeps the name.
    let c = env.rpod_ok(&["generate", "spec", "-c", "--name=false", "web"]);
    assert_eq!(c.lines().count(), 1, "{c}");
    let cs = json(&c);
    assert_eq!(cs["name"], "web");
    assert_eq!(keys(&cs), keys(&s));
    // -f: written (and replaced), its path printed.
    let f = env.home.join("web.json");
    std::fs::write(&f, "old").unwrap();
    let fs = f.to_str().unwrap();
    let printed = env.rpod_ok(&["generate", "spec", "-f", fs, "web"]);
    assert_eq!(printed.trim(), fs);
    assert_eq!(
        json(&std::fs::read_to_string(&f).unwrap())["name"],
        "web-clone"
    );
    // A name that is a clone's counts on.
    env.rpod_ok(&["create", "--name", "web-clone", "alpine", "true"]);
    let n = json(&env.rpod_ok(&["generate", "spec", "-c", "web-clone"]));
    assert_eq!(n["name"], "web-clone1");
    env.rpod_ok(&["create", "--name", "web-clone1", "alpine", "true"]);
    let n = json(&env.rpod_ok(&["generate", "spec", "-c", "web-clone"]));
    assert_eq!(n["name"], "web-clone2");
    // The default hostname (the short id) is not the copy's.
    let n = json(&env.rpod_ok(&["generate", "spec", "-c", "web-clone1"]));
    assert!(n.get("hostname").is_none(), "{n}");
    assert!(n["env"].get("HOSTNAME").is_none(), "{n}");
    // Nothing of that name: podman's message and exit code.
    let (code, err) = env.rpod_fail(&["generate", "spec", "nosuch"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("could not find a pod or container with the id nosuch"),
        "{err}"
    );
    env.rpod_ok(&["rm", "-a", "-f", "-t", "0"]);
    env.rpod_ok(&["volume", "rm", "specv"]);
}

#[test]
fn spec_of_a_pod_and_of_its_container() {
    let env = env_with_alpine("genspecpod");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "pod", "create", "--name", "pd", "-p", "8094:80", "--label", "pl=1",
    ]);
    env.rpod_ok(&[
        "create", "--pod", "pd", "--name", "pdc", "alpine", "sleep", "100",
    ]);
    let p = json(&env.rpod_ok(&["generate", "spec", "pd"]));
    assert_eq!(p["name"], "pd-clone");
    assert_eq!(p["labels"]["pl"], "1");
    assert_eq!(p["netns"], serde_json::json!({"nsmode": "slirp4netns"}));
    assert_eq!(p["portmappings"][0]["container_port"], 80);
    assert_eq!(p["portmappings"][0]["host_port"], 8094);
    let infra = env.rpod_ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", "pd"]);
    let infra_image = env.rpod_ok(&["inspect", "--format", "{{.Image}}", infra.trim()]);
    assert_eq!(p["infra_image"], infra_image.trim());
    // The member: in its pod, the pod's shared namespaces left unset.
    let c = json(&env.rpod_ok(&["generate", "spec", "pdc"]));
    let pod_id = env.rpod_ok(&["pod", "inspect", "--format", "{{.Id}}", "pd"]);
    assert_eq!(c["pod"], pod_id.trim());
    for k in ["netns", "utsns", "ipcns"] {
        assert_eq!(c[k], serde_json::json!({}), "{k}: {c}");
    }
    assert!(c.get("portmappings").is_none(), "{c}");
    assert_eq!(c["pidns"], serde_json::json!({"nsmode": "default"}));
    // A pod without an infra (podman 4.3.1 crashes on it).
    env.rpod_ok(&["pod", "create", "--name", "bare", "--infra=false"]);
    let b = json(&env.rpod_ok(&["generate", "spec", "-c", "--name=false", "bare"]));
    assert_eq!(b["name"], "bare");
    assert_eq!(b["no_infra"], true);
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "pd", "bare"]);
}

/// Kills the rootless podman pause process this test's podman started (its
/// pid file is under the Env's runtime dir), by its id.
struct PodmanPause<'a>(&'a Env);

impl Drop for PodmanPause<'_> {
    fn drop(&mut self) {
        let pidfile = self.0.runtime_dir.join("libpod/tmp/pause.pid");
        if let Some(pid) = std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .filter(|p| *p > 1)
        {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
}

/// The same `create` flags given to rpod and to rootless podman 4.3.1:
/// every key podman writes (but `groups`, which rpod does not record) is
/// in rpod's spec, in podman's order, with the same value where both
/// record the same thing.
#[test]
fn spec_keys_and_values_match_podman() {
    let env = env_with_alpine("genspecpm");
    let _r = Reaper(&env);
    let _p = PodmanPause(&env);
    podman(&env, &["pull", "-q", "alpine"]);
    let flags: &[&[&str]] = &[
        &[
            "--name",
            "a",
            "-e",
            "A=1",
            "--label",
            "l=v",
            "-p",
            "8096:80",
            "-v",
            "cmpv:/data:ro",
            "--restart",
            "on-failure:3",
            "-u",
            "1000:1000",
            "alpine",
            "sleep",
            "100",
        ],
        &[
            "--name",
            "b",
            "-i",
            "--rm",
            "--userns",
            "keep-id",
            "--umask",
            "0077",
            "--entrypoint",
            "/bin/sh",
            "alpine",
            "-c",
            "true",
        ],
    ];
    env.rpod_ok(&["volume", "create", "cmpv"]);
    podman(&env, &["volume", "create", "cmpv"]);
    for f in flags {
        let name = f[1];
        env.rpod_ok(&[&["create"], *f].concat());
        podman(&env, &[&["create"], *f].concat());
        let rt = env.rpod_ok(&["generate", "spec", name]);
        let pt = podman(&env, &["generate", "spec", name]);
        let (r, p) = (json(&rt), json(&pt));
        // podman's keys in rpod's, in the same order.
        let rk = key_order(&rt);
        let pk: Vec<String> = key_order(&pt)
            .into_iter()
            .filter(|k| k != "groups")
            .collect();
        let common: Vec<&String> = rk.iter().filter(|k| pk.contains(k)).collect();
        assert_eq!(
            common,
            pk.iter().collect::<Vec<_>>(),
            "{name}: podman's keys {pk:?}, rpod's {rk:?}"
        );
        for k in [
            "name",
            "entrypoint",
            "command",
            "labels",
            "restart_policy",
            "stdin",
            "volatile",
            "sdnotifyMode",
            "pidns",
            "utsns",
            "ipcns",
            "cgroupns",
            "userns",
            "idmappings",
            "netns",
            "portmappings",
            "Networks",
            "init_container_type",
            "image",
            "user",
            "selinux_opts",
            "umask",
            "use_image_hosts",
        ] {
            assert_eq!(r.get(k), p.get(k), "{name}: {k}\nrpod: {rt}\npodman: {pt}");
        }
        let env_of = |v: &Value| {
            let mut e = v["env"].as_object().unwrap().clone();
            e.remove("container");
            e
        };
        assert_eq!(env_of(&r), env_of(&p), "{name}");
        let vols = |v: &Value| -> Vec<(Value, Value, Value)> {
            v["volumes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            (
                                x["Name"].clone(),
                                x["Dest"].clone(),
                                x["Options"][0].clone(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(vols(&r), vols(&p), "{name}");
    }
    // A pod: the same keys in the same order (rpod adds its hostname).
    let pod_create = [
        "pod", "create", "--name", "pp", "-p", "8097:80", "--label", "pl=1",
    ];
    env.rpod_ok(&pod_create);
    podman(&env, &pod_create);
    let rt = env.rpod_ok(&["generate", "spec", "pp"]);
    // podman 4.3.1 prints a line before a pod's JSON on stdout (rpod
    // does not: its output is JSON for a program to read).
    let pt = podman(&env, &["generate", "spec", "pp"]);
    let pt = pt[pt.find('{').unwrap()..].to_string();
    let (r, p) = (json(&rt), json(&pt));
    let rk: Vec<String> = key_order(&rt)
        .into_iter()
        .filter(|k| k != "hostname")
        .collect();
    assert_eq!(rk, key_order(&pt), "rpod: {rt}\npodman: {pt}");
    for k in [
        "name",
        "pidns",
        "userns",
        "utsns",
        "netns",
        "portmappings",
        "Networks",
        "idmappings",
    ] {
        assert_eq!(r.get(k), p.get(k), "pod: {k}\nrpod: {rt}\npodman: {pt}");
    }
    assert_eq!(r["labels"]["pl"], p["labels"]["pl"]);
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "pp"]);
    podman(&env, &["pod", "rm", "-f", "pp"]);
    podman(&env, &["rm", "-a", "-f"]);
    podman(&env, &["volume", "rm", "cmpv"]);
}
