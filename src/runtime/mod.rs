//! Our in-process OCI runtime: the runtime-spec lifecycle (create, start,
//! state, kill, delete, exec, ps, pause, resume, update) on nix/libc, driven
//! by a bundle (a directory with config.json and a rootfs).
//!
//! Each runc verb is one call here; `rpod oci` and the per-container monitor
//! call them in-process. `create` clones the container's init as a child of
//! the caller; the init sets the container up (see `init.rs` for the steps in
//! order), reports back over a socket, and then waits on an exec fifo in the
//! state dir until `start` (from any process) opens it.

pub mod capabilities;
pub mod cgroups;
pub mod devfilter;
mod exec;
pub mod hooks;
mod init;
pub mod mounts;
pub mod process;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod user;

pub use state::{State, Status};

use anyhow::{bail, Context, Result};
use init::{InitArgs, InitConsole};
use mounts::DeviceMode;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use process::Channel;
use state::{Saved, EXEC_FIFO};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The container's stdio; None inherits the caller's.
#[derive(Default)]
pub struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// The container's terminal.
pub enum Console {
    None,
    /// A pty slave made by the caller (the monitor keeps the master).
    PtySlave(OwnedFd),
    /// runc's `--console-socket`: a pty is made inside the container and its
    /// master sent over this unix socket with SCM_RIGHTS.
    Socket(PathBuf),
    /// The same over an already connected socket (one end of a socketpair):
    /// the caller receives the master with `sys::runtime::recv_fd`.
    Connected(std::os::unix::net::UnixStream),
}

pub struct CreateOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub state_root: &'a Path,
    pub stdio: Stdio,
    pub console: Console,
    pub pid_file: Option<&'a Path>,
    /// MS_MOVE + chroot instead of pivot_root (a ramfs root refuses pivot_root).
    pub no_pivot: bool,
    /// Pass fds 3 .. 3+N to the container's process.
    pub preserve_fds: u32,
}

/// Read and check a bundle's config.json and find its rootfs.
pub fn load_bundle(bundle: &Path) -> Result<(PathBuf, Spec, PathBuf)> {
    let bundle =
        std::fs::canonicalize(bundle).with_context(|| format!("bundle {}", bundle.display()))?;
    let cfg = bundle.join("config.json");
    let text = std::fs::read(&cfg).with_context(|| format!("reading {}", cfg.display()))?;
    let spec: Spec =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", cfg.display()))?;
    let root = spec
        .root()
        .as_ref()
        .with_context(|| format!("{}: no root", cfg.display()))?;
    let rootfs = bundle.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs)
        .with_context(|| format!("rootfs {} (from {})", rootfs.display(), cfg.display()))?;
    if !rootfs.is_dir() {
        bail!("rootfs {} is not a directory", rootfs.display());
    }
    let p = spec
        .process()
        .as_ref()
        .with_context(|| format!("{}: no process", cfg.display()))?;
    if p.args().as_ref().map_or(true, |a| a.is_empty()) {
        bail!("{}: process.args must not be empty", cfg.display());
    }
    if !p.cwd().is_absolute() {
        bail!(
            "{}: process.cwd {} is not absolute",
            cfg.display(),
            p.cwd().display()
        );
    }
    Ok((bundle, spec, rootfs))
}

fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// The namespaces to create and the ones to join (by path).
fn namespaces(spec: &Spec) -> Result<(CloneFlags, Vec<(CloneFlags, PathBuf)>)> {
    let mut new = CloneFlags::empty();
    let mut join = Vec::new();
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for ns in list.into_iter().flatten() {
        let f = ns_flag(ns.typ());
        match ns.path() {
            Some(p) => join.push((f, p.clone())),
            // clone(2) has no room for CLONE_NEWTIME (it is an exit-signal bit).
            None if ns.typ() == LinuxNamespaceType::Time => {
                bail!("config.json: time namespaces are not supported")
            }
            None => new |= f,
        }
    }
    let own_uts = new.contains(CloneFlags::CLONE_NEWUTS)
        || join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWUTS);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !own_uts {
        bail!("config.json sets a hostname but has no UTS namespace: it would rename the host");
    }
    Ok((new, join))
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// LSM labels: on a host without the LSM a label is refused (runc fails
/// these too, later and less clearly); never silently dropped.
/// linux.mountLabel is not checked here: as runc, the mounts it labels get
/// `context="LABEL"` (see `mounts`), which the kernel refuses without
/// SELinux, and a config with no such mount runs.
pub fn check_lsm(spec: &Spec) -> Result<()> {
    let p = spec.process().as_ref();
    if let Some(prof) = p.and_then(|p| p.apparmor_profile().as_deref()) {
        if !prof.is_empty() && !apparmor_enabled() {
            bail!(
                "config.json: process.apparmorProfile \"{prof}\" is set, but AppArmor is not \
                 enabled on this host"
            );
        }
    }
    if let Some(l) = p.and_then(|p| p.selinux_label().as_deref()) {
        if !l.is_empty() && !selinux_enabled() {
            bail!(
                "config.json: process.selinuxLabel \"{l}\" is set, but SELinux is disabled or \
                 not supported on this host"
            );
        }
    }
    Ok(())
}

/// In the init, before execve: the process's AppArmor profile and SELinux
/// label take effect at exec (checked at create: the LSM is there).
pub(crate) fn apply_lsm(p: &oci_spec::runtime::Process) -> Result<()> {
    if let Some(prof) = p.apparmor_profile().as_deref().filter(|v| !v.is_empty()) {
        let v = format!("exec {prof}");
        std::fs::write("/proc/self/attr/apparmor/exec", &v)
            .or_else(|_| std::fs::write("/proc/self/attr/exec", &v))
            .with_context(|| format!("applying AppArmor profile \"{prof}\""))?;
    }
    if let Some(l) = p.selinux_label().as_deref().filter(|v| !v.is_empty()) {
        std::fs::write("/proc/self/attr/exec", l)
            .with_context(|| format!("applying SELinux label \"{l}\""))?;
    }
    Ok(())
}

/// The sysctls a container may set: only those of a namespace it has of
/// its own (runc's validator). Anything else (`kernel.core_pattern`,
/// `vm.*`, …) would change the host.
pub fn check_sysctls(spec: &Spec) -> Result<()> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    let find = |t: LinuxNamespaceType| list.into_iter().flatten().find(|n| n.typ() == t);
    let own_ipc = find(LinuxNamespaceType::Ipc).is_some();
    let own_uts = find(LinuxNamespaceType::Uts).is_some();
    let own_net = match find(LinuxNamespaceType::Network) {
        None => false,
        Some(n) => match n.path() {
            None => true,
            // Joining a namespace by path: not ours if it is the one we run in.
            Some(p) => {
                use std::os::unix::fs::MetadataExt;
                let ino = |p: &Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
                ino(p).is_none() || ino(p) != ino(Path::new("/proc/self/ns/net"))
            }
        },
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for raw in keys {
        check_sysctl(raw, own_ipc, own_net, own_uts)?;
    }
    Ok(())
}

fn check_sysctl(raw: &str, own_ipc: bool, own_net: bool, own_uts: bool) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let k = raw.replace('/', ".");
    if k.is_empty() || k.split('.').any(|c| c.is_empty()) {
        bail!("invalid sysctl name {raw:?}");
    }
    if IPC.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
        if own_ipc {
            return Ok(());
        }
        bail!("sysctl {raw:?} is not allowed: the container shares the host's ipc namespace");
    }
    if k.starts_with("net.") {
        if own_net {
            return Ok(());
        }
        bail!("sysctl {raw:?} is not allowed: the container shares the host's network namespace");
    }
    if own_uts && k == "kernel.domainname" {
        return Ok(());
    }
    if own_uts && k == "kernel.hostname" {
        bail!("sysctl {raw:?} is not allowed: it conflicts with the OCI \"hostname\" field");
    }
    bail!(
        "sysctl {raw:?} is not allowed: it is not in a kernel namespace of the container's own \
         and would change the host"
    )
}

/// Whether we run without real root: unprivileged, or root only inside a
/// user namespace (rpod's).
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || crate::userns::in_child_userns()
}

/// `create`: set the container up and leave its init waiting before the
/// user's program. Returns the init's pid (in the caller's pid namespace).
pub fn create(opts: CreateOptions) -> Result<i32> {
    let id = opts.id;
    create_inner(opts, false)
        .map(|(pid, _)| pid)
        .with_context(|| format!("creating container \"{id}\""))
}

/// `run`: create and start at once, skipping the fifo round trip.
pub fn run(opts: CreateOptions) -> Result<i32> {
    let (root, id) = (opts.state_root.to_path_buf(), opts.id.to_string());
    let (pid, chan) =
        create_inner(opts, true).with_context(|| format!("creating container \"{id}\""))?;
    let chan = chan.expect("run mode keeps the channel");
    let started = (|| -> Result<()> {
        chan.send(init::MSG_START)?;
        // EOF: execve closed the init's end. A message: it failed.
        if let Some(m) = chan.recv()? {
            return Err(process::decode_error(&m));
        }
        let saved = Saved::load(&root, &id)?;
        run_poststart(&root, &saved)
    })();
    started.with_context(|| format!("starting container \"{id}\""))?;
    Ok(pid)
}

/// The init is cloned with fork semantics: another thread holding a lock
/// (the allocator's) at that moment would leave the child stuck. Callers
/// must be single-threaded; say so loudly if one is not.
pub(crate) fn check_single_threaded(verb: &str) {
    let threads = std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count());
    if threads > 1 {
        warn!("runtime {verb} called with {threads} threads running: the child may hang");
    }
}

fn create_inner(opts: CreateOptions, run_now: bool) -> Result<(i32, Option<Channel>)> {
    state::validate_id(opts.id)?;
    check_single_threaded("create");
    let (bundle, spec, rootfs) = load_bundle(opts.bundle)?;
    let p = spec.process().as_ref().context("no process")?;
    let (new_ns, join) = namespaces(&spec)?;
    check_sysctls(&spec).context("config.json")?;
    check_lsm(&spec)?;
    let own_userns = new_ns.contains(CloneFlags::CLONE_NEWUSER);
    let rootless = is_rootless();
    if !own_userns && !nix::unistd::geteuid().is_root() {
        bail!(
            "running as an unprivileged user needs a user namespace: add {{\"type\": \"user\"}} to \
             linux.namespaces with uid/gid mappings (`rpod oci spec --rootless` writes one)"
        );
    }
    if p.terminal() == Some(true) && matches!(opts.console, Console::None) {
        bail!("process.terminal is true but no console was given: use --console-socket");
    }
    let joins = |f: CloneFlags| join.iter().any(|(j, _)| *j == f);
    let host_mounts = !new_ns.contains(CloneFlags::CLONE_NEWNS) && !joins(CloneFlags::CLONE_NEWNS);
    if host_mounts && (rootless || own_userns || joins(CloneFlags::CLONE_NEWUSER)) {
        bail!(
            "config.json: without a mount namespace (linux.namespaces has no \"mount\") the \
             container's mounts are made in the host's mount namespace, which only real root can do"
        );
    }
    if host_mounts && opts.no_pivot {
        // Moving the rootfs over "/" would move it over the host's root.
        debug!("--no-pivot: no mount namespace, so the rootfs is entered with chroot");
    }

    let root = opts.state_root;
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let dir = state::container_dir(root, opts.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("container \"{}\" already exists", opts.id)
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    // In the host's mount namespace the init binds the rootfs onto itself
    // (and mounts below it): note the mount there now, to take ours away.
    let host_rootfs_mnt = if host_mounts {
        Some(mount_id(&rootfs).with_context(|| format!("rootfs {}", rootfs.display()))?)
    } else {
        None
    };
    let (state_root, id) = (opts.state_root.to_path_buf(), opts.id.to_string());
    let mut child: Option<Pid> = None;
    let res = create_in_dir(
        opts,
        run_now,
        &bundle,
        &spec,
        &rootfs,
        new_ns,
        join,
        own_userns,
        rootless,
        host_rootfs_mnt,
        &dir,
        &mut child,
    );
    if res.is_err() {
        // Leave nothing behind: no process, no state, no mounts.
        if let Some(pid) = child {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(m) = host_rootfs_mnt {
            release_host_rootfs(&rootfs, m);
        }
        if let Ok(saved) = Saved::load(&state_root, &id) {
            cgroups::root_remove(&saved.cgroups);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    res
}

#[allow(clippy::too_many_arguments)]
fn create_in_dir(
    opts: CreateOptions,
    run_now: bool,
    bundle: &Path,
    spec: &Spec,
    rootfs: &Path,
    new_ns: CloneFlags,
    join: Vec<(CloneFlags, PathBuf)>,
    own_userns: bool,
    rootless: bool,
    host_rootfs_mnt: Option<u64>,
    dir: &Path,
    child: &mut Option<Pid>,
) -> Result<(i32, Option<Channel>)> {
    let fifo = if run_now {
        None
    } else {
        let f = dir.join(EXEC_FIFO);
        nix::unistd::mkfifo(&f, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .with_context(|| format!("creating {}", f.display()))?;
        // mkfifo honours our umask; anyone in the container must be able to open it.
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o622))?;
        Some(f)
    };
    let console = match opts.console {
        Console::None => InitConsole::None,
        Console::PtySlave(fd) => InitConsole::Slave(fd),
        Console::Socket(path) => InitConsole::Socket(
            std::os::unix::net::UnixStream::connect(&path)
                .with_context(|| format!("connecting to console socket {}", path.display()))?,
        ),
        Console::Connected(sock) => InitConsole::Socket(sock),
    };
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    // Real root makes (or joins) linux.cgroupsPath on v1 or v2 as runc does;
    // rootless only a delegated v2 subtree, if there is one.
    let root_cgroup = !rootless && cgroups::root_wants(cgroups_path.as_deref(), resources);
    let cgroup_base = if !rootless {
        None
    } else if cgroups::wants_limits(resources) {
        match cgroups::detect() {
            cgroups::Support::Delegated(p) => Some(p),
            cgroups::Support::Unsupported(why) => {
                warn!("resource limits are not applied: {why}");
                None
            }
        }
    } else {
        None
    };

    let annotations = spec.annotations().clone().unwrap_or_default();
    let mut saved = Saved {
        state: State {
            oci_version: spec.version().clone(),
            id: opts.id.to_string(),
            pid: 0,
            status: Status::Creating,
            bundle: bundle.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            created: state::rfc3339_nano(SystemTime::now()),
            owner: String::new(),
            annotations,
        },
        init_start: 0,
        setup_done: false,
        rootless,
        no_pivot: opts.no_pivot,
        own_userns,
        joined_pid_ns: join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWPID),
        host_rootfs_mnt,
        cgroups: Default::default(),
        cgroup: None,
        poststop: spec
            .hooks()
            .as_ref()
            .and_then(|h| h.poststop().clone())
            .unwrap_or_default(),
    };
    let hooks = spec.hooks().as_ref();
    let parent_hooks = hooks.is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    });
    // Devices can only be made by real root; any user namespace binds them.
    let in_userns = own_userns || join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER);
    let devices = if rootless || in_userns {
        DeviceMode::Bind
    } else {
        DeviceMode::Create
    };

    let (ours, theirs) = Channel::pair()?;
    let Stdio {
        stdin,
        stdout,
        stderr,
    } = opts.stdio;
    let mut init_args = Some(InitArgs {
        spec,
        rootfs,
        bundle,
        chan: theirs,
        fifo: fifo.clone(),
        stdio: [stdin, stdout, stderr],
        console,
        no_pivot: opts.no_pivot,
        preserve_fds: opts.preserve_fds,
        new_ns,
        join,
        host_mounts: host_rootfs_mnt.is_some(),
        devices,
        // Hooks run once the environment is made: the spec's `created`.
        hook_state: State {
            status: Status::Created,
            ..saved.state.clone()
        },
        parent_hooks,
    });
    // A pid namespace is joined by its children only: enter it for the
    // clone (ours is given back right after), the init then lives in it.
    let pid_join = init_args.as_mut().and_then(|a| {
        let i = a
            .join
            .iter()
            .position(|(f, _)| *f == CloneFlags::CLONE_NEWPID)?;
        Some(a.join.remove(i).1)
    });
    let own_pid_ns = match &pid_join {
        Some(p) => Some(enter_pid_ns(p)?),
        None => None,
    };
    let cloned = crate::sys::runtime::clone_fork(new_ns).context("clone");
    if let Some(own) = &own_pid_ns {
        if matches!(cloned, Ok(None)) {
            // The child: already in the namespace.
        } else {
            nix::sched::setns(std::os::fd::AsFd::as_fd(own), CloneFlags::CLONE_NEWPID)
                .context("going back to our own pid namespace")?;
        }
    }
    let pid = match cloned? {
        None => {
            drop(ours);
            drop(own_pid_ns);
            init::main(init_args.take().expect("init args"))
        }
        Some(pid) => pid,
    };
    *child = Some(pid);
    drop(init_args);
    let raw = pid.as_raw();

    if own_userns {
        write_id_maps(spec, raw).context("writing the user namespace's id maps")?;
    }
    saved.state.pid = raw;
    saved.init_start = crate::sys::pidfd::start_time(raw).unwrap_or(0);
    saved.save(opts.state_root)?;
    if root_cgroup {
        let devs = spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default();
        saved.cgroups =
            cgroups::root_create(cgroups_path.as_deref(), opts.id, raw, resources, &devs)
                .context("cgroup")?;
        saved.save(opts.state_root)?;
    }
    if let Some(base) = &cgroup_base {
        match cgroups::apply(base, opts.id, raw, resources.expect("limits")) {
            Ok(p) => saved.cgroup = Some(p),
            Err(e) => warn!("resource limits are not applied: {e:#}"),
        }
    }
    ours.send(format!("go {raw}").as_bytes())?;
    loop {
        match ours.recv()? {
            Some(m) if m == init::MSG_HOOKS => {
                // The environment is made, the program not yet started: the
                // spec's `created` (runc says `creating` here).
                let st = State {
                    status: Status::Created,
                    ..saved.state.clone()
                };
                if let Some(h) = hooks {
                    let pre = h.prestart().as_deref().unwrap_or(&[]);
                    hooks::run("prestart", pre, &st)?;
                    let cr = h.create_runtime().as_deref().unwrap_or(&[]);
                    hooks::run("createRuntime", cr, &st)?;
                }
                ours.send(init::MSG_HOOKS_DONE)?;
            }
            Some(m) if m == init::MSG_READY => break,
            Some(m) => return Err(process::decode_error(&m)),
            None => {
                let st = nix::sys::wait::waitpid(pid, None);
                *child = None;
                bail!("the container's init exited during setup ({st:?})");
            }
        }
    }
    saved.setup_done = true;
    saved.save(opts.state_root)?;
    if let Some(pf) = opts.pid_file {
        write_pid_file(pf, raw)?;
    }
    Ok((raw, run_now.then_some(ours)))
}

/// Make `path` (a pid namespace) the one our next child is born in;
/// returns our own, to go back to.
fn enter_pid_ns(path: &Path) -> Result<std::fs::File> {
    use std::os::fd::AsFd;
    let own = std::fs::File::open("/proc/self/ns/pid_for_children")
        .or_else(|_| std::fs::File::open("/proc/self/ns/pid"))
        .context("opening our pid namespace")?;
    let theirs = std::fs::File::open(path)
        .with_context(|| format!("opening namespace {}", path.display()))?;
    nix::sched::setns(theirs.as_fd(), CloneFlags::CLONE_NEWPID)
        .with_context(|| format!("joining pid namespace {}", path.display()))?;
    Ok(own)
}

/// The id of the mount at `path` (what /proc/self/fdinfo says of an fd
/// opened there): the topmost one, so a mount stacked on it changes it.
fn mount_id(path: &Path) -> Result<u64> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(path)?;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", f.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no mnt_id in fdinfo")
}

/// Take away the rootfs bind (and everything the container mounted below
/// it) that an init without a mount namespace of its own left in the
/// host's: only when what is mounted there now is not what was before.
fn release_host_rootfs(rootfs: &Path, before: u64) {
    match mount_id(rootfs) {
        Ok(now) if now != before => {
            if let Err(e) = nix::mount::umount2(rootfs, nix::mount::MntFlags::MNT_DETACH) {
                warn!(
                    "unmounting the container's rootfs {}: {e}",
                    rootfs.display()
                );
            }
        }
        Ok(_) => {}
        Err(e) => debug!("rootfs {}: {e:#}", rootfs.display()),
    }
}

/// Write the child's uid/gid maps: directly for a single mapping of our own
/// ids (allowed to anyone, after denying setgroups), else via newuidmap.
fn write_id_maps(spec: &Spec, pid: i32) -> Result<()> {
    let linux = spec.linux().as_ref().context("no linux section")?;
    let conv = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<(u32, u32, u32)> {
        m.as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    let uids = conv(linux.uid_mappings());
    let gids = conv(linux.gid_mappings());
    if uids.is_empty() || gids.is_empty() {
        bail!("config.json asks for a user namespace but has no uidMappings/gidMappings");
    }
    let (euid, egid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let single_own = uids.len() == 1
        && gids.len() == 1
        && uids[0].1 == euid
        && uids[0].2 == 1
        && gids[0].1 == egid
        && gids[0].2 == 1;
    // Root of rpod's own user namespace may write any map within it
    // (CAP_SETUID there); newuidmap would check the host's subuid ranges.
    if single_own || euid == 0 {
        let fmt = |m: &[(u32, u32, u32)]| -> String {
            m.iter().map(|(c, h, n)| format!("{c} {h} {n}\n")).collect()
        };
        if single_own {
            std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
                .context("writing setgroups")?;
        }
        std::fs::write(format!("/proc/{pid}/uid_map"), fmt(&uids))
            .with_context(|| format!("writing uid_map {uids:?}"))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), fmt(&gids))
            .with_context(|| format!("writing gid_map {gids:?}"))?;
        return Ok(());
    }
    crate::userns::map_ids(pid, &uids, &gids)
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    crate::storage::write_atomic_volatile(path, pid.to_string().as_bytes())
        .with_context(|| format!("writing pid file {}", path.display()))
}

fn run_poststart(root: &Path, saved: &Saved) -> Result<()> {
    let Ok((_, spec, _)) = load_bundle(&saved.state.bundle) else {
        return Ok(());
    };
    let Some(h) = spec.hooks().as_ref().and_then(|h| h.poststart().clone()) else {
        return Ok(());
    };
    let st = saved.current(root);
    if let Err(e) = hooks::run("poststart", &h, &st) {
        // runc stops a container whose poststart hook failed.
        let _ = kill_all(saved, Signal::SIGKILL);
        return Err(e);
    }
    Ok(())
}

/// `start`: let the init run the user's program, then run poststart hooks.
pub fn start(state_root: &Path, id: &str) -> Result<()> {
    start_inner(state_root, id).with_context(|| format!("starting container \"{id}\""))
}

fn start_inner(root: &Path, id: &str) -> Result<()> {
    let saved = Saved::load(root, id)?;
    let st = saved.current(root);
    match st.status {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        s => bail!("cannot start a container in the {s} state"),
    }
    let fifo = state::container_dir(root, id).join(EXEC_FIFO);
    let data = read_exec_fifo(&fifo, &saved)?;
    let _ = std::fs::remove_file(&fifo);
    match data.first() {
        Some(b'0') if data.len() == 1 => {}
        Some(b'0') => return Err(process::decode_error(&data[1..])),
        _ => bail!("the container's init exited before it could start"),
    }
    run_poststart(root, &saved)
}

/// Open the fifo without blocking, then read until the init's end closes
/// (execve closes it): "0" means started, anything after is an exec error.
fn read_exec_fifo(fifo: &Path, saved: &Saved) -> Result<Vec<u8>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo)
        .with_context(|| format!("opening {}", fifo.display()))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut nap = Duration::from_micros(200);
    loop {
        match f.read(&mut buf) {
            Ok(0) if !out.is_empty() => return Ok(out),
            // No writer yet (the init is about to open its end).
            Ok(0) => {
                if !saved.init_alive() {
                    // It may have written, exec'd and exited since our read.
                    let _ = f.read_to_end(&mut out);
                    return Ok(out);
                }
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(10));
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut fds, PollTimeout::from(100u16));
                if !saved.init_alive() && out.is_empty() {
                    let _ = f.read_to_end(&mut out);
                    return Ok(out);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading the exec fifo"),
        }
    }
}

/// `state`: the runtime-spec state, with the status derived now.
pub fn state(state_root: &Path, id: &str) -> Result<State> {
    Ok(Saved::load(state_root, id)?.current(state_root))
}

/// `list`: every container under the state root, by id.
pub fn list(state_root: &Path) -> Result<Vec<State>> {
    let rd = match std::fs::read_dir(state_root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", state_root.display())),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        // A dir without state.json is a create in progress or a leftover.
        if let Ok(s) = Saved::load(state_root, &name) {
            out.push(s.current(state_root));
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Inode of a process's pid namespace.
fn pid_ns(pid: i32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

/// Host pids of every process in the init's pid namespace (init first).
fn container_pids(saved: &Saved) -> Vec<i32> {
    let init = saved.state.pid;
    let Some(ns) = pid_ns(init) else {
        return vec![];
    };
    // The host's pid namespace, or one joined: others' processes are there.
    if saved.joined_pid_ns || Some(ns) == pid_ns(std::process::id() as i32) {
        // The container shares our pid namespace: only its init is known.
        return vec![init];
    }
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|p| pid_ns(*p) == Some(ns))
                .collect()
        })
        .unwrap_or_default();
    pids.sort_by_key(|p| (*p != init, *p));
    pids
}

/// `ps`: host pids of the container's processes.
pub fn ps(state_root: &Path, id: &str) -> Result<Vec<i32>> {
    let saved = Saved::load(state_root, id)?;
    if !saved.init_alive() {
        return Ok(vec![]);
    }
    Ok(container_pids(&saved))
}

fn kill_all(saved: &Saved, sig: Signal) -> Result<()> {
    signal_init(saved, sig)?;
    for p in container_pids(saved) {
        if p != saved.state.pid {
            let _ = nix::sys::signal::kill(Pid::from_raw(p), sig);
        }
    }
    Ok(())
}

fn signal_init(saved: &Saved, sig: Signal) -> Result<()> {
    // A pidfd checked against the start time: never signal a reused pid.
    let Some(fd) = crate::sys::pidfd::open_verified(saved.state.pid, saved.init_start) else {
        bail!("container \"{}\" is not running", saved.state.id);
    };
    crate::sys::pidfd::pidfd_send_signal(&fd, sig as i32)
        .with_context(|| format!("sending {sig} to pid {}", saved.state.pid))
}

/// `kill`: signal the init (or, with `all`, every process of the container).
pub fn kill(state_root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let saved = Saved::load(state_root, id)?;
    let sig = Signal::try_from(signal).with_context(|| format!("invalid signal {signal}"))?;
    if all {
        kill_all(&saved, sig)
    } else {
        signal_init(&saved, sig)
    }
}

/// `delete`: remove a stopped (or, with `force`, any) container; runs the
/// poststop hooks.
pub fn delete(state_root: &Path, id: &str, force: bool) -> Result<()> {
    state::validate_id(id)?;
    let dir = state::container_dir(state_root, id);
    if dir.is_dir() && !dir.join(state::STATE_FILE).exists() {
        // A create killed before it cloned the init: nothing runs, only the
        // directory is left, and it would block the id forever.
        return std::fs::remove_dir_all(&dir)
            .with_context(|| format!("removing {}", dir.display()));
    }
    let saved = Saved::load(state_root, id)?;
    let st = saved.current(state_root);
    match st.status {
        Status::Stopped => {}
        // An init that died before it was set up: nothing to keep.
        Status::Creating => kill_and_wait(&saved)?,
        _ if force => kill_and_wait(&saved)?,
        // The spec: deleting a container that is not stopped (a created
        // one too, which runc kills) is an error and has no effect.
        s => bail!("cannot delete container \"{id}\" that is not stopped: {s}"),
    }
    if let Some(m) = saved.host_rootfs_mnt {
        release_host_rootfs(&saved.state.rootfs, m);
    }
    hooks::run_warn("poststop", &saved.poststop, &st);
    if let Some(cg) = &saved.cgroup {
        cgroups::remove(cg);
    }
    cgroups::root_remove(&saved.cgroups);
    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))
}

fn kill_and_wait(saved: &Saved) -> Result<()> {
    let _ = kill_all(saved, Signal::SIGKILL);
    if saved.frozen() {
        // Frozen processes die only once thawed (runc thaws too).
        thaw(saved).context("thawing the paused container to kill it")?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while saved.init_alive() {
        if Instant::now() > deadline {
            bail!("container \"{}\" did not die after SIGKILL", saved.state.id);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// `exec`: run another process in a running container; returns its pid
/// (a child of the caller, which waits for it unless detached).
pub fn exec(
    state_root: &Path,
    id: &str,
    process: &oci_spec::runtime::Process,
    stdio: Stdio,
    console: Console,
    detach: bool,
) -> Result<i32> {
    exec_preserving(state_root, id, process, stdio, console, detach, 0)
}

/// [`exec`], passing our fds 3 .. 3+`preserve_fds` to the process
/// (`exec --preserve-fds`).
pub fn exec_preserving(
    state_root: &Path,
    id: &str,
    process: &oci_spec::runtime::Process,
    stdio: Stdio,
    console: Console,
    detach: bool,
    preserve_fds: u32,
) -> Result<i32> {
    exec::exec(
        state_root,
        id,
        process,
        stdio,
        console,
        detach,
        preserve_fds,
    )
    .with_context(|| format!("exec in container \"{id}\""))
}

fn no_cgroup(verb: &str, saved: &Saved) -> Result<PathBuf> {
    let what = match verb {
        "pause" | "resume" => format!("{verb}: no freezer"),
        _ => verb.to_string(),
    };
    cgroups::require(&what)?;
    saved.cgroup.clone().with_context(|| {
        format!(
            "{verb}: container \"{}\" has no cgroup of its own",
            saved.state.id
        )
    })
}

/// `pause`: freeze the container (needs a cgroup of its own).
pub fn pause(state_root: &Path, id: &str) -> Result<()> {
    let saved = Saved::load(state_root, id)?;
    match saved.current(state_root).status {
        Status::Running | Status::Created => {}
        s => bail!("pause: container \"{id}\" is {s}, not running"),
    }
    if !saved.cgroups.is_empty() {
        return cgroups::root_freeze(&saved.cgroups, true).context("pause");
    }
    let cg = no_cgroup("pause", &saved)?;
    std::fs::write(cg.join("cgroup.freeze"), "1").context("pause: writing cgroup.freeze")
}

/// `resume`: thaw a paused container.
pub fn resume(state_root: &Path, id: &str) -> Result<()> {
    let saved = Saved::load(state_root, id)?;
    match saved.current(state_root).status {
        Status::Paused => {}
        s => bail!("resume: container \"{id}\" is {s}, not paused"),
    }
    thaw(&saved)
}

fn thaw(saved: &Saved) -> Result<()> {
    if !saved.cgroups.is_empty() {
        return cgroups::root_freeze(&saved.cgroups, false).context("resume");
    }
    let cg = no_cgroup("resume", saved)?;
    std::fs::write(cg.join("cgroup.freeze"), "0").context("resume: writing cgroup.freeze")
}

/// `update`: change the container's resource limits.
pub fn update(
    state_root: &Path,
    id: &str,
    resources: &oci_spec::runtime::LinuxResources,
) -> Result<()> {
    let saved = Saved::load(state_root, id)?;
    if !saved.cgroups.is_empty() {
        return cgroups::root_update(&saved.cgroups, resources).context("update");
    }
    let cg = no_cgroup("update", &saved)?;
    for (file, v) in cgroups::v2_values(resources) {
        std::fs::write(cg.join(file), &v)
            .with_context(|| format!("update: writing {v} to {file}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_split_new_and_joined() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [
                {"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"},
                {"type": "user"}]}}"#,
        )
        .unwrap();
        let (new, join) = namespaces(&spec).unwrap();
        assert_eq!(
            new,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUSER
        );
        assert_eq!(
            join,
            vec![(CloneFlags::CLONE_NEWNET, PathBuf::from("/proc/1/ns/net"))]
        );
        let nomnt: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "pid"}]}}"#,
        )
        .unwrap();
        // No mount namespace: the host's (create allows it to real root only).
        assert_eq!(namespaces(&nomnt).unwrap().0, CloneFlags::CLONE_NEWPID);
        let joined: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [
                {"type": "mount", "path": "/proc/9/ns/mnt"},
                {"type": "pid", "path": "/proc/9/ns/pid_for_children"}]}}"#,
        )
        .unwrap();
        let (new, join) = namespaces(&joined).unwrap();
        assert!(new.is_empty());
        assert_eq!(
            join,
            vec![
                (CloneFlags::CLONE_NEWNS, PathBuf::from("/proc/9/ns/mnt")),
                (
                    CloneFlags::CLONE_NEWPID,
                    PathBuf::from("/proc/9/ns/pid_for_children")
                )
            ]
        );
        let hostname_no_uts: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "hostname": "h", "linux": {"namespaces": [{"type": "mount"}]}}"#,
        )
        .unwrap();
        assert!(namespaces(&hostname_no_uts)
            .unwrap_err()
            .to_string()
            .contains("no UTS namespace"));
        let time: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "mount"}, {"type": "time"}]}}"#,
        )
        .unwrap();
        assert!(namespaces(&time).unwrap_err().to_string().contains("time"));
    }

    #[test]
    fn sysctls_need_a_namespace_of_their_own() {
        let spec = |ns: &str, key: &str| -> Spec {
            serde_json::from_str(&format!(
                r#"{{"ociVersion": "1.0.2", "linux": {{"namespaces": [{ns}],
                    "sysctl": {{"{key}": "1"}}}}}}"#
            ))
            .unwrap()
        };
        let all = r#"{"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}"#;
        for ok in [
            "net.ipv4.ip_forward",
            "net/ipv4/ping_group_range",
            "kernel.shmmax",
            "fs.mqueue.msg_max",
            "kernel.domainname",
        ] {
            check_sysctls(&spec(all, ok)).unwrap();
        }
        let err = |ns: &str, key: &str| format!("{:#}", check_sysctls(&spec(ns, key)).unwrap_err());
        for bad in [
            "kernel.core_pattern",
            "vm.overcommit_memory",
            "kernel.hostname",
            "fs.file-max",
        ] {
            let e = err(all, bad);
            assert!(e.contains(bad), "{e}");
        }
        let mnt = r#"{"type": "mount"}"#;
        assert!(err(mnt, "net.ipv4.ip_forward").contains("network namespace"));
        assert!(err(mnt, "kernel.sem").contains("ipc namespace"));
        assert!(err(mnt, "kernel.domainname").contains("kernel.domainname"));
        let host_net = r#"{"type": "mount"}, {"type": "network", "path": "/proc/self/ns/net"}"#;
        assert!(err(host_net, "net.core.somaxconn").contains("network namespace"));
        assert!(err(all, "net..x").contains("invalid sysctl"));
    }

    #[test]
    fn bad_bundles_are_named() {
        let d = tempfile::tempdir().unwrap();
        let e = format!("{:#}", load_bundle(d.path()).unwrap_err());
        assert!(e.contains("config.json"), "{e}");
        std::fs::write(
            d.path().join("config.json"),
            r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}}"#,
        )
        .unwrap();
        let e = format!("{:#}", load_bundle(d.path()).unwrap_err());
        assert!(e.contains("rootfs"), "{e}");
        std::fs::create_dir(d.path().join("rootfs")).unwrap();
        let e = format!("{:#}", load_bundle(d.path()).unwrap_err());
        assert!(e.contains("no process"), "{e}");
    }
}
