//! Secrets: podman's `secret` store and its `file` driver, in podman's
//! layout under the storage root:
//!
//! ```text
//! ROOT/secrets/                     0700
//!   secrets.json                    0600  name, id, times, driver, labels
//!   secrets.lock
//!   filedriver/                     0700
//!     secretsdata.json              0600  id -> base64 of the data
//!     secretsdata.lock
//! ```
//!
//! Only `secretsdata.json` holds a secret's data; nothing `inspect` shows
//! does. A container gets a copy of each secret it names at create time
//! ([`for_container`]): as a file mounted read-only (`type=mount`, at
//! /run/secrets/NAME or its target) or as an environment variable
//! (`type=env`) that the container's record, and so `inspect`, never holds.

use crate::storage::{write_atomic_mode, Lock};
use anyhow::{bail, Context, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// podman's limit: more than 0 bytes and less than 512000.
pub const MAX_SIZE: usize = 512_000;

/// One secret as secrets.json records it (podman's field names).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub name: String,
    pub id: String,
    /// RFC 3339 with nanoseconds, as Go writes a time.Time.
    pub created_at: String,
    pub driver: String,
    #[serde(default)]
    pub driver_options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Secret {
    /// Creation time in epoch nanoseconds (0 when unreadable).
    pub fn created_ns(&self) -> i64 {
        crate::time::parse_rfc3339(&self.created_at).unwrap_or(0)
    }

    /// podman's `secret inspect` object. It names where the driver keeps
    /// the data, never the data.
    pub fn inspect_json(&self) -> Info {
        Info {
            id: self.id.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.created_at.clone(),
            spec: InfoSpec {
                name: self.name.clone(),
                driver: InfoDriver {
                    name: self.driver.clone(),
                    options: self.driver_options.clone(),
                },
                labels: self.labels.clone(),
            },
        }
    }
}

/// `secret inspect`'s object, in podman's key order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    #[serde(rename = "ID")]
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub spec: InfoSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InfoSpec {
    pub name: String,
    pub driver: InfoDriver,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InfoDriver {
    pub name: String,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Db {
    #[serde(default)]
    secrets: BTreeMap<String, Secret>,
    #[serde(rename = "nameToID", default)]
    name_to_id: BTreeMap<String, String>,
    #[serde(rename = "idToName", default)]
    id_to_name: BTreeMap<String, String>,
}

/// What `secret create` makes.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: String,
    /// Only `file` is supported.
    pub driver: String,
    pub driver_options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `secret ls --filter`: name (substring), id (prefix), label (KEY or KEY=VALUE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Name(String),
    Id(String),
    Label(String, Option<String>),
}

pub fn parse_filter(s: &str) -> Result<Filter> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("invalid filter {s:?}"))?;
    Ok(match k {
        "name" => Filter::Name(v.to_string()),
        "id" => Filter::Id(v.to_string()),
        "label" => match v.split_once('=') {
            Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
            None => Filter::Label(v.to_string(), None),
        },
        _ => bail!("invalid filter {k:?}"),
    })
}

/// Filters of one key match when any does; all keys must match.
fn matches(s: &Secret, filters: &[Filter]) -> bool {
    let key = |f: &Filter| std::mem::discriminant(f);
    filters.iter().all(|f| {
        filters
            .iter()
            .filter(|g| key(g) == key(f))
            .any(|g| match g {
                Filter::Name(n) => s.name.contains(n.as_str()),
                Filter::Id(i) => s.id.starts_with(i.as_str()),
                Filter::Label(k, v) => match (s.labels.get(k), v) {
                    (Some(have), Some(want)) => have == want,
                    (Some(_), None) => true,
                    (None, _) => false,
                },
            })
    })
}

/// podman's rule for secret names.
pub fn validate_name(name: &str) -> Result<()> {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
        && name.starts_with(alnum)
        && name.ends_with(alnum);
    if !ok {
        bail!(
            "only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]: {name}: invalid secret name"
        );
    }
    Ok(())
}

fn not_found(name: &str) -> anyhow::Error {
    anyhow::anyhow!("no secret with name or id {name:?}: no such secret")
}

/// The secret store of one storage root.
pub struct Secrets {
    dir: PathBuf,
}

impl Secrets {
    /// The store under `options`' storage root (made on first use).
    pub fn open(options: &crate::options::Options) -> Result<Secrets> {
        let store = crate::storage::Store::open(options)?;
        Ok(Secrets::at(store.root().join("secrets")))
    }

    /// The store in `dir` (podman's `GRAPHROOT/secrets`).
    pub fn at(dir: PathBuf) -> Secrets {
        Secrets { dir }
    }

    /// Where the file driver keeps the data.
    pub fn driver_dir(&self) -> PathBuf {
        self.dir.join("filedriver")
    }

    fn db_path(&self) -> PathBuf {
        self.dir.join("secrets.json")
    }

    fn data_path(&self) -> PathBuf {
        self.driver_dir().join("secretsdata.json")
    }

    fn mkdirs(&self) -> Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        for d in [self.dir.clone(), self.driver_dir()] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(())
    }

    /// The store's lock, held for every change (and for reads that must
    /// see the two files agree).
    fn lock(&self) -> Result<Lock> {
        self.mkdirs()?;
        Lock::exclusive_quiet(&self.dir.join("secrets.lock"))
    }

    fn load(&self) -> Result<Db> {
        let p = self.db_path();
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).with_context(|| format!("reading {}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Db::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    fn save(&self, db: &Db) -> Result<()> {
        let mut b = serde_json::to_vec_pretty(db)?;
        b.push(b'\n');
        write_atomic_mode(&self.db_path(), &b, 0o600)
    }

    fn load_data(&self) -> Result<BTreeMap<String, String>> {
        let p = self.data_path();
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).with_context(|| format!("reading {}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    fn save_data(&self, data: &BTreeMap<String, String>) -> Result<()> {
        let mut b = serde_json::to_vec_pretty(data)?;
        b.push(b'\n');
        write_atomic_mode(&self.data_path(), &b, 0o600)
    }

    /// Store `data` as a new secret. The data is written first: a crash
    /// between the two files leaves an unnamed entry that the next change
    /// drops, never a secret without data.
    pub fn create(&self, o: &CreateOptions, data: &[u8]) -> Result<Secret> {
        validate_name(&o.name)?;
        match o.driver.as_str() {
            "file" => {}
            "pass" | "shell" => bail!(
                "secret driver {:?} is not supported by rpod: use the file driver",
                o.driver
            ),
            _ => bail!("invalid driver"),
        }
        if o.driver_options.contains_key("path") {
            bail!("driver option \"path\" is not supported by rpod: the file driver keeps secrets in the storage root");
        }
        if data.is_empty() || data.len() >= MAX_SIZE {
            bail!("secret data must be larger than 0 and less than {MAX_SIZE} bytes");
        }
        let _l = self.lock()?;
        let mut db = self.load()?;
        if db.name_to_id.contains_key(&o.name) {
            bail!("{}: secret name in use", o.name);
        }
        let id = loop {
            let id = hex::encode(crate::container::names::random_bytes::<13>())[..25].to_string();
            if !db.secrets.contains_key(&id) {
                break id;
            }
        };
        let mut options = o.driver_options.clone();
        options.insert("path".into(), self.driver_dir().to_string_lossy().into());
        let s = Secret {
            name: o.name.clone(),
            id: id.clone(),
            created_at: crate::time::rfc3339_nano_go(crate::time::now_ns()),
            driver: o.driver.clone(),
            driver_options: options,
            labels: o.labels.clone(),
        };
        let mut all = self.load_data()?;
        all.retain(|k, _| db.secrets.contains_key(k));
        all.insert(
            id.clone(),
            base64::engine::general_purpose::STANDARD.encode(data),
        );
        self.save_data(&all)?;
        db.name_to_id.insert(s.name.clone(), id.clone());
        db.id_to_name.insert(id.clone(), s.name.clone());
        db.secrets.insert(id, s.clone());
        self.save(&db)?;
        Ok(s)
    }

    /// All secrets, oldest first.
    pub fn list(&self) -> Result<Vec<Secret>> {
        let mut v: Vec<Secret> = self.load()?.secrets.into_values().collect();
        v.sort_by(|a, b| (a.created_ns(), &a.name).cmp(&(b.created_ns(), &b.name)));
        Ok(v)
    }

    /// The secrets that pass `filters`.
    pub fn list_filtered(&self, filters: &[Filter]) -> Result<Vec<Secret>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|s| matches(s, filters))
            .collect())
    }

    /// A secret by name, full id or unique id prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Option<Secret>> {
        Ok(lookup(&self.load()?, name_or_id)?.cloned())
    }

    /// Like [`Secrets::get`], failing with podman's "no such secret".
    pub fn find(&self, name_or_id: &str) -> Result<Secret> {
        self.get(name_or_id)?.ok_or_else(|| not_found(name_or_id))
    }

    /// The data of a secret. Containers that use it keep their copies.
    pub fn data(&self, s: &Secret) -> Result<Vec<u8>> {
        let all = self.load_data()?;
        let b64 = all.get(&s.id).with_context(|| {
            format!(
                "secret {}: no data in {}",
                s.name,
                self.data_path().display()
            )
        })?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .with_context(|| format!("secret {}: its data is not base64", s.name))
    }

    /// Remove a secret; its id. Containers that use it keep their copies
    /// (podman's rule).
    pub fn remove(&self, name_or_id: &str) -> Result<String> {
        let _l = self.lock()?;
        let mut db = self.load()?;
        let id = lookup(&db, name_or_id)?
            .map(|s| s.id.clone())
            .ok_or_else(|| not_found(name_or_id))?;
        if let Some(s) = db.secrets.remove(&id) {
            db.name_to_id.remove(&s.name);
        }
        db.id_to_name.remove(&id);
        self.save(&db)?;
        let mut all = self.load_data()?;
        all.retain(|k, _| db.secrets.contains_key(k));
        self.save_data(&all)?;
        Ok(id)
    }
}

fn lookup<'a>(db: &'a Db, name_or_id: &str) -> Result<Option<&'a Secret>> {
    if let Some(id) = db.name_to_id.get(name_or_id) {
        return Ok(db.secrets.get(id));
    }
    if let Some(s) = db.secrets.get(name_or_id) {
        return Ok(Some(s));
    }
    if name_or_id.is_empty() {
        return Ok(None);
    }
    let mut hits = db.secrets.values().filter(|s| s.id.starts_with(name_or_id));
    match (hits.next(), hits.next()) {
        (Some(s), None) => Ok(Some(s)),
        (Some(_), Some(_)) => bail!("more than one result secret with prefix {name_or_id}"),
        _ => Ok(None),
    }
}

/// How a container sees a secret (`--secret NAME[,type=…,target=…]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A read-only file.
    #[default]
    Mount,
    /// An environment variable.
    Env,
}

/// One `--secret` value, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretRef {
    pub name: String,
    pub kind: Kind,
    /// The file (relative: under /run/secrets) or the variable's name.
    pub target: Option<String>,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// Parse `NAME|source=NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=OCTAL]`
/// with podman's errors.
pub fn parse_ref(s: &str) -> Result<SecretRef> {
    let mut parts = s.split(',').peekable();
    // The first word is the name unless it is an option (source=NAME).
    let mut name = match parts.peek() {
        Some(p) if !p.contains('=') => parts.next().unwrap_or_default().to_string(),
        _ => String::new(),
    };
    let mut r = SecretRef {
        mode: 0o444,
        ..Default::default()
    };
    let (mut uid, mut gid, mut mode) = (None, None, None);
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            bail!("option {p} must be in form option=value: parsing secret");
        };
        let num = |v: &str, radix: u32| {
            u32::from_str_radix(v, radix)
                .map_err(|_| anyhow::anyhow!("{k} {v:?} invalid: parsing secret"))
        };
        match k {
            "source" => name = v.to_string(),
            "type" => {
                r.kind = match v {
                    "mount" => Kind::Mount,
                    "env" => Kind::Env,
                    _ => bail!("type {v} is invalid: parsing secret"),
                }
            }
            "target" => {
                if v.is_empty() {
                    bail!("target must be set: parsing secret");
                }
                r.target = Some(v.to_string());
            }
            "uid" => uid = Some(num(v, 10)?),
            "gid" => gid = Some(num(v, 10)?),
            "mode" => {
                let m = num(v, 8)?;
                if m > 0o777 {
                    bail!("mode {v} invalid: parsing secret");
                }
                mode = Some(m);
            }
            _ => bail!("option {p} invalid: parsing secret"),
        }
    }
    if name.is_empty() {
        bail!("no secret name given: parsing secret {s:?}");
    }
    r.name = name;
    if r.kind == Kind::Env {
        if uid.is_some() || gid.is_some() || mode.is_some() {
            bail!("UID, GID, Mode options cannot be set with secret type env: parsing secret");
        }
        if let Some(t) = &r.target {
            if t.contains('=') || t.contains('\0') {
                bail!("target {t:?} is not a valid environment variable name: parsing secret");
            }
        }
    } else if let Some(t) = &r.target {
        let p = Path::new(t);
        if p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            bail!("target {t:?} must not contain \"..\": parsing secret");
        }
    }
    r.uid = uid.unwrap_or(0);
    r.gid = gid.unwrap_or(0);
    r.mode = mode.unwrap_or(0o444);
    Ok(r)
}

/// A secret resolved for a new container.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub r: SecretRef,
    pub id: String,
    pub data: Vec<u8>,
}

impl Resolved {
    /// Where a mounted secret appears in the container.
    pub fn destination(&self) -> String {
        match &self.r.target {
            Some(t) if t.starts_with('/') => t.clone(),
            Some(t) => format!("/run/secrets/{t}"),
            None => format!("/run/secrets/{}", self.r.name),
        }
    }

    /// The environment variable of an env secret ("NAME=data").
    pub fn env(&self) -> String {
        format!(
            "{}={}",
            self.r.target.as_deref().unwrap_or(&self.r.name),
            String::from_utf8_lossy(&self.data)
        )
    }
}

/// The secrets a new container names, with their data (a copy: later
/// changes to the store don't reach the container).
pub fn for_container(
    options: &crate::options::Options,
    refs: &[SecretRef],
) -> Result<Vec<Resolved>> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let secrets = Secrets::open(options)?;
    let mut out = Vec::new();
    for r in refs {
        let s = secrets.find(&r.name)?;
        let data = secrets.data(&s)?;
        out.push(Resolved {
            r: r.clone(),
            id: s.id,
            data,
        });
    }
    Ok(out)
}

/// The host file of the `n`th mounted secret in a container's directory.
pub fn mount_source(ctr_dir: &Path, n: usize) -> PathBuf {
    ctr_dir.join("secrets").join(n.to_string())
}

/// Write the mounted secrets' copies into the container's directory
/// (`secrets/`, 0700), each with its mode and owner (`owner` maps the
/// container's ids to rpod's namespace). The caller is in rpod's user
/// namespace, where the container's ids can be given.
pub fn write_copies(
    ctr_dir: &Path,
    list: &[Resolved],
    owner: impl Fn(u32, u32) -> (u32, u32),
) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let mounts: Vec<&Resolved> = list.iter().filter(|s| s.r.kind == Kind::Mount).collect();
    if mounts.is_empty() {
        return Ok(());
    }
    let dir = ctr_dir.join("secrets");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    for (n, s) in mounts.iter().enumerate() {
        let p = mount_source(ctr_dir, n);
        let res = (|| -> Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)?;
            // Not fsynced, as the rest of the bundle (config.json) is not.
            f.write_all(&s.data)?;
            let (u, g) = owner(s.r.uid, s.r.gid);
            std::os::unix::fs::fchown(&f, Some(u), Some(g))?;
            f.set_permissions(std::fs::Permissions::from_mode(s.r.mode))?;
            Ok(())
        })();
        res.with_context(|| format!("secret {}: writing {}", s.r.name, p.display()))?;
    }
    // What inspect shows (podman's Config.Secrets): names and ids, no data.
    let shown: Vec<serde_json::Value> = mounts
        .iter()
        .map(|s| {
            serde_json::json!({
                "Name": s.r.name, "ID": s.id, "UID": s.r.uid, "GID": s.r.gid, "Mode": s.r.mode,
            })
        })
        .collect();
    write_atomic_mode(&dir.join(SHOWN), &serde_json::to_vec(&shown)?, 0o600)
}

/// The file in a container's `secrets/` that inspect reads.
const SHOWN: &str = "inspect.json";

/// podman's `Config.Secrets` of a container: its mounted secrets' names,
/// ids, owners and modes (None: it has none).
pub fn inspect_container(ctr_dir: &Path) -> Option<serde_json::Value> {
    let b = std::fs::read(ctr_dir.join("secrets").join(SHOWN)).ok()?;
    serde_json::from_slice(&b).ok()
}

/// The read-only bind mounts of a new container's mounted secrets.
pub fn mounts(ctr_dir: &Path, list: &[Resolved]) -> Vec<crate::container::record::MountRecord> {
    list.iter()
        .filter(|s| s.r.kind == Kind::Mount)
        .enumerate()
        .map(|(n, s)| crate::container::record::MountRecord {
            kind: "bind".into(),
            source: mount_source(ctr_dir, n).to_string_lossy().into_owned(),
            destination: s.destination(),
            options: ["rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"]
                .map(String::from)
                .to_vec(),
            rw: false,
            ..Default::default()
        })
        .collect()
}

/// `env` with the env secrets set (replacing a variable of the same name).
pub fn with_env(env: &[String], list: &[Resolved]) -> Vec<String> {
    let mut out = env.to_vec();
    for s in list.iter().filter(|s| s.r.kind == Kind::Env) {
        let kv = s.env();
        let key = kv.split('=').next().unwrap_or_default().to_string();
        out.retain(|e| e.split('=').next() != Some(key.as_str()));
        out.push(kv);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "rpod-secret-test-{}-{}",
            std::process::id(),
            crate::time::now_ns()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn opts(name: &str) -> CreateOptions {
        CreateOptions {
            name: name.into(),
            driver: "file".into(),
            ..Default::default()
        }
    }

    #[test]
    fn create_find_remove() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmp();
        let s = Secrets::at(d.join("secrets"));
        let a = s.create(&opts("a"), b"hunter2").unwrap();
        assert_eq!(a.id.len(), 25);
        assert!(s
            .create(&opts("a"), b"x")
            .unwrap_err()
            .to_string()
            .contains("secret name in use"));
        assert_eq!(s.find("a").unwrap(), a);
        assert_eq!(s.find(&a.id[..6]).unwrap(), a);
        assert_eq!(s.data(&a).unwrap(), b"hunter2");
        for f in ["secrets.json", "filedriver/secretsdata.json"] {
            let m = std::fs::metadata(d.join("secrets").join(f)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600, "{f}");
        }
        let db = std::fs::read_to_string(d.join("secrets/secrets.json")).unwrap();
        assert!(
            !db.contains("hunter2") && !db.contains("aHVudGVyMg"),
            "{db}"
        );
        assert!(!serde_json::to_string(&a.inspect_json())
            .unwrap()
            .contains("aHVudGVyMg"));
        assert_eq!(s.remove("a").unwrap(), a.id);
        assert!(s.get("a").unwrap().is_none());
        let data = std::fs::read_to_string(d.join("secrets/filedriver/secretsdata.json")).unwrap();
        assert!(!data.contains(&a.id), "{data}");
        assert!(s
            .remove("a")
            .unwrap_err()
            .to_string()
            .contains("no such secret"));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn data_a_crash_left_unnamed_goes_at_the_next_change() {
        let d = tmp();
        let s = Secrets::at(d.join("secrets"));
        s.create(&opts("a"), b"1").unwrap();
        // As if killed between the data and the names: an entry nobody names.
        let mut all = s.load_data().unwrap();
        all.insert("0123456789abcdef012345678".into(), "b3JwaGFu".into());
        s.save_data(&all).unwrap();
        assert_eq!(s.list().unwrap().len(), 1);
        s.create(&opts("b"), b"2").unwrap();
        let all = s.load_data().unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(!all.contains_key("0123456789abcdef012345678"));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn names_sizes_and_drivers_are_checked() {
        let d = tmp();
        let s = Secrets::at(d.join("secrets"));
        for bad in ["", "-a", "a-", "a/b", "a b", &"x".repeat(65)] {
            assert!(s.create(&opts(bad), b"x").is_err(), "{bad:?}");
        }
        assert!(s.create(&opts("ok.name_1-x"), b"x").is_ok());
        assert!(s.create(&opts("empty"), b"").is_err());
        assert!(s.create(&opts("big"), &vec![0u8; MAX_SIZE]).is_err());
        let mut o = opts("d");
        o.driver = "nope".into();
        assert_eq!(
            s.create(&o, b"x").unwrap_err().to_string(),
            "invalid driver"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn refs_parse_as_podman() {
        let r = parse_ref("s").unwrap();
        assert_eq!(
            (r.kind, r.mode, r.uid, r.target),
            (Kind::Mount, 0o444, 0, None)
        );
        let r = parse_ref("s,type=env,target=FOO").unwrap();
        assert_eq!((r.kind, r.target.as_deref()), (Kind::Env, Some("FOO")));
        let r = parse_ref("source=s,type=env,target=X").unwrap();
        assert_eq!((r.name.as_str(), r.kind), ("s", Kind::Env));
        assert_eq!(parse_ref("a,source=b").unwrap().name, "b");
        assert!(parse_ref("type=env,s").is_err());
        let r = parse_ref("s,target=/etc/x,uid=5,gid=6,mode=0400").unwrap();
        assert_eq!((r.uid, r.gid, r.mode), (5, 6, 0o400));
        for bad in [
            "",
            "s,type=foo",
            "s,bogus=1",
            "s,type=env,mode=0400",
            "s,mode=9",
            "s,target=../x",
        ] {
            assert!(parse_ref(bad).is_err(), "{bad:?}");
        }
        let res = Resolved {
            r: parse_ref("s,target=t").unwrap(),
            id: String::new(),
            data: vec![],
        };
        assert_eq!(res.destination(), "/run/secrets/t");
    }

    #[test]
    fn filters() {
        let s = Secret {
            name: "web-key".into(),
            id: "abcdef".into(),
            created_at: String::new(),
            driver: "file".into(),
            driver_options: BTreeMap::new(),
            labels: [("a".to_string(), "b".to_string())].into(),
        };
        let f = |v: &[&str]| {
            let f: Vec<Filter> = v.iter().map(|x| parse_filter(x).unwrap()).collect();
            matches(&s, &f)
        };
        assert!(f(&["name=web"]) && f(&["id=abc"]) && f(&["label=a"]) && f(&["label=a=b"]));
        assert!(f(&["name=nope", "name=key"]));
        assert!(!f(&["name=web", "id=x"]) && !f(&["label=a=c"]));
        assert!(parse_filter("driver=file").is_err());
    }
}
