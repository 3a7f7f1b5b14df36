//! A layer's tar written again from its unpacked dir in the store: what
//! `push` sends when it has no stored blob of the layer. The inverse of the
//! unpacker (`storage/unpack.rs`): overlay whiteouts (0:0 character
//! devices) become `.wh.NAME` entries, opaque dirs get `.wh..wh..opq`, the
//! `user.*` xattrs unpacking kept become PAX records, hardlinks are links
//! again. Entries come in byte order of their names with the files' own
//! modes, owners and times, so the same layer always gives the same tar.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::path::Path;

const OPAQUE_XATTRS: [&str; 3] = [
    "user.overlay.opaque",
    "user.fuseoverlayfs.opaque",
    "trusted.overlay.opaque",
];

/// Write the tar of an unpacked layer: entries in byte order of their
/// names, each with its mode, owner (as rpod's user namespace sees it) and
/// mtime; overlay whiteouts (0:0 character devices) become `.wh.NAME`, an
/// opaque dir gets `.wh..wh..opq`; hardlinked files are written once and
/// linked after. Everything is opened relative to its parent's fd without
/// following symlinks. Runs inside rpod's user namespace.
pub fn write_layer_tar(dir: &Path, out: &mut dyn Write) -> Result<()> {
    let root =
        std::fs::File::open(dir).with_context(|| format!("opening layer {}", dir.display()))?;
    let mut b = tar::Builder::new(out);
    let mut links = std::collections::HashMap::new();
    tar_dir(&mut b, &root, "", &mut links)
        .with_context(|| format!("writing the tar of {}", dir.display()))?;
    b.finish().context("finishing the tar")?;
    Ok(())
}

fn header(st: &nix::sys::stat::FileStat, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(size);
    h
}

fn tar_dir(
    b: &mut tar::Builder<&mut dyn Write>,
    dir: &std::fs::File,
    prefix: &str,
    links: &mut std::collections::HashMap<(u64, u64), String>,
) -> Result<()> {
    use nix::fcntl::AtFlags;
    use nix::sys::stat::{fstatat, major, minor, SFlag};
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;
    let mut names: Vec<std::ffi::OsString> = Vec::new();
    let mut d = nix::dir::Dir::from_fd(nix::unistd::dup(std::os::fd::AsRawFd::as_raw_fd(dir))?)?;
    for e in d.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(std::ffi::OsStr::from_bytes(n).to_owned());
        }
    }
    drop(d);
    names.sort();
    for name in names {
        let display = name.to_string_lossy();
        let path = format!("{prefix}{display}");
        if name.as_bytes().contains(&b'\n') || display.contains('\u{fffd}') {
            // Not representable as it is in the names tar headers carry here.
            bail!("{path:?}: a name that is not UTF-8");
        }
        let st = fstatat(
            Some(std::os::fd::AsRawFd::as_raw_fd(dir)),
            name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .with_context(|| format!("stat {path}"))?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        match kind {
            SFlag::S_IFDIR => {
                let sub: std::fs::File = crate::sys::fsx::openat_nofollow(
                    dir.as_fd(),
                    Path::new(&name),
                    libc::O_RDONLY | libc::O_DIRECTORY,
                    0,
                )
                .with_context(|| format!("opening {path}"))?
                .into();
                let mut h = header(&st, tar::EntryType::Directory, 0);
                user_xattrs(b, &sub, &path)?;
                b.append_data(&mut h, format!("{path}/"), std::io::empty())?;
                let opaque = OPAQUE_XATTRS.iter().any(|x| {
                    matches!(crate::sys::fsx::fgetxattr(sub.as_fd(), x), Ok(Some(v)) if v == b"y")
                });
                if opaque {
                    let mut h = header(&st, tar::EntryType::Regular, 0);
                    h.set_mode(0o644);
                    b.append_data(&mut h, format!("{path}/.wh..wh..opq"), std::io::empty())?;
                }
                tar_dir(b, &sub, &format!("{path}/"), links)?;
            }
            SFlag::S_IFREG => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = links.get(&key) {
                        let mut h = header(&st, tar::EntryType::Link, 0);
                        b.append_link(&mut h, &path, first)?;
                        continue;
                    }
                    links.insert(key, path.clone());
                }
                let f: std::fs::File = crate::sys::fsx::openat_nofollow(
                    dir.as_fd(),
                    Path::new(&name),
                    libc::O_RDONLY,
                    0,
                )
                .with_context(|| format!("opening {path}"))?
                .into();
                let size = st.st_size as u64;
                let mut h = header(&st, tar::EntryType::Regular, size);
                user_xattrs(b, &f, &path)?;
                b.append_data(
                    &mut h,
                    &path,
                    ExactReader {
                        inner: f.take(size),
                        left: size,
                    },
                )
                .with_context(|| format!("reading {path}"))?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(
                    Some(std::os::fd::AsRawFd::as_raw_fd(dir)),
                    name.as_os_str(),
                )
                .with_context(|| format!("reading the link {path}"))?;
                let mut h = header(&st, tar::EntryType::Symlink, 0);
                b.append_link(&mut h, &path, Path::new(&target))?;
            }
            SFlag::S_IFCHR if st.st_rdev == 0 => {
                // An overlay whiteout.
                let mut h = header(&st, tar::EntryType::Regular, 0);
                h.set_mode(0o644);
                let wh = format!("{prefix}.wh.{display}");
                b.append_data(&mut h, wh, std::io::empty())?;
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK => {
                let t = if kind == SFlag::S_IFCHR {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                };
                let mut h = header(&st, t, 0);
                h.set_device_major(major(st.st_rdev) as u32)?;
                h.set_device_minor(minor(st.st_rdev) as u32)?;
                b.append_data(&mut h, &path, std::io::empty())?;
            }
            SFlag::S_IFIFO => {
                let mut h = header(&st, tar::EntryType::Fifo, 0);
                b.append_data(&mut h, &path, std::io::empty())?;
            }
            _ => debug!("{path}: a socket or unknown file type; not in the tar"),
        }
    }
    Ok(())
}

/// The `user.*` xattrs of a file or dir (the ones unpacking keeps), as
/// the PAX records of its coming entry; never the store's own overlay
/// metadata. Symlinks and special files can't carry `user.*` xattrs.
fn user_xattrs(b: &mut tar::Builder<&mut dyn Write>, f: &std::fs::File, path: &str) -> Result<()> {
    use std::os::fd::AsFd;
    const STORE: [&str; 3] = ["user.overlay.", "user.fuseoverlayfs.", "user.containers."];
    let names = crate::sys::fsx::flistxattr(f.as_fd())
        .with_context(|| format!("listing the xattrs of {path}"))?;
    let mut recs = Vec::new();
    for n in names {
        // Unpacking only writes xattrs named in UTF-8 (PAX keys are text).
        let Ok(n) = String::from_utf8(n) else {
            continue;
        };
        if !n.starts_with("user.") || STORE.iter().any(|p| n.starts_with(p)) {
            continue;
        }
        if let Some(v) = crate::sys::fsx::fgetxattr(f.as_fd(), &n)
            .with_context(|| format!("reading xattr {n} of {path}"))?
        {
            recs.push((format!("SCHILY.xattr.{n}"), v));
        }
    }
    if !recs.is_empty() {
        b.append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
    }
    Ok(())
}

/// A file's content, exactly `left` bytes: a file that shrank while it was
/// read is an error, not a short tar entry.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was read",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
