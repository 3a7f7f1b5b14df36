//! Flags of the container commands (`run`, `create`, `ps`, `stop`, …). The
//! handlers live in `crate::container`.

use super::image::{PlatformOpts, RegistryOpts};
use clap::{ArgAction, Args};
use std::path::PathBuf;

/// Everything that describes a container: shared by `run` and `create`.
#[derive(Args, Debug, Clone, Default)]
pub struct ContainerOpts {
    /// Name of the container (default: a generated adjective_noun)
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to copy it from the host)
    #[arg(short, long, value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file of KEY=VALUE lines
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Copy the whole host environment into the container
    #[arg(long)]
    pub env_host: bool,
    /// Mount a volume or host path: [HOST-PATH|VOLUME-NAME:]CONTAINER[:ro,rw,z,Z,U,O,nocopy,…]
    #[arg(short, long, value_name = "[SRC:]CTR[:OPTS]")]
    pub volume: Vec<String>,
    /// Attach a mount: type=bind|volume|tmpfs,source=…,target=…[,ro][,bind-nonrecursive][,volume-opt=K=V][,subpath=DIR]
    #[arg(long, value_name = "type=TYPE,…")]
    pub mount: Vec<String>,
    /// Mount the volumes and bind mounts of another container: CONTAINER[:ro|rw]
    #[arg(long, value_name = "CONTAINER[:OPTS]")]
    pub volumes_from: Vec<String>,
    /// What the image's VOLUMEs become: bind (anonymous volumes), tmpfs or ignore
    #[arg(long, value_name = "MODE", default_value = "bind",
          value_parser = ["bind", "tmpfs", "ignore"])]
    pub image_volume: String,
    /// Mount a tmpfs: CONTAINER_DIR[:OPTIONS]
    #[arg(long, value_name = "DIR[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: NAME|UID[:GROUP|GID]
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Override the image's entrypoint (a string, or a JSON array)
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Container hostname (default: the short container id)
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Mount the container's root filesystem read-only
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = ArgAction::Set)]
    pub read_only: Option<bool>,
    /// Run an init inside the container that forwards signals and reaps zombies
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = ArgAction::Set)]
    pub init: Option<bool>,
    /// Add Linux capabilities (e.g. NET_ADMIN, or ALL)
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (e.g. CHOWN, or ALL)
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give the container every capability the user namespace can give
    #[arg(long)]
    pub privileged: bool,
    /// Security options: seccomp=unconfined|PROFILE.json, no-new-privileges, label=disable, mask=…, unmask=…
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// User namespace mode: keep-id[:uid=UID,gid=GID], host, or auto (default: "")
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// When to pull the image: always, missing, never, newer
    #[arg(long, value_name = "POLICY", default_value = "missing",
          value_parser = ["always", "missing", "never", "newer"])]
    pub pull: String,
    /// Replace an existing container of the same name
    #[arg(long)]
    pub replace: bool,
    /// Write the container id to this file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// Signal that stops the container (default: the image's StopSignal, or SIGTERM)
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds to wait after the stop signal before killing (default: 10)
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// Set metadata on the container (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Run the container in pod NAME (new:NAME creates it), sharing its infra's network, ipc and uts
    #[arg(long, value_name = "NAME")]
    pub pod: Option<String>,
    /// Read the pod's id from this file (as `pod create --pod-id-file` wrote it)
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Option<std::path::PathBuf>,
    /// Network mode: slirp4netns[:OPTS], pasta[:ARGS], none, host, container:NAME, or networks: NAME[:alias=A,ip=IP,mac=MAC,interface_name=IF] (repeatable)
    #[arg(long, alias = "net", value_name = "MODE")]
    pub network: Vec<String>,
    /// Another name the container answers to on its networks (repeatable)
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// The container's IPv4 address on its (single) network
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// The container's IPv6 address on its (single) network
    #[arg(long, value_name = "IP")]
    pub ip6: Option<String>,
    /// The container's MAC address on its (single) network
    #[arg(long = "mac-address", value_name = "MAC")]
    pub mac_address: Option<String>,
    /// Publish a container port: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]
    #[arg(short, long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes on a random host port
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// DNS server for the container's /etc/resolv.conf
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS search domain
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// DNS resolver option
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a line to /etc/hosts: HOST:IP
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Maximum number of processes; needs a delegated cgroup v2 subtree
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<i64>,
    /// Resource limit: NAME=SOFT[:HARD] (e.g. nofile=1024:2048)
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Namespaced kernel parameter: NAME=VALUE (ipc, net.* and kernel.domainname only)
    #[arg(long, value_name = "NAME=VALUE")]
    pub sysctl: Vec<String>,
    /// Additional groups for the container's process
    #[arg(long, value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Restart policy when the container exits: no, on-failure[:MAX], always, unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Healthcheck command: a shell command, a JSON array (exec form), or none to remove the image's
    #[arg(long, value_name = "COMMAND", alias = "healthcheck-command")]
    pub health_cmd: Option<String>,
    /// Time between healthchecks, run by rpod's monitor (disable: only `healthcheck run`) [default: 30s]
    #[arg(long, value_name = "DURATION", alias = "healthcheck-interval")]
    pub health_interval: Option<String>,
    /// Failed checks in a row before the container is unhealthy [default: 3]
    #[arg(long, value_name = "N", alias = "healthcheck-retries")]
    pub health_retries: Option<u32>,
    /// Time after the start in which failed checks do not count [default: 0s]
    #[arg(long, value_name = "DURATION", alias = "healthcheck-start-period")]
    pub health_start_period: Option<String>,
    /// Time a check may take before it counts as failed [default: 30s]
    #[arg(long, value_name = "DURATION", alias = "healthcheck-timeout")]
    pub health_timeout: Option<String>,
    /// What to do once the container is unhealthy: none, kill, restart, stop [default: none]
    #[arg(long, value_name = "ACTION")]
    pub health_on_failure: Option<String>,
    /// Disable the healthcheck (the image's too)
    #[arg(long)]
    pub no_healthcheck: bool,
    /// How the monitor notifies systemd: conmon, container, ignore, or healthy (READY at the first healthy check)
    #[arg(long, value_name = "MODE", default_value = "container",
          value_parser = ["conmon", "container", "healthy", "ignore"])]
    pub sdnotify: String,
    /// Give the container a secret (see rpod-secret(1)): NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=M] (may be repeated)
    #[arg(long, value_name = "SECRET[,OPT=VALUE...]")]
    pub secret: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryOpts,
    #[command(flatten)]
    pub platform: PlatformOpts,
    #[command(flatten)]
    pub more: MoreContainerOpts,
}

/// The rest of podman 4.3's `run`/`create` flags (issue 12), kept apart so
/// that the flags other areas add to [`ContainerOpts`] merge cleanly.
#[derive(Args, Debug, Clone, Default)]
pub struct MoreContainerOpts {
    /// Add an annotation to the container (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Read labels from a file of KEY=VALUE lines
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Preprocess an environment variable with the image's: KEY=VALUE with ${KEY} references
    #[arg(long, value_name = "KEY=VALUE")]
    pub env_merge: Vec<String>,
    /// Remove an environment variable the image or rpod sets by default
    #[arg(long, value_name = "KEY")]
    pub unsetenv: Vec<String>,
    /// Remove every default environment variable (image's and rpod's)
    #[arg(long)]
    pub unsetenv_all: bool,
    /// Pass the host's proxy environment variables (http_proxy, https_proxy, ftp_proxy, no_proxy) in
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    pub http_proxy: bool,
    /// Do not create /etc/hosts for the container (the image's is used)
    #[arg(long)]
    pub no_hosts: bool,
    /// Size of /dev/shm (e.g. 64m)
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Timezone of the container: local, or an IANA name such as Europe/Paris
    #[arg(long, visible_alias = "timezone", value_name = "TZ")]
    pub tz: Option<String>,
    /// umask of the container's process (default: 0022)
    #[arg(long, value_name = "MASK")]
    pub umask: Option<String>,
    /// Path of the init binary run by --init (default: catatonit)
    #[arg(long, value_name = "PATH")]
    pub init_path: Option<PathBuf>,
    /// Expose a port or range (for -P) without publishing it: PORT[/PROTO]
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// Tune the OOM killer's preference for the container (-1000 to 1000; rootless: only raised)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// UTS namespace: private, host, container:NAME or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// IPC namespace: private, shareable, none, host, container:NAME or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// PID namespace: private, host, container:NAME or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// cgroup namespace: host, private or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// UID map of a container user namespace, relative to rpod's: CONTAINER_UID:FROM_UID:COUNT
    #[arg(long, value_name = "CTR:FROM:COUNT")]
    pub uidmap: Vec<String>,
    /// GID map of a container user namespace, relative to rpod's: CONTAINER_GID:FROM_GID:COUNT
    #[arg(long, value_name = "CTR:FROM:COUNT")]
    pub gidmap: Vec<String>,
    /// Map the container's uids from this /etc/subuid name (needs root: refused rootless)
    #[arg(long, value_name = "NAME")]
    pub subuidname: Option<String>,
    /// Map the container's gids from this /etc/subgid name (needs root: refused rootless)
    #[arg(long, value_name = "NAME")]
    pub subgidname: Option<String>,
    /// Give the container a host device: HOST[:CONTAINER][:PERMS] (rootless: one you can open)
    #[arg(long, value_name = "HOST[:CTR][:rwm]")]
    pub device: Vec<String>,
    /// Mount tmpfs on /run, /tmp and /var/tmp with --read-only
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    pub read_only_tmpfs: bool,
    /// Do not print the image pull progress
    #[arg(short, long)]
    pub quiet: bool,
    /// Docker's image verification: a no-op in podman too
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: Option<bool>,
    /// Where the seccomp profile comes from: default, or image (its io.containers.seccomp.profile label)
    #[arg(long, value_name = "POLICY", default_value = "default",
          value_parser = ["default", "image"])]
    pub seccomp_policy: String,
    /// cgroups mode: enabled, disabled or no-conmon (split needs systemd)
    #[arg(long, value_name = "MODE", default_value = "enabled",
          value_parser = ["enabled", "disabled", "no-conmon", "split"])]
    pub cgroups: String,
    /// Parent cgroup (needs a delegated cgroup v2 subtree)
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// cgroup v2 setting: KEY=VALUE (needs a delegated cgroup v2 subtree)
    #[arg(long, value_name = "KEY=VALUE")]
    pub cgroup_conf: Vec<String>,
    #[command(flatten)]
    pub res: ResourceOpts,
    /// Do not kill the container on out-of-memory; needs a delegated cgroup
    #[arg(long)]
    pub oom_kill_disable: bool,
    #[command(flatten)]
    pub iops: IopsOpts,
    /// Device cgroup rule: 'TYPE MAJOR:MINOR PERMS' (rootless: devices come from --device)
    #[arg(long, value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
    /// Logging driver: k8s-file (json-file is the same), none, or passthrough (journald needs a journal)
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    #[command(flatten)]
    pub run2: RunMoreOpts,
}

/// The resource flags of `run`/`create` that `container clone` and `update`
/// take too (podman 4.3's clone takes exactly these; `update` these and
/// `IopsOpts`): one definition, flattened into each, so that their names,
/// values and help never drift apart. The help is podman's (it shares these
/// definitions between its commands too); rootless, the limits need a
/// delegated cgroup v2 subtree.
#[derive(Args, Debug, Clone, Default)]
pub struct ResourceOpts {
    /// Block IO weight (relative weight) accepts a weight value between 10 and 1000.
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight, format: DEVICE_NAME:WEIGHT)
    #[arg(long, value_name = "DEVICE_NAME:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_period: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "MICROSECONDS", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds (cgroup v1 only: never rootless)
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_rt_period: Option<u64>,
    /// Limit the CPU real-time runtime in microseconds (cgroup v1 only: never rootless)
    #[arg(long, value_name = "MICROSECONDS", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// Number of CPUs. The default is 0.000 which means no limit
    #[arg(long, value_name = "NUMBER")]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1). Only effective on NUMA systems.
    #[arg(long, value_name = "NODES")]
    pub cpuset_mems: Option<String>,
    /// Limit read rate (bytes per second) from a device (e.g. --device-read-bps=/dev/sda:1mb)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device (e.g. --device-write-bps=/dev/sda:1mb)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_bps: Vec<String>,
    /// Memory limit (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))
    #[arg(short, long, value_name = "NUMBER[UNIT]")]
    pub memory: Option<String>,
    /// Memory soft limit (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))
    #[arg(long, value_name = "NUMBER[UNIT]")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_name = "NUMBER[UNIT]", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container memory swappiness (0 to 100, or -1 for system default) (cgroup v1 only: never rootless)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
}

/// The IO/s limits of `run`/`create` and `update` (not `container clone`'s
/// in podman 4.3).
#[derive(Args, Debug, Clone, Default)]
pub struct IopsOpts {
    /// Limit read rate (IO per second) from a device (e.g. --device-read-iops=/dev/sda:1000)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device (e.g. --device-write-iops=/dev/sda:1000)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_iops: Vec<String>,
}

/// podman 4.3's process and lifecycle flags of `run`/`create` (issue 12):
/// pid files, dependencies, systemd mode, personality, passwd entries,
/// timeouts and log options.
#[derive(Args, Debug, Clone, Default)]
pub struct RunMoreOpts {
    /// Attach to STDIN, STDOUT or STDERR (repeatable; default: stdout and stderr, and stdin with -i)
    #[arg(short = 'a', long, value_name = "STREAM")]
    pub attach: Vec<String>,
    /// Write the container process's pid to this file at each start
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<PathBuf>,
    /// Write the pid of the container's monitor (rpod's conmon) to this file
    #[arg(long, value_name = "PATH")]
    pub conmon_pidfile: Option<PathBuf>,
    /// Directory inside the container treated as a chroot: /etc/hosts, /etc/hostname and /etc/resolv.conf are mounted in it too
    #[arg(long, value_name = "PATH")]
    pub chrootdirs: Vec<String>,
    /// Add a host user's entry (name or uid) to the container's /etc/passwd
    #[arg(long, value_name = "NAME")]
    pub hostuser: Vec<String>,
    /// Add an entry for the --user to /etc/passwd when the image has none (default true)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    pub passwd: Option<bool>,
    /// The /etc/passwd entry to add: $USERNAME, $UID, $GID, $NAME, $HOME are expanded
    #[arg(long, value_name = "ENTRY")]
    pub passwd_entry: Option<String>,
    /// Execution domain of the container's process: LINUX or LINUX32
    #[arg(long, value_name = "PERSONA")]
    pub personality: Option<String>,
    /// Pass this many fds (3 .. 3+N-1) of rpod's to the container's process
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,
    /// Containers to start before this one (comma separated, repeatable)
    #[arg(long, value_name = "CONTAINERS")]
    pub requires: Vec<String>,
    /// Run in systemd mode: true (when the command is systemd or init), false, or always
    #[arg(long, value_name = "MODE", default_value = "true",
          value_parser = ["true", "false", "always"])]
    pub systemd: String,
    /// Kill the container after this many seconds (0: no limit)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Logging driver option: max-size=SIZE, path=PATH or tag=TAG (repeatable)
    #[arg(long, value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// The IMAGE argument is a directory holding the root file system (DIR:O: under an overlay)
    #[arg(long)]
    pub rootfs: bool,
}

#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub opts: ContainerOpts,
    /// Run in the background and print the container id
    #[arg(short, long)]
    pub detach: bool,
    /// Forward signals received by rpod to the container
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    pub sig_proxy: bool,
    /// Key sequence that detaches from the container (default: ctrl-p,ctrl-q)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Remove the image once the container exits, unless another container uses it (implies --rm)
    #[arg(long)]
    pub rmi: bool,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The image, then the command and its arguments (default: the image's
    /// Entrypoint and Cmd). Everything after the image is the command's, as
    /// in podman: `run --entrypoint sh IMAGE -c CMD` passes -c to sh.
    // No allow_hyphen_values: the words after the image are the command's
    // anyway, and a flag before it (`-p8080:80`, `-t=false`) must not be
    // taken for the image.
    #[arg(
        value_names = ["IMAGE", "COMMAND"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: ContainerOpts,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Make this a pod init container, run by `pod start` before the other members: always (at every pod start) or once (removed after its first success)
    #[arg(long, value_name = "always|once")]
    pub init_ctr: Option<String>,
    /// The image, then the command and its arguments (default: the image's
    /// Entrypoint and Cmd). Everything after the image is the command's, as
    /// in podman: `run --entrypoint sh IMAGE -c CMD` passes -c to sh.
    // No allow_hyphen_values: the words after the image are the command's
    // anyway, and a flag before it (`-p8080:80`, `-t=false`) must not be
    // taken for the image.
    #[arg(
        value_names = ["IMAGE", "COMMAND"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

/// `run`'s and `create`'s IMAGE [COMMAND…].
macro_rules! image_and_command {
    ($t:ty) => {
        impl $t {
            pub fn image(&self) -> &str {
                &self.image_and_command[0]
            }
            pub fn command(&self) -> &[String] {
                &self.image_and_command[1..]
            }
        }
    };
}
image_and_command!(RunArgs);
image_and_command!(CreateArgs);

#[derive(Args, Debug, Clone)]
pub struct InitArgs {
    /// Containers to initialize
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Initialize all containers
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
}

#[derive(Args, Debug, Clone)]
pub struct StartArgs {
    /// Containers to start
    #[arg(required_unless_present_any = ["all", "filter", "latest"], value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Act on the latest container rpod knows about
    #[arg(short = 'l', long)]
    pub latest: bool,

    /// Start all containers (that pass --filter)
    #[arg(long)]
    pub all: bool,
    /// Start only the containers that pass this filter (as `ps --filter`, e.g. restart-policy=always)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Attach to the container's output
    #[arg(short, long)]
    pub attach: bool,
    /// Attach the container's standard input
    #[arg(short, long)]
    pub interactive: bool,
    /// Key sequence that detaches from the container
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Forward signals to the container (with --attach)
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    pub sig_proxy: bool,
}

#[derive(Args, Debug, Clone)]
pub struct StopArgs {
    /// Containers to stop
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Seconds to wait before killing (default: the container's stop timeout)
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Stop all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Do not fail when a container does not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Read the container id from this file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// Stop the containers that pass this filter (as `ps --filter`)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RestartArgs {
    /// Containers to restart
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Restart all containers, whatever their state
    #[arg(short, long)]
    pub all: bool,
    /// Restart all running containers
    #[arg(long)]
    pub running: bool,
    /// Seconds to wait for a container to stop before killing it (default: its stop timeout)
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Read the container id from this file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    /// Restart the containers that pass this filter (as `ps --filter`)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
}

#[derive(Args, Debug, Clone)]
pub struct KillArgs {
    /// Containers to signal
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Signal to send (name or number)
    #[arg(short, long, default_value = "KILL", value_name = "SIGNAL")]
    pub signal: String,
    /// Signal all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Read the container id from this file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RmArgs {
    /// Containers to remove
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Stop and remove running containers
    #[arg(short, long)]
    pub force: bool,
    /// Remove all containers
    #[arg(short, long)]
    pub all: bool,
    /// Do not fail when a container does not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Read the container id from this file (and remove the file)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    /// Seconds to wait for a running container to stop before killing it (with --force)
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Remove the containers' anonymous volumes too
    #[arg(short, long)]
    pub volumes: bool,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// Remove the containers that pass this filter (as `ps --filter`)
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Remove the containers that depend on these too (join their network, or --requires them)
    #[arg(long)]
    pub depend: bool,
}

#[derive(Args, Debug, Clone)]
pub struct PsArgs {
    /// Show all containers, not only running ones
    #[arg(short, long)]
    pub all: bool,
    /// Print only container ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate ids and commands
    #[arg(long)]
    pub no_trunc: bool,
    /// Do not print the column headings
    #[arg(short, long)]
    pub noheading: bool,
    /// Output format: table, json, or a template such as '{{.ID}} {{.Names}}'
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Filter: name=NAME, status=STATUS, label=KEY[=VALUE], id=ID, ancestor=IMAGE, exited=CODE, restart-policy=POLICY
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Show the latest container only
    #[arg(short, long)]
    pub latest: bool,
    /// Show the n last created containers
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
    /// Show the pod of each container (POD ID and PODNAME columns)
    #[arg(short, long)]
    pub pod: bool,
    /// Sort by command, created, id, image, names, runningfor, size or status
    #[arg(long, value_name = "KEY", default_value = "created",
          value_parser = ["command", "created", "id", "image", "names", "runningfor", "size", "status"])]
    pub sort: String,
    /// Show containers made by other tools too (rpod's store has only its own)
    #[arg(long)]
    pub external: bool,
    /// Check the state of each container with its process (rpod always does)
    #[arg(long)]
    pub sync: bool,
    /// Show the size of each container's changes, and of its root file system
    #[arg(short, long)]
    pub size: bool,
    /// Show the namespaces of each running container (their inode numbers)
    #[arg(long)]
    pub ns: bool,
    /// Print the list again every N seconds (0: once)
    #[arg(short, long, value_name = "SECONDS")]
    pub watch: Option<u64>,
}

#[derive(Args, Debug, Clone)]
pub struct WaitArgs {
    /// Containers to wait for
    #[arg(required_unless_present = "latest", value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// How often to poll (a duration such as 250ms or 1s; a bare number is milliseconds)
    #[arg(short = 'i', long, default_value = "250ms", value_name = "DURATION")]
    pub interval: String,
    /// Condition to wait for: stopped, exited, running
    #[arg(long, value_name = "STATE")]
    pub condition: Vec<String>,
    /// Do not fail when a container does not exist (no short form: podman's -i is --interval)
    #[arg(long)]
    pub ignore: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// Run in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set an environment variable
    #[arg(short, long, value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// User to run as: NAME|UID[:GROUP|GID]
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Working directory
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Give the process every capability (not only the container's)
    #[arg(long)]
    pub privileged: bool,
    /// Key sequence that detaches
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// Pass this many fds (3 .. 3+N-1) of rpod's to the process
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container to run in (with --latest: the command)
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Command and arguments
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct LogsArgs {
    /// Containers whose logs to show
    #[arg(required_unless_present = "latest", value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// Prefix each line with the container's name
    #[arg(short = 'n', long)]
    pub names: bool,
    /// Show each container's lines in its own color
    #[arg(long)]
    pub color: bool,
    /// Follow the log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end (-1 or "all" for everything)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub tail: Option<String>,
    /// Show logs since a time (RFC 3339, a Unix timestamp, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show logs until a time (same forms as --since)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// Containers or images to inspect
    #[arg(required_unless_present = "latest", value_name = "NAME")]
    pub names: Vec<String>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,

    /// Format the output with a template (e.g. '{{.State.Status}}') or 'json'
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// What to look for: container, image, or all
    #[arg(short = 't', long = "type", default_value = "all", value_name = "TYPE",
          value_parser = ["all", "container", "image"])]
    pub kind: String,
    /// Show the size of the container's writable layer
    #[arg(short, long)]
    pub size: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TopArgs {
    /// Container whose processes to list
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// ps(1) format descriptors (default: user pid ppid %cpu elapsed tty time comm)
    #[arg(
        value_name = "DESCRIPTORS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub descriptors: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct AttachArgs {
    /// Container to attach to
    #[arg(required_unless_present = "latest", value_name = "CONTAINER")]
    pub container: Option<String>,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Forward signals to the container
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    pub sig_proxy: bool,
    /// Key sequence that detaches
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct CleanupArgs {
    /// Containers to clean up (unmount, release network, remove with --rm)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Clean up all containers
    #[arg(short, long)]
    pub all: bool,
    /// Remove the container after cleaning up
    #[arg(long)]
    pub rm: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ContainerPruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RenameArgs {
    /// Container to rename
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Its new name
    #[arg(value_name = "NAME")]
    pub name: String,
}

#[derive(Args, Debug, Clone)]
pub struct MountArgs {
    /// Containers whose root filesystem to mount (inside `rpod unshare`)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Output in JSON
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UnmountArgs {
    /// Containers to unmount
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Unmount all containers
    #[arg(short, long)]
    pub all: bool,
    /// Unmount even if others use the mount
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct UnshareArgs {
    /// Command to run in rpod's user namespace (default: $SHELL)
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}
