//! systemd user units for containers.
//!
//! - `rpod generate systemd CTR` writes a unit that starts an existing
//!   container, or with `--new` one that creates it afresh from the command
//!   line that created it (podman 4.3's `generate systemd`, same layout);
//! - `rpod generate systemd --quadlet FILE` and the user generator
//!   (`rpod generate quadlet OUTDIR`, installed as
//!   `/usr/lib/systemd/user-generators/rpod-user-generator`) turn Quadlet
//!   `.container` files into units, as podman's quadlet does.

mod generate;
pub mod quadlet;
pub mod unit;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

// Parsed once per process: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum GenerateCommand {
    /// Generate a systemd unit for a container (or from a Quadlet .container file)
    Systemd(SystemdArgs),
    /// Turn Quadlet .container files into units (the systemd user generator)
    Quadlet(QuadletArgs),
}

#[derive(Args, Debug, Clone)]
pub struct SystemdArgs {
    /// Use the container's name instead of its id in the unit
    #[arg(short, long)]
    pub name: bool,
    /// Create a new container when the unit starts, remove it when it stops
    #[arg(long)]
    pub new: bool,
    /// Write the unit to ./UNIT.service and print its path
    #[arg(short, long)]
    pub files: bool,
    /// systemd restart policy (Restart=)
    #[arg(long, value_name = "POLICY", default_value = "on-failure",
          value_parser = ["no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"])]
    pub restart_policy: String,
    /// Seconds systemd waits before restarting the container (RestartSec=)
    #[arg(long, value_name = "SECONDS")]
    pub restart_sec: Option<u32>,
    /// Seconds to wait for the container to stop before killing it (default: the container's)
    #[arg(short = 't', long, alias = "time", value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// Seconds systemd waits for the container to start (TimeoutStartSec=)
    #[arg(long, value_name = "SECONDS")]
    pub start_timeout: Option<u32>,
    /// Set an environment variable in the unit (KEY=VALUE, or KEY to copy it from here)
    #[arg(short, long, value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Prefix of the unit name
    #[arg(long, value_name = "PREFIX", default_value = "container")]
    pub container_prefix: String,
    /// Separator between the prefix and the name or id
    #[arg(long, value_name = "SEP", default_value = "-")]
    pub separator: String,
    /// Add After= dependencies to the unit
    #[arg(long, value_name = "UNIT")]
    pub after: Vec<String>,
    /// Add Wants= dependencies to the unit
    #[arg(long, value_name = "UNIT")]
    pub wants: Vec<String>,
    /// Add Requires= dependencies to the unit
    #[arg(long, value_name = "UNIT")]
    pub requires: Vec<String>,
    /// Leave out the comment header
    #[arg(long)]
    pub no_header: bool,
    /// Generate the unit from a Quadlet .container file instead of a container
    #[arg(long, value_name = "FILE", conflicts_with_all = ["container", "new", "name"])]
    pub quadlet: Option<PathBuf>,
    /// Container name or id
    #[arg(value_name = "CONTAINER", required_unless_present = "quadlet")]
    pub container: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct QuadletArgs {
    /// Print the units instead of writing them
    #[arg(long)]
    pub dryrun: bool,
    /// Output directories as systemd passes them to a generator (normal, early, late); units go to the first
    #[arg(value_name = "OUTDIR", num_args = 0..=3, required_unless_present = "dryrun")]
    pub dirs: Vec<PathBuf>,
}

/// The generator binary mode: systemd runs
/// `/usr/lib/systemd/user-generators/rpod-user-generator NORMAL EARLY LATE`.
#[derive(Parser, Debug)]
#[command(name = "rpod-user-generator")]
struct GeneratorCli {
    #[command(flatten)]
    args: QuadletArgs,
}

pub const GENERATOR_NAME: &str = "rpod-user-generator";

/// When rpod runs under the generator's name, act as the generator.
pub fn dispatch_argv0() -> Option<Result<()>> {
    let argv0 = std::env::args_os().next()?;
    if Path::new(&argv0).file_name()? != GENERATOR_NAME {
        return None;
    }
    let cli = GeneratorCli::parse();
    Some(quadlet::generator_main(&cli.args))
}

pub fn generate_cmd(g: &crate::cli::GlobalOpts, cmd: GenerateCommand) -> Result<()> {
    match cmd {
        GenerateCommand::Systemd(a) => {
            let units = match &a.quadlet {
                Some(file) => vec![quadlet::unit_for_file(file, &rpod_path())?],
                None => {
                    let ctr = a.container.as_deref().unwrap_or_default();
                    vec![generate::unit_for_container(g, &a, ctr)?]
                }
            };
            let mut out = std::io::stdout().lock();
            for (name, text) in units {
                if a.files {
                    let path = std::env::current_dir()
                        .context("finding the current directory")?
                        .join(&name);
                    crate::storage::write_atomic(&path, text.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    writeln!(out, "{}", path.display())?;
                } else {
                    out.write_all(text.as_bytes())?;
                }
            }
            drop(out);
            linger_advice();
            Ok(())
        }
        GenerateCommand::Quadlet(a) => quadlet::generator_main(&a),
    }
}

/// The absolute path of this rpod binary, for Exec lines.
pub fn rpod_path() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/usr/bin/rpod".into())
}

/// A user's units run only while they are logged in unless lingering is on:
/// say so, since "my container did not start at boot" is the usual surprise.
pub fn linger_advice() {
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        return;
    }
    let Ok(Some(user)) = nix::unistd::User::from_uid(uid) else {
        return;
    };
    if let Some(msg) = linger_message(&user.name, Path::new("/var/lib/systemd/linger")) {
        eprintln!("{msg}");
    }
}

fn linger_message(user: &str, linger_dir: &Path) -> Option<String> {
    if linger_dir.join(user).exists() {
        return None;
    }
    Some(format!(
        "Note: lingering is off for {user}: user units start at login and stop at logout. \
         To start them at boot, run: loginctl enable-linger {user}"
    ))
}

/// Quote one argument for an Exec= line: systemd expands `%` specifiers and
/// `$` variables and splits on blanks, so a literal argument escapes all three.
pub fn quote_arg(arg: &str) -> String {
    quote_word(&arg.replace('%', "%%").replace('$', "$$"))
}

/// Quote one argument but keep its `%` specifiers and `$` variables for
/// systemd to expand: what a user wrote in a Quadlet file (`Volume=%h/d:/d`).
pub fn quote_word(escaped: &str) -> String {
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '\\' | ';'));
    if plain {
        return escaped.to_string();
    }
    let mut s = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Split a systemd value into words as systemd does for Exec= and
/// Environment= (double and single quotes, backslash escapes).
pub fn split_words(value: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut w = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' | '\'' => loop {
                    match chars.next() {
                        Some(x) if x == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some('n') => w.push('\n'),
                            Some('t') => w.push('\t'),
                            Some(x) => w.push(x),
                            None => bail!("unfinished escape in {value:?}"),
                        },
                        Some(x) => w.push(x),
                        None => bail!("unbalanced quotes in {value:?}"),
                    }
                },
                '\\' => match chars.next() {
                    Some(x) => w.push(x),
                    None => bail!("trailing backslash in {value:?}"),
                },
                c => w.push(c),
            }
        }
        words.push(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_systemd_would_expand_or_split() {
        assert_eq!(quote_arg("alpine"), "alpine");
        assert_eq!(quote_arg("100%"), "100%%");
        assert_eq!(quote_arg("$HOME"), "$$HOME");
        assert_eq!(quote_arg("a b"), "\"a b\"");
        assert_eq!(quote_arg("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quote_arg(""), "\"\"");
        assert_eq!(quote_arg(";"), "\";\"");
    }

    #[test]
    fn splits_like_systemd() {
        assert_eq!(
            split_words(r#"A=1 "B=two words" 'C=x"y' D=a\ b"#).unwrap(),
            ["A=1", "B=two words", "C=x\"y", "D=a b"]
        );
        assert!(split_words("\"open").is_err());
        // What quote_arg writes, split_words reads back.
        for s in ["a b", "x\"y", "back\\slash", "", "tab\there"] {
            let q = quote_arg(s);
            assert_eq!(split_words(&q).unwrap(), [s.to_string()], "{q}");
        }
    }

    #[test]
    fn linger_advice_only_when_off() {
        let t = tempfile::tempdir().unwrap();
        assert!(linger_message("alice", t.path())
            .unwrap()
            .contains("loginctl enable-linger alice"));
        std::fs::write(t.path().join("alice"), "").unwrap();
        assert_eq!(linger_message("alice", t.path()), None);
    }
}
