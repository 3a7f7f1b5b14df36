//! Warm bridges while the rootless network namespace lingers (issue 14).
//!
//! `netavark teardown` of the last container on a network deletes the
//! bridge and the network's firewall rules, and `netavark setup` of the next
//! one makes them again: about twenty `iptables` runs each way, most of a
//! `run --rm --network NAME` on a warm namespace. So when the last user of
//! the namespace leaves, its monitor first puts a spare port on each of its
//! bridges (one end of a veth pair, no address, down; the other end stays
//! unused in the namespace: the kernel may lack the dummy driver): netavark
//! sees a port left and keeps the bridge and rules (the container's own
//! veth, addresses and DNS names go as always), and aardvark-dns is kept
//! running by a config that names nothing.
//!
//! The spare port stays until the namespace ends (after its linger,
//! `network rm` of an idle one, `system reset`), which takes everything with
//! it: taking it off would cost the next start a veth's deletion (~50 ms).
//! `network rm` of a kept network while other containers use the namespace
//! takes its bridge away ([`forget`]); a kept network whose config has gone
//! or changed meanwhile (podman's `network rm`) makes the next container
//! start a fresh namespace ([`stale`]).
//!
//! Each kept network has a marker `kept/NAME` (its id) beside the
//! namespace's state; the spare ports are named `rk` + 12 characters of the
//! id (their peers `rl`...).

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

pub(super) fn ip_tool() -> Option<PathBuf> {
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
    let mut new = Vec::new();
    for (name, id, br) in &nets {
        // Kept already: nothing to do.
        if std::fs::read_to_string(d.join(name)).is_ok_and(|k| k == *id) {
            continue;
        }
        let (a, b) = (dummy(id), format!("rl{}", &dummy(id)[2..]));
        batch.push_str(&format!(
            "link add {a} master {br} type veth peer name {b}\n"
        ));
        new.push((name, id));
    }
    // `-force`: a spare left from before (a killed monitor) is no error.
    if !batch.is_empty() {
        ip_batch(&batch);
    }
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
    for (name, id) in new {
        let _ = crate::storage::write_atomic_volatile(&d.join(name), id.as_bytes());
    }
}

/// `network rm` of a network whose bridge is kept while other containers
/// use the namespace: take the spare port and the bridge away (its
/// firewall rules stay until the namespace ends; they name its old subnet
/// only). Inside the namespace.
pub fn forget(paths: &Paths, name: &str, id: &str, bridge: &str) {
    let m = dir(paths).join(name);
    if !m.exists() {
        return;
    }
    if !bridge.is_empty() {
        ip_batch(&format!("link del {}\nlink del {bridge}\n", dummy(id)));
    }
    let _ = std::fs::remove_file(m);
}

/// The id of network `name` when its bridge is kept (bridge and firewall
/// rules in place for it).
pub fn kept_id(paths: &Paths, name: &str) -> Option<String> {
    std::fs::read_to_string(dir(paths).join(name)).ok()
}

/// Whether the namespace's aardvark-dns runs.
pub(super) fn aardvark_running(paths: &Paths) -> bool {
    let pidfile = super::rootless::config_dir(paths).join("aardvark-dns/aardvark.pid");
    std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .is_some_and(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "aardvark-dns")
        })
}

/// Whether network `name` has a kept bridge.
pub fn is_kept(paths: &Paths, name: &str) -> bool {
    dir(paths).join(name).exists()
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

/// After `netavark setup`: wait until aardvark-dns answers for `name` on
/// each of `servers` (the networks' DNS addresses, from inside the rootless
/// network namespace). netavark only signals a running aardvark-dns to
/// reload, and a lookup right after the start could come before it did, or
/// find a reload lost between two quick signals (a teardown's, then this
/// setup's): this container's peers would not find it yet. A server still
/// silent after a few tries is signalled again. Bounded (about a second);
/// never an error.
pub fn wait_for_name(paths: &Paths, servers: &[std::net::IpAddr], name: &str) {
    use std::time::{Duration, Instant};
    if servers.is_empty() || name.is_empty() {
        return;
    }
    let Some(query) = dns_query(name) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    for server in servers {
        let Ok(sock) = std::net::UdpSocket::bind(if server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }) else {
            continue;
        };
        let _ = sock.set_read_timeout(Some(Duration::from_millis(20)));
        let mut tries = 0u32;
        while Instant::now() < deadline {
            tries += 1;
            if sock.send_to(&query, (*server, 53)).is_ok() && answered(&sock, &query) {
                break;
            }
            if tries % 5 == 0 {
                hup_aardvark(paths);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A DNS query (id 0x7270, recursion desired) for the A record of `name`.
fn dns_query(name: &str) -> Option<Vec<u8>> {
    let mut q = vec![0x72, 0x70, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    Some(q)
}

/// Whether the reply on `sock` to `query` has an answer (no error).
fn answered(sock: &std::net::UdpSocket, query: &[u8]) -> bool {
    let mut buf = [0u8; 512];
    while let Ok(n) = sock.recv(&mut buf) {
        if n < 12 || buf[..2] != query[..2] {
            continue;
        }
        let rcode = buf[3] & 0x0f;
        let answers = u16::from_be_bytes([buf[6], buf[7]]);
        return rcode == 0 && answers > 0;
    }
    false
}

/// Ask the namespace's aardvark-dns to read its configs again.
pub(super) fn hup_aardvark(paths: &Paths) {
    let pidfile = super::rootless::config_dir(paths).join("aardvark-dns/aardvark.pid");
    let Some(pid) = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return;
    };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim_end() == "aardvark-dns" {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_a_query_for_an_a_record() {
        let q = super::dns_query("db.dns.podman").unwrap();
        assert_eq!(&q[12..], b"\x02db\x03dns\x06podman\x00\x00\x01\x00\x01");
        assert_eq!(q[5], 1);
        assert!(super::dns_query(&"x".repeat(64)).is_none());
    }
}
