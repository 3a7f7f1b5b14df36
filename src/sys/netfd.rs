//! Sockets for rpod's port forwarder: taking over listeners the monitor
//! passed down by number, and `splice(2)` (no safe nix wrapper without its
//! `zerocopy` feature) to move bytes between sockets through a pipe without
//! copying them to user space.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Own an fd inherited at number `fd` (checked to be open, and made
/// close-on-exec). Each number must be taken at most once.
pub fn inherited(fd: RawFd) -> io::Result<OwnedFd> {
    if fd <= 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd {fd} is stdio, not an inherited socket"),
        ));
    }
    // SAFETY: fcntl on any number is harmless; -1 means it is not open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above, on an fd we know is open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd is open and, by the contract above, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Move up to `len` bytes from `from` to `to` (one of them a pipe).
/// Returns 0 at end of input.
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: both fds are borrowed (open for the call); null offsets
        // mean "current position", as pipes and sockets require.
        let n = unsafe {
            libc::splice(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Let the child that `cmd` spawns inherit `fds` at their numbers, clearing
/// close-on-exec in the child only: flipping the flag in the parent would
/// leak them into whatever another thread spawns meanwhile.
pub fn inherit_on_spawn(cmd: &mut std::process::Command, fds: &[RawFd]) {
    use std::os::unix::process::CommandExt;
    let fds = fds.to_vec();
    // SAFETY: between fork and exec the closure only calls fcntl, which is
    // async-signal-safe, and allocates nothing (`fds` was moved in before).
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, IntoRawFd};

    #[test]
    fn splices_through_a_pipe_and_takes_fds() {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (pr, pw) = nix::unistd::pipe().unwrap();
        a.write_all(b"hello").unwrap();
        assert_eq!(splice(b.as_fd(), pw.as_fd(), 64).unwrap(), 5);
        let mut out = [0u8; 5];
        std::fs::File::from(pr).read_exact(&mut out).unwrap();
        assert_eq!(&out, b"hello");
        let raw = b.into_raw_fd();
        let owned = inherited(raw).unwrap();
        assert_eq!(owned.as_raw_fd(), raw);
        assert!(inherited(1).is_err());
    }
}
