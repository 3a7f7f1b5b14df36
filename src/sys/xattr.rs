//! Extended attributes on paths, without following symlinks.

use anyhow::{Context, Result};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .with_context(|| format!("path with NUL: {}", p.display()))
}

/// The value of `name` on `path`, or None when it has no such attribute.
pub fn lget(path: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let p = cpath(path)?;
    let n = CString::new(name)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: p and n are NUL-terminated; buf is valid for buf.len() bytes.
        let r =
            unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            return Ok(Some(buf));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            _ => {
                return Err(e)
                    .with_context(|| format!("reading xattr {name} of {}", path.display()))
            }
        }
    }
}

/// Set `name` to `value` on `path` (not following a symlink).
pub fn lset(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    let p = cpath(path)?;
    let n = CString::new(name)?;
    // SAFETY: p and n are NUL-terminated; value is valid for value.len() bytes.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("setting xattr {name} on {}", path.display()));
    }
    Ok(())
}

/// The attribute names of `path`.
pub fn llist(path: &Path) -> Result<Vec<String>> {
    let p = cpath(path)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: p is NUL-terminated; buf is valid for buf.len() bytes.
        let r = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            return Ok(buf
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect());
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            _ => return Err(e).with_context(|| format!("listing xattrs of {}", path.display())),
        }
    }
}
