//! What rpod takes from containers-storage.conf(5) and `--storage-opt`: the
//! driver and overlay's mount program. The file is podman's choice: the
//! user's `$XDG_CONFIG_HOME/containers/storage.conf` if it exists, else the
//! system's; `$CONTAINERS_STORAGE_CONF` replaces both. `graphroot` and
//! `runroot` are not read: they name podman's store, whose format is not
//! rpod's (use `--root`/`--runroot`).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The settings of storage.conf rpod has a meaning for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConf {
    /// `[storage] driver`: overlay, fuse-overlayfs or vfs.
    pub driver: Option<String>,
    /// `[storage.options.overlay] mount_program`: use fuse-overlayfs.
    pub mount_program: Option<PathBuf>,
}

/// The file podman would read, if any.
pub fn file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CONTAINERS_STORAGE_CONF").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let user = crate::xdg::config_home().map(|c| c.join("containers/storage.conf"));
    [
        user,
        Some(PathBuf::from("/etc/containers/storage.conf")),
        Some(PathBuf::from("/usr/share/containers/storage.conf")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.exists())
}

/// Read the file podman would read. `$CONTAINERS_STORAGE_CONF` naming a
/// missing file is an error, as in podman; a file that does not parse is
/// named in the error.
pub fn load() -> Result<StorageConf> {
    let Some(f) = file() else {
        return Ok(StorageConf::default());
    };
    let text = std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
    parse(&text).with_context(|| format!("parsing {}", f.display()))
}

fn parse(text: &str) -> Result<StorageConf> {
    let v: toml::Table = text.parse()?;
    let mut c = StorageConf::default();
    let Some(toml::Value::Table(s)) = v.get("storage") else {
        return Ok(c);
    };
    match s.get("driver") {
        None => {}
        Some(toml::Value::String(d)) if d.is_empty() => {}
        Some(toml::Value::String(d)) => c.driver = Some(driver(d)?),
        Some(_) => bail!("[storage] driver must be a string"),
    }
    if let Some(toml::Value::Table(o)) = s.get("options") {
        // The old place of the key, then its place since containers/storage 1.25.
        let overlay = match o.get("overlay") {
            Some(toml::Value::Table(t)) => Some(t),
            _ => None,
        };
        for t in [Some(o), overlay].into_iter().flatten() {
            match t.get("mount_program") {
                None => {}
                Some(toml::Value::String(p)) if p.is_empty() => {}
                Some(toml::Value::String(p)) => c.mount_program = Some(mount_program(p)?),
                Some(_) => bail!("mount_program must be a string"),
            }
        }
    }
    Ok(c)
}

fn driver(d: &str) -> Result<String> {
    match d {
        "overlay" | "overlay2" => Ok("overlay".into()),
        "fuse-overlayfs" | "vfs" => Ok(d.into()),
        _ => bail!(
            "storage driver \"{d}\" is not supported by rpod: use overlay, fuse-overlayfs or vfs"
        ),
    }
}

/// rpod runs fuse-overlayfs as overlay's mount program (found on PATH, as
/// `--storage-driver fuse-overlayfs` does), so only that program is accepted.
fn mount_program(p: &str) -> Result<PathBuf> {
    if Path::new(p)
        .file_name()
        .is_some_and(|n| n == "fuse-overlayfs")
    {
        Ok(PathBuf::from(p))
    } else {
        bail!("mount_program \"{p}\" is not supported: rpod's only overlay mount program is fuse-overlayfs")
    }
}

/// One `--storage-opt`: `overlay.mount_program=PATH` (or the unprefixed
/// key) gives the mount program; an empty option is podman's "clear the
/// options" and means nothing here. Anything else is refused by name.
pub fn parse_storage_opt(o: &str) -> Result<Option<PathBuf>> {
    if o.is_empty() {
        return Ok(None);
    }
    let (k, v) = o.split_once('=').unwrap_or((o, ""));
    match k.trim() {
        "overlay.mount_program" | "overlay2.mount_program" | "mount_program" => {
            mount_program(v.trim()).map(Some).context("--storage-opt")
        }
        _ => bail!(
            "--storage-opt {o}: not supported by rpod's storage (it supports overlay.mount_program=PATH)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_and_mount_program() {
        let c = parse(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"/x\"\n\
             [storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
        )
        .unwrap();
        assert_eq!(c.driver.as_deref(), Some("overlay"));
        assert_eq!(
            c.mount_program.as_deref(),
            Some(Path::new("/usr/bin/fuse-overlayfs"))
        );
        assert_eq!(parse("").unwrap(), StorageConf::default());
        assert_eq!(
            parse("[storage]\ndriver = \"vfs\"\n")
                .unwrap()
                .driver
                .as_deref(),
            Some("vfs")
        );
    }

    #[test]
    fn refuses_what_rpod_cannot_do() {
        let e = parse("[storage]\ndriver = \"btrfs\"\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("\"btrfs\" is not supported"),
            "{e:#}"
        );
        assert!(parse("[storage\n").is_err());
        assert!(parse_storage_opt("overlay.mount_program=/bin/sh").is_err());
        let e = parse_storage_opt("overlay.mountopt=nodev").unwrap_err();
        assert!(format!("{e:#}").contains("overlay.mountopt=nodev"), "{e:#}");
        assert_eq!(parse_storage_opt("").unwrap(), None);
        assert_eq!(
            parse_storage_opt("overlay.mount_program=/usr/bin/fuse-overlayfs").unwrap(),
            Some(PathBuf::from("/usr/bin/fuse-overlayfs"))
        );
    }
}
