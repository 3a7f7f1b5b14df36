//! `rpod cp` and `rpod export`: a container's files in and out, with
//! podman's (docker's) rules for what lands where.
//!
//! Safety: every path on the container's side is resolved inside the
//! container's root with `crate::sys::inroot` (openat2 RESOLVE_IN_ROOT), the
//! tree below it is walked by fd ([`crate::storage::diff::TreeTar`]) and
//! written by the store's hardened extractor
//! ([`crate::storage::extract_plain`]), which creates every entry beneath
//! its destination directory. A symlink in the container to `/` or `..`
//! (CVE-2018-15664, CVE-2019-14271) resolves to the container's own root,
//! never the host's.
//!
//! Where the files are: for a running container, its root as its init
//! process sees it (`/proc/PID/root`, opened as root of rpod's user
//! namespace), volumes and bind mounts included, as podman does. A stopped
//! container's rootfs is mounted in a private mount namespace of this
//! process (gone with it), its bind mounts on top, under the container's
//! lock so it can't start meanwhile.

use super::record::{self, Paths};
use crate::storage::diff::{file_feed, reopen_dir, FeedClosed, TarMode, TreeTar};
use crate::storage::{PlainOpts, Store};
use crate::sys::inroot;
use anyhow::{anyhow, bail, Context, Result};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loc {
    Host(PathBuf),
    Container {
        name: String,
        path: String,
    },
    /// `-`: a tar stream on stdin or stdout.
    Stream,
}

/// podman's reading of a cp argument: `-`, a path starting with `/` or `.`
/// (local, colons and all), `NAME:PATH`, or a local path.
pub fn parse_loc(s: &str) -> Loc {
    if s == "-" {
        return Loc::Stream;
    }
    if s.starts_with('/') || s.starts_with('.') {
        return Loc::Host(s.into());
    }
    match s.split_once(':') {
        Some((c, p)) if !c.is_empty() && !c.contains('/') => Loc::Container {
            name: c.to_string(),
            path: p.to_string(),
        },
        _ => Loc::Host(s.into()),
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CpOptions {
    /// Files copied into a container belong to its main user (podman's
    /// default, `--archive=true`); false keeps the source's ids.
    pub archive: bool,
    /// Let a directory replace a non-directory and the other way round.
    pub overwrite: bool,
}

/// A container's file system, opened for lookups.
pub struct CtrFs {
    pub name: String,
    pub id: String,
    /// O_PATH fd of the container's "/".
    root: OwnedFd,
    uid_map: Vec<(u32, u32, u32)>,
    gid_map: Vec<(u32, u32, u32)>,
    /// The process user's ids in rpod's namespace.
    primary: (u32, u32),
    /// Mount points (relative) that are not the rootfs: left out of export.
    pub other_mounts: Vec<PathBuf>,
    unmount: Option<PathBuf>,
    _lock: Option<crate::storage::Lock>,
}

impl Drop for CtrFs {
    fn drop(&mut self) {
        if let Some(dir) = &self.unmount {
            let _ = crate::rootfs::unmount(dir);
        }
    }
}

/// Become root of rpod's user namespace with a private mount namespace: to
/// read and own files as the container's ids, and to mount stopped
/// containers' roots where nobody else sees them. Before any thread starts.
///
/// Every rpod process makes a user namespace of its own (with the same
/// maps), and only the one a container runs in lets us into its root
/// (`/proc/PID/root` needs ptrace access): for the first of `containers`
/// that runs, its monitor's namespace is joined instead.
pub fn enter_namespaces(paths: &Paths, containers: &[&str]) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        let running = containers.iter().find_map(|n| {
            let id = record::resolve(paths, n).ok()?;
            let st = record::observe(paths, &id);
            if !st.is_running() {
                return None;
            }
            if st.monitor_alive() {
                Some(st.monitor_pid)
            } else {
                st.init_alive().then_some(st.pid)
            }
        });
        match running {
            Some(pid) => {
                crate::sys::userns::join_userns_of(pid)
                    .context("entering the user namespace of the container")?;
                crate::sys::userns::become_ns_root()?;
            }
            None => crate::userns::enter()?,
        }
    }
    crate::userns::private_mount_ns()
}

/// (container id, our id, count) ranges.
type IdMap = Vec<(u32, u32, u32)>;

/// The container's uid and gid maps into rpod's namespace (empty: the
/// same ids) and its process user's ids there.
fn id_maps(paths: &Paths, id: &str) -> (IdMap, IdMap, (u32, u32)) {
    let cfg = paths.ctr_dir(id).join("config.json");
    let Ok(spec) = std::fs::read(&cfg)
        .map_err(anyhow::Error::from)
        .and_then(|b| Ok(serde_json::from_slice::<oci_spec::runtime::Spec>(&b)?))
    else {
        return (Vec::new(), Vec::new(), (0, 0));
    };
    let conv = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<(u32, u32, u32)> {
        m.map(|v| {
            v.iter()
                .map(|m| (m.container_id(), m.host_id(), m.size()))
                .collect()
        })
        .unwrap_or_default()
    };
    let (u, g) = match spec.linux() {
        Some(l) => (
            conv(l.uid_mappings().as_ref()),
            conv(l.gid_mappings().as_ref()),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let (pu, pg) = spec
        .process()
        .as_ref()
        .map(|p| (p.user().uid(), p.user().gid()))
        .unwrap_or((0, 0));
    let primary = (
        crate::storage::map_id(&u, pu),
        crate::storage::map_id(&g, pg),
    );
    (u, g, primary)
}

/// Open the file system of container `name` (call [`enter_namespaces`] with it
/// first). `with_mounts`: a stopped container's bind mounts are mounted
/// too (cp), or not (export, commit --squash).
pub fn open_container(
    store: &Store,
    paths: &Paths,
    name: &str,
    with_mounts: bool,
) -> Result<CtrFs> {
    let id = record::resolve(paths, name)?;
    let rec = record::load(paths, &id)?;
    let (uid_map, gid_map, primary) = id_maps(paths, &id);
    let st = record::observe(paths, &id);
    if st.is_running() && st.init_alive() {
        let proc_root = PathBuf::from(format!("/proc/{}/root", st.pid));
        let root = inroot::open_root(&proc_root).with_context(|| {
            format!(
                "opening the root of container {name} ({})",
                proc_root.display()
            )
        })?;
        let other_mounts = mount_points(st.pid);
        if st.init_alive() {
            return Ok(CtrFs {
                name: name.to_string(),
                id,
                root,
                uid_map,
                gid_map,
                primary,
                other_mounts,
                unmount: None,
                _lock: None,
            });
        }
    }
    // Stopped (or just stopping): keep it so while we work.
    let lock = record::lock_existing(paths, &id)?;
    let st = record::observe_locked(paths, &id);
    if st.is_running() && st.init_alive() {
        bail!("container {name} started while being opened: try again");
    }
    let ctr_dir = paths.ctr_dir(&id);
    let m = match &rec.extras.rootfs {
        // --rootfs: its directory (or the overlay on it).
        Some(dir) => crate::rootfs::mount_dir(dir, &ctr_dir, rec.extras.rootfs_overlay),
        None => {
            let image = store.image_by_id(&rec.image_id)?.with_context(|| {
                format!("the image of container {name} is no longer in local storage")
            })?;
            crate::rootfs::mount(store, &image, &ctr_dir, rec.storage_driver.as_deref())
        }
    }
    .with_context(|| format!("mounting the root of container {name}"))?;
    let root =
        inroot::open_root(&m.merged).with_context(|| format!("opening {}", m.merged.display()))?;
    let mut fs = CtrFs {
        name: name.to_string(),
        id,
        root,
        uid_map,
        gid_map,
        primary,
        other_mounts: Vec::new(),
        unmount: Some(ctr_dir),
        _lock: Some(lock),
    };
    if with_mounts {
        // Parents before what is mounted inside them.
        let mut mounts: Vec<_> = rec.mounts.iter().collect();
        mounts.sort_by_key(|m| Path::new(&m.destination).components().count());
        for mnt in mounts {
            if !matches!(mnt.kind.as_str(), "bind" | "volume") || !mnt.source.starts_with('/') {
                continue;
            }
            // A subpath is found inside its source as the runtime finds it.
            let sub = crate::runtime::mounts::subpath_of(&mnt.options)
                .map(|sub| {
                    crate::runtime::mounts::subpath_fd(Path::new(&mnt.source), Path::new(sub))
                })
                .transpose()?;
            let source = match &sub {
                Some(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
                None => PathBuf::from(&mnt.source),
            };
            // The mount point is made as the runtime makes it at start.
            let what = if source.is_dir() {
                inroot::Create::Dir(0o755)
            } else {
                inroot::Create::File(0o644)
            };
            let at = inroot::create(fs.root.as_fd(), Path::new(&mnt.destination), what)
                .with_context(|| format!("the mount point {} of {name}", mnt.destination))?;
            let node = inroot::Node::new(at, mnt.destination.clone().into(), false)?;
            nix::mount::mount(
                Some(&source),
                &node.path(),
                None::<&str>,
                nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| format!("mounting {} on {} for cp", mnt.source, mnt.destination))?;
            if !mnt.rw || mnt.options.iter().any(|o| o == "ro") {
                // Read-only for the container: read-only for cp too. The
                // mount's own root, looked up again; the flags the kernel
                // locks in a user namespace kept.
                let top = inroot::open(fs.root.as_fd(), Path::new(&mnt.destination), true)?;
                let top = inroot::Node::new(top, mnt.destination.clone().into(), false)?;
                use nix::mount::MsFlags as M;
                use nix::sys::statvfs::FsFlags as F;
                let have = nix::sys::statvfs::statvfs(&top.path())?.flags();
                let mut flags = M::MS_REMOUNT | M::MS_BIND | M::MS_RDONLY;
                for (f, m) in [
                    (F::ST_NOSUID, M::MS_NOSUID),
                    (F::ST_NODEV, M::MS_NODEV),
                    (F::ST_NOEXEC, M::MS_NOEXEC),
                    (F::ST_NOATIME, M::MS_NOATIME),
                    (F::ST_NODIRATIME, M::MS_NODIRATIME),
                    (F::ST_RELATIME, M::MS_RELATIME),
                ] {
                    if have.contains(f) {
                        flags |= m;
                    }
                }
                nix::mount::mount(None::<&str>, &top.path(), None::<&str>, flags, None::<&str>)
                    .with_context(|| format!("making {} read-only for cp", mnt.destination))?;
            }
        }
        // Lookups must see the new mounts: reopen the root.
        fs.root = inroot::open_root(&m.merged)?;
    }
    Ok(fs)
}

/// The mount points of process `pid`'s mount namespace other than its
/// root, relative to its root.
fn mount_points(pid: i32) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let text = std::fs::read(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let Some(mp) = line.split(|&b| b == b' ').nth(4) else {
            continue;
        };
        // mountinfo escapes space, tab, newline and backslash as \ooo.
        let mp = unescape_octal(mp);
        let rel: &[u8] = {
            let mut r = &mp[..];
            while let Some(rest) = r.strip_prefix(b"/") {
                r = rest;
            }
            r
        };
        if !rel.is_empty() {
            out.push(PathBuf::from(OsStr::from_bytes(rel)));
        }
    }
    out
}

fn unescape_octal(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let v = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok());
            if let Some(v) = v {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// What a path is, after following symlinks (in-root for a container).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Dir,
    File,
    Missing,
}

fn what_of(fd: &OwnedFd) -> Result<What> {
    let st = inroot::fstat(fd.as_fd())?;
    Ok(if inroot::kind(&st) == nix::sys::stat::SFlag::S_IFDIR {
        What::Dir
    } else {
        What::File
    })
}

/// A side opened: a host path or a container path.
enum Side<'a> {
    Host(PathBuf),
    Ctr(&'a CtrFs, String),
}

impl Side<'_> {
    fn shown(&self) -> String {
        match self {
            Side::Host(p) => p.display().to_string(),
            Side::Ctr(c, p) => format!("{}:{p}", c.name),
        }
    }

    fn not_found(&self) -> anyhow::Error {
        match self {
            Side::Host(p) => anyhow!(
                "\"{}\" could not be found on the host: no such file or directory",
                p.display()
            ),
            Side::Ctr(c, p) => anyhow!(
                "\"{p}\" could not be found on container {}: no such file or directory",
                c.name
            ),
        }
    }

    /// An O_PATH fd of `path` (the side's own when None), following
    /// symlinks; None when it doesn't exist.
    fn open(&self, path: Option<&Path>) -> Result<Option<OwnedFd>> {
        let r = match self {
            Side::Host(p) => open_host(path.unwrap_or(p)),
            Side::Ctr(c, p) => {
                inroot::open(c.root.as_fd(), path.unwrap_or(Path::new(&abs(p))), true)
            }
        };
        match r {
            Ok(fd) => Ok(Some(fd)),
            Err(nix::errno::Errno::ENOENT) => Ok(None),
            Err(e) => Err(e).with_context(|| self.shown()),
        }
    }

    fn path(&self) -> PathBuf {
        match self {
            Side::Host(p) => p.clone(),
            Side::Ctr(_, p) => PathBuf::from(abs(p)),
        }
    }
}

/// An O_PATH fd of a host path (the user's own: symlinks followed).
fn open_host(p: &Path) -> nix::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(p)
        .map(OwnedFd::from)
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

fn side<'a>(l: &Loc, c: Option<&'a CtrFs>) -> Result<Option<Side<'a>>> {
    Ok(match l {
        Loc::Stream => None,
        Loc::Host(p) => Some(Side::Host(std::path::absolute(p)?)),
        Loc::Container { path, .. } => Some(Side::Ctr(c.expect("opened above"), path.clone())),
    })
}

fn abs(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// The name a copied tree gets (the source's last component), or None
/// when the source's contents are meant (`dir/.`, `/`).
fn base_name(path: &str) -> Option<OsString> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." || trimmed.ends_with("/.") {
        return None;
    }
    Path::new(trimmed).file_name().map(OsStr::to_os_string)
}

/// Copy `src` to `dst`. `stdin`/`stdout` serve `-`. Call
/// [`enter_namespaces`] first.
pub fn cp(
    store: &Store,
    paths: &Paths,
    src: &Loc,
    dst: &Loc,
    o: CpOptions,
    stdin: impl Read,
    stdout: impl Write,
) -> Result<()> {
    if matches!((src, dst), (Loc::Stream, Loc::Stream)) {
        bail!("\"-\" can't be both the source and the destination");
    }
    if matches!(src, Loc::Host(_) | Loc::Stream) && matches!(dst, Loc::Host(_) | Loc::Stream) {
        bail!("copying between two host paths is not supported: one side must be a container (CONTAINER:PATH)");
    }
    let src_ctr = match src {
        Loc::Container { name, .. } => Some(open_container(store, paths, name, true)?),
        _ => None,
    };
    let dst_ctr = match dst {
        Loc::Container { name, .. } => Some(open_container(store, paths, name, true)?),
        _ => None,
    };
    let s_side = side(src, src_ctr.as_ref())?;
    let d_side = side(dst, dst_ctr.as_ref())?;
    let src_raw = match src {
        Loc::Host(p) => p.to_string_lossy().into_owned(),
        Loc::Container { path, .. } => path.clone(),
        Loc::Stream => String::new(),
    };
    let dst_raw = match dst {
        Loc::Host(p) => p.to_string_lossy().into_owned(),
        Loc::Container { path, .. } => path.clone(),
        Loc::Stream => String::new(),
    };

    // The source: a tar from stdin, or a tree to walk.
    let (src_fd, src_what) = match &s_side {
        None => (None, What::Dir),
        Some(s) => {
            let fd = s.open(None)?.ok_or_else(|| s.not_found())?;
            let w = what_of(&fd)?;
            (Some(fd), w)
        }
    };
    // A container path ending in a symlink is copied as what it resolves
    // to, under that name (podman's behaviour).
    let src_name: Option<OsString> = match (&s_side, &src_fd) {
        (Some(Side::Ctr(c, p)), Some(fd)) if base_name(p).is_some() => {
            let link = inroot::open(c.root.as_fd(), Path::new(&abs(p)), false)
                .ok()
                .and_then(|l| inroot::fstat(l.as_fd()).ok())
                .is_some_and(|st| inroot::kind(&st) == nix::sys::stat::SFlag::S_IFLNK);
            if link {
                std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                    .ok()
                    .and_then(|t| t.file_name().map(OsStr::to_os_string))
                    .or_else(|| base_name(p))
            } else {
                base_name(p)
            }
        }
        _ => base_name(&src_raw),
    };
    if src_what == What::File && src_raw.ends_with('/') {
        bail!(
            "{}: not a directory",
            s_side.as_ref().map(|s| s.shown()).unwrap_or_default()
        );
    }

    // Where the tar is extracted, and the name its top gets there.
    let Some(d) = &d_side else {
        // To stdout: the tree under its own name.
        let fd = src_fd.expect("a stream source was refused above");
        let mut t = TreeTar::new(stdout, TarMode::Plain);
        add_source(&mut t, &fd, src_what, src_name.as_deref())?;
        t.finish()?.flush()?;
        return Ok(());
    };
    let dst_fd = d.open(None)?;
    let dst_what = match &dst_fd {
        Some(fd) => what_of(fd)?,
        None => What::Missing,
    };
    let (dir_fd, top): (OwnedFd, Option<OsString>) = match (src_what, dst_what) {
        (_, What::Dir) if s_side.is_none() => (dst_fd.expect("exists"), None),
        (What::Dir, What::Dir) => (dst_fd.expect("exists"), src_name),
        (What::File, What::Dir) => (
            dst_fd.expect("exists"),
            Some(src_name.unwrap_or_else(|| OsString::from("."))),
        ),
        (_, What::File) if s_side.is_none() => {
            bail!(
                "destination {} must be a directory when copying from stdin",
                d.shown()
            )
        }
        (What::Dir, What::File) => bail!(
            "cannot copy a directory to a file: {} is not a directory",
            d.shown()
        ),
        (_, What::Missing) if s_side.is_none() => return Err(d.not_found()),
        (_, What::Missing) if dst_raw.ends_with('/') => return Err(d.not_found()),
        (_, _) => {
            // Into the parent, under the destination's name.
            let p = d.path();
            let name = p
                .file_name()
                .map(OsStr::to_os_string)
                .ok_or_else(|| anyhow!("{}: invalid destination", d.shown()))?;
            let parent = p.parent().unwrap_or(Path::new("/")).to_path_buf();
            let fd = d.open(Some(&parent))?.ok_or_else(|| {
                anyhow!(
                    "{}: the parent directory {} does not exist",
                    d.shown(),
                    parent.display()
                )
            })?;
            if what_of(&fd)? != What::Dir {
                bail!("{}: {} is not a directory", d.shown(), parent.display());
            }
            (fd, Some(name))
        }
    };
    let dir = reopen_dir(dir_fd.as_fd()).with_context(|| d.shown())?;
    let popts = match d {
        Side::Host(_) => PlainOpts {
            chown: false,
            overwrite: o.overwrite,
            ..Default::default()
        },
        Side::Ctr(c, _) => PlainOpts {
            owner: o.archive.then_some(c.primary),
            uid_map: c.uid_map.clone(),
            gid_map: c.gid_map.clone(),
            chown: true,
            overwrite: o.overwrite,
        },
    };
    let what = format!("copying to {}", d.shown());
    match src_fd {
        None => crate::storage::extract_plain(stdin, dir, popts).context(what),
        Some(fd) => {
            let (r, w) = nix::unistd::pipe().context("creating a pipe")?;
            // A 64 KiB pipe means a wake-up per 64 KiB between the threads;
            // 1 MiB (pipe-max-size's default) matches both sides' buffers.
            let _ = nix::fcntl::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&w),
                nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20),
            );
            let (r, w) = (std::fs::File::from(r), std::fs::File::from(w));
            // Only the entries go through the pipe: each regular file is
            // handed over by its open fd and copied in the kernel, file to
            // file, rather than read into the tar and out of it again.
            let (feed_tx, feed_rx) = file_feed();
            std::thread::scope(|sc| {
                let producer = sc.spawn(move || -> Result<()> {
                    let mut t = TreeTar::new(
                        std::io::BufWriter::with_capacity(1 << 20, w),
                        TarMode::Plain,
                    );
                    t.feed_files(feed_tx);
                    add_source(&mut t, &fd, src_what, top.as_deref())?;
                    t.finish()?.flush()?;
                    Ok(())
                });
                let res = crate::storage::extract_plain_fed(r, dir, popts, feed_rx).context(what);
                let prod = producer
                    .join()
                    .map_err(|_| anyhow!("the tar writer panicked"))?;
                // The reader's error explains a writer's broken pipe, the
                // writer's why the reader found the feed closed.
                match (res, prod) {
                    (Err(e), Err(p)) if e.chain().any(|c| c.is::<FeedClosed>()) => Err(p),
                    (res, prod) => res.and(prod),
                }
            })
        }
    }
}

fn add_source<W: Write>(
    t: &mut TreeTar<W>,
    fd: &OwnedFd,
    w: What,
    top: Option<&OsStr>,
) -> Result<()> {
    let name = top.map(Path::new).unwrap_or(Path::new(""));
    match w {
        What::Dir => {
            let d = reopen_dir(fd.as_fd())?;
            t.add_resolved_dir(d.as_fd(), name)
        }
        _ => t.add_resolved_file(fd.as_fd(), name),
    }
}

/// `rpod export`: the container's file system as one flat tar (no
/// whiteouts, without volumes and other mounts). Call
/// [`enter_namespaces`] first.
pub fn export(store: &Store, paths: &Paths, name: &str, out: impl Write) -> Result<()> {
    let c = open_container(store, paths, name, false)?;
    if let Ok(rec) = crate::container::record::load(paths, &c.id) {
        crate::events::container(&paths.runroot, "mount", &rec); // podman's export mounts
    }
    let dir = reopen_dir(c.root.as_fd())?;
    let mut t = TreeTar::new(
        std::io::BufWriter::with_capacity(1 << 20, out),
        TarMode::Plain,
    );
    t.skip(c.other_mounts.iter().cloned());
    t.add_contents(dir.as_fd(), Path::new(""))
        .with_context(|| format!("exporting container {name}"))?;
    t.finish()?.flush()?;
    Ok(())
}

impl CtrFs {
    /// An O_RDONLY fd of the container's "/".
    pub fn root_dir(&self) -> Result<OwnedFd> {
        reopen_dir(self.root.as_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_arguments_read_as_podman_reads_them() {
        assert_eq!(parse_loc("-"), Loc::Stream);
        assert_eq!(parse_loc("/a:b"), Loc::Host("/a:b".into()));
        assert_eq!(parse_loc("./x:y"), Loc::Host("./x:y".into()));
        assert_eq!(parse_loc("plain"), Loc::Host("plain".into()));
        assert_eq!(
            parse_loc("ctr:/etc"),
            Loc::Container {
                name: "ctr".into(),
                path: "/etc".into()
            }
        );
        assert_eq!(parse_loc("a/b:c"), Loc::Host("a/b:c".into()));
    }

    #[test]
    fn base_names_follow_the_trailing_slash_rules() {
        assert_eq!(base_name("/etc/"), Some("etc".into()));
        assert_eq!(base_name("/etc"), Some("etc".into()));
        assert_eq!(base_name("/etc/."), None);
        assert_eq!(base_name("/"), None);
        assert_eq!(base_name(""), None);
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(unescape_octal(b"/a\\040b"), b"/a b");
        assert_eq!(unescape_octal(b"/plain"), b"/plain");
        assert_eq!(unescape_octal("/\\é".as_bytes()), "/\\é".as_bytes());
    }
}
