//! Layers in the store: unpacking a layer blob as the layer of a chain id,
//! with its `layer.json`. The tar extraction itself (whiteouts, xattrs,
//! sparse files, limits, the safety rules) is in `unpack.rs`.
//!
//! A refused or failing layer leaves nothing behind: it is unpacked in
//! ROOT/tmp and only renamed into layers/ once complete and its diff id
//! verified.

use super::atomic::{sync_dir, write_atomic};
use super::tarsplit;
use super::unpack::{decompressor, extract_split, HashReader, LayerLimits};
use super::{chain_id, digest_hex, sha256_finish, Lock, Store};
use anyhow::{bail, Context, Result};
use oci_spec::image::Digest as OciDigest;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{self, BufReader, Read};
use std::os::fd::AsRawFd;

/// What `layer.json` beside a layer's diff records.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct LayerInfo {
    pub chain_id: OciDigest,
    pub diff_id: OciDigest,
    pub parent: Option<OciDigest>,
    /// The blob it was unpacked from.
    pub digest: OciDigest,
    pub media_type: String,
    /// Length of the uncompressed tar stream.
    pub uncompressed_size: u64,
}

/// Layer media types we unpack: those of `image::manifest`'s table (the
/// compression itself is sniffed from the first bytes, so a mislabelled blob
/// still unpacks).
fn check_media_type(mt: &str) -> Result<()> {
    if crate::image::manifest::is_layer(mt) {
        Ok(())
    } else {
        bail!("unsupported layer media type {mt:?}")
    }
}

#[cfg(test)]
pub(super) fn unpack_layer(
    store: &Store,
    digest: &OciDigest,
    media_type: &str,
    diff_id: &OciDigest,
    parent: Option<&OciDigest>,
) -> Result<OciDigest> {
    let blob_path = store.blob_path(digest);
    let open = || {
        std::fs::File::open(&blob_path)
            .with_context(|| format!("opening blob {}", blob_path.display()))
    };
    unpack_layer_from(store, open, digest, media_type, diff_id, parent)
}

/// Unpack the (compressed) layer stream that `open` gives, e.g. straight
/// from the network, so a pull writes each layer to disk once. `open` is only
/// called when the layer isn't in the store yet; the caller checks the
/// stream's own digest (its reader fails at EOF on a mismatch).
pub(super) fn unpack_layer_from<R: Read>(
    store: &Store,
    open: impl FnOnce() -> Result<R>,
    digest: &OciDigest,
    media_type: &str,
    diff_id: &OciDigest,
    parent: Option<&OciDigest>,
) -> Result<OciDigest> {
    digest_hex(digest)?;
    digest_hex(diff_id).context("diff id")?;
    if let Some(p) = parent {
        digest_hex(p).context("parent chain id")?;
    }
    check_media_type(media_type)?;
    let limits = LayerLimits::from_env()?;
    let chain = chain_id(parent, diff_id);
    if store.has_layer(&chain) {
        return Ok(chain);
    }
    let hex = digest_hex(&chain)?.to_string();
    // Two pulls of the same layer: the second waits, then finds it done.
    let _lock = Lock::exclusive(&store.root().join("locks").join(format!("layer-{hex}.lock")))?;
    if store.has_layer(&chain) {
        return Ok(chain);
    }
    let blob = open()?;
    let mut tmp = store.tmp_entry(&format!("layer-{}", &hex[..12]), true)?;
    let diff = tmp.path.join("diff");

    let hr = HashReader {
        inner: decompressor(BufReader::with_capacity(256 << 10, blob))?,
        hasher: Sha256::new(),
        count: 0,
        limit: limits.max_size,
    };
    let split_path = tmp.path.join(tarsplit::FILE_NAME);
    let rec = tarsplit::Recorder::create(&split_path)?;
    let mut sr = tarsplit::SplitReader {
        inner: hr,
        rec: rec.clone(),
    };
    extract_split(&mut sr, &diff, limits.max_entries, Some(rec.clone()))?;
    // The tar may end before the stream does (padding); the diff id covers all of it.
    io::copy(&mut sr, &mut io::sink()).context("reading the end of the layer")?;
    let mut hr = sr.inner;
    if !tarsplit::Recorder::finish(rec)? {
        debug!("layer {chain}: an entry replaced another; its tar can't be given back as it came");
        std::fs::remove_file(&split_path)
            .with_context(|| format!("removing {}", split_path.display()))?;
    }
    let got = sha256_finish(&mut hr.hasher);
    if got != *diff_id {
        bail!("diff id mismatch: expected {diff_id}, got {got}");
    }
    let info = LayerInfo {
        chain_id: chain.clone(),
        diff_id: diff_id.clone(),
        parent: parent.cloned(),
        digest: digest.clone(),
        media_type: media_type.to_string(),
        uncompressed_size: hr.count,
    };
    write_atomic(
        &tmp.path.join("layer.json"),
        &serde_json::to_vec_pretty(&info)?,
    )?;
    let dest = store.root().join("layers").join(&hex);
    // One syncfs instead of an fsync per file: the layer's data is on disk
    // before the rename makes it visible, so a power loss can't leave a
    // complete-looking layer with empty files.
    nix::unistd::syncfs(tmp.file.as_raw_fd()).context("syncing the unpacked layer")?;
    match std::fs::rename(&tmp.path, &dest) {
        Ok(()) => tmp.keep(),
        // Someone else finished it (we hold the lock, so only a process that
        // ignored it): theirs is as good as ours.
        Err(e) if dest.join("layer.json").is_file() => {
            debug!("layer {chain} appeared meanwhile ({e}); dropping ours")
        }
        Err(e) => return Err(e).with_context(|| format!("moving layer into {}", dest.display())),
    }
    sync_dir(&store.root().join("layers"))?;
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::super::sha256_digest;
    use super::super::tests::test_store;
    use super::super::unpack::tests::Tar;
    use super::*;
    use crate::image::manifest::{DOCKER_LAYER_GZIP, OCI_LAYER, OCI_LAYER_ZSTD};
    use std::os::unix::fs::PermissionsExt;

    fn store_layer(s: &Store, blob: &[u8]) -> OciDigest {
        let d = sha256_digest(blob);
        s.put_blob(&d, blob).unwrap();
        d
    }

    #[test]
    fn unpack_layer_verifies_diff_ids_for_each_compression() {
        use std::io::Write;
        let (_d, s) = test_store();
        let mut t = Tar::new();
        t.file("etc/hello", b"world");
        let plain = t.bytes();
        let diff = sha256_digest(&plain);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        // Two gzip members: some tools write them, and all must be read.
        gz.write_all(&plain[..100]).unwrap();
        let mut gzb = gz.finish().unwrap();
        let mut gz2 = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz2.write_all(&plain[100..]).unwrap();
        gzb.extend(gz2.finish().unwrap());
        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        for (blob, mt) in [
            (plain.clone(), OCI_LAYER),
            (gzb, DOCKER_LAYER_GZIP),
            (zst, OCI_LAYER_ZSTD),
        ] {
            let digest = store_layer(&s, &blob);
            let parent = super::super::sha256_from_hex(&"1".repeat(64)).unwrap();
            let chain = s.unpack_layer(&digest, mt, &diff, Some(&parent)).unwrap();
            assert_eq!(chain, super::super::chain_id(Some(&parent), &diff));
            assert!(s.has_layer(&chain));
            assert_eq!(
                std::fs::read(s.layer_dir(&chain).join("etc/hello")).unwrap(),
                b"world"
            );
            assert_eq!(
                s.layer_info(&chain).unwrap().uncompressed_size,
                plain.len() as u64
            );
            // Idempotent.
            assert_eq!(
                s.unpack_layer(&digest, mt, &diff, Some(&parent)).unwrap(),
                chain
            );
            std::fs::remove_dir_all(s.layer_dir(&chain).parent().unwrap()).unwrap();
        }
        assert!(std::fs::read_dir(s.tmp_dir()).unwrap().next().is_none());
    }

    #[test]
    fn bad_layers_leave_nothing_behind() {
        let (_d, s) = test_store();
        let mut t = Tar::new();
        t.file("ok", b"fine");
        let plain = t.bytes();
        let digest = store_layer(&s, &plain);
        let wrong = sha256_digest(b"something else");
        let e = format!(
            "{:#}",
            s.unpack_layer(&digest, OCI_LAYER, &wrong, None)
                .unwrap_err()
        );
        assert!(
            e.contains("diff id mismatch")
                && e.contains(wrong.as_ref())
                && e.contains(sha256_digest(&plain).as_ref()),
            "{e}"
        );
        assert!(!s.has_layer(&wrong));
        let mut t = Tar::new();
        t.file("ok", b"fine").symlink("l", "/").file("l/evil", b"x");
        let evil = t.bytes();
        let ed = store_layer(&s, &evil);
        let diff = sha256_digest(&evil);
        assert!(s.unpack_layer(&ed, OCI_LAYER, &diff, None).is_err());
        assert!(!s.has_layer(&diff));
        let e = s
            .unpack_layer(&ed, "application/x-bogus", &diff, None)
            .unwrap_err();
        assert!(format!("{e:#}").contains("unsupported layer media type"));
        assert!(std::fs::read_dir(s.tmp_dir()).unwrap().next().is_none());
        assert!(std::fs::read_dir(s.root().join("layers"))
            .unwrap()
            .next()
            .is_none());
        let _ = std::fs::Permissions::from_mode(0o755);
    }

    /// The layer's tar as the tar-split gives it back.
    fn given_back(s: &Store, chain: &OciDigest) -> Vec<u8> {
        use super::super::SplitPart;
        let ts = s.layer_tar_split(chain).unwrap().expect("a tar-split");
        let mut out = Vec::new();
        for p in ts.parts {
            match p {
                SplitPart::Bytes(b) => out.extend(b),
                SplitPart::File { path, size } => {
                    let d = std::fs::read(s.layer_dir(chain).join(path)).unwrap();
                    assert_eq!(d.len() as u64, size);
                    out.extend(d);
                }
            }
        }
        assert_eq!(out.len() as u64, ts.size);
        out
    }

    #[test]
    fn layers_are_given_back_byte_for_byte() {
        let (_d, s) = test_store();
        let mut t = Tar::new();
        t.dir("etc", 0o755)
            .file("etc/hello", b"world")
            .file("etc/empty", b"")
            .file(&format!("deep/{}", "n".repeat(80)), &[7u8; 5000])
            .file("big", &vec![0u8; 70000])
            .hardlink("etc/again", "etc/hello")
            .symlink("abs", "/etc/hello")
            .file(".wh.gone", b"")
            .file("etc/.wh..wh..opq", b"");
        let mut plain = t.bytes();
        // Trailing blocks past the end marker belong to the diff id too.
        plain.extend(vec![0u8; 10240]);
        let digest = store_layer(&s, &plain);
        let diff = sha256_digest(&plain);
        let chain = s.unpack_layer(&digest, OCI_LAYER, &diff, None).unwrap();
        assert_eq!(given_back(&s, &chain), plain);

        // An entry that replaces another: the layer can't be given back.
        let mut t = Tar::new();
        t.file("a", b"first").file("a", b"second");
        let dup = t.bytes();
        let digest = store_layer(&s, &dup);
        let chain = s
            .unpack_layer(&digest, OCI_LAYER, &sha256_digest(&dup), None)
            .unwrap();
        assert!(s.layer_tar_split(&chain).unwrap().is_none());
    }
}
