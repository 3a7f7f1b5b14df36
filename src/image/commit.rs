//! `rpod commit` and `rpod diff`: a container's upper dir as a new image
//! layer, and its changes as podman lists them.
//!
//! The layer tar is written once, hashed on the way, into ROOT/tmp, then
//! adopted as a blob, unpacked through the store's own layer path (atomic,
//! verified against its diff id) and only then is the image record written:
//! a `kill -9` at any point leaves nothing but a temp file the next command
//! removes, or an unreferenced blob and layer that gc collects.

use super::archive_tar::HashWriter;
use crate::container::cp::open_container;
use crate::container::record::{self, Paths};
use crate::image::manifest::{DOCKER_LAYER, OCI_LAYER};
use crate::storage::diff::{
    changes, changes_between, changes_of_copy, reopen_dir, Change, TarMode, TreeTar,
};
use crate::storage::{ImageRecord, LayerRecord, Store};
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// What podman leaves out of `diff`: the mount points the runtime makes.
const INIT_INODES: &[&str] = &[
    "/dev",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/proc",
    "/run",
    "/run/notify",
    "/run/.containerenv",
    "/run/secrets",
    "/sys",
    "/etc/mtab",
];

/// The changes of a container (its upper dir over its image) or of an
/// image (its top layer over the ones below); `paths` None: images only.
/// Call `userns::enter` first.
pub fn diff(store: &Store, paths: Option<&Paths>, name: &str) -> Result<Vec<Change>> {
    if let Some((paths, id)) = paths.and_then(|p| Some((p, record::resolve(p, name).ok()?))) {
        let rec = record::load(paths, &id)?;
        let ctr_dir = paths.ctr_dir(&id);
        if let Some(dir) = &rec.extras.rootfs {
            bail!(
                "container {name} runs from --rootfs {}: it has no image to compare with",
                dir.display()
            );
        }
        let image = store.image_by_id(&rec.image_id)?.with_context(|| {
            format!("the image of container {name} is no longer in local storage")
        })?;
        let lowers = lower_dirs(store, &image.layers);
        let mut skip: HashSet<String> = INIT_INODES.iter().map(|s| s.to_string()).collect();
        skip.extend(rec.mounts.iter().map(|m| m.destination.clone()));
        let res = match vfs_copy(&ctr_dir) {
            Some(rootfs) => changes_of_copy(&rootfs, &lowers, &skip),
            None if !ctr_dir.join("upper").exists() => Ok(Vec::new()),
            None => changes(&ctr_dir.join("upper"), &lowers, &skip),
        };
        return res.with_context(|| format!("container {name}"));
    }
    let Some(image) = store.find_image(name)? else {
        bail!("{name} not found: no such container or image");
    };
    let Some((top, rest)) = image.layers.split_last() else {
        return Ok(Vec::new());
    };
    changes(
        &store.layer_dir(&top.chain_id),
        &lower_dirs(store, rest),
        &HashSet::new(),
    )
    .with_context(|| format!("image {name}"))
}

/// The changes that make `from` (a container or image) into `to`; podman's
/// `diff A B` is `to` A, `from` B. `paths` None: images only. Call
/// `userns::enter` first.
pub fn diff_between(
    store: &Store,
    paths: Option<&Paths>,
    from: &str,
    to: &str,
) -> Result<Vec<Change>> {
    let mut skip: HashSet<String> = INIT_INODES.iter().map(|s| s.to_string()).collect();
    let a = view_of(store, paths, from, &mut skip)?;
    let b = view_of(store, paths, to, &mut skip)?;
    changes_between(&a, &b, &skip).with_context(|| format!("comparing {from} with {to}"))
}

/// The layer dirs (top first) whose union is the file system of container
/// or image `name`; a container's mount points go into `skip`.
fn view_of(
    store: &Store,
    paths: Option<&Paths>,
    name: &str,
    skip: &mut HashSet<String>,
) -> Result<Vec<PathBuf>> {
    if let Some((paths, id)) = paths.and_then(|p| Some((p, record::resolve(p, name).ok()?))) {
        let rec = record::load(paths, &id)?;
        let ctr_dir = paths.ctr_dir(&id);
        skip.extend(rec.mounts.iter().map(|m| m.destination.clone()));
        if let Some(rootfs) = vfs_copy(&ctr_dir) {
            return Ok(vec![rootfs]);
        }
        let image = store.image_by_id(&rec.image_id)?.with_context(|| {
            format!("the image of container {name} is no longer in local storage")
        })?;
        let mut dirs = vec![ctr_dir.join("upper")];
        dirs.extend(lower_dirs(store, &image.layers));
        return Ok(dirs);
    }
    let Some(image) = store.find_image(name)? else {
        bail!("{name} not found: no such container or image");
    };
    Ok(lower_dirs(store, &image.layers))
}

fn lower_dirs(store: &Store, layers: &[LayerRecord]) -> Vec<PathBuf> {
    layers
        .iter()
        .rev()
        .map(|l| store.layer_dir(&l.chain_id))
        .collect()
}

/// The full copy a container of the `vfs` driver runs on (it has no upper
/// dir: its changes are found by comparing with the image).
fn vfs_copy(ctr_dir: &Path) -> Option<PathBuf> {
    let p = ctr_dir.join("rootfs");
    p.is_dir().then_some(p)
}

#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub author: Option<String>,
    /// Dockerfile instructions (`-c`).
    pub changes: Vec<String>,
    pub message: Option<String>,
    /// "oci" or "docker".
    pub format: String,
    pub squash: bool,
    pub include_volumes: bool,
    /// The image name, normalized ("localhost/NAME:latest"); None: dangling.
    pub name: Option<String>,
}

/// Hold while committing container `id` (its full id), from before it is
/// paused until it is unpaused: two commits of one container go one after
/// the other, so one's unpause never lands in the middle of the other.
/// The lock file lives in the container's directory, so `rm` takes it
/// away with the container; a container removed meanwhile is "no such
/// container".
pub fn lock_for_commit(paths: &Paths, id: &str) -> Result<crate::storage::Lock> {
    let l =
        crate::storage::Lock::exclusive(&paths.ctr_dir(id).join("commit.lock")).map_err(|e| {
            if record::exists(paths, id) {
                e
            } else {
                record::no_such(id)
            }
        })?;
    if !record::exists(paths, id) {
        return Err(record::no_such(id));
    }
    // Where earlier builds kept it, one file per container ever committed.
    let _ = std::fs::remove_file(paths.root.join("locks").join(format!("commit-{id}.lock")));
    Ok(l)
}

/// Commit container `name` as a new image; its id. Call
/// `container::cp::enter_namespaces` with it first (a squash mounts the rootfs).
pub fn commit(store: &Store, paths: &Paths, name: &str, o: &CommitOptions) -> Result<String> {
    let what = format!("committing container {name}");
    let res = commit_inner(store, paths, name, o);
    if res.is_err() {
        // A blob or layer stored before the failure (a full disk while
        // unpacking) is referenced by nothing.
        store.gc_after_failure("commit");
    }
    let image = res.context(what)?;
    if let Ok(rec) = record::resolve(paths, name).and_then(|id| record::load(paths, &id)) {
        crate::events::container(&paths.runroot, "commit", &rec);
    }
    Ok(image)
}

fn commit_inner(store: &Store, paths: &Paths, name: &str, o: &CommitOptions) -> Result<String> {
    let docker = match o.format.as_str() {
        "oci" | "" => false,
        "docker" => true,
        f => bail!("unrecognized image format {f:?}: use oci or docker"),
    };
    if o.message.is_some() && !docker {
        bail!("messages are only compatible with the docker image format (-f docker)");
    }
    let changes = parse_changes(&o.changes)?;
    let id = record::resolve(paths, name)?;
    let rec = record::load(paths, &id)?;
    if let Some(dir) = &rec.extras.rootfs {
        bail!(
            "committing container {name}: it runs from --rootfs {}, not from an image",
            dir.display()
        );
    }
    let image = store
        .image_by_id(&rec.image_id)?
        .with_context(|| format!("the image of container {name} is no longer in local storage"))?;
    // No gc of our blob and layer before the record refers to them.
    let _hold = store.hold_layers()?;
    let t0 = std::time::Instant::now();

    // The layer tar, hashed as it is written.
    let tmp = store.tmp_entry("commit", false)?;
    let file = tmp.file.try_clone()?;
    let hw = HashWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let hw = if o.squash {
        let c = open_container(store, paths, name, false)?;
        let dir = c.root_dir()?;
        let mut t = TreeTar::new(hw, TarMode::Plain);
        t.skip(c.other_mounts.iter().cloned());
        t.add_contents(dir.as_fd(), Path::new(""))?;
        t.finish()?
    } else if let Some(rootfs) = vfs_copy(&paths.ctr_dir(&id)) {
        let found = changes_of_copy(&rootfs, &lower_dirs(store, &image.layers), &HashSet::new())?;
        let root = crate::sys::inroot::open_root(&rootfs)
            .with_context(|| format!("opening {}", rootfs.display()))?;
        let dir = reopen_dir(root.as_fd())?;
        let mut t = TreeTar::new(hw, TarMode::Plain);
        t.add_changes(dir.as_fd(), &found)?;
        t.finish()?
    } else if !paths.ctr_dir(&id).join("upper").exists() {
        // Created, never started: nothing changed yet (an empty layer, as
        // podman commits it).
        TreeTar::new(hw, TarMode::Layer).finish()?
    } else {
        let upper = paths.ctr_dir(&id).join("upper");
        let root = crate::sys::inroot::open_root(&upper)
            .with_context(|| format!("opening {}", upper.display()))?;
        let dir = reopen_dir(root.as_fd())?;
        let mut t = TreeTar::new(hw, TarMode::Layer);
        t.add_contents(dir.as_fd(), Path::new(""))?;
        t.finish()?
    };
    let mut hw = hw;
    hw.flush().context("writing the layer")?;
    let size = hw.n;
    let diff_id = hw.digest();
    drop(hw.inner);
    let layer_mt = if docker { DOCKER_LAYER } else { OCI_LAYER };
    debug!(
        "commit: layer tar of {size} bytes written in {:?}",
        t0.elapsed()
    );
    if !store.has_blob(&diff_id) {
        store.adopt_blob(tmp, &diff_id)?;
    }
    debug!("commit: blob {diff_id} stored at {:?}", t0.elapsed());
    let parent_chain = if o.squash {
        None
    } else {
        image.layers.last().map(|l| l.chain_id.clone())
    };
    let blob = store.blob_path(&diff_id);
    let chain = store.unpack_layer_from(
        || std::fs::File::open(&blob).with_context(|| format!("opening {}", blob.display())),
        &diff_id,
        layer_mt,
        &diff_id,
        parent_chain.as_ref(),
    )?;

    debug!("commit: layer {chain} unpacked at {:?}", t0.elapsed());
    // The config: the image's, with the container's settings and the changes.
    let mut cfg: Value = serde_json::from_slice(&store.read_blob(&image.config_digest)?)
        .context("parsing the image's config")?;
    let now = crate::time::now_rfc3339();
    let obj = cfg
        .as_object_mut()
        .context("the image's config is not an object")?;
    obj.remove("container");
    obj.remove("container_config");
    obj.insert("created".into(), json!(now));
    if let Some(a) = &o.author {
        obj.insert("author".into(), json!(a));
    }
    match &o.message {
        Some(m) => obj.insert("comment".into(), json!(m)),
        None => obj.remove("comment"),
    };
    let c = obj.entry("config").or_insert_with(|| json!({}));
    if !c.is_object() {
        // `"config": null` is valid: an image with no settings.
        *c = json!({});
    }
    let c = c.as_object_mut().expect("made an object above");
    container_settings(c, &rec, o.include_volumes);
    for ch in &changes {
        ch.apply(c);
    }
    let mut layers: Vec<LayerRecord> = if o.squash {
        Vec::new()
    } else {
        image.layers.clone()
    };
    let rootfs = obj
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers"}));
    if !rootfs.is_object() {
        *rootfs = json!({"type": "layers"});
    }
    let mut diff_ids: Vec<Value> = if o.squash {
        Vec::new()
    } else {
        rootfs["diff_ids"].as_array().cloned().unwrap_or_default()
    };
    diff_ids.push(json!(diff_id));
    rootfs["diff_ids"] = Value::Array(diff_ids);
    let mut history = obj
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if o.squash {
        history.clear();
    }
    let mut h = Map::new();
    h.insert("created".into(), json!(now));
    // What podman (buildah) records for a commit.
    h.insert("created_by".into(), json!("/bin/sh"));
    if let Some(a) = &o.author {
        h.insert("author".into(), json!(a));
    }
    h.insert(
        "comment".into(),
        json!(format!("FROM {}", image.names.first().unwrap_or(&image.id))),
    );
    history.push(Value::Object(h));
    obj.insert("history".into(), Value::Array(history));
    layers.push(LayerRecord {
        digest: diff_id.clone(),
        media_type: layer_mt.to_string(),
        size,
        diff_id: diff_id.clone(),
        chain_id: chain,
    });
    let rec = write_image(
        store,
        &cfg,
        layers,
        docker,
        o.name.iter().cloned().collect(),
        &[],
    )?;
    let id = rec.id;
    debug!("commit: image {id} recorded at {:?}", t0.elapsed());
    Ok(id)
}

/// Store the image of `cfg` (a full image config: its rootfs, history
/// and `created` already set) over `layers`: the config and manifest
/// blobs (in the OCI or Docker format, with `annotations` on the
/// manifest), then the record with `names` (an image of the same id keeps
/// its names: `put_image` merges them). Commit's and build's one way to
/// write an image.
pub(crate) fn write_image(
    store: &Store,
    cfg: &Value,
    layers: Vec<LayerRecord>,
    docker: bool,
    names: Vec<String>,
    annotations: &[(String, String)],
) -> Result<ImageRecord> {
    use crate::image::manifest::{DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST};
    let config_bytes = serde_json::to_vec(cfg)?;
    let config_digest = crate::storage::sha256_digest(&config_bytes);
    store.put_blob(&config_digest, &config_bytes)?;
    let (manifest_mt, config_mt) = if docker {
        (DOCKER_MANIFEST, DOCKER_CONFIG)
    } else {
        (OCI_MANIFEST, OCI_CONFIG)
    };
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_mt,
        "config": {"mediaType": config_mt, "digest": config_digest, "size": config_bytes.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": layer_media_type(&l.media_type, docker),
            "digest": l.digest,
            "size": l.size,
        })).collect::<Vec<_>>(),
    });
    if !annotations.is_empty() {
        let a: Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        manifest["annotations"] = Value::Object(a);
    }
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let manifest_digest = crate::storage::sha256_digest(&manifest_bytes);
    store.put_blob(&manifest_digest, &manifest_bytes)?;
    let id = crate::storage::digest_hex(&config_digest)?.to_string();
    let created = cfg["created"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(crate::time::now_rfc3339);
    let rec = ImageRecord {
        id,
        names,
        digest: manifest_digest,
        repo_digests: Vec::new(),
        manifest_media_type: manifest_mt.to_string(),
        config_digest,
        size: layers
            .iter()
            .map(|l| {
                store
                    .layer_info(&l.chain_id)
                    .map(|i| i.uncompressed_size)
                    .unwrap_or(l.size)
            })
            .sum(),
        layers,
        created: Some(created),
        pulled: crate::time::now_rfc3339(),
        os: cfg["os"].as_str().unwrap_or("linux").to_string(),
        architecture: cfg["architecture"].as_str().unwrap_or_default().to_string(),
        variant: cfg["variant"].as_str().map(String::from),
    };
    store.put_image(&rec).context("recording the image")?;
    Ok(rec)
}

/// A layer's media type in the manifest's format.
fn layer_media_type(mt: &str, docker: bool) -> String {
    use crate::image::manifest::{DOCKER_LAYER, DOCKER_LAYER_GZIP, OCI_LAYER, OCI_LAYER_GZIP};
    let gz = mt.ends_with("gzip");
    let zst = mt.ends_with("zstd");
    match (docker, gz, zst) {
        (true, true, _) => DOCKER_LAYER_GZIP.into(),
        (true, false, false) => DOCKER_LAYER.into(),
        (false, true, _) => OCI_LAYER_GZIP.into(),
        (false, false, false) => OCI_LAYER.into(),
        (_, _, true) => mt.into(),
    }
}

/// The container's own settings over the image's, as podman commits them.
fn container_settings(
    c: &mut Map<String, Value>,
    rec: &crate::container::record::ContainerRecord,
    include_volumes: bool,
) {
    if !rec.env.is_empty() {
        c.insert("Env".into(), json!(rec.env));
    }
    if !rec.cmd.is_empty() {
        c.insert("Cmd".into(), json!(rec.cmd));
    }
    if !rec.entrypoint.is_empty() {
        c.insert("Entrypoint".into(), json!(rec.entrypoint));
    }
    if !rec.workdir.is_empty() {
        c.insert("WorkingDir".into(), json!(rec.workdir));
    }
    if !rec.user.is_empty() {
        c.insert("User".into(), json!(rec.user));
    }
    if !rec.labels.is_empty() {
        let labels = c.entry("Labels").or_insert_with(|| json!({}));
        if !labels.is_object() {
            *labels = json!({});
        }
        for (k, v) in &rec.labels {
            labels[k] = json!(v);
        }
    }
    if include_volumes {
        let vols = c.entry("Volumes").or_insert_with(|| json!({}));
        if !vols.is_object() {
            *vols = json!({});
        }
        for m in rec.mounts.iter().filter(|m| m.kind == "volume") {
            vols[&m.destination] = json!({});
        }
    }
}

/// One `-c` instruction.
#[derive(Debug, Clone, PartialEq)]
pub enum Instruction {
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
    Env(Vec<(String, String)>),
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
    StopSignal(String),
}

/// A JSON array (exec form) or a shell command (`/bin/sh -c`).
fn exec_or_shell(rest: &str) -> Result<Vec<String>> {
    let t = rest.trim();
    if t.starts_with('[') {
        return serde_json::from_str(t).with_context(|| format!("invalid JSON array {t:?}"));
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), t.into()])
}

/// Words, honouring double and single quotes and backslashes.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut any = false;
    let mut q: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (q, ch) {
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '"' | '\'') => {
                q = Some(ch);
                any = true;
            }
            (Some(open), c) if c == open => q = None,
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    any = true;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// KEY=VALUE pairs, or the old `KEY VALUE` form.
fn pairs(rest: &str, what: &str) -> Result<Vec<(String, String)>> {
    let w = words(rest);
    if w.iter().all(|x| x.contains('=')) && !w.is_empty() {
        return Ok(w
            .into_iter()
            .map(|x| {
                let (k, v) = x.split_once('=').expect("checked");
                (k.to_string(), v.to_string())
            })
            .collect());
    }
    let t = rest.trim();
    match t.split_once(char::is_whitespace) {
        Some((k, v)) if !k.is_empty() => Ok(vec![(k.to_string(), v.trim().to_string())]),
        _ => bail!("{what} needs KEY=VALUE: {rest:?}"),
    }
}

/// Parse the `-c` instructions; ONBUILD is ignored with a warning, as
/// podman does for OCI images.
pub fn parse_changes(list: &[String]) -> Result<Vec<Instruction>> {
    let mut out = Vec::new();
    for raw in list {
        let t = raw.trim();
        let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let rest = rest.trim();
        let bad = || {
            anyhow::anyhow!(
                "invalid change {raw:?}: {} needs an argument",
                word.to_uppercase()
            )
        };
        let ch = match word.to_ascii_uppercase().as_str() {
            "CMD" => Instruction::Cmd(exec_or_shell(rest)?),
            "ENTRYPOINT" => Instruction::Entrypoint(exec_or_shell(rest)?),
            "ENV" => Instruction::Env(pairs(rest, "ENV")?),
            "LABEL" => Instruction::Label(pairs(rest, "LABEL")?),
            "EXPOSE" if !rest.is_empty() => Instruction::Expose(
                words(rest)
                    .into_iter()
                    .map(|p| if p.contains('/') { p } else { format!("{p}/tcp") })
                    .collect(),
            ),
            "USER" if !rest.is_empty() => Instruction::User(rest.to_string()),
            "VOLUME" if !rest.is_empty() => Instruction::Volume(if rest.starts_with('[') {
                serde_json::from_str(rest).with_context(|| format!("invalid change {raw:?}"))?
            } else {
                words(rest)
            }),
            "WORKDIR" if !rest.is_empty() => Instruction::Workdir(rest.to_string()),
            "STOPSIGNAL" if !rest.is_empty() => Instruction::StopSignal(rest.to_string()),
            "ONBUILD" => {
                warn!("ONBUILD is not supported for OCI images: ignoring {raw:?}");
                continue;
            }
            "EXPOSE" | "USER" | "VOLUME" | "WORKDIR" | "STOPSIGNAL" => return Err(bad()),
            _ => bail!(
                "invalid change {raw:?}: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR"
            ),
        };
        out.push(ch);
    }
    Ok(out)
}

impl Instruction {
    fn apply(&self, c: &mut Map<String, Value>) {
        let obj = |c: &mut Map<String, Value>, k: &str| -> Map<String, Value> {
            c.get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        match self {
            Instruction::Cmd(v) => {
                c.insert("Cmd".into(), json!(v));
            }
            Instruction::Entrypoint(v) => {
                c.insert("Entrypoint".into(), json!(v));
            }
            Instruction::Env(kvs) => {
                let mut env: Vec<String> = c
                    .get("Env")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                for (k, v) in kvs {
                    crate::container::opts::env_set(&mut env, format!("{k}={v}"));
                }
                c.insert("Env".into(), json!(env));
            }
            Instruction::Label(kvs) => {
                let mut m = obj(c, "Labels");
                for (k, v) in kvs {
                    m.insert(k.clone(), json!(v));
                }
                c.insert("Labels".into(), Value::Object(m));
            }
            Instruction::Expose(ports) => {
                let mut m = obj(c, "ExposedPorts");
                for p in ports {
                    m.insert(p.clone(), json!({}));
                }
                c.insert("ExposedPorts".into(), Value::Object(m));
            }
            Instruction::Volume(vs) => {
                let mut m = obj(c, "Volumes");
                for v in vs {
                    m.insert(v.clone(), json!({}));
                }
                c.insert("Volumes".into(), Value::Object(m));
            }
            Instruction::User(u) => {
                c.insert("User".into(), json!(u));
            }
            Instruction::Workdir(w) => {
                c.insert("WorkingDir".into(), json!(w));
            }
            Instruction::StopSignal(s) => {
                c.insert("StopSignal".into(), json!(s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_parse_like_dockerfile_instructions() {
        let c = parse_changes(&[
            "CMD [\"/bin/echo\", \"hi\"]".into(),
            "ENTRYPOINT sleep 1".into(),
            "ENV A=1 B=\"two words\"".into(),
            "ENV C three".into(),
            "EXPOSE 80 53/udp".into(),
            "LABEL a=b".into(),
            "USER 7:7".into(),
            "VOLUME /data".into(),
            "WORKDIR /srv".into(),
            "STOPSIGNAL SIGINT".into(),
            "ONBUILD RUN true".into(),
        ])
        .unwrap();
        assert_eq!(c.len(), 10);
        assert_eq!(
            c[0],
            Instruction::Cmd(vec!["/bin/echo".into(), "hi".into()])
        );
        assert_eq!(
            c[1],
            Instruction::Entrypoint(vec!["/bin/sh".into(), "-c".into(), "sleep 1".into()])
        );
        assert_eq!(
            c[2],
            Instruction::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into())
            ])
        );
        assert_eq!(c[3], Instruction::Env(vec![("C".into(), "three".into())]));
        assert_eq!(
            c[4],
            Instruction::Expose(vec!["80/tcp".into(), "53/udp".into()])
        );
        let mut m = Map::new();
        for ch in &c {
            ch.apply(&mut m);
        }
        assert_eq!(m["WorkingDir"], "/srv");
        assert_eq!(m["Env"], json!(["A=1", "B=two words", "C=three"]));
        assert!(parse_changes(&["FROM x".into()]).is_err());
        assert!(parse_changes(&["USER".into()]).is_err());
    }
}
