//! Unpacking layer tars into overlay lower dirs.
//!
//! A layer is a *diff*: `.wh.NAME` becomes a character device 0:0 named NAME
//! (an overlay whiteout; the kernel lets unprivileged users make exactly
//! that device), and `.wh..wh..opq` becomes the xattr `user.overlay.opaque=y`,
//! which kernel overlayfs mounted with `userxattr` and fuse-overlayfs 1.10
//! both honour (checked on this machine); `user.fuseoverlayfs.opaque=y` is
//! set as well for older fuse-overlayfs, which read only that name.
//!
//! Safety: every entry is created relative to a directory fd, its parent
//! being resolved with openat2(RESOLVE_BENEATH), and its last component is
//! never followed. Entries with `..` or absolute paths are refused, and so is
//! any path through a symlink that leads out of the layer.

use crate::sys::fsx;
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

/// Bounds on what one layer may unpack to, against decompression bombs:
/// the uncompressed tar's bytes and its number of entries. Set by the
/// environment variables `RPOD_MAX_LAYER_SIZE` (bytes, or with a K, M, G or
/// T suffix, binary) and `RPOD_MAX_LAYER_ENTRIES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerLimits {
    pub max_size: u64,
    pub max_entries: u64,
}

pub const MAX_LAYER_SIZE_VAR: &str = "RPOD_MAX_LAYER_SIZE";
pub(super) const MAX_LAYER_ENTRIES_VAR: &str = "RPOD_MAX_LAYER_ENTRIES";

impl Default for LayerLimits {
    fn default() -> Self {
        LayerLimits {
            max_size: 64 << 30,
            max_entries: 10_000_000,
        }
    }
}

impl LayerLimits {
    /// The defaults, overridden by the environment; a malformed value is an
    /// error naming the variable.
    pub fn from_env() -> Result<LayerLimits> {
        let mut l = LayerLimits::default();
        if let Some(v) = std::env::var_os(MAX_LAYER_SIZE_VAR) {
            let v = v.to_string_lossy();
            l.max_size = parse_size(&v).ok_or_else(|| {
                anyhow!(
                    "{MAX_LAYER_SIZE_VAR}={v:?}: expected a size in bytes, e.g. 10485760 or 10M"
                )
            })?;
        }
        if let Some(v) = std::env::var_os(MAX_LAYER_ENTRIES_VAR) {
            let v = v.to_string_lossy();
            l.max_entries = v.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                anyhow!("{MAX_LAYER_ENTRIES_VAR}={v:?}: expected a number of entries")
            })?;
        }
        Ok(l)
    }
}

/// "123", "10K", "10M", "64G", "1T" (binary multiples; an optional "iB"/"B").
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s
        .strip_suffix("iB")
        .or_else(|| s.strip_suffix('B'))
        .unwrap_or(s);
    let (num, shift) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 10),
        (i, 'm' | 'M') => (&s[..i], 20),
        (i, 'g' | 'G') => (&s[..i], 30),
        (i, 't' | 'T') => (&s[..i], 40),
        _ => (s, 0),
    };
    let n: u64 = num.trim().parse().ok()?;
    n.checked_mul(1u64 << shift).filter(|&n| n > 0)
}

/// "10 MiB", "64 GiB", or "N bytes".
pub fn human_size(n: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n % (1 << shift) == 0 {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

const OPAQUE: &str = ".wh..wh..opq";
const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_XATTRS: [&str; 2] = ["user.overlay.opaque", "user.fuseoverlayfs.opaque"];
const READ_BUF: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The uncompressed stream of a layer blob.
pub fn decompressor<'a, R: BufRead + 'a>(mut r: R) -> Result<Box<dyn Read + 'a>> {
    let head = r.fill_buf().context("reading the layer blob")?;
    Ok(match sniff(head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(r).context("starting zstd")?)
        }
        Compression::None => Box::new(r),
    })
}

/// Counts and hashes what passes through (the diff id is the sha256 of
/// the uncompressed tar), and fails once more than `limit` bytes came.
pub(super) struct HashReader<R> {
    pub(super) inner: R,
    pub(super) hasher: Sha256,
    pub(super) count: u64,
    pub(super) limit: u64,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(format!(
                "the uncompressed layer is over the {} limit (set {MAX_LAYER_SIZE_VAR} to allow more)",
                human_size(self.limit)
            )));
        }
        Ok(n)
    }
}

/// Extract the tar stream `r` into the new directory `dest`; more than
/// `max_entries` entries is an error.
pub(crate) fn extract<R: Read>(r: R, dest: &Path, max_entries: u64) -> Result<()> {
    extract_split(r, dest, max_entries, None)
}

/// [`extract`], telling `split` (which records the stream `r` comes
/// through) where the data of each file it writes as it comes is.
pub(super) fn extract_split<R: Read>(
    r: R,
    dest: &Path,
    max_entries: u64,
    split: Option<super::tarsplit::Shared>,
) -> Result<()> {
    std::fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
    let root =
        OwnedFd::from(File::open(dest).with_context(|| format!("opening {}", dest.display()))?);
    let mut x = Extractor {
        root,
        chown: nix::unistd::geteuid().is_root(),
        dirs: Vec::new(),
        dir_index: HashMap::new(),
        cache: None,
        buf: vec![0u8; READ_BUF],
        devices: Vec::new(),
        pax: Pax::default(),
        dropped_overlay_xattr: false,
        plain: None,
        split,
        feed: None,
        copiers: None,
    };
    if !x.chown {
        warn!("not running as root in a user namespace: file ownership from the image is not kept");
    }
    let mut ar = tar::Archive::new(r);
    for (n, entry) in ar.entries().context("reading the layer tar")?.enumerate() {
        if n as u64 >= max_entries {
            bail!(
                "the layer has more than {max_entries} entries (set {MAX_LAYER_ENTRIES_VAR} to allow more)"
            );
        }
        let mut entry = entry.context("reading the layer tar")?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        x.entry(&mut entry, &raw)
            .with_context(|| format!("entry {shown:?}"))?;
    }
    x.finish()
}

/// How [`extract_plain`] owns and replaces what it writes.
#[derive(Clone, Debug, Default)]
pub struct PlainOpts {
    /// Give every entry this uid/gid (ours) instead of the tar's.
    pub owner: Option<(u32, u32)>,
    /// Map the tar's uids and gids (a container's) to ours, as
    /// (container id, our id, count) ranges; empty keeps them as they are.
    pub uid_map: Vec<(u32, u32, u32)>,
    pub gid_map: Vec<(u32, u32, u32)>,
    /// Set owners at all (false: everything belongs to whoever writes).
    pub chown: bool,
    /// Let a directory replace a non-directory and the other way round.
    pub overwrite: bool,
}

/// `id` through (container id, our id, count) ranges; unmapped ids (and an
/// empty map) stay as they are.
pub fn map_id(map: &[(u32, u32, u32)], id: u32) -> u32 {
    if map.is_empty() {
        return id;
    }
    for &(c, h, n) in map {
        if id >= c && id - c < n {
            return h + (id - c);
        }
    }
    id
}

/// Extract a plain tar (`rpod cp`, not a layer: `.wh.` names are files like
/// any other and no whiteout is ever made) into the existing directory
/// `dir`, with the same rules as layers: every entry is created beneath
/// `dir` on a parent fd, nothing leaves it, no device nodes.
pub fn extract_plain<R: Read>(r: R, dir: OwnedFd, o: PlainOpts) -> Result<()> {
    extract_plain_inner(r, dir, o, None)
}

/// [`extract_plain`] of a tar from a [`TreeTar`](super::diff::TreeTar) of
/// this process that hands its regular files over `feed` by fd
/// ([`TreeTar::feed_files`](super::diff::TreeTar::feed_files)): each file's
/// data is copied from that fd in the kernel, holes kept, instead of
/// coming through the tar. Same rules as [`extract_plain`] for where and
/// how entries are made.
pub fn extract_plain_fed<R: Read>(
    r: R,
    dir: OwnedFd,
    o: PlainOpts,
    feed: std::sync::mpsc::Receiver<super::diff::FedFile>,
) -> Result<()> {
    extract_plain_inner(r, dir, o, Some(feed))
}

fn extract_plain_inner<R: Read>(
    r: R,
    dir: OwnedFd,
    o: PlainOpts,
    feed: Option<std::sync::mpsc::Receiver<super::diff::FedFile>>,
) -> Result<()> {
    let mut x = Extractor {
        root: dir,
        chown: o.chown,
        dirs: Vec::new(),
        dir_index: HashMap::new(),
        cache: None,
        buf: vec![0u8; READ_BUF],
        devices: Vec::new(),
        pax: Pax::default(),
        dropped_overlay_xattr: false,
        plain: Some(o),
        split: None,
        copiers: match &feed {
            Some(_) => {
                let n = std::thread::available_parallelism().map_or(1, |n| n.get());
                Some(Copiers::start(n.clamp(1, 4))?)
            }
            None => None,
        },
        feed,
    };
    let mut ar = tar::Archive::new(r);
    for entry in ar.entries().context("reading the tar stream")? {
        let mut entry = entry.context("reading the tar stream")?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        x.entry(&mut entry, &raw)
            .with_context(|| format!("entry {shown:?}"))?;
    }
    x.finish()
}

/// A clean relative path: no "..", not absolute, "." parts dropped.
pub(crate) fn clean_path(raw: &[u8]) -> Result<PathBuf> {
    let p = Path::new(std::ffi::OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => bail!("refusing a path with \"..\""),
            Component::RootDir | Component::Prefix(_) => bail!("refusing an absolute path"),
        }
    }
    Ok(out)
}

/// What a tar entry means for the layer dir.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Mark the dir (relative path) opaque.
    Opaque(PathBuf),
    /// Create a whiteout for this path.
    Whiteout(PathBuf),
    /// Create the entry at this path.
    Create(PathBuf),
}

pub(crate) fn classify(path: PathBuf) -> Result<Action> {
    let Some(name) = path.file_name().map(|n| n.as_bytes().to_vec()) else {
        return Ok(Action::Create(path));
    };
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if name == OPAQUE.as_bytes() {
        return Ok(Action::Opaque(parent));
    }
    if let Some(rest) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
        if rest.is_empty() || rest == b"." || rest == b".." {
            bail!("refusing a malformed whiteout");
        }
        return Ok(Action::Whiteout(
            parent.join(std::ffi::OsStr::from_bytes(rest)),
        ));
    }
    Ok(Action::Create(path))
}

struct Extractor {
    root: OwnedFd,
    chown: bool,
    /// Dirs whose mode and mtime are set at the end (children first), so
    /// a read-only dir can still be filled and its mtime isn't disturbed.
    dirs: Vec<(PathBuf, u32, u64)>,
    dir_index: HashMap<PathBuf, usize>,
    /// The last parent dir opened: entries come grouped by directory.
    cache: Option<(PathBuf, Rc<OwnedFd>)>,
    buf: Vec<u8>,
    devices: Vec<String>,
    /// The pax records of the entry being extracted.
    pax: Pax,
    /// Whether an overlay xattr was dropped already (logged once).
    dropped_overlay_xattr: bool,
    /// Set for a plain tar ([`extract_plain`]).
    plain: Option<PlainOpts>,
    /// Told where file data starts, for a layer whose tar-split is kept.
    split: Option<super::tarsplit::Shared>,
    /// Where regular files' data comes from instead ([`extract_plain_fed`]).
    feed: Option<std::sync::mpsc::Receiver<super::diff::FedFile>>,
    /// The threads that copy fed files' data.
    copiers: Option<Copiers>,
}

/// Fed files from this size on are copied on a copier thread.
const PARALLEL_COPY_MIN: u64 = 256 << 10;

/// A fed file's data to copy, then its mode and times to set.
struct CopyJob {
    src: File,
    dst: File,
    size: u64,
    mode: u32,
    mtime: u64,
    path: PathBuf,
}

impl CopyJob {
    fn run(self) -> Result<()> {
        copy_fed(&self.src, &self.dst, self.size)?;
        nix::sys::stat::fchmod(self.dst.as_raw_fd(), Mode::from_bits_truncate(self.mode))?;
        let t = TimeSpec::new(self.mtime as i64, 0);
        nix::sys::stat::futimens(self.dst.as_raw_fd(), &t, &t)?;
        Ok(())
    }
}

/// Threads copying fed files while the extractor goes on making entries:
/// the copies are the kernel's page-cache work, which one core alone
/// can't keep up with. The first error stops the rest.
struct Copiers {
    tx: Option<std::sync::mpsc::SyncSender<CopyJob>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    failed: std::sync::Arc<std::sync::Mutex<Option<anyhow::Error>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Copiers {
    fn start(n: usize) -> Result<Copiers> {
        use std::sync::atomic::Ordering;
        use std::sync::{Arc, Mutex};
        let (tx, rx) = std::sync::mpsc::sync_channel::<CopyJob>(2 * n);
        let rx = Arc::new(Mutex::new(rx));
        let failed = Arc::new(Mutex::new(None));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut threads = Vec::new();
        for i in 0..n {
            let (rx, failed, stop) = (rx.clone(), failed.clone(), stop.clone());
            let t = std::thread::Builder::new()
                .name(format!("copier-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                        Ok(j) => j,
                        Err(_) => return,
                    };
                    if stop.load(Ordering::Relaxed) {
                        continue;
                    }
                    let path = job.path.clone();
                    if let Err(e) = job.run() {
                        stop.store(true, Ordering::Relaxed);
                        let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                        f.get_or_insert(e.context(format!("entry {:?}", path)));
                    }
                })
                .context("starting a copier thread")?;
            threads.push(t);
        }
        Ok(Copiers {
            tx: Some(tx),
            threads,
            failed,
            stop,
        })
    }

    /// The first copier error, taken.
    fn error(&self) -> Option<anyhow::Error> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn send(&self, job: CopyJob) -> Result<()> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        let tx = self.tx.as_ref().expect("copiers running");
        tx.send(job)
            .map_err(|_| anyhow!("the copier threads stopped"))
    }

    /// Wait for every copy; the first error if one failed.
    fn finish(mut self) -> Result<()> {
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        match self.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Copiers {
    fn drop(&mut self) {
        // Given up (an error): copy nothing more, and leave no thread behind.
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Xattr namespaces that overlayfs, fuse-overlayfs and containers/storage
/// read as metadata of the store itself (opaque, redirect, metacopy, origin,
/// override_stat, ...). A layer never sets them; `.wh..wh..opq` is how a
/// layer asks for an opaque dir.
const STORE_XATTR_PREFIXES: [&str; 5] = [
    "user.overlay.",
    "user.fuseoverlayfs.",
    "user.containers.",
    "trusted.overlay.",
    "trusted.fuseoverlayfs.",
];

fn is_store_xattr(name: &str) -> bool {
    STORE_XATTR_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// What rpod uses of an entry's pax records: user xattrs and GNU sparse
/// maps (formats 0.0, 0.1 and 1.0, which the tar crate leaves to us).
#[derive(Default, Debug)]
pub(crate) struct Pax {
    xattrs: Vec<(String, Vec<u8>)>,
    sparse: Option<Sparse>,
}

#[derive(Default, Debug, PartialEq)]
pub(crate) struct Sparse {
    name: Option<Vec<u8>>,
    realsize: Option<u64>,
    /// (offset, length) of the data chunks; for 1.0 it is read from the data.
    map: Vec<(u64, u64)>,
    v1: bool,
}

impl Pax {
    fn read<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Pax> {
        let mut pax = Pax::default();
        let Some(exts) = e.pax_extensions().context("reading pax headers")? else {
            return Ok(pax);
        };
        let mut offsets = Vec::new();
        let mut lengths = Vec::new();
        for ext in exts {
            let ext = ext.context("reading pax headers")?;
            let Ok(key) = ext.key() else { continue };
            if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                pax.xattrs
                    .push((name.to_string(), ext.value_bytes().to_vec()));
                continue;
            }
            // bsdtar's form: a %-encoded name and a base64 value.
            if let Some(enc) = key.strip_prefix("LIBARCHIVE.xattr.") {
                use base64::Engine;
                let raw: Vec<u8> = ext
                    .value_bytes()
                    .iter()
                    .copied()
                    .filter(|&b| b != b'=')
                    .collect();
                let value = base64::engine::general_purpose::STANDARD_NO_PAD.decode(&raw);
                match (percent_decode(enc), value) {
                    (Some(n), Ok(v)) => pax.xattrs.push((n, v)),
                    _ => bail!("bad pax record {key}"),
                }
                continue;
            }
            let Some(k) = key.strip_prefix("GNU.sparse.") else {
                continue;
            };
            let sp = pax.sparse.get_or_insert_with(Sparse::default);
            let v = ext.value_bytes();
            let num = || -> Result<u64> {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .with_context(|| format!("bad pax record {key}"))
            };
            match k {
                "name" => sp.name = Some(v.to_vec()),
                "realsize" | "size" => sp.realsize = Some(num()?),
                "major" => sp.v1 = num()? == 1,
                "offset" => offsets.push(num()?),
                "numbytes" => lengths.push(num()?),
                "map" => {
                    let nums: Vec<u64> = std::str::from_utf8(v)
                        .ok()
                        .map(|t| t.split(',').filter_map(|n| n.trim().parse().ok()).collect())
                        .unwrap_or_default();
                    if nums.len() % 2 != 0 {
                        bail!("bad pax record GNU.sparse.map");
                    }
                    sp.map = nums.chunks(2).map(|c| (c[0], c[1])).collect();
                }
                _ => {}
            }
        }
        if let Some(sp) = &mut pax.sparse {
            if sp.map.is_empty() && !offsets.is_empty() {
                if offsets.len() != lengths.len() {
                    bail!("bad pax sparse map: offsets and lengths don't pair up");
                }
                sp.map = offsets.into_iter().zip(lengths).collect();
            }
        }
        Ok(pax)
    }
}

/// "%"-decoding of LIBARCHIVE.xattr names; None if malformed.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The sparse map at the start of a PAX 1.0 sparse file's data: decimal
/// lines (count, then offset/length pairs), padded to a 512-byte block.
fn read_sparse_map_v1<R: Read>(r: &mut R) -> Result<Vec<(u64, u64)>> {
    let mut text = Vec::new();
    let mut block = [0u8; 512];
    loop {
        r.read_exact(&mut block).context("reading the sparse map")?;
        text.extend_from_slice(&block);
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        // The last piece is unterminated: not a number yet.
        let done: Vec<&[u8]> = lines[..lines.len() - 1].to_vec();
        let parse = |l: &[u8]| -> Result<u64> {
            std::str::from_utf8(l)
                .ok()
                .and_then(|t| t.parse().ok())
                .context("bad number in the sparse map")
        };
        if let Some(first) = done.first() {
            let n = parse(first)? as usize;
            if n > 1 << 20 {
                bail!("sparse map too large");
            }
            if done.len() > 2 * n {
                let nums = done[1..=2 * n]
                    .iter()
                    .map(|l| parse(l))
                    .collect::<Result<Vec<u64>>>()?;
                return Ok(nums.chunks(2).map(|c| (c[0], c[1])).collect());
            }
        }
        if text.len() > 64 << 20 {
            bail!("sparse map too large");
        }
    }
}

fn is_errno(e: &io::Error, n: Errno) -> bool {
    e.raw_os_error() == Some(n as i32)
}

impl Extractor {
    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, raw: &[u8]) -> Result<()> {
        use tar::EntryType as T;
        let kind = e.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        self.pax = Pax::read(e)?;
        let name = self.pax.sparse.as_ref().and_then(|s| s.name.clone());
        let path = clean_path(name.as_deref().unwrap_or(raw))?;
        let action = if self.plain.is_some() {
            Action::Create(path)
        } else {
            classify(path)?
        };
        match action {
            Action::Opaque(dir) => {
                let fd = self.open_dir(&dir, true)?;
                for name in OPAQUE_XATTRS {
                    fsx::fsetxattr(fd.as_fd(), name, b"y")
                        .with_context(|| format!("setting {name} on {:?}", dir))?;
                }
                Ok(())
            }
            Action::Whiteout(p) => {
                let (pfd, name) = self.parent_of(&p)?;
                self.make_node(&pfd, &name, |dfd, n| {
                    nix::sys::stat::mknodat(
                        Some(dfd),
                        n,
                        SFlag::S_IFCHR,
                        Mode::from_bits_truncate(0o600),
                        0,
                    )
                })
                .context("creating a whiteout")
            }
            Action::Create(p) if p.as_os_str().is_empty() => {
                // "./": the layer's own root dir.
                if kind == T::Directory {
                    self.chown_at(&self.root.try_clone()?, None, e.header())?;
                    let r = self.root.try_clone()?;
                    self.apply_xattrs(r.as_fd())?;
                    self.record_dir(PathBuf::new(), e.header())?;
                }
                Ok(())
            }
            Action::Create(p) => self.create(e, kind, &p),
        }
    }

    fn create<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        kind: tar::EntryType,
        p: &Path,
    ) -> Result<()> {
        use tar::EntryType as T;
        let (pfd, name) = self.parent_of(p)?;
        let h = e.header().clone();
        let mode = h.mode().context("bad mode")? & 0o7777;
        let mtime = h.mtime().unwrap_or(0);
        match kind {
            T::Directory => {
                match nix::sys::stat::mkdirat(
                    Some(pfd.as_raw_fd()),
                    name.as_path(),
                    Mode::from_bits_truncate(0o700),
                ) {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {
                        let st = nix::sys::stat::fstatat(
                            Some(pfd.as_raw_fd()),
                            name.as_path(),
                            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                        )?;
                        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                            self.check_overwrite(p, true)?;
                            self.remove_existing(&pfd, &name)?;
                            nix::sys::stat::mkdirat(
                                Some(pfd.as_raw_fd()),
                                name.as_path(),
                                Mode::from_bits_truncate(0o700),
                            )?;
                        }
                    }
                    Err(err) => return Err(err).context("creating directory"),
                }
                let fd = fsx::openat_nofollow(
                    pfd.as_fd(),
                    &name,
                    libc::O_RDONLY | libc::O_DIRECTORY,
                    0,
                )?;
                self.chown_at(&fd, None, &h)?;
                self.apply_xattrs(fd.as_fd())?;
                self.record_dir(p.to_path_buf(), &h)?;
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
                let fd = match fsx::openat_nofollow(pfd.as_fd(), &name, flags, 0o600) {
                    Ok(fd) => fd,
                    Err(err) if is_errno(&err, Errno::EEXIST) => {
                        self.check_replace(&pfd, &name, p)?;
                        self.remove_existing(&pfd, &name)?;
                        fsx::openat_nofollow(pfd.as_fd(), &name, flags, 0o600)?
                    }
                    Err(err) => return Err(err).context("creating file"),
                };
                let f = File::from(fd);
                match self.pax.sparse.take() {
                    _ if self.feed.is_some() => {
                        let m = self.next_fed(p, kind, e.size())?;
                        match (m.file, self.copiers.is_some()) {
                            (Some(src), true) if m.size >= PARALLEL_COPY_MIN => {
                                // Data, mode and times on a copier thread
                                // (after the data: a write clears set-id bits).
                                self.chown_at(&f, None, &h)?;
                                self.apply_xattrs(f.as_fd())?;
                                let c = self.copiers.as_ref().expect("copiers");
                                return c.send(CopyJob {
                                    src,
                                    dst: f,
                                    size: m.size,
                                    mode,
                                    mtime,
                                    path: p.to_path_buf(),
                                });
                            }
                            (Some(src), _) => copy_fed(&src, &f, m.size)?,
                            (None, _) => {}
                        }
                    }
                    Some(sp) => self.copy_sparse(e, &f, sp)?,
                    None => {
                        // A GNU sparse entry's stream is not its file's
                        // bytes: that data stays in the tar-split.
                        if let Some(rec) = self.split.as_ref().filter(|_| kind != T::GNUSparse) {
                            if e.size() > 0 {
                                rec.borrow_mut().file(p, e.size());
                            }
                        }
                        self.copy_data(e, &f)?
                    }
                }
                self.chown_at(&f, None, &h)?;
                nix::sys::stat::fchmod(f.as_raw_fd(), Mode::from_bits_truncate(mode))?;
                self.apply_xattrs(f.as_fd())?;
                let t = TimeSpec::new(mtime as i64, 0);
                nix::sys::stat::futimens(f.as_raw_fd(), &t, &t)?;
            }
            T::Symlink => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("symlink without a target"))?
                    .into_owned();
                let target = std::ffi::OsStr::from_bytes(&target).to_os_string();
                self.make_node(&pfd, &name, |dfd, n| {
                    nix::unistd::symlinkat(target.as_os_str(), Some(dfd), n)
                })
                .context("creating symlink")?;
                self.chown_at(&pfd, Some(&name), &h)?;
                let t = TimeSpec::new(mtime as i64, 0);
                nix::sys::stat::utimensat(
                    Some(pfd.as_raw_fd()),
                    name.as_path(),
                    &t,
                    &t,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )?;
                // A symlink may now sit where a cached parent path went.
                self.cache = None;
            }
            T::Link => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("hard link without a target"))?
                    .into_owned();
                let tpath = clean_path(&target).context("hard link target")?;
                let (tfd, tname) = self.parent_of(&tpath).context("hard link target")?;
                self.make_node(&pfd, &name, |dfd, n| {
                    nix::unistd::linkat(
                        Some(tfd.as_raw_fd()),
                        tname.as_path(),
                        Some(dfd),
                        n,
                        nix::fcntl::AtFlags::empty(),
                    )
                })
                .with_context(|| {
                    format!(
                        "hard link to {:?} (it must come earlier in this layer)",
                        tpath
                    )
                })?;
            }
            T::Fifo => {
                self.make_node(&pfd, &name, |dfd, n| {
                    nix::unistd::mkfifoat(Some(dfd), n, Mode::from_bits_truncate(0o600))
                })
                .context("creating fifo")?;
                self.chown_at(&pfd, Some(&name), &h)?;
                nix::sys::stat::fchmodat(
                    Some(pfd.as_raw_fd()),
                    name.as_path(),
                    Mode::from_bits_truncate(mode),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .context("setting the fifo's mode")?;
                let t = TimeSpec::new(mtime as i64, 0);
                nix::sys::stat::utimensat(
                    Some(pfd.as_raw_fd()),
                    name.as_path(),
                    &t,
                    &t,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )?;
            }
            T::Char
                if self.plain.is_none()
                    && h.device_major().ok().flatten() == Some(0)
                    && h.device_minor().ok().flatten() == Some(0) =>
            {
                // Already in overlay form.
                self.make_node(&pfd, &name, |dfd, n| {
                    nix::sys::stat::mknodat(
                        Some(dfd),
                        n,
                        SFlag::S_IFCHR,
                        Mode::from_bits_truncate(0o600),
                        0,
                    )
                })?;
            }
            T::Char | T::Block => self.devices.push(p.display().to_string()),
            other => debug!("skipping tar entry {} of type {other:?}", p.display()),
        }
        Ok(())
    }

    /// The fed file of regular-file entry `p`, which must be the next one
    /// and have no data in the tar.
    fn next_fed(
        &mut self,
        p: &Path,
        kind: tar::EntryType,
        size: u64,
    ) -> Result<super::diff::FedFile> {
        let rx = self.feed.as_ref().expect("a feed");
        let m = rx
            .recv()
            .map_err(|_| anyhow::Error::new(super::diff::FeedClosed))?;
        if kind != tar::EntryType::Regular || size != 0 || clean_path(&m.path)? != p {
            bail!(
                "the tar and its fed files are out of step at {}",
                p.display()
            );
        }
        Ok(m)
    }

    /// Create with `mk`; if the name is taken, remove what is there and retry.
    fn make_node(
        &mut self,
        pfd: &Rc<OwnedFd>,
        name: &Path,
        mk: impl Fn(i32, &Path) -> nix::Result<()>,
    ) -> Result<()> {
        match mk(pfd.as_raw_fd(), name) {
            Ok(()) => Ok(()),
            Err(Errno::EEXIST) => {
                self.check_replace(pfd, name, name)?;
                self.remove_existing(pfd, name)?;
                mk(pfd.as_raw_fd(), name).map_err(Into::into)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// For a plain tar without `overwrite`: a non-directory may not replace
    /// a directory (podman cp's rule).
    fn check_replace(&self, pfd: &Rc<OwnedFd>, name: &Path, shown: &Path) -> Result<()> {
        if self.plain.as_ref().map_or(true, |o| o.overwrite) {
            return Ok(());
        }
        if let Ok(st) = nix::sys::stat::fstatat(
            Some(pfd.as_raw_fd()),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                self.check_overwrite(shown, false)?;
            }
        }
        Ok(())
    }

    fn check_overwrite(&self, p: &Path, dir_over_file: bool) -> Result<()> {
        if self.plain.as_ref().map_or(true, |o| o.overwrite) {
            return Ok(());
        }
        if dir_over_file {
            bail!(
                "cannot overwrite non-directory {:?} with a directory (use --overwrite)",
                p
            )
        }
        bail!(
            "cannot overwrite directory {:?} with a non-directory (use --overwrite)",
            p
        )
    }

    /// Remove whatever is at `name` in `pfd` (a later entry replaces it).
    fn remove_existing(&mut self, pfd: &Rc<OwnedFd>, name: &Path) -> Result<()> {
        if let Some(rec) = &self.split {
            // A file recorded before may be gone or another now.
            rec.borrow_mut().spoil();
        }
        match nix::unistd::unlinkat(
            Some(pfd.as_raw_fd()),
            name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) => Ok(()),
            Err(Errno::EISDIR) | Err(Errno::EPERM) => {
                let p = PathBuf::from(format!("/proc/self/fd/{}", pfd.as_raw_fd())).join(name);
                super::remove_tree(&p)
                    .with_context(|| format!("replacing directory {}", name.display()))?;
                self.cache = None;
                Ok(())
            }
            Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("replacing {}", name.display())),
        }
    }

    /// The parent dir of `p` (created as needed) and p's last component.
    fn parent_of(&mut self, p: &Path) -> Result<(Rc<OwnedFd>, PathBuf)> {
        let name = PathBuf::from(p.file_name().ok_or_else(|| anyhow!("empty path"))?);
        let parent = p.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((self.open_dir(&parent, true)?, name))
    }

    /// Open dir `rel` beneath the layer root, creating missing components
    /// when `create`. Refuses any path that leaves the layer.
    fn open_dir(&mut self, rel: &Path, create: bool) -> Result<Rc<OwnedFd>> {
        if let Some((p, fd)) = &self.cache {
            if p == rel {
                return Ok(fd.clone());
            }
        }
        let fd = if rel.as_os_str().is_empty() {
            self.root.try_clone()?
        } else {
            match fsx::open_beneath(
                self.root.as_fd(),
                rel,
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            ) {
                Ok(fd) => fd,
                Err(e) if is_errno(&e, Errno::ENOENT) && create => self.mkdir_p(rel)?,
                Err(e) => return Err(escape_error(e, rel)),
            }
        };
        let fd = Rc::new(fd);
        self.cache = Some((rel.to_path_buf(), fd.clone()));
        Ok(fd)
    }

    fn mkdir_p(&mut self, rel: &Path) -> Result<OwnedFd> {
        let mut cur = self.root.try_clone()?;
        for c in rel.components() {
            let c = Path::new(c.as_os_str());
            match nix::sys::stat::mkdirat(Some(cur.as_raw_fd()), c, Mode::from_bits_truncate(0o755))
            {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e).with_context(|| format!("creating {}", rel.display())),
            }
            cur = fsx::open_beneath(cur.as_fd(), c, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .map_err(|e| escape_error(e, rel))?;
        }
        Ok(cur)
    }

    fn chown_at(&mut self, fd: &impl AsRawFd, name: Option<&Path>, h: &tar::Header) -> Result<()> {
        if !self.chown {
            return Ok(());
        }
        let mut uid = h.uid().unwrap_or(0) as u32;
        let mut gid = h.gid().unwrap_or(0) as u32;
        if let Some(o) = &self.plain {
            match o.owner {
                Some((u, g)) => (uid, gid) = (u, g),
                None => (uid, gid) = (map_id(&o.uid_map, uid), map_id(&o.gid_map, gid)),
            }
        }
        let r = match name {
            None => nix::unistd::fchown(
                fd.as_raw_fd(),
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(gid)),
            ),
            Some(n) => nix::unistd::fchownat(
                Some(fd.as_raw_fd()),
                n,
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(gid)),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
        };
        match r {
            Ok(()) => Ok(()),
            Err(Errno::EINVAL) => bail!(
                "uid {uid} or gid {gid} is not mapped in rpod's user namespace: \
                 give the user a larger range in /etc/subuid and /etc/subgid"
            ),
            Err(e) => Err(e).context("setting the owner"),
        }
    }

    fn apply_xattrs(&mut self, fd: BorrowedFd<'_>) -> Result<()> {
        for (name, value) in &self.pax.xattrs {
            if is_store_xattr(name) {
                // Overlay metadata is the store's own business: from image
                // data it would forge opaque dirs, redirects or metacopy.
                if !self.dropped_overlay_xattr {
                    debug!("dropping overlay metadata xattrs from the layer (first: {name})");
                    self.dropped_overlay_xattr = true;
                }
                continue;
            }
            if !name.starts_with("user.") {
                debug!("skipping xattr {name} (only user.* xattrs are kept)");
                continue;
            }
            fsx::fsetxattr(fd, name, value).with_context(|| format!("setting xattr {name}"))?;
        }
        Ok(())
    }

    /// Write a GNU sparse entry's chunks at their offsets; the rest stays a hole.
    fn copy_sparse<R: Read>(&mut self, r: &mut R, f: &File, sp: Sparse) -> Result<()> {
        let map = if sp.v1 {
            read_sparse_map_v1(r)?
        } else {
            sp.map
        };
        let mut end = 0;
        for (off, len) in map {
            let mut done = 0u64;
            while done < len {
                let want = (len - done).min(self.buf.len() as u64) as usize;
                r.read_exact(&mut self.buf[..want])
                    .context("reading sparse file data")?;
                f.write_all_at(&self.buf[..want], off + done)
                    .context("writing file data")?;
                done += want as u64;
            }
            end = end.max(off + len);
        }
        f.set_len(sp.realsize.unwrap_or(end).max(end))
            .context("sizing sparse file")?;
        Ok(())
    }

    fn record_dir(&mut self, p: PathBuf, h: &tar::Header) -> Result<()> {
        let mode = h.mode().context("bad mode")? & 0o7777;
        let mtime = h.mtime().unwrap_or(0);
        match self.dir_index.get(&p) {
            Some(&i) => self.dirs[i] = (p, mode, mtime),
            None => {
                self.dir_index.insert(p.clone(), self.dirs.len());
                self.dirs.push((p, mode, mtime));
            }
        }
        Ok(())
    }

    /// Copy an entry's data, leaving all-zero 4 KiB blocks as holes: this
    /// keeps sparse files sparse (the tar reader expands them to zeros).
    fn copy_data<R: Read>(&mut self, r: &mut R, f: &File) -> Result<()> {
        const BLOCK: usize = 4096;
        let mut off: u64 = 0;
        let mut hole_at_end = false;
        loop {
            let mut n = 0;
            while n < self.buf.len() {
                match r.read(&mut self.buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e).context("reading file data from the layer"),
                }
            }
            if n == 0 {
                break;
            }
            let data = &self.buf[..n];
            let mut i = 0;
            while i < n {
                // Write the longest run of non-zero blocks in one call.
                let mut j = i;
                while j < n && !is_zero(&data[j..(j + BLOCK).min(n)]) {
                    j = (j + BLOCK).min(n);
                }
                if j > i {
                    f.write_all_at(&data[i..j], off + i as u64)
                        .context("writing file data")?;
                    hole_at_end = false;
                }
                while j < n && is_zero(&data[j..(j + BLOCK).min(n)]) {
                    j = (j + BLOCK).min(n);
                    hole_at_end = true;
                }
                i = j;
            }
            off += n as u64;
        }
        if hole_at_end {
            f.set_len(off).context("sizing sparse file")?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        if let Some(c) = self.copiers.take() {
            c.finish()?;
        }
        for (p, mode, mtime) in self.dirs.drain(..).rev() {
            let fd = if p.as_os_str().is_empty() {
                self.root.try_clone()?
            } else {
                match fsx::open_beneath(
                    self.root.as_fd(),
                    &p,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                ) {
                    Ok(fd) => fd,
                    // Replaced by a later entry: nothing to set.
                    Err(_) => continue,
                }
            };
            nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(mode))
                .with_context(|| format!("setting the mode of {}", p.display()))?;
            let t = TimeSpec::new(mtime as i64, 0);
            nix::sys::stat::futimens(fd.as_raw_fd(), &t, &t)?;
        }
        if !self.devices.is_empty() {
            warn!(
                "skipped {} device node(s), which unprivileged users cannot create: {}",
                self.devices.len(),
                self.devices.join(", ")
            );
        }
        Ok(())
    }
}

/// Copy the first `size` bytes of `src` to `dst` (new, empty) in the
/// kernel (copy_file_range, else sendfile, through `io::copy`), only the
/// data of a sparse `src`: its holes stay holes. A `src` that has shrunk
/// meanwhile (a running container) is made up with a hole to `size`, as a
/// tar of it would have been with zeros.
fn copy_fed(src: &File, dst: &File, size: u64) -> Result<()> {
    use nix::unistd::{lseek, Whence};
    use std::io::{Seek, SeekFrom};
    let mut off = 0u64;
    let mut end = 0u64;
    while off < size {
        // The next run of data: [start, stop). Without SEEK_DATA, all of it.
        let start = match lseek(src.as_raw_fd(), off as i64, Whence::SeekData) {
            Ok(d) => d as u64,
            Err(Errno::ENXIO) => break,
            Err(_) => off,
        };
        if start >= size {
            break;
        }
        let stop = lseek(src.as_raw_fd(), start as i64, Whence::SeekHole)
            .map_or(size, |h| h as u64)
            .clamp(start + 1, size);
        let mut r = src;
        let mut w = dst;
        r.seek(SeekFrom::Start(start))
            .context("reading file data")?;
        w.seek(SeekFrom::Start(start))
            .context("writing file data")?;
        let want = stop - start;
        let n = io::copy(&mut r.take(want), &mut w).context("copying file data")?;
        end = start + n;
        if n < want {
            break;
        }
        off = stop;
    }
    if end < size {
        dst.set_len(size).context("sizing file")?;
    }
    Ok(())
}

fn is_zero(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(16);
    chunks.all(|c| u128::from_ne_bytes(c.try_into().unwrap()) == 0)
        && chunks.remainder().iter().all(|&x| x == 0)
}

fn escape_error(e: io::Error, rel: &Path) -> anyhow::Error {
    if is_errno(&e, Errno::EXDEV) || is_errno(&e, Errno::ELOOP) {
        anyhow!(
            "refusing {}: it goes through a symlink that points outside the layer",
            rel.display()
        )
    } else if is_errno(&e, Errno::ENOTDIR) {
        anyhow!("{} is not a directory", rel.display())
    } else {
        anyhow::Error::new(e).context(format!("opening {}", rel.display()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// Builds tars by hand, including the malicious ones tar::Builder refuses.
    pub(crate) struct Tar(pub tar::Builder<Vec<u8>>);

    impl Tar {
        pub(crate) fn new() -> Tar {
            Tar(tar::Builder::new(Vec::new()))
        }

        #[allow(clippy::too_many_arguments)]
        pub(crate) fn raw(
            &mut self,
            path: &str,
            kind: tar::EntryType,
            mode: u32,
            data: &[u8],
            link: Option<&str>,
            uid: u64,
            mtime: u64,
        ) -> &mut Tar {
            let mut h = tar::Header::new_gnu();
            let name = &mut h.as_gnu_mut().unwrap().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_size(data.len() as u64);
            h.set_uid(uid);
            h.set_gid(uid);
            h.set_mtime(mtime);
            if let Some(l) = link {
                h.set_link_name_literal(l).unwrap();
            }
            h.set_cksum();
            self.0.append(&h, data).unwrap();
            self
        }
        pub(crate) fn dir(&mut self, p: &str, mode: u32) -> &mut Tar {
            self.raw(p, tar::EntryType::Directory, mode, b"", None, 0, 1000)
        }
        pub(crate) fn file(&mut self, p: &str, data: &[u8]) -> &mut Tar {
            self.raw(p, tar::EntryType::Regular, 0o644, data, None, 0, 1000)
        }
        pub(crate) fn symlink(&mut self, p: &str, to: &str) -> &mut Tar {
            self.raw(p, tar::EntryType::Symlink, 0o777, b"", Some(to), 0, 1000)
        }
        pub(crate) fn hardlink(&mut self, p: &str, to: &str) -> &mut Tar {
            self.raw(p, tar::EntryType::Link, 0o644, b"", Some(to), 0, 1000)
        }
        pub(crate) fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn xattr_of(p: &Path, name: &str) -> Option<Vec<u8>> {
        let f = File::open(p).unwrap();
        fsx::fgetxattr(f.as_fd(), name).unwrap()
    }

    fn unpack(t: Tar) -> (tempfile::TempDir, PathBuf, Result<()>) {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("layer/diff");
        std::fs::create_dir(d.path().join("layer")).unwrap();
        let bytes = t.bytes();
        let r = extract(&bytes[..], &dest, LayerLimits::default().max_entries);
        (d, dest, r)
    }

    #[test]
    fn paths_are_cleaned_or_refused() {
        assert_eq!(clean_path(b"./a/./b/").unwrap(), PathBuf::from("a/b"));
        assert_eq!(clean_path(b"./").unwrap(), PathBuf::new());
        assert!(clean_path(b"a/../../etc").is_err());
        assert!(clean_path(b"/etc/passwd").is_err());
        assert!(clean_path(b"..").is_err());
    }

    #[test]
    fn whiteout_names_translate() {
        assert_eq!(
            classify("a/b/.wh.c".into()).unwrap(),
            Action::Whiteout("a/b/c".into())
        );
        assert_eq!(
            classify(".wh.top".into()).unwrap(),
            Action::Whiteout("top".into())
        );
        assert_eq!(
            classify("a/.wh..wh..opq".into()).unwrap(),
            Action::Opaque("a".into())
        );
        assert_eq!(
            classify("a/.whx".into()).unwrap(),
            Action::Create("a/.whx".into())
        );
        assert!(classify("a/.wh.".into()).is_err());
        assert!(classify("a/.wh...".into()).is_err());
    }

    #[test]
    fn whiteouts_and_opaque_dirs_become_overlay_form() {
        let mut t = Tar::new();
        t.dir("a/", 0o755)
            .file("a/.wh.gone", b"")
            .file("a/.wh..wh..opq", b"")
            .file("a/kept", b"k");
        let (_d, dest, r) = unpack(t);
        r.unwrap();
        let m = std::fs::symlink_metadata(dest.join("a/gone")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(
            &m.file_type()
        ));
        assert_eq!(m.rdev(), 0);
        assert!(!dest.join("a/.wh.gone").exists());
        assert!(!dest.join("a/.wh..wh..opq").exists());
        for x in OPAQUE_XATTRS {
            assert_eq!(xattr_of(&dest.join("a"), x).as_deref(), Some(&b"y"[..]));
        }
        assert_eq!(std::fs::read(dest.join("a/kept")).unwrap(), b"k");
    }

    #[test]
    fn metadata_links_and_xattrs_are_kept() {
        let mut t = Tar::new();
        t.raw("./", tar::EntryType::Directory, 0o755, b"", None, 0, 7);
        t.raw(
            "bin/",
            tar::EntryType::Directory,
            0o555,
            b"",
            None,
            0,
            12345,
        );
        t.raw(
            "bin/su",
            tar::EntryType::Regular,
            0o4755,
            b"su",
            None,
            0,
            999,
        );
        t.raw("tmp/", tar::EntryType::Directory, 0o1777, b"", None, 0, 5);
        t.raw(
            "home/u/f",
            tar::EntryType::Regular,
            0o640,
            b"data",
            None,
            1234,
            77,
        );
        t.hardlink("bin/su2", "bin/su");
        t.symlink("abs", "/etc/passwd").symlink("rel", "../bin/su");
        t.0.append_pax_extensions([
            ("SCHILY.xattr.user.note", &b"hi"[..]),
            ("SCHILY.xattr.security.capability", &b"x"[..]),
        ])
        .unwrap();
        t.file("withx", b"x");
        t.0.append_pax_extensions([("LIBARCHIVE.xattr.user.with%20space", &b"aGk="[..])])
            .unwrap();
        t.file("withbsd", b"x");
        t.raw("dev/null", tar::EntryType::Char, 0o666, b"", None, 0, 1);
        t.raw("fifo", tar::EntryType::Fifo, 0o600, b"", None, 0, 1);
        let (_d, dest, r) = unpack(t);
        r.unwrap();
        let md = |p: &str| std::fs::symlink_metadata(dest.join(p)).unwrap();
        assert_eq!(md("bin/su").mode() & 0o7777, 0o4755);
        assert_eq!(md("tmp").mode() & 0o7777, 0o1777);
        assert_eq!(md("bin").mode() & 0o7777, 0o555);
        assert_eq!(md("bin").mtime(), 12345);
        assert_eq!(md("").mtime(), 7);
        assert_eq!(md("bin/su").mtime(), 999);
        assert_eq!(md("bin/su2").ino(), md("bin/su").ino());
        if nix::unistd::geteuid().is_root() {
            assert_eq!((md("home/u/f").uid(), md("home/u/f").gid()), (1234, 1234));
        }
        assert_eq!(
            std::fs::read_link(dest.join("abs")).unwrap(),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(
            std::fs::read_link(dest.join("rel")).unwrap(),
            PathBuf::from("../bin/su")
        );
        assert_eq!(md("abs").mtime(), 1000);
        let x = |n| xattr_of(&dest.join("withx"), n);
        assert_eq!(x("user.note").as_deref(), Some(&b"hi"[..]));
        assert_eq!(x("security.capability"), None);
        assert_eq!(
            xattr_of(&dest.join("withbsd"), "user.with space").as_deref(),
            Some(&b"hi"[..])
        );
        assert!(!dest.join("dev/null").exists(), "device nodes are skipped");
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(
            &md("fifo").file_type()
        ));
    }

    #[test]
    fn overlay_metadata_from_the_layer_is_dropped() {
        let mut t = Tar::new();
        t.0.append_pax_extensions([
            ("SCHILY.xattr.user.overlay.opaque", &b"y"[..]),
            ("SCHILY.xattr.user.fuseoverlayfs.opaque", &b"y"[..]),
            ("SCHILY.xattr.user.rpod.keep", &b"1"[..]),
        ])
        .unwrap();
        t.dir("forged/", 0o755);
        t.0.append_pax_extensions([
            ("SCHILY.xattr.user.overlay.redirect", &b"/etc"[..]),
            ("SCHILY.xattr.user.overlay.metacopy", &b""[..]),
            (
                "SCHILY.xattr.user.containers.override_stat",
                &b"0:0:4755"[..],
            ),
            ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
        ])
        .unwrap();
        t.dir("redirected/", 0o755);
        t.0.append_pax_extensions([("LIBARCHIVE.xattr.user.overlay.opaque", &b"eQ=="[..])])
            .unwrap();
        t.file("f", b"x");
        // The layer's own way to say opaque still works.
        t.dir("real/", 0o755).file("real/.wh..wh..opq", b"");
        let (_d, dest, r) = unpack(t);
        r.unwrap();
        for (p, names) in [
            ("forged", &OPAQUE_XATTRS[..]),
            (
                "redirected",
                &[
                    "user.overlay.redirect",
                    "user.overlay.metacopy",
                    "user.containers.override_stat",
                ][..],
            ),
            ("f", &["user.overlay.opaque"][..]),
        ] {
            for n in names {
                assert_eq!(xattr_of(&dest.join(p), n), None, "{p}: {n}");
            }
        }
        assert_eq!(
            xattr_of(&dest.join("forged"), "user.rpod.keep").as_deref(),
            Some(&b"1"[..])
        );
        for x in OPAQUE_XATTRS {
            assert_eq!(xattr_of(&dest.join("real"), x).as_deref(), Some(&b"y"[..]));
        }
    }

    #[test]
    fn layer_limits_parse_and_bound_bytes_and_entries() {
        assert_eq!(parse_size("10485760"), Some(10 << 20));
        assert_eq!(parse_size("10M"), Some(10 << 20));
        assert_eq!(parse_size("64GiB"), Some(64 << 30));
        assert_eq!(parse_size("2k"), Some(2048));
        for bad in ["", "x", "-1", "0", "10Q", "99999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(human_size(10 << 20), "10 MiB");
        assert_eq!(human_size(4 << 20), "4 MiB");
        assert_eq!(human_size(1000), "1000 bytes");

        let mut t = Tar::new();
        for i in 0..5 {
            t.file(&format!("f{i}"), b"x");
        }
        let bytes = t.bytes();
        let d = tempfile::tempdir().unwrap();
        let e = format!(
            "{:#}",
            extract(&bytes[..], &d.path().join("a"), 4).unwrap_err()
        );
        assert!(
            e.contains("more than 4 entries") && e.contains(MAX_LAYER_ENTRIES_VAR),
            "{e}"
        );
        extract(&bytes[..], &d.path().join("b"), 5).unwrap();

        let mut hr = HashReader {
            inner: &bytes[..],
            hasher: Sha256::new(),
            count: 0,
            limit: 2048,
        };
        let e = format!(
            "{:#}",
            extract(&mut hr, &d.path().join("c"), 100).unwrap_err()
        );
        assert!(
            e.contains("over the 2 KiB limit") && e.contains(MAX_LAYER_SIZE_VAR),
            "{e}"
        );
    }

    #[test]
    fn zero_blocks_become_holes() {
        let mut data = vec![0u8; 8 << 20];
        data[4096 * 3] = 1;
        let last = data.len() - 1;
        data[last] = 0; // trailing hole
        let mut t = Tar::new();
        t.file("sparse", &data);
        let (_d, dest, r) = unpack(t);
        r.unwrap();
        let m = std::fs::metadata(dest.join("sparse")).unwrap();
        assert_eq!(m.len(), data.len() as u64);
        assert!(m.blocks() * 512 < 1 << 20, "{} blocks", m.blocks());
        assert_eq!(std::fs::read(dest.join("sparse")).unwrap(), data);
    }

    #[test]
    fn pax_sparse_files_are_rebuilt_with_holes() {
        let real = 3 << 20;
        // 1.0: the map leads the data, padded to a block.
        let mut t = Tar::new();
        t.0.append_pax_extensions([
            ("GNU.sparse.major", &b"1"[..]),
            ("GNU.sparse.minor", &b"0"[..]),
            ("GNU.sparse.name", &b"t/v1"[..]),
            ("GNU.sparse.realsize", real.to_string().as_bytes()),
        ])
        .unwrap();
        let mut data = b"2\n4096\n5\n2097152\n3\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(b"hello");
        data.extend_from_slice(b"end");
        t.file("t/GNUSparseFile.0/v1", &data);
        // 0.1: the map is a pax record.
        t.0.append_pax_extensions([
            ("GNU.sparse.map", &b"0,2,1048576,2"[..]),
            ("GNU.sparse.name", &b"t/v01"[..]),
            ("GNU.sparse.size", real.to_string().as_bytes()),
        ])
        .unwrap();
        t.file("t/GNUSparseFile.1/v01", b"abcd");
        let (_d, dest, r) = unpack(t);
        r.unwrap();
        assert!(!dest.join("t/GNUSparseFile.0").exists());
        let v1 = std::fs::read(dest.join("t/v1")).unwrap();
        assert_eq!(v1.len(), real as usize);
        assert_eq!(&v1[4096..4101], b"hello");
        assert_eq!(&v1[2097152..2097155], b"end");
        assert_eq!(v1.iter().filter(|&&b| b != 0).count(), 8);
        let m = std::fs::metadata(dest.join("t/v1")).unwrap();
        assert!(m.blocks() * 512 < 1 << 20, "{} blocks", m.blocks());
        let v01 = std::fs::read(dest.join("t/v01")).unwrap();
        assert_eq!(v01.len(), real as usize);
        assert_eq!(&v01[..2], b"ab");
        assert_eq!(&v01[1048576..1048578], b"cd");
    }

    #[test]
    fn later_entries_replace_earlier_ones() {
        let mut t = Tar::new();
        t.dir("x/", 0o755).file("x/inner", b"1").file("y", b"file");
        t.file("x", b"now a file")
            .dir("y/", 0o700)
            .file("y/z", b"z")
            .file("x", b"again");
        let (_d, dest, r) = unpack(t);
        r.unwrap();
        assert_eq!(std::fs::read(dest.join("x")).unwrap(), b"again");
        assert_eq!(std::fs::read(dest.join("y/z")).unwrap(), b"z");
    }

    #[test]
    fn escapes_are_refused_and_nothing_is_written_outside() {
        type Case = (&'static str, Box<dyn Fn(&mut Tar)>);
        let cases: Vec<Case> = vec![
            (
                "dotdot",
                Box::new(|t: &mut Tar| {
                    t.file("../escaped", b"x");
                }),
            ),
            (
                "absolute",
                Box::new(|t: &mut Tar| {
                    t.file("/tmp/escaped", b"x");
                }),
            ),
            (
                "abs symlink parent",
                Box::new(|t: &mut Tar| {
                    t.symlink("l", "/tmp").file("l/escaped", b"x");
                }),
            ),
            (
                "rel symlink parent",
                Box::new(|t: &mut Tar| {
                    t.dir("a/", 0o755)
                        .symlink("a/l", "../../..")
                        .file("a/l/escaped", b"x");
                }),
            ),
            (
                "symlink chain",
                Box::new(|t: &mut Tar| {
                    t.symlink("l1", "l2")
                        .symlink("l2", "..")
                        .file("l1/escaped", b"x");
                }),
            ),
            (
                "hardlink out",
                Box::new(|t: &mut Tar| {
                    t.hardlink("h", "../../outside");
                }),
            ),
            (
                "hardlink via symlink",
                Box::new(|t: &mut Tar| {
                    t.symlink("l", "/etc").hardlink("h", "l/passwd");
                }),
            ),
            (
                "whiteout via symlink",
                Box::new(|t: &mut Tar| {
                    t.symlink("l", "..").file("l/.wh.victim", b"");
                }),
            ),
            (
                "opaque via symlink",
                Box::new(|t: &mut Tar| {
                    t.symlink("l", "/tmp").file("l/.wh..wh..opq", b"");
                }),
            ),
        ];
        for (what, build) in cases {
            let mut t = Tar::new();
            build(&mut t);
            let (d, _dest, r) = unpack(t);
            let e = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
            let msg = format!("{e:#}");
            assert!(
                msg.contains("refusing") || msg.contains("hard link"),
                "{what}: {msg}"
            );
            assert!(
                !d.path().join("escaped").exists() && !d.path().join("layer/escaped").exists(),
                "{what}"
            );
            assert!(!Path::new("/tmp/escaped").exists(), "{what}");
        }
    }

    #[test]
    fn symlinks_inside_the_layer_may_be_parents() {
        let mut t = Tar::new();
        t.dir("real/", 0o755)
            .symlink("link", "real")
            .file("link/f", b"in");
        let (_d, dest, r) = unpack(t);
        r.unwrap();
        assert_eq!(std::fs::read(dest.join("real/f")).unwrap(), b"in");
    }
}
