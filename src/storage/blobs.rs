//! Writing content-addressed blobs: hash while writing into a flocked temp
//! file in ROOT/tmp, and only a blob whose sha256 (and size) match is fsynced
//! and renamed into blobs/sha256/. Anything else is deleted, so the store
//! never holds a blob that isn't what its name says.

use super::{atomic::sync_dir, digest_hex, sha256_finish, Store, TmpEntry};
use anyhow::{bail, Context, Result};
use oci_spec::image::Digest as OciDigest;
use sha2::{Digest, Sha256};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

const BUF: usize = 1 << 20;

pub struct BlobWriter {
    digest: OciDigest,
    expected_size: Option<u64>,
    out: BufWriter<std::fs::File>,
    hasher: Sha256,
    written: u64,
    tmp: TmpEntry,
    dest: PathBuf,
}

impl BlobWriter {
    pub(super) fn new(
        store: &Store,
        digest: &OciDigest,
        expected_size: Option<u64>,
    ) -> Result<BlobWriter> {
        let hex = digest_hex(digest)?;
        let tmp = store.tmp_entry(&format!("blob-{}", &hex[..12]), false)?;
        let file = tmp.file.try_clone().context("duplicating a descriptor")?;
        Ok(BlobWriter {
            digest: digest.clone(),
            expected_size,
            out: BufWriter::with_capacity(BUF, file),
            hasher: Sha256::new(),
            written: 0,
            tmp,
            dest: store.blob_path(digest),
        })
    }

    /// Check the digest and size, make the data durable and move it into
    /// place. Idempotent: a blob that is already there is simply replaced
    /// by identical content. On a mismatch nothing is kept.
    pub fn commit(mut self) -> Result<()> {
        self.out
            .flush()
            .with_context(|| format!("writing blob {}", self.digest))?;
        if let Some(want) = self.expected_size {
            if want != self.written {
                bail!(
                    "blob {}: size mismatch: expected {want} bytes, got {}",
                    self.digest,
                    self.written
                );
            }
        }
        let got = sha256_finish(&mut self.hasher);
        if got != self.digest {
            bail!("digest mismatch: expected {}, got {got}", self.digest);
        }
        self.out
            .get_ref()
            .sync_data()
            .with_context(|| format!("syncing blob {}", self.digest))?;
        std::fs::rename(&self.tmp.path, &self.dest)
            .with_context(|| format!("moving blob {} into {}", self.digest, self.dest.display()))?;
        self.tmp.keep();
        if let Some(dir) = self.dest.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(want) = self.expected_size {
            if self.written + buf.len() as u64 > want {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is larger than the {want} bytes its descriptor says",
                        self.digest
                    ),
                ));
            }
        }
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::sha256_digest;
    use super::super::tests::test_store;
    use std::io::Write;

    fn tmp_is_empty(s: &super::Store) -> bool {
        std::fs::read_dir(s.tmp_dir()).unwrap().next().is_none()
    }

    #[test]
    fn good_blob_lands_and_is_idempotent() {
        let (_d, s) = test_store();
        let data = b"hello blob".repeat(1000);
        let dg = sha256_digest(&data);
        for _ in 0..2 {
            let mut w = s.blob_writer(&dg, Some(data.len() as u64)).unwrap();
            for c in data.chunks(7) {
                w.write_all(c).unwrap();
            }
            w.commit().unwrap();
        }
        assert!(s.has_blob(&dg));
        assert_eq!(s.read_blob(&dg).unwrap(), data);
        assert!(tmp_is_empty(&s));
    }

    #[test]
    fn mismatch_names_both_digests_and_keeps_nothing() {
        let (_d, s) = test_store();
        let want = sha256_digest(b"expected");
        let got = sha256_digest(b"corrupted");
        let mut w = s.blob_writer(&want, None).unwrap();
        w.write_all(b"corrupted").unwrap();
        let e = format!("{:#}", w.commit().unwrap_err());
        assert!(e.contains(want.as_ref()) && e.contains(got.as_ref()), "{e}");
        assert!(!s.has_blob(&want));
        assert!(tmp_is_empty(&s));
    }

    #[test]
    fn size_is_enforced_and_dropping_cleans_up() {
        let (_d, s) = test_store();
        let dg = sha256_digest(b"abc");
        let mut w = s.blob_writer(&dg, Some(2)).unwrap();
        assert!(w.write_all(b"abc").is_err());
        drop(w);
        assert!(tmp_is_empty(&s));
        let mut w = s.blob_writer(&dg, Some(4)).unwrap();
        w.write_all(b"abc").unwrap();
        let e = format!("{:#}", w.commit().unwrap_err());
        assert!(e.contains("size mismatch"), "{e}");
        assert!(!s.has_blob(&dg));
        let md5 = super::super::parse_digest("md5:abc").unwrap();
        assert!(s.blob_writer(&md5, None).is_err());
    }
}
