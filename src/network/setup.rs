//! Where the network modes meet the container lifecycle:
//! - [`check`]: validate a mode before anything is created;
//! - [`setup`]: the monitor's call between the runtime's create and start;
//! - [`join_shared_userns`]: for `container:NAME`, the monitor joins that
//!   container's user namespace (which owns the network namespace to share)
//!   instead of making a fresh one, and links `netns` in the container's
//!   directory to the namespace (config.json names that link).

use super::helper::Helper;
use super::{ports, slirp4netns, NetworkMode};
use crate::container::record::{self, Paths};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// The file in a container's directory that config.json names as the
/// network namespace to join, for `container:NAME`.
pub const NETNS_LINK: &str = "netns";
/// The same for a pod member's ipc and uts namespaces (its infra's).
pub const IPCNS_LINK: &str = "ipcns";
pub const UTSNS_LINK: &str = "utsns";

/// Validate a mode's options (before create).
pub fn check(mode: &NetworkMode) -> Result<()> {
    match mode {
        NetworkMode::Slirp4netns(o) => {
            let defaults = super::config::load()?.network_cmd_options;
            slirp4netns::parse_opts(&defaults, o).map(drop)
        }
        NetworkMode::Pasta(a) => super::pasta::args(a, &[], "/").map(drop),
        NetworkMode::Bridge(nets) => super::bridge::check_networks(nets),
        _ => Ok(()),
    }
}

/// Whether `-p`/`-P` mean anything for `mode`; podman warns and drops them
/// for modes that have no forwarder.
pub fn ports_apply(mode: &NetworkMode) -> bool {
    matches!(
        mode,
        NetworkMode::Slirp4netns(_) | NetworkMode::Pasta(_) | NetworkMode::Bridge(_)
    )
}

/// Start the helper for a created container whose init is `pid`; the
/// recorded `ports` (ps form) are published.
pub fn setup(
    mode: &NetworkMode,
    pid: i32,
    run_dir: &Path,
    recorded: &[String],
) -> Result<Option<Helper>> {
    let maps = ports::from_record(recorded);
    let t0 = std::time::Instant::now();
    let r = match mode {
        NetworkMode::Slirp4netns(o) => {
            let conf = super::config::load()?;
            let opts = slirp4netns::parse_opts(&conf.network_cmd_options, o)?;
            slirp4netns::start(&opts, conf.network_cmd_path.as_deref(), pid, run_dir, &maps)
                .map(Some)
        }
        NetworkMode::Pasta(a) => super::pasta::start(a, pid, run_dir, &maps).map(Some),
        _ => Ok(None),
    };
    if let Ok(Some(h)) = &r {
        debug!("{} ready in {:?}", h.name, t0.elapsed());
    }
    r
}

/// The pid of a running container's init, verified against its start time.
fn running_init(paths: &Paths, id: &str) -> Result<i32> {
    let st = record::observe(paths, id);
    if !st.is_running() || !st.init_alive() {
        let name = record::load(paths, id)
            .map(|r| r.name)
            .unwrap_or_else(|_| id.to_string());
        bail!("container {name} is not running: a container can only share the network of a running container");
    }
    Ok(st.pid)
}

/// Resolve `container:NAME` at create time to the target's full id.
pub fn resolve_container(paths: &Paths, mode: NetworkMode) -> Result<NetworkMode> {
    match mode {
        NetworkMode::Container(name) => {
            let id = record::resolve(paths, &name)
                .with_context(|| format!("--network container:{name}"))?;
            Ok(NetworkMode::Container(id))
        }
        m => Ok(m),
    }
}

/// For a `container:ID` container: join the target's user namespace (the
/// owner of its network namespace; the id maps are the same as rpod's own),
/// point `ctr_dir/netns` at its network namespace, and take its name files.
/// Must run single-threaded, before `userns::enter`.
///
/// For every other mode it puts the container's current name beside its
/// hostname in `/etc/hosts`, as podman lists both.
pub fn join_shared_userns(paths: &Paths, id: &str) -> Result<()> {
    let rec = record::load(paths, id)?;
    let NetworkMode::Container(target) = &rec.network else {
        let p = paths.ctr_dir(id).join("hosts");
        if let Ok(text) = std::fs::read_to_string(&p) {
            let named = super::names::add_name(&text, &rec.hostname, &rec.name);
            if named != text {
                // In place: a running container's bind mount shows this inode.
                std::fs::write(&p, named).with_context(|| format!("writing {}", p.display()))?;
            }
        }
        // network: a container on networks joins the rootless network namespace's user namespace.
        if matches!(rec.network, NetworkMode::Bridge(_)) {
            return super::bridge::join(paths, id);
        }
        return Ok(());
    };
    let pid = running_init(paths, target)?;
    let dir = paths.ctr_dir(id);
    for (name, ns) in [
        (NETNS_LINK, "net"),
        (IPCNS_LINK, "ipc"),
        (UTSNS_LINK, "uts"),
    ] {
        let link = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(format!("/proc/{pid}/ns/{ns}"), &tmp)
            .with_context(|| format!("linking {}", tmp.display()))?;
        std::fs::rename(&tmp, &link)
            .with_context(|| format!("renaming into {}", link.display()))?;
    }
    // Sharing a network namespace means sharing its resolvers and hosts, as podman does.
    let from = paths.ctr_dir(target);
    for f in ["hosts", "resolv.conf"] {
        if let Ok(text) = std::fs::read(from.join(f)) {
            record::write_atomic(&dir.join(f), &text, false)?;
        }
    }
    if nix::unistd::geteuid().is_root() {
        // Started by a command that already joined the target's namespace.
        let ours = std::fs::read_link("/proc/self/ns/user").ok();
        if ours.is_some() && ours == std::fs::read_link(format!("/proc/{pid}/ns/user")).ok() {
            return Ok(());
        }
        if crate::userns::in_child_userns() {
            bail!(
                "container {} shares the network of container {target}, so it must be started on its own (rpod start NAME)",
                rec.name
            );
        }
        return Ok(());
    }
    crate::sys::userns::join_userns_of(pid)
        .with_context(|| format!("joining the user namespace of container {target}"))?;
    crate::sys::userns::become_ns_root()
}

/// Enter rpod's user namespace for a command that will start containers:
/// for `--network container:NAME`, NAME's own (it owns the network
/// namespace to share; every rpod namespace has the same id maps, but only
/// the one that created a network namespace may hand it out); otherwise a
/// fresh one, as `userns::enter` makes.
pub fn enter_userns(g: &crate::options::Options, network: Option<&str>) -> Result<()> {
    let target = match network.map(|n| NetworkMode::parse(Some(n))) {
        Some(Ok(NetworkMode::Container(name))) => Some(name),
        Some(Ok(NetworkMode::Bridge(nets))) => {
            // A missing network fails before anything is started.
            super::bridge::check_networks(&nets)?;
            return enter_rootless(g);
        }
        _ => None,
    };
    enter_userns_of(g, target.as_deref())
}

/// The user namespace of the rootless network namespace (issue 14).
fn enter_rootless(g: &crate::options::Options) -> Result<()> {
    super::bridge::enter_for_command(&Paths::new(g)?)
}

/// [`enter_userns`] for `start`: the first container that shares another's
/// network decides.
pub fn enter_userns_for(g: &crate::options::Options, containers: &[String]) -> Result<()> {
    let mut target = None;
    if let Ok(paths) = Paths::new(g) {
        for c in containers {
            let rec = record::resolve(&paths, c).and_then(|id| record::load(&paths, &id));
            if let Ok(rec) = rec {
                if let NetworkMode::Container(t) = rec.network {
                    target = Some(t);
                    break;
                }
                if matches!(rec.network, NetworkMode::Bridge(_)) {
                    return enter_rootless(g);
                }
            }
        }
    }
    enter_userns_of(g, target.as_deref())
}

fn enter_userns_of(g: &crate::options::Options, target: Option<&str>) -> Result<()> {
    let Some(name) = target else {
        return crate::userns::enter();
    };
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let paths = Paths::new(g)?;
    let id =
        record::resolve(&paths, name).with_context(|| format!("--network container:{name}"))?;
    let pid = running_init(&paths, &id)?;
    crate::sys::userns::join_userns_of(pid)
        .with_context(|| format!("joining the user namespace of container {name}"))?;
    crate::sys::userns::become_ns_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_options() {
        assert!(check(&NetworkMode::Slirp4netns(vec!["mtu=1500".into()])).is_ok());
        assert!(check(&NetworkMode::Slirp4netns(vec!["bogus=1".into()])).is_err());
        assert!(check(&NetworkMode::Pasta(vec!["--netns".into()])).is_err());
        assert!(check(&NetworkMode::None).is_ok());
        assert!(ports_apply(&NetworkMode::Pasta(vec![])));
        assert!(!ports_apply(&NetworkMode::Host));
        // Published ports on user-defined networks (podman-compose's -p with --net).
        assert!(ports_apply(&NetworkMode::Bridge(vec![])));
    }
}
