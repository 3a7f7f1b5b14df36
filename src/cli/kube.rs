//! `rpod kube generate` (and podman 4.3's spelling `generate kube`): the
//! flags of podman's, the objects from `crate::kube`.

use super::GlobalOpts;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum KubeCommand {
    /// Generate Kubernetes YAML from containers, pods or volumes
    Generate(GenerateArgs),
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
