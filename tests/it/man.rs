//! Man pages: the committed `man/` is what `rpod __man` writes today, every
//! page renders without a groff warning, and every page carries the written
//! sections (DESCRIPTION, EXAMPLES; EXIT STATUS for run, exec and start).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_man() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man")
}

fn read_pages(dir: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".1") || name.ends_with(".5") {
            m.insert(name, std::fs::read_to_string(e.path()).unwrap());
        }
    }
    m
}

fn generated() -> (tempfile::TempDir, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
        .arg("__man")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages = read_pages(dir.path());
    (dir, pages)
}

/// RPOD_BLESS=1 rewrites man/ instead of failing.
#[test]
fn committed_pages_are_current() {
    let (_d, want) = generated();
    if std::env::var_os("RPOD_BLESS").is_some() {
        let dir = repo_man();
        std::fs::create_dir_all(&dir).unwrap();
        for name in read_pages(&dir).keys() {
            if !want.contains_key(name) {
                std::fs::remove_file(dir.join(name)).unwrap();
            }
        }
        for (name, text) in &want {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let have = read_pages(&repo_man());
    let missing: Vec<&String> = want.keys().filter(|k| !have.contains_key(*k)).collect();
    let extra: Vec<&String> = have.keys().filter(|k| !want.contains_key(*k)).collect();
    let changed: Vec<&String> = want
        .iter()
        .filter(|(k, v)| have.get(*k).is_some_and(|h| h != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "man/ is stale (missing {missing:?}, extra {extra:?}, changed {changed:?}). Regenerate it with \
         `RPOD_BLESS=1 cargo test --test it man::committed_pages_are_current`"
    );
}

#[test]
fn every_page_renders_without_warnings() {
    let dir = repo_man();
    let pages = read_pages(&dir);
    assert!(pages.len() > 40, "only {} pages in man/", pages.len());
    for name in pages.keys() {
        let out = Command::new("groff")
            .args(["-ww", "-z", "-man"])
            .arg(dir.join(name))
            .output()
            .expect("groff (package groff-base)");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.is_empty(),
            "groff -ww -z -man {name}:\n{err}"
        );
    }
}

#[test]
fn man_renders_run_page_with_its_sections() {
    let out = Command::new("man")
        .arg("-l")
        .arg(repo_man().join("rpod-run.1"))
        .env("MANWIDTH", "80")
        .env("MANROFFOPT", "-ww")
        .env("MAN_KEEP_FORMATTING", "")
        .env("PAGER", "cat")
        .output()
        .expect("man (package man-db)");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "man -l: {err}"
    );
    for heading in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(
            text.lines().any(|l| l == heading),
            "no {heading} in the rendered page:\n{text}"
        );
    }
    assert!(
        text.contains("rpod run --rm alpine cat /etc/os-release"),
        "{text}"
    );
    assert!(text.contains("--cidfile"), "{text}");
}

#[test]
fn every_command_page_has_written_sections() {
    let pages = read_pages(&repo_man());
    for (name, text) in &pages {
        if name.ends_with(".5") {
            for s in ["DESCRIPTION", "FORMAT", "FILES", "EXAMPLES"] {
                assert!(text.contains(&format!(".SH \"{s}\"")), "{name} has no {s}");
            }
            continue;
        }
        assert!(
            text.contains(".SH \"DESCRIPTION\""),
            "{name} has no written DESCRIPTION"
        );
        assert!(text.contains(".SH \"EXAMPLES\""), "{name} has no EXAMPLES");
    }
    for p in [
        "rpod-run.1",
        "rpod-exec.1",
        "rpod-start.1",
        "rpod-container-run.1",
    ] {
        let text = &pages[p];
        assert!(
            text.contains(".SH \"EXIT STATUS\""),
            "{p} has no EXIT STATUS"
        );
        for code in ["125", "126", "127"] {
            assert!(text.contains(&format!("\n.B {code}\n")), "{p}: no {code}");
        }
    }
    for p in [
        "rpod.1",
        "rpod-pull.1",
        "rpod-image-ls.1",
        "rpod-generate-systemd.1",
        "rpod-generate-quadlet.1",
        "rpod-registries.conf.5",
        "rpod-containers.conf.5",
        "rpod-auth.json.5",
    ] {
        assert!(pages.contains_key(p), "no {p}");
    }
    // Hidden internal commands get no page.
    assert!(
        !pages.keys().any(|k| k.contains("__")),
        "{:?}",
        pages.keys()
    );
}
