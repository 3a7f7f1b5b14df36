//! `rpod system`: df, prune, reset, check, info, and the podman verbs that
//! have nothing to do here (migrate, renumber) or no place (service,
//! connection). Flags and output; the work is in `crate::system`.

use super::format::Report;
use super::GlobalOpts;
use crate::container::record::Paths;
use crate::storage::Store;
use crate::system::{self as sys, check::Kind, DiskUsage};
use crate::units::human_size;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show rpod's disk usage
    Df(DfArgs),
    /// Remove unused containers, images and (with --volumes) volumes
    Prune(SystemPruneArgs),
    /// Remove everything rpod owns: containers, images, volumes, its storage and runtime dirs
    Reset(ResetArgs),
    /// Check the storage for damage (and repair it)
    Check(CheckArgs),
    /// Show how rpod is set up on this machine
    Info(super::InfoArgs),
    /// Show events (the same as rpod events)
    Events(super::events::EventsArgs),
    /// Migrate containers to a new rpod version (nothing to do)
    Migrate(MigrateArgs),
    /// Renumber container locks (nothing to do: rpod's locks are files)
    Renumber,
    /// Run an API service (not supported: rpod has no service)
    #[command(hide = true)]
    Service(NoServiceArgs),
    /// Manage connections to remote services (not supported: rpod has no service)
    #[command(hide = true)]
    Connection(NoServiceArgs),
}

#[derive(Args, Debug, Clone)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Pretty-print with a Go template, or json
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Prune volumes currently unused by any container
    #[arg(long)]
    pub volumes: bool,
    /// Only remove containers and images that match: label=KEY[=VALUE], label!=KEY[=VALUE], until=TIME
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ResetArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Remove damaged images and layers and what crashes left behind
    #[arg(short, long)]
    pub repair: bool,
    /// With --repair, also remove damaged containers and the containers of damaged images
    #[arg(short, long)]
    pub force: bool,
    /// Skip time-consuming checks (hashing every blob)
    #[arg(short, long)]
    pub quick: bool,
    /// Layers no image uses that are older than this are damage (a Go duration)
    #[arg(short, long, value_name = "DURATION", default_value = "24h")]
    pub max: String,
}

#[derive(Args, Debug, Clone)]
pub struct MigrateArgs {
    /// Set a new OCI runtime for all containers (rpod has only its own)
    #[arg(long, value_name = "RUNTIME")]
    pub new_runtime: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct NoServiceArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

pub fn system_cmd(g: &GlobalOpts, cmd: SystemCommand) -> Result<()> {
    match cmd {
        SystemCommand::Df(a) => df_cmd(g, &a),
        SystemCommand::Prune(a) => prune_cmd(g, &a),
        SystemCommand::Reset(a) => reset_cmd(g, &a),
        SystemCommand::Check(a) => check_cmd(g, &a),
        SystemCommand::Info(a) => super::system::info_cmd(g, &a),
        SystemCommand::Events(a) => super::events::events_cmd(g, &a),
        SystemCommand::Migrate(a) => {
            if let Some(r) = a.new_runtime {
                bail!("rpod has one built-in OCI runtime: cannot migrate containers to {r:?}");
            }
            eprintln!(
                "rpod keeps no pause process and its containers need no migration: nothing to do"
            );
            Ok(())
        }
        SystemCommand::Renumber => {
            eprintln!("rpod's locks are files, not numbered slots: nothing to renumber");
            let ev = crate::events::Event::new("system", "renumber");
            crate::events::emit(Store::open(&g.into())?.runroot(), &ev);
            Ok(())
        }
        SystemCommand::Service(_) => {
            bail!("rpod has no API service: `system service` is not supported; run rpod commands directly")
        }
        SystemCommand::Connection(_) => {
            bail!("rpod has no API service to connect to: `system connection` is not supported")
        }
    }
}

// ---- df ----

/// One line of the summary: podman 5's JSON keys (podman 4.3's template
/// fields `.Size` and `.Reclaimable` are the human strings).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct SummaryRow {
    #[serde(rename = "Type")]
    kind: &'static str,
    total: usize,
    active: usize,
    raw_size: u64,
    raw_reclaimable: u64,
    total_count: usize,
    size: String,
    reclaimable: String,
}

fn summary_row(
    kind: &'static str,
    (total, active, size, reclaimable): (usize, usize, u64, u64),
) -> SummaryRow {
    let percent = if size > 0 {
        (reclaimable as f64 / size as f64 * 100.0).round() as u64
    } else {
        0
    };
    SummaryRow {
        kind,
        total,
        active,
        raw_size: size,
        raw_reclaimable: reclaimable,
        total_count: total,
        size: human_size(size),
        reclaimable: format!("{} ({percent}%)", human_size(reclaimable)),
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ImageRow {
    repository: String,
    tag: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    created: String,
    size: String,
    shared_size: String,
    unique_size: String,
    containers: usize,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerRow {
    #[serde(rename = "ContainerID")]
    container_id: String,
    image: String,
    command: String,
    local_volumes: usize,
    #[serde(rename = "RWSize")]
    rw_size: String,
    created: String,
    status: String,
    names: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeRow {
    volume_name: String,
    links: usize,
    size: String,
}

fn df_headers(field: &str) -> Option<&'static str> {
    Some(match field {
        "RWSize" => "SIZE",
        "ImageID" => "IMAGE ID",
        "ContainerID" => "CONTAINER ID",
        _ => return None,
    })
}

pub fn df_cmd(g: &GlobalOpts, a: &DfArgs) -> Result<()> {
    if a.verbose && a.format.is_some() {
        bail!("cannot combine --format and --verbose flags");
    }
    let opts = g.into();
    let store = Store::open(&opts)?;
    let paths = Paths::new(&opts)?;
    let du = sys::disk_usage(&store, &paths, a.verbose)?;
    if a.verbose {
        return print_verbose(&du);
    }
    let rows = [
        summary_row("Images", du.images_summary()),
        summary_row("Containers", du.containers_summary()),
        summary_row("Local Volumes", du.volumes_summary()),
    ];
    Report::list(
        a.format.as_deref(),
        "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    )?
    .json_indent(b"    ")
    .print(&rows)
}

fn print_verbose(du: &DiskUsage) -> Result<()> {
    let now_ns = crate::time::now_ns();
    let now = now_ns.div_euclid(1_000_000_000);
    let mut out = std::io::stdout().lock();
    writeln!(out, "Images space usage:\n")?;
    let images: Vec<ImageRow> = du
        .images
        .iter()
        .map(|i| ImageRow {
            repository: i.repository.clone(),
            tag: i.tag.clone(),
            image_id: i.id[..12].to_string(),
            created: crate::time::human_duration_secs(now - i.created),
            size: human_size(i.size),
            shared_size: human_size(i.shared_size),
            unique_size: human_size(i.unique_size),
            containers: i.containers,
        })
        .collect();
    Report::list(
        None,
        "table {{.Repository}}\t{{.Tag}}\t{{.ImageID}}\t{{.Created}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
    )?
    .headers(df_headers)
    .write(&mut out, &images)?;
    writeln!(out, "\nContainers space usage:\n")?;
    let containers: Vec<ContainerRow> = du
        .containers
        .iter()
        .map(|c| ContainerRow {
            container_id: c.id[..12].to_string(),
            image: c.image_id.chars().take(12).collect(),
            command: c.command.join(" "),
            local_volumes: c.local_volumes,
            rw_size: human_size(c.rw_size),
            created: crate::time::since(c.created, now_ns),
            status: c.status.as_str().to_string(),
            names: c.name.clone(),
        })
        .collect();
    Report::list(
        None,
        "table {{.ContainerID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.RWSize}}\t{{.Created}}\t{{.Status}}\t{{.Names}}",
    )?
    .headers(df_headers)
    .write(&mut out, &containers)?;
    writeln!(out, "\nLocal Volumes space usage:\n")?;
    let volumes: Vec<VolumeRow> = du
        .volumes
        .iter()
        .map(|v| VolumeRow {
            volume_name: v.name.clone(),
            links: v.links,
            size: human_size(v.size),
        })
        .collect();
    Report::list(None, "table {{.VolumeName}}\t{{.Links}}\t{{.Size}}")?
        .headers(df_headers)
        .write(&mut out, &volumes)?;
    Ok(())
}

// ---- prune ----

/// Ask on stdout (as podman does); true for an answer starting with y.
fn confirm(prompt: &str) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt}")?;
    out.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_start().starts_with(['y', 'Y']))
}

pub fn prune_cmd(g: &GlobalOpts, a: &SystemPruneArgs) -> Result<()> {
    let now = crate::time::now_secs();
    let filters = a
        .filters
        .iter()
        .map(|f| sys::PruneFilter::parse(f, now))
        .collect::<Result<Vec<_>>>()?;
    if !a.force {
        let volumes = if a.volumes {
            "\n\t- all volumes not used by at least one container"
        } else {
            ""
        };
        let images = if a.all {
            "\t- all images without at least one container associated with them\n\t- all build cache"
        } else {
            "\t- all dangling images\n\t- all dangling build cache"
        };
        let prompt = format!(
            "WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container{volumes}\n{images}\n\nAre you sure you want to continue? [y/N] "
        );
        if !confirm(&prompt)? {
            return Ok(());
        }
    }
    crate::userns::enter()?;
    let opts = g.into();
    let store = Store::open(&opts)?;
    let paths = Paths::new(&opts)?;
    let report = sys::system_prune(
        &store,
        &paths,
        &sys::SystemPruneOptions {
            all: a.all,
            volumes: a.volumes,
            filters,
        },
    )?;
    let mut out = std::io::stdout().lock();
    let mut section = |title: &str, ids: Vec<&String>| -> Result<()> {
        if !ids.is_empty() {
            writeln!(out, "{title}")?;
            for id in ids {
                writeln!(out, "{id}")?;
            }
        }
        Ok(())
    };
    section(
        "Deleted Containers",
        report.containers.iter().map(|x| &x.0).collect(),
    )?;
    section(
        "Deleted Volumes",
        report.volumes.iter().map(|x| &x.0).collect(),
    )?;
    section(
        "Deleted Images",
        report.images.iter().map(|x| &x.0).collect(),
    )?;
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(report.reclaimed())
    )?;
    drop(out);
    let mut errors = report.container_errors;
    let Some((last_id, last)) = errors.pop() else {
        return Ok(());
    };
    for (id, e) in errors {
        eprintln!("Error: removing container {id}: {e:#}");
    }
    Err(last.context(format!("removing container {last_id}")))
}

// ---- reset ----

pub fn reset_cmd(g: &GlobalOpts, a: &ResetArgs) -> Result<()> {
    let opts: crate::options::Options = g.into();
    let (root, runroot) = store_dirs(&opts)?;
    if !a.force {
        let prompt = format!(
            "WARNING! This will remove:\n        - all containers\n        - all images\n        - all volumes\n        - the graphRoot directory: {:?}\n        - the runRoot directory: {:?}\nAre you sure you want to continue? [y/N] ",
            root.display().to_string(),
            runroot.display().to_string()
        );
        if !confirm(&prompt)? {
            return Ok(());
        }
    }
    crate::userns::enter()?;
    let store = Store::open(&opts)?;
    let paths = Paths::new(&opts)?;
    let report = sys::reset::reset(&store, &paths)?;
    for e in &report.errors {
        eprintln!("Error: {e:#}");
    }
    Ok(())
}

/// The store's root and runroot as `Store::open` would pick them, without
/// opening it (opening creates it and clears its tmp/).
fn store_dirs(o: &crate::options::Options) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let root = match &o.root {
        Some(r) => std::path::absolute(r)?,
        None => crate::storage::default_root()?,
    };
    let runroot = match &o.runroot {
        Some(r) => std::path::absolute(r)?,
        None => crate::storage::default_runroot()?,
    };
    Ok((root, runroot))
}

// ---- check ----

pub fn check_cmd(g: &GlobalOpts, a: &CheckArgs) -> Result<()> {
    let max = crate::time::parse_time_arg(&a.max, 0)
        .ok()
        .filter(|ns| *ns <= 0)
        .map(|ns| std::time::Duration::from_nanos(ns.unsigned_abs()))
        .ok_or_else(|| {
            anyhow::anyhow!("invalid --max {:?}: expected a duration such as 24h", a.max)
        })?;
    let repair = a.repair || a.force;
    if repair {
        crate::userns::enter()?;
    }
    let (root, runroot) = store_dirs(&g.into())?;
    let o = sys::CheckOptions {
        repair,
        force: a.force,
        quick: a.quick,
        max_unreferenced_age: max,
    };
    let report = sys::check(&root, &runroot, &o)?;
    let mut out = std::io::stdout().lock();
    for f in &report.findings {
        match f.kind {
            Kind::Leftover => writeln!(out, "Leftover {}:", f.name)?,
            k => writeln!(out, "Damaged {} {}:", k.as_str(), f.name)?,
        }
        for p in &f.problems {
            writeln!(out, "\t* {p}")?;
        }
    }
    for f in &report.findings {
        if let Some(done) = &f.repaired {
            writeln!(out, "{done}")?;
        } else if let Some(why) = &f.kept {
            writeln!(out, "Kept {} {}: {why}", f.kind.as_str(), f.name)?;
        }
    }
    if report.removed_locks > 0 {
        writeln!(out, "Removed {} stale lock file(s)", report.removed_locks)?;
    }
    drop(out);
    if !repair && report.damaged(false) {
        bail!("damage detected in local storage");
    }
    if repair && report.damaged(true) {
        bail!("damage in local storage still present after repair attempt");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_rows_round_the_percentage() {
        let r = summary_row("Images", (3, 1, 6_570_415, 4_418_830));
        assert_eq!(r.reclaimable, "4.419MB (67%)");
        assert_eq!(r.size, "6.57MB");
        let r = summary_row("Local Volumes", (0, 0, 0, 0));
        assert_eq!(r.reclaimable, "0B (0%)");
    }
}
