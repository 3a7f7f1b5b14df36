//! Events: every state change rpod (or a container's monitor) makes is one
//! line in the user's events log, in podman 4.3's JSON-lines format, so
//! `rpod events` and tools written for `podman events` read the same thing.
//!
//! The log is `RUNROOT/events/events.log` (podman's is
//! `$XDG_RUNTIME_DIR/libpod/tmp/events/events.log`), or containers.conf's
//! `[engine] events_logfile_path`. `events_logger` picks the backend:
//! `file` (the default here), `none` (nothing is written or read) or
//! `journald` (an error: rpod has no journal backend). The log is rotated
//! as podman rotates it: when a line would take it to
//! `events_logfile_max_size` (default 1m), the older half is dropped and a
//! `system log-rotation` event written first.
//!
//! Writing ([`emit`]) never fails the command that changed state: a failed
//! write is logged at debug level. Each line is appended with one write(2)
//! on an O_APPEND descriptor while `events.log.lock` is held with flock(2):
//! the lock is what makes rotation (read, copy, rename) safe against a
//! concurrent append, and what keeps lines whole on file systems (NFS)
//! where O_APPEND alone does not.
//!
//! The one-line pattern for a state change (see the calls in
//! `container/`, `monitor/` and `image/`):
//!
//! ```ignore
//! crate::events::container(&paths.runroot, "start", &rec);
//! crate::events::image(store.runroot(), "push", &rec.id, name);
//! crate::events::volume(&runroot, "create", name);
//! crate::events::emit(runroot, &event); // any other Event
//! ```

mod follow;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Text of an event: borrowed from the line being read (or from the record
/// being reported) whenever it can be, so reading 10,000 events allocates
/// next to nothing.
pub type Text<'a> = Cow<'a, str>;

/// One event, with podman 4.3's JSON keys in its order (Go's encoding of
/// libpod's `events.Event`: empty fields left out, `Attributes` always
/// there, `null` for events that have none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event<'a> {
    /// A container's exit code (`died`); 0 is left out, as in podman.
    #[serde(rename = "ContainerExitCode", default, skip_serializing_if = "is_zero")]
    pub container_exit_code: i32,
    /// The container, image, pod... id.
    #[serde(
        rename = "ID",
        default,
        borrow,
        deserialize_with = "de_text",
        skip_serializing_if = "str::is_empty"
    )]
    pub id: Text<'a>,
    /// A container's image, as it was named.
    #[serde(
        rename = "Image",
        default,
        borrow,
        deserialize_with = "de_text",
        skip_serializing_if = "str::is_empty"
    )]
    pub image: Text<'a>,
    /// The container, image, volume... name.
    #[serde(
        rename = "Name",
        default,
        borrow,
        deserialize_with = "de_text",
        skip_serializing_if = "str::is_empty"
    )]
    pub name: Text<'a>,
    /// The network of a network event.
    #[serde(
        rename = "network",
        default,
        borrow,
        deserialize_with = "de_text",
        skip_serializing_if = "str::is_empty"
    )]
    pub network: Text<'a>,
    /// What happened: create, start, died, pull, ...
    #[serde(rename = "Status", default, borrow, deserialize_with = "de_text")]
    pub status: Text<'a>,
    /// When, in epoch nanoseconds (RFC 3339 with nanoseconds in the file).
    #[serde(
        rename = "Time",
        serialize_with = "ser_time",
        deserialize_with = "de_time",
        default
    )]
    pub time: i64,
    /// container, image, volume, pod, network or system.
    #[serde(rename = "Type", default, borrow, deserialize_with = "de_text")]
    pub typ: Text<'a>,
    /// A `health_status` event's status (starting, healthy, unhealthy).
    #[serde(
        rename = "health_status",
        default,
        borrow,
        deserialize_with = "de_text",
        skip_serializing_if = "str::is_empty"
    )]
    pub health_status: Text<'a>,
    /// The pod of a container in one.
    #[serde(
        rename = "PodID",
        default,
        borrow,
        deserialize_with = "de_text",
        skip_serializing_if = "str::is_empty"
    )]
    pub pod_id: Text<'a>,
    /// A container's labels (`{}` when it has none); None for other types.
    #[serde(rename = "Attributes", default, borrow, deserialize_with = "de_attrs")]
    pub attributes: Option<BTreeMap<Text<'a>, Text<'a>>>,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

fn ser_time<S: Serializer>(t: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::rfc3339_nano_go(*t))
}

/// A string, borrowed from the input when it has no escapes.
struct Str<'de>(Text<'de>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

fn de_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Text<'de>, D::Error> {
    Ok(Str::deserialize(d)?.0)
}

fn de_time<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    let s = Str::deserialize(d)?.0;
    crate::time::parse_rfc3339(&s)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid time {s:?}")))
}

type Attrs<'a> = Option<BTreeMap<Text<'a>, Text<'a>>>;

fn de_attrs<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Attrs<'de>, D::Error> {
    let m: Option<BTreeMap<Str<'de>, Str<'de>>> = Deserialize::deserialize(d)?;
    Ok(m.map(|m| m.into_iter().map(|(k, v)| (k.0, v.0)).collect()))
}

impl PartialEq for Str<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Str<'_> {}
impl PartialOrd for Str<'_> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Str<'_> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

impl<'a> Event<'a> {
    /// An event of `typ` with `status`, now.
    pub fn new(typ: &'a str, status: &'a str) -> Event<'a> {
        Event {
            typ: typ.into(),
            status: status.into(),
            time: crate::time::now_ns(),
            ..Event::default()
        }
    }

    /// A container event: its id, image, name and labels.
    pub fn container(
        status: &'a str,
        rec: &'a crate::container::record::ContainerRecord,
    ) -> Event<'a> {
        Event {
            id: rec.id.as_str().into(),
            image: rec.image_name.as_str().into(),
            name: rec.name.as_str().into(),
            attributes: Some(
                rec.labels
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                    .collect(),
            ),
            ..Event::new("container", status)
        }
    }

    /// A container's `died` event, with its exit code.
    pub fn died(rec: &'a crate::container::record::ContainerRecord, code: i32) -> Event<'a> {
        Event {
            container_exit_code: code,
            ..Event::container("died", rec)
        }
    }

    /// An image event: the image's id ("" when not known yet, as for
    /// podman's `pull`) and the name it was acted on by.
    pub fn image(status: &'a str, id: &'a str, name: &'a str) -> Event<'a> {
        Event {
            id: id.into(),
            name: name.into(),
            ..Event::new("image", status)
        }
    }

    /// A volume event.
    pub fn volume(status: &'a str, name: &'a str) -> Event<'a> {
        Event {
            name: name.into(),
            ..Event::new("volume", status)
        }
    }

    /// The JSON line (without its newline) as podman writes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// podman's default line: `TIME TYPE STATUS ID (image=…, name=…, labels)`
    /// for containers and pods, `TIME image STATUS ID NAME`, `TIME volume
    /// STATUS NAME`, `TIME system STATUS [NAME]`. With `trunc`, ids are cut
    /// to 12 characters. Labels come sorted (podman's order is random).
    pub fn human(&self, trunc: bool) -> String {
        let mut s = String::with_capacity(256);
        self.write_human(trunc, &mut s);
        s
    }

    /// [`Event::human`], appended to `s` (one buffer for a whole listing).
    pub fn write_human(&self, trunc: bool, s: &mut String) {
        let id: &str = if trunc && self.id.len() > 12 {
            &self.id[..12]
        } else {
            &self.id
        };
        let mut put = |parts: &[&str]| parts.iter().for_each(|p| s.push_str(p));
        let t = crate::time::format_go_ns(self.time);
        match &*self.typ {
            "container" | "pod" => {
                put(&[&t, " ", &self.typ, " ", &self.status, " ", id]);
                put(&[" (image=", &self.image, ", name=", &self.name]);
                if !self.pod_id.is_empty() {
                    put(&[", pod_id=", &self.pod_id]);
                }
                if !self.health_status.is_empty() {
                    put(&[", health_status=", &self.health_status]);
                }
                for (k, v) in self.attributes.iter().flatten() {
                    put(&[", ", k, "=", v]);
                }
                put(&[")"]);
            }
            "network" => put(&[
                &t,
                " ",
                &self.typ,
                " ",
                &self.status,
                " ",
                id,
                " (container=",
                id,
                ", name=",
                &self.network,
                ")",
            ]),
            "image" => put(&[
                &t,
                " ",
                &self.typ,
                " ",
                &self.status,
                " ",
                id,
                " ",
                &self.name,
            ]),
            "system" if self.name.is_empty() => put(&[&t, " ", &self.typ, " ", &self.status]),
            _ => put(&[&t, " ", &self.typ, " ", &self.status, " ", &self.name]),
        }
    }

    /// The value a `--format` template sees: the JSON keys, with `Time` as
    /// Go prints a time.Time and podman's embedded `Details`.
    pub fn template_value(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("Time".into(), crate::time::format_go_ns(self.time).into());
            m.insert("TimeNano".into(), self.time.into());
            m.insert("ContainerExitCode".into(), self.container_exit_code.into());
            for k in ["ID", "Image", "Name", "PodID"] {
                m.entry(k).or_insert_with(|| "".into());
            }
            m.entry("HealthStatus")
                .or_insert_with(|| self.health_status.clone().into());
            m.entry("Network")
                .or_insert_with(|| self.network.clone().into());
            let attrs = m.get("Attributes").cloned().unwrap_or_default();
            m.insert(
                "Details".into(),
                serde_json::json!({"ID": "", "PodID": self.pod_id, "Attributes": attrs}),
            );
        }
        v
    }
}

// ---- configuration ----

/// Where events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logger {
    File,
    None,
    Journald,
}

/// containers.conf's `[engine]` events settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub logger: Logger,
    /// `events_logfile_path` (None: under the runroot).
    pub path: Option<PathBuf>,
    /// `events_logfile_max_size` in bytes; 0: never rotate.
    pub max_size: u64,
}

/// podman's default limit, "1m".
pub const DEFAULT_MAX_SIZE: u64 = 1024 * 1024;

impl Default for Config {
    fn default() -> Config {
        Config {
            logger: Logger::File,
            path: None,
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

impl Config {
    /// The settings from the containers.conf files podman reads (in its
    /// order; later files override), read once per process.
    pub fn get() -> Result<&'static Config> {
        static C: OnceLock<std::result::Result<Config, String>> = OnceLock::new();
        C.get_or_init(|| Config::load().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    fn load() -> Result<Config> {
        let mut c = Config::default();
        for (f, t) in crate::conf::tables()? {
            c.merge_table(t)
                .with_context(|| format!("parsing {}", f.display()))?;
        }
        Ok(c)
    }

    /// Apply one file's `[engine]` events keys.
    pub fn merge(&mut self, text: &str) -> Result<()> {
        self.merge_table(&text.parse()?)
    }

    fn merge_table(&mut self, v: &toml::Table) -> Result<()> {
        let Some(toml::Value::Table(e)) = v.get("engine") else {
            return Ok(());
        };
        match e.get("events_logger") {
            None => {}
            Some(toml::Value::String(s)) => {
                self.logger = match s.as_str() {
                    "file" => Logger::File,
                    "none" => Logger::None,
                    "journald" => Logger::Journald,
                    o => bail!("events_logger = {o:?}: must be \"file\", \"journald\" or \"none\""),
                }
            }
            Some(_) => bail!("events_logger must be a string"),
        }
        match e.get("events_logfile_path") {
            None => {}
            Some(toml::Value::String(s)) if s.is_empty() => self.path = None,
            Some(toml::Value::String(s)) => self.path = Some(PathBuf::from(s)),
            Some(_) => bail!("events_logfile_path must be a string"),
        }
        match e.get("events_logfile_max_size") {
            None => {}
            Some(toml::Value::Integer(n)) if *n >= 0 => self.max_size = *n as u64,
            Some(toml::Value::String(s)) => self.max_size = parse_size(s)?,
            Some(_) => bail!("events_logfile_max_size must be a size such as \"1m\""),
        }
        Ok(())
    }

    /// The events log for the store whose runtime dir is `runroot`.
    pub fn log_path(&self, runroot: &Path) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| runroot.join("events").join("events.log"))
    }
}

/// A containers.conf size: a number with an optional unit b, k, m or g
/// (kb, mb, gb, kib, ... too), 1024-based as in containers/common.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow!("events_logfile_max_size = {s:?}: not a size such as \"1m\""))?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => bail!("events_logfile_max_size = {s:?}: the unit must be b, k, m or g"),
    };
    Ok((n * mult as f64) as u64)
}

/// The error for `events_logger = "journald"`.
fn journald_error() -> anyhow::Error {
    anyhow!(
        "events_logger = \"journald\" in containers.conf: rpod has no journald backend \
         (and there may be no journal here); use events_logger = \"file\" or \"none\""
    )
}

// ---- writing ----

/// Record `ev` in the events log of the store at `runroot`. Never fails:
/// an event that can't be written is a debug message.
pub fn emit(runroot: &Path, ev: &Event) {
    if let Err(e) = try_emit(runroot, ev) {
        debug!("events: {} {} {}: {e:#}", ev.typ, ev.status, ev.name);
    }
}

/// [`emit`] a container event (one line at each state change).
pub fn container(runroot: &Path, status: &str, rec: &crate::container::record::ContainerRecord) {
    emit(runroot, &Event::container(status, rec));
}

/// [`emit`] a container's `died`, with its exit code.
pub fn died(runroot: &Path, rec: &crate::container::record::ContainerRecord, code: i32) {
    emit(runroot, &Event::died(rec, code));
}

/// [`emit`] an image event (`id` "" when not known, as for `pull`).
pub fn image(runroot: &Path, status: &str, id: &str, name: &str) {
    emit(runroot, &Event::image(status, id, name));
}

/// [`emit`] a volume event.
pub fn volume(runroot: &Path, status: &str, name: &str) {
    emit(runroot, &Event::volume(status, name));
}

fn try_emit(runroot: &Path, ev: &Event) -> Result<()> {
    let c = Config::get()?;
    match c.logger {
        Logger::None => return Ok(()),
        Logger::Journald => return Err(journald_error()),
        Logger::File => {}
    }
    write_event(&c.log_path(runroot), c.max_size, ev)
}

/// Append `ev` to the log at `path` under its lock, rotating first when the
/// line would take the file to `max_size` (0: no limit).
pub fn write_event(path: &Path, max_size: u64, ev: &Event) -> Result<()> {
    let mut line = ev.to_json();
    line.push('\n');
    let lock_path = lock_path(path);
    let _l = match crate::storage::Lock::exclusive_quiet(&lock_path) {
        Ok(l) => l,
        Err(_) => {
            let dir = path.parent().unwrap_or(Path::new("/"));
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            crate::storage::Lock::exclusive_quiet(&lock_path)?
        }
    };
    let mut f = open_append(path)?;
    if max_size > 0 {
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        if size + line.len() as u64 >= max_size {
            drop(f);
            rotate(path).with_context(|| format!("rotating {}", path.display()))?;
            f = open_append(path)?;
            let mut r = Event::new("system", "log-rotation");
            r.name = path.display().to_string().into();
            let mut rl = r.to_json();
            rl.push('\n');
            rl.push_str(&line);
            line = rl;
        }
    }
    // One write(2) for the whole line (a short write is finished by
    // write_all, still under the lock).
    f.write_all(line.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

fn open_append(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// podman's rotation: keep what follows the first line break after the
/// middle of the file (the newest half, in whole lines), written to a temp
/// file beside it and renamed over it (`write_atomic`: a crash leaves the
/// old log or the new, never a half). The caller holds the lock.
fn rotate(path: &Path) -> Result<()> {
    let mut orig = std::fs::File::open(path)?;
    let size = orig.metadata()?.len();
    orig.seek(std::io::SeekFrom::Start(size / 2))?;
    let mut rest = Vec::with_capacity((size - size / 2) as usize);
    orig.read_to_end(&mut rest)?;
    let keep = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => &rest[i + 1..],
        None => &[][..],
    };
    crate::storage::write_atomic_mode(path, keep, 0o600)
}

// ---- reading ----

/// `--filter KEY=VALUE` of `events`: the same key OR'ed, different keys
/// AND'ed (podman's semantics).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    by_key: BTreeMap<String, Vec<String>>,
    /// For `event=` and `type=`: the exact text one of the values must
    /// appear as in a matching line (a key with a value that would need
    /// escaping gets no group, and is left to the parsed check).
    raw: Vec<Vec<Vec<u8>>>,
}

impl Filters {
    pub fn parse(list: &[String]) -> Result<Filters> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in list {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| anyhow!("{f}: filters must be KEY=VALUE"))?;
            let key = match k.to_ascii_lowercase().as_str() {
                "container" => "container",
                "event" | "events" | "status" => "event",
                "image" => "image",
                "label" => "label",
                "pod" => "pod",
                "volume" => "volume",
                "type" => "type",
                _ => bail!("{k} is an invalid filter"),
            };
            by_key.entry(key.into()).or_default().push(v.to_string());
        }
        let plain = |v: &str| {
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        let raw = [("event", "Status"), ("type", "Type")]
            .iter()
            .filter_map(|(key, field)| {
                let vals = by_key.get(*key)?;
                vals.iter().all(|v| plain(v)).then(|| {
                    vals.iter()
                        .map(|v| format!("\"{field}\":\"{v}\"").into_bytes())
                        .collect()
                })
            })
            .collect();
        Ok(Filters { by_key, raw })
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Whether a raw line certainly fails the `event=`/`type=` filters,
    /// without parsing it: the file holds `"Status":"died"` exactly so (Go
    /// writes no spaces, and plain words need no escapes).
    fn rejects_raw(&self, line: &[u8]) -> bool {
        self.raw
            .iter()
            .any(|group| !group.iter().any(|n| contains(line, n)))
    }

    pub fn matches(&self, e: &Event<'_>) -> bool {
        self.by_key
            .iter()
            .all(|(k, vals)| vals.iter().any(|v| one(k, v, e)))
    }
}

fn one(key: &str, v: &str, e: &Event<'_>) -> bool {
    let named = |typ: &str| e.typ == typ && (e.name == v || (!v.is_empty() && e.id.starts_with(v)));
    match key {
        "container" => named("container"),
        "image" => named("image"),
        "pod" => named("pod"),
        "volume" => e.typ == "volume" && e.name.starts_with(v),
        "event" => e.status == v,
        "type" => e.typ == v,
        "label" => match v.split_once('=') {
            Some((lk, lv)) => e
                .attributes
                .as_ref()
                .is_some_and(|a| a.get(lk).is_some_and(|x| x == lv)),
            None => false,
        },
        _ => false,
    }
}

/// What `events` reads.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub filters: Filters,
    /// Epoch ns: only events at or after.
    pub since: Option<i64>,
    /// Epoch ns: only events at or before; a stream ends then.
    pub until: Option<i64>,
    /// Follow the log as it grows.
    pub stream: bool,
}

/// The events log `events` reads, or an error for the backends that have none.
pub fn reader_path(runroot: &Path) -> Result<Option<PathBuf>> {
    let c = Config::get()?;
    match c.logger {
        Logger::None => Ok(None),
        Logger::Journald => Err(journald_error()),
        Logger::File => Ok(Some(c.log_path(runroot))),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The `"Time":"…"` of a line without parsing the rest of it.
fn quick_time(line: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"\"Time\":\"";
    let at = memchr::memmem::find(line, KEY)? + KEY.len();
    let end = memchr::memchr(b'"', &line[at..])? + at;
    crate::time::parse_rfc3339(std::str::from_utf8(&line[at..end]).ok()?)
}

/// Pass each event of `buf` (whole lines) that the options select to `f`;
/// `f` returns false to stop. A line that is not an event is skipped with
/// a debug message (a torn line from a crash, say).
fn scan(
    buf: &[u8],
    o: &ReadOptions,
    f: &mut dyn FnMut(&Event<'_>) -> Result<bool>,
) -> Result<bool> {
    let timed = o.since.is_some() || o.until.is_some();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', buf).chain(std::iter::once(buf.len()));
    for end in ends {
        let line = &buf[start..end];
        start = end + 1;
        if line.is_empty() {
            continue;
        }
        if timed {
            if let Some(t) = quick_time(line) {
                if o.since.is_some_and(|s| t < s) || o.until.is_some_and(|u| t > u) {
                    continue;
                }
            }
        }
        if o.filters.rejects_raw(line) {
            continue;
        }
        let ev: Event = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(e) => {
                debug!("events: skipping a line that is not an event: {e}");
                continue;
            }
        };
        if o.since.is_some_and(|s| ev.time < s) || o.until.is_some_and(|u| ev.time > u) {
            continue;
        }
        if o.filters.matches(&ev) && !f(&ev)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Read the events log at `path`: what is there (with `since`/`until`, or
/// without them when not streaming), then, with `stream`, each event as it
/// is written, until `until` passes, SIGINT/SIGTERM arrive, stdout's reader
/// goes away or `f` returns false. Following uses inotify on the log's
/// directory (appends, and the rename of a rotation), never a polling loop.
pub fn read(
    path: &Path,
    o: &ReadOptions,
    f: &mut dyn FnMut(&Event<'_>) -> Result<bool>,
) -> Result<()> {
    // podman reads the old events only when asked for a time range or not
    // streaming; a plain stream starts at the end.
    let from_start = !o.stream || o.since.is_some() || o.until.is_some();
    if !o.stream {
        return read_all(path, o, f);
    }
    follow::follow(path, from_start, o.until, &mut |chunk| scan(chunk, o, f))
}

/// The whole log, a megabyte at a time (a log without a size limit may be
/// large), each chunk cut after its last whole line.
fn read_all(
    path: &Path,
    o: &ReadOptions,
    f: &mut dyn FnMut(&Event<'_>) -> Result<bool>,
) -> Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    loop {
        let have = buf.len();
        buf.resize(have + CHUNK, 0);
        let n = loop {
            match file.read(&mut buf[have..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.with_context(|| format!("reading {}", path.display()))?,
            }
        };
        buf.truncate(have + n);
        if n == 0 {
            // A last line without its newline (a writer killed mid-line is
            // skipped by scan as not an event).
            scan(&buf, o, f)?;
            return Ok(());
        }
        let Some(cut) = buf.iter().rposition(|b| *b == b'\n').map(|i| i + 1) else {
            continue;
        };
        if !scan(&buf[..cut], o, f)? {
            return Ok(());
        }
        buf.drain(..cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<'a>(typ: &'a str, status: &'a str, name: &'a str, id: &'a str) -> Event<'a> {
        Event {
            id: id.into(),
            name: name.into(),
            ..Event::new(typ, status)
        }
    }

    #[test]
    fn json_is_podmans() {
        let mut e = ev("container", "died", "ex3", "4821");
        e.image = "localhost:5000/alpine:latest".into();
        e.container_exit_code = 3;
        e.time = 1_796_612_626_157_793_334;
        e.attributes = Some([("a".into(), "b".into())].into());
        assert_eq!(
            e.to_json(),
            r#"{"ContainerExitCode":3,"ID":"4821","Image":"localhost:5000/alpine:latest","Name":"ex3","Status":"died","Time":"2026-12-07T03:03:46.157793334Z","Type":"container","Attributes":{"a":"b"}}"#
        );
        let mut i = ev("image", "pull", "localhost:5000/alpine", "");
        i.time = 1_796_612_630_099_020_800;
        assert_eq!(
            i.to_json(),
            r#"{"Name":"localhost:5000/alpine","Status":"pull","Time":"2026-12-07T03:03:50.0990208Z","Type":"image","Attributes":null}"#
        );
        // podman's own line reads back to the same event.
        let line = e.to_json();
        let back: Event = serde_json::from_str(&line).unwrap();
        // Borrowed from the line, not copied.
        assert!(matches!(back.id, Cow::Borrowed(_)));
        assert!(back
            .attributes
            .iter()
            .flatten()
            .all(|(k, v)| matches!((k, v), (Cow::Borrowed(_), Cow::Borrowed(_)))));
        assert_eq!(back, e);
        let h: Event = serde_json::from_str(r#"{"ID":"8a83","Name":"sl","Status":"health_status","Time":"2026-12-07T03:03:47.189607451+01:00","Type":"container","health_status":"starting","PodID":"66e0","Attributes":{}}"#).unwrap();
        assert_eq!(h.health_status, "starting");
        assert_eq!(h.pod_id, "66e0");
        assert_eq!(h.time, 1_796_612_627_189_607_451 - 3600 * 1_000_000_000);
    }

    #[test]
    fn human_lines_are_podmans() {
        let long = "ab".repeat(32);
        let mut e = ev("container", "start", "sl", &long);
        e.image = "img".into();
        e.time = 1_796_612_630_099_020_800;
        e.attributes = Some([("c".into(), "d".into()), ("a".into(), "b".into())].into());
        assert_eq!(
            e.human(false),
            format!(
                "2026-12-07 03:03:50.0990208 +0000 UTC container start {} (image=img, name=sl, a=b, c=d)",
                "ab".repeat(32)
            )
        );
        assert!(e.human(true).contains(" start abababababab (image"));
        let mut p = ev("image", "pull", "localhost:5000/alpine", "");
        p.time = 1_796_612_630_000_000_000;
        assert_eq!(
            p.human(false),
            "2026-12-07 03:03:50 +0000 UTC image pull  localhost:5000/alpine"
        );
        let mut v = ev("volume", "create", "vv", "");
        v.time = p.time;
        assert_eq!(
            v.human(false),
            "2026-12-07 03:03:50 +0000 UTC volume create vv"
        );
    }

    #[test]
    fn filters_or_within_and_across() {
        let f = Filters::parse(&[
            "event=start".into(),
            "event=died".into(),
            "container=web".into(),
        ])
        .unwrap();
        let mut e = ev("container", "start", "web", "abc123");
        assert!(f.matches(&e));
        e.status = "died".into();
        assert!(f.matches(&e));
        e.status = "create".into();
        assert!(!f.matches(&e));
        let by_id = Filters::parse(&["container=abc".into()]).unwrap();
        assert!(by_id.matches(&ev("container", "x", "other", "abc123")));
        assert!(!by_id.matches(&ev("image", "x", "other", "abc123")));
        let l = Filters::parse(&["label=a=b".into()]).unwrap();
        let mut c = ev("container", "create", "n", "1");
        assert!(!l.matches(&c));
        c.attributes = Some([("a".into(), "b".into())].into());
        assert!(l.matches(&c));
        assert!(!Filters::parse(&["label=a".into()]).unwrap().matches(&c));
        assert!(Filters::parse(&["volume=vv".into()])
            .unwrap()
            .matches(&ev("volume", "create", "vv1", "")));
        // The raw pre-check agrees with the parsed one.
        let f = Filters::parse(&["event=died".into(), "type=container".into()]).unwrap();
        let mut d = ev("container", "died", "n", "1");
        d.time = 5;
        let line = d.to_json();
        assert!(!f.rejects_raw(line.as_bytes()) && f.matches(&d));
        let other = ev("container", "start", "n", "1").to_json();
        assert!(f.rejects_raw(other.as_bytes()));
        let odd = Filters::parse(&["event=a\"b".into()]).unwrap();
        assert!(!odd.rejects_raw(other.as_bytes()));
        assert!(Filters::parse(&["bogus=1".into()]).is_err());
        assert!(Filters::parse(&["nokey".into()]).is_err());
    }

    #[test]
    fn config_keys() {
        let mut c = Config::default();
        c.merge("[engine]\nevents_logger = \"none\"\nevents_logfile_max_size = \"3k\"\nevents_logfile_path = \"/x/e.log\"\n").unwrap();
        assert_eq!(c.logger, Logger::None);
        assert_eq!(c.max_size, 3072);
        assert_eq!(c.log_path(Path::new("/r")), PathBuf::from("/x/e.log"));
        c.merge("[engine]\nevents_logfile_max_size = 0\nevents_logfile_path = \"\"\n")
            .unwrap();
        assert_eq!(c.max_size, 0);
        assert_eq!(
            c.log_path(Path::new("/r")),
            PathBuf::from("/r/events/events.log")
        );
        assert!(c.merge("[engine]\nevents_logger = \"syslog\"\n").is_err());
        assert_eq!(parse_size("1m").unwrap(), 1 << 20);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("1x").is_err());
    }

    #[test]
    fn rotation_keeps_the_newest_half_in_whole_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ev/events.log");
        for i in 0..200 {
            write_event(&p, 8192, &ev("volume", "create", &format!("v{i:04}"), "")).unwrap();
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.len() < 8192, "{}", text.len());
        let evs: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(evs.last().unwrap().name, "v0199");
        assert!(evs.iter().any(|e| e.status == "log-rotation"));
        // Contiguous newest events after the last rotation marker.
        let names: Vec<&str> = evs
            .iter()
            .filter(|e| e.typ == "volume")
            .map(|e| &*e.name)
            .collect();
        let first: usize = names[0][1..].parse().unwrap();
        for (k, n) in names.iter().enumerate() {
            assert_eq!(*n, format!("v{:04}", first + k));
        }
    }

    #[test]
    fn read_all_reads_every_line_across_chunks() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("events.log");
        let mut text = String::new();
        let n = 15000; // about 1.5 MB: more than one chunk
        for i in 0..n {
            let name = format!("vol{i:06}");
            text.push_str(&ev("volume", "create", &name, "").to_json());
            text.push('\n');
        }
        assert!(text.len() > 1 << 20);
        std::fs::write(&p, &text).unwrap();
        let mut seen = 0;
        read_all(&p, &ReadOptions::default(), &mut |e| {
            assert_eq!(*e.name, format!("vol{seen:06}"));
            seen += 1;
            Ok(true)
        })
        .unwrap();
        assert_eq!(seen, n);
    }

    #[test]
    fn scan_skips_by_time_and_bad_lines() {
        let mut buf = Vec::new();
        for i in 0..10 {
            let name = format!("v{i}");
            let mut e = ev("volume", "create", &name, "");
            e.time = i * 1_000_000_000;
            buf.extend_from_slice(e.to_json().as_bytes());
            buf.push(b'\n');
        }
        buf.extend_from_slice(b"{torn\n");
        let o = ReadOptions {
            since: Some(3_000_000_000),
            until: Some(5_000_000_000),
            ..ReadOptions::default()
        };
        let mut got = Vec::new();
        scan(&buf, &o, &mut |e| {
            got.push(e.name.to_string());
            Ok(true)
        })
        .unwrap();
        assert_eq!(got, ["v3", "v4", "v5"]);
    }
}
