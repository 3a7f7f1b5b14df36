//! `auto-update`: podman's table (UNIT CONTAINER IMAGE POLICY UPDATED),
//! JSON or a template, over `container::autoupdate`.

use super::format::Report;
use super::GlobalOpts;
use crate::container::autoupdate;
use crate::container::record::Paths;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AutoUpdateArgs {
    /// Path of the authentication file (default: ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Check for pending updates: change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Go back to the previous image when the new container does not run or turns unhealthy
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rollback: bool,
    /// Change the output format to JSON or a Go template
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

fn header(f: &str) -> Option<&'static str> {
    match f {
        "Unit" => Some("UNIT"),
        "Container" => Some("CONTAINER"),
        "Image" => Some("IMAGE"),
        "Policy" => Some("POLICY"),
        "Updated" => Some("UPDATED"),
        _ => None,
    }
}

pub fn auto_update_cmd(g: &GlobalOpts, a: &AutoUpdateArgs) -> Result<()> {
    let opts = g.into();
    let paths = Paths::new(&opts)?;
    let registry = super::image::RegistryOpts {
        authfile: a.authfile.clone(),
        ..Default::default()
    };
    let pull = crate::image::PullOptions {
        registry: (&registry).into(),
        platform: Default::default(),
    };
    let progress = super::image_cmds::PullReporter::new(true);
    let reports = autoupdate::auto_update(&opts, &paths, a.dry_run, a.rollback, &pull, &progress)?;
    let rows: Vec<_> = reports
        .iter()
        .map(|r| {
            json!({
                "Unit": r.unit,
                "Container": format!("{} ({})", &r.id[..12], r.name),
                "ContainerName": r.name,
                "ContainerID": r.id,
                "Image": r.image,
                "Policy": r.policy,
                "Updated": r.updated,
            })
        })
        .collect();
    let report = Report::list(
        a.format.as_deref(),
        "table {{.Unit}}\t{{.Container}}\t{{.Image}}\t{{.Policy}}\t{{.Updated}}",
    )?
    .headers(header);
    report.print(&rows)?;
    let errors: Vec<anyhow::Error> = reports
        .iter()
        .filter_map(|r| r.error.as_ref())
        .map(|e| anyhow::anyhow!("auto-updating container {}", e))
        .collect();
    match errors.len() {
        0 => Ok(()),
        _ => Err(super::exit::Several(errors).into()),
    }
}
