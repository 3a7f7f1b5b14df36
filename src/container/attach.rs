//! The client side of attaching: proxy our stdin/stdout/stderr to a
//! container's monitor, with raw mode and window-size changes for a tty, the
//! detach keys, and signal forwarding.

use crate::monitor::attach as proto;
use crate::sys::tty;
use anyhow::{bail, Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

pub struct AttachOpts {
    /// Forward our stdin.
    pub stdin: bool,
    pub tty: bool,
    /// The detach sequence; empty disables detaching.
    pub detach_keys: Vec<u8>,
    pub sig_proxy: bool,
}

/// How an attach session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The container exited with this code.
    Exited(i32),
    /// The user typed the detach keys.
    Detached,
    /// The container could not start.
    Failed(String),
    /// The monitor went away without a word (killed).
    Lost,
}

/// podman's `--detach-keys` syntax: `ctrl-p,ctrl-q`, `a`, `ctrl-@`, …
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(out);
    }
    for k in s.split(',') {
        let b = if let Some(c) = k.strip_prefix("ctrl-") {
            match c.as_bytes() {
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => bail!("invalid detach key {k:?} in {s:?}: use ctrl-<a-z@[\\]^_> or a single character"),
            }
        } else if k.len() == 1 {
            k.as_bytes()[0]
        } else {
            bail!("invalid detach key {k:?} in {s:?}: use ctrl-<a-z@[\\]^_> or a single character");
        };
        out.push(b);
    }
    Ok(out)
}

/// Finds the detach sequence in a byte stream that may split it.
pub struct DetachMatcher {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachMatcher {
    pub fn new(keys: Vec<u8>) -> Self {
        DetachMatcher { keys, matched: 0 }
    }

    /// Feed input; returns (bytes to forward, detach?). A partial match is
    /// held back until it completes or breaks.
    pub fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        if self.keys.is_empty() {
            out.extend_from_slice(data);
            return (out, false);
        }
        for &b in data {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

pub fn stdin_is_tty() -> bool {
    nix::unistd::isatty(std::io::stdin().as_raw_fd()).unwrap_or(false)
}

/// Our terminal's size, if stdin is one.
pub fn terminal_size() -> Option<tty::WinSize> {
    tty::get_winsize(std::io::stdin().as_fd())
        .ok()
        .filter(|w| w.rows > 0 && w.cols > 0)
}

/// Connect to the monitor in `run_dir` and proxy until the container exits
/// or we detach.
pub fn connect(run_dir: &Path) -> Result<OwnedFd> {
    proto::connect(run_dir).context("attaching to the container")
}

pub fn session(sock: OwnedFd, o: &AttachOpts) -> Result<End> {
    let stdin = std::io::stdin();
    let use_tty = o.tty && stdin_is_tty();
    let _raw = if use_tty && o.stdin {
        tty::RawMode::stdin()
    } else {
        None
    };
    if use_tty {
        if let Some(ws) = terminal_size() {
            let _ = proto::send(
                &sock,
                proto::RESIZE,
                &proto::resize_payload(ws.rows, ws.cols),
            );
        }
    }
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    if o.sig_proxy {
        for s in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
        ] {
            mask.add(s);
        }
    }
    mask.thread_block().context("blocking signals")?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("creating a signalfd")?;
    let mut matcher = DetachMatcher::new(if use_tty {
        o.detach_keys.clone()
    } else {
        Vec::new()
    });
    let mut stdin_open = o.stdin;
    let mut buf = vec![0u8; proto::MAX_PAYLOAD + 1];
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    loop {
        let (ev_sock, ev_in, ev_sig) = {
            let mut fds = vec![
                PollFd::new(sock.as_fd(), PollFlags::POLLIN),
                PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            ];
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("poll"),
            }
            let ready = |f: &PollFd| {
                f.revents()
                    .map(|r| {
                        r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                    })
                    .unwrap_or(false)
            };
            (
                ready(&fds[0]),
                fds.get(2).map(ready).unwrap_or(false),
                ready(&fds[1]),
            )
        };
        if ev_sig {
            while let Ok(Some(si)) = sfd.read_signal() {
                let signo = si.ssi_signo as i32;
                if signo == libc::SIGWINCH {
                    if let Some(ws) = terminal_size() {
                        let _ = proto::send(
                            &sock,
                            proto::RESIZE,
                            &proto::resize_payload(ws.rows, ws.cols),
                        );
                    }
                } else {
                    let _ = proto::send(&sock, proto::SIGNAL, &proto::i32_payload(signo));
                }
            }
        }
        if ev_sock {
            let n = match proto::recv(&sock, &mut buf) {
                Ok(0) => return Ok(End::Lost),
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ECONNRESET) => return Ok(End::Lost),
                Err(e) => return Err(e).context("reading from the container monitor"),
            };
            let payload = &buf[1..n];
            match buf[0] {
                proto::STDOUT => {
                    out.write_all(payload)?;
                    out.flush()?;
                }
                proto::STDERR => {
                    err.write_all(payload)?;
                    err.flush()?;
                }
                proto::EXIT => return Ok(End::Exited(proto::parse_i32(payload).unwrap_or(-1))),
                proto::ERROR => {
                    return Ok(End::Failed(String::from_utf8_lossy(payload).into_owned()))
                }
                _ => {}
            }
        }
        if ev_in {
            let n = match nix::unistd::read(stdin.as_raw_fd(), &mut buf[..proto::MAX_PAYLOAD]) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => continue,
                Err(_) => 0,
            };
            if n == 0 {
                stdin_open = false;
                let _ = proto::send(&sock, proto::STDIN_EOF, &[]);
                continue;
            }
            let (fwd, detach) = matcher.feed(&buf[..n]);
            if !fwd.is_empty() {
                let _ = proto::send(&sock, proto::STDIN, &fwd);
            }
            if detach {
                return Ok(End::Detached);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("").unwrap().is_empty());
    }

    #[test]
    fn detach_sequence_across_reads() {
        let mut m = DetachMatcher::new(vec![16, 17]);
        assert_eq!(m.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(m.feed(b"x"), (b"\x10x".to_vec(), false));
        assert_eq!(m.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(m.feed(b"\x11rest"), (Vec::new(), true));
        let mut none = DetachMatcher::new(vec![]);
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
