//! Pods: containers that share an infra container's network, ipc and uts
//! namespaces (and its published ports), as podman's pods do.
//!
//! `root/pods/<id>/pod.json` is the pod's record ([`PodRecord`]), written
//! atomically under `root/pods/lock`, which every change to the set of pods
//! holds. The infra is an ordinary container (`ContainerRecord::pod_infra`)
//! of a local image made from catatonit (`localhost/rpod-pause:VERSION`,
//! imported once, never pulled), running `catatonit -P`; members are
//! containers with `--network container:INFRA` whose ipc and uts namespaces
//! are the infra's too (`container::create::Plan::pod_ns`).
//!
//! Crash safety: `create` makes the infra before the record, both under the
//! lock; [`reconcile`] (run by every pod command under the same lock)
//! removes an infra or member whose pod has no record, and a pod directory
//! without its record. So a `kill -9` at any point leaves either a whole
//! pod or nothing.

use crate::container::create::ContainerSpec;
use crate::container::record::{self, ContainerRecord, Paths, State, Status};
use crate::container::{self as ctr};
use crate::network::NetworkMode;
use crate::options::Options;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a pod is: fixed at create time.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PodRecord {
    pub id: String,
    pub name: String,
    /// Epoch nanoseconds.
    pub created: i64,
    #[serde(default)]
    pub create_command: Vec<String>,
    /// `continue` or `stop`.
    #[serde(default)]
    pub exit_policy: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// "" with `--infra=false`.
    #[serde(default)]
    pub infra_id: String,
    /// The namespaces members share (`ipc`, `net`, `uts`).
    #[serde(default)]
    pub shared: Vec<String>,
    /// `-p` as given.
    #[serde(default)]
    pub publish: Vec<String>,
    #[serde(default)]
    pub network: String,
}

/// What `pod create` asks for.
#[derive(Debug, Clone, Default)]
pub struct PodSpec {
    pub name: Option<String>,
    pub labels: Vec<String>,
    pub publish: Vec<String>,
    pub network: Option<NetworkMode>,
    pub hostname: Option<String>,
    pub exit_policy: Option<String>,
    pub infra: bool,
    pub infra_name: Option<String>,
    pub infra_command: Option<Vec<String>>,
    pub add_host: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub share: Option<String>,
    pub replace: bool,
    pub create_command: Vec<String>,
}

/// In a pod's dir while its infra is being made: the infra's id.
const PENDING_INFRA: &str = "infra-pending";

fn pods_dir(paths: &Paths) -> PathBuf {
    paths.root.join("pods")
}

fn pod_file(paths: &Paths, id: &str) -> PathBuf {
    pods_dir(paths).join(id).join("pod.json")
}

/// The lock every change to the set of pods holds.
pub fn lock(paths: &Paths) -> Result<crate::storage::Lock> {
    let d = pods_dir(paths);
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    crate::storage::Lock::exclusive(&d.join("lock"))
}

/// podman's "no such pod".
pub fn no_such(name: &str) -> anyhow::Error {
    crate::error::Error::not_found(crate::error::Kind::Pod, name)
}

/// Whether `e` is "no such pod".
pub fn is_no_such(e: &anyhow::Error) -> bool {
    crate::error::is_not_found(e, crate::error::Kind::Pod)
}

pub fn load(paths: &Paths, id: &str) -> Result<PodRecord> {
    let p = pod_file(paths, id);
    let b = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    serde_json::from_slice(&b).with_context(|| format!("parsing {}", p.display()))
}

/// Every pod, newest first.
pub fn list(paths: &Paths) -> Result<Vec<PodRecord>> {
    let d = pods_dir(paths);
    let rd = match std::fs::read_dir(&d) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", d.display())),
    };
    let mut v = Vec::new();
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.len() == 64 && pod_file(paths, &n).exists() {
            if let Ok(p) = load(paths, &n) {
                v.push(p);
            }
        }
    }
    v.sort_by_key(|p| std::cmp::Reverse(p.created));
    Ok(v)
}

/// A name, full id or unique id prefix to the pod.
pub fn resolve(paths: &Paths, name_or_id: &str) -> Result<PodRecord> {
    let all = list(paths)?;
    if let Some(p) = all
        .iter()
        .find(|p| p.name == name_or_id || p.id == name_or_id)
    {
        return Ok(p.clone());
    }
    let lower = name_or_id.to_ascii_lowercase();
    let hits: Vec<&PodRecord> =
        if !name_or_id.is_empty() && name_or_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            all.iter().filter(|p| p.id.starts_with(&lower)).collect()
        } else {
            Vec::new()
        };
    match hits.len() {
        1 => Ok(hits[0].clone()),
        0 => Err(no_such(name_or_id)),
        _ => bail!("more than one result for pod ID \"{name_or_id}\": use more of the ID"),
    }
}

/// The containers of pod `id` (the infra first), with their states.
pub fn members(paths: &Paths, id: &str) -> Result<Vec<(ContainerRecord, State)>> {
    let mut v: Vec<(ContainerRecord, State)> = ctr::lifecycle::all_ids(paths)?
        .into_iter()
        .filter(|(_, r)| r.pod == id)
        .map(|(cid, r)| (r, record::observe(paths, &cid)))
        .collect();
    v.sort_by_key(|(r, _)| (!r.pod_infra, r.created));
    Ok(v)
}

/// podman's pod status from its containers' states.
pub fn status(states: &[&State]) -> &'static str {
    let n = states.len();
    if n == 0 {
        return "Created";
    }
    let (mut run, mut paused, mut stopped, mut created) = (0, 0, 0, 0);
    for s in states {
        match s.status {
            Status::Paused => paused += 1,
            Status::Running | Status::Stopping => run += 1,
            Status::Exited => stopped += 1,
            _ => created += 1,
        }
    }
    if run == n {
        "Running"
    } else if run > 0 {
        "Degraded"
    } else if paused == n {
        "Paused"
    } else if stopped == n {
        "Exited"
    } else if stopped > 0 {
        "Stopped"
    } else if created == n {
        "Created"
    } else {
        "Error"
    }
}

fn event(paths: &Paths, status: &str, pod: &PodRecord) {
    crate::events::emit(
        &paths.runroot,
        &crate::events::Event {
            id: pod.id.as_str().into(),
            name: pod.name.as_str().into(),
            ..crate::events::Event::new("pod", status)
        },
    );
}

/// The pause image's name: made locally from catatonit, never pulled.
pub fn pause_image_name() -> String {
    format!("localhost/rpod-pause:{}", env!("CARGO_PKG_VERSION"))
}

/// The pause image, imported from the host's catatonit when missing.
/// The caller is in rpod's user namespace.
pub fn ensure_pause_image(opts: &Options) -> Result<crate::storage::ImageRecord> {
    let store = crate::storage::Store::open(opts)?;
    let name = pause_image_name();
    if let Some(r) = store.find_image(&name)? {
        return Ok(r);
    }
    let cat = ctr::opts::find_catatonit().context("a pod's infra runs catatonit")?;
    let bin = std::fs::read(&cat).with_context(|| format!("reading {}", cat.display()))?;
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(bin.len() as u64);
    h.set_mode(0o755);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "catatonit", bin.as_slice())
        .context("making the pause image")?;
    let tar = b.into_inner().context("making the pause image")?;
    crate::image::archive::import(
        &store,
        crate::image::archive::ImportSource::Stream(Box::new(std::io::Cursor::new(tar))),
        &crate::image::archive::ImportOptions {
            changes: vec![r#"ENTRYPOINT ["/catatonit","-P"]"#.into()],
            message: Some("rpod pod infra".into()),
            reference: Some(name.clone()),
            ..Default::default()
        },
        &crate::image::archive::Silent,
    )
    .with_context(|| format!("making the pause image {name}"))
}

/// podman's rule for pod names (the container-name rule).
fn validate_name(n: &str) -> Result<()> {
    ctr::names::validate(n)
}

/// Create a pod and its infra container (not started). The caller is in
/// rpod's user namespace.
pub fn create(opts: &Options, paths: &Paths, spec: &PodSpec) -> Result<PodRecord> {
    if let Some(n) = &spec.name {
        validate_name(n)?;
    }
    let exit_policy = spec
        .exit_policy
        .clone()
        .unwrap_or_else(|| "continue".into());
    if !matches!(exit_policy.as_str(), "continue" | "stop") {
        bail!("invalid pod exit policy: \"{exit_policy}\"");
    }
    let shared = match &spec.share {
        None => vec!["uts".to_string(), "ipc".into(), "net".into()],
        Some(s) => {
            let mut v = Vec::new();
            for k in s.split(',').filter(|k| !k.is_empty()) {
                match k {
                    "ipc" | "net" | "uts" => v.push(k.to_string()),
                    "none" => {}
                    _ => bail!(
                        "invalid --share {k:?}: rpod pods share ipc, net and uts (all three, or none)"
                    ),
                }
            }
            v
        }
    };
    if !shared.is_empty() && shared.len() != 3 {
        bail!("--share: rpod pods share ipc, net and uts together (or none)");
    }
    if !spec.infra && !spec.publish.is_empty() {
        bail!("you must have an infra container to publish port bindings to the host");
    }
    for p in &spec.publish {
        crate::network::ports::parse(p)?;
    }
    let labels = ctr::opts::parse_labels(&spec.labels)?;
    let _l = lock(paths)?;
    reconcile_locked(paths);
    let name = match &spec.name {
        Some(n) => n.clone(),
        None => loop {
            let n = ctr::names::generate();
            if resolve(paths, &n).is_err() {
                break n;
            }
        },
    };
    if let Ok(old) = resolve(paths, &name) {
        if old.name == name {
            if !spec.replace {
                bail!("adding pod to state: name \"{name}\" is in use: pod already exists");
            }
            remove_locked(paths, &old, true, Some(0))?;
        }
    }
    let id = ctr::names::new_id();
    // Containers get the pod's name unless --hostname says otherwise.
    let hostname = spec.hostname.clone().unwrap_or_else(|| name.clone());
    let network = spec.network.clone().unwrap_or_default();
    let mut pod = PodRecord {
        id: id.clone(),
        name,
        created: crate::time::now_ns(),
        create_command: spec.create_command.clone(),
        exit_policy,
        hostname: hostname.clone(),
        labels: labels.into_iter().collect(),
        infra_id: String::new(),
        shared,
        publish: spec.publish.clone(),
        network: network.name(),
    };
    let dir = pods_dir(paths).join(&id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if spec.infra {
        let image = ensure_pause_image(opts)?;
        // The infra's id goes down first: a crash before the pod's record
        // leaves a pod dir naming what `reconcile` must remove.
        let infra_id = ctr::names::new_id();
        crate::storage::write_atomic(&dir.join(PENDING_INFRA), infra_id.as_bytes())?;
        let cspec = ContainerSpec {
            image: pause_image_name(),
            command: spec.infra_command.clone().unwrap_or_default(),
            entrypoint: spec.infra_command.as_ref().map(|_| Vec::new()),
            name: Some(
                spec.infra_name
                    .clone()
                    .unwrap_or_else(|| format!("{}-infra", &id[..12])),
            ),
            hostname: Some(hostname),
            network,
            publish: spec.publish.clone(),
            add_host: spec.add_host.clone(),
            dns: spec.dns.clone(),
            dns_search: spec.dns_search.clone(),
            dns_option: spec.dns_option.clone(),
            stop_timeout: Some(10),
            pod: Some(id.clone()),
            pod_infra: true,
            id: Some(infra_id),
            create_command: spec.create_command.clone(),
            ..Default::default()
        };
        let infra = ctr::create::create(opts, paths, &cspec, |_| Ok(image))
            .context("creating the pod's infra container")?;
        pod.infra_id = infra.id;
    }
    crate::storage::write_atomic(&dir.join("pod.json"), &serde_json::to_vec_pretty(&pod)?)?;
    let _ = std::fs::remove_file(dir.join(PENDING_INFRA));
    event(paths, "create", &pod);
    Ok(pod)
}

/// Repair what a crash left: members and infras of pods that have no
/// record, pod directories without their record. Best effort.
pub fn reconcile(paths: &Paths) {
    if let Ok(_l) = lock(paths) {
        reconcile_locked(paths);
    }
}

fn reconcile_locked(paths: &Paths) {
    let pods: Vec<String> = list(paths)
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.id)
        .collect();
    if let Ok(all) = ctr::lifecycle::all_ids(paths) {
        for (id, r) in all {
            if !r.pod.is_empty() && !pods.contains(&r.pod) {
                debug!(
                    "removing container {} of pod {} that has no record",
                    r.name, r.pod
                );
                let _ = ctr::lifecycle::remove_container(paths, &id, true, Some(0));
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(pods_dir(paths)) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.len() == 64 && !pod_file(paths, &n).exists() {
                // A create killed before the record: its infra, whole or half made.
                if let Ok(infra) = std::fs::read_to_string(e.path().join(PENDING_INFRA)) {
                    let infra = infra.trim();
                    if infra.len() == 64 && infra.bytes().all(|b| b.is_ascii_hexdigit()) {
                        if record::exists(paths, infra) {
                            let _ = ctr::lifecycle::remove_container(paths, infra, true, Some(0));
                        } else {
                            let _ = std::fs::remove_dir_all(paths.ctr_dir(infra));
                        }
                    }
                }
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// For a container that joins pod `name_or_id` (`--pod`): the pod, with
/// its infra running, and this process in the infra's user namespace (or
/// in a fresh one that the infra, started now, lives in too).
pub fn prepare_member(opts: &Options, paths: &Paths, name_or_id: &str) -> Result<PodRecord> {
    let pod = resolve(paths, name_or_id)?;
    if pod.infra_id.is_empty() {
        crate::userns::enter()?;
        return Ok(pod);
    }
    let st = record::observe(paths, &pod.infra_id);
    if st.is_running() {
        crate::network::setup::enter_userns(opts, Some(&format!("container:{}", pod.infra_id)))?;
    } else {
        crate::userns::enter()?;
        ctr::start(opts, paths, &pod.infra_id, false)
            .with_context(|| format!("starting the infra of pod {}", pod.name))?;
        event(paths, "start", &pod);
    }
    Ok(pod)
}

/// For `start`: the infra of each named container that is a pod member,
/// started if it does not run. The caller has entered no user namespace.
pub fn start_infras_for(opts: &Options, paths: &Paths, containers: &[String]) -> Result<()> {
    for c in containers {
        let Ok(rec) = record::resolve(paths, c).and_then(|id| record::load(paths, &id)) else {
            continue;
        };
        if rec.pod.is_empty() || rec.pod_infra {
            continue;
        }
        let Ok(pod) = load(paths, &rec.pod) else {
            continue;
        };
        if !pod.infra_id.is_empty() && !record::observe(paths, &pod.infra_id).is_running() {
            ctr::start(opts, paths, &pod.infra_id, false)
                .with_context(|| format!("starting the infra of pod {}", pod.name))?;
        }
    }
    Ok(())
}

/// Fill in a member's spec: the infra's namespaces, the pod's hostname.
pub fn member_spec(pod: &PodRecord, spec: &mut ContainerSpec) -> Result<()> {
    spec.pod = Some(pod.id.clone());
    if pod.infra_id.is_empty() {
        return Ok(());
    }
    if !spec.publish.is_empty() {
        bail!("invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod");
    }
    spec.publish_all = false;
    spec.network = NetworkMode::Container(pod.infra_id.clone());
    if spec.hostname.is_none() {
        spec.hostname = Some(if pod.hostname.is_empty() {
            pod.name.clone()
        } else {
            pod.hostname.clone()
        });
    }
    Ok(())
}

/// A pod operation's per-container failure, as podman words it.
fn each_member(
    paths: &Paths,
    pod: &PodRecord,
    infra_first: bool,
    mut f: impl FnMut(&ContainerRecord, &State) -> Result<()>,
) -> Result<()> {
    let mut m = members(paths, &pod.id)?;
    if !infra_first {
        m.reverse();
    }
    let mut errs = Vec::new();
    for (r, s) in &m {
        if let Err(e) = f(r, s) {
            errs.push(format!("{}: {e:#}", r.name));
        }
    }
    if !errs.is_empty() {
        bail!(
            "not all containers of pod {} could be handled: {}",
            pod.name,
            errs.join("; ")
        );
    }
    Ok(())
}

/// Start the infra, then run the init containers (`--init-ctr`), then
/// start every other member. The caller has entered no user namespace
/// (each monitor joins the infra's).
pub fn start(opts: &Options, paths: &Paths, pod: &PodRecord) -> Result<()> {
    start_pod(opts, paths, pod, true)
}

/// [`start`] for `pod restart`, which (as podman's) runs no init containers.
pub fn start_without_init_ctrs(opts: &Options, paths: &Paths, pod: &PodRecord) -> Result<()> {
    start_pod(opts, paths, pod, false)
}

fn start_pod(opts: &Options, paths: &Paths, pod: &PodRecord, init_ctrs: bool) -> Result<()> {
    let m = members(paths, &pod.id)?;
    if let Some((infra, s)) = m.iter().find(|(r, _)| r.pod_infra) {
        if !s.program_runs() {
            ctr::start(opts, paths, &infra.id, false)
                .with_context(|| format!("starting the infra of pod {}", pod.name))?;
        }
    }
    if init_ctrs {
        // In the order they were made, each to completion; the first that
        // fails ends the start (podman's startInitContainers).
        for (r, _) in m.iter().filter(|(r, _)| is_init_ctr(r)) {
            run_init_ctr(opts, paths, r)?;
        }
    }
    each_member(paths, pod, true, |r, s| {
        if !is_init_ctr(r) && !s.program_runs() {
            ctr::start(opts, paths, &r.id, false)?;
        }
        Ok(())
    })?;
    event(paths, "start", pod);
    Ok(())
}

/// A pod's init container (`create --init-ctr always|once`).
pub fn is_init_ctr(r: &ContainerRecord) -> bool {
    !r.extras.init_ctr.is_empty()
}

/// Run init container `r` and wait for it: an error unless it exits 0. A
/// `once` container is marked so that its monitor removes it once it
/// succeeded (in the container's user namespace, which this process has
/// not entered).
fn run_init_ctr(opts: &Options, paths: &Paths, r: &ContainerRecord) -> Result<()> {
    if r.extras.init_ctr == "once" {
        let _l = record::lock_existing(paths, &r.id)?;
        let mut st = record::observe_locked(paths, &r.id);
        if !st.is_running() {
            st.remove_on_success = true;
            record::save_state(paths, &r.id, &st)?;
        }
    }
    ctr::start(opts, paths, &r.id, false)
        .with_context(|| format!("starting init container {}", r.name))?;
    // A once container may be gone already: its monitor kept the code.
    let code = match ctr::lifecycle::wait_stopped(paths, &r.id, None)
        .with_context(|| format!("waiting for init container {}", r.name))?
    {
        Some(st) => st.exit_code,
        None => record::recorded_exit(paths, &r.id)
            .with_context(|| format!("init container {} is gone, its exit code unknown", r.name))?,
    };
    if code != 0 {
        bail!("init container {} exited with code {code}", r.id);
    }
    Ok(())
}

/// Whether a container may be made an init container of `pod`: not while
/// the pod runs (podman's "cannot add init-ctr to a running pod").
pub fn check_init_ctr(paths: &Paths, pod: &PodRecord) -> Result<()> {
    if members(paths, &pod.id)?
        .iter()
        .any(|(_, s)| s.program_runs())
    {
        bail!("cannot add init-ctr to a running pod");
    }
    Ok(())
}

/// Stop the members, then the infra.
pub fn stop(paths: &Paths, pod: &PodRecord, timeout: Option<u32>) -> Result<()> {
    let m = members(paths, &pod.id)?;
    // Members at once, then the infra (which holds their network while
    // they shut down). Killed at once (`-t 0`), nobody shuts down: all
    // together.
    let (mut infra, mut rest): (Vec<_>, Vec<_>) = m.into_iter().partition(|(r, _)| r.pod_infra);
    if timeout == Some(0) {
        rest.append(&mut infra);
    }
    let errs = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for (r, st) in &rest {
            if st.is_running() {
                let errs = &errs;
                s.spawn(move || {
                    if let Err(e) =
                        ctr::lifecycle::stop(paths, r, timeout.unwrap_or(r.stop_timeout))
                    {
                        errs.lock().unwrap().push(format!("{}: {e:#}", r.name));
                    }
                });
            }
        }
    });
    for (r, st) in &infra {
        if st.is_running() {
            if let Err(e) = ctr::lifecycle::stop(paths, r, timeout.unwrap_or(r.stop_timeout)) {
                errs.lock().unwrap().push(format!("{}: {e:#}", r.name));
            }
        }
    }
    let errs = errs.into_inner().unwrap();
    if !errs.is_empty() {
        bail!("stopping pod {}: {}", pod.name, errs.join("; "));
    }
    event(paths, "stop", pod);
    Ok(())
}

/// Send `sig` to every running container of the pod.
pub fn kill(paths: &Paths, pod: &PodRecord, sig: i32) -> Result<()> {
    let mut any = false;
    each_member(paths, pod, false, |r, s| {
        if s.is_running() {
            any = true;
            ctr::lifecycle::signal_locked_by_user(paths, &r.id, sig, &|| {
                crate::events::container(&paths.runroot, "kill", r)
            })?;
        }
        Ok(())
    })?;
    if !any {
        return Err(crate::error::Error::ContainerState(format!(
            "pod {} is not running: no containers in pod to kill",
            pod.id
        ))
        .into());
    }
    event(paths, "kill", pod);
    Ok(())
}

/// Pause or unpause every container of the pod.
pub fn pause(paths: &Paths, pod: &PodRecord, pause: bool) -> Result<()> {
    each_member(paths, pod, true, |r, s| {
        if pause && s.status == Status::Running {
            ctr::pause::pause(paths, &r.id)?;
        } else if !pause && s.is_paused() {
            ctr::pause::unpause(paths, &r.id)?;
        }
        Ok(())
    })?;
    event(paths, if pause { "pause" } else { "unpause" }, pod);
    Ok(())
}

/// Remove the pod: its members, its infra, then its record. The caller is
/// in rpod's user namespace.
pub fn remove(paths: &Paths, pod: &PodRecord, force: bool, timeout: Option<u32>) -> Result<()> {
    let _l = lock(paths)?;
    remove_locked(paths, pod, force, timeout)
}

fn remove_locked(paths: &Paths, pod: &PodRecord, force: bool, timeout: Option<u32>) -> Result<()> {
    let m = members(paths, &pod.id)?;
    if !force {
        if let Some((r, _)) = m.iter().find(|(_, s)| s.is_running()) {
            return Err(crate::error::Error::ContainerState(format!(
                "pod {} has containers that are not ready to be removed: cannot remove container {} as it is running - running or paused containers cannot be removed without force",
                pod.id, r.id
            ))
            .into());
        }
        if m.iter().any(|(r, _)| !r.pod_infra) {
            return Err(crate::error::Error::ContainerState(format!(
                "pod {} contains containers and cannot be removed: removing pod containers",
                pod.id
            ))
            .into());
        }
    }
    // Stop first (members before the infra), then remove.
    if m.iter().any(|(_, s)| s.is_running()) {
        stop(paths, pod, timeout)?;
    }
    for (r, _) in m.iter().rev() {
        ctr::lifecycle::remove_container(paths, &r.id, true, timeout)
            .with_context(|| format!("removing container {} of pod {}", r.name, pod.name))?;
    }
    let dir = pods_dir(paths).join(&pod.id);
    // The record goes first: a crash after it leaves only a dir reconcile removes.
    std::fs::remove_file(dir.join("pod.json"))
        .with_context(|| format!("removing pod {}", pod.name))?;
    let _ = std::fs::remove_dir_all(&dir);
    event(paths, "remove", pod);
    Ok(())
}

/// After a member exits (from its monitor): with `--exit-policy stop`, the
/// pod's infra stops once no other member runs.
pub fn after_member_exit(paths: &Paths, rec: &ContainerRecord) {
    if rec.pod.is_empty() || rec.pod_infra {
        return;
    }
    let Ok(pod) = load(paths, &rec.pod) else {
        return;
    };
    if pod.exit_policy != "stop" || pod.infra_id.is_empty() {
        return;
    }
    let Ok(m) = members(paths, &pod.id) else {
        return;
    };
    if m.iter()
        .any(|(r, s)| !r.pod_infra && r.id != rec.id && s.is_running())
    {
        return;
    }
    if let Some((infra, s)) = m.iter().find(|(r, _)| r.pod_infra) {
        if s.is_running() {
            if let Err(e) = ctr::lifecycle::stop(paths, infra, infra.stop_timeout) {
                eprintln!("monitor: stopping the infra of pod {}: {e:#}", pod.name);
            }
        }
    }
}

/// The pod's creation time as podman prints it in JSON.
pub fn created_rfc3339(pod: &PodRecord) -> String {
    crate::time::rfc3339_nano(pod.created)
}
