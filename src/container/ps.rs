//! `ps`: podman's columns, filters and formats. Reads only the small
//! per-container files (and /proc for the ones that claim to run), so a
//! hundred containers list in a few milliseconds.

use super::record::{self, ContainerRecord, Paths, State, Status};
use super::time;
use crate::cli::container::PsArgs;
use crate::cli::format::{self, Template};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;

/// One container as `ps` sees it.
pub struct Row {
    pub rec: ContainerRecord,
    pub st: State,
}

/// podman's STATUS column.
pub fn status_text(st: &State, now: i64) -> String {
    match st.status {
        Status::Created => "Created".into(),
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

struct Filter {
    key: String,
    value: String,
}

fn parse_filters(f: &[String]) -> Result<Vec<Filter>> {
    f.iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("invalid filter {s:?}: expected KEY=VALUE"))?;
            match k {
                "name" | "status" | "label" | "id" | "ancestor" | "exited" => {}
                _ => bail!("invalid filter {s:?}: supported filters are name, status, label, id, ancestor and exited"),
            }
            if k == "status"
                && !matches!(v, "created" | "running" | "exited" | "stopped" | "paused" | "stopping" | "unknown" | "configured" | "removing")
            {
                bail!("invalid filter {s:?}: status must be created, running, paused, stopping, exited or unknown");
            }
            Ok(Filter {
                key: k.into(),
                value: v.into(),
            })
        })
        .collect()
}

/// podman matches names as regular expressions; we support the common
/// forms: a substring, or one anchored with ^ and/or $.
fn name_matches(name: &str, pat: &str) -> bool {
    let (start, p) = match pat.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pat),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

fn matches(row: &Row, f: &Filter) -> bool {
    let v = f.value.as_str();
    match f.key.as_str() {
        "name" => name_matches(&row.rec.name, v),
        "id" => row.rec.id.starts_with(v),
        "status" => match v {
            "stopped" => row.st.status == Status::Exited,
            other => row.st.status.as_str() == other,
        },
        "label" => match v.split_once('=') {
            Some((k, val)) => row.rec.labels.get(k).map(|x| x == val).unwrap_or(false),
            None => row.rec.labels.contains_key(v),
        },
        "ancestor" => {
            row.rec.image_id.starts_with(v)
                || row.rec.image_name == v
                || row.rec.image_name.ends_with(&format!("/{v}"))
                || row.rec.image_name.ends_with(&format!("/{v}:latest"))
                || row.rec.image_name.strip_suffix(":latest") == Some(v)
        }
        "exited" => {
            row.st.status == Status::Exited && v.parse::<i32>().ok() == Some(row.st.exit_code)
        }
        _ => false,
    }
}

/// Every container, reconciled, newest first.
pub fn rows(paths: &Paths) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for id in record::list_ids(paths)? {
        let Ok(rec) = record::load(paths, &id) else {
            continue;
        };
        let st = record::observe(paths, &id);
        out.push(Row { rec, st });
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.rec.created));
    Ok(out)
}

/// The JSON object podman's `ps --format json` prints for one container;
/// templates render against it too, with podman's template names.
pub fn json_row(r: &Row, now: i64, no_trunc: bool) -> Value {
    let running = r.st.is_running();
    json!({
        "AutoRemove": r.rec.rm,
        "Command": r.rec.command,
        "Created": r.rec.created / 1_000_000_000,
        "CreatedAt": format!("{} ago", time::since(r.rec.created, now)),
        "Exited": r.st.status == Status::Exited,
        "ExitedAt": if r.st.finished_at > 0 { r.st.finished_at / 1_000_000_000 } else { -62135596800i64 },
        "ExitCode": r.st.exit_code,
        "Id": r.rec.id,
        "Image": r.rec.image_name,
        "ImageID": r.rec.image_id,
        "IsInfra": false,
        "Labels": r.rec.labels,
        "Mounts": r.rec.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
        "Names": [r.rec.name],
        "Namespaces": {},
        "Networks": [],
        "Pid": if running { r.st.pid } else { 0 },
        "Pod": "",
        "PodName": "",
        // network: podman's PortMapping objects (null without ports).
        "Ports": crate::network::ports::ps_json(&crate::network::ports::from_record(&r.rec.ports)),
        "Size": null,
        "StartedAt": if r.st.started_at > 0 { r.st.started_at / 1_000_000_000 } else { -62135596800i64 },
        "State": r.st.status.as_str(),
        "Status": status_text(&r.st, now),
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
        _ => return None,
    })
}

pub fn ps(paths: &Paths, a: &PsArgs) -> Result<()> {
    let filters = parse_filters(&a.filter)?;
    let now = time::now_ns();
    let all = a.all
        || filters
            .iter()
            .any(|f| f.key == "status" || f.key == "exited");
    let mut rows: Vec<Row> = rows(paths)?
        .into_iter()
        .filter(|r| all || a.latest || a.last.is_some() || r.st.is_running())
        .filter(|r| filters.iter().all(|f| matches(r, f)))
        .collect();
    if a.latest {
        rows.truncate(1);
    }
    if let Some(n) = a.last {
        rows.truncate(n);
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
    let fmt = a.format.as_deref();
    if let Some(f) = fmt.filter(|f| format::is_json(f)) {
        let _ = f;
        let v: Vec<Value> = rows.iter().map(|r| json_row(r, now, a.no_trunc)).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    if !format::is_default_table(fmt) {
        let t = Template::parse(fmt.unwrap_or_default())?;
        let mut lines = Vec::new();
        if t.table && !a.noheading {
            lines.push(t.header(&header_name));
        }
        for r in &rows {
            let mut v = json_row(r, now, a.no_trunc);
            // In templates, Names and Command print as text, as podman does.
            v["Names"] = json!(r.rec.name);
            v["Command"] = json!(command_text(&r.rec, a.no_trunc));
            v["Ports"] = json!(r.rec.ports.join(", "));
            lines.push(t.render(&v)?);
        }
        if t.table {
            out.write_all(format::tabwrite(&lines).as_bytes())?;
        } else {
            for l in lines {
                writeln!(out, "{l}")?;
            }
        }
        return Ok(());
    }
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if !a.noheading {
        lines.push("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES".to_string());
    }
    for r in &rows {
        let id = if a.no_trunc {
            &r.rec.id[..]
        } else {
            &r.rec.id[..12]
        };
        lines.push(format!(
            "{id}\t{}\t{}\t{} ago\t{}\t{}\t{}",
            r.rec.image_name,
            command_text(&r.rec, a.no_trunc),
            time::since(r.rec.created, now),
            status_text(&r.st, now),
            r.rec.ports.join(", "),
            r.rec.name
        ));
    }
    out.write_all(format::tabwrite(&lines).as_bytes())?;
    Ok(())
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
    fn filters() {
        let row = Row {
            rec: ContainerRecord {
                id: "ab".repeat(32),
                name: "web-1".into(),
                image_name: "localhost:5000/alpine:latest".into(),
                image_id: "cd".repeat(32),
                labels: [("app".to_string(), "x".to_string())].into_iter().collect(),
                ..Default::default()
            },
            st: State::default(),
        };
        let f = |s: &str| parse_filters(&[s.to_string()]).unwrap().remove(0);
        assert!(matches(&row, &f("name=web")));
        assert!(matches(&row, &f("name=^web-1$")));
        assert!(!matches(&row, &f("name=^eb")));
        assert!(matches(&row, &f("status=created")));
        assert!(!matches(&row, &f("status=running")));
        assert!(matches(&row, &f("label=app")));
        assert!(matches(&row, &f("label=app=x")));
        assert!(!matches(&row, &f("label=app=y")));
        assert!(matches(&row, &f("id=abab")));
        assert!(matches(&row, &f("ancestor=alpine")));
        assert!(matches(&row, &f("ancestor=cdcd")));
        assert!(parse_filters(&["bogus=1".into()]).is_err());
        assert!(parse_filters(&["status=sleeping".into()]).is_err());
    }
}
