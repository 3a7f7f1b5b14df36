//! `rpod events` and the events log: podman 4.3's sequences, JSON keys,
//! filters, time ranges, following, concurrent writers, rotation and the
//! `none` backend. Each test has its own store and runroot (its own log).

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn log_path(env: &Env) -> std::path::PathBuf {
    run_root(env).join("events/events.log")
}

/// `TYPE STATUS` of each line of `events --stream=false --format …`.
fn seq(env: &Env, filters: &[&str]) -> Vec<String> {
    let mut args = vec![
        "events",
        "--stream=false",
        "--format",
        "{{.Type}} {{.Status}}",
    ];
    for f in filters {
        args.push("--filter");
        args.push(f);
    }
    env.rpod_ok(&args).lines().map(String::from).collect()
}

fn json_lines(env: &Env, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["events", "--stream=false", "--format", "json"];
    args.extend_from_slice(extra);
    env.rpod_ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn run_rm_gives_podmans_sequence() {
    let env = env_with_alpine("evrunrm");
    let before = env.rpod_ok(&["events", "--stream=false"]);
    env.rpod_ok(&["run", "--rm", "--name", "seq", "alpine", "true"]);
    // podman 4.3.1 here, `podman run --rm IMG true` (image present):
    // image pull, then container create init start attach died remove.
    let all = seq(&env, &[]);
    let new: Vec<&str> = all
        .iter()
        .skip(before.lines().count())
        .map(String::as_str)
        .collect();
    assert_eq!(
        new,
        [
            "image pull",
            "container create",
            "container init",
            "container start",
            "container attach",
            "container died",
            "container remove"
        ],
        "{all:?}"
    );
    // The default line is podman's.
    let lines = env.rpod_ok(&["events", "--stream=false", "--filter", "event=start"]);
    let l = lines.lines().last().unwrap();
    let re_ok = l.contains(" +0000 UTC container start ")
        && l.contains(", name=seq")
        && l.contains("(image=localhost:5000/alpine:latest");
    assert!(re_ok, "{l}");
    // With --since 1m as the issue asks.
    let recent = env.rpod_ok(&[
        "events",
        "--since",
        "1m",
        "--stream=false",
        "--filter",
        "container=seq",
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(
        recent.split_whitespace().collect::<Vec<_>>(),
        ["create", "init", "start", "attach", "died", "remove"]
    );
}

#[test]
fn detached_exit_code_and_labels_in_json() {
    let env = env_with_alpine("evjson");
    let o = env.rpod(&[
        "run", "--name", "ex3", "--label", "a=b", "alpine", "sh", "-c", "exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    env.rpod_ok(&["rm", "ex3"]);
    let evs = json_lines(&env, &["--filter", "container=ex3"]);
    let statuses: Vec<&str> = evs.iter().map(|e| e["Status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["create", "init", "start", "attach", "died", "cleanup", "remove"]
    );
    let died = &evs[4];
    // podman's keys, in podman's order (as the raw line has them).
    let raw = env.rpod_ok(&[
        "events",
        "--stream=false",
        "--format",
        "json",
        "--filter",
        "event=died",
    ]);
    let at = |k: &str| {
        raw.find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("{k} in {raw}"))
    };
    let order = [
        "ContainerExitCode",
        "ID",
        "Image",
        "Name",
        "Status",
        "Time",
        "Type",
        "Attributes",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{raw}");
    assert_eq!(died.as_object().unwrap().len(), order.len(), "{raw}");
    assert_eq!(died["ContainerExitCode"], 3);
    assert_eq!(died["ID"].as_str().unwrap().len(), 64);
    assert_eq!(died["Attributes"]["a"], "b");
    assert!(died["Time"].as_str().unwrap().ends_with('Z'));
    // Exit code 0 is left out, as podman does; image events have null Attributes.
    let pull = json_lines(&env, &["--filter", "type=image"]);
    assert!(pull
        .iter()
        .all(|e| e["Attributes"].is_null() && e["Status"] == "pull"));
    // The file itself holds the same lines.
    let text = env.sh_ok(&format!("cat {}", log_path(&env).display()));
    assert!(text.contains("\"ContainerExitCode\":3,"), "{text}");
    // Templates see podman's fields.
    let t = env.rpod_ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=died",
        "--format",
        "{{.Name}}|{{.ContainerExitCode}}|{{.Attributes}}",
    ]);
    assert_eq!(t.trim(), "ex3|3|map[a:b]");
}

#[test]
fn filters_or_same_key_and_different_keys() {
    let env = env_with_alpine("evfilt");
    env.rpod_ok(&[
        "create", "--name", "one", "--label", "app=web", "alpine", "true",
    ]);
    env.rpod_ok(&["create", "--name", "two", "alpine", "true"]);
    env.rpod_ok(&["rename", "two", "deux"]);
    env.rpod_ok(&["rm", "one", "deux"]);
    env.rpod_ok(&["tag", "alpine", "mine:1"]);
    env.rpod_ok(&["untag", "alpine", "mine:1"]);
    // Same key OR'ed.
    assert_eq!(
        seq(&env, &["event=create", "event=rename"]),
        ["container create", "container create", "container rename"]
    );
    // Different keys AND'ed.
    assert_eq!(
        seq(&env, &["event=remove", "container=one"]),
        ["container remove"]
    );
    assert_eq!(
        seq(&env, &["label=app=web", "event=create"]),
        ["container create"]
    );
    assert!(seq(&env, &["label=app", "event=create"]).is_empty());
    assert_eq!(
        seq(&env, &["type=image", "event=tag", "event=untag"]),
        ["image tag", "image untag"]
    );
    // container= matches an id prefix too, and only container events.
    let id = env.rpod_ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=create",
        "--format",
        "{{.ID}}",
    ]);
    let first = id.lines().next().unwrap();
    assert_eq!(seq(&env, &[&format!("container={}", &first[..8])]).len(), 2);
    let (code, err) = env.rpod_fail(&["events", "--stream=false", "--filter", "bogus=1"]);
    assert_eq!(code, 125);
    assert!(err.contains("bogus is an invalid filter"), "{err}");
    // --no-trunc=false cuts ids to 12 characters.
    let short = env.rpod_ok(&[
        "events",
        "--stream=false",
        "--no-trunc=false",
        "--filter",
        "event=tag",
    ]);
    let w: Vec<&str> = short.split_whitespace().collect();
    assert_eq!(w[6].len(), 12, "{short}");
    assert_eq!(w[7], "localhost/mine:1", "{short}");
}

/// Write a log of hand-made events with known times.
fn write_log(env: &Env, lines: &[String]) {
    let p = log_path(env);
    env.sh_ok(&format!(
        "mkdir -p {d} && cat > {p} <<'EOF'\n{}\nEOF",
        lines.join("\n"),
        d = p.parent().unwrap().display(),
        p = p.display()
    ));
}

fn vol_line(name: &str, time: &str) -> String {
    format!(
        r#"{{"Name":"{name}","Status":"create","Time":"{time}","Type":"volume","Attributes":null}}"#
    )
}

#[test]
fn since_and_until_in_podmans_forms() {
    let env = new_env("evsince");
    write_log(
        &env,
        &[
            vol_line("a", "2026-01-01T00:00:00Z"),
            vol_line("b", "2026-01-01T00:00:10.5Z"),
            vol_line("c", "2026-01-01T00:00:20+00:00"),
            vol_line("d", "2030-01-01T00:00:00Z"),
        ],
    );
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["events", "--stream=false", "--format", "{{.Name}}"];
        a.extend_from_slice(args);
        env.rpod_ok(&a).lines().map(String::from).collect()
    };
    assert_eq!(names(&[]), ["a", "b", "c", "d"]);
    assert_eq!(names(&["--since", "2026-01-01T00:00:05Z"]), ["b", "c", "d"]);
    assert_eq!(
        names(&[
            "--since",
            "2026-01-01T00:00:05Z",
            "--until",
            "2026-01-01T00:00:20Z"
        ]),
        ["b", "c"]
    );
    // A Unix timestamp (2026-01-01T00:00:10Z) and a duration before now.
    assert_eq!(names(&["--since", "1767225610"]), ["b", "c", "d"]);
    assert_eq!(names(&["--until", "1h"]), ["a", "b", "c"]);
    assert_eq!(names(&["--since", "1h"]), ["d"]);
    let (code, err) = env.rpod_fail(&["events", "--stream=false", "--since", "yesterday"]);
    assert_eq!(code, 125);
    assert!(err.contains("--since"), "{err}");
}

#[test]
fn a_follower_sees_new_events_and_ends_on_sigint() {
    let env = new_env("evfollow");
    env.rpod_ok(&["images"]);
    let mut child = env
        .cmd(&["events", "--format", "{{.Type}} {{.Status}} {{.Name}}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    // An event written before the follower started is not shown (podman
    // streams from the end); one written after is, at once.
    std::thread::sleep(Duration::from_millis(500));
    env.rpod_ok(&["pull", "-q", "alpine"]);
    let got = rx.recv_timeout(Duration::from_secs(10)).expect("an event");
    assert_eq!(got, "image pull alpine");
    env.rpod_ok(&["tag", "alpine", "x:1"]);
    let got = rx.recv_timeout(Duration::from_secs(10)).expect("an event");
    assert!(got.starts_with("image tag "), "{got}");
    // SIGINT ends it cleanly (exit 0), promptly. runuser exec'd env,
    // which exec'd rpod: rpod is runuser's child.
    let t = Instant::now();
    let st = std::process::Command::new("pkill")
        .args(["-INT", "-P", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let st = child.wait().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(st.success(), "{st:?}");
    // A reader that goes away ends a follower at once (exit 0), without
    // waiting for another event to write.
    let out = env.sh_ok(
        "( timeout 10 rpod events --format '{{.Status}}' | head -1; echo \"rc=${PIPESTATUS[0]}\" ) & \
         sleep 0.5; rpod tag alpine y:1; wait; echo done",
    );
    assert_eq!(out, "tag\nrc=0\ndone\n");
}

#[test]
fn concurrent_emitters_write_whole_lines() {
    let env = env_with_alpine("evconc");
    env.sh_ok(
        "for i in 1 2 3 4 5 6 7 8; do rpod create --name c$i alpine true >/dev/null & done; wait",
    );
    let text = env.sh_ok(&format!("cat {}", log_path(&env).display()));
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{l}: {e}"));
    }
    assert_eq!(seq(&env, &["event=create"]).len(), 8);
}

#[test]
fn rotation_keeps_the_newest() {
    let env = new_env("evrot");
    let conf = env.home.join(".config/containers/containers.conf");
    env.sh_ok(&format!(
        "printf '[engine]\\nevents_logfile_max_size = \"4k\"\\n' > {}",
        conf.display()
    ));
    env.rpod_ok(&["pull", "-q", "alpine"]);
    for i in 0..40 {
        env.rpod_ok(&["tag", "alpine", &format!("t{i:02}:1")]);
    }
    let size = std::fs::metadata(log_path(&env)).unwrap().len();
    assert!(size < 4096, "{size}");
    let all = env.rpod_ok(&[
        "events",
        "--stream=false",
        "--format",
        "{{.Type}} {{.Status}} {{.Name}}",
    ]);
    let last = all.lines().last().unwrap();
    assert_eq!(last, "image tag localhost/t39:1", "{all}");
    assert!(all.contains("system log-rotation "), "{all}");
    assert!(!all.contains("/t00:1"), "{all}");
    // What remains is whole lines, the newest ones in order.
    let tags: Vec<u32> = all
        .lines()
        .filter_map(|l| l.strip_prefix("image tag localhost/t"))
        .map(|t| t[..2].parse().unwrap())
        .collect();
    assert!(tags.windows(2).all(|w| w[1] == w[0] + 1), "{tags:?}");
}

#[test]
fn logger_none_writes_nothing_and_journald_is_a_clear_error() {
    let env = new_env("evnone");
    let conf = env.home.join(".config/containers/containers.conf");
    env.sh_ok(&format!(
        "printf '[engine]\\nevents_logger = \"none\"\\n' > {}",
        conf.display()
    ));
    env.rpod_ok(&["pull", "-q", "alpine"]);
    env.rpod_ok(&["run", "--rm", "alpine", "true"]);
    assert!(!log_path(&env).exists());
    assert_eq!(env.rpod_ok(&["events", "--stream=false"]), "");
    env.sh_ok(&format!(
        "printf '[engine]\\nevents_logger = \"journald\"\\n' > {}",
        conf.display()
    ));
    // Commands still work; `events` says why it can't.
    env.rpod_ok(&["run", "--rm", "alpine", "true"]);
    let (code, err) = env.rpod_fail(&["events", "--stream=false"]);
    assert_eq!(code, 125);
    assert!(err.contains("journald"), "{err}");
    // events_logfile_path moves the log.
    let other = env.home.join("ev/mine.log");
    env.sh_ok(&format!(
        "printf '[engine]\\nevents_logfile_path = \"{}\"\\n' > {}",
        other.display(),
        conf.display()
    ));
    env.rpod_ok(&["tag", "alpine", "moved:1"]);
    assert!(env
        .sh_ok(&format!("cat {}", other.display()))
        .contains("\"Status\":\"tag\""));
    assert_eq!(seq(&env, &[]), ["image tag"]);
}

#[test]
fn exec_kill_and_system_events() {
    let env = env_with_alpine("evexec");
    env.rpod_ok(&["run", "-d", "--name", "k", "alpine", "sleep", "100"]);
    env.rpod_ok(&["exec", "k", "true"]);
    env.rpod_ok(&["kill", "k"]);
    env.rpod_ok(&["wait", "k"]);
    let s = env.rpod_ok(&[
        "system",
        "events",
        "--stream=false",
        "--filter",
        "container=k",
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(
        s.split_whitespace().collect::<Vec<_>>(),
        [
            "create",
            "init",
            "start",
            "exec",
            "exec_died",
            "kill",
            "died",
            "cleanup"
        ]
    );
    let died = json_lines(&env, &["--filter", "event=died"]);
    assert_eq!(died[0]["ContainerExitCode"], 137);
}

#[test]
fn a_stream_with_until_prints_the_range_and_ends_then() {
    let env = new_env("evuntil");
    write_log(&env, &[vol_line("old", "2026-01-01T00:00:00Z")]);
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let t = Instant::now();
    let out = env.rpod_ok(&[
        "events",
        "--until",
        &until.to_string(),
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(out, "old\n");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "{took:?}"
    );
}

#[test]
fn a_follower_keeps_up_across_rotations_without_repeats() {
    let env = env_with_alpine("evfrot");
    let conf = env.home.join(".config/containers/containers.conf");
    env.sh_ok(&format!(
        "printf '[engine]\\nevents_logfile_max_size = \"2k\"\\n' > {}",
        conf.display()
    ));
    let mut child = env
        .cmd(&[
            "events",
            "--filter",
            "type=image",
            "--format",
            "{{.Status}} {{.Name}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..30 {
        env.rpod_ok(&["tag", "alpine", &format!("r{i:02}:1")]);
    }
    let mut got = Vec::new();
    while got.len() < 30 {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => got.push(l),
            Err(_) => break,
        }
    }
    let _ = std::process::Command::new("pkill")
        .args(["-INT", "-P", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let want: Vec<String> = (0..30)
        .map(|i| format!("tag localhost/r{i:02}:1"))
        .collect();
    assert_eq!(got, want);
    // The log was rotated meanwhile (more than once: 30 tags are ~5k).
    let log = env.sh_ok(&format!("cat {}", log_path(&env).display()));
    assert!(log.contains("log-rotation"), "{log}");
}

#[test]
fn a_failing_event_write_never_fails_the_command() {
    let env = env_with_alpine("evfail");
    // The events dir is a file: no event can be written.
    env.sh_ok(&format!(
        "rm -rf {d} && touch {d}",
        d = run_root(&env).join("events").display()
    ));
    env.rpod_ok(&["run", "--rm", "alpine", "true"]);
    env.rpod_ok(&["tag", "alpine", "still:1"]);
    let (code, err) = env.rpod_fail(&["events", "--stream=false"]);
    assert_eq!(code, 125, "{err}");
    // The reason is there at debug level.
    let o = env.rpod(&["--log-level", "debug", "tag", "alpine", "again:1"]);
    assert!(o.status.success());
    assert!(err_text(&o).contains("events"), "{}", err_text(&o));
}

fn err_text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The events written since `before` events were in the log, as JSON.
fn since(env: &Env, before: usize) -> Vec<serde_json::Value> {
    json_lines(env, &[]).into_iter().skip(before).collect()
}

/// `TYPE STATUS NAME ID` of events, for comparing with podman's.
fn brief(evs: &[serde_json::Value]) -> Vec<String> {
    evs.iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("-").to_string();
            format!("{} {} {} {}", s("Type"), s("Status"), s("Name"), s("ID"))
        })
        .collect()
}

#[test]
fn volume_create_rm_prune_are_podmans_events() {
    let env = new_env("evvol");
    env.rpod_ok(&["volume", "create", "v1"]);
    env.rpod_ok(&["volume", "create", "v2"]);
    env.rpod_ok(&["volume", "rm", "v1"]);
    env.rpod_ok(&["volume", "prune", "-f"]);
    // podman 4.3.1: create, create, remove; prune writes remove then prune.
    let evs = since(&env, 0);
    assert_eq!(
        brief(&evs),
        [
            "volume create v1 -",
            "volume create v2 -",
            "volume remove v1 -",
            "volume remove v2 -",
            "volume prune v2 -"
        ]
    );
    // Name, Status, Time, Type and null Attributes: nothing else.
    for e in &evs {
        assert_eq!(e.as_object().unwrap().len(), 5, "{e}");
        assert!(e["Attributes"].is_null(), "{e}");
    }
}

#[test]
fn pause_and_unpause_are_container_events() {
    let env = env_with_alpine("evpause");
    let _r = Reaper(&env);
    let id = env.rpod_ok(&["run", "-d", "--name", "pz", "alpine", "sleep", "100"]);
    let id = id.trim();
    let before = json_lines(&env, &[]).len();
    env.rpod_ok(&["pause", "pz"]);
    env.rpod_ok(&["unpause", "pz"]);
    let evs = since(&env, before);
    assert_eq!(
        brief(&evs),
        [
            format!("container pause pz {id}"),
            format!("container unpause pz {id}")
        ]
    );
    assert!(evs
        .iter()
        .all(|e| e["Image"] == "localhost:5000/alpine:latest"));
    // A failed pause (not paused: unpause) writes nothing.
    env.rpod_fail(&["unpause", "pz"]);
    assert_eq!(since(&env, before).len(), 2);
}

#[test]
fn save_load_import_push_are_image_events() {
    let env = env_with_alpine("evimg");
    let id = env
        .rpod_ok(&["image", "inspect", "--format", "{{.Id}}", "alpine"])
        .trim()
        .to_string();
    let tar = env.home.join("s.tar");
    let tar = tar.to_str().unwrap();
    let oci = format!("oci-archive:{}", env.home.join("o.tar").display());
    let reg = format!("{}/evimg-push", world().registry());
    let before = json_lines(&env, &[]).len();
    env.rpod_ok(&["save", "-q", "-o", tar, "alpine"]);
    env.rpod_ok(&["push", "-q", "alpine", &oci]);
    env.rpod_ok(&["push", "-q", "--tls-verify=false", "alpine", &reg]);
    env.rpod_ok(&["load", "-q", "-i", tar]);
    // podman 4.3.1: save names the archive, load has no id, push names
    // the destination as given.
    assert_eq!(
        brief(&since(&env, before)),
        [
            format!("image save {tar} {id}"),
            format!("image push {oci} {id}"),
            format!("image push {reg} {id}"),
            format!("image loadfromarchive {tar} -"),
        ]
    );
    // import: podman tags the new image with the name as given.
    env.sh_ok("mkdir -p r && echo x > r/f && tar -cf r.tar -C r .");
    let before = json_lines(&env, &[]).len();
    let new = env.rpod_ok(&["import", "-q", "r.tar", "imp1"]);
    let new = new.trim().trim_start_matches("sha256:");
    assert_eq!(
        brief(&since(&env, before)),
        [format!("image tag imp1 {new}")]
    );
    // Without a name, nothing.
    env.rpod_ok(&["import", "-q", "r.tar"]);
    assert_eq!(since(&env, before).len(), 1);
}

#[test]
fn commit_export_cp_are_podmans_container_events() {
    let env = env_with_alpine("evcommit");
    let _r = Reaper(&env);
    let id = env.rpod_ok(&["create", "--name", "cm", "alpine", "true"]);
    let id = id.trim();
    let before = json_lines(&env, &[]).len();
    // podman 4.3.1 writes nothing for cp either way.
    env.sh_ok("echo hi > f");
    env.rpod_ok(&["cp", "f", "cm:/f"]);
    env.rpod_ok(&["cp", "cm:/f", "g"]);
    assert_eq!(since(&env, before).len(), 0);
    env.rpod_ok(&["export", "-o", "e.tar", "cm"]);
    env.rpod_ok(&["commit", "-q", "cm", "committed"]);
    assert_eq!(
        brief(&since(&env, before)),
        [
            format!("container mount cm {id}"),
            format!("container commit cm {id}")
        ]
    );
}

#[test]
fn system_renumber_is_a_system_event_and_migrate_none() {
    let env = new_env("evsys");
    env.rpod_ok(&["system", "migrate"]);
    env.rpod_ok(&["system", "renumber"]);
    let evs = since(&env, 0);
    assert_eq!(brief(&evs), ["system renumber - -"]);
    assert_eq!(evs[0].as_object().unwrap().len(), 4, "{:?}", evs[0]);
}
