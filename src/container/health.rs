//! Healthchecks, run by rpod itself: no systemd timer. A container's
//! monitor (`monitor::event_loop`) starts `rpod __healthcheck …` every
//! interval; that process (or `rpod healthcheck run`) execs the check into
//! the container (the runtime's exec, as `rpod exec`), with the timeout,
//! records the result in `containers/<id>/health.json` (podman's
//! `State.Health`: status, failing streak, the last 5 runs), writes a
//! `health_status` event, and acts on `--health-on-failure` once the
//! container is unhealthy. podman 4.3 needs systemd for the schedule; this
//! works on any host.
//!
//! podman's rules (libpod/healthcheck.go): a run that exits 0 makes the
//! container healthy and resets the streak; a failing one adds to the
//! streak, unless it ran within the start period, and the container turns
//! unhealthy once the streak reaches the retries. A start sets "starting".

use super::record::{self, ContainerRecord, Paths};
use crate::runtime::{Console, Stdio};
use anyhow::{bail, Context, Result};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// podman's defaults.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRIES: u32 = 3;
/// The runs kept in the log, and the output kept of each (podman's).
const MAX_LOG: usize = 5;
const MAX_OUTPUT: usize = 500;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// A container's healthcheck, as inspect shows it (`Config.Healthcheck`):
/// durations in nanoseconds; `Test` is `["CMD", args…]` or
/// `["CMD-SHELL", "command"]`. An interval of 0 means no schedule
/// (`--health-interval disable`): only `healthcheck run` runs it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct HealthConfig {
    #[serde(rename = "Test")]
    pub test: Vec<String>,
    #[serde(rename = "StartPeriod", default)]
    pub start_period: i64,
    #[serde(rename = "Interval", default)]
    pub interval: i64,
    #[serde(rename = "Timeout", default)]
    pub timeout: i64,
    #[serde(rename = "Retries", default)]
    pub retries: u32,
}

/// What `--health-on-failure` does once the container is unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    #[default]
    None,
    Kill,
    Restart,
    Stop,
}

impl OnFailure {
    pub fn parse(s: &str) -> Result<OnFailure> {
        Ok(match s {
            "" | "none" => OnFailure::None,
            "kill" => OnFailure::Kill,
            "restart" => OnFailure::Restart,
            "stop" => OnFailure::Stop,
            _ => bail!("invalid on-failure action \"{s}\" for health check: supported actions are none, kill, restart and stop"),
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            OnFailure::None => "none",
            OnFailure::Kill => "kill",
            OnFailure::Restart => "restart",
            OnFailure::Stop => "stop",
        }
    }
}

/// The `--health-*` flags as given (None: not given).
#[derive(Debug, Clone, Default)]
pub struct HealthFlags {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
    pub timeout: Option<String>,
    pub no_healthcheck: bool,
    pub on_failure: Option<String>,
}

fn duration(flag: &str, s: &str) -> Result<Duration> {
    crate::time::parse_go_duration(s)
        .with_context(|| format!("invalid {flag} {s:?}: use a duration such as 30s or 1m30s"))
}

/// podman's reading of `--health-cmd`: a JSON array is the exec form
/// (`["CMD", …]`, `["CMD-SHELL", "…"]`, or bare arguments that become
/// `CMD`), `CMD a b` is split into words, anything else is `CMD-SHELL`;
/// `none` removes the check (None).
pub fn parse_test(s: &str) -> Result<Option<Vec<String>>> {
    let (mut arr, is_arr) = match serde_json::from_str::<Vec<String>>(s) {
        Ok(a) => (a, true),
        Err(_) => (s.splitn(2, ' ').map(String::from).collect(), false),
    };
    if arr.is_empty() || arr[0].is_empty() {
        bail!("must define a healthcheck command for all healthchecks");
    }
    if arr[0] == "CMD" || arr[0].eq_ignore_ascii_case("none") {
        if !is_arr {
            arr = s.split_whitespace().map(String::from).collect();
        }
    } else if arr[0] != "CMD-SHELL" {
        arr = if is_arr && arr.len() > 1 {
            std::iter::once("CMD".to_string()).chain(arr).collect()
        } else {
            vec!["CMD-SHELL".to_string(), arr.join(" ")]
        };
    }
    if arr[0].eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if arr.len() < 2 || arr[1].is_empty() {
        bail!("must define a healthcheck command for all healthchecks");
    }
    Ok(Some(arr))
}

/// The image config's `config.Healthcheck` (Docker's extension of the OCI
/// config), if it defines a check; `["NONE"]` defines none.
pub fn from_image_config(raw: &[u8]) -> Option<HealthConfig> {
    let v: serde_json::Value = serde_json::from_slice(raw).ok()?;
    let hc = v.get("config")?.get("Healthcheck")?;
    let test: Vec<String> = serde_json::from_value(hc.get("Test")?.clone()).ok()?;
    if test.is_empty() || test[0] == "NONE" || test.len() < 2 {
        return None;
    }
    let num = |k: &str| hc.get(k).and_then(|n| n.as_i64()).unwrap_or(0);
    Some(HealthConfig {
        test,
        interval: num("Interval"),
        timeout: num("Timeout"),
        start_period: num("StartPeriod"),
        retries: num("Retries").clamp(0, u32::MAX as i64) as u32,
    })
}

/// The container's check from its flags and its image's, with podman's
/// defaults and checks: `--no-healthcheck` and `--health-cmd none` remove
/// it; the other flags change the image's check, or need `--health-cmd`.
pub fn resolve(f: &HealthFlags, image: Option<HealthConfig>) -> Result<Option<HealthConfig>> {
    let tuning = f.interval.is_some()
        || f.retries.is_some()
        || f.start_period.is_some()
        || f.timeout.is_some()
        || f.on_failure.is_some();
    if f.no_healthcheck {
        if f.cmd.is_some() || tuning {
            bail!("cannot specify both --no-healthcheck and other HealthCheck flags");
        }
        return Ok(None);
    }
    if let Some(a) = &f.on_failure {
        OnFailure::parse(a)?;
    }
    let mut hc = match &f.cmd {
        Some(c) => match parse_test(c)? {
            Some(test) => HealthConfig {
                test,
                ..Default::default()
            },
            None => return Ok(None),
        },
        None => match image {
            Some(h) => h,
            None if tuning => {
                bail!("healthcheck flags need a --health-cmd (or an image that defines a HEALTHCHECK)")
            }
            None => return Ok(None),
        },
    };
    if let Some(s) = &f.interval {
        hc.interval = if s == "disable" {
            0
        } else {
            let d = duration("--health-interval", s)?;
            if d < Duration::from_secs(1) {
                bail!("healthcheck-interval must be at least 1 second");
            }
            d.as_nanos() as i64
        };
    } else if hc.interval == 0 && f.cmd.is_some() {
        hc.interval = DEFAULT_INTERVAL.as_nanos() as i64;
    }
    if let Some(r) = f.retries {
        if r < 1 {
            bail!("healthcheck-retries must be greater than 0");
        }
        hc.retries = r;
    }
    if let Some(s) = &f.timeout {
        let d = duration("--health-timeout", s)?;
        if d < Duration::from_secs(1) {
            bail!("healthcheck-timeout must be at least 1 second");
        }
        hc.timeout = d.as_nanos() as i64;
    }
    if let Some(s) = &f.start_period {
        hc.start_period = duration("--health-start-period", s)?.as_nanos() as i64;
    }
    // An image's zero values are Docker's "default".
    if hc.interval == 0 && f.interval.is_none() {
        hc.interval = DEFAULT_INTERVAL.as_nanos() as i64;
    }
    if hc.timeout == 0 {
        hc.timeout = DEFAULT_TIMEOUT.as_nanos() as i64;
    }
    if hc.retries == 0 {
        hc.retries = DEFAULT_RETRIES;
    }
    Ok(Some(hc))
}

/// One run, as inspect shows it (`State.Health.Log`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct HealthLog {
    #[serde(rename = "Start")]
    pub start: String,
    #[serde(rename = "End")]
    pub end: String,
    #[serde(rename = "ExitCode")]
    pub exit_code: i32,
    #[serde(rename = "Output")]
    pub output: String,
}

/// `State.Health` (and podman 4.3's `State.Healthcheck`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct HealthState {
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "FailingStreak")]
    pub failing_streak: u32,
    #[serde(rename = "Log")]
    pub log: Vec<HealthLog>,
}

fn state_path(paths: &Paths, id: &str) -> std::path::PathBuf {
    paths.ctr_dir(id).join("health.json")
}

/// The recorded health (None: no run and no start recorded yet).
pub fn load(paths: &Paths, id: &str) -> Option<HealthState> {
    let b = std::fs::read(state_path(paths, id)).ok()?;
    serde_json::from_slice(&b).ok()
}

fn save(paths: &Paths, id: &str, h: &HealthState) -> Result<()> {
    crate::storage::write_atomic_volatile(&state_path(paths, id), &serde_json::to_vec(h)?)
}

/// Serialises the read-modify-write of `health.json` (a scheduled run and
/// a `healthcheck run` may end together); never held while a check runs.
fn lock(paths: &Paths, id: &str) -> Result<crate::storage::Lock> {
    crate::storage::Lock::exclusive(&paths.ctr_dir(id).join("health.lock"))
}

/// The status `ps` and inspect show for a running container with a check.
pub fn status(paths: &Paths, rec: &ContainerRecord) -> Option<String> {
    rec.healthcheck.as_ref()?;
    Some(
        load(paths, &rec.id)
            .map(|h| h.status)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| STARTING.to_string()),
    )
}

/// A (re)start: "starting" again, the streak cleared, the log kept. Called
/// by the monitor before it records the container as running.
pub fn on_start(paths: &Paths, rec: &ContainerRecord) {
    if rec.healthcheck.is_none() {
        return;
    }
    let Ok(_l) = lock(paths, &rec.id) else { return };
    let mut h = load(paths, &rec.id).unwrap_or_default();
    h.status = STARTING.into();
    h.failing_streak = 0;
    if let Err(e) = save(paths, &rec.id, &h) {
        eprintln!("health: recording the start: {e:#}");
    }
}

/// Fold one run into the health (podman's updateHealthCheckLog).
fn apply(h: &mut HealthState, run: HealthLog, retries: u32, in_start_period: bool) {
    if run.exit_code == 0 {
        h.status = HEALTHY.into();
        h.failing_streak = 0;
    } else {
        if h.status.is_empty() {
            h.status = HEALTHY.into();
        }
        if !in_start_period {
            h.failing_streak += 1;
            if h.failing_streak >= retries {
                h.status = UNHEALTHY.into();
            }
        }
    }
    h.log.push(run);
    if h.log.len() > MAX_LOG {
        let drop = h.log.len() - MAX_LOG;
        h.log.drain(..drop);
    }
}

/// What one check said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The command exited 0 within the timeout.
    pub passed: bool,
    /// The container's health after it: starting, healthy or unhealthy.
    pub status: String,
    /// This run turned a starting container healthy.
    pub became_healthy: bool,
}

/// The command line a check runs in the container.
fn argv(test: &[String]) -> Result<Vec<String>> {
    match test.first().map(String::as_str) {
        Some("CMD-SHELL") if test.len() == 2 => {
            Ok(vec!["/bin/sh".into(), "-c".into(), test[1].clone()])
        }
        Some("CMD") if test.len() > 1 => Ok(test[1..].to_vec()),
        // An image may carry a bare command (no CMD keyword).
        Some(c) if c != "CMD" && c != "CMD-SHELL" && c != "NONE" => Ok(test.to_vec()),
        _ => bail!("invalid healthcheck command {test:?}"),
    }
}

/// Run the check's command in the container: its exit code (None: it did
/// not end within the timeout and was killed) and its output (stdout and
/// stderr together, at most [`MAX_OUTPUT`] bytes kept).
fn exec_check(
    paths: &Paths,
    id: &str,
    test: &[String],
    timeout: Duration,
) -> Result<(Option<i32>, String)> {
    let mut p = super::exec::container_process(paths, id)?;
    p.set_args(Some(argv(test)?));
    p.set_terminal(Some(false));
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
    let stdio = Stdio {
        stdin: Some(std::fs::File::open("/dev/null")?.into()),
        stdout: Some(w.try_clone().context("duplicating a pipe")?),
        stderr: Some(w),
    };
    let state_root = paths.run_dir(id).join("runtime");
    let pid = crate::runtime::exec(&state_root, id, &p, stdio, Console::None, false)?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut reader = std::fs::File::from(r);
    nix::fcntl::fcntl(
        reader.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .context("setting the pipe non-blocking")?;
    let mut code = None;
    let mut eof = false;
    let mut buf = [0u8; 4096];
    loop {
        if code.is_none() {
            match nix::sys::wait::waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, c)) => code = Some(c),
                Ok(WaitStatus::Signaled(_, s, _)) => code = Some(128 + s as i32),
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("waiting for the healthcheck"),
            }
        }
        if !eof {
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        if out.len() < MAX_OUTPUT {
                            out.extend_from_slice(&buf[..n.min(MAX_OUTPUT - out.len())]);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        eof = true;
                        break;
                    }
                }
            }
        }
        // A background child of the check may hold the pipe: the exit counts.
        if code.is_some() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
            return Ok((None, String::from_utf8_lossy(&out).into_owned()));
        }
        let mut fds = [nix::poll::PollFd::new(
            reader.as_fd(),
            if eof {
                nix::poll::PollFlags::empty()
            } else {
                nix::poll::PollFlags::POLLIN
            },
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20u16));
    }
    Ok((code, String::from_utf8_lossy(&out).into_owned()))
}

/// Run a container's healthcheck once and record it (`healthcheck run`, and
/// each scheduled run): the log, the status, the `health_status` event and,
/// once unhealthy, the `--health-on-failure` action.
pub fn run(opts: &crate::options::Options, paths: &Paths, name: &str) -> Result<Outcome> {
    // The exec helper joins the container: it must not run the rpod binary
    // itself (CVE-2019-5736). Nothing is done yet, so re-executing is safe.
    crate::sys::exe::reexec_sealed().context("re-executing rpod from a sealed copy of itself")?;
    let id = record::resolve(paths, name)?;
    let rec = record::load(paths, &id)?;
    let Some(hc) = rec.healthcheck.clone() else {
        bail!("container {id} has no defined healthcheck");
    };
    let st = record::observe(paths, &id);
    if !st.is_running() || st.is_paused() {
        return Err(crate::error::Error::ContainerState(format!(
            "container {} is not running",
            rec.name
        ))
        .into());
    }
    let timeout = Duration::from_nanos(hc.timeout.max(1_000_000_000) as u64);
    let start = crate::time::now_ns();
    let (code, mut output) = match exec_check(paths, &id, &hc.test, timeout) {
        Ok(r) => r,
        // A command that cannot run fails the check (podman: exit 1).
        Err(e) => (Some(1), format!("{e:#}")),
    };
    let end = crate::time::now_ns();
    let exit_code = match code {
        Some(0) => 0,
        Some(_) => 1,
        None => {
            output = format!(
                "healthcheck command exceeded timeout of {}",
                crate::time::go_duration(hc.timeout as u64)
            );
            -1
        }
    };
    let in_start_period = hc.start_period > 0 && start < st.started_at + hc.start_period;
    let (h, was) = {
        let _l = lock(paths, &id)?;
        let mut h = load(paths, &id).unwrap_or_default();
        if h.status.is_empty() {
            h.status = STARTING.into();
        }
        let was = h.status.clone();
        apply(
            &mut h,
            HealthLog {
                start: crate::time::rfc3339_nano(start),
                end: crate::time::rfc3339_nano(end),
                exit_code,
                output,
            },
            hc.retries.max(1),
            in_start_period,
        );
        if record::exists(paths, &id) {
            save(paths, &id, &h)?;
        }
        (h, was)
    };

    crate::events::emit(
        &paths.runroot,
        &crate::events::Event {
            health_status: h.status.as_str().into(),
            ..crate::events::Event::container("health_status", &rec)
        },
    );
    if h.status == UNHEALTHY {
        if let Err(e) = on_failure(opts, paths, &rec) {
            eprintln!("health: container {}: {e:#}", rec.name);
        }
    }
    Ok(Outcome {
        passed: exit_code == 0,
        became_healthy: was == STARTING && h.status == HEALTHY,
        status: h.status,
    })
}

/// `--sdnotify=healthy`: READY=1 (with the monitor as MAINPID) on the
/// monitor's NOTIFY_SOCKET once the check after a start first passes. Only
/// a scheduled run (a child of the monitor, with its environment) sends it;
/// a `healthcheck run` by the user sends nothing.
fn notify_healthy(rec: &ContainerRecord, st: &record::State) {
    if rec.sdnotify != "healthy" {
        return;
    }
    let Some(sock) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let msg = format!("MAINPID={}\nREADY=1\n", st.monitor_pid);
    if let Err(e) = crate::monitor::sd_notify(&sock, msg.as_bytes()) {
        eprintln!("health: notifying {}: {e}", sock.to_string_lossy());
    }
}

/// `--health-on-failure`: what an unhealthy container gets.
fn on_failure(opts: &crate::options::Options, paths: &Paths, rec: &ContainerRecord) -> Result<()> {
    let action = OnFailure::parse(&rec.health_on_failure)?;
    let sel = || super::ops::Selection {
        names: vec![rec.id.clone()],
        ..Default::default()
    };
    let first_err = |o: super::ops::Outcomes| o.into_iter().find_map(|r| r.err());
    match action {
        OnFailure::None => Ok(()),
        OnFailure::Kill => {
            // Not a kill by the user: a restart policy still applies.
            let st = record::load_state(paths, &rec.id);
            crate::events::container(&paths.runroot, "kill", rec);
            super::lifecycle::signal(&st, libc::SIGKILL).map(|_| ())
        }
        OnFailure::Stop => match first_err(super::ops::stop(paths, &sel(), Default::default())?) {
            Some(e) => Err(e),
            None => Ok(()),
        },
        OnFailure::Restart => {
            // ops::restart writes the "restart" event first, as podman's
            // RestartWithTimeout does.
            match first_err(super::ops::restart(
                opts,
                paths,
                &sel(),
                Default::default(),
            )?) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
    }
}

/// The name of the process the monitor starts for a scheduled run.
pub const SCHEDULED_ARG: &str = crate::monitor::event_loop::HEALTHCHECK_ARG;

/// `rpod __healthcheck root=R runroot=RR id=ID`: one scheduled run, started
/// by the container's monitor (checked before clap, as the monitor loop
/// is: it runs every interval). Nothing on stdout; errors to the
/// monitor's log.
pub fn scheduled_from_argv() -> Option<Result<()>> {
    let mut args = std::env::args();
    args.next();
    if args.next()? != SCHEDULED_ARG {
        return None;
    }
    let kv: Vec<(String, String)> = args
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .with_context(|| format!("{SCHEDULED_ARG}: missing {k}="))
    };
    Some((|| {
        // The monitor's loop blocks SIGCHLD (for its signalfd); the mask is
        // inherited, and waiting for the check needs none of it blocked.
        let mut mask = nix::sys::signal::SigSet::empty();
        mask.add(nix::sys::signal::Signal::SIGCHLD);
        let _ = mask.thread_unblock();
        let paths = Paths {
            root: get("root")?.into(),
            runroot: get("runroot")?.into(),
        };
        let opts = crate::options::Options {
            log_level: "warn".into(),
            root: Some(paths.root.clone()),
            runroot: Some(paths.runroot.clone()),
            ..Default::default()
        };
        let id = get("id")?;
        // The container may have stopped since the monitor decided.
        let st = record::load_state(&paths, &id);
        if !st.is_running() || st.is_paused() {
            return Ok(());
        }
        let o = run(&opts, &paths, &id)?;
        if o.became_healthy {
            if let Ok(rec) = record::load(&paths, &id) {
                notify_healthy(&rec, &record::load_state(&paths, &id));
            }
        }
        Ok(())
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn health_cmd_forms() {
        assert_eq!(
            parse_test("curl -f x").unwrap(),
            t(&["CMD-SHELL", "curl -f x"])
        );
        assert_eq!(parse_test("true").unwrap(), t(&["CMD-SHELL", "true"]));
        assert_eq!(parse_test("CMD ls /").unwrap(), t(&["CMD", "ls", "/"]));
        assert_eq!(parse_test(r#"["ls","/"]"#).unwrap(), t(&["CMD", "ls", "/"]));
        assert_eq!(
            parse_test(r#"["CMD-SHELL","exit 1"]"#).unwrap(),
            t(&["CMD-SHELL", "exit 1"])
        );
        assert_eq!(parse_test("none").unwrap(), None);
        assert_eq!(parse_test("NONE").unwrap(), None);
        assert!(parse_test("").is_err());
        assert!(parse_test("[]").is_err());
    }

    #[test]
    fn flags_defaults_and_checks() {
        let f = HealthFlags {
            cmd: Some("true".into()),
            ..Default::default()
        };
        let h = resolve(&f, None).unwrap().unwrap();
        assert_eq!(h.interval, 30_000_000_000);
        assert_eq!(h.timeout, 30_000_000_000);
        assert_eq!(h.retries, 3);
        assert_eq!(h.start_period, 0);
        let e = |f: HealthFlags| resolve(&f, None).unwrap_err().to_string();
        assert!(e(HealthFlags {
            interval: Some("500ms".into()),
            ..f.clone()
        })
        .contains("at least 1 second"));
        assert!(e(HealthFlags {
            retries: Some(0),
            ..f.clone()
        })
        .contains("greater than 0"));
        assert!(e(HealthFlags {
            no_healthcheck: true,
            ..f.clone()
        })
        .contains("--no-healthcheck"));
        assert!(e(HealthFlags {
            on_failure: Some("explode".into()),
            ..f.clone()
        })
        .contains("invalid on-failure action"));
        let d = resolve(
            &HealthFlags {
                interval: Some("disable".into()),
                ..f.clone()
            },
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.interval, 0);
        // The image's check, tuned by flags; removed by --no-healthcheck.
        let img = from_image_config(
            br#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000}}}"#,
        );
        assert_eq!(img.as_ref().unwrap().interval, 5_000_000_000);
        let h = resolve(
            &HealthFlags {
                retries: Some(7),
                ..Default::default()
            },
            img.clone(),
        )
        .unwrap()
        .unwrap();
        assert_eq!((h.interval, h.retries), (5_000_000_000, 7));
        let none = HealthFlags {
            no_healthcheck: true,
            ..Default::default()
        };
        assert_eq!(resolve(&none, img).unwrap(), None);
        assert_eq!(
            from_image_config(br#"{"config":{"Healthcheck":{"Test":["NONE"]}}}"#),
            None
        );
        assert_eq!(resolve(&HealthFlags::default(), None).unwrap(), None);
    }

    #[test]
    fn streak_and_status_follow_podman() {
        let run = |code| HealthLog {
            exit_code: code,
            ..Default::default()
        };
        let mut h = HealthState {
            status: STARTING.into(),
            ..Default::default()
        };
        apply(&mut h, run(1), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        apply(&mut h, run(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 1));
        apply(&mut h, run(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (UNHEALTHY, 2));
        apply(&mut h, run(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (HEALTHY, 0));
        for _ in 0..10 {
            apply(&mut h, run(0), 2, false);
        }
        assert_eq!(h.log.len(), MAX_LOG);
    }

    #[test]
    fn argv_forms() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            argv(&v(&["CMD-SHELL", "exit 1"])).unwrap(),
            v(&["/bin/sh", "-c", "exit 1"])
        );
        assert_eq!(argv(&v(&["CMD", "true"])).unwrap(), v(&["true"]));
        assert!(argv(&v(&["CMD"])).is_err());
    }
}
