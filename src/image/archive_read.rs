//! Reading image archives into the store (`load`) and making an image of a
//! root filesystem tar (`import`).
//!
//! An archive is never trusted: a tar archive is first indexed (names,
//! offsets, sizes) without extracting anything, and refused whole if an
//! entry climbs out (`..`, an absolute name), is a link that leaves the
//! archive, a device node, or is larger than a layer may be. Compressed
//! input (gzip, zstd) and standard input are first decompressed into a
//! temporary file of the store, since the parts of an archive come in any
//! order. Every blob is verified against its digest while it streams into
//! the store's layer import (which checks the diff id and is atomic), and
//! the image record comes last: a load killed at any point leaves no half
//! image, and the next load finds the layers it finished.

use super::archive::{ArchiveProgress, REF_NAME};
use super::manifest::{
    is_layer, parse_manifest, Descriptor, Parsed, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST,
    OCI_CONFIG, OCI_LAYER, OCI_MANIFEST,
};
use super::pull::MAX_MANIFEST_SIZE;
use super::reference::Reference;
use crate::storage::{
    chain_ids, digest_hex, parse_digest, sha256_digest, sha256_finish, Digest, ImageRecord,
    LayerLimits, LayerRecord, Store, MAX_LAYER_SIZE_VAR,
};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use sha2::Digest as _;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The most entries an archive may have (a layer is one entry).
const MAX_ENTRIES: usize = 100_000;

/// An image that `load` put in the store.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: String,
    pub names: Vec<String>,
}

/// Where an archive comes from.
pub enum LoadInput {
    /// A file (tar, maybe compressed) or a directory (oci-dir, docker-dir).
    Path(PathBuf),
    /// Standard input.
    Stream(Box<dyn Read + Send>),
}

// ---- the archive's entries ----

/// Normalise a name inside an archive: no `..`, not absolute; `./` and
/// empty components dropped.
fn clean_name(raw: &[u8]) -> Result<String> {
    let s = std::str::from_utf8(raw).map_err(|_| anyhow!("a name that is not UTF-8"))?;
    if s.starts_with('/') {
        bail!("absolute path");
    }
    let mut parts = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => bail!("path traversal (\"..\")"),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Resolve a relative symlink `target` of entry `name` inside the archive.
fn resolve_link(name: &str, target: &[u8]) -> Result<String> {
    let t = std::str::from_utf8(target).map_err(|_| anyhow!("a link target that is not UTF-8"))?;
    if t.starts_with('/') {
        bail!("symlink to an absolute path ({t})");
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.pop();
    for c in t.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    bail!("symlink out of the archive ({t})");
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

enum Src {
    Tar {
        file: Arc<File>,
        entries: HashMap<String, (u64, u64)>,
        links: HashMap<String, String>,
        // The spooled copy, removed when the load is done.
        _spool: Option<crate::storage::TmpEntry>,
    },
    Dir {
        fd: OwnedFd,
    },
}

/// A reader of `len` bytes at `off` of a shared file (pread: several
/// layers may stream at once).
struct Part {
    file: Arc<File>,
    off: u64,
    end: u64,
}

impl Read for Part {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end - self.off;
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(left as usize);
        let n = self.file.read_at(&mut buf[..want], self.off)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside this entry",
            ));
        }
        self.off += n as u64;
        Ok(n)
    }
}

impl Src {
    fn find(&self, name: &str) -> Result<(u64, u64)> {
        let Src::Tar { entries, links, .. } = self else {
            unreachable!()
        };
        let mut n = name.to_string();
        for _ in 0..16 {
            if let Some(e) = entries.get(&n) {
                return Ok(*e);
            }
            match links.get(&n) {
                Some(t) => n = t.clone(),
                None => bail!("not in the archive"),
            }
        }
        bail!("too many levels of links")
    }

    /// The size and a reader of entry `name`.
    fn open(&self, name: &str) -> Result<(u64, Box<dyn Read + Send>)> {
        let name = clean_name(name.as_bytes())?;
        match self {
            Src::Tar { file, .. } => {
                let (off, size) = self.find(&name)?;
                Ok((
                    size,
                    Box::new(Part {
                        file: file.clone(),
                        off,
                        end: off + size,
                    }),
                ))
            }
            Src::Dir { fd } => {
                let f = crate::sys::fsx::open_beneath(
                    fd.as_fd(),
                    Path::new(&name),
                    libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
                    0,
                )
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::ELOOP) => anyhow!("a symlink"),
                    Some(libc::EXDEV) => anyhow!("resolves out of the directory"),
                    Some(libc::ENOENT) => anyhow!("not in the directory"),
                    _ => anyhow!(e),
                })?;
                let f = File::from(f);
                let m = f.metadata()?;
                if !m.is_file() {
                    bail!("not a regular file (a device node, fifo or directory)");
                }
                Ok((m.len(), Box::new(f)))
            }
        }
    }

    fn has(&self, name: &str) -> bool {
        match self {
            Src::Tar { .. } => self.find(name).is_ok(),
            Src::Dir { .. } => self.open(name).is_ok(),
        }
    }

    /// A small entry (manifest, config, index), capped before it is read.
    fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        let (size, r) = self.open(name)?;
        if size > MAX_MANIFEST_SIZE {
            bail!("{size} bytes is over the 4 MiB limit");
        }
        let mut v = Vec::with_capacity(size as usize);
        r.take(MAX_MANIFEST_SIZE + 1).read_to_end(&mut v)?;
        Ok(v)
    }
}

/// Index a plain tar file, refusing what no image archive contains.
fn index_tar(mut file: File, max_size: u64) -> Result<Src> {
    use std::io::Seek;
    // Sniffing the compression read ahead.
    file.seek(io::SeekFrom::Start(0))?;
    let len = file.metadata()?.len();
    let file = Arc::new(file);
    let mut entries = HashMap::new();
    let mut links = HashMap::new();
    let mut ar = tar::Archive::new(&*file);
    for (i, e) in ar.entries_with_seek()?.enumerate() {
        let e = e.context(if i == 0 {
            "not a tar archive"
        } else {
            "reading the archive"
        })?;
        if i >= MAX_ENTRIES {
            bail!("more than {MAX_ENTRIES} entries");
        }
        let raw = e.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let at = |m: String| anyhow!("entry {shown}: {m}");
        let name = clean_name(&raw).map_err(|x| at(x.to_string()))?;
        use tar::EntryType as T;
        match e.header().entry_type() {
            T::Regular | T::Continuous => {
                let size = e.size();
                if size > max_size {
                    return Err(at(format!(
                        "{size} bytes is over the limit of a layer (set {MAX_LAYER_SIZE_VAR} to allow more)"
                    )));
                }
                let off = e.raw_file_position();
                if off.checked_add(size).map_or(true, |end| end > len) {
                    return Err(at("the archive is truncated".into()));
                }
                entries.insert(name, (off, size));
            }
            T::Directory => {}
            T::Symlink | T::Link => {
                let t = e
                    .link_name_bytes()
                    .ok_or_else(|| at("a link without a target".into()))?;
                let target = if e.header().entry_type() == T::Link {
                    clean_name(&t)
                } else {
                    resolve_link(&name, &t)
                }
                .map_err(|x| at(x.to_string()))?;
                links.insert(name, target);
            }
            T::Char | T::Block => return Err(at("a device node".into())),
            T::Fifo => return Err(at("a fifo".into())),
            other => return Err(at(format!("unsupported entry type {other:?}"))),
        }
    }
    Ok(Src::Tar {
        file,
        entries,
        links,
        _spool: None,
    })
}

#[derive(PartialEq, Clone, Copy)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

fn sniff(head: &[u8]) -> Result<Compression> {
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(b"BZh") {
        bail!("bzip2 compression is not supported: decompress it first")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        bail!("xz compression is not supported: decompress it first")
    } else {
        Compression::None
    })
}

fn decompress<'a>(
    r: impl BufRead + Send + 'a,
    c: Compression,
) -> Result<Box<dyn Read + Send + 'a>> {
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    })
}

/// Copy `r` (decompressed) into a temp file of the store, at most `max`
/// bytes; returns the file, the sha256 and length of what was written.
fn spool(
    store: &Store,
    r: impl Read,
    max: u64,
    what: &str,
) -> Result<(File, crate::storage::TmpEntry, Digest, u64)> {
    let tmp = store.tmp_entry(what, false)?;
    let f = tmp.file.try_clone().context("duplicating a descriptor")?;
    let mut w = super::archive_tar::HashWriter::new(io::BufWriter::with_capacity(1 << 20, &f));
    let mut limited = r.take(max + 1);
    let n = io::copy(&mut limited, &mut w).context("decompressing")?;
    if n > max {
        bail!("more than {max} bytes once decompressed (set {MAX_LAYER_SIZE_VAR} to allow more)");
    }
    w.flush()?;
    let d = w.digest();
    drop(w);
    Ok((f, tmp, d, n))
}

fn open_source(store: &Store, input: LoadInput, limits: &LayerLimits) -> Result<Src> {
    match input {
        LoadInput::Path(p) => {
            let m = std::fs::metadata(&p).context("reading it")?;
            if m.is_dir() {
                let fd = crate::sys::inroot::open_root(&p).context("opening it")?;
                return Ok(Src::Dir { fd });
            }
            let f = File::open(&p).context("opening it")?;
            let mut br = BufReader::with_capacity(1 << 20, f);
            let c = sniff(br.fill_buf()?)?;
            if c == Compression::None && m.is_file() {
                return index_tar(br.into_inner(), limits.max_size);
            }
            from_stream(store, decompress(br, c)?, limits)
        }
        LoadInput::Stream(r) => {
            let mut br = BufReader::with_capacity(1 << 20, r);
            let c = sniff(br.fill_buf()?)?;
            from_stream(store, decompress(br, c)?, limits)
        }
    }
}

fn from_stream(store: &Store, r: impl Read, limits: &LayerLimits) -> Result<Src> {
    let (f, tmp, _, n) = spool(store, r, limits.max_size.saturating_mul(4), "load")?;
    if n == 0 {
        bail!("empty input: no archive");
    }
    let src = index_tar(f, limits.max_size)?;
    Ok(match src {
        Src::Tar {
            file,
            entries,
            links,
            ..
        } => Src::Tar {
            file,
            entries,
            links,
            _spool: Some(tmp),
        },
        d => d,
    })
}

// ---- load ----

/// Load every image of the archive `input` (named `shown` in errors).
pub fn load(
    store: &Store,
    input: LoadInput,
    shown: &str,
    progress: &dyn ArchiveProgress,
) -> Result<Vec<Loaded>> {
    let limits = LayerLimits::from_env()?;
    let src = open_source(store, input, &limits).with_context(|| format!("loading {shown}"))?;
    let _hold = store.hold_layers()?;
    let r = if src.has("oci-layout") || src.has("index.json") {
        load_oci(store, &src, progress)
    } else if src.has("version") && src.has("manifest.json") {
        load_docker_dir(store, &src, progress)
    } else if src.has("manifest.json") {
        load_docker_archive(store, &src, progress)
    } else {
        Err(anyhow!(
            "not an image archive: no index.json (OCI) or manifest.json (docker)"
        ))
    };
    let loaded = r.with_context(|| format!("loading {shown}"))?;
    crate::events::image(store.runroot(), "loadfromarchive", "", shown);
    Ok(loaded)
}

fn entry_err(name: &str) -> impl Fn(anyhow::Error) -> anyhow::Error + '_ {
    move |e| e.context(format!("entry {name}"))
}

fn blob_name(digest: &Digest) -> Result<String> {
    let hex = digest_hex(digest)?;
    Ok(format!("blobs/sha256/{hex}"))
}

fn load_oci(store: &Store, src: &Src, progress: &dyn ArchiveProgress) -> Result<Vec<Loaded>> {
    let idx = src
        .read_small("index.json")
        .map_err(entry_err("index.json"))?;
    let v: Value =
        serde_json::from_slice(&idx).map_err(|e| anyhow!("entry index.json: malformed: {e}"))?;
    let list = v["manifests"]
        .as_array()
        .ok_or_else(|| anyhow!("entry index.json: no manifests"))?;
    // One image per manifest, with every name given to it.
    let mut order: Vec<Digest> = Vec::new();
    let mut by_digest: HashMap<Digest, (Vec<u8>, Vec<String>)> = HashMap::new();
    for d in list {
        let desc: Descriptor = serde_json::from_value(d.clone())
            .map_err(|e| anyhow!("entry index.json: malformed descriptor: {e}"))?;
        // docker save (25 and later) names the image in containerd's key
        // and puts only the tag in the OCI one.
        let name = d["annotations"]["io.containerd.image.name"]
            .as_str()
            .and_then(full_name)
            .or_else(|| d["annotations"][REF_NAME].as_str().and_then(full_name));
        let mut digest = desc.digest.clone();
        let bn = blob_name(&digest).map_err(entry_err("index.json"))?;
        let mut bytes = verified_small(src, &bn, &digest)?;
        if let Parsed::Index(entries) = parse_manifest(&bytes).map_err(entry_err(&bn))? {
            let want = super::manifest::wanted_platform(&Default::default())?;
            let e = super::manifest::choose_platform(&entries, &want)
                .ok_or_else(|| anyhow!("entry {bn}: no image for this platform"))?;
            digest = e.digest.clone();
            let bn = blob_name(&digest).map_err(entry_err(&bn))?;
            bytes = verified_small(src, &bn, &digest)?;
        }
        let slot = by_digest.entry(digest.clone()).or_insert_with(|| {
            order.push(digest.clone());
            (bytes, Vec::new())
        });
        slot.1.extend(name);
    }
    let mut out = Vec::new();
    for d in order {
        let (bytes, names) = by_digest.remove(&d).expect("digest");
        out.push(load_image(store, src, bytes, names, progress, |d| {
            blob_name(d)
        })?);
    }
    Ok(out)
}

fn load_docker_dir(
    store: &Store,
    src: &Src,
    progress: &dyn ArchiveProgress,
) -> Result<Vec<Loaded>> {
    let bytes = src
        .read_small("manifest.json")
        .map_err(entry_err("manifest.json"))?;
    let l = load_image(store, src, bytes, Vec::new(), progress, |d| {
        Ok(digest_hex(d)?.to_string())
    })?;
    Ok(vec![l])
}

/// Read a small blob and check it is what its digest says.
fn verified_small(src: &Src, name: &str, digest: &Digest) -> Result<Vec<u8>> {
    let b = src.read_small(name).map_err(entry_err(name))?;
    let got = sha256_digest(&b);
    if got != *digest {
        bail!("entry {name}: digest mismatch: expected {digest}, got {got}");
    }
    Ok(b)
}

/// A user-visible name from an archive (`RepoTags`, `ref.name`): a full
/// reference, or None for a bare tag and what doesn't parse.
fn full_name(n: &str) -> Option<String> {
    if !n.contains('/') && !n.contains(':') {
        return None;
    }
    Reference::parse(n)
        .ok()
        .filter(|r| r.digest.is_none())
        .map(|r| r.with_default_tag().to_string())
}

/// Checks a blob while it streams: its size and sha256 at the end.
struct Verify {
    inner: Box<dyn Read + Send>,
    hasher: sha2::Sha256,
    n: u64,
    size: u64,
    digest: Digest,
}

impl Read for Verify {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.n += n as u64;
        if n == 0 && !buf.is_empty() {
            let got = sha256_finish(&mut self.hasher);
            if self.n != self.size || got != self.digest {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("digest mismatch: expected {}, got {got}", self.digest),
                ));
            }
        }
        Ok(n)
    }
}

/// One layer to import: where it is and what it must be.
struct Job {
    entry: String,
    digest: Digest,
    media_type: String,
    diff_id: Digest,
    parent: Option<Digest>,
    /// Verify the blob's digest (not for docker-archive layers, named by path).
    verify: bool,
}

/// Unpack the layers (up to three at once; each is atomic on its own).
fn import_layers(
    store: &Store,
    src: &Src,
    jobs: Vec<Job>,
    progress: &dyn ArchiveProgress,
) -> Result<()> {
    let (todo, have): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| {
        let chain = crate::storage::chain_id(j.parent.as_ref(), &j.diff_id);
        !store.has_layer(&chain)
    });
    for j in &have {
        progress.blob_skipped(&j.digest);
    }
    for j in &todo {
        progress.blob(&j.digest);
    }
    let next = std::sync::Mutex::new(todo.iter());
    let first_err: std::sync::Mutex<Option<anyhow::Error>> = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..3.min(todo.len()) {
            s.spawn(|| loop {
                if first_err.lock().map(|e| e.is_some()).unwrap_or(true) {
                    return;
                }
                let Some(j) = next.lock().ok().and_then(|mut it| it.next()) else {
                    return;
                };
                let open = || -> Result<Box<dyn Read + Send>> {
                    let (size, r) = src.open(&j.entry)?;
                    Ok(if j.verify {
                        Box::new(Verify {
                            inner: r,
                            hasher: sha2::Sha256::new(),
                            n: 0,
                            size,
                            digest: j.digest.clone(),
                        })
                    } else {
                        r
                    })
                };
                if let Err(e) = store
                    .unpack_layer_from(
                        open,
                        &j.digest,
                        &j.media_type,
                        &j.diff_id,
                        j.parent.as_ref(),
                    )
                    .map_err(entry_err(&j.entry))
                {
                    if let Ok(mut f) = first_err.lock() {
                        f.get_or_insert(e);
                    }
                    return;
                }
            });
        }
    });
    match first_err.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}

fn diff_ids_of(config: &Value, cname: &str) -> Result<Vec<Digest>> {
    let ids: Vec<Digest> = config["rootfs"]["diff_ids"]
        .as_array()
        .ok_or_else(|| anyhow!("entry {cname}: the config has no rootfs.diff_ids"))?
        .iter()
        .map(|v| {
            let s = v
                .as_str()
                .ok_or_else(|| anyhow!("malformed rootfs.diff_ids"))?;
            let d = parse_digest(s)?;
            digest_hex(&d)?;
            Ok(d)
        })
        .collect::<Result<_>>()
        .map_err(entry_err(cname))?;
    Ok(ids)
}

/// Load the image of manifest `bytes` (OCI or Docker schema 2).
fn load_image(
    store: &Store,
    src: &Src,
    manifest: Vec<u8>,
    names: Vec<String>,
    progress: &dyn ArchiveProgress,
    path_of: impl Fn(&Digest) -> Result<String>,
) -> Result<Loaded> {
    let (media_type, config_desc, layers) = match parse_manifest(&manifest)? {
        Parsed::Image {
            media_type,
            config,
            layers,
        } => (media_type, config, layers),
        Parsed::Index(_) => bail!("an index inside an index is not supported"),
    };
    let cname = path_of(&config_desc.digest)?;
    let config_bytes = verified_small(src, &cname, &config_desc.digest)?;
    let config: Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| anyhow!("entry {cname}: malformed config: {e}"))?;
    let diff_ids = diff_ids_of(&config, &cname)?;
    if diff_ids.len() != layers.len() {
        bail!(
            "entry {cname}: the config lists {} layers but the manifest has {}",
            diff_ids.len(),
            layers.len()
        );
    }
    let chains = chain_ids(&diff_ids);
    let mut jobs = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let entry = path_of(&l.digest)?;
        if !is_layer(&l.media_type) {
            bail!(
                "entry {entry}: unsupported layer media type {:?}",
                l.media_type
            );
        }
        let (size, _) = src.open(&entry).map_err(entry_err(&entry))?;
        if size != l.size {
            bail!(
                "entry {entry}: {size} bytes, but the manifest says {}",
                l.size
            );
        }
        jobs.push(Job {
            entry,
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
            diff_id: diff_ids[i].clone(),
            parent: (i > 0).then(|| chains[i - 1].clone()),
            verify: true,
        });
    }
    import_layers(store, src, jobs, progress)?;
    let recs = layers
        .iter()
        .zip(diff_ids.iter().zip(chains.iter()))
        .map(|(d, (diff, chain))| LayerRecord {
            digest: d.digest.clone(),
            media_type: d.media_type.clone(),
            size: d.size,
            diff_id: diff.clone(),
            chain_id: chain.clone(),
        })
        .collect();
    record(
        store,
        &manifest,
        &media_type,
        &config_bytes,
        &config,
        recs,
        names,
        progress,
    )
}

#[allow(clippy::too_many_arguments)]
fn record(
    store: &Store,
    manifest: &[u8],
    media_type: &str,
    config_bytes: &[u8],
    config: &Value,
    layers: Vec<LayerRecord>,
    names: Vec<String>,
    progress: &dyn ArchiveProgress,
) -> Result<Loaded> {
    let cd = sha256_digest(config_bytes);
    progress.config(&cd);
    progress.manifest();
    let md = sha256_digest(manifest);
    store
        .put_blob(&md, manifest)
        .context("storing the manifest")?;
    store
        .put_blob(&cd, config_bytes)
        .context("storing the config")?;
    let size = layers
        .iter()
        .map(|l| {
            store
                .layer_info(&l.chain_id)
                .map(|i| i.uncompressed_size)
                .unwrap_or(l.size)
        })
        .sum();
    let rec = ImageRecord {
        id: digest_hex(&cd)?.to_string(),
        names: names.clone(),
        repo_digests: Vec::new(),
        digest: md,
        manifest_media_type: media_type.to_string(),
        config_digest: cd.clone(),
        layers,
        size,
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
    Ok(Loaded { id: rec.id, names })
}

fn load_docker_archive(
    store: &Store,
    src: &Src,
    progress: &dyn ArchiveProgress,
) -> Result<Vec<Loaded>> {
    let m = src
        .read_small("manifest.json")
        .map_err(entry_err("manifest.json"))?;
    let list: Vec<Value> =
        serde_json::from_slice(&m).map_err(|e| anyhow!("entry manifest.json: malformed: {e}"))?;
    if list.is_empty() {
        bail!("entry manifest.json: no images");
    }
    let mut out = Vec::new();
    for item in list {
        let cname = item["Config"]
            .as_str()
            .ok_or_else(|| anyhow!("entry manifest.json: an image without Config"))?
            .to_string();
        let config_bytes = src.read_small(&cname).map_err(entry_err(&cname))?;
        let config: Value = serde_json::from_slice(&config_bytes)
            .map_err(|e| anyhow!("entry {cname}: malformed config: {e}"))?;
        let diff_ids = diff_ids_of(&config, &cname)?;
        let paths: Vec<String> = item["Layers"]
            .as_array()
            .ok_or_else(|| anyhow!("entry manifest.json: an image without Layers"))?
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<_>>()
            .ok_or_else(|| anyhow!("entry manifest.json: malformed Layers"))?;
        if paths.len() != diff_ids.len() {
            bail!(
                "entry {cname}: the config lists {} layers but manifest.json has {}",
                diff_ids.len(),
                paths.len()
            );
        }
        let chains = chain_ids(&diff_ids);
        let jobs = paths
            .iter()
            .enumerate()
            .map(|(i, p)| Job {
                entry: p.clone(),
                // The store's import checks the diff id, which is this
                // layer's digest once decompressed.
                digest: diff_ids[i].clone(),
                media_type: DOCKER_LAYER.to_string(),
                diff_id: diff_ids[i].clone(),
                parent: (i > 0).then(|| chains[i - 1].clone()),
                verify: false,
            })
            .collect();
        import_layers(store, src, jobs, progress)?;
        let layers: Vec<LayerRecord> = diff_ids
            .iter()
            .zip(chains.iter())
            .map(|(d, c)| LayerRecord {
                digest: d.clone(),
                media_type: DOCKER_LAYER.to_string(),
                size: store
                    .layer_info(c)
                    .map(|i| i.uncompressed_size)
                    .unwrap_or(0),
                diff_id: d.clone(),
                chain_id: c.clone(),
            })
            .collect();
        // The archive has no manifest: write the Docker schema 2 one that
        // describes what the store holds.
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "digest": sha256_digest(&config_bytes), "size": config_bytes.len()},
            "layers": layers.iter().map(|l| json!({"mediaType": DOCKER_LAYER, "digest": l.digest, "size": l.size})).collect::<Vec<_>>(),
        }))?;
        let names: Vec<String> = item["RepoTags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .filter_map(full_name)
                    .collect()
            })
            .unwrap_or_default();
        out.push(record(
            store,
            &manifest,
            DOCKER_MANIFEST,
            &config_bytes,
            &config,
            layers,
            names,
            progress,
        )?);
    }
    Ok(out)
}

// ---- import ----

/// Where `import` reads the root filesystem tar.
pub enum ImportSource {
    Path(PathBuf),
    /// http(s) URL.
    Url(String),
    Stream(Box<dyn Read + Send>),
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Dockerfile instructions (`CMD /bin/sh`, `ENV A=b`, `LABEL=k=v`).
    pub changes: Vec<String>,
    /// The history comment.
    pub message: Option<String>,
    /// The name to give it (normalised: `localhost/NAME:latest`).
    pub reference: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub variant: Option<String>,
}

/// Make a one-layer image of a root filesystem tar (gzip or zstd too).
pub fn import(
    store: &Store,
    source: ImportSource,
    opts: &ImportOptions,
    progress: &dyn ArchiveProgress,
) -> Result<ImageRecord> {
    let name = opts
        .reference
        .as_deref()
        .map(super::normalize_local_name)
        .transpose()?;
    let mut config_obj = json!({});
    super::archive::apply_changes(&mut config_obj, &opts.changes)?;
    let limits = LayerLimits::from_env()?;
    let (shown, reader): (String, Box<dyn Read + Send>) = match source {
        ImportSource::Path(p) => (
            p.display().to_string(),
            Box::new(File::open(&p).with_context(|| format!("opening {}", p.display()))?),
        ),
        ImportSource::Stream(r) => ("standard input".into(), r),
        ImportSource::Url(u) => (u.clone(), Box::new(open_url(&u)?)),
    };
    let mut br = BufReader::with_capacity(1 << 20, reader);
    let c = sniff(br.fill_buf().with_context(|| format!("reading {shown}"))?)
        .with_context(|| format!("importing {shown}"))?;
    let (file, _tmp, diff_id, n) = spool(store, decompress(br, c)?, limits.max_size, "import")
        .with_context(|| format!("importing {shown}"))?;
    if n == 0 {
        bail!("importing {shown}: empty input");
    }
    let _hold = store.hold_layers()?;
    progress.blob(&diff_id);
    let file = Arc::new(file);
    store
        .unpack_layer_from(
            || {
                Ok(Part {
                    file: file.clone(),
                    off: 0,
                    end: n,
                })
            },
            &diff_id,
            OCI_LAYER,
            &diff_id,
            None,
        )
        .with_context(|| format!("importing {shown}"))?;
    let now = crate::time::now_rfc3339();
    let mut history = json!({
        "created": now,
        "created_by": format!("/bin/sh -c #(nop) ADD file:{} in / ", digest_hex(&diff_id)?),
    });
    if let Some(m) = &opts.message {
        history["comment"] = json!(m);
    }
    let mut config = json!({
        "created": now,
        "architecture": opts.arch.clone().unwrap_or_else(|| super::host_arch().to_string()),
        "os": opts.os.clone().unwrap_or_else(|| "linux".into()),
        "config": config_obj,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [history],
    });
    if let Some(v) = &opts.variant {
        config["variant"] = json!(v);
    }
    let config_bytes = serde_json::to_vec(&config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(&config_bytes), "size": config_bytes.len()},
        "layers": [{"mediaType": OCI_LAYER, "digest": diff_id, "size": n}],
    }))?;
    let layers = vec![LayerRecord {
        digest: diff_id.clone(),
        media_type: OCI_LAYER.into(),
        size: n,
        diff_id: diff_id.clone(),
        chain_id: diff_id.clone(),
    }];
    let l = record(
        store,
        &manifest,
        OCI_MANIFEST,
        &config_bytes,
        &config,
        layers,
        name.into_iter().collect(),
        progress,
    )?;
    if let Some(r) = &opts.reference {
        crate::events::image(store.runroot(), "tag", &l.id, r);
    }
    store
        .image_by_id(&l.id)?
        .ok_or_else(|| anyhow!("image {} vanished", l.id))
}

/// Stream an http(s) URL (the body, through a pipe, as it arrives).
pub fn open_url(url: &str) -> Result<impl Read + Send> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("{url}: only http and https URLs can be imported");
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<bytes::Bytes>>(16);
    let u = url.to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")?;
    let resp = rt.block_on(async {
        let c = crate::image::transport::client_builder().build()?;
        c.get(&u).send().await
    });
    let mut resp = resp.with_context(|| format!("downloading {url}"))?;
    if !resp.status().is_success() {
        bail!("downloading {url}: {}", resp.status());
    }
    std::thread::spawn(move || {
        rt.block_on(async move {
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        if tx.send(Ok(c)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other(format!("downloading: {e}"))));
                        return;
                    }
                }
            }
        })
    });
    Ok(ChanReader {
        rx,
        cur: bytes::Bytes::new(),
    })
}

struct ChanReader {
    rx: std::sync::mpsc::Receiver<io::Result<bytes::Bytes>>,
    cur: bytes::Bytes,
}

impl Read for ChanReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.recv() {
                Ok(Ok(b)) => self.cur = b,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        bytes::Buf::advance(&mut self.cur, n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_archives_stay_inside() {
        assert_eq!(
            clean_name(b"./blobs//sha256/ab").unwrap(),
            "blobs/sha256/ab"
        );
        assert!(clean_name(b"../x").is_err());
        assert!(clean_name(b"a/../../x").is_err());
        assert!(clean_name(b"/etc/passwd").is_err());
        assert_eq!(
            resolve_link("abc/layer.tar", b"../def.tar").unwrap(),
            "def.tar"
        );
        assert!(resolve_link("abc/layer.tar", b"../../etc/passwd").is_err());
        assert!(resolve_link("abc/layer.tar", b"/etc/passwd").is_err());
    }

    #[test]
    fn archive_names_become_full_references() {
        assert_eq!(
            full_name("localhost:5000/alpine:latest").as_deref(),
            Some("localhost:5000/alpine:latest")
        );
        assert_eq!(
            full_name("alpine:3").as_deref(),
            Some("docker.io/library/alpine:3")
        );
        assert_eq!(full_name("latest"), None);
    }
}
