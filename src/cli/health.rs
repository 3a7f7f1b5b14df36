//! `healthcheck run`: one run of a container's healthcheck, as podman
//! prints it (nothing and exit 0 when it passes, the status and exit 1 when
//! not). The schedule is the monitor's (`container::health`).

use super::GlobalOpts;
use crate::container::health;
use crate::container::record::Paths;
use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum HealthcheckCommand {
    /// Run a container's healthcheck once: exit 0 healthy, 1 unhealthy
    Run(HealthcheckRunArgs),
}

#[derive(Args, Debug)]
pub struct HealthcheckRunArgs {
    /// The container (name or id)
    pub container: String,
}

pub fn healthcheck_cmd(g: &GlobalOpts, c: HealthcheckCommand) -> Result<()> {
    match c {
        HealthcheckCommand::Run(a) => {
            let opts = g.into();
            let paths = Paths::new(&opts)?;
            let o = health::run(&opts, &paths, &a.container)?;
            if o.passed {
                return Ok(());
            }
            // podman: a failed run is "unhealthy", within the start period too.
            println!("{}", health::UNHEALTHY);
            Err(super::exit::exit_status(1))
        }
    }
}
