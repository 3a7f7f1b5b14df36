//! Warm bridges while the rootless network namespace lingers (issue 14).
//!
//! `netavark teardown` of the last container on a network deletes the
//! bridge and the network's firewall rules, and `netavark setup` of the next
//! one makes them again: about twenty `iptables` runs each way, most of a
//! `run --rm --network NAME` on a warm namespace. So when the last user of
//! the whole namespace leaves, its monitor first puts a dummy port (no
//! address, down) on each of its bridges: netavark sees a port left and
//! keeps the bridge and rules (the container's own veth, addresses and DNS
//! names go as always), and aardvark-dns is kept running by a config that
//! names nothing. The next container's setup on that network takes
//! the dummy off again, so a bridge is only kept while the namespace is
//! idle; the namespace's end (after its linger, `network rm`, `system
//! reset`) takes everything with it. A kept network whose config has gone
//! or changed meanwhile makes the next container start a fresh namespace
//! ([`stale`]).
//!
//! Each kept network has a marker `kept/NAME` (its id) beside the
//! namespace's state; the dummies are named `rk` + 12 characters of the id (peers `rl`...).

use crate::container::record::Paths;
use std::path::{Path, PathBuf};

/// The listener-only aardvark-dns config that keeps it running ([`hold`]).
const AARDVARK_KEEP: &str = "_rpod_keep";

fn dir(paths: &Paths) -> PathBuf {
    super::rootless::dir(paths).join("kept")
}

fn dummy(id: &str) -> String {
    format!("rk{}", &id[..12.min(id.len())])
}

fn ip_tool() -> Option<PathBuf> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// `ip -batch -` with `lines`, quietly; whether it worked.
fn ip_batch(lines: &str) -> bool {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let Some(ip) = ip_tool() else {
        return false;
    };
    let Ok(mut c) = Command::new(ip)
        .args(["-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    if let Some(mut i) = c.stdin.take() {
        let _ = i.write_all(lines.as_bytes());
    }
    c.wait().is_ok_and(|s| s.success())
}

/// The (name, id, bridge) of each bridge network in netavark `options`.
fn bridges(options: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    if let Some(m) = options["network_info"].as_object() {
        for (name, n) in m {
            let (Some(id), Some(br)) = (n["id"].as_str(), n["network_interface"].as_str()) else {
                continue;
            };
            if n["driver"].as_str() == Some("bridge") && !br.is_empty() && !id.is_empty() {
                out.push((name.clone(), id.to_string(), br.to_string()));
            }
        }
    }
    out
}

/// Before the teardown of the namespace's last user: a dummy port on each
/// of its bridges. Runs inside the rootless network namespace.
pub fn hold(paths: &Paths, options: &serde_json::Value) {
    let nets = bridges(options);
    if nets.is_empty() {
        return;
    }
    let d = dir(paths);
    if std::fs::create_dir_all(&d).is_err() {
        return;
    }
    let mut batch = String::new();
    for (_, id, br) in &nets {
        let (a, b) = (dummy(id), format!("rl{}", &dummy(id)[2..]));
        batch.push_str(&format!(
            "link add {a} master {br} type veth peer name {b}\n"
        ));
    }
    // `-force`: a dummy left from before (a killed monitor) is no error.
    ip_batch(&batch);
    // aardvark-dns stops once no network has a config file left (netavark
    // removes a network's file with its last entry); starting it again is
    // most of the next setup. A config of no network, only a listener on
    // the namespace's loopback (answering nobody, naming nothing), keeps
    // it. The name can't be a network's: those start with a letter or digit.
    let aardvark = super::rootless::config_dir(paths).join("aardvark-dns");
    if aardvark.is_dir() {
        let _ =
            crate::storage::write_atomic_volatile(&aardvark.join(AARDVARK_KEEP), b"127.0.0.1\n");
    }
    for (name, id, _) in &nets {
        let _ = crate::storage::write_atomic_volatile(&d.join(name), id.as_bytes());
    }
}

/// After `netavark setup` on the networks of `options`: take their dummies
/// off (the bridges have a real port again). Inside the namespace.
pub fn release(paths: &Paths, options: &serde_json::Value) {
    let d = dir(paths);
    let mut batch = String::new();
    let mut done = Vec::new();
    for (name, id, _) in bridges(options) {
        let m = d.join(&name);
        if m.exists() {
            batch.push_str(&format!("link del {}\n", dummy(&id)));
            done.push(m);
        }
    }
    if batch.is_empty() {
        return;
    }
    ip_batch(&batch);
    for m in done {
        let _ = std::fs::remove_file(m);
    }
}

/// Whether a kept network was removed or replaced since it was kept (its
/// bridge and rules would be stale): the next container then starts a
/// fresh namespace. `d` is the namespace's directory.
pub fn stale(d: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(d.join("kept")) else {
        return false;
    };
    let nets = super::netconf::Networks::open().ok();
    rd.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let id = std::fs::read_to_string(e.path()).unwrap_or_default();
        let now = nets
            .as_ref()
            .and_then(|n| n.get(&name).ok().flatten())
            .map(|n| n.id);
        now.as_deref() != Some(id.as_str())
    })
}
