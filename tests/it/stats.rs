//! `stats`, `pause`/`unpause` and `top`'s descriptors, as the unprivileged
//! user on a host where rootless podman has no cgroup (and refuses both):
//! the numbers come from /proc and are checked against /proc read here,
//! and a paused busy loop is checked to really stop using CPU.

use crate::common::*;
use std::collections::HashSet;
use std::time::Duration;

/// Host pids of the processes in the PID namespace of `init`.
fn ns_pids(init: u32) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let ns = |p: u32| {
        std::fs::metadata(format!("/proc/{p}/ns/pid"))
            .ok()
            .map(|m| m.ino())
    };
    let want = ns(init).expect("the container's init");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| ns(*p) == Some(want))
        .collect()
}

fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let t = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = t.rsplit_once(')')?;
    Some(rest.split_whitespace().map(String::from).collect())
}

/// utime+stime of the processes with `marker` in their command line.
fn cpu_ticks(marker: &str) -> u64 {
    procs_with(marker)
        .iter()
        .filter_map(|l| l.split(':').next()?.parse::<u32>().ok())
        .filter_map(stat_fields)
        .map(|f| f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap())
        .sum()
}

fn init_pid(env: &Env, ctr: &str) -> u32 {
    field(env, ctr, "{{.State.Pid}}").parse().unwrap()
}

fn stats_field(env: &Env, ctr: &str, tmpl: &str) -> String {
    env.rpod_ok(&["stats", "--no-stream", "--format", tmpl, ctr])
        .trim()
        .to_string()
}

#[test]
fn stats_from_proc_match_proc() {
    let env = env_with_alpine("stats");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "alpine",
        "sh",
        "-c",
        "while :; do :; done; echo 5151001",
    ]);
    env.rpod_ok(&["run", "-d", "--name", "idle", "alpine", "sleep", "5151002"]);
    // dd holds its 50 MB block while its write to the pipe blocks.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "mem",
        "alpine",
        "sh",
        "-c",
        "dd if=/dev/zero bs=50M count=1 | sleep 5151003",
    ]);
    std::thread::sleep(Duration::from_secs(2));

    // The default table: podman's columns, one row per running container.
    let table = env.rpod_ok(&["stats", "--no-stream"]);
    let mut lines = table.lines();
    let head = lines.next().unwrap();
    for col in [
        "ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET IO",
        "BLOCK IO",
        "PIDS",
        "CPU TIME",
        "AVG CPU %",
    ] {
        assert!(head.contains(col), "{col} missing in {head:?}");
    }
    assert_eq!(lines.count(), 3, "{table}");
    assert!(table.contains(" / "), "{table}");

    // CPU: the busy loop's CPU time is what /proc says (read before and
    // after, in clock ticks), and it uses a core (on a machine that has
    // one to spare: these are shared with other jobs), a sleep nothing.
    let tick = 1_000_000_000
        / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .unwrap()
            .unwrap() as u64;
    let before = cpu_ticks("5151001") * tick;
    let v = stats_field(&env, "busy", "{{.CPUNano}} {{.CPU}} {{.AvgCPU}}");
    let after = cpu_ticks("5151001") * tick;
    let f: Vec<f64> = v.split(' ').map(|x| x.parse().unwrap()).collect();
    let nano = f[0] as u64;
    assert!(
        nano + tick >= before && nano <= after + tick,
        "CPU time {nano} ns, /proc {before}..{after}"
    );
    // The first report measures from the start, as podman's.
    assert_eq!(f[1], f[2]);
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let cpus = std::thread::available_parallelism().unwrap().get() as f64;
    let floor = if load < cpus - 0.5 { 50.0 } else { 5.0 };
    assert!(f[1] > floor, "busy loop at {} % (load {load})", f[1]);
    let idle: f64 = stats_field(&env, "idle", "{{.CPU}}").parse().unwrap();
    assert!(idle < 2.0, "sleep at {idle} %");

    // Memory: within 10 % of the RSS /proc shows for the container's
    // processes (the 50 MB block dominates both).
    let init = init_pid(&env, "mem");
    let pids = ns_pids(init);
    let rss: u64 = pids
        .iter()
        .filter_map(|p| stat_fields(*p))
        .map(|f| f[21].parse::<u64>().unwrap() * 4096)
        .sum();
    let usage: u64 = stats_field(&env, "mem", "{{.ContainerStats.MemUsage}}")
        .parse()
        .unwrap();
    assert!(rss > 50_000_000, "dd holds 50 MB: rss {rss}");
    let diff = (usage as f64 - rss as f64).abs() / rss as f64;
    assert!(diff < 0.10, "stats says {usage} bytes, /proc {rss}");
    // PIDS: the processes of its PID namespace.
    let n: usize = stats_field(&env, "mem", "{{.PIDS}}").parse().unwrap();
    assert_eq!(n, pids.len());
    assert_eq!(n, 3, "sh, dd, sleep");
    let mem_usage = stats_field(&env, "mem", "{{.MemUsage}}");
    assert!(mem_usage.contains("MB / "), "{mem_usage}");

    // JSON: podman's keys, and where the numbers came from.
    let j: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["stats", "--no-stream", "--format", "json", "idle"]))
            .unwrap();
    let row = &j.as_array().unwrap()[0];
    for k in [
        "id",
        "name",
        "cpu_time",
        "cpu_percent",
        "avg_cpu",
        "mem_usage",
        "mem_percent",
        "net_io",
        "block_io",
        "pids",
    ] {
        assert!(row.get(k).is_some(), "{k} missing in {row}");
    }
    assert_eq!(row["name"], "idle");
    assert_eq!(row["pids"], "1");
    // No delegated cgroup here (and none without limits anyway).
    assert_eq!(row["source"], "proc");
    let src = stats_field(&env, "idle", "{{.Source}} {{.ContainerID}}");
    assert!(src.starts_with("proc "), "{src}");

    // A stopped container shows zeros with -a, and is left out without.
    env.rpod_ok(&["stop", "-t", "0", "idle"]);
    let all = env.rpod_ok(&[
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}} {{.PIDS}}",
    ]);
    assert!(all.lines().any(|l| l == "idle 0"), "{all}");
    let running = env.rpod_ok(&["stats", "--no-stream", "--format", "{{.Name}}"]);
    assert!(!running.contains("idle"), "{running}");

    // Bad input.
    let (code, e) = env.rpod_fail(&["stats", "--no-stream", "-a", "busy"]);
    assert_eq!(code, 125);
    assert!(e.contains("cannot be used together"), "{e}");
    let (code, e) = env.rpod_fail(&["stats", "--no-stream", "nosuch"]);
    assert_eq!(code, 125);
    assert!(e.contains("no such container"), "{e}");

    env.rpod_ok(&["rm", "-f", "-t", "0", "busy", "mem", "idle"]);
    assert_clean(&env, &["5151001", "5151002", "5151003"]);
}

#[test]
fn stats_streams_until_interrupted() {
    let env = env_with_alpine("statstream");
    env.rpod_ok(&["run", "-d", "--name", "s", "alpine", "sleep", "5151004"]);
    let mut c = env.cmd(&["stats", "-i", "1", "--format", "{{.Name}} {{.PIDS}}", "s"]);
    c.stdout(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    // ^C reaches rpod (runuser's child) as it would from a terminal.
    let rpod = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|p| stat_fields(*p).is_some_and(|f| f[1] == child.id().to_string()))
        .expect("rpod under runuser");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(rpod as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().filter(|l| *l == "s 1").count() >= 2,
        "at least two reports: {text:?}"
    );
    // Ended by the signal, cleanly (no partial line, exit 0).
    assert!(text.ends_with('\n'), "{text:?}");
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    // A closed pipe ends it too, as success.
    let o = env.sh_ok("rpod stats -i 1 s | head -c 10 >/dev/null; echo ${PIPESTATUS[0]}");
    assert_eq!(o.trim(), "0");
    env.rpod_ok(&["rm", "-f", "-t", "0", "s"]);
    assert_clean(&env, &["5151004"]);
}

#[test]
fn pause_stops_a_busy_loop_and_unpause_resumes_it() {
    let env = env_with_alpine("pause");
    let marker = "5151005";
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "p",
        "alpine",
        "sh",
        "-c",
        &format!("sh -c 'while :; do :; done; echo {marker}' & while :; do :; done; echo {marker}"),
    ]);
    assert!(eventually(5, || procs_with(marker).len() == 2));
    let init = init_pid(&env, "p");
    assert_eq!(env.rpod_ok(&["pause", "p"]).trim(), "p");

    // Every process is stopped, and no CPU time is used while paused.
    for p in ns_pids(init) {
        let f = stat_fields(p).unwrap();
        assert_eq!(f[0], "T", "pid {p} is not stopped");
    }
    let before = cpu_ticks(marker);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(cpu_ticks(marker), before, "CPU time grew while paused");

    // Seen as paused everywhere.
    assert_eq!(field(&env, "p", "{{.State.Status}}"), "paused");
    assert_eq!(field(&env, "p", "{{.State.Paused}}"), "true");
    assert_eq!(field(&env, "p", "{{.State.Running}}"), "false");
    let ps = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.lines().any(|l| l == "p Paused"), "{ps}");
    let running = env.rpod_ok(&["ps", "--format", "{{.Names}}"]);
    assert!(!running.contains('p'), "ps lists running only: {running}");
    let filtered = env.rpod_ok(&["ps", "--filter", "status=paused", "--format", "{{.Names}}"]);
    assert_eq!(filtered.trim(), "p");
    // Stats still read a paused container.
    assert_eq!(stats_field(&env, "p", "{{.PIDS}}"), "2");

    // podman's refusals.
    // exec of a container that does not run: podman's 255.
    let (code, e) = env.rpod_fail(&["exec", "p", "true"]);
    assert_eq!(code, 255);
    assert!(
        e.contains("can only create exec sessions on running containers"),
        "{e}"
    );
    let (code, e) = env.rpod_fail(&["pause", "p"]);
    assert_eq!(code, 125);
    assert!(e.contains("is already paused"), "{e}");
    let (code, e) = env.rpod_fail(&["start", "p"]);
    assert_eq!(code, 125);
    assert!(e.contains("must be in Created or Stopped state"), "{e}");
    let (_, e) = env.rpod_fail(&["attach", "p"]);
    assert!(
        e.contains("you can only attach to running containers"),
        "{e}"
    );

    // Unpause: it runs again.
    env.rpod_ok(&["unpause", "p"]);
    assert_eq!(field(&env, "p", "{{.State.Status}}"), "running");
    let before = cpu_ticks(marker);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        cpu_ticks(marker) > before,
        "CPU time did not grow after unpause"
    );
    let (_, e) = env.rpod_fail(&["unpause", "p"]);
    assert!(e.contains("is not paused"), "{e}");

    // Stop a paused container: the signal is handled (here the shell as
    // PID 1 ignores SIGTERM, so SIGKILL after the timeout), and the
    // monitor records the exit.
    env.rpod_ok(&["pause", "p"]);
    env.rpod_ok(&["stop", "-t", "1", "p"]);
    assert_eq!(field(&env, "p", "{{.State.Status}}"), "exited");
    env.rpod_ok(&["rm", "p"]);
    assert_clean(&env, &[marker]);
}

#[test]
fn paused_containers_stop_rm_and_pause_all() {
    let env = env_with_alpine("pauseall");
    // With an init that handles SIGTERM, stop of a paused container is quick.
    env.rpod_ok(&[
        "run", "-d", "--init", "--name", "a", "alpine", "sleep", "5151006",
    ]);
    env.rpod_ok(&["run", "-d", "--name", "b", "alpine", "sleep", "5151007"]);
    env.rpod_ok(&["create", "--name", "c", "alpine", "true"]);
    let out = env.rpod_ok(&["pause", "--all"]);
    let mut ids: Vec<&str> = out.lines().collect();
    ids.sort();
    assert_eq!(ids.len(), 2, "only running containers: {out}");
    let ps = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    for l in ["a paused", "b paused", "c created"] {
        assert!(ps.lines().any(|x| x == l), "{l} in {ps}");
    }
    let (code, e) = env.rpod_fail(&["pause", "c"]);
    assert_eq!(code, 125);
    assert!(e.contains("is not running, can't pause"), "{e}");

    env.rpod_ok(&["unpause", "--filter", "name=b"]);
    assert_eq!(field(&env, "b", "{{.State.Status}}"), "running");
    env.rpod_ok(&["pause", "b"]);

    let t = std::time::Instant::now();
    env.rpod_ok(&["stop", "a"]);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(field(&env, "a", "{{.State.Status}}"), "exited");
    // kill: delivered (SIGKILL needs no continuing).
    env.rpod_ok(&["kill", "b"]);
    assert!(eventually(5, || field(&env, "b", "{{.State.Status}}") == "exited"));
    env.rpod_ok(&["start", "b"]);
    env.rpod_ok(&["pause", "b"]);
    // rm -f of a paused container.
    env.rpod_ok(&["rm", "-f", "-t", "1", "b"]);
    env.rpod_ok(&["rm", "a", "c"]);
    assert_clean(&env, &["5151006", "5151007"]);
}

#[test]
fn top_takes_podmans_descriptors() {
    let env = env_with_alpine("topdesc");
    env.rpod_ok(&["run", "-d", "--name", "t", "alpine", "sleep", "5151008"]);
    let out = env.rpod_ok(&[
        "top", "t", "pid", "user", "comm", "args", "hpid", "huser", "capeff", "seccomp", "state",
        "nice", "ppid", "label",
    ]);
    let mut lines = out.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        [
            "PID",
            "USER",
            "COMMAND",
            "COMMAND",
            "HPID",
            "HUSER",
            "EFFECTIVE",
            "CAPS",
            "SECCOMP",
            "STATE",
            "NI",
            "PPID",
            "LABEL"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let init = init_pid(&env, "t");
    assert_eq!(row[0], "1");
    assert_eq!(row[1], "root");
    assert_eq!(row[2], "sleep");
    assert_eq!(row[3..5], ["sleep", "5151008"]);
    assert_eq!(row[5], init.to_string());
    // Podman's default capabilities, by name, and the seccomp filter.
    let caps: HashSet<&str> = row[7].split(',').collect();
    assert!(
        caps.contains("CHOWN") && caps.contains("NET_BIND_SERVICE"),
        "{row:?}"
    );
    assert!(!caps.contains("SYS_ADMIN"), "{row:?}");
    assert_eq!(row[8], "filter");
    assert_eq!(row[9], "S");
    // Comma-separated too; a bad one is refused.
    let out = env.rpod_ok(&["top", "t", "pid,capbnd"]);
    assert!(out.starts_with("PID"), "{out}");
    // Anything else is ps(1) options, run inside the container (podman's
    // fallback), without the line of that ps itself.
    let out = env.rpod_ok(&["top", "t", "-o", "pid,args"]);
    assert!(out.lines().any(|l| l.contains("sleep 5151008")), "{out}");
    assert!(!out.contains("ps -o"), "{out}");
    env.rpod_ok(&["pause", "t"]);
    let (code, e) = env.rpod_fail(&["top", "t", "aux"]);
    assert_eq!(code, 125);
    assert!(e.contains("can only create exec sessions"), "{e}");
    // psgo's own descriptors still read /proc, paused or not.
    let out = env.rpod_ok(&["top", "t", "pid", "state"]);
    assert!(
        out.lines().any(|l| l.split_whitespace().eq(["1", "T"])),
        "{out}"
    );
    env.rpod_ok(&["unpause", "t"]);
    env.rpod_ok(&["rm", "-f", "-t", "0", "t"]);
    assert_clean(&env, &["5151008"]);
}

#[test]
fn pause_holds_a_container_that_keeps_forking() {
    let env = env_with_alpine("pausefork");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "f",
        "alpine",
        "sh",
        "-c",
        "while :; do (sleep 0.05; echo 5151009 >/dev/null) & done",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    let init = init_pid(&env, "f");
    env.rpod_ok(&["pause", "f"]);
    // Every process is stopped (or a zombie not yet reaped), and no new one
    // appears: a fork in flight when the pause began was caught too.
    let states = |pids: &[u32]| -> Vec<String> {
        pids.iter()
            .filter_map(|p| stat_fields(*p))
            .map(|f| f[0].clone())
            .collect()
    };
    let first = ns_pids(init);
    assert!(
        states(&first).iter().all(|s| s == "T" || s == "Z"),
        "{:?}",
        states(&first)
    );
    std::thread::sleep(Duration::from_secs(1));
    let later: HashSet<u32> = ns_pids(init).into_iter().collect();
    let first: HashSet<u32> = first.into_iter().collect();
    assert!(
        later.is_subset(&first),
        "new processes while paused: {:?}",
        later.difference(&first)
    );
    env.rpod_ok(&["unpause", "f"]);
    assert!(eventually(5, || ns_pids(init)
        .into_iter()
        .any(|p| !first.contains(&p))));
    env.rpod_ok(&["rm", "-f", "-t", "0", "f"]);
    assert_clean(&env, &["5151009"]);
}
