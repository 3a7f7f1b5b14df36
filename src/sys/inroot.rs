//! Paths inside a container's root, resolved as if that root were "/".
//!
//! Every lookup goes through the kernel's `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)` from an fd of the root, so no symlink, `..` or
//! rename race can lead outside it. What is missing is created one
//! component at a time, on the fd of its parent (`mkdirat`, `openat(O_CREAT
//! | O_EXCL | O_NOFOLLOW)`, `mknodat`, `symlinkat`), and reopened without
//! following anything: nothing is ever created through a path string.
//! Callers get an `O_PATH` fd; a mount onto it goes through
//! `/proc/self/fd/N` (runc's answer to CVE-2021-30465).
//!
//! Where the kernel has no openat2 (before 5.6), a userspace walk does the
//! same, one `openat(O_NOFOLLOW)` per component, with symlinks read and
//! resolved by us inside the root: after [`MAXSYMLINKS`] of them it fails
//! with ELOOP, as the kernel does. It never hands a remainder to the kernel.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Symlinks one resolution may follow (the kernel's MAXSYMLINKS).
pub const MAXSYMLINKS: u32 = 40;

/// What to create where the path ends (and, as directories, on the way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    Nothing,
    /// Directories all the way, with this mode.
    Dir(u32),
    /// Directories on the way, an empty regular file with this mode at the end.
    File(u32),
}

/// How a lookup resolves: the kernel's openat2, or our own walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolver {
    Kernel,
    Userspace,
}

static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// The resolver this kernel supports (openat2 unless it said ENOSYS once).
pub fn resolver() -> Resolver {
    if NO_OPENAT2.load(Ordering::Relaxed) {
        Resolver::Userspace
    } else {
        Resolver::Kernel
    }
}

fn own(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Open a directory on the host (the rootfs itself: a trusted path) as the
/// root of later in-root lookups.
pub fn open_root(path: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(own)
}

/// An `O_PATH` fd of `name` in `dir`, never following a symlink there.
fn open_here(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<OwnedFd> {
    nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(own)
}

fn reopen(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    open_here(fd, OsStr::new("."))
}

pub fn fstat(fd: BorrowedFd<'_>) -> nix::Result<FileStat> {
    nix::sys::stat::fstat(fd.as_raw_fd())
}

/// The file type bits of a stat.
pub fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Open `path` inside `root` as an `O_PATH` fd. With `follow_last` false a
/// final symlink is opened itself, not followed.
pub fn open(root: BorrowedFd<'_>, path: &Path, follow_last: bool) -> nix::Result<OwnedFd> {
    open_with(resolver(), root, path, follow_last)
}

/// [`open`] with a chosen resolver (the tests use both).
pub fn open_with(
    r: Resolver,
    root: BorrowedFd<'_>,
    path: &Path,
    follow_last: bool,
) -> nix::Result<OwnedFd> {
    if r == Resolver::Kernel {
        match open_kernel(root, path, follow_last) {
            // No openat2 (before 5.6), or a seccomp filter of a runtime we
            // run under that predates it and answers EPERM (an O_PATH
            // lookup has no other reason to): walk in userspace instead.
            Err(Errno::ENOSYS | Errno::EPERM) => NO_OPENAT2.store(true, Ordering::Relaxed),
            res => return res,
        }
    }
    walk(root, path, follow_last, Create::Nothing)
}

fn open_kernel(root: BorrowedFd<'_>, path: &Path, follow_last: bool) -> nix::Result<OwnedFd> {
    use nix::fcntl::{OpenHow, ResolveFlag};
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if !follow_last {
        flags |= OFlag::O_NOFOLLOW;
    }
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // An empty path means the root itself.
    let path = if path.as_os_str().is_empty() {
        Path::new("/")
    } else {
        path
    };
    // EAGAIN (a rename or mount raced a `..`) is retried, within a bound.
    super::fsx::openat2(root, path, how)
}

/// Open `path` inside `root`, creating what is missing as `what` says.
/// Existing symlinks (dangling ones too) are followed inside the root.
/// Returns an `O_PATH` fd of the directory or file at the end.
pub fn create(root: BorrowedFd<'_>, path: &Path, what: Create) -> nix::Result<OwnedFd> {
    create_with(resolver(), root, path, what)
}

/// [`create`] with a chosen resolver for the first lookup.
pub fn create_with(
    r: Resolver,
    root: BorrowedFd<'_>,
    path: &Path,
    what: Create,
) -> nix::Result<OwnedFd> {
    let fd = match open_with(r, root, path, true) {
        Ok(fd) => fd,
        // Something is missing (or a symlink dangles): create it step by step.
        Err(Errno::ENOENT) if what != Create::Nothing => walk(root, path, true, what)?,
        Err(e) => return Err(e),
    };
    if matches!(what, Create::Dir(_)) && kind(&fstat(fd.as_fd())?) != SFlag::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Ok(fd)
}

/// The path's components, `..` applied lexically (as runc cleans mount
/// destinations): only normal names remain.
pub fn clean(path: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The cleaned path as an absolute path ("/a/b").
pub fn clean_path(path: &Path) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(clean(path));
    p
}

/// The directory holding `path` (created, in-root, if missing) and the
/// final name in it.
pub fn parent(
    root: BorrowedFd<'_>,
    path: &Path,
    create_dirs: bool,
) -> nix::Result<(OwnedFd, OsString)> {
    let mut parts = clean(path);
    let name = parts.pop().ok_or(Errno::EINVAL)?;
    let dir: PathBuf = std::iter::once(OsString::from("/")).chain(parts).collect();
    let what = if create_dirs {
        Create::Dir(0o755)
    } else {
        Create::Nothing
    };
    let fd = create(root, &dir, what)?;
    if kind(&fstat(fd.as_fd())?) != SFlag::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Ok((fd, name))
}

fn push_front(todo: &mut VecDeque<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    for p in parts.into_iter().rev() {
        todo.push_front(p);
    }
}

/// The userspace resolver: one component at a time from `root`, each opened
/// with O_NOFOLLOW on the fd of its parent; a symlink is read and its
/// target resolved by us (absolute ones from `root`), `..` pops back to the
/// parent's fd and never above `root`. Creates what is missing when `what`
/// says so, and reopens it the same way (a symlink raced in is followed
/// in-root too). ELOOP after MAXSYMLINKS symlinks.
pub fn walk(
    root: BorrowedFd<'_>,
    path: &Path,
    follow_last: bool,
    what: Create,
) -> nix::Result<OwnedFd> {
    let mut stack: Vec<OwnedFd> = vec![reopen(root)?];
    let mut todo: VecDeque<OsString> = VecDeque::new();
    push_front(&mut todo, path);
    let mut links = 0;
    // Creations, bounded so that someone deleting what we create can't
    // keep us here.
    let mut made = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let last = todo.is_empty();
        let top = stack.last().expect("the root stays on the stack").as_fd();
        match open_here(top, &part) {
            Ok(fd) => {
                let k = kind(&fstat(fd.as_fd())?);
                if k == SFlag::S_IFLNK && (follow_last || !last) {
                    links += 1;
                    if links > MAXSYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let target = nix::fcntl::readlinkat(Some(fd.as_raw_fd()), "")?;
                    let target = Path::new(&target);
                    if target.is_absolute() {
                        stack.truncate(1);
                    }
                    push_front(&mut todo, target);
                    continue;
                }
                if last {
                    return Ok(fd);
                }
                if k != SFlag::S_IFDIR {
                    return Err(Errno::ENOTDIR);
                }
                stack.push(fd);
            }
            Err(Errno::ENOENT) if what != Create::Nothing => {
                made += 1;
                if made > 4096 {
                    return Err(Errno::EAGAIN);
                }
                let res = match what {
                    Create::File(mode) if last => nix::fcntl::openat(
                        Some(top.as_raw_fd()),
                        part.as_os_str(),
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_WRONLY
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(mode),
                    )
                    .map(|fd| drop(own(fd))),
                    Create::Dir(mode) if last => nix::sys::stat::mkdirat(
                        Some(top.as_raw_fd()),
                        part.as_os_str(),
                        Mode::from_bits_truncate(mode),
                    ),
                    _ => nix::sys::stat::mkdirat(
                        Some(top.as_raw_fd()),
                        part.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    ),
                };
                match res {
                    // Created, or raced by someone else: look again.
                    Ok(()) | Err(Errno::EEXIST) => todo.push_front(part),
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    // The path ended on a directory already on the stack ("/", "a/..").
    reopen(stack.last().expect("the root stays on the stack").as_fd())
}

/// mknodat(2) on the fd of the parent.
pub fn mknod_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    kind: SFlag,
    perm: u32,
    dev: u64,
) -> nix::Result<()> {
    nix::sys::stat::mknodat(
        Some(dir.as_raw_fd()),
        name,
        kind,
        Mode::from_bits_truncate(perm),
        dev,
    )
}

/// mknodat(2) on the fd of the parent, then the exact `perm` (the umask
/// applies at mknod): fchmodat without following a final symlink (glibc
/// does that through an O_PATH fd, refusing a symlink), so a node swapped
/// for a link between the two calls never has its target changed.
pub fn mknod_exact_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    kind: SFlag,
    perm: u32,
    dev: u64,
) -> nix::Result<()> {
    mknod_at(dir, name, kind, perm, dev)?;
    nix::sys::stat::fchmodat(
        Some(dir.as_raw_fd()),
        name,
        Mode::from_bits_truncate(perm),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
}

/// symlinkat(2) on the fd of the parent.
pub fn symlink_at(target: &Path, dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<()> {
    nix::unistd::symlinkat(target, Some(dir.as_raw_fd()), name)
}

/// fchownat(2) on the fd of the parent, never following a symlink.
pub fn chown_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    uid: Option<u32>,
    gid: Option<u32>,
) -> nix::Result<()> {
    nix::unistd::fchownat(
        Some(dir.as_raw_fd()),
        name,
        uid.map(nix::unistd::Uid::from_raw),
        gid.map(nix::unistd::Gid::from_raw),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// The root of in-root lookups, opened once for a series of them: the fd
/// of the container's rootfs (none for the recording test double) and its
/// path, for messages.
#[derive(Debug)]
pub struct Root {
    fd: Option<OwnedFd>,
    path: PathBuf,
}

impl Root {
    /// Open `path` (the rootfs: a trusted host path) as a root.
    pub fn open(path: &Path) -> nix::Result<Root> {
        Ok(Root {
            fd: Some(open_root(path)?),
            path: path.to_path_buf(),
        })
    }

    /// A root with no fd, for the recording test double.
    #[cfg(test)]
    pub fn fake(path: &Path) -> Root {
        Root {
            fd: None,
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fd lookups start from (EBADF for a fake root).
    pub fn fd(&self) -> nix::Result<BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd()).ok_or(Errno::EBADF)
    }
}

/// What an in-root lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    Symlink,
    Other,
}

/// A place inside a container's root, opened in-root: what the mount steps
/// operate on. [`Node::path`] is the path a mount(2) takes: the fd's
/// `/proc/self/fd/N`, or, for the recording test double (no fd), the
/// joined path it shows.
#[derive(Debug)]
pub struct Node {
    fd: Option<OwnedFd>,
    shown: PathBuf,
    kind: Kind,
    /// The shown path may stand in for the fd when /proc/self/fd is gone
    /// (after pivot_root into a root without /proc: inside the container's
    /// own root, where no path leads out).
    path_fallback: bool,
}

impl Node {
    /// `fd` (an in-root lookup's result) found at `shown`.
    pub fn new(fd: OwnedFd, shown: PathBuf, path_fallback: bool) -> nix::Result<Node> {
        let kind = match kind(&fstat(fd.as_fd())?) {
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        };
        Ok(Node {
            fd: Some(fd),
            shown,
            kind,
            path_fallback,
        })
    }

    /// A node with no fd, for the recording test double.
    #[cfg(test)]
    pub fn fake(shown: PathBuf, kind: Kind) -> Node {
        Node {
            fd: None,
            shown,
            kind,
            path_fallback: true,
        }
    }

    /// The path to hand mount(2) and friends.
    pub fn path(&self) -> PathBuf {
        match &self.fd {
            Some(fd) => {
                let p = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
                if self.path_fallback && std::fs::symlink_metadata(&p).is_err() {
                    self.shown.clone()
                } else {
                    p
                }
            }
            None => self.shown.clone(),
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    pub fn is_symlink(&self) -> bool {
        self.kind == Kind::Symlink
    }

    /// Whether `self`, looked up again after a mount on `before`, is a
    /// different mount at the same place: the mount landed where the path
    /// was resolved, and the path still leads there. True when /proc can't
    /// tell (no /proc after pivot_root).
    pub fn landed_on(&self, before: &Node) -> bool {
        let (Some(a), Some(b)) = (&self.fd, &before.fd) else {
            return self.shown == before.shown;
        };
        match (mnt_id(a.as_fd()), mnt_id(b.as_fd())) {
            (Some(ma), Some(mb)) if ma == mb => return false,
            (Some(_), Some(_)) => {}
            _ => return self.path_fallback,
        }
        let at = |fd: &OwnedFd| std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        match (at(a), at(b)) {
            (Ok(pa), Ok(pb)) => pa == pb,
            _ => self.path_fallback,
        }
    }
}

/// The id of the mount `fd` is on: statx(STATX_MNT_ID) (Linux 5.8), else
/// the `mnt_id` of /proc/self/fdinfo.
fn mnt_id(fd: BorrowedFd<'_>) -> Option<u64> {
    let mut st = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: an empty C string with AT_EMPTY_PATH asks about `fd` itself;
    // the kernel fills the statx buffer we own.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            st.as_mut_ptr(),
        )
    };
    if r == 0 {
        // SAFETY: statx succeeded and wrote the buffer (zeroed before).
        let st = unsafe { st.assume_init() };
        if st.stx_mask & libc::STATX_MNT_ID != 0 {
            return Some(st.stx_mnt_id);
        }
    }
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Root {
        _d: tempfile::TempDir,
        path: PathBuf,
        fd: OwnedFd,
    }

    fn root() -> Root {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("root");
        std::fs::create_dir(&path).unwrap();
        let fd = open_root(&path).unwrap();
        Root { _d: d, path, fd }
    }

    /// Where an fd is, relative to the root ("/a/b").
    fn at(r: &Root, fd: &OwnedFd) -> PathBuf {
        let p = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        let canon = std::fs::canonicalize(&r.path).unwrap();
        Path::new("/").join(p.strip_prefix(&canon).unwrap())
    }

    const BOTH: [Resolver; 2] = [Resolver::Kernel, Resolver::Userspace];

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let r = root();
        std::fs::create_dir_all(r.path.join("real/sub")).unwrap();
        std::fs::create_dir_all(r.path.join("etc")).unwrap();
        symlink("/etc", r.path.join("abs")).unwrap();
        symlink("../../../real", r.path.join("rel")).unwrap();
        for how in BOTH {
            let fd = open_with(how, r.fd.as_fd(), Path::new("/abs"), true).unwrap();
            assert_eq!(at(&r, &fd), Path::new("/etc"), "{how:?}");
            let fd = open_with(how, r.fd.as_fd(), Path::new("/rel/sub"), true).unwrap();
            assert_eq!(at(&r, &fd), Path::new("/real/sub"), "{how:?}");
            let fd = open_with(how, r.fd.as_fd(), Path::new("/../../real"), true).unwrap();
            assert_eq!(at(&r, &fd), Path::new("/real"), "{how:?}");
            // Not following the last one gives the link itself.
            let fd = open_with(how, r.fd.as_fd(), Path::new("/abs"), false).unwrap();
            assert_eq!(kind(&fstat(fd.as_fd()).unwrap()), SFlag::S_IFLNK);
        }
    }

    #[test]
    fn userspace_walk_stops_at_its_budget() {
        let r = root();
        std::fs::create_dir(r.path.join("end")).unwrap();
        // A loop, and chains of 40 (allowed) and 41 (one too many) links.
        symlink("loop", r.path.join("loop")).unwrap();
        for (name, n) in [("ok", 40), ("long", 41)] {
            for i in 0..n {
                let target = if i + 1 == n {
                    "end".to_string()
                } else {
                    format!("{name}{}", i + 1)
                };
                symlink(target, r.path.join(format!("{name}{i}"))).unwrap();
            }
        }
        let fd = walk(r.fd.as_fd(), Path::new("/ok0"), true, Create::Nothing).unwrap();
        assert_eq!(at(&r, &fd), Path::new("/end"));
        for p in ["/loop", "/loop/x", "/long0", "/long0/x"] {
            assert_eq!(
                walk(r.fd.as_fd(), Path::new(p), true, Create::Nothing).unwrap_err(),
                Errno::ELOOP,
                "{p}"
            );
            // Creating through them fails the same way, and creates nothing.
            assert_eq!(
                walk(r.fd.as_fd(), Path::new(p), true, Create::Dir(0o755)).unwrap_err(),
                Errno::ELOOP,
                "{p}"
            );
        }
        assert!(!r.path.join("end/x").exists());
    }

    #[test]
    fn creation_follows_dangling_links_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        for how in BOTH {
            let r = root();
            // An absolute link to a host directory, and a relative one that
            // climbs: both end inside the root.
            symlink(&outside, r.path.join("etc")).unwrap();
            symlink("../../../../outside2", r.path.join("up")).unwrap();
            let fd = create_with(
                how,
                r.fd.as_fd(),
                Path::new("/etc/hosts"),
                Create::File(0o644),
            )
            .unwrap();
            let want = clean_path(&outside.join("hosts"));
            assert_eq!(at(&r, &fd), want, "{how:?}");
            assert!(r.path.join(want.strip_prefix("/").unwrap()).is_file());
            let fd =
                create_with(how, r.fd.as_fd(), Path::new("/up/a/b"), Create::Dir(0o755)).unwrap();
            assert_eq!(at(&r, &fd), Path::new("/outside2/a/b"), "{how:?}");
            assert!(r.path.join("outside2/a/b").is_dir());
            // Existing paths are opened, not recreated.
            let again =
                create_with(how, r.fd.as_fd(), Path::new("/up/a/b"), Create::Dir(0o755)).unwrap();
            assert_eq!(at(&r, &again), Path::new("/outside2/a/b"));
            // A file where a directory is wanted is an error.
            assert_eq!(
                create_with(
                    how,
                    r.fd.as_fd(),
                    Path::new("/etc/hosts"),
                    Create::Dir(0o755)
                )
                .unwrap_err(),
                Errno::ENOTDIR
            );
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn a_long_chain_is_refused_by_both_resolvers() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let r = root();
        // 300 links, the last one absolute to a host directory that exists.
        for i in 0..300 {
            let name = r.path.join(format!("l{i}"));
            if i == 299 {
                symlink(&outside, name).unwrap();
            } else {
                symlink(format!("l{}", i + 1), name).unwrap();
            }
        }
        for how in BOTH {
            let e = create_with(how, r.fd.as_fd(), Path::new("/l0/work"), Create::Dir(0o755))
                .unwrap_err();
            assert_eq!(e, Errno::ELOOP, "{how:?}");
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn a_lookup_with_no_new_mount_is_not_taken_for_one() {
        let r = root();
        std::fs::create_dir(r.path.join("t")).unwrap();
        let node = |p: &str| {
            let fd = open(r.fd.as_fd(), Path::new(p), true).unwrap();
            Node::new(fd, r.path.join(p.trim_start_matches('/')), false).unwrap()
        };
        let (before, after) = (node("/t"), node("/t"));
        assert!(before.is_dir() && !before.is_symlink());
        assert!(before.path().starts_with("/proc/self/fd/"));
        // Same place, same mount: no mount landed there.
        assert!(!after.landed_on(&before));
        // Another place is refused as well.
        assert!(!node("/").landed_on(&before));
        // Mount ids tell mounts apart (/proc is one of its own).
        let proc_fd = open_root(Path::new("/proc")).unwrap();
        let (p, t) = (mnt_id(proc_fd.as_fd()), mnt_id(r.fd.as_fd()));
        assert!(p.is_some() && t.is_some() && p != t, "{p:?} {t:?}");
    }

    #[test]
    fn parents_and_nodes_are_made_on_the_parent_fd() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let r = root();
        symlink(&outside, r.path.join("dev")).unwrap();
        let (dir, name) = parent(r.fd.as_fd(), Path::new("/dev/./x/../fd"), true).unwrap();
        assert_eq!(name, "fd");
        assert_eq!(at(&r, &dir), clean_path(&outside));
        symlink_at(Path::new("/proc/self/fd"), dir.as_fd(), &name).unwrap();
        assert_eq!(
            symlink_at(Path::new("/x"), dir.as_fd(), &name).unwrap_err(),
            Errno::EEXIST
        );
        mknod_at(dir.as_fd(), OsStr::new("fifo"), SFlag::S_IFIFO, 0o600, 0).unwrap();
        let inside = r.path.join(clean_path(&outside).strip_prefix("/").unwrap());
        assert!(std::fs::symlink_metadata(inside.join("fd"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert_eq!(
            parent(r.fd.as_fd(), Path::new("/"), true).unwrap_err(),
            Errno::EINVAL
        );
    }
}
