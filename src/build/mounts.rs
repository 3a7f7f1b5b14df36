//! `RUN --mount=type=bind|cache|tmpfs|secret` (BuildKit's syntax) as the
//! build container's mounts.
//!
//! A bind's source is resolved inside its root (the context, or a stage's
//! or image's file system) with `inroot`: `..` and symlinks stay in it, as
//! BuildKit cleans the path against its root. A secret's value comes only
//! from `rpod build --secret`; a Containerfile cannot name a host file.
//! The mount points the runtime makes in the upper dir are not the
//! step's: the caller drops them (`targets`) before the layer is made.

use super::{BuildReport, Builder, SecretSource};
use crate::sys::inroot;
use anyhow::{bail, Context, Result};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

/// The mounts of one RUN step.
#[derive(Debug, Default)]
pub(super) struct RunMounts {
    /// `--mount` values for the container.
    pub mounts: Vec<String>,
    /// Their targets in the container.
    pub targets: Vec<String>,
    /// What the step's cache key depends on.
    pub key: Vec<String>,
}

fn flag(v: &str) -> bool {
    matches!(v, "" | "true" | "1")
}

/// A target in the container: absolute (relative to the workdir), clean.
fn target_of(t: &str, workdir: &str) -> String {
    let full = if t.starts_with('/') {
        t.to_string()
    } else {
        format!("{}/{}", workdir.trim_end_matches('/'), t)
    };
    super::clean_abs(&full)
}

/// A host path given to the container's `--mount` syntax.
fn mount_path(p: &Path) -> Result<String> {
    let s = p.to_string_lossy().into_owned();
    if s.contains([',', '=']) || s.contains('\n') {
        bail!("the path {s:?} can not be mounted into a RUN step: it holds ',' or '='");
    }
    Ok(s)
}

impl<'o> Builder<'o> {
    /// The mounts of `RUN` flags `specs` (the `--mount` values, expanded).
    pub(super) fn run_mounts(
        &mut self,
        specs: &[String],
        workdir: &str,
        r: &mut dyn BuildReport,
    ) -> Result<RunMounts> {
        let mut out = RunMounts::default();
        for spec in specs {
            self.run_mount(spec, workdir, &mut out, r)
                .with_context(|| format!("--mount={spec}"))?;
        }
        Ok(out)
    }

    fn run_mount(
        &mut self,
        spec: &str,
        workdir: &str,
        out: &mut RunMounts,
        r: &mut dyn BuildReport,
    ) -> Result<()> {
        let mut kind = "bind".to_string();
        let mut target = None;
        let mut source = None;
        let mut from = None;
        let mut id = None;
        let mut rw = false;
        let mut required = false;
        let mut size = None;
        let mut mode = None;
        let mut uid = None;
        let mut gid = None;
        for kv in spec.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "type" => kind = v.to_string(),
                "target" | "dst" | "destination" => target = Some(v.to_string()),
                "source" | "src" => source = Some(v.to_string()),
                "from" => from = Some(v.to_string()),
                "id" => id = Some(v.to_string()),
                "ro" | "readonly" => rw = !flag(v),
                "rw" | "readwrite" => rw = flag(v),
                "required" => required = flag(v),
                "size" => size = Some(v.to_string()),
                "mode" => {
                    mode = Some(
                        u32::from_str_radix(v, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .with_context(|| format!("invalid mode {v:?}: use an octal mode"))?,
                    )
                }
                "uid" => {
                    uid = Some(
                        v.parse::<u32>()
                            .with_context(|| format!("invalid uid {v:?}"))?,
                    )
                }
                "gid" => {
                    gid = Some(
                        v.parse::<u32>()
                            .with_context(|| format!("invalid gid {v:?}"))?,
                    )
                }
                // Cache sharing modes: steps run one at a time here.
                "sharing" => {
                    if !matches!(v, "shared" | "private" | "locked") {
                        bail!("invalid sharing {v:?}: use shared, private or locked");
                    }
                }
                "relabel" | "z" | "Z" => {}
                _ => bail!("unknown option {k:?}"),
            }
        }
        match kind.as_str() {
            "bind" => {
                let target = target.context("a bind mount needs target=")?;
                let (root, from_id): (PathBuf, String) = match &from {
                    None => (self.o.context.clone(), String::new()),
                    Some(f) => {
                        let img = self.stage_or_image(f, r)?;
                        (self.mount_image(&img)?, img.id)
                    }
                };
                let root_fd = inroot::open_root(&root)
                    .with_context(|| format!("opening {}", root.display()))?;
                let src = source.unwrap_or_else(|| ".".into());
                let rel: PathBuf = inroot::clean(Path::new(&src)).into_iter().collect();
                let fd = inroot::open(root_fd.as_fd(), &rel, true).with_context(|| {
                    format!("bind source {src:?}: not found in {}", what_root(&from))
                })?;
                // The real path of what was found inside the root.
                let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                    .context("reading the bind source's path")?;
                let real_root = std::fs::canonicalize(&root)?;
                if !real.starts_with(&real_root) {
                    bail!("bind source {src:?} is outside {}", what_root(&from));
                }
                // From the context: what the ignore file leaves out is not
                // there, as BuildKit mounts the context it was sent.
                let mut filtered = None;
                let content = match &from {
                    None => {
                        let copy = super::context::CopyOpts {
                            chown: None,
                            chmod: None,
                            from_context: true,
                            add: false,
                        };
                        let srcs = super::context::resolve(
                            root_fd.as_fd(),
                            std::slice::from_ref(&src),
                            "/",
                            Some(&self.ignore),
                            &copy,
                            &|_| None,
                            "RUN --mount source",
                        )?;
                        let memo = self
                            .file_hashes
                            .get_or_insert_with(|| super::cache::FileHashes::load(&self.store));
                        let key = srcs.content_key(
                            root_fd.as_fd(),
                            &copy,
                            super::context::Contents::Read(Some(memo)),
                        )?;
                        if srcs.excluded_any {
                            filtered = Some(self.filtered_copy(root_fd.as_fd(), &srcs, &copy)?);
                        }
                        key
                    }
                    Some(_) => String::new(),
                };
                let host = match filtered {
                    // A copy already: the step's writes stay its own.
                    Some(f) => f,
                    // Writes are the step's own, discarded after it (BuildKit).
                    None if rw => self.private_copy(&real)?,
                    None => real.clone(),
                };
                let t = target_of(&target, workdir);
                out.mounts.push(format!(
                    "type=bind,source={},target={t},{}",
                    mount_path(&host)?,
                    if rw { "rw" } else { "ro" }
                ));
                out.key
                    .push(format!("bind {from_id} {src} {t} {rw} {content}"));
                out.targets.push(t);
            }
            "cache" => {
                let target = target.context("a cache mount needs target=")?;
                let t = target_of(&target, workdir);
                if from.is_some() || source.is_some() {
                    bail!("cache mounts from another stage are not supported: use id= and target=");
                }
                let name = id.unwrap_or_else(|| t.clone());
                let key = crate::storage::sha256_digest(name.as_bytes());
                let dir = self
                    .store
                    .root()
                    .join("build-cache-mounts")
                    .join(crate::storage::digest_hex(&key)?);
                if !dir.exists() {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(
                        &dir,
                        std::fs::Permissions::from_mode(mode.unwrap_or(0o755)),
                    )?;
                    if uid.is_some() || gid.is_some() {
                        nix::unistd::chown(
                            &dir,
                            uid.map(nix::unistd::Uid::from_raw),
                            gid.map(nix::unistd::Gid::from_raw),
                        )
                        .with_context(|| format!("chown of {}", dir.display()))?;
                    }
                }
                out.mounts.push(format!(
                    "type=bind,source={},target={t},{}",
                    mount_path(&dir)?,
                    "rw"
                ));
                out.key.push(format!("cache {t}"));
                out.targets.push(t);
            }
            "tmpfs" => {
                let target = target.context("a tmpfs mount needs target=")?;
                let t = target_of(&target, workdir);
                let mut m = format!("type=tmpfs,target={t}");
                if let Some(s) = &size {
                    crate::container::opts::parse_bytes(s)?;
                    m.push_str(&format!(",tmpfs-size={s}"));
                }
                out.mounts.push(m);
                out.key.push(format!("tmpfs {t} {size:?}"));
                out.targets.push(t);
            }
            "secret" => {
                if source.is_some() || from.is_some() {
                    bail!(
                        "a secret mount takes no source: give its value with rpod build --secret id=ID,src=PATH"
                    );
                }
                let id = id
                    .or_else(|| {
                        target
                            .as_deref()
                            .and_then(|t| Path::new(t).file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                    })
                    .context("a secret mount needs id=")?;
                let t = target_of(
                    target.as_deref().unwrap_or(&format!("/run/secrets/{id}")),
                    workdir,
                );
                let Some(secret) = self.o.secrets.iter().rev().find(|s| s.id == id) else {
                    if required {
                        bail!("secret {id:?} is required but was not given (rpod build --secret id={id},src=PATH)");
                    }
                    return Ok(());
                };
                let value = match &secret.source {
                    SecretSource::File(p) => std::fs::read(p)
                        .with_context(|| format!("reading secret {id:?} from {}", p.display()))?,
                    SecretSource::Env(v) => std::env::var(v)
                        .with_context(|| format!("secret {id:?}: no environment variable {v}"))?
                        .into_bytes(),
                };
                // A private copy the step reads; removed with the build's temp dirs.
                let e = self.store.tmp_entry("build-secret", true)?;
                let e_path = e.path.clone();
                // Held (flocked) until the build ends: no other rpod cleans it meanwhile.
                self.held.push(e);
                let file = e_path.join("secret");
                {
                    use std::io::Write;
                    use std::os::unix::fs::OpenOptionsExt;
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(mode.unwrap_or(0o400))
                        .open(&file)
                        .with_context(|| format!("creating {}", file.display()))?;
                    f.write_all(&value)?;
                }
                if uid.is_some() || gid.is_some() {
                    nix::unistd::chown(
                        &file,
                        uid.map(nix::unistd::Uid::from_raw),
                        gid.map(nix::unistd::Gid::from_raw),
                    )?;
                }
                out.mounts.push(format!(
                    "type=bind,source={},target={t},ro",
                    mount_path(&file)?
                ));
                // Only the id: a secret's value never reaches the cache key.
                out.key.push(format!("secret {id} {t}"));
                out.targets.push(t);
            }
            "ssh" => bail!("RUN --mount=type=ssh is not supported by rpod"),
            k => bail!("unknown mount type {k:?}: use bind, cache, tmpfs or secret"),
        }
        Ok(())
    }

    /// A copy of the context's `srcs` (a directory, the ignore file
    /// applied) for a bind mount: the same hardened extractor as layers.
    fn filtered_copy(
        &mut self,
        root: std::os::fd::BorrowedFd<'_>,
        srcs: &super::context::Sources,
        copy: &super::context::CopyOpts,
    ) -> Result<PathBuf> {
        let e = self.store.tmp_entry("build-bind", true)?;
        let e_path = e.path.clone();
        // Held (flocked) until the build ends: no other rpod cleans it meanwhile.
        self.held.push(e);
        let dst = e_path.join("copy");
        std::fs::create_dir(&dst)?;
        let (rd, wr) = super::output::pipe()?;
        let dst_fd: std::os::fd::OwnedFd = std::fs::File::open(&dst)?.into();
        let reader = std::thread::spawn(move || {
            crate::storage::extract_plain(
                rd,
                dst_fd,
                crate::storage::PlainOpts {
                    chown: nix::unistd::geteuid().is_root(),
                    ..Default::default()
                },
            )
        });
        let res = (|| -> Result<()> {
            let mut w = std::io::BufWriter::new(wr);
            srcs.write_tar(root, copy, &mut w)?;
            use std::io::Write;
            w.flush()?;
            Ok(())
        })();
        let got = reader
            .join()
            .map_err(|_| anyhow::anyhow!("copying the bind source panicked"))?;
        res.context("copying the bind source without the ignored files")?;
        got.context("copying the bind source without the ignored files")?;
        Ok(dst)
    }

    /// A private copy of `src` (a file or a tree) for a `rw` bind.
    fn private_copy(&mut self, src: &Path) -> Result<PathBuf> {
        let e = self.store.tmp_entry("build-bind", true)?;
        let e_path = e.path.clone();
        // Held (flocked) until the build ends: no other rpod cleans it meanwhile.
        self.held.push(e);
        let dst = e_path.join("copy");
        let st = std::fs::symlink_metadata(src)?;
        if st.is_dir() {
            std::fs::create_dir(&dst)?;
            let root =
                inroot::open_root(src).with_context(|| format!("opening {}", src.display()))?;
            let dir = crate::storage::diff::reopen_dir(root.as_fd())?;
            let (rd, wr) = super::output::pipe()?;
            let dst_fd: std::os::fd::OwnedFd = std::fs::File::open(&dst)?.into();
            let reader = std::thread::spawn(move || {
                crate::storage::extract_plain(
                    rd,
                    dst_fd,
                    crate::storage::PlainOpts {
                        chown: nix::unistd::geteuid().is_root(),
                        ..Default::default()
                    },
                )
            });
            let res = (|| -> Result<()> {
                let mut t = crate::storage::diff::TreeTar::new(
                    std::io::BufWriter::new(wr),
                    crate::storage::diff::TarMode::Plain,
                );
                t.add_contents(dir.as_fd(), Path::new(""))?;
                t.finish()?;
                Ok(())
            })();
            let got = reader
                .join()
                .map_err(|_| anyhow::anyhow!("copying {} panicked", src.display()))?;
            res?;
            got?;
        } else {
            std::fs::copy(src, &dst).with_context(|| format!("copying {}", src.display()))?;
        }
        Ok(dst)
    }
}

fn what_root(from: &Option<String>) -> String {
    match from {
        None => "the build context".into(),
        Some(f) => format!("{f}'s file system"),
    }
}
