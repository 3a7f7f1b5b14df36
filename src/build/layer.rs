//! A build step's result as a stored image: its layer tar (hashed as it
//! is written into the store's tmp dir, adopted as a blob and unpacked
//! through the store's own layer path, as `commit` does) and the config,
//! manifest and image record written after it.

use crate::storage::{ImageRecord, LayerRecord, Store};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::io::{Read, Seek, Write};

/// Counts and hashes what is written.
pub(crate) struct HashWriter<W> {
    pub(crate) inner: W,
    pub(crate) hasher: Sha256,
    pub(crate) count: u64,
}

impl<W: Write> HashWriter<W> {
    pub(crate) fn new(inner: W) -> HashWriter<W> {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A layer just stored.
#[derive(Debug, Clone)]
pub(crate) struct NewLayer {
    pub(crate) rec: LayerRecord,
}

/// Store the layer tar that `write` produces on top of `parent`'s layers.
/// With `timestamp`, every entry's times are set to it (reproducible).
pub(crate) fn store_layer(
    store: &Store,
    parent: Option<&ImageRecord>,
    docker: bool,
    timestamp: Option<i64>,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<NewLayer> {
    let tmp = store.tmp_entry("build", false)?;
    let file = tmp.file.try_clone()?;
    let (size, diff_id) = match timestamp {
        None => {
            let mut hw = HashWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
            write(&mut hw)?;
            hw.flush().context("writing the layer")?;
            (hw.count, crate::storage::sha256_finish(&mut hw.hasher))
        }
        Some(ts) => {
            // Written once as it comes, then rewritten with fixed times.
            let raw = store.tmp_entry("build-raw", false)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, raw.file.try_clone()?);
            write(&mut w)?;
            w.flush().context("writing the layer")?;
            drop(w);
            let mut rf = raw.file.try_clone()?;
            rf.rewind()?;
            let mut hw = HashWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
            retime(std::io::BufReader::new(rf), &mut hw, ts)?;
            hw.flush().context("writing the layer")?;
            (hw.count, crate::storage::sha256_finish(&mut hw.hasher))
        }
    };
    let mt = if docker {
        "application/vnd.docker.image.rootfs.diff.tar"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    };
    if !store.has_blob(&diff_id) {
        store.adopt_blob(tmp, &diff_id)?;
    }
    let parent_chain = parent
        .and_then(|p| p.layers.last())
        .map(|l| l.chain_id.clone());
    let blob = store.blob_path(&diff_id);
    let chain = store.unpack_layer_from(
        || std::fs::File::open(&blob).with_context(|| format!("opening {}", blob.display())),
        &diff_id,
        mt,
        &diff_id,
        parent_chain.as_ref(),
    )?;
    Ok(NewLayer {
        rec: LayerRecord {
            digest: diff_id.clone(),
            media_type: mt.to_string(),
            size,
            diff_id,
            chain_id: chain,
        },
    })
}

/// Copy a tar, every entry's mtime (and GNU atime/ctime) set to `ts`.
fn retime(r: impl Read, w: &mut dyn Write, ts: i64) -> Result<()> {
    let mut a = tar::Archive::new(r);
    let mut b = tar::Builder::new(w);
    b.mode(tar::HeaderMode::Complete);
    for e in a.entries()? {
        let mut e = e?;
        let mut h = e.header().clone();
        h.set_mtime(ts.max(0) as u64);
        if let Some(g) = h.as_gnu_mut() {
            g.set_atime(ts.max(0) as u64);
            g.set_ctime(ts.max(0) as u64);
        }
        // Long names and link targets come back through the entry.
        let path = e.path()?.into_owned();
        let pax: Vec<(String, Vec<u8>)> = match e.pax_extensions()? {
            Some(p) => p
                .filter_map(|x| x.ok())
                .filter_map(|x| Some((x.key().ok()?.to_string(), x.value_bytes().to_vec())))
                .filter(|(k, _)| k.starts_with("SCHILY.xattr.") || k == "LIBARCHIVE.xattr")
                .collect(),
            None => Vec::new(),
        };
        if !pax.is_empty() {
            b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
        }
        match h.entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = e.link_name()?.unwrap_or_default().into_owned();
                b.append_link(&mut h, &path, &target)?;
            }
            _ => {
                let size = h.size()?;
                b.append_data(&mut h, &path, std::io::Read::take(&mut e, size))?;
            }
        }
    }
    b.into_inner()?.flush()?;
    Ok(())
}

/// Write the image of `cfg` (a full image config, its rootfs and history
/// already updated) over `layers`; its record.
pub(crate) fn write_image(
    store: &Store,
    layers: Vec<LayerRecord>,
    cfg: &Value,
    docker: bool,
    created: &str,
) -> Result<ImageRecord> {
    let config_bytes = serde_json::to_vec(cfg)?;
    let config_digest = crate::storage::sha256_digest(&config_bytes);
    store.put_blob(&config_digest, &config_bytes)?;
    let (manifest_mt, config_mt) = if docker {
        (
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.container.image.v1+json",
        )
    } else {
        (
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.config.v1+json",
        )
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_mt,
        "config": {"mediaType": config_mt, "digest": config_digest, "size": config_bytes.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": layer_media_type(&l.media_type, docker),
            "digest": l.digest,
            "size": l.size,
        })).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let manifest_digest = crate::storage::sha256_digest(&manifest_bytes);
    store.put_blob(&manifest_digest, &manifest_bytes)?;
    let id = crate::storage::digest_hex(&config_digest)?.to_string();
    let rec = ImageRecord {
        id,
        names: Vec::new(),
        digest: manifest_digest,
        repo_digests: Vec::new(),
        manifest_media_type: manifest_mt.to_string(),
        config_digest,
        size: layers
            .iter()
            .map(|l| {
                store
                    .layer_info(&l.chain_id)
                    .map(|i| i.uncompressed_size)
                    .unwrap_or(l.size)
            })
            .sum(),
        layers,
        created: Some(created.to_string()),
        pulled: crate::time::now_rfc3339(),
        os: cfg["os"].as_str().unwrap_or("linux").to_string(),
        architecture: cfg["architecture"].as_str().unwrap_or_default().to_string(),
        variant: cfg["variant"].as_str().map(String::from),
    };
    // An image of the same id keeps its names (put_image merges them).
    store.put_image(&rec).context("recording the image")?;
    Ok(rec)
}

/// A layer's media type in the manifest's format.
fn layer_media_type(mt: &str, docker: bool) -> String {
    let gz = mt.ends_with("gzip");
    let zst = mt.ends_with("zstd");
    match (docker, gz, zst) {
        (true, true, _) => "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
        (true, false, false) => "application/vnd.docker.image.rootfs.diff.tar".into(),
        (false, true, _) => "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        (false, false, false) => "application/vnd.oci.image.layer.v1.tar".into(),
        (_, _, true) => mt.into(),
    }
}
