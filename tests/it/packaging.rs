//! Packaging: the .deb that packaging/build-deb.sh builds holds the binary,
//! completions, man pages and the Quadlet generator, with the right
//! dependencies; the RPM spec's %install and the PKGBUILD's package() install
//! the same files (run here against a staging dir: neither is built), and the
//! spec's %files cover exactly them; install.sh works for a user's prefix.
//!
//! The package is built from the test build of rpod (CARGO_BIN_EXE_rpod),
//! not a release build: the file list is what is checked, not the binary.

use crate::common;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn build_deb(out: &Path) -> PathBuf {
    // Stripped, as the release profile strips: xz on 150 MB of debug info
    // would take minutes.
    let bin = out.join("rpod");
    run(Command::new("strip")
        .arg("-o")
        .arg(&bin)
        .arg(env!("CARGO_BIN_EXE_rpod")));
    // install.sh takes the monitor loop from beside RPOD_BIN.
    run(Command::new("strip")
        .arg("-o")
        .arg(out.join("rpod-monitor"))
        .arg(env!("CARGO_BIN_EXE_rpod-monitor")));
    let deb = run(Command::new("sh")
        .arg(repo().join("packaging/build-deb.sh"))
        .arg(out)
        .env("RPOD_BIN", &bin));
    PathBuf::from(deb.trim())
}

/// Files and symlinks (not directories) under `root`, as absolute paths.
fn tree(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(format!("/{}", p.strip_prefix(root).unwrap().display()));
            }
        }
    }
    let mut out = BTreeSet::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

/// What every distribution must install, whatever its conventions: man
/// pages without the compression suffix (rpm and makepkg compress at package
/// time), zsh's directory under one name, and no distribution-only docs.
fn normalise(files: &BTreeSet<String>) -> BTreeSet<String> {
    files
        .iter()
        .filter(|f| !f.starts_with("/usr/share/doc/"))
        .map(|f| {
            f.trim_end_matches(".gz").replace(
                "/usr/share/zsh/vendor-completions/",
                "/usr/share/zsh/site-functions/",
            )
        })
        .collect()
}

fn deb_files(deb: &Path) -> BTreeSet<String> {
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(deb));
    listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            // "-rw-r--r-- root/root 123 2026-01-01 00:00 ./usr/bin/rpod[ -> target]"
            let path = l.split_whitespace().nth(5).unwrap();
            path.trim_start_matches('.').to_string()
        })
        .collect()
}

fn expected_files() -> BTreeSet<String> {
    let mut want: BTreeSet<String> = [
        "/usr/bin/rpod",
        "/usr/libexec/rpod/rpod-monitor",
        "/usr/lib/systemd/user-generators/rpod-user-generator",
        "/usr/lib/systemd/user/rpod-restart.service",
        "/usr/share/bash-completion/completions/rpod",
        "/usr/share/zsh/site-functions/_rpod",
        "/usr/share/fish/vendor_completions.d/rpod.fish",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for e in std::fs::read_dir(repo().join("man")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let section = name.rsplit('.').next().unwrap().to_string();
        want.insert(format!("/usr/share/man/man{section}/{name}"));
    }
    want
}

#[test]
fn deb_holds_binary_completions_man_pages_and_generator() {
    let tmp = tempfile::tempdir().unwrap();
    let deb = build_deb(tmp.path());
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        deb.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("rpod_{version}-1_")),
        "{}",
        deb.display()
    );
    let files = deb_files(&deb);
    assert!(
        files.contains("/usr/share/zsh/vendor-completions/_rpod"),
        "{files:?}"
    );
    assert!(
        files.contains("/usr/share/man/man1/rpod-run.1.gz"),
        "{files:?}"
    );
    assert!(files.contains("/usr/share/doc/rpod/copyright"), "{files:?}");
    assert_eq!(normalise(&files), expected_files());

    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    assert!(
        listing.lines().any(|l| l.starts_with("lrwxrwxrwx")
            && l.ends_with(
                "./usr/lib/systemd/user-generators/rpod-user-generator -> ../../../bin/rpod"
            )),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("-rwxr-xr-x root/root") && l.ends_with(" ./usr/bin/rpod")),
        "{listing}"
    );

    let field = |f: &str| {
        run(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg(f))
            .trim()
            .to_string()
    };
    let depends = field("Depends");
    for d in [
        "uidmap",
        "slirp4netns | passt",
        "fuse-overlayfs",
        "libc6 (>= 2.",
    ] {
        assert!(depends.contains(d), "Depends: {depends}");
    }
    // netavark and aardvark-dns: user-defined networks (issue 14).
    assert_eq!(field("Recommends"), "catatonit, netavark, aardvark-dns");
    assert_eq!(field("Package"), "rpod");
    assert_eq!(field("Version"), format!("{version}-1"));

    // Unpacked, the generator link reaches the binary, and the man pages read.
    let x = tmp.path().join("x");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x));
    let gen = x.join("usr/lib/systemd/user-generators/rpod-user-generator");
    assert_eq!(
        std::fs::canonicalize(&gen).unwrap(),
        std::fs::canonicalize(x.join("usr/bin/rpod")).unwrap()
    );
    let page = run(Command::new("man")
        .arg("-l")
        .arg(x.join("usr/share/man/man1/rpod-generate-systemd.1.gz"))
        .env("MANWIDTH", "80")
        .env("PAGER", "cat"));
    assert!(page.contains("EXAMPLES"), "{page}");
}

/// What a release tarball unpacks to, with the test build of rpod standing
/// in for target/release/rpod, so that the packages' own install steps run
/// unchanged.
fn fake_source_tree(dir: &Path) -> PathBuf {
    let t = dir.join(format!("rpod-{}", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(t.join("target/release")).unwrap();
    for d in ["completions", "man", "packaging"] {
        std::os::unix::fs::symlink(repo().join(d), t.join(d)).unwrap();
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rpod"), t.join("target/release/rpod")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_rpod-monitor"),
        t.join("target/release/rpod-monitor"),
    )
    .unwrap();
    t
}

/// Replace the rpm macros the spec uses with their usual values.
fn rpm_expand(s: &str, buildroot: &Path) -> String {
    s.replace("%{buildroot}", &buildroot.display().to_string())
        .replace("%{_bindir}", "/usr/bin")
        .replace("%{_libexecdir}", "/usr/libexec")
        .replace("%{_mandir}", "/usr/share/man")
        .replace("%{_datadir}", "/usr/share")
        .replace("%{_prefix}", "/usr")
}

fn spec_section<'a>(spec: &'a str, name: &str) -> Vec<&'a str> {
    let mut lines = spec.lines().skip_while(|l| l.trim() != name);
    lines.next();
    lines
        .take_while(|l| !l.starts_with('%') || l.starts_with("%{"))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect()
}

fn glob_match(pattern: &str, path: &str) -> bool {
    // Enough of glob(7) for %files: '*' within one path component.
    fn m(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && m(p, &s[1..])),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), path.as_bytes())
}

#[test]
fn rpm_spec_installs_and_lists_the_same_files() {
    let spec = std::fs::read_to_string(repo().join("packaging/rpm/rpod.spec")).unwrap();
    let version = spec
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .unwrap()
        .trim();
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "rpod.spec Version");
    for req in [
        "Requires:       (slirp4netns or passt)",
        "Requires:       fuse-overlayfs",
        "Recommends:     catatonit",
        "Recommends:     netavark",
        "Recommends:     aardvark-dns",
    ] {
        assert!(spec.contains(req), "rpod.spec lacks {req}");
    }

    // %install as rpmbuild runs it: in the unpacked sources.
    let tmp = tempfile::tempdir().unwrap();
    let sources = fake_source_tree(tmp.path());
    let buildroot = tmp.path().join("buildroot");
    let script = spec_section(&spec, "%install")
        .iter()
        .map(|l| rpm_expand(l, &buildroot))
        .collect::<Vec<_>>()
        .join("\n");
    run(Command::new("sh")
        .args(["-euc", &script])
        .current_dir(&sources));
    let installed = tree(&buildroot);
    assert_eq!(normalise(&installed), expected_files());

    // %files: every pattern matches something, every installed file is listed.
    let patterns: Vec<String> = spec_section(&spec, "%files")
        .iter()
        .map(|l| rpm_expand(l.trim(), &buildroot))
        .collect();
    for p in &patterns {
        assert!(
            installed.iter().any(|f| glob_match(p, f)),
            "%files {p} matches nothing"
        );
    }
    for f in &installed {
        assert!(
            patterns.iter().any(|p| glob_match(p, f)),
            "{f} is installed but not in %files"
        );
    }
}

#[test]
fn pkgbuild_installs_the_same_files() {
    let pkgbuild = repo().join("packaging/arch/PKGBUILD");
    let text = std::fs::read_to_string(&pkgbuild).unwrap();
    assert!(
        text.contains(&format!("pkgver={}\n", env!("CARGO_PKG_VERSION"))),
        "PKGBUILD pkgver"
    );
    // package() as makepkg runs it: srcdir holds the unpacked sources.
    let tmp = tempfile::tempdir().unwrap();
    let srcdir = tmp.path().join("src");
    let pkgdir = tmp.path().join("pkg");
    fake_source_tree(&srcdir);
    let script = format!(
        "set -eu; source {}; srcdir={}; pkgdir={}; package",
        pkgbuild.display(),
        srcdir.display(),
        pkgdir.display(),
    );
    run(Command::new("bash").args(["-c", &script]));
    assert_eq!(normalise(&tree(&pkgdir)), expected_files());
}

#[test]
fn install_sh_installs_for_a_user_and_uninstalls() {
    let env = common::Env::new("install");
    let src = env.dir.join("src");
    // The test user cannot read root's build tree: give them a copy of what
    // install.sh reads.
    run(Command::new("mkdir").arg("-p").arg(src.join("packaging")));
    for d in ["completions", "man"] {
        run(Command::new("cp").arg("-r").arg(repo().join(d)).arg(&src));
    }
    run(Command::new("cp")
        .arg(repo().join("packaging/install.sh"))
        .arg(src.join("packaging")));
    run(Command::new("cp")
        .arg("-r")
        .arg(repo().join("packaging/systemd"))
        .arg(src.join("packaging")));
    run(Command::new("chown")
        .args(["-R", &format!("{}:", env.user)])
        .arg(&src));
    let prefix = env.home.join(".local");
    env.sh_ok(&format!(
        "GENERATOR_DIR=$HOME/.config/systemd/user-generators RPOD_BIN=$(command -v rpod) sh {}/packaging/install.sh {}",
        src.display(),
        prefix.display()
    ));
    // The user unit goes beside the generator, where systemd --user reads it.
    let unit = env.home.join(".config/systemd/user/rpod-restart.service");
    assert_eq!(
        std::fs::read_to_string(&unit).unwrap(),
        std::fs::read_to_string(repo().join("packaging/systemd/rpod-restart.service")).unwrap()
    );
    let out = env.sh_ok(&format!(
        "{p}/bin/rpod version >/dev/null && MANPATH={p}/share/man man -w rpod-run && \
         readlink $HOME/.config/systemd/user-generators/rpod-user-generator",
        p = prefix.display()
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        prefix
            .join("share/man/man1/rpod-run.1")
            .display()
            .to_string()
    );
    assert_eq!(lines[1], "../../../.local/bin/rpod");
    let installed = tree(&prefix);
    assert!(
        installed.contains("/share/bash-completion/completions/rpod"),
        "{installed:?}"
    );
    assert!(
        installed.contains("/share/zsh/site-functions/_rpod"),
        "{installed:?}"
    );

    env.sh_ok(&format!(
        "UNINSTALL=1 GENERATOR_DIR=$HOME/.config/systemd/user-generators sh {}/packaging/install.sh {}",
        src.display(),
        prefix.display()
    ));
    assert!(tree(&prefix).is_empty(), "left behind: {:?}", tree(&prefix));
    assert!(!unit.exists(), "left behind: {}", unit.display());
    assert!(!env
        .home
        .join(".config/systemd/user-generators/rpod-user-generator")
        .exists());

    let out = env.sh(&format!(
        "sh {}/packaging/install.sh relative/dir",
        src.display()
    ));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("relative/dir"));
}
