//! The build cache: a step's image by the hash of everything it depends
//! on (its parent image, its instruction, the ARG values, the content
//! hash of the COPY/ADD sources, the format and the timestamp). One small
//! file per entry in ROOT/build-cache, naming the image id; an entry whose
//! image was removed is a miss. The content hashes of context files are
//! remembered by their stat (`FileHashes`), so a cached build reads only
//! the files that changed.

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

/// A file's stat as far as its content goes: the same stamp, the same
/// content. ctime can not be set from user space and changes with every
/// write, so a rewrite that keeps size and mtime still changes the stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: i64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileStamp {
    pub fn of(st: &nix::sys::stat::FileStat) -> FileStamp {
        FileStamp {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }
}

/// The sha256 of context files' contents by their stamp, kept between
/// builds (ROOT/build-cache/file-hashes) so a cached build reads no file
/// whose stamp is unchanged: git's index, for the COPY cache. A hash is
/// remembered only for a file whose ctime is older than the hashing by
/// over a second ("racy git"): a write in the same clock tick as the
/// hashing could otherwise keep the stamp and change the content.
#[derive(Debug, Default)]
pub struct FileHashes {
    path: Option<PathBuf>,
    map: std::collections::HashMap<(u64, u64), (FileStamp, [u8; 32], bool)>,
    dirty: bool,
}

/// Entries beyond this are dropped (those this build did not use first).
const MAX_FILE_HASHES: usize = 200_000;

impl FileHashes {
    /// The remembered hashes (none if the file is missing or unreadable:
    /// a bad line is skipped, never trusted).
    pub fn load(store: &Store) -> FileHashes {
        let path = dir(store).join("file-hashes");
        let mut map = std::collections::HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for l in text.lines() {
                if let Some((st, h)) = parse_line(l) {
                    map.insert((st.dev, st.ino), (st, h, false));
                }
            }
        }
        FileHashes {
            path: Some(path),
            map,
            dirty: false,
        }
    }

    /// The hash of a file with this stamp, if known.
    pub fn get(&mut self, st: &FileStamp) -> Option<[u8; 32]> {
        let e = self.map.get_mut(&(st.dev, st.ino))?;
        if e.0 != *st {
            return None;
        }
        e.2 = true;
        Some(e.1)
    }

    /// Remember `hash` for a file stamped `st`, hashed from `started`
    /// (seconds since the epoch) on.
    pub fn put(&mut self, st: &FileStamp, hash: [u8; 32], started: i64) {
        if st.ctime.0 + 1 >= started {
            return;
        }
        self.map.insert((st.dev, st.ino), (*st, hash, true));
        self.dirty = true;
    }

    /// Take in what another builder of the same build learnt.
    pub fn merge(&mut self, other: FileHashes) {
        if other.dirty {
            self.dirty = true;
        }
        for (k, v) in other.map {
            if v.2 {
                self.map.insert(k, v);
            }
        }
    }

    /// Write the hashes back if any was added.
    pub fn save(&mut self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        if self.map.len() > MAX_FILE_HASHES {
            self.map.retain(|_, e| e.2);
        }
        let mut out = String::with_capacity(self.map.len() * 120);
        for (st, h, _) in self.map.values() {
            use std::fmt::Write as _;
            let _ = writeln!(
                out,
                "{} {} {} {} {} {} {} {}",
                st.dev,
                st.ino,
                st.size,
                st.mtime.0,
                st.mtime.1,
                st.ctime.0,
                st.ctime.1,
                hex::encode(h)
            );
        }
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        crate::storage::write_atomic(path, out.as_bytes())
            .context("recording the build's file hashes")?;
        self.dirty = false;
        Ok(())
    }
}

fn parse_line(l: &str) -> Option<(FileStamp, [u8; 32])> {
    let f: Vec<&str> = l.split(' ').collect();
    if f.len() != 8 {
        return None;
    }
    let st = FileStamp {
        dev: f[0].parse().ok()?,
        ino: f[1].parse().ok()?,
        size: f[2].parse().ok()?,
        mtime: (f[3].parse().ok()?, f[4].parse().ok()?),
        ctime: (f[5].parse().ok()?, f[6].parse().ok()?),
    };
    let h: [u8; 32] = hex::decode(f[7]).ok()?.try_into().ok()?;
    Some((st, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(ctime: i64) -> FileStamp {
        FileStamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime: (4, 5),
            ctime: (ctime, 7),
        }
    }

    #[test]
    fn file_hashes_need_the_same_stamp_and_an_old_ctime() {
        let mut m = FileHashes::default();
        // Changed within the second of the hashing: not remembered.
        m.put(&stamp(100), [1; 32], 100);
        assert_eq!(m.get(&stamp(100)), None);
        m.put(&stamp(100), [1; 32], 102);
        assert_eq!(m.get(&stamp(100)), Some([1; 32]));
        // Another ctime (a rewrite keeping size and mtime): unknown.
        let mut other = stamp(100);
        other.ctime.1 = 8;
        assert_eq!(m.get(&other), None);
    }

    #[test]
    fn file_hash_lines_round_trip_and_bad_lines_are_skipped() {
        let st = stamp(9);
        let l = format!("1 2 3 4 5 9 7 {}", hex::encode([7u8; 32]));
        assert_eq!(parse_line(&l), Some((st, [7; 32])));
        assert_eq!(parse_line("1 2 3 4 5 9 7 abcd"), None);
        assert_eq!(parse_line("1 2 x 4 5 9 7"), None);
    }
}
