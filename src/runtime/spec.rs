//! config.json generation: what podman 4.3 writes for a rootless container,
//! and runc's `spec [--rootless]` template for `rpod oci spec`.
//!
//! The shapes were checked against config.json files written by rootless
//! podman 4.3.1 on the project's test machines and against `runc spec` 1.1.5.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};
use serde_json::{json, Value};

use super::capabilities;
use super::seccomp;
use super::user::ResolvedUser;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeccompMode {
    /// podman's default profile, filtered by the container's caps.
    #[default]
    Default,
    Unconfined,
    Profile(PathBuf),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkNs {
    /// A fresh network namespace (`--network none`, and later slirp/pasta).
    #[default]
    New,
    Host,
    /// Join an existing namespace (a slirp4netns/pasta netns file): the seam
    /// for the networking issue.
    #[allow(dead_code)]
    Path(PathBuf),
}

/// Everything needed for a podman-like config.json, already merged by the
/// caller from the image config and the flags.
#[derive(Debug, Clone, Default)]
pub struct SpecRequest {
    /// Entrypoint + Cmd, resolved.
    pub args: Vec<String>,
    /// The final environment; HOME is added from `user.home` when missing.
    pub env: Vec<String>,
    pub cwd: String,
    pub user: ResolvedUser,
    pub hostname: String,
    pub terminal: bool,
    pub rootfs: PathBuf,
    pub readonly_rootfs: bool,
    /// The bounding set, from `capabilities::resolve`.
    pub caps: Vec<String>,
    /// `--cap-add` as typed: a non-root user gets only these raised
    /// (effective/permitted/inheritable/ambient), as podman does.
    pub cap_add: Vec<String>,
    pub no_new_privileges: bool,
    pub seccomp: SeccompMode,
    /// User binds and tmpfs, already validated.
    pub mounts: Vec<Mount>,
    pub network: NetworkNs,
    /// From `--ulimit` (see `parse_ulimit`).
    pub rlimits: Vec<(String, u64, u64)>,
    pub annotations: HashMap<String, String>,
    /// None: podman's defaults (none at all with `privileged`).
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    pub privileged: bool,
    /// /etc/hosts, /etc/hostname, /etc/resolv.conf … binds from the container dir.
    pub extra_mounts: Vec<Mount>,
    /// Only for bundles that create their own user namespace.
    pub user_namespace: Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>,
}

/// podman's (containers/common) default masked paths.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
    // RAPL energy counters: a power side channel (PLATYPUS); docker and
    // current podman mask it too.
    "/sys/devices/virtual/powercap",
];

/// podman's default read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// podman's RLimitDefaultValue: the ceiling for the default NOFILE/NPROC.
const RLIMIT_DEFAULT: u64 = 1_048_576;

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Value {
    let mut m = json!({ "destination": dest, "type": typ, "source": source });
    if !options.is_empty() {
        m["options"] = json!(options);
    }
    m
}

fn depth(dest: &str) -> usize {
    let clean = dest.trim_end_matches('/');
    if clean.is_empty() {
        1
    } else {
        clean.split('/').count()
    }
}

fn gid_mapped(maps: &[LinuxIdMapping], gid: u32) -> bool {
    maps.iter()
        .any(|m| gid >= m.container_id() && (gid - m.container_id()) < m.size())
}

/// podman's rootless default for NOFILE/NPROC: the caller's own limits, capped
/// at 1048576. podman raises its soft NOFILE to the hard limit at startup, so
/// NOFILE gets the hard limit for both.
fn default_rlimit(res: nix::sys::resource::Resource) -> (u64, u64) {
    use nix::sys::resource::Resource;
    match nix::sys::resource::getrlimit(res) {
        Ok((soft, hard)) => {
            let hard = hard.min(RLIMIT_DEFAULT);
            let soft = if res == Resource::RLIMIT_NOFILE {
                hard
            } else {
                soft.min(hard)
            };
            (soft, hard)
        }
        Err(_) => (RLIMIT_DEFAULT, RLIMIT_DEFAULT),
    }
}

/// Character and block devices under `dir`, as runc's GetDevices lists them,
/// minus what podman keeps out of rootless containers (/dev/ptmx, /dev/tty*).
fn host_devices(dir: &std::path::Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        if ft.is_dir() {
            if !matches!(
                name.as_ref(),
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"
            ) {
                out.extend(host_devices(&path));
            }
            continue;
        }
        if !(ft.is_char_device() || ft.is_block_device()) || name == "console" {
            continue;
        }
        let p = path.to_string_lossy();
        if p == "/dev/ptmx" || p.starts_with("/dev/tty") {
            continue;
        }
        out.push(path);
    }
    out.sort();
    out
}

fn cgroup_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// podman's config.json for a rootless container.
pub fn build(req: &SpecRequest) -> Result<Spec> {
    if req.args.is_empty() {
        // podman's wording
        bail!("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
    }
    let user_mount_dests: Vec<String> = req
        .mounts
        .iter()
        .map(|m| {
            m.destination()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    let covered = |d: &str| user_mount_dests.iter().any(|u| u == d);

    // process
    let mut user = json!({ "uid": req.user.uid, "gid": req.user.gid, "umask": 0o022 });
    if !req.user.additional_gids.is_empty() {
        user["additionalGids"] = json!(req.user.additional_gids);
    }
    let mut env = req.env.clone();
    if let Some(home) = &req.user.home {
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={home}"));
        }
    }
    let mut caps = json!({ "bounding": req.caps });
    if req.user.uid == 0 {
        caps["effective"] = json!(req.caps);
        caps["permitted"] = json!(req.caps);
    } else {
        let raised = capabilities::added_for_non_root(&req.cap_add, &req.caps)?;
        if !raised.is_empty() {
            for set in ["effective", "inheritable", "permitted", "ambient"] {
                caps[set] = json!(raised);
            }
        }
    }
    let mut rlimits = Vec::new();
    for (name, soft, hard) in &req.rlimits {
        rlimits.push(json!({ "type": name, "hard": hard, "soft": soft }));
    }
    use nix::sys::resource::Resource;
    for (name, res) in [
        ("RLIMIT_NOFILE", Resource::RLIMIT_NOFILE),
        ("RLIMIT_NPROC", Resource::RLIMIT_NPROC),
    ] {
        if !req.rlimits.iter().any(|(n, _, _)| n == name) {
            let (soft, hard) = default_rlimit(res);
            rlimits.push(json!({ "type": name, "hard": hard, "soft": soft }));
        }
    }
    let mut process = json!({
        "user": user,
        "args": req.args,
        "env": env,
        "cwd": if req.cwd.is_empty() { "/" } else { req.cwd.as_str() },
        "capabilities": caps,
        "rlimits": rlimits,
    });
    if req.terminal {
        process["terminal"] = json!(true);
    }
    if req.no_new_privileges {
        process["noNewPrivileges"] = json!(true);
    }

    // mounts: podman's defaults, then the container's files, then the user's;
    // a user mount on the same destination replaces a default.
    let mut mounts: Vec<Value> = Vec::new();
    mounts.push(mount(
        "/proc",
        "proc",
        "proc",
        &["nosuid", "noexec", "nodev"],
    ));
    mounts.push(mount(
        "/dev",
        "tmpfs",
        "tmpfs",
        &["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
    ));
    let sys_ro = if req.privileged { "rw" } else { "ro" };
    if req.network == NetworkNs::Host {
        // sysfs can only be mounted by the owner of the network namespace.
        mounts.push(mount(
            "/sys",
            "bind",
            "/sys",
            &["rprivate", "nosuid", "noexec", "nodev", sys_ro, "rbind"],
        ));
    } else if req.privileged {
        mounts.push(mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["rprivate", "nosuid", "noexec", "nodev", "rw"],
        ));
    } else {
        mounts.push(mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ));
    }
    let gid5 = match &req.user_namespace {
        Some((_, gids)) => gid_mapped(gids, 5),
        None => true, // rpod's user namespace maps the whole subgid range
    };
    let mut pts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if gid5 {
        pts.push("gid=5");
    }
    mounts.push(mount("/dev/pts", "devpts", "devpts", &pts));
    mounts.push(mount(
        "/dev/mqueue",
        "mqueue",
        "mqueue",
        &["nosuid", "noexec", "nodev"],
    ));
    mounts.push(mount(
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    ));
    if req.network != NetworkNs::Host {
        // With the host network /sys is the host's rbind, cgroups included.
        mounts.push(mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["rprivate", "nosuid", "noexec", "nodev", "relatime", sys_ro],
        ));
    }
    if req.privileged {
        // podman binds every host device but the terminals into a rootless
        // privileged container.
        for dev in host_devices(std::path::Path::new("/dev")) {
            let d = dev.to_string_lossy();
            mounts.push(mount(
                &d,
                "bind",
                &d,
                &["slave", "nosuid", "noexec", "rw", "rbind"],
            ));
        }
    }
    if req.readonly_rootfs {
        // podman's read_only_tmpfs: writable scratch dirs over a read-only root.
        for d in ["/run", "/tmp", "/var/tmp"] {
            mounts.push(mount(
                d,
                "tmpfs",
                "tmpfs",
                &["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"],
            ));
        }
    }
    for m in &req.extra_mounts {
        let mut v = serde_json::to_value(m)?;
        if req.readonly_rootfs && m.typ().as_deref() == Some("bind") {
            let opts = v["options"].as_array().cloned().unwrap_or_default();
            let has = |o: &str| opts.iter().any(|x| x == o);
            let mut opts = opts.clone();
            if !has("ro") && !has("rw") {
                for o in ["ro", "nosuid", "noexec", "nodev"] {
                    opts.push(json!(o));
                }
            }
            v["options"] = Value::Array(opts);
        }
        mounts.push(v);
    }
    mounts.retain(|m| !covered(m["destination"].as_str().unwrap_or_default()));
    for m in &req.mounts {
        mounts.push(serde_json::to_value(m)?);
    }
    // Parents before children, keeping the order otherwise (podman sorts by depth).
    mounts.sort_by_key(|m| depth(m["destination"].as_str().unwrap_or_default()));

    // linux
    let mut namespaces = vec![json!({ "type": "pid" })];
    match &req.network {
        NetworkNs::New => namespaces.push(json!({ "type": "network" })),
        NetworkNs::Path(p) => namespaces.push(json!({ "type": "network", "path": p })),
        NetworkNs::Host => {}
    }
    for t in ["ipc", "uts", "mount"] {
        namespaces.push(json!({ "type": t }));
    }
    let mut linux = json!({});
    if let Some((uids, gids)) = &req.user_namespace {
        namespaces.push(json!({ "type": "user" }));
        linux["uidMappings"] = serde_json::to_value(uids)?;
        linux["gidMappings"] = serde_json::to_value(gids)?;
    }
    if cgroup_v2() {
        // podman's default cgroupns is private on cgroup v2, host on v1.
        namespaces.push(json!({ "type": "cgroup" }));
    }
    if req.network != NetworkNs::Host {
        // containers.conf default_sysctls; net.* is skipped with the host netns.
        linux["sysctl"] = json!({ "net.ipv4.ping_group_range": "0 0" });
    }
    linux["namespaces"] = json!(namespaces);
    if !req.privileged {
        let seccomp = match &req.seccomp {
            SeccompMode::Default => Some(seccomp::default_profile(&req.caps)?),
            SeccompMode::Unconfined => None,
            SeccompMode::Profile(p) => Some(seccomp::load_profile(p, &req.caps)?),
        };
        if let Some(s) = seccomp {
            linux["seccomp"] = serde_json::to_value(s)?;
        }
    }
    let masked = match (&req.masked_paths, req.privileged) {
        (Some(v), _) => v.clone(),
        (None, true) => Vec::new(),
        (None, false) => {
            let mut v: Vec<String> = MASKED_PATHS.iter().map(|s| s.to_string()).collect();
            if req.network == NetworkNs::Host {
                // /sys is the host's (rbind), so podman also hides /sys/kernel.
                v.insert(0, "/sys/kernel".into());
            }
            v
        }
    };
    let readonly = match (&req.readonly_paths, req.privileged) {
        (Some(v), _) => v.clone(),
        (None, true) => Vec::new(),
        (None, false) => READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
    };
    if !masked.is_empty() {
        linux["maskedPaths"] = json!(masked);
    }
    if !readonly.is_empty() {
        linux["readonlyPaths"] = json!(readonly);
    }

    // A shared or slave mount needs a root that propagates (podman's
    // addRootPropagation).
    let has_opt = |names: &[&str]| {
        mounts.iter().any(|m| {
            m["options"].as_array().is_some_and(|o| {
                o.iter()
                    .any(|o| names.contains(&o.as_str().unwrap_or_default()))
            })
        })
    };
    if has_opt(&["shared", "rshared"]) {
        linux["rootfsPropagation"] = json!("shared");
    } else if has_opt(&["slave", "rslave"]) {
        linux["rootfsPropagation"] = json!("rslave");
    }

    let mut root = json!({ "path": req.rootfs });
    if req.readonly_rootfs {
        root["readonly"] = json!(true);
    }
    let mut spec = json!({
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": root,
        "hostname": req.hostname,
        "mounts": mounts,
        "linux": linux,
    });
    if !req.annotations.is_empty() {
        spec["annotations"] = json!(req.annotations);
    }
    serde_json::from_value(spec).context("generating config.json")
}

/// runc's `spec` template (`runc spec`, libcontainer/specconv.Example).
fn runc_example() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": true,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "runc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
            mount("/dev/pts", "devpts", "devpts",
                &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            mount("/dev/shm", "tmpfs", "shm",
                &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
            mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
            mount("/sys/fs/cgroup", "cgroup", "cgroup",
                &["nosuid", "noexec", "nodev", "relatime", "ro"])
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// runc's specconv.ToRootless: no network namespace, a user namespace mapping
/// the caller to root, /sys as a read-only rbind, no uid=/gid= mount options,
/// no cgroup resources.
fn to_rootless(spec: &mut Value, uid: u32, gid: u32) {
    let linux = &mut spec["linux"];
    let mut ns: Vec<Value> = linux["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n["type"] != "network" && n["type"] != "user")
        .collect();
    ns.push(json!({ "type": "user" }));
    linux["namespaces"] = json!(ns);
    linux["uidMappings"] = json!([{ "containerID": 0, "hostID": uid, "size": 1 }]);
    linux["gidMappings"] = json!([{ "containerID": 0, "hostID": gid, "size": 1 }]);
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    let mounts = spec["mounts"].as_array().cloned().unwrap_or_default();
    let mounts: Vec<Value> = mounts
        .into_iter()
        .map(|mut m| {
            if m["destination"].as_str().map(|d| d.trim_end_matches('/')) == Some("/sys") {
                return mount(
                    "/sys",
                    "none",
                    "/sys",
                    &["rbind", "nosuid", "noexec", "nodev", "ro"],
                );
            }
            if let Some(opts) = m["options"].as_array() {
                let kept: Vec<Value> = opts
                    .iter()
                    .filter(|o| {
                        let o = o.as_str().unwrap_or_default();
                        !o.starts_with("gid=") && !o.starts_with("uid=")
                    })
                    .cloned()
                    .collect();
                m["options"] = json!(kept);
            }
            m
        })
        .collect();
    spec["mounts"] = json!(mounts);
}

/// `runc spec [--rootless]`, for `rpod oci spec`.
pub fn default_spec(rootless: bool) -> Spec {
    let mut v = runc_example();
    if rootless {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        to_rootless(&mut v, uid, gid);
    }
    serde_json::from_value(v).expect("runc's spec template is a valid Spec")
}

/// Capability arrays sorted (oci-spec holds them in hash sets), so the same
/// spec always serialises the same way.
fn sorted_caps(mut v: Value) -> Value {
    if let Some(caps) = v["process"]["capabilities"].as_object_mut() {
        for set in caps.values_mut() {
            if let Some(a) = set.as_array_mut() {
                a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            }
        }
    }
    v
}

/// config.json text for a spec, with deterministic capability order. Use this
/// (not serde_json on the Spec directly) when writing config.json.
pub fn to_json(spec: &Spec) -> Result<String> {
    let v = sorted_caps(serde_json::to_value(spec).context("serialising config.json")?);
    serde_json::to_string_pretty(&v).context("serialising config.json")
}

/// `--ulimit NAME=SOFT[:HARD]` with docker's names; "unlimited" or -1 means
/// no limit. Returns ("RLIMIT_NAME", soft, hard).
pub fn parse_ulimit(s: &str) -> Result<(String, u64, u64)> {
    const NAMES: &[&str] = &[
        "as",
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    let bad = |why: &str| anyhow::anyhow!("invalid --ulimit {s:?}: {why}");
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD]"))?;
    let name = name.trim().to_ascii_lowercase();
    if !NAMES.contains(&name.as_str()) {
        return Err(bad(&format!("unknown limit {name:?}")));
    }
    let parse = |v: &str| -> Result<u64> {
        let v = v.trim();
        if v == "unlimited" || v == "-1" {
            return Ok(u64::MAX); // RLIM_INFINITY
        }
        v.parse::<u64>()
            .map_err(|_| bad(&format!("{v:?} is not a number, -1 or \"unlimited\"")))
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((s, h)) => (parse(s)?, parse(h)?),
        None => {
            let v = parse(vals)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(bad(&format!(
            "soft limit {soft} is greater than the hard limit {hard}"
        )));
    }
    Ok((format!("RLIMIT_{}", name.to_ascii_uppercase()), soft, hard))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn base() -> SpecRequest {
        SpecRequest {
            args: vec!["sh".into(), "-c".into(), "true".into()],
            env: vec!["PATH=/usr/bin:/bin".into(), "TERM=xterm".into()],
            cwd: "/".into(),
            user: ResolvedUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![],
                home: Some("/root".into()),
            },
            hostname: "abc123".into(),
            rootfs: "/tmp/rootfs".into(),
            caps: capabilities::default_caps(),
            ..Default::default()
        }
    }

    fn to_json(req: &SpecRequest) -> Value {
        serde_json::to_value(build(req).unwrap()).unwrap()
    }

    fn dests(v: &Value) -> Vec<String> {
        v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap().to_string())
            .collect()
    }

    fn find<'a>(v: &'a Value, dest: &str) -> &'a Value {
        v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == dest)
            .unwrap_or_else(|| panic!("no mount {dest}"))
    }

    #[test]
    fn simple_root_container() {
        let v = to_json(&base());
        let p = &v["process"];
        assert_eq!(p["args"], json!(["sh", "-c", "true"]));
        assert_eq!(
            p["env"],
            json!(["PATH=/usr/bin:/bin", "TERM=xterm", "HOME=/root"])
        );
        assert_eq!(p["cwd"], "/");
        assert_eq!(p["user"], json!({ "uid": 0, "gid": 0, "umask": 18 }));
        assert!(p.get("terminal").is_none() || p["terminal"] == false);
        assert!(p.get("noNewPrivileges").is_none() || p["noNewPrivileges"] == false);
        assert!(p.get("oomScoreAdj").is_none());
        let caps = &p["capabilities"];
        let mut bounding: Vec<String> = serde_json::from_value(caps["bounding"].clone()).unwrap();
        bounding.sort();
        assert_eq!(bounding, capabilities::default_caps());
        assert_eq!(caps["effective"].as_array().unwrap().len(), 11);
        assert_eq!(caps["permitted"].as_array().unwrap().len(), 11);
        assert!(caps.get("ambient").is_none() && caps.get("inheritable").is_none());
        let rl = p["rlimits"].as_array().unwrap();
        assert_eq!(rl[0]["type"], "RLIMIT_NOFILE");
        assert_eq!(rl[1]["type"], "RLIMIT_NPROC");
        let (_, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(rl[0]["hard"], json!(hard.min(RLIMIT_DEFAULT)));
        assert_eq!(rl[0]["soft"], rl[0]["hard"]);

        assert_eq!(v["root"], json!({ "path": "/tmp/rootfs" }));
        assert_eq!(v["hostname"], "abc123");
        assert_eq!(
            dests(&v),
            [
                "/proc",
                "/dev",
                "/sys",
                "/dev/pts",
                "/dev/mqueue",
                "/dev/shm",
                "/sys/fs/cgroup"
            ]
        );
        assert_eq!(
            find(&v, "/sys/fs/cgroup")["options"],
            json!(["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"])
        );
        assert!(v["linux"].get("rootfsPropagation").is_none());
        assert_eq!(
            find(&v, "/proc")["options"],
            json!(["nosuid", "noexec", "nodev"])
        );
        assert_eq!(
            find(&v, "/dev")["options"],
            json!(["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"])
        );
        assert_eq!(find(&v, "/sys")["type"], "sysfs");
        assert_eq!(
            find(&v, "/sys")["options"],
            json!(["nosuid", "noexec", "nodev", "ro"])
        );
        assert_eq!(
            find(&v, "/dev/pts")["options"],
            json!([
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5"
            ])
        );
        assert_eq!(
            find(&v, "/dev/shm")["options"],
            json!(["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"])
        );

        let l = &v["linux"];
        let ns: Vec<&str> = l["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(&ns[..5], ["pid", "network", "ipc", "uts", "mount"]);
        assert_eq!(ns.len(), if cgroup_v2() { 6 } else { 5 });
        assert!(l.get("resources").is_none());
        assert!(l.get("uidMappings").is_none());
        assert_eq!(l["sysctl"], json!({ "net.ipv4.ping_group_range": "0 0" }));
        assert_eq!(l["maskedPaths"], json!(MASKED_PATHS));
        assert_eq!(l["readonlyPaths"], json!(READONLY_PATHS));
        assert_eq!(l["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(l["seccomp"]["defaultErrnoRet"], 38);
        assert!(v.get("annotations").is_none());
    }

    #[test]
    fn non_root_user_gets_only_added_caps() {
        let mut r = base();
        r.user = ResolvedUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![1000, 10],
            home: None,
        };
        let v = to_json(&r);
        assert_eq!(
            v["process"]["user"],
            json!({ "uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [1000, 10] })
        );
        assert!(!v["process"]["env"].to_string().contains("HOME="));
        let caps = &v["process"]["capabilities"];
        assert_eq!(caps["bounding"].as_array().unwrap().len(), 11);
        for set in ["effective", "permitted", "inheritable", "ambient"] {
            assert!(caps.get(set).is_none(), "{set}: {caps}");
        }
        r.cap_add = vec!["sys_admin".into()];
        r.caps = capabilities::resolve(&r.cap_add, &[], false).unwrap();
        let v = to_json(&r);
        let caps = &v["process"]["capabilities"];
        assert_eq!(caps["bounding"].as_array().unwrap().len(), 12);
        for set in ["effective", "permitted", "inheritable", "ambient"] {
            assert_eq!(caps[set], json!(["CAP_SYS_ADMIN"]), "{set}");
        }
        // Seccomp follows the bounding caps.
        let bpf_allowed = v["linux"]["seccomp"]["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["action"] == "SCMP_ACT_ALLOW" && s["names"].to_string().contains("\"bpf\""));
        assert!(bpf_allowed);
    }

    #[test]
    fn privileged_tty_readonly_ulimit() {
        let mut r = base();
        r.privileged = true;
        r.caps = capabilities::resolve(&[], &[], true).unwrap();
        r.terminal = true;
        r.no_new_privileges = true;
        r.readonly_rootfs = true;
        r.rlimits = vec![parse_ulimit("nofile=100:200").unwrap()];
        r.extra_mounts = vec![MountBuilder::default()
            .destination("/etc/hosts")
            .typ("bind")
            .source("/x/hosts")
            .options(vec!["bind".into(), "rprivate".into()])
            .build()
            .unwrap()];
        r.annotations
            .insert("io.podman.annotations.privileged".into(), "TRUE".into());
        let v = to_json(&r);
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert_eq!(
            v["process"]["rlimits"][0],
            json!({ "type": "RLIMIT_NOFILE", "hard": 200, "soft": 100 })
        );
        assert_eq!(v["process"]["rlimits"][1]["type"], "RLIMIT_NPROC");
        assert!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len()
                >= 38
        );
        assert_eq!(v["root"]["readonly"], true);
        let l = &v["linux"];
        assert!(l.get("seccomp").is_none());
        assert!(l.get("maskedPaths").is_none() && l.get("readonlyPaths").is_none());
        assert!(find(&v, "/sys")["options"]
            .as_array()
            .unwrap()
            .contains(&json!("rw")));
        // Host devices, but not the terminals.
        let d = dests(&v);
        assert!(d.contains(&"/dev/null".to_string()), "{d:?}");
        assert!(!d
            .iter()
            .any(|x| x.starts_with("/dev/tty") || x == "/dev/ptmx" || x == "/dev/console"));
        assert_eq!(
            find(&v, "/dev/null")["options"],
            json!(["slave", "nosuid", "noexec", "rw", "rbind"])
        );
        assert_eq!(v["linux"]["rootfsPropagation"], "rslave");
        let at = |p: &str| d.iter().position(|x| x == p).unwrap();
        assert!(at("/dev") < at("/dev/null"));
        assert_eq!(
            find(&v, "/etc/hosts")["options"],
            json!(["bind", "rprivate", "ro", "nosuid", "noexec", "nodev"])
        );
        for d in ["/run", "/tmp", "/var/tmp"] {
            assert_eq!(
                find(&v, d)["options"],
                json!(["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"])
            );
        }
        assert_eq!(v["annotations"]["io.podman.annotations.privileged"], "TRUE");
    }

    #[test]
    fn host_network_and_user_mounts() {
        let mut r = base();
        r.network = NetworkNs::Host;
        r.seccomp = SeccompMode::Unconfined;
        r.mounts = vec![
            MountBuilder::default()
                .destination("/data/sub")
                .typ("bind")
                .source("/srv/sub")
                .options(vec!["rbind".into(), "ro".into()])
                .build()
                .unwrap(),
            MountBuilder::default()
                .destination("/dev/shm")
                .typ("tmpfs")
                .source("tmpfs")
                .options(vec!["size=1m".into()])
                .build()
                .unwrap(),
        ];
        let v = to_json(&r);
        let ns = v["linux"]["namespaces"].to_string();
        assert!(!ns.contains("network"), "{ns}");
        assert!(v["linux"].get("sysctl").is_none());
        assert!(!dests(&v).contains(&"/sys/fs/cgroup".to_string()));
        assert!(v["linux"].get("seccomp").is_none());
        assert_eq!(v["linux"]["maskedPaths"][0], "/sys/kernel");
        assert_eq!(find(&v, "/sys")["type"], "bind");
        assert_eq!(
            find(&v, "/sys")["options"],
            json!(["rprivate", "nosuid", "noexec", "nodev", "ro", "rbind"])
        );
        // The user's /dev/shm replaces the default; depth order is kept.
        assert_eq!(find(&v, "/dev/shm")["options"], json!(["size=1m"]));
        let d = dests(&v);
        assert_eq!(d.iter().filter(|x| *x == "/dev/shm").count(), 1);
        assert!(
            d.iter().position(|x| x == "/dev").unwrap()
                < d.iter().position(|x| x == "/dev/shm").unwrap()
        );
        assert_eq!(&d[d.len() - 2..], ["/data/sub", "/dev/shm"]);

        r.network = NetworkNs::Path("/run/user/1/netns/x".into());
        let v = to_json(&r);
        assert_eq!(
            v["linux"]["namespaces"][1],
            json!({ "type": "network", "path": "/run/user/1/netns/x" })
        );
    }

    #[test]
    fn own_user_namespace_and_profile_file() {
        let mut r = base();
        let map = |c: u32, h: u32, s: u32| {
            oci_spec::runtime::LinuxIdMappingBuilder::default()
                .container_id(c)
                .host_id(h)
                .size(s)
                .build()
                .unwrap()
        };
        r.user_namespace = Some((vec![map(0, 1000, 1)], vec![map(0, 1000, 1)]));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(
            &f,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        r.seccomp = SeccompMode::Profile(f);
        let v = to_json(&r);
        assert!(v["linux"]["namespaces"].to_string().contains("\"user\""));
        assert_eq!(
            v["linux"]["uidMappings"],
            json!([{ "containerID": 0, "hostID": 1000, "size": 1 }])
        );
        // gid 5 is not mapped: no gid= on devpts.
        assert!(!find(&v, "/dev/pts")["options"].to_string().contains("gid="));
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        r.seccomp = SeccompMode::Profile(dir.path().join("nope.json"));
        let e = format!("{:#}", build(&r).unwrap_err());
        assert!(e.contains("nope.json"), "{e}");
        r.args.clear();
        assert!(build(&r).is_err());
    }

    #[test]
    fn ulimits() {
        assert_eq!(
            parse_ulimit("nofile=1024").unwrap(),
            ("RLIMIT_NOFILE".into(), 1024, 1024)
        );
        assert_eq!(
            parse_ulimit("nproc=10:20").unwrap(),
            ("RLIMIT_NPROC".into(), 10, 20)
        );
        assert_eq!(
            parse_ulimit("core=unlimited:-1").unwrap(),
            ("RLIMIT_CORE".into(), u64::MAX, u64::MAX)
        );
        assert_eq!(parse_ulimit("memlock=-1").unwrap().1, u64::MAX);
        for bad in [
            "nofile",
            "bogus=1",
            "nofile=abc",
            "nofile=20:10",
            "nofile=-5",
            "=1",
        ] {
            let e = parse_ulimit(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn runc_rootless_shape() {
        let v = serde_json::to_value(default_spec(true)).unwrap();
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "user"]);
        let uid = nix::unistd::geteuid().as_raw();
        assert_eq!(
            v["linux"]["uidMappings"],
            json!([{ "containerID": 0, "hostID": uid, "size": 1 }])
        );
        assert!(v["linux"].get("resources").is_none());
        assert_eq!(find(&v, "/sys")["type"], "none");
        assert_eq!(
            find(&v, "/sys")["options"],
            json!(["rbind", "nosuid", "noexec", "nodev", "ro"])
        );
        assert!(!find(&v, "/dev/pts")["options"].to_string().contains("gid="));
        let full = serde_json::to_value(default_spec(false)).unwrap();
        assert!(find(&full, "/dev/pts")["options"]
            .to_string()
            .contains("gid=5"));
        assert!(full["linux"]["namespaces"].to_string().contains("network"));
    }

    /// Our template against the installed runc's own output, compared as JSON.
    #[test]
    fn matches_real_runc_spec() {
        let Ok(out) = std::process::Command::new("runc").arg("--version").output() else {
            eprintln!("runc not installed; skipping");
            return;
        };
        assert!(out.status.success());
        for rootless in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut cmd = std::process::Command::new("runc");
            cmd.arg("spec").current_dir(dir.path());
            if rootless {
                cmd.arg("--rootless");
            }
            let st = cmd.status().unwrap();
            assert!(st.success());
            let theirs: Value =
                serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                    .unwrap();
            let text = super::to_json(&default_spec(rootless)).unwrap();
            let ours: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(ours, sorted_caps(theirs), "rootless={rootless}");
        }
    }
}
