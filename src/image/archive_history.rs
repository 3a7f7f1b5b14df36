//! What `history` and `image tree` show of a local image: its config's
//! history with the sizes of the layers each step made, and its layers with
//! the images they are the top of.

use crate::storage::{ImageRecord, Store};
use anyhow::Result;
use serde_json::Value;

/// One step of an image's history, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// The image id for the newest step, else None (`<missing>`).
    pub id: Option<String>,
    /// As the config has it (RFC 3339), or empty.
    pub created: String,
    pub created_by: String,
    /// The unpacked size of the layer this step made (0 for empty steps).
    pub size: u64,
    pub comment: String,
}

/// The history of `rec`, newest first, as podman computes it: each step
/// that is not an `empty_layer` takes the next layer from the top.
pub fn history(store: &Store, rec: &ImageRecord) -> Result<Vec<HistoryRow>> {
    let data = store.read_blob(&rec.config_digest)?;
    let config: Value = serde_json::from_slice(&data)?;
    let steps = config["history"].as_array().cloned().unwrap_or_default();
    let sizes: Vec<u64> = rec
        .layers
        .iter()
        .map(|l| {
            store
                .layer_info(&l.chain_id)
                .map(|i| i.uncompressed_size)
                .unwrap_or(l.size)
        })
        .collect();
    let mut out = Vec::new();
    let mut layer = sizes.len();
    if steps.is_empty() {
        // No history: one step per layer.
        for (i, s) in sizes.iter().enumerate().rev() {
            out.push(HistoryRow {
                id: (i + 1 == sizes.len()).then(|| rec.id.clone()),
                created: rec.created.clone().unwrap_or_default(),
                created_by: String::new(),
                size: *s,
                comment: String::new(),
            });
        }
        return Ok(out);
    }
    for (n, h) in steps.iter().enumerate().rev() {
        let empty = h["empty_layer"].as_bool().unwrap_or(false);
        let size = if !empty && layer > 0 {
            layer -= 1;
            sizes[layer]
        } else {
            0
        };
        out.push(HistoryRow {
            id: (n + 1 == steps.len()).then(|| rec.id.clone()),
            created: h["created"].as_str().unwrap_or_default().to_string(),
            created_by: h["created_by"].as_str().unwrap_or_default().to_string(),
            size,
            comment: h["comment"].as_str().unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}

/// A layer in `image tree`.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeLayer {
    /// The layer's id (hex of its chain id).
    pub id: String,
    pub size: u64,
    /// Names of the images whose top layer this is.
    pub top_of: Vec<String>,
}

fn tree_layer(store: &Store, all: &[ImageRecord], rec: &ImageRecord, i: usize) -> TreeLayer {
    let l = &rec.layers[i];
    let top_of = all
        .iter()
        .filter(|r| r.layers.last().map(|t| &t.chain_id) == Some(&l.chain_id))
        .flat_map(|r| r.names.iter().cloned())
        .collect();
    TreeLayer {
        id: l.chain_id.digest().to_string(),
        size: store
            .layer_info(&l.chain_id)
            .map(|i| i.uncompressed_size)
            .unwrap_or(l.size),
        top_of,
    }
}

/// The layers of `rec`, bottom first.
pub fn tree(store: &Store, rec: &ImageRecord) -> Result<Vec<TreeLayer>> {
    let all = store.images()?;
    Ok((0..rec.layers.len())
        .map(|i| tree_layer(store, &all, rec, i))
        .collect())
}

/// `--whatrequires`: the images built on `rec` (its layers are a prefix of
/// theirs), each with the layers it adds, bottom first.
pub fn what_requires(store: &Store, rec: &ImageRecord) -> Result<Vec<Vec<TreeLayer>>> {
    let all = store.images()?;
    let n = rec.layers.len();
    Ok(all
        .iter()
        .filter(|r| {
            r.id != rec.id
                && r.layers.len() > n
                && r.layers[..n]
                    .iter()
                    .zip(&rec.layers)
                    .all(|(a, b)| a.chain_id == b.chain_id)
        })
        .map(|r| {
            (n..r.layers.len())
                .map(|i| tree_layer(store, &all, r, i))
                .collect()
        })
        .collect())
}
