//! `rpod pod …`: podman 4.3's pod commands, flags, columns and JSON keys.
//! The pods themselves are `crate::pod`'s.

use super::format::Report;
use super::GlobalOpts;
use crate::container::record::{ContainerRecord, Paths, State};
use crate::network::NetworkMode;
use crate::options::Options;
use crate::pod::{self, PodRecord};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

// Parsed once per process: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum PodCommand {
    /// Create a new empty pod
    Create(CreateArgs),
    /// List pods
    #[command(visible_alias = "ls", alias = "list")]
    Ps(PsArgs),
    /// Show pods as JSON
    Inspect(InspectArgs),
    /// Start pods (the infra first)
    Start(StartArgs),
    /// Stop pods (the infra last)
    Stop(StopArgs),
    /// Restart pods
    Restart(SelectArgs),
    /// Send a signal to the containers of pods
    Kill(KillArgs),
    /// Pause the containers of pods
    Pause(SelectArgs),
    /// Unpause the containers of pods
    Unpause(SelectArgs),
    /// Remove pods and their containers
    Rm(RmArgs),
    /// Remove every stopped pod
    Prune(PruneArgs),
    /// Exit 0 if the pod exists, 1 if not
    Exists(ExistsArgs),
    /// Display the running processes of the containers in a pod
    Top(TopArgs),
    /// Display resource usage of the containers in pods
    Stats(StatsArgs),
    /// Show the logs of the containers in a pod
    Logs(LogsArgs),
    /// Create a copy of a pod and of its containers
    Clone(CloneArgs),
}

#[derive(Args, Debug, Clone)]
pub struct TopArgs {
    /// The newest pod
    #[arg(short, long)]
    pub latest: bool,
    /// The pod, then ps(1) format descriptors (default: user pid ppid %cpu elapsed tty time comm)
    #[arg(
        value_name = "POD",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    /// Pods to show (default: every pod)
    #[arg(value_name = "POD")]
    pub pods: Vec<String>,
    /// Every pod
    #[arg(short, long)]
    pub all: bool,
    /// Pretty-print the statistics to JSON or using a Go template
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The newest pod
    #[arg(short, long)]
    pub latest: bool,
    /// Do not clear the terminal between reports
    #[arg(long)]
    pub no_reset: bool,
    /// Print the first result and exit instead of streaming
    #[arg(long)]
    pub no_stream: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LogsArgs {
    /// The pod
    #[arg(value_name = "POD")]
    pub pod: Option<String>,
    /// Only this container of the pod
    #[arg(short, long, value_name = "CONTAINER")]
    pub container: Option<String>,
    /// Follow the log output
    #[arg(short, long)]
    pub follow: bool,
    /// The newest pod
    #[arg(short, long)]
    pub latest: bool,
    /// Prefix lines with the container's name instead of its id
    #[arg(short, long)]
    pub names: bool,
    /// Show each container's lines in its own color
    #[arg(long)]
    pub color: bool,
    /// Show logs since a time (RFC 3339, a Unix timestamp, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show logs until a time (same forms as --since)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Number of lines to show from the end of each container's log (-1: all)
    #[arg(long, value_name = "LINES", allow_hyphen_values = true)]
    pub tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CloneArgs {
    /// The pod to clone
    #[arg(value_name = "POD")]
    pub pod: String,
    /// The clone's name (default: the pod's name and -clone)
    #[arg(short, long)]
    pub name: Option<String>,
    /// Remove the original pod (and its containers) once the clone exists
    #[arg(long)]
    pub destroy: bool,
    /// Start the clone
    #[arg(long)]
    pub start: bool,
    /// Write the clone's id to this file
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Option<PathBuf>,
    /// The clone's hostname
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Add a label to the clone (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// The clone's infra container's name (default: the original's and -clone)
    #[arg(long, value_name = "NAME")]
    pub infra_name: Option<String>,
    /// The clone's infra command
    #[arg(long, value_name = "COMMAND")]
    pub infra_command: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Name of the pod (default: a generated adjective_noun)
    #[arg(short, long)]
    pub name: Option<String>,
    /// Create an infra container holding the shared namespaces
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub infra: bool,
    /// The infra's command (default: catatonit -P)
    #[arg(long, value_name = "COMMAND")]
    pub infra_command: Option<String>,
    /// The infra's name (default: the pod id's first 12 characters and -infra)
    #[arg(long, value_name = "NAME")]
    pub infra_name: Option<String>,
    /// The infra's image (only rpod's own pause image is supported)
    #[arg(long, value_name = "IMAGE")]
    pub infra_image: Option<String>,
    /// Publish a port of the pod: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]
    #[arg(short, long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Network mode of the pod: slirp4netns[:OPTS], pasta[:ARGS], none, host
    /// (podman's flag may be repeated for several networks; rpod's pods join one)
    #[arg(long, alias = "net", value_name = "MODE")]
    pub network: Vec<String>,
    /// Namespaces the containers share (ipc,net,uts; or none)
    #[arg(long, value_name = "NAMESPACES")]
    pub share: Option<String>,
    /// The pod's hostname (default: its name)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Add a line to /etc/hosts: HOST:IP
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// DNS server for the pod's /etc/resolv.conf
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS search domain
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// DNS option
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Set metadata on the pod (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Write the pod's id to this file
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Option<PathBuf>,
    /// Remove a pod that has the same name first
    #[arg(long)]
    pub replace: bool,
    /// What happens when the pod's last container exits: continue or stop
    #[arg(long, value_name = "POLICY", default_value = "continue")]
    pub exit_policy: String,
    /// Give the pod's own name as an argument instead of --name
    #[arg(value_name = "NAME")]
    pub pod_name: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct PsArgs {
    /// Show only the pods that match: id, name, label, status
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, or json
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not print the header row
    #[arg(long)]
    pub noheading: bool,
    /// Full ids
    #[arg(long)]
    pub no_trunc: bool,
    /// Print only the pod ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Show the names of the pods' containers
    #[arg(long)]
    pub ctr_names: bool,
    /// Show the ids of the pods' containers
    #[arg(long)]
    pub ctr_ids: bool,
    /// Show the states of the pods' containers
    #[arg(long)]
    pub ctr_status: bool,
    /// Show the pods' cgroup and namespaces
    #[arg(long)]
    pub ns: bool,
    /// Sort by created, id, name, number or status
    #[arg(long, value_name = "FIELD", default_value = "created")]
    pub sort: String,
    /// Only the newest pod
    #[arg(short, long)]
    pub latest: bool,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// Pods to inspect
    #[arg(value_name = "POD")]
    pub pods: Vec<String>,
    /// Format the output with a Go template, or json
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The newest pod
    #[arg(short, long)]
    pub latest: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SelectArgs {
    /// Pods
    #[arg(value_name = "POD")]
    pub pods: Vec<String>,
    /// Every pod
    #[arg(short, long)]
    pub all: bool,
    /// The newest pod
    #[arg(short, long)]
    pub latest: bool,
}

#[derive(Args, Debug, Clone)]
pub struct StartArgs {
    #[command(flatten)]
    pub sel: SelectArgs,
    /// Read pod ids from these files
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct StopArgs {
    #[command(flatten)]
    pub sel: SelectArgs,
    /// Read pod ids from these files
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Vec<PathBuf>,
    /// Pods that do not exist are no error
    #[arg(short, long)]
    pub ignore: bool,
    /// Seconds to wait before killing the containers
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
}

#[derive(Args, Debug, Clone)]
pub struct KillArgs {
    #[command(flatten)]
    pub sel: SelectArgs,
    /// The signal to send
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
}

#[derive(Args, Debug, Clone)]
pub struct RmArgs {
    #[command(flatten)]
    pub sel: SelectArgs,
    /// Stop running containers and remove them too
    #[arg(short, long)]
    pub force: bool,
    /// Pods that do not exist are no error
    #[arg(short, long)]
    pub ignore: bool,
    /// Seconds to wait for the containers to stop (with --force)
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Read pod ids from these files
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ExistsArgs {
    /// The pod
    #[arg(value_name = "POD")]
    pub pod: String,
}

pub fn pod_cmd(g: &GlobalOpts, cmd: PodCommand) -> Result<()> {
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    match cmd {
        PodCommand::Create(a) => create_cmd(&opts, &paths, a),
        PodCommand::Ps(a) => ps_cmd(&paths, &a),
        PodCommand::Inspect(a) => inspect_cmd(&paths, &a),
        PodCommand::Start(a) => {
            let sel = with_id_files(&a.sel, &a.pod_id_file, false)?;
            each(&paths, &sel, false, |p| pod::start(&opts, &paths, p))
        }
        PodCommand::Stop(a) => {
            let sel = with_id_files(&a.sel, &a.pod_id_file, a.ignore)?;
            if sel.pods.is_empty() && !sel.all && !sel.latest && !a.pod_id_file.is_empty() {
                return Ok(()); // --ignore, and no id file left
            }
            each(&paths, &sel, a.ignore, |p| pod::stop(&paths, p, a.time))
        }
        PodCommand::Restart(a) => each(&paths, &a, false, |p| {
            pod::stop(&paths, p, None)?;
            pod::start_without_init_ctrs(&opts, &paths, p)
        }),
        PodCommand::Kill(a) => {
            let sig = crate::container::opts::parse_signal(&a.signal)?;
            each(&paths, &a.sel, false, |p| pod::kill(&paths, p, sig))
        }
        PodCommand::Pause(a) => each(&paths, &a, false, |p| pod::pause(&paths, p, true)),
        PodCommand::Unpause(a) => each(&paths, &a, false, |p| pod::pause(&paths, p, false)),
        PodCommand::Rm(a) => rm_cmd(&paths, a),
        PodCommand::Prune(_) => prune_cmd(&paths),
        PodCommand::Exists(a) => match pod::resolve(&paths, &a.pod) {
            Ok(_) => Ok(()),
            Err(e) if pod::is_no_such(&e) => Err(super::exit::exit_status(1)),
            Err(e) => Err(e),
        },
        PodCommand::Top(a) => top_cmd(&opts, &paths, &a),
        PodCommand::Stats(a) => stats_cmd(&paths, &a),
        PodCommand::Logs(a) => logs_cmd(&paths, &a),
        PodCommand::Clone(a) => clone_cmd(&opts, &paths, &a),
    }
}

fn create_cmd(opts: &Options, paths: &Paths, a: CreateArgs) -> Result<()> {
    if a.name.is_some() && a.pod_name.is_some() {
        bail!("cannot specify --name and NAME at the same time");
    }
    if let Some(i) = &a.infra_image {
        if *i != pod::pause_image_name() {
            bail!(
                "--infra-image {i}: rpod's infra is its own pause image ({})",
                pod::pause_image_name()
            );
        }
    }
    let network = match a.network.as_slice() {
        [] => None,
        [n] => Some(NetworkMode::parse(Some(n))?),
        _ => bail!("--network: rpod's pods join one network mode"),
    };
    if let Some(NetworkMode::Container(_)) = network {
        bail!("--network container:NAME is not supported for a pod");
    }
    if let Some(n) = &network {
        n.check_supported()?;
    }
    crate::network::validate_add_hosts(&a.add_host)?;
    if let Some(f) = &a.pod_id_file {
        if f.exists() && !a.replace {
            bail!(
                "pod id file exists. Ensure another pod is not using it or delete {}",
                f.display()
            );
        }
    }
    // --replace: the old pod is stopped before entering a user namespace,
    // from which a member running as another uid could not be signalled.
    if a.replace {
        if let Some(old) = a
            .name
            .as_deref()
            .or(a.pod_name.as_deref())
            .and_then(|n| pod::resolve(paths, n).ok().filter(|p| p.name == n))
        {
            if let Err(e) = pod::stop(paths, &old, Some(0)) {
                log::warn!("stopping pod {}: {e:#}", old.name);
            }
        }
    }
    crate::userns::enter()?;
    let spec = pod::PodSpec {
        name: a.name.or(a.pod_name),
        labels: a.label,
        publish: a.publish,
        network,
        hostname: a.hostname,
        exit_policy: Some(a.exit_policy),
        infra: a.infra,
        infra_name: a.infra_name,
        infra_command: a
            .infra_command
            .as_deref()
            .map(crate::container::opts::parse_entrypoint),
        add_host: a.add_host,
        dns: a.dns,
        dns_search: a.dns_search,
        dns_option: a.dns_option,
        share: a.share,
        replace: a.replace,
        create_command: std::env::args().collect(),
    };
    let p = pod::create(opts, paths, &spec)?;
    if let Some(f) = &a.pod_id_file {
        crate::storage::write_atomic(f, p.id.as_bytes())?;
    }
    writeln!(std::io::stdout().lock(), "{}", p.id)?;
    Ok(())
}

/// The pods a command acts on.
fn select(paths: &Paths, a: &SelectArgs, ignore: bool) -> Result<Vec<Result<PodRecord>>> {
    pod::reconcile(paths);
    if a.all || a.latest {
        if !a.pods.is_empty() {
            bail!("--all, --latest and pod names cannot be used together");
        }
        let mut all = pod::list(paths)?;
        if a.latest {
            all.truncate(1);
        }
        return Ok(all.into_iter().map(Ok).collect());
    }
    if a.pods.is_empty() {
        bail!("you must provide at least one name or id");
    }
    Ok(a.pods
        .iter()
        .map(|n| pod::resolve(paths, n))
        .filter(|r| !(ignore && r.as_ref().is_err_and(pod::is_no_such)))
        .collect())
}

/// Run `f` on each selected pod and print its id; report every failure,
/// return the last (podman's way).
fn each(
    paths: &Paths,
    a: &SelectArgs,
    ignore: bool,
    f: impl Fn(&PodRecord) -> Result<()>,
) -> Result<()> {
    let mut last = None;
    let mut out = std::io::stdout().lock();
    for p in select(paths, a, ignore)? {
        match p.and_then(|p| f(&p).map(|_| p)) {
            Ok(p) => writeln!(out, "{}", p.id)?,
            Err(e) => {
                if let Some(prev) = last.replace(e) {
                    eprintln!("Error: {prev:#}");
                }
            }
        }
    }
    last.map_or(Ok(()), Err)
}

/// `sel` plus the pods named in `--pod-id-file`s (a missing file is no
/// error with `--ignore`).
fn with_id_files(sel: &SelectArgs, files: &[PathBuf], ignore: bool) -> Result<SelectArgs> {
    let mut sel = sel.clone();
    for f in files {
        match std::fs::read_to_string(f) {
            Ok(s) => sel.pods.push(s.trim().to_string()),
            Err(_) if ignore => {}
            Err(e) => bail!("reading pod id file {}: {e}", f.display()),
        }
    }
    Ok(sel)
}

fn rm_cmd(paths: &Paths, a: RmArgs) -> Result<()> {
    let sel = with_id_files(&a.sel, &a.pod_id_file, a.ignore)?;
    if sel.pods.is_empty() && !sel.all && !sel.latest && !a.pod_id_file.is_empty() {
        return Ok(());
    }
    if sel.all && sel.pods.is_empty() && pod::list(paths)?.is_empty() {
        return Ok(());
    }
    // Stopped before entering a user namespace: from a new one, a member
    // running as another uid than 0 could not be signalled.
    if a.force {
        for p in select(paths, &sel, true)?.into_iter().flatten() {
            if let Err(e) = pod::stop(paths, &p, a.time) {
                log::warn!("stopping pod {}: {e:#}", p.name);
            }
        }
    }
    crate::userns::enter()?;
    // podman 4.3: `pod rm -f` of a pod that does not exist is no error.
    each(paths, &sel, a.ignore || a.force, |p| {
        pod::remove(paths, p, a.force, a.time)
    })
}

fn prune_cmd(paths: &Paths) -> Result<()> {
    pod::reconcile(paths);
    let mut out = std::io::stdout().lock();
    let pods = pod::list(paths)?;
    let mut entered = false;
    for p in pods {
        let m = pod::members(paths, &p.id)?;
        let states: Vec<&State> = m.iter().map(|(_, s)| s).collect();
        if !matches!(pod::status(&states), "Exited" | "Stopped") {
            continue;
        }
        if !entered {
            crate::userns::enter()?;
            entered = true;
        }
        pod::remove(paths, &p, true, Some(0))?;
        writeln!(out, "{}", p.id)?;
    }
    Ok(())
}

fn short(id: &str, no_trunc: bool) -> &str {
    if no_trunc || id.len() < 12 {
        id
    } else {
        &id[..12]
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PsCtr {
    id: String,
    names: String,
    status: &'static str,
}

/// One row of `pod ps --format json`, in podman's key order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PsRow {
    cgroup: &'static str,
    containers: Vec<PsCtr>,
    created: String,
    id: String,
    infra_id: String,
    name: String,
    namespace: &'static str,
    networks: Vec<String>,
    status: &'static str,
    labels: std::collections::BTreeMap<String, String>,
}

fn ps_row(
    p: &PodRecord,
    m: &[(ContainerRecord, State)],
    now: i64,
    no_trunc: bool,
) -> (PsRow, Value) {
    let states: Vec<&State> = m.iter().map(|(_, s)| s).collect();
    let row = PsRow {
        cgroup: "",
        containers: m
            .iter()
            .map(|(r, s)| PsCtr {
                id: r.id.clone(),
                names: r.name.clone(),
                status: s.status.as_str(),
            })
            .collect(),
        created: pod::created_rfc3339(p),
        id: p.id.clone(),
        infra_id: p.infra_id.clone(),
        name: p.name.clone(),
        namespace: "",
        networks: Vec::new(),
        status: pod::status(&states),
        labels: p.labels.clone(),
    };
    let mut t = serde_json::to_value(&row).unwrap_or_default();
    // Template-only fields.
    let extra = json!({
        "ID": short(&p.id, no_trunc),
        "InfraID": short(&p.infra_id, no_trunc),
        "CreatedHuman": format!("{} ago", crate::time::since(p.created, now)),
        "NumberOfContainers": m.len(),
        "ContainerNames": m.iter().map(|(r, _)| r.name.clone()).collect::<Vec<_>>().join(","),
        "ContainerIds": m.iter().map(|(r, _)| short(&r.id, no_trunc).to_string()).collect::<Vec<_>>().join(","),
        "ContainerStatuses": m.iter().map(|(_, s)| s.status.as_str()).collect::<Vec<_>>().join(","),
        "InfraCgroup": "",
        "PodNamespaces": "",
    });
    if let (Some(o), Some(e)) = (t.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    (row, t)
}

fn header_name(f: &str) -> Option<&'static str> {
    Some(match f {
        "ID" | "Id" => "POD ID",
        "Name" => "NAME",
        "Status" => "STATUS",
        "CreatedHuman" | "Created" => "CREATED",
        "InfraID" | "InfraId" => "INFRA ID",
        "NumberOfContainers" => "# OF CONTAINERS",
        "ContainerNames" => "NAMES",
        "ContainerIds" => "IDS",
        "ContainerStatuses" => "STATUS",
        "InfraCgroup" => "CGROUP",
        "PodNamespaces" => "NAMESPACES",
        "Labels" => "LABELS",
        _ => return None,
    })
}

fn filter_ok(f: &str, p: &PodRecord, status: &str) -> Result<bool> {
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}: expected KEY=VALUE"))?;
    Ok(match k {
        "id" => p.id.starts_with(v),
        "name" => p.name.contains(v),
        "status" => status.eq_ignore_ascii_case(v),
        "label" => match v.split_once('=') {
            Some((lk, lv)) => p.labels.get(lk).is_some_and(|x| x == lv),
            None => p.labels.contains_key(v),
        },
        _ => bail!("invalid filter {f:?}: supported filters are id, name, label and status"),
    })
}

fn ps_cmd(paths: &Paths, a: &PsArgs) -> Result<()> {
    pod::reconcile(paths);
    let now = crate::time::now_ns();
    let mut pods = pod::list(paths)?;
    if a.latest {
        pods.truncate(1);
    }
    let mut rows = Vec::new();
    for p in &pods {
        let m = pod::members(paths, &p.id)?;
        let states: Vec<&State> = m.iter().map(|(_, s)| s).collect();
        let status = pod::status(&states);
        let mut ok = true;
        for f in &a.filter {
            ok &= filter_ok(f, p, status)?;
        }
        if ok {
            rows.push(ps_row(p, &m, now, a.no_trunc));
        }
    }
    match a.sort.as_str() {
        "created" => {}
        "id" => rows.sort_by(|x, y| x.1["Id"].as_str().cmp(&y.1["Id"].as_str())),
        "name" => rows.sort_by(|x, y| x.1["Name"].as_str().cmp(&y.1["Name"].as_str())),
        "number" => rows.sort_by_key(|x| x.1["NumberOfContainers"].as_u64()),
        "status" => rows.sort_by(|x, y| x.1["Status"].as_str().cmp(&y.1["Status"].as_str())),
        s => bail!("invalid option for --sort {s:?}: use created, id, name, number or status"),
    }
    let (json_rows, rows): (Vec<PsRow>, Vec<Value>) = rows.into_iter().unzip();
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for r in &rows {
            writeln!(out, "{}", r["ID"].as_str().unwrap_or(""))?;
        }
        return Ok(());
    }
    let mut table =
        String::from("table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.CreatedHuman}}\t{{.InfraID}}");
    if a.ctr_names || a.ctr_ids || a.ctr_status || a.ns {
        if a.ctr_ids {
            table.push_str("\t{{.ContainerIds}}");
        }
        if a.ctr_names {
            table.push_str("\t{{.ContainerNames}}");
        }
        if a.ctr_status {
            table.push_str("\t{{.ContainerStatuses}}");
        }
        if a.ns {
            table.push_str("\t{{.InfraCgroup}}\t{{.PodNamespaces}}");
        }
    } else {
        table.push_str("\t{{.NumberOfContainers}}");
    }
    let report = Report::list(a.format.as_deref(), &table)?
        .headers(header_name)
        .noheading(a.noheading);
    if report.is_json() {
        return report.print(&json_rows);
    }
    report.print(&rows)
}

fn inspect_value(paths: &Paths, p: &PodRecord) -> Result<PodInspect> {
    let m = pod::members(paths, &p.id)?;
    let states: Vec<&State> = m.iter().map(|(_, s)| s).collect();
    let ports = crate::network::ports::from_record(
        &m.iter()
            .find(|(r, _)| r.pod_infra)
            .map(|(r, _)| r.ports.clone())
            .unwrap_or_default(),
    );
    let bindings = crate::network::ports::inspect_json(&ports);
    let infra = json!({
        "PortBindings": bindings,
        "HostNetwork": p.network == "host",
        "StaticIP": "",
        "StaticMAC": "",
        "NoManageResolvConf": false,
        "DNSServer": null,
        "DNSSearch": null,
        "DNSOption": null,
        "NoManageHosts": false,
        "HostAdd": null,
        "Networks": null,
        "NetworkOptions": null,
        "pid_ns": "private",
        "userns": "host",
        "uts_ns": "private",
    });
    let order = [
        "PortBindings",
        "HostNetwork",
        "StaticIP",
        "StaticMAC",
        "NoManageResolvConf",
        "DNSServer",
        "DNSSearch",
        "DNSOption",
        "NoManageHosts",
        "HostAdd",
        "Networks",
        "NetworkOptions",
        "pid_ns",
        "userns",
        "uts_ns",
    ];
    Ok(PodInspect {
        id: p.id.clone(),
        name: p.name.clone(),
        created: pod::created_rfc3339(p),
        create_command: p.create_command.clone(),
        exit_policy: p.exit_policy.clone(),
        state: pod::status(&states),
        hostname: p.hostname.clone(),
        labels: p.labels.clone(),
        create_cgroup: false,
        create_infra: !p.infra_id.is_empty(),
        infra_container_id: p.infra_id.clone(),
        infra_config: Ordered(order.iter().map(|k| (*k, infra[*k].clone())).collect()),
        shared_namespaces: p.shared.clone(),
        num_containers: m.len(),
        containers: m
            .iter()
            .map(|(r, s)| InspectCtr {
                id: r.id.clone(),
                name: r.name.clone(),
                state: s.status.as_str(),
            })
            .collect(),
    })
}

/// A JSON object whose keys keep the order given.
struct Ordered(Vec<(&'static str, Value)>);

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct InspectCtr {
    id: String,
    name: String,
    state: &'static str,
}

/// `pod inspect`, in podman 4.3's key order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PodInspect {
    id: String,
    name: String,
    created: String,
    create_command: Vec<String>,
    exit_policy: String,
    state: &'static str,
    hostname: String,
    labels: std::collections::BTreeMap<String, String>,
    create_cgroup: bool,
    create_infra: bool,
    #[serde(rename = "InfraContainerID")]
    infra_container_id: String,
    infra_config: Ordered,
    shared_namespaces: Vec<String>,
    num_containers: usize,
    containers: Vec<InspectCtr>,
}

fn inspect_cmd(paths: &Paths, a: &InspectArgs) -> Result<()> {
    pod::reconcile(paths);
    let names = if a.latest {
        pod::list(paths)?
            .into_iter()
            .take(1)
            .map(|p| p.id)
            .collect()
    } else {
        a.pods.clone()
    };
    if names.is_empty() {
        bail!("you must provide at least one name or id");
    }
    let mut values = Vec::new();
    let mut err = None;
    for n in &names {
        match pod::resolve(paths, n).and_then(|p| inspect_value(paths, &p)) {
            Ok(v) => values.push(v),
            Err(e) => err = Some(e.context("inspecting object")),
        }
    }
    let report = Report::inspect(a.format.as_deref())?;
    if report.is_json() && values.len() == 1 && err.is_none() {
        // podman 4.3 prints one pod as an object, not a list.
        report.print_json(&values[0])?;
    } else if !values.is_empty() || err.is_none() || report.is_json() {
        report.print(&values)?;
    }
    err.map_or(Ok(()), Err)
}

// ---- top, stats, logs, clone ----

/// `pod top`'s pod: the first word, or with `--latest` the newest pod (then
/// every word is a descriptor).
fn pod_and_rest(paths: &Paths, latest: bool, args: &[String]) -> Result<(PodRecord, Vec<String>)> {
    pod::reconcile(paths);
    if latest {
        let p = pod::list(paths)?
            .into_iter()
            .next()
            .ok_or_else(|| pod::no_such("--latest"))?;
        return Ok((p, args.to_vec()));
    }
    let Some((name, rest)) = args.split_first() else {
        bail!("you must provide the name or id of a running pod");
    };
    Ok((pod::resolve(paths, name)?, rest.to_vec()))
}

/// `pod top`: the processes of every running container of the pod (the
/// infra first), in one table, as podman does; the rows are `top`'s.
fn top_cmd(opts: &Options, paths: &Paths, a: &TopArgs) -> Result<()> {
    use crate::container::exec::{self, TopDescriptor};
    let (p, descriptors) = pod_and_rest(paths, a.latest, &a.args)?;
    let mut descs = Vec::new();
    for w in descriptors.iter().flat_map(|d| d.split(',')).map(str::trim) {
        if w.is_empty() {
            continue;
        }
        descs.push(TopDescriptor::parse(w).ok_or_else(|| {
            anyhow::anyhow!(
                "unsupported top descriptor {w:?}: use {}",
                TopDescriptor::NAMES
            )
        })?);
    }
    if descs.is_empty() {
        descs = TopDescriptor::DEFAULT.to_vec();
    }
    let mut rows = Vec::new();
    for (rec, st) in pod::members(paths, &p.id)? {
        if !st.is_running() {
            continue;
        }
        // A container that stopped meanwhile has no processes to show.
        if let Ok(t) = exec::top_target(opts, &rec.id) {
            rows.extend(exec::top(&t, &descs));
        }
    }
    if rows.is_empty() {
        return Err(crate::Error::ContainerState(format!(
            "pod {} has no running containers: top can only be used on pods with running containers",
            p.name
        ))
        .into());
    }
    let headers: Vec<&str> = descs.iter().map(|d| d.header()).collect();
    super::format::write_cells(&mut std::io::stdout().lock(), Some(&headers), &rows)
}

/// One row of `pod stats` (podman's PodStatsReport, in its key order).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PodStatsRow {
    #[serde(rename = "CPU")]
    cpu: String,
    mem_usage: String,
    mem_usage_bytes: String,
    mem: String,
    #[serde(rename = "NetIO")]
    net_io: String,
    #[serde(rename = "BlockIO")]
    block_io: String,
    #[serde(rename = "PIDS")]
    pids: String,
    pod: String,
    #[serde(rename = "CID")]
    cid: String,
    name: String,
}

const POD_STATS_TABLE: &str = "table {{.Pod}}\t{{.CID}}\t{{.Name}}\t{{.CPU}}\t{{.MemUsage}}\t{{.Mem}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}";

fn pod_stats_header(field: &str) -> Option<&'static str> {
    Some(match field {
        "Pod" => "POD",
        "CID" => "CID",
        "Name" => "NAME",
        "CPU" => "CPU %",
        "MemUsage" | "MemUsageBytes" => "MEM USAGE/ LIMIT",
        "Mem" => "MEM %",
        "NetIO" => "NET IO",
        "BlockIO" => "BLOCK IO",
        "PIDS" => "PIDS",
        _ => return None,
    })
}

/// `pod stats`: `stats`' numbers (from /proc, no cgroups needed) for the
/// running containers of the pods, in podman's pod stats layout.
fn stats_cmd(paths: &Paths, a: &StatsArgs) -> Result<()> {
    use super::stats::{bytes_size, human_size, percent, Ticker};
    use crate::container::stats;
    use std::collections::HashMap;
    use std::io::IsTerminal;
    if (a.all || a.latest) && !a.pods.is_empty() {
        bail!("--all, --latest and pods cannot be used together");
    }
    pod::reconcile(paths);
    let pods: Vec<PodRecord> = if a.pods.is_empty() {
        let mut all = pod::list(paths)?;
        if a.latest {
            all.truncate(1);
        }
        all
    } else {
        a.pods
            .iter()
            .map(|n| pod::resolve(paths, n))
            .collect::<Result<_>>()?
    };
    let report = Report::list(a.format.as_deref(), POD_STATS_TABLE)?.headers(pod_stats_header);
    let ticker = if a.no_stream {
        None
    } else {
        Some(Ticker::new()?)
    };
    let clear = !a.no_reset && std::io::stdout().is_terminal();
    let mut prev: HashMap<String, stats::Sample> = HashMap::new();
    loop {
        // (pod id, container id) of every running member, the infra first.
        let mut ids = Vec::new();
        for p in &pods {
            for (rec, st) in pod::members(paths, &p.id).unwrap_or_default() {
                if st.is_running() {
                    ids.push((p.id.clone(), rec.id));
                }
            }
        }
        let cids: Vec<String> = ids.iter().map(|(_, c)| c.clone()).collect();
        let samples = stats::sample(paths, &cids);
        let mut rows = Vec::new();
        for s in &samples {
            let c = stats::compute(s, prev.get(&s.id));
            let pod_id = ids
                .iter()
                .find(|(_, cid)| *cid == s.id)
                .map(|(p, _)| short(p, false).to_string())
                .unwrap_or_default();
            rows.push(PodStatsRow {
                cpu: percent(c.cpu),
                mem_usage: format!("{} / {}", human_size(c.mem_usage), human_size(c.mem_limit)),
                mem_usage_bytes: format!(
                    "{} / {}",
                    bytes_size(c.mem_usage),
                    bytes_size(c.mem_limit)
                ),
                mem: percent(c.mem_perc),
                net_io: format!("{} / {}", human_size(c.net_input), human_size(c.net_output)),
                block_io: format!(
                    "{} / {}",
                    human_size(c.block_input),
                    human_size(c.block_output)
                ),
                pids: c.pids.to_string(),
                pod: pod_id,
                cid: short(&c.container_id, false).to_string(),
                name: c.name.clone(),
            });
        }
        if clear {
            std::io::stdout().lock().write_all(b"\x1b[2J\x1b[1;1H")?;
        }
        report.print(&rows)?;
        std::io::stdout().flush()?;
        let Some(t) = &ticker else {
            return Ok(());
        };
        prev = samples.into_iter().map(|s| (s.id.clone(), s)).collect();
        if !t.wait(5)? {
            return Ok(());
        }
    }
}

/// Writes whole lines, each after `prefix`, to stdout or stderr: lines of
/// containers followed at the same time do not interleave mid-line.
struct PrefixLines {
    prefix: String,
    stderr: bool,
    /// The line's color (`--color`), as `logs --color` colors it.
    color: Option<&'static str>,
    buf: Vec<u8>,
}

impl PrefixLines {
    fn emit(&mut self, upto: usize) -> std::io::Result<()> {
        let mut line: Vec<u8> = self.buf.drain(..upto).collect();
        let mut chunk = Vec::with_capacity(self.prefix.len() + line.len() + 10);
        if let Some(c) = self.color {
            chunk.extend_from_slice(format!("\x1b[{c}m").as_bytes());
        }
        chunk.extend_from_slice(self.prefix.as_bytes());
        let nl = line.last() == Some(&b'\n');
        if nl {
            line.pop();
        }
        chunk.extend_from_slice(&line);
        if self.color.is_some() {
            chunk.extend_from_slice(b"\x1b[0m");
        }
        if nl {
            chunk.push(b'\n');
        }
        if self.stderr {
            std::io::stderr().lock().write_all(&chunk)
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&chunk)?;
            o.flush()
        }
    }
}

impl Write for PrefixLines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        while let Some(i) = self.buf.iter().position(|c| *c == b'\n') {
            self.emit(i + 1)?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for PrefixLines {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let n = self.buf.len();
            let _ = self.emit(n);
        }
    }
}

/// `pod logs` (podman 5's): every container's log (the infra has none),
/// each line after the container's short id, or its name with `--names`;
/// with `-c` one container's, as `logs` prints it. `-f` follows them all.
fn logs_cmd(paths: &Paths, a: &LogsArgs) -> Result<()> {
    use crate::container::logs::{self, LogsOptions};
    let p = match (&a.pod, a.latest) {
        (Some(_), true) => bail!("--latest and a pod cannot be used together"),
        (Some(n), false) => pod::resolve(paths, n)?,
        (None, true) => pod::list(paths)?
            .into_iter()
            .next()
            .ok_or_else(|| pod::no_such("--latest"))?,
        (None, false) => bail!("you must provide a pod name or id, or --latest"),
    };
    let now = crate::time::now_ns();
    let since = a
        .since
        .as_deref()
        .map(|s| crate::time::parse_time_arg(s, now))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| crate::time::parse_time_arg(s, now))
        .transpose()?;
    let tail = match a.tail.as_deref() {
        None | Some("all") | Some("-1") => None,
        Some(t) => Some(t.parse::<usize>().map_err(|_| {
            anyhow::anyhow!("invalid --tail {t:?}: a number of lines, or -1 for all")
        })?),
    };
    let members: Vec<ContainerRecord> = pod::members(paths, &p.id)?
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| !r.pod_infra)
        .collect();
    let chosen: Vec<(ContainerRecord, String)> = match &a.container {
        Some(c) => {
            let r = members
                .iter()
                .find(|r| r.name == *c || (c.len() >= 3 && r.id.starts_with(c.as_str())))
                .ok_or_else(|| anyhow::anyhow!("container {c} is not in pod {}", p.name))?;
            let prefix = if a.names {
                format!("{} ", r.name)
            } else {
                String::new()
            };
            vec![(r.clone(), prefix)]
        }
        None => members
            .into_iter()
            .map(|r| {
                let prefix = if a.names {
                    format!("{} ", r.name)
                } else {
                    format!("{} ", short(&r.id, false))
                };
                (r, prefix)
            })
            .collect(),
    };
    let color = |i: usize| a.color.then(|| logs::COLORS[i % logs::COLORS.len()]);
    let one = |rec: &ContainerRecord, prefix: &str, color: Option<&'static str>| -> Result<()> {
        let o = LogsOptions {
            names: vec![rec.id.clone()],
            prefix_names: false,
            color: false,
            follow: a.follow,
            since,
            until,
            tail,
            timestamps: a.timestamps,
        };
        let mut out = PrefixLines {
            prefix: prefix.to_string(),
            stderr: false,
            color,
            buf: Vec::new(),
        };
        let mut err = PrefixLines {
            prefix: prefix.to_string(),
            stderr: true,
            color,
            buf: Vec::new(),
        };
        logs::logs(paths, &o, &mut out, &mut err)
            .with_context(|| format!("reading the logs of {}", rec.name))
    };
    if !a.follow {
        for (i, (r, prefix)) in chosen.iter().enumerate() {
            one(r, prefix, color(i))?;
        }
        return Ok(());
    }
    // Following: one reader per container, until they have all stopped.
    std::thread::scope(|s| {
        let handles: Vec<_> = chosen
            .iter()
            .enumerate()
            .map(|(i, (r, prefix))| {
                let one = &one;
                let c = color(i);
                s.spawn(move || one(r, prefix, c))
            })
            .collect();
        let mut res = Ok(());
        for h in handles {
            if let Ok(Err(e)) = h.join() {
                res = Err(e);
            }
        }
        res
    })
}

/// `pod clone`: a new pod made as the original was (its ports, network,
/// labels, exit policy, hostname, DNS), and each member made again from the
/// command that created it, in the new pod, named NAME-clone. Created, not
/// started, unless `--start`; `--destroy` removes the original after.
fn clone_cmd(opts: &Options, paths: &Paths, a: &CloneArgs) -> Result<()> {
    pod::reconcile(paths);
    let orig = pod::resolve(paths, &a.pod)?;
    let members = pod::members(paths, &orig.id)?;
    let infra = members.iter().find(|(r, _)| r.pod_infra).map(|(r, _)| r);
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-clone", orig.name));
    // Every member must be re-creatable before anything is made.
    let mut plans = Vec::new();
    for (r, _) in members.iter().filter(|(r, _)| !r.pod_infra) {
        let cmd = super::generate::split_create_command(&r.create_command).with_context(|| {
            format!(
                "container {} of pod {}: cannot clone it from the command that created it",
                r.name, orig.name
            )
        })?;
        plans.push((r.name.clone(), cmd));
    }
    crate::userns::enter()?;
    let run = run_self;
    let infra_name = a
        .infra_name
        .clone()
        .or_else(|| infra.map(|r| format!("{}-clone", r.name)));
    let new = match super::generate::split_pod_create_command(&orig.create_command) {
        // Made by `pod create`: made again by the same command line.
        Ok(cmd) => {
            let mut argv = cmd.globals.clone();
            argv.extend(["pod".into(), "create".into(), format!("--name={name}")]);
            if let Some(n) = infra_name.clone() {
                argv.push(format!("--infra-name={n}"));
            }
            let is = |o: &[String], long: &str| {
                o.first()
                    .is_some_and(|f| f == long || f.starts_with(&format!("{long}=")))
            };
            // What the clone's flags set replaces the original's.
            argv.extend(
                cmd.options
                    .iter()
                    .filter(|o| !(a.hostname.is_some() && is(o, "--hostname")))
                    .filter(|o| !(a.infra_command.is_some() && is(o, "--infra-command")))
                    .flatten()
                    .cloned(),
            );
            if let Some(h) = &a.hostname {
                argv.push(format!("--hostname={h}"));
            }
            if let Some(c) = &a.infra_command {
                argv.push(format!("--infra-command={c}"));
            }
            argv.extend(a.label.iter().map(|l| format!("--label={l}")));
            let id = run(&argv, &format!("cloning pod {}", orig.name))?;
            pod::resolve(paths, &id)?
        }
        // Made otherwise (`run --pod new:NAME`, kube play): from its record.
        Err(_) => {
            let network = if orig.network.is_empty() {
                None
            } else {
                Some(NetworkMode::parse(Some(&orig.network))?)
            };
            let spec = pod::PodSpec {
                name: Some(name.clone()),
                labels: orig
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .chain(a.label.iter().cloned())
                    .collect(),
                publish: orig.publish.clone(),
                network,
                // A hostname that was the pod's name follows the new name.
                hostname: a.hostname.clone().or_else(|| {
                    (orig.hostname != orig.name && !orig.hostname.is_empty())
                        .then(|| orig.hostname.clone())
                }),
                exit_policy: Some(orig.exit_policy.clone()).filter(|e| !e.is_empty()),
                infra: !orig.infra_id.is_empty(),
                infra_name: infra_name.clone(),
                infra_command: a
                    .infra_command
                    .as_deref()
                    .map(crate::container::opts::parse_entrypoint),
                share: Some(if orig.shared.is_empty() {
                    "none".to_string()
                } else {
                    orig.shared.join(",")
                }),
                create_command: std::env::args().collect(),
                ..Default::default()
            };
            pod::create(opts, paths, &spec)?
        }
    };
    let made = (|| -> Result<()> {
        for (cname, cmd) in &plans {
            let argv = recreate_argv(
                cmd,
                &format!("{cname}-clone"),
                &["pod", "pod-id-file"],
                &[format!("--pod={}", new.id)],
                None,
            );
            run(&argv, &format!("cloning container {cname}"))?;
        }
        Ok(())
    })();
    if let Err(e) = made {
        // Nothing half-made stays: the clone goes with its containers.
        let _ = pod::remove(paths, &new, true, Some(0));
        return Err(e);
    }
    if a.start {
        pod::start(opts, paths, &new)?;
    }
    if a.destroy {
        pod::remove(paths, &orig, true, None)
            .with_context(|| format!("removing the original pod {}", orig.name))?;
    }
    if let Some(f) = &a.pod_id_file {
        crate::storage::write_atomic(f, new.id.as_bytes())?;
    }
    writeln!(std::io::stdout().lock(), "{}", new.id)?;
    Ok(())
}

/// Run rpod itself with `argv`, stdin closed: its stdout (trimmed), or its
/// stderr as the error, after `what`.
pub(super) fn run_self(argv: &[String], what: &str) -> Result<String> {
    let me = crate::sys::exe::real_exe();
    let out = std::process::Command::new(&me)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {}", me.display()))?;
    if !out.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The `rpod [GLOBALS] create` command line that makes a container again
/// from the recorded command that created it (`pod clone`, `container
/// clone`): named `name`, without the options whose long names are in
/// `replaced` (e.g. what a clone's own flags set), with `extra` added, and
/// `image` instead of the original image if given.
pub(super) fn recreate_argv(
    cmd: &crate::systemd::CreateCommand,
    name: &str,
    replaced: &[&str],
    extra: &[String],
    image: Option<&str>,
) -> Vec<String> {
    let mut argv: Vec<String> = cmd.globals.clone();
    argv.push("create".into());
    argv.push(format!("--name={name}"));
    for o in &cmd.options {
        let first = o.first().map(String::as_str).unwrap_or_default();
        let long = first
            .strip_prefix("--")
            .map(|l| l.split('=').next().unwrap_or(l));
        if long.is_some_and(|l| replaced.contains(&l)) {
            continue;
        }
        argv.extend(o.iter().cloned());
    }
    argv.extend(extra.iter().cloned());
    argv.push("--".into());
    let mut rest = cmd.rest.iter().cloned();
    let orig_image = rest.next();
    argv.extend(image.map(str::to_string).or(orig_image));
    argv.extend(rest);
    argv
}
