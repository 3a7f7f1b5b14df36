//! `--user`/`--group-add` resolution against the image's /etc/passwd and
//! /etc/group, with the rules of runc's GetExecUser as podman uses them.

use anyhow::{bail, Result};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// What podman puts in `process.user.additionalGids`: the primary gid when a
    /// user was named, then `--group-add`, then the user's /etc/group memberships.
    pub additional_gids: Vec<u32>,
    /// HOME from the passwd entry; None when the user has no entry (podman then
    /// sets no HOME).
    pub home: Option<String>,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

// Same range runc accepts.
const MAX_ID: u64 = i32::MAX as u64;

fn parse_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>()
        .ok()
        .filter(|v| *v <= MAX_ID)
        .map(|v| v as u32)
}

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn lines(data: &[u8]) -> impl Iterator<Item = &str> {
    // Invalid UTF-8 lines are skipped rather than failing the whole file.
    data.split(|b| *b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn parse_passwd(data: &[u8]) -> Vec<PasswdEntry<'_>> {
    lines(data)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?,
                uid: parse_id(f.get(2)?)?,
                gid: parse_id(f.get(3)?)?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
        .collect()
}

fn parse_group(data: &[u8]) -> Vec<GroupEntry<'_>> {
    lines(data)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?,
                gid: parse_id(f.get(2)?)?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn numeric_id(s: &str, what: &str) -> Result<u32> {
    match parse_id(s) {
        Some(v) => Ok(v),
        None => bail!("{what} {s} is out of range (0-{MAX_ID})"),
    }
}

/// Resolve a podman `--user` ("", "name", "uid", "name:group", "uid:gid",
/// "uid:groupname") and `--group-add` entries against the image's files
/// (None = the file is missing).
pub fn resolve(
    user: &str,
    group_add: &[String],
    passwd: Option<&[u8]>,
    group: Option<&[u8]>,
) -> Result<ResolvedUser> {
    let user = user.trim();
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let users = passwd.map(parse_passwd).unwrap_or_default();
    let groups = group.map(parse_group).unwrap_or_default();

    let mut out = ResolvedUser::default();
    let matched = if user_arg.is_empty() {
        users.iter().find(|u| u.uid == 0)
    } else if is_numeric(user_arg) {
        let uid = numeric_id(user_arg, "uid")?;
        users.iter().find(|u| u.uid == uid)
    } else {
        users.iter().find(|u| u.name == user_arg)
    };
    match matched {
        Some(u) => {
            out.uid = u.uid;
            out.gid = u.gid;
            out.home = (!u.home.is_empty()).then(|| u.home.to_string());
        }
        None if user_arg.is_empty() => {}
        None if is_numeric(user_arg) => out.uid = numeric_id(user_arg, "uid")?,
        None => {
            let file = if passwd.is_some() {
                "no matching entries in /etc/passwd"
            } else {
                "the image has no /etc/passwd"
            };
            bail!("unable to find user {user_arg}: {file}");
        }
    }

    let mut sgids = Vec::new();
    match group_arg {
        Some("") => bail!("invalid --user {user:?}: empty group after ':'"),
        Some(g) if is_numeric(g) => {
            let gid = numeric_id(g, "gid")?;
            out.gid = gid; // numeric groups need no /etc/group entry
        }
        Some(g) => match groups.iter().find(|e| e.name == g) {
            Some(e) => out.gid = e.gid,
            None => {
                let file = if group.is_some() {
                    "no matching entries in /etc/group"
                } else {
                    "the image has no /etc/group"
                };
                bail!("unable to find group {g}: {file}");
            }
        },
        None => {
            // Supplementary groups only in the implicit form, as runc.
            if let Some(u) = matched {
                sgids = groups
                    .iter()
                    .filter(|e| e.members.contains(&u.name))
                    .map(|e| e.gid)
                    .collect();
            }
        }
    }

    let mut extra = Vec::new();
    if !user.is_empty() {
        extra.push(out.gid);
    }
    for g in group_add {
        let g = g.trim();
        if g == "keep-groups" {
            bail!("--group-add keep-groups is not supported by rpod");
        }
        if is_numeric(g) {
            extra.push(numeric_id(g, "--group-add gid")?);
        } else {
            match groups.iter().find(|e| e.name == g) {
                Some(e) => extra.push(e.gid),
                None => {
                    bail!("--group-add {g}: unable to find group {g} in the image's /etc/group")
                }
            }
        }
    }
    extra.extend(sgids);
    for g in extra {
        if !out.additional_gids.contains(&g) {
            out.additional_gids.push(g);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        short:x:2000:2000\n\
        broken line\n";
    const GROUP: &[u8] = b"root:x:0:\n\
        wheel:x:10:alice,root\n\
        alice:x:1000:\n\
        audio:x:29:bob, alice\n\
        nogroup:x:65534:\n";

    fn r(user: &str, add: &[&str]) -> Result<ResolvedUser> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve(user, &add, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn empty_is_root_with_its_groups() {
        let u = r("", &[]).unwrap();
        assert_eq!((u.uid, u.gid), (0, 0));
        assert_eq!(u.home.as_deref(), Some("/root"));
        // root is listed in wheel; no primary gid added for an unnamed user.
        assert_eq!(u.additional_gids, vec![10]);
    }

    #[test]
    fn by_name_and_by_uid() {
        let u = r("alice", &[]).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.home.as_deref(), Some("/home/alice"));
        assert_eq!(u.additional_gids, vec![1000, 10, 29]);
        let n = r("1000", &[]).unwrap();
        assert_eq!(n, u);
        let short = r("short", &[]).unwrap();
        assert_eq!((short.uid, short.gid, short.home), (2000, 2000, None));
        let nb = r("nobody", &[]).unwrap();
        assert_eq!(nb.additional_gids, vec![65534]);
    }

    #[test]
    fn explicit_group_has_no_memberships() {
        let u = r("alice:audio", &[]).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 29));
        assert_eq!(u.additional_gids, vec![29]);
        let u = r("daemon:0", &[]).unwrap();
        assert_eq!((u.uid, u.gid), (1, 0));
        let u = r("4242:4343", &[]).unwrap();
        assert_eq!((u.uid, u.gid, u.home.clone()), (4242, 4343, None));
        assert_eq!(u.additional_gids, vec![4343]);
        let u = r("1000:wheel", &["65534"]).unwrap();
        assert_eq!(u.additional_gids, vec![10, 65534]);
    }

    #[test]
    fn numeric_uid_not_in_passwd_gets_gid_0() {
        let u = r("4242", &[]).unwrap();
        assert_eq!((u.uid, u.gid), (4242, 0));
        assert_eq!(u.home, None);
        let u = resolve("123", &[], None, None).unwrap();
        assert_eq!((u.uid, u.gid), (123, 0));
    }

    #[test]
    fn group_add_names_and_numbers() {
        let u = r("alice:alice", &["wheel", "5", "10"]).unwrap();
        assert_eq!(u.additional_gids, vec![1000, 10, 5]);
        let e = r("", &["nosuch"]).unwrap_err().to_string();
        assert!(e.contains("nosuch") && e.contains("/etc/group"), "{e}");
    }

    #[test]
    fn errors_name_the_user_and_file() {
        let e = r("mallory", &[]).unwrap_err().to_string();
        assert!(e.contains("mallory") && e.contains("/etc/passwd"), "{e}");
        let e = resolve("mallory", &[], None, None).unwrap_err().to_string();
        assert!(e.contains("mallory") && e.contains("no /etc/passwd"), "{e}");
        let e = r("alice:nogrp", &[]).unwrap_err().to_string();
        assert!(e.contains("nogrp") && e.contains("/etc/group"), "{e}");
        assert!(r("alice:", &[]).is_err());
        let e = r("99999999999", &[]).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }
}
