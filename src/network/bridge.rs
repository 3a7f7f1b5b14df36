//! Containers on user-defined networks (issue 14), the way rootless podman
//! 4 with `network_backend = "netavark"` runs them:
//! - the container's monitor joins the user's rootless network namespace
//!   ([`super::rootless`]) before the runtime creates the container, so the
//!   container's network namespace belongs to the same user namespace as
//!   the bridges;
//! - between the runtime's create and start it picks the addresses
//!   ([`ipam`]) and runs `netavark setup` on the container's namespace, from
//!   inside the rootless namespace (netavark makes the bridge, the veth pair,
//!   the firewall rules and starts aardvark-dns there);
//! - when the container ends, the monitor runs `netavark teardown` on the
//!   namespace it kept open, frees the addresses and, after the last
//!   container, takes the rootless namespace down.

use super::netconf::{self, Cidr, Network, Networks};
use crate::container::record::{ContainerRecord, Paths};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One network a container joins, with its per-network options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Attach {
    pub network: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
}

impl Attach {
    /// `NAME[:alias=A,ip=IP,mac=MAC,interface_name=IF]`; `bridge` is the
    /// default network.
    pub fn parse(v: &str) -> Result<Attach> {
        let (name, opts) = match v.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (v, None),
        };
        let name = if name == "bridge" {
            netconf::DEFAULT_NAME
        } else {
            name
        };
        netconf::check_name(name).with_context(|| {
            format!("invalid network mode {v:?}: use none, host, slirp4netns[:OPTS], pasta[:ARGS], container:NAME or a network name")
        })?;
        let mut a = Attach {
            network: name.to_string(),
            ..Default::default()
        };
        for kv in opts.unwrap_or("").split(',').filter(|s| !s.is_empty()) {
            let (k, val) = kv.split_once('=').with_context(|| {
                format!("--network {v}: invalid option {kv:?}: expected KEY=VALUE")
            })?;
            match k {
                "alias" => a.aliases.push(val.to_string()),
                "ip" | "ip6" => {
                    check_ip(val, k == "ip6")?;
                    a.ips.push(val.to_string());
                }
                "mac" => {
                    check_mac(val)?;
                    a.mac = Some(val.to_string());
                }
                "interface_name" => {
                    if val.is_empty() || val.len() > 15 || val.contains('/') {
                        bail!("--network {v}: invalid interface name {val:?}");
                    }
                    a.interface_name = Some(val.to_string())
                }
                _ => bail!("--network {v}: unknown option {k:?}: use alias, ip, ip6, mac or interface_name"),
            }
        }
        Ok(a)
    }
}

fn check_ip(v: &str, six: bool) -> Result<()> {
    let ip: IpAddr = v
        .parse()
        .with_context(|| format!("{v} is not an IP address"))?;
    if six != ip.is_ipv6() {
        bail!("{v} is not an IPv{} address", if six { 6 } else { 4 });
    }
    Ok(())
}

fn check_mac(v: &str) -> Result<()> {
    let parts: Vec<&str> = v.split(':').collect();
    if parts.len() != 6
        || parts
            .iter()
            .any(|p| p.len() != 2 || u8::from_str_radix(p, 16).is_err())
    {
        bail!("invalid MAC address {v:?}");
    }
    Ok(())
}

/// `--network-alias`, `--ip`, `--ip6`, `--mac-address`.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub aliases: Vec<String>,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub mac: Option<String>,
}

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.aliases.is_empty() && self.ip.is_none() && self.ip6.is_none() && self.mac.is_none()
    }

    /// Put the flags on the (single, for addresses) network.
    pub fn apply(&self, nets: &mut [Attach]) -> Result<()> {
        let single = self.ip.is_some() || self.ip6.is_some() || self.mac.is_some();
        if single && nets.len() != 1 {
            bail!("--ip, --ip6 and --mac-address can only be set for a single network: use --network NAME:ip=…,mac=… for each");
        }
        for n in nets.iter_mut() {
            n.aliases.extend(self.aliases.iter().cloned());
        }
        if let Some(ip) = &self.ip {
            check_ip(ip, false).context("--ip")?;
            nets[0].ips.push(ip.clone());
        }
        if let Some(ip) = &self.ip6 {
            check_ip(ip, true).context("--ip6")?;
            nets[0].ips.push(ip.clone());
        }
        if let Some(m) = &self.mac {
            check_mac(m).context("--mac-address")?;
            nets[0].mac = Some(m.clone());
        }
        Ok(())
    }
}

/// The networks of `mode` (none unless it is a bridge mode).
pub fn networks_of(mode: &super::NetworkMode) -> &[Attach] {
    match mode {
        super::NetworkMode::Bridge(n) => n,
        _ => &[],
    }
}

/// The containers (id, name) that use network `name`, from their records.
pub fn users_of(paths: &Paths, name: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for id in crate::container::record::list_ids(paths).unwrap_or_default() {
        if let Ok(rec) = crate::container::record::load(paths, &id) {
            if networks_of(&rec.network).iter().any(|a| a.network == name) {
                out.push((id, rec.name));
            }
        }
    }
    out
}

/// The name of network `v` (a name, or an id or id prefix), for filters.
pub fn network_name(v: &str) -> String {
    Networks::open()
        .ok()
        .and_then(|n| n.get(v).ok().flatten())
        .map(|n| n.name)
        .unwrap_or_else(|| v.to_string())
}

/// `NetworkSettings.Networks` (podman's keys) of a container on networks,
/// with the addresses netavark gave it while it runs; and the top-level
/// address fields podman fills from the first network.
pub fn inspect_networks(paths: &Paths, rec: &ContainerRecord, settings: &mut serde_json::Value) {
    let nets = networks_of(&rec.network);
    if nets.is_empty() || !settings.is_object() {
        return;
    }
    let live = load_live(&paths.run_dir(&rec.id));
    let mut out = serde_json::Map::new();
    for a in nets {
        let st = live.as_ref().and_then(|l| l.status.get(&a.network));
        let ifc = st.and_then(|s| s.interfaces.values().next());
        let (mut ip, mut len, mut gw, mut ip6, mut len6, mut gw6) = (
            String::new(),
            0u32,
            String::new(),
            String::new(),
            0u32,
            String::new(),
        );
        for s in ifc.map(|i| i.subnets.as_slice()).unwrap_or_default() {
            let (addr, l) = s.ipnet.split_once('/').unwrap_or((&s.ipnet, "0"));
            if addr.contains(':') {
                ip6 = addr.to_string();
                len6 = l.parse().unwrap_or(0);
                gw6 = s.gateway.clone().unwrap_or_default();
            } else {
                ip = addr.to_string();
                len = l.parse().unwrap_or(0);
                gw = s.gateway.clone().unwrap_or_default();
            }
        }
        let mut aliases = vec![rec.id[..12.min(rec.id.len())].to_string()];
        aliases.extend(a.aliases.iter().cloned());
        out.insert(
            a.network.clone(),
            serde_json::json!({
                "EndpointID": "",
                "Gateway": gw,
                "IPAddress": ip,
                "IPPrefixLen": len,
                "IPv6Gateway": gw6,
                "GlobalIPv6Address": ip6,
                "GlobalIPv6PrefixLen": len6,
                "MacAddress": ifc.map(|i| i.mac_address.clone()).unwrap_or_default(),
                "NetworkID": a.network,
                "DriverOpts": null,
                "IPAMConfig": null,
                "Links": null,
                "Aliases": aliases,
            }),
        );
    }
    settings["Networks"] = serde_json::Value::Object(out);
}

/// Check a container's networks exist (at create), with their addresses.
pub fn check_networks(nets: &[Attach]) -> Result<()> {
    let all = Networks::open()?;
    let mut seen = Vec::new();
    for a in nets {
        let n = all.find(&a.network)?;
        if seen.contains(&n.name) {
            bail!("network {} given twice", n.name);
        }
        seen.push(n.name.clone());
        // macvlan runs as rootless podman runs it: inside the rootless
        // network namespace, on its parent there (by default the way out,
        // slirp4netns' tap0); netavark reports a parent it can't use.
        if !matches!(n.driver.as_str(), "bridge" | "macvlan") {
            bail!(
                "network {}: unsupported driver {}: netavark 1.4 runs bridge and macvlan networks",
                n.name,
                n.driver
            );
        }
        for ip in &a.ips {
            let ip: IpAddr = ip.parse()?;
            if !n.cidrs().iter().any(|c| c.contains(ip)) {
                bail!(
                    "requested static ip {ip} not in any subnet on network {}",
                    n.name
                );
            }
        }
    }
    Ok(())
}

/// What `netavark setup` reported for one network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusBlock {
    #[serde(default)]
    pub dns_search_domains: Vec<String>,
    #[serde(default)]
    pub dns_server_ips: Vec<String>,
    #[serde(default)]
    pub interfaces: BTreeMap<String, NetInterface>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetInterface {
    #[serde(default)]
    pub mac_address: String,
    #[serde(default)]
    pub subnets: Vec<NetAddress>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetAddress {
    pub ipnet: String,
    #[serde(default)]
    pub gateway: Option<String>,
}

/// A container's bridge networking while it runs: kept in its run dir
/// (`bridge.json`) for teardown, `inspect` and `ps`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Live {
    /// The netavark options (the same document goes to teardown).
    pub options: serde_json::Value,
    /// Per network name, what netavark set up.
    pub status: BTreeMap<String, StatusBlock>,
    /// The monitor's fd holding the container's network namespace.
    pub netns_fd: i32,
    pub monitor_pid: i32,
    /// Set up by [`super::warm`] rather than netavark (for diagnosis).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warm: bool,
}

pub const LIVE_FILE: &str = "bridge.json";

pub fn load_live(run_dir: &Path) -> Option<Live> {
    let text = std::fs::read(run_dir.join(LIVE_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The netavark binary, found where podman looks (or on PATH).
pub fn find_tool(name: &str) -> Result<PathBuf> {
    for dir in [
        "/usr/local/libexec/podman",
        "/usr/local/lib/podman",
        "/usr/libexec/podman",
        "/usr/lib/podman",
    ] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("{name} not found: networks need it (apt install netavark aardvark-dns)")
        })
}

/// The addresses of one network: the allocator takes the lowest free one
/// of the subnet (or its lease range), skipping the gateway.
pub mod ipam {
    use super::*;

    /// Pick one address per subnet of `net` for container `id`, reserving
    /// them in `dir` (one file per address, created exclusively). `taken`
    /// decides whether an existing reservation still holds.
    pub fn allocate(
        dir: &Path,
        net: &Network,
        id: &str,
        wanted: &[String],
        stale: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<(IpAddr, Cidr, Option<String>)>> {
        let d = dir.join(&net.name);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        // One allocator at a time per network: a reservation is created
        // empty and then written, and a stale one is removed and remade;
        // without the lock a racing run took an address in either window.
        let _lock = crate::storage::Lock::exclusive_quiet(&dir.join(format!("{}.lock", net.name)))?;
        let mut out = Vec::new();
        for s in &net.subnets {
            let c = Cidr::parse(&s.subnet)?;
            let want = wanted
                .iter()
                .filter_map(|w| w.parse::<IpAddr>().ok())
                .find(|ip| c.contains(*ip));
            let ip = match want {
                Some(ip) => {
                    if !reserve(&d, ip, id, stale)? {
                        bail!("requested ip address {ip} is already allocated to another container on network {}", net.name);
                    }
                    ip
                }
                None => {
                    let (lo, hi) = match &s.lease_range {
                        Some(r) => (
                            r.start_ip
                                .as_deref()
                                .and_then(|x| x.parse().ok())
                                .map(|ip| c.offset(ip))
                                .unwrap_or(1),
                            r.end_ip
                                .as_deref()
                                .and_then(|x| x.parse().ok())
                                .map(|ip| c.offset(ip))
                                .unwrap_or(c.size() - 2),
                        ),
                        None => (1, c.size().saturating_sub(2).min(1 << 20)),
                    };
                    let gw: Option<IpAddr> = s.gateway.as_deref().and_then(|g| g.parse().ok());
                    let mut got = None;
                    for off in lo..=hi {
                        let ip = c.nth(off);
                        if Some(ip) == gw || off == 0 {
                            continue;
                        }
                        if c.addr.is_ipv4() && off == c.size() - 1 {
                            continue; // broadcast
                        }
                        if reserve(&d, ip, id, stale)? {
                            got = Some(ip);
                            break;
                        }
                    }
                    got.with_context(|| {
                        format!(
                            "IPAM error: failed to find free IP in range: {} (network {} is full)",
                            s.subnet, net.name
                        )
                    })?
                }
            };
            out.push((ip, c, s.gateway.clone()));
        }
        Ok(out)
    }

    /// Reserve `ip` for `id`; true when it is ours now.
    fn reserve(d: &Path, ip: IpAddr, id: &str, stale: &dyn Fn(&str) -> bool) -> Result<bool> {
        let p = d.join(ip.to_string());
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(id.as_bytes())
                        .with_context(|| format!("writing {}", p.display()))?;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&p).unwrap_or_default();
                    if owner == id {
                        return Ok(true);
                    }
                    if !stale(&owner) {
                        return Ok(false);
                    }
                    let _ = std::fs::remove_file(&p);
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", p.display())),
            }
        }
        Ok(false)
    }

    /// Free the addresses `id` holds on network `net`.
    pub fn release_one(dir: &Path, net: &str, id: &str) {
        let Ok(ips) = std::fs::read_dir(dir.join(net)) else {
            return;
        };
        for ip in ips.flatten() {
            if std::fs::read_to_string(ip.path()).is_ok_and(|o| o == id) {
                let _ = std::fs::remove_file(ip.path());
            }
        }
    }

    /// Free every address `id` holds in `dir`.
    pub fn release(dir: &Path, id: &str) {
        let Ok(nets) = std::fs::read_dir(dir) else {
            return;
        };
        for n in nets.flatten() {
            let Ok(ips) = std::fs::read_dir(n.path()) else {
                continue;
            };
            for ip in ips.flatten() {
                if std::fs::read_to_string(ip.path()).is_ok_and(|o| o == id) {
                    let _ = std::fs::remove_file(ip.path());
                }
            }
        }
    }
}

/// The monitor's part before the runtime creates the container: start (or
/// join) the rootless network namespace and enter its user namespace, so
/// the container's network namespace gets the same owner as the bridges.
/// Runs single-threaded, before `userns::enter` (which then has nothing to do).
pub fn join(paths: &Paths, id: &str) -> Result<()> {
    find_tool("netavark")?;
    let st = super::rootless::ensure(paths, id)?;
    // The command that spawned us held the namespace for us until now.
    super::rootless::unregister(paths, &format!("cmd-{}", nix::unistd::getppid()));
    let r = if nix::unistd::geteuid().is_root() {
        // Started by a command that joined the namespace's user namespace
        // already ([`enter_for_command`]): it must still be that one.
        let ours = std::fs::read_link("/proc/self/ns/user").ok();
        if ours.is_some()
            && ours == std::fs::read_link(format!("/proc/{}/ns/user", st.inner_pid)).ok()
        {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "container {id} is on networks, so it must be started on its own (rpod start NAME)"
            ))
        }
    } else {
        crate::sys::userns::join_userns_of(st.inner_pid)
            .context("joining the user namespace of the rootless network namespace")
            .and_then(|_| crate::sys::userns::become_ns_root())
    };
    if r.is_err() {
        super::rootless::release(paths, id);
    }
    r
}

/// For a command that will start containers on networks (run, start):
/// start (or join) the rootless network namespace and enter its user
/// namespace instead of a fresh one, so the monitors it spawns are in it.
/// The command counts as a user while it lives, so the namespace can't go
/// between now and its containers' registration. Single-threaded only.
pub fn enter_for_command(paths: &Paths) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    find_tool("netavark")?;
    let key = format!("cmd-{}", std::process::id());
    let st = super::rootless::ensure(paths, &key)?;
    crate::sys::userns::join_userns_of(st.inner_pid)
        .context("joining the user namespace of the rootless network namespace")?;
    crate::sys::userns::become_ns_root()
}

/// Run netavark `cmd` (setup or teardown) on the network namespace at
/// `netns`, from inside the rootless network namespace; its JSON answer.
fn netavark(
    paths: &Paths,
    cmd: &str,
    netns: &str,
    options: &serde_json::Value,
) -> Result<serde_json::Value> {
    netavark_in(paths, cmd, netns, options, None)
}

/// The lock every netavark run takes (one at a time, as podman).
fn netavark_lock(paths: &Paths) -> Result<crate::storage::Lock> {
    crate::storage::Lock::exclusive_quiet(&super::rootless::dir(paths).join("netavark.lock"))
}

/// [`netavark`], under `held` if the caller holds the lock already.
fn netavark_in(
    paths: &Paths,
    cmd: &str,
    netns: &str,
    options: &serde_json::Value,
    held: Option<&crate::storage::Lock>,
) -> Result<serde_json::Value> {
    use std::io::Write;
    let bin = find_tool("netavark")?;
    let conf = super::rootless::config_dir(paths);
    std::fs::create_dir_all(&conf).with_context(|| format!("creating {}", conf.display()))?;
    let mut c = std::process::Command::new(&bin);
    c.arg("--config").arg(&conf).args(["--rootless", "true"]);
    if let Ok(a) = find_tool("aardvark-dns") {
        c.arg("--aardvark-binary").arg(a);
    }
    c.arg(cmd)
        .arg(netns)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // One netavark at a time (as podman): concurrent ones race on the
    // firewall chains ("Chain already exists").
    let _l = match held {
        Some(_) => None,
        None => Some(netavark_lock(paths)?),
    };
    let mut child = c
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    child
        .stdin
        .take()
        .context("netavark stdin")?
        .write_all(&serde_json::to_vec(options)?)?;
    let out = child.wait_with_output()?;
    let parsed: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    if !out.status.success() {
        let msg = parsed["error"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| {
                let e = String::from_utf8_lossy(&out.stderr);
                e.lines()
                    .rfind(|l| !l.contains("syslog"))
                    .unwrap_or("")
                    .to_string()
            });
        if cmd == "setup" {
            // podman's words and code (126: the container could not be
            // started), e.g. a macvlan parent missing in the namespace.
            return Err(crate::error::Error::CannotInvoke(format!("netavark: {msg}")).into());
        }
        bail!("netavark {cmd}: {msg}");
    }
    Ok(parsed)
}

/// Enter the rootless network namespace (this process stays there: the
/// monitor has no use for its own).
fn enter_rootless_netns(paths: &Paths) -> Result<()> {
    let st =
        super::rootless::current(paths).context("the rootless network namespace is not running")?;
    let f = std::fs::File::open(format!("/proc/{}/ns/net", st.inner_pid))
        .context("opening the rootless network namespace")?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .context("entering the rootless network namespace")
}

/// Between the runtime's create and start: addresses, `netavark setup` on
/// the namespace of the container's init `pid`, then the container's
/// `/etc/hosts` and `/etc/resolv.conf`. The monitor keeps the namespace
/// open (for teardown after the init is gone). On failure nothing stays.
///
/// Published ports (`-p`) are bound on the host first (a taken port fails
/// before anything is set up), then forwarded by rpod's port forwarder
/// (podman's rootlessport) to the container's first address, from inside
/// its network namespace; the forwarder is returned for the monitor to keep.
pub fn setup(
    paths: &Paths,
    rec: &ContainerRecord,
    pid: i32,
    run_dir: &Path,
) -> Result<Option<super::helper::Helper>> {
    let nets = networks_of(&rec.network);
    if nets.is_empty() {
        return Ok(None);
    }
    let maps = super::ports::from_record(&rec.ports);
    let bound = super::portfwd::bind(&maps)?;
    let r = setup_inner(paths, rec, pid, run_dir, nets).and_then(|live| {
        if bound.is_empty() {
            return Ok(None);
        }
        let target =
            first_address(&live).context("publishing ports: the container got no address")?;
        super::portfwd::spawn(pid, target, bound, run_dir).map(Some)
    });
    if r.is_err() {
        teardown(paths, &rec.id, run_dir);
        super::rootless::release(paths, &rec.id);
    }
    r
}

/// The container's first IPv4 address (else first address) netavark gave it.
fn first_address(live: &Live) -> Option<std::net::IpAddr> {
    let all: Vec<std::net::IpAddr> = live
        .status
        .values()
        .flat_map(|st| st.interfaces.values())
        .flat_map(|ifc| ifc.subnets.iter())
        .filter_map(|s| s.ipnet.split_once('/').and_then(|(ip, _)| ip.parse().ok()))
        .collect();
    all.iter().find(|ip| ip.is_ipv4()).or(all.first()).copied()
}

fn setup_inner(
    paths: &Paths,
    rec: &ContainerRecord,
    pid: i32,
    run_dir: &Path,
    nets: &[Attach],
) -> Result<Live> {
    use std::os::fd::IntoRawFd;
    let all = Networks::open()?;
    // Kept open (and inherited across the monitor's exec) for teardown.
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .context("opening the container's network namespace")?;
    let fd = ns.into_raw_fd();
    nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )?;
    let me = std::process::id() as i32;
    let ipam_dir = super::rootless::ipam_dir(paths);
    // Held from the addresses to the end of netavark's setup: a container
    // that ended before this one started has been torn down (its address
    // free, its names gone) by then ([`Teardown`]).
    let lock = netavark_lock(paths)?;
    let stale = |owner: &str| owner != rec.id && !super::rootless::is_live_user(paths, owner);
    let mut networks = serde_json::Map::new();
    let mut info = serde_json::Map::new();
    for (i, a) in nets.iter().enumerate() {
        let n = all.find(&a.network)?;
        let got = ipam::allocate(&ipam_dir, &n, &rec.id, &a.ips, &stale)?;
        let mut aliases = vec![rec.id[..12.min(rec.id.len())].to_string()];
        aliases.extend(a.aliases.iter().cloned());
        let mut o = serde_json::json!({
            "static_ips": got.iter().map(|g| g.0.to_string()).collect::<Vec<_>>(),
            "aliases": aliases,
            "interface_name": a.interface_name.clone().unwrap_or_else(|| format!("eth{i}")),
        });
        if let Some(m) = &a.mac {
            o["static_mac"] = serde_json::Value::String(m.clone());
        }
        networks.insert(n.name.clone(), o);
        info.insert(n.name.clone(), serde_json::to_value(&n)?);
    }
    let options = serde_json::json!({
        "container_id": rec.id,
        "container_name": rec.name,
        "port_mappings": serde_json::Value::Null,
        "networks": networks,
        "network_info": info,
    });
    let mut live = Live {
        options: options.clone(),
        status: BTreeMap::new(),
        netns_fd: fd,
        monitor_pid: me,
        warm: false,
    };
    // Recorded before setup: a failed or interrupted setup is torn down.
    crate::storage::write_atomic_volatile(&run_dir.join(LIVE_FILE), &serde_json::to_vec(&live)?)?;
    enter_rootless_netns(paths)?;
    // A kept bridge: the container's part only ([`super::warm`]).
    live.status = match super::warm::setup(paths, &options, pid) {
        Some(status) => {
            live.warm = true;
            status
        }
        None => {
            let out = netavark_in(
                paths,
                "setup",
                &format!("/proc/{me}/fd/{fd}"),
                &options,
                Some(&lock),
            )?;
            serde_json::from_value(out).context("reading netavark's answer")?
        }
    };
    drop(lock);
    // Findable by its peers before it starts (aardvark-dns reloads after
    // netavark has returned).
    let servers: Vec<IpAddr> = live
        .status
        .values()
        .flat_map(|st| st.dns_server_ips.iter())
        .filter_map(|ip| ip.parse().ok())
        .collect();
    // By its short id: always one of its names, and plain lowercase
    // (aardvark-dns answers no upper-case name).
    super::keep::wait_for_name(paths, &servers, &rec.id[..12.min(rec.id.len())]);
    crate::storage::write_atomic_volatile(&run_dir.join(LIVE_FILE), &serde_json::to_vec(&live)?)?;
    write_name_files(paths, rec, &live)?;
    Ok(live)
}

/// Put the container's addresses into its `/etc/hosts` and aardvark-dns
/// first into its `/etc/resolv.conf`, in place (the files are bind mounts).
fn write_name_files(paths: &Paths, rec: &ContainerRecord, live: &Live) -> Result<()> {
    let dir = paths.ctr_dir(&rec.id);
    let mut ips = Vec::new();
    let mut dns = Vec::new();
    let mut search = Vec::new();
    for st in live.status.values() {
        for ifc in st.interfaces.values() {
            for s in &ifc.subnets {
                if let Some((ip, _)) = s.ipnet.split_once('/') {
                    ips.push(ip.to_string());
                }
            }
        }
        dns.extend(st.dns_server_ips.iter().cloned());
        search.extend(st.dns_search_domains.iter().cloned());
    }
    dns.dedup();
    search.dedup();
    let hosts = dir.join("hosts");
    if let Ok(text) = std::fs::read_to_string(&hosts) {
        let mut t = text.clone();
        for ip in &ips {
            t.push_str(&format!("{ip}\t{} {}\n", rec.hostname, rec.name));
        }
        std::fs::write(&hosts, t).with_context(|| format!("writing {}", hosts.display()))?;
    }
    // --dns replaces every resolver, aardvark-dns included (as podman).
    let dns_flag = rec
        .create_command
        .iter()
        .any(|a| a == "--dns" || a.starts_with("--dns="));
    if !dns.is_empty() && !dns_flag {
        let resolv = dir.join("resolv.conf");
        if let Ok(text) = std::fs::read_to_string(&resolv) {
            let mut out = String::new();
            let mut searched = false;
            for l in text.lines() {
                if let Some(rest) = l.strip_prefix("search ") {
                    out.push_str(&format!("search {} {rest}\n", search.join(" ")));
                    searched = true;
                }
            }
            if !searched && !search.is_empty() {
                out.push_str(&format!("search {}\n", search.join(" ")));
            }
            for s in &dns {
                out.push_str(&format!("nameserver {s}\n"));
            }
            for l in text.lines().filter(|l| !l.starts_with("search ")) {
                out.push_str(l);
                out.push('\n');
            }
            std::fs::write(&resolv, out)
                .with_context(|| format!("writing {}", resolv.display()))?;
        }
    }
    Ok(())
}

/// Undo [`setup`]: `netavark teardown` on the namespace the monitor kept
/// (when it is still ours), free the addresses, unregister the container
/// (the rootless namespace lingers a little after the last one). Idempotent.
pub fn teardown(paths: &Paths, id: &str, run_dir: &Path) {
    Teardown::take(paths, id, run_dir).run();
}

/// A [`teardown`] in two steps: [`Teardown::take`] reads (and removes) the
/// container's `bridge.json`, [`Teardown::run`] does the work, so a monitor
/// can report the exit in between.
pub struct Teardown {
    paths: Paths,
    id: String,
    live: Option<Live>,
    lock: Option<crate::storage::Lock>,
}

impl Teardown {
    pub fn take(paths: &Paths, id: &str, run_dir: &Path) -> Teardown {
        let live = load_live(run_dir);
        if live.is_some() {
            let _ = std::fs::remove_file(run_dir.join(LIVE_FILE));
        }
        Teardown {
            paths: paths.clone(),
            id: id.to_string(),
            live,
            lock: None,
        }
    }

    /// Take netavark's lock until [`Teardown::run`] is done, before the
    /// exit is reported: the next container's setup (which takes it too)
    /// then finds this one's address free and its names gone, however soon
    /// it comes. Call it holding no container's lock (`network connect`
    /// holds one while it waits for this).
    pub fn lock(&mut self) {
        if self.live.is_some() {
            self.lock = netavark_lock(&self.paths).ok();
        }
    }

    pub fn run(self) {
        let Some(live) = self.live else {
            return;
        };
        let held = self.lock.as_ref();
        let (paths, id) = (&self.paths, &self.id);
        let me = std::process::id() as i32;
        let link = format!("/proc/{me}/fd/{}", live.netns_fd);
        let ours = live.monitor_pid == me
            && std::fs::read_link(&link).is_ok_and(|t| t.to_string_lossy().starts_with("net:"));
        if ours {
            if let Err(e) = enter_rootless_netns(paths).and_then(|_| {
                // The namespace's last user keeps its bridges warm for the
                // next container while the namespace lingers.
                if super::rootless::only_user(paths, id) {
                    super::keep::hold(paths, &live.options);
                }
                // Kept bridges: only the container's own part ([`super::warm`]).
                if super::warm::teardown(paths, &live.options, &link) {
                    return Ok(serde_json::Value::Null);
                }
                netavark_in(paths, "teardown", &link, &live.options, held)
            }) {
                warn!("container {id}: {e:#}");
            }
            let _ = nix::unistd::close(live.netns_fd);
        }
        super::rootless::release(paths, id);
    }
}

/// `network connect`: put container `name` on network `attach.network`
/// (recorded for its next starts); a running container gets it at once:
/// `netavark setup` for that network only, from this process, which must
/// be single-threaded and not yet in a user namespace.
pub fn connect(paths: &Paths, name: &str, attach: Attach) -> Result<ContainerRecord> {
    use crate::container::record;
    let id = record::resolve(paths, name)?;
    let net = Networks::open()?.find(&attach.network)?;
    let mut attach = attach;
    attach.network = net.name.clone();
    check_networks(std::slice::from_ref(&attach))?;
    let _l = record::lock(paths, &id)?;
    let mut rec = record::load(paths, &id)?;
    let super::NetworkMode::Bridge(nets) = &mut rec.network else {
        bail!(
            "container {} uses network mode {}: only containers on networks can be connected to more: invalid network mode",
            rec.name,
            rec.network.name()
        );
    };
    if nets.iter().any(|a| a.network == net.name) {
        bail!(
            "container {} is already connected to network {}",
            rec.name,
            net.name
        );
    }
    let index = nets.len();
    nets.push(attach.clone());
    let st = record::observe(paths, &id);
    if st.is_running() {
        enter_for_command(paths)?;
        live_change(paths, &rec, st.pid, &net, Some((&attach, index)))?;
    }
    record::save(paths, &rec)?;
    Ok(rec)
}

/// `network disconnect`: take container `name` off network `network`.
pub fn disconnect(paths: &Paths, name: &str, network: &str) -> Result<ContainerRecord> {
    use crate::container::record;
    let id = record::resolve(paths, name)?;
    let net = Networks::open()?.find(network)?;
    let _l = record::lock(paths, &id)?;
    let mut rec = record::load(paths, &id)?;
    let super::NetworkMode::Bridge(nets) = &mut rec.network else {
        bail!(
            "container {} is not connected to network {}",
            rec.name,
            net.name
        );
    };
    let before = nets.len();
    nets.retain(|a| a.network != net.name);
    if nets.len() == before {
        bail!(
            "container {} is not connected to network {}",
            rec.name,
            net.name
        );
    }
    if nets.is_empty() {
        bail!(
            "container {} is on no other network: a container keeps at least one (connect it to another first)",
            rec.name
        );
    }
    let st = record::observe(paths, &id);
    if st.is_running() {
        enter_for_command(paths)?;
        live_change(paths, &rec, st.pid, &net, None)?;
    }
    record::save(paths, &rec)?;
    Ok(rec)
}

/// `network rm` of network `net` (its config gone, no container on it):
/// if its bridge is kept in a namespace other containers use, take it away
/// (an idle namespace was stopped already). Best effort: a command that
/// entered another user namespace can't; the next idle start then begins
/// afresh ([`super::keep::stale`]).
pub fn forget_kept(paths: &Paths, net: &Network) {
    if !super::keep::is_kept(paths, &net.name) || super::rootless::current(paths).is_none() {
        return;
    }
    let r = enter_for_command(paths).and_then(|_| enter_rootless_netns(paths));
    match r {
        Ok(()) => {
            if let Ok(_l) = netavark_lock(paths) {
                super::keep::forget(paths, &net.name, &net.id, &net.network_interface);
            }
        }
        Err(e) => debug!("network {}: kept bridge left: {e:#}", net.name),
    }
}

/// Which containers `network reload --all` reloads: the running ones on
/// networks (others are skipped, as podman does).
pub fn reload_all_ids(paths: &Paths) -> Vec<String> {
    use crate::container::record;
    let mut out = Vec::new();
    for id in record::list_ids(paths).unwrap_or_default() {
        let Ok(rec) = record::load(paths, &id) else {
            continue;
        };
        if matches!(rec.network, super::NetworkMode::Bridge(_))
            && record::observe(paths, &id).is_running()
        {
            out.push(id);
        }
    }
    out
}

/// `network reload`: tear down and set up again the networking of running
/// container `name` (its addresses kept), as podman does after a firewall
/// reload: netavark puts back any of its firewall rules that are gone, and
/// the veth pair and DNS names are made afresh. Returns the container's id.
/// The first call joins the rootless network namespace's user namespace
/// (single-threaded only); later calls reuse it.
pub fn reload(paths: &Paths, name: &str) -> Result<String> {
    use crate::container::record;
    let id = record::resolve(paths, name)?;
    let _l = record::lock(paths, &id)?;
    let rec = record::load(paths, &id)?;
    if !matches!(rec.network, super::NetworkMode::Bridge(_)) {
        bail!(
            "{:?} is not supported: invalid network mode",
            rec.network.name()
        );
    }
    let st = record::observe(paths, &id);
    let run_dir = paths.run_dir(&id);
    let live = load_live(&run_dir).filter(|_| st.is_running()).context(
        "cannot reload network unless container network has been configured: container state improper",
    )?;
    enter_for_command(paths)?;
    enter_rootless_netns(paths)?;
    let netns = format!("/proc/{}/ns/net", st.pid);
    // As podman: the teardown may fail on what is already gone.
    if let Err(e) = netavark(paths, "teardown", &netns, &live.options) {
        debug!("container {id}: reload: {e:#}");
    }
    let out = netavark(paths, "setup", &netns, &live.options)
        .with_context(|| format!("reloading the network of container {}", rec.name))?;
    let mut live = live;
    live.status = serde_json::from_value(out).context("reading netavark's answer")?;
    crate::storage::write_atomic_volatile(&run_dir.join(LIVE_FILE), &serde_json::to_vec(&live)?)?;
    Ok(id)
}

/// Set up (`add`) or tear down one network of a running container, and
/// keep its `bridge.json` in step.
fn live_change(
    paths: &Paths,
    rec: &ContainerRecord,
    pid: i32,
    net: &Network,
    add: Option<(&Attach, usize)>,
) -> Result<()> {
    let run_dir = paths.run_dir(&rec.id);
    let mut live = load_live(&run_dir).context("the container's network state is missing")?;
    let netns = format!("/proc/{pid}/ns/net");
    enter_rootless_netns(paths)?;
    match add {
        Some((a, index)) => {
            let stale =
                |owner: &str| owner != rec.id && !super::rootless::is_live_user(paths, owner);
            let got = ipam::allocate(
                &super::rootless::ipam_dir(paths),
                net,
                &rec.id,
                &a.ips,
                &stale,
            )?;
            let mut aliases = vec![rec.id[..12.min(rec.id.len())].to_string()];
            aliases.extend(a.aliases.iter().cloned());
            let mut o = serde_json::json!({
                "static_ips": got.iter().map(|g| g.0.to_string()).collect::<Vec<_>>(),
                "aliases": aliases,
                "interface_name": a.interface_name.clone().unwrap_or_else(|| format!("eth{index}")),
            });
            if let Some(m) = &a.mac {
                o["static_mac"] = serde_json::Value::String(m.clone());
            }
            let one = serde_json::json!({
                "container_id": rec.id,
                "container_name": rec.name,
                "port_mappings": serde_json::Value::Null,
                "networks": { net.name.clone(): o.clone() },
                "network_info": { net.name.clone(): serde_json::to_value(net)? },
            });
            let out = match netavark(paths, "setup", &netns, &one) {
                Ok(o) => o,
                Err(e) => {
                    ipam::release_one(&super::rootless::ipam_dir(paths), &net.name, &rec.id);
                    return Err(e);
                }
            };
            let status: BTreeMap<String, StatusBlock> =
                serde_json::from_value(out).context("reading netavark's answer")?;
            live.options["networks"][&net.name] = o;
            live.options["network_info"][&net.name] = serde_json::to_value(net)?;
            live.status.extend(status);
        }
        None => {
            let mut one = live.options.clone();
            let keep = |m: &mut serde_json::Value| {
                if let Some(obj) = m.as_object_mut() {
                    obj.retain(|k, _| *k == net.name);
                }
            };
            keep(&mut one["networks"]);
            keep(&mut one["network_info"]);
            netavark(paths, "teardown", &netns, &one)?;
            ipam::release_one(&super::rootless::ipam_dir(paths), &net.name, &rec.id);
            for k in ["networks", "network_info"] {
                if let Some(obj) = live.options[k].as_object_mut() {
                    obj.remove(&net.name);
                }
            }
            live.status.remove(&net.name);
        }
    }
    crate::storage::write_atomic_volatile(&run_dir.join(LIVE_FILE), &serde_json::to_vec(&live)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_network_values() {
        let a =
            Attach::parse("mynet:alias=db,alias=pg,ip=10.89.0.9,mac=02:00:00:00:00:01").unwrap();
        assert_eq!(a.network, "mynet");
        assert_eq!(a.aliases, ["db", "pg"]);
        assert_eq!(a.ips, ["10.89.0.9"]);
        assert_eq!(a.mac.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(Attach::parse("bridge").unwrap().network, "podman");
        assert!(Attach::parse("mynet:ip=nope").is_err());
        assert!(Attach::parse("mynet:ip6=10.0.0.1").is_err());
        assert!(Attach::parse("mynet:bogus=1").is_err());
        assert!(Attach::parse("mynet:mac=zz").is_err());
        let mut nets = vec![Attach::parse("a").unwrap(), Attach::parse("b").unwrap()];
        let extra = Extra {
            ip: Some("10.0.0.2".into()),
            ..Default::default()
        };
        assert!(extra.apply(&mut nets).is_err());
        let extra = Extra {
            aliases: vec!["x".into()],
            ..Default::default()
        };
        extra.apply(&mut nets).unwrap();
        assert_eq!(nets[1].aliases, ["x"]);
    }

    #[test]
    fn ipam_never_hands_out_one_address_twice() {
        let dir = std::env::temp_dir().join(format!("rpod-ipam-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut o = netconf::CreateOptions {
            driver: "bridge".into(),
            subnets: vec!["10.200.0.0/30".into()],
            ..Default::default()
        };
        o.name = Some("n".into());
        let nets = Networks::at(dir.join("conf"));
        let n = nets.create(&o).unwrap();
        let never = |_: &str| false;
        let a = ipam::allocate(&dir, &n, "a", &[], &never).unwrap();
        assert_eq!(a[0].0.to_string(), "10.200.0.2");
        // The /30 has one address besides gateway and broadcast: full now.
        let e = ipam::allocate(&dir, &n, "b", &[], &never).unwrap_err();
        assert!(e.to_string().contains("full"), "{e}");
        // A stale owner's address is taken over.
        let b = ipam::allocate(&dir, &n, "b", &[], &|o: &str| o == "a").unwrap();
        assert_eq!(b[0].0.to_string(), "10.200.0.2");
        ipam::release(&dir, "b");
        let c = ipam::allocate(&dir, &n, "c", &["10.200.0.2".into()], &never).unwrap();
        assert_eq!(c[0].0.to_string(), "10.200.0.2");
        assert!(ipam::allocate(&dir, &n, "d", &["10.200.0.2".into()], &never).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
