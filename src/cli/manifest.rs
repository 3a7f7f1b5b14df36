//! `rpod manifest …`: podman 4.3's manifest list commands, their flags and
//! output. The lists themselves are `crate::image::manifest_list`'s.

use super::image::RegistryOpts;
use super::image_cmds::PullReporter;
use super::push::PushReporter;
use super::GlobalOpts;
use crate::image::manifest_list::{self as ml, InstanceEdit, ListPushOptions, ListPushProgress};
use crate::image::{
    self as img, BlobProgress, PullProgress, PullStep, PushFormat, PushProgress, PushStep,
};
use crate::options::Options;
use crate::storage::Store;
use anyhow::{Context, Result};
use clap::{ArgAction, Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ManifestCommand {
    /// Create a manifest list or image index
    Create(CreateArgs),
    /// Add an image to a manifest list or image index
    Add(AddArgs),
    /// Add or update information about an entry in a manifest list or image index
    Annotate(AnnotateArgs),
    /// Display the contents of a manifest list or image index
    Inspect(InspectArgs),
    /// Remove an entry from a manifest list or image index
    Remove(RemoveArgs),
    /// Remove manifest lists or image indexes from local storage
    Rm(RmArgs),
    /// Exit 0 if the manifest list exists, 1 if not
    Exists(ExistsArgs),
    /// Push a manifest list or image index to a registry
    Push(PushArgs),
}

/// Only --tls-verify of the registry flags (as podman's create and inspect).
#[derive(Args, Debug, Clone)]
pub struct TlsVerifyOpt {
    /// Require HTTPS and verify certificates (default: true, or as registries.conf says)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub tls_verify: Option<bool>,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// The name of the new list
    #[arg(value_name = "LIST")]
    pub list: String,
    /// Images to add (from their registry; containers-storage:IMAGE for a local one)
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Add all of the images of an image that is itself a list
    #[arg(long)]
    pub all: bool,
    /// Modify the list if one of that name exists
    #[arg(short, long)]
    pub amend: bool,
    #[command(flatten)]
    pub tls: TlsVerifyOpt,
}

/// The platform and annotations an entry gets (add and annotate).
#[derive(Args, Debug, Clone, Default)]
pub struct EntryOpts {
    /// Set an annotation on the entry: KEY=VALUE
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Override the architecture of the entry
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Override the features of the entry
    #[arg(long, value_name = "FEATURES", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Override the operating system of the entry
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Override the OS features of the entry
    #[arg(long, value_name = "FEATURES", value_delimiter = ',')]
    pub os_features: Vec<String>,
    /// Override the OS version of the entry
    #[arg(long, value_name = "VERSION")]
    pub os_version: Option<String>,
    /// Override the architecture variant of the entry
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
}

impl From<&EntryOpts> for InstanceEdit {
    fn from(e: &EntryOpts) -> Self {
        InstanceEdit {
            arch: e.arch.clone(),
            os: e.os.clone(),
            os_version: e.os_version.clone(),
            os_features: e.os_features.clone(),
            variant: e.variant.clone(),
            features: e.features.clone(),
            annotations: e.annotation.clone(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct AddArgs {
    /// The list to add to
    #[arg(value_name = "LIST")]
    pub list: String,
    /// The image to add (from its registry; containers-storage:IMAGE for a local one)
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Add all of the images of IMAGE when it is itself a list
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub entry: EntryOpts,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

#[derive(Args, Debug, Clone)]
pub struct AnnotateArgs {
    /// The list
    #[arg(value_name = "LIST")]
    pub list: String,
    /// The digest of the entry to change
    #[arg(value_name = "DIGEST")]
    pub digest: String,
    #[command(flatten)]
    pub entry: EntryOpts,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// A local list, or an image index in a registry
    #[arg(value_name = "LIST")]
    pub list: String,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

#[derive(Args, Debug, Clone)]
pub struct RemoveArgs {
    /// The list
    #[arg(value_name = "LIST")]
    pub list: String,
    /// The digest of the entry to remove
    #[arg(value_name = "DIGEST")]
    pub digest: String,
}

#[derive(Args, Debug, Clone)]
pub struct RmArgs {
    /// The lists to remove (their images stay)
    #[arg(value_name = "LIST", required = true)]
    pub lists: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ExistsArgs {
    /// The list
    #[arg(value_name = "LIST")]
    pub list: String,
}

#[derive(Args, Debug, Clone)]
pub struct PushArgs {
    /// The local list to push
    #[arg(value_name = "LIST")]
    pub list: String,
    /// Where to: [docker://]HOST/REPO[:TAG]
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
    /// Push the images of the list too, not only the list (--all=false: the list only)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value_t = true, default_missing_value = "true", action = ArgAction::Set)]
    pub all: bool,
    /// Compress layers made again with this algorithm: gzip or zstd (default: as stored)
    #[arg(long, value_name = "FORMAT", value_parser = ["gzip", "zstd"])]
    pub compression_format: Option<String>,
    /// Sign the images with this GPG key (not supported: refused)
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by: Option<String>,
    /// Remove the local list once it is pushed
    #[arg(long)]
    pub rm: bool,
    /// Manifest format: oci or v2s2 (default: oci unless every image is v2s2)
    #[arg(short, long, value_name = "FORMAT", value_parser = ["oci", "v2s2", "docker"])]
    pub format: Option<String>,
    /// Write the digest of the pushed list to this file
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<PathBuf>,
    /// Print nothing on the way
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not copy signatures (rpod keeps none)
    #[arg(long)]
    pub remove_signatures: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

pub fn manifest_cmd(g: &GlobalOpts, cmd: ManifestCommand) -> Result<()> {
    let opts: Options = g.into();
    let store = Store::open(&opts)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        ManifestCommand::Create(a) => {
            let reg = img::RegistryOptions {
                tls_verify: a.tls.tls_verify,
                ..Default::default()
            };
            let rec = ml::create_with(&opts, &store, &a.list, &a.images, a.all, a.amend, &reg)?;
            writeln!(out, "{}", rec.id)?;
        }
        ManifestCommand::Add(a) => {
            let rec = ml::add(
                &opts,
                &store,
                &a.list,
                &a.image,
                a.all,
                &(&a.entry).into(),
                &(&a.registry).into(),
            )?;
            writeln!(out, "{}", rec.id)?;
        }
        ManifestCommand::Annotate(a) => {
            let rec = ml::annotate(&store, &a.list, &a.digest, &(&a.entry).into())?;
            writeln!(out, "{}", rec.id)?;
        }
        ManifestCommand::Inspect(a) => {
            let json = ml::inspect(&opts, &store, &a.list, &(&a.registry).into())?;
            out.write_all(&json)?;
            writeln!(out)?;
        }
        ManifestCommand::Remove(a) => {
            let rec = ml::remove(&store, &a.list, &a.digest)?;
            writeln!(out, "{}", rec.id)?;
        }
        ManifestCommand::Rm(a) => {
            let mut errors = Vec::new();
            for l in &a.lists {
                match ml::remove_list(&store, l) {
                    Ok(rec) => {
                        for n in &rec.names {
                            writeln!(out, "Untagged: {n}")?;
                        }
                        writeln!(out, "Deleted: {}", rec.id)?;
                    }
                    Err(e) => errors.push(e),
                }
            }
            out.flush()?;
            match errors.len() {
                0 => {}
                1 => return Err(errors.remove(0)),
                _ => return Err(super::exit::Several(errors).into()),
            }
        }
        ManifestCommand::Exists(a) => {
            if !ml::exists(&store, &a.list)? {
                return Err(super::exit::exit_status(1));
            }
        }
        ManifestCommand::Push(a) => push_cmd(&opts, &store, &a)?,
    }
    Ok(())
}

fn push_cmd(opts: &Options, store: &Store, a: &PushArgs) -> Result<()> {
    if a.sign_by.is_some() {
        anyhow::bail!("--sign-by: signing images is not supported");
    }
    // Images pulled or layers read from their unpacked dirs need rpod's
    // user namespace: entered before any thread starts.
    if ml::push_needs_userns(store, &a.list, a.all)? {
        crate::userns::enter()?;
    }
    let o = ListPushOptions {
        push: img::PushOptions {
            registry: (&a.registry).into(),
            format: a.format.as_deref().map(|f| match f {
                "oci" => PushFormat::Oci,
                _ => PushFormat::V2s2,
            }),
            compression: a.compression_format.as_deref().map(|c| match c {
                "zstd" => img::LayerCompression::Zstd,
                _ => img::LayerCompression::Gzip,
            }),
            remove_signatures: a.remove_signatures,
        },
        all: a.all,
        rm: a.rm,
    };
    let dest = a.destination.as_str();
    let progress = ListReporter {
        push: PushReporter::new(a.quiet),
        pull: PullReporter::new(a.quiet),
    };
    let digest = ml::push(opts, store, &a.list, dest, &o, &progress)?;
    progress.push.finish();
    if let Some(p) = &a.digestfile {
        crate::storage::write_atomic(p, digest.to_string().as_bytes())
            .with_context(|| format!("writing the digest to {}", p.display()))?;
    }
    Ok(())
}

/// A list push's lines: podman's list lines, and each image's push (and,
/// for an image not local, pull) lines.
struct ListReporter {
    push: PushReporter,
    pull: PullReporter,
}

impl PushProgress for ListReporter {
    fn step(&self, step: PushStep<'_>) {
        self.push.step(step)
    }
    fn blob(&self, digest: &str, size: u64) -> Box<dyn BlobProgress + '_> {
        PushProgress::blob(&self.push, digest, size)
    }
}

impl PullProgress for ListReporter {
    fn step(&self, step: PullStep<'_>) {
        self.pull.step(step)
    }
    fn downloading(&self, total_bytes: u64) {
        self.pull.downloading(total_bytes)
    }
    fn blob(&self, digest: &str, size: u64) -> Box<dyn BlobProgress + '_> {
        PullProgress::blob(&self.pull, digest, size)
    }
    fn downloaded(&self) {
        self.pull.downloaded()
    }
}

impl ListPushProgress for ListReporter {
    fn list_line(&self, line: &str) {
        self.push.line(line)
    }
}
