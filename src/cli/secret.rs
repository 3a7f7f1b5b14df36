//! `rpod secret …`: podman's secret commands, flags and output formats.
//! The store is `crate::secret`'s.

use super::format::Report;
use super::GlobalOpts;
use crate::secret::{self, CreateOptions, Secret, Secrets};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::io::{Read, Write};

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Create a new secret
    Create(CreateArgs),
    /// List secrets
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show secrets as JSON (never their data)
    Inspect(InspectArgs),
    /// Remove one or more secrets
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Exit 0 if the secret exists, 1 if not
    Exists(ExistsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Name of the secret
    #[arg(value_name = "NAME")]
    pub name: String,
    /// File to read the secret from (- for stdin); with --env, the variable's name
    #[arg(value_name = "FILE|-")]
    pub source: String,
    /// Secret driver: file (unencrypted, in the storage root)
    #[arg(short, long, value_name = "DRIVER", default_value = "file")]
    pub driver: String,
    /// Driver options: KEY=VALUE[,KEY=VALUE...]
    #[arg(long, value_name = "KEY=VALUE", value_delimiter = ',')]
    pub driver_opts: Vec<String>,
    /// Read the secret from the environment variable named by the second argument
    #[arg(long)]
    pub env: bool,
    /// Set a label on the secret: KEY=VALUE (may be repeated)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct LsArgs {
    /// Show only the secrets that match: name=, id=, label=
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, or json
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not print the header row
    #[arg(long)]
    pub noheading: bool,
    /// Print only the secret IDs
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// Secrets to inspect (name or ID)
    #[arg(value_name = "SECRET", required = true)]
    pub secrets: Vec<String>,
    /// Format the output with a Go template, or json
    #[arg(short, long, value_name = "FORMAT", conflicts_with = "pretty")]
    pub format: Option<String>,
    /// Print in a human-readable format
    #[arg(long)]
    pub pretty: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RmArgs {
    /// Secrets to remove (name or ID)
    #[arg(value_name = "SECRET")]
    pub secrets: Vec<String>,
    /// Remove all secrets
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ExistsArgs {
    /// The secret to look for (name or ID)
    #[arg(value_name = "SECRET")]
    pub secret: String,
}

pub fn secret_cmd(g: &GlobalOpts, cmd: SecretCommand) -> Result<()> {
    let secrets = Secrets::open(&g.into())?;
    match cmd {
        SecretCommand::Create(a) => create_cmd(&secrets, &a),
        SecretCommand::Ls(a) => ls_cmd(&secrets, &a),
        SecretCommand::Inspect(a) => inspect_cmd(&secrets, &a),
        SecretCommand::Rm(a) => rm_cmd(&secrets, &a),
        SecretCommand::Exists(a) => match secrets.get(&a.secret)? {
            Some(_) => Ok(()),
            None => Err(super::exit::exit_status(1)),
        },
    }
}

fn key_values(v: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    v.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !kv.is_empty() => Ok((kv.to_string(), String::new())),
            _ => bail!("invalid {what} {kv:?}: expected KEY=VALUE"),
        })
        .collect()
}

fn create_cmd(secrets: &Secrets, a: &CreateArgs) -> Result<()> {
    let data = if a.env {
        match std::env::var_os(&a.source) {
            Some(v) => std::os::unix::ffi::OsStringExt::into_vec(v),
            None => bail!(
                "cannot create store secret data: environment variable {} is not set",
                a.source
            ),
        }
    } else if a.source == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .lock()
            .take(secret::MAX_SIZE as u64)
            .read_to_end(&mut b)
            .context("reading the secret from stdin")?;
        b
    } else {
        let f = std::fs::File::open(&a.source).with_context(|| format!("open {}", a.source))?;
        let mut b = Vec::new();
        f.take(secret::MAX_SIZE as u64)
            .read_to_end(&mut b)
            .with_context(|| format!("reading {}", a.source))?;
        b
    };
    let o = CreateOptions {
        name: a.name.clone(),
        driver: a.driver.clone(),
        driver_options: key_values(&a.driver_opts, "--driver-opts")?,
        labels: key_values(&a.label, "--label")?,
    };
    let s = secrets.create(&o, &data)?;
    writeln!(std::io::stdout().lock(), "{}", s.id)?;
    Ok(())
}

/// One row of `secret ls`: podman's template fields.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct LsRow {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    driver: String,
    created_at: String,
    updated_at: String,
}

fn header(f: &str) -> Option<&'static str> {
    match f {
        "CreatedAt" => Some("CREATED"),
        "UpdatedAt" => Some("UPDATED"),
        _ => None,
    }
}

fn ls_cmd(secrets: &Secrets, a: &LsArgs) -> Result<()> {
    let filters = a
        .filter
        .iter()
        .map(|f| secret::parse_filter(f))
        .collect::<Result<Vec<_>>>()?;
    let list = secrets.list_filtered(&filters)?;
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for s in &list {
            writeln!(out, "{}", s.id)?;
        }
        return Ok(());
    }
    let report = Report::list(
        a.format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}",
    )?
    .headers(header)
    .noheading(a.noheading);
    if report.is_json() {
        let arr: Vec<_> = list.iter().map(Secret::inspect_json).collect();
        return report.print(&arr);
    }
    let now = crate::time::now_ns();
    let rows: Vec<LsRow> = list
        .iter()
        .map(|s| {
            let ago = format!("{} ago", crate::time::since(s.created_ns(), now));
            LsRow {
                id: s.id.clone(),
                name: s.name.clone(),
                driver: s.driver.clone(),
                created_at: ago.clone(),
                updated_at: ago,
            }
        })
        .collect();
    report.print(&rows)
}

/// podman's `secret inspect --pretty` block for one secret.
fn pretty(s: &Secret) -> String {
    let when = crate::time::format_go_ns(s.created_ns());
    let mut out = format!("ID:              {}\nName:              {}\n", s.id, s.name);
    if !s.labels.is_empty() {
        out.push_str("Labels:\n");
        for (k, v) in &s.labels {
            if v.is_empty() {
                out.push_str(&format!(" - {k}\n"));
            } else {
                out.push_str(&format!(" - {k}={v}\n"));
            }
        }
    }
    out.push_str(&format!(
        "Driver:            {}\nCreated at:        {when}\nUpdated at:        {when}\n",
        s.driver
    ));
    out
}

fn inspect_cmd(secrets: &Secrets, a: &InspectArgs) -> Result<()> {
    let mut found = Vec::new();
    let mut missing = None;
    for n in &a.secrets {
        match secrets.get(n)? {
            Some(s) => found.push(s),
            None => {
                if let Some(prev) = missing.replace(n.clone()) {
                    eprintln!(
                        "Error: inspecting secret: no secret with name or id {prev:?}: no such secret"
                    );
                }
            }
        }
    }
    if a.pretty {
        let mut out = std::io::stdout().lock();
        for s in &found {
            out.write_all(pretty(s).as_bytes())?;
        }
    } else {
        let report = Report::inspect(a.format.as_deref())?.json_indent(b"    ");
        let values: Vec<_> = found.iter().map(Secret::inspect_json).collect();
        report.print(&values)?;
    }
    match missing {
        Some(n) => bail!("inspecting secret: no secret with name or id {n:?}: no such secret"),
        None => Ok(()),
    }
}

fn rm_cmd(secrets: &Secrets, a: &RmArgs) -> Result<()> {
    if a.all != a.secrets.is_empty() {
        // Neither, or both.
        bail!("`rpod secret rm` requires one argument, or the --all flag");
    }
    let names: Vec<String> = if a.all {
        secrets.list()?.into_iter().map(|s| s.id).collect()
    } else {
        a.secrets.clone()
    };
    let mut last: Option<anyhow::Error> = None;
    for n in &names {
        match secrets.remove(n) {
            Ok(id) => writeln!(std::io::stdout().lock(), "{id}")?,
            Err(e) => {
                if let Some(prev) = last.replace(e) {
                    eprintln!("Error: {prev:#}");
                }
            }
        }
    }
    last.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_is_podmans() {
        let s = Secret {
            name: "lab".into(),
            id: "bb5fed23f6d102ed0086d6f22".into(),
            created_at: "2026-12-07T08:41:47.310318543Z".into(),
            driver: "file".into(),
            driver_options: BTreeMap::new(),
            labels: [("a".into(), "b".into()), ("c".into(), String::new())].into(),
        };
        assert_eq!(
            pretty(&s),
            "ID:              bb5fed23f6d102ed0086d6f22\n\
             Name:              lab\n\
             Labels:\n - a=b\n - c\n\
             Driver:            file\n\
             Created at:        2026-12-07 08:41:47.310318543 +0000 UTC\n\
             Updated at:        2026-12-07 08:41:47.310318543 +0000 UTC\n"
        );
    }
}
