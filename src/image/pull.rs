//! Pulling images: resolve the name, fetch and verify the manifest (OCI,
//! Docker schema2, or an index from which the platform is picked), then the
//! config and the layers in parallel, each verified while it streams and
//! unpacked as soon as it is complete. The image record is written last, so
//! an interrupted pull leaves nothing that looks like an image. Parsing
//! manifests and choosing the platform's entry of an index: `manifest.rs`.

use super::client::{with_retries, FetchError, RegistryClient};
use super::manifest::{
    choose_platform, is_layer, manifest_accept, parse_manifest, wanted_platform, Descriptor,
    IndexPlatform, Parsed,
};
use super::reference::Reference;
use super::registries::{RegistriesConf, RegistrySettings};
use super::transport::{describe, read_bounded};
use super::{PullOptions, PullPolicy, RegistryOptions};
use crate::error::Error;
use crate::options::Options;
use crate::storage::{
    chain_ids, digest_hex, human_size, parse_digest, sha256_digest, sha256_finish, Digest,
    ImageRecord, LayerLimits, LayerRecord, Store,
};
use anyhow::{anyhow, bail, Context, Result};
use sha2::Digest as _;
use std::time::Duration;

const TRIES: u32 = 3;
const MAX_PARALLEL_LAYERS: usize = 6;

/// One step of a pull, in the order podman reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullStep<'a> {
    /// A candidate name is tried (a short name may have several).
    Trying(&'a str),
    /// The manifest and config are verified; layers come next.
    GettingSignatures,
    /// A layer (by blob digest) is already in the store.
    BlobSkipped(&'a str),
    /// Every layer is in; the config (by digest, read before them) is done.
    ConfigDone(&'a str),
    /// The image record is being written.
    WritingManifest,
}

/// What a pull tells as it goes: the CLI shows it (bars on a terminal,
/// podman's lines otherwise) or not at all. The library never prints.
pub trait PullProgress: Sync {
    /// A step. `Trying` starts the report of a new candidate.
    fn step(&self, step: PullStep<'_>);
    /// The layers to download are known: `total_bytes` in all.
    fn downloading(&self, total_bytes: u64);
    /// One layer's download starts (several run at once).
    fn blob(&self, digest: &str, size: u64) -> Box<dyn BlobProgress + '_>;
    /// All the layers are downloaded.
    fn downloaded(&self);
}

/// The progress of one layer's download.
pub trait BlobProgress: Sync {
    /// `bytes` more arrived.
    fn advance(&self, bytes: u64);
    /// The download starts over (a retry).
    fn restart(&self);
    /// The layer is downloaded, verified and unpacked.
    fn done(&self);
}

pub(super) fn check_digest(what: &str, bytes: &[u8], expected: &Digest) -> Result<()> {
    if digest_hex(expected).is_err() {
        bail!("{what}: unsupported digest algorithm in \"{expected}\" (only sha256)");
    }
    let actual = sha256_digest(bytes);
    if actual != *expected {
        bail!("{what}: digest mismatch: expected {expected}, got {actual}");
    }
    Ok(())
}

/// The largest manifest or config rpod reads, as containers/image.
pub(super) const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// Connect to the registry of `reference`, with credentials from --creds or
/// auth.json.
pub(super) async fn connect(
    reference: &Reference,
    settings: &RegistrySettings,
    opts: &RegistryOptions,
) -> Result<RegistryClient> {
    let creds = match &opts.creds {
        Some(c) => Some((
            c.username.clone(),
            c.password.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
        )),
        None => super::auth::lookup(&reference.repo_name(), opts.authfile.as_deref())?
            .map(|c| (c.username, c.password)),
    };
    RegistryClient::connect(
        &reference.registry,
        &reference.repository,
        settings.insecure,
        opts.tls_verify,
        opts.cert_dir.as_deref(),
        creds,
    )
    .await
}

/// Fetch a manifest (by tag or digest), refusing one over MAX_MANIFEST_SIZE
/// before reading it whole: by Content-Length, or by counting what arrives.
pub(super) async fn fetch_manifest(src: &RegistryClient, reference: &str) -> Result<Vec<u8>> {
    let what = format!("manifest {reference}");
    let accept = manifest_accept();
    with_retries(&what, TRIES, || {
        src.get_small(
            "manifests",
            reference,
            Some(&accept),
            &what,
            MAX_MANIFEST_SIZE,
        )
    })
    .await
}

fn over_limit(what: &str, size: u64, max: u64) -> anyhow::Error {
    anyhow!("{what}: {size} bytes is over the {} limit", human_size(max))
}

/// Pull `name` (a user-typed reference) into the store and return its record.
/// The caller has entered the user namespace (unpacking keeps the layers'
/// ownership) before this starts the network runtime's threads.
pub fn pull(
    opts: &Options,
    store: &Store,
    name: &str,
    pull: &PullOptions,
    progress: &dyn PullProgress,
) -> Result<ImageRecord> {
    let res = pull_candidates(opts, store, name, pull, progress);
    if res.as_ref().is_err_and(out_of_space) {
        // Layers that did fit are referenced by no image (a transient
        // failure keeps them for the next try).
        store.gc_after_failure("pull");
    }
    res
}

/// Whether `e` comes from a full disk (ENOSPC or EDQUOT) anywhere in its chain.
fn out_of_space(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        crate::error::cause::<std::io::Error>(c)
            .and_then(|io| io.raw_os_error())
            .is_some_and(|n| n == libc::ENOSPC || n == libc::EDQUOT)
    })
}

fn pull_candidates(
    opts: &Options,
    store: &Store,
    name: &str,
    pull: &PullOptions,
    progress: &dyn PullProgress,
) -> Result<ImageRecord> {
    crate::events::image(store.runroot(), "pull", "", name);
    let conf = RegistriesConf::load(opts)?;
    let candidates = conf.resolve(name)?;
    let want = wanted_platform(&pull.platform)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the network runtime")?;
    let mut errors = Vec::new();
    let many = candidates.len() > 1;
    for cand in &candidates {
        let (source_ref, settings) = conf.pull_source(cand)?;
        progress.step(PullStep::Trying(&cand.to_string()));
        match rt.block_on(pull_reference(
            store,
            cand,
            &source_ref,
            &settings,
            &pull.registry,
            &want,
            progress,
        )) {
            Ok(rec) => return Ok(rec),
            Err(e) if many => errors.push(format!("{cand}: {e:#}")),
            Err(e) => return Err(e.context(format!("pulling {cand}"))),
        }
    }
    bail!(
        "pulling {name}: no candidate could be pulled: {}",
        errors.join("; ")
    )
}

async fn pull_reference(
    store: &Store,
    name: &Reference,
    source: &Reference,
    settings: &RegistrySettings,
    opts: &RegistryOptions,
    want: &IndexPlatform,
    rep: &dyn PullProgress,
) -> Result<ImageRecord> {
    let src = connect(source, settings, opts).await?;
    let top = match (&source.digest, &source.tag) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".to_string(),
    };
    let bytes = fetch_manifest(&src, &top).await?;
    // Always our own hash: a registry's header is not proof of anything.
    let mut manifest_digest = sha256_digest(&bytes);
    if let Some(d) = &source.digest {
        check_digest("manifest", &bytes, &parse_digest(d)?)?;
    }
    let mut manifest_bytes = bytes.to_vec();
    let (media_type, config_desc, layer_descs) = match parse_manifest(&manifest_bytes)? {
        Parsed::Image {
            media_type,
            config,
            layers,
        } => (media_type, config, layers),
        Parsed::Index(list) => {
            let Some(entry) = choose_platform(&list, want) else {
                let avail: Vec<String> = list
                    .iter()
                    .filter_map(|d| d.platform.as_ref())
                    .map(|p| match &p.variant {
                        Some(v) => format!("{}/{}/{}", p.os, p.architecture, v),
                        None => format!("{}/{}", p.os, p.architecture),
                    })
                    .collect();
                bail!(
                    "no image for platform {}/{}{} in the index (it has: {})",
                    want.os,
                    want.architecture,
                    want.variant
                        .as_ref()
                        .map(|v| format!("/{v}"))
                        .unwrap_or_default(),
                    avail.join(", ")
                );
            };
            if entry.size > MAX_MANIFEST_SIZE {
                return Err(over_limit(
                    &format!("manifest {}", entry.digest),
                    entry.size,
                    MAX_MANIFEST_SIZE,
                ));
            }
            let b = fetch_manifest(&src, entry.digest.as_ref()).await?;
            check_digest(&format!("manifest {}", entry.digest), &b, &entry.digest)?;
            manifest_digest = entry.digest.clone();
            manifest_bytes = b.to_vec();
            match parse_manifest(&manifest_bytes)? {
                Parsed::Image {
                    media_type,
                    config,
                    layers,
                } => (media_type, config, layers),
                Parsed::Index(_) => bail!(
                    "manifest {}: an index inside an index is not supported",
                    entry.digest
                ),
            }
        }
    };
    // A declared size is only a claim, but nothing may trust a huge one
    // (allocations, progress totals): a compressed layer is not bigger
    // than what it may unpack to.
    let limits = LayerLimits::from_env()?;
    for l in &layer_descs {
        if !is_layer(&l.media_type) {
            bail!(
                "layer {}: unsupported layer media type \"{}\"",
                l.digest,
                l.media_type
            );
        }
        if l.size > limits.max_size {
            bail!(
                "layer {}: {} bytes is over the {} limit (set {} to allow more)",
                l.digest,
                l.size,
                human_size(limits.max_size),
                crate::storage::MAX_LAYER_SIZE_VAR
            );
        }
    }

    // The config: small, fetched whole and verified before anything trusts it.
    let config_bytes = fetch_small_blob(&src, &config_desc)
        .await
        .context("reading the image config")?;
    let config: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| anyhow!("malformed image config {}: {e}", config_desc.digest))?;
    let diff_ids: Vec<Digest> = config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| parse_digest(v.as_str().unwrap_or_default()))
                .collect::<Result<Vec<_>>>()
        })
        .transpose()
        .with_context(|| format!("image config {}: rootfs.diff_ids", config_desc.digest))?
        .unwrap_or_default();
    if diff_ids.len() != layer_descs.len() {
        bail!(
            "image config {} lists {} layers (diff_ids) but the manifest has {}",
            config_desc.digest,
            diff_ids.len(),
            layer_descs.len()
        );
    }
    let chains = chain_ids(&diff_ids);

    // Keeps `rmi`'s garbage collection off the layers this pull relies on,
    // including the ones it skips because they are already there.
    let _hold = store.hold_layers()?;
    rep.step(PullStep::GettingSignatures);
    let todo: Vec<usize> = (0..layer_descs.len())
        .filter(|&i| !store.has_layer(&chains[i]))
        .collect();
    for (i, l) in layer_descs.iter().enumerate() {
        if !todo.contains(&i) {
            rep.step(PullStep::BlobSkipped(l.digest.as_ref()));
        }
    }
    rep.downloading(todo.iter().map(|&i| layer_descs[i].size).sum());
    let sem = tokio::sync::Semaphore::new(MAX_PARALLEL_LAYERS);
    let mut tasks = Vec::new();
    for &i in &todo {
        let desc = layer_descs[i].clone();
        let (diff_id, chain) = (diff_ids[i].clone(), chains[i].clone());
        let parent = (i > 0).then(|| chains[i - 1].clone());
        let (src, sem) = (&src, &sem);
        tasks.push(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            fetch_and_unpack(store, src, &desc, &diff_id, &chain, parent.as_ref(), rep).await
        });
    }
    futures_util::future::try_join_all(tasks).await?;
    rep.downloaded();
    rep.step(PullStep::ConfigDone(config_desc.digest.as_ref()));
    rep.step(PullStep::WritingManifest);

    // Manifest and config go in as blobs; the record that makes the image
    // visible is written last.
    store
        .put_blob(&manifest_digest, &manifest_bytes)
        .context("storing the manifest")?;
    store
        .put_blob(&config_desc.digest, &config_bytes)
        .context("storing the image config")?;
    let layers = layer_descs
        .iter()
        .zip(diff_ids.iter().zip(chains.iter()))
        .map(|(d, (diff, chain))| LayerRecord {
            digest: d.digest.clone(),
            media_type: d.media_type.clone(),
            size: d.size,
            diff_id: diff.clone(),
            chain_id: chain.clone(),
        })
        .collect::<Vec<_>>();
    let rec = ImageRecord {
        id: digest_hex(&config_desc.digest)?.to_string(),
        names: vec![name.to_string()],
        repo_digests: vec![format!("{}@{}", name.repo_name(), manifest_digest)],
        digest: manifest_digest,
        manifest_media_type: media_type,
        config_digest: config_desc.digest.clone(),
        // podman shows the unpacked size.
        size: layers
            .iter()
            .map(|l| {
                store
                    .layer_info(&l.chain_id)
                    .map(|i| i.uncompressed_size)
                    .unwrap_or(l.size)
            })
            .sum::<u64>(),
        layers,
        created: config["created"].as_str().map(String::from),
        pulled: crate::time::now_rfc3339(),
        os: config["os"].as_str().unwrap_or("linux").to_string(),
        architecture: config["architecture"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        variant: config["variant"].as_str().map(String::from),
    };
    store.put_image(&rec).context("recording the image")?;
    Ok(rec)
}

/// Fetch a small blob (the config) whole and verify it. Its descriptor's
/// size is capped at MAX_MANIFEST_SIZE before anything is allocated, and
/// reading stops as soon as more than that size arrives.
pub(super) async fn fetch_small_blob(src: &RegistryClient, desc: &Descriptor) -> Result<Vec<u8>> {
    let what = format!("config {}", desc.digest);
    if desc.size > MAX_MANIFEST_SIZE {
        return Err(over_limit(&what, desc.size, MAX_MANIFEST_SIZE));
    }
    let buf = with_retries(&what, TRIES, || async {
        let resp = src
            .get_blob(desc.digest.as_ref(), desc.size)
            .await
            .map_err(|e| match e {
                FetchError::Fatal(e) => FetchError::Fatal(e.context(what.clone())),
                t => t,
            })?;
        read_bounded(resp, desc.size, &what, false)
            .await
            .map_err(|e| {
                if e.is::<reqwest::Error>() {
                    FetchError::Transient(e.context(what.clone()))
                } else {
                    FetchError::Fatal(e)
                }
            })
    })
    .await?;
    check_digest(&format!("blob {}", desc.digest), &buf, &desc.digest)?;
    Ok(buf)
}

#[allow(clippy::too_many_arguments)]
async fn fetch_and_unpack(
    store: &Store,
    src: &RegistryClient,
    desc: &Descriptor,
    diff_id: &Digest,
    chain: &Digest,
    parent: Option<&Digest>,
    rep: &dyn PullProgress,
) -> Result<()> {
    let bar = rep.blob(desc.digest.as_ref(), desc.size);
    let mut attempt = 1;
    loop {
        match stream_layer(store, src, desc, diff_id, parent, &*bar).await {
            Ok(got) => {
                debug_assert_eq!(&got, chain);
                break;
            }
            Err(e) if attempt < TRIES && is_retryable(&e) => {
                debug!("layer {}: {e:#}; retrying ({attempt}/{TRIES})", desc.digest);
                bar.restart();
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
    bar.done();
    Ok(())
}

/// Download one layer and unpack it as it arrives: the bytes go from the
/// socket through the decompressor into the layer dir, hashed on the way, and
/// are written to disk once. Nothing becomes visible unless both the blob
/// digest and the diff id match.
#[allow(clippy::too_many_arguments)]
async fn stream_layer(
    store: &Store,
    src: &RegistryClient,
    desc: &Descriptor,
    diff_id: &Digest,
    parent: Option<&Digest>,
    bar: &dyn BlobProgress,
) -> Result<Digest> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<bytes::Bytes, String>>(64);
    let unpack = {
        let (store, digest, size) = (store.clone(), desc.digest.clone(), desc.size);
        let (mt, diff, par) = (desc.media_type.clone(), diff_id.clone(), parent.cloned());
        tokio::task::spawn_blocking(move || {
            let reader = || Ok(VerifyingReader::new(rx, digest.clone(), size));
            store.unpack_layer_from(reader, &digest, &mt, &diff, par.as_ref())
        })
    };
    // The download hashes what it forwards (as the reader does): when the
    // unpacker fails early on a corrupt blob, the rest is read and the
    // digest mismatch, the cause, is reported rather than its symptom.
    let mut hasher = sha2::Sha256::new();
    let mut got = 0u64;
    let mut rest: Option<reqwest::Response> = None;
    let download = async {
        let mut resp = match src.get_blob(desc.digest.as_ref(), desc.size).await {
            Ok(r) => r,
            Err(e) => {
                let transient = matches!(e, FetchError::Transient(_));
                let e = e.into_anyhow();
                let _ = tx.send(Err(format!("{e}"))).await;
                return Err(if transient {
                    anyhow::Error::new(Error::Transient(format!("downloading: {e:#}")))
                } else {
                    anyhow::Error::new(Error::BadContent(format!("{e:#}")))
                });
            }
        };
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    let msg = format!(
                        "downloading: truncated after {got} of {} bytes: {}",
                        desc.size,
                        describe(e, &src.registry, src.transport.verify)
                    );
                    let _ = tx.send(Err(msg.clone())).await;
                    return Err(anyhow::Error::new(Error::Transient(msg)));
                }
            };
            got += chunk.len() as u64;
            hasher.update(&chunk);
            bar.advance(chunk.len() as u64);
            if tx.send(Ok(chunk)).await.is_err() {
                // The unpacker stopped reading: its own result says why (or
                // another process had already unpacked this layer).
                rest = Some(resp);
                return Ok(());
            }
        }
        let actual = sha256_finish(&mut hasher);
        if got == desc.size && actual != desc.digest {
            let msg = format!("digest mismatch: expected {}, got {actual}", desc.digest);
            let _ = tx.send(Err(msg.clone())).await;
            return Err(Error::BadContent(msg).into());
        }
        Ok(())
    };
    let downloaded: Result<()> = download.await;
    drop(tx);
    let unpacked = unpack.await.context("unpacking task")?;
    match (downloaded, unpacked, rest) {
        (Err(e), _, _) => Err(e.context(format!("layer {}", desc.digest))),
        (Ok(()), Err(ue), Some(mut resp)) => {
            // Read the rest (no more than declared) to tell a corrupt blob
            // from a bad layer.
            while let Ok(Some(c)) = resp.chunk().await {
                got += c.len() as u64;
                if got > desc.size {
                    return Err(ue);
                }
                hasher.update(&c);
            }
            let actual = sha256_finish(&mut hasher);
            if got == desc.size && actual != desc.digest {
                return Err(anyhow::Error::new(Error::BadContent(format!(
                    "digest mismatch: expected {}, got {actual}",
                    desc.digest
                )))
                .context(format!("layer {}", desc.digest)));
            }
            Err(ue)
        }
        (Ok(()), r, _) => r,
    }
}

/// Network trouble, 5xx answers and short reads are retried; wrong content
/// is not. The reader's errors come back through the unpacker inside an
/// `io::Error`, where `error::find` looks too.
fn is_retryable(e: &anyhow::Error) -> bool {
    crate::error::find(e).is_some_and(Error::is_transient)
}

/// The blocking side of a streamed layer: reads what the download task
/// sends, and fails at EOF unless the size and sha256 match the descriptor.
struct VerifyingReader {
    rx: tokio::sync::mpsc::Receiver<std::result::Result<bytes::Bytes, String>>,
    cur: bytes::Bytes,
    hasher: sha2::Sha256,
    count: u64,
    digest: Digest,
    size: u64,
    done: bool,
}

impl VerifyingReader {
    fn new(
        rx: tokio::sync::mpsc::Receiver<std::result::Result<bytes::Bytes, String>>,
        digest: Digest,
        size: u64,
    ) -> Self {
        VerifyingReader {
            rx,
            cur: bytes::Bytes::new(),
            hasher: sha2::Sha256::new(),
            count: 0,
            digest,
            size,
            done: false,
        }
    }
}

impl std::io::Read for VerifyingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.cur.is_empty() {
                let n = buf.len().min(self.cur.len());
                buf[..n].copy_from_slice(&self.cur[..n]);
                bytes::Buf::advance(&mut self.cur, n);
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(b)) => {
                    self.hasher.update(&b);
                    self.count += b.len() as u64;
                    if self.count > self.size {
                        self.done = true;
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            Error::BadContent(format!(
                                "blob {}: more than the {} bytes its descriptor says",
                                self.digest, self.size
                            )),
                        ));
                    }
                    self.cur = b;
                }
                Some(Err(msg)) => return Err(std::io::Error::other(msg)),
                None => {
                    self.done = true;
                    if self.count != self.size {
                        return Err(std::io::Error::other(Error::Transient(format!(
                            "downloading: truncated: got {} of {} bytes",
                            self.count, self.size
                        ))));
                    }
                    let got = sha256_finish(&mut self.hasher);
                    if got != self.digest {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            Error::BadContent(format!(
                                "digest mismatch: expected {}, got {got}",
                                self.digest
                            )),
                        ));
                    }
                    return Ok(0);
                }
            }
        }
    }
}

/// The digest of the manifest a pull of `name` would fetch now (for an
/// index, the entry of the wanted platform), without pulling anything:
/// what `auto-update` compares with the local image's.
pub fn remote_digest(opts: &Options, name: &str, pull: &PullOptions) -> Result<Digest> {
    let conf = RegistriesConf::load(opts)?;
    let cand = conf
        .resolve(name)?
        .into_iter()
        .next()
        .with_context(|| format!("{name}: no registry to look it up in"))?;
    let (source, settings) = conf.pull_source(&cand)?;
    let want = wanted_platform(&pull.platform)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")?;
    rt.block_on(async {
        let src = connect(&source, &settings, &pull.registry).await?;
        let top = match (&source.digest, &source.tag) {
            (Some(d), _) => d.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        };
        let bytes = fetch_manifest(&src, &top).await?;
        match parse_manifest(&bytes)? {
            Parsed::Image { .. } => Ok(sha256_digest(&bytes)),
            Parsed::Index(list) => choose_platform(&list, &want)
                .map(|e| e.digest.clone())
                .with_context(|| format!("{name}: no image for this platform in the index")),
        }
    })
    .with_context(|| format!("looking up {name} in its registry"))
}

/// Local image for `name` per the pull policy.
pub fn ensure_image(
    opts: &Options,
    name: &str,
    policy: PullPolicy,
    pull_opts: &PullOptions,
    progress: &dyn PullProgress,
) -> Result<ImageRecord> {
    let store = Store::open(opts)?;
    let local = store.find_image(name)?;
    // A manifest list's name runs the image of the wanted platform.
    if let Some(list) = local.as_ref().filter(|r| super::manifest_list::is_list(r)) {
        return super::manifest_list::platform_image(&store, list, &pull_opts.platform);
    }
    match (policy, local) {
        (PullPolicy::Missing, Some(rec)) | (PullPolicy::Never, Some(rec)) => {
            // As podman's libimage: a pull event even when the image is local.
            crate::events::image(store.runroot(), "pull", "", name);
            Ok(rec)
        }
        (PullPolicy::Never, None) => bail!("{name}: image not known (and --pull=never)"),
        _ => {
            crate::userns::enter()?;
            pull(opts, &store, name, pull_opts, progress)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked() {
        assert!(check_digest("x", b"abc", &sha256_digest(b"abc")).is_ok());
        let e = check_digest("blob sha256:1", b"abc", &sha256_digest(b"abd"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("digest mismatch"), "{e}");
        let other = parse_digest(&format!("sha512:{}", "0".repeat(128))).unwrap();
        let e = check_digest("manifest", b"abc", &other)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported digest algorithm"), "{e}");
    }
}
