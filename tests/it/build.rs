//! `rpod build`: Containerfiles into images, as the unprivileged user,
//! on the test world's alpine (localhost:5000/alpine).

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A build context under the env's dir with `files` (path, content), owned
/// by the test user.
pub(crate) fn context(env: &Env, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (p, c) in files {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, c).unwrap();
    }
    chown(env, &dir);
    dir
}

pub(crate) fn chown(env: &Env, p: &Path) {
    let st = Command::new("chown")
        .args(["-R", &format!("{}:", env.user), p.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
}

pub(crate) fn alpine() -> String {
    format!("{}/alpine", world().registry())
}

pub(crate) fn inspect(env: &Env, image: &str, tmpl: &str) -> String {
    env.rpod_ok(&["image", "inspect", "--format", tmpl, image])
        .trim()
        .to_string()
}

#[test]
fn build_metadata_instructions_set_the_config_as_buildah_does() {
    let env = new_env("bmeta");
    let cf = format!(
        "FROM {}\n\
         ARG GREETING=hi\n\
         ENV A=1 B=\"two words\" \\\n    C=${{GREETING}}-x\n\
         LABEL org.example.v=\"1.0\" who=$GREETING\n\
         MAINTAINER someone@example.com\n\
         USER 1000:1000\n\
         WORKDIR /srv\n\
         WORKDIR app\n\
         EXPOSE 80 53/udp\n\
         VOLUME [\"/data\"]\n\
         STOPSIGNAL SIGINT\n\
         ENTRYPOINT [\"/bin/echo\"]\n\
         CMD [\"hello\"]\n",
        alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf)]);
    let out = env.rpod_ok(&["build", "-t", "meta", ctx.to_str().unwrap()]);
    assert!(out.contains("STEP 1/13: FROM"), "{out}");
    assert!(
        out.contains("STEP 3/13: ENV A=1 B=\"two words\"     C=${GREETING}-x"),
        "{out}"
    );
    assert!(out.contains("COMMIT meta\n"), "{out}");
    assert!(
        out.contains("Successfully tagged localhost/meta:latest"),
        "{out}"
    );
    let id = out.lines().last().unwrap();
    assert_eq!(id.len(), 64, "{out}");
    let env_v = inspect(&env, "meta", "{{json .Config.Env}}");
    assert!(
        env_v.contains("\"A=1\",\"B=two words\",\"C=hi-x\""),
        "{env_v}"
    );
    assert!(!env_v.contains("GREETING"), "ARG leaked into Env: {env_v}");
    assert_eq!(
        inspect(&env, "meta", "{{json .Config.Labels}}"),
        format!(
            r#"{{"io.rpod.version":"{}","org.example.v":"1.0","who":"hi"}}"#,
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(inspect(&env, "meta", "{{.Config.User}}"), "1000:1000");
    assert_eq!(inspect(&env, "meta", "{{.Config.WorkingDir}}"), "/srv/app");
    assert_eq!(
        inspect(&env, "meta", "{{json .Config.ExposedPorts}}"),
        r#"{"53/udp":{},"80/tcp":{}}"#
    );
    assert_eq!(
        inspect(&env, "meta", "{{json .Config.Volumes}}"),
        r#"{"/data":{}}"#
    );
    assert_eq!(inspect(&env, "meta", "{{.Config.StopSignal}}"), "SIGINT");
    assert_eq!(
        inspect(
            &env,
            "meta",
            "{{json .Config.Entrypoint}} {{json .Config.Cmd}}"
        ),
        r#"["/bin/echo"] ["hello"]"#
    );
    assert_eq!(inspect(&env, "meta", "{{.Author}}"), "someone@example.com");
    // History as buildah writes it: one entry per step, metadata steps empty.
    let hist = inspect(&env, "meta", "{{json .History}}");
    let h: serde_json::Value = serde_json::from_str(&hist).unwrap();
    let h = h.as_array().unwrap();
    let ours = &h[h.len() - 12..];
    assert_eq!(ours[0]["created_by"], "/bin/sh -c #(nop) ARG GREETING=hi");
    assert_eq!(ours[0]["comment"], format!("FROM {}:latest", alpine()));
    assert_eq!(
        ours[1]["created_by"],
        "/bin/sh -c #(nop) ENV A=1 B=two words C=hi-x"
    );
    assert!(ours.iter().all(|e| e["empty_layer"] == true), "{hist}");
    // The image runs with them.
    assert_eq!(env.rpod_ok(&["run", "--rm", "meta"]).trim(), "hello");
}

#[test]
fn build_run_copy_add_make_layers_that_run_and_push() {
    let env = new_env("blayers");
    let ctx = context(
        &env,
        "ctx",
        &[
            ("app/main.sh", "echo from-main\n"),
            ("app/sub/data.txt", "data\n"),
            ("one.txt", "one\n"),
            ("two.txt", "two\n"),
        ],
    );
    // An archive ADD unpacks.
    let st = Command::new("tar")
        .args(["-czf", "bundle.tgz", "-C", "app", "."])
        .current_dir(&ctx)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(
        ctx.join("Containerfile"),
        format!(
            "FROM {}\n\
             COPY app /opt/app\n\
             COPY --chown=7:8 --chmod=0750 one.txt two.txt /multi/\n\
             ADD bundle.tgz /unpacked/\n\
             COPY [\"*.txt\", \"/globbed/\"]\n\
             RUN rm /opt/app/sub/data.txt && echo made > /made && sh /opt/app/main.sh\n\
             ARG WHO=friend\n\
             COPY <<EOF /etc/motd\nwelcome $WHO\nEOF\n\
             CMD sh /opt/app/main.sh\n",
            alpine()
        ),
    )
    .unwrap();
    chown(&env, &ctx);
    let out = env.rpod_ok(&[
        "build",
        "-t",
        "layers",
        "-t",
        "layers:v2",
        ctx.to_str().unwrap(),
    ]);
    assert!(out.contains("from-main\n"), "RUN output streamed: {out}");
    assert!(
        out.contains("Successfully tagged localhost/layers:v2"),
        "{out}"
    );
    let check = env.rpod_ok(&[
        "run",
        "--rm",
        "layers",
        "sh",
        "-c",
        "stat -c '%n %u:%g %a' /multi/one.txt /multi/two.txt; ls /unpacked /unpacked/sub /globbed; \
         cat /made /etc/motd; test -e /opt/app/sub/data.txt && echo still-there || echo deleted",
    ]);
    assert!(check.contains("/multi/one.txt 7:8 750"), "{check}");
    assert!(check.contains("/multi/two.txt 7:8 750"), "{check}");
    assert!(check.contains("main.sh"), "{check}");
    assert!(check.contains("data.txt"), "{check}");
    assert!(check.contains("one.txt\ntwo.txt"), "{check}");
    assert!(check.contains("made\nwelcome friend\n"), "{check}");
    assert!(
        check.contains("deleted"),
        "the RUN's delete is a whiteout: {check}"
    );
    assert_eq!(env.rpod_ok(&["run", "--rm", "layers"]).trim(), "from-main");
    // One layer per filesystem step, history entries for each.
    let layers = inspect(&env, "layers", "{{len .RootFS.Layers}}");
    let base = inspect(&env, &alpine(), "{{len .RootFS.Layers}}");
    assert_eq!(
        layers.parse::<usize>().unwrap(),
        base.parse::<usize>().unwrap() + 6
    );
    let hist = inspect(&env, "layers", "{{json .History}}");
    assert!(hist.contains("#(nop) COPY multi:"), "{hist}");
    assert!(hist.contains("#(nop) COPY file:"), "the heredoc: {hist}");
    assert!(hist.contains("#(nop) COPY dir:"), "{hist}");
    assert!(
        hist.contains("/bin/sh -c rm /opt/app/sub/data.txt"),
        "{hist}"
    );
    // Pushed to the registry and pulled back elsewhere, it runs.
    let dest = format!(
        "{}/rpod-build-{}:latest",
        world().registry(),
        std::process::id()
    );
    env.rpod_ok(&["push", "layers", &dest]);
    let other = new_env("blayers2");
    other.rpod_ok(&["pull", "-q", &dest]);
    assert_eq!(other.rpod_ok(&["run", "--rm", &dest]).trim(), "from-main");
    assert_clean(&env, &[]);
}

#[test]
fn build_multistage_copies_from_stages_and_skips_unused_ones() {
    let env = new_env("bmulti");
    let cf = format!(
        "ARG BASE={a}\n\
         FROM ${{BASE}} AS builder\n\
         ARG MSG=hello\n\
         RUN <<EOF\n\
         mkdir -p /out\n\
         echo \"$MSG from builder\" > /out/result\n\
         EOF\n\
         FROM $BASE AS broken\n\
         RUN false\n\
         FROM {a} AS other\n\
         RUN echo other > /other\n\
         FROM $BASE\n\
         ARG BASE\n\
         LABEL base=$BASE\n\
         COPY --from=builder /out/result /result\n\
         COPY --from=other /other /other\n\
         CMD cat /result /other\n",
        a = alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf)]);
    let out = env.rpod_ok(&[
        "build",
        "--build-arg",
        "MSG=bonjour",
        "-t",
        "multi",
        ctx.to_str().unwrap(),
    ]);
    assert!(
        out.contains("[1/4] STEP 1/3: FROM ${BASE} AS builder"),
        "{out}"
    );
    assert!(!out.contains("[2/4]"), "the unused stage ran: {out}");
    assert!(out.contains("[4/4] COMMIT multi"), "{out}");
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "multi"]),
        "bonjour from builder\nother\n"
    );
    assert_eq!(
        inspect(&env, "multi", "{{json .Config.Labels}}"),
        format!(
            r#"{{"base":"{}","io.rpod.version":"{}"}}"#,
            alpine(),
            env!("CARGO_PKG_VERSION")
        )
    );
    // --target builds up to a stage; the unused broken one fails when asked.
    let out = env.rpod_ok(&[
        "build",
        "--target",
        "other",
        "-t",
        "other",
        ctx.to_str().unwrap(),
    ]);
    assert!(!out.contains("[1/4]"), "{out}");
    let (code, err) = env.rpod_fail(&["build", "--target", "broken", ctx.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert_clean(&env, &[]);
}

#[test]
fn build_cache_reuses_steps_until_a_copied_file_changes() {
    let env = new_env("bcache");
    let cf = format!(
        "FROM {}\nRUN echo first > /first\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nENV X=1\n",
        alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf), ("a.txt", "v1\n")]);
    let c = ctx.to_str().unwrap();
    let out = env.rpod_ok(&["build", "-t", "cached", c]);
    assert!(!out.contains("Using cache"), "{out}");
    let id1 = out.lines().last().unwrap().to_string();
    let t = std::time::Instant::now();
    let out = env.rpod_ok(&["build", "-t", "cached", c]);
    let cached = t.elapsed();
    assert_eq!(out.matches("--> Using cache").count(), 4, "{out}");
    assert_eq!(out.lines().last().unwrap(), id1);
    eprintln!("fully cached rebuild: {cached:?}");
    // A changed file: the first RUN is reused, the COPY and what follows rerun.
    std::fs::write(ctx.join("a.txt"), "v2\n").unwrap();
    let out = env.rpod_ok(&["build", "-t", "cached", c]);
    assert_eq!(out.matches("--> Using cache").count(), 1, "{out}");
    let after_first = out.split("STEP 3/5").nth(1).unwrap();
    assert!(!after_first.contains("Using cache"), "{out}");
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "cached", "cat", "/copy"]),
        "v2\n"
    );
    // --no-cache runs everything again.
    let out = env.rpod_ok(&["build", "--no-cache", "-t", "cached", c]);
    assert!(!out.contains("Using cache"), "{out}");
    // The same input at a fixed timestamp is the same image.
    let a = env.rpod_ok(&["build", "-q", "--no-cache", "--timestamp", "0", c]);
    let b = env.rpod_ok(&["build", "-q", "--no-cache", "--timestamp", "0", c]);
    assert_eq!(a, b, "not reproducible");
    assert_eq!(a.lines().count(), 1, "-q prints only the id: {a}");
    assert_eq!(
        inspect(&env, a.trim(), "{{.Created}}"),
        "1970-01-01T00:00:00Z"
    );
    assert_clean(&env, &[]);
}

#[test]
fn build_honours_containerignore() {
    let env = new_env("bignore");
    let cf = format!("FROM {}\nCOPY . /ctx/\n", alpine());
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Containerfile", &cf),
            (
                ".containerignore",
                "*.secret\n**/*.log\nbuild/\n!build/keep\n",
            ),
            ("a.secret", "S"),
            ("sub/b.log", "L"),
            ("sub/ok.txt", "ok"),
            ("build/x", "x"),
            ("build/keep", "k"),
        ],
    );
    env.rpod_ok(&["build", "-t", "ign", ctx.to_str().unwrap()]);
    let ls = env.rpod_ok(&["run", "--rm", "ign", "find", "/ctx", "-type", "f"]);
    let mut files: Vec<&str> = ls.lines().collect();
    files.sort();
    assert_eq!(
        files,
        [
            "/ctx/.containerignore",
            "/ctx/Containerfile",
            "/ctx/build/keep",
            "/ctx/sub/ok.txt"
        ]
    );
    // An excluded file named as a source is an error.
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {}\nCOPY a.secret /\n", alpine()),
    )
    .unwrap();
    let (code, err) = env.rpod_fail(&["build", ctx.to_str().unwrap()]);
    assert_eq!(code, 125);
    assert!(
        err.contains("a.secret: excluded by the ignore file"),
        "{err}"
    );
}

/// Attack: sources that leave the context (`../x`, a symlink out of it,
/// an absolute symlink, a symlink inside a copied directory) are refused
/// or copied as links, and nothing outside the context is read.
#[test]
fn build_copy_out_of_context_is_refused() {
    let env = new_env("bescape");
    let secret = env.dir.join("outside-secret");
    std::fs::write(&secret, "TOP-SECRET-MARKER-91723").unwrap();
    chown(&env, &secret);
    let ctx = context(&env, "ctx", &[("ok.txt", "ok"), ("dir/file", "f")]);
    std::os::unix::fs::symlink(&secret, ctx.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../outside-secret", ctx.join("rel-link")).unwrap();
    std::os::unix::fs::symlink("../../outside-secret", ctx.join("dir/inner-link")).unwrap();
    chown(&env, &ctx);
    for (src, msg) in [
        ("../outside-secret", "outside the build context"),
        ("abs-link", "points outside the build context"),
        ("rel-link", "points outside the build context"),
        ("dir/../../outside-secret", "outside the build context"),
    ] {
        std::fs::write(
            ctx.join("Containerfile"),
            format!("FROM {}\nCOPY {src} /x\n", alpine()),
        )
        .unwrap();
        let (code, err) = env.rpod_fail(&["build", ctx.to_str().unwrap()]);
        assert_eq!(code, 125, "{src}: {err}");
        assert!(err.contains(msg), "{src}: {err}");
        assert!(err.contains("Containerfile:2:6"), "{src}: {err}");
    }
    // A symlink inside a copied directory is copied as a symlink.
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {}\nCOPY dir /d\n", alpine()),
    )
    .unwrap();
    env.rpod_ok(&["build", "-t", "links", ctx.to_str().unwrap()]);
    let out = env.rpod_ok(&["run", "--rm", "links", "readlink", "/d/inner-link"]);
    assert_eq!(out.trim(), "../../outside-secret");
    // Nothing of the secret is anywhere in the store.
    let st = Command::new("grep")
        .args(["-r", "-l", "TOP-SECRET-MARKER-91723"])
        .arg(store_root(&env))
        .output()
        .unwrap();
    assert!(
        st.stdout.is_empty(),
        "the secret was read into: {}",
        String::from_utf8_lossy(&st.stdout)
    );
}

#[test]
fn build_failing_run_reports_the_step_and_leaves_nothing() {
    let env = new_env("bfail");
    let cf = format!(
        "FROM {}\nRUN echo before\nRUN exit 3\nRUN echo never\n",
        alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf)]);
    let out = env.rpod(&["build", "-t", "failed", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "Error: building at STEP \"RUN exit 3\": while running runtime: exit status 3"
        ),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("never"));
    let (code, _) = env.rpod_fail(&["image", "exists", "failed"]);
    assert_eq!(code, 1);
    assert_clean(&env, &[]);
    // Nothing half-made in the store's tmp dir.
    let tmp = env.store_entries("tmp");
    assert!(tmp.is_empty(), "tmp leftovers: {tmp:?}");
}

#[test]
fn build_flags_file_stdin_iidfile_labels_and_syntax_errors() {
    let env = new_env("bflags");
    let ctx = context(&env, "ctx", &[("f.txt", "f")]);
    let cf = format!("FROM {}\nARG V=default\nRUN echo \"v=$V\" > /v\n", alpine());
    let iid = env.dir.join("iid");
    let out = env.rpod_stdin(
        &[
            "build",
            "-f",
            "-",
            "--build-arg",
            "V=given",
            "--label",
            "team=core",
            "--iidfile",
            iid.to_str().unwrap(),
            "-t",
            "flags",
            ctx.to_str().unwrap(),
        ],
        cf.as_bytes(),
    );
    assert!(out.status.success(), "{}", err(&out));
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert_eq!(
        std::fs::read_to_string(&iid).unwrap(),
        format!("sha256:{id}")
    );
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "flags", "cat", "/v"]),
        "v=given\n"
    );
    assert_eq!(
        inspect(&env, "flags", "{{json .Config.Labels}}"),
        format!(
            r#"{{"io.rpod.version":"{}","team":"core"}}"#,
            env!("CARGO_PKG_VERSION")
        )
    );
    // The history of a RUN with ARGs names them, as docker and buildah do.
    let hist = inspect(&env, "flags", "{{json .History}}");
    assert!(hist.contains("|1 V=given /bin/sh -c echo"), "{hist}");
    // Syntax errors name the file, line and column.
    let bad = env.dir.join("Bad.containerfile");
    std::fs::write(&bad, format!("FROM {}\nRUN true\n   NOPE x\n", alpine())).unwrap();
    chown(&env, &bad);
    let (code, e) = env.rpod_fail(&["build", "-f", bad.to_str().unwrap(), ctx.to_str().unwrap()]);
    assert_eq!(code, 125);
    assert!(
        e.contains("Bad.containerfile:3:4: unknown instruction: NOPE"),
        "{e}"
    );
    std::fs::write(&bad, format!("FROM {}\nCOPY missing.txt /\n", alpine())).unwrap();
    let (_, e) = env.rpod_fail(&["build", "-f", bad.to_str().unwrap(), ctx.to_str().unwrap()]);
    assert!(
        e.contains("missing.txt: no such file or directory in the build context"),
        "{e}"
    );
    // No Containerfile in the context.
    let (_, e) = env.rpod_fail(&["build", ctx.to_str().unwrap()]);
    assert!(e.contains("no Containerfile or Dockerfile"), "{e}");
    // Another architecture is refused clearly.
    let (_, e) = env.rpod_fail(&[
        "build",
        "--arch",
        "s390x",
        "-f",
        bad.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    assert!(e.contains("s390x is not supported"), "{e}");
}
