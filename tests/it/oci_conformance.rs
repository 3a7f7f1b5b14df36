//! `rpod oci` against the runtime-spec checks that runc 1.1.5 passes (issue
//! 17), on prepared busybox bundles. Root mode is the one place where rpod
//! runs as root in the tests: a real root runtime is what these checks are
//! about (devices made with mknod, cgroups, joining any namespace). Where a
//! check applies to an unprivileged caller too, it runs as the test user
//! as well.

use crate::common::{self, Env};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// rpod run as root, with `rpod oci spec` (no user namespace).
    Root,
    /// rpod run as the test user, with `rpod oci spec --rootless`.
    User,
}

/// A busybox bundle and the state root its containers use.
struct Bundle<'a> {
    env: &'a Env,
    dir: PathBuf,
    state: PathBuf,
    mode: Mode,
    /// A command (root mode) that runs rpod, e.g. in a mount namespace of
    /// the test's own shape.
    wrap: Vec<String>,
}

impl<'a> Bundle<'a> {
    fn new(env: &'a Env, name: &str, mode: Mode) -> Bundle<'a> {
        let dir = env.dir.join(name);
        crate::runtime::busybox_rootfs(&dir);
        let state = match mode {
            Mode::Root => env.dir.join("root-state"),
            Mode::User => env.runtime_dir.join("oci"),
        };
        let b = Bundle {
            env,
            dir,
            state,
            mode,
            wrap: Vec::new(),
        };
        match mode {
            Mode::Root => {
                let out = b.oci(&["spec", "--bundle", b.path()]);
                assert!(out.status.success(), "{out:?}");
            }
            Mode::User => {
                let st = Command::new("chown")
                    .args(["-R", &format!("{}:", env.user), b.path()])
                    .status()
                    .unwrap();
                assert!(st.success());
                env.rpod_ok(&["oci", "spec", "--rootless", "--bundle", b.path()]);
            }
        }
        b
    }

    fn config(&self) -> Value {
        crate::runtime::read_config(&self.dir)
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        crate::runtime::edit_config(&self.dir, f)
    }

    fn args(&self, args: &[&str]) {
        crate::runtime::set_args(&self.dir, args)
    }

    fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// `rpod oci --root STATE ARGS` as root or as the test user, its output
    /// through files (a container left running inherits them).
    fn oci(&self, args: &[&str]) -> Output {
        self.oci_in(args, None)
    }

    fn oci_in(&self, args: &[&str], cwd: Option<&Path>) -> Output {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let parent = self.dir.parent().unwrap();
        let (o, e) = (
            parent.join(format!("out{n}")),
            parent.join(format!("err{n}")),
        );
        let mut full = vec!["oci", "--root", self.state.to_str().unwrap()];
        full.extend_from_slice(args);
        let mut c = match self.mode {
            Mode::Root => {
                let mut c = match self.wrap.split_first() {
                    Some((prog, rest)) => {
                        let mut c = Command::new(prog);
                        c.args(rest).arg(common::rpod_bin());
                        c
                    }
                    None => Command::new(common::rpod_bin()),
                };
                c.args(&full);
                // Env's leak check and cleanup find rpod's processes by it.
                c.env("XDG_RUNTIME_DIR", &self.env.runtime_dir);
                c
            }
            Mode::User => self.env.cmd(&full),
        };
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        let status = c
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: std::fs::read(&o).unwrap(),
            stderr: std::fs::read(&e).unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.oci(args);
        assert!(
            out.status.success(),
            "rpod oci {args:?} ({:?}) failed ({:?})\nstdout: {}\nstderr: {}",
            self.mode,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fail(&self, args: &[&str]) -> String {
        let out = self.oci(args);
        assert!(
            !out.status.success(),
            "rpod oci {args:?} ({:?}) succeeded\nstdout: {}",
            self.mode,
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state is JSON")
    }

    fn wait_status(&self, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.state(id);
            if s["status"] == want || Instant::now() > deadline {
                assert_eq!(s["status"], want, "{s}");
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Every hook's state on stdin: `created` for the ones before the user's
/// program (prestart, createRuntime, createContainer, startContainer; runc
/// says `creating` for the first three), `running` for poststart, `stopped`
/// for poststop.
#[test]
fn hooks_see_the_created_state_before_start() {
    let env = Env::new("ocihooks");
    for mode in [Mode::Root, Mode::User] {
        let b = Bundle::new(&env, &format!("b-{mode:?}"), mode);
        let log = env.dir.join(format!("hooks-{mode:?}.log"));
        std::fs::write(&log, "").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
        let host_log = log.to_str().unwrap().to_string();
        let hook = |name: &str, path: &str| {
            json!({"path": "/bin/sh", "args": ["sh", "-c",
                format!("read -r s; echo \"{name} $s\" >> {path}")]})
        };
        b.args(&["sleep", "30"]);
        b.edit(|c| {
            c["root"]["readonly"] = json!(false);
            c["hooks"] = json!({
                "prestart": [hook("prestart", &host_log)],
                "createRuntime": [hook("createRuntime", &host_log)],
                "createContainer": [hook("createContainer", &host_log)],
                "startContainer": [hook("startContainer", "/start.log")],
                "poststart": [hook("poststart", &host_log)],
                "poststop": [hook("poststop", &host_log)],
            });
        });
        b.ok(&["create", "--bundle", b.path(), "hk"]);
        b.ok(&["start", "hk"]);
        b.ok(&["kill", "hk", "KILL"]);
        b.wait_status("hk", "stopped");
        b.ok(&["delete", "hk"]);
        let mut text = std::fs::read_to_string(&log).unwrap();
        text += &std::fs::read_to_string(b.dir.join("rootfs/start.log")).unwrap();
        let got: Vec<(String, String)> = text
            .lines()
            .map(|l| {
                let (name, st) = l.split_once(' ').unwrap();
                let st: Value = serde_json::from_str(st).unwrap_or_else(|e| panic!("{l}: {e}"));
                assert_eq!(st["id"], "hk", "{l}");
                (name.to_string(), st["status"].as_str().unwrap().to_string())
            })
            .collect();
        let want: Vec<(String, String)> = [
            ("prestart", "created"),
            ("createRuntime", "created"),
            ("createContainer", "created"),
            ("poststart", "running"),
            ("poststop", "stopped"),
            ("startContainer", "created"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want, "{mode:?}: {text}");
    }
}

/// linux.devices as root: made with mknod with exactly the fileMode asked
/// for (the umask does not apply) and the given owner; the default devices
/// are 0666, as in runc.
#[test]
fn devices_get_their_exact_mode_and_owner() {
    let env = Env::new("ocidevs");
    let b = Bundle::new(&env, "b", Mode::Root);
    b.args(&[
        "sh",
        "-c",
        "stat -c '%n %a %u %g %t %T %F' /dev/testdev /dev/testblk /dev/testfifo /dev/null /dev/tty",
    ]);
    b.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/testdev", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o660, "uid": 1, "gid": 2},
            {"path": "/dev/testblk", "type": "b", "major": 7, "minor": 0,
             "fileMode": 0o600, "uid": 0, "gid": 6},
            {"path": "/dev/testfifo", "type": "p", "fileMode": 0o640},
        ]);
    });
    let out = b.oci(&["run", "--bundle", b.path(), "devs"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "/dev/testdev 660 1 2 1 3 character special file",
            "/dev/testblk 600 0 6 7 0 block special file",
            "/dev/testfifo 640 0 0 0 0 fifo",
            "/dev/null 666 0 0 1 3 character special file",
            "/dev/tty 666 0 0 5 0 character special file",
        ],
        "{text}"
    );
}

/// The mounts of the host's mount namespace whose mount point is under `dir`.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/1/mountinfo").unwrap();
    let prefix = format!("{}/", dir.display());
    text.lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| m.starts_with(&prefix) || m == dir.to_str().unwrap())
        })
        .map(str::to_string)
        .collect()
}

/// linux.rootfsPropagation: shared (pivot_root refused it before),
/// unbindable, slave and private, each seen on the container's `/` in its
/// mountinfo; none of the container's mounts shows up on the host. As root
/// rpod runs in a mount namespace whose mounts are shared (this host's `/`
/// is private, which would make a slave private); rootless, the user
/// namespace makes every inherited mount a slave at most.
#[test]
fn rootfs_propagation_shared_and_the_others() {
    let env = Env::new("ociprop");
    for mode in [Mode::Root, Mode::User] {
        let mut b = Bundle::new(&env, &format!("b-{mode:?}"), mode);
        if mode == Mode::Root {
            b.wrap = ["unshare", "-m", "--propagation", "shared"]
                .map(String::from)
                .to_vec();
        }
        b.args(&["awk", "$5 == \"/\"", "/proc/self/mountinfo"]);
        let cases: &[(&str, &[&str], &[&str])] = match mode {
            Mode::Root => &[
                ("shared", &["shared:"], &["unbindable"]),
                ("rshared", &["shared:"], &["unbindable"]),
                ("unbindable", &["unbindable"], &["shared:"]),
                ("slave", &["master:"], &["shared:"]),
                ("rprivate", &[" - "], &["shared:", "master:", "unbindable"]),
            ],
            Mode::User => &[
                ("shared", &["shared:"], &["unbindable"]),
                ("unbindable", &["unbindable"], &["shared:"]),
                ("private", &[" - "], &["shared:", "master:", "unbindable"]),
            ],
        };
        for (prop, want, not) in cases {
            b.edit(|c| c["linux"]["rootfsPropagation"] = json!(prop));
            let out = b.ok(&["run", "--bundle", b.path(), "prop"]);
            assert_eq!(out.lines().count(), 1, "{mode:?} {prop}: {out}");
            for w in *want {
                assert!(out.contains(w), "{mode:?} {prop}: {out}");
            }
            for n in *not {
                assert!(!out.contains(n), "{mode:?} {prop}: {out}");
            }
            assert_eq!(host_mounts_under(&b.dir), Vec::<String>::new(), "{prop}");
        }
    }
}

/// The lifecycle's errors as the spec words them: delete of a created or
/// running container fails (and changes nothing) unless forced, start of a
/// started one fails; `create ID --pid-file REL` (flags after the id, the
/// bundle the working directory, as runtime-tools calls it) writes the
/// init's pid, relative to the caller's directory.
#[test]
fn delete_start_and_pid_file_follow_the_spec() {
    let env = Env::new("ocilife");
    for mode in [Mode::Root, Mode::User] {
        let b = Bundle::new(&env, &format!("b-{mode:?}"), mode);
        b.args(&["sleep", "30"]);
        let out = b.oci_in(&["create", "lf", "--pid-file", "init.pid"], Some(&b.dir));
        assert!(out.status.success(), "{mode:?}: {out:?}");
        let pid = b.state("lf")["pid"].as_i64().unwrap();
        let written = std::fs::read_to_string(b.dir.join("init.pid")).unwrap();
        assert_eq!(written, pid.to_string(), "{mode:?}");

        let err = b.fail(&["delete", "lf"]);
        assert!(err.contains("not stopped: created"), "{mode:?}: {err}");
        assert_eq!(b.state("lf")["status"], "created");
        b.ok(&["start", "lf"]);
        let err = b.fail(&["start", "lf"]);
        assert!(err.contains("running"), "{mode:?}: {err}");
        let err = b.fail(&["delete", "lf"]);
        assert!(err.contains("not stopped: running"), "{mode:?}: {err}");
        let s = b.state("lf");
        assert_eq!(
            (s["status"].as_str(), s["pid"].as_i64()),
            (Some("running"), Some(pid))
        );
        b.ok(&["kill", "lf", "KILL"]);
        b.wait_status("lf", "stopped");
        b.fail(&["start", "lf"]);
        b.ok(&["delete", "lf"]);
        b.fail(&["state", "lf"]);
        b.fail(&["delete", "lf"]);
        // --force takes a created container away at once.
        b.ok(&["create", "--bundle", b.path(), "lf2"]);
        b.ok(&["delete", "--force", "lf2"]);
        b.fail(&["state", "lf2"]);
        assert!(
            env.leftover_processes().is_empty(),
            "{:?}",
            env.leftover_processes()
        );
    }
}

/// CVE-2019-5736 as root: root can write any file, so a created init
/// (still running rpod, reachable as /proc/PID/exe from inside) runs
/// through a read-only bind of rpod's binary, detached at once: writing
/// through it fails even after the binary stops running, and no mount is
/// left behind.
#[test]
fn a_created_init_as_root_runs_rpod_from_a_read_only_mount() {
    let env = Env::new("ocibind");
    let b = Bundle::new(&env, "b", Mode::Root);
    b.args(&["sleep", "60"]);
    b.ok(&["create", "--bundle", b.path(), "ro1"]);
    let pid = b.state("ro1")["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    // Opening it for writing now only says ETXTBSY (it is running); the
    // attack keeps an O_PATH fd and writes once it no longer runs: the
    // mount behind that fd is read-only, unlike the binary's own.
    use nix::sys::statvfs::{statvfs, FsFlags};
    let ro = |p: &str| statvfs(p).unwrap().flags().contains(FsFlags::ST_RDONLY);
    assert!(ro(&exe), "{exe} is on a writable mount");
    assert!(!ro(common::rpod_bin().to_str().unwrap()));
    let err = std::fs::OpenOptions::new()
        .append(true)
        .open(&exe)
        .expect_err("rpod's binary opened for writing through a created init");
    assert!(
        [Some(libc::EROFS), Some(libc::ETXTBSY)].contains(&err.raw_os_error()),
        "{err}"
    );
    // The same file as rpod's own, only reached through the detached mount.
    let meta = |p: &str| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).unwrap();
        (m.dev(), m.ino())
    };
    assert_eq!(meta(&exe), meta(common::rpod_bin().to_str().unwrap()));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("/.exe-"), "{mounts}");
    b.ok(&["delete", "--force", "ro1"]);
}

/// No `mount` in linux.namespaces: as root the container runs in the host's
/// mount namespace, its rootfs entered with chroot and the spec's mounts
/// made below it (privately); delete takes them all away. An unprivileged
/// caller is refused with a clear message.
#[test]
fn no_mount_namespace_runs_in_the_hosts_with_chroot() {
    let env = Env::new("ocinomnt");
    let b = Bundle::new(&env, "b", Mode::Root);
    let no_mnt = |c: &mut Value| {
        let ns: Vec<Value> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] != "mount")
            .cloned()
            .collect();
        c["linux"]["namespaces"] = json!(ns);
    };
    b.edit(no_mnt);
    b.args(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/mnt; ls /; stat -c '%a' /dev/null; touch /x 2>/dev/null || echo ro",
    ]);
    let out = b.ok(&["run", "--bundle", b.path(), "nm"]);
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_eq!(
        out,
        format!(
            "{}\nbin\ndev\netc\nproc\nsys\ntmp\n666\nro\n",
            host_mnt.display()
        )
    );
    assert_eq!(host_mounts_under(&b.dir), Vec::<String>::new());

    // Created: its mounts are in the host's table until delete.
    b.args(&["sleep", "30"]);
    b.ok(&["create", "--bundle", b.path(), "nm2"]);
    let mounted = host_mounts_under(&b.dir);
    assert!(mounted.len() >= 3, "{mounted:?}");
    let ex = b.ok(&["exec", "nm2", "ls", "/etc"]);
    assert_eq!(ex, "passwd\n");
    b.ok(&["delete", "--force", "nm2"]);
    assert_eq!(host_mounts_under(&b.dir), Vec::<String>::new());

    // Rootless: refused, nothing left.
    let u = Bundle::new(&env, "u", Mode::User);
    u.edit(no_mnt);
    u.args(&["true"]);
    let err = u.fail(&["run", "--bundle", u.path(), "nm3"]);
    assert!(err.contains("without a mount namespace"), "{err}");
    assert_eq!(u.ok(&["list", "-q"]).trim(), "");
}

/// A holder process in namespaces of its own (unshare), and a container
/// that joins its mount, pid, ipc, uts and network namespaces by path
/// (pid through pid_for_children): every /proc/self/ns link matches the
/// holder's, the holder is pid 1 of the container's pid namespace, no mount
/// of the container's reaches the host, and delete --force kills the
/// container's init but not the holder.
#[test]
fn namespaces_are_joined_by_path() {
    let env = Env::new("ocijoin");
    let mut holder = Command::new("unshare")
        .args([
            "-m",
            "-i",
            "-u",
            "-p",
            "-n",
            "--fork",
            "--mount-proc",
            "sleep",
            "60",
        ])
        .env("XDG_RUNTIME_DIR", &env.runtime_dir)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let h: i32 = loop {
        let kids = std::fs::read_to_string(format!(
            "/proc/{}/task/{}/children",
            holder.id(),
            holder.id()
        ))
        .unwrap_or_default();
        if let Some(p) = kids.split_whitespace().next() {
            let p: i32 = p.parse().unwrap();
            // Exec'd into sleep, so its namespaces are final.
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if comm.trim() == "sleep" {
                break p;
            }
        }
        assert!(Instant::now() < deadline, "no holder process");
        std::thread::sleep(Duration::from_millis(20));
    };
    let names = ["mnt", "pid", "ipc", "uts", "net"];
    let theirs: String = names
        .iter()
        .map(|n| {
            format!(
                "{}\n",
                std::fs::read_link(format!("/proc/{h}/ns/{n}"))
                    .unwrap()
                    .display()
            )
        })
        .collect();
    let b = Bundle::new(&env, "b", Mode::Root);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "mount", "path": format!("/proc/{h}/ns/mnt")},
            {"type": "pid", "path": format!("/proc/{h}/ns/pid_for_children")},
            {"type": "ipc", "path": format!("/proc/{h}/ns/ipc")},
            {"type": "uts", "path": format!("/proc/{h}/ns/uts")},
            {"type": "network", "path": format!("/proc/{h}/ns/net")},
        ]);
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["sleep", "30"]);
    });
    b.ok(&["run", "-d", "--bundle", b.path(), "jn"]);
    let pid = b.state("jn")["pid"].as_i64().unwrap();
    let ours: String = names
        .iter()
        .map(|n| {
            format!(
                "{}\n",
                std::fs::read_link(format!("/proc/{pid}/ns/{n}"))
                    .unwrap()
                    .display()
            )
        })
        .collect();
    assert_eq!(ours, theirs);
    let one = b.ok(&["exec", "jn", "cat", "/proc/1/comm"]);
    assert_eq!(one, "sleep\n");
    let ps: Vec<i64> = serde_json::from_str(&b.ok(&["ps", "-f", "json", "jn"])).unwrap();
    assert_eq!(ps, vec![pid], "only the container's own processes");
    assert_eq!(host_mounts_under(&b.dir), Vec::<String>::new());
    b.ok(&["delete", "--force", "jn"]);
    assert!(
        std::path::Path::new(&format!("/proc/{h}")).exists(),
        "the holder survived the container's delete"
    );
    // Dead: gone, or a zombie of the holder (pid 1 there, and sleep reaps
    // no one).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let st = stat.rsplit_once(") ").map(|(_, r)| &r[..1]);
    assert!(matches!(st, None | Some("Z")), "{stat}");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(h),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = holder.kill();
    let _ = holder.wait();
}

/// The mounted cgroup v1 controllers (this host is hybrid); empty on a
/// pure v2 host.
fn v1_controllers() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let known = [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "pids", "blkio",
    ];
    let mut out = Vec::new();
    for l in info.lines() {
        let Some((pre, post)) = l.split_once(" - ") else {
            continue;
        };
        if !post.starts_with("cgroup ") {
            continue;
        }
        let opts = post.split(' ').nth(2).unwrap_or("");
        for o in opts.split(',') {
            if known.contains(&o) && pre.contains(&format!("/sys/fs/cgroup/{o}")) {
                out.push(o.to_string());
            }
        }
    }
    out
}

fn cg(ctrl: &str, path: &str, file: &str) -> String {
    std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}{path}/{file}"))
        .unwrap_or_else(|e| panic!("{ctrl}{path}/{file}: {e}"))
        .trim()
        .to_string()
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn dead(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// Removes the test's cgroup directories (deepest first) when dropped.
struct CgroupDirs(Vec<PathBuf>);

impl Drop for CgroupDirs {
    fn drop(&mut self) {
        // After a failed assertion a container may still be in them.
        for d in &self.0 {
            for sub in std::fs::read_dir(d).into_iter().flatten().flatten() {
                let procs = std::fs::read_to_string(sub.path().join("cgroup.procs"));
                for p in procs.unwrap_or_default().split_whitespace() {
                    if let Ok(p) = p.parse() {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(p),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        for d in self.0.iter().rev() {
            for sub in std::fs::read_dir(d).into_iter().flatten().flatten() {
                if sub.path().is_dir() {
                    let _ = std::fs::remove_dir(sub.path());
                }
            }
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// cgroups as root on cgroup v1: linux.cgroupsPath (absolute: from each
/// controller's root) is made and joined in every controller; memory, cpu,
/// pids limits are written and enforced (a fork past pids.max fails), the
/// devices controller denies what the rules deny and allows what they
/// allow; `update` (flags and -r JSON), `pause` and `resume` act on it;
/// delete removes it. A relative path lands under rpod's own cgroup; a
/// limit for a controller the host lacks (hugetlb here) fails create and
/// leaves nothing.
#[test]
fn cgroups_v1_limits_devices_and_update_as_root() {
    let ctrls = v1_controllers();
    if !ctrls.iter().any(|c| c == "memory") {
        eprintln!("no cgroup v1 memory controller here (pure v2): the v1 path is not testable");
        return;
    }
    let env = Env::new("ocicg");
    let tag = format!("rpod-it-{}", std::process::id());
    let mut dirs = CgroupDirs(Vec::new());
    for c in &ctrls {
        dirs.0
            .push(PathBuf::from(format!("/sys/fs/cgroup/{c}/{tag}")));
    }
    let b = Bundle::new(&env, "b", Mode::Root);
    let dev2 = b.dir.join("rootfs/dev2");
    std::fs::create_dir(&dev2).unwrap();
    for (name, minor) in [("ok", 0), ("no", 1)] {
        let st = Command::new("mknod")
            .arg(dev2.join(name))
            .args(["c", "240", &minor.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let path = format!("/{tag}/c1");
    b.args(&["sleep", "30"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"] = json!({
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 240, "minor": 0, "access": "rw"}
            ],
            "memory": {"limit": 67108864, "reservation": 33554432},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000},
            "pids": {"limit": 10}
        });
    });
    b.ok(&["run", "-d", "--bundle", b.path(), "cg1"]);
    let pid = b.state("cg1")["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for c in ["memory", "cpu", "pids", "devices", "freezer"] {
        assert!(
            own.lines().any(|l| l.ends_with(&format!(":{c}:{path}"))
                || l.contains(&format!(":{c},")) && l.ends_with(&path)),
            "{c}: {own}"
        );
    }
    assert_eq!(cg("memory", &path, "memory.limit_in_bytes"), "67108864");
    assert_eq!(
        cg("memory", &path, "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(cg("cpu", &path, "cpu.shares"), "512");
    assert_eq!(cg("cpu", &path, "cpu.cfs_quota_us"), "20000");
    assert_eq!(cg("cpu", &path, "cpu.cfs_period_us"), "100000");
    assert_eq!(cg("pids", &path, "pids.max"), "10");
    let list = cg("devices", &path, "devices.list");
    assert!(list.lines().any(|l| l == "c 240:0 rw"), "{list}");
    assert!(!list.contains("a *:* rwm"), "{list}");

    // Devices: the allowed node opens (no driver behind it: ENXIO), the
    // other one is refused by the cgroup (EPERM); /dev/null still works.
    let out = b.ok(&[
        "exec",
        "cg1",
        "sh",
        "-c",
        "cat /dev2/ok 2>&1; cat /dev2/no 2>&1; echo x > /dev/null && echo null-ok",
    ]);
    assert!(
        out.contains("'/dev2/ok': No such device or address"),
        "{out}"
    );
    assert!(out.contains("'/dev2/no': Operation not permitted"), "{out}");
    assert!(out.contains("null-ok"), "{out}");
    // pids.max holds: 15 more processes can't all start.
    // (The shell gives up with status 2 at the first failed fork.)
    let out = b.oci(&[
        "exec",
        "cg1",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do sleep 3 & done 2>&1; wait",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("can't fork: Resource temporarily unavailable"),
        "{out:?}"
    );

    // update: flags, then a resources JSON.
    b.ok(&[
        "update",
        "--memory",
        "33554432",
        "--pids-limit",
        "20",
        "cg1",
    ]);
    assert_eq!(cg("memory", &path, "memory.limit_in_bytes"), "33554432");
    assert_eq!(cg("pids", &path, "pids.max"), "20");
    let r = b.dir.join("res.json");
    std::fs::write(&r, r#"{"cpu": {"quota": 50000, "shares": 256}}"#).unwrap();
    b.ok(&["update", "-r", r.to_str().unwrap(), "cg1"]);
    assert_eq!(cg("cpu", &path, "cpu.cfs_quota_us"), "50000");
    assert_eq!(cg("cpu", &path, "cpu.shares"), "256");
    // The device rules survive an update that does not name devices.
    assert!(cg("devices", &path, "devices.list").contains("c 240:0 rw"));

    b.ok(&["pause", "cg1"]);
    assert_eq!(cg("freezer", &path, "freezer.state"), "FROZEN");
    // Paused, as runc says: in state and list; no exec, no delete
    // without --force, no second pause.
    assert_eq!(b.state("cg1")["status"], "paused");
    let list = b.ok(&["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("cg1 ") && l.contains(" paused ")),
        "{list}"
    );
    let err = b.fail(&["exec", "cg1", "true"]);
    assert!(err.contains("paused"), "{err}");
    let err = b.fail(&["delete", "cg1"]);
    assert!(err.contains("not stopped: paused"), "{err}");
    assert!(b.fail(&["pause", "cg1"]).contains("paused"));
    b.ok(&["resume", "cg1"]);
    assert_eq!(cg("freezer", &path, "freezer.state"), "THAWED");
    assert_eq!(b.state("cg1")["status"], "running");
    assert!(b.fail(&["resume", "cg1"]).contains("not paused"));
    // delete --force of a paused container: killed (thawed to die).
    b.ok(&["pause", "cg1"]);
    b.ok(&["delete", "--force", "cg1"]);
    assert!(dead(pid), "{pid}");
    for c in &ctrls {
        assert!(
            !Path::new(&format!("/sys/fs/cgroup/{c}{path}")).exists(),
            "{c}"
        );
    }

    // No cgroupsPath, only the default config's "deny all devices" (runc's
    // too): still a cgroup (the id, under rpod's own), and the list holds.
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("cgroupsPath");
        c["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    });
    b.ok(&["run", "-d", "--bundle", b.path(), "cg4"]);
    let pid4 = b.state("cg4")["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid4}/cgroup")).unwrap();
    let dev_line = own
        .lines()
        .find(|l| l.contains(":devices:"))
        .unwrap_or_else(|| panic!("{own}"));
    assert!(dev_line.ends_with("/cg4"), "{own}");
    let dev_dir = format!(
        "/sys/fs/cgroup/devices{}",
        dev_line.split_once(":devices:").unwrap().1
    );
    let out = b.ok(&[
        "exec",
        "cg4",
        "sh",
        "-c",
        "cat /dev2/ok 2>&1; echo x > /dev/null && echo null-ok",
    ]);
    assert!(out.contains("'/dev2/ok': Operation not permitted"), "{out}");
    assert!(out.contains("null-ok"), "{out}");
    b.ok(&["delete", "--force", "cg4"]);
    assert!(!Path::new(&dev_dir).exists(), "{dev_dir}");

    // A relative path: under rpod's own cgroup (here the test's, which the
    // wrapping shell joins first).
    let parent = format!("{tag}-own");
    for c in &ctrls {
        let d = PathBuf::from(format!("/sys/fs/cgroup/{c}/{parent}"));
        std::fs::create_dir_all(&d).unwrap();
        if c == "cpuset" {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let v = std::fs::read_to_string(format!("/sys/fs/cgroup/cpuset/{f}")).unwrap();
                std::fs::write(d.join(f), v.trim()).unwrap();
            }
        }
        dirs.0.push(d);
    }
    let mut rb = Bundle::new(&env, "rel", Mode::Root);
    let join: String = ctrls
        .iter()
        .map(|c| format!("echo $$ > /sys/fs/cgroup/{c}/{parent}/cgroup.procs; "))
        .collect();
    rb.wrap = vec![
        "sh".into(),
        "-c".into(),
        format!("{join}exec \"$@\""),
        "sh".into(),
    ];
    rb.args(&["sleep", "30"]);
    rb.edit(|c| {
        c["linux"]["cgroupsPath"] = json!("rel1");
        c["linux"]["resources"] = json!({"memory": {"limit": 50331648}});
    });
    rb.ok(&["run", "-d", "--bundle", rb.path(), "cg2"]);
    assert_eq!(
        cg(
            "memory",
            &format!("/{parent}/rel1"),
            "memory.limit_in_bytes"
        ),
        "50331648"
    );
    rb.ok(&["delete", "--force", "cg2"]);
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory/{parent}/rel1")).exists());

    // A controller the host lacks: create fails, nothing is left.
    if !Path::new("/sys/fs/cgroup/hugetlb").exists() {
        b.edit(|c| {
            c["linux"]["cgroupsPath"] = json!(format!("/{tag}/c3"));
            c["linux"]["resources"] =
                json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
        });
        let err = b.fail(&["run", "-d", "--bundle", b.path(), "cg3"]);
        assert!(err.contains("hugetlb"), "{err}");
        assert_eq!(b.ok(&["list", "-q"]).trim(), "");
        assert!(!Path::new(&format!("/sys/fs/cgroup/memory/{tag}/c3")).exists());
    }
}

/// The cgroup2 hierarchy mounted here, if any (the whole of /sys/fs/cgroup
/// on a v2 host, /sys/fs/cgroup/unified on a hybrid one).
fn cgroup2_mount() -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if !post.starts_with("cgroup2 ") {
            return None;
        }
        pre.split(' ').nth(4).map(str::to_string)
    })
}

/// cgroups as root on cgroup v2: linux.resources.devices is enforced by an
/// eBPF device filter on the container's cgroup (runc's way; v2 has no
/// devices controller). On a hybrid host (this one) rpod runs in a mount
/// namespace where the cgroup2 hierarchy is bound onto /sys/fs/cgroup, so
/// it takes its v2 path. A node the rules deny can't be opened (EPERM), one
/// they allow can (ENXIO: no driver behind it), /dev/null still works;
/// `update` with a device list replaces the filter; delete removes the
/// cgroup.
#[test]
fn cgroups_v2_device_filter_as_root() {
    let Some(unified) = cgroup2_mount() else {
        eprintln!("no cgroup2 hierarchy mounted: the v2 path is not testable");
        return;
    };
    let env = Env::new("ocicg2");
    let tag = format!("rpod-it-v2-{}", std::process::id());
    let _dirs = CgroupDirs(vec![PathBuf::from(format!("{unified}/{tag}"))]);
    let mut b = Bundle::new(&env, "b", Mode::Root);
    if unified != "/sys/fs/cgroup" {
        b.wrap = vec![
            "unshare".into(),
            "-m".into(),
            "sh".into(),
            "-c".into(),
            format!("mount --bind {unified} /sys/fs/cgroup && exec \"$@\""),
            "sh".into(),
        ];
    }
    let dev2 = b.dir.join("rootfs/dev2");
    std::fs::create_dir(&dev2).unwrap();
    for (name, minor) in [("ok", 0), ("no", 1)] {
        let st = Command::new("mknod")
            .arg(dev2.join(name))
            .args(["c", "240", &minor.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let path = format!("/{tag}/c1");
    b.args(&["sleep", "30"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(path);
        c["linux"]["resources"] = json!({
            "devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 240, "minor": 0, "access": "rw"}
            ]
        });
    });
    b.ok(&["run", "-d", "--bundle", b.path(), "v2"]);
    let pid = b.state("v2")["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(own.lines().any(|l| l == format!("0::{path}")), "{own}");
    let probe = "cat /dev2/ok 2>&1; cat /dev2/no 2>&1; echo x > /dev/null && echo null-ok";
    let out = b.ok(&["exec", "v2", "sh", "-c", probe]);
    assert!(
        out.contains("'/dev2/ok': No such device or address"),
        "{out}"
    );
    assert!(out.contains("'/dev2/no': Operation not permitted"), "{out}");
    assert!(out.contains("null-ok"), "{out}");

    // update with a device list: the new filter replaces the old one.
    let r = b.dir.join("res.json");
    std::fs::write(
        &r,
        r#"{"devices": [{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 240, "access": "r"}]}"#,
    )
    .unwrap();
    b.ok(&["update", "-r", r.to_str().unwrap(), "v2"]);
    let out = b.ok(&["exec", "v2", "sh", "-c", probe]);
    assert!(
        out.contains("'/dev2/no': No such device or address"),
        "{out}"
    );
    // An update without devices leaves the filter as it is: read only
    // for 240:*, so a write is refused.
    std::fs::write(&r, "{}").unwrap();
    b.ok(&["update", "-r", r.to_str().unwrap(), "v2"]);
    let out = b.ok(&[
        "exec",
        "v2",
        "sh",
        "-c",
        "(echo x > /dev2/ok) 2>&1; echo done",
    ]);
    assert!(out.contains("Operation not permitted"), "{out}");

    // pause and resume: cgroup.freeze; state says paused.
    b.ok(&["pause", "v2"]);
    assert_eq!(
        std::fs::read_to_string(format!("{unified}{path}/cgroup.freeze"))
            .unwrap()
            .trim(),
        "1"
    );
    assert_eq!(b.state("v2")["status"], "paused");
    b.ok(&["resume", "v2"]);
    assert_eq!(b.state("v2")["status"], "running");
    b.ok(&["pause", "v2"]);
    b.ok(&["delete", "--force", "v2"]);
    assert!(dead(pid), "{pid}");
    assert!(!Path::new(&format!("{unified}{path}")).exists());
}

/// LSM labels on a host without the LSM (this one has neither AppArmor nor
/// SELinux): refused at create with a line naming the field, as runc fails
/// them (it does so later, from inside the init); nothing is left behind.
/// linux.mountLabel is what runc does with it: `context="LABEL"` on the
/// tmpfs, devpts and masking mounts, which the kernel refuses without
/// SELinux (the error names the field); a config with none of those
/// mounts runs, as under runc 1.1.5.
#[test]
fn lsm_labels_are_refused_without_the_lsm() {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y");
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    let env = Env::new("ocilsm");
    for mode in [Mode::Root, Mode::User] {
        let b = Bundle::new(&env, &format!("b-{mode:?}"), mode);
        b.args(&["true"]);
        let cases = [
            ("process", "apparmorProfile", "rpod-test", !apparmor),
            (
                "process",
                "selinuxLabel",
                "system_u:system_r:container_t:s0",
                !selinux,
            ),
            (
                "linux",
                "mountLabel",
                "system_u:object_r:container_file_t:s0",
                !selinux,
            ),
        ];
        for (section, key, value, refused) in cases {
            if !refused {
                continue;
            }
            let field = format!("{section}.{key}");
            let before = b.config();
            b.edit(|c| c[section][key] = json!(value));
            let err = b.fail(&["run", "--bundle", b.path(), "lsm"]);
            assert!(err.contains(&field), "{mode:?} {field}: {err}");
            assert_eq!(b.ok(&["list", "-q"]).trim(), "", "{field}");
            b.edit(|c| *c = before);
        }
        // Without them it runs.
        b.ok(&["run", "--bundle", b.path(), "lsm"]);
        // A mount label and no mount that would carry it: runs (runc too).
        if !selinux {
            let before = b.config();
            b.edit(|c| {
                c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
                c["linux"]["maskedPaths"] = json!([]);
                let mounts: Vec<Value> = c["mounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["type"] != "tmpfs" && m["type"] != "devpts")
                    .cloned()
                    .collect();
                c["mounts"] = json!(mounts);
                c["process"]["args"] = json!(["sh", "-c", "echo ran"]);
            });
            let out = b.ok(&["run", "--bundle", b.path(), "lsm2"]);
            assert_eq!(out.trim(), "ran", "{mode:?}");
            b.edit(|c| *c = before);
        }
    }
}

/// podman 4.3 drives rpod as its OCI runtime: a link named `runc` to rpod,
/// behind a wrapper that logs each call, as `podman --runtime`, rootless.
/// The container runs and prints, and every runtime verb podman used was
/// answered by rpod (the log shows create, start and delete).
#[test]
fn podman_runs_containers_with_rpod_as_its_runtime() {
    let env = Env::new("ocipodman");
    let img = env.image("alpine");
    let rt = env.dir.join("rt");
    std::fs::create_dir_all(&rt).unwrap();
    std::os::unix::fs::symlink(common::rpod_bin(), rt.join("runc")).unwrap();
    let log = rt.join("calls");
    let wrapper = rt.join("rpod-as-runc");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n",
            log.display(),
            rt.join("runc").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = crate::archives::podman(
        &env,
        &[
            "--runtime",
            wrapper.to_str().unwrap(),
            "run",
            "--rm",
            "--network",
            "none",
            &img,
            "sh",
            "-c",
            "echo via-rpod $(cat /proc/1/comm)",
        ],
    );
    assert_eq!(out.trim(), "via-rpod sh", "{out}");
    let calls = std::fs::read_to_string(&log).unwrap();
    for verb in [" create ", " start ", " delete "] {
        assert!(
            calls.lines().any(|l| format!(" {l} ").contains(verb)),
            "podman never called{verb}: {calls}"
        );
    }
}
