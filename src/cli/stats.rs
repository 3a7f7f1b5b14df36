//! `stats`, `pause` and `unpause` (also under `container`): their flags,
//! and podman's table, templates and JSON for `stats`. The numbers and the
//! pausing are the library's (`container::stats`, `container::pause`).

use super::format::Report;
use super::GlobalOpts;
use crate::container::pause::{self, PauseSelection};
use crate::container::record::Paths;
use crate::container::stats::{self, ContainerStats, Sample, StatsOptions};
use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    /// Containers to show (default: every running container)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Show all containers, not only running ones
    #[arg(short, long)]
    pub all: bool,
    /// Pretty-print container statistics to JSON or using a Go template
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Time in seconds between stats reports
    #[arg(short, long, value_name = "SECONDS", default_value_t = 5)]
    pub interval: i64,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// Do not clear the terminal between reports
    #[arg(long)]
    pub no_reset: bool,
    /// Print the first result and exit instead of streaming
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate the container ids
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Args, Debug, Clone)]
pub struct PauseArgs {
    /// Containers to pause
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Pause all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Read the container id from this file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    /// Pause the containers these filters select (as ps --filter)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
}

#[derive(Args, Debug, Clone)]
pub struct UnpauseArgs {
    /// Containers to unpause
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Unpause all paused containers
    #[arg(short, long)]
    pub all: bool,
    /// Read the container id from this file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    /// Unpause the containers these filters select (as ps --filter)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
}

// ---- pause, unpause ----

fn selection(
    containers: &[String],
    cidfile: &[PathBuf],
    all: bool,
    latest: bool,
    filter: &[String],
) -> Result<PauseSelection> {
    let picks = [all, latest, !containers.is_empty() || !cidfile.is_empty()];
    if picks.iter().filter(|p| **p).count() > 1 {
        bail!("--all, --latest and containers cannot be used together");
    }
    Ok(PauseSelection {
        names: containers.to_vec(),
        cidfiles: cidfile.to_vec(),
        all,
        latest,
        filters: super::ctr_views::parse_filters(filter)?,
    })
}

/// `pause`, `container pause`: one line per paused container.
pub fn pause_cmd(g: &GlobalOpts, a: &PauseArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let sel = selection(&a.containers, &a.cidfile, a.all, a.latest, &a.filter)?;
    super::ctr_lifecycle::report_each(pause::pause_many(&paths, &sel, true)?, |t| &t.name)
}

/// `unpause`, `container unpause`.
pub fn unpause_cmd(g: &GlobalOpts, a: &UnpauseArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let sel = selection(&a.containers, &a.cidfile, a.all, a.latest, &a.filter)?;
    super::ctr_lifecycle::report_each(pause::pause_many(&paths, &sel, false)?, |t| &t.name)
}

// ---- stats ----

pub use crate::units::{bytes_size, human_size};

pub(super) fn percent(f: f64) -> String {
    format!("{f:.2}%")
}

fn short_id(c: &ContainerStats, no_trunc: bool) -> String {
    if no_trunc {
        c.container_id.clone()
    } else {
        c.container_id.chars().take(12).collect()
    }
}

/// podman's `stats --format json` object (its `jstat`), plus `source`.
fn json_row(c: &ContainerStats, no_trunc: bool) -> Value {
    json!({
        "id": short_id(c, no_trunc),
        "name": c.name,
        "cpu_time": crate::time::go_duration(c.up_time),
        "cpu_percent": percent(c.cpu),
        "avg_cpu": percent(c.avg_cpu),
        "mem_usage": format!("{} / {}", human_size(c.mem_usage), human_size(c.mem_limit)),
        "mem_percent": percent(c.mem_perc),
        "net_io": format!("{} / {}", human_size(c.net_input), human_size(c.net_output)),
        "block_io": format!("{} / {}", human_size(c.block_input), human_size(c.block_output)),
        "pids": c.pids.to_string(),
        "source": c.source,
    })
}

/// What templates see: podman's ContainerStats fields, shadowed by the
/// names its report type adds (`.MemUsage` and `.MemPerc` print as text,
/// `.UpTime` as a Go duration).
fn template_row(c: &ContainerStats, no_trunc: bool) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or_else(|_| json!({}));
    let extra = json!({
        "ID": short_id(c, no_trunc),
        "CPUPerc": percent(c.cpu),
        "AVGCPU": percent(c.avg_cpu),
        "Up": crate::time::go_duration(c.up_time),
        "UpTime": crate::time::go_duration(c.up_time),
        "MemPerc": percent(c.mem_perc),
        "MemUsage": format!("{} / {}", human_size(c.mem_usage), human_size(c.mem_limit)),
        "MemUsageBytes": format!("{} / {}", bytes_size(c.mem_usage), bytes_size(c.mem_limit)),
        "NetIO": format!("{} / {}", human_size(c.net_input), human_size(c.net_output)),
        "BlockIO": format!("{} / {}", human_size(c.block_input), human_size(c.block_output)),
        "PIDS": c.pids.to_string(),
        "ContainerStats": v.clone(),
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

fn header(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "ID",
        "Name" => "NAME",
        "CPUPerc" => "CPU %",
        "AVGCPU" => "AVG CPU %",
        "MemUsage" | "MemUsageBytes" => "MEM USAGE / LIMIT",
        "MemPerc" => "MEM %",
        "NetIO" => "NET IO",
        "BlockIO" => "BLOCK IO",
        "PIDS" | "PIDs" => "PIDS",
        "UpTime" | "Up" => "CPU TIME",
        _ => return None,
    })
}

const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}\t{{.UpTime}}\t{{.AVGCPU}}";

/// Waits between reports; SIGINT and SIGTERM end the stream cleanly.
pub(super) struct Ticker {
    fd: nix::sys::signalfd::SignalFd,
}

impl Ticker {
    pub(super) fn new() -> Result<Ticker> {
        use nix::sys::signal::{SigSet, Signal};
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGINT);
        mask.add(Signal::SIGTERM);
        mask.thread_block()?;
        let fd = nix::sys::signalfd::SignalFd::with_flags(
            &mask,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC,
        )?;
        Ok(Ticker { fd })
    }

    /// Sleep `secs`; false when a signal asked us to stop.
    pub(super) fn wait(&self, secs: i64) -> Result<bool> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let end = std::time::Instant::now() + std::time::Duration::from_secs(secs as u64);
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(true);
            }
            let ms = left.as_millis().min(60_000) as u16;
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(n) if n > 0 => return Ok(false),
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// `stats`, `container stats`.
pub fn stats_cmd(g: &GlobalOpts, a: &StatsArgs) -> Result<()> {
    if [a.all, a.latest, !a.containers.is_empty()]
        .iter()
        .filter(|x| **x)
        .count()
        > 1
    {
        bail!("--all, --latest and containers cannot be used together");
    }
    if a.interval < 1 {
        bail!("invalid interval, must be a positive number greater zero");
    }
    let paths = Paths::new(&g.into())?;
    let o = StatsOptions {
        names: a.containers.clone(),
        all: a.all,
        latest: a.latest,
    };
    let report = Report::list(a.format.as_deref(), STATS_TABLE)?
        .headers(header)
        .json_indent(b" ");
    let ticker = if a.no_stream {
        None
    } else {
        Some(Ticker::new()?)
    };
    let clear = !a.no_reset && std::io::stdout().is_terminal();
    let mut ids = stats::select(&paths, &o)?;
    let mut prev: HashMap<String, Sample> = HashMap::new();
    loop {
        let samples = stats::sample(&paths, &ids);
        let rows: Vec<ContainerStats> = samples
            .iter()
            .map(|s| stats::compute(s, prev.get(&s.id)))
            .collect();
        if clear {
            let mut out = std::io::stdout().lock();
            out.write_all(b"\x1b[2J\x1b[1;1H")?;
        }
        if report.is_json() {
            let v: Vec<Value> = rows.iter().map(|c| json_row(c, a.no_trunc)).collect();
            report.print(&v)?;
        } else {
            let v: Vec<Value> = rows.iter().map(|c| template_row(c, a.no_trunc)).collect();
            report.print(&v)?;
        }
        std::io::stdout().flush()?;
        let Some(t) = &ticker else {
            return Ok(());
        };
        prev = samples.into_iter().map(|s| (s.id.clone(), s)).collect();
        if !t.wait(a.interval)? {
            return Ok(());
        }
        // Containers started or stopped since are shown (or not) next time.
        if a.containers.is_empty() {
            ids = stats::select(&paths, &o)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        use crate::time::go_duration;
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500), "500ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(12_500_000), "12.5ms");
        assert_eq!(go_duration(1_072_558_000), "1.072558s");
        assert_eq!(go_duration(62_003_000_000), "1m2.003s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    }

    #[test]
    fn rows_have_podman_keys() {
        let c = ContainerStats {
            container_id: "ab".repeat(32),
            name: "web".into(),
            cpu: 12.3456,
            mem_usage: 1_200_000,
            mem_limit: 25_200_000_000,
            source: "proc".into(),
            ..Default::default()
        };
        let j = json_row(&c, false);
        for k in [
            "id",
            "name",
            "cpu_time",
            "cpu_percent",
            "avg_cpu",
            "mem_usage",
            "mem_percent",
            "net_io",
            "block_io",
            "pids",
            "source",
        ] {
            assert!(j.get(k).is_some(), "{k}");
        }
        assert_eq!(j["mem_usage"], "1.2MB / 25.2GB");
        assert_eq!(j["cpu_percent"], "12.35%");
        let t = template_row(&c, false);
        assert_eq!(t["ID"], "abababababab");
        assert_eq!(t["MemUsage"], "1.2MB / 25.2GB");
        assert_eq!(t["ContainerStats"]["MemUsage"], 1_200_000);
        assert_eq!(t["CPU"], 12.3456);
    }
}
