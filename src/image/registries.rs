//! registries.conf (containers-registries.conf(5)): short-name resolution,
//! and per-registry `insecure` / `blocked` / `location` settings.
//!
//! Which files are read follows containers/image's sysregistriesv2:
//! - `--registries-conf` / `CONTAINERS_REGISTRIES_CONF` replaces the main file;
//!   drop-ins from /etc/containers/registries.conf.d and the user's
//!   registries.conf.d still apply.
//! - else the user's `$XDG_CONFIG_HOME/containers/registries.conf` if it exists,
//!   with only the user's registries.conf.d;
//! - else /etc/containers/registries.conf with both drop-in dirs.
//!
//! Later files win: `[[registry]]` tables replace earlier ones with the same
//! prefix, `unqualified-search-registries` and `short-name-mode` replace
//! earlier values when set, `[aliases]` merge key by key (an empty value
//! removes an alias). The v1 format (`[registries.search]` …) is accepted.
//! Aliases podman recorded in `$XDG_CACHE_HOME/containers/short-name-aliases.conf`
//! take precedence over those of registries.conf, as in podman.

use super::reference::{is_short_name, Reference, DOCKER_IO};
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

const SYSTEM_CONF: &str = "/etc/containers/registries.conf";
const SYSTEM_CONF_D: &str = "/etc/containers/registries.conf.d";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShortNameMode {
    Disabled,
    /// containers/image's default when no file sets a mode.
    #[default]
    Permissive,
    Enforcing,
}

/// One `[[registry]]` table after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RegistryEntry {
    prefix: String,
    location: String,
    insecure: bool,
    blocked: bool,
    origin: PathBuf,
}

/// The merged configuration of all registries.conf files that apply.
#[derive(Clone, Debug, Default)]
pub struct RegistriesConf {
    search: Vec<String>,
    search_origin: Option<PathBuf>,
    mode: ShortNameMode,
    /// short name -> (full name, or None when reset by a later file; file).
    aliases: BTreeMap<String, (Option<Reference>, PathBuf)>,
    registries: Vec<RegistryEntry>,
    files: Vec<PathBuf>,
}

/// What registries.conf says about one registry (or repository prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrySettings {
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
}

// ---- file format ----------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileV2 {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<RawRegistry>,
    aliases: Option<BTreeMap<String, String>>,
    /// The v1 format: `[registries.search] registries = [...]` etc.
    registries: Option<FileV1>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawRegistry {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize, Default)]
struct FileV1 {
    search: Option<V1List>,
    insecure: Option<V1List>,
    block: Option<V1List>,
}

#[derive(Deserialize, Default)]
struct V1List {
    #[serde(default)]
    registries: Vec<String>,
}

/// "line L, column C" of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

fn parse_file(path: &Path, text: &str) -> Result<FileV2> {
    toml::from_str::<FileV2>(text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                anyhow!("{}: line {l}, column {c}: {msg}", path.display())
            }
            None => anyhow!("{}: {msg}", path.display()),
        }
    })
}

/// Files of a drop-in dir: `*.conf`, sorted by name. A missing dir is fine.
fn drop_ins(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf") && !p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

/// Registry locations may not carry a scheme, and lose a trailing '/'.
fn parse_location(loc: &str, path: &Path) -> Result<String> {
    let loc = loc.trim_end_matches('/');
    if loc.contains("://") {
        bail!(
            "{}: invalid location {loc:?}: URI schemes are not supported",
            path.display()
        );
    }
    Ok(loc.to_string())
}

/// The length of `prefix` if it matches `name` ("host[/repo…]"), as
/// containers/image's refMatchingPrefix: whole name, or followed by '/', ':'
/// or '@'; "*.example.com" matches any subdomain host.
fn prefix_match(name: &str, prefix: &str) -> Option<usize> {
    if let Some(suffix) = prefix.strip_prefix('*') {
        // "*.example.com" applies to the host part only.
        let host = name.split('/').next().unwrap_or(name);
        let host_no_port = host.split(':').next().unwrap_or(host);
        return (host_no_port.ends_with(suffix) && host_no_port.len() > suffix.len())
            .then_some(prefix.len());
    }
    if name == prefix {
        return Some(prefix.len());
    }
    let rest = name.strip_prefix(prefix)?;
    matches!(rest.as_bytes().first(), Some(b'/' | b':' | b'@')).then_some(prefix.len())
}

/// The main file and the drop-in dirs to read, as containers/image picks them.
fn conf_paths(explicit: Option<&Path>, user_dir: Option<&Path>) -> (PathBuf, Vec<PathBuf>) {
    let user_conf = user_dir.map(|d| d.join("registries.conf"));
    let user_conf_d = user_dir.map(|d| d.join("registries.conf.d"));
    if let Some(p) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        let mut dirs = vec![PathBuf::from(SYSTEM_CONF_D)];
        dirs.extend(user_conf_d);
        (p.to_path_buf(), dirs)
    } else if let Some(u) = user_conf.filter(|u| u.exists()) {
        (u, user_conf_d.into_iter().collect())
    } else {
        let mut dirs = vec![PathBuf::from(SYSTEM_CONF_D)];
        dirs.extend(user_conf_d);
        (SYSTEM_CONF.into(), dirs)
    }
}

impl RegistriesConf {
    /// Load the files that apply to this user (see the module doc).
    pub fn load(g: &crate::options::Options) -> Result<RegistriesConf> {
        let user_dir = crate::xdg::config_home().map(|c| c.join("containers"));
        let (main, dirs) = conf_paths(g.registries_conf.as_deref(), user_dir.as_deref());
        let recorded =
            crate::xdg::cache_home().map(|c| c.join("containers/short-name-aliases.conf"));
        Self::load_files(&main, &dirs, recorded.as_deref())
    }

    fn load_files(
        main: &Path,
        dirs: &[PathBuf],
        recorded: Option<&Path>,
    ) -> Result<RegistriesConf> {
        let mut files = vec![main.to_path_buf()];
        for d in dirs {
            files.extend(drop_ins(d)?);
        }
        let mut conf = RegistriesConf::default();
        for f in &files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", f.display())),
            };
            conf.merge(f, &text)?;
        }
        if let Some(p) = recorded {
            conf.merge_recorded_aliases(p)?;
        }
        Ok(conf)
    }

    /// Merge one file's text on top of what was loaded so far.
    fn merge(&mut self, path: &Path, text: &str) -> Result<()> {
        let f = parse_file(path, text)?;
        if !f.unknown.is_empty() {
            let keys: Vec<&String> = f.unknown.keys().collect();
            debug!("{}: ignoring unknown keys {keys:?}", path.display());
        }
        let mut search = f.unqualified_search_registries;
        let mut entries: Vec<RegistryEntry> = Vec::new();
        if let Some(v1) = f.registries {
            if search.is_some() || !f.registry.is_empty() || f.aliases.is_some() {
                bail!(
                    "{}: mixing the v1 [registries.*] tables with v2 settings is not supported",
                    path.display()
                );
            }
            search = v1.search.map(|s| s.registries);
            let mut v1map: BTreeMap<String, RegistryEntry> = BTreeMap::new();
            for (list, insecure) in [(v1.insecure, true), (v1.block, false)] {
                for r in list.map(|l| l.registries).unwrap_or_default() {
                    let loc = parse_location(&r, path)?;
                    let e = v1map.entry(loc.clone()).or_insert(RegistryEntry {
                        prefix: loc.clone(),
                        location: loc,
                        insecure: false,
                        blocked: false,
                        origin: path.into(),
                    });
                    if insecure {
                        e.insecure = true;
                    } else {
                        e.blocked = true;
                    }
                }
            }
            entries.extend(v1map.into_values());
        }
        for (i, r) in f.registry.into_iter().enumerate() {
            if r.unknown.contains_key("mirror") {
                // Silently pulling from elsewhere than configured would surprise.
                warn!(
                    "{}: [[registry]] {}: mirrors are not supported yet; pulling from the registry itself",
                    path.display(),
                    i + 1
                );
            }
            if !r.unknown.is_empty() {
                let keys: Vec<&String> = r.unknown.keys().collect();
                debug!(
                    "{}: [[registry]] {}: ignoring keys {keys:?}",
                    path.display(),
                    i + 1
                );
            }
            let location = match r.location.as_deref() {
                Some(l) if !l.is_empty() => parse_location(l, path)?,
                _ => String::new(),
            };
            let prefix = match r.prefix.as_deref() {
                Some(p) if !p.is_empty() => parse_location(p, path)?,
                _ => location.clone(),
            };
            if location.is_empty() && !prefix.starts_with("*.") {
                bail!(
                    "{}: [[registry]] number {}: location is unset and prefix {prefix:?} is not of the form *.example.com",
                    path.display(),
                    i + 1
                );
            }
            entries.push(RegistryEntry {
                prefix,
                location,
                insecure: r.insecure,
                blocked: r.blocked,
                origin: path.into(),
            });
        }
        for e in entries {
            self.registries.retain(|o| o.prefix != e.prefix);
            self.registries.push(e);
        }
        if let Some(s) = search {
            for r in &s {
                if r.is_empty() || r.contains('/') || r.contains("://") {
                    bail!(
                        "{}: unqualified-search-registries: {r:?} is not a registry host[:port]",
                        path.display()
                    );
                }
            }
            self.search = s;
            self.search_origin = Some(path.into());
        }
        if let Some(m) = f.short_name_mode {
            self.mode = match m.as_str() {
                "disabled" => ShortNameMode::Disabled,
                "permissive" => ShortNameMode::Permissive,
                "enforcing" => ShortNameMode::Enforcing,
                other => bail!(
                    "{}: short-name-mode {other:?}: must be disabled, permissive or enforcing",
                    path.display()
                ),
            };
        }
        if let Some(aliases) = f.aliases {
            self.merge_aliases(path, aliases)?;
        }
        self.files.push(path.into());
        Ok(())
    }

    fn merge_aliases(&mut self, path: &Path, aliases: BTreeMap<String, String>) -> Result<()> {
        for (name, value) in aliases {
            let bad = |why: &str| anyhow!("{}: alias {name:?}: {why}", path.display());
            if !is_short_name(&name) || name.contains([':', '@']) {
                return Err(bad("must be a short name without tag or digest"));
            }
            Reference::parse(&name).map_err(|e| bad(&format!("{e:#}")))?;
            if value.is_empty() {
                self.aliases.insert(name, (None, path.into()));
                continue;
            }
            if is_short_name(&value) {
                return Err(bad(&format!("value {value:?} must name a registry")));
            }
            let r = Reference::parse(&value).map_err(|e| bad(&format!("{e:#}")))?;
            if r.tag.is_some() || r.digest.is_some() {
                return Err(bad(&format!(
                    "value {value:?} must not carry a tag or digest"
                )));
            }
            self.aliases.insert(name, (Some(r), path.into()));
        }
        Ok(())
    }

    fn merge_recorded_aliases(&mut self, path: &Path) -> Result<()> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let f = parse_file(path, &text)?;
        if let Some(a) = f.aliases {
            self.merge_aliases(path, a)?;
        }
        Ok(())
    }

    /// The files that were read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    pub fn search_registries(&self) -> &[String] {
        &self.search
    }

    /// The `[[registry]]` entry with the longest prefix matching `name`
    /// ("host[:port][/repo…]").
    fn entry(&self, name: &str) -> Option<&RegistryEntry> {
        self.registries
            .iter()
            .filter_map(|e| prefix_match(name, &e.prefix).map(|n| (n, e)))
            .max_by_key(|(n, _)| *n)
            .map(|(_, e)| e)
    }

    /// Settings for "host[:port]" (or a repository name, to honour
    /// namespace prefixes). Unlisted registries: secure, not blocked.
    pub fn registry(&self, host: &str) -> RegistrySettings {
        match self.entry(host) {
            Some(e) => RegistrySettings {
                location: if e.location.is_empty() {
                    host.to_string()
                } else {
                    e.location.clone()
                },
                insecure: e.insecure,
                blocked: e.blocked,
            },
            None => RegistrySettings {
                location: host.to_string(),
                insecure: false,
                blocked: false,
            },
        }
    }

    /// Where to actually pull `r` from: a `[[registry]]` whose location
    /// differs from its prefix rewrites the matching part of the name
    /// ("example.com/foo" -> "mirror.local/bar/foo"). Errors if blocked.
    pub fn pull_source(&self, r: &Reference) -> Result<(Reference, RegistrySettings)> {
        let name = r.repo_name();
        let Some(e) = self.entry(&name) else {
            return Ok((r.clone(), self.registry(&r.registry)));
        };
        if e.blocked {
            bail!(
                "registry {} is blocked in {}",
                r.registry,
                e.origin.display()
            );
        }
        let settings = RegistrySettings {
            location: if e.location.is_empty() {
                r.registry.clone()
            } else {
                e.location.clone()
            },
            insecure: e.insecure,
            blocked: false,
        };
        if e.location.is_empty() || e.prefix.starts_with("*.") || e.location == e.prefix {
            return Ok((r.clone(), settings));
        }
        let rewritten = format!("{}{}", e.location, &name[e.prefix.len()..]);
        let mut new = Reference::parse(&rewritten).with_context(|| {
            format!(
                "rewriting {name} with the location of {}",
                e.origin.display()
            )
        })?;
        new.tag = r.tag.clone();
        new.digest = r.digest.clone();
        Ok((new, settings))
    }

    /// Candidates to try in order for a user-typed name, each with a tag
    /// ("latest" unless a tag or digest was given). Full names give
    /// themselves. Short names give their alias if there is one, else one
    /// candidate per unqualified-search registry (docker.io when no file sets
    /// the list; an error, as podman, when a file sets it empty). With several candidates, as podman: `disabled` and
    /// `permissive` without a terminal try them all; on a terminal the user
    /// picks one; `enforcing` without a terminal is an error. Candidates on
    /// blocked registries are errors (full names) or skipped (search lists).
    pub fn resolve(&self, name: &str) -> Result<Vec<Reference>> {
        let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        self.resolve_with(name, tty, &mut prompt)
    }

    fn resolve_with(
        &self,
        name: &str,
        tty: bool,
        pick: &mut dyn FnMut(&str, &[Reference]) -> Result<usize>,
    ) -> Result<Vec<Reference>> {
        let parsed = Reference::parse(name)?;
        if !is_short_name(name) {
            let r = parsed.with_default_tag();
            self.check_blocked(&r)?;
            return Ok(vec![r]);
        }
        // The name as typed, without tag or digest, is what aliases are keyed by.
        let typed = strip_tag_digest(name);
        let with_suffix = |mut r: Reference| {
            r.tag = parsed.tag.clone();
            r.digest = parsed.digest.clone();
            r.with_default_tag()
        };
        // An alias reset to "" by a later file falls through to the search list.
        if let Some((Some(target), origin)) = self.aliases.get(typed) {
            let r = with_suffix(target.clone());
            self.check_blocked(&r).with_context(|| {
                format!("short name {typed:?} is an alias (in {})", origin.display())
            })?;
            debug!("resolved {name:?} as an alias ({})", origin.display());
            return Ok(vec![r]);
        }
        let search: Vec<String> = match (&self.search_origin, self.search.is_empty()) {
            (_, false) => self.search.clone(),
            // No file says anything: docker's behaviour.
            (None, true) => vec![DOCKER_IO.to_string()],
            // A file explicitly lists none: podman's error.
            (Some(origin), true) => bail!(
                "short name {name:?} did not resolve to an alias and no unqualified-search registries are defined in {}",
                origin.display()
            ),
        };
        let mut out = Vec::new();
        let mut blocked = Vec::new();
        for reg in &search {
            let r = Reference::parse(&format!("{reg}/{typed}"))
                .with_context(|| format!("completing {name:?} with search registry {reg:?}"))?;
            let r = with_suffix(r);
            if self.check_blocked(&r).is_err() {
                blocked.push(reg.clone());
                continue;
            }
            if !out.contains(&r) {
                out.push(r);
            }
        }
        if out.is_empty() {
            bail!(
                "short name {name:?}: every search registry is blocked in registries.conf ({})",
                blocked.join(", ")
            );
        }
        if out.len() == 1 || self.mode == ShortNameMode::Disabled {
            return Ok(out);
        }
        if !tty {
            return match self.mode {
                ShortNameMode::Enforcing => bail!(
                    "short-name resolution enforced but cannot prompt without a TTY: {name:?} could be any of {}; use a full name",
                    out.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
                ),
                _ => Ok(out),
            };
        }
        let i = pick(name, &out)?;
        Ok(vec![out.swap_remove(i)])
    }

    fn check_blocked(&self, r: &Reference) -> Result<()> {
        match self.entry(&r.repo_name()) {
            Some(e) if e.blocked => bail!(
                "registry {} is blocked in {}",
                r.registry,
                e.origin.display()
            ),
            _ => Ok(()),
        }
    }
}

fn strip_tag_digest(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    }
}

/// Ask on the terminal which candidate to use (podman shows a menu).
fn prompt(name: &str, cands: &[Reference]) -> Result<usize> {
    use std::io::{BufRead, Write};
    let mut err = std::io::stderr().lock();
    writeln!(err, "? Please select an image for {name:?}:")?;
    for (i, c) in cands.iter().enumerate() {
        writeln!(err, "  {}) {c}", i + 1)?;
    }
    loop {
        write!(err, "Number [1-{}]: ", cands.len())?;
        err.flush()?;
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            bail!("short-name resolution of {name:?}: no image selected");
        }
        if let Ok(n) = line.trim().parse::<usize>() {
            if (1..=cands.len()).contains(&n) {
                return Ok(n - 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(files: &[(&str, &str)]) -> Result<RegistriesConf> {
        let mut c = RegistriesConf::default();
        for (p, t) in files {
            c.merge(Path::new(p), t)?;
        }
        Ok(c)
    }

    fn names(v: &[Reference]) -> Vec<String> {
        v.iter().map(|r| r.to_string()).collect()
    }

    fn no_prompt(_: &str, _: &[Reference]) -> Result<usize> {
        panic!("must not prompt")
    }

    const BASIC: &str = r#"
unqualified-search-registries = ["localhost:5000", "quay.io", "docker.io"]
short-name-mode = "permissive"

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"ns/tool" = "quay.io/tools/tool"

[[registry]]
location = "localhost:5000"
insecure = true

[[registry]]
location = "evil.example.com"
blocked = true

[[registry]]
prefix = "quay.io/blocked"
location = "quay.io/blocked"
blocked = true

[[registry]]
prefix = "example.com/foo"
location = "mirror.local:5000/bar"

[[registry]]
prefix = "*.internal.example"
insecure = true
"#;

    #[test]
    fn search_order_and_docker_library() {
        let c = conf(&[("/a.conf", BASIC)]).unwrap();
        let v = c.resolve_with("alpine", false, &mut no_prompt).unwrap();
        assert_eq!(
            names(&v),
            [
                "localhost:5000/alpine:latest",
                "quay.io/alpine:latest",
                "docker.io/library/alpine:latest"
            ]
        );
        let v = c.resolve_with("ns/x:3", false, &mut no_prompt).unwrap();
        assert_eq!(v[2].to_string(), "docker.io/ns/x:3");
        assert_eq!(v[0].to_string(), "localhost:5000/ns/x:3");
    }

    #[test]
    fn full_names_are_themselves() {
        let c = conf(&[("/a.conf", BASIC)]).unwrap();
        let v = c
            .resolve_with("localhost:5000/alpine", false, &mut no_prompt)
            .unwrap();
        assert_eq!(names(&v), ["localhost:5000/alpine:latest"]);
        let v = c
            .resolve_with("docker.io/alpine:3", false, &mut no_prompt)
            .unwrap();
        assert_eq!(names(&v), ["docker.io/library/alpine:3"]);
    }

    #[test]
    fn aliases_win_and_keep_tag() {
        let c = conf(&[("/a.conf", BASIC)]).unwrap();
        let v = c.resolve_with("fedora:39", false, &mut no_prompt).unwrap();
        assert_eq!(names(&v), ["registry.fedoraproject.org/fedora:39"]);
        let v = c.resolve_with("ns/tool", false, &mut no_prompt).unwrap();
        assert_eq!(names(&v), ["quay.io/tools/tool:latest"]);
    }

    #[test]
    fn no_search_registries_means_docker_io() {
        let c = conf(&[("/a.conf", "")]).unwrap();
        let v = c.resolve_with("alpine", false, &mut no_prompt).unwrap();
        assert_eq!(names(&v), ["docker.io/library/alpine:latest"]);
        // An explicitly empty list is the user's choice: no guessing.
        let c = conf(&[("/a.conf", "unqualified-search-registries = []")]).unwrap();
        let e = format!(
            "{:#}",
            c.resolve_with("alpine", false, &mut no_prompt).unwrap_err()
        );
        assert!(
            e.contains("no unqualified-search registries are defined in /a.conf"),
            "{e}"
        );
        assert!(c.resolve_with("quay.io/x", false, &mut no_prompt).is_ok());
    }

    #[test]
    fn short_name_modes() {
        let two = r#"unqualified-search-registries = ["a.io", "b.io"]"#;
        let enforcing = "short-name-mode = \"enforcing\"";
        let c = conf(&[("/a.conf", two), ("/b.conf", enforcing)]).unwrap();
        let e = c.resolve_with("x", false, &mut no_prompt).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("cannot prompt without a TTY"), "{e}");
        assert!(
            e.contains("a.io/x:latest") && e.contains("b.io/x:latest"),
            "{e}"
        );
        // On a terminal the user picks.
        let v = c.resolve_with("x", true, &mut |_, _| Ok(1)).unwrap();
        assert_eq!(names(&v), ["b.io/x:latest"]);
        // Permissive without a terminal: all of them.
        let c = conf(&[("/a.conf", two)]).unwrap();
        assert_eq!(c.mode, ShortNameMode::Permissive);
        assert_eq!(c.resolve_with("x", false, &mut no_prompt).unwrap().len(), 2);
        // Disabled never prompts.
        let c = conf(&[
            ("/a.conf", two),
            ("/b.conf", "short-name-mode = \"disabled\""),
        ])
        .unwrap();
        assert_eq!(c.resolve_with("x", true, &mut no_prompt).unwrap().len(), 2);
        // One candidate is never ambiguous.
        let c = conf(&[(
            "/a.conf",
            "unqualified-search-registries = [\"a.io\"]\nshort-name-mode = \"enforcing\"",
        )])
        .unwrap();
        assert_eq!(c.resolve_with("x", false, &mut no_prompt).unwrap().len(), 1);
    }

    #[test]
    fn insecure_blocked_and_prefixes() {
        let c = conf(&[("/a.conf", BASIC)]).unwrap();
        assert!(c.registry("localhost:5000").insecure);
        assert!(!c.registry("localhost:5001").insecure);
        assert!(!c.registry("localhost").insecure);
        assert!(c.registry("evil.example.com").blocked);
        assert!(c.registry("a.internal.example").insecure);
        assert!(c.registry("a.b.internal.example:8080").insecure);
        assert!(!c.registry("internal.example").insecure);
        assert_eq!(
            c.registry("nothing.io"),
            RegistrySettings {
                location: "nothing.io".into(),
                insecure: false,
                blocked: false
            }
        );
        // Blocked full names are errors naming the registry and the file.
        let e = c
            .resolve_with("evil.example.com/x", false, &mut no_prompt)
            .unwrap_err();
        assert!(format!("{e:#}").contains("registry evil.example.com is blocked in /a.conf"));
        // Namespace prefixes: only that namespace is blocked.
        assert!(c
            .resolve_with("quay.io/blocked/x", false, &mut no_prompt)
            .is_err());
        assert!(c
            .resolve_with("quay.io/blockedx/x", false, &mut no_prompt)
            .is_ok());
        assert!(c
            .resolve_with("quay.io/ok/x", false, &mut no_prompt)
            .is_ok());
    }

    #[test]
    fn blocked_search_registries_are_skipped() {
        let t = r#"
unqualified-search-registries = ["bad.io", "good.io"]
[[registry]]
location = "bad.io"
blocked = true
"#;
        let c = conf(&[("/a.conf", t)]).unwrap();
        let v = c.resolve_with("x", false, &mut no_prompt).unwrap();
        assert_eq!(names(&v), ["good.io/x:latest"]);
        let t2 = "unqualified-search-registries = [\"bad.io\"]";
        let c = conf(&[("/a.conf", t), ("/b.conf", t2)]).unwrap();
        let e = format!(
            "{:#}",
            c.resolve_with("x", false, &mut no_prompt).unwrap_err()
        );
        assert!(e.contains("blocked") && e.contains("bad.io"), "{e}");
    }

    #[test]
    fn prefix_matching_rules() {
        assert_eq!(prefix_match("example.com", "example.com"), Some(11));
        assert_eq!(prefix_match("example.com/foo", "example.com"), Some(11));
        assert_eq!(
            prefix_match("example.com:5000/foo", "example.com"),
            Some(11)
        );
        assert_eq!(prefix_match("example.community/foo", "example.com"), None);
        assert_eq!(prefix_match("example.com/foobar", "example.com/foo"), None);
        assert_eq!(
            prefix_match("example.com/foo/bar", "example.com/foo"),
            Some(15)
        );
        assert_eq!(prefix_match("exa", "example.com"), None);
    }

    #[test]
    fn longest_prefix_wins_and_location_rewrites() {
        let t = r#"
[[registry]]
location = "example.com"
insecure = true
[[registry]]
prefix = "example.com/foo"
location = "mirror.local:5000/bar"
"#;
        let c = conf(&[("/a.conf", t)]).unwrap();
        let r = Reference::parse("example.com/foo/img:1").unwrap();
        let (src, s) = c.pull_source(&r).unwrap();
        assert_eq!(src.to_string(), "mirror.local:5000/bar/img:1");
        assert!(!s.insecure);
        let r = Reference::parse("example.com/other:1").unwrap();
        let (src, s) = c.pull_source(&r).unwrap();
        assert_eq!(src.to_string(), "example.com/other:1");
        assert!(s.insecure);
    }

    #[test]
    fn drop_ins_override_in_order() {
        let main = r#"
unqualified-search-registries = ["a.io"]
short-name-mode = "enforcing"
[aliases]
"x" = "a.io/x"
"y" = "a.io/y"
[[registry]]
location = "a.io"
insecure = true
"#;
        let d1 = r#"
[[registry]]
location = "a.io"
insecure = false
[aliases]
"x" = "b.io/x"
"y" = ""
"#;
        let d2 = r#"unqualified-search-registries = ["c.io", "d.io"]"#;
        let c = conf(&[("/main", main), ("/d/1.conf", d1), ("/d/2.conf", d2)]).unwrap();
        assert!(!c.registry("a.io").insecure);
        assert_eq!(c.search_registries(), ["c.io", "d.io"]);
        assert_eq!(c.mode, ShortNameMode::Enforcing);
        let v = c.resolve_with("x", false, &mut no_prompt).unwrap();
        assert_eq!(names(&v), ["b.io/x:latest"]);
        // "y" was reset by a drop-in: back to the (ambiguous) search list.
        assert!(c.resolve_with("y", false, &mut no_prompt).is_err());
    }

    #[test]
    fn v1_format() {
        let t = r#"
[registries.search]
registries = ["a.io", "b.io"]
[registries.insecure]
registries = ["a.io"]
[registries.block]
registries = ["c.io"]
"#;
        let c = conf(&[("/v1.conf", t)]).unwrap();
        assert_eq!(c.search_registries(), ["a.io", "b.io"]);
        assert!(c.registry("a.io").insecure);
        assert!(c.registry("c.io").blocked);
        let mixed = format!("unqualified-search-registries = [\"x.io\"]\n{t}");
        assert!(conf(&[("/v1.conf", &mixed)]).is_err());
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let bad = "unqualified-search-registries = [\"a.io\"]\n\n[[registry]\nlocation = \"x\"\n";
        let e = format!("{:#}", conf(&[("/etc/r.conf", bad)]).unwrap_err());
        assert!(e.starts_with("/etc/r.conf: line 3"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let wrong_type = "unqualified-search-registries = \"a.io\"\n";
        let e = format!("{:#}", conf(&[("/etc/r.conf", wrong_type)]).unwrap_err());
        assert!(e.starts_with("/etc/r.conf: line 1"), "{e}");
        for (t, want) in [
            ("short-name-mode = \"sometimes\"", "short-name-mode"),
            ("[[registry]]\nlocation = \"https://x.io\"", "URI schemes"),
            ("[[registry]]\ninsecure = true", "location is unset"),
            ("[aliases]\n\"x\" = \"y\"", "must name a registry"),
            ("[aliases]\n\"x\" = \"a.io/y:1\"", "tag or digest"),
            ("[aliases]\n\"a.io/x\" = \"a.io/y\"", "short name"),
            (
                "unqualified-search-registries = [\"a.io/ns\"]",
                "host[:port]",
            ),
        ] {
            let e = format!("{:#}", conf(&[("/f.conf", t)]).unwrap_err());
            assert!(e.contains(want) && e.contains("/f.conf"), "{t}: {e}");
        }
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn load_reads_main_file_then_drop_ins_and_recorded_aliases() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        let user = t.join("user");
        let sys_d = t.join("sys.d");
        let user_d = user.join("registries.conf.d");
        std::fs::create_dir_all(&sys_d).unwrap();
        std::fs::create_dir_all(&user_d).unwrap();
        let main = user.join("registries.conf");
        std::fs::write(&main, "unqualified-search-registries = [\"m.io\"]\n").unwrap();
        std::fs::write(sys_d.join("10-a.conf"), "[aliases]\n\"x\" = \"s.io/x\"\n").unwrap();
        std::fs::write(user_d.join("20-b.conf"), "[aliases]\n\"x\" = \"u.io/x\"\n").unwrap();
        std::fs::write(
            user_d.join("05-c.conf"),
            "unqualified-search-registries = [\"c.io\"]\n",
        )
        .unwrap();
        std::fs::write(user_d.join("ignored.txt"), "not toml [").unwrap();
        let recorded = t.join("short-name-aliases.conf");
        std::fs::write(&recorded, "[aliases]\n\"z\" = \"r.io/z\"\n").unwrap();

        let c =
            RegistriesConf::load_files(&main, &[sys_d.clone(), user_d.clone()], Some(&recorded))
                .unwrap();
        assert_eq!(c.search_registries(), ["c.io"]);
        let v = c.resolve_with("x", false, &mut no_prompt).unwrap();
        assert_eq!(names(&v), ["u.io/x:latest"]);
        let v = c.resolve_with("z", false, &mut no_prompt).unwrap();
        assert_eq!(names(&v), ["r.io/z:latest"]);
        assert_eq!(c.files().len(), 4);

        // The user's file exists: only the user's drop-ins apply.
        let (m, dirs) = conf_paths(None, Some(&user));
        assert_eq!(m, main);
        assert_eq!(dirs, std::slice::from_ref(&user_d));
        // An explicit file: both drop-in dirs, as podman.
        let (m, dirs) = conf_paths(Some(Path::new("/x.conf")), Some(&user));
        assert_eq!(m, Path::new("/x.conf"));
        assert_eq!(dirs, [PathBuf::from(SYSTEM_CONF_D), user_d.clone()]);
        // No user file: the system file and both dirs.
        let (m, dirs) = conf_paths(None, Some(&t.join("nobody")));
        assert_eq!(m, Path::new(SYSTEM_CONF));
        assert_eq!(dirs.len(), 2);

        // A missing main file is fine; a broken drop-in names itself and its line.
        std::fs::write(user_d.join("30-bad.conf"), "a = 1\nb = = 2\n").unwrap();
        let e = format!(
            "{:#}",
            RegistriesConf::load_files(&t.join("none"), std::slice::from_ref(&user_d), None)
                .unwrap_err()
        );
        assert!(e.contains("30-bad.conf: line 2"), "{e}");
    }
}
