//! The rest of podman 4.3's `run`/`create` flags (issue 12): parsed and
//! checked before anything is made ([`MoreSpec::check`]), applied to the
//! environment and labels in `create`, and to the finished config.json in
//! [`apply_to_spec`]. Each flag is honoured, or refused with the reason.

use super::record::{self, Paths};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, Spec,
};
use std::path::{Path, PathBuf};

/// What a container keeps of the flags of this module after create: read
/// by the monitor (pid files, `--timeout`, `--log-opt`), `start` and `rm
/// --depend` (`--requires`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct RunExtras {
    /// Ids of the containers `--requires` named: started before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// `--pidfile`: the container's pid is written there at each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile: Option<PathBuf>,
    /// `--conmon-pidfile`: the monitor's pid, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conmon_pidfile: Option<PathBuf>,
    /// `--timeout`: seconds the container may run before it is killed (0: no limit).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: u32,
    /// `--systemd`: true, false or always ("" when not given).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub systemd: String,
    /// `--personality`: LINUX or LINUX32 ("" when not given).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub personality: String,
    /// `--log-opt max-size=`: bytes (0: no limit).
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub log_max_size: i64,
    /// `--log-opt path=`: where the log is written instead of the container's dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_path: Option<PathBuf>,
    /// `--log-opt tag=`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_tag: String,
    /// `--log-driver` ("" when not given: k8s-file).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_driver: String,
    /// `--chrootdirs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chrootdirs: Vec<String>,
    /// `--rootfs DIR[:O]`: the container's root is this host directory
    /// (with `rootfs_overlay`, under an overlay whose changes stay in the
    /// container's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rootfs_overlay: bool,
    /// `--init-ctr always|once` ("" when not given): the pod's `pod start`
    /// runs it to completion before the other members start.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub init_ctr: String,
}

/// `--rootfs PATH[:O]`: an existing directory, made absolute.
pub fn parse_rootfs(v: &str) -> Result<(PathBuf, bool)> {
    let (p, overlay) = match v.strip_suffix(":O") {
        Some(p) => (p, true),
        None => (v, false),
    };
    let path = std::fs::canonicalize(p).with_context(|| format!("--rootfs {p}"))?;
    if !path.is_dir() {
        bail!("--rootfs {p}: not a directory");
    }
    Ok((path, overlay))
}

/// A file of a `--rootfs` directory (e.g. /etc/passwd), resolved inside it
/// (its links never lead out); None when it has none.
pub fn read_rootfs_file(dir: &Path, path: &str) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let root = crate::sys::inroot::open_root(dir)
        .with_context(|| format!("--rootfs {}", dir.display()))?;
    use std::os::fd::AsFd;
    let fd = match crate::sys::inroot::open(root.as_fd(), Path::new(path), true) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}{path}", dir.display())),
    };
    // Only a regular file (a fifo would block the open below).
    let st = crate::sys::inroot::fstat(fd.as_fd())
        .with_context(|| format!("{}{path}", dir.display()))?;
    if crate::sys::inroot::kind(&st) != nix::sys::stat::SFlag::S_IFREG {
        return Ok(None);
    }
    // An O_PATH fd: reopen it for reading through /proc.
    let mut f = std::fs::File::open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .with_context(|| format!("{}{path}", dir.display()))?;
    let mut out = Vec::new();
    f.by_ref()
        .take(16 << 20)
        .read_to_end(&mut out)
        .with_context(|| format!("{}{path}", dir.display()))?;
    Ok(Some(out))
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero64(n: &i64) -> bool {
    *n == 0
}

impl RunExtras {
    pub fn is_empty(&self) -> bool {
        *self == RunExtras::default()
    }
}

/// The containers that depend on container `id` (join its network
/// namespace, or `--requires` it), and theirs, deepest last: what `rm
/// --depend` removes with it, and what makes a plain `rm` refuse.
pub fn dependents(paths: &Paths, id: &str) -> Result<Vec<String>> {
    let recs: Vec<record::ContainerRecord> = record::list_ids(paths)?
        .iter()
        .filter_map(|i| record::load(paths, i).ok())
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut queue = vec![id.to_string()];
    while let Some(cur) = queue.pop() {
        for r in &recs {
            let on_it = matches!(&r.network, crate::network::NetworkMode::Container(c) if *c == cur)
                || r.extras.requires.contains(&cur);
            if on_it && r.id != id && !out.contains(&r.id) {
                out.push(r.id.clone());
                queue.push(r.id.clone());
            }
        }
    }
    Ok(out)
}

/// How one namespace (`--uts`, `--ipc`, `--pid`, `--cgroupns`) is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NsMode {
    /// Not given: rpod's default for that namespace.
    #[default]
    Default,
    Private,
    Host,
    /// `--ipc none`: a private namespace without /dev/shm.
    None,
    /// `container:NAME` (resolved to an id at create).
    Container(String),
    /// `ns:PATH`.
    Path(PathBuf),
}

/// `--uts|--ipc|--pid|--cgroupns MODE`: `flag` names the option in errors.
pub fn parse_ns(flag: &str, v: Option<&str>) -> Result<NsMode> {
    let Some(v) = v else {
        return Ok(NsMode::Default);
    };
    let allowed: &[&str] = match flag {
        "ipc" => &["private", "shareable", "none", "host", "container:", "ns:"],
        "cgroupns" => &["private", "host", "ns:"],
        _ => &["private", "host", "container:", "ns:"],
    };
    let ok = |m: &str| allowed.contains(&m);
    let mode = match v.split_once(':') {
        Some(("container", n)) if ok("container:") && !n.is_empty() => {
            NsMode::Container(n.to_string())
        }
        Some(("ns", p)) if ok("ns:") && p.starts_with('/') => NsMode::Path(p.into()),
        None if v.is_empty() || (v == "private" && ok(v)) || (v == "shareable" && ok(v)) => {
            NsMode::Private
        }
        None if v == "host" => NsMode::Host,
        None if v == "none" && ok(v) => NsMode::None,
        _ => bail!(
            "invalid --{flag} {v:?}: use {}",
            allowed
                .iter()
                .map(|a| match *a {
                    "container:" => "container:NAME",
                    "ns:" => "ns:PATH",
                    x => x,
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if let NsMode::Container(_) = mode {
        bail!(
            "--{flag} {v}: rpod can't join another container's {flag} namespace (it belongs to \
             that container's user namespace; only --network container: joins it)"
        );
    }
    if flag == "pid" && matches!(mode, NsMode::Path(_)) {
        bail!("--pid {v}: rpod's runtime can't join another pid namespace; use private or host");
    }
    if let NsMode::Path(p) = &mode {
        std::fs::metadata(p).with_context(|| format!("--{flag} ns:{}", p.display()))?;
    }
    Ok(mode)
}

/// One `--device HOST[:CONTAINER][:PERMS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub host: PathBuf,
    pub container: String,
    pub perms: String,
}

fn is_perms(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

/// Parse `--device` and check, as the user, that the node exists and can be
/// opened as asked: a rootless container can only get a bind of a device
/// node you can open yourself.
pub fn parse_device(d: &str) -> Result<DeviceSpec> {
    let parts: Vec<&str> = d.split(':').collect();
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if is_perms(p) => (*h, *c, *p),
        _ => bail!("invalid --device {d:?}: use HOST[:CONTAINER][:PERMISSIONS]"),
    };
    if !host.starts_with('/') || !ctr.starts_with('/') {
        bail!("invalid --device {d:?}: device paths must be absolute");
    }
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(host).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("stat {host}: no such file or directory"),
        _ => anyhow::anyhow!("stat {host}: {e}"),
    })?;
    let ft = meta.file_type();
    if !(ft.is_char_device() || ft.is_block_device()) {
        bail!("--device {host}: not a device node");
    }
    let mut mode = nix::unistd::AccessFlags::empty();
    if perms.contains('r') {
        mode |= nix::unistd::AccessFlags::R_OK;
    }
    if perms.contains('w') {
        mode |= nix::unistd::AccessFlags::W_OK;
    }
    if !mode.is_empty() {
        nix::unistd::access(host, mode).map_err(|e| {
            anyhow::anyhow!(
                "--device {host}: {e}: a rootless container can only use a device node you can open \
                 (ask for less with :r, or change its permissions)"
            )
        })?;
    }
    Ok(DeviceSpec {
        host: host.into(),
        container: ctr.to_string(),
        perms: perms.to_string(),
    })
}

/// `--uidmap`/`--gidmap CONTAINER:FROM:COUNT`, relative to rpod's user
/// namespace (0 is you, 1..=65536 your subordinate ids), as rootless
/// podman's are relative to its own.
pub fn parse_idmap(flag: &str, v: &str) -> Result<(u32, u32, u32)> {
    let n: Vec<u32> = v
        .split(':')
        .map(|x| x.parse::<u32>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("invalid --{flag} {v:?}: use CONTAINER_ID:FROM_ID:COUNT"))?;
    let [c, h, s] = n[..] else {
        bail!("invalid --{flag} {v:?}: use CONTAINER_ID:FROM_ID:COUNT");
    };
    if s == 0 {
        bail!("invalid --{flag} {v:?}: the count must not be 0");
    }
    if u64::from(h) + u64::from(s) > 65537 {
        bail!(
            "invalid --{flag} {v:?}: rpod's user namespace has ids 0 to 65536 (you and your \
             subordinate ids); {h}+{s} goes past it"
        );
    }
    Ok((c, h, s))
}

/// `--umask` as podman reads it: octal, at most 0777.
pub fn parse_umask(v: &str) -> Result<u32> {
    match u32::from_str_radix(v, 8) {
        Ok(n) if n <= 0o777 => Ok(n),
        _ => bail!("invalid umask string {v}: invalid argument"),
    }
}

/// `--tz`: the host file that becomes /etc/localtime.
pub fn tz_file(v: &str) -> Result<PathBuf> {
    if v == "local" {
        let p = std::fs::canonicalize("/etc/localtime")
            .context("--tz local: the host has no /etc/localtime")?;
        return Ok(p);
    }
    if v.is_empty() || v.starts_with('/') || v.split('/').any(|c| c == ".." || c.is_empty()) {
        bail!("invalid --tz {v:?}: use local or a timezone name such as Europe/Paris");
    }
    let p = Path::new("/usr/share/zoneinfo").join(v);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() => Ok(p),
        _ => bail!("stat {}: no such file or directory", p.display()),
    }
}

/// Lines KEY=VALUE (podman's env-file syntax) of a `--label-file`.
pub fn read_label_file(f: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(f)
        .with_context(|| format!("reading label file {}", f.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// Expand `${KEY}` and `$KEY` in `v` from `env` (unset: empty), for `--env-merge`.
pub fn expand(v: &str, env: &[String]) -> String {
    let lookup = |k: &str| -> String {
        env.iter()
            .find_map(|e| e.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .unwrap_or("")
            .to_string()
    };
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            if let Some(end) = inner.find('}') {
                out.push_str(&lookup(&inner[..end]));
                rest = &inner[end + 1..];
                continue;
            }
        }
        let n = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if n == 0 {
            out.push('$');
        } else {
            out.push_str(&lookup(&after[..n]));
        }
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// The proxy variables `--http-proxy` (on by default) copies from the host.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "ftp_proxy",
    "FTP_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// Resource flags beyond `--memory`, `--cpus` and `--pids-limit`; applied
/// where a cgroup v2 subtree is delegated, warned about otherwise.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MoreResources {
    pub cpu_shares: Option<u64>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub memory_reservation: Option<i64>,
    pub memory_swap: Option<i64>,
    pub oom_kill_disable: bool,
    pub blkio_weight: Option<u16>,
    /// Flags rpod does not write into the spec (device throttles, rt
    /// scheduling, swappiness, cgroup-parent, cgroup-conf …): named in the
    /// warning, so that no limit is claimed that is not applied.
    pub not_applied: Vec<String>,
}

impl MoreResources {
    pub fn any(&self) -> bool {
        *self != MoreResources::default()
    }
}

/// Everything [`crate::container::create::ContainerSpec`] gets from the
/// flags of this module, checked.
#[derive(Debug, Clone, Default)]
pub struct MoreSpec {
    pub annotations: Vec<(String, String)>,
    /// Label lines read from `--label-file`s (before `--label`s).
    pub file_labels: Vec<String>,
    pub env_merge: Vec<String>,
    pub unsetenv: Vec<String>,
    pub unsetenv_all: bool,
    pub http_proxy: bool,
    pub no_hosts: bool,
    /// Bytes (0: the default).
    pub shm_size: Option<i64>,
    /// The host file bound to /etc/localtime.
    pub tz: Option<PathBuf>,
    pub umask: Option<u32>,
    pub init_path: Option<PathBuf>,
    /// Extra ports for `-P`, as `PORT/PROTO`.
    pub expose: Vec<String>,
    pub oom_score_adj: Option<i32>,
    pub uts: NsMode,
    pub ipc: NsMode,
    pub pid: NsMode,
    pub cgroupns: NsMode,
    pub uidmap: Vec<(u32, u32, u32)>,
    pub gidmap: Vec<(u32, u32, u32)>,
    pub devices: Vec<DeviceSpec>,
    pub read_only_tmpfs: bool,
    /// `--seccomp-policy image`.
    pub seccomp_from_image: bool,
    /// `--cgroups disabled`: no limits are asked of the runtime.
    pub cgroups_disabled: bool,
    pub resources: MoreResources,
    /// What the container keeps (`--requires` as given until create resolves it).
    pub extras: RunExtras,
    /// `--passwd` (None: not given, podman's default true).
    pub passwd: Option<bool>,
    pub passwd_entry: Option<String>,
    pub hostuser: Vec<String>,
    /// `--preserve-fds` (run only).
    pub preserve_fds: u32,
    /// Set at create: the container runs in systemd mode.
    pub systemd_mode: bool,
    /// Set at create: /etc/passwd and /etc/group with the entries added.
    pub passwd_file: Option<String>,
    pub group_file: Option<String>,
}

/// `--personality`: LINUX or LINUX32 (podman's names; case-insensitive).
pub fn parse_personality(v: &str) -> Result<String> {
    match v.to_ascii_uppercase().as_str() {
        "LINUX" => Ok("LINUX".into()),
        "LINUX32" => Ok("LINUX32".into()),
        _ => bail!("invalid --personality {v:?}: use LINUX or LINUX32"),
    }
}

/// `--systemd true` turns systemd mode on for these commands (podman's rule).
pub fn systemd_mode(flag: &str, args: &[String]) -> bool {
    match flag {
        "always" => true,
        "false" => false,
        _ => args.first().is_some_and(|a| {
            matches!(
                a.as_str(),
                "/sbin/init" | "/usr/sbin/init" | "/usr/local/sbin/init"
            ) || Path::new(a).file_name().is_some_and(|n| n == "systemd")
        }),
    }
}

/// `--log-opt KEY=VALUE`s into `x` (max-size, path, tag: what podman's
/// k8s-file driver honours).
pub fn parse_log_opts(opts: &[String], x: &mut RunExtras) -> Result<()> {
    for o in opts {
        let Some((k, v)) = o.split_once('=') else {
            bail!("invalid --log-opt {o:?}: use max-size=SIZE, path=PATH or tag=TAG");
        };
        match k {
            "max-size" => {
                let n = if v == "-1" {
                    0
                } else {
                    from_human_size(v)
                        .with_context(|| format!("--log-opt max-size={v}: invalid size"))?
                };
                x.log_max_size = n.max(0);
            }
            "path" => {
                if !v.starts_with('/') {
                    bail!("--log-opt path={v}: the log path must be absolute");
                }
                let dir = Path::new(v).parent().unwrap_or(Path::new("/"));
                if !dir.is_dir() {
                    bail!("--log-opt path={v}: {} is not a directory", dir.display());
                }
                x.log_path = Some(v.into());
            }
            "tag" => x.log_tag = v.to_string(),
            // podman takes any other key and ignores it.
            _ => warn!("--log-opt {k}: ignored (the k8s-file driver takes max-size, path and tag)"),
        }
    }
    Ok(())
}

/// go-units' FromHumanSize, as podman reads `--log-opt max-size`: decimal
/// units ("1k" is 1000, "1.5MB" 1500000; an "i" changes nothing).
pub fn from_human_size(v: &str) -> Option<i64> {
    let t = v.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let num: f64 = t[..end].parse().ok()?;
    let unit = t[end..].trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return None,
    };
    Some((num * mult) as i64)
}

fn has_id(text: &str, id: u32) -> bool {
    text.lines()
        .any(|l| l.split(':').nth(2).and_then(|x| x.parse::<u32>().ok()) == Some(id))
}

fn has_name(text: &str, name: &str) -> bool {
    text.lines().any(|l| l.split(':').next() == Some(name))
}

/// What podman adds to the image's /etc/passwd and /etc/group (`--passwd`,
/// `--passwd-entry`, `--hostuser`): an entry for a `--user` uid the image
/// does not know, one for its gid, and the host users asked for. None:
/// nothing to add (the image's files stay).
#[allow(clippy::too_many_arguments)]
pub fn passwd_files(
    m: &MoreSpec,
    image_passwd: Option<&[u8]>,
    image_group: Option<&[u8]>,
    user_given: bool,
    name: Option<&str>,
    uid: u32,
    gid: u32,
    workdir: &str,
    host_user: &dyn Fn(&str) -> Option<String>,
) -> Result<(Option<String>, Option<String>)> {
    let mut passwd = String::from_utf8_lossy(image_passwd.unwrap_or_default()).into_owned();
    let mut group = String::from_utf8_lossy(image_group.unwrap_or_default()).into_owned();
    let (p0, g0) = (passwd.len(), group.len());
    let nl = |s: &mut String| {
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
    };
    for h in &m.hostuser {
        let entry =
            host_user(h).with_context(|| format!("--hostuser {h}: no such user on the host"))?;
        let name = entry.split(':').next().unwrap_or_default();
        if has_name(&passwd, name) {
            continue;
        }
        nl(&mut passwd);
        passwd.push_str(&entry);
        passwd.push('\n');
    }
    if m.passwd != Some(false) && user_given && uid != 0 && !has_id(&passwd, uid) {
        let tmpl = m
            .passwd_entry
            .as_deref()
            .unwrap_or("$USERNAME:*:$UID:$GID:$NAME:$HOME:/bin/sh");
        // keep-id: the host user's name (podman leaves the comment empty).
        let (user_name, comment) = match name {
            Some(n) => (n.to_string(), ""),
            None => (uid.to_string(), "container user"),
        };
        let entry = tmpl
            .replace("$USERNAME", &user_name)
            .replace("$UID", &uid.to_string())
            .replace("$GID", &gid.to_string())
            .replace("$NAME", comment)
            .replace("$HOME", workdir);
        nl(&mut passwd);
        passwd.push_str(entry.trim_end_matches('\n'));
        passwd.push('\n');
        if !has_id(&group, gid) {
            nl(&mut group);
            let group_name = name.map_or_else(|| gid.to_string(), String::from);
            group.push_str(&format!("{group_name}:x:{gid}:{user_name}\n"));
        }
    }
    Ok((
        (passwd.len() != p0).then_some(passwd),
        (group.len() != g0).then_some(group),
    ))
}

/// A host user's passwd entry as podman's `--hostuser` adds it.
pub fn host_passwd_entry(who: &str) -> Option<String> {
    let u = match who.parse::<u32>() {
        Ok(n) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(n)).ok()??,
        Err(_) => nix::unistd::User::from_name(who).ok()??,
    };
    Some(format!(
        "{}:*:{}:{}:{}:/:/bin/sh",
        u.name,
        u.uid,
        u.gid,
        u.gecos.to_string_lossy().split(',').next().unwrap_or("")
    ))
}

/// The user namespace maps of `--uidmap`/`--gidmap` (one given: the other is
/// the same, as podman does).
pub fn id_maps(m: &MoreSpec) -> Result<Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>> {
    if m.uidmap.is_empty() && m.gidmap.is_empty() {
        return Ok(None);
    }
    let conv = |v: &[(u32, u32, u32)]| -> Result<Vec<LinuxIdMapping>> {
        v.iter()
            .map(|(c, h, s)| {
                Ok(LinuxIdMappingBuilder::default()
                    .container_id(*c)
                    .host_id(*h)
                    .size(*s)
                    .build()?)
            })
            .collect()
    };
    let u = if m.uidmap.is_empty() {
        &m.gidmap
    } else {
        &m.uidmap
    };
    let g = if m.gidmap.is_empty() {
        &m.uidmap
    } else {
        &m.gidmap
    };
    Ok(Some((conv(u)?, conv(g)?)))
}

/// rpod's runtime sets up /dev from rpod's namespace, so the container's
/// maps must include your own id (0 there): refuse, with the way out,
/// the maps it can't start (podman with runc takes them).
pub fn check_idmaps(m: &MoreSpec) -> Result<()> {
    let Some((u, g)) = id_maps(m)? else {
        return Ok(());
    };
    for (what, maps) in [("uid", &u), ("gid", &g)] {
        let has0 = maps.iter().any(|x| x.host_id() == 0);
        if !has0 {
            bail!(
                "--{what}map: rpod needs your own {what} (0 in its user namespace) mapped into \
                 the container, e.g. --{what}map 0:1:1000 --{what}map 1000:0:1"
            );
        }
    }
    Ok(())
}

/// Where a namespace of the new container comes from, resolved at create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NsJoin {
    #[default]
    Default,
    Private,
    Host,
    None,
    /// The path of a namespace to join, and for `container:` the pid of
    /// the container's process (its /dev/shm is shared for --ipc).
    Path(PathBuf, Option<i32>),
}

/// Resolve `container:NAME` to the namespace file of its running process.
pub fn resolve_ns(paths: &Paths, flag: &str, kind: &str, m: &NsMode) -> Result<NsJoin> {
    Ok(match m {
        NsMode::Default => NsJoin::Default,
        NsMode::Private => NsJoin::Private,
        NsMode::Host => NsJoin::Host,
        NsMode::None => NsJoin::None,
        NsMode::Path(p) => NsJoin::Path(p.clone(), None),
        NsMode::Container(name) => {
            let id = record::resolve(paths, name).with_context(|| format!("--{flag} {name}"))?;
            let st = record::load_state(paths, &id);
            if st.pid <= 0
                || nix::sys::signal::kill(nix::unistd::Pid::from_raw(st.pid), None).is_err()
            {
                bail!("--{flag} container:{name}: the container is not running: start it first");
            }
            NsJoin::Path(
                PathBuf::from(format!("/proc/{}/ns/{kind}", st.pid)),
                Some(st.pid),
            )
        }
    })
}

/// The namespaces of a new container, resolved.
#[derive(Debug, Clone, Default)]
pub struct NsPlan {
    pub uts: NsJoin,
    pub ipc: NsJoin,
    pub pid: NsJoin,
    pub cgroup: NsJoin,
}

fn bind(dest: &str, src: &str, opts: &[&str]) -> Result<Mount> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(src)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()?)
}

fn set_ns(spec: &mut Spec, typ: LinuxNamespaceType, how: &NsJoin) -> Result<()> {
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut nss = linux.namespaces().clone().unwrap_or_default();
    match how {
        NsJoin::Default => return Ok(()),
        NsJoin::Host => nss.retain(|n| n.typ() != typ),
        NsJoin::Private | NsJoin::None => {
            if !nss.iter().any(|n| n.typ() == typ) {
                nss.push(LinuxNamespaceBuilder::default().typ(typ).build()?);
            }
        }
        NsJoin::Path(p, _) => {
            nss.retain(|n| n.typ() != typ);
            nss.push(
                LinuxNamespaceBuilder::default()
                    .typ(typ)
                    .path(p.clone())
                    .build()?,
            );
        }
    }
    linux.set_namespaces(Some(nss));
    spec.set_linux(Some(linux));
    Ok(())
}

fn replace_mount(spec: &mut Spec, dest: &str, new: Option<Mount>) {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    match mounts
        .iter()
        .position(|m| m.destination() == Path::new(dest))
    {
        Some(i) => match new {
            Some(n) => mounts[i] = n,
            None => {
                mounts.remove(i);
            }
        },
        None => {
            if let Some(n) = new {
                mounts.push(n);
            }
        }
    }
    spec.set_mounts(Some(mounts));
}

/// Apply the flags of this module to a finished config.json.
pub fn apply_to_spec(spec: &mut Spec, m: &MoreSpec, ns: &NsPlan) -> Result<()> {
    // Namespaces.
    set_ns(spec, LinuxNamespaceType::Uts, &ns.uts)?;
    if matches!(ns.uts, NsJoin::Host | NsJoin::Path(..)) {
        // The hostname belongs to the namespace joined: never set it.
        spec.set_hostname(None);
    }
    set_ns(spec, LinuxNamespaceType::Ipc, &ns.ipc)?;
    match &ns.ipc {
        NsJoin::Host => {
            for d in ["/dev/mqueue", "/dev/shm"] {
                if std::fs::metadata(d).is_err() {
                    bail!("--ipc host: statfs {d}: no such file or directory");
                }
                replace_mount(
                    spec,
                    d,
                    Some(bind(d, d, &["rbind", "nosuid", "noexec", "nodev"])?),
                );
            }
        }
        NsJoin::None => replace_mount(spec, "/dev/shm", None),
        NsJoin::Path(_, Some(pid)) => {
            let src = format!("/proc/{pid}/root/dev/shm");
            replace_mount(
                spec,
                "/dev/shm",
                Some(bind(
                    "/dev/shm",
                    &src,
                    &["rbind", "nosuid", "noexec", "nodev"],
                )?),
            );
        }
        _ => {}
    }
    set_ns(spec, LinuxNamespaceType::Pid, &ns.pid)?;
    if ns.pid == NsJoin::Host {
        // A proc of the host's pid namespace can't be mounted from a user
        // namespace: bind the host's, as podman does.
        replace_mount(
            spec,
            "/proc",
            Some(bind(
                "/proc",
                "/proc",
                &["rbind", "nosuid", "noexec", "nodev"],
            )?),
        );
    }
    set_ns(spec, LinuxNamespaceType::Cgroup, &ns.cgroup)?;

    // /dev/shm's size.
    if let Some(size) = m.shm_size.filter(|s| *s > 0) {
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        for mt in mounts.iter_mut() {
            if mt.destination() == Path::new("/dev/shm") && mt.typ().as_deref() == Some("tmpfs") {
                let mut o: Vec<String> = mt.options().clone().unwrap_or_default();
                o.retain(|x| !x.starts_with("size="));
                o.push(format!("size={}k", (size + 1023) / 1024));
                mt.set_options(Some(o));
            }
        }
        spec.set_mounts(Some(mounts));
    }
    if !m.read_only_tmpfs {
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        mounts.retain(|mt| {
            let d = mt.destination().to_string_lossy();
            !(matches!(d.as_ref(), "/run" | "/tmp" | "/var/tmp")
                && mt
                    .options()
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|o| o == "tmpcopyup"))
        });
        spec.set_mounts(Some(mounts));
    }
    let mut extra: Vec<Mount> = Vec::new();
    if let Some(tz) = &m.tz {
        extra.push(bind(
            "/etc/localtime",
            &tz.to_string_lossy(),
            &["bind", "ro", "rprivate"],
        )?);
    }
    for d in &m.devices {
        let rw = if d.perms.contains('w') { "rw" } else { "ro" };
        extra.push(bind(
            &d.container,
            &d.host.to_string_lossy(),
            &["bind", "nosuid", "noexec", rw, "rprivate"],
        )?);
    }
    if !extra.is_empty() {
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        for e in extra {
            mounts.retain(|x| x.destination() != e.destination());
            mounts.push(e);
        }
        spec.set_mounts(Some(mounts));
    }

    // The process.
    let mut process = spec.process().clone().unwrap_or_default();
    if let Some(u) = m.umask {
        let mut user = process.user().clone();
        user.set_umask(Some(u));
        process.set_user(user);
    }
    if let Some(o) = m.oom_score_adj {
        process.set_oom_score_adj(Some(o));
    }
    spec.set_process(Some(process));

    if !m.annotations.is_empty() {
        let mut a = spec.annotations().clone().unwrap_or_default();
        a.extend(m.annotations.iter().cloned());
        spec.set_annotations(Some(a));
    }
    Ok(())
}

/// The flags of [`RunExtras`] and the files made at create, applied to a
/// finished config.json: systemd mode's tmpfs mounts, the /etc/passwd and
/// /etc/group with podman's entries, `--chrootdirs` and `--personality`.
/// `dir` is the container's directory (its name files live there).
pub fn apply_extras(spec: &mut Spec, m: &MoreSpec, dir: &Path) -> Result<()> {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    let has = |ms: &[Mount], d: &str| ms.iter().any(|x| x.destination() == Path::new(d));
    if m.systemd_mode {
        // podman's systemd mode: tmpfs where systemd writes, put before any
        // mount below them.
        let mut add = Vec::new();
        for (d, extra) in [
            ("/run", None),
            ("/run/lock", Some("size=50%")),
            ("/tmp", None),
            ("/var/log/journal", None),
        ] {
            if has(&mounts, d) {
                continue;
            }
            let mut o: Vec<String> = ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]
                .iter()
                .map(|x| x.to_string())
                .collect();
            o.extend(extra.map(String::from));
            add.push(
                MountBuilder::default()
                    .destination(d)
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(o)
                    .build()?,
            );
        }
        let under = |x: &Mount| {
            let d = x.destination();
            ["/run", "/tmp", "/var/log/journal"]
                .iter()
                .any(|p| d.starts_with(p) && d != Path::new(p))
        };
        let at = mounts.iter().position(under).unwrap_or(mounts.len());
        for (i, a) in add.into_iter().enumerate() {
            mounts.insert(at + i, a);
        }
    }
    for (name, dest, content) in [
        ("passwd", "/etc/passwd", &m.passwd_file),
        ("group", "/etc/group", &m.group_file),
    ] {
        let Some(text) = content else { continue };
        if has(&mounts, dest) {
            continue;
        }
        let f = dir.join(name);
        crate::storage::write_atomic(&f, text.as_bytes())
            .with_context(|| format!("writing {}", f.display()))?;
        mounts.push(bind(
            dest,
            &f.to_string_lossy(),
            &["rbind", "rprivate", "rw"],
        )?);
    }
    for c in &m.extras.chrootdirs {
        for name in ["hosts", "hostname", "resolv.conf"] {
            if name == "hosts" && m.no_hosts {
                continue;
            }
            let dest = format!("{}/etc/{name}", c.trim_end_matches('/'));
            let src = dir.join(name);
            if src.exists() && !has(&mounts, &dest) {
                mounts.push(bind(
                    &dest,
                    &src.to_string_lossy(),
                    &["rbind", "rprivate", "rw"],
                )?);
            }
        }
    }
    spec.set_mounts(Some(mounts));
    if !m.extras.personality.is_empty() {
        use oci_spec::runtime::{LinuxPersonalityBuilder, LinuxPersonalityDomain};
        let domain = match m.extras.personality.as_str() {
            "LINUX32" => LinuxPersonalityDomain::PerLinux32,
            _ => LinuxPersonalityDomain::PerLinux,
        };
        let mut linux = spec.linux().clone().unwrap_or_default();
        linux.set_personality(Some(
            LinuxPersonalityBuilder::default().domain(domain).build()?,
        ));
        spec.set_linux(Some(linux));
    }
    Ok(())
}

/// The linux.resources of the flags in [`MoreResources`], merged into `r`.
pub fn merge_resources(
    r: Option<oci_spec::runtime::LinuxResources>,
    m: &MoreResources,
) -> Result<Option<oci_spec::runtime::LinuxResources>> {
    use oci_spec::runtime::{LinuxBlockIoBuilder, LinuxCpu, LinuxMemory};
    if !m.any() {
        return Ok(r);
    }
    let mut r = r.unwrap_or_default();
    let mut cpu: LinuxCpu = r.cpu().clone().unwrap_or_default();
    if let Some(s) = m.cpu_shares {
        cpu.set_shares(Some(s));
    }
    if let Some(p) = m.cpu_period {
        cpu.set_period(Some(p));
    }
    if let Some(q) = m.cpu_quota {
        cpu.set_quota(Some(q));
    }
    if let Some(c) = &m.cpuset_cpus {
        cpu.set_cpus(Some(c.clone()));
    }
    if let Some(c) = &m.cpuset_mems {
        cpu.set_mems(Some(c.clone()));
    }
    if cpu != LinuxCpu::default() {
        r.set_cpu(Some(cpu));
    }
    let mut mem: LinuxMemory = r.memory().unwrap_or_default();
    if let Some(x) = m.memory_reservation {
        mem.set_reservation(Some(x));
    }
    if let Some(x) = m.memory_swap {
        mem.set_swap(Some(x));
    }
    if m.oom_kill_disable {
        mem.set_disable_oom_killer(Some(true));
    }
    if mem != LinuxMemory::default() {
        r.set_memory(Some(mem));
    }
    if let Some(w) = m.blkio_weight {
        r.set_block_io(Some(LinuxBlockIoBuilder::default().weight(w).build()?));
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_parse() {
        assert_eq!(parse_ns("uts", Some("host")).unwrap(), NsMode::Host);
        assert_eq!(parse_ns("pid", Some("private")).unwrap(), NsMode::Private);
        assert!(parse_ns("ipc", Some("container:db")).is_err());
        assert_eq!(parse_ns("ipc", Some("none")).unwrap(), NsMode::None);
        assert!(parse_ns("uts", Some("none")).is_err());
        assert!(parse_ns("cgroupns", Some("container:x")).is_err());
        assert!(parse_ns("uts", Some("ns:/no/such")).is_err());
        assert_eq!(
            parse_ns("uts", Some("ns:/proc/self/ns/uts")).unwrap(),
            NsMode::Path("/proc/self/ns/uts".into())
        );
        assert!(parse_ns("pid", Some("container:x")).is_err());
    }

    #[test]
    fn idmaps_umask_tz() {
        assert_eq!(parse_idmap("uidmap", "0:1:1000").unwrap(), (0, 1, 1000));
        assert!(parse_idmap("uidmap", "0:1:70000").is_err());
        assert!(parse_idmap("uidmap", "0:1").is_err());
        assert!(parse_idmap("uidmap", "a:1:2").is_err());
        assert_eq!(parse_umask("0077").unwrap(), 0o77);
        assert!(parse_umask("999").is_err());
        assert!(tz_file("../etc/passwd").is_err());
        assert!(tz_file("Nope/Nope").is_err());
    }

    #[test]
    fn env_merge_expands() {
        let env = vec!["PATH=/bin".to_string(), "A=x".to_string()];
        assert_eq!(expand("/x:${PATH}", &env), "/x:/bin");
        assert_eq!(expand("$A-$NOPE-${A}y$", &env), "x--xy$");
    }

    #[test]
    fn systemd_personality_and_log_opts() {
        let a = |s: &str| vec![s.to_string()];
        assert!(systemd_mode("", &a("/sbin/init")));
        assert!(systemd_mode("true", &a("/usr/lib/systemd/systemd")));
        assert!(!systemd_mode("true", &a("sh")));
        assert!(systemd_mode("always", &a("sh")));
        assert!(!systemd_mode("false", &a("/sbin/init")));
        assert_eq!(parse_personality("linux32").unwrap(), "LINUX32");
        assert!(parse_personality("LINUX64").is_err());
        let mut x = RunExtras::default();
        parse_log_opts(
            &["max-size=2k".into(), "tag=t".into(), "x=y".into()],
            &mut x,
        )
        .unwrap();
        assert_eq!((x.log_max_size, x.log_tag.as_str()), (2000, "t"));
        assert!(parse_log_opts(&["path=rel".into()], &mut x).is_err());
        assert!(parse_log_opts(&["novalue".into()], &mut x).is_err());
    }

    #[test]
    fn passwd_entries_only_where_missing() {
        let passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/sbin/nologin";
        let group = b"root:x:0:\n";
        let m = MoreSpec::default();
        let none = |_: &str| None;
        let (p, g) = passwd_files(
            &m,
            Some(passwd),
            Some(group),
            true,
            None,
            1234,
            1234,
            "/w",
            &none,
        )
        .unwrap();
        assert!(p
            .unwrap()
            .ends_with("/sbin/nologin\n1234:*:1234:1234:container user:/w:/bin/sh\n"));
        assert!(g.unwrap().ends_with("root:x:0:\n1234:x:1234:1234\n"));
        // Known uid, root, no --user, --passwd=false: nothing.
        for (uid, given) in [(65534, true), (0, true), (1234, false)] {
            let r = passwd_files(
                &m,
                Some(passwd),
                Some(group),
                given,
                None,
                uid,
                0,
                "/",
                &none,
            )
            .unwrap();
            assert_eq!(r, (None, None), "{uid} {given}");
        }
        let off = MoreSpec {
            passwd: Some(false),
            ..Default::default()
        };
        let r = passwd_files(
            &off,
            Some(passwd),
            Some(group),
            true,
            None,
            1234,
            1234,
            "/",
            &none,
        )
        .unwrap();
        assert_eq!(r, (None, None));
        // --hostuser: added once; an unknown one is an error naming it.
        let host = MoreSpec {
            hostuser: vec!["me".into(), "root".into()],
            ..Default::default()
        };
        let lookup = |n: &str| Some(format!("{n}:*:1001:1001::/:/bin/sh"));
        let (p, _) =
            passwd_files(&host, Some(passwd), None, false, None, 0, 0, "/", &lookup).unwrap();
        let p = p.unwrap();
        assert!(
            p.ends_with("\nme:*:1001:1001::/:/bin/sh\n")
                && p.lines().filter(|l| l.starts_with("root:")).count() == 1,
            "{p}"
        );
        // keep-id: the host user's name for the entry and its group.
        let (p, g) = passwd_files(
            &m,
            Some(passwd),
            Some(group),
            true,
            Some("me"),
            1001,
            1001,
            "/",
            &none,
        )
        .unwrap();
        assert!(p.unwrap().ends_with("\nme:*:1001:1001::/:/bin/sh\n"));
        assert!(g.unwrap().ends_with("\nme:x:1001:me\n"));
        let e = passwd_files(&host, Some(passwd), None, false, None, 0, 0, "/", &none).unwrap_err();
        assert!(e.to_string().contains("--hostuser me"), "{e}");
    }

    #[test]
    fn log_sizes_as_podman() {
        assert_eq!(from_human_size("1k"), Some(1000));
        assert_eq!(from_human_size("1.5MB"), Some(1_500_000));
        assert_eq!(from_human_size("10 KiB"), Some(10_000));
        assert_eq!(from_human_size("x"), None);
    }

    #[test]
    fn devices_parse() {
        let d = parse_device("/dev/null:/dev/mynull:r").unwrap();
        assert_eq!(
            (d.container.as_str(), d.perms.as_str()),
            ("/dev/mynull", "r")
        );
        let d = parse_device("/dev/null:rw").unwrap();
        assert_eq!(
            (d.container.as_str(), d.perms.as_str()),
            ("/dev/null", "rw")
        );
        assert_eq!(
            parse_device("/dev/nonexist").unwrap_err().to_string(),
            "stat /dev/nonexist: no such file or directory"
        );
        assert!(parse_device("/etc/passwd").is_err());
        assert!(parse_device("null").is_err());
    }
}
