//! Quadlet `.container` files, as podman's quadlet reads them, turned into
//! service units.
//!
//! A file `web.container` becomes `web.service`. Its `[Container]` section
//! says what to run (Image, Exec, PublishPort, Volume, Environment,
//! ContainerName, Network); `[Unit]`, `[Service]` and `[Install]` are copied
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
#[derive(Debug, Default)]
pub struct UnitFile {
    pub sections: Vec<(String, Vec<(String, String)>)>,
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
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .with_context(|| format!("{origin}:{}: expected KEY=VALUE: {line:?}", n + 1))?;
            let Some((_, kv)) = f.sections.last_mut() else {
                bail!("{origin}:{}: {k:?} is outside any [Section]", n + 1);
            };
            kv.push((k.trim().to_string(), v.trim().to_string()));
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

const CONTAINER_KEYS: &[&str] = &[
    "Image",
    "Exec",
    "PublishPort",
    "Volume",
    "Environment",
    "ContainerName",
    "Network",
];

/// The service for the `.container` file `name` (e.g. "web.container").
pub fn convert(name: &str, source: &Path, f: &UnitFile, rpod: &str) -> Result<(String, Unit)> {
    let origin = source.display().to_string();
    let stem = name
        .strip_suffix(".container")
        .with_context(|| format!("{origin}: a Quadlet container file must end in .container"))?;
    if stem.is_empty() {
        bail!("{origin}: empty unit name");
    }
    for (s, kv) in &f.sections {
        if s == "Container" {
            if let Some((k, _)) = kv
                .iter()
                .find(|(k, _)| !CONTAINER_KEYS.contains(&k.as_str()))
            {
                bail!(
                    "{origin}: unsupported key {k:?} in [Container] (rpod knows {})",
                    CONTAINER_KEYS.join(", ")
                );
            }
        }
    }
    let image = f
        .last("Container", "Image")
        .with_context(|| format!("{origin}: [Container] has no Image="))?;
    let service = format!("{stem}.service");
    let name = f
        .last("Container", "ContainerName")
        .unwrap_or_else(|| format!("systemd-{stem}"));

    let mut u = Unit::default();
    // [Unit] first, as written, then ours.
    for (k, v) in f.section("Unit") {
        u.add("Unit", k, v.clone());
    }
    u.add("Unit", "SourcePath", origin.clone());
    if !u.has("Unit", "RequiresMountsFor") {
        u.add("Unit", "RequiresMountsFor", "%t/rpod");
    }

    let mut groups: Vec<Vec<Word>> = vec![
        vec![user(format!("--name={name}"))],
        vec![spec(format!("--cidfile={CIDFILE}"))],
        vec![lit("--replace")],
        vec![lit("--rm")],
        vec![lit("--sdnotify=conmon")],
        vec![lit("-d")],
    ];
    if let Some(n) = f.last("Container", "Network") {
        groups.push(vec![user(format!("--network={n}"))]);
    }
    for v in f.list("Container", "Volume") {
        groups.push(vec![lit("-v"), user(v)]);
    }
    for p in f.list("Container", "PublishPort") {
        groups.push(vec![lit("--publish"), user(p)]);
    }
    for e in f.list("Container", "Environment") {
        let words = super::split_words(&e).with_context(|| format!("{origin}: Environment={e}"))?;
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .with_context(|| format!("{origin}: Environment entry {w:?} is not KEY=VALUE"))?;
            env.insert(k.to_string(), v.to_string());
        }
        for (k, v) in env {
            groups.push(vec![lit("--env"), user(format!("{k}={v}"))]);
        }
    }
    let mut last = vec![user(image)];
    if let Some(exec) = f.last("Container", "Exec") {
        let words = super::split_words(&exec).with_context(|| format!("{origin}: Exec={exec}"))?;
        last.extend(words.into_iter().map(user));
    }
    groups.push(last);

    u.add("Service", "Environment", "RPOD_SYSTEMD_UNIT=%n");
    u.add("Service", "KillMode", "mixed");
    // The container is gone before the unit counts as stopped, even after a
    // crash; the leading "-" keeps a missing container from failing the stop.
    u.add(
        "Service",
        "ExecStop",
        exec_line(
            "",
            &[lit(rpod), lit("stop")],
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
            &[lit(rpod), lit("rm")],
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
    u.add("Service", "Type", "notify");
    u.add("Service", "NotifyAccess", "all");
    u.add("Service", "SyslogIdentifier", "%N");
    u.add(
        "Service",
        "ExecStartPre",
        exec_line("-", &[lit("/bin/rm")], &[vec![lit("-f"), spec(CIDFILE)]]),
    );
    u.add(
        "Service",
        "ExecStart",
        exec_line("", &[lit(rpod), lit("run")], &groups),
    );
    // The user's [Service] lines come last so that they win (Restart=, …).
    for (k, v) in f.section("Service") {
        u.add("Service", k, v.clone());
    }
    for (k, v) in f.section("Install") {
        u.add("Install", k, v.clone());
    }
    Ok((service, u))
}

/// `rpod generate systemd --quadlet FILE`: the unit's name and text.
pub fn unit_for_file(path: &Path, rpod: &str) -> Result<GeneratedUnit> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let f = UnitFile::parse(&text, &path.display().to_string())?;
    let (service, u) = convert(name, path, &f, rpod)?;
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

/// The directories a user's `.container` files are read from, first wins:
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

/// What the generator made of one `.container` file.
#[derive(Debug)]
pub struct Generated {
    /// The `.container` file.
    pub source: PathBuf,
    /// Its unit, or why it could not be converted (or written).
    pub unit: Result<GeneratedUnit>,
}

/// The generator: every `.container` file in [`source_dirs`] becomes a unit,
/// written with the links its `[Install]` section asks for into `out` (None:
/// a dry run, nothing is written). A broken file does not stop the others:
/// each file has its own result, in the order the files were read.
pub fn generate(out: Option<&Path>) -> Vec<Generated> {
    let rpod = super::rpod_path();
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::new();
    for dir in source_dirs() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "container"))
            .collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap_or_default().to_owned();
            if !seen.insert(name) {
                continue; // an earlier dir has a file of that name
            }
            let unit = (|| -> Result<GeneratedUnit> {
                let unit = unit_for_file(&path, &rpod)?;
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
                "--publish",
                "8080:8080",
                "--env",
                "A=1",
                "--env",
                "B=two words",
                "--env",
                "C=%h",
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
        let f = UnitFile::parse("[Container]\nImage=a\nPod=x\n", "x").unwrap();
        let e = convert("x.container", Path::new("x.container"), &f, "rpod").unwrap_err();
        assert!(e.to_string().contains("unsupported key \"Pod\""), "{e}");
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
}
