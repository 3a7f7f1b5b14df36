//! The per-container monitor: a small synchronous process (a re-exec of rpod)
//! that holds the container's stdio, writes its log, records its exit code and
//! cleans up.

use crate::cli::GlobalOpts;
use anyhow::{bail, Result};

#[derive(clap::Args, Debug)]
pub struct MonitorArgs {
    /// Container id
    pub id: String,
}

pub fn main(_g: &GlobalOpts, _a: MonitorArgs) -> Result<()> {
    bail!("monitor: not implemented yet")
}
