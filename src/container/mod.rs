//! Containers as the user sees them: records, names, and the container
//! commands (run, create, start, stop, kill, rm, ps, exec, logs, …).
//!
//! A container is a directory of small files (see `record`), a detached
//! monitor while it runs (see `crate::monitor`), and nothing else: every
//! command reads the files, so state survives the command that started it.

pub mod attach;
pub mod create;
pub mod exec;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod names;
pub mod opts;
pub mod ps;
pub mod record;
pub mod spec;
pub(crate) use crate::time;

use crate::cli::container::*;
use crate::cli::GlobalOpts;
use anyhow::{bail, Context, Result};
use attach::{AttachOpts, End};
use record::{ContainerRecord, Paths};
use std::io::Write;

const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Turn how an attach session ended into the command's result.
fn attach_result(paths: &Paths, rec: &ContainerRecord, end: End) -> Result<()> {
    match end {
        End::Exited(0) | End::Detached => Ok(()),
        End::Exited(c) => Err(crate::error::exit_status(c)),
        End::Failed(msg) => bail!("{msg}"),
        End::Lost => {
            let st = record::observe(paths, &rec.id);
            if st.is_running() {
                bail!(
                    "lost the connection to the monitor of container {}; the container keeps running",
                    rec.name
                );
            }
            match st.exit_code {
                0 => Ok(()),
                c if c > 0 => Err(crate::error::exit_status(c)),
                _ => bail!(
                    "container {} exited, but its exit code is unknown",
                    rec.name
                ),
            }
        }
    }
}

fn attach_and_wait(
    paths: &Paths,
    rec: &ContainerRecord,
    stdin: bool,
    detach_keys: &str,
    sig_proxy: bool,
) -> Result<()> {
    let keys = attach::parse_detach_keys(detach_keys)?;
    let sock = attach::connect(&paths.run_dir(&rec.id))?;
    let end = attach::session(
        sock,
        &AttachOpts {
            stdin,
            tty: rec.tty,
            detach_keys: keys,
            sig_proxy,
        },
    )?;
    attach_result(paths, rec, end)
}

pub fn run_cmd(g: &GlobalOpts, a: RunArgs) -> Result<()> {
    // network: --network container:X runs in X's user namespace.
    crate::network::setup::enter_userns(&g.into(), a.opts.network.as_deref())?;
    let paths = Paths::new(&g.into())?;
    let keys = a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS);
    attach::parse_detach_keys(keys)?;
    let rec = create::create(g, &paths, &a.opts, &a.image, &a.command)?;
    if a.detach {
        lifecycle::spawn_monitor(g, &paths, &rec, false, None)?;
        writeln!(std::io::stdout().lock(), "{}", rec.id)?;
        return Ok(());
    }
    let size = if rec.tty {
        attach::terminal_size()
    } else {
        None
    };
    lifecycle::spawn_monitor(g, &paths, &rec, true, size)?;
    attach_and_wait(&paths, &rec, rec.interactive, keys, a.sig_proxy)
}

pub fn create_cmd(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    let rec = create::create(g, &paths, &a.opts, &a.image, &a.command)?;
    writeln!(std::io::stdout().lock(), "{}", rec.id)?;
    Ok(())
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

/// Like [`each`], but all at once (stopping ten containers takes one
/// timeout, not ten); `f` returns the line to print, printed in order.
fn each_parallel(
    names: &[String],
    ignore: bool,
    f: impl Fn(&str) -> Result<String> + Sync,
) -> Result<()> {
    let results: Vec<Result<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = names.iter().map(|n| s.spawn(|| f(n))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error: a worker panicked")))
            })
            .collect()
    });
    let mut out = std::io::stdout().lock();
    let mut last = None;
    for r in results {
        match r {
            Ok(line) => writeln!(out, "{line}")?,
            Err(e) if ignore && e.to_string().contains("no such container") => {}
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

/// Container names from arguments, `--cidfile`s and `--all` (filtered by `keep`).
/// The containers a command acts on. With `ignore`, a CIDFile that doesn't
/// exist names nothing (podman: a unit's ExecStop must not fail when its
/// ExecStart never got to write the file).
fn targets(
    paths: &Paths,
    names: &[String],
    cidfiles: &[std::path::PathBuf],
    all: bool,
    ignore: bool,
    keep: impl Fn(&record::State) -> bool,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = names.to_vec();
    for f in cidfiles {
        match std::fs::read_to_string(f) {
            Ok(id) => out.push(id.trim().to_string()),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading CIDFile {}", f.display())),
        }
    }
    if out.is_empty() && !all && !cidfiles.is_empty() {
        return Ok(out);
    }
    if all {
        for (id, _) in lifecycle::all_ids(paths)? {
            if keep(&record::observe(paths, &id)) {
                out.push(id);
            }
        }
    }
    if out.is_empty() && !all {
        bail!("you must provide at least one name or id");
    }
    Ok(out)
}

pub fn start_cmd(g: &GlobalOpts, a: &StartArgs) -> Result<()> {
    // network: a container:X container starts in X's user namespace.
    crate::network::setup::enter_userns_for(&g.into(), &a.containers)?;
    let paths = Paths::new(&g.into())?;
    let attach = a.attach || a.interactive;
    if attach && a.containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    each(&a.containers, false, |name| {
        let id = record::resolve(&paths, name)?;
        let rec = record::load(&paths, &id)?;
        // A quick look saves spawning a monitor for a running container;
        // the monitor decides under the container's lock (see `spawn_monitor`).
        let st = record::observe(&paths, &id);
        let started = !st.is_running() && {
            let size = if rec.tty && attach {
                attach::terminal_size()
            } else {
                None
            };
            let s = lifecycle::spawn_monitor(g, &paths, &rec, attach, size)?;
            matches!(s, lifecycle::Spawned::Started(_))
        };
        if attach {
            let keys = a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS);
            return attach_and_wait(&paths, &rec, a.interactive, keys, a.sig_proxy);
        }
        // podman 4.3 succeeds silently for a container that already runs.
        if started {
            writeln!(std::io::stdout().lock(), "{name}")?;
        }
        Ok(())
    })
}

pub fn stop_cmd(g: &GlobalOpts, a: &StopArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let names = targets(&paths, &a.containers, &a.cidfile, a.all, a.ignore, |s| {
        s.is_running()
    })?;
    each_parallel(&names, a.ignore, |name| {
        let id = record::resolve(&paths, name)?;
        let rec = record::load(&paths, &id)?;
        lifecycle::stop(&paths, &rec, a.time.unwrap_or(rec.stop_timeout))?;
        Ok(name.to_string())
    })
}

pub fn kill_cmd(g: &GlobalOpts, a: &KillArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let sig = opts::parse_signal(&a.signal)?;
    let names = targets(&paths, &a.containers, &a.cidfile, a.all, false, |s| {
        s.is_running()
    })?;
    each(&names, false, |name| {
        let id = record::resolve(&paths, name)?;
        let (st, sent) = lifecycle::signal_locked(&paths, &id, sig, None)?;
        if !sent {
            bail!(
                "can only kill running containers. {id} is in state {}: container state improper",
                st.status.as_str()
            );
        }
        writeln!(std::io::stdout().lock(), "{name}")?;
        Ok(())
    })
}

pub fn rm_cmd(g: &GlobalOpts, a: &RmArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    let names = targets(&paths, &a.containers, &a.cidfile, a.all, a.ignore, |_| true)?;
    let res = each_parallel(&names, a.ignore, |name| {
        let id = record::resolve(&paths, name)?;
        lifecycle::remove_container(&paths, &id, a.force, a.time)?;
        Ok(id)
    });
    if res.is_ok() {
        for f in &a.cidfile {
            let _ = std::fs::remove_file(f);
        }
    }
    res
}

pub fn wait_cmd(g: &GlobalOpts, a: &WaitArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    for c in &a.condition {
        if !matches!(c.as_str(), "stopped" | "exited" | "running") {
            bail!("invalid --condition {c:?}: use stopped, exited or running");
        }
    }
    let want_running = a.condition.iter().any(|c| c == "running");
    each(&a.containers, a.ignore, |name| {
        let id = record::resolve(&paths, name)?;
        if want_running {
            loop {
                let st = record::observe(&paths, &id);
                if st.is_running() {
                    writeln!(std::io::stdout().lock(), "-1")?;
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                if !record::exists(&paths, &id) {
                    return Err(record::no_such(name));
                }
            }
        }
        // A --rm container is gone once it has stopped; its monitor kept
        // the exit code for us.
        let code = match lifecycle::wait_stopped(&paths, &id, None)? {
            Some(st) => st.exit_code,
            None => record::recorded_exit(&paths, &id).ok_or_else(|| record::no_such(name))?,
        };
        writeln!(std::io::stdout().lock(), "{code}")?;
        Ok(())
    })
}

pub fn attach_cmd(g: &GlobalOpts, a: &AttachArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let id = record::resolve(&paths, &a.container)?;
    let rec = record::load(&paths, &id)?;
    if !record::observe(&paths, &id).is_running() {
        bail!("you can only attach to running containers");
    }
    let keys = a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS);
    attach_and_wait(
        &paths,
        &rec,
        !a.no_stdin && rec.interactive,
        keys,
        a.sig_proxy,
    )
}

pub fn rename_cmd(g: &GlobalOpts, a: &RenameArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let id = record::resolve(&paths, &a.container)?;
    names::validate(&a.name)?;
    let _l = record::lock(&paths, &id)?;
    let mut rec = record::load(&paths, &id)?;
    if rec.name == a.name {
        return Ok(());
    }
    match paths
        .names()
        .claim(&a.name, &id, |holder| record::exists(&paths, holder))?
    {
        names::Claim::Ok => {}
        names::Claim::Taken(holder) => return Err(names::in_use_error(&a.name, &holder)),
    }
    let old = std::mem::replace(&mut rec.name, a.name.clone());
    if let Err(e) = record::save(&paths, &rec) {
        let _ = paths.names().release(&a.name, &id);
        return Err(e);
    }
    paths.names().release(&old, &id)
}

pub fn cleanup_cmd(g: &GlobalOpts, a: &CleanupArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    let names = targets(&paths, &a.containers, &[], a.all, false, |s| {
        !s.is_running()
    })?;
    each(&names, false, |name| {
        let id = record::resolve(&paths, name)?;
        let rec = record::load(&paths, &id)?;
        let mut st = record::observe(&paths, &id);
        if st.is_running() {
            return Ok(());
        }
        {
            let _l = record::lock(&paths, &id)?;
            record::release_helpers(&mut st);
            let _ = crate::runtime::delete(&paths.run_dir(&id).join("runtime"), &id, true);
            if record::exists(&paths, &id) {
                record::save_state(&paths, &id, &st)?;
            }
        }
        if a.rm || rec.rm {
            lifecycle::remove_container(&paths, &id, false, None)?;
        }
        writeln!(std::io::stdout().lock(), "{id}")?;
        Ok(())
    })
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
    // Files of removed containers whose monitor died while deleting them.
    for id in record::retired(&paths) {
        let _ = record::purge(&paths, &id);
    }
    let mut out = std::io::stdout().lock();
    for (id, _) in lifecycle::all_ids(&paths)? {
        if record::observe(&paths, &id).is_running() {
            continue;
        }
        match lifecycle::remove_container(&paths, &id, false, None) {
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
    let paths = Paths::new(&g.into())?;
    let store = crate::storage::Store::open(&g.into())?;
    let mut out = std::io::stdout().lock();
    if a.containers.is_empty() {
        // List what is mounted in this namespace.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for (id, _) in lifecycle::all_ids(&paths)? {
            let merged = paths.ctr_dir(&id).join("merged");
            if mounts.contains(&format!(" {} ", merged.display())) {
                writeln!(out, "{}  {}", &id[..12], merged.display())?;
            }
        }
        return Ok(());
    }
    each(&a.containers, false, |name| {
        let id = record::resolve(&paths, name)?;
        let rec = record::load(&paths, &id)?;
        let image = store
            .image_by_id(&rec.image_id)?
            .context("the container's image is no longer in local storage")?;
        let m = crate::rootfs::mount(
            &store,
            &image,
            &paths.ctr_dir(&id),
            rec.storage_driver.as_deref(),
        )?;
        writeln!(out, "{}", m.merged.display())?;
        Ok(())
    })
}

pub fn unmount_cmd(g: &GlobalOpts, a: &UnmountArgs) -> Result<()> {
    require_unshare("unmount")?;
    let paths = Paths::new(&g.into())?;
    let names = targets(&paths, &a.containers, &[], a.all, false, |_| true)?;
    each(&names, false, |name| {
        let id = record::resolve(&paths, name)?;
        crate::rootfs::unmount(&paths.ctr_dir(&id))?;
        writeln!(std::io::stdout().lock(), "{id}")?;
        Ok(())
    })
}
