//! Container state on disk, runc-style: `<state_root>/<id>/state.json`.
//!
//! The status is never stored: it is derived each time from the init
//! process (alive, same start time) and the exec fifo, so a container whose
//! init died or whose pid was reused reads as stopped.

use crate::error::{Error, Kind};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// The runtime-spec status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    /// Frozen by `pause` (its cgroup's freezer), as runc reports it.
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `state` prints: runc's JSON, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds, UTC.
    pub created: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// What we keep on disk: the public state plus what deriving the status and
/// joining the container need.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    #[serde(flatten)]
    pub state: State,
    /// The init's start time (field 22 of /proc/PID/stat): a different value
    /// under the same pid means the pid was reused.
    pub init_start: u64,
    /// False until create finished: a live init then reads as "creating".
    pub setup_done: bool,
    pub rootless: bool,
    pub no_pivot: bool,
    /// Whether the container has its own user namespace (exec joins it).
    pub own_userns: bool,
    /// The pid namespace is an existing one (linux.namespaces path): its
    /// other processes are not the container's.
    #[serde(default)]
    pub joined_pid_ns: bool,
    /// No mount namespace of its own: the id of the mount at the rootfs
    /// before create, so delete takes away the bind the init made there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_rootfs_mnt: Option<u64>,
    /// A real-root container's cgroup (v1 controllers or v2), removed on delete.
    #[serde(default, skip_serializing_if = "super::cgroups::Placed::is_empty")]
    pub cgroups: super::cgroups::Placed,
    /// A cgroup we created (removed on delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<PathBuf>,
    /// Kept here so delete can run them even if the bundle is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<oci_spec::runtime::Hook>,
}

pub fn container_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Container ids become directory names: keep them to runc's alphabet.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if !ok {
        bail!("invalid container id \"{id}\": use letters, digits, '_', '+', '-' and '.'");
    }
    Ok(())
}

impl Saved {
    pub fn load(root: &Path, id: &str) -> Result<Saved> {
        validate_id(id)?;
        let path = container_dir(root, id).join(STATE_FILE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found(Kind::OciContainer, id));
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Write atomically (temp file + rename). The state dir lives in a
    /// runtime dir and describes processes that do not outlive a reboot, so
    /// no fsync: speed matters on this path.
    pub fn save(&self, root: &Path) -> Result<()> {
        let path = container_dir(root, &self.state.id).join(STATE_FILE);
        crate::storage::write_atomic_volatile(&path, &serde_json::to_vec(self)?)
    }

    pub fn init_alive(&self) -> bool {
        self.state.pid > 0 && crate::sys::pidfd::is_same_process(self.state.pid, self.init_start)
    }

    /// Whether the container's cgroup is frozen (`pause`).
    pub fn frozen(&self) -> bool {
        super::cgroups::is_frozen(&self.cgroups, self.cgroup.as_deref())
    }

    /// The state with its status (and pid, 0 once stopped, as runc) filled in.
    pub fn current(&self, root: &Path) -> State {
        let mut s = self.state.clone();
        s.status = if !self.init_alive() {
            Status::Stopped
        } else if !self.setup_done {
            Status::Creating
        } else if self.frozen() {
            // runc pauses created and running containers alike.
            Status::Paused
        } else if container_dir(root, &s.id).join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        };
        if s.status == Status::Stopped {
            s.pid = 0;
        }
        s
    }
}

/// RFC 3339 UTC with nanoseconds, as Go's time.RFC3339Nano prints it
/// (trailing zeros of the fraction dropped).
pub fn rfc3339_nano(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, dd) = crate::time::civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_matches_go() {
        assert_eq!(rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_450_000);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12345Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_nano(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", "..", "a/b", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    fn saved(pid: i32, start: u64, done: bool) -> Saved {
        Saved {
            state: State {
                oci_version: "1.0.2".into(),
                id: "c1".into(),
                pid,
                status: Status::Creating,
                bundle: "/b".into(),
                rootfs: "/b/rootfs".into(),
                created: rfc3339_nano(UNIX_EPOCH),
                owner: String::new(),
                annotations: HashMap::new(),
            },
            init_start: start,
            setup_done: done,
            rootless: true,
            no_pivot: false,
            own_userns: true,
            joined_pid_ns: false,
            host_rootfs_mnt: None,
            cgroups: Default::default(),
            cgroup: None,
            poststop: vec![],
        }
    }

    #[test]
    fn status_is_derived_from_the_process_and_fifo() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("c1")).unwrap();
        let me = std::process::id() as i32;
        let start = crate::sys::pidfd::start_time(me).unwrap();
        assert_eq!(
            saved(me, start, false).current(d.path()).status,
            Status::Creating
        );
        assert_eq!(
            saved(me, start, true).current(d.path()).status,
            Status::Running
        );
        std::fs::write(d.path().join("c1").join(EXEC_FIFO), "").unwrap();
        assert_eq!(
            saved(me, start, true).current(d.path()).status,
            Status::Created
        );
        // Same pid, other start time: the pid was reused, the container is gone.
        let s = saved(me, start + 1, true).current(d.path());
        assert_eq!((s.status, s.pid), (Status::Stopped, 0));
    }

    #[test]
    fn saved_round_trips_and_state_json_is_runcs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("c1")).unwrap();
        let s = saved(42, 7, true);
        s.save(d.path()).unwrap();
        let back = Saved::load(d.path(), "c1").unwrap();
        assert_eq!(back.state, s.state);
        assert_eq!(back.init_start, 7);
        let v: serde_json::Value = serde_json::to_value(&s.state).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        let e = Saved::load(d.path(), "nope").unwrap_err();
        assert!(crate::error::is_not_found(&e, Kind::OciContainer), "{e:#}");
        assert!(e.to_string().contains("does not exist"));
    }
}
