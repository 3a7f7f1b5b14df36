//! Closing every inherited file descriptor but a named few.
//!
//! A process cloned with fork semantics into a container (the init, the
//! process `exec` clones) holds a copy of its parent's whole fd table:
//! close-on-exec does not help before its execve, and a directory fd from
//! the host is a way out of the new root (`chdir("/proc/self/fd/N")`,
//! CVE-2024-21626). So the first thing such a process does is close every fd
//! it was not explicitly given.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Close every fd >= 3 that is not in `keep`.
///
/// Only for a forked child that never returns to its callers' frames (it
/// ends in execve or `_exit`): Rust values up the stack may own some of the
/// numbers closed here, and must never be dropped afterwards, or they would
/// close a number that was reused since.
pub fn close_all_except(keep: &[RawFd]) -> nix::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd >= 3).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut lo: RawFd = 3;
    let mut ranges = Vec::with_capacity(keep.len() + 1);
    for k in keep.iter().copied() {
        if k > lo {
            ranges.push((lo as u32, (k - 1) as u32));
        }
        lo = k + 1;
    }
    ranges.push((lo as u32, u32::MAX));
    for (first, last) in &ranges {
        match close_range(*first, *last) {
            Ok(()) => {}
            Err(Errno::ENOSYS) => return close_by_listing(&keep),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn close_range(first: u32, last: u32) -> nix::Result<()> {
    // SAFETY: close_range only closes descriptors in our own table; see the
    // caller's contract about owners of those numbers.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    Errno::result(r).map(drop)
}

/// Kernels before 5.9: list /proc/self/fd, then close what is not kept.
fn close_by_listing(keep: &[RawFd]) -> nix::Result<()> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= 3 && !keep.contains(fd))
        .collect();
    for fd in fds {
        // SAFETY: as above; the listing's own fd is closed already (EBADF,
        // ignored).
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Open the directory `path` (absolute) for fchdir, resolved with "/" as
/// the root (RESOLVE_IN_ROOT) and refusing /proc magic links
/// (RESOLVE_NO_MAGICLINKS: ELOOP), so `/proc/self/fd/N` can never lead out.
/// ENOSYS on kernels before 5.6.
pub fn open_dir_in_root(path: &std::path::Path) -> nix::Result<OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open just returned this descriptor; nobody else owns it.
    let root = unsafe { OwnedFd::from_raw_fd(root) };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    loop {
        match nix::fcntl::openat2(root.as_raw_fd(), path, how) {
            // SAFETY: as above.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether our cwd is reachable from our root. The getcwd system call
/// prefixes a directory outside the root with "(unreachable)"; glibc's
/// getcwd() hides that as ENOENT, so ask the kernel directly.
pub fn cwd_reachable() -> nix::Result<bool> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    loop {
        // SAFETY: the kernel writes at most buf.len() bytes into buf.
        let r = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
        match Errno::result(r) {
            Ok(_) => return Ok(buf[0] == b'/'),
            Err(Errno::ERANGE) if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn is_open(fd: RawFd) -> bool {
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok()
    }

    #[test]
    fn closes_everything_but_the_kept_fds() {
        let a = std::fs::File::open("/dev/null").unwrap();
        let b = std::fs::File::open("/dev/null").unwrap();
        let c = std::fs::File::open("/dev/null").unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let (ka, kb, kc, kw) = (a.as_raw_fd(), b.as_raw_fd(), c.as_raw_fd(), w.as_raw_fd());
        // In a forked child, so the test harness's fds are left alone.
        // SAFETY (test): the child only makes syscalls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let high = nix::unistd::dup2(ka, 900).is_ok();
                let ok = close_all_except(&[ka, kc, kw, 1, -1]).is_ok()
                    && high
                    && is_open(ka)
                    && is_open(kc)
                    && !is_open(kb)
                    && !is_open(r.as_raw_fd())
                    && !is_open(900)
                    && is_open(1);
                let _ = nix::unistd::write(&w, if ok { b"y" } else { b"n" });
                crate::sys::runtime::exit_now(0);
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(w);
                let mut buf = [0u8; 1];
                let n = nix::unistd::read(r.as_raw_fd(), &mut buf).unwrap();
                let _ = nix::sys::wait::waitpid(child, None);
                assert_eq!((n, buf[0]), (1, b'y'));
                assert!(is_open(kb), "the parent's fds are untouched");
            }
        }
    }
}
