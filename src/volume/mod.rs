//! Named volumes, podman's `local` driver.
//!
//! ```text
//! ROOT/volumes.lock              flock: creating, removing, and containers claiming volumes
//! ROOT/volumes/NAME/volume.json  what the volume is ([`Volume`]), replaced atomically
//! ROOT/volumes/NAME/_data/       its content, bind-mounted into containers
//! ```
//!
//! A volume appears by one rename of a complete directory made in the
//! store's tmp/, and goes by a rename back into tmp/ before its files are
//! deleted: a `kill -9` leaves either the whole volume or nothing listed,
//! and `Store::open` deletes what is left in tmp/.
//! Which containers use a volume is in their records (`MountRecord::name`),
//! read under the lock so `rm` can refuse a volume in use.
//!
//! The content of `_data` is written by containers, so everything rpod does
//! inside it (copy-up, chown, export) goes through directory fds without
//! following symlinks (`tree.rs`), never through joined path strings.

mod tree;

use crate::container::record::{self, ContainerRecord, Paths};
use crate::error::Kind;
use crate::storage::{Lock, Store};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use tree::{chown_tree, copy_up_dir, export_tar};

/// One volume's record (`volume.json`).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    /// Epoch nanoseconds.
    pub created: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--opt KEY=VALUE` as given (type, device, o).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, an image VOLUME); `rm -v` removes it.
    #[serde(default)]
    pub anonymous: bool,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    /// The first container to mount it copies the image's content in.
    #[serde(default)]
    pub needs_copy_up: bool,
    /// The first container to mount it gives `_data` its owner.
    #[serde(default)]
    pub needs_chown: bool,
}

/// What `volume inspect` shows (podman's keys and order).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspect {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    pub scope: String,
    pub options: BTreeMap<String, String>,
    #[serde(rename = "UID", skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(rename = "GID", skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    pub mount_count: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub needs_copy_up: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub needs_chown: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
}

/// What `volume create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// None: a random 64-hex name.
    pub name: Option<String>,
    /// "local" (the default) is the only driver.
    pub driver: Option<String>,
    pub labels: Vec<(String, String)>,
    /// `--opt KEY=VALUE`.
    pub options: Vec<(String, String)>,
    /// An existing volume of that name is not an error (returned as is).
    pub ignore: bool,
    pub anonymous: bool,
}

/// What `volume ls` and `volume prune` filter on.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Name contains this (podman matches a regexp; plain text is the common case).
    Name(String),
    /// `label=KEY` or `label=KEY=VALUE`; `label!=` negates.
    Label(String, Option<String>, bool),
    Driver(String),
    Scope(String),
    /// Used by no container (true) or by some (false).
    Dangling(bool),
    /// `opt=KEY=VALUE` or `opt=KEY`.
    Opt(String, Option<String>),
    /// Created before this (epoch ns).
    Until(i64),
}

/// Parse `--filter KEY=VALUE` the way podman names them.
pub fn parse_filter(f: &str) -> Result<Filter> {
    let (k, v) = f
        .split_once('=')
        .with_context(|| format!("invalid filter {f:?}: expected KEY=VALUE"))?;
    let (k, neg) = match k.strip_suffix('!') {
        Some(k) => (k, true),
        None => (k, false),
    };
    let kv = |v: &str| match v.split_once('=') {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (v.to_string(), None),
    };
    Ok(match k {
        "name" => Filter::Name(v.into()),
        "label" => {
            let (a, b) = kv(v);
            Filter::Label(a, b, neg)
        }
        "driver" => Filter::Driver(v.into()),
        "scope" => Filter::Scope(v.into()),
        "dangling" => match v {
            "true" | "1" => Filter::Dangling(true),
            "false" | "0" => Filter::Dangling(false),
            _ => bail!("invalid filter {f:?}: dangling takes true or false"),
        },
        "opt" => {
            let (a, b) = kv(v);
            Filter::Opt(a, b)
        }
        "until" => Filter::Until(
            crate::time::parse_time_arg(v, crate::time::now_ns())
                .with_context(|| format!("invalid filter {f:?}"))?,
        ),
        _ => bail!("invalid filter {f:?}: use name, label, driver, scope, dangling, opt or until"),
    })
}

/// podman's rule for volume names.
pub fn validate_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if !ok {
        bail!("invalid volume name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
    }
    Ok(())
}

/// The error of a volume that isn't there (`volume rm` exits 1 for it).
pub fn no_such(name: &str) -> anyhow::Error {
    crate::Error::not_found(Kind::Volume, name)
}

pub fn is_no_such(e: &anyhow::Error) -> bool {
    crate::error::is_not_found(e, Kind::Volume)
}

/// The volumes of one store.
#[derive(Debug, Clone)]
pub struct Volumes {
    root: PathBuf,
    store: Store,
}

impl Volumes {
    pub fn new(store: &Store) -> Volumes {
        Volumes {
            root: store.volumes_dir(),
            store: store.clone(),
        }
    }

    /// The volumes a container was made with (its `--volumepath`).
    pub fn of_record(store: &Store, rec: &ContainerRecord) -> Volumes {
        Volumes {
            root: rec
                .volume_path
                .clone()
                .unwrap_or_else(|| store.volumes_dir()),
            store: store.clone(),
        }
    }

    pub fn open(g: &crate::options::Options) -> Result<Volumes> {
        Ok(Volumes::new(&Store::open(g)?))
    }

    fn paths(&self) -> Paths {
        Paths {
            root: self.store.root().to_path_buf(),
            runroot: self.store.runroot().to_path_buf(),
        }
    }

    /// Exclusive: held while volumes are made or removed and while a
    /// container that uses volumes is recorded.
    pub fn lock(&self) -> Result<Lock> {
        Lock::exclusive(&self.store.root().join("volumes.lock"))
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Where a volume's content lives (podman's Mountpoint).
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    /// The volume `name`, or None.
    pub fn get(&self, name: &str) -> Result<Option<Volume>> {
        if validate_name(name).is_err() {
            return Ok(None);
        }
        let p = self.dir(name).join("volume.json");
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(
                serde_json::from_slice(&b).with_context(|| format!("parsing {}", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    pub fn find(&self, name: &str) -> Result<Volume> {
        self.get(name)?.ok_or_else(|| no_such(name))
    }

    pub fn exists(&self, name: &str) -> bool {
        validate_name(name).is_ok() && self.dir(name).join("volume.json").is_file()
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.root.display())),
        };
        let mut v = Vec::new();
        for e in rd.flatten() {
            let Some(n) = e.file_name().to_str().map(String::from) else {
                continue;
            };
            if n.starts_with('.') {
                continue;
            }
            if let Some(vol) = self.get(&n)? {
                v.push(vol);
            }
        }
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    fn save(&self, v: &Volume) -> Result<()> {
        let data = serde_json::to_vec_pretty(v)?;
        crate::storage::write_atomic_mode(&self.dir(&v.name).join("volume.json"), &data, 0o600)
            .with_context(|| format!("volume {}", v.name))
    }

    /// Create a volume (takes the lock).
    pub fn create(&self, o: &CreateOptions) -> Result<Volume> {
        let _l = self.lock()?;
        self.create_locked(o)
    }

    /// Create a volume; the caller holds [`Volumes::lock`].
    pub fn create_locked(&self, o: &CreateOptions) -> Result<Volume> {
        let name = match &o.name {
            Some(n) => {
                validate_name(n)?;
                n.clone()
            }
            None => crate::container::names::new_id(),
        };
        if let Some(v) = self.get(&name)? {
            if o.ignore {
                return Ok(v);
            }
            bail!("volume with name {name} already exists: volume already exists");
        }
        let driver = o.driver.clone().unwrap_or_else(|| "local".into());
        if driver != "local" {
            bail!("volume driver {driver:?} is not supported: only \"local\" is");
        }
        let options: BTreeMap<String, String> = o.options.iter().cloned().collect();
        let (uid, gid) = parse_local_options(&options)?;
        let tmpfs = options.get("type").map(String::as_str) == Some("tmpfs");
        let v = Volume {
            name: name.clone(),
            driver,
            created: crate::time::now_ns(),
            labels: o.labels.iter().cloned().collect(),
            options,
            anonymous: o.anonymous,
            uid,
            gid,
            needs_copy_up: true,
            // An explicit owner, or a tmpfs (owned by its mount options), is final.
            needs_chown: uid.is_none() && gid.is_none() && !tmpfs,
        };
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        // Made whole in tmp/ (flocked: a killed create is cleaned up), then renamed in.
        let mut tmp = self.store.tmp_entry("volume", true)?;
        let data = tmp.path.join("_data");
        std::fs::create_dir(&data).with_context(|| format!("creating {}", data.display()))?;
        if !tmpfs && (uid.is_some() || gid.is_some()) {
            std::os::unix::fs::chown(&data, uid, gid).with_context(|| {
                format!("volume {name}: giving _data to uid {uid:?} gid {gid:?}")
            })?;
        }
        crate::storage::write_atomic_mode(
            &tmp.path.join("volume.json"),
            &serde_json::to_vec_pretty(&v)?,
            0o600,
        )?;
        let dest = self.dir(&name);
        std::fs::rename(&tmp.path, &dest)
            .with_context(|| format!("volume {name}: moving it into {}", dest.display()))?;
        tmp.keep();
        sync_dir(&self.root);
        crate::events::volume(self.store.runroot(), "create", &name);
        Ok(v)
    }

    /// Containers (ids) whose records mount volume `name`.
    pub fn users(&self, name: &str) -> Vec<String> {
        self.users_all().remove(name).unwrap_or_default()
    }

    /// Container ids per volume name, in one pass over the records.
    pub fn users_all(&self) -> BTreeMap<String, Vec<String>> {
        let paths = self.paths();
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in record::list_ids(&paths).unwrap_or_default() {
            let Ok(rec) = record::load(&paths, &id) else {
                continue;
            };
            for n in volume_names(&rec) {
                m.entry(n).or_default().push(id.clone());
            }
        }
        m
    }

    /// Remove volume `name`. In use: an error (exit 2) unless `force`,
    /// which removes the containers using it first, as podman does.
    pub fn remove(&self, name: &str, force: bool, timeout: Option<u32>) -> Result<()> {
        let paths = self.paths();
        let users = {
            let _l = self.lock()?;
            self.find(name)?;
            let users = self.users(name);
            if users.is_empty() {
                return self.remove_locked(name);
            }
            if !force {
                return Err(crate::Error::InUse {
                    kind: Kind::Volume,
                    name: name.to_string(),
                    users,
                }
                .into());
            }
            users
        };
        // Container removal takes its own locks; not under ours.
        for id in users {
            match crate::container::lifecycle::remove_container(&paths, &id, true, timeout) {
                Ok(()) => {}
                Err(e) if !record::exists(&paths, &id) => debug!("{id} went meanwhile: {e:#}"),
                Err(e) => {
                    return Err(e.context(format!("removing container {id} using volume {name}")))
                }
            }
        }
        let _l = self.lock()?;
        let users = self.users(name);
        if !users.is_empty() {
            bail!(
                "volume {name} is still used by container(s) {}: created meanwhile",
                users.join(", ")
            );
        }
        self.remove_locked(name)
    }

    /// Remove a volume nobody uses; the caller holds the lock.
    fn remove_locked(&self, name: &str) -> Result<()> {
        let trash = self.retire_locked(name)?;
        crate::storage::remove_tree(&trash)
            .with_context(|| format!("removing volume {name}: deleting {}", trash.display()))
    }

    /// Remove a volume this process just made for a container whose
    /// creation failed; the caller holds the lock.
    pub fn discard_locked(&self, name: &str) -> Result<()> {
        self.remove_locked(name)
    }

    /// The instant half of a removal: the volume leaves every listing (one
    /// rename); its files, in the returned dir, are for [`purge`].
    fn retire_locked(&self, name: &str) -> Result<PathBuf> {
        let dir = self.dir(name);
        // Into the store's tmp/: what a killed removal leaves, the next
        // Store::open deletes.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let trash = self
            .store
            .tmp_dir()
            .join(format!("volume-rm-{name}-{}-{nanos:x}", std::process::id()));
        match std::fs::rename(&dir, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such(name)),
            Err(e) => return Err(e).with_context(|| format!("removing volume {name}")),
        }
        sync_dir(&self.root);
        crate::events::volume(self.store.runroot(), "remove", name);
        Ok(trash)
    }

    /// Remove the unused volumes that match every filter; their names.
    pub fn prune(&self, filters: &[Filter]) -> Result<Vec<String>> {
        let _l = self.lock()?;
        let users = self.users_all();
        let mut gone = Vec::new();
        for v in self.list()? {
            if users.contains_key(&v.name) || !matches(&v, filters, &users) {
                continue;
            }
            self.remove_locked(&v.name)?;
            crate::events::volume(self.store.runroot(), "prune", &v.name);
            gone.push(v.name);
        }
        Ok(gone)
    }

    /// The volumes that match every filter.
    pub fn list_filtered(&self, filters: &[Filter]) -> Result<Vec<Volume>> {
        let all = self.list()?;
        if filters.is_empty() {
            return Ok(all);
        }
        let need_users = filters.iter().any(|f| matches!(f, Filter::Dangling(_)));
        let users = if need_users {
            self.users_all()
        } else {
            BTreeMap::new()
        };
        Ok(all
            .into_iter()
            .filter(|v| matches(v, filters, &users))
            .collect())
    }

    /// podman's inspect object, its keys in podman's order.
    pub fn inspect(&self, v: &Volume) -> Inspect {
        let mut options = v.options.clone();
        if let Some(uid) = v.uid {
            options.insert("UID".into(), uid.to_string());
        }
        if let Some(gid) = v.gid {
            options.insert("GID".into(), gid.to_string());
        }
        Inspect {
            name: v.name.clone(),
            driver: v.driver.clone(),
            mountpoint: self.mountpoint(&v.name).to_string_lossy().into_owned(),
            created_at: crate::time::rfc3339_nano(v.created),
            labels: v.labels.clone(),
            scope: "local".into(),
            options,
            uid: v.uid.filter(|u| *u != 0),
            gid: v.gid.filter(|g| *g != 0),
            mount_count: 0,
            needs_copy_up: v.needs_copy_up,
            needs_chown: v.needs_chown,
            anonymous: v.anonymous,
        }
    }

    /// [`Volumes::inspect`] as a JSON value for templates: every field
    /// there, as in podman's Go struct, the ones JSON omits too.
    pub fn inspect_json(&self, v: &Volume) -> serde_json::Value {
        let mut j = serde_json::to_value(self.inspect(v)).unwrap_or_default();
        if let Some(m) = j.as_object_mut() {
            for (k, d) in [
                ("UID", serde_json::json!(0)),
                ("GID", serde_json::json!(0)),
                ("NeedsCopyUp", false.into()),
                ("NeedsChown", false.into()),
                ("Anonymous", false.into()),
                ("Status", serde_json::json!({})),
                ("Timeout", serde_json::json!(0)),
            ] {
                m.entry(k).or_insert(d);
            }
        }
        j
    }

    /// Replace the content of volume `name` with the tar stream `r`, through
    /// the store's hardened extractor. Atomic: the old content stays until
    /// the new one is complete.
    pub fn import<R: std::io::Read>(&self, name: &str, r: R) -> Result<()> {
        let v = self.find(name)?;
        if v.options.get("type").map(String::as_str) == Some("tmpfs") {
            bail!("volume {name} is a tmpfs volume: its content lives only while it is mounted");
        }
        let paths = self.paths();
        if let Some(id) = self
            .users(name)
            .into_iter()
            .find(|id| record::observe(&paths, id).is_running())
        {
            bail!("volume {name} is in use by running container {id}: stop it before importing");
        }
        let tmp = self.store.tmp_entry("volume-import", true)?;
        let new = tmp.path.join("_data");
        let limits = crate::storage::LayerLimits::from_env()?;
        crate::storage::unpack_tar(r, &new, limits.max_entries)
            .with_context(|| format!("importing into volume {name}"))?;
        // _data keeps the owner and mode it had.
        let data = self.mountpoint(name);
        if let Ok(m) = std::fs::metadata(&data) {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let _ = std::os::unix::fs::chown(&new, Some(m.uid()), Some(m.gid()));
            let _ =
                std::fs::set_permissions(&new, std::fs::Permissions::from_mode(m.mode() & 0o7777));
        }
        let _l = self.lock()?;
        self.find(name)?;
        let old = tmp.path.join("old");
        std::fs::rename(&data, &old).with_context(|| {
            format!("importing into volume {name}: moving the old content aside")
        })?;
        if let Err(e) = std::fs::rename(&new, &data) {
            let _ = std::fs::rename(&old, &data);
            return Err(e).with_context(|| format!("importing into volume {name}"));
        }
        sync_dir(&self.dir(name));
        // Imported content is what the volume holds: no copy-up over it.
        if v.needs_copy_up {
            let mut v = v;
            v.needs_copy_up = false;
            self.save(&v)?;
        }
        drop(tmp); // deletes the old content
        Ok(())
    }

    /// Write the content of volume `name` as a tar stream.
    pub fn export(&self, name: &str, w: &mut dyn std::io::Write) -> Result<()> {
        self.find(name)?;
        let data = self.mountpoint(name);
        export_tar(&data, w).with_context(|| format!("exporting volume {name}"))
    }

    /// `volume mount` (inside `rpod unshare`, whose mount namespace sees
    /// the result): a tmpfs or `device=` volume is mounted on its
    /// mountpoint; a plain one is its directory already. Returns the path.
    pub fn mount(&self, name: &str) -> Result<PathBuf> {
        let v = self.find(name)?;
        let data = self.mountpoint(name);
        if is_mounted(&data) {
            return Ok(data);
        }
        let (kind, source, extra) = mount_source(self, &v);
        use nix::mount::MsFlags;
        let res = if kind == "tmpfs" {
            let data_opt = extra.join(",");
            nix::mount::mount(
                Some("tmpfs"),
                &data,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                (!data_opt.is_empty()).then_some(data_opt.as_str()),
            )
        } else if source != data.to_string_lossy() {
            nix::mount::mount(
                Some(Path::new(&source)),
                &data,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
        } else {
            return Ok(data);
        };
        res.with_context(|| format!("mounting volume {name} on {}", data.display()))?;
        Ok(data)
    }

    /// `volume unmount`: undo [`Volumes::mount`] (nothing for a plain volume).
    pub fn unmount(&self, name: &str) -> Result<()> {
        self.find(name)?;
        let data = self.mountpoint(name);
        if is_mounted(&data) {
            nix::mount::umount2(&data, nix::mount::MntFlags::MNT_DETACH)
                .with_context(|| format!("unmounting volume {name}"))?;
        }
        Ok(())
    }

    /// Mark the first mount of a volume done (copy-up and chown happen once).
    pub fn mark_mounted(&self, name: &str) -> Result<()> {
        let _l = self.lock()?;
        let mut v = self.find(name)?;
        if v.needs_copy_up || v.needs_chown {
            v.needs_copy_up = false;
            v.needs_chown = false;
            self.save(&v)?;
        }
        Ok(())
    }

    /// Take the anonymous volumes of a removed container `rec` that no
    /// other container uses out of sight (`rm -v`, `--rm`); their files
    /// are left for [`purge`].
    pub fn retire_anonymous(&self, rec: &ContainerRecord) -> Result<Vec<PathBuf>> {
        let names = volume_names(rec);
        let mut trash = Vec::new();
        if names.is_empty() {
            return Ok(trash);
        }
        let _l = self.lock()?;
        let users = self.users_all();
        for n in names {
            let Some(v) = self.get(&n)? else { continue };
            let shared = users
                .get(&n)
                .is_some_and(|u| u.iter().any(|id| *id != rec.id));
            if v.anonymous && !shared {
                trash.push(self.retire_locked(&n)?);
            }
        }
        Ok(trash)
    }
}

/// Before a container's first start with each volume: copy the image's
/// content at the mount point into a new, empty volume (unless `nocopy`),
/// give the volume's root its owner, and apply `:U`. `rootfs` is the
/// container's mounted root; paths in it resolve inside it.
pub fn prepare_mounts(store: &Store, rec: &ContainerRecord, rootfs: &Path) -> Result<()> {
    use std::os::fd::AsFd;
    let vols = Volumes::of_record(store, rec);
    let ctr_dir = store.root().join("containers").join(&rec.id);
    for (n, m) in rec.mounts.iter().enumerate() {
        let ctx = || format!("mount {} of container {}", m.destination, rec.name);
        if m.kind == "bind" && m.options.iter().any(|o| o == "O") {
            // What the last run wrote over the host dir is discarded.
            let (upper, work) = overlay_dirs(&ctr_dir, n);
            let base = upper.parent().unwrap_or(&upper);
            crate::storage::remove_tree(base)
                .with_context(|| format!("clearing {}", base.display()))?;
            for d in [&upper, &work] {
                std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            }
        }
        let chown_all = m.options.iter().any(|o| o == "U");
        if m.kind != "volume" {
            if let (true, "bind", Some((u, g))) = (chown_all, m.kind.as_str(), m.owner) {
                let d = std::fs::File::open(&m.source).with_context(ctx)?;
                chown_tree(d.as_fd(), u, g).with_context(ctx)?;
            }
            continue;
        }
        let v = vols
            .find(&m.name)
            .with_context(|| format!("volume {} of container {}", m.name, rec.name))?;
        let plain = !v.options.contains_key("device")
            && v.options.get("type").map(String::as_str) != Some("tmpfs");
        if !plain {
            continue;
        }
        let data_path = vols.mountpoint(&v.name);
        let data = std::fs::File::open(&data_path)
            .with_context(|| format!("opening {}", data_path.display()))?;
        if v.needs_copy_up || v.needs_chown {
            let mut copied = false;
            if v.needs_copy_up
                && !m.options.iter().any(|o| o == "nocopy")
                && tree::is_empty(data.as_fd())?
            {
                if let Some(src) = open_in_root(rootfs, &m.destination).with_context(ctx)? {
                    copy_up_dir(src.as_fd(), data.as_fd()).with_context(|| {
                        format!("copying {} into volume {}", m.destination, v.name)
                    })?;
                    copied = true;
                }
            }
            if !copied && v.needs_chown {
                if let Some((u, g)) = m.owner {
                    nix::unistd::fchown(
                        std::os::fd::AsRawFd::as_raw_fd(&data),
                        Some(nix::unistd::Uid::from_raw(u)),
                        Some(nix::unistd::Gid::from_raw(g)),
                    )
                    .with_context(ctx)?;
                }
            }
            vols.mark_mounted(&v.name)?;
        }
        if let (true, Some((u, g))) = (chown_all, m.owner) {
            chown_tree(data.as_fd(), u, g).with_context(ctx)?;
        }
    }
    Ok(())
}

/// The upper and work dirs of a container's `n`th mount when it is an
/// overlay (`-v DIR:/path:O`), under the container's directory.
pub fn overlay_dirs(ctr_dir: &Path, n: usize) -> (PathBuf, PathBuf) {
    let d = ctr_dir.join("overlay-mounts").join(n.to_string());
    (d.join("upper"), d.join("work"))
}

/// The directory `path` inside `rootfs` as a readable fd (symlinks on the
/// way resolved inside the root), or None when it isn't a directory there.
fn open_in_root(rootfs: &Path, path: &str) -> Result<Option<std::os::fd::OwnedFd>> {
    use std::os::fd::AsFd;
    let root = crate::sys::inroot::open_root(rootfs)
        .with_context(|| format!("opening {}", rootfs.display()))?;
    let fd = match crate::sys::inroot::open(root.as_fd(), Path::new(path), true) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("resolving {path} in the image")),
    };
    match crate::sys::fsx::openat_nofollow(
        fd.as_fd(),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    ) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("opening {path} in the image")),
    }
}

/// [`Volumes::retire_anonymous`] for the store of `paths` (`--rm`, `rm -v`).
pub fn retire_anonymous_of(paths: &Paths, rec: &ContainerRecord) -> Result<Vec<PathBuf>> {
    if volume_names(rec).is_empty() {
        return Ok(Vec::new());
    }
    let store = Store::open_at(paths.root.clone(), paths.runroot.clone())?;
    Volumes::of_record(&store, rec).retire_anonymous(rec)
}

/// Delete the files of retired volumes.
pub fn purge(trash: Vec<PathBuf>) -> Result<()> {
    for t in trash {
        crate::storage::remove_tree(&t).with_context(|| format!("deleting {}", t.display()))?;
    }
    Ok(())
}

/// Remove the anonymous volumes of a removed container now.
pub fn remove_anonymous_of(paths: &Paths, rec: &ContainerRecord) -> Result<()> {
    purge(retire_anonymous_of(paths, rec)?)
}

/// The names of the volumes a container record mounts.
pub fn volume_names(rec: &ContainerRecord) -> Vec<String> {
    rec.mounts
        .iter()
        .filter(|m| m.kind == "volume" && !m.name.is_empty())
        .map(|m| m.name.clone())
        .collect()
}

/// podman's rule: filters of one kind match if any of them does, and every
/// kind given must match.
fn matches(v: &Volume, filters: &[Filter], users: &BTreeMap<String, Vec<String>>) -> bool {
    let mut kinds: Vec<std::mem::Discriminant<Filter>> = Vec::new();
    for f in filters {
        let d = std::mem::discriminant(f);
        if !kinds.contains(&d) {
            kinds.push(d);
        }
    }
    kinds.into_iter().all(|d| {
        filters
            .iter()
            .filter(|f| std::mem::discriminant(*f) == d)
            .any(|f| matches_one(v, f, users))
    })
}

/// A regular expression as podman's name filter takes it, for the subset
/// people type: literal text, `.`, `*`, `^` and `$` (Pike's matcher).
/// Also `network ls --filter name=`.
pub fn regex_match(re: &[u8], text: &[u8]) -> bool {
    fn here(re: &[u8], t: &[u8]) -> bool {
        match re {
            [] => true,
            [b'$'] => t.is_empty(),
            [c, b'*', rest @ ..] => {
                let mut i = 0;
                loop {
                    if here(rest, &t[i..]) {
                        return true;
                    }
                    if i < t.len() && (*c == b'.' || t[i] == *c) {
                        i += 1;
                    } else {
                        return false;
                    }
                }
            }
            [c, rest @ ..] => !t.is_empty() && (*c == b'.' || *c == t[0]) && here(rest, &t[1..]),
        }
    }
    if let Some(rest) = re.strip_prefix(b"^") {
        return here(rest, text);
    }
    (0..=text.len()).any(|i| here(re, &text[i..]))
}

fn matches_one(v: &Volume, f: &Filter, users: &BTreeMap<String, Vec<String>>) -> bool {
    match f {
        Filter::Name(n) => regex_match(n.as_bytes(), v.name.as_bytes()),
        Filter::Label(k, val, neg) => {
            let has = match (v.labels.get(k), val) {
                (Some(_), None) => true,
                (Some(x), Some(want)) => x == want,
                (None, _) => false,
            };
            has != *neg
        }
        Filter::Driver(d) => v.driver == *d,
        Filter::Scope(s) => s == "local",
        Filter::Dangling(d) => users.contains_key(&v.name) != *d,
        Filter::Opt(k, val) => match (v.options.get(k), val) {
            (Some(_), None) => true,
            (Some(x), Some(want)) => x == want,
            (None, _) => false,
        },
        Filter::Until(t) => v.created < *t,
    }
}

/// Check `--opt`s of the local driver; the uid and gid that `o=` asks for.
fn parse_local_options(o: &BTreeMap<String, String>) -> Result<(Option<u32>, Option<u32>)> {
    let mut uid = None;
    let mut gid = None;
    for (k, v) in o {
        match k.as_str() {
            "type" => {
                if !matches!(v.as_str(), "tmpfs" | "none" | "bind" | "") {
                    bail!("invalid volume option type={v}: rpod supports tmpfs and none");
                }
            }
            "device" => {
                if o.get("type").map(String::as_str) != Some("tmpfs") && !v.starts_with('/') {
                    bail!("invalid volume option device={v}: give an absolute path");
                }
            }
            "o" => {
                for x in v.split(',').filter(|x| !x.is_empty()) {
                    let (ok, ov) = x.split_once('=').unwrap_or((x, ""));
                    let id = || -> Result<u32> {
                        ov.parse().with_context(|| {
                            format!("invalid volume option o={v}: {ok}={ov} is not a number")
                        })
                    };
                    match ok {
                        "uid" => uid = Some(id()?),
                        "gid" => gid = Some(id()?),
                        "size" | "mode" | "nr_inodes" | "inodes" => {
                            if o.get("type").map(String::as_str) != Some("tmpfs") {
                                bail!("invalid volume option o={v}: {ok}= needs type=tmpfs");
                            }
                        }
                        "bind" | "rbind" | "ro" | "rw" | "nodev" | "dev" | "noexec" | "exec"
                        | "nosuid" | "suid" | "noatime" | "relatime" | "strictatime" => {}
                        _ => bail!("invalid volume option o={v}: {ok:?} is not supported"),
                    }
                }
            }
            "copy" | "nocopy" => {}
            _ => bail!("invalid volume option {k}={v}: use type, device or o"),
        }
    }
    if o.get("type").map(String::as_str) == Some("none") && !o.contains_key("device") {
        bail!("invalid volume options: type=none needs device=PATH");
    }
    Ok((uid, gid))
}

/// Whether `p` is a mount point in this mount namespace.
fn is_mounted(p: &Path) -> bool {
    let want = p.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&want))
}

fn sync_dir(p: &Path) {
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.sync_all();
    }
}

/// How a container mounts a volume: a bind of `_data` (or of `device=`), or
/// a tmpfs for `type=tmpfs`. Returns (type, source, extra options).
pub fn mount_source(vols: &Volumes, v: &Volume) -> (String, String, Vec<String>) {
    let o: Vec<String> = v
        .options
        .get("o")
        .map(|s| {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    match v.options.get("type").map(String::as_str) {
        Some("tmpfs") => {
            let keep = o
                .into_iter()
                .filter(|x| !matches!(x.split('=').next(), Some("inodes")))
                .collect();
            ("tmpfs".into(), "tmpfs".into(), keep)
        }
        _ if v.options.contains_key("device") => {
            let keep = o
                .into_iter()
                .filter(|x| !matches!(x.split('=').next(), Some("bind" | "rbind" | "uid" | "gid")))
                .collect();
            ("bind".into(), v.options["device"].clone(), keep)
        }
        _ => (
            "bind".into(),
            vols.mountpoint(&v.name).to_string_lossy().into_owned(),
            Vec::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_podmans_rule() {
        for ok in ["a", "data", "A.b_c-1", "0x"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", ".x", "-x", "a/b", "a b", "_x", "x:y", ".."] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_parse() {
        assert_eq!(parse_filter("name=ab").unwrap(), Filter::Name("ab".into()));
        assert_eq!(
            parse_filter("label=a=b").unwrap(),
            Filter::Label("a".into(), Some("b".into()), false)
        );
        assert_eq!(
            parse_filter("label!=a").unwrap(),
            Filter::Label("a".into(), None, true)
        );
        assert_eq!(
            parse_filter("dangling=true").unwrap(),
            Filter::Dangling(true)
        );
        assert!(parse_filter("dangling=maybe").is_err());
        assert!(parse_filter("colour=red").is_err());
    }

    #[test]
    fn name_filters_are_podmans_regexps_and_same_kinds_or() {
        for (re, t, want) in [
            ("fa", "xfay", true),
            ("^fa", "xfa", false),
            ("^f.$", "fb", true),
            ("^f.$", "fbb", false),
            ("a*b$", "xaaab", true),
            ("^v.*9$", "vol09", true),
            ("", "x", true),
        ] {
            assert_eq!(regex_match(re.as_bytes(), t.as_bytes()), want, "{re} {t}");
        }
        let v = |n: &str, l: &str| Volume {
            name: n.into(),
            labels: [(l.to_string(), String::new())].into(),
            ..Default::default()
        };
        let f = [
            Filter::Name("^fa$".into()),
            Filter::Name("^fb$".into()),
            Filter::Label("a".into(), None, false),
        ];
        let u = BTreeMap::new();
        assert!(matches(&v("fa", "a"), &f, &u));
        assert!(!matches(&v("fb", "b"), &f, &u));
        assert!(!matches(&v("fc", "a"), &f, &u));
    }

    #[test]
    fn local_options() {
        let m = |v: &[(&str, &str)]| -> BTreeMap<String, String> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            parse_local_options(&m(&[("type", "tmpfs"), ("o", "size=1m,uid=5,gid=6")])).unwrap(),
            (Some(5), Some(6))
        );
        assert!(parse_local_options(&m(&[("o", "size=1m")])).is_err());
        assert!(parse_local_options(&m(&[("type", "nfs")])).is_err());
        assert!(parse_local_options(&m(&[("type", "none")])).is_err());
        assert!(parse_local_options(&m(&[("type", "none"), ("device", "rel")])).is_err());
        assert!(parse_local_options(&m(&[("o", "uid=x")])).is_err());
    }

    #[test]
    fn create_list_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open_at(d.path().join("root"), d.path().join("run")).unwrap();
        let vols = Volumes::new(&s);
        let v = vols
            .create(&CreateOptions {
                name: Some("data".into()),
                labels: vec![("a".into(), "b".into())],
                ..Default::default()
            })
            .unwrap();
        assert!(vols.mountpoint("data").is_dir());
        assert!(vols
            .create(&CreateOptions {
                name: Some("data".into()),
                ..Default::default()
            })
            .is_err());
        let again = vols
            .create(&CreateOptions {
                name: Some("data".into()),
                ignore: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(again, v);
        assert!(vols
            .create(&CreateOptions {
                name: Some("../x".into()),
                ..Default::default()
            })
            .is_err());
        let anon = vols.create(&CreateOptions::default()).unwrap();
        assert_eq!(anon.name.len(), 64);
        assert_eq!(vols.list().unwrap().len(), 2);
        let f = [Filter::Label("a".into(), None, false)];
        assert_eq!(vols.list_filtered(&f).unwrap().len(), 1);
        let j = vols.inspect_json(&v);
        assert_eq!(j["Name"], "data");
        assert_eq!(j["Labels"]["a"], "b");
        assert_eq!(j["NeedsCopyUp"], true);
        vols.remove("data", false, None).unwrap();
        assert!(!vols.exists("data"));
        assert!(is_no_such(&vols.remove("data", false, None).unwrap_err()));
        assert_eq!(vols.prune(&[]).unwrap(), vec![anon.name]);
        assert!(vols.list().unwrap().is_empty());
    }
}
