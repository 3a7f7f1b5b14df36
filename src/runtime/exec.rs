//! `exec`: a new process in a running container. A short-lived helper
//! joins the init's namespaces (all opened first), then clones the process
//! with CLONE_PARENT so it is the caller's child and inside the container's
//! pid namespace; the helper reports its pid and exits.

use super::init::{self, InitConsole};
use super::process::{self, Channel, Filter};
use super::state::Saved;
use super::{Console, Status, Stdio};
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;

const ORDER: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// The init's namespaces that differ from ours, opened, user first.
fn open_namespaces(pid: i32) -> Result<Vec<(CloneFlags, File)>> {
    let mut out = Vec::new();
    for (name, flag) in ORDER {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let ino = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
        let Ok(t) = ino(&theirs) else { continue };
        if ino(&format!("/proc/self/ns/{name}")).ok() == Some(t) {
            continue;
        }
        out.push((
            flag,
            File::open(&theirs).with_context(|| format!("opening {theirs}"))?,
        ));
    }
    Ok(out)
}

pub(super) fn exec(
    root: &std::path::Path,
    id: &str,
    p: &oci_spec::runtime::Process,
    stdio: Stdio,
    console: Console,
    _detach: bool,
    preserve_fds: u32,
) -> Result<i32> {
    let saved = Saved::load(root, id)?;
    match saved.current(root).status {
        Status::Running | Status::Created => {}
        s => bail!("cannot exec in a {s} container"),
    }
    if p.args().as_ref().map_or(true, |a| a.is_empty()) {
        bail!("no command given: process.args is empty");
    }
    if p.terminal() == Some(true) && matches!(console, Console::None) {
        bail!("process.terminal is true but no console was given: use --console-socket");
    }
    let pid = saved.state.pid;
    let namespaces = open_namespaces(pid)?;
    let root_dir = File::open(format!("/proc/{pid}/root"))
        .with_context(|| format!("opening /proc/{pid}/root"))?;
    let filter = Filter::compile(p_seccomp(root, &saved)?.as_ref())?;
    let console = match console {
        Console::None => InitConsole::None,
        Console::PtySlave(fd) => InitConsole::Slave(fd),
        Console::Socket(path) => InitConsole::Socket(
            std::os::unix::net::UnixStream::connect(&path)
                .with_context(|| format!("connecting to console socket {}", path.display()))?,
        ),
        Console::Connected(sock) => InitConsole::Socket(sock),
    };
    // Check the container is still the one we opened the namespaces of.
    if !saved.init_alive() {
        bail!("container \"{id}\" is not running");
    }
    super::check_single_threaded("exec");
    let (ours, theirs) = Channel::pair()?;
    let helper = match crate::sys::runtime::clone_fork(CloneFlags::empty()).context("fork")? {
        Some(h) => h,
        None => {
            drop(ours);
            let err = helper_main(
                &namespaces,
                &root_dir,
                p,
                (stdio, preserve_fds),
                console,
                filter.as_ref(),
                &theirs,
            );
            let _ = theirs.send(&process::encode_error(&err));
            crate::sys::runtime::exit_now(1)
        }
    };
    drop(theirs);
    drop(namespaces);
    let _ = nix::sys::wait::waitpid(helper, None);
    // The process shares the channel and may report "ready" before the
    // helper's pid message arrives: keep it for below.
    let mut early: Option<Vec<u8>> = None;
    let child = loop {
        match ours.recv()? {
            Some(m) if m.starts_with(b"P") => {
                break String::from_utf8_lossy(&m[1..])
                    .parse::<i32>()
                    .context("bad pid from the exec helper")?
            }
            Some(m) if m == init::MSG_READY && early.is_none() => early = Some(m),
            Some(m) => return Err(process::decode_error(&m)),
            None => bail!("the exec helper died"),
        }
    };
    if let Some(cg) = &saved.cgroup {
        let _ = std::fs::write(cg.join("cgroup.procs"), child.to_string());
    }
    let placed = &saved.cgroups;
    for dir in placed.v2.iter().chain(placed.v1.iter().map(|(_, d)| d)) {
        let _ = std::fs::write(dir.join("cgroup.procs"), child.to_string());
    }
    let reap = || {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
    };
    // The process reports ready (or why not: 126, 127, ...) before it execs.
    let ready = match early {
        Some(m) => Some(m),
        None => ours.recv()?,
    };
    match ready {
        Some(m) if m == init::MSG_READY => {}
        Some(m) => {
            reap();
            return Err(process::decode_error(&m));
        }
        None => {
            reap();
            bail!("the exec'd process died during setup");
        }
    }
    ours.send(init::MSG_START)?;
    // EOF: execve closed the channel. A message: exec failed.
    if let Some(m) = ours.recv()? {
        reap();
        return Err(process::decode_error(&m));
    }
    Ok(child)
}

/// The seccomp profile the container runs under applies to exec'd processes
/// too (runc takes it from the container's config).
fn p_seccomp(
    _root: &std::path::Path,
    saved: &Saved,
) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
    // Fail closed: without the container's config we can't know its
    // filter, and an exec'd process must never run unconfined.
    let (_, spec, _) = super::load_bundle(&saved.state.bundle).with_context(|| {
        format!(
            "reading the container's seccomp profile from its bundle {} (refusing to exec \
             without it)",
            saved.state.bundle.display()
        )
    })?;
    Ok(spec.linux().as_ref().and_then(|l| l.seccomp().clone()))
}

/// In the helper: join, clone the real process, report its pid.
fn helper_main(
    namespaces: &[(CloneFlags, File)],
    root_dir: &File,
    p: &oci_spec::runtime::Process,
    (stdio, preserve_fds): (Stdio, u32),
    console: InitConsole,
    filter: Option<&Filter>,
    chan: &Channel,
) -> anyhow::Error {
    let run = || -> Result<()> {
        // Before we join anything: in the container's namespaces no one may
        // open our /proc/PID/exe (the rpod binary) or fds; the process we
        // clone inherits this until its execve.
        crate::sys::exe::set_dumpable(false).context("prctl(PR_SET_DUMPABLE, 0)")?;
        for (flag, f) in namespaces {
            nix::sched::setns(f.as_fd(), *flag).with_context(|| format!("setns {flag:?}"))?;
        }
        nix::unistd::fchdir(root_dir.as_raw_fd()).context("fchdir to the container's root")?;
        nix::unistd::chroot(".").context("chroot to the container's root")?;
        match crate::sys::runtime::clone_sibling().context("clone")? {
            Some(child) => {
                chan.send(format!("P{}", child.as_raw()).as_bytes())?;
                crate::sys::runtime::exit_now(0)
            }
            None => {
                let err = process_main(p, (stdio, preserve_fds), console, filter, chan);
                let _ = chan.send(&process::encode_error(&err));
                crate::sys::runtime::exit_now(process::failed_status(&err))
            }
        }
    };
    match run() {
        Ok(()) => anyhow::anyhow!("exec helper returned"),
        Err(e) => e,
    }
}

/// In the container: become the process and execve it.
fn process_main(
    p: &oci_spec::runtime::Process,
    (stdio, preserve_fds): (Stdio, u32),
    console: InitConsole,
    filter: Option<&Filter>,
    chan: &Channel,
) -> anyhow::Error {
    let run = || -> Result<std::convert::Infallible> {
        // First: we hold a copy of the helper's fd table (the namespaces, the
        // container's root, and whatever the `exec` command had open).
        let mut keep = vec![chan.0.as_raw_fd()];
        // --preserve-fds: the caller's 3 .. 3+N stay where they are.
        keep.extend(3..3 + preserve_fds as i32);
        keep.extend(
            [&stdio.stdin, &stdio.stdout, &stdio.stderr]
                .into_iter()
                .flatten()
                .map(|f| f.as_raw_fd()),
        );
        match &console {
            InitConsole::None => {}
            InitConsole::Slave(fd) => keep.push(fd.as_raw_fd()),
            InitConsole::Socket(s) => keep.push(s.as_raw_fd()),
        }
        crate::sys::fds::close_all_except(&keep).context("closing inherited file descriptors")?;
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
        nix::unistd::chdir("/")?;
        let Stdio {
            stdin,
            stdout,
            stderr,
        } = stdio;
        for (i, fd) in [stdin, stdout, stderr].iter().enumerate() {
            if let Some(fd) = fd {
                process::install_stdio(fd, i as i32)?;
            }
        }
        match &console {
            InitConsole::None => {}
            InitConsole::Slave(fd) => {
                nix::unistd::setsid().context("setsid")?;
                process::attach_tty(fd)?;
            }
            InitConsole::Socket(sock) => {
                nix::unistd::setsid().context("setsid")?;
                init::console_from_socket(sock, p, false)?;
            }
        }
        process::apply_rlimits(p)?;
        process::become_user(p, filter)?;
        process::enter_cwd(p.cwd())?;
        let env = process::environment(p);
        let argv0 = p
            .args()
            .as_deref()
            .and_then(|a| a.first())
            .map_or("", String::as_str);
        let path = process::look_path(argv0, &env)?;
        chan.send(init::MSG_READY)?;
        chan.expect(init::MSG_START)?;
        nix::sys::prctl::set_pdeathsig(None)?;
        Err(process::exec(p, &path, &env, filter, preserve_fds))
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}
