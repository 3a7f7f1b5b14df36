//! What happens to the built image after its last step: `--squash`,
//! `--squash-all` and `--layers=false` make its new layers (or all of
//! them) one, from the mounted image's tree; `--output` writes that tree
//! to a directory (through the hardened extractor: nothing lands outside
//! it, whatever symlinks the image or an earlier output planted) or a tar.

use super::Builder;
use crate::image::commit::write_image;
use crate::options::Options;
use crate::storage::diff::{changes_of_copy, reopen_dir, TarMode, TreeTar};
use crate::storage::{ImageRecord, Store};
use crate::sys::inroot;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Where `--output` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=local,dest=DIR` (or just `DIR`).
    Local(PathBuf),
    /// `type=tar,dest=FILE`.
    Tar(PathBuf),
    /// `type=tar,dest=-` (or `-`): the tar on standard output.
    TarStdout,
}

impl std::str::FromStr for Output {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Output> {
        if s == "-" {
            return Ok(Output::TarStdout);
        }
        if !s.contains('=') {
            if s.is_empty() {
                bail!("invalid --output \"\": give a directory or type=...,dest=...");
            }
            return Ok(Output::Local(PathBuf::from(s)));
        }
        let mut kind = None;
        let mut dest = None;
        for kv in s.split(',') {
            match kv.split_once('=') {
                Some(("type", v)) => kind = Some(v),
                Some(("dest", v)) => dest = Some(v),
                _ => bail!("invalid --output {s:?}: use type=local,dest=DIR or type=tar,dest=FILE"),
            }
        }
        let dest = dest
            .filter(|d| !d.is_empty())
            .with_context(|| format!("invalid --output {s:?}: dest= is required"))?;
        match kind {
            Some("local") => Ok(Output::Local(PathBuf::from(dest))),
            Some("tar") if dest == "-" => Ok(Output::TarStdout),
            Some("tar") => Ok(Output::Tar(PathBuf::from(dest))),
            Some(k) => bail!("invalid --output {s:?}: type {k:?} is not local or tar"),
            None => bail!("invalid --output {s:?}: type= is required"),
        }
    }
}

/// A pipe's read and write ends.
pub(super) fn pipe() -> Result<(std::fs::File, std::fs::File)> {
    let (r, w) = nix::unistd::pipe().context("making a pipe")?;
    Ok((r.into(), w.into()))
}

/// An image mounted read-only in a temp dir, unmounted and removed on drop.
struct Mounted {
    merged: PathBuf,
    _tmp: crate::storage::TmpEntry,
}

impl Mounted {
    fn new(store: &Store, img: &ImageRecord) -> Result<Mounted> {
        let tmp = store.tmp_entry("build-out", true)?;
        let merged = tmp.path.join("merged");
        std::fs::create_dir_all(&merged)?;
        crate::rootfs::mount_read_only(store, img, &merged, &tmp.path.join("empty"))
            .with_context(|| format!("mounting image {}", &img.id[..12]))?;
        Ok(Mounted { merged, _tmp: tmp })
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.merged, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The whole tree of `img` as a plain tar into `w`.
fn tree_tar(store: &Store, img: &ImageRecord, w: &mut dyn Write) -> Result<()> {
    if img.layers.is_empty() {
        tar::Builder::new(w).finish()?;
        return Ok(());
    }
    let m = Mounted::new(store, img)?;
    let root = inroot::open_root(&m.merged).context("opening the image's tree")?;
    let dir = reopen_dir(root.as_fd())?;
    let mut t = TreeTar::new(w, TarMode::Plain);
    t.add_contents(dir.as_fd(), Path::new(""))?;
    t.finish()?;
    Ok(())
}

/// Write the file system of image `id` where `out` says; `stdout` is
/// where `Output::TarStdout` goes. Call in rpod's user namespace and a
/// private mount namespace.
pub fn export(opts: &Options, id: &str, out: &Output, stdout: &mut dyn Write) -> Result<()> {
    let store = Store::open(opts)?;
    let img = store
        .image_by_id(id)?
        .with_context(|| format!("image {id} is not in local storage"))?;
    match out {
        Output::TarStdout => {
            let mut w = std::io::BufWriter::new(stdout);
            tree_tar(&store, &img, &mut w)?;
            w.flush()?;
        }
        Output::Tar(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = std::io::BufWriter::new(f);
            tree_tar(&store, &img, &mut w).with_context(|| format!("writing {}", p.display()))?;
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        Output::Local(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let dest: std::os::fd::OwnedFd = std::fs::File::open(dir)
                .with_context(|| format!("opening {}", dir.display()))?
                .into();
            let (rd, wr) = pipe()?;
            let reader = std::thread::spawn(move || {
                crate::storage::extract_plain(
                    std::io::BufReader::with_capacity(1 << 20, rd),
                    dest,
                    crate::storage::PlainOpts {
                        chown: false,
                        overwrite: true,
                        ..Default::default()
                    },
                )
            });
            let wrote = {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, wr);
                tree_tar(&store, &img, &mut w).and_then(|()| Ok(w.flush()?))
            };
            let got = reader
                .join()
                .map_err(|_| anyhow::anyhow!("the extraction panicked"))?;
            got.with_context(|| format!("writing the output to {}", dir.display()))?;
            wrote?;
        }
    }
    Ok(())
}

impl<'o> Builder<'o> {
    /// `img` with its layers above `base`'s (all of them with `all`, or
    /// without a base) made one. The history, as buildah writes it: the
    /// base's entries (none with `all`), then the stage's steps, empty but
    /// the last, which alone has the `comment` ("FROM base").
    pub(super) fn squash(
        &mut self,
        img: &ImageRecord,
        base: Option<&ImageRecord>,
        all: bool,
        comment: &str,
    ) -> Result<ImageRecord> {
        let hist_base = base;
        let base = if all { None } else { base };
        let keep = base.map(|b| b.layers.len()).unwrap_or(0);
        if img.layers.len() <= keep + 1 {
            return Ok(img.clone());
        }
        let _hold = self.store.hold_layers()?;
        let merged = self.mount_image(img)?;
        let lowers: Vec<PathBuf> = match base {
            Some(b) => b
                .layers
                .iter()
                .rev()
                .map(|l| self.store.layer_dir(&l.chain_id))
                .collect(),
            None => Vec::new(),
        };
        let nl =
            super::layer::store_layer(&self.store, base, self.o.docker, self.o.timestamp, |w| {
                let root = inroot::open_root(&merged).context("opening the image's tree")?;
                let dir = reopen_dir(root.as_fd())?;
                let mut t = TreeTar::new(w, TarMode::Plain);
                if base.is_none() {
                    t.add_contents(dir.as_fd(), Path::new(""))?;
                } else {
                    let found = changes_of_copy(&merged, &lowers, &Default::default())?;
                    t.add_changes(dir.as_fd(), &found)?;
                }
                t.finish()?;
                Ok(())
            })?;
        let mut cfg: Value = serde_json::from_slice(&self.store.read_blob(&img.config_digest)?)
            .context("parsing the built image's config")?;
        let mut layers = base.map(|b| b.layers.clone()).unwrap_or_default();
        let mut diff_ids: Vec<Value> = layers.iter().map(|l| json!(l.diff_id)).collect();
        diff_ids.push(json!(nl.rec.diff_id));
        layers.push(nl.rec);
        cfg["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        // The base's history entries stay as they are (with --squash); the
        // rest are empty but the last, which carries the one new layer.
        let base_hist = match hist_base {
            Some(b) => serde_json::from_slice::<Value>(&self.store.read_blob(&b.config_digest)?)
                .ok()
                .and_then(|c| c["history"].as_array().map(Vec::len))
                .unwrap_or(0),
            None => 0,
        };
        if let Some(h) = cfg["history"].as_array_mut() {
            if all {
                h.drain(..base_hist.min(h.len()));
            }
            let from = if all { 0 } else { base_hist };
            let n = h.len();
            for (i, e) in h.iter_mut().enumerate().skip(from) {
                if let Some(o) = e.as_object_mut() {
                    o.remove("comment");
                    if i + 1 == n {
                        o.remove("empty_layer");
                        o.insert("comment".into(), json!(comment));
                    } else {
                        o.insert("empty_layer".into(), json!(true));
                    }
                }
            }
        }
        let annotations = self.annotations_of(img)?;
        let id = super::cache_id_of(&cfg)?;
        let existed = self.store.image_by_id(&id)?.is_some();
        let out = write_image(
            &self.store,
            &cfg,
            layers,
            self.o.docker,
            Vec::new(),
            &annotations,
        )?;
        if !existed {
            self.made.push(out.id.clone());
        }
        Ok(out)
    }

    /// The annotations on `img`'s manifest.
    fn annotations_of(&self, img: &ImageRecord) -> Result<Vec<(String, String)>> {
        let m: Value = serde_json::from_slice(&self.store.read_blob(&img.digest)?)
            .context("parsing the built image's manifest")?;
        Ok(m["annotations"]
            .as_object()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default())
    }
}
