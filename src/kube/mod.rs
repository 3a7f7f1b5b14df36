//! Kubernetes YAML: `kube generate` (podman 4.3's `generate kube`) of
//! containers, pods and volumes to Pod, Service and PersistentVolumeClaim
//! objects, through typed models of the Kubernetes core/v1 API (the subset
//! rpod writes) and [`yaml`].

pub mod load;
pub mod play;
pub mod yaml;

use crate::container::record::{self, ContainerRecord, Paths};
use crate::options::Options;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// Where an environment variable's value comes from (`valueFrom`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_field_ref: Option<serde_json::Value>,
}

/// A key of a ConfigMap or Secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySelector {
    #[serde(default)]
    pub name: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A ConfigMap or Secret by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalRef {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// `envFrom`: every key of a ConfigMap (or Secret) as a variable.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalRef>,
}

/// A `livenessProbe`: `kube play` makes it the container's healthcheck.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecAction {
    #[serde(default)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A number (or a numeric string).
    pub port: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpSocketAction {
    pub port: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A container's `resources` (quantities as Kubernetes writes them: a
/// number or a string such as "100Mi" or "500m").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResources {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub container_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// TCP (the default, left out) or UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub mount_path: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    /// Read only to refuse it: rpod expands no subPathExpr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path_expr: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ContainerResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tty: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcSource {
    pub claim_name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPathSource {
    pub path: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDirSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PvcSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPathSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolumeSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
}

/// A Secret's keys as files.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVolumeSource {
    #[serde(default)]
    pub secret_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A ConfigMap's keys as files.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapVolumeSource {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyToPath {
    pub key: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// The pod-wide `securityContext` (its user and group).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_service_links: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: String,
    pub port: u16,
    pub target_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    pub ports: Vec<ServicePort>,
    pub selector: BTreeMap<String, String>,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ServiceSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcSpec {
    #[serde(default)]
    pub access_modes: Vec<String>,
    #[serde(default)]
    pub resources: ResourceRequirements,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaim {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: PvcSpec,
}

/// A Deployment (apps/v1): `kube play` runs one replica of its template.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: DeploymentSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    pub template: PodTemplateSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
}

/// A ConfigMap: its `data` feeds env, envFrom and configMap volumes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// A Secret (v1): `kube play` stores it as an rpod secret of its name
/// (its YAML, as podman stores it) for env, envFrom and secret volumes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretObject {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Base64 values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: BTreeMap<String, String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

/// A DaemonSet (apps/v1): `kube play` runs its template once, a pod
/// named NAME-pod (podman's).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSet {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: DaemonSetSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetSpec {
    pub template: PodTemplateSpec,
}

/// A Service as `kube play` reads it: a NodePort's nodePorts are
/// published on the pods its selector picks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceIn {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ServiceSpecIn,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpecIn {
    #[serde(default)]
    pub ports: Vec<ServicePortIn>,
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePortIn {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub port: u16,
    /// A number, or the name of a container port.
    #[serde(default)]
    pub target_port: Option<serde_json::Value>,
    #[serde(default)]
    pub node_port: Option<u16>,
    #[serde(default)]
    pub protocol: Option<String>,
}

/// What `kube generate` makes, in the order it prints them.
#[derive(Debug, Clone)]
pub enum Object {
    Service(Service),
    Pod(Pod),
    Pvc(PersistentVolumeClaim),
}

impl Object {
    fn value(&self) -> Result<serde_json::Value> {
        Ok(match self {
            Object::Service(s) => serde_json::to_value(s)?,
            Object::Pod(p) => serde_json::to_value(p)?,
            Object::Pvc(p) => serde_json::to_value(p)?,
        })
    }
}

/// `kube generate`'s options.
#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    /// Also a Service (type NodePort) for the published ports.
    pub service: bool,
}

/// Environment entries podman leaves out (set by the engine, or the image's).
const ENGINE_ENV: &[&str] = &["PATH", "TERM", "container", "HOSTNAME", "HOME"];

/// A volume name Kubernetes accepts: a DNS-1123 label from `s`.
fn dns_label(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-').to_string();
    let out = if out.is_empty() { "vol".into() } else { out };
    out.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

fn container_of(
    opts: &Options,
    rec: &ContainerRecord,
    ports: &[crate::network::ports::PortMapping],
    volumes: &mut Vec<Volume>,
) -> Result<Container> {
    let store = crate::storage::Store::open(opts)?;
    let image_env: Vec<String> = store
        .image_by_id(&rec.image_id)?
        .and_then(|i| store.image_config(&i).ok())
        .and_then(|c| c.config().clone())
        .and_then(|c| c.env().clone())
        .unwrap_or_default();
    let env = rec
        .env
        .iter()
        .filter(|e| !image_env.contains(e))
        .filter_map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            (!ENGINE_ENV.contains(&k)).then(|| EnvVar {
                name: k.to_string(),
                value: v.to_string(),
                ..Default::default()
            })
        })
        .collect();
    let mut mounts = Vec::new();
    for m in &rec.mounts {
        let (name, vol) = match m.kind.as_str() {
            "volume" if !m.name.is_empty() && m.name.len() != 64 => {
                let n = dns_label(&format!("{}-pvc", m.name));
                let v = Volume {
                    name: n.clone(),
                    persistent_volume_claim: Some(PvcSource {
                        claim_name: m.name.clone(),
                    }),
                    ..Default::default()
                };
                (n, v)
            }
            "bind" => {
                let n = dns_label(&format!("{}-host", m.source));
                let kind = if std::path::Path::new(&m.source).is_file() {
                    "File"
                } else {
                    "Directory"
                };
                let v = Volume {
                    name: n.clone(),
                    host_path: Some(HostPathSource {
                        path: m.source.clone(),
                        kind: Some(kind.into()),
                    }),
                    ..Default::default()
                };
                (n, v)
            }
            "tmpfs" => {
                let n = dns_label(&format!("{}-tmpfs", m.destination));
                let v = Volume {
                    name: n.clone(),
                    empty_dir: Some(EmptyDirSource {
                        medium: Some("Memory".into()),
                    }),
                    ..Default::default()
                };
                (n, v)
            }
            // Anonymous volumes have no name to claim: an emptyDir.
            _ => {
                let n = dns_label(&format!("{}-anon", m.destination));
                let v = Volume {
                    name: n.clone(),
                    empty_dir: Some(EmptyDirSource::default()),
                    ..Default::default()
                };
                (n, v)
            }
        };
        if !volumes.iter().any(|v| v.name == name) {
            volumes.push(vol);
        }
        mounts.push(VolumeMount {
            mount_path: m.destination.clone(),
            name,
            read_only: !m.rw,
            // `--mount ...,subpath=SUB`: Kubernetes' subPath (podman 5
            // writes it too), which kube play mounts the same way.
            sub_path: crate::runtime::mounts::subpath_of(&m.options).map(String::from),
            sub_path_expr: None,
        });
    }
    let ids: Vec<i64> = rec
        .user
        .split(':')
        .map(|p| p.parse::<i64>().unwrap_or(-1))
        .collect();
    let caps = (!rec.cap_add.is_empty() || !rec.cap_drop.is_empty()).then(|| {
        let norm = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|c| {
                    let c = c.to_ascii_uppercase();
                    c.strip_prefix("CAP_").map(String::from).unwrap_or(c)
                })
                .collect()
        };
        Capabilities {
            add: norm(&rec.cap_add),
            drop: norm(&rec.cap_drop),
        }
    });
    let sc = SecurityContext {
        capabilities: caps,
        privileged: rec.privileged.then_some(true),
        read_only_root_filesystem: rec.read_only.then_some(true),
        run_as_user: ids
            .first()
            .copied()
            .filter(|u| *u >= 0 && !rec.user.is_empty()),
        run_as_group: ids.get(1).copied().filter(|g| *g >= 0),
    };
    let empty_sc = sc.capabilities.is_none()
        && sc.privileged.is_none()
        && sc.read_only_root_filesystem.is_none()
        && sc.run_as_user.is_none()
        && sc.run_as_group.is_none();
    Ok(Container {
        name: rec.name.clone(),
        image: rec.image_name.clone(),
        command: rec.command.clone(),
        args: Vec::new(),
        env,
        working_dir: (!rec.workdir.is_empty() && rec.workdir != "/").then(|| rec.workdir.clone()),
        ports: ports
            .iter()
            .flat_map(|p| {
                (0..p.range.max(1)).map(move |i| ContainerPort {
                    name: None,
                    container_port: p.container_port + i,
                    host_port: (p.host_port > 0).then_some(p.host_port + i),
                    host_ip: (!p.host_ip.is_empty() && p.host_ip != "0.0.0.0")
                        .then(|| p.host_ip.clone()),
                    protocol: (p.protocol == "udp").then(|| "UDP".to_string()),
                })
            })
            .collect(),
        volume_mounts: mounts,
        security_context: (!empty_sc).then_some(sc),
        tty: rec.tty,
        stdin: rec.interactive,
        ..Default::default()
    })
}

fn restart_policy(recs: &[&ContainerRecord]) -> Option<String> {
    let p = recs
        .first()
        .map(|r| r.restart_policy.as_str())
        .unwrap_or("");
    Some(
        match p {
            "always" | "unless-stopped" => "Always",
            "on-failure" => "OnFailure",
            _ => "Never",
        }
        .to_string(),
    )
}

/// A container's annotations as podman 4.3 writes them on the pod:
/// `KEY/CONTAINER` (its own, from its runtime spec, `--init` among them as
/// `io.podman.annotations.init`), and `io.podman.annotations.autoremove`
/// for `--rm`. `kube play` gives them back.
fn annotations_of(
    paths: &Paths,
    rec: &ContainerRecord,
    name: &str,
    names: &[String],
    out: &mut BTreeMap<String, String>,
) {
    let spec = std::fs::read_to_string(paths.ctr_dir(&rec.id).join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if let Some(serde_json::Value::Object(a)) = spec.as_ref().and_then(|v| v.get("annotations")) {
        for (k, v) in a {
            let Some(v) = v.as_str() else { continue };
            // One `kube play` gave it from the pod's (KEY/CONTAINER, for
            // this container or another): as it was, not suffixed again.
            let played = k
                .rsplit_once('/')
                .is_some_and(|(_, n)| names.iter().any(|x| x == n));
            if played {
                out.insert(k.clone(), v.to_string());
            } else {
                out.insert(format!("{k}/{name}"), v.to_string());
            }
        }
    }
    if rec.rm {
        out.insert(
            format!("io.podman.annotations.autoremove/{name}"),
            "TRUE".into(),
        );
    }
}

fn pod_object(
    opts: &Options,
    paths: &Paths,
    name: &str,
    hostname: Option<String>,
    members: &[&ContainerRecord],
    ports: &[crate::network::ports::PortMapping],
) -> Result<Pod> {
    let mut volumes = Vec::new();
    let mut containers = Vec::new();
    let mut annotations = BTreeMap::new();
    for (i, r) in members.iter().enumerate() {
        // The pod's ports go on its first container, as podman puts them.
        let p = if i == 0 { ports.to_vec() } else { Vec::new() };
        let mut c = container_of(opts, r, &p, &mut volumes)?;
        // `kube play` names a container POD-NAME: the YAML says NAME, so
        // a round trip gives the same names again.
        if let Some(short) = c.name.strip_prefix(&format!("{name}-")) {
            if !short.is_empty() && !members.iter().any(|m| m.name == short) {
                c.name = short.to_string();
            }
        }
        containers.push(c);
    }
    let names: Vec<String> = containers.iter().map(|c| c.name.clone()).collect();
    for (r, c) in members.iter().zip(&containers) {
        annotations_of(paths, r, &c.name, &names, &mut annotations);
    }
    Ok(Pod {
        api_version: "v1".into(),
        kind: "Pod".into(),
        metadata: ObjectMeta {
            name: name.to_string(),
            labels: BTreeMap::from([("app".to_string(), name.to_string())]),
            annotations,
            ..Default::default()
        },
        spec: PodSpec {
            containers,
            volumes,
            hostname,
            restart_policy: restart_policy(members),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            ..Default::default()
        },
    })
}

fn service_for(pod: &Pod) -> Option<Service> {
    let ports: Vec<ServicePort> = pod
        .spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter())
        .map(|p| ServicePort {
            name: p.container_port.to_string(),
            port: p.container_port,
            target_port: p.container_port,
            protocol: p.protocol.clone(),
        })
        .collect();
    if ports.is_empty() {
        return None;
    }
    let name = pod.metadata.name.clone();
    Some(Service {
        api_version: "v1".into(),
        kind: "Service".into(),
        metadata: ObjectMeta {
            name: name.clone(),
            labels: BTreeMap::from([("app".to_string(), name.clone())]),
            ..Default::default()
        },
        spec: ServiceSpec {
            ports,
            selector: BTreeMap::from([("app".to_string(), name)]),
            kind: "NodePort".into(),
        },
    })
}

fn pvc(opts: &Options, name: &str) -> Result<PersistentVolumeClaim> {
    let store = crate::storage::Store::open(opts)?;
    let vols = crate::volume::Volumes::new(&store);
    let v = vols.find(name)?;
    let mut annotations = BTreeMap::new();
    for (k, val) in &v.options {
        annotations.insert(format!("volume.podman.io/{k}"), val.clone());
    }
    Ok(PersistentVolumeClaim {
        api_version: "v1".into(),
        kind: "PersistentVolumeClaim".into(),
        metadata: ObjectMeta {
            name: name.to_string(),
            labels: v.labels.clone().into_iter().collect(),
            annotations,
            ..Default::default()
        },
        spec: PvcSpec {
            access_modes: vec!["ReadWriteOnce".into()],
            resources: ResourceRequirements {
                requests: BTreeMap::from([("storage".to_string(), "1Gi".to_string())]),
            },
        },
    })
}

/// The objects for `names`: pods (by pod name or id), containers (one pod
/// named NAME-pod for all of them, as podman does), volumes (a PVC each).
pub fn generate(opts: &Options, names: &[String], o: &GenerateOptions) -> Result<Vec<Object>> {
    if names.is_empty() {
        bail!("kube generate: name or ID of a container, pod or volume is required");
    }
    let paths = Paths::new(opts)?;
    let mut objects = Vec::new();
    let mut ctrs: Vec<ContainerRecord> = Vec::new();
    for n in names {
        if let Ok(p) = crate::pod::resolve(&paths, n) {
            let m = crate::pod::members(&paths, &p.id)?;
            let infra_ports = m
                .iter()
                .find(|(r, _)| r.pod_infra)
                .map(|(r, _)| crate::network::ports::from_record(&r.ports))
                .unwrap_or_default();
            let members: Vec<&ContainerRecord> = m
                .iter()
                .filter(|(r, _)| !r.pod_infra)
                .map(|(r, _)| r)
                .collect();
            if members.is_empty() {
                bail!(
                    "pod {} has no containers other than its infra: nothing to generate",
                    p.name
                );
            }
            let host = if p.hostname.is_empty() {
                p.name.clone()
            } else {
                p.hostname.clone()
            };
            let pod = pod_object(opts, &paths, &p.name, Some(host), &members, &infra_ports)?;
            if o.service {
                if let Some(s) = service_for(&pod) {
                    objects.push(Object::Service(s));
                }
            }
            objects.push(Object::Pod(pod));
            continue;
        }
        match record::resolve(&paths, n) {
            Ok(id) => {
                let rec = record::load(&paths, &id)?;
                if rec.pod_infra {
                    bail!("{n} is the infra container of a pod: generate the pod instead");
                }
                ctrs.push(rec);
            }
            Err(e) if record::is_no_such(&e) => {
                let store = crate::storage::Store::open(opts)?;
                if crate::volume::Volumes::new(&store).find(n).is_ok() {
                    objects.push(Object::Pvc(pvc(opts, n)?));
                } else {
                    bail!("{n} does not refer to a container, pod or volume: no such object");
                }
            }
            Err(e) => return Err(e),
        }
    }
    if !ctrs.is_empty() {
        let name = format!("{}-pod", ctrs[0].name);
        let refs: Vec<&ContainerRecord> = ctrs.iter().collect();
        // Each container's own ports on it.
        let mut volumes = Vec::new();
        let mut containers = Vec::new();
        let mut annotations = BTreeMap::new();
        for r in &refs {
            let p = crate::network::ports::from_record(&r.ports);
            containers.push(container_of(opts, r, &p, &mut volumes)?);
        }
        let names: Vec<String> = containers.iter().map(|c| c.name.clone()).collect();
        for (r, c) in refs.iter().zip(&containers) {
            annotations_of(&paths, r, &c.name, &names, &mut annotations);
        }
        let pod = Pod {
            api_version: "v1".into(),
            kind: "Pod".into(),
            metadata: ObjectMeta {
                name: name.clone(),
                labels: BTreeMap::from([("app".to_string(), name.clone())]),
                annotations,
                ..Default::default()
            },
            spec: PodSpec {
                containers,
                volumes,
                hostname: None,
                restart_policy: restart_policy(&refs),
                automount_service_account_token: Some(false),
                enable_service_links: Some(false),
                ..Default::default()
            },
        };
        if o.service {
            if let Some(s) = service_for(&pod) {
                objects.push(Object::Service(s));
            }
        }
        objects.push(Object::Pod(pod));
    }
    Ok(objects)
}

/// The objects as one multi-document YAML text with podman's header.
pub fn to_yaml(objects: &[Object]) -> Result<String> {
    let mut out = String::from(
        "# Save the output of this file and use kubectl create -f to import\n\
         # it into Kubernetes.\n#\n",
    );
    out.push_str(&format!(
        "# Created with rpod-{}\n",
        env!("CARGO_PKG_VERSION")
    ));
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&yaml::to_string(&o.value().context("kube generate")?));
    }
    Ok(out)
}
