//! `system reset`: stop and remove every container, then delete the store
//! (images, layers, blobs, volumes, container files, rpod's caches such as
//! the containers' size records) and the runtime dir. Nothing else: the
//! user's containers.conf, registries.conf, auth.json and podman's storage
//! stay. The caller is in rpod's user namespace (layers belong to subuids).

use crate::container::ops::{self, RmOptions, Selection};
use crate::container::record::Paths;
use crate::storage::Store;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// What `reset` removed: the containers (ids) and the directories.
#[derive(Debug, Default)]
pub struct ResetReport {
    pub containers: Vec<String>,
    pub removed_dirs: Vec<PathBuf>,
    /// Containers that would not go (their error); the store is removed anyway.
    pub errors: Vec<anyhow::Error>,
}

/// Directories a reset must never delete even when `--root`/`--runroot`
/// point at them: `/`, the home and config dirs, or a dir holding them.
fn refuse_dangerous(dir: &Path) -> Result<()> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut precious: Vec<PathBuf> = vec![PathBuf::from("/")];
    precious.extend(crate::xdg::home());
    precious.extend(crate::xdg::config_home());
    precious.extend(crate::xdg::runtime_dir());
    for p in precious {
        if p.starts_with(&dir) {
            bail!(
                "refusing to remove {}: it is or holds {}; point --root/--runroot at rpod's own directories",
                dir.display(),
                p.display()
            );
        }
    }
    Ok(())
}

/// Remove everything rpod owns; see the module doc.
pub fn reset(store: &Store, paths: &Paths) -> Result<ResetReport> {
    refuse_dangerous(store.root())?;
    refuse_dangerous(store.runroot())?;
    let mut report = ResetReport::default();
    let sel = Selection {
        all: true,
        ignore: true,
        ..Default::default()
    };
    // Other fields (anonymous volumes) go with the store anyway.
    #[allow(clippy::needless_update)]
    let o = RmOptions {
        force: true,
        timeout: None,
        ..Default::default()
    };
    for r in ops::rm(paths, &sel, o)? {
        match r {
            Ok(t) => report.containers.push(t.id),
            Err(e) => report.errors.push(e),
        }
    }
    // The rootless network namespace goes now (not after its linger, nor
    // after the monitors of the containers just removed finish their
    // teardowns): its helpers must not outlive the runtime dir.
    crate::network::rootless::stop_now(paths);
    // Image records first, so a reset cut short never leaves images
    // whose layers are gone.
    for d in [
        store.root().join("images"),
        store.root().join("containers"),
        store.root().to_path_buf(),
        store.runroot().to_path_buf(),
    ] {
        match std::fs::symlink_metadata(&d) {
            Ok(_) => {
                crate::storage::remove_tree(&d)
                    .with_context(|| format!("removing {}", d.display()))?;
                if d == store.root() || d == store.runroot() {
                    report.removed_dirs.push(d);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("checking {}", d.display())),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_and_root_are_never_reset() {
        assert!(refuse_dangerous(Path::new("/")).is_err());
        if let Some(h) = crate::xdg::home() {
            assert!(refuse_dangerous(&h).is_err());
            assert!(refuse_dangerous(&h.join(".local/share/rpod")).is_ok());
        }
    }
}
