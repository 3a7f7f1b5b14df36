//! The container lifecycle commands (run, create, start, stop, kill, rm,
//! wait, attach, rename, container cleanup and prune, mount, unmount): their
//! flags mapped onto `crate::container`'s operations, and what they print.

use super::container::*;
use super::GlobalOpts;
use crate::container::attach::parse_detach_keys;
use crate::container::record::Paths;
use crate::container::{self as ctr, AttachOptions, Attached, Outcomes, Selection, Target};
use crate::options::Options;
use anyhow::{bail, Result};
use std::io::Write;

const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// The command's result for how an attach session ended: the container's
/// exit code becomes rpod's.
fn attached(a: Attached) -> Result<()> {
    match a {
        Attached::Exited(0) | Attached::Detached => Ok(()),
        Attached::Exited(c) => Err(crate::error::exit_status(c)),
    }
}

/// Run `f` for each container; report every failure, return the last.
fn each(names: &[String], ignore: bool, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut last = None;
    for n in names {
        if let Err(e) = f(n) {
            let missing = e.to_string().contains("no such container");
            if ignore && missing {
                continue;
            }
            if let Some(prev) = last.replace(e) {
                eprintln!("Error: {prev:#}");
            }
        }
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Print the line of each container a sequential operation acted on, in
/// order; report every failure, return the last (a failed write counts as
/// that container's failure).
fn report_each(outcomes: Outcomes, line: impl Fn(&Target) -> &str) -> Result<()> {
    let mut last = None;
    for r in outcomes {
        let r = r.and_then(|t| {
            writeln!(std::io::stdout().lock(), "{}", line(&t))?;
            Ok(())
        });
        if let Err(e) = r {
            if let Some(prev) = last.replace(e) {
                eprintln!("Error: {prev:#}");
            }
        }
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// [`report_each`] for an operation that ran all at once: the lines are
/// printed in order, and a failed write ends the command.
fn report_all(outcomes: Outcomes, line: impl Fn(&Target) -> &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let mut last = None;
    for r in outcomes {
        match r {
            Ok(t) => writeln!(out, "{}", line(&t))?,
            Err(e) => {
                if let Some(prev) = last.replace(e) {
                    eprintln!("Error: {prev:#}");
                }
            }
        }
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

pub fn run_cmd(g: &GlobalOpts, a: RunArgs) -> Result<()> {
    // network: --network container:X runs in X's user namespace.
    crate::network::setup::enter_userns(g, a.opts.network.as_deref())?;
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    let keys = parse_detach_keys(a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS))?;
    let rec = ctr::create::create(g, &paths, &a.opts, &a.image, &a.command)?;
    if a.detach {
        ctr::spawn(&opts, &paths, &rec, false)?;
        writeln!(std::io::stdout().lock(), "{}", rec.id)?;
        return Ok(());
    }
    ctr::spawn(&opts, &paths, &rec, true)?;
    let how = AttachOptions {
        stdin: rec.interactive,
        detach_keys: keys,
        sig_proxy: a.sig_proxy,
    };
    attached(ctr::attach_to(&paths, &rec, &how)?)
}

pub fn create_cmd(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    let rec = ctr::create::create(g, &paths, &a.opts, &a.image, &a.command)?;
    writeln!(std::io::stdout().lock(), "{}", rec.id)?;
    Ok(())
}

pub fn start_cmd(g: &GlobalOpts, a: &StartArgs) -> Result<()> {
    // network: a container:X container starts in X's user namespace.
    crate::network::setup::enter_userns_for(g, &a.containers)?;
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    let attach = a.attach || a.interactive;
    if attach && a.containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    each(&a.containers, false, |name| {
        let s = ctr::start(&opts, &paths, name, attach)?;
        if attach {
            let keys = a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS);
            let how = AttachOptions {
                stdin: a.interactive,
                detach_keys: parse_detach_keys(keys)?,
                sig_proxy: a.sig_proxy,
            };
            return attached(ctr::attach_to(&paths, &s.rec, &how)?);
        }
        // podman 4.3 succeeds silently for a container that already runs.
        if s.started {
            writeln!(std::io::stdout().lock(), "{name}")?;
        }
        Ok(())
    })
}

pub fn stop_cmd(g: &GlobalOpts, a: &StopArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let sel = Selection {
        names: a.containers.clone(),
        cidfiles: a.cidfile.clone(),
        all: a.all,
        ignore: a.ignore,
    };
    let o = ctr::StopOptions { timeout: a.time };
    report_all(ctr::stop(&paths, &sel, o)?, |t| &t.name)
}

pub fn kill_cmd(g: &GlobalOpts, a: &KillArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let sig = ctr::opts::parse_signal(&a.signal)?;
    let sel = Selection {
        names: a.containers.clone(),
        cidfiles: a.cidfile.clone(),
        all: a.all,
        ignore: false,
    };
    report_each(ctr::kill(&paths, &sel, sig)?, |t| &t.name)
}

pub fn rm_cmd(g: &GlobalOpts, a: &RmArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    let sel = Selection {
        names: a.containers.clone(),
        cidfiles: a.cidfile.clone(),
        all: a.all,
        ignore: a.ignore,
    };
    let o = ctr::RmOptions {
        force: a.force,
        timeout: a.time,
    };
    let res = report_all(ctr::rm(&paths, &sel, o)?, |t| &t.id);
    // --cidfile names the file to remove once its container is gone.
    if res.is_ok() {
        for f in &a.cidfile {
            let _ = std::fs::remove_file(f);
        }
    }
    res
}

fn wait_condition(c: &str) -> Result<ctr::WaitCondition> {
    Ok(match c {
        "stopped" => ctr::WaitCondition::Stopped,
        "exited" => ctr::WaitCondition::Exited,
        "running" => ctr::WaitCondition::Running,
        _ => bail!("invalid --condition {c:?}: use stopped, exited or running"),
    })
}

pub fn wait_cmd(g: &GlobalOpts, a: &WaitArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let conditions = a
        .condition
        .iter()
        .map(|c| wait_condition(c))
        .collect::<Result<Vec<_>>>()?;
    each(&a.containers, a.ignore, |name| {
        let code = ctr::wait(&paths, name, &conditions)?;
        writeln!(std::io::stdout().lock(), "{code}")?;
        Ok(())
    })
}

pub fn attach_cmd(g: &GlobalOpts, a: &AttachArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let rec = ctr::attachable(&paths, &a.container)?;
    let keys = a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS);
    let how = AttachOptions {
        stdin: !a.no_stdin && rec.interactive,
        detach_keys: parse_detach_keys(keys)?,
        sig_proxy: a.sig_proxy,
    };
    attached(ctr::attach_to(&paths, &rec, &how)?)
}

pub fn rename_cmd(g: &GlobalOpts, a: &RenameArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    ctr::rename(&paths, &a.container, &a.name)
}

pub fn cleanup_cmd(g: &GlobalOpts, a: &CleanupArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    report_each(ctr::cleanup(&paths, &a.containers, a.all, a.rm)?, |t| &t.id)
}

pub fn prune_cmd(g: &GlobalOpts, a: &ContainerPruneArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    if !a.force {
        eprint!("WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
    }
    let mut out = std::io::stdout().lock();
    for (id, r) in ctr::prune(&paths)? {
        match r {
            Ok(()) => writeln!(out, "{id}")?,
            Err(e) => eprintln!("Error: removing {id}: {e:#}"),
        }
    }
    Ok(())
}

fn require_unshare(cmd: &str) -> Result<()> {
    if !crate::userns::in_child_userns() {
        bail!("rpod {cmd} must run inside `rpod unshare`, where the mount is visible");
    }
    Ok(())
}

pub fn mount_cmd(g: &GlobalOpts, a: &MountArgs) -> Result<()> {
    require_unshare("mount")?;
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    let store = crate::storage::Store::open(&opts)?;
    let mut out = std::io::stdout().lock();
    if a.containers.is_empty() {
        // List what is mounted in this namespace.
        for (id, merged) in ctr::mounted(&paths)? {
            writeln!(out, "{}  {}", &id[..12], merged.display())?;
        }
        return Ok(());
    }
    each(&a.containers, false, |name| {
        let merged = ctr::mount(&store, &paths, name)?;
        writeln!(out, "{}", merged.display())?;
        Ok(())
    })
}

pub fn unmount_cmd(g: &GlobalOpts, a: &UnmountArgs) -> Result<()> {
    require_unshare("unmount")?;
    let paths = Paths::new(&g.into())?;
    report_each(ctr::unmount(&paths, &a.containers, a.all)?, |t| &t.id)
}
