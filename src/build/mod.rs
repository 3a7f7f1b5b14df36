//! `rpod build`: Containerfiles into images, on rpod's own store and
//! runtime (no buildah, no BuildKit).
//!
//! `parse` reads the file with BuildKit's syntax rules; the executor here
//! runs the stages the target needs, one image per step as buildah does
//! with `--layers`: a metadata step (ENV, CMD, …) is a new config over the
//! same layers, a RUN a container of the step's image (created, started and
//! waited for as `rpod run` does) whose upper dir becomes the layer, a
//! COPY/ADD a layer tar made straight from the sources (`context`). Every
//! layer goes through the store's layer path (`layer`), like `commit`'s.
//! The cache (`cache`) maps (parent image, instruction, its inputs) to the
//! step's image.

pub mod cache;
pub mod context;
mod fetch;
pub mod layer;
mod mounts;
pub mod output;
pub mod parse;

use crate::container::ops::{self as ctr, AttachOptions, Attached};
use crate::container::record::Paths;
use crate::image::{PullOptions, PullPolicy, PullProgress};
use crate::options::Options;
use crate::storage::{ImageRecord, Store};
use crate::sys::inroot;
use anyhow::{bail, Context, Result};
use parse::Instruction;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What to build and how.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The context directory.
    pub context: PathBuf,
    /// The Containerfile: its name (for errors) and text; None: the
    /// context's Containerfile or Dockerfile.
    pub containerfile: Option<(String, String)>,
    /// Names for the image, normalized.
    pub tags: Vec<String>,
    /// The first name as given (`COMMIT name`).
    pub commit_name: Option<String>,
    /// `--build-arg KEY=VALUE`.
    pub build_args: Vec<(String, String)>,
    pub target: Option<String>,
    /// `--label`, on the final image.
    pub labels: Vec<(String, String)>,
    pub no_cache: bool,
    /// Use and record the cache (`--layers`, default true).
    pub layers: bool,
    pub pull: Option<PullPolicy>,
    pub pull_opts: PullOptions,
    /// Docker image format (else OCI).
    pub docker: bool,
    /// RUN's network (`--network`; None: the rootless default).
    pub network: Option<String>,
    /// Seconds since the epoch for every time in the image (`--timestamp`,
    /// SOURCE_DATE_EPOCH).
    pub timestamp: Option<i64>,
    pub ignorefile: Option<PathBuf>,
    /// `--secret id=ID,src=PATH|env=VAR`: the secrets RUN --mount=type=secret may use.
    pub secrets: Vec<Secret>,
    /// RUN steps' `--volume`, `--cap-add`, `--cap-drop`, `--security-opt`, `--ulimit`.
    pub volumes: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub ulimits: Vec<String>,
    /// `--annotation KEY=VALUE`, on the final image's manifest.
    pub annotations: Vec<(String, String)>,
    /// Label images with `io.rpod.version` (`--identity-label`, default true).
    pub identity_label: bool,
    /// `--squash` / `--squash-all` (and `--layers=false`, which squashes
    /// the target stage's new layers as buildah commits it once).
    pub squash: Squash,
    /// `--jobs`: stages built at once (1: one after the other, podman's
    /// default; 0: as many as are ready).
    pub jobs: u32,
}

/// How the final image's layers are squashed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Squash {
    #[default]
    No,
    /// The target stage's new layers into one, over its base's.
    New,
    /// Everything into one layer.
    All,
}

/// A build secret: its id and where its value comes from.
#[derive(Debug, Clone)]
pub struct Secret {
    pub id: String,
    pub source: SecretSource,
}

#[derive(Debug, Clone)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// The label rpod puts on the images it builds (buildah's is
/// `io.buildah.version`), with rpod's version.
pub const IDENTITY_LABEL: &str = "io.rpod.version";

/// Where the build's progress goes (the CLI prints it).
pub trait BuildReport {
    /// One line: `STEP 1/3: FROM alpine`, `--> 0123456789a`, `COMMIT x`.
    fn line(&mut self, s: &str);
    /// A warning (podman prints them on stderr as it goes).
    fn warn(&mut self, s: &str);
    fn pull_progress(&self) -> &dyn PullProgress;
}

/// A RUN step that failed: exit 1, as podman.
#[derive(Debug)]
pub struct StepFailed {
    pub step: String,
    pub code: i32,
}

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "building at STEP \"{}\": while running runtime: exit status {}",
            self.step, self.code
        )
    }
}

impl std::error::Error for StepFailed {}

/// The built image.
#[derive(Debug, Clone)]
pub struct Built {
    pub id: String,
    pub names: Vec<String>,
}

/// The default file names in a context.
const DEFAULT_FILES: &[&str] = &["Containerfile", "Dockerfile"];

/// The Containerfile of a context (when none was named): its name and text.
pub fn default_containerfile(ctx: &Path) -> Result<(String, String)> {
    let root = inroot::open_root(ctx)
        .with_context(|| format!("opening build context {}", ctx.display()))?;
    for n in DEFAULT_FILES {
        if let Ok(fd) = inroot::open(root.as_fd(), Path::new(n), true) {
            let text = std::fs::read_to_string(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ))
            .with_context(|| format!("reading {n}"))?;
            return Ok((ctx.join(n).display().to_string(), text));
        }
    }
    bail!(
        "no Containerfile or Dockerfile specified or found in context directory, {}",
        ctx.display()
    )
}

/// Run a build. The caller has entered rpod's user namespace and a
/// private mount namespace.
pub fn build(opts: &Options, o: &BuildOptions, r: &mut dyn BuildReport) -> Result<Built> {
    let (fname, text) = match &o.containerfile {
        Some(f) => f.clone(),
        None => default_containerfile(&o.context)?,
    };
    let file = parse::parse(&fname, &text)?;
    for n in &file.notes {
        r.warn(n);
    }
    let store = Store::open(opts)?;
    let paths = Paths::new(opts)?;
    let ctx_root = inroot::open_root(&o.context)
        .with_context(|| format!("opening build context {}", o.context.display()))?;
    let ignore = context::load_ignore(ctx_root.as_fd(), o.ignorefile.as_deref())?;
    let mut b = Builder {
        opts,
        o,
        store,
        paths,
        ctx_root,
        ignore,
        esc: file.escape,
        fname: fname.clone(),
        names: file
            .stages
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((s.name.clone()?, i)))
            .collect(),
        global: BTreeMap::new(),
        stage_images: BTreeMap::new(),
        mounts: Vec::new(),
        tmp: Vec::new(),
        held: Vec::new(),
        target_base: None,
        target_from: String::new(),
        made: Vec::new(),
        file_hashes: None,
        pulled: BTreeMap::new(),
        running: Default::default(),
    };
    let res = b.run(&file, r);
    b.cleanup();
    if let Some(h) = b.file_hashes.as_mut() {
        // Only a cache: a failure to save costs a rehash next time.
        if let Err(e) = h.save() {
            debug!("saving the build's file hashes: {e:#}");
        }
    }
    // With --layers=false no step image is kept (buildah commits once).
    if !o.layers {
        if let Ok(built) = &res {
            for id in b.made.iter().filter(|id| **id != built.id) {
                // Unless something named it meanwhile.
                if !matches!(b.store.image_by_id(id), Ok(Some(i)) if i.names.is_empty()) {
                    continue;
                }
                if let Err(e) = b.store.remove_image(id) {
                    debug!("removing the intermediate image {id}: {e:#}");
                }
            }
        }
    }
    res
}

/// The state of the stage being built.
struct StageState {
    image: Option<ImageRecord>,
    cfg: Value,
    /// ARGs in scope with their values.
    args: BTreeMap<String, String>,
    shell: Vec<String>,
    /// "FROM x" for the first step's history comment.
    from_comment: String,
    first: bool,
    /// The base image's name and digest, as buildah annotates OCI images.
    base_annotations: Vec<(String, String)>,
}

impl StageState {
    fn config(&mut self) -> &mut Map<String, Value> {
        let c = self
            .cfg
            .as_object_mut()
            .expect("an object")
            .entry("config")
            .or_insert_with(|| json!({}));
        if !c.is_object() {
            *c = json!({});
        }
        c.as_object_mut().expect("made an object")
    }

    fn env(&self) -> Vec<String> {
        self.cfg["config"]["Env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct Builder<'a> {
    opts: &'a Options,
    o: &'a BuildOptions,
    store: Store,
    paths: Paths,
    ctx_root: OwnedFd,
    ignore: context::Ignore,
    esc: char,
    /// The Containerfile's name, for errors.
    fname: String,
    /// Stage names and their indexes.
    names: BTreeMap<String, usize>,
    /// The global ARGs (before the first FROM) with their values.
    global: BTreeMap<String, String>,
    /// Built stages: index → image.
    stage_images: BTreeMap<usize, ImageRecord>,
    /// Mount points of other stages' file systems (COPY --from).
    mounts: Vec<PathBuf>,
    /// Temporary directories to remove.
    tmp: Vec<PathBuf>,
    /// Temp dirs in use until the build ends (removed when dropped).
    held: Vec<crate::storage::TmpEntry>,
    /// The target stage's base image (what --squash keeps), and its
    /// history comment ("FROM alpine").
    target_base: Option<ImageRecord>,
    target_from: String,
    /// The images this build made (not found in the cache).
    made: Vec<String>,
    /// The remembered content hashes of context files (loaded at the
    /// first COPY from the context, saved when the build ends).
    file_hashes: Option<cache::FileHashes>,
    /// Base images pulled before stages were started in parallel: a stage
    /// takes its base from here (one pull per name and build).
    pulled: BTreeMap<String, ImageRecord>,
    /// The build containers running now, of every stage (`--jobs`: the
    /// first failure kills the others').
    running: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl<'o> Builder<'o> {
    fn cleanup(&mut self) {
        for m in self.mounts.drain(..) {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
        for t in self.tmp.drain(..) {
            let _ = std::fs::remove_dir_all(&t);
        }
        self.held.clear();
    }

    fn build_arg(&self, name: &str) -> Option<String> {
        self.o
            .build_args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn run(&mut self, file: &parse::Containerfile, r: &mut dyn BuildReport) -> Result<Built> {
        // Global ARGs: for FROM lines, and for stages that redeclare them.
        for a in &file.global_args {
            let g = self.global.clone();
            let vars = |n: &str| g.get(n).cloned();
            for (k, v) in arg_decls(&a.rest, self.esc, &vars)? {
                let val = self.build_arg(&k).or(v);
                if let Some(val) = val {
                    self.global.insert(k, val);
                } else {
                    self.global.remove(&k);
                }
            }
        }
        let target = match &self.o.target {
            Some(t) => file
                .stages
                .iter()
                .position(|s| s.name.as_deref() == Some(t.to_ascii_lowercase().as_str()))
                .with_context(|| format!("the target {t:?} is not a stage of the Containerfile"))?,
            None => file.stages.len() - 1,
        };
        // The stages the target needs, by FROM and COPY --from.
        let needed = self.needed(file, target);
        let total = file.stages.len();
        if self.o.jobs != 1 {
            // The stages before the target, as many at once as --jobs
            // says; the target (which needs them all) then runs here.
            self.parallel_stages(file, &needed, target, r)?;
        }
        let mut last = None;
        for (i, stage) in file.stages.iter().enumerate().take(target + 1) {
            if !needed.contains(&i) || self.stage_images.contains_key(&i) {
                continue;
            }
            let prefix = if total > 1 {
                format!("[{}/{}] ", i + 1, total)
            } else {
                String::new()
            };
            let img = self.stage(file, i, stage, i == target, &prefix, r)?;
            self.stage_images.insert(i, img.clone());
            last = Some(img);
        }
        let mut img = last.context("nothing was built")?;
        let squash = match self.o.squash {
            Squash::No if !self.o.layers => Squash::New,
            s => s,
        };
        if squash != Squash::No {
            let base = self.target_base.clone();
            let comment = self.target_from.clone();
            let before = img.id.clone();
            img = self.squash(&img, base.as_ref(), squash == Squash::All, &comment)?;
            if img.id != before {
                r.line(&format!("--> {}", &img.id[..11]));
            }
        }
        let names = self.o.tags.clone();
        if !names.is_empty() {
            let mut all = img.names.clone();
            for n in &names {
                if !all.contains(n) {
                    all.push(n.clone());
                }
            }
            self.store.set_image_names(&img.id, all)?;
            for n in &names {
                crate::events::image(self.store.runroot(), "tag", &img.id, n);
            }
        }
        Ok(Built { id: img.id, names })
    }

    /// The stage index `name` (a stage name or number) refers to, if any.
    fn stage_ref(file: &parse::Containerfile, before: usize, name: &str) -> Option<usize> {
        let lname = name.to_ascii_lowercase();
        if let Some(i) = file.stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(lname.as_str()))
        {
            return Some(i);
        }
        name.parse::<usize>().ok().filter(|&i| i < before)
    }

    /// The stages the target needs, by FROM, COPY --from and RUN
    /// --mount from=, the target included.
    fn needed(
        &self,
        file: &parse::Containerfile,
        target: usize,
    ) -> std::collections::BTreeSet<usize> {
        let mut need = std::collections::BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if !need.insert(i) {
                continue;
            }
            todo.extend(self.stage_deps(file, i));
        }
        need
    }

    /// The earlier stages stage `i` uses directly.
    fn stage_deps(
        &self,
        file: &parse::Containerfile,
        i: usize,
    ) -> std::collections::BTreeSet<usize> {
        let g = self.global.clone();
        let vars = |n: &str| g.get(n).cloned();
        let mut deps = std::collections::BTreeSet::new();
        let s = &file.stages[i];
        let base = parse::expand(&s.base, self.esc, &vars).unwrap_or_default();
        if let Some(j) = Self::stage_ref(file, i, &base) {
            deps.insert(j);
        }
        for ins in &s.instructions {
            if let Some(f) = ins.flag("from") {
                if let Some(j) = Self::stage_ref(file, i, f) {
                    deps.insert(j);
                }
            }
            for (k, v) in &ins.flags {
                if k == "mount" && v.contains("from=") {
                    for part in v.split(',') {
                        if let Some(f) = part.strip_prefix("from=") {
                            if let Some(j) = Self::stage_ref(file, i, f) {
                                deps.insert(j);
                            }
                        }
                    }
                }
            }
        }
        deps
    }

    /// A builder for one stage on another thread: the same build, its
    /// own store handle, temp dirs and mounts.
    fn fork(&self) -> Result<Builder<'o>> {
        Ok(Builder {
            opts: self.opts,
            o: self.o,
            store: self.store.clone(),
            paths: self.paths.clone(),
            ctx_root: self.ctx_root.try_clone()?,
            ignore: self.ignore.clone(),
            esc: self.esc,
            fname: self.fname.clone(),
            names: self.names.clone(),
            global: self.global.clone(),
            stage_images: self.stage_images.clone(),
            mounts: Vec::new(),
            tmp: Vec::new(),
            held: Vec::new(),
            target_base: None,
            target_from: String::new(),
            made: Vec::new(),
            file_hashes: None,
            pulled: self.pulled.clone(),
            running: self.running.clone(),
        })
    }

    /// `--jobs`: build the stages the target needs (not the target) on
    /// threads, each as soon as the stages it uses are built, at most
    /// `jobs` at once. Their lines carry the stage's `[i/n]` prefix;
    /// base images are pulled first, one after the other, with the
    /// progress shown. The first failure stops new stages from starting
    /// and kills the running ones' RUN steps; it is returned once they end.
    fn parallel_stages(
        &mut self,
        file: &parse::Containerfile,
        needed: &std::collections::BTreeSet<usize>,
        target: usize,
        r: &mut dyn BuildReport,
    ) -> Result<()> {
        let mut pending: Vec<usize> = needed.iter().copied().filter(|&i| i != target).collect();
        if pending.len() < 2 {
            return Ok(());
        }
        let deps: BTreeMap<usize, std::collections::BTreeSet<usize>> = pending
            .iter()
            .map(|&i| (i, self.stage_deps(file, i)))
            .collect();
        let g = self.global.clone();
        let vars = |n: &str| g.get(n).cloned();
        for &i in &pending {
            let stage = &file.stages[i];
            let base =
                parse::expand(&stage.base, self.esc, &vars).map_err(|e| self.at(&stage.from, e))?;
            if base == "scratch"
                || Self::stage_ref(file, i, &base).is_some()
                || self.pulled.contains_key(&base)
            {
                continue;
            }
            let img = self.pull(&base, r)?;
            self.pulled.insert(base, img);
        }
        let limit = match self.o.jobs {
            0 => usize::MAX,
            n => n as usize,
        };
        let total = file.stages.len();
        // Signals stay blocked on every thread meanwhile: a RUN step's
        // attach session takes them on its signalfd and forwards them to
        // its container, whose failure then ends the build cleanly. (A
        // thread that did not block them would take the default action:
        // the process gone, its build containers left behind.)
        let mut mask = nix::sys::signal::SigSet::empty();
        for sig in [
            nix::sys::signal::Signal::SIGINT,
            nix::sys::signal::Signal::SIGTERM,
            nix::sys::signal::Signal::SIGHUP,
            nix::sys::signal::Signal::SIGQUIT,
        ] {
            mask.add(sig);
        }
        let old = mask
            .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
            .context("blocking signals")?;
        let (tx, rx) = std::sync::mpsc::channel::<StageMsg>();
        let mut running = 0usize;
        let mut first_err: Option<anyhow::Error> = None;
        std::thread::scope(|scope| loop {
            while first_err.is_none() && running < limit {
                let Some(pos) = pending
                    .iter()
                    .position(|i| deps[i].iter().all(|d| self.stage_images.contains_key(d)))
                else {
                    break;
                };
                let i = pending.remove(pos);
                let mut sub = match self.fork() {
                    Ok(b) => b,
                    Err(e) => {
                        first_err = Some(e);
                        break;
                    }
                };
                let tx = tx.clone();
                let prefix = format!("[{}/{}] ", i + 1, total);
                running += 1;
                scope.spawn(move || {
                    let mut rep = StageReport {
                        tx: tx.clone(),
                        prefix: prefix.clone(),
                    };
                    let res = sub.stage(file, i, &file.stages[i], false, &prefix, &mut rep);
                    sub.cleanup();
                    let done = StageDone {
                        made: std::mem::take(&mut sub.made),
                        file_hashes: sub.file_hashes.take(),
                    };
                    let _ = tx.send(StageMsg::Done(i, Box::new(res), Box::new(done)));
                });
            }
            if running == 0 {
                break;
            }
            match rx.recv() {
                Ok(StageMsg::Line(l)) => r.line(&l),
                Ok(StageMsg::Warn(w)) => r.warn(&w),
                Ok(StageMsg::Done(i, res, done)) => {
                    let (res, done) = (*res, *done);
                    running -= 1;
                    self.made.extend(done.made);
                    if let Some(h) = done.file_hashes {
                        match self.file_hashes.as_mut() {
                            Some(m) => m.merge(h),
                            None => self.file_hashes = Some(h),
                        }
                    }
                    match res {
                        Ok(img) => {
                            self.stage_images.insert(i, img);
                        }
                        Err(e) => {
                            if first_err.is_none() {
                                // The other stages' RUN steps are killed:
                                // their stages fail, and the build ends now.
                                self.kill_running();
                            }
                            first_err.get_or_insert(e);
                        }
                    }
                }
                Err(_) => break,
            }
        });
        let _ = old.thread_set_mask();
        match first_err {
            Some(e) => Err(e),
            None if !pending.is_empty() => bail!("internal: stages left unbuilt: {pending:?}"),
            None => Ok(()),
        }
    }

    fn now(&self) -> String {
        match self.o.timestamp {
            Some(ts) => crate::time::format_rfc3339(ts, 0),
            None => crate::time::now_rfc3339(),
        }
    }

    fn stage(
        &mut self,
        file: &parse::Containerfile,
        idx: usize,
        stage: &parse::Stage,
        last_stage: bool,
        prefix: &str,
        r: &mut dyn BuildReport,
    ) -> Result<ImageRecord> {
        let n_steps = stage.instructions.len() + 1;
        r.line(&format!(
            "{prefix}STEP 1/{n_steps}: {}",
            stage.from.original
        ));
        let g = self.global.clone();
        let vars = |n: &str| g.get(n).cloned();
        let base =
            parse::expand(&stage.base, self.esc, &vars).map_err(|e| self.at(&stage.from, e))?;
        let mut base_name = None;
        let (image, from_comment) = if base == "scratch" {
            (None, "FROM scratch".to_string())
        } else if let Some(j) = Self::stage_ref(file, idx, &base) {
            let img = self
                .stage_images
                .get(&j)
                .cloned()
                .context("internal: stage not built")?;
            let c = format!("FROM {}", &img.id[..12]);
            (Some(img), c)
        } else {
            let img = self.pull(&base, r)?;
            let name = img
                .names
                .iter()
                .find(|n| crate::storage::name_matches(&base, n, &img.digest))
                .or(img.names.first())
                .cloned()
                .unwrap_or_else(|| base.clone());
            base_name = Some((name.clone(), img.digest.to_string()));
            (Some(img), format!("FROM {name}"))
        };
        let cfg = match &image {
            Some(img) => serde_json::from_slice(&self.store.read_blob(&img.config_digest)?)
                .context("parsing the base image's config")?,
            None => json!({
                "architecture": host_arch(),
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            }),
        };
        let shell = cfg["config"]["Shell"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect::<Vec<_>>()
            })
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        let base_annotations = match &base_name {
            Some((name, digest)) if !self.o.docker => vec![
                (
                    "org.opencontainers.image.base.digest".to_string(),
                    digest.clone(),
                ),
                (
                    "org.opencontainers.image.base.name".to_string(),
                    name.clone(),
                ),
            ],
            _ => Vec::new(),
        };
        if last_stage {
            self.target_base = image.clone();
            self.target_from = from_comment.clone();
        }
        let mut st = StageState {
            image,
            cfg,
            args: BTreeMap::new(),
            shell,
            from_comment,
            first: true,
            base_annotations,
        };
        let obj = st
            .cfg
            .as_object_mut()
            .context("the base image's config is not an object")?;
        obj.remove("container");
        obj.remove("container_config");
        // ONBUILD triggers of the base run first.
        let triggers: Vec<String> = st.cfg["config"]["OnBuild"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut onbuild = Vec::new();
        if !triggers.is_empty() {
            let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
            let f = parse::parse("ONBUILD", &text)?;
            onbuild = f.stages[0].instructions.clone();
            st.config().remove("OnBuild");
        }
        for ins in &onbuild {
            self.step(&mut st, ins, r, false)?;
        }
        if stage.instructions.is_empty() {
            // Nothing to do: the image is the base (with the labels).
            if st.image.is_none() || (last_stage && !self.o.labels.is_empty()) {
                self.commit_step(&mut st, "", Vec::new(), None, last_stage, r)?;
            }
        } else {
            for (k, ins) in stage.instructions.iter().enumerate() {
                r.line(&format!(
                    "{prefix}STEP {}/{n_steps}: {}",
                    k + 2,
                    ins.original
                ));
                // The final step's image carries the --label values.
                let final_step = last_stage && k + 1 == stage.instructions.len();
                self.step(&mut st, ins, r, final_step)?;
            }
        }
        let img = st.image.clone().context("the stage made no image")?;
        if last_stage {
            let what = self
                .o
                .commit_name
                .as_ref()
                .map(|t| format!(" {t}"))
                .unwrap_or_default();
            r.line(&format!("{prefix}COMMIT{what}"));
            r.line(&format!("--> {}", &img.id[..11]));
        }
        Ok(img)
    }

    fn pull(&self, name: &str, r: &mut dyn BuildReport) -> Result<ImageRecord> {
        if let Some(img) = self.pulled.get(name) {
            return Ok(img.clone());
        }
        let policy = self.o.pull.unwrap_or(PullPolicy::Missing);
        crate::image::ensure_image(
            self.opts,
            name,
            policy,
            &self.o.pull_opts,
            r.pull_progress(),
        )
        .with_context(|| format!("pulling the base image {name}"))
    }

    fn at(&self, ins: &Instruction, e: anyhow::Error) -> anyhow::Error {
        e.context(format!(
            "building at STEP \"{}\": {}:{}:{}",
            ins.original, self.fname, ins.line, ins.rest_col
        ))
    }

    /// One instruction: the image it makes becomes the stage's.
    fn step(
        &mut self,
        st: &mut StageState,
        ins: &Instruction,
        r: &mut dyn BuildReport,
        final_step: bool,
    ) -> Result<()> {
        let res = self.step_inner(st, ins, r, final_step);
        match res {
            Ok(()) => Ok(()),
            Err(e) if e.downcast_ref::<StepFailed>().is_some() => Err(e),
            Err(e) if e.downcast_ref::<parse::SyntaxError>().is_some() => Err(e),
            Err(e) => Err(self.at(ins, e)),
        }
    }

    fn step_inner(
        &mut self,
        st: &mut StageState,
        ins: &Instruction,
        r: &mut dyn BuildReport,
        final_step: bool,
    ) -> Result<()> {
        let esc = self.esc;
        let snapshot = StageVars::of(st);
        let vars = |n: &str| snapshot.get(n);
        let ex = |s: &str| parse::expand(s, esc, &vars);
        let nop = format!("/bin/sh -c #(nop) {}", ins.original);
        match ins.keyword.as_str() {
            "ENV" => {
                let kvs = parse::pairs(&ins.rest, esc, &vars, "ENV")?;
                let mut env = st.env();
                for (k, v) in &kvs {
                    crate::container::opts::env_set(&mut env, format!("{k}={v}"));
                }
                let text = kvs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                st.config().insert("Env".into(), json!(env));
                self.commit_step(
                    st,
                    &format!("/bin/sh -c #(nop) ENV {text}"),
                    Vec::new(),
                    None,
                    final_step,
                    r,
                )?;
            }
            "ARG" => {
                for (k, v) in arg_decls(&ins.rest, esc, &vars)? {
                    let val = self
                        .build_arg(&k)
                        .or(v)
                        .or_else(|| self.global.get(&k).cloned());
                    st.args.insert(k, val.unwrap_or_default());
                }
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "LABEL" => {
                let kvs = parse::pairs(&ins.rest, esc, &vars, "LABEL")?;
                let c = st.config();
                let mut m = c
                    .get("Labels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (k, v) in &kvs {
                    m.insert(k.clone(), json!(v));
                }
                c.insert("Labels".into(), Value::Object(m));
                let text = kvs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                self.commit_step(
                    st,
                    &format!("/bin/sh -c #(nop) LABEL {text}"),
                    Vec::new(),
                    None,
                    final_step,
                    r,
                )?;
            }
            "MAINTAINER" => {
                let who = ex(&ins.rest)?;
                st.cfg["author"] = json!(who);
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "EXPOSE" => {
                let ports = parse::words(&ins.rest, esc, &vars)?;
                let c = st.config();
                let mut m = c
                    .get("ExposedPorts")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for p in ports {
                    let p = if p.contains('/') {
                        p.to_ascii_lowercase()
                    } else {
                        format!("{p}/tcp")
                    };
                    let port = p.split('/').next().unwrap_or("");
                    if port.split('-').any(|x| x.parse::<u16>().is_err()) {
                        bail!("invalid port {p:?}");
                    }
                    m.insert(p, json!({}));
                }
                c.insert("ExposedPorts".into(), Value::Object(m));
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "VOLUME" => {
                let vols = match &ins.json {
                    Some(v) => v.iter().map(|x| ex(x)).collect::<Result<Vec<_>>>()?,
                    None => parse::words(&ins.rest, esc, &vars)?,
                };
                let c = st.config();
                let mut m = c
                    .get("Volumes")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for v in vols {
                    if v.is_empty() {
                        bail!("VOLUME specified can not be an empty string");
                    }
                    m.insert(v, json!({}));
                }
                c.insert("Volumes".into(), Value::Object(m));
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "USER" => {
                let u = ex(&ins.rest)?;
                st.config().insert("User".into(), json!(u));
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "WORKDIR" => {
                let w = ex(&ins.rest)?;
                let cur = st.cfg["config"]["WorkingDir"]
                    .as_str()
                    .unwrap_or("/")
                    .to_string();
                let full = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{}", cur.trim_end_matches('/'), w)
                };
                let full = clean_abs(&full);
                st.config().insert("WorkingDir".into(), json!(full));
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "STOPSIGNAL" => {
                let s = ex(&ins.rest)?;
                crate::container::opts::parse_signal(&s)
                    .with_context(|| format!("invalid STOPSIGNAL {s:?}"))?;
                st.config().insert("StopSignal".into(), json!(s));
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "CMD" | "ENTRYPOINT" => {
                let v = match &ins.json {
                    Some(v) => v.clone(),
                    None => {
                        let mut v = st.shell.clone();
                        v.push(ins.rest.clone());
                        v
                    }
                };
                let key = if ins.keyword == "CMD" {
                    "Cmd"
                } else {
                    "Entrypoint"
                };
                st.config().insert(key.into(), json!(v));
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "SHELL" => {
                let Some(v) = ins.json.clone().filter(|v| !v.is_empty()) else {
                    bail!("SHELL requires the arguments to be in JSON form");
                };
                if !self.o.docker {
                    r.warn(&format!("SHELL is not supported for OCI image format, {v:?} will be ignored. Must use `docker` format"));
                } else {
                    st.config().insert("Shell".into(), json!(v));
                }
                st.shell = v;
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "HEALTHCHECK" => {
                let hc = healthcheck(ins)?;
                if !self.o.docker {
                    r.warn("HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format");
                } else {
                    st.config().insert("Healthcheck".into(), hc);
                }
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "ONBUILD" => {
                let t = ins.rest.trim();
                let kw = t
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                if matches!(kw.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                    bail!("{kw} isn't allowed as an ONBUILD trigger");
                }
                if !self.o.docker {
                    r.warn(&format!("ONBUILD is not supported for OCI image format, {t} will be ignored. Must use `docker` format"));
                } else {
                    let c = st.config();
                    let mut v = c
                        .get("OnBuild")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    v.push(json!(t));
                    c.insert("OnBuild".into(), Value::Array(v));
                }
                self.commit_step(st, &nop, Vec::new(), None, final_step, r)?;
            }
            "RUN" => self.run_step(st, ins, r, final_step)?,
            "COPY" | "ADD" => self.copy_step(st, ins, r, final_step)?,
            k => bail!("{k} is not supported here"),
        }
        st.first = false;
        Ok(())
    }

    /// SIGKILL the build containers running now (best effort).
    fn kill_running(&self) {
        let ids = self.running.lock().map(|l| l.clone()).unwrap_or_default();
        for id in ids {
            let sel = ctr::Selection {
                names: vec![id.clone()],
                ..Default::default()
            };
            if let Err(e) = ctr::kill(&self.paths, &sel, libc::SIGKILL) {
                debug!("killing build container {id}: {e:#}");
            }
        }
    }

    /// Make (or find in the cache) the image of one step. `key_inputs`:
    /// what the step depends on beyond its instruction; `layer`: writes
    /// the layer tar (None: a metadata step).
    #[allow(clippy::too_many_arguments)]
    fn commit_step(
        &mut self,
        st: &mut StageState,
        created_by: &str,
        key_inputs: Vec<String>,
        layer: Option<&mut MakeLayer<'_, 'o>>,
        final_step: bool,
        r: &mut dyn BuildReport,
    ) -> Result<ImageRecord> {
        if final_step && !self.o.labels.is_empty() {
            let c = st.config();
            let mut m = c
                .get("Labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in &self.o.labels {
                m.insert(k.clone(), json!(v));
            }
            c.insert("Labels".into(), Value::Object(m));
        }
        if self.o.identity_label {
            let c = st.config();
            let mut m = c
                .get("Labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            m.insert(IDENTITY_LABEL.into(), json!(env!("CARGO_PKG_VERSION")));
            c.insert("Labels".into(), Value::Object(m));
        }
        let mut annotations = st.base_annotations.clone();
        if final_step {
            annotations.extend(self.o.annotations.iter().cloned());
        }
        let mut key_inputs = key_inputs;
        key_inputs.push(format!("annotations {annotations:?}"));
        let parent_id = st.image.as_ref().map(|i| i.id.clone()).unwrap_or_default();
        let key = cache::key(
            &parent_id,
            created_by,
            &key_inputs,
            &st.cfg,
            self.o.docker,
            self.o.timestamp,
        );
        let use_cache = self.o.layers && !self.o.no_cache;
        if use_cache {
            if let Some(img) = cache::lookup(&self.store, &key) {
                r.line(&format!("--> Using cache {}", img.id));
                if !final_step {
                    r.line(&format!("--> {}", &img.id[..11]));
                }
                self.adopt(st, img.clone())?;
                return Ok(img);
            }
        }
        let now = self.now();
        let comment = if st.first {
            st.from_comment.clone()
        } else {
            format!("FROM {}", &parent_id[..parent_id.len().min(12)])
        };
        let mut layers = st
            .image
            .as_ref()
            .map(|i| i.layers.clone())
            .unwrap_or_default();
        let mut h = Map::new();
        h.insert("created".into(), json!(now));
        h.insert("created_by".into(), json!(created_by));
        h.insert("comment".into(), json!(comment));
        let _hold = self.store.hold_layers()?;
        match layer {
            Some(f) => {
                let parent = st.image.clone();
                let (nl, by) = f(self, parent.as_ref())?;
                if let Some(by) = by {
                    h.insert("created_by".into(), json!(by));
                }
                let rootfs = st
                    .cfg
                    .as_object_mut()
                    .expect("object")
                    .entry("rootfs")
                    .or_insert_with(|| json!({"type": "layers"}));
                if !rootfs.is_object() {
                    *rootfs = json!({"type": "layers"});
                }
                let mut ids = rootfs["diff_ids"].as_array().cloned().unwrap_or_default();
                ids.push(json!(nl.rec.diff_id));
                rootfs["diff_ids"] = Value::Array(ids);
                layers.push(nl.rec);
            }
            None => {
                h.insert("empty_layer".into(), json!(true));
            }
        }
        let obj = st.cfg.as_object_mut().expect("object");
        obj.insert("created".into(), json!(now));
        let mut hist = obj
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        hist.push(Value::Object(h));
        obj.insert("history".into(), Value::Array(hist));
        let existed = self.store.image_by_id(&cache_id_of(&st.cfg)?)?.is_some();
        let img = crate::image::commit::write_image(
            &self.store,
            &st.cfg,
            layers,
            self.o.docker,
            Vec::new(),
            &annotations,
        )?;
        if !existed {
            self.made.push(img.id.clone());
        }
        if self.o.layers {
            cache::record(&self.store, &key, &img.id)?;
        }
        st.image = Some(img.clone());
        if !final_step {
            r.line(&format!("--> {}", &img.id[..11]));
        }
        Ok(img)
    }

    /// Continue from a cached image: its config is the stage's now.
    fn adopt(&mut self, st: &mut StageState, img: ImageRecord) -> Result<()> {
        st.cfg = serde_json::from_slice(&self.store.read_blob(&img.config_digest)?)
            .context("parsing a cached image's config")?;
        st.image = Some(img);
        Ok(())
    }

    fn run_step(
        &mut self,
        st: &mut StageState,
        ins: &Instruction,
        r: &mut dyn BuildReport,
        final_step: bool,
    ) -> Result<()> {
        let esc = self.esc;
        let snapshot = StageVars::of(st);
        let vars = |n: &str| snapshot.get(n);
        let mut specs = Vec::new();
        let mut network = self.o.network.clone();
        for (k, v) in &ins.flags {
            match k.as_str() {
                "mount" => specs.push(parse::expand(v, esc, &vars)?),
                "network" => {
                    let v = parse::expand(v, esc, &vars)?;
                    if v != "default" {
                        crate::network::NetworkMode::parse(Some(&v))?;
                        network = Some(v);
                    }
                }
                "security" if v == "sandbox" => {}
                "security" => {
                    bail!("RUN --security={v} is not supported: rootless builds run sandboxed")
                }
                _ => bail!("RUN does not take the flag --{k}"),
            }
        }
        let workdir = st.cfg["config"]["WorkingDir"]
            .as_str()
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_string();
        let rm = self.run_mounts(&specs, &workdir, r)?;
        let mut targets = rm.targets.clone();
        for v in &self.o.volumes {
            if let Ok(m) = crate::container::opts::parse_volume(v) {
                targets.push(m.destination);
            }
        }
        let security = crate::container::opts::parse_security_opts(&self.o.security_opt)?;
        let Some(image) = st.image.clone() else {
            bail!("RUN needs a base image: a stage FROM scratch has no shell");
        };
        // The command, and what history records.
        let argv: Vec<String> = match &ins.json {
            Some(v) => v.clone(),
            None => {
                let script = if !ins.heredocs.is_empty()
                    && ins.rest.trim().starts_with("<<")
                    && ins.rest.split_whitespace().count() == 1
                {
                    ins.heredocs[0].body.clone()
                } else if !ins.heredocs.is_empty() {
                    let mut s = ins.rest.clone();
                    for h in &ins.heredocs {
                        s.push('\n');
                        s.push_str(&h.body);
                        s.push_str(&h.name);
                    }
                    s
                } else {
                    ins.rest.clone()
                };
                let mut v = st.shell.clone();
                v.push(script);
                v
            }
        };
        // ARGs reach RUN as environment (not kept in the image).
        let env_keys: std::collections::HashSet<String> = st
            .env()
            .iter()
            .filter_map(|e| e.split_once('=').map(|(k, _)| k.to_string()))
            .collect();
        let arg_env: Vec<String> = st
            .args
            .iter()
            .filter(|(k, _)| !env_keys.contains(*k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut created_by = argv.join(" ");
        if !arg_env.is_empty() {
            created_by = format!("|{} {} {created_by}", arg_env.len(), arg_env.join(" "));
        }
        let opts = self.opts;
        let key_network = network.clone().unwrap_or_default();
        let run_mounts = rm.mounts.clone();
        let mut make = |b: &mut Self,
                        _parent: Option<&ImageRecord>|
         -> Result<(layer::NewLayer, Option<String>)> {
            let spec = crate::container::create::ContainerSpec {
                image: image.id.clone(),
                command: argv.clone(),
                entrypoint: Some(Vec::new()),
                env: arg_env.clone(),
                network: crate::network::NetworkMode::parse(network.as_deref())?,
                mounts: run_mounts.clone(),
                volumes: b.o.volumes.clone(),
                cap_add: b.o.cap_add.clone(),
                cap_drop: b.o.cap_drop.clone(),
                security: security.clone(),
                security_opt: b.o.security_opt.clone(),
                ulimits: b.o.ulimits.clone(),
                // rpod's own user namespace: the only one a rootless build has.
                userns: crate::container::opts::Userns::Host,
                ..Default::default()
            };
            let img = image.clone();
            let rec = crate::container::create::create(opts, &b.paths, &spec, |_| Ok(img))
                .context("creating the build container")?;
            let guard = CtrGuard {
                paths: b.paths.clone(),
                id: rec.id.clone(),
            };
            ctr::spawn(opts, &b.paths, &rec, true).context("starting the build container")?;
            let _running = Running::add(&b.running, &rec.id);
            let how = AttachOptions {
                stdin: false,
                detach_keys: Vec::new(),
                sig_proxy: true,
            };
            let code = match ctr::attach_to(&b.paths, &rec, &how)? {
                Attached::Exited(c) => c,
                Attached::Detached => bail!("detached from the build container"),
            };
            if code != 0 {
                return Err(anyhow::Error::new(StepFailed {
                    step: ins.original.clone(),
                    code,
                }));
            }
            let ctr_dir = b.paths.ctr_dir(&rec.id);
            let nl = layer::store_layer(&b.store, Some(&image), b.o.docker, b.o.timestamp, |w| {
                container_layer(&b.store, &image, &ctr_dir, &targets, w)
            })?;
            drop(guard);
            Ok((nl, None))
        };
        let mut inputs = vec![arg_env.join("\n"), key_network];
        inputs.extend(rm.key.iter().cloned());
        inputs.push(format!(
            "{:?} {:?} {:?} {:?} {:?}",
            self.o.volumes, self.o.cap_add, self.o.cap_drop, self.o.security_opt, self.o.ulimits
        ));
        self.commit_step(st, &created_by, inputs, Some(&mut make), final_step, r)?;
        Ok(())
    }

    fn copy_step(
        &mut self,
        st: &mut StageState,
        ins: &Instruction,
        r: &mut dyn BuildReport,
        final_step: bool,
    ) -> Result<()> {
        let esc = self.esc;
        let snapshot = StageVars::of(st);
        let vars = |n: &str| snapshot.get(n);
        let add = ins.keyword == "ADD";
        for (k, _) in &ins.flags {
            if !matches!(k.as_str(), "from" | "chown" | "chmod" | "link") {
                bail!("{} does not take the flag --{k}", ins.keyword);
            }
        }
        let mut args: Vec<String> = match &ins.json {
            Some(v) => v
                .iter()
                .map(|x| parse::expand(x, esc, &vars))
                .collect::<Result<_>>()?,
            None => parse::words(&ins.rest, esc, &vars)?,
        };
        if args.len() < 2 && ins.heredocs.is_empty() {
            bail!("{} requires at least two arguments", ins.keyword);
        }
        let dest_raw = args.pop().context("no destination")?;
        let workdir = st.cfg["config"]["WorkingDir"]
            .as_str()
            .unwrap_or("/")
            .to_string();
        let dest = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            let mut d = format!("{}/{}", workdir.trim_end_matches('/'), dest_raw);
            if dest_raw == "." || dest_raw == "./" {
                d = format!("{}/", workdir.trim_end_matches('/'));
            }
            d
        };
        let is_url = |a: &String| a.starts_with("http://") || a.starts_with("https://");
        if args
            .iter()
            .any(|a| a.starts_with("git@") || a.ends_with(".git") && is_url(a))
        {
            bail!("{} of a git repository is not supported", ins.keyword);
        }
        let urls: Vec<String> = args.iter().filter(|a| is_url(a)).cloned().collect();
        if !urls.is_empty() {
            if !add {
                bail!("COPY does not take URLs: use ADD");
            }
            if urls.len() != args.len() {
                bail!("ADD of URLs and local files in one instruction is not supported: split it");
            }
            if ins.flag("from").is_some() {
                bail!("ADD --from does not take URLs");
            }
        }
        let heredoc_srcs: Vec<&parse::Heredoc> = ins
            .heredocs
            .iter()
            .filter(|h| {
                args.iter().any(|a| {
                    a.trim_start_matches("<<")
                        .trim_start_matches('-')
                        .trim_matches(['"', '\''])
                        == h.name
                })
            })
            .collect();
        if !heredoc_srcs.is_empty() {
            args.retain(|a| !a.starts_with("<<"));
        }
        let chown = match ins.flag("chown") {
            Some(c) => Some(self.resolve_chown(st.image.as_ref(), &parse::expand(c, esc, &vars)?)?),
            None => None,
        };
        let chmod = match ins.flag("chmod") {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .with_context(|| format!("invalid --chmod {m:?}: use an octal mode"))?,
            ),
            None => None,
        };
        let mut url_sums: Vec<String> = Vec::new();
        // Where the sources are: the context, another stage's/image's tree,
        // or the downloads of ADD URL.
        let from = ins
            .flag("from")
            .map(|f| parse::expand(f, esc, &vars))
            .transpose()?;
        let root: OwnedFd;
        let from_context = from.is_none();
        let from_id: String;
        match &from {
            None if !urls.is_empty() => {
                // The downloads, in a temp dir the copy reads as its root.
                let e = self.store.tmp_entry("build-add", true)?;
                let e_path = e.path.clone();
                // Held (flocked) until the build ends: no other rpod cleans it meanwhile.
                self.held.push(e);
                let mut names = Vec::new();
                let mut sums = Vec::new();
                for u in &urls {
                    let name = fetch::file_name(u);
                    if names.contains(&name) {
                        bail!("ADD: two URLs download to the same name {name:?}");
                    }
                    let file = e_path.join(&name);
                    let modified = fetch::fetch(
                        u,
                        &file,
                        self.o.pull_opts.registry.tls_verify,
                        self.o.pull_opts.registry.cert_dir.as_deref(),
                    )?;
                    // Its time: the server's, else the epoch (a stable cache key).
                    let t = nix::sys::time::TimeSpec::new(modified.unwrap_or(0), 0);
                    nix::sys::stat::utimensat(
                        None,
                        &file,
                        &t,
                        &t,
                        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                    )
                    .with_context(|| format!("setting the time of {}", file.display()))?;
                    sums.push(format!(
                        "{u} {}",
                        crate::storage::sha256_digest(&std::fs::read(&file)?)
                    ));
                    names.push(name);
                }
                args = names;
                url_sums = sums;
                root = inroot::open_root(&e_path).context("opening the downloads")?;
                from_id = String::new();
            }
            None => {
                root = self.ctx_root.try_clone()?;
                from_id = String::new();
            }
            Some(f) => {
                let img = self.stage_or_image(f, r)?;
                from_id = img.id.clone();
                let merged = self.mount_image(&img)?;
                root = inroot::open_root(&merged)
                    .with_context(|| format!("opening the file system of {f}"))?;
            }
        }
        let o = context::CopyOpts {
            chown,
            chmod,
            from_context,
            // A downloaded archive is copied as it is, not unpacked.
            add: add && urls.is_empty(),
        };
        let ignore = if urls.is_empty() {
            Some(&self.ignore)
        } else {
            None
        };
        let store = &self.store;
        let image = st.image.clone();
        let exists = |p: &Path| context::exists_in_image(store, image.as_ref(), p);
        let what = ins.keyword.clone();
        let srcs = if args.is_empty() {
            None
        } else {
            Some(context::resolve(
                root.as_fd(),
                &args,
                &dest,
                ignore,
                &o,
                &exists,
                &what,
            )?)
        };
        // Heredoc sources: files made from the text.
        let mut docs: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for h in &heredoc_srcs {
            let body = if h.expand {
                parse::expand(&h.body, '\u{0}', &vars).unwrap_or_else(|_| h.body.clone())
            } else {
                h.body.clone()
            };
            let rel: PathBuf = inroot::clean(Path::new(&dest)).into_iter().collect();
            let to = if dest.ends_with('/') {
                rel.join(&h.name)
            } else {
                rel
            };
            docs.push((to, body.into_bytes()));
        }
        // The sources' content key (buildah's digest): context files by
        // their content (remembered by stat), downloads read (their
        // url_sums key them too), another image's files by metadata (the
        // image id fixes their content).
        let content = match &srcs {
            None => String::new(),
            Some(s) if from.is_none() && urls.is_empty() => {
                let memo = self
                    .file_hashes
                    .get_or_insert_with(|| cache::FileHashes::load(&self.store));
                s.content_key(root.as_fd(), &o, context::Contents::Read(Some(memo)))?
            }
            Some(s) if from.is_none() => {
                s.content_key(root.as_fd(), &o, context::Contents::Read(None))?
            }
            Some(s) => s.content_key(root.as_fd(), &o, context::Contents::Metadata)?,
        };
        let mut inputs = vec![content.clone(), from_id, format!("{chown:?} {chmod:?}")];
        inputs.extend(url_sums);
        for (p, b) in &docs {
            inputs.push(format!(
                "{}:{}",
                p.display(),
                crate::storage::sha256_digest(b)
            ));
        }
        // History's `COPY dir:HASH in DEST`.
        let hash = if docs.is_empty() {
            content
        } else {
            let mut h = <sha2::Sha256 as sha2::Digest>::new();
            sha2::Digest::update(&mut h, content.as_bytes());
            for (_, b) in &docs {
                sha2::Digest::update(&mut h, b);
            }
            hex::encode(sha2::Digest::finalize(h))
        };
        let root_fd = &root;
        let srcs_ref = srcs.as_ref();
        let kind = match &srcs {
            None => "file",
            Some(s) if s.single_file => "file",
            Some(_) if args.len() > 1 => "multi",
            _ => "dir",
        };
        let keyword = ins.keyword.clone();
        let dest_shown = dest_raw.clone();
        let mut make = |b: &mut Self,
                        parent: Option<&ImageRecord>|
         -> Result<(layer::NewLayer, Option<String>)> {
            let nl = layer::store_layer(&b.store, parent, b.o.docker, b.o.timestamp, |w| {
                let mut w = w;
                if !docs.is_empty() {
                    let mut tb = tar::Builder::new(&mut w);
                    for (p, body) in &docs {
                        let mut h = tar::Header::new_gnu();
                        h.set_entry_type(tar::EntryType::Regular);
                        h.set_mode(o.chmod.unwrap_or(0o644));
                        let (u, g) = o.chown.unwrap_or((0, 0));
                        h.set_uid(u.into());
                        h.set_gid(g.into());
                        h.set_size(body.len() as u64);
                        h.set_mtime(0);
                        tb.append_data(&mut h, p, body.as_slice())?;
                    }
                    if srcs_ref.is_none() {
                        tb.finish()?;
                        return Ok(());
                    }
                    // The sources' tar follows (its end blocks end the stream).
                    tb.into_inner()?;
                }
                if let Some(s) = srcs_ref {
                    s.write_tar(root_fd.as_fd(), &o, w)?;
                }
                Ok(())
            })?;
            let by = format!("/bin/sh -c #(nop) {keyword} {kind}:{hash} in {dest_shown} ");
            Ok((nl, Some(by)))
        };
        let by = format!("/bin/sh -c #(nop) {}", ins.original);
        self.commit_step(st, &by, inputs, Some(&mut make), final_step, r)?;
        Ok(())
    }

    /// The image COPY --from names: a stage (built earlier), or an image.
    fn stage_or_image(&mut self, f: &str, r: &mut dyn BuildReport) -> Result<ImageRecord> {
        let idx = self
            .names
            .get(&f.to_ascii_lowercase())
            .copied()
            .or_else(|| f.parse::<usize>().ok());
        if let Some(i) = idx {
            return self
                .stage_images
                .get(&i)
                .cloned()
                .with_context(|| format!("stage {f} is not built before this one"));
        }
        self.pull(f, r)
    }

    /// Mount `img` read-only (in our private mount namespace); its root.
    fn mount_image(&mut self, img: &ImageRecord) -> Result<PathBuf> {
        let mut t = self.store.tmp_entry("build-from", true)?;
        t.keep();
        let dir = t.path.clone();
        self.tmp.push(dir.clone());
        let merged = dir.join("merged");
        std::fs::create_dir_all(&merged)?;
        crate::rootfs::mount_read_only(&self.store, img, &merged, &dir.join("empty"))
            .with_context(|| format!("mounting image {}", &img.id[..12]))?;
        self.mounts.push(merged.clone());
        Ok(merged)
    }

    /// `--chown=USER[:GROUP]`, names looked up in the image's files.
    fn resolve_chown(&self, image: Option<&ImageRecord>, spec: &str) -> Result<(u32, u32)> {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let read = |path: &str| -> String {
            image
                .and_then(|i| {
                    crate::rootfs::read_image_file(&self.store, i, path)
                        .ok()
                        .flatten()
                })
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let lookup = |text: &str, name: &str| -> Option<(u32, u32)> {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 4 && f[0] == name)
                    .then(|| Some((f[2].parse().ok()?, f[3].parse().unwrap_or(0))))
                    .flatten()
            })
        };
        let (uid, ugid) = match u.parse::<u32>() {
            Ok(n) => (n, n),
            Err(_) => lookup(&read("/etc/passwd"), u)
                .with_context(|| format!("--chown: no user {u:?} in the image's /etc/passwd"))?,
        };
        let gid = match g {
            None => ugid,
            Some(g) => match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => lookup(&read("/etc/group"), g)
                    .map(|(gid, _)| gid)
                    .with_context(|| {
                        format!("--chown: no group {g:?} in the image's /etc/group")
                    })?,
            },
        };
        Ok((uid, gid))
    }
}

/// What a stage built on another thread tells the main one.
enum StageMsg {
    Line(String),
    Warn(String),
    Done(usize, Box<Result<ImageRecord>>, Box<StageDone>),
}

/// What a stage's builder leaves to the build's.
struct StageDone {
    made: Vec<String>,
    file_hashes: Option<cache::FileHashes>,
}

/// The report of a stage built on another thread: its lines, prefixed
/// with the stage (`[2/3] `), go to the main thread, which prints them;
/// pulls made there (COPY --from=IMAGE) show no progress.
struct StageReport {
    tx: std::sync::mpsc::Sender<StageMsg>,
    prefix: String,
}

impl BuildReport for StageReport {
    fn line(&mut self, s: &str) {
        let l = if s.starts_with(&self.prefix) {
            s.to_string()
        } else {
            format!("{}{s}", self.prefix)
        };
        let _ = self.tx.send(StageMsg::Line(l));
    }
    fn warn(&mut self, s: &str) {
        let _ = self.tx.send(StageMsg::Warn(format!("{}{s}", self.prefix)));
    }
    fn pull_progress(&self) -> &dyn PullProgress {
        &QuietPull
    }
}

/// No pull progress.
struct QuietPull;

impl PullProgress for QuietPull {
    fn step(&self, _: crate::image::PullStep<'_>) {}
    fn downloading(&self, _: u64) {}
    fn blob(&self, _: &str, _: u64) -> Box<dyn crate::image::BlobProgress + '_> {
        Box::new(QuietPull)
    }
    fn downloaded(&self) {}
}

impl crate::image::BlobProgress for QuietPull {
    fn advance(&self, _: u64) {}
    fn restart(&self) {}
    fn done(&self) {}
}

/// Writes a step's layer; Some(created_by) replaces the history's.
type MakeLayer<'a, 'o> = dyn FnMut(&mut Builder<'o>, Option<&ImageRecord>) -> Result<(layer::NewLayer, Option<String>)>
    + 'a;

/// A copy of the variables of a stage at one step.
struct StageVars {
    env: Vec<(String, String)>,
    args: BTreeMap<String, String>,
}

impl StageVars {
    fn of(st: &StageState) -> StageVars {
        StageVars {
            env: st
                .env()
                .iter()
                .filter_map(|e| {
                    e.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
                .collect(),
            args: st.args.clone(),
        }
    }
    fn get(&self, n: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .or_else(|| self.args.get(n).cloned())
    }
}

/// A build container listed as running while this lives.
struct Running {
    list: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    id: String,
}

impl Running {
    fn add(list: &std::sync::Arc<std::sync::Mutex<Vec<String>>>, id: &str) -> Running {
        if let Ok(mut l) = list.lock() {
            l.push(id.to_string());
        }
        Running {
            list: list.clone(),
            id: id.to_string(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut l) = self.list.lock() {
            l.retain(|i| *i != self.id);
        }
    }
}

/// Removes a build container however the step ends.
struct CtrGuard {
    paths: Paths,
    id: String,
}

impl Drop for CtrGuard {
    fn drop(&mut self) {
        if let Err(e) =
            crate::container::lifecycle::remove_container(&self.paths, &self.id, true, Some(0))
        {
            warn!("removing build container {}: {e:#}", self.id);
        }
    }
}

/// The layer of a build container's changes: its upper dir (or, with the
/// vfs driver, its rootfs compared with the image).
fn container_layer(
    store: &Store,
    image: &ImageRecord,
    ctr_dir: &Path,
    targets: &[String],
    w: &mut dyn std::io::Write,
) -> Result<()> {
    use crate::storage::diff::{changes_of_copy, reopen_dir, TarMode, TreeTar};
    let rootfs = ctr_dir.join("rootfs");
    if rootfs.is_dir() {
        let skip: std::collections::HashSet<String> = targets.iter().cloned().collect();
        let lowers: Vec<PathBuf> = image
            .layers
            .iter()
            .rev()
            .map(|l| store.layer_dir(&l.chain_id))
            .collect();
        let found = changes_of_copy(&rootfs, &lowers, &skip)?;
        let root =
            inroot::open_root(&rootfs).with_context(|| format!("opening {}", rootfs.display()))?;
        let dir = reopen_dir(root.as_fd())?;
        let mut t = TreeTar::new(w, TarMode::Plain);
        t.add_changes(dir.as_fd(), &found)?;
        t.finish()?;
        return Ok(());
    }
    let upper = ctr_dir.join("upper");
    let root = inroot::open_root(&upper).with_context(|| format!("opening {}", upper.display()))?;
    drop_mount_points(store, image, root.as_fd(), targets);
    let dir = reopen_dir(root.as_fd())?;
    let mut t = TreeTar::new(w, TarMode::Layer);
    t.add_contents(dir.as_fd(), Path::new(""))?;
    t.finish()?;
    Ok(())
}

/// The files the runtime makes to mount over (resolv.conf, hosts, …) are
/// not the step's: removed from the upper dir when the image has none and
/// they are empty, as buildah leaves them out.
fn drop_mount_points(
    store: &Store,
    image: &ImageRecord,
    upper: std::os::fd::BorrowedFd<'_>,
    targets: &[String],
) {
    for p in [
        "etc/resolv.conf",
        "etc/hosts",
        "etc/hostname",
        "run/.containerenv",
    ] {
        let rel = Path::new(p);
        if context::exists_in_image(store, Some(image), rel).is_some() {
            continue;
        }
        let Ok(fd) = inroot::open(upper, rel, false) else {
            continue;
        };
        let Ok(st) = inroot::fstat(fd.as_fd()) else {
            continue;
        };
        if inroot::kind(&st) != nix::sys::stat::SFlag::S_IFREG || st.st_size != 0 {
            continue;
        }
        drop(fd);
        let Some(parent) = rel.parent() else { continue };
        if let Ok(dir) = inroot::open(upper, parent, false) {
            let _ = nix::unistd::unlinkat(
                Some(std::os::fd::AsRawFd::as_raw_fd(&dir)),
                rel.file_name().unwrap_or_default(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }
    // The mount points of RUN --mount and --volume, and the directories
    // made for them, when the image had none and they are empty.
    for t in targets {
        let mut rel: PathBuf = inroot::clean(Path::new(t)).into_iter().collect();
        while rel.parent().is_some() && !rel.as_os_str().is_empty() {
            if context::exists_in_image(store, Some(image), &rel).is_some() {
                break;
            }
            let Ok(fd) = inroot::open(upper, &rel, false) else {
                break;
            };
            let Ok(st) = inroot::fstat(fd.as_fd()) else {
                break;
            };
            drop(fd);
            let kind = inroot::kind(&st);
            let flag = if kind == nix::sys::stat::SFlag::S_IFDIR {
                nix::unistd::UnlinkatFlags::RemoveDir
            } else if kind == nix::sys::stat::SFlag::S_IFREG && st.st_size == 0 {
                nix::unistd::UnlinkatFlags::NoRemoveDir
            } else {
                break;
            };
            let Some(parent) = rel.parent() else { break };
            let Ok(dir) = inroot::open(upper, parent, false) else {
                break;
            };
            // A non-empty directory stays (rmdir fails): the step wrote there.
            if nix::unistd::unlinkat(
                Some(std::os::fd::AsRawFd::as_raw_fd(&dir)),
                rel.file_name().unwrap_or_default(),
                flag,
            )
            .is_err()
            {
                break;
            }
            rel = parent.to_path_buf();
        }
    }
}

/// `ARG A=1 B` declarations: (name, default).
fn arg_decls(
    rest: &str,
    esc: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    for w in parse::words(rest, esc, vars)? {
        match w.split_once('=') {
            Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
            None => out.push((w, None)),
        }
    }
    if out.is_empty() {
        bail!("ARG requires exactly one argument");
    }
    Ok(out)
}

fn clean_abs(p: &str) -> String {
    let parts: Vec<String> = inroot::clean(Path::new(p))
        .into_iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    format!("/{}", parts.join("/"))
}

/// The id an image of config `cfg` gets (its config's digest).
fn cache_id_of(cfg: &Value) -> Result<String> {
    let d = crate::storage::sha256_digest(&serde_json::to_vec(cfg)?);
    Ok(crate::storage::digest_hex(&d)?.to_string())
}

/// The host's architecture as OCI names it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        a => a,
    }
}

/// The HEALTHCHECK instruction as Docker's config records it.
fn healthcheck(ins: &Instruction) -> Result<Value> {
    let rest = ins.rest.trim();
    if rest.eq_ignore_ascii_case("none") {
        return Ok(json!({"Test": ["NONE"]}));
    }
    let (kw, cmd) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if !kw.eq_ignore_ascii_case("cmd") {
        bail!("HEALTHCHECK takes CMD or NONE");
    }
    let test = match parse::json_form(cmd) {
        Some(v) => {
            let mut t = vec!["CMD".to_string()];
            t.extend(v);
            t
        }
        None => vec!["CMD-SHELL".to_string(), cmd.trim().to_string()],
    };
    let mut hc = json!({"Test": test});
    for (k, v) in &ins.flags {
        let key = match k.as_str() {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let n: u64 = v
                    .parse()
                    .with_context(|| format!("invalid --retries {v:?}"))?;
                hc["Retries"] = json!(n);
                continue;
            }
            _ => bail!("HEALTHCHECK does not take --{k}"),
        };
        hc[key] = json!(parse_duration_ns(v)?);
    }
    Ok(hc)
}

/// A Go duration ("30s", "1m30s", "500ms") in nanoseconds.
fn parse_duration_ns(s: &str) -> Result<u64> {
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        bail!("invalid duration {s:?}");
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n]
            .parse()
            .with_context(|| format!("invalid duration {s:?}"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => bail!("invalid duration {s:?}"),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Ok(total as u64)
}
