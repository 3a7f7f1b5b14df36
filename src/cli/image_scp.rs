//! `rpod image scp`: its flags, and the global flags handed on to the rpod
//! processes that save and load (the work is `crate::image::scp`).

use super::GlobalOpts;
use crate::image::scp::{self, Local, Place};
use anyhow::{Context, Result};
use clap::Args;
use std::ffi::OsString;
use std::io::Write;

#[derive(Args, Debug, Clone)]
pub struct ScpArgs {
    /// The image to copy: IMAGE, USER@localhost::IMAGE or [USER@]HOST[:PORT]::IMAGE
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// Where to copy it: USER@localhost::[NAME] or [USER@]HOST[:PORT]::[NAME]
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
    /// Suppress the output
    #[arg(short, long)]
    pub quiet: bool,
}

/// The global flags this rpod was given, for the rpod it runs as our user.
fn globals(g: &GlobalOpts) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec!["--log-level".into(), g.log_level.clone().into()];
    let mut opt = |flag: &str, val: Option<OsString>| {
        if let Some(val) = val {
            v.push(flag.into());
            v.push(val);
        }
    };
    opt("--root", g.root.clone().map(Into::into));
    opt("--runroot", g.runroot.clone().map(Into::into));
    opt("--storage-driver", g.storage_driver.clone().map(Into::into));
    opt(
        "--registries-conf",
        g.registries_conf.clone().map(Into::into),
    );
    opt("--volumepath", g.volumepath.clone().map(Into::into));
    opt("--tmpdir", g.tmpdir.clone().map(Into::into));
    opt("--events-backend", g.events_backend.clone().map(Into::into));
    for o in &g.storage_opt {
        v.push("--storage-opt".into());
        v.push(o.into());
    }
    v
}

/// Our login name as podman takes it: `$USER`, else the password database's.
fn current_user() -> Result<String> {
    if let Some(u) = std::env::var("USER").ok().filter(|u| !u.is_empty()) {
        return Ok(u);
    }
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .with_context(|| {
            format!(
                "could not obtain user {uid}, make sure the environmental variable $USER is set"
            )
        })
}

/// `rpod image scp`.
pub(super) fn scp_cmd(g: &GlobalOpts, a: &ScpArgs) -> Result<()> {
    let me = current_user()?;
    let plan = scp::plan(&a.source, a.destination.as_deref(), &me)?;
    for p in [&plan.source, &plan.dest] {
        if let Place::Remote(t) = p {
            if !t.user_given {
                // podman looks such a name up among its system connections
                // first; rpod has none.
                log::warn!(
                    "Unknown connection name given: using {t} (rpod has no system connections)"
                );
            }
        }
    }
    let local = Local {
        exe: std::env::current_exe().context("finding the rpod executable")?,
        globals: globals(g),
        user: me,
        uid: nix::unistd::geteuid().as_raw(),
        sudo_user: std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty()),
    };
    let out = scp::transfer(&plan, &local, a.quiet)?;
    let out = out.trim_end();
    if !out.is_empty() {
        writeln!(std::io::stdout().lock(), "{out}")?;
    }
    Ok(())
}
