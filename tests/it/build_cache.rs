//! `rpod build`'s layer cache for COPY/ADD and RUN --mount=type=bind: keyed
//! by the sources' content, as buildah's digest is (checked against podman
//! 4.3.1 here: a touched file hits the cache, a rewritten one with the same
//! size and mtime misses, a chmod misses).

use crate::build::{alpine, context};
use crate::common::*;
use std::path::Path;
use std::process::Command;

/// Set the mtime (and atime) of `p` to `secs.nanos` since the epoch.
fn set_mtime(p: &Path, stamp: &str) {
    let st = Command::new("touch")
        .args(["-d", &format!("@{stamp}"), p.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn mtime_ns(p: &Path) -> i128 {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).unwrap();
    m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128
}

fn cached_steps(out: &str) -> usize {
    out.matches("--> Using cache").count()
}

#[test]
fn build_copy_cache_is_keyed_by_content_not_by_stat() {
    let env = new_env("bccontent");
    let cf = format!(
        "FROM {}\nCOPY a.txt /a.txt\nCOPY dir /dir\nRUN cat /a.txt /dir/b > /copy\n",
        alpine()
    );
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Containerfile", &cf),
            ("a.txt", "aaaa\n"),
            ("dir/b", "bbbb\n"),
        ],
    );
    let a = ctx.join("a.txt");
    let b = ctx.join("dir/b");
    set_mtime(&a, "1000000000.5");
    set_mtime(&b, "1000000000.5");
    // Old enough (ctime over a second before the build) for rpod to
    // remember the files' hashes by their stat: the later rewrites must
    // still be seen through that memory.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let c = ctx.to_str().unwrap();
    let out = env.rpod_ok(&["build", "-t", "cc", c]);
    assert_eq!(cached_steps(&out), 0, "{out}");
    let first = out.lines().last().unwrap().to_string();
    let memo = std::fs::read_to_string(store_root(&env).join("build-cache/file-hashes")).unwrap();
    assert_eq!(
        memo.lines().count(),
        2,
        "both files' hashes remembered: {memo}"
    );

    // Touched, same content: every step from the cache (as buildah).
    set_mtime(&a, "1200000000");
    set_mtime(&b, "1200000000");
    let out = env.rpod_ok(&["build", "-t", "cc", c]);
    assert_eq!(cached_steps(&out), 3, "{out}");
    assert_eq!(out.lines().last().unwrap(), first);

    // Rewritten with the same size, the mtime put back exactly: a miss
    // from that COPY on, and the new content is in the image.
    let before = mtime_ns(&b);
    std::fs::write(&b, "BBBB\n").unwrap();
    set_mtime(&b, "1200000000");
    assert_eq!(mtime_ns(&b), before);
    let out = env.rpod_ok(&["build", "-t", "cc", c]);
    assert_eq!(
        cached_steps(&out),
        1,
        "only the first COPY is reused: {out}"
    );
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "cc", "cat", "/copy"]),
        "aaaa\nBBBB\n"
    );

    // And back to the first content: the first build's steps again.
    std::fs::write(&b, "bbbb\n").unwrap();
    let out = env.rpod_ok(&["build", "-t", "cc", c]);
    assert_eq!(cached_steps(&out), 3, "{out}");
    assert_eq!(out.lines().last().unwrap(), first);

    // A mode change is a change (buildah's digest holds the mode).
    std::fs::set_permissions(&a, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = env.rpod_ok(&["build", "-t", "cc", c]);
    assert_eq!(cached_steps(&out), 0, "{out}");
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "cc", "stat", "-c", "%a", "/a.txt"]),
        "600\n"
    );
}

#[test]
fn build_copy_cache_sees_a_file_rewritten_right_after_a_build() {
    // A file hashed in the same second as it was written is not
    // remembered by its stat (its next rewrite may keep every stamp the
    // clock can tell apart): the rebuild reads it again.
    let env = new_env("bcracy");
    let cf = format!("FROM {}\nCOPY a /a\n", alpine());
    let ctx = context(&env, "ctx", &[("Containerfile", &cf), ("a", "one\n")]);
    let a = ctx.join("a");
    set_mtime(&a, "1000000000");
    let c = ctx.to_str().unwrap();
    env.rpod_ok(&["build", "-t", "racy", c]);
    std::fs::write(&a, "two\n").unwrap();
    set_mtime(&a, "1000000000");
    let out = env.rpod_ok(&["build", "-t", "racy", c]);
    assert_eq!(cached_steps(&out), 0, "{out}");
    assert_eq!(env.rpod_ok(&["run", "--rm", "racy", "cat", "/a"]), "two\n");
}

#[test]
fn build_run_bind_mount_cache_is_keyed_by_content() {
    let env = new_env("bcbind");
    let cf = format!(
        "FROM {}\nRUN --mount=type=bind,source=src,target=/src cat /src/f > /out\n",
        alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf), ("src/f", "x1\n")]);
    let f = ctx.join("src/f");
    set_mtime(&f, "1000000000");
    let c = ctx.to_str().unwrap();
    env.rpod_ok(&["build", "-t", "bind", c]);
    set_mtime(&f, "1100000000");
    let out = env.rpod_ok(&["build", "-t", "bind", c]);
    assert_eq!(cached_steps(&out), 1, "touched only: {out}");
    std::fs::write(&f, "x2\n").unwrap();
    set_mtime(&f, "1100000000");
    let out = env.rpod_ok(&["build", "-t", "bind", c]);
    assert_eq!(cached_steps(&out), 0, "{out}");
    assert_eq!(env.rpod_ok(&["run", "--rm", "bind", "cat", "/out"]), "x2\n");
}

#[test]
fn build_run_bind_mount_from_the_context_honours_containerignore() {
    let env = new_env("bcbindign");
    let cf = format!(
        "FROM {}\n\
         RUN --mount=type=bind,target=/ctx find /ctx -type f | sort > /list\n\
         RUN --mount=type=bind,source=sub,target=/sub,rw find /sub -type f | sort > /sublist && touch /sub/new\n",
        alpine()
    );
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Containerfile", &cf),
            (".containerignore", "secret.txt\nsub/*.log\n"),
            ("secret.txt", "S"),
            ("keep.txt", "k"),
            ("sub/a.log", "L"),
            ("sub/b.txt", "b"),
        ],
    );
    let c = ctx.to_str().unwrap();
    env.rpod_ok(&["build", "-t", "bindign", c]);
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "bindign", "cat", "/list", "/sublist"]),
        "/ctx/.containerignore\n/ctx/Containerfile\n/ctx/keep.txt\n/ctx/sub/b.txt\n/sub/b.txt\n"
    );
    // The rw bind wrote into a copy, not the context.
    assert!(!ctx.join("sub/new").exists());
    // An ignored file is not part of the step's key: changing it reuses
    // the steps.
    std::fs::write(ctx.join("sub/a.log"), "changed").unwrap();
    std::fs::write(ctx.join("secret.txt"), "changed").unwrap();
    let out = env.rpod_ok(&["build", "-t", "bindign", c]);
    assert_eq!(cached_steps(&out), 2, "{out}");
    // An ignored file named as the source is refused, as COPY's.
    std::fs::write(
        ctx.join("Containerfile"),
        format!(
            "FROM {}\nRUN --mount=type=bind,source=secret.txt,target=/s cat /s\n",
            alpine()
        ),
    )
    .unwrap();
    let (code, err) = env.rpod_fail(&["build", c]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("secret.txt: excluded by the ignore file"),
        "{err}"
    );
    assert_clean(&env, &[]);
}

/// `image prune` (no -a) removes dangling images as podman 4.3.1 does
/// (checked side by side): a build's intermediate images are parents of
/// its result and stay with it; once the result loses its name to a
/// rebuild, it and the chain only it used go, and what the new result
/// uses (its cache included) stays.
#[test]
fn build_intermediates_stay_until_their_result_is_dropped_then_prune_removes_the_chain() {
    let env = new_env("bcprune");
    let cf = format!(
        "FROM {}\nCOPY a /a\nRUN cat /a > /b\nENV X=1\nCMD [\"cat\", \"/b\"]\n",
        alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf), ("a", "one\n")]);
    let c = ctx.to_str().unwrap();
    let all = |env: &Env| -> Vec<String> {
        let mut v: Vec<String> = env
            .rpod_ok(&["images", "-a", "-q", "--no-trunc"])
            .lines()
            .map(|l| l.trim_start_matches("sha256:").to_string())
            .collect();
        v.sort();
        v
    };
    env.rpod_ok(&["build", "-q", "-t", "t1", c]);
    let first = all(&env);
    assert_eq!(
        first.len(),
        5,
        "alpine, 3 intermediate images, t1: {first:?}"
    );
    // Step images are not dangling (podman: no name and no child).
    assert_eq!(
        env.rpod_ok(&["images", "-a", "-q", "--filter", "dangling=true"]),
        ""
    );
    assert_eq!(env.rpod_ok(&["image", "prune", "-f"]), "");
    assert_eq!(all(&env), first);

    std::fs::write(ctx.join("a"), "two\n").unwrap();
    env.rpod_ok(&["build", "-q", "-t", "t1", c]);
    let second = all(&env);
    assert_eq!(second.len(), 9, "{second:?}");
    // Only the first build's result is dangling now (its parents have it
    // as their child).
    let t1_first = env
        .rpod_ok(&[
            "images",
            "-a",
            "-q",
            "--no-trunc",
            "--filter",
            "dangling=true",
        ])
        .trim()
        .trim_start_matches("sha256:")
        .to_string();
    assert!(first.contains(&t1_first), "{t1_first}");
    let flags = env.rpod_ok(&["images", "-a", "--format", "{{.Dangling}}"]);
    assert_eq!(flags.matches("true").count(), 1, "{flags}");
    assert_eq!(flags.matches("false").count(), 8, "{flags}");
    let mut pruned: Vec<String> = env
        .rpod_ok(&["image", "prune", "-f"])
        .lines()
        .map(String::from)
        .collect();
    pruned.sort();
    // The first build's chain (alpine aside), and nothing else.
    let alpine_id = env
        .rpod_ok(&["images", "-q", "--no-trunc", &alpine()])
        .trim()
        .trim_start_matches("sha256:")
        .to_string();
    let old: Vec<String> = first.iter().filter(|i| **i != alpine_id).cloned().collect();
    assert_eq!(pruned, old);
    assert_eq!(all(&env).len(), 5);
    // The current build is still fully cached.
    let out = env.rpod_ok(&["build", "-t", "t1", c]);
    assert_eq!(cached_steps(&out), 4, "{out}");
    assert_eq!(env.rpod_ok(&["run", "--rm", "t1"]), "two\n");
    // (--rm's removal may end an instant after the output.)
    assert!(eventually(10, || env
        .rpod_ok(&["ps", "-a", "-q"])
        .is_empty()));
    // -a: every image no container uses.
    let gone = env.rpod_ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(gone.lines().count(), 5, "{gone}");
    assert_eq!(env.rpod_ok(&["images", "-a", "-q"]), "");
}

/// `rmi` of a built image removes its build's step images with it, as
/// podman's (checked side by side: `podman rmi config` after untagging
/// alpine deleted both); --no-prune keeps them, and `image prune` then
/// finds them dangling.
#[test]
fn build_rmi_takes_the_step_images_unless_no_prune() {
    let env = new_env("bcrmi");
    let cf = format!("FROM {}\nCOPY a /a\nRUN cat /a > /b\nENV X=1\n", alpine());
    let ctx = context(&env, "ctx", &[("Containerfile", &cf), ("a", "one\n")]);
    let c = ctx.to_str().unwrap();
    let count = |env: &Env| env.rpod_ok(&["images", "-a", "-q"]).lines().count();
    let id = env
        .rpod_ok(&["build", "-q", "-t", "t1", c])
        .trim()
        .to_string();
    assert_eq!(count(&env), 4);
    let out = env.rpod_ok(&["rmi", "t1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Untagged: localhost/t1:latest", "{out}");
    assert_eq!(lines[1], format!("Deleted: {id}"), "{out}");
    assert_eq!(lines.len(), 4, "t1 and its two step images: {out}");
    // The base image has a name: it stays.
    assert_eq!(count(&env), 1);
    assert_eq!(
        env.rpod_ok(&["images", "--format", "{{.Repository}}"])
            .trim(),
        alpine()
    );

    env.rpod_ok(&["build", "-q", "-t", "t1", c]);
    let out = env.rpod_ok(&["rmi", "--no-prune", "t1"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert_eq!(count(&env), 3);
    assert_eq!(env.rpod_ok(&["image", "prune", "-f"]).lines().count(), 2);
    assert_eq!(count(&env), 1);
}
