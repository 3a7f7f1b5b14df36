//! What the slirp4netns and pasta launchers share: finding the binary,
//! checking /dev/net/tun, passing pipes, and the running helper itself.

use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running network helper. It lives as long as the container: the monitor
/// keeps this value (and with it slirp4netns's exit pipe) until the end, and
/// records `pid`/`start` in the container's state so that whoever cleans up
/// after a dead monitor can stop it (`record::release_helpers`).
#[derive(Debug)]
pub struct Helper {
    pub name: &'static str,
    pub pid: i32,
    /// Start time (clock ticks since boot), so a reused pid is never hit.
    pub start: u64,
    child: Option<Child>,
    _exit: Option<OwnedFd>,
    /// Helpers that serve this one (the port forwarder of a slirp4netns).
    pub companions: Vec<Helper>,
}

impl Helper {
    pub fn new(child: Child, exit: Option<OwnedFd>, name: &'static str) -> Helper {
        let pid = child.id() as i32;
        Helper {
            name,
            pid,
            start: crate::sys::pidfd::start_time(pid).unwrap_or(0),
            child: Some(child),
            _exit: exit,
            companions: Vec::new(),
        }
    }

    /// A helper that daemonized itself (pasta): known by pid only.
    pub fn detached(pid: i32, name: &'static str) -> Helper {
        Helper {
            name,
            pid,
            start: crate::sys::pidfd::start_time(pid).unwrap_or(0),
            child: None,
            _exit: None,
            companions: Vec::new(),
        }
    }

    /// (pid, start time) of this helper and its companions, for the state.
    pub fn pids(&self) -> Vec<(i32, u64)> {
        let mut v = vec![(self.pid, self.start)];
        for c in &self.companions {
            v.extend(c.pids());
        }
        v
    }

    /// Stop the helper now and wait for it (a failed setup).
    pub fn kill(&mut self) {
        debug!("stopping {} ({})", self.name, self.pid);
        for c in &mut self.companions {
            c.kill();
        }
        stop(self.pid, self.start);
        if let Some(c) = &mut self.child {
            let _ = c.wait();
        }
    }

    /// How the helper ended, for an error message (" (exit status 1)").
    pub fn wait_exited(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(self.pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            ) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => {
                    return format!(" (exit status {c})")
                }
                Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => {
                    return format!(" (killed by {s})")
                }
                Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                _ => return String::new(),
            }
        }
    }
}

/// Helpers killed but not waited for (see [`stop`]), reaped by [`reap_dying`].
static DYING: std::sync::Mutex<Vec<(OwnedFd, i32)>> = std::sync::Mutex::new(Vec::new());

/// slirp4netns takes 15-25 ms to die (the kernel unregisters its tap
/// device); when it holds no host port nobody needs to wait for that.
fn slow_and_portless(pid: i32) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    comm.trim_end() == "slirp4netns" && !String::from_utf8_lossy(&cmdline).contains("--api-socket")
}

/// Kill a helper recorded as `pid` started at `start`, if it is still that
/// process, and wait (up to 2 s) until it is gone so its ports are free.
/// A portless slirp4netns is only signalled: the monitor reaps it with
/// [`reap_dying`] after telling its clients, like podman, which never
/// waits for slirp4netns.
pub fn stop(pid: i32, start: u64) {
    use crate::sys::pidfd;
    if pid <= 0 {
        return;
    }
    if let Some(fd) = pidfd::open_verified(pid, start) {
        let slow = slow_and_portless(pid);
        let _ = pidfd::pidfd_send_signal(&fd, libc::SIGKILL);
        if slow {
            if let Ok(mut d) = DYING.lock() {
                d.push((fd, pid));
            }
            return;
        }
        let _ = pidfd::pidfd_wait(&fd, 2000);
        // Reap it if it is our child (the monitor's), so no zombie is left.
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
    }
}

/// Wait for the helpers [`stop`] only signalled, and reap those that are
/// our children, so none is left as a zombie.
pub fn reap_dying() {
    let dying = DYING
        .lock()
        .map(|mut d| std::mem::take(&mut *d))
        .unwrap_or_default();
    for (fd, pid) in dying {
        let _ = crate::sys::pidfd::pidfd_wait(&fd, 2000);
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
    }
}

/// A close-on-exec pipe (read, write).
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")
}

/// Spawn `cmd` so that it inherits `fds` at their current numbers; nothing
/// else (another thread's child included) gets them.
pub fn spawn_with_fds(cmd: &mut Command, fds: &[BorrowedFd]) -> Result<Child> {
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    crate::sys::netfd::inherit_on_spawn(cmd, &raw);
    Ok(cmd.spawn()?)
}

/// `name` on $PATH (or the usual directories), or an error naming the
/// Debian/Fedora package that provides it.
pub fn find_binary(name: &str, package: &str) -> Result<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin"].iter().map(PathBuf::from))
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("{name} not found in $PATH: install the \"{package}\" package; it provides rootless container networking")
        })
}

/// Both helpers need a tap device: fail early, naming the device, when it
/// can't be opened (it ships 0600 root on some systems).
pub fn check_tun(who: &str) -> Result<()> {
    check_tun_at(Path::new("/dev/net/tun"), who)
}

fn check_tun_at(dev: &Path, who: &str) -> Result<()> {
    match std::fs::OpenOptions::new().read(true).write(true).open(dev) {
        Ok(_) => Ok(()),
        Err(e) => bail!(
            "{who} needs {d}: open {d}: {e}; make it readable and writable by users \
             (mode 0666, as most distributions ship it), or use --network none or --network host",
            d = dev.display()
        ),
    }
}

/// The last lines of a helper's log, as "`: TEXT`" for an error message.
pub fn log_tail(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // The lines that say what failed, else the last ones.
    let errs: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("rror") || l.contains("fail") || l.contains("denied"))
        .collect();
    let pick = if errs.is_empty() { &lines } else { &errs };
    let tail = pick[pick.len().saturating_sub(3)..].join("; ");
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

/// A small cache file, replaced atomically (a torn cache is only re-made).
pub fn write_small(p: &Path, bytes: &[u8]) -> Result<()> {
    crate::storage::write_atomic_volatile(p, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_tun_names_the_device() {
        let e = check_tun_at(Path::new("/nonexistent/net/tun"), "slirp4netns")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("slirp4netns needs /nonexistent/net/tun: open /nonexistent/net/tun: "),
            "{e}"
        );
    }

    #[test]
    fn missing_binary_names_the_package() {
        let e = find_binary("no-such-helper-xyz", "passt")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no-such-helper-xyz") && e.contains("\"passt\" package"),
            "{e}"
        );
    }

    #[test]
    fn spawned_child_sees_the_fd_and_others_do_not() {
        let (r, w) = pipe().unwrap();
        let n = w.as_raw_fd();
        let mut c = spawn_with_fds(
            // Not `>&{n}`: dash only takes one-digit fds, and a busy test
            // process has more open.
            Command::new("sh").args(["-c", &format!("echo hi > /proc/self/fd/{n}")]),
            &[std::os::fd::AsFd::as_fd(&w)],
        )
        .unwrap();
        drop(w);
        assert!(c.wait().unwrap().success());
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut s).unwrap();
        assert_eq!(s, "hi\n");
        // Close-on-exec is back: a later child can't write to it.
        let (_r2, w2) = pipe().unwrap();
        let n2 = w2.as_raw_fd();
        let st = Command::new("sh")
            .args(["-c", &format!("echo x > /proc/self/fd/{n2}")])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!st.success());
    }
}
