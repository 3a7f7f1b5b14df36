//! `rpod push` and `rpod search` (also `image push`, `image search`): their
//! flags, the mapping onto `crate::image`, and podman's output.

use super::format::Report;
use super::image::RegistryOpts;
use super::GlobalOpts;
use crate::image::{
    self as img, BlobOutcome, BlobProgress, LayerCompression, PushFormat, PushProgress, PushStep,
};
use crate::options::Options;
use crate::storage::Store;
use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct PushArgs {
    /// The local image to push (name or id)
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Where to: [docker://]HOST/REPO[:TAG] (default: IMAGE as a reference)
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
    /// Manifest format: oci or v2s2 (docker) (default: the image's own)
    #[arg(short, long, value_name = "FORMAT", value_parser = ["oci", "v2s2", "docker"])]
    pub format: Option<String>,
    /// Compress layers with this algorithm: gzip or zstd (default: as stored)
    #[arg(long, value_name = "FORMAT", value_parser = ["gzip", "zstd"])]
    pub compression_format: Option<String>,
    /// Compress layers (for the dir: transport; registry layers are always compressed)
    #[arg(long)]
    pub compress: bool,
    /// Write the digest of the pushed manifest to this file
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<PathBuf>,
    /// Print nothing on the way
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not copy signatures (rpod keeps none)
    #[arg(long)]
    pub remove_signatures: bool,
    /// Sign the image with this GPG key (not supported: refused)
    #[arg(long, value_name = "KEY")]
    pub sign_by: Option<String>,
    /// Does nothing; for Docker compatibility
    #[arg(long, action = ArgAction::SetTrue)]
    pub disable_content_trust: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// What to look for: TERM, REGISTRY/TERM, or REGISTRY/ for everything
    #[arg(value_name = "TERM")]
    pub term: String,
    /// Filter the results: stars=N, is-official=BOOL, is-automated=BOOL
    #[arg(short = 'f', long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format the results with a Go template, or json
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The most results per registry
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub limit: usize,
    /// List the tags of the repository TERM
    #[arg(long)]
    pub list_tags: bool,
    /// Do not truncate descriptions
    #[arg(long)]
    pub no_trunc: bool,
    /// Require HTTPS and verify certificates (default: true, or as registries.conf says)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Path of the authentication file (default: ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Credentials (USERNAME[:PASSWORD]) to use for the registry
    #[arg(long, value_name = "USER[:PASS]", hide_env_values = true)]
    pub creds: Option<String>,
    /// Directory with certificates (*.crt, *.cert, *.key) to talk to the registry
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Also show the stars, official and automated columns, as Docker does
    #[arg(long)]
    pub compatible: bool,
}

// ---- push ----

/// `rpod push`.
pub fn push_cmd(g: &GlobalOpts, a: &PushArgs) -> Result<()> {
    if a.sign_by.is_some() {
        bail!("--sign-by: signing images is not supported");
    }
    let opts: Options = g.into();
    let store = Store::open(&opts)?;
    // Layers without a stored blob are read from their unpacked dirs, which
    // needs rpod's user namespace: enter it before any thread starts.
    if img::push_needs_userns(&store, &a.image, a.destination.as_deref())? {
        crate::userns::enter()?;
    }
    let po = img::PushOptions {
        registry: (&a.registry).into(),
        format: a.format.as_deref().map(|f| match f {
            "oci" => PushFormat::Oci,
            _ => PushFormat::V2s2,
        }),
        compression: a.compression_format.as_deref().map(|c| match c {
            "zstd" => LayerCompression::Zstd,
            _ => LayerCompression::Gzip,
        }),
        remove_signatures: a.remove_signatures,
    };
    if a.digestfile.is_some()
        && matches!(
            a.destination.as_deref().map(img::Destination::parse),
            Some(Ok(img::Destination::Transport { .. }))
        )
    {
        bail!("--digestfile: only a push to a registry reports a digest");
    }
    let progress = PushReporter::new(a.quiet);
    let report = img::push(
        &opts,
        &store,
        &a.image,
        a.destination.as_deref(),
        &po,
        &progress,
    )?;
    progress.finish();
    if let (Some(p), Some(d)) = (&a.digestfile, &report.digest) {
        crate::storage::write_atomic(p, d.as_bytes())
            .with_context(|| format!("writing the digest to {}", p.display()))?;
    }
    Ok(())
}

/// Shows a push on stderr as podman does: bars on a terminal, its plain
/// lines otherwise, nothing when quiet.
pub(super) struct PushReporter {
    quiet: bool,
    bars: Option<MultiProgress>,
}

impl PushReporter {
    pub(super) fn new(quiet: bool) -> PushReporter {
        let tty = std::io::stderr().is_terminal();
        PushReporter {
            quiet,
            bars: (!quiet && tty)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    pub(super) fn line(&self, msg: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(b) => {
                let _ = b.println(msg);
            }
            None => eprintln!("{msg}"),
        }
    }

    pub(super) fn finish(&self) {
        if let Some(b) = &self.bars {
            let _ = b.clear();
        }
    }
}

fn short_digest(d: &str) -> String {
    let hex = d.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

impl PushProgress for PushReporter {
    fn step(&self, step: PushStep<'_>) {
        match step {
            PushStep::GettingSignatures => self.line("Getting image source signatures"),
            PushStep::Blob(d, outcome) => match (&self.bars, outcome) {
                // The bar said it.
                (Some(_), BlobOutcome::Uploaded) => {}
                (Some(_), _) => self.line(&format!(
                    "Copying blob {} skipped: already exists",
                    short_digest(d)
                )),
                (None, _) => self.line(&format!("Copying blob {d}")),
            },
            PushStep::Config(d) => self.line(&format!("Copying config {d}")),
            PushStep::WritingManifest => self.line("Writing manifest to image destination"),
            PushStep::StoringSignatures => self.line("Storing signatures"),
        }
    }

    fn blob(&self, digest: &str, size: u64) -> Box<dyn BlobProgress + '_> {
        let bar = self.bars.as_ref().map(|b| {
            let bar = b.add(ProgressBar::new(size));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>19} [{bar:30}] {bytes}/{total_bytes} {msg}")
                    .unwrap()
                    .progress_chars("=> "),
            );
            bar.set_prefix(short_digest(digest));
            bar
        });
        Box::new(PushBar { bar })
    }
}

struct PushBar {
    bar: Option<ProgressBar>,
}

impl BlobProgress for PushBar {
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }
    fn restart(&self) {
        if let Some(b) = &self.bar {
            b.set_position(0);
        }
    }
    fn done(&self) {
        if let Some(b) = &self.bar {
            b.set_length(b.position());
            b.finish_with_message("done");
        }
    }
}

// ---- search ----

/// A `--filter` of search.
struct SearchFilter {
    stars: u64,
    official: Option<bool>,
    automated: Option<bool>,
}

fn search_filter(filters: &[String]) -> Result<SearchFilter> {
    let mut f = SearchFilter {
        stars: 0,
        official: None,
        automated: None,
    };
    for s in filters {
        let (k, v) = s
            .split_once('=')
            .with_context(|| format!("invalid filter {s:?}: want KEY=VALUE"))?;
        let b = || -> Result<bool> {
            v.parse()
                .with_context(|| format!("invalid filter {s:?}: {v:?} is not true or false"))
        };
        match k {
            "stars" => {
                f.stars = v
                    .parse()
                    .with_context(|| format!("invalid filter {s:?}: {v:?} is not a number"))?
            }
            "is-official" => f.official = Some(b()?),
            "is-automated" => f.automated = Some(b()?),
            _ => bail!("invalid filter {s:?}: stars, is-official or is-automated"),
        }
    }
    Ok(f)
}

/// `rpod search`.
pub fn search_cmd(g: &GlobalOpts, a: &SearchArgs) -> Result<()> {
    let filter = search_filter(&a.filter)?;
    let ro = RegistryOpts {
        authfile: a.authfile.clone(),
        cert_dir: a.cert_dir.clone(),
        tls_verify: a.tls_verify,
        creds: a.creds.clone(),
    };
    let so = img::SearchOptions {
        registry: (&ro).into(),
        limit: a.limit,
        list_tags: a.list_tags,
    };
    let results = img::search(&g.into(), &a.term, &so)?;
    let results: Vec<&img::SearchResult> = results
        .iter()
        .filter(|r| {
            r.stars >= filter.stars
                && filter.official.map_or(true, |o| o == r.official)
                && filter.automated.map_or(true, |o| o == r.automated)
        })
        .collect();
    let ok = |b: bool| if b { "[OK]" } else { "" };
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let mut desc = r.description.replace('\n', " ");
            if !a.no_trunc && desc.chars().count() > 44 {
                desc = desc.chars().take(44).collect::<String>() + "...";
            }
            serde_json::json!({
                "Index": r.index,
                "Name": r.name,
                "Description": desc,
                "Stars": r.stars,
                "Official": ok(r.official),
                "Automated": ok(r.automated),
                "Tag": r.tag,
            })
        })
        .collect();
    let default = if a.list_tags {
        "table {{.Name}}\t{{.Tag}}"
    } else if a.compatible {
        "table {{.Name}}\t{{.Description}}\t{{.Stars}}\t{{.Official}}\t{{.Automated}}"
    } else {
        "table {{.Name}}\t{{.Description}}"
    };
    Report::list(a.format.as_deref(), default)?
        .headers(|f| {
            Some(match f {
                "Name" => "NAME",
                "Description" => "DESCRIPTION",
                "Stars" => "STARS",
                "Official" => "OFFICIAL",
                "Automated" => "AUTOMATED",
                "Tag" => "TAG",
                "Index" => "INDEX",
                _ => return None,
            })
        })
        // podman prints nothing at all, not even the header, when nothing matched.
        .noheading(rows.is_empty())
        .print(&rows)
}
