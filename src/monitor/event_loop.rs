//! The monitor's event loop: container output to the log and the attach
//! clients, client input to the container, resizes and signals, and the
//! init's exit status. It depends on nothing but the log writer, the attach
//! protocol and a few syscall wrappers, so that the small `rpod-monitor`
//! binary (src/bin/rpod-monitor.rs) can carry it without the rest of rpod.
//!
//! It is the server side of attach, not a terminal session: many clients,
//! a log, output held for the first client, the container's exit. So it
//! has its own poll loop and shares only the fd pieces of `sys::pump`
//! (`read_chunk`, `write_all`) with the client side (`container::attach`).

use super::attach;
use super::logfile::{LogWriter, Stream};
use crate::sys::{pidfd, pump};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

pub struct Loop {
    /// The container's init (our child) and its start time.
    pub pid: i32,
    pub pid_start: u64,
    pub tty: bool,
    pub log: LogWriter,
    /// Non-tty: stdout and stderr pipes. Tty: the pty master as `out`.
    pub out: Option<OwnedFd>,
    pub err: Option<OwnedFd>,
    /// Where client input goes: the stdin pipe, or the pty master.
    pub stdin: Option<OwnedFd>,
    pub listener: OwnedFd,
    pub clients: Vec<OwnedFd>,
    /// Output is held for the first attach client until then.
    pub attach_deadline: Option<Instant>,
    /// The container's healthcheck schedule, if it has one.
    pub health: Option<HealthTimer>,
    /// `--timeout`: when the container is killed (its exit code is then -1,
    /// as conmon reports it).
    pub kill_at: Option<Instant>,
}

/// Runs `rpod __healthcheck` (see `container::health`) every interval:
/// rpod's replacement for podman's systemd timer. A run still going when
/// the next is due makes that one skip.
pub struct HealthTimer {
    pub every: Duration,
    pub next: Instant,
    /// The command: the rpod binary and its arguments.
    pub argv: Vec<String>,
    /// The run in progress (0: none).
    pub child: i32,
}

impl HealthTimer {
    /// A schedule for container `id` whose first run is one interval away;
    /// None for an interval of 0 (no schedule).
    pub fn new(
        rpod: &str,
        root: &str,
        runroot: &str,
        id: &str,
        every_ms: u64,
    ) -> Option<HealthTimer> {
        if every_ms == 0 {
            return None;
        }
        let every = Duration::from_millis(every_ms);
        Some(HealthTimer {
            every,
            next: Instant::now() + every,
            argv: vec![
                rpod.to_string(),
                HEALTHCHECK_ARG.to_string(),
                format!("root={root}"),
                format!("runroot={runroot}"),
                format!("id={id}"),
            ],
            child: 0,
        })
    }

    /// Start the run if it is due (and the last one is over).
    fn tick(&mut self) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next += self.every;
        if self.next <= now {
            self.next = now + self.every;
        }
        if self.child != 0 {
            return;
        }
        match std::process::Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .stdin(std::process::Stdio::null())
            .spawn()
        {
            // Reaped by `reap` (we are a subreaper), not by `Child`.
            Ok(c) => self.child = c.id() as i32,
            Err(e) => eprintln!("monitor: starting the healthcheck: {e}"),
        }
    }

    fn timeout_ms(&self) -> u64 {
        self.next
            .saturating_duration_since(Instant::now())
            .as_millis()
            .min(60_000) as u64
            + 1
    }
}

/// The first argument of a scheduled healthcheck run (`container::health`).
pub const HEALTHCHECK_ARG: &str = "__healthcheck";

impl Loop {
    /// Run until the container's init has exited and its output is
    /// drained (or held output was delivered); returns its exit code (128+N
    /// for signal N, -1 if unknown).
    pub fn run(&mut self) -> i32 {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        let _ = mask.thread_block();
        let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok();
        let mut exit_code: Option<i32> = None;
        let mut drain_deadline: Option<Instant> = None;
        let mut timed_out = false;
        let mut buf = vec![0u8; attach::MAX_PAYLOAD + 1];
        // A child may have exited before SIGCHLD was blocked.
        self.reap(&mut exit_code);
        loop {
            if self.attach_deadline.is_some_and(|d| Instant::now() > d) {
                self.attach_deadline = None;
            }
            let holding = self.attach_deadline.is_some();
            if exit_code.is_some() && !holding {
                let deadline =
                    *drain_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(2));
                if (self.out.is_none() && self.err.is_none()) || Instant::now() > deadline {
                    break;
                }
            }
            let read_out = self.out.is_some() && !holding;
            let read_err = self.err.is_some() && !holding;
            let timeout = if exit_code.is_some() || self.attach_deadline.is_some() {
                PollTimeout::from(100u16)
            } else if let Some(h) = &self.health {
                PollTimeout::from(h.timeout_ms() as u16)
            } else {
                PollTimeout::NONE
            };
            let timeout = match self.kill_at {
                Some(at) if exit_code.is_none() => {
                    let ms = at
                        .saturating_duration_since(Instant::now())
                        .as_millis()
                        .min(60_000) as u16
                        + 1;
                    if timeout == PollTimeout::NONE {
                        PollTimeout::from(ms)
                    } else {
                        timeout.min(PollTimeout::from(ms))
                    }
                }
                _ => timeout,
            };
            // Poll set order: signalfd, listener, out, err, clients.
            let (ev_sig, ev_listen, ev_out, ev_err, ev_clients) = {
                let mut fds: Vec<PollFd> = Vec::with_capacity(4 + self.clients.len());
                let none = PollFlags::empty();
                let rd = PollFlags::POLLIN;
                let sig_fd = sfd.as_ref().map(|s| s.as_fd());
                fds.push(PollFd::new(
                    sig_fd.unwrap_or(self.listener.as_fd()),
                    if sig_fd.is_some() { rd } else { none },
                ));
                fds.push(PollFd::new(self.listener.as_fd(), rd));
                fds.push(PollFd::new(
                    self.out
                        .as_ref()
                        .map(|f| f.as_fd())
                        .unwrap_or(self.listener.as_fd()),
                    if read_out { rd } else { none },
                ));
                fds.push(PollFd::new(
                    self.err
                        .as_ref()
                        .map(|f| f.as_fd())
                        .unwrap_or(self.listener.as_fd()),
                    if read_err { rd } else { none },
                ));
                for c in &self.clients {
                    fds.push(PollFd::new(c.as_fd(), rd));
                }
                match nix::poll::poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        eprintln!("monitor: poll: {e}");
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                }
                let ev = |f: &PollFd| f.revents().unwrap_or(PollFlags::empty());
                let hit = |f: PollFlags| {
                    !(f & (PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)).is_empty()
                };
                (
                    hit(ev(&fds[0])) && sfd.is_some(),
                    hit(ev(&fds[1])),
                    hit(ev(&fds[2])) && read_out,
                    hit(ev(&fds[3])) && read_err,
                    fds[4..].iter().map(|f| hit(ev(f))).collect::<Vec<bool>>(),
                )
            };
            if ev_sig {
                if let Some(s) = &sfd {
                    while let Ok(Some(_)) = s.read_signal() {}
                }
                self.reap(&mut exit_code);
            }
            if ev_out {
                self.pump(Stream::Stdout, &mut buf);
            }
            if ev_err {
                self.pump(Stream::Stderr, &mut buf);
            }
            // Clients before new connections: indices must match the poll set.
            for (i, hit) in ev_clients.iter().enumerate().rev() {
                if *hit {
                    self.client_input(i, &mut buf);
                }
            }
            if ev_listen {
                while let Some(fd) = attach::accept(&self.listener) {
                    self.clients.push(fd);
                    self.attach_deadline = None;
                }
            }
            if exit_code.is_none() {
                if let Some(h) = &mut self.health {
                    h.tick();
                }
            }
            if exit_code.is_none() && self.kill_at.is_some_and(|at| Instant::now() >= at) {
                self.kill_at = None;
                timed_out = true;
                if pidfd::is_same_process(self.pid, self.pid_start) {
                    let _ = nix::sys::signal::kill(Pid::from_raw(self.pid), Signal::SIGKILL);
                }
            }
        }
        if timed_out {
            return -1;
        }
        exit_code.unwrap_or(-1)
    }

    /// Reap every exited child (we are a subreaper); note the init's status.
    fn reap(&mut self, exit_code: &mut Option<i32>) {
        loop {
            match nix::sys::wait::waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == self.pid => {
                    *exit_code = Some(code)
                }
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == self.pid => {
                    *exit_code = Some(128 + sig as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(WaitStatus::Exited(pid, _)) | Ok(WaitStatus::Signaled(pid, _, _)) => {
                    if let Some(h) = &mut self.health {
                        if h.child == pid.as_raw() {
                            h.child = 0;
                        }
                    }
                }
                Ok(_) => {}
            }
        }
    }

    /// Move one chunk of container output to the log and the clients.
    fn pump(&mut self, stream: Stream, buf: &mut [u8]) {
        let slot = match stream {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        };
        let Some(fd) = slot.as_ref() else { return };
        match pump::read_chunk(fd.as_fd(), &mut buf[..attach::MAX_PAYLOAD]) {
            Ok(pump::Chunk::Eof) => *slot = None,
            Ok(pump::Chunk::Data(n)) => {
                let data = &buf[..n];
                if let Err(e) = self.log.write(stream, data) {
                    eprintln!("monitor: writing the log: {e}");
                }
                let kind = match stream {
                    Stream::Stdout => attach::STDOUT,
                    Stream::Stderr => attach::STDERR,
                };
                self.clients
                    .retain(|c| send_blocking(c, kind, data).is_ok());
            }
            Ok(pump::Chunk::Again) => {}
            Err(e) => {
                eprintln!("monitor: reading container {}: {e}", stream.name());
                *slot = None;
            }
        }
    }

    fn client_input(&mut self, i: usize, buf: &mut [u8]) {
        let n = match attach::recv(&self.clients[i], buf) {
            Ok(0) => {
                self.clients.swap_remove(i);
                return;
            }
            Ok(n) => n,
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => return,
            Err(_) => {
                self.clients.swap_remove(i);
                return;
            }
        };
        let payload = &buf[1..n];
        match buf[0] {
            attach::STDIN => {
                if let Some(fd) = &self.stdin {
                    if pump::write_all(fd, payload).is_err() {
                        self.stdin = None;
                    }
                }
            }
            // A pty stays open for other clients; a pipe gets its EOF.
            attach::STDIN_EOF if !self.tty => self.stdin = None,
            attach::RESIZE => {
                if let (Some((rows, cols)), true, Some(fd)) =
                    (attach::parse_resize(payload), self.tty, self.out.as_ref())
                {
                    let _ = crate::sys::tty::set_winsize(
                        fd.as_fd(),
                        crate::sys::tty::WinSize { rows, cols },
                    );
                }
            }
            attach::SIGNAL => {
                if let Some(sig) = attach::parse_i32(payload) {
                    if let Some(fd) = pidfd::open_verified(self.pid, self.pid_start) {
                        let _ = pidfd::pidfd_send_signal(&fd, sig);
                    }
                }
            }
            _ => {}
        }
    }
}

/// How an initialized container's wait for `start` ended ([`wait_for_start`]).
pub enum Waited {
    /// `start` asked on this connection (which hears `S<pid>` or the
    /// error); with `attach`, the output is held for an attach client.
    Start {
        conn: std::os::unix::net::UnixStream,
        attach: bool,
    },
    /// The init died before it was started (`stop`, `rm`, a kill -9): its
    /// status (128+N for signal N, -1 if unknown). It is reaped.
    Died(i32),
}

/// An initialized container's monitor: wait on the init socket `listener`
/// (at `sock`) for one line, `start` or `attach`, from `start` (which holds
/// the container's lock while it asks), or for the init (`pid`, started at
/// `pid_start`, our child) to die. Either way the listener is closed and
/// its socket file removed on return. Small enough for `rpod-monitor`.
pub fn wait_for_start(
    listener: std::os::unix::net::UnixListener,
    sock: &std::path::Path,
    pid: i32,
    pid_start: u64,
) -> Waited {
    use std::io::{BufRead, BufReader};
    let init = pidfd::open_verified(pid, pid_start);
    loop {
        let (conn_ready, init_gone) = {
            let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
            if let Some(fd) = &init {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    // Nothing can start it now: end it as a stop would.
                    eprintln!("monitor: waiting for start: {e}");
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                    break;
                }
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (
                ready(&fds[0]),
                init.is_none() || fds.get(1).is_some_and(ready),
            )
        };
        if init_gone {
            break;
        }
        if !conn_ready {
            continue;
        }
        let Ok((conn, _)) = listener.accept() else {
            continue;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let mut line = String::new();
        if BufReader::new(&conn).read_line(&mut line).is_err() {
            continue;
        }
        let attach = match line.trim_end() {
            "start" => false,
            "attach" => true,
            _ => continue,
        };
        drop(listener);
        let _ = std::fs::remove_file(sock);
        let _ = conn.set_read_timeout(None);
        return Waited::Start { conn, attach };
    }
    drop(listener);
    let _ = std::fs::remove_file(sock);
    let code = match nix::sys::wait::waitpid(Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, c)) => c,
        Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
        _ => -1,
    };
    Waited::Died(code)
}

/// Send on a non-blocking client socket, waiting up to 5 s for room: a
/// client that stops reading is dropped rather than stalling the container.
pub fn send_blocking(fd: &OwnedFd, kind: u8, payload: &[u8]) -> nix::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match attach::send(fd, kind, payload) {
            Err(nix::errno::Errno::EAGAIN) if Instant::now() < deadline => {
                let mut p = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
                let _ = nix::poll::poll(&mut p, PollTimeout::from(100u16));
            }
            Err(nix::errno::Errno::EINTR) => {}
            r => return r,
        }
    }
}

/// The `KEY=VALUE` arguments one monitor image passes the next.
pub struct Args<'a>(pub &'a [(String, String)]);

impl Args<'_> {
    pub fn get(&self, k: &str) -> anyhow::Result<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| anyhow::anyhow!("monitor: missing {k}="))
    }

    pub fn num(&self, k: &str) -> anyhow::Result<i64> {
        self.get(k)?
            .parse()
            .map_err(|_| anyhow::anyhow!("monitor: bad {k}="))
    }

    /// An fd passed by number (-1: none).
    pub fn fd(&self, k: &str) -> anyhow::Result<Option<OwnedFd>> {
        match self.num(k)? {
            n if n < 0 => Ok(None),
            n => crate::sys::netfd::inherited(n as i32)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("monitor: fd {k}={n}: {e}")),
        }
    }

    /// The attach clients handed over (`clients=5,6`).
    pub fn clients(&self) -> anyhow::Result<Vec<OwnedFd>> {
        let mut v = Vec::new();
        for n in self
            .get("clients")
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
        {
            let n: i32 = n
                .parse()
                .map_err(|_| anyhow::anyhow!("monitor: bad clients="))?;
            v.push(
                crate::sys::netfd::inherited(n)
                    .map_err(|e| anyhow::anyhow!("monitor: client fd {n}: {e}"))?,
            );
        }
        Ok(v)
    }

    /// The loop as the previous image left it.
    pub fn to_loop(&self, log_path: &std::path::Path) -> anyhow::Result<Loop> {
        // `log=`: `--log-opt path=` or /dev/null for `--log-driver none`.
        let log_path = self
            .get("log")
            .map(std::path::Path::new)
            .unwrap_or(log_path);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(|e| anyhow::anyhow!("opening {}: {e}", log_path.display()))?;
        let hold = self.num("hold_ms").unwrap_or(0);
        Ok(Loop {
            pid: self.num("pid")? as i32,
            pid_start: self.num("pid_start").unwrap_or(0) as u64,
            tty: self.num("tty").unwrap_or(0) == 1,
            log: LogWriter::with_max(log, self.num("log_max").unwrap_or(0).max(0) as u64)
                .at(log_path.to_path_buf()),
            out: self.fd("out")?,
            err: self.fd("err")?,
            stdin: self.fd("in")?,
            listener: self
                .fd("listen")?
                .ok_or_else(|| anyhow::anyhow!("monitor: no listener"))?,
            clients: Vec::new(),
            attach_deadline: (hold > 0)
                .then(|| Instant::now() + Duration::from_millis(hold as u64)),
            health: match (
                self.get("rpod"),
                self.get("root"),
                self.get("runroot"),
                self.get("id"),
            ) {
                (Ok(rpod), Ok(root), Ok(runroot), Ok(id)) => HealthTimer::new(
                    rpod,
                    root,
                    runroot,
                    id,
                    self.num("hc_ms").unwrap_or(0).max(0) as u64,
                ),
                _ => None,
            },
            kill_at: self
                .num("timeout_ms")
                .ok()
                .filter(|ms| *ms > 0)
                .map(|ms| Instant::now() + Duration::from_millis(ms as u64)),
        })
    }
}
