//! The commands that look at containers (`ps`, `inspect`, `logs`, `top`)
//! and `exec`: their flags mapped onto the library's options, and what the
//! library returns printed as podman prints it (tables, templates, JSON).

use super::container::{ExecArgs, InspectArgs, LogsArgs, PsArgs, TopArgs};
use super::format::{self, Report};
use super::GlobalOpts;
use crate::container::exec::{self, ExecOptions, TopDescriptor};
use crate::container::inspect;
use crate::container::logs::{self, LogsOptions};
use crate::container::ps::{self, ContainerSummary, Filter, PsOptions, StatusFilter};
use crate::container::record::{ContainerRecord, Paths, State, Status};
use crate::time;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::Write;

// ---- ps ----

/// podman's STATUS column.
fn status_text(st: &State, now: i64) -> String {
    match st.status {
        Status::Created => "Created".into(),
        Status::Initialized => "Initialized".into(),
        Status::Paused => "Paused".into(),
        Status::Running | Status::Stopping => format!("Up {}", time::since(st.started_at, now)),
        Status::Exited => {
            if st.finished_at > 0 {
                format!(
                    "Exited ({}) {} ago",
                    st.exit_code,
                    time::since(st.finished_at, now)
                )
            } else {
                format!("Exited ({})", st.exit_code)
            }
        }
    }
}

fn command_text(rec: &ContainerRecord, no_trunc: bool) -> String {
    let c = rec.command.join(" ");
    if no_trunc || c.chars().count() <= 20 {
        c
    } else {
        let short: String = c.chars().take(17).collect();
        format!("{short}...")
    }
}

fn parse_filter(s: &str) -> Result<Filter> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("invalid filter {s:?}: expected KEY=VALUE"))?;
    Ok(match k {
        "name" => Filter::Name(v.into()),
        "id" => Filter::Id(v.into()),
        "ancestor" => Filter::Ancestor(v.into()),
        "label" => match v.split_once('=') {
            Some((k, val)) => Filter::Label(k.into(), Some(val.into())),
            None => Filter::Label(v.into(), None),
        },
        "exited" => Filter::Exited(v.parse::<i32>().ok()),
        "since" => Filter::Since(v.into()),
        "before" => Filter::Before(v.into()),
        // network: by name, or a network's id (prefix).
        "network" => Filter::Network(crate::network::bridge::network_name(v)),
        "restart-policy" => match v {
            "none" | "no" | "on-failure" | "always" | "unless-stopped" => {
                Filter::RestartPolicy(v.into())
            }
            _ => bail!("{v} is an invalid restart policy"),
        },
        "health" => match v {
            "starting" | "healthy" | "unhealthy" | "none" => Filter::Health(v.into()),
            _ => bail!("'{v}' is not a valid healthcheck status: use starting, healthy, unhealthy or none"),
        },
        "status" => Filter::Status(match v {
            "created" => StatusFilter::Created,
            "initialized" => StatusFilter::Initialized,
            "running" => StatusFilter::Running,
            "exited" => StatusFilter::Exited,
            "stopped" => StatusFilter::Stopped,
            "paused" => StatusFilter::Paused,
            "stopping" => StatusFilter::Stopping,
            "unknown" => StatusFilter::Unknown,
            "configured" => StatusFilter::Configured,
            "removing" => StatusFilter::Removing,
            _ => bail!("invalid filter {s:?}: status must be created, initialized, running, paused, stopping, exited or unknown"),
        }),
        _ => bail!("invalid filter {s:?}: supported filters are name, status, label, id, ancestor, exited, since, before, restart-policy, health and network"),
    })
}

pub(super) fn parse_filters(f: &[String]) -> Result<Vec<Filter>> {
    f.iter().map(|s| parse_filter(s)).collect()
}

/// The JSON object podman's `ps --format json` prints for one container;
/// templates render against it too, with podman's template names.
fn json_row(r: &ContainerSummary, now: i64, no_trunc: bool) -> Value {
    let running = r.st.is_running();
    json!({
        "AutoRemove": r.rec.rm,
        "Command": r.rec.command,
        "Created": r.rec.created / 1_000_000_000,
        "CreatedAt": format!("{} ago", time::since(r.rec.created, now)),
        "Exited": r.st.status == Status::Exited,
        "ExitedAt": if r.st.finished_at > 0 { r.st.finished_at / 1_000_000_000 } else { -62135596800i64 },
        "ExitCode": r.st.exit_code,
        "Restarts": r.st.restart_count,
        "Id": r.rec.id,
        "Image": r.rec.image_name,
        "ImageID": r.rec.image_id,
        "IsInfra": r.rec.pod_infra,
        "Labels": r.rec.labels,
        "Mounts": r.rec.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
        "Names": [r.rec.name],
        "Namespaces": {},
        // network: the user-defined networks of a container on them (podman: [] otherwise).
        "Networks": crate::network::bridge::networks_of(&r.rec.network)
            .iter()
            .map(|a| a.network.clone())
            .collect::<Vec<_>>(),
        "Pid": if running { r.st.pid } else { 0 },
        "Pod": r.rec.pod,
        "PodName": "",
        // network: podman's PortMapping objects (null without ports).
        "Ports": crate::network::ports::ps_json(&crate::network::ports::from_record(&r.rec.ports)),
        "Size": null,
        "StartedAt": if r.st.started_at > 0 { r.st.started_at / 1_000_000_000 } else { -62135596800i64 },
        "State": r.st.status.as_str(),
        "Status": match &r.health {
            Some(h) if r.st.status == Status::Running => format!("{} ({h})", status_text(&r.st, now)),
            _ => status_text(&r.st, now),
        },
        // Template-only conveniences podman offers.
        "ID": if no_trunc { r.rec.id.clone() } else { r.rec.id[..12].to_string() },
        "CreatedHuman": format!("{} ago", time::since(r.rec.created, now)),
        "RunningFor": time::since(r.rec.created, now),
        "Networking": r.rec.network.name(),
    })
}

fn header_name(f: &str) -> Option<&'static str> {
    Some(match f {
        "ID" | "Id" => "CONTAINER ID",
        "Image" => "IMAGE",
        "Command" => "COMMAND",
        "CreatedHuman" | "CreatedAt" | "RunningFor" => "CREATED",
        "Status" => "STATUS",
        "Ports" => "PORTS",
        "Names" => "NAMES",
        "State" => "STATE",
        "Labels" => "LABELS",
        "Pod" => "POD ID",
        "PodName" => "PODNAME",
        _ => return None,
    })
}

/// `ps`'s default table.
const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// `ps --ns`'s table (podman's).
const PS_NS_TABLE: &str = "table {{.ID}}\t{{.Names}}\t{{.Pid}}\t{{.CGROUPNS}}\t{{.IPC}}\t{{.MNT}}\t{{.NET}}\t{{.PIDNS}}\t{{.USERNS}}\t{{.UTS}}";

/// `ps`, `container ls`.
pub fn ps_cmd(g: &GlobalOpts, a: &PsArgs) -> Result<()> {
    if a.size && a.ns {
        bail!("size and namespace options conflict");
    }
    match a.watch.filter(|w| *w > 0) {
        None => ps_once(g, a),
        // podman 4.3 lists once for -q and json.
        Some(_) if a.quiet || a.format.as_deref().is_some_and(format::is_json) => ps_once(g, a),
        Some(secs) => {
            use std::io::IsTerminal;
            let tty = std::io::stdout().is_terminal();
            // podman's --watch: list, wait, again, until killed; on a
            // terminal the screen is cleared first each time.
            loop {
                if tty {
                    let mut out = std::io::stdout().lock();
                    out.write_all(b"\x1b[2J\x1b[1;1H")?;
                    out.flush()?;
                }
                ps_once(g, a)?;
                std::io::stdout().lock().flush()?;
                std::thread::sleep(std::time::Duration::from_secs(secs));
            }
        }
    }
}

/// The inode number of namespace `kind` of process `pid` ("" when it can't be read).
fn ns_inode(pid: i32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .and_then(|l| {
            let l = l.to_string_lossy().into_owned();
            let (_, rest) = l.split_once('[')?;
            Some(rest.trim_end_matches(']').to_string())
        })
        .unwrap_or_default()
}

/// podman's size column: "14B (virtual 1.99MB)".
fn size_text(rw: u64, root: u64) -> String {
    let h = |n: u64| crate::units::human_size3_spaced(n).replace(' ', "");
    format!("{} (virtual {})", h(rw), h(root))
}

fn ps_once(g: &GlobalOpts, a: &PsArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let filters = parse_filters(&a.filter)?;
    let now = time::now_ns();
    let rows = ps::ps(
        &paths,
        &PsOptions {
            all: a.all,
            filters,
            latest: a.latest,
            last: a.last,
        },
    )?;
    // --size (or --sort size): each container's changes and its image's size.
    let sizes: std::collections::HashMap<String, (u64, u64)> = if a.size || a.sort == "size" {
        let store = crate::storage::Store::open(&g.into())?;
        rows.iter()
            .map(|r| {
                let rw = crate::system::df::rw_size(&paths, &r.rec.id, &r.st);
                let img = store
                    .image_by_id(&r.rec.image_id)
                    .ok()
                    .flatten()
                    .map(|i| i.size)
                    .unwrap_or(0);
                (r.rec.id.clone(), (rw, img + rw))
            })
            .collect()
    } else {
        Default::default()
    };
    let mut rows = sort_rows(rows, &a.sort, now);
    if a.sort == "size" {
        rows.sort_by_key(|r| sizes.get(&r.rec.id).map(|s| s.1).unwrap_or(0));
    }
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for r in &rows {
            let id = if a.no_trunc {
                &r.rec.id[..]
            } else {
                &r.rec.id[..12]
            };
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    let mut table = if a.ns {
        PS_NS_TABLE.to_string()
    } else {
        PS_TABLE.to_string()
    };
    if a.pod {
        table.push_str("\t{{.Pod}}\t{{.PodName}}");
    }
    if a.size {
        table.push_str("\t{{.Size}}");
    }
    let report = Report::list(a.format.as_deref(), &table)?
        .headers(header_name)
        .noheading(a.noheading);
    // pod: the names of the pods the containers belong to.
    let pod_names: std::collections::HashMap<String, String> = crate::pod::list(&paths)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let json_row = |r: &ContainerSummary, now: i64, no_trunc: bool| {
        let mut v = json_row(r, now, no_trunc);
        v["PodName"] = json!(pod_names.get(&r.rec.pod).cloned().unwrap_or_default());
        if let Some((rw, root)) = sizes.get(&r.rec.id).filter(|_| a.size) {
            v["Size"] = json!({"rootFsSize": root, "rwSize": rw});
        }
        if a.ns && r.st.is_running() {
            let n = |k: &str| ns_inode(r.st.pid, k);
            v["Namespaces"] = json!({
                "Cgroup": n("cgroup"), "Ipc": n("ipc"), "Mnt": n("mnt"), "Net": n("net"),
                "Pidns": n("pid"), "User": n("user"), "Uts": n("uts"),
            });
        }
        v
    };
    if report.is_json() {
        let v: Vec<Value> = rows.iter().map(|r| json_row(r, now, a.no_trunc)).collect();
        return report.print(&v);
    }
    let v: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut v = json_row(r, now, a.no_trunc);
            // In templates, Names and Command print as text, as podman does.
            v["Names"] = json!(r.rec.name);
            v["Command"] = json!(command_text(&r.rec, a.no_trunc));
            v["Ports"] = json!(r.rec.ports.join(", "));
            if !a.no_trunc && r.rec.pod.len() > 12 {
                v["Pod"] = json!(r.rec.pod[..12]);
            }
            // In templates: podman's text forms of --size and --ns.
            if let Some((rw, root)) = sizes.get(&r.rec.id).filter(|_| a.size) {
                v["Size"] = json!(size_text(*rw, *root));
            }
            let ns = &v["Namespaces"];
            let field = |k: &str| ns.get(k).cloned().unwrap_or(json!(""));
            let nss = [
                ("CGROUPNS", field("Cgroup")),
                ("IPC", field("Ipc")),
                ("MNT", field("Mnt")),
                ("NET", field("Net")),
                ("PIDNS", field("Pidns")),
                ("USERNS", field("User")),
                ("UTS", field("Uts")),
            ];
            for (k, x) in nss {
                v[k] = x;
            }
            v
        })
        .collect();
    report.print(&v)
}

/// `ps --sort KEY` (podman's keys; created, the default, is newest first).
fn sort_rows(mut rows: Vec<ContainerSummary>, key: &str, now: i64) -> Vec<ContainerSummary> {
    match key {
        "command" => rows.sort_by(|a, b| a.rec.command.cmp(&b.rec.command)),
        "id" => rows.sort_by(|a, b| a.rec.id.cmp(&b.rec.id)),
        "image" => rows.sort_by(|a, b| a.rec.image_name.cmp(&b.rec.image_name)),
        "names" => rows.sort_by(|a, b| a.rec.name.cmp(&b.rec.name)),
        "status" => rows.sort_by_key(|r| status_text(&r.st, now)),
        // runningfor: the longest-running first; size: rpod has no size
        // column, so the creation order (podman's default) stands.
        "runningfor" => rows.sort_by_key(|r| r.rec.created),
        _ => {}
    }
    rows
}

// ---- inspect ----

/// Print inspect objects as podman does: a JSON array, or one line per
/// object for `--format TEMPLATE`.
pub fn print_inspect(values: &[Value], format_arg: Option<&str>) -> Result<()> {
    Report::inspect(format_arg)?.print(values)
}

/// `container inspect`.
pub fn inspect_cmd(g: &GlobalOpts, a: &InspectArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let names = with_latest(&paths, &a.names, a.latest)?;
    let report = inspect::inspect(&paths, &names)?;
    print_inspect(&report.values, a.format.as_deref())?;
    match report.missing {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

// ---- logs ----

/// `logs`, `container logs`.
pub fn logs_cmd(g: &GlobalOpts, a: &LogsArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let now = time::now_ns();
    let since = a
        .since
        .as_deref()
        .map(|s| time::parse_time_arg(s, now))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| time::parse_time_arg(s, now))
        .transpose()?;
    let tail = match a.tail.as_deref() {
        None | Some("all") | Some("-1") => None,
        Some(t) => Some(
            t.parse::<usize>()
                .with_context(|| format!("invalid --tail {t:?}: a number of lines or \"all\""))?,
        ),
    };
    let o = LogsOptions {
        names: with_latest(&paths, &a.containers, a.latest)?,
        prefix_names: a.names,
        color: a.color,
        follow: a.follow,
        since,
        until,
        tail,
        timestamps: a.timestamps,
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    logs::logs(&paths, &o, &mut out, &mut err)
}

// ---- exec ----

/// `--preserve-fds N`: fds 3 .. 3+N-1 must be open in rpod.
pub fn check_preserved_fds(n: u32) -> Result<()> {
    for fd in 3..3 + n as i32 {
        if std::fs::metadata(format!("/proc/self/fd/{fd}")).is_err()
            && std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_err()
        {
            bail!(
                "file descriptor {fd} is not available - the preserve-fds option requires that all file descriptors between 3 and {} are available",
                2 + n
            );
        }
    }
    Ok(())
}

/// `exec`, `container exec`: the process's exit code is ours.
pub fn exec_cmd(g: &GlobalOpts, a: &ExecArgs) -> Result<()> {
    // --latest: the first word is the command's.
    let (container, command) = if a.latest {
        let paths = Paths::new(&g.into())?;
        let mut c = vec![a.container.clone()];
        c.extend(a.command.iter().cloned());
        (ps::latest(&paths)?, c)
    } else {
        (a.container.clone(), a.command.clone())
    };
    if command.is_empty() {
        bail!("you must provide a command to exec");
    }
    let o = ExecOptions {
        container,
        command,
        privileged: a.privileged,
        detach: a.detach,
        interactive: a.interactive,
        tty: a.tty,
        env: a.env.clone(),
        env_file: a.env_file.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        detach_keys: a.detach_keys.clone(),
        preserve_fds: a.preserve_fds,
    };
    check_preserved_fds(a.preserve_fds)?;
    match exec::exec(&g.into(), &o)? {
        None | Some(0) => Ok(()),
        Some(c) => Err(super::exit::exit_status(c)),
    }
}

// ---- top ----

fn top_descriptor(desc: &str) -> Result<TopDescriptor> {
    TopDescriptor::parse(desc).ok_or_else(|| {
        anyhow::anyhow!(
            "unsupported top descriptor {desc:?}: use {}",
            TopDescriptor::NAMES
        )
    })
}

fn top_header(d: TopDescriptor) -> &'static str {
    d.header()
}

/// `top`, `container top`.
pub fn top_cmd(g: &GlobalOpts, a: &TopArgs) -> Result<()> {
    let words: Vec<&str> = a
        .descriptors
        .iter()
        .flat_map(|d| d.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    // podman: a descriptor psgo doesn't know means ps(1) options, run inside.
    if words.iter().any(|w| TopDescriptor::parse(w).is_none()) {
        crate::sys::exe::reexec_sealed()
            .context("re-executing rpod from a sealed copy of itself")?;
        let lines = exec::top_ps(&g.into(), &a.container, &a.descriptors)?;
        let mut out = std::io::stdout().lock();
        for l in lines {
            writeln!(out, "{l}")?;
        }
        return Ok(());
    }
    let target = exec::top_target(&g.into(), &a.container)?;
    let descs: Vec<TopDescriptor> = if words.is_empty() {
        TopDescriptor::DEFAULT.to_vec()
    } else {
        words
            .iter()
            .map(|w| top_descriptor(w))
            .collect::<Result<_>>()?
    };
    let headers: Vec<&str> = descs.iter().map(|d| top_header(*d)).collect();
    let rows = exec::top(&target, &descs);
    format::write_cells(&mut std::io::stdout().lock(), Some(&headers), &rows)
}

/// The containers a command names, or with `--latest` the newest one
/// (names and --latest together are refused, as podman does).
pub(super) fn with_latest(paths: &Paths, names: &[String], latest: bool) -> Result<Vec<String>> {
    if !latest {
        return Ok(names.to_vec());
    }
    if !names.is_empty() {
        bail!("--latest and containers cannot be used together");
    }
    Ok(vec![ps::latest(paths)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let s = 1_000_000_000i64;
        let now = 100 * s;
        let run = State {
            status: Status::Running,
            started_at: now - 3 * s,
            ..Default::default()
        };
        assert_eq!(status_text(&run, now), "Up 3 seconds");
        let ex = State {
            status: Status::Exited,
            exit_code: 0,
            finished_at: now - 2 * s,
            ..Default::default()
        };
        assert_eq!(status_text(&ex, now), "Exited (0) 2 seconds ago");
        assert_eq!(status_text(&State::default(), now), "Created");
    }

    #[test]
    fn filters_parse() {
        let f = |s: &str| parse_filters(&[s.to_string()]).unwrap().remove(0);
        assert_eq!(f("name=^web-1$"), Filter::Name("^web-1$".into()));
        assert_eq!(f("status=stopped"), Filter::Status(StatusFilter::Stopped));
        assert_eq!(f("label=app"), Filter::Label("app".into(), None));
        assert_eq!(
            f("label=app=x"),
            Filter::Label("app".into(), Some("x".into()))
        );
        assert_eq!(f("id=abab"), Filter::Id("abab".into()));
        assert_eq!(f("ancestor=alpine"), Filter::Ancestor("alpine".into()));
        assert_eq!(f("exited=3"), Filter::Exited(Some(3)));
        assert_eq!(f("exited=x"), Filter::Exited(None));
        assert!(parse_filters(&["bogus=1".into()]).is_err());
        assert!(parse_filters(&["status=sleeping".into()]).is_err());
        assert!(parse_filters(&["name".into()]).is_err());
    }

    #[test]
    fn top_descriptors() {
        assert_eq!(top_descriptor("%cpu").unwrap(), TopDescriptor::Pcpu);
        assert_eq!(top_header(TopDescriptor::Comm), "COMMAND");
        assert!(top_descriptor("bogus").is_err());
    }

    #[test]
    fn inspect_templates_render() {
        let paths = Paths {
            root: "/r".into(),
            runroot: "/rr".into(),
        };
        let rec = ContainerRecord {
            id: "ab".repeat(32),
            name: "web".into(),
            ..Default::default()
        };
        let st = State {
            status: Status::Exited,
            exit_code: 3,
            ..Default::default()
        };
        let v = inspect::container_json(&paths, &rec, &st);
        let t = format::Template::parse("{{.State.Status}} {{.State.ExitCode}}").unwrap();
        assert_eq!(t.render(&v).unwrap(), "exited 3");
    }
}
