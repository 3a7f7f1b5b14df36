//! The warm path of a container's bridge setup (issue 14's speed).
//!
//! On a kept bridge ([`super::keep`]) the network's bridge and firewall
//! rules are in place, and `netavark setup` only checks them again: about
//! twenty `iptables` runs (`-S` dumps and `-C` checks, each a fork, exec and
//! table read), most of a `run --rm --network NAME`. What it then does for
//! the container itself is small, and done here the same way instead: a
//! veth pair whose host end joins the bridge and whose other end goes into
//! the container's namespace under its interface name, the addresses, the
//! default route (metric 100, as netavark), IPv6 autoconf off, and the
//! container's line in the network's aardvark-dns config (netavark's
//! format: `ID IPV4S IPV6S NAMES`) with a reload signal. The answer has
//! netavark's shape, so teardown (still `netavark teardown`: it deletes
//! the container's interface and its aardvark-dns line) and everything
//! else see no difference.
//!
//! Only for what it covers exactly: bridge networks whose kept bridge is
//! for the network's current id, IPv4 subnets, no `vlan`, aardvark-dns
//! running when DNS is on. Anything else, or any failure (what it made is
//! removed first), goes to netavark. The caller holds netavark's lock and
//! runs inside the rootless network namespace.

use super::bridge::{NetAddress, NetInterface, StatusBlock};
use super::netconf::Cidr;
use crate::container::record::Paths;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// One network's part of the work, from netavark's options.
struct Plan {
    network: String,
    bridge: String,
    ifname: String,
    host_veth: String,
    mac: String,
    mtu: Option<u32>,
    metric: u32,
    /// (address, prefix length, gateway)
    addrs: Vec<(IpAddr, u8, Option<IpAddr>)>,
    internal: bool,
    dns: bool,
    /// The container's name and aliases, for aardvark-dns.
    names: Vec<String>,
}

/// Set the container whose network namespace is held by the init `pid` up
/// on its networks without netavark, when the warm path covers them all;
/// `None` when it does not (or it failed, leaving nothing): use netavark.
pub fn setup(
    paths: &Paths,
    options: &serde_json::Value,
    pid: i32,
) -> Option<BTreeMap<String, StatusBlock>> {
    let plans = plan(paths, options)?;
    match apply(paths, options, pid, &plans) {
        Ok(status) => {
            log::debug!("network setup on kept bridges, without netavark");
            Some(status)
        }
        Err(e) => {
            log::debug!("warm network setup: {e:#}; using netavark");
            None
        }
    }
}

fn plan(paths: &Paths, options: &serde_json::Value) -> Option<Vec<Plan>> {
    let info = options["network_info"].as_object()?;
    let nets = options["networks"].as_object()?;
    let present = interfaces();
    let mut taken: Vec<String> = present.clone();
    let cname = options["container_name"].as_str()?.to_string();
    let mut plans = Vec::new();
    for (name, per) in nets {
        let n = info.get(name)?;
        let id = n["id"].as_str()?;
        let bridge = n["network_interface"].as_str()?.to_string();
        if n["driver"].as_str() != Some("bridge")
            || super::keep::kept_id(paths, name).as_deref() != Some(id)
            || !present.contains(&bridge)
        {
            return None;
        }
        let opts = n["options"].as_object();
        let opt = |k: &str| opts.and_then(|o| o.get(k)).and_then(|v| v.as_str());
        if opt("vlan").is_some() {
            return None;
        }
        let mtu = match opt("mtu") {
            Some(m) => Some(m.parse().ok()?),
            None => None,
        };
        let metric = match opt("metric") {
            Some(m) => m.parse().ok()?,
            None => 100,
        };
        let dns = n["dns_enabled"].as_bool().unwrap_or(false);
        if dns && !super::keep::aardvark_running(paths) {
            return None;
        }
        let subnets: Vec<(Cidr, Option<IpAddr>)> = n["subnets"]
            .as_array()?
            .iter()
            .map(|s| {
                let c = Cidr::parse(s["subnet"].as_str()?).ok()?;
                let gw = match s["gateway"].as_str() {
                    Some(g) => Some(g.parse().ok()?),
                    None => None,
                };
                Some((c, gw))
            })
            .collect::<Option<_>>()?;
        if subnets.iter().any(|(c, _)| !c.addr.is_ipv4()) {
            return None;
        }
        let mut addrs = Vec::new();
        for ip in per["static_ips"].as_array()? {
            let ip: IpAddr = ip.as_str()?.parse().ok()?;
            let (c, gw) = subnets.iter().find(|(c, _)| c.contains(ip))?;
            addrs.push((ip, c.len, *gw));
        }
        let host_veth = (0..)
            .map(|i| format!("veth{i}"))
            .find(|v| !taken.contains(v))?;
        taken.push(host_veth.clone());
        let mac = match per["static_mac"].as_str() {
            Some(m) => m.to_string(),
            None => random_mac(),
        };
        let mut names = vec![cname.clone()];
        names.extend(
            per["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(String::from)),
        );
        plans.push(Plan {
            network: name.clone(),
            bridge,
            ifname: per["interface_name"].as_str()?.to_string(),
            host_veth,
            mac,
            mtu,
            metric,
            addrs,
            internal: n["internal"].as_bool().unwrap_or(false),
            dns,
            names,
        });
    }
    (!plans.is_empty()).then_some(plans)
}

/// The interfaces of this process's network namespace.
fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/self/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect()
}

/// A random unicast, locally administered MAC address (what the kernel
/// gives a veth).
fn random_mac() -> String {
    let id = crate::container::names::new_id();
    let mut b = hex::decode(&id[..12]).unwrap_or_else(|_| vec![0x42; 6]);
    b[0] = (b[0] & 0xfe) | 0x02;
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn apply(
    paths: &Paths,
    options: &serde_json::Value,
    pid: i32,
    plans: &[Plan],
) -> Result<BTreeMap<String, StatusBlock>> {
    let r = apply_links(pid, plans).and_then(|_| add_names(paths, options, plans));
    if r.is_err() {
        // Deleting the host end deletes the pair.
        let del: String = plans
            .iter()
            .map(|p| format!("link del {}\n", p.host_veth))
            .collect();
        let _ = ip_batch(&del);
    }
    r?;
    let mut status = BTreeMap::new();
    for p in plans {
        let mut st = StatusBlock::default();
        if p.dns {
            st.dns_search_domains = vec!["dns.podman".to_string()];
            st.dns_server_ips = gateways(p).iter().map(|g| g.to_string()).collect();
        }
        st.interfaces.insert(
            p.ifname.clone(),
            NetInterface {
                mac_address: p.mac.clone(),
                subnets: p
                    .addrs
                    .iter()
                    .map(|(ip, len, gw)| NetAddress {
                        ipnet: format!("{ip}/{len}"),
                        gateway: gw.map(|g| g.to_string()),
                    })
                    .collect(),
            },
        );
        status.insert(p.network.clone(), st);
    }
    Ok(status)
}

fn gateways(p: &Plan) -> Vec<IpAddr> {
    let mut g: Vec<IpAddr> = p.addrs.iter().filter_map(|a| a.2).collect();
    g.dedup();
    g
}

/// The veth pairs (from here, the rootless namespace), then the container's
/// side (from a thread inside its namespace: a namespace is per thread).
fn apply_links(pid: i32, plans: &[Plan]) -> Result<()> {
    let mut host = String::new();
    let mut inner = String::from("link set lo up\n");
    for p in plans {
        let mtu = p.mtu.map(|m| format!(" mtu {m}")).unwrap_or_default();
        host.push_str(&format!(
            "link add {h}{mtu} type veth peer name {i} address {mac}{mtu} netns {pid}\nlink set {h} master {br} up\n",
            h = p.host_veth,
            i = p.ifname,
            mac = p.mac,
            br = p.bridge,
        ));
        inner.push_str(&format!("link set {} up\n", p.ifname));
        for (ip, len, _) in &p.addrs {
            inner.push_str(&format!(
                "addr add {ip}/{len} broadcast + dev {}\n",
                p.ifname
            ));
        }
    }
    // A default route through each network's gateway, as netavark makes
    // them (one per network, sharing the metric); internal networks
    // give none.
    for p in plans.iter().filter(|p| !p.internal) {
        if let Some(gw) = gateways(p).first() {
            inner.push_str(&format!(
                "route add default via {gw} dev {} proto static metric {}\n",
                p.ifname, p.metric
            ));
        }
    }
    ip_batch(&host)?;
    let ifnames: Vec<String> = plans.iter().map(|p| p.ifname.clone()).collect();
    std::thread::scope(|s| {
        s.spawn(|| -> Result<()> {
            let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
                .context("opening the container's network namespace")?;
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .context("entering the container's network namespace")?;
            for i in &ifnames {
                let p = format!("/proc/sys/net/ipv6/conf/{i}/autoconf");
                if std::path::Path::new(&p).exists() {
                    std::fs::write(&p, "0").with_context(|| format!("writing {p}"))?;
                }
            }
            ip_batch(&inner)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
    })
}

/// `ip -batch -` with `lines`; its complaint on failure.
fn ip_batch(lines: &str) -> Result<()> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let ip = super::keep::ip_tool().context("no ip tool (iproute2)")?;
    let mut c = Command::new(&ip)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", ip.display()))?;
    c.stdin
        .take()
        .context("ip stdin")?
        .write_all(lines.as_bytes())?;
    let out = c.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "ip: {}",
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', "; ")
        );
    }
    Ok(())
}

/// The container's line in each DNS-enabled network's aardvark-dns config
/// (made with its header, the network's DNS addresses, when it is the
/// first), then one reload.
fn add_names(paths: &Paths, options: &serde_json::Value, plans: &[Plan]) -> Result<()> {
    let id = options["container_id"].as_str().unwrap_or_default();
    let dir = super::rootless::config_dir(paths).join("aardvark-dns");
    let mut any = false;
    for p in plans.iter().filter(|p| p.dns) {
        let f = dir.join(&p.network);
        let mut text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let g: Vec<String> = gateways(p).iter().map(|g| g.to_string()).collect();
                format!("{}\n", g.join(","))
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", f.display())),
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let v4: Vec<String> = p.addrs.iter().map(|a| a.0.to_string()).collect();
        // No IPv6 addresses on this path: that field is empty.
        text.push_str(&format!(
            "{id} {} {} {}\n",
            v4.join(","),
            "",
            p.names.join(",")
        ));
        crate::storage::write_atomic_volatile(&f, text.as_bytes())?;
        any = true;
    }
    if any {
        super::keep::hup_aardvark(paths);
    }
    Ok(())
}

/// The warm path of teardown, for a container whose networks all have
/// kept bridges (whoever set it up): the bridge, its rules and (without
/// published ports through netavark) every firewall rule stay, so what
/// `netavark teardown` would do is drop the container's aardvark-dns lines
/// and delete its veth. The lines go here; the veth pair goes with the
/// container's network namespace, which the kernel destroys once the
/// caller closes the last handle on it (its init is gone). False when
/// netavark must do it. Inside the rootless namespace, under netavark's
/// lock.
pub fn teardown(paths: &Paths, options: &serde_json::Value, netns: &str) -> bool {
    let (Some(info), Some(id)) = (
        options["network_info"].as_object(),
        options["container_id"].as_str(),
    ) else {
        return false;
    };
    let covered = !info.is_empty()
        && options["port_mappings"]
            .as_array()
            .map_or(true, |a| a.is_empty())
        && info.iter().all(|(name, n)| {
            n["driver"].as_str() == Some("bridge")
                && n["id"].as_str().is_some()
                && super::keep::kept_id(paths, name).as_deref() == n["id"].as_str()
        });
    if !covered {
        return false;
    }
    let dir = super::rootless::config_dir(paths).join("aardvark-dns");
    let mut changed = false;
    for name in info.keys() {
        let f = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, l)| *i == 0 || l.split(' ').next() != Some(id))
            .map(|(_, l)| l)
            .collect();
        if kept.len() != text.lines().count() {
            // The header stays: aardvark-dns keeps listening for the next.
            let mut t = kept.join("\n");
            t.push('\n');
            if crate::storage::write_atomic_volatile(&f, t.as_bytes()).is_err() {
                return false;
            }
            changed = true;
        }
    }
    if changed {
        super::keep::hup_aardvark(paths);
    }
    // The container's interfaces go now rather than with its namespace (a
    // moment later, in the kernel's time): its addresses are handed out
    // again as soon as the caller releases them.
    let del: String = options["networks"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, per)| per["interface_name"].as_str())
        .map(|i| format!("link del {i}\n"))
        .collect();
    let r = std::thread::scope(|s| {
        s.spawn(|| -> Result<()> {
            let ns =
                std::fs::File::open(netns).context("opening the container's network namespace")?;
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .context("entering the container's network namespace")?;
            ip_batch(&del)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
    });
    if let Err(e) = r {
        log::debug!("warm network teardown: {e:#}");
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn macs_are_local_unicast() {
        let m = super::random_mac();
        let b = u8::from_str_radix(&m[..2], 16).unwrap();
        assert_eq!(b & 1, 0);
        assert_eq!(b & 2, 2);
        assert_eq!(m.len(), 17);
    }
}
