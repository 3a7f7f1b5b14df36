//! A build step's result as a stored image: its layer tar (hashed as it
//! is written into the store's tmp dir, adopted as a blob and unpacked
//! through the store's own layer path, as `commit` does) and the config,
//! manifest and image record written after it by
//! `image::commit::write_image`.

use crate::image::archive_tar::HashWriter;
use crate::image::manifest::{DOCKER_LAYER, OCI_LAYER};
use crate::storage::{ImageRecord, LayerRecord, Store};
use anyhow::{Context, Result};
use std::io::{Read, Seek, Write};

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
            (hw.n, hw.digest())
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
            (hw.n, hw.digest())
        }
    };
    let mt = if docker { DOCKER_LAYER } else { OCI_LAYER };
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
