//! `rpod generate systemd CTR`: a unit for an existing container, or with
//! `--new` one that runs the container's original create command afresh.

use super::unit::{exec_line, lit, spec, Unit, Word};
use super::{GeneratedUnit, UnitOptions};
use crate::container::record::{self, Paths};
use crate::options::Options;
use anyhow::{bail, Context, Result};

/// Where `--new` units keep the id of the container they run.
const CIDFILE: &str = "%t/%n.ctr-id";

/// The unit for container `ctr`. With `a.new` the unit runs the command
/// line that created the container again: `split_create` reads that recorded
/// line (the command line's grammar is the CLI's to know) into the options
/// to keep and the image and command.
pub fn unit_for_container(
    g: &Options,
    a: &UnitOptions,
    ctr: &str,
    split_create: &dyn Fn(&[String]) -> Result<CreateCommand>,
) -> Result<GeneratedUnit> {
    let paths = Paths::new(g)?;
    let id = record::resolve(&paths, ctr)?;
    let rec = record::load(&paths, &id).with_context(|| format!("loading container {ctr}"))?;
    if rec.rm && !a.new {
        bail!(
            "container {ctr} was created with --rm: it is removed when it stops, so a unit \
             could not start it again; use --new"
        );
    }
    let name_or_id = if a.use_name {
        rec.name.clone()
    } else {
        rec.id.clone()
    };
    let service = format!(
        "{}{}{}.service",
        a.container_prefix, a.separator, name_or_id
    );
    let timeout = a.stop_timeout.unwrap_or(rec.stop_timeout);
    let rpod = super::rpod_path();

    let mut u = Unit::default();
    u.add("Unit", "Description", format!("rpod {service}"));
    u.add("Unit", "Documentation", "man:rpod-generate-systemd(1)");
    u.add("Unit", "Wants", "network-online.target");
    u.add("Unit", "After", "network-online.target");
    for (key, list) in [
        ("Wants", &a.wants),
        ("After", &a.after),
        ("Requires", &a.requires),
    ] {
        for v in list {
            u.add("Unit", key, v.clone());
        }
    }
    let runroot = match &g.runroot {
        Some(r) => r.to_string_lossy().into_owned(),
        None => "%t/rpod".into(),
    };
    u.add("Unit", "RequiresMountsFor", runroot);

    u.add("Service", "Environment", "RPOD_SYSTEMD_UNIT=%n");
    for e in &a.env {
        let kv = match e.split_once('=') {
            Some(_) => e.clone(),
            None => match std::env::var(e) {
                Ok(v) => format!("{e}={v}"),
                Err(_) => bail!("--env {e}: {e} is not set here; give KEY=VALUE"),
            },
        };
        if kv.starts_with('=') {
            bail!("--env {e}: no variable name");
        }
        // One quoted assignment per line: systemd splits Environment= on blanks.
        u.add(
            "Service",
            "Environment",
            super::quote_word(&kv.replace('%', "%%")),
        );
    }
    u.add("Service", "Restart", a.restart_policy.as_str());
    if let Some(s) = a.restart_sec {
        u.add("Service", "RestartSec", s.to_string());
    }
    if let Some(s) = a.start_timeout {
        u.add("Service", "TimeoutStartSec", s.to_string());
    }
    // As podman: the stop timeout plus a minute for rpod itself.
    u.add("Service", "TimeoutStopSec", (60 + timeout).to_string());
    let t = timeout.to_string();
    if a.new {
        if rec.create_command.is_empty() {
            bail!(
                "container {ctr} does not record the command that created it (it predates rpod \
                 recording it): generate a unit without --new, or re-create the container"
            );
        }
        let cmd = split_create(&rec.create_command)
            .with_context(|| format!("reading the command that created container {ctr}"))?;
        let with_globals = |sub: &str| -> Vec<Word> {
            let mut h = vec![lit(&rpod)];
            h.extend(cmd.globals.iter().map(lit));
            h.push(lit(sub));
            h
        };
        u.add(
            "Service",
            "ExecStartPre",
            exec_line("", &[lit("/bin/rm")], &[vec![lit("-f"), spec(CIDFILE)]]),
        );
        let mut groups = vec![
            vec![spec(format!("--cidfile={CIDFILE}"))],
            vec![lit("--rm")],
            vec![lit("--sdnotify=conmon")],
            vec![lit("-d")],
            vec![lit("--replace")],
            vec![lit("--name"), lit(&rec.name)],
        ];
        groups.extend(cmd.options.iter().map(|o| o.iter().map(lit).collect()));
        groups.push(cmd.rest.iter().map(lit).collect());
        u.add(
            "Service",
            "ExecStart",
            exec_line("", &with_globals("run"), &groups),
        );
        u.add(
            "Service",
            "ExecStop",
            exec_line(
                "",
                &with_globals("stop"),
                &[
                    vec![lit("--ignore"), lit("-t"), lit(&t)],
                    vec![spec(format!("--cidfile={CIDFILE}"))],
                ],
            ),
        );
        u.add(
            "Service",
            "ExecStopPost",
            exec_line(
                "",
                &with_globals("rm"),
                &[
                    vec![lit("-f")],
                    vec![lit("--ignore"), lit("-t"), lit(&t)],
                    vec![spec(format!("--cidfile={CIDFILE}"))],
                ],
            ),
        );
    } else {
        let mut head = vec![lit(&rpod)];
        if let Some(r) = &g.root {
            head.extend([lit("--root"), lit(r.to_string_lossy())]);
        }
        if let Some(r) = &g.runroot {
            head.extend([lit("--runroot"), lit(r.to_string_lossy())]);
        }
        let with = |sub: &str| {
            let mut h = head.clone();
            h.push(lit(sub));
            h
        };
        u.add(
            "Service",
            "ExecStart",
            exec_line("", &with("start"), &[vec![lit(&name_or_id)]]),
        );
        // ExecStopPost stops it too: after a crash of the main process
        // systemd skips ExecStop, and the container must not linger.
        for key in ["ExecStop", "ExecStopPost"] {
            u.add(
                "Service",
                key,
                exec_line(
                    "",
                    &with("stop"),
                    &[vec![lit("-t"), lit(&t), lit(&name_or_id)]],
                ),
            );
        }
    }
    // The monitor sends READY=1 and MAINPID on NOTIFY_SOCKET unless the
    // container says --sdnotify=ignore; --new units always ask for it.
    if a.new || rec.sdnotify != "ignore" {
        u.add("Service", "Type", "notify");
        u.add("Service", "NotifyAccess", "all");
    } else {
        u.add("Service", "Type", "forking");
    }
    u.add("Install", "WantedBy", "default.target");

    let mut text = String::new();
    if a.header {
        text.push_str(&format!(
            "# {service}\n# autogenerated by rpod {}\n\n",
            env!("CARGO_PKG_VERSION")
        ));
    }
    text.push_str(&u.render());
    Ok(GeneratedUnit {
        file_name: service,
        text,
    })
}

/// A recorded `rpod [GLOBALS] run|create [OPTIONS] IMAGE [COMMAND…]`, minus
/// the options a `--new` unit sets itself.
#[derive(Debug, PartialEq, Eq)]
pub struct CreateCommand {
    /// Global options before the subcommand (`--root DIR`, …).
    pub globals: Vec<String>,
    /// The kept options, each with its value.
    pub options: Vec<Vec<String>>,
    /// The image and the container's command.
    pub rest: Vec<String>,
}

/// Options of `run`/`create` (by their long names) the unit sets itself, or
/// that make no sense in a unit: left out of a recorded command line.
/// `--restart` too: the unit's `run --rm` refuses it, and systemd's
/// Restart= restarts the unit.
pub const DROPPED_CREATE_OPTIONS: &[&str] = &[
    "cidfile", "rm", "detach", "replace", "sdnotify", "name", "restart",
];
