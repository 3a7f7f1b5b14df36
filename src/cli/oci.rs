//! `rpod oci`: runc's command set on our in-process runtime, so rpod can
//! stand in for `runc` (also reached as `rpod-oci` or `runc` through a
//! symlink). Flags, output formats and exit codes follow runc 1.1: errors
//! exit 1, except 126/127 for a program that cannot be run or is missing.

use crate::container::opts::parse_signal;
use crate::error::Kind;
use crate::runtime::{self, Console, CreateOptions, Stdio};
use crate::sys::pump;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone, Default)]
pub struct OciGlobal {
    /// Write errors to this file too (as runc's --log)
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of --log lines: text or json
    #[arg(long, global = true, value_name = "FORMAT", default_value = "text",
          value_parser = ["text", "json"])]
    pub log_format: String,
    /// Debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for runc compatibility; rpod manages no systemd cgroups
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility: auto, true or false (rootless mode is detected)
    #[arg(long = "rootless", id = "oci_rootless", value_name = "MODE", value_parser = ["auto", "true", "false"])]
    pub rootless: Option<String>,
}

#[derive(Args, Debug)]
pub struct OciArgs {
    #[command(flatten)]
    pub global: OciGlobal,
    #[command(subcommand)]
    pub command: OciCommand,
}

/// For `argv[0]` dispatch (`rpod-oci`, `runc`).
#[derive(Parser, Debug)]
#[command(
    name = "rpod-oci",
    version,
    about = "An OCI runtime with runc's interface"
)]
pub struct OciCli {
    /// Directory for container state (default: $XDG_RUNTIME_DIR/rpod-oci, or /run/rpod-oci for root)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[command(flatten)]
    pub global: OciGlobal,
    #[command(subcommand)]
    pub command: OciCommand,
}

#[derive(Args, Debug, Clone)]
pub struct CreateFlags {
    /// Path to the bundle (default: the current directory)
    #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the pty master to (process.terminal)
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the init's pid to this file
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for a ramfs root)
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility (no session keyring is made)
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3 .. 3+N) to the container
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum OciCommand {
    /// Write a default config.json
    Spec {
        /// A spec for an unprivileged user (user namespace mapping your ids)
        #[arg(long)]
        rootless: bool,
        /// Bundle directory to write config.json into
        #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
    },
    /// Create a container, stopped before its program
    Create(CreateFlags),
    /// Run the program of a created container
    Start { id: String },
    /// Create and start a container, waiting for it unless -d
    Run {
        #[command(flatten)]
        flags: CreateFlags,
        /// Detach from the container
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the container's state after it exits
        #[arg(long)]
        keep: bool,
    },
    /// Print a container's state as JSON
    State { id: String },
    /// Send a signal (default SIGTERM) to a container's init
    Kill {
        /// Signal every process of the container
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container (running ones only with -f)
    Delete {
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// List containers
    List {
        /// table or json
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Only ids
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Show a container's processes
    Ps {
        /// table or json
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        id: String,
        /// Arguments for ps(1) in table format (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Run a process in a running container
    Exec(ExecFlags),
    /// Freeze a container's processes (needs a cgroup of its own)
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change a container's resource limits (needs a cgroup of its own)
    Update {
        /// Resources as JSON (runtime-spec linux.resources), "-" for stdin
        #[arg(short = 'r', long, value_name = "FILE")]
        resources: Option<PathBuf>,
        /// Memory limit in bytes
        #[arg(long)]
        memory: Option<i64>,
        /// Pids limit
        #[arg(long)]
        pids_limit: Option<i64>,
        id: String,
    },
    /// Show container events as JSON lines
    Events {
        /// Show stats once and exit
        #[arg(long)]
        stats: bool,
        /// Polling interval
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Checkpoint a running container (CRIU)
    Checkpoint {
        #[arg(long, value_name = "DIR")]
        image_path: Option<PathBuf>,
        id: String,
    },
    /// Restore a container from a checkpoint (CRIU)
    Restore {
        #[arg(long, value_name = "DIR")]
        image_path: Option<PathBuf>,
        #[arg(short = 'b', long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct ExecFlags {
    /// Allocate a pty
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Unix socket to send the pty master to
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Detach
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's pid to this file
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// The process as runtime-spec JSON (replaces the other flags)
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Set an environment variable
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Working directory in the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// uid[:gid]
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub caps: Vec<String>,
    /// Set no_new_privs
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass N extra fds
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `rpod-oci …` / `runc …` through a symlink, or `rpod oci …`: parsed here
/// without building all of rpod's command tree (a runtime's callers invoke
/// it for every container, so its start-up time counts).
pub fn dispatch_argv0() -> Option<Result<()>> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let name = Path::new(args.first()?).file_name()?.to_str()?.to_string();
    if name != "rpod-oci" && name != "runc" {
        if args.get(1).and_then(|a| a.to_str()) != Some("oci") {
            return None;
        }
        args.remove(0);
        args[0] = "rpod oci".into();
    }
    let cli = OciCli::parse_from(args);
    Some(main(
        cli.root,
        OciArgs {
            global: cli.global,
            command: cli.command,
        },
    ))
}

/// `rpod oci …`; `root` is the state dir (rpod's global `--root` in this
/// position means what runc's does).
pub fn main(root: Option<PathBuf>, a: OciArgs) -> Result<()> {
    if a.global.debug {
        super::logger::set_level("debug");
    }
    let root = root.unwrap_or_else(default_state_root);
    let res = dispatch(&root, a.command);
    if let Err(e) = &res {
        if let Some(log) = &a.global.log {
            log_error(log, &a.global.log_format, e);
        }
    }
    // runc exits 1 on its own errors: `exit::Convention::Runc`.
    res
}

fn log_error(path: &Path, format: &str, e: &anyhow::Error) {
    let time = runtime::state::rfc3339_nano(std::time::SystemTime::now());
    let line = if format == "json" {
        serde_json::json!({"level": "error", "msg": format!("{e:#}"), "time": time}).to_string()
    } else {
        format!(
            "time=\"{time}\" level=error msg=\"{}\"",
            format!("{e:#}").replace('"', "\\\"")
        )
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

fn default_state_root() -> PathBuf {
    // Rootless, including root inside a user namespace (podman runs its
    // runtime that way): the user's runtime dir, as runc does.
    if runtime::is_rootless() {
        match crate::xdg::runtime_dir() {
            Some(x) => return x.join("rpod-oci"),
            None => return PathBuf::from(format!("/tmp/rpod-oci-{}", nix::unistd::geteuid())),
        }
    }
    PathBuf::from("/run/rpod-oci")
}

fn dispatch(root: &Path, cmd: OciCommand) -> Result<()> {
    let root = root.to_path_buf();
    if matches!(
        cmd,
        OciCommand::Create(_) | OciCommand::Run { .. } | OciCommand::Exec(_)
    ) {
        // These put a clone of this process into a container: it must not
        // be running the rpod binary itself (CVE-2019-5736).
        // As real root, a read-only bind of the binary (no copy; runc's
        // way), in rpod's own state dir; else the sealed memfd copy.
        if runtime::is_rootless() {
            crate::sys::exe::reexec_sealed()
        } else {
            crate::sys::exe::reexec_bound(&root)
        }
        .context("re-executing rpod from a protected copy of itself")?;
    }
    match cmd {
        OciCommand::Spec { rootless, bundle } => spec_cmd(rootless, &bundle),
        OciCommand::Create(f) => {
            let stdio = Stdio::default();
            let console = console_socket(&f);
            runtime::create(create_opts(&f, &root, stdio, console))?;
            Ok(())
        }
        OciCommand::Start { id } => runtime::start(&root, &id),
        OciCommand::Run {
            flags,
            detach,
            keep,
        } => run_cmd(&root, flags, detach, keep),
        OciCommand::State { id } => {
            let st = runtime::state(&root, &id)?;
            out_json_pretty(&st)
        }
        OciCommand::Kill { all, id, signal } => {
            runtime::kill(&root, &id, parse_signal(&signal)?, all)
        }
        OciCommand::Delete { force, id } => delete_cmd(&root, &id, force),
        OciCommand::List { format, quiet } => list_cmd(&root, &format, quiet),
        OciCommand::Ps {
            format,
            id,
            ps_args,
        } => ps_cmd(&root, &id, &format, &ps_args),
        OciCommand::Exec(f) => exec_cmd(&root, f),
        OciCommand::Pause { id } => runtime::pause(&root, &id),
        OciCommand::Resume { id } => runtime::resume(&root, &id),
        OciCommand::Update {
            resources,
            memory,
            pids_limit,
            id,
        } => {
            let mut r: oci_spec::runtime::LinuxResources = match resources {
                Some(p) if p == Path::new("-") => serde_json::from_reader(std::io::stdin())
                    .context("parsing resources from stdin")?,
                Some(p) => serde_json::from_slice(
                    &std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                )
                .with_context(|| format!("parsing {}", p.display()))?,
                None => Default::default(),
            };
            if let Some(m) = memory {
                r.set_memory(Some(
                    oci_spec::runtime::LinuxMemoryBuilder::default()
                        .limit(m)
                        .build()?,
                ));
            }
            if let Some(p) = pids_limit {
                r.set_pids(Some(
                    oci_spec::runtime::LinuxPidsBuilder::default()
                        .limit(p)
                        .build()?,
                ));
            }
            runtime::update(&root, &id, &r)
        }
        OciCommand::Events { stats, id, .. } => events_cmd(&root, &id, stats),
        OciCommand::Checkpoint { id, .. } | OciCommand::Restore { id, .. } => criu_cmd(&root, &id),
    }
}

fn out_json_pretty<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

fn spec_cmd(rootless: bool, bundle: &Path) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let spec = runtime::spec::default_spec(rootless);
    let text = runtime::spec::to_json(&spec)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

fn console_socket(f: &CreateFlags) -> Console {
    match &f.console_socket {
        Some(p) => Console::Socket(p.clone()),
        None => Console::None,
    }
}

fn create_opts<'a>(
    f: &'a CreateFlags,
    root: &'a Path,
    stdio: Stdio,
    console: Console,
) -> CreateOptions<'a> {
    CreateOptions {
        id: &f.id,
        bundle: &f.bundle,
        state_root: root,
        stdio,
        console,
        pid_file: f.pid_file.as_deref(),
        no_pivot: f.no_pivot,
        preserve_fds: f.preserve_fds,
    }
}

/// A terminal for a foreground process when no console socket is given:
/// we hold the master and copy it to and from our own stdio.
struct Pty {
    master: OwnedFd,
}

/// A pty made in the container (so `tty` there names its own /dev/pts/N):
/// the console end for `create`, and how to collect the master afterwards.
fn container_pty() -> Result<(Console, std::os::unix::net::UnixStream)> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().context("socketpair")?;
    Ok((Console::Connected(theirs), ours))
}

fn receive_pty(sock: &std::os::unix::net::UnixStream) -> Result<Pty> {
    let (fd, _) = crate::sys::runtime::recv_fd(sock.as_fd()).context("receiving the pty master")?;
    if let Ok(ws) = crate::sys::tty::get_winsize(std::io::stdin().as_fd()) {
        let _ = crate::sys::tty::set_winsize(fd.as_fd(), ws);
    }
    Ok(Pty { master: fd })
}

/// Our child as the far side of the stdio pump: its pty (if it has one)
/// to and from our terminal, our signals passed on, until it exits.
struct Foreground<'a> {
    child: nix::unistd::Pid,
    pty: Option<pump::PtyMaster<'a>>,
}

impl pump::Peer for Foreground<'_> {
    type End = i32;

    fn output_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.pty.as_ref().and_then(|p| p.output_fd())
    }

    fn output(&mut self, buf: &mut [u8]) -> Result<Option<i32>> {
        if let Some(p) = &mut self.pty {
            // The child's exit ends the session, not the pty's.
            let _ = p.output(buf);
        }
        Ok(None)
    }

    fn input(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.pty {
            Some(p) => p.input(data),
            None => Ok(()),
        }
    }

    fn resize(&mut self, size: crate::sys::tty::WinSize) {
        if let Some(p) = &mut self.pty {
            p.resize(size);
        }
    }

    fn signal(&mut self, signal: nix::sys::signal::Signal) {
        if signal != nix::sys::signal::Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(self.child, signal);
        }
    }

    fn check(&mut self) -> Result<Option<i32>> {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let code = match waitpid(self.child, Some(WaitPidFlag::WNOHANG))? {
            WaitStatus::Exited(_, c) => c,
            WaitStatus::Signaled(_, s, _) => 128 + s as i32,
            _ => return Ok(None),
        };
        if let Some(p) = &self.pty {
            p.drain();
        }
        Ok(Some(code))
    }
}

/// Wait for our child `pid` and turn its end into an exit code
/// (128+N for a signal), forwarding the signals a user sends us.
fn wait_foreground(pid: i32, pty: Option<Pty>) -> Result<i32> {
    use nix::sys::signal::Signal;
    let s = pump::Session {
        stdin: pty.is_some(),
        raw: pty.is_some(),
        detach_keys: Vec::new(),
        // SIGCHLD wakes the loop up to reap the child.
        proxy: vec![
            Signal::SIGCHLD,
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
        ],
        tick: Some(std::time::Duration::from_secs(1)),
        buf_size: 8192,
        input_max: 0,
    };
    let mut fg = Foreground {
        child: nix::unistd::Pid::from_raw(pid),
        pty: pty
            .as_ref()
            .map(|p| pump::PtyMaster::new(p.master.as_fd(), false)),
    };
    match pump::run(&s, &mut fg)? {
        pump::Stop::Ended(code) => Ok(code),
        pump::Stop::Detached => unreachable!("no detach keys"),
    }
}

fn bundle_terminal(bundle: &Path) -> bool {
    runtime::load_bundle(bundle)
        .ok()
        .and_then(|(_, s, _)| s.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false)
}

fn run_cmd(root: &Path, f: CreateFlags, detach: bool, keep: bool) -> Result<()> {
    let mut pty_sock = None;
    let console = match console_socket(&f) {
        Console::None if !detach && bundle_terminal(&f.bundle) => {
            let (c, sock) = container_pty()?;
            pty_sock = Some(sock);
            c
        }
        c => c,
    };
    let pid = runtime::run(create_opts(&f, root, Stdio::default(), console))?;
    if detach {
        return Ok(());
    }
    let pty = pty_sock.as_ref().map(receive_pty).transpose()?;
    let code = wait_foreground(pid, pty);
    if !keep {
        if let Err(e) = runtime::delete(root, &f.id, true) {
            warn!("{e:#}");
        }
    }
    match code? {
        0 => Ok(()),
        c => Err(super::exit::exit_status(c)),
    }
}

fn delete_cmd(root: &Path, id: &str, force: bool) -> Result<()> {
    match runtime::delete(root, id, force) {
        // runc -f on a missing container is quiet.
        Err(e) if force && crate::error::is_not_found(&e, Kind::OciContainer) => Ok(()),
        r => r,
    }
}

fn list_cmd(root: &Path, format: &str, quiet: bool) -> Result<()> {
    let list = runtime::list(root)?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for s in &list {
            writeln!(out, "{}", s.id)?;
        }
        return Ok(());
    }
    if format == "json" {
        // runc's list entries: state plus the owner's name.
        let v: Vec<serde_json::Value> = list
            .iter()
            .map(|s| {
                serde_json::json!({
                    "ociVersion": s.oci_version, "id": s.id, "pid": s.pid,
                    "status": s.status, "bundle": s.bundle, "rootfs": s.rootfs,
                    "created": s.created, "owner": owner_name(root, &s.id),
                    "annotations": s.annotations,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
        return Ok(());
    }
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                s.pid.to_string(),
                s.status.to_string(),
                s.bundle.display().to_string(),
                s.created.clone(),
                owner_name(root, &s.id),
            ]
        })
        .collect();
    let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}   ", width = w[i]));
            }
        }
        s
    };
    writeln!(out, "{}", line(head.to_vec()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn owner_name(root: &Path, id: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(root.join(id))
        .map(|m| crate::userns::user_name(m.uid()))
        .unwrap_or_default()
}

fn ps_cmd(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let pids = runtime::ps(root, id)?;
    let mut out = std::io::stdout().lock();
    if format == "json" {
        writeln!(out, "{}", serde_json::to_string(&pids)?)?;
        return Ok(());
    }
    // Table: ps(1)'s own output, filtered to the container's pids (as runc).
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let o = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("running ps")?;
    if !o.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(());
    };
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    writeln!(out, "{header}")?;
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

fn exec_cmd(root: &Path, f: ExecFlags) -> Result<()> {
    let p = exec_process(root, &f)?;
    let mut pty_sock = None;
    let console = match (&f.console_socket, p.terminal() == Some(true)) {
        (Some(s), _) => Console::Socket(s.clone()),
        (None, true) if !f.detach => {
            let (c, sock) = container_pty()?;
            pty_sock = Some(sock);
            c
        }
        (None, true) => {
            bail!("cannot allocate tty if runc will detach without setting console socket")
        }
        (None, false) => Console::None,
    };
    let _ = f.preserve_fds;
    let pid = runtime::exec(root, &f.id, &p, Stdio::default(), console, f.detach)?;
    let pty = pty_sock.as_ref().map(receive_pty).transpose()?;
    if let Some(pf) = &f.pid_file {
        std::fs::write(pf, pid.to_string())
            .with_context(|| format!("writing pid file {}", pf.display()))?;
    }
    if f.detach {
        return Ok(());
    }
    match wait_foreground(pid, pty)? {
        0 => Ok(()),
        c => Err(super::exit::exit_status(c)),
    }
}

/// The exec'd process: `-p process.json`, or the container's own process
/// (env, user, cwd, capabilities) with the flags' changes, as runc builds it.
fn exec_process(root: &Path, f: &ExecFlags) -> Result<oci_spec::runtime::Process> {
    if let Some(path) = &f.process {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_slice(&text)
            .with_context(|| format!("parsing {}", path.display()));
    }
    if f.command.is_empty() {
        bail!("exec: no command given");
    }
    let st = runtime::state(root, &f.id)?;
    let (_, spec, _) = runtime::load_bundle(&st.bundle)?;
    let mut p = spec
        .process()
        .clone()
        .context("the container's config has no process")?;
    p.set_args(Some(f.command.clone()));
    p.set_terminal(Some(f.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(f.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(cwd) = &f.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &f.user {
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u.as_str(), None),
        };
        let user = p.user_mut();
        user.set_uid(
            uid.parse()
                .with_context(|| format!("invalid uid \"{uid}\""))?,
        );
        if let Some(g) = gid {
            user.set_gid(g.parse().with_context(|| format!("invalid gid \"{g}\""))?);
        }
    }
    if !f.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(f.additional_gids.clone()));
    }
    if !f.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let add = runtime::capabilities::to_oci(&f.caps)?;
        let merge = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.extend(add.iter().cloned());
            Some(s)
        };
        caps.set_bounding(merge(caps.bounding()));
        caps.set_effective(merge(caps.effective()));
        caps.set_permitted(merge(caps.permitted()));
        caps.set_ambient(merge(caps.ambient()));
        p.set_capabilities(Some(caps));
    }
    if f.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

fn events_cmd(root: &Path, id: &str, stats: bool) -> Result<()> {
    let st = runtime::state(root, id)?;
    if stats {
        bail!(
            "events --stats: {}",
            match runtime::cgroups::detect() {
                runtime::cgroups::Support::Unsupported(why) => why,
                runtime::cgroups::Support::Delegated(_) =>
                    "container has no cgroup of its own".into(),
            }
        );
    }
    // Without cgroups, the one event we can see is the container's exit.
    if let runtime::cgroups::Support::Unsupported(why) = runtime::cgroups::detect() {
        warn!("events: no stats or OOM events ({why}); reporting the exit only");
    }
    let mut out = std::io::stdout().lock();
    while runtime::state(root, id)
        .map(|s| s.status != runtime::Status::Stopped)
        .unwrap_or(false)
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    writeln!(
        out,
        "{}",
        serde_json::json!({"type": "exit", "id": st.id, "data": {"pid": st.pid}})
    )?;
    Ok(())
}

fn criu_cmd(root: &Path, id: &str) -> Result<()> {
    runtime::state(root, id)?;
    let criu = ["/usr/sbin/criu", "/usr/bin/criu", "/sbin/criu"]
        .iter()
        .find(|p| Path::new(p).exists());
    match criu {
        None => bail!("checkpoint/restore needs criu, which is not installed"),
        Some(_) if !nix::unistd::geteuid().is_root() || crate::userns::in_child_userns() => bail!(
            "checkpoint/restore: criu refuses to run for an unprivileged user \
             (it needs CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE in the initial user namespace)"
        ),
        Some(_) => bail!("checkpoint/restore through criu is not implemented yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_style_command_lines_parse() {
        let c = OciCli::try_parse_from([
            "runc",
            "--root",
            "/r",
            "--log",
            "/l",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "c1",
        ])
        .unwrap();
        let OciCommand::Create(f) = c.command else {
            panic!()
        };
        assert_eq!((f.id.as_str(), f.bundle.to_str()), ("c1", Some("/b")));
        let c = OciCli::try_parse_from(["runc", "exec", "-t", "c1", "sh", "-c", "ls -l"]).unwrap();
        let OciCommand::Exec(f) = c.command else {
            panic!()
        };
        assert_eq!(f.command, ["sh", "-c", "ls -l"]);
        let c = OciCli::try_parse_from(["runc", "kill", "--all", "c1", "KILL"]).unwrap();
        assert!(matches!(c.command, OciCommand::Kill { all: true, .. }));
        let c = OciCli::try_parse_from(["runc", "--rootless", "true", "list", "-q"]).unwrap();
        assert_eq!(c.global.rootless.as_deref(), Some("true"));
    }
}
