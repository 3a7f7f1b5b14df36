//! What it takes to give a layer's exact tar back: the bytes of the
//! uncompressed layer stream that are not file data (headers, PAX records,
//! padding, the end blocks), recorded while the layer is unpacked, in the
//! `tar-split` format containers/storage uses (`tar-split.json.gz` beside
//! the layer's `diff`: gzipped JSON lines, `{"type":2,"payload":BASE64,
//! "position":N}` for raw bytes and `{"type":1,"name":PATH,"size":N,
//! "position":N}` for a file's data, which comes from the unpacked file).
//!
//! With it `save`, `push` and the other writers give the very tar that was
//! pulled (or loaded, or committed), so its diff id, the image config and
//! the image id stay what they were. It costs about a tar header (and its
//! base64) per entry, compressed: a few hundred KiB for a Debian rootfs.
//!
//! A layer whose unpacked files can't give its data back is not recorded
//! (the writers fall back to a canonical tar of the dir, whose diff id
//! differs): one where a later entry replaced an earlier one. Sparse files
//! and anything the unpacker did not write as it came (devices skipped
//! rootless) keep their data inline. rpod leaves out tar-split's crc64 of
//! each file: reading a file back checks its type and size, and the layer
//! dirs are never written after they are unpacked.

use super::unpack::clean_path;
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The file beside a layer's `diff`.
pub(crate) const FILE_NAME: &str = "tar-split.json.gz";

const FILE_TYPE: u8 = 1;
const SEGMENT_TYPE: u8 = 2;
/// Raw bytes are written out once this many are pending (long inline data).
const MAX_PENDING: usize = 1 << 20;
/// The largest line read back (a segment of MAX_PENDING bytes in base64, and some).
const MAX_LINE: u64 = 4 << 20;

/// One JSON line of the format (tar-split's `storage.Entry`).
#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_raw: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
    position: u64,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Records a layer stream as it is read: every byte goes to the current
/// segment except the data of the files the unpacker announces.
pub(crate) struct Recorder {
    out: Option<flate2::write::GzEncoder<BufWriter<File>>>,
    pending: Vec<u8>,
    /// Bytes of the announced file still to come.
    file_left: u64,
    position: u64,
    /// Set when an entry replaced an earlier one: the record can't be used.
    spoiled: bool,
    err: Option<io::Error>,
}

pub(crate) type Shared = Rc<RefCell<Recorder>>;

impl Recorder {
    pub(crate) fn create(path: &Path) -> Result<Shared> {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Rc::new(RefCell::new(Recorder {
            out: Some(flate2::write::GzEncoder::new(
                BufWriter::with_capacity(256 << 10, f),
                flate2::Compression::fast(),
            )),
            pending: Vec::with_capacity(64 << 10),
            file_left: 0,
            position: 0,
            spoiled: false,
            err: None,
        })))
    }

    fn line(&mut self, l: &Line) {
        self.position += 1;
        let Some(out) = self.out.as_mut().filter(|_| self.err.is_none()) else {
            return;
        };
        let r = serde_json::to_writer(&mut *out, l)
            .map_err(io::Error::other)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = r {
            self.err = Some(e);
        }
    }

    fn flush_segment(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let payload = b64().encode(&self.pending);
        self.pending.clear();
        let pos = self.position;
        self.line(&Line {
            kind: SEGMENT_TYPE,
            name: None,
            name_raw: None,
            size: None,
            payload: Some(payload),
            position: pos,
        });
    }

    /// Bytes read from the layer stream.
    fn take(&mut self, mut b: &[u8]) {
        if self.file_left > 0 {
            let n = (self.file_left.min(b.len() as u64)) as usize;
            self.file_left -= n as u64;
            b = &b[n..];
        }
        self.pending.extend_from_slice(b);
        if self.pending.len() >= MAX_PENDING {
            self.flush_segment();
        }
    }

    /// The next `size` bytes of the stream are the data of the file at
    /// `path` (relative to the layer root), which the unpacker writes as
    /// they come.
    pub(crate) fn file(&mut self, path: &Path, size: u64) {
        self.flush_segment();
        let raw = path.as_os_str().as_bytes();
        let (name, name_raw) = match std::str::from_utf8(raw) {
            Ok(s) => (Some(s.to_string()), None),
            Err(_) => (None, Some(b64().encode(raw))),
        };
        let pos = self.position;
        self.line(&Line {
            kind: FILE_TYPE,
            name,
            name_raw,
            size: Some(size),
            payload: None,
            position: pos,
        });
        self.file_left = size;
    }

    /// An entry replaced what an earlier one made.
    pub(crate) fn spoil(&mut self) {
        self.spoiled = true;
    }

    /// Write out the rest; Ok(false) when the record is unusable (the
    /// caller removes the file).
    pub(crate) fn finish(rec: Shared) -> Result<bool> {
        let mut r = rec.borrow_mut();
        r.flush_segment();
        if let Some(e) = r.err.take() {
            return Err(e).context("writing the layer's tar-split");
        }
        if r.file_left != 0 {
            bail!("the layer stream ended inside a file");
        }
        if let Some(out) = r.out.take() {
            out.finish()
                .and_then(|mut w| w.flush())
                .context("writing the layer's tar-split")?;
        }
        Ok(!r.spoiled)
    }
}

/// The layer stream, recorded on its way to the tar reader.
pub(crate) struct SplitReader<R> {
    pub(crate) inner: R,
    pub(crate) rec: Shared,
}

impl<R: Read> Read for SplitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.rec.borrow_mut().take(&buf[..n]);
        Ok(n)
    }
}

/// A piece of a layer's tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitPart {
    /// Bytes as they were.
    Bytes(Vec<u8>),
    /// `size` bytes of data of the file at `path` in the layer dir.
    File { path: PathBuf, size: u64 },
}

/// A layer's tar as parts, and its length.
#[derive(Debug, Clone)]
pub struct TarSplit {
    pub parts: Vec<SplitPart>,
    pub size: u64,
}

/// Read a `tar-split.json.gz`.
pub(crate) fn read(path: &Path) -> Result<Option<TarSplit>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let what = || format!("reading {}", path.display());
    let mut r = BufReader::new(flate2::read::MultiGzDecoder::new(BufReader::new(f)));
    let mut parts = Vec::new();
    let mut size = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .with_context(what)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n as u64 == MAX_LINE {
            bail!("{}: a line over {MAX_LINE} bytes", what());
        }
        let l: Line = serde_json::from_slice(&line).with_context(what)?;
        match l.kind {
            SEGMENT_TYPE => {
                let b = b64()
                    .decode(l.payload.unwrap_or_default())
                    .with_context(what)?;
                size += b.len() as u64;
                parts.push(SplitPart::Bytes(b));
            }
            FILE_TYPE => {
                let raw = match (l.name, l.name_raw) {
                    (_, Some(r)) => b64().decode(r).with_context(what)?,
                    (Some(n), None) => n.into_bytes(),
                    (None, None) => bail!("{}: a file entry without a name", what()),
                };
                let path = clean_path(&raw).with_context(what)?;
                let fsize = l.size.unwrap_or(0);
                size += fsize;
                if fsize > 0 {
                    parts.push(SplitPart::File { path, size: fsize });
                }
            }
            k => return Err(anyhow!("{}: unknown entry type {k}", what())),
        }
    }
    Ok(Some(TarSplit { parts, size }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_bytes_and_files_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(FILE_NAME);
        let rec = Recorder::create(&p).unwrap();
        let stream: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let mut r = SplitReader {
            inner: &stream[..],
            rec: rec.clone(),
        };
        let mut buf = vec![0u8; 1000];
        r.read_exact(&mut buf[..512]).unwrap();
        rec.borrow_mut().file(Path::new("etc/héllo"), 700);
        r.read_exact(&mut buf[..700]).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        drop(r);
        assert!(Recorder::finish(rec).unwrap());
        let ts = read(&p).unwrap().unwrap();
        assert_eq!(ts.size, 3000);
        assert_eq!(
            ts.parts,
            vec![
                SplitPart::Bytes(stream[..512].to_vec()),
                SplitPart::File {
                    path: PathBuf::from("etc/héllo"),
                    size: 700
                },
                SplitPart::Bytes(stream[1212..].to_vec()),
            ]
        );
        assert!(read(&d.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn names_that_climb_out_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(FILE_NAME);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"type\":1,\"name\":\"../../etc/passwd\",\"size\":5,\"position\":0}\n")
            .unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        assert!(read(&p).is_err());
    }
}
