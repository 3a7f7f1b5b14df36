//! The image and registry commands: map their flags onto `crate::image`'s
//! options, and print what it returns in podman's formats.

use super::format::Report;
use super::image::*;
use super::GlobalOpts;
use crate::image::{
    self as img, BlobProgress, ImageFilter, ImageSummary, LoginEvent, LoginReport, LogoutReport,
    PullProgress, PullStep, Removal,
};
use crate::options::Options;
use crate::storage::{short_id, ImageRecord, Store};
use crate::time::{format_go, human_duration_secs as human_duration, now_secs};
use crate::units::human_size3_spaced;
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::Mutex;

// ---- flags onto options ----

impl From<&RegistryOpts> for img::RegistryOptions {
    fn from(r: &RegistryOpts) -> Self {
        img::RegistryOptions {
            authfile: r.authfile.clone(),
            cert_dir: r.cert_dir.clone(),
            tls_verify: r.tls_verify,
            creds: r.creds.as_deref().map(|c| match c.split_once(':') {
                Some((u, p)) => img::UserPass {
                    username: u.to_string(),
                    password: Some(crate::image::auth::Secret(p.to_string())),
                },
                None => img::UserPass {
                    username: c.to_string(),
                    password: None,
                },
            }),
        }
    }
}

impl From<&PlatformOpts> for img::Platform {
    fn from(p: &PlatformOpts) -> Self {
        img::Platform {
            spec: p.platform.clone(),
            os: p.parts.os.clone(),
            arch: p.parts.arch.clone(),
            variant: p.parts.variant.clone(),
        }
    }
}

impl std::str::FromStr for img::PullPolicy {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "always" => img::PullPolicy::Always,
            "missing" => img::PullPolicy::Missing,
            "never" => img::PullPolicy::Never,
            "newer" => img::PullPolicy::Newer,
            _ => bail!("invalid pull policy {s:?}: always, missing, never or newer"),
        })
    }
}

// ---- pull ----

/// Shows what a pull is doing on stderr: bars on a terminal, podman's plain
/// lines otherwise, nothing when quiet.
pub struct PullReporter {
    quiet: bool,
    shown: Mutex<Shown>,
}

#[derive(Default)]
struct Shown {
    bars: Option<MultiProgress>,
    total: Option<ProgressBar>,
}

impl PullReporter {
    pub fn new(quiet: bool) -> PullReporter {
        PullReporter {
            quiet,
            shown: Mutex::new(Shown::default()),
        }
    }

    fn shown(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn line(&self, msg: &str) {
        if self.quiet {
            return;
        }
        match &self.shown().bars {
            Some(b) => {
                let _ = b.println(msg);
            }
            None => eprintln!("{msg}"),
        }
    }
}

fn short_digest(d: &str) -> String {
    let hex = d.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

impl PullProgress for PullReporter {
    fn step(&self, step: PullStep<'_>) {
        match step {
            PullStep::Trying(name) => {
                // Each candidate gets its own display.
                let tty = std::io::stderr().is_terminal();
                *self.shown() = Shown {
                    bars: (!self.quiet && tty)
                        .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
                    total: None,
                };
                self.line(&format!("Trying to pull {name}..."));
            }
            PullStep::GettingSignatures => self.line("Getting image source signatures"),
            PullStep::BlobSkipped(d) => self.line(&format!(
                "Copying blob {} skipped: already exists",
                short_digest(d)
            )),
            PullStep::ConfigDone(d) => {
                self.line(&format!("Copying config {} done", short_digest(d)))
            }
            PullStep::WritingManifest => self.line("Writing manifest to image destination"),
        }
    }

    fn downloading(&self, total_bytes: u64) {
        let mut shown = self.shown();
        if let Some(b) = &shown.bars {
            let bar = b.add(ProgressBar::new(total_bytes));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>19} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap()
                .progress_chars("=> "),
            );
            bar.set_prefix("total");
            shown.total = Some(bar);
        }
    }

    fn blob(&self, digest: &str, size: u64) -> Box<dyn BlobProgress + '_> {
        let shown = self.shown();
        let bar = shown.bars.as_ref().map(|b| {
            let bar = b.insert_from_back(1, ProgressBar::new(size));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>19} [{bar:30}] {bytes}/{total_bytes} {msg}")
                    .unwrap()
                    .progress_chars("=> "),
            );
            bar.set_prefix(short_digest(digest));
            bar
        });
        Box::new(BlobBar {
            rep: self,
            digest: digest.to_string(),
            bar,
            total: shown.total.clone(),
        })
    }

    fn downloaded(&self) {
        if let Some(t) = &self.shown().total {
            t.finish_and_clear();
        }
    }
}

struct BlobBar<'a> {
    rep: &'a PullReporter,
    digest: String,
    bar: Option<ProgressBar>,
    total: Option<ProgressBar>,
}

impl BlobProgress for BlobBar<'_> {
    fn advance(&self, bytes: u64) {
        for b in [&self.bar, &self.total].into_iter().flatten() {
            b.inc(bytes);
        }
    }

    fn restart(&self) {
        if let Some(b) = &self.bar {
            b.set_position(0);
        }
    }

    fn done(&self) {
        match &self.bar {
            Some(b) => b.finish_with_message("done"),
            None => self
                .rep
                .line(&format!("Copying blob {} done", short_digest(&self.digest))),
        }
    }
}

/// `rpod pull`.
pub fn pull_cmd(g: &GlobalOpts, a: &PullArgs) -> Result<()> {
    if a.all_tags {
        bail!("--all-tags is not supported yet: pull the tags one by one");
    }
    // Unpacking keeps the layers' ownership, which needs our user namespace;
    // enter it before the network runtime starts threads.
    crate::userns::enter()?;
    let opts: Options = g.into();
    let store = Store::open(&opts)?;
    let pull = img::PullOptions {
        registry: (&a.registry).into(),
        platform: (&a.platform).into(),
    };
    let progress = PullReporter::new(a.quiet);
    for name in &a.images {
        let rec = img::pull(&opts, &store, name, &pull, &progress)?;
        writeln!(std::io::stdout().lock(), "{}", rec.id)?;
    }
    Ok(())
}

// ---- images ----

fn ago(secs: i64) -> String {
    format!("{} ago", human_duration(now_secs() - secs))
}

fn parse_filters(a: &ImagesArgs) -> Result<Vec<ImageFilter>> {
    let mut out = Vec::new();
    if !a.all {
        out.push(ImageFilter::NotIntermediate);
    }
    if let Some(n) = &a.filter_name {
        out.push(ImageFilter::Reference(n.clone()));
    }
    for f in &a.filter {
        let (k, v) = f
            .split_once('=')
            .with_context(|| format!("invalid filter {f:?}: expected KEY=VALUE"))?;
        out.push(match k {
            "dangling" => ImageFilter::Dangling(match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => bail!("invalid filter {f:?}: dangling takes true or false"),
            }),
            "reference" => ImageFilter::Reference(v.to_string()),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => ImageFilter::Label(lk.into(), Some(lv.into())),
                None => ImageFilter::Label(v.into(), None),
            },
            _ => bail!("invalid filter {f:?}: supported filters are dangling, reference and label"),
        });
    }
    Ok(out)
}

/// One image in `images --format json`, in podman's field order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    id: String,
    parent_id: String,
    repo_tags: Option<Vec<String>>,
    repo_digests: Vec<String>,
    size: u64,
    shared_size: u64,
    virtual_size: u64,
    labels: Value,
    containers: usize,
    names: Option<Vec<String>>,
    digest: String,
    history: Vec<String>,
    created: i64,
    created_at: String,
}

fn summary_json(store: &Store, s: &ImageSummary) -> Summary {
    let rec = &s.record;
    let names = (!rec.names.is_empty()).then(|| rec.names.clone());
    Summary {
        id: rec.id.clone(),
        parent_id: String::new(),
        repo_tags: names.clone(),
        repo_digests: img::repo_digests(rec),
        size: rec.size,
        shared_size: 0,
        virtual_size: rec.size,
        labels: img::labels(store, rec),
        containers: s.containers,
        names,
        digest: rec.digest.to_string(),
        history: rec.names.clone(),
        created: img::created_secs(rec),
        created_at: img::created_rfc3339(rec),
    }
}

#[allow(clippy::too_many_arguments)]
fn row_value(
    store: &Store,
    rec: &ImageRecord,
    repo: &str,
    tag: &str,
    no_trunc: bool,
    containers: usize,
    want_labels: bool,
) -> Value {
    let secs = img::created_secs(rec);
    let id = if no_trunc {
        format!("sha256:{}", rec.id)
    } else {
        short_id(&rec.id).to_string()
    };
    json!({
        "ID": id,
        "Id": rec.id,
        "Repository": repo,
        "Tag": tag,
        "Digest": rec.digest,
        "Digests": [rec.digest],
        "Created": ago(secs),
        "CreatedSince": ago(secs),
        "CreatedAt": format_go(secs),
        "CreatedTime": img::created_rfc3339(rec),
        "Size": human_size3_spaced(rec.size),
        "VirtualSize": human_size3_spaced(rec.size),
        "SharedSize": human_size3_spaced(0),
        "Names": rec.names,
        "RepoDigests": img::repo_digests(rec),
        "History": rec.names.join(", "),
        "Containers": containers,
        "ReadOnly": false,
        "Dangling": rec.names.is_empty(),
        "Labels": if want_labels { img::labels(store, rec) } else { Value::Null },
        "Os": rec.os,
        "Arch": rec.architecture,
    })
}

fn image_header(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" | "Id" => "IMAGE ID",
        "CreatedSince" | "Created" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "Repository" => "REPOSITORY",
        "Digest" => "DIGEST",
        "Size" => "SIZE",
        "ReadOnly" => "R/O",
        _ => return None,
    })
}

/// `rpod images`.
pub fn images_cmd(g: &GlobalOpts, a: &ImagesArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    let filters = parse_filters(a)?;
    let mut images = img::list_images(&store, &filters)?;
    let key = SortKey::parse(&a.sort)?;
    // podman sorts its rows (one per name); ids alone go by their first.
    let first = |s: &ImageSummary| {
        let name = s.repo_tags.first();
        name.map(|r| (r.repository.clone(), r.tag.clone()))
    };
    images.sort_by(|x, y| key.cmp((&x.record, first(x)), (&y.record, first(y))));
    let mut out = std::io::stdout().lock();

    if a.quiet {
        for s in &images {
            if a.no_trunc {
                writeln!(out, "sha256:{}", s.record.id)?;
            } else {
                writeln!(out, "{}", short_id(&s.record.id))?;
            }
        }
        return Ok(());
    }
    drop(out);
    let mut default_table = String::from("table {{.Repository}}\t{{.Tag}}");
    if a.digests {
        default_table.push_str("\t{{.Digest}}");
    }
    default_table.push_str("\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}");
    if a.history {
        default_table.push_str("\t{{.History}}");
    }
    let report = Report::list(a.format.as_deref(), &default_table)?
        .headers(image_header)
        .noheading(a.noheading)
        .json_indent(b"    ");
    if report.is_json() {
        let arr: Vec<Summary> = images.iter().map(|s| summary_json(&store, s)).collect();
        return report.print(&arr);
    }
    let want_labels = report.mentions("Labels");
    let mut rows = Vec::new();
    for s in &images {
        for rt in &s.repo_tags {
            let k = (&s.record, Some((rt.repository.clone(), rt.tag.clone())));
            let mut v = row_value(
                &store,
                &s.record,
                &rt.repository,
                &rt.tag,
                a.no_trunc,
                s.containers,
                want_labels,
            );
            // No name and no child image, as podman (row_value knows one image).
            v["Dangling"] = json!(s.dangling);
            rows.push((k, v));
        }
    }
    rows.sort_by(|(x, _), (y, _)| key.cmp(x.clone(), y.clone()));
    let mut rows: Vec<Value> = rows.into_iter().map(|(_, v)| v).collect();
    if a.history && a.format.is_none() {
        // podman's column: `<none>` for an image without names.
        for r in &mut rows {
            if r["History"] == "" {
                r["History"] = json!("<none>");
            }
        }
    }
    report.print(&rows)
}

/// `images --sort`: podman's keys; created is newest first.
#[derive(Clone, Copy)]
enum SortKey {
    Created,
    Id,
    Repository,
    Size,
    Tag,
}

type SortItem<'a> = (&'a ImageRecord, Option<(String, String)>);

impl SortKey {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "created" => Self::Created,
            "id" => Self::Id,
            "repository" => Self::Repository,
            "size" => Self::Size,
            "tag" => Self::Tag,
            _ => bail!(
                "{s:?} is not a valid field for sorting. Choose from: id, repository, size, tag, created"
            ),
        })
    }

    fn cmp(self, x: SortItem, y: SortItem) -> std::cmp::Ordering {
        let name = |i: &SortItem, tag: bool| {
            i.1.as_ref()
                .map(|(r, t)| if tag { t.clone() } else { r.clone() })
                .unwrap_or_default()
        };
        match self {
            Self::Created => img::created_secs(y.0).cmp(&img::created_secs(x.0)),
            Self::Id => x.0.id.cmp(&y.0.id),
            Self::Repository => name(&x, false).cmp(&name(&y, false)),
            Self::Size => x.0.size.cmp(&y.0.size),
            Self::Tag => name(&x, true).cmp(&name(&y, true)),
        }
    }
}

// ---- rmi and prune ----

/// `rpod rmi`.
pub fn rmi_cmd(g: &GlobalOpts, a: &RmiArgs) -> Result<()> {
    if a.all && !a.images.is_empty() {
        bail!("when using the --all switch, you may not pass any images names or IDs");
    }
    if !a.all && a.images.is_empty() {
        bail!("image name or ID must be specified");
    }
    let store = Store::open(&g.into())?;
    let o = img::RemoveOptions {
        all: a.all,
        force: a.force,
        ignore: a.ignore,
    };
    let mut out = std::io::stdout().lock();
    let remove = if a.no_prune {
        img::remove_images
    } else {
        img::remove_images_and_parents
    };
    let errors = remove(&store, &a.images, &o, &mut |r| {
        match r {
            Removal::Untagged(n) => writeln!(out, "Untagged: {n}")?,
            Removal::Deleted(id) => writeln!(out, "Deleted: {id}")?,
        }
        Ok(())
    })?;
    drop(out);
    // Each is reported; `exit` weighs them for the code (1: all not known,
    // 2: any in use).
    match errors.len() {
        0 => Ok(()),
        _ => Err(super::exit::Several(errors).into()),
    }
}

/// `rpod image prune`.
pub fn prune_cmd(g: &GlobalOpts, a: &ImagePruneArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    if !a.force {
        let what = if a.all {
            "WARNING! This command removes all images without at least one container associated with them."
        } else {
            "WARNING! This command removes all dangling images."
        };
        eprint!("{what}\nAre you sure you want to continue? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(());
        }
    }
    let mut out = std::io::stdout().lock();
    img::prune_images(&store, &img::PruneOptions { all: a.all }, &mut |id| {
        writeln!(out, "{id}")?;
        Ok(())
    })
}

// ---- tag and untag ----

/// `rpod tag`.
pub fn tag_cmd(g: &GlobalOpts, a: &TagArgs) -> Result<()> {
    let names: Vec<String> = a
        .targets
        .iter()
        .map(|t| img::normalize_local_name(t))
        .collect::<Result<_>>()?;
    let store = Store::open(&g.into())?;
    img::tag_image(&store, &a.image, &names)
}

/// `rpod untag`.
pub fn untag_cmd(g: &GlobalOpts, a: &UntagArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    img::untag_image(&store, &a.image, &a.names)
}

// ---- image inspect ----

/// `rpod image inspect`.
pub fn inspect_cmd(g: &GlobalOpts, a: &ImageInspectArgs) -> Result<()> {
    let store = Store::open(&g.into())?;
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in &a.images {
        match store.find_image(name)? {
            Some(rec) => values.push(img::inspect_data(&store, &rec)),
            None => missing.push(name.clone()),
        }
    }
    Report::inspect(a.format.as_deref())?.print(&values)?;
    if let Some(last) = missing.pop() {
        for m in &missing {
            eprintln!("Error: {m}: image not known");
        }
        bail!("{last}: image not known");
    }
    Ok(())
}

// ---- login and logout ----

/// `rpod login`.
pub fn login_cmd(g: &GlobalOpts, a: &LoginArgs) -> Result<()> {
    let opts: Options = g.into();
    let ro = &a.registry_opts;
    if a.get_login {
        let user = img::stored_login(&opts, a.registry.as_deref(), ro.authfile.as_deref())?;
        writeln!(std::io::stdout().lock(), "{user}")?;
        return Ok(());
    }
    let lo = img::LoginOptions {
        registry: a.registry.clone(),
        username: a.username.clone(),
        password: a.password.clone(),
        password_stdin: a.password_stdin,
        registry_opts: ro.into(),
    };
    if a.verbose {
        let path = crate::image::auth::write_path(ro.authfile.as_deref())?;
        writeln!(std::io::stdout().lock(), "Used:  {}", path.display())?;
    }
    match img::login(&opts, &lo, &mut Terminal)? {
        LoginReport::AlreadyLoggedIn => {}
        LoginReport::LoggedIn => writeln!(std::io::stdout().lock(), "Login Succeeded!")?,
    }
    Ok(())
}

/// `rpod logout`.
pub fn logout_cmd(g: &GlobalOpts, a: &LogoutArgs) -> Result<()> {
    let lo = img::LogoutOptions {
        registry: a.registry.clone(),
        all: a.all,
        authfile: a.authfile.clone(),
    };
    let mut out = std::io::stdout().lock();
    match img::logout(&g.into(), &lo)? {
        LogoutReport::All => writeln!(out, "Removed login credentials for all registries")?,
        LogoutReport::Key(key) => writeln!(out, "Removed login credentials for {key}")?,
    }
    Ok(())
}

/// Login's messages on stdout, its prompts on stderr, answers from stdin.
struct Terminal;

impl img::LoginPrompt for Terminal {
    fn event(&mut self, e: LoginEvent<'_>) -> Result<()> {
        let mut out = std::io::stdout().lock();
        match e {
            LoginEvent::CheckingExisting(key) => {
                writeln!(out, "Authenticating with existing credentials for {key}")?
            }
            LoginEvent::ExistingValid(registry) => writeln!(
                out,
                "Existing credentials are valid. Already logged in to {registry}"
            )?,
            LoginEvent::ExistingInvalid => writeln!(
                out,
                "Existing credentials are invalid, please enter valid username and password"
            )?,
        }
        Ok(())
    }

    fn username(&mut self) -> Result<String> {
        prompt_line("Username: ")
    }

    fn password(&mut self) -> Result<String> {
        prompt_password("Password: ")
    }

    fn password_stdin(&mut self) -> Result<String> {
        read_password_stdin()
    }
}

fn prompt_line(prompt: &str) -> Result<String> {
    let mut err = std::io::stderr().lock();
    write!(err, "{prompt}")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the username")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Read a password from the terminal on stdin with echo off.
fn prompt_password(prompt: &str) -> Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("cannot prompt for a password: stdin is not a terminal (use --password-stdin)");
    }
    let saved = tcgetattr(&stdin).context("reading terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    // Echo goes off before the prompt shows, so nothing typed after it is echoed.
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning terminal echo off")?;
    let mut line = String::new();
    let res = (|| {
        let mut err = std::io::stderr().lock();
        write!(err, "{prompt}")?;
        err.flush()?;
        stdin.lock().read_line(&mut line)
    })();
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    res.context("reading the password")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// --password-stdin: all of stdin, less one trailing newline.
fn read_password_stdin() -> Result<String> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .context("reading the password from stdin")?;
    let s = String::from_utf8(buf).map_err(|_| anyhow!("the password on stdin is not UTF-8"))?;
    let s = s.strip_suffix('\n').unwrap_or(&s);
    Ok(s.strip_suffix('\r').unwrap_or(s).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_split_at_the_first_colon() {
        let opts = |c: &str| {
            img::RegistryOptions::from(&RegistryOpts {
                creds: Some(c.into()),
                ..Default::default()
            })
            .creds
            .unwrap()
        };
        let c = opts("alice:pa:ss");
        assert_eq!(c.username, "alice");
        assert_eq!(c.password.unwrap().0, "pa:ss");
        let c = opts("bob");
        assert_eq!(c.username, "bob");
        assert!(c.password.is_none());
        assert_eq!(opts("carol:").password.unwrap().0, "");
    }

    #[test]
    fn pull_policies_parse() {
        use img::PullPolicy::*;
        for (s, p) in [
            ("always", Always),
            ("missing", Missing),
            ("never", Never),
            ("newer", Newer),
        ] {
            assert_eq!(s.parse::<img::PullPolicy>().unwrap(), p);
        }
        assert!("sometimes".parse::<img::PullPolicy>().is_err());
    }
}
