//! The build cache: a step's image by the hash of everything it depends
//! on (its parent image, its instruction, the ARG values, the stat of the
//! COPY/ADD sources, the format and the timestamp). One small file per
//! entry in ROOT/build-cache, naming the image id; an entry whose image
//! was removed is a miss.

use crate::storage::{ImageRecord, Store};
use anyhow::{Context, Result};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;

fn dir(store: &Store) -> PathBuf {
    store.root().join("build-cache")
}

/// The key of a step.
pub fn key(
    parent: &str,
    created_by: &str,
    inputs: &[String],
    cfg: &Value,
    docker: bool,
    timestamp: Option<i64>,
) -> String {
    let mut h = Sha256::new();
    h.update(b"rpod-build-cache-v1\0");
    h.update(parent.as_bytes());
    h.update([0]);
    h.update(created_by.as_bytes());
    for i in inputs {
        h.update([0]);
        h.update(i.as_bytes());
    }
    h.update([0]);
    h.update(cfg["config"].to_string().as_bytes());
    h.update(format!("\0{docker}\0{timestamp:?}").as_bytes());
    hex::encode(h.finalize())
}

/// The image of a cached step, if it is still stored whole.
pub fn lookup(store: &Store, key: &str) -> Option<ImageRecord> {
    let id = std::fs::read_to_string(dir(store).join(key)).ok()?;
    let img = store.image_by_id(id.trim()).ok()??;
    if img.layers.iter().all(|l| store.has_layer(&l.chain_id)) {
        Some(img)
    } else {
        None
    }
}

/// Remember `id` as the image of step `key`.
pub fn record(store: &Store, key: &str, id: &str) -> Result<()> {
    let d = dir(store);
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    crate::storage::write_atomic(&d.join(key), id.as_bytes()).context("recording the build cache")
}
