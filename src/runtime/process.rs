//! Becoming the container's process: rlimits, user, capabilities, seccomp,
//! the executable's lookup and execve. Shared by the init (`create`) and by
//! `exec`, and the sync channel both use to talk to their caller.

use crate::error::Error;
use anyhow::{bail, Context, Result};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::socket::{recv, send, MsgFlags};
use nix::unistd::{AccessFlags, Gid, Uid};
use oci_spec::runtime::{PosixRlimitType, Process};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One end of a SOCK_SEQPACKET pair: each send is one message, and a closed
/// peer (exit, or execve closing the CLOEXEC end) reads as None.
pub struct Channel(pub OwnedFd);

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("socketpair")?;
        Ok((Channel(a), Channel(b)))
    }
    pub fn send(&self, msg: &[u8]) -> Result<()> {
        loop {
            match send(self.0.as_raw_fd(), msg, MsgFlags::MSG_NOSIGNAL) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => return r.map(drop).context("writing to the sync socket"),
            }
        }
    }
    pub fn recv(&self) -> Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                Ok(0) => return Ok(None),
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(Some(buf));
                }
                Err(e) => return Err(e).context("reading the sync socket"),
            }
        }
    }
    /// Wait for exactly `want`; an error report from the peer becomes our error.
    pub fn expect(&self, want: &[u8]) -> Result<()> {
        match self.recv()? {
            Some(m) if m == want => Ok(()),
            Some(m) => Err(decode_error(&m)),
            None => bail!("the other side of the sync socket went away"),
        }
    }
}

/// An error as one message (`error::to_wire`).
pub fn encode_error(e: &anyhow::Error) -> Vec<u8> {
    crate::error::to_wire(e).into_bytes()
}

pub fn decode_error(m: &[u8]) -> anyhow::Error {
    crate::error::from_wire(&String::from_utf8_lossy(m))
}

/// The exit status of a container process (the init, or an exec'd one) that
/// failed before its execve, as runc's: 127 when the command does not exist,
/// 126 when it can't be invoked, 1 for anything else. The container's exit
/// code is this status; the CLI's own codes are `cli::exit`'s business.
pub fn failed_status(e: &anyhow::Error) -> i32 {
    match crate::error::find(e) {
        Some(Error::CommandNotFound(_)) => 127,
        Some(Error::CannotInvoke(_)) => 126,
        _ => 1,
    }
}

pub fn apply_rlimits(p: &Process) -> Result<()> {
    for r in p.rlimits().as_deref().unwrap_or(&[]) {
        let res = rlimit_resource(r.typ());
        setrlimit(res, r.soft(), r.hard())
            .with_context(|| format!("setting {:?} to {}/{}", r.typ(), r.soft(), r.hard()))?;
    }
    Ok(())
}

fn rlimit_resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => Resource::RLIMIT_CPU,
        T::RlimitFsize => Resource::RLIMIT_FSIZE,
        T::RlimitData => Resource::RLIMIT_DATA,
        T::RlimitStack => Resource::RLIMIT_STACK,
        T::RlimitCore => Resource::RLIMIT_CORE,
        T::RlimitRss => Resource::RLIMIT_RSS,
        T::RlimitNproc => Resource::RLIMIT_NPROC,
        T::RlimitNofile => Resource::RLIMIT_NOFILE,
        T::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        T::RlimitAs => Resource::RLIMIT_AS,
        T::RlimitLocks => Resource::RLIMIT_LOCKS,
        T::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        T::RlimitNice => Resource::RLIMIT_NICE,
        T::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        T::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Groups, gid, uid; then capabilities and (when no_new_privs is off, while
/// CAP_SYS_ADMIN is still ours) the seccomp filter.
pub fn become_user(p: &Process, seccomp: Option<&Filter>) -> Result<()> {
    let u = p.user();
    let caps = p.capabilities().as_ref();
    if let Some(c) = caps {
        super::capabilities::drop_bounding(c)?;
    }
    super::capabilities::keep_caps_across_setuid()?;
    let extra: Vec<Gid> = u
        .additional_gids()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    let allowed = std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() == "allow")
        .unwrap_or(true);
    if !extra.is_empty() {
        if !allowed {
            bail!(
                "cannot set additional gids {:?}: setgroups is denied in this user namespace \
                 (a single-id rootless map)",
                u.additional_gids().as_deref().unwrap_or(&[])
            );
        }
        nix::unistd::setgroups(&extra).context("setgroups")?;
    } else if allowed {
        nix::unistd::setgroups(&[]).context("setgroups")?;
    }
    let (uid, gid) = (Uid::from_raw(u.uid()), Gid::from_raw(u.gid()));
    nix::unistd::setresgid(gid, gid, gid).with_context(|| {
        format!(
            "setgid {}: is the gid mapped in the user namespace?",
            u.gid()
        )
    })?;
    nix::unistd::setresuid(uid, uid, uid).with_context(|| {
        format!(
            "setuid {}: is the uid mapped in the user namespace?",
            u.uid()
        )
    })?;
    if u.uid() != 0 {
        // The uid change emptied the effective set; take back what we are
        // permitted so the filter and the final capability sets can be set.
        let permitted =
            caps::read(None, caps::CapSet::Permitted).context("reading capabilities")?;
        caps::set(None, caps::CapSet::Effective, &permitted)
            .context("raising effective capabilities")?;
    }
    let nnp = p.no_new_privileges().unwrap_or(false);
    if let (Some(f), false) = (seccomp, nnp) {
        f.install()?;
    }
    // No capabilities in the spec: leave them as they are (runc does too).
    if let Some(c) = caps {
        super::capabilities::apply(&raisable_ambient(c))?;
    }
    if let Some(mask) = u.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    Ok(())
}

/// The kernel raises an ambient capability only if it is both permitted and
/// inheritable; runc's rootless template lists ambient caps without
/// inheritable ones, and runc then leaves them out. So do we.
fn raisable_ambient(
    c: &oci_spec::runtime::LinuxCapabilities,
) -> oci_spec::runtime::LinuxCapabilities {
    let mut c = c.clone();
    if let Some(amb) = c.ambient().clone() {
        let inh = c.inheritable().clone().unwrap_or_default();
        let perm = c.permitted().clone().unwrap_or_default();
        let keep: oci_spec::runtime::Capabilities = amb
            .into_iter()
            .filter(|cap| inh.contains(cap) && perm.contains(cap))
            .collect();
        c.set_ambient(Some(keep));
    }
    c
}

/// A seccomp filter compiled ahead (so errors surface at create).
pub struct Filter {
    prog: seccompiler::BpfProgram,
    flags: u32,
}

impl Filter {
    pub fn compile(p: Option<&oci_spec::runtime::LinuxSeccomp>) -> Result<Option<Filter>> {
        let Some(s) = p else { return Ok(None) };
        Ok(Some(Filter {
            prog: super::seccomp::compile(s)?,
            flags: super::seccomp::filter_flags(s)?,
        }))
    }
    pub fn install(&self) -> Result<()> {
        super::seccomp::install_program(&self.prog, self.flags)
    }
}

/// The process environment, with HOME from the container's /etc/passwd
/// when the spec does not set it (as runc does).
pub fn environment(p: &Process) -> Vec<String> {
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let uid = p.user().uid();
        let home = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
                })
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    env
}

/// The container's command does not exist.
pub fn not_found(msg: impl Into<String>) -> anyhow::Error {
    Error::CommandNotFound(msg.into()).into()
}

/// The container's process can't be started.
pub fn cannot_invoke(msg: impl Into<String>) -> anyhow::Error {
    Error::CannotInvoke(msg.into()).into()
}

/// Find the program as runc's LookPath does, in the container (after
/// pivot_root, chdir and the uid change): [`Error::CommandNotFound`] when it
/// is not there, [`Error::CannotInvoke`] when it cannot be run.
pub fn look_path(name: &str, env: &[String]) -> Result<PathBuf> {
    if name.is_empty() {
        return Err(not_found("no command given: process.args[0] is empty"));
    }
    if name.contains('/') {
        return check_executable(Path::new(name)).map(|_| PathBuf::from(name));
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut denied = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(name);
        match check_executable(&cand) {
            Ok(()) => return Ok(cand),
            Err(e) if denied.is_none() && cand.is_file() => denied = Some(e),
            Err(_) => {}
        }
    }
    Err(denied.unwrap_or_else(|| {
        not_found(format!(
            "executable file `{name}` not found in $PATH: No such file or directory"
        ))
    }))
}

fn check_executable(p: &Path) -> Result<()> {
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_found(format!(
                "{}: no such file or directory",
                p.display()
            )))
        }
        Err(e) => return Err(cannot_invoke(format!("{}: {e}", p.display()))),
    };
    if meta.is_dir() {
        return Err(cannot_invoke(format!("{}: is a directory", p.display())));
    }
    if meta.permissions().mode() & 0o111 == 0 || nix::unistd::access(p, AccessFlags::X_OK).is_err()
    {
        return Err(cannot_invoke(format!("{}: permission denied", p.display())));
    }
    Ok(())
}

/// chdir to the process's cwd, which must lie inside the container's root
/// (CVE-2024-21626: a cwd of `/proc/self/fd/N`, N a directory fd inherited
/// from the host, would leave the process outside it). The path is resolved
/// with "/" (the new root) as its root and no /proc magic links, and the
/// result is checked again with getcwd(), which the kernel prefixes with
/// "(unreachable)" for a directory outside our root.
pub fn enter_cwd(cwd: &Path) -> Result<()> {
    let breakout = || {
        cannot_invoke(format!(
            "working directory {} is outside of the container's root: \
                 possible container breakout detected, refusing to run",
            cwd.display()
        ))
    };
    match crate::sys::fds::open_dir_in_root(cwd) {
        Ok(fd) => nix::unistd::fchdir(fd.as_raw_fd())
            .with_context(|| format!("chdir to cwd {}", cwd.display()))?,
        // A /proc magic link on the way (or a symlink loop): never followed.
        Err(nix::errno::Errno::ELOOP) => {
            return Err(cannot_invoke(format!(
                "working directory {} resolves through a /proc magic link (or a symlink \
                     loop), which can lead outside of the container's root: refusing to run",
                cwd.display()
            )))
        }
        // No openat2 (Linux < 5.6), or a seccomp profile (installed just
        // before) that refuses it: the getcwd check below still holds.
        Err(
            nix::errno::Errno::ENOSYS
            | nix::errno::Errno::EPERM
            | nix::errno::Errno::EINVAL
            | nix::errno::Errno::E2BIG,
        ) => nix::unistd::chdir(cwd).with_context(|| format!("chdir to cwd {}", cwd.display()))?,
        Err(e) => {
            return Err(anyhow::Error::from(e))
                .with_context(|| format!("chdir to cwd {}", cwd.display()))
        }
    }
    match cwd_inside_root() {
        Ok(true) => Ok(()),
        Ok(false) => Err(breakout()),
        Err(e) => Err(anyhow::Error::from(e))
            .with_context(|| format!("checking the working directory {}", cwd.display())),
    }
}

/// Whether our cwd is reachable from our root (the getcwd system call
/// prefixes a directory outside it with "(unreachable)").
fn cwd_inside_root() -> nix::Result<bool> {
    crate::sys::fds::cwd_reachable()
}

/// Put `fd` at `target` (0, 1 or 2) for the new program.
pub fn install_stdio(fd: &OwnedFd, target: i32) -> Result<()> {
    let raw = fd.as_raw_fd();
    if raw == target {
        nix::fcntl::fcntl(
            raw,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )?;
    } else {
        nix::unistd::dup2(raw, target).with_context(|| format!("dup2 onto fd {target}"))?;
    }
    Ok(())
}

/// Make a terminal our stdio and controlling terminal (we are a session leader).
pub fn attach_tty(slave: &OwnedFd) -> Result<()> {
    for t in 0..3 {
        install_stdio(slave, t)?;
    }
    crate::sys::runtime::set_controlling_tty(slave.as_fd()).context("TIOCSCTTY")
}

/// Everything is in place: seccomp (when no_new_privs is on) and execve.
/// Only returns on failure.
pub fn exec(
    p: &Process,
    path: &Path,
    env: &[String],
    filter: Option<&Filter>,
    preserve_fds: u32,
) -> anyhow::Error {
    let run = || -> Result<std::convert::Infallible> {
        let args: Vec<CString> = p
            .args()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .context("an argument holds a NUL byte")?;
        let envs: Vec<CString> = env
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .context("an environment variable holds a NUL byte")?;
        let prog = CString::new(path.as_os_str().as_encoded_bytes())?;
        crate::sys::runtime::cloexec_from(3 + preserve_fds as i32).context("close_range")?;
        // Preserved fds reach the program even if the caller opened them
        // close-on-exec (Rust opens everything that way).
        for fd in 3..3 + preserve_fds as i32 {
            let _ = nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            );
        }
        crate::sys::runtime::reset_signals().context("resetting signal dispositions")?;
        if p.no_new_privileges().unwrap_or(false) {
            nix::sys::prctl::set_no_new_privs().context("prctl(PR_SET_NO_NEW_PRIVS)")?;
            if let Some(f) = filter {
                f.install()?;
            }
        }
        let e = nix::unistd::execve(&prog, &args, &envs).unwrap_err();
        let msg = format!("exec {}: {e}", path.display());
        Err(if e == nix::errno::Errno::ENOENT {
            not_found(msg)
        } else {
            cannot_invoke(msg)
        })
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_the_channel_with_their_code() {
        let (a, b) = Channel::pair().unwrap();
        let e = not_found("executable file `nope` not found in $PATH")
            .context("starting the container process");
        a.send(&encode_error(&e)).unwrap();
        let back = decode_error(&b.recv().unwrap().unwrap());
        assert_eq!(failed_status(&back), 127);
        assert!(back.to_string().contains("`nope` not found"));
        let plain = decode_error(&encode_error(&anyhow::anyhow!("mount failed")));
        assert_eq!(failed_status(&plain), 1);
        assert_eq!(failed_status(&cannot_invoke("/etc: is a directory")), 126);
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }

    /// A directory fd from outside, fchdir'd to after a chroot: the check
    /// sees it (needs root for chroot; the unit tests run as root here).
    #[test]
    fn a_cwd_outside_the_root_is_seen() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not root: skipping");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("root")).unwrap();
        std::fs::create_dir(d.path().join("outside")).unwrap();
        let outside = std::fs::File::open(d.path().join("outside")).unwrap();
        let root = d.path().join("root");
        let (r, w) = nix::unistd::pipe().unwrap();
        // In a forked child: chroot is for the whole process.
        match crate::sys::runtime::clone_fork(nix::sched::CloneFlags::empty()).unwrap() {
            None => {
                let res = (|| -> nix::Result<(bool, bool)> {
                    nix::unistd::chroot(&root)?;
                    nix::unistd::chdir("/")?;
                    let inside = cwd_inside_root()?;
                    nix::unistd::fchdir(outside.as_raw_fd())?;
                    Ok((inside, cwd_inside_root()?))
                })();
                let byte: &[u8] = match res {
                    Ok((true, false)) => b"y",
                    _ => b"n",
                };
                let _ = nix::unistd::write(&w, byte);
                crate::sys::runtime::exit_now(0)
            }
            Some(child) => {
                drop(w);
                let mut buf = [0u8; 1];
                let n = nix::unistd::read(r.as_raw_fd(), &mut buf).unwrap();
                let _ = nix::sys::wait::waitpid(child, None);
                assert_eq!((n, buf[0]), (1, b'y'));
            }
        }
    }

    #[test]
    fn look_path_codes() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(bin.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(bin.join("data"), "x").unwrap();
        std::fs::set_permissions(bin.join("data"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let env = vec![format!("PATH=/nonexistent:{}", bin.display())];
        assert_eq!(look_path("tool", &env).unwrap(), bin.join("tool"));
        let code = |r: Result<PathBuf>| failed_status(&r.unwrap_err());
        assert_eq!(code(look_path("nope", &env)), 127);
        assert_eq!(code(look_path("data", &env)), 126);
        assert_eq!(
            code(look_path(bin.join("data").to_str().unwrap(), &env)),
            126
        );
        assert_eq!(code(look_path(bin.to_str().unwrap(), &env)), 126);
        assert_eq!(code(look_path("/nonexistent/x", &env)), 127);
        let e = look_path("nope", &env).unwrap_err().to_string();
        assert!(
            e.contains("executable file `nope` not found in $PATH"),
            "{e}"
        );
    }
}
