//! Pushing a local image to a registry, as podman does: each blob is first
//! looked for at the destination (HEAD) and skipped when it is there, then
//! mounted from another repository of the same registry where rpod knows it
//! to be (the image's own names, and where earlier pushes put it), and only
//! otherwise uploaded (POST, one streamed PATCH, PUT with the digest, which
//! the registry checks as we do). The config goes next and the manifest
//! last, so a registry never holds a manifest whose blobs are missing.
//!
//! Where the layer bytes come from: rpod unpacks layers as they download and
//! keeps no compressed copy, so a layer blob is pushed from the store when
//! one is there (stored blobs are checked against their digest while they
//! stream) and is otherwise made again from the unpacked layer: its tar as
//! it came, from the tar-split recorded at unpacking (`archive_tar.rs`, the
//! writer `save` uses; the same diff id, so the config and the image id
//! stay), compressed. Only a blob the destination lacks and can't mount is
//! made: the original compressed bytes are not kept, so such a layer gets a
//! new blob digest and the manifest a new digest (as podman's push).
//! What was made is remembered in `ROOT/cache/blob-info-v1.json` (digest,
//! size, diff id, and the repositories that have it, as containers/image's
//! blob-info cache), so the next push of the image finds it at the
//! destination with one HEAD per blob and reads nothing. Making a tar is
//! deterministic (sorted entries, the files' own times), so a blob made
//! twice has the same digest.
//!
//! The other transports (`oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
//! `docker-archive:FILE[:REF]`, `dir:DIR`) are written by `save`'s writer,
//! [`archive::write`].

use super::archive::{self, Dest, Layout, SaveImage, WriteOptions};
use super::archive_tar::{plan_stored_layer, HashWriter};
use super::client::{with_retries, FetchError, RegistryClient};
use super::manifest::{
    media_type, parse_manifest, Kind as MtKind, Parsed, DOCKER_CONFIG, DOCKER_MANIFEST,
    MEDIA_TYPES, OCI_CONFIG, OCI_MANIFEST,
};
use super::reference::Reference;
use super::registries::{RegistriesConf, RegistrySettings};
use super::transport::read_bounded;
use super::{BlobProgress, RegistryOptions};
use crate::error::Error;
use crate::options::Options;
use crate::storage::{ImageRecord, Store};
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::image::Digest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const TRIES: u32 = 3;
const MAX_PARALLEL_BLOBS: usize = 4;
/// The most of a registry's answer to an upload or manifest request that is read.
const MAX_SMALL_BODY: u64 = 1 << 20;
/// How many repositories a blob is tried to be mounted from.
const MAX_MOUNT_SOURCES: usize = 3;
/// How many other repositories a push asks a token for, to mount from.
const MAX_SCOPED_SOURCES: usize = 8;

/// The manifest format of a push (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFormat {
    Oci,
    /// Docker schema 2.
    V2s2,
}

/// A layer compression (`--compression-format`): the media-type table's.
pub use super::manifest::Compression as LayerCompression;

impl LayerCompression {
    /// The compression `mt` says (none for a type rpod doesn't know).
    fn of_media_type(mt: &str) -> LayerCompression {
        media_type(mt).map_or(LayerCompression::None, |m| m.compression)
    }

    fn name(self) -> &'static str {
        match self {
            LayerCompression::None => "none",
            LayerCompression::Gzip => "gzip",
            LayerCompression::Zstd => "zstd",
        }
    }

    /// The distributable layer type of `format` with this compression,
    /// from the media-type table.
    fn layer_media_type(self, format: PushFormat) -> Result<&'static str> {
        let docker = format == PushFormat::V2s2;
        MEDIA_TYPES
            .iter()
            .find(|m| {
                m.kind == MtKind::Layer
                    && m.distributable
                    && m.docker == docker
                    && m.compression == self
            })
            .map(|m| m.name)
            .ok_or_else(|| {
                anyhow!(
                    "{} layers need the OCI format: use --format oci",
                    self.name()
                )
            })
    }
}

/// Where a push goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A registry (`docker://REF` or a plain reference).
    Registry(Reference),
    /// Another transport: its name ("oci", "oci-archive", ...) and argument.
    Transport { name: String, arg: String },
}

/// The transports `push` knows besides registries.
const OTHER_TRANSPORTS: &[&str] = &[
    "oci",
    "oci-archive",
    "docker-archive",
    "dir",
    "containers-storage",
    "docker-daemon",
];

impl Destination {
    /// `docker://HOST/REPO:TAG`, `TRANSPORT:ARG`, or a plain reference (a
    /// short one is docker.io's, as podman). A tag defaults to "latest".
    pub fn parse(s: &str) -> Result<Destination> {
        if let Some(rest) = s.strip_prefix("docker://") {
            return Ok(Destination::Registry(Self::reference(rest)?));
        }
        if let Some((t, arg)) = s.split_once(':') {
            if OTHER_TRANSPORTS.contains(&t) {
                return Ok(Destination::Transport {
                    name: t.to_string(),
                    arg: arg.to_string(),
                });
            }
        }
        Ok(Destination::Registry(Self::reference(s)?))
    }

    fn reference(s: &str) -> Result<Reference> {
        let r = Reference::parse(s)?;
        if r.digest.is_some() {
            bail!("{s}: a push destination takes a tag, not a digest");
        }
        Ok(r.with_default_tag())
    }
}

/// What `push` needs besides the image and the destination.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub registry: RegistryOptions,
    /// None: the image's own manifest format.
    pub format: Option<PushFormat>,
    /// None: each layer as it is stored.
    pub compression: Option<LayerCompression>,
    /// Signatures are not copied (rpod keeps none: accepted for podman's sake).
    pub remove_signatures: bool,
}

/// One step of a push, in the order podman reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStep<'a> {
    GettingSignatures,
    /// A blob (by digest) is handled: uploaded, skipped or mounted.
    Blob(&'a str, BlobOutcome),
    Config(&'a str),
    WritingManifest,
    StoringSignatures,
}

/// What became of a blob at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// It is there already.
    Skipped,
    /// Mounted from another repository of the registry.
    Mounted,
    Uploaded,
}

/// What a push tells as it goes (the CLI shows it, or not).
pub trait PushProgress: Sync {
    fn step(&self, step: PushStep<'_>);
    /// An upload of about `size` bytes starts, labelled with `digest`.
    fn blob(&self, digest: &str, size: u64) -> Box<dyn BlobProgress + '_>;
}

/// What was pushed.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The manifest's digest (what `--digestfile` gets); None for the
    /// transports written by [`archive::write`].
    pub digest: Option<String>,
    /// Where it went ("localhost:5000/repo:tag").
    pub destination: String,
    /// The manifest's size and media type (0 and "" for the transports).
    pub size: u64,
    pub media_type: String,
}

/// Push local image `image` to `dest` (None: the image name as typed,
/// normalised as podman does). The caller has entered the user namespace
/// when [`needs_userns`] says so, before any thread is started.
pub fn push(
    opts: &Options,
    store: &Store,
    image: &str,
    dest: Option<&str>,
    po: &PushOptions,
    progress: &dyn PushProgress,
) -> Result<PushReport> {
    let rec = find(store, image)?;
    if super::manifest_list::is_list(&rec) {
        bail!("{image} is a manifest list: push it with rpod manifest push");
    }
    let (id, dest_name) = (rec.id.clone(), dest.unwrap_or(image));
    let dest = match dest {
        Some(d) => Destination::parse(d)?,
        None => Destination::parse(image).with_context(|| {
            format!("{image}: give a destination (the image name is not a reference)")
        })?,
    };
    let report = match dest {
        Destination::Registry(r) => push_to_registry(opts, store, &rec, &r, po, progress)
            .with_context(|| format!("pushing {image} to {r}")),
        Destination::Transport { name, arg } => push_to_layout(store, rec, &name, &arg, po)
            .with_context(|| format!("pushing {image} to {name}:{arg}")),
    }?;
    crate::events::image(store.runroot(), "push", &id, dest_name);
    Ok(report)
}

/// PUT `manifest` (of media type `mt`: a manifest list) as `dest`'s tag.
pub(super) fn put_manifest(
    opts: &Options,
    dest: &Reference,
    mt: &str,
    manifest: &[u8],
    reg: &RegistryOptions,
) -> Result<()> {
    let (settings, creds) = push_access(opts, dest, reg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")?;
    rt.block_on(async {
        let mut client = RegistryClient::connect(
            &dest.registry,
            &dest.repository,
            settings.insecure,
            reg.tls_verify,
            reg.cert_dir.as_deref(),
            creds,
        )
        .await?;
        client.set_scopes(vec![format!("repository:{}:pull,push", dest.repository)]);
        let tag = dest.tag.as_deref().unwrap_or("latest");
        put_manifest_at(&client, tag, mt, manifest.to_vec())
            .await
            .context("writing the manifest list")
    })
}

/// PUT a manifest (or list) under `tag` (a tag or a digest).
async fn put_manifest_at(
    client: &RegistryClient,
    tag: &str,
    media_type: &str,
    body: Vec<u8>,
) -> Result<()> {
    let url = client.url("manifests", tag);
    let resp = client
        .send(|| {
            client
                .transport
                .client
                .put(&url)
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(body.clone())
        })
        .await
        .map_err(FetchError::into_anyhow)?;
    expect_status(client, resp, &[201, 200, 202]).await
}

/// The layout a transport writes, the path and the names (`REF`) it has.
fn layout_of(name: &str, arg: &str) -> Result<(Layout, PathBuf, Vec<String>)> {
    let (layout, takes_ref) = match name {
        "oci" => (Layout::OciDir, true),
        "oci-archive" => (Layout::OciArchive, true),
        "docker-archive" => (Layout::DockerArchive, true),
        "dir" => (Layout::DockerDir, false),
        _ => bail!("the {name} transport is not supported"),
    };
    let (path, reference) = match arg.split_once(':') {
        Some((p, r)) if takes_ref => (p, Some(r)),
        _ => (arg, None),
    };
    if path.is_empty() {
        bail!("{name}: no path given");
    }
    let names = match reference.filter(|r| !r.is_empty()) {
        None => vec![],
        // docker-archive's RepoTags are references, normalised as podman does.
        Some(r) if layout == Layout::DockerArchive => {
            let r = Reference::parse(r)?;
            if r.digest.is_some() {
                bail!("{name}: a reference with a digest can't name an image in an archive");
            }
            vec![r.with_default_tag().to_string()]
        }
        Some(r) => vec![r.to_string()],
    };
    Ok((layout, PathBuf::from(path), names))
}

/// `oci:`, `oci-archive:`, `docker-archive:` and `dir:`: the image written
/// by [`archive::write`], as `save` writes it. The caller is in the user
/// namespace ([`needs_userns`]).
fn push_to_layout(
    store: &Store,
    rec: ImageRecord,
    name: &str,
    arg: &str,
    po: &PushOptions,
) -> Result<PushReport> {
    let (layout, path, names) = layout_of(name, arg)?;
    let compress = match po.compression {
        Some(LayerCompression::Gzip) if layout.is_dir() => true,
        None | Some(LayerCompression::None) => false,
        Some(c) => bail!("the {name} transport can't write {} layers", c.name()),
    };
    archive::write(
        store,
        &[SaveImage { record: rec, names }],
        layout,
        WriteOptions { compress },
        Dest::Path(path),
        &archive::Silent,
    )?;
    Ok(PushReport {
        digest: None,
        destination: format!("{name}:{arg}"),
        size: 0,
        media_type: String::new(),
    })
}

fn find(store: &Store, image: &str) -> Result<ImageRecord> {
    store
        .find_image(image)?
        .ok_or_else(|| anyhow!("{image}: image not known"))
}

/// Whether pushing `image` to `dest` may have to read unpacked layers (a
/// transport other than a registry, or some layer blob isn't in the
/// store), which needs rpod's user namespace.
pub fn needs_userns(store: &Store, image: &str, dest: Option<&str>) -> Result<bool> {
    if let Some(Ok(Destination::Transport { .. })) = dest.map(Destination::parse) {
        return Ok(true);
    }
    let rec = find(store, image)?;
    Ok(rec.layers.iter().any(|l| !store.has_blob(&l.digest)))
}

// ---- the blob-info cache ----

/// What earlier pushes learnt: blobs made from unpacked layers, and which
/// repositories hold which blobs.
#[derive(Serialize, Deserialize, Default, Debug)]
struct BlobInfo {
    /// "CHAIN_ID COMPRESSION" -> the blob made for it.
    #[serde(default)]
    made: BTreeMap<String, MadeBlob>,
    /// blob digest -> "registry/repository" names that have it.
    #[serde(default)]
    locations: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
struct MadeBlob {
    digest: String,
    size: u64,
    diff_id: String,
}

fn blob_info_path(store: &Store) -> PathBuf {
    store.root().join("cache/blob-info-v1.json")
}

impl BlobInfo {
    fn load(store: &Store) -> BlobInfo {
        std::fs::read(blob_info_path(store))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Merge what this push learnt into the file (under the store lock, so
    /// concurrent pushes don't lose each other's entries).
    fn save(store: &Store, new: &BlobInfo) -> Result<()> {
        let _lock = store.lock()?;
        let mut cur = BlobInfo::load(store);
        cur.made
            .extend(new.made.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (d, l) in &new.locations {
            cur.locations
                .entry(d.clone())
                .or_default()
                .extend(l.clone());
        }
        let p = blob_info_path(store);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        crate::storage::write_atomic(&p, &serde_json::to_vec(&cur)?)
    }
}

// ---- the registry push ----

/// How a layer gets to the destination.
#[derive(Debug, Clone)]
struct LayerPlan {
    /// The blob as the image's manifest has it.
    orig_digest: Digest,
    orig_media_type: String,
    orig_size: u64,
    orig_diff_id: String,
    chain_id: Digest,
    /// The compression it must have at the destination.
    want: LayerCompression,
    /// The blob made for it by an earlier push, if any.
    made: Option<MadeBlob>,
}

/// A layer as pushed.
#[derive(Debug, Clone)]
struct PushedLayer {
    digest: String,
    size: u64,
    diff_id: String,
    compression: LayerCompression,
}

/// registries.conf's settings for `dest` (refusing a blocked registry) and
/// the credentials to push with: `--creds`, else auth.json's.
fn push_access(
    opts: &Options,
    dest: &Reference,
    reg: &RegistryOptions,
) -> Result<(RegistrySettings, Option<(String, String)>)> {
    let conf = RegistriesConf::load(opts)?;
    let settings = conf.registry(&dest.repo_name());
    if settings.blocked {
        bail!("registry {} is blocked in registries.conf", dest.registry);
    }
    let creds = match &reg.creds {
        Some(c) => Some((
            c.username.clone(),
            c.password.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
        )),
        None => super::auth::lookup(&dest.repo_name(), reg.authfile.as_deref())?
            .map(|c| (c.username, c.password)),
    };
    Ok((settings, creds))
}

/// Push the local image `rec` to the registry reference `dest` (by its
/// manifest digest when `dest` has no tag, as for an image of a manifest
/// list).
pub(super) fn push_to_registry(
    opts: &Options,
    store: &Store,
    rec: &ImageRecord,
    dest: &Reference,
    po: &PushOptions,
    progress: &dyn PushProgress,
) -> Result<PushReport> {
    let (settings, creds) = push_access(opts, dest, &po.registry)?;
    // Keeps `rmi`'s garbage collection off the blobs and layer dirs this
    // push reads, should the image be removed meanwhile.
    let _hold = store.hold_layers()?;
    let manifest_bytes = store
        .read_blob(&rec.digest)
        .context("reading the image's manifest")?;
    let (orig_mt, config_desc, layer_descs) = match parse_manifest(&manifest_bytes)? {
        Parsed::Image {
            media_type,
            config,
            layers,
        } => (media_type, config, layers),
        Parsed::Index(_) => bail!("the image's manifest is an index"),
    };
    if layer_descs.len() != rec.layers.len() {
        bail!(
            "the image's manifest lists {} layers, its record {}",
            layer_descs.len(),
            rec.layers.len()
        );
    }
    let format = po.format.unwrap_or(if orig_mt == DOCKER_MANIFEST {
        PushFormat::V2s2
    } else {
        PushFormat::Oci
    });
    let info = BlobInfo::load(store);
    let plans: Vec<LayerPlan> = rec
        .layers
        .iter()
        .map(|l| {
            let have = LayerCompression::of_media_type(&l.media_type);
            let want = po.compression.unwrap_or(have);
            LayerPlan {
                orig_digest: l.digest.clone(),
                orig_media_type: l.media_type.clone(),
                orig_size: l.size,
                orig_diff_id: l.diff_id.to_string(),
                chain_id: l.chain_id.clone(),
                want,
                made: info
                    .made
                    .get(&format!("{} {}", l.chain_id, want.name()))
                    .cloned(),
            }
        })
        .collect();
    for p in &plans {
        p.want.layer_media_type(format)?;
    }

    // Where each blob may be mounted from: repositories of the same
    // registry, the image's own names for its own blobs, and where earlier
    // pushes put a blob. The token is asked for all of them at once.
    let same_registry = |n: &str| -> Option<String> {
        let r = Reference::parse(n).ok()?;
        (r.registry == dest.registry && r.repository != dest.repository).then_some(r.repository)
    };
    let own: Vec<String> = rec
        .names
        .iter()
        .chain(rec.repo_digests.iter())
        .filter_map(|n| same_registry(n))
        .collect();
    let mut mount_from: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &plans {
        let mut add = |d: &str, extra: &[String]| {
            let repos = mount_from.entry(d.to_string()).or_default();
            let known = info.locations.get(d).into_iter().flatten();
            for r in extra
                .iter()
                .cloned()
                .chain(known.filter_map(|l| same_registry(l)))
            {
                if !repos.contains(&r) && repos.len() < MAX_MOUNT_SOURCES {
                    repos.push(r);
                }
            }
        };
        add(p.orig_digest.as_ref(), &own);
        if let Some(m) = &p.made {
            add(&m.digest, &[]);
        }
    }
    let mut sources: BTreeSet<String> = mount_from.values().flatten().cloned().collect();
    while sources.len() > MAX_SCOPED_SOURCES {
        sources.pop_last();
    }
    mount_from
        .values_mut()
        .for_each(|v| v.retain(|r| sources.contains(r)));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the network runtime")?;
    let ctx = Ctx {
        store,
        mount_from: &mount_from,
        progress,
    };
    let (report, learnt) = rt.block_on(async {
        let mut client = RegistryClient::connect(
            &dest.registry,
            &dest.repository,
            settings.insecure,
            po.registry.tls_verify,
            po.registry.cert_dir.as_deref(),
            creds,
        )
        .await?;
        let mut scopes = vec![format!("repository:{}:pull,push", dest.repository)];
        scopes.extend(sources.iter().map(|s| format!("repository:{s}:pull")));
        client.set_scopes(scopes);
        progress.step(PushStep::GettingSignatures);
        ctx.push_all(
            &client,
            dest,
            rec,
            format,
            &orig_mt,
            &manifest_bytes,
            &config_desc,
            &layer_descs,
            &plans,
        )
        .await
    })?;
    drop(rt);
    if let Err(e) = BlobInfo::save(store, &learnt) {
        warn!("remembering where the blobs went: {e:#}");
    }
    Ok(report)
}

struct Ctx<'a> {
    store: &'a Store,
    /// blob digest -> repositories to try to mount it from.
    mount_from: &'a BTreeMap<String, Vec<String>>,
    progress: &'a dyn PushProgress,
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    async fn push_all(
        &self,
        client: &RegistryClient,
        dest: &Reference,
        rec: &ImageRecord,
        format: PushFormat,
        orig_mt: &str,
        manifest_bytes: &[u8],
        config_desc: &super::manifest::Descriptor,
        layer_descs: &[super::manifest::Descriptor],
        plans: &[LayerPlan],
    ) -> Result<(PushReport, BlobInfo)> {
        let here = dest.repo_name();
        let sem = tokio::sync::Semaphore::new(MAX_PARALLEL_BLOBS);
        let tasks = plans.iter().map(|p| {
            let sem = &sem;
            async move {
                let _permit = sem.acquire().await.expect("semaphore");
                self.push_layer(client, p)
                    .await
                    .with_context(|| format!("layer {}", p.orig_digest))
            }
        });
        let pushed: Vec<(PushedLayer, Option<MadeBlob>)> =
            futures_util::future::try_join_all(tasks).await?;
        let mut learnt = BlobInfo::default();
        for ((l, made), p) in pushed.iter().zip(plans) {
            learnt
                .locations
                .entry(l.digest.clone())
                .or_default()
                .insert(here.clone());
            if let Some(m) = made {
                learnt
                    .made
                    .insert(format!("{} {}", p.chain_id, p.want.name()), m.clone());
            }
        }

        // The config: the stored one, or with the diff ids of layers that
        // were made again.
        let mut config_bytes = self
            .store
            .read_blob(&rec.config_digest)
            .context("reading the image config")?;
        let diff_ids_changed = pushed
            .iter()
            .zip(plans)
            .any(|((l, _), p)| l.diff_id != p.orig_diff_id);
        if diff_ids_changed {
            let mut cfg: serde_json::Value =
                serde_json::from_slice(&config_bytes).context("parsing the image config")?;
            cfg["rootfs"]["diff_ids"] = serde_json::Value::Array(
                pushed
                    .iter()
                    .map(|(l, _)| serde_json::Value::String(l.diff_id.clone()))
                    .collect(),
            );
            config_bytes = serde_json::to_vec(&cfg)?;
        }
        let config_digest = crate::storage::sha256_digest(&config_bytes).to_string();
        self.push_small_blob(client, &config_digest, &config_bytes)
            .await
            .context("pushing the config")?;
        learnt
            .locations
            .entry(config_digest.clone())
            .or_default()
            .insert(here.clone());
        self.progress.step(PushStep::Config(&config_digest));

        // The manifest: the stored bytes when nothing changed (the same
        // digest as the source), else a new one in the wanted format.
        let target_mt = match format {
            PushFormat::Oci => OCI_MANIFEST,
            PushFormat::V2s2 => DOCKER_MANIFEST,
        };
        let unchanged = target_mt == orig_mt
            && config_digest.as_str() == config_desc.digest.as_ref()
            && pushed.iter().zip(layer_descs).all(|((l, _), d)| {
                l.digest.as_str() == d.digest.as_ref()
                    && l.compression.layer_media_type(format).ok() == Some(d.media_type.as_str())
            });
        let manifest = if unchanged {
            manifest_bytes.to_vec()
        } else {
            build_manifest(
                format,
                manifest_bytes,
                &config_digest,
                config_bytes.len() as u64,
                &pushed.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
            )?
        };
        self.progress.step(PushStep::WritingManifest);
        // A destination without a tag (an image of a manifest list) is
        // written by its digest.
        let by_digest = crate::storage::sha256_digest(&manifest).to_string();
        let tag = match (&dest.tag, &dest.digest) {
            (Some(t), _) => t.as_str(),
            (None, None) => by_digest.as_str(),
            (None, Some(_)) => "latest",
        };
        put_manifest_at(client, tag, target_mt, manifest.clone())
            .await
            .context("writing the manifest")?;
        self.progress.step(PushStep::StoringSignatures);
        Ok((
            PushReport {
                digest: Some(crate::storage::sha256_digest(&manifest).to_string()),
                destination: dest.to_string(),
                size: manifest.len() as u64,
                media_type: target_mt.to_string(),
            },
            learnt,
        ))
    }

    /// Get one layer to the destination: what it is there, and the blob
    /// made for it if one was.
    async fn push_layer(
        &self,
        client: &RegistryClient,
        p: &LayerPlan,
    ) -> Result<(PushedLayer, Option<MadeBlob>)> {
        let have = LayerCompression::of_media_type(&p.orig_media_type);
        // 1. The original blob, when its compression is the one wanted.
        if have == p.want {
            let orig = PushedLayer {
                digest: p.orig_digest.to_string(),
                size: p.orig_size,
                diff_id: p.orig_diff_id.clone(),
                compression: have,
            };
            if let Some(outcome) = self.reuse(client, p.orig_digest.as_ref()).await? {
                self.progress
                    .step(PushStep::Blob(p.orig_digest.as_ref(), outcome));
                return Ok((orig, None));
            }
            if self.store.has_blob(&p.orig_digest) {
                let path = self.store.blob_path(&p.orig_digest);
                let (digest, size, diff_id) = (
                    p.orig_digest.to_string(),
                    p.orig_size,
                    p.orig_diff_id.clone(),
                );
                let bar = self.progress.blob(&digest, size);
                upload(client, &*bar, Some(p.orig_digest.as_ref()), move |out| {
                    copy_verified(&path, &digest, size, out)?;
                    Ok(MadeBlob {
                        digest: digest.clone(),
                        size,
                        diff_id: diff_id.clone(),
                    })
                })
                .await?;
                bar.done();
                self.progress.step(PushStep::Blob(
                    p.orig_digest.as_ref(),
                    BlobOutcome::Uploaded,
                ));
                return Ok((orig, None));
            }
        }
        // 2. A blob an earlier push made for this layer, if the destination
        // has it or can mount it.
        if let Some(m) = &p.made {
            if let Some(outcome) = self.reuse(client, &m.digest).await? {
                self.progress.step(PushStep::Blob(&m.digest, outcome));
                let l = PushedLayer {
                    digest: m.digest.clone(),
                    size: m.size,
                    diff_id: m.diff_id.clone(),
                    compression: p.want,
                };
                return Ok((l, None));
            }
        }
        // 3. Make it: recompress the stored blob (the diff id stays), or
        // write the layer's tar from its unpacked dir.
        let estimate = self
            .store
            .layer_info(&p.chain_id)
            .map(|i| i.uncompressed_size)
            .unwrap_or(p.orig_size);
        let bar = self.progress.blob(p.orig_digest.as_ref(), estimate);
        let want = p.want;
        let made = if self.store.has_blob(&p.orig_digest) {
            let (path, digest, size, diff_id) = (
                self.store.blob_path(&p.orig_digest),
                p.orig_digest.clone(),
                p.orig_size,
                p.orig_diff_id.clone(),
            );
            upload(client, &*bar, None, move |out| {
                let f = std::fs::File::open(&path)
                    .with_context(|| format!("opening blob {digest}"))?;
                let f = std::io::BufReader::with_capacity(CHUNK, f.take(size));
                let mut dec = crate::storage::decompressor(f)?;
                let m = make_blob(want, out, None, |w| {
                    std::io::copy(&mut dec, w)
                        .with_context(|| format!("recompressing blob {digest}"))?;
                    Ok(())
                })?;
                if m.diff_id != diff_id {
                    bail!(
                        "blob {digest} in the store does not unpack to its diff id {diff_id} (got {})",
                        m.diff_id
                    );
                }
                Ok(m)
            })
            .await?
        } else {
            if !self.store.has_layer(&p.chain_id) {
                bail!(
                    "neither its blob nor its unpacked layer {} is in the store",
                    p.chain_id
                );
            }
            let (store, chain) = (self.store.clone(), p.chain_id.clone());
            upload(client, &*bar, None, move |out| {
                let plan = plan_stored_layer(&store, &chain)?;
                let known = plan.digest.as_ref().map(|d| d.to_string());
                make_blob(want, out, known.as_deref(), |w| {
                    plan.write_to(w)
                        .with_context(|| format!("writing the tar of layer {chain}"))
                })
            })
            .await?
        };
        bar.done();
        debug!(
            "layer {}: made blob {} ({} bytes, diff id {})",
            p.orig_digest, made.digest, made.size, made.diff_id
        );
        self.progress
            .step(PushStep::Blob(&made.digest, BlobOutcome::Uploaded));
        let l = PushedLayer {
            digest: made.digest.clone(),
            size: made.size,
            diff_id: made.diff_id.clone(),
            compression: want,
        };
        Ok((l, Some(made)))
    }

    /// The blob is at the destination already (HEAD), or mounted there from
    /// one of the source repositories: how; None when neither.
    async fn reuse(&self, client: &RegistryClient, digest: &str) -> Result<Option<BlobOutcome>> {
        if blob_exists(client, digest).await? {
            return Ok(Some(BlobOutcome::Skipped));
        }
        let url = format!(
            "{}/v2/{}/blobs/uploads/",
            client.transport.base(),
            client.repository
        );
        for from in self.mount_from.get(digest).into_iter().flatten() {
            let resp = client
                .send(|| {
                    client
                        .transport
                        .client
                        .post(&url)
                        .query(&[("mount", digest), ("from", from.as_str())])
                        .header(reqwest::header::CONTENT_LENGTH, "0")
                })
                .await
                .map_err(FetchError::into_anyhow)?;
            match resp.status().as_u16() {
                201 => {
                    debug!("blob {digest} mounted from {}/{from}", client.registry);
                    return Ok(Some(BlobOutcome::Mounted));
                }
                // Not there: the registry opened an upload instead, left to expire.
                202 => debug!("blob {digest}: not mountable from {from}"),
                s => {
                    let u = resp.url().to_string();
                    let body = read_bounded(resp, MAX_SMALL_BODY, "an error answer", true)
                        .await
                        .unwrap_or_default();
                    let e = client.status_error(s, &body, &u).into_anyhow();
                    if matches!(crate::error::find(&e), Some(Error::Unauthorized { .. })) {
                        return Err(e);
                    }
                    debug!("blob {digest}: mount from {from} refused: {e:#}");
                }
            }
        }
        Ok(None)
    }

    /// A config: HEAD, else one monolithic upload.
    async fn push_small_blob(
        &self,
        client: &RegistryClient,
        digest: &str,
        bytes: &[u8],
    ) -> Result<()> {
        if blob_exists(client, digest).await? {
            return Ok(());
        }
        let location = start_upload(client).await?;
        let put = with_digest(&location, digest);
        let body = bytes.to_vec();
        let resp = client
            .send(|| {
                client
                    .transport
                    .client
                    .put(put.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone())
            })
            .await
            .map_err(FetchError::into_anyhow)?;
        expect_status(client, resp, &[201, 204]).await
    }
}

/// HEAD /v2/REPO/blobs/DIGEST: true on 2xx, false on 404, else the error.
async fn blob_exists(client: &RegistryClient, digest: &str) -> Result<bool> {
    let url = client.url("blobs", digest);
    with_retries(&format!("blob {digest}"), TRIES, || async {
        let resp = client.send(|| client.transport.client.head(&url)).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            s => {
                let u = resp.url().to_string();
                Err(client.status_error(s, b"", &u))
            }
        }
    })
    .await
}

/// POST /v2/REPO/blobs/uploads/: the session URL (absolute).
async fn start_upload(client: &RegistryClient) -> Result<reqwest::Url> {
    let url = format!(
        "{}/v2/{}/blobs/uploads/",
        client.transport.base(),
        client.repository
    );
    let resp = with_retries("starting an upload", TRIES, || async {
        let resp = client
            .send(|| {
                client
                    .transport
                    .client
                    .post(&url)
                    .header(reqwest::header::CONTENT_LENGTH, "0")
            })
            .await?;
        let s = resp.status().as_u16();
        if s == 202 {
            return Ok(resp);
        }
        let u = resp.url().to_string();
        let body = read_bounded(resp, MAX_SMALL_BODY, "an error answer", true)
            .await
            .unwrap_or_default();
        Err(client.status_error(s, &body, &u))
    })
    .await?;
    location_of(&resp)
}

/// The Location of an upload answer, resolved against the request's URL.
fn location_of(resp: &reqwest::Response) -> Result<reqwest::Url> {
    let loc = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("the registry's upload answer has no Location"))?;
    resolve_location(resp.url(), loc)
}

/// `loc` resolved against `base`; the credentials go with the upload, so
/// only to the registry itself: another origin is refused.
fn resolve_location(base: &reqwest::Url, loc: &str) -> Result<reqwest::Url> {
    let u = base
        .join(loc)
        .map_err(|e| anyhow!("the registry's upload Location {loc:?} is not a URL: {e}"))?;
    if u.origin() != base.origin() {
        bail!(
            "the registry sends the upload elsewhere ({}): refused",
            u.origin().ascii_serialization()
        );
    }
    Ok(u)
}

fn with_digest(location: &reqwest::Url, digest: &str) -> reqwest::Url {
    let mut u = location.clone();
    u.query_pairs_mut().append_pair("digest", digest);
    u
}

/// An answer must have one of the `ok` statuses; else its error as one line.
async fn expect_status(client: &RegistryClient, resp: reqwest::Response, ok: &[u16]) -> Result<()> {
    let s = resp.status().as_u16();
    if ok.contains(&s) {
        return Ok(());
    }
    let u = resp.url().to_string();
    let body = read_bounded(resp, MAX_SMALL_BODY, "an error answer", true)
        .await
        .unwrap_or_default();
    Err(client.status_error(s, &body, &u).into_anyhow())
}

fn is_transient(e: &anyhow::Error) -> bool {
    crate::error::find(e).is_some_and(Error::is_transient)
        || e.chain().any(|c| c.is::<reqwest::Error>())
}

/// Upload what `produce` writes, retrying transient failures (a producer
/// must write the same bytes each time). A blob whose digest is known goes
/// in one PUT; one made on the way in a PATCH, then a PUT with its digest.
async fn upload<F>(
    client: &RegistryClient,
    bar: &dyn BlobProgress,
    digest: Option<&str>,
    produce: F,
) -> Result<MadeBlob>
where
    F: Fn(&mut dyn Write) -> Result<MadeBlob> + Send + Sync + Clone + 'static,
{
    let mut attempt = 1;
    loop {
        debug!(
            "uploading a blob to {}/{}",
            client.registry, client.repository
        );
        let produce = produce.clone();
        // Retried on its own: only a failed stream starts over here.
        let location = start_upload(client).await?;
        match upload_stream(client, location, digest, bar, move |w| produce(w)).await {
            Ok(m) => return Ok(m),
            Err(e) if attempt < TRIES && is_transient(&e) => {
                debug!("uploading: {e:#}; retrying ({attempt}/{TRIES})");
                bar.restart();
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

const CHUNK: usize = 1 << 20;
/// How long an upload may make no progress (or wait for its answer).
const STALL: std::time::Duration = std::time::Duration::from_secs(120);

/// One upload into the session at `location` of what `produce` writes on a
/// blocking thread: one PUT ?digest= when the digest is known, else one
/// PATCH, then PUT ?digest= with the digest `produce` found. The registry
/// checks the digest too.
async fn upload_stream<F>(
    client: &RegistryClient,
    location: reqwest::Url,
    known_digest: Option<&str>,
    bar: &dyn BlobProgress,
    produce: F,
) -> Result<MadeBlob>
where
    F: FnOnce(&mut dyn Write) -> Result<MadeBlob> + Send + 'static,
{
    use std::sync::atomic::{AtomicU64, Ordering};
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let producer = tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter::new(tx);
        let r = produce(&mut w).and_then(|m| {
            w.send_buf()?;
            Ok(m)
        });
        if let Err(e) = &r {
            // Make the request fail rather than end as if complete.
            let _ =
                w.tx.blocking_send(Err(std::io::Error::other(format!("{e:#}"))));
        }
        r
    });
    let sent = std::sync::Arc::new(AtomicU64::new(0));
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let body = ChannelBody {
        rx,
        sent: sent.clone(),
        finished: finished.clone(),
    };
    let uploads = client.transport.upload_client()?;
    let start = match known_digest {
        Some(d) => uploads.put(with_digest(&location, d)),
        None => uploads.patch(location.clone()),
    };
    let req = client
        .authorize(start.header(reqwest::header::CONTENT_TYPE, "application/octet-stream"))
        .await
        .map_err(FetchError::into_anyhow)?
        .body(reqwest::Body::wrap(body));
    let send = req.send();
    tokio::pin!(send);
    let mut shown = 0;
    // No read timeout on this client: a stall is what is watched for
    // instead (nothing sent for STALL, or no answer for STALL once all is).
    let mut last_progress = std::time::Instant::now();
    let resp = loop {
        tokio::select! {
            r = &mut send => break Some(r),
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                let n = sent.load(Ordering::Relaxed);
                if n != shown {
                    bar.advance(n - shown);
                    shown = n;
                    last_progress = std::time::Instant::now();
                } else if last_progress.elapsed() > STALL {
                    break None;
                }
            }
        }
    };
    bar.advance(sent.load(Ordering::Relaxed) - shown);
    let Some(resp) = resp else {
        producer.abort();
        let what = if finished.load(Ordering::Relaxed) {
            "no answer"
        } else {
            "nothing could be sent"
        };
        return Err(anyhow::Error::new(Error::Transient(format!(
            "uploading to {}: {what} for {} s",
            client.registry,
            STALL.as_secs()
        ))));
    };
    let made = producer
        .await
        .map_err(|e| anyhow!("the blob writer failed: {e}"))?;
    let resp = match (resp, made) {
        (_, Err(e)) if !e.chain().any(|c| c.is::<ChannelClosed>()) => return Err(e),
        (Err(e), _) => {
            let e = client.network(e).into_anyhow();
            return Err(anyhow::Error::new(Error::Transient(format!(
                "uploading: {e:#}"
            ))));
        }
        (Ok(_), Err(e)) => return Err(e),
        (Ok(resp), Ok(m)) => (resp, m),
    };
    let (resp, made) = resp;
    let s = resp.status().as_u16();
    if known_digest.is_some() {
        // Monolithic: that PUT was the last request.
        if known_digest != Some(made.digest.as_str()) {
            bail!("uploading: wrote {} for {known_digest:?}", made.digest);
        }
        expect_status(client, resp, &[201, 204]).await?;
        return Ok(made);
    }
    if s != 202 && s != 204 {
        let u = resp.url().to_string();
        let body = read_bounded(resp, MAX_SMALL_BODY, "an error answer", true)
            .await
            .unwrap_or_default();
        return Err(client.status_error(s, &body, &u).into_anyhow());
    }
    let next = location_of(&resp).unwrap_or(location);
    let put = with_digest(&next, &made.digest);
    let resp = client
        .send(|| {
            client
                .transport
                .client
                .put(put.clone())
                .header(reqwest::header::CONTENT_LENGTH, "0")
        })
        .await
        .map_err(FetchError::into_anyhow)?;
    expect_status(client, resp, &[201, 204]).await?;
    Ok(made)
}

/// The request side stopped reading (its own error says why).
#[derive(Debug)]
struct ChannelClosed;

impl std::fmt::Display for ChannelClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the upload stopped")
    }
}
impl std::error::Error for ChannelClosed {}

type Chunk = std::result::Result<bytes::Bytes, std::io::Error>;

/// The blocking side of an upload: what is written goes to the request in
/// chunks of CHUNK bytes, in buffers that come back to `pool` once sent
/// (a fresh MiB for each would be page-faulted in anew each time).
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Chunk>,
    buf: Vec<u8>,
    pool: BufPool,
}

type BufPool = std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// A sent chunk's buffer, back to its pool when the request is done with it.
struct Pooled {
    buf: Vec<u8>,
    pool: BufPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut b = std::mem::take(&mut self.buf);
        b.clear();
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        // As many as can be on their way at once (the channel's and the
        // request's), no more.
        if pool.len() < 16 {
            pool.push(b);
        }
    }
}

impl ChannelWriter {
    fn new(tx: tokio::sync::mpsc::Sender<Chunk>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            pool: BufPool::default(),
        }
    }

    fn send_buf(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let b = std::mem::replace(&mut self.buf, next);
        let chunk = bytes::Bytes::from_owner(Pooled {
            buf: b,
            pool: self.pool.clone(),
        });
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other(ChannelClosed))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send_buf()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The request side of an upload: a body of what the channel brings.
struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// All of it went.
    finished: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<http_body::Frame<bytes::Bytes>, std::io::Error>>>
    {
        use std::task::Poll;
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.sent
                    .fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
                Poll::Ready(Some(Ok(http_body::Frame::data(b))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => {
                self.finished
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Copy a stored blob to `out`, failing unless its size and sha256 match.
fn copy_verified(path: &Path, digest: &str, size: u64, out: &mut dyn Write) -> Result<()> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening blob {digest}"))?;
    let mut h = HashWriter::new(out);
    // Read a MiB at a time (io::copy's own buffer is 8 KiB).
    let mut r = std::io::BufReader::with_capacity(CHUNK, (&mut f).take(size + 1));
    let n = std::io::copy(&mut r, &mut h).with_context(|| format!("reading blob {digest}"))?;
    let got = h.digest().to_string();
    if n != size || got != digest {
        bail!("blob {digest} in the store is damaged: {n} bytes with digest {got} (expected {size} bytes)");
    }
    Ok(())
}

/// Compress what `fill` writes (an uncompressed layer tar) into `out`:
/// the blob's digest and size, and the tar's diff id.
fn make_blob(
    want: LayerCompression,
    out: &mut dyn Write,
    known_diff_id: Option<&str>,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<MadeBlob> {
    /// The tar's own digest only when it is not known already (a layer
    /// given back from its tar-split is its diff id by construction: the
    /// recorded headers, and files checked for their recorded size), so a
    /// made blob costs one sha256 pass, not two.
    fn tar_of<W: Write>(w: W, known: Option<&str>) -> TarDigest<W> {
        TarDigest {
            hw: HashWriter::new(w),
            hash: known.is_none(),
        }
    }
    let mut blob = HashWriter::new(out);
    let diff_id = match want {
        LayerCompression::None => {
            let mut tar = tar_of(&mut blob, known_diff_id);
            fill(&mut tar)?;
            tar.digest(known_diff_id)
        }
        LayerCompression::Gzip => {
            // Level 1 where it pays, stored where it doesn't.
            let gz = super::archive_gzip::AdaptiveGz::new(&mut blob)?;
            let mut tar = tar_of(gz, known_diff_id);
            fill(&mut tar)?;
            let d = tar.digest(known_diff_id);
            tar.hw.inner.finish().context("compressing (gzip)")?;
            d
        }
        LayerCompression::Zstd => {
            let z = zstd::stream::write::Encoder::new(&mut blob, 3).context("starting zstd")?;
            let mut tar = tar_of(z, known_diff_id);
            fill(&mut tar)?;
            let d = tar.digest(known_diff_id);
            tar.hw.inner.finish().context("compressing (zstd)")?;
            d
        }
    };
    Ok(MadeBlob {
        digest: blob.digest().to_string(),
        size: blob.n,
        diff_id,
    })
}

/// A tar on its way into a compressor: hashed unless its digest is known.
struct TarDigest<W: Write> {
    hw: HashWriter<W>,
    hash: bool,
}

impl<W: Write> TarDigest<W> {
    fn digest(&mut self, known: Option<&str>) -> String {
        match known {
            Some(d) => d.to_string(),
            None => self.hw.digest().to_string(),
        }
    }
}

impl<W: Write> Write for TarDigest<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.hash {
            self.hw.write(b)
        } else {
            self.hw.inner.write(b)
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.hw.inner.flush()
    }
}

/// A manifest in `format` for the config and layers given, keeping the
/// original's annotations.
fn build_manifest(
    format: PushFormat,
    original: &[u8],
    config_digest: &str,
    config_size: u64,
    layers: &[PushedLayer],
) -> Result<Vec<u8>> {
    let orig: serde_json::Value = serde_json::from_slice(original).unwrap_or_default();
    let (mt, config_mt) = match format {
        PushFormat::Oci => (OCI_MANIFEST, OCI_CONFIG),
        PushFormat::V2s2 => (DOCKER_MANIFEST, DOCKER_CONFIG),
    };
    let mut layer_list = Vec::new();
    for l in layers {
        layer_list.push(serde_json::json!({
            "mediaType": l.compression.layer_media_type(format)?,
            "digest": l.digest,
            "size": l.size,
        }));
    }
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": config_mt, "digest": config_digest, "size": config_size},
        "layers": layer_list,
    });
    if format == PushFormat::Oci {
        if let Some(a) = orig.get("annotations") {
            m["annotations"] = a.clone();
        }
    }
    Ok(serde_json::to_vec(&m)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::archive_tar::write_layer_tar;

    #[test]
    fn destinations() {
        let r = |s: &str| match Destination::parse(s).unwrap() {
            Destination::Registry(r) => r.to_string(),
            d => panic!("{d:?}"),
        };
        assert_eq!(
            r("docker://localhost:5000/a/b"),
            "localhost:5000/a/b:latest"
        );
        assert_eq!(r("localhost:5000/a:1"), "localhost:5000/a:1");
        assert_eq!(r("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(
            Destination::parse("oci-archive:/tmp/x.tar").unwrap(),
            Destination::Transport {
                name: "oci-archive".into(),
                arg: "/tmp/x.tar".into()
            }
        );
        assert!(Destination::parse("localhost:5000/a@sha256:0000000000000000000000000000000000000000000000000000000000000000").is_err());
        assert!(Destination::parse("docker://Not A Ref").is_err());
    }

    #[test]
    fn upload_locations_stay_on_the_registry() {
        let base = reqwest::Url::parse("https://localhost:5443/v2/a/blobs/uploads/").unwrap();
        let u = resolve_location(&base, "/v2/a/blobs/uploads/123?_state=x").unwrap();
        assert_eq!(
            u.as_str(),
            "https://localhost:5443/v2/a/blobs/uploads/123?_state=x"
        );
        assert!(resolve_location(&base, "https://localhost:5443/v2/a/blobs/uploads/1").is_ok());
        for evil in [
            "http://localhost:5443/v2/a/blobs/uploads/1",
            "https://localhost:5444/x",
            "https://169.254.169.254/latest",
            "//elsewhere.example/x",
        ] {
            let e = resolve_location(&base, evil).unwrap_err().to_string();
            assert!(e.contains("elsewhere"), "{evil}: {e}");
        }
    }

    #[test]
    fn media_types_per_format() {
        use LayerCompression::*;
        assert_eq!(
            Gzip.layer_media_type(PushFormat::V2s2).unwrap(),
            super::super::manifest::DOCKER_LAYER_GZIP
        );
        assert_eq!(
            Zstd.layer_media_type(PushFormat::Oci).unwrap(),
            super::super::manifest::OCI_LAYER_ZSTD
        );
        assert!(Zstd.layer_media_type(PushFormat::V2s2).is_err());
        assert_eq!(
            LayerCompression::of_media_type(super::super::manifest::DOCKER_LAYER_GZIP),
            Gzip
        );
    }

    #[test]
    fn made_blobs_are_reproducible_and_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("etc/sub")).unwrap();
        std::fs::write(root.join("etc/hello"), b"world").unwrap();
        std::fs::hard_link(root.join("etc/hello"), root.join("etc/again")).unwrap();
        std::os::unix::fs::symlink("../etc/hello", root.join("etc/sub/l")).unwrap();
        {
            use std::os::fd::AsFd;
            let f = std::fs::File::open(root.join("etc/hello")).unwrap();
            crate::sys::fsx::fsetxattr(f.as_fd(), "user.note", b"hi").unwrap();
            let d = std::fs::File::open(root.join("etc/sub")).unwrap();
            crate::sys::fsx::fsetxattr(d.as_fd(), "user.overlay.opaque", b"y").unwrap();
        }
        let mk = |c| {
            let mut out = Vec::new();
            let m = make_blob(c, &mut out, None, |w| write_layer_tar(root, w)).unwrap();
            (m, out)
        };
        for c in [
            LayerCompression::None,
            LayerCompression::Gzip,
            LayerCompression::Zstd,
        ] {
            let (m1, b1) = mk(c);
            let (m2, _) = mk(c);
            assert_eq!(m1, m2, "{c:?}: the same blob twice");
            assert_eq!(m1.digest, crate::storage::sha256_digest(&b1).to_string());
            assert_eq!(m1.size, b1.len() as u64);
            let mut plain = Vec::new();
            crate::storage::decompressor(&b1[..])
                .unwrap()
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(
                m1.diff_id,
                crate::storage::sha256_digest(&plain).to_string()
            );
            let mut a = tar::Archive::new(&plain[..]);
            let mut xattrs = Vec::new();
            let entries: Vec<(String, tar::EntryType)> = a
                .entries()
                .unwrap()
                .map(|e| {
                    let mut e = e.unwrap();
                    let p = e.path().unwrap().display().to_string();
                    if let Some(x) = e.pax_extensions().unwrap() {
                        for r in x {
                            let r = r.unwrap();
                            xattrs.push((
                                p.clone(),
                                r.key().unwrap().to_string(),
                                r.value_bytes().to_vec(),
                            ));
                        }
                    }
                    (p, e.header().entry_type())
                })
                .collect();
            assert_eq!(
                entries,
                vec![
                    ("etc/".into(), tar::EntryType::Directory),
                    ("etc/again".into(), tar::EntryType::Regular),
                    ("etc/hello".into(), tar::EntryType::Link),
                    ("etc/sub/".into(), tar::EntryType::Directory),
                    ("etc/sub/.wh..wh..opq".into(), tar::EntryType::Regular),
                    ("etc/sub/l".into(), tar::EntryType::Symlink),
                ]
            );
            // The user xattr travels (on the first of the two links); the
            // store's overlay metadata does not.
            assert_eq!(
                xattrs,
                vec![(
                    "etc/again".to_string(),
                    "SCHILY.xattr.user.note".to_string(),
                    b"hi".to_vec()
                )]
            );
        }
    }
}
