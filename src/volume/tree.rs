//! Walking trees whose content a container controls (a volume's `_data`, a
//! path of a container's rootfs) through directory fds: every entry is
//! opened relative to its parent's fd with `O_NOFOLLOW`, symlinks are
//! copied or stored as links and never followed, so a symlink (or a swap of
//! a directory for one mid-walk) can't make rpod read or write elsewhere.

use crate::sys::fsx::openat_nofollow;
use anyhow::{Context, Result};
use nix::dir::Dir;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fstatat, FileStat, Mode, SFlag};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Deeper than this is refused (each level holds one fd).
const MAX_DEPTH: usize = 256;

fn entries(dir: BorrowedFd<'_>) -> Result<Vec<OsString>> {
    let fd = openat_nofollow(dir, Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .context("reopening a directory")?;
    let mut d = Dir::from(fd).context("reading a directory")?;
    let mut v = Vec::new();
    for e in d.iter() {
        let e = e.context("reading a directory")?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            v.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    v.sort();
    Ok(v)
}

/// True when the directory holds nothing.
pub(super) fn is_empty(dir: BorrowedFd<'_>) -> Result<bool> {
    Ok(entries(dir)?.is_empty())
}

fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<FileStat> {
    fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn open_dir(dir: BorrowedFd<'_>, name: &OsStr) -> std::io::Result<OwnedFd> {
    openat_nofollow(dir, Path::new(name), libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

fn set_owner_mode(fd: BorrowedFd<'_>, st: &FileStat) -> Result<()> {
    nix::unistd::fchown(
        fd.as_raw_fd(),
        Some(nix::unistd::Uid::from_raw(st.st_uid)),
        Some(nix::unistd::Gid::from_raw(st.st_gid)),
    )
    .context("setting the owner")?;
    nix::sys::stat::fchmod(
        fd.as_raw_fd(),
        Mode::from_bits_truncate(st.st_mode & 0o7777),
    )
    .context("setting the mode")?;
    Ok(())
}

/// Copy the tree under the directory `src` into the (empty) directory
/// `dst`, keeping owners, modes and symlinks as they are; device nodes,
/// fifos and sockets are skipped. `_data` itself takes `src`'s owner and
/// mode, as podman's copy-up does.
pub fn copy_up_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<()> {
    copy_dir(src, dst, 0, Path::new(""))?;
    let st = nix::sys::stat::fstat(src.as_raw_fd()).context("stat of the source")?;
    set_owner_mode(dst, &st)
}

fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: usize, rel: &Path) -> Result<()> {
    if depth > MAX_DEPTH {
        anyhow::bail!("{}: more than {MAX_DEPTH} levels deep", rel.display());
    }
    for name in entries(src)? {
        let shown = rel.join(&name);
        let ctx = || format!("copying {}", shown.display());
        let st = lstat_at(src, &name).with_context(ctx)?;
        match kind(&st) {
            SFlag::S_IFDIR => {
                nix::sys::stat::mkdirat(
                    Some(dst.as_raw_fd()),
                    name.as_os_str(),
                    Mode::from_bits_truncate(0o700),
                )
                .with_context(ctx)?;
                let s = open_dir(src, &name).with_context(ctx)?;
                let d = open_dir(dst, &name).with_context(ctx)?;
                copy_dir(s.as_fd(), d.as_fd(), depth + 1, &shown)?;
                set_owner_mode(d.as_fd(), &st).with_context(ctx)?;
            }
            SFlag::S_IFREG => {
                let s =
                    openat_nofollow(src, Path::new(&name), libc::O_RDONLY, 0).with_context(ctx)?;
                let d = openat_nofollow(
                    dst,
                    Path::new(&name),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                    0o600,
                )
                .with_context(ctx)?;
                let mut sf = File::from(s);
                let mut df = File::from(d);
                std::io::copy(&mut sf, &mut df).with_context(ctx)?;
                set_owner_mode(df.as_fd(), &st).with_context(ctx)?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(src.as_raw_fd()), name.as_os_str())
                    .with_context(ctx)?;
                nix::unistd::symlinkat(target.as_os_str(), Some(dst.as_raw_fd()), name.as_os_str())
                    .with_context(ctx)?;
                let _ = nix::unistd::fchownat(
                    Some(dst.as_raw_fd()),
                    name.as_os_str(),
                    Some(nix::unistd::Uid::from_raw(st.st_uid)),
                    Some(nix::unistd::Gid::from_raw(st.st_gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                );
            }
            _ => debug!(
                "copy-up: skipping {} (not a file, dir or symlink)",
                shown.display()
            ),
        }
    }
    Ok(())
}

/// Give the directory `dir` and everything under it to `uid`:`gid`
/// (`:U`), symlinks themselves, never what they point at.
pub fn chown_tree(dir: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<()> {
    let (u, g) = (
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    );
    nix::unistd::fchown(dir.as_raw_fd(), u, g).context("chown")?;
    chown_under(dir, u, g, 0)
}

fn chown_under(
    dir: BorrowedFd<'_>,
    u: Option<nix::unistd::Uid>,
    g: Option<nix::unistd::Gid>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        anyhow::bail!("more than {MAX_DEPTH} levels deep");
    }
    for name in entries(dir)? {
        let st = lstat_at(dir, &name)?;
        nix::unistd::fchownat(
            Some(dir.as_raw_fd()),
            name.as_os_str(),
            u,
            g,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .with_context(|| format!("chown {}", name.to_string_lossy()))?;
        if kind(&st) == SFlag::S_IFDIR {
            let d = open_dir(dir, &name)?;
            chown_under(d.as_fd(), u, g, depth + 1)?;
        }
    }
    Ok(())
}

/// Write the tree under the directory `path` as a tar stream (paths
/// relative to it, numeric owners, symlinks as links).
pub fn export_tar(path: &Path, w: &mut dyn Write) -> Result<()> {
    let root = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut b = tar::Builder::new(w);
    b.mode(tar::HeaderMode::Complete);
    tar_dir(&mut b, root.as_fd(), &PathBuf::new(), 0)?;
    b.into_inner()
        .context("finishing the tar stream")?
        .flush()?;
    Ok(())
}

fn header(st: &FileStat, t: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(t);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

fn tar_dir(
    b: &mut tar::Builder<&mut dyn Write>,
    dir: BorrowedFd<'_>,
    rel: &Path,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        anyhow::bail!("{}: more than {MAX_DEPTH} levels deep", rel.display());
    }
    for name in entries(dir)? {
        let p = rel.join(&name);
        let ctx = || format!("adding {}", p.display());
        let st = match lstat_at(dir, &name) {
            Ok(st) => st,
            Err(nix::errno::Errno::ENOENT) => continue, // removed meanwhile
            Err(e) => return Err(e).with_context(ctx),
        };
        match kind(&st) {
            SFlag::S_IFDIR => {
                let mut h = header(&st, tar::EntryType::Directory);
                b.append_data(&mut h, &p, std::io::empty())
                    .with_context(ctx)?;
                let d = open_dir(dir, &name).with_context(ctx)?;
                tar_dir(b, d.as_fd(), &p, depth + 1)?;
            }
            SFlag::S_IFREG => {
                let f = File::from(
                    openat_nofollow(dir, Path::new(&name), libc::O_RDONLY, 0).with_context(ctx)?,
                );
                // The size of what we opened, not of what was there at lstat.
                let st = nix::sys::stat::fstat(f.as_raw_fd()).with_context(ctx)?;
                let mut h = header(&st, tar::EntryType::Regular);
                h.set_size(st.st_size as u64);
                b.append_data(&mut h, &p, std::io::Read::take(f, st.st_size as u64))
                    .with_context(ctx)?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name.as_os_str())
                    .with_context(ctx)?;
                let mut h = header(&st, tar::EntryType::Symlink);
                b.append_link(&mut h, &p, &target).with_context(ctx)?;
            }
            _ => debug!(
                "export: skipping {} (not a file, dir or symlink)",
                p.display()
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn copy_keeps_symlinks_as_links_and_reads_nothing_outside() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let dst = d.path().join("dst");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"host").unwrap();
        std::fs::write(src.join("sub/f"), b"hello").unwrap();
        symlink(&outside, src.join("up")).unwrap();
        symlink(outside.join("secret"), src.join("s")).unwrap();
        let s = File::open(&src).unwrap();
        let t = File::open(&dst).unwrap();
        copy_up_dir(s.as_fd(), t.as_fd()).unwrap();
        assert_eq!(std::fs::read(dst.join("sub/f")).unwrap(), b"hello");
        assert!(std::fs::symlink_metadata(dst.join("up"))
            .unwrap()
            .is_symlink());
        assert!(std::fs::symlink_metadata(dst.join("s"))
            .unwrap()
            .is_symlink());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);

        let mut out = Vec::new();
        export_tar(&dst, &mut out).unwrap();
        let mut ar = tar::Archive::new(&out[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["s", "sub", "sub/f", "up"]);
        assert!(!out.windows(4).any(|w| w == b"host"));
    }
}
