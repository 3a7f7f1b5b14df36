//! rpod's one stdio pump: our terminal on one side, a container process on
//! the other (a pty master for `exec -t` and `rpod oci run|exec`, the
//! monitor's attach socket for `attach`/`run`/`start -a`), in small pieces
//! as conmon-rs has them:
//!
//! * [`read_chunk`] / [`write_all`]: one read and a full write on a raw fd,
//!   with EINTR, EAGAIN and a pty master's EIO ("every slave is closed")
//!   handled the same way everywhere (the monitor's event loop uses them too);
//! * [`DetachMatcher`] / [`parse_detach_keys`]: the detach sequence
//!   (`ctrl-p,ctrl-q`), found even when a read splits it;
//! * [`run`]: the synchronous loop. It puts stdin in raw mode when asked,
//!   catches SIGWINCH (and the signals to proxy) on a signalfd, polls stdin
//!   and the [`Peer`]'s output, and calls the peer for what happens: output
//!   ready, input typed (detach keys taken out), stdin EOF, a new window
//!   size, a signal, a timer tick. The peer says when the session ends.
//!
//! The monitor's side of attach (`monitor::event_loop`) is not this loop: it
//! serves many clients, a log and held output, and never touches a
//! terminal. The TCP port forwarder (`network::portfwd`) is not either:
//! it moves sockets to sockets in both directions at once with splice, one
//! thread per connection, with no terminal, signal or detach handling.

use super::tty::{self, WinSize};
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

/// What one [`read_chunk`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// This many bytes.
    Data(usize),
    /// End of file: a 0-byte read, or EIO from a pty master whose slaves
    /// are all closed.
    Eof,
    /// Nothing now (EINTR, or EAGAIN on a non-blocking fd); poll again.
    Again,
}

/// One read(2) from `fd` into `buf`.
pub fn read_chunk(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<Chunk> {
    match nix::unistd::read(fd.as_raw_fd(), buf) {
        Ok(0) | Err(Errno::EIO) => Ok(Chunk::Eof),
        Ok(n) => Ok(Chunk::Data(n)),
        Err(Errno::EINTR) | Err(Errno::EAGAIN) => Ok(Chunk::Again),
        Err(e) => Err(e),
    }
}

/// Write all of `data` to `fd`, retrying EINTR and waiting out EAGAIN on a
/// non-blocking fd.
pub fn write_all<F: AsFd>(fd: F, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(&fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Write `data` to one of our output streams and flush it (a terminal
/// session shows output as it comes).
pub fn write_out(out: &mut dyn Write, data: &[u8]) -> std::io::Result<()> {
    out.write_all(data)?;
    out.flush()
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

/// The far side of a session. Only [`Peer::output_fd`] and
/// [`Peer::output`] are required; the rest default to doing nothing.
pub trait Peer {
    /// How the far side's end is reported (an exit code, ...).
    type End;
    /// The fd to poll for output; None while there is nothing to read.
    fn output_fd(&self) -> Option<BorrowedFd<'_>>;
    /// The output fd is ready (readable, hung up or in error): read it and
    /// write what came to our stdout/stderr. Some ends the session.
    fn output(&mut self, buf: &mut [u8]) -> Result<Option<Self::End>>;
    /// Input the user typed, with the detach keys taken out.
    fn input(&mut self, _data: &[u8]) -> Result<()> {
        Ok(())
    }
    /// Our stdin reached end of file (it is not read again).
    fn input_eof(&mut self) {}
    /// Our terminal's new size (SIGWINCH).
    fn resize(&mut self, _size: WinSize) {}
    /// A signal from [`Session::proxy`] arrived.
    fn signal(&mut self, _signal: Signal) {}
    /// Called before every poll: Some ends the session (a child that
    /// exited). With [`Session::tick`] it runs at least that often.
    fn check(&mut self) -> Result<Option<Self::End>> {
        Ok(None)
    }
}

/// How [`run`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop<E> {
    /// The peer ended the session.
    Ended(E),
    /// The user typed the detach keys.
    Detached,
}

/// What [`run`] does on our side.
#[derive(Debug, Default)]
pub struct Session {
    /// Read our stdin and give it to the peer.
    pub stdin: bool,
    /// Put our stdin in raw mode for the session (when it is a terminal).
    pub raw: bool,
    /// The detach sequence; empty disables detaching.
    pub detach_keys: Vec<u8>,
    /// Signals caught and handed to [`Peer::signal`] (SIGWINCH is always
    /// caught, for [`Peer::resize`]). They stay blocked afterwards.
    pub proxy: Vec<Signal>,
    /// Wake up this often even when nothing happens (None: never).
    pub tick: Option<Duration>,
    /// The buffer [`Peer::output`] reads into.
    pub buf_size: usize,
    /// The most stdin bytes read at once (0: `buf_size`); the attach
    /// protocol's packets have a payload limit.
    pub input_max: usize,
}

/// Pump between our stdio and `peer` until the peer ends the session or
/// the user detaches.
pub fn run<P: Peer>(s: &Session, peer: &mut P) -> Result<Stop<P::End>> {
    let _raw = if s.raw { tty::RawMode::stdin() } else { None };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    for sig in &s.proxy {
        mask.add(*sig);
    }
    mask.thread_block().context("blocking signals")?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("creating a signalfd")?;
    let stdin = std::io::stdin();
    let mut stdin_open = s.stdin;
    let mut matcher = DetachMatcher::new(s.detach_keys.clone());
    let mut buf = vec![0u8; s.buf_size.max(1024)];
    let timeout = match s.tick {
        Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
        None => PollTimeout::NONE,
    };
    loop {
        if let Some(end) = peer.check()? {
            return Ok(Stop::Ended(end));
        }
        // Poll set: the signalfd, the peer's output, our stdin.
        let (ev_sig, ev_out, ev_in) = {
            let out_fd = peer.output_fd();
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if let Some(fd) = out_fd {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e).context("poll"),
            }
            let ready = |f: &PollFd| {
                f.revents().is_some_and(|r| {
                    r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                })
            };
            let out_i = out_fd.map(|_| 1);
            let in_i = stdin_open.then(|| 1 + usize::from(out_i.is_some()));
            (
                ready(&fds[0]),
                out_i.is_some_and(|i| ready(&fds[i])),
                in_i.is_some_and(|i| ready(&fds[i])),
            )
        };
        if ev_sig {
            while let Ok(Some(si)) = sfd.read_signal() {
                match Signal::try_from(si.ssi_signo as i32) {
                    Ok(Signal::SIGWINCH) => {
                        if let Some(ws) = tty::terminal_size() {
                            peer.resize(ws);
                        }
                    }
                    Ok(sig) => peer.signal(sig),
                    Err(_) => {}
                }
            }
        }
        if ev_out {
            if let Some(end) = peer.output(&mut buf)? {
                return Ok(Stop::Ended(end));
            }
        }
        if ev_in {
            let max = match s.input_max {
                0 => buf.len(),
                m => m.min(buf.len()),
            };
            match read_chunk(stdin.as_fd(), &mut buf[..max]) {
                Ok(Chunk::Again) => {}
                Ok(Chunk::Eof) | Err(_) => {
                    stdin_open = false;
                    peer.input_eof();
                }
                Ok(Chunk::Data(n)) => {
                    let (fwd, detach) = matcher.feed(&buf[..n]);
                    if !fwd.is_empty() {
                        peer.input(&fwd)?;
                    }
                    if detach {
                        return Ok(Stop::Detached);
                    }
                }
            }
        }
    }
}

/// A pty master as a [`Peer`]: its output to our stdout, input and window
/// sizes to it. The session ends when every slave is closed, unless
/// `end_on_eof` is false (then the master is only no longer read, and
/// another peer wrapping this one decides).
pub struct PtyMaster<'a> {
    master: BorrowedFd<'a>,
    open: bool,
    end_on_eof: bool,
}

impl<'a> PtyMaster<'a> {
    pub fn new(master: BorrowedFd<'a>, end_on_eof: bool) -> Self {
        PtyMaster {
            master,
            open: true,
            end_on_eof,
        }
    }

    /// Copy what the master still holds to stdout without waiting (after
    /// the process is gone).
    pub fn drain(&self) {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let _ = fcntl(
            self.master.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
        );
        let mut buf = [0u8; 8192];
        let mut out = std::io::stdout().lock();
        while let Ok(Chunk::Data(n)) = read_chunk(self.master, &mut buf) {
            let _ = out.write_all(&buf[..n]);
        }
        let _ = out.flush();
    }
}

impl Peer for PtyMaster<'_> {
    type End = ();

    fn output_fd(&self) -> Option<BorrowedFd<'_>> {
        self.open.then_some(self.master)
    }

    fn output(&mut self, buf: &mut [u8]) -> Result<Option<()>> {
        match read_chunk(self.master, buf).context("reading the pty")? {
            Chunk::Data(n) => write_out(&mut std::io::stdout().lock(), &buf[..n])?,
            Chunk::Again => {}
            Chunk::Eof if self.end_on_eof => return Ok(Some(())),
            Chunk::Eof => self.open = false,
        }
        Ok(None)
    }

    fn input(&mut self, data: &[u8]) -> Result<()> {
        // A process that stopped reading its terminal loses the input.
        let _ = write_all(self.master, data);
        Ok(())
    }

    fn resize(&mut self, size: WinSize) {
        let _ = tty::set_winsize(self.master, size);
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

    #[test]
    fn chunks_say_eof_again_and_data() {
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::fcntl::fcntl(
            r.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(read_chunk(r.as_fd(), &mut buf).unwrap(), Chunk::Again);
        write_all(&w, b"hello").unwrap();
        assert_eq!(read_chunk(r.as_fd(), &mut buf).unwrap(), Chunk::Data(5));
        assert_eq!(&buf[..5], b"hello");
        drop(w);
        assert_eq!(read_chunk(r.as_fd(), &mut buf).unwrap(), Chunk::Eof);
    }

    /// A pipe as the far side: the loop ends at its EOF, having passed on
    /// what came and given the peer the signals it proxies.
    #[test]
    fn the_loop_runs_until_the_peer_ends_it() {
        struct P {
            r: std::os::fd::OwnedFd,
            got: Vec<u8>,
            checks: usize,
        }
        impl Peer for P {
            type End = usize;
            fn output_fd(&self) -> Option<BorrowedFd<'_>> {
                Some(self.r.as_fd())
            }
            fn output(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
                Ok(match read_chunk(self.r.as_fd(), buf)? {
                    Chunk::Data(n) => {
                        self.got.extend_from_slice(&buf[..n]);
                        None
                    }
                    Chunk::Again => None,
                    Chunk::Eof => Some(self.got.len()),
                })
            }
            fn check(&mut self) -> Result<Option<usize>> {
                self.checks += 1;
                Ok(None)
            }
        }
        let (r, w) = nix::unistd::pipe().unwrap();
        let t = std::thread::spawn(move || {
            write_all(&w, b"abc").unwrap();
            std::thread::sleep(Duration::from_millis(30));
            write_all(&w, b"de").unwrap();
        });
        let mut p = P {
            r,
            got: Vec::new(),
            checks: 0,
        };
        let s = Session {
            tick: Some(Duration::from_millis(10)),
            buf_size: 4096,
            ..Default::default()
        };
        assert_eq!(run(&s, &mut p).unwrap(), Stop::Ended(5));
        t.join().unwrap();
        assert_eq!(p.got, b"abcde");
        assert!(p.checks >= 2, "{}", p.checks);
    }
}
