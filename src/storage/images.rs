//! Image records: one JSON file per image under ROOT/images, written
//! atomically under the store lock; names, lookup, removal and the garbage
//! collection of layers and blobs no record references.

use super::atomic::{is_atomic_temp, sync_dir, write_atomic};
use super::{digest_hex, is_hex64, parse_digest, sha256_from_hex, Digest, Lock, Store};
use crate::image::reference::{is_short_name, Reference};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ImageRecord {
    /// Hex of the config digest.
    pub id: String,
    /// Fully qualified "registry/repository:tag" names.
    pub names: Vec<String>,
    /// Digest of the manifest it was pulled by.
    pub digest: Digest,
    /// Every "registry/repository@manifest-digest" it was pulled as: the same
    /// config can come through several manifests (a schema2 and an OCI copy).
    #[serde(default)]
    pub repo_digests: Vec<String>,
    pub manifest_media_type: String,
    pub config_digest: Digest,
    pub layers: Vec<LayerRecord>,
    pub size: u64,
    pub created: Option<String>,
    /// RFC 3339.
    pub pulled: String,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LayerRecord {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub diff_id: Digest,
    pub chain_id: Digest,
}

fn images_dir(s: &Store) -> PathBuf {
    s.root().join("images")
}

fn removed_dir(s: &Store) -> PathBuf {
    s.root().join("images/removed")
}

fn record_path(s: &Store, id: &str) -> PathBuf {
    images_dir(s).join(format!("{id}.json"))
}

fn read_record(p: &std::path::Path) -> Result<Option<ImageRecord>> {
    match fs::read(p) {
        Ok(d) => Ok(Some(
            serde_json::from_slice(&d).with_context(|| format!("parsing {}", p.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

fn write_record(s: &Store, rec: &ImageRecord) -> Result<()> {
    write_atomic(&record_path(s, &rec.id), &serde_json::to_vec_pretty(rec)?)
}

fn read_dir_records(dir: &std::path::Path) -> Result<Vec<ImageRecord>> {
    read_dir_records_checked(dir, false)
}

/// The records in `dir`. An unreadable one is skipped with a warning, or,
/// when `strict`, is an error: garbage collection must not delete the layers
/// of an image whose record it could not read.
fn read_dir_records_checked(dir: &std::path::Path, strict: bool) -> Result<Vec<ImageRecord>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.with_context(|| format!("listing {}", dir.display()))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".json") || is_atomic_temp(&name) || name.starts_with('.') {
            continue;
        }
        match read_record(&e.path()) {
            Ok(Some(r)) => out.push(r),
            Ok(None) => {} // removed meanwhile
            Err(err) if strict => return Err(err),
            Err(err) => warn!("ignoring image record: {err:#}"),
        }
    }
    Ok(out)
}

pub(super) fn list(s: &Store) -> Result<Vec<ImageRecord>> {
    read_dir_records(&images_dir(s))
}

pub(super) fn by_id(s: &Store, id: &str) -> Result<Option<ImageRecord>> {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    if !is_hex64(id) {
        return Ok(None);
    }
    if let Some(r) = read_record(&record_path(s, id))? {
        return Ok(Some(r));
    }
    read_record(&removed_dir(s).join(format!("{id}.json")))
}

/// How a user's string names an image.
#[derive(Debug, PartialEq)]
pub(crate) enum Wanted {
    /// A fully qualified name: "reg/repo:tag", maybe with "@digest".
    Full {
        name: String,
        digest: Option<Digest>,
    },
    /// A short name: matches any "…/<suffix>"; "localhost/<suffix>" first.
    Short {
        suffix: String,
        digest: Option<Digest>,
    },
}

/// Split and normalise what a user typed as an image name (not an id).
pub(crate) fn wanted(input: &str) -> Result<Wanted> {
    if is_short_name(input) {
        // Validate with the full parser, but keep the user's path as typed.
        let r = Reference::parse(input)?;
        let (path, digest) = match input.split_once('@') {
            Some((p, d)) => (p, Some(parse_digest(d)?)),
            None => (input, None),
        };
        let last = path.rsplit('/').next().unwrap_or(path);
        let suffix = if last.contains(':') || digest.is_some() {
            path.to_string()
        } else {
            format!("{path}:latest")
        };
        let _ = r;
        return Ok(Wanted::Short { suffix, digest });
    }
    let r = Reference::parse(input)?;
    let digest = r.digest.as_deref().map(parse_digest).transpose()?;
    let tag = r.tag.clone().or(if digest.is_none() {
        Some("latest".into())
    } else {
        None
    });
    let name = match tag {
        Some(t) => format!("{}:{t}", r.repo_name()),
        None => r.repo_name(),
    };
    Ok(Wanted::Full { name, digest })
}

/// "reg/repo" of a stored "reg/repo:tag" name.
pub(crate) fn repo_of(name: &str) -> &str {
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    }
}

/// Does stored `name` (of an image whose manifest digest is `digest`) match?
pub(crate) fn name_matches(w: &Wanted, name: &str, image_digest: &Digest) -> bool {
    match w {
        Wanted::Full {
            name: n,
            digest: None,
        } => name == n,
        Wanted::Full {
            name: n,
            digest: Some(d),
        } => d == image_digest && (repo_of(name) == repo_of(n) || name == n),
        Wanted::Short {
            suffix,
            digest: None,
        } => {
            name.len() > suffix.len()
                && name.ends_with(suffix.as_str())
                && name.as_bytes()[name.len() - suffix.len() - 1] == b'/'
        }
        Wanted::Short {
            suffix,
            digest: Some(d),
        } => {
            let repo = repo_of(name);
            d == image_digest
                && (repo.len() > suffix.len()
                    && repo.ends_with(suffix.as_str())
                    && repo.as_bytes()[repo.len() - suffix.len() - 1] == b'/')
        }
    }
}

pub(super) fn find(s: &Store, input: &str) -> Result<Option<ImageRecord>> {
    let input = input.trim();
    if input.is_empty() {
        bail!("empty image name");
    }
    let hexish = input.strip_prefix("sha256:").unwrap_or(input);
    let is_hex = hexish
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if is_hex && hexish.len() == 64 {
        return by_id_visible(s, hexish);
    }
    let all = list(s)?;
    if !input.starts_with("sha256:") {
        // A name that doesn't parse may still be an id prefix below.
        if let Ok(w) = wanted(input) {
            let mut hits: Vec<&ImageRecord> = all
                .iter()
                .filter(|r| r.names.iter().any(|n| name_matches(&w, n, &r.digest)))
                .collect();
            if let Wanted::Short { suffix, .. } = &w {
                // podman looks in localhost/ first for a short name.
                let local = format!("localhost/{suffix}");
                if let Some(r) = hits.iter().find(|r| r.names.contains(&local)) {
                    return Ok(Some((*r).clone()));
                }
            }
            // Several images can share a short name; take the newest pull.
            hits.sort_by(|a, b| b.pulled.cmp(&a.pulled));
            if hits.len() > 1 {
                debug!("{input} matches {} images; using the newest", hits.len());
            }
            if let Some(r) = hits.first() {
                return Ok(Some((*r).clone()));
            }
        }
    }
    if is_hex && hexish.len() >= 3 {
        let hits: Vec<&ImageRecord> = all.iter().filter(|r| r.id.starts_with(hexish)).collect();
        match hits.len() {
            0 => {}
            1 => return Ok(Some(hits[0].clone())),
            n => bail!("{input} is ambiguous: it is a prefix of {n} image ids"),
        }
    }
    Ok(None)
}

fn by_id_visible(s: &Store, id: &str) -> Result<Option<ImageRecord>> {
    read_record(&record_path(s, id))
}

/// Take `names` away from every image except `keep_id`.
fn strip_names_elsewhere(s: &Store, keep_id: &str, names: &[String]) -> Result<()> {
    for mut other in list(s)? {
        if other.id == keep_id {
            continue;
        }
        let before = other.names.len();
        other.names.retain(|n| !names.contains(n));
        if other.names.len() != before {
            write_record(s, &other)?;
        }
    }
    Ok(())
}

pub(super) fn put_image(s: &Store, rec: &ImageRecord) -> Result<()> {
    if !is_hex64(&rec.id) {
        bail!("invalid image id {:?}", rec.id);
    }
    if digest_hex(&rec.config_digest).ok() != Some(rec.id.as_str()) {
        bail!(
            "image id {} does not match its config digest {}",
            rec.id,
            rec.config_digest
        );
    }
    // Checked under the lock: gc deletes under it too, so a record never
    // points at content that went away between check and write.
    let _lock = s.lock()?;
    if !s.has_blob(&rec.config_digest) {
        bail!(
            "image {}: config blob {} is not in the store",
            rec.id,
            rec.config_digest
        );
    }
    if !s.has_blob(&rec.digest) {
        bail!(
            "image {}: manifest blob {} is not in the store",
            rec.id,
            rec.digest
        );
    }
    for l in &rec.layers {
        if !s.has_layer(&l.chain_id) {
            bail!(
                "image {}: layer {} (chain id {}) is not in the store",
                rec.id,
                l.digest,
                l.chain_id
            );
        }
    }
    let mut out = rec.clone();
    if let Some(old) = by_id(s, &rec.id)? {
        out.names.extend(old.names);
        out.repo_digests.extend(old.repo_digests);
    }
    dedup(&mut out.names);
    dedup(&mut out.repo_digests);
    write_record(s, &out)?;
    let removed = removed_dir(s).join(format!("{}.json", rec.id));
    if removed.exists() {
        fs::remove_file(&removed).with_context(|| format!("removing {}", removed.display()))?;
    }
    strip_names_elsewhere(s, &rec.id, &rec.names)
}

/// Write the record of a manifest list: no layers, an id of its own (not
/// its config's), its list and state blobs stored. A change (`prev`: the
/// state it was made from) is refused when the list changed or went away
/// meanwhile; a new list (`prev` None) when one of its names is taken.
pub(super) fn put_list(s: &Store, rec: &ImageRecord, prev: Option<&Digest>) -> Result<()> {
    if !is_hex64(&rec.id) {
        bail!("invalid image id {:?}", rec.id);
    }
    if !rec.layers.is_empty() {
        bail!("manifest list {}: a list has no layers", rec.id);
    }
    let _lock = s.lock()?;
    for d in [&rec.digest, &rec.config_digest] {
        if !s.has_blob(d) {
            bail!("manifest list {}: blob {d} is not in the store", rec.id);
        }
    }
    match (prev, by_id_visible(s, &rec.id)?) {
        (Some(p), Some(cur)) if cur.config_digest == *p => {}
        (Some(_), _) => bail!(
            "manifest list {} was changed or removed meanwhile: try again",
            rec.id
        ),
        (None, _) => {
            for other in list(s)? {
                if let Some(n) = other.names.iter().find(|n| rec.names.contains(n)) {
                    bail!(
                        "image name \"{n}\" is already associated with image \"{}\": that name is already in use",
                        other.id
                    );
                }
            }
        }
    }
    write_record(s, rec)?;
    strip_names_elsewhere(s, &rec.id, &rec.names)
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = HashSet::new();
    v.retain(|n| seen.insert(n.clone()));
}

pub(super) fn set_names(s: &Store, id: &str, mut names: Vec<String>) -> Result<()> {
    let _lock = s.lock()?;
    let Some(mut rec) = by_id_visible(s, id)? else {
        bail!("image {id} not known");
    };
    dedup(&mut names);
    rec.names = names.clone();
    write_record(s, &rec)?;
    strip_names_elsewhere(s, id, &names)
}

pub(super) fn remove(s: &Store, id: &str) -> Result<()> {
    {
        let _lock = s.lock()?;
        let p = record_path(s, id);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("image {id} not known"),
            Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
        }
        sync_dir(&images_dir(s))?;
    }
    gc(s)
}

/// Hide image `id` from `images` and lookups but keep its record (and so
/// its layers) while containers still use it; `gc` drops it once they are
/// gone.
pub(super) fn retire(s: &Store, id: &str) -> Result<()> {
    let _lock = s.lock()?;
    let from = record_path(s, id);
    let to = removed_dir(s).join(format!("{id}.json"));
    fs::rename(&from, &to)
        .with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
    sync_dir(&images_dir(s))
}

pub(super) fn containers_using(s: &Store, image_id: &str) -> Vec<String> {
    containers_by_image(s).remove(image_id).unwrap_or_default()
}

/// Container ids (sorted) per image id, from
/// ROOT/containers/<id>/container.json's "image_id".
pub(super) fn containers_by_image(s: &Store) -> std::collections::HashMap<String, Vec<String>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    let Ok(rd) = fs::read_dir(s.root().join("containers")) else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(data) = fs::read(e.path().join("container.json")) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data) else {
            continue;
        };
        let Some(used) = v.get("image_id").and_then(|x| x.as_str()) else {
            continue;
        };
        let id = used.strip_prefix("sha256:").unwrap_or(used).to_string();
        out.entry(id)
            .or_default()
            .push(e.file_name().to_string_lossy().into_owned());
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

pub(super) fn gc(s: &Store) -> Result<()> {
    // A pull (or container set-up) holds this shared while it relies on
    // layers and blobs that no record protects yet.
    let Some(_gc) = Lock::try_exclusive(&s.root().join("gc.lock"))? else {
        debug!("layers are in use by a pull; leaving unused layers for a later cleanup");
        return Ok(());
    };
    let _lock = s.lock()?;
    let mut keep_blobs = HashSet::new();
    let mut keep_layers = HashSet::new();
    // An unreadable record still owns its layers: collect nothing then.
    let readable = read_dir_records_checked(&images_dir(s), true)
        .and_then(|live| Ok((live, read_dir_records_checked(&removed_dir(s), true)?)));
    let (mut records, removed) = match readable {
        Ok(r) => r,
        Err(e) => {
            warn!("not collecting unused layers: {e:#}");
            return Ok(());
        }
    };
    for r in removed {
        if containers_using(s, &r.id).is_empty() {
            let p = removed_dir(s).join(format!("{}.json", r.id));
            fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        } else {
            records.push(r);
        }
    }
    for r in &records {
        keep_blobs.insert(r.config_digest.clone());
        keep_blobs.insert(r.digest.clone());
        for l in &r.layers {
            keep_blobs.insert(l.digest.clone());
            keep_layers.insert(l.chain_id.clone());
        }
    }
    let layers = s.root().join("layers");
    for e in fs::read_dir(&layers).with_context(|| format!("listing {}", layers.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(chain) = sha256_from_hex(&name) else {
            continue;
        };
        if keep_layers.contains(&chain) {
            continue;
        }
        // Out of sight first (one rename), then delete at leisure: a crash
        // leaves it in tmp/, which the next open clears.
        let grave = s.tmp_entry(&format!("rm-layer-{}", &name[..12]), true)?;
        let target = grave.path.join("l");
        fs::rename(e.path(), &target)
            .with_context(|| format!("removing layer {}", e.path().display()))?;
        drop(grave); // removes it, or leaves it for a cleanup inside the user namespace
    }
    let blobs = s.root().join("blobs/sha256");
    for e in fs::read_dir(&blobs).with_context(|| format!("listing {}", blobs.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if sha256_from_hex(&name).is_ok_and(|d| !keep_blobs.contains(&d)) {
            fs::remove_file(e.path()).with_context(|| format!("removing blob {name}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::test_store;
    use super::super::{sha256_digest, Store};
    use super::*;
    use crate::image::manifest::{OCI_LAYER, OCI_MANIFEST};

    /// A stored image with one tiny layer (unpacked from a plain tar) whose
    /// config is `config`.
    pub(crate) fn add_image(s: &Store, names: &[&str], config: &str, pulled: &str) -> ImageRecord {
        let cfg = config.as_bytes();
        let cd = sha256_digest(cfg);
        s.put_blob(&cd, cfg).unwrap();
        let manifest = format!("{{\"config\":\"{cd}\"}}");
        let md = sha256_digest(manifest.as_bytes());
        s.put_blob(&md, manifest.as_bytes()).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(config.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "etc/cfg", cfg).unwrap();
        let tarball = b.into_inner().unwrap();
        let ld = sha256_digest(&tarball);
        s.put_blob(&ld, &tarball).unwrap();
        let chain = s.unpack_layer(&ld, OCI_LAYER, &ld, None).unwrap();
        let rec = ImageRecord {
            id: cd.digest().to_string(),
            names: names.iter().map(|n| n.to_string()).collect(),
            digest: md,
            repo_digests: vec![],
            manifest_media_type: OCI_MANIFEST.into(),
            config_digest: cd,
            layers: vec![LayerRecord {
                digest: ld.clone(),
                media_type: OCI_LAYER.into(),
                size: tarball.len() as u64,
                diff_id: ld,
                chain_id: chain,
            }],
            size: tarball.len() as u64,
            created: Some("2024-01-02T03:04:05Z".into()),
            pulled: pulled.into(),
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        };
        s.put_image(&rec).unwrap();
        rec
    }

    #[test]
    fn short_names_tags_ids_and_digests_find_the_image() {
        let (_d, s) = test_store();
        let a = add_image(
            &s,
            &["localhost:5000/alpine:latest"],
            "{\"a\":1}",
            "2024-01-01T00:00:00Z",
        );
        let b = add_image(
            &s,
            &["docker.io/library/busybox:1.36"],
            "{\"b\":1}",
            "2024-01-01T00:00:00Z",
        );
        let find = |n: &str| s.find_image(n).unwrap().map(|r| r.id);
        assert_eq!(find("alpine"), Some(a.id.clone()));
        assert_eq!(find("alpine:latest"), Some(a.id.clone()));
        assert_eq!(find("localhost:5000/alpine"), Some(a.id.clone()));
        assert_eq!(find("busybox:1.36"), Some(b.id.clone()));
        assert_eq!(find("library/busybox:1.36"), Some(b.id.clone()));
        assert_eq!(find("docker.io/busybox:1.36"), Some(b.id.clone()));
        assert_eq!(find("busybox"), None, "no busybox:latest");
        assert_eq!(find("lpine"), None, "a suffix must start at a '/'");
        assert_eq!(find(&a.id), Some(a.id.clone()));
        assert_eq!(find(&format!("sha256:{}", a.id)), Some(a.id.clone()));
        assert_eq!(find(&a.id[..8]), Some(a.id.clone()));
        assert_eq!(find(&format!("alpine@{}", a.digest)), Some(a.id.clone()));
        assert_eq!(
            find(&format!("localhost:5000/alpine@{}", a.digest)),
            Some(a.id.clone())
        );
        assert_eq!(find(&format!("alpine@{}", b.digest)), None);
        assert_eq!(find("quay.io/alpine"), None);
    }

    #[test]
    fn localhost_wins_for_short_names_then_newest() {
        let (_d, s) = test_store();
        let old = add_image(
            &s,
            &["quay.io/x/app:latest"],
            "{\"1\":1}",
            "2024-01-01T00:00:00Z",
        );
        let new = add_image(
            &s,
            &["localhost:5000/x/app:latest"],
            "{\"2\":1}",
            "2024-02-01T00:00:00Z",
        );
        assert_eq!(s.find_image("app").unwrap().unwrap().id, new.id);
        let local = add_image(
            &s,
            &["localhost/app:latest"],
            "{\"3\":1}",
            "2023-01-01T00:00:00Z",
        );
        assert_eq!(s.find_image("app").unwrap().unwrap().id, local.id);
        assert_eq!(s.find_image("x/app").unwrap().unwrap().id, new.id);
        let _ = old;
    }

    #[test]
    fn names_move_between_images_and_merge_on_repull() {
        let (_d, s) = test_store();
        let a = add_image(
            &s,
            &["localhost/a:latest", "localhost/shared:1"],
            "{\"a\":2}",
            "t1",
        );
        let b = add_image(&s, &["localhost/shared:1"], "{\"b\":2}", "t2");
        let a2 = s.image_by_id(&a.id).unwrap().unwrap();
        assert_eq!(a2.names, vec!["localhost/a:latest"]);
        assert_eq!(
            s.image_by_id(&b.id).unwrap().unwrap().names,
            vec!["localhost/shared:1"]
        );
        let mut again = a.clone();
        again.names = vec!["localhost/a:v2".into()];
        s.put_image(&again).unwrap();
        assert_eq!(
            s.image_by_id(&a.id).unwrap().unwrap().names,
            vec!["localhost/a:v2", "localhost/a:latest"]
        );
    }

    #[test]
    fn records_need_their_content_and_removal_collects_garbage() {
        let (_d, s) = test_store();
        let a = add_image(&s, &["localhost/a:latest"], "{\"a\":3}", "t1");
        let mut bad = a.clone();
        bad.id = "f".repeat(64);
        assert!(s.put_image(&bad).is_err());
        let layer = s.layer_dir(&a.layers[0].chain_id);
        assert!(layer.join("etc/cfg").is_file());
        // In use by a pull: removal keeps layers until a later gc.
        let hold = s.hold_layers().unwrap();
        s.remove_image(&a.id).unwrap();
        assert!(s.find_image("a").unwrap().is_none());
        assert!(layer.exists());
        drop(hold);
        s.gc().unwrap();
        assert!(!layer.exists());
        assert!(!s.has_blob(&a.config_digest));
        assert!(!s.has_blob(&a.layers[0].digest));
        assert!(fs::read_dir(s.root().join("tmp")).unwrap().next().is_none());
    }

    #[test]
    fn retired_images_keep_layers_while_containers_use_them() {
        let (_d, s) = test_store();
        let a = add_image(&s, &["localhost/a:latest"], "{\"a\":4}", "t1");
        let cdir = s.root().join("containers/c1");
        fs::create_dir_all(&cdir).unwrap();
        fs::write(
            cdir.join("container.json"),
            format!("{{\"image_id\":\"{}\"}}", a.id),
        )
        .unwrap();
        assert_eq!(s.containers_using(&a.id), vec!["c1"]);
        s.retire_image(&a.id).unwrap();
        s.gc().unwrap();
        assert!(s.images().unwrap().is_empty());
        assert!(s.find_image(&a.id).unwrap().is_none());
        assert!(s.image_by_id(&a.id).unwrap().is_some());
        assert!(s.has_layer(&a.layers[0].chain_id));
        fs::remove_dir_all(&cdir).unwrap();
        s.gc().unwrap();
        assert!(s.image_by_id(&a.id).unwrap().is_none());
        assert!(!s.has_layer(&a.layers[0].chain_id));
    }

    /// A record that does not parse (here: a malformed digest) is skipped by
    /// listings, but gc then refuses to run rather than delete its layers.
    #[test]
    fn gc_keeps_everything_when_a_record_is_unreadable() {
        let (_d, s) = test_store();
        let a = add_image(&s, &["localhost/a:latest"], "{\"a\":5}", "t1");
        let p = record_path(&s, &a.id);
        let text = fs::read_to_string(&p).unwrap();
        let broken = text.replace(&a.config_digest.to_string(), "sha256:NOT-HEX");
        assert_ne!(text, broken);
        fs::write(&p, broken).unwrap();
        assert!(s.images().unwrap().is_empty());
        s.gc().unwrap();
        assert!(s.has_layer(&a.layers[0].chain_id));
        assert!(s.has_blob(&a.config_digest));
        // Records rpod wrote before read back unchanged.
        fs::write(&p, &text).unwrap();
        assert_eq!(s.image_by_id(&a.id).unwrap().unwrap(), a);
    }

    #[test]
    fn wanted_normalises() {
        assert_eq!(
            wanted("alpine").unwrap(),
            Wanted::Short {
                suffix: "alpine:latest".into(),
                digest: None
            }
        );
        assert_eq!(
            wanted("localhost:5000/a/b:1").unwrap(),
            Wanted::Full {
                name: "localhost:5000/a/b:1".into(),
                digest: None
            }
        );
        assert_eq!(
            wanted("docker.io/alpine").unwrap(),
            Wanted::Full {
                name: "docker.io/library/alpine:latest".into(),
                digest: None
            }
        );
        assert!(wanted("UPPER").is_err());
        assert_eq!(repo_of("localhost:5000/a:tag"), "localhost:5000/a");
        assert_eq!(repo_of("localhost:5000/a"), "localhost:5000/a");
    }
}
