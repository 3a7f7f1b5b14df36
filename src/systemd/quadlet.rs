//! Quadlet files, as podman's quadlet (4.4 and later) reads them, turned
//! into service units.
//!
//! - `web.container` becomes `web.service`, running `rpod run` with every
//!   `[Container]` key podman documents that rpod can honour
//!   ([`CONTAINER_RULES`]); the others ([`NOT_SUPPORTED`]) and unknown keys
//!   are refused with the file and line;
//! - `data.volume` becomes `data-volume.service` (`rpod volume create`),
//!   `net.network` `net-network.service` (`rpod network create`), `db.pod`
//!   `db-pod.service` (`rpod pod create` + `pod start`), `app.kube`
//!   `app.service` (`rpod kube play`, `kube down` when stopped);
//! - references between them (`Pod=db.pod`, `Network=net.network`,
//!   `Volume=data.volume:/d`) become the other unit's podman name and a
//!   dependency on its service.
//!
//! `[Unit]`, `[Service]`, `[Install]` (and other sections) are copied
//! through, and `[Install]`'s WantedBy=/RequiredBy= become symlinks in the
//! generator's output, since nobody runs `systemctl enable` on a generated
//! unit.

use super::unit::{exec_line, lit, spec, user, Unit, Word};
use super::GeneratedUnit;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the container id of a quadlet unit is kept (podman's name).
const CIDFILE: &str = "%t/%N.cid";

/// A parsed unit file: sections in order, each with its keys in order.
#[derive(Debug, Default, Clone)]
pub struct UnitFile {
    pub sections: Vec<(String, Vec<(String, String)>)>,
    /// The 1-based line of each key, parallel to `sections`.
    pub lines: Vec<Vec<usize>>,
}

impl UnitFile {
    /// Parse systemd's unit syntax: `[Section]`, `Key=Value`, `#`/`;`
    /// comments, lines continued with a trailing backslash.
    pub fn parse(text: &str, origin: &str) -> Result<UnitFile> {
        let mut f = UnitFile::default();
        let mut lines = text.lines().enumerate();
        while let Some((n, line)) = lines.next() {
            let mut line = line.trim().to_string();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            while line.ends_with('\\') {
                line.pop();
                line.push(' ');
                match lines.next() {
                    Some((_, next)) if next.trim_start().starts_with(['#', ';']) => {}
                    Some((_, next)) => line.push_str(next.trim()),
                    None => break,
                }
            }
            if let Some(name) = line.strip_prefix('[') {
                let name = name
                    .strip_suffix(']')
                    .with_context(|| format!("{origin}:{}: unclosed section header", n + 1))?;
                f.sections.push((name.to_string(), Vec::new()));
                f.lines.push(Vec::new());
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .with_context(|| format!("{origin}:{}: expected KEY=VALUE: {line:?}", n + 1))?;
            let Some((_, kv)) = f.sections.last_mut() else {
                bail!("{origin}:{}: {k:?} is outside any [Section]", n + 1);
            };
            kv.push((k.trim().to_string(), v.trim().to_string()));
            if let Some(l) = f.lines.last_mut() {
                l.push(n + 1);
            }
        }
        Ok(f)
    }

    pub fn section<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a (String, String)> + 'a {
        self.sections
            .iter()
            .filter(move |(s, _)| s == name)
            .flat_map(|(_, kv)| kv.iter())
    }

    /// All values of a list key; an empty assignment resets the list, as in systemd.
    fn list(&self, section: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in self.section(section) {
            if k == key {
                if v.is_empty() {
                    out.clear();
                } else {
                    out.push(v.clone());
                }
            }
        }
        out
    }

    /// The last value of a key.
    fn last(&self, section: &str, key: &str) -> Option<String> {
        self.section(section)
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .last()
    }
}

/// How a `[Container]` key becomes `rpod run` options.
#[derive(Clone, Copy)]
pub enum Rule {
    /// `--flag=VALUE`, the last value wins.
    One(&'static str),
    /// `--flag=VALUE` for every value.
    Each(&'static str),
    /// `--flag=WORD` for every blank-separated word of every value.
    Words(&'static str),
    /// `--flag=KEY=VALUE` for every assignment (Environment= syntax).
    Assign(&'static str),
    /// `--flag` when the (last) value is true.
    Bool(&'static str),
    /// `--flag=true|false` as given (a boolean flag whose default is true).
    BoolValue(&'static str),
    /// `--security-opt PREFIX VALUE` (the last value).
    SecOpt(&'static str),
    /// `--security-opt WORD` when true.
    SecBool(&'static str),
    /// Handled by the converter itself.
    Special,
}

use Rule::*;

/// Every `[Container]` key of podman's Quadlet (podman-systemd.unit(5)) that
/// rpod runs, and how.
pub const CONTAINER_RULES: &[(&str, Rule)] = &[
    ("AddCapability", Words("--cap-add")),
    ("AddDevice", Special),
    ("AddHost", Each("--add-host")),
    ("Annotation", Assign("--annotation")),
    ("AutoUpdate", Special),
    ("CgroupsMode", One("--cgroups")),
    ("ContainerName", Special),
    ("DNS", Each("--dns")),
    ("DNSOption", Each("--dns-option")),
    ("DNSSearch", Each("--dns-search")),
    ("DropCapability", Words("--cap-drop")),
    ("Entrypoint", One("--entrypoint")),
    ("Environment", Assign("--env")),
    ("EnvironmentFile", Special),
    ("EnvironmentHost", Bool("--env-host")),
    ("Exec", Special),
    ("ExposeHostPort", Each("--expose")),
    ("GIDMap", Each("--gidmap")),
    ("GlobalArgs", Special),
    ("Group", Special),
    ("GroupAdd", Each("--group-add")),
    ("HealthCmd", One("--health-cmd")),
    ("HealthInterval", One("--health-interval")),
    ("HealthOnFailure", One("--health-on-failure")),
    ("HealthRetries", One("--health-retries")),
    ("HealthStartPeriod", One("--health-start-period")),
    ("HealthTimeout", One("--health-timeout")),
    ("HostName", One("--hostname")),
    ("IP", One("--ip")),
    ("IP6", One("--ip6")),
    ("Image", Special),
    ("Label", Assign("--label")),
    ("LogDriver", One("--log-driver")),
    ("LogOpt", Each("--log-opt")),
    ("Mask", SecOpt("mask=")),
    ("Memory", One("--memory")),
    ("Mount", Special),
    ("Network", Special),
    ("NetworkAlias", Each("--network-alias")),
    ("NoNewPrivileges", SecBool("no-new-privileges")),
    ("Notify", Special),
    ("PidsLimit", One("--pids-limit")),
    ("Pod", Special),
    ("PodmanArgs", Special),
    ("PublishPort", Each("--publish")),
    ("Pull", One("--pull")),
    ("ReadOnly", Bool("--read-only")),
    ("ReadOnlyTmpfs", BoolValue("--read-only-tmpfs")),
    ("ReloadCmd", Special),
    ("ReloadSignal", Special),
    ("RunInit", Bool("--init")),
    ("SeccompProfile", SecOpt("seccomp=")),
    ("Secret", Each("--secret")),
    ("SecurityLabelDisable", SecBool("label=disable")),
    ("SecurityLabelFileType", SecOpt("label=filetype:")),
    ("SecurityLabelLevel", SecOpt("label=level:")),
    ("SecurityLabelNested", SecBool("label=nested")),
    ("SecurityLabelType", SecOpt("label=type:")),
    ("ShmSize", One("--shm-size")),
    ("StartWithPod", Special),
    ("StopSignal", One("--stop-signal")),
    ("StopTimeout", One("--stop-timeout")),
    ("SubGIDMap", One("--subgidname")),
    ("SubUIDMap", One("--subuidname")),
    ("Sysctl", Words("--sysctl")),
    ("Timezone", One("--tz")),
    ("Tmpfs", Each("--tmpfs")),
    ("UIDMap", Each("--uidmap")),
    ("Ulimit", Each("--ulimit")),
    ("Unmask", SecOpt("unmask=")),
    ("User", Special),
    ("UserNS", One("--userns")),
    ("Volume", Special),
    ("WorkingDir", One("--workdir")),
];

/// Keys podman's Quadlet documents that rpod cannot honour, and why: a
/// unit that silently lost them would run something else than asked.
const NOT_SUPPORTED: &[(&str, &str, &str)] = &[
    (
        "*",
        "ContainersConfModule",
        "rpod has no containers.conf modules (--module)",
    ),
    (
        "Container",
        "HealthLogDestination",
        "rpod keeps healthcheck logs in the container's state only",
    ),
    (
        "Container",
        "HealthMaxLogCount",
        "rpod's healthcheck log length is fixed",
    ),
    (
        "Container",
        "HealthMaxLogSize",
        "rpod's healthcheck log length is fixed",
    ),
    (
        "Container",
        "HealthStartupCmd",
        "rpod has no startup healthchecks",
    ),
    (
        "Container",
        "HealthStartupInterval",
        "rpod has no startup healthchecks",
    ),
    (
        "Container",
        "HealthStartupRetries",
        "rpod has no startup healthchecks",
    ),
    (
        "Container",
        "HealthStartupSuccess",
        "rpod has no startup healthchecks",
    ),
    (
        "Container",
        "HealthStartupTimeout",
        "rpod has no startup healthchecks",
    ),
    ("Container", "Retry", "rpod run has no --retry"),
    ("Container", "RetryDelay", "rpod run has no --retry-delay"),
    ("Container", "Rootfs", "rpod run has no --rootfs"),
    ("Kube", "AutoUpdate", "rpod kube play has no --annotation"),
    (
        "Kube",
        "ExitCodePropagation",
        "rpod kube play has no service container",
    ),
    ("Kube", "KubeDownForce", "rpod kube down has no --force"),
    ("Network", "DNS", "rpod network create has no --dns"),
    (
        "Network",
        "InterfaceName",
        "rpod network create has no --interface-name",
    ),
    ("Pod", "IP", "rpod pod create has no --ip"),
    ("Pod", "IP6", "rpod pod create has no --ip6"),
    (
        "Pod",
        "NetworkAlias",
        "rpod pod create has no --network-alias",
    ),
    ("Pod", "ShmSize", "rpod pod create has no --shm-size"),
    ("Pod", "UIDMap", "rpod pod create has no --uidmap"),
    ("Pod", "GIDMap", "rpod pod create has no --gidmap"),
    ("Pod", "SubUIDMap", "rpod pod create has no --subuidname"),
    ("Pod", "SubGIDMap", "rpod pod create has no --subgidname"),
    ("Pod", "UserNS", "rpod pod create has no --userns"),
    ("Pod", "Volume", "rpod pod create has no --volume"),
];

/// The Quadlet unit types rpod converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Volume,
    Network,
    Pod,
    Kube,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Container,
        Kind::Volume,
        Kind::Network,
        Kind::Pod,
        Kind::Kube,
    ];

    pub fn ext(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Volume => "volume",
            Kind::Network => "network",
            Kind::Pod => "pod",
            Kind::Kube => "kube",
        }
    }

    fn section(self) -> &'static str {
        match self {
            Kind::Container => "Container",
            Kind::Volume => "Volume",
            Kind::Network => "Network",
            Kind::Pod => "Pod",
            Kind::Kube => "Kube",
        }
    }

    /// The keys of its section rpod knows.
    fn keys(self) -> Vec<&'static str> {
        match self {
            Kind::Container => CONTAINER_RULES.iter().map(|(k, _)| *k).collect(),
            Kind::Volume => vec![
                "VolumeName",
                "Label",
                "Copy",
                "Device",
                "Type",
                "Options",
                "User",
                "Group",
                "Driver",
                "Image",
                "PodmanArgs",
                "GlobalArgs",
            ],
            Kind::Network => vec![
                "NetworkName",
                "Label",
                "Driver",
                "Gateway",
                "Subnet",
                "IPRange",
                "IPv6",
                "Internal",
                "DisableDNS",
                "IPAMDriver",
                "Options",
                "NetworkDeleteOnStop",
                "PodmanArgs",
                "GlobalArgs",
            ],
            Kind::Pod => vec![
                "PodName",
                "ServiceName",
                "Network",
                "PublishPort",
                "AddHost",
                "DNS",
                "DNSOption",
                "DNSSearch",
                "ExitPolicy",
                "HostName",
                "Label",
                "PodmanArgs",
                "GlobalArgs",
            ],
            Kind::Kube => vec![
                "Yaml",
                "Network",
                "PublishPort",
                "UserNS",
                "ConfigMap",
                "LogDriver",
                "SetWorkingDirectory",
                "PodmanArgs",
                "GlobalArgs",
            ],
        }
    }

    pub fn of(file_name: &str) -> Option<(Kind, &str)> {
        let (stem, ext) = file_name.rsplit_once('.')?;
        let k = Kind::ALL.into_iter().find(|k| k.ext() == ext)?;
        Some((k, stem))
    }
}

/// The Quadlet files a conversion may refer to (`Pod=db.pod`,
/// `Network=net.network`, `Volume=data.volume:/d`), by file name.
#[derive(Debug, Default)]
pub struct Index {
    pub files: BTreeMap<String, UnitFile>,
}

impl Index {
    /// Every Quadlet file in `dirs`, the first of a name winning; files
    /// that do not parse are left out (their own conversion reports them).
    pub fn read(dirs: &[PathBuf]) -> Index {
        let mut files = BTreeMap::new();
        for dir in dirs {
            for path in quadlet_files(dir) {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if files.contains_key(&name) {
                    continue;
                }
                if let Ok(t) = std::fs::read_to_string(&path) {
                    if let Ok(f) = UnitFile::parse(&t, &name) {
                        files.insert(name, f);
                    }
                }
            }
        }
        Index { files }
    }

    /// The podman name of the volume, network or pod a `NAME.EXT` reference
    /// means (its `VolumeName=`, … or `systemd-NAME`) and its service.
    fn resolve(&self, reference: &str, kind: Kind) -> (String, String) {
        let stem = reference.trim_end_matches(&format!(".{}", kind.ext()));
        let f = self.files.get(reference);
        let key = match kind {
            Kind::Volume => "VolumeName",
            Kind::Network => "NetworkName",
            Kind::Pod => "PodName",
            _ => "",
        };
        let name = f
            .and_then(|f| f.last(kind.section(), key))
            .unwrap_or_else(|| format!("systemd-{stem}"));
        let service = match kind {
            Kind::Pod => f
                .and_then(|f| f.last("Pod", "ServiceName"))
                .map(|s| format!("{s}.service"))
                .unwrap_or_else(|| format!("{stem}-pod.service")),
            _ => format!("{stem}-{}.service", kind.ext()),
        };
        (name, service)
    }
}

/// The Quadlet files directly in `dir`, sorted.
fn quadlet_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(Kind::of)
                .is_some()
        })
        .collect();
    files.sort();
    files
}

/// A systemd boolean.
fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// One file being converted: its origin for messages, its keys with lines.
struct Conv<'a> {
    origin: String,
    dir: PathBuf,
    f: &'a UnitFile,
    section: &'static str,
}

impl Conv<'_> {
    fn clone_shallow(&self) -> Self {
        Conv {
            origin: self.origin.clone(),
            dir: self.dir.clone(),
            f: self.f,
            section: self.section,
        }
    }

    /// "FILE:LINE" of the last `key` of the section (or just FILE).
    fn at(&self, key: &str) -> String {
        let mut line = None;
        for (i, (s, kv)) in self.f.sections.iter().enumerate() {
            if s != self.section {
                continue;
            }
            for (j, (k, _)) in kv.iter().enumerate() {
                if k == key {
                    line = self.f.lines.get(i).and_then(|l| l.get(j)).copied();
                }
            }
        }
        match line {
            Some(n) => format!("{}:{n}", self.origin),
            None => self.origin.clone(),
        }
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.f.list(self.section, key)
    }

    fn last(&self, key: &str) -> Option<String> {
        self.f.last(self.section, key)
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.last(key) {
            None => Ok(None),
            Some(v) => parse_bool(&v).map(Some).with_context(|| {
                format!("{}: {key}={v}: not a boolean (true or false)", self.at(key))
            }),
        }
    }

    fn words(&self, key: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for v in self.list(key) {
            out.extend(
                super::split_words(&v).with_context(|| format!("{}: {key}={v}", self.at(key)))?,
            );
        }
        Ok(out)
    }

    /// Environment=-style `KEY=VALUE …` assignments, in order.
    fn assignments(&self, key: &str) -> Result<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = Vec::new();
        for w in self.words(key)? {
            let (k, v) = w
                .split_once('=')
                .with_context(|| format!("{}: {key} entry {w:?} is not KEY=VALUE", self.at(key)))?;
            out.retain(|(x, _)| x != k);
            out.push((k.to_string(), v.to_string()));
        }
        Ok(out)
    }

    /// Refuse keys of the section rpod does not know, naming file and line.
    fn check_keys(&self, known: &[&str]) -> Result<()> {
        for (i, (s, kv)) in self.f.sections.iter().enumerate() {
            if s != self.section {
                continue;
            }
            for (j, (k, _)) in kv.iter().enumerate() {
                if known.contains(&k.as_str()) {
                    continue;
                }
                let line = self
                    .f
                    .lines
                    .get(i)
                    .and_then(|l| l.get(j))
                    .copied()
                    .unwrap_or(0);
                let why = NOT_SUPPORTED
                    .iter()
                    .find(|(sec, n, _)| n == k && (*sec == "*" || *sec == self.section))
                    .map(|(_, _, w)| format!(": {w}"))
                    .unwrap_or_default();
                bail!(
                    "{}:{line}: unsupported key {k:?} in [{}]{why}",
                    self.origin,
                    self.section
                );
            }
        }
        Ok(())
    }

    /// A path relative to the unit file's directory made absolute
    /// (podman's rule: `./x` and `x`, not `%h/x` or `/x`).
    fn path(&self, p: &str) -> String {
        if p.starts_with('/') || p.starts_with('%') {
            p.to_string()
        } else {
            self.dir.join(p).display().to_string()
        }
    }
}

/// The [Unit] section as written, with `SourcePath=`, plus `extra`.
fn base_unit(f: &UnitFile, origin: &str, extra: &[(&str, String)]) -> Unit {
    let mut u = Unit::default();
    for (k, v) in f.section("Unit") {
        u.add("Unit", k, v.clone());
    }
    u.add("Unit", "SourcePath", origin.to_string());
    if !u.has("Unit", "RequiresMountsFor") {
        u.add("Unit", "RequiresMountsFor", "%t/rpod");
    }
    for (k, v) in extra {
        u.add("Unit", k, v.clone());
    }
    u
}

/// Copy [Service], [Install] and any other section but the type's own and
/// [Quadlet] (the user's [Service] lines come last so that they win).
fn copy_rest(u: &mut Unit, f: &UnitFile, own: &str) {
    for (s, kv) in &f.sections {
        if s == "Unit" || s == own || s == "Quadlet" {
            continue;
        }
        for (k, v) in kv {
            u.add(s, k, v.clone());
        }
    }
}

fn global_words(c: &Conv, rpod: &str) -> Result<Vec<Word>> {
    let mut h = vec![lit(rpod)];
    h.extend(c.words("GlobalArgs")?.into_iter().map(user));
    Ok(h)
}

/// The service for the Quadlet file `name` (e.g. "web.container",
/// "db.pod"), its other files looked up in `index`.
pub fn convert_any(
    name: &str,
    source: &Path,
    f: &UnitFile,
    rpod: &str,
    index: &Index,
) -> Result<(String, Unit)> {
    let origin = source.display().to_string();
    let (kind, stem) = Kind::of(name).with_context(|| {
        format!("{origin}: a Quadlet file ends in .container, .volume, .network, .pod or .kube")
    })?;
    if stem.is_empty() {
        bail!("{origin}: empty unit name");
    }
    let c = Conv {
        origin: origin.clone(),
        // Relative paths in the file are relative to its directory, made
        // absolute: the unit runs elsewhere.
        dir: std::path::absolute(
            source
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .unwrap_or_else(|_| PathBuf::from(".")),
        f,
        section: kind.section(),
    };
    c.check_keys(&kind.keys())?;
    // [Quadlet] has one key; rpod adds no network-online dependency for it
    // to turn off.
    let q = Conv {
        section: "Quadlet",
        ..c.clone_shallow()
    };
    q.check_keys(&["DefaultDependencies"])?;
    q.bool("DefaultDependencies")?;
    match kind {
        Kind::Container => container(&c, stem, rpod, index),
        Kind::Volume => volume(&c, stem, rpod),
        Kind::Network => network(&c, stem, rpod),
        Kind::Pod => pod(&c, stem, rpod, index),
        Kind::Kube => kube(&c, stem, rpod, index),
    }
}

/// The service for the `.container` file `name` (e.g. "web.container").
pub fn convert(name: &str, source: &Path, f: &UnitFile, rpod: &str) -> Result<(String, Unit)> {
    convert_any(name, source, f, rpod, &Index::default())
}

fn container(c: &Conv, stem: &str, rpod: &str, index: &Index) -> Result<(String, Unit)> {
    let origin = &c.origin;
    let image = c
        .last("Image")
        .with_context(|| format!("{origin}: [Container] has no Image="))?;
    if image.ends_with(".image") || image.ends_with(".build") {
        bail!(
            "{}: Image={image}: rpod has no .image or .build Quadlet units",
            c.at("Image")
        );
    }
    let service = format!("{stem}.service");
    let name = c
        .last("ContainerName")
        .unwrap_or_else(|| format!("systemd-{stem}"));
    let mut deps: Vec<(&str, String)> = Vec::new();

    let mut groups: Vec<Vec<Word>> = vec![
        vec![user(format!("--name={name}"))],
        vec![spec(format!("--cidfile={CIDFILE}"))],
        vec![lit("--replace")],
        vec![lit("--rm")],
    ];
    let notify = match c.last("Notify").as_deref() {
        None => "conmon",
        Some("healthy") => "healthy",
        Some(v) => match parse_bool(v) {
            Some(true) => "container",
            Some(false) => "conmon",
            None => bail!("{}: Notify={v}: true, false or healthy", c.at("Notify")),
        },
    };
    groups.push(vec![lit(format!("--sdnotify={notify}"))]);
    groups.push(vec![lit("-d")]);
    // Pod=: the pod's podman name, bound to the pod's service.
    if let Some(p) = c.last("Pod") {
        if !p.ends_with(".pod") {
            bail!("{}: Pod={p}: the name of a .pod Quadlet file", c.at("Pod"));
        }
        let (pname, psvc) = index.resolve(&p, Kind::Pod);
        if !index.files.is_empty() && !index.files.contains_key(&p) {
            bail!("{}: Pod={p}: there is no {p}", c.at("Pod"));
        }
        groups.push(vec![user(format!("--pod={pname}"))]);
        deps.push(("BindsTo", psvc.clone()));
        deps.push(("After", psvc));
    }
    if let Some(n) = c.last("Network") {
        groups.push(vec![user(format!(
            "--network={}",
            network_ref(&n, index, &mut deps)
        ))]);
    }
    for v in c.list("Volume") {
        groups.push(vec![lit("-v"), user(volume_ref(c, &v, index, &mut deps))]);
    }
    for m in c.list("Mount") {
        groups.push(vec![
            lit("--mount"),
            user(mount_ref(c, &m, index, &mut deps)),
        ]);
    }
    for e in c.list("EnvironmentFile") {
        groups.push(vec![lit("--env-file"), user(c.path(&e))]);
    }
    for d in c.list("AddDevice") {
        // "-/dev/x": only when the device exists here.
        let (optional, d) = match d.strip_prefix('-') {
            Some(rest) => (true, rest.to_string()),
            None => (false, d),
        };
        let host = d.split(':').next().unwrap_or_default();
        if optional && !Path::new(host).exists() {
            continue;
        }
        groups.push(vec![lit("--device"), user(d)]);
    }
    match (c.last("User"), c.last("Group")) {
        (Some(u), Some(g)) => groups.push(vec![lit("--user"), user(format!("{u}:{g}"))]),
        (Some(u), None) => groups.push(vec![lit("--user"), user(u)]),
        (None, Some(_)) => bail!("{}: Group= needs User= too", c.at("Group")),
        (None, None) => {}
    }
    if let Some(a) = c.last("AutoUpdate") {
        if !matches!(a.as_str(), "registry" | "local") {
            bail!("{}: AutoUpdate={a}: registry or local", c.at("AutoUpdate"));
        }
        groups.push(vec![
            lit("--label"),
            lit(format!("io.containers.autoupdate={a}")),
        ]);
    }
    for (key, rule) in CONTAINER_RULES {
        match *rule {
            One(flag) => {
                if let Some(v) = c.last(key) {
                    groups.push(vec![user(format!("{flag}={v}"))]);
                }
            }
            Each(flag) => {
                for v in c.list(key) {
                    groups.push(vec![lit(flag), user(v)]);
                }
            }
            Words(flag) => {
                for w in c.words(key)? {
                    groups.push(vec![lit(flag), user(w)]);
                }
            }
            Assign(flag) => {
                for (k, v) in c.assignments(key)? {
                    groups.push(vec![lit(flag), user(format!("{k}={v}"))]);
                }
            }
            Bool(flag) => {
                if c.bool(key)? == Some(true) {
                    groups.push(vec![lit(flag)]);
                }
            }
            BoolValue(flag) => {
                if let Some(b) = c.bool(key)? {
                    groups.push(vec![lit(format!("{flag}={b}"))]);
                }
            }
            SecOpt(prefix) => {
                if let Some(v) = c.last(key) {
                    groups.push(vec![lit("--security-opt"), user(format!("{prefix}{v}"))]);
                }
            }
            SecBool(word) => {
                if c.bool(key)? == Some(true) {
                    groups.push(vec![lit("--security-opt"), lit(word)]);
                }
            }
            Special => {}
        }
    }
    // StartWithPod= is read by the pod's unit; check it here.
    c.bool("StartWithPod")?;
    let podman_args = c.words("PodmanArgs")?;
    if !podman_args.is_empty() {
        groups.push(podman_args.into_iter().map(user).collect());
    }
    let mut last = vec![user(image)];
    if let Some(exec) = c.last("Exec") {
        let words =
            super::split_words(&exec).with_context(|| format!("{}: Exec={exec}", c.at("Exec")))?;
        last.extend(words.into_iter().map(user));
    }
    groups.push(last);

    let mut u = base_unit(c.f, origin, &deps);
    let head = global_words(c, rpod)?;
    let with = |sub: &str| {
        let mut h = head.clone();
        h.push(lit(sub));
        h
    };
    u.add("Service", "Environment", "RPOD_SYSTEMD_UNIT=%n");
    u.add("Service", "KillMode", "mixed");
    // The container is gone before the unit counts as stopped, even after a
    // crash; the leading "-" keeps a missing container from failing the stop.
    u.add(
        "Service",
        "ExecStop",
        exec_line(
            "",
            &with("stop"),
            &[
                vec![lit("--ignore")],
                vec![spec(format!("--cidfile={CIDFILE}"))],
            ],
        ),
    );
    u.add(
        "Service",
        "ExecStopPost",
        exec_line(
            "-",
            &with("rm"),
            &[
                vec![lit("-f")],
                vec![lit("--ignore")],
                vec![spec(format!("--cidfile={CIDFILE}"))],
            ],
        ),
    );
    u.add(
        "Service",
        "ExecStopPost",
        exec_line("-", &[lit("/bin/rm")], &[vec![lit("-f"), spec(CIDFILE)]]),
    );
    if let Some(cmd) = c.last("ReloadCmd") {
        if c.last("ReloadSignal").is_some() {
            bail!(
                "{}: ReloadCmd= and ReloadSignal= exclude each other",
                c.at("ReloadCmd")
            );
        }
        let words = super::split_words(&cmd)
            .with_context(|| format!("{}: ReloadCmd={cmd}", c.at("ReloadCmd")))?;
        let mut g = vec![vec![user(&name)]];
        g.push(words.into_iter().map(user).collect());
        u.add("Service", "ExecReload", exec_line("", &with("exec"), &g));
    } else if let Some(sig) = c.last("ReloadSignal") {
        u.add(
            "Service",
            "ExecReload",
            exec_line(
                "",
                &with("kill"),
                &[vec![lit("--signal"), user(sig)], vec![user(&name)]],
            ),
        );
    }
    u.add("Service", "Type", "notify");
    u.add("Service", "NotifyAccess", "all");
    u.add("Service", "SyslogIdentifier", "%N");
    u.add(
        "Service",
        "ExecStartPre",
        exec_line("-", &[lit("/bin/rm")], &[vec![lit("-f"), spec(CIDFILE)]]),
    );
    u.add("Service", "ExecStart", exec_line("", &with("run"), &groups));
    copy_rest(&mut u, c.f, "Container");
    Ok((service, u))
}

/// `Network=x.network` → the network's name, and a dependency on its service.
fn network_ref(n: &str, index: &Index, deps: &mut Vec<(&str, String)>) -> String {
    // "x.network:OPTS" keeps its options.
    let (base, opts) = match n.split_once(':') {
        Some((b, o)) => (b, Some(o)),
        None => (n, None),
    };
    if !base.ends_with(".network") {
        return n.to_string();
    }
    let (name, svc) = index.resolve(base, Kind::Network);
    deps.push(("Requires", svc.clone()));
    deps.push(("After", svc));
    match opts {
        Some(o) => format!("{name}:{o}"),
        None => name,
    }
}

/// `Volume=` with `x.volume` sources and relative host paths resolved.
fn volume_ref(c: &Conv, v: &str, index: &Index, deps: &mut Vec<(&str, String)>) -> String {
    let mut parts: Vec<String> = v.splitn(2, ':').map(String::from).collect();
    if parts.len() == 2 {
        let src = &parts[0];
        if src.ends_with(".volume") {
            let (name, svc) = index.resolve(src, Kind::Volume);
            deps.push(("Requires", svc.clone()));
            deps.push(("After", svc));
            parts[0] = name;
        } else if src.starts_with("./") || src.starts_with("../") {
            parts[0] = c.path(src);
        } else if src.starts_with('/') || src.starts_with('%') {
            // An absolute path: the host directory it names.
            deps.push(("RequiresMountsFor", src.clone()));
        }
    }
    parts.join(":")
}

/// `Mount=` with a `source=x.volume` resolved.
fn mount_ref(c: &Conv, m: &str, index: &Index, deps: &mut Vec<(&str, String)>) -> String {
    m.split(',')
        .map(|kv| match kv.split_once('=') {
            Some((k @ ("source" | "src"), v)) if v.ends_with(".volume") => {
                let (name, svc) = index.resolve(v, Kind::Volume);
                deps.push(("Requires", svc.clone()));
                deps.push(("After", svc));
                format!("{k}={name}")
            }
            Some((k @ ("source" | "src"), v)) if v.starts_with("./") => {
                format!("{k}={}", c.path(v))
            }
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A oneshot unit that stays active (volumes, networks, kube, pods).
fn oneshot(u: &mut Unit) {
    u.add("Service", "Type", "oneshot");
    u.add("Service", "RemainAfterExit", "yes");
    u.add("Service", "SyslogIdentifier", "%N");
}

fn volume(c: &Conv, stem: &str, rpod: &str) -> Result<(String, Unit)> {
    let name = c
        .last("VolumeName")
        .unwrap_or_else(|| format!("systemd-{stem}"));
    let mut groups: Vec<Vec<Word>> = vec![vec![lit("--ignore")]];
    if let Some(d) = c.last("Driver") {
        groups.push(vec![user(format!("--driver={d}"))]);
    }
    for (k, v) in c.assignments("Label")? {
        groups.push(vec![lit("--label"), user(format!("{k}={v}"))]);
    }
    if let Some(i) = c.last("Image") {
        groups.push(vec![lit("--opt"), user(format!("image={i}"))]);
    }
    if c.bool("Copy")? == Some(true) {
        groups.push(vec![lit("--opt"), lit("copy")]);
    }
    if let Some(d) = c.last("Device") {
        groups.push(vec![lit("--opt"), user(format!("device={d}"))]);
        if let Some(t) = c.last("Type") {
            groups.push(vec![lit("--opt"), user(format!("type={t}"))]);
        }
    } else if c.last("Type").is_some() {
        bail!("{}: Type= needs Device=", c.at("Type"));
    }
    let mut o: Vec<String> = c.last("Options").into_iter().collect();
    if let Some(u) = c.last("User") {
        o.push(format!("uid={u}"));
    }
    if let Some(g) = c.last("Group") {
        o.push(format!("gid={g}"));
    }
    if !o.is_empty() {
        groups.push(vec![lit("--opt"), user(format!("o={}", o.join(",")))]);
    }
    let extra = c.words("PodmanArgs")?;
    if !extra.is_empty() {
        groups.push(extra.into_iter().map(user).collect());
    }
    groups.push(vec![user(name)]);
    let mut head = global_words(c, rpod)?;
    head.extend([lit("volume"), lit("create")]);
    let mut u = base_unit(c.f, &c.origin, &[]);
    u.add("Service", "ExecStart", exec_line("", &head, &groups));
    oneshot(&mut u);
    copy_rest(&mut u, c.f, "Volume");
    Ok((format!("{stem}-volume.service"), u))
}

fn network(c: &Conv, stem: &str, rpod: &str) -> Result<(String, Unit)> {
    let name = c
        .last("NetworkName")
        .unwrap_or_else(|| format!("systemd-{stem}"));
    let mut groups: Vec<Vec<Word>> = vec![vec![lit("--ignore")]];
    for (key, flag) in [("Driver", "--driver"), ("IPAMDriver", "--ipam-driver")] {
        if let Some(v) = c.last(key) {
            groups.push(vec![user(format!("{flag}={v}"))]);
        }
    }
    for (key, flag) in [
        ("Subnet", "--subnet"),
        ("Gateway", "--gateway"),
        ("IPRange", "--ip-range"),
    ] {
        for v in c.list(key) {
            groups.push(vec![lit(flag), user(v)]);
        }
    }
    for (key, flag) in [
        ("IPv6", "--ipv6"),
        ("Internal", "--internal"),
        ("DisableDNS", "--disable-dns"),
    ] {
        if c.bool(key)? == Some(true) {
            groups.push(vec![lit(flag)]);
        }
    }
    for (k, v) in c.assignments("Label")? {
        groups.push(vec![lit("--label"), user(format!("{k}={v}"))]);
    }
    for o in c.list("Options") {
        groups.push(vec![lit("--opt"), user(o)]);
    }
    let extra = c.words("PodmanArgs")?;
    if !extra.is_empty() {
        groups.push(extra.into_iter().map(user).collect());
    }
    groups.push(vec![user(&name)]);
    let head = global_words(c, rpod)?;
    let with = |sub: &[&str]| {
        let mut h = head.clone();
        h.extend(sub.iter().map(|s| lit(*s)));
        h
    };
    let mut u = base_unit(c.f, &c.origin, &[]);
    u.add(
        "Service",
        "ExecStart",
        exec_line("", &with(&["network", "create"]), &groups),
    );
    if c.bool("NetworkDeleteOnStop")? == Some(true) {
        u.add(
            "Service",
            "ExecStopPost",
            exec_line(
                "",
                &with(&["network", "rm"]),
                &[vec![lit("-f")], vec![user(&name)]],
            ),
        );
    }
    oneshot(&mut u);
    copy_rest(&mut u, c.f, "Network");
    Ok((format!("{stem}-network.service"), u))
}

fn pod(c: &Conv, stem: &str, rpod: &str, index: &Index) -> Result<(String, Unit)> {
    let name = c
        .last("PodName")
        .unwrap_or_else(|| format!("systemd-{stem}"));
    let service = c
        .last("ServiceName")
        .map(|s| format!("{s}.service"))
        .unwrap_or_else(|| format!("{stem}-pod.service"));
    let pod_file = format!("{stem}.pod");
    let mut deps: Vec<(&str, String)> = Vec::new();
    // The containers that join this pod (and start with it).
    let mut members = Vec::new();
    for (fname, f) in &index.files {
        let Some((Kind::Container, cstem)) = Kind::of(fname) else {
            continue;
        };
        if f.last("Container", "Pod").as_deref() != Some(pod_file.as_str()) {
            continue;
        }
        let start = f
            .last("Container", "StartWithPod")
            .map(|v| parse_bool(&v) != Some(false))
            .unwrap_or(true);
        if start {
            members.push(format!("{cstem}.service"));
        }
    }
    if !members.is_empty() {
        deps.push(("Wants", members.join(" ")));
        deps.push(("Before", members.join(" ")));
    }
    const POD_ID: &str = "%t/%N.pod-id";
    let exit_policy = c.last("ExitPolicy").unwrap_or_else(|| "stop".into());
    if !matches!(exit_policy.as_str(), "stop" | "continue") {
        bail!(
            "{}: ExitPolicy={exit_policy}: stop or continue",
            c.at("ExitPolicy")
        );
    }
    let mut groups: Vec<Vec<Word>> = vec![
        vec![spec(format!("--pod-id-file={POD_ID}"))],
        vec![lit(format!("--exit-policy={exit_policy}"))],
        vec![lit("--replace")],
        vec![user(format!("--name={name}"))],
    ];
    if let Some(n) = c.last("Network") {
        groups.push(vec![user(format!(
            "--network={}",
            network_ref(&n, index, &mut deps)
        ))]);
    }
    for (key, flag) in [
        ("PublishPort", "--publish"),
        ("AddHost", "--add-host"),
        ("DNS", "--dns"),
        ("DNSOption", "--dns-option"),
        ("DNSSearch", "--dns-search"),
    ] {
        for v in c.list(key) {
            groups.push(vec![lit(flag), user(v)]);
        }
    }
    if let Some(h) = c.last("HostName") {
        groups.push(vec![user(format!("--hostname={h}"))]);
    }
    for (k, v) in c.assignments("Label")? {
        groups.push(vec![lit("--label"), user(format!("{k}={v}"))]);
    }
    let extra = c.words("PodmanArgs")?;
    if !extra.is_empty() {
        groups.push(extra.into_iter().map(user).collect());
    }
    let head = global_words(c, rpod)?;
    let with = |sub: &[&str]| {
        let mut h = head.clone();
        h.extend(sub.iter().map(|s| lit(*s)));
        h
    };
    let mut u = base_unit(c.f, &c.origin, &deps);
    u.add("Service", "Environment", "RPOD_SYSTEMD_UNIT=%n");
    u.add(
        "Service",
        "ExecStartPre",
        exec_line("-", &[lit("/bin/rm")], &[vec![lit("-f"), spec(POD_ID)]]),
    );
    u.add(
        "Service",
        "ExecStartPre",
        exec_line("", &with(&["pod", "create"]), &groups),
    );
    u.add(
        "Service",
        "ExecStart",
        exec_line(
            "",
            &with(&["pod", "start"]),
            &[vec![spec(format!("--pod-id-file={POD_ID}"))]],
        ),
    );
    u.add(
        "Service",
        "ExecStop",
        exec_line(
            "",
            &with(&["pod", "stop"]),
            &[
                vec![spec(format!("--pod-id-file={POD_ID}"))],
                vec![lit("--ignore")],
                vec![lit("--time=10")],
            ],
        ),
    );
    u.add(
        "Service",
        "ExecStopPost",
        exec_line(
            "",
            &with(&["pod", "rm"]),
            &[
                vec![spec(format!("--pod-id-file={POD_ID}"))],
                vec![lit("--ignore")],
                vec![lit("--force")],
            ],
        ),
    );
    // podman follows the infra's conmon by a PID file; rpod's pod unit is
    // active while the pod exists, its containers' units run them.
    oneshot(&mut u);
    copy_rest(&mut u, c.f, "Pod");
    Ok((service, u))
}

fn kube(c: &Conv, stem: &str, rpod: &str, index: &Index) -> Result<(String, Unit)> {
    let yaml = c
        .last("Yaml")
        .with_context(|| format!("{}: [Kube] has no Yaml=", c.origin))?;
    let yaml = c.path(&yaml);
    let mut deps: Vec<(&str, String)> = Vec::new();
    let mut groups: Vec<Vec<Word>> = vec![vec![lit("--replace")]];
    for n in c.list("Network") {
        groups.push(vec![user(format!(
            "--network={}",
            network_ref(&n, index, &mut deps)
        ))]);
    }
    for p in c.list("PublishPort") {
        groups.push(vec![lit("--publish"), user(p)]);
    }
    for m in c.list("ConfigMap") {
        groups.push(vec![lit("--configmap"), user(c.path(&m))]);
    }
    if let Some(l) = c.last("LogDriver") {
        groups.push(vec![user(format!("--log-driver={l}"))]);
    }
    if let Some(u) = c.last("UserNS") {
        groups.push(vec![user(format!("--userns={u}"))]);
    }
    let extra = c.words("PodmanArgs")?;
    if !extra.is_empty() {
        groups.push(extra.into_iter().map(user).collect());
    }
    groups.push(vec![user(&yaml)]);
    let head = global_words(c, rpod)?;
    let with = |sub: &[&str]| {
        let mut h = head.clone();
        h.extend(sub.iter().map(|s| lit(*s)));
        h
    };
    let mut u = base_unit(c.f, &c.origin, &deps);
    u.add("Service", "Environment", "RPOD_SYSTEMD_UNIT=%n");
    match c.last("SetWorkingDirectory").as_deref() {
        None => {}
        Some("yaml") => u.add(
            "Service",
            "WorkingDirectory",
            Path::new(&yaml)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        Some("unit") => u.add("Service", "WorkingDirectory", c.dir.display().to_string()),
        Some(v) => bail!(
            "{}: SetWorkingDirectory={v}: yaml or unit",
            c.at("SetWorkingDirectory")
        ),
    }
    u.add(
        "Service",
        "ExecStart",
        exec_line("", &with(&["kube", "play"]), &groups),
    );
    u.add(
        "Service",
        "ExecStopPost",
        exec_line("", &with(&["kube", "down"]), &[vec![user(&yaml)]]),
    );
    oneshot(&mut u);
    copy_rest(&mut u, c.f, "Kube");
    Ok((format!("{stem}.service"), u))
}

/// `rpod generate systemd --quadlet FILE`: the unit's name and text; the
/// files it refers to are looked up beside it.
pub fn unit_for_file(path: &Path, rpod: &str) -> Result<GeneratedUnit> {
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    unit_for_file_in(path, rpod, &Index::read(&[dir]))
}

fn unit_for_file_in(path: &Path, rpod: &str, index: &Index) -> Result<GeneratedUnit> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let f = UnitFile::parse(&text, &path.display().to_string())?;
    let (service, u) = convert_any(name, path, &f, rpod, index)?;
    Ok(GeneratedUnit {
        file_name: service,
        text: header(path) + &u.render(),
    })
}

fn header(source: &Path) -> String {
    format!(
        "# Automatically generated by rpod {} from {}\n#\n",
        env!("CARGO_PKG_VERSION"),
        source.display()
    )
}

/// The directories a user's Quadlet files are read from, first wins:
/// $QUADLET_UNIT_DIRS (colon-separated, as podman), else
/// $XDG_CONFIG_HOME/containers/systemd, /etc/containers/systemd/users/UID,
/// /etc/containers/systemd/users.
pub fn source_dirs() -> Vec<PathBuf> {
    if let Some(v) = std::env::var_os("QUADLET_UNIT_DIRS").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&v).collect();
    }
    let mut dirs = Vec::new();
    // A generator may run with a bare environment: xdg falls back to the
    // password database for the home directory.
    if let Some(c) = crate::xdg::config_home() {
        dirs.push(c.join("containers/systemd"));
    }
    let uid = nix::unistd::getuid().as_raw();
    dirs.push(PathBuf::from(format!(
        "/etc/containers/systemd/users/{uid}"
    )));
    dirs.push(PathBuf::from("/etc/containers/systemd/users"));
    dirs
}

/// What the generator made of one Quadlet file.
#[derive(Debug)]
pub struct Generated {
    /// The Quadlet file.
    pub source: PathBuf,
    /// Its unit, or why it could not be converted (or written).
    pub unit: Result<GeneratedUnit>,
}

/// The generator: every Quadlet file (.container, .volume, .network, .pod,
/// .kube) in [`source_dirs`] becomes a unit, written with the links its
/// `[Install]` section asks for into `out` (None: a dry run, nothing is
/// written). A broken file does not stop the others: each file has its own
/// result, in the order the files were read.
pub fn generate(out: Option<&Path>) -> Vec<Generated> {
    let rpod = super::rpod_path();
    let dirs = source_dirs();
    let index = Index::read(&dirs);
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::new();
    for dir in &dirs {
        for path in quadlet_files(dir) {
            let name = path.file_name().unwrap_or_default().to_owned();
            if !seen.insert(name) {
                continue; // an earlier dir has a file of that name
            }
            let unit = (|| -> Result<GeneratedUnit> {
                let unit = unit_for_file_in(&path, &rpod, &index)?;
                let Some(out) = out else {
                    return Ok(unit);
                };
                let service = &unit.file_name;
                std::fs::create_dir_all(out)
                    .with_context(|| format!("creating {}", out.display()))?;
                crate::storage::write_atomic(&out.join(service), unit.text.as_bytes())
                    .with_context(|| format!("writing {}", out.join(service).display()))?;
                let f = UnitFile::parse(&std::fs::read_to_string(&path)?, "")?;
                for key in ["WantedBy", "RequiredBy"] {
                    for targets in f.list("Install", key) {
                        for target in targets.split_whitespace() {
                            install_link(out, target, key, service)?;
                        }
                    }
                }
                Ok(unit)
            })();
            results.push(Generated { source: path, unit });
        }
    }
    results
}

fn install_link(out: &Path, target: &str, key: &str, service: &str) -> Result<()> {
    if target.contains('/') || target.is_empty() {
        bail!("{key}={target}: not a unit name");
    }
    let suffix = if key == "WantedBy" {
        "wants"
    } else {
        "requires"
    };
    let dir = out.join(format!("{target}.{suffix}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let link = dir.join(service);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(format!("../{service}"), &link)
        .with_context(|| format!("linking {}", link.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "\
# a web server
[Unit]
Description=The web server

[Container]
Image=localhost:5000/alpine:latest
ContainerName=web
Exec=httpd -f -p 8080 \\
  -h /www
PublishPort=8080:8080
Volume=/srv/www:/www:ro
Environment=A=1 \"B=two words\"
Environment=C=%h
Network=host

[Service]
Restart=always

[Install]
WantedBy=default.target
";

    #[test]
    fn converts_a_container_file() {
        let f = UnitFile::parse(WEB, "web.container").unwrap();
        let (name, u) = convert(
            "web.container",
            Path::new("/q/web.container"),
            &f,
            "/usr/bin/rpod",
        )
        .unwrap();
        assert_eq!(name, "web.service");
        let text = u.render();
        assert!(
            text.starts_with("[Unit]\nDescription=The web server\nSourcePath=/q/web.container\n")
        );
        let exec = text
            .split("ExecStart=")
            .nth(1)
            .unwrap()
            .split("\n[")
            .next()
            .unwrap();
        let words = crate::systemd::split_words(&exec.replace("\\\n", " ")).unwrap();
        let end = words
            .iter()
            .position(|w| w == "Restart=always")
            .unwrap_or(words.len());
        assert_eq!(
            &words[..end],
            [
                "/usr/bin/rpod",
                "run",
                "--name=web",
                "--cidfile=%t/%N.cid",
                "--replace",
                "--rm",
                "--sdnotify=conmon",
                "-d",
                "--network=host",
                "-v",
                "/srv/www:/www:ro",
                "--env",
                "A=1",
                "--env",
                "B=two words",
                "--env",
                "C=%h",
                "--publish",
                "8080:8080",
                "localhost:5000/alpine:latest",
                "httpd",
                "-f",
                "-p",
                "8080",
                "-h",
                "/www"
            ]
        );
        assert!(text.contains("\nRestart=always\n"));
        assert!(text.ends_with("[Install]\nWantedBy=default.target\n"));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        let f = UnitFile::parse("[Container]\nImage=a\n\nBogus=x\n", "x").unwrap();
        let e = convert("x.container", Path::new("/q/x.container"), &f, "rpod").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/q/x.container:4: unsupported key \"Bogus\" in [Container]"
        );
        // A key podman has and rpod cannot honour says why.
        let f = UnitFile::parse("[Container]\nImage=a\nRetry=3\n", "x").unwrap();
        let e = convert("x.container", Path::new("/q/x.container"), &f, "rpod").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/q/x.container:3: unsupported key \"Retry\""),
            "{e}"
        );
        assert!(e.to_string().contains("--retry"), "{e}");
        // Bad values name their line too.
        let f = UnitFile::parse("[Container]\nImage=a\nReadOnly=maybe\n", "x").unwrap();
        let e = convert("x.container", Path::new("/q/x.container"), &f, "rpod").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/q/x.container:3: ReadOnly=maybe"),
            "{e}"
        );
        let f = UnitFile::parse("[Pod]\nUserNS=keep-id\n", "x").unwrap();
        let e = convert_any(
            "p.pod",
            Path::new("/q/p.pod"),
            &f,
            "rpod",
            &Index::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/q/p.pod:2: unsupported key \"UserNS\" in [Pod]"),
            "{e}"
        );
        let f = UnitFile::parse("[Container]\nImage=a\n[Quadlet]\nFoo=1\n", "x").unwrap();
        let e = convert("x.container", Path::new("/q/x.container"), &f, "rpod").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/q/x.container:4: unsupported key \"Foo\" in [Quadlet]"),
            "{e}"
        );
        let f = UnitFile::parse(
            "[Container]\nImage=a\n[Quadlet]\nDefaultDependencies=no\n",
            "x",
        )
        .unwrap();
        let (_, u) = convert("x.container", Path::new("/q/x.container"), &f, "rpod").unwrap();
        assert!(!u.render().contains("Quadlet"));
        let f = UnitFile::parse("[Container]\nImage=a\nPod=x\n", "x").unwrap();
        let e = convert("x.container", Path::new("x.container"), &f, "rpod").unwrap_err();
        assert!(e.to_string().contains("x.container:3: Pod=x"), "{e}");
        let f = UnitFile::parse("[Container]\nExec=true\n", "x").unwrap();
        assert!(convert("x.container", Path::new("x.container"), &f, "rpod").is_err());
        assert!(UnitFile::parse("Image=a\n", "x").is_err());
        assert!(UnitFile::parse("[Container\n", "x").is_err());
    }

    #[test]
    fn empty_assignment_resets_a_list() {
        let f = UnitFile::parse(
            "[Container]\nImage=a\nVolume=/a:/a\nVolume=\nVolume=/b:/b\n",
            "x",
        )
        .unwrap();
        assert_eq!(f.list("Container", "Volume"), ["/b:/b"]);
    }

    fn exec_start(text: &str) -> Vec<String> {
        let exec = text
            .split("\nExecStart=")
            .nth(1)
            .unwrap()
            .split("\n[")
            .next()
            .unwrap();
        let exec = exec.replace("\\\n", " ");
        let first = exec.lines().next().unwrap();
        crate::systemd::split_words(first).unwrap()
    }

    fn conv(name: &str, text: &str, index: &Index) -> String {
        let f = UnitFile::parse(text, name).unwrap();
        let (_, u) = convert_any(
            name,
            &Path::new("/q").join(name),
            &f,
            "/usr/bin/rpod",
            index,
        )
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        u.render()
    }

    #[test]
    fn every_rule_key_becomes_its_flag() {
        let text = "[Container]\nImage=img\nAddCapability=CAP_A CAP_B\nDropCapability=all\n\
                    ReadOnly=yes\nRunInit=true\nNoNewPrivileges=true\nReadOnlyTmpfs=false\n\
                    User=1\nGroup=2\nSysctl=net.a=1 net.b=2\nTimezone=UTC\nMask=/proc/a:/proc/b\n\
                    Label=a=1 b=2\nAnnotation=x=y\nNotify=true\nAutoUpdate=registry\n\
                    EnvironmentFile=env\nPodmanArgs=--oom-score-adj 5\nGlobalArgs=--log-level debug\n";
        let words = exec_start(&conv("a.container", text, &Index::default()));
        let joined = words.join(" ");
        for want in [
            "/usr/bin/rpod --log-level debug run",
            "--cap-add CAP_A --cap-add CAP_B",
            "--cap-drop all",
            "--read-only ",
            "--init",
            "--security-opt no-new-privileges",
            "--read-only-tmpfs=false",
            "--user 1:2",
            "--sysctl net.a=1 --sysctl net.b=2",
            "--tz=UTC",
            "--security-opt mask=/proc/a:/proc/b",
            "--label a=1 --label b=2",
            "--annotation x=y",
            "--sdnotify=container",
            "--label io.containers.autoupdate=registry",
            "--env-file /q/env",
            "--oom-score-adj 5 img",
        ] {
            assert!(joined.contains(want), "{want}: {joined}");
        }
    }

    #[test]
    fn pods_networks_and_volumes_are_referenced_by_name_and_dependency() {
        let mut index = Index::default();
        let files = [
            ("db.pod", "[Pod]\nPodName=dbpod\nPublishPort=8080:80\n"),
            ("net.network", "[Network]\nSubnet=10.89.1.0/24\nLabel=a=b\n"),
            ("data.volume", "[Volume]\nVolumeName=dbdata\nLabel=k=v\n"),
            (
                "app.container",
                "[Container]\nImage=img\nPod=db.pod\nVolume=data.volume:/d\n\
                 Mount=type=volume,source=data.volume,destination=/m\n",
            ),
            (
                "side.container",
                "[Container]\nImage=img\nPod=db.pod\nStartWithPod=false\n",
            ),
            (
                "k.kube",
                "[Kube]\nYaml=k.yaml\nNetwork=net.network\nPublishPort=9090:90\n",
            ),
        ];
        for (n, t) in files {
            index.files.insert(n.into(), UnitFile::parse(t, n).unwrap());
        }
        let app = conv("app.container", files[3].1, &index);
        assert!(
            app.contains("\nBindsTo=db-pod.service\nAfter=db-pod.service\n"),
            "{app}"
        );
        assert!(
            app.contains("\nRequires=data-volume.service\nAfter=data-volume.service\n"),
            "{app}"
        );
        let w = exec_start(&app).join(" ");
        assert!(w.contains("--pod=dbpod"), "{w}");
        assert!(w.contains("-v dbdata:/d"), "{w}");
        assert!(
            w.contains("--mount type=volume,source=dbdata,destination=/m"),
            "{w}"
        );
        let pod = conv("db.pod", files[0].1, &index);
        assert!(
            pod.contains("\nWants=app.service\nBefore=app.service\n"),
            "{pod}"
        );
        assert!(pod.contains("Type=oneshot\nRemainAfterExit=yes"), "{pod}");
        let pre: Vec<&str> = pod
            .lines()
            .filter(|l| l.starts_with("ExecStartPre="))
            .collect();
        assert_eq!(pre.len(), 2, "{pod}");
        assert!(pod.contains("--name=dbpod"), "{pod}");
        assert!(pod.contains("--publish 8080:80"), "{pod}");
        let net = conv("net.network", files[1].1, &index);
        let w = exec_start(&net).join(" ");
        assert_eq!(
            w,
            "/usr/bin/rpod network create --ignore --subnet 10.89.1.0/24 --label a=b systemd-net"
        );
        let vol = conv("data.volume", files[2].1, &index);
        assert_eq!(
            exec_start(&vol).join(" "),
            "/usr/bin/rpod volume create --ignore --label k=v dbdata"
        );
        let k = conv("k.kube", files[5].1, &index);
        assert_eq!(
            exec_start(&k).join(" "),
            "/usr/bin/rpod kube play --replace --network=systemd-net --publish 9090:90 /q/k.yaml"
        );
        assert!(
            k.contains("\nExecStopPost=/usr/bin/rpod kube down \\\n\t/q/k.yaml\n"),
            "{k}"
        );
        assert!(k.contains("\nRequires=net-network.service\n"), "{k}");
    }
}
