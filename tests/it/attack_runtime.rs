//! Attacks on the runtime's escape classes (issue 9): a working directory
//! through a leaked fd (CVE-2024-21626), the rpod binary seen from inside
//! (CVE-2019-5736), fds reaching the container's program, sysctls outside
//! the container's namespaces, exec without the container's seccomp filter,
//! and the powercap side channel. Each attack checks that nothing outside the
//! container was read or written, and that the error names what is at fault.

use crate::common;
use crate::common::Env;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SECRET: &str = "HOST-SECRET-8f3a1c";

/// Canary files on the host side: a secret at every level above the
/// container's run dir (where a leaked run-dir fd would put its cwd).
fn plant_secrets(env: &Env) -> Vec<PathBuf> {
    let run = common::run_root(env);
    let mut dirs = vec![env.dir.clone(), env.runtime_dir.clone(), run.clone()];
    dirs.push(run.join("containers"));
    let mut out = Vec::new();
    for d in dirs {
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("secret-canary");
        std::fs::write(&f, SECRET).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        out.push(f);
    }
    let _ = std::process::Command::new("chown")
        .args([
            "-R",
            &format!("{}:", env.user),
            env.runtime_dir.to_str().unwrap(),
        ])
        .status();
    out
}

/// Canaries the container may have written outside itself: any file named
/// `canary-*` in the Env's dir but outside the image store (the container's
/// own upper dir lives there).
fn escaped_canaries(env: &Env) -> Vec<String> {
    let out = std::process::Command::new("find")
        .arg(&env.dir)
        .args([
            "-name",
            "canary-*",
            "-not",
            "-path",
            "*/.local/share/rpod/*",
        ])
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    for top in ["/tmp", "/"] {
        for e in std::fs::read_dir(top).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("canary-rt9") {
                v.push(e.path().display().to_string());
            }
        }
    }
    v
}

/// The container's attempt: at every level up from its cwd, read the
/// secret and leave a canary.
fn climb(tag: &str) -> String {
    format!(
        "pwd; for i in 1 2 3 4 5 6 7 8 9 10; do cat secret-canary 2>/dev/null; \
         touch canary-rt9-{tag} 2>/dev/null; cd .. 2>/dev/null; done; true"
    )
}

/// A run either refused with the clear cwd error, or ran with its cwd
/// inside the container; the host saw nothing.
fn judge(
    env: &Env,
    what: &str,
    code: Option<i32>,
    stdout: &str,
    stderr: &str,
    secrets: &[PathBuf],
) {
    assert!(
        !stdout.contains(SECRET),
        "{what}: read a host file\n{stdout}"
    );
    assert!(
        !stdout.contains("(unreachable)"),
        "{what}: cwd outside the container\n{stdout}"
    );
    match code {
        Some(0) => {}
        Some(c) => {
            // 125: rpod refused to set the directory up; 126: the process
            // could not be started in it.
            assert!(
                c == 125 || c == 126,
                "{what}: exit code {c}\nstdout: {stdout}\nstderr: {stderr}"
            );
            let text = format!("{stdout}{stderr}");
            let line = text
                .lines()
                .find(|l| l.contains("Error"))
                .unwrap_or_else(|| panic!("{what}: no error line in {text:?}"));
            assert!(
                line.contains("/proc/self/fd/") && line.contains("cwd")
                    || line.contains("working directory"),
                "{what}: the error names the working directory: {line}"
            );
        }
        None => panic!("{what}: killed by a signal"),
    }
    let esc = escaped_canaries(env);
    assert!(
        esc.is_empty(),
        "{what}: wrote outside the container: {esc:?}"
    );
    for s in secrets {
        assert_eq!(
            std::fs::read_to_string(s).unwrap(),
            SECRET,
            "{what}: {s:?} modified"
        );
    }
}

#[test]
fn workdir_through_a_leaked_fd_stays_inside() {
    let env = common::env_with_alpine("a9cwd");
    let secrets = plant_secrets(&env);
    for n in 3..=10 {
        let wd = format!("/proc/self/fd/{n}");
        let what = format!("run -w {wd}");
        let out = env.rpod(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-w",
            &wd,
            "alpine",
            "sh",
            "-c",
            &climb(&format!("w{n}")),
        ]);
        judge(
            &env,
            &what,
            out.status.code(),
            &common::out(&out),
            &common::err(&out),
            &secrets,
        );
        if out.status.code() != Some(0) {
            // One line, podman's style.
            assert_eq!(
                common::err(&out).trim_end().lines().count(),
                1,
                "{what}: {}",
                common::err(&out)
            );
        }
    }
}

#[test]
fn workdir_through_a_leaked_fd_with_a_terminal() {
    let env = common::env_with_alpine("a9cwdt");
    let secrets = plant_secrets(&env);
    for n in 3..=10 {
        let wd = format!("/proc/self/fd/{n}");
        let what = format!("run -t -w {wd}");
        // script gives rpod a terminal; -e passes rpod's exit code on.
        let out = env.sh(&format!(
            "script -qec \"rpod run --rm -t --network none -w {wd} alpine sh -c '{}'\" /dev/null </dev/null",
            climb(&format!("t{n}"))
        ));
        judge(
            &env,
            &what,
            out.status.code(),
            &common::out(&out),
            &common::err(&out),
            &secrets,
        );
    }
}

#[test]
fn image_workdir_through_a_leaked_fd() {
    let img = common::push_image(
        "cwdfd",
        "config['WorkingDir'] = '/proc/self/fd/7'\nconfig['Cmd'] = ['/bin/sh', '-c', 'pwd; cat ../../secret-canary; touch ../../../canary-rt9-img']",
    );
    let env = common::new_env("a9cwdimg");
    env.rpod_ok(&["pull", "-q", &img]);
    let secrets = plant_secrets(&env);
    let out = env.rpod(&["run", "--rm", "--network", "none", &img]);
    judge(
        &env,
        "image WorkingDir /proc/self/fd/7",
        out.status.code(),
        &common::out(&out),
        &common::err(&out),
        &secrets,
    );
    // With -t too (the monitor's console path).
    let out = env.sh(&format!(
        "script -qec 'rpod run --rm -t --network none {img}' /dev/null </dev/null"
    ));
    judge(
        &env,
        "image WorkingDir /proc/self/fd/7, -t",
        out.status.code(),
        &common::out(&out),
        &common::err(&out),
        &secrets,
    );
}

#[test]
fn exec_workdir_through_a_leaked_fd() {
    let env = common::env_with_alpine("a9cwdex");
    let secrets = plant_secrets(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        "--network",
        "none",
        "alpine",
        "sleep",
        "60",
    ]);
    for n in 3..=10 {
        let wd = format!("/proc/self/fd/{n}");
        let what = format!("exec -w {wd}");
        let out = env.rpod(&[
            "exec",
            "-w",
            &wd,
            "ex",
            "sh",
            "-c",
            &climb(&format!("e{n}")),
        ]);
        judge(
            &env,
            &what,
            out.status.code(),
            &common::out(&out),
            &common::err(&out),
            &secrets,
        );
    }
    // A /proc magic link that exists is never followed: refused with 126.
    for wd in ["/proc/self/fd/1", "/proc/1/cwd", "/proc/self/root"] {
        let (code, err) = env.rpod_fail(&["exec", "-w", wd, "ex", "pwd"]);
        assert_eq!(code, 126, "exec -w {wd}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("working directory {wd}")), "{err}");
    }
    env.rpod_ok(&["rm", "-f", "-t", "0", "ex"]);
}

/// fds the container's process holds at execve: stdio only, plus the
/// directory `ls` opens to list /proc/self/fd (the lowest free number, 3).
#[test]
fn only_stdio_reaches_the_container_program() {
    let env = common::env_with_alpine("a9fds");
    let fds = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_string).collect() };
    let want = vec!["0", "1", "2", "3"];
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "alpine",
        "ls",
        "/proc/self/fd",
    ]);
    assert_eq!(fds(&out), want, "run");
    let out = env.sh_ok(
        "script -qec 'rpod run --rm -t --network none alpine ls /proc/self/fd' /dev/null </dev/null",
    );
    assert_eq!(fds(&out), want, "run -t: {out:?}");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "fx",
        "--network",
        "none",
        "alpine",
        "sleep",
        "60",
    ]);
    let out = env.rpod_ok(&["exec", "fx", "ls", "/proc/self/fd"]);
    assert_eq!(fds(&out), want, "exec");
    let out = env.sh_ok("script -qec 'rpod exec -t fx ls /proc/self/fd' /dev/null </dev/null");
    assert_eq!(fds(&out), want, "exec -t: {out:?}");
    // PID 1 itself (sleep): 0, 1, 2 and nothing else.
    let out = env.rpod_ok(&["exec", "fx", "ls", "/proc/1/fd"]);
    assert_eq!(fds(&out), vec!["0", "1", "2"], "pid 1");
    env.rpod_ok(&["rm", "-f", "-t", "0", "fx"]);
}

/// A busybox bundle with `rpod oci spec --rootless` as config (as
/// tests/it/runtime.rs builds them), owned by the test user.
struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn new(env: &Env, name: &str) -> Bundle {
        let dir = env.dir.join(name);
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        for d in ["proc", "sys", "dev", "etc", "tmp"] {
            std::fs::create_dir_all(dir.join("rootfs").join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for applet in ["sh", "ls", "cat", "sleep", "true", "readlink", "head"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        let st = std::process::Command::new("chown")
            .args(["-R", &format!("{}:", env.user), dir.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success());
        env.rpod_ok(&[
            "oci",
            "spec",
            "--rootless",
            "--bundle",
            dir.to_str().unwrap(),
        ]);
        Bundle { dir }
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let path = self.dir.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn args(&self, args: &[&str]) {
        self.edit(|c| {
            c["process"]["terminal"] = json!(false);
            c["process"]["args"] = json!(args);
        });
    }

    fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

fn oci_root(env: &Env) -> String {
    env.runtime_dir.join("oci").display().to_string()
}

/// `rpod oci --root R ARGS` through the shell (stdout/stderr to files: a
/// container left running inherits them).
fn oci(env: &Env, args: &str) -> (Option<i32>, String, String) {
    let (o, e) = (env.dir.join("oci.out"), env.dir.join("oci.err"));
    let out = env.sh(&format!(
        "rpod oci --root {} {args} >{} 2>{}",
        oci_root(env),
        o.display(),
        e.display()
    ));
    (
        out.status.code(),
        std::fs::read_to_string(&o).unwrap_or_default(),
        std::fs::read_to_string(&e).unwrap_or_default(),
    )
}

#[test]
fn preserved_fds_and_nothing_else_reach_the_oci_process() {
    let env = Env::new("a9ocifd");
    let b = Bundle::new(&env, "b");
    b.args(&["ls", "/proc/self/fd"]);
    let fds = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_string).collect() };
    let (code, out, err) = oci(&env, &format!("run --bundle {} p0", b.path()));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(fds(&out), vec!["0", "1", "2", "3"]);
    // Two fds the caller passes on purpose (3, 4), and one it does not (5).
    let (code, out, err) = oci(
        &env,
        &format!(
            "run --preserve-fds 2 --bundle {} p2 3</dev/null 4</dev/null 5</dev/null",
            b.path()
        ),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        fds(&out),
        vec!["0", "1", "2", "3", "4", "5"],
        "3, 4 kept; 5 is ls's own"
    );
}

/// CVE-2019-5736: while `rpod exec` runs, a process in the container looks
/// for rpod processes among its /proc and tries to read their exe. It must
/// never manage to; the exe of PID 1 is the container's own program.
#[test]
fn rpod_binary_is_out_of_reach_from_inside() {
    let env = common::env_with_alpine("a9exe");
    // For every other process: if its exe can be opened and is not
    // busybox (the image's only program), that is a leak. A process whose
    // exe is refused while its status is readable is a non-dumpable rpod
    // helper: counted, to show the loop saw some.
    let watcher = "i=0; me=$$; bs=$(stat -c %s /bin/busybox); : >/tmp/seen; : >/tmp/leak; \
        while [ ! -e /tmp/stop ] && [ $i -lt 20000 ]; do i=$((i+1)); \
          for d in /proc/[0-9]*; do \
            [ $d = /proc/$me ] && continue; \
            if s=$(stat -L -c %s $d/exe 2>/dev/null); then \
              [ \"$s\" = \"$bs\" ] || echo \"$d $s\" >>/tmp/leak; \
            elif [ -r $d/status ] && ls -l $d/exe 2>&1 | grep -q denied; then echo $d >>/tmp/seen; \
            fi; \
            if echo x 2>/dev/null >>$d/exe; then echo w$d >>/tmp/leak; fi; \
          done; \
        done; touch /tmp/done; sleep 600";
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "w",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        watcher,
    ]);
    for _ in 0..40 {
        env.rpod_ok(&["exec", "w", "true"]);
    }
    env.rpod_ok(&["exec", "w", "touch", "/tmp/stop"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while env
        .rpod(&["exec", "w", "test", "-e", "/tmp/done"])
        .status
        .code()
        != Some(0)
    {
        assert!(Instant::now() < deadline, "the watcher never stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
    let seen = env.rpod_ok(&["exec", "w", "cat", "/tmp/seen"]);
    let leak = env.rpod_ok(&["exec", "w", "cat", "/tmp/leak"]);
    eprintln!("rpod processes seen from inside: {}", seen.lines().count());
    assert_eq!(leak, "", "read or wrote an rpod process's exe from inside");
    // PID 1 is the container's program (busybox), not rpod.
    let exe1 = env.rpod_ok(&["exec", "w", "readlink", "/proc/1/exe"]);
    assert_eq!(exe1.trim(), "/bin/busybox");
    env.rpod_ok(&["rm", "-f", "-t", "0", "w"]);
}

/// rpod installed where the user owns it (~/.local/bin): a container's
/// root (the user) could rewrite it through /proc/PID/exe of an rpod process
/// inside. A created (not started) container's init, which still runs rpod,
/// runs from a sealed memfd copy instead, and a process exec'd into the
/// container cannot write it; the binary on disk stays intact.
#[test]
fn created_init_runs_from_a_sealed_copy() {
    let env = Env::new("a9seal");
    let b = Bundle::new(&env, "b");
    b.args(&["sleep", "60"]);
    let local = env.home.join(".local/bin");
    std::fs::create_dir_all(&local).unwrap();
    let src = common::rpod_bin();
    for name in ["rpod", "rpod-monitor"] {
        std::fs::copy(src.with_file_name(name), local.join(name)).unwrap();
    }
    let st = std::process::Command::new("chown")
        .args([
            "-R",
            &format!("{}:", env.user),
            env.home.join(".local").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let mine = local.join("rpod");
    let before = std::fs::read(&mine).unwrap();
    let root = oci_root(&env);
    let run = |args: &str| {
        env.sh(&format!(
            "{} oci --root {root} {args} </dev/null >/dev/null 2>{}/err",
            mine.display(),
            env.dir.display()
        ))
    };
    let out = run(&format!("create --bundle {} c1", b.path()));
    assert!(
        out.status.success(),
        "{}",
        std::fs::read_to_string(env.dir.join("err")).unwrap()
    );
    let st: Value =
        serde_json::from_str(&env.sh_ok(&format!("{} oci --root {root} state c1", mine.display())))
            .unwrap();
    let pid = st["pid"].as_i64().unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.to_string_lossy().starts_with("/memfd:rpod"),
        "the created init runs {exe:?}"
    );
    // From the host, as the user who owns everything: no write.
    assert!(
        !env.sh(&format!("echo x >> /proc/{pid}/exe"))
            .status
            .success(),
        "wrote the init's exe"
    );
    // From inside the created container, as its root.
    let out = env.sh(&format!(
        "{} oci --root {root} exec c1 sh -c 'echo x >> /proc/1/exe && echo WROTE; head -c 4 /proc/1/exe >/dev/null && echo READ'",
        mine.display()
    ));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !text.contains("WROTE"),
        "a process inside wrote the init's exe: {text}"
    );
    assert_eq!(
        std::fs::read(&mine).unwrap(),
        before,
        "the user's rpod binary changed"
    );
    assert!(run("delete -f c1").status.success());

    // Root's binary (the harness's, not writable by the user): no copy is
    // needed, and writing it fails all the same.
    let (code, _, err) = oci(&env, &format!("create --bundle {} c2", b.path()));
    assert_eq!(code, Some(0), "{err}");
    let (_, state, _) = oci(&env, "state c2");
    let pid = serde_json::from_str::<Value>(&state).unwrap()["pid"]
        .as_i64()
        .unwrap();
    assert!(
        !env.sh(&format!("echo x >> /proc/{pid}/exe"))
            .status
            .success(),
        "wrote root's rpod"
    );
    let (code, _, err) = oci(&env, "delete -f c2");
    assert_eq!(code, Some(0), "{err}");
}

/// The monitor of `rpod run` (and so the init, its clone) starts from a
/// protected copy: its command line names it, and its exe is not the file
/// on disk until it execs the small monitor loop.
#[test]
fn monitor_starts_from_a_protected_copy() {
    let env = common::env_with_alpine("a9mon");
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "alpine",
        "readlink",
        "/proc/1/exe",
    ]);
    assert_eq!(
        out.trim(),
        "/bin/busybox",
        "PID 1 is the container's program"
    );
    // A running container's monitor lives in the mount namespace the
    // overlay was mounted in: read-only, over the scratch dir, and there
    // only (the host has no such mount).
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "m",
        "--network",
        "none",
        "alpine",
        "sleep",
        "60",
    ]);
    let pid = common::field(&env, "m", "{{.State.ConmonPid}}");
    let scratch = common::run_root(&env).join("self-exe/mnt");
    let theirs = std::fs::read_to_string(format!("/proc/{}/mountinfo", pid.trim())).unwrap();
    let line = theirs
        .lines()
        .find(|l| l.contains(scratch.to_str().unwrap()))
        .unwrap_or_else(|| panic!("no overlay at {scratch:?} for the monitor:\n{theirs}"));
    assert!(
        line.contains(" - overlay ") && line.contains(" ro,"),
        "{line}"
    );
    let ours = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!ours.contains(scratch.to_str().unwrap()), "{ours}");
    // What it mounted is read-only even for the user who owns everything.
    let out = env.sh(&format!(
        "{{ echo x >> /proc/{}/root{}/rpod; }} 2>&1",
        pid.trim(),
        scratch.display()
    ));
    assert!(!out.status.success(), "wrote rpod through the overlay");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Read-only file system"), "{text}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "m"]);
}

#[test]
fn sysctls_outside_the_containers_namespaces_are_refused() {
    let env = Env::new("a9sysctl");
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let b = Bundle::new(&env, "b");
    b.args(&["true"]);
    for (key, val) in [
        ("kernel.core_pattern", "|/tmp/canary-rt9-core"),
        ("vm.overcommit_memory", "1"),
        ("kernel.hostname", "x"),
    ] {
        b.edit(|c| c["linux"]["sysctl"] = json!({ key: val }));
        let (code, _, err) = oci(&env, &format!("run --bundle {} s1", b.path()));
        // runc's front end exits 1 for its own errors; rpod oci as runc.
        assert_ne!(code, Some(0), "{key} was accepted");
        assert!(err.contains(key), "the error names {key}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        let (_, list, _) = oci(&env, "list -q");
        assert_eq!(list.trim(), "", "nothing is left behind");
    }
    // The network namespace of its own: net.* is fine (rootless spec: none).
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": "network" }));
    });
    let (code, _, err) = oci(&env, &format!("run --bundle {} s2", b.path()));
    assert_eq!(code, Some(0), "{err}");

    // `rpod run --sysctl`: refused at create, 125, the key named.
    let env2 = common::env_with_alpine("a9sysctl2");
    for (net, kv) in [
        ("none", "kernel.core_pattern=|/tmp/canary-rt9-core"),
        ("none", "kernel/core_pattern=|/tmp/canary-rt9-core"),
        ("none", "vm.overcommit_memory=1"),
        ("host", "net.ipv4.ip_forward=1"),
    ] {
        let (code, err) = env2.rpod_fail(&[
            "run",
            "--rm",
            "--network",
            net,
            "--sysctl",
            kv,
            "alpine",
            "true",
        ]);
        let key = kv.split_once('=').unwrap().0;
        assert_eq!(code, 125, "--sysctl {kv}: {err}");
        assert!(err.contains(key), "the error names {key}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let (code, err) = env2.rpod_fail(&[
        "create",
        "--sysctl",
        "kernel.core_pattern=x",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125, "{err}");
    assert_eq!(
        env2.rpod_ok(&["ps", "-aq"]).trim(),
        "",
        "no container was created"
    );
    // The namespaced ones are set, inside only.
    let out = env2.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "kernel.shmmni=1000",
        "alpine",
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/kernel/shmmni",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        vec!["1", "1000"]
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );
    assert!(escaped_canaries(&env).is_empty());
    assert!(escaped_canaries(&env2).is_empty());
}

#[test]
fn exec_fails_closed_without_the_bundle() {
    let env = Env::new("a9execsc");
    let b = Bundle::new(&env, "b");
    b.args(&["sleep", "60"]);
    let (code, _, err) = oci(&env, &format!("run -d --bundle {} x1", b.path()));
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = oci(&env, "exec x1 true");
    assert_eq!(code, Some(0), "{out}{err}");
    // The bundle's config.json turns unreadable (corrupt, as root); the
    // process comes whole from --process, so only the runtime's own look
    // at the bundle (for the seccomp filter) can notice.
    std::fs::write(b.dir.join("config.json"), "{ not json").unwrap();
    let proc_json = env.dir.join("process.json");
    std::fs::write(
        &proc_json,
        json!({
            "args": ["sh", "-c", "echo ran"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "env": ["PATH=/bin"]
        })
        .to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&proc_json, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = oci(&env, &format!("exec --process {} x1", proc_json.display()));
    assert_ne!(
        code,
        Some(0),
        "exec ran without the container's seccomp filter"
    );
    assert!(!out.contains("ran"), "{out}");
    assert!(
        err.contains("config.json") && err.contains("seccomp"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let (code, _, err) = oci(&env, "delete -f x1");
    assert_eq!(code, Some(0), "{err}");

    // The same through `rpod exec`: its container's config.json is corrupt.
    let env = common::env_with_alpine("a9execsc2");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "y",
        "--network",
        "none",
        "alpine",
        "sleep",
        "60",
    ]);
    let id = env
        .rpod_ok(&["inspect", "-f", "{{.Id}}", "y"])
        .trim()
        .to_string();
    let cfg = common::store_root(&env)
        .join("containers")
        .join(&id)
        .join("config.json");
    assert!(cfg.is_file(), "{cfg:?}");
    std::fs::write(&cfg, "{ not json").unwrap();
    let (code, err) = env.rpod_fail(&["exec", "y", "sh", "-c", "echo ran"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("config.json"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "y"]);
}

#[test]
fn powercap_is_masked_by_default() {
    let env = common::env_with_alpine("a9power");
    let host_has_it = Path::new("/sys/devices/virtual/powercap").is_dir();
    let masked = |extra: &[&str]| -> bool {
        let mut args = vec!["create", "--network", "none"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["alpine", "true"]);
        let id = env.rpod_ok(&args).trim().to_string();
        let cfg = common::store_root(&env)
            .join("containers")
            .join(&id)
            .join("config.json");
        let spec: Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
        env.rpod_ok(&["rm", &id]);
        spec["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "/sys/devices/virtual/powercap")
    };
    assert!(masked(&[]), "masked by default");
    assert!(
        !masked(&["--security-opt", "unmask=/sys/devices/virtual/powercap"]),
        "unmask= still works"
    );
    if host_has_it {
        let out = env.rpod_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "alpine",
            "ls",
            "/sys/devices/virtual/powercap",
        ]);
        assert_eq!(out.trim(), "", "the RAPL counters are visible");
    }
}

/// A seccomp profile that refuses openat2 (the cwd's safe lookup) must not
/// keep a container from starting: the cwd is then entered with chdir and
/// still checked with getcwd.
#[test]
fn cwd_check_survives_a_profile_without_openat2() {
    let env = common::env_with_alpine("a9openat2");
    let prof = env.dir.join("no-openat2.json");
    std::fs::write(
        &prof,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
        })
        .to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&prof, std::fs::Permissions::from_mode(0o644)).unwrap();
    let opt = format!("seccomp={}", prof.display());
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &opt,
        "-w",
        "/etc",
        "alpine",
        "pwd",
    ]);
    assert_eq!(out.trim(), "/etc");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "s",
        "--network",
        "none",
        "--security-opt",
        &opt,
        "alpine",
        "sleep",
        "60",
    ]);
    assert_eq!(
        env.rpod_ok(&["exec", "-w", "/tmp", "s", "pwd"]).trim(),
        "/tmp"
    );
    let secrets = plant_secrets(&env);
    for n in 3..=6 {
        let wd = format!("/proc/self/fd/{n}");
        let out = env.rpod(&["exec", "-w", &wd, "s", "sh", "-c", &climb(&format!("s{n}"))]);
        judge(
            &env,
            &format!("exec -w {wd} without openat2"),
            out.status.code(),
            &common::out(&out),
            &common::err(&out),
            &secrets,
        );
    }
    env.rpod_ok(&["rm", "-f", "-t", "0", "s"]);
}

/// rpod in the user's own directory with the runtime dir below it (`~/rpod`
/// and `XDG_RUNTIME_DIR=~/run`): the read-only overlay that keeps the binary
/// out of the container's reach must still be made (its layers would nest),
/// not fall back to copying the binary at every start. An initialized
/// container's init still runs rpod: its exe is the overlay's, and neither
/// the user nor anything else can write it.
#[test]
fn binary_in_home_with_runtime_dir_below_it_is_still_out_of_reach() {
    let env = common::env_with_alpine("a9nest");
    let src = common::rpod_bin();
    for name in ["rpod", "rpod-monitor"] {
        std::fs::copy(src.with_file_name(name), env.home.join(name)).unwrap();
    }
    let mine = env.home.join("rpod");
    let st = std::process::Command::new("chown")
        .arg(format!("{}:", env.user))
        .arg(&mine)
        .arg(env.home.join("rpod-monitor"))
        .status()
        .unwrap();
    assert!(st.success());
    let before = std::fs::read(&mine).unwrap();
    let run = env.home.join("run");
    let sh = |cmd: &str| {
        env.sh_ok(&format!(
            "install -d -m 0700 {run}; XDG_RUNTIME_DIR={run} {rpod} {cmd}",
            run = run.display(),
            rpod = mine.display()
        ))
    };
    sh("create --name ini --network none alpine sleep 100");
    sh("init ini");
    let pid: i32 = sh("inspect -f '{{.State.Pid}}' ini")
        .trim()
        .parse()
        .unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe, std::path::Path::new("/rpod"), "the init runs {exe:?}");
    assert!(
        !env.sh(&format!("echo x >> /proc/{pid}/exe"))
            .status
            .success(),
        "wrote the init's exe"
    );
    sh("start ini");
    assert_eq!(sh("exec ini readlink /proc/1/exe").trim(), "/bin/busybox");
    sh("rm -f -t 0 ini");
    assert_eq!(
        std::fs::read(&mine).unwrap(),
        before,
        "the rpod binary changed"
    );
}
