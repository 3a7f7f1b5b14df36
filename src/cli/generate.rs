//! `rpod generate systemd|quadlet` and the `rpod-user-generator` binary
//! mode: the flags, their mapping onto `systemd`'s typed options, and the
//! output (unit texts on stdout, or files in the current directory).

use super::{Cli, GlobalOpts};
use crate::systemd::{
    self, quadlet, CreateCommand, GeneratedUnit, RestartPolicy, UnitOptions,
    DROPPED_CREATE_OPTIONS, GENERATOR_NAME,
};
use anyhow::{bail, Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

// Parsed once per process: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum GenerateCommand {
    /// Generate systemd units for a container or a pod (or from a Quadlet file)
    Systemd(SystemdArgs),
    /// Turn Quadlet .container, .volume, .network, .pod and .kube files into units (the systemd user generator)
    Quadlet(QuadletArgs),
    /// Generate Kubernetes YAML from containers, pods or volumes (kube generate)
    Kube(super::kube::GenerateArgs),
    /// Generate podman's SpecGenerator JSON of a container or pod
    Spec(super::generate_spec::SpecArgs),
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
    /// Prefix of a pod's unit name
    #[arg(long, value_name = "PREFIX", default_value = "pod")]
    pub pod_prefix: String,
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
    /// Generate the unit from a Quadlet file instead of a container
    #[arg(long, value_name = "FILE", conflicts_with_all = ["container", "new", "name"])]
    pub quadlet: Option<PathBuf>,
    /// Container or pod name or id
    #[arg(value_name = "CONTAINER|POD", required_unless_present = "quadlet")]
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

/// When rpod runs under the generator's name, act as the generator.
pub fn dispatch_argv0() -> Option<Result<()>> {
    let argv0 = std::env::args_os().next()?;
    if Path::new(&argv0).file_name()? != GENERATOR_NAME {
        return None;
    }
    let cli = GeneratorCli::parse();
    Some(generator_cmd(&cli.args))
}

pub fn generate_cmd(g: &GlobalOpts, cmd: GenerateCommand) -> Result<()> {
    match cmd {
        GenerateCommand::Systemd(a) => {
            let units = match &a.quadlet {
                Some(file) => vec![quadlet::unit_for_file(file, &systemd::rpod_path())?],
                None => {
                    let name = a.container.as_deref().unwrap_or_default();
                    let opts = unit_options(&a)?;
                    let o: crate::options::Options = g.into();
                    // A container by that name first, then a pod (podman's order).
                    match systemd::unit_for_container(&o, &opts, name, &split_create_command) {
                        Ok(u) => vec![u],
                        Err(e) if crate::error::is_not_found(&e, crate::error::Kind::Container) => {
                            let paths = crate::container::record::Paths::new(&o)?;
                            if crate::pod::resolve(&paths, name).is_err() {
                                bail!("{name} does not refer to a container or pod: no such pod or container");
                            }
                            systemd::units_for_pod(
                                &o,
                                &opts,
                                name,
                                &a.pod_prefix,
                                &split_create_command,
                                &split_pod_create_command,
                            )?
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            let mut out = std::io::stdout().lock();
            for GeneratedUnit { file_name, text } in units {
                if a.files {
                    let path = std::env::current_dir()
                        .context("finding the current directory")?
                        .join(&file_name);
                    crate::storage::write_atomic(&path, text.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    writeln!(out, "{}", path.display())?;
                } else {
                    out.write_all(text.as_bytes())?;
                }
            }
            drop(out);
            if let Some(note) = systemd::linger_note() {
                eprintln!("{note}");
            }
            Ok(())
        }
        GenerateCommand::Quadlet(a) => generator_cmd(&a),
        GenerateCommand::Kube(a) => super::kube::generate_cmd(g, &a),
        GenerateCommand::Spec(a) => super::generate_spec::spec_cmd(g, &a),
    }
}

fn unit_options(a: &SystemdArgs) -> Result<UnitOptions> {
    Ok(UnitOptions {
        use_name: a.name,
        new: a.new,
        restart_policy: restart_policy(&a.restart_policy)?,
        restart_sec: a.restart_sec,
        stop_timeout: a.stop_timeout,
        start_timeout: a.start_timeout,
        env: a.env.clone(),
        container_prefix: a.container_prefix.clone(),
        separator: a.separator.clone(),
        after: a.after.clone(),
        wants: a.wants.clone(),
        requires: a.requires.clone(),
        header: !a.no_header,
    })
}

/// `--restart-policy`'s value (clap has already checked it is one of them).
fn restart_policy(s: &str) -> Result<RestartPolicy> {
    RestartPolicy::ALL
        .into_iter()
        .find(|p| p.as_str() == s)
        .with_context(|| format!("--restart-policy {s}: not a systemd restart policy"))
}

/// The generator (`generate quadlet`, `rpod-user-generator`): units into the
/// first output dir, or with `--dryrun` on stdout. A broken file is reported
/// and skipped; the others are still generated (and the exit status says
/// something failed).
fn generator_cmd(a: &QuadletArgs) -> Result<()> {
    let out = (!a.dryrun).then(|| a.dirs[0].as_path());
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0;
    for r in quadlet::generate(out) {
        let res = r.unit.and_then(|u| {
            if a.dryrun {
                writeln!(stdout, "---{}---", u.file_name)?;
                stdout.write_all(u.text.as_bytes())?;
            }
            Ok(())
        });
        if let Err(e) = res {
            // Generators log to stderr, which systemd sends to its journal.
            eprintln!("rpod-user-generator: {}: {e:#}", r.source.display());
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} Quadlet file(s) could not be converted");
    }
    Ok(())
}

/// Split a recorded `rpod [GLOBALS] run|create [OPTIONS] IMAGE [COMMAND…]`
/// by rpod's own command line grammar, leaving out the options a `--new`
/// unit sets itself.
pub fn split_create_command(argv: &[String]) -> Result<CreateCommand> {
    let c = split_command(argv, &["run", "create"], DROPPED_CREATE_OPTIONS)?;
    if c.rest.is_empty() {
        bail!("{argv:?} names no image");
    }
    Ok(c)
}

/// Options of `pod create` a unit or a clone sets itself.
pub const DROPPED_POD_OPTIONS: &[&str] = &["name", "replace", "pod_id_file", "infra_name"];

/// Split a recorded `rpod [GLOBALS] pod create [OPTIONS] [NAME]`, leaving
/// out [`DROPPED_POD_OPTIONS`] (and the NAME argument).
pub fn split_pod_create_command(argv: &[String]) -> Result<CreateCommand> {
    let mut c = split_command(argv, &["create"], DROPPED_POD_OPTIONS)?;
    c.rest.clear();
    Ok(c)
}

/// Split `rpod [GLOBALS] SUBCOMMAND… VERB [OPTIONS] REST…` by rpod's own
/// command line grammar, where VERB is one of `verbs`; options whose clap
/// id is in `dropped` are left out.
fn split_command(argv: &[String], verbs: &[&str], dropped: &[&str]) -> Result<CreateCommand> {
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
                if verbs.contains(&sub.get_name()) {
                    break;
                }
            }
            None => bail!("{w:?} is not a command that creates a container"),
        }
    }
    if !verbs.contains(&cmd.get_name()) {
        bail!("{argv:?} is not an `rpod {}` command line", verbs.join("|"));
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
            if !dropped.contains(&arg.get_id().as_str()) {
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
            let drop = dropped.contains(&arg.get_id().as_str());
            let rest = &body[j + c.len_utf8()..];
            // A boolean's value is only ever attached with `=` (-t=false);
            // in -dit the rest are more flags.
            let optional = arg.get_num_args().is_some_and(|r| r.min_values() == 0);
            if arg.get_action().takes_values() && (!optional || rest.starts_with('=')) {
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
    Ok(CreateCommand {
        globals,
        options,
        rest,
    })
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
        split_create_command(&argv).unwrap()
    }

    #[test]
    fn keeps_what_the_unit_does_not_set() {
        let c = parse(
            "rpod --root /r run -dit --rm --name web -e A=1 --cidfile /x --network=host \
             -p 8080:80 --restart always -v /a:/b alpine sh -c true --rm",
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

    /// A bool's value is attached or absent (pflag): `-t=false` and
    /// `--rm=false` are one word each, and the word after never theirs.
    #[test]
    fn bool_values_are_attached() {
        let c = parse("rpod run -i=false -t=0 --tty=T -u0 --http-proxy alpine sh");
        assert_eq!(
            c.options,
            vec![
                vec!["-i=false".to_string()],
                vec!["-t=0".into()],
                vec!["--tty=T".into()],
                vec!["-u0".into()],
                vec!["--http-proxy".into()],
            ]
        );
        assert_eq!(c.rest, ["alpine", "sh"]);
    }

    #[test]
    fn create_and_container_create_count() {
        let c = parse("/usr/bin/rpod container create --replace --sdnotify ignore -eA=1 alpine");
        assert_eq!(c.options, vec![vec!["-eA=1".to_string()]]);
        assert_eq!(c.rest, ["alpine"]);
        let c = parse("rpod container run -d -- alpine");
        assert_eq!(c.options, Vec::<Vec<String>>::new());
        assert_eq!(c.rest, ["alpine"]);
        assert!(split_create_command(&["rpod".into(), "ps".into()]).is_err());
    }
}

#[cfg(test)]
mod quadlet_tests {
    use super::*;

    /// A value for each `[Container]` key, as a user would write it.
    const SAMPLES: &[(&str, &str)] = &[
        ("AddCapability", "CAP_NET_ADMIN CAP_SYS_TIME"),
        ("AddDevice", "/dev/null:/dev/mynull:rw"),
        ("AddHost", "db.local:10.0.0.2"),
        ("Annotation", "a=1 \"b=two words\""),
        ("AutoUpdate", "registry"),
        ("CgroupsMode", "enabled"),
        ("ContainerName", "web"),
        ("DNS", "10.0.0.53"),
        ("DNSOption", "ndots:1"),
        ("DNSSearch", "example.com"),
        ("DropCapability", "CAP_CHOWN"),
        ("Entrypoint", "/bin/sh"),
        ("Environment", "A=1 B=2"),
        ("EnvironmentFile", "/etc/web.env"),
        ("EnvironmentHost", "true"),
        ("Exec", "-c 'echo hi'"),
        ("ExposeHostPort", "8000-8010"),
        ("GIDMap", "0:1:1000"),
        ("GlobalArgs", "--log-level=debug"),
        ("Group", "100"),
        ("GroupAdd", "wheel"),
        ("HealthCmd", "true"),
        ("HealthInterval", "30s"),
        ("HealthOnFailure", "kill"),
        ("HealthRetries", "3"),
        ("HealthStartPeriod", "5s"),
        ("HealthTimeout", "10s"),
        ("HostName", "web.local"),
        ("IP", "10.88.0.10"),
        ("IP6", "fd00::10"),
        ("Image", "localhost:5000/alpine"),
        ("Label", "app=web tier=front"),
        ("LogDriver", "k8s-file"),
        ("LogOpt", "max-size=10m"),
        ("Mask", "/proc/acpi"),
        ("Memory", "64m"),
        ("Mount", "type=tmpfs,destination=/cache"),
        ("Network", "slirp4netns"),
        ("NetworkAlias", "www"),
        ("NoNewPrivileges", "true"),
        ("Notify", "healthy"),
        ("PidsLimit", "100"),
        ("Pod", "db.pod"),
        ("PodmanArgs", "--oom-score-adj=5"),
        ("PublishPort", "8080:80"),
        ("Pull", "never"),
        ("ReadOnly", "true"),
        ("ReadOnlyTmpfs", "false"),
        ("ReloadCmd", "/bin/kill -HUP 1"),
        ("RunInit", "true"),
        ("SeccompProfile", "unconfined"),
        ("Secret", "token,type=env,target=TOKEN"),
        ("SecurityLabelDisable", "true"),
        ("SecurityLabelFileType", "usr_t"),
        ("SecurityLabelLevel", "s0:c1,c2"),
        ("SecurityLabelNested", "true"),
        ("SecurityLabelType", "spc_t"),
        ("ShmSize", "64m"),
        ("StartWithPod", "true"),
        ("StopSignal", "SIGINT"),
        ("StopTimeout", "20"),
        ("SubGIDMap", "rpodtest"),
        ("SubUIDMap", "rpodtest"),
        ("Sysctl", "net.ipv4.ip_forward=1"),
        ("Timezone", "UTC"),
        ("Tmpfs", "/scratch"),
        ("UIDMap", "0:1:1000"),
        ("Ulimit", "nofile=1000:2000"),
        ("Unmask", "/proc/kcore"),
        ("User", "1000"),
        ("UserNS", "keep-id"),
        ("Volume", "/srv:/srv:ro"),
        ("WorkingDir", "/srv"),
    ];

    /// Every key rpod's Quadlet accepts makes an ExecStart= that rpod's own
    /// `run` parses: no key maps to a flag rpod does not have.
    #[test]
    fn every_container_key_makes_a_command_rpod_run_accepts() {
        for (k, _) in quadlet::CONTAINER_RULES {
            if *k == "ReloadSignal" {
                continue; // excludes ReloadCmd; checked below
            }
            assert!(
                SAMPLES.iter().any(|(s, _)| s == k),
                "no sample value for {k}"
            );
        }
        let mut text = String::from("[Container]\n");
        for (k, v) in SAMPLES {
            text.push_str(&format!("{k}={v}\n"));
        }
        let f = quadlet::UnitFile::parse(&text, "web.container").unwrap();
        let mut index = quadlet::Index::default();
        index.files.insert(
            "db.pod".into(),
            quadlet::UnitFile::parse("[Pod]\n", "db.pod").unwrap(),
        );
        let (_, u) = quadlet::convert_any(
            "web.container",
            Path::new("/q/web.container"),
            &f,
            "rpod",
            &index,
        )
        .unwrap();
        let text = u.render();
        let exec = text
            .split("\nExecStart=")
            .nth(1)
            .unwrap()
            .split('\n')
            .fold((String::new(), true), |(mut acc, go), line| {
                if go {
                    acc.push_str(line.trim_end_matches('\\'));
                    acc.push(' ');
                }
                (acc, go && line.ends_with('\\'))
            })
            .0;
        let words = systemd::split_words(&exec).unwrap();
        assert_eq!(words[..3], ["rpod", "--log-level=debug", "run"]);
        if let Err(e) = Cli::try_parse_from(&words) {
            panic!("rpod run refuses the unit's ExecStart: {e}\n{words:?}");
        }
        for want in [
            "--health-on-failure=kill",
            "--sdnotify=healthy",
            "--pod=systemd-db",
        ] {
            assert!(words.iter().any(|w| w == want), "{want}: {words:?}");
        }
        // ExecReload= is rpod exec's.
        let reload = text.split("\nExecReload=").nth(1).unwrap();
        assert!(
            reload.starts_with("rpod --log-level=debug exec"),
            "{reload}"
        );
        // ReloadSignal= becomes rpod kill's.
        let f =
            quadlet::UnitFile::parse("[Container]\nImage=a\nReloadSignal=SIGHUP\n", "a.container")
                .unwrap();
        let (_, u) = quadlet::convert("a.container", Path::new("a.container"), &f, "rpod").unwrap();
        let r = u.render();
        let line = r
            .split("\nExecReload=")
            .nth(1)
            .unwrap()
            .replace("\\\n\t", "");
        let words = systemd::split_words(line.lines().next().unwrap()).unwrap();
        assert_eq!(words, ["rpod", "kill", "--signal", "SIGHUP", "systemd-a"]);
        Cli::try_parse_from(&words).unwrap();
    }

    /// The first line of every Exec key of `text`, continued lines joined.
    fn execs(text: &str, key: &str) -> Vec<Vec<String>> {
        let joined = text.replace("\\\n\t", "");
        joined
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|l| systemd::split_words(l.trim_start_matches('-')).unwrap())
            .collect()
    }

    /// The .pod, .volume and .network units' commands are rpod's own.
    #[test]
    fn pod_volume_and_network_units_run_commands_rpod_accepts() {
        let files = [
            (
                "db.pod",
                "[Pod]\nPodName=db\nNetwork=n.network\nPublishPort=8080:80\nAddHost=a:10.0.0.1\n\
                 DNS=10.0.0.53\nDNSOption=ndots:1\nDNSSearch=x.org\nExitPolicy=continue\n\
                 HostName=h\nLabel=a=b\nPodmanArgs=--infra=true\nGlobalArgs=--log-level=info\n",
            ),
            (
                "v.volume",
                "[Volume]\nVolumeName=v\nLabel=a=b\nDevice=tmpfs\nType=tmpfs\nOptions=size=1m\n\
                 User=1\nGroup=2\nCopy=true\nDriver=local\n",
            ),
            (
                "n.network",
                "[Network]\nNetworkName=n\nDriver=bridge\nSubnet=10.89.3.0/24\nGateway=10.89.3.1\n\
                 IPRange=10.89.3.128/25\nIPv6=false\nInternal=true\nDisableDNS=true\n\
                 IPAMDriver=host-local\nOptions=mtu=1400\nLabel=a=b\nNetworkDeleteOnStop=true\n",
            ),
        ];
        let mut index = quadlet::Index::default();
        for (n, t) in files {
            index
                .files
                .insert(n.into(), quadlet::UnitFile::parse(t, n).unwrap());
        }
        for (n, t) in files {
            let f = quadlet::UnitFile::parse(t, n).unwrap();
            let (_, u) =
                quadlet::convert_any(n, &Path::new("/q").join(n), &f, "rpod", &index).unwrap();
            let text = u.render();
            for key in ["ExecStartPre", "ExecStart", "ExecStop", "ExecStopPost"] {
                for words in execs(&text, key) {
                    if words[0] != "rpod" {
                        continue;
                    }
                    if let Err(e) = Cli::try_parse_from(&words) {
                        panic!("{n}: {key}: {e}\n{words:?}");
                    }
                }
            }
        }
    }
}
