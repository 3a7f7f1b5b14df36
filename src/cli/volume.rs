//! `rpod volume …`: podman's volume commands, flags and output formats.
//! The volumes themselves are `crate::volume`'s.

use super::format::Report;
use super::GlobalOpts;
use crate::volume::{self, CreateOptions, Filter, Volumes};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a new volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON
    Inspect(InspectArgs),
    /// Remove volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused volumes
    Prune(PruneArgs),
    /// Exit 0 if the volume exists, 1 if not
    Exists(ExistsArgs),
    /// Write a volume's content to a tar archive
    Export(ExportArgs),
    /// Replace a volume's content with a tar archive
    Import(ImportArgs),
    /// Mount volumes and print their paths (inside `rpod unshare`)
    Mount(MountArgs),
    /// Unmount volumes (inside `rpod unshare`)
    #[command(alias = "umount")]
    Unmount(MountArgs),
    /// Reload volumes from volume plugins (rpod has none: nothing changes)
    Reload,
}

#[derive(Args, Debug, Clone)]
pub struct MountArgs {
    /// Volumes to mount or unmount
    #[arg(value_name = "VOLUME", required = true)]
    pub volumes: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Name of the volume (default: a random 64-hex name)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Volume driver: only local
    #[arg(short, long, value_name = "DRIVER", default_value = "local")]
    pub driver: String,
    /// Set a label on the volume: KEY=VALUE
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Driver options: type=tmpfs|none, device=…, o=uid=…,gid=…,size=…
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// Do not fail when the volume exists already
    #[arg(long)]
    pub ignore: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LsArgs {
    /// Show only the volumes that match: name, label, driver, scope, dangling, opt, until
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, or json
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not print the header row
    #[arg(long)]
    pub noheading: bool,
    /// Print only the volume names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// Volumes to inspect
    #[arg(value_name = "VOLUME")]
    pub volumes: Vec<String>,
    /// Inspect all volumes
    #[arg(short, long)]
    pub all: bool,
    /// Format the output with a Go template, or json
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RmArgs {
    /// Volumes to remove
    #[arg(value_name = "VOLUME")]
    pub volumes: Vec<String>,
    /// Remove all volumes
    #[arg(short, long)]
    pub all: bool,
    /// Remove the containers that use the volumes first
    #[arg(short, long)]
    pub force: bool,
    /// Seconds to wait for those containers to stop before killing them (with --force)
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
}

#[derive(Args, Debug, Clone)]
pub struct PruneArgs {
    /// Remove only the unused volumes that match: label, until, …
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ExistsArgs {
    /// The volume to look for
    #[arg(value_name = "VOLUME")]
    pub volume: String,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// The volume to export
    #[arg(value_name = "VOLUME")]
    pub volume: String,
    /// Write to this file instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The volume to fill
    #[arg(value_name = "VOLUME")]
    pub volume: String,
    /// The tar archive to read (- for stdin)
    #[arg(value_name = "SOURCE")]
    pub source: String,
}

pub fn volume_cmd(g: &GlobalOpts, cmd: VolumeCommand) -> Result<()> {
    match cmd {
        VolumeCommand::Create(a) => create_cmd(g, &a),
        VolumeCommand::Ls(a) => ls_cmd(g, &a),
        VolumeCommand::Inspect(a) => inspect_cmd(g, &a),
        VolumeCommand::Rm(a) => rm_cmd(g, &a),
        VolumeCommand::Prune(a) => prune_cmd(g, &a),
        VolumeCommand::Exists(a) => exists_cmd(g, &a),
        VolumeCommand::Export(a) => export_cmd(g, &a),
        VolumeCommand::Import(a) => import_cmd(g, &a),
        VolumeCommand::Mount(a) => mount_cmd(g, &a, true),
        VolumeCommand::Unmount(a) => mount_cmd(g, &a, false),
        // podman adds and removes plugin volumes here and prints what
        // changed; with the local driver only, it prints nothing.
        VolumeCommand::Reload => Ok(()),
    }
}

fn mount_cmd(g: &GlobalOpts, a: &MountArgs, mount: bool) -> Result<()> {
    let verb = if mount { "mount" } else { "unmount" };
    if !crate::userns::in_child_userns() {
        bail!(
            "cannot run command \"rpod volume {verb}\" in rootless mode, must execute `rpod unshare` first"
        );
    }
    let vols = Volumes::open(&g.into())?;
    each(&a.volumes, |n| {
        if mount {
            let p = vols.mount(n)?;
            writeln!(std::io::stdout().lock(), "{}", p.display())?;
        } else {
            vols.unmount(n)?;
            writeln!(std::io::stdout().lock(), "{n}")?;
        }
        Ok(())
    })
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
        driver: Some(a.driver.clone()),
        labels: key_values(&a.label, "label")?,
        options: key_values(&a.opt, "--opt")?,
        ignore: a.ignore,
        anonymous: false,
    };
    // Giving _data to another uid needs rpod's user namespace.
    if o.options
        .iter()
        .any(|(k, v)| k == "o" && (v.contains("uid=") || v.contains("gid=")))
    {
        crate::userns::enter()?;
    }
    let v = Volumes::open(&g.into())?.create(&o)?;
    writeln!(std::io::stdout().lock(), "{}", v.name)?;
    Ok(())
}

fn parse_filters(f: &[String]) -> Result<Vec<Filter>> {
    f.iter().map(|s| volume::parse_filter(s)).collect()
}

fn header(f: &str) -> Option<&'static str> {
    match f {
        "Name" => Some("VOLUME NAME"),
        _ => None,
    }
}

fn ls_cmd(g: &GlobalOpts, a: &LsArgs) -> Result<()> {
    let vols = Volumes::open(&g.into())?;
    let list = vols.list_filtered(&parse_filters(&a.filter)?)?;
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for v in &list {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(());
    }
    drop(out);
    let report = Report::list(a.format.as_deref(), "table {{.Driver}}\t{{.Name}}")?
        .headers(header)
        .noheading(a.noheading);
    if report.is_json() {
        let arr: Vec<_> = list.iter().map(|v| vols.inspect(v)).collect();
        return report.print(&arr);
    }
    let rows: Vec<_> = list.iter().map(|v| vols.inspect_json(v)).collect();
    report.print(&rows)
}

fn inspect_cmd(g: &GlobalOpts, a: &InspectArgs) -> Result<()> {
    let vols = Volumes::open(&g.into())?;
    if a.all != a.volumes.is_empty() {
        bail!("provide one or more volume names or use --all");
    }
    let mut found = Vec::new();
    let mut missing = None;
    if a.all {
        found = vols.list()?;
    } else {
        for n in &a.volumes {
            match vols.get(n)? {
                Some(v) => found.push(v),
                None => {
                    if let Some(prev) = missing.replace(n.clone()) {
                        eprintln!("Error: inspecting object: no such volume {prev}");
                    }
                }
            }
        }
    }
    let report = Report::inspect(a.format.as_deref())?;
    if report.is_json() {
        let arr: Vec<_> = found.iter().map(|v| vols.inspect(v)).collect();
        report.print(&arr)?;
    } else {
        let rows: Vec<_> = found.iter().map(|v| vols.inspect_json(v)).collect();
        report.print(&rows)?;
    }
    match missing {
        Some(n) => bail!("inspecting object: no such volume {n}"),
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
    if a.all != a.volumes.is_empty() {
        bail!("choose either one or more volumes or all");
    }
    crate::userns::enter()?;
    let vols = Volumes::open(&g.into())?;
    let names: Vec<String> = if a.all {
        vols.list()?.into_iter().map(|v| v.name).collect()
    } else {
        a.volumes.clone()
    };
    each(&names, |n| {
        vols.remove(n, a.force, a.time)?;
        writeln!(std::io::stdout().lock(), "{n}")?;
        Ok(())
    })
}

fn prune_cmd(g: &GlobalOpts, a: &PruneArgs) -> Result<()> {
    let filters = parse_filters(&a.filter)?;
    if !a.force {
        eprintln!(
            "WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:"
        );
        let vols = Volumes::open(&g.into())?;
        let users = vols.users_all();
        for v in vols.list_filtered(&filters)? {
            if !users.contains_key(&v.name) {
                eprintln!("{}", v.name);
            }
        }
        eprint!("Are you sure you want to continue? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(());
        }
    }
    crate::userns::enter()?;
    let gone = Volumes::open(&g.into())?.prune(&filters)?;
    let mut out = std::io::stdout().lock();
    for n in gone {
        writeln!(out, "{n}")?;
    }
    Ok(())
}

fn exists_cmd(g: &GlobalOpts, a: &ExistsArgs) -> Result<()> {
    if Volumes::open(&g.into())?.exists(&a.volume) {
        Ok(())
    } else {
        Err(crate::cli::exit::exit_status(1))
    }
}

fn export_cmd(g: &GlobalOpts, a: &ExportArgs) -> Result<()> {
    crate::userns::enter()?;
    let vols = Volumes::open(&g.into())?;
    vols.find(&a.volume)?;
    match &a.output {
        Some(p) => {
            // Written whole beside the target, then renamed: no half archive.
            let name = p
                .file_name()
                .with_context(|| format!("--output {}: not a file name", p.display()))?;
            let tmp = p.with_file_name(format!(
                ".{}.rpod-{}",
                name.to_string_lossy(),
                std::process::id()
            ));
            let res = (|| -> Result<()> {
                // create_new: never through a link someone planted (in /tmp).
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?;
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                vols.export(&a.volume, &mut w)?;
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                std::fs::rename(&tmp, p).with_context(|| format!("writing {}", p.display()))
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res
        }
        None => {
            let stdout = std::io::stdout();
            if std::io::IsTerminal::is_terminal(&stdout) {
                bail!("refusing to export to a terminal: redirect stdout or use --output");
            }
            let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            vols.export(&a.volume, &mut w)?;
            w.flush()?;
            Ok(())
        }
    }
}

fn import_cmd(g: &GlobalOpts, a: &ImportArgs) -> Result<()> {
    crate::userns::enter()?;
    let vols = Volumes::open(&g.into())?;
    vols.find(&a.volume)?;
    if a.source == "-" {
        vols.import(&a.volume, std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(&a.source).with_context(|| format!("opening {}", a.source))?;
        vols.import(&a.volume, std::io::BufReader::with_capacity(1 << 20, f))
            .with_context(|| format!("archive {}", a.source))
    }
}
