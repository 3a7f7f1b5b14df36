//! `version`, `info` and the top-level `inspect`: commands about rpod as a
//! whole rather than one concept.

use super::container::InspectArgs;
use super::format::Report;
use super::GlobalOpts;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;

/// `version`'s row: podman's `Client` object, whose fields its
/// `--format` templates name (`{{.Client.Version}}`).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct VersionRow {
    client: ClientVersion,
}

#[derive(serde::Serialize)]
struct ClientVersion {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "OCIRuntime")]
    oci_runtime: &'static str,
    #[serde(rename = "OsArch")]
    os_arch: String,
}

const VERSION_TEXT: &str = "Version:      {{.Client.Version}}\n\
                            OCI runtime:  {{.Client.OCIRuntime}}\n\
                            OS/Arch:      {{.Client.OsArch}}";

pub(super) fn version_cmd() -> Result<()> {
    let row = VersionRow {
        client: ClientVersion {
            version: env!("CARGO_PKG_VERSION"),
            oci_runtime: "built in (rpod oci)",
            os_arch: format!("linux/{}", crate::image::host_arch()),
        },
    };
    Report::list(Some(VERSION_TEXT), "")?.print(&[row])
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

fn ranges_json(r: &[crate::userns::IdRange]) -> Value {
    r.iter()
        .map(|r| json!({ "host_id": r.start, "size": r.count }))
        .collect()
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
        "rootless": uid != 0,
        "seccompEnabled": status.lines().any(|l| l.starts_with("Seccomp:")),
        "seccompProfilePath": "(built-in)",
        "seccompProfileVersion": crate::runtime::seccomp::DEFAULT_PROFILE_VERSION,
        "seccompProfileDigest":
            format!("sha256:{}", crate::runtime::seccomp::DEFAULT_PROFILE_SHA256),
    })
}

pub(super) fn info_cmd(g: &GlobalOpts, a: &super::InfoArgs) -> Result<()> {
    let store = crate::storage::Store::open(&g.into())?;
    let uid = nix::unistd::getuid().as_raw();
    let (uidmap, gidmap) = match crate::userns::own_ranges() {
        Ok((u, gr)) => (ranges_json(&u), ranges_json(&gr)),
        Err(e) => (json!(format!("{e:#}")), Value::Null),
    };
    let registries = match crate::image::registries::RegistriesConf::load(&g.into()) {
        Ok(c) => json!({
            "files": c.files(),
            "search": c.search_registries(),
        }),
        Err(e) => json!({ "error": format!("{e:#}") }),
    };
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let info = json!({
        "host": {
            "arch": crate::image::host_arch(),
            "os": "linux",
            "kernel": kernel,
            "rootless": uid != 0,
            "uid": uid,
            "idMappings": { "uidmap": uidmap, "gidmap": gidmap },
            "cgroups": cgroups_summary(),
            "security": security_summary(uid),
        },
        "store": {
            "graphRoot": store.root(),
            "runRoot": store.runroot(),
            "graphDriverName": g.storage_driver.clone().unwrap_or_else(|| "overlay".into()),
            "imageCount": store.images().map(|i| i.len()).unwrap_or(0),
        },
        "registries": registries,
        "binaries": {
            "newuidmap": tool("newuidmap"),
            "newgidmap": tool("newgidmap"),
            "slirp4netns": tool("slirp4netns"),
            "pasta": tool("pasta"),
            "fuse-overlayfs": tool("fuse-overlayfs"),
            "catatonit": tool("catatonit"),
        },
        "version": { "version": env!("CARGO_PKG_VERSION") },
    });
    if a.format == "json" {
        return Report::list(Some("json"), "")?.print_json(&info);
    }
    let mut y = String::new();
    yaml(&info, 0, &mut y);
    writeln!(std::io::stdout().lock(), "{}", y.trim_end())?;
    Ok(())
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
