//! Rootless identity: the user namespace mapped from /etc/subuid and
//! /etc/subgid through the setuid newuidmap/newgidmap.
//!
//! Every rpod process that needs to own files as other uids (unpacking layers,
//! running or removing containers) calls [`enter`] while it is still
//! single-threaded. It becomes uid 0 in a namespace mapped 0 -> the user and
//! 1..=N -> the user's subordinate range. The maps are the same for every
//! invocation, so ownership agrees between them, and no process is kept
//! running to hold the namespace (podman keeps a "pause" process; we don't).

use crate::error::Error;
use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const SUBUID_FILE: &str = "/etc/subuid";
pub const SUBGID_FILE: &str = "/etc/subgid";

/// One line of /etc/subuid or /etc/subgid that applies to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub start: u32,
    pub count: u32,
}

/// The ranges of `file` ("NAME_OR_UID:START:COUNT" lines) for this user.
pub fn parse_subids(text: &str, user: &str, uid: u32) -> Vec<IdRange> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let mut it = l.split(':');
            let who = it.next()?;
            let start = it.next()?.trim().parse().ok()?;
            let count = it.next()?.trim().parse().ok()?;
            (who == user || who.parse::<u32>().ok() == Some(uid))
                .then_some(IdRange { start, count })
        })
        .filter(|r| r.count > 0)
        .collect()
}

fn ranges_for(file: &str, user: &str, uid: u32) -> Result<Vec<IdRange>> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!("cannot find subordinate ids for user \"{user}\": reading {file}")
    })?;
    let r = parse_subids(&text, user, uid);
    if r.is_empty() {
        bail!(
            "no subordinate id ranges for user \"{user}\" in {file}: add a line such as \
             \"{user}:100000:65536\" (see subuid(5)); rootless containers need it"
        );
    }
    Ok(r)
}

/// The calling user's name, from the password database or $USER.
pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| uid.to_string())
}

/// Where the setuid helper lives, or a clear error naming the package.
pub fn find_tool(name: &str) -> Result<PathBuf> {
    // PATH only, as podman's LookPath: a user can point rpod at other helpers.
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("{name} not found: install the \"uidmap\" package (it provides newuidmap and newgidmap)")
        })
}

/// True when this process is already inside a user namespace other than
/// the initial one (its uid_map is not the identity over the whole range).
pub fn in_child_userns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false)
}

/// The mapping arguments for newuidmap/newgidmap: 0 -> id, 1.. -> ranges.
fn map_args(id: u32, ranges: &[IdRange]) -> Vec<String> {
    let mut args = vec!["0".to_string(), id.to_string(), "1".to_string()];
    let mut next = 1u64;
    for r in ranges {
        args.extend([next.to_string(), r.start.to_string(), r.count.to_string()]);
        next += u64::from(r.count);
    }
    args
}

/// Run newuidmap and/or newgidmap for `pid`, side by side: each is a setuid
/// exec of a millisecond or two, on the path of every `rpod run`.
fn run_map_tools(pid: i32, jobs: &[(&str, Vec<String>)]) -> Result<()> {
    let mut running = Vec::new();
    for (tool, args) in jobs {
        let bin = find_tool(tool)?;
        let child = Command::new(&bin)
            .arg(pid.to_string())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", bin.display()));
        running.push((tool, args, child));
    }
    let mut first_err = None;
    for (tool, args, child) in running {
        let res = child.and_then(|c| {
            let out = c.wait_with_output()?;
            if !out.status.success() {
                bail!(
                    "{tool} {pid} {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(())
        });
        if let Err(e) = res {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// The id maps rpod uses for the calling user, as (uid ranges, gid ranges).
pub fn own_ranges() -> Result<(Vec<IdRange>, Vec<IdRange>)> {
    let uid = nix::unistd::getuid().as_raw();
    let user = user_name(uid);
    Ok((
        ranges_for(SUBUID_FILE, &user, uid)?,
        ranges_for(SUBGID_FILE, &user, uid)?,
    ))
}

/// Become uid 0 in rpod's user namespace. Idempotent; a no-op for root.
/// Must run before any thread is started (setns refuses threaded callers).
pub fn enter() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let (uids, gids) = own_ranges()?;
    // Find both tools before forking, so a missing package is the error.
    find_tool("newuidmap")?;
    find_tool("newgidmap")?;
    let child = crate::sys::userns::park_child_in_new_userns()?;
    let mapped = run_map_tools(
        child.pid,
        &[
            ("newuidmap", map_args(uid, &uids)),
            ("newgidmap", map_args(gid, &gids)),
        ],
    )
    .and_then(|_| crate::sys::userns::join_userns_of(child.pid));
    child.release_and_reap();
    mapped.context("entering rpod's user namespace")?;
    crate::sys::userns::become_ns_root()
}

/// Write the id maps of a child `pid` that created its own user namespace
/// (for bundles whose spec asks for one), through newuidmap/newgidmap.
/// Maps are "container_id host_id size" triples in the caller's view.
pub fn map_ids(pid: i32, uid_maps: &[(u32, u32, u32)], gid_maps: &[(u32, u32, u32)]) -> Result<()> {
    let flat = |m: &[(u32, u32, u32)]| -> Vec<String> {
        m.iter()
            .flat_map(|(c, h, n)| [c.to_string(), h.to_string(), n.to_string()])
            .collect()
    };
    run_map_tools(
        pid,
        &[("newuidmap", flat(uid_maps)), ("newgidmap", flat(gid_maps))],
    )
}

/// Give this process a mount namespace of its own (it must already be root
/// in rpod's user namespace): mounts made in it die with its last process,
/// even on kill -9, and never propagate to the host.
pub fn private_mount_ns() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .context("creating a private mount namespace")?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making / private in the new mount namespace")
}

/// `rpod unshare`: replace this process with `argv` (not empty), run as
/// root in rpod's user namespace with a private mount namespace, so
/// `rpod mount` can be used inside. Returns only on failure: entering the
/// namespaces, or the exec ([`Error::CommandNotFound`] when there is no such
/// program, [`Error::CannotInvoke`] when it can't be run).
pub fn unshare(argv: &[String]) -> Result<std::convert::Infallible> {
    let uid = nix::unistd::getuid().as_raw();
    enter()?;
    private_mount_ns()?;
    let error = Command::new(&argv[0])
        .args(&argv[1..])
        .env("_CONTAINERS_USERNS_CONFIGURED", "done")
        .env("_CONTAINERS_ROOTLESS_UID", uid.to_string())
        .exec();
    let msg = format!("{}: {error}", argv[0]);
    Err(if error.kind() == std::io::ErrorKind::NotFound {
        Error::CommandNotFound(msg)
    } else {
        Error::CannotInvoke(msg)
    }
    .into())
}

/// Whether a path is owned by someone we can reach only inside the namespace.
#[allow(dead_code)]
pub fn needs_userns(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .map(|m| m.uid() != nix::unistd::getuid().as_raw())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_lines_match_by_name_or_uid() {
        let text = "# comment\nalice:100000:65536\nbob:165536:65536\n1001:300000:10\nbad line\n";
        assert_eq!(
            parse_subids(text, "alice", 1000),
            vec![IdRange {
                start: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            parse_subids(text, "carol", 1001),
            vec![IdRange {
                start: 300000,
                count: 10
            }]
        );
        assert!(parse_subids(text, "dave", 1002).is_empty());
    }

    #[test]
    fn map_args_put_the_user_at_zero_and_ranges_after() {
        let r = [
            IdRange {
                start: 100000,
                count: 65536,
            },
            IdRange {
                start: 500000,
                count: 10,
            },
        ];
        assert_eq!(
            map_args(1000, &r),
            ["0", "1000", "1", "1", "100000", "65536", "65537", "500000", "10"]
        );
    }

    #[test]
    fn missing_subuid_entry_names_the_file_and_user() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("subuid");
        std::fs::write(&f, "someone:1:2\n").unwrap();
        let e = ranges_for(f.to_str().unwrap(), "nobody-here", 4242).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("nobody-here") && msg.contains(f.to_str().unwrap()),
            "{msg}"
        );
    }
}
