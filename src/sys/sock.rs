//! Socket calls whose nix versions return raw fds.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `accept4` on a listening socket, returning an owned, close-on-exec,
/// non-blocking connection.
pub fn accept_nonblock(listener: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: null address pointers are allowed; flags are valid.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 returned a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
