//! The container's init, from clone to execve, step by step in the order
//! the runtime-spec and runc use. It runs in the cloned child; every error
//! goes back to `create` over the sync socket.

use super::mounts::{self, DeviceMode, RootfsConfig};
use super::process::{self, Channel, Filter};
use super::state::State;
use crate::sys::runtime::Real;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Where the init's terminal comes from.
pub(super) enum InitConsole {
    None,
    /// A pty slave the caller made.
    Slave(OwnedFd),
    /// Make a pty in the container and send its master here.
    Socket(UnixStream),
}

pub(super) struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub chan: Channel,
    /// The exec fifo (None: wait for "start" on the channel instead).
    pub fifo: Option<PathBuf>,
    pub stdio: [Option<OwnedFd>; 3],
    pub console: InitConsole,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub new_ns: CloneFlags,
    pub join: Vec<(CloneFlags, PathBuf)>,
    /// No mount namespace of our own: mount in the host's, enter with chroot.
    pub host_mounts: bool,
    pub devices: DeviceMode,
    /// The state handed to createContainer/startContainer hooks.
    pub hook_state: State,
    pub parent_hooks: bool,
}

pub(super) const MSG_GO: &[u8] = b"go";
pub(super) const MSG_HOOKS: &[u8] = b"hooks";
pub(super) const MSG_HOOKS_DONE: &[u8] = b"hooks-done";
pub(super) const MSG_READY: &[u8] = b"ready";
pub(super) const MSG_START: &[u8] = b"start";

/// The child's whole life. Never returns.
pub(super) fn main(a: InitArgs) -> ! {
    let err = match run(&a) {
        Ok(e) | Err(e) => e,
    };
    // Tell whoever waits (create, or start through the fifo) why.
    let msg = process::encode_error(&err);
    if a.chan.send(&msg).is_err() {
        // Nobody listens any more (an exec failure after start): the
        // container's stderr is the last place to say it.
        let _ = writeln!(std::io::stderr(), "rpod init: {err:#}");
    }
    crate::sys::runtime::exit_now(process::failed_status(&err))
}

/// Ok(error) is an execve failure after start: reported the same way.
fn run(a: &InitArgs) -> Result<anyhow::Error> {
    // Before anything else: we hold a copy of our caller's whole fd table
    // (a directory fd from the host would be a way out of the new root).
    close_inherited_fds(a)?;
    let spec = a.spec;
    // Checked at create already; again here, before joining anything (the
    // check compares a joined network namespace with ours).
    super::check_sysctls(spec)?;
    let p = spec
        .process()
        .as_ref()
        .context("config.json has no process")?;
    // Until we are ready, a dying caller takes us along.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    // "go <pid>": our pid as the caller sees it, for the hooks' state.
    let mut hook_state = a.hook_state.clone();
    match a.chan.recv()? {
        Some(m) if m.starts_with(MSG_GO) => {
            hook_state.pid = String::from_utf8_lossy(&m[MSG_GO.len()..])
                .trim()
                .parse()
                .unwrap_or(0);
        }
        Some(m) => return Err(process::decode_error(&m)),
        None => bail!("create went away before the container was set up"),
    }

    // Our uid/gid maps are written (the caller needs us dumpable for that):
    // from here nothing in a container may open our /proc/PID/exe, fd, …
    crate::sys::exe::set_dumpable(false).context("prctl(PR_SET_DUMPABLE, 0)")?;
    join_namespaces(&a.join)?;
    nix::unistd::setsid().context("setsid")?;
    for (i, fd) in a.stdio.iter().enumerate() {
        if let Some(fd) = fd {
            process::install_stdio(fd, i as i32)?;
        }
    }
    if let InitConsole::Slave(fd) = &a.console {
        process::attach_tty(fd)?;
    }
    if a.new_ns.contains(CloneFlags::CLONE_NEWNET) {
        if let Err(e) = crate::sys::runtime::loopback_up() {
            debug!("bringing lo up: {e}");
        }
    }

    let sys = Real;
    let cfg = RootfsConfig {
        rootfs: a.rootfs,
        bundle: a.bundle,
        devices: a.devices,
        host_mounts: a.host_mounts,
    };
    mounts::prepare(&sys, spec, &cfg)?;
    if a.parent_hooks {
        // prestart hooks open our /proc/PID/ns/* (only our own processes
        // can see us yet: the pid namespace is new, or the host's).
        crate::sys::exe::set_dumpable(true).context("prctl(PR_SET_DUMPABLE, 1)")?;
        a.chan.send(MSG_HOOKS)?;
        a.chan.expect(MSG_HOOKS_DONE)?;
        crate::sys::exe::set_dumpable(false).context("prctl(PR_SET_DUMPABLE, 0)")?;
    }
    let hooks = spec.hooks().as_ref();
    if let Some(h) = hooks.and_then(|h| h.create_container().as_ref()) {
        super::hooks::run("createContainer", h, &hook_state)?;
    }
    // The fifo is outside the rootfs: hold it open (O_PATH) across pivot_root.
    let fifo = match &a.fifo {
        Some(path) => Some(OwnedFd::from(
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        )),
        None => None,
    };
    if a.host_mounts {
        mounts::enter_chroot(&sys, a.rootfs)?;
    } else {
        mounts::enter(&sys, a.rootfs, a.no_pivot)?;
    }
    if let InitConsole::Socket(sock) = &a.console {
        console_from_socket(sock, p, true)?;
    }
    write_sysctls(spec)?;
    mounts::finish(&sys, spec)?;
    if !a.host_mounts {
        mounts::propagate_root(&sys, spec)?;
    }
    mounts::set_names(&sys, spec)?;
    if let Some(adj) = p.oom_score_adj() {
        // A non-dumpable process's /proc/self files belong to the host's
        // root: be dumpable for this write only (nothing else is in the
        // container yet).
        crate::sys::exe::set_dumpable(true).context("prctl(PR_SET_DUMPABLE, 1)")?;
        let r = std::fs::write("/proc/self/oom_score_adj", adj.to_string());
        crate::sys::exe::set_dumpable(false).context("prctl(PR_SET_DUMPABLE, 0)")?;
        r.context("writing oom_score_adj")?;
    }
    process::apply_rlimits(p)?;
    if let Some(per) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        use oci_spec::runtime::LinuxPersonalityDomain;
        let domain = match per.domain() {
            LinuxPersonalityDomain::PerLinux => 0,
            LinuxPersonalityDomain::PerLinux32 => 8,
        };
        crate::sys::runtime::set_personality(domain).context("personality(2)")?;
    }
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    let linux = spec.linux().as_ref();
    let filter = Filter::compile(linux.and_then(|l| l.seccomp().as_ref()))?;
    super::apply_lsm(p)?;
    process::become_user(p, filter.as_ref())?;
    process::enter_cwd(p.cwd())?;
    let env = process::environment(p);
    let argv0 = p
        .args()
        .as_deref()
        .and_then(|a| a.first())
        .map_or("", String::as_str);
    let path = process::look_path(argv0, &env)?;

    // Ready: from here the container lives on its own. Network helpers
    // (slirp4netns, pasta) join our namespaces through /proc/PID/ns, which
    // needs us dumpable. What a process exec'd into the created container
    // could reach through /proc/1/exe is a copy of rpod no one can write
    // (overlay, sealed memfd), or a binary we could not write either.
    crate::sys::exe::set_dumpable(true).context("prctl(PR_SET_DUMPABLE, 1)")?;
    nix::sys::prctl::set_pdeathsig(None)?;
    a.chan.send(MSG_READY)?;
    let report: Option<OwnedFd> = match fifo {
        Some(fd) => {
            // Blocks until `start` opens the fifo for reading.
            let w: OwnedFd = std::fs::OpenOptions::new()
                .write(true)
                .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .context("opening the exec fifo (is /proc mounted in the container?)")?
                .into();
            drop(fd);
            nix::unistd::write(&w, b"0").context("writing the exec fifo")?;
            Some(w)
        }
        None => {
            a.chan.expect(MSG_START)?;
            None
        }
    };
    if let Some(h) = hooks.and_then(|h| h.start_container().as_ref()) {
        super::hooks::run("startContainer", h, &hook_state)?;
    }
    let err = process::exec(p, &path, &env, filter.as_ref(), a.preserve_fds);
    // A failed execve after start: `start` reads this from the fifo.
    if let Some(w) = report {
        let _ = nix::unistd::write(&w, &process::encode_error(&err));
    }
    Ok(err)
}

/// Close every fd but the ones `a` names: the sync socket, stdio (until
/// installed), the console, and the fds the caller asked to preserve.
/// Everything else in our table is a copy of the caller's, owned by values
/// in frames we never return to (we end in execve or `exit_now`).
fn close_inherited_fds(a: &InitArgs) -> Result<()> {
    let mut keep: Vec<i32> = vec![a.chan.0.as_raw_fd()];
    keep.extend(a.stdio.iter().flatten().map(|f| f.as_raw_fd()));
    match &a.console {
        InitConsole::None => {}
        InitConsole::Slave(fd) => keep.push(fd.as_raw_fd()),
        InitConsole::Socket(s) => keep.push(s.as_raw_fd()),
    }
    keep.extend(3..3 + a.preserve_fds as i32);
    crate::sys::fds::close_all_except(&keep).context("closing inherited file descriptors")
}

fn join_namespaces(join: &[(CloneFlags, PathBuf)]) -> Result<()> {
    // The user namespace first: it decides what the others allow. The
    // mount namespace last: joining it changes our root and cwd, and the
    // other paths (/proc/N/ns/…) are the host's.
    let mut order: Vec<&(CloneFlags, PathBuf)> = join.iter().collect();
    let rank = |f: &CloneFlags| match *f {
        CloneFlags::CLONE_NEWUSER => 0,
        CloneFlags::CLONE_NEWNS => 2,
        _ => 1,
    };
    order.sort_by_key(|(f, _)| rank(f));
    // All opened before any is joined.
    let mut opened = Vec::new();
    for (flag, path) in order {
        let f = std::fs::File::open(path)
            .with_context(|| format!("opening namespace {}", path.display()))?;
        opened.push((flag, path, f));
    }
    for (flag, path, f) in opened {
        nix::sched::setns(f.as_fd(), *flag)
            .with_context(|| format!("joining namespace {}", path.display()))?;
    }
    Ok(())
}

/// linux.sysctl, written before /proc/sys turns read-only.
fn write_sysctls(spec: &Spec) -> Result<()> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (k, v) in map {
        if k.contains("..") || k.contains('/') && k.contains('.') {
            bail!("invalid sysctl name \"{k}\"");
        }
        let path = Path::new("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&path, v).with_context(|| format!("setting sysctl {k}={v}"))?;
    }
    Ok(())
}

/// runc's --console-socket: a pty from the container's own devpts, its
/// master sent to the caller, its slave our stdio and /dev/console.
pub(super) fn console_from_socket(
    sock: &UnixStream,
    p: &oci_spec::runtime::Process,
    bind_console: bool,
) -> Result<()> {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context("opening /dev/ptmx in the container")?;
    grantpt(&master).context("grantpt")?;
    unlockpt(&master).context("unlockpt")?;
    let name = ptsname_r(&master).context("ptsname")?;
    let slave: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)
        .with_context(|| format!("opening {name}"))?
        .into();
    if let Some(size) = p.console_size() {
        let ws = crate::sys::tty::WinSize {
            rows: size.height() as u16,
            cols: size.width() as u16,
        };
        crate::sys::tty::set_winsize(slave.as_fd(), ws).context("setting the console size")?;
    }
    crate::sys::runtime::send_fd(sock.as_fd(), master.as_fd(), b"/dev/ptmx")
        .context("sending the pty master to the console socket")?;
    drop(master);
    let console = Path::new("/dev/console");
    let sys = Real;
    use crate::sys::runtime::Syscalls;
    if bind_console && sys.touch(console).is_ok() {
        sys.mount(
            Some(Path::new(&name)),
            console,
            None,
            nix::mount::MsFlags::MS_BIND,
            None,
        )
        .context("bind-mounting the console on /dev/console")?;
    }
    process::attach_tty(&slave)
}
