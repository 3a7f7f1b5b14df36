//! The `vfs` driver: a plain copy of the layers, bottom up, with whiteouts
//! and opaque dirs applied. Slow and space-hungry; the last resort where no
//! overlay works.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Build `rootfs` from `layers` (bottom first). Built under a temporary name
/// and renamed, so a crash never leaves a half rootfs that looks complete.
pub(super) fn populate(layers: &[PathBuf], rootfs: &Path, ctr_dir: &Path) -> Result<()> {
    let tmp = ctr_dir.join("rootfs.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp)?;
    for layer in layers {
        let mut links = HashMap::new();
        apply(layer, &tmp, &mut links)
            .with_context(|| format!("copying layer {}", layer.display()))?;
    }
    std::fs::rename(&tmp, rootfs).with_context(|| format!("renaming {} into place", tmp.display()))
}

fn remove_any(p: &Path) -> Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p)?,
        Ok(_) => std::fs::remove_file(p)?,
        Err(_) => {}
    }
    Ok(())
}

fn apply(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    if super::is_opaque(src) {
        for e in std::fs::read_dir(dst)? {
            remove_any(&e?.path())?;
        }
    }
    for e in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let e = e?;
        let from = e.path();
        let to = dst.join(e.file_name());
        let m = std::fs::symlink_metadata(&from)?;
        if super::is_whiteout(&m) {
            remove_any(&to)?;
            continue;
        }
        if m.is_dir() {
            if !std::fs::symlink_metadata(&to)
                .map(|t| t.is_dir())
                .unwrap_or(false)
            {
                remove_any(&to)?;
                std::fs::create_dir(&to)?;
            }
            apply(&from, &to, links)?;
        } else {
            remove_any(&to)?;
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    std::fs::hard_link(first, &to)?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), to.clone());
            }
            if m.file_type().is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
            } else if m.is_file() {
                std::fs::copy(&from, &to)?;
            } else {
                debug!("vfs: skipping special file {}", from.display());
                continue;
            }
        }
        std::os::unix::fs::lchown(&to, Some(m.uid()), Some(m.gid()))
            .with_context(|| format!("chown {}", to.display()))?;
        if !m.file_type().is_symlink() {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
        for name in crate::sys::xattr::llist(&from).unwrap_or_default() {
            if name.starts_with("user.") && name != "user.overlay.opaque" {
                if let Ok(Some(v)) = crate::sys::xattr::lget(&from, &name) {
                    let _ = crate::sys::xattr::lset(&to, &name, &v);
                }
            }
        }
    }
    Ok(())
}
