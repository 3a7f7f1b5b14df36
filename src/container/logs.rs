//! `logs`: read the k8s-file log back, with `--tail`, `--since`,
//! `--until`, `-t` and `-f`, into writers the caller passes.

use super::record::{self, Paths};
use crate::monitor::logfile::{parse_line, Stream};
use anyhow::{Context, Result};
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

struct Opts {
    since: Option<i64>,
    until: Option<i64>,
    timestamps: bool,
}

/// Write the complete lines of `data` that pass the filters; returns how
/// many bytes were consumed (a trailing line without newline waits).
fn emit(
    data: &[u8],
    o: &Opts,
    out: &mut dyn Write,
    err: &mut dyn Write,
    at_line_start: &mut bool,
) -> Result<usize> {
    let mut used = 0;
    for line in data.split_inclusive(|b| *b == b'\n') {
        if !line.ends_with(b"\n") {
            break;
        }
        used += line.len();
        let Some(e) = parse_line(&line[..line.len() - 1]) else {
            continue;
        };
        if o.since.is_some_and(|s| e.ts < s) || o.until.is_some_and(|u| e.ts > u) {
            continue;
        }
        let w: &mut dyn Write = match e.stream {
            Stream::Stdout => out,
            Stream::Stderr => err,
        };
        if o.timestamps && *at_line_start {
            w.write_all(e.stamp.as_bytes())?;
            w.write_all(b" ")?;
        }
        w.write_all(e.text)?;
        if !e.partial {
            w.write_all(b"\n")?;
        }
        *at_line_start = !e.partial;
    }
    Ok(used)
}

/// The byte offset where the last `n` logical lines begin.
fn tail_offset(data: &[u8], n: usize) -> usize {
    if n == 0 {
        return data.len();
    }
    // Walk back over complete "F" lines; P lines belong to the next F.
    let mut count = 0;
    let mut end = data.len();
    while end > 0 {
        let start = data[..end - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        let line = &data[start..end.saturating_sub(1)];
        let partial = parse_line(line).map(|e| e.partial).unwrap_or(false);
        if !partial {
            count += 1;
            if count > n {
                return end;
            }
        }
        end = start;
    }
    0
}

/// What `logs` reads, and how.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// The containers whose logs to read, in order.
    pub names: Vec<String>,
    /// Keep reading until the containers stop.
    pub follow: bool,
    /// Only entries at or after this time (ns since the epoch).
    pub since: Option<i64>,
    /// Only entries at or before this time (ns since the epoch).
    pub until: Option<i64>,
    /// Only the last N lines (None: all of them).
    pub tail: Option<usize>,
    /// Prefix each line with its time stamp.
    pub timestamps: bool,
    /// Prefix each line with the container's name (`--names`).
    pub prefix_names: bool,
    /// Color each container's lines (`--color`).
    pub color: bool,
}

/// podman's colors for `logs --color`, one per container in turn.
pub const COLORS: &[&str] = &["37", "32", "33", "34", "35", "36", "31"];

/// A writer that starts every line with `prefix` and, colored, wraps it
/// in `color` (`logs --names`, `--color`).
struct Decorate<'a> {
    inner: &'a mut dyn Write,
    prefix: String,
    color: Option<&'static str>,
    at_start: bool,
}

impl Write for Decorate<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for line in buf.split_inclusive(|b| *b == b'\n') {
            if self.at_start {
                if let Some(c) = self.color {
                    write!(self.inner, "\x1b[{c}m")?;
                }
                self.inner.write_all(self.prefix.as_bytes())?;
                self.at_start = false;
            }
            if line.ends_with(b"\n") {
                self.inner.write_all(&line[..line.len() - 1])?;
                if self.color.is_some() {
                    self.inner.write_all(b"\x1b[0m")?;
                }
                self.inner.write_all(b"\n")?;
                self.at_start = true;
            } else {
                self.inner.write_all(line)?;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One container's log being read.
struct Source {
    id: String,
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
    pos: u64,
    line_start: bool,
    prefix: String,
    color: Option<&'static str>,
    /// Whether the decorated stdout and stderr are at a line's start.
    at: (bool, bool),
}

impl Source {
    /// Write the whole entries of `data`; returns the bytes used.
    fn emit(
        &mut self,
        data: &[u8],
        o: &Opts,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<usize> {
        if self.prefix.is_empty() && self.color.is_none() {
            return emit(data, o, out, err, &mut self.line_start);
        }
        let mut dout = Decorate {
            inner: out,
            prefix: self.prefix.clone(),
            color: self.color,
            at_start: self.at.0,
        };
        let mut derr = Decorate {
            inner: err,
            prefix: self.prefix.clone(),
            color: self.color,
            at_start: self.at.1,
        };
        let used = emit(data, o, &mut dout, &mut derr, &mut self.line_start)?;
        self.at = (dout.at_start, derr.at_start);
        Ok(used)
    }

    /// Read what the log has past `pos` and write it; true if it grew.
    /// A log that reached `--log-opt max-size` is replaced by a new file
    /// (see monitor::logfile): the old one is read to its end first.
    fn more(&mut self, o: &Opts, out: &mut dyn Write, err: &mut dyn Write) -> Result<bool> {
        if self.file.is_none() {
            self.file = std::fs::File::open(&self.path).ok();
        }
        let mut grew = self.drain(o, out, err)?;
        if self.replaced() {
            // Whatever was written before the rename, then the new file.
            grew |= self.drain(o, out, err)?;
            self.file = std::fs::File::open(&self.path).ok();
            self.pos = 0;
            grew |= self.drain(o, out, err)?;
        }
        Ok(grew)
    }

    fn drain(&mut self, o: &Opts, out: &mut dyn Write, err: &mut dyn Write) -> Result<bool> {
        let Some(file) = self.file.as_mut() else {
            return Ok(false);
        };
        file.seek(SeekFrom::Start(self.pos))?;
        let mut more = Vec::new();
        file.read_to_end(&mut more)?;
        if more.is_empty() {
            return Ok(false);
        }
        let used = self.emit(&more, o, out, err)?;
        self.pos += used as u64;
        out.flush()?;
        Ok(used > 0)
    }

    /// Whether the file at `path` is no longer the one being read.
    fn replaced(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Some(file) = self.file.as_ref() else {
            return false;
        };
        match (file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) != (b.dev(), b.ino()),
            _ => false,
        }
    }
}

/// Write the containers' logs: what they wrote to stdout to `out`, to
/// stderr to `err`. Following, `out` is flushed as lines arrive; with
/// several containers, each one's lines come as they are written, until
/// every one has stopped (podman's `logs -f A B`).
pub fn logs(
    paths: &Paths,
    a: &LogsOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let o = Opts {
        since: a.since,
        until: a.until,
        timestamps: a.timestamps,
    };
    let tail = a.tail;
    let mut sources = Vec::new();
    for (i, name) in a.names.iter().enumerate() {
        let id = record::resolve(paths, name)?;
        let rec = record::load(paths, &id)?;
        if rec.extras.log_driver == "none" {
            anyhow::bail!(
                "this container is using the 'none' log driver, cannot read logs: this container is not logging output"
            );
        }
        let prefix = if a.prefix_names {
            format!("{} ", rec.name)
        } else {
            String::new()
        };
        let path = crate::monitor::log_path(&rec, &paths.ctr_dir(&id));
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        let mut data = Vec::new();
        if let Some(f) = file.as_mut() {
            f.read_to_end(&mut data)
                .with_context(|| format!("reading {}", path.display()))?;
        }
        let mut src = Source {
            id,
            path,
            file,
            pos: 0,
            line_start: true,
            prefix,
            color: a.color.then(|| COLORS[i % COLORS.len()]),
            at: (true, true),
        };
        let start = tail.map(|n| tail_offset(&data, n)).unwrap_or(0);
        let used = src.emit(&data[start..], &o, out, err)?;
        src.pos = (start + used) as u64;
        out.flush()?;
        sources.push(src);
    }
    if !a.follow {
        return Ok(());
    }
    // Follow: poll for growth until each container stops and its log is drained.
    while !sources.is_empty() {
        let mut grew_any = false;
        let mut i = 0;
        while i < sources.len() {
            let s = &mut sources[i];
            let running =
                record::exists(paths, &s.id) && record::observe(paths, &s.id).is_running();
            let grew = s.more(&o, out, err)?;
            grew_any |= grew;
            if !running && !grew {
                sources.remove(i);
            } else {
                i += 1;
            }
        }
        if !grew_any && !sources.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    const LOG: &str = "2026-01-01T00:00:01.000000000Z stdout F one\n\
                       2026-01-01T00:00:02.000000000Z stderr F two\n\
                       2026-01-01T00:00:03.000000000Z stdout P thr\n\
                       2026-01-01T00:00:03.500000000Z stdout F ee\n\
                       2026-01-01T00:00:04.000000000Z stdout F four\n";

    fn run(data: &[u8], o: &Opts) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut ls = true;
        emit(data, o, &mut out, &mut err, &mut ls).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn streams_partials_and_filters() {
        let all = Opts {
            since: None,
            until: None,
            timestamps: false,
        };
        assert_eq!(
            run(LOG.as_bytes(), &all),
            ("one\nthree\nfour\n".into(), "two\n".into())
        );
        let since = Opts {
            since: time::parse_rfc3339("2026-01-01T00:00:03Z"),
            until: time::parse_rfc3339("2026-01-01T00:00:03.9Z"),
            timestamps: false,
        };
        assert_eq!(run(LOG.as_bytes(), &since).0, "three\n");
        let ts = Opts {
            since: None,
            until: None,
            timestamps: true,
        };
        assert!(run(LOG.as_bytes(), &ts)
            .0
            .starts_with("2026-01-01T00:00:01.000000000Z one\n"));
    }

    #[test]
    fn tail_counts_logical_lines() {
        let d = LOG.as_bytes();
        let all = Opts {
            since: None,
            until: None,
            timestamps: false,
        };
        assert_eq!(run(&d[tail_offset(d, 1)..], &all).0, "four\n");
        assert_eq!(run(&d[tail_offset(d, 2)..], &all).0, "three\nfour\n");
        assert_eq!(tail_offset(d, 100), 0);
        assert_eq!(tail_offset(d, 0), d.len());
    }
}
