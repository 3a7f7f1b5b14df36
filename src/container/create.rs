//! `create` (and the first half of `run`): from flags and an image to a
//! container directory holding container.json, state.json, the OCI bundle's
//! config.json and the name files.

use super::names;
use super::opts::{self, SecurityOpts, Userns};
use super::record::{self, ContainerRecord, MountRecord, Paths};
use crate::cli::container::ContainerOpts;
use crate::cli::GlobalOpts;
use crate::network::{self, NetworkMode};
use crate::storage::ImageRecord;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything the OCI spec is built from, resolved and checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: crate::runtime::user::ResolvedUser,
    pub hostname: String,
    pub mounts: Vec<MountRecord>,
    pub read_only: bool,
    pub tty: bool,
    pub network: NetworkMode,
    pub security: SecurityOpts,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub ulimits: Vec<String>,
    /// `--sysctl NAME=VALUE`, checked against the namespaces in spec.rs.
    pub sysctls: Vec<(String, String)>,
    pub userns: Userns,
    /// The catatonit binary, bind-mounted at /run/podman-init.
    pub init: Option<PathBuf>,
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
}

/// Checks that need no image: fail before pulling.
fn precheck(o: &ContainerOpts, command: &[String]) -> Result<()> {
    let _ = command;
    if let Some(n) = &o.name {
        names::validate(n)?;
    }
    let mode = NetworkMode::parse(o.network.as_deref())?;
    mode.check_supported()?;
    // network: -p syntax errors before pulling.
    for p in &o.publish {
        network::ports::parse(p)?;
    }
    network::validate_add_hosts(&o.add_host)?;
    if let Some(f) = &o.cidfile {
        if f.exists() {
            bail!(
                "container id file exists. Ensure another container is not using it or delete {}",
                f.display()
            );
        }
    }
    opts::parse_security_opts(&o.security_opt)?;
    super::spec::parse_sysctls(&o.sysctl)?;
    opts::parse_userns(o.userns.as_deref())?;
    if let Some(s) = &o.stop_signal {
        opts::parse_signal(s)?;
    }
    if let Some(m) = &o.memory {
        opts::parse_bytes(m)?;
    }
    if o.init {
        opts::find_catatonit()?;
    }
    Ok(())
}

fn image_name_for(rec: &ImageRecord, asked: &str) -> String {
    // The name the user typed, resolved: the record's name that matches it.
    rec.names
        .iter()
        .find(|n| {
            n.as_str() == asked
                || n.ends_with(&format!("/{asked}"))
                || n.ends_with(&format!("/{asked}:latest"))
        })
        .or(rec.names.first())
        .cloned()
        .unwrap_or_else(|| asked.to_string())
}

/// Create a container. The caller has entered rpod's user namespace.
pub fn create(
    g: &GlobalOpts,
    paths: &Paths,
    o: &ContainerOpts,
    image_name: &str,
    command: &[String],
) -> Result<ContainerRecord> {
    precheck(o, command)?;
    if let Some(n) = &o.name {
        if let Some(holder) = paths.names().lookup(n).filter(|h| record::exists(paths, h)) {
            if o.replace {
                super::lifecycle::remove_container(paths, &holder, true, Some(0))
                    .with_context(|| format!("replacing container {n}"))?;
            } else {
                return Err(names::in_use_error(n, &holder));
            }
        }
    }
    let pull = crate::image::PullOptions {
        registry: (&o.registry).into(),
        platform: (&o.platform).into(),
    };
    let progress = crate::cli::image_cmds::PullReporter::new(false);
    let image =
        crate::image::ensure_image(&g.into(), image_name, o.pull.parse()?, &pull, &progress)?;
    let store = crate::storage::Store::open(&g.into())?;
    let config = store.image_config(&image)?;
    let ic = config.config().clone().unwrap_or_default();

    let id = names::new_id();
    let entrypoint = match &o.entrypoint {
        Some(e) => opts::parse_entrypoint(e),
        None => ic.entrypoint().clone().unwrap_or_default(),
    };
    // A new entrypoint drops the image's Cmd, as podman and docker do.
    let cmd = if !command.is_empty() {
        command.to_vec()
    } else if o.entrypoint.is_some() {
        Vec::new()
    } else {
        ic.cmd().clone().unwrap_or_default()
    };
    let mut args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
    if args.is_empty() {
        bail!("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
    }

    let hostname = o.hostname.clone().unwrap_or_else(|| id[..12].to_string());
    let host_env = |k: &str| std::env::var(k).ok();
    let mut env = opts::build_env(
        ic.env().as_deref().unwrap_or(&[]),
        o.env_host,
        &o.env_file,
        &o.env,
        &host_env,
    )?;
    if o.tty && !opts::env_has(&env, "TERM") {
        opts::env_set(&mut env, "TERM=xterm".into());
    }
    opts::env_set(&mut env, "container=rpod".into());
    if !opts::env_has(&env, "HOSTNAME") {
        opts::env_set(&mut env, format!("HOSTNAME={hostname}"));
    }

    // keep-id runs as you (or uid=/gid=) unless --user says otherwise.
    let keep_id = match opts::parse_userns(o.userns.as_deref())? {
        Userns::KeepId { uid, gid } => Some(format!(
            "{}:{}",
            uid.unwrap_or_else(|| super::spec::outer_id(
                "/proc/self/uid_map",
                nix::unistd::getuid().as_raw()
            )),
            gid.unwrap_or_else(|| super::spec::outer_id(
                "/proc/self/gid_map",
                nix::unistd::getgid().as_raw()
            ))
        )),
        _ => None,
    };
    let user = o
        .user
        .clone()
        .or(keep_id)
        .or_else(|| ic.user().clone())
        .unwrap_or_default();
    let passwd = crate::rootfs::read_image_file(&store, &image, "/etc/passwd")?;
    let group = crate::rootfs::read_image_file(&store, &image, "/etc/group")?;
    let resolved =
        crate::runtime::user::resolve(&user, &o.group_add, passwd.as_deref(), group.as_deref())?;
    if let (false, Some(home)) = (opts::env_has(&env, "HOME"), &resolved.home) {
        opts::env_set(&mut env, format!("HOME={home}"));
    }

    let mut mounts = Vec::new();
    for v in &o.volume {
        mounts.push(opts::parse_volume(v)?);
    }
    for m in &o.mount {
        mounts.push(opts::parse_mount(m)?);
    }
    for t in &o.tmpfs {
        mounts.push(opts::parse_tmpfs(t)?);
    }

    let stop_signal = match (&o.stop_signal, ic.stop_signal()) {
        (Some(s), _) => opts::parse_signal(s)?,
        (None, Some(s)) => opts::parse_signal(s).unwrap_or(libc::SIGTERM),
        (None, None) => libc::SIGTERM,
    };
    let mut labels: BTreeMap<String, String> = ic
        .labels()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(opts::parse_labels(&o.label)?);

    // network: container:NAME is recorded as the target's id.
    let network =
        network::setup::resolve_container(paths, NetworkMode::parse(o.network.as_deref())?)?;
    // network: -p/-P, with random host ports chosen now as podman does.
    let ports: Vec<String> = if network::setup::ports_apply(&network) {
        let exposed = ic.exposed_ports().clone().unwrap_or_default();
        network::ports::resolve(&o.publish, o.publish_all, &exposed)?
            .iter()
            .map(network::ports::show)
            .collect()
    } else {
        if !o.publish.is_empty() || o.publish_all {
            warn!("Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use");
        }
        Vec::new()
    };
    let security = opts::parse_security_opts(&o.security_opt)?;
    let userns = opts::parse_userns(o.userns.as_deref())?;
    let init = if o.init {
        Some(opts::find_catatonit()?)
    } else {
        None
    };
    let command_shown = args.clone();
    if init.is_some() {
        args.insert(0, "--".into());
        args.insert(0, "/run/podman-init".into());
    }
    let memory = o.memory.as_deref().map(opts::parse_bytes).transpose()?;

    let plan = Plan {
        args,
        env: env.clone(),
        cwd: o
            .workdir
            .clone()
            .or_else(|| ic.working_dir().clone().filter(|w| !w.is_empty()))
            .unwrap_or_else(|| "/".into()),
        user: resolved.clone(),
        hostname: hostname.clone(),
        mounts: mounts.clone(),
        read_only: o.read_only,
        tty: o.tty,
        network: network.clone(),
        security,
        cap_add: o.cap_add.clone(),
        cap_drop: o.cap_drop.clone(),
        privileged: o.privileged,
        ulimits: o.ulimit.clone(),
        sysctls: super::spec::parse_sysctls(&o.sysctl)?,
        userns,
        init,
        memory,
        cpus: o.cpus,
        pids_limit: o.pids_limit,
    };

    let mut rec = ContainerRecord {
        id: id.clone(),
        name: String::new(),
        image_id: image.id.clone(),
        image_name: image_name_for(&image, image_name),
        created: super::time::now_ns(),
        command: command_shown,
        entrypoint,
        cmd,
        env,
        workdir: plan.cwd.clone(),
        user,
        hostname: hostname.clone(),
        labels,
        stop_signal,
        stop_timeout: o.stop_timeout.unwrap_or(10),
        rm: o.rm,
        tty: o.tty,
        interactive: o.interactive,
        init: o.init,
        network: network.clone(),
        mounts,
        read_only: o.read_only,
        privileged: o.privileged,
        cap_add: o.cap_add.clone(),
        cap_drop: o.cap_drop.clone(),
        security_opt: o.security_opt.clone(),
        userns: o.userns.clone().unwrap_or_default(),
        sdnotify: o.sdnotify.clone(),
        storage_driver: g.storage_driver.clone(),
        ports,
        create_command: std::env::args().collect(),
    };

    // The bundle first, then the record: a container is listed only once
    // everything it needs exists.
    let dir = paths.ctr_dir(&id);
    let write_bundle = || -> Result<()> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        network::write_name_files(
            &dir,
            &network,
            &network::NameFiles {
                hostname: &hostname,
                add_hosts: &o.add_host,
                dns: &o.dns,
                dns_search: &o.dns_search,
                dns_options: &o.dns_option,
            },
        )?;
        super::spec::write(&dir, &plan)
    };
    if let Err(e) = write_bundle() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }

    // Generated names retry on the (unlikely) collision; a chosen name fails.
    let mut attempts = 0;
    loop {
        rec.name = o.name.clone().unwrap_or_else(names::generate);
        match record::create(paths, &rec) {
            Ok(()) => break,
            Err(e) if o.name.is_none() && attempts < 20 => {
                attempts += 1;
                debug!("name {} taken: {e:#}", rec.name);
                // record::create removed the dir on failure: write it again.
                write_bundle()?;
            }
            Err(e) => return Err(e),
        }
    }

    if let Some(f) = &o.cidfile {
        write_cidfile(f, &id).inspect_err(|_| {
            let _ = record::remove(paths, &rec);
        })?;
    }
    if memory.is_some() || o.cpus.is_some() || o.pids_limit.is_some() {
        super::spec::warn_limits();
    }
    Ok(rec)
}

fn write_cidfile(f: &std::path::Path, id: &str) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(f)
        .with_context(|| {
            format!(
                "container id file exists. Ensure another container is not using it or delete {}",
                f.display()
            )
        })?;
    file.write_all(id.as_bytes())
        .with_context(|| format!("writing {}", f.display()))
}
