//! Cgroups are optional for rootless containers. On cgroup v2 with a
//! subtree delegated to us we apply the spec's memory, cpu and pids limits;
//! anywhere else (cgroup v1 or hybrid, as on these machines, or v2 without
//! delegation) we say why not, and callers warn once and run anyway.

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
    }

    #[test]
    fn detect_never_panics_and_explains() {
        match detect() {
            Support::Delegated(p) => assert!(p.starts_with("/sys/fs/cgroup")),
            Support::Unsupported(why) => assert!(!why.is_empty()),
        }
    }
}
