//! The container's file system tree: the spec's mounts, /dev, pivot_root,
//! masked and read-only paths. Every syscall goes through
//! [`Syscalls`](crate::sys::runtime::Syscalls), so the order of the steps is
//! unit-tested with the recording double.
//!
//! No path inside the rootfs is ever handed to the kernel as a string: each
//! is looked up (and what is missing created) inside the root by
//! [`crate::sys::inroot`], and mounts go onto the resulting fd
//! ([`Node::path`]), so a symlink in the image, or one swapped in by another
//! container sharing a volume, can't point a mount or a mkdir at the host.

use super::process::cannot_invoke;
use crate::sys::inroot::{Node, Root};
use crate::sys::runtime::Syscalls;
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::SFlag;
use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A mount's `options`, split into what mount(2) takes.
#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    /// Propagation changes, applied by separate mount(2) calls.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific options (the `data` argument).
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            data: Vec::new(),
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
    fn data(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

/// Parse the options of a runtime-spec mount (mount(8)'s names).
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" | "rro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" | "rrw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" | "rnosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" | "rsuid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" | "rnodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" | "rdev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" | "rnoexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" | "rexec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "noatime" | "rnoatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" | "ratime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" | "rnodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" | "rdiratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" | "rrelatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" | "rnorelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" | "rstrictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" | "rnostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation
                    .push(propagation_flags(opt).unwrap_or(MsFlags::MS_PRIVATE));
                continue;
            }
            // Options for other runtimes' copy-up and idmap features: not ours.
            "tmpcopyup" | "notmpcopyup" | "copy-symlink" | "idmap" | "ridmap" | "z" | "Z" | "U" => {
                continue
            }
            other => {
                o.data.push(other.to_string());
                continue;
            }
        };
        o.flags = (o.flags | set) - clear;
    }
    o
}

/// The mount(2) flags of a propagation name (rootfsPropagation or an option).
pub fn propagation_flags(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// How the devices under /dev come to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceMode {
    /// mknod (real root in the initial user namespace).
    Create,
    /// Bind-mount the host's node (any user namespace: mknod is refused).
    Bind,
}

/// What the rootfs steps need besides the spec.
pub struct RootfsConfig<'a> {
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub devices: DeviceMode,
    /// No mount namespace of the container's own: leave the host's `/`
    /// alone and keep what is mounted below the rootfs private.
    pub host_mounts: bool,
}

const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

fn errno_ctx(e: Errno, what: impl FnOnce() -> String) -> anyhow::Error {
    anyhow::Error::new(std::io::Error::from_raw_os_error(e as i32)).context(what())
}

/// A path in the rootfs that can't be resolved or created inside it (a
/// symlink loop or chain, a file where a directory must be): exit code 126,
/// as podman reports the OCI runtime's failure to set the container up.
fn path_err(e: Errno, what: impl FnOnce() -> String) -> anyhow::Error {
    let io = std::io::Error::from_raw_os_error(e as i32);
    cannot_invoke(format!("{}: {io}", what()))
}

/// Everything before createContainer hooks and pivot_root: propagation,
/// the rootfs bind, the spec's mounts in order, /dev, the cwd.
pub fn prepare(sys: &dyn Syscalls, spec: &Spec, cfg: &RootfsConfig) -> Result<()> {
    // Our mount events must not reach the host: start from slave. The
    // rootfsPropagation asked for comes last, on the new root (runc's
    // order): pivot_root refuses a shared new root or parent, and nothing
    // could be bound from an unbindable tree.
    if !cfg.host_mounts {
        let first = MsFlags::MS_SLAVE | MsFlags::MS_REC;
        sys.mount(None, Path::new("/"), None, first, None)
            .map_err(|e| errno_ctx(e, || "making / a slave mount".into()))?;
    }
    // pivot_root needs the new root to be a mount point.
    sys.mount(
        Some(cfg.rootfs),
        cfg.rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| {
        errno_ctx(e, || {
            format!("bind-mounting rootfs {}", cfg.rootfs.display())
        })
    })?;
    if cfg.host_mounts {
        // In the host's mount namespace: nothing mounted below the rootfs
        // may propagate to the host's other mounts.
        sys.mount(
            None,
            cfg.rootfs,
            None,
            MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            None,
        )
        .map_err(|e| errno_ctx(e, || "making the rootfs private".into()))?;
    }

    // Every later path in the rootfs resolves from this fd of the bind mount.
    let root = sys
        .open_root(cfg.rootfs)
        .map_err(|e| errno_ctx(e, || format!("opening rootfs {}", cfg.rootfs.display())))?;
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    for m in mounts {
        mount_one(sys, m, cfg, &root, mount_label(spec)).with_context(|| {
            format!(
                "mounting {} on {}",
                m.source()
                    .as_ref()
                    .map_or("-".into(), |s| s.display().to_string()),
                m.destination().display()
            )
        })?;
    }

    let dev_is_bind = mounts
        .iter()
        .any(|m| m.destination() == Path::new("/dev") && parse_options(opts(m)).is_bind());
    if !dev_is_bind {
        create_devices(sys, spec, cfg, &root)?;
        dev_symlinks(sys, &root)?;
    }

    if let Some(p) = spec.process() {
        sys.mkdir_in(&root, p.cwd(), 0o755).map_err(|e| {
            path_err(e, || {
                format!("creating the working directory {}", p.cwd().display())
            })
        })?;
    }
    Ok(())
}

/// After pivot_root and the masked and read-only paths: the
/// `linux.rootfsPropagation` asked for, on the new root (recursive for the
/// `r` names, as runc). Shared on top of the slave it was made: the
/// container's later mounts reach its peers, never the host.
pub fn propagate_root(sys: &dyn Syscalls, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    if let Some(p) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        let flags =
            propagation_flags(p).with_context(|| format!("unknown rootfsPropagation \"{p}\""))?;
        sys.mount(None, Path::new("/"), None, flags, None)
            .map_err(|e| errno_ctx(e, || format!("making the root {p}")))?;
    }
    Ok(())
}

fn opts(m: &Mount) -> &[String] {
    m.options().as_deref().unwrap_or(&[])
}

/// `linux.mountLabel`, if set.
fn mount_label(spec: &Spec) -> Option<&str> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
        .filter(|l| !l.is_empty())
}

/// The mount option that labels a mount with `linux.mountLabel`, as runc
/// writes it (go-selinux's FormatMountLabel).
fn context_option(label: &str) -> String {
    format!("context=\"{label}\"")
}

/// What a failed mount(2) was: with the label, say so (without SELinux
/// the kernel refuses the `context=` option with EINVAL).
fn mount_what(labelled: Option<&str>) -> String {
    match labelled {
        Some(l) => format!(
            "mount(2) with {} (linux.mountLabel{})",
            context_option(l),
            if selinux_enabled() {
                ""
            } else {
                "; SELinux is disabled or not supported on this host"
            }
        ),
        None => "mount(2)".into(),
    }
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn mount_one(
    sys: &dyn Syscalls,
    m: &Mount,
    cfg: &RootfsConfig,
    root: &Root,
    label: Option<&str>,
) -> Result<()> {
    let dest = m.destination();
    if !dest.is_absolute() {
        bail!("mount destination {} is not absolute", dest.display());
    }
    let mut o = parse_options(opts(m));
    let typ = m.typ().as_deref().unwrap_or("none");
    // runc labels every mount it makes with linux.mountLabel except binds,
    // proc, sysfs, mqueue and cgroups, SELinux or not.
    let labelled = label.filter(|_| {
        !(o.is_bind()
            || matches!(
                typ,
                "bind" | "proc" | "sysfs" | "mqueue" | "cgroup" | "cgroup2"
            ))
    });
    if let Some(l) = labelled {
        o.data.push(context_option(l));
    }
    let data = o.data();

    if o.is_bind() || typ == "bind" {
        let src = m
            .source()
            .as_deref()
            .context("bind mount without a source")?;
        let src = if src.is_absolute() {
            src.to_path_buf()
        } else {
            cfg.bundle.join(src)
        };
        let flags = o.flags | MsFlags::MS_BIND;
        // rpod's `subpath=` (kube play's subPath, --mount subpath=): a part
        // of the source found inside it now, at the mount, and bound from
        // its fd: a symlink a container put in the volume since the last
        // start can't make it another directory of the host.
        if let Some(sub) = subpath_of(&o.data) {
            let fd = subpath_fd(&src, Path::new(sub))?;
            let via = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            return bind(sys, &via, root, dest, flags, &o.propagation);
        }
        return bind(sys, &src, root, dest, flags, &o.propagation);
    }

    let target = sys
        .mkdir_in(root, dest, 0o755)
        .map_err(|e| path_err(e, || format!("creating {}", dest.display())))?;
    let source = m.source().as_deref().unwrap_or(Path::new(typ));
    let res = sys.mount(
        Some(source),
        &target.path(),
        Some(typ),
        o.flags,
        data.as_deref(),
    );
    let mounted = match (typ, res) {
        (_, Ok(())) => landed(sys, root, dest, &target)?,
        // Rootless with the host's network namespace: sysfs belongs to it,
        // so show the host's /sys read-only instead (as runc and crun do).
        ("sysfs", Err(Errno::EPERM | Errno::EACCES)) => {
            let f = MsFlags::MS_BIND
                | MsFlags::MS_REC
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC;
            bind(sys, Path::new("/sys"), root, dest, f, &[])?;
            return propagate(sys, root, dest, &o.propagation);
        }
        // mqueue needs an IPC namespace of our own user namespace.
        ("mqueue", Err(Errno::EPERM | Errno::EACCES)) => {
            bind(
                sys,
                Path::new("/dev/mqueue"),
                root,
                dest,
                MsFlags::MS_BIND | MsFlags::MS_REC | (o.flags & MsFlags::MS_RDONLY),
                &[],
            )?;
            return propagate(sys, root, dest, &o.propagation);
        }
        // No cgroup2 of our own (cgroup v1, or no cgroup namespace): the
        // host's hierarchy, read-only; without it the container still runs.
        ("cgroup" | "cgroup2", Err(_)) => {
            let f = MsFlags::MS_BIND
                | MsFlags::MS_REC
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC;
            if let Err(e) = bind(sys, Path::new("/sys/fs/cgroup"), root, dest, f, &[]) {
                debug!("no cgroup file system in the container: {e:#}");
                return Ok(());
            }
            return propagate(sys, root, dest, &o.propagation);
        }
        // gid=5 is unmapped in a single-id user namespace.
        ("devpts", Err(Errno::EINVAL)) if o.data.iter().any(|d| d.starts_with("gid=")) => {
            let data: Vec<&str> = o
                .data
                .iter()
                .map(String::as_str)
                .filter(|d| !d.starts_with("gid="))
                .collect();
            let data = data.join(",");
            sys.mount(
                Some(source),
                &target.path(),
                Some(typ),
                o.flags,
                Some(&data),
            )
            .map_err(|e| errno_ctx(e, || mount_what(labelled)))?;
            landed(sys, root, dest, &target)?
        }
        (_, Err(e)) => return Err(errno_ctx(e, || mount_what(labelled))),
    };
    for p in &o.propagation {
        sys.mount(None, &mounted.path(), None, *p, None)
            .map_err(|e| errno_ctx(e, || "setting propagation".into()))?;
    }
    Ok(())
}

/// Propagation changes on what is now mounted at `dest`.
fn propagate(sys: &dyn Syscalls, root: &Root, dest: &Path, prop: &[MsFlags]) -> Result<()> {
    if prop.is_empty() {
        return Ok(());
    }
    let node = sys
        .open_in(root, dest, true)
        .map_err(|e| path_err(e, || format!("opening {}", dest.display())))?
        .ok_or_else(|| {
            path_err(Errno::ENOENT, || {
                format!("{} after the mount", dest.display())
            })
        })?;
    for p in prop {
        sys.mount(None, &node.path(), None, *p, None)
            .map_err(|e| errno_ctx(e, || "setting propagation".into()))?;
    }
    Ok(())
}

/// Look `dest` up again after a mount on `before` (so later remounts act on
/// the new mount) and check that the mount landed where `dest` was
/// resolved, as runc checks since CVE-2021-30465: a path swapped under us
/// makes this an error rather than a remount of something else.
fn landed(sys: &dyn Syscalls, root: &Root, dest: &Path, before: &Node) -> Result<Node> {
    // Looked up as `before` was: following a final symlink before
    // pivot_root (mkdir_in, touch_in), not after (masked, read-only paths).
    let follow = root.path() != Path::new("/");
    let after = sys
        .open_in(root, dest, follow)
        .map_err(|e| path_err(e, || format!("opening {} after the mount", dest.display())))?
        .ok_or_else(|| {
            path_err(Errno::ENOENT, || {
                format!("{} after the mount", dest.display())
            })
        })?;
    if !after.landed_on(before) {
        return Err(cannot_invoke(format!(
            "{} changed during the mount (a symlink swapped in?): refusing to continue",
            dest.display()
        )));
    }
    Ok(after)
}

/// Bind `src` on `dest` inside `root` (creating the target as a dir or file
/// to match), then remount with the wanted flags, keeping the flags the
/// kernel locks.
/// The option of a bind mount whose source is `subpath=` inside it: found
/// inside the source each time the container starts, so a symlink put
/// there never leads out of it.
pub const SUBPATH: &str = "subpath=";

/// The `subpath=` of a mount's options, if any.
pub fn subpath_of(options: &[String]) -> Option<&str> {
    options.iter().find_map(|o| o.strip_prefix(SUBPATH))
}

/// `sub` inside the directory `src` as an O_PATH fd, every symlink on the
/// way resolved inside `src`: bind `/proc/self/fd/N` of it.
pub fn subpath_fd(src: &Path, sub: &Path) -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::AsFd;
    let what = || format!("bind source {} subpath {}", src.display(), sub.display());
    let root = crate::sys::inroot::open_root(src).map_err(|e| errno_ctx(e, what))?;
    crate::sys::inroot::open(root.as_fd(), sub, true).map_err(|e| errno_ctx(e, what))
}

fn bind(
    sys: &dyn Syscalls,
    src: &Path,
    root: &Root,
    dest: &Path,
    flags: MsFlags,
    propagation: &[MsFlags],
) -> Result<()> {
    let src_is_dir = match std::fs::metadata(src) {
        Ok(m) => m.is_dir(),
        Err(e) => {
            return Err(e).with_context(|| format!("bind source {}", src.display()));
        }
    };
    let target = make_target(sys, root, dest, src_is_dir)?;
    let rec = flags & MsFlags::MS_REC;
    sys.mount(
        Some(src),
        &target.path(),
        None,
        MsFlags::MS_BIND | rec,
        None,
    )
    .map_err(|e| errno_ctx(e, || "bind mount".into()))?;
    let mounted = landed(sys, root, dest, &target)?;
    let extra = flags
        - (MsFlags::MS_BIND
            | MsFlags::MS_REC
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_SHARED
            | MsFlags::MS_SLAVE
            | MsFlags::MS_PRIVATE
            | MsFlags::MS_UNBINDABLE);
    if !extra.is_empty() {
        remount(
            sys,
            &mounted.path(),
            dest,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | rec | extra,
        )?;
    }
    for p in propagation {
        sys.mount(None, &mounted.path(), None, *p, None)
            .map_err(|e| errno_ctx(e, || "setting propagation".into()))?;
    }
    Ok(())
}

/// A remount that, when refused, retries with the flags already on the mount
/// (nosuid, nodev, ... that a user namespace may not clear). `target` is
/// what mount(2) gets, `shown` what errors name.
fn remount(sys: &dyn Syscalls, target: &Path, shown: &Path, flags: MsFlags) -> Result<()> {
    match sys.mount(None, target, None, flags, None) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => {
            let locked = sys
                .locked_flags(target)
                .map_err(|e| errno_ctx(e, || format!("statvfs {}", shown.display())))?;
            sys.mount(None, target, None, flags | locked, None)
                .map_err(|e| errno_ctx(e, || format!("remounting {}", shown.display())))
        }
        Err(e) => Err(errno_ctx(e, || format!("remounting {}", shown.display()))),
    }
}

fn make_target(sys: &dyn Syscalls, root: &Root, dest: &Path, dir: bool) -> Result<Node> {
    if dir {
        sys.mkdir_in(root, dest, 0o755)
    } else {
        sys.touch_in(root, dest)
    }
    .map_err(|e| path_err(e, || format!("creating {}", dest.display())))
}

/// Path, kind, major, minor, mode, owner uid and gid.
type Device = (PathBuf, SFlag, u64, u64, u32, Option<u32>, Option<u32>);

fn create_devices(sys: &dyn Syscalls, spec: &Spec, cfg: &RootfsConfig, root: &Root) -> Result<()> {
    let mut devs: Vec<Device> = DEFAULT_DEVICES
        .iter()
        .map(|(p, maj, min)| {
            (
                PathBuf::from(p),
                SFlag::S_IFCHR,
                *maj,
                *min,
                0o666,
                None,
                None,
            )
        })
        .collect();
    if let Some(list) = spec.linux().as_ref().and_then(|l| l.devices().as_ref()) {
        for d in list {
            let kind = match d.typ() {
                LinuxDeviceType::B => SFlag::S_IFBLK,
                LinuxDeviceType::P => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            };
            let mode = d.file_mode().unwrap_or(0o666);
            let entry = (
                d.path().clone(),
                kind,
                d.major() as u64,
                d.minor() as u64,
                mode,
                d.uid(),
                d.gid(),
            );
            match devs.iter_mut().find(|x| x.0 == entry.0) {
                Some(x) => *x = entry,
                None => devs.push(entry),
            }
        }
    }
    for (path, kind, maj, min, mode, uid, gid) in devs {
        match cfg.devices {
            DeviceMode::Bind => {
                let target = make_target(sys, root, &path, false)?;
                sys.mount(Some(&path), &target.path(), None, MsFlags::MS_BIND, None)
                    .map_err(|e| {
                        errno_ctx(e, || format!("bind-mounting device {}", path.display()))
                    })?;
                landed(sys, root, &path, &target)?;
            }
            DeviceMode::Create => {
                match sys.mknod_in(
                    root,
                    &path,
                    kind,
                    mode & 0o7777,
                    nix::sys::stat::makedev(maj, min),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(path_err(e, || format!("mknod {}", path.display()))),
                }
                if uid.is_some() || gid.is_some() {
                    sys.chown_in(root, &path, uid, gid)
                        .map_err(|e| path_err(e, || format!("chown {}", path.display())))?;
                }
            }
        }
    }
    Ok(())
}

fn dev_symlinks(sys: &dyn Syscalls, root: &Root) -> Result<()> {
    let mut links = vec![
        ("pts/ptmx", "ptmx"),
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        let link = Path::new("/dev").join(name);
        match sys.symlink_in(root, Path::new(target), &link) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(path_err(e, || format!("creating /dev/{name}"))),
        }
    }
    Ok(())
}

/// Make the rootfs our `/`: pivot_root, or (for `--no-pivot`, on a ramfs
/// root where pivot_root is refused) move it over `/` and chroot.
pub fn enter(sys: &dyn Syscalls, rootfs: &Path, no_pivot: bool) -> Result<()> {
    let e = |what: &'static str| move |e: Errno| errno_ctx(e, || what.to_string());
    if no_pivot {
        sys.chdir(rootfs).map_err(e("chdir to rootfs"))?;
        sys.mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
            .map_err(e("moving the rootfs to /"))?;
        sys.chroot(Path::new(".")).map_err(e("chroot"))?;
    } else {
        // pivot_root(".", ".") stacks the old root on the new one; detaching
        // it then leaves only the new root (see pivot_root(2)).
        sys.chdir(rootfs).map_err(e("chdir to rootfs"))?;
        sys.pivot_root(Path::new("."), Path::new("."))
            .map_err(e("pivot_root"))?;
        sys.mount(
            None,
            Path::new("."),
            None,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None,
        )
        .map_err(e("making the old root a slave"))?;
        sys.umount2(Path::new("."), MntFlags::MNT_DETACH)
            .map_err(e("detaching the old root"))?;
    }
    sys.chdir(Path::new("/")).map_err(e("chdir /"))
}

/// No mount namespace of our own: the rootfs becomes our root by chroot
/// alone (runc's way); its bind mount stays where it is, in the host's
/// mount table, until delete takes it away.
pub fn enter_chroot(sys: &dyn Syscalls, rootfs: &Path) -> Result<()> {
    let e = |what: &'static str| move |e: Errno| errno_ctx(e, || what.to_string());
    sys.chdir(rootfs).map_err(e("chdir to rootfs"))?;
    sys.chroot(Path::new(".")).map_err(e("chroot"))?;
    sys.chdir(Path::new("/")).map_err(e("chdir /"))
}

/// After pivot_root: masked paths, read-only paths, a read-only root. The
/// paths resolve inside the container's own root, the final component not
/// followed: a masked or read-only path that is a symlink is refused, so it
/// can't make us mask or freeze something else.
pub fn finish(sys: &dyn Syscalls, spec: &Spec) -> Result<()> {
    let root = &sys
        .open_root(Path::new("/"))
        .map_err(|e| errno_ctx(e, || "opening /".into()))?;
    let linux = spec.linux().as_ref();
    let lookup = |p: &str, what: &str| -> Result<Option<Node>> {
        let node = sys
            .open_in(root, Path::new(p), false)
            .map_err(|e| path_err(e, || format!("{what} {p}")))?;
        match node {
            Some(n) if n.is_symlink() => Err(cannot_invoke(format!(
                "{what} {p}: it is a symbolic link; refusing to follow it"
            ))),
            n => Ok(n),
        }
    };
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        let Some(node) = lookup(p, "masking")? else {
            continue;
        };
        // runc labels the masking tmpfs too.
        let label = mount_label(spec).filter(|_| node.is_dir());
        if node.is_dir() {
            let data = label.map(context_option);
            sys.mount(
                Some(Path::new("tmpfs")),
                &node.path(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                data.as_deref(),
            )
        } else {
            sys.mount(
                Some(Path::new("/dev/null")),
                &node.path(),
                None,
                MsFlags::MS_BIND,
                None,
            )
        }
        .map_err(|e| match label {
            Some(_) => errno_ctx(e, || format!("masking {p}: {}", mount_what(label))),
            None => errno_ctx(e, || format!("masking {p}")),
        })?;
        landed(sys, root, Path::new(p), &node).with_context(|| format!("masking {p}"))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        let Some(node) = lookup(p, "making read-only")? else {
            continue;
        };
        let path = node.path();
        sys.mount(
            Some(&path),
            &path,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(|e| errno_ctx(e, || format!("making {p} read-only")))?;
        let mounted = landed(sys, root, Path::new(p), &node)
            .with_context(|| format!("making {p} read-only"))?;
        remount(
            sys,
            &mounted.path(),
            Path::new(p),
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_REC | MsFlags::MS_RDONLY,
        )
        .with_context(|| format!("making {p} read-only"))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount(
            sys,
            Path::new("/"),
            Path::new("/"),
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        )
        .context("making the root read-only")?;
    }
    Ok(())
}

/// Hostname and domain name, in the container's UTS namespace.
pub fn set_names(sys: &dyn Syscalls, spec: &Spec) -> Result<()> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sys.sethostname(h)
            .map_err(|e| errno_ctx(e, || format!("setting hostname \"{h}\"")))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys.setdomainname(d)
            .map_err(|e| errno_ctx(e, || format!("setting domain name \"{d}\"")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::runtime::Recorder;

    fn spec_from(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_options(&[
            "nosuid".into(),
            "noexec".into(),
            "mode=755".into(),
            "size=65536k".into(),
            "rbind".into(),
            "rslave".into(),
            "ro".into(),
            "rw".into(),
        ]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_BIND | MsFlags::MS_REC
        );
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(o.data, ["mode=755", "size=65536k"]);
    }

    const SPEC: &str = r#"{
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "box",
        "process": {"cwd": "/work", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "maskedPaths": ["/proc/kcore", "/proc/acpi", "/proc/absent"],
            "readonlyPaths": ["/proc/sys"]
        }
    }"#;

    #[test]
    fn rootless_prepare_orders_mounts_and_falls_back() {
        let rec = Recorder {
            // sysfs of a foreign network namespace and gid=5 are refused rootless.
            fail: vec![
                ("sysfs".into(), Errno::EPERM),
                ("gid=5".into(), Errno::EINVAL),
            ],
            ..Default::default()
        };
        let spec = spec_from(SPEC);
        let cfg = RootfsConfig {
            rootfs: Path::new("/nonexistent/r"),
            bundle: Path::new("/nonexistent"),
            devices: DeviceMode::Bind,
            host_mounts: false,
        };
        prepare(&rec, &spec, &cfg).unwrap();
        let l = rec.lines();
        let pos = |pat: &str| {
            l.iter()
                .position(|x| x.contains(pat))
                .unwrap_or_else(|| panic!("no {pat} in {l:#?}"))
        };
        assert!(
            l[0].starts_with("mount - / - MS_REC | MS_SLAVE"),
            "{}",
            l[0]
        );
        assert!(l[1].starts_with("mount /nonexistent/r /nonexistent/r - MS_BIND | MS_REC"));
        assert!(pos("/r/proc proc") < pos("/r/dev tmpfs"));
        assert!(pos("/r/dev tmpfs") < pos("/r/dev/pts devpts"));
        // devpts retried without gid=5, keeping newinstance and ptmxmode.
        assert!(l.iter().any(|x| x.contains("devpts")
            && x.contains("newinstance,ptmxmode=0666,mode=0620")
            && !x.contains("gid=5")));
        // sysfs refused: the host's /sys is bound read-only instead.
        let sys_bind = pos("mount /sys /nonexistent/r/sys - MS_BIND | MS_REC");
        assert!(l[sys_bind + 1].contains("MS_RDONLY") && l[sys_bind + 1].contains("MS_REMOUNT"));
        // Devices are bound from the host, after the /dev tmpfs.
        assert!(pos("mount /dev/null /nonexistent/r/dev/null - MS_BIND") > pos("/r/dev tmpfs"));
        assert!(pos("symlink pts/ptmx /nonexistent/r/dev/ptmx") > pos("/dev/tty"));
        assert!(pos("symlink /proc/self/fd /nonexistent/r/dev/fd") > 0);
        assert!(pos("mkdir /nonexistent/r/work") > pos("symlink /proc/self/fd/2"));
    }

    #[test]
    fn pivot_then_mask_then_readonly() {
        let rec = Recorder {
            dirs: vec!["/proc/acpi".into(), "/proc/sys".into()],
            files: vec!["/proc/kcore".into()],
            // A remount that drops locked flags is refused; the retry keeps them.
            fail: vec![(
                "MS_RDONLY | MS_REMOUNT | MS_BIND | MS_REC -".into(),
                Errno::EPERM,
            )],
            ..Default::default()
        };
        let spec = spec_from(SPEC);
        enter(&rec, Path::new("/r"), false).unwrap();
        finish(&rec, &spec).unwrap();
        set_names(&rec, &spec).unwrap();
        let l = rec.lines();
        assert_eq!(l[0], "chdir /r");
        assert_eq!(l[1], "pivot_root . .");
        assert!(l[2].starts_with("mount - . - MS_REC | MS_SLAVE"));
        assert_eq!(l[3], "umount2 . MNT_DETACH");
        assert_eq!(l[4], "chdir /");
        assert_eq!(l[5], "mount /dev/null /proc/kcore - MS_BIND -");
        assert_eq!(l[6], "mount tmpfs /proc/acpi tmpfs MS_RDONLY -");
        assert_eq!(l[7], "mount /proc/sys /proc/sys - MS_BIND | MS_REC -");
        assert!(l[8].ends_with("= EPERM"), "{}", l[8]);
        assert_eq!(l[9], "statvfs /proc/sys");
        assert!(l[10].contains("MS_NOSUID | MS_NODEV") && l[10].contains("MS_RDONLY"));
        assert!(l[11].starts_with("mount - / - MS_RDONLY | MS_REMOUNT | MS_BIND"));
        assert_eq!(l.last().unwrap(), "sethostname box");
    }

    /// linux.mountLabel as runc applies it: `context="LABEL"` on the
    /// tmpfs and devpts mounts and on a masking tmpfs, not on proc, sysfs
    /// or binds; a mount the kernel refuses it on names the field.
    #[test]
    fn the_mount_label_goes_where_runc_puts_it() {
        let mut v: serde_json::Value = serde_json::from_str(SPEC).unwrap();
        let label = "system_u:object_r:container_file_t:s0";
        v["linux"]["mountLabel"] = serde_json::json!(label);
        let spec: Spec = serde_json::from_value(v).unwrap();
        let ctx = format!("context=\"{label}\"");
        let rec = Recorder::default();
        let cfg = RootfsConfig {
            rootfs: Path::new("/nonexistent/r"),
            bundle: Path::new("/nonexistent"),
            devices: DeviceMode::Bind,
            host_mounts: false,
        };
        prepare(&rec, &spec, &cfg).unwrap();
        let l = rec.lines();
        let line = |pat: &str| l.iter().find(|x| x.contains(pat)).unwrap().clone();
        assert!(line("/r/dev tmpfs").ends_with(&format!("mode=755,size=65536k,{ctx}")));
        assert!(line("/r/dev/pts devpts").contains(&ctx));
        for other in ["/r/proc proc", "/r/sys sysfs", "mount /dev/null"] {
            assert!(!line(other).contains("context="), "{}", line(other));
        }
        let rec = Recorder {
            dirs: vec!["/proc/acpi".into()],
            files: vec!["/proc/kcore".into()],
            ..Default::default()
        };
        finish(&rec, &spec).unwrap();
        let l = rec.lines();
        assert!(
            l.contains(&format!("mount tmpfs /proc/acpi tmpfs MS_RDONLY {ctx}")),
            "{l:#?}"
        );
        assert!(l.contains(&"mount /dev/null /proc/kcore - MS_BIND -".to_string()));
        // Refused (no SELinux): the error says which field put it there.
        let rec = Recorder {
            fail: vec![("context=".into(), Errno::EINVAL)],
            ..Default::default()
        };
        let e = format!("{:#}", prepare(&rec, &spec, &cfg).unwrap_err());
        assert!(
            e.contains("on /dev")
                && e.contains("linux.mountLabel")
                && e.contains("Invalid argument"),
            "{e}"
        );
    }

    #[test]
    fn a_masked_symlink_is_refused_not_followed() {
        let rec = Recorder {
            links: vec!["/proc/kcore".into()],
            ..Default::default()
        };
        let e = finish(&rec, &spec_from(SPEC)).unwrap_err();
        assert_eq!(
            (crate::runtime::process::failed_status(&e), format!("{e:#}")),
            (
                126,
                "masking /proc/kcore: it is a symbolic link; refusing to follow it".into()
            )
        );
        assert!(rec.lines().is_empty(), "{:?}", rec.lines());
    }

    #[test]
    fn an_unresolvable_cwd_is_a_126_naming_it() {
        let rec = Recorder {
            fail: vec![("mkdir /nonexistent/r/work".into(), Errno::ELOOP)],
            ..Default::default()
        };
        let cfg = RootfsConfig {
            rootfs: Path::new("/nonexistent/r"),
            bundle: Path::new("/nonexistent"),
            devices: DeviceMode::Create,
            host_mounts: false,
        };
        let e = prepare(&rec, &spec_from(SPEC), &cfg).unwrap_err();
        assert_eq!(crate::runtime::process::failed_status(&e), 126);
        let line = format!("{e:#}");
        assert!(
            line.contains(
                "creating the working directory /work: Too many levels of symbolic links"
            ),
            "{line}"
        );
        // Devices were made with mknod in the root before that.
        assert!(rec
            .lines()
            .iter()
            .any(|l| l.starts_with("mknod /nonexistent/r/dev/null ")));
    }

    /// CVE-2021-30465: the target is swapped for a symlink to a host
    /// directory between its lookup and the mount. The mount still lands on
    /// what was looked up, and the check after it refuses to go on.
    #[test]
    fn a_target_swapped_for_a_symlink_gets_the_mount_not_the_host() {
        use crate::sys::runtime::Real;
        if !nix::unistd::geteuid().is_root() {
            panic!("this test mounts: run it as root (tests/run.sh does)");
        }
        let d = tempfile::tempdir().unwrap();
        let (root, outside) = (d.path().join("root"), d.path().join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // Our own mount namespace: this test thread's only.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap();
        let sys = Real;
        let r = sys.open_root(&root).unwrap();
        let target = sys.mkdir_in(&r, Path::new("/vol/t"), 0o755).unwrap();
        std::fs::rename(root.join("vol/t"), root.join("vol/t-was")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("vol/t")).unwrap();
        // The link resolves inside the root too, to a directory there.
        let inside = root.join(outside.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        sys.mount(
            Some(Path::new("tmpfs")),
            &target.path(),
            Some("tmpfs"),
            MsFlags::empty(),
            None,
        )
        .unwrap();
        let e = landed(&sys, &r, Path::new("/vol/t"), &target).unwrap_err();
        assert_eq!(crate::runtime::process::failed_status(&e), 126);
        assert!(
            format!("{e:#}").contains("/vol/t changed during the mount"),
            "{e:#}"
        );
        let fs_of = |p: &Path| nix::sys::statfs::statfs(p).unwrap().filesystem_type();
        assert_eq!(
            fs_of(&root.join("vol/t-was")),
            nix::sys::statfs::TMPFS_MAGIC
        );
        assert_ne!(fs_of(&outside), nix::sys::statfs::TMPFS_MAGIC);
        assert_ne!(fs_of(&inside), nix::sys::statfs::TMPFS_MAGIC);
        nix::mount::umount2(&root.join("vol/t-was"), MntFlags::MNT_DETACH).unwrap();
    }

    #[test]
    fn no_pivot_moves_and_chroots() {
        let rec = Recorder::default();
        enter(&rec, Path::new("/r"), true).unwrap();
        assert_eq!(
            rec.lines(),
            ["chdir /r", "mount /r / - MS_MOVE -", "chroot .", "chdir /"]
        );
    }
}
