//! `rpod generate systemd CTR`: a unit for an existing container, or with
//! `--new` one that runs the container's original create command afresh.

use super::unit::{exec_line, lit, spec, Unit, Word};
use super::SystemdArgs;
use crate::cli::{Cli, GlobalOpts};
use crate::container::record::{self, Paths};
use anyhow::{bail, Context, Result};
use clap::CommandFactory;

/// Where `--new` units keep the id of the container they run.
const CIDFILE: &str = "%t/%n.ctr-id";

/// The unit's file name and text.
pub fn unit_for_container(g: &GlobalOpts, a: &SystemdArgs, ctr: &str) -> Result<(String, String)> {
    let paths = Paths::new(&g.into())?;
    let id = record::resolve(&paths, ctr)?;
    let rec = record::load(&paths, &id).with_context(|| format!("loading container {ctr}"))?;
    if rec.rm && !a.new {
        bail!(
            "container {ctr} was created with --rm: it is removed when it stops, so a unit \
             could not start it again; use --new"
        );
    }
    let name_or_id = if a.name {
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
    u.add("Service", "Restart", a.restart_policy.clone());
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
        let cmd = CreateCommand::parse(&rec.create_command)
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
    if !a.no_header {
        text.push_str(&format!(
            "# {service}\n# autogenerated by rpod {}\n\n",
            env!("CARGO_PKG_VERSION")
        ));
    }
    text.push_str(&u.render());
    Ok((service, text))
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

/// Options the unit sets itself (or that make no sense in a unit).
const DROPPED: &[&str] = &["cidfile", "rm", "detach", "replace", "sdnotify", "name"];

impl CreateCommand {
    pub fn parse(argv: &[String]) -> Result<CreateCommand> {
        let mut top = Cli::command();
        top.build();
        let mut globals = Vec::new();
        let mut cmd = &top;
        let mut i = 1;
        // Globals and the subcommand path (`run`, `create`, `container run`…).
        while i < argv.len() {
            let w = &argv[i];
            i += 1;
            if w.starts_with('-') {
                globals.push(w.clone());
                if !w.contains('=') && option_takes_value(cmd, w) {
                    globals.extend(argv.get(i).cloned());
                    i += 1;
                }
                continue;
            }
            match cmd.find_subcommand(w) {
                Some(sub) => {
                    cmd = sub;
                    if matches!(sub.get_name(), "run" | "create") {
                        break;
                    }
                }
                None => bail!("{w:?} is not a command that creates a container"),
            }
        }
        if !matches!(cmd.get_name(), "run" | "create") {
            bail!("{argv:?} is not an `rpod run` or `rpod create` command line");
        }
        let mut options = Vec::new();
        while i < argv.len() {
            let w = &argv[i];
            if w == "--" {
                i += 1;
                break;
            }
            if !w.starts_with('-') || w == "-" {
                break;
            }
            i += 1;
            if let Some(long) = w.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, _)) => (n, true),
                    None => (long, false),
                };
                let arg = cmd
                    .get_arguments()
                    .find(|a| {
                        a.get_long() == Some(name)
                            || a.get_all_aliases().is_some_and(|al| al.contains(&name))
                    })
                    .with_context(|| format!("unknown option --{name}"))?;
                let mut group = vec![w.clone()];
                if !inline && takes_separate_value(arg) {
                    group.extend(argv.get(i).cloned());
                    i += 1;
                }
                if !DROPPED.contains(&arg.get_id().as_str()) {
                    options.push(group);
                }
                continue;
            }
            // A cluster of short flags, e.g. -dit or -p8080:80.
            let mut kept = String::new();
            let mut group = Vec::new();
            let body = &w[1..];
            for (j, c) in body.char_indices() {
                let arg = cmd
                    .get_arguments()
                    .find(|a| a.get_short() == Some(c))
                    .with_context(|| format!("unknown option -{c}"))?;
                let drop = DROPPED.contains(&arg.get_id().as_str());
                if arg.get_action().takes_values() {
                    let rest = &body[j + c.len_utf8()..];
                    let mut value = Vec::new();
                    if rest.is_empty() && takes_separate_value(arg) {
                        value.extend(argv.get(i).cloned());
                        i += 1;
                    }
                    if !drop {
                        kept.push(c);
                        kept.push_str(rest);
                        group = value;
                    }
                    break;
                }
                if !drop {
                    kept.push(c);
                }
            }
            if !kept.is_empty() {
                let mut g = vec![format!("-{kept}")];
                g.extend(group);
                options.push(g);
            }
        }
        let rest = argv[i..].to_vec();
        if rest.is_empty() {
            bail!("{argv:?} names no image");
        }
        Ok(CreateCommand {
            globals,
            options,
            rest,
        })
    }
}

fn takes_separate_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values()
        && arg
            .get_num_args()
            .map(|r| r.min_values() > 0)
            .unwrap_or(true)
}

fn option_takes_value(cmd: &clap::Command, w: &str) -> bool {
    let arg = if let Some(long) = w.strip_prefix("--") {
        cmd.get_arguments().find(|a| a.get_long() == Some(long))
    } else {
        let c = w.chars().last();
        cmd.get_arguments().find(|a| a.get_short() == c)
    };
    arg.is_some_and(takes_separate_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> CreateCommand {
        let argv: Vec<String> = line.split(' ').map(String::from).collect();
        CreateCommand::parse(&argv).unwrap()
    }

    #[test]
    fn keeps_what_the_unit_does_not_set() {
        let c = parse(
            "rpod --root /r run -dit --rm --name web -e A=1 --cidfile /x --network=host \
             -p 8080:80 -v /a:/b alpine sh -c true --rm",
        );
        assert_eq!(c.globals, ["--root", "/r"]);
        assert_eq!(
            c.options,
            vec![
                vec!["-it".to_string()],
                vec!["-e".into(), "A=1".into()],
                vec!["--network=host".into()],
                vec!["-p".into(), "8080:80".into()],
                vec!["-v".into(), "/a:/b".into()],
            ]
        );
        assert_eq!(c.rest, ["alpine", "sh", "-c", "true", "--rm"]);
    }

    #[test]
    fn create_and_container_create_count() {
        let c = parse("/usr/bin/rpod container create --replace --sdnotify ignore -eA=1 alpine");
        assert_eq!(c.options, vec![vec!["-eA=1".to_string()]]);
        assert_eq!(c.rest, ["alpine"]);
        let c = parse("rpod container run -d -- alpine");
        assert_eq!(c.options, Vec::<Vec<String>>::new());
        assert_eq!(c.rest, ["alpine"]);
        assert!(CreateCommand::parse(&["rpod".into(), "ps".into()]).is_err());
    }
}
