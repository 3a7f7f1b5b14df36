//! Rootless identity: the user namespace mapped from /etc/subuid and
//! /etc/subgid through the setuid newuidmap/newgidmap.

use crate::cli::container::UnshareArgs;
use crate::cli::GlobalOpts;
use anyhow::{bail, Result};

pub fn unshare_cmd(_g: &GlobalOpts, _a: &UnshareArgs) -> Result<()> {
    bail!("unshare: not implemented yet")
}
