//! Tar streams the archive writer produces: a layer's tar, and the entries
//! of the outer archive (`docker-archive`, `oci-archive`).
//!
//! The store keeps no layer blobs. A layer whose tar-split was recorded
//! when it was unpacked (`storage/tarsplit.rs`: every layer rpod pulled,
//! loaded or committed, unless an entry of it replaced another) is given
//! back byte for byte as it came, its headers from the record and its
//! files' data from the layer dir, so its diff id, the config and the image
//! id stay. Any other layer gets a canonical tar of its dir:
//!
//! A canonical layer tar is planned first (a walk with lstat only: names, kinds,
//! sizes, link targets, xattrs), so its exact length is known before a byte
//! is written, then streamed file by file. The same layer dir always gives
//! the same bytes: entries sorted by name, mtimes in whole seconds (what
//! the unpacker keeps), no user or group names, overlay whiteouts turned
//! back into `.wh.` files and `.wh..wh..opq`.
//!
//! This is rpod's one writer of a layer tar from a layer of the store
//! ([`plan_stored_layer`]): `save` streams it into archives, `push`
//! compresses it when the store has no blob of the layer, so both give the
//! same bytes (and the same diff id) for the same layer.

use crate::storage::{sha256_finish, Digest, SplitPart, Store, TarSplit};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const BLOCK: u64 = 512;

/// The overlay metadata the store itself uses: never part of a layer.
fn is_store_xattr(name: &str) -> bool {
    [
        "user.overlay.",
        "trusted.overlay.",
        "user.fuseoverlayfs.",
        "user.containers.",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

const OPAQUE: [&str; 3] = [
    "user.overlay.opaque",
    "trusted.overlay.opaque",
    "user.fuseoverlayfs.opaque",
];

#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File {
        size: u64,
    },
    HardLink(String),
    Symlink(PathBuf),
    Fifo,
    /// A character (`true`) or block device that is not a whiteout.
    Device {
        char: bool,
        major: u32,
        minor: u32,
    },
    /// A `.wh.` marker (from an overlay whiteout or an opaque dir).
    Whiteout,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Path in the tar (dirs end with '/').
    name: String,
    /// Where the data is, for regular files.
    src: PathBuf,
    kind: Kind,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: Xattrs,
}

/// What a layer will be as a tar, and the total length: its tar as it came
/// (from the tar-split kept when it was unpacked, whose digest is the diff
/// id), or a canonical tar of its dir (entries in order).
pub(crate) struct LayerPlan {
    entries: Vec<Entry>,
    /// The tar as it came: its parts and the layer dir the files are in.
    split: Option<(TarSplit, PathBuf)>,
    pub size: u64,
    /// The tar's digest, when known without reading it (the diff id of a
    /// layer given back as it came).
    pub digest: Option<Digest>,
}

/// The tar of layer `chain_id` of the store: as it came when the store has
/// its tar-split, else the canonical tar of its dir.
pub(crate) fn plan_stored_layer(store: &Store, chain_id: &Digest) -> Result<LayerPlan> {
    let dir = store.layer_dir(chain_id);
    match store.layer_tar_split(chain_id) {
        Ok(Some(ts)) => {
            let diff_id = store.layer_info(chain_id)?.diff_id;
            Ok(LayerPlan {
                entries: Vec::new(),
                size: ts.size,
                split: Some((ts, dir)),
                digest: Some(diff_id),
            })
        }
        Ok(None) => plan_layer(&dir),
        Err(e) => {
            warn!("{e:#}: writing a new tar of the layer instead");
            plan_layer(&dir)
        }
    }
}

/// Write the canonical tar of an unpacked layer dir.
#[cfg(test)]
pub(crate) fn write_layer_tar(dir: &Path, out: &mut dyn Write) -> Result<()> {
    plan_layer(dir)
        .and_then(|p| p.write_to(out))
        .with_context(|| format!("writing the tar of {}", dir.display()))
}

/// Walk `dir` (an unpacked layer in the store) without following symlinks.
pub(crate) fn plan_layer(dir: &Path) -> Result<LayerPlan> {
    let mut entries = Vec::new();
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    walk(dir, dir, &mut entries, &mut links)?;
    let mut size = 0;
    for e in &entries {
        size += header_bytes(e)?.len() as u64 + padded(data_len(e));
    }
    size += 2 * BLOCK;
    Ok(LayerPlan {
        entries,
        split: None,
        size,
        digest: None,
    })
}

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

fn data_len(e: &Entry) -> u64 {
    match e.kind {
        Kind::File { size } => size,
        _ => 0,
    }
}

fn rel_name(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    String::from_utf8_lossy(rel.as_os_str().as_bytes()).into_owned()
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<Entry>,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .with_context(|| format!("listing {}", dir.display()))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for n in names {
        let p = dir.join(&n);
        if std::str::from_utf8(n.as_bytes()).is_err() {
            // Tar names are written as text here; a lossy one would be
            // another file.
            bail!("{}: a name that is not UTF-8", p.display());
        }
        let m = fs::symlink_metadata(&p).with_context(|| format!("reading {}", p.display()))?;
        let ft = m.file_type();
        let rel = rel_name(root, &p);
        let mut e = Entry {
            name: rel.clone(),
            src: p.clone(),
            kind: Kind::Fifo,
            mode: m.mode() & 0o7777,
            uid: m.uid() as u64,
            gid: m.gid() as u64,
            mtime: m.mtime().max(0) as u64,
            xattrs: Vec::new(),
        };
        if ft.is_char_device() && m.rdev() == 0 {
            // An overlay whiteout: the file below is deleted.
            let parent = Path::new(&rel)
                .parent()
                .map(rel_name_of)
                .unwrap_or_default();
            e.name = format!("{parent}.wh.{}", String::from_utf8_lossy(n.as_bytes()));
            e.kind = Kind::Whiteout;
            e.mode = 0o644;
            out.push(e);
            continue;
        }
        if ft.is_dir() {
            e.kind = Kind::Dir;
            e.name.push('/');
            let (xattrs, opaque) = xattrs_of(&p)?;
            e.xattrs = xattrs;
            let (uid, gid, mtime) = (e.uid, e.gid, e.mtime);
            out.push(e);
            if opaque {
                out.push(Entry {
                    name: format!("{rel}/.wh..wh..opq"),
                    src: PathBuf::new(),
                    kind: Kind::Whiteout,
                    mode: 0o644,
                    uid,
                    gid,
                    mtime,
                    xattrs: Vec::new(),
                });
            }
            walk(root, &p, out, links)?;
            continue;
        }
        if ft.is_symlink() {
            let t = fs::read_link(&p).with_context(|| format!("reading {}", p.display()))?;
            e.kind = Kind::Symlink(t);
            out.push(e);
            continue;
        }
        if ft.is_fifo() {
            e.xattrs = xattrs_of(&p)?.0;
            out.push(e);
            continue;
        }
        if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    e.kind = Kind::HardLink(first.clone());
                    out.push(e);
                    continue;
                }
                links.insert((m.dev(), m.ino()), rel.clone());
            }
            e.kind = Kind::File { size: m.len() };
            e.xattrs = xattrs_of(&p)?.0;
            out.push(e);
            continue;
        }
        if ft.is_char_device() || ft.is_block_device() {
            // Not made by the unpacker rootless, but a layer dir may hold
            // one (a store filled as root).
            let rdev = m.rdev();
            e.kind = Kind::Device {
                char: ft.is_char_device(),
                major: nix::sys::stat::major(rdev) as u32,
                minor: nix::sys::stat::minor(rdev) as u32,
            };
            out.push(e);
            continue;
        }
        debug!("not archiving {} (a socket)", p.display());
    }
    Ok(())
}

fn rel_name_of(p: &Path) -> String {
    let s = String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned();
    if s.is_empty() {
        s
    } else {
        format!("{s}/")
    }
}

/// The layer's own xattrs (not the store's), sorted, and whether it is an
/// opaque dir.
type Xattrs = Vec<(String, Vec<u8>)>;

fn xattrs_of(p: &Path) -> Result<(Xattrs, bool)> {
    let mut out = Vec::new();
    let mut opaque = false;
    for name in crate::sys::xattr::llist(p)? {
        if OPAQUE.contains(&name.as_str()) {
            if crate::sys::xattr::lget(p, &name)?.as_deref() == Some(b"y") {
                opaque = true;
            }
            continue;
        }
        if is_store_xattr(&name) {
            continue;
        }
        if let Some(v) = crate::sys::xattr::lget(p, &name)? {
            out.push((name, v));
        }
    }
    out.sort();
    Ok((out, opaque))
}

fn pax_record(key: &str, val: &[u8]) -> Vec<u8> {
    // "LEN KEY=VALUE\n", where LEN counts itself.
    let body = key.len() + val.len() + 3;
    let mut len = body + 1;
    while len.to_string().len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(val);
    r.push(b'\n');
    r
}

/// A ustar header block for `name` (cut to fit; PAX carries the full one).
fn ustar(name: &str, kind: tar::EntryType, size: u64, mode: u32, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    {
        let u = h.as_ustar_mut().expect("ustar header");
        let b = name.as_bytes();
        let n = b.len().min(100);
        u.name[..n].copy_from_slice(&b[..n]);
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h
}

const MAX_OCTAL_ID: u64 = 0o7777777;
const MAX_OCTAL_SIZE: u64 = 0o77777777777;

/// The header blocks (PAX extension and ustar) of one entry.
fn header_bytes(e: &Entry) -> Result<Vec<u8>> {
    use tar::EntryType as T;
    let (kind, link): (T, Option<&[u8]>) = match &e.kind {
        Kind::Dir => (T::Directory, None),
        Kind::File { .. } | Kind::Whiteout => (T::Regular, None),
        Kind::HardLink(t) => (T::Link, Some(t.as_bytes())),
        Kind::Symlink(t) => (T::Symlink, Some(t.as_os_str().as_bytes())),
        Kind::Fifo => (T::Fifo, None),
        Kind::Device { char: true, .. } => (T::Char, None),
        Kind::Device { char: false, .. } => (T::Block, None),
    };
    let size = data_len(e);
    let mut pax = Vec::new();
    if e.name.len() > 100 || !e.name.is_ascii() {
        pax.extend(pax_record("path", e.name.as_bytes()));
    }
    if let Some(l) = link {
        if l.len() > 100 || !l.is_ascii() {
            pax.extend(pax_record("linkpath", l));
        }
    }
    if e.uid > MAX_OCTAL_ID {
        pax.extend(pax_record("uid", e.uid.to_string().as_bytes()));
    }
    if e.gid > MAX_OCTAL_ID {
        pax.extend(pax_record("gid", e.gid.to_string().as_bytes()));
    }
    if size > MAX_OCTAL_SIZE {
        pax.extend(pax_record("size", size.to_string().as_bytes()));
    }
    for (k, v) in &e.xattrs {
        pax.extend(pax_record(&format!("SCHILY.xattr.{k}"), v));
    }
    let mut out = Vec::with_capacity(1024);
    if !pax.is_empty() {
        let mut ph = ustar("PaxHeader", T::XHeader, pax.len() as u64, 0o644, e.mtime);
        ph.set_cksum();
        out.extend_from_slice(ph.as_bytes());
        out.extend_from_slice(&pax);
        out.resize(
            out.len() + (padded(pax.len() as u64) - pax.len() as u64) as usize,
            0,
        );
    }
    let mut h = ustar(&e.name, kind, size.min(MAX_OCTAL_SIZE), e.mode, e.mtime);
    h.set_uid(e.uid.min(MAX_OCTAL_ID));
    h.set_gid(e.gid.min(MAX_OCTAL_ID));
    if let Some(l) = link {
        let u = h.as_ustar_mut().expect("ustar header");
        let n = l.len().min(100);
        u.linkname[..n].copy_from_slice(&l[..n]);
    }
    if let Kind::Device { major, minor, .. } = e.kind {
        h.set_device_major(major)?;
        h.set_device_minor(minor)?;
    }
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    Ok(out)
}

/// Files from this size on are copied by the kernel (copy_file_range or
/// sendfile through `io::copy`), not through a buffer of ours.
const KERNEL_COPY_MIN: u64 = 64 << 10;

impl LayerPlan {
    /// Write the tar to `out` as `write_to` does, but let the kernel move
    /// the data of large files (`out` is a concrete writer such as a
    /// `BufWriter<File>`, which `io::copy` knows to bypass). Returns the
    /// bytes written.
    pub(crate) fn send_to<W: Write>(&self, out: &mut W) -> Result<u64> {
        if let Some((ts, dir)) = &self.split {
            return send_split(ts, dir, out);
        }
        let zeros = [0u8; BLOCK as usize];
        let mut n = 0u64;
        let mut buf = Vec::new();
        for e in &self.entries {
            let h = header_bytes(e)?;
            out.write_all(&h)?;
            n += h.len() as u64;
            if let Kind::File { size } = e.kind {
                let f = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&e.src)
                    .with_context(|| format!("opening {}", e.src.display()))?;
                let got = if size >= KERNEL_COPY_MIN {
                    io::copy(&mut (&f).take(size), out)
                        .with_context(|| format!("copying {}", e.src.display()))?
                } else {
                    buf.clear();
                    (&f).take(size)
                        .read_to_end(&mut buf)
                        .with_context(|| format!("reading {}", e.src.display()))?;
                    out.write_all(&buf)?;
                    buf.len() as u64
                };
                if got != size {
                    bail!("{} shrank while it was archived", e.src.display());
                }
                let pad = (padded(size) - size) as usize;
                out.write_all(&zeros[..pad])?;
                n += size + pad as u64;
            }
        }
        out.write_all(&zeros)?;
        out.write_all(&zeros)?;
        Ok(n + 2 * BLOCK)
    }

    /// Write the tar to `out`: exactly `self.size` bytes.
    pub(crate) fn write_to(&self, out: &mut dyn Write) -> Result<()> {
        if let Some((ts, dir)) = &self.split {
            send_split(ts, dir, out)?;
            return Ok(());
        }
        let zeros = [0u8; BLOCK as usize];
        let mut buf = vec![0u8; 1 << 20];
        for e in &self.entries {
            out.write_all(&header_bytes(e)?)?;
            if let Kind::File { size } = e.kind {
                let mut f = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&e.src)
                    .with_context(|| format!("opening {}", e.src.display()))?;
                let mut left = size;
                while left > 0 {
                    let want = buf.len().min(left as usize);
                    let n = f
                        .read(&mut buf[..want])
                        .with_context(|| format!("reading {}", e.src.display()))?;
                    if n == 0 {
                        bail!("{} shrank while it was archived", e.src.display());
                    }
                    out.write_all(&buf[..n])?;
                    left -= n as u64;
                }
                let pad = (padded(size) - size) as usize;
                out.write_all(&zeros[..pad])?;
            }
        }
        out.write_all(&zeros)?;
        out.write_all(&zeros)?;
        Ok(())
    }
}

/// Write a layer's tar as it came: the recorded bytes, and each file's data
/// from the layer dir, opened beneath it without following a link at the
/// end, and only when it is still the regular file of the size recorded.
fn send_split<W: Write + ?Sized>(ts: &TarSplit, dir: &Path, out: &mut W) -> Result<u64> {
    let root = fs::File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let mut n = 0u64;
    let mut buf = Vec::new();
    for part in &ts.parts {
        match part {
            SplitPart::Bytes(b) => {
                out.write_all(b)?;
                n += b.len() as u64;
            }
            SplitPart::File { path, size } => {
                let shown = || dir.join(path).display().to_string();
                let fd = crate::sys::fsx::open_beneath(
                    std::os::fd::AsFd::as_fd(&root),
                    path,
                    libc::O_RDONLY | libc::O_NOFOLLOW,
                    0,
                )
                .with_context(|| format!("opening {}", shown()))?;
                let f = fs::File::from(fd);
                let m = f
                    .metadata()
                    .with_context(|| format!("reading {}", shown()))?;
                if !m.is_file() || m.len() != *size {
                    bail!(
                        "{} is not the {size}-byte file the layer had when it was unpacked",
                        shown()
                    );
                }
                let got = if *size >= KERNEL_COPY_MIN {
                    io::copy(&mut (&f).take(*size), out)
                        .with_context(|| format!("copying {}", shown()))?
                } else {
                    buf.clear();
                    (&f).take(*size)
                        .read_to_end(&mut buf)
                        .with_context(|| format!("reading {}", shown()))?;
                    out.write_all(&buf)?;
                    buf.len() as u64
                };
                if got != *size {
                    bail!("{} shrank while it was archived", shown());
                }
                n += size;
            }
        }
    }
    if n != ts.size {
        bail!("wrote {n} bytes where {} were recorded", ts.size);
    }
    Ok(n)
}

/// Writes the entries of an outer archive (regular files and dirs, owned by
/// root, mtime 0 as podman's).
pub(crate) struct OuterTar<W: Write> {
    pub out: W,
}

impl<W: Write> OuterTar<W> {
    fn header(&mut self, name: &str, kind: tar::EntryType, size: u64, mode: u32) -> Result<()> {
        let e = Entry {
            name: name.to_string(),
            src: PathBuf::new(),
            kind: match kind {
                tar::EntryType::Directory => Kind::Dir,
                _ => Kind::File { size },
            },
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        };
        self.out.write_all(&header_bytes(&e)?)?;
        Ok(())
    }

    pub(super) fn dir(&mut self, name: &str) -> Result<()> {
        self.header(name, tar::EntryType::Directory, 0, 0o755)
    }

    pub(super) fn bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.file(name, data.len() as u64, |w| Ok(w.write_all(data)?))
    }

    /// A layer's tar as an entry, its data moved by the kernel.
    pub(super) fn layer(&mut self, name: &str, plan: &LayerPlan) -> Result<()> {
        self.header(name, tar::EntryType::Regular, plan.size, 0o644)?;
        let n = plan.send_to(&mut self.out)?;
        if n != plan.size {
            bail!("{name}: wrote {n} bytes where {} were planned", plan.size);
        }
        Ok(())
    }

    /// An entry of `size` bytes that `fill` writes (exactly that many).
    pub(super) fn file(
        &mut self,
        name: &str,
        size: u64,
        fill: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        self.header(name, tar::EntryType::Regular, size, 0o644)?;
        let mut c = Counter {
            inner: &mut self.out,
            n: 0,
        };
        fill(&mut c)?;
        if c.n != size {
            bail!("{name}: wrote {} bytes where {size} were planned", c.n);
        }
        let pad = (padded(size) - size) as usize;
        self.out.write_all(&[0u8; BLOCK as usize][..pad])?;
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK as usize])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

struct Counter<'a, W: Write> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for Counter<'_, W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A writer that hashes (sha256) and counts what goes through it.
pub(crate) struct HashWriter<W: Write> {
    pub inner: W,
    pub hasher: sha2::Sha256,
    pub n: u64,
}

impl<W: Write> HashWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        use sha2::Digest;
        HashWriter {
            inner,
            hasher: sha2::Sha256::new(),
            n: 0,
        }
    }
    /// The digest of what went through (and resets the hash).
    pub(super) fn digest(&mut self) -> Digest {
        sha256_finish(&mut self.hasher)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(b)?;
        self.hasher.update(&b[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_count_their_own_length() {
        let r = pax_record("path", b"a");
        assert_eq!(r, b"9 path=a\n");
        let long = "x".repeat(95);
        let r = pax_record("path", long.as_bytes());
        assert_eq!(r.len().to_string(), String::from_utf8_lossy(&r[..3]));
    }

    #[test]
    fn devices_keep_their_numbers() {
        let e = Entry {
            name: "dev/null".into(),
            src: PathBuf::new(),
            kind: Kind::Device {
                char: true,
                major: 1,
                minor: 3,
            },
            mode: 0o666,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        };
        let mut out = header_bytes(&e).unwrap();
        out.resize(out.len() + 2 * BLOCK as usize, 0);
        let mut ar = tar::Archive::new(&out[..]);
        let got = ar.entries().unwrap().next().unwrap().unwrap();
        let h = got.header();
        assert_eq!(h.entry_type(), tar::EntryType::Char);
        assert_eq!(
            (h.device_major().unwrap(), h.device_minor().unwrap()),
            (Some(1), Some(3))
        );
    }

    #[test]
    fn a_plan_is_exactly_as_long_as_its_tar_and_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("etc/deep")).unwrap();
        fs::write(root.join("etc/hello"), b"world").unwrap();
        fs::hard_link(root.join("etc/hello"), root.join("etc/again")).unwrap();
        std::os::unix::fs::symlink("/etc/hello", root.join("abs")).unwrap();
        let long = "n".repeat(150);
        fs::write(root.join("etc/deep").join(&long), vec![7u8; 1000]).unwrap();
        let plan = plan_layer(root).unwrap();
        let mut out = Vec::new();
        plan.write_to(&mut out).unwrap();
        assert_eq!(out.len() as u64, plan.size);
        let mut again = Vec::new();
        plan_layer(root).unwrap().write_to(&mut again).unwrap();
        assert_eq!(out, again, "the same dir gives the same bytes");
        let mut ar = tar::Archive::new(&out[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            seen.push((
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                e.header().entry_type(),
            ));
        }
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "abs",
                "etc/",
                "etc/again",
                "etc/deep/",
                &format!("etc/deep/{long}"),
                "etc/hello"
            ]
        );
        assert_eq!(seen[5].1, tar::EntryType::Link);
    }
}
