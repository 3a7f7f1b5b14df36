//! Container records on disk.
//!
//! `root/containers/<id>/`:
//! - `container.json`: what the container is ([`ContainerRecord`]); rmi reads
//!   its `image_id` to refuse removing an image in use;
//! - `state.json`: what it is doing ([`State`]), written by create, the
//!   monitor, and whoever reconciles a state whose monitor died;
//! - `config.json` (the OCI bundle), `upper/ work/ merged/`, `hosts`,
//!   `hostname`, `resolv.conf`, `ctr.log`, and `lock`.
//!
//! `runroot/containers/<id>/` holds what dies with a reboot: the attach
//! socket and the runtime's state root.
//!
//! The persistent state lives beside the record (not in the runroot) so that
//! a reboot turns "running" into "exited" instead of losing the exit code.

use super::names::{self, Claim, Names};
use super::time;
use crate::error::{Error, Kind};
use crate::network::NetworkMode;
use crate::sys::pidfd;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where containers live.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub runroot: PathBuf,
}

impl Paths {
    pub fn new(g: &crate::options::Options) -> Result<Paths> {
        let store = crate::storage::Store::open(g)?;
        Ok(Paths {
            root: store.root().to_path_buf(),
            runroot: store.runroot().to_path_buf(),
        })
    }

    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
    pub fn ctr_dir(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("containers").join(id)
    }
    pub fn names(&self) -> Names {
        Names::new(&self.root)
    }
}

/// A bind, tmpfs or volume mount as `inspect` shows it. A volume's name is
/// how `volume rm` knows the volume is in use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct MountRecord {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "Destination")]
    pub destination: String,
    #[serde(rename = "Options")]
    pub options: Vec<String>,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// The volume's name (Type "volume"; empty: a new anonymous one, until create names it).
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The container user's (uid, gid) in rpod's user namespace: `:U`
    /// gives the mount to them, and a new volume's first mount its root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<(u32, u32)>,
}

/// What a container is: fixed at create time (the name may change).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub image_name: String,
    /// Epoch nanoseconds.
    pub created: i64,
    /// The process args (entrypoint + cmd, after `--init` wrapping is undone).
    pub command: Vec<String>,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub workdir: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Signal number.
    pub stop_signal: i32,
    pub stop_timeout: u32,
    #[serde(default)]
    pub rm: bool,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub interactive: bool,
    #[serde(default)]
    pub init: bool,
    #[serde(default = "default_network")]
    pub network: NetworkMode,
    #[serde(default)]
    pub mounts: Vec<MountRecord>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub userns: String,
    #[serde(default)]
    pub sdnotify: String,
    #[serde(default)]
    pub storage_driver: Option<String>,
    /// The `--volumepath` the container was made with, so that its monitor
    /// and `rm -v` find its volumes without the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_path: Option<PathBuf>,
    #[serde(default)]
    pub ports: Vec<String>,
    /// The rpod command line that created it (argv), for `generate systemd --new`.
    #[serde(default)]
    pub create_command: Vec<String>,
    /// `--restart`: "" (none given), no, on-failure, always, unless-stopped.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub restart_policy: String,
    /// `on-failure:N`'s N (0: no limit).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restart_retries: u32,
    /// `--health-cmd` and co., or the image's HEALTHCHECK (None: no check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::health::HealthConfig>,
    /// `--health-on-failure`: "" (none), kill, restart or stop.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub health_on_failure: String,
    /// The pod's id (`--pod`); the pod's record lives in `crate::pod`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod: String,
    /// This container is its pod's infra (holds the shared namespaces).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pod_infra: bool,
    /// The run/create flags of `super::more` that the monitor or later
    /// commands need (`--requires`, `--pidfile`, `--timeout`, …).
    #[serde(default, skip_serializing_if = "super::more::RunExtras::is_empty")]
    pub extras: super::more::RunExtras,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the monitor does when the container's process exits (`--restart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    /// Restart after a non-zero exit, at most N times (0: no limit).
    OnFailure(u32),
    Always,
    /// Like `always` (as podman: a stop by the user holds either).
    UnlessStopped,
}

impl RestartPolicy {
    /// podman's `--restart` values: no, on-failure[:N], always,
    /// unless-stopped ("" is no policy).
    pub fn parse(s: &str) -> Result<RestartPolicy> {
        let (name, retries) = match s.split_once(':') {
            None => (s, None),
            Some((n, r)) => {
                if r.contains(':') {
                    bail!("invalid restart policy: may specify retries at most once");
                }
                if !n.eq_ignore_ascii_case("on-failure") {
                    bail!("restart policy retries can only be specified with on-failure restart policy");
                }
                let r: i64 = r
                    .parse()
                    .with_context(|| format!("parsing restart policy retry count {r:?}"))?;
                if r < 0 {
                    bail!("must specify restart policy retry count as a number greater than 0");
                }
                (n, Some(r.min(u32::MAX as i64) as u32))
            }
        };
        Ok(match name {
            "" | "no" => RestartPolicy::No,
            "on-failure" => RestartPolicy::OnFailure(retries.unwrap_or(0)),
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            _ => bail!("{name:?} is not a valid restart policy: invalid argument"),
        })
    }

    /// The name recorded and shown by inspect.
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure(_) => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    /// Whether a run that exited with `code`, after `count` restarts,
    /// is restarted (a stop or kill by the user is checked elsewhere).
    pub fn restarts(self, code: i32, count: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || count < max),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

impl ContainerRecord {
    /// The container's restart policy.
    pub fn restart(&self) -> RestartPolicy {
        match self.restart_policy.as_str() {
            "on-failure" => RestartPolicy::OnFailure(self.restart_retries),
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            _ => RestartPolicy::No,
        }
    }
}

fn default_network() -> NetworkMode {
    NetworkMode::None
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Stopping,
    Exited,
    /// Every process stopped (SIGSTOP or the cgroup freezer): see `pause`.
    Paused,
    /// `init`: rootfs mounted, network up, the runtime's init created and
    /// its monitor waiting, but the user's program not started (podman's
    /// "initialized"). Its processes exist, so [`State::is_running`] holds;
    /// what the user sees (ps, inspect, kill, rm) treats it as not running.
    Initialized,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopping => "stopping",
            Status::Exited => "exited",
            Status::Paused => "paused",
            Status::Initialized => "initialized",
        }
    }
}

/// What a container is doing. Pids come with their start times so that a
/// reused pid is never mistaken for ours.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct State {
    pub status: Status,
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub pid_start: u64,
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub monitor_start: u64,
    #[serde(default)]
    pub fuse_pid: i32,
    #[serde(default)]
    pub fuse_start: u64,
    /// The network helpers (slirp4netns or pasta, and the port forwarder)
    /// as (pid, start time), stopped with the container.
    #[serde(default)]
    pub net_helpers: Vec<(i32, u64)>,
    /// Epoch nanoseconds, 0 = never.
    #[serde(default)]
    pub started_at: i64,
    #[serde(default)]
    pub finished_at: i64,
    #[serde(default)]
    pub exit_code: i32,
    /// Why the last start failed, or "monitor lost" notes.
    #[serde(default)]
    pub error: String,
    /// How often the monitor restarted it (`--restart`) since the user
    /// last started it.
    #[serde(default)]
    pub restart_count: u32,
    /// `stop` or `kill` by the user: no restart until the next start
    /// (podman's StoppedByUser). Set under the lock before signalling.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// The monitor's last restart delay in ms (doubles while the container
    /// keeps exiting quickly; 0: none yet).
    #[serde(default)]
    pub restart_delay_ms: u64,
    /// A `--init-ctr once` container run by `pod start`: its monitor
    /// removes it when this run exits 0 (podman's OneShotInitContainer).
    /// Cleared when the run ends otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove_on_success: bool,
}

impl State {
    pub fn init_alive(&self) -> bool {
        pidfd::is_same_process(self.pid, self.pid_start)
    }
    pub fn monitor_alive(&self) -> bool {
        pidfd::is_same_process(self.monitor_pid, self.monitor_start)
    }
    /// Its processes exist (running, stopping or paused, or initialized:
    /// see [`State::is_initialized`]).
    pub fn is_running(&self) -> bool {
        matches!(
            self.status,
            Status::Running | Status::Stopping | Status::Paused | Status::Initialized
        )
    }
    /// Set up by `init`, its program not started yet.
    pub fn is_initialized(&self) -> bool {
        self.status == Status::Initialized
    }
    /// Its program runs (or is being stopped, or paused): what podman calls
    /// running, without the initialized state.
    pub fn program_runs(&self) -> bool {
        self.is_running() && !self.is_initialized()
    }
    pub fn is_paused(&self) -> bool {
        self.status == Status::Paused
    }
}

/// Replace `path` atomically; `sync` makes it durable too (records that
/// must survive a crash, not state that is rewritten all the time).
pub fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    if sync {
        crate::storage::write_atomic(path, bytes)
    } else {
        crate::storage::write_atomic_volatile(path, bytes)
    }
}

pub fn load(paths: &Paths, id: &str) -> Result<ContainerRecord> {
    let p = paths.ctr_dir(id).join("container.json");
    let b = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    serde_json::from_slice(&b).with_context(|| format!("parsing {}", p.display()))
}

pub fn save(paths: &Paths, rec: &ContainerRecord) -> Result<()> {
    let p = paths.ctr_dir(&rec.id).join("container.json");
    write_atomic(&p, &serde_json::to_vec_pretty(rec)?, true)
}

/// The recorded state; a missing or torn file reads as "created".
pub fn load_state(paths: &Paths, id: &str) -> State {
    std::fs::read(paths.ctr_dir(id).join("state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// State changes are frequent and cheap to redo, so they are renamed into
/// place without fsync: a crash leaves either the old or the new state.
pub fn save_state(paths: &Paths, id: &str, st: &State) -> Result<()> {
    let p = paths.ctr_dir(id).join("state.json");
    write_atomic(&p, &serde_json::to_vec(st)?, false)
}

/// The per-container lock (`containers/<id>/lock`) that serialises state
/// changes: starting (held by the monitor from before it looks at the state
/// until it has recorded "running"), signalling, recording the exit and
/// removal. Nobody holds it while waiting for a container to exit, so a long
/// `stop` never blocks `ps` or `inspect`.
///
/// Lock order: this lock first, then the store's and the names' locks. The
/// one nesting of container locks: a monitor starting a container that
/// joins another's namespaces (`--network container:X`) may reconcile X's
/// state, so briefly X's lock; nothing holding X's lock waits for another
/// container's. Says `waiting for lock on …` when it waits.
pub fn lock(paths: &Paths, id: &str) -> Result<crate::storage::Lock> {
    crate::storage::Lock::exclusive(&paths.ctr_dir(id).join("lock"))
}

/// [`lock`] for a container that must still exist once it is held: a
/// removal that held it first has moved the directory (and the lock file)
/// out of sight, which makes this "no such container".
pub fn lock_existing(paths: &Paths, id: &str) -> Result<crate::storage::Lock> {
    match lock(paths, id) {
        Ok(l) if exists(paths, id) => Ok(l),
        Ok(_) => Err(no_such(id)),
        Err(_) if !exists(paths, id) => Err(no_such(id)),
        Err(e) => Err(e),
    }
}

fn is_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Ids of all containers, unordered.
pub fn list_ids(paths: &Paths) -> Result<Vec<String>> {
    let dir = paths.containers();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut ids = Vec::new();
    for e in rd {
        let e = e?;
        if let Some(n) = e.file_name().to_str() {
            if is_id(n) {
                ids.push(n.to_string());
            }
        }
    }
    Ok(ids)
}

pub fn exists(paths: &Paths, id: &str) -> bool {
    paths.ctr_dir(id).join("container.json").exists()
}

/// podman's "no such container" error ([`Error::NotFound`]): callers that
/// skip missing containers (`--ignore`) ask for it with [`is_no_such`], never
/// by the message's text.
pub fn no_such(name: &str) -> anyhow::Error {
    Error::not_found(Kind::Container, name)
}

/// Whether `e` (or what it wraps) is "no such container".
pub fn is_no_such(e: &anyhow::Error) -> bool {
    crate::error::is_not_found(e, Kind::Container)
}

/// A name, full id or unique id prefix to a full id.
pub fn resolve(paths: &Paths, name_or_id: &str) -> Result<String> {
    if name_or_id.is_empty() {
        return Err(no_such(name_or_id));
    }
    if let Some(id) = paths.names().lookup(name_or_id) {
        if exists(paths, &id) {
            return Ok(id);
        }
    }
    if is_id(name_or_id) {
        if exists(paths, name_or_id) {
            return Ok(name_or_id.to_string());
        }
        return Err(no_such(name_or_id));
    }
    if name_or_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        let lower = name_or_id.to_ascii_lowercase();
        let hits: Vec<String> = list_ids(paths)?
            .into_iter()
            .filter(|id| id.starts_with(&lower) && exists(paths, id))
            .collect();
        match hits.len() {
            1 => return Ok(hits.into_iter().next().unwrap()),
            0 => {}
            _ => {
                bail!("more than one result for container ID \"{name_or_id}\": use more of the ID")
            }
        }
    }
    Err(no_such(name_or_id))
}

/// Create the container directory and claim the name. Exactly one of two
/// racing creators with the same name wins; the loser leaves nothing behind.
pub fn create(paths: &Paths, rec: &ContainerRecord) -> Result<()> {
    names::validate(&rec.name)?;
    let dir = paths.ctr_dir(&rec.id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = (|| {
        save(paths, rec)?;
        save_state(paths, &rec.id, &State::default())?;
        match paths
            .names()
            .claim(&rec.name, &rec.id, |holder| exists(paths, holder))?
        {
            Claim::Ok => Ok(()),
            Claim::Taken(holder) => Err(names::in_use_error(&rec.name, &holder)),
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// Remove the records of a stopped container: the directory is first renamed
/// out of sight (atomic), then deleted, then the name released. Files in the
/// upper dir belong to subuids, so the caller must be in rpod's user namespace.
pub fn remove(paths: &Paths, rec: &ContainerRecord) -> Result<()> {
    retire(paths, rec)?;
    purge(paths, &rec.id)
}

/// The first, instant half of [`remove`]: the container is gone from every
/// listing and its name is free. [`purge`] deletes its files.
pub fn retire(paths: &Paths, rec: &ContainerRecord) -> Result<()> {
    let dir = paths.ctr_dir(&rec.id);
    match std::fs::rename(&dir, trash_dir(paths, &rec.id)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", dir.display())),
    }
    paths.names().release(&rec.name, &rec.id)
}

/// How long the exit code of a removed container is kept for `wait`
/// (podman keeps them for five minutes too).
const EXIT_KEEP: std::time::Duration = std::time::Duration::from_secs(300);

fn exits_dir(paths: &Paths) -> PathBuf {
    paths.runroot.join("exits")
}

/// Keep the exit code of a container that is being removed (`--rm`), so a
/// `wait` that started while it ran still learns it. Old ones are dropped.
pub fn record_exit(paths: &Paths, id: &str, code: i32) -> Result<()> {
    let dir = exits_dir(paths);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > EXIT_KEEP);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    write_atomic(&dir.join(id), code.to_string().as_bytes(), false)
}

/// The exit code [`record_exit`] kept for a removed container.
pub fn recorded_exit(paths: &Paths, id: &str) -> Option<i32> {
    std::fs::read_to_string(exits_dir(paths).join(id))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn trash_dir(paths: &Paths, id: &str) -> PathBuf {
    paths.containers().join(format!(".removing-{id}"))
}

/// Delete what a retired container left: its directory and runtime dir.
pub fn purge(paths: &Paths, id: &str) -> Result<()> {
    let _ = std::fs::remove_dir_all(paths.run_dir(id));
    let trash = trash_dir(paths, id);
    // Never delete through a rootfs still mounted in this namespace (only a
    // monitor's has one; elsewhere this fails harmlessly with EPERM).
    let _ = crate::rootfs::unmount(&trash);
    match std::fs::remove_dir_all(&trash) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", trash.display())),
    }
}

/// Ids of retired containers whose files are still there (a monitor killed
/// while deleting them, or one still at it).
pub fn retired(paths: &Paths) -> Vec<String> {
    std::fs::read_dir(paths.containers())
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_str()?.to_string();
                    n.strip_prefix(".removing-")
                        .filter(|id| is_id(id))
                        .map(String::from)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The state as it really is. A state that says running but whose monitor
/// is gone is checked against the process: if the init died too, it becomes
/// "exited" with an unknown code (-1), so nothing is ever stuck at running.
pub fn observe(paths: &Paths, id: &str) -> State {
    let st = load_state(paths, id);
    if !st.is_running() || st.monitor_alive() {
        return st;
    }
    match lock(paths, id) {
        Ok(_l) => observe_locked(paths, id),
        Err(_) => st,
    }
}

/// [`observe`] for a caller that holds the container's [`lock`].
pub fn observe_locked(paths: &Paths, id: &str) -> State {
    // The monitor writes the final state before it exits: read it again.
    let st = load_state(paths, id);
    if !st.is_running() || st.monitor_alive() || st.init_alive() {
        return st;
    }
    reconcile(paths, id, st)
}

fn reconcile(paths: &Paths, id: &str, mut st: State) -> State {
    st.status = Status::Exited;
    st.exit_code = -1;
    st.finished_at = time::now_ns();
    st.error = "the container's monitor exited before recording its exit code".into();
    release_helpers(&mut st);
    if exists(paths, id) {
        let _ = save_state(paths, id, &st);
    }
    st
}

/// Stop helpers a dead monitor could not: the fuse-overlayfs daemon lives in
/// the monitor's mount namespace and keeps it alive until killed.
pub fn release_helpers(st: &mut State) {
    if let Some(fd) = pidfd::open_verified(st.fuse_pid, st.fuse_start) {
        let _ = pidfd::pidfd_send_signal(&fd, libc::SIGKILL);
        let _ = pidfd::pidfd_wait(&fd, 2000);
    }
    st.fuse_pid = 0;
    st.fuse_start = 0;
    // network: no slirp4netns/pasta (nor its published ports) outlives the container.
    for (pid, start) in std::mem::take(&mut st.net_helpers) {
        crate::network::helper::stop(pid, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> (tempfile::TempDir, Paths) {
        let d = tempfile::tempdir().unwrap();
        let p = Paths {
            root: d.path().join("root"),
            runroot: d.path().join("run"),
        };
        (d, p)
    }

    fn rec(name: &str) -> ContainerRecord {
        ContainerRecord {
            id: names::new_id(),
            name: name.into(),
            image_id: "ab".repeat(32),
            stop_signal: 15,
            stop_timeout: 10,
            ..Default::default()
        }
    }

    #[test]
    fn create_resolve_remove() {
        let (_d, p) = paths();
        let a = rec("web");
        create(&p, &a).unwrap();
        assert_eq!(resolve(&p, "web").unwrap(), a.id);
        assert_eq!(resolve(&p, &a.id).unwrap(), a.id);
        assert_eq!(resolve(&p, &a.id[..12]).unwrap(), a.id);
        let e = resolve(&p, "nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no container with name or ID \"nope\" found: no such container"
        );
        // Recognised by type, also under added context; not by its text.
        assert!(is_no_such(&e.context("stopping nope")));
        assert!(!is_no_such(&anyhow::anyhow!("no such container")));
        let b = rec("web");
        let err = create(&p, &b).unwrap_err().to_string();
        assert!(err.contains("already in use by"), "{err}");
        assert!(!p.ctr_dir(&b.id).exists(), "the loser leaves nothing");
        // container.json carries image_id for rmi.
        let v: serde_json::Value = serde_json::from_slice(
            &std::fs::read(p.ctr_dir(&a.id).join("container.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["image_id"], a.image_id);
        remove(&p, &a).unwrap();
        assert!(resolve(&p, "web").is_err());
        assert!(list_ids(&p).unwrap().is_empty());
        create(&p, &b).unwrap();
    }

    #[test]
    fn restart_policies() {
        use RestartPolicy::*;
        assert_eq!(RestartPolicy::parse("").unwrap(), No);
        assert_eq!(RestartPolicy::parse("no").unwrap(), No);
        assert_eq!(RestartPolicy::parse("on-failure").unwrap(), OnFailure(0));
        assert_eq!(RestartPolicy::parse("on-failure:3").unwrap(), OnFailure(3));
        assert_eq!(RestartPolicy::parse("always").unwrap(), Always);
        assert_eq!(
            RestartPolicy::parse("unless-stopped").unwrap(),
            UnlessStopped
        );
        let e = |s: &str| RestartPolicy::parse(s).unwrap_err().to_string();
        assert!(e("always:2").contains("only be specified with on-failure"));
        assert!(e("on-failure:-1").contains("greater than 0"));
        assert!(e("on-failure:1:2").contains("at most once"));
        assert!(e("sometimes").contains("is not a valid restart policy"));
        // on-failure: non-zero exits only, up to N; always: any exit.
        assert!(OnFailure(3).restarts(1, 2));
        assert!(!OnFailure(3).restarts(1, 3));
        assert!(!OnFailure(3).restarts(0, 0));
        assert!(OnFailure(0).restarts(137, 1000));
        assert!(Always.restarts(0, 1000) && UnlessStopped.restarts(0, 5));
        assert!(!No.restarts(1, 0));
        // Recorded by name: an old record without the fields has none.
        let mut r = rec("p");
        assert_eq!(r.restart(), No);
        r.restart_policy = "on-failure".into();
        r.restart_retries = 2;
        assert_eq!(r.restart(), OnFailure(2));
    }

    #[test]
    fn running_without_monitor_or_init_becomes_exited() {
        let (_d, p) = paths();
        let a = rec("x");
        create(&p, &a).unwrap();
        let st = State {
            status: Status::Running,
            pid: 999_999_999,
            monitor_pid: 999_999_998,
            ..Default::default()
        };
        save_state(&p, &a.id, &st).unwrap();
        let o = observe(&p, &a.id);
        assert_eq!(o.status, Status::Exited);
        assert_eq!(o.exit_code, -1);
        assert_eq!(load_state(&p, &a.id).status, Status::Exited);
    }

    #[test]
    fn running_with_live_init_stays_running() {
        let (_d, p) = paths();
        let a = rec("y");
        create(&p, &a).unwrap();
        let me = std::process::id() as i32;
        let st = State {
            status: Status::Running,
            pid: me,
            pid_start: pidfd::start_time(me).unwrap(),
            monitor_pid: 999_999_998,
            ..Default::default()
        };
        save_state(&p, &a.id, &st).unwrap();
        assert_eq!(observe(&p, &a.id).status, Status::Running);
    }
}
