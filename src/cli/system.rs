//! `version`, `info` and the top-level `inspect`: commands about rpod as a
//! whole rather than one concept.

use super::container::InspectArgs;
use super::GlobalOpts;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;

pub fn version_cmd() -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "Version:      {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "OCI runtime:  built in (rpod oci)")?;
    writeln!(out, "OS/Arch:      linux/{}", crate::image::host_arch())?;
    Ok(())
}

/// The first line of `BIN --version`, or None when it isn't installed.
fn tool(name: &str) -> Value {
    match crate::userns::find_tool(name) {
        Ok(path) => {
            let version = std::process::Command::new(&path)
                .arg("--version")
                .stdin(std::process::Stdio::null())
                .output()
                .ok()
                .map(|o| {
                    let text = if o.stdout.is_empty() {
                        o.stderr
                    } else {
                        o.stdout
                    };
                    String::from_utf8_lossy(&text)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
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

pub fn info_cmd(g: &GlobalOpts) -> Result<()> {
    let store = crate::storage::Store::open(g)?;
    let uid = nix::unistd::getuid().as_raw();
    let (uidmap, gidmap) = match crate::userns::own_ranges() {
        Ok((u, gr)) => (ranges_json(&u), ranges_json(&gr)),
        Err(e) => (json!(format!("{e:#}")), Value::Null),
    };
    let registries = match crate::image::registries::RegistriesConf::load(g) {
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
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&info)?
    )?;
    Ok(())
}

/// `rpod inspect`: containers first, then images, as podman looks them up.
pub fn inspect_cmd(g: &GlobalOpts, a: &InspectArgs) -> Result<()> {
    use crate::container::{inspect, record};
    let paths = record::Paths::new(g)?;
    let store = crate::storage::Store::open(g)?;
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in &a.names {
        if a.kind != "image" {
            if let Ok(id) = record::resolve(&paths, name) {
                let rec = record::load(&paths, &id)?;
                values.push(inspect::container_json(
                    &paths,
                    &rec,
                    &record::observe(&paths, &id),
                ));
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
    inspect::print(&values, a.format.as_deref())?;
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
