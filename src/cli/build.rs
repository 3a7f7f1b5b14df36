//! `rpod build` (also `image build`, `buildx build`): the flags, and
//! podman's output; the builder is `crate::build`.

use super::image::{PlatformOpts, RegistryOpts};
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
    /// Squash the new layers into one (not supported yet: refused)
    #[arg(long)]
    pub squash: bool,
    /// Squash all layers into one (not supported yet: refused)
    #[arg(long)]
    pub squash_all: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
    #[command(flatten)]
    pub platform: PlatformOpts,
}

/// `rpod buildx`: podman's alias.
#[derive(Subcommand, Debug)]
pub enum BuildxCommand {
    /// Build an image from a Containerfile
    Build(Box<BuildArgs>),
}

struct Report {
    quiet: bool,
    progress: super::image_cmds::PullReporter,
}

impl BuildReport for Report {
    fn line(&mut self, s: &str) {
        if !self.quiet {
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

pub fn build_cmd(g: &GlobalOpts, a: &BuildArgs) -> Result<()> {
    if a.squash || a.squash_all {
        bail!("--squash and --squash-all are not supported by rpod build yet");
    }
    if let Some(arch) = a.platform.arch.clone().or_else(|| {
        a.platform
            .platform
            .as_ref()
            .and_then(|p| p.split('/').nth(1).map(String::from))
    }) {
        let host = crate::build::host_arch();
        if arch != host {
            bail!("building for {arch} is not supported: this host is {host} and rpod runs RUN steps natively only");
        }
    }
    let context = a.context.clone().unwrap_or_else(|| PathBuf::from("."));
    if context.as_os_str() == "-" {
        bail!("a build context on standard input is not supported yet: give a directory");
    }
    if !context.is_dir() {
        bail!("build context {} is not a directory", context.display());
    }
    let context = std::fs::canonicalize(&context)
        .with_context(|| format!("build context {}", context.display()))?;
    let containerfile = match a.file.as_slice() {
        [] => None,
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
            platform: (&a.platform).into(),
        },
        docker: a.format.as_deref() == Some("docker"),
        network: a.network.clone(),
        timestamp,
        ignorefile: a.ignorefile.clone(),
    };
    if let Some(n) = &o.network {
        crate::network::NetworkMode::parse(Some(n))?;
    }
    let opts: crate::options::Options = g.into();
    crate::network::setup::enter_userns(&opts, o.network.as_deref())?;
    crate::userns::private_mount_ns()?;
    let mut report = Report {
        quiet: a.quiet,
        progress: super::image_cmds::PullReporter::new(a.quiet),
    };
    let built = match crate::build::build(&opts, &o, &mut report) {
        Ok(b) => b,
        Err(e) => {
            if let Some(f) = e.downcast_ref::<StepFailed>() {
                eprintln!("Error: {f}");
                return Err(super::exit::exit_status(1));
            }
            return Err(e);
        }
    };
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
