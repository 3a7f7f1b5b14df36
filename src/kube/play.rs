//! `kube play` and `kube down` (podman 4.3's `play kube` and `play kube
//! --down`): Kubernetes YAML run as rpod pods.
//!
//! Kinds: Pod; Deployment (one pod, `NAME-pod-0`, whatever `replicas`
//! says); DaemonSet (one pod, `NAME-pod`); PersistentVolumeClaim (a named
//! volume); ConfigMap (for env, envFrom and configMap volumes); Secret
//! (stored as an rpod secret holding its YAML, as podman stores it; for
//! env, envFrom and secret volumes); Service (a NodePort's nodePorts are
//! published on the pods it selects; else nothing). Any other kind is
//! refused, naming it and its document.
//!
//! Everything is read and checked before anything is made: the YAML (with
//! the bounds of [`super::load`]), each object's fields (the error names
//! the document, the object and the field), names (pod, container, volume,
//! secret, ConfigMap and Secret keys, item paths and subPaths: nothing can
//! name a path outside rpod's store or its volume), host paths' types,
//! then the images (built, when they have a build directory). Only then
//! are secrets, volumes, pods and containers created; a failure while
//! creating a pod removes it. A subPath is resolved inside its volume
//! (`crate::sys::inroot`) when the pod is made, and refused where a
//! container of the pod could swap a directory on its way for a symlink.

use super::load::{self, Document};
use super::{
    ConfigMap, Container, DaemonSet, Deployment, PersistentVolumeClaim, Pod, PodSpec, SecretObject,
    ServiceIn,
};
use crate::container::create::ContainerSpec;
use crate::container::record::{Paths, RestartPolicy};
use crate::container::{self as ctr};
use crate::image::PullPolicy;
use crate::network::NetworkMode;
use crate::options::Options;
use crate::storage::ImageRecord;
use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// `kube play`'s options.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// Tear down the pods of the YAML first.
    pub replace: bool,
    /// Start the pods (`--start`, true by default).
    pub start: bool,
    /// `--network`: every pod's network (else hostNetwork, or the default).
    pub network: Option<NetworkMode>,
    /// `--publish`: ports published on every pod, overriding the YAML's
    /// hostPort of the same container port.
    pub publish: Vec<String>,
    /// `--configmap` files' YAML.
    pub configmaps: Vec<String>,
    /// For the records' create command.
    pub create_command: Vec<String>,
    /// `--build`: Some(true) builds every image that has a build
    /// directory, Some(false) none, None those not in the store.
    pub build: Option<bool>,
    /// `--context-dir`: where the build directories are (else the
    /// current directory).
    pub context_dir: Option<PathBuf>,
}

/// The directory an image is built from, as podman finds it: DIR/NAME
/// holding a Containerfile or Dockerfile, NAME the image's last path
/// component without tag or digest, DIR `--context-dir` or the current
/// directory. None when there is none (or `--build=false`).
pub fn build_dir(o: &PlayOptions, image: &str) -> Result<Option<PathBuf>> {
    if o.build == Some(false) {
        return Ok(None);
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let last = last.split('@').next().unwrap_or(last);
    let name = last.split(':').next().unwrap_or(last);
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Ok(None);
    }
    let base = match &o.context_dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("the current directory")?,
    };
    let dir = base.join(name);
    let found = ["Containerfile", "Dockerfile"]
        .iter()
        .any(|f| dir.join(f).is_file());
    Ok(found.then_some(dir))
}

/// One pod `kube play` made.
#[derive(Debug, Clone, Default)]
pub struct PodReport {
    pub id: String,
    pub name: String,
    /// Its containers' ids (not the infra's, nor the init containers').
    pub containers: Vec<String>,
    /// What failed to start.
    pub errors: Vec<String>,
}

/// What `kube play` made.
#[derive(Debug, Clone, Default)]
pub struct PlayReport {
    /// Named volumes of PersistentVolumeClaims.
    pub volumes: Vec<String>,
    /// Ids of the secrets the YAML's Secrets became.
    pub secrets: Vec<String>,
    pub pods: Vec<PodReport>,
}

/// What `kube down` did.
#[derive(Debug, Default)]
pub struct DownReport {
    pub stopped: Vec<String>,
    pub removed: Vec<String>,
    /// Ids of the secrets of the YAML's Secrets, removed.
    pub secrets: Vec<String>,
    /// Pods of the YAML that could not be taken down (no such pod, ...).
    pub errors: Vec<anyhow::Error>,
}

/// A pod to play, as the YAML gave it.
#[derive(Debug, Clone)]
struct PodObject {
    name: String,
    labels: BTreeMap<String, String>,
    spec: PodSpec,
    /// "document 2 (Pod \"web\")": for errors.
    what: String,
    /// Ports a NodePort Service publishes: (container port, protocol,
    /// `-p` spec).
    service_ports: Vec<(u16, String, String)>,
    /// The object's annotations (podman's `io.podman.annotations.*/NAME`).
    annotations: BTreeMap<String, String>,
}

/// A Secret's keys and their bytes.
type KeyData = BTreeMap<String, Vec<u8>>;

/// The objects of a YAML stream.
#[derive(Debug, Default)]
struct Objects {
    pods: Vec<PodObject>,
    pvcs: Vec<PersistentVolumeClaim>,
    configmaps: BTreeMap<String, ConfigMap>,
    /// Every Secret the pods may use: the YAML's, then the store's.
    secrets: BTreeMap<String, KeyData>,
    /// The YAML's Secrets, to store: (name, what rpod stores: its YAML).
    new_secrets: Vec<(String, String)>,
}

/// Read at most [`load::MAX_INPUT`] bytes of YAML from `r`.
pub fn read_input(r: impl std::io::Read, what: &str) -> Result<String> {
    let mut buf = Vec::new();
    use std::io::Read;
    r.take(load::MAX_INPUT as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {what}"))?;
    if buf.len() > load::MAX_INPUT {
        bail!("{what}: larger than {} MiB: refused", load::MAX_INPUT >> 20);
    }
    String::from_utf8(buf).map_err(|_| anyhow!("{what}: not UTF-8 text"))
}

/// Kubernetes YAML from an http or https URL (podman's `kube play URL`),
/// at most [`load::MAX_INPUT`] bytes. The download's runtime lives and
/// ends in this thread, and the threads it borrowed are waited for: `play`
/// and `down` must enter a user namespace, which a process can only do
/// while it has one thread.
pub fn fetch(url: &str) -> Result<String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("{url}: only http and https URLs can be played");
    }
    let threads = || {
        std::fs::read_dir("/proc/self/task")
            .map(|d| d.count())
            .unwrap_or(1)
    };
    let before = threads();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")?;
    let body = rt
        .block_on(async {
            let c = crate::image::transport::client_builder().build()?;
            let mut resp = c.get(url).send().await?;
            if !resp.status().is_success() {
                bail!("{}", resp.status());
            }
            let mut buf = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                buf.extend_from_slice(&chunk);
                if buf.len() > load::MAX_INPUT {
                    bail!("larger than {} MiB: refused", load::MAX_INPUT >> 20);
                }
            }
            Ok(buf)
        })
        .with_context(|| format!("downloading {url}"));
    drop(rt);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while threads() > before && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let body = body?;
    String::from_utf8(body).map_err(|_| anyhow!("{url}: not UTF-8 text"))
}

fn typed<T: DeserializeOwned>(d: &Document, what: &str) -> Result<T> {
    serde_path_to_error::deserialize(&d.value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            anyhow!("{what}: {inner}")
        } else {
            anyhow!("{what}: {path}: {inner}")
        }
    })
}

fn kind_of(d: &Document) -> Result<(String, String)> {
    let obj = d.value.as_object().ok_or_else(|| {
        anyhow!(
            "document {} (line {}): not a Kubernetes object (a mapping with apiVersion and kind)",
            d.index,
            d.line
        )
    })?;
    let kind = match obj.get("kind") {
        Some(serde_json::Value::String(k)) => k.clone(),
        _ => bail!(
            "document {} (line {}): no kind: every object needs one",
            d.index,
            d.line
        ),
    };
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("")
        .to_string();
    Ok((kind, name))
}

/// The pod name of a Deployment's one replica (podman 4.3's first).
fn deployment_pod_name(name: &str) -> String {
    format!("{name}-pod-0")
}

/// A Secret's keys: `data` (base64) and `stringData` (which wins).
fn secret_items(s: &SecretObject, what: &str) -> Result<KeyData> {
    use base64::Engine;
    let mut out = KeyData::new();
    for (k, v) in &s.data {
        check_key(k, "Secret", what)?;
        let b = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .map_err(|e| anyhow!("{what}: data.{k}: not base64: {e}"))?;
        out.insert(k.clone(), b);
    }
    for (k, v) in &s.string_data {
        check_key(k, "Secret", what)?;
        out.insert(k.clone(), v.clone().into_bytes());
    }
    Ok(out)
}

/// The keys of a secret from the store: a JSON object of base64 values
/// (what `secret create` of `{"KEY": "BASE64"}` holds) or a Kubernetes
/// Secret's YAML (what `kube play` stored), as podman reads them.
fn stored_secret_items(name: &str, data: &[u8]) -> Result<KeyData> {
    use base64::Engine;
    let what = format!("secret {name:?}");
    if let Ok(m) = serde_json::from_slice::<BTreeMap<String, String>>(data) {
        let mut out = KeyData::new();
        for (k, v) in m {
            check_key(&k, "Secret", &what)?;
            let b = base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|e| anyhow!("{what}: key {k:?}: not base64: {e}"))?;
            out.insert(k, b);
        }
        return Ok(out);
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| anyhow!("{what} is neither JSON nor a Kubernetes Secret's YAML"))?;
    let docs = load::documents(text)
        .map_err(|_| anyhow!("{what} is neither JSON nor a Kubernetes Secret's YAML"))?;
    match docs.as_slice() {
        [d] if d.value.get("kind").and_then(|k| k.as_str()) == Some("Secret") => {
            secret_items(&typed(d, &what)?, &what)
        }
        _ => bail!("{what} is neither JSON nor a Kubernetes Secret's YAML"),
    }
}

/// The secrets the pods name that the YAML does not define, from the
/// store (those that are not there are left out: the pods' plans say
/// which are needed).
fn load_store_secrets(opts: &Options, o: &mut Objects) -> Result<()> {
    let mut names = std::collections::BTreeSet::new();
    for p in &o.pods {
        for c in p.spec.containers.iter().chain(&p.spec.init_containers) {
            for e in &c.env {
                if let Some(k) = e
                    .value_from
                    .as_ref()
                    .and_then(|f| f.secret_key_ref.as_ref())
                {
                    names.insert(k.name.clone());
                }
            }
            for ef in &c.env_from {
                if let Some(r) = &ef.secret_ref {
                    names.insert(r.name.clone());
                }
            }
        }
        for v in &p.spec.volumes {
            if let Some(s) = &v.secret {
                names.insert(s.secret_name.clone());
            }
        }
    }
    names.retain(|n| !o.secrets.contains_key(n) && crate::secret::validate_name(n).is_ok());
    if names.is_empty() {
        return Ok(());
    }
    let store = crate::secret::Secrets::open(opts)?;
    for n in names {
        if let Some(s) = store.get(&n)? {
            if s.name != n {
                continue; // an id prefix, not a name
            }
            let data = store.data(&s)?;
            o.secrets.insert(n.clone(), stored_secret_items(&n, &data)?);
        }
    }
    Ok(())
}

/// Publish a Service's nodePorts on the pods its selector picks (a
/// NodePort service is reachable on the node's port: here, this host's).
fn apply_service(o: &mut Objects, svc: &ServiceIn, what: &str) -> Result<()> {
    if svc.spec.kind.as_deref() != Some("NodePort") || svc.spec.selector.is_empty() {
        return Ok(());
    }
    for p in o.pods.iter_mut().filter(|p| {
        svc.spec
            .selector
            .iter()
            .all(|(k, v)| p.labels.get(k) == Some(v))
    }) {
        for (i, sp) in svc.spec.ports.iter().enumerate() {
            let Some(node) = sp.node_port.filter(|n| *n > 0) else {
                continue;
            };
            let w = format!("{what}: spec.ports[{i}]");
            let proto = match sp.protocol.as_deref().unwrap_or("TCP") {
                "TCP" | "tcp" => "tcp",
                "UDP" | "udp" => "udp",
                x => bail!("{w}.protocol {x:?}: use TCP or UDP"),
            };
            let target = match &sp.target_port {
                None => sp.port,
                Some(serde_json::Value::Number(n)) => n
                    .as_u64()
                    .filter(|n| (1..=65535).contains(n))
                    .ok_or_else(|| anyhow!("{w}.targetPort {n}: must be 1-65535"))?
                    as u16,
                Some(serde_json::Value::String(name)) => match name.parse::<u16>() {
                    Ok(n) if n > 0 => n,
                    _ => p
                        .spec
                        .containers
                        .iter()
                        .flat_map(|c| &c.ports)
                        .find(|cp| cp.name.as_deref() == Some(name.as_str()))
                        .map(|cp| cp.container_port)
                        .ok_or_else(|| {
                            anyhow!(
                                "{w}.targetPort {name:?}: no container port of that name in pod {:?}",
                                p.name
                            )
                        })?,
                },
                Some(v) => bail!("{w}.targetPort {v}: a port number or name is needed"),
            };
            if target == 0 {
                bail!("{w}: port or targetPort is needed");
            }
            p.service_ports.push((
                target,
                proto.to_string(),
                format!("{node}:{target}/{proto}"),
            ));
        }
    }
    Ok(())
}

fn parse_objects(text: &str, configmaps: &[String]) -> Result<Objects> {
    let mut o = Objects::default();
    for (i, cm_text) in configmaps.iter().enumerate() {
        for d in load::documents(cm_text).with_context(|| format!("--configmap file {}", i + 1))? {
            let (kind, name) =
                kind_of(&d).with_context(|| format!("--configmap file {}", i + 1))?;
            if kind != "ConfigMap" {
                bail!(
                    "--configmap file {}: document {}: kind {kind:?} is not a ConfigMap",
                    i + 1,
                    d.index
                );
            }
            let what = format!("--configmap file {}: ConfigMap {name:?}", i + 1);
            add_configmap(&mut o, typed(&d, &what)?, &what)?;
        }
    }
    let docs = load::documents(text)?;
    if docs.is_empty() {
        bail!("the YAML has no Kubernetes objects");
    }
    let mut services = Vec::new();
    for d in &docs {
        let (kind, name) = kind_of(d)?;
        let what = format!("document {} ({kind} {name:?})", d.index);
        match kind.as_str() {
            "Pod" => {
                let p: Pod = typed(d, &what)?;
                if p.metadata.name.is_empty() {
                    bail!("{what}: metadata.name: a Pod needs a name");
                }
                o.pods.push(PodObject {
                    name: p.metadata.name.clone(),
                    labels: p.metadata.labels.clone(),
                    spec: p.spec,
                    what,
                    service_ports: Vec::new(),
                    annotations: p.metadata.annotations,
                });
            }
            "Deployment" => {
                let dep: Deployment = typed(d, &what)?;
                if dep.metadata.name.is_empty() {
                    bail!("{what}: metadata.name: a Deployment needs a name");
                }
                let replicas = dep.spec.replicas.unwrap_or(1);
                if replicas < 0 {
                    bail!("{what}: spec.replicas: {replicas} is negative");
                }
                if replicas == 0 {
                    continue;
                }
                if replicas > 1 {
                    warn!(
                        "{what}: limiting replica count to 1, more than one replica is not supported by rpod"
                    );
                }
                let mut labels = dep.spec.template.metadata.labels.clone();
                for (k, v) in &dep.metadata.labels {
                    labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
                let mut annotations = dep.spec.template.metadata.annotations.clone();
                annotations.extend(dep.metadata.annotations.clone());
                o.pods.push(PodObject {
                    name: deployment_pod_name(&dep.metadata.name),
                    labels,
                    spec: dep.spec.template.spec,
                    what,
                    service_ports: Vec::new(),
                    annotations,
                });
            }
            "DaemonSet" => {
                let ds: DaemonSet = typed(d, &what)?;
                if ds.metadata.name.is_empty() {
                    bail!("{what}: metadata.name: a DaemonSet needs a name");
                }
                let mut labels = ds.spec.template.metadata.labels.clone();
                for (k, v) in &ds.metadata.labels {
                    labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
                let mut annotations = ds.spec.template.metadata.annotations.clone();
                annotations.extend(ds.metadata.annotations.clone());
                o.pods.push(PodObject {
                    name: format!("{}-pod", ds.metadata.name),
                    labels,
                    spec: ds.spec.template.spec,
                    what,
                    service_ports: Vec::new(),
                    annotations,
                });
            }
            "Secret" => {
                let s: SecretObject = typed(d, &what)?;
                crate::secret::validate_name(&s.metadata.name)
                    .with_context(|| format!("{what}: metadata.name"))?;
                let items = secret_items(&s, &what)?;
                // What podman stores: the object's YAML.
                let stored = SecretObject {
                    api_version: s.api_version.clone(),
                    kind: "Secret".into(),
                    metadata: super::ObjectMeta {
                        name: s.metadata.name.clone(),
                        labels: s.metadata.labels.clone(),
                        annotations: s.metadata.annotations.clone(),
                        creation_timestamp: None,
                    },
                    ..s.clone()
                };
                let text = super::yaml::to_string(&serde_json::to_value(&stored)?);
                if text.len() >= crate::secret::MAX_SIZE {
                    bail!(
                        "{what}: larger than {} bytes: too large for a secret",
                        crate::secret::MAX_SIZE
                    );
                }
                if o.secrets.insert(s.metadata.name.clone(), items).is_some() {
                    bail!("{what}: a Secret named {:?} is in the YAML twice", s.metadata.name);
                }
                o.new_secrets.push((s.metadata.name.clone(), text));
            }
            "PersistentVolumeClaim" => {
                let p: PersistentVolumeClaim = typed(d, &what)?;
                if p.metadata.name.is_empty() {
                    bail!("{what}: metadata.name: a PersistentVolumeClaim needs a name");
                }
                crate::volume::validate_name(&p.metadata.name)
                    .with_context(|| format!("{what}: metadata.name"))?;
                o.pvcs.push(p);
            }
            "ConfigMap" => {
                let c: ConfigMap = typed(d, &what)?;
                add_configmap(&mut o, c, &what)?;
            }
            // A NodePort's nodePorts are published (below, once every
            // pod is read); else the pods' hostPorts are what publish.
            "Service" => services.push((typed::<ServiceIn>(d, &what)?, what)),
            other => bail!(
                "document {} (line {}): kind {other:?} is not supported by kube play (rpod plays Pod, Deployment, DaemonSet, PersistentVolumeClaim, ConfigMap, Secret and Service)",
                d.index,
                d.line
            ),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &o.pods {
        if !seen.insert(p.name.clone()) {
            bail!("{}: a pod named {:?} is in the YAML twice", p.what, p.name);
        }
    }
    for (svc, what) in &services {
        apply_service(&mut o, svc, what)?;
    }
    Ok(o)
}

/// A ConfigMap or Secret key as Kubernetes allows it (and so a safe file
/// name).
fn check_key(k: &str, kind: &str, what: &str) -> Result<()> {
    let ok = !k.is_empty()
        && k != "."
        && k != ".."
        && k.len() <= 253
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        bail!("{what}: data key {k:?} is not a valid {kind} key ([-._a-zA-Z0-9]+)");
    }
    Ok(())
}

fn add_configmap(o: &mut Objects, c: ConfigMap, what: &str) -> Result<()> {
    if c.metadata.name.is_empty() {
        bail!("{what}: metadata.name: a ConfigMap needs a name");
    }
    for k in c.data.keys() {
        check_key(k, "ConfigMap", what)?;
    }
    o.configmaps.insert(c.metadata.name.clone(), c);
    Ok(())
}

/// A relative path inside a volume, with nothing that climbs out.
fn check_rel_path(p: &str, what: &str) -> Result<()> {
    let path = Path::new(p);
    let ok = !p.is_empty()
        && !p.contains('\0')
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && path.components().any(|c| matches!(c, Component::Normal(_)));
    if !ok {
        bail!("{what}: path {p:?} must be relative, without \"..\"");
    }
    Ok(())
}

/// A Kubernetes quantity ("128974848", "129e6", "129M", "123Mi", "500m").
fn quantity(v: &serde_json::Value) -> Result<f64> {
    let s = match v {
        serde_json::Value::Number(n) => return n.as_f64().ok_or_else(|| anyhow!("bad number")),
        serde_json::Value::String(s) => s.trim(),
        _ => bail!("not a quantity"),
    };
    let suffixes: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suf, mult) in suffixes {
        if let Some(n) = s.strip_suffix(suf) {
            if let Ok(x) = n.parse::<f64>() {
                return Ok(x * mult);
            }
        }
    }
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| anyhow!("{s:?} is not a quantity"))
}

/// Containers made, as (id, name).
type Ids = Vec<(String, String)>;

/// A container to create.
#[derive(Debug, Clone)]
struct CtrPlan {
    spec: ContainerSpec,
    init: bool,
    pull: PullPolicy,
    image: Option<ImageRecord>,
    /// Mounts of a part of a volume (`subPath`), resolved inside the
    /// volume when the volume is there.
    subpaths: Vec<SubPath>,
}

/// A `volumeMounts[].subPath`.
#[derive(Debug, Clone)]
struct SubPath {
    /// The volume's source as `sources` holds it.
    src: String,
    sub: String,
    dest: String,
    ro: bool,
    what: String,
}

/// `sub` as its normal components ("a/./b" is a, b).
fn sub_parts(sub: &str) -> Vec<&std::ffi::OsStr> {
    Path::new(sub)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// A volume to make before the pod's containers.
#[derive(Debug, Clone)]
enum VolPlan {
    /// An emptyDir: an anonymous volume, shared by the pod's containers.
    Empty(String),
    /// A configMap volume: a named volume with the ConfigMap's files,
    /// written when the volume is new (as podman 4.3 does); a secret
    /// volume: the same, its files written at every play (`refresh`), so
    /// that a changed Secret is what the pod sees.
    Files {
        volume: String,
        files: Vec<(String, Vec<u8>, u32)>,
        refresh: bool,
    },
    /// A hostPath of type DirectoryOrCreate or FileOrCreate.
    HostDir(PathBuf),
    HostFile(PathBuf),
}

#[derive(Debug, Clone)]
struct PodPlan {
    obj: PodObject,
    publish: Vec<String>,
    network: Option<NetworkMode>,
    ctrs: Vec<CtrPlan>,
    volumes: Vec<VolPlan>,
}

fn pull_policy(c: &Container, what: &str) -> Result<PullPolicy> {
    Ok(match c.image_pull_policy.as_deref() {
        Some("Always") => PullPolicy::Always,
        Some("Never") => PullPolicy::Never,
        Some("IfNotPresent") => PullPolicy::Missing,
        Some(p) => bail!("{what}: imagePullPolicy {p:?}: use Always, IfNotPresent or Never"),
        None => {
            // podman: a :latest (or untagged) image is pulled, unless local.
            let r = c.image.rsplit('/').next().unwrap_or("");
            let latest =
                !c.image.contains('@') && r.rsplit_once(':').map_or(true, |(_, t)| t == "latest");
            if latest && !c.image.starts_with("localhost/") {
                PullPolicy::Always
            } else {
                PullPolicy::Missing
            }
        }
    })
}

/// A secret's value as an environment variable's.
fn env_text(b: &[u8], key: &str, secret: &str, w: &str) -> Result<String> {
    match std::str::from_utf8(b) {
        Ok(t) if !t.contains('\0') => Ok(t.to_string()),
        _ => bail!(
            "{w}: key {key:?} of secret {secret:?} is not text an environment variable can hold"
        ),
    }
}

fn env_of(
    c: &Container,
    pod: &PodObject,
    cms: &BTreeMap<String, ConfigMap>,
    secrets: &BTreeMap<String, KeyData>,
    what: &str,
) -> Result<Vec<String>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| {
        env.retain(|(n, _)| *n != k);
        env.push((k, v));
    };
    for (i, ef) in c.env_from.iter().enumerate() {
        let w = format!("{what}: envFrom[{i}]");
        if let Some(r) = &ef.secret_ref {
            match secrets.get(&r.name) {
                Some(data) => {
                    for (k, v) in data {
                        let v = env_text(v, k, &r.name, &w)?;
                        set(format!("{}{k}", ef.prefix.as_deref().unwrap_or("")), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => bail!("{w}: secret {:?} not found", r.name),
            }
            continue;
        }
        let Some(r) = &ef.config_map_ref else {
            bail!("{w}: configMapRef or secretRef is needed");
        };
        match cms.get(&r.name) {
            Some(cm) => {
                for (k, v) in &cm.data {
                    set(
                        format!("{}{k}", ef.prefix.as_deref().unwrap_or("")),
                        v.clone(),
                    );
                }
            }
            None if r.optional == Some(true) => {}
            None => bail!("{w}: configmap {:?} not found", r.name),
        }
    }
    for (i, e) in c.env.iter().enumerate() {
        let w = format!("{what}: env[{i}] ({})", e.name);
        if e.name.is_empty() || e.name.contains('=') || e.name.contains('\0') {
            bail!("{what}: env[{i}]: invalid variable name {:?}", e.name);
        }
        let Some(from) = &e.value_from else {
            set(e.name.clone(), e.value.clone());
            continue;
        };
        if let Some(k) = &from.config_map_key_ref {
            match cms.get(&k.name).and_then(|cm| cm.data.get(&k.key)) {
                Some(v) => set(e.name.clone(), v.clone()),
                None if k.optional == Some(true) => {}
                None => bail!(
                    "{w}: valueFrom.configMapKeyRef: no key {:?} in configmap {:?}",
                    k.key,
                    k.name
                ),
            }
        } else if let Some(k) = &from.secret_key_ref {
            match secrets.get(&k.name).and_then(|s| s.get(&k.key)) {
                Some(v) => set(e.name.clone(), env_text(v, &k.key, &k.name, &w)?),
                None if k.optional == Some(true) => {}
                None => bail!(
                    "{w}: valueFrom.secretKeyRef: no key {:?} in secret {:?}",
                    k.key,
                    k.name
                ),
            }
        } else if let Some(f) = &from.field_ref {
            match f.get("fieldPath").and_then(|p| p.as_str()) {
                Some("metadata.name") => set(e.name.clone(), pod.name.clone()),
                Some("metadata.namespace") => set(e.name.clone(), "default".into()),
                p => bail!("{w}: valueFrom.fieldRef {p:?}: only metadata.name and metadata.namespace are supported"),
            }
        } else {
            bail!("{w}: valueFrom: rpod supports configMapKeyRef, secretKeyRef and fieldRef");
        }
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// A boolean as Go's strconv.ParseBool reads it (podman's annotations).
fn go_bool(v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => bail!("{v:?} is not a boolean"),
    }
}

/// A probe's port: a number, or a numeric string.
fn probe_port(v: &serde_json::Value, what: &str) -> Result<u16> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    n.filter(|n| (1..=65535).contains(n))
        .map(|n| n as u16)
        .ok_or_else(|| anyhow!("{what}: port {v}: a port number is needed"))
}

/// A host or path for a probe's shell command: nothing the shell reads.
fn shell_safe(s: &str, what: &str) -> Result<()> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-:~%=&?+,@".contains(&b))
        || s.contains("&&")
    {
        bail!("{what}: {s:?} has characters a probe can't use");
    }
    Ok(())
}

/// podman 4.3's healthcheck for a livenessProbe: the probe's command, an
/// HTTP GET with curl or a TCP connect with nc, `|| kill 1` when the
/// restart policy brings the container back (else `|| exit 1`).
fn health_of(
    p: &super::Probe,
    restart: RestartPolicy,
    what: &str,
) -> Result<ctr::health::HealthFlags> {
    let fail = match restart {
        RestartPolicy::Always | RestartPolicy::OnFailure(_) => "kill 1",
        _ => "exit 1",
    };
    let cmd = if let Some(e) = &p.exec {
        if e.command.is_empty() {
            bail!("{what}: livenessProbe.exec.command: empty");
        }
        let mut v = vec!["CMD".to_string()];
        v.extend(e.command.iter().cloned());
        // The exec form, as Kubernetes runs it (no shell).
        if fail == "exit 1" {
            serde_json::to_string(&v)?
        } else {
            let quoted: Vec<String> = e
                .command
                .iter()
                .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
                .collect();
            serde_json::to_string(&["CMD-SHELL", &format!("{} || {fail}", quoted.join(" "))])?
        }
    } else if let Some(h) = &p.http_get {
        let w = format!("{what}: livenessProbe.httpGet");
        let port = probe_port(&h.port, &w)?;
        let host = h.host.clone().unwrap_or_else(|| "localhost".into());
        let path = h.path.clone().unwrap_or_default();
        let scheme = h
            .scheme
            .clone()
            .unwrap_or_else(|| "HTTP".into())
            .to_lowercase();
        if !matches!(scheme.as_str(), "http" | "https") {
            bail!("{w}.scheme {scheme:?}: use HTTP or HTTPS");
        }
        shell_safe(&host, &w)?;
        shell_safe(&path, &w)?;
        let path = path.trim_start_matches('/');
        serde_json::to_string(&[
            "CMD-SHELL",
            &format!("curl -f {scheme}://{host}:{port}/{path} || {fail}"),
        ])?
    } else if let Some(t) = &p.tcp_socket {
        let w = format!("{what}: livenessProbe.tcpSocket");
        let port = probe_port(&t.port, &w)?;
        let host = t.host.clone().unwrap_or_else(|| "localhost".into());
        shell_safe(&host, &w)?;
        serde_json::to_string(&["CMD-SHELL", &format!("nc -z -v {host} {port} || {fail}")])?
    } else {
        bail!("{what}: livenessProbe: exec, httpGet or tcpSocket is needed");
    };
    let secs = |n: u32| format!("{n}s");
    Ok(ctr::health::HealthFlags {
        cmd: Some(cmd),
        interval: Some(secs(p.period_seconds.filter(|n| *n > 0).unwrap_or(10))),
        retries: Some(p.failure_threshold.filter(|n| *n > 0).unwrap_or(3)),
        start_period: Some(secs(p.initial_delay_seconds.unwrap_or(0))),
        timeout: Some(secs(p.timeout_seconds.filter(|n| *n > 0).unwrap_or(1))),
        ..Default::default()
    })
}

fn mount_path_ok(p: &str, what: &str) -> Result<()> {
    if !p.starts_with('/') || p.contains(':') || p.contains(',') || p.contains('\0') {
        bail!("{what}: mountPath {p:?} must be an absolute path without ':' or ','");
    }
    Ok(())
}

fn plan_pod(
    obj: &PodObject,
    cms: &BTreeMap<String, ConfigMap>,
    secrets: &BTreeMap<String, KeyData>,
    o: &PlayOptions,
) -> Result<PodPlan> {
    let what = &obj.what;
    ctr::names::validate(&obj.name).with_context(|| format!("{what}: the pod's name"))?;
    let spec = &obj.spec;
    if spec.containers.is_empty() {
        bail!("{what}: spec.containers: a pod needs at least one container");
    }
    let restart = match spec.restart_policy.as_deref() {
        None | Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure(0),
        Some("Never") => RestartPolicy::No,
        Some(p) => bail!("{what}: spec.restartPolicy {p:?}: use Always, OnFailure or Never"),
    };
    let stop_timeout = match spec.termination_grace_period_seconds {
        None => None,
        Some(t) if (0..=i64::from(u32::MAX)).contains(&t) => Some(t as u32),
        Some(t) => bail!("{what}: spec.terminationGracePeriodSeconds {t} is out of range"),
    };
    // The pod's volumes, by name: what `-v` each mount becomes.
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    let mut volumes = Vec::new();
    for (i, v) in spec.volumes.iter().enumerate() {
        let w = format!("{what}: spec.volumes[{i}] ({})", v.name);
        if v.name.is_empty() {
            bail!("{what}: spec.volumes[{i}]: a volume needs a name");
        }
        let src = if let Some(h) = &v.host_path {
            if !h.path.contains('/') {
                // podman: a name without a slash is a named volume.
                crate::volume::validate_name(&h.path).with_context(|| w.clone())?;
                h.path.clone()
            } else {
                let p = if Path::new(&h.path).is_absolute() {
                    PathBuf::from(&h.path)
                } else {
                    std::env::current_dir()?.join(&h.path)
                };
                let s = p.to_string_lossy().into_owned();
                if s.contains(':') || s.contains(',') {
                    bail!("{w}: hostPath.path {s:?}: rpod cannot mount a path with ':' or ','");
                }
                let meta = std::fs::metadata(&p);
                use std::os::unix::fs::FileTypeExt;
                let kind = h.kind.as_deref().unwrap_or("");
                let is = |f: &dyn Fn(&std::fs::FileType) -> bool| {
                    meta.as_ref().is_ok_and(|m| f(&m.file_type()))
                };
                match kind {
                    "" => {}
                    "Directory" if is(&|t| t.is_dir()) => {}
                    "File" if is(&|t| t.is_file()) => {}
                    "Socket" if is(&|t| t.is_socket()) => {}
                    "CharDevice" if is(&|t| t.is_char_device()) => {}
                    "BlockDevice" if is(&|t| t.is_block_device()) => {}
                    "DirectoryOrCreate" if meta.is_err() => {
                        volumes.push(VolPlan::HostDir(p.clone()))
                    }
                    "DirectoryOrCreate" if is(&|t| t.is_dir()) => {}
                    "FileOrCreate" if meta.is_err() => volumes.push(VolPlan::HostFile(p.clone())),
                    "FileOrCreate" if is(&|t| t.is_file()) => {}
                    "Directory" | "File" | "Socket" | "CharDevice" | "BlockDevice"
                    | "DirectoryOrCreate" | "FileOrCreate" => {
                        bail!("{w}: hostPath {s:?} is not a {kind}")
                    }
                    k => bail!("{w}: hostPath.type {k:?} is not supported"),
                }
                s
            }
        } else if let Some(c) = &v.persistent_volume_claim {
            crate::volume::validate_name(&c.claim_name)
                .with_context(|| format!("{w}: persistentVolumeClaim.claimName"))?;
            c.claim_name.clone()
        } else if let Some(e) = &v.empty_dir {
            match e.medium.as_deref() {
                Some("Memory") => format!("tmpfs:{}", v.name),
                None | Some("") => {
                    let n = ctr::names::new_id();
                    volumes.push(VolPlan::Empty(n.clone()));
                    n
                }
                Some(m) => bail!("{w}: emptyDir.medium {m:?}: use Memory or leave it out"),
            }
        } else if let Some(c) = &v.config_map {
            let Some(cm) = cms.get(&c.name) else {
                if c.optional == Some(true) {
                    continue;
                }
                bail!("{w}: configMap {:?} not found", c.name);
            };
            crate::volume::validate_name(&c.name)
                .with_context(|| format!("{w}: configMap.name"))?;
            let mode = c.default_mode.unwrap_or(0o644) & 0o777;
            let mut files = Vec::new();
            if c.items.is_empty() {
                for (k, val) in &cm.data {
                    files.push((k.clone(), val.clone().into_bytes(), mode));
                }
            } else {
                for (j, it) in c.items.iter().enumerate() {
                    let wi = format!("{w}: configMap.items[{j}]");
                    check_rel_path(&it.path, &wi)?;
                    let Some(val) = cm.data.get(&it.key) else {
                        bail!("{wi}: no key {:?} in configmap {:?}", it.key, c.name);
                    };
                    files.push((
                        it.path.clone(),
                        val.clone().into_bytes(),
                        it.mode.unwrap_or(mode) & 0o777,
                    ));
                }
            }
            volumes.push(VolPlan::Files {
                volume: c.name.clone(),
                files,
                refresh: false,
            });
            format!("{}:ro-cm", c.name)
        } else if let Some(sv) = &v.secret {
            crate::secret::validate_name(&sv.secret_name)
                .with_context(|| format!("{w}: secret.secretName"))?;
            let Some(data) = secrets.get(&sv.secret_name) else {
                if sv.optional == Some(true) {
                    continue;
                }
                bail!("{w}: secret {:?} not found", sv.secret_name);
            };
            crate::volume::validate_name(&sv.secret_name)
                .with_context(|| format!("{w}: secret.secretName"))?;
            let mode = sv.default_mode.unwrap_or(0o644) & 0o777;
            let mut files = Vec::new();
            if sv.items.is_empty() {
                for (k, val) in data {
                    files.push((k.clone(), val.clone(), mode));
                }
            } else {
                for (j, it) in sv.items.iter().enumerate() {
                    let wi = format!("{w}: secret.items[{j}]");
                    check_rel_path(&it.path, &wi)?;
                    let Some(val) = data.get(&it.key) else {
                        bail!("{wi}: no key {:?} in secret {:?}", it.key, sv.secret_name);
                    };
                    files.push((
                        it.path.clone(),
                        val.clone(),
                        it.mode.unwrap_or(mode) & 0o777,
                    ));
                }
            }
            volumes.push(VolPlan::Files {
                volume: sv.secret_name.clone(),
                files,
                refresh: true,
            });
            format!("{}:ro-cm", sv.secret_name)
        } else {
            bail!("{w}: unsupported volume type: rpod plays hostPath, persistentVolumeClaim, emptyDir, configMap and secret");
        };
        if sources.insert(v.name.clone(), src).is_some() {
            bail!("{w}: a volume of that name is defined twice");
        }
    }
    // Ports: the YAML's hostPorts, then --publish (which overrides).
    let mut publish: Vec<(u16, String, String)> = Vec::new();
    for (ci, c) in spec.containers.iter().enumerate() {
        for (pi, p) in c.ports.iter().enumerate() {
            let Some(hp) = p.host_port.filter(|h| *h > 0) else {
                continue;
            };
            if p.container_port == 0 {
                bail!("{what}: spec.containers[{ci}].ports[{pi}].containerPort: must be 1-65535");
            }
            let proto = match p.protocol.as_deref().unwrap_or("TCP") {
                "TCP" | "tcp" => "tcp",
                "UDP" | "udp" => "udp",
                x => bail!(
                    "{what}: spec.containers[{ci}].ports[{pi}].protocol {x:?}: use TCP or UDP"
                ),
            };
            let ip = match p.host_ip.as_deref() {
                Some(ip) if !ip.is_empty() => format!("{ip}:"),
                _ => String::new(),
            };
            publish.push((
                p.container_port,
                proto.into(),
                format!("{ip}{hp}:{}/{proto}", p.container_port),
            ));
        }
    }
    for (cp, proto, spec) in &obj.service_ports {
        if !publish.iter().any(|(c, p, _)| c == cp && p == proto) {
            publish.push((*cp, proto.clone(), spec.clone()));
        }
    }
    for p in &o.publish {
        for m in crate::network::ports::parse(p)? {
            publish.retain(|(cp, proto, _)| !(*cp == m.container_port && *proto == m.protocol));
        }
        publish.push((0, String::new(), p.clone()));
    }
    let network = match (&o.network, spec.host_network) {
        (Some(n), _) => Some(n.clone()),
        (None, Some(true)) => Some(NetworkMode::Host),
        _ => None,
    };
    let pod_sc = spec.security_context.clone().unwrap_or_default();
    // Every container gets the pod's annotations (podman's way), within
    // podman's bound.
    let ann_bytes: usize = obj.annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if ann_bytes > 256 * 1024 {
        bail!("{what}: metadata.annotations: larger than 256 KiB in all");
    }
    for (k, v) in &obj.annotations {
        if k.is_empty() || k.contains('\0') || v.contains('\0') {
            bail!("{what}: metadata.annotations: {k:?}: an empty key or a NUL byte");
        }
    }
    let annotations: Vec<(String, String)> = obj
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut ctrs = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    let all = spec
        .init_containers
        .iter()
        .map(|c| (true, c))
        .chain(spec.containers.iter().map(|c| (false, c)));
    let (mut ii, mut ci) = (0, 0);
    for (init, c) in all {
        let w = if init {
            ii += 1;
            format!("{what}: spec.initContainers[{}] ({})", ii - 1, c.name)
        } else {
            ci += 1;
            format!("{what}: spec.containers[{}] ({})", ci - 1, c.name)
        };
        if c.name.is_empty() {
            bail!("{w}: a container needs a name");
        }
        if !names.insert(c.name.clone()) {
            bail!("{w}: two containers are named {:?}", c.name);
        }
        if c.image.is_empty() {
            bail!("{w}: image: a container needs an image");
        }
        let name = format!("{}-{}", obj.name, c.name);
        ctr::names::validate(&name).with_context(|| format!("{w}: name"))?;
        let env = env_of(c, obj, cms, secrets, &w)?;
        let mut vols = Vec::new();
        let mut tmpfs = Vec::new();
        let mut subpaths = Vec::new();
        for (mi, m) in c.volume_mounts.iter().enumerate() {
            let wm = format!("{w}: volumeMounts[{mi}]");
            mount_path_ok(&m.mount_path, &wm)?;
            if m.sub_path_expr.as_deref().is_some_and(|s| !s.is_empty()) {
                bail!("{wm}: subPathExpr is not supported by rpod's kube play (use subPath)");
            }
            let sub = m.sub_path.as_deref().filter(|s| !s.is_empty());
            if let Some(sp) = sub {
                check_rel_path(sp, &format!("{wm}: subPath"))?;
                if sp.contains(':') || sp.contains(',') {
                    bail!("{wm}: subPath {sp:?}: rpod cannot mount a path with ':' or ','");
                }
            }
            let Some(src) = sources.get(&m.name) else {
                if spec
                    .volumes
                    .iter()
                    .any(|v| v.name == m.name && (v.config_map.is_some() || v.secret.is_some()))
                {
                    continue; // an optional configMap or secret that isn't there
                }
                bail!("{wm}: no volume named {:?} in spec.volumes", m.name);
            };
            if let Some(sp) = sub {
                if src.starts_with("tmpfs:") {
                    bail!("{wm}: subPath of an emptyDir of medium Memory is not supported");
                }
                // A part of a volume is safe to mount by its path only
                // while nothing of the pod can swap a directory above it
                // for a symlink: no container may mount the volume
                // writable at its root, or at a subPath above this one.
                if !src.ends_with(":ro-cm") {
                    let mine = sub_parts(sp);
                    for other in spec.init_containers.iter().chain(&spec.containers) {
                        for m2 in other
                            .volume_mounts
                            .iter()
                            .filter(|m2| m2.name == m.name && !m2.read_only)
                        {
                            let theirs = m2.sub_path.as_deref().map(sub_parts).unwrap_or_default();
                            if theirs.len() < mine.len() && mine.starts_with(&theirs) {
                                bail!(
                                    "{wm}: subPath {sp:?}: container {:?} mounts volume {:?} writable {}, where it could swap a directory of the subPath for a symlink: mount it readOnly there",
                                    other.name,
                                    m.name,
                                    if theirs.is_empty() { "whole".to_string() } else { format!("at subPath {:?}", m2.sub_path.as_deref().unwrap_or("")) },
                                );
                            }
                        }
                    }
                }
                subpaths.push(SubPath {
                    src: src.clone(),
                    sub: sp.to_string(),
                    dest: m.mount_path.clone(),
                    ro: m.read_only || src.ends_with(":ro-cm"),
                    what: wm.clone(),
                });
            } else if src.starts_with("tmpfs:") {
                tmpfs.push(m.mount_path.clone());
            } else if let Some(cm) = src.strip_suffix(":ro-cm") {
                vols.push(format!("{cm}:{}:ro", m.mount_path));
            } else {
                let ro = if m.read_only { ":ro" } else { "" };
                vols.push(format!("{src}:{}{ro}", m.mount_path));
            }
        }
        let sc = c.security_context.clone().unwrap_or_default();
        let uid = sc.run_as_user.or(pod_sc.run_as_user);
        let gid = sc.run_as_group.or(pod_sc.run_as_group);
        for (f, x) in [("runAsUser", uid), ("runAsGroup", gid)] {
            if x.is_some_and(|x| !(0..=i64::from(u32::MAX - 1)).contains(&x)) {
                bail!(
                    "{w}: securityContext.{f}: {} is out of range",
                    x.unwrap_or(0)
                );
            }
        }
        let user = uid.map(|u| match gid {
            Some(g) => format!("{u}:{g}"),
            None => u.to_string(),
        });
        let caps = sc.capabilities.clone().unwrap_or_default();
        let (mut memory, mut cpus) = (None, None);
        if let Some(r) = &c.resources {
            for (k, v) in &r.limits {
                let q = quantity(v).with_context(|| format!("{w}: resources.limits.{k}"))?;
                match k.as_str() {
                    "memory" => memory = Some(q as i64),
                    "cpu" => cpus = Some(q),
                    _ => warn!("{w}: resources.limits.{k} is not supported: ignored"),
                }
            }
            for (k, v) in &r.requests {
                quantity(v).with_context(|| format!("{w}: resources.requests.{k}"))?;
            }
        }
        let (entrypoint, command) = match (c.command.is_empty(), c.args.is_empty()) {
            (false, _) => (Some(c.command.clone()), c.args.clone()),
            (true, _) => (None, c.args.clone()),
        };
        if let Some(wd) = &c.working_dir {
            if !wd.starts_with('/') {
                bail!("{w}: workingDir {wd:?} must be an absolute path");
            }
        }
        // podman's `io.podman.annotations.init/NAME` (--init) and
        // `.autoremove/NAME` (--rm), as `kube generate` writes them.
        let flag = |key: &str| -> Result<bool> {
            match obj.annotations.get(&format!("{key}/{}", c.name)) {
                None => Ok(false),
                Some(v) => go_bool(v)
                    .with_context(|| format!("{what}: metadata.annotations: {key}/{}", c.name)),
            }
        };
        let with_init = flag("io.podman.annotations.init")?;
        let mut autoremove = flag("io.podman.annotations.autoremove")? && !init;
        if autoremove && restart != RestartPolicy::No {
            warn!("{w}: io.podman.annotations.autoremove: ignored, as restartPolicy restarts the container");
            autoremove = false;
        }
        let health = match (&c.liveness_probe, init) {
            (Some(p), false) => health_of(p, restart, &w)?,
            _ => Default::default(),
        };
        let cspec = ContainerSpec {
            image: c.image.clone(),
            command,
            entrypoint,
            name: Some(name),
            replace: o.replace,
            env,
            volumes: vols,
            tmpfs,
            workdir: c.working_dir.clone(),
            user,
            hostname: spec.hostname.clone(),
            read_only: sc.read_only_root_filesystem.unwrap_or(false),
            cap_add: caps.add.clone(),
            cap_drop: caps.drop.clone(),
            privileged: sc.privileged.unwrap_or(false),
            memory,
            cpus,
            interactive: c.stdin,
            tty: c.tty,
            restart: Some(if init { RestartPolicy::No } else { restart }),
            stop_timeout,
            health,
            create_command: o.create_command.clone(),
            init: with_init,
            rm: autoremove,
            more: crate::container::more::MoreSpec {
                annotations: annotations.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        ctrs.push(CtrPlan {
            spec: cspec,
            init,
            pull: pull_policy(c, &w)?,
            image: None,
            subpaths,
        });
    }
    Ok(PodPlan {
        obj: obj.clone(),
        publish: publish.into_iter().map(|(_, _, s)| s).collect(),
        network,
        ctrs,
        volumes,
    })
}

/// Check a YAML stream without creating anything (what `play` checks
/// first): the pods it would make, by name.
pub fn check(opts: &Options, text: &str, o: &PlayOptions) -> Result<Vec<String>> {
    let mut objs = parse_objects(text, &o.configmaps)?;
    load_store_secrets(opts, &mut objs)?;
    for p in &objs.pods {
        plan_pod(p, &objs.configmaps, &objs.secrets, o)?;
    }
    Ok(objs.pods.into_iter().map(|p| p.name).collect())
}

/// Write a new configMap volume's files, each resolved inside it.
fn fill_configmap_volume(root: &Path, files: &[(String, Vec<u8>, u32)]) -> Result<()> {
    use std::io::Write;
    use std::os::fd::AsFd;
    let rootfd = crate::sys::inroot::open_root(root)
        .with_context(|| format!("opening {}", root.display()))?;
    for (path, data, mode) in files {
        let (dir, name) = crate::sys::inroot::parent(rootfd.as_fd(), Path::new(path), true)
            .with_context(|| format!("configmap file {path}"))?;
        let fd = crate::sys::fsx::open_beneath(
            dir.as_fd(),
            Path::new(&name),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW,
            *mode,
        )
        .with_context(|| format!("writing configmap file {path}"))?;
        let mut f = std::fs::File::from(fd);
        // O_TRUNC|O_CREAT leaves an existing file's mode: set it.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(*mode))
            .and_then(|_| f.write_all(data))
            .and_then(|_| f.sync_all())
            .with_context(|| format!("writing configmap file {path}"))?;
    }
    Ok(())
}

/// A subPath inside its volume: the directory (made when missing) or file
/// it names, symlinks resolved inside the volume (a `..` or an absolute
/// symlink stays in it); the volume's real path and the subPath's, which
/// have no symlink left.
fn resolve_subpath(vols: &crate::volume::Volumes, sp: &SubPath) -> Result<(PathBuf, PathBuf)> {
    use std::os::fd::{AsFd, AsRawFd};
    let root = if sp.src.starts_with('/') {
        PathBuf::from(&sp.src)
    } else {
        let name = sp.src.strip_suffix(":ro-cm").unwrap_or(&sp.src);
        match vols.get(name)? {
            Some(v) if (v.driver != "local" && !v.driver.is_empty()) || !v.options.is_empty() => {
                bail!(
                    "{}: subPath: volume {name} is mounted by its driver or options when a container starts: a subPath of it is not supported",
                    sp.what
                )
            }
            Some(_) => {}
            None => {
                vols.create(&crate::volume::CreateOptions {
                    name: Some(name.to_string()),
                    ignore: true,
                    ..Default::default()
                })?;
            }
        }
        vols.mountpoint(name)
    };
    let real_root = std::fs::canonicalize(&root)
        .with_context(|| format!("{}: subPath: {}", sp.what, root.display()))?;
    let rootfd = crate::sys::inroot::open_root(&real_root)
        .with_context(|| format!("{}: subPath: opening {}", sp.what, real_root.display()))?;
    let sub = Path::new(&sp.sub);
    let fd = match crate::sys::inroot::open(rootfd.as_fd(), sub, true) {
        Err(nix::errno::Errno::ENOENT) => {
            crate::sys::inroot::create(rootfd.as_fd(), sub, crate::sys::inroot::Create::Dir(0o755))
        }
        r => r,
    }
    .with_context(|| format!("{}: subPath {:?}", sp.what, sp.sub))?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .with_context(|| format!("{}: subPath {:?}", sp.what, sp.sub))?;
    if !real.starts_with(&real_root) {
        bail!("{}: subPath {:?} leads out of its volume", sp.what, sp.sub);
    }
    let shown = real.to_string_lossy();
    if shown.contains(':') || shown.contains(',') {
        bail!(
            "{}: subPath {:?} is at {shown}: rpod cannot mount a path with ':' or ','",
            sp.what,
            sp.sub
        );
    }
    Ok((real_root, real))
}

/// Every subPath of a pod resolved, as `--mount` specs per container (in
/// the plans' order). A writable one above another (through a symlink the
/// names did not show) is refused, as [`plan_pod`] refuses it by name.
/// Each is a `subpath=` of its volume, which the runtime resolves inside
/// the volume again at every start: a container of another pod that swaps
/// a directory of it for a symlink can't make it a host directory.
fn resolve_subpaths(vols: &crate::volume::Volumes, ctrs: &[CtrPlan]) -> Result<Vec<Vec<String>>> {
    let mut all: Vec<(usize, PathBuf, PathBuf, &SubPath)> = Vec::new();
    for (i, c) in ctrs.iter().enumerate() {
        for sp in &c.subpaths {
            let (root, real) = resolve_subpath(vols, sp)?;
            all.push((i, root, real, sp));
        }
    }
    for (_, _, a, spa) in all.iter().filter(|(_, _, _, sp)| !sp.ro) {
        for (_, _, b, spb) in &all {
            if b != a && b.starts_with(a) {
                bail!(
                    "{}: subPath {:?} is inside the writable subPath {:?} of {}: a container could swap a directory of it for a symlink",
                    spb.what,
                    spb.sub,
                    spa.sub,
                    spa.what
                );
            }
        }
    }
    let mut out = vec![Vec::new(); ctrs.len()];
    for (i, root, real, sp) in all {
        let ro = if sp.ro { ",ro" } else { "" };
        let rel = real.strip_prefix(&root).unwrap_or(Path::new(""));
        let sub = if rel.as_os_str().is_empty() {
            String::new()
        } else {
            format!(",subpath={}", rel.display())
        };
        let src = if sp.src.starts_with('/') {
            format!("type=bind,src={}", root.display())
        } else {
            let name = sp.src.strip_suffix(":ro-cm").unwrap_or(&sp.src);
            format!("type=volume,src={name}")
        };
        out[i].push(format!("{src},dst={}{sub}{ro}", sp.dest));
    }
    Ok(out)
}

/// The label of a secret volume kube play made: the secret's name.
const SECRET_LABEL: &str = "io.rpod.kube.secret";

/// The label of the anonymous volumes (emptyDirs) made for a pod: its name.
const POD_LABEL: &str = "io.rpod.kube.pod";

/// Remove a pod and the anonymous volumes (emptyDirs) its containers used
/// or that were made for it.
fn teardown(opts: &Options, paths: &Paths, pod: &crate::pod::PodRecord) -> Result<()> {
    let members = crate::pod::members(paths, &pod.id)?;
    let mut vols: Vec<String> = members
        .iter()
        .flat_map(|(r, _)| crate::volume::volume_names(r))
        .collect();
    crate::pod::remove(paths, pod, true, None)?;
    let v = crate::volume::Volumes::open(opts)?;
    for x in v.list()? {
        if x.anonymous && x.labels.get(POD_LABEL) == Some(&pod.name) && !vols.contains(&x.name) {
            vols.push(x.name);
        }
    }
    if !vols.is_empty() {
        for n in vols {
            if v.get(&n)?.is_some_and(|x| x.anonymous) && v.users(&n).is_empty() {
                if let Err(e) = v.remove(&n, false, None) {
                    warn!("removing volume {n} of pod {}: {e:#}", pod.name);
                }
            }
        }
    }
    Ok(())
}

/// Start a played pod: its infra, its init containers one after another
/// (each must exit 0; then it is removed, podman's "once"), then the rest.
fn start_pod(
    opts: &Options,
    paths: &Paths,
    pod: &crate::pod::PodRecord,
    inits: &Ids,
    ctrs: &Ids,
) -> Vec<String> {
    let mut errs = Vec::new();
    if !pod.infra_id.is_empty() {
        if let Err(e) = ctr::start(opts, paths, &pod.infra_id, false) {
            errs.push(format!("starting the infra of pod {}: {e:#}", pod.name));
            return errs;
        }
    }
    for (id, name) in inits {
        let r = ctr::start(opts, paths, id, false)
            .and_then(|_| ctr::wait(paths, id, &[ctr::WaitCondition::Stopped]));
        match r {
            Ok(0) => {
                if let Err(e) = ctr::lifecycle::remove_container(paths, id, true, Some(0)) {
                    warn!("removing init container {name}: {e:#}");
                }
            }
            Ok(c) => {
                errs.push(format!("init container {name} exited with code {c}"));
                return errs;
            }
            Err(e) => {
                errs.push(format!("starting init container {name}: {e:#}"));
                return errs;
            }
        }
    }
    // The containers at once (each start waits for its monitor), reported
    // in the YAML's order.
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = ctrs
            .iter()
            .map(|(id, _)| s.spawn(move || ctr::start(opts, paths, id, false).map(|_| ())))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("the start panicked")))
            })
            .collect()
    });
    for ((_, name), r) in ctrs.iter().zip(results) {
        if let Err(e) = r {
            errs.push(format!("starting container {name}: {e:#}"));
        }
    }
    errs
}

/// Create (and start) what `text` describes. The caller has entered no
/// user namespace and started no thread (this enters rpod's once the pods
/// to replace are stopped); `pull` gets each image by the container's pull
/// policy.
pub fn play(
    opts: &Options,
    paths: &Paths,
    text: &str,
    o: &PlayOptions,
    pull: &dyn Fn(&str, PullPolicy) -> Result<ImageRecord>,
    build: &dyn Fn(&Path, &str) -> Result<()>,
) -> Result<PlayReport> {
    let mut objs = parse_objects(text, &o.configmaps)?;
    load_store_secrets(opts, &mut objs)?;
    let mut plans = Vec::new();
    for p in &objs.pods {
        plans.push(plan_pod(p, &objs.configmaps, &objs.secrets, o)?);
    }
    crate::pod::reconcile(paths);
    // The pods --replace removes are stopped first, as the user: a member
    // running as another uid can't be signalled from a new user namespace.
    let mut old = Vec::new();
    for plan in &plans {
        if let Ok(p) = crate::pod::resolve(paths, &plan.obj.name) {
            if p.name == plan.obj.name {
                if !o.replace {
                    bail!(
                        "adding pod to state: name \"{}\" is in use: pod already exists",
                        p.name
                    );
                }
                crate::pod::stop(paths, &p, None)
                    .with_context(|| format!("replacing pod {}", p.name))?;
                old.push(p);
            }
        }
    }
    // Pods on networks need the rootless network namespace's user
    // namespace: joined now, while this process is still single-threaded.
    if plans
        .iter()
        .any(|p| matches!(p.network, Some(NetworkMode::Bridge(_))))
    {
        crate::network::bridge::enter_for_command(paths)?;
    } else {
        crate::userns::enter()?;
    }
    for p in &old {
        teardown(opts, paths, p).with_context(|| format!("replacing pod {}", p.name))?;
    }
    // Images before anything is made: a missing one leaves nothing behind.
    let mut images: BTreeMap<String, ImageRecord> = BTreeMap::new();
    for plan in &mut plans {
        for c in &mut plan.ctrs {
            let img = match images.get(&c.spec.image) {
                Some(i) => i.clone(),
                None => {
                    let what = || format!("{}: image {}", plan.obj.what, c.spec.image);
                    // A build directory: built when --build says so or
                    // the image is not in the store, else the store's.
                    let i = match build_dir(o, &c.spec.image)? {
                        Some(dir) => {
                            let local = if o.build == Some(true) {
                                None
                            } else {
                                pull(&c.spec.image, PullPolicy::Never).ok()
                            };
                            match local {
                                Some(i) => i,
                                None => {
                                    build(&dir, &c.spec.image).with_context(|| {
                                        format!("{}: building it from {}", what(), dir.display())
                                    })?;
                                    pull(&c.spec.image, PullPolicy::Never).with_context(what)?
                                }
                            }
                        }
                        None => pull(&c.spec.image, c.pull).with_context(what)?,
                    };
                    images.insert(c.spec.image.clone(), i.clone());
                    i
                }
            };
            c.image = Some(img);
        }
    }
    let mut report = PlayReport::default();
    // The YAML's Secrets, each replacing a secret of its name (podman's).
    if !objs.new_secrets.is_empty() {
        let store = crate::secret::Secrets::open(opts)?;
        for (name, text) in &objs.new_secrets {
            if store.get(name)?.is_some_and(|s| s.name == *name) {
                store
                    .remove(name)
                    .with_context(|| format!("Secret {name}: replacing the secret"))?;
            }
            let s = store
                .create(
                    &crate::secret::CreateOptions {
                        name: name.clone(),
                        driver: "file".into(),
                        ..Default::default()
                    },
                    text.as_bytes(),
                )
                .with_context(|| format!("Secret {name}"))?;
            report.secrets.push(s.id);
        }
    }
    let vols = crate::volume::Volumes::open(opts)?;
    for pvc in &objs.pvcs {
        let mut options = Vec::new();
        let mut driver = None;
        for (k, v) in &pvc.metadata.annotations {
            let Some(key) = k.strip_prefix("volume.podman.io/") else {
                continue;
            };
            match key {
                "driver" => driver = Some(v.clone()),
                "mount-options" => options.push(("o".to_string(), v.clone())),
                "device" | "type" | "uid" | "gid" => options.push((key.to_string(), v.clone())),
                _ => warn!(
                    "PersistentVolumeClaim {}: annotation {k} is not supported: ignored",
                    pvc.metadata.name
                ),
            }
        }
        vols.create(&crate::volume::CreateOptions {
            name: Some(pvc.metadata.name.clone()),
            driver,
            labels: pvc.metadata.labels.clone().into_iter().collect(),
            options,
            ignore: true,
            anonymous: false,
        })
        .with_context(|| format!("PersistentVolumeClaim {}", pvc.metadata.name))?;
        report.volumes.push(pvc.metadata.name.clone());
    }
    for plan in plans {
        let name = plan.obj.name.clone();
        for v in &plan.volumes {
            match v {
                VolPlan::HostDir(p) => {
                    std::fs::create_dir_all(p).with_context(|| {
                        format!("{}: creating hostPath {}", plan.obj.what, p.display())
                    })?;
                }
                VolPlan::HostFile(p) => {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(p)
                        .with_context(|| {
                            format!("{}: creating hostPath {}", plan.obj.what, p.display())
                        })?;
                }
                _ => {}
            }
        }
        let pod = crate::pod::create(
            opts,
            paths,
            &crate::pod::PodSpec {
                name: Some(name.clone()),
                labels: plan
                    .obj
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                publish: plan.publish.clone(),
                network: plan.network.clone(),
                hostname: plan.obj.spec.hostname.clone(),
                infra: true,
                create_command: o.create_command.clone(),
                ..Default::default()
            },
        )
        .with_context(|| format!("{}: creating the pod", plan.obj.what))?;
        let made = (|| -> Result<(Ids, Ids)> {
            for v in &plan.volumes {
                match v {
                    VolPlan::Empty(n) => {
                        // Labelled with its pod: a kill -9 before a
                        // container uses it leaves it to the pod's
                        // teardown, not to nobody.
                        vols.create(&crate::volume::CreateOptions {
                            name: Some(n.clone()),
                            anonymous: true,
                            labels: vec![(POD_LABEL.to_string(), name.clone())],
                            ..Default::default()
                        })?;
                    }
                    VolPlan::Files {
                        volume,
                        files,
                        refresh,
                    } => {
                        let _l = vols.lock()?;
                        let old = vols.get(volume)?;
                        let new = old.is_none();
                        // A secret's files are written again only into the
                        // volume kube play made for it: a volume of the
                        // same name the user made keeps its files.
                        let mark = [(SECRET_LABEL.to_string(), volume.clone())];
                        if *refresh
                            && old.is_some_and(|v| v.labels.get(SECRET_LABEL) != Some(volume))
                        {
                            bail!(
                                "secret volume {volume}: a volume of that name exists that kube play did not make for the secret: refusing to write the secret's files into it"
                            );
                        }
                        if new {
                            vols.create_locked(&crate::volume::CreateOptions {
                                name: Some(volume.clone()),
                                labels: if *refresh { mark.to_vec() } else { Vec::new() },
                                ..Default::default()
                            })?;
                        }
                        if new || *refresh {
                            fill_configmap_volume(&vols.mountpoint(volume), files)
                                .with_context(|| format!("volume {volume}"))?;
                        }
                    }
                    _ => {}
                }
            }
            let subs = resolve_subpaths(&vols, &plan.ctrs)?;
            let (mut inits, mut rest) = (Vec::new(), Vec::new());
            for (c, subs) in plan.ctrs.iter().zip(subs) {
                let mut spec = c.spec.clone();
                spec.mounts.extend(subs);
                crate::pod::member_spec(&pod, &mut spec)?;
                // hostNetwork: the members are in the host's network
                // namespace as the infra is, but joined as `host` (joined
                // as `container:INFRA`, the runtime would refuse the
                // default net sysctls in the host's namespace).
                if plan.network == Some(NetworkMode::Host) {
                    spec.network = NetworkMode::Host;
                }
                let img = c.image.clone().expect("pulled above");
                let rec =
                    ctr::create::create(opts, paths, &spec, |_| Ok(img)).with_context(|| {
                        format!(
                            "creating container {}",
                            spec.name.clone().unwrap_or_default()
                        )
                    })?;
                if c.init {
                    inits.push((rec.id, rec.name));
                } else {
                    rest.push((rec.id, rec.name));
                }
            }
            Ok((inits, rest))
        })();
        let (inits, rest) = match made {
            Ok(x) => x,
            Err(e) => {
                if let Err(e2) = teardown(opts, paths, &pod) {
                    warn!("removing the half-made pod {name}: {e2:#}");
                }
                for v in &plan.volumes {
                    if let VolPlan::Empty(n) = v {
                        let _ = vols.remove(n, true, Some(0));
                    }
                }
                return Err(e.context(plan.obj.what.clone()));
            }
        };
        let errors = if o.start {
            start_pod(opts, paths, &pod, &inits, &rest)
        } else {
            Vec::new()
        };
        report.pods.push(PodReport {
            id: pod.id.clone(),
            name,
            containers: rest.into_iter().map(|(id, _)| id).collect(),
            errors,
        });
    }
    Ok(report)
}

/// Stop and remove the pods `text` describes (what `play` made of it).
/// The caller has entered no user namespace: the pods are stopped as the
/// user, then removed in rpod's user namespace.
pub fn down(opts: &Options, paths: &Paths, text: &str) -> Result<DownReport> {
    let objs = parse_objects(text, &[])?;
    crate::pod::reconcile(paths);
    let mut report = DownReport::default();
    let mut found = Vec::new();
    for p in &objs.pods {
        match crate::pod::resolve(paths, &p.name) {
            Ok(pod) if pod.name == p.name => found.push(pod),
            Ok(_) => report.errors.push(crate::pod::no_such(&p.name)),
            Err(e) => report.errors.push(e),
        }
    }
    for pod in &found {
        match crate::pod::stop(paths, pod, None) {
            Ok(()) => report.stopped.push(pod.id.clone()),
            Err(e) => report.errors.push(e),
        }
    }
    crate::userns::enter()?;
    for pod in &found {
        match teardown(opts, paths, pod) {
            Ok(()) => report.removed.push(pod.id.clone()),
            Err(e) => report.errors.push(e),
        }
    }
    // The secrets the YAML's Secrets made (podman 4.4's kube down; those
    // already gone are no error).
    if !objs.new_secrets.is_empty() {
        let store = crate::secret::Secrets::open(opts)?;
        for (name, _) in &objs.new_secrets {
            match store.get(name) {
                Ok(Some(s)) if s.name == *name => match store.remove(name) {
                    Ok(id) => report.secrets.push(id),
                    Err(e) => report
                        .errors
                        .push(e.context(format!("removing secret {name}"))),
                },
                Ok(_) => {}
                Err(e) => report.errors.push(e),
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  A: one\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: alpine\n    command: [sleep, \"9\"]\n    envFrom:\n    - configMapRef:\n        name: cm\n    env:\n    - name: B\n      valueFrom:\n        configMapKeyRef: {name: cm, key: A}\n    ports:\n    - containerPort: 80\n      hostPort: 8080\n";

    #[test]
    fn plans_a_pod_with_its_configmap() {
        let o = PlayOptions::default();
        let objs = parse_objects(POD, &[]).unwrap();
        let p = plan_pod(&objs.pods[0], &objs.configmaps, &objs.secrets, &o).unwrap();
        let c = &p.ctrs[0].spec;
        assert_eq!(c.name.as_deref(), Some("web-c"));
        assert_eq!(c.entrypoint, Some(vec!["sleep".to_string(), "9".into()]));
        assert_eq!(c.env, vec!["A=one".to_string(), "B=one".into()]);
        assert_eq!(p.publish, vec!["8080:80/tcp".to_string()]);
        let o = PlayOptions {
            publish: vec!["9090:80".into()],
            ..Default::default()
        };
        let p = plan_pod(&objs.pods[0], &objs.configmaps, &objs.secrets, &o).unwrap();
        assert_eq!(p.publish, vec!["9090:80".to_string()]);
    }

    #[test]
    fn names_the_document_and_field_at_fault() {
        let e = parse_objects("kind: StatefulSet\nmetadata: {name: s}\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"StatefulSet\"") && e.contains("document 1"),
            "{e}"
        );
        let y = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x\n    ports:\n    - containerPort: notaport\n";
        let e = parse_objects(y, &[]).unwrap_err().to_string();
        assert!(
            e.contains("document 1 (Pod \"p\")")
                && e.contains("spec.containers[0].ports[0].containerPort"),
            "{e}"
        );
    }

    #[test]
    fn refuses_names_that_climb_out() {
        let o = PlayOptions::default();
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {A: x}\n---\n";
        let pod = |vol: &str| {
            format!("{cm}apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: c\n    image: x\n    volumeMounts:\n    - {{name: v, mountPath: /m}}\n  volumes:\n  - name: v\n    {vol}\n")
        };
        for vol in [
            "configMap: {name: cm, items: [{key: A, path: ../../x}]}",
            "configMap: {name: cm, items: [{key: A, path: /etc/x}]}",
            "persistentVolumeClaim: {claimName: ../x}",
        ] {
            let objs = parse_objects(&pod(vol), &[]).unwrap();
            assert!(
                plan_pod(&objs.pods[0], &objs.configmaps, &objs.secrets, &o).is_err(),
                "{vol}"
            );
        }
        let e = parse_objects(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {\"../x\": y}\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a valid ConfigMap key"), "{e}");
    }

    #[test]
    fn probes_become_healthchecks() {
        let p: super::super::Probe = serde_json::from_value(serde_json::json!(
            {"httpGet": {"path": "/healthz", "port": "8080"}, "periodSeconds": 3}
        ))
        .unwrap();
        let h = health_of(&p, RestartPolicy::No, "c").unwrap();
        assert_eq!(
            h.cmd.as_deref(),
            Some(r#"["CMD-SHELL","curl -f http://localhost:8080/healthz || exit 1"]"#)
        );
        assert_eq!(h.interval.as_deref(), Some("3s"));
        let p: super::super::Probe = serde_json::from_value(
            serde_json::json!({"tcpSocket": {"port": 53, "host": "a; rm -rf /"}}),
        )
        .unwrap();
        assert!(health_of(&p, RestartPolicy::Always, "c").is_err());
    }

    #[test]
    fn secrets_from_yaml_and_from_the_store() {
        let y = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YWRtaW4=, b: eA==}\nstringData: {b: plain}\n";
        let o = parse_objects(y, &[]).unwrap();
        let s = &o.secrets["s"];
        assert_eq!(s["a"], b"admin");
        // stringData wins over data, as Kubernetes merges them.
        assert_eq!(s["b"], b"plain");
        // What is stored reads back the same.
        let (name, text) = &o.new_secrets[0];
        assert_eq!(name, "s");
        assert_eq!(&stored_secret_items("s", text.as_bytes()).unwrap(), s);
        // podman's JSON form.
        let j = stored_secret_items("j", br#"{"k":"djE="}"#).unwrap();
        assert_eq!(j["k"], b"v1");
        assert!(stored_secret_items("x", b"just text").is_err());
        assert!(stored_secret_items("x", br#"{"../k":"djE="}"#).is_err());
    }

    #[test]
    fn services_publish_their_node_ports_on_the_pods_they_select() {
        let y = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n  selector: {app: a}\n  ports:\n  - {port: 80, targetPort: web, nodePort: 30080}\n  - {port: 81, nodePort: 30081}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: a}}\nspec:\n  containers:\n  - name: c\n    image: x\n    ports:\n    - {name: web, containerPort: 8080}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: q, labels: {app: b}}\nspec:\n  containers:\n  - {name: c, image: x}\n";
        let o = parse_objects(y, &[]).unwrap();
        let p = plan_pod(
            &o.pods[0],
            &o.configmaps,
            &o.secrets,
            &PlayOptions::default(),
        )
        .unwrap();
        assert_eq!(
            p.publish,
            vec!["30080:8080/tcp".to_string(), "30081:81/tcp".into()]
        );
        let q = plan_pod(
            &o.pods[1],
            &o.configmaps,
            &o.secrets,
            &PlayOptions::default(),
        )
        .unwrap();
        assert!(q.publish.is_empty());
    }

    #[test]
    fn build_directories_and_go_booleans() {
        let d = std::env::temp_dir().join(format!("rpod-kube-bd-{}", std::process::id()));
        std::fs::create_dir_all(d.join("app")).unwrap();
        std::fs::write(d.join("app/Dockerfile"), "FROM x\n").unwrap();
        let o = PlayOptions {
            context_dir: Some(d.clone()),
            ..Default::default()
        };
        for img in [
            "app",
            "app:1",
            "quay.io/x/app@sha256:00",
            "localhost:5000/app:2",
        ] {
            assert_eq!(build_dir(&o, img).unwrap(), Some(d.join("app")), "{img}");
        }
        for img in ["other", "..", ".app"] {
            assert_eq!(build_dir(&o, img).unwrap(), None, "{img}");
        }
        let off = PlayOptions {
            build: Some(false),
            ..o
        };
        assert_eq!(build_dir(&off, "app").unwrap(), None);
        std::fs::remove_dir_all(&d).unwrap();
        assert!(go_bool("TRUE").unwrap() && go_bool("t").unwrap() && !go_bool("False").unwrap());
        assert!(go_bool("yes").is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(&serde_json::json!("100Mi")).unwrap(), 104857600.0);
        assert_eq!(quantity(&serde_json::json!("500m")).unwrap(), 0.5);
        assert_eq!(quantity(&serde_json::json!(2)).unwrap(), 2.0);
        assert!(quantity(&serde_json::json!("lots")).is_err());
    }
}
