//! The container operations behind the lifecycle commands (start, stop,
//! kill, rm, wait, attach, rename, cleanup, prune, mount, unmount): typed
//! options in, typed reports out. Nothing here prints to stdout or picks an
//! exit code; the CLI (`cli::ctr_lifecycle`) does both.

use super::attach::{self, AttachOpts, End};
use super::record::{self, ContainerRecord, Paths};
use super::{lifecycle, names};
use crate::options::Options;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// One container a batch operation acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name or id as the caller gave it (or the id, for `all`).
    pub name: String,
    /// The container's full id.
    pub id: String,
}

/// The outcome of a batch operation, one entry per container in the order
/// asked. With `ignore`, containers that do not exist are left out.
pub type Outcomes = Vec<Result<Target>>;

/// Run `f` for each container in turn.
fn each(
    names: &[String],
    ignore: bool,
    mut f: impl FnMut(&str) -> Result<Option<Target>>,
) -> Outcomes {
    let mut out = Vec::new();
    for n in names {
        match f(n) {
            Ok(Some(t)) => out.push(Ok(t)),
            Ok(None) => {}
            Err(e) if ignore && record::is_no_such(&e) => {}
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

/// Like [`each`], but all at once (stopping ten containers takes one
/// timeout, not ten).
fn each_parallel(
    names: &[String],
    ignore: bool,
    f: impl Fn(&str) -> Result<Target> + Sync,
) -> Outcomes {
    let results: Vec<Result<Target>> = std::thread::scope(|s| {
        let handles: Vec<_> = names.iter().map(|n| s.spawn(|| f(n))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error: a worker panicked")))
            })
            .collect()
    });
    results
        .into_iter()
        .filter(|r| !matches!(r, Err(e) if ignore && record::is_no_such(e)))
        .collect()
}

/// The containers a command acts on: names, the ids in `cidfiles`, and with
/// `all` every container whose state passes `keep`. With `ignore`, a CIDFile
/// that doesn't exist names nothing (podman: a unit's ExecStop must not fail
/// when its ExecStart never got to write the file).
fn targets(
    paths: &Paths,
    names: &[String],
    cidfiles: &[PathBuf],
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

/// What `start` did to one container.
#[derive(Debug, Clone)]
pub struct Started {
    pub rec: ContainerRecord,
    /// False when it already ran (podman 4.3 succeeds silently then).
    pub started: bool,
}

/// Start a container unless it runs; with `attach`, its monitor waits for
/// an attach session (see [`attach_to`]).
pub fn start(opts: &Options, paths: &Paths, name: &str, attach: bool) -> Result<Started> {
    let id = record::resolve(paths, name)?;
    let rec = record::load(paths, &id)?;
    // A quick look saves spawning a monitor for a running container;
    // the monitor decides under the container's lock (see `spawn_monitor`).
    let st = record::observe(paths, &id);
    if st.is_paused() {
        bail!(
            "container {id} must be in Created or Stopped state to be started: container state improper"
        );
    }
    let started = (!st.is_running() || st.is_initialized()) && {
        start_required(opts, paths, &rec, &mut Vec::new())?;
        let mut s = None;
        // `init` set it up: its monitor waits for this start. Or it became
        // initialized meanwhile (a racing `init`): the same.
        for _ in 0..2 {
            if record::observe(paths, &id).is_initialized() {
                s = lifecycle::start_initialized(paths, &rec, attach)?;
            }
            if s.is_some() {
                break;
            }
            s = Some(spawn(opts, paths, &rec, attach)?);
            if !matches!(s, Some(lifecycle::Spawned::AlreadyRunning(_))) {
                break;
            }
        }
        matches!(s, Some(lifecycle::Spawned::Started(_)))
    };
    Ok(Started { rec, started })
}

/// `init`: set the container `name` up without starting its program
/// (podman's "initialized"); `start` runs it. One that is initialized or
/// runs already is a state error, as podman's.
pub fn init(opts: &Options, paths: &Paths, name: &str) -> Result<Target> {
    let id = record::resolve(paths, name)?;
    let rec = record::load(paths, &id)?;
    let improper = || -> anyhow::Error {
        crate::error::Error::ContainerState(format!(
            "container {id} has already been created in runtime"
        ))
        .into()
    };
    if record::observe(paths, &id).is_running() {
        return Err(improper());
    }
    start_required(opts, paths, &rec, &mut Vec::new())?;
    match lifecycle::spawn_init(opts, paths, &rec)? {
        lifecycle::Spawned::Initialized(_) => Ok(Target {
            name: name.to_string(),
            id,
        }),
        _ => Err(improper()),
    }
}

/// Start the containers `rec` was created to need (`--requires`), and
/// theirs, unless they run; `seen` breaks cycles.
pub fn start_required(
    opts: &Options,
    paths: &Paths,
    rec: &ContainerRecord,
    seen: &mut Vec<String>,
) -> Result<()> {
    for id in &rec.extras.requires {
        if seen.contains(id) {
            continue;
        }
        seen.push(id.clone());
        let dep = record::load(paths, id).with_context(|| {
            format!(
                "container {} requires {id}, which no longer exists",
                rec.name
            )
        })?;
        if record::observe(paths, id).is_running() {
            continue;
        }
        start_required(opts, paths, &dep, seen)?;
        spawn(opts, paths, &dep, false)
            .with_context(|| format!("starting {}, which {} requires", dep.name, rec.name))?;
    }
    Ok(())
}

/// Start a created container's monitor; with `attach`, it waits for an
/// attach session and a tty gets our terminal's size.
pub fn spawn(
    opts: &Options,
    paths: &Paths,
    rec: &ContainerRecord,
    attach: bool,
) -> Result<lifecycle::Spawned> {
    spawn_with_fds(opts, paths, rec, attach, 0)
}

/// [`spawn`], passing our fds 3 .. 3+`preserve_fds` to the container's
/// process (`run --preserve-fds`).
pub fn spawn_with_fds(
    opts: &Options,
    paths: &Paths,
    rec: &ContainerRecord,
    attach: bool,
    preserve_fds: u32,
) -> Result<lifecycle::Spawned> {
    let size = if rec.tty && attach {
        attach::terminal_size()
    } else {
        None
    };
    lifecycle::spawn_monitor_with_fds(opts, paths, rec, attach, size, preserve_fds)
}

/// How an attach session to a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    /// The container exited with this code.
    Exited(i32),
    /// The user typed the detach keys; the container runs on.
    Detached,
}

/// How to attach.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Forward our stdin.
    pub stdin: bool,
    /// The detach sequence (see `attach::parse_detach_keys`); empty disables it.
    pub detach_keys: Vec<u8>,
    pub sig_proxy: bool,
}

/// The running container `name`, to attach to.
pub fn attachable(paths: &Paths, name: &str) -> Result<ContainerRecord> {
    let id = record::resolve(paths, name)?;
    let rec = record::load(paths, &id)?;
    let st = record::observe(paths, &id);
    if !st.is_running() || st.is_paused() {
        bail!("you can only attach to running containers");
    }
    Ok(rec)
}

/// Attach our stdio to the container's monitor until it exits or we detach.
pub fn attach_to(paths: &Paths, rec: &ContainerRecord, o: &AttachOptions) -> Result<Attached> {
    attach_streams(paths, rec, o, true, true)
}

/// [`attach_to`], showing only the streams asked for (`run --attach`).
pub fn attach_streams(
    paths: &Paths,
    rec: &ContainerRecord,
    o: &AttachOptions,
    stdout: bool,
    stderr: bool,
) -> Result<Attached> {
    crate::events::container(&paths.runroot, "attach", rec);
    let sock = attach::connect(&paths.run_dir(&rec.id))?;
    let end = attach::session(
        sock,
        &AttachOpts {
            stdin: o.stdin,
            tty: rec.tty,
            detach_keys: o.detach_keys.clone(),
            sig_proxy: o.sig_proxy,
            no_stdout: !stdout,
            no_stderr: !stderr,
        },
    )?;
    match end {
        End::Exited(c) => Ok(Attached::Exited(c)),
        End::Detached => Ok(Attached::Detached),
        End::Failed(msg) => bail!("{msg}"),
        End::Lost => {
            let st = record::observe(paths, &rec.id);
            if st.is_running() {
                bail!(
                    "lost the connection to the monitor of container {}; the container keeps running",
                    rec.name
                );
            }
            if st.exit_code < 0 {
                bail!(
                    "container {} exited, but its exit code is unknown",
                    rec.name
                );
            }
            Ok(Attached::Exited(st.exit_code))
        }
    }
}

/// Which containers a batch operation acts on.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Names or ids.
    pub names: Vec<String>,
    /// Files holding a container id each.
    pub cidfiles: Vec<PathBuf>,
    /// Every container (that the operation applies to).
    pub all: bool,
    /// Containers (and CIDFiles) that do not exist are no error.
    pub ignore: bool,
}

/// `stop`'s options.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopOptions {
    /// Seconds between the stop signal and SIGKILL (None: the container's own).
    pub timeout: Option<u32>,
}

/// Stop the selected (with `all`: running) containers, all at once.
pub fn stop(paths: &Paths, sel: &Selection, o: StopOptions) -> Result<Outcomes> {
    let names = targets(paths, &sel.names, &sel.cidfiles, sel.all, sel.ignore, |s| {
        s.is_running()
    })?;
    Ok(each_parallel(&names, sel.ignore, |name| {
        let id = record::resolve(paths, name)?;
        let rec = record::load(paths, &id)?;
        lifecycle::stop(paths, &rec, o.timeout.unwrap_or(rec.stop_timeout))?;
        Ok(Target {
            name: name.to_string(),
            id,
        })
    }))
}

/// `restart`'s options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestartOptions {
    /// Seconds between the stop signal and SIGKILL (None: the container's own).
    pub timeout: Option<u32>,
    /// With `all`: only the running containers.
    pub running: bool,
}

/// Restart the selected (with `all`: every, or every running) containers,
/// all at once: a running one is stopped (which, like `stop`, holds its
/// restart policy until this start), then each is started. A paused one
/// is refused, as podman does.
pub fn restart(
    opts: &Options,
    paths: &Paths,
    sel: &Selection,
    o: RestartOptions,
) -> Result<Outcomes> {
    let names = targets(paths, &sel.names, &sel.cidfiles, sel.all, false, |s| {
        !o.running || s.is_running()
    })?;
    Ok(each_parallel(&names, false, |name| {
        let id = record::resolve(paths, name)?;
        let rec = record::load(paths, &id)?;
        let st = record::observe(paths, &id);
        if st.is_paused() {
            return Err(crate::error::Error::ContainerState(format!(
                "unable to restart a container in a paused or unknown state: container {id} is paused"
            ))
            .into());
        }
        // podman's restartWithTimeout writes "restart" first; the stop's
        // died and cleanup, then init and start, follow it.
        crate::events::container(&paths.runroot, "restart", &rec);
        if st.is_running() {
            lifecycle::stop(paths, &rec, o.timeout.unwrap_or(rec.stop_timeout))?;
        }
        if !record::exists(paths, &id) {
            return Err(record::no_such(name));
        }
        spawn(opts, paths, &rec, false)?;
        Ok(Target {
            name: name.to_string(),
            id,
        })
    }))
}

/// Send `signal` to the selected (with `all`: running) containers; one that
/// does not run is an error.
pub fn kill(paths: &Paths, sel: &Selection, signal: i32) -> Result<Outcomes> {
    let names = targets(paths, &sel.names, &sel.cidfiles, sel.all, false, |s| {
        s.program_runs()
    })?;
    Ok(each(&names, false, |name| {
        let id = record::resolve(paths, name)?;
        let emit = || {
            if let Ok(rec) = record::load(paths, &id) {
                crate::events::container(&paths.runroot, "kill", &rec);
            }
        };
        let (st, sent) = lifecycle::signal_locked_by_user(paths, &id, signal, &emit)?;
        // Running under the lock but gone when signalled: the run ended on its
        // own an instant before. It is marked stopped by the user all the same
        // (no restart follows), which is what the kill was for.
        if !sent && !st.program_runs() {
            return Err(crate::error::Error::ContainerState(format!(
                "can only kill running containers. {id} is in state {}",
                st.status.as_str()
            ))
            .into());
        }
        Ok(Some(Target {
            name: name.to_string(),
            id,
        }))
    }))
}

/// `rm`'s options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RmOptions {
    /// Stop running containers first.
    pub force: bool,
    /// Seconds to wait for them to stop (None: each container's own).
    pub timeout: Option<u32>,
    /// Remove their anonymous volumes too (`-v`).
    pub volumes: bool,
}

/// Remove the selected containers, all at once. The caller is in rpod's
/// user namespace. The CIDFiles stay: the caller removes them once it has
/// reported every removal.
pub fn rm(paths: &Paths, sel: &Selection, o: RmOptions) -> Result<Outcomes> {
    let names = targets(
        paths,
        &sel.names,
        &sel.cidfiles,
        sel.all,
        sel.ignore,
        |_| true,
    )?;
    Ok(each_parallel(&names, sel.ignore, |name| {
        let id = record::resolve(paths, name)?;
        let rec = o.volumes.then(|| record::load(paths, &id)).transpose()?;
        lifecycle::remove_container(paths, &id, o.force, o.timeout)?;
        if let Some(rec) = rec {
            crate::volume::remove_anonymous_of(paths, &rec)?;
        }
        Ok(Target {
            name: name.to_string(),
            id,
        })
    }))
}

/// `rm -f`'s first step, run from the host's user namespace before the
/// caller enters a fresh rpod user namespace for the removal: stop the
/// selected running containers. That fresh namespace does not own a
/// container's namespace, so from there a signal to a container process
/// whose uid is not the user's own (`--user 1000`) fails with EPERM; the
/// host's, which owns every rpod namespace, may signal them all. Best
/// effort: what fails here, [`rm`] reports. `--rm` containers are left to
/// [`rm`] (their monitor removes them once stopped).
pub fn stop_for_rm(paths: &Paths, sel: &Selection, timeout: Option<u32>) {
    stop_for_rm_if(paths, sel, timeout, |_| true)
}

/// [`stop_for_rm`] for `rm` without force: only initialized containers
/// (set up by `init`, not started) are ended before their removal.
pub fn stop_initialized_for_rm(paths: &Paths, sel: &Selection) {
    stop_for_rm_if(paths, sel, Some(0), |st| st.is_initialized())
}

fn stop_for_rm_if(
    paths: &Paths,
    sel: &Selection,
    timeout: Option<u32>,
    which: impl Fn(&record::State) -> bool + Sync,
) {
    let Ok(names) = targets(paths, &sel.names, &sel.cidfiles, sel.all, true, |st| {
        st.is_running()
    }) else {
        return;
    };
    let _ = each_parallel(&names, true, |name| {
        let id = record::resolve(paths, name)?;
        let rec = record::load(paths, &id)?;
        if !rec.rm && which(&record::observe(paths, &id)) {
            lifecycle::stop(paths, &rec, timeout.unwrap_or(rec.stop_timeout))?;
        }
        Ok(Target {
            name: name.to_string(),
            id,
        })
    });
}

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    Stopped,
    Exited,
    Running,
}

/// Wait for the container `name`: until it runs (`Running` among
/// `conditions`: the result is -1) or else until it stopped (its exit code).
pub fn wait(paths: &Paths, name: &str, conditions: &[WaitCondition]) -> Result<i32> {
    wait_polling(
        paths,
        name,
        conditions,
        std::time::Duration::from_millis(20),
    )
}

/// [`wait`] that polls every `interval` for a state it cannot be woken for
/// (`Running`); a stop is seen at once through the monitor's pidfd.
pub fn wait_polling(
    paths: &Paths,
    name: &str,
    conditions: &[WaitCondition],
    interval: std::time::Duration,
) -> Result<i32> {
    let id = record::resolve(paths, name)?;
    if conditions.contains(&WaitCondition::Running) {
        loop {
            let st = record::observe(paths, &id);
            if st.program_runs() && !st.is_paused() {
                return Ok(-1);
            }
            std::thread::sleep(interval);
            if !record::exists(paths, &id) {
                return Err(record::no_such(name));
            }
        }
    }
    // A --rm container is gone once it has stopped; its monitor kept
    // the exit code for us.
    let code = match lifecycle::wait_stopped(paths, &id, None)? {
        Some(st) => st.exit_code,
        None => record::recorded_exit(paths, &id).ok_or_else(|| record::no_such(name))?,
    };
    Ok(code)
}

/// Rename a container.
pub fn rename(paths: &Paths, container: &str, new_name: &str) -> Result<()> {
    let id = record::resolve(paths, container)?;
    names::validate(new_name)?;
    let _l = record::lock(paths, &id)?;
    let mut rec = record::load(paths, &id)?;
    if rec.name == new_name {
        return Ok(());
    }
    match paths
        .names()
        .claim(new_name, &id, |holder| record::exists(paths, holder))?
    {
        names::Claim::Ok => {}
        names::Claim::Taken(holder) => return Err(names::in_use_error(new_name, &holder)),
    }
    let old = std::mem::replace(&mut rec.name, new_name.to_string());
    if let Err(e) = record::save(paths, &rec) {
        let _ = paths.names().release(new_name, &id);
        return Err(e);
    }
    crate::events::container(&paths.runroot, "rename", &rec);
    paths.names().release(&old, &id)
}

/// Release what the selected (with `all`: stopped) containers still hold;
/// with `rm` (or a container's own --rm), remove them too. Running
/// containers are left alone and out of the report. The caller is in rpod's
/// user namespace.
pub fn cleanup(paths: &Paths, names: &[String], all: bool, rm: bool) -> Result<Outcomes> {
    let names = targets(paths, names, &[], all, false, |s| !s.is_running())?;
    Ok(each(&names, false, |name| {
        let id = record::resolve(paths, name)?;
        let rec = record::load(paths, &id)?;
        let mut st = record::observe(paths, &id);
        if st.is_running() {
            return Ok(None);
        }
        {
            let _l = record::lock(paths, &id)?;
            record::release_helpers(&mut st);
            let _ = crate::runtime::delete(&paths.run_dir(&id).join("runtime"), &id, true);
            if record::exists(paths, &id) {
                record::save_state(paths, &id, &st)?;
            }
        }
        crate::events::container(&paths.runroot, "cleanup", &rec);
        if rm || rec.rm {
            lifecycle::remove_container(paths, &id, false, None)?;
            // --rm takes the container's anonymous volumes along.
            if rec.rm {
                crate::volume::remove_anonymous_of(paths, &rec)?;
            }
        }
        Ok(Some(Target {
            name: name.to_string(),
            id,
        }))
    }))
}

/// Remove every container that does not run, newest first, telling
/// `removed` each id and the outcome as it goes; an error from `removed`
/// ends the pruning. The caller is in rpod's user namespace.
pub fn prune(paths: &Paths, removed: impl FnMut(&str, Result<()>) -> Result<()>) -> Result<()> {
    prune_matching(paths, |_| true, removed)
}

/// [`prune`] of only the stopped containers `matches` accepts (`system
/// prune --filter`).
pub fn prune_matching(
    paths: &Paths,
    matches: impl Fn(&ContainerRecord) -> bool,
    mut removed: impl FnMut(&str, Result<()>) -> Result<()>,
) -> Result<()> {
    // Files of removed containers whose monitor died while deleting them.
    for id in record::retired(paths) {
        let _ = record::purge(paths, &id);
    }
    for (id, rec) in lifecycle::all_ids(paths)? {
        if !matches(&rec) || record::observe(paths, &id).is_running() {
            continue;
        }
        removed(&id, lifecycle::remove_container(paths, &id, false, None))?;
    }
    Ok(())
}

/// The containers whose root filesystem is mounted in this mount
/// namespace: their id and mount point, newest first.
pub fn mounted(paths: &Paths) -> Result<Vec<(String, PathBuf)>> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for (id, _) in lifecycle::all_ids(paths)? {
        let merged = paths.ctr_dir(&id).join("merged");
        if mounts.contains(&format!(" {} ", merged.display())) {
            out.push((id, merged));
        }
    }
    Ok(out)
}

/// Mount the root filesystem of the container `name` in this mount
/// namespace; its mount point.
pub fn mount(store: &crate::storage::Store, paths: &Paths, name: &str) -> Result<PathBuf> {
    let id = record::resolve(paths, name)?;
    let rec = record::load(paths, &id)?;
    let m = match &rec.extras.rootfs {
        Some(dir) => crate::rootfs::mount_dir(dir, &paths.ctr_dir(&id), rec.extras.rootfs_overlay)?,
        None => {
            let image = store
                .image_by_id(&rec.image_id)?
                .context("the container's image is no longer in local storage")?;
            crate::rootfs::mount(
                store,
                &image,
                &paths.ctr_dir(&id),
                rec.storage_driver.as_deref(),
            )?
        }
    };
    crate::events::container(&paths.runroot, "mount", &rec);
    Ok(m.merged)
}

/// Unmount the root filesystems of the selected (with `all`: every)
/// containers.
pub fn unmount(paths: &Paths, names: &[String], all: bool) -> Result<Outcomes> {
    let names = targets(paths, names, &[], all, false, |_| true)?;
    Ok(each(&names, false, |name| {
        let id = record::resolve(paths, name)?;
        crate::rootfs::unmount(&paths.ctr_dir(&id))?;
        if let Ok(rec) = record::load(paths, &id) {
            crate::events::container(&paths.runroot, "unmount", &rec);
        }
        Ok(Some(Target {
            name: name.to_string(),
            id,
        }))
    }))
}
