//! The local store: content-addressed blobs, unpacked layers keyed by chain
//! id, and image records, all under one root directory.
//!
//! ```text
//! ROOT/                       $XDG_DATA_HOME/rpod, or --root
//!   storage.lock              flock: image records and their names
//!   gc.lock                   flock: shared while a pull or container uses layers
//!   blobs/sha256/<hex>        manifests, configs and compressed layers, verified on write
//!   layers/<chainhex>/diff    an unpacked layer, usable as an overlay lower dir
//!   layers/<chainhex>/layer.json
//!   layers/<chainhex>/tar-split.json.gz  the layer's tar headers, to give its exact tar back
//!   images/<id>.json          one record per image (id = hex of the config digest)
//!   images/removed/<id>.json  records removed with `rmi -f` while containers still use them
//!   locks/                    per-layer unpack locks
//!   tmp/                      work in progress; each entry is flocked by its writer
//! ```
//!
//! Everything becomes visible by a rename, so a reader never sees half a
//! blob, layer or record, and `kill -9` at any point leaves only entries in
//! tmp/, which the next `Store::open` removes once no live process holds them.

mod atomic;
mod blobs;
pub mod conf;
pub mod diff;
mod images;
mod layers;
mod lock;
mod tarsplit;
mod unpack;

pub use atomic::{write_atomic, write_atomic_mode, write_atomic_volatile};
pub use blobs::BlobWriter;
pub use images::{ImageRecord, LayerRecord};
pub use layers::LayerInfo;
pub use lock::Lock;
pub use tarsplit::{SplitPart, TarSplit};
/// The hardened tar extractor, for archives that are not layers (volume import).
pub(crate) use unpack::extract as unpack_tar;
pub use unpack::{
    decompressor, extract_plain, extract_plain_fed, human_size, map_id, LayerLimits, PlainOpts,
    MAX_LAYER_SIZE_VAR,
};

use anyhow::{bail, Context, Result};
use sha2::{Digest as _, Sha256};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    runroot: PathBuf,
    /// `--volumepath` (None: `<root>/volumes`).
    volume_path: Option<PathBuf>,
}

pub use oci_spec::image::Digest;

/// A digest from outside (a registry, a record on disk, the user), checked
/// once: "ALGORITHM:ENCODED" as the OCI image spec defines it, with the
/// exact length of lowercase hex for the sha2 family.
pub fn parse_digest(s: &str) -> Result<Digest> {
    Digest::try_from(s).map_err(|e| anyhow::anyhow!("invalid digest {s:?}: {e}"))
}

/// The hex part of a sha256 digest, or an error naming it: the store keeps
/// nothing else.
pub fn digest_hex(digest: &Digest) -> Result<&str> {
    if *digest.algorithm() != oci_spec::image::DigestAlgorithm::Sha256 {
        bail!(
            "unsupported digest algorithm {:?} in {digest}: only sha256 is supported",
            digest.algorithm().as_ref()
        );
    }
    // Digest guarantees 64 lowercase hex digits for sha256.
    Ok(digest.digest())
}

pub(crate) fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The sha256 digest whose hex is `hex` (64 lowercase hex digits).
pub fn sha256_from_hex(hex: &str) -> Result<Digest> {
    if !is_hex64(hex) {
        bail!("invalid sha256 {hex:?}: expected 64 lowercase hex digits");
    }
    parse_digest(&format!("sha256:{hex}"))
}

/// The digest of what `hasher` has seen (and resets it).
pub fn sha256_finish(hasher: &mut Sha256) -> Digest {
    sha256_from_hex(&hex::encode(hasher.finalize_reset())).expect("sha256 hex is a digest")
}

/// The sha256 digest of `data`.
pub fn sha256_digest(data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(data);
    sha256_finish(&mut h)
}

/// OCI chain ids: ChainID(L0) = DiffID(L0), ChainID(Ln) =
/// sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        out.push(chain_id(out.last(), d));
    }
    out
}

/// The chain id of a layer with `diff_id` on top of `parent`.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => sha256_digest(format!("{p} {diff_id}").as_bytes()),
    }
}

/// The store root when --root isn't given: $XDG_DATA_HOME/rpod, else
/// ~/.local/share/rpod.
pub fn default_root() -> Result<PathBuf> {
    // No password-database fallback here: inside rpod's user namespace we
    // are uid 0, and the store must be the same path inside and out.
    if let Some(x) = crate::xdg::var("XDG_DATA_HOME") {
        return Ok(x.join("rpod"));
    }
    let home = crate::xdg::var("HOME").context(
        "neither XDG_DATA_HOME nor HOME is set: cannot choose a storage root (use --root)",
    )?;
    Ok(home.join(".local/share/rpod"))
}

/// The runtime dir when --runroot isn't given: $XDG_RUNTIME_DIR/rpod; without
/// XDG_RUNTIME_DIR, /run/user/UID/rpod when that dir is ours (as podman
/// does), else /tmp/rpod-run-UID, which must be ours and private.
pub fn default_runroot() -> Result<PathBuf> {
    if let Some(x) = crate::xdg::runtime_dir() {
        return Ok(x.join("rpod"));
    }
    let uid = host_uid();
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if fs::metadata(&run_user)
        .map(|m| m.is_dir() && m.uid() == uid)
        .unwrap_or(false)
    {
        return Ok(run_user.join("rpod"));
    }
    let tmp = PathBuf::from(format!("/tmp/rpod-run-{uid}"));
    match fs::DirBuilder::new().mode(0o700).create(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", tmp.display())),
    }
    // Someone else may have made it first to catch our files.
    let m = fs::symlink_metadata(&tmp).with_context(|| format!("checking {}", tmp.display()))?;
    let me = nix::unistd::getuid().as_raw();
    if !m.is_dir() || m.uid() != me || m.mode() & 0o077 != 0 {
        bail!(
            "{} is not a private directory owned by uid {uid}: set XDG_RUNTIME_DIR to a 0700 directory you own",
            tmp.display()
        );
    }
    Ok(tmp)
}

/// Our uid as the host sees it: inside rpod's user namespace we are 0, but
/// the runroot fallback must be the same path inside and out.
fn host_uid() -> u32 {
    let uid = nix::unistd::getuid().as_raw();
    std::fs::read_to_string("/proc/self/uid_map")
        .ok()
        .and_then(|m| host_id_of(&m, uid))
        .unwrap_or(uid)
}

/// The outside id of `inside` in a uid_map's "inside outside count" lines.
fn host_id_of(map: &str, inside: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let v: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        match v[..] {
            [i, o, n] if (inside as u64) >= i && (inside as u64) < i + n => {
                Some((o + inside as u64 - i) as u32)
            }
            _ => None,
        }
    })
}

fn mkdir_private(p: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .with_context(|| format!("creating {}", p.display()))
}

impl Store {
    /// Open (creating if needed) the store of `--root`/`--runroot` or the
    /// defaults, and clear out work that a killed process left in tmp/.
    pub fn open(g: &crate::options::Options) -> Result<Store> {
        let root = match &g.root {
            Some(r) => std::path::absolute(r).with_context(|| format!("--root {}", r.display()))?,
            None => default_root()?,
        };
        let runroot = match &g.runroot {
            Some(r) => {
                std::path::absolute(r).with_context(|| format!("--runroot {}", r.display()))?
            }
            None => default_runroot()?,
        };
        let mut s = Store::open_at(root, runroot)?;
        if let Some(v) = &g.volume_path {
            s.volume_path = Some(
                std::path::absolute(v).with_context(|| format!("--volumepath {}", v.display()))?,
            );
        }
        Ok(s)
    }

    /// Open a store at explicit paths.
    pub fn open_at(root: PathBuf, runroot: PathBuf) -> Result<Store> {
        let s = Store {
            root,
            runroot,
            volume_path: None,
        };
        // The tmp dir is made last, so its presence means the layout exists
        // and the common case costs one stat.
        if !s.tmp_dir().is_dir() {
            for d in [
                s.root.clone(),
                s.root.join("blobs/sha256"),
                s.root.join("layers"),
                s.root.join("images/removed"),
                s.root.join("locks"),
                s.runroot.clone(),
                s.tmp_dir(),
            ] {
                mkdir_private(&d)?;
            }
        } else if !s.runroot.is_dir() {
            mkdir_private(&s.runroot)?;
        }
        s.clean_tmp();
        Ok(s)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn runroot(&self) -> &Path {
        &self.runroot
    }

    /// Where named volumes live: `--volumepath`, else `<root>/volumes`.
    pub fn volumes_dir(&self) -> PathBuf {
        self.volume_path
            .clone()
            .unwrap_or_else(|| self.root.join("volumes"))
    }

    /// `--volumepath` when it was given (a container records it).
    pub fn volume_path(&self) -> Option<&Path> {
        self.volume_path.as_deref()
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Store-wide exclusive lock for image records and names. Prints
    /// "waiting for lock on <path>" when another process holds it.
    pub fn lock(&self) -> Result<Lock> {
        Lock::exclusive(&self.root.join("storage.lock"))
    }

    /// Hold this (shared) while using layers or blobs that no image record
    /// protects yet: during a pull until `put_image`, or while a container
    /// is being set up. Garbage collection of layers and blobs skips itself
    /// while anyone holds it, so it never deletes them under you. Take it
    /// before `lock()`, never while holding it (gc takes them in that order).
    pub fn hold_layers(&self) -> Result<Lock> {
        Lock::shared(&self.root.join("gc.lock"))
    }

    /// Remove entries of tmp/ whose writer is gone (its flock is free).
    fn clean_tmp(&self) {
        let Ok(rd) = fs::read_dir(self.tmp_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(f) = fs::File::open(&p) else { continue };
            let Ok(Some(held)) = Lock::try_exclusive_on(f, &p) else {
                continue; // a live writer holds it
            };
            let res = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&p)
            } else {
                fs::remove_file(&p)
            };
            match res {
                Ok(()) => debug!("removed leftover {}", p.display()),
                // Files owned by ids of the user namespace can only be
                // removed from inside it; a later run inside it will.
                Err(e) => debug!("leaving {} for now: {e}", p.display()),
            }
            drop(held);
        }
    }

    /// Make a new entry in tmp/ (a dir when `dir`), flocked by us until the
    /// returned guard is dropped or consumed; the guard removes it on drop.
    pub(crate) fn tmp_entry(&self, prefix: &str, dir: bool) -> Result<TmpEntry> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = self
                .tmp_dir()
                .join(format!("{prefix}-{}-{n}-{nanos:x}", std::process::id()));
            let file = if dir {
                match fs::DirBuilder::new().mode(0o700).create(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating {}", path.display()))
                    }
                }
                fs::File::open(&path)
            } else {
                fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode_0600()
                    .open(&path)
            };
            let file = match file {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            };
            let lock_fd = file.try_clone().context("duplicating a descriptor")?;
            let lock = Lock::exclusive_on(lock_fd, &path)?;
            // A cleaner may have taken and removed it between create and lock.
            let same = fs::symlink_metadata(&path)
                .ok()
                .zip(file.metadata().ok())
                .map(|(a, b)| a.ino() == b.ino() && a.dev() == b.dev())
                .unwrap_or(false);
            if !same {
                continue;
            }
            return Ok(TmpEntry {
                path,
                file,
                _lock: Some(lock),
                keep: false,
                dir,
            });
        }
    }

    // ---- blobs ----

    /// Where the blob `digest` lives (it may not exist). A malformed digest
    /// maps to a path that is never written.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        match digest_hex(digest) {
            Ok(hex) => self.root.join("blobs/sha256").join(hex),
            Err(_) => self.root.join("blobs/invalid-digest"),
        }
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        digest_hex(digest).is_ok() && self.blob_path(digest).is_file()
    }

    /// Start writing blob `digest`; see [`BlobWriter`].
    pub fn blob_writer(&self, digest: &Digest, expected_size: Option<u64>) -> Result<BlobWriter> {
        BlobWriter::new(self, digest, expected_size)
    }

    /// Store a small blob (a manifest, a config) held in memory.
    pub fn put_blob(&self, digest: &Digest, data: &[u8]) -> Result<()> {
        use std::io::Write;
        let mut w = self.blob_writer(digest, Some(data.len() as u64))?;
        w.write_all(data)
            .with_context(|| format!("writing blob {digest}"))?;
        w.commit()
    }

    /// Move a finished temp file, whose sha256 the caller computed while
    /// writing it as `digest`, into the blob store: fsync, rename, fsync
    /// the directory (`commit` writes its layer tar this way, once).
    pub(crate) fn adopt_blob(&self, mut tmp: TmpEntry, digest: &Digest) -> Result<()> {
        digest_hex(digest)?;
        tmp.file
            .sync_data()
            .with_context(|| format!("syncing blob {digest}"))?;
        let dest = self.blob_path(digest);
        fs::rename(&tmp.path, &dest)
            .with_context(|| format!("moving blob {digest} into {}", dest.display()))?;
        tmp.keep();
        if let Some(dir) = dest.parent() {
            atomic::sync_dir(dir)?;
        }
        Ok(())
    }

    /// The bytes of a stored blob (verified when it was written).
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        digest_hex(digest)?;
        let p = self.blob_path(digest);
        fs::read(&p).with_context(|| format!("reading blob {digest} ({})", p.display()))
    }

    // ---- layers ----

    /// The unpacked content (overlay lower dir) of layer `chain_id`.
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layer_root(chain_id).join("diff")
    }

    fn layer_root(&self, chain_id: &Digest) -> PathBuf {
        match digest_hex(chain_id) {
            Ok(hex) => self.root.join("layers").join(hex),
            Err(_) => self.root.join("layers/invalid-digest"),
        }
    }

    /// True once the layer is completely unpacked (it appears by a rename).
    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        digest_hex(chain_id).is_ok() && self.layer_root(chain_id).join("layer.json").is_file()
    }

    /// What was recorded when the layer was unpacked.
    pub fn layer_info(&self, chain_id: &Digest) -> Result<LayerInfo> {
        let p = self.layer_root(chain_id).join("layer.json");
        let data = fs::read(&p).with_context(|| format!("layer {chain_id} is not in the store"))?;
        serde_json::from_slice(&data).with_context(|| format!("parsing {}", p.display()))
    }

    /// The layer's tar as it came (recorded when it was unpacked), if it
    /// can be given back: see `tarsplit.rs`. A record that doesn't add up
    /// to the layer's size is ignored.
    pub fn layer_tar_split(&self, chain_id: &Digest) -> Result<Option<TarSplit>> {
        let Some(ts) = tarsplit::read(&self.layer_root(chain_id).join(tarsplit::FILE_NAME))
            .with_context(|| format!("layer {chain_id}"))?
        else {
            return Ok(None);
        };
        let want = self.layer_info(chain_id)?.uncompressed_size;
        if ts.size != want {
            warn!(
                "layer {chain_id}: its tar-split gives {} bytes, not {want}: not used",
                ts.size
            );
            return Ok(None);
        }
        Ok(Some(ts))
    }

    /// Unpack blob `digest` as the layer `diff_id` on top of
    /// `parent_chain_id`, and return its chain id; see `layers.rs`.
    #[cfg(test)]
    pub fn unpack_layer(
        &self,
        digest: &Digest,
        media_type: &str,
        diff_id: &Digest,
        parent_chain_id: Option<&Digest>,
    ) -> Result<Digest> {
        layers::unpack_layer(self, digest, media_type, diff_id, parent_chain_id)
            .with_context(|| format!("layer {digest}"))
    }

    /// Like `unpack_layer`, from a stream rather than a stored blob. `open`
    /// runs only when the layer is missing.
    pub fn unpack_layer_from<R: std::io::Read>(
        &self,
        open: impl FnOnce() -> Result<R>,
        digest: &Digest,
        media_type: &str,
        diff_id: &Digest,
        parent_chain_id: Option<&Digest>,
    ) -> Result<Digest> {
        layers::unpack_layer_from(self, open, digest, media_type, diff_id, parent_chain_id)
            .with_context(|| format!("layer {digest}"))
    }

    // ---- images ----

    /// Write an image record. Its names are taken away from any other image
    /// (as podman does), and merged with those of an existing record of the
    /// same id. Its config, manifest and layers must already be stored.
    pub fn put_image(&self, rec: &ImageRecord) -> Result<()> {
        images::put_image(self, rec)
    }

    /// Write the record of a manifest list (`image::manifest_list`): its
    /// blobs must be stored; its id is its own. `prev`: the state blob the
    /// change was made from (None for a new list); a list changed
    /// meanwhile (or a new list's name taken) is an error.
    pub fn put_list(&self, rec: &ImageRecord, prev: Option<&Digest>) -> Result<()> {
        images::put_list(self, rec, prev)
    }

    /// Every image record (not those removed while containers use them).
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        images::list(self)
    }

    /// Look an image up by full name, short name, name:tag, name@digest, id
    /// or unique id prefix (3+ hex digits).
    pub fn find_image(&self, name_or_id: &str) -> Result<Option<ImageRecord>> {
        images::find(self, name_or_id)
    }

    /// The record of image `id`, including one removed with `rmi -f` while
    /// containers still used it (containers need its layers).
    pub fn image_by_id(&self, id: &str) -> Result<Option<ImageRecord>> {
        images::by_id(self, id)
    }

    pub fn image_config(&self, rec: &ImageRecord) -> Result<oci_spec::image::ImageConfiguration> {
        let data = self
            .read_blob(&rec.config_digest)
            .with_context(|| format!("image {}", short_id(&rec.id)))?;
        serde_json::from_slice(&data)
            .with_context(|| format!("parsing the config of image {}", short_id(&rec.id)))
    }

    /// Remove image `id`, then the layers and blobs no other image uses.
    pub fn remove_image(&self, id: &str) -> Result<()> {
        images::remove(self, id)
    }

    /// Hide image `id` (as removed) but keep its record and layers while
    /// containers still use it; `gc` deletes it once none does.
    pub fn retire_image(&self, id: &str) -> Result<()> {
        images::retire(self, id)
    }

    /// Replace the names of image `id` (under the store lock).
    pub fn set_image_names(&self, id: &str, names: Vec<String>) -> Result<()> {
        images::set_names(self, id, names)
    }

    /// Delete layers and blobs that no image record references. Skipped (and
    /// left for a later run) while a pull or container holds `hold_layers`.
    pub fn gc(&self) -> Result<()> {
        images::gc(self)
    }

    /// After a failed `what` (a pull, a commit): collect the blobs and
    /// layers it stored that no image references, so the space is back at
    /// once rather than at the next rmi. Best effort: a failing gc is only
    /// logged, the caller's error is what the user sees.
    pub fn gc_after_failure(&self, what: &str) {
        if let Err(e) = self.gc() {
            log::debug!("collecting what the failed {what} left: {e:#}");
        }
    }

    /// Ids of containers (root/containers/<id>/container.json) whose
    /// "image_id" is `image_id`.
    pub fn containers_using(&self, image_id: &str) -> Vec<String> {
        images::containers_using(self, image_id)
    }

    /// Container ids per image id, in one pass over ROOT/containers.
    pub fn containers_by_image(&self) -> std::collections::HashMap<String, Vec<String>> {
        images::containers_by_image(self)
    }
}

/// Whether what a user typed (`alpine`, `localhost:5000/alpine:1`,
/// `name@sha256:…`) names the stored `name` of an image whose manifest
/// digest is `digest`, by the rules of `find_image`.
pub fn name_matches(input: &str, name: &str, digest: &Digest) -> bool {
    images::wanted(input)
        .map(|w| images::name_matches(&w, name, digest))
        .unwrap_or(false)
}

/// The 12-digit id podman shows.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// A temp file or dir in ROOT/tmp, flocked while this lives; removed on
/// drop unless `keep()` was called (after it was renamed into place).
pub(crate) struct TmpEntry {
    pub path: PathBuf,
    pub file: fs::File,
    _lock: Option<Lock>,
    keep: bool,
    dir: bool,
}

impl TmpEntry {
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TmpEntry {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let r = if self.dir {
            remove_tree(&self.path)
        } else {
            fs::remove_file(&self.path)
        };
        if let Err(e) = r {
            if e.kind() != std::io::ErrorKind::NotFound {
                debug!("leaving {} for the next cleanup: {e}", self.path.display());
            }
        }
    }
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}
impl Mode0600 for fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

/// remove_dir_all that also copes with dirs we made read-only (a layer's
/// 0555 dirs): it makes a dir writable and retries once. Never follows
/// symlinks.
pub(crate) fn remove_tree(p: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            make_dirs_writable(p);
            fs::remove_dir_all(p)
        }
        Err(e) => Err(e),
    }
}

fn make_dirs_writable(p: &Path) {
    let Ok(m) = fs::symlink_metadata(p) else {
        return;
    };
    if !m.is_dir() {
        return;
    }
    if m.mode() & 0o700 != 0o700 {
        let _ = fs::set_permissions(p, fs::Permissions::from_mode((m.mode() | 0o700) & 0o7777));
    }
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                make_dirs_writable(&e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        parse_digest(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let (a, b, c) = (d('a'), d('b'), d('c'));
        let ids = chain_ids(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(ids[0], a);
        let ab = sha256_digest(format!("{a} {b}").as_bytes());
        assert_eq!(ids[1], ab);
        assert_eq!(ids[2], sha256_digest(format!("{ab} {c}").as_bytes()));
        assert_eq!(chain_id(Some(&ab), &c), ids[2]);
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn chain_id_of_a_known_pair() {
        // echo -n "sha256:<64 a> sha256:<64 b>" | sha256sum
        let (a, b) = (d('a'), d('b'));
        let want = hex::encode(Sha256::digest(format!("{a} {b}")));
        assert_eq!(chain_id(Some(&a), &b).to_string(), format!("sha256:{want}"));
    }

    #[test]
    fn host_ids_come_from_the_uid_map() {
        assert_eq!(
            host_id_of("         0          0 4294967295\n", 1000),
            Some(1000)
        );
        assert_eq!(host_id_of("0 1004 1\n1 1000000 65536\n", 0), Some(1004));
        assert_eq!(host_id_of("0 1004 1\n1 1000000 65536\n", 5), Some(1000004));
        assert_eq!(host_id_of("0 1004 1\n", 7), None);
    }

    #[test]
    fn digests_are_checked() {
        let zeros = format!("sha256:{}", "0".repeat(64));
        assert_eq!(
            digest_hex(&parse_digest(&zeros).unwrap()).unwrap(),
            "0".repeat(64)
        );
        for bad in [
            "sha256:abc".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:../{}", "0".repeat(61)),
            format!("sha256:{}/", "0".repeat(63)),
            "sha256:".into(),
            "0".repeat(64),
            "".into(),
        ] {
            let e = parse_digest(&bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        // A valid digest of another algorithm is not a store key.
        let other = parse_digest(&format!("sha512:{}", "0".repeat(128))).unwrap();
        let e = digest_hex(&other).unwrap_err().to_string();
        assert!(e.contains("sha512"), "{e}");
        let s = test_store();
        assert!(s.1.blob_path(&other).ends_with("blobs/invalid-digest"));
        assert!(!s.1.has_blob(&other));
        assert!(s.1.blob_writer(&other, None).is_err());
        assert_eq!(sha256_from_hex(&"0".repeat(64)).unwrap().to_string(), zeros);
        assert!(sha256_from_hex("abc").is_err());
    }

    /// Records on disk hold digests as plain strings; Digest keeps that.
    #[test]
    fn digest_serde_is_the_plain_string() {
        let zeros = format!("sha256:{}", "0".repeat(64));
        let dg = parse_digest(&zeros).unwrap();
        assert_eq!(serde_json::to_string(&dg).unwrap(), format!("\"{zeros}\""));
        let back: Digest = serde_json::from_str(&format!("\"{zeros}\"")).unwrap();
        assert_eq!(back, dg);
        assert!(serde_json::from_str::<Digest>("\"sha256:xyz\"").is_err());
    }

    pub(crate) fn test_store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open_at(d.path().join("root"), d.path().join("run")).unwrap();
        (d, s)
    }

    #[test]
    fn open_cleans_dead_tmp_entries_but_not_live_ones() {
        let (_d, s) = test_store();
        let live = s.tmp_entry("live", false).unwrap();
        let dead_dir = s.tmp_dir().join("layer-dead");
        fs::create_dir_all(dead_dir.join("diff/a")).unwrap();
        fs::write(dead_dir.join("diff/a/f"), b"x").unwrap();
        fs::set_permissions(dead_dir.join("diff/a"), fs::Permissions::from_mode(0o555)).unwrap();
        fs::write(s.tmp_dir().join("blob-dead"), b"x").unwrap();
        let s2 = Store::open_at(s.root().to_path_buf(), s.runroot().to_path_buf()).unwrap();
        assert!(!dead_dir.exists());
        assert!(!s2.tmp_dir().join("blob-dead").exists());
        assert!(live.path.exists());
        let p = live.path.clone();
        drop(live);
        assert!(!p.exists());
    }
}
