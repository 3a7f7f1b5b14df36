//! Starting a container's monitor, and stopping, signalling, waiting for
//! and removing containers.

use super::record::{self, ContainerRecord, Paths, State};
use crate::options::Options;
use crate::sys::pidfd;
use anyhow::{bail, Context, Result};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What [`spawn_monitor`] found: the init pid of the run it started, or of
/// the one that was already running (another `start` won the race).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spawned {
    Started(i32),
    AlreadyRunning(i32),
    /// A restart by the policy that was called off (the user stopped,
    /// started or removed the container meanwhile).
    NotRestarted,
    /// `init`: set up, its program waiting for `start` (the init's pid).
    Initialized(i32),
}

/// Spawn `rpod __monitor ID` detached and wait for its verdict: the
/// container's init pid once it runs (or already ran: the monitor decides
/// under the container's lock, so racing starts make one monitor). An error
/// keeps what the monitor reported (`error::to_wire`): a command that could
/// not be found or invoked stays that.
pub fn spawn_monitor(
    g: &Options,
    paths: &Paths,
    rec: &ContainerRecord,
    attach: bool,
    size: Option<crate::sys::tty::WinSize>,
) -> Result<Spawned> {
    spawn_monitor_for(g, paths, rec, attach, size, How::default())
}

/// `init`: spawn the monitor to set the container up and wait for
/// [`start_initialized`]. An error when it is set up or runs already.
pub fn spawn_init(g: &Options, paths: &Paths, rec: &ContainerRecord) -> Result<Spawned> {
    spawn_monitor_for(
        g,
        paths,
        rec,
        false,
        None,
        How {
            init_only: true,
            ..How::default()
        },
    )
}

/// Start an initialized container: ask its waiting monitor to run the
/// program, under the container's lock (so no `stop`, `rm` or other
/// `start` acts meanwhile). `Ok(None)`: it was not initialized (any more)
/// when the lock was ours; the caller starts it the usual way.
pub fn start_initialized(
    paths: &Paths,
    rec: &ContainerRecord,
    attach: bool,
) -> Result<Option<Spawned>> {
    use std::io::Write;
    let _l = record::lock_existing(paths, &rec.id)?;
    let st = record::observe_locked(paths, &rec.id);
    if !st.is_initialized() {
        return Ok(None);
    }
    if !st.monitor_alive() {
        // Its monitor was killed (-9): nothing can start the waiting init.
        // End it; the state becomes exited, and the caller starts the
        // container afresh.
        if let Some(fd) = pidfd::open_verified(st.pid, st.pid_start) {
            let _ = pidfd::pidfd_send_signal(&fd, libc::SIGKILL);
            let _ = pidfd::pidfd_wait(&fd, 5000);
        }
        record::observe_locked(paths, &rec.id);
        // The runtime's state of that container, which its monitor would
        // have deleted.
        let state_root = paths.run_dir(&rec.id).join("runtime");
        let _ = crate::runtime::delete(&state_root, &rec.id, true);
        return Ok(None);
    }
    let run_dir = paths.run_dir(&rec.id);
    let sock = run_dir.join(crate::monitor::INIT_SOCKET);
    let dir =
        std::fs::File::open(&run_dir).with_context(|| format!("opening {}", run_dir.display()))?;
    let addr = crate::monitor::init_socket_addr(&dir);
    let mut conn = std::os::unix::net::UnixStream::connect(addr).with_context(|| {
        format!(
            "asking the monitor of initialized container {} to start it: {}",
            rec.name,
            sock.display()
        )
    })?;
    conn.write_all(if attach { b"attach\n" } else { b"start\n" })
        .with_context(|| format!("asking the monitor of container {} to start it", rec.name))?;
    let mut line = String::new();
    let _ = std::io::BufReader::new(&conn).read_line(&mut line);
    let log = paths.run_dir(&rec.id).join("monitor.log");
    verdict(line.trim_end(), rec, &log).map(Some)
}

/// [`spawn_monitor`] passing our fds 3 .. 3+`preserve_fds` to the
/// container's process (`run --preserve-fds`).
pub fn spawn_monitor_with_fds(
    g: &Options,
    paths: &Paths,
    rec: &ContainerRecord,
    attach: bool,
    size: Option<crate::sys::tty::WinSize>,
    preserve_fds: u32,
) -> Result<Spawned> {
    spawn_monitor_for(
        g,
        paths,
        rec,
        attach,
        size,
        How {
            preserve_fds,
            ..How::default()
        },
    )
}

/// [`spawn_monitor`] for a restart by the container's restart policy,
/// from the monitor of the run that exited at `finished_at` (epoch ns): the
/// new monitor starts it only if that is still its last run and the user
/// has not stopped it since.
pub fn spawn_restart(
    g: &Options,
    paths: &Paths,
    rec: &ContainerRecord,
    finished_at: i64,
) -> Result<Spawned> {
    spawn_monitor_for(
        g,
        paths,
        rec,
        false,
        None,
        How {
            restart_of: Some(finished_at),
            ..How::default()
        },
    )
}

/// What else a monitor is spawned for.
#[derive(Default)]
struct How {
    /// A restart by the policy of the run that finished then.
    restart_of: Option<i64>,
    /// `run --preserve-fds`.
    preserve_fds: u32,
    /// `init`: set up only.
    init_only: bool,
}

fn spawn_monitor_for(
    g: &Options,
    paths: &Paths,
    rec: &ContainerRecord,
    attach: bool,
    size: Option<crate::sys::tty::WinSize>,
    how: How,
) -> Result<Spawned> {
    let How {
        restart_of,
        preserve_fds,
        init_only,
    } = how;
    let run_dir = paths.run_dir(&rec.id);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let log = run_dir.join("monitor.log");
    let errf =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    // The monitor (and the init, its clone) run from a read-only or sealed
    // copy of rpod: nothing in the container can reach the binary itself.
    let setup = |cmd: &mut Command| {
        monitor_command(cmd, g, paths, rec, attach, size, &errf);
        if let Some(t) = restart_of {
            cmd.arg("--restart-of").arg(t.to_string());
        }
        if preserve_fds > 0 {
            cmd.arg("--preserve-fds").arg(preserve_fds.to_string());
        }
        if init_only {
            cmd.arg("--init-only");
        }
    };
    let mut child = crate::sys::exe::spawn_self(&paths.runroot.join("self-exe"), setup)
        .context("starting the container monitor")?;
    let out = child.stdout.take().expect("piped stdout");
    let mut out = std::io::BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        let _ = out.read_line(&mut line);
        // The monitor waits for the container's lock: say so, as cargo does.
        match line.strip_prefix('W') {
            Some(path) => eprintln!("waiting for lock on {}", path.trim_end()),
            None => break,
        }
    }
    // The monitor lives on; it is reparented when we exit.
    drop(child);
    let res = verdict(line.trim_end(), rec, &log);
    // A racing `rm` removed the container before the monitor took its lock:
    // the run dir made above for its log belongs to nobody now.
    if res.is_err() && !record::exists(paths, &rec.id) {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    res
}

fn monitor_command(
    cmd: &mut Command,
    g: &Options,
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
    // For the events the monitor writes.
    cmd.arg("--events-backend").arg(g.events_backend.as_str());
    if let Some(t) = &g.tmpdir {
        cmd.arg("--tmpdir").arg(t);
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

fn verdict(line: &str, rec: &ContainerRecord, log: &std::path::Path) -> Result<Spawned> {
    let num = |s: &str| s.parse::<i32>().unwrap_or(0);
    match line.chars().next() {
        Some('S') => Ok(Spawned::Started(num(&line[1..]))),
        Some('R') => Ok(Spawned::AlreadyRunning(num(&line[1..]))),
        Some('N') => Ok(Spawned::NotRestarted),
        Some('I') => Ok(Spawned::Initialized(num(&line[1..]))),
        Some('E') => Err(crate::error::from_wire(line)),
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

/// Under the container's lock, send `sig` if it runs (and, with `only`, if
/// it is still that run: init pid and start time): the state it was
/// signalled in, and whether it was. A start in progress is waited for.
pub fn signal_locked(
    paths: &Paths,
    id: &str,
    sig: i32,
    only: Option<(i32, u64)>,
) -> Result<(State, bool)> {
    signal_locked_then(paths, id, sig, only, false, false, &|| {})
}

/// [`signal_locked`] for `kill` by the user: first, under the same lock,
/// the container is marked stopped by the user, so that its monitor does
/// not restart it (`--restart`) until it is started again, as podman does.
pub fn signal_locked_by_user(
    paths: &Paths,
    id: &str,
    sig: i32,
    before: &dyn Fn(),
) -> Result<(State, bool)> {
    signal_locked_then(paths, id, sig, None, false, true, before)
}

/// [`signal_locked`]; with `resume`, a paused container is continued once
/// signalled (`stop`: so that it handles the signal), still under the lock;
/// with `by_user`, the container is marked stopped by the user first
/// (even when it does not run: a restart the monitor has scheduled is off).
/// `before` runs just before the signal is sent (the `kill` event: written
/// before the monitor can hear the death it causes).
fn signal_locked_then(
    paths: &Paths,
    id: &str,
    sig: i32,
    only: Option<(i32, u64)>,
    resume: bool,
    by_user: bool,
    before: &dyn Fn(),
) -> Result<(State, bool)> {
    let _l = record::lock_existing(paths, id)?;
    let mut st = record::observe_locked(paths, id);
    let this_run = only.map_or(true, |run| run == (st.pid, st.pid_start));
    if by_user && this_run && !st.stopped_by_user {
        st.stopped_by_user = true;
        record::save_state(paths, id, &st)?;
    }
    if !st.is_running() || only.is_some_and(|run| run != (st.pid, st.pid_start)) {
        return Ok((st, false));
    }
    // An initialized container's init waits for `start` and handles no
    // signal: `stop` (and `rm`) end it at once, `kill` is refused (podman:
    // "can only kill running containers").
    let sig = match (st.is_initialized(), resume) {
        (false, _) => sig,
        (true, true) => libc::SIGKILL,
        (true, false) => return Ok((st, false)),
    };
    before();
    let sent = signal(&st, sig)?;
    if sent && resume {
        super::pause::resume_locked(paths, id, &mut st)?;
    }
    Ok((st, sent))
}

/// Wait until the container is no longer running (its monitor recorded the
/// exit, or reconciliation did), up to `timeout` (None: forever).
pub fn wait_stopped(paths: &Paths, id: &str, timeout: Option<Duration>) -> Result<Option<State>> {
    wait_until_stopped(paths, id, timeout, false)
}

/// [`wait_stopped`] for the run that is seen first: when a racing `start`
/// has begun a new one meanwhile (another init), that new state is returned
/// at once, so `stop` neither waits for nor kills a run it never signalled.
fn wait_run_ended(paths: &Paths, id: &str, timeout: Duration) -> Result<Option<State>> {
    wait_until_stopped(paths, id, Some(timeout), true)
}

fn wait_until_stopped(
    paths: &Paths,
    id: &str,
    timeout: Option<Duration>,
    this_run: bool,
) -> Result<Option<State>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut first: Option<(i32, u64)> = None;
    loop {
        if !record::exists(paths, id) {
            return Ok(None);
        }
        let st = record::observe(paths, id);
        if !st.is_running() {
            return Ok(Some(st));
        }
        match first {
            None => first = Some((st.pid, st.pid_start)),
            Some(run) if this_run && run != (st.pid, st.pid_start) => return Ok(Some(st)),
            Some(_) => {}
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
/// The lock is held only to signal, never while waiting.
pub fn stop(paths: &Paths, rec: &ContainerRecord, timeout: u32) -> Result<Option<State>> {
    let locked = |sig, only| match signal_locked_then(paths, &rec.id, sig, only, true, true, &|| {})
    {
        Ok((st, _)) => Ok(Some(st)),
        Err(_) if !record::exists(paths, &rec.id) => Ok(None),
        Err(e) => Err(e),
    };
    let mut only = None;
    if timeout > 0 {
        let Some(st) = locked(rec.stop_signal, None)? else {
            return Ok(None);
        };
        if !st.is_running() {
            return Ok(Some(st));
        }
        only = Some((st.pid, st.pid_start));
        match wait_run_ended(paths, &rec.id, Duration::from_secs(timeout as u64))? {
            // Stopped, or started again by someone else since.
            Some(s) if !s.is_running() || only != Some((s.pid, s.pid_start)) => return Ok(Some(s)),
            Some(_) => {}
            None => return Ok(None),
        }
        warn!(
            "StopSignal {} failed to stop container {} in {timeout} seconds, resorting to SIGKILL",
            signal_name(rec.stop_signal),
            rec.name
        );
    }
    let Some(st) = locked(libc::SIGKILL, only)? else {
        return Ok(None);
    };
    if !st.is_running() || only.is_some_and(|run| run != (st.pid, st.pid_start)) {
        return Ok(Some(st));
    }
    wait_run_ended(paths, &rec.id, Duration::from_secs(30))
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| sig.to_string())
}

/// How often `rm -f` stops a container that a racing `start` started again
/// before it gives up.
const REMOVE_ROUNDS: u32 = 5;

/// Remove a container; `force` stops a running one first (with `timeout`,
/// default the container's stop timeout). The caller is in rpod's userns.
/// The removal itself happens under the container's lock, after checking
/// again that nothing (a racing `start`) made it run meanwhile.
pub fn remove_container(paths: &Paths, id: &str, force: bool, timeout: Option<u32>) -> Result<()> {
    let rec = record::load(paths, id)?;
    // podman rm exits 2 for "one of the containers is running".
    let improper = || {
        anyhow::Error::new(crate::error::Error::ContainerState(format!(
            "cannot remove container {id} as it is running - running or paused containers \
             cannot be removed without force"
        )))
    };
    let mut round = 0;
    loop {
        round += 1;
        let st = record::observe(paths, id);
        // An initialized container is not running (podman removes it
        // without force): its waiting init is ended first.
        if st.is_running() {
            if !force && !st.is_initialized() {
                return Err(improper());
            }
            stop(paths, &rec, timeout.unwrap_or(rec.stop_timeout))?;
        }
        // A --rm container's monitor removes it once stopped; one still
        // cleaning up (it holds the lock) finishes first.
        if !record::exists(paths, id) {
            return Ok(());
        }
        let _l = match record::lock_existing(paths, id) {
            Ok(l) => l,
            Err(_) if !record::exists(paths, id) => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut st = record::observe_locked(paths, id);
        if st.is_running() {
            if !force && !st.is_initialized() {
                return Err(improper());
            }
            if round < REMOVE_ROUNDS {
                continue;
            }
            bail!("container {} is still running", rec.name);
        }
        // A monitor killed with -9 left its fuse daemon and runtime state.
        record::release_helpers(&mut st);
        let state_root = paths.run_dir(id).join("runtime");
        let _ = crate::runtime::delete(&state_root, id, true);
        record::remove(paths, &rec)?;
        crate::events::container(&paths.runroot, "remove", &rec);
        return Ok(());
    }
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
