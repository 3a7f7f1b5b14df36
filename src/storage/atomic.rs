//! Atomic file replacement: write a temp file beside the target, fsync it,
//! rename it over the target, fsync the directory. A reader sees the old
//! content or the new, never a mix; a crash leaves at worst a dot-file temp.

use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replace `path` with `data` atomically (mode 0644 before umask).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_mode(path, data, 0o644)
}

/// Same, creating the file with `mode` (e.g. 0600 for credentials).
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    replace(path, data, mode, true)
}

/// Atomic but not durable: no fsync, for runtime state (under
/// $XDG_RUNTIME_DIR, or rewritten often) that a power loss makes moot
/// anyway. Readers still see the old content or the new, never a mix.
pub fn write_atomic_volatile(path: &Path, data: &[u8]) -> Result<()> {
    replace(path, data, 0o644, false)
}

fn replace(path: &Path, data: &[u8], mode: u32, durable: bool) -> Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let res = (|| -> Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(data)
            .and_then(|_| if durable { f.sync_all() } else { Ok(()) })
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// fsync a directory, so a rename or create in it survives a crash.
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

/// True for the temp names `write_atomic` uses (readers skip them).
pub(super) fn is_atomic_temp(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_whole_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("rec.json");
        write_atomic(&p, b"first version, long").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["rec.json"]);
    }

    #[test]
    fn mode_is_applied_and_failures_clean_up() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("auth.json");
        write_atomic_mode(&p, b"{}", 0o600).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Renaming onto a non-empty directory fails: the temp must go.
        let target = d.path().join("dir");
        fs::create_dir_all(target.join("x")).unwrap();
        assert!(write_atomic(&target, b"x").is_err());
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| is_atomic_temp(n))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
