//! Local images: listing (with podman's filters), removal, pruning, tags and
//! the data `image inspect` shows. The CLI formats what these return.

use crate::error::{Error, Kind};
use crate::image::reference::{is_short_name, Reference};
use crate::storage::{short_id, Digest, ImageRecord, Store};
use crate::time::{format_rfc3339, parse_rfc3339_secs as parse_rfc3339};
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

// ---- shared helpers ----

/// Seconds since the epoch when the image was created (its config's
/// "created"), else when it was pulled.
pub fn created_secs(rec: &ImageRecord) -> i64 {
    rec.created
        .as_deref()
        .and_then(parse_rfc3339)
        .or_else(|| parse_rfc3339(&rec.pulled))
        .map(|(s, _)| s)
        .unwrap_or(0)
}

/// When the image was created (or pulled), as RFC 3339.
pub fn created_rfc3339(rec: &ImageRecord) -> String {
    rec.created
        .as_deref()
        .and_then(parse_rfc3339)
        .or_else(|| parse_rfc3339(&rec.pulled))
        .map(|(s, n)| format_rfc3339(s, n))
        .unwrap_or_else(|| format_rfc3339(0, 0))
}

/// ("reg/repo", "tag") of a stored name.
fn split_name(name: &str) -> (String, String) {
    let name = name.split('@').next().unwrap_or(name);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find(':') {
        Some(i) => (
            name[..last_slash + i].into(),
            name[last_slash + i + 1..].into(),
        ),
        None => (name.into(), "<none>".into()),
    }
}

/// The image's "repo@digest" names.
pub fn repo_digests(rec: &ImageRecord) -> Vec<String> {
    if !rec.repo_digests.is_empty() {
        return rec.repo_digests.clone();
    }
    // Records written before repo_digests existed: the one digest, per name.
    let mut out: Vec<String> = Vec::new();
    for n in &rec.names {
        let d = format!("{}@{}", split_name(n).0, rec.digest);
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

fn raw_config(store: &Store, rec: &ImageRecord) -> Value {
    store
        .read_blob(&rec.config_digest)
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or(Value::Null)
}

fn labels_of(cfg: &Value) -> Value {
    cfg.pointer("/config/Labels")
        .cloned()
        .unwrap_or(Value::Null)
}

/// The labels of the image's config (null when it has none).
pub fn labels(store: &Store, rec: &ImageRecord) -> Value {
    labels_of(&raw_config(store, rec))
}

/// Normalise a name given to tag/untag: a name without a registry is
/// local ("localhost/NAME"), as podman does; tag defaults to "latest".
pub fn normalize_local_name(name: &str) -> Result<String> {
    let full = if is_short_name(name) {
        format!("localhost/{name}")
    } else {
        name.to_string()
    };
    let r = Reference::parse(&full).with_context(|| format!("normalizing name {name:?}"))?;
    if r.digest.is_some() {
        bail!("{name}: tag by digest not supported");
    }
    Ok(r.with_default_tag().to_string())
}

/// The local image `name` (a name or an id), or podman's "image not known".
pub fn find_image(store: &Store, name: &str) -> Result<ImageRecord> {
    match store.find_image(name)? {
        Some(r) => Ok(r),
        None => Err(Error::not_found(Kind::Image, name)),
    }
}

// ---- images ----

/// One repository:tag row of `images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoTag {
    pub repository: String,
    pub tag: String,
}

/// One image as `images` lists it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub record: ImageRecord,
    /// How many containers use it.
    pub containers: usize,
    /// No name and no child image (podman's `Dangling`).
    pub dangling: bool,
    /// Its rows: one per distinct name that passes the reference filter,
    /// `<none>`/`<none>` for an image without names.
    pub repo_tags: Vec<RepoTag>,
}

fn matches_reference(rec: &ImageRecord, name: &str, pattern: &str) -> bool {
    let (repo, tag) = split_name(name);
    if pattern.contains(['*', '?', '[']) {
        let with_tag = format!("{repo}:{tag}");
        return glob(pattern, &with_tag)
            || glob(pattern, &repo)
            || repo
                .split_once('/')
                .map(|(_, path)| glob(pattern, path) || glob(pattern, &format!("{path}:{tag}")))
                .unwrap_or(false);
    }
    // A plain name: the same rules as looking an image up, with or without a tag.
    let (p_repo, p_tag) = match pattern.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (pattern, None),
    };
    if let Some(t) = p_tag {
        if t != tag {
            return false;
        }
    }
    let repo_ok = repo == p_repo
        || (repo.len() > p_repo.len()
            && repo.ends_with(p_repo)
            && repo.as_bytes()[repo.len() - p_repo.len() - 1] == b'/');
    repo_ok || rec.id.starts_with(pattern)
}

/// Shell-style glob with `*` and `?` (no character classes beyond `[...]` literal match).
fn glob(p: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(p.as_bytes(), s.as_bytes())
}

/// A filter of `images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFilter {
    /// Images without names and without a child image (true), or the
    /// others (false), as podman.
    Dangling(bool),
    /// Images with a name matching the pattern (a name, or a glob).
    Reference(String),
    /// Images with the label, of that value if given.
    Label(String, Option<String>),
    /// Leave out intermediate images (`images` without `-a`): unnamed
    /// ones another image was built on, as a build's step images.
    NotIntermediate,
}

/// Images' config histories, read once.
#[derive(Default)]
struct Histories(std::collections::HashMap<String, Vec<Value>>);

impl Histories {
    fn get(&mut self, store: &Store, r: &ImageRecord) -> &Vec<Value> {
        self.0.entry(r.id.clone()).or_insert_with(|| {
            raw_config(store, r)["history"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
    }
}

/// Whether `y` was built on `x`, as podman's layer tree finds it: the
/// same layers or one more, and a longer history that starts with `x`'s
/// (a build's next step image, or one further down the chain).
fn built_on(store: &Store, h: &mut Histories, x: &ImageRecord, y: &ImageRecord) -> bool {
    if y.id == x.id
        || !(y.layers.len() == x.layers.len() || y.layers.len() == x.layers.len() + 1)
        || !y
            .layers
            .iter()
            .zip(&x.layers)
            .all(|(a, b)| a.chain_id == b.chain_id)
    {
        return false;
    }
    let hx = h.get(store, x).clone();
    let hy = h.get(store, y);
    hy.len() > hx.len() && hy[..hx.len()] == hx[..]
}

/// The ids of intermediate images: unnamed, with a child (`built_on`).
fn intermediate_ids(store: &Store, recs: &[ImageRecord]) -> std::collections::HashSet<String> {
    let mut h = Histories::default();
    recs.iter()
        .filter(|x| x.names.is_empty())
        .filter(|x| recs.iter().any(|y| built_on(store, &mut h, x, y)))
        .map(|x| x.id.clone())
        .collect()
}

fn keep_image(store: &Store, rec: &ImageRecord, filters: &[ImageFilter]) -> bool {
    filters.iter().all(|f| match f {
        // Applied in list_images (it needs every image).
        ImageFilter::Dangling(_) => true,
        ImageFilter::Reference(p) => rec.names.iter().any(|n| matches_reference(rec, n, p)),
        ImageFilter::Label(k, v) => {
            let labels = labels_of(&raw_config(store, rec));
            match (labels.get(k), v) {
                (Some(Value::String(have)), Some(want)) => have == want,
                (Some(_), None) => true,
                _ => false,
            }
        }
        // Applied in list_images (it needs every image).
        ImageFilter::NotIntermediate => true,
    })
}

/// The images that pass all `filters`, newest first.
pub fn list_images(store: &Store, filters: &[ImageFilter]) -> Result<Vec<ImageSummary>> {
    let all = store.images()?;
    // Only unnamed images can be intermediate (or dangling).
    let intermediate = if all.iter().any(|r| r.names.is_empty()) {
        intermediate_ids(store, &all)
    } else {
        Default::default()
    };
    let hide_intermediate = filters.contains(&ImageFilter::NotIntermediate);
    let mut recs: Vec<ImageRecord> = all
        .into_iter()
        .filter(|r| {
            let inter = intermediate.contains(&r.id);
            // Dangling as podman: no name and no child image.
            let dangling_ok = filters.iter().all(|f| match f {
                ImageFilter::Dangling(d) => (r.names.is_empty() && !inter) == *d,
                _ => true,
            });
            !(hide_intermediate && inter) && dangling_ok && keep_image(store, r, filters)
        })
        .collect();
    // podman's default sort: newest first.
    recs.sort_by(|x, y| created_secs(y).cmp(&created_secs(x)).then(x.id.cmp(&y.id)));
    let used = store.containers_by_image();
    let reference = filters.iter().find_map(|f| match f {
        ImageFilter::Reference(p) => Some(p),
        _ => None,
    });
    Ok(recs
        .into_iter()
        .map(|r| {
            let mut repo_tags = Vec::new();
            if r.names.is_empty() {
                repo_tags.push(RepoTag {
                    repository: "<none>".into(),
                    tag: "<none>".into(),
                });
            }
            for n in &r.names {
                if let Some(p) = reference {
                    if !matches_reference(&r, n, p) {
                        continue;
                    }
                }
                let (repository, tag) = split_name(n);
                let rt = RepoTag { repository, tag };
                if !repo_tags.contains(&rt) {
                    repo_tags.push(rt);
                }
            }
            ImageSummary {
                containers: used.get(&r.id).map(Vec::len).unwrap_or(0),
                dangling: r.names.is_empty() && !intermediate.contains(&r.id),
                record: r,
                repo_tags,
            }
        })
        .collect())
}

// ---- rmi and prune ----

/// Layers unpacked in the user namespace belong to its ids: removing them
/// needs to be inside it. Failing that, removal is left for a later run.
fn enter_userns_for_cleanup() {
    if let Err(e) = crate::userns::enter() {
        debug!(
            "not entering the user namespace ({e:#}); unused layers may stay until a later cleanup"
        );
    }
}

/// What `rmi` did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// A name was removed from an image.
    Untagged(String),
    /// The image (by id) was removed.
    Deleted(String),
}

/// How `rmi` removes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// Every image (and no names given).
    pub all: bool,
    /// Even an image with several names, or one containers use (it is hidden
    /// and its layers kept until they are gone).
    pub force: bool,
    /// A name that matches no image is no error.
    pub ignore: bool,
}

/// Remove image `rec`. With `force`, an image that containers use is
/// hidden and its layers kept until they are gone.
fn delete_image(
    store: &Store,
    rec: &ImageRecord,
    force: bool,
    out: &mut dyn FnMut(Removal) -> Result<()>,
) -> Result<()> {
    let users = store.containers_using(&rec.id);
    if !users.is_empty() && !force {
        return Err(Error::InUse {
            kind: Kind::Image,
            name: rec.id.clone(),
            users,
        }
        .into());
    }
    for n in &rec.names {
        crate::events::image(store.runroot(), "untag", &rec.id, n);
        out(Removal::Untagged(n.clone()))?;
    }
    if users.is_empty() {
        store.remove_image(&rec.id)?;
    } else {
        store.retire_image(&rec.id)?;
        warn!(
            "image {} is still used by container(s) {}: its layers are kept until they are removed",
            short_id(&rec.id),
            users.join(", ")
        );
    }
    let name = rec.names.first().map_or("", |n| n.as_str());
    crate::events::image(store.runroot(), "remove", &rec.id, name);
    out(Removal::Deleted(rec.id.clone()))
}

/// Remove every image (`o.all`), then the images `names` name, by name, id
/// or id prefix. By one of several names, only that name goes (podman).
/// Each removal is passed to `out` as it happens; what failed is returned,
/// each an [`Error::NotFound`], [`Error::InUse`] or another failure.
pub fn remove_images(
    store: &Store,
    names: &[String],
    o: &RemoveOptions,
    out: &mut dyn FnMut(Removal) -> Result<()>,
) -> Result<Vec<anyhow::Error>> {
    enter_userns_for_cleanup();
    let mut errors = Vec::new();
    if o.all {
        for rec in store.images()? {
            if let Err(e) = delete_image(store, &rec, o.force, out) {
                errors.push(e);
            }
        }
    }
    for name in names {
        let res = (|| -> Result<()> {
            let rec = match store.find_image(name)? {
                Some(r) => r,
                None if o.ignore => return Ok(()),
                None => return Err(Error::not_found(Kind::Image, name)),
            };
            let by_id = rec.id.starts_with(name.trim_start_matches("sha256:"));
            if !by_id && rec.names.len() > 1 {
                if let Some(n) = rec
                    .names
                    .iter()
                    .find(|n| crate::storage::name_matches(name, n, &rec.digest))
                {
                    let rest: Vec<String> = rec.names.iter().filter(|x| *x != n).cloned().collect();
                    store.set_image_names(&rec.id, rest)?;
                    crate::events::image(store.runroot(), "untag", &rec.id, n);
                    crate::events::image(store.runroot(), "remove", &rec.id, n);
                    return out(Removal::Untagged(n.clone()));
                }
            }
            delete_image(store, &rec, o.force, out)
        })();
        if let Err(e) = res {
            errors.push(e);
        }
    }
    Ok(errors)
}

/// `rmi` as podman's without --no-prune: [`remove_images`], then for each
/// image removed, the image it was built on if that is left dangling (no
/// name, no other child, no container), and so on up the chain: a built
/// image takes its build's step images with it.
pub fn remove_images_and_parents(
    store: &Store,
    names: &[String],
    o: &RemoveOptions,
    out: &mut dyn FnMut(Removal) -> Result<()>,
) -> Result<Vec<anyhow::Error>> {
    let before = store.images()?;
    let mut h = Histories::default();
    // Read now: the removed images' configs may be gone afterwards.
    for r in &before {
        h.get(store, r);
    }
    let mut deleted = Vec::new();
    let errors = remove_images(store, names, o, &mut |r| {
        if let Removal::Deleted(id) = &r {
            deleted.push(id.clone());
        }
        out(r)
    })?;
    if o.all {
        return Ok(errors);
    }
    for id in deleted {
        let Some(mut child) = before.iter().find(|r| r.id == id).cloned() else {
            continue;
        };
        loop {
            // The closest image it was built on.
            let mut parent: Option<&ImageRecord> = None;
            for x in &before {
                if built_on(store, &mut h, x, &child)
                    && parent.map_or(true, |p| h.get(store, x).len() > h.get(store, p).len())
                {
                    parent = Some(x);
                }
            }
            let Some(p) = parent else { break };
            let Some(cur) = store.image_by_id(&p.id)? else {
                break;
            };
            if !cur.names.is_empty() || !store.containers_using(&cur.id).is_empty() {
                break;
            }
            let now = store.images()?;
            if now.iter().any(|y| built_on(store, &mut h, &cur, y)) {
                break;
            }
            store.remove_image(&cur.id)?;
            crate::events::image(store.runroot(), "remove", &cur.id, "");
            out(Removal::Deleted(cur.id.clone()))?;
            child = cur;
        }
    }
    Ok(errors)
}

/// Which images `image prune` removes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// Every image no container uses, not only the dangling ones.
    pub all: bool,
}

/// Remove the images no container uses: the dangling ones, or all with
/// `o.all`, passing each id to `out` once removed; then collect the unused
/// layers.
pub fn prune_images(
    store: &Store,
    o: &PruneOptions,
    out: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    prune_images_matching(store, o, &|_| true, out)
}

/// [`prune_images`] of only the images `matches` accepts (`system prune
/// --filter`).
pub fn prune_images_matching(
    store: &Store,
    o: &PruneOptions,
    matches: &dyn Fn(&ImageRecord) -> bool,
    out: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    enter_userns_for_cleanup();
    let used = store.containers_by_image();
    if o.all {
        for rec in store.images()? {
            if used.contains_key(&rec.id) || !matches(&rec) {
                continue;
            }
            store.remove_image(&rec.id)?;
            out(&rec.id)?;
        }
        return store.gc();
    }
    // Dangling, as podman: no name and no child image (a build's
    // intermediate images are the parents of its result, and stay while
    // it does). Removing one can leave its parent dangling: again until
    // none is left, as podman removes a dropped build's whole chain.
    loop {
        let images = store.images()?;
        let parents = intermediate_ids(store, &images);
        let mut removed = false;
        for rec in &images {
            if used.contains_key(&rec.id)
                || !rec.names.is_empty()
                || parents.contains(&rec.id)
                || !matches(rec)
            {
                continue;
            }
            store.remove_image(&rec.id)?;
            out(&rec.id)?;
            removed = true;
        }
        if !removed {
            break;
        }
    }
    store.gc()
}

// ---- tag and untag ----

/// Add `names` (as `normalize_local_name` gives them) to `image`.
pub fn tag_image(store: &Store, image: &str, names: &[String]) -> Result<()> {
    let rec = find_image(store, image)?;
    let mut all = rec.names.clone();
    for n in names {
        if !all.contains(n) {
            all.push(n.clone());
        }
    }
    store.set_image_names(&rec.id, all)?;
    for n in names {
        crate::events::image(store.runroot(), "tag", &rec.id, n);
    }
    Ok(())
}

/// Remove `names` from `image`; no names: all of them.
pub fn untag_image(store: &Store, image: &str, names: &[String]) -> Result<()> {
    let rec = find_image(store, image)?;
    if names.is_empty() {
        store.set_image_names(&rec.id, Vec::new())?;
        for n in &rec.names {
            crate::events::image(store.runroot(), "untag", &rec.id, n);
        }
        return Ok(());
    }
    let mut keep = rec.names.clone();
    for n in names {
        let norm = normalize_local_name(n)?;
        let hit = if keep.contains(&norm) {
            Some(norm)
        } else if is_short_name(n) {
            // "alpine" for docker.io/library/alpine:latest, if only one name fits.
            let fits: Vec<&String> = keep
                .iter()
                .filter(|k| crate::storage::name_matches(n, k, &rec.digest))
                .collect();
            if fits.len() == 1 {
                Some(fits[0].clone())
            } else {
                None
            }
        } else {
            None
        };
        match hit {
            Some(h) => keep.retain(|k| *k != h),
            None => bail!("{n}: tag not known"),
        }
    }
    let gone: Vec<&String> = rec.names.iter().filter(|n| !keep.contains(n)).collect();
    store.set_image_names(&rec.id, keep.clone())?;
    for n in gone {
        crate::events::image(store.runroot(), "untag", &rec.id, n);
    }
    Ok(())
}

// ---- image inspect ----

/// What `image inspect` prints for one image: podman's fields, in its order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectData {
    id: String,
    digest: Digest,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: String,
    comment: String,
    created: String,
    config: Value,
    version: String,
    author: String,
    architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
    os: String,
    size: u64,
    virtual_size: u64,
    graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    root_fs: RootFs,
    labels: Value,
    annotations: Map<String, Value>,
    manifest_type: String,
    user: String,
    history: Value,
    names_history: Vec<String>,
}

#[derive(serde::Serialize)]
pub(super) struct GraphDriver {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Data")]
    data: Map<String, Value>,
}

#[derive(serde::Serialize)]
pub(super) struct RootFs {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Layers")]
    layers: Vec<Digest>,
}

/// The docker-like data podman's `image inspect` prints for one image.
pub fn inspect_data(store: &Store, rec: &ImageRecord) -> InspectData {
    let cfg = raw_config(store, rec);
    let text = |k: &str| cfg.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut dirs: Vec<String> = rec
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_dir(&l.chain_id).display().to_string())
        .collect();
    let mut data = Map::new();
    if !dirs.is_empty() {
        let upper = dirs.remove(0);
        if !dirs.is_empty() {
            data.insert("LowerDir".into(), json!(dirs.join(":")));
        }
        data.insert("UpperDir".into(), json!(upper));
    }
    InspectData {
        id: rec.id.clone(),
        digest: rec.digest.clone(),
        repo_tags: rec.names.clone(),
        repo_digests: repo_digests(rec),
        parent: String::new(),
        comment: text("comment"),
        created: created_rfc3339(rec),
        config: cfg.get("config").cloned().unwrap_or_else(|| json!({})),
        version: text("docker_version"),
        author: text("author"),
        architecture: rec.architecture.clone(),
        variant: rec.variant.clone(),
        os: rec.os.clone(),
        size: rec.size,
        virtual_size: rec.size,
        graph_driver: GraphDriver {
            name: "overlay".into(),
            data,
        },
        root_fs: RootFs {
            kind: "layers".into(),
            layers: rec.layers.iter().map(|l| l.diff_id.clone()).collect(),
        },
        labels: labels_of(&cfg),
        // The manifest's, as podman shows them.
        annotations: store
            .read_blob(&rec.digest)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|m| m.get("annotations").and_then(Value::as_object).cloned())
            .unwrap_or_default(),
        manifest_type: rec.manifest_media_type.clone(),
        user: cfg
            .pointer("/config/User")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        history: cfg.get("history").cloned().unwrap_or(Value::Null),
        names_history: rec.names.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_and_normalise() {
        assert_eq!(
            split_name("localhost:5000/a/b:v1"),
            ("localhost:5000/a/b".into(), "v1".into())
        );
        assert_eq!(
            split_name("localhost:5000/a"),
            ("localhost:5000/a".into(), "<none>".into())
        );
        assert_eq!(
            normalize_local_name("myimg").unwrap(),
            "localhost/myimg:latest"
        );
        assert_eq!(
            normalize_local_name("myimg:v2").unwrap(),
            "localhost/myimg:v2"
        );
        assert_eq!(
            normalize_local_name("quay.io/x/y").unwrap(),
            "quay.io/x/y:latest"
        );
        assert_eq!(
            normalize_local_name("localhost:5000/y:1").unwrap(),
            "localhost:5000/y:1"
        );
        assert!(normalize_local_name("Bad").is_err());
        assert!(normalize_local_name(&format!("x@sha256:{}", "a".repeat(64))).is_err());
    }

    #[test]
    fn reference_filters() {
        let rec = ImageRecord {
            id: "ab".repeat(32),
            names: vec![],
            digest: crate::storage::sha256_digest(b"manifest"),
            repo_digests: vec![],
            manifest_media_type: String::new(),
            config_digest: crate::storage::sha256_digest(b"config"),
            layers: vec![],
            size: 0,
            created: None,
            pulled: String::new(),
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        };
        let n = "localhost:5000/alpine:latest";
        assert!(matches_reference(&rec, n, "alpine"));
        assert!(matches_reference(&rec, n, "alpine:latest"));
        assert!(!matches_reference(&rec, n, "alpine:3"));
        assert!(matches_reference(&rec, n, "localhost:5000/*"));
        assert!(matches_reference(&rec, n, "alp*"));
        assert!(!matches_reference(&rec, n, "busybox"));
        assert!(!matches_reference(&rec, n, "pine"));
    }
}
