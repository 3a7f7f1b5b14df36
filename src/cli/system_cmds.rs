//! `rpod port`, `rpod unshare` and the monitor's `rpod __monitor`: their
//! flags, the mapping onto the library, and the output.

use super::container::UnshareArgs;
use super::format::Report;
use super::GlobalOpts;
use crate::network::port_cmd::{PortLister, PortTarget};
use anyhow::{bail, Result};

#[derive(clap::Args, Debug, Clone)]
pub struct PortArgs {
    /// Container whose ports to list
    #[arg(value_name = "CONTAINER", required_unless_present_any = ["all", "latest"])]
    pub container: Option<String>,
    /// Only this port: PORT[/PROTOCOL]
    #[arg(value_name = "PORT")]
    pub port: Option<String>,
    /// List the ports of every running container
    #[arg(short, long, conflicts_with = "latest")]
    pub all: bool,
    /// Use the most recently created container
    #[arg(short, long)]
    pub latest: bool,
}

/// One line of `port`: `80/tcp -> 0.0.0.0:8080`.
#[derive(serde::Serialize)]
struct PortRow<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Port")]
    port: &'a str,
}

pub(super) fn port_cmd(g: &GlobalOpts, a: &PortArgs) -> Result<()> {
    let lister = PortLister::open(&g.into())?;
    // With --all or --latest the first word is the port.
    let (target, filter) = if a.all || a.latest {
        if a.port.is_some() {
            bail!("the port can be given once: rpod port --all|--latest [PORT]");
        }
        let t = if a.all {
            PortTarget::All
        } else {
            PortTarget::Latest
        };
        (t, a.container.as_deref())
    } else {
        let name = a.container.clone().unwrap_or_default();
        (PortTarget::Container(name), a.port.as_deref())
    };
    // One line per mapping, with the container's short ID under --all.
    let report = Report::list(
        Some(if a.all {
            "{{.ID}}\t{{.Port}}"
        } else {
            "{{.Port}}"
        }),
        "",
    )?;
    let mut out = std::io::stdout().lock();
    let mut found = false;
    for ports in lister.list(&target, filter)? {
        let ports = ports?;
        found |= !ports.lines.is_empty();
        let rows: Vec<PortRow> = ports
            .lines
            .iter()
            .map(|l| PortRow {
                id: &ports.id[..12],
                port: l,
            })
            .collect();
        report.write(&mut out, &rows)?;
    }
    if let (Some(p), false) = (filter, found) {
        bail!("failed to find published port {p:?}");
    }
    Ok(())
}

/// `rpod unshare [CMD]`: a shell (or CMD) as root in rpod's user namespace.
pub(super) fn unshare_cmd(a: &UnshareArgs) -> Result<()> {
    let argv: Vec<String> = if a.command.is_empty() {
        vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into())]
    } else {
        a.command.clone()
    };
    // Returns only when the program could not be run: as a shell, 127 when
    // there is no such program, 126 when it can't run.
    match crate::userns::unshare(&argv)? {}
}

// The monitor's command line (`rpod __monitor ID`, spawned by rpod itself).
#[derive(clap::Args, Debug)]
pub struct MonitorArgs {
    /// Container id
    pub id: String,
    /// Hold the container's output until the first attach client connects
    #[arg(long)]
    pub attach: bool,
    /// Initial terminal size ROWSxCOLS for -t
    #[arg(long)]
    pub size: Option<String>,
    /// A restart by the restart policy, of the run that finished then (epoch ns)
    #[arg(long, value_name = "NS")]
    pub restart_of: Option<i64>,
    /// Pass fds 3 .. 3+N to the container (`run --preserve-fds`)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// `init`: set the container up, then wait for `start` to run it
    #[arg(long)]
    pub init_only: bool,
}

pub(super) fn monitor_cmd(g: &GlobalOpts, a: MonitorArgs) -> Result<()> {
    crate::monitor::main(
        &g.into(),
        crate::monitor::MonitorOptions {
            id: a.id,
            attach: a.attach,
            size: a.size,
            restart_of: a.restart_of,
            preserve_fds: a.preserve_fds,
            init_only: a.init_only,
        },
    )
}
