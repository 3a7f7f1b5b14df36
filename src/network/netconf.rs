//! User-defined networks (issue 14): one JSON file per network in podman's
//! netavark format (`NAME.json` in `~/.local/share/containers/storage/networks`,
//! the directory podman 4 uses rootless), so `podman network ls` and rpod
//! agree on what a file means. The default network `podman` is implicit (no
//! file), as podman's is.
//!
//! Every change happens under `netavark.lock` in that directory (the lock
//! file podman uses there too) and is written with `write_atomic`; subnets
//! and bridge names are chosen under it, so two concurrent creates never
//! pick the same.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

pub const DEFAULT_NAME: &str = "podman";
pub const DEFAULT_ID: &str = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";
const LOCK_FILE: &str = "netavark.lock";

/// One subnet of a network, as netavark reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ip: Option<String>,
}

/// A network's config file, field for field podman's (key order included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_interface: String,
    #[serde(default)]
    pub created: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub ipv6_enabled: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub dns_enabled: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ipam_options: BTreeMap<String, String>,
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub driver: String,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub ipv6: bool,
    pub internal: bool,
    pub disable_dns: bool,
    pub labels: Vec<(String, String)>,
    pub options: Vec<(String, String)>,
    pub ipam_driver: Option<String>,
    pub ignore: bool,
}

/// An IPv4 or IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr> {
        let (a, l) = s.split_once('/').with_context(|| {
            format!("invalid subnet {s:?}: expected CIDR notation such as 10.89.0.0/24")
        })?;
        let addr: IpAddr = a
            .parse()
            .with_context(|| format!("invalid subnet {s:?}: {a:?} is not an IP address"))?;
        let len: u8 = l
            .parse()
            .ok()
            .filter(|l| *l <= if addr.is_ipv4() { 32 } else { 128 })
            .with_context(|| format!("invalid subnet {s:?}: bad prefix length {l:?}"))?;
        Ok(Cidr { addr, len })
    }

    pub fn bits(&self) -> u32 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    fn to_u128(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        }
    }

    fn make_ip(&self, v: u128) -> IpAddr {
        if self.addr.is_ipv4() {
            IpAddr::V4(Ipv4Addr::from(v as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(v))
        }
    }

    fn mask(&self) -> u128 {
        let host = self.bits() - self.len as u32;
        let all = if self.bits() == 32 {
            u32::MAX as u128
        } else {
            u128::MAX
        };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        self.make_ip(Self::to_u128(self.addr) & self.mask())
    }

    /// The `n`th address of the subnet (0 is the network address).
    pub fn nth(&self, n: u128) -> IpAddr {
        self.make_ip((Self::to_u128(self.addr) & self.mask()) + n)
    }

    /// How many addresses the subnet holds (capped for IPv6).
    pub fn size(&self) -> u128 {
        let host = self.bits() - self.len as u32;
        if host >= 127 {
            u128::MAX / 2
        } else {
            1u128 << host
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
            && Self::to_u128(ip) & self.mask() == Self::to_u128(self.addr) & self.mask()
    }

    pub fn overlaps(&self, o: &Cidr) -> bool {
        self.addr.is_ipv4() == o.addr.is_ipv4()
            && (self.contains(o.network()) || o.contains(self.network()))
    }

    /// The host offset of `ip` in the subnet.
    pub fn offset(&self, ip: IpAddr) -> u128 {
        Self::to_u128(ip) - Self::to_u128(self.network())
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network(), self.len)
    }
}

impl Network {
    /// The implicit default network, as podman 4.3 shows it.
    pub fn default_network() -> Network {
        Network {
            name: DEFAULT_NAME.into(),
            id: DEFAULT_ID.into(),
            driver: "bridge".into(),
            network_interface: "podman0".into(),
            created: crate::time::rfc3339_nano_go(crate::time::now_ns()),
            subnets: vec![Subnet {
                subnet: "10.88.0.0/16".into(),
                gateway: Some("10.88.0.1".into()),
                lease_range: None,
            }],
            ipv6_enabled: false,
            internal: false,
            dns_enabled: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            ipam_options: [("driver".to_string(), "host-local".to_string())].into(),
        }
    }

    pub fn created_ns(&self) -> i64 {
        crate::time::parse_rfc3339(&self.created).unwrap_or(0)
    }

    pub fn cidrs(&self) -> Vec<Cidr> {
        self.subnets
            .iter()
            .filter_map(|s| Cidr::parse(&s.subnet).ok())
            .collect()
    }
}

/// Validate a network name as podman does.
pub fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        bail!("network name {name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument");
    }
    Ok(())
}

/// The networks of one user.
pub struct Networks {
    dir: PathBuf,
}

/// podman's rootless network config dir.
pub fn default_dir() -> Result<PathBuf> {
    let data = crate::xdg::var("XDG_DATA_HOME")
        .or_else(|| crate::xdg::home().map(|h| h.join(".local/share")))
        .context("cannot find the network config dir: neither $XDG_DATA_HOME nor $HOME is set")?;
    Ok(data.join("containers/storage/networks"))
}

impl Networks {
    pub fn open() -> Result<Networks> {
        Ok(Networks {
            dir: default_dir()?,
        })
    }

    pub fn at(dir: PathBuf) -> Networks {
        Networks { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock every change takes.
    pub fn lock(&self) -> Result<crate::storage::Lock> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        crate::storage::Lock::exclusive_quiet(&self.dir.join(LOCK_FILE))
    }

    /// Every network, the default one included, sorted by name.
    pub fn list(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => Some(rd),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.dir.display())),
        };
        for e in rd.into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            if stem.starts_with('.') {
                continue;
            }
            match self.read(&e.path()) {
                Ok(n) => out.push(n),
                Err(e) => warn!("{e:#}"),
            }
        }
        if !out.iter().any(|n| n.name == DEFAULT_NAME) {
            out.push(Network::default_network());
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn read(&self, p: &Path) -> Result<Network> {
        let text = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        let n: Network = serde_json::from_slice(&text)
            .with_context(|| format!("network config {}", p.display()))?;
        check_name(&n.name).with_context(|| format!("network config {}", p.display()))?;
        Ok(n)
    }

    /// A network by name, full id or unique id prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Option<Network>> {
        let all = self.list()?;
        if let Some(n) = all.iter().find(|n| n.name == name_or_id) {
            return Ok(Some(n.clone()));
        }
        let hits: Vec<_> = all
            .iter()
            .filter(|n| !name_or_id.is_empty() && n.id.starts_with(name_or_id))
            .collect();
        match hits.len() {
            0 => Ok(None),
            1 => Ok(Some(hits[0].clone())),
            _ => bail!("more than one result for network ID {name_or_id}"),
        }
    }

    /// [`Networks::get`] or podman's "not found" error.
    pub fn find(&self, name_or_id: &str) -> Result<Network> {
        self.get(name_or_id)?
            .ok_or_else(|| crate::error::Error::not_found(crate::error::Kind::Network, name_or_id))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Create a network; with `ignore`, an existing one of that name is returned.
    pub fn create(&self, o: &CreateOptions) -> Result<Network> {
        let _l = self.lock()?;
        let all = self.list()?;
        let name = match &o.name {
            Some(n) => {
                check_name(n)?;
                if let Some(n) = all.iter().find(|x| &x.name == n) {
                    if o.ignore {
                        return Ok(n.clone());
                    }
                    bail!(
                        "network name {} already used: network already exists",
                        n.name
                    );
                }
                n.clone()
            }
            None => (0..)
                .map(|i| format!("podman{i}"))
                .find(|n| !all.iter().any(|x| &x.name == n))
                .unwrap(),
        };
        let net = build(&name, o, &all, &host_routes())?;
        let text = serde_json::to_vec_pretty(&net)?;
        let text = reindent(&text, 5);
        crate::storage::write_atomic(&self.path(&name), &text)
            .with_context(|| format!("writing the config of network {name}"))?;
        Ok(net)
    }

    /// Remove a network's config (the caller checked it is unused).
    pub fn remove(&self, net: &Network) -> Result<()> {
        if net.name == DEFAULT_NAME {
            bail!("default network {DEFAULT_NAME} cannot be removed");
        }
        let _l = self.lock()?;
        let p = self.path(&net.name);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", p.display())),
        }
    }
}

/// serde_json's pretty output indents by 2; podman writes 5 spaces.
pub fn reindent(pretty: &[u8], width: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(pretty);
    let mut out = String::with_capacity(pretty.len() * 2);
    for line in text.lines() {
        let lead = line.len() - line.trim_start_matches(' ').len();
        out.push_str(&" ".repeat(lead / 2 * width));
        out.push_str(&line[lead..]);
        out.push('\n');
    }
    out.pop();
    out.into_bytes()
}

/// The IPv4 routes of the host (`/proc/net/route`): a new network's subnet
/// must not hide one.
pub fn host_routes() -> Vec<Cidr> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None; // the default route overlaps everything
            }
            Some(Cidr {
                addr: IpAddr::V4(Ipv4Addr::from(u32::from_be(dest))),
                len: u32::from_be(mask).count_ones() as u8,
            })
        })
        .collect()
}

fn random_bytes(n: usize) -> Vec<u8> {
    let id = crate::container::names::new_id();
    hex::decode(&id[..n * 2]).unwrap_or_else(|_| vec![0; n])
}

fn parse_bool(k: &str, v: &str) -> Result<()> {
    match v {
        "true" | "false" | "1" | "0" => Ok(()),
        _ => bail!("invalid option {k}={v}: expected true or false"),
    }
}

/// The config for a new network named `name`, with a free subnet and bridge.
fn build(name: &str, o: &CreateOptions, all: &[Network], routes: &[Cidr]) -> Result<Network> {
    let driver = if o.driver.is_empty() {
        "bridge"
    } else {
        o.driver.as_str()
    };
    // podman 4.3.1 (and netavark 1.4) know bridge and macvlan; ipvlan came
    // later, and 4.3.1 refuses it with this line.
    if !matches!(driver, "bridge" | "macvlan") {
        bail!("unsupported driver {driver}: invalid argument");
    }
    let mut options = BTreeMap::new();
    for (k, v) in &o.options {
        match (k.as_str(), driver) {
            ("mtu", _) | ("metric", "bridge") => {
                v.parse::<u32>()
                    .map_err(|_| anyhow::anyhow!("invalid option {k}={v}: not a number"))?;
            }
            ("vlan", "bridge") => {
                v.parse::<u16>()
                    .ok()
                    .filter(|n| *n <= 4094)
                    .with_context(|| format!("invalid option vlan={v}: expected 0-4094"))?;
            }
            ("isolate", "bridge") => parse_bool(k, v)?,
            ("mode", "macvlan") => {
                if !matches!(v.as_str(), "bridge" | "private" | "vepa" | "passthru") {
                    bail!("unknown macvlan mode {v:?}");
                }
            }
            ("parent", "macvlan") => {
                // Checked on the host, as podman does (at run, netavark
                // looks for it in the rootless network namespace).
                if !host_interfaces().iter().any(|i| i == v) {
                    bail!("parent interface {v} does not exist");
                }
            }
            _ => bail!("unsupported {driver} network option {k}"),
        }
        options.insert(k.clone(), v.clone());
    }
    let ipam = o.ipam_driver.clone().unwrap_or_else(|| "host-local".into());
    if !matches!(ipam.as_str(), "host-local" | "none" | "dhcp") {
        bail!("unsupported ipam driver {ipam:?}");
    }
    if o.subnets.is_empty() && (!o.gateways.is_empty() || !o.ip_ranges.is_empty()) {
        bail!("cannot set gateway or range without subnet");
    }
    if o.gateways.len() > o.subnets.len() || o.ip_ranges.len() > o.subnets.len() {
        bail!("cannot set more gateways or ranges than subnets");
    }
    if ipam == "dhcp" {
        bail!("dhcp ipam driver is not yet supported with netavark");
    }
    if driver != "bridge" && o.subnets.is_empty() && ipam != "none" {
        bail!("{driver} driver needs at least one subnet specified, DHCP is not yet supported with netavark");
    }
    let used: Vec<Cidr> = all.iter().flat_map(|n| n.cidrs()).collect();
    // podman: an internal bridge needs a gateway only for aardvark-dns.
    let add_gateway = driver != "bridge" || !o.internal || !o.disable_dns;
    // ...and a bridge without IPAM gets no subnet.
    let auto_subnets = driver == "bridge" && ipam != "none";
    let mut subnets = Vec::new();
    for (i, s) in o.subnets.iter().enumerate() {
        let c = Cidr::parse(s)?;
        if driver == "bridge"
            && (used.iter().any(|u| u.overlaps(&c)) || routes.iter().any(|u| u.overlaps(&c)))
        {
            bail!("subnet {c} is already used on the host or by another config");
        }
        if c.size() < 4 {
            bail!("subnet {c} is too small: it needs room for a gateway and a container");
        }
        let gateway = match o.gateways.get(i) {
            Some(g) => {
                let ip: IpAddr = g
                    .parse()
                    .with_context(|| format!("invalid gateway {g:?}: not an IP address"))?;
                if !c.contains(ip) {
                    bail!("gateway {ip} not in subnet {c}");
                }
                ip
            }
            None => c.nth(1),
        };
        let lease_range = match o.ip_ranges.get(i) {
            Some(r) => {
                let rc = Cidr::parse(r).with_context(|| format!("--ip-range {r}"))?;
                if !c.contains(rc.network()) || rc.len < c.len {
                    bail!("ip range {rc} not in subnet {c}");
                }
                // podman's FirstIPInSubnet/LastIPInSubnet: the range's
                // network address + 1 (itself for a single address) to its
                // last address.
                let single = rc.len == rc.bits() as u8;
                Some(LeaseRange {
                    start_ip: Some(rc.nth(if single { 0 } else { 1 }).to_string()),
                    end_ip: Some(rc.nth(rc.size() - 1).to_string()),
                })
            }
            None => None,
        };
        subnets.push(Subnet {
            subnet: c.to_string(),
            gateway: (add_gateway || o.gateways.get(i).is_some()).then(|| gateway.to_string()),
            lease_range,
        });
    }
    let has_v4 = subnets.iter().any(|s| !s.subnet.contains(':'));
    let has_v6 = subnets.iter().any(|s| s.subnet.contains(':'));
    if auto_subnets && !has_v4 && (subnets.is_empty() || o.ipv6) && (!has_v6 || o.ipv6) {
        let c = free_subnet(&used, routes)?;
        subnets.push(Subnet {
            subnet: c.to_string(),
            gateway: add_gateway.then(|| c.nth(1).to_string()),
            lease_range: None,
        });
    }
    if auto_subnets && o.ipv6 && !has_v6 {
        let mut b = random_bytes(5);
        b[0] = 0xfd;
        let mut oct = [0u8; 16];
        oct[..5].copy_from_slice(&b);
        let c = Cidr {
            addr: IpAddr::V6(Ipv6Addr::from(oct)),
            len: 64,
        };
        subnets.push(Subnet {
            subnet: c.to_string(),
            gateway: add_gateway.then(|| c.nth(1).to_string()),
            lease_range: None,
        });
    }
    let ipv6_enabled = o.ipv6 || subnets.iter().any(|s| s.subnet.contains(':'));
    let network_interface = match driver {
        "bridge" => (1..)
            .map(|i| format!("podman{i}"))
            .find(|n| !all.iter().any(|x| &x.network_interface == n))
            .unwrap(),
        _ => options.remove("parent").unwrap_or_default(),
    };
    let mut labels = BTreeMap::new();
    for (k, v) in &o.labels {
        labels.insert(k.clone(), v.clone());
    }
    let mut ipam_options = BTreeMap::new();
    ipam_options.insert("driver".to_string(), ipam);
    Ok(Network {
        name: name.to_string(),
        id: hex::encode(random_bytes(32)),
        driver: driver.to_string(),
        network_interface,
        created: crate::time::rfc3339_nano_go(crate::time::now_ns()),
        subnets,
        ipv6_enabled,
        internal: o.internal,
        // podman 4.3.1 records dns_enabled for macvlan networks too (netavark
        // starts no aardvark-dns for them); never without addresses.
        dns_enabled: !o.disable_dns && ipam_options["driver"] != "none",
        labels,
        options,
        ipam_options,
    })
}

/// The interfaces of this process's network namespace (`/proc/self/net/dev`).
fn host_interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/self/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect()
}

/// The first free /24 of podman's default pool (10.89.0.0/24 up to
/// 10.255.255.0/24) that no network and no host route uses.
fn free_subnet(used: &[Cidr], routes: &[Cidr]) -> Result<Cidr> {
    let start = u32::from(Ipv4Addr::new(10, 89, 0, 0));
    let end = u32::from(Ipv4Addr::new(10, 255, 255, 0));
    let mut a = start;
    while a <= end {
        let c = Cidr {
            addr: IpAddr::V4(Ipv4Addr::from(a)),
            len: 24,
        };
        if !used.iter().chain(routes).any(|u| u.overlaps(&c)) {
            return Ok(c);
        }
        a += 256;
    }
    bail!("could not find a free subnet in 10.89.0.0-10.255.255.0/24: remove unused networks (rpod network prune)")
}

/// `network ls`/`prune` filters.
#[derive(Debug, Clone)]
pub enum Filter {
    Name(String),
    Id(String),
    Driver(String),
    Label(String, Option<String>),
    NotLabel(String, Option<String>),
    Until(i64),
    Dangling(bool),
}

pub fn parse_filter(s: &str) -> Result<Filter> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("invalid filter {s:?}: expected KEY=VALUE"))?;
    let kv = |v: &str| match v.split_once('=') {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (v.to_string(), None),
    };
    Ok(match k {
        "name" => Filter::Name(v.to_string()),
        "id" => Filter::Id(v.to_string()),
        "driver" => Filter::Driver(v.to_string()),
        "label" => {
            let (a, b) = kv(v);
            Filter::Label(a, b)
        }
        "label!" => {
            let (a, b) = kv(v);
            Filter::NotLabel(a, b)
        }
        "until" => Filter::Until(crate::time::parse_time_arg(v, crate::time::now_ns())?),
        "dangling" => Filter::Dangling(match v {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => bail!("invalid dangling filter value {v:?}"),
        }),
        _ => bail!("invalid filter {k:?}: use name, id, driver, label, label!, until or dangling"),
    })
}

impl Filter {
    /// Whether `n` passes; `in_use` says whether containers use it.
    pub fn matches(&self, n: &Network, in_use: bool) -> bool {
        let label = |k: &str, v: &Option<String>| match n.labels.get(k) {
            Some(have) => match v {
                None => true,
                Some(v) => v == have,
            },
            None => false,
        };
        match self {
            // podman: the name itself, or a regular expression it matches.
            Filter::Name(s) => {
                n.name == *s || crate::volume::regex_match(s.as_bytes(), n.name.as_bytes())
            }
            Filter::Id(s) => n.id.starts_with(s.as_str()),
            Filter::Driver(d) => &n.driver == d,
            Filter::Label(k, v) => label(k, v),
            Filter::NotLabel(k, v) => !label(k, v),
            Filter::Until(t) => n.created_ns() < *t,
            Filter::Dangling(d) => *d != in_use,
        }
    }
}

/// Same-key filters OR, different keys AND (podman's rule).
pub fn matches_all(filters: &[Filter], n: &Network, in_use: bool) -> bool {
    let mut groups: BTreeMap<&'static str, bool> = BTreeMap::new();
    for f in filters {
        let key = match f {
            Filter::Name(_) => "name",
            Filter::Id(_) => "id",
            Filter::Driver(_) => "driver",
            Filter::Label(..) => "label",
            Filter::NotLabel(..) => "label!",
            Filter::Until(_) => "until",
            Filter::Dangling(_) => "dangling",
        };
        let m = f.matches(n, in_use);
        let e = groups.entry(key).or_insert(false);
        // label! must hold for every value, as podman's.
        if key == "label!" {
            *e = m
                && (*e
                    || !filters
                        .iter()
                        .any(|x| matches!(x, Filter::NotLabel(..)) && !x.matches(n, in_use)));
        } else {
            *e |= m;
        }
    }
    groups.values().all(|v| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CreateOptions {
        CreateOptions {
            driver: "bridge".into(),
            ..Default::default()
        }
    }

    #[test]
    fn cidr_math() {
        let c = Cidr::parse("10.89.0.7/24").unwrap();
        assert_eq!(c.to_string(), "10.89.0.0/24");
        assert_eq!(c.nth(1).to_string(), "10.89.0.1");
        assert!(c.contains("10.89.0.200".parse().unwrap()));
        assert!(!c.contains("10.89.1.1".parse().unwrap()));
        assert!(c.overlaps(&Cidr::parse("10.89.0.0/16").unwrap()));
        assert!(!c.overlaps(&Cidr::parse("10.90.0.0/16").unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nonsense").is_err());
        let v6 = Cidr::parse("fd00:1::/64").unwrap();
        assert_eq!(v6.nth(1).to_string(), "fd00:1::1");
    }

    #[test]
    fn new_networks_get_free_subnets_and_bridges() {
        let mut all = vec![Network::default_network()];
        let mut o = opts();
        let a = build("a", &o, &all, &[]).unwrap();
        assert_eq!(a.subnets[0].subnet, "10.89.0.0/24");
        assert_eq!(a.subnets[0].gateway.as_deref(), Some("10.89.0.1"));
        assert_eq!(a.network_interface, "podman1");
        assert!(a.dns_enabled);
        all.push(a);
        let routes = [Cidr::parse("10.89.1.0/24").unwrap()];
        let b = build("b", &o, &all, &routes).unwrap();
        assert_eq!(b.subnets[0].subnet, "10.89.2.0/24");
        assert_eq!(b.network_interface, "podman2");
        all.push(b);
        o.subnets = vec!["10.89.2.128/25".into()];
        let e = build("c", &o, &all, &[]).unwrap_err();
        assert!(e.to_string().contains("already used"), "{e}");
        o.subnets = vec!["10.99.0.0/24".into()];
        o.gateways = vec!["10.98.0.1".into()];
        assert!(build("c", &o, &all, &[]).is_err());
        o.gateways = vec!["10.99.0.254".into()];
        o.ip_ranges = vec!["10.99.0.128/25".into()];
        let c = build("c", &o, &all, &[]).unwrap();
        assert_eq!(c.subnets[0].gateway.as_deref(), Some("10.99.0.254"));
        let lr = c.subnets[0].lease_range.clone().unwrap();
        // podman's FirstIPInSubnet: the range's network address + 1.
        assert_eq!(lr.start_ip.as_deref(), Some("10.99.0.129"));
        assert_eq!(lr.end_ip.as_deref(), Some("10.99.0.255"));
        let mut o = opts();
        o.gateways = vec!["10.1.1.1".into()];
        let e = build("d", &o, &all, &[]).unwrap_err();
        assert_eq!(e.to_string(), "cannot set gateway or range without subnet");
        let mut o = opts();
        o.ipv6 = true;
        let v = build("v6", &o, &all, &[]).unwrap();
        assert_eq!(v.subnets.len(), 2);
        assert!(v.subnets[1].subnet.starts_with("fd"));
        assert!(v.ipv6_enabled);
        let mut o = opts();
        o.options = vec![("mtu".into(), "x".into())];
        assert!(build("m", &o, &all, &[]).is_err());
        o.options = vec![("bogus".into(), "1".into())];
        assert!(build("m", &o, &all, &[]).is_err());
        o.options = vec![("mtu".into(), "1400".into())];
        assert_eq!(build("m", &o, &all, &[]).unwrap().options["mtu"], "1400");
        // As podman: an internal bridge without DNS has no gateway, one
        // without IPAM no subnet.
        let mut o = opts();
        o.internal = true;
        o.disable_dns = true;
        let n = build("i", &o, &all, &[]).unwrap();
        assert_eq!(n.subnets[0].gateway, None);
        o.disable_dns = false;
        let n = build("i", &o, &all, &[]).unwrap();
        assert!(n.subnets[0].gateway.is_some());
        let mut o = opts();
        o.ipam_driver = Some("none".into());
        let n = build("n", &o, &all, &[]).unwrap();
        assert!(n.subnets.is_empty() && !n.dns_enabled);
    }

    #[test]
    fn macvlan_networks_as_podman_4_3_writes_them() {
        let all = vec![Network::default_network()];
        let mut o = CreateOptions {
            driver: "macvlan".into(),
            subnets: vec!["10.89.0.0/24".into()],
            options: vec![
                ("mode".into(), "vepa".into()),
                ("mtu".into(), "1400".into()),
            ],
            ..Default::default()
        };
        // No overlap check for macvlan; a gateway and dns_enabled as podman.
        let m = build("m", &o, &all, &[Cidr::parse("10.89.0.0/16").unwrap()]).unwrap();
        assert_eq!(m.driver, "macvlan");
        assert_eq!(m.network_interface, "");
        assert_eq!(m.subnets[0].gateway.as_deref(), Some("10.89.0.1"));
        assert!(m.dns_enabled);
        assert_eq!(m.options["mode"], "vepa");
        o.options = vec![("parent".into(), "lo".into())];
        assert_eq!(build("m", &o, &all, &[]).unwrap().network_interface, "lo");
        o.options = vec![("parent".into(), "nosuch-if0".into())];
        let e = build("m", &o, &all, &[]).unwrap_err().to_string();
        assert_eq!(e, "parent interface nosuch-if0 does not exist");
        for (k, v, msg) in [
            ("mode", "l3", "unknown macvlan mode \"l3\""),
            ("metric", "5", "unsupported macvlan network option metric"),
            (
                "isolate",
                "true",
                "unsupported macvlan network option isolate",
            ),
            ("vlan", "3", "unsupported macvlan network option vlan"),
        ] {
            o.options = vec![(k.into(), v.into())];
            assert_eq!(build("m", &o, &all, &[]).unwrap_err().to_string(), msg);
        }
        o.internal = true;
        o.disable_dns = true;
        o.options.clear();
        let m = build("m", &o, &all, &[]).unwrap();
        assert_eq!(m.subnets[0].gateway.as_deref(), Some("10.89.0.1"));
        o.subnets.clear();
        let e = build("m", &o, &all, &[]).unwrap_err().to_string();
        assert!(
            e.starts_with("macvlan driver needs at least one subnet"),
            "{e}"
        );
        o.ipam_driver = Some("none".into());
        let n = build("m", &o, &all, &[]).unwrap();
        assert!(n.subnets.is_empty() && !n.dns_enabled);
        o.ipam_driver = Some("dhcp".into());
        let e = build("m", &o, &all, &[]).unwrap_err().to_string();
        assert_eq!(e, "dhcp ipam driver is not yet supported with netavark");
        // podman 4.3.1 has no ipvlan driver.
        o.driver = "ipvlan".into();
        o.ipam_driver = None;
        o.subnets = vec!["10.89.0.0/24".into()];
        let e = build("i", &o, &all, &[]).unwrap_err().to_string();
        assert_eq!(e, "unsupported driver ipvlan: invalid argument");
    }

    #[test]
    fn names_as_podman_checks_them() {
        assert!(check_name("my-net_1.x").is_ok());
        assert!(check_name("bad/name").is_err());
        assert!(check_name("-x").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn config_round_trips_in_podman_layout() {
        let n = Network::default_network();
        let text = String::from_utf8(reindent(&serde_json::to_vec_pretty(&n).unwrap(), 5)).unwrap();
        assert!(
            text.starts_with("{\n     \"name\": \"podman\",\n     \"id\""),
            "{text}"
        );
        assert!(!text.contains("labels"));
        let back: Network = serde_json::from_str(&text).unwrap();
        assert_eq!(back, n);
    }

    #[test]
    fn filters() {
        let mut n = Network::default_network();
        n.labels.insert("a".into(), "b".into());
        let f = |s: &str| vec![parse_filter(s).unwrap()];
        assert!(matches_all(&f("name=pod"), &n, false));
        assert!(!matches_all(&f("name=x"), &n, false));
        // podman's name filter is a regular expression.
        assert!(matches_all(&f("name=^pod"), &n, false));
        assert!(matches_all(&f("name=man$"), &n, false));
        assert!(matches_all(&f("name=^p.d.*n$"), &n, false));
        assert!(!matches_all(&f("name=^man"), &n, false));
        assert!(matches_all(&f("label=a"), &n, false));
        assert!(matches_all(&f("label=a=b"), &n, false));
        assert!(!matches_all(&f("label=a=c"), &n, false));
        assert!(!matches_all(&f("label!=a"), &n, false));
        assert!(matches_all(&f("dangling=true"), &n, false));
        assert!(!matches_all(&f("dangling=true"), &n, true));
        assert!(parse_filter("bogus=1").is_err());
    }
}
