//! `rpod build`'s RUN mounts, secrets, output, squash, URL and stdin
//! flags, as the unprivileged user on the test world's alpine; and the
//! attacks on each new input: a Containerfile that tries to read or write
//! outside what it was given.

use crate::build::{alpine, chown, context, inspect};
use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

fn run_cat(env: &Env, image: &str, path: &str) -> String {
    env.rpod_ok(&["run", "--rm", image, "cat", path])
        .trim()
        .to_string()
}

fn absent(env: &Env, image: &str, path: &str) -> bool {
    env.rpod(&["run", "--rm", image, "test", "-e", path])
        .status
        .code()
        == Some(1)
}

/// Whether any file under `dir` holds `needle`.
fn tree_holds(dir: &Path, needle: &str) -> bool {
    let out = Command::new("grep")
        .args(["-r", "-l", "-a", "-F", "--"])
        .arg(needle)
        .arg(dir)
        .output()
        .unwrap();
    !out.stdout.is_empty()
}

#[test]
fn build_run_mounts_bind_cache_tmpfs_secret_and_volumes() {
    let env = new_env("bmounts");
    let secret_value = "s3cret-build-value-4471";
    let sfile = env.dir.join("token.txt");
    std::fs::write(&sfile, secret_value).unwrap();
    chown(&env, &sfile);
    let host = context(&env, "hostvol", &[("f", "from-volume")]);
    let cf = format!(
        "FROM {}\n\
         RUN --mount=type=bind,source=data.txt,target=/m1/in/data.txt cat /m1/in/data.txt > /got-bind\n\
         RUN --mount=type=bind,source=sub,target=/srvx,rw echo scribble > /srvx/new && cat /srvx/inner > /got-rw\n\
         RUN --mount=type=cache,target=/var/cache/mine echo x >> /var/cache/mine/n && wc -l < /var/cache/mine/n > /got-cache\n\
         RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && grep -c ' /scratch tmpfs' /proc/mounts > /got-tmpfs\n\
         RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /got-secret\n\
         RUN --mount=type=secret,id=tok,target=/opt/s2 cat /opt/s2 | wc -c > /got-secret2\n\
         RUN cat /hv/f > /got-vol\n",
        alpine()
    );
    let ctx = context(
        &env,
        "ctx",
        &[
            ("data.txt", "bound-data"),
            ("sub/inner", "inner-data"),
            ("Containerfile", &cf),
        ],
    );
    let c = ctx.to_str().unwrap();
    let secret_arg = format!("id=tok,src={}", sfile.display());
    let vol = format!("{}:/hv:ro", host.display());
    let build = |extra: &[&str]| {
        let mut a = vec!["build", "-t", "mnt", "--secret", &secret_arg, "-v", &vol];
        a.extend_from_slice(extra);
        a.push(c);
        env.rpod_ok(&a)
    };
    build(&[]);
    assert_eq!(run_cat(&env, "mnt", "/got-bind"), "bound-data");
    assert_eq!(run_cat(&env, "mnt", "/got-rw"), "inner-data");
    assert_eq!(run_cat(&env, "mnt", "/got-cache"), "1");
    assert_eq!(run_cat(&env, "mnt", "/got-tmpfs"), "1");
    assert_eq!(
        run_cat(&env, "mnt", "/got-secret"),
        secret_value.len().to_string()
    );
    assert_eq!(
        run_cat(&env, "mnt", "/got-secret2"),
        secret_value.len().to_string()
    );
    assert_eq!(run_cat(&env, "mnt", "/got-vol"), "from-volume");
    // The mount points are not the steps': none is left in the image.
    for p in [
        "/m1",
        "/srvx",
        "/var/cache/mine",
        "/scratch",
        "/run/secrets",
        "/opt/s2",
        "/hv",
    ] {
        assert!(absent(&env, "mnt", p), "{p} was left in the image");
    }
    // rw bind writes are the step's own: the context is untouched.
    assert!(!ctx.join("sub/new").exists());
    // The secret's value is nowhere in the store (layers, blobs, temp).
    assert!(!tree_holds(&store_root(&env), secret_value));
    // The cache mount outlives the build; a changed context file reruns the bind step.
    build(&["--no-cache"]);
    assert_eq!(run_cat(&env, "mnt", "/got-cache"), "2");
    std::fs::write(ctx.join("data.txt"), "bound-data-2").unwrap();
    let out = build(&[]);
    assert_eq!(run_cat(&env, "mnt", "/got-bind"), "bound-data-2");
    assert!(!out.contains("STEP 2/8: RUN --mount=type=bind,source=data.txt,target=/m1/in/data.txt cat /m1/in/data.txt > /got-bind\n--> Using cache"), "{out}");
    // A secret not given: skipped unless required.
    let cf2 = format!(
        "FROM {}\nRUN --mount=type=secret,id=nope,required=true true\n",
        alpine()
    );
    std::fs::write(ctx.join("Containerfile"), cf2).unwrap();
    let (_, e) = env.rpod_fail(&["build", c]);
    assert!(e.contains("secret \"nope\" is required"), "{e}");
}

#[test]
fn build_run_mount_bind_source_cannot_leave_the_context() {
    let env = new_env("bmntesc");
    let outside = context(&env, "outside", &[("secret.txt", "OUTSIDE-7731")]);
    let ctx = context(&env, "ctx", &[("ok.txt", "ok")]);
    std::os::unix::fs::symlink(&outside, ctx.join("link")).unwrap();
    std::os::unix::fs::symlink("../outside/secret.txt", ctx.join("rel-link")).unwrap();
    chown(&env, &ctx);
    let c = ctx.to_str().unwrap();
    for src in [
        "../outside/secret.txt",
        "../../../../../../etc/passwd",
        "link/secret.txt",
        "rel-link",
    ] {
        let cf = format!(
            "FROM {}\nRUN --mount=type=bind,source={src},target=/m cat /m\n",
            alpine()
        );
        let out = env.rpod_stdin(&["build", "-f", "-", c], cf.as_bytes());
        let all = format!("{}{}", out_s(&out.stdout), out_s(&out.stderr));
        assert!(!out.status.success(), "{src}: {all}");
        assert!(!all.contains("OUTSIDE-7731"), "{src}: {all}");
        assert!(!all.contains("root:x:0:0"), "{src}: {all}");
        assert!(
            all.contains("not found in the build context"),
            "{src}: {all}"
        );
    }
    // A secret's value comes from the command line only, and its target
    // stays in the container.
    let cf = format!(
        "FROM {}\nRUN --mount=type=secret,id=x,src={}/secret.txt cat /run/secrets/x\n",
        alpine(),
        outside.display()
    );
    let out = env.rpod_stdin(&["build", "-f", "-", c], cf.as_bytes());
    let all = format!("{}{}", out_s(&out.stdout), out_s(&out.stderr));
    assert!(!out.status.success());
    assert!(all.contains("a secret mount takes no source"), "{all}");
    assert!(!all.contains("OUTSIDE-7731"), "{all}");
    let tok = env.dir.join("tok");
    std::fs::write(&tok, "TOKVALUE").unwrap();
    chown(&env, &tok);
    let escape = env.dir.join("escaped-secret");
    let cf = format!(
        "FROM {}\nRUN --mount=type=secret,id=t,target=../../../../..{} cat {}\n",
        alpine(),
        escape.display(),
        escape.display()
    );
    let sarg = format!("id=t,src={}", tok.display());
    let out = env.rpod_stdin(
        &["build", "--secret", &sarg, "-t", "sec", "-f", "-", c],
        cf.as_bytes(),
    );
    assert!(out.status.success(), "{}", out_s(&out.stderr));
    assert!(!escape.exists(), "the secret's target landed on the host");
    // A bind mount is read-only unless rw: the context can't be written.
    let cf = format!(
        "FROM {}\nRUN --mount=type=bind,target=/c sh -c 'echo pwned > /c/ok.txt'\n",
        alpine()
    );
    let out = env.rpod_stdin(&["build", "-f", "-", c], cf.as_bytes());
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(ctx.join("ok.txt")).unwrap(), "ok");
    // A cache id is a name, not a path: it can't reach outside the store.
    let cf = format!(
        "FROM {}\nRUN --mount=type=cache,id=../../../../../..{},target=/c touch /c/planted\n",
        alpine(),
        outside.display()
    );
    let out = env.rpod_stdin(&["build", "-f", "-", c], cf.as_bytes());
    assert!(out.status.success(), "{}", out_s(&out.stderr));
    assert!(!outside.join("planted").exists());
    // Nothing outside was written.
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "OUTSIDE-7731"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
}

fn out_s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn build_output_local_and_tar_stay_in_their_destination() {
    let env = new_env("boutput");
    let victim = env.dir.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    chown(&env, &victim);
    // One build plants a symlink to the victim dir in the output...
    let cf1 = format!(
        "FROM {}\nRUN echo hello > /hello && ln -s {} /esc && ln -s /etc/passwd /pw\n",
        alpine(),
        victim.display()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf1)]);
    let c = ctx.to_str().unwrap();
    let dest = env.dir.join("out");
    let o = format!("type=local,dest={}", dest.display());
    env.rpod_ok(&["build", "-q", "-o", &o, c]);
    assert_eq!(
        std::fs::read_to_string(dest.join("hello")).unwrap(),
        "hello\n"
    );
    assert!(dest.join("bin/busybox").exists() || dest.join("bin/sh").exists());
    assert_eq!(
        std::fs::read_link(dest.join("esc")).unwrap(),
        victim.as_path()
    );
    // ... the next writes through it: it must land in the output, not the victim.
    let cf2 = format!(
        "FROM {}\nRUN mkdir /esc && echo pwned > /esc/pwned && echo x > /pw\n",
        alpine()
    );
    std::fs::write(ctx.join("Containerfile"), cf2).unwrap();
    env.rpod_ok(&["build", "-q", "-o", &o, c]);
    assert!(
        !victim.join("pwned").exists(),
        "written through the symlink"
    );
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    assert!(dest.join("esc").is_dir());
    assert_eq!(
        std::fs::read_to_string(dest.join("esc/pwned")).unwrap(),
        "pwned\n"
    );
    assert!(std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .starts_with("root:"));
    // type=tar: a file; `-o -`: the tar on stdout, the lines elsewhere.
    let tarf = env.dir.join("out.tar");
    let o = format!("type=tar,dest={}", tarf.display());
    env.rpod_ok(&["build", "-q", "-o", &o, c]);
    let list = Command::new("tar").arg("-tf").arg(&tarf).output().unwrap();
    let names = out_s(&list.stdout);
    assert!(
        names
            .lines()
            .any(|l| l.trim_end_matches('/') == "esc/pwned"),
        "{names}"
    );
    let out = env.rpod(&["build", "-o", "-", c]);
    assert!(out.status.success(), "{}", out_s(&out.stderr));
    assert_eq!(&out.stdout[257..262], b"ustar");
    assert!(out_s(&out.stderr).contains("STEP 1/2"));
    // A bad --output is a one-line error.
    let (code, e) = env.rpod_fail(&["build", "-o", "type=registry,dest=x", c]);
    assert_eq!(code, 125);
    assert!(e.contains("type \"registry\" is not local or tar"), "{e}");
}

/// A loopback HTTP server: /file.txt, a redirect to it, and a redirect
/// off loopback. Counts the requests it served.
fn http_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let resp = match path.as_str() {
                "/file.txt" => "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nLast-Modified: Thu, 01 Jan 1970 00:01:40 GMT\r\nConnection: close\r\n\r\nfrom-the-url".to_string(),
                "/to-local" => format!("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/file.txt\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                "/to-outside" => "HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1/steal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            };
            let _ = s.write_all(resp.as_bytes());
        }
    });
    (port, hits)
}

#[test]
fn build_add_url_fetches_from_loopback_and_refuses_a_redirect_off_it() {
    let env = new_env("baddurl");
    let (port, _hits) = http_server();
    let cf = format!(
        "FROM {}\nADD http://127.0.0.1:{port}/file.txt /got/\nADD http://127.0.0.1:{port}/to-local /renamed\n",
        alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf)]);
    let c = ctx.to_str().unwrap();
    env.rpod_ok(&["build", "-t", "url", c]);
    assert_eq!(run_cat(&env, "url", "/got/file.txt"), "from-the-url");
    assert_eq!(run_cat(&env, "url", "/renamed"), "from-the-url");
    // Docker's mode for a download, and the server's time.
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "url", "stat", "-c", "%a %Y", "/got/file.txt"])
            .trim(),
        "600 100"
    );
    // Same content: the step is cached.
    let out = env.rpod_ok(&["build", "-t", "url", c]);
    assert!(out.contains("--> Using cache"), "{out}");
    // A redirect off loopback is refused, not followed.
    let cf = format!(
        "FROM {}\nADD http://127.0.0.1:{port}/to-outside /x\n",
        alpine()
    );
    std::fs::write(ctx.join("Containerfile"), cf).unwrap();
    let t0 = std::time::Instant::now();
    let (code, e) = env.rpod_fail(&["build", c]);
    assert_eq!(code, 125);
    assert!(
        e.contains("refusing a redirect from a loopback host to http://192.0.2.1/steal"),
        "{e}"
    );
    assert!(t0.elapsed().as_secs() < 20, "it tried to connect");
    // COPY takes no URL; a 404 is an error naming the URL.
    let cf = format!(
        "FROM {}\nCOPY http://127.0.0.1:{port}/file.txt /x\n",
        alpine()
    );
    std::fs::write(ctx.join("Containerfile"), cf).unwrap();
    let (_, e) = env.rpod_fail(&["build", c]);
    assert!(e.contains("COPY does not take URLs"), "{e}");
    let cf = format!(
        "FROM {}\nADD http://127.0.0.1:{port}/missing /x\n",
        alpine()
    );
    std::fs::write(ctx.join("Containerfile"), cf).unwrap();
    let (_, e) = env.rpod_fail(&["build", c]);
    assert!(e.contains("/missing: 404"), "{e}");
}

#[test]
fn build_context_from_stdin_as_containerfile_or_tar() {
    let env = new_env("bstdin");
    // `rpod build - < Containerfile`: an empty context.
    let cf = format!("FROM {}\nRUN echo from-stdin > /s\n", alpine());
    let out = env.rpod_stdin(&["build", "-t", "s1", "-"], cf.as_bytes());
    assert!(out.status.success(), "{}", out_s(&out.stderr));
    assert_eq!(run_cat(&env, "s1", "/s"), "from-stdin");
    // A tar (gzipped too) on stdin is the context.
    let src = context(
        &env,
        "src",
        &[
            (
                "Containerfile",
                &format!("FROM {}\nCOPY f.txt /f.txt\n", alpine()),
            ),
            ("f.txt", "from-the-tar"),
            (".containerignore", "secret.txt\n"),
            ("secret.txt", "ignored"),
        ],
    );
    for z in ["", "z"] {
        let tar = Command::new("tar")
            .arg(format!("-c{z}f"))
            .arg("-")
            .arg("-C")
            .arg(&src)
            .arg(".")
            .output()
            .unwrap();
        assert!(tar.status.success());
        let out = env.rpod_stdin(&["build", "-t", "s2", "-"], &tar.stdout);
        assert!(out.status.success(), "{}", out_s(&out.stderr));
        assert_eq!(run_cat(&env, "s2", "/f.txt"), "from-the-tar");
    }
    // A hostile tar: entries that climb out are refused, nothing lands outside.
    let evil = build_evil_tar();
    let out = env.rpod_stdin(&["build", "-"], &evil);
    assert!(!out.status.success());
    assert!(!Path::new("/tmp/rpod-build-stdin-escape").exists());
    // Both from stdin is refused.
    let (_, e) = env.rpod_fail(&["build", "-f", "-", "-"]);
    assert!(e.contains("can not both come from standard input"), "{e}");
}

fn build_evil_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    let body = b"FROM scratch\n";
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    // Written raw: tar-rs refuses ".." in set_path.
    let name = b"../../../../../../tmp/rpod-build-stdin-escape";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    b.append(&h, &body[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn build_squash_squash_all_and_layers_false() {
    let env = new_env("bsquash");
    let cf = format!(
        "FROM {}\nRUN echo a > /a\nRUN echo b > /b && rm /a\nENV X=1\nRUN echo c > /c\n",
        alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf)]);
    let c = ctx.to_str().unwrap();
    env.rpod_ok(&["pull", "-q", &alpine()]);
    let base_layers: usize = inspect(&env, &alpine(), "{{len .RootFS.Layers}}")
        .parse()
        .unwrap();
    env.rpod_ok(&["build", "-t", "plain", c]);
    assert_eq!(
        inspect(&env, "plain", "{{len .RootFS.Layers}}"),
        (base_layers + 3).to_string()
    );
    env.rpod_ok(&["build", "--squash", "-t", "sq", c]);
    assert_eq!(
        inspect(&env, "sq", "{{len .RootFS.Layers}}"),
        (base_layers + 1).to_string()
    );
    env.rpod_ok(&["build", "--squash-all", "-t", "sqa", c]);
    assert_eq!(inspect(&env, "sqa", "{{len .RootFS.Layers}}"), "1");
    let before = env.rpod_ok(&["images", "-a", "-q"]).lines().count();
    env.rpod_ok(&["build", "--layers=false", "-t", "nol", c]);
    assert_eq!(
        inspect(&env, "nol", "{{len .RootFS.Layers}}"),
        (base_layers + 1).to_string()
    );
    // No step image is kept with --layers=false: only the image itself.
    assert_eq!(
        env.rpod_ok(&["images", "-a", "-q"]).lines().count(),
        before + 1
    );
    for img in ["sq", "sqa", "nol"] {
        assert_eq!(run_cat(&env, img, "/b"), "b", "{img}");
        assert_eq!(run_cat(&env, img, "/c"), "c", "{img}");
        assert!(absent(&env, img, "/a"), "{img}: the deleted file is back");
        assert_eq!(
            env.rpod_ok(&["run", "--rm", img, "sh", "-c", "echo $X"])
                .trim(),
            "1"
        );
        // History: one non-empty entry per layer.
        let h = inspect(&env, img, "{{json .History}}");
        let v: serde_json::Value = serde_json::from_str(&h).unwrap();
        let non_empty = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["empty_layer"] != serde_json::json!(true))
            .count();
        let layers: usize = inspect(&env, img, "{{len .RootFS.Layers}}")
            .parse()
            .unwrap();
        assert_eq!(non_empty, layers, "{img}: {h}");
    }
    // As buildah: --squash-all drops the base's history, the last step
    // alone has a layer and the "FROM base" comment.
    let h: serde_json::Value =
        serde_json::from_str(&inspect(&env, "sqa", "{{json .History}}")).unwrap();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 4, "{h:?}");
    assert_eq!(h[0]["created_by"], "/bin/sh -c echo a > /a");
    assert_eq!(h[3]["comment"], format!("FROM {}:latest", alpine()));
    assert!(h[..3].iter().all(|e| e.get("comment").is_none()), "{h:?}");
    let h: serde_json::Value =
        serde_json::from_str(&inspect(&env, "sq", "{{json .History}}")).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 4 + base_layers);
    let (_, e) = env.rpod_fail(&["build", "--squash", "--squash-all", c]);
    assert!(e.contains("conflict"), "{e}");
}

#[test]
fn build_labels_annotations_intermediates_and_run_flags() {
    let env = new_env("bmisc");
    let cf = format!(
        "FROM {}\nRUN grep CapEff /proc/self/status > /caps; ulimit -n > /nofile; grep NoNewPrivs /proc/self/status > /nnp\nRUN echo two > /two\n",
        alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf)]);
    let c = ctx.to_str().unwrap();
    let log = env.dir.join("build.log");
    let out = env.rpod_ok(&[
        "build",
        "-t",
        "misc",
        "--annotation",
        "org.example.team=core",
        "--cap-drop",
        "all",
        "--ulimit",
        "nofile=123:123",
        "--security-opt",
        "no-new-privileges",
        "--userns",
        "host",
        "--jobs",
        "2",
        "--logfile",
        log.to_str().unwrap(),
        c,
    ]);
    assert_eq!(out, "", "--logfile takes the output");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("STEP 1/3"), "{logged}");
    assert!(
        logged.contains("Successfully tagged localhost/misc:latest"),
        "{logged}"
    );
    assert_eq!(run_cat(&env, "misc", "/caps"), "CapEff:\t0000000000000000");
    assert_eq!(run_cat(&env, "misc", "/nofile"), "123");
    assert_eq!(run_cat(&env, "misc", "/nnp"), "NoNewPrivs:\t1");
    // rpod's identity label, and buildah's base annotations with --annotation.
    let labels = inspect(&env, "misc", "{{json .Labels}}");
    assert!(labels.contains("\"io.rpod.version\":\""), "{labels}");
    let ann = inspect(&env, "misc", "{{json .Annotations}}");
    assert!(ann.contains("\"org.example.team\":\"core\""), "{ann}");
    assert!(
        ann.contains("\"org.opencontainers.image.base.name\""),
        "{ann}"
    );
    env.rpod_ok(&["build", "-q", "--identity-label=false", "-t", "noid", c]);
    assert!(!inspect(&env, "noid", "{{json .Labels}}").contains("io.rpod.version"));
    // The step images are intermediate: listed as <none> with -a only.
    let all = env.rpod_ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
    let def = env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(all.lines().any(|l| l == "<none>:<none>"), "{all}");
    assert!(!def.lines().any(|l| l == "<none>:<none>"), "{def}");
    // What can't work rootless is refused clearly.
    let (code, e) = env.rpod_fail(&["build", "--userns", "container", c]);
    assert_eq!(code, 125);
    assert!(
        e.contains("--userns=container can not work rootless"),
        "{e}"
    );
    let (code, e) = env.rpod_fail(&["build", "--ssh", "default", c]);
    assert_eq!(code, 125);
    assert!(e.contains("--ssh is not supported"), "{e}");
}

#[test]
fn build_run_mount_bind_from_a_stage_and_an_image() {
    let env = new_env("bmntfrom");
    let cf = format!(
        "FROM {a} AS builder\nRUN mkdir /out && echo built > /out/x\n\
         FROM {a}\n\
         RUN --mount=type=bind,from=builder,source=/out,target=/b cat /b/x > /got-stage\n\
         RUN --mount=type=bind,from={a},source=/bin,target=/ib ls /ib | grep -c . > /got-image\n\
         RUN --mount=type=bind,from=builder,source=../../../out/x,target=/c cat /c > /got-clamped\n",
        a = alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf)]);
    env.rpod_ok(&["build", "-t", "from", ctx.to_str().unwrap()]);
    assert_eq!(run_cat(&env, "from", "/got-stage"), "built");
    assert!(run_cat(&env, "from", "/got-image").parse::<u32>().unwrap() > 0);
    // `..` stays inside the stage's file system, as BuildKit cleans it.
    assert_eq!(run_cat(&env, "from", "/got-clamped"), "built");
    for p in ["/b", "/ib", "/c", "/out"] {
        assert!(absent(&env, "from", p), "{p} was left in the image");
    }
    // No mount or temp dir of the build is left behind.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(env.dir.to_str().unwrap()), "{mounts}");
    assert!(
        env.store_entries("tmp").is_empty(),
        "{:?}",
        env.store_entries("tmp")
    );
}

/// podman builds once per platform given; rpod builds for this host only,
/// so a second platform (repeated or comma-separated) is refused by name,
/// never dropped.
#[test]
fn every_platform_given_to_build_must_be_this_hosts() {
    let env = new_env("bplat");
    let dir = context(
        &env,
        "ctx",
        &[("Containerfile", &format!("FROM {}\n", alpine()))],
    );
    let d = dir.to_str().unwrap();
    let host = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let other = if host == "arm64" { "amd64" } else { "arm64" };
    let here = format!("linux/{host}");
    let there = format!("linux/{other}");
    for args in [
        vec!["--platform", &here, "--platform", &there],
        vec!["--platform", &there, "--platform", &here],
    ] {
        let mut a = vec!["build", "-q", "-t", "plat"];
        a.extend(args.iter().copied());
        a.push(d);
        let (code, err) = env.rpod_fail(&a);
        assert_eq!(code, 125, "{err}");
        assert!(
            err.contains(&format!("building for {other} is not supported")),
            "{err}"
        );
    }
    let both = format!("{here},{there}");
    let (code, err) = env.rpod_fail(&["build", "-q", "--platform", &both, d]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains(other), "{err}");
    let (_, err) = env.rpod_fail(&["build", "-q", "--platform", "linux", d]);
    assert!(err.contains("invalid platform \"linux\""), "{err}");
    env.rpod_ok(&[
        "build",
        "-q",
        "-t",
        "plat",
        "--platform",
        &here,
        "--platform",
        &here,
        d,
    ]);
    assert_eq!(inspect(&env, "plat", "{{.Architecture}}"), host);
}
