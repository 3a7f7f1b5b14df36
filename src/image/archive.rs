//! Image archives: `save` writes images of the store in one of four
//! layouts, `load` reads them back (`archive_read.rs`), `import` makes a
//! one-layer image of a flat root filesystem tar.
//!
//! | layout | what it is |
//! |---|---|
//! | `docker-archive` | a tar with `manifest.json`, `repositories`, `<id>.json` configs and one tar per layer; several images in one |
//! | `oci-archive` | a tar of an OCI image layout: `oci-layout`, `index.json` (names in `org.opencontainers.image.ref.name`), `blobs/sha256/…` |
//! | `oci-dir` | the same layout as a directory |
//! | `docker-dir` | containers/image's `dir:` transport: `manifest.json` (Docker schema 2), `version`, blobs named by their hex digest |
//!
//! The store keeps layers unpacked, not their blobs, so a layer is written
//! as the canonical tar of its directory (`archive_tar.rs`): the same dir
//! always makes the same bytes. When that tar's digest differs from the
//! diff id the image was pulled with (another tool's tar of the same
//! files), the archive's config lists the new diff ids, and the image has a
//! new id there; what it contains is the same.
//!
//! Writers stream: a layer goes from its files through the archive to its
//! destination without being held whole, a file destination is written
//! under a temporary name beside it and renamed when complete, and a
//! directory the same way.

use super::archive_tar::{plan_stored_layer, HashWriter, LayerPlan, OuterTar};
use super::manifest::{
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER,
    OCI_LAYER_GZIP, OCI_MANIFEST,
};
use crate::storage::{digest_hex, sha256_digest, sha256_finish, Digest, ImageRecord, Store};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub use super::archive_read::{
    import, load, open_url, ImportOptions, ImportSource, LoadInput, Loaded,
};

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const DIR_VERSION: &str = "Directory Transport Version: 1.1\n";

/// The four ways to write images (podman's `--format` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    DockerArchive,
    OciArchive,
    OciDir,
    DockerDir,
}

impl Layout {
    pub fn parse(s: &str) -> Result<Layout> {
        Ok(match s {
            "docker-archive" => Layout::DockerArchive,
            "oci-archive" => Layout::OciArchive,
            "oci-dir" => Layout::OciDir,
            "docker-dir" => Layout::DockerDir,
            _ => bail!("unknown format {s:?}: docker-archive, oci-archive, oci-dir or docker-dir"),
        })
    }

    pub fn is_dir(self) -> bool {
        matches!(self, Layout::OciDir | Layout::DockerDir)
    }

    pub fn name(self) -> &'static str {
        match self {
            Layout::DockerArchive => "docker-archive",
            Layout::OciArchive => "oci-archive",
            Layout::OciDir => "oci-dir",
            Layout::DockerDir => "docker-dir",
        }
    }
}

/// One image to write, and the names it goes under (`RepoTags`,
/// `org.opencontainers.image.ref.name`); none for an image saved by id.
#[derive(Debug, Clone)]
pub struct SaveImage {
    pub record: ImageRecord,
    pub names: Vec<String>,
}

/// Where an archive goes.
pub enum Dest {
    /// A file (tar layouts) or a directory (dir layouts), made atomically.
    Path(PathBuf),
    /// An open file or pipe (tar layouts only), such as standard output.
    Stream(fs::File),
}

/// How the layers are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// gzip the layers (dir layouts).
    pub compress: bool,
}

/// What writing or reading an archive reports as it goes, in podman's
/// words: the CLI prints them (or not, with `-q`).
pub trait ArchiveProgress {
    fn blob(&self, digest: &Digest);
    /// A layer the store has already.
    fn blob_skipped(&self, _digest: &Digest) {}
    fn config(&self, digest: &Digest);
    fn manifest(&self);
}

/// Reports nothing.
pub struct Silent;

impl ArchiveProgress for Silent {
    fn blob(&self, _: &Digest) {}
    fn config(&self, _: &Digest) {}
    fn manifest(&self) {}
}

/// Write `images` from `store` as `layout` to `dest`. The caller is in the
/// user namespace (layer files belong to its ids). `push` to `oci:DIR`,
/// `oci-archive:FILE`, `docker-archive:FILE` and `dir:DIR` is this call.
pub fn write(
    store: &Store,
    images: &[SaveImage],
    layout: Layout,
    opts: WriteOptions,
    dest: Dest,
    progress: &dyn ArchiveProgress,
) -> Result<()> {
    if images.is_empty() {
        bail!("no image to save");
    }
    if let Some(l) = images
        .iter()
        .find(|i| super::manifest_list::is_list(&i.record))
    {
        bail!(
            "{}: a manifest list can't be saved: save one of its images, or push it with rpod manifest push",
            l.record.names.first().unwrap_or(&l.record.id)
        );
    }
    if images.len() > 1 && layout != Layout::DockerArchive {
        bail!("only docker-archive holds several images (--multi-image-archive)");
    }
    if opts.compress && !layout.is_dir() {
        bail!("--compress can only be used with the oci-dir and docker-dir formats");
    }
    // Keep `rmi`'s garbage collection off the layers while they are read.
    let _hold = store.hold_layers()?;
    match dest {
        Dest::Stream(w) => {
            if layout.is_dir() {
                bail!(
                    "{} is a directory format: give a directory with -o",
                    layout.name()
                );
            }
            let mut w = BufWriter::with_capacity(1 << 20, w);
            write_tar(store, images, layout, &mut w, progress)?;
            w.flush().context("writing the archive")?;
            Ok(())
        }
        Dest::Path(p) if layout.is_dir() => write_dir(store, images, layout, opts, &p, progress),
        Dest::Path(p) => {
            let mut tmp = TempOut::file(&p)?;
            let mut w = BufWriter::with_capacity(1 << 20, &tmp.file);
            write_tar(store, images, layout, &mut w, progress)?;
            w.flush()
                .with_context(|| format!("writing {}", p.display()))?;
            drop(w);
            tmp.commit()
        }
    }
}

/// A temp file or dir beside the destination, renamed over it at the end
/// and removed if dropped before.
struct TempOut {
    tmp: PathBuf,
    dest: PathBuf,
    file: fs::File,
    dir: bool,
    done: bool,
}

/// A fresh name beside `dest` (`.NAME.rpod-tmp-PID-N`); the caller
/// creates it exclusively, so nobody else's file or link is ever reused.
fn temp_name(dest: &Path, n: u32) -> Result<PathBuf> {
    let name = dest
        .file_name()
        .with_context(|| format!("{}: not a file name", dest.display()))?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Ok(parent.join(format!(
        ".{}.rpod-tmp-{}-{n}-{nanos:x}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Remove what an earlier save to `dest` killed in the middle left beside
/// it: our own `.NAME.rpod-tmp-PID-…` entries whose process is gone.
fn clean_stale_temps(dest: &Path) {
    use std::os::unix::fs::MetadataExt;
    let (Some(name), parent) = (dest.file_name(), dest.parent()) else {
        return;
    };
    let parent = match parent {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.rpod-tmp-", name.to_string_lossy());
    let me = nix::unistd::getuid().as_raw();
    let Ok(rd) = fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = n.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
            || Path::new(&format!("/proc/{pid}")).exists();
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        if alive || m.uid() != me {
            continue;
        }
        let r = if m.is_dir() {
            crate::storage::remove_tree(&e.path())
        } else {
            fs::remove_file(e.path())
        };
        match r {
            Ok(()) => debug!(
                "removed {}, left by a save that was killed",
                e.path().display()
            ),
            Err(err) => debug!("leaving {}: {err}", e.path().display()),
        }
    }
}

/// Create a temp file or dir beside `dest` with `make`, retrying when the
/// name is taken.
fn create_temp<T>(dest: &Path, make: impl Fn(&Path) -> io::Result<T>) -> Result<(PathBuf, T)> {
    clean_stale_temps(dest);
    let mut n = 0;
    loop {
        let tmp = temp_name(dest, n)?;
        match make(&tmp) {
            Ok(t) => return Ok((tmp, t)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e).with_context(|| format!("creating {}", tmp.display())),
        }
    }
}

impl TempOut {
    fn file(dest: &Path) -> Result<TempOut> {
        if dest.is_dir() {
            bail!("{} is a directory", dest.display());
        }
        let (tmp, file) = create_temp(dest, |p| {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(p)
        })?;
        Ok(TempOut {
            tmp,
            dest: dest.to_path_buf(),
            file,
            dir: false,
            done: false,
        })
    }

    fn dir(dest: &Path) -> Result<TempOut> {
        if let Ok(mut rd) = fs::read_dir(dest) {
            if rd.next().is_some() {
                bail!("{} exists and is not empty", dest.display());
            }
        } else if fs::symlink_metadata(dest).is_ok() {
            bail!("{} exists and is not a directory", dest.display());
        }
        let (tmp, ()) = create_temp(dest, |p| fs::create_dir(p))?;
        let file = fs::File::open(&tmp).with_context(|| format!("opening {}", tmp.display()))?;
        Ok(TempOut {
            tmp,
            dest: dest.to_path_buf(),
            file,
            dir: true,
            done: false,
        })
    }

    fn commit(&mut self) -> Result<()> {
        if self.dir {
            nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&self.file))
                .with_context(|| format!("syncing {}", self.tmp.display()))?;
            if self.dest.is_dir() {
                fs::remove_dir(&self.dest)
                    .with_context(|| format!("replacing {}", self.dest.display()))?;
            }
        } else {
            self.file
                .sync_all()
                .with_context(|| format!("syncing {}", self.tmp.display()))?;
        }
        fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("moving {} to {}", self.tmp.display(), self.dest.display()))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for TempOut {
    fn drop(&mut self) {
        if !self.done {
            let _ = if self.dir {
                crate::storage::remove_tree(&self.tmp)
            } else {
                fs::remove_file(&self.tmp)
            };
        }
    }
}

/// One layer of an image to write: its planned tar.
struct PlannedLayer {
    chain_id: Digest,
    recorded_diff_id: Digest,
    plan: LayerPlan,
}

fn plan_layers(store: &Store, rec: &ImageRecord) -> Result<Vec<PlannedLayer>> {
    rec.layers
        .iter()
        .map(|l| {
            if !store.has_layer(&l.chain_id) {
                bail!("layer {} is not in the store", l.diff_id);
            }
            let plan = plan_stored_layer(store, &l.chain_id)
                .with_context(|| format!("layer {}", l.diff_id))?;
            Ok(PlannedLayer {
                chain_id: l.chain_id.clone(),
                recorded_diff_id: l.diff_id.clone(),
                plan,
            })
        })
        .collect()
}

/// What `tar-digest.json` remembers of a layer's canonical tar.
#[derive(serde::Serialize, serde::Deserialize)]
struct TarDigest {
    size: u64,
    digest: Digest,
}

/// The digest of a layer's canonical tar: remembered beside the layer
/// (`tar-digest.json`, removed with it) once computed, since it takes a
/// read of every file.
fn canonical_digest(store: &Store, l: &PlannedLayer) -> Result<Digest> {
    if let Some(d) = &l.plan.digest {
        // The tar as it came: its digest is the diff id.
        return Ok(d.clone());
    }
    let cache = store
        .layer_dir(&l.chain_id)
        .with_file_name("tar-digest.json");
    let cached = fs::read(&cache)
        .ok()
        .and_then(|b| serde_json::from_slice::<TarDigest>(&b).ok())
        .filter(|t| t.size == l.plan.size && digest_hex(&t.digest).is_ok());
    if let Some(t) = cached {
        return Ok(t.digest);
    }
    let mut h = HashWriter::new(io::sink());
    l.plan.write_to(&mut h)?;
    let d = h.digest();
    remember_digest(store, &l.chain_id, l.plan.size, &d);
    Ok(d)
}

fn remember_digest(store: &Store, chain_id: &Digest, size: u64, digest: &Digest) {
    let cache = store.layer_dir(chain_id).with_file_name("tar-digest.json");
    let t = TarDigest {
        size,
        digest: digest.clone(),
    };
    let r = serde_json::to_vec(&t)
        .map_err(anyhow::Error::from)
        .and_then(|b| crate::storage::write_atomic(&cache, &b));
    if let Err(e) = r {
        debug!("not remembering the tar digest of {chain_id}: {e:#}");
    }
}

/// The config to write: the stored one, or with `diff_ids` replaced when
/// the layers' tars differ from those it was made with.
fn config_for(store: &Store, rec: &ImageRecord, diff_ids: &[Digest]) -> Result<Vec<u8>> {
    let orig = store.read_blob(&rec.config_digest)?;
    if rec.layers.iter().map(|l| &l.diff_id).eq(diff_ids) {
        return Ok(orig);
    }
    let mut v: Value = serde_json::from_slice(&orig)
        .with_context(|| format!("parsing config {}", rec.config_digest))?;
    v["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
    Ok(serde_json::to_vec(&v)?)
}

fn oci_manifest(config: &[u8], layers: &[(Digest, u64)], media: &str) -> Vec<u8> {
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": config.len()},
        "layers": layers.iter().map(|(d, s)| json!({"mediaType": media, "digest": d, "size": s})).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&m).expect("json")
}

fn docker_manifest(config: &[u8], layers: &[(Digest, u64)], media: &str) -> Vec<u8> {
    let m = json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "digest": sha256_digest(config), "size": config.len()},
        "layers": layers.iter().map(|(d, s)| json!({"mediaType": media, "digest": d, "size": s})).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&m).expect("json")
}

fn oci_index(manifest: &[u8], names: &[String]) -> Vec<u8> {
    let desc = |name: Option<&String>| {
        let mut d = json!({
            "mediaType": OCI_MANIFEST,
            "digest": sha256_digest(manifest),
            "size": manifest.len(),
        });
        if let Some(n) = name {
            d["annotations"] = json!({ REF_NAME: n });
        }
        d
    };
    let manifests: Vec<Value> = if names.is_empty() {
        vec![desc(None)]
    } else {
        names.iter().map(|n| desc(Some(n))).collect()
    };
    serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": manifests})).expect("json")
}

/// The layers of `images`, each once, in the order they are written.
fn unique_layers(store: &Store, images: &[SaveImage]) -> Result<Vec<PlannedLayer>> {
    let mut out: Vec<PlannedLayer> = Vec::new();
    for img in images {
        for l in plan_layers(store, &img.record)? {
            if !out.iter().any(|x| x.chain_id == l.chain_id) {
                out.push(l);
            }
        }
    }
    Ok(out)
}

/// Write a tar layout. The layers' digests (their names in an OCI layout,
/// their diff ids in the configs) are computed by a second thread reading
/// the files while this one writes them, their data moved by the kernel.
fn write_tar<W: Write>(
    store: &Store,
    images: &[SaveImage],
    layout: Layout,
    out: &mut W,
    progress: &dyn ArchiveProgress,
) -> Result<()> {
    let layers = unique_layers(store, images)?;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<Result<Digest>>();
        let hashed = &layers;
        s.spawn(move || {
            for l in hashed {
                let r = canonical_digest(store, l)
                    .with_context(|| format!("layer {}", l.recorded_diff_id));
                let stop = r.is_err();
                if tx.send(r).is_err() || stop {
                    return;
                }
            }
        });
        let next_digest = || -> Result<Digest> { rx.recv().context("hashing the layers stopped")? };
        let mut tar = OuterTar { out };
        let mut digests: std::collections::HashMap<Digest, Digest> = Default::default();
        match layout {
            Layout::DockerArchive => {
                for l in &layers {
                    let hex = digest_hex(&l.chain_id)?;
                    tar.dir(&format!("{hex}/"))?;
                    tar.layer(&format!("{hex}/layer.tar"), &l.plan)
                        .with_context(|| format!("layer {}", l.recorded_diff_id))?;
                }
                for l in &layers {
                    let d = next_digest()?;
                    progress.blob(&d);
                    digests.insert(l.chain_id.clone(), d);
                }
                let mut manifest = Vec::new();
                let mut repositories = serde_json::Map::new();
                let mut written = std::collections::HashSet::new();
                for img in images {
                    let rec = &img.record;
                    let diff_ids: Vec<Digest> = rec
                        .layers
                        .iter()
                        .map(|l| digests[&l.chain_id].clone())
                        .collect();
                    let paths: Vec<String> = rec
                        .layers
                        .iter()
                        .map(|l| Ok(format!("{}/layer.tar", digest_hex(&l.chain_id)?)))
                        .collect::<Result<_>>()?;
                    let config = config_for(store, rec, &diff_ids)?;
                    let cd = sha256_digest(&config);
                    progress.config(&cd);
                    let cname = format!("{}.json", digest_hex(&cd)?);
                    if written.insert(cname.clone()) {
                        tar.bytes(&cname, &config)?;
                    }
                    manifest.push(json!({"Config": cname, "RepoTags": img.names, "Layers": paths}));
                    if let Some(top) = rec.layers.last() {
                        for n in &img.names {
                            let (repo, tag) = split_tag(n);
                            let e = repositories
                                .entry(repo.to_string())
                                .or_insert_with(|| json!({}));
                            e[tag] = json!(digest_hex(&top.chain_id)?);
                        }
                    }
                }
                progress.manifest();
                tar.bytes("manifest.json", &serde_json::to_vec(&manifest)?)?;
                tar.bytes("repositories", &serde_json::to_vec(&repositories)?)?;
            }
            Layout::OciArchive => {
                let img = &images[0];
                tar.bytes("oci-layout", br#"{"imageLayoutVersion": "1.0.0"}"#)?;
                tar.dir("blobs/")?;
                tar.dir("blobs/sha256/")?;
                for l in &layers {
                    // The blob's name is its digest, which comes before its bytes.
                    let d = next_digest()?;
                    progress.blob(&d);
                    let name = format!("blobs/sha256/{}", digest_hex(&d)?);
                    if !digests.values().any(|x| x == &d) {
                        tar.layer(&name, &l.plan)
                            .with_context(|| format!("layer {}", l.recorded_diff_id))?;
                    }
                    digests.insert(l.chain_id.clone(), d);
                }
                let rec = &img.record;
                let diff_ids: Vec<Digest> = rec
                    .layers
                    .iter()
                    .map(|l| digests[&l.chain_id].clone())
                    .collect();
                let descs: Vec<(Digest, u64)> = rec
                    .layers
                    .iter()
                    .zip(&diff_ids)
                    .map(|(l, d)| {
                        let size = layers
                            .iter()
                            .find(|x| x.chain_id == l.chain_id)
                            .map_or(0, |x| x.plan.size);
                        (d.clone(), size)
                    })
                    .collect();
                let config = config_for(store, rec, &diff_ids)?;
                let cd = sha256_digest(&config);
                progress.config(&cd);
                tar.bytes(&format!("blobs/sha256/{}", digest_hex(&cd)?), &config)?;
                let manifest = oci_manifest(&config, &descs, OCI_LAYER);
                progress.manifest();
                tar.bytes(
                    &format!("blobs/sha256/{}", digest_hex(&sha256_digest(&manifest))?),
                    &manifest,
                )?;
                tar.bytes("index.json", &oci_index(&manifest, &img.names))?;
            }
            Layout::OciDir | Layout::DockerDir => unreachable!("directory layouts"),
        }
        tar.finish()?;
        Ok(())
    })
}

/// "reg/repo:tag" → ("reg/repo", "tag").
fn split_tag(name: &str) -> (&str, &str) {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], &name[slash + i + 1..]),
        None => (name, "latest"),
    }
}

fn write_dir(
    store: &Store,
    images: &[SaveImage],
    layout: Layout,
    opts: WriteOptions,
    dest: &Path,
    progress: &dyn ArchiveProgress,
) -> Result<()> {
    let mut tmp = TempOut::dir(dest)?;
    let root = tmp.tmp.clone();
    let img = &images[0];
    let blob_dir = match layout {
        Layout::OciDir => {
            fs::create_dir_all(root.join("blobs/sha256"))?;
            fs::write(
                root.join("oci-layout"),
                br#"{"imageLayoutVersion": "1.0.0"}"#,
            )?;
            root.join("blobs/sha256")
        }
        _ => {
            fs::write(root.join("version"), DIR_VERSION)?;
            root.clone()
        }
    };
    let layers = plan_layers(store, &img.record)?;
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let part = blob_dir.join(format!(".layer-{i}"));
        let f = fs::File::create(&part).with_context(|| format!("creating {}", part.display()))?;
        let mut outer = HashWriter::new(BufWriter::with_capacity(1 << 20, f));
        let diff_id = if opts.compress {
            let gz = super::archive_gzip::AdaptiveGz::new(&mut outer)?;
            let mut inner = HashWriter::new(gz);
            l.plan.write_to(&mut inner)?;
            let d = inner.digest();
            inner.inner.finish()?;
            d
        } else {
            l.plan.write_to(&mut outer)?;
            outer.hasher.clone_digest()
        };
        outer.flush()?;
        let blob = outer.digest();
        let size = outer.n;
        drop(outer);
        progress.blob(&blob);
        fs::rename(&part, blob_dir.join(digest_hex(&blob)?))?;
        remember_digest(store, &l.chain_id, l.plan.size, &diff_id);
        descs.push((blob, size));
        diff_ids.push(diff_id);
    }
    let config = config_for(store, &img.record, &diff_ids)?;
    let cd = sha256_digest(&config);
    progress.config(&cd);
    fs::write(blob_dir.join(digest_hex(&cd)?), &config)?;
    progress.manifest();
    match layout {
        Layout::OciDir => {
            let media = if opts.compress {
                OCI_LAYER_GZIP
            } else {
                OCI_LAYER
            };
            let manifest = oci_manifest(&config, &descs, media);
            fs::write(
                blob_dir.join(digest_hex(&sha256_digest(&manifest))?),
                &manifest,
            )?;
            fs::write(root.join("index.json"), oci_index(&manifest, &img.names))?;
        }
        _ => {
            let media = if opts.compress {
                DOCKER_LAYER_GZIP
            } else {
                DOCKER_LAYER
            };
            fs::write(
                root.join("manifest.json"),
                docker_manifest(&config, &descs, media),
            )?;
        }
    }
    tmp.commit()
}

/// Apply Dockerfile-style instructions (`--change`) to an image config's
/// `config` object: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER,
/// VOLUME, WORKDIR, written `CMD /bin/sh`, `CMD=/bin/sh` or
/// `ENTRYPOINT ["/bin/sh","-c"]`.
pub fn apply_changes(config: &mut Value, changes: &[String]) -> Result<()> {
    for ch in changes {
        let ch = ch.trim();
        let end = ch
            .find(|c: char| c == '=' || c.is_whitespace())
            .with_context(|| format!("invalid change {ch:?}: expected INSTRUCTION VALUE"))?;
        let (ins, rest) = (ch[..end].to_ascii_uppercase(), ch[end + 1..].trim());
        let words = |s: &str| -> Result<Vec<String>> {
            if s.starts_with('[') {
                serde_json::from_str(s).with_context(|| format!("invalid JSON array in {ch:?}"))
            } else {
                Ok(vec!["/bin/sh".into(), "-c".into(), s.to_string()])
            }
        };
        let list = |s: &str| -> Result<Vec<String>> {
            if s.starts_with('[') {
                serde_json::from_str(s).with_context(|| format!("invalid JSON array in {ch:?}"))
            } else {
                Ok(s.split_whitespace().map(String::from).collect())
            }
        };
        match ins.as_str() {
            "CMD" => config["Cmd"] = json!(words(rest)?),
            "ENTRYPOINT" => config["Entrypoint"] = json!(words(rest)?),
            "USER" => config["User"] = json!(rest),
            "WORKDIR" => config["WorkingDir"] = json!(rest),
            "STOPSIGNAL" => config["StopSignal"] = json!(rest),
            "EXPOSE" => {
                for p in list(rest)? {
                    let p = if p.contains('/') { p } else { format!("{p}/tcp") };
                    config["ExposedPorts"][p] = json!({});
                }
            }
            "VOLUME" => {
                for v in list(rest)? {
                    config["Volumes"][v] = json!({});
                }
            }
            "ENV" | "LABEL" => {
                let pairs: Vec<(String, String)> = if rest.contains('=') {
                    rest.split_whitespace()
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect()
                } else {
                    let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    vec![(k.to_string(), v.trim().to_string())]
                };
                for (k, v) in pairs {
                    if k.is_empty() {
                        bail!("invalid change {ch:?}: empty name");
                    }
                    if ins == "LABEL" {
                        config["Labels"][k] = json!(v);
                    } else {
                        let env = config["Env"].as_array().cloned().unwrap_or_default();
                        let mut env: Vec<Value> = env
                            .into_iter()
                            .filter(|e| {
                                e.as_str()
                                    .map_or(true, |s| s.split_once('=').map_or(s, |x| x.0) != k)
                            })
                            .collect();
                        env.push(json!(format!("{k}={v}")));
                        config["Env"] = Value::Array(env);
                    }
                }
            }
            _ => bail!(
                "invalid change {ch:?}: {ins} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR"
            ),
        }
    }
    Ok(())
}

/// The digest so far, without ending the hash.
trait CloneDigest {
    fn clone_digest(&self) -> Digest;
}

impl CloneDigest for sha2::Sha256 {
    fn clone_digest(&self) -> Digest {
        sha256_finish(&mut self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(
            split_tag("localhost:5000/alpine:latest"),
            ("localhost:5000/alpine", "latest")
        );
        assert_eq!(
            split_tag("localhost:5000/alpine"),
            ("localhost:5000/alpine", "latest")
        );
    }

    #[test]
    fn changes_apply_as_podman_reads_them() {
        let mut c = json!({});
        apply_changes(
            &mut c,
            &[
                "CMD /bin/sh".into(),
                r#"ENTRYPOINT ["/bin/sh","-c","x"]"#.into(),
                "LABEL=blue=image".into(),
                "ENV A=1 B=2".into(),
                "ENV A 3".into(),
                "EXPOSE 80 53/udp".into(),
                "USER=1000".into(),
                "WORKDIR /srv".into(),
                "VOLUME /data".into(),
            ],
        )
        .unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "/bin/sh"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "x"]));
        assert_eq!(c["Labels"]["blue"], "image");
        assert_eq!(c["Env"], json!(["B=2", "A=3"]));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["User"], "1000");
        assert_eq!(c["WorkingDir"], "/srv");
        assert_eq!(c["Volumes"], json!({"/data": {}}));
        assert!(apply_changes(&mut c, &["RUN rm -rf /".into()]).is_err());
    }

    #[test]
    fn layouts_have_podmans_names() {
        for n in ["docker-archive", "oci-archive", "oci-dir", "docker-dir"] {
            assert_eq!(Layout::parse(n).unwrap().name(), n);
        }
        assert!(Layout::parse("tar").is_err());
    }
}
