//! `top`: the processes of a running (or paused) container, read from the
//! host's /proc, with podman's (psgo's) format descriptors: ps(1)'s AIX
//! ones (`pid user comm args etime tty time pcpu vsz ppid group nice pgid
//! ruser rgroup`, also as `%p %U %c %a %t %y %x %C %z %P %G %n %r %u %g`)
//! and its extensions (`hpid huser hgroup rss state stime capamb capinh
//! capprm capeff capbnd seccomp label`). Values are the container's view
//! (namespace pids, ids through its user namespace's maps), `h*` the host's.
//! Any other descriptor runs ps(1) inside the container instead, as podman
//! does ([`top_ps`]).

use super::record::{self, Paths};
use crate::options::Options;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// One `top` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopDescriptor {
    User,
    Pid,
    Ppid,
    /// pcpu or %cpu.
    Pcpu,
    Etime,
    Tty,
    Time,
    Args,
    Comm,
    Hpid,
    Huser,
    Group,
    Nice,
    Vsz,
    Rss,
    Pgid,
    Ruser,
    Rgroup,
    Hgroup,
    State,
    Stime,
    Capamb,
    Capinh,
    Capprm,
    Capeff,
    Capbnd,
    Seccomp,
    Label,
}

impl TopDescriptor {
    /// The columns `top` shows without descriptors.
    pub const DEFAULT: [TopDescriptor; 8] = [
        TopDescriptor::User,
        TopDescriptor::Pid,
        TopDescriptor::Ppid,
        TopDescriptor::Pcpu,
        TopDescriptor::Etime,
        TopDescriptor::Tty,
        TopDescriptor::Time,
        TopDescriptor::Args,
    ];

    /// A descriptor by psgo's name or AIX code (None: unknown).
    pub fn parse(s: &str) -> Option<TopDescriptor> {
        use TopDescriptor as D;
        Some(match s {
            "user" | "%U" => D::User,
            "pid" | "%p" => D::Pid,
            "ppid" | "%P" => D::Ppid,
            "pcpu" | "%cpu" | "%C" => D::Pcpu,
            "etime" | "%t" => D::Etime,
            "tty" | "%y" => D::Tty,
            "time" | "%x" => D::Time,
            "args" | "%a" => D::Args,
            "comm" | "%c" => D::Comm,
            "hpid" => D::Hpid,
            "huser" => D::Huser,
            "group" | "%G" => D::Group,
            "nice" | "%n" => D::Nice,
            "vsz" | "%z" => D::Vsz,
            "rss" => D::Rss,
            "pgid" | "%r" => D::Pgid,
            "ruser" | "%u" => D::Ruser,
            "rgroup" | "%g" => D::Rgroup,
            "hgroup" => D::Hgroup,
            "state" => D::State,
            "stime" => D::Stime,
            "capamb" => D::Capamb,
            "capinh" => D::Capinh,
            "capprm" => D::Capprm,
            "capeff" => D::Capeff,
            "capbnd" => D::Capbnd,
            "seccomp" => D::Seccomp,
            "label" => D::Label,
            _ => return None,
        })
    }

    /// The descriptor names, for error messages.
    pub const NAMES: &'static str = "args, capamb, capbnd, capeff, capinh, capprm, comm, etime, \
        group, hgroup, hpid, huser, label, nice, pcpu, pgid, pid, ppid, rgroup, rss, ruser, \
        seccomp, state, stime, time, tty, user, vsz";

    /// psgo's column header.
    pub fn header(self) -> &'static str {
        use TopDescriptor as D;
        match self {
            D::User => "USER",
            D::Pid => "PID",
            D::Ppid => "PPID",
            D::Pcpu => "%CPU",
            D::Etime => "ELAPSED",
            D::Tty => "TTY",
            D::Time => "TIME",
            D::Args | D::Comm => "COMMAND",
            D::Hpid => "HPID",
            D::Huser => "HUSER",
            D::Group => "GROUP",
            D::Nice => "NI",
            D::Vsz => "VSZ",
            D::Rss => "RSS",
            D::Pgid => "PGID",
            D::Ruser => "RUSER",
            D::Rgroup => "RGROUP",
            D::Hgroup => "HGROUP",
            D::State => "STATE",
            D::Stime => "STIME",
            D::Capamb => "AMBIENT CAPS",
            D::Capinh => "INHERITED CAPS",
            D::Capprm => "PERMITTED CAPS",
            D::Capeff => "EFFECTIVE CAPS",
            D::Capbnd => "BOUNDING CAPS",
            D::Seccomp => "SECCOMP",
            D::Label => "LABEL",
        }
    }
}

/// A running container whose processes `top` lists.
pub struct TopTarget {
    id: String,
    st: record::State,
    state_root: PathBuf,
}

/// The running container `name` names.
pub fn top_target(g: &Options, name: &str) -> Result<TopTarget> {
    let paths = Paths::new(g)?;
    let id = record::resolve(&paths, name)?;
    let st = record::observe(&paths, &id);
    if !st.is_running() {
        return Err(crate::Error::ContainerState(
            "top can only be used on running containers".into(),
        )
        .into());
    }
    let state_root = paths.run_dir(&id).join("runtime");
    Ok(TopTarget { id, st, state_root })
}

/// psgo's capability set: "full", "none", or the names without `CAP_`,
/// sorted and comma-separated.
pub fn cap_names(hex: &str) -> String {
    let Ok(mask) = u64::from_str_radix(hex.trim(), 16) else {
        return "?".into();
    };
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    let full = if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    if mask == 0 {
        return "none".into();
    }
    if mask == full {
        return "full".into();
    }
    let mut names: Vec<String> = caps::all()
        .into_iter()
        .filter(|c| mask & c.bitmask() != 0)
        .map(|c| c.to_string().trim_start_matches("CAP_").to_string())
        .collect();
    names.sort();
    names.join(",")
}

fn seccomp_mode(v: &str) -> &'static str {
    match v {
        "0" => "disabled",
        "1" => "strict",
        "2" => "filter",
        _ => "?",
    }
}

/// Go's `time.Time.String()` in UTC: "2019-12-09 10:50:36.12 +0000 UTC".
fn go_time_utc(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::time::civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    if frac > 0 {
        s.push_str(format!(".{frac:09}").trim_end_matches('0'));
    }
    s + " +0000 UTC"
}

/// The container's processes: one row per process, one value per descriptor.
pub fn top(t: &TopTarget, descs: &[TopDescriptor]) -> Vec<Vec<String>> {
    let (id, st, state_root) = (&t.id, &t.st, &t.state_root);
    let pids = crate::runtime::ps(state_root, id).unwrap_or_else(|_| vec![st.pid]);
    let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as i64;
    let btime: i64 = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    let now = crate::time::now_ns();
    // Host ids to the container's, through the init's maps as we see them.
    let map = |file: &str, host: &str| -> String {
        let Ok(h) = host.parse::<u64>() else {
            return host.to_string();
        };
        let text = std::fs::read_to_string(format!("/proc/{}/{file}", st.pid)).unwrap_or_default();
        for l in text.lines() {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if f.len() == 3 && h >= f[1] && h < f[1] + f[2] {
                return (f[0] + h - f[1]).to_string();
            }
        }
        host.to_string()
    };
    // A host pid to the container's (its NSpid), or "0" outside it.
    let ns_pid = |p: i64| -> String {
        if p <= 0 || !pids.contains(&(p as i32)) {
            return "0".into();
        }
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("NSpid:"))
                    .map(|v| v.split_whitespace().last().unwrap_or("0").to_string())
            })
            .unwrap_or_else(|| "0".into())
    };
    let name_of = |id: &str| {
        if id == "0" {
            "root".to_string()
        } else {
            id.to_string()
        }
    };
    let mut rows = Vec::new();
    for &pid in &pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let close = stat.rfind(')').unwrap_or(0);
        let comm = stat
            .get(stat.find('(').map(|i| i + 1).unwrap_or(0)..close)
            .unwrap_or("");
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let first = |k: &str| field(k).first().cloned().unwrap_or_default();
        let nspid = field("NSpid:")
            .last()
            .cloned()
            .unwrap_or_else(|| pid.to_string());
        let uids = field("Uid:");
        let gids = field("Gid:");
        let id_at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
        let cpu_ns = (num(11) + num(12)) * 1_000_000_000 / tick;
        let start_ns = btime * 1_000_000_000 + num(19) * 1_000_000_000 / tick;
        let elapsed_ns = (now - start_ns).max(0);
        let args = if cmdline.is_empty() {
            format!("[{comm}]")
        } else {
            String::from_utf8_lossy(&cmdline)
                .trim_end_matches('\0')
                .replace('\0', " ")
        };
        let tty_nr = num(4);
        let row: Vec<String> = descs
            .iter()
            .map(|d| match d {
                TopDescriptor::User => name_of(&map("uid_map", &id_at(&uids, 1))),
                TopDescriptor::Ruser => name_of(&map("uid_map", &id_at(&uids, 0))),
                TopDescriptor::Group => name_of(&map("gid_map", &id_at(&gids, 1))),
                TopDescriptor::Rgroup => name_of(&map("gid_map", &id_at(&gids, 0))),
                TopDescriptor::Huser => {
                    let h = id_at(&uids, 1);
                    h.parse::<u32>()
                        .ok()
                        .and_then(|u| nix::unistd::User::from_uid(u.into()).ok().flatten())
                        .map(|u| u.name)
                        .unwrap_or(h)
                }
                TopDescriptor::Hgroup => {
                    let h = id_at(&gids, 1);
                    h.parse::<u32>()
                        .ok()
                        .and_then(|g| nix::unistd::Group::from_gid(g.into()).ok().flatten())
                        .map(|g| g.name)
                        .unwrap_or(h)
                }
                TopDescriptor::Pid => nspid.clone(),
                TopDescriptor::Hpid => pid.to_string(),
                TopDescriptor::Ppid => ns_pid(num(1)),
                TopDescriptor::Pgid => ns_pid(num(2)),
                TopDescriptor::Pcpu => format!(
                    "{:.3}",
                    if elapsed_ns > 0 {
                        cpu_ns as f64 * 100.0 / elapsed_ns as f64
                    } else {
                        0.0
                    }
                ),
                TopDescriptor::Etime => crate::time::go_duration(elapsed_ns as u64),
                TopDescriptor::Time => crate::time::go_duration(cpu_ns.max(0) as u64),
                TopDescriptor::Stime => go_time_utc(start_ns),
                TopDescriptor::Tty => {
                    if tty_nr == 0 {
                        "?".into()
                    } else {
                        format!("pts/{}", (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00))
                    }
                }
                TopDescriptor::Args => args.clone(),
                TopDescriptor::Comm => comm.to_string(),
                TopDescriptor::Nice => num(16).to_string(),
                TopDescriptor::Vsz => (num(20) / 1024).to_string(),
                TopDescriptor::Rss => {
                    let r = first("VmRSS:");
                    if r.is_empty() {
                        "0".into()
                    } else {
                        r
                    }
                }
                TopDescriptor::State => f.first().copied().unwrap_or("?").to_string(),
                TopDescriptor::Capamb => cap_names(&first("CapAmb:")),
                TopDescriptor::Capinh => cap_names(&first("CapInh:")),
                TopDescriptor::Capprm => cap_names(&first("CapPrm:")),
                TopDescriptor::Capeff => cap_names(&first("CapEff:")),
                TopDescriptor::Capbnd => cap_names(&first("CapBnd:")),
                TopDescriptor::Seccomp => seccomp_mode(&first("Seccomp:")).to_string(),
                TopDescriptor::Label => {
                    std::fs::read_to_string(format!("/proc/{pid}/attr/current"))
                        .ok()
                        .map(|s| s.trim_end_matches(['\0', '\n']).to_string())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "?".into())
                }
            })
            .collect();
        rows.push(row);
    }
    rows
}

/// podman's fallback when a descriptor is none of psgo's (`top C aux`,
/// `top C -ef`): ps(1) run inside the container with those arguments, as
/// an exec session; its output lines, without the line of that ps itself.
/// The image must have a `ps`. The caller has re-executed rpod from a
/// sealed copy (see `sys::exe::reexec_sealed`), as `exec` does.
pub fn top_ps(g: &Options, name: &str, args: &[String]) -> Result<Vec<String>> {
    use anyhow::Context;
    use std::io::Read;
    let paths = Paths::new(g)?;
    let id = record::resolve(&paths, name)?;
    let st = record::observe(&paths, &id);
    if !st.is_running() || st.is_paused() {
        return Err(crate::Error::ContainerState(
            "can only create exec sessions on running containers".into(),
        )
        .into());
    }
    let cfg_path = paths.ctr_dir(&id).join("config.json");
    let spec: oci_spec::runtime::Spec = serde_json::from_slice(
        &std::fs::read(&cfg_path).with_context(|| format!("reading {}", cfg_path.display()))?,
    )
    .with_context(|| format!("parsing {}", cfg_path.display()))?;
    let mut p = spec
        .process()
        .clone()
        .context("config.json has no process")?;
    let mut argv = vec!["ps".to_string()];
    argv.extend(args.iter().cloned());
    p.set_args(Some(argv));
    p.set_terminal(Some(false));
    let (r, w) = nix::unistd::pipe().context("creating a pipe for ps(1)")?;
    let stdio = crate::runtime::Stdio {
        stdin: Some(std::fs::File::open("/dev/null")?.into()),
        stdout: Some(w.try_clone()?),
        stderr: Some(w),
    };
    let state_root = paths.run_dir(&id).join("runtime");
    let pid = crate::runtime::exec(
        &state_root,
        &id,
        &p,
        stdio,
        crate::runtime::Console::None,
        false,
    )
    .context("executing ps(1) in the container")?;
    let mut out = Vec::new();
    let _ = std::fs::File::from(r).read_to_end(&mut out);
    let code = loop {
        use nix::sys::wait::{waitpid, WaitStatus};
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting for ps(1)"),
        }
    };
    let text = String::from_utf8_lossy(&out);
    if code != 0 {
        bail!(
            "executing ps(1) in the container: ps(1) failed with exit code {code}: {}",
            text.trim()
        );
    }
    // Trick (podman's): drop the ps process's own line.
    let own = args.join(" ");
    Ok(text
        .lines()
        .filter(|l| !l.contains(&own))
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_and_codes() {
        assert_eq!(TopDescriptor::parse("%C"), Some(TopDescriptor::Pcpu));
        assert_eq!(TopDescriptor::parse("capeff"), Some(TopDescriptor::Capeff));
        assert_eq!(TopDescriptor::Capeff.header(), "EFFECTIVE CAPS");
        assert_eq!(TopDescriptor::parse("bogus"), None);
    }

    #[test]
    fn capability_sets() {
        assert_eq!(cap_names("0000000000000000"), "none");
        assert_eq!(cap_names("0000000000000401"), "CHOWN,NET_BIND_SERVICE");
        assert_eq!(cap_names("zz"), "?");
    }

    #[test]
    fn start_times_as_go_prints_them() {
        assert_eq!(
            go_time_utc(1_575_888_636_500_000_000),
            "2019-12-09 10:50:36.5 +0000 UTC"
        );
        assert_eq!(go_time_utc(0), "1970-01-01 00:00:00 +0000 UTC");
    }
}
