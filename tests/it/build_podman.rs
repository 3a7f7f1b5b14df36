//! Images rpod builds are images podman takes: built, pushed to the
//! loopback registry, pulled and run by rootless podman 4.3.1 (the test
//! user, benches/lib.sh's podman_home configuration, only the test world's
//! loopback registries configured), and `podman image inspect` agrees with
//! `rpod image inspect` on the id and the config.

use crate::build::{alpine, chown, context};
use crate::common::*;
use serde_json::Value;

/// podman as the test user in the Env's HOME, configured as
/// benches/lib.sh's podman_home (runc, cgroupfs, file events, k8s-file
/// logs, fuse-overlayfs); registries.conf is the Env's: localhost:5000
/// searched and insecure, nothing off the machine.
pub(crate) fn podman(env: &Env, args: &[&str]) -> String {
    let conf = env.home.join(".config/containers");
    if !conf.join("containers.conf").exists() {
        std::fs::write(
            conf.join("containers.conf"),
            "[containers]\nlog_driver = \"k8s-file\"\n\n\
             [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("storage.conf"),
            "[storage]\ndriver = \"overlay\"\n\n\
             [storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
        )
        .unwrap();
        chown(env, &conf);
    }
    let regs = std::fs::read_to_string(conf.join("registries.conf")).unwrap();
    for l in regs.lines().filter(|l| l.starts_with("location")) {
        assert!(
            l.contains("\"localhost:") || l.contains("\"127.0.0.1:"),
            "{l}"
        );
    }
    let script = format!(
        "podman {}",
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    env.sh_ok(&script)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn podman_pulls_and_runs_what_rpod_built_and_pushed() {
    let env = new_env("bpodman");
    let cf = format!(
        "FROM {}\n\
         ARG V=1.2\n\
         ENV APP_HOME=/srv/app GREETING=\"hello from rpod\" EMPTY=\n\
         LABEL org.opencontainers.image.version=$V maintainer=\"rpod tests\"\n\
         COPY app/ /srv/app/\n\
         COPY one/ two/ /merged/\n\
         RUN chmod 0755 /srv/app/run.sh && mkdir -p /data && echo built > /data/stamp && adduser -D -u 1234 app || echo app:x:1234:1234::/srv/app:/bin/sh >> /etc/passwd\n\
         WORKDIR /srv/app\n\
         USER 1234:1234\n\
         EXPOSE 8080 53/udp\n\
         VOLUME /data\n\
         STOPSIGNAL SIGINT\n\
         ENTRYPOINT [\"/srv/app/run.sh\"]\n\
         CMD [\"default-arg\"]\n",
        alpine()
    );
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Containerfile", &cf),
            // Both copied into /merged: one entry per path in the layer
            // (podman refuses duplicates), the later source's file wins.
            ("one/x", "1\n"),
            ("one/sub/p", "p\n"),
            ("two/x", "2\n"),
            ("two/sub/q", "q\n"),
            (
                "app/run.sh",
                "#!/bin/sh\necho \"$GREETING $* uid=$(id -u) pwd=$(pwd) $(cat /data/stamp)\"\n",
            ),
        ],
    );
    let repo = format!("{}/rpod-built-{}", world().registry(), std::process::id());
    for format in ["oci", "docker"] {
        let name = format!("{repo}:{format}");
        let out = env.rpod_ok(&[
            "build",
            "-q",
            "--format",
            format,
            "-t",
            &name,
            ctx.to_str().unwrap(),
        ]);
        let id = out.trim().to_string();
        assert_eq!(id.len(), 64, "{out}");
        env.rpod_ok(&["push", "-q", &name]);
        podman(&env, &["pull", "-q", &name]);
        // podman runs it, with the image's entrypoint, cmd, env, user and workdir.
        let run = podman(&env, &["run", "--rm", "--network", "none", &name]);
        assert_eq!(
            run, "hello from rpod default-arg uid=1234 pwd=/srv/app built\n",
            "{format}"
        );
        let run = podman(&env, &["run", "--rm", "--network", "none", &name, "x", "y"]);
        assert_eq!(run, "hello from rpod x y uid=1234 pwd=/srv/app built\n");
        let merged = podman(
            &env,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "cat",
                &name,
                "/merged/x",
                "/merged/sub/p",
                "/merged/sub/q",
            ],
        );
        assert_eq!(merged, "2\np\nq\n");
        // The same image: the id (the config's digest) and its config.
        let p = json(&podman(&env, &["image", "inspect", &name]))[0].clone();
        let r = json(&env.rpod_ok(&["image", "inspect", &name]))[0].clone();
        assert_eq!(p["Id"], Value::String(id.clone()), "{format}: {p}");
        assert_eq!(r["Id"], p["Id"]);
        for k in [
            "Env",
            "Entrypoint",
            "Cmd",
            "WorkingDir",
            "User",
            "Labels",
            "ExposedPorts",
            "Volumes",
            "StopSignal",
        ] {
            assert_eq!(r["Config"][k], p["Config"][k], "{format}: Config.{k}");
        }
        assert_eq!(
            p["Config"]["Env"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e.as_str().unwrap().starts_with("EMPTY="))
                .count(),
            1,
            "{p}"
        );
        assert_eq!(
            p["Config"]["Labels"]["org.opencontainers.image.version"],
            "1.2"
        );
        for k in ["Architecture", "Os", "Created", "Author"] {
            assert_eq!(r[k], p[k], "{format}: {k}");
        }
        assert_eq!(r["RootFS"]["Layers"], p["RootFS"]["Layers"], "{format}");
        assert_eq!(
            r["History"].as_array().map(Vec::len),
            p["History"].as_array().map(Vec::len),
            "{format}"
        );
        let manifest_type = if format == "oci" {
            "application/vnd.oci.image.manifest.v1+json"
        } else {
            "application/vnd.docker.distribution.manifest.v2+json"
        };
        assert_eq!(p["ManifestType"], manifest_type, "{format}: {p}");
    }
}
