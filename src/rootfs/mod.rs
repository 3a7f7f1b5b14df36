//! Container root filesystems: the image's layers as lower dirs and the
//! container's own upper dir, combined by kernel overlayfs mounted inside the
//! user namespace (Linux >= 5.11 allows it), by fuse-overlayfs where it
//! doesn't or where it is asked for, or by a plain copy (`vfs`) as the last
//! resort.
//!
//! Mounts are made in the caller's mount namespace. The monitor unshares a
//! private one per container, so a mount can't outlive its container even when
//! everything is killed with -9.

use crate::storage::{ImageRecord, Store};
use crate::sys::inroot::{clean, MAXSYMLINKS};
use anyhow::{bail, Context, Result};
use nix::mount::{MntFlags, MsFlags};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod vfs;

/// A mounted container rootfs.
#[derive(Debug)]
pub struct Mounted {
    pub merged: PathBuf,
    /// The fuse-overlayfs daemon serving the mount, if any.
    pub fuse_pid: Option<i32>,
    pub driver: Driver,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Overlay,
    FuseOverlayfs,
    Vfs,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::FuseOverlayfs => "fuse-overlayfs",
            Driver::Vfs => "vfs",
        }
    }
}

const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

/// The lower dirs of an image, topmost first, as overlayfs wants them.
fn lower_dirs(store: &Store, image: &ImageRecord) -> Result<Vec<PathBuf>> {
    image
        .layers
        .iter()
        .rev()
        .map(|l| {
            if !store.has_layer(&l.chain_id) {
                bail!(
                    "layer {} of image {} is missing from the store: pull the image again",
                    l.digest,
                    image.names.first().unwrap_or(&image.id)
                );
            }
            Ok(store.layer_dir(&l.chain_id))
        })
        .collect()
}

/// Mount the rootfs of a container made from `image` at `ctr_dir/merged`,
/// with `ctr_dir/upper` and `ctr_dir/work`. `driver` is `--storage-driver`
/// (None: kernel overlay, falling back to fuse-overlayfs).
pub fn mount(
    store: &Store,
    image: &ImageRecord,
    ctr_dir: &Path,
    driver: Option<&str>,
) -> Result<Mounted> {
    let m = mount_with(store, image, ctr_dir, driver)?;
    debug!(
        "rootfs of {} mounted with {}",
        ctr_dir.display(),
        m.driver.name()
    );
    Ok(m)
}

fn mount_with(
    store: &Store,
    image: &ImageRecord,
    ctr_dir: &Path,
    driver: Option<&str>,
) -> Result<Mounted> {
    let merged = ctr_dir.join("merged");
    let upper = ctr_dir.join("upper");
    let work = ctr_dir.join("work");
    for d in [&merged, &upper, &work] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut lowers = lower_dirs(store, image)?;
    if lowers.is_empty() {
        // overlayfs needs a lower dir even for an image with no layers.
        let empty = ctr_dir.join("empty");
        std::fs::create_dir_all(&empty)?;
        lowers.push(empty);
    }
    let chosen = match driver {
        Some("vfs") => Driver::Vfs,
        Some("fuse-overlayfs") => Driver::FuseOverlayfs,
        Some("overlay") | None => Driver::Overlay,
        Some(other) => {
            bail!("unknown storage driver \"{other}\": use overlay, fuse-overlayfs or vfs")
        }
    };
    match chosen {
        Driver::Overlay => {
            match mount_kernel_overlay(store.root(), &lowers, &upper, &work, &merged) {
                Ok(()) => Ok(Mounted {
                    merged,
                    fuse_pid: None,
                    driver: Driver::Overlay,
                }),
                Err(e) if driver.is_none() => {
                    debug!("kernel overlay failed ({e:#}), using fuse-overlayfs");
                    let pid = mount_fuse_overlayfs(&lowers, &upper, &work, &merged, ctr_dir)?;
                    Ok(Mounted {
                        merged,
                        fuse_pid: Some(pid),
                        driver: Driver::FuseOverlayfs,
                    })
                }
                Err(e) => Err(e),
            }
        }
        Driver::FuseOverlayfs => {
            let pid = mount_fuse_overlayfs(&lowers, &upper, &work, &merged, ctr_dir)?;
            Ok(Mounted {
                merged,
                fuse_pid: Some(pid),
                driver: Driver::FuseOverlayfs,
            })
        }
        Driver::Vfs => {
            let rootfs = ctr_dir.join("rootfs");
            if !rootfs.exists() {
                let mut bottom_up = lowers.clone();
                bottom_up.reverse();
                vfs::populate(&bottom_up, &rootfs, ctr_dir)?;
            }
            nix::mount::mount(
                Some(&rootfs),
                &merged,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| {
                format!("bind-mounting {} on {}", rootfs.display(), merged.display())
            })?;
            Ok(Mounted {
                merged,
                fuse_pid: None,
                driver: Driver::Vfs,
            })
        }
    }
}

/// A `--rootfs` directory as the container's root: bound on `merged`, or
/// with `overlay` (`:O`) the lower dir of a kernel overlay whose upper dir
/// is the container's, so the directory itself is never written.
pub fn mount_dir(dir: &Path, ctr_dir: &Path, overlay: bool) -> Result<Mounted> {
    let merged = ctr_dir.join("merged");
    std::fs::create_dir_all(&merged).with_context(|| format!("creating {}", merged.display()))?;
    if overlay {
        let upper = ctr_dir.join("upper");
        let work = ctr_dir.join("work");
        for d in [&upper, &work] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        mount_kernel_overlay(ctr_dir, &[dir.to_path_buf()], &upper, &work, &merged)
            .with_context(|| format!("--rootfs {}:O", dir.display()))?;
        return Ok(Mounted {
            merged,
            fuse_pid: None,
            driver: Driver::Overlay,
        });
    }
    nix::mount::mount(
        Some(dir),
        &merged,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| {
        format!(
            "--rootfs: bind-mounting {} on {}",
            dir.display(),
            merged.display()
        )
    })?;
    Ok(Mounted {
        merged,
        fuse_pid: None,
        driver: Driver::Vfs,
    })
}

/// Mount `image`'s layers read-only on `merged` (`image mount`): kernel
/// overlay with no upper dir (it wants two lower dirs at least: `empty` is
/// added under a one-layer image), else fuse-overlayfs, which daemonizes.
pub fn mount_read_only(
    store: &Store,
    image: &ImageRecord,
    merged: &Path,
    empty: &Path,
) -> Result<()> {
    let mut lowers = lower_dirs(store, image)?;
    while lowers.len() < 2 {
        std::fs::create_dir_all(empty).with_context(|| format!("creating {}", empty.display()))?;
        lowers.push(empty.to_path_buf());
    }
    let base = store.root();
    let data = format!("lowerdir={},userxattr", lowerdir_option(base, &lowers));
    if data.len() >= 4096 {
        bail!(
            "too many layers for one overlay mount ({} lower dirs)",
            lowers.len()
        );
    }
    let cwd = std::env::current_dir().ok();
    std::env::set_current_dir(base).with_context(|| format!("entering {}", base.display()))?;
    let r = nix::mount::mount(
        Some("overlay"),
        merged,
        Some("overlay"),
        MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
        Some(data.as_str()),
    );
    if let Some(cwd) = cwd {
        let _ = std::env::set_current_dir(cwd);
    }
    let Err(e) = r else { return Ok(()) };
    debug!("read-only kernel overlay failed ({e}), using fuse-overlayfs");
    let bin = crate::userns::find_tool("fuse-overlayfs").map_err(|_| {
        anyhow::anyhow!(
            "mounting kernel overlayfs on {}: {e}; fuse-overlayfs not found: install the \"fuse-overlayfs\" package",
            merged.display()
        )
    })?;
    check_dev_fuse()?;
    let opts = format!(
        "lowerdir={}",
        lowers
            .iter()
            .map(|l| escape_overlay(l))
            .collect::<Vec<_>>()
            .join(":")
    );
    let out = std::process::Command::new(&bin)
        .arg("-o")
        .arg(&opts)
        .arg(merged)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("starting {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "fuse-overlayfs could not mount {} ({}): {}",
            merged.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Escape a path for an overlay option list, where ',' ':' and '\' are special.
fn escape_overlay(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The lowerdir list relative to `base` where possible: mount options are
/// limited to one page, and relative paths keep images with many layers under it.
fn lowerdir_option(base: &Path, lowers: &[PathBuf]) -> String {
    lowers
        .iter()
        .map(|l| escape_overlay(l.strip_prefix(base).unwrap_or(l)))
        .collect::<Vec<_>>()
        .join(":")
}

fn mount_kernel_overlay(
    base: &Path,
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
) -> Result<()> {
    let data = format!(
        "lowerdir={},upperdir={},workdir={},userxattr",
        lowerdir_option(base, lowers),
        escape_overlay(upper),
        escape_overlay(work)
    );
    if data.len() >= 4096 {
        bail!(
            "too many layers for one overlay mount ({} lower dirs)",
            lowers.len()
        );
    }
    // The relative lower dirs are resolved against the cwd at mount time.
    let cwd = std::env::current_dir().ok();
    std::env::set_current_dir(base).with_context(|| format!("entering {}", base.display()))?;
    let r = nix::mount::mount(
        Some("overlay"),
        merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    );
    if let Some(cwd) = cwd {
        let _ = std::env::set_current_dir(cwd);
    }
    r.with_context(|| format!("mounting kernel overlayfs on {}", merged.display()))
}

/// Fail early, naming the device, when /dev/fuse can't be used.
pub fn check_dev_fuse() -> Result<()> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map(drop)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open /dev/fuse: {e}: fuse-overlayfs needs /dev/fuse to be readable and writable \
                 by you (as root: chmod 0666 /dev/fuse), or use --storage-driver overlay or vfs"
            )
        })
}

fn mount_fuse_overlayfs(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
    ctr_dir: &Path,
) -> Result<i32> {
    let bin = crate::userns::find_tool("fuse-overlayfs").map_err(|_| {
        anyhow::anyhow!("fuse-overlayfs not found: install the \"fuse-overlayfs\" package")
    })?;
    check_dev_fuse()?;
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers
            .iter()
            .map(|l| escape_overlay(l))
            .collect::<Vec<_>>()
            .join(":"),
        escape_overlay(upper),
        escape_overlay(work)
    );
    let log_path = ctr_dir.join("fuse-overlayfs.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut child = std::process::Command::new(&bin)
        .arg("-f")
        .arg("-o")
        .arg(&opts)
        .arg(merged)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(st) = nix::sys::statfs::statfs(merged) {
            if st.filesystem_type().0 == FUSE_SUPER_MAGIC {
                return Ok(child.id() as i32);
            }
        }
        if let Some(status) = child.try_wait()? {
            let msg = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!(
                "fuse-overlayfs exited ({status}) before mounting {}: {}",
                merged.display(),
                msg.trim()
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "fuse-overlayfs did not mount {} within 10 s",
                merged.display()
            );
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Unmount a container's rootfs (lazily: processes may still hold it). Not
/// being mounted is fine. A fuse-overlayfs daemon exits once unmounted.
/// EPERM means the mount namespace isn't ours (the host's, seen from rpod's
/// user namespace), where rpod never mounts: nothing of ours is there.
pub fn unmount(ctr_dir: &Path) -> Result<()> {
    let merged = ctr_dir.join("merged");
    match nix::mount::umount2(&merged, MntFlags::MNT_DETACH) {
        Ok(())
        | Err(nix::errno::Errno::EINVAL)
        | Err(nix::errno::Errno::ENOENT)
        | Err(nix::errno::Errno::EPERM) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("unmounting {}", merged.display())),
    }
}

fn is_whiteout(m: &std::fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    matches!(xattr_get(dir, "user.overlay.opaque"), Some(v) if v == b"y")
}

fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    crate::sys::xattr::lget(path, name).ok().flatten()
}

/// Read a file of the image (e.g. /etc/passwd) straight from its layers,
/// honouring whiteouts and opaque dirs. None when the image has no such file.
///
/// Symlinks are resolved inside the image, across its layers (at most
/// [`MAXSYMLINKS`]), never by the host's file system: an image whose /etc
/// points at a host directory must not make us read the host's files.
pub fn read_image_file(store: &Store, image: &ImageRecord, path: &str) -> Result<Option<Vec<u8>>> {
    let dirs: Vec<PathBuf> = image
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_dir(&l.chain_id))
        .collect();
    let found = find_in_layers(&dirs, Path::new(path))
        .with_context(|| format!("reading {path} of the image"))?;
    match found {
        Some(file) => {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&file)
                .with_context(|| format!("reading {path} of the image"))?;
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut &f, &mut data)
                .with_context(|| format!("reading {path} of the image"))?;
            Ok(Some(data))
        }
        None => Ok(None),
    }
}

/// The regular file `path` names in the image whose layer dirs are `dirs`
/// (top first), every component looked at with lstat, so nothing on the way
/// is followed on the host.
fn find_in_layers(dirs: &[PathBuf], path: &Path) -> Result<Option<PathBuf>> {
    let mut parts = clean(path);
    let mut links = 0;
    'resolve: loop {
        'layers: for dir in dirs {
            let mut cur = dir.clone();
            // An opaque dir of this layer on the way hides the lower layers.
            let mut opaque = false;
            for (i, comp) in parts.iter().enumerate() {
                cur.push(comp);
                let last = i + 1 == parts.len();
                // Every earlier component is a real directory of this layer,
                // so this lstat follows nothing.
                let m = match std::fs::symlink_metadata(&cur) {
                    Ok(m) => m,
                    Err(_) if opaque => return Ok(None),
                    Err(_) => continue 'layers,
                };
                if is_whiteout(&m) {
                    return Ok(None);
                }
                if m.file_type().is_symlink() {
                    links += 1;
                    if links > MAXSYMLINKS {
                        return Ok(None);
                    }
                    // The link's directory, then its target (an absolute
                    // one replaces it), then the rest: cleaned, so `..`
                    // never climbs above the image's root.
                    let mut next: PathBuf = parts[..i].iter().collect();
                    next.push(std::fs::read_link(&cur)?);
                    next.extend(&parts[i + 1..]);
                    parts = clean(&next);
                    continue 'resolve;
                }
                if last {
                    return Ok(m.is_file().then_some(cur));
                }
                if !m.is_dir() {
                    return Ok(None);
                }
                opaque |= is_opaque(&cur);
            }
            // The path named a directory.
            return Ok(None);
        }
        return Ok(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_files_resolve_symlinks_inside_the_image() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("host");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("passwd"), "evil:x:4242:4242::/:/bin/sh\n").unwrap();
        let (top, low) = (d.path().join("top"), d.path().join("low"));
        for l in [&top, &low] {
            std::fs::create_dir_all(l.join("etc")).unwrap();
        }
        std::fs::create_dir_all(low.join("usr/lib")).unwrap();
        std::fs::write(low.join("usr/lib/group"), "g").unwrap();
        std::fs::write(low.join("etc/shadow"), "s").unwrap();
        // A relative link in the top layer to a file in the lower one, an
        // absolute link to a host file, and a link loop.
        symlink("../usr/lib/group", top.join("etc/group")).unwrap();
        symlink(host.join("passwd"), top.join("etc/passwd")).unwrap();
        symlink("loop", top.join("etc/loop")).unwrap();
        let dirs = [top.clone(), low.clone()];
        let find = |p: &str| find_in_layers(&dirs, Path::new(p)).unwrap();
        assert_eq!(find("/etc/group"), Some(low.join("usr/lib/group")));
        assert_eq!(find("/etc/shadow"), Some(low.join("etc/shadow")));
        assert_eq!(find("/etc/passwd"), None);
        assert_eq!(find("/etc/loop"), None);
        assert_eq!(find("/etc"), None);
        // The whole of /etc linked to the host: nothing is read there.
        std::fs::remove_dir_all(top.join("etc")).unwrap();
        symlink(&host, top.join("etc")).unwrap();
        assert_eq!(find("/etc/passwd"), None);
        assert_eq!(find("/etc/shadow"), None);
    }

    #[test]
    fn overlay_options_escape_separators() {
        assert_eq!(escape_overlay(Path::new("/a,b:c\\d")), "/a\\,b\\:c\\\\d");
    }

    #[test]
    fn lower_dirs_are_relative_to_the_store() {
        let base = Path::new("/s");
        let l = [
            PathBuf::from("/s/layers/b/diff"),
            PathBuf::from("/s/layers/a/diff"),
            PathBuf::from("/x/y"),
        ];
        assert_eq!(
            lowerdir_option(base, &l),
            "layers/b/diff:layers/a/diff:/x/y"
        );
    }
}
