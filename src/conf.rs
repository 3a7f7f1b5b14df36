//! containers.conf, read as podman reads it: the vendor file, the admin
//! file and its drop-ins, then the user's file and drop-ins; a later file
//! overrides the keys it sets. `$CONTAINERS_CONF` replaces the whole list,
//! and `$CONTAINERS_CONF_OVERRIDE` is read after all of them.
//!
//! The files are read and parsed once per process ([`tables`]); each part
//! of rpod takes its own keys from them: `[containers]` here (the defaults
//! of `run` and `create`), `[network]` and the network keys of `[engine]` in
//! `network::config`, the events keys in `events`. Unknown tables and keys
//! are ignored, as podman ignores what it does not know.

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The files podman reads, lowest priority first.
pub fn files() -> Vec<PathBuf> {
    let mut v = base_files();
    if let Some(p) = std::env::var_os("CONTAINERS_CONF_OVERRIDE").filter(|p| !p.is_empty()) {
        v.push(PathBuf::from(p));
    }
    v
}

fn base_files() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("CONTAINERS_CONF").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut v = vec![
        PathBuf::from("/usr/share/containers/containers.conf"),
        PathBuf::from("/etc/containers/containers.conf"),
    ];
    v.extend(drop_ins(Path::new("/etc/containers/containers.conf.d")));
    if let Some(u) = crate::xdg::config_home() {
        v.push(u.join("containers/containers.conf"));
        v.extend(drop_ins(&u.join("containers/containers.conf.d")));
    }
    v
}

fn drop_ins(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Each file that exists, parsed, in [`files`] order. A file that is not
/// valid TOML is an error naming it and the line (podman refuses to run
/// with a broken containers.conf too).
pub fn tables() -> Result<&'static [(PathBuf, toml::Table)]> {
    static T: OnceLock<std::result::Result<Vec<(PathBuf, toml::Table)>, String>> = OnceLock::new();
    T.get_or_init(|| read_tables(&files()).map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow!("{e}"))
}

fn read_tables(files: &[PathBuf]) -> Result<Vec<(PathBuf, toml::Table)>> {
    let mut out = Vec::new();
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", f.display())),
        };
        let text = uncommented(&text);
        let t: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| parse_error(f, &text, e))?;
        out.push((f.clone(), t));
    }
    Ok(out)
}

/// The text with its comment lines blanked (line numbers stay): podman's
/// vendor file is 24 KB of comments, and the TOML parser is slow on them
/// (2.6 ms to 0.8 ms per read in a debug build).
fn uncommented(text: &str) -> String {
    let mut out = String::with_capacity(text.len() / 8);
    for line in text.lines() {
        if !line.trim_start().starts_with('#') {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// "parsing FILE: line N: what" in one line.
fn parse_error(f: &Path, text: &str, e: toml::de::Error) -> anyhow::Error {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let what = e.message().trim().replace('\n', ": ");
    match line {
        Some(n) => anyhow!("parsing {}: line {n}: {what}", f.display()),
        None => anyhow!("parsing {}: {what}", f.display()),
    }
}

/// The `[containers]` keys rpod honours: the defaults of `run` and
/// `create`, each used where the command line does not say otherwise.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Containers {
    pub annotations: Option<Vec<String>>,
    pub cgroupns: Option<String>,
    pub default_capabilities: Option<Vec<String>>,
    pub default_sysctls: Option<Vec<String>>,
    pub default_ulimits: Option<Vec<String>>,
    pub devices: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub dns_searches: Option<Vec<String>>,
    pub dns_servers: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub env_host: Option<bool>,
    pub init: Option<bool>,
    pub init_path: Option<String>,
    pub ipcns: Option<String>,
    pub log_driver: Option<String>,
    pub log_size_max: Option<i64>,
    pub log_tag: Option<String>,
    pub mounts: Option<Vec<String>>,
    pub no_hosts: Option<bool>,
    pub oom_score_adj: Option<i32>,
    pub pidns: Option<String>,
    pub pids_limit: Option<i64>,
    pub read_only: Option<bool>,
    pub seccomp_profile: Option<String>,
    pub shm_size: Option<String>,
    pub tz: Option<String>,
    pub umask: Option<String>,
    pub userns: Option<String>,
    pub utsns: Option<String>,
    pub volumes: Option<Vec<String>>,
}

/// The `[engine]` keys of container defaults.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Engine {
    /// Seconds between the stop signal and SIGKILL (podman's default 10).
    pub stop_timeout: Option<u32>,
}

/// What `run` and `create` take from containers.conf.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Defaults {
    pub containers: Containers,
    pub engine: Engine,
}

/// podman's `env` when containers.conf does not set it.
pub const DEFAULT_ENV: &[&str] = &[
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
];

impl Defaults {
    /// The defaults from the files podman reads, once per process.
    pub fn get() -> Result<&'static Defaults> {
        static D: OnceLock<std::result::Result<Defaults, String>> = OnceLock::new();
        D.get_or_init(|| {
            tables()
                .and_then(Defaults::from_tables)
                .map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
    }

    /// The files' `[containers]` and `[engine]` tables merged key by key
    /// (a later file's key replaces an earlier one's), each file's checked
    /// on its own so that an error names it.
    pub fn from_tables(tables: &[(PathBuf, toml::Table)]) -> Result<Defaults> {
        let (mut containers, mut engine) = (toml::Table::new(), toml::Table::new());
        for (f, t) in tables {
            let part = |name: &str| -> Result<Option<toml::Table>> {
                let Some(v) = t.get(name) else {
                    return Ok(None);
                };
                let check = |e: toml::de::Error| {
                    anyhow!("parsing {}: [{name}]: {}", f.display(), e.message().trim())
                };
                let checked = match name {
                    "containers" => Containers::deserialize(v.clone()).map(|_| ()),
                    _ => Engine::deserialize(v.clone()).map(|_| ()),
                };
                checked.map_err(check)?;
                Ok(v.as_table().cloned())
            };
            containers.extend(part("containers")?.unwrap_or_default());
            engine.extend(part("engine")?.unwrap_or_default());
        }
        let d = Defaults {
            containers: Containers::deserialize(toml::Value::Table(containers))?,
            engine: Engine::deserialize(toml::Value::Table(engine))?,
        };
        // podman's own check, in its words.
        if d.containers
            .log_size_max
            .is_some_and(|n| (0..8192).contains(&n))
        {
            anyhow::bail!(
                "validating containers config: log size max should be negative or >= 8192"
            );
        }
        Ok(d)
    }

    /// The environment every container starts from, below the image's;
    /// podman adds TERM=xterm to it when the file's `env` has no TERM.
    pub fn env(&self) -> Vec<String> {
        let mut v: Vec<String> = match &self.containers.env {
            Some(v) => v.clone(),
            None => DEFAULT_ENV.iter().map(|s| s.to_string()).collect(),
        };
        if !v.iter().any(|e| e.split('=').next() == Some("TERM")) {
            v.push("TERM=xterm".into());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(files: &[&str]) -> Vec<(PathBuf, toml::Table)> {
        files
            .iter()
            .enumerate()
            .map(|(i, t)| (PathBuf::from(format!("/f{i}")), t.parse().unwrap()))
            .collect()
    }

    #[test]
    fn later_files_override_the_keys_they_set() {
        let d = Defaults::from_tables(&tables(&[
            "[containers]\ninit = true\ntz = \"UTC\"\nvolumes = [\"/a:/a\"]\n[engine]\nstop_timeout = 3\n",
            "[containers]\ntz = \"local\"\nunknown_key = 1\n[machine]\ncpus = 2\n",
        ]))
        .unwrap();
        assert_eq!(d.containers.init, Some(true));
        assert_eq!(d.containers.tz.as_deref(), Some("local"));
        assert_eq!(d.containers.volumes, Some(vec!["/a:/a".to_string()]));
        assert_eq!(d.engine.stop_timeout, Some(3));
        assert_eq!(d.env(), DEFAULT_ENV);
        let d = Defaults::from_tables(&tables(&["[containers]\nenv = [\"A=1\"]\n"])).unwrap();
        assert_eq!(d.env(), ["A=1", "TERM=xterm"]);
        let e = Defaults::from_tables(&tables(&["[containers]\nlog_size_max = 4096\n"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(">= 8192"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_the_file_and_key() {
        let e = Defaults::from_tables(&tables(&["[containers]\ninit = \"yes\"\n"])).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("/f0") && e.contains("[containers]"), "{e}");
        assert!(e.contains("bool"), "{e}");
    }

    #[test]
    fn comments_are_blanked_and_lines_kept() {
        assert_eq!(
            uncommented("# a\n[x]\n  # b\nk = 1 # c\n"),
            "\n[x]\n\nk = 1 # c\n"
        );
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("containers.conf");
        std::fs::write(&f, "# one\n[containers]\ninit = true\ntz = \n").unwrap();
        let e = format!("{:#}", read_tables(std::slice::from_ref(&f)).unwrap_err());
        assert!(
            e.starts_with(&format!("parsing {}: line 4:", f.display())),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }
}
