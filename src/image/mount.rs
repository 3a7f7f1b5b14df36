//! `image mount` and `image unmount`: an image's layers mounted read-only
//! in the caller's mount namespace (inside `rpod unshare`, as podman wants
//! it), at `ROOT/image-mounts/ID/merged`.
//!
//! podman counts mounts in its store; rpod keeps no process to hold a mount
//! namespace, so a count on disk would outlive the namespace it counts.
//! The count is the mount table's instead: a second `image mount` stacks a
//! bind mount on the first, `image unmount` takes the top one off (`-f`:
//! all), and the mount point's dirs go with the last.

use crate::storage::{ImageRecord, Store};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// An image mounted in this mount namespace.
#[derive(Debug, Clone)]
pub struct MountedImage {
    pub image: ImageRecord,
    pub mountpoint: PathBuf,
    /// How many times it is mounted (stacked mounts).
    pub count: usize,
}

fn dir_of(store: &Store, id: &str) -> PathBuf {
    store.root().join("image-mounts").join(id)
}

/// The mount point of image `id` (whether mounted or not).
pub fn mountpoint(store: &Store, id: &str) -> PathBuf {
    dir_of(store, id).join("merged")
}

/// A path as /proc/self/mountinfo writes it (space, tab, newline and
/// backslash octal-escaped).
fn mountinfo_escape(p: &Path) -> String {
    let mut out = String::new();
    for c in p.to_string_lossy().chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// How many mounts sit on `p` in this mount namespace.
fn mount_count(mountinfo: &str, p: &Path) -> usize {
    let want = mountinfo_escape(p);
    mountinfo
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(want.as_str()))
        .count()
}

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
}

/// The images mounted in this mount namespace, in `images` order.
pub fn mounted(store: &Store) -> Result<Vec<MountedImage>> {
    let info = mountinfo();
    let mut out = Vec::new();
    for image in store.images()? {
        let mp = mountpoint(store, &image.id);
        let count = mount_count(&info, &mp);
        if count > 0 {
            out.push(MountedImage {
                image,
                mountpoint: mp,
                count,
            });
        }
    }
    Ok(out)
}

/// Mount image `name` read-only (again: one more on the stack); its mount
/// point. The caller is root in rpod's user namespace, in a mount
/// namespace of its own (`rpod unshare`).
pub fn mount(store: &Store, name: &str) -> Result<PathBuf> {
    let image = super::find_image(store, name)?;
    let mp = mountpoint(store, &image.id);
    let what = || format!("mounting image {name}");
    std::fs::create_dir_all(&mp)
        .with_context(|| format!("creating {}", mp.display()))
        .with_context(what)?;
    if mount_count(&mountinfo(), &mp) > 0 {
        nix::mount::mount(
            Some(&mp),
            &mp,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind-mounting {} again", mp.display()))
        .with_context(what)?;
        return Ok(mp);
    }
    let empty = dir_of(store, &image.id).join("empty");
    crate::rootfs::mount_read_only(store, &image, &mp, &empty).with_context(what)?;
    Ok(mp)
}

/// Unmount image `name` once (`force`: every mount of it); its id, or None
/// when it was not mounted (nothing to do, as podman).
pub fn unmount(store: &Store, name: &str, force: bool) -> Result<Option<String>> {
    let image = super::find_image(store, name)?;
    unmount_id(store, &image.id, force)
}

fn unmount_id(store: &Store, id: &str, force: bool) -> Result<Option<String>> {
    let mp = mountpoint(store, id);
    let mut n = mount_count(&mountinfo(), &mp);
    if n == 0 {
        return Ok(None);
    }
    while n > 0 {
        nix::mount::umount2(&mp, nix::mount::MntFlags::MNT_DETACH)
            .with_context(|| format!("unmounting image {id} from {}", mp.display()))?;
        n -= 1;
        if !force {
            break;
        }
    }
    if mount_count(&mountinfo(), &mp) == 0 {
        // Mounted elsewhere (another `rpod unshare`): then the dirs stay.
        let dir = dir_of(store, id);
        let _ = std::fs::remove_dir(&mp);
        let _ = std::fs::remove_dir(dir.join("empty"));
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(Some(id.to_string()))
}

/// Unmount every image mounted here (`--all`: each as often as it is
/// mounted, as podman's `--all` forces); their ids.
pub fn unmount_all(store: &Store) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for m in mounted(store)? {
        if let Some(id) = unmount_id(store, &m.image.id, true)? {
            out.push(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_counted_by_their_escaped_mount_point() {
        let info = "36 35 0:31 / /a\\040b rw - tmpfs tmpfs rw\n\
                    37 36 0:32 / /a\\040b ro - overlay overlay ro\n\
                    38 35 0:33 / /a ro - overlay overlay ro\n";
        assert_eq!(mount_count(info, Path::new("/a b")), 2);
        assert_eq!(mount_count(info, Path::new("/a")), 1);
        assert_eq!(mount_count(info, Path::new("/b")), 0);
    }
}
