//! `cp`, `diff`, `commit`, `export` and `container exists`: the flags and
//! their output; the work is in `container::cp` and `image::commit`.

use super::GlobalOpts;
use crate::container::cp::{self, CpOptions};
use crate::container::pause;
use crate::container::record::{self, Paths};
use crate::options::Options;
use crate::storage::diff::ChangeKind;
use crate::storage::Store;
use anyhow::{Context, Result};
use clap::{ArgAction, Args};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct CpArgs {
    /// Chown copied files to the container's main user (true) or keep the source's ids (false)
    #[arg(short, long, default_value = "true", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub archive: bool,
    /// Allow directories to be overwritten with non-directories and vice versa
    #[arg(long)]
    pub overwrite: bool,
    /// [CONTAINER:]SRC_PATH, or - for a tar stream on stdin
    #[arg(value_name = "SRC")]
    pub src: String,
    /// [CONTAINER:]DEST_PATH, or - for a tar stream on stdout
    #[arg(value_name = "DEST")]
    pub dest: String,
}

#[derive(Args, Debug, Clone)]
pub struct DiffArgs {
    /// Output format: json
    #[arg(long, value_name = "FORMAT", value_parser = ["json"])]
    pub format: Option<String>,
    /// Container or image to show the changes of
    #[arg(value_name = "CONTAINER|IMAGE")]
    pub target: String,
    /// Container or image to compare it with, instead of its parent layer
    #[arg(value_name = "CONTAINER|IMAGE")]
    pub other: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ImageDiffArgs {
    /// Output format: json
    #[arg(long, value_name = "FORMAT", value_parser = ["json"])]
    pub format: Option<String>,
    /// Image to show the changes of
    #[arg(value_name = "IMAGE")]
    pub target: String,
    /// Image to compare it with, instead of its parent layer
    #[arg(value_name = "IMAGE")]
    pub other: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct CommitArgs {
    /// Author of the image
    #[arg(short, long, value_name = "AUTHOR")]
    pub author: Option<String>,
    /// Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Commit message (docker format only, as in podman)
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Pause a running container while committing (default true; --pause=false to not)
    #[arg(short, long, default_value = "true", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub pause: bool,
    /// Image format: oci or docker
    #[arg(short, long, value_name = "FORMAT", default_value = "oci",
          value_parser = ["oci", "docker"])]
    pub format: String,
    /// Squash the image's layers and the container's changes into one layer
    #[arg(short, long)]
    pub squash: bool,
    /// Print only the image id (rpod never prints more)
    #[arg(short, long)]
    pub quiet: bool,
    /// Record the container's volumes in the image's config
    #[arg(long)]
    pub include_volumes: bool,
    /// Container to commit
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Name of the new image (default: none, a dangling image)
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// Write to this file instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Container to export
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug, Clone)]
pub struct ExistsArgs {
    /// Also look for containers of other tools (rpod has none: no effect)
    #[arg(long)]
    pub external: bool,
    /// Container name or id
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

fn open(g: &GlobalOpts) -> Result<(Store, Paths)> {
    let opts: Options = g.into();
    let store = Store::open(&opts)?;
    let paths = Paths::new(&opts)?;
    Ok((store, paths))
}

/// `rpod cp`.
pub fn cp_cmd(g: &GlobalOpts, a: &CpArgs) -> Result<()> {
    let src = cp::parse_loc(&a.src);
    let dst = cp::parse_loc(&a.dest);
    let (store, paths) = open(g)?;
    let names: Vec<&str> = [&src, &dst]
        .into_iter()
        .filter_map(|l| match l {
            cp::Loc::Container { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    cp::enter_namespaces(&paths, &names)?;
    let o = CpOptions {
        archive: a.archive,
        overwrite: a.overwrite,
    };
    cp::cp(
        &store,
        &paths,
        &src,
        &dst,
        o,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    )
}

/// `rpod export`.
pub fn export_cmd(g: &GlobalOpts, a: &ExportArgs) -> Result<()> {
    let (store, paths) = open(g)?;
    if a.output.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        anyhow::bail!("refusing to export to terminal. Use -o flag or redirect");
    }
    // The output file is the user's: made before entering the namespace.
    match &a.output {
        Some(p) => {
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
            let tmp = p.with_file_name(format!(
                ".{}.rpod-tmp",
                p.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            cp::enter_namespaces(&paths, &[&a.container])?;
            let res = cp::export(&store, &paths, &a.container, &f).and_then(|()| {
                f.sync_all()?;
                std::fs::rename(&tmp, p).with_context(|| format!("writing {}", p.display()))
            });
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            let _ = dir;
            res
        }
        None => {
            cp::enter_namespaces(&paths, &[&a.container])?;
            cp::export(&store, &paths, &a.container, std::io::stdout().lock())
        }
    }
}

/// `rpod container exists`: exit 0 if it does, 1 if not.
pub fn exists_cmd(g: &GlobalOpts, a: &ExistsArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    match record::resolve(&paths, &a.container) {
        Ok(_) => Ok(()),
        Err(e) if record::is_no_such(&e) => Err(super::exit::exit_status(1)),
        Err(e) => Err(e),
    }
}

/// `rpod diff`, `container diff`, `image diff` (of one, or between two).
pub fn diff_cmd(
    g: &GlobalOpts,
    target: &str,
    other: Option<&str>,
    format: Option<&str>,
    image_only: bool,
) -> Result<()> {
    let (store, paths) = open(g)?;
    crate::userns::enter()?;
    // `image diff`: an image even when a container has that name.
    let ctrs = (!image_only).then_some(&paths);
    let changes = match other {
        // podman's `diff A B`: A compared with B (as one is with its
        // parent layer): what is only in A is added.
        Some(b) => crate::image::commit::diff_between(&store, ctrs, b, target)?,
        None => crate::image::commit::diff(&store, ctrs, target)?,
    };
    let mut out = std::io::stdout().lock();
    if format == Some("json") {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            #[serde(skip_serializing_if = "Vec::is_empty")]
            changed: Vec<&'a str>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            added: Vec<&'a str>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            deleted: Vec<&'a str>,
        }
        let of = |kind: ChangeKind| -> Vec<&str> {
            changes
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.path.as_str())
                .collect()
        };
        let r = Report {
            changed: of(ChangeKind::Changed),
            added: of(ChangeKind::Added),
            deleted: of(ChangeKind::Deleted),
        };
        // podman indents this with five spaces.
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"     ");
        serde::Serialize::serialize(
            &r,
            &mut serde_json::Serializer::with_formatter(&mut buf, fmt),
        )?;
        out.write_all(&buf)?;
        writeln!(out)?;
    } else {
        for c in &changes {
            writeln!(out, "{} {}", c.kind.letter(), c.path)?;
        }
    }
    Ok(())
}

/// `rpod commit`.
pub fn commit_cmd(g: &GlobalOpts, a: &CommitArgs) -> Result<()> {
    let name = a
        .image
        .as_deref()
        .map(crate::image::normalize_local_name)
        .transpose()?;
    let (store, paths) = open(g)?;
    let ctr_id = record::resolve(&paths, &a.container)?;
    let _serial = crate::image::commit::lock_for_commit(&paths, &ctr_id)?;
    // Paused from here (rpod's own user, as `rpod pause` does), before
    // entering any namespace; unpaused whatever happens to the commit.
    let paused = if a.pause {
        pause_for_commit(&paths, &ctr_id)?
    } else {
        None
    };
    let watcher = match &paused {
        Some(_) => Some(SignalWatch::block()?),
        None => None,
    };
    let res = (|| {
        cp::enter_namespaces(&paths, &[&a.container])?;
        if let (Some(w), Some(id)) = (&watcher, &paused) {
            w.unpause_on_signal(paths.clone(), id.clone());
        }
        let o = crate::image::commit::CommitOptions {
            author: a.author.clone(),
            changes: a.change.clone(),
            message: a.message.clone(),
            format: a.format.clone(),
            squash: a.squash,
            include_volumes: a.include_volumes,
            name,
        };
        crate::image::commit::commit(&store, &paths, &a.container, &o)
    })();
    if let Some(id) = &paused {
        if let Err(e) = pause::unpause(&paths, id) {
            error!("unpausing container {id} after the commit: {e:#}");
        }
    }
    let id = res?;
    writeln!(std::io::stdout().lock(), "{id}")?;
    Ok(())
}

/// Pause `name` for a commit if it is running; its id if we paused it (a
/// container that is stopped, or paused already, is committed as it is).
fn pause_for_commit(paths: &Paths, name: &str) -> Result<Option<String>> {
    let id = record::resolve(paths, name)?;
    if !record::observe(paths, &id).is_running() {
        return Ok(None);
    }
    match pause::pause(paths, &id) {
        Ok(id) => Ok(Some(id)),
        // Stopped or paused by someone else in the meantime.
        Err(e) if matches!(e.downcast_ref(), Some(crate::Error::ContainerState(_))) => Ok(None),
        Err(e) => Err(e.context(format!("pausing container {name} to commit it"))),
    }
}

/// While a container is paused for a commit, SIGINT, SIGTERM and SIGHUP
/// unpause it before rpod exits (128 + the signal, as the shell reports).
struct SignalWatch {
    fd: nix::sys::signalfd::SignalFd,
}

impl SignalWatch {
    /// Block the signals (before any thread exists, so every one inherits it).
    fn block() -> Result<SignalWatch> {
        use nix::sys::signal::{SigSet, Signal};
        let mut mask = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            mask.add(s);
        }
        mask.thread_block()?;
        let fd = nix::sys::signalfd::SignalFd::with_flags(
            &mask,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC,
        )?;
        Ok(SignalWatch { fd })
    }

    /// A thread that waits for one of them (once the namespaces are
    /// entered: joining a user namespace needs a single thread).
    fn unpause_on_signal(&self, paths: Paths, id: String) {
        let Ok(fd) = self.fd.as_fd().try_clone_to_owned() else {
            return;
        };
        std::thread::spawn(move || {
            let mut buf = [0u8; 128];
            let n = nix::unistd::read(fd.as_raw_fd(), &mut buf).unwrap_or(0);
            let signo = if n >= 4 {
                u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as i32
            } else {
                libc::SIGTERM
            };
            if let Err(e) = pause::unpause(&paths, &id) {
                error!("unpausing container {id}: {e:#}");
            }
            std::process::exit(128 + signo);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;

    fn cp(args: &[&str]) -> super::CpArgs {
        let mut v = vec!["rpod", "cp"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).unwrap().command {
            Command::Cp(a) => a,
            _ => panic!("not cp"),
        }
    }

    #[test]
    fn archive_is_a_flag_that_takes_false_with_equals() {
        let a = cp(&["-a", "c:/x", "y"]);
        assert!(a.archive);
        assert_eq!((a.src.as_str(), a.dest.as_str()), ("c:/x", "y"));
        assert!(!cp(&["--archive=false", "c:/x", "y"]).archive);
        assert!(cp(&["c:/x", "y"]).archive);
    }

    #[test]
    fn commit_pauses_unless_told_not_to() {
        let commit = |args: &[&str]| {
            let mut v = vec!["rpod", "commit"];
            v.extend_from_slice(args);
            match Cli::try_parse_from(v).unwrap().command {
                Command::Commit(a) => a,
                _ => panic!("not commit"),
            }
        };
        assert!(commit(&["c"]).pause);
        assert!(commit(&["-p", "c", "img"]).pause);
        assert!(!commit(&["--pause=false", "c"]).pause);
        assert_eq!(commit(&["-p", "c", "img"]).image.as_deref(), Some("img"));
    }
}
