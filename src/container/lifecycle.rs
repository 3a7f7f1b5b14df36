//! Starting a container's monitor, and stopping, signalling, waiting for
//! and removing containers.

use super::record::{self, ContainerRecord, Paths, State};
use crate::cli::GlobalOpts;
use crate::sys::pidfd;
use anyhow::{bail, Context, Result};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Spawn `rpod __monitor ID` detached and wait for its verdict: the
/// container's init pid once it runs. An error
/// carries the monitor's exit code (125, or 126/127 from the runtime).
pub fn spawn_monitor(
    g: &GlobalOpts,
    paths: &Paths,
    rec: &ContainerRecord,
    attach: bool,
    size: Option<crate::sys::tty::WinSize>,
) -> Result<i32> {
    let run_dir = paths.run_dir(&rec.id);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let log = run_dir.join("monitor.log");
    let errf =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    // The monitor (and the init, its clone) run from a read-only or sealed
    // copy of rpod: nothing in the container can reach the binary itself.
    let setup = |cmd: &mut Command| {
        monitor_command(cmd, g, paths, rec, attach, size, &errf);
    };
    let mut child = crate::sys::exe::spawn_self(&paths.runroot.join("self-exe"), setup)
        .context("starting the container monitor")?;
    let out = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let _ = std::io::BufReader::new(out).read_line(&mut line);
    // The monitor lives on; it is reparented when we exit.
    drop(child);
    verdict(line.trim_end(), rec, &log)
}

fn monitor_command(
    cmd: &mut Command,
    g: &GlobalOpts,
    paths: &Paths,
    rec: &ContainerRecord,
    attach: bool,
    size: Option<crate::sys::tty::WinSize>,
    errf: &std::fs::File,
) {
    cmd.arg("--root")
        .arg(&paths.root)
        .arg("--runroot")
        .arg(&paths.runroot)
        .arg("--log-level")
        .arg(&g.log_level);
    if let Some(d) = &g.storage_driver {
        cmd.arg("--storage-driver").arg(d);
    }
    cmd.arg("__monitor").arg(&rec.id);
    if attach {
        cmd.arg("--attach");
    }
    if let Some(s) = size {
        cmd.arg("--size").arg(format!("{}x{}", s.rows, s.cols));
    }
    let errf = errf.try_clone().map_or(Stdio::null(), Stdio::from);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(errf);
}

fn verdict(line: &str, rec: &ContainerRecord, log: &std::path::Path) -> Result<i32> {
    let num = |s: &str| s.parse::<i32>().unwrap_or(0);
    match line.chars().next() {
        Some('S') => Ok(num(&line[1..])),
        Some('E') => {
            let rest = &line[1..];
            let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
            let code = code.parse::<i32>().unwrap_or(crate::error::EXIT_RPOD);
            if code == crate::error::EXIT_RPOD {
                Err(anyhow::anyhow!("{msg}"))
            } else {
                Err(crate::error::coded(code, msg))
            }
        }
        _ => {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            bail!(
                "the container monitor exited without starting container {}: {}",
                rec.name,
                text.trim()
            )
        }
    }
}

/// Send `sig` to the container's init, if it is the process we started.
pub fn signal(st: &State, sig: i32) -> Result<bool> {
    let Some(fd) = pidfd::open_verified(st.pid, st.pid_start) else {
        return Ok(false);
    };
    pidfd::pidfd_send_signal(&fd, sig)
        .with_context(|| format!("sending signal {sig} to pid {}", st.pid))?;
    Ok(true)
}

/// Wait until the container is no longer running (its monitor recorded the
/// exit, or reconciliation did), up to `timeout` (None: forever).
pub fn wait_stopped(paths: &Paths, id: &str, timeout: Option<Duration>) -> Result<Option<State>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if !record::exists(paths, id) {
            return Ok(None);
        }
        let st = record::observe(paths, id);
        if !st.is_running() {
            return Ok(Some(st));
        }
        let left_ms = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Ok(Some(st));
                }
                (d - now).as_millis().min(i32::MAX as u128) as i32
            }
            None => -1,
        };
        // The monitor's exit (or the init's, when the monitor is gone) wakes us.
        let target = pidfd::open_verified(st.monitor_pid, st.monitor_start)
            .or_else(|| pidfd::open_verified(st.pid, st.pid_start));
        match target {
            Some(fd) => {
                let slice = if left_ms < 0 { 1000 } else { left_ms.min(1000) };
                pidfd::pidfd_wait(&fd, slice)?;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Stop a container: its stop signal, `timeout` seconds, then SIGKILL.
/// Returns the final state (None if it was removed meanwhile, e.g. --rm).
pub fn stop(paths: &Paths, rec: &ContainerRecord, timeout: u32) -> Result<Option<State>> {
    let st = record::observe(paths, &rec.id);
    if !st.is_running() {
        return Ok(Some(st));
    }
    if timeout > 0 {
        signal(&st, rec.stop_signal)?;
        if let Some(s) = wait_stopped(paths, &rec.id, Some(Duration::from_secs(timeout as u64)))? {
            if !s.is_running() {
                return Ok(Some(s));
            }
        } else {
            return Ok(None);
        }
        warn!(
            "StopSignal {} failed to stop container {} in {timeout} seconds, resorting to SIGKILL",
            signal_name(rec.stop_signal),
            rec.name
        );
    }
    let st = record::observe(paths, &rec.id);
    signal(&st, libc::SIGKILL)?;
    wait_stopped(paths, &rec.id, Some(Duration::from_secs(30)))
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| sig.to_string())
}

/// Remove a container; `force` stops a running one first (with `timeout`,
/// default the container's stop timeout). The caller is in rpod's userns.
pub fn remove_container(paths: &Paths, id: &str, force: bool, timeout: Option<u32>) -> Result<()> {
    let rec = record::load(paths, id)?;
    let st = record::observe(paths, id);
    if st.is_running() {
        if !force {
            bail!(
                "cannot remove container {id} as it is running - running or paused containers cannot be \
                 removed without force: container state improper"
            );
        }
        stop(paths, &rec, timeout.unwrap_or(rec.stop_timeout))?;
    }
    // A --rm container's monitor removes it once stopped; one still cleaning
    // up (it holds the lock) finishes first.
    if !record::exists(paths, id) {
        return Ok(());
    }
    let _l = match record::lock(paths, id) {
        Ok(l) => l,
        Err(_) if !record::exists(paths, id) => return Ok(()),
        Err(e) => return Err(e),
    };
    if !record::exists(paths, id) {
        return Ok(());
    }
    let mut st = record::load_state(paths, id);
    if st.is_running() && (st.monitor_alive() || st.init_alive()) {
        bail!("container {} is still running", rec.name);
    }
    // A monitor killed with -9 left its fuse daemon and runtime state.
    record::release_helpers(&mut st);
    let state_root = paths.run_dir(id).join("runtime");
    let _ = crate::runtime::delete(&state_root, id, true);
    record::remove(paths, &rec)
}

/// All container ids, newest first.
pub fn all_ids(paths: &Paths) -> Result<Vec<(String, ContainerRecord)>> {
    let mut v: Vec<(String, ContainerRecord)> = record::list_ids(paths)?
        .into_iter()
        .filter_map(|id| record::load(paths, &id).ok().map(|r| (id, r)))
        .collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1.created));
    Ok(v)
}
