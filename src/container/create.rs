//! `create` (and the first half of `run`): from a [`ContainerSpec`] and an
//! image to a container directory holding container.json, state.json, the
//! OCI bundle's config.json and the name files.

use super::names;
use super::opts::{self, SecurityOpts, Userns};
use super::record::{self, ContainerRecord, MountRecord, Paths};
use crate::network::{self, NetworkMode};
use crate::options::Options;
use crate::storage::ImageRecord;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How the monitor notifies systemd (`--sdnotify`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SdNotify {
    /// The monitor says READY once the container runs.
    Conmon,
    /// The container's own sd_notify messages are passed on.
    #[default]
    Container,
    /// Nothing is sent.
    Ignore,
    /// The monitor says READY at the container's first healthy check
    /// (podman 4.4's `healthy`; it needs a healthcheck).
    Healthy,
}

impl SdNotify {
    /// The name recorded in container.json (and read by the monitor).
    pub fn as_str(self) -> &'static str {
        match self {
            SdNotify::Conmon => "conmon",
            SdNotify::Container => "container",
            SdNotify::Ignore => "ignore",
            SdNotify::Healthy => "healthy",
        }
    }
}

/// `--image-volume`: the image config's `Volumes` become anonymous
/// volumes (bind, podman's default), tmpfs mounts, or nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImageVolume {
    #[default]
    Bind,
    Tmpfs,
    Ignore,
}

impl std::str::FromStr for ImageVolume {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<ImageVolume> {
        Ok(match s {
            "" | "bind" | "anonymous" => ImageVolume::Bind,
            "tmpfs" => ImageVolume::Tmpfs,
            "ignore" => ImageVolume::Ignore,
            _ => bail!("invalid --image-volume {s:?}: use bind, tmpfs or ignore"),
        })
    }
}

/// What a new container is made of (podman's specgen): the caller builds it
/// from its flags. Settings with a syntax that can be checked before the
/// image is known come parsed; the others (environment, mounts, labels,
/// port mappings) are parsed here, after the image, in the order they
/// always were, so a bad value and a missing image fail the same way.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// The image as the user named it.
    pub image: String,
    /// The command and its arguments (empty: the image's Cmd).
    pub command: Vec<String>,
    /// The name (None: a generated adjective_noun); checked by `names::validate`.
    pub name: Option<String>,
    /// Remove a container that holds the name.
    pub replace: bool,
    /// A file to write the new container's id to; must not exist.
    pub cidfile: Option<PathBuf>,
    /// KEY=VALUE, or KEY to copy it from the host.
    pub env: Vec<String>,
    /// KEY=VALUE below the image's (containers.conf `env`).
    pub default_env: Vec<String>,
    pub env_file: Vec<PathBuf>,
    /// Copy the whole host environment.
    pub env_host: bool,
    /// `-v HOST:CONTAINER[:OPTS]`.
    pub volumes: Vec<String>,
    /// `--mount type=…,…`.
    pub mounts: Vec<String>,
    /// `--tmpfs DIR[:OPTS]`.
    pub tmpfs: Vec<String>,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
    /// What the image's VOLUMEs become (`--image-volume`).
    pub image_volume: ImageVolume,
    pub workdir: Option<String>,
    /// USER[:GROUP] (None: keep-id's, or the image's).
    pub user: Option<String>,
    /// Replaces the image's entrypoint (and drops its Cmd).
    pub entrypoint: Option<Vec<String>>,
    pub hostname: Option<String>,
    pub read_only: bool,
    pub init: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security: SecurityOpts,
    /// The `--security-opt` values as given, for inspect.
    pub security_opt: Vec<String>,
    pub userns: Userns,
    /// The `--userns` value as given ("" for none), for inspect.
    pub userns_mode: String,
    /// None: the image's StopSignal, or SIGTERM.
    pub stop_signal: Option<i32>,
    /// Seconds between the stop signal and SIGKILL (None: 10).
    pub stop_timeout: Option<u32>,
    /// KEY=VALUE.
    pub labels: Vec<String>,
    pub network: NetworkMode,
    /// `-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`, syntax checked.
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    /// HOST:IP lines for /etc/hosts, checked.
    pub add_host: Vec<String>,
    /// Bytes.
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    /// NAME=SOFT[:HARD].
    pub ulimits: Vec<String>,
    pub sysctls: Vec<(String, String)>,
    pub group_add: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    /// Remove the container when it exits.
    pub rm: bool,
    pub sdnotify: SdNotify,
    /// `--restart` (None: not given).
    pub restart: Option<record::RestartPolicy>,
    /// `--health-*` and `--no-healthcheck`.
    pub health: super::health::HealthFlags,
    /// The command line that created the container, for inspect and
    /// `generate systemd --new`.
    pub create_command: Vec<String>,
    /// The pod (its id) whose infra's ipc, uts and network namespaces the
    /// container joins (set `network` to `container:INFRA`); with
    /// `pod_infra`, the container is that pod's infra.
    pub pod: Option<String>,
    pub pod_infra: bool,
    /// The id to give the container (None: a new random one); a pod names
    /// its infra's before creating it, so a crash leaves nothing unnamed.
    pub id: Option<String>,
    /// The flags of `super::more` (issue 12).
    pub more: super::more::MoreSpec,
    /// `--secret`: copied in at create, as read-only files or variables
    /// that the record (and so `inspect`) never holds.
    pub secrets: Vec<crate::secret::SecretRef>,
}

/// Everything the OCI spec is built from, resolved and checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The network namespace is the host's: `--network host`, or joining
    /// a container (a pod's infra) that is on the host's network.
    pub host_net: bool,
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
    /// Join the ipc and uts namespaces of the `container:` network target
    /// too (a pod's member joins its infra's).
    pub pod_ns: bool,
    /// The flags of `super::more`, and the namespaces they resolved to.
    pub more: super::more::MoreSpec,
    pub ns: super::more::NsPlan,
}

/// The checks of the spec that need the host, not the image: fail before
/// pulling.
fn precheck(o: &ContainerSpec) -> Result<()> {
    if o.init {
        init_binary(o)?;
    }
    if o.more.uidmap.len() + o.more.gidmap.len() > 0 && o.userns != Userns::Default {
        bail!("--userns and --uidmap/--gidmap cannot be used together");
    }
    super::more::check_idmaps(&o.more)?;
    Ok(())
}

/// The init binary of `--init`: `--init-path`, or catatonit.
fn init_binary(o: &ContainerSpec) -> Result<PathBuf> {
    match &o.more.init_path {
        Some(p) => {
            let m = std::fs::metadata(p).with_context(|| format!("--init-path {}", p.display()))?;
            if !m.is_file() {
                bail!("--init-path {}: not a file", p.display());
            }
            Ok(p.clone())
        }
        None => opts::find_catatonit(),
    }
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

/// Create a container. The caller has entered rpod's user namespace;
/// `resolve_image` finds (or pulls) the image named in the spec, once the
/// checks that need no image have passed.
pub fn create(
    options: &Options,
    paths: &Paths,
    o: &ContainerSpec,
    resolve_image: impl FnOnce(&str) -> Result<ImageRecord>,
) -> Result<ContainerRecord> {
    precheck(o)?;
    let image_name = o.image.as_str();
    let command = o.command.as_slice();
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
    let secrets = crate::secret::for_container(options, &o.secrets)?;
    // --rootfs: a directory instead of an image (no config, no layers).
    let rootfs = o.more.extras.rootfs.as_deref();
    let image = match rootfs {
        None => Some(resolve_image(image_name)?),
        Some(_) => None,
    };
    let store = crate::storage::Store::open(options)?;
    let config = match &image {
        Some(image) => store.image_config(image)?,
        None => oci_spec::image::ImageConfiguration::default(),
    };
    let healthcheck = super::health::resolve(
        &o.health,
        image.as_ref().and_then(|image| {
            store
                .read_blob(&image.config_digest)
                .ok()
                .and_then(|raw| super::health::from_image_config(&raw))
        }),
    )?;
    if o.sdnotify == SdNotify::Healthy && healthcheck.is_none() {
        bail!("sdnotify policy \"healthy\" requires a healthcheck to be set");
    }
    let ic = config.config().clone().unwrap_or_default();

    let id = o.id.clone().unwrap_or_else(names::new_id);
    let entrypoint = match &o.entrypoint {
        Some(e) => e.clone(),
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

    let hostname = o.hostname.clone().unwrap_or_else(|| {
        if o.more.uts == super::more::NsMode::Host {
            // --uts host: the host's name is the container's.
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| id[..12].to_string())
        } else {
            id[..12].to_string()
        }
    });
    let host_env = |k: &str| std::env::var(k).ok();
    // containers.conf's env, then the image's over it.
    let mut base_env: Vec<String> = o.default_env.clone();
    for e in ic.env().clone().unwrap_or_default() {
        opts::env_set(&mut base_env, e);
    }
    if o.more.http_proxy {
        // --http-proxy (on by default): the host's proxy settings.
        for k in super::more::PROXY_VARS {
            if let Ok(v) = std::env::var(k) {
                opts::env_set(&mut base_env, format!("{k}={v}"));
            }
        }
    }
    let mut env = opts::build_env(&base_env, o.env_host, &o.env_file, &o.env, &host_env)?;
    for m in &o.more.env_merge {
        let Some((k, v)) = m.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("invalid --env-merge {m:?}: expected KEY=VALUE");
        };
        let v = super::more::expand(v, &env);
        opts::env_set(&mut env, format!("{k}={v}"));
    }
    if o.tty && !opts::env_has(&env, "TERM") {
        opts::env_set(&mut env, "TERM=xterm".into());
    }
    // --systemd: podman's systemd mode for an init or systemd command.
    let systemd = super::more::systemd_mode(&o.more.extras.systemd, &args);
    opts::env_set(
        &mut env,
        if systemd {
            "container=podman"
        } else {
            "container=rpod"
        }
        .into(),
    );
    if !opts::env_has(&env, "HOSTNAME") {
        opts::env_set(&mut env, format!("HOSTNAME={hostname}"));
    }

    // keep-id runs as you (or uid=/gid=) unless --user says otherwise.
    let keep_id = match o.userns {
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
    let (passwd, group) = match (&image, rootfs) {
        (Some(image), _) => (
            crate::rootfs::read_image_file(&store, image, "/etc/passwd")?,
            crate::rootfs::read_image_file(&store, image, "/etc/group")?,
        ),
        (None, Some(dir)) => (
            super::more::read_rootfs_file(dir, "/etc/passwd")?,
            super::more::read_rootfs_file(dir, "/etc/group")?,
        ),
        (None, None) => (None, None),
    };
    let resolved =
        crate::runtime::user::resolve(&user, &o.group_add, passwd.as_deref(), group.as_deref())?;
    if let (false, Some(home)) = (opts::env_has(&env, "HOME"), &resolved.home) {
        opts::env_set(&mut env, format!("HOME={home}"));
    }
    // --unsetenv KEY and --unsetenv-all: only what the user set survives.
    if o.more.unsetenv_all {
        const MARK: &str = "PATH=\u{0}";
        let user: Vec<String> =
            opts::build_env(&[MARK.into()], o.env_host, &o.env_file, &o.env, &host_env)?
                .into_iter()
                .filter(|e| e != MARK)
                .collect();
        env.retain(|e| {
            let k = e.split('=').next().unwrap_or("");
            opts::env_has(&user, k)
                || o.more
                    .env_merge
                    .iter()
                    .any(|m| m.split('=').next() == Some(k))
        });
    }
    env.retain(|e| {
        !o.more
            .unsetenv
            .iter()
            .any(|u| e.split('=').next() == Some(u.as_str()))
    });

    let mut mounts = Vec::new();
    for v in &o.volumes {
        mounts.push(opts::parse_volume(v)?);
    }
    for m in &o.mounts {
        mounts.push(opts::parse_mount(m)?);
    }
    for t in &o.tmpfs {
        mounts.push(opts::parse_tmpfs(t)?);
    }
    for from in &o.volumes_from {
        for m in volumes_from(paths, from)? {
            if !mounts.iter().any(|x| x.destination == m.destination) {
                mounts.push(m);
            }
        }
    }
    for dest in ic.volumes().iter().flatten() {
        let dest = crate::sys::inroot::clean_path(std::path::Path::new(dest))
            .to_string_lossy()
            .into_owned();
        if mounts.iter().any(|m| m.destination == dest) {
            continue;
        }
        match o.image_volume {
            ImageVolume::Bind => mounts.push(opts::parse_volume(&dest)?),
            ImageVolume::Tmpfs => mounts.push(opts::parse_tmpfs(&dest)?),
            ImageVolume::Ignore => {}
        }
    }
    // Volumes are made, and the container recorded as their user, under
    // the volumes lock: `volume rm` never removes one between the two.
    let vols = crate::volume::Volumes::new(&store);
    let _vlock = if mounts.iter().any(|m| m.kind == "volume") {
        Some(vols.lock()?)
    } else {
        None
    };
    let owner = (
        ns_id(&o.userns, resolved.uid, true),
        ns_id(&o.userns, resolved.gid, false),
    );
    let mut made = NewVolumes {
        vols: &vols,
        names: Vec::new(),
        keep: false,
    };
    let mut runtime_mounts = Vec::with_capacity(mounts.len());
    for m in mounts.iter_mut() {
        if m.kind == "volume" {
            if resolve_volume(&vols, m)? {
                made.names.push(m.name.clone());
            }
            m.owner = Some(owner);
        } else if m.options.iter().any(|x| x == "U") {
            m.owner = Some(owner);
        }
        let mut r = runtime_mount(&vols, m)?;
        if m.kind == "bind" && m.options.iter().any(|x| x == "O") {
            // :O: an overlay with the host dir below and a scratch upper
            // dir, emptied at every start (crate::volume::prepare_mounts).
            let n = runtime_mounts.len();
            let (upper, work) = crate::volume::overlay_dirs(&paths.ctr_dir(&id), n);
            r.kind = "overlay".into();
            r.source = "overlay".into();
            r.options = vec![
                format!("lowerdir={}", m.source),
                format!("upperdir={}", upper.display()),
                format!("workdir={}", work.display()),
                "userxattr".into(),
                "nosuid".into(),
                "nodev".into(),
                if m.rw { "rw" } else { "ro" }.into(),
            ];
        }
        runtime_mounts.push(r);
    }
    runtime_mounts.extend(crate::secret::mounts(&paths.ctr_dir(&id), &secrets));

    let stop_signal = match (o.stop_signal, ic.stop_signal()) {
        (Some(s), _) => s,
        // systemd mode: what systemd takes as "shut down".
        (None, _) if systemd => opts::parse_signal("SIGRTMIN+3")?,
        (None, Some(s)) => opts::parse_signal(s).unwrap_or(libc::SIGTERM),
        (None, None) => libc::SIGTERM,
    };
    let mut labels: BTreeMap<String, String> = ic
        .labels()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(opts::parse_labels(&o.more.file_labels)?);
    labels.extend(opts::parse_labels(&o.labels)?);
    if o.more.seccomp_from_image {
        // podman's --seccomp-policy=image: the profile the image names.
        if labels.contains_key("io.containers.seccomp.profile") {
            bail!("--seccomp-policy image: the image's seccomp profile (label io.containers.seccomp.profile) is not supported by rpod; use --security-opt seccomp=PROFILE.json");
        }
        bail!("no seccomp policy defined by image");
    }
    let ns = super::more::NsPlan {
        uts: super::more::resolve_ns(paths, "uts", "uts", &o.more.uts)?,
        ipc: super::more::resolve_ns(paths, "ipc", "ipc", &o.more.ipc)?,
        pid: super::more::resolve_ns(paths, "pid", "pid", &o.more.pid)?,
        cgroup: super::more::resolve_ns(paths, "cgroupns", "cgroup", &o.more.cgroupns)?,
    };

    // network: container:NAME is recorded as the target's id.
    let network = network::setup::resolve_container(paths, o.network.clone())?;
    // network: -p/-P, with random host ports chosen now as podman does.
    let ports: Vec<String> = if network::setup::ports_apply(&network) {
        let mut exposed = ic.exposed_ports().clone().unwrap_or_default();
        exposed.extend(o.more.expose.iter().cloned());
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
    let init = if o.init { Some(init_binary(o)?) } else { None };
    let command_shown = args.clone();
    if init.is_some() {
        args.insert(0, "--".into());
        args.insert(0, "/run/podman-init".into());
    }
    let memory = o.memory;
    let mut more = o.more.clone();
    more.systemd_mode = systemd;
    // --requires: the containers to start first, by id.
    more.extras.requires = o
        .more
        .extras
        .requires
        .iter()
        .map(|r| {
            record::resolve(paths, r).with_context(|| {
                format!("{r:?} is not a valid container, cannot be used as a dependency")
            })
        })
        .collect::<Result<_>>()?;
    // keep-id (without uid= or --user): podman's entry names you.
    let keep_id_name = match o.userns {
        Userns::KeepId { uid: None, .. } if o.user.is_none() => {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(super::spec::outer_id(
                "/proc/self/uid_map",
                nix::unistd::getuid().as_raw(),
            )))
            .ok()
            .flatten()
            .map(|u| u.name)
        }
        _ => None,
    };
    let workdir = o
        .workdir
        .clone()
        .or_else(|| ic.working_dir().clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    (more.passwd_file, more.group_file) = super::more::passwd_files(
        &o.more,
        passwd.as_deref(),
        group.as_deref(),
        !user.is_empty(),
        keep_id_name.as_deref(),
        resolved.uid,
        resolved.gid,
        &workdir,
        &super::more::host_passwd_entry,
    )?;

    let host_net = match &network {
        NetworkMode::Host => true,
        NetworkMode::Container(t) => super::record::resolve(paths, t)
            .and_then(|id| super::record::load(paths, &id))
            .is_ok_and(|r| r.network == NetworkMode::Host),
        _ => false,
    };
    let plan = Plan {
        host_net,
        args,
        env: crate::secret::with_env(&env, &secrets),
        cwd: o
            .workdir
            .clone()
            .or_else(|| ic.working_dir().clone().filter(|w| !w.is_empty()))
            .unwrap_or_else(|| "/".into()),
        user: resolved.clone(),
        hostname: hostname.clone(),
        mounts: runtime_mounts,
        read_only: o.read_only,
        tty: o.tty,
        network: network.clone(),
        security: o.security.clone(),
        cap_add: o.cap_add.clone(),
        cap_drop: o.cap_drop.clone(),
        privileged: o.privileged,
        ulimits: o.ulimits.clone(),
        sysctls: o.sysctls.clone(),
        userns: o.userns.clone(),
        init,
        memory,
        cpus: o.cpus,
        pids_limit: o.pids_limit,
        pod_ns: o.pod.is_some() && !o.pod_infra && matches!(network, NetworkMode::Container(_)),
        more,
        ns,
    };

    let mut rec = ContainerRecord {
        id: id.clone(),
        name: String::new(),
        image_id: image.as_ref().map(|i| i.id.clone()).unwrap_or_default(),
        image_name: match &image {
            Some(image) => image_name_for(image, image_name),
            // --rootfs: no image (podman shows none; inspect's Rootfs has the dir).
            None => String::new(),
        },
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
        userns: o.userns_mode.clone(),
        sdnotify: o.sdnotify.as_str().to_string(),
        storage_driver: options.storage_driver.clone(),
        volume_path: store.volume_path().map(std::path::Path::to_path_buf),
        ports,
        create_command: o.create_command.clone(),
        restart_policy: o.restart.map(|r| r.name().to_string()).unwrap_or_default(),
        restart_retries: match o.restart {
            Some(record::RestartPolicy::OnFailure(n)) => n,
            _ => 0,
        },
        health_on_failure: match o.health.on_failure.as_deref() {
            Some(a) if a != "none" && healthcheck.is_some() => a.to_string(),
            _ => String::new(),
        },
        healthcheck,
        pod: o.pod.clone().unwrap_or_default(),
        pod_infra: o.pod_infra,
        extras: plan.more.extras.clone(),
    };

    // The bundle first, then the record: a container is listed only once
    // everything it needs exists.
    let dir = paths.ctr_dir(&id);
    let write_bundle = || -> Result<()> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        crate::secret::write_copies(&dir, &secrets, |u, g| {
            (ns_id(&o.userns, u, true), ns_id(&o.userns, g, false))
        })?;
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
    made.keep = true;
    crate::events::container(&paths.runroot, "create", &rec);
    if memory.is_some() || o.cpus.is_some() || o.pids_limit.is_some() || o.more.resources.any() {
        if o.more.cgroups_disabled {
            warn!("resource limits are ignored: --cgroups=disabled");
        } else {
            super::spec::warn_limits();
        }
        if !o.more.resources.not_applied.is_empty() {
            warn!(
                "{} not applied: rpod does not set them",
                o.more.resources.not_applied.join(", ")
            );
        }
    }
    Ok(rec)
}

/// A container id in rpod's user namespace: keep-id maps the container's
/// `uid` to 0 (you), the ids below it one up, the rest to themselves.
fn ns_id(u: &Userns, id: u32, is_uid: bool) -> u32 {
    let keep = match u {
        Userns::KeepId { uid, gid } => {
            if is_uid {
                uid.unwrap_or_else(|| {
                    super::spec::outer_id("/proc/self/uid_map", nix::unistd::getuid().as_raw())
                })
            } else {
                gid.unwrap_or_else(|| {
                    super::spec::outer_id("/proc/self/gid_map", nix::unistd::getgid().as_raw())
                })
            }
        }
        _ => return id,
    };
    match id.cmp(&keep) {
        std::cmp::Ordering::Less => id + 1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => id,
    }
}

/// The volumes a `create` made: removed again unless it succeeds (dropped
/// while the volumes lock is still held).
struct NewVolumes<'a> {
    vols: &'a crate::volume::Volumes,
    names: Vec<String>,
    keep: bool,
}

impl Drop for NewVolumes<'_> {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for n in &self.names {
            if let Err(e) = self.vols.discard_locked(n) {
                debug!("removing volume {n} of a failed create: {e:#}");
            }
        }
    }
}

/// Find or make the volume a `volume` mount names (a new anonymous one when
/// it names none), with the `volume-opt=`s given; the caller holds the
/// lock. True when it made it.
fn resolve_volume(vols: &crate::volume::Volumes, m: &mut MountRecord) -> Result<bool> {
    let mut vopts = Vec::new();
    m.options.retain(|o| match o.strip_prefix("volume-opt=") {
        Some(kv) => {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            vopts.push((k.to_string(), v.to_string()));
            false
        }
        None => true,
    });
    let existing = if m.name.is_empty() {
        None
    } else {
        vols.get(&m.name)?
    };
    let made = existing.is_none();
    let v = match existing {
        Some(v) => v,
        None => vols
            .create_locked(&crate::volume::CreateOptions {
                name: (!m.name.is_empty()).then(|| m.name.clone()),
                options: vopts,
                anonymous: m.name.is_empty(),
                ..Default::default()
            })
            .with_context(|| format!("volume for {}", m.destination))?,
    };
    m.name = v.name.clone();
    // As podman shows it: the mountpoint (a tmpfs or device= volume is
    // mounted there); runtime_mount picks what is really mounted.
    m.source = vols.mountpoint(&v.name).to_string_lossy().into_owned();
    Ok(made)
}

/// The mount the runtime makes for a recorded one: a volume becomes a
/// bind of its data (or of its `device=`), or a tmpfs; rpod's own options
/// (`U`, `nocopy`) are dropped.
fn runtime_mount(vols: &crate::volume::Volumes, m: &MountRecord) -> Result<MountRecord> {
    let mut r = m.clone();
    r.options
        .retain(|o| !matches!(o.as_str(), "U" | "nocopy" | "copy"));
    if m.kind == "volume" {
        let v = vols.find(&m.name)?;
        let (kind, source, extra) = crate::volume::mount_source(vols, &v);
        if kind != "bind" && crate::runtime::mounts::subpath_of(&m.options).is_some() {
            bail!(
                "volume {}: a subpath of a {kind} volume is not supported",
                m.name
            );
        }
        if kind == "tmpfs" {
            r.options.retain(|o| o != "rbind");
        }
        r.options.extend(extra);
        r.options.push(if m.rw { "rw" } else { "ro" }.into());
        r.kind = kind;
        r.source = source;
    }
    Ok(r)
}

/// The mounts of container `from` (`NAME[:ro|rw]`) for `--volumes-from`:
/// its volumes and bind mounts, read-only or read-write as asked.
fn volumes_from(paths: &Paths, from: &str) -> Result<Vec<MountRecord>> {
    let (name, mode) = match from.rsplit_once(':') {
        Some((n, m)) if matches!(m, "ro" | "rw" | "z" | "Z") => (n, Some(m)),
        _ => (from, None),
    };
    let id = record::resolve(paths, name).with_context(|| format!("--volumes-from {from}"))?;
    let rec = record::load(paths, &id)?;
    Ok(rec
        .mounts
        .into_iter()
        .filter(|m| m.kind == "volume" || m.kind == "bind")
        .map(|mut m| {
            if let Some(mode @ ("ro" | "rw")) = mode {
                m.rw = mode == "rw";
                m.options.retain(|o| o != "ro" && o != "rw");
                if m.kind == "bind" {
                    m.options.push(mode.into());
                }
            }
            m.owner = None;
            m
        })
        .collect())
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
