//! The attach protocol between the monitor and its clients (`run`,
//! `attach`, `start -a`): a SOCK_SEQPACKET unix socket, so every message is
//! one packet whose first byte says what it is.
//!
//! client -> monitor: [`STDIN`] data, [`STDIN_EOF`], [`RESIZE`] rows:u16
//! cols:u16 (LE), [`SIGNAL`] signo:i32 (LE).
//! monitor -> client: [`STDOUT`] data, [`STDERR`] data, [`EXIT`] code:i32
//! (LE), [`ERROR`] message (the container could not start).
//!
//! The socket path is longer than a sun_path allows (the runroot plus a
//! 64-hex id), so both sides reach it through `/proc/self/fd/N/attach`,
//! N being an open fd of its directory, as conmon does.

use anyhow::{Context, Result};
use nix::sys::socket::{self, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

pub const STDIN: u8 = 0;
pub const STDIN_EOF: u8 = 1;
pub const RESIZE: u8 = 2;
pub const SIGNAL: u8 = 3;

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const ERROR: u8 = 4;

/// Payload bytes per packet; stays well under the socket buffer.
pub const MAX_PAYLOAD: usize = 32 * 1024;

pub const SOCKET_NAME: &str = "attach";

fn short_addr(dir: &File) -> Result<UnixAddr> {
    let p = format!("/proc/self/fd/{}/{SOCKET_NAME}", dir.as_raw_fd());
    Ok(UnixAddr::new(p.as_str())?)
}

fn open_dir(dir: &Path) -> Result<File> {
    File::open(dir).with_context(|| format!("opening {}", dir.display()))
}

/// Bind and listen on `dir/attach` (non-blocking, close-on-exec).
pub fn listen(dir: &Path) -> Result<OwnedFd> {
    let d = open_dir(dir)?;
    let _ = std::fs::remove_file(dir.join(SOCKET_NAME));
    let s = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .context("creating the attach socket")?;
    socket::bind(s.as_raw_fd(), &short_addr(&d)?)
        .with_context(|| format!("binding {}", dir.join(SOCKET_NAME).display()))?;
    socket::listen(&s, Backlog::new(16)?).context("listening on the attach socket")?;
    Ok(s)
}

/// Connect to the monitor's attach socket in `dir` (blocking).
pub fn connect(dir: &Path) -> Result<OwnedFd> {
    let d = open_dir(dir)?;
    let s = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("creating a socket")?;
    socket::connect(s.as_raw_fd(), &short_addr(&d)?)
        .with_context(|| format!("connecting to {}", dir.join(SOCKET_NAME).display()))?;
    Ok(s)
}

/// Accept one client (non-blocking, close-on-exec); None when none waits.
pub fn accept(listener: &OwnedFd) -> Option<OwnedFd> {
    crate::sys::sock::accept_nonblock(listener).ok()
}

/// Send one packet: `kind` then `payload`. Never raises SIGPIPE.
pub fn send(fd: &OwnedFd, kind: u8, payload: &[u8]) -> nix::Result<()> {
    let mut pkt = Vec::with_capacity(payload.len() + 1);
    pkt.push(kind);
    pkt.extend_from_slice(payload);
    socket::send(fd.as_raw_fd(), &pkt, MsgFlags::MSG_NOSIGNAL).map(drop)
}

/// Receive one packet into `buf`; Ok(0) is the peer closing.
pub fn recv(fd: &OwnedFd, buf: &mut [u8]) -> nix::Result<usize> {
    socket::recv(fd.as_raw_fd(), buf, MsgFlags::empty())
}

pub fn i32_payload(v: i32) -> [u8; 4] {
    v.to_le_bytes()
}

pub fn parse_i32(p: &[u8]) -> Option<i32> {
    Some(i32::from_le_bytes(p.get(..4)?.try_into().ok()?))
}

pub fn resize_payload(rows: u16, cols: u16) -> [u8; 4] {
    let r = rows.to_le_bytes();
    let c = cols.to_le_bytes();
    [r[0], r[1], c[0], c[1]]
}

pub fn parse_resize(p: &[u8]) -> Option<(u16, u16)> {
    let b = p.get(..4)?;
    Some((
        u16::from_le_bytes([b[0], b[1]]),
        u16::from_le_bytes([b[2], b[3]]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_cross_a_long_path() {
        let d = tempfile::tempdir().unwrap();
        let long = d.path().join("x".repeat(60)).join("y".repeat(64));
        std::fs::create_dir_all(&long).unwrap();
        let l = listen(&long).unwrap();
        let c = connect(&long).unwrap();
        let s = loop {
            if let Some(s) = accept(&l) {
                break s;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        send(&c, RESIZE, &resize_payload(24, 80)).unwrap();
        send(&s, EXIT, &i32_payload(137)).unwrap();
        let mut buf = [0u8; 64];
        let n = loop {
            match recv(&s, &mut buf) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EAGAIN) => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(buf[0], RESIZE);
        assert_eq!(parse_resize(&buf[1..n]), Some((24, 80)));
        let n = recv(&c, &mut buf).unwrap();
        assert_eq!((buf[0], parse_i32(&buf[1..n])), (EXIT, Some(137)));
        drop(s);
        assert_eq!(recv(&c, &mut buf).unwrap(), 0);
    }
}
