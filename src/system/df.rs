//! `system df`: what images, containers and volumes take on disk, from what
//! the store recorded (image and layer sizes) and, for a container's own
//! changes, a walk of its upper dir whose result is cached beside the
//! container while it does not run.

use crate::container::record::{self, Paths, Status};
use crate::storage::{ImageRecord, Store};
use anyhow::Result;
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::Path;

/// One image's line of `system df -v`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageUsage {
    pub id: String,
    /// "reg/repo" and tag of its first name; "<none>" for a dangling image.
    pub repository: String,
    pub tag: String,
    /// Epoch seconds of the image's creation (else of its pull).
    pub created: i64,
    /// Its recorded size (the unpacked size of its layers, as `images` shows).
    pub size: u64,
    /// The part of `size` in layers other images use too.
    pub shared_size: u64,
    /// `size` less `shared_size`.
    pub unique_size: u64,
    /// How many containers use it.
    pub containers: usize,
}

/// One container's line of `system df -v`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUsage {
    pub id: String,
    pub image_id: String,
    pub command: Vec<String>,
    pub local_volumes: usize,
    /// Bytes of what the container changed (its upper dir).
    pub rw_size: u64,
    /// Epoch nanoseconds.
    pub created: i64,
    pub status: Status,
    pub name: String,
}

/// One volume's line of `system df -v`.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeUsage {
    pub name: String,
    /// Containers that use it.
    pub links: usize,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

impl DiskUsage {
    /// podman 4.3's summary line for images: (total, active, size, reclaimable),
    /// where size sums every image's size and reclaimable those no container uses.
    pub fn images_summary(&self) -> (usize, usize, u64, u64) {
        let active = self.images.iter().filter(|i| i.containers > 0).count();
        let size = self.images.iter().map(|i| i.size).sum();
        let reclaimable = self
            .images
            .iter()
            .filter(|i| i.containers == 0)
            .map(|i| i.size)
            .sum();
        (self.images.len(), active, size, reclaimable)
    }

    /// Containers: active are the running ones; the others' changes are reclaimable.
    pub fn containers_summary(&self) -> (usize, usize, u64, u64) {
        let running = |c: &&ContainerUsage| matches!(c.status, Status::Running | Status::Stopping);
        let active = self.containers.iter().filter(running).count();
        let size = self.containers.iter().map(|c| c.rw_size).sum();
        let reclaimable = self
            .containers
            .iter()
            .filter(|c| !running(c))
            .map(|c| c.rw_size)
            .sum();
        (self.containers.len(), active, size, reclaimable)
    }

    /// Volumes: active sums their links (podman's way); unused ones are reclaimable.
    pub fn volumes_summary(&self) -> (usize, usize, u64, u64) {
        let active = self.volumes.iter().map(|v| v.links).sum();
        let size = self.volumes.iter().map(|v| v.size).sum();
        let reclaimable = self
            .volumes
            .iter()
            .filter(|v| v.links == 0)
            .map(|v| v.size)
            .sum();
        (self.volumes.len(), active, size, reclaimable)
    }
}

/// "reg/repo" and tag of a stored "reg/repo:tag" name.
pub fn split_name(name: &str) -> (String, String) {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => (
            name[..slash + i].to_string(),
            name[slash + i + 1..].to_string(),
        ),
        None => (name.to_string(), "<none>".to_string()),
    }
}

/// What the store holds and uses. `verbose` adds what only `-v` shows
/// (each image's shared size, which reads the layers' records).
pub fn disk_usage(store: &Store, paths: &Paths, verbose: bool) -> Result<DiskUsage> {
    let images = store.images()?;
    let used = store.containers_by_image();
    let layer_users = if verbose {
        layer_users(&images)
    } else {
        HashMap::new()
    };
    let mut out = DiskUsage::default();
    for r in &images {
        let (repository, tag) = r
            .names
            .first()
            .map(|n| split_name(n))
            .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
        let shared_size: u64 = if verbose {
            r.layers
                .iter()
                .filter(|l| layer_users.get(&text(&l.chain_id)).copied().unwrap_or(0) > 1)
                .map(|l| {
                    store
                        .layer_info(&l.chain_id)
                        .map(|i| i.uncompressed_size)
                        .unwrap_or(l.size)
                })
                .sum::<u64>()
                .min(r.size)
        } else {
            0
        };
        out.images.push(ImageUsage {
            id: r.id.clone(),
            repository,
            tag,
            created: crate::image::created_secs(r),
            size: r.size,
            shared_size,
            unique_size: r.size - shared_size,
            containers: used.get(&r.id).map(Vec::len).unwrap_or(0),
        });
    }
    out.images
        .sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    for (id, rec) in crate::container::lifecycle::all_ids(paths)? {
        let st = record::observe(paths, &id);
        let rw_size = rw_size(paths, &id, &st);
        out.containers.push(ContainerUsage {
            local_volumes: rec.mounts.iter().filter(|m| m.kind == "volume").count(),
            image_id: rec.image_id.clone(),
            command: rec.command.clone(),
            rw_size,
            created: rec.created,
            status: st.status,
            name: rec.name.clone(),
            id,
        });
    }
    out.volumes = volume_usage(store);
    Ok(out)
}

/// Each volume: the containers that use it, and the bytes in it.
fn volume_usage(store: &Store) -> Vec<VolumeUsage> {
    let vols = crate::volume::Volumes::new(store);
    let users = vols.users_all();
    vols.list()
        .unwrap_or_default()
        .into_iter()
        .map(|v| VolumeUsage {
            links: users.get(&v.name).map(Vec::len).unwrap_or(0),
            size: tree_size(&vols.mountpoint(&v.name)).0,
            name: v.name,
        })
        .collect()
}

/// A digest as text, whether the store keeps it as a String or a typed Digest.
fn text(d: &impl std::fmt::Display) -> String {
    d.to_string()
}

/// How many images use each layer (by chain id).
fn layer_users(images: &[ImageRecord]) -> HashMap<String, usize> {
    let mut m: HashMap<String, usize> = HashMap::new();
    for r in images {
        for l in &r.layers {
            *m.entry(text(&l.chain_id)).or_default() += 1;
        }
    }
    m
}

/// The cache of a stopped container's size: valid while its state's key
/// (status and start/finish times) is the same.
#[derive(serde::Serialize, serde::Deserialize)]
struct SizeCache {
    key: String,
    size: u64,
}

const SIZE_CACHE: &str = "rwsize.json";

/// The bytes a container changed: the sizes of everything but directories
/// in its upper dir (podman counts symlinks' lengths too), or of its whole
/// rootfs with the vfs driver. A stopped container's size is cached.
pub fn rw_size(paths: &Paths, id: &str, st: &record::State) -> u64 {
    let dir = paths.ctr_dir(id);
    let key = format!(
        "{}:{}:{}",
        st.status.as_str(),
        st.started_at,
        st.finished_at
    );
    let cacheable = !st.is_running();
    if cacheable {
        if let Some(c) = std::fs::read(dir.join(SIZE_CACHE))
            .ok()
            .and_then(|b| serde_json::from_slice::<SizeCache>(&b).ok())
        {
            if c.key == key {
                return c.size;
            }
        }
    }
    let upper = dir.join("upper");
    let top = if upper.is_dir() {
        upper
    } else {
        dir.join("rootfs")
    };
    let (size, complete) = tree_size(&top);
    // A size that misses what we could not read (outside the user
    // namespace, a subuid's private dir) is not worth keeping.
    if cacheable && complete && record::exists(paths, id) {
        if let Ok(b) = serde_json::to_vec(&SizeCache { key, size }) {
            let _ = crate::storage::write_atomic_volatile(&dir.join(SIZE_CACHE), &b);
        }
    }
    size
}

/// Bytes of every non-directory under `top`, walked through directory fds
/// without following symlinks (the tree is the container's). What we may
/// not read (a subuid's private dir) is left out, and then `complete` is
/// false: (bytes, complete).
pub fn tree_size(top: &Path) -> (u64, bool) {
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    let Ok(d) = nix::dir::Dir::open(
        top,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return (0, !top.exists());
    };
    let mut complete = true;
    let n = dir_size(d, 0, &mut complete);
    (n, complete)
}

/// Deeper than this is counted as nothing (each level holds an fd).
const MAX_DEPTH: usize = 128;

fn dir_size(mut d: nix::dir::Dir, depth: usize, complete: &mut bool) -> u64 {
    use nix::fcntl::{AtFlags, OFlag};
    use nix::sys::stat::{fstatat, Mode, SFlag};
    let fd = d.as_raw_fd();
    let mut subdirs = Vec::new();
    let mut total = 0u64;
    for e in d.iter() {
        let Ok(e) = e else {
            *complete = false;
            break;
        };
        let name = e.file_name();
        let b = name.to_bytes();
        if b == b"." || b == b".." {
            continue;
        }
        let Ok(st) = fstatat(Some(fd), name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
            *complete = false;
            continue;
        };
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            subdirs.push(name.to_owned());
        } else {
            total += st.st_size.max(0) as u64;
        }
    }
    if depth >= MAX_DEPTH {
        *complete &= subdirs.is_empty();
        return total;
    }
    for name in subdirs {
        match nix::dir::Dir::openat(
            Some(fd),
            name.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(sub) => total += dir_size(sub, depth + 1, complete),
            Err(_) => *complete = false,
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_size_counts_files_and_links_not_dirs() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("upper");
        std::fs::create_dir_all(top.join("dir/sub")).unwrap();
        std::fs::write(top.join("abc"), b"abc").unwrap();
        std::fs::write(top.join("dir/sub/f"), b"hello").unwrap();
        std::os::unix::fs::symlink("target12", top.join("link")).unwrap();
        // A link to a big file outside counts as its own length only.
        std::fs::write(d.path().join("big"), vec![0u8; 4096]).unwrap();
        std::os::unix::fs::symlink(d.path().join("big"), top.join("dir/out")).unwrap();
        let out_len = d.path().join("big").as_os_str().len() as u64;
        assert_eq!(tree_size(&top), (3 + 5 + 8 + out_len, true));
        assert_eq!(tree_size(&d.path().join("missing")), (0, true));
    }

    #[test]
    fn names_split_into_repository_and_tag() {
        assert_eq!(
            split_name("localhost:5000/alpine:latest"),
            ("localhost:5000/alpine".into(), "latest".into())
        );
        assert_eq!(
            split_name("localhost:5000/alpine"),
            ("localhost:5000/alpine".into(), "<none>".into())
        );
    }
}
