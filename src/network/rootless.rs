//! The rootless network namespace (issue 14): one per user and runtime dir
//! (`RUNROOT/rootless-netns/`), holding the bridges of the user-defined
//! networks and aardvark-dns, with slirp4netns giving it the way out.
//!
//! It is held by two processes, started detached by the first container
//! that needs it ([`ensure`], under the directory's flock):
//! - the *holder* (`rpod __rootless-netns DIR`), in the host's namespaces:
//!   it runs slirp4netns for the namespace and keeps slirp4netns's exit
//!   pipe, so slirp4netns ends when the holder does;
//! - the *inner* process (`rpod __rootless-netns-inner`), a child of the
//!   holder in a fresh rpod user namespace and a fresh network namespace:
//!   the namespaces live as long as it does, and it dies with the holder
//!   (parent-death signal).
//!
//! Containers' monitors join the inner process's user namespace (so the
//! containers' network namespaces and the bridges share an owner and
//! netavark may work on both) and run netavark inside its network
//! namespace. Each container registers in `users/ID` (its monitor's pid and
//! start time); [`release`] unregisters it and, when no live user is left,
//! stops aardvark-dns and the holder. A user whose monitor is gone (kill -9)
//! counts as gone: the next [`ensure`] or [`release`] drops it, and an
//! [`ensure`] that finds the holder dead starts from scratch (no stale
//! addresses, no half-configured bridge).

use crate::container::record::Paths;
use crate::sys::pidfd;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const HOLDER_ARG: &str = "__rootless-netns";
const HOLD_ARG: &str = "__rootless-netns-hold";
const INNER_ARG: &str = "__rootless-netns-inner";

/// The directory of the rootless network namespace of `paths`' runroot.
pub fn dir(paths: &Paths) -> PathBuf {
    paths.runroot.join("rootless-netns")
}

/// netavark's `--config` directory (aardvark-dns's files go below it).
pub fn config_dir(paths: &Paths) -> PathBuf {
    dir(paths).join("netavark")
}

/// Where addresses are reserved ([`super::bridge::ipam`]).
pub fn ipam_dir(paths: &Paths) -> PathBuf {
    dir(paths).join("ipam")
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HolderState {
    pub holder_pid: i32,
    pub holder_start: u64,
    pub inner_pid: i32,
    pub inner_start: u64,
}

impl HolderState {
    fn alive(&self) -> bool {
        alive(self.holder_pid, self.holder_start) && alive(self.inner_pid, self.inner_start)
    }
}

fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && pidfd::start_time(pid) == Some(start) && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

fn lock(d: &Path) -> Result<crate::storage::Lock> {
    std::fs::create_dir_all(d.join("users"))
        .with_context(|| format!("creating {}", d.display()))?;
    crate::storage::Lock::exclusive_quiet(&d.join("lock"))
}

fn load_state(d: &Path) -> Option<HolderState> {
    serde_json::from_slice(&std::fs::read(d.join("state.json")).ok()?).ok()
}

/// The running namespace's state, if it runs.
pub fn current(paths: &Paths) -> Option<HolderState> {
    load_state(&dir(paths)).filter(|s| s.alive())
}

/// Whether a registered user (its monitor) still lives.
fn user_alive(p: &Path) -> bool {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let mut it = text.split_whitespace();
    let pid = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    let start = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    alive(pid, start)
}

/// Drop the users whose monitors are gone (and their addresses); the live
/// users' ids.
fn prune_users(d: &Path) -> Vec<String> {
    let mut live = Vec::new();
    for e in std::fs::read_dir(d.join("users"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let id = e.file_name().to_string_lossy().into_owned();
        if user_alive(&e.path()) {
            live.push(id);
        } else {
            debug!("rootless netns: dropping stale user {id}");
            let _ = std::fs::remove_file(e.path());
            super::bridge::ipam::release(&d.join("ipam"), &id);
        }
    }
    live
}

/// Whether container `id` is a live user (for the address allocator: an
/// address of a container that is not is free).
pub fn is_live_user(paths: &Paths, id: &str) -> bool {
    user_alive(&dir(paths).join("users").join(id))
}

/// Make sure the namespace runs and register container `id` (whose monitor
/// is this process) as a user. Returns the inner process's pid: the caller
/// joins its user namespace, and its network namespace for netavark.
pub fn ensure(paths: &Paths, id: &str) -> Result<HolderState> {
    let d = dir(paths);
    let _l = lock(&d)?;
    let live = prune_users(&d);
    // An idle namespace whose kept bridges belong to removed or replaced
    // networks ([`super::keep`]) is not reused.
    let reuse = load_state(&d)
        .filter(|s| s.alive())
        .filter(|_| !(live.is_empty() && super::keep::stale(&d)));
    let st = match reuse {
        Some(s) => s,
        None => {
            if !live.is_empty() {
                warn!(
                    "the rootless network namespace died under {} container(s); starting a new one",
                    live.len()
                );
            }
            stop_all(&d);
            start(paths, &d).context("starting the rootless network namespace")?
        }
    };
    let me = std::process::id() as i32;
    let line = format!("{me} {}", pidfd::start_time(me).unwrap_or(0));
    crate::storage::write_atomic_volatile(&d.join("users").join(id), line.as_bytes())?;
    Ok(st)
}

/// Unregister container `id`. After the last user the namespace lingers
/// for [`linger`] (the holder takes it down then), so the next container
/// finds it running: creating it, starting slirp4netns and waiting for it
/// is most of a cold start.
pub fn release(paths: &Paths, id: &str) {
    let d = dir(paths);
    let Ok(_l) = lock(&d) else {
        return;
    };
    let _ = std::fs::remove_file(d.join("users").join(id));
    super::bridge::ipam::release(&d.join("ipam"), id);
}

/// How long the namespace outlives its last user: `RPOD_NETNS_LINGER`
/// seconds (fractions allowed, 0 stops it at the holder's next look), else
/// 3 s.
pub fn linger() -> Duration {
    std::env::var("RPOD_NETNS_LINGER")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
        .unwrap_or(Duration::from_secs(3))
}

/// Register this process as user `key` of the namespace if it runs (a
/// monitor about to restart its container keeps it for the next monitor);
/// the key stops counting when this process ends.
pub fn hold(paths: &Paths, key: &str) {
    let d = dir(paths);
    let Ok(_l) = lock(&d) else {
        return;
    };
    if load_state(&d).is_some_and(|s| s.alive()) {
        let me = std::process::id() as i32;
        let line = format!("{me} {}", pidfd::start_time(me).unwrap_or(0));
        let _ = crate::storage::write_atomic_volatile(&d.join("users").join(key), line.as_bytes());
    }
}

/// Whether container `id` is the namespace's only live container user
/// (its teardown leaves it idle); commands about to start containers
/// (`cmd-PID`) don't count: their containers are the ones a warm bridge is
/// kept for.
pub fn only_user(paths: &Paths, id: &str) -> bool {
    let d = dir(paths);
    let Ok(_l) = lock(&d) else {
        return false;
    };
    prune_users(&d)
        .iter()
        .all(|u| u == id || u.starts_with("cmd-"))
}

/// Drop user `key` without stopping anything (the next release decides).
pub fn unregister(paths: &Paths, key: &str) {
    let d = dir(paths);
    if let Ok(_l) = lock(&d) {
        let _ = std::fs::remove_file(d.join("users").join(key));
    }
}

/// Take the namespace down now, users or not (`system reset`, after it
/// removed every container: their monitors may still be tearing down).
pub fn stop_now(paths: &Paths) {
    let d = dir(paths);
    if !d.exists() {
        return;
    }
    if let Ok(_l) = lock(&d) {
        stop_all(&d);
    }
}

/// Take the namespace down now if no container uses it, without waiting
/// out the linger (`network rm`).
pub fn gc(paths: &Paths) {
    let d = dir(paths);
    if !d.exists() {
        return;
    }
    let Ok(_l) = lock(&d) else {
        return;
    };
    if prune_users(&d).is_empty() && load_state(&d).is_some() {
        stop_all(&d);
    }
}

/// Stop aardvark-dns, the holder (slirp4netns follows through its exit
/// pipe, the inner process through its parent-death signal) and forget
/// every address and dns entry. The caller holds the lock.
fn stop_aardvark(conf: &Path) {
    if let Ok(text) = std::fs::read_to_string(conf.join("aardvark-dns/aardvark.pid")) {
        if let Ok(pid) = text.trim().parse::<i32>() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim_end() == "aardvark-dns" {
                if let Some(start) = pidfd::start_time(pid) {
                    super::helper::stop(pid, start);
                }
            }
        }
    }
}

fn stop_all(d: &Path) {
    let conf = d.join("netavark");
    stop_aardvark(&conf);
    if let Some(st) = load_state(d) {
        for (pid, start) in [
            (st.holder_pid, st.holder_start),
            (st.inner_pid, st.inner_start),
        ] {
            if alive(pid, start) {
                super::helper::stop(pid, start);
            }
        }
    }
    let _ = std::fs::remove_file(d.join("state.json"));
    let _ = std::fs::remove_dir_all(&conf);
    let _ = std::fs::remove_dir_all(d.join("ipam"));
    let _ = std::fs::remove_dir_all(d.join("kept"));
}

/// Spawn the holder and wait for its report.
fn start(paths: &Paths, d: &Path) -> Result<HolderState> {
    let me = crate::sys::exe::real_exe();
    let mut child = Command::new(&me)
        .arg(HOLDER_ARG)
        .arg(d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(d.join("holder.log"))
                .with_context(|| format!("creating {}", d.join("holder.log").display()))?,
        )
        .spawn()
        .with_context(|| format!("starting {}", me.display()))?;
    let _ = paths;
    let out = child.stdout.take().context("holder stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line)?;
    let line = line.trim();
    if let Some(rest) = line.strip_prefix('S') {
        let st: HolderState = serde_json::from_str(rest.trim())
            .with_context(|| format!("the holder's report {rest:?}"))?;
        crate::storage::write_atomic_volatile(&d.join("state.json"), &serde_json::to_vec(&st)?)?;
        // The launcher exits once it has passed the line on.
        let _ = child.wait();
        return Ok(st);
    }
    let _ = child.kill();
    let _ = child.wait();
    let msg = line.strip_prefix('E').unwrap_or(line).trim();
    let log = super::helper::log_tail(&d.join("holder.log"));
    if msg.is_empty() {
        bail!("the namespace holder ended before it was ready{log}");
    }
    bail!("{msg}")
}

/// `rpod __rootless-netns DIR` and `rpod __rootless-netns-inner`, before
/// clap (they start on a container's start path).
pub fn from_argv() -> Option<Result<()>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next()?;
    match mode.as_str() {
        HOLDER_ARG => {
            let d = PathBuf::from(args.next()?);
            Some(launch_main(&d))
        }
        HOLD_ARG => {
            let d = PathBuf::from(args.next()?);
            Some(holder_main(&d))
        }
        INNER_ARG => Some(inner_main()),
        _ => None,
    }
}

fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Start the holder and pass its report on, then exit: the holder is
/// orphaned at once, so no container's monitor (a subreaper) adopts it.
fn launch_main(d: &Path) -> Result<()> {
    let me = crate::sys::exe::real_exe();
    let mut child = Command::new(&me)
        .arg(HOLD_ARG)
        .arg(d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", me.display()))?;
    let out = child.stdout.take().context("holder stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line)?;
    report(line.trim_end());
    std::mem::forget(child);
    Ok(())
}

fn holder_main(d: &Path) -> Result<()> {
    let _ = nix::unistd::setsid();
    let r = holder_setup(d);
    let (mut inner, slirp) = match r {
        Ok(x) => x,
        Err(e) => {
            report(&format!("E {e:#}"));
            return Err(e);
        }
    };
    let st = HolderState {
        holder_pid: std::process::id() as i32,
        holder_start: pidfd::start_time(std::process::id() as i32).unwrap_or(0),
        inner_pid: inner.id() as i32,
        inner_start: pidfd::start_time(inner.id() as i32).unwrap_or(0),
    };
    report(&format!("S {}", serde_json::to_string(&st)?));
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 1);
    }
    // Until the inner process ends (or we are killed): slirp4netns's exit
    // pipe closes with us. Twice a second, under the lock, whether any user
    // is left: once none has been for the linger, the namespace goes (a
    // command that failed before its container registered, or a killed
    // monitor, leaves none behind either).
    let linger = linger();
    let mut idle_since: Option<std::time::Instant> = None;
    loop {
        if !matches!(inner.try_wait(), Ok(None)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        if !d.join("state.json").exists() && !d.exists() {
            // The runtime dir went (`system reset`): nothing to keep.
            let _ = inner.kill();
            let _ = inner.wait();
            break;
        }
        let Ok(_l) = lock(d) else { continue };
        if !prune_users(d).is_empty() {
            idle_since = None;
            continue;
        }
        if idle_since
            .get_or_insert_with(std::time::Instant::now)
            .elapsed()
            >= linger
        {
            debug!("rootless netns: no user for {linger:?}, stopping it");
            let conf = d.join("netavark");
            stop_aardvark(&conf);
            let _ = std::fs::remove_file(d.join("state.json"));
            let _ = std::fs::remove_dir_all(&conf);
            let _ = std::fs::remove_dir_all(d.join("ipam"));
            let _ = std::fs::remove_dir_all(d.join("kept"));
            let _ = inner.kill();
            let _ = inner.wait();
            break;
        }
    }
    drop(slirp);
    Ok(())
}

fn holder_setup(d: &Path) -> Result<(std::process::Child, super::helper::Helper)> {
    let me = crate::sys::exe::real_exe();
    let mut inner = Command::new(&me)
        .arg(INNER_ARG)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", me.display()))?;
    let out = inner.stdout.take().context("inner stdout")?;
    let mut line = String::new();
    let mut r = std::io::BufReader::new(out);
    r.read_line(&mut line)?;
    if line.trim() != "R" {
        let _ = inner.kill();
        let _ = inner.wait();
        bail!(
            "creating the namespaces failed: {}",
            line.trim()
                .strip_prefix('E')
                .unwrap_or("the process ended")
                .trim()
        );
    }
    let conf = super::config::load()?;
    let opts = super::slirp4netns::parse_opts(&conf.network_cmd_options, &[])?;
    // slirp4netns enters the namespace: from its owner, as a monitor does.
    let slirp = crate::sys::userns::join_userns_of(inner.id() as i32)
        .and_then(|_| crate::sys::userns::become_ns_root())
        .context("joining the new user namespace");
    let slirp = slirp.and_then(|_| {
        super::slirp4netns::start(
            &opts,
            conf.network_cmd_path.as_deref(),
            inner.id() as i32,
            d,
            &[],
        )
    });
    match slirp {
        Ok(h) => Ok((inner, h)),
        Err(e) => {
            let _ = inner.kill();
            let _ = inner.wait();
            Err(e)
        }
    }
}

fn inner_main() -> Result<()> {
    let r = (|| -> Result<()> {
        crate::userns::enter()?;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .context("creating the rootless network namespace")?;
        // After the credential change (which clears it), and then check
        // the holder did not go meanwhile.
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
        if nix::unistd::getppid().as_raw() == 1 {
            bail!("the holder is gone");
        }
        Ok(())
    })();
    match r {
        Ok(()) => report("R"),
        Err(e) => {
            report(&format!("E {e:#}"));
            return Err(e);
        }
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
