//! systemd units: `generate systemd` (with and without --new), Quadlet
//! `.container` files, the user generator, `systemd-analyze verify`, and the
//! units' Exec lines run by hand in order (there is no systemd to run them
//! here), all as the unprivileged test user.
//!
//! `systemd-analyze verify --user --man=no --generators=no` loads the unit
//! without a running systemd or bus: --man=no skips the Documentation= man
//! page lookup, --generators=no keeps other generators (and ours) out. It
//! exits non-zero and prints the problem for a bad unit (unknown Type=, a
//! missing executable, a syntax error); a good unit gives no output at all.

use crate::common::Env;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Parsed Exec lines of a unit file, in file order: (key, words), with the
/// specifiers a user manager would expand already substituted.
fn exec_lines(unit_text: &str, unit_name: &str, env: &Env) -> Vec<(String, Vec<String>, bool)> {
    let joined = unit_text.replace("\\\n", " ");
    let stem = unit_name.trim_end_matches(".service");
    let mut out = Vec::new();
    for line in joined.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if !k.starts_with("Exec") {
            continue;
        }
        let (ignore_failure, v) = match v.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        let words = split_systemd(v)
            .into_iter()
            .map(|w| expand(&w, unit_name, stem, env))
            .collect();
        out.push((k.to_string(), words, ignore_failure));
    }
    out
}

/// systemd's specifier and variable expansion for the few a unit of ours uses.
fn expand(w: &str, unit: &str, stem: &str, env: &Env) -> String {
    let mut out = String::new();
    let mut chars = w.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('%') => out.push('%'),
                Some('t') => out.push_str(&env.runtime_dir.display().to_string()),
                Some('h') => out.push_str(&env.home.display().to_string()),
                Some('n') => out.push_str(unit),
                Some('N') => out.push_str(stem),
                other => panic!("unexpected specifier %{other:?} in {w}"),
            },
            // "$$" is a dollar; "$VAR" inside a longer word stays as it is.
            '$' => {
                out.push('$');
                if chars.clone().next() == Some('$') {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Word splitting of Exec lines: blanks, "double" and 'single' quotes, backslashes.
fn split_systemd(v: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(x) if x == c => break,
                        Some('\\') if c == '"' => cur.push(chars.next().unwrap()),
                        Some(x) => cur.push(x),
                        None => panic!("unbalanced quote in {v}"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

fn shell_quote(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// Run one Exec line as the test user; panics on failure unless the line
/// starts with "-" (systemd's "ignore failure").
fn run_exec(env: &Env, key: &str, words: &[String], ignore_failure: bool) -> std::process::Output {
    let script = words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let out = env.sh(&script);
    assert!(
        ignore_failure || out.status.success(),
        "{key}={script} failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `systemd-analyze verify` of a unit as the test user; the unit must be
/// readable by them.
fn verify(env: &Env, unit: &Path) {
    let out = env.sh(&format!(
        "systemd-analyze verify --user --man=no --generators=no {}",
        shell_quote(&unit.display().to_string())
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify {}: status {:?}\n{stderr}\n{}",
        unit.display(),
        out.status.code(),
        std::fs::read_to_string(unit).unwrap_or_default()
    );
}

fn unit_dir(env: &Env) -> PathBuf {
    let d = env.home.join("units");
    env.sh_ok(&format!("mkdir -p {}", d.display()));
    d
}

fn ps_names(env: &Env) -> String {
    env.rpod_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
}

#[test]
fn verify_rejects_a_broken_unit() {
    // The check below means something only if verify fails for bad units.
    let env = Env::new("sdbad");
    let dir = unit_dir(&env);
    env.sh_ok(&format!(
        "printf '[Service]\\nType=bogus\\nExecStart=/nonexistent/rpod start x\\n' > {}/bad.service",
        dir.display()
    ));
    let out = env.sh(&format!(
        "systemd-analyze verify --user --man=no --generators=no {}/bad.service",
        dir.display()
    ));
    assert!(!out.status.success(), "verify accepted a broken unit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bogus") && stderr.contains("/nonexistent/rpod"),
        "{stderr}"
    );
}

#[test]
fn new_unit_verifies_and_its_exec_lines_start_stop_and_remove_the_container() {
    let mut env = Env::new("sdnew");
    let img = env.image("alpine");
    env.rpod_ok(&["pull", "-q", &img]);
    env.rpod_ok(&[
        "create",
        "--name",
        "web",
        "-e",
        "GREETING=hello world",
        "--label",
        "app=web",
        &img,
        "sh",
        "-c",
        "echo \"$GREETING 100%\"; exec sleep 1000",
    ]);
    let dir = unit_dir(&env);
    let out = env.sh_ok(&format!(
        "cd {} && rpod generate systemd --new --name --files --stop-timeout 1 --restart-sec 3 web",
        dir.display()
    ));
    let unit_path = dir.join("container-web.service");
    assert_eq!(out.trim(), unit_path.display().to_string());
    let text = std::fs::read_to_string(&unit_path).unwrap();
    for want in [
        "Environment=RPOD_SYSTEMD_UNIT=%n",
        "Type=notify",
        "NotifyAccess=all",
        "WantedBy=default.target",
        "RestartSec=3",
        "TimeoutStopSec=61",
        "--cidfile=%t/%n.ctr-id",
        "--replace",
        "--sdnotify=conmon",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    verify(&env, &unit_path);

    // The original container goes: the unit's ExecStart replaces it by name.
    let unit = "container-web.service";
    let lines = exec_lines(&text, unit, &env);
    let keys: Vec<&str> = lines.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["ExecStartPre", "ExecStart", "ExecStop", "ExecStopPost"]
    );
    let cidfile = env.runtime_dir.join(format!("{unit}.ctr-id"));

    // systemd gives the service a notify socket: check the monitor uses it.
    let sock_path = env.dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o777)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    env.set_env("NOTIFY_SOCKET", &sock_path.display().to_string());

    for (k, w, ign) in &lines[..2] {
        run_exec(&env, k, w, *ign);
    }
    let mut buf = [0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .expect("no sd_notify message within 10 s");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg}");
    let mainpid: u32 = msg
        .lines()
        .find_map(|l| l.strip_prefix("MAINPID="))
        .unwrap_or_else(|| panic!("no MAINPID in {msg:?}"))
        .parse()
        .unwrap();
    assert!(
        Path::new(&format!("/proc/{mainpid}")).exists(),
        "MAINPID {mainpid} is not alive"
    );

    let id = std::fs::read_to_string(&cidfile).expect("ExecStart wrote no cidfile");
    let ps = ps_names(&env);
    assert!(ps.lines().any(|l| l.starts_with("web Up")), "{ps}");
    assert_eq!(
        ps.lines().count(),
        1,
        "the old container was not replaced: {ps}"
    );
    let inspect = env.rpod_ok(&["inspect", "--format", "{{.Id}}", "web"]);
    assert_eq!(inspect.trim(), id.trim());
    // The create command's environment, quoting and % survived the unit.
    let logs = env.rpod_ok(&["logs", "web"]);
    assert_eq!(logs.trim(), "hello world 100%");

    run_exec(&env, &lines[2].0, &lines[2].1, lines[2].2);
    // Stopped, and with --rm gone already or about to be.
    let ps = ps_names(&env);
    assert!(!ps.contains("Up"), "after ExecStop: {ps}");
    run_exec(&env, &lines[3].0, &lines[3].1, lines[3].2);
    assert_eq!(ps_names(&env).trim(), "", "ExecStopPost left the container");
    assert!(!cidfile.exists(), "ExecStopPost left {}", cidfile.display());

    // A second start after a stop works (the unit is restartable), and
    // ExecStop/ExecStopPost tolerate a container that is already gone.
    for (k, w, ign) in &lines[..2] {
        run_exec(&env, k, w, *ign);
    }
    env.rpod_ok(&["stop", "-t", "0", "web"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ps_names(&env).trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "--rm left {}",
            ps_names(&env)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for (k, w, ign) in &lines[2..] {
        run_exec(&env, k, w, *ign);
    }
    assert!(
        env.leftover_processes().is_empty(),
        "{:?}",
        env.leftover_processes()
    );
}

#[test]
fn unit_for_an_existing_container_starts_and_stops_it() {
    let env = Env::new("sdold");
    let img = env.image("alpine");
    let id = env.rpod_ok(&[
        "create",
        "--name",
        "job",
        "--stop-timeout",
        "1",
        &img,
        "sleep",
        "1000",
    ]);
    let id = id.trim();
    let dir = unit_dir(&env);
    let out = env.sh(&format!(
        "cd {} && rpod generate systemd -f --start-timeout 30 -e 'MOTD=hi there 100%' job",
        dir.display()
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = format!("container-{id}.service");
    let path = dir.join(&unit);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        path.display().to_string()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !Path::new("/var/lib/systemd/linger")
        .join(&env.user)
        .exists()
    {
        assert!(
            stderr.contains(&format!("loginctl enable-linger {}", env.user)),
            "no linger advice: {stderr}"
        );
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("TimeoutStopSec=61"), "{text}");
    assert!(text.contains("TimeoutStartSec=30"), "{text}");
    assert!(
        text.contains("\nEnvironment=\"MOTD=hi there 100%%\"\n"),
        "{text}"
    );
    verify(&env, &path);
    let lines = exec_lines(&text, &unit, &env);
    let keys: Vec<&str> = lines.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(keys, ["ExecStart", "ExecStop", "ExecStopPost"]);
    run_exec(&env, &lines[0].0, &lines[0].1, lines[0].2);
    assert!(ps_names(&env).starts_with("job Up"), "{}", ps_names(&env));
    run_exec(&env, &lines[1].0, &lines[1].1, lines[1].2);
    run_exec(&env, &lines[2].0, &lines[2].1, lines[2].2);
    assert!(
        ps_names(&env).starts_with("job Exited"),
        "{}",
        ps_names(&env)
    );

    // --name: the unit is named after the container and uses its name.
    let named = env.rpod_ok(&[
        "generate",
        "systemd",
        "--name",
        "--no-header",
        "--container-prefix",
        "app",
        "--separator",
        "_",
        "job",
    ]);
    assert!(
        named.starts_with("[Unit]\nDescription=rpod app_job.service\n"),
        "{named}"
    );
    assert!(named.contains(" start \\\n\tjob\n"), "{named}");
}

#[test]
fn new_needs_the_recorded_command_and_bad_input_is_named() {
    let env = Env::new("sderr");
    let (code, err) = env.rpod_fail(&["generate", "systemd", "nosuch"]);
    assert_eq!(code, 125);
    assert!(err.contains("nosuch"), "{err}");
    let (_, err) = env.rpod_fail(&[
        "generate",
        "systemd",
        "--quadlet",
        "/nonexistent/x.container",
    ]);
    assert!(err.contains("/nonexistent/x.container"), "{err}");
    let (_, err) = env.rpod_fail(&["generate", "systemd", "--restart-policy", "sometimes", "x"]);
    assert!(err.contains("sometimes"), "{err}");
    env.rpod_ok(&[
        "create",
        "--rm",
        "--name",
        "tmp",
        &env.image("alpine"),
        "true",
    ]);
    let (_, err) = env.rpod_fail(&["generate", "systemd", "tmp"]);
    assert!(err.contains("--rm") && err.contains("--new"), "{err}");
    let unit = env.rpod_ok(&["generate", "systemd", "--new", "tmp"]);
    assert!(unit.contains("ExecStart="), "{unit}");
}

const WEB_CONTAINER: &str = "\
[Unit]
Description=A web server from Quadlet

[Container]
Image=IMAGE
ContainerName=qweb
Exec=sh -c 'echo \"$A and $B\"; exec sleep 1000'
Environment=A=one \"B=two words\"
Volume=%h/www:/www:ro
Network=none

[Service]
TimeoutStopSec=20

[Install]
WantedBy=default.target
";

#[test]
fn quadlet_generator_writes_units_that_run() {
    let env = Env::new("quadlet");
    let img = env.image("alpine");
    env.rpod_ok(&["pull", "-q", &img]);
    let qdir = env.home.join(".config/containers/systemd");
    env.sh_ok(&format!(
        "mkdir -p {q} ~/www && echo hi > ~/www/index.html",
        q = qdir.display()
    ));
    let text = WEB_CONTAINER.replace("IMAGE", &img);
    env.sh_ok(&format!(
        "cat > {}/web.container <<'EOF'\n{text}EOF",
        qdir.display()
    ));
    // A broken file is reported and skipped; the good one is still generated.
    env.sh_ok(&format!(
        "printf '[Container]\\nImage=x\\nPod=p\\n' > {}/broken.container",
        qdir.display()
    ));

    // As systemd calls a generator: three output dirs, through the
    // rpod-user-generator name (argv[0]) the packages install.
    let out_dir = env.dir.join("gen");
    let gen = env.dir.join("bin/rpod-user-generator");
    env.sh_ok(&format!(
        "mkdir -p {o}/normal {o}/early {o}/late {b} && ln -s \"$(command -v rpod)\" {g}",
        o = out_dir.display(),
        b = gen.parent().unwrap().display(),
        g = gen.display()
    ));
    let out = env.sh(&format!(
        "{} {o}/normal {o}/early {o}/late",
        gen.display(),
        o = out_dir.display()
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a broken file must make the generator fail"
    );
    assert!(stderr.contains("broken.container:3: Pod=p"), "{stderr}");
    let normal = out_dir.join("normal");
    let unit_path = normal.join("web.service");
    let unit_text = std::fs::read_to_string(&unit_path).expect("web.service was not generated");
    assert!(!normal.join("broken.service").exists());
    let link = std::fs::read_link(normal.join("default.target.wants/web.service")).unwrap();
    assert_eq!(link, Path::new("../web.service"));
    assert!(
        unit_text.contains("Description=A web server from Quadlet"),
        "{unit_text}"
    );
    assert!(unit_text.contains("TimeoutStopSec=20"), "{unit_text}");
    verify(&env, &unit_path);

    // --dryrun prints what the generator would write.
    let out = env.rpod(&["generate", "quadlet", "--dryrun"]);
    let dry = String::from_utf8_lossy(&out.stdout);
    assert!(dry.starts_with("---web.service---\n"), "{dry}");
    assert!(dry.ends_with(&unit_text), "{dry}");

    // The on-demand form gives the same unit.
    let same = env.rpod_ok(&[
        "generate",
        "systemd",
        "--quadlet",
        &qdir.join("web.container").display().to_string(),
    ]);
    assert_eq!(same, unit_text);

    let lines = exec_lines(&unit_text, "web.service", &env);
    let keys: Vec<&str> = lines.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ExecStop",
            "ExecStopPost",
            "ExecStopPost",
            "ExecStartPre",
            "ExecStart"
        ]
    );
    // Start as systemd would: ExecStartPre, ExecStart.
    for i in [3, 4] {
        run_exec(&env, &lines[i].0, &lines[i].1, lines[i].2);
    }
    let ps = ps_names(&env);
    assert!(ps.starts_with("qweb Up"), "{ps}");
    let logs = env.rpod_ok(&["logs", "qweb"]);
    assert_eq!(logs.trim(), "one and two words");
    let cat = env.rpod_ok(&["exec", "qweb", "cat", "/www/index.html"]);
    assert_eq!(cat.trim(), "hi");
    for i in [0, 1, 2] {
        run_exec(&env, &lines[i].0, &lines[i].1, lines[i].2);
    }
    assert_eq!(ps_names(&env).trim(), "");
    assert!(!env.runtime_dir.join("web.cid").exists());
    assert!(
        env.leftover_processes().is_empty(),
        "{:?}",
        env.leftover_processes()
    );
}

/// `generate systemd --files --name POD`: podman 4.3's layout, the pod's
/// unit first (pod-NAME.service, wanting and ordered before the
/// containers'), one container-NAME.service per member bound to it; every
/// unit passes `systemd-analyze verify`; without --new the pod's unit
/// starts and stops the infra and the members' units their containers.
#[test]
fn pod_units_verify_and_start_and_stop_the_pod() {
    let env = Env::new("sdpod");
    let img = env.image("alpine");
    env.rpod_ok(&["pull", "-q", &img]);
    env.rpod_ok(&["pod", "create", "--name", "tp"]);
    for c in ["tpc1", "tpc2"] {
        env.rpod_ok(&[
            "create",
            "--pod",
            "tp",
            "--name",
            c,
            &img,
            "sh",
            "-c",
            &format!("echo from-{c}; exec sleep 4243201"),
        ]);
    }
    let dir = unit_dir(&env);
    let out = env.sh_ok(&format!(
        "cd {} && rpod generate systemd --files --name tp",
        dir.display()
    ));
    let files: Vec<String> = ["pod-tp", "container-tpc1", "container-tpc2"]
        .iter()
        .map(|n| dir.join(format!("{n}.service")).display().to_string())
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), files, "{out}");
    let pod_text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(pod_text.starts_with("# pod-tp.service\n"), "{pod_text}");
    assert!(
        pod_text.contains(
            "\nWants=container-tpc1.service container-tpc2.service\n\
             Before=container-tpc1.service container-tpc2.service\n"
        ),
        "{pod_text}"
    );
    let c1 = std::fs::read_to_string(&files[1]).unwrap();
    assert!(
        c1.contains("\nBindsTo=pod-tp.service\nAfter=pod-tp.service\n"),
        "{c1}"
    );
    for f in &files {
        verify(&env, Path::new(f));
    }
    // Without --files: the same units on stdout, the pod's first.
    let all = env.rpod_ok(&["generate", "systemd", "--name", "tp"]);
    assert!(all.starts_with("# pod-tp.service\n"), "{all}");
    assert_eq!(all.matches("\n[Install]\n").count(), 3, "{all}");

    // Start as systemd would: the pod's unit, then the members'.
    let pod_lines = exec_lines(&pod_text, "pod-tp.service", &env);
    let c1_lines = exec_lines(&c1, "container-tpc1.service", &env);
    for (k, w, i) in pod_lines.iter().filter(|l| l.0 == "ExecStart") {
        run_exec(&env, k, w, *i);
    }
    for (k, w, i) in c1_lines.iter().filter(|l| l.0 == "ExecStart") {
        run_exec(&env, k, w, *i);
    }
    let ps = ps_names(&env);
    assert!(ps.lines().any(|l| l.starts_with("tpc1 Up")), "{ps}");
    assert!(ps.lines().any(|l| l.starts_with("tpc2 Created")), "{ps}");
    for lines in [&c1_lines, &pod_lines] {
        for (k, w, i) in lines.iter().filter(|l| l.0 == "ExecStop") {
            run_exec(&env, k, w, *i);
        }
    }
    assert!(!ps_names(&env).contains(" Up"), "{}", ps_names(&env));
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "tp"]);
    // Bad input names the thing at fault.
    let (code, err) = env.rpod_fail(&["generate", "systemd", "nosuch"]);
    assert_eq!(code, 125);
    assert!(err.contains("nosuch"), "{err}");
}

/// `generate systemd --new --files --name POD`: the pod's unit creates the
/// pod afresh (`pod create --pod-id-file … --replace` with the original
/// options) and removes it; members join it by the pod-id file. Run by
/// hand in systemd's order, the pod and its container come up together,
/// share the pod's published port, and go away with nothing left.
#[test]
fn new_pod_units_create_the_pod_and_its_containers_afresh() {
    let env = Env::new("sdpodnew");
    let img = env.image("alpine");
    env.rpod_ok(&["pull", "-q", &img]);
    env.rpod_ok(&["pod", "create", "--name", "np", "--label", "tier=web"]);
    env.rpod_ok(&[
        "create",
        "--pod",
        "np",
        "--name",
        "npc",
        "-e",
        "V=a b",
        &img,
        "sh",
        "-c",
        "echo \"$V\"; exec sleep 4243202",
    ]);
    let dir = unit_dir(&env);
    let out = env.sh_ok(&format!(
        "cd {} && rpod generate systemd --new --files --name np",
        dir.display()
    ));
    assert_eq!(out.lines().count(), 2, "{out}");
    let pod_text = std::fs::read_to_string(dir.join("pod-np.service")).unwrap();
    let c_text = std::fs::read_to_string(dir.join("container-npc.service")).unwrap();
    for want in [
        "--pod-id-file %t/pod-np.pod-id",
        "--exit-policy=stop",
        "--replace",
        "--label tier=web",
        "Type=oneshot",
        "RemainAfterExit=yes",
    ] {
        assert!(pod_text.contains(want), "{want}: {pod_text}");
    }
    assert!(
        c_text.contains("--pod-id-file %t/pod-np.pod-id"),
        "{c_text}"
    );
    assert!(!c_text.contains("--pod np"), "{c_text}");
    verify(&env, &dir.join("pod-np.service"));
    verify(&env, &dir.join("container-npc.service"));
    // The originals go: the units make their own.
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "np"]);
    let pod_lines = exec_lines(&pod_text, "pod-np.service", &env);
    let c_lines = exec_lines(&c_text, "container-npc.service", &env);
    let start = |lines: &Vec<(String, Vec<String>, bool)>| {
        for (k, w, i) in lines.iter().filter(|l| l.0.starts_with("ExecStart")) {
            run_exec(&env, k, w, *i);
        }
    };
    let stop = |lines: &Vec<(String, Vec<String>, bool)>| {
        for (k, w, i) in lines.iter().filter(|l| l.0.starts_with("ExecStop")) {
            run_exec(&env, k, w, *i);
        }
    };
    start(&pod_lines);
    start(&c_lines);
    let ps = env.rpod_ok(&["ps", "--pod", "--format", "{{.Names}} {{.PodName}}"]);
    assert!(ps.lines().any(|l| l == "npc np"), "{ps}");
    let labels = env.rpod_ok(&["pod", "inspect", "--format", "{{.Labels}}", "np"]);
    assert!(labels.contains("tier:web"), "{labels}");
    assert!(
        crate::common::eventually(10, || env.rpod_ok(&["logs", "npc"]).trim() == "a b"),
        "{}",
        env.rpod_ok(&["logs", "npc"])
    );
    stop(&c_lines);
    stop(&pod_lines);
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]).trim(), "");
    assert_eq!(ps_names(&env).trim(), "");
    assert!(
        env.leftover_processes().is_empty(),
        "{:?}",
        env.leftover_processes()
    );
}

/// Quadlet's other unit types, through the generator as systemd runs it:
/// a `.pod` with a published port, a `.volume`, a `.network` and a `.kube`
/// file beside a `.container` that joins the pod and mounts the volume.
/// Every generated unit passes `systemd-analyze verify`; the references
/// become podman names and dependencies; run by hand in systemd's order
/// the network and volume are created, the pod comes up with the container
/// in it (the volume mounted, the port published on the pod), and the
/// stop lines leave nothing running.
#[test]
fn quadlet_pod_volume_network_and_kube_units() {
    let env = Env::new("quadpod");
    let img = env.image("alpine");
    env.rpod_ok(&["pull", "-q", &img]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let qdir = env.home.join(".config/containers/systemd");
    let files = [
        (
            "web.pod",
            format!("[Pod]\nPublishPort=127.0.0.1:{port}:8080\nLabel=tier=web\n\n[Install]\nWantedBy=default.target\n"),
        ),
        ("data.volume", "[Volume]\nLabel=kind=data\n".to_string()),
        ("net.network", "[Network]\nSubnet=10.89.77.0/24\nLabel=k=v\n".to_string()),
        (
            "app.container",
            format!(
                "[Unit]\nDescription=app in a pod\n\n[Container]\nImage={img}\nPod=web.pod\n\
                 Volume=data.volume:/data\nEnvironment=MSG=hello\nReadOnly=true\nRunInit=true\n\
                 Exec=sh -c 'echo $MSG > /data/f; httpd -f -p 8080 -h /data'\n"
            ),
        ),
        ("k.kube", "[Kube]\nYaml=k.yaml\nNetwork=net.network\n".to_string()),
        (
            "k.yaml",
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kp\nspec:\n  containers:\n  \
                 - name: c\n    image: {img}\n    command: [sleep, '4243390']\n"
            ),
        ),
    ];
    env.sh_ok(&format!("mkdir -p {}", qdir.display()));
    for (n, t) in &files {
        env.sh_ok(&format!("cat > {}/{n} <<'EOF'\n{t}EOF", qdir.display()));
    }
    let out_dir = env.dir.join("gen");
    env.sh_ok(&format!("mkdir -p {}", out_dir.display()));
    env.rpod_ok(&["generate", "quadlet", &out_dir.display().to_string()]);
    let read =
        |n: &str| std::fs::read_to_string(out_dir.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    let names = [
        "web-pod.service",
        "data-volume.service",
        "net-network.service",
        "app.service",
        "k.service",
    ];
    for n in names {
        verify(&env, &out_dir.join(n));
    }
    let link = std::fs::read_link(out_dir.join("default.target.wants/web-pod.service")).unwrap();
    assert_eq!(link, Path::new("../web-pod.service"));
    let app = read("app.service");
    for want in [
        "\nBindsTo=web-pod.service\nAfter=web-pod.service\n",
        "\nRequires=data-volume.service\nAfter=data-volume.service\n",
        "--pod=systemd-web",
        "-v systemd-data:/data",
    ] {
        assert!(app.contains(want), "{want}: {app}");
    }
    let pod = read("web-pod.service");
    assert!(
        pod.contains("\nWants=app.service\nBefore=app.service\n"),
        "{pod}"
    );
    let kube = read("k.service");
    assert!(
        kube.contains(&format!("{}/k.yaml", qdir.display())),
        "{kube}"
    );
    assert!(kube.contains("--network=systemd-net"), "{kube}");

    // systemd's order: the network and the volume, the pod, the container.
    let run_all = |unit: &str, prefix: &str| {
        let text = read(unit);
        for (k, w, i) in exec_lines(&text, unit, &env)
            .iter()
            .filter(|l| l.0.starts_with(prefix))
        {
            run_exec(&env, k, w, *i);
        }
    };
    run_all("net-network.service", "ExecStart");
    let net = env.rpod_ok(&[
        "network",
        "inspect",
        "--format",
        "{{.Labels}}",
        "systemd-net",
    ]);
    assert!(net.contains("k:v"), "{net}");
    run_all("data-volume.service", "ExecStart");
    // Starting twice is no error (--ignore): the unit is restartable.
    run_all("data-volume.service", "ExecStart");
    let vol = env.rpod_ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Labels}}",
        "systemd-data",
    ]);
    assert!(vol.contains("kind:data"), "{vol}");
    run_all("web-pod.service", "ExecStart");
    run_all("app.service", "ExecStart");
    let ps = env.rpod_ok(&["ps", "--pod", "--format", "{{.Names}} {{.PodName}}"]);
    assert!(ps.lines().any(|l| l == "systemd-app systemd-web"), "{ps}");
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = write!(s, "GET /f HTTP/1.0\r\n\r\n");
            let _ = s.read_to_string(&mut body);
            if body.contains("hello") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(body.contains("hello"), "the pod's port served: {body:?}");
    // The .kube unit plays its YAML on the unit's network, and takes it down.
    run_all("k.service", "ExecStart");
    let kp = env.rpod_ok(&["ps", "--format", "{{.Names}} {{.PodName}} {{.Networks}}"]);
    assert!(kp.lines().any(|l| l.starts_with("kp-c kp ")), "{kp}");
    // The pod's network is its infra's.
    assert!(
        kp.lines().any(|l| l.ends_with("-infra kp [systemd-net]")),
        "{kp}"
    );
    run_all("k.service", "ExecStop");
    assert!(!env
        .rpod_ok(&["pod", "ps", "--format", "{{.Name}}"])
        .contains("kp"));
    // Stop: the container, then the pod.
    run_all("app.service", "ExecStop");
    run_all("web-pod.service", "ExecStop");
    assert_eq!(ps_names(&env).trim(), "");
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]).trim(), "");
    // The volume stays (as podman's): the data outlives the units.
    let f = env.rpod_ok(&["run", "--rm", "-v", "systemd-data:/d", &img, "cat", "/d/f"]);
    assert_eq!(f.trim(), "hello");
    // The --rm run's monitor may still be finishing.
    assert!(
        crate::common::eventually(10, || env.leftover_processes().is_empty()),
        "{:?}",
        env.leftover_processes()
    );
}

/// The generator refuses a file with an unknown key, naming file and line,
/// and still converts the others.
#[test]
fn quadlet_unknown_keys_are_refused_with_file_and_line() {
    let env = Env::new("quadbad");
    let qdir = env.home.join(".config/containers/systemd");
    env.sh_ok(&format!(
        "mkdir -p {q} && printf '[Volume]\\nLabel=a=b\\nBogus=1\\n' > {q}/v.volume && \
         printf '[Network]\\n' > {q}/n.network && \
         printf '[Container]\\nImage=x\\nRetry=3\\n' > {q}/c.container",
        q = qdir.display()
    ));
    let out = env.rpod(&["generate", "quadlet", "--dryrun"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}/v.volume:3: unsupported key \"Bogus\" in [Volume]",
            qdir.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}/c.container:3: unsupported key \"Retry\"",
            qdir.display()
        )),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("---n-network.service---"), "{stdout}");
    assert!(!stdout.contains("v-volume"), "{stdout}");
}
