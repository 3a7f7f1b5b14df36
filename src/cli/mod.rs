//! The command line: one clap definition per flag (it drives `--help`, the man
//! pages and the completions), and the dispatch of each subcommand to the
//! module that owns the behaviour.

mod archive;
pub mod autoupdate;
pub mod build;
pub mod completion;
mod conf_defaults;
pub mod container;
mod ctr_lifecycle;
mod ctr_more;
pub mod ctr_views;
pub mod data;
pub mod events;
pub mod exit;
pub mod format;
pub mod generate;
pub mod generate_spec;
pub mod health;
pub mod image;
pub mod image_cmds;
pub mod image_mount;
pub mod image_scp;
pub mod kube;
mod logger;
pub mod man;
pub mod manifest;
pub mod network;
pub mod oci;
pub mod pflag;
pub mod pod;
pub mod push;
pub mod secret;
pub mod stats;
mod system;
mod system_cmds;
pub mod system_data;
pub mod update;
pub mod volume;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// rpod's command line. Its clap tree is the derive's with podman's grammar
/// laid over it (`pflag::podman_grammar`): `Cli::command()`, `Cli::parse()`
/// and everything built on them (help, man pages, completions) see it.
#[derive(Args, Debug)]
#[command(
    name = "rpod",
    bin_name = "rpod",
    version,
    about = "Rootless, daemonless containers",
    long_about = "rpod runs OCI containers as an unprivileged user, without a daemon. \
                  Its commands and flags are podman's.",
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    /// `-v`: podman's short --version (before any subcommand; run's -v is --volume).
    #[arg(short = 'v', action = clap::ArgAction::Version, hide = true)]
    pub version_v: (),
    #[command(subcommand)]
    pub command: Command,
}

impl clap::CommandFactory for Cli {
    fn command() -> clap::Command {
        pflag::podman_grammar(<Self as Args>::augment_args(clap::Command::new("rpod")))
    }

    fn command_for_update() -> clap::Command {
        pflag::podman_grammar(<Self as Args>::augment_args_for_update(clap::Command::new(
            "rpod",
        )))
    }
}

impl Parser for Cli {}

/// Flags accepted before or after any subcommand: all of podman 4.3's, so
/// scripts written for podman run unchanged. What each does in rpod is in
/// rpod(1); `apply_globals` honours, notes or refuses them in one place.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOpts {
    /// Log messages at or above this level: trace, debug, info, warn, warning, error, fatal, panic
    #[arg(long, global = true, value_name = "LEVEL", default_value = "warn")]
    pub log_level: String,
    /// Storage root directory (default: $XDG_DATA_HOME/rpod)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Runtime state directory (default: $XDG_RUNTIME_DIR/rpod)
    #[arg(long, global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// Storage driver: overlay, fuse-overlayfs or vfs (default: storage.conf's, else overlay where the kernel allows it)
    #[arg(long, global = true, value_name = "DRIVER",
          value_parser = ["overlay", "fuse-overlayfs", "vfs"])]
    pub storage_driver: Option<String>,
    /// Storage driver option; rpod supports overlay.mount_program=PATH (may be repeated)
    #[arg(long, global = true, value_name = "OPTION")]
    pub storage_opt: Vec<String>,
    /// Path of the registries.conf to use instead of the user's and system's
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "CONTAINERS_REGISTRIES_CONF"
    )]
    pub registries_conf: Option<PathBuf>,
    /// Where named volumes live (default: ROOT/volumes)
    #[arg(long, global = true, value_name = "DIR")]
    pub volumepath: Option<PathBuf>,
    /// Directory for run-time state such as the events log
    #[arg(long, global = true, value_name = "DIR")]
    pub tmpdir: Option<PathBuf>,
    /// Events backend: file, none or journald (journald needs a journal)
    #[arg(long, global = true, value_name = "BACKEND",
          value_parser = ["file", "none", "journald"])]
    pub events_backend: Option<String>,
    /// OCI hooks directory (may be repeated); rpod runs no hooks from it
    #[arg(long, global = true, value_name = "DIR")]
    pub hooks_dir: Vec<PathBuf>,
    /// Do not write to stdout (stderr is unchanged)
    #[arg(long, global = true)]
    pub noout: bool,
    /// Accepted for podman compatibility; rpod uses cgroupfs where cgroups are delegated
    #[arg(long, global = true, hide = true, value_name = "MANAGER",
          value_parser = ["cgroupfs", "systemd"])]
    pub cgroup_manager: Option<String>,
    /// Accepted for podman compatibility; rpod has its own monitor
    #[arg(long, global = true, hide = true, value_name = "PATH")]
    pub conmon: Option<PathBuf>,
    /// Accepted for podman compatibility; rpod's OCI runtime is built in
    #[arg(long, global = true, hide = true, value_name = "PATH")]
    pub runtime: Option<String>,
    /// Accepted for podman compatibility; rpod's OCI runtime is built in (may be repeated)
    #[arg(long, global = true, hide = true, value_name = "FLAG")]
    pub runtime_flag: Vec<String>,
    /// Accepted for podman compatibility; use containers.conf network_cmd_path
    #[arg(long, global = true, hide = true, value_name = "PATH")]
    pub network_cmd_path: Option<PathBuf>,
    /// Accepted for podman compatibility; rpod has no network config files
    #[arg(long, global = true, hide = true, value_name = "DIR")]
    pub network_config_dir: Option<PathBuf>,
    /// Accepted for podman compatibility; rpod logs to stderr only
    #[arg(long, global = true, hide = true)]
    pub syslog: bool,
    /// Accepted for podman compatibility; rpod's state is always kept
    #[arg(long, global = true, hide = true)]
    pub transient_store: bool,
    /// Accepted for podman compatibility; rpod keeps images under --root
    #[arg(long, global = true, hide = true, value_name = "DIR")]
    pub imagestore: Option<PathBuf>,
    /// Accepted for podman compatibility; rpod has no libpod namespaces
    #[arg(long, global = true, hide = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Accepted for podman compatibility; SSH identity of a remote connection
    #[arg(long, global = true, hide = true, value_name = "PATH")]
    pub identity: Option<PathBuf>,
    /// Accepted for podman compatibility; SSH mode of a remote connection
    #[arg(long, global = true, hide = true, value_name = "MODE")]
    pub ssh: Option<String>,
    /// Refused: rpod has no service to connect to
    #[arg(long, global = true)]
    pub remote: bool,
    /// `-r`: --remote. Subcommands use -r and -c themselves (as in
    /// podman), so the short forms are taken before the subcommand only.
    #[arg(short = 'r', hide = true)]
    pub remote_short: bool,
    /// Refused: rpod has no service to connect to
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Refused: rpod has no service to connect to
    #[arg(long, global = true, value_name = "NAME")]
    pub connection: Option<String>,
    /// `-c`: --connection, before the subcommand only.
    #[arg(short = 'c', value_name = "NAME", hide = true)]
    pub connection_short: Option<String>,
}

impl From<&GlobalOpts> for crate::options::Options {
    fn from(g: &GlobalOpts) -> Self {
        crate::options::Options {
            log_level: g.log_level.clone(),
            root: g.root.clone(),
            runroot: g.runroot.clone(),
            storage_driver: g.storage_driver.clone(),
            registries_conf: g.registries_conf.clone(),
            // Checked by clap's value_parser.
            events_backend: g
                .events_backend
                .as_deref()
                .and_then(|b| b.parse().ok())
                .unwrap_or_default(),
            tmpdir: g.tmpdir.clone(),
            volume_path: g.volumepath.clone(),
            hooks_dirs: g.hooks_dir.clone(),
        }
    }
}

/// podman's log levels (`warning` is warn).
const LOG_LEVELS: &[&str] = &[
    "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic",
];

/// The one message rpod gives for every remote flag and variable.
const NO_REMOTE: &str = "rpod has no service: remote connections are not supported";

/// Whether a command's stdout is the container's output, which podman's
/// `--noout` leaves alone ("will not block stderr or stdout from
/// containers"): an attached run, exec, start or attach. `logs` is rpod's
/// own output, and suppressed, as in podman.
fn shows_container_output(cmd: &Command) -> bool {
    match cmd {
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => !a.detach,
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => !a.detach,
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => a.attach,
        Command::Attach(_) | Command::Container(ContainerCommand::Attach(_)) => true,
        _ => false,
    }
}

/// Honour, note or refuse the global flags that are not plain settings,
/// before any command runs. Errors are one line; the caller exits 125.
fn apply_globals(g: &mut GlobalOpts, cmd: &Command) -> anyhow::Result<()> {
    if g.remote
        || g.remote_short
        || g.url.is_some()
        || g.connection.is_some()
        || g.connection_short.is_some()
    {
        anyhow::bail!("{NO_REMOTE} (--remote, --url, --connection)");
    }
    for var in ["CONTAINER_HOST", "CONTAINER_CONNECTION"] {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            anyhow::bail!("{NO_REMOTE} (${var} is set)");
        }
    }
    // storage.conf, then --storage-opt over it; the flag's driver wins.
    let conf = crate::storage::conf::load()?;
    let mut mount_program = conf.mount_program.clone();
    for o in &g.storage_opt {
        if let Some(p) = crate::storage::conf::parse_storage_opt(o)? {
            mount_program = Some(p);
        }
    }
    if g.storage_driver.is_none() {
        g.storage_driver = match (&mount_program, conf.driver) {
            (Some(p), Some(d)) if d == "overlay" || d == "fuse-overlayfs" => {
                debug!("mount_program {}: using fuse-overlayfs", p.display());
                Some("fuse-overlayfs".into())
            }
            (Some(p), None) => {
                debug!("mount_program {}: using fuse-overlayfs", p.display());
                Some("fuse-overlayfs".into())
            }
            (_, d) => d,
        };
    }
    for d in &g.hooks_dir {
        let hooks = std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .unwrap_or(false);
        if hooks {
            warn!(
                "--hooks-dir {}: rpod does not run OCI hooks from hooks directories",
                d.display()
            );
        }
    }
    let noted: [(&str, bool); 12] = [
        ("--cgroup-manager", g.cgroup_manager.is_some()),
        ("--conmon (rpod has its own monitor)", g.conmon.is_some()),
        (
            "--runtime (rpod's OCI runtime is built in)",
            g.runtime.is_some(),
        ),
        (
            "--runtime-flag (rpod's OCI runtime is built in)",
            !g.runtime_flag.is_empty(),
        ),
        ("--network-cmd-path", g.network_cmd_path.is_some()),
        ("--network-config-dir", g.network_config_dir.is_some()),
        ("--syslog", g.syslog),
        ("--transient-store", g.transient_store),
        ("--imagestore", g.imagestore.is_some()),
        ("--namespace", g.namespace.is_some()),
        ("--identity", g.identity.is_some()),
        ("--ssh", g.ssh.is_some()),
    ];
    for (flag, set) in noted {
        if set {
            debug!("ignoring {flag}: it has no meaning to rpod");
        }
    }
    if g.noout && !shows_container_output(cmd) {
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map_err(|e| anyhow::anyhow!("--noout: opening /dev/null: {e}"))?;
        nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 1)
            .map_err(|e| anyhow::anyhow!("--noout: redirecting stdout: {e}"))?;
    }
    Ok(())
}

/// podman's text and exit code for a `--log-level` it does not know.
fn check_log_level(level: &str) {
    if !LOG_LEVELS.contains(&level) {
        eprintln!(
            "Log Level \"{level}\" is not supported, choose from: {}",
            LOG_LEVELS.join(", ")
        );
        std::process::exit(1);
    }
}

/// `rpod info`'s flags.
#[derive(Args, Debug, Clone)]
pub struct InfoArgs {
    /// Output format: yaml (podman's default), json, or a Go template over podman's fields ({{.Host.Arch}}, {{.Store.GraphRoot}}, ...)
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Accepted for podman compatibility (podman's info --debug adds nothing here)
    #[arg(short = 'D', long, hide = true)]
    pub debug: bool,
}

/// `rpod version`'s flags.
#[derive(Args, Debug, Clone)]
pub struct VersionArgs {
    /// Output format: json, or a Go template over podman's fields ({{.Client.Version}}, ...)
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pull images from a registry
    Pull(image::PullArgs),
    /// List images in local storage
    #[command(alias = "image-ls")]
    Images(image::ImagesArgs),
    /// Remove images from local storage
    Rmi(image::RmiArgs),
    /// Add names to a local image
    Tag(image::TagArgs),
    /// Remove names from a local image
    Untag(image::UntagArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Push an image to a registry
    Push(push::PushArgs),
    /// Search a registry for images
    Search(push::SearchArgs),
    /// Save images to an archive
    Save(archive::SaveArgs),
    /// Load images from an archive
    Load(archive::LoadArgs),
    /// Make an image of a root filesystem tarball
    Import(archive::ImportArgs),
    /// Build an image from a Containerfile
    Build(Box<build::BuildArgs>),
    /// Build images (podman's buildx alias)
    #[command(subcommand)]
    Buildx(build::BuildxCommand),
    /// Show the history of an image
    History(archive::HistoryArgs),
    /// Log in to a container registry
    Login(image::LoginArgs),
    /// Log out of a container registry
    Logout(image::LogoutArgs),

    /// Run a command in a new container
    Run(container::RunArgs),
    /// Create a container without starting it
    Create(container::CreateArgs),
    /// Start containers
    Start(container::StartArgs),
    /// Set containers up (rootfs, network, runtime) without starting them
    Init(container::InitArgs),
    /// Restart containers (stop them if they run, then start them)
    Restart(container::RestartArgs),
    /// Stop running containers
    Stop(container::StopArgs),
    /// Send a signal to running containers
    Kill(container::KillArgs),
    /// Remove containers
    Rm(container::RmArgs),
    /// List containers
    Ps(container::PsArgs),
    /// Wait for containers to stop and print their exit codes
    Wait(container::WaitArgs),
    /// Run a process in a running container
    Exec(container::ExecArgs),
    /// Show a container's logs
    Logs(container::LogsArgs),
    /// Show the configuration of containers or images as JSON
    Inspect(container::InspectArgs),
    /// Show the processes of a container
    Top(container::TopArgs),
    /// List a container's published ports
    Port(system_cmds::PortArgs),
    /// Attach to a running container
    Attach(container::AttachArgs),
    /// Show containers' CPU, memory, network and block I/O use
    Stats(stats::StatsArgs),
    /// Pause all the processes of containers
    Pause(stats::PauseArgs),
    /// Unpause the processes of paused containers
    Unpause(stats::UnpauseArgs),
    /// Run the healthchecks of containers
    #[command(subcommand)]
    Healthcheck(health::HealthcheckCommand),
    /// Update the resource limits (and restart policy) of a container
    Update(update::UpdateArgs),
    /// Update containers to newer images (label io.containers.autoupdate=registry|local)
    AutoUpdate(autoupdate::AutoUpdateArgs),
    /// Rename a container
    Rename(container::RenameArgs),
    /// Mount a container's root filesystem (run inside `rpod unshare`)
    Mount(container::MountArgs),
    /// Unmount a container's root filesystem
    #[command(alias = "umount")]
    Unmount(container::UnmountArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Run a command in rpod's user namespace
    Unshare(container::UnshareArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage pods: containers sharing network, ipc and uts namespaces
    #[command(subcommand)]
    Pod(pod::PodCommand),
    /// Manipulate manifest lists and image indexes
    #[command(subcommand)]
    Manifest(manifest::ManifestCommand),
    /// Kubernetes YAML: generate it from containers, pods and volumes, play it, take it down
    #[command(subcommand)]
    Kube(kube::KubeCommand),
    /// Play Kubernetes YAML (podman 4.3's spelling of kube play)
    #[command(subcommand)]
    Play(kube::PlayCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage secrets
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Copy files between a container and the host
    Cp(data::CpArgs),
    /// Show the changes in a container's or image's file system
    Diff(data::DiffArgs),
    /// Create an image from a container's changes
    Commit(data::CommitArgs),
    /// Write a container's file system as a tar archive
    Export(data::ExportArgs),

    /// Show events: what happened to containers, images and volumes
    Events(events::EventsArgs),

    /// Show version information
    Version(VersionArgs),
    /// Show how rpod is set up on this machine
    Info(InfoArgs),
    /// Manage rpod: disk usage, prune, reset, check
    #[command(subcommand)]
    System(system_data::SystemCommand),

    /// Run OCI bundles with runc's commands and flags
    Oci(oci::OciArgs),

    /// The per-container monitor (internal: started by rpod itself)
    #[command(name = "__monitor", hide = true)]
    Monitor(system_cmds::MonitorArgs),

    /// Print a shell completion script (bash, zsh, fish)
    Completion(completion::CompletionArgs),
    /// Generate systemd units for containers
    #[command(subcommand)]
    Generate(generate::GenerateCommand),
    /// Answer a shell's completion request (internal: called by the scripts)
    #[command(name = "__complete", hide = true)]
    Complete(completion::CompleteArgs),
    /// Write the man pages into a directory (internal: used to build them)
    #[command(name = "__man", hide = true)]
    Man(man::ManArgs),
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build an image from a Containerfile
    Build(Box<build::BuildArgs>),
    /// List images
    #[command(alias = "list")]
    Ls(image::ImagesArgs),
    /// Pull images
    Pull(image::PullArgs),
    /// Remove images
    Rm(image::RmiArgs),
    /// Add names to an image
    Tag(image::TagArgs),
    /// Remove names from an image
    Untag(image::UntagArgs),
    /// Show images as JSON
    Inspect(image::ImageInspectArgs),
    /// Remove unused images
    Prune(image::ImagePruneArgs),
    /// Push an image to a registry
    Push(push::PushArgs),
    /// Search a registry for images
    Search(push::SearchArgs),
    /// Save images to an archive
    Save(archive::SaveArgs),
    /// Load images from an archive
    Load(archive::LoadArgs),
    /// Make an image of a root filesystem tarball
    Import(archive::ImportArgs),
    /// Show the history of an image
    History(archive::HistoryArgs),
    /// Check whether an image exists (exit 0) or not (exit 1)
    Exists(archive::ExistsArgs),
    /// Show the layers of an image as a tree
    Tree(archive::TreeArgs),
    /// Show the changes of an image's top layer
    Diff(data::ImageDiffArgs),
    /// Mount images read-only and print their paths (inside `rpod unshare`)
    Mount(image_mount::ImageMountArgs),
    /// Unmount images (inside `rpod unshare`)
    #[command(alias = "umount")]
    Unmount(image_mount::ImageUnmountArgs),
    /// Securely copy an image to another user's storage or another host
    Scp(image_scp::ScpArgs),
    /// Sign images (not supported yet: refused)
    Sign(image_mount::SignArgs),
    /// Show or set the trust policy (not supported yet: refused)
    #[command(subcommand)]
    Trust(image_mount::TrustCommand),
}

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// List containers
    #[command(alias = "list", alias = "ps")]
    Ls(container::PsArgs),
    /// Run a command in a new container
    Run(container::RunArgs),
    /// Create a container
    Create(container::CreateArgs),
    /// Start containers
    Start(container::StartArgs),
    /// Initialize containers: set them up without starting them
    Init(container::InitArgs),
    /// Restart containers
    Restart(container::RestartArgs),
    /// Stop containers
    Stop(container::StopArgs),
    /// Signal containers
    Kill(container::KillArgs),
    /// Remove containers
    Rm(container::RmArgs),
    /// Show containers as JSON
    Inspect(container::InspectArgs),
    /// Show a container's logs
    Logs(container::LogsArgs),
    /// Run a process in a running container
    Exec(container::ExecArgs),
    /// Wait for containers
    Wait(container::WaitArgs),
    /// Release what stopped containers still hold (mounts, network helpers)
    Cleanup(container::CleanupArgs),
    /// Mount a container's root filesystem (run inside `rpod unshare`)
    Mount(container::MountArgs),
    /// Unmount a container's root filesystem
    #[command(alias = "umount")]
    Unmount(container::UnmountArgs),
    /// Remove all stopped containers
    Prune(container::ContainerPruneArgs),
    /// Rename a container
    Rename(container::RenameArgs),
    /// Show the processes of a container
    Top(container::TopArgs),
    /// List a container's published ports
    Port(system_cmds::PortArgs),
    /// Attach to a container
    Attach(container::AttachArgs),
    /// Copy files between a container and the host
    Cp(data::CpArgs),
    /// Show the changes in a container's file system
    Diff(data::DiffArgs),
    /// Create an image from a container's changes
    Commit(data::CommitArgs),
    /// Write a container's file system as a tar archive
    Export(data::ExportArgs),
    /// Exit 0 if the container exists, 1 if not
    Exists(data::ExistsArgs),
    /// Show containers' resource use
    Stats(stats::StatsArgs),
    /// Pause containers
    Pause(stats::PauseArgs),
    /// Unpause containers
    Unpause(stats::UnpauseArgs),
    /// Update the resource limits (and restart policy) of a container
    Update(update::UpdateArgs),
    /// Create a container like another (its create command, new resources)
    Clone(ctr_more::CloneArgs),
    /// Run the command in an image's label
    Runlabel(ctr_more::RunlabelArgs),
    /// Checkpoint running containers (needs CRIU)
    Checkpoint(ctr_more::CheckpointArgs),
    /// Restore checkpointed containers (needs CRIU)
    Restore(ctr_more::RestoreArgs),
}

/// Parse the command line and run the command. A failure says whose exit
/// codes it follows; `exit::outcome` makes the code.
pub fn run() -> Result<(), exit::Failure> {
    logger::init();
    if let Some(r) = crate::monitor::loop_from_argv() {
        return Ok(r?);
    }
    // A scheduled healthcheck, every interval: no clap either.
    if let Some(r) = crate::container::health::scheduled_from_argv() {
        return Ok(r?);
    }
    // network: the port forwarder lives as long as its container; no clap.
    if let Some(r) = crate::network::portfwd::from_argv() {
        return Ok(r?);
    }
    // network: the rootless network namespace's holder processes.
    if let Some(r) = crate::network::rootless::from_argv() {
        return Ok(r?);
    }
    if let Some(r) = oci::dispatch_argv0() {
        return r.map_err(exit::Failure::with(exit::Convention::Runc));
    }
    if let Some(r) = generate::dispatch_argv0() {
        return Ok(r?);
    }
    // The monitor starts on every `rpod run`: parse its line with a command
    // tree of one subcommand, not rpod's eighty.
    if subcommand_word(std::env::args().skip(1)).as_deref() == Some("__monitor") {
        let m = MonitorCli::parse();
        check_log_level(&m.global.log_level);
        logger::set_level(&m.global.log_level);
        let MonitorOnly::Monitor(a) = m.command;
        return Ok(system_cmds::monitor_cmd(&m.global, a)?);
    }
    let mut cli = Cli::try_parse().unwrap_or_else(|e| usage_exit(e));
    check_log_level(&cli.global.log_level);
    logger::set_level(&cli.global.log_level);
    apply_globals(&mut cli.global, &cli.command)?;
    let convention = convention(&cli.command);
    dispatch(&cli.global, cli.command).map_err(exit::Failure::with(convention))
}

/// A command line clap could not take: its message, and podman's exit
/// code for a usage error, 125 (clap's own is 2); help and --version exit 0.
fn usage_exit(e: clap::Error) -> ! {
    let _ = e.print();
    std::process::exit(if e.use_stderr() { 125 } else { 0 })
}

/// Whose exit codes a command follows (see `exit`).
fn convention(cmd: &Command) -> exit::Convention {
    match cmd {
        Command::Oci(_) => exit::Convention::Runc,
        Command::Rm(_)
        | Command::Container(ContainerCommand::Rm(_))
        | Command::Rmi(_)
        | Command::Image(ImageCommand::Rm(_))
        | Command::Volume(volume::VolumeCommand::Rm(_))
        | Command::Manifest(manifest::ManifestCommand::Rm(_))
        | Command::Network(network::NetworkCommand::Rm(_)) => exit::Convention::Remove,
        Command::Exec(_) | Command::Container(ContainerCommand::Exec(_)) => exit::Convention::Exec,
        _ => exit::Convention::Podman,
    }
}

/// The first word after the global options: `rpod --root R __monitor ID`
/// is the monitor, `rpod run alpine echo __monitor` is not.
fn subcommand_word(mut args: impl Iterator<Item = String>) -> Option<String> {
    const WITH_VALUE: &[&str] = &[
        "--log-level",
        "--root",
        "--runroot",
        "--storage-driver",
        "--storage-opt",
        "--registries-conf",
        "--volumepath",
        "--tmpdir",
        "--events-backend",
        "--hooks-dir",
        "--cgroup-manager",
        "--conmon",
        "--runtime",
        "--runtime-flag",
        "--network-cmd-path",
        "--network-config-dir",
        "--imagestore",
        "--namespace",
        "--identity",
        "--ssh",
        "--url",
        "--connection",
        "-c",
    ];
    while let Some(a) = args.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            args.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// Just enough of the command line for the monitor rpod spawns itself.
#[derive(Parser, Debug)]
#[command(name = "rpod", bin_name = "rpod")]
struct MonitorCli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: MonitorOnly,
}

#[derive(Subcommand, Debug)]
enum MonitorOnly {
    #[command(name = "__monitor")]
    Monitor(system_cmds::MonitorArgs),
}

fn dispatch(g: &GlobalOpts, cmd: Command) -> anyhow::Result<()> {
    use image_cmds as img;
    match cmd {
        Command::Build(a)
        | Command::Image(ImageCommand::Build(a))
        | Command::Buildx(build::BuildxCommand::Build(a)) => build::build_cmd(g, &a),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => img::pull_cmd(g, &a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => img::images_cmd(g, &a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => img::rmi_cmd(g, &a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => img::tag_cmd(g, &a),
        Command::Untag(a) | Command::Image(ImageCommand::Untag(a)) => img::untag_cmd(g, &a),
        Command::Image(ImageCommand::Inspect(a)) => img::inspect_cmd(g, &a),
        Command::Image(ImageCommand::Prune(a)) => img::prune_cmd(g, &a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => push::push_cmd(g, &a),
        Command::Search(a) | Command::Image(ImageCommand::Search(a)) => push::search_cmd(g, &a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => archive::save_cmd(g, &a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => archive::load_cmd(g, &a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => archive::import_cmd(g, &a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            archive::history_cmd(g, &a)
        }
        Command::Image(ImageCommand::Exists(a)) => archive::exists_cmd(g, &a),
        Command::Image(ImageCommand::Tree(a)) => archive::tree_cmd(g, &a),
        Command::Image(ImageCommand::Mount(a)) => image_mount::mount_cmd(g, &a),
        Command::Image(ImageCommand::Unmount(a)) => image_mount::unmount_cmd(g, &a),
        Command::Image(ImageCommand::Scp(a)) => image_scp::scp_cmd(g, &a),
        Command::Image(ImageCommand::Sign(a)) => image_mount::sign_cmd(&a),
        Command::Image(ImageCommand::Trust(t)) => image_mount::trust_cmd(&t),
        Command::Login(a) => img::login_cmd(g, &a),
        Command::Logout(a) => img::logout_cmd(g, &a),

        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => {
            ctr_lifecycle::run_cmd(g, a)
        }
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            ctr_lifecycle::create_cmd(g, a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            ctr_lifecycle::start_cmd(g, &a)
        }
        Command::Init(a) | Command::Container(ContainerCommand::Init(a)) => {
            ctr_lifecycle::init_cmd(g, &a)
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            ctr_lifecycle::restart_cmd(g, &a)
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            ctr_lifecycle::stop_cmd(g, &a)
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            ctr_lifecycle::kill_cmd(g, &a)
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => {
            ctr_lifecycle::rm_cmd(g, &a)
        }
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => ctr_views::ps_cmd(g, &a),
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            ctr_lifecycle::wait_cmd(g, &a)
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            ctr_views::exec_cmd(g, &a)
        }
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => {
            ctr_views::logs_cmd(g, &a)
        }
        Command::Container(ContainerCommand::Inspect(a)) => ctr_views::inspect_cmd(g, &a),
        Command::Inspect(a) => system::inspect_cmd(g, &a),
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => ctr_views::top_cmd(g, &a),
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => {
            system_cmds::port_cmd(g, &a)
        }
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => {
            ctr_lifecycle::attach_cmd(g, &a)
        }
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            stats::stats_cmd(g, &a)
        }
        Command::Healthcheck(c) => health::healthcheck_cmd(g, c),
        Command::AutoUpdate(a) => autoupdate::auto_update_cmd(g, &a),
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            update::update_cmd(g, &a)
        }
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            stats::pause_cmd(g, &a)
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            stats::unpause_cmd(g, &a)
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            ctr_lifecycle::rename_cmd(g, &a)
        }
        Command::Container(ContainerCommand::Cleanup(a)) => ctr_lifecycle::cleanup_cmd(g, &a),
        Command::Container(ContainerCommand::Prune(a)) => ctr_lifecycle::prune_cmd(g, &a),
        Command::Mount(a) | Command::Container(ContainerCommand::Mount(a)) => {
            ctr_lifecycle::mount_cmd(g, &a)
        }
        Command::Unmount(a) | Command::Container(ContainerCommand::Unmount(a)) => {
            ctr_lifecycle::unmount_cmd(g, &a)
        }
        Command::Unshare(a) => system_cmds::unshare_cmd(&a),
        Command::Volume(a) => volume::volume_cmd(g, a),
        Command::Pod(a) => pod::pod_cmd(g, a),
        Command::Manifest(a) => manifest::manifest_cmd(g, a),
        Command::Kube(a) => kube::kube_cmd(g, a),
        Command::Play(a) => kube::play_kube_cmd(g, a),
        Command::Network(a) => network::network_cmd(g, a),
        Command::Secret(a) => secret::secret_cmd(g, a),
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => data::cp_cmd(g, &a),
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => {
            data::diff_cmd(g, &a.target, a.other.as_deref(), a.format.as_deref(), false)
        }
        Command::Image(ImageCommand::Diff(a)) => {
            data::diff_cmd(g, &a.target, a.other.as_deref(), a.format.as_deref(), true)
        }
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            data::commit_cmd(g, &a)
        }
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            data::export_cmd(g, &a)
        }
        Command::Container(ContainerCommand::Exists(a)) => data::exists_cmd(g, &a),
        Command::Container(ContainerCommand::Clone(a)) => ctr_more::clone_cmd(g, &a),
        Command::Container(ContainerCommand::Runlabel(a)) => ctr_more::runlabel_cmd(g, &a),
        Command::Container(ContainerCommand::Checkpoint(a)) => ctr_more::checkpoint_cmd(&a),
        Command::Container(ContainerCommand::Restore(a)) => ctr_more::restore_cmd(&a),

        Command::Events(a) => events::events_cmd(g, &a),
        Command::Version(a) => system::version_cmd(&a),
        Command::Info(a) => system::info_cmd(g, &a),
        Command::System(a) => system_data::system_cmd(g, a),
        Command::Monitor(a) => system_cmds::monitor_cmd(g, a),
        Command::Completion(a) => completion::completion_cmd(&a),
        Command::Generate(a) => generate::generate_cmd(g, a),
        Command::Complete(a) => completion::complete_cmd(g, &a),
        Command::Man(a) => man::man_cmd(&a),
        Command::Oci(a) => oci::main(g.root.clone(), a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_stops_parsing_flags_at_the_image() {
        let cli =
            Cli::try_parse_from(["rpod", "run", "--rm", "alpine", "ls", "-l", "--rm"]).unwrap();
        let Command::Run(a) = cli.command else {
            panic!("not run")
        };
        assert!(a.opts.rm);
        assert_eq!(a.image(), "alpine");
        assert_eq!(a.command(), ["ls", "-l", "--rm"]);
    }

    #[test]
    fn only_the_spawned_monitor_takes_the_short_path() {
        let w = |v: &[&str]| subcommand_word(v.iter().map(|s| s.to_string()));
        assert_eq!(
            w(&["--root", "/r", "--log-level=debug", "__monitor", "id"]).as_deref(),
            Some("__monitor")
        );
        assert_eq!(
            w(&["run", "alpine", "echo", "__monitor"]).as_deref(),
            Some("run")
        );
        assert_eq!(w(&["--root", "__monitor", "ps"]).as_deref(), Some("ps"));
        // Every global flag that takes a value skips it.
        assert_eq!(
            w(&[
                "--events-backend",
                "none",
                "--tmpdir",
                "/t",
                "--volumepath",
                "/v",
                "--storage-opt",
                "x",
                "--hooks-dir",
                "/h",
                "--runtime",
                "crun",
                "--runtime-flag",
                "debug",
                "--cgroup-manager",
                "cgroupfs",
                "--conmon",
                "/c",
                "--network-cmd-path",
                "/n",
                "--network-config-dir",
                "/d",
                "--imagestore",
                "/i",
                "--namespace",
                "ns",
                "--identity",
                "/k",
                "--ssh",
                "native",
                "--url",
                "u",
                "--connection",
                "c",
                "-c",
                "c",
                "--noout",
                "--syslog",
                "--transient-store",
                "__monitor",
                "id",
            ])
            .as_deref(),
            Some("__monitor")
        );
        assert_eq!(w(&["--tmpdir", "__monitor", "ps"]).as_deref(), Some("ps"));
        assert_eq!(w(&[]), None);
    }

    #[test]
    fn run_h_is_hostname() {
        let cli = Cli::try_parse_from(["rpod", "run", "-h", "box", "alpine"]).unwrap();
        let Command::Run(a) = cli.command else {
            panic!("not run")
        };
        assert_eq!(a.opts.hostname.as_deref(), Some("box"));
    }
}
