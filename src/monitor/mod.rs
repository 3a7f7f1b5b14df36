//! The per-container monitor: a small synchronous process (a re-exec of rpod,
//! `rpod __monitor ID`) that holds the container's stdio, writes its log,
//! serves the attach socket, records the exit code and cleans up. One per
//! container, detached in its own session, so the container outlives the
//! `rpod` command that started it.
//!
//! Its stdout is a sync pipe to the command that spawned it: one line,
//! `S<pid>` (started) or `E<code> <message>` (could not start; `code` is
//! the exit code `rpod run` should use). Its stderr goes to
//! `runroot/containers/<id>/monitor.log`.
//!
//! With `--attach` (foreground `run`, `start -a`) the container starts at
//! once, but its output stays in the pipe (or pty) until the first attach
//! client connects, so the client sees all of it; that saves the runtime's
//! create/start round trip.

pub mod attach;
pub mod event_loop;
pub mod logfile;
mod rt;

use crate::container::record::{self, ContainerRecord, Paths, State, Status};
use crate::options::Options;
use crate::sys::pidfd;
use crate::time;
use anyhow::{Context, Result};
use logfile::LogWriter;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the monitor is asked to do (its command line, `rpod __monitor ID
/// [--attach] [--size ROWSxCOLS]`, is the CLI's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorOptions {
    /// Container id
    pub id: String,
    /// Hold the container's output until the first attach client connects
    pub attach: bool,
    /// Initial terminal size ROWSxCOLS for -t
    pub size: Option<String>,
    /// A restart by the container's restart policy, asked for by the
    /// monitor of the run that finished at this time (epoch ns).
    pub restart_of: Option<i64>,
    /// `run --preserve-fds N`: our fds 3 .. 3+N (the spawner's) go to the
    /// container's process, and are closed here once it has them.
    pub preserve_fds: u32,
    /// `init`: set the container up (rootfs, network, the runtime's init)
    /// but wait for `start` (over [`INIT_SOCKET`]) before its program runs.
    pub init_only: bool,
}

/// The socket in the run dir where an initialized container's monitor
/// waits for `start`: one line, `start` or `attach` (hold the output for
/// an attach client), answered like the spawn pipe (`S<pid>` or `E…`).
pub const INIT_SOCKET: &str = "init.sock";

/// [`INIT_SOCKET`] as a path short enough for a sun_path, through `dir`,
/// an open fd of the run dir (as the attach socket is reached).
pub fn init_socket_addr(dir: &std::fs::File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{INIT_SOCKET}", dir.as_raw_fd()))
}

/// How long an `--attach` monitor holds output for its client.
const ATTACH_WAIT: Duration = Duration::from_secs(30);

pub fn main(g: &Options, a: MonitorOptions) -> Result<()> {
    // Our own session: no terminal signals, and we outlive the caller.
    let _ = nix::unistd::setsid();
    let paths = match Paths::new(g) {
        Ok(p) => p,
        Err(e) => {
            report_error(&e);
            return Err(e);
        }
    };
    // The container's lock is held from before we look at the state until
    // "running" (or the failure) is recorded: of racing starts, one makes
    // the container and the others find it running.
    let lock = match claim(&paths, &a.id, a.restart_of, a.init_only) {
        Ok(Claimed::Lock(l)) => l,
        Ok(Claimed::Running(pid)) => {
            report(&format!("R{pid}"));
            return Ok(());
        }
        Ok(Claimed::CalledOff) => {
            report("N");
            return Ok(());
        }
        Err(e) => {
            report_error(&e);
            return Err(e);
        }
    };
    let mut m = match Monitor::setup(g, &paths, &a) {
        Ok(m) => m,
        Err(e) => {
            setup_failed(&paths, &a.id, &e, a.restart_of.is_some());
            drop(lock);
            report_error(&e);
            return Err(e);
        }
    };
    if a.init_only {
        let listener = match m.initialized() {
            Ok(l) => l,
            Err(e) => {
                m.abort();
                setup_failed(&paths, &a.id, &e, false);
                drop(lock);
                report_error(&e);
                return Err(e);
            }
        };
        drop(lock);
        report(&format!("I{}", m.pid));
        m.wait_for_start(listener);
        return Ok(());
    }
    if let Err(e) = m.start(a.restart_of.is_some()) {
        m.abort();
        setup_failed(&paths, &a.id, &e, a.restart_of.is_some());
        drop(lock);
        report_error(&e);
        return Err(e);
    }
    m.write_pidfiles();
    // Released before the loop's exec (which keeps every fd open).
    drop(lock);
    report(&format!("S{}", m.pid));
    m.handoff();
    Ok(())
}

enum Claimed {
    Lock(crate::storage::Lock),
    /// Another monitor runs the container (its init's pid).
    Running(i32),
    /// A restart by the policy that no longer applies.
    CalledOff,
}

/// Take the container's lock (telling the spawner, `W<path>`, when we have
/// to wait for it) and decide whether there is anything to start.
fn claim(paths: &Paths, id: &str, restart_of: Option<i64>, init_only: bool) -> Result<Claimed> {
    let path = paths.ctr_dir(id).join("lock");
    let held = match crate::storage::Lock::try_exclusive(&path) {
        Ok(Some(l)) => Some(l),
        Ok(None) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "W{}", path.display());
            let _ = out.flush();
            None
        }
        Err(_) if !record::exists(paths, id) => return Err(record::no_such(id)),
        Err(e) => return Err(e),
    };
    let l = match held {
        Some(l) if record::exists(paths, id) => l,
        Some(_) => return Err(record::no_such(id)),
        None => record::lock_existing(paths, id)?,
    };
    let st = record::observe_locked(paths, id);
    if init_only && st.is_running() {
        // podman's text for `init` of a container set up already.
        return Err(crate::error::Error::ContainerState(format!(
            "container {id} has already been created in runtime"
        ))
        .into());
    }
    if st.is_running() {
        return Ok(Claimed::Running(st.pid));
    }
    // A restart is off when the user stopped or killed the container, or
    // started it again (a later run), since the exit that asked for it.
    if restart_of.is_some_and(|t| st.stopped_by_user || st.finished_at != t) {
        return Ok(Claimed::CalledOff);
    }
    Ok(Claimed::Lock(l))
}

/// The monitor's second image: `rpod __monitor-loop KEY=VALUE…`, exec'd by
/// the first once the container runs, so the long-lived process carries
/// none of the setup's memory (VmHWM is per image). Checked before clap:
/// parsing rpod's whole command line would cost more than the loop itself.
pub fn loop_from_argv() -> Option<Result<()>> {
    let mut args = std::env::args();
    args.next();
    let mode = args.next()?;
    if mode != LOOP_ARG && mode != FINISH_ARG && mode != START_ARG {
        return None;
    }
    let kv: Vec<(String, String)> = args
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let r = Monitor::resume(&kv).and_then(|mut m| {
        if mode == LOOP_ARG {
            m.run();
        } else if mode == START_ARG {
            // From rpod-monitor: `start` asked, on `conn=`. Nothing
            // inherited (the network helpers' pipes) goes to a hook the
            // start runs; the handoff after lets it all through again.
            set_cloexec_all();
            let a = event_loop::Args(&kv);
            let attach = a.num("attach")? == 1;
            let conn = a
                .fd("conn")?
                .ok_or_else(|| anyhow::anyhow!("monitor: no conn="))?;
            m.start_waiting(conn.into(), attach);
        } else {
            // From rpod-monitor: its loop is over; the clients wait for EXIT.
            let a = event_loop::Args(&kv);
            m.lp.clients = a.clients()?;
            m.finish(a.num("code")? as i32);
        }
        Ok(())
    });
    if let Err(e) = &r {
        eprintln!("monitor: {e:#}");
        // The `start` waiting on `conn=` (not taken yet) hears why.
        if mode == START_ARG {
            if let Ok(Some(fd)) = event_loop::Args(&kv).fd("conn") {
                let mut conn = std::os::unix::net::UnixStream::from(fd);
                let _ = writeln!(conn, "{}", crate::error::to_wire(e));
            }
        }
    }
    Some(r)
}

const LOOP_ARG: &str = "__monitor-loop";
/// rpod-monitor execs rpod back with this once the container has exited.
pub const FINISH_ARG: &str = "__monitor-finish";
/// rpod-monitor execs rpod back with this when an initialized container it
/// waits with is started (`conn=FD attach=0|1`).
pub const START_ARG: &str = "__monitor-start";

/// The small monitor binary beside `me` (or in ../libexec/rpod), if installed.
fn small_monitor(me: &std::path::Path) -> Option<std::path::PathBuf> {
    let dir = me.parent()?;
    [
        dir.join("rpod-monitor"),
        dir.join("../libexec/rpod/rpod-monitor"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Let every fd above stdio survive exec.
pub fn clear_cloexec() {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        );
    }
}

/// Tell the spawning command how it went, then let go of the pipe.
fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    drop(out);
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}

fn report_error(e: &anyhow::Error) {
    report(&crate::error::to_wire(e));
}

/// A failed start: the container stays "created" (it can be started again)
/// unless it was `--rm`, in which case it goes away before the caller hears;
/// a failed restart leaves it "exited" (with the error). The caller holds
/// the container's lock.
fn setup_failed(paths: &Paths, id: &str, e: &anyhow::Error, restart: bool) {
    eprintln!("monitor: {e:#}");
    let Ok(rec) = record::load(paths, id) else {
        return;
    };
    if rec.rm {
        if record::remove(paths, &rec).is_ok() {
            crate::events::container(&paths.runroot, "remove", &rec);
        }
        return;
    }
    let mut st = record::load_state(paths, id);
    st.status = if restart {
        Status::Exited
    } else {
        Status::Created
    };
    st.monitor_pid = 0;
    st.monitor_start = 0;
    st.pid = 0;
    st.error = format!("{e:#}");
    st.remove_on_success = false;
    let _ = record::save_state(paths, id, &st);
}

struct Monitor {
    paths: Paths,
    rec: ContainerRecord,
    run_dir: PathBuf,
    state_root: PathBuf,
    pid: i32,
    state: State,
    lp: event_loop::Loop,
    /// The global options this monitor was started with: a restart passes
    /// them on to the next monitor.
    opts: Options,
}

impl Monitor {
    fn setup(g: &Options, paths: &Paths, a: &MonitorOptions) -> Result<Monitor> {
        // network: --network container:X shares X's user namespace (no-op otherwise).
        crate::network::setup::join_shared_userns(paths, &a.id)?;
        crate::userns::enter()?;
        let rec = record::load(paths, &a.id)?;
        // network: a helper (slirp4netns, pasta) must be up before the
        // program starts; `init` waits for `start` in any case.
        let eager = !a.init_only && !rec.network.needs_helper();
        let ctr_dir = paths.ctr_dir(&rec.id);
        let run_dir = paths.run_dir(&rec.id);
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        let state_root = run_dir.join("runtime");

        // Mounts made here die with this namespace, even on kill -9.
        crate::userns::private_mount_ns()?;

        let store = crate::storage::Store::open(g)?;
        let mounted = match &rec.extras.rootfs {
            // --rootfs: the directory itself, or an overlay on it.
            Some(dir) => crate::rootfs::mount_dir(dir, &ctr_dir, rec.extras.rootfs_overlay)?,
            None => {
                let image = store.image_by_id(&rec.image_id)?.with_context(|| {
                    format!(
                        "image {} of container {} is no longer in local storage",
                        crate::storage::short_id(&rec.image_id),
                        rec.name
                    )
                })?;
                let _hold = store.hold_layers()?;
                crate::rootfs::mount(&store, &image, &ctr_dir, rec.storage_driver.as_deref())?
            }
        };
        crate::volume::prepare_mounts(&store, &rec, &mounted.merged)?;
        let mut state = record::load_state(paths, &rec.id);
        state.fuse_pid = mounted.fuse_pid.unwrap_or(0);
        state.fuse_start = mounted.fuse_pid.and_then(pidfd::start_time).unwrap_or(0);
        state.monitor_pid = std::process::id() as i32;
        state.monitor_start = pidfd::start_time(state.monitor_pid).unwrap_or(0);
        state.error.clear();

        let log_path = log_path(&rec, &ctr_dir);
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;

        let listener = attach::listen(&run_dir)?;
        nix::sys::prctl::set_child_subreaper(true).context("becoming a child subreaper")?;

        let devnull = || -> Result<OwnedFd> {
            Ok(std::fs::File::open("/dev/null")
                .context("opening /dev/null")?
                .into())
        };
        let (pid, out, err, stdin) = if rec.tty {
            let size = a.size.as_deref().and_then(parse_size);
            let ws = nix::pty::Winsize {
                ws_row: size.map(|s| s.0).unwrap_or(24),
                ws_col: size.map(|s| s.1).unwrap_or(80),
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // A connected pair, not a socket path: no fd of the run dir is
            // open when the runtime clones the init (CVE-2024-21626).
            let (ours, theirs) = std::os::unix::net::UnixStream::pair()
                .context("creating the console socket pair")?;
            let pid = rt::create(
                &rec.id,
                &ctr_dir,
                &state_root,
                rt::Io::Console(theirs),
                eager,
                a.preserve_fds,
            )?;
            let (master, _) = crate::sys::runtime::recv_fd(ours.as_fd())
                .context("receiving the container's terminal")?;
            nix::fcntl::fcntl(
                master.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )?;
            let _ = crate::sys::tty::set_winsize(
                master.as_fd(),
                crate::sys::tty::WinSize {
                    rows: ws.ws_row,
                    cols: ws.ws_col,
                },
            );
            let input = if rec.interactive {
                Some(master.try_clone()?)
            } else {
                None
            };
            (pid, Some(master), None, input)
        } else {
            let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            let (in_child, in_ours) = if rec.interactive {
                let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
                (r, Some(w))
            } else {
                (devnull()?, None)
            };
            let pid = rt::create(
                &rec.id,
                &ctr_dir,
                &state_root,
                rt::Io::Pipes {
                    stdin: in_child,
                    stdout: out_w,
                    stderr: err_w,
                },
                eager,
                a.preserve_fds,
            )?;
            (pid, Some(out_r), Some(err_r), in_ours)
        };
        // The container has its copies of the preserved fds: ours must not
        // outlive the setup (a pipe would never see EOF).
        for fd in 3..3 + a.preserve_fds as i32 {
            let _ = nix::unistd::close(fd);
        }
        state.pid = pid;
        state.pid_start = pidfd::start_time(pid).unwrap_or(0);
        let rec_tty = rec.tty;
        let timeout = u64::from(rec.extras.timeout);
        let log_max = rec.extras.log_max_size as u64;
        let health = event_loop::HealthTimer::new(
            &crate::sys::exe::real_exe().to_string_lossy(),
            &paths.root.to_string_lossy(),
            &paths.runroot.to_string_lossy(),
            &rec.id,
            health_interval_ms(&rec),
        );

        let mut m = Monitor {
            opts: g.clone(),
            paths: paths.clone(),
            rec,
            run_dir,
            state_root,
            pid,
            lp: event_loop::Loop {
                pid,
                pid_start: state.pid_start,
                tty: rec_tty,
                log: LogWriter::with_max(log_file, log_max).at(log_path.clone()),
                out,
                err,
                stdin,
                listener,
                clients: Vec::new(),
                attach_deadline: a.attach.then(|| Instant::now() + ATTACH_WAIT),
                health,
                kill_at: (timeout > 0).then(|| Instant::now() + Duration::from_secs(timeout)),
            },
            state,
        };
        // network: start the helper between create and start. The value is
        // kept (forgotten) for the monitor's lifetime: slirp4netns's exit pipe
        // closes when we die; release_helpers stops it from the recorded pid.
        match m.rec.network.setup(pid, &m.run_dir, &m.rec.ports) {
            Ok(Some(h)) => {
                m.state.net_helpers = h.pids();
                std::mem::forget(h);
            }
            Ok(None) => {}
            Err(e) => {
                m.abort();
                return Err(e);
            }
        }
        // network: user-defined networks through netavark (no-op otherwise).
        match crate::network::bridge::setup(&m.paths, &m.rec, pid, &m.run_dir) {
            Ok(Some(h)) => {
                // The port forwarder: kept like the helpers above.
                m.state.net_helpers.extend(h.pids());
                std::mem::forget(h);
            }
            Ok(None) => {}
            Err(e) => {
                m.abort();
                return Err(e);
            }
        }
        if !eager && !a.init_only {
            if let Err(e) = rt::start(&m.state_root, &m.rec.id) {
                m.abort();
                return Err(e);
            }
        }
        Ok(m)
    }

    /// Replace this process image with the loop: the small `rpod-monitor`
    /// binary when it is installed beside us (its memory is a fraction of
    /// rpod's), else rpod itself in `__monitor-loop` mode. Either keeps pid,
    /// children, namespaces and every fd (the network helpers' exit pipes
    /// included). If exec fails, run the loop here.
    fn handoff(&mut self) {
        use std::os::unix::process::CommandExt;
        // A container that is already done (`true`) needs no lean loop:
        // two execs would cost more than they save.
        if !pidfd::is_same_process(self.pid, self.lp.pid_start) {
            self.run();
            return;
        }
        self.keep_fds_for_exec();
        // The binary on disk (we may run from a sealed copy of it).
        let me = crate::sys::exe::real_exe();
        let mut cmd = match small_monitor(&me) {
            Some(small) => std::process::Command::new(small),
            None => {
                let mut c = std::process::Command::new("/proc/self/exe");
                c.arg(LOOP_ARG);
                c
            }
        };
        let hold_ms = self
            .lp
            .attach_deadline
            .map(|d| d.saturating_duration_since(Instant::now()).as_millis())
            .unwrap_or(0);
        cmd.args(self.loop_args(&me))
            .arg(format!("hold_ms={hold_ms}"));
        let err = cmd.exec();
        eprintln!(
            "monitor: exec of the monitor loop failed ({err}); running it in the setup image"
        );
        self.run();
    }

    /// Before an exec into the next image: every fd survives it (the
    /// network helpers' exit pipes included) but the log's, which the next
    /// image opens again.
    fn keep_fds_for_exec(&self) {
        clear_cloexec();
        let _ = nix::fcntl::fcntl(
            self.lp.log.as_fd().as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }

    /// What the loop image needs to rebuild this monitor (see [`resume`]).
    fn loop_args(&self, me: &std::path::Path) -> Vec<String> {
        let raw = |f: &Option<OwnedFd>| f.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
        vec![
            format!("rpod={}", me.display()),
            format!("root={}", self.paths.root.display()),
            format!("runroot={}", self.paths.runroot.display()),
            format!("id={}", self.rec.id),
            format!("pid={}", self.pid),
            format!("pid_start={}", self.lp.pid_start),
            format!("tty={}", self.lp.tty as u8),
            format!("out={}", raw(&self.lp.out)),
            format!("err={}", raw(&self.lp.err)),
            format!("in={}", raw(&self.lp.stdin)),
            format!("listen={}", self.lp.listener.as_raw_fd()),
            format!("hc_ms={}", health_interval_ms(&self.rec)),
            format!(
                "log={}",
                log_path(&self.rec, &self.paths.ctr_dir(&self.rec.id)).display()
            ),
            format!("log_max={}", self.rec.extras.log_max_size),
            format!(
                "timeout_ms={}",
                self.lp
                    .kill_at
                    .map(|d| d
                        .saturating_duration_since(Instant::now())
                        .as_millis()
                        .max(1))
                    .unwrap_or(0)
            ),
        ]
    }

    /// Rebuild the monitor in a new image from `KEY=VALUE` arguments.
    fn resume(kv: &[(String, String)]) -> Result<Monitor> {
        let args = event_loop::Args(kv);
        let paths = Paths {
            root: args.get("root")?.into(),
            runroot: args.get("runroot")?.into(),
        };
        let id = args.get("id")?;
        let rec = record::load(&paths, id)?;
        let state = record::load_state(&paths, id);
        let run_dir = paths.run_dir(id);
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let lp = args.to_loop(&log_path(&rec, &paths.ctr_dir(id)))?;
        Ok(Monitor {
            // The lean monitor's hand-over carries no global options: the
            // defaults, with the store's paths set where they are used.
            opts: Options::default(),
            state_root: run_dir.join("runtime"),
            run_dir,
            pid: lp.pid,
            state,
            lp,
            rec,
            paths,
        })
    }

    /// The loop and then the end: record, clean up, tell the clients.
    fn run(&mut self) {
        let code = self.lp.run();
        self.finish(code);
    }

    /// Record that the user's program runs: a restart by the policy counts
    /// one more restart; a start by the user begins the count again and
    /// lifts a stop by the user.
    fn start(&mut self, restart: bool) -> Result<()> {
        // `init` wrote its event already.
        let was_initialized = self.state.is_initialized();
        if restart {
            self.state.restart_count = self.state.restart_count.saturating_add(1);
        } else {
            self.state.restart_count = 0;
            self.state.restart_delay_ms = 0;
            self.state.stopped_by_user = false;
        }
        self.state.status = Status::Running;
        self.state.started_at = time::now_ns();
        self.state.finished_at = 0;
        self.state.exit_code = 0;
        crate::container::health::on_start(&self.paths, &self.rec);
        record::save_state(&self.paths, &self.rec.id, &self.state)?;
        if restart {
            // podman's handleRestartPolicy: "restart", then init and start.
            crate::events::container(&self.paths.runroot, "restart", &self.rec);
        }
        if !was_initialized {
            crate::events::container(&self.paths.runroot, "init", &self.rec);
        }
        crate::events::container(&self.paths.runroot, "start", &self.rec);
        self.notify_systemd();
        Ok(())
    }

    /// --pidfile and --conmon-pidfile: a failure is the monitor's to log,
    /// the container runs.
    fn write_pidfiles(&self) {
        for (f, pid) in [
            (&self.rec.extras.pidfile, self.pid),
            (&self.rec.extras.conmon_pidfile, std::process::id() as i32),
        ] {
            if let Some(f) = f {
                if let Err(e) = crate::storage::write_atomic(f, pid.to_string().as_bytes()) {
                    eprintln!("monitor: writing pid file {}: {e:#}", f.display());
                }
            }
        }
    }

    /// `init`: record the container as initialized (its runtime created,
    /// its program waiting) and listen for the `start` that runs it. The
    /// caller holds the container's lock.
    fn initialized(&mut self) -> Result<std::os::unix::net::UnixListener> {
        let sock = self.run_dir.join(INIT_SOCKET);
        let _ = std::fs::remove_file(&sock);
        let dir = std::fs::File::open(&self.run_dir)
            .with_context(|| format!("opening {}", self.run_dir.display()))?;
        let listener = std::os::unix::net::UnixListener::bind(init_socket_addr(&dir))
            .with_context(|| format!("listening on {}", sock.display()))?;
        self.state.status = Status::Initialized;
        self.state.started_at = 0;
        self.state.finished_at = 0;
        self.state.exit_code = 0;
        self.state.stopped_by_user = false;
        record::save_state(&self.paths, &self.rec.id, &self.state)?;
        crate::events::container(&self.paths.runroot, "init", &self.rec);
        // podman writes the pid file when the runtime creates the container.
        self.write_pidfiles();
        Ok(listener)
    }

    /// An initialized container's monitor: wait for `start` (which holds
    /// the container's lock while it asks) and then run the program as a
    /// start would; or for the init to die (`stop`, `rm`), and record that
    /// exit as any other. The waiting is done by the small `rpod-monitor`
    /// when it is installed (a waiting container then costs what a running
    /// one does), which execs rpod back for either end (`__monitor-start`,
    /// `__monitor-finish`); here otherwise, or if that exec fails.
    fn wait_for_start(&mut self, listener: std::os::unix::net::UnixListener) {
        use std::os::unix::process::CommandExt;
        let sock = self.run_dir.join(INIT_SOCKET);
        let me = crate::sys::exe::real_exe();
        if let Some(small) = small_monitor(&me) {
            self.keep_fds_for_exec();
            let err = std::process::Command::new(small)
                .args(self.loop_args(&me))
                .arg("hold_ms=0")
                .arg(format!("init_listen={}", listener.as_raw_fd()))
                .arg(format!("init_sock={}", sock.display()))
                .exec();
            eprintln!("monitor: exec of the small monitor failed ({err}); waiting for start here");
            set_cloexec_all();
        }
        match event_loop::wait_for_start(listener, &sock, self.pid, self.lp.pid_start) {
            event_loop::Waited::Start { conn, attach } => self.start_waiting(conn, attach),
            event_loop::Waited::Died(code) => self.finish(code),
        }
    }

    /// `start` of an initialized container, asked on `conn`: run its
    /// program, answer `S<pid>` (or the error, the container then back to
    /// "created"), and go on as a monitor that started it.
    fn start_waiting(&mut self, mut conn: std::os::unix::net::UnixStream, attach: bool) {
        if attach {
            self.lp.attach_deadline = Some(Instant::now() + ATTACH_WAIT);
        }
        let res = rt::start(&self.state_root, &self.rec.id).and_then(|()| self.start(false));
        if let Err(e) = res {
            self.abort();
            setup_failed(&self.paths, &self.rec.id, &e, false);
            let _ = writeln!(conn, "{}", crate::error::to_wire(&e));
            return;
        }
        self.write_pidfiles();
        let _ = writeln!(conn, "S{}", self.pid);
        drop(conn);
        self.handoff();
    }

    /// Undo a created-but-not-started container.
    fn abort(&mut self) {
        let _ = nix::sys::signal::kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(Pid::from_raw(self.pid), None);
        // network: netavark teardown, addresses freed (no-op without networks).
        crate::network::bridge::teardown(&self.paths, &self.rec.id, &self.run_dir);
        rt::delete(&self.state_root, &self.rec.id);
        self.release_rootfs();
    }

    fn notify_systemd(&self) {
        if self.rec.sdnotify == "ignore" {
            return;
        }
        let Some(sock) = std::env::var_os("NOTIFY_SOCKET") else {
            return;
        };
        // `healthy`: READY waits for the first healthy check (health.rs).
        let msg = if self.rec.sdnotify == "healthy" {
            format!("MAINPID={}\n", std::process::id())
        } else {
            format!("MAINPID={}\nREADY=1\n", std::process::id())
        };
        if let Err(e) = sd_notify(&sock, msg.as_bytes()) {
            eprintln!("monitor: notifying {}: {e}", sock.to_string_lossy());
        }
    }

    fn release_rootfs(&mut self) {
        let _ = crate::rootfs::unmount(&self.paths.ctr_dir(&self.rec.id));
        record::release_helpers(&mut self.state);
    }

    fn send_exit(&self, code: i32) {
        for c in &self.lp.clients {
            let _ = event_loop::send_blocking(c, attach::EXIT, &attach::i32_payload(code));
        }
    }

    fn finish(&mut self, code: i32) {
        self.lp.stdin = None;
        self.state.status = Status::Exited;
        self.state.exit_code = code;
        self.state.finished_at = time::now_ns();
        self.state.monitor_pid = 0;
        self.state.monitor_start = 0;
        // network: netavark teardown, addresses freed (no-op without
        // networks), once the client has heard the exit: its state is
        // taken now, before the run dir can go.
        let mut net =
            crate::network::bridge::Teardown::take(&self.paths, &self.rec.id, &self.run_dir);
        crate::events::died(&self.paths.runroot, &self.rec, code);
        // pod: a `--init-ctr once` container that `pod start` ran goes
        // once it succeeded; a failed one stays, and is run again next time.
        let once_done = self.state.remove_on_success && code == 0;
        self.state.remove_on_success = false;
        if self.rec.rm || once_done {
            // Gone from listings and its name free before the client hears
            // the exit; the files go after (the disk may be slow).
            record::release_helpers(&mut self.state);
            if let Err(e) = record::record_exit(&self.paths, &self.rec.id, code) {
                eprintln!("monitor: keeping the exit code for wait: {e:#}");
            }
            {
                let _l = record::lock(&self.paths, &self.rec.id);
                if let Err(e) = record::retire(&self.paths, &self.rec) {
                    eprintln!("monitor: removing the container: {e:#}");
                }
            }
            // Its anonymous volumes leave the listings before the exit is heard too.
            let volumes = crate::volume::retire_anonymous_of(&self.paths, &self.rec)
                .unwrap_or_else(|e| {
                    eprintln!("monitor: removing the container's anonymous volumes: {e:#}");
                    Vec::new()
                });
            crate::events::container(&self.paths.runroot, "remove", &self.rec);
            net.lock();
            self.send_exit(code);
            net.run();
            rt::delete(&self.state_root, &self.rec.id);
            // purge unmounts the rootfs at its new place.
            if let Err(e) = record::purge(&self.paths, &self.rec.id) {
                eprintln!("monitor: removing the container: {e:#}");
            }
            if let Err(e) = crate::volume::purge(volumes) {
                eprintln!("monitor: removing the container's anonymous volumes: {e:#}");
            }
        } else {
            // A restart must find the runtime state gone and the upper dir
            // unmounted before anyone hears of the exit.
            rt::delete(&self.state_root, &self.rec.id);
            self.release_rootfs();
            crate::events::container(&self.paths.runroot, "cleanup", &self.rec);
            let mut restart = None;
            {
                let _l = record::lock(&self.paths, &self.rec.id);
                if record::exists(&self.paths, &self.rec.id) {
                    // `stop` and `kill` mark the state under this lock.
                    let now = record::load_state(&self.paths, &self.rec.id);
                    self.state.stopped_by_user = now.stopped_by_user;
                    // `update --restart` may have changed the policy meanwhile.
                    if let Ok(r) = record::load(&self.paths, &self.rec.id) {
                        self.rec.restart_policy = r.restart_policy;
                        self.rec.restart_retries = r.restart_retries;
                    }
                    restart = self.restart_delay(code);
                    if restart.is_some() {
                        // inspect: "Restarting" while this monitor waits.
                        self.state.monitor_pid = std::process::id() as i32;
                        self.state.monitor_start =
                            pidfd::start_time(self.state.monitor_pid).unwrap_or(0);
                    }
                    if let Err(e) = record::save_state(&self.paths, &self.rec.id, &self.state) {
                        eprintln!("monitor: recording the exit code: {e:#}");
                        restart = None;
                    }
                }
            }
            let _ = std::fs::remove_file(self.run_dir.join(attach::SOCKET_NAME));
            net.lock();
            self.send_exit(code);
            if restart.is_some() {
                // network: keep the rootless network namespace for the
                // next monitor, however long the back-off.
                crate::network::rootless::hold(&self.paths, &format!("cmd-{}", std::process::id()));
            }
            net.run();
            if let Some(delay) = restart {
                // network: a slirp4netns still dying is reaped before the next run.
                crate::network::helper::reap_dying();
                self.restart_after(delay);
                return;
            }
        }
        // network: a portless slirp4netns still dying (its tap takes 15-25
        // ms) is not waited for: `stop` and `rm` wait for this process, and
        // nothing waits on that death (it holds no port). This process ends
        // now, so its new parent reaps it.
        // pod: --exit-policy stop ends the pod with its last container.
        crate::pod::after_member_exit(&self.paths, &self.rec);
    }
}

/// Where the container's log is written: `--log-opt path=`, /dev/null for
/// `--log-driver none`, else `ctr.log` in its directory.
pub fn log_path(rec: &ContainerRecord, ctr_dir: &std::path::Path) -> PathBuf {
    if rec.extras.log_driver == "none" {
        return PathBuf::from("/dev/null");
    }
    rec.extras
        .log_path
        .clone()
        .unwrap_or_else(|| ctr_dir.join("ctr.log"))
}

/// The first delay before a restart, its cap, and how long a run must last
/// for the delay to start again from the first (Docker's back-off; podman
/// 4.3 restarts at once, through `container cleanup`).
const RESTART_DELAY_FIRST_MS: u64 = 100;
const RESTART_DELAY_MAX_MS: u64 = 60_000;
const RESTART_RESET_NS: i64 = 10_000_000_000;

/// The delay before the next restart: the first, or twice the last while
/// runs keep ending within 10 s, up to a minute.
fn next_restart_delay(last_ms: u64, ran_ns: i64) -> u64 {
    if last_ms == 0 || ran_ns >= RESTART_RESET_NS {
        RESTART_DELAY_FIRST_MS
    } else {
        last_ms.saturating_mul(2).min(RESTART_DELAY_MAX_MS)
    }
}

impl Monitor {
    /// Whether the run that exited with `code` is restarted, and after how
    /// long (recorded in the state). The caller holds the container's lock.
    fn restart_delay(&mut self, code: i32) -> Option<Duration> {
        if self.state.stopped_by_user
            || !self.rec.restart().restarts(code, self.state.restart_count)
        {
            return None;
        }
        let ran = self.state.finished_at - self.state.started_at;
        self.state.restart_delay_ms = next_restart_delay(self.state.restart_delay_ms, ran);
        Some(Duration::from_millis(self.state.restart_delay_ms))
    }

    /// Wait out the back-off, then have a new monitor start the container
    /// the way `start` does (rootfs, network, runtime), unless the user
    /// stopped, started or removed it meanwhile. Meanwhile the state says
    /// "exited": killing this monitor leaves nothing that claims to run.
    fn restart_after(&mut self, delay: Duration) {
        // In slices: a container removed meanwhile (`rm -f`) lets this
        // monitor go at once, not after a back-off of up to a minute.
        let until = Instant::now() + delay;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if !record::exists(&self.paths, &self.rec.id) {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(200)));
        }
        let st = record::load_state(&self.paths, &self.rec.id);
        if !record::exists(&self.paths, &self.rec.id)
            || st.stopped_by_user
            || st.finished_at != self.state.finished_at
        {
            return;
        }
        // Nothing of this monitor (clients, listener, log) goes to the next.
        set_cloexec_all();
        self.lp.clients.clear();
        let g = Options {
            log_level: match log::max_level() {
                log::LevelFilter::Trace => "trace",
                log::LevelFilter::Debug => "debug",
                log::LevelFilter::Info => "info",
                log::LevelFilter::Error => "error",
                _ => "warn",
            }
            .to_string(),
            root: Some(self.paths.root.clone()),
            runroot: Some(self.paths.runroot.clone()),
            storage_driver: self.rec.storage_driver.clone(),
            ..self.opts.clone()
        };
        match crate::container::lifecycle::spawn_restart(
            &g,
            &self.paths,
            &self.rec,
            self.state.finished_at,
        ) {
            Ok(_) => {}
            Err(e) => eprintln!("monitor: restarting container {}: {e:#}", self.rec.name),
        }
    }
}

/// How often the monitor runs the container's healthcheck (0: never).
fn health_interval_ms(rec: &ContainerRecord) -> u64 {
    rec.healthcheck
        .as_ref()
        .map(|h| (h.interval.max(0) / 1_000_000) as u64)
        .unwrap_or(0)
}

/// Mark every fd above stdio close-on-exec.
fn set_cloexec_all() {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
    }
}

fn parse_size(s: &str) -> Option<(u16, u16)> {
    let (r, c) = s.split_once('x')?;
    Some((r.parse().ok()?, c.parse().ok()?))
}

/// Send a datagram to systemd's notify socket (a path, or `@abstract`).
pub fn sd_notify(sock: &std::ffi::OsStr, msg: &[u8]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let s = UnixDatagram::unbound()?;
    let bytes = sock.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        s.send_to_addr(msg, &SocketAddr::from_abstract_name(name)?)?;
    } else {
        s.send_to(msg, std::path::Path::new(sock))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_delay_doubles_and_resets() {
        assert_eq!(next_restart_delay(0, 0), 100);
        assert_eq!(next_restart_delay(100, 1_000), 200);
        assert_eq!(next_restart_delay(40_000, 1_000), 60_000);
        assert_eq!(next_restart_delay(60_000, 1_000), 60_000);
        assert_eq!(next_restart_delay(6_400, 11_000_000_000), 100);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("24x80"), Some((24, 80)));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn notify_reaches_a_datagram_socket() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("notify");
        let srv = std::os::unix::net::UnixDatagram::bind(&p).unwrap();
        sd_notify(p.as_os_str(), b"MAINPID=1\nREADY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = srv.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"MAINPID=1\nREADY=1\n");
    }
}
