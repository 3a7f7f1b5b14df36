//! `pause` and `unpause`.
//!
//! With a cgroup v2 of its own (delegated, see `runtime::cgroups`) a
//! container is frozen with `cgroup.freeze`, as podman does. Everywhere else
//! (cgroup v1 hosts, v2 without delegation: where rootless podman refuses)
//! every process of the container's PID namespace gets SIGSTOP, and the
//! namespace is scanned again until no new process appeared and all are
//! stopped (a fork in flight finishes before the stop lands); `unpause`
//! sends SIGCONT to them all. The difference shows: a SIGSTOP is seen by a
//! process's parent (`waitpid` with WUNTRACED, SIGCHLD) and by a tracer,
//! and `unpause` also continues a process that was stopped before the
//! pause; the freezer is invisible to the processes.
//!
//! The state `paused` is recorded under the container's lock, so `ps`,
//! `inspect`, `exec` (refused), `stop` and `kill` see it.

use super::record::{self, Paths, State, Status};
use super::stats;
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

/// How the container's processes are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Freezer,
    Signals,
}

/// Pause the container `name` (a name or id); its full id.
pub fn pause(paths: &Paths, name: &str) -> Result<String> {
    let id = record::resolve(paths, name)?;
    let _l = record::lock_existing(paths, &id)?;
    let mut st = record::observe_locked(paths, &id);
    match st.status {
        Status::Running => {}
        Status::Paused => {
            return Err(crate::Error::ContainerState(format!("{id:?} is already paused")).into())
        }
        s => {
            return Err(crate::Error::ContainerState(format!(
                "{:?} is not running, can't pause",
                s.as_str()
            ))
            .into())
        }
    }
    if !st.init_alive() {
        return Err(
            crate::Error::ContainerState(r#""exited" is not running, can't pause"#.into()).into(),
        );
    }
    match method(paths, &id) {
        Method::Freezer => freeze(paths, &id, true)?,
        Method::Signals => stop_all(&st).with_context(|| format!("pausing container {id}"))?,
    }
    st.status = Status::Paused;
    if let Err(e) = record::save_state(paths, &id, &st) {
        let _ = thaw(paths, &id, &st);
        return Err(e);
    }
    emit(paths, &id, "pause");
    Ok(id)
}

/// Unpause the container `name` (a name or id); its full id.
pub fn unpause(paths: &Paths, name: &str) -> Result<String> {
    let id = record::resolve(paths, name)?;
    let _l = record::lock_existing(paths, &id)?;
    let mut st = record::observe_locked(paths, &id);
    if st.status != Status::Paused {
        return Err(
            crate::Error::ContainerState(format!("{id:?} is not paused, can't unpause")).into(),
        );
    }
    thaw(paths, &id, &st)?;
    st.status = Status::Running;
    record::save_state(paths, &id, &st)?;
    emit(paths, &id, "unpause");
    Ok(id)
}

/// The container event of a pause or unpause that happened.
fn emit(paths: &Paths, id: &str, status: &str) {
    if let Ok(rec) = record::load(paths, id) {
        crate::events::container(&paths.runroot, status, &rec);
    }
}

/// For a caller that holds the container's lock and has just signalled it
/// (`stop`): a paused container is continued, so the signal is handled,
/// and recorded as running again. Returns whether it was paused.
pub fn resume_locked(paths: &Paths, id: &str, st: &mut State) -> Result<bool> {
    if st.status != Status::Paused {
        return Ok(false);
    }
    thaw(paths, id, st)?;
    st.status = Status::Running;
    record::save_state(paths, id, st)?;
    Ok(true)
}

/// The freezer when the container has a cgroup of its own, else signals.
pub fn method(paths: &Paths, id: &str) -> Method {
    match stats::own_cgroup(paths, id) {
        Some(cg) if cg.join("cgroup.freeze").exists() => Method::Freezer,
        _ => Method::Signals,
    }
}

fn thaw(paths: &Paths, id: &str, st: &State) -> Result<()> {
    match method(paths, id) {
        Method::Freezer => freeze(paths, id, false),
        Method::Signals => {
            cont_all(st);
            Ok(())
        }
    }
}

/// Write cgroup.freeze and wait (up to 2 s) until cgroup.events agrees.
fn freeze(paths: &Paths, id: &str, on: bool) -> Result<()> {
    let cg = stats::own_cgroup(paths, id).context("the container's cgroup is gone")?;
    let v = if on { "1" } else { "0" };
    let f = cg.join("cgroup.freeze");
    std::fs::write(&f, v).with_context(|| format!("writing {v} to {}", f.display()))?;
    let want = format!("frozen {v}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let ev = std::fs::read_to_string(cg.join("cgroup.events")).unwrap_or_default();
        if ev.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    bail!(
        "the container's cgroup {} did not become {}",
        cg.display(),
        if on { "frozen" } else { "thawed" }
    )
}

fn kill(pid: i32, sig: nix::sys::signal::Signal) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).is_ok()
}

fn is_stopped(pid: i32) -> bool {
    match stats::read_stat(pid) {
        Some(s) => matches!(s.state, 'T' | 't' | 'Z' | 'X'),
        // Gone: nothing left to stop.
        None => true,
    }
}

/// SIGSTOP every process of the container until two scans in a row find
/// every one stopped (or gone).
///
/// Pids are not remembered between scans: a fork loop can wrap pid_max
/// while we work, and a pid we stopped may come back as a new, running
/// process. One clean scan is not enough either: a child forked while the
/// scan ran can sit below the /proc cursor (after a wrap) and be missed;
/// its parent is stopped by then, so the next scan sees it, running.
fn stop_all(st: &State) -> Result<()> {
    use nix::sys::signal::Signal;
    // The init first, through a pidfd checked against its start time.
    let fd = crate::sys::pidfd::open_verified(st.pid, st.pid_start)
        .context("the container's init is gone")?;
    crate::sys::pidfd::pidfd_send_signal(&fd, libc::SIGSTOP)
        .with_context(|| format!("sending SIGSTOP to pid {}", st.pid))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut clean_scans = 0;
    loop {
        let running: Vec<i32> = stats::container_pids(st.pid)
            .into_iter()
            .filter(|p| !is_stopped(*p))
            .collect();
        if running.is_empty() {
            clean_scans += 1;
            if clean_scans == 2 {
                return Ok(());
            }
            continue;
        }
        clean_scans = 0;
        for p in &running {
            kill(*p, Signal::SIGSTOP);
        }
        if Instant::now() > deadline {
            let busy: Vec<String> = running.iter().map(|p| p.to_string()).collect();
            cont_all(st);
            bail!(
                "processes {} did not stop within 5 seconds",
                busy.join(", ")
            );
        }
        // Give the signals a moment to land before the next scan.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// SIGCONT every process of the container.
fn cont_all(st: &State) {
    use nix::sys::signal::Signal;
    if let Some(fd) = crate::sys::pidfd::open_verified(st.pid, st.pid_start) {
        let _ = crate::sys::pidfd::pidfd_send_signal(&fd, libc::SIGCONT);
    }
    for p in stats::container_pids(st.pid) {
        if p != st.pid {
            kill(p, Signal::SIGCONT);
        }
    }
}

/// Which containers `pause`/`unpause` act on.
#[derive(Debug, Clone, Default)]
pub struct PauseSelection {
    /// Names or ids.
    pub names: Vec<String>,
    /// Files holding a container id each.
    pub cidfiles: Vec<std::path::PathBuf>,
    /// Every running (pause) or paused (unpause) container.
    pub all: bool,
    /// The newest container.
    pub latest: bool,
    /// Every container these `ps` filters match (all must).
    pub filters: Vec<super::ps::Filter>,
}

/// Pause (`pause` true) or unpause the selected containers, one after the
/// other; one outcome per container, in order.
pub fn pause_many(
    paths: &Paths,
    sel: &PauseSelection,
    pause_them: bool,
) -> Result<super::ops::Outcomes> {
    use super::ops::Target;
    let mut names: Vec<String> = sel.names.clone();
    for f in &sel.cidfiles {
        let id = std::fs::read_to_string(f)
            .with_context(|| format!("reading CIDFile {}", f.display()))?;
        names.push(id.trim().to_string());
    }
    if sel.all || sel.latest || !sel.filters.is_empty() {
        let rows = super::ps::ps(
            paths,
            &super::ps::PsOptions {
                all: true,
                filters: sel.filters.clone(),
                latest: sel.latest,
                last: None,
            },
        )?;
        let want = if pause_them {
            Status::Running
        } else {
            Status::Paused
        };
        names.extend(
            rows.into_iter()
                .filter(|r| !sel.all || r.st.status == want)
                .map(|r| r.rec.id),
        );
    } else if names.is_empty() {
        bail!("you must provide at least one name or id");
    }
    Ok(names
        .into_iter()
        .map(|n| {
            let id = if pause_them {
                pause(paths, &n)?
            } else {
                unpause(paths, &n)?
            };
            Ok(Target { name: n, id })
        })
        .collect())
}
