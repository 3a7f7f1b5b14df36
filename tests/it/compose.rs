//! podman-compose (Debian 12's 1.0.3) driving rpod as its podman
//! (`podman-compose --podman-path rpod`), as the unprivileged test user: a
//! web + db project on a user-defined network, with a named volume, an
//! environment variable and a port published on 127.0.0.1. Also the rpod
//! piece it needed: `-p` on a user-defined (bridge) network.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const PODMAN_COMPOSE: &str = "/usr/bin/podman-compose";

/// A port nothing listens on right now, on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET / from 127.0.0.1:`port`, retrying while the server starts.
fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut last = String::new();
    for _ in 0..50 {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if body.contains("200 OK") {
                    return body;
                }
                last = body;
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("nothing served on 127.0.0.1:{port}: {last}");
}

#[test]
fn published_port_on_a_user_network_reaches_the_container() {
    let env = env_with_alpine("netport");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "pubnet"]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "pubnet",
        "-p",
        &publish,
        "alpine",
        "sh",
        "-c",
        "mkdir -p /www; echo served-on-bridge > /www/index.html; httpd -f -p 8080 -h /www",
    ]);
    let body = http_get(port);
    assert!(body.contains("served-on-bridge"), "{body}");
    let ports = env.rpod_ok(&["port", "web"]);
    assert_eq!(ports.trim(), format!("8080/tcp -> 127.0.0.1:{port}"));
    // The forwarder goes with the container: the port is free again.
    env.rpod_ok(&["rm", "-f", "-t", "0", "web"]);
    std::net::TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("port {port} still taken after rm: {e}"));
    env.rpod_ok(&["network", "rm", "pubnet"]);
}

#[test]
fn a_taken_host_port_fails_the_run_on_a_user_network() {
    let env = env_with_alpine("netportbusy");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "busynet"]);
    let hold = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hold.local_addr().unwrap().port();
    let publish = format!("127.0.0.1:{port}:80");
    let (code, e) = env.rpod_fail(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        "busynet",
        "-p",
        &publish,
        "alpine",
        "sleep",
        "60",
    ]);
    // As with slirp4netns (and podman's rootlessport): 125, naming the address.
    assert_eq!(code, 125, "{e}");
    assert!(
        e.contains(&format!("127.0.0.1:{port}")) && e.contains("address already in use"),
        "{e}"
    );
    drop(hold);
    env.rpod_ok(&["rm", "-f", "-t", "0", "c"]);
    // Nothing of the failed container's network stayed behind.
    let net_procs = || -> Vec<String> {
        env.leftover_processes()
            .into_iter()
            .filter(|p| {
                p.contains("__portfwd") || p.contains("aardvark") || p.contains("slirp4netns")
            })
            .collect()
    };
    // (the rootless network namespace lingers 3 s after its last container)
    for _ in 0..100 {
        if net_procs().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(net_procs(), Vec::<String>::new());
}

const COMPOSE_YML: &str = r#"version: "3"
services:
  db:
    image: alpine
    command: ["sh", "-c", "trap 'exit 0' TERM; echo hello-from-db > /data/greeting; while true; do nc -l -p 5432 < /data/greeting & wait $$!; done"]
    volumes:
      - dbdata:/data
    networks:
      - back
  web:
    image: alpine
    command: ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /www; echo \"$$GREETING\" > /www/index.html; httpd -f -p 8080 -h /www & wait"]
    environment:
      GREETING: hello-from-web
    ports:
      - "127.0.0.1:PORT:8080"
    networks:
      - back
    depends_on:
      - db
volumes:
  dbdata:
networks:
  back:
"#;

#[test]
fn podman_compose_up_exec_down_with_rpod() {
    assert!(
        Path::new(PODMAN_COMPOSE).exists(),
        "{PODMAN_COMPOSE} is not installed: run tests/world/setup.sh as root (it installs the podman-compose package)"
    );
    let env = env_with_alpine("compose");
    let _reaper = Reaper(&env);
    let port = free_port();
    let proj = env.home.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(
        proj.join("docker-compose.yml"),
        COMPOSE_YML.replace("PORT", &port.to_string()),
    )
    .unwrap();
    std::fs::set_permissions(&proj, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        proj.join("docker-compose.yml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let pc = format!(
        "cd {} && {PODMAN_COMPOSE} --podman-path {} -p proj",
        proj.display(),
        rpod_bin().display()
    );

    let up = env.sh_ok(&format!("{pc} up -d 2>&1"));
    // podman-compose probes with `volume inspect` before creating: that
    // one "no such volume" is expected, and no other error.
    let errors: Vec<&str> = up
        .lines()
        .filter(|l| l.contains("Error") && !l.contains("no such volume proj_dbdata"))
        .collect();
    assert!(errors.is_empty(), "{up}");
    assert!(!up.contains("exit code: 1"), "{up}");
    // Both containers run, labelled with the project; the network and the
    // volume were created for it.
    let names = env.rpod_ok(&[
        "ps",
        "--filter",
        "label=io.podman.compose.project=proj",
        "--format",
        "{{.Names}} {{.Networks}} {{.Status}}",
    ]);
    let mut lines: Vec<&str> = names.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 2, "{names}\n{up}");
    assert!(
        lines[0].starts_with("proj_db_1 [proj_back] Up"),
        "{names}\n{up}"
    );
    assert!(
        lines[1].starts_with("proj_web_1 [proj_back] Up"),
        "{names}\n{up}"
    );
    assert_eq!(
        env.rpod_ok(&[
            "network",
            "ls",
            "--format",
            "{{.Name}}",
            "--filter",
            "label=io.podman.compose.project=proj"
        ])
        .trim(),
        "proj_back"
    );
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]).trim(), "proj_dbdata");
    // The published port, served from the env var.
    let body = http_get(port);
    assert!(body.contains("hello-from-web"), "{body}");
    // ps and logs through podman-compose.
    let ps = env.sh_ok(&format!("{pc} ps 2>&1"));
    assert!(
        ps.contains("proj_web_1") && ps.contains(&format!("127.0.0.1:{port}->8080/tcp")),
        "{ps}"
    );
    env.sh_ok(&format!("{pc} logs 2>&1"));
    // exec: web reaches db by its service name, and has the env var.
    let ex = env.sh_ok(&format!(
        "{pc} exec -T web sh -c 'echo $GREETING; for i in $(seq 50); do nc -w 2 db 5432 && exit 0; sleep 0.2; done; exit 1' </dev/null 2>&1"
    ));
    assert!(ex.contains("hello-from-web"), "{ex}");
    assert!(ex.contains("hello-from-db"), "{ex}");
    // The volume holds what db wrote.
    let vol = env.rpod_ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Labels}}",
        "proj_dbdata",
    ]);
    assert!(vol.contains("io.podman.compose.project:proj"), "{vol}");

    let down = env.sh_ok(&format!("{pc} down -v 2>&1"));
    assert!(!down.contains("Error"), "{down}");
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "", "{down}");
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), "", "{down}");
    // podman-compose 1.0.3 leaves the network (as with podman); it is idle
    // now, so it goes without force.
    env.rpod_ok(&["network", "rm", "proj_back"]);
    // Port free, no monitor, forwarder, aardvark-dns or slirp4netns left.
    std::net::TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("port {port} still taken after down: {e}"));
    for _ in 0..20 {
        if env.leftover_processes().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(env.leftover_processes(), Vec::<String>::new(), "{down}");
}

/// Foreground `up` (podman-compose creates, then `start -a`s each
/// container): the services' output is shown, `--exit-code-from` returns
/// that service's exit code, and services without `networks:` share the
/// project's default network.
#[test]
fn podman_compose_foreground_up_returns_the_exit_code() {
    assert!(
        Path::new(PODMAN_COMPOSE).exists(),
        "{PODMAN_COMPOSE} is not installed: run tests/world/setup.sh as root (it installs the podman-compose package)"
    );
    let env = env_with_alpine("composefg");
    let _reaper = Reaper(&env);
    let proj = env.home.join("fg");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(
        proj.join("docker-compose.yml"),
        r#"services:
  a:
    image: alpine
    command: ["sh", "-c", "echo from-a; sleep 1; echo a-done"]
  b:
    image: alpine
    command: ["sh", "-c", "echo from-b; exit 3"]
"#,
    )
    .unwrap();
    std::fs::set_permissions(&proj, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pc = format!(
        "cd {} && {PODMAN_COMPOSE} --podman-path {} -p fg",
        proj.display(),
        rpod_bin().display()
    );
    let o = env.sh(&format!("{pc} up --exit-code-from b </dev/null 2>&1"));
    let text = out(&o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(text.contains("from-a") && text.contains("from-b"), "{text}");
    let ps = env.rpod_ok(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}} {{.Networks}} {{.Status}}",
    ]);
    assert!(ps.contains("fg_b_1 [fg_default] Exited (3)"), "{ps}");
    assert!(ps.contains("fg_a_1 [fg_default] "), "{ps}");
    env.sh_ok(&format!("{pc} down 2>&1"));
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "");
    env.rpod_ok(&["network", "rm", "fg_default"]);
}

/// podman-compose turns `logging: driver: k8s-file` into `--log-driver`:
/// k8s-file (what rpod writes) is accepted, another driver is one line
/// naming it, exit 125, and nothing is created.
#[test]
fn log_driver_k8s_file_is_accepted_and_others_are_named() {
    let env = env_with_alpine("logdriver");
    let _reaper = Reaper(&env);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--log-driver",
        "k8s-file",
        "alpine",
        "echo",
        "logged",
    ]);
    assert_eq!(o, "logged\n");
    let (code, e) = env.rpod_fail(&[
        "run",
        "--name",
        "j",
        "--log-driver=journald",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125, "{e}");
    assert!(
        e.contains("--log-driver journald") && e.lines().count() == 1,
        "{e}"
    );
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "");
}

/// A service using most of the compose keys podman-compose 1.0.3 turns into
/// `run` flags (it still spells the healthcheck flags `--healthcheck-*`, as
/// podman 4.3 accepts): each reaches the container.
#[test]
fn podman_compose_service_keys_reach_the_container() {
    assert!(
        Path::new(PODMAN_COMPOSE).exists(),
        "{PODMAN_COMPOSE} is not installed: run tests/world/setup.sh as root (it installs the podman-compose package)"
    );
    let env = env_with_alpine("composekeys");
    let _reaper = Reaper(&env);
    let proj = env.home.join("keys");
    std::fs::create_dir_all(proj.join("data")).unwrap();
    std::fs::write(proj.join("data/marker"), "bind-mounted\n").unwrap();
    std::fs::write(proj.join("app.env"), "FROM_FILE=yes\n").unwrap();
    std::fs::write(
        proj.join("docker-compose.yml"),
        r#"services:
  svc:
    image: alpine
    container_name: custom_name
    hostname: myhost
    user: "1000:1000"
    working_dir: /tmp
    env_file: app.env
    environment:
      - A=1
    labels:
      app.kind: test
    volumes:
      - ./data:/data:ro
    tmpfs: /scratch
    cap_drop: [MKNOD]
    extra_hosts:
      - "somehost:10.1.2.3"
    init: true
    read_only: true
    restart: unless-stopped
    stop_signal: SIGINT
    ulimits:
      nofile: {soft: 1024, hard: 2048}
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 2
    logging:
      driver: k8s-file
    command: ["sh", "-c", "id -u; pwd; hostname; echo A=$$A F=$$FROM_FILE; grep somehost /etc/hosts; cat /data/marker; ulimit -n; touch /ro 2>/dev/null || echo read-only; touch /tmp/ready; echo started; sleep 300"]
"#,
    )
    .unwrap();
    for p in [proj.clone(), proj.join("data")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for f in ["data/marker", "app.env", "docker-compose.yml"] {
        std::fs::set_permissions(proj.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let pc = format!(
        "cd {} && {PODMAN_COMPOSE} --podman-path {} -p keys",
        proj.display(),
        rpod_bin().display()
    );
    let up = env.sh_ok(&format!("{pc} up -d </dev/null 2>&1"));
    assert!(
        up.contains("exit code: 0") && !up.contains("exit code: 2"),
        "{up}"
    );
    let mut logs = String::new();
    let mut health = String::new();
    for _ in 0..50 {
        logs = env.rpod_ok(&["logs", "custom_name"]);
        health = env.rpod_ok(&[
            "inspect",
            "--format",
            "{{.State.Health.Status}}",
            "custom_name",
        ]);
        if logs.contains("started") && health.trim() == "healthy" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(health.trim(), "healthy", "{logs}");
    assert_eq!(
        logs,
        "1000\n/tmp\nmyhost\nA=1 F=yes\n10.1.2.3\tsomehost\nbind-mounted\n1024\nread-only\nstarted\n",
        "{up}"
    );
    let ins = env.rpod_ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.RestartPolicy.Name}} {{.Config.Labels}}",
        "custom_name",
    ]);
    assert!(ins.starts_with("unless-stopped "), "{ins}");
    assert!(ins.contains("app.kind:test"), "{ins}");
    env.sh_ok(&format!("{pc} down 2>&1"));
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "");
    env.rpod_ok(&["network", "rm", "keys_default"]);
}

/// `build:` services: podman-compose runs `rpod build -t IMAGE -f
/// ./Dockerfile .` in the project directory, then runs the image it built.
#[test]
fn podman_compose_builds_then_runs_the_image() {
    assert!(
        Path::new(PODMAN_COMPOSE).exists(),
        "{PODMAN_COMPOSE} is not installed: run tests/world/setup.sh as root (it installs the podman-compose package)"
    );
    let env = env_with_alpine("composebuild");
    let _reaper = Reaper(&env);
    let proj = env.home.join("b");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(
        proj.join("Dockerfile"),
        "FROM alpine\nRUN echo built-by-compose > /built\nCMD [\"cat\", \"/built\"]\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("docker-compose.yml"),
        "services:\n  app:\n    build: .\n    image: localhost/composeapp\n",
    )
    .unwrap();
    let st = std::process::Command::new("chown")
        .args(["-R", &format!("{}:", env.user), proj.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let pc = format!(
        "cd {} && {PODMAN_COMPOSE} --podman-path {} -p b",
        proj.display(),
        rpod_bin().display()
    );
    let o = env.sh_ok(&format!("{pc} up --build </dev/null 2>&1"));
    assert!(o.contains("built-by-compose"), "{o}");
    assert!(
        env.rpod_ok(&["images", "--format", "{{.Repository}}"])
            .lines()
            .any(|l| l == "localhost/composeapp"),
        "{o}"
    );
    env.sh_ok(&format!("{pc} down 2>&1"));
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "");
    env.rpod_ok(&["network", "rm", "b_default"]);
}

/// `rm -f` of a running container whose process is not the container's
/// root (compose's `user:`): it used to send SIGKILL from a fresh user
/// namespace that does not own the container's, and fail with EPERM.
#[test]
fn rm_force_stops_a_container_running_as_another_uid() {
    let env = env_with_alpine("rmforceuid");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "uidnet"]);
    for (name, net) in [("plain", "slirp4netns"), ("onnet", "uidnet")] {
        env.rpod_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            net,
            "--user",
            "1000:1000",
            "--init",
            "alpine",
            "sleep",
            "300",
        ]);
    }
    let out = env.rpod_ok(&["rm", "-f", "-t", "0", "plain", "onnet"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "");
    let mut left = env.leftover_processes();
    // (the rootless network namespace lingers 3 s after its last container)
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = env.leftover_processes();
    }
    assert_eq!(left, Vec::<String>::new());
    env.rpod_ok(&["network", "rm", "uidnet"]);
}
