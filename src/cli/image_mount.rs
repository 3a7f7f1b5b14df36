//! `image mount`, `image unmount` (`umount`), and `image sign` / `image
//! trust`, which rpod refuses: it neither makes nor checks signatures yet.

use super::GlobalOpts;
use crate::image::mount as imount;
use crate::options::Options;
use crate::storage::Store;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ImageMountArgs {
    /// Mount every image
    #[arg(short, long)]
    pub all: bool,
    /// Print the mounted images in this format: json
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Images to mount (none: list the mounted images)
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ImageUnmountArgs {
    /// Unmount every mounted image
    #[arg(short, long)]
    pub all: bool,
    /// Unmount even if the image is mounted more than once
    #[arg(short, long)]
    pub force: bool,
    /// Images to unmount
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SignArgs {
    /// Sign every manifest of a manifest list
    #[arg(short, long)]
    pub all: bool,
    /// Path of the authentication file
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Directory of certificates for the registry
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Where to write the signatures
    #[arg(short, long, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// The GPG key to sign with
    #[arg(long, value_name = "KEY")]
    pub sign_by: Option<String>,
    /// Images to sign
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Show the trust policy
    Show(TrustShowArgs),
    /// Set the trust policy of a registry or repository
    Set(TrustSetArgs),
}

#[derive(Args, Debug, Clone)]
pub struct TrustShowArgs {
    /// Output as JSON
    #[arg(short, long)]
    pub json: bool,
    /// Show the policy file as it is
    #[arg(long)]
    pub raw: bool,
    /// Show only the registries
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Policy file to read
    #[arg(long, value_name = "FILE")]
    pub policypath: Option<PathBuf>,
    /// Registry or repository to show
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct TrustSetArgs {
    /// Public key files for signedBy
    #[arg(long = "pubkeysfile", short = 'f', value_name = "FILE")]
    pub pubkeysfile: Vec<PathBuf>,
    /// Policy type: accept, reject or signedBy
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Policy file to write
    #[arg(long, value_name = "FILE")]
    pub policypath: Option<PathBuf>,
    /// Registry or repository to set the policy of
    #[arg(value_name = "REGISTRY")]
    pub registry: String,
}

fn require_unshare(verb: &str) -> Result<()> {
    if !crate::userns::in_child_userns() {
        bail!(
            "cannot run command \"rpod image {verb}\" in rootless mode, must execute `rpod unshare` first"
        );
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct MountRow {
    id: String,
    #[serde(rename = "Names")]
    names: Vec<String>,
    #[serde(rename = "Repositories")]
    repositories: Vec<String>,
    mountpoint: String,
}

/// `image mount`.
pub fn mount_cmd(g: &GlobalOpts, a: &ImageMountArgs) -> Result<()> {
    require_unshare("mount")?;
    let json = match a.format.as_deref() {
        None | Some("") => false,
        Some(f) if super::format::is_json(f) => true,
        Some(f) => bail!("unknown --format argument: {f:?}"),
    };
    if a.all && !a.images.is_empty() {
        bail!("when using the --all switch, you may not pass any image names or IDs");
    }
    let opts: Options = g.into();
    let store = Store::open(&opts)?;
    let mut out = std::io::stdout().lock();
    if !a.images.is_empty() {
        let mut last = None;
        for name in &a.images {
            match imount::mount(&store, name) {
                Ok(p) => writeln!(out, "{}", p.display())?,
                Err(e) => {
                    if let Some(prev) = last.replace(e) {
                        eprintln!("Error: {prev:#}");
                    }
                }
            }
        }
        return last.map_or(Ok(()), Err);
    }
    if a.all {
        for image in store.images()? {
            imount::mount(&store, &image.id)?;
        }
    }
    // With no image, or --all: the mounted images.
    let rows: Vec<MountRow> = imount::mounted(&store)?
        .into_iter()
        .map(|m| MountRow {
            id: m.image.id.clone(),
            names: vec![m.image.digest.to_string()],
            repositories: m.image.names.clone(),
            mountpoint: m.mountpoint.display().to_string(),
        })
        .collect();
    if json {
        return super::format::Report::list(Some("json"), "")?
            .json_indent(b" ")
            .print(&rows);
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let name = r.repositories.first().unwrap_or(&r.id);
            format!("{name}\t{}", r.mountpoint)
        })
        .collect();
    out.write_all(super::format::tabwrite(&lines).as_bytes())?;
    Ok(())
}

/// `image unmount`, `image umount`.
pub fn unmount_cmd(g: &GlobalOpts, a: &ImageUnmountArgs) -> Result<()> {
    require_unshare("unmount")?;
    if a.all && !a.images.is_empty() {
        bail!("when using the --all switch, you may not pass any image names or IDs");
    }
    if !a.all && a.images.is_empty() {
        bail!("image name or ID must be specified");
    }
    let store = Store::open(&g.into())?;
    let mut out = std::io::stdout().lock();
    if a.all {
        for id in imount::unmount_all(&store)? {
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    let mut last = None;
    for name in &a.images {
        match imount::unmount(&store, name, a.force) {
            Ok(Some(id)) => writeln!(out, "{id}")?,
            Ok(None) => {}
            Err(e) => {
                if let Some(prev) = last.replace(e) {
                    eprintln!("Error: {prev:#}");
                }
            }
        }
    }
    last.map_or(Ok(()), Err)
}

const NO_SIGNATURES: &str = "image signatures are not supported by rpod yet";

/// `image sign`: refused.
pub fn sign_cmd(_a: &SignArgs) -> Result<()> {
    bail!("rpod image sign: {NO_SIGNATURES}: nothing was signed");
}

/// `image trust show|set`: refused.
pub fn trust_cmd(t: &TrustCommand) -> Result<()> {
    match t {
        TrustCommand::Show(_) => bail!(
            "rpod image trust show: {NO_SIGNATURES}: rpod checks no trust policy, it pulls any image"
        ),
        TrustCommand::Set(_) => {
            bail!("rpod image trust set: {NO_SIGNATURES}: no trust policy was changed")
        }
    }
}
