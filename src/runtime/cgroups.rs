//! Cgroups are optional for rootless containers. On cgroup v2 with a
//! subtree delegated to us we apply the spec's memory, cpu and pids limits;
//! anywhere else (cgroup v1 or hybrid, as on these machines, or v2 without
//! delegation) we say why not, and callers warn once and run anyway.

use super::devfilter::{self, Rule};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// What this process can do with cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// cgroup v2, and this (writable) directory is ours to create children in.
    Delegated(PathBuf),
    /// No usable cgroup: the reason, for the one warning.
    Unsupported(String),
}

/// Look at /sys/fs/cgroup and our own cgroup.
pub fn detect() -> Support {
    let root = Path::new("/sys/fs/cgroup");
    let is_v2 = nix::sys::statfs::statfs(root)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    if !is_v2 {
        return Support::Unsupported(
            "cgroups v1 (or hybrid): rootless containers have no cgroup, because cgroups v1 \
             are not delegated to users"
                .into(),
        );
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(rel) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Support::Unsupported("no cgroup v2 entry in /proc/self/cgroup".into());
    };
    // Our own cgroup holds processes (us), so limits go in a sibling-free
    // child of the delegated parent: systemd delegates the user's service.
    let dir = root.join(rel.trim_start_matches('/'));
    let parent = dir.parent().unwrap_or(root).to_path_buf();
    for d in [&dir, &parent] {
        if nix::unistd::access(d.as_path(), nix::unistd::AccessFlags::W_OK).is_ok()
            && nix::unistd::access(
                &d.join("cgroup.subtree_control"),
                nix::unistd::AccessFlags::W_OK,
            )
            .is_ok()
        {
            return Support::Delegated(d.clone());
        }
    }
    Support::Unsupported(format!(
        "cgroup v2 subtree {} is not delegated to this user",
        dir.display()
    ))
}

/// Whether the spec asks for limits we would have to enforce.
pub fn wants_limits(r: Option<&LinuxResources>) -> bool {
    let Some(r) = r else { return false };
    r.memory().as_ref().is_some_and(|m| m.limit().is_some())
        || r.cpu()
            .as_ref()
            .is_some_and(|c| c.quota().is_some() || c.shares().is_some())
        || r.pids().is_some()
}

/// The cgroup v2 files and values for the spec's memory, cpu and pids limits.
pub fn v2_values(r: &LinuxResources) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(limit) = r.memory().as_ref().and_then(|m| m.limit()) {
        out.push((
            "memory.max",
            if limit < 0 {
                "max".into()
            } else {
                limit.to_string()
            },
        ));
    }
    if let Some(cpu) = r.cpu() {
        if let Some(q) = cpu.quota() {
            let period = cpu.period().unwrap_or(100_000);
            let q = if q <= 0 { "max".into() } else { q.to_string() };
            out.push(("cpu.max", format!("{q} {period}")));
        }
        if let Some(shares) = cpu.shares() {
            // runc's conversion of v1 shares (2..262144) to v2 weight (1..10000).
            let w = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
            out.push(("cpu.weight", w.to_string()));
        }
    }
    if let Some(p) = r.pids() {
        out.push((
            "pids.max",
            if p.limit() <= 0 {
                "max".into()
            } else {
                p.limit().to_string()
            },
        ));
    }
    out
}

/// Create `<delegated>/rpod-<id>`, write the limits and move `pid` in.
pub fn apply(base: &Path, id: &str, pid: i32, r: &LinuxResources) -> Result<PathBuf> {
    let dir = base.join(format!("rpod-{id}"));
    std::fs::create_dir(&dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
    let res = (|| -> Result<()> {
        let values = v2_values(r);
        let mut ctrls: Vec<&str> = values
            .iter()
            .map(|(f, _)| f.split('.').next().unwrap_or(""))
            .collect();
        ctrls.dedup();
        if !ctrls.is_empty() {
            let line: Vec<String> = ctrls.iter().map(|c| format!("+{c}")).collect();
            std::fs::write(base.join("cgroup.subtree_control"), line.join(" "))
                .with_context(|| format!("enabling {} in {}", ctrls.join(","), base.display()))?;
        }
        for (file, v) in values {
            std::fs::write(dir.join(file), &v)
                .with_context(|| format!("writing {v} to {}", dir.join(file).display()))?;
        }
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            .with_context(|| format!("moving pid {pid} into {}", dir.display()))
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_dir(&dir);
        return Err(e);
    }
    Ok(dir)
}

/// Remove a cgroup we made (its processes are gone by then).
pub fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            debug!("removing cgroup {}: {e}", dir.display());
        }
    }
}

/// pause, resume and update need a cgroup; say exactly why there is none.
pub fn require(verb: &str) -> Result<PathBuf> {
    match detect() {
        Support::Delegated(p) => Ok(p),
        Support::Unsupported(why) => bail!("{verb}: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_translate_to_v2_files() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory": {"limit": 67108864}, "cpu": {"quota": 50000, "period": 100000, "shares": 1024},
                "pids": {"limit": 100}}"#,
        )
        .unwrap();
        assert!(wants_limits(Some(&r)));
        assert_eq!(
            v2_values(&r),
            [
                ("memory.max", "67108864".to_string()),
                ("cpu.max", "50000 100000".to_string()),
                ("cpu.weight", "39".to_string()),
                ("pids.max", "100".to_string()),
            ]
        );
        assert!(!wants_limits(None));
        // As root a device list alone makes a cgroup; nothing at all doesn't.
        let devs: LinuxResources =
            serde_json::from_str(r#"{"devices": [{"allow": false, "access": "rwm"}]}"#).unwrap();
        assert!(root_wants(None, Some(&devs)));
        assert!(root_wants(Some("/x"), None));
        assert!(!root_wants(None, Some(&LinuxResources::default())));
        assert!(!root_wants(Some(""), None));
    }

    #[test]
    fn detect_never_panics_and_explains() {
        match detect() {
            Support::Delegated(p) => assert!(p.starts_with("/sys/fs/cgroup")),
            Support::Unsupported(why) => assert!(!why.is_empty()),
        }
    }
}

// ---------------------------------------------------------------------------
// Real root: cgroup v1 (each controller its own hierarchy, as on a hybrid
// host) or v2, at `linux.cgroupsPath`, as runc's cgroupfs driver does.

/// The v1 controllers a container joins when they are mounted.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "pids",
    "blkio",
    "net_cls",
    "net_prio",
    "hugetlb",
    "perf_event",
    "rdma",
    "misc",
];

/// Where a root container's cgroup is: one directory per v1 controller, or
/// one v2 directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2: Option<PathBuf>,
    /// (controller, directory)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub v1: Vec<(String, PathBuf)>,
}

impl Placed {
    pub fn is_empty(&self) -> bool {
        self.v2.is_none() && self.v1.is_empty()
    }
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, d)| d.as_path())
    }
}

/// The cgroup hierarchies mounted here.
#[derive(Debug)]
enum Hierarchy {
    V2(PathBuf),
    /// controller -> mount point
    V1(Vec<(String, PathBuf)>),
}

fn hierarchy() -> Result<Hierarchy> {
    let root = Path::new("/sys/fs/cgroup");
    let is_v2 = nix::sys::statfs::statfs(root)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    if is_v2 {
        return Ok(Hierarchy::V2(root.to_path_buf()));
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").context("reading mountinfo")?;
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split(' ');
        if post.next() != Some("cgroup") {
            continue;
        }
        let opts = post.nth(1).unwrap_or("");
        let Some(mnt) = pre.split(' ').nth(4) else {
            continue;
        };
        for o in opts.split(',') {
            if V1_CONTROLLERS.contains(&o) && !out.iter().any(|(c, _)| c == o) {
                out.push((o.to_string(), PathBuf::from(mnt)));
            }
        }
    }
    if out.is_empty() {
        bail!("no cgroup v1 controller and no cgroup v2 is mounted");
    }
    Ok(Hierarchy::V1(out))
}

/// Our own cgroup in a v1 controller's hierarchy ("" for v2's entry).
fn own_cgroup(controller: &str) -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for l in text.lines() {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
        let hit = if controller.is_empty() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == controller)
        };
        if hit {
            return path.to_string();
        }
    }
    "/".into()
}

/// `cgroupsPath` under a hierarchy mounted at `mnt`: absolute paths from
/// its root, relative ones from our own cgroup there (runc's rule). No
/// `..` may climb out.
fn resolve(mnt: &Path, own: &str, path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    if p.components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!("linux.cgroupsPath {path:?} must not contain \"..\"");
    }
    let rel = if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new(own).join(p)
    };
    let rel = rel.strip_prefix("/").unwrap_or(&rel).to_path_buf();
    if rel.as_os_str().is_empty() {
        bail!("linux.cgroupsPath {path:?} is the root cgroup");
    }
    Ok(mnt.join(rel))
}

/// A v1 limit: controller, file, value.
type V1Value = (&'static str, String, String);

/// Devices the runtime makes in every container (and those of
/// linux.devices): allowed after the spec's rules, as runc adds them.
const DEFAULT_ALLOWED: &[(u32, Option<u32>)] = &[
    (1, Some(3)),
    (1, Some(5)),
    (1, Some(7)),
    (1, Some(8)),
    (1, Some(9)),
    (5, Some(0)),
    (5, Some(1)),
    (5, Some(2)),
    (136, None),
];

/// A container's device rules in order, as runc lists them: the spec's
/// `linux.resources.devices`, then the devices every container gets, then
/// the spec's `linux.devices`; None when the spec has no device rules.
pub fn device_rules(
    r: &LinuxResources,
    devices: &[oci_spec::runtime::LinuxDevice],
) -> Result<Option<Vec<Rule>>> {
    let Some(spec_rules) = r.devices() else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for d in spec_rules {
        let typ = d.typ().map(|t| t.as_str().to_string()).unwrap_or_default();
        let rule = Rule::new(
            d.allow(),
            &typ,
            d.major(),
            d.minor(),
            d.access().as_deref().unwrap_or(""),
        )
        .with_context(|| format!("linux.resources.devices: {d:?}"))?;
        out.push(rule);
    }
    for &(major, minor) in DEFAULT_ALLOWED {
        out.push(Rule {
            allow: true,
            typ: 'c',
            major: Some(major),
            minor,
            access: devfilter::parse_access("rwm")?,
        });
    }
    for d in devices {
        // A fifo is no device to the devices cgroup.
        let typ = d.typ();
        let typ = typ.as_str();
        if typ == "p" {
            continue;
        }
        out.push(
            Rule::new(true, typ, Some(d.major()), Some(d.minor()), "rwm")
                .with_context(|| format!("linux.devices: {}", d.path().display()))?,
        );
    }
    Ok(Some(out))
}

/// Load the eBPF device filter for `rules` and attach it to the v2 cgroup
/// `dir` in place of any filter there before.
fn set_v2_devices(dir: &Path, rules: &[Rule]) -> Result<()> {
    let prog = devfilter::program(rules)?;
    let fd = crate::sys::bpf::load_device_program(&prog)?;
    crate::sys::bpf::attach_device_program(dir, &fd)
}

/// The v1 files and values for `r`, in the order they must be written.
/// `devices`: the spec's linux.devices (allowed after the rules).
pub fn v1_values(
    r: &LinuxResources,
    devices: &[oci_spec::runtime::LinuxDevice],
    with_devices: bool,
) -> Result<Vec<V1Value>> {
    let mut out: Vec<V1Value> = Vec::new();
    if let Some(cpu) = r.cpu() {
        if let Some(v) = cpu.shares() {
            out.push(("cpu", "cpu.shares".into(), v.to_string()));
        }
        if let Some(v) = cpu.period() {
            out.push(("cpu", "cpu.cfs_period_us".into(), v.to_string()));
        }
        if let Some(v) = cpu.quota() {
            out.push((
                "cpu",
                "cpu.cfs_quota_us".into(),
                if v <= 0 { -1 } else { v }.to_string(),
            ));
        }
        if let Some(v) = cpu.realtime_period() {
            out.push(("cpu", "cpu.rt_period_us".into(), v.to_string()));
        }
        if let Some(v) = cpu.realtime_runtime() {
            out.push(("cpu", "cpu.rt_runtime_us".into(), v.to_string()));
        }
        if let Some(v) = cpu.cpus().as_deref().filter(|v| !v.is_empty()) {
            out.push(("cpuset", "cpuset.cpus".into(), v.to_string()));
        }
        if let Some(v) = cpu.mems().as_deref().filter(|v| !v.is_empty()) {
            out.push(("cpuset", "cpuset.mems".into(), v.to_string()));
        }
    }
    if let Some(m) = r.memory() {
        if let Some(v) = m.limit() {
            out.push(("memory", "memory.limit_in_bytes".into(), v.to_string()));
        }
        if let Some(v) = m.swap() {
            out.push((
                "memory",
                "memory.memsw.limit_in_bytes".into(),
                v.to_string(),
            ));
        }
        if let Some(v) = m.reservation() {
            out.push(("memory", "memory.soft_limit_in_bytes".into(), v.to_string()));
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                bail!("memory.swappiness {v} is out of range (0-100)");
            }
            out.push(("memory", "memory.swappiness".into(), v.to_string()));
        }
        if m.disable_oom_killer() == Some(true) {
            out.push(("memory", "memory.oom_control".into(), "1".into()));
        }
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            // As runc 1.1: kernel memory accounting is deprecated, ignored.
            warn!("linux.resources.memory.kernel and kernelTCP are ignored (deprecated)");
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() <= 0 {
            "max".into()
        } else {
            p.limit().to_string()
        };
        out.push(("pids", "pids.max".into(), v));
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight() {
            out.push(("blkio", "blkio.weight".into(), w.to_string()));
        }
        if let Some(w) = b.leaf_weight() {
            out.push(("blkio", "blkio.leaf_weight".into(), w.to_string()));
        }
        for d in b.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(w) = d.weight() {
                let v = format!("{}:{} {w}", d.major(), d.minor());
                out.push(("blkio", "blkio.weight_device".into(), v));
            }
            if let Some(w) = d.leaf_weight() {
                let v = format!("{}:{} {w}", d.major(), d.minor());
                out.push(("blkio", "blkio.leaf_weight_device".into(), v));
            }
        }
        let throttles = [
            (
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ];
        for (file, list) in throttles {
            for d in list.as_deref().unwrap_or(&[]) {
                out.push((
                    "blkio",
                    file.into(),
                    format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                ));
            }
        }
    }
    for h in r.hugepage_limits().as_deref().unwrap_or(&[]) {
        let file = format!("hugetlb.{}.limit_in_bytes", h.page_size());
        out.push(("hugetlb", file, h.limit().to_string()));
    }
    if let Some(n) = r.network() {
        if let Some(c) = n.class_id() {
            out.push(("net_cls", "net_cls.classid".into(), c.to_string()));
        }
        for p in n.priorities().as_deref().unwrap_or(&[]) {
            out.push((
                "net_prio",
                "net_prio.ifpriomap".into(),
                format!("{} {}", p.name(), p.priority()),
            ));
        }
    }
    if with_devices {
        for rule in device_rules(r, devices)?.unwrap_or_default() {
            let file = if rule.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            out.push(("devices", file.into(), rule.cgroup_line()));
        }
    }
    Ok(out)
}

/// Whether a real-root container gets a cgroup: a cgroupsPath, or any
/// resources at all (limits or a device list: `rpod oci spec`'s and runc's
/// default config denies all devices, which only a cgroup enforces).
pub fn root_wants(path: Option<&str>, r: Option<&LinuxResources>) -> bool {
    path.is_some_and(|p| !p.is_empty()) || r.is_some_and(|r| *r != LinuxResources::default())
}

fn write(dir: &Path, file: &str, v: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, v).with_context(|| format!("writing {v:?} to {}", p.display()))
}

/// mkdir -p, and for cpuset copy cpus and mems down from the parent into
/// each new level (an empty cpuset takes no process).
fn make_dirs(dir: &Path, cpuset: bool) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(parent, cpuset)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating cgroup {}", dir.display())),
    }
    if cpuset {
        let parent = dir.parent().unwrap_or(dir);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = std::fs::read_to_string(parent.join(f)).unwrap_or_default();
                write(dir, f, theirs.trim())?;
            }
        }
    }
    Ok(())
}

/// Create (or join) the cgroup of a real-root container at `path` (default:
/// the id, under our own cgroup), write the limits and move `pid` in.
pub fn root_create(
    path: Option<&str>,
    id: &str,
    pid: i32,
    r: Option<&LinuxResources>,
    devices: &[oci_spec::runtime::LinuxDevice],
) -> Result<Placed> {
    let path = path.filter(|p| !p.is_empty()).unwrap_or(id);
    let empty = LinuxResources::default();
    let r = r.unwrap_or(&empty);
    let mut placed = Placed::default();
    let res = (|| -> Result<()> {
        match hierarchy()? {
            Hierarchy::V2(mnt) => {
                let dir = resolve(&mnt, &own_cgroup(""), path)?;
                make_dirs(&dir, false)?;
                placed.v2 = Some(dir.clone());
                let values = v2_values(r);
                enable_v2_controllers(&mnt, &dir, &values)?;
                for (file, v) in &values {
                    write(&dir, file, v)?;
                }
                if let Some(rules) = device_rules(r, devices)? {
                    set_v2_devices(&dir, &rules).context("linux.resources.devices")?;
                }
                write(&dir, "cgroup.procs", &pid.to_string())
            }
            Hierarchy::V1(mounts) => {
                let values = v1_values(r, devices, true)?;
                for (c, _, _) in &values {
                    if !mounts.iter().any(|(m, _)| m == c) {
                        bail!("the {c} cgroup controller is not mounted on this host: its limits can't be applied");
                    }
                }
                for (c, mnt) in &mounts {
                    let dir = resolve(mnt, &own_cgroup(c), path)?;
                    make_dirs(&dir, c == "cpuset")?;
                    placed.v1.push((c.clone(), dir));
                }
                set_v1(&placed, &values, true)?;
                for (c, dir) in &placed.v1 {
                    write(dir, "cgroup.procs", &pid.to_string())
                        .with_context(|| format!("joining the {c} cgroup"))?;
                }
                Ok(())
            }
        }
    })();
    match res {
        Ok(()) => Ok(placed),
        Err(e) => {
            root_remove(&placed);
            Err(e)
        }
    }
}

fn enable_v2_controllers(mnt: &Path, dir: &Path, values: &[(&str, String)]) -> Result<()> {
    let mut ctrls: Vec<&str> = values
        .iter()
        .map(|(f, _)| f.split('.').next().unwrap_or(""))
        .collect();
    ctrls.dedup();
    if ctrls.is_empty() {
        return Ok(());
    }
    let line: Vec<String> = ctrls.iter().map(|c| format!("+{c}")).collect();
    // Every level from the mount down to our parent delegates them.
    let mut level = mnt.to_path_buf();
    for comp in dir
        .strip_prefix(mnt)
        .unwrap_or(dir)
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
    {
        write(&level, "cgroup.subtree_control", &line.join(" "))?;
        level.push(comp);
    }
    write(&level, "cgroup.subtree_control", &line.join(" "))
}

/// Write v1 values; at create, the devices list starts from "deny all".
fn set_v1(placed: &Placed, values: &[V1Value], fresh_devices: bool) -> Result<()> {
    let mut denied = !fresh_devices;
    for (c, file, v) in values {
        let dir = placed
            .v1_dir(c)
            .with_context(|| format!("the container has no {c} cgroup"))?;
        if *c == "devices" && !denied {
            write(dir, "devices.deny", "a")?;
            denied = true;
        }
        match write(dir, file, v) {
            Ok(()) => {}
            // memsw only when swap accounting is on; raising limit and swap
            // together needs memsw first, so retry in the other order.
            Err(e) if file == "memory.limit_in_bytes" => {
                if let Some((_, _, sw)) = values
                    .iter()
                    .find(|(_, f, _)| f == "memory.memsw.limit_in_bytes")
                {
                    write(dir, "memory.memsw.limit_in_bytes", sw)?;
                    write(dir, file, v)?;
                } else {
                    return Err(e);
                }
            }
            Err(e) => {
                if !dir.join(file).exists() {
                    bail!(
                        "{file}: not supported by this kernel ({c} cgroup {})",
                        dir.display()
                    );
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// `update` of a real-root container's cgroup.
pub fn root_update(placed: &Placed, r: &LinuxResources) -> Result<()> {
    if let Some(dir) = &placed.v2 {
        let values = v2_values(r);
        for (file, v) in values {
            write(dir, file, &v)?;
        }
        // A device list given to update replaces the old filter.
        if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
            if let Some(rules) = device_rules(r, &[])? {
                set_v2_devices(dir, &rules).context("linux.resources.devices")?;
            }
        }
        return Ok(());
    }
    // A device list given to update replaces the old one.
    let with_devices = r.devices().as_ref().is_some_and(|d| !d.is_empty());
    let values = v1_values(r, &[], with_devices)?;
    set_v1(placed, &values, with_devices)
}

/// pause / resume: freezer.state on v1, cgroup.freeze on v2.
pub fn root_freeze(placed: &Placed, frozen: bool) -> Result<()> {
    if let Some(dir) = &placed.v2 {
        write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
        // Settles asynchronously too: cgroup.events says when (as runc waits).
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        for _ in 0..500 {
            let ev = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
            if ev.lines().any(|l| l == want) || !ev.contains("frozen ") {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        bail!("the cgroup did not reach \"{want}\"");
    }
    let dir = placed
        .v1_dir("freezer")
        .context("the container has no freezer cgroup")?;
    write(
        dir,
        "freezer.state",
        if frozen { "FROZEN" } else { "THAWED" },
    )?;
    // The state settles asynchronously.
    let want = if frozen { "FROZEN" } else { "THAWED" };
    for _ in 0..500 {
        let now = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
        if now.trim() == want {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    bail!("the freezer cgroup did not reach {want}")
}

/// Whether a container's cgroup is frozen: the real-root one (v1 freezer
/// or v2), else the rootless delegated v2 one.
pub fn is_frozen(placed: &Placed, delegated: Option<&Path>) -> bool {
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    if let Some(dir) = placed.v2.as_deref().or(delegated) {
        return read(dir.join("cgroup.freeze")).trim() == "1";
    }
    placed
        .v1_dir("freezer")
        .is_some_and(|d| read(d.join("freezer.state")).trim() == "FROZEN")
}

/// Remove the leaf cgroups (once empty).
pub fn root_remove(placed: &Placed) {
    if let Some(d) = &placed.v2 {
        remove(d);
    }
    for (_, d) in &placed.v1 {
        remove(d);
    }
}

#[cfg(test)]
mod device_filter_tests {
    use super::*;

    /// Where a cgroup2 hierarchy is mounted (the whole /sys/fs/cgroup on a
    /// v2 host, /sys/fs/cgroup/unified on a hybrid one).
    fn cgroup2_mount() -> Option<PathBuf> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        info.lines().find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            if !post.starts_with("cgroup2 ") {
                return None;
            }
            pre.split(' ').nth(4).map(PathBuf::from)
        })
    }

    fn open_in(dir: &Path, dev: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs && exec cat {dev} 2>&1; echo opened",
                dir.display()
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// As root, on any cgroup2 hierarchy: a filter with a deny rule for
    /// /dev/null (no default allow list here: the rules alone) keeps a
    /// process in the cgroup from opening it, an update replaces the
    /// filter (one program attached, /dev/null opens again).
    #[test]
    fn a_v2_filter_denies_and_update_replaces_it() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not root: the device filter can't be loaded");
            return;
        }
        let Some(mnt) = cgroup2_mount() else {
            eprintln!("no cgroup2 hierarchy mounted");
            return;
        };
        let dir = mnt.join(format!("rpod-devfilter-test-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let res = std::panic::catch_unwind(|| {
            let r = |allow, typ, maj, min, acc| Rule::new(allow, typ, maj, min, acc).unwrap();
            let deny_null = [
                r(true, "a", None, None, "rwm"),
                r(false, "c", Some(1), Some(3), "rwm"),
            ];
            set_v2_devices(&dir, &deny_null).unwrap();
            assert_eq!(crate::sys::bpf::device_programs_attached(&dir).unwrap(), 1);
            let out = open_in(&dir, "/dev/null");
            assert!(out.contains("Operation not permitted"), "{out}");
            let out = open_in(&dir, "/dev/zero </dev/null | head -c0");
            assert!(!out.contains("not permitted"), "{out}");
            // Update: allow all again, the old program is gone.
            set_v2_devices(&dir, &[r(true, "a", None, None, "rwm")]).unwrap();
            assert_eq!(crate::sys::bpf::device_programs_attached(&dir).unwrap(), 1);
            let out = open_in(&dir, "/dev/null");
            assert!(!out.contains("not permitted"), "{out}");
        });
        let _ = std::fs::remove_dir(&dir);
        if let Err(e) = res {
            std::panic::resume_unwind(e);
        }
    }
}
