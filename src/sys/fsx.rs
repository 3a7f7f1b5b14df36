//! File-system calls the layer unpacker needs that std and nix don't wrap
//! safely: opening relative to a directory fd without escaping it, and
//! extended attributes.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// openat2(dir, path, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): the kernel
/// refuses any resolution (`..`, an absolute symlink, a symlink climbing out)
/// that would leave `dir`, with EXDEV.
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    use nix::sys::stat::Mode;
    let how = OpenHow::new()
        .flags(OFlag::from_bits_truncate(flags | libc::O_CLOEXEC))
        .mode(Mode::from_bits_truncate(if flags & libc::O_CREAT != 0 {
            mode
        } else {
            0
        }))
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(dir, path, how).map_err(|e| match e {
        nix::errno::Errno::EAGAIN => io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "openat2 {}: still racing a concurrent rename or mount after {OPENAT2_RETRIES} retries",
                path.display()
            ),
        ),
        e => io::Error::from(e),
    })
}

/// How often [`openat2`] retries a lookup the kernel answered with EAGAIN.
pub const OPENAT2_RETRIES: u32 = 64;

/// rpod's one openat2(2) call. EINTR is retried; EAGAIN (a rename or mount
/// raced a `..` or a RESOLVE_* check, and the kernel asks the caller to try
/// again) is retried at most [`OPENAT2_RETRIES`] times, then returned, so a
/// hostile container renaming in a loop cannot keep us spinning forever.
/// Used by [`open_beneath`] (layer unpacking) and `inroot` (container paths).
pub fn openat2(dir: BorrowedFd<'_>, path: &Path, how: nix::fcntl::OpenHow) -> nix::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        match nix::fcntl::openat2(dir.as_raw_fd(), path, how) {
            // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) if tries < OPENAT2_RETRIES => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode) for a single name.
pub fn openat_nofollow(
    dir: BorrowedFd<'_>,
    name: &Path,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    // SAFETY: plain syscall on a valid C string; the result is checked.
    let r = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// flistxattr(2): the names of `fd`'s extended attributes (none where the
/// file system has no xattrs).
pub fn flistxattr(fd: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: buf is valid for buf.len() bytes; the result is checked.
        let r = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            return Ok(buf
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(<[u8]>::to_vec)
                .collect());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            _ => return Err(e),
        }
    }
}

/// fsetxattr(2).
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let n = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: pointers and lengths describe live buffers.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fgetxattr(2): the value of `name`, or None when it isn't set.
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &str) -> io::Result<Option<Vec<u8>>> {
    let n = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: the buffer is valid for its length; the name is NUL-terminated.
        let r = unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                n.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if r >= 0 {
            buf.truncate(r as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENODATA) => return Ok(None),
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            _ => return Err(e),
        }
    }
}
