//! `rpod build` (also `image build`, `buildx build`): the flags, and
//! podman's output; the builder is `crate::build`.

use super::image::{PlatformOpts, PlatformParts, RegistryOpts};
use super::GlobalOpts;
use crate::build::{BuildOptions, BuildReport, StepFailed};
use crate::image::PullProgress;
use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args, Subcommand};
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    /// The build context: a directory (default: the current one)
    #[arg(value_name = "CONTEXT")]
    pub context: Option<PathBuf>,
    /// Name for the built image (repeatable)
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// The Containerfile (default: CONTEXT/Containerfile, then CONTEXT/Dockerfile; - reads standard input)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Vec<String>,
    /// ARG value for the build, KEY=VALUE (KEY alone: from the environment; repeatable)
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_arg: Vec<String>,
    /// A file of KEY=VALUE lines of build args
    #[arg(long = "build-arg-file", value_name = "PATH")]
    pub build_arg_file: Vec<PathBuf>,
    /// Build up to this stage (its name)
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Run every step: do not use the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// Keep an image per step and use them as a cache (default true)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true",
          default_missing_value = "true", action = ArgAction::Set)]
    pub layers: bool,
    /// When to pull base images: always, missing, never or newer (--pull alone: always)
    #[arg(long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "always",
          require_equals = true)]
    pub pull: Option<String>,
    /// Pull base images always (podman's --pull-always)
    #[arg(long)]
    pub pull_always: bool,
    /// Pull base images never (podman's --pull-never)
    #[arg(long)]
    pub pull_never: bool,
    /// Image format: oci or docker (also $BUILDAH_FORMAT)
    #[arg(long, value_name = "FORMAT", env = "BUILDAH_FORMAT", value_parser = ["oci", "docker"])]
    pub format: Option<String>,
    /// Label for the image, KEY=VALUE (repeatable)
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Write the image id to this file
    #[arg(long, value_name = "PATH")]
    pub iidfile: Option<PathBuf>,
    /// The network of RUN steps: none, host, slirp4netns, pasta (default: the rootless default)
    #[arg(long, visible_alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// Seconds since the epoch for every time in the image: same input, same image id (default: $SOURCE_DATE_EPOCH)
    #[arg(long, value_name = "SECONDS")]
    pub timestamp: Option<i64>,
    /// The ignore file (default: CONTEXT/.containerignore, then CONTEXT/.dockerignore)
    #[arg(long, value_name = "PATH")]
    pub ignorefile: Option<PathBuf>,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Remove intermediate containers (always: rpod keeps none)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true",
          default_missing_value = "true", action = ArgAction::Set)]
    pub rm: bool,
    /// Remove intermediate containers also after a failure (always)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true",
          default_missing_value = "true", action = ArgAction::Set)]
    pub force_rm: bool,
    /// Squash the layers the build makes into one new layer over the base image's
    #[arg(long)]
    pub squash: bool,
    /// Squash all layers, the base image's too, into one
    #[arg(long)]
    pub squash_all: bool,
    /// A secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR (repeatable)
    #[arg(long, value_name = "id=ID,src=PATH")]
    pub secret: Vec<String>,
    /// Bind mount for RUN steps, HOST-DIR:CONTAINER-DIR[:OPTIONS] (repeatable)
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:OPTS]")]
    pub volume: Vec<String>,
    /// Add a capability to RUN steps (repeatable)
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability from RUN steps (repeatable)
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security options for RUN steps: seccomp=, no-new-privileges, mask=, unmask=, label=, apparmor= (repeatable)
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Ulimit for RUN steps, NAME=SOFT[:HARD] (repeatable)
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// User namespace of RUN steps: host (rpod's own, the default; nothing else works rootless)
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Also write the image's files: type=local,dest=DIR (or DIR), type=tar,dest=FILE (- for standard output)
    #[arg(short = 'o', long, value_name = "type=local,dest=DIR")]
    pub output: Option<String>,
    /// Write the build's output (stdout and stderr) to this file
    #[arg(long, value_name = "PATH")]
    pub logfile: Option<PathBuf>,
    /// Stages to build at once: independent stages of a multi-stage build run in parallel (1: one after the other; 0: no limit)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: u32,
    /// SSH agent socket or keys for RUN --mount=type=ssh (not supported: refused)
    #[arg(long, value_name = "default|ID=PATH")]
    pub ssh: Vec<String>,
    /// Annotation for the image's manifest, KEY=VALUE (repeatable)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Label the images with io.rpod.version (default true)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true",
          default_missing_value = "true", action = ArgAction::Set)]
    pub identity_label: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
    #[command(flatten)]
    pub platform: BuildPlatformOpts,
}

/// build's platform flags. podman builds once per platform given (repeated
/// or comma-separated); rpod runs RUN steps natively, so every platform
/// given must be this host's, and none is dropped silently.
#[derive(Args, Debug, Clone, Default)]
pub struct BuildPlatformOpts {
    /// Platforms to build for, OS/ARCH[/VARIANT] (repeated or comma-separated; each must be this host's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_delimiter = ',', action = ArgAction::Append)]
    pub platform: Vec<String>,
    #[command(flatten)]
    pub parts: PlatformParts,
}

impl BuildPlatformOpts {
    /// The one platform rpod can build for, after checking that every
    /// platform given is this host's.
    fn checked(&self) -> Result<PlatformOpts> {
        let host = crate::build::host_arch();
        let mut arches: Vec<String> = self.parts.arch.iter().cloned().collect();
        for p in &self.platform {
            let arch = p
                .split('/')
                .nth(1)
                .filter(|a| !a.is_empty())
                .with_context(|| format!("invalid platform {p:?}: use OS/ARCH[/VARIANT]"))?;
            arches.push(arch.to_string());
        }
        if let Some(arch) = arches.iter().find(|a| **a != host) {
            bail!("building for {arch} is not supported: this host is {host} and rpod runs RUN steps natively only");
        }
        Ok(PlatformOpts {
            platform: self.platform.first().cloned(),
            parts: self.parts.clone(),
        })
    }
}

/// `rpod buildx`: podman's alias.
#[derive(Subcommand, Debug)]
pub enum BuildxCommand {
    /// Build an image from a Containerfile
    Build(Box<BuildArgs>),
}

struct Report {
    quiet: bool,
    /// The lines go to stderr (stdout carries the --output tar).
    to_stderr: bool,
    progress: super::image_cmds::PullReporter,
}

impl BuildReport for Report {
    fn line(&mut self, s: &str) {
        if self.quiet {
        } else if self.to_stderr {
            eprintln!("{s}");
        } else {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{s}");
            let _ = o.flush();
        }
    }
    fn warn(&mut self, s: &str) {
        warn!("{s}");
    }
    fn pull_progress(&self) -> &dyn PullProgress {
        &self.progress
    }
}

fn kv(s: &str, what: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("invalid {what} {s:?}: use KEY=VALUE"),
    }
}

/// `--secret id=ID,src=PATH` (also `type=file`, or `env=VAR`).
fn parse_secret(s: &str) -> Result<crate::build::Secret> {
    use crate::build::{Secret, SecretSource};
    let mut id = None;
    let mut src = None;
    let mut env = None;
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("id", v)) if !v.is_empty() => id = Some(v.to_string()),
            Some(("src" | "source", v)) if !v.is_empty() => src = Some(v.to_string()),
            Some(("env", v)) if !v.is_empty() => env = Some(v.to_string()),
            Some(("type", "file" | "env")) => {}
            _ => bail!("invalid --secret {s:?}: use id=ID,src=PATH or id=ID,env=VAR"),
        }
    }
    let id = id.with_context(|| format!("invalid --secret {s:?}: id= is required"))?;
    let source = match (src, env) {
        (Some(p), None) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                bail!("--secret {id}: {} is not a file", p.display());
            }
            SecretSource::File(std::fs::canonicalize(&p)?)
        }
        (None, Some(v)) => SecretSource::Env(v),
        (None, None) => SecretSource::Env(id.clone()),
        _ => bail!("invalid --secret {s:?}: give src= or env=, not both"),
    };
    Ok(Secret { id, source })
}

/// A build context on standard input: a tar (maybe compressed) becomes a
/// temp dir (through the hardened extractor); anything else is the
/// Containerfile, with an empty context. The dir and the Containerfile.
fn stdin_context(
    store: &crate::storage::Store,
) -> Result<(crate::storage::TmpEntry, Option<(String, String)>)> {
    // The head tells a tar (plain, gzip or zstd) from a Containerfile; a
    // tar is streamed into the context, never held whole.
    let mut stdin = std::io::stdin().lock();
    let mut head = Vec::with_capacity(512);
    (&mut stdin)
        .take(512)
        .read_to_end(&mut head)
        .context("reading the build context from standard input")?;
    let tmp = store.tmp_entry("build-stdin", true)?;
    let ctx = tmp.path.join("context");
    std::fs::create_dir(&ctx)?;
    let compressed = head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    let tar = head.len() >= 262 && &head[257..262] == b"ustar";
    if compressed || tar {
        let all =
            std::io::BufReader::with_capacity(1 << 20, std::io::Cursor::new(head).chain(stdin));
        let r = crate::storage::decompressor(all)?;
        let dir: std::os::fd::OwnedFd = std::fs::File::open(&ctx)?.into();
        crate::storage::extract_plain(
            r,
            dir,
            crate::storage::PlainOpts {
                chown: nix::unistd::geteuid().is_root(),
                ..Default::default()
            },
        )
        .context("unpacking the build context from standard input")?;
        return Ok((tmp, None));
    }
    let mut raw = head;
    stdin
        .read_to_end(&mut raw)
        .context("reading the Containerfile from standard input")?;
    let text = String::from_utf8(raw)
        .context("standard input is neither a tar nor a Containerfile (not UTF-8)")?;
    Ok((tmp, Some(("-".to_string(), text))))
}

pub fn build_cmd(g: &GlobalOpts, a: &BuildArgs) -> Result<()> {
    if let Some(u) = a.userns.as_deref() {
        if !matches!(u, "" | "host") {
            bail!(
                "--userns={u} can not work rootless: RUN steps run in rpod's own user namespace \
                 (--userns=host); a new or other one needs privileges rpod does not have"
            );
        }
    }
    if !a.ssh.is_empty() {
        bail!("--ssh is not supported by rpod build: pass what RUN needs with --secret instead");
    }
    if a.squash && a.squash_all {
        bail!("--squash and --squash-all conflict: give one");
    }
    let output: Option<crate::build::output::Output> =
        a.output.as_deref().map(str::parse).transpose()?;
    let secrets = a
        .secret
        .iter()
        .map(|s| parse_secret(s))
        .collect::<Result<Vec<_>>>()?;
    for v in &a.volume {
        crate::container::opts::parse_volume(v)?;
    }
    crate::container::opts::parse_security_opts(&a.security_opt)?;
    for u in &a.ulimit {
        crate::runtime::spec::parse_ulimit(u)?;
    }
    if let Some(p) = &a.logfile {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .with_context(|| format!("opening the log file {}", p.display()))?;
        use std::os::fd::AsRawFd;
        for fd in [1, 2] {
            nix::unistd::dup2(f.as_raw_fd(), fd)
                .with_context(|| format!("sending the output to {}", p.display()))?;
        }
    }
    a.platform.checked()?;
    let context = a.context.clone().unwrap_or_else(|| PathBuf::from("."));
    let opts: crate::options::Options = g.into();
    let stdin_ctx = context.as_os_str() == "-";
    if stdin_ctx && a.file.iter().any(|f| f == "-") {
        bail!("the context and the Containerfile can not both come from standard input");
    }
    if !stdin_ctx && !context.is_dir() {
        bail!("build context {} is not a directory", context.display());
    }
    // In rpod's user namespace from here: a context from stdin keeps its owners.
    if let Some(n) = &a.network {
        crate::network::NetworkMode::parse(Some(n))?;
    }
    crate::network::setup::enter_userns(&opts, a.network.as_deref())?;
    crate::userns::private_mount_ns()?;
    let mut _stdin_tmp = None;
    let mut stdin_file = None;
    let context = if stdin_ctx {
        let store = crate::storage::Store::open(&opts)?;
        let (tmp, file) = stdin_context(&store)?;
        let dir = tmp.path.join("context");
        _stdin_tmp = Some(tmp);
        stdin_file = file;
        dir
    } else {
        std::fs::canonicalize(&context)
            .with_context(|| format!("build context {}", context.display()))?
    };
    let containerfile = match a.file.as_slice() {
        [] => stdin_file,
        [f] if f == "-" => {
            let mut t = String::new();
            std::io::stdin()
                .read_to_string(&mut t)
                .context("reading the Containerfile from standard input")?;
            Some(("-".to_string(), t))
        }
        [f] => {
            let t = std::fs::read_to_string(f).with_context(|| format!("reading {f}"))?;
            Some((f.clone(), t))
        }
        _ => bail!("rpod build takes one --file"),
    };
    let mut build_args = Vec::new();
    for f in &a.build_arg_file {
        let t = std::fs::read_to_string(f)
            .with_context(|| format!("reading build-arg file {}", f.display()))?;
        for l in t
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            build_args.push(kv(l, "build arg")?);
        }
    }
    for b in &a.build_arg {
        match b.split_once('=') {
            Some(_) => build_args.push(kv(b, "--build-arg")?),
            None => {
                if let Ok(v) = std::env::var(b) {
                    build_args.push((b.clone(), v));
                }
            }
        }
    }
    let tags = a
        .tags
        .iter()
        .map(|t| crate::image::normalize_local_name(t))
        .collect::<Result<Vec<_>>>()?;
    let pull = if a.pull_always {
        Some(crate::image::PullPolicy::Always)
    } else if a.pull_never {
        Some(crate::image::PullPolicy::Never)
    } else {
        match a.pull.as_deref() {
            None => None,
            Some("true") => Some(crate::image::PullPolicy::Always),
            Some("false") => Some(crate::image::PullPolicy::Missing),
            Some(p) => Some(p.parse()?),
        }
    };
    let timestamp = match a.timestamp {
        Some(t) => Some(t),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.is_empty() => Some(
                v.trim()
                    .parse()
                    .with_context(|| format!("invalid SOURCE_DATE_EPOCH {v:?}"))?,
            ),
            _ => None,
        },
    };
    let o = BuildOptions {
        context,
        containerfile,
        tags: tags.clone(),
        commit_name: a.tags.first().cloned(),
        build_args,
        target: a.target.clone(),
        labels: a
            .label
            .iter()
            .map(|l| kv(l, "--label"))
            .collect::<Result<_>>()?,
        no_cache: a.no_cache,
        layers: a.layers,
        pull,
        pull_opts: crate::image::PullOptions {
            registry: (&a.registry).into(),
            platform: (&a.platform.checked()?).into(),
        },
        docker: a.format.as_deref() == Some("docker"),
        network: a.network.clone(),
        timestamp,
        ignorefile: a.ignorefile.clone(),
        secrets,
        volumes: a.volume.clone(),
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        security_opt: a.security_opt.clone(),
        ulimits: a.ulimit.clone(),
        annotations: a
            .annotation
            .iter()
            .map(|l| kv(l, "--annotation"))
            .collect::<Result<_>>()?,
        identity_label: a.identity_label,
        jobs: a.jobs,
        squash: if a.squash_all {
            crate::build::Squash::All
        } else if a.squash {
            crate::build::Squash::New
        } else {
            crate::build::Squash::No
        },
    };
    let mut report = Report {
        quiet: a.quiet,
        to_stderr: output == Some(crate::build::output::Output::TarStdout),
        progress: super::image_cmds::PullReporter::new(a.quiet),
    };
    // With a tar on stdout, RUN steps' output goes to stderr meanwhile.
    let saved_stdout = if report.to_stderr {
        let saved = nix::unistd::dup(1).context("saving stdout")?;
        nix::unistd::dup2(2, 1).context("sending RUN output to stderr")?;
        Some(saved)
    } else {
        None
    };
    let res = crate::build::build(&opts, &o, &mut report);
    if let Some(fd) = saved_stdout {
        nix::unistd::dup2(fd, 1).context("restoring stdout")?;
        let _ = nix::unistd::close(fd);
    }
    let built = match res {
        Ok(b) => b,
        Err(e) => {
            if let Some(f) = e.downcast_ref::<StepFailed>() {
                eprintln!("Error: {f}");
                return Err(super::exit::exit_status(1));
            }
            return Err(e);
        }
    };
    if let Some(out) = &output {
        // A tar on stdout takes stdout: the build's lines went there already
        // unless -q, as podman's do.
        let mut so = std::io::stdout().lock();
        crate::build::output::export(&opts, &built.id, out, &mut so)
            .context("writing the build's --output")?;
        if *out == crate::build::output::Output::TarStdout {
            return Ok(());
        }
    }
    if let Some(p) = &a.iidfile {
        std::fs::write(p, format!("sha256:{}", built.id))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if !a.quiet {
        for t in &built.names {
            writeln!(out, "Successfully tagged {t}")?;
        }
    }
    writeln!(out, "{}", built.id)?;
    Ok(())
}
