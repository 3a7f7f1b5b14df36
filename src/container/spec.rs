//! From a [`Plan`] to the bundle's config.json, through the runtime's
//! podman-compatible spec builder.

use super::create::Plan;
use super::opts::Userns;
use super::record::MountRecord;
use crate::network::NetworkMode;
use crate::runtime::spec::{self, NetworkNs, SeccompMode, SpecRequest};
use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder, Mount, MountBuilder};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

fn oci_mount(dest: &str, typ: &str, source: &str, options: &[String]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.to_vec())
        .build()
        .with_context(|| format!("mount {dest}"))
}

fn user_mount(m: &MountRecord) -> Result<Mount> {
    let typ = match m.kind.as_str() {
        "tmpfs" => "tmpfs",
        "overlay" => "overlay",
        _ => "bind",
    };
    oci_mount(&m.destination, typ, &m.source, &m.options)
}

/// The paths the spec masks, after `--security-opt mask=/unmask=`.
fn masked_paths(mask: &[String], unmask: &[String]) -> Option<Vec<String>> {
    if mask.is_empty() && unmask.is_empty() {
        return None;
    }
    let mut v: Vec<String> = spec::MASKED_PATHS.iter().map(|s| s.to_string()).collect();
    if unmask.iter().any(|u| u == "ALL") {
        v.clear();
    } else {
        v.retain(|p| !unmask.contains(p));
    }
    v.extend(mask.iter().cloned());
    Some(v)
}

/// keep-id: the container's uid (default: yours) is you, and the rest of
/// rpod's namespace maps around it. Mappings are relative to rpod's user
/// namespace, where you are 0 and the subuids are 1..=65536.
fn keep_id_maps(uid: u32, gid: u32) -> Result<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)> {
    let around = |id: u32| -> Result<Vec<LinuxIdMapping>> {
        let size = 65536u32;
        let mut v = Vec::new();
        let m = |c: u32, h: u32, n: u32| {
            LinuxIdMappingBuilder::default()
                .container_id(c)
                .host_id(h)
                .size(n)
                .build()
        };
        // ids below `id` come from subids 1.., `id` is 0 (you), above from the rest.
        if id > 0 {
            v.push(m(0, 1, id.min(size))?);
        }
        v.push(m(id, 0, 1)?);
        if id < size {
            v.push(m(id + 1, id + 1, size - id)?);
        }
        Ok(v)
    };
    Ok((around(uid)?, around(gid)?))
}

/// The host id that is 0 in our user namespace (the user's own uid/gid);
/// `current` when we are not in one.
pub fn outer_id(map: &str, current: u32) -> u32 {
    let text = std::fs::read_to_string(map).unwrap_or_default();
    for line in text.lines() {
        let f: Vec<u32> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() == 3 && f[0] == 0 && f[2] != u32::MAX {
            return f[1];
        }
    }
    current
}

/// Write `dir/config.json` for `plan`.
pub fn write(dir: &Path, plan: &Plan) -> Result<()> {
    let mut mounts = Vec::new();
    for m in &plan.mounts {
        mounts.push(user_mount(m)?);
    }
    let ro = |ro: bool| -> Vec<String> {
        let mut o = vec!["rbind".to_string(), "rprivate".to_string()];
        o.push(if ro { "ro" } else { "rw" }.to_string());
        o
    };
    let mut extra = Vec::new();
    for (name, dest) in [
        ("hosts", "/etc/hosts"),
        ("hostname", "/etc/hostname"),
        ("resolv.conf", "/etc/resolv.conf"),
    ] {
        if dest == "/etc/hosts" && plan.more.no_hosts {
            continue; // --no-hosts: the image's /etc/hosts
        }
        if !plan.mounts.iter().any(|m| m.destination == dest) {
            let src = dir.join(name);
            extra.push(oci_mount(dest, "bind", &src.to_string_lossy(), &ro(false))?);
        }
    }
    if let Some(init) = &plan.init {
        extra.push(oci_mount(
            "/run/podman-init",
            "bind",
            &init.to_string_lossy(),
            &["bind".to_string(), "ro".to_string(), "rprivate".to_string()],
        )?);
    }
    let caps =
        crate::runtime::capabilities::resolve(&plan.cap_add, &plan.cap_drop, plan.privileged)?;
    let seccomp = match plan.security.seccomp.as_deref() {
        None => SeccompMode::Default,
        Some("unconfined") => SeccompMode::Unconfined,
        Some(p) => SeccompMode::Profile(p.into()),
    };
    let mut rlimits = Vec::new();
    for u in &plan.ulimits {
        rlimits.push(spec::parse_ulimit(u)?);
    }
    let user_namespace = match &plan.userns {
        Userns::KeepId { uid, gid } => {
            let uid = uid
                .unwrap_or_else(|| outer_id("/proc/self/uid_map", nix::unistd::getuid().as_raw()));
            let gid = gid
                .unwrap_or_else(|| outer_id("/proc/self/gid_map", nix::unistd::getgid().as_raw()));
            Some(keep_id_maps(uid, gid)?)
        }
        _ => super::more::id_maps(&plan.more)?,
    };
    let mut annotations = std::collections::HashMap::new();
    if plan.init.is_some() {
        annotations.insert("io.podman.annotations.init".to_string(), "TRUE".to_string());
    }
    let req = SpecRequest {
        args: plan.args.clone(),
        env: plan.env.clone(),
        cwd: plan.cwd.clone(),
        user: plan.user.clone(),
        hostname: plan.hostname.clone(),
        terminal: plan.tty,
        rootfs: "merged".into(),
        readonly_rootfs: plan.read_only,
        caps,
        cap_add: plan.cap_add.clone(),
        no_new_privileges: plan.security.no_new_privileges,
        seccomp,
        mounts,
        network: match plan.network {
            NetworkMode::Host => NetworkNs::Host,
            // The host's namespace can't be joined by path from a user
            // namespace; not unsharing one is the same thing.
            NetworkMode::Container(_) if plan.host_net => NetworkNs::Host,
            // network: a link the monitor points at the target's namespace.
            NetworkMode::Container(_) => {
                NetworkNs::Path(dir.join(crate::network::setup::NETNS_LINK))
            }
            _ => NetworkNs::New,
        },
        rlimits,
        annotations,
        masked_paths: masked_paths(&plan.security.mask, &plan.security.unmask),
        readonly_paths: None,
        privileged: plan.privileged,
        extra_mounts: extra,
        user_namespace,
    };
    let mut spec = spec::build(&req)?;
    if plan.pod_ns {
        join_pod_namespaces(&mut spec, dir)?;
    }
    if plan.host_net {
        // containers.conf's net.* defaults are skipped on the host's network,
        // also when it is joined through another container (a pod's infra).
        if let Some(linux) = spec.linux_mut() {
            if let Some(m) = linux.sysctl_mut() {
                m.retain(|k, _| !k.starts_with("net."));
            }
        }
    }
    if !plan.sysctls.is_empty() {
        let mut linux = spec.linux().clone().unwrap_or_default();
        let mut map = linux.sysctl().clone().unwrap_or_default();
        map.extend(plan.sysctls.iter().cloned());
        linux.set_sysctl(Some(map));
        spec.set_linux(Some(linux));
    }
    // Only what the container's own namespaces scope (runc's rule), at
    // create: `kernel.core_pattern` would change the host.
    crate::runtime::check_sysctls(&spec)?;
    super::more::apply_to_spec(&mut spec, &plan.more, &plan.ns)?;
    super::more::apply_extras(&mut spec, &plan.more, dir)?;
    let r = if plan.more.cgroups_disabled {
        None
    } else {
        super::more::merge_resources(resources(plan)?, &plan.more.resources)?
    };
    if let Some(r) = r {
        // The runtime applies them where a cgroup v2 subtree is delegated.
        let mut linux = spec.linux().clone().unwrap_or_default();
        linux.set_resources(Some(r));
        spec.set_linux(Some(linux));
    }
    let text = spec::to_json(&spec)?;
    let p = dir.join("config.json");
    std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
}

/// `--sysctl NAME=VALUE`, each at most once.
pub fn parse_sysctls(raw: &[String]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in raw {
        let Some((k, v)) = s.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            anyhow::bail!("invalid --sysctl {s:?}: expected NAME=VALUE");
        };
        out.retain(|(o, _)| o != k.trim());
        out.push((k.trim().to_string(), v.to_string()));
    }
    Ok(out)
}

/// `--memory`, `--cpus` and `--pids-limit` as the spec's linux.resources.
fn resources(plan: &Plan) -> Result<Option<oci_spec::runtime::LinuxResources>> {
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };
    if plan.memory.is_none() && plan.cpus.is_none() && plan.pids_limit.is_none() {
        return Ok(None);
    }
    let mut b = LinuxResourcesBuilder::default();
    if let Some(m) = plan.memory {
        b = b.memory(LinuxMemoryBuilder::default().limit(m).build()?);
    }
    if let Some(c) = plan.cpus {
        let period = 100_000u64;
        b = b.cpu(
            LinuxCpuBuilder::default()
                .period(period)
                .quota((c * period as f64) as i64)
                .build()?,
        );
    }
    if let Some(p) = plan.pids_limit {
        b = b.pids(LinuxPidsBuilder::default().limit(p).build()?);
    }
    Ok(Some(b.build()?))
}

/// Warn (once per process) that limits can't be applied here; never refuse.
pub fn warn_limits() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if let crate::runtime::cgroups::Support::Unsupported(why) = crate::runtime::cgroups::detect() {
        if !WARNED.swap(true, Ordering::Relaxed) {
            warn!("resource limits are not supported and ignored: {why}");
        }
    }
}

/// A pod member's ipc and uts namespaces are its infra's: linked in the
/// container's directory by the monitor (`network::setup::join_shared_userns`).
fn join_pod_namespaces(spec: &mut oci_spec::runtime::Spec, dir: &Path) -> Result<()> {
    use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType};
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut list = linux.namespaces().clone().unwrap_or_default();
    for ns in list.iter_mut() {
        let link = match ns.typ() {
            LinuxNamespaceType::Ipc => crate::network::setup::IPCNS_LINK,
            LinuxNamespaceType::Uts => crate::network::setup::UTSNS_LINK,
            _ => continue,
        };
        *ns = LinuxNamespaceBuilder::default()
            .typ(ns.typ())
            .path(dir.join(link))
            .build()?;
    }
    linux.set_namespaces(Some(list));
    spec.set_linux(Some(linux));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(masked_paths(&[], &[]), None);
        let m = masked_paths(&["/secret".into()], &["/proc/kcore".into()]).unwrap();
        assert!(m.contains(&"/secret".to_string()));
        assert!(!m.contains(&"/proc/kcore".to_string()));
        assert_eq!(
            masked_paths(&[], &["ALL".into()]).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn keep_id_maps_cover_the_range_once() {
        let (u, _) = keep_id_maps(1000, 1000).unwrap();
        let triples: Vec<_> = u
            .iter()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect();
        assert_eq!(
            triples,
            vec![(0, 1, 1000), (1000, 0, 1), (1001, 1001, 64536)]
        );
        let (u, _) = keep_id_maps(0, 0).unwrap();
        let triples: Vec<_> = u
            .iter()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect();
        assert_eq!(triples, vec![(0, 0, 1), (1, 1, 65536)]);
    }
}
