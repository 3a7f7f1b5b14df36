//! Raw process and mount operations for the in-process OCI runtime.
//!
//! The namespace, mount and pivot steps of a container's init go through the
//! [`Syscalls`] trait, so their order and arguments can be unit-tested with
//! [`Recorder`] without root. The few calls with no safe nix wrapper (a
//! fork-like `clone` with namespace flags, `TIOCSCTTY`, `close_range`,
//! `_exit`, bringing `lo` up) live here too.

use super::inroot::{self, Node, Root};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::SFlag;
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;

/// What a container's init does to the file system tree and its identity,
/// behind a trait so the order of the steps can be tested without root.
pub trait Syscalls {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    fn chroot(&self, path: &Path) -> nix::Result<()>;
    /// Create an empty file (a bind-mount target) if nothing is there. Only
    /// for trusted paths (the container's own /dev/console after pivot_root).
    fn touch(&self, path: &Path) -> nix::Result<()>;
    /// Open the rootfs at `path` as the root of the in-root calls below (after
    /// it is mounted where it will stay: mounts made through an fd of the
    /// mount beneath would be hidden).
    fn open_root(&self, path: &Path) -> nix::Result<Root>;
    /// Look `path` up inside `root` (every symlink and `..` resolved as if
    /// `root` were "/"). With `follow` false a final symlink is the result
    /// itself. None when it (or a directory on the way) does not exist.
    fn open_in(&self, root: &Root, path: &Path, follow: bool) -> nix::Result<Option<Node>>;
    /// `path` inside `root` as a directory, created (with its parents) if missing.
    fn mkdir_in(&self, root: &Root, path: &Path, mode: u32) -> nix::Result<Node>;
    /// `path` inside `root` as a bind target for a file: an empty file is
    /// created (and the directories on the way) if nothing is there.
    fn touch_in(&self, root: &Root, path: &Path) -> nix::Result<Node>;
    /// A symlink at `link` inside `root` (its directory created if missing).
    fn symlink_in(&self, root: &Root, target: &Path, link: &Path) -> nix::Result<()>;
    /// A device node or fifo at `path` inside `root`, with exactly `perm`
    /// (no umask) when it is made; an existing node is left as it is.
    fn mknod_in(
        &self,
        root: &Root,
        path: &Path,
        kind: SFlag,
        perm: u32,
        dev: u64,
    ) -> nix::Result<()>;
    /// Change the owner of `path` inside `root` (not following a final symlink).
    fn chown_in(
        &self,
        root: &Root,
        path: &Path,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> nix::Result<()>;
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    fn setdomainname(&self, name: &str) -> nix::Result<()>;
    /// The mount flags of the mount at `path` that a remount must keep
    /// (inside a user namespace the kernel locks them).
    fn locked_flags(&self, path: &Path) -> nix::Result<MsFlags>;
}

/// The real thing.
pub struct Real;

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

impl Syscalls for Real {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }
    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }
    fn chroot(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chroot(path)
    }
    fn touch(&self, path: &Path) -> nix::Result<()> {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io_errno(e)),
        }
    }
    fn open_root(&self, path: &Path) -> nix::Result<Root> {
        Root::open(path)
    }
    fn open_in(&self, root: &Root, path: &Path, follow: bool) -> nix::Result<Option<Node>> {
        let r = root.fd()?;
        match inroot::open(r.as_fd(), path, follow) {
            Ok(fd) => node(fd, root, path).map(Some),
            Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn mkdir_in(&self, root: &Root, path: &Path, mode: u32) -> nix::Result<Node> {
        let r = root.fd()?;
        let fd = inroot::create(r.as_fd(), path, inroot::Create::Dir(mode))?;
        node(fd, root, path)
    }
    fn touch_in(&self, root: &Root, path: &Path) -> nix::Result<Node> {
        let r = root.fd()?;
        let fd = inroot::create(r.as_fd(), path, inroot::Create::File(0o644))?;
        node(fd, root, path)
    }
    fn symlink_in(&self, root: &Root, target: &Path, link: &Path) -> nix::Result<()> {
        let r = root.fd()?;
        let (dir, name) = inroot::parent(r.as_fd(), link, true)?;
        inroot::symlink_at(target, dir.as_fd(), &name)
    }
    fn mknod_in(
        &self,
        root: &Root,
        path: &Path,
        kind: SFlag,
        perm: u32,
        dev: u64,
    ) -> nix::Result<()> {
        let r = root.fd()?;
        let (dir, name) = inroot::parent(r.as_fd(), path, true)?;
        inroot::mknod_exact_at(dir.as_fd(), &name, kind, perm, dev)
    }
    fn chown_in(
        &self,
        root: &Root,
        path: &Path,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> nix::Result<()> {
        let r = root.fd()?;
        let (dir, name) = inroot::parent(r.as_fd(), path, false)?;
        inroot::chown_at(dir.as_fd(), &name, uid, gid)
    }
    fn sethostname(&self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }
    fn setdomainname(&self, name: &str) -> nix::Result<()> {
        // SAFETY: the pointer and length describe `name`, which outlives the call.
        let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
        Errno::result(r).map(drop)
    }
    fn locked_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        use nix::sys::statvfs::FsFlags;
        let st = nix::sys::statvfs::statvfs(path)?;
        let f = st.flags();
        let mut out = MsFlags::empty();
        for (from, to) in [
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(from) {
                out |= to;
            }
        }
        Ok(out)
    }
}

/// The node of an in-root lookup of `path` in `root`. After pivot_root
/// (`root` is "/") its plain path may stand in for /proc/self/fd/N.
fn node(fd: std::os::fd::OwnedFd, root: &Root, path: &Path) -> nix::Result<Node> {
    let root = root.path();
    let shown = root.join(inroot::clean_path(path).strip_prefix("/").unwrap_or(path));
    Node::new(fd, shown, root == Path::new("/"))
}

/// A test double that records every call as one line and fails the calls
/// it is told to fail.
#[cfg(test)]
#[derive(Default)]
pub struct Recorder {
    pub calls: std::cell::RefCell<Vec<String>>,
    /// (substring of the recorded line, errno): the first match fails.
    pub fail: Vec<(String, Errno)>,
    /// Paths that exist as directories / files / symlinks, for `open_in`
    /// (besides what `mkdir_in` and `touch_in` made).
    pub dirs: Vec<std::path::PathBuf>,
    pub files: Vec<std::path::PathBuf>,
    pub links: Vec<std::path::PathBuf>,
    pub made: std::cell::RefCell<Vec<(std::path::PathBuf, bool)>>,
}

#[cfg(test)]
impl Recorder {
    fn rec(&self, line: String) -> nix::Result<()> {
        let failed = self
            .fail
            .iter()
            .find(|(pat, _)| line.contains(pat.as_str()))
            .map(|(_, e)| *e);
        self.calls.borrow_mut().push(match failed {
            Some(e) => format!("{line} = {e:?}"),
            None => line,
        });
        failed.map_or(Ok(()), Err)
    }
    pub fn lines(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
    /// `root` joined with the cleaned `path`: what the real lookup resolves
    /// when no symlink is on the way.
    fn joined(root: &Root, path: &Path) -> std::path::PathBuf {
        let clean = inroot::clean_path(path);
        root.path().join(clean.strip_prefix("/").unwrap_or(&clean))
    }
    fn make(&self, line: &str, root: &Root, path: &Path, dir: bool) -> nix::Result<Node> {
        let p = Self::joined(root, path);
        self.rec(format!("{line} {}", p.display()))?;
        self.made.borrow_mut().push((p.clone(), dir));
        let kind = if dir {
            inroot::Kind::Dir
        } else {
            inroot::Kind::Other
        };
        Ok(Node::fake(p, kind))
    }
}

/// "MsFlags(MS_BIND | MS_REC)" -> "MS_BIND | MS_REC".
#[cfg(test)]
fn bits(debug: String) -> String {
    match (debug.find('('), debug.ends_with(')')) {
        (Some(i), true) => debug[i + 1..debug.len() - 1].to_string(),
        _ => debug,
    }
}

#[cfg(test)]
impl Syscalls for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.rec(format!(
            "mount {} {} {} {} {}",
            source.map_or("-".into(), |s| s.display().to_string()),
            target.display(),
            fstype.unwrap_or("-"),
            bits(format!("{flags:?}")),
            data.unwrap_or("-")
        ))
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        self.rec(format!(
            "umount2 {} {}",
            target.display(),
            bits(format!("{flags:?}"))
        ))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.rec(format!(
            "pivot_root {} {}",
            new_root.display(),
            put_old.display()
        ))
    }
    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.rec(format!("chdir {}", path.display()))
    }
    fn chroot(&self, path: &Path) -> nix::Result<()> {
        self.rec(format!("chroot {}", path.display()))
    }
    fn touch(&self, path: &Path) -> nix::Result<()> {
        self.rec(format!("touch {}", path.display()))
    }
    fn open_root(&self, path: &Path) -> nix::Result<Root> {
        Ok(Root::fake(path))
    }
    fn open_in(&self, root: &Root, path: &Path, _follow: bool) -> nix::Result<Option<Node>> {
        let p = Self::joined(root, path);
        let made = self
            .made
            .borrow()
            .iter()
            .find(|(m, _)| *m == p)
            .map(|x| x.1);
        let kind = if self.dirs.contains(&p) || made == Some(true) {
            inroot::Kind::Dir
        } else if self.links.contains(&p) {
            inroot::Kind::Symlink
        } else if self.files.contains(&p) || made == Some(false) {
            inroot::Kind::Other
        } else {
            return Ok(None);
        };
        Ok(Some(Node::fake(p, kind)))
    }
    fn mkdir_in(&self, root: &Root, path: &Path, mode: u32) -> nix::Result<Node> {
        let p = Self::joined(root, path);
        self.rec(format!("mkdir {} {mode:o}", p.display()))?;
        self.made.borrow_mut().push((p.clone(), true));
        Ok(Node::fake(p, inroot::Kind::Dir))
    }
    fn touch_in(&self, root: &Root, path: &Path) -> nix::Result<Node> {
        self.make("touch", root, path, false)
    }
    fn symlink_in(&self, root: &Root, target: &Path, link: &Path) -> nix::Result<()> {
        self.rec(format!(
            "symlink {} {}",
            target.display(),
            Self::joined(root, link).display()
        ))
    }
    fn mknod_in(
        &self,
        root: &Root,
        path: &Path,
        kind: SFlag,
        perm: u32,
        dev: u64,
    ) -> nix::Result<()> {
        self.rec(format!(
            "mknod {} {kind:?} {perm:o} {dev}",
            Self::joined(root, path).display()
        ))
    }
    fn chown_in(
        &self,
        root: &Root,
        path: &Path,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> nix::Result<()> {
        self.rec(format!(
            "chown {} {uid:?} {gid:?}",
            Self::joined(root, path).display()
        ))
    }
    fn sethostname(&self, name: &str) -> nix::Result<()> {
        self.rec(format!("sethostname {name}"))
    }
    fn setdomainname(&self, name: &str) -> nix::Result<()> {
        self.rec(format!("setdomainname {name}"))
    }
    fn locked_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        self.rec(format!("statvfs {}", path.display()))?;
        Ok(MsFlags::MS_NOSUID | MsFlags::MS_NODEV)
    }
}

/// `clone(2)` with fork semantics (no new stack: the child runs on a
/// copy-on-write copy of ours) and the given namespace flags. Returns the
/// child's pid in the parent and None in the child.
///
/// Only call this while the process is single-threaded: the child may then
/// use the allocator and everything else as after fork(2).
pub fn clone_fork(flags: CloneFlags) -> nix::Result<Option<Pid>> {
    // SAFETY: raw clone with a NULL stack behaves as fork(2); the other
    // pointer arguments (parent_tid, child_tid, tls) are unused (NULL/0)
    // because no CLONE_*TID/SETTLS flag is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() as libc::c_long) | libc::SIGCHLD as libc::c_long,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match Errno::result(r)? {
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// Like [`clone_fork`], but the child becomes a child of our parent
/// (CLONE_PARENT): `exec` uses it so the process that joined a container's
/// pid namespace is the caller's child, not the short-lived helper's.
pub fn clone_sibling() -> nix::Result<Option<Pid>> {
    // SAFETY: as in clone_fork; with CLONE_PARENT the exit signal (SIGCHLD)
    // goes to our parent, which is now the child's parent.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_PARENT as libc::c_long | libc::SIGCHLD as libc::c_long,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match Errno::result(r)? {
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// personality(2): the execution domain of this process and what it
/// execs (`PER_LINUX` 0, `PER_LINUX32` 8: `uname -m` says i686).
pub fn set_personality(domain: u32) -> nix::Result<()> {
    use nix::sys::personality::{self, Persona};
    personality::set(Persona::from_bits_retain(domain as _)).map(drop)
}

/// End a forked child at once, without running the parent's exit handlers
/// or flushing buffers it inherited.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// Make `fd` (a terminal) our controlling terminal (after setsid).
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument (0: don't steal).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    Errno::result(r).map(drop)
}

/// Mark every fd >= `from` close-on-exec, so only stdio and the fds the
/// caller asked to preserve reach the container's process.
pub fn cloexec_from(from: RawFd) -> nix::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes fd flags in our table.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.11: walk our fd table instead.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(io_errno)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= from)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on a raw number only changes its flags; a number
        // that is no longer open gives EBADF, which we ignore.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Bring the loopback interface of our (new) network namespace up, as a
/// container with `--network none` expects.
pub fn loopback_up() -> nix::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req))?;
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req))?;
    }
    Ok(())
}

/// Give the new program default signal dispositions and an empty mask:
/// execve keeps ignored signals and the mask, and Rust ignores SIGPIPE, which
/// a container's `yes | head` must not inherit.
pub fn reset_signals() -> nix::Result<()> {
    use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
    // The raw syscall, because glibc refuses its internal real-time signals
    // (32, 33), which a caller may still have ignored. An all-zero kernel
    // sigaction is SIG_DFL with no flags and an empty mask on every arch.
    let dfl = [0u64; 4];
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `dfl` is a valid (zeroed) kernel sigaction that outlives
        // the call; no old action is requested; the mask size is 8 bytes.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<libc::c_void>(),
                8usize,
            )
        };
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// Send `fd` with a short message over a unix socket (SCM_RIGHTS), as runc
/// sends a console's pty master to `--console-socket`.
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>, msg: &[u8]) -> nix::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd.as_raw_fd()];
    let iov = [std::io::IoSlice::new(msg)];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None).map(drop)
}

/// Receive one fd (and its message) sent by [`send_fd`].
pub fn recv_fd(sock: BorrowedFd<'_>) -> nix::Result<(std::os::fd::OwnedFd, Vec<u8>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut buf = vec![0u8; 4096];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let (fds, n) = {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(v) = c {
                fds.extend(v);
            }
        }
        (fds, msg.bytes)
    };
    // SAFETY: the kernel just installed these descriptors for us; each is
    // wrapped exactly once.
    let mut owned: Vec<std::os::fd::OwnedFd> = fds
        .into_iter()
        .map(|f| unsafe { std::os::fd::OwnedFd::from_raw_fd(f) })
        .collect();
    if owned.is_empty() {
        return Err(Errno::EBADMSG);
    }
    buf.truncate(n);
    Ok((owned.swap_remove(0), buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_logs_and_fails_on_demand() {
        let r = Recorder {
            fail: vec![("sysfs".into(), Errno::EPERM)],
            ..Default::default()
        };
        r.mkdir_in(&Root::fake(Path::new("/r")), Path::new("/x"), 0o755)
            .unwrap();
        let e = r
            .mount(
                Some(Path::new("sysfs")),
                Path::new("/r/sys"),
                Some("sysfs"),
                MsFlags::empty(),
                None,
            )
            .unwrap_err();
        assert_eq!(e, Errno::EPERM);
        assert_eq!(r.lines().len(), 2);
        assert!(r.lines()[1].ends_with("= EPERM"));
    }

    #[test]
    fn cloexec_from_marks_high_fds() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = f.as_raw_fd();
        // Clear the flag std set, then let cloexec_from put it back.
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(
                nix::fcntl::FdFlag::from_bits_truncate(flags) - nix::fcntl::FdFlag::FD_CLOEXEC,
            ),
        )
        .unwrap();
        cloexec_from(fd).unwrap();
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert!(
            nix::fcntl::FdFlag::from_bits_truncate(flags).contains(nix::fcntl::FdFlag::FD_CLOEXEC)
        );
    }
}
