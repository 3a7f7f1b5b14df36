//! `rpod network …`: podman's network commands, flags and output formats.
//! The networks themselves are `crate::network::netconf`'s (podman's
//! netavark config files); containers join them through
//! `crate::network::bridge`.

use super::format::Report;
use super::GlobalOpts;
use crate::container::record::Paths;
use crate::error::{Error, Kind};
use crate::network::bridge;
use crate::network::netconf::{self, CreateOptions, Filter, Network, Networks};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show networks as JSON
    Inspect(InspectArgs),
    /// Remove networks
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all networks no container uses
    Prune(PruneArgs),
    /// Exit 0 if the network exists, 1 if not
    Exists(ExistsArgs),
    /// Connect a container to a network (a running one at once)
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Set up the networking of running containers again (after a firewall reload)
    Reload(ReloadArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ReloadArgs {
    /// The containers
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Reload every running container on networks
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container rpod created
    #[arg(short, long)]
    pub latest: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Another name the container answers to on this network (repeatable)
    #[arg(long, value_name = "NAME")]
    pub alias: Vec<String>,
    /// The container's IPv4 address on the network
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// The container's IPv6 address on the network
    #[arg(long, value_name = "IP")]
    pub ip6: Option<String>,
    /// The container's MAC address on the network
    #[arg(long = "mac-address", value_name = "MAC")]
    pub mac_address: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct DisconnectArgs {
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Accepted for podman compatibility
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Name of the network (default: podmanN)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Driver: bridge (macvlan and ipvlan are written, but rootless containers cannot join them)
    #[arg(short, long, value_name = "DRIVER", default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR notation (repeatable)
    #[arg(long, value_name = "CIDR")]
    pub subnet: Vec<String>,
    /// Gateway of the subnet at the same position (repeatable)
    #[arg(long, value_name = "IP")]
    pub gateway: Vec<String>,
    /// Give containers addresses from this range of the subnet at the same position
    #[arg(long = "ip-range", value_name = "CIDR")]
    pub ip_range: Vec<String>,
    /// Also give the network an IPv6 subnet
    #[arg(long)]
    pub ipv6: bool,
    /// No way out of the network: only its containers reach each other
    #[arg(long)]
    pub internal: bool,
    /// No name resolution (aardvark-dns) on the network
    #[arg(long = "disable-dns")]
    pub disable_dns: bool,
    /// IP address management driver: host-local, none or dhcp
    #[arg(long = "ipam-driver", value_name = "DRIVER")]
    pub ipam_driver: Option<String>,
    /// Set a label on the network: KEY=VALUE
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Driver options: mtu=, vlan=, isolate=, metric= (bridge); parent=, mode= (macvlan, ipvlan)
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// Do not fail when the network exists already
    #[arg(long)]
    pub ignore: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LsArgs {
    /// Show only the networks that match: name, id, driver, label, label!, until, dangling
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, or json
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not print the header row
    #[arg(long)]
    pub noheading: bool,
    /// Do not truncate the network ids
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Print only the network names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// Networks to inspect
    #[arg(value_name = "NETWORK", required = true)]
    pub networks: Vec<String>,
    /// Format the output with a Go template, or json
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RmArgs {
    /// Networks to remove
    #[arg(value_name = "NETWORK", required = true)]
    pub networks: Vec<String>,
    /// Remove the containers that use the networks first
    #[arg(short, long)]
    pub force: bool,
    /// Seconds to wait for those containers to stop before killing them (with --force)
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
}

#[derive(Args, Debug, Clone)]
pub struct PruneArgs {
    /// Remove only the unused networks that match: label, label!, until
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ExistsArgs {
    /// The network to look for
    #[arg(value_name = "NETWORK")]
    pub network: String,
}

pub fn network_cmd(g: &GlobalOpts, cmd: NetworkCommand) -> Result<()> {
    match cmd {
        NetworkCommand::Create(a) => create_cmd(g, &a),
        NetworkCommand::Ls(a) => ls_cmd(g, &a),
        NetworkCommand::Inspect(a) => inspect_cmd(g, &a),
        NetworkCommand::Rm(a) => rm_cmd(g, &a),
        NetworkCommand::Prune(a) => prune_cmd(g, &a),
        NetworkCommand::Exists(a) => exists_cmd(&a),
        NetworkCommand::Connect(a) => connect_cmd(g, &a),
        NetworkCommand::Disconnect(a) => disconnect_cmd(g, &a),
        NetworkCommand::Reload(a) => reload_cmd(g, &a),
    }
}

fn key_values(v: &[String], what: &str) -> Result<Vec<(String, String)>> {
    v.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if what == "label" && !kv.is_empty() => Ok((kv.to_string(), String::new())),
            _ => bail!("invalid {what} {kv:?}: expected KEY=VALUE"),
        })
        .collect()
}

fn create_cmd(g: &GlobalOpts, a: &CreateArgs) -> Result<()> {
    let o = CreateOptions {
        name: a.name.clone(),
        driver: a.driver.clone(),
        subnets: a.subnet.clone(),
        gateways: a.gateway.clone(),
        ip_ranges: a.ip_range.clone(),
        ipv6: a.ipv6,
        internal: a.internal,
        disable_dns: a.disable_dns,
        labels: key_values(&a.label, "label")?,
        options: key_values(&a.opt, "--opt")?,
        ipam_driver: a.ipam_driver.clone(),
        ignore: a.ignore,
    };
    let nets = Networks::open()?;
    let existed = a.ignore
        && a.name
            .as_ref()
            .is_some_and(|n| nets.get(n).ok().flatten().is_some());
    let n = nets.create(&o)?;
    if !existed {
        if let Ok(paths) = Paths::new(&g.into()) {
            crate::events::emit(&paths.runroot, &network_event("create", &n));
        }
    }
    writeln!(std::io::stdout().lock(), "{}", n.name)?;
    Ok(())
}

fn network_event<'a>(status: &'a str, n: &'a Network) -> crate::events::Event<'a> {
    crate::events::Event {
        id: n.id.as_str().into(),
        name: n.name.as_str().into(),
        ..crate::events::Event::new("network", status)
    }
}

/// Which networks containers use (by name).
fn in_use(g: &GlobalOpts) -> std::collections::BTreeSet<String> {
    let mut used = std::collections::BTreeSet::new();
    let Ok(paths) = Paths::new(&g.into()) else {
        return used;
    };
    for id in crate::container::record::list_ids(&paths).unwrap_or_default() {
        if let Ok(rec) = crate::container::record::load(&paths, &id) {
            for a in bridge::networks_of(&rec.network) {
                used.insert(a.network.clone());
            }
        }
    }
    used
}

fn parse_filters(f: &[String]) -> Result<Vec<Filter>> {
    f.iter().map(|s| netconf::parse_filter(s)).collect()
}

/// The fields `--format` templates see for `ls`, named as podman's.
fn ls_row(n: &Network, no_trunc: bool) -> Value {
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let options: Vec<String> = n.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "Name": n.name,
        "ID": if no_trunc { n.id.clone() } else { n.id.chars().take(12).collect() },
        "Driver": n.driver,
        "Labels": labels.join(","),
        "Options": options.join(","),
        "Created": crate::time::format_go_ns(n.created_ns()),
        "NetworkInterface": n.network_interface,
        "DNSEnabled": n.dns_enabled,
        "Internal": n.internal,
        "IPv6Enabled": n.ipv6_enabled,
        "Subnets": n.subnets.iter().map(|s| s.subnet.clone()).collect::<Vec<_>>().join(","),
    })
}

fn header(f: &str) -> Option<&'static str> {
    match f {
        "ID" => Some("NETWORK ID"),
        "Name" => Some("NAME"),
        "Driver" => Some("DRIVER"),
        _ => None,
    }
}

fn ls_cmd(g: &GlobalOpts, a: &LsArgs) -> Result<()> {
    let filters = parse_filters(&a.filter)?;
    let used = if a.filter.iter().any(|f| f.starts_with("dangling=")) {
        in_use(g)
    } else {
        Default::default()
    };
    let list: Vec<Network> = Networks::open()?
        .list()?
        .into_iter()
        .filter(|n| netconf::matches_all(&filters, n, used.contains(&n.name)))
        .collect();
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for n in &list {
            writeln!(out, "{}", n.name)?;
        }
        return Ok(());
    }
    let report = Report::list(a.format.as_deref(), "table {{.ID}}\t{{.Name}}\t{{.Driver}}")?
        .headers(header)
        .noheading(a.noheading);
    if report.is_json() {
        return report.print(&list);
    }
    let rows: Vec<_> = list.iter().map(|n| ls_row(n, a.no_trunc)).collect();
    report.print(&rows)
}

/// A network as `inspect` templates see it: the config's keys plus podman's
/// Go field names.
fn inspect_row(n: &Network) -> Value {
    let mut v = serde_json::to_value(n).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        let row = ls_row(n, true);
        if let Value::Object(r) = row {
            for (k, val) in r {
                m.insert(k, val);
            }
        }
        m.insert(
            "Subnets".into(),
            serde_json::to_value(&n.subnets).unwrap_or(Value::Null),
        );
        m.insert(
            "Labels".into(),
            serde_json::to_value(&n.labels).unwrap_or(Value::Null),
        );
        m.insert(
            "Options".into(),
            serde_json::to_value(&n.options).unwrap_or(Value::Null),
        );
        m.insert(
            "IPAMOptions".into(),
            serde_json::to_value(&n.ipam_options).unwrap_or(Value::Null),
        );
    }
    v
}

fn inspect_cmd(_g: &GlobalOpts, a: &InspectArgs) -> Result<()> {
    let nets = Networks::open()?;
    let mut found = Vec::new();
    let mut missing = None;
    for n in &a.networks {
        match nets.get(n)? {
            Some(x) => found.push(x),
            None => {
                if let Some(prev) = missing.replace(n.clone()) {
                    eprintln!("Error: {}", Error::not_found(Kind::Network, prev));
                }
            }
        }
    }
    let report = Report::inspect(a.format.as_deref())?.json_indent(b"     ");
    if report.is_json() {
        report.print(&found)?;
    } else {
        let rows: Vec<_> = found.iter().map(inspect_row).collect();
        report.print(&rows)?;
    }
    match missing {
        Some(n) => Err(Error::not_found(Kind::Network, n)),
        None => Ok(()),
    }
}

/// Run `f` for each name: print each failure but the last, return that.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut last: Option<anyhow::Error> = None;
    for n in names {
        if let Err(e) = f(n) {
            if let Some(prev) = last.replace(e) {
                eprintln!("Error: {prev:#}");
            }
        }
    }
    last.map_or(Ok(()), Err)
}

fn rm_cmd(g: &GlobalOpts, a: &RmArgs) -> Result<()> {
    let nets = Networks::open()?;
    let paths = Paths::new(&g.into())?;
    each(&a.networks, |name| {
        let n = nets.find(name)?;
        if n.name == netconf::DEFAULT_NAME {
            bail!("default network {} cannot be removed", n.name);
        }
        let users = bridge::users_of(&paths, &n.name);
        if !users.is_empty() {
            if !a.force {
                return Err(Error::InUse {
                    kind: Kind::Network,
                    name: n.name.clone(),
                    users: users.iter().map(|u| u.0.clone()).collect(),
                }
                .into());
            }
            crate::userns::enter()?;
            for (id, _) in &users {
                crate::container::lifecycle::remove_container(&paths, id, true, a.time)?;
            }
        }
        nets.remove(&n)?;
        // An idle rootless network namespace goes now, not after its
        // linger; a busy one loses the network's kept bridge.
        crate::network::rootless::gc(&paths);
        bridge::forget_kept(&paths, &n);
        crate::events::emit(&paths.runroot, &network_event("remove", &n));
        writeln!(std::io::stdout().lock(), "{}", n.name)?;
        Ok(())
    })
}

fn prune_cmd(g: &GlobalOpts, a: &PruneArgs) -> Result<()> {
    let filters = parse_filters(&a.filter)?;
    if filters.iter().any(|f| {
        !matches!(
            f,
            Filter::Label(..) | Filter::NotLabel(..) | Filter::Until(_)
        )
    }) {
        bail!("network prune filters: use label, label! or until");
    }
    let nets = Networks::open()?;
    let used = in_use(g);
    let victims: Vec<Network> = nets
        .list()?
        .into_iter()
        .filter(|n| n.name != netconf::DEFAULT_NAME && !used.contains(&n.name))
        .filter(|n| netconf::matches_all(&filters, n, false))
        .collect();
    if !a.force {
        eprintln!("WARNING! This will remove all networks not used by at least one container.");
        eprint!("Are you sure you want to continue? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(());
        }
    }
    let paths = Paths::new(&g.into()).ok();
    let mut out = std::io::stdout().lock();
    for n in victims {
        nets.remove(&n)?;
        if let Some(p) = &paths {
            crate::events::emit(&p.runroot, &network_event("remove", &n));
        }
        writeln!(out, "{}", n.name)?;
    }
    Ok(())
}

fn exists_cmd(a: &ExistsArgs) -> Result<()> {
    if Networks::open()?.get(&a.network)?.is_some() {
        Ok(())
    } else {
        Err(crate::cli::exit::exit_status(1))
    }
}

fn connect_cmd(g: &GlobalOpts, a: &ConnectArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let mut attach = bridge::Attach {
        network: a.network.clone(),
        ..Default::default()
    };
    let extra = bridge::Extra {
        aliases: a.alias.clone(),
        ip: a.ip.clone(),
        ip6: a.ip6.clone(),
        mac: a.mac_address.clone(),
    };
    extra.apply(std::slice::from_mut(&mut attach))?;
    let rec = bridge::connect(&paths, &a.container, attach)?;
    let n = Networks::open()?.find(&a.network)?;
    crate::events::emit(
        &paths.runroot,
        &crate::events::Event {
            id: n.id.as_str().into(),
            name: n.name.as_str().into(),
            attributes: Some(
                [("container".into(), rec.id.as_str().into())]
                    .into_iter()
                    .collect(),
            ),
            ..crate::events::Event::new("network", "connect")
        },
    );
    Ok(())
}

fn reload_cmd(g: &GlobalOpts, a: &ReloadArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let names = if a.all {
        if !a.containers.is_empty() || a.latest {
            bail!("no arguments are needed with --all");
        }
        bridge::reload_all_ids(&paths)
    } else {
        let n = super::ctr_views::with_latest(&paths, &a.containers, a.latest)?;
        if n.is_empty() {
            bail!("you must provide at least one name or id");
        }
        n
    };
    each(&names, |name| {
        let id = bridge::reload(&paths, name)?;
        writeln!(std::io::stdout().lock(), "{id}")?;
        Ok(())
    })
}

fn disconnect_cmd(g: &GlobalOpts, a: &DisconnectArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let rec = bridge::disconnect(&paths, &a.container, &a.network)?;
    let n = Networks::open()?.find(&a.network)?;
    crate::events::emit(
        &paths.runroot,
        &crate::events::Event {
            id: n.id.as_str().into(),
            name: n.name.as_str().into(),
            attributes: Some(
                [("container".into(), rec.id.as_str().into())]
                    .into_iter()
                    .collect(),
            ),
            ..crate::events::Event::new("network", "disconnect")
        },
    );
    Ok(())
}
