//! `rpod kube generate|play|down` (and podman 4.3's spellings `generate
//! kube`, `play kube`, `play kube --down`): the flags of podman's, the
//! objects from `crate::kube`.

use super::GlobalOpts;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum KubeCommand {
    /// Generate Kubernetes YAML from containers, pods or volumes
    Generate(GenerateArgs),
    /// Create pods, containers and volumes from Kubernetes YAML
    Play(PlayArgs),
    /// Remove the pods that kube play made from the same YAML
    Down(DownArgs),
}

/// podman 4.3's `play kube`.
#[derive(Subcommand, Debug)]
pub enum PlayCommand {
    /// Create pods, containers and volumes from Kubernetes YAML (kube play)
    Kube(PlayArgs),
}

#[derive(Args, Debug, Clone)]
pub struct PlayArgs {
    /// The Kubernetes YAML: a file, - for standard input, or an http(s) URL
    #[arg(value_name = "KUBEFILE|-|URL")]
    pub file: String,
    /// Remove the pods of the YAML first, then recreate them
    #[arg(long)]
    pub replace: bool,
    /// Start the pods after creating them
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub start: bool,
    /// Tear down the pods a previous kube play of the YAML made (kube down)
    #[arg(long)]
    pub down: bool,
    /// Network mode of the pods: slirp4netns[:OPTS], pasta[:ARGS], none, host, or a network
    #[arg(long, alias = "net", value_name = "MODE")]
    pub network: Vec<String>,
    /// Publish a port of every pod, overriding the YAML's hostPort for that container port: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]
    #[arg(long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// A file of ConfigMaps for env, envFrom and configMap volumes (repeatable, or comma-separated)
    #[arg(long, value_name = "PATH", value_delimiter = ',')]
    pub configmap: Vec<PathBuf>,
    /// Logging driver of the containers (rpod writes k8s-file only)
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Do not show the progress of image pulls
    #[arg(short, long)]
    pub quiet: bool,
    /// Build images that have a build directory (DIR/NAME with a Containerfile or Dockerfile) even when they are in the store; --build=false builds none
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub build: Option<bool>,
    /// The directory that holds the build directories (default: the current directory); needs --build
    #[arg(long, value_name = "PATH")]
    pub context_dir: Option<PathBuf>,
    /// User namespace of the pods: host (rpod's own, the default)
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
}

/// A kube play build's progress: on stderr, as podman shows it.
struct BuildLines {
    quiet: bool,
    progress: super::image_cmds::PullReporter,
}

impl crate::build::BuildReport for BuildLines {
    fn line(&mut self, s: &str) {
        if !self.quiet {
            eprintln!("{s}");
        }
    }
    fn warn(&mut self, s: &str) {
        warn!("{s}");
    }
    fn pull_progress(&self) -> &dyn crate::image::PullProgress {
        &self.progress
    }
}

#[derive(Args, Debug, Clone)]
pub struct DownArgs {
    /// The Kubernetes YAML kube play was given: a file, - for standard input, or an http(s) URL
    #[arg(value_name = "KUBEFILE|-|URL")]
    pub file: String,
}

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// Containers, pods or volumes
    #[arg(value_name = "CONTAINER|POD|VOLUME", required = true)]
    pub names: Vec<String>,
    /// Also generate a Service (type NodePort) for the published ports
    #[arg(short, long)]
    pub service: bool,
    /// Write the YAML to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub filename: Option<PathBuf>,
}

pub fn kube_cmd(g: &GlobalOpts, cmd: KubeCommand) -> Result<()> {
    match cmd {
        KubeCommand::Generate(a) => generate_cmd(g, &a),
        KubeCommand::Play(a) => play_cmd(g, &a),
        KubeCommand::Down(a) => down_cmd(g, &a.file),
    }
}

pub fn play_kube_cmd(g: &GlobalOpts, cmd: PlayCommand) -> Result<()> {
    match cmd {
        PlayCommand::Kube(a) => play_cmd(g, &a),
    }
}

/// The YAML of `file` (`-`: standard input).
fn read_yaml(file: &str) -> Result<String> {
    if file == "-" {
        return crate::kube::play::read_input(std::io::stdin().lock(), "standard input");
    }
    if file.starts_with("http://") || file.starts_with("https://") {
        return crate::kube::play::fetch(file);
    }
    let f = std::fs::File::open(file).with_context(|| format!("open {file}"))?;
    crate::kube::play::read_input(f, file)
}

fn play_cmd(g: &GlobalOpts, a: &PlayArgs) -> Result<()> {
    if a.down {
        return down_cmd(g, &a.file);
    }
    match a.log_driver.as_deref() {
        None | Some("k8s-file") => {}
        Some(d) => anyhow::bail!(
            "--log-driver {d}: not supported by rpod, which writes container logs in k8s-file format only (--log-driver k8s-file)"
        ),
    }
    let network = match a.network.as_slice() {
        [] => None,
        [n] => {
            let m = crate::network::NetworkMode::parse(Some(n))?;
            if let crate::network::NetworkMode::Container(_) = m {
                anyhow::bail!("--network container:NAME is not supported for a pod");
            }
            m.check_supported()?;
            Some(m)
        }
        _ => anyhow::bail!("--network: rpod's pods join one network mode"),
    };
    for p in &a.publish {
        crate::network::ports::parse(p)?;
    }
    match a.userns.as_deref() {
        None | Some("") | Some("host") => {}
        Some(u) => anyhow::bail!(
            "--userns {u}: not supported by rpod's kube play: a pod's containers share rpod's user namespace (--userns host)"
        ),
    }
    if let Some(d) = &a.context_dir {
        if a.build != Some(true) {
            anyhow::bail!("--build must be specified when using --context-dir option");
        }
        if !d.is_dir() {
            anyhow::bail!("--context-dir {}: not a directory", d.display());
        }
    }
    let text = read_yaml(&a.file)?;
    let mut configmaps = Vec::new();
    for f in &a.configmap {
        let r = std::fs::File::open(f).with_context(|| format!("open {}", f.display()))?;
        configmaps.push(crate::kube::play::read_input(r, &f.display().to_string())?);
    }
    let o = crate::kube::play::PlayOptions {
        replace: a.replace,
        start: a.start,
        network,
        publish: a.publish.clone(),
        configmaps,
        create_command: std::env::args().collect(),
        build: a.build,
        context_dir: a.context_dir.clone(),
    };
    let opts: crate::options::Options = g.into();
    // Everything that can be checked is, before the user namespace.
    crate::kube::play::check(&opts, &text, &o)?;
    let paths = crate::container::record::Paths::new(&opts)?;
    let progress = super::image_cmds::PullReporter::new(a.quiet);
    let pull = |name: &str, policy| {
        crate::image::ensure_image(
            &opts,
            name,
            policy,
            &crate::image::PullOptions::default(),
            &progress,
        )
    };
    // A build runs in a thread of its own with a private mount namespace
    // (what `build` needs), so the containers' mounts are untouched.
    let build = |dir: &std::path::Path, image: &str| -> Result<()> {
        let tag = crate::image::normalize_local_name(image)?;
        let bo = crate::build::BuildOptions {
            context: dir.to_path_buf(),
            tags: vec![tag],
            commit_name: Some(image.to_string()),
            layers: true,
            identity_label: true,
            ..Default::default()
        };
        let opts = &opts;
        std::thread::scope(|s| {
            s.spawn(move || -> Result<()> {
                crate::userns::private_mount_ns()?;
                let mut r = BuildLines {
                    quiet: a.quiet,
                    progress: super::image_cmds::PullReporter::new(a.quiet),
                };
                crate::build::build(opts, &bo, &mut r).map(|_| ())
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the build panicked")))
        })
    };
    let report = crate::kube::play::play(&opts, &paths, &text, &o, &pull, &build)?;
    let mut out = std::io::stdout().lock();
    if !report.volumes.is_empty() {
        writeln!(out, "Volumes:")?;
        for v in &report.volumes {
            writeln!(out, "{v}")?;
        }
    }
    let mut failed = 0;
    for p in &report.pods {
        writeln!(out, "Pod:\n{}", p.id)?;
        match p.containers.len() {
            0 => continue,
            1 => writeln!(out, "Container:")?,
            _ => writeln!(out, "Containers:")?,
        }
        for c in &p.containers {
            writeln!(out, "{c}")?;
        }
        if !p.errors.is_empty() {
            writeln!(out)?;
        }
        for e in &p.errors {
            eprintln!("{e}");
        }
        failed += p.errors.len();
        writeln!(out)?;
    }
    if failed > 0 {
        anyhow::bail!("failed to start {failed} containers");
    }
    Ok(())
}

fn down_cmd(g: &GlobalOpts, file: &str) -> Result<()> {
    let text = read_yaml(file)?;
    let opts: crate::options::Options = g.into();
    let paths = crate::container::record::Paths::new(&opts)?;
    let mut r = crate::kube::play::down(&opts, &paths, &text)?;
    let mut out = std::io::stdout().lock();
    if !r.stopped.is_empty() {
        writeln!(out, "Pods stopped:")?;
        for id in &r.stopped {
            writeln!(out, "{id}")?;
        }
    }
    if !r.removed.is_empty() {
        writeln!(out, "Pods removed:")?;
        for id in &r.removed {
            writeln!(out, "{id}")?;
        }
    }
    if !r.secrets.is_empty() {
        writeln!(out, "Secrets removed:")?;
        for id in &r.secrets {
            writeln!(out, "{id}")?;
        }
    }
    let last = r.errors.pop();
    for e in r.errors {
        eprintln!("Error: {e:#}");
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

pub fn generate_cmd(g: &GlobalOpts, a: &GenerateArgs) -> Result<()> {
    let objects = crate::kube::generate(
        &g.into(),
        &a.names,
        &crate::kube::GenerateOptions { service: a.service },
    )?;
    let text = crate::kube::to_yaml(&objects)?;
    match &a.filename {
        Some(f) => {
            if f.exists() {
                anyhow::bail!("cannot write to {:?}; file exists", f.display().to_string());
            }
            crate::storage::write_atomic(f, text.as_bytes())
                .with_context(|| format!("writing {}", f.display()))
        }
        None => {
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}
