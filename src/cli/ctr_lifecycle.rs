//! The container lifecycle commands (run, create, start, stop, kill, rm,
//! wait, attach, rename, container cleanup and prune, mount, unmount): their
//! flags mapped onto `crate::container`'s operations, and what they print.

use super::container::*;
use super::GlobalOpts;
use crate::container::attach::parse_detach_keys;
use crate::container::create::{ContainerSpec, SdNotify};
use crate::container::record::Paths;
use crate::container::{self as ctr, AttachOptions, Attached, Outcomes, Selection, Target};
use crate::network::NetworkMode;
use crate::options::Options;
use crate::storage::ImageRecord;
use anyhow::{bail, Context, Result};
use std::io::Write;

const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// The command's result for how an attach session ended: the container's
/// exit code becomes rpod's.
fn attached(a: Attached) -> Result<()> {
    match a {
        Attached::Exited(0) | Attached::Detached => Ok(()),
        Attached::Exited(c) => Err(super::exit::exit_status(c)),
    }
}

/// The failures of a command over several containers, as podman reports
/// them: each but the last on stderr as it comes, the last as the result.
#[derive(Default)]
struct Failures(Option<anyhow::Error>);

impl Failures {
    fn add(&mut self, e: anyhow::Error) {
        if let Some(prev) = self.0.replace(e) {
            eprintln!("Error: {prev:#}");
        }
    }

    fn finish(self) -> Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Run `f` for each container; report every failure, return the last.
fn each(names: &[String], ignore: bool, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut failures = Failures::default();
    for n in names {
        if let Err(e) = f(n) {
            if !(ignore && crate::container::record::is_no_such(&e)) {
                failures.add(e);
            }
        }
    }
    failures.finish()
}

/// Print the line of each container a sequential operation acted on, in
/// order; report every failure, return the last (a failed write counts as
/// that container's failure).
pub(super) fn report_each(outcomes: Outcomes, line: impl Fn(&Target) -> &str) -> Result<()> {
    let mut failures = Failures::default();
    for r in outcomes {
        let r = r.and_then(|t| {
            writeln!(std::io::stdout().lock(), "{}", line(&t))?;
            Ok(())
        });
        if let Err(e) = r {
            failures.add(e);
        }
    }
    failures.finish()
}

/// [`report_each`] for an operation that ran all at once: the lines are
/// printed in order, and a failed write ends the command.
fn report_all(outcomes: Outcomes, line: impl Fn(&Target) -> &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let mut failures = Failures::default();
    for r in outcomes {
        match r {
            Ok(t) => writeln!(out, "{}", line(&t))?,
            Err(e) => failures.add(e),
        }
    }
    failures.finish()
}

/// [`container_spec`] with containers.conf's defaults under the flags.
fn spec_with_conf(o: &ContainerOpts, image: &str, command: &[String]) -> Result<ContainerSpec> {
    let d = crate::conf::Defaults::get()?;
    let mut spec = container_spec(&super::conf_defaults::apply(o, d), image, command)?;
    spec.default_env = d.env();
    Ok(spec)
}

/// `run`'s and `create`'s flags as a container spec, each checked that can
/// be before the image is known (and in this order: the first bad flag is
/// the one reported).
fn container_spec(o: &ContainerOpts, image: &str, command: &[String]) -> Result<ContainerSpec> {
    if let Some(n) = &o.name {
        ctr::names::validate(n)?;
    }
    let network = NetworkMode::parse_all(
        &o.network,
        &crate::network::bridge::Extra {
            aliases: o.network_alias.clone(),
            ip: o.ip.clone(),
            ip6: o.ip6.clone(),
            mac: o.mac_address.clone(),
        },
    )?;
    network.check_supported()?;
    // network: -p syntax errors before pulling.
    for p in &o.publish {
        crate::network::ports::parse(p)?;
    }
    crate::network::validate_add_hosts(&o.add_host)?;
    if let Some(f) = &o.cidfile {
        if f.exists() {
            bail!(
                "container id file exists. Ensure another container is not using it or delete {}",
                f.display()
            );
        }
    }
    let security = ctr::opts::parse_security_opts(&o.security_opt)?;
    let sysctls = ctr::spec::parse_sysctls(&o.sysctl)?;
    let userns = ctr::opts::parse_userns(o.userns.as_deref())?;
    let stop_signal = o
        .stop_signal
        .as_deref()
        .map(ctr::opts::parse_signal)
        .transpose()?;
    let memory = o
        .more
        .res
        .memory
        .as_deref()
        .map(ctr::opts::parse_bytes)
        .transpose()?;
    let sdnotify = match o.sdnotify.as_str() {
        "conmon" => SdNotify::Conmon,
        "container" => SdNotify::Container,
        "ignore" => SdNotify::Ignore,
        "healthy" => SdNotify::Healthy,
        other => bail!("invalid --sdnotify {other:?}: use conmon, container, healthy or ignore"),
    };
    let restart = o
        .restart
        .as_deref()
        .map(ctr::record::RestartPolicy::parse)
        .transpose()?;
    if o.rm && restart.is_some_and(|r| r != ctr::record::RestartPolicy::No) {
        bail!(
            "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\""
        );
    }
    Ok(ContainerSpec {
        image: image.to_string(),
        command: command.to_vec(),
        name: o.name.clone(),
        replace: o.replace,
        cidfile: o.cidfile.clone(),
        env: o.env.clone(),
        default_env: Vec::new(),
        env_file: o.env_file.clone(),
        env_host: o.env_host,
        volumes: o.volume.clone(),
        mounts: o.mount.clone(),
        tmpfs: o.tmpfs.clone(),
        volumes_from: o.volumes_from.clone(),
        image_volume: o.image_volume.parse()?,
        workdir: o.workdir.clone(),
        user: o.user.clone(),
        entrypoint: o.entrypoint.as_deref().map(ctr::opts::parse_entrypoint),
        hostname: o.hostname.clone(),
        read_only: o.read_only.unwrap_or(false),
        init: o.init.unwrap_or(false),
        cap_add: o.cap_add.clone(),
        cap_drop: o.cap_drop.clone(),
        privileged: o.privileged,
        security,
        security_opt: o.security_opt.clone(),
        userns,
        userns_mode: o.userns.clone().unwrap_or_default(),
        stop_signal,
        stop_timeout: o.stop_timeout,
        labels: o.label.clone(),
        network,
        publish: o.publish.clone(),
        publish_all: o.publish_all,
        dns: o.dns.clone(),
        dns_search: o.dns_search.clone(),
        dns_option: o.dns_option.clone(),
        add_host: o.add_host.clone(),
        memory,
        cpus: o.more.res.cpus,
        pids_limit: o.pids_limit,
        ulimits: o.ulimit.clone(),
        sysctls,
        group_add: o.group_add.clone(),
        interactive: o.interactive,
        tty: o.tty,
        rm: o.rm,
        sdnotify,
        restart,
        health: ctr::health::HealthFlags {
            cmd: o.health_cmd.clone(),
            interval: o.health_interval.clone(),
            retries: o.health_retries,
            start_period: o.health_start_period.clone(),
            timeout: o.health_timeout.clone(),
            no_healthcheck: o.no_healthcheck,
            on_failure: o.health_on_failure.clone(),
        },
        create_command: std::env::args().collect(),
        pod: None,
        pod_infra: false,
        id: None,
        more: {
            let mut m = more_spec(&o.more)?;
            if o.more.run2.rootfs {
                // --rootfs: IMAGE names a directory.
                let (dir, overlay) = ctr::more::parse_rootfs(image)?;
                m.extras.rootfs = Some(dir);
                m.extras.rootfs_overlay = overlay;
            }
            m
        },
        secrets: o
            .secret
            .iter()
            .map(|s| crate::secret::parse_ref(s))
            .collect::<Result<_>>()?,
    })
}

/// `--pod NAME|new:NAME` (or `--pod-id-file`): enter the user namespace the
/// pod's infra lives in (starting it, or creating the pod first), and make
/// the spec a member's. None without a pod: the caller enters its own.
fn join_pod(
    g: &GlobalOpts,
    o: &ContainerOpts,
    start: bool,
) -> Result<Option<crate::pod::PodRecord>> {
    let name = match (&o.pod, &o.pod_id_file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("reading pod id file {}: {e}", f.display()))?
            .trim()
            .to_string(),
        (None, None) => return Ok(None),
    };
    if !o.network.is_empty() {
        bail!("invalid config provided: networks must be defined when the pod is created: network cannot be configured when it is shared with a pod");
    }
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    crate::pod::reconcile(&paths);
    if let Some(new) = name.strip_prefix("new:") {
        crate::userns::enter()?;
        let pod = crate::pod::create(
            &opts,
            &paths,
            &crate::pod::PodSpec {
                name: Some(new.to_string()),
                infra: true,
                create_command: std::env::args().collect(),
                ..Default::default()
            },
        )?;
        if !start {
            return Ok(Some(pod));
        }
        return crate::pod::prepare_member(&opts, &paths, &pod.id).map(Some);
    }
    if !start {
        // create: the infra starts with the member (`start`, `pod start`).
        let pod = crate::pod::resolve(&paths, &name)?;
        crate::userns::enter()?;
        return Ok(Some(pod));
    }
    crate::pod::prepare_member(&opts, &paths, &name).map(Some)
}

fn pod_spec(pod: &Option<crate::pod::PodRecord>, spec: &mut ContainerSpec) -> Result<()> {
    match pod {
        Some(p) => crate::pod::member_spec(p, spec),
        None => Ok(()),
    }
}

/// The image for a new container, per `--pull` and the registry flags.
fn pull(g: &GlobalOpts, o: &ContainerOpts, name: &str) -> Result<ImageRecord> {
    let pull = crate::image::PullOptions {
        registry: (&o.registry).into(),
        platform: (&o.platform).into(),
    };
    let progress = super::image_cmds::PullReporter::new(o.more.quiet);
    crate::image::ensure_image(&g.into(), name, o.pull.parse()?, &pull, &progress)
}

pub(super) fn run_cmd(g: &GlobalOpts, a: RunArgs) -> Result<()> {
    // pod: --pod runs in the pod's infra's user namespace.
    let pod = join_pod(g, &a.opts, true)?;
    if pod.is_none() {
        // network: --network container:X runs in X's user namespace.
        crate::network::setup::enter_userns(&g.into(), a.opts.network.first().map(String::as_str))?;
    }
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    let keys = parse_detach_keys(a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS))?;
    super::ctr_views::check_preserved_fds(a.opts.more.run2.preserve_fds.unwrap_or(0))?;
    let mut spec = spec_with_conf(&a.opts, a.image(), a.command())?;
    pod_spec(&pod, &mut spec)?;
    if a.rmi {
        if a.detach {
            bail!("the --rmi option does not work with -d (detach)");
        }
        spec.rm = true; // --rmi implies --rm
    }
    let rec = ctr::create::create(&opts, &paths, &spec, |name| pull(g, &a.opts, name))?;
    // --requires: those containers run first.
    ctr::start_required(&opts, &paths, &rec, &mut Vec::new())?;
    let fds = spec.more.preserve_fds;
    if a.detach {
        ctr::spawn_with_fds(&opts, &paths, &rec, false, fds)?;
        writeln!(std::io::stdout().lock(), "{}", rec.id)?;
        return Ok(());
    }
    ctr::spawn_with_fds(&opts, &paths, &rec, true, fds)?;
    // --attach STREAM: only those (default: all three, stdin with -i).
    let streams: Vec<String> = a
        .opts
        .more
        .run2
        .attach
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let wants = |s: &str| streams.is_empty() || streams.iter().any(|x| x == s);
    let how = AttachOptions {
        stdin: rec.interactive && wants("stdin"),
        detach_keys: keys,
        sig_proxy: a.sig_proxy,
    };
    let result = ctr::attach_streams(&paths, &rec, &how, wants("stdout"), wants("stderr"))?;
    if a.rmi {
        remove_run_image(&opts, &paths, &rec);
    }
    attached(result)
}

/// `run --rmi`: once the (--rm) container is gone, remove its image unless
/// another container uses it; a failure is only logged, as podman does.
fn remove_run_image(opts: &Options, paths: &Paths, rec: &ctr::record::ContainerRecord) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let gone =
        || !ctr::record::exists(paths, &rec.id) && !ctr::record::trash_dir(paths, &rec.id).exists();
    while !gone() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = crate::storage::Store::open(opts).and_then(|store| {
        let o = crate::image::RemoveOptions {
            all: false,
            force: false,
            ignore: true,
        };
        crate::image::remove_images(&store, std::slice::from_ref(&rec.image_id), &o, &mut |_| {
            Ok(())
        })
    });
    match r {
        Ok(errors) => {
            for e in errors {
                warn!("--rmi: {e:#}");
            }
        }
        Err(e) => warn!("--rmi: {e:#}"),
    }
}

pub(super) fn create_cmd(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    // Only `run` passes fds (podman's create has no such flag).
    if a.opts.more.run2.preserve_fds.is_some() {
        bail!("unknown flag: --preserve-fds");
    }
    if let Some(v) = &a.init_ctr {
        // podman's checks, in its order.
        if a.opts.pod.is_none() && a.opts.pod_id_file.is_none() {
            bail!("must specify pod value with init-ctr");
        }
        if v != "always" && v != "once" {
            bail!("init-ctr value must be 'always' or 'once'");
        }
    }
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    if let (Some(_), Some(p)) = (&a.init_ctr, &a.opts.pod) {
        // Before join_pod enters a user namespace: the check reads states.
        if let Ok(pod) = crate::pod::resolve(&paths, p) {
            crate::pod::check_init_ctr(&paths, &pod)?;
        }
    }
    let pod = join_pod(g, &a.opts, false)?;
    if pod.is_none() {
        crate::userns::enter()?;
    }
    let mut spec = spec_with_conf(&a.opts, a.image(), a.command())?;
    pod_spec(&pod, &mut spec)?;
    // pod: `pod start` runs it first, to completion.
    spec.more.extras.init_ctr = a.init_ctr.clone().unwrap_or_default();
    let rec = ctr::create::create(&opts, &paths, &spec, |name| pull(g, &a.opts, name))?;
    writeln!(std::io::stdout().lock(), "{}", rec.id)?;
    Ok(())
}

pub(super) fn start_cmd(g: &GlobalOpts, a: &StartArgs) -> Result<()> {
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    let attach = a.attach || a.interactive;
    // --all (and --filter, which implies it): every container that passes
    // the filters, by id, e.g. `--filter restart-policy=always` after boot.
    let containers = if a.all || !a.filter.is_empty() {
        if !a.containers.is_empty() {
            bail!("--all and --filter cannot be used together with container names");
        }
        if attach {
            bail!("you cannot start and attach multiple containers at once");
        }
        let o = ctr::ps::PsOptions {
            all: true,
            filters: super::ctr_views::parse_filters(&a.filter)?,
            ..Default::default()
        };
        let mut rows = ctr::ps::ps(&paths, &o)?;
        // Oldest first: a container that joins another's network comes after it.
        rows.reverse();
        rows.into_iter().map(|r| r.rec.id).collect()
    } else {
        super::ctr_views::with_latest(&paths, &a.containers, a.latest)?
    };
    // pod: a member's infra runs first.
    crate::pod::start_infras_for(&opts, &paths, &containers)?;
    // network: a container:X container starts in X's user namespace.
    crate::network::setup::enter_userns_for(&opts, &containers)?;
    if attach && containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    each(&containers, false, |name| {
        let s = ctr::start(&opts, &paths, name, attach)?;
        if attach {
            let keys = a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS);
            let how = AttachOptions {
                stdin: a.interactive,
                detach_keys: parse_detach_keys(keys)?,
                sig_proxy: a.sig_proxy,
            };
            return attached(ctr::attach_to(&paths, &s.rec, &how)?);
        }
        // podman 4.3 succeeds silently for a container that already runs.
        if s.started {
            writeln!(std::io::stdout().lock(), "{name}")?;
        }
        Ok(())
    })
}

pub(super) fn init_cmd(g: &GlobalOpts, a: &InitArgs) -> Result<()> {
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    // podman's checks, in its order.
    if a.all && a.latest {
        bail!("--all and --latest cannot be used together");
    }
    if a.all && !a.containers.is_empty() {
        bail!("no arguments are needed with --all");
    }
    if a.latest && !a.containers.is_empty() {
        bail!("--latest and containers cannot be used together");
    }
    let containers: Vec<String> = if a.all {
        // Oldest first: a container that joins another's comes after it.
        let mut ids: Vec<String> = ctr::lifecycle::all_ids(&paths)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        ids.reverse();
        ids
    } else {
        if a.containers.is_empty() && !a.latest {
            bail!("you must provide at least one name or id");
        }
        super::ctr_views::with_latest(&paths, &a.containers, a.latest)?
    };
    // pod: a member's infra runs first.
    crate::pod::start_infras_for(&opts, &paths, &containers)?;
    // network: a container:X container is set up in X's user namespace.
    crate::network::setup::enter_userns_for(&opts, &containers)?;
    let mut failures = Failures::default();
    for name in &containers {
        match ctr::init(&opts, &paths, name) {
            // podman prints what it was given; --all and --latest: the ids.
            Ok(t) => writeln!(std::io::stdout().lock(), "{}", t.name)?,
            // --all passes over containers that are set up or run already.
            Err(e)
                if a.all
                    && matches!(
                        crate::error::find(&e),
                        Some(crate::error::Error::ContainerState(_))
                    ) =>
            {
                writeln!(std::io::stdout().lock(), "{name}")?
            }
            Err(e) => failures.add(e),
        }
    }
    failures.finish()
}

pub(super) fn stop_cmd(g: &GlobalOpts, a: &StopArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let Some(names) = selected(&paths, &a.containers, a.latest, &a.filter)? else {
        return Ok(());
    };
    let sel = Selection {
        names,
        cidfiles: a.cidfile.clone(),
        all: a.all,
        ignore: a.ignore,
    };
    let o = ctr::StopOptions { timeout: a.time };
    report_all(ctr::stop(&paths, &sel, o)?, |t| &t.name)
}

pub(super) fn restart_cmd(g: &GlobalOpts, a: &RestartArgs) -> Result<()> {
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    let all = a.all || a.running;
    if all && (!a.containers.is_empty() || a.latest || !a.filter.is_empty()) {
        bail!("--all and --running cannot be used together with container names, --latest or --filter");
    }
    let names = if all {
        Vec::new()
    } else {
        match selected(&paths, &a.containers, a.latest, &a.filter)? {
            Some(n) => n,
            None => return Ok(()),
        }
    };
    let sel = Selection {
        names,
        cidfiles: a.cidfile.clone(),
        all,
        ignore: false,
    };
    // network: a container:X container starts in X's user namespace.
    crate::network::setup::enter_userns_for(&opts, &a.containers)?;
    let o = ctr::RestartOptions {
        timeout: a.time,
        running: a.running,
    };
    report_all(ctr::restart(&opts, &paths, &sel, o)?, |t| &t.name)
}

pub(super) fn kill_cmd(g: &GlobalOpts, a: &KillArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let sig = ctr::opts::parse_signal(&a.signal)?;
    if a.latest && a.all {
        bail!("--all and --latest cannot be used together");
    }
    let sel = Selection {
        names: super::ctr_views::with_latest(&paths, &a.containers, a.latest)?,
        cidfiles: a.cidfile.clone(),
        all: a.all,
        ignore: false,
    };
    report_each(ctr::kill(&paths, &sel, sig)?, |t| &t.name)
}

pub(super) fn rm_cmd(g: &GlobalOpts, a: &RmArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let Some(mut names) = selected(&paths, &a.containers, a.latest, &a.filter)? else {
        return Ok(());
    };
    if a.depend {
        // --depend: the containers that depend on these go first.
        let mut deps: Vec<String> = Vec::new();
        for n in &names {
            match ctr::record::resolve(&paths, n) {
                Ok(id) => {
                    for d in ctr::more::dependents(&paths, &id)?.into_iter().rev() {
                        if !deps.contains(&d) {
                            deps.push(d);
                        }
                    }
                }
                Err(e) if a.ignore && ctr::record::is_no_such(&e) => {}
                Err(e) => return Err(e),
            }
        }
        deps.retain(|d| !names.contains(d));
        deps.append(&mut names);
        names = deps;
    } else if !a.all {
        // podman refuses to remove a container others need (--requires,
        // --network container:) unless they go too.
        let ids: Vec<String> = names
            .iter()
            .filter_map(|n| ctr::record::resolve(&paths, n).ok())
            .collect();
        for id in &ids {
            let deps: Vec<String> = ctr::more::dependents(&paths, id)?
                .into_iter()
                .filter(|d| !ids.contains(d))
                .collect();
            if !deps.is_empty() {
                bail!(
                    "container {id} has dependent containers which must be removed before it: {}: container already exists",
                    deps.join(",")
                );
            }
        }
    }
    let sel = Selection {
        names,
        cidfiles: a.cidfile.clone(),
        all: a.all,
        ignore: a.ignore,
    };
    // Signals go from here, the owner of every container's namespace.
    if a.force {
        ctr::stop_for_rm(&paths, &sel, a.time);
    } else {
        // An initialized container is removed without force: its waiting
        // init is ended first.
        ctr::stop_initialized_for_rm(&paths, &sel);
    }
    crate::userns::enter()?;
    let o = ctr::RmOptions {
        force: a.force,
        timeout: a.time,
        volumes: a.volumes,
    };
    // podman 4.3 prints each name or id as given (ids with --all, --filter,
    // --cidfile and --latest).
    let res = report_all(ctr::rm(&paths, &sel, o)?, |t| &t.name);
    // --cidfile names the file to remove once its container is gone.
    if res.is_ok() {
        for f in &a.cidfile {
            let _ = std::fs::remove_file(f);
        }
    }
    res
}

fn wait_condition(c: &str) -> Result<ctr::WaitCondition> {
    Ok(match c {
        "stopped" => ctr::WaitCondition::Stopped,
        "exited" => ctr::WaitCondition::Exited,
        "running" => ctr::WaitCondition::Running,
        _ => bail!("invalid --condition {c:?}: use stopped, exited or running"),
    })
}

/// `wait --interval` as podman reads it: a Go duration, or a bare number
/// of milliseconds.
fn wait_interval(s: &str) -> Result<std::time::Duration> {
    crate::time::parse_go_duration(s)
        .or_else(|| crate::time::parse_go_duration(&format!("{s}ms")))
        .with_context(|| format!("time: invalid duration {s:?}"))
}

pub(super) fn wait_cmd(g: &GlobalOpts, a: &WaitArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let conditions = a
        .condition
        .iter()
        .map(|c| wait_condition(c))
        .collect::<Result<Vec<_>>>()?;
    let interval = wait_interval(&a.interval)?;
    let names = super::ctr_views::with_latest(&paths, &a.containers, a.latest)?;
    each(&names, a.ignore, |name| {
        let code = ctr::wait_polling(&paths, name, &conditions, interval)?;
        writeln!(std::io::stdout().lock(), "{code}")?;
        Ok(())
    })
}

pub(super) fn attach_cmd(g: &GlobalOpts, a: &AttachArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let name = match (&a.container, a.latest) {
        (Some(_), true) => bail!("--latest and containers cannot be used together"),
        (Some(c), false) => c.clone(),
        (None, _) => ctr::ps::latest(&paths)?,
    };
    let rec = ctr::attachable(&paths, &name)?;
    let keys = a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS);
    let how = AttachOptions {
        stdin: !a.no_stdin && rec.interactive,
        detach_keys: parse_detach_keys(keys)?,
        sig_proxy: a.sig_proxy,
    };
    attached(ctr::attach_to(&paths, &rec, &how)?)
}

pub(super) fn rename_cmd(g: &GlobalOpts, a: &RenameArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    ctr::rename(&paths, &a.container, &a.name)
}

pub(super) fn cleanup_cmd(g: &GlobalOpts, a: &CleanupArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    report_each(ctr::cleanup(&paths, &a.containers, a.all, a.rm)?, |t| &t.id)
}

pub(super) fn prune_cmd(g: &GlobalOpts, a: &ContainerPruneArgs) -> Result<()> {
    crate::userns::enter()?;
    let paths = Paths::new(&g.into())?;
    if !a.force {
        eprint!("WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
    }
    let mut out = std::io::stdout().lock();
    ctr::prune(&paths, |id, r| {
        match r {
            Ok(()) => writeln!(out, "{id}")?,
            Err(e) => eprintln!("Error: removing {id}: {e:#}"),
        }
        Ok(())
    })
}

fn require_unshare(cmd: &str) -> Result<()> {
    if !crate::userns::in_child_userns() {
        bail!("rpod {cmd} must run inside `rpod unshare`, where the mount is visible");
    }
    Ok(())
}

pub(super) fn mount_cmd(g: &GlobalOpts, a: &MountArgs) -> Result<()> {
    require_unshare("mount")?;
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    let store = crate::storage::Store::open(&opts)?;
    let mut out = std::io::stdout().lock();
    if a.containers.is_empty() {
        // List what is mounted in this namespace.
        for (id, merged) in ctr::mounted(&paths)? {
            writeln!(out, "{}  {}", &id[..12], merged.display())?;
        }
        return Ok(());
    }
    each(&a.containers, false, |name| {
        let merged = ctr::mount(&store, &paths, name)?;
        writeln!(out, "{}", merged.display())?;
        Ok(())
    })
}

pub(super) fn unmount_cmd(g: &GlobalOpts, a: &UnmountArgs) -> Result<()> {
    require_unshare("unmount")?;
    let paths = Paths::new(&g.into())?;
    report_each(ctr::unmount(&paths, &a.containers, a.all)?, |t| &t.id)
}

/// `--expose PORT[-END][/PROTO]` as the image's ExposedPorts entries.
fn expose_ports(v: &str) -> Result<Vec<String>> {
    let (ports, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        bail!("invalid --expose {v:?}: the protocol is tcp, udp or sctp");
    }
    let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
    let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) else {
        bail!("invalid --expose {v:?}: use PORT[-END][/PROTOCOL]");
    };
    if a == 0 || b < a {
        bail!("invalid --expose {v:?}: use PORT[-END][/PROTOCOL]");
    }
    Ok((a..=b).map(|p| format!("{p}/{proto}")).collect())
}

/// The flags of [`MoreContainerOpts`], checked before anything is made.
fn more_spec(m: &MoreContainerOpts) -> Result<ctr::more::MoreSpec> {
    use ctr::more;
    if m.subuidname.is_some() || m.subgidname.is_some() {
        bail!(
            "--subuidname/--subgidname need root to map another user's subordinate ids: \
             rootless, map your own with --uidmap/--gidmap or --userns"
        );
    }
    let r = &m.run2;
    let log_driver = match m.log_driver.as_deref() {
        None | Some("") => String::new(),
        // podman 4.3 takes json-file as k8s-file.
        Some("k8s-file") | Some("json-file") => "k8s-file".into(),
        Some("none") => "none".into(),
        Some("journald") => {
            if std::path::Path::new("/run/systemd/journal/socket").exists() {
                bail!("--log-driver journald: not supported by rpod; use k8s-file or none");
            }
            bail!("--log-driver journald: there is no journal here (/run/systemd/journal/socket is missing); use k8s-file or none")
        }
        Some("passthrough") => bail!(
            "--log-driver passthrough: not supported by rpod, whose monitor always holds the container's output; use k8s-file or none"
        ),
        Some(_) => bail!("running container create option: invalid log driver: invalid argument"),
    };
    let mut extras = ctr::more::RunExtras {
        log_driver,
        ..Default::default()
    };
    ctr::more::parse_log_opts(&r.log_opt, &mut extras)?;
    let abs = |p: &std::path::Path| -> Result<std::path::PathBuf> {
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()?.join(p)
        })
    };
    extras.pidfile = r.pidfile.as_deref().map(abs).transpose()?;
    extras.conmon_pidfile = r.conmon_pidfile.as_deref().map(abs).transpose()?;
    extras.timeout = r.timeout.unwrap_or(0);
    extras.systemd = if r.systemd == "true" {
        String::new()
    } else {
        r.systemd.clone()
    };
    extras.personality = r
        .personality
        .as_deref()
        .map(ctr::more::parse_personality)
        .transpose()?
        .unwrap_or_default();
    for c in &r.chrootdirs {
        if !c.starts_with('/') || c.split('/').any(|x| x == "..") {
            bail!("invalid --chrootdirs {c:?}: an absolute path inside the container");
        }
        extras.chrootdirs.push(c.clone());
    }
    extras.requires = r
        .requires
        .iter()
        .flat_map(|x| x.split(','))
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect();
    for a in &r.attach {
        if !matches!(
            a.to_ascii_lowercase().as_str(),
            "stdin" | "stdout" | "stderr"
        ) {
            bail!("invalid stream \"{a}\" for --attach - must be one of stdin, stdout, or stderr: invalid argument");
        }
    }
    if m.cgroups == "split" {
        bail!("--cgroups split needs systemd to have delegated a cgroup to the user: none here");
    }
    let mut annotations = Vec::new();
    for a in &m.annotation {
        match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => annotations.push((k.to_string(), v.to_string())),
            _ => bail!("invalid --annotation {a:?}: expected KEY=VALUE"),
        }
    }
    let mut file_labels = Vec::new();
    for f in &m.label_file {
        file_labels.extend(more::read_label_file(f)?);
    }
    let mut expose = Vec::new();
    for e in &m.expose {
        expose.extend(expose_ports(e)?);
    }
    if let Some(adj) = m.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            bail!("invalid --oom-score-adj {adj}: it goes from -1000 to 1000");
        }
        let now: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if adj < now {
            bail!(
                "--oom-score-adj {adj}: lowering it below {now} needs CAP_SYS_RESOURCE, which a \
                 rootless container does not have"
            );
        }
    }
    let bytes = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| {
                if s == "-1" {
                    return Ok(-1);
                }
                ctr::opts::parse_bytes(s).map_err(|e| anyhow::anyhow!("--{flag}: {e:#}"))
            })
            .transpose()
    };
    let mut not_applied = Vec::new();
    let mut note = |name: &str, given: bool| {
        if given {
            not_applied.push(format!("--{name}"));
        }
    };
    note("cpu-rt-period", m.res.cpu_rt_period.is_some());
    note("cpu-rt-runtime", m.res.cpu_rt_runtime.is_some());
    note("memory-swappiness", m.res.memory_swappiness.is_some());
    note("blkio-weight-device", !m.res.blkio_weight_device.is_empty());
    note("device-read-bps", !m.res.device_read_bps.is_empty());
    note("device-read-iops", !m.iops.device_read_iops.is_empty());
    note("device-write-bps", !m.res.device_write_bps.is_empty());
    note("device-write-iops", !m.iops.device_write_iops.is_empty());
    note("cgroup-parent", m.cgroup_parent.is_some());
    note("cgroup-conf", !m.cgroup_conf.is_empty());
    note("device-cgroup-rule", !m.device_cgroup_rule.is_empty());
    if let Some(w) = m.res.blkio_weight {
        if !(10..=1000).contains(&w) {
            bail!("invalid --blkio-weight {w}: it goes from 10 to 1000");
        }
    }
    if let Some(s) = m.res.memory_swappiness {
        if !(-1..=100).contains(&s) {
            bail!("invalid --memory-swappiness {s}: it goes from 0 to 100");
        }
    }
    let resources = more::MoreResources {
        cpu_shares: m.res.cpu_shares,
        cpu_period: m.res.cpu_period,
        cpu_quota: m.res.cpu_quota,
        cpuset_cpus: m.res.cpuset_cpus.clone(),
        cpuset_mems: m.res.cpuset_mems.clone(),
        memory_reservation: bytes("memory-reservation", &m.res.memory_reservation)?,
        memory_swap: bytes("memory-swap", &m.res.memory_swap)?,
        oom_kill_disable: m.oom_kill_disable,
        blkio_weight: m.res.blkio_weight,
        not_applied,
    };
    Ok(more::MoreSpec {
        annotations,
        file_labels,
        env_merge: m.env_merge.clone(),
        unsetenv: m.unsetenv.clone(),
        unsetenv_all: m.unsetenv_all,
        http_proxy: m.http_proxy,
        no_hosts: m.no_hosts,
        shm_size: m
            .shm_size
            .as_deref()
            .map(|s| {
                ctr::opts::parse_bytes(s).map_err(|_| {
                    anyhow::anyhow!("unable to translate --shm-size: invalid size: '{s}'")
                })
            })
            .transpose()?,
        tz: m.tz.as_deref().map(more::tz_file).transpose()?,
        umask: m.umask.as_deref().map(more::parse_umask).transpose()?,
        init_path: m.init_path.clone(),
        expose,
        oom_score_adj: m.oom_score_adj,
        uts: more::parse_ns("uts", m.uts.as_deref())?,
        ipc: more::parse_ns("ipc", m.ipc.as_deref())?,
        pid: more::parse_ns("pid", m.pid.as_deref())?,
        cgroupns: more::parse_ns("cgroupns", m.cgroupns.as_deref())?,
        uidmap: m
            .uidmap
            .iter()
            .map(|v| more::parse_idmap("uidmap", v))
            .collect::<Result<_>>()?,
        gidmap: m
            .gidmap
            .iter()
            .map(|v| more::parse_idmap("gidmap", v))
            .collect::<Result<_>>()?,
        devices: m
            .device
            .iter()
            .map(|d| more::parse_device(d))
            .collect::<Result<_>>()?,
        read_only_tmpfs: m.read_only_tmpfs,
        seccomp_from_image: m.seccomp_policy == "image",
        cgroups_disabled: m.cgroups == "disabled",
        resources,
        extras,
        passwd: r.passwd,
        passwd_entry: r.passwd_entry.clone(),
        hostuser: r.hostuser.clone(),
        preserve_fds: r.preserve_fds.unwrap_or(0),
        ..Default::default()
    })
}

/// The containers `stop`/`rm` act on: the names, the newest (`--latest`),
/// or those that pass `--filter` (as `ps -a --filter`). None: the filter
/// matched nothing, which podman takes as nothing to do (exit 0, silent).
fn selected(
    paths: &Paths,
    names: &[String],
    latest: bool,
    filter: &[String],
) -> Result<Option<Vec<String>>> {
    if filter.is_empty() {
        return super::ctr_views::with_latest(paths, names, latest).map(Some);
    }
    if !names.is_empty() || latest {
        bail!("--filter takes no container names and no --latest");
    }
    let o = ctr::ps::PsOptions {
        all: true,
        filters: super::ctr_views::parse_filters(filter)?,
        ..Default::default()
    };
    let ids: Vec<String> = ctr::ps::ps(paths, &o)?
        .into_iter()
        .map(|r| r.rec.id)
        .collect();
    Ok((!ids.is_empty()).then_some(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> ContainerOpts {
        use clap::Parser;
        let mut argv = vec!["rpod", "create"];
        argv.extend_from_slice(args);
        argv.push("alpine");
        let cli = super::super::Cli::try_parse_from(argv).unwrap();
        match cli.command {
            super::super::Command::Create(a) => a.opts,
            _ => panic!("not create"),
        }
    }

    #[test]
    fn spec_checks_flags_in_the_order_create_always_did() {
        // A bad name is reported before a bad network, and that before a bad --memory.
        let o = opts(&["--name=_bad", "--network", "bogus", "--memory", "x"]);
        let e = container_spec(&o, "alpine", &[]).unwrap_err().to_string();
        assert!(e.contains("_bad"), "{e}");
        let o = opts(&["--network", "bogus", "--memory", "x"]);
        let e = container_spec(&o, "alpine", &[]).unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn spec_carries_parsed_values() {
        let o = opts(&[
            "--stop-signal",
            "SIGINT",
            "--memory",
            "1k",
            "--sdnotify",
            "ignore",
            "--entrypoint",
            "[\"/bin/sh\",\"-c\"]",
            "--userns",
            "keep-id:uid=7",
        ]);
        let s = container_spec(&o, "alpine", &["true".into()]).unwrap();
        assert_eq!(s.image, "alpine");
        assert_eq!(s.command, ["true"]);
        assert_eq!(s.stop_signal, Some(libc::SIGINT));
        assert_eq!(s.memory, Some(1024));
        assert_eq!(s.sdnotify, SdNotify::Ignore);
        assert_eq!(
            s.entrypoint.as_deref(),
            Some(&["/bin/sh".to_string(), "-c".to_string()][..])
        );
        assert_eq!(
            s.userns,
            ctr::opts::Userns::KeepId {
                uid: Some(7),
                gid: None
            }
        );
        assert_eq!(s.userns_mode, "keep-id:uid=7");
        assert_eq!(SdNotify::default().as_str(), "container");
    }

    #[test]
    fn wait_conditions() {
        assert_eq!(
            wait_condition("running").unwrap(),
            ctr::WaitCondition::Running
        );
        let e = wait_condition("paused").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid --condition \"paused\": use stopped, exited or running"
        );
    }
}
