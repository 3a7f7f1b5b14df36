//! A container's changes: its upper dir against the image's layers (`rpod
//! diff`), the upper dir as an OCI layer tar (`rpod commit`), and plain tars
//! of a tree (`rpod cp`, `rpod export`).
//!
//! Trees are walked by file descriptor, one `openat(O_NOFOLLOW)` per name on
//! the fd of its directory: nothing in a container's tree (a symlink to
//! `/`, a `..` link, a rename under us) can lead the walk to the host.
//!
//! Whiteouts in an upper dir come in the forms the drivers write: a
//! character device 0:0 (kernel overlay, fuse-overlayfs as root in the user
//! namespace) or an OCI `.wh.NAME` file (fuse-overlayfs where mknod fails);
//! an opaque dir has `user.overlay.opaque`, `trusted.overlay.opaque` or
//! `user.fuseoverlayfs.opaque` set to "y", or holds `.wh..wh..opq`.

use crate::sys::fsx;
use anyhow::{Context, Result};
use nix::dir::Dir;
use nix::fcntl::AtFlags;
use nix::sys::stat::{FileStat, SFlag};
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const WH_PREFIX: &str = ".wh.";
const WH_OPAQUE: &str = ".wh..wh..opq";
/// fuse-overlayfs's own marker of an opaque dir in its upper dir.
const FUSE_OPAQUE: &str = ".wh..opq";

fn is_opaque_marker(name: &OsStr) -> bool {
    name == WH_OPAQUE || name == FUSE_OPAQUE
}
const OPAQUE_XATTRS: [&str; 3] = [
    "user.overlay.opaque",
    "trusted.overlay.opaque",
    "user.fuseoverlayfs.opaque",
];

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Changed,
    Added,
    Deleted,
}

impl ChangeKind {
    /// podman's letter: A, C or D.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute path in the container ("/etc/passwd").
    pub path: String,
    pub kind: ChangeKind,
}

fn kind_of(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn stat_at(dir: RawFd, name: &OsStr) -> nix::Result<FileStat> {
    nix::sys::stat::fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

fn is_whiteout_dev(st: &FileStat) -> bool {
    kind_of(st) == SFlag::S_IFCHR && st.st_rdev == 0
}

fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> std::io::Result<OwnedFd> {
    fsx::openat_nofollow(dir, Path::new(name), libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// The names in a directory, sorted, without `.` and `..`.
fn names(fd: BorrowedFd<'_>) -> Result<Vec<OsString>> {
    use std::os::fd::IntoRawFd;
    let mut d = Dir::from_fd(fd.try_clone_to_owned()?.into_raw_fd())?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    out.sort();
    Ok(out)
}

fn is_opaque_dir(fd: BorrowedFd<'_>, entries: &[OsString]) -> bool {
    OPAQUE_XATTRS
        .iter()
        .any(|x| matches!(fsx::fgetxattr(fd, x), Ok(Some(v)) if v == b"y"))
        || entries.iter().any(|n| is_opaque_marker(n))
}

/// Whether `parts` exists in the image whose layer dirs are `lowers` (top
/// first), with whiteouts and opaque dirs applied. Each component is looked
/// at with lstat after its parent was seen to be a real directory, so no
/// symlink of a layer is ever followed.
pub fn exists_in_layers(lowers: &[PathBuf], parts: &[OsString]) -> bool {
    'layers: for dir in lowers {
        let mut cur = dir.clone();
        let mut opaque = false;
        for (i, comp) in parts.iter().enumerate() {
            cur.push(comp);
            let m = match std::fs::symlink_metadata(&cur) {
                Ok(m) => m,
                Err(_) if opaque => return false,
                Err(_) => {
                    // An OCI-form whiteout in the layer hides it too.
                    let mut wh = OsString::from(WH_PREFIX);
                    wh.push(comp);
                    if cur.with_file_name(&wh).symlink_metadata().is_ok() {
                        return false;
                    }
                    continue 'layers;
                }
            };
            use std::os::unix::fs::{FileTypeExt, MetadataExt};
            if m.file_type().is_char_device() && m.rdev() == 0 {
                return false;
            }
            if i + 1 == parts.len() {
                return true;
            }
            if !m.is_dir() {
                return false;
            }
            opaque |= OPAQUE_XATTRS
                .iter()
                .any(|x| matches!(crate::sys::xattr::lget(&cur, x), Ok(Some(v)) if v == b"y"));
        }
        return true;
    }
    false
}

/// The changes an upper dir holds over `lowers` (top first), sorted by
/// path, without the paths in `skip` (the mount points the runtime makes).
pub fn changes(upper: &Path, lowers: &[PathBuf], skip: &HashSet<String>) -> Result<Vec<Change>> {
    let root: OwnedFd = File::open(upper)
        .with_context(|| format!("opening {}", upper.display()))?
        .into();
    let mut out = Vec::new();
    let mut parts = Vec::new();
    walk_changes(root, &mut parts, lowers, &mut out)
        .with_context(|| format!("reading {}", upper.display()))?;
    out.retain(|c| !skip.contains(&c.path));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn show(parts: &[OsString]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push('/');
        s.push_str(&p.to_string_lossy());
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

fn walk_changes(
    dir: OwnedFd,
    parts: &mut Vec<OsString>,
    lowers: &[PathBuf],
    out: &mut Vec<Change>,
) -> Result<()> {
    let fd = dir.as_raw_fd();
    for name in names(dir.as_fd())? {
        if is_opaque_marker(&name) {
            continue;
        }
        let st = match stat_at(fd, &name) {
            Ok(st) => st,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| show(parts)),
        };
        if let Some(hidden) = name.as_bytes().strip_prefix(WH_PREFIX.as_bytes()) {
            parts.push(OsStr::from_bytes(hidden).to_os_string());
            out.push(Change {
                path: show(parts),
                kind: ChangeKind::Deleted,
            });
            parts.pop();
            continue;
        }
        parts.push(name.clone());
        if is_whiteout_dev(&st) {
            out.push(Change {
                path: show(parts),
                kind: ChangeKind::Deleted,
            });
        } else {
            let kind = if exists_in_layers(lowers, parts) {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            };
            out.push(Change {
                path: show(parts),
                kind,
            });
            if kind_of(&st) == SFlag::S_IFDIR {
                let sub = open_dir_at(dir.as_fd(), &name).with_context(|| show(parts))?;
                walk_changes(sub, parts, lowers, out)?;
            }
        }
        parts.pop();
    }
    Ok(())
}

/// How [`TreeTar`] writes what it walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarMode {
    /// Everything as it is (cp, export): device nodes included.
    Plain,
    /// An upper dir or a layer dir of the store as an OCI layer: whiteout
    /// devices become `.wh.NAME`, opaque dirs get `.wh..wh..opq`, overlay
    /// metadata stays behind.
    Layer,
}

const BLOCK: u64 = 512;
const MAX_OCTAL_ID: u64 = 0o7777777;
const MAX_OCTAL_SIZE: u64 = 0o77777777777;

/// One entry's header, as every tar rpod writes has it.
pub(crate) struct TarHeader<'a> {
    /// Its path in the tar (a directory's ends with '/').
    pub name: &'a [u8],
    pub kind: tar::EntryType,
    /// Bytes of data that follow (regular files only).
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Whole seconds: what the unpacker keeps.
    pub mtime: u64,
    pub link: Option<&'a [u8]>,
    pub device: Option<(u32, u32)>,
    /// (name, value), sorted.
    pub xattrs: &'a [(String, Vec<u8>)],
}

fn pax_record(key: &[u8], val: &[u8]) -> Vec<u8> {
    // "LEN KEY=VALUE\n", where LEN counts itself.
    let body = key.len() + val.len() + 3;
    let mut len = body + 1;
    while len.to_string().len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} ").into_bytes();
    r.extend_from_slice(key);
    r.push(b'=');
    r.extend_from_slice(val);
    r.push(b'\n');
    r
}

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// A ustar header block (the name cut to fit; PAX carries the full one).
fn ustar(name: &[u8], kind: tar::EntryType, size: u64, mode: u32, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    {
        let u = h.as_ustar_mut().expect("ustar header");
        let n = name.len().min(100);
        u.name[..n].copy_from_slice(&name[..n]);
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h
}

/// The header blocks of one entry: a PAX extension when a field does not
/// fit ustar (long or non-ASCII names and link targets, big ids and sizes,
/// xattrs), then the ustar block. The same entry always gives the same
/// bytes: no user or group names, no access times.
pub(crate) fn header_bytes(e: &TarHeader<'_>) -> Result<Vec<u8>> {
    let mut pax = Vec::new();
    if e.name.len() > 100 || !e.name.is_ascii() {
        pax.extend(pax_record(b"path", e.name));
    }
    if let Some(l) = e.link {
        if l.len() > 100 || !l.is_ascii() {
            pax.extend(pax_record(b"linkpath", l));
        }
    }
    if e.uid > MAX_OCTAL_ID {
        pax.extend(pax_record(b"uid", e.uid.to_string().as_bytes()));
    }
    if e.gid > MAX_OCTAL_ID {
        pax.extend(pax_record(b"gid", e.gid.to_string().as_bytes()));
    }
    if e.size > MAX_OCTAL_SIZE {
        pax.extend(pax_record(b"size", e.size.to_string().as_bytes()));
    }
    for (k, v) in e.xattrs {
        pax.extend(pax_record(format!("SCHILY.xattr.{k}").as_bytes(), v));
    }
    let mut out = Vec::with_capacity(1024);
    if !pax.is_empty() {
        let mut ph = ustar(
            b"PaxHeader",
            tar::EntryType::XHeader,
            pax.len() as u64,
            0o644,
            e.mtime,
        );
        ph.set_cksum();
        out.extend_from_slice(ph.as_bytes());
        let plen = pax.len() as u64;
        out.extend_from_slice(&pax);
        out.resize(out.len() + (padded(plen) - plen) as usize, 0);
    }
    let mut h = ustar(
        e.name,
        e.kind,
        e.size.min(MAX_OCTAL_SIZE),
        e.mode & 0o7777,
        e.mtime,
    );
    h.set_uid(e.uid.min(MAX_OCTAL_ID));
    h.set_gid(e.gid.min(MAX_OCTAL_ID));
    if let Some(l) = e.link {
        let u = h.as_ustar_mut().expect("ustar header");
        let n = l.len().min(100);
        u.linkname[..n].copy_from_slice(&l[..n]);
    }
    if let Some((major, minor)) = e.device {
        h.set_device_major(major)?;
        h.set_device_minor(minor)?;
    }
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    Ok(out)
}

/// Files from this size on are moved by the kernel (copy_file_range or
/// sendfile through `io::copy`, when the writer is a file or pipe).
const KERNEL_COPY_MIN: u64 = 64 << 10;

/// A regular file handed to an extractor in the same process by its open
/// fd instead of through the tar ([`TreeTar::feed_files`]): the path its
/// entry has in the tar, the file (None for an empty placeholder) and the
/// length its header would have said.
pub struct FedFile {
    pub path: Vec<u8>,
    pub file: Option<File>,
    pub size: u64,
}

/// How many fed files may wait for the extractor (each holds an open fd).
const FEED_AHEAD: usize = 64;

/// A channel for [`TreeTar::feed_files`] and
/// [`crate::storage::extract_plain_fed`].
pub fn file_feed() -> (
    std::sync::mpsc::SyncSender<FedFile>,
    std::sync::mpsc::Receiver<FedFile>,
) {
    std::sync::mpsc::sync_channel(FEED_AHEAD)
}

/// The other end of a file feed went away (its own error says why).
#[derive(Debug)]
pub struct FeedClosed;

impl std::fmt::Display for FeedClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the other side of the copy stopped")
    }
}
impl std::error::Error for FeedClosed {}

/// rpod's one writer of tars of trees (cp, export, commit, build, and the
/// layer tars `save` and `push` make of a store layer without a tar-split):
/// trees walked by fd, one `openat(O_NOFOLLOW)` per name, entries sorted
/// by name, PAX + ustar headers ([`header_bytes`]), hardlinks as links to
/// the first name seen, xattrs but the store's own, overlay whiteouts and
/// opaque dirs as OCI markers in [`TarMode::Layer`].
pub struct TreeTar<W: Write> {
    out: W,
    mode: TarMode,
    links: HashMap<(u64, u64), Vec<u8>>,
    /// Paths (relative to the walk's root, no leading slash) not to enter,
    /// written as empty placeholders: the mount points of a running
    /// container's other file systems.
    skip: HashSet<PathBuf>,
    /// With a change list: the entries to write whole, and the directories
    /// to write and enter because something below them changed.
    only: Option<(HashSet<PathBuf>, HashSet<PathBuf>)>,
    /// Bytes written so far.
    written: u64,
    /// Count only: file data is not read, its length is taken from stat.
    measure: bool,
    buf: Vec<u8>,
    /// Regular files go here by fd, their entries in the tar empty.
    feed: Option<std::sync::mpsc::SyncSender<FedFile>>,
}

impl<W: Write> TreeTar<W> {
    pub fn new(out: W, mode: TarMode) -> TreeTar<W> {
        TreeTar {
            out,
            mode,
            links: HashMap::new(),
            skip: HashSet::new(),
            only: None,
            written: 0,
            measure: false,
            buf: Vec::new(),
            feed: None,
        }
    }

    /// Hand regular files to `tx` by their open fd (in order, one per
    /// regular-file entry, whose header then says 0 bytes) instead of
    /// writing their data into the tar: for an extractor in this process
    /// ([`crate::storage::extract_plain_fed`]), which copies each file to
    /// its destination file in the kernel (copy_file_range, sendfile)
    /// rather than through the tar stream.
    pub fn feed_files(&mut self, tx: std::sync::mpsc::SyncSender<FedFile>) {
        self.feed = Some(tx);
    }

    /// Send a file to the feed; when the extractor lags, what the tar has
    /// so far goes out first (it may be waiting for that header).
    fn send_fed(&mut self, as_path: &Path, file: Option<File>, size: u64) -> Result<()> {
        use std::sync::mpsc::TrySendError;
        let Some(tx) = &self.feed else {
            return Ok(());
        };
        let m = FedFile {
            path: as_path.as_os_str().as_bytes().to_vec(),
            file,
            size,
        };
        match tx.try_send(m) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(m)) => {
                self.out.flush()?;
                tx.send(m).map_err(|_| anyhow::Error::new(FeedClosed))
            }
            Err(TrySendError::Disconnected(_)) => Err(anyhow::Error::new(FeedClosed)),
        }
    }

    /// Paths under the walk's root (relative) to leave out.
    pub fn skip(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        self.skip.extend(paths);
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Add `name` of directory `dir` as `as_path` in the tar (its whole
    /// tree for a directory).
    pub fn add(&mut self, dir: BorrowedFd<'_>, name: &OsStr, as_path: &Path) -> Result<()> {
        self.add_entry(dir, name, as_path, Path::new(name))
    }

    /// Add the contents of the directory `dir` (not the directory itself)
    /// under `prefix` (empty: at the top).
    pub fn add_contents(&mut self, dir: BorrowedFd<'_>, prefix: &Path) -> Result<()> {
        self.add_children(dir, prefix, Path::new(""))
    }

    /// A layer of `changes` (from [`changes_of_copy`]) to the tree at `root`
    /// (an O_RDONLY fd of a full copy): what was added or changed, the
    /// directories on the way with their own metadata, and an OCI whiteout
    /// for what was deleted.
    pub fn add_changes(&mut self, root: BorrowedFd<'_>, changes: &[Change]) -> Result<()> {
        let mut whole = HashSet::new();
        let mut on_way = HashSet::new();
        let mut gone = Vec::new();
        for c in changes {
            let rel = PathBuf::from(c.path.trim_start_matches('/'));
            let mut a = rel.parent();
            while let Some(p) = a.filter(|p| !p.as_os_str().is_empty()) {
                on_way.insert(p.to_path_buf());
                a = p.parent();
            }
            match c.kind {
                ChangeKind::Deleted => gone.push(rel),
                _ => {
                    whole.insert(rel);
                }
            }
        }
        self.only = Some((whole, on_way));
        let r = self.add_children(root, Path::new(""), Path::new(""));
        self.only = None;
        r?;
        for rel in gone {
            let mut wh = OsString::from(WH_PREFIX);
            wh.push(rel.file_name().unwrap_or_default());
            self.marker(&rel.with_file_name(wh))?;
        }
        Ok(())
    }

    /// Add the directory `dir` (an O_RDONLY fd) as `as_path` with its
    /// whole tree; an empty `as_path` adds only what is in it.
    pub fn add_resolved_dir(&mut self, dir: BorrowedFd<'_>, as_path: &Path) -> Result<()> {
        if !as_path.as_os_str().is_empty() {
            let st = nix::sys::stat::fstat(dir.as_raw_fd())?;
            let xattrs = tar_xattrs(dir);
            self.put(as_path, tar::EntryType::Directory, &st, None, &xattrs)?;
        }
        self.add_children(dir, as_path, Path::new(""))
    }

    /// Add the non-directory `fd` (an O_PATH fd, a symlink not followed
    /// included) as `as_path`.
    pub fn add_resolved_file(&mut self, fd: BorrowedFd<'_>, as_path: &Path) -> Result<()> {
        let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
        match kind_of(&st) {
            SFlag::S_IFREG => {
                // Through the fd's /proc entry: the same file, opened for reading.
                let proc = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
                let f = File::open(&proc).with_context(|| format!("{}", as_path.display()))?;
                self.file(f, &st, as_path)
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(fd.as_raw_fd()), "")?;
                let t = target.as_bytes();
                self.put(as_path, tar::EntryType::Symlink, &st, Some(t), &[])
            }
            SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK => {
                self.put(as_path, entry_type(&st), &st, None, &[])
            }
            _ => anyhow::bail!("{}: can't copy a socket", as_path.display()),
        }
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        if !self.measure {
            self.out.write_all(b)?;
        }
        self.written += b.len() as u64;
        Ok(())
    }

    /// The header of an entry without data.
    fn put(
        &mut self,
        as_path: &Path,
        kind: tar::EntryType,
        st: &FileStat,
        link: Option<&[u8]>,
        xattrs: &[(String, Vec<u8>)],
    ) -> Result<()> {
        let mut name = as_path.as_os_str().as_bytes().to_vec();
        if kind == tar::EntryType::Directory && !name.ends_with(b"/") {
            name.push(b'/');
        }
        let device = matches!(kind, tar::EntryType::Char | tar::EntryType::Block).then(|| {
            (
                nix::sys::stat::major(st.st_rdev) as u32,
                nix::sys::stat::minor(st.st_rdev) as u32,
            )
        });
        let h = header_bytes(&TarHeader {
            name: &name,
            kind,
            size: 0,
            mode: st.st_mode,
            uid: u64::from(st.st_uid),
            gid: u64::from(st.st_gid),
            mtime: st.st_mtime.max(0) as u64,
            link,
            device,
            xattrs,
        })
        .with_context(|| format!("{}", as_path.display()))?;
        self.write(&h)?;
        if kind == tar::EntryType::Regular && !self.measure {
            self.send_fed(as_path, None, 0)?;
        }
        Ok(())
    }

    /// An OCI marker (`.wh.NAME`, `.wh..wh..opq`): empty, root's, 0644.
    fn marker(&mut self, as_path: &Path) -> Result<()> {
        let h = header_bytes(&TarHeader {
            name: as_path.as_os_str().as_bytes(),
            kind: tar::EntryType::Regular,
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            link: None,
            device: None,
            xattrs: &[],
        })?;
        self.write(&h)?;
        if !self.measure {
            self.send_fed(as_path, None, 0)?;
        }
        Ok(())
    }

    /// A regular file: its header and exactly the length `fstat` gives now
    /// (cut there when it grows in a running container, zeros after it
    /// when it shrinks, so the tar stays well-formed).
    fn file(&mut self, f: File, st: &FileStat, as_path: &Path) -> Result<()> {
        let what = || format!("{}", as_path.display());
        let xattrs = tar_xattrs(f.as_fd());
        let size = f.metadata().with_context(what)?.len();
        let fed = self.feed.is_some() && !self.measure;
        let h = header_bytes(&TarHeader {
            name: as_path.as_os_str().as_bytes(),
            kind: tar::EntryType::Regular,
            size: if fed { 0 } else { size },
            mode: st.st_mode,
            uid: u64::from(st.st_uid),
            gid: u64::from(st.st_gid),
            mtime: st.st_mtime.max(0) as u64,
            link: None,
            device: None,
            xattrs: &xattrs,
        })
        .with_context(what)?;
        self.write(&h)?;
        if fed {
            return self.send_fed(as_path, Some(f), size);
        }
        if self.measure {
            self.written += padded(size);
            return Ok(());
        }
        use std::io::Read;
        let got = if size >= KERNEL_COPY_MIN {
            // Moved by the kernel when `out` is a file or pipe, else a MiB
            // at a time (io::copy's own buffer is 8 KiB).
            let cap = size.min(1 << 20) as usize;
            let mut r = std::io::BufReader::with_capacity(cap, (&f).take(size));
            std::io::copy(&mut r, &mut self.out).with_context(what)?
        } else {
            self.buf.clear();
            (&f).take(size)
                .read_to_end(&mut self.buf)
                .with_context(what)?;
            self.out.write_all(&self.buf)?;
            self.buf.len() as u64
        };
        let zeros = [0u8; 64 << 10];
        let mut left = padded(size) - got;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            self.out.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        self.written += padded(size);
        Ok(())
    }

    fn add_children(&mut self, fd: BorrowedFd<'_>, as_path: &Path, rel: &Path) -> Result<()> {
        let entries = names(fd)?;
        if self.mode == TarMode::Layer && is_opaque_dir(fd, &entries) {
            self.marker(&as_path.join(WH_OPAQUE))?;
        }
        for name in entries {
            if self.mode == TarMode::Layer && is_opaque_marker(&name) {
                continue;
            }
            self.add_entry(fd, &name, &as_path.join(&name), &rel.join(&name))?;
        }
        Ok(())
    }

    fn add_entry(
        &mut self,
        dirfd: BorrowedFd<'_>,
        name: &OsStr,
        as_path: &Path,
        rel: &Path,
    ) -> Result<()> {
        let dir = dirfd.as_raw_fd();
        // With a change list, only changed entries and the directories
        // on their way (entered, their other entries left out).
        if let Some((whole, on_way)) = &self.only {
            if !whole.contains(rel) && !on_way.contains(rel) {
                return Ok(());
            }
        }
        if self.skip.contains(rel) {
            // Another file system's mount point: an empty placeholder, as
            // the rootfs itself has it.
            let Ok(st) = stat_at(dir, name) else {
                return Ok(());
            };
            let kind = match kind_of(&st) {
                SFlag::S_IFDIR => tar::EntryType::Directory,
                _ => tar::EntryType::Regular,
            };
            return self.put(as_path, kind, &st, None, &[]);
        }
        let st = match stat_at(dir, name) {
            Ok(st) => st,
            // Gone since the directory was read (a running container).
            Err(nix::errno::Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("{}", as_path.display())),
        };
        if self.mode == TarMode::Layer && is_whiteout_dev(&st) {
            let mut wh = OsString::from(WH_PREFIX);
            wh.push(name);
            return self.marker(&as_path.with_file_name(wh));
        }
        let what = || format!("{}", as_path.display());
        match kind_of(&st) {
            SFlag::S_IFDIR => {
                let d = match open_dir_at(dirfd, name) {
                    Ok(d) => d,
                    // Removed since (a running container).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e).with_context(what),
                };
                if !as_path.as_os_str().is_empty() {
                    let xattrs = tar_xattrs(d.as_fd());
                    self.put(as_path, tar::EntryType::Directory, &st, None, &xattrs)?;
                }
                self.add_children(d.as_fd(), as_path, rel)?;
            }
            SFlag::S_IFREG => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key).cloned() {
                        return self.put(as_path, tar::EntryType::Link, &st, Some(&first), &[]);
                    }
                    self.links
                        .insert(key, as_path.as_os_str().as_bytes().to_vec());
                }
                let fd = match fsx::openat_nofollow(dirfd, Path::new(name), libc::O_RDONLY, 0) {
                    Ok(fd) => fd,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e).with_context(what),
                };
                self.file(File::from(fd), &st, as_path)?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(dir), name).with_context(what)?;
                let t = target.as_bytes();
                self.put(as_path, tar::EntryType::Symlink, &st, Some(t), &[])?;
            }
            SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK => {
                self.put(as_path, entry_type(&st), &st, None, &[])?;
            }
            // Sockets have no place in a tar.
            _ => {}
        }
        Ok(())
    }

    /// Finish the archive (two zero blocks) and hand back the writer.
    pub fn finish(mut self) -> Result<W> {
        self.write(&[0u8; 2 * BLOCK as usize])
            .context("finishing the tar")?;
        self.out.flush().context("finishing the tar")?;
        Ok(self.out)
    }
}

/// The exact length of the tar [`TreeTar`] writes of the contents of `dir`
/// in `mode`, found with stat alone (no file's data is read).
pub(crate) fn measure_tree(dir: BorrowedFd<'_>, mode: TarMode) -> Result<u64> {
    let mut t = TreeTar::new(std::io::sink(), mode);
    t.measure = true;
    t.add_contents(dir, Path::new(""))?;
    Ok(t.written() + 2 * BLOCK)
}

fn entry_type(st: &FileStat) -> tar::EntryType {
    match kind_of(st) {
        SFlag::S_IFCHR => tar::EntryType::Char,
        SFlag::S_IFBLK => tar::EntryType::Block,
        SFlag::S_IFIFO => tar::EntryType::Fifo,
        SFlag::S_IFDIR => tar::EntryType::Directory,
        SFlag::S_IFLNK => tar::EntryType::Symlink,
        _ => tar::EntryType::Regular,
    }
}

/// Xattr namespaces that are the store's own metadata (overlay's,
/// fuse-overlayfs's, containers/storage's): never part of a tar.
const STORE_XATTR_PREFIXES: [&str; 5] = [
    "user.overlay.",
    "user.fuseoverlayfs.",
    "user.containers.",
    "trusted.overlay.",
    "trusted.fuseoverlayfs.",
];

/// The xattrs of `fd` a tar carries: all but the store's own (a layer
/// keeps `security.capability`; the extractor itself restores only
/// `user.*`), sorted by name.
fn tar_xattrs(fd: BorrowedFd<'_>) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in fsx::flistxattr(fd).unwrap_or_default() {
        let Ok(n) = std::str::from_utf8(&name) else {
            continue;
        };
        if STORE_XATTR_PREFIXES.iter().any(|p| n.starts_with(p)) {
            continue;
        }
        let Ok(Some(v)) = fsx::fgetxattr(fd, n) else {
            continue;
        };
        out.push((n.to_string(), v));
    }
    out.sort();
    out
}

/// An O_RDONLY directory fd of `fd` (an O_PATH one from an in-root lookup).
pub fn reopen_dir(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    Ok(fsx::openat_nofollow(
        fd,
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )?)
}

// ---- vfs: a full copy compared with the image ----

/// The real directories (top first) whose entries make up the image's
/// directory `parts`: stops at an opaque dir, a whiteout, or a
/// non-directory that shadows the path. Components are checked with lstat
/// from each layer's top, so no symlink of a layer is followed.
fn merged_dir_sources(lowers: &[PathBuf], parts: &[OsString]) -> Vec<PathBuf> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    'layers: for dir in lowers {
        let mut cur = dir.clone();
        for comp in parts {
            cur.push(comp);
            let Ok(m) = std::fs::symlink_metadata(&cur) else {
                let mut wh = OsString::from(WH_PREFIX);
                wh.push(comp);
                if cur.with_file_name(&wh).symlink_metadata().is_ok() {
                    return out;
                }
                continue 'layers;
            };
            if (m.file_type().is_char_device() && m.rdev() == 0) || !m.is_dir() {
                return out;
            }
        }
        let opaque = OPAQUE_XATTRS
            .iter()
            .any(|x| matches!(crate::sys::xattr::lget(&cur, x), Ok(Some(v)) if v == b"y"))
            || cur.join(WH_OPAQUE).symlink_metadata().is_ok();
        out.push(cur);
        if opaque {
            return out;
        }
    }
    out
}

/// The names the image shows in its directory `parts`.
fn merged_children(lowers: &[PathBuf], parts: &[OsString]) -> std::collections::BTreeSet<OsString> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut seen = std::collections::BTreeSet::new();
    let mut hidden: HashSet<OsString> = HashSet::new();
    for dir in merged_dir_sources(lowers, parts) {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut here_hidden = Vec::new();
        for e in rd.flatten() {
            let n = e.file_name();
            if is_opaque_marker(&n) {
                continue;
            }
            if let Some(h) = n.as_bytes().strip_prefix(WH_PREFIX.as_bytes()) {
                here_hidden.push(OsStr::from_bytes(h).to_os_string());
                continue;
            }
            let wh = e
                .metadata()
                .map(|m| m.file_type().is_char_device() && m.rdev() == 0)
                .unwrap_or(false);
            if wh {
                here_hidden.push(n);
            } else if !hidden.contains(&n) {
                seen.insert(n);
            }
        }
        hidden.extend(here_hidden);
    }
    seen
}

/// Whether the container's entry `name` in `dir` differs from the image's
/// `lower` (type, mode, owner, a symlink's target, a file's bytes).
fn differs(dir: BorrowedFd<'_>, name: &OsStr, st: &FileStat, lower: &Path) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(m) = std::fs::symlink_metadata(lower) else {
        return true;
    };
    if m.file_type().is_char_device() && m.rdev() == 0 {
        return true;
    }
    if m.mode() != st.st_mode || m.uid() != st.st_uid || m.gid() != st.st_gid {
        return true;
    }
    match kind_of(st) {
        SFlag::S_IFLNK => {
            let mine = nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name).ok();
            mine.as_deref()
                != std::fs::read_link(lower)
                    .ok()
                    .as_deref()
                    .map(Path::as_os_str)
        }
        SFlag::S_IFREG => {
            if m.len() != st.st_size as u64 {
                return true;
            }
            let Ok(a) = fsx::openat_nofollow(dir, Path::new(name), libc::O_RDONLY, 0) else {
                return true;
            };
            let Ok(b) = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(lower)
            else {
                return true;
            };
            !same_bytes(File::from(a), b)
        }
        SFlag::S_IFCHR | SFlag::S_IFBLK => m.rdev() != st.st_rdev,
        _ => false,
    }
}

fn same_bytes(mut a: File, mut b: File) -> bool {
    use std::io::Read;
    let (mut x, mut y) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    loop {
        let n = match a.read(&mut x) {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n == 0 {
            return matches!(b.read(&mut y[..1]), Ok(0));
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return false;
        }
    }
}

/// The changes of a full copy of the image (`vfs`'s rootfs) over the
/// image's layers `lowers` (top first), sorted by path. Directories are
/// changed when their own metadata differs or anything in them changed.
pub fn changes_of_copy(
    rootfs: &Path,
    lowers: &[PathBuf],
    skip: &HashSet<String>,
) -> Result<Vec<Change>> {
    let root: OwnedFd = File::open(rootfs)
        .with_context(|| format!("opening {}", rootfs.display()))?
        .into();
    let mut out = Vec::new();
    walk_copy(root.as_fd(), &mut Vec::new(), lowers, &mut out)
        .with_context(|| format!("reading {}", rootfs.display()))?;
    out.retain(|c| !skip.contains(&c.path));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Whether anything below `parts` changed.
fn walk_copy(
    dir: BorrowedFd<'_>,
    parts: &mut Vec<OsString>,
    lowers: &[PathBuf],
    out: &mut Vec<Change>,
) -> Result<bool> {
    let mine = names(dir)?;
    let mut any = false;
    let lower_dirs = merged_dir_sources(lowers, parts);
    for name in &mine {
        let st = match stat_at(dir.as_raw_fd(), name) {
            Ok(st) => st,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| show(parts)),
        };
        parts.push(name.clone());
        let lower = if exists_in_layers(lowers, parts) {
            lower_dirs
                .iter()
                .map(|d| d.join(name))
                .find(|p| p.symlink_metadata().is_ok())
        } else {
            None
        };
        let mut kind = match &lower {
            None => Some(ChangeKind::Added),
            Some(l) if differs(dir, name, &st, l) => Some(ChangeKind::Changed),
            Some(_) => None,
        };
        let idx = out.len();
        if kind_of(&st) == SFlag::S_IFDIR {
            let sub = open_dir_at(dir, name).with_context(|| show(parts))?;
            if lower.is_none() {
                walk_added(sub.as_fd(), parts, out)?;
            } else if walk_copy(sub.as_fd(), parts, lowers, out)? && kind.is_none() {
                kind = Some(ChangeKind::Changed);
            }
        }
        if let Some(k) = kind {
            out.insert(
                idx,
                Change {
                    path: show(parts),
                    kind: k,
                },
            );
            any = true;
        }
        any |= out.len() > idx;
        parts.pop();
    }
    if !lower_dirs.is_empty() || parts.is_empty() {
        let mine: HashSet<&OsString> = mine.iter().collect();
        for n in merged_children(lowers, parts) {
            if !mine.contains(&n) {
                parts.push(n);
                out.push(Change {
                    path: show(parts),
                    kind: ChangeKind::Deleted,
                });
                parts.pop();
                any = true;
            }
        }
    }
    Ok(any)
}

/// Everything below an added directory is added.
fn walk_added(dir: BorrowedFd<'_>, parts: &mut Vec<OsString>, out: &mut Vec<Change>) -> Result<()> {
    for name in names(dir)? {
        parts.push(name.clone());
        out.push(Change {
            path: show(parts),
            kind: ChangeKind::Added,
        });
        if let Ok(st) = stat_at(dir.as_raw_fd(), &name) {
            if kind_of(&st) == SFlag::S_IFDIR {
                let sub = open_dir_at(dir, &name).with_context(|| show(parts))?;
                walk_added(sub.as_fd(), parts, out)?;
            }
        }
        parts.pop();
    }
    Ok(())
}

// ---- two trees: `rpod diff A B` ----

/// What containers/storage's `ChangesDirs` compares of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    rdev: u64,
    mtime: (i64, i64),
    size: i64,
    target: Option<OsString>,
    cap: Option<Vec<u8>>,
}

impl Meta {
    fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// An entry of a merged file system view, with its children for a directory.
#[derive(Debug, Clone)]
struct Node {
    meta: Meta,
    children: std::collections::BTreeMap<OsString, Node>,
}

fn meta_at(dir: BorrowedFd<'_>, name: &OsStr, st: &FileStat) -> Meta {
    let k = kind_of(st);
    let target = (k == SFlag::S_IFLNK)
        .then(|| nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name).ok())
        .flatten();
    // File capabilities live on regular files only; read beneath the
    // directory's fd without following the name.
    let cap = (k == SFlag::S_IFREG)
        .then(|| {
            let p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name);
            crate::sys::xattr::lget(&p, "security.capability")
                .ok()
                .flatten()
        })
        .flatten();
    Meta {
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        mtime: (st.st_mtime, st.st_mtime_nsec),
        size: st.st_size,
        target,
        cap,
    }
}

/// Lay the layer dir `dir` over `node` (a directory of the view), applying
/// its whiteouts (both forms) and opaque dirs.
fn overlay_onto(dir: BorrowedFd<'_>, node: &mut Node, parts: &mut Vec<OsString>) -> Result<()> {
    let entries = names(dir)?;
    // Whiteouts first: a layer may delete a name and add it again.
    let mut kept = Vec::with_capacity(entries.len());
    for name in entries {
        if is_opaque_marker(&name) {
            continue;
        }
        if let Some(hidden) = name.as_bytes().strip_prefix(WH_PREFIX.as_bytes()) {
            node.children.remove(OsStr::from_bytes(hidden));
            continue;
        }
        let st = match stat_at(dir.as_raw_fd(), &name) {
            Ok(st) => st,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| show(parts)),
        };
        if is_whiteout_dev(&st) {
            node.children.remove(&name);
            continue;
        }
        kept.push((name, st));
    }
    for (name, st) in kept {
        let meta = meta_at(dir, &name, &st);
        parts.push(name.clone());
        if meta.is_dir() {
            let sub = open_dir_at(dir, &name).with_context(|| show(parts))?;
            let subnames = names(sub.as_fd())?;
            let child = node.children.entry(name).or_insert_with(|| Node {
                meta: meta.clone(),
                children: Default::default(),
            });
            if !child.meta.is_dir() || is_opaque_dir(sub.as_fd(), &subnames) {
                child.children.clear();
            }
            child.meta = meta;
            overlay_onto(sub.as_fd(), child, parts)?;
        } else {
            node.children.insert(
                name,
                Node {
                    meta,
                    children: Default::default(),
                },
            );
        }
        parts.pop();
    }
    Ok(())
}

/// The file system the layer dirs `layers` (top first) make together.
fn merged_view(layers: &[PathBuf]) -> Result<Node> {
    let mut root = Node {
        meta: Meta {
            mode: libc::S_IFDIR | 0o755,
            uid: 0,
            gid: 0,
            rdev: 0,
            mtime: (0, 0),
            size: 0,
            target: None,
            cap: None,
        },
        children: Default::default(),
    };
    for dir in layers.iter().rev() {
        let fd: OwnedFd = File::open(dir)
            .with_context(|| format!("opening {}", dir.display()))?
            .into();
        overlay_onto(fd.as_fd(), &mut root, &mut Vec::new())
            .with_context(|| format!("reading {}", dir.display()))?;
    }
    Ok(root)
}

/// containers/storage's `statDifferent`, plus capabilities and link targets.
fn meta_differs(old: &Meta, new: &Meta) -> bool {
    let same_time = old.mtime.0 == new.mtime.0
        && (old.mtime.1 == new.mtime.1 || old.mtime.1 == 0 || new.mtime.1 == 0);
    old.mode != new.mode
        || old.uid != new.uid
        || old.gid != new.gid
        || old.rdev != new.rdev
        || (!old.is_dir() && (!same_time || old.size != new.size))
        || old.cap != new.cap
        || old.target != new.target
}

/// `ChangesDirs`' walk: `new` against `old` (None: added); `reported`:
/// `new` itself was already listed (added or changed).
fn compare_nodes(
    new: &Node,
    old: Option<&Node>,
    parts: &mut Vec<OsString>,
    reported: bool,
    out: &mut Vec<Change>,
) {
    let start = out.len();
    let mut reported = reported;
    if old.is_none() {
        out.push(Change {
            path: show(parts),
            kind: ChangeKind::Added,
        });
        reported = true;
    }
    let mut old_children: std::collections::BTreeMap<&OsString, &Node> = match old {
        Some(o) if new.meta.is_dir() => o.children.iter().collect(),
        _ => Default::default(),
    };
    for (name, child) in &new.children {
        parts.push(name.clone());
        let oc = old_children.remove(name);
        let mut child_reported = false;
        if let Some(oc) = oc {
            if meta_differs(&oc.meta, &child.meta) {
                out.push(Change {
                    path: show(parts),
                    kind: ChangeKind::Changed,
                });
                child_reported = true;
            }
        }
        compare_nodes(child, oc, parts, child_reported, out);
        parts.pop();
    }
    for name in old_children.keys() {
        parts.push((*name).clone());
        out.push(Change {
            path: show(parts),
            kind: ChangeKind::Deleted,
        });
        parts.pop();
    }
    if out.len() > start && new.meta.is_dir() && !reported && !parts.is_empty() {
        out.push(Change {
            path: show(parts),
            kind: ChangeKind::Changed,
        });
    }
}

/// The changes that make the file system of layer dirs `from` (top first)
/// into that of `to`, as podman's `diff A B` lists them (containers/storage's
/// `ChangesDirs`): added, deleted, changed by type, mode, owner, device,
/// capabilities, link target, or (not for directories) size and mtime; a
/// directory that holds a change is changed. Sorted by path, without `skip`.
pub fn changes_between(
    from: &[PathBuf],
    to: &[PathBuf],
    skip: &HashSet<String>,
) -> Result<Vec<Change>> {
    let old = merged_view(from)?;
    let new = merged_view(to)?;
    let mut out = Vec::new();
    compare_nodes(&new, Some(&old), &mut Vec::new(), true, &mut out);
    out.retain(|c| !skip.contains(&c.path));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn two_views_compare_as_changes_dirs_does() {
        let d = tempfile::tempdir().unwrap();
        let (base, a_top, b_top) = (
            d.path().join("base"),
            d.path().join("a"),
            d.path().join("b"),
        );
        for p in ["etc", "usr/lib", "opt/x"] {
            std::fs::create_dir_all(base.join(p)).unwrap();
        }
        std::fs::write(base.join("etc/passwd"), "root").unwrap();
        std::fs::write(base.join("etc/same"), "s").unwrap();
        std::fs::write(base.join("usr/lib/libc"), "c").unwrap();
        std::fs::write(base.join("opt/x/f"), "f").unwrap();
        // A deletes /etc/same (OCI form) and adds /a-only.
        std::fs::create_dir_all(a_top.join("etc")).unwrap();
        std::fs::write(a_top.join("etc/.wh.same"), "").unwrap();
        std::fs::write(a_top.join("a-only"), "a").unwrap();
        // B: /etc/passwd grows, /opt is opaque with a new file, a new dir.
        std::fs::create_dir_all(b_top.join("etc")).unwrap();
        std::fs::write(b_top.join("etc/passwd"), "root:x").unwrap();
        std::fs::create_dir_all(b_top.join("opt")).unwrap();
        std::fs::write(b_top.join("opt/.wh..wh..opq"), "").unwrap();
        std::fs::write(b_top.join("opt/new"), "n").unwrap();
        std::fs::create_dir_all(b_top.join("srv/d")).unwrap();
        // The same metadata for the dirs both sides share.
        use std::os::unix::fs::PermissionsExt;
        for p in [base.join("etc"), a_top.join("etc"), b_top.join("etc")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for p in [base.join("opt"), b_top.join("opt")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let from = [a_top, base.clone()];
        let to = [b_top, base];
        let got: Vec<String> = changes_between(&from, &to, &HashSet::new())
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect();
        assert_eq!(
            got,
            [
                "D /a-only",
                "C /etc",
                "C /etc/passwd",
                "A /etc/same",
                "C /opt",
                "A /opt/new",
                "D /opt/x",
                "A /srv",
                "A /srv/d"
            ]
        );
        let none = changes_between(&from, &from, &HashSet::new()).unwrap();
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn pax_records_count_their_own_length() {
        assert_eq!(pax_record(b"path", b"a"), b"9 path=a\n");
        let long = "x".repeat(95);
        let r = pax_record(b"path", long.as_bytes());
        assert_eq!(r.len().to_string(), String::from_utf8_lossy(&r[..3]));
    }

    #[test]
    fn devices_keep_their_numbers_and_long_names_their_bytes() {
        let long = format!("d/{}", "n".repeat(150));
        let mut out = header_bytes(&TarHeader {
            name: b"dev/null",
            kind: tar::EntryType::Char,
            size: 0,
            mode: 0o666,
            uid: 0,
            gid: 0,
            mtime: 0,
            link: None,
            device: Some((1, 3)),
            xattrs: &[],
        })
        .unwrap();
        out.extend(
            header_bytes(&TarHeader {
                name: long.as_bytes(),
                kind: tar::EntryType::Symlink,
                size: 0,
                mode: 0o777,
                uid: 1 << 30,
                gid: 5,
                mtime: 7,
                link: Some(long.as_bytes()),
                device: None,
                xattrs: &[("user.k".into(), b"v".to_vec())],
            })
            .unwrap(),
        );
        out.resize(out.len() + 2 * BLOCK as usize, 0);
        let mut ar = tar::Archive::new(&out[..]);
        let mut es = ar.entries().unwrap();
        let dev = es.next().unwrap().unwrap();
        assert_eq!(dev.header().entry_type(), tar::EntryType::Char);
        assert_eq!(
            (
                dev.header().device_major().unwrap(),
                dev.header().device_minor().unwrap()
            ),
            (Some(1), Some(3))
        );
        let mut l = es.next().unwrap().unwrap();
        assert_eq!(&*l.path_bytes(), long.as_bytes());
        assert_eq!(&*l.link_name_bytes().unwrap(), long.as_bytes());
        let pax: Vec<(String, Vec<u8>)> = l
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.key().unwrap().to_string(), e.value_bytes().to_vec())
            })
            .collect();
        assert!(pax.contains(&("uid".into(), b"1073741824".to_vec())));
        assert!(pax.contains(&("SCHILY.xattr.user.k".into(), b"v".to_vec())));
    }

    #[test]
    fn a_measured_tree_is_as_long_as_its_tar() {
        let d = tempfile::tempdir().unwrap();
        let up = d.path();
        std::fs::create_dir_all(up.join("a/deep")).unwrap();
        std::fs::write(up.join("a/f"), vec![1u8; 70_000]).unwrap();
        std::fs::hard_link(up.join("a/f"), up.join("a/g")).unwrap();
        std::fs::write(up.join("a/deep").join("x".repeat(120)), "small").unwrap();
        crate::sys::xattr::lset(&up.join("a"), "user.note", b"n").unwrap();
        std::fs::write(up.join(".wh.old"), "").unwrap();
        let root = crate::sys::inroot::open_root(up).unwrap();
        let rd = reopen_dir(root.as_fd()).unwrap();
        let n = measure_tree(rd.as_fd(), TarMode::Layer).unwrap();
        let mut t = TreeTar::new(Vec::new(), TarMode::Layer);
        t.add_contents(rd.as_fd(), Path::new("")).unwrap();
        let bytes = t.finish().unwrap();
        assert_eq!(bytes.len() as u64, n);
        let mut again = TreeTar::new(Vec::new(), TarMode::Layer);
        again.add_contents(rd.as_fd(), Path::new("")).unwrap();
        assert_eq!(
            again.finish().unwrap(),
            bytes,
            "the same tree, the same bytes"
        );
    }

    #[test]
    fn changes_see_whiteouts_and_lower_files() {
        let d = tempfile::tempdir().unwrap();
        let low = d.path().join("low");
        let up = d.path().join("up");
        std::fs::create_dir_all(low.join("etc")).unwrap();
        std::fs::write(low.join("etc/passwd"), "x").unwrap();
        std::fs::write(low.join("etc/gone"), "x").unwrap();
        std::fs::create_dir_all(up.join("etc")).unwrap();
        std::fs::write(up.join("etc/passwd"), "y").unwrap();
        std::fs::write(up.join("etc/new"), "y").unwrap();
        std::fs::write(up.join("etc/.wh.gone"), "").unwrap();
        std::fs::create_dir_all(up.join("etc/fresh")).unwrap();
        std::fs::write(up.join("etc/fresh/.wh..opq"), "").unwrap();
        // A lower symlink to the host never makes a path "exist".
        symlink("/", low.join("evil")).unwrap();
        std::fs::create_dir_all(up.join("evil/etc")).unwrap();
        let c = changes(&up, &[low], &HashSet::new()).unwrap();
        let got: Vec<String> = c
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect();
        assert_eq!(
            got,
            [
                "C /etc",
                "A /etc/fresh",
                "D /etc/gone",
                "A /etc/new",
                "C /etc/passwd",
                "C /evil",
                "A /evil/etc"
            ]
        );
    }

    #[test]
    fn layer_tar_has_oci_whiteouts_and_hardlinks() {
        let d = tempfile::tempdir().unwrap();
        let up = d.path().join("up");
        std::fs::create_dir_all(up.join("a")).unwrap();
        std::fs::write(up.join("a/f"), "data").unwrap();
        std::fs::hard_link(up.join("a/f"), up.join("a/g")).unwrap();
        std::fs::write(up.join(".wh.old"), "").unwrap();
        std::fs::create_dir(up.join("o")).unwrap();
        std::fs::write(up.join("o/.wh..opq"), "").unwrap();
        symlink("/etc/passwd", up.join("l")).unwrap();
        let root = crate::sys::inroot::open_root(&up).unwrap();
        let rd = reopen_dir(root.as_fd()).unwrap();
        let mut t = TreeTar::new(Vec::new(), TarMode::Layer);
        t.add_contents(rd.as_fd(), Path::new("")).unwrap();
        let bytes = t.finish().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            seen.push(format!(
                "{:?} {}",
                e.header().entry_type(),
                e.path().unwrap().display()
            ));
        }
        assert_eq!(
            seen,
            [
                "Regular .wh.old",
                "Directory a/",
                "Regular a/f",
                "Link a/g",
                "Symlink l",
                "Directory o/",
                "Regular o/.wh..wh..opq"
            ]
        );
    }

    #[test]
    fn a_copy_is_compared_inside_the_layers_only() {
        let d = tempfile::tempdir().unwrap();
        let (low, top, copy) = (
            d.path().join("low"),
            d.path().join("top"),
            d.path().join("copy"),
        );
        let host = d.path().join("host");
        std::fs::create_dir_all(host.join("etc")).unwrap();
        std::fs::write(host.join("etc/secret"), "s").unwrap();
        std::fs::create_dir_all(low.join("a")).unwrap();
        std::fs::write(low.join("a/keep"), "k").unwrap();
        std::fs::write(low.join("a/edit"), "one").unwrap();
        std::fs::write(low.join("a/gone"), "g").unwrap();
        std::fs::write(low.join("a/hidden"), "h").unwrap();
        // The top layer deletes a/hidden and links /evil to the host.
        std::fs::create_dir_all(top.join("a")).unwrap();
        std::fs::write(top.join("a/.wh.hidden"), "").unwrap();
        symlink(&host, top.join("evil")).unwrap();
        // The copy: a/edit changed (same size), a/gone deleted, evil now a
        // dir holding what the host has.
        std::fs::create_dir_all(copy.join("a")).unwrap();
        std::fs::write(copy.join("a/keep"), "k").unwrap();
        std::fs::write(copy.join("a/edit"), "two").unwrap();
        std::fs::create_dir_all(copy.join("evil/etc")).unwrap();
        std::fs::write(copy.join("evil/etc/secret"), "s").unwrap();
        use std::os::unix::fs::PermissionsExt;
        for p in [copy.join("a"), low.join("a"), top.join("a")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let c = changes_of_copy(&copy, &[top, low], &HashSet::new()).unwrap();
        let got: Vec<String> = c
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect();
        assert_eq!(
            got,
            [
                "C /a",
                "C /a/edit",
                "D /a/gone",
                "C /evil",
                "A /evil/etc",
                "A /evil/etc/secret"
            ]
        );
    }

    #[test]
    fn user_xattrs_travel_and_store_ones_stay_behind() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("dir")).unwrap();
        std::fs::write(src.join("dir/f"), "x").unwrap();
        crate::sys::xattr::lset(&src.join("dir/f"), "user.note", b"kept").unwrap();
        crate::sys::xattr::lset(&src.join("dir"), "user.overlay.opaque", b"y").unwrap();
        crate::sys::xattr::lset(&src.join("dir"), "user.dirnote", b"d").unwrap();
        let root = crate::sys::inroot::open_root(&src).unwrap();
        let rd = reopen_dir(root.as_fd()).unwrap();
        let mut t = TreeTar::new(Vec::new(), TarMode::Plain);
        t.add_contents(rd.as_fd(), Path::new("")).unwrap();
        let bytes = t.finish().unwrap();
        let dst = d.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let fd: OwnedFd = File::open(&dst).unwrap().into();
        crate::storage::extract_plain(&bytes[..], fd, Default::default()).unwrap();
        let get = |p: &str, n: &str| crate::sys::xattr::lget(&dst.join(p), n).unwrap();
        assert_eq!(get("dir/f", "user.note").as_deref(), Some(&b"kept"[..]));
        assert_eq!(get("dir", "user.dirnote").as_deref(), Some(&b"d"[..]));
        assert_eq!(get("dir", "user.overlay.opaque"), None);
    }

    #[test]
    fn fed_files_arrive_as_the_tar_would_bring_them() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("dir/sub")).unwrap();
        std::fs::write(src.join("dir/empty"), "").unwrap();
        std::fs::write(src.join("dir/small"), "hello").unwrap();
        let big: Vec<u8> = (0..(3 << 20) + 17)
            .map(|i| (i * 7 + i / 4096) as u8)
            .collect();
        std::fs::write(src.join("dir/sub/big"), &big).unwrap();
        std::fs::hard_link(src.join("dir/small"), src.join("dir/link")).unwrap();
        symlink("sub/big", src.join("dir/sym")).unwrap();
        std::fs::set_permissions(
            src.join("dir/small"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        crate::sys::xattr::lset(&src.join("dir/sub/big"), "user.note", b"n").unwrap();
        // Sparse: data, a 2 MiB hole, data, and a hole at the end.
        let f = File::create(src.join("dir/sparse")).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(&[1u8; 8192], 0).unwrap();
        f.write_all_at(&[2u8; 4096], 8192 + (2 << 20)).unwrap();
        f.set_len(8 << 20).unwrap();
        drop(f);

        let root = crate::sys::inroot::open_root(&src).unwrap();
        let rd = reopen_dir(root.as_fd()).unwrap();
        let dst = d.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let fd: OwnedFd = File::open(&dst).unwrap().into();
        let (tx, rx) = file_feed();
        let (r, w) = nix::unistd::pipe().unwrap();
        std::thread::scope(|sc| {
            sc.spawn(move || {
                let mut t = TreeTar::new(File::from(w), TarMode::Plain);
                t.feed_files(tx);
                t.add_contents(rd.as_fd(), Path::new("")).unwrap();
                t.finish().unwrap();
            });
            crate::storage::extract_plain_fed(File::from(r), fd, Default::default(), rx).unwrap();
        });
        let read = |p: &str| std::fs::read(dst.join(p)).unwrap();
        assert_eq!(read("dir/empty"), b"");
        assert_eq!(read("dir/small"), b"hello");
        assert_eq!(read("dir/sub/big"), big);
        assert_eq!(
            std::fs::read_link(dst.join("dir/sym")).unwrap(),
            Path::new("sub/big")
        );
        let m = |p: &str| std::fs::symlink_metadata(dst.join(p)).unwrap();
        assert_eq!(m("dir/small").ino(), m("dir/link").ino());
        assert_eq!(m("dir/small").mode() & 0o7777, 0o640);
        assert_eq!(
            crate::sys::xattr::lget(&dst.join("dir/sub/big"), "user.note")
                .unwrap()
                .as_deref(),
            Some(&b"n"[..])
        );
        let sp = read("dir/sparse");
        assert_eq!(sp.len(), 8 << 20);
        assert!(sp[..8192].iter().all(|&b| b == 1));
        assert!(sp[8192..8192 + (2 << 20)].iter().all(|&b| b == 0));
        assert!(sp[8192 + (2 << 20)..8192 + (2 << 20) + 4096]
            .iter()
            .all(|&b| b == 2));
        assert!(sp[8192 + (2 << 20) + 4096..].iter().all(|&b| b == 0));
        // The holes stayed holes (where the file system has them at all).
        let src_blocks = m("../src/dir/sparse").blocks();
        assert!(
            m("dir/sparse").blocks() <= src_blocks.max(64),
            "{}",
            m("dir/sparse").blocks()
        );
    }
}
