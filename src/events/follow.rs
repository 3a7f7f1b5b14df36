//! Following the events log as it grows (`events` streaming): inotify on
//! the log's directory wakes us for appends and for the rename a rotation
//! makes; a signalfd ends the stream on SIGINT/SIGTERM/SIGHUP; stdout is in
//! the poll set too, so a pipe whose reader went away ends it at once
//! rather than at the next event. No timer, no polling loop.

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

/// The open log and how far it has been read.
struct Tail {
    file: Option<File>,
    ino: u64,
    pos: u64,
    /// The start of a line whose end is not written yet.
    partial: Vec<u8>,
    /// The last whole line passed on: where to go on in a rotated log.
    last: Vec<u8>,
}

impl Tail {
    fn open(path: &Path) -> Option<(File, u64)> {
        let f = File::open(path).ok()?;
        let ino = f.metadata().ok()?.ino();
        Some((f, ino))
    }

    /// Read what was appended; the complete lines go to `out`.
    fn drain(&mut self, out: &mut dyn FnMut(&[u8]) -> Result<bool>) -> Result<bool> {
        let Some(f) = &mut self.file else {
            return Ok(true);
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.pos {
            // Truncated in place: start over.
            self.pos = 0;
            self.partial.clear();
        }
        if len == self.pos {
            return Ok(true);
        }
        f.seek(SeekFrom::Start(self.pos))?;
        let mut buf = std::mem::take(&mut self.partial);
        let n = f.take(len - self.pos).read_to_end(&mut buf)?;
        self.pos += n as u64;
        let cut = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.partial = buf.split_off(cut);
        if buf.is_empty() {
            return Ok(true);
        }
        let body = &buf[..buf.len() - 1];
        let from = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.last = body[from..].to_vec();
        out(&buf)
    }
}

/// Follow `path`: from its start (`from_start`) or its end, until `until`
/// (epoch ns) passes, a terminating signal arrives, stdout's reader is gone,
/// or `out` returns false. `out` gets whole lines.
pub(super) fn follow(
    path: &Path,
    from_start: bool,
    until: Option<i64>,
    out: &mut dyn FnMut(&[u8]) -> Result<bool>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().map(|n| n.to_os_string());
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut mask = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block().context("blocking signals")?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("creating a signalfd")?;
    let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
        .context("creating an inotify instance")?;
    ino.add_watch(
        dir,
        AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF,
    )
    .with_context(|| format!("watching {}", dir.display()))?;

    // Opened after the watch: nothing written in between is missed.
    let mut t = Tail {
        file: None,
        ino: 0,
        pos: 0,
        partial: Vec::new(),
        last: Vec::new(),
    };
    if let Some((mut f, i)) = Tail::open(path) {
        if !from_start {
            t.pos = f.seek(SeekFrom::End(0))?;
        }
        t.file = Some(f);
        t.ino = i;
    }
    if !t.drain(out)? {
        return Ok(());
    }
    let stdout = std::io::stdout();
    loop {
        let timeout = match until {
            Some(u) => {
                let left = u - crate::time::now_ns();
                if left <= 0 {
                    return Ok(());
                }
                let ms = (left / 1_000_000 + 1).min(i32::MAX as i64) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let (sig, changed, gone) = {
            let mut fds = [
                PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
                PollFd::new(ino.as_fd(), PollFlags::POLLIN),
                // No events asked: POLLERR/POLLHUP come anyway, when a
                // pipe's reader has closed it (POLLNVAL: no stdout at all,
                // nothing could be printed).
                PollFd::new(stdout.as_fd(), PollFlags::empty()),
            ];
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e).context("poll"),
            }
            let has = |f: &PollFd, fl: PollFlags| f.revents().is_some_and(|r| r.intersects(fl));
            (
                has(&fds[0], PollFlags::POLLIN),
                has(&fds[1], PollFlags::POLLIN),
                has(
                    &fds[2],
                    PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL,
                ),
            )
        };
        if sig || gone {
            return Ok(());
        }
        if !changed {
            continue;
        }
        let mut reopen = false;
        let mut dir_gone = false;
        loop {
            match ino.read_events() {
                Ok(evs) if !evs.is_empty() => {
                    for e in evs {
                        if e.mask
                            .intersects(AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF)
                        {
                            dir_gone = true;
                        }
                        if e.name.is_some()
                            && e.name == name
                            && e.mask
                                .intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
                        {
                            reopen = true;
                        }
                    }
                }
                Ok(_) | Err(Errno::EAGAIN) => break,
                Err(e) => return Err(e).context("reading inotify events"),
            }
        }
        // The old file first: what was appended before a rotation.
        if !t.drain(out)? {
            return Ok(());
        }
        if reopen || t.file.is_none() {
            if let Some((f, i)) = Tail::open(path) {
                if t.file.is_none() || i != t.ino {
                    let rotated = t.file.is_some();
                    t.file = Some(f);
                    t.ino = i;
                    t.pos = 0;
                    t.partial.clear();
                    if rotated {
                        t.pos = resume_after(path, &t.last);
                    }
                    if !t.drain(out)? {
                        return Ok(());
                    }
                }
            }
        }
        if dir_gone {
            return Ok(());
        }
    }
}

/// Where the unseen events start in a rotated log: a rotation keeps the
/// newest part of the old log, whole lines, so they follow the last line
/// read from it when that line is still there, and are all of the new log
/// when it was dropped (each line carries a nanosecond time: it is unique).
fn resume_after(path: &Path, last: &[u8]) -> u64 {
    if last.is_empty() {
        return 0;
    }
    let Ok(buf) = std::fs::read(path) else {
        return 0;
    };
    let mut needle = last.to_vec();
    needle.push(b'\n');
    memchr::memmem::find_iter(&buf, &needle)
        .find(|&at| at == 0 || buf[at - 1] == b'\n')
        .map_or(0, |at| (at + needle.len()) as u64)
}
