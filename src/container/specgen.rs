//! `generate spec`: podman's SpecGenerator (for a container) or
//! PodSpecGenerator (for a pod) of what rpod recorded, so that a
//! container or pod can be made again, by rpod's `clone` or by podman's
//! API. The JSON keys are podman 4.3's, in its order.
//!
//! podman 4.3.1 builds it by copying the container's libpod config into a
//! SpecGenerator key by key, which loses what the two spell differently:
//! it leaves out the working directory, hostname, capabilities,
//! annotations, health check, stop signal and timeout, and writes
//! `--network host` and `none` as `private`. rpod writes those under the
//! SpecGenerator's own keys (`work_dir`, `hostname`, `cap_add`, ...), and
//! the network mode as it is. Printing (indentation, the file) is the
//! CLI's.

use super::record::{self, ContainerRecord, Paths};
use crate::network::NetworkMode;
use crate::options::Options;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A SpecGenerator namespace: `{}` when unset (a pod member's shared ones,
/// which the pod gives), else its mode and value.
#[derive(Serialize, Default, Debug, Clone, PartialEq)]
pub struct Namespace {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nsmode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
}

fn ns(mode: &str) -> Namespace {
    Namespace {
        nsmode: mode.into(),
        value: String::new(),
    }
}

/// An OCI mount (bind or tmpfs) as the spec has it.
#[derive(Serialize, Debug, Clone)]
pub struct Mount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// A named (or anonymous, by its generated name) volume.
#[derive(Serialize, Debug, Clone)]
pub struct NamedVolume {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Dest")]
    pub dest: String,
    #[serde(rename = "Options")]
    pub options: Vec<String>,
    /// podman 4.3 never sets it when cloning (the volume exists by now).
    #[serde(rename = "IsAnonymous")]
    pub is_anonymous: bool,
}

#[derive(Serialize, Debug, Clone)]
pub struct PortMapping {
    pub host_ip: String,
    pub container_port: u16,
    pub host_port: u16,
    pub range: u16,
    pub protocol: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct IdMap {
    pub container_id: u64,
    pub host_id: u64,
    pub size: u64,
}

#[derive(Serialize, Debug, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AutoUserNsOpts {
    pub size: u32,
    pub initial_size: u32,
    pub passwd_file: String,
    pub group_file: String,
    #[serde(rename = "AdditionalUIDMappings")]
    pub additional_uid_mappings: Option<Vec<IdMap>>,
    #[serde(rename = "AdditionalGIDMappings")]
    pub additional_gid_mappings: Option<Vec<IdMap>>,
}

/// containers/storage's IDMappingOptions.
#[derive(Serialize, Debug, Clone, Default)]
pub struct IdMappings {
    #[serde(rename = "HostUIDMapping")]
    pub host_uid_mapping: bool,
    #[serde(rename = "HostGIDMapping")]
    pub host_gid_mapping: bool,
    #[serde(rename = "UIDMap")]
    pub uid_map: Option<Vec<IdMap>>,
    #[serde(rename = "GIDMap")]
    pub gid_map: Option<Vec<IdMap>>,
    #[serde(rename = "AutoUserNs")]
    pub auto_userns: bool,
    #[serde(rename = "AutoUserNsOpts")]
    pub auto_userns_opts: AutoUserNsOpts,
}

/// One network of a container on user-defined networks.
#[derive(Serialize, Debug, Clone)]
pub struct PerNetwork {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_ips: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub static_mac: String,
    pub interface_name: String,
}

/// The image's Schema2HealthConfig (durations in nanoseconds).
#[derive(Serialize, Debug, Clone)]
pub struct HealthConfig {
    #[serde(rename = "Test", skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(rename = "StartPeriod", skip_serializing_if = "is_zero_i64")]
    pub start_period: i64,
    #[serde(rename = "Interval", skip_serializing_if = "is_zero_i64")]
    pub interval: i64,
    #[serde(rename = "Timeout", skip_serializing_if = "is_zero_i64")]
    pub timeout: i64,
    #[serde(rename = "Retries", skip_serializing_if = "is_zero_u32")]
    pub retries: u32,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}
fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}
fn not(b: &bool) -> bool {
    !*b
}

/// podman's SpecGenerator, the keys of it that rpod can fill, in its order.
#[derive(Serialize, Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "not")]
    pub terminal: bool,
    #[serde(skip_serializing_if = "not")]
    pub stdin: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u32>,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub timeout: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub restart_policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_tries: Option<u32>,
    #[serde(rename = "sdnotifyMode", skip_serializing_if = "String::is_empty")]
    pub sdnotify_mode: String,
    pub pidns: Namespace,
    pub utsns: Namespace,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(skip_serializing_if = "not")]
    pub remove: bool,
    #[serde(
        rename = "containerCreateCommand",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub container_create_command: Vec<String>,
    pub init_container_type: String,
    pub image: String,
    #[serde(skip_serializing_if = "not")]
    pub init: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<NamedVolume>,
    pub ipcns: Namespace,
    pub shm_size: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub work_dir: String,
    #[serde(skip_serializing_if = "not")]
    pub volatile: bool,
    #[serde(skip_serializing_if = "not")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    pub selinux_opts: Vec<String>,
    pub userns: Namespace,
    pub idmappings: IdMappings,
    #[serde(skip_serializing_if = "not")]
    pub read_only_filesystem: bool,
    pub umask: String,
    pub cgroupns: Namespace,
    pub netns: Namespace,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub portmappings: Vec<PortMapping>,
    #[serde(rename = "Networks")]
    pub networks: Option<BTreeMap<String, PerNetwork>>,
    pub use_image_hosts: bool,
    pub resource_limits: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthconfig: Option<HealthConfig>,
}

/// podman's PodSpecGenerator, the keys of it that rpod can fill.
#[derive(Serialize, Debug, Clone, Default)]
pub struct PodSpec {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "not")]
    pub no_infra: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub infra_image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pidns: Option<Namespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns: Option<Namespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utsns: Option<Namespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<Namespace>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub portmappings: Vec<PortMapping>,
    #[serde(rename = "Networks", skip_serializing_if = "Option::is_none")]
    pub networks: Option<Option<BTreeMap<String, PerNetwork>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idmappings: Option<IdMappings>,
}

/// What `generate spec` makes of a name.
#[derive(Debug, Clone)]
pub enum Generated {
    Container(Box<ContainerSpec>),
    Pod(Box<PodSpec>),
}

/// The spec of container or pod `name` (a container first, as podman
/// looks). `rename`: name it for a copy, `NAME-clone` (or the next free
/// `-cloneN`), as podman's default `--name` does.
pub fn generate(opts: &Options, name: &str, rename: bool) -> Result<Generated> {
    let paths = Paths::new(opts)?;
    match record::resolve(&paths, name) {
        Ok(id) => {
            let rec = record::load(&paths, &id)?;
            let mut s =
                container_spec(&paths, &rec).with_context(|| format!("container {}", rec.name))?;
            if rename {
                s.name = clone_name(&s.name, |n| record::resolve(&paths, n).is_ok());
            }
            return Ok(Generated::Container(Box::new(s)));
        }
        Err(e) if record::is_no_such(&e) => {}
        Err(e) => return Err(e),
    }
    match crate::pod::resolve(&paths, name) {
        Ok(p) => {
            let mut s = pod_spec(opts, &paths, &p).with_context(|| format!("pod {}", p.name))?;
            if rename {
                s.name = clone_name(&s.name, |n| crate::pod::resolve(&paths, n).is_ok());
            }
            Ok(Generated::Pod(Box::new(s)))
        }
        Err(e) if crate::pod::is_no_such(&e) => {
            bail!("could not find a pod or container with the id {name}")
        }
        Err(e) => Err(e),
    }
}

/// podman's name for a copy of `n`: `n-clone`; a name that already is a
/// `-clone` gets the next number not taken (`exists` asks).
pub fn clone_name(n: &str, exists: impl Fn(&str) -> bool) -> String {
    let Some(at) = n.find("-clone") else {
        return format!("{n}-clone");
    };
    let ind = at + "-clone".len();
    let num = n[ind..].parse::<i64>().ok();
    let mut base = n.to_string();
    match num {
        None => {
            // `-cloneX`: X1, if free; else counting from 1 after it.
            let one = format!("{n}1");
            if !exists(&one) {
                return one;
            }
        }
        Some(_) => base.truncate(ind),
    }
    let mut count = num.unwrap_or(0);
    loop {
        count += 1;
        let cand = format!("{base}{count}");
        if !exists(&cand) {
            return cand;
        }
    }
}

/// The container's OCI config (what it was created with).
fn oci_config(paths: &Paths, id: &str) -> Value {
    std::fs::read(paths.ctr_dir(id).join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// `size=N[k|m|g]` of a tmpfs as bytes (the kernel's binary units).
fn size_option(opts: &[Value]) -> Option<i64> {
    let s = opts
        .iter()
        .filter_map(|o| o.as_str())
        .find_map(|o| o.strip_prefix("size="))?;
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1024),
        (i, 'm' | 'M') => (&s[..i], 1024 * 1024),
        (i, 'g' | 'G') => (&s[..i], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<i64>().ok().map(|n| n.saturating_mul(mult))
}

fn shm_size(cfg: &Value) -> i64 {
    cfg.pointer("/mounts")
        .and_then(|m| m.as_array())
        .and_then(|ms| {
            ms.iter()
                .find(|m| m["destination"] == "/dev/shm")
                .and_then(|m| m["options"].as_array())
                .and_then(|o| size_option(o))
        })
        .unwrap_or(65536 * 1024)
}

fn id_maps(v: Option<&Value>) -> Option<Vec<IdMap>> {
    let a = v?.as_array()?;
    let maps: Vec<IdMap> = a
        .iter()
        .map(|m| IdMap {
            container_id: m["containerID"].as_u64().unwrap_or(0),
            host_id: m["hostID"].as_u64().unwrap_or(0),
            size: m["size"].as_u64().unwrap_or(0),
        })
        .collect();
    (!maps.is_empty()).then_some(maps)
}

/// The user namespace's mappings: the rootless user's own namespace
/// (podman's HostUIDMapping) unless the spec maps ids itself.
fn id_mappings(cfg: &Value) -> IdMappings {
    let uid_map = id_maps(cfg.pointer("/linux/uidMappings"));
    let gid_map = id_maps(cfg.pointer("/linux/gidMappings"));
    IdMappings {
        host_uid_mapping: uid_map.is_none(),
        host_gid_mapping: gid_map.is_none(),
        uid_map,
        gid_map,
        ..Default::default()
    }
}

fn ports(recorded: &[String]) -> Vec<PortMapping> {
    crate::network::ports::from_record(recorded)
        .into_iter()
        .map(|p| PortMapping {
            host_ip: p.host_ip,
            container_port: p.container_port,
            host_port: p.host_port,
            range: p.range.max(1),
            protocol: p.protocol,
        })
        .collect()
}

/// The network namespace and the networks of `mode`.
fn network(
    mode: &NetworkMode,
    short_id: &str,
) -> (Namespace, Option<BTreeMap<String, PerNetwork>>) {
    match mode {
        NetworkMode::None => (ns("none"), None),
        NetworkMode::Host => (ns("host"), None),
        NetworkMode::Slirp4netns(_) => (ns("slirp4netns"), None),
        NetworkMode::Pasta(_) => (ns("pasta"), None),
        NetworkMode::Container(c) => (
            Namespace {
                nsmode: "container".into(),
                value: c.clone(),
            },
            None,
        ),
        NetworkMode::Bridge(nets) => {
            let map = nets
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut aliases = a.aliases.clone();
                    aliases.push(short_id.to_string());
                    (
                        a.network.clone(),
                        PerNetwork {
                            static_ips: a.ips.clone(),
                            aliases,
                            static_mac: a.mac.clone().unwrap_or_default(),
                            interface_name: a
                                .interface_name
                                .clone()
                                .unwrap_or_else(|| format!("eth{i}")),
                        },
                    )
                })
                .collect();
            (ns("bridge"), Some(map))
        }
    }
}

fn container_spec(paths: &Paths, rec: &ContainerRecord) -> Result<ContainerSpec> {
    let cfg = oci_config(paths, &rec.id);
    let env: BTreeMap<String, String> = cfg
        .pointer("/process/env")
        .and_then(|e| e.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str()?.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_else(|| {
            rec.env
                .iter()
                .filter_map(|e| e.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        });
    let annotations: BTreeMap<String, String> = cfg
        .pointer("/annotations")
        .and_then(|a| a.as_object())
        .map(|a| {
            a.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    // The pod's infra holds the namespaces the pod shares: unset here,
    // as podman writes them, so that a copy in the pod joins them again.
    let shared: Vec<String> = if rec.pod.is_empty() {
        Vec::new()
    } else {
        crate::pod::load(paths, &rec.pod)
            .ok()
            .filter(|p| !p.infra_id.is_empty() && p.infra_id != rec.id)
            .map(|p| p.shared)
            .unwrap_or_default()
    };
    let in_pod = |n: &str| shared.iter().any(|s| s == n);
    let short_id = &rec.id[..rec.id.len().min(12)];
    // A hostname of its own, not the default (its short id) nor its
    // pod's: a copy gets its own default.
    let hostname = if in_pod("uts") || rec.hostname == short_id {
        String::new()
    } else {
        rec.hostname.clone()
    };
    let mut env = env;
    if hostname.is_empty() && env.get("HOSTNAME") == Some(&rec.hostname) {
        env.remove("HOSTNAME");
    }
    let (mut netns, mut networks) = network(&rec.network, short_id);
    let mut portmappings = ports(&rec.ports);
    if in_pod("net") {
        netns = Namespace::default();
        networks = None;
        portmappings.clear();
    }
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for m in &rec.mounts {
        let mode = if m.rw { "rw" } else { "ro" };
        match m.kind.as_str() {
            "volume" => {
                let mut options = vec![mode.to_string()];
                options.extend(
                    m.options
                        .iter()
                        .filter(|o| !matches!(o.as_str(), "rw" | "ro"))
                        .cloned(),
                );
                volumes.push(NamedVolume {
                    name: m.name.clone(),
                    dest: m.destination.clone(),
                    options,
                    is_anonymous: false,
                });
            }
            _ => mounts.push(Mount {
                destination: m.destination.clone(),
                kind: m.kind.clone(),
                source: m.source.clone(),
                options: m.options.clone(),
            }),
        }
    }
    // --read-only's tmpfs on /run, /tmp and /var/tmp are the container's
    // own mounts too (podman lists them).
    if rec.read_only {
        if let Some(ms) = cfg.pointer("/mounts").and_then(|m| m.as_array()) {
            for m in ms {
                let dest = m["destination"].as_str().unwrap_or_default();
                let opts: Vec<String> = m["options"]
                    .as_array()
                    .map(|o| {
                        o.iter()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                if matches!(dest, "/run" | "/tmp" | "/var/tmp")
                    && opts.iter().any(|o| o == "tmpcopyup")
                    && !mounts.iter().any(|x: &Mount| x.destination == dest)
                {
                    mounts.push(Mount {
                        destination: dest.into(),
                        kind: m["type"].as_str().unwrap_or("tmpfs").into(),
                        source: m["source"].as_str().unwrap_or("tmpfs").into(),
                        options: opts,
                    });
                }
            }
        }
    }
    let mut resources = cfg
        .pointer("/linux/resources")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    if let Some(o) = resources.as_object_mut() {
        o.remove("devices");
    }
    let userns = if rec.userns.is_empty() {
        ns("default")
    } else {
        let (mode, value) = rec.userns.split_once(':').unwrap_or((&rec.userns, ""));
        Namespace {
            nsmode: mode.into(),
            value: value.into(),
        }
    };
    let umask = cfg
        .pointer("/process/user/umask")
        .and_then(|u| u.as_u64())
        .map_or_else(|| "0022".to_string(), |u| format!("{u:04o}"));
    let healthconfig = rec.healthcheck.as_ref().map(|h| HealthConfig {
        test: h.test.clone(),
        start_period: h.start_period,
        interval: h.interval,
        timeout: h.timeout,
        retries: h.retries,
    });
    Ok(ContainerSpec {
        name: rec.name.clone(),
        pod: rec.pod.clone(),
        entrypoint: rec.entrypoint.clone(),
        command: rec.cmd.clone(),
        env,
        terminal: rec.tty,
        stdin: rec.interactive,
        labels: rec.labels.clone(),
        annotations,
        stop_signal: (rec.stop_signal != 0 && rec.stop_signal != 15).then_some(rec.stop_signal),
        stop_timeout: (rec.stop_timeout != 10).then_some(rec.stop_timeout),
        timeout: rec.extras.timeout,
        restart_policy: rec.restart_policy.clone(),
        restart_tries: (rec.restart_policy == "on-failure" && rec.restart_retries > 0)
            .then_some(rec.restart_retries),
        sdnotify_mode: if rec.sdnotify.is_empty() {
            "container".into()
        } else {
            rec.sdnotify.clone()
        },
        pidns: ns("default"),
        utsns: if in_pod("uts") {
            Namespace::default()
        } else {
            ns("private")
        },
        hostname,
        remove: rec.rm,
        container_create_command: rec.create_command.clone(),
        init_container_type: rec.extras.init_ctr.clone(),
        image: rec.image_id.clone(),
        init: rec.init,
        mounts,
        volumes,
        ipcns: if in_pod("ipc") {
            Namespace::default()
        } else {
            ns("default")
        },
        shm_size: shm_size(&cfg),
        work_dir: if rec.workdir == "/" {
            String::new()
        } else {
            rec.workdir.clone()
        },
        volatile: rec.rm,
        privileged: rec.privileged,
        user: rec.user.clone(),
        cap_add: rec.cap_add.clone(),
        cap_drop: rec.cap_drop.clone(),
        selinux_opts: vec!["disable".into()],
        userns,
        idmappings: id_mappings(&cfg),
        read_only_filesystem: rec.read_only,
        umask,
        cgroupns: ns("default"),
        netns,
        portmappings,
        networks,
        use_image_hosts: false,
        resource_limits: resources,
        healthconfig,
    })
}

fn pod_spec(opts: &Options, paths: &Paths, p: &crate::pod::PodRecord) -> Result<PodSpec> {
    let mut s = PodSpec {
        name: p.name.clone(),
        hostname: p.hostname.clone(),
        labels: p.labels.clone(),
        ..Default::default()
    };
    if p.infra_id.is_empty() {
        s.no_infra = true;
        return Ok(s);
    }
    let infra = record::load(paths, &p.infra_id)
        .with_context(|| format!("the infra container {}", p.infra_id))?;
    // podman's pod labels include its infra image's.
    let store = crate::storage::Store::open(opts)?;
    if let Some(labels) = store
        .image_by_id(&infra.image_id)?
        .and_then(|i| store.image_config(&i).ok())
        .and_then(|c| c.config().clone())
        .and_then(|c| c.labels().clone())
    {
        for (k, v) in labels {
            s.labels.entry(k).or_insert(v);
        }
    }
    let cfg = oci_config(paths, &infra.id);
    let (netns, networks) = network(&infra.network, &infra.id[..infra.id.len().min(12)]);
    s.infra_image = infra.image_id.clone();
    s.pidns = Some(ns("default"));
    s.userns = Some(ns("default"));
    s.utsns = Some(ns("private"));
    s.netns = Some(netns);
    s.portmappings = ports(&infra.ports);
    s.networks = Some(networks);
    s.shm_size = Some(shm_size(&cfg));
    s.idmappings = Some(id_mappings(&cfg));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_names_follow_podman() {
        let taken = |set: &'static [&'static str]| move |n: &str| set.contains(&n);
        assert_eq!(clone_name("web", taken(&[])), "web-clone");
        // podman does not look whether NAME-clone is free.
        assert_eq!(clone_name("web", taken(&["web-clone"])), "web-clone");
        assert_eq!(clone_name("web-clone", taken(&[])), "web-clone1");
        assert_eq!(
            clone_name("web-clone", taken(&["web-clone1"])),
            "web-clone2"
        );
        assert_eq!(clone_name("web-clone1", taken(&[])), "web-clone2");
        assert_eq!(
            clone_name("web-clone5", taken(&["web-clone6"])),
            "web-clone7"
        );
        assert_eq!(clone_name("e-clonex", taken(&[])), "e-clonex1");
    }

    #[test]
    fn tmpfs_sizes_are_bytes() {
        let o = |s: &str| vec![Value::from("mode=1777"), Value::from(s)];
        assert_eq!(size_option(&o("size=65536k")), Some(67108864));
        assert_eq!(size_option(&o("size=1000")), Some(1000));
        assert_eq!(size_option(&o("size=2m")), Some(2097152));
        assert_eq!(size_option(&[]), None);
    }
}
