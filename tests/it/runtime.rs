//! The in-process runtime through `rpod oci`, driven the way a caller of
//! runc drives it: `spec --rootless`, edit the JSON, then the verbs, checking
//! state JSON and exit codes at each step. Everything runs as the
//! unprivileged test user; the runtime makes the user namespace itself.

use crate::common;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A busybox root filesystem in `dir/rootfs`: the applets as links, the
/// mount points, root in /etc/passwd (the bundles of this file and of
/// `oci_conformance`).
pub(crate) fn busybox_rootfs(dir: &Path) {
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["proc", "sys", "dev", "etc", "tmp"] {
        std::fs::create_dir_all(dir.join("rootfs").join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
        }
    }
    std::fs::write(
        dir.join("rootfs/etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
    )
    .unwrap();
}

/// The bundle `dir`'s config.json.
pub(crate) fn read_config(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap()
}

/// Change the bundle `dir`'s config.json (rewritten 0644, keeping its owner).
pub(crate) fn edit_config(dir: &Path, f: impl FnOnce(&mut Value)) {
    let mut c = read_config(dir);
    f(&mut c);
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// The bundle `dir`'s process: `args`, without a terminal.
pub(crate) fn set_args(dir: &Path, args: &[&str]) {
    edit_config(dir, |c| {
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
    });
}

/// A bundle with a busybox rootfs and `rpod oci spec --rootless` as config.
struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn new(env: &common::Env, name: &str) -> Bundle {
        let dir = env.dir.join(name);
        busybox_rootfs(&dir);
        std::fs::write(dir.join("rootfs/etc/data.txt"), "not a program\n").unwrap();
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

    /// Change config.json (keeping its owner).
    fn edit(&self, f: impl FnOnce(&mut Value)) {
        edit_config(&self.dir, f)
    }

    fn args(&self, args: &[&str]) {
        set_args(&self.dir, args)
    }

    fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

/// `rpod oci --root R ARGS`. Its stdout and stderr go through files, not
/// pipes: a container it leaves running inherits them (as with runc), and
/// reading a pipe would wait for the container's end.
fn run_args(env: &common::Env, args: &[&str]) -> std::process::Output {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = env.runtime_dir.join("oci");
    let mut full = vec!["oci", "--root", root.to_str().unwrap()];
    full.extend_from_slice(args);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let (o, e) = (
        env.dir.join(format!("out{n}")),
        env.dir.join(format!("err{n}")),
    );
    let status = env
        .cmd(&full)
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .unwrap();
    std::process::Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    }
}

fn ok(env: &common::Env, args: &[&str]) -> String {
    let out = run_args(env, args);
    assert!(
        out.status.success(),
        "rpod oci {args:?} failed ({:?})\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn state(env: &common::Env, id: &str) -> Value {
    serde_json::from_str(&ok(env, &["state", id])).expect("state is JSON")
}

fn wait_status(env: &common::Env, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run_args(env, &["state", id]);
        if !out.status.success() && Instant::now() < deadline {
            // Not created yet.
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let s: Value = serde_json::from_slice(&out.stdout).expect("state is JSON");
        if s["status"] == want || Instant::now() > deadline {
            assert_eq!(s["status"], want, "{s}");
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lifecycle_create_start_kill_delete() {
    let env = common::Env::new("rtlife");
    let b = Bundle::new(&env, "b");
    b.args(&["sleep", "60"]);
    let bp = b.path();
    ok(&env, &["create", "--bundle", bp, "life"]);
    let s = state(&env, "life");
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], "life");
    assert_eq!(s["bundle"], bp);
    let pid = s["pid"].as_i64().unwrap();
    assert!(pid > 0);
    // The init waits before the user's program: it is not `sleep` yet.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");

    // A second create with the same id fails and leaves the first alone.
    let out = run_args(&env, &["create", "--bundle", bp, "life"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    ok(&env, &["start", "life"]);
    let s = state(&env, "life");
    assert_eq!(s["status"], "running");
    assert_eq!(s["pid"].as_i64().unwrap(), pid);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    // start twice is an error, as in runc.
    assert_eq!(run_args(&env, &["start", "life"]).status.code(), Some(1));
    // delete of a running container needs -f.
    let out = run_args(&env, &["delete", "life"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not stopped: running"));

    let listed = ok(&env, &["list", "-q"]);
    assert_eq!(listed.trim(), "life");
    let ps: Vec<i64> = serde_json::from_str(&ok(&env, &["ps", "-f", "json", "life"])).unwrap();
    assert_eq!(ps, vec![pid]);

    ok(&env, &["kill", "life", "KILL"]);
    let s = wait_status(&env, "life", "stopped");
    assert_eq!(s["pid"], 0);
    assert_eq!(run_args(&env, &["start", "life"]).status.code(), Some(1));
    ok(&env, &["delete", "life"]);
    let out = run_args(&env, &["state", "life"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert_eq!(ok(&env, &["list", "-q"]).trim(), "");
}

#[test]
fn inside_the_container() {
    let env = common::Env::new("rtinside");
    let b = Bundle::new(&env, "b");
    b.args(&[
        "sh",
        "-c",
        "hostname; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; ps -o pid | wc -l; \
         grep -c ' /proc/acpi tmpfs ro' /proc/mounts; grep -c ' /proc/timer_list ' /proc/mounts; \
         (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo sys-writable || echo sys-ro; \
         touch /x 2>/dev/null && echo root-writable || echo root-ro; \
         readlink /dev/ptmx; ls /dev/null /dev/zero /dev/urandom /dev/tty /dev/full /dev/random >/dev/null && echo devices; \
         grep -c ' /dev/pts devpts ' /proc/mounts; pwd; echo $HOME; umask",
    ]);
    b.edit(|c| c["hostname"] = json!("boxy"));
    let out = ok(&env, &["run", "--bundle", b.path(), "inside"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "boxy", "{out}");
    assert_eq!(lines[1], "NoNewPrivs:\t1", "{out}");
    assert_eq!(lines[2], "Seccomp:\t0", "{out}");
    // Header, sh, ps, wc: nothing of the host's.
    assert!(lines[3].trim().parse::<u32>().unwrap() <= 4, "{out}");
    assert_eq!(lines[4].trim(), "1", "acpi masked: {out}");
    assert_eq!(lines[5].trim(), "1", "timer_list masked: {out}");
    assert_eq!(lines[6], "sys-ro", "{out}");
    assert_eq!(lines[7], "root-ro", "{out}");
    assert_eq!(lines[8], "pts/ptmx", "{out}");
    assert_eq!(lines[9], "devices", "{out}");
    assert_eq!(lines[10], "1", "{out}");
    assert_eq!(lines[11], "/", "{out}");
    assert_eq!(lines[12], "/root", "{out}");
    assert_eq!(lines[13], "0022", "{out}");

    // `run` removed the container after it exited.
    assert_eq!(ok(&env, &["list", "-q"]).trim(), "");

    // Nothing of rpod's signal setup (Rust ignores SIGPIPE) reaches the
    // program (checked on the program itself: busybox sh ignores SIGQUIT).
    b.args(&["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"]);
    let out = ok(&env, &["run", "--bundle", b.path(), "sigs"]);
    assert_eq!(
        out,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
}

#[test]
fn exit_codes_and_missing_programs() {
    let env = common::Env::new("rtcodes");
    let b = Bundle::new(&env, "b");
    b.args(&["sh", "-c", "exit 3"]);
    assert_eq!(
        run_args(&env, &["run", "--bundle", b.path(), "x3"])
            .status
            .code(),
        Some(3)
    );
    // A signal from outside: `run` exits 128+N, as a shell would.
    b.args(&["sleep", "60"]);
    let root = env.runtime_dir.join("oci");
    let mut fg = env.cmd(&[
        "oci",
        "--root",
        root.to_str().unwrap(),
        "run",
        "--bundle",
        b.path(),
        "k9",
    ]);
    let fg = std::thread::spawn(move || fg.output().unwrap());
    wait_status(&env, "k9", "running");
    ok(&env, &["kill", "k9", "KILL"]);
    assert_eq!(fg.join().unwrap().status.code(), Some(137));
    assert_eq!(ok(&env, &["list", "-q"]).trim(), "");

    // Not found and not executable are reported by create itself, and leave
    // no container behind.
    for (args, code, msg) in [
        (
            vec!["nope"],
            127,
            "executable file `nope` not found in $PATH",
        ),
        (
            vec!["/bin/nope"],
            127,
            "/bin/nope: no such file or directory",
        ),
        (vec!["/etc/data.txt"], 126, "permission denied"),
        (vec!["/etc"], 126, "is a directory"),
    ] {
        b.args(&args);
        let out = run_args(&env, &["create", "--bundle", b.path(), "bad"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(ok(&env, &["list", "-q"]).trim(), "", "{args:?} left state");
    }
}

#[test]
fn bad_bundles_leave_nothing_behind() {
    let env = common::Env::new("rtbad");
    let b = Bundle::new(&env, "b");
    let missing = env.dir.join("nothing");
    let out = run_args(
        &env,
        &["create", "--bundle", missing.to_str().unwrap(), "m"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing"));

    std::fs::write(b.dir.join("config.json"), "{ not json").unwrap();
    let out = run_args(&env, &["create", "--bundle", b.path(), "m"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("config.json"), "{err}");

    std::fs::remove_file(b.dir.join("config.json")).unwrap();
    env.rpod_ok(&["oci", "spec", "--rootless", "--bundle", b.path()]);
    b.edit(|c| c["root"]["path"] = json!("no-such-rootfs"));
    let out = run_args(&env, &["create", "--bundle", b.path(), "m"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("no-such-rootfs"), "{err}");

    // A mount whose source is missing: a clear error naming it.
    b.edit(|c| {
        c["root"]["path"] = json!("rootfs");
        c["process"]["terminal"] = json!(false);
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": "/nonexistent/src", "options": ["rbind"]
        }));
    });
    let out = run_args(&env, &["create", "--bundle", b.path(), "m"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("/nonexistent/src"), "{err}");
    assert_eq!(ok(&env, &["list", "-q"]).trim(), "");
    assert!(
        env.leftover_processes().is_empty(),
        "{:?}",
        env.leftover_processes()
    );
}

#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    let env = common::Env::new("rthooks");
    let b = Bundle::new(&env, "b");
    let log = env.dir.join("hooks.log");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    let hook = |name: &str, path: &str| {
        json!({"path": "/bin/sh", "args": ["sh", "-c",
            format!("read -r s; echo \"{name} $s\" >> {path}")]})
    };
    let host_log = log.to_str().unwrap().to_string();
    b.args(&["sleep", "30"]);
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["hooks"] = json!({
            "prestart": [hook("prestart", &host_log)],
            "createRuntime": [hook("createRuntime", &host_log)],
            // Before pivot_root: still sees the host's paths.
            "createContainer": [hook("createContainer", &host_log)],
            // In the container: its own /bin/sh and files.
            "startContainer": [hook("startContainer", "/start.log")],
            "poststart": [hook("poststart", &host_log)],
            "poststop": [hook("poststop", &host_log)],
        });
    });
    ok(&env, &["create", "--bundle", b.path(), "hk"]);
    ok(&env, &["start", "hk"]);
    ok(&env, &["delete", "-f", "hk"]);
    let text = std::fs::read_to_string(&log).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "{text}"
    );
    for l in text.lines() {
        let (_, st) = l.split_once(' ').unwrap();
        let st: Value = serde_json::from_str(st).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert_eq!(st["id"], "hk");
        assert!(st["pid"].as_i64().unwrap() > 0, "{l}");
        assert_eq!(st["bundle"], b.path());
    }
    let inside = std::fs::read_to_string(b.dir.join("rootfs/start.log")).unwrap();
    assert!(inside.starts_with("startContainer {"), "{inside}");

    // A failing createRuntime hook fails create and leaves nothing.
    b.edit(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    });
    let out = run_args(&env, &["create", "--bundle", b.path(), "hk2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("createRuntime hook"), "{err}");
    assert_eq!(ok(&env, &["list", "-q"]).trim(), "");
}

#[test]
fn exec_into_a_running_container() {
    let env = common::Env::new("rtexec");
    let b = Bundle::new(&env, "b");
    b.args(&["sleep", "60"]);
    ok(&env, &["run", "-d", "--bundle", b.path(), "ex"]);
    let out = ok(
        &env,
        &[
            "exec",
            "-e",
            "FOO=bar",
            "--cwd",
            "/etc",
            "ex",
            "sh",
            "-c",
            "echo $FOO; pwd; ps -o pid,comm",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "bar");
    assert_eq!(lines[1], "/etc");
    assert!(lines.iter().any(|l| l.trim() == "1 sleep"), "{out}");
    assert_eq!(
        run_args(&env, &["exec", "ex", "sh", "-c", "exit 5"])
            .status
            .code(),
        Some(5)
    );
    assert_eq!(
        run_args(&env, &["exec", "ex", "nope"]).status.code(),
        Some(127)
    );
    assert_eq!(
        run_args(&env, &["exec", "ex", "/etc/data.txt"])
            .status
            .code(),
        Some(126)
    );
    // -t: a pty made in the container, proxied to our terminal (script's).
    let root = env.runtime_dir.join("oci");
    let tty = env.sh_ok(&format!(
        "script -qec 'rpod oci --root {} exec -t ex sh -c \"tty; echo t-ok\"' /dev/null </dev/null",
        root.display()
    ));
    assert!(tty.contains("/dev/pts/") && tty.contains("t-ok"), "{tty:?}");
    let pids: Vec<i64> = serde_json::from_str(&ok(&env, &["ps", "-f", "json", "ex"])).unwrap();
    assert_eq!(pids.len(), 1, "exec'd processes were reaped: {pids:?}");
    ok(&env, &["kill", "--all", "ex", "KILL"]);
    wait_status(&env, "ex", "stopped");
    ok(&env, &["delete", "ex"]);
}

#[test]
fn seccomp_filter_is_in_force() {
    let env = common::Env::new("rtseccomp");
    let b = Bundle::new(&env, "b");
    b.args(&[
        "sh",
        "-c",
        "grep '^Seccomp:' /proc/self/status; mkdir /tmp/d && echo mkdir-ok || echo mkdir-denied",
    ]);
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let out = ok(&env, &["run", "--bundle", b.path(), "sc"]);
    assert_eq!(out, "Seccomp:\t2\nmkdir-denied\n");
}

#[test]
fn console_socket_receives_the_pty_master() {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixListener;
    let env = common::Env::new("rtconsole");
    let b = Bundle::new(&env, "b");
    b.edit(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["args"] = json!(["sh", "-c", "tty; echo hello-from-pty; sleep 1"]);
    });
    let sock_path = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let sp = sock_path.to_str().unwrap().to_string();
    let bp = b.path().to_string();
    let root = env.runtime_dir.join("oci");
    let mut create = env.cmd(&[
        "oci",
        "--root",
        root.to_str().unwrap(),
        "create",
        "--bundle",
        &bp,
        "--console-socket",
        &sp,
        "tty1",
    ]);
    let child = std::thread::spawn(move || create.output().unwrap());
    let (conn, _) = listener.accept().unwrap();
    // Receive the master with SCM_RIGHTS.
    let mut buf = [0u8; 64];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    let fd = msg
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            nix::sys::socket::ControlMessageOwned::ScmRights(v) => v.first().copied(),
            _ => None,
        })
        .expect("an fd came with the message");
    let out = child.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(state(&env, "tty1")["status"], "created");
    ok(&env, &["start", "tty1"]);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&got).contains("hello-from-pty") && Instant::now() < deadline {
        let mut b = [0u8; 256];
        match nix::unistd::read(fd, &mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("/dev/pts/0"), "{text}");
    assert!(text.contains("hello-from-pty"), "{text}");
    let _ = nix::unistd::close(fd);
    ok(&env, &["delete", "-f", "tty1"]);
}

#[test]
fn state_matches_runc_field_by_field() {
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("runc is not installed; skipping");
        return;
    }
    let env = common::Env::new("rtrunc");
    let b = Bundle::new(&env, "b");
    b.args(&["sleep", "30"]);
    b.edit(|c| c["annotations"] = json!({"org.example.k": "v"}));
    let runc_root = env.runtime_dir.join("runc");
    let script = format!(
        "set -e; runc --root {r} create --bundle {b} cmp </dev/null >/dev/null 2>&1; runc --root {r} state cmp; \
         runc --root {r} start cmp; runc --root {r} state cmp; runc --root {r} kill cmp KILL; sleep 0.3; \
         runc --root {r} state cmp; runc --root {r} delete cmp",
        r = runc_root.display(),
        b = b.path()
    );
    let theirs = env.sh_ok(&script);
    ok(&env, &["create", "--bundle", b.path(), "cmp"]);
    let mut ours = ok(&env, &["state", "cmp"]);
    ok(&env, &["start", "cmp"]);
    ours += &ok(&env, &["state", "cmp"]);
    ok(&env, &["kill", "cmp", "KILL"]);
    wait_status(&env, "cmp", "stopped");
    ours += &ok(&env, &["state", "cmp"]);
    ok(&env, &["delete", "cmp"]);

    let split = |s: &str| -> Vec<Value> {
        serde_json::Deserializer::from_str(s)
            .into_iter::<Value>()
            .map(|v| v.unwrap())
            .collect()
    };
    let (theirs, ours) = (split(&theirs), split(&ours));
    assert_eq!(theirs.len(), 3);
    assert_eq!(ours.len(), 3);
    for (t, o) in theirs.iter().zip(&ours) {
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(o), keys(t), "ours {o}\nrunc {t}");
        for k in [
            "ociVersion",
            "id",
            "status",
            "bundle",
            "rootfs",
            "owner",
            "annotations",
        ] {
            assert_eq!(o[k], t[k], "{k}: ours {o}\nrunc {t}");
        }
        assert_eq!(o["pid"] == 0, t["pid"] == 0, "pid: ours {o}\nrunc {t}");
        let created = o["created"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    }
}

#[test]
fn caller_already_root_in_rpods_user_namespace() {
    // The monitor's situation: it runs as root in rpod's user namespace and
    // the spec asks for no user namespace of its own; uids map to subuids.
    let env = common::Env::new("rtuserns");
    let b = Bundle::new(&env, "b");
    b.edit(|c| {
        let l = c["linux"].as_object_mut().unwrap();
        l.remove("uidMappings");
        l.remove("gidMappings");
        let ns: Vec<Value> = l["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] != "user")
            .cloned()
            .collect();
        l.insert("namespaces".into(), json!(ns));
        c["process"]["terminal"] = json!(false);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10]});
        c["process"]["args"] = json!(["sh", "-c", "id; grep -c . /proc/self/uid_map"]);
    });
    let root = env.runtime_dir.join("oci-ns");
    let out = env.sh_ok(&format!(
        "rpod unshare rpod oci --root {} run --bundle {} u1 </dev/null",
        root.display(),
        b.path()
    ));
    assert_eq!(out, "uid=1000 gid=1000 groups=10\n2\n");
}

#[test]
fn foreground_run_with_a_terminal_gets_a_container_pty() {
    // `script` gives rpod a terminal; `run` without --console-socket then
    // makes the pty inside the container and proxies it, as runc does.
    let env = common::Env::new("rtpty");
    let b = Bundle::new(&env, "b");
    b.edit(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["args"] = json!(["sh", "-c", "tty; echo pty-ok"]);
    });
    let root = env.runtime_dir.join("oci");
    let out = env.sh_ok(&format!(
        "script -qec 'rpod oci --root {} run --bundle {} p1' /dev/null </dev/null",
        root.display(),
        b.path()
    ));
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(out.contains("pty-ok"), "{out:?}");
}

#[test]
fn full_id_maps_go_through_newuidmap() {
    // More than our own id: the runtime has newuidmap/newgidmap write them.
    let env = common::Env::new("rtmaps");
    let w = common::world();
    let (uid, gid, start) = (w.get("TEST_UID"), w.get("TEST_GID"), w.get("SUBID_START"));
    let b = Bundle::new(&env, "b");
    let maps = |id: &str| {
        json!([
            {"containerID": 0, "hostID": id.parse::<u32>().unwrap(), "size": 1},
            {"containerID": 1, "hostID": start.parse::<u32>().unwrap(), "size": 65536}
        ])
    };
    b.args(&["sh", "-c", "id; grep -c . /proc/self/uid_map"]);
    b.edit(|c| {
        c["linux"]["uidMappings"] = maps(uid);
        c["linux"]["gidMappings"] = maps(gid);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let out = ok(&env, &["run", "--bundle", b.path(), "maps"]);
    assert_eq!(out, "uid=1000 gid=1000\n2\n");
}
