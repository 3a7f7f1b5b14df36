//! Keeping the rpod binary out of a container's reach (CVE-2019-5736).
//!
//! A process that enters a container's namespaces while it still runs rpod
//! (the init until its execve, the `exec` helper and the process it clones)
//! is visible from inside, and `/proc/PID/exe` of it is the rpod binary on
//! the host: readable, and rewritable where the user owns it. Two defences,
//! as runc's:
//! - [`set_dumpable`]`(false)` before joining or cloning into the
//!   namespaces: the kernel then refuses `/proc/PID/exe`, `/proc/PID/fd`, …
//!   of the process to anyone without CAP_SYS_PTRACE over the host (execve of
//!   the container's program makes it dumpable again);
//! - the process runs from a sealed memfd copy of rpod ([`sealed_copy`]), so
//!   even the process itself re-executing `/proc/self/exe` (a `#!/proc/self/exe`
//!   script as the program) runs a copy that cannot be written, never the
//!   host file.

use nix::errno::Errno;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable a sealed copy finds its real binary's path in
/// (`/proc/self/exe` of a memfd is `/memfd:rpod (deleted)`).
pub const REAL_EXE_ENV: &str = "_RPOD_REAL_EXE";

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// prctl(PR_SET_DUMPABLE).
pub fn set_dumpable(on: bool) -> nix::Result<()> {
    nix::sys::prctl::set_dumpable(on)
}

/// A sealed (no write, no resize), close-on-exec memfd holding a copy of
/// the binary we run from.
pub fn sealed_copy() -> std::io::Result<OwnedFd> {
    let mut src = File::open("/proc/self/exe")?;
    let name = c"rpod";
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) keeps vm.memfd_noexec=1 from refusing the
    // execve; older kernels reject the unknown flag.
    let mut fd = memfd_create(name, base | libc::MFD_EXEC);
    if matches!(fd, Err(Errno::EINVAL)) {
        fd = memfd_create(name, base);
    }
    let fd = fd?;
    let len = src.metadata()?.len();
    let mut dst = File::from(fd);
    dst.set_len(len)?;
    let mut done: u64 = 0;
    while done < len {
        // SAFETY: both fds are open and ours; a null offset uses and
        // advances the source file's own position.
        let n = unsafe {
            libc::sendfile(
                dst.as_raw_fd(),
                src.as_raw_fd(),
                std::ptr::null_mut(),
                (len - done) as usize,
            )
        };
        match n {
            n if n > 0 => done += n as u64,
            0 => break,
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                if done == 0 {
                    // No sendfile to this fd: copy by hand.
                    std::io::copy(&mut src, &mut dst)?;
                    done = len;
                    break;
                }
                return Err(e);
            }
        }
    }
    if done != len {
        return Err(std::io::Error::other(format!(
            "copying the rpod binary: {done} of {len} bytes"
        )));
    }
    // SAFETY: F_ADD_SEALS on our own memfd.
    let r = unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, SEALS) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(OwnedFd::from(dst))
}

fn memfd_create(name: &std::ffi::CStr, flags: libc::c_uint) -> Result<OwnedFd, Errno> {
    // SAFETY: name is a valid C string; the result is a new fd we own.
    let r = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    Errno::result(r).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether we run from a sealed copy (ours: write, grow, shrink and the
/// seals themselves sealed). Asks the kernel, not the environment.
pub fn running_sealed() -> bool {
    let Ok(f) = File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS on an fd we own; EINVAL for files without seals.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    r >= 0 && r & SEALS == SEALS
}

/// The path of the rpod binary on disk: the one our spawner recorded when
/// we run from a protected copy (a memfd's path is `/memfd:rpod (deleted)`,
/// and an overlay's, seen from a later mount namespace, is `/rpod`), else
/// ours.
pub fn real_exe() -> PathBuf {
    if let Some(p) = std::env::var_os(REAL_EXE_ENV) {
        let p = PathBuf::from(p);
        if p.is_absolute() && p.is_file() {
            return p;
        }
    }
    std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into())
}

/// Whether a process running as us (a container's root is the user
/// rootless, or the host's root) could rewrite the binary we run from: we
/// own it, or may write it. Where it can't (root's /usr/bin/rpod run by a
/// user), a process inside that reaches it can only read it, which the
/// file's mode allows anyway, and no copy is needed.
pub fn exe_writable_by_us() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata("/proc/self/exe") else {
        return true;
    };
    meta.uid() == nix::unistd::geteuid().as_raw()
        || nix::unistd::access("/proc/self/exe", nix::unistd::AccessFlags::W_OK).is_ok()
}

/// Replace this process with a sealed copy of itself, same arguments and
/// environment (plus [`REAL_EXE_ENV`]). Returns only on failure; a no-op
/// (Ok) when we already run sealed, or when we could not write the binary
/// anyway ([`exe_writable_by_us`]): the copy costs a few milliseconds.
pub fn reexec_sealed() -> std::io::Result<()> {
    if running_sealed() || !exe_writable_by_us() {
        return Ok(());
    }
    let real = real_exe();
    let fd = sealed_copy()?;
    let path = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    // The path resolves before execve closes the (close-on-exec) memfd.
    Err(exec_self(&path, &real))
}

/// execve `path` (ourselves, protected) with our arguments and environment
/// plus [`REAL_EXE_ENV`] naming `real`; returns only the failure.
fn exec_self(path: &CString, real: &Path) -> std::io::Error {
    let to_c = |s: &std::ffi::OsStr| CString::new(s.as_encoded_bytes()).ok();
    let args: Vec<CString> = std::env::args_os().filter_map(|a| to_c(&a)).collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != REAL_EXE_ENV)
        .filter_map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            to_c(&kv)
        })
        .collect();
    if let Some(e) = to_c(format!("{REAL_EXE_ENV}={}", real.display()).as_ref()) {
        env.push(e);
    }
    std::io::Error::from(nix::unistd::execve(path, &args, &env).unwrap_err())
}

/// Whether we run from a file on a read-only mount that [`reexec_bound`]
/// made (its environment names the real binary, and the kernel says the
/// mount is read-only): nobody can write the file through it.
fn running_bound() -> bool {
    std::env::var_os(REAL_EXE_ENV).is_some()
        && File::open("/proc/self/exe")
            .ok()
            .and_then(|f| nix::sys::statvfs::fstatvfs(&f).ok())
            .is_some_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// For real root (the host's user namespace) only: replace this process
/// with itself run through a read-only bind mount of its binary, detached
/// at once (runc 1.1's "bindfd"): an `O_PATH` fd to a file no one can
/// write through, for a few syscalls instead of [`reexec_sealed`]'s copy.
/// The mount point is a fresh file in `dir`, a directory only root can
/// write (so its path can't be swapped for a symlink). Falls back to the
/// sealed copy when a step fails; returns only on failure.
pub fn reexec_bound(dir: &Path) -> std::io::Result<()> {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    if running_sealed() || running_bound() {
        return Ok(());
    }
    let real = real_exe();
    let fd = (|| -> std::io::Result<OwnedFd> {
        std::fs::create_dir_all(dir)?;
        {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::symlink_metadata(dir)?;
            if !m.is_dir() || m.uid() != 0 || m.mode() & 0o022 != 0 {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory only root can write",
                    dir.display()
                )));
            }
        }
        let target = dir.join(format!(".exe-{}", std::process::id()));
        let _ = std::fs::remove_file(&target);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)?;
        let bound = (|| -> std::io::Result<OwnedFd> {
            mount(
                Some(Path::new("/proc/self/exe")),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )?;
            let r = mount(
                None::<&str>,
                &target,
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(std::io::Error::from)
            .and_then(|_| {
                nix::fcntl::open(
                    &target,
                    nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(std::io::Error::from)
            });
            // The fd keeps the detached mount alive; the path is free again.
            let _ = umount2(&target, MntFlags::MNT_DETACH);
            // SAFETY: `open` returned a new fd that nothing else owns.
            r.map(|raw| unsafe { OwnedFd::from_raw_fd(raw) })
        })();
        let _ = std::fs::remove_file(&target);
        bound
    })();
    let fd = match fd {
        Ok(fd) => fd,
        Err(e) => {
            debug!("a read-only bind of rpod's binary: {e}; copying it to a memfd");
            return reexec_sealed();
        }
    };
    let path = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    Err(exec_self(&path, &real))
}

/// A `Command` for the rpod binary `real`, run from a read-only overlayfs
/// mount of its directory, made in the child's own mount namespace just
/// before its execve (runc 1.2's cheap way; no copy). The child must be
/// root in a user namespace of ours (`rpod run` after `userns::enter`):
/// the mount needs CAP_SYS_ADMIN over the mount namespace it unshares.
/// `scratch` holds two empty directories, the mount point and the second
/// lower layer (overlayfs wants two without an upper one).
///
/// The spawned process's `/proc/self/exe` is then a file on a mount with no
/// upper layer: every write to it fails with EROFS, whoever tries.
pub fn overlay_command(real: &Path, scratch: &Path) -> std::io::Result<Command> {
    use std::os::unix::process::CommandExt;
    let bad = |what: &str| std::io::Error::other(what.to_string());
    let dir = real
        .parent()
        .ok_or_else(|| bad("rpod's path has no directory"))?;
    let name = real
        .file_name()
        .ok_or_else(|| bad("rpod's path has no file name"))?;
    let (mnt, empty) = (scratch.join("mnt"), scratch.join("empty"));
    for d in [&mnt, &empty] {
        std::fs::create_dir_all(d)?;
    }
    let text = |p: &Path| -> std::io::Result<String> {
        let s = p.to_str().ok_or_else(|| bad("a path is not UTF-8"))?;
        // overlayfs splits its options on ',' and its layers on ':'.
        if s.contains([',', ':', '\\']) {
            return Err(bad("a path holds ',', ':' or '\\'"));
        }
        Ok(s.to_string())
    };
    // overlayfs refuses layers inside one another (ELOOP): when the scratch
    // lies below rpod's directory (a binary in ~ with the runtime dir there
    // too), the empty layer is a fresh tmpfs, whose root has no parent.
    let nested = std::fs::canonicalize(&empty)?.starts_with(std::fs::canonicalize(dir)?);
    let data = CString::new(format!("lowerdir={}:{}", text(dir)?, text(&empty)?))?;
    let target = CString::new(text(&mnt)?)?;
    let empty_c = CString::new(text(&empty)?)?;
    let mut cmd = Command::new(mnt.join(name));
    // SAFETY: the hook runs in the forked child before execve and only
    // makes syscalls on data prepared (and owned by the closure) before
    // the fork: no allocation, no lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if nested
                && libc::mount(
                    c"tmpfs".as_ptr(),
                    empty_c.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_RDONLY | libc::MS_NODEV | libc::MS_NOSUID | libc::MS_NOEXEC,
                    std::ptr::null(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            let r = libc::mount(
                c"overlay".as_ptr(),
                target.as_ptr(),
                c"overlay".as_ptr(),
                libc::MS_RDONLY | libc::MS_NODEV | libc::MS_NOSUID,
                data.as_ptr().cast(),
            );
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(cmd)
}

/// Spawn ourselves (`setup` adds arguments, stdio, …) with the binary
/// out of reach of what the child will run: from a read-only overlay of its
/// directory ([`overlay_command`]; root in a user namespace only), else from
/// a sealed memfd copy ([`sealed_copy`]) when we could write the binary,
/// else from the binary itself. [`REAL_EXE_ENV`] names the binary on disk.
/// `scratch` as for `overlay_command`.
pub fn spawn_self(
    scratch: &Path,
    setup: impl Fn(&mut Command),
) -> std::io::Result<std::process::Child> {
    let real = real_exe();
    if nix::unistd::geteuid().is_root() {
        if let Ok(mut cmd) = overlay_command(&real, scratch) {
            setup(&mut cmd);
            cmd.env(REAL_EXE_ENV, &real);
            match cmd.spawn() {
                Ok(child) => return Ok(child),
                Err(e) => debug!("running rpod from an overlay: {e}; copying it to a memfd"),
            }
        }
    }
    if !exe_writable_by_us() {
        let mut cmd = Command::new(&real);
        setup(&mut cmd);
        return cmd.spawn();
    }
    let fd = sealed_copy()?;
    let mut cmd = Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    setup(&mut cmd);
    cmd.env(REAL_EXE_ENV, &real);
    let child = cmd.spawn();
    drop(fd);
    child
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_copy_is_ours_and_sealed() {
        let fd = sealed_copy().unwrap();
        let mut f = File::from(fd);
        let mut head = [0u8; 4];
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"\x7fELF");
        assert_eq!(
            f.metadata().unwrap().len(),
            std::fs::metadata("/proc/self/exe").unwrap().len()
        );
        use std::io::Write;
        assert!(f.write_all(b"x").is_err(), "a sealed copy refuses writes");
        assert!(f.set_len(1).is_err(), "and shrinking");
        assert!(!running_sealed(), "cargo test runs from the file on disk");
    }
}
