//! `image scp`: copy an image to or from another user's storage on this
//! machine, or another host over ssh, the way podman 4.3 does it: the image
//! is saved to an archive on one side and loaded on the other.
//!
//! Unlike podman, which saves to a named temporary file, copies it with its
//! own ssh client into a second one on the remote host and loads that, rpod
//! keeps the archive in one unnamed file of $TMPDIR and hands it to each
//! side as a descriptor: `rpod save` (here, as the source user, or on the
//! remote host through the system `ssh`) writes it as its stdout, and
//! `rpod load` (likewise) reads it as its stdin. Nothing is left of it on
//! either side however rpod ends.
//!
//! On a remote host rpod runs `rpod` when it is on the remote PATH, else
//! `podman` (podman runs `podman` there). Every word of the remote command
//! is checked before anything runs: a host or user that could be read as an
//! ssh option, or an image name with anything a shell would act on, is
//! refused; and the words are single-quoted anyway.

use anyhow::{anyhow, bail, Context, Result};
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};

/// Where one side of the copy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Our own storage (or, when both sides are on this machine, the
    /// default other user: see [`Plan`]).
    Here,
    /// `USER@localhost::`: that user's storage on this machine.
    User(String),
    /// `[USER@]HOST[:PORT][/PATH]::`: over ssh.
    Remote(SshTarget),
}

/// A host to reach with `ssh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The login name (our own when the argument names none, as podman does).
    pub user: String,
    pub host: String,
    pub port: Option<u16>,
    /// Whether the argument named the user (a bare `HOST::` is what podman
    /// looks up as a connection name first).
    pub user_given: bool,
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ssh://{}@{}", self.user, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// One parsed SOURCE or DESTINATION argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub place: Place,
    pub image: Option<String>,
}

/// What to copy from where to where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub source: Place,
    pub image: String,
    pub dest: Place,
    /// A name given on the destination side: the loaded image is tagged
    /// with it (podman's `IMAGE HOST::NEWNAME`).
    pub tag: Option<String>,
}

/// How to run rpod on this machine.
#[derive(Debug, Clone)]
pub struct Local {
    /// The rpod binary (our own executable).
    pub exe: PathBuf,
    /// The global flags to give it (`--root`, `--storage-driver`, …).
    pub globals: Vec<OsString>,
    /// Our login name.
    pub user: String,
    /// Our effective uid.
    pub uid: u32,
    /// `$SUDO_USER`, the default destination of root's images.
    pub sudo_user: Option<String>,
}

const INVALID: &str = "invalid argument";

/// A name a shell or ssh would read as nothing but itself: no blanks, quotes
/// or metacharacters, not an option.
fn plain_word(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c) || extra.contains(&c))
}

fn check_image(image: &str) -> Result<()> {
    if !plain_word(image, &['/', ':', '@']) {
        bail!("invalid image name {image:?}: {INVALID}");
    }
    Ok(())
}

fn check_user(user: &str) -> Result<()> {
    if !plain_word(user, &['$']) {
        bail!("invalid user name {user:?}: {INVALID}");
    }
    Ok(())
}

/// `[USER@]HOST[:PORT][/PATH]`, the connection part of an argument, as
/// podman reads it (as the URL `ssh://CONNECTION`; the path, a podman
/// socket, means nothing to ssh).
fn parse_target(conn: &str, me: &str) -> Result<SshTarget> {
    let authority = conn.split('/').next().unwrap_or_default();
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.split_once(':') {
        Some((h, p)) => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| anyhow!("invalid port {p:?} in {conn:?}: {INVALID}"))?;
            (h, Some(port))
        }
        None => (hostport, None),
    };
    if !plain_word(host, &[]) || !host.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        bail!("invalid host name {host:?} in {conn:?}: {INVALID}");
    }
    if let Some(u) = user {
        check_user(u).with_context(|| format!("in {conn:?}"))?;
    }
    Ok(SshTarget {
        user: user.unwrap_or(me).to_string(),
        host: host.to_string(),
        port,
        user_given: user.is_some(),
    })
}

/// One argument: `IMAGE`, `USER@localhost::[IMAGE]` or `CONNECTION::[IMAGE]`.
pub fn parse_location(arg: &str, me: &str) -> Result<Location> {
    let Some((conn, image)) = arg.split_once("::") else {
        check_image(arg)?;
        return Ok(Location {
            place: Place::Here,
            image: Some(arg.to_string()),
        });
    };
    let image = if image.is_empty() {
        None
    } else {
        check_image(image)?;
        Some(image.to_string())
    };
    let place = match conn.strip_suffix("@localhost") {
        Some(user) => {
            // podman takes the user as what comes before the first '@'.
            check_user(user)?;
            Place::User(user.to_string())
        }
        None => Place::Remote(parse_target(conn, me)?),
    };
    Ok(Location { place, image })
}

/// SOURCE and DESTINATION, checked as podman checks them.
pub fn plan(src: &str, dst: Option<&str>, me: &str) -> Result<Plan> {
    let source = parse_location(src, me)?;
    let Some(dst) = dst else {
        let Some(image) = source.image else {
            bail!("no source image specified: {INVALID}");
        };
        if source.place == Place::Here {
            bail!("must specify a destination: {INVALID}");
        }
        return Ok(Plan {
            source: source.place,
            image,
            dest: Place::Here,
            tag: None,
        });
    };
    let dest = parse_location(dst, me)?;
    let (image, tag) = match (source.image, dest.image) {
        (Some(i), t) => (i, t),
        (None, Some(_)) | (None, None) => bail!("a source image must be specified: {INVALID}"),
    };
    Ok(Plan {
        source: source.place,
        image,
        dest: dest.place,
        tag,
    })
}

/// Whether neither side is another host: the copy is between two users'
/// storage on this machine.
pub fn is_local(plan: &Plan) -> bool {
    !matches!(plan.source, Place::Remote(_)) && !matches!(plan.dest, Place::Remote(_))
}

/// `'word'` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The command line that runs `rpod ARGS` (or `podman ARGS` where there is
/// no rpod) on the remote host, for its login shell.
fn remote_command(args: &[&str]) -> String {
    let script = "p=podman; command -v rpod >/dev/null 2>&1 && p=rpod; exec \"$p\" \"$@\"";
    let mut s = format!("sh -c {} sh", shell_quote(script));
    for a in args {
        s.push(' ');
        s.push_str(&shell_quote(a));
    }
    s
}

/// `ssh` to `t` running `args` there.
fn ssh(t: &SshTarget, args: &[&str]) -> Command {
    let mut c = Command::new("ssh");
    // No tty: the archive goes through stdin/stdout.
    c.arg("-T").arg("-l").arg(&t.user);
    if let Some(p) = t.port {
        c.arg("-p").arg(p.to_string());
    }
    c.arg("--").arg(&t.host).arg(remote_command(args));
    c
}

/// One user's rpod on this machine.
fn local_rpod(l: &Local, who: &str, args: &[&str]) -> Result<Command> {
    if who == l.user {
        let mut c = Command::new(&l.exe);
        c.args(&l.globals).args(args);
        return Ok(c);
    }
    let u = nix::unistd::User::from_name(who)
        .with_context(|| format!("looking up user {who}"))?
        .ok_or_else(|| anyhow!("no such user {who:?}: {INVALID}"))?;
    if l.uid == 0 {
        // As podman does as root: that user's process, with the user's
        // identity and a clean environment (the storage is the user's own).
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(&l.exe);
        c.args(args)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", &u.dir)
            .env("USER", &u.name)
            .env("LOGNAME", &u.name)
            .current_dir("/")
            .uid(u.uid.as_raw())
            .gid(u.gid.as_raw());
        let run = PathBuf::from(format!("/run/user/{}", u.uid));
        if run.is_dir() {
            c.env("XDG_RUNTIME_DIR", run);
        }
        return Ok(c);
    }
    if u.uid.is_root() {
        // podman's way from a rootless user to root's storage.
        let mut c = Command::new("sudo");
        c.arg("--").arg(&l.exe).args(&l.globals).args(args);
        return Ok(c);
    }
    bail!(
        "copying to or from {who}'s storage needs root: run rpod image scp as root, \
         or use {who}@HOST:: over ssh"
    )
}

/// The user a local side is: the named one, ours, or (for a destination
/// with no user) root, or `$SUDO_USER` when the source is root's.
fn local_users(plan: &Plan, l: &Local) -> Result<(String, String)> {
    let src = match &plan.source {
        Place::User(u) => u.clone(),
        _ => l.user.clone(),
    };
    let dst = match &plan.dest {
        Place::User(u) => u.clone(),
        _ if src != "root" => "root".to_string(),
        _ => l.sudo_user.clone().ok_or_else(|| {
            anyhow!("$SUDO_USER must be defined to find the default rootless user")
        })?,
    };
    Ok((src, dst))
}

fn spawn(mut c: Command, what: &str) -> Result<Child> {
    let prog = PathBuf::from(c.get_program());
    c.spawn()
        .with_context(|| format!("{what}: running {}", prog.display()))
}

fn check(status: ExitStatus, what: &str) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    match status.code() {
        Some(code) => bail!("{what}: exit status {code}"),
        None => bail!("{what}: {status}"),
    }
}

/// A read-write file of $TMPDIR with no name (a named one unlinked at
/// once where the file system has no O_TMPFILE).
fn spool_file() -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::env::temp_dir();
    let unnamed = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_TMPFILE)
        .open(&dir);
    if let Ok(f) = unnamed {
        return Ok(f);
    }
    let path = dir.join(format!(
        "rpod-scp-{}-{}",
        std::process::id(),
        crate::time::now_ns()
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    Ok(f)
}

/// Copy the image as `plan` says. Returns what the loading side printed
/// (`Loaded image: NAME`), for the caller to show; progress and the other
/// side's errors go to our stderr.
pub fn transfer(plan: &Plan, l: &Local, quiet: bool) -> Result<String> {
    let q: &[&str] = if quiet { &["-q"] } else { &[] };
    let image = plan.image.as_str();
    let (src_user, dst_user) = if is_local(plan) {
        local_users(plan, l)?
    } else {
        let who = |p: &Place| match p {
            Place::User(u) => u.clone(),
            _ => l.user.clone(),
        };
        (who(&plan.source), who(&plan.dest))
    };
    let mut save_args: Vec<&str> = vec!["save"];
    save_args.extend(q);
    let mut load_args: Vec<&str> = vec!["load"];
    load_args.extend(q);

    // podman saves a remote image as oci-archive, a local one as its
    // default docker-archive.
    let (mut save, saving) = match &plan.source {
        Place::Remote(t) => {
            save_args.extend(["--format", "oci-archive", image]);
            (ssh(t, &save_args), format!("saving {image} on {t}"))
        }
        _ => {
            save_args.extend(["--format", "docker-archive", image]);
            let what = if src_user == l.user {
                format!("saving {image}")
            } else {
                format!("saving {image} as {src_user}")
            };
            (local_rpod(l, &src_user, &save_args)?, what)
        }
    };
    let (mut load, loading) = match &plan.dest {
        Place::Remote(t) => (ssh(t, &load_args), format!("loading {image} on {t}")),
        _ => {
            let what = if dst_user == l.user {
                format!("loading {image}")
            } else {
                format!("loading {image} as {dst_user}")
            };
            (local_rpod(l, &dst_user, &load_args)?, what)
        }
    };
    let tag_cmd = |name: &str, tag: &str| -> Result<Command> {
        let args = ["tag", name, tag];
        Ok(match &plan.dest {
            Place::Remote(t) => ssh(t, &args),
            _ => local_rpod(l, &dst_user, &args)?,
        })
    };

    // The archive in an unnamed file of $TMPDIR: handed to both sides as
    // a descriptor, so it crosses users and ssh alike, and nothing is left
    // of it however rpod ends. The save runs to its end before the load
    // starts, so a failure is the one side's.
    let mut spool = spool_file().context("making the temporary archive")?;
    save.stdin(Stdio::null())
        .stdout(spool.try_clone().context("duplicating a descriptor")?);
    let st = spawn(save, &saving)?
        .wait()
        .with_context(|| saving.clone())?;
    check(st, &saving)?;
    spool
        .seek(SeekFrom::Start(0))
        .context("rewinding the temporary archive")?;
    load.stdin(Stdio::from(spool)).stdout(Stdio::piped());
    let mut loader = spawn(load, &loading)?;
    let mut out = String::new();
    let read = loader
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut out);
    let st = loader.wait().with_context(|| loading.clone())?;
    check(st, &loading)?;
    read.with_context(|| format!("{loading}: reading its output"))?;

    if let Some(tag) = &plan.tag {
        // podman tags what the load reported: the last word of its output.
        let name = out
            .split_whitespace()
            .last()
            .ok_or_else(|| anyhow!("{loading}: it reported no image"))?;
        check_image(name).with_context(|| format!("{loading}: it reported"))?;
        let mut c = tag_cmd(name, tag)?;
        c.stdin(Stdio::null()).stdout(Stdio::null());
        let what = format!("tagging {name} as {tag}");
        let st = spawn(c, &what)?.wait().with_context(|| what.clone())?;
        check(st, &what)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(user: &str, host: &str, port: Option<u16>, given: bool) -> Place {
        Place::Remote(SshTarget {
            user: user.into(),
            host: host.into(),
            port,
            user_given: given,
        })
    }

    #[test]
    fn forms_podman_accepts() {
        let p = plan("alpine", Some("bob@example.org::"), "me").unwrap();
        assert_eq!(p.source, Place::Here);
        assert_eq!(p.dest, target("bob", "example.org", None, true));
        assert_eq!((p.image.as_str(), p.tag), ("alpine", None));

        let p = plan("host:2222/run/podman.sock::alpine:3", None, "me").unwrap();
        assert_eq!(p.source, target("me", "host", Some(2222), false));
        assert_eq!((p.image.as_str(), p.dest), ("alpine:3", Place::Here));

        let p = plan("root@localhost::alpine", Some("bob@localhost::"), "me").unwrap();
        assert_eq!(p.source, Place::User("root".into()));
        assert_eq!(p.dest, Place::User("bob".into()));
        assert!(is_local(&p));

        let p = plan("alpine", Some("h::other/name:t"), "me").unwrap();
        assert_eq!(p.tag.as_deref(), Some("other/name:t"));
    }

    #[test]
    fn podman_errors() {
        let e = |s: &str, d: Option<&str>| plan(s, d, "me").unwrap_err().to_string();
        assert_eq!(
            e("alpine", None),
            "must specify a destination: invalid argument"
        );
        assert_eq!(
            e("host::", None),
            "no source image specified: invalid argument"
        );
        assert_eq!(
            e("host::", Some("other::")),
            "a source image must be specified: invalid argument"
        );
    }

    #[test]
    fn hostile_words_are_refused() {
        for arg in [
            "-oProxyCommand=touch /tmp/x::img",
            "x@-oProxyCommand=sh::img",
            "user@host::img;touch /tmp/x",
            "user@host::img$(id)",
            "user@host::`id`",
            "us er@host::img",
            "-l@localhost::img",
            "u;id@localhost::img",
            "host:22;id::img",
            "host:0::img",
            "host:x::img",
            "-img",
            "img name",
            "@host::img",
        ] {
            assert!(parse_location(arg, "me").is_err(), "{arg:?} accepted");
        }
    }

    #[test]
    fn remote_words_are_quoted() {
        let c = remote_command(&["load", "-q"]);
        assert!(c.starts_with("sh -c 'p=podman;"), "{c}");
        assert!(c.ends_with(" sh 'load' '-q'"), "{c}");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        let t = SshTarget {
            user: "u".into(),
            host: "h".into(),
            port: Some(22),
            user_given: true,
        };
        let args: Vec<_> = ssh(&t, &["load"])
            .get_args()
            .map(|a| a.to_owned())
            .collect();
        assert_eq!(&args[..6], ["-T", "-l", "u", "-p", "22", "--"]);
        assert_eq!(args[6], "h");
    }
}
