//! The commands on local images: images, rmi, tag, untag, image inspect and
//! image prune, with podman's output formats.

use crate::cli::format::{self, Template};
use crate::cli::image::*;
use crate::cli::GlobalOpts;
use crate::error::coded;
use crate::image::reference::{is_short_name, Reference};
use crate::storage::{short_id, ImageRecord, Store};
use crate::time::{
    format_go, format_rfc3339, human_duration_secs as human_duration, now_secs,
    parse_rfc3339_secs as parse_rfc3339,
};
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::io::Write;

/// podman's rmi exit codes.
const EXIT_NOT_FOUND: i32 = 1;
const EXIT_IN_USE: i32 = 2;

// ---- shared helpers ----

/// docker/go-units HumanSizeWithPrecision(size, 3) with podman's space
/// before the unit: "7.63 MB", "251 kB", "12 B".
pub fn human_size(size: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{} {}", go_g3(v), UNITS[i])
}

/// Go's "%.3g" for 0 <= v < 1000.
fn go_g3(v: f64) -> String {
    let int_digits = if v < 10.0 {
        1
    } else if v < 100.0 {
        2
    } else {
        3
    };
    let s = format!("{:.*}", 3 - int_digits, v);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "1000" {
        "1e+03".into()
    } else {
        s
    }
}

/// Seconds since the epoch when the image was created (its config's
/// "created"), else when it was pulled.
fn created_secs(rec: &ImageRecord) -> i64 {
    rec.created
        .as_deref()
        .and_then(parse_rfc3339)
        .or_else(|| parse_rfc3339(&rec.pulled))
        .map(|(s, _)| s)
        .unwrap_or(0)
}

fn created_rfc3339(rec: &ImageRecord) -> String {
    rec.created
        .as_deref()
        .and_then(parse_rfc3339)
        .or_else(|| parse_rfc3339(&rec.pulled))
        .map(|(s, n)| format_rfc3339(s, n))
        .unwrap_or_else(|| format_rfc3339(0, 0))
}

fn ago(secs: i64) -> String {
    format!("{} ago", human_duration(now_secs() - secs))
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

fn repo_digests(rec: &ImageRecord) -> Vec<String> {
    if !rec.repo_digests.is_empty() {
        return rec.repo_digests.clone();
    }
    // Records written before repo_digests existed: the one digest, per name.
    let mut out: Vec<String> = Vec::new();
    if rec.digest.is_empty() {
        return out;
    }
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

fn print_json_pretty<T: serde::Serialize>(v: &T, indent: &[u8]) -> Result<()> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser)?;
    out.push(b'\n');
    std::io::stdout().lock().write_all(&out)?;
    Ok(())
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

fn find(store: &Store, name: &str) -> Result<ImageRecord> {
    match store.find_image(name)? {
        Some(r) => Ok(r),
        None => Err(coded(EXIT_NOT_FOUND, format!("{name}: image not known"))),
    }
}

// ---- images ----

struct Row<'a> {
    rec: &'a ImageRecord,
    repo: String,
    tag: String,
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

enum Filter {
    Dangling(bool),
    Reference(String),
    Label(String, Option<String>),
}

fn parse_filters(a: &ImagesArgs) -> Result<Vec<Filter>> {
    let mut out = Vec::new();
    if let Some(n) = &a.filter_name {
        out.push(Filter::Reference(n.clone()));
    }
    for f in &a.filter {
        let (k, v) = f
            .split_once('=')
            .with_context(|| format!("invalid filter {f:?}: expected KEY=VALUE"))?;
        out.push(match k {
            "dangling" => Filter::Dangling(match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => bail!("invalid filter {f:?}: dangling takes true or false"),
            }),
            "reference" => Filter::Reference(v.to_string()),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => Filter::Label(lk.into(), Some(lv.into())),
                None => Filter::Label(v.into(), None),
            },
            _ => bail!("invalid filter {f:?}: supported filters are dangling, reference and label"),
        });
    }
    Ok(out)
}

fn keep_image(store: &Store, rec: &ImageRecord, filters: &[Filter]) -> bool {
    filters.iter().all(|f| match f {
        Filter::Dangling(d) => rec.names.is_empty() == *d,
        Filter::Reference(p) => rec.names.iter().any(|n| matches_reference(rec, n, p)),
        Filter::Label(k, v) => {
            let labels = labels_of(&raw_config(store, rec));
            match (labels.get(k), v) {
                (Some(Value::String(have)), Some(want)) => have == want,
                (Some(_), None) => true,
                _ => false,
            }
        }
    })
}

/// One image in `images --format json`, in podman's field order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    id: String,
    parent_id: String,
    repo_tags: Option<Vec<String>>,
    repo_digests: Vec<String>,
    size: u64,
    shared_size: u64,
    virtual_size: u64,
    labels: Value,
    containers: usize,
    names: Option<Vec<String>>,
    digest: String,
    history: Vec<String>,
    created: i64,
    created_at: String,
}

fn summary_json(store: &Store, rec: &ImageRecord, containers: usize) -> Summary {
    let cfg = raw_config(store, rec);
    let names = (!rec.names.is_empty()).then(|| rec.names.clone());
    Summary {
        id: rec.id.clone(),
        parent_id: String::new(),
        repo_tags: names.clone(),
        repo_digests: repo_digests(rec),
        size: rec.size,
        shared_size: 0,
        virtual_size: rec.size,
        labels: labels_of(&cfg),
        containers,
        names,
        digest: rec.digest.clone(),
        history: rec.names.clone(),
        created: created_secs(rec),
        created_at: created_rfc3339(rec),
    }
}

fn row_value(
    store: &Store,
    row: &Row,
    no_trunc: bool,
    containers: usize,
    want_labels: bool,
) -> Value {
    let rec = row.rec;
    let secs = created_secs(rec);
    let id = if no_trunc {
        format!("sha256:{}", rec.id)
    } else {
        short_id(&rec.id).to_string()
    };
    json!({
        "ID": id,
        "Id": rec.id,
        "Repository": row.repo,
        "Tag": row.tag,
        "Digest": rec.digest,
        "Digests": if rec.digest.is_empty() { json!([]) } else { json!([rec.digest]) },
        "Created": ago(secs),
        "CreatedSince": ago(secs),
        "CreatedAt": format_go(secs),
        "CreatedTime": created_rfc3339(rec),
        "Size": human_size(rec.size),
        "VirtualSize": human_size(rec.size),
        "SharedSize": human_size(0),
        "Names": rec.names,
        "RepoDigests": repo_digests(rec),
        "History": rec.names,
        "Containers": containers,
        "ReadOnly": false,
        "Dangling": rec.names.is_empty(),
        "Labels": if want_labels { labels_of(&raw_config(store, rec)) } else { Value::Null },
        "Os": rec.os,
        "Arch": rec.architecture,
    })
}

fn image_header(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" | "Id" => "IMAGE ID",
        "CreatedSince" | "Created" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "Repository" => "REPOSITORY",
        "Size" => "SIZE",
        "ReadOnly" => "R/O",
        _ => return None,
    })
}

pub fn images_cmd(g: &GlobalOpts, a: &ImagesArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    let filters = parse_filters(a)?;
    let mut recs: Vec<ImageRecord> = store
        .images()?
        .into_iter()
        .filter(|r| keep_image(&store, r, &filters))
        .collect();
    // podman's default sort: newest first.
    recs.sort_by(|x, y| created_secs(y).cmp(&created_secs(x)).then(x.id.cmp(&y.id)));
    let used = store.containers_by_image();
    let count = |r: &ImageRecord| used.get(&r.id).map(Vec::len).unwrap_or(0);
    let mut out = std::io::stdout().lock();

    if a.quiet {
        for r in &recs {
            if a.no_trunc {
                writeln!(out, "sha256:{}", r.id)?;
            } else {
                writeln!(out, "{}", short_id(&r.id))?;
            }
        }
        return Ok(());
    }
    if let Some(f) = a.format.as_deref().filter(|f| format::is_json(f)) {
        let _ = f;
        drop(out);
        let arr: Vec<Summary> = recs
            .iter()
            .map(|r| summary_json(&store, r, count(r)))
            .collect();
        return print_json_pretty(&arr, b"    ");
    }

    let mut rows: Vec<Row> = Vec::new();
    for r in &recs {
        if r.names.is_empty() {
            rows.push(Row {
                rec: r,
                repo: "<none>".into(),
                tag: "<none>".into(),
            });
        }
        let mut seen = std::collections::HashSet::new();
        for n in &r.names {
            if let Some(Filter::Reference(p)) =
                filters.iter().find(|f| matches!(f, Filter::Reference(_)))
            {
                if !matches_reference(r, n, p) {
                    continue;
                }
            }
            let (repo, tag) = split_name(n);
            if seen.insert((repo.clone(), tag.clone())) {
                rows.push(Row { rec: r, repo, tag });
            }
        }
    }

    let default_fmt = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let fmt = match a.format.as_deref() {
        f if format::is_default_table(f) => default_fmt.to_string(),
        Some(f) => f.to_string(),
        None => unreachable!(),
    };
    let t = Template::parse(&fmt)?;
    let want_labels = fmt.contains(".Labels");
    let mut lines = Vec::new();
    if t.table && !a.noheading {
        lines.push(t.header(&|f| {
            if f == "Digest" {
                Some("DIGEST")
            } else {
                image_header(f)
            }
        }));
    }
    for row in &rows {
        let v = row_value(&store, row, a.no_trunc, count(row.rec), want_labels);
        lines.push(t.render(&v)?);
    }
    if t.table {
        out.write_all(format::tabwrite(&lines).as_bytes())?;
    } else {
        for l in lines {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
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

/// Remove image `rec`, printing podman's lines. With `force`, an image that
/// containers use is hidden and its layers kept until they are gone.
fn delete_image(store: &Store, rec: &ImageRecord, force: bool, out: &mut impl Write) -> Result<()> {
    let users = store.containers_using(&rec.id);
    if !users.is_empty() && !force {
        return Err(coded(
            EXIT_IN_USE,
            format!(
                "image used by {}: image is in use by a container: consider listing external containers and force-removing image",
                users.join(", ")
            ),
        ));
    }
    for n in &rec.names {
        writeln!(out, "Untagged: {n}")?;
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
    writeln!(out, "Deleted: {}", rec.id)?;
    Ok(())
}

pub fn rmi_cmd(g: &GlobalOpts, a: &RmiArgs) -> Result<()> {
    if a.all && !a.images.is_empty() {
        bail!("when using the --all switch, you may not pass any images names or IDs");
    }
    if !a.all && a.images.is_empty() {
        bail!("image name or ID must be specified");
    }
    let store = Store::open(&g.into())?;
    enter_userns_for_cleanup();
    let mut out = std::io::stdout().lock();
    let mut errors: Vec<anyhow::Error> = Vec::new();
    if a.all {
        for rec in store.images()? {
            if let Err(e) = delete_image(&store, &rec, a.force, &mut out) {
                errors.push(e);
            }
        }
    }
    for name in &a.images {
        let res = (|| -> Result<()> {
            let rec = match store.find_image(name)? {
                Some(r) => r,
                None if a.ignore => return Ok(()),
                None => return Err(coded(EXIT_NOT_FOUND, format!("{name}: image not known"))),
            };
            // By one of several names: only that name goes (podman).
            let by_id = rec.id.starts_with(name.trim_start_matches("sha256:"));
            if !by_id && rec.names.len() > 1 {
                if let Some(n) = rec
                    .names
                    .iter()
                    .find(|n| crate::storage::name_matches(name, n, &rec.digest))
                {
                    let rest: Vec<String> = rec.names.iter().filter(|x| *x != n).cloned().collect();
                    store.set_image_names(&rec.id, rest)?;
                    writeln!(out, "Untagged: {n}")?;
                    return Ok(());
                }
            }
            delete_image(&store, &rec, a.force, &mut out)
        })();
        if let Err(e) = res {
            errors.push(e);
        }
    }
    finish_errors(errors)
}

/// Print all but the last error; return the last, with the exit code
/// podman would use (1 if all were "not known", 2 if any was "in use").
fn finish_errors(mut errors: Vec<anyhow::Error>) -> Result<()> {
    let Some(last) = errors.pop() else {
        return Ok(());
    };
    let code_of = |e: &anyhow::Error| crate::error::classify(e).0;
    let mut code = code_of(&last);
    for e in &errors {
        eprintln!("Error: {e:#}");
        let c = code_of(e);
        if c == EXIT_IN_USE || (c != EXIT_NOT_FOUND && code == EXIT_NOT_FOUND) {
            code = c;
        }
    }
    if code == code_of(&last) {
        Err(last)
    } else {
        Err(coded(code, format!("{last:#}")))
    }
}

pub fn prune_cmd(g: &GlobalOpts, a: &ImagePruneArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    if !a.force {
        let what = if a.all {
            "WARNING! This command removes all images without at least one container associated with them."
        } else {
            "WARNING! This command removes all dangling images."
        };
        eprint!("{what}\nAre you sure you want to continue? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(());
        }
    }
    enter_userns_for_cleanup();
    let used = store.containers_by_image();
    let mut out = std::io::stdout().lock();
    for rec in store.images()? {
        if used.contains_key(&rec.id) || (!a.all && !rec.names.is_empty()) {
            continue;
        }
        store.remove_image(&rec.id)?;
        writeln!(out, "{}", rec.id)?;
    }
    store.gc()
}

// ---- tag and untag ----

pub fn tag_cmd(g: &GlobalOpts, a: &TagArgs) -> Result<()> {
    let names: Vec<String> = a
        .targets
        .iter()
        .map(|t| normalize_local_name(t))
        .collect::<Result<_>>()?;
    let store = Store::open(&g.into())?;
    let rec = find(&store, &a.image).map_err(|e| coded(125, format!("{e:#}")))?;
    let mut all = rec.names.clone();
    for n in names {
        if !all.contains(&n) {
            all.push(n);
        }
    }
    store.set_image_names(&rec.id, all)
}

pub fn untag_cmd(g: &GlobalOpts, a: &UntagArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    let rec = find(&store, &a.image).map_err(|e| coded(125, format!("{e:#}")))?;
    if a.names.is_empty() {
        return store.set_image_names(&rec.id, Vec::new());
    }
    let mut keep = rec.names.clone();
    for n in &a.names {
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
    store.set_image_names(&rec.id, keep)
}

// ---- image inspect ----

/// What `image inspect` prints for one image: podman's fields, in its order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectData {
    id: String,
    digest: String,
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
pub struct GraphDriver {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Data")]
    data: Map<String, Value>,
}

#[derive(serde::Serialize)]
pub struct RootFs {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
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
        annotations: Map::new(),
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

pub fn inspect_cmd(g: &GlobalOpts, a: &ImageInspectArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in &a.images {
        match store.find_image(name)? {
            Some(rec) => values.push(inspect_data(&store, &rec)),
            None => missing.push(name.clone()),
        }
    }
    match a.format.as_deref() {
        Some(f) if !format::is_json(f) => {
            let t = Template::parse(f)?;
            let mut out = std::io::stdout().lock();
            for v in &values {
                writeln!(out, "{}", t.render(&serde_json::to_value(v)?)?)?;
            }
        }
        _ => print_json_pretty(&values, b"     ")?,
    }
    if let Some(last) = missing.pop() {
        for m in &missing {
            eprintln!("Error: {m}: image not known");
        }
        bail!("{last}: image not known");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_podman() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1000), "1 kB");
        assert_eq!(human_size(7_633_383), "7.63 MB");
        assert_eq!(human_size(251_000), "251 kB");
        assert_eq!(human_size(27_200_000), "27.2 MB");
        assert_eq!(human_size(210_000_000), "210 MB");
        assert_eq!(human_size(1_500_000_000), "1.5 GB");
    }

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
            digest: String::new(),
            repo_digests: vec![],
            manifest_media_type: String::new(),
            config_digest: String::new(),
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
