//! `container clone`, `container runlabel`, and `container checkpoint` /
//! `restore` (which need CRIU): podman 4.3's flags and behaviour.

use super::image::{PlatformOpts, RegistryOpts};
use super::GlobalOpts;
use crate::container::record::{self, Paths};
use crate::options::Options;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::Write;

#[derive(Args, Debug)]
pub struct CloneArgs {
    /// The container to clone
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The clone's name (default: the original's name and -clone)
    #[arg(value_name = "NAME")]
    pub new_name: Option<String>,
    /// The image of the clone (default: the original's)
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Remove the original container once the clone exists
    #[arg(long)]
    pub destroy: bool,
    /// Start the clone
    #[arg(long)]
    pub run: bool,
    /// With --destroy: remove the original even if it runs
    #[arg(short, long)]
    pub force: bool,
    /// Make the clone in this existing pod
    #[arg(long, value_name = "POD")]
    pub pod: Option<String>,
    #[command(flatten)]
    pub res: super::container::ResourceOpts,
}

impl CloneArgs {
    /// The resource flags given: (long name, value), each one replacing the
    /// original's.
    fn resources(&self) -> Vec<(&'static str, String)> {
        let r = &self.res;
        let mut v: Vec<(&'static str, String)> = Vec::new();
        let mut one = |k: &'static str, x: Option<String>| {
            if let Some(x) = x {
                v.push((k, x));
            }
        };
        one("blkio-weight", r.blkio_weight.map(|x| x.to_string()));
        one("cpu-period", r.cpu_period.map(|x| x.to_string()));
        one("cpu-quota", r.cpu_quota.map(|x| x.to_string()));
        one("cpu-rt-period", r.cpu_rt_period.map(|x| x.to_string()));
        one("cpu-rt-runtime", r.cpu_rt_runtime.map(|x| x.to_string()));
        one("cpu-shares", r.cpu_shares.map(|x| x.to_string()));
        one("cpus", r.cpus.map(|x| x.to_string()));
        one("cpuset-cpus", r.cpuset_cpus.clone());
        one("cpuset-mems", r.cpuset_mems.clone());
        one("memory", r.memory.clone());
        one("memory-reservation", r.memory_reservation.clone());
        one("memory-swap", r.memory_swap.clone());
        one(
            "memory-swappiness",
            r.memory_swappiness.map(|x| x.to_string()),
        );
        for (k, list) in [
            ("blkio-weight-device", &r.blkio_weight_device),
            ("device-read-bps", &r.device_read_bps),
            ("device-write-bps", &r.device_write_bps),
        ] {
            v.extend(list.iter().map(|x| (k, x.clone())));
        }
        v
    }
}

/// `rpod container clone`: a new container made as the original was, from
/// the command that created it (as `pod clone` makes its members), named
/// ORIGINAL-clone unless named; the resource flags given replace the
/// original's. Created, not started, unless `--run`; `--destroy` removes
/// the original once the clone exists.
pub(super) fn clone_cmd(g: &GlobalOpts, a: &CloneArgs) -> Result<()> {
    let opts: Options = g.into();
    let paths = Paths::new(&opts)?;
    let id = record::resolve(&paths, &a.container)?;
    let orig = record::load(&paths, &id)?;
    let cmd = super::generate::split_create_command(&orig.create_command).with_context(|| {
        format!(
            "container {}: cannot clone it from the command that created it",
            orig.name
        )
    })?;
    let name = a
        .name
        .clone()
        .or_else(|| a.new_name.clone())
        .unwrap_or_else(|| format!("{}-clone", orig.name));
    let res = a.resources();
    let mut replaced: Vec<&str> = res.iter().map(|(k, _)| *k).collect();
    let mut extra: Vec<String> = res.iter().map(|(k, v)| format!("--{k}={v}")).collect();
    if let Some(p) = &a.pod {
        replaced.extend(["pod", "pod-id-file"]);
        extra.push(format!("--pod={p}"));
    }
    let argv = super::pod::recreate_argv(&cmd, &name, &replaced, &extra, a.image.as_deref());
    let new = super::pod::run_self(&argv, &format!("cloning container {}", orig.name))?;
    if a.destroy {
        let mut rm = cmd.globals.clone();
        rm.push("rm".into());
        if a.force {
            rm.push("--force".into());
        }
        rm.push(orig.id.clone());
        super::pod::run_self(
            &rm,
            &format!("removing the original container {}", orig.name),
        )?;
    }
    if a.run {
        let mut start = cmd.globals.clone();
        start.extend(["start".into(), new.clone()]);
        super::pod::run_self(&start, &format!("starting the clone {name}"))?;
    }
    writeln!(std::io::stdout().lock(), "{new}")?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// The containers to checkpoint
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Checkpoint all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Compression of the checkpoint archive (gzip, none, zstd)
    #[arg(short, long, value_name = "ALGORITHM", default_value = "zstd",
          value_parser = ["gzip", "none", "zstd"])]
    pub compress: String,
    /// Create a checkpoint image with this name
    #[arg(long, value_name = "IMAGE")]
    pub create_image: Option<String>,
    /// Export the checkpoint to a tar.gz
    #[arg(short, long, value_name = "FILE")]
    pub export: Option<String>,
    /// Checkpoint a container with file locks
    #[arg(long)]
    pub file_locks: bool,
    /// Do not include root file system changes when exporting
    #[arg(long)]
    pub ignore_rootfs: bool,
    /// Do not export the container's volumes
    #[arg(long)]
    pub ignore_volumes: bool,
    /// Keep all temporary checkpoint files
    #[arg(short, long)]
    pub keep: bool,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// Leave the container running after writing the checkpoint
    #[arg(short = 'R', long)]
    pub leave_running: bool,
    /// Dump the container's memory only, leave it running
    #[arg(short = 'P', long)]
    pub pre_checkpoint: bool,
    /// Show checkpoint statistics
    #[arg(long)]
    pub print_stats: bool,
    /// Checkpoint a container with established TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Checkpoint with the pre-checkpoint images
    #[arg(long)]
    pub with_previous: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The containers (or checkpoint images) to restore
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Restore all checkpointed containers
    #[arg(short, long)]
    pub all: bool,
    /// Restore a container with file locks
    #[arg(long)]
    pub file_locks: bool,
    /// Do not apply root file system changes when importing
    #[arg(long)]
    pub ignore_rootfs: bool,
    /// Ignore the IP address set with --ip
    #[arg(long)]
    pub ignore_static_ip: bool,
    /// Ignore the MAC address set with --mac-address
    #[arg(long)]
    pub ignore_static_mac: bool,
    /// Do not restore the volumes of the container
    #[arg(long)]
    pub ignore_volumes: bool,
    /// Restore from an exported checkpoint archive (tar.gz)
    #[arg(short, long, value_name = "FILE")]
    pub import: Option<String>,
    /// Restore from an exported pre-checkpoint archive (tar.gz)
    #[arg(long, value_name = "FILE")]
    pub import_previous: Option<String>,
    /// Keep all temporary checkpoint files
    #[arg(short, long)]
    pub keep: bool,
    /// Act on the latest container rpod knows about
    #[arg(short, long)]
    pub latest: bool,
    /// Name of the container restored from an exported checkpoint
    #[arg(short, long)]
    pub name: Option<String>,
    /// Restore the container into this existing pod
    #[arg(long, value_name = "POD")]
    pub pod: Option<String>,
    /// Show restore statistics
    #[arg(long)]
    pub print_stats: bool,
    /// Publish a container's port, or a range of ports, to the host
    #[arg(short, long, value_name = "PORT")]
    pub publish: Vec<String>,
    /// Restore a container with established TCP connections
    #[arg(long)]
    pub tcp_established: bool,
}

/// Whether `criu` is an executable file on PATH.
fn criu_installed() -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            std::fs::metadata(d.join("criu"))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Why checkpoint/restore (`what`: "checkpointing", "restoring") cannot
/// happen here: CRIU is missing, or (as podman 4.3 says) it needs root.
fn no_criu(what: &str) -> anyhow::Error {
    if !criu_installed() {
        anyhow::anyhow!(
            "{what} a container requires CRIU, which is not installed (no criu in PATH)"
        )
    } else {
        anyhow::anyhow!("{what} a container requires root")
    }
}

/// `rpod container checkpoint`: needs CRIU (and root); refused clearly.
pub(super) fn checkpoint_cmd(_a: &CheckpointArgs) -> Result<()> {
    Err(no_criu("checkpointing"))
}

/// `rpod container restore`: needs CRIU (and root); refused clearly.
pub(super) fn restore_cmd(_a: &RestoreArgs) -> Result<()> {
    Err(no_criu("restoring"))
}

#[derive(Args, Debug)]
pub struct RunlabelArgs {
    /// The label whose value is the command to run
    #[arg(value_name = "LABEL")]
    pub label: String,
    /// The image (pulled if missing)
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Arguments appended to the label's command
    #[arg(
        value_name = "ARG",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
    /// Print the command the label would run, run nothing
    #[arg(long)]
    pub display: bool,
    /// The name put for NAME in the command (default: the image's base name)
    #[arg(short, long)]
    pub name: Option<String>,
    /// Print nothing while pulling the image
    #[arg(short, long)]
    pub quiet: bool,
    /// Remove a container of that name first
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

/// The runlabel command as podman 4.3 makes it: the label's value with the
/// ARGs appended, split as a shell would; IMAGE and NAME words (and $IMAGE,
/// ${IMAGE}, $NAME, ${NAME} inside words) substituted; then $PWD and
/// $OPT1..3 expanded (any other $VAR becomes empty, as Go's os.Expand).
fn runlabel_command(label: &str, args: &[String], image: &str, name: &str) -> Result<Vec<String>> {
    let mut text = label.to_string();
    if !args.is_empty() {
        text = format!("{text} {}", args.join(" "));
    }
    let words = crate::systemd::split_words(&text)
        .with_context(|| format!("splitting the label's command {text:?}"))?;
    let words: Vec<String> = words
        .into_iter()
        .map(|w| match w.as_str() {
            "IMAGE" => image.to_string(),
            "NAME" => name.to_string(),
            _ => w
                .replace("${NAME}", name)
                .replace("$NAME", name)
                .replace("${IMAGE}", image)
                .replace("$IMAGE", image),
        })
        .collect();
    let joined = go_expand(&words.join(" "), |k| match k {
        "PWD" => std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        "OPT1" | "OPT2" | "OPT3" => std::env::var(k).unwrap_or_default(),
        _ => String::new(),
    });
    crate::systemd::split_words(&joined).with_context(|| format!("splitting {joined:?}"))
}

/// Go's os.Expand: $NAME and ${NAME} replaced by `f(NAME)`.
fn go_expand(s: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(body) = after.strip_prefix('{') {
            if let Some(end) = body.find('}') {
                out.push_str(&f(&body[..end]));
                rest = &body[end + 1..];
                continue;
            }
            // Go drops a bad ${ syntax.
            rest = body;
            continue;
        }
        let n = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if n == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&f(&after[..n]));
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// `rpod container runlabel LABEL IMAGE [ARG...]`: run (or `--display`)
/// the command in the image's label LABEL, as podman does; a leading
/// `podman` or `/usr/bin/podman` runs rpod itself. The command's exit code
/// is rpod's.
pub(super) fn runlabel_cmd(g: &GlobalOpts, a: &RunlabelArgs) -> Result<()> {
    // Unpacking a pulled image needs our user namespace.
    crate::userns::enter()?;
    let opts: Options = g.into();
    let pull = crate::image::PullOptions {
        registry: (&a.registry).into(),
        platform: (&PlatformOpts::default()).into(),
    };
    let progress = super::image_cmds::PullReporter::new(a.quiet);
    let rec = crate::image::ensure_image(
        &opts,
        &a.image,
        crate::image::PullPolicy::Missing,
        &pull,
        &progress,
    )?;
    let store = crate::storage::Store::open(&opts)?;
    let labels = crate::image::labels(&store, &rec);
    let Some(value) = labels
        .get(&a.label)
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
    else {
        bail!(
            "cannot find the value of label: {} in image: {}",
            a.label,
            a.image
        );
    };
    // The image's newest name, else its id.
    let image_name = rec.names.first().cloned().unwrap_or_else(|| rec.id.clone());
    let name = match &a.name {
        Some(n) => n.clone(),
        None => {
            let base = if rec.id.starts_with(&a.image) {
                &image_name
            } else {
                &a.image
            };
            let last = base.rsplit('/').next().unwrap_or(base);
            last.split(':').next().unwrap_or(last).to_string()
        }
    };
    let mut cmd = runlabel_command(value, &a.args, &image_name, &name)?;
    if cmd.is_empty() {
        bail!(
            "the label {} of image {} is an empty command",
            a.label,
            a.image
        );
    }
    let podman = cmd[0] == "podman" || cmd[0] == "/usr/bin/podman";
    if a.display {
        // As podman: the command as typed (rpod's argv[0] for podman).
        let mut shown = cmd.clone();
        if podman {
            shown[0] = std::env::args().next().unwrap_or_else(|| "rpod".into());
        }
        writeln!(std::io::stdout().lock(), "command: {}", shown.join(" "))?;
        return Ok(());
    }
    if podman {
        cmd[0] = crate::sys::exe::real_exe().display().to_string();
    }
    if a.replace {
        let paths = Paths::new(&opts)?;
        if record::resolve(&paths, &name).is_ok() {
            super::pod::run_self(
                &["rm".into(), "--force".into(), name.clone()],
                &format!("replacing container {name}"),
            )?;
        }
    }
    let status = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .env("PODMAN_RUNLABEL_NESTED", "1")
        .status()
        .with_context(|| format!("running {}", cmd[0]))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(c) => Err(super::exit::exit_status(c)),
        None => Err(super::exit::exit_status(126)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runlabel_substitutes_image_name_and_args() {
        let c = runlabel_command(
            "podman run --name NAME -e X=$NAME:${IMAGE} IMAGE echo",
            &["hi".into(), "there".into()],
            "localhost:5000/a:1",
            "a",
        )
        .unwrap();
        assert_eq!(
            c,
            [
                "podman",
                "run",
                "--name",
                "a",
                "-e",
                "X=a:localhost:5000/a:1",
                "localhost:5000/a:1",
                "echo",
                "hi",
                "there"
            ]
        );
    }

    #[test]
    fn go_expand_as_os_expand() {
        let f = |k: &str| {
            if k == "PWD" {
                "/w".to_string()
            } else {
                String::new()
            }
        };
        assert_eq!(go_expand("a $PWD ${PWD}/x $NOPE b$", f), "a /w /w/x  b$");
    }

    /// clone's resource flags are run's (one definition): the same names,
    /// value names and help in both commands' --help.
    #[test]
    fn clone_and_run_share_their_resource_flags() {
        use clap::CommandFactory;
        let cli = super::super::Cli::command();
        let run = cli.find_subcommand("run").unwrap();
        let clone = cli
            .find_subcommand("container")
            .and_then(|c| c.find_subcommand("clone"))
            .unwrap();
        let shared = <super::super::container::ResourceOpts as clap::Args>::augment_args(
            clap::Command::new("shared"),
        );
        let ids: Vec<&str> = shared
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .collect();
        assert!(
            ids.contains(&"memory") && ids.contains(&"cpu_shares"),
            "{ids:?}"
        );
        for id in ids {
            let of = |c: &clap::Command| {
                let a = c
                    .get_arguments()
                    .find(|a| a.get_id() == id)
                    .unwrap_or_else(|| panic!("{} has no {id}", c.get_name()));
                (
                    a.get_long().map(String::from),
                    a.get_short(),
                    a.get_value_names().map(|v| v.to_vec()),
                    a.get_help().map(|h| h.to_string()),
                )
            };
            assert_eq!(of(run), of(clone), "{id}");
        }
    }

    /// Every resource flag given to clone is handed on, replacing the
    /// original's, with its value as given.
    #[test]
    fn clone_hands_on_the_resource_flags_given() {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: CloneArgs,
        }
        use clap::Parser;
        let t = T::try_parse_from([
            "t",
            "-c",
            "512",
            "--cpus",
            "1.5",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpu-rt-runtime",
            "-5",
            "--blkio-weight",
            "300",
            "--device-read-bps",
            "/dev/sda:1mb",
            "--device-read-bps",
            "/dev/sdb:2mb",
            "orig",
        ])
        .unwrap();
        assert_eq!(t.a.container, "orig");
        let r: Vec<(&str, String)> = t.a.resources();
        let want: Vec<(&str, String)> = vec![
            ("blkio-weight", "300".into()),
            ("cpu-rt-runtime", "-5".into()),
            ("cpu-shares", "512".into()),
            ("cpus", "1.5".into()),
            ("memory", "64m".into()),
            ("memory-swap", "-1".into()),
            ("device-read-bps", "/dev/sda:1mb".into()),
            ("device-read-bps", "/dev/sdb:2mb".into()),
        ];
        assert_eq!(r, want);
        // run's check of the weight applies to clone too.
        assert!(T::try_parse_from(["t", "--blkio-weight", "x", "orig"]).is_err());
    }
}
