//! `exec` (a new process in a running container, through the runtime; `top`
//! moved to `super::top` and is re-exported here). The exec'd process talks
//! through our own stdio, as an attached container does.

use super::opts;
use super::record::{self, Paths};
use crate::error::Error;
use crate::options::Options;
use crate::runtime::{Console, Stdio};
use crate::sys::{pump, tty};
use anyhow::{bail, Context, Result};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned().context("duplicating stdio")
}

/// How to run a process in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The container (name or id prefix).
    pub container: String,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Start it and return at once.
    pub detach: bool,
    /// Give it our stdin.
    pub interactive: bool,
    /// Give it a pseudo-terminal.
    pub tty: bool,
    /// KEY[=VALUE] variables to set (KEY alone: the host's value).
    pub env: Vec<String>,
    /// Files of such variables.
    pub env_file: Vec<PathBuf>,
    /// USER[:GROUP] to run as, looked up in the image (None: the container's).
    pub user: Option<String>,
    /// The working directory, absolute (None: the container's).
    pub workdir: Option<String>,
    /// The keys that detach from a terminal session (None: ctrl-p,ctrl-q).
    pub detach_keys: Option<String>,
    /// Every capability rpod's user namespace can give, whatever the
    /// container's --cap-drop (podman's `exec --privileged`).
    pub privileged: bool,
    /// Pass our fds 3 .. 3+N to the process (`--preserve-fds`).
    pub preserve_fds: u32,
}

/// How an exec'd process ended: None when detached, else its exit code
/// (128+N for a process killed by signal N).
pub type ExecEnd = Option<i32>;

/// No `userns::enter()` here: every rpod process that enters makes its own
/// namespace (same mappings), and a container's processes are only
/// reachable from the one its monitor made. The runtime joins that one
/// (we own it, so we may), so exec starts from the host's namespace.
pub fn exec(g: &Options, a: &ExecOptions) -> Result<ExecEnd> {
    // The helper we fork joins the container: it must not be running the
    // rpod binary itself, which a process inside could reach through
    // /proc/PID/exe (CVE-2019-5736).
    crate::sys::exe::reexec_sealed().context("re-executing rpod from a sealed copy of itself")?;
    let paths = Paths::new(g)?;
    let id = record::resolve(&paths, &a.container)?;
    let rec = record::load(&paths, &id)?;
    let st = record::observe(&paths, &id);
    if !st.program_runs() || st.is_paused() {
        return Err(Error::ContainerState(
            "can only create exec sessions on running containers".into(),
        )
        .into());
    }
    let mut p = container_process(&paths, &id)?;

    let host_env = |k: &str| std::env::var(k).ok();
    let mut env = p.env().clone().unwrap_or_default();
    for kv in opts::build_env(&[], false, &a.env_file, &a.env, &host_env)? {
        // build_env adds a default PATH; keep the container's unless -e set one.
        if kv.starts_with("PATH=") && !a.env.iter().any(|e| e.starts_with("PATH=")) {
            continue;
        }
        opts::env_set(&mut env, kv);
    }
    if a.tty && !opts::env_has(&env, "TERM") {
        opts::env_set(&mut env, "TERM=xterm".into());
    }
    p.set_env(Some(env));
    if a.privileged {
        let all: oci_spec::runtime::Capabilities =
            crate::runtime::capabilities::resolve(&[], &[], true)?
                .iter()
                .filter_map(|c| c.strip_prefix("CAP_").unwrap_or(c).parse().ok())
                .collect();
        let mut caps = p.capabilities().clone().unwrap_or_default();
        caps.set_bounding(Some(all.clone()))
            .set_effective(Some(all.clone()))
            .set_permitted(Some(all.clone()))
            .set_inheritable(Some(all.clone()))
            .set_ambient(Some(all));
        p.set_capabilities(Some(caps));
    }
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(w) = &a.workdir {
        if !w.starts_with('/') {
            bail!("invalid --workdir {w:?}: it must be an absolute path");
        }
        p.set_cwd(w.into());
    }
    if let Some(u) = &a.user {
        let store = crate::storage::Store::open(g)?;
        let image = store
            .image_by_id(&rec.image_id)?
            .context("the container's image is no longer in local storage")?;
        let passwd = crate::rootfs::read_image_file(&store, &image, "/etc/passwd")?;
        let group = crate::rootfs::read_image_file(&store, &image, "/etc/group")?;
        let r = crate::runtime::user::resolve(u, &[], passwd.as_deref(), group.as_deref())?;
        let mut user = p.user().clone();
        user.set_uid(r.uid);
        user.set_gid(r.gid);
        user.set_additional_gids(Some(r.additional_gids.clone()));
        p.set_user(user);
    }
    let state_root = paths.run_dir(&id).join("runtime");
    crate::events::container(&paths.runroot, "exec", &rec);
    let stdin_fd = if a.interactive {
        dup(std::io::stdin().as_fd())?
    } else {
        std::fs::File::open("/dev/null")?.into()
    };

    if a.tty {
        let size = tty::terminal_size();
        let ws = nix::pty::Winsize {
            ws_row: size.map(|s| s.rows).unwrap_or(24),
            ws_col: size.map(|s| s.cols).unwrap_or(80),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&ws, None).context("allocating a pseudo-terminal")?;
        // openpty sets no close-on-exec: no other child of ours may hold them.
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .context("setting close-on-exec on the pty")?;
        }
        let pid = crate::runtime::exec_preserving(
            &state_root,
            &id,
            &p,
            Stdio::default(),
            Console::PtySlave(pty.slave),
            a.detach,
            a.preserve_fds,
        )?;
        if a.detach {
            return Ok(None);
        }
        let keys = pump::parse_detach_keys(a.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))?;
        proxy_pty(&pty.master, a.interactive, keys)?;
        let end = finish(pid);
        crate::events::container(&paths.runroot, "exec_died", &rec);
        return end.map(Some);
    }
    let stdio = Stdio {
        stdin: Some(stdin_fd),
        stdout: Some(dup(std::io::stdout().as_fd())?),
        stderr: Some(dup(std::io::stderr().as_fd())?),
    };
    let pid = crate::runtime::exec_preserving(
        &state_root,
        &id,
        &p,
        stdio,
        Console::None,
        a.detach,
        a.preserve_fds,
    )?;
    if a.detach {
        return Ok(None);
    }
    let end = finish(pid);
    crate::events::container(&paths.runroot, "exec_died", &rec);
    end.map(Some)
}

/// The container's process as its bundle describes it (env, user, cwd,
/// capabilities): what an exec'd process starts from.
pub fn container_process(paths: &Paths, id: &str) -> Result<oci_spec::runtime::Process> {
    let cfg_path = paths.ctr_dir(id).join("config.json");
    let spec: oci_spec::runtime::Spec = serde_json::from_slice(
        &std::fs::read(&cfg_path).with_context(|| format!("reading {}", cfg_path.display()))?,
    )
    .with_context(|| format!("parsing {}", cfg_path.display()))?;
    spec.process().clone().context("config.json has no process")
}

/// Wait for the process; its exit code.
fn finish(pid: i32) -> Result<i32> {
    loop {
        match nix::sys::wait::waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting for the exec'd process"),
        }
    }
}

/// Copy between our terminal and the pty master until the process closes
/// it or the user detaches.
fn proxy_pty(master: &OwnedFd, interactive: bool, keys: Vec<u8>) -> Result<()> {
    let s = pump::Session {
        stdin: interactive,
        raw: interactive && tty::stdin_is_tty(),
        detach_keys: keys,
        proxy: Vec::new(),
        tick: None,
        buf_size: 32 * 1024,
        input_max: 0,
    };
    pump::run(&s, &mut pump::PtyMaster::new(master.as_fd(), true))?;
    Ok(())
}

pub use super::top::{top, top_ps, top_target, TopDescriptor, TopTarget};
