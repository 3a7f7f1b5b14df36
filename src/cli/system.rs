//! `version`, `info` and the top-level `inspect`.

use super::container::InspectArgs;
use super::GlobalOpts;
use anyhow::{bail, Result};
use std::io::Write;

pub fn version_cmd() -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "Version:      {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "OS/Arch:      linux/{}", std::env::consts::ARCH)?;
    Ok(())
}

pub fn info_cmd(_g: &GlobalOpts) -> Result<()> {
    bail!("info: not implemented yet")
}

pub fn inspect_cmd(_g: &GlobalOpts, _a: &InspectArgs) -> Result<()> {
    bail!("inspect: not implemented yet")
}
