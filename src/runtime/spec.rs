//! config.json generation: what podman 4.3 writes for a rootless container,
//! and runc's `spec [--rootless]` template for `rpod oci spec`.
//!
//! The shapes were checked against config.json files written by rootless
//! podman 4.3.1 on the project's test machines and against `runc spec` 1.1.5.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxBuilder, LinuxCapabilities, LinuxDeviceCgroupBuilder,
    LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceBuilder,
    LinuxNamespaceType, LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimit,
    PosixRlimitBuilder, PosixRlimitType, Process, ProcessBuilder, Root, RootBuilder, Spec,
    SpecBuilder, User, UserBuilder,
};
use serde_json::Value;

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
    pub rlimits: Vec<PosixRlimit>,
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

/// One mount; no "options" key when there are none, as podman writes it.
fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount> {
    let mut b = MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source);
    if !options.is_empty() {
        b = b.options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>());
    }
    b.build().with_context(|| format!("mount {dest}"))
}

fn namespace(typ: LinuxNamespaceType) -> Result<LinuxNamespace> {
    Ok(LinuxNamespaceBuilder::default().typ(typ).build()?)
}

fn id_map(container_id: u32, host_id: u32, size: u32) -> Result<LinuxIdMapping> {
    Ok(LinuxIdMappingBuilder::default()
        .container_id(container_id)
        .host_id(host_id)
        .size(size)
        .build()?)
}

/// oci-spec's capability for a `CAP_X` name (as `capabilities` spells them).
fn oci_cap(name: &str) -> Result<Capability> {
    Capability::from_str(name.strip_prefix("CAP_").unwrap_or(name))
        .map_err(|_| anyhow!("unknown capability {name:?}"))
}

fn cap_set(names: &[String]) -> Result<Capabilities> {
    names.iter().map(|n| oci_cap(n)).collect()
}

/// The five capability sets, each left out of config.json when None.
/// (`LinuxCapabilitiesBuilder` would fill an unset one with runc's three
/// defaults, which would silently raise capabilities.)
fn capability_sets(
    bounding: Option<Capabilities>,
    effective: Option<Capabilities>,
    inheritable: Option<Capabilities>,
    permitted: Option<Capabilities>,
    ambient: Option<Capabilities>,
) -> LinuxCapabilities {
    let mut c = LinuxCapabilities::default();
    c.set_bounding(bounding)
        .set_effective(effective)
        .set_inheritable(inheritable)
        .set_permitted(permitted)
        .set_ambient(ambient);
    c
}

fn rlimit(typ: PosixRlimitType, soft: u64, hard: u64) -> Result<PosixRlimit> {
    Ok(PosixRlimitBuilder::default()
        .typ(typ)
        .soft(soft)
        .hard(hard)
        .build()?)
}

/// A `linux` section with nothing but `namespaces`: `LinuxBuilder` fills
/// unset fields from runc's example (resources, masked and read-only paths),
/// so those are cleared here and each caller sets what it means.
fn linux_with(namespaces: Vec<LinuxNamespace>) -> Result<Linux> {
    let mut linux = LinuxBuilder::default().namespaces(namespaces).build()?;
    linux
        .set_resources(None)
        .set_masked_paths(None)
        .set_readonly_paths(None)
        .set_uid_mappings(None)
        .set_gid_mappings(None)
        .set_sysctl(None)
        .set_devices(None)
        .set_seccomp(None)
        .set_rootfs_propagation(None);
    Ok(linux)
}

/// `root`, with "readonly" only when true (`Root`'s default is read-only).
fn root(path: PathBuf, readonly: bool) -> Result<Root> {
    let mut r = RootBuilder::default().path(path).build()?;
    r.set_readonly(readonly.then_some(true));
    Ok(r)
}

/// A spec with exactly these parts (`SpecBuilder` fills unset fields from
/// oci-spec's example: hostname "youki", runc's mounts, an empty annotations
/// map).
fn spec_of(
    process: Process,
    root: Root,
    hostname: String,
    mounts: Vec<Mount>,
    linux: Linux,
    annotations: Option<HashMap<String, String>>,
) -> Result<Spec> {
    let mut spec = SpecBuilder::default()
        .version("1.0.2-dev")
        .process(process)
        .root(root)
        .hostname(hostname)
        .mounts(mounts)
        .linux(linux)
        .build()?;
    spec.set_annotations(annotations);
    Ok(spec)
}

/// A process with these parts; `ProcessBuilder` would default terminal to
/// false and noNewPrivileges to true, so both are set only when asked for.
#[allow(clippy::too_many_arguments)]
fn process_of(
    user: User,
    args: Vec<String>,
    env: Vec<String>,
    cwd: &str,
    capabilities: LinuxCapabilities,
    rlimits: Vec<PosixRlimit>,
    terminal: bool,
    no_new_privileges: bool,
) -> Result<Process> {
    let mut p = ProcessBuilder::default()
        .user(user)
        .args(args)
        .env(env)
        .cwd(cwd)
        .capabilities(capabilities)
        .rlimits(rlimits)
        .build()?;
    p.set_terminal(terminal.then_some(true))
        .set_no_new_privileges(no_new_privileges.then_some(true));
    Ok(p)
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
    let mut user = UserBuilder::default()
        .uid(req.user.uid)
        .gid(req.user.gid)
        .umask(0o022u32)
        .build()?;
    if !req.user.additional_gids.is_empty() {
        user.set_additional_gids(Some(req.user.additional_gids.clone()));
    }
    let mut env = req.env.clone();
    if let Some(home) = &req.user.home {
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={home}"));
        }
    }
    let bounding = cap_set(&req.caps)?;
    let caps = if req.user.uid == 0 {
        capability_sets(
            Some(bounding.clone()),
            Some(bounding.clone()),
            None,
            Some(bounding),
            None,
        )
    } else {
        let raised = capabilities::added_for_non_root(&req.cap_add, &req.caps)?;
        let raised = (!raised.is_empty()).then(|| cap_set(&raised)).transpose()?;
        capability_sets(
            Some(bounding),
            raised.clone(),
            raised.clone(),
            raised.clone(),
            raised,
        )
    };
    let mut rlimits = req.rlimits.clone();
    use nix::sys::resource::Resource;
    for (typ, res) in [
        (PosixRlimitType::RlimitNofile, Resource::RLIMIT_NOFILE),
        (PosixRlimitType::RlimitNproc, Resource::RLIMIT_NPROC),
    ] {
        if !req.rlimits.iter().any(|r| r.typ() == typ) {
            let (soft, hard) = default_rlimit(res);
            rlimits.push(rlimit(typ, soft, hard)?);
        }
    }
    let process = process_of(
        user,
        req.args.clone(),
        env,
        if req.cwd.is_empty() { "/" } else { &req.cwd },
        caps,
        rlimits,
        req.terminal,
        req.no_new_privileges,
    )?;

    // mounts: podman's defaults, then the container's files, then the user's;
    // a user mount on the same destination replaces a default.
    let mut mounts: Vec<Mount> = Vec::new();
    mounts.push(mount(
        "/proc",
        "proc",
        "proc",
        &["nosuid", "noexec", "nodev"],
    )?);
    mounts.push(mount(
        "/dev",
        "tmpfs",
        "tmpfs",
        &["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
    )?);
    let sys_ro = if req.privileged { "rw" } else { "ro" };
    if req.network == NetworkNs::Host {
        // sysfs can only be mounted by the owner of the network namespace.
        mounts.push(mount(
            "/sys",
            "bind",
            "/sys",
            &["rprivate", "nosuid", "noexec", "nodev", sys_ro, "rbind"],
        )?);
    } else if req.privileged {
        mounts.push(mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["rprivate", "nosuid", "noexec", "nodev", "rw"],
        )?);
    } else {
        mounts.push(mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?);
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
    mounts.push(mount("/dev/pts", "devpts", "devpts", &pts)?);
    mounts.push(mount(
        "/dev/mqueue",
        "mqueue",
        "mqueue",
        &["nosuid", "noexec", "nodev"],
    )?);
    mounts.push(mount(
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    )?);
    if req.network != NetworkNs::Host {
        // With the host network /sys is the host's rbind, cgroups included.
        mounts.push(mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["rprivate", "nosuid", "noexec", "nodev", "relatime", sys_ro],
        )?);
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
            )?);
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
            )?);
        }
    }
    for m in &req.extra_mounts {
        let mut m = m.clone();
        if req.readonly_rootfs && m.typ().as_deref() == Some("bind") {
            let mut opts = m.options().clone().unwrap_or_default();
            if !opts.iter().any(|o| o == "ro" || o == "rw") {
                opts.extend(["ro", "nosuid", "noexec", "nodev"].map(String::from));
            }
            m.set_options(Some(opts));
        }
        mounts.push(m);
    }
    mounts.retain(|m| !covered(&m.destination().to_string_lossy()));
    mounts.extend(req.mounts.iter().cloned());
    // Parents before children, keeping the order otherwise (podman sorts by depth).
    mounts.sort_by_key(|m| depth(&m.destination().to_string_lossy()));

    // linux
    let mut namespaces = vec![namespace(LinuxNamespaceType::Pid)?];
    match &req.network {
        NetworkNs::New => namespaces.push(namespace(LinuxNamespaceType::Network)?),
        NetworkNs::Path(p) => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(p.clone())
                .build()?,
        ),
        NetworkNs::Host => {}
    }
    for t in [
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ] {
        namespaces.push(namespace(t)?);
    }
    if req.user_namespace.is_some() {
        namespaces.push(namespace(LinuxNamespaceType::User)?);
    }
    if cgroup_v2() {
        // podman's default cgroupns is private on cgroup v2, host on v1.
        namespaces.push(namespace(LinuxNamespaceType::Cgroup)?);
    }
    let mut linux = linux_with(namespaces)?;
    if let Some((uids, gids)) = &req.user_namespace {
        linux
            .set_uid_mappings(Some(uids.clone()))
            .set_gid_mappings(Some(gids.clone()));
    }
    // containers.conf default_sysctls; net.* is skipped with the host netns.
    let sysctls: HashMap<String, String> = default_sysctls()
        .into_iter()
        .filter(|(k, _)| req.network != NetworkNs::Host || !k.starts_with("net."))
        .collect();
    if !sysctls.is_empty() {
        linux.set_sysctl(Some(sysctls));
    }
    if !req.privileged {
        linux.set_seccomp(match &req.seccomp {
            SeccompMode::Default => Some(seccomp::default_profile(&req.caps)?),
            SeccompMode::Unconfined => None,
            SeccompMode::Profile(p) => Some(seccomp::load_profile(p, &req.caps)?),
        });
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
    linux
        .set_masked_paths((!masked.is_empty()).then_some(masked))
        .set_readonly_paths((!readonly.is_empty()).then_some(readonly));

    // A shared or slave mount needs a root that propagates (podman's
    // addRootPropagation).
    let has_opt = |names: &[&str]| {
        mounts.iter().any(|m| {
            m.options()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|o| names.contains(&o.as_str()))
        })
    };
    if has_opt(&["shared", "rshared"]) {
        linux.set_rootfs_propagation(Some("shared".into()));
    } else if has_opt(&["slave", "rslave"]) {
        linux.set_rootfs_propagation(Some("rslave".into()));
    }

    spec_of(
        process,
        root(req.rootfs.clone(), req.readonly_rootfs)?,
        req.hostname.clone(),
        mounts,
        linux,
        (!req.annotations.is_empty()).then(|| req.annotations.clone()),
    )
    .context("generating config.json")
}

/// runc's `spec` template (`runc spec`, libcontainer/specconv.Example).
fn runc_example() -> Result<Spec> {
    let caps: Capabilities = [
        Capability::AuditWrite,
        Capability::Kill,
        Capability::NetBindService,
    ]
    .into_iter()
    .collect();
    let process = process_of(
        UserBuilder::default().uid(0u32).gid(0u32).build()?,
        vec!["sh".into()],
        vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "TERM=xterm".into(),
        ],
        "/",
        capability_sets(
            Some(caps.clone()),
            Some(caps.clone()),
            None,
            Some(caps.clone()),
            Some(caps),
        ),
        vec![rlimit(PosixRlimitType::RlimitNofile, 1024, 1024)?],
        true,
        true,
    )?;
    let mounts = vec![
        mount("/proc", "proc", "proc", &[])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        )?,
    ];
    let mut namespaces = Vec::new();
    for t in [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ] {
        namespaces.push(namespace(t)?);
    }
    let mut linux = linux_with(namespaces)?;
    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()?;
    linux
        .set_resources(Some(
            LinuxResourcesBuilder::default()
                .devices(vec![deny_all])
                .build()?,
        ))
        .set_masked_paths(Some(
            [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ]
            .map(String::from)
            .to_vec(),
        ))
        .set_readonly_paths(Some(
            [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ]
            .map(String::from)
            .to_vec(),
        ));
    spec_of(
        process,
        root("rootfs".into(), true)?,
        "runc".into(),
        mounts,
        linux,
        None,
    )
}

/// runc's specconv.ToRootless: no network namespace, a user namespace mapping
/// the caller to root, /sys as a read-only rbind, no uid=/gid= mount options,
/// no cgroup resources.
fn to_rootless(spec: &mut Spec, uid: u32, gid: u32) -> Result<()> {
    if let Some(linux) = spec.linux_mut() {
        let mut ns: Vec<LinuxNamespace> = linux
            .namespaces()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|n| {
                !matches!(
                    n.typ(),
                    LinuxNamespaceType::Network | LinuxNamespaceType::User
                )
            })
            .collect();
        ns.push(namespace(LinuxNamespaceType::User)?);
        linux
            .set_namespaces(Some(ns))
            .set_uid_mappings(Some(vec![id_map(0, uid, 1)?]))
            .set_gid_mappings(Some(vec![id_map(0, gid, 1)?]))
            .set_resources(None);
    }
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for m in mounts.iter_mut() {
        if m.destination().to_string_lossy().trim_end_matches('/') == "/sys" {
            *m = mount(
                "/sys",
                "none",
                "/sys",
                &["rbind", "nosuid", "noexec", "nodev", "ro"],
            )?;
        } else if let Some(opts) = m.options_mut() {
            opts.retain(|o| !o.starts_with("gid=") && !o.starts_with("uid="));
        }
    }
    spec.set_mounts(Some(mounts));
    Ok(())
}

/// `runc spec [--rootless]`, for `rpod oci spec`.
pub fn default_spec(rootless: bool) -> Spec {
    let mut spec = runc_example().expect("runc's spec template is a valid Spec");
    if rootless {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        to_rootless(&mut spec, uid, gid).expect("runc's rootless template is a valid Spec");
    }
    spec
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

/// containers.conf's `default_sysctls` ("NAME=VALUE"), or podman's.
fn default_sysctls() -> Vec<(String, String)> {
    let conf = crate::conf::Defaults::get()
        .ok()
        .and_then(|d| d.containers.default_sysctls.clone());
    let v = conf.unwrap_or_else(|| vec!["net.ipv4.ping_group_range=0 0".into()]);
    v.iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `--ulimit NAME=SOFT[:HARD]` with docker's names; "unlimited" or -1 means
/// no limit.
pub fn parse_ulimit(s: &str) -> Result<PosixRlimit> {
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
    let typ = PosixRlimitType::from_str(&format!("RLIMIT_{}", name.to_ascii_uppercase()))
        .map_err(|_| bad(&format!("unknown limit {name:?}")))?;
    rlimit(typ, soft, hard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        // Absent, not false: oci-spec's builders would default these (and
        // noNewPrivileges to true).
        assert!(p.get("terminal").is_none() && p.get("noNewPrivileges").is_none());
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

    /// The builders' defaults (runc's example) must not leak into our spec.
    #[test]
    fn no_builder_defaults_leak() {
        let v = to_json(&base());
        let text = v.to_string();
        assert!(!text.contains("youki"), "{text}");
        assert!(v.get("annotations").is_none());
        assert_eq!(v["root"], json!({ "path": "/tmp/rootfs" }));
        let keys = |x: &Value| -> Vec<String> {
            let mut k: Vec<String> = x.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&v),
            [
                "hostname",
                "linux",
                "mounts",
                "ociVersion",
                "process",
                "root"
            ]
        );
        assert_eq!(
            keys(&v["process"]),
            ["args", "capabilities", "cwd", "env", "rlimits", "user"]
        );
        assert_eq!(
            keys(&v["linux"]["namespaces"][0]),
            ["type"],
            "{}",
            v["linux"]["namespaces"]
        );
        assert!(v["linux"].get("resources").is_none() && v["linux"].get("devices").is_none());
    }

    /// Every capability the kernel (and the caps crate) knows has an oci-spec
    /// name, so `--privileged` builds.
    #[test]
    fn every_capability_maps() {
        for c in caps::all() {
            let name = c.to_string();
            let oci = oci_cap(&name).unwrap();
            assert_eq!(format!("CAP_{oci}"), name);
        }
        assert!(oci_cap("CAP_NOPE")
            .unwrap_err()
            .to_string()
            .contains("CAP_NOPE"));
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
        let t = |s: &str| {
            let r = parse_ulimit(s).unwrap();
            (r.typ(), r.soft(), r.hard())
        };
        assert_eq!(
            t("nofile=1024"),
            (PosixRlimitType::RlimitNofile, 1024, 1024)
        );
        assert_eq!(t("nproc=10:20"), (PosixRlimitType::RlimitNproc, 10, 20));
        assert_eq!(
            t("core=unlimited:-1"),
            (PosixRlimitType::RlimitCore, u64::MAX, u64::MAX)
        );
        assert_eq!(t("memlock=-1").1, u64::MAX);
        // Every docker name has an oci-spec type.
        for name in [
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
        ] {
            let r = parse_ulimit(&format!("{name}=1")).unwrap();
            assert_eq!(
                r.typ().to_string(),
                format!("RLIMIT_{}", name.to_uppercase())
            );
        }
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
