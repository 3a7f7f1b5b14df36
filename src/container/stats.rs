//! `stats`: what a running container costs, as podman's `ContainerStats`.
//!
//! Two sources, and each result says which it came from:
//!
//! - **cgroup**: the container's own cgroup v2 (only when one was delegated
//!   and the runtime made it, see `runtime::cgroups`): `cpu.stat`,
//!   `memory.current`/`memory.max`, `pids.current`, `io.stat`, as podman
//!   reads them (a file missing because its controller is not enabled
//!   falls back to /proc);
//! - **proc**: everywhere else (cgroup v1, or v2 without delegation, where
//!   rootless podman refuses): the processes of the container's PID
//!   namespace, found by the inode of `/proc/PID/ns/pid`, and summed:
//!   CPU time from `/proc/PID/stat` (utime+stime plus the cutime+cstime of
//!   reaped children, so finished processes still count), memory as the
//!   proportional set size (PSS, `/proc/PID/smaps_rollup`: shared pages
//!   counted once, not once per process as RSS would; RSS where smaps is
//!   unreadable), PIDs as threads (what `pids.current` counts), block I/O
//!   from `/proc/PID/io` (`read_bytes`/`write_bytes`). The memory limit is
//!   the host's MemTotal: without a cgroup no limit is enforced, and none is
//!   claimed.
//!
//! In both, NET IO is the container's network namespace's `/proc/INIT/net/dev`
//! without `lo` (zero for `--network host`), and CPU % is podman's: CPU time
//! over wall time between two samples, times 100 (so two busy cores read
//! 200 %); the first sample of a container is measured from its start, as
//! podman does. Printing is the CLI's (`cli::stats`).

use super::record::{self, Paths, State};
use anyhow::Result;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where a container's numbers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The container's own cgroup v2.
    Cgroup,
    /// Its processes' files in /proc.
    #[default]
    Proc,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cgroup => "cgroup",
            Source::Proc => "proc",
        }
    }
}

/// One reading of a container's counters.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub id: String,
    pub name: String,
    /// None when the container does not run: every counter is zero.
    pub source: Option<Source>,
    /// The run this sample belongs to (init pid and start time).
    pub run: (i32, u64),
    /// When the run started and when the sample was taken (epoch ns).
    pub started_at: i64,
    pub taken_at: i64,
    pub cpu_nano: u64,
    pub cpu_system_nano: u64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub net_input: u64,
    pub net_output: u64,
    pub block_input: u64,
    pub block_output: u64,
    pub pids: u64,
}

/// podman's `define.ContainerStats`, field for field (the names its Go
/// templates use), plus `Source`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ContainerStats {
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "PerCPU")]
    pub per_cpu: Option<Vec<u64>>,
    /// CPU % since the previous sample.
    #[serde(rename = "CPU")]
    pub cpu: f64,
    #[serde(rename = "CPUNano")]
    pub cpu_nano: u64,
    #[serde(rename = "CPUSystemNano")]
    pub cpu_system_nano: u64,
    /// When the sample was taken (epoch ns).
    #[serde(rename = "SystemNano")]
    pub system_nano: u64,
    #[serde(rename = "MemUsage")]
    pub mem_usage: u64,
    #[serde(rename = "MemLimit")]
    pub mem_limit: u64,
    #[serde(rename = "MemPerc")]
    pub mem_perc: f64,
    #[serde(rename = "NetInput")]
    pub net_input: u64,
    #[serde(rename = "NetOutput")]
    pub net_output: u64,
    #[serde(rename = "BlockInput")]
    pub block_input: u64,
    #[serde(rename = "BlockOutput")]
    pub block_output: u64,
    #[serde(rename = "PIDs")]
    pub pids: u64,
    /// CPU time, ns (podman: "UpTime", the CPU TIME column).
    #[serde(rename = "UpTime")]
    pub up_time: u64,
    /// Same as CPUNano.
    #[serde(rename = "Duration")]
    pub duration: u64,
    /// CPU % since the container started.
    #[serde(rename = "AvgCPU")]
    pub avg_cpu: f64,
    /// "cgroup", "proc", or "" for a container that does not run.
    #[serde(rename = "Source")]
    pub source: String,
}

/// Which containers `stats` shows.
#[derive(Debug, Clone, Default)]
pub struct StatsOptions {
    /// Names or ids (none: the running containers, or with `all` every one).
    pub names: Vec<String>,
    pub all: bool,
    /// Only the newest container.
    pub latest: bool,
}

/// The ids `stats` shows, newest first for `all`/running, else as named.
pub fn select(paths: &Paths, o: &StatsOptions) -> Result<Vec<String>> {
    if !o.names.is_empty() {
        return o.names.iter().map(|n| record::resolve(paths, n)).collect();
    }
    let rows = super::ps::rows(paths)?;
    if o.latest {
        return Ok(rows.into_iter().take(1).map(|r| r.rec.id).collect());
    }
    Ok(rows
        .into_iter()
        .filter(|r| o.all || r.st.is_running())
        .map(|r| r.rec.id)
        .collect())
}

/// A reading of every container in `ids` (ones removed meanwhile are left
/// out). One walk of /proc serves them all.
pub fn sample(paths: &Paths, ids: &[String]) -> Vec<Sample> {
    let mut table: Option<ProcTable> = None;
    let mem_total = mem_total();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Ok(rec) = record::load(paths, id) else {
            continue;
        };
        let st = record::observe(paths, id);
        let mut s = Sample {
            id: id.clone(),
            name: rec.name,
            ..Default::default()
        };
        if st.is_running() && st.init_alive() {
            let t = table.get_or_insert_with(ProcTable::scan);
            measure(paths, id, &st, t, mem_total, &mut s);
        }
        out.push(s);
    }
    out
}

fn measure(paths: &Paths, id: &str, st: &State, t: &mut ProcTable, mem_total: u64, s: &mut Sample) {
    s.run = (st.pid, st.pid_start);
    s.started_at = st.started_at;
    // /proc first; a cgroup of its own then overrides what it counts (only
    // the controllers the container's limits enabled have their files).
    s.source = Some(Source::Proc);
    let tick = clk_tck();
    let page = page_size();
    let (mut cpu, mut sys) = (0u64, 0u64);
    for p in t.container_pids(st.pid) {
        let Some(ps) = read_stat(p) else { continue };
        cpu += ps.utime + ps.stime + ps.cutime + ps.cstime;
        sys += ps.stime + ps.cstime;
        s.pids += ps.threads;
        s.mem_usage += read_pss(p).unwrap_or(ps.rss_pages * page);
        if let Some((r, w)) = read_io(p) {
            s.block_input += r;
            s.block_output += w;
        }
    }
    s.cpu_nano = cpu * 1_000_000_000 / tick;
    s.cpu_system_nano = sys * 1_000_000_000 / tick;
    s.mem_limit = mem_total;
    if let Some(c) = own_cgroup(paths, id).and_then(|cg| read_cgroup(&cg, mem_total)) {
        s.source = Some(Source::Cgroup);
        s.cpu_nano = c.cpu_nano;
        s.cpu_system_nano = c.cpu_system_nano;
        s.mem_usage = c.mem_usage.unwrap_or(s.mem_usage);
        s.mem_limit = c.mem_limit.unwrap_or(mem_total);
        s.pids = c.pids.unwrap_or(s.pids);
        if let Some((r, w)) = c.block_io {
            s.block_input = r;
            s.block_output = w;
        }
    }
    if let Some((rx, tx)) = net_io(st.pid) {
        s.net_input = rx;
        s.net_output = tx;
    }
    s.taken_at = super::time::now_ns();
}

fn pct(part: u64, whole: i64) -> f64 {
    if whole > 0 && part > 0 {
        part as f64 / whole as f64 * 100.0
    } else {
        0.0
    }
}

/// podman's numbers from a sample and the previous one of the same
/// container (None: measure from the container's start).
pub fn compute(s: &Sample, prev: Option<&Sample>) -> ContainerStats {
    let mut c = ContainerStats {
        container_id: s.id.clone(),
        name: s.name.clone(),
        ..Default::default()
    };
    let Some(source) = s.source else {
        return c;
    };
    let (prev_cpu, prev_time) = match prev {
        Some(p) if p.source.is_some() && p.run == s.run => (p.cpu_nano, p.taken_at),
        _ => (0, s.started_at),
    };
    c.cpu = pct(s.cpu_nano.saturating_sub(prev_cpu), s.taken_at - prev_time);
    c.avg_cpu = pct(s.cpu_nano, s.taken_at - s.started_at);
    c.cpu_nano = s.cpu_nano;
    c.cpu_system_nano = s.cpu_system_nano;
    c.system_nano = s.taken_at.max(0) as u64;
    c.mem_usage = s.mem_usage;
    c.mem_limit = s.mem_limit;
    c.mem_perc = if s.mem_limit > 0 {
        s.mem_usage as f64 / s.mem_limit as f64 * 100.0
    } else {
        0.0
    };
    c.net_input = s.net_input;
    c.net_output = s.net_output;
    c.block_input = s.block_input;
    c.block_output = s.block_output;
    c.pids = s.pids;
    c.up_time = s.cpu_nano;
    c.duration = s.cpu_nano;
    c.source = source.as_str().into();
    c
}

// ---- processes ----

fn pid_ns(pid: i32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

/// One walk of /proc: every visible process by PID namespace.
pub struct ProcTable {
    by_ns: HashMap<u64, Vec<i32>>,
    own_ns: Option<u64>,
    /// Parent of each process, read only when a container shares our PID
    /// namespace (`--pid host`).
    parents: Option<Vec<(i32, i32)>>,
}

fn proc_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl ProcTable {
    pub fn scan() -> ProcTable {
        let mut by_ns: HashMap<u64, Vec<i32>> = HashMap::new();
        for p in proc_pids() {
            if let Some(ns) = pid_ns(p) {
                by_ns.entry(ns).or_default().push(p);
            }
        }
        ProcTable {
            by_ns,
            own_ns: pid_ns(std::process::id() as i32),
            parents: None,
        }
    }

    /// Host pids of the processes of the container whose init is `init`:
    /// its PID namespace, or, when it shares ours, the init and its
    /// descendants. Init first.
    pub fn container_pids(&mut self, init: i32) -> Vec<i32> {
        let Some(ns) = pid_ns(init) else {
            return vec![];
        };
        let mut pids = if Some(ns) != self.own_ns {
            self.by_ns.get(&ns).cloned().unwrap_or_default()
        } else {
            let parents = self.parents.get_or_insert_with(|| {
                proc_pids()
                    .into_iter()
                    .filter_map(|p| Some((p, read_stat(p)?.ppid)))
                    .collect()
            });
            let mut set = vec![init];
            let mut i = 0;
            while i < set.len() {
                let parent = set[i];
                set.extend(
                    parents
                        .iter()
                        .filter(|(_, pp)| *pp == parent)
                        .map(|(p, _)| *p),
                );
                i += 1;
            }
            set
        };
        if !pids.contains(&init) {
            pids.push(init);
        }
        pids.sort_by_key(|p| (*p != init, *p));
        pids.dedup();
        pids
    }
}

/// Host pids of the processes of the container whose init is `init` (see
/// [`ProcTable::container_pids`]); a fresh walk of /proc.
pub fn container_pids(init: i32) -> Vec<i32> {
    ProcTable::scan().container_pids(init)
}

/// What /proc/PID/stat says about one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub ppid: i32,
    /// Clock ticks.
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    pub threads: u64,
    pub rss_pages: u64,
}

pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let close = text.rfind(')')?;
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
    let u = |i: usize| n(i).max(0) as u64;
    Some(ProcStat {
        state: f.first()?.chars().next()?,
        ppid: n(1) as i32,
        utime: u(11),
        stime: u(12),
        cutime: u(13),
        cstime: u(14),
        threads: u(17),
        rss_pages: u(21),
    })
}

pub fn read_stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The value of a `Key:   N kB` line, in bytes.
fn kb_line(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

fn read_pss(pid: i32) -> Option<u64> {
    let t = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kb_line(&t, "Pss:")
}

fn read_io(pid: i32) -> Option<(u64, u64)> {
    let t = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let get = |k: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some((get("read_bytes:")?, get("write_bytes:")?))
}

/// Received and sent bytes of every interface but `lo` in `/proc/net/dev`
/// text.
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for l in text.lines().skip(2) {
        let Some((iface, rest)) = l.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

fn net_io(init: i32) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let ns = |p: &str| std::fs::metadata(p).ok().map(|m| m.ino());
    // --network host: the host's traffic is not the container's.
    if ns(&format!("/proc/{init}/ns/net"))? == ns("/proc/self/ns/net")? {
        return Some((0, 0));
    }
    let t = std::fs::read_to_string(format!("/proc/{init}/net/dev")).ok()?;
    Some(parse_net_dev(&t))
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| kb_line(&t, "MemTotal:"))
        .unwrap_or(0)
}

fn clk_tck() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(4096) as u64
}

// ---- cgroup ----

/// The container's own cgroup v2 directory, when the runtime made one.
pub fn own_cgroup(paths: &Paths, id: &str) -> Option<PathBuf> {
    let saved = crate::runtime::state::Saved::load(&paths.run_dir(id).join("runtime"), id).ok()?;
    saved.cgroup.filter(|d| d.join("cgroup.procs").exists())
}

/// What a cgroup v2 directory says; None where its controller is not
/// enabled (its file is missing).
#[derive(Debug, PartialEq, Eq)]
struct CgroupReading {
    cpu_nano: u64,
    cpu_system_nano: u64,
    mem_usage: Option<u64>,
    /// None also when unlimited ("max") or above the host's memory.
    mem_limit: Option<u64>,
    pids: Option<u64>,
    block_io: Option<(u64, u64)>,
}

fn read_cgroup(dir: &Path, mem_total: u64) -> Option<CgroupReading> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let num = |f: &str| read(f).and_then(|t| t.trim().parse::<u64>().ok());
    let cpu = read("cpu.stat")?;
    let key = |k: &str| {
        cpu.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let block_io = read("io.stat").map(|t| {
        let (mut bi, mut bo) = (0, 0);
        for kv in t.split_whitespace() {
            match kv.split_once('=') {
                Some(("rbytes", v)) => bi += v.parse::<u64>().unwrap_or(0),
                Some(("wbytes", v)) => bo += v.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
        (bi, bo)
    });
    Some(CgroupReading {
        cpu_nano: key("usage_usec ") * 1000,
        cpu_system_nano: key("system_usec ") * 1000,
        mem_usage: num("memory.current"),
        mem_limit: num("memory.max").filter(|l| *l > 0 && *l < mem_total),
        pids: num("pids.current"),
        block_io,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields() {
        let t = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 3 0 \
                 12345 1000000 250 18446744073709551615";
        let s = parse_stat(t).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (7, 3, 2, 1));
        assert_eq!(s.threads, 3);
        assert_eq!(s.rss_pages, 250);
    }

    #[test]
    fn cgroup_files() {
        let d = tempfile::tempdir().unwrap();
        let w = |f: &str, t: &str| std::fs::write(d.path().join(f), t).unwrap();
        assert_eq!(read_cgroup(d.path(), 1000), None, "no cpu.stat: no cgroup");
        w(
            "cpu.stat",
            "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 0\n",
        );
        w("memory.max", "max\n");
        w("pids.current", "3\n");
        let r = read_cgroup(d.path(), 1000).unwrap();
        assert_eq!((r.cpu_nano, r.cpu_system_nano), (2_500_000, 500_000));
        assert_eq!((r.mem_usage, r.mem_limit, r.pids), (None, None, Some(3)));
        assert_eq!(r.block_io, None);
        w("memory.current", "400\n");
        w("memory.max", "500\n");
        w(
            "io.stat",
            "8:0 rbytes=100 wbytes=20 rios=1 wios=1\n8:16 rbytes=1 wbytes=2\n",
        );
        let r = read_cgroup(d.path(), 1000).unwrap();
        assert_eq!((r.mem_usage, r.mem_limit), (Some(400), Some(500)));
        assert_eq!(r.block_io, Some((101, 22)));
    }

    #[test]
    fn net_dev_skips_lo() {
        let t = "Inter-|   Receive                                                |  Transmit\n \
                 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
                 lo:  1000  10 0 0 0 0 0 0  1000 10 0 0 0 0 0 0\n  \
                 tap0: 5000  50 0 0 0 0 0 0  700 7 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(t), (5000, 700));
    }

    #[test]
    fn first_sample_counts_from_the_start() {
        let s = Sample {
            id: "ab".repeat(32),
            name: "x".into(),
            source: Some(Source::Proc),
            run: (5, 9),
            started_at: 1_000_000_000,
            taken_at: 3_000_000_000,
            cpu_nano: 1_000_000_000,
            mem_usage: 50,
            mem_limit: 200,
            ..Default::default()
        };
        let c = compute(&s, None);
        assert_eq!(c.cpu, 50.0);
        assert_eq!(c.avg_cpu, 50.0);
        assert_eq!(c.mem_perc, 25.0);
        assert_eq!(c.source, "proc");
        let next = Sample {
            taken_at: 4_000_000_000,
            cpu_nano: 2_000_000_000,
            ..s.clone()
        };
        let c = compute(&next, Some(&s));
        assert_eq!(c.cpu, 100.0);
        assert!((c.avg_cpu - 66.666).abs() < 0.01);
        // A new run (restart) is measured from its start again.
        let other = Sample {
            run: (6, 1),
            ..s.clone()
        };
        assert_eq!(compute(&next, Some(&other)).cpu, c.avg_cpu);
        // Not running: zeros, and no source.
        let idle = compute(&Sample::default(), None);
        assert_eq!(idle.source, "");
        assert_eq!(idle.cpu, 0.0);
    }
}
