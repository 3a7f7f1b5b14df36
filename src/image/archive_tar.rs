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
//! A canonical layer tar is written by rpod's one tree-tar writer,
//! [`TreeTar`] in layer mode (the one `commit`, `cp` and `export` use):
//! its exact length is measured first with stat alone, so an outer archive
//! can give it before a byte is written, then it is streamed file by file.
//! The same layer dir always gives the same bytes: entries sorted by name,
//! mtimes in whole seconds (what the unpacker keeps), no user or group
//! names, overlay whiteouts turned back into `.wh.` files and
//! `.wh..wh..opq`.
//!
//! `save` streams a store layer's tar ([`plan_stored_layer`]) into
//! archives, `push` compresses it when the store has no blob of the layer,
//! so both give the same bytes (and the same diff id) for the same layer.

use crate::storage::diff::{header_bytes, measure_tree, TarHeader, TarMode, TreeTar};
use crate::storage::{sha256_finish, Digest, SplitPart, Store, TarSplit};
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

const BLOCK: u64 = 512;

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// What a layer will be as a tar, and the total length: its tar as it came
/// (from the tar-split kept when it was unpacked, whose digest is the diff
/// id), or the canonical tar of its dir ([`TreeTar`] in layer mode).
pub(crate) struct LayerPlan {
    /// The tar as it came, when the store has its tar-split.
    split: Option<TarSplit>,
    /// The layer dir the files are in.
    dir: PathBuf,
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
                size: ts.size,
                split: Some(ts),
                dir,
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

fn open_layer_dir(dir: &Path) -> Result<OwnedFd> {
    Ok(fs::File::open(dir)
        .with_context(|| format!("opening {}", dir.display()))?
        .into())
}

/// The canonical tar of `dir` (an unpacked layer in the store): its
/// length now, its bytes when written.
pub(crate) fn plan_layer(dir: &Path) -> Result<LayerPlan> {
    let root = open_layer_dir(dir)?;
    let size = measure_tree(root.as_fd(), TarMode::Layer)
        .with_context(|| format!("reading {}", dir.display()))?;
    Ok(LayerPlan {
        split: None,
        dir: dir.to_path_buf(),
        size,
        digest: None,
    })
}

impl LayerPlan {
    /// Write the tar to `out` (exactly `self.size` bytes), letting the
    /// kernel move the data of large files when `out` is a concrete writer
    /// such as a `BufWriter<File>`. Returns the bytes written.
    pub(crate) fn send_to<W: Write + ?Sized>(&self, out: &mut W) -> Result<u64> {
        if let Some(ts) = &self.split {
            return send_split(ts, &self.dir, out);
        }
        let root = open_layer_dir(&self.dir)?;
        let mut t = TreeTar::new(&mut *out, TarMode::Layer);
        t.add_contents(root.as_fd(), Path::new(""))
            .with_context(|| format!("writing the tar of {}", self.dir.display()))?;
        let n = t.written() + 2 * BLOCK;
        t.finish()?;
        if n != self.size {
            bail!(
                "the tar of {} is {n} bytes where {} were planned: the layer changed",
                self.dir.display(),
                self.size
            );
        }
        Ok(n)
    }

    /// Write the tar to `out`: exactly `self.size` bytes.
    pub(crate) fn write_to(&self, out: &mut dyn Write) -> Result<()> {
        self.send_to(out).map(|_| ())
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
                let got = if *size >= 64 << 10 {
                    // Moved by the kernel when `out` is a file or pipe, else
                    // a MiB at a time (io::copy's own buffer is 8 KiB).
                    let cap = (*size).min(1 << 20) as usize;
                    io::copy(
                        &mut io::BufReader::with_capacity(cap, (&f).take(*size)),
                        out,
                    )
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
        let h = header_bytes(&TarHeader {
            name: name.as_bytes(),
            kind,
            size,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            link: None,
            device: None,
            xattrs: &[],
        })?;
        self.out.write_all(&h)?;
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
    pub(crate) fn new(inner: W) -> Self {
        use sha2::Digest;
        HashWriter {
            inner,
            hasher: sha2::Sha256::new(),
            n: 0,
        }
    }
    /// The digest of what went through (and resets the hash).
    pub(crate) fn digest(&mut self) -> Digest {
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
