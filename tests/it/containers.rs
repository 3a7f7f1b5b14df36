//! The container commands as the unprivileged test user: run, create,
//! start, stop, kill, rm, ps, wait, exec, logs, inspect, top, rename,
//! cidfile/replace, the run flags, and the security properties of issue 3.

use crate::common;
use crate::common::*;

#[test]
fn run_prints_output_and_returns_the_exit_code() {
    let env = env_with_alpine("runout");
    let _reaper = Reaper(&env);
    let o = env.rpod(&[
        "run",
        "--rm",
        "alpine",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(out(&o), "out\n");
    assert_eq!(err(&o), "err\n");
    // Short name and full reference reach the same image.
    let o = env.rpod_ok(&["run", "--rm", &env.image("alpine"), "echo", "full"]);
    assert_eq!(o, "full\n");
    // A signal's death is 128+N (PID 1 ignores unhandled signals, so kill it).
    env.rpod_ok(&[
        "run", "-d", "--name", "victim", "alpine", "sleep", "4242207",
    ]);
    let mut fg = env
        .cmd(&["attach", "victim"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.rpod_ok(&["kill", "victim"]);
    assert_eq!(fg.wait().unwrap().code(), Some(128 + 9));
    env.rpod_ok(&["rm", "victim"]);
    assert_clean(&env, &[]);
}

#[test]
fn stdin_with_i_and_not_without() {
    let env = env_with_alpine("stdin");
    let _reaper = Reaper(&env);
    let o = env.rpod_stdin(
        &[
            "run",
            "--rm",
            "-i",
            "alpine",
            "sh",
            "-c",
            "read x; echo got $x",
        ],
        b"hello\n",
    );
    assert_eq!(out(&o), "got hello\n", "{}", err(&o));
    let o = env.rpod_stdin(
        &["run", "--rm", "-i", "alpine", "wc", "-c"],
        &vec![b'x'; 200_000],
    );
    assert_eq!(out(&o).trim(), "200000");
    let o = env.rpod_stdin(&["run", "--rm", "alpine", "cat"], b"ignored\n");
    assert_eq!(out(&o), "", "without -i stdin is closed");
    assert_clean(&env, &[]);
}

#[test]
fn detached_container_lifecycle_and_ps() {
    let env = env_with_alpine("lifecycle");
    let _reaper = Reaper(&env);
    let id = env.rpod_ok(&[
        "run", "-d", "--name", "web", "--label", "app=shop", "alpine", "sleep", "4242201",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    let ps = env.rpod_ok(&["ps"]);
    let mut lines = ps.lines();
    let head = lines.next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(head.contains(col), "{head}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id[..12]), "{row}");
    assert!(
        row.contains("localhost:5000/alpine:latest") && row.contains("Up ") && row.ends_with("web"),
        "{row}"
    );
    assert_eq!(env.rpod_ok(&["ps", "-q"]).trim(), &id[..12]);
    assert_eq!(env.rpod_ok(&["ps", "-q", "--no-trunc"]).trim(), id);
    // Every command takes a name, the id or a unique prefix.
    for r in ["web", &id[..], &id[..5]] {
        assert_eq!(field(&env, r, "{{.Name}}"), "web");
    }
    // Filters.
    let q = |f: &str| {
        env.rpod_ok(&["ps", "-a", "-q", "--filter", f])
            .trim()
            .to_string()
    };
    assert_eq!(q("name=we"), &id[..12]);
    assert_eq!(q("name=^nope"), "");
    assert_eq!(q("label=app=shop"), &id[..12]);
    assert_eq!(q("label=app=other"), "");
    assert_eq!(q("status=running"), &id[..12]);
    assert_eq!(q("status=exited"), "");
    assert_eq!(q(&format!("id={}", &id[..6])), &id[..12]);
    assert_eq!(q("ancestor=alpine"), &id[..12]);
    let (code, e) = env.rpod_fail(&["ps", "--filter", "colour=red"]);
    assert_eq!(code, 125);
    assert!(e.contains("colour"), "{e}");
    // JSON and templates.
    let js: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["ps", "--format", "json"])).unwrap();
    assert_eq!(js[0]["Id"], id.as_str());
    assert_eq!(js[0]["Names"][0], "web");
    assert_eq!(js[0]["State"], "running");
    assert_eq!(js[0]["Labels"]["app"], "shop");
    let t = env.rpod_ok(&["ps", "--format", "{{.ID}} {{.Names}} {{.State}}"]);
    assert_eq!(t.trim(), format!("{} web running", &id[..12]));
    let t = env.rpod_ok(&["ps", "--format", "table {{.Names}}\t{{.Status}}"]);
    assert!(t.starts_with("NAMES"), "{t}");
    // kill -s, then the state survives into a new shell's ps.
    assert_eq!(env.rpod_ok(&["kill", "-s", "KILL", "web"]).trim(), "web");
    assert_eq!(env.rpod_ok(&["wait", "web"]).trim(), "137");
    let st = env.rpod_ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(
        st.starts_with("Exited (137) ") && st.trim().ends_with("ago"),
        "{st}"
    );
    assert_eq!(
        env.rpod_ok(&["ps", "-q"]).trim(),
        "",
        "ps without -a hides exited"
    );
    let (code, e) = env.rpod_fail(&["kill", "web"]);
    assert_eq!(code, 125);
    assert!(e.contains("can only kill running containers"), "{e}");
    // Restart it, stop it (sleep as PID 1 ignores SIGTERM: killed after -t).
    assert_eq!(env.rpod_ok(&["start", "web"]).trim(), "web");
    assert_eq!(field(&env, "web", "{{.State.Status}}"), "running");
    assert_eq!(env.rpod_ok(&["stop", "-t", "0", "web"]).trim(), "web");
    // podman 4.3.1 prints the name as given.
    assert_eq!(env.rpod_ok(&["rm", "web"]).trim(), "web");
    let (code, e) = env.rpod_fail(&["rm", "web"]);
    assert_eq!(
        code, 1,
        "podman 4.3.1 exits 1 for rm of a missing container"
    );
    assert!(
        e.contains("no container with name or ID \"web\" found"),
        "{e}"
    );
    env.rpod_ok(&["rm", "--ignore", "web"]);
    env.rpod_ok(&["stop", "--ignore", "web"]);
    assert_clean(&env, &["4242201"]);
}

#[test]
fn created_containers_start_and_attach() {
    let env = env_with_alpine("create");
    let _reaper = Reaper(&env);
    let id = env.rpod_ok(&[
        "create",
        "--name",
        "c1",
        "alpine",
        "sh",
        "-c",
        "echo hello from c1; exit 4",
    ]);
    assert_eq!(id.trim().len(), 64);
    assert_eq!(field(&env, "c1", "{{.State.Status}}"), "created");
    let ps = env.rpod_ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert_eq!(ps.trim(), "Created");
    let o = env.rpod(&["start", "-a", "c1"]);
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    assert_eq!(out(&o), "hello from c1\n");
    assert_eq!(env.rpod_ok(&["logs", "c1"]), "hello from c1\n");
    // attach to a running container gets its later output and exit code.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "late",
        "alpine",
        "sh",
        "-c",
        "sleep 1; echo late; exit 6",
    ]);
    let o = env.rpod(&["attach", "late"]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(out(&o).contains("late"), "{}", out(&o));
    env.rpod_ok(&["rm", "c1", "late"]);
    assert_clean(&env, &[]);
}

#[test]
fn logs_tail_since_timestamps_and_follow() {
    let env = env_with_alpine("logs");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "lg",
        "alpine",
        "sh",
        "-c",
        "echo one; echo two >&2; echo three",
    ]);
    env.rpod_ok(&["wait", "lg"]);
    let o = env.rpod(&["logs", "lg"]);
    assert_eq!(out(&o), "one\nthree\n");
    assert_eq!(err(&o), "two\n");
    // --tail counts log lines of both streams; this container prints to stdout only.
    env.rpod_ok(&[
        "run",
        "--name",
        "lt",
        "alpine",
        "sh",
        "-c",
        "echo one; echo two; echo three",
    ]);
    assert_eq!(env.rpod_ok(&["logs", "--tail", "2", "lt"]), "two\nthree\n");
    assert_eq!(env.rpod_ok(&["logs", "--tail", "0", "lt"]), "");
    let ts = env.rpod_ok(&["logs", "-t", "--tail", "1", "lt"]);
    assert!(ts.starts_with("20") && ts.contains("Z three"), "{ts}");
    assert_eq!(
        env.rpod_ok(&["logs", "--since", "2999-01-01T00:00:00Z", "lg"]),
        ""
    );
    assert_eq!(
        env.rpod_ok(&["logs", "--until", "2000-01-01T00:00:00Z", "lg"]),
        ""
    );
    // The file itself is k8s-file.
    let id = field(&env, "lg", "{{.Id}}");
    let log = std::fs::read_to_string(
        store_root(&env)
            .join("containers")
            .join(&id)
            .join("ctr.log"),
    )
    .unwrap();
    for l in log.lines() {
        let f: Vec<&str> = l.splitn(4, ' ').collect();
        assert!(f[0].ends_with('Z') && f[0].len() == 30, "{l}");
        assert!(f[1] == "stdout" || f[1] == "stderr", "{l}");
        assert!(f[2] == "F" || f[2] == "P", "{l}");
    }
    // -f follows until the container exits.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "fl",
        "alpine",
        "sh",
        "-c",
        "for i in 1 2 3; do echo n$i; sleep 0.3; done",
    ]);
    let o = env.rpod_ok(&["logs", "-f", "fl"]);
    assert_eq!(o, "n1\nn2\nn3\n");
    env.rpod_ok(&["rm", "lg", "lt", "fl"]);
    assert_clean(&env, &[]);
}

#[test]
fn exec_runs_in_the_container() {
    let env = env_with_alpine("exec");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        "-e",
        "FROMRUN=1",
        "alpine",
        "sleep",
        "4242202",
    ]);
    assert_eq!(env.rpod_ok(&["exec", "ex", "echo", "hi"]), "hi\n");
    let o = env.rpod_ok(&[
        "exec",
        "-e",
        "FOO=bar",
        "ex",
        "sh",
        "-c",
        "echo $FOO $FROMRUN",
    ]);
    assert_eq!(o, "bar 1\n");
    assert_eq!(env.rpod_ok(&["exec", "-w", "/tmp", "ex", "pwd"]), "/tmp\n");
    assert_eq!(
        env.rpod_ok(&["exec", "-u", "1000:1000", "ex", "id", "-u"]),
        "1000\n"
    );
    let o = env.rpod(&["exec", "ex", "sh", "-c", "exit 9"]);
    assert_eq!(o.status.code(), Some(9));
    assert_eq!(
        env.rpod(&["exec", "ex", "no-such-cmd"]).status.code(),
        Some(127)
    );
    assert_eq!(
        env.rpod(&["exec", "ex", "/etc/passwd"]).status.code(),
        Some(126)
    );
    let o = env.rpod_stdin(&["exec", "-i", "ex", "cat"], b"piped\n");
    assert_eq!(out(&o), "piped\n");
    // The exec'd process is in the container's pid namespace.
    let ps = env.rpod_ok(&["exec", "ex", "ps", "-o", "pid,args"]);
    assert!(
        ps.lines()
            .any(|l| l.trim_start().starts_with("1 ") && l.contains("sleep 4242202")),
        "{ps}"
    );
    let top = env.rpod_ok(&["top", "ex"]);
    assert!(
        top.starts_with("USER") && top.contains("sleep 4242202"),
        "{top}"
    );
    assert!(top.lines().nth(1).unwrap().starts_with("root"), "{top}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "ex"]);
    let (code, e) = env.rpod_fail(&["exec", "nope", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("no such container"), "{e}");
    assert_clean(&env, &["4242202"]);
}

#[test]
fn inspect_shows_podman_fields_and_the_spec() {
    let env = env_with_alpine("inspect");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "in",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "--hostname",
        "box",
        "alpine",
        "sleep",
        "4242203",
    ]);
    let out = env.rpod_ok(&["container", "inspect", "in"]);
    // podman's inspect indentation (five spaces), as for images.
    assert!(out.starts_with("[\n     {\n          \""), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v[0];
    assert_eq!(c["Name"], "in");
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"][0], "4242203");
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["State"]["Running"], true);
    assert!(c["State"]["Pid"].as_i64().unwrap() > 0);
    assert_eq!(c["ImageName"], "localhost:5000/alpine:latest");
    assert_eq!(c["Config"]["Hostname"], "box");
    assert_eq!(c["Config"]["WorkingDir"], "/tmp");
    assert!(c["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "A=1"));
    assert_eq!(
        c["HostConfig"]["NetworkMode"], "none",
        "asked with --network none"
    );
    let spec_path = c["OCIConfigPath"].as_str().unwrap();
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(spec_path).unwrap()).unwrap();
    assert_eq!(spec["process"]["args"][0], "sleep");
    assert_eq!(spec["hostname"], "box");
    env.rpod_ok(&["rm", "-f", "-t", "0", "in"]);
    assert_clean(&env, &["4242203"]);
}

#[test]
fn rename_cidfile_and_replace() {
    let env = env_with_alpine("names");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["create", "--name", "old", "alpine", "true"]);
    env.rpod_ok(&["rename", "old", "new"]);
    assert_eq!(field(&env, "new", "{{.Name}}"), "new");
    env.rpod_ok(&["create", "--name", "old", "alpine", "true"]);
    let (code, e) = env.rpod_fail(&["rename", "old", "new"]);
    assert_eq!(code, 125);
    assert!(e.contains("already in use"), "{e}");
    env.rpod_ok(&["rm", "old", "new"]);

    let cid = env.dir.join("ctr.id");
    let cid_s = cid.to_str().unwrap();
    let id = env.rpod_ok(&[
        "run",
        "-d",
        "--cidfile",
        cid_s,
        "alpine",
        "sleep",
        "4242204",
    ]);
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id.trim());
    let (code, e) = env.rpod_fail(&["run", "-d", "--cidfile", cid_s, "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("container id file exists"), "{e}");
    env.rpod_ok(&["stop", "-t", "0", "--cidfile", cid_s]);
    env.rpod_ok(&["rm", "--cidfile", cid_s]);
    assert!(!cid.exists(), "rm --cidfile removes the file");

    let a = env.rpod_ok(&["run", "-d", "--name", "svc", "alpine", "sleep", "4242205"]);
    let b = env.rpod_ok(&[
        "run",
        "-d",
        "--replace",
        "--name",
        "svc",
        "alpine",
        "sleep",
        "4242205",
    ]);
    assert_ne!(a, b);
    assert_eq!(
        env.rpod_ok(&["ps", "-a", "-q", "--no-trunc"]).trim(),
        b.trim()
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "svc"]);

    // A unit's ExecStop/ExecStopPost: --ignore covers a CIDFile that
    // ExecStart never wrote; without --ignore it is an error naming it.
    let missing = env.dir.join("never-written.id");
    let missing_s = missing.to_str().unwrap();
    env.rpod_ok(&["stop", "--ignore", "-t", "0", "--cidfile", missing_s]);
    env.rpod_ok(&["rm", "-f", "--ignore", "--cidfile", missing_s]);
    let (code, e) = env.rpod_fail(&["stop", "--cidfile", missing_s]);
    assert_eq!(code, 125);
    assert!(e.contains(missing_s), "{e}");

    // rm -f of a running --rm container: its monitor removes it as it stops.
    env.rpod_ok(&[
        "run", "-d", "--rm", "--name", "gone", "alpine", "sleep", "4242206",
    ]);
    env.rpod_ok(&["rm", "-f", "-t", "0", "gone"]);
    assert!(env.rpod_ok(&["ps", "-a", "-q"]).trim().is_empty());
    assert_clean(&env, &["4242204", "4242205", "4242206"]);
}

#[test]
fn run_flags_reach_the_container() {
    let env = env_with_alpine("flags");
    let _reaper = Reaper(&env);
    let envfile = env.dir.join("env.list");
    std::fs::write(&envfile, "FROMFILE=yes\n# comment\n").unwrap();
    std::process::Command::new("chmod")
        .args(["644", envfile.to_str().unwrap()])
        .status()
        .unwrap();
    let o = env.rpod_ok(&[
        "run", "--rm", "-e", "X=1", "--env-file", envfile.to_str().unwrap(), "-w", "/etc", "-u", "nobody",
        "--hostname", "hbox", "--add-host", "db:10.1.2.3", "alpine", "sh", "-c",
        "echo $X $FROMFILE; pwd; id -un; hostname; cat /etc/hostname; grep db /etc/hosts; echo $container",
    ]);
    assert_eq!(o, "1 yes\n/etc\nnobody\nhbox\nhbox\n10.1.2.3\tdb\nrpod\n");
    // Entrypoint override: a JSON array, the image's Cmd dropped.
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "[\"echo\",\"ep\"]",
        "alpine",
        "arg",
    ]);
    assert_eq!(o, "ep arg\n");
    // Bind mounts, read-only ones, tmpfs and a read-only rootfs.
    let data = env.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("f"), "host file\n").unwrap();
    std::process::Command::new("chown")
        .args(["-R", &format!("{}:", env.user), data.to_str().unwrap()])
        .status()
        .unwrap();
    let v = format!("{}:/data", data.display());
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "-v",
        &v,
        "alpine",
        "sh",
        "-c",
        "cat /data/f; echo new > /data/g",
    ]);
    assert_eq!(o, "host file\n");
    assert_eq!(std::fs::read_to_string(data.join("g")).unwrap(), "new\n");
    let vro = format!("{}:/data:ro", data.display());
    let o = env.rpod(&["run", "--rm", "-v", &vro, "alpine", "touch", "/data/h"]);
    assert_ne!(o.status.code(), Some(0));
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch",
        "alpine",
        "sh",
        "-c",
        "grep /scratch /proc/mounts | cut -d' ' -f3",
    ]);
    assert_eq!(o, "tmpfs\n");
    let o = env.rpod(&["run", "--rm", "--read-only", "alpine", "touch", "/x"]);
    assert_ne!(o.status.code(), Some(0));
    // --init runs catatonit as PID 1.
    let o = env.rpod_ok(&["run", "--rm", "--init", "alpine", "cat", "/proc/1/cmdline"]);
    assert!(o.starts_with("/run/podman-init"), "{o:?}");
    // Limits that can't be enforced here warn and run.
    let o = env.rpod(&[
        "run",
        "--rm",
        "--memory",
        "64m",
        "--pids-limit",
        "100",
        "alpine",
        "true",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    // Capabilities.
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "alpine",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert!(o.contains("0000000000000000"), "{o}");
    assert_clean(&env, &[]);
}

#[test]
fn security_properties() {
    let env = env_with_alpine("security");
    let _reaper = Reaper(&env);
    // No host processes.
    let o = env.rpod_ok(&["run", "--rm", "alpine", "ps", "-o", "pid"]);
    let pids: Vec<&str> = o.lines().skip(1).map(str::trim).collect();
    assert!(pids.len() <= 2 && pids[0] == "1", "{o}");
    // /proc/sys is read-only.
    let o = env.rpod(&[
        "run",
        "--rm",
        "alpine",
        "sh",
        "-c",
        "echo 1 > /proc/sys/kernel/domainname",
    ]);
    assert_ne!(o.status.code(), Some(0));
    // Masked paths.
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "alpine",
        "sh",
        "-c",
        "cat /proc/keys /proc/timer_list /proc/sched_debug 2>/dev/null | wc -c; ls /sys/firmware | wc -l",
    ]);
    assert_eq!(o.split_whitespace().collect::<Vec<_>>(), vec!["0", "0"]);
    // Seccomp in force, no_new_privs off by default and on when asked.
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "alpine",
        "grep",
        "-E",
        "^(Seccomp|NoNewPrivs):",
        "/proc/self/status",
    ]);
    assert!(
        o.contains("Seccomp:\t2") && o.contains("NoNewPrivs:\t0"),
        "{o}"
    );
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "alpine",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    assert!(o.contains("NoNewPrivs:\t1"), "{o}");
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "alpine",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert!(o.contains("Seccomp:\t0"), "{o}");
    // Host files outside binds are out of reach.
    let marker = env.dir.join("host-secret");
    std::fs::write(&marker, "secret").unwrap();
    let o = env.rpod(&["run", "--rm", "alpine", "cat", marker.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "alpine",
        "sh",
        "-c",
        "ls /home; ls /tmp | wc -l; ls /root | wc -l",
    ]);
    // Only the image's own /home/guest; no host home, /tmp or /root.
    assert_eq!(
        o.split_whitespace().collect::<Vec<_>>(),
        vec!["guest", "0", "0"]
    );
    assert_clean(&env, &[]);
}

#[test]
fn container_prune_and_cleanup() {
    let env = env_with_alpine("prune");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["run", "--name", "p1", "alpine", "true"]);
    env.rpod_ok(&["run", "--name", "p2", "alpine", "true"]);
    env.rpod_ok(&["run", "-d", "--name", "p3", "alpine", "sleep", "4242206"]);
    let cleaned = env.rpod_ok(&["container", "cleanup", "p1"]);
    assert_eq!(cleaned.trim().len(), 64);
    let pruned = env.rpod_ok(&["container", "prune", "-f"]);
    assert_eq!(pruned.lines().count(), 2, "{pruned}");
    assert_eq!(
        env.rpod_ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "p3"
    );
    env.rpod_ok(&["rm", "--all", "--force", "-t", "0"]);
    assert_clean(&env, &["4242206"]);
}

#[test]
fn debian_runs_too() {
    if !common::world().debian_ok() {
        eprintln!("skipping: no debian fixture in this world");
        return;
    }
    let env = new_env("debian");
    let _reaper = Reaper(&env);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "localhost:5000/debian",
        "sh",
        "-c",
        "cat /etc/debian_version >/dev/null && echo ok; id -un",
    ]);
    assert_eq!(o, "ok\nroot\n");
    assert_clean(&env, &[]);
}

#[test]
fn userns_keep_id_maps_you_into_the_container() {
    let env = env_with_alpine("keepid");
    let _reaper = Reaper(&env);
    let w = common::world();
    let uid = w.get("TEST_UID");
    let gid = w.get("TEST_GID");
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--userns",
        "keep-id",
        "alpine",
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    assert_eq!(o, format!("{uid}\n{gid}\n"));
    // A file made in a bind mount belongs to you on the host.
    let d = env.dir.join("kid");
    std::fs::create_dir_all(&d).unwrap();
    std::process::Command::new("chown")
        .args([&format!("{}:", env.user), d.to_str().unwrap()])
        .status()
        .unwrap();
    let v = format!("{}:/d", d.display());
    env.rpod_ok(&[
        "run", "--rm", "--userns", "keep-id", "-v", &v, "alpine", "touch", "/d/f",
    ]);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(d.join("f")).unwrap().uid().to_string(),
        uid
    );
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--userns",
        "keep-id:uid=1000,gid=1000",
        "alpine",
        "id",
        "-u",
    ]);
    assert_eq!(o, "1000\n");
    let (code, e) = env.rpod_fail(&["run", "--rm", "--userns", "auto", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("--userns"), "{e}");
    assert_clean(&env, &[]);
}

#[test]
fn mount_and_unmount_inside_unshare() {
    let env = env_with_alpine("mount");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["create", "--name", "mt", "alpine", "true"]);
    let o = env.sh_ok(
        "rpod unshare sh -c 'p=$(rpod mount mt) && ls $p/etc/passwd && rpod mount && rpod unmount mt'",
    );
    assert!(o.contains("/etc/passwd"), "{o}");
    assert!(o.contains("/merged"), "{o}");
    // podman's spellings under `container` too.
    let o = env.sh_ok(
        "rpod unshare sh -c 'p=$(rpod container mount mt) && ls $p/etc/os-release && rpod container umount mt && rpod container mount'",
    );
    assert!(o.contains("/etc/os-release"), "{o}");
    assert!(!o.contains("/merged\n"), "still listed after umount: {o}");
    let (code, e) = env.rpod_fail(&["mount", "mt"]);
    assert_eq!(code, 125);
    assert!(e.contains("rpod unshare"), "{e}");
    env.rpod_ok(&["rm", "mt"]);
    assert_clean(&env, &[]);
}

#[test]
fn image_config_is_honoured() {
    let env = new_env("imgconfig");
    let _reaper = Reaper(&env);
    let img = env.image("config");
    assert_eq!(env.rpod_ok(&["run", "--rm", &img]), "entry cmd-default\n");
    assert_eq!(
        env.rpod_ok(&["run", "--rm", &img, "given"]),
        "entry given\n"
    );
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &img,
        "-c",
        "id -un; pwd; echo \"$GREETING\"; env | grep '^EMPTY='",
    ]);
    assert_eq!(o, "guest\n/work\nhello world\nEMPTY=\n");
    env.rpod_ok(&["create", "--name", "cfg", &img]);
    assert_eq!(field(&env, "cfg", "{{.Config.StopSignal}}"), "10");
    assert_eq!(field(&env, "cfg", "{{.Config.User}}"), "guest");
    env.rpod_ok(&["create", "--name", "cfg2", "--stop-signal", "SIGINT", &img]);
    assert_eq!(field(&env, "cfg2", "{{.Config.StopSignal}}"), "2");
    env.rpod_ok(&["rm", "cfg", "cfg2"]);
    assert_clean(&env, &[]);
}

#[test]
fn wait_learns_the_exit_code_of_a_removed_rm_container() {
    let env = env_with_alpine("waitrm");
    let _reaper = Reaper(&env);
    let id = env.rpod_ok(&["run", "-d", "--rm", "alpine", "sh", "-c", "sleep 1; exit 7"]);
    // wait starts while it runs; --rm removes it as it stops.
    assert_eq!(env.rpod_ok(&["wait", id.trim()]).trim(), "7");
    assert!(env.rpod_ok(&["ps", "-a", "-q"]).trim().is_empty());
    // Once gone, a new wait has nothing to find, as podman's.
    let (code, e) = env.rpod_fail(&["wait", id.trim()]);
    assert_eq!(code, 125);
    assert!(e.contains("no such container"), "{e}");
    assert_clean(&env, &[]);
}
