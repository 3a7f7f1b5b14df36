//! Process handles that survive pid reuse (pidfd), and process start times
//! from /proc, so that a recorded pid is only ever signalled if it is still
//! the same process.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; on success the kernel
    // returns a new fd that we own.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0 as libc::c_long) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: r is a fresh file descriptor returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// `pidfd_send_signal(fd, sig, NULL, 0)`.
pub fn pidfd_send_signal(fd: &OwnedFd, sig: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number and a NULL siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd() as libc::c_long,
            sig as libc::c_long,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_long,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Wait until the process behind `fd` exits or `timeout_ms` passes
/// (negative: forever). Returns true if it exited.
pub fn pidfd_wait(fd: &OwnedFd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd on the stack.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(r > 0);
    }
}

/// The start time of `pid` in clock ticks since boot (field 22 of
/// /proc/PID/stat), or None if there is no such process.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

fn parse_start_time(stat: &[u8]) -> Option<u64> {
    // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let close = stat.iter().rposition(|b| *b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // After comm: state is field 3, so starttime (22) is the 20th here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True if `pid` is alive, not a zombie, and started at `start` (when known).
pub fn is_same_process(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.iter().rposition(|b| *b == b')') else {
        return false;
    };
    if stat.get(close + 2) == Some(&b'Z') {
        return false;
    }
    start == 0 || parse_start_time(&stat) == Some(start)
}

/// A pidfd for `pid`, only if it is still the process that started at `start`.
/// Checking after opening closes the window in which the pid could be reused.
pub fn open_verified(pid: i32, start: u64) -> Option<OwnedFd> {
    if pid <= 0 {
        return None;
    }
    let fd = pidfd_open(pid).ok()?;
    is_same_process(pid, start).then_some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_self_is_stable() {
        let me = std::process::id() as i32;
        let t = start_time(me).unwrap();
        assert!(t > 0);
        assert!(is_same_process(me, t));
        assert!(!is_same_process(me, t + 1));
        assert!(open_verified(me, t).is_some());
    }

    #[test]
    fn parses_comm_with_parens() {
        let s = b"42 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 999 20";
        assert_eq!(parse_start_time(s), Some(999));
    }

    #[test]
    fn waits_for_child_exit() {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let fd = pidfd_open(c.id() as i32).unwrap();
        assert!(pidfd_wait(&fd, 5000).unwrap());
        c.wait().unwrap();
    }
}
