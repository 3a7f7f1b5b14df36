//! `save`, `load`, `import`, `history`, `image exists` and `image tree`:
//! their flags, and how what `crate::image::archive` does is shown, in
//! podman's words.

use super::exit::exit_status;
use super::format::Report;
use super::GlobalOpts;
use crate::image as img;
use crate::image::archive::{self, ArchiveProgress, Dest, Layout, SaveImage};
use crate::image::find_image as find;
use crate::storage::{short_id, Digest, Store};
use crate::time::{format_go, human_duration_secs, now_secs, parse_rfc3339_secs};
use crate::units::human_size3_spaced;
use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args};
use serde::Serialize;
use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct SaveArgs {
    /// Images to save (by name or id)
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Write to this file (or directory, for oci-dir and docker-dir) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Archive format: docker-archive, oci-archive, oci-dir or docker-dir
    #[arg(long, value_name = "FORMAT", default_value = "docker-archive",
          value_parser = ["docker-archive", "oci-archive", "oci-dir", "docker-dir"])]
    pub format: String,
    /// Save several images in one archive (docker-archive only)
    #[arg(short, long)]
    pub multi_image_archive: bool,
    /// Compress the layers (oci-dir and docker-dir only)
    #[arg(long)]
    pub compress: bool,
    /// Accept uncompressed layers with the OCI formats (they always are; accepted for podman's sake)
    #[arg(long)]
    pub uncompressed: bool,
    /// Do not report progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Read this archive (a file, an oci-dir or docker-dir directory, or an http(s) URL) instead of standard input
    #[arg(short, long, value_name = "INPUT")]
    pub input: Option<String>,
    /// Do not report progress
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The root filesystem tar: a file, an http(s) URL, or - for standard input
    #[arg(value_name = "FILE|URL|-")]
    pub source: String,
    /// Name for the new image
    #[arg(value_name = "REFERENCE")]
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Commit message recorded in the image's history
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Do not report progress
    #[arg(short, long)]
    pub quiet: bool,
    /// Architecture of the image (default: this host's)
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Operating system of the image (default: linux)
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Variant of the architecture
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct HistoryArgs {
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Show sizes and dates in human readable form (default true)
    #[arg(short = 'H', long, value_name = "BOOL", default_value_t = true,
          num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub human: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format: json, or a template such as '{{.ID}} {{.CreatedBy}}'
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ExistsArgs {
    /// The image (name or id)
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Args, Debug, Clone)]
pub struct TreeArgs {
    /// The image (name or id)
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Show the images built on this one
    #[arg(long)]
    pub whatrequires: bool,
}

/// podman's copy lines on stderr, unless quiet.
struct Progress {
    quiet: bool,
    started: Cell<bool>,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        Progress {
            quiet,
            started: Cell::new(false),
        }
    }

    fn line(&self, s: &str) {
        if self.quiet {
            return;
        }
        if !self.started.replace(true) {
            eprintln!("Getting image source signatures");
        }
        eprintln!("{s}");
    }
}

impl ArchiveProgress for Progress {
    fn blob(&self, digest: &Digest) {
        self.line(&format!("Copying blob {digest}"));
    }
    fn blob_skipped(&self, digest: &Digest) {
        let hex = digest.digest();
        self.line(&format!(
            "Copying blob {} skipped: already exists",
            &hex[..hex.len().min(12)]
        ));
    }
    fn config(&self, digest: &Digest) {
        self.line(&format!("Copying config {digest}"));
    }
    fn manifest(&self) {
        self.line("Writing manifest to image destination");
        self.line("Storing signatures");
    }
}

/// `rpod save`.
pub(super) fn save_cmd(g: &GlobalOpts, a: &SaveArgs) -> Result<()> {
    let layout = Layout::parse(&a.format)?;
    if a.compress && !layout.is_dir() {
        bail!("--compress can only be set when --format is either 'oci-dir' or 'docker-dir'");
    }
    if a.multi_image_archive && layout != Layout::DockerArchive {
        bail!("--multi-image-archive can only be used with --format docker-archive");
    }
    if a.output.is_none() {
        if layout.is_dir() {
            bail!(
                "--output (-o) must name a directory for --format {}",
                layout.name()
            );
        }
        if std::io::stdout().is_terminal() {
            bail!("refusing to save to terminal. Use -o flag or redirect");
        }
    }
    // The layers belong to the ids of our user namespace.
    crate::userns::enter()?;
    let store = Store::open(&g.into())?;
    let mut images: Vec<SaveImage> = Vec::new();
    for name in &a.images {
        let rec = find(&store, name)?;
        let names: Vec<String> = rec
            .names
            .iter()
            .filter(|n| crate::storage::name_matches(name, n, &rec.digest))
            .take(1)
            .cloned()
            .collect();
        match images.iter_mut().find(|i| i.record.id == rec.id) {
            // Without -m, more names of one image are more tags of it.
            Some(i) => i.names.extend(names),
            None => images.push(SaveImage { record: rec, names }),
        }
    }
    if images.len() > 1 && layout != Layout::DockerArchive {
        bail!(
            "{} holds one image: use --format docker-archive with -m for several",
            layout.name()
        );
    }
    let progress = Progress::new(a.quiet);
    let what = a.images.join(", ");
    let opts = archive::WriteOptions {
        compress: a.compress,
    };
    let dest = match &a.output {
        Some(p) => Dest::Path(p.clone()),
        None => {
            use std::os::fd::AsFd;
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .context("duplicating standard output")?;
            Dest::Stream(std::fs::File::from(fd))
        }
    };
    let shown = a
        .output
        .as_ref()
        .map_or("/dev/stdout".into(), |p| p.display().to_string());
    let r = archive::write(&store, &images, layout, opts, dest, &progress);
    r.with_context(|| format!("saving {what}"))?;
    for i in &images {
        crate::events::image(store.runroot(), "save", &i.record.id, &shown);
    }
    Ok(())
}

/// `rpod load`.
pub(super) fn load_cmd(g: &GlobalOpts, a: &LoadArgs) -> Result<()> {
    // Before the download's threads exist: setns(CLONE_NEWUSER) needs a
    // single-threaded process.
    crate::userns::enter()?;
    let (input, shown) = match &a.input {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => (
            archive::LoadInput::Stream(Box::new(archive::open_url(u)?)),
            u.clone(),
        ),
        Some(p) => (archive::LoadInput::Path(PathBuf::from(p)), p.clone()),
        None => {
            if std::io::stdin().is_terminal() {
                bail!(
                    "cannot read from terminal, use command-line redirection or the --input flag"
                );
            }
            (
                archive::LoadInput::Stream(Box::new(std::io::stdin())),
                "standard input".to_string(),
            )
        }
    };
    let store = Store::open(&g.into())?;
    let progress = Progress::new(a.quiet);
    let loaded = archive::load(&store, input, &shown, &progress)?;
    let mut out = std::io::stdout().lock();
    for l in loaded {
        if l.names.is_empty() {
            writeln!(out, "Loaded image: sha256:{}", l.id)?;
        }
        for n in &l.names {
            writeln!(out, "Loaded image: {n}")?;
        }
    }
    Ok(())
}

/// `rpod import`.
pub(super) fn import_cmd(g: &GlobalOpts, a: &ImportArgs) -> Result<()> {
    let source = if a.source == "-" {
        archive::ImportSource::Stream(Box::new(std::io::stdin()))
    } else if a.source.starts_with("http://") || a.source.starts_with("https://") {
        archive::ImportSource::Url(a.source.clone())
    } else {
        archive::ImportSource::Path(PathBuf::from(&a.source))
    };
    let opts = archive::ImportOptions {
        changes: a.change.clone(),
        message: a.message.clone(),
        reference: a.reference.clone(),
        os: a.os.clone(),
        arch: a.arch.clone(),
        variant: a.variant.clone(),
    };
    crate::userns::enter()?;
    let store = Store::open(&g.into())?;
    if let archive::ImportSource::Url(u) = &source {
        if !a.quiet {
            eprintln!("Downloading from \"{u}\"");
        }
    }
    let rec = archive::import(&store, source, &opts, &Progress::new(a.quiet))?;
    writeln!(std::io::stdout().lock(), "sha256:{}", rec.id)?;
    Ok(())
}

/// `rpod image exists`: exit 0 when the image is known, 1 when not.
pub(super) fn exists_cmd(g: &GlobalOpts, a: &ExistsArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    match store.find_image(&a.image)? {
        Some(_) => Ok(()),
        None => Err(exit_status(1)),
    }
}

fn history_header(f: &str) -> Option<&'static str> {
    Some(match f {
        "ID" => "ID",
        "Created" | "CreatedSince" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "CreatedBy" => "CREATED BY",
        "Size" => "SIZE",
        "Comment" => "COMMENT",
        "Tags" => "TAGS",
        _ => return None,
    })
}

/// A row of `history --format json`: podman's ImageHistoryLayer.
#[derive(Serialize)]
struct HistoryJson<'a> {
    id: &'a str,
    created: &'a str,
    #[serde(rename = "CreatedBy", skip_serializing_if = "str::is_empty")]
    created_by: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    comment: &'a str,
}

/// A row as `history`'s table and templates see it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryLine {
    #[serde(rename = "ID")]
    id: String,
    created: String,
    created_since: String,
    created_at: String,
    created_by: String,
    size: String,
    comment: String,
    tags: Vec<String>,
}

/// `rpod history`.
pub(super) fn history_cmd(g: &GlobalOpts, a: &HistoryArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    let rec = find(&store, &a.image)?;
    let rows = img::history(&store, &rec)?;
    // podman: JSON before -q, which prints the ids.
    let format = match a.format.as_deref() {
        Some(f) if super::format::is_json(f) => Some(f),
        _ if a.quiet => Some("{{.ID}}"),
        f => f,
    };
    let report = Report::list(
        format,
        "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    )?
    .headers(history_header);
    if report.is_json() {
        let json: Vec<HistoryJson> = rows
            .iter()
            .map(|r| HistoryJson {
                id: r.id.as_deref().unwrap_or("<missing>"),
                created: &r.created,
                created_by: &r.created_by,
                size: r.size,
                comment: &r.comment,
            })
            .collect();
        return report.print(&json);
    }
    let lines: Vec<HistoryLine> = rows
        .iter()
        .map(|r| {
            let id = match &r.id {
                Some(id) if a.no_trunc => id.clone(),
                Some(id) => short_id(id).to_string(),
                None => "<missing>".to_string(),
            };
            let secs = parse_rfc3339_secs(&r.created).map(|x| x.0);
            let since = secs.map(|s| ago(now_secs() - s)).unwrap_or_default();
            let created_by = if !a.no_trunc && r.created_by.chars().count() > 45 {
                format!("{}...", r.created_by.chars().take(42).collect::<String>())
            } else {
                r.created_by.clone()
            };
            HistoryLine {
                id,
                created: if a.human {
                    since.clone()
                } else {
                    r.created.clone()
                },
                created_since: since,
                created_at: secs.map(format_go).unwrap_or_default(),
                created_by,
                size: human_size3_spaced(r.size),
                comment: r.comment.clone(),
                tags: Vec::new(),
            }
        })
        .collect();
    report.print(&lines)
}

fn ago(d: i64) -> String {
    format!("{} ago", human_duration_secs(d))
}

fn go_list(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

fn tree_line(prefix: &str, last: bool, l: &img::TreeLayer) -> String {
    let mut s = format!(
        "{prefix}{} ID: {} Size: {:>7}",
        if last { "└──" } else { "├──" },
        &l.id[..l.id.len().min(12)],
        crate::units::human_size(l.size)
    );
    if !l.top_of.is_empty() {
        s.push_str(&format!(" Top Layer of: {}", go_list(&l.top_of)));
    }
    s
}

/// `rpod image tree`.
pub(super) fn tree_cmd(g: &GlobalOpts, a: &TreeArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    let rec = find(&store, &a.image)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Image ID: {}", short_id(&rec.id))?;
    writeln!(out, "Tags:     {}", go_list(&rec.names))?;
    writeln!(out, "Size:     {}", crate::units::human_size(rec.size))?;
    writeln!(out, "Image Layers")?;
    let layers = img::tree(&store, &rec)?;
    if a.whatrequires {
        let Some(top) = layers.last() else {
            return Ok(());
        };
        writeln!(out, "{}", tree_line("", true, top))?;
        let children = img::what_requires(&store, &rec)?;
        for (ci, child) in children.iter().enumerate() {
            let last_child = ci + 1 == children.len();
            for (i, l) in child.iter().enumerate() {
                let prefix = if i == 0 {
                    " "
                } else if last_child {
                    "     "
                } else {
                    " │   "
                };
                writeln!(
                    out,
                    "{}",
                    tree_line(prefix, i + 1 == child.len() && (i > 0 || last_child), l)
                )?;
            }
        }
        return Ok(());
    }
    for (i, l) in layers.iter().enumerate() {
        writeln!(out, "{}", tree_line("", i + 1 == layers.len(), l))?;
    }
    Ok(())
}
