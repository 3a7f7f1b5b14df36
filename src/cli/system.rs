//! `version`, `info` and the top-level `inspect`: commands about rpod as a
//! whole rather than one concept.

use super::container::InspectArgs;
use super::format::Report;
use super::GlobalOpts;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;

const VERSION_TEXT: &str = "Version:      {{.Client.Version}}\n\
                            API Version:  {{.Client.APIVersion}}\n\
                            OCI runtime:  {{.Client.OCIRuntime}}\n\
                            OS/Arch:      {{.Client.OsArch}}";

/// `rpod version`: podman's Client object, as text, JSON or a Go template.
pub(super) fn version_cmd(a: &super::VersionArgs) -> Result<()> {
    let row = json!({ "Client": client_version() });
    match a.format.as_deref() {
        Some(f) if super::format::is_json(f) => Report::list(Some("json"), "")?.print_json(&row),
        Some(f) if !f.trim().is_empty() => Report::inspect(Some(f))?.print(&[row]),
        _ => Report::inspect(Some(VERSION_TEXT))?.print(&[row]),
    }
}

/// The first line of `BIN --version`, or None when it isn't installed.
/// The line of `--version` output that gives `name`'s version: tools print
/// their libraries' versions too (fuse-overlayfs starts with fusermount3's),
/// and some print only a usage line (newuidmap), which says nothing.
fn version_line(name: &str, text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .iter()
        .find(|l| l.contains(name) && l.contains("version"))
        .or_else(|| lines.iter().find(|l| l.contains("version")))
        .map(|l| l.to_string())
        .unwrap_or_default()
}

fn tool(name: &str) -> Value {
    match crate::userns::find_tool(name) {
        Ok(path) => {
            let version = std::process::Command::new(&path)
                .arg("--version")
                .stdin(std::process::Stdio::null())
                .output()
                .ok()
                .map(|o| version_line(name, &[o.stdout, o.stderr].concat()))
                .unwrap_or_default();
            json!({ "path": path, "version": version })
        }
        Err(_) => Value::Null,
    }
}

/// podman's idMappings: the user as 0, then the subordinate range from 1.
fn ranges_json(own: u32, r: &[crate::userns::IdRange]) -> Value {
    let mut v = vec![json!({ "container_id": 0, "host_id": own, "size": 1 })];
    let mut next = 1u64;
    for r in r {
        v.push(json!({ "container_id": next, "host_id": r.start, "size": r.count }));
        next += r.count as u64;
    }
    Value::Array(v)
}

/// What cgroups can do for a rootless user here (the runtime's own check).
fn cgroups_summary() -> Value {
    match crate::runtime::cgroups::detect() {
        crate::runtime::cgroups::Support::Delegated(dir) => json!({
            "version": "v2",
            "delegated": dir,
            "limits": "enforced",
        }),
        crate::runtime::cgroups::Support::Unsupported(why) => json!({
            "limits": "not enforced",
            "reason": why,
        }),
    }
}

/// podman's `host.security`, with where the built-in seccomp profile comes
/// from: rpod embeds containers/common's profile instead of reading
/// /usr/share/containers/seccomp.json, so the path is "(built-in)" and
/// `seccompProfileVersion` names the upstream file and commit.
fn security_summary(uid: u32) -> Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    json!({
        "apparmorEnabled": false,
        "capabilities": crate::runtime::capabilities::default_caps().join(","),
        "rootless": uid != 0,
        "seccompEnabled": status.lines().any(|l| l.starts_with("Seccomp:")),
        "seccompProfilePath": "(built-in)",
        "seccompProfileVersion": crate::runtime::seccomp::DEFAULT_PROFILE_VERSION,
        "seccompProfileDigest":
            format!("sha256:{}", crate::runtime::seccomp::DEFAULT_PROFILE_SHA256),
        "selinuxEnabled": false,
    })
}

/// `KEY: N kB` lines of /proc/meminfo, in bytes.
fn meminfo(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// podman's cpuUtilization: the shares of user, system and idle time since boot.
fn cpu_utilization() -> Value {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = f.iter().sum();
    let pct = |x: f64| {
        if total > 0.0 {
            (x / total * 10000.0).round() / 100.0
        } else {
            0.0
        }
    };
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0);
    json!({
        "userPercent": pct(at(0) + at(1)),
        "systemPercent": pct(at(2) + at(5) + at(6)),
        "idlePercent": pct(at(3)),
    })
}

/// podman's uptime text: "8h 43m 25.00s (Approximately 0.33 days)".
fn uptime() -> String {
    let secs: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let whole = secs as u64;
    format!(
        "{}h {}m {:.2}s (Approximately {:.2} days)",
        whole / 3600,
        whole % 3600 / 60,
        secs - (whole / 60 * 60) as f64,
        secs / 86400.0
    )
}

/// /etc/os-release's ID, VERSION_ID and VERSION_CODENAME.
fn distribution() -> Value {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    json!({
        "distribution": get("ID"),
        "version": get("VERSION_ID"),
        "codename": get("VERSION_CODENAME"),
    })
}

/// Containers by state, as podman's store.containerStore counts them.
fn container_counts(g: &GlobalOpts) -> Value {
    use crate::container::record;
    let (mut n, mut paused, mut running) = (0, 0, 0);
    if let Ok(paths) = record::Paths::new(&g.into()) {
        for id in record::list_ids(&paths).unwrap_or_default() {
            let st = record::observe(&paths, &id);
            n += 1;
            if st.is_paused() {
                paused += 1;
            } else if st.is_running() {
                running += 1;
            }
        }
    }
    json!({ "number": n, "paused": paused, "running": running, "stopped": n - paused - running })
}

/// The registries podman's info lists: each `[[registry]]` of a search
/// registry, and the search list.
fn registries_json(g: &GlobalOpts) -> Value {
    match crate::image::registries::RegistriesConf::load(&g.into()) {
        Ok(c) => {
            let mut m = serde_json::Map::new();
            for host in c.search_registries() {
                let r = c.registry(host);
                m.insert(
                    host.clone(),
                    json!({
                        "Prefix": host, "Location": r.location, "Insecure": r.insecure,
                        "PullFromMirror": "", "Mirrors": null, "Blocked": r.blocked,
                        "MirrorByDigestOnly": false,
                    }),
                );
            }
            m.insert("search".into(), json!(c.search_registries()));
            Value::Object(m)
        }
        Err(e) => json!({ "error": format!("{e:#}") }),
    }
}

/// `version`'s Client object, podman's fields with rpod's values: Version
/// is rpod's; APIVersion the podman release whose commands rpod speaks.
fn client_version() -> Value {
    json!({
        "APIVersion": PODMAN_API,
        "Version": env!("CARGO_PKG_VERSION"),
        "GoVersion": "",
        "GitCommit": "",
        "BuiltTime": "",
        "Built": 0,
        "OsArch": format!("linux/{}", crate::image::host_arch()),
        "Os": "linux",
        "OCIRuntime": "built in (rpod oci)",
    })
}

/// The podman release whose commands and outputs rpod follows.
const PODMAN_API: &str = "4.3.1";

/// podman's `info` object (its JSON keys), with rpod's true values; rpod's
/// own additions are `host.cgroups`, `host.rootless`, the seccomp profile's version and
/// digest, and `binaries`.
fn info_json(g: &GlobalOpts) -> Result<Value> {
    let store = crate::storage::Store::open(&g.into())?;
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let (uidmap, gidmap) = match crate::userns::own_ranges() {
        Ok((u, gr)) => (ranges_json(uid, &u), ranges_json(gid, &gr)),
        Err(e) => (json!(format!("{e:#}")), Value::Null),
    };
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let cgroups = cgroups_summary();
    let cgroup_version = match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "v2",
        _ => "v1",
    };
    let controllers: Vec<String> = match &cgroups["delegated"] {
        Value::String(d) => std::fs::read_to_string(format!("{d}/cgroup.controllers"))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    };
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rpod_version = format!("rpod version {}", env!("CARGO_PKG_VERSION"));
    let slirp = tool("slirp4netns");
    let (space, used) = match nix::sys::statvfs::statvfs(store.root()) {
        Ok(s) => {
            let f = s.fragment_size();
            (
                s.blocks() * f,
                s.blocks().saturating_sub(s.blocks_free()) * f,
            )
        }
        Err(_) => (0, 0),
    };
    let opts: crate::options::Options = g.into();
    Ok(json!({
        "host": {
            "arch": crate::image::host_arch(),
            "buildahVersion": "",
            "cgroupManager": "cgroupfs",
            "cgroupVersion": cgroup_version,
            "cgroupControllers": controllers,
            "cgroups": cgroups,
            "conmon": { "package": "", "path": exe, "version": rpod_version },
            "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "cpuUtilization": cpu_utilization(),
            "distribution": distribution(),
            "eventLogger": opts.events_backend.as_str(),
            "hostname": nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            "idMappings": { "gidmap": gidmap, "uidmap": uidmap },
            "kernel": kernel,
            "logDriver": "k8s-file",
            "memFree": meminfo("MemFree"),
            "memTotal": meminfo("MemTotal"),
            "networkBackend": "netavark",
            "ociRuntime": {
                "name": "rpod",
                "package": "",
                "path": exe,
                "version": format!("{rpod_version} (built-in OCI runtime)"),
            },
            "os": "linux",
            "remoteSocket": { "path": "" },
            // rpod's own, beside podman's security.rootless.
            "rootless": uid != 0,
            "serviceIsRemote": false,
            "security": security_summary(uid),
            "slirp4netns": {
                "executable": slirp["path"],
                "package": "",
                "version": slirp["version"],
            },
            "swapFree": meminfo("SwapFree"),
            "swapTotal": meminfo("SwapTotal"),
            "uptime": uptime(),
            "linkmode": "dynamic",
        },
        "store": {
            "configFile": crate::storage::conf::file(),
            "containerStore": container_counts(g),
            "graphDriverName": g.storage_driver.clone().unwrap_or_else(|| "overlay".into()),
            "graphOptions": graph_options(g),
            "graphRoot": store.root(),
            "graphRootAllocated": space,
            "graphRootUsed": used,
            "graphStatus": graph_status(store.root()),
            "imageCopyTmpDir": store.root().join("tmp"),
            "imageStore": { "number": store.images().map(|i| i.len()).unwrap_or(0) },
            "runRoot": store.runroot(),
            "volumePath": store.volumes_dir(),
        },
        "registries": registries_json(g),
        "plugins": {
            "volume": ["local"],
            "network": ["bridge"],
            "log": ["k8s-file"],
            "authorization": null,
        },
        "version": client_version(),
        "binaries": {
            "newuidmap": tool("newuidmap"),
            "newgidmap": tool("newgidmap"),
            "slirp4netns": slirp,
            "pasta": tool("pasta"),
            "fuse-overlayfs": tool("fuse-overlayfs"),
            "catatonit": tool("catatonit"),
        },
    }))
}

/// podman's graphOptions: the mount program fuse-overlayfs runs as.
fn graph_options(g: &GlobalOpts) -> Value {
    if g.storage_driver.as_deref() != Some("fuse-overlayfs") {
        return json!({});
    }
    let fuse = tool("fuse-overlayfs");
    let exe = crate::storage::conf::load()
        .ok()
        .and_then(|c| c.mount_program)
        .map(|p| json!(p))
        .unwrap_or_else(|| fuse["path"].clone());
    json!({ "overlay.mount_program": {
        "Executable": exe, "Package": "", "Version": fuse["version"],
    }})
}

/// podman's graphStatus: what the storage root sits on.
fn graph_status(root: &std::path::Path) -> Value {
    use nix::sys::statfs as sf;
    let fs = match sf::statfs(root).map(|s| s.filesystem_type()) {
        Ok(t) if t == sf::EXT4_SUPER_MAGIC => "extfs",
        Ok(t) if t == sf::XFS_SUPER_MAGIC => "xfs",
        Ok(t) if t == sf::BTRFS_SUPER_MAGIC => "btrfs",
        Ok(t) if t == sf::TMPFS_MAGIC => "tmpfs",
        Ok(t) if t == sf::OVERLAYFS_SUPER_MAGIC => "overlayfs",
        _ => "unknown",
    };
    json!({
        "Backing Filesystem": fs,
        "Native Overlay Diff": "false",
        "Supports d_type": "true",
        "Using metacopy": "false",
    })
}

/// The Go field name of one of info's JSON keys, for templates
/// (`{{.Host.OCIRuntime.Name}}` over `host.ociRuntime.name`).
fn go_field(key: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("cpus", "CPUs"),
        ("cpuUtilization", "CPUUtilization"),
        ("ociRuntime", "OCIRuntime"),
        ("idMappings", "IDMappings"),
        ("uidmap", "UIDMap"),
        ("gidmap", "GIDMap"),
        ("container_id", "ContainerID"),
        ("host_id", "HostID"),
        ("cgroupVersion", "CgroupsVersion"),
        ("slirp4netns", "Slirp4NetNS"),
        ("seccompEnabled", "SECCOMPEnabled"),
        ("seccompProfilePath", "SECCOMPProfilePath"),
        ("selinuxEnabled", "SELinuxEnabled"),
        ("apparmorEnabled", "AppArmorEnabled"),
        ("capabilities", "DefaultCapabilities"),
        ("os", "OS"),
    ];
    if let Some((_, n)) = NAMES.iter().find(|(k, _)| *k == key) {
        return n.to_string();
    }
    let mut c = key.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What info's templates see: the JSON with Go's field names, except inside
/// the maps whose keys are data (registries, graph options and status).
fn go_view(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let inner = match k.as_str() {
                        "registries" | "graphOptions" | "graphStatus" => v.clone(),
                        _ => go_view(v),
                    };
                    (go_field(k), inner)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(go_view).collect()),
        other => other.clone(),
    }
}

pub(super) fn info_cmd(g: &GlobalOpts, a: &super::InfoArgs) -> Result<()> {
    let info = info_json(g)?;
    match a.format.as_deref() {
        None | Some("yaml") | Some("") => {
            let mut y = String::new();
            yaml(&info, 0, &mut y);
            writeln!(std::io::stdout().lock(), "{}", y.trim_end())?;
            Ok(())
        }
        Some(f) if super::format::is_json(f) => Report::list(Some("json"), "")?.print_json(&info),
        Some(f) => {
            let mut view = go_view(&info);
            let f = json_args_to_original(f, &info);
            if let Value::Object(m) = &mut view {
                m.insert(ORIGINAL.into(), info);
            }
            Report::inspect(Some(&f))?.print(&[view])
        }
    }
}

/// Where info's templates find the JSON as podman prints it: `json` of a
/// value prints podman's JSON keys (`{{json .Host.OCIRuntime}}` gives
/// `{"name":…}`, as podman's json tags), while fields are named as Go's.
const ORIGINAL: &str = "RpodInfoJSON";

/// The template with each field path that `json` is applied to (`json
/// .Host.X`, `.Host.X | json`) pointing into [`ORIGINAL`] when it names
/// something there from the root; other paths (relative ones inside
/// `range`, say) stay as they are.
fn json_args_to_original(tmpl: &str, info: &Value) -> String {
    let mut out = String::with_capacity(tmpl.len());
    let mut rest = tmpl;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start + 2]);
        rest = &rest[start + 2..];
        let end = action_end(rest);
        out.push_str(&rewrite_action(&rest[..end], info));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Where the action that `s` begins ends (its `}}`, or the end), strings skipped.
fn action_end(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'`' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if q == b'"' && b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return i,
            _ => i += 1,
        }
    }
    b.len()
}

fn rewrite_action(a: &str, info: &Value) -> String {
    // Tokens as (start, end): strings, punctuation and words.
    let b = a.as_bytes();
    let mut toks: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'"' || c == b'`' {
            let s = i;
            i += 1;
            while i < b.len() && b[i] != c {
                i += if c == b'"' && b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            toks.push((s, i));
        } else if matches!(c, b'|' | b'(' | b')') {
            toks.push((i, i + 1));
            i += 1;
        } else {
            let s = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'|' | b'(' | b')')
            {
                i += 1;
            }
            toks.push((s, i));
        }
    }
    let text = |t: usize| &a[toks[t].0..toks[t].1];
    let mut out = String::new();
    let mut last = 0;
    for t in 0..toks.len() {
        let w = text(t);
        let Some(path) = w.strip_prefix('.') else {
            continue;
        };
        let after_json = t > 0 && text(t - 1) == "json";
        let piped_to_json = t + 2 < toks.len() && text(t + 1) == "|" && text(t + 2) == "json";
        if !(after_json || piped_to_json) {
            continue;
        }
        let comps: Vec<&str> = path.split('.').filter(|c| !c.is_empty()).collect();
        if let Some(keys) = original_path(info, &comps) {
            out.push_str(&a[last..toks[t].0]);
            out.push('.');
            out.push_str(ORIGINAL);
            for k in keys {
                out.push('.');
                out.push_str(&k);
            }
            last = toks[t].1;
        }
    }
    out.push_str(&a[last..]);
    out
}

/// The JSON keys of a path of Go field names (or of keys as they are).
fn original_path(info: &Value, comps: &[&str]) -> Option<Vec<String>> {
    let mut v = info;
    let mut keys = Vec::new();
    for c in comps {
        let m = v.as_object()?;
        let k = if m.contains_key(*c) {
            c.to_string()
        } else {
            m.keys().find(|k| go_field(k) == *c)?.clone()
        };
        v = &m[&k];
        keys.push(k);
    }
    Some(keys)
}

/// Block-style YAML for `info`, as podman prints it. Only what JSON holds:
/// maps, lists, strings, numbers, booleans and null.
fn yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::Object(o) if !o.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        yaml(v, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        yaml(v, indent, out);
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", yaml_scalar(v))),
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                match item {
                    Value::Object(o) if !o.is_empty() => {
                        let mut inner = String::new();
                        yaml(item, indent + 2, &mut inner);
                        // The first key goes on the dash's line.
                        out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", yaml_scalar(item))),
                }
            }
        }
        _ => out.push_str(&format!("{pad}{}\n", yaml_scalar(v))),
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        // JSON's quoting is valid YAML and keeps ':' and '#' harmless.
        Value::String(s) if s.is_empty() || s.contains([':', '#', '\'', '"', '\n']) => {
            serde_json::to_string(s).unwrap_or_default()
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `rpod inspect`: containers first, then images, as podman looks them up.
pub(super) fn inspect_cmd(g: &GlobalOpts, a: &InspectArgs) -> Result<()> {
    use crate::container::{inspect, record};
    let paths = record::Paths::new(&g.into())?;
    let store = crate::storage::Store::open(&g.into())?;
    let mut values = Vec::new();
    let mut missing = Vec::new();
    let names = super::ctr_views::with_latest(&paths, &a.names, a.latest)?;
    for name in &names {
        if a.kind != "image" {
            if let Ok(id) = record::resolve(&paths, name) {
                values.push(inspect::by_id(&paths, &id)?);
                continue;
            }
        }
        if a.kind != "container" {
            if let Some(rec) = store.find_image(name)? {
                values.push(crate::image::inspect_value(&store, &rec)?);
                continue;
            }
        }
        missing.push(name.as_str());
    }
    super::ctr_views::print_inspect(&values, a.format.as_deref())?;
    match missing.as_slice() {
        [] => Ok(()),
        names => bail!(
            "no such object: {}",
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines_name_the_tool() {
        let fuse = b"fusermount3 version: 3.14.0\nfuse-overlayfs: version 1.10\nFUSE library version 3.14.0\n";
        assert_eq!(
            version_line("fuse-overlayfs", fuse),
            "fuse-overlayfs: version 1.10"
        );
        assert_eq!(
            version_line("newuidmap", b"usage: newuidmap <pid> <uid> ...\n"),
            ""
        );
        assert_eq!(
            version_line("slirp4netns", b"slirp4netns version 1.2.0\ncommit: x\n"),
            "slirp4netns version 1.2.0"
        );
    }

    #[test]
    fn templates_see_gos_field_names() {
        let v = json!({
            "host": {"ociRuntime": {"name": "rpod"}, "cgroupVersion": "v1", "os": "linux",
                     "idMappings": {"uidmap": [{"container_id": 0, "host_id": 1000, "size": 1}]}},
            "registries": {"localhost:5000": {"Insecure": true}, "search": ["localhost:5000"]},
        });
        let g = go_view(&v);
        assert_eq!(g["Host"]["OCIRuntime"]["Name"], "rpod");
        assert_eq!(g["Host"]["CgroupsVersion"], "v1");
        assert_eq!(g["Host"]["OS"], "linux");
        assert_eq!(g["Host"]["IDMappings"]["UIDMap"][0]["HostID"], 1000);
        // Map keys that are data stay as they are.
        assert_eq!(g["Registries"]["localhost:5000"]["Insecure"], true);
        assert_eq!(g["Registries"]["search"][0], "localhost:5000");
    }

    #[test]
    fn json_of_a_field_prints_podmans_keys() {
        let v = json!({
            "host": {"ociRuntime": {"name": "rpod"}, "os": "linux"},
            "version": {"APIVersion": "4.3.1"},
        });
        let r = |t: &str| json_args_to_original(t, &v);
        assert_eq!(
            r("{{json .Host.OCIRuntime}}"),
            "{{json .RpodInfoJSON.host.ociRuntime}}"
        );
        assert_eq!(r("{{ .Host | json }}"), "{{ .RpodInfoJSON.host | json }}");
        assert_eq!(r("{{json .}}"), "{{json .RpodInfoJSON}}");
        assert_eq!(r("{{json .Version}}"), "{{json .RpodInfoJSON.version}}");
        // Not json's argument, a string, or not from the root: as it was.
        assert_eq!(
            r("{{.Host.OS}} {{json \".Host\"}}"),
            "{{.Host.OS}} {{json \".Host\"}}"
        );
        assert_eq!(
            r("{{range .Host.X}}{{json .Name}}{{end}}"),
            "{{range .Host.X}}{{json .Name}}{{end}}"
        );
    }

    #[test]
    fn yaml_nests_maps_and_lists() {
        let v = json!({"a": {"b": 1, "c": [{"d": "x:y", "e": true}], "f": []}, "g": ""});
        let mut out = String::new();
        yaml(&v, 0, &mut out);
        assert_eq!(
            out,
            "a:\n  b: 1\n  c:\n  - d: \"x:y\"\n    e: true\n  f: []\ng: \"\"\n"
        );
    }
}
