//! `system check` (podman 5's): find what crashes (`kill -9`, a full disk,
//! a power cut) and hand edits can leave in the store, and with `repair`
//! remove it. What it looks for:
//!
//! - leftovers: entries of `tmp/` no live writer holds (half-written blobs
//!   and layers, layers being deleted), `.NAME.tmp-PID-N` temp files of
//!   `write_atomic` whose process is gone, runtime dirs of containers that
//!   no longer exist, the files of removed containers (`.removing-ID`);
//! - layers without a complete `layer.json` (or whose record is not theirs),
//!   without their diff dir, or whose parent is missing; layers no image
//!   uses that are older than `max_unreferenced_age`;
//! - blobs whose content is not what their digest says (skipped by `quick`);
//! - images whose record is unreadable, or whose config, manifest or
//!   layers are missing or damaged;
//! - containers whose record is unreadable or whose image is gone or
//!   damaged, containers recorded as running whose monitor died, and
//!   fuse-overlayfs or network helpers that outlived their container.
//!
//! Repairs remove the damaged thing (a damaged image that containers use
//! only with `force`, which removes those containers too; containers only
//! with `force`). The check reads the store without opening it (opening
//! clears `tmp/`, which would hide what a crash left). The caller is in
//! rpod's user namespace when repairing (layers belong to subuids).

use crate::container::record::{self, Paths};
use crate::storage::{Lock, Store};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Remove what is damaged (images in use and containers only with `force`).
    pub repair: bool,
    /// Also remove containers that use damaged images, and those images.
    pub force: bool,
    /// Skip hashing every blob.
    pub quick: bool,
    /// Layers no image uses that are older than this are leftovers.
    pub max_unreferenced_age: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            repair: false,
            force: false,
            quick: false,
            max_unreferenced_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// What kind of thing a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Layer,
    Image,
    Container,
    Blob,
    Leftover,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Layer => "layer",
            Kind::Image => "image",
            Kind::Container => "container",
            Kind::Blob => "blob",
            Kind::Leftover => "leftover",
        }
    }
}

/// One damaged or left-over thing and what was wrong with it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    /// A layer's or blob's digest hex, an image or container id, a path.
    pub name: String,
    pub problems: Vec<String>,
    /// What the repair did (None: found only).
    pub repaired: Option<String>,
    /// Why it was not repaired (an image in use without `force`).
    pub kept: Option<String>,
    what: Fix,
}

#[derive(Debug, Clone, PartialEq)]
enum Fix {
    RemovePath(PathBuf),
    RemoveLayer(PathBuf),
    RemoveImage { id: String, record: PathBuf },
    RemoveContainer(String),
    PurgeContainer(String),
    Reconcile(String),
    Unmount(String),
}

/// The findings of one run, and those still there after a repair.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
    /// What a second look found after repairing (empty: all repaired).
    pub remaining: Vec<Finding>,
    /// Stale lock files removed while repairing (not damage).
    pub removed_locks: usize,
}

impl CheckReport {
    /// True when damage remains: found without `repair`, or still there after it.
    pub fn damaged(&self, repaired: bool) -> bool {
        if repaired {
            !self.remaining.is_empty()
        } else {
            !self.findings.is_empty()
        }
    }
}

/// Check the store at `root`/`runroot`; with `o.repair`, repair and look again.
pub fn check(root: &Path, runroot: &Path, o: &CheckOptions) -> Result<CheckReport> {
    let mut report = CheckReport {
        findings: scan(root, runroot, o)?,
        ..Default::default()
    };
    if !o.repair || !root.join("tmp").is_dir() {
        return Ok(report);
    }
    let store = Store::open_at(root.to_path_buf(), runroot.to_path_buf())?;
    let paths = Paths {
        root: root.to_path_buf(),
        runroot: runroot.to_path_buf(),
    };
    // Containers first (they hold images), then images, then layers.
    let order = |f: &Finding| match f.what {
        Fix::RemoveContainer(_) | Fix::PurgeContainer(_) | Fix::Reconcile(_) | Fix::Unmount(_) => 0,
        Fix::RemoveImage { .. } => 1,
        _ => 2,
    };
    let mut todo: Vec<usize> = (0..report.findings.len()).collect();
    todo.sort_by_key(|&i| order(&report.findings[i]));
    for i in todo {
        let f = &mut report.findings[i];
        match repair_one(&store, &paths, o, f) {
            Ok(Some(done)) => f.repaired = Some(done),
            Ok(None) => {}
            Err(e) => f.kept = Some(format!("{e:#}")),
        }
    }
    report.removed_locks = remove_stale_locks(&store);
    report.remaining = scan(root, runroot, o)?;
    Ok(report)
}

fn repair_one(
    store: &Store,
    paths: &Paths,
    o: &CheckOptions,
    f: &mut Finding,
) -> Result<Option<String>> {
    let name = f.name.clone();
    let kind = f.kind.as_str();
    match f.what.clone() {
        Fix::RemovePath(p) => {
            remove_any(&p)?;
            Ok(Some(match f.kind {
                Kind::Leftover => format!("Removed leftover: {}", p.display()),
                _ => format!("Deleted damaged {kind}: {name}"),
            }))
        }
        Fix::RemoveLayer(p) => {
            // Nobody may be unpacking onto it or setting up a container.
            let Some(_gc) = Lock::try_exclusive(&store.root().join("gc.lock"))? else {
                f.kept =
                    Some("a pull or container start is using layers; run the check again".into());
                return Ok(None);
            };
            let _l = store.lock()?;
            remove_any(&p)?;
            Ok(Some(format!("Deleted damaged {kind}: {name}")))
        }
        Fix::RemoveImage { id, record } => {
            let users = store.containers_using(&id);
            if !users.is_empty() {
                if !o.force {
                    f.kept = Some(format!(
                        "used by container(s) {}: use --force to remove them too",
                        users.join(", ")
                    ));
                    return Ok(None);
                }
                for c in &users {
                    crate::container::lifecycle::remove_container(paths, c, true, None)
                        .with_context(|| format!("removing container {c}"))?;
                }
            }
            {
                let _l = store.lock()?;
                remove_any(&record)?;
            }
            store.gc()?;
            Ok(Some(format!("Deleted damaged image: {name}")))
        }
        Fix::RemoveContainer(id) => {
            if !o.force {
                f.kept = Some("use --force to remove damaged containers".into());
                return Ok(None);
            }
            if record::load(paths, &id).is_ok() {
                crate::container::lifecycle::remove_container(paths, &id, true, None)?;
            } else {
                let _ = fs::remove_dir_all(paths.run_dir(&id));
                remove_any(&paths.ctr_dir(&id))?;
            }
            Ok(Some(format!("Deleted damaged container: {name}")))
        }
        Fix::PurgeContainer(id) => {
            record::purge(paths, &id)?;
            Ok(Some(format!("Removed the files of removed container {id}")))
        }
        Fix::Unmount(id) => {
            crate::rootfs::unmount(&paths.ctr_dir(&id))?;
            Ok(Some(format!(
                "Unmounted the root filesystem of container {}",
                &id[..12]
            )))
        }
        Fix::Reconcile(id) => {
            let _l = record::lock(paths, &id)?;
            let mut st = record::observe_locked(paths, &id);
            record::release_helpers(&mut st);
            if record::exists(paths, &id) {
                record::save_state(paths, &id, &st)?;
            }
            Ok(Some(format!(
                "Repaired container {}: now {}",
                &id[..12],
                st.status.as_str()
            )))
        }
    }
}

fn remove_any(p: &Path) -> Result<()> {
    let r = match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => crate::storage::remove_tree(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    r.with_context(|| format!("removing {}", p.display()))
}

/// Lock files of layers that are not in the store, that nobody holds: what
/// interrupted pulls (and removed layers) leave. Not damage; tidied away.
fn remove_stale_locks(store: &Store) -> usize {
    let mut n = 0;
    let Ok(rd) = fs::read_dir(store.root().join("locks")) else {
        return 0;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(hex) = name
            .strip_prefix("layer-")
            .and_then(|s| s.strip_suffix(".lock"))
        else {
            continue;
        };
        if store
            .root()
            .join("layers")
            .join(hex)
            .join("layer.json")
            .is_file()
        {
            continue;
        }
        if let Ok(Some(_held)) = Lock::try_exclusive(&e.path()) {
            if fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
    }
    n
}

fn finding(kind: Kind, name: impl Into<String>, problem: impl Into<String>, what: Fix) -> Finding {
    Finding {
        kind,
        name: name.into(),
        problems: vec![problem.into()],
        repaired: None,
        kept: None,
        what,
    }
}

/// A mountinfo field with its octal escapes (`\\040` for a space) undone.
fn unescape_mountinfo(f: &str) -> String {
    let b = f.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when `p` was modified less than `age` ago.
fn younger_than(p: &Path, age: Duration) -> bool {
    fs::symlink_metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|e| e < age)
}

/// A digest as text, whether the store keeps it as a String or a typed Digest.
fn text(d: &impl std::fmt::Display) -> String {
    d.to_string()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn entries(dir: &Path) -> Vec<fs::DirEntry> {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default()
}

/// `.NAME.tmp-PID-N` (write_atomic's temp) whose writer is gone.
fn dead_atomic_temp(name: &str) -> bool {
    if !name.starts_with('.') {
        return false;
    }
    let Some((_, rest)) = name.rsplit_once(".tmp-") else {
        return false;
    };
    let pid = rest.split('-').next().and_then(|p| p.parse::<i32>().ok());
    match pid {
        Some(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

/// Dead atomic temps directly in `dir`.
fn atomic_leftovers(dir: &Path, out: &mut Vec<Finding>) {
    for e in entries(dir) {
        let name = e.file_name().to_string_lossy().into_owned();
        if dead_atomic_temp(&name) {
            let p = e.path();
            out.push(finding(
                Kind::Leftover,
                p.display().to_string(),
                "a temporary file whose writer was killed before it renamed it into place",
                Fix::RemovePath(p),
            ));
        }
    }
}

fn scan(root: &Path, runroot: &Path, o: &CheckOptions) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    if !root.is_dir() {
        return Ok(out);
    }
    atomic_leftovers(root, &mut out);
    // tmp/: work in progress; what no live writer holds was left by a crash.
    for e in entries(&root.join("tmp")) {
        let p = e.path();
        let Ok(f) = fs::File::open(&p) else { continue };
        if let Ok(Some(_held)) = Lock::try_exclusive_on(f, &p) {
            out.push(finding(
                Kind::Leftover,
                p.display().to_string(),
                "left in tmp/ by an interrupted pull, load or removal",
                Fix::RemovePath(p),
            ));
        }
    }

    // Volumes (ROOT/volumes/NAME/volume.json): removals cut short, and
    // interrupted rewrites of a volume's record.
    for e in entries(&root.join("volumes")) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".removing-") {
            let p = e.path();
            out.push(finding(
                Kind::Leftover,
                p.display().to_string(),
                "the files of a removed volume, left by an interrupted removal",
                Fix::RemovePath(p),
            ));
        } else if !name.starts_with('.') {
            atomic_leftovers(&e.path(), &mut out);
        }
    }

    // Images: the records, and what they need.
    let mut records = Vec::new();
    for dir in [root.join("images"), root.join("images/removed")] {
        atomic_leftovers(&dir, &mut out);
        for e in entries(&dir) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let p = e.path();
            match fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice::<crate::storage::ImageRecord>(&b).ok())
            {
                Some(r) if r.id == id => records.push((r, p)),
                _ => out.push(finding(
                    Kind::Image,
                    id,
                    format!("its record {} is unreadable", p.display()),
                    Fix::RemoveImage {
                        id: id.to_string(),
                        record: p,
                    },
                )),
            }
        }
    }

    // Layers.
    let layers_dir = root.join("layers");
    let mut good_layers: HashSet<String> = HashSet::new();
    let mut layer_parent: HashMap<String, Option<String>> = HashMap::new();
    let mut layer_age: HashMap<String, Duration> = HashMap::new();
    for e in entries(&layers_dir) {
        let name = e.file_name().to_string_lossy().into_owned();
        let p = e.path();
        if !is_hex64(&name) {
            if dead_atomic_temp(&name) {
                out.push(finding(
                    Kind::Leftover,
                    p.display().to_string(),
                    "a temporary file whose writer was killed",
                    Fix::RemovePath(p),
                ));
            }
            continue;
        }
        atomic_leftovers(&p, &mut out);
        let info = fs::read(p.join("layer.json"))
            .ok()
            .map(|b| serde_json::from_slice::<crate::storage::LayerInfo>(&b));
        let problem = match &info {
            None => {
                Some("layer.json is missing: the layer was never completely unpacked".to_string())
            }
            Some(Err(e)) => Some(format!("layer.json is unreadable: {e}")),
            Some(Ok(i)) if text(&i.chain_id) != format!("sha256:{name}") => Some(format!(
                "layer.json describes layer {}, not this one",
                i.chain_id
            )),
            Some(Ok(_)) if !p.join("diff").is_dir() => {
                Some("its content (diff/) is missing".to_string())
            }
            Some(Ok(_)) => None,
        };
        match problem {
            Some(pr) => out.push(finding(Kind::Layer, &name, pr, Fix::RemoveLayer(p.clone()))),
            None => {
                let chain = format!("sha256:{name}");
                if let Some(Ok(i)) = info {
                    layer_parent.insert(chain.clone(), i.parent.as_ref().map(text));
                }
                let age = fs::symlink_metadata(&p)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default();
                layer_age.insert(chain.clone(), age);
                good_layers.insert(chain);
            }
        }
    }
    // A layer whose parent is gone can't be mounted.
    for (chain, parent) in &layer_parent {
        if let Some(par) = parent {
            if !good_layers.contains(par) {
                let hex = chain.trim_start_matches("sha256:");
                out.push(finding(
                    Kind::Layer,
                    hex,
                    format!("its parent layer {par} is missing or damaged"),
                    Fix::RemoveLayer(layers_dir.join(hex)),
                ));
            }
        }
    }
    let damaged_layers: HashSet<String> = out
        .iter()
        .filter(|f| f.kind == Kind::Layer)
        .map(|f| format!("sha256:{}", f.name))
        .collect();

    // Blobs.
    let blobs_dir = root.join("blobs/sha256");
    let mut bad_blobs: HashSet<String> = HashSet::new();
    if !o.quick {
        for e in entries(&blobs_dir) {
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_hex64(&name) {
                continue;
            }
            let p = e.path();
            let ok = fs::File::open(&p)
                .and_then(|mut f| {
                    let mut h = Sha256::new();
                    std::io::copy(&mut f, &mut h)?;
                    Ok(hex::encode(h.finalize()) == name)
                })
                .unwrap_or(false);
            if !ok {
                bad_blobs.insert(format!("sha256:{name}"));
                out.push(finding(
                    Kind::Blob,
                    &name,
                    "its content does not match its digest",
                    Fix::RemovePath(p),
                ));
            }
        }
    }
    let blob_ok = |d: &str| {
        d.strip_prefix("sha256:")
            .is_some_and(|h| is_hex64(h) && blobs_dir.join(h).is_file())
            && !bad_blobs.contains(d)
    };

    // Image records against what they need.
    let mut referenced: HashSet<String> = HashSet::new();
    let mut damaged_images: HashSet<String> = HashSet::new();
    for (r, p) in &records {
        let mut problems = Vec::new();
        if !blob_ok(&text(&r.config_digest)) {
            problems.push(format!(
                "its config {} is missing or damaged",
                r.config_digest
            ));
        }
        let manifest = text(&r.digest);
        if !manifest.is_empty() && !blob_ok(&manifest) {
            problems.push(format!("its manifest {} is missing or damaged", r.digest));
        }
        for l in &r.layers {
            let chain = text(&l.chain_id);
            if damaged_layers.contains(&chain) {
                problems.push(format!("its layer {} is damaged", l.chain_id));
            } else if !good_layers.contains(&chain) {
                problems.push(format!("its layer {} is missing", l.chain_id));
            }
            referenced.insert(chain);
        }
        if !problems.is_empty() {
            damaged_images.insert(r.id.clone());
            out.push(Finding {
                kind: Kind::Image,
                name: r.id.clone(),
                problems,
                repaired: None,
                kept: None,
                what: Fix::RemoveImage {
                    id: r.id.clone(),
                    record: p.clone(),
                },
            });
        }
    }
    // Layers no image uses, for longer than a pull takes.
    let mut unreferenced: Vec<&String> = good_layers
        .iter()
        .filter(|c| !referenced.contains(*c))
        .filter(|c| layer_age.get(*c).copied().unwrap_or_default() > o.max_unreferenced_age)
        .collect();
    unreferenced.sort();
    for c in unreferenced {
        let hex = c.trim_start_matches("sha256:");
        out.push(finding(
            Kind::Layer,
            hex,
            format!(
                "no image uses it, and it is older than {}: left by an interrupted pull or removal",
                crate::time::human_duration(o.max_unreferenced_age)
            ),
            Fix::RemoveLayer(layers_dir.join(hex)),
        ));
    }

    // Containers.
    let paths = Paths {
        root: root.to_path_buf(),
        runroot: runroot.to_path_buf(),
    };
    let image_ids: HashSet<&str> = records.iter().map(|(r, _)| r.id.as_str()).collect();
    let mut ctr_ids: HashSet<String> = HashSet::new();
    for e in entries(&paths.containers()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_prefix(".removing-") {
            if is_hex64(id) {
                out.push(finding(
                    Kind::Leftover,
                    e.path().display().to_string(),
                    "the files of a removed container, left by an interrupted removal",
                    Fix::PurgeContainer(id.to_string()),
                ));
            }
            continue;
        }
        if !is_hex64(&name) {
            continue;
        }
        let id = name;
        ctr_ids.insert(id.clone());
        atomic_leftovers(&paths.ctr_dir(&id), &mut out);
        let rec = match record::load(&paths, &id) {
            Ok(r) => r,
            // A container being created has its dir a moment before its record.
            Err(_) if younger_than(&paths.ctr_dir(&id), Duration::from_secs(60)) => continue,
            Err(e) => {
                out.push(finding(
                    Kind::Container,
                    &id,
                    format!("its record is unreadable: {e:#}"),
                    Fix::RemoveContainer(id.clone()),
                ));
                continue;
            }
        };
        let image = rec.image_id.trim_start_matches("sha256:");
        if !image_ids.contains(image) {
            out.push(finding(
                Kind::Container,
                &id,
                format!("its image {} is gone", rec.image_id),
                Fix::RemoveContainer(id.clone()),
            ));
        } else if damaged_images.contains(image) {
            out.push(finding(
                Kind::Container,
                &id,
                format!("its image {} is damaged", rec.image_id),
                Fix::RemoveContainer(id.clone()),
            ));
        }
        let st = record::load_state(&paths, &id);
        if st.is_running() && !st.monitor_alive() && !st.init_alive() {
            out.push(finding(
                Kind::Container,
                &id,
                "recorded as running, but its monitor and process are gone (killed with -9?)",
                Fix::Reconcile(id.clone()),
            ));
        } else if !st.is_running() {
            let fuse = crate::sys::pidfd::is_same_process(st.fuse_pid, st.fuse_start);
            let net = st
                .net_helpers
                .iter()
                .any(|(p, s)| crate::sys::pidfd::is_same_process(*p, *s));
            if fuse || net {
                out.push(finding(
                    Kind::Container,
                    &id,
                    "its fuse-overlayfs or network helpers outlived it",
                    Fix::Reconcile(id.clone()),
                ));
            }
        }
    }
    // Root filesystems still mounted (in this mount namespace) though their
    // container does not run: a monitor killed while it set one up.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = paths.containers();
    for line in mountinfo.lines() {
        let Some(mp) = line.split(' ').nth(4).map(unescape_mountinfo) else {
            continue;
        };
        let Ok(rest) = Path::new(&mp).strip_prefix(&prefix) else {
            continue;
        };
        let mut parts = rest.iter();
        let (Some(id), Some(m)) = (parts.next(), parts.next()) else {
            continue;
        };
        let id = id.to_string_lossy().into_owned();
        if m != "merged" || !is_hex64(&id) || parts.next().is_some() {
            continue;
        }
        let st = record::load_state(&paths, &id);
        if !(st.is_running() && (st.monitor_alive() || st.init_alive())) {
            out.push(finding(
                Kind::Container,
                &id,
                format!("its root filesystem is still mounted at {mp} though it does not run"),
                Fix::Unmount(id.clone()),
            ));
        }
    }
    // Runtime dirs of containers that are gone.
    for e in entries(&runroot.join("containers")) {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_hex64(&name) && !ctr_ids.contains(&name) {
            out.push(finding(
                Kind::Leftover,
                e.path().display().to_string(),
                "the runtime dir of a container that no longer exists",
                Fix::RemovePath(e.path()),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mountinfo("/a\\040b/c"), "/a b/c");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\04"), "/end\\04");
    }

    #[test]
    fn atomic_temps_of_dead_writers_only() {
        let me = std::process::id();
        assert!(!dead_atomic_temp(&format!(".x.json.tmp-{me}-0")));
        assert!(dead_atomic_temp(".x.json.tmp-999999999-0"));
        assert!(!dead_atomic_temp("x.json"));
        assert!(!dead_atomic_temp(".x.json.tmp-abc-0"));
    }

    #[test]
    fn a_healthy_store_has_no_findings_and_a_damaged_one_is_repaired() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let run = d.path().join("run");
        let s = Store::open_at(root.clone(), run.clone()).unwrap();
        let o = CheckOptions::default();
        assert!(check(&root, &run, &o).unwrap().findings.is_empty());
        // A half-unpacked layer, a dead temp, a blob that lies, leftover tmp.
        fs::create_dir_all(root.join("layers").join("a".repeat(64)).join("diff")).unwrap();
        fs::write(root.join("images/.x.json.tmp-999999999-3"), b"{").unwrap();
        fs::write(root.join("blobs/sha256").join("b".repeat(64)), b"lies").unwrap();
        fs::create_dir_all(root.join("tmp/layer-dead/diff")).unwrap();
        fs::create_dir_all(run.join("containers").join("c".repeat(64))).unwrap();
        let r = check(&root, &run, &o).unwrap();
        let kinds: Vec<&str> = r.findings.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(r.findings.len(), 5, "{:?}", r.findings);
        assert!(
            kinds.contains(&"layer") && kinds.contains(&"blob"),
            "{kinds:?}"
        );
        assert!(r.damaged(false));
        let fixed = check(
            &root,
            &run,
            &CheckOptions {
                repair: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(fixed.remaining.is_empty(), "{:?}", fixed.remaining);
        assert!(fixed.findings.iter().all(|f| f.repaired.is_some()));
        assert!(!fixed.damaged(true));
        drop(s);
    }
}
