//! The client side of attaching: proxy our stdin/stdout/stderr to a
//! container's monitor, with raw mode and window-size changes for a tty, the
//! detach keys, and signal forwarding.

use crate::monitor::attach as proto;
use crate::sys::pump::{self, Peer, Stop};
use crate::sys::tty;
use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

pub struct AttachOpts {
    /// Forward our stdin.
    pub stdin: bool,
    pub tty: bool,
    /// The detach sequence; empty disables detaching.
    pub detach_keys: Vec<u8>,
    pub sig_proxy: bool,
    /// Drop the container's stdout / stderr (`run -a` naming only the other).
    pub no_stdout: bool,
    pub no_stderr: bool,
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

pub use crate::sys::pump::{parse_detach_keys, DetachMatcher};
pub use crate::sys::tty::{stdin_is_tty, terminal_size};

/// Connect to the monitor in `run_dir` and proxy until the container exits
/// or we detach.
pub fn connect(run_dir: &Path) -> Result<OwnedFd> {
    proto::connect(run_dir).context("attaching to the container")
}

/// The monitor's attach socket as the far side of the stdio pump.
struct Monitor {
    sock: OwnedFd,
    no_stdout: bool,
    no_stderr: bool,
}

impl Monitor {
    fn send(&self, kind: u8, payload: &[u8]) {
        // A monitor that went away is noticed when its socket is read.
        let _ = proto::send(&self.sock, kind, payload);
    }
}

impl Peer for Monitor {
    type End = End;

    fn output_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.sock.as_fd())
    }

    fn output(&mut self, buf: &mut [u8]) -> Result<Option<End>> {
        let n = match proto::recv(&self.sock, buf) {
            Ok(0) => return Ok(Some(End::Lost)),
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => return Ok(None),
            Err(nix::errno::Errno::ECONNRESET) => return Ok(Some(End::Lost)),
            Err(e) => return Err(e).context("reading from the container monitor"),
        };
        let payload = &buf[1..n];
        match buf[0] {
            proto::STDOUT if !self.no_stdout => {
                pump::write_out(&mut std::io::stdout().lock(), payload)?
            }
            proto::STDERR if !self.no_stderr => {
                pump::write_out(&mut std::io::stderr().lock(), payload)?
            }
            proto::EXIT => return Ok(Some(End::Exited(proto::parse_i32(payload).unwrap_or(-1)))),
            proto::ERROR => {
                return Ok(Some(End::Failed(
                    String::from_utf8_lossy(payload).into_owned(),
                )))
            }
            _ => {}
        }
        Ok(None)
    }

    fn input(&mut self, data: &[u8]) -> Result<()> {
        self.send(proto::STDIN, data);
        Ok(())
    }

    fn input_eof(&mut self) {
        self.send(proto::STDIN_EOF, &[]);
    }

    fn resize(&mut self, ws: tty::WinSize) {
        self.send(proto::RESIZE, &proto::resize_payload(ws.rows, ws.cols));
    }

    fn signal(&mut self, signal: Signal) {
        self.send(proto::SIGNAL, &proto::i32_payload(signal as i32));
    }
}

/// Proxy our stdio to the monitor on `sock` until the container exits or
/// we detach.
pub fn session(sock: OwnedFd, o: &AttachOpts) -> Result<End> {
    let use_tty = o.tty && stdin_is_tty();
    let mut monitor = Monitor {
        sock,
        no_stdout: o.no_stdout,
        no_stderr: o.no_stderr,
    };
    if use_tty {
        if let Some(ws) = terminal_size() {
            monitor.resize(ws);
        }
    }
    let proxy = if o.sig_proxy {
        vec![
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
        ]
    } else {
        Vec::new()
    };
    let s = pump::Session {
        stdin: o.stdin,
        raw: use_tty && o.stdin,
        detach_keys: if use_tty {
            o.detach_keys.clone()
        } else {
            Vec::new()
        },
        proxy,
        tick: None,
        buf_size: proto::MAX_PAYLOAD + 1,
        input_max: proto::MAX_PAYLOAD,
    };
    Ok(match pump::run(&s, &mut monitor)? {
        Stop::Ended(end) => end,
        Stop::Detached => End::Detached,
    })
}
