//! Our terminal: its window size (the ioctls nix only offers as unsafe
//! macros) and raw mode. The copy loop that uses them is `sys::pump`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// Rows and columns of a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WinSize {
    pub rows: u16,
    pub cols: u16,
}

/// `TIOCGWINSZ`.
pub fn get_winsize(fd: BorrowedFd<'_>) -> io::Result<WinSize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(WinSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// `TIOCSWINSZ`.
pub fn set_winsize(fd: BorrowedFd<'_>, size: WinSize) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the struct we pass.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// True when our stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    nix::unistd::isatty(io::stdin().as_raw_fd()).unwrap_or(false)
}

/// Our terminal's size, if stdin is one (and says a size).
pub fn terminal_size() -> Option<WinSize> {
    get_winsize(io::stdin().as_fd())
        .ok()
        .filter(|w| w.rows > 0 && w.cols > 0)
}

/// Our stdin in raw mode (`cfmakeraw`) while a terminal session is
/// proxied; the saved mode comes back on drop. rpod's one raw-mode switch
/// (`attach`, `exec -t`, `rpod oci run` with a pty).
pub struct RawMode(nix::sys::termios::Termios);

impl RawMode {
    /// None when stdin is no terminal or refuses raw mode.
    pub fn stdin() -> Option<RawMode> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let _ = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}
