//! `rpod port`: list a container's published ports, as podman prints them.

use super::ports;
use crate::cli::GlobalOpts;
use crate::container::record::{self, Paths};
use anyhow::{bail, Result};
use std::io::Write;

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

pub fn port_cmd(g: &GlobalOpts, a: &PortArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    // With --all or --latest the first word is the port.
    let (target, filter) = if a.all || a.latest {
        if a.port.is_some() {
            bail!("the port can be given once: rpod port --all|--latest [PORT]");
        }
        (None, a.container.as_deref())
    } else {
        (a.container.as_deref(), a.port.as_deref())
    };
    let ids: Vec<String> = match target {
        Some(name) => vec![record::resolve(&paths, name)?],
        None => {
            let mut all: Vec<(i64, String)> = record::list_ids(&paths)?
                .into_iter()
                .filter_map(|id| record::load(&paths, &id).ok().map(|r| (r.created, id)))
                .collect();
            all.sort_by_key(|x| std::cmp::Reverse(x.0));
            if a.latest {
                all.truncate(1);
            }
            all.into_iter().map(|(_, id)| id).collect()
        }
    };
    let mut out = std::io::stdout().lock();
    let mut found = false;
    for id in ids {
        // podman lists the ports of running containers only.
        if !record::observe(&paths, &id).is_running() {
            continue;
        }
        let rec = record::load(&paths, &id)?;
        let lines = ports::port_lines(&ports::from_record(&rec.ports), filter)?;
        found |= !lines.is_empty();
        for l in lines {
            if a.all {
                writeln!(out, "{}\t{l}", &id[..12])?;
            } else {
                writeln!(out, "{l}")?;
            }
        }
    }
    if let (Some(p), false) = (filter, found) {
        bail!("failed to find published port {p:?}");
    }
    Ok(())
}
