//! Raw steps of entering a user namespace in-process: a forked child unshares
//! a new user namespace, the parent (still the real user) has its maps written
//! by newuidmap/newgidmap, then joins it with setns. No process is left behind.

use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A child parked inside a fresh, not yet mapped, user namespace.
pub struct ParkedChild {
    pub pid: i32,
    release: OwnedFd,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("pipe2");
    }
    // SAFETY: pipe2 returned two fresh fds that we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Fork a child that unshares CLONE_NEWUSER and waits until it is released.
pub fn park_child_in_new_userns() -> Result<ParkedChild> {
    let (ready_r, ready_w) = pipe()?;
    let (rel_r, rel_w) = pipe()?;
    // SAFETY: the child only makes async-signal-safe calls (prctl, close,
    // unshare, write, read, _exit) before exiting.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()).context("fork");
    }
    if pid == 0 {
        unsafe {
            // Its parent's death must end it: drop its copies of the ends it
            // doesn't use (its own write end of the release pipe would keep
            // the read below from ever seeing EOF), and die with the parent.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::close(rel_w.as_raw_fd());
            libc::close(ready_r.as_raw_fd());
            let ok: u8 = if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                1
            } else {
                0
            };
            libc::write(
                ready_w.as_raw_fd(),
                &ok as *const u8 as *const libc::c_void,
                1,
            );
            let mut b = 0u8;
            libc::read(rel_r.as_raw_fd(), &mut b as *mut u8 as *mut libc::c_void, 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(rel_r);
    let mut b = [0u8; 1];
    let n = nix::unistd::read(ready_r.as_raw_fd(), &mut b)
        .context("waiting for the namespace child")?;
    let child = ParkedChild {
        pid,
        release: rel_w,
    };
    if n != 1 || b[0] != 1 {
        child.release_and_reap();
        bail!(
            "cannot create a user namespace (unshare(CLONE_NEWUSER) failed): check that \
             unprivileged user namespaces are enabled (sysctl kernel.unprivileged_userns_clone, \
             user.max_user_namespaces)"
        );
    }
    Ok(child)
}

impl ParkedChild {
    /// Let the child exit and reap it.
    pub fn release_and_reap(self) {
        let _ = nix::unistd::write(&self.release, &[1]);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None);
    }
}

/// Join the user namespace of `pid`. The process must be single-threaded.
pub fn join_userns_of(pid: i32) -> Result<()> {
    let path = format!("/proc/{pid}/ns/user");
    let f = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWUSER).with_context(|| {
        format!("joining the user namespace of {pid} (setns; the process must be single-threaded)")
    })?;
    Ok(())
}

/// Make our own uid/gid 0 explicit after joining (they already map to 0).
pub fn become_ns_root() -> Result<()> {
    nix::unistd::setresgid(0.into(), 0.into(), 0.into())
        .context("setresgid(0) in the user namespace")?;
    nix::unistd::setresuid(0.into(), 0.into(), 0.into())
        .context("setresuid(0) in the user namespace")?;
    Ok(())
}
