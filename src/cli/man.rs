//! Man pages: `rpod __man DIR` writes `rpod.1`, one page per subcommand
//! (`rpod-run.1`, `rpod-image-ls.1`, …) and the section-5 pages of the
//! configuration files. NAME, SYNOPSIS and OPTIONS come from the clap
//! definitions through `clap_mangen`; DESCRIPTION, EXAMPLES and EXIT STATUS
//! come from the prose in [`DOCS`], keyed by command path, so flags can never
//! drift from `--help` while the explanations stay written by hand.

use super::Cli;
use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages into
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn man_cmd(a: &ManArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    for (name, text) in pages() {
        let path = a.dir.join(&name);
        crate::storage::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(std::io::stdout().lock(), "{}", path.display())?;
    }
    Ok(())
}

/// Every page: (file name, roff text).
pub fn pages() -> Vec<(String, String)> {
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    let mut out = Vec::new();
    walk(&top, &[], None, &mut out);
    for c in CONFIG_PAGES {
        out.push((format!("{}.5", c.name), config_page(c)));
    }
    out
}

/// Command paths ("run", "image ls", …) of the pages, for the tests.
#[cfg(test)]
fn command_paths() -> Vec<String> {
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    let mut out = Vec::new();
    fn rec(cmd: &clap::Command, path: &[String], out: &mut Vec<String>) {
        out.push(path.join(" "));
        for sub in visible_subcommands(cmd) {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            rec(sub, &p, out);
        }
    }
    rec(&top, &[], &mut out);
    out
}

fn visible_subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

fn page_name(path: &[String]) -> String {
    std::iter::once("rpod")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("-")
}

fn walk(
    cmd: &clap::Command,
    path: &[String],
    parent: Option<&str>,
    out: &mut Vec<(String, String)>,
) {
    let name = page_name(path);
    out.push((format!("{name}.1"), command_page(cmd, path, parent)));
    for sub in visible_subcommands(cmd) {
        let mut p = path.to_vec();
        p.push(sub.get_name().to_string());
        walk(sub, &p, Some(&name), out);
    }
}

/// The prose for a command path; `container run` shares `run`'s, and the
/// `image` spellings share the top-level ones.
pub fn doc_for(path: &str) -> Option<&'static Doc> {
    let find = |p: &str| DOCS.iter().find(|d| d.cmd == p);
    find(path).or_else(|| {
        let alias = match path {
            "image ls" => "images",
            "image rm" => "rmi",
            "container ls" => "ps",
            p => p
                .strip_prefix("container ")
                .or_else(|| p.strip_prefix("image "))?,
        };
        find(alias)
    })
}

fn command_page(cmd: &clap::Command, path: &[String], parent: Option<&str>) -> String {
    let key = path.join(" ");
    let doc = doc_for(&key);
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page_name(path))
        .source(format!("rpod {}", env!("CARGO_PKG_VERSION")))
        .manual("rpod manual");
    let mut buf: Vec<u8> = Vec::new();
    // clap_mangen's pieces, with ours between them.
    let w: &mut dyn Write = &mut buf;
    man.render_title(w).expect("write to Vec");
    man.render_name_section(w).expect("write to Vec");
    man.render_synopsis_section(w).expect("write to Vec");
    match doc {
        Some(d) => {
            section(w, "DESCRIPTION");
            prose(w, d.description);
            if path.len() > 1 || key.starts_with("container") {
                if let Some(p) = parent {
                    let _ = writeln!(w, ".PP\nThis page belongs to\n.BR {p} (1).");
                }
            }
        }
        None => man.render_description_section(w).expect("write to Vec"),
    }
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(w).expect("write to Vec");
    }
    if visible_subcommands(cmd).next().is_some() {
        section(w, "COMMANDS");
        for sub in visible_subcommands(cmd) {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            let _ = writeln!(
                w,
                ".TP\n.BR {} (1)\n{}",
                page_name(&p),
                escape(&sub.get_about().map(|s| s.to_string()).unwrap_or_default())
            );
        }
    }
    if let Some(d) = doc {
        if let Some(exit) = d.exit_status {
            section(w, "EXIT STATUS");
            prose(w, exit);
        }
        if !d.examples.is_empty() {
            section(w, "EXAMPLES");
            for (what, cmdline) in d.examples {
                let _ = writeln!(w, ".PP\n{}\n.PP\n.RS 4\n.nf", escape(what));
                for line in cmdline.lines() {
                    let _ = writeln!(w, "{}", escape_line(line));
                }
                let _ = writeln!(w, ".fi\n.RE");
            }
        }
    }
    let mut see: Vec<String> = Vec::new();
    if let Some(p) = parent {
        see.push(format!("{p}(1)"));
    }
    for sub in visible_subcommands(cmd) {
        let mut p = path.to_vec();
        p.push(sub.get_name().to_string());
        see.push(format!("{}(1)", page_name(&p)));
    }
    if let Some(d) = doc {
        see.extend(d.see_also.iter().map(|s| s.to_string()));
    }
    see_also(w, &see);
    man.render_version_section(w).expect("write to Vec");
    ascii_roff(&String::from_utf8(buf).expect("roff is UTF-8"))
}

/// groff reads Latin-1 unless run through preconv (man does, groff alone
/// does not): spell every non-ASCII character as a `\[uXXXX]` escape, which
/// both render the same.
fn ascii_roff(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    out
}

fn section(w: &mut dyn Write, name: &str) {
    let _ = writeln!(w, ".SH \"{name}\"");
}

fn see_also(w: &mut dyn Write, refs: &[String]) {
    if refs.is_empty() {
        return;
    }
    section(w, "SEE ALSO");
    let n = refs.len();
    for (i, r) in refs.iter().enumerate() {
        let (page, sect) = r
            .strip_suffix(')')
            .and_then(|r| r.split_once('('))
            .unwrap_or((r.as_str(), ""));
        let comma = if i + 1 < n { "," } else { "" };
        let _ = writeln!(w, ".BR {} ({}){comma}", escape(page), sect);
    }
}

/// Escape text for roff: backslashes, and a leading `.` or `'` that would
/// read as a request.
fn escape(s: &str) -> String {
    let s = s.replace('\\', "\\e");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// Like [`escape`] for a line of a literal block, where `-` is a real minus
/// (so that copying an example from the rendered page works).
fn escape_line(s: &str) -> String {
    escape(s).replace('-', "\\-")
}

/// Render the light markup of [`Doc`] prose: blank lines separate
/// paragraphs; a paragraph starting with "- " is a bullet; one starting with
/// "> TERM" is a tagged paragraph; lines indented by 4 spaces are literal.
fn prose(w: &mut dyn Write, text: &str) {
    for para in text.trim().split("\n\n") {
        let lines: Vec<&str> = para.lines().collect();
        if lines.iter().all(|l| l.starts_with("    ")) {
            let _ = writeln!(w, ".PP\n.RS 4\n.nf");
            for l in &lines {
                let _ = writeln!(w, "{}", escape_line(&l[4..]));
            }
            let _ = writeln!(w, ".fi\n.RE");
        } else if let Some(first) = lines[0].strip_prefix("> ") {
            let _ = writeln!(w, ".TP\n.B {}", escape(first));
            for l in &lines[1..] {
                let _ = writeln!(w, "{}", escape(l.trim()));
            }
        } else if let Some(first) = lines[0].strip_prefix("- ") {
            let _ = writeln!(w, ".IP \\(bu 2\n{}", escape(first));
            for l in &lines[1..] {
                let _ = writeln!(w, "{}", escape(l.trim()));
            }
        } else {
            let _ = writeln!(w, ".PP");
            for l in lines {
                let _ = writeln!(w, "{}", escape(l.trim()));
            }
        }
    }
}

/// The written part of a command's page.
pub struct Doc {
    /// Command path: "" for rpod itself, "run", "image ls", "generate systemd".
    pub cmd: &'static str,
    pub description: &'static str,
    /// (what it does, the command line).
    pub examples: &'static [(&'static str, &'static str)],
    pub exit_status: Option<&'static str>,
    /// Other pages, as "name(section)".
    pub see_also: &'static [&'static str],
}

/// A section-5 page for a configuration file rpod reads.
pub struct ConfigPage {
    pub name: &'static str,
    pub about: &'static str,
    pub description: &'static str,
    pub format: &'static str,
    pub files: &'static str,
    pub examples: &'static [(&'static str, &'static str)],
    pub see_also: &'static [&'static str],
}

fn config_page(c: &ConfigPage) -> String {
    let mut buf: Vec<u8> = Vec::new();
    let w: &mut dyn Write = &mut buf;
    let _ = writeln!(
        w,
        ".TH {} 5 \"\" \"rpod {}\" \"rpod manual\"",
        c.name,
        env!("CARGO_PKG_VERSION")
    );
    section(w, "NAME");
    let _ = writeln!(w, "{} \\- {}", c.name, escape(c.about));
    section(w, "DESCRIPTION");
    prose(w, c.description);
    section(w, "FORMAT");
    prose(w, c.format);
    section(w, "FILES");
    prose(w, c.files);
    if !c.examples.is_empty() {
        section(w, "EXAMPLES");
        for (what, text) in c.examples {
            let _ = writeln!(w, ".PP\n{}\n.PP\n.RS 4\n.nf", escape(what));
            for line in text.lines() {
                let _ = writeln!(w, "{}", escape_line(line));
            }
            let _ = writeln!(w, ".fi\n.RE");
        }
    }
    let refs: Vec<String> = c.see_also.iter().map(|s| s.to_string()).collect();
    see_also(w, &refs);
    ascii_roff(&String::from_utf8(buf).expect("roff is UTF-8"))
}

const RUN_EXIT: &str = "\
> 0
The container's command exited with status 0.

> 125
rpod itself failed: a bad flag, an image that cannot be pulled, a name already in use, \
a missing helper. The error is printed on standard error.

> 126
The container's command exists but could not be run (for example it is not executable).

> 127
The container's command was not found in the container.

> other
Otherwise the exit status of the container's command; 128+N when it was killed by signal N \
(137 for SIGKILL, 143 for SIGTERM).";

pub static DOCS: &[Doc] = &[
    Doc {
        cmd: "",
        description: "\
rpod runs OCI containers as an unprivileged user, without a daemon and without root. \
Its commands and flags are podman's: what you know from podman or docker works here, \
and scripts written for podman run unchanged.

Each rpod command does its work and exits. A running container is watched by a small \
per-container monitor process that keeps its logs and records its exit status, so \
nothing has to stay running between commands.

Images live under $XDG_DATA_HOME/rpod (usually ~/.local/share/rpod), state that dies with \
a reboot under $XDG_RUNTIME_DIR/rpod. The container runs in a user namespace that maps \
your uid to root inside and your subordinate ids from /etc/subuid and /etc/subgid to the \
other users, so files it creates belong to you or to your subordinate ranges on the host.",
        examples: &[
            ("Run a shell in a new container, removed when the shell exits:", "rpod run --rm -it alpine sh"),
            ("Run a web server in the background and see its logs:", "rpod run -d --name web -p 8080:80 nginx\nrpod logs -f web"),
            ("List containers, including stopped ones, and remove one:", "rpod ps -a\nrpod rm -f web"),
        ],
        exit_status: Some("\
> 0
The command succeeded.

> 125
rpod failed; the reason is printed on standard error as one line.

> 126, 127, other
For run, exec and start: see those pages."),
        see_also: &["rpod-registries.conf(5)", "rpod-containers.conf(5)", "rpod-auth.json(5)", "subuid(5)", "podman(1)"],
    },
    Doc {
        cmd: "pull",
        description: "\
Copy an image from a registry into local storage. A short name such as alpine is \
resolved with the unqualified-search-registries and aliases of registries.conf; a name \
with a registry (localhost:5000/alpine, quay.io/ns/app:1.2) or a digest (name@sha256:…) \
is pulled as given.

The manifest, the config and every layer are verified against their digests before the \
image is recorded; an interrupted pull leaves no half image behind and a later pull reuses \
the layers already stored. From a multi-platform index the entry for this host (or for \
--platform, --arch, --os, --variant) is chosen.

Credentials come from auth.json (see rpod-login(1)) or --creds; certificates from \
--cert-dir or the certs.d directories.

A registry is always tried over HTTPS first. --tls-verify=false, or insecure = true for \
the registry in registries.conf, means HTTPS without certificate verification, falling \
back to plain HTTP only when HTTPS fails (as containers/image does); --tls-verify=true \
overrides insecure = true, and then a certificate or protocol failure is an error, never \
a fallback.

Manifests and image configs over 4 MiB are refused. A layer may unpack to at most \
RPOD_MAX_LAYER_SIZE bytes (default 64G; K, M, G, T suffixes) and RPOD_MAX_LAYER_ENTRIES \
tar entries (default 10000000), and a layer whose declared size is over the former is \
refused before it is downloaded. Overlay metadata in a layer (xattrs user.overlay.*, \
user.fuseoverlayfs.*, user.containers.*, trusted.overlay.*) is dropped: a layer makes a \
directory opaque with a .wh..wh..opq entry.",
        examples: &[
            ("Pull an image by short name:", "rpod pull alpine"),
            ("Pull from a registry with a self-signed certificate and print only the image id:", "rpod pull -q --cert-dir ~/certs registry.example:5443/team/app:1.0"),
            ("Pull the arm64 image of a multi-platform index:", "rpod pull --platform linux/arm64 alpine"),
        ],
        exit_status: None,
        see_also: &["rpod-images(1)", "rpod-login(1)", "rpod-registries.conf(5)", "rpod-auth.json(5)"],
    },
    Doc {
        cmd: "images",
        description: "\
List the images in local storage with their repository, tag, id, creation time and size. \
An image with several names is shown once per name. A pattern as argument shows only \
matching names; --filter narrows the list further and --format prints what a script needs.",
        examples: &[
            ("List all images:", "rpod images"),
            ("Print only the ids of images from one registry:", "rpod images -q 'localhost:5000/*'"),
            ("Print name and size as a template:", "rpod images --format '{{.Repository}}:{{.Tag}} {{.Size}}'"),
        ],
        exit_status: None,
        see_also: &["rpod-pull(1)", "rpod-rmi(1)"],
    },
    Doc {
        cmd: "rmi",
        description: "\
Remove images from local storage, by name, id or unique id prefix. Removing a name of an \
image that has other names only removes that name (untags it). An image used by a \
container is not removed unless --force is given, which removes those containers too. \
Layers that no remaining image uses are deleted.",
        examples: &[
            ("Remove an image by name:", "rpod rmi alpine"),
            ("Remove every image, and the containers using them:", "rpod rmi -a -f"),
        ],
        exit_status: None,
        see_also: &["rpod-images(1)", "rpod-image-prune(1)"],
    },
    Doc {
        cmd: "tag",
        description: "\
Give a local image additional names. The new names are normalised as pull would \
normalise them (a name without registry gets the default one, a name without tag gets \
:latest). Nothing is copied: the names point at the same image.",
        examples: &[
            ("Name an image for pushing to your own registry:", "rpod tag alpine registry.example/team/alpine:3"),
        ],
        exit_status: None,
        see_also: &["rpod-untag(1)", "rpod-images(1)"],
    },
    Doc {
        cmd: "untag",
        description: "\
Remove names from a local image without removing the image. Without names, every name \
is removed and the image remains, listed as <none>, until it is removed or pruned.",
        examples: &[
            ("Remove one name:", "rpod untag alpine registry.example/team/alpine:3"),
            ("Remove all names of an image:", "rpod untag 3f2a1b"),
        ],
        exit_status: None,
        see_also: &["rpod-tag(1)", "rpod-image-prune(1)"],
    },
    Doc {
        cmd: "image",
        description: "\
Manage images in local storage. The subcommands are the same as the top-level image \
commands (image ls is images, image rm is rmi) plus inspect and prune.",
        examples: &[
            ("List images and remove the unused ones:", "rpod image ls\nrpod image prune -a"),
        ],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "image inspect",
        description: "\
Print the configuration and metadata of images as a JSON array: id, names, digest, \
creation time, architecture, the config's Env, Entrypoint, Cmd, User, labels and the \
layer digests. --format applies a Go-style template to each image instead.",
        examples: &[
            ("Show an image's entrypoint and command:", "rpod image inspect --format '{{.Config.Entrypoint}} {{.Config.Cmd}}' alpine"),
        ],
        exit_status: None,
        see_also: &["rpod-inspect(1)"],
    },
    Doc {
        cmd: "image prune",
        description: "\
Remove dangling images (those without a name). With --all, remove every image that no \
container uses. Layers left without an image are deleted too.",
        examples: &[
            ("Remove all images no container uses, without asking:", "rpod image prune -a -f"),
        ],
        exit_status: None,
        see_also: &["rpod-rmi(1)"],
    },
    Doc {
        cmd: "login",
        description: "\
Log in to a registry: the credentials are checked against the registry first (Basic or \
Bearer token authentication), then stored in auth.json, by default \
$XDG_RUNTIME_DIR/containers/auth.json, so they last until the next reboot. Use --authfile \
or REGISTRY_AUTH_FILE to keep them elsewhere. The file is written atomically with mode \
0600 and the entries of other registries are kept.

Prefer --password-stdin to -p: a password on the command line is visible to other users \
in the process list.

The registry is reached over HTTPS with verified certificates. --tls-verify=false, or \
insecure = true in registries.conf, skips certificate verification and falls back to \
plain HTTP only when HTTPS fails; --tls-verify=true overrides insecure = true.",
        examples: &[
            ("Log in, reading the password from a file:", "rpod login -u alice --password-stdin registry.example < ~/.registry-pass"),
            ("Check whether you are logged in:", "rpod login --get-login registry.example"),
        ],
        exit_status: None,
        see_also: &["rpod-logout(1)", "rpod-auth.json(5)"],
    },
    Doc {
        cmd: "logout",
        description: "\
Remove the stored credentials of a registry from auth.json, or of every registry with \
--all. Credentials in other files (such as ~/.docker/config.json) are not touched.",
        examples: &[
            ("Log out of one registry:", "rpod logout registry.example"),
            ("Forget all credentials:", "rpod logout --all"),
        ],
        exit_status: None,
        see_also: &["rpod-login(1)", "rpod-auth.json(5)"],
    },
    Doc {
        cmd: "run",
        description: "\
Create a container from an image and start its command: the image's Entrypoint and Cmd, \
or the COMMAND given after the image. The image is pulled first when it is not in local \
storage (see --pull).

In the foreground, rpod attaches your terminal (with -t), forwards signals and exits with \
the container's exit status. With -d it prints the container id and returns; the \
container keeps running under its monitor, and rpod logs, rpod attach and rpod stop work \
on it later.

Everything after the image is the container's command: flags for rpod go before the image. \
The container runs in a user namespace; cgroup limits (--memory, --cpus, --pids-limit) \
are only applied where the user has a delegated cgroup v2 subtree, and rpod warns when \
they cannot be.",
        examples: &[
            ("Run a command and remove the container afterwards:", "rpod run --rm alpine cat /etc/os-release"),
            ("An interactive shell:", "rpod run -it --name box alpine sh"),
            ("A web server in the background, published on port 8080 of the host:", "rpod run -d --name web -p 8080:80 -v ~/site:/usr/share/nginx/html:ro nginx"),
            ("Keep the container id for scripts:", "rpod run -d --cidfile /tmp/web.id alpine sleep 1000\nrpod stop --cidfile /tmp/web.id"),
        ],
        exit_status: Some(RUN_EXIT),
        see_also: &["rpod-create(1)", "rpod-start(1)", "rpod-exec(1)", "rpod-generate-systemd(1)"],
    },
    Doc {
        cmd: "create",
        description: "\
Create a container as rpod-run(1) would, without starting it: the image is pulled if \
needed, the root filesystem prepared and the container recorded, and its id printed. \
Start it with rpod-start(1). The flags are those of run.",
        examples: &[
            ("Create a container, then start it attached:", "rpod create --name job alpine echo done\nrpod start -a job"),
        ],
        exit_status: None,
        see_also: &["rpod-run(1)", "rpod-start(1)"],
    },
    Doc {
        cmd: "start",
        description: "\
Start created or stopped containers. Each container gets a new monitor and its command \
runs again with the same root filesystem, so changes made in a previous run are still \
there. Without --attach the names are printed and rpod returns; with --attach (and \
--interactive for standard input) rpod stays attached and exits with the container's \
status. A container that is already running is left alone.",
        examples: &[
            ("Start a stopped container in the background:", "rpod start web"),
            ("Start a container and wait for its output:", "rpod start -a job"),
        ],
        exit_status: Some(RUN_EXIT),
        see_also: &["rpod-stop(1)", "rpod-create(1)", "rpod-run(1)"],
    },
    Doc {
        cmd: "stop",
        description: "\
Stop running containers: send the stop signal (the image's StopSignal, --stop-signal at \
create, or SIGTERM), wait --time seconds (default: the container's stop timeout, 10) and \
then send SIGKILL. A shell or a server running as the container's PID 1 often ignores \
SIGTERM, so stop waits out the timeout; run such containers with --init to stop at once.

With --ignore, a container that does not exist is not an error; that is what generated \
systemd units use.",
        examples: &[
            ("Stop a container, waiting at most 2 seconds:", "rpod stop -t 2 web"),
            ("Stop every running container:", "rpod stop -a"),
            ("Stop the container whose id a unit wrote:", "rpod stop --ignore --cidfile $XDG_RUNTIME_DIR/web.service.ctr-id"),
        ],
        exit_status: None,
        see_also: &["rpod-kill(1)", "rpod-start(1)", "rpod-rm(1)"],
    },
    Doc {
        cmd: "kill",
        description: "\
Send a signal to the main process of running containers: SIGKILL unless --signal names \
another, by name (TERM, SIGHUP) or number.",
        examples: &[
            ("Ask a server to reload its configuration:", "rpod kill -s HUP web"),
        ],
        exit_status: None,
        see_also: &["rpod-stop(1)"],
    },
    Doc {
        cmd: "rm",
        description: "\
Remove containers: their records, writable layers, logs and names. A running container is \
refused unless --force is given, which stops it first (waiting --time seconds before \
SIGKILL). Images are not removed. With --cidfile the id is read from the file and the \
file is removed too.",
        examples: &[
            ("Remove a stopped container:", "rpod rm job"),
            ("Stop and remove a running one at once:", "rpod rm -f -t 0 web"),
            ("Remove every container:", "rpod rm -a -f"),
        ],
        exit_status: None,
        see_also: &["rpod-stop(1)", "rpod-container-prune(1)"],
    },
    Doc {
        cmd: "ps",
        description: "\
List containers: only running ones, or all with --all. The columns are podman's: id, \
image, command, created, status, ports and names. --format json prints everything as \
JSON; a template prints chosen fields, one line per container.",
        examples: &[
            ("All containers, with full ids:", "rpod ps -a --no-trunc"),
            ("Names of the exited containers:", "rpod ps -a --filter status=exited --format '{{.Names}}'"),
        ],
        exit_status: None,
        see_also: &["rpod-inspect(1)"],
    },
    Doc {
        cmd: "wait",
        description: "\
Wait until containers stop and print their exit codes, one per line, in the order given. \
A container that has already exited returns at once.",
        examples: &[
            ("Run a job in the background and collect its status:", "rpod run -d --name job alpine sh -c 'exit 3'\nrpod wait job"),
        ],
        exit_status: None,
        see_also: &["rpod-run(1)"],
    },
    Doc {
        cmd: "exec",
        description: "\
Run another process in a running container: in its namespaces, as its user unless --user \
says otherwise, with its environment plus --env, in its working directory unless \
--workdir. In the foreground rpod exits with the process's exit status; with --detach it \
returns at once.",
        examples: &[
            ("A shell in a running container:", "rpod exec -it web sh"),
            ("Run a command as another user in another directory:", "rpod exec -u nobody -w /tmp web id"),
        ],
        exit_status: Some(RUN_EXIT),
        see_also: &["rpod-run(1)", "rpod-attach(1)"],
    },
    Doc {
        cmd: "logs",
        description: "\
Print what containers wrote to standard output and standard error. rpod keeps the logs in \
a file per container in k8s-file format (a timestamp, the stream, and the line), so logs \
are available after the container exits, until it is removed. --follow keeps printing \
new lines until the container stops.",
        examples: &[
            ("The last 20 lines with timestamps:", "rpod logs -t -n 20 web"),
            ("Follow the log from ten minutes ago on:", "rpod logs -f --since 10m web"),
        ],
        exit_status: None,
        see_also: &["rpod-run(1)"],
    },
    Doc {
        cmd: "inspect",
        description: "\
Print the low-level information of containers or images as a JSON array, in podman's \
layout. A name that is both a container and an image means the container unless \
--type image is given. --format applies a Go-style template instead.",
        examples: &[
            ("Show a container's state:", "rpod inspect --format '{{.State.Status}}' web"),
            ("Inspect an image:", "rpod inspect --type image alpine"),
        ],
        exit_status: None,
        see_also: &["rpod-ps(1)", "rpod-image-inspect(1)"],
    },
    Doc {
        cmd: "container inspect",
        description: "\
Print the low-level information of containers as a JSON array, in podman's layout: \
configuration, state, mounts, network settings. --format applies a Go-style template \
instead.",
        examples: &[
            ("Show a container's main pid:", "rpod container inspect --format '{{.State.Pid}}' web"),
        ],
        exit_status: None,
        see_also: &["rpod-inspect(1)"],
    },
    Doc {
        cmd: "top",
        description: "\
List the processes of a running container, with ps(1)-like columns. The descriptors \
after the container choose the columns (user, pid, ppid, %cpu, etime, tty, time, comm, \
args, …).",
        examples: &[
            ("The processes of a container:", "rpod top web"),
            ("Only pid and command line:", "rpod top web pid args"),
        ],
        exit_status: None,
        see_also: &["rpod-exec(1)"],
    },
    Doc {
        cmd: "port",
        description: "\
List the ports a container publishes on the host (--publish, --publish-all), one \
mapping per line as CONTAINER_PORT/PROTO -> HOST_IP:HOST_PORT. With a PORT argument, \
print only where that port is published. --all lists the ports of every running \
container, each line prefixed with the container's id.",
        examples: &[
            ("Where is the web server's port 80?", "rpod port web 80"),
            ("All published ports of all running containers:", "rpod port -a"),
        ],
        exit_status: None,
        see_also: &["rpod-run(1)", "rpod-ps(1)"],
    },
    Doc {
        cmd: "attach",
        description: "\
Attach your terminal to a running container's standard input, output and error, as if \
it had been started in the foreground. The detach keys (default ctrl-p ctrl-q) leave the \
container running.",
        examples: &[
            ("Attach to a container started with -dit:", "rpod run -dit --name box alpine sh\nrpod attach box"),
        ],
        exit_status: None,
        see_also: &["rpod-exec(1)", "rpod-logs(1)"],
    },
    Doc {
        cmd: "rename",
        description: "\
Give a container a new name. The name must be unused; the container keeps its id.",
        examples: &[
            ("Rename a container:", "rpod rename web web-old"),
        ],
        exit_status: None,
        see_also: &["rpod-ps(1)"],
    },
    Doc {
        cmd: "mount",
        description: "\
Mount the root filesystems of containers and print where. The mount lives in rpod's \
user and mount namespace, so run this inside rpod-unshare(1) to use the path.",
        examples: &[
            ("Copy a file out of a stopped container:", "rpod unshare sh -c 'cp \"$(rpod mount web)\"/etc/hostname .'"),
        ],
        exit_status: None,
        see_also: &["rpod-unmount(1)", "rpod-unshare(1)"],
    },
    Doc {
        cmd: "unmount",
        description: "\
Unmount the root filesystems that rpod-mount(1) mounted. A running container's root \
filesystem stays mounted for the container.",
        examples: &[
            ("Unmount every container:", "rpod unshare rpod unmount -a"),
        ],
        exit_status: None,
        see_also: &["rpod-mount(1)"],
    },
    Doc {
        cmd: "container",
        description: "\
Manage containers. The subcommands are the top-level container commands (container ls is \
ps) plus cleanup and prune.",
        examples: &[
            ("List and clean up:", "rpod container ls -a\nrpod container prune -f"),
        ],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "container cleanup",
        description: "\
Release what stopped containers still hold: a mounted root filesystem, a network helper \
such as slirp4netns. The monitor does this when a container exits; cleanup is for when \
the monitor was killed. With --rm the containers are removed afterwards.",
        examples: &[
            ("Clean up after every container:", "rpod container cleanup -a"),
        ],
        exit_status: None,
        see_also: &["rpod-rm(1)"],
    },
    Doc {
        cmd: "container prune",
        description: "\
Remove all stopped containers, after asking unless --force is given.",
        examples: &[
            ("Remove stopped containers without asking:", "rpod container prune -f"),
        ],
        exit_status: None,
        see_also: &["rpod-rm(1)"],
    },
    Doc {
        cmd: "unshare",
        description: "\
Run a command in rpod's user namespace, where you are root and your subordinate ids are \
mapped as in containers, and in rpod's mount namespace. Use it to look at or change files \
in storage owned by subordinate ids, or to use rpod-mount(1). Without a command, your \
$SHELL is started.",
        examples: &[
            ("See the ids you have inside:", "rpod unshare cat /proc/self/uid_map"),
            ("Remove a directory that a container filled with files of other users:", "rpod unshare rm -rf ~/data/db"),
        ],
        exit_status: None,
        see_also: &["rpod-mount(1)", "newuidmap(1)", "subuid(5)"],
    },
    Doc {
        cmd: "version",
        description: "Print rpod's version, its OCI runtime (built in) and the OS and architecture it was built for.",
        examples: &[("Show the version:", "rpod version")],
        exit_status: None,
        see_also: &["rpod-info(1)"],
    },
    Doc {
        cmd: "info",
        description: "\
Show how rpod is set up on this machine, as YAML (or JSON with --format json): the helper programs found (newuidmap, \
newgidmap, fuse-overlayfs, slirp4netns, pasta, catatonit) and their versions, the host's \
cgroup setup and id mappings, the security setup (host.security: seccompProfileVersion names the \
containers/common seccomp.json built into rpod, with its commit and sha256), the registries \
configuration files and search list in use, and the storage paths. Start here when something does not work.",
        examples: &[
            ("Show the setup:", "rpod info"),
            ("The built-in seccomp profile's version:", "rpod info --format json | jq -r .host.security.seccompProfileVersion"),
            ("The storage root, from the JSON:", "rpod info --format json | jq -r .store.graphRoot"),
        ],
        exit_status: None,
        see_also: &["rpod-registries.conf(5)", "rpod-containers.conf(5)"],
    },
    Doc {
        cmd: "completion",
        description: "\
Print a shell completion script for bash, zsh or fish. Besides subcommands and flags, it \
completes the names of your containers and images and the --network modes, by asking \
rpod itself (an internal __complete command that only reads the small record files, so \
it answers in milliseconds). Distribution packages install the scripts already; this \
command is for installs without packages.",
        examples: &[
            ("Enable completion for bash in your shell:", "rpod completion bash -f ~/.local/share/bash-completion/completions/rpod"),
            ("For zsh, into a directory on your $fpath:", "rpod completion zsh -f ~/.zfunc/_rpod"),
            ("For fish:", "rpod completion fish -f ~/.config/fish/completions/rpod.fish"),
        ],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "generate",
        description: "\
Generate files that run containers under other tools: systemd units, from a container or \
from a Quadlet .container file.",
        examples: &[
            ("A unit that runs a fresh container at login:", "rpod generate systemd --new --name -f web"),
        ],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "generate systemd",
        description: "\
Print a systemd unit that runs a container as a user service, in podman 4.3's layout. The \
unit is named PREFIX-ID.service (container-ID.service by default; --name uses the \
container's name instead of its id).

Without --new the unit starts and stops the existing container (rpod start, rpod stop); \
a container created with --rm is removed when it stops, so it can only get a --new unit. \
With --new the container is created afresh each time the unit starts, from the command \
line that created it, with --cidfile=%t/%n.ctr-id, --replace, --rm, -d and \
--sdnotify=conmon added, and removed when the unit stops; such a unit survives the \
container being removed and picks up a newly pulled image. The monitor tells systemd when \
the container runs (Type=notify); the environment variable RPOD_SYSTEMD_UNIT holds the \
unit's name.

With --quadlet FILE the unit is generated from a Quadlet .container file instead, as the \
user generator does (see rpod-generate-quadlet(1)).

Install the unit in ~/.config/systemd/user and enable it. A user's units run only while \
the user is logged in unless lingering is enabled (loginctl enable-linger); rpod says so \
when it is off.",
        examples: &[
            ("Run the container web as a user service that starts at login:", "rpod generate systemd --new --name --files web\nmv container-web.service ~/.config/systemd/user/\nsystemctl --user daemon-reload\nsystemctl --user enable --now container-web.service"),
            ("Start the containers at boot, without a login:", "loginctl enable-linger $USER"),
            ("Restart always, 5 seconds after a failure:", "rpod generate systemd --new --name --restart-policy always --restart-sec 5 web"),
            ("From a Quadlet file:", "rpod generate systemd --quadlet ~/.config/containers/systemd/web.container"),
        ],
        exit_status: None,
        see_also: &["rpod-generate-quadlet(1)", "systemd.service(5)", "systemd.unit(5)", "loginctl(1)"],
    },
    Doc {
        cmd: "generate quadlet",
        description: "\
Turn the Quadlet .container files of the user into service units: the systemd user \
generator. Packages install it as /usr/lib/systemd/user-generators/rpod-user-generator (a \
link to rpod), which systemd runs at every daemon-reload with three output directories; \
the units are written to the first.

The files are read from $QUADLET_UNIT_DIRS (colon-separated) if set, else from \
$XDG_CONFIG_HOME/containers/systemd (~/.config/containers/systemd), \
/etc/containers/systemd/users/UID and /etc/containers/systemd/users; the first file of a \
name wins. NAME.container becomes NAME.service.

The [Container] section knows Image= (required), Exec= (the command, split as systemd \
splits command lines), ContainerName= (default systemd-NAME), Network=, and the lists \
PublishPort=, Volume= and Environment= (KEY=VALUE words, quoted as in systemd); an empty \
assignment empties a list. Any other key is an error, so that a typo does not go \
unnoticed. The [Unit], [Service] and [Install] sections are copied into the unit; \
WantedBy= and RequiredBy= of [Install] become links in the output directory, because a \
generated unit cannot be enabled. A file that cannot be converted is reported on standard \
error (the journal) and skipped.",
        examples: &[
            ("A web server that starts at login:", "mkdir -p ~/.config/containers/systemd\ncat > ~/.config/containers/systemd/web.container <<'EOF'\n[Container]\nImage=docker.io/library/nginx:latest\nPublishPort=8080:80\nVolume=%h/site:/usr/share/nginx/html:ro\n\n[Install]\nWantedBy=default.target\nEOF\nsystemctl --user daemon-reload\nsystemctl --user start web.service"),
            ("See what the generator would write:", "rpod generate quadlet --dryrun"),
        ],
        exit_status: None,
        see_also: &["rpod-generate-systemd(1)", "systemd.generator(7)", "systemd.unit(5)"],
    },
    Doc {
        cmd: "oci",
        description: "\
runc's commands and flags on rpod's own in-process OCI runtime: create, start, run, \
state, kill, delete, list, ps, exec and the rest work on an OCI bundle (a directory with \
config.json and a root filesystem). Installed as runc or rpod-oci (a link to rpod), rpod \
answers runc's command line directly, so tools that drive runc can drive it. Errors exit \
with status 1, a program that cannot be run with 126 or 127, as runc.",
        examples: &[
            ("Make a rootless bundle and run it:", "mkdir -p bundle/rootfs && cd bundle\nrpod oci spec --rootless\nrpod oci run demo"),
        ],
        exit_status: None,
        see_also: &["runc(8)"],
    },
    Doc {
        cmd: "oci spec",
        description: "Write a default config.json into the bundle directory; --rootless makes one that maps your ids into a user namespace.",
        examples: &[("A spec for an unprivileged user:", "rpod oci spec --rootless -b bundle")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci create",
        description: "Create a container from a bundle: namespaces, mounts and the process are set up, and the process waits before executing the program until rpod oci start.",
        examples: &[("Create, then start:", "rpod oci create -b bundle demo\nrpod oci start demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci start",
        description: "Let a created container execute its program.",
        examples: &[("Start a created container:", "rpod oci start demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci run",
        description: "Create and start a container from a bundle. Without --detach rpod waits for the program and exits with its status, and deletes the container unless --keep.",
        examples: &[("Run a bundle in the foreground:", "rpod oci run -b bundle demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci state",
        description: "Print a container's state as the OCI runtime specification defines it (id, status, pid, bundle, annotations), as JSON.",
        examples: &[("The status of a container:", "rpod oci state demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci kill",
        description: "Send a signal to a container's init process, or with --all to every process of the container.",
        examples: &[("Stop a container's program:", "rpod oci kill demo TERM")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci delete",
        description: "Delete a stopped container's state; with --force a running one is killed first.",
        examples: &[("Delete a container:", "rpod oci delete -f demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci list",
        description: "List the containers in the state directory, as a table or as JSON.",
        examples: &[("Only the ids:", "rpod oci list -q")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci ps",
        description: "Show the processes of a container, through ps(1) in table format or as a JSON list of pids.",
        examples: &[("The pids as JSON:", "rpod oci ps -f json demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci exec",
        description: "Run another process in a running container, given on the command line or as a runtime-spec process JSON with --process.",
        examples: &[("A shell in a container:", "rpod oci exec -t demo sh")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci pause",
        description: "Freeze all processes of a container. This needs a cgroup the user controls (a delegated cgroup v2 subtree); otherwise it fails and says so.",
        examples: &[("Pause and resume:", "rpod oci pause demo\nrpod oci resume demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci resume",
        description: "Thaw the processes of a paused container.",
        examples: &[("Resume a container:", "rpod oci resume demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci update",
        description: "Change the resource limits of a container, from runtime-spec JSON or flags. Like pause, this needs a cgroup the user controls.",
        examples: &[("Limit memory to 256 MiB:", "rpod oci update --memory 268435456 demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci events",
        description: "Print container events (and with --stats, resource statistics) as JSON lines.",
        examples: &[("Statistics once:", "rpod oci events --stats demo")],
        exit_status: None,
        see_also: &[],
    },
    Doc {
        cmd: "oci checkpoint",
        description: "Checkpoint a running container to disk with CRIU, where CRIU is available.",
        examples: &[("Checkpoint into a directory:", "rpod oci checkpoint --image-path /tmp/ckpt demo")],
        exit_status: None,
        see_also: &["criu(8)"],
    },
    Doc {
        cmd: "oci restore",
        description: "Restore a container from a CRIU checkpoint.",
        examples: &[("Restore a checkpoint:", "rpod oci restore --image-path /tmp/ckpt -b bundle demo")],
        exit_status: None,
        see_also: &["criu(8)"],
    },
];

pub static CONFIG_PAGES: &[ConfigPage] = &[
    ConfigPage {
        name: "rpod-registries.conf",
        about: "where rpod looks for images, and which registries it trusts",
        description: "\
registries.conf is the TOML file of containers/image that podman, skopeo and buildah \
read. rpod reads the same files, so one configuration serves all of them. It decides how \
a short name such as alpine becomes a full reference, and which registries are reached \
without certificate verification (or plain HTTP) or not at all.

rpod reads only the keys below. A [[registry]] table with mirror entries is accepted, \
with a warning that mirrors are not used yet: rpod pulls from the registry itself. Other \
unknown keys are ignored (--log-level debug names them); a file that is not valid TOML \
is an error that names the file.",
        format: "\
> unqualified-search-registries = [\"HOST[:PORT]\", …]
The registries tried, in order, for a short name that has no alias. Later files replace \
the list of earlier ones when they set it. When no file sets it, docker.io is searched; \
a file that sets it empty makes a short name without an alias an error.

> short-name-mode = \"enforcing\" | \"permissive\" | \"disabled\"
What to do when a short name has several candidates (one per search registry): with \
disabled, try them in order; with permissive or enforcing, ask on a terminal which one \
to use; without a terminal, permissive tries them in order and enforcing is an error. \
A name resolved by an alias is never ambiguous.

> [aliases]
\"NAME\" = \"HOST/REPOSITORY\" lines: short names that always mean one repository. \
Aliases from later files are merged key by key; an empty value removes an alias. Aliases \
that podman recorded in $XDG_CACHE_HOME/containers/short-name-aliases.conf take \
precedence.

> [[registry]]
One table per registry or repository prefix: prefix = \"HOST[/PATH]\" (or location alone), \
location = \"HOST[:PORT][/PATH]\" to pull from another place than the prefix says, \
insecure = true to skip certificate verification and fall back to plain HTTP when HTTPS \
fails (--tls-verify=true on the command line overrides it), blocked = true to refuse pulling. \
The longest matching prefix applies; a later file's table for the same prefix replaces \
an earlier one.

> [registries.search], [registries.insecure], [registries.block]
The version 1 format, with registries = [ … ] lists; it is read as the equivalent \
version 2 settings.",
        files: "\
rpod uses the first of these that applies, then the drop-in directories:

- --registries-conf PATH or $CONTAINERS_REGISTRIES_CONF replaces the main file; the \
drop-ins of /etc/containers/registries.conf.d and of the user still apply.

- $XDG_CONFIG_HOME/containers/registries.conf (~/.config/containers/registries.conf) if \
it exists, followed by the user's drop-ins only.

- /etc/containers/registries.conf, followed by /etc/containers/registries.conf.d/*.conf \
and $XDG_CONFIG_HOME/containers/registries.conf.d/*.conf.

Drop-ins are read in the order of their names; later files win.",
        examples: &[
            ("Search a local registry first, trust it over plain HTTP, and name an alias:", "unqualified-search-registries = [\"localhost:5000\", \"docker.io\"]\nshort-name-mode = \"permissive\"\n\n[[registry]]\nlocation = \"localhost:5000\"\ninsecure = true\n\n[aliases]\n\"tools\" = \"quay.io/team/tools\""),
            ("Refuse to pull from one registry:", "[[registry]]\nprefix = \"untrusted.example\"\nblocked = true"),
        ],
        see_also: &["rpod-pull(1)", "rpod(1)", "containers-registries.conf(5)"],
    },
    ConfigPage {
        name: "rpod-containers.conf",
        about: "engine defaults rpod takes from containers.conf",
        description: "\
containers.conf is the TOML file where podman keeps engine defaults. rpod reads it for \
the settings of rootless networking only; every other table and key is ignored, and \
podman's defaults for them are built into rpod (the default capabilities and sysctls, \
for example). A file that is not valid TOML, or a key below with a value of the wrong \
type, is an error that names the file.",
        format: "\
> [network] default_rootless_network_cmd = \"slirp4netns\" | \"pasta\"
The network helper of a container run without --network (or with --network private).

> [engine] network_cmd_options = [\"OPTION\", …]
Default options of slirp4netns (such as \"allow_host_loopback=true\" or \"mtu=1500\"), \
before those given with --network slirp4netns:OPTIONS.

> [engine] network_cmd_path = \"PATH\"
The slirp4netns binary to run instead of the one on $PATH.",
        files: "\
All of these are read, in this order; a later file overrides the keys it sets:

    /usr/share/containers/containers.conf
    /etc/containers/containers.conf
    /etc/containers/containers.conf.d/*.conf
    $XDG_CONFIG_HOME/containers/containers.conf
    $XDG_CONFIG_HOME/containers/containers.conf.d/*.conf

$XDG_CONFIG_HOME defaults to ~/.config. When $CONTAINERS_CONF is set, only that file is \
read, as in podman.",
        examples: &[
            ("Use pasta for new containers and let slirp4netns reach the host's loopback:", "[network]\ndefault_rootless_network_cmd = \"pasta\"\n\n[engine]\nnetwork_cmd_options = [\"allow_host_loopback=true\"]"),
        ],
        see_also: &["rpod-run(1)", "rpod(1)", "containers.conf(5)", "slirp4netns(1)", "pasta(1)"],
    },
    ConfigPage {
        name: "rpod-auth.json",
        about: "registry credentials that rpod stores and reads",
        description: "\
auth.json holds registry credentials in the format of containers/image, which is also \
docker's config.json format. rpod-login(1) writes it, rpod-logout(1) removes entries, and \
pulls read it. It is shared with podman, skopeo and buildah.

Credentials are stored base64-encoded, not encrypted: the file is written with mode 0600, \
atomically, keeping the entries of other registries. Credential helpers (credHelpers, \
credsStore) are not run: rpod never starts a program to hand it a secret, so such \
entries are skipped.",
        format: "\
A JSON object with an \"auths\" object. Each key is a registry (\"HOST[:PORT]\") or a \
repository prefix (\"HOST/NAMESPACE\", \"HOST/NAMESPACE/REPOSITORY\"); each value has \"auth\", \
the base64 encoding of USERNAME:PASSWORD.

For an image, the most specific key wins: host/ns/repo, then host/ns, then host. Legacy \
keys such as \"https://index.docker.io/v1/\" are understood, and docker.io, \
index.docker.io and registry-1.docker.io are the same registry.",
        files: "\
With --authfile PATH or $REGISTRY_AUTH_FILE, only that file is read and written. \
Otherwise rpod reads, and the first file with credentials for the registry wins:

    $XDG_RUNTIME_DIR/containers/auth.json
    $XDG_CONFIG_HOME/containers/auth.json
    $DOCKER_CONFIG/config.json, or ~/.docker/config.json
    ~/.dockercfg

rpod-login(1) writes the first one, which lasts until the next reboot. Without \
$XDG_RUNTIME_DIR it is /run/containers/UID/auth.json.",
        examples: &[
            ("A file with credentials for one registry and one namespace of another:", "{\n  \"auths\": {\n    \"registry.example:5443\": { \"auth\": \"YWxpY2U6c2VjcmV0\" },\n    \"quay.io/team\": { \"auth\": \"Ym9iOnBhc3N3b3Jk\" }\n  }\n}"),
            ("Keep credentials across reboots:", "rpod login --authfile ~/.config/containers/auth.json registry.example"),
        ],
        see_also: &["rpod-login(1)", "rpod-logout(1)", "rpod-pull(1)", "containers-auth.json(5)"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_written_prose() {
        let missing: Vec<String> = command_paths()
            .into_iter()
            .filter(|p| doc_for(p).is_none_or(|d| d.examples.is_empty()))
            .collect();
        assert!(
            missing.is_empty(),
            "add a Doc with DESCRIPTION and EXAMPLES to DOCS in src/cli/man.rs for: {missing:?}"
        );
    }

    #[test]
    fn run_exec_start_document_their_exit_status() {
        for p in ["run", "exec", "start", "container run"] {
            let page = pages()
                .into_iter()
                .find(|(n, _)| *n == format!("rpod-{}.1", p.replace(' ', "-")))
                .unwrap()
                .1;
            assert!(page.contains(".SH \"EXIT STATUS\""), "{p}");
            assert!(page.contains("\n.B 127\n"), "{p}");
        }
    }

    #[test]
    fn escapes_roff() {
        assert_eq!(ascii_roff("a\u{2026}b"), "a\\[u2026]b");
        assert_eq!(escape(".hidden"), "\\&.hidden");
        assert_eq!(escape("a\\b"), "a\\eb");
        assert_eq!(escape_line("rpod run --rm"), "rpod run \\-\\-rm");
    }
}
