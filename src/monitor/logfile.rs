//! The container log in k8s-file format, as conmon writes it:
//! `2026-11-28T07:47:15.123456789Z stdout F text` for a whole line and `P`
//! for a chunk that did not end in a newline (the next chunk continues it).

use crate::time;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

pub struct LogWriter {
    file: File,
    buf: Vec<u8>,
    /// `--log-opt max-size` (0: no limit): past it the log starts over
    /// in a new file renamed over the old one, as conmon's k8s-file
    /// rotation does, so a `logs -f` reading the old one loses nothing.
    max: u64,
    size: u64,
    /// Where the log is; without it, rotation truncates in place.
    path: Option<PathBuf>,
}

/// The file written now (a new image of the monitor opens the log again).
impl std::os::fd::AsFd for LogWriter {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl LogWriter {
    pub fn new(file: File) -> LogWriter {
        LogWriter::with_max(file, 0)
    }

    pub fn with_max(file: File, max: u64) -> LogWriter {
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        LogWriter {
            file,
            buf: Vec::with_capacity(4096),
            max,
            size,
            path: None,
        }
    }

    /// Rotate by replacing the file at `path` (the file this writer has).
    /// Only a regular file is replaced: never /dev/null or a device.
    pub fn at(mut self, path: PathBuf) -> LogWriter {
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            self.path = Some(path);
        }
        self
    }

    /// Start the log over: a new empty file in the old one's place, or the
    /// old one truncated when that can't be made.
    fn start_over(&mut self) -> io::Result<()> {
        if let Some(path) = &self.path {
            let mut tmp = path.clone().into_os_string();
            tmp.push(".rotating");
            // A leftover of a monitor killed mid-rotation goes first.
            let _ = std::fs::remove_file(&tmp);
            let fresh = std::fs::OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&tmp)
                .and_then(|f| std::fs::rename(&tmp, path).map(|()| f));
            match fresh {
                Ok(f) => {
                    self.file = f;
                    self.size = 0;
                    return Ok(());
                }
                Err(_) => {
                    let _ = std::fs::remove_file(&tmp);
                }
            }
        }
        self.file.set_len(0)?;
        self.size = 0;
        Ok(())
    }

    /// Log one chunk read from the container, in one write(2).
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        self.write_at(stream, data, time::now_ns())
    }

    pub fn write_at(&mut self, stream: Stream, data: &[u8], ts: i64) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let stamp = time::rfc3339_nano(ts);
        self.buf.clear();
        let mut rest = data;
        while !rest.is_empty() {
            let (line, tag, next) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], "F", &rest[i + 1..]),
                None => (rest, "P", &rest[rest.len()..]),
            };
            // --log-opt max-size: a line that would take the log past it
            // starts it over (what came before in this chunk is written first).
            let entry_len = (stamp.len() + stream.name().len() + line.len() + 5) as u64;
            if self.max > 0 && self.size + self.buf.len() as u64 + entry_len > self.max {
                self.file.write_all(&self.buf)?;
                self.buf.clear();
                self.start_over()?;
            }
            self.buf.extend_from_slice(stamp.as_bytes());
            self.buf.push(b' ');
            self.buf.extend_from_slice(stream.name().as_bytes());
            self.buf.push(b' ');
            self.buf.extend_from_slice(tag.as_bytes());
            self.buf.push(b' ');
            self.buf.extend_from_slice(line);
            self.buf.push(b'\n');
            rest = next;
        }
        self.size += self.buf.len() as u64;
        self.file.write_all(&self.buf)
    }
}

/// One parsed log line.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub ts: i64,
    pub stamp: &'a str,
    pub stream: Stream,
    pub partial: bool,
    pub text: &'a [u8],
}

/// Parse a k8s-file line (without its newline). Unparsable lines are None.
pub fn parse_line(line: &[u8]) -> Option<Entry<'_>> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let stamp = std::str::from_utf8(parts.next()?).ok()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    let text = parts.next().unwrap_or(b"");
    Some(Entry {
        ts: time::parse_rfc3339(stamp)?,
        stamp,
        stream,
        partial,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_size_starts_the_log_over() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .unwrap()
        };
        // Each entry is 30 (stamp) + 1 + 6 + 3 + 2 + 1 bytes = 43.
        let mut w = LogWriter::with_max(open(), 100);
        w.write_at(Stream::Stdout, b"a1\na2\na3\n", 0).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "1970-01-01T00:00:00.000000000Z stdout F a3\n");
        // A new writer counts what the file already holds.
        let mut w = LogWriter::with_max(open(), 100);
        w.write_at(Stream::Stdout, b"b1\nb2\n", 0).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("1970-01-01T00:00:00.000000000Z stdout F b2\n"),
            "{text}"
        );
        assert!(text.len() <= 100);
    }

    #[test]
    fn max_size_with_a_path_replaces_the_file_and_a_reader_keeps_the_old() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .unwrap();
        let mut w = LogWriter::with_max(f, 100).at(p.clone());
        w.write_at(Stream::Stdout, b"a1\n", 0).unwrap();
        let mut reader = File::open(&p).unwrap();
        w.write_at(Stream::Stdout, b"a2\na3\n", 0).unwrap();
        let mut old = String::new();
        std::io::Read::read_to_string(&mut reader, &mut old).unwrap();
        assert_eq!(old.lines().count(), 2, "{old}");
        assert!(old.ends_with("stdout F a2\n"), "{old}");
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "1970-01-01T00:00:00.000000000Z stdout F a3\n");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn full_and_partial_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        let mut w = LogWriter::new(File::create(&p).unwrap());
        w.write_at(Stream::Stdout, b"one\ntwo\nthr", 0).unwrap();
        w.write_at(Stream::Stdout, b"ee\n", 1).unwrap();
        w.write_at(Stream::Stderr, b"\n", 2).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "1970-01-01T00:00:00.000000000Z stdout F one\n\
             1970-01-01T00:00:00.000000000Z stdout F two\n\
             1970-01-01T00:00:00.000000000Z stdout P thr\n\
             1970-01-01T00:00:00.000000001Z stdout F ee\n\
             1970-01-01T00:00:00.000000002Z stderr F \n"
        );
        let lines: Vec<_> = text
            .lines()
            .map(|l| parse_line(l.as_bytes()).unwrap())
            .collect();
        assert!(lines[2].partial);
        assert_eq!(lines[3].text, b"ee");
        assert_eq!(lines[4].stream, Stream::Stderr);
        assert_eq!(lines[4].text, b"");
        assert!(parse_line(b"garbage").is_none());
    }
}
