//! Manifest lists kept locally (podman's `manifest` commands).
//!
//! A list is an image record, as podman's is: it has a name (`images` shows
//! it, `rmi` removes it), an id of its own (random, kept as the list
//! changes) and no layers. Its `digest` is the blob of the list as
//! `manifest inspect` prints it (a Docker manifest list, podman 4.3's
//! indentation), its `config_digest` the blob of rpod's state of the list
//! (each instance's descriptor, platform, annotations and the repository
//! it came from, podman's `instances.json`). Both are content addressed:
//! every change writes new blobs and rewrites the record under the store
//! lock, and garbage collection drops the old ones.
//!
//! Instances are not copied when added (as podman): an image added from a
//! registry stays there until `manifest push --all` needs it, which then
//! pulls it by digest (verified) before pushing it on.

use super::client::RegistryClient;
use super::manifest::{
    choose_platform, parse_manifest, wanted_platform, Descriptor, Kind, Parsed, DOCKER_LIST,
    DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST,
};
use super::pull::{check_digest, connect, fetch_manifest, fetch_small_blob, MAX_MANIFEST_SIZE};
use super::reference::Reference;
use super::registries::RegistriesConf;
use super::RegistryOptions;
use super::{Platform, PullOptions, PullProgress, PushFormat, PushOptions, PushProgress};
use crate::error::{Error, Kind as ErrKind};
use crate::options::Options;
use crate::storage::{sha256_digest, Digest, ImageRecord, Store};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most instances a list may hold (a 4 MiB index holds about 20000).
const MAX_INSTANCES: usize = 10_000;

/// The platform of an instance, as `annotate` sets it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPlatform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// One image of a list.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub platform: ListPlatform,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The repository ("registry/repo") it was added from; None for a
    /// local image.
    #[serde(default)]
    pub source: Option<String>,
}

impl Instance {
    /// An entry to check an edit against (annotate of a digest the list
    /// does not have).
    fn placeholder() -> Instance {
        Instance {
            digest: sha256_digest(b""),
            media_type: String::new(),
            size: 0,
            platform: ListPlatform::default(),
            annotations: BTreeMap::new(),
            source: None,
        }
    }
}

/// rpod's state of a list (the record's "config" blob).
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
struct ListState {
    #[serde(rename = "rpodManifestList")]
    version: u32,
    instances: Vec<Instance>,
}

/// What `add` and `annotate` may set on an instance.
#[derive(Debug, Clone, Default)]
pub struct InstanceEdit {
    pub arch: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub os_features: Vec<String>,
    pub variant: Option<String>,
    pub features: Vec<String>,
    /// KEY=VALUE.
    pub annotations: Vec<String>,
}

/// Whether a record is a manifest list.
pub fn is_list(rec: &ImageRecord) -> bool {
    rec.layers.is_empty()
        && (rec.manifest_media_type == DOCKER_LIST || rec.manifest_media_type == OCI_INDEX)
}

fn not_a_list(name: &str) -> anyhow::Error {
    anyhow!("{name}: image is not a manifest list")
}

/// The local list `name`, or podman's errors.
pub fn find_list(store: &Store, name: &str) -> Result<ImageRecord> {
    let rec = store
        .find_image(name)?
        .ok_or_else(|| Error::not_found(ErrKind::Image, name))?;
    if !is_list(&rec) {
        return Err(not_a_list(&display_name(&rec, name)));
    }
    Ok(rec)
}

fn display_name(rec: &ImageRecord, typed: &str) -> String {
    rec.names
        .first()
        .cloned()
        .unwrap_or_else(|| typed.to_string())
}

fn read_state(store: &Store, rec: &ImageRecord) -> Result<ListState> {
    let b = store
        .read_blob(&rec.config_digest)
        .with_context(|| format!("reading manifest list {}", rec.id))?;
    serde_json::from_slice(&b).with_context(|| format!("parsing manifest list {}", rec.id))
}

/// An index entry's platform as written out (key order as podman's).
#[derive(Serialize)]
struct OutPlatform<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    os_version: Option<&'a str>,
    #[serde(rename = "os.features", skip_serializing_if = "Option::is_none")]
    os_features: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<&'a [String]>,
}

/// An index entry as written out: Docker's key order (mediaType, size,
/// digest) or OCI's (mediaType, digest, size).
#[derive(Serialize)]
struct OutEntry<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    digest: String,
    #[serde(rename = "size", skip_serializing_if = "Option::is_none")]
    oci_size: Option<u64>,
    platform: OutPlatform<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct OutIndex<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    manifests: Option<Vec<OutEntry<'a>>>,
}

/// The list in one of three forms: podman's `inspect` (a Docker list; no
/// features, as podman 4.3 shows it), or pushed as `format`.
fn feats(v: &[String], shown: bool) -> Option<&[String]> {
    (shown && !v.is_empty()).then_some(v)
}

fn render(state: &ListState, format: Option<PushFormat>) -> OutIndex<'_> {
    let docker = format != Some(PushFormat::Oci);
    let entries: Vec<OutEntry> = state
        .instances
        .iter()
        .map(|i| {
            let p = &i.platform;
            OutEntry {
                media_type: &i.media_type,
                size: docker.then_some(i.size),
                digest: i.digest.to_string(),
                oci_size: (!docker).then_some(i.size),
                platform: OutPlatform {
                    architecture: &p.architecture,
                    os: &p.os,
                    os_version: p.os_version.as_deref(),
                    os_features: feats(&p.os_features, format.is_some()),
                    variant: p.variant.as_deref(),
                    features: feats(&p.features, format == Some(PushFormat::V2s2)),
                },
                annotations: (!i.annotations.is_empty() && format != Some(PushFormat::V2s2))
                    .then_some(&i.annotations),
            }
        })
        .collect();
    OutIndex {
        schema_version: 2,
        media_type: if docker { DOCKER_LIST } else { OCI_INDEX },
        manifests: if entries.is_empty() && format.is_none() {
            None
        } else {
            Some(entries)
        },
    }
}

/// podman's `manifest inspect` of a local list: a Docker manifest list
/// with 4-space indentation ("manifests": null when empty).
fn render_inspect(state: &ListState) -> Vec<u8> {
    pretty(&render(state, None))
}

/// JSON with podman's 4-space indentation.
fn pretty<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser).expect("serializing JSON to memory");
    out
}

/// The index pushed to a registry, in `format`.
fn render_push(state: &ListState, format: PushFormat) -> Vec<u8> {
    serde_json::to_vec(&render(state, Some(format))).expect("serializing JSON to memory")
}

/// Store the list's blobs, then its record (under the store lock, by
/// `put_list`: refused when the list changed since `prev`, its state then).
fn save(
    store: &Store,
    prev: Option<&Digest>,
    id: &str,
    names: Vec<String>,
    created: Option<String>,
    state: &ListState,
) -> Result<ImageRecord> {
    if state.instances.len() > MAX_INSTANCES {
        bail!("a manifest list holds at most {MAX_INSTANCES} images");
    }
    let state_bytes = serde_json::to_vec(state)?;
    let state_digest = sha256_digest(&state_bytes);
    let index = render_inspect(state);
    let index_digest = sha256_digest(&index);
    // Held so a concurrent rmi's gc can't take the blobs before the record
    // that keeps them is written.
    let _hold = store.hold_layers()?;
    store
        .put_blob(&state_digest, &state_bytes)
        .context("storing the manifest list")?;
    store
        .put_blob(&index_digest, &index)
        .context("storing the manifest list")?;
    let now = crate::time::now_rfc3339();
    let rec = ImageRecord {
        id: id.to_string(),
        names,
        digest: index_digest,
        repo_digests: Vec::new(),
        manifest_media_type: DOCKER_LIST.to_string(),
        config_digest: state_digest,
        layers: Vec::new(),
        size: (state_bytes.len() + index.len()) as u64,
        created: created.or_else(|| Some(now.clone())),
        pulled: now,
        os: String::new(),
        architecture: String::new(),
        variant: None,
    };
    store.put_list(&rec, prev)?;
    Ok(rec)
}

/// `manifest create`: a new empty list named `name` (or, with `amend`, the
/// existing one). Returns its record.
pub fn create(store: &Store, name: &str, amend: bool) -> Result<ImageRecord> {
    let full = super::normalize_local_name(name)?;
    if let Some(old) = store.find_image(&full)?.filter(|r| r.names.contains(&full)) {
        if amend && is_list(&old) {
            return Ok(old);
        }
        if amend {
            return Err(not_a_list(&full));
        }
        bail!(
            "creating image to hold manifest list: image name \"{full}\" is already associated with image \"{}\": that name is already in use",
            old.id
        );
    }
    let id = crate::container::names::new_id();
    let rec = save(
        store,
        None,
        &id,
        vec![full.clone()],
        None,
        &ListState {
            version: 1,
            instances: vec![],
        },
    )
    .context("creating image to hold manifest list")?;
    crate::events::image(store.runroot(), "create", &rec.id, &full);
    Ok(rec)
}

/// Apply `edit` to an instance.
fn apply(i: &mut Instance, e: &InstanceEdit) -> Result<()> {
    if let Some(v) = &e.arch {
        i.platform.architecture = v.clone();
    }
    if let Some(v) = &e.os {
        i.platform.os = v.clone();
    }
    if let Some(v) = &e.os_version {
        i.platform.os_version = Some(v.clone());
    }
    if !e.os_features.is_empty() {
        i.platform.os_features = e.os_features.clone();
    }
    if let Some(v) = &e.variant {
        i.platform.variant = Some(v.clone());
    }
    if !e.features.is_empty() {
        i.platform.features = e.features.clone();
    }
    for a in &e.annotations {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| anyhow!("no value given for annotation \"{a}\""))?;
        if k.is_empty() {
            bail!("invalid annotation \"{a}\": an empty key");
        }
        i.annotations.insert(k.to_string(), v.to_string());
    }
    Ok(())
}

/// Where an image to add comes from.
enum Source<'a> {
    Local(&'a str),
    Remote(&'a str),
}

fn source_of(image: &str) -> Source<'_> {
    if let Some(l) = image.strip_prefix("containers-storage:") {
        Source::Local(l)
    } else {
        Source::Remote(image.strip_prefix("docker://").unwrap_or(image))
    }
}

/// The instance of a local (non-list) image.
fn local_instance(store: &Store, name: &str) -> Result<Instance> {
    let rec = super::find_image(store, name)?;
    if is_list(&rec) {
        bail!("{name}: adding a manifest list to a manifest list is not supported");
    }
    let manifest = store
        .read_blob(&rec.digest)
        .with_context(|| format!("{name}: reading its manifest"))?;
    Ok(Instance {
        digest: rec.digest.clone(),
        media_type: rec.manifest_media_type.clone(),
        size: manifest.len() as u64,
        platform: ListPlatform {
            architecture: rec.architecture.clone(),
            os: rec.os.clone(),
            variant: rec.variant.clone(),
            ..Default::default()
        },
        annotations: BTreeMap::new(),
        source: None,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")
}

/// A manifest fetched from a registry, verified.
struct Fetched {
    repo: String,
    digest: Digest,
    bytes: Vec<u8>,
    client: RegistryClient,
}

/// Resolve `name` and fetch its top manifest from the first candidate
/// that has it.
async fn fetch_top(opts: &Options, name: &str, reg: &RegistryOptions) -> Result<Fetched> {
    let conf = RegistriesConf::load(opts)?;
    let candidates = conf.resolve(name)?;
    let mut errors = Vec::new();
    for cand in &candidates {
        let (source, settings) = conf.pull_source(cand)?;
        let got = async {
            let client = connect(&source, &settings, reg).await?;
            let top = match (&source.digest, &source.tag) {
                (Some(d), _) => d.clone(),
                (None, Some(t)) => t.clone(),
                (None, None) => "latest".to_string(),
            };
            let bytes = fetch_manifest(&client, &top).await?;
            if let Some(d) = &source.digest {
                check_digest("manifest", &bytes, &crate::storage::parse_digest(d)?)?;
            }
            Ok::<_, anyhow::Error>(Fetched {
                repo: cand.repo_name(),
                digest: sha256_digest(&bytes),
                bytes,
                client,
            })
        }
        .await;
        match got {
            Ok(f) => return Ok(f),
            Err(e) if candidates.len() > 1 => errors.push(format!("{cand}: {e:#}")),
            Err(e) => return Err(e.context(format!("reading manifest of {cand}"))),
        }
    }
    bail!("{name}: no candidate could be read: {}", errors.join("; "))
}

/// An index entry checked before it is trusted: a manifest type rpod
/// knows, a size within the manifest limit.
fn checked_entry(d: &Descriptor) -> Result<()> {
    match super::manifest::media_type(&d.media_type) {
        Some(m) if m.kind == Kind::Manifest => {}
        Some(m) if m.kind == Kind::Index => {
            bail!(
                "manifest {}: an index inside an index is not supported",
                d.digest
            )
        }
        _ => bail!(
            "manifest {}: unsupported manifest media type \"{}\"",
            d.digest,
            d.media_type
        ),
    }
    if d.size == 0 || d.size > MAX_MANIFEST_SIZE {
        bail!(
            "manifest {}: a declared size of {} bytes is not within 1 byte to 4 MiB",
            d.digest,
            d.size
        );
    }
    Ok(())
}

fn platform_of(d: &Descriptor) -> ListPlatform {
    let p = d.platform.clone().unwrap_or_default();
    ListPlatform {
        architecture: p.architecture,
        os: p.os,
        variant: p.variant,
        ..Default::default()
    }
}

/// The instances `image` (in a registry) gives: itself, or for an index
/// the entry of this platform (`all`: every entry).
async fn remote_instances(
    opts: &Options,
    image: &str,
    all: bool,
    reg: &RegistryOptions,
) -> Result<Vec<Instance>> {
    let f = fetch_top(opts, image, reg).await?;
    let instance_of = |digest: Digest, mt: String, size: u64, platform| Instance {
        digest,
        media_type: mt,
        size,
        platform,
        annotations: BTreeMap::new(),
        source: Some(f.repo.clone()),
    };
    match parse_manifest(&f.bytes)? {
        Parsed::Image {
            media_type, config, ..
        } => {
            // The platform is the config's.
            let cfg = fetch_small_blob(&f.client, &config)
                .await
                .context("reading the image config")?;
            let cfg: serde_json::Value = serde_json::from_slice(&cfg)
                .map_err(|e| anyhow!("malformed image config {}: {e}", config.digest))?;
            let s = |k: &str| cfg[k].as_str().map(String::from);
            let platform = ListPlatform {
                architecture: s("architecture").unwrap_or_default(),
                os: s("os").unwrap_or_default(),
                os_version: s("os.version"),
                variant: s("variant"),
                ..Default::default()
            };
            Ok(vec![instance_of(
                f.digest.clone(),
                media_type,
                f.bytes.len() as u64,
                platform,
            )])
        }
        Parsed::Index(list) => {
            if list.len() > MAX_INSTANCES {
                bail!(
                    "{image}: an index of {} entries is over the {MAX_INSTANCES} limit",
                    list.len()
                );
            }
            if all {
                for d in &list {
                    checked_entry(d)?;
                }
                return Ok(list
                    .iter()
                    .map(|d| {
                        instance_of(
                            d.digest.clone(),
                            d.media_type.clone(),
                            d.size,
                            platform_of(d),
                        )
                    })
                    .collect());
            }
            let want = wanted_platform(&Platform::default())?;
            let d = choose_platform(&list, &want).ok_or_else(|| {
                anyhow!(
                    "{image}: no image for platform {}/{} in the index",
                    want.os,
                    want.architecture
                )
            })?;
            checked_entry(d)?;
            // Fetched and verified: the list must not point at what the
            // registry can't give.
            let b = fetch_manifest(&f.client, d.digest.as_ref()).await?;
            check_digest(&format!("manifest {}", d.digest), &b, &d.digest)?;
            if b.len() as u64 != d.size {
                bail!(
                    "manifest {}: {} bytes, the index says {}",
                    d.digest,
                    b.len(),
                    d.size
                );
            }
            Ok(vec![instance_of(
                d.digest.clone(),
                d.media_type.clone(),
                d.size,
                platform_of(d),
            )])
        }
    }
}

/// The instances `image` gives (local with `containers-storage:`, else
/// from its registry).
fn instances_of(
    opts: &Options,
    store: &Store,
    image: &str,
    all: bool,
    reg: &RegistryOptions,
) -> Result<Vec<Instance>> {
    match source_of(image) {
        Source::Local(name) => Ok(vec![local_instance(store, name)?]),
        Source::Remote(name) => runtime()?
            .block_on(remote_instances(opts, name, all, reg))
            .with_context(|| format!("adding {name}")),
    }
}

/// Change the list `rec` with `f` and save it. When another process
/// changed it meanwhile, `f` is applied again to the new state (a few
/// times): concurrent adds all land, none is lost.
fn update(
    store: &Store,
    rec: &ImageRecord,
    mut f: impl FnMut(&mut ListState) -> Result<()>,
) -> Result<ImageRecord> {
    let mut rec = rec.clone();
    for _ in 0..8 {
        let mut state = read_state(store, &rec)?;
        f(&mut state)?;
        match save(
            store,
            Some(&rec.config_digest),
            &rec.id,
            rec.names.clone(),
            rec.created.clone(),
            &state,
        ) {
            Ok(r) => return Ok(r),
            Err(e) => match store.image_by_id(&rec.id)? {
                Some(now) if is_list(&now) && now.config_digest != rec.config_digest => {
                    debug!("manifest list {} changed meanwhile; again", rec.id);
                    rec = now;
                }
                _ => return Err(e),
            },
        }
    }
    bail!("manifest list {} keeps changing: try again", rec.id)
}

/// Add instances to the list (replacing one of the same digest) and save.
fn add_instances(store: &Store, rec: &ImageRecord, new: Vec<Instance>) -> Result<ImageRecord> {
    update(store, rec, |state| {
        for i in &new {
            match state.instances.iter_mut().find(|o| o.digest == i.digest) {
                Some(o) => *o = i.clone(),
                None => state.instances.push(i.clone()),
            }
        }
        Ok(())
    })
}

/// `manifest create LIST IMAGE...`: the images added as `add` would.
pub fn create_with(
    opts: &Options,
    store: &Store,
    name: &str,
    images: &[String],
    all: bool,
    amend: bool,
    reg: &RegistryOptions,
) -> Result<ImageRecord> {
    // Everything is read before the list exists: a failure leaves nothing.
    let mut new = Vec::new();
    for image in images {
        new.extend(instances_of(opts, store, image, all, reg)?);
    }
    let rec = create(store, name, amend)?;
    if new.is_empty() {
        return Ok(rec);
    }
    add_instances(store, &rec, new)
}

/// `manifest add`: the list's record once `image` is in it.
pub fn add(
    opts: &Options,
    store: &Store,
    list: &str,
    image: &str,
    all: bool,
    edit: &InstanceEdit,
    reg: &RegistryOptions,
) -> Result<ImageRecord> {
    let rec = find_list(store, list)?;
    let mut new = instances_of(opts, store, image, all, reg)?;
    for i in &mut new {
        apply(i, edit)?;
    }
    add_instances(store, &rec, new)
}

/// `manifest annotate LIST DIGEST`.
pub fn annotate(
    store: &Store,
    list: &str,
    digest: &str,
    edit: &InstanceEdit,
) -> Result<ImageRecord> {
    let rec = find_list(store, list)?;
    let d = crate::storage::parse_digest(digest)?;
    update(store, &rec, |state| {
        // podman 4.3 accepts a digest the list does not have and changes nothing.
        match state.instances.iter_mut().find(|i| i.digest == d) {
            Some(i) => apply(i, edit),
            None => apply(&mut Instance::placeholder(), edit),
        }
    })
}

/// `manifest remove LIST DIGEST`.
pub fn remove(store: &Store, list: &str, digest: &str) -> Result<ImageRecord> {
    let rec = find_list(store, list)?;
    let d = crate::storage::parse_digest(digest)?;
    update(store, &rec, |state| {
        let before = state.instances.len();
        state.instances.retain(|i| i.digest != d);
        if state.instances.len() == before {
            bail!(
                "removing from manifest list {list}: no instance matching digest \"{d}\" found in manifest list: file does not exist"
            );
        }
        Ok(())
    })
}

/// `manifest exists`: Ok(false) when there is no such image; an error for
/// an image that is not a list.
pub fn exists(store: &Store, list: &str) -> Result<bool> {
    match store.find_image(list)? {
        None => Ok(false),
        Some(r) if is_list(&r) => Ok(true),
        Some(r) => Err(not_a_list(&display_name(&r, list))),
    }
}

/// `manifest inspect`: the local list's JSON, else the registry's index
/// (podman's form: a Docker list, 4-space indentation).
pub fn inspect(
    opts: &Options,
    store: &Store,
    name: &str,
    reg: &RegistryOptions,
) -> Result<Vec<u8>> {
    if let Some(rec) = store.find_image(name)? {
        if is_list(&rec) {
            return store
                .read_blob(&rec.digest)
                .context("reading the manifest list");
        }
    }
    let name = name.strip_prefix("docker://").unwrap_or(name);
    let f = runtime()?.block_on(fetch_top(opts, name, reg))?;
    match parse_manifest(&f.bytes)? {
        Parsed::Index(list) => {
            let state = ListState {
                version: 1,
                instances: list
                    .iter()
                    .map(|d| Instance {
                        digest: d.digest.clone(),
                        media_type: d.media_type.clone(),
                        size: d.size,
                        platform: platform_of(d),
                        annotations: BTreeMap::new(),
                        source: None,
                    })
                    .collect(),
            };
            Ok(render_inspect(&state))
        }
        Parsed::Image { media_type, .. } => bail!(
            "parsing manifest blob of {name} as a \"{media_type}\": Treating single images as manifest lists is not implemented"
        ),
    }
}

/// `manifest rm`: remove the list (not its images); its id.
pub fn remove_list(store: &Store, list: &str) -> Result<ImageRecord> {
    let rec = find_list(store, list)?;
    store.remove_image(&rec.id)?;
    crate::events::image(store.runroot(), "remove", &rec.id, list);
    Ok(rec)
}

/// The local image of manifest digest `d`, if any.
fn local_by_digest(store: &Store, d: &Digest) -> Result<Option<ImageRecord>> {
    let suffix = format!("@{d}");
    Ok(store.images()?.into_iter().find(|r| {
        !is_list(r) && (r.digest == *d || r.repo_digests.iter().any(|x| x.ends_with(&suffix)))
    }))
}

/// For `run`/`create` of a list's name: the local image of this
/// platform's instance.
pub fn platform_image(
    store: &Store,
    rec: &ImageRecord,
    platform: &Platform,
) -> Result<ImageRecord> {
    let state = read_state(store, rec)?;
    let want = wanted_platform(platform)?;
    let descs: Vec<Descriptor> = state
        .instances
        .iter()
        .map(|i| Descriptor {
            media_type: i.media_type.clone(),
            digest: i.digest.clone(),
            size: i.size,
            platform: Some(super::manifest::IndexPlatform {
                architecture: i.platform.architecture.clone(),
                os: i.platform.os.clone(),
                variant: i.platform.variant.clone(),
            }),
        })
        .collect();
    let name = display_name(rec, &rec.id);
    let d = choose_platform(&descs, &want).ok_or_else(|| {
        anyhow!(
            "{name}: no image for platform {}/{} in the manifest list",
            want.os,
            want.architecture
        )
    })?;
    local_by_digest(store, &d.digest)?.ok_or_else(|| {
        anyhow!(
            "{name}: the image {} of its platform is not local (pull it first)",
            d.digest
        )
    })
}

/// What `manifest push` needs besides the list and the destination.
#[derive(Debug, Clone, Default)]
pub struct ListPushOptions {
    pub push: PushOptions,
    /// Push the images, not only the list.
    pub all: bool,
    /// Remove the local list once pushed.
    pub rm: bool,
}

/// What a list push tells as it goes, besides each image's push steps.
pub trait ListPushProgress: PushProgress + PullProgress {
    /// podman's list lines ("Getting image list signatures", ...).
    fn list_line(&self, line: &str);
}

/// Whether `manifest push` of `list` may read unpacked layers or pull
/// (which needs rpod's user namespace).
pub fn push_needs_userns(store: &Store, list: &str, all: bool) -> Result<bool> {
    if !all {
        return Ok(false);
    }
    let rec = find_list(store, list)?;
    let state = read_state(store, &rec)?;
    for i in &state.instances {
        match local_by_digest(store, &i.digest)? {
            Some(r) if r.layers.iter().all(|l| store.has_blob(&l.digest)) => {}
            _ => return Ok(true),
        }
    }
    Ok(false)
}

/// `manifest push`: (with `all`) each image, then the list; the list's
/// digest.
pub fn push(
    opts: &Options,
    store: &Store,
    list: &str,
    dest: &str,
    o: &ListPushOptions,
    progress: &dyn ListPushProgress,
) -> Result<Digest> {
    let rec = find_list(store, list)?;
    let dest_s = dest.strip_prefix("docker://").unwrap_or(dest);
    let dest_ref = Reference::parse(dest_s)?.with_default_tag();
    if dest_ref.digest.is_some() {
        bail!("{dest}: a push destination takes a tag, not a digest");
    }
    let mut state = read_state(store, &rec)?;
    if state.instances.is_empty() {
        bail!("{list}: the manifest list is empty: nothing to push");
    }
    progress.list_line("Getting image list signatures");
    let n = state.instances.len();
    progress.list_line(&format!(
        "Copying {} of {n} images in list",
        if o.all { n } else { 0 }
    ));
    if o.all {
        let by_digest = Reference {
            tag: None,
            digest: None,
            ..dest_ref.clone()
        };
        // Images pulled only to be pushed are removed again afterwards.
        let mut pulled = Vec::new();
        let had: std::collections::HashSet<String> =
            store.images()?.into_iter().map(|r| r.id).collect();
        for (k, inst) in state.instances.iter_mut().enumerate() {
            progress.list_line(&format!("Copying image {} ({}/{n})", inst.digest, k + 1));
            let img = match local_by_digest(store, &inst.digest)? {
                Some(r) => r,
                None => {
                    let Some(src) = &inst.source else {
                        bail!("image {}: not in local storage any more", inst.digest);
                    };
                    let pull_opts = PullOptions {
                        registry: o.push.registry.clone(),
                        platform: Platform::default(),
                    };
                    super::pull(
                        opts,
                        store,
                        &format!("{src}@{}", inst.digest),
                        &pull_opts,
                        progress,
                    )
                    .with_context(|| format!("reading image {} from {src}", inst.digest))
                    .inspect(|r| {
                        if !had.contains(&r.id) {
                            pulled.push(r.id.clone())
                        }
                    })?
                }
            };
            let pushed =
                super::push::push_to_registry(opts, store, &img, &by_digest, &o.push, progress)
                    .with_context(|| format!("pushing image {}", inst.digest))?;
            if let Some(d) = pushed.digest.as_deref() {
                let d = crate::storage::parse_digest(d)?;
                if d != inst.digest {
                    // Layers made again (or a format change): the list
                    // names what was pushed.
                    inst.digest = d;
                    inst.size = pushed.size;
                    inst.media_type = pushed.media_type.clone();
                }
            }
        }
        for id in pulled {
            if let Err(e) = store.remove_image(&id) {
                warn!("removing image {id}, pulled for the push: {e:#}");
            }
        }
    }
    let format = o.push.format.unwrap_or_else(|| {
        if state
            .instances
            .iter()
            .all(|i| i.media_type == DOCKER_MANIFEST)
        {
            PushFormat::V2s2
        } else {
            PushFormat::Oci
        }
    });
    if format == PushFormat::V2s2 {
        if let Some(i) = state
            .instances
            .iter()
            .find(|i| i.media_type == OCI_MANIFEST)
        {
            if !o.all {
                bail!(
                    "image {}: an OCI manifest can't be listed in a Docker manifest list (use --format oci, or --all to convert the images)",
                    i.digest
                );
            }
        }
    }
    let index = render_push(&state, format);
    progress.list_line("Writing manifest list to image destination");
    let mt = match format {
        PushFormat::Oci => OCI_INDEX,
        PushFormat::V2s2 => DOCKER_LIST,
    };
    super::push::put_manifest(opts, &dest_ref, mt, &index, &o.push.registry)
        .with_context(|| format!("pushing manifest list {list} to {dest_ref}"))?;
    progress.list_line("Storing list signatures");
    crate::events::image(store.runroot(), "push", &rec.id, dest_s);
    if o.rm {
        store.remove_image(&rec.id)?;
    }
    Ok(sha256_digest(&index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_json_is_podmans() {
        let empty = ListState::default();
        assert_eq!(
            String::from_utf8(render_inspect(&empty)).unwrap(),
            "{\n    \"schemaVersion\": 2,\n    \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n    \"manifests\": null\n}"
        );
        let mut i = Instance {
            digest: sha256_digest(b"x"),
            media_type: OCI_MANIFEST.into(),
            size: 3,
            platform: ListPlatform {
                architecture: "amd64".into(),
                os: "linux".into(),
                ..Default::default()
            },
            annotations: BTreeMap::new(),
            source: None,
        };
        apply(
            &mut i,
            &InstanceEdit {
                arch: Some("arm".into()),
                variant: Some("v7".into()),
                os_version: Some("1.0".into()),
                features: vec!["f".into()],
                annotations: vec!["a=b=c".into()],
                ..Default::default()
            },
        )
        .unwrap();
        let s = String::from_utf8(render_inspect(&ListState {
            version: 1,
            instances: vec![i.clone()],
        }))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["manifests"][0]["platform"]["os.version"], "1.0");
        assert_eq!(v["manifests"][0]["annotations"]["a"], "b=c");
        // podman's key order.
        let order = [
            "\"mediaType\"",
            "\"size\"",
            "\"digest\"",
            "\"platform\"",
            "\"annotations\"",
        ];
        let pos: Vec<usize> = order.iter().map(|k| s.rfind(k).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{s}");
        let oci: serde_json::Value = serde_json::from_slice(&render_push(
            &ListState {
                version: 1,
                instances: vec![i],
            },
            PushFormat::Oci,
        ))
        .unwrap();
        assert_eq!(oci["mediaType"], OCI_INDEX);
        assert_eq!(oci["manifests"][0]["platform"]["variant"], "v7");
        assert!(apply(
            &mut Instance { ..oci_instance() },
            &InstanceEdit {
                annotations: vec!["novalue".into()],
                ..Default::default()
            }
        )
        .is_err());
    }

    fn oci_instance() -> Instance {
        Instance {
            digest: sha256_digest(b"y"),
            media_type: OCI_MANIFEST.into(),
            size: 1,
            platform: ListPlatform::default(),
            annotations: BTreeMap::new(),
            source: None,
        }
    }

    #[test]
    fn hostile_entries_are_refused() {
        let mut d = Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: sha256_digest(b"z"),
            size: 5 << 20,
            platform: None,
        };
        assert!(checked_entry(&d).unwrap_err().to_string().contains("4 MiB"));
        d.size = 10;
        assert!(checked_entry(&d).is_ok());
        d.media_type = "application/x-evil".into();
        assert!(checked_entry(&d)
            .unwrap_err()
            .to_string()
            .contains("unsupported"));
        d.media_type = OCI_INDEX.into();
        assert!(checked_entry(&d).is_err());
    }
}
