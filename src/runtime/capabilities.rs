//! Capabilities: podman's default set, `--cap-add`/`--cap-drop`/`--privileged`
//! resolution, and applying a spec's five sets in the container init.
//!
//! Order in the init (as runc's finalizeNamespace): `drop_bounding` →
//! `keep_caps_across_setuid` → setgroups/setgid/setuid → `apply`.

use std::collections::HashSet;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

/// containers.conf `default_capabilities` as shipped with podman 4.3
/// (containers-common 0.50).
const PODMAN_DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// The default capability set, sorted: containers.conf's
/// `default_capabilities`, or podman's when it says nothing (or something
/// that is not a capability: `run` reports the file's errors).
pub fn default_caps() -> Vec<String> {
    let conf = crate::conf::Defaults::get()
        .ok()
        .and_then(|d| d.containers.default_capabilities.as_ref())
        .and_then(|v| {
            v.iter()
                .map(|c| canonical(c).ok())
                .collect::<Option<Vec<_>>>()
        });
    match conf {
        Some(v) => dedup_sorted(v),
        None => PODMAN_DEFAULT.iter().map(|s| s.to_string()).collect(),
    }
}

/// Every capability the running kernel knows (cap_last_cap); a user namespace's
/// root holds all of them, so this is what `--privileged` means rootless.
pub fn all_caps() -> Vec<String> {
    let set = caps::runtime::procfs_all_supported(None)
        .unwrap_or_else(|_| caps::runtime::thread_all_supported());
    let set = if set.is_empty() { caps::all() } else { set };
    sorted_names(&set)
}

fn sorted_names(set: &CapsHashSet) -> Vec<String> {
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

/// Canonical `CAP_X` for a user-given name (any case, with or without the
/// prefix), or "ALL". Unknown names are an error naming the capability.
pub fn canonical(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.eq_ignore_ascii_case("all") {
        return Ok("ALL".into());
    }
    let canon = caps::to_canonical(trimmed);
    Capability::from_str(&canon)
        .map(|c| c.to_string())
        .map_err(|_| anyhow::anyhow!("unknown capability {name:?}: not a Linux capability"))
}

/// `--cap-add`/`--cap-drop`/`--privileged` to the container's capability set,
/// sorted, as containers/common's MergeCapabilities does.
pub fn resolve(add: &[String], drop: &[String], privileged: bool) -> Result<Vec<String>> {
    let add: Vec<String> = add
        .iter()
        .map(|c| canonical(c).context("--cap-add"))
        .collect::<Result<_>>()?;
    let drop: Vec<String> = drop
        .iter()
        .map(|c| canonical(c).context("--cap-drop"))
        .collect::<Result<_>>()?;
    let all = all_caps();
    let add_all = add.iter().any(|c| c == "ALL");
    let drop_all = drop.iter().any(|c| c == "ALL");

    if drop_all {
        if add_all {
            bail!("--cap-add=ALL and --cap-drop=ALL together are not allowed");
        }
        // Only what was explicitly added survives.
        return Ok(dedup_sorted(add));
    }
    let (base, add) = if add_all || privileged {
        (all, if add_all { Vec::new() } else { add })
    } else {
        (default_caps(), add)
    };
    if !add_all {
        if let Some(c) = add.iter().find(|c| drop.contains(c)) {
            bail!("capability {c} cannot be both added (--cap-add) and dropped (--cap-drop)");
        }
    }
    let mut out: Vec<String> = base.into_iter().filter(|c| !drop.contains(c)).collect();
    out.extend(add);
    Ok(dedup_sorted(out))
}

fn dedup_sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The capabilities podman raises for a non-root user: only those asked for
/// with `--cap-add` (and still in the bounding set), never the defaults.
pub fn added_for_non_root(add: &[String], bounding: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for a in add {
        let c = canonical(a).context("--cap-add")?;
        if c == "ALL" {
            out.extend(bounding.iter().cloned());
        } else if bounding.contains(&c) {
            out.push(c);
        }
    }
    Ok(dedup_sorted(out))
}

/// Names to the oci-spec set (for config.json).
pub fn to_oci(names: &[String]) -> Result<oci_spec::runtime::Capabilities> {
    names
        .iter()
        .map(|n| {
            serde_json::from_value(serde_json::Value::String(n.clone()))
                .map_err(|_| anyhow::anyhow!("capability {n} is unknown to the OCI spec library"))
        })
        .collect()
}

fn to_caps(set: Option<&oci_spec::runtime::Capabilities>) -> Result<CapsHashSet> {
    let mut out = HashSet::new();
    for c in set.into_iter().flatten() {
        // serde gives the spec's "CAP_X" spelling (Display drops the prefix).
        let name = serde_json::to_value(c)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let canon = caps::to_canonical(&name);
        let cap = Capability::from_str(&canon)
            .map_err(|_| anyhow::anyhow!("config.json: unknown capability {name}"))?;
        out.insert(cap);
    }
    Ok(out)
}

/// Drop every capability not in the spec's bounding set. Needs CAP_SETPCAP,
/// so it runs before the uid change.
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep = to_caps(c.bounding().as_ref())?;
    for cap in caps::runtime::thread_all_supported() {
        if keep.contains(&cap) {
            continue;
        }
        // Already gone is fine: apply() calls this again after setuid.
        if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)
                .with_context(|| format!("dropping {cap} from the bounding set"))?;
        }
    }
    Ok(())
}

/// Called before changing uid so the permitted set survives it.
pub fn keep_caps_across_setuid() -> Result<()> {
    caps::securebits::set_keepcaps(true).context("prctl(PR_SET_KEEPCAPS)")
}

/// Apply in the container init just before execve (after the uid change):
/// bounding, then inheritable, effective, permitted, then ambient.
pub fn apply(c: &LinuxCapabilities) -> Result<()> {
    drop_bounding(c)?;
    caps::securebits::set_keepcaps(false).context("prctl(PR_SET_KEEPCAPS, 0)")?;
    let inheritable = to_caps(c.inheritable().as_ref())?;
    let effective = to_caps(c.effective().as_ref())?;
    let permitted = to_caps(c.permitted().as_ref())?;
    let ambient = to_caps(c.ambient().as_ref())?;
    // Inheritable first while CAP_SETPCAP may still be effective; effective
    // before permitted so effective is always a subset of permitted.
    caps::set(None, CapSet::Inheritable, &inheritable)
        .context("setting inheritable capabilities")?;
    caps::set(None, CapSet::Effective, &effective).context("setting effective capabilities")?;
    caps::set(None, CapSet::Permitted, &permitted).context("setting permitted capabilities")?;
    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).context("clearing ambient capabilities")?;
        for cap in &ambient {
            // As runc: an ambient cap missing from inheritable/permitted is
            // skipped, not fatal.
            if let Err(e) = caps::raise(None, CapSet::Ambient, *cap) {
                warn!("cannot raise ambient capability {cap}: {e}");
            }
        }
    } else if !ambient.is_empty() {
        warn!("the kernel has no ambient capabilities; ignoring them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_set_is_podmans() {
        let d = default_caps();
        assert_eq!(d.len(), 11);
        assert!(d.contains(&"CAP_NET_BIND_SERVICE".into()));
        assert!(!d.contains(&"CAP_NET_RAW".into()));
        assert!(!d.contains(&"CAP_AUDIT_WRITE".into()));
    }

    #[test]
    fn names_any_case_with_or_without_prefix() {
        assert_eq!(canonical("net_admin").unwrap(), "CAP_NET_ADMIN");
        assert_eq!(canonical("CAP_sys_admin").unwrap(), "CAP_SYS_ADMIN");
        assert_eq!(canonical("all").unwrap(), "ALL");
        let e = canonical("FOO_BAR").unwrap_err().to_string();
        assert!(e.contains("FOO_BAR"), "{e}");
    }

    #[test]
    fn add_and_drop() {
        let r = resolve(&s(&["net_admin"]), &s(&["chown"]), false).unwrap();
        assert!(r.contains(&"CAP_NET_ADMIN".into()));
        assert!(!r.contains(&"CAP_CHOWN".into()));
        assert_eq!(r.len(), 11);
        let mut sorted = r.clone();
        sorted.sort();
        assert_eq!(r, sorted);
    }

    #[test]
    fn all_and_privileged() {
        let all = all_caps();
        assert!(all.len() >= 38, "{all:?}");
        assert_eq!(resolve(&s(&["ALL"]), &[], false).unwrap(), all);
        assert_eq!(resolve(&[], &[], true).unwrap(), all);
        let r = resolve(&s(&["ALL"]), &s(&["sys_admin"]), false).unwrap();
        assert_eq!(r.len(), all.len() - 1);
        assert!(!r.contains(&"CAP_SYS_ADMIN".into()));
        assert_eq!(
            resolve(&s(&["kill"]), &s(&["all"]), false).unwrap(),
            s(&["CAP_KILL"])
        );
        assert!(resolve(&s(&["all"]), &s(&["all"]), false).is_err());
    }

    #[test]
    fn bad_names_and_conflicts() {
        let e = resolve(&s(&["CAP_NOPE"]), &[], false).unwrap_err();
        assert!(format!("{e:#}").contains("CAP_NOPE"), "{e:#}");
        let e = resolve(&[], &s(&["wat"]), false).unwrap_err();
        assert!(format!("{e:#}").contains("wat"));
        let e = resolve(&s(&["kill"]), &s(&["CAP_KILL"]), false).unwrap_err();
        assert!(e.to_string().contains("CAP_KILL"));
    }

    #[test]
    fn non_root_gets_only_added() {
        let b = resolve(&s(&["sys_admin"]), &[], false).unwrap();
        assert_eq!(
            added_for_non_root(&s(&["sys_admin"]), &b).unwrap(),
            s(&["CAP_SYS_ADMIN"])
        );
        assert!(added_for_non_root(&[], &b).unwrap().is_empty());
    }

    /// The init's sequence for a non-root user with one added cap, in a forked
    /// child: needs root (CI runs tests as root), skipped otherwise.
    #[test]
    fn apply_across_setuid() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not root; skipping");
            return;
        }
        let bounding = resolve(&s(&["net_raw"]), &[], false).unwrap();
        let raised = to_oci(&added_for_non_root(&s(&["net_raw"]), &bounding).unwrap()).unwrap();
        let c = oci_spec::runtime::LinuxCapabilitiesBuilder::default()
            .bounding(to_oci(&bounding).unwrap())
            .effective(raised.clone())
            .permitted(raised.clone())
            .inheritable(raised.clone())
            .ambient(raised)
            .build()
            .unwrap();
        let code = crate::sys::seccomp::run_in_child(move || {
            let step = || -> Result<()> {
                drop_bounding(&c)?;
                keep_caps_across_setuid()?;
                let id = nix::unistd::Uid::from_raw(4321);
                nix::unistd::setresuid(id, id, id)?;
                apply(&c)?;
                Ok(())
            };
            if step().is_err() {
                return 2;
            }
            let want: CapsHashSet = [Capability::CAP_NET_RAW].into_iter().collect();
            let ok = [
                CapSet::Effective,
                CapSet::Permitted,
                CapSet::Inheritable,
                CapSet::Ambient,
            ]
            .iter()
            .all(|set| caps::read(None, *set).ok() == Some(want.clone()));
            let bnd = caps::read(None, CapSet::Bounding).unwrap_or_default();
            let bnd_ok = bnd.len() == 12 && bnd.contains(&Capability::CAP_NET_RAW);
            if ok && bnd_ok {
                0
            } else {
                3
            }
        })
        .unwrap();
        assert_eq!(code, 0);
    }

    #[test]
    fn oci_round_trip() {
        let o = to_oci(&default_caps()).unwrap();
        assert_eq!(o.len(), 11);
        assert_eq!(to_caps(Some(&o)).unwrap().len(), 11);
    }
}
