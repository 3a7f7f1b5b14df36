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
    container_unit(g, a, ctr, split_create, &InPod::default())
}

/// What a unit of a pod's adds to a container's unit.
#[derive(Default)]
struct InPod {
    /// The unit's name instead of PREFIX-NAME.service (the pod's unit).
    service: Option<String>,
    /// [Unit] lines after RequiresMountsFor=.
    unit_lines: Vec<(&'static str, String)>,
    /// `--new`: the pod-id file the container joins its pod by.
    pod_id_file: Option<String>,
}

fn container_unit(
    g: &Options,
    a: &UnitOptions,
    ctr: &str,
    split_create: &dyn Fn(&[String]) -> Result<CreateCommand>,
    in_pod: &InPod,
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
    let service = in_pod.service.clone().unwrap_or_else(|| {
        format!(
            "{}{}{}.service",
            a.container_prefix, a.separator, name_or_id
        )
    });
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
    for (k, v) in &in_pod.unit_lines {
        u.add("Unit", k, v.clone());
    }

    u.add("Service", "Environment", "RPOD_SYSTEMD_UNIT=%n");
    for e in &a.env {
        u.add("Service", "Environment", env_assignment(e)?);
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
        ];
        if let Some(f) = &in_pod.pod_id_file {
            groups.push(vec![lit("--pod-id-file"), spec(f)]);
        }
        groups.extend([
            vec![lit("--sdnotify=conmon")],
            vec![lit("-d")],
            vec![lit("--replace")],
            vec![lit("--name"), lit(&rec.name)],
        ]);
        let joins_pod = |o: &[String]| {
            let f = o.first().map(String::as_str).unwrap_or_default();
            f == "--pod" || f.starts_with("--pod=") || f.starts_with("--pod-id-file")
        };
        groups.extend(
            cmd.options
                .iter()
                .filter(|o| in_pod.pod_id_file.is_none() || !joins_pod(o))
                .map(|o| o.iter().map(lit).collect()),
        );
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

/// The units of pod `pod`: the pod's own (`pod-NAME.service`) first, then one
/// per container of the pod, as podman 4.3 lays them out. The pod's unit
/// wants and orders the containers' units; each container's is bound to the
/// pod's. Without `--new` the pod's unit starts and stops the infra
/// container; with `--new` it creates the pod afresh from the command that
/// created it (`split_pod_create` reads that) and removes it when stopped,
/// and the containers join it by its pod-id file.
pub fn units_for_pod(
    g: &Options,
    a: &UnitOptions,
    pod_name: &str,
    pod_prefix: &str,
    split_create: &dyn Fn(&[String]) -> Result<CreateCommand>,
    split_pod_create: &dyn Fn(&[String]) -> Result<CreateCommand>,
) -> Result<Vec<GeneratedUnit>> {
    let paths = Paths::new(g)?;
    let pod = crate::pod::resolve(&paths, pod_name)?;
    let members = crate::pod::members(&paths, &pod.id)?;
    let infra = members.iter().find(|(r, _)| r.pod_infra).map(|(r, _)| r);
    let ctrs: Vec<&record::ContainerRecord> = members
        .iter()
        .map(|(r, _)| r)
        .filter(|r| !r.pod_infra)
        .collect();
    if !a.new && infra.is_none() {
        bail!(
            "pod {} has no infra container: a unit can only start such a pod with --new",
            pod.name
        );
    }
    let pod_name_or_id = if a.use_name { &pod.name } else { &pod.id };
    let pod_service = format!("{pod_prefix}{}{pod_name_or_id}.service", a.separator);
    let ctr_service = |r: &record::ContainerRecord| {
        let n = if a.use_name { &r.name } else { &r.id };
        format!("{}{}{n}.service", a.container_prefix, a.separator)
    };
    let names: Vec<String> = ctrs.iter().map(|r| ctr_service(r)).collect();
    let pod_id_file = format!("%t/{}.pod-id", pod_service.trim_end_matches(".service"));
    let mut units = Vec::new();
    let pod_lines: Vec<(&'static str, String)> = if names.is_empty() {
        Vec::new()
    } else {
        vec![("Wants", names.join(" ")), ("Before", names.join(" "))]
    };
    if a.new {
        units.push(new_pod_unit(
            g,
            a,
            &pod,
            &pod_service,
            &pod_id_file,
            pod_lines,
            split_pod_create,
        )?);
    } else if let Some(infra) = infra {
        units.push(container_unit(
            g,
            a,
            &infra.id,
            split_create,
            &InPod {
                service: Some(pod_service.clone()),
                unit_lines: pod_lines,
                pod_id_file: None,
            },
        )?);
    }
    for r in ctrs {
        units.push(container_unit(
            g,
            a,
            &r.id,
            split_create,
            &InPod {
                service: None,
                unit_lines: vec![
                    ("BindsTo", pod_service.clone()),
                    ("After", pod_service.clone()),
                ],
                pod_id_file: a.new.then(|| pod_id_file.clone()),
            },
        )?);
    }
    Ok(units)
}

/// One `--env` as an Environment= value: KEY=VALUE, or KEY copied from here.
fn env_assignment(e: &str) -> Result<String> {
    let kv = match e.split_once('=') {
        Some(_) => e.to_string(),
        None => match std::env::var(e) {
            Ok(v) => format!("{e}={v}"),
            Err(_) => bail!("--env {e}: {e} is not set here; give KEY=VALUE"),
        },
    };
    if kv.starts_with('=') {
        bail!("--env {e}: no variable name");
    }
    // One quoted assignment per line: systemd splits Environment= on blanks.
    Ok(super::quote_word(&kv.replace('%', "%%")))
}

/// `generate systemd --new` of a pod: the pod's unit creates the pod.
fn new_pod_unit(
    g: &Options,
    a: &UnitOptions,
    pod: &crate::pod::PodRecord,
    service: &str,
    pod_id_file: &str,
    extra: Vec<(&'static str, String)>,
    split_pod_create: &dyn Fn(&[String]) -> Result<CreateCommand>,
) -> Result<GeneratedUnit> {
    let cmd = split_pod_create(&pod.create_command).with_context(|| {
        format!(
            "pod {}: --new needs the `rpod pod create` command that made it",
            pod.name
        )
    })?;
    let rpod = super::rpod_path();
    let with = |sub: &[&str]| -> Vec<Word> {
        let mut h = vec![lit(&rpod)];
        h.extend(cmd.globals.iter().map(lit));
        h.extend(sub.iter().map(|s| lit(*s)));
        h
    };
    let t = a.stop_timeout.unwrap_or(10).to_string();
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
    for (k, v) in extra {
        u.add("Unit", k, v);
    }
    u.add("Service", "Environment", "RPOD_SYSTEMD_UNIT=%n");
    for e in &a.env {
        u.add("Service", "Environment", env_assignment(e)?);
    }
    u.add("Service", "Restart", a.restart_policy.as_str());
    if let Some(s) = a.restart_sec {
        u.add("Service", "RestartSec", s.to_string());
    }
    if let Some(s) = a.start_timeout {
        u.add("Service", "TimeoutStartSec", s.to_string());
    }
    u.add(
        "Service",
        "TimeoutStopSec",
        (60 + a.stop_timeout.unwrap_or(10)).to_string(),
    );
    u.add(
        "Service",
        "ExecStartPre",
        exec_line("", &[lit("/bin/rm")], &[vec![lit("-f"), spec(pod_id_file)]]),
    );
    let mut groups = vec![
        vec![lit("--pod-id-file"), spec(pod_id_file)],
        vec![lit("--exit-policy=stop")],
        vec![lit("--name"), lit(&pod.name)],
        vec![lit("--replace")],
    ];
    groups.extend(
        cmd.options
            .iter()
            .filter(|o| !o.first().is_some_and(|f| f.starts_with("--exit-policy")))
            .map(|o| o.iter().map(lit).collect()),
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
            &[vec![lit("--pod-id-file"), spec(pod_id_file)]],
        ),
    );
    u.add(
        "Service",
        "ExecStop",
        exec_line(
            "",
            &with(&["pod", "stop"]),
            &[
                vec![lit("--ignore")],
                vec![lit("--pod-id-file"), spec(pod_id_file)],
                vec![lit("-t"), lit(&t)],
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
                vec![lit("--ignore")],
                vec![lit("-f")],
                vec![lit("--pod-id-file"), spec(pod_id_file)],
            ],
        ),
    );
    // podman follows the infra's conmon by a PID file; rpod's pod unit is
    // active while the pod exists (its containers' units run them).
    u.add("Service", "Type", "oneshot");
    u.add("Service", "RemainAfterExit", "yes");
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
        file_name: service.to_string(),
        text,
    })
}
