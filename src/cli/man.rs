//! Man pages: `rpod __man DIR` writes `rpod.1`, one page per subcommand
//! (`rpod-run.1`, `rpod-image-ls.1`, …) and the section-5 pages of the
//! configuration files. NAME, SYNOPSIS and OPTIONS come from the clap
//! definitions through `clap_mangen`; DESCRIPTION, EXAMPLES and EXIT STATUS
//! come from the prose in `src/cli/man/*.txt`, listed in [`DOCS`] and keyed
//! by command path, so flags can never drift from `--help` while the
//! explanations stay written by hand.

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
            prose(w, d.description());
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
        if let Some(exit) = d.exit_status() {
            section(w, "EXIT STATUS");
            prose(w, exit);
        }
        examples_section(w, d.examples());
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
        see.extend(d.see_also().map(|s| s.to_string()));
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

/// Render the light markup of the prose of a page section: blank lines separate
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

/// The written part of a command's page, in `src/cli/man/<page>.1.txt`:
/// `# DESCRIPTION`, `# EXIT STATUS`, `# EXAMPLES` and `# SEE ALSO` lines
/// start its sections (see `part` and `examples`).
pub struct Doc {
    /// Command path: "" for rpod itself, "run", "image ls", "generate systemd".
    pub cmd: &'static str,
    text: &'static str,
    /// An EXIT STATUS several pages share (run, exec and start).
    shared_exit_status: Option<&'static str>,
}

impl Doc {
    const fn new(cmd: &'static str, text: &'static str) -> Doc {
        Doc {
            cmd,
            text,
            shared_exit_status: None,
        }
    }

    const fn with_exit_status(self, text: &'static str) -> Doc {
        Doc {
            shared_exit_status: Some(text),
            ..self
        }
    }

    pub fn description(&self) -> &'static str {
        part(self.text, "DESCRIPTION").unwrap_or_default()
    }

    pub fn exit_status(&self) -> Option<&'static str> {
        part(self.text, "EXIT STATUS").or(self.shared_exit_status)
    }

    pub fn examples(&self) -> Option<&'static str> {
        part(self.text, "EXAMPLES")
    }

    /// Other pages, as "name(section)".
    pub fn see_also(&self) -> impl Iterator<Item = &'static str> {
        see_also_refs(self.text)
    }
}

/// A section-5 page for a configuration file rpod reads, in
/// `src/cli/man/<name>.5.txt`: `# NAME` (the one line after the name in NAME),
/// `# DESCRIPTION`, `# FORMAT`, `# FILES`, `# EXAMPLES` and `# SEE ALSO`.
pub struct ConfigPage {
    pub name: &'static str,
    text: &'static str,
}

impl ConfigPage {
    const fn new(name: &'static str, text: &'static str) -> ConfigPage {
        ConfigPage { name, text }
    }

    fn part(&self, name: &str) -> &'static str {
        part(self.text, name).unwrap_or_default()
    }
}

/// The body of section `name` in a page's text: the lines after `# NAME`
/// up to the next line starting with `# `, without the blank lines around.
fn part(text: &'static str, name: &str) -> Option<&'static str> {
    let mut start = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if let Some(head) = line.strip_prefix("# ") {
            if let Some(s) = start {
                return Some(text[s..pos].trim_matches('\n'));
            }
            if head.trim_end() == name {
                start = Some(pos + line.len());
            }
        }
        pos += line.len();
    }
    start.map(|s| text[s..].trim_matches('\n'))
}

/// The SEE ALSO section: one "name(section)" a line.
fn see_also_refs(text: &'static str) -> impl Iterator<Item = &'static str> {
    part(text, "SEE ALSO")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
}

/// The examples of an EXAMPLES section: a line that is not indented says
/// what an example does, the lines indented by 4 spaces after it (and blank
/// lines between them) are its command lines.
fn examples(text: &'static str) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("    ") {
            match out.last_mut() {
                Some((_, cmds)) => cmds.push(cmd),
                None => panic!("example command line before its description: {line:?}"),
            }
        } else if line.is_empty() {
            if let Some((_, cmds)) = out.last_mut() {
                cmds.push("");
            }
        } else {
            out.push((line, Vec::new()));
        }
    }
    for (_, cmds) in &mut out {
        while cmds.last() == Some(&"") {
            cmds.pop();
        }
    }
    out
}

/// The EXAMPLES section of a page, when it has examples.
fn examples_section(w: &mut dyn Write, text: Option<&'static str>) {
    let examples = examples(text.unwrap_or_default());
    if examples.is_empty() {
        return;
    }
    section(w, "EXAMPLES");
    for (what, cmdlines) in examples {
        let _ = writeln!(w, ".PP\n{}\n.PP\n.RS 4\n.nf", escape(what));
        for line in cmdlines {
            let _ = writeln!(w, "{}", escape_line(line));
        }
        let _ = writeln!(w, ".fi\n.RE");
    }
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
    let _ = writeln!(w, "{} \\- {}", c.name, escape(c.part("NAME")));
    section(w, "DESCRIPTION");
    prose(w, c.part("DESCRIPTION"));
    section(w, "FORMAT");
    prose(w, c.part("FORMAT"));
    section(w, "FILES");
    prose(w, c.part("FILES"));
    examples_section(w, part(c.text, "EXAMPLES"));
    let refs: Vec<String> = see_also_refs(c.text).map(|s| s.to_string()).collect();
    see_also(w, &refs);
    ascii_roff(&String::from_utf8(buf).expect("roff is UTF-8"))
}

/// The EXIT STATUS of the commands that run a container's command.
const RUN_EXIT: &str = include_str!("man/run-exit-status.txt");

pub static DOCS: &[Doc] = &[
    Doc::new("", include_str!("man/rpod.1.txt")),
    Doc::new("pull", include_str!("man/rpod-pull.1.txt")),
    Doc::new("images", include_str!("man/rpod-images.1.txt")),
    Doc::new("rmi", include_str!("man/rpod-rmi.1.txt")),
    Doc::new("tag", include_str!("man/rpod-tag.1.txt")),
    Doc::new("untag", include_str!("man/rpod-untag.1.txt")),
    Doc::new("image", include_str!("man/rpod-image.1.txt")),
    Doc::new(
        "image inspect",
        include_str!("man/rpod-image-inspect.1.txt"),
    ),
    Doc::new("image prune", include_str!("man/rpod-image-prune.1.txt")),
    Doc::new("push", include_str!("man/rpod-push.1.txt")),
    Doc::new("search", include_str!("man/rpod-search.1.txt")),
    Doc::new("save", include_str!("man/rpod-save.1.txt")),
    Doc::new("load", include_str!("man/rpod-load.1.txt")),
    Doc::new("import", include_str!("man/rpod-import.1.txt")),
    Doc::new("history", include_str!("man/rpod-history.1.txt")),
    Doc::new("image exists", include_str!("man/rpod-image-exists.1.txt")),
    Doc::new("image tree", include_str!("man/rpod-image-tree.1.txt")),
    Doc::new("image mount", include_str!("man/rpod-image-mount.1.txt")),
    Doc::new(
        "image unmount",
        include_str!("man/rpod-image-unmount.1.txt"),
    ),
    Doc::new("image scp", include_str!("man/rpod-image-scp.1.txt")),
    Doc::new("image sign", include_str!("man/rpod-image-sign.1.txt")),
    Doc::new("image trust", include_str!("man/rpod-image-trust.1.txt")),
    Doc::new(
        "image trust show",
        include_str!("man/rpod-image-trust-show.1.txt"),
    ),
    Doc::new(
        "image trust set",
        include_str!("man/rpod-image-trust-set.1.txt"),
    ),
    Doc::new("login", include_str!("man/rpod-login.1.txt")),
    Doc::new("logout", include_str!("man/rpod-logout.1.txt")),
    Doc::new("run", include_str!("man/rpod-run.1.txt")).with_exit_status(RUN_EXIT),
    Doc::new("create", include_str!("man/rpod-create.1.txt")),
    Doc::new("start", include_str!("man/rpod-start.1.txt")).with_exit_status(RUN_EXIT),
    Doc::new("init", include_str!("man/rpod-init.1.txt")),
    Doc::new("stop", include_str!("man/rpod-stop.1.txt")),
    Doc::new("restart", include_str!("man/rpod-restart.1.txt")),
    Doc::new("kill", include_str!("man/rpod-kill.1.txt")),
    Doc::new("rm", include_str!("man/rpod-rm.1.txt")),
    Doc::new("ps", include_str!("man/rpod-ps.1.txt")),
    Doc::new("wait", include_str!("man/rpod-wait.1.txt")),
    Doc::new("exec", include_str!("man/rpod-exec.1.txt")).with_exit_status(RUN_EXIT),
    Doc::new("logs", include_str!("man/rpod-logs.1.txt")),
    Doc::new("inspect", include_str!("man/rpod-inspect.1.txt")),
    Doc::new(
        "container inspect",
        include_str!("man/rpod-container-inspect.1.txt"),
    ),
    Doc::new("top", include_str!("man/rpod-top.1.txt")),
    Doc::new("stats", include_str!("man/rpod-stats.1.txt")),
    Doc::new("pause", include_str!("man/rpod-pause.1.txt")),
    Doc::new("unpause", include_str!("man/rpod-unpause.1.txt")),
    Doc::new("healthcheck", include_str!("man/rpod-healthcheck.1.txt")),
    Doc::new("update", include_str!("man/rpod-update.1.txt")),
    Doc::new("auto-update", include_str!("man/rpod-auto-update.1.txt")),
    Doc::new(
        "healthcheck run",
        include_str!("man/rpod-healthcheck-run.1.txt"),
    ),
    Doc::new("port", include_str!("man/rpod-port.1.txt")),
    Doc::new("attach", include_str!("man/rpod-attach.1.txt")),
    Doc::new("rename", include_str!("man/rpod-rename.1.txt")),
    Doc::new("events", include_str!("man/rpod-events.1.txt")),
    Doc::new("system events", include_str!("man/rpod-events.1.txt")),
    Doc::new("system", include_str!("man/rpod-system.1.txt")),
    Doc::new("mount", include_str!("man/rpod-mount.1.txt")),
    Doc::new("unmount", include_str!("man/rpod-unmount.1.txt")),
    Doc::new("container", include_str!("man/rpod-container.1.txt")),
    Doc::new(
        "container cleanup",
        include_str!("man/rpod-container-cleanup.1.txt"),
    ),
    Doc::new(
        "container prune",
        include_str!("man/rpod-container-prune.1.txt"),
    ),
    Doc::new(
        "container clone",
        include_str!("man/rpod-container-clone.1.txt"),
    ),
    Doc::new(
        "container runlabel",
        include_str!("man/rpod-container-runlabel.1.txt"),
    ),
    Doc::new(
        "container checkpoint",
        include_str!("man/rpod-container-checkpoint.1.txt"),
    ),
    Doc::new(
        "container restore",
        include_str!("man/rpod-container-restore.1.txt"),
    ),
    Doc::new("unshare", include_str!("man/rpod-unshare.1.txt")),
    Doc::new("kube", include_str!("man/rpod-kube.1.txt")),
    Doc::new(
        "kube generate",
        include_str!("man/rpod-kube-generate.1.txt"),
    ),
    Doc::new(
        "generate kube",
        include_str!("man/rpod-kube-generate.1.txt"),
    ),
    Doc::new("kube play", include_str!("man/rpod-kube-play.1.txt")),
    Doc::new("kube down", include_str!("man/rpod-kube-down.1.txt")),
    Doc::new("play", include_str!("man/rpod-play.1.txt")),
    Doc::new("play kube", include_str!("man/rpod-kube-play.1.txt")),
    Doc::new("manifest", include_str!("man/rpod-manifest.1.txt")),
    Doc::new(
        "manifest create",
        include_str!("man/rpod-manifest-create.1.txt"),
    ),
    Doc::new("manifest add", include_str!("man/rpod-manifest-add.1.txt")),
    Doc::new(
        "manifest annotate",
        include_str!("man/rpod-manifest-annotate.1.txt"),
    ),
    Doc::new(
        "manifest inspect",
        include_str!("man/rpod-manifest-inspect.1.txt"),
    ),
    Doc::new(
        "manifest remove",
        include_str!("man/rpod-manifest-remove.1.txt"),
    ),
    Doc::new("manifest rm", include_str!("man/rpod-manifest-rm.1.txt")),
    Doc::new(
        "manifest exists",
        include_str!("man/rpod-manifest-exists.1.txt"),
    ),
    Doc::new(
        "manifest push",
        include_str!("man/rpod-manifest-push.1.txt"),
    ),
    Doc::new("pod", include_str!("man/rpod-pod.1.txt")),
    Doc::new("pod create", include_str!("man/rpod-pod-create.1.txt")),
    Doc::new("pod ps", include_str!("man/rpod-pod-ps.1.txt")),
    Doc::new("pod inspect", include_str!("man/rpod-pod-inspect.1.txt")),
    Doc::new("pod start", include_str!("man/rpod-pod-start.1.txt")),
    Doc::new("pod stop", include_str!("man/rpod-pod-stop.1.txt")),
    Doc::new("pod restart", include_str!("man/rpod-pod-restart.1.txt")),
    Doc::new("pod kill", include_str!("man/rpod-pod-kill.1.txt")),
    Doc::new("pod pause", include_str!("man/rpod-pod-pause.1.txt")),
    Doc::new("pod unpause", include_str!("man/rpod-pod-unpause.1.txt")),
    Doc::new("pod rm", include_str!("man/rpod-pod-rm.1.txt")),
    Doc::new("pod prune", include_str!("man/rpod-pod-prune.1.txt")),
    Doc::new("pod exists", include_str!("man/rpod-pod-exists.1.txt")),
    Doc::new("pod top", include_str!("man/rpod-pod-top.1.txt")),
    Doc::new("pod stats", include_str!("man/rpod-pod-stats.1.txt")),
    Doc::new("pod logs", include_str!("man/rpod-pod-logs.1.txt")),
    Doc::new("pod clone", include_str!("man/rpod-pod-clone.1.txt")),
    Doc::new("network", include_str!("man/rpod-network.1.txt")),
    Doc::new(
        "network create",
        include_str!("man/rpod-network-create.1.txt"),
    ),
    Doc::new("network ls", include_str!("man/rpod-network-ls.1.txt")),
    Doc::new(
        "network connect",
        include_str!("man/rpod-network-connect.1.txt"),
    ),
    Doc::new(
        "network disconnect",
        include_str!("man/rpod-network-disconnect.1.txt"),
    ),
    Doc::new(
        "network reload",
        include_str!("man/rpod-network-reload.1.txt"),
    ),
    Doc::new(
        "network inspect",
        include_str!("man/rpod-network-inspect.1.txt"),
    ),
    Doc::new("network rm", include_str!("man/rpod-network-rm.1.txt")),
    Doc::new(
        "network prune",
        include_str!("man/rpod-network-prune.1.txt"),
    ),
    Doc::new(
        "network exists",
        include_str!("man/rpod-network-exists.1.txt"),
    ),
    Doc::new("secret", include_str!("man/rpod-secret.1.txt")),
    Doc::new(
        "secret create",
        include_str!("man/rpod-secret-create.1.txt"),
    ),
    Doc::new("secret ls", include_str!("man/rpod-secret-ls.1.txt")),
    Doc::new(
        "secret inspect",
        include_str!("man/rpod-secret-inspect.1.txt"),
    ),
    Doc::new("secret rm", include_str!("man/rpod-secret-rm.1.txt")),
    Doc::new(
        "secret exists",
        include_str!("man/rpod-secret-exists.1.txt"),
    ),
    Doc::new("volume", include_str!("man/rpod-volume.1.txt")),
    Doc::new(
        "volume create",
        include_str!("man/rpod-volume-create.1.txt"),
    ),
    Doc::new("volume ls", include_str!("man/rpod-volume-ls.1.txt")),
    Doc::new(
        "volume inspect",
        include_str!("man/rpod-volume-inspect.1.txt"),
    ),
    Doc::new("volume rm", include_str!("man/rpod-volume-rm.1.txt")),
    Doc::new("volume prune", include_str!("man/rpod-volume-prune.1.txt")),
    Doc::new(
        "volume reload",
        include_str!("man/rpod-volume-reload.1.txt"),
    ),
    Doc::new(
        "volume exists",
        include_str!("man/rpod-volume-exists.1.txt"),
    ),
    Doc::new(
        "volume export",
        include_str!("man/rpod-volume-export.1.txt"),
    ),
    Doc::new(
        "volume import",
        include_str!("man/rpod-volume-import.1.txt"),
    ),
    Doc::new("volume mount", include_str!("man/rpod-volume-mount.1.txt")),
    Doc::new(
        "volume unmount",
        include_str!("man/rpod-volume-unmount.1.txt"),
    ),
    Doc::new("cp", include_str!("man/rpod-cp.1.txt")),
    Doc::new("diff", include_str!("man/rpod-diff.1.txt")),
    Doc::new("commit", include_str!("man/rpod-commit.1.txt")),
    Doc::new("build", include_str!("man/rpod-build.1.txt")),
    Doc::new("buildx", include_str!("man/rpod-buildx.1.txt")),
    Doc::new("buildx build", include_str!("man/rpod-build.1.txt")),
    Doc::new("export", include_str!("man/rpod-export.1.txt")),
    Doc::new(
        "container exists",
        include_str!("man/rpod-container-exists.1.txt"),
    ),
    Doc::new("version", include_str!("man/rpod-version.1.txt")),
    Doc::new("info", include_str!("man/rpod-info.1.txt")),
    Doc::new("system", include_str!("man/rpod-system.1.txt")),
    Doc::new("system df", include_str!("man/rpod-system-df.1.txt")),
    Doc::new("system prune", include_str!("man/rpod-system-prune.1.txt")),
    Doc::new("system reset", include_str!("man/rpod-system-reset.1.txt")),
    Doc::new("system check", include_str!("man/rpod-system-check.1.txt")),
    Doc::new("system info", include_str!("man/rpod-info.1.txt")),
    Doc::new(
        "system migrate",
        include_str!("man/rpod-system-migrate.1.txt"),
    ),
    Doc::new(
        "system renumber",
        include_str!("man/rpod-system-renumber.1.txt"),
    ),
    Doc::new("completion", include_str!("man/rpod-completion.1.txt")),
    Doc::new("generate", include_str!("man/rpod-generate.1.txt")),
    Doc::new(
        "generate systemd",
        include_str!("man/rpod-generate-systemd.1.txt"),
    ),
    Doc::new(
        "generate quadlet",
        include_str!("man/rpod-generate-quadlet.1.txt"),
    ),
    Doc::new(
        "generate spec",
        include_str!("man/rpod-generate-spec.1.txt"),
    ),
    Doc::new("oci", include_str!("man/rpod-oci.1.txt")),
    Doc::new("oci spec", include_str!("man/rpod-oci-spec.1.txt")),
    Doc::new("oci create", include_str!("man/rpod-oci-create.1.txt")),
    Doc::new("oci start", include_str!("man/rpod-oci-start.1.txt")),
    Doc::new("oci run", include_str!("man/rpod-oci-run.1.txt")),
    Doc::new("oci state", include_str!("man/rpod-oci-state.1.txt")),
    Doc::new("oci kill", include_str!("man/rpod-oci-kill.1.txt")),
    Doc::new("oci delete", include_str!("man/rpod-oci-delete.1.txt")),
    Doc::new("oci list", include_str!("man/rpod-oci-list.1.txt")),
    Doc::new("oci ps", include_str!("man/rpod-oci-ps.1.txt")),
    Doc::new("oci exec", include_str!("man/rpod-oci-exec.1.txt")),
    Doc::new("oci pause", include_str!("man/rpod-oci-pause.1.txt")),
    Doc::new("oci resume", include_str!("man/rpod-oci-resume.1.txt")),
    Doc::new("oci update", include_str!("man/rpod-oci-update.1.txt")),
    Doc::new("oci events", include_str!("man/rpod-oci-events.1.txt")),
    Doc::new(
        "oci checkpoint",
        include_str!("man/rpod-oci-checkpoint.1.txt"),
    ),
    Doc::new("oci restore", include_str!("man/rpod-oci-restore.1.txt")),
];

pub static CONFIG_PAGES: &[ConfigPage] = &[
    ConfigPage::new(
        "rpod-registries.conf",
        include_str!("man/rpod-registries.conf.5.txt"),
    ),
    ConfigPage::new(
        "rpod-containers.conf",
        include_str!("man/rpod-containers.conf.5.txt"),
    ),
    ConfigPage::new("rpod-auth.json", include_str!("man/rpod-auth.json.5.txt")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_written_prose() {
        let missing: Vec<String> = command_paths()
            .into_iter()
            .filter(|p| {
                doc_for(p).is_none_or(|d| examples(d.examples().unwrap_or_default()).is_empty())
            })
            .collect();
        assert!(
            missing.is_empty(),
            "write DESCRIPTION and EXAMPLES in src/cli/man/rpod-<command>.1.txt and list it in DOCS in src/cli/man.rs for: {missing:?}"
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
