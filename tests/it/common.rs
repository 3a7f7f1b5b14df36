//! The integration-test harness: run the real `rpod` binary as the
//! unprivileged test user, in a fresh environment per test, against the
//! loopback registries that `tests/world/setup.sh` starts; and the helpers
//! the container tests share (output decoding, state probes and the leak
//! check that follows every scenario).
//!
//! Tests run as root (CI does), so every rpod invocation goes through
//! `runuser -u rpodtest`: root hides bugs, and rootless is the product.
#![allow(dead_code)]

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const WORLD_ENV: &str = "/var/lib/rpod-world/env";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Facts about the test world, from the env file that setup.sh writes.
pub struct World {
    pub vars: HashMap<String, String>,
}

impl World {
    pub fn get(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{WORLD_ENV} has no {key}: re-run tests/world/setup.sh"))
    }
    pub fn user(&self) -> &str {
        self.get("TEST_USER")
    }
    /// Plain-HTTP registry on loopback, e.g. "localhost:5000".
    pub fn registry(&self) -> &str {
        self.get("REGISTRY")
    }
    /// TLS + htpasswd registry on loopback, e.g. "localhost:5443".
    pub fn tls_registry(&self) -> &str {
        self.get("TLS_REGISTRY")
    }
    /// The stub registry that serves broken content, e.g. "localhost:5001".
    pub fn bad_registry(&self) -> &str {
        self.get("BAD_REGISTRY")
    }
    pub fn debian_ok(&self) -> bool {
        self.vars
            .get("DEBIAN_OK")
            .map(|v| v == "1")
            .unwrap_or(false)
    }
}

pub fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let text = std::fs::read_to_string(WORLD_ENV).unwrap_or_else(|e| {
            panic!(
                "the test world is not set up ({WORLD_ENV}: {e}): run `tests/world/setup.sh` as root \
                 (tests/run.sh does it)"
            )
        });
        let vars = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                let v = v.trim().trim_matches('"').trim_matches('\'');
                (k.trim().to_string(), v.to_string())
            })
            .collect();
        World { vars }
    })
}

/// The rpod binary, copied where the test user can execute it: the build
/// tree may sit in root's 0700 home. The small `rpod-monitor` goes beside
/// it, where rpod looks for it, as an installed rpod has it.
pub fn rpod_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bins = [
            PathBuf::from(env!("CARGO_BIN_EXE_rpod")),
            PathBuf::from(env!("CARGO_BIN_EXE_rpod-monitor")),
        ];
        let mut key = String::new();
        for b in &bins {
            let meta = std::fs::metadata(b).expect("rpod binaries");
            let mtime = meta
                .modified()
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            key.push_str(&format!("{:x}-{:x}", mtime % (1 << 48), meta.len()));
        }
        let dir = PathBuf::from(format!("/tmp/rpod-bin/{key}"));
        prune_old_bins(&dir);
        for src in &bins {
            let dst = dir.join(src.file_name().unwrap());
            if dst.exists() {
                continue;
            }
            std::fs::create_dir_all(&dir).unwrap();
            for d in [Path::new("/tmp/rpod-bin"), dir.as_path()] {
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            // Copy then rename, so a parallel test never runs a half-written binary.
            let tmp = dst.with_extension(format!("tmp{}", std::process::id()));
            std::fs::copy(src, &tmp).unwrap();
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::rename(&tmp, &dst).unwrap();
        }
        dir.join("rpod")
    })
}

/// Each build's binaries are a few hundred MB: drop the copies of builds
/// older than two hours (another worktree's run may still use a recent one).
fn prune_old_bins(keep: &Path) {
    let Ok(entries) = std::fs::read_dir("/tmp/rpod-bin") else {
        return;
    };
    let limit = Duration::from_secs(2 * 3600);
    for e in entries.flatten() {
        let p = e.path();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > limit));
        if p != keep && old {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

/// A fresh unprivileged environment: its own HOME, XDG dirs, registries.conf
/// (localhost:5000 searched for short names and insecure) and certs.d CA for
/// the TLS registry. Removed (as root) when dropped.
pub struct Env {
    pub dir: PathBuf,
    pub home: PathBuf,
    pub runtime_dir: PathBuf,
    pub user: String,
    pub extra_env: Vec<(String, String)>,
    keep: bool,
}

impl Env {
    pub fn new(name: &str) -> Env {
        static N: AtomicUsize = AtomicUsize::new(0);
        let w = world();
        let user = w.user().to_string();
        // Short paths: unix socket paths (attach sockets) are limited to 108 bytes.
        let short: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(10)
            .collect();
        let dir = PathBuf::from(format!(
            "/tmp/rt/{}{}-{}",
            short,
            std::process::id() % 100000,
            N.fetch_add(1, Ordering::SeqCst)
        ));
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        std::fs::create_dir_all("/tmp/rt").unwrap();
        std::fs::set_permissions("/tmp/rt", std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = dir.join("h");
        let runtime_dir = dir.join("r");
        let reg = w.registry();
        let tls = w.tls_registry();
        let bad = w.bad_registry();
        let env = Env {
            dir: dir.clone(),
            home: home.clone(),
            runtime_dir: runtime_dir.clone(),
            user: user.clone(),
            extra_env: Vec::new(),
            keep: std::env::var_os("RPOD_KEEP_TEST_DIRS").is_some(),
        };
        let conf = home.join(".config/containers");
        std::fs::create_dir_all(conf.join(format!("certs.d/{tls}"))).unwrap();
        std::fs::create_dir_all(&runtime_dir).unwrap();
        std::fs::write(
            conf.join("registries.conf"),
            format!(
                "unqualified-search-registries = [\"{reg}\"]\n\n\
                 [[registry]]\nlocation = \"{reg}\"\ninsecure = true\n\n\
                 [[registry]]\nlocation = \"{bad}\"\ninsecure = true\n"
            ),
        )
        .unwrap();
        std::fs::copy(w.get("CA_CERT"), conf.join(format!("certs.d/{tls}/ca.crt"))).unwrap();
        let st = Command::new("chown")
            .args(["-R", &format!("{user}:"), dir.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success(), "chown of {}", dir.display());
        for d in [&dir, &home, &runtime_dir] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        env
    }

    /// Add an environment variable to every command of this Env.
    pub fn set_env(&mut self, k: &str, v: &str) {
        self.extra_env.push((k.into(), v.into()));
    }

    fn base(&self) -> Command {
        let bin_dir = rpod_bin().parent().unwrap();
        let mut c = Command::new("runuser");
        c.args(["-u", &self.user, "--", "env", "-i"]);
        let h = self.home.display();
        c.arg(format!("HOME={h}"));
        c.arg(format!("USER={}", self.user));
        c.arg(format!("LOGNAME={}", self.user));
        c.arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display()));
        c.arg(format!("XDG_DATA_HOME={h}/.local/share"));
        c.arg(format!("XDG_CONFIG_HOME={h}/.config"));
        c.arg(format!("PATH={}:{PATH}", bin_dir.display()));
        c.arg("TERM=dumb");
        c.arg("LANG=C.UTF-8");
        if let Ok(v) = std::env::var("RUST_BACKTRACE") {
            c.arg(format!("RUST_BACKTRACE={v}"));
        }
        for (k, v) in &self.extra_env {
            c.arg(format!("{k}={v}"));
        }
        c.current_dir(&self.home);
        c
    }

    /// A `Command` running rpod as the test user, for tests that need to
    /// control stdin or spawn it.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.base();
        c.arg(rpod_bin());
        c.args(args);
        c.stdin(Stdio::null());
        c
    }

    pub fn rpod(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running rpod")
    }

    /// Run rpod with `input` on stdin.
    pub fn rpod_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut c = self.cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("running rpod");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// stdout of a successful rpod command; panics with stderr otherwise.
    pub fn rpod_ok(&self, args: &[&str]) -> String {
        let out = self.rpod(args);
        assert!(
            out.status.success(),
            "rpod {:?} failed with {:?}\nstdout: {}\nstderr: {}",
            args,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// (exit code, stderr) of a failing rpod command; panics on success.
    pub fn rpod_fail(&self, args: &[&str]) -> (i32, String) {
        let out = self.rpod(args);
        assert!(
            !out.status.success(),
            "rpod {:?} succeeded but should have failed\nstdout: {}",
            args,
            String::from_utf8_lossy(&out.stdout)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Run a bash script as the test user in this environment (rpod is on PATH).
    pub fn sh(&self, script: &str) -> Output {
        let mut c = self.base();
        c.args(["bash", "-c", script]);
        c.stdin(Stdio::null());
        c.output().expect("running bash")
    }

    /// Run `script` as the test user (as `sh_ok` does) inside a private mount
    /// namespace that `setup` (a root shell script) prepared first: a test
    /// shapes the machine it asserts about without changing the host's.
    pub fn sh_ok_in_private_mounts(&self, setup: &str, script: &str) -> String {
        let inner = self.base();
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "sh", "-ec"])
            .arg(format!("{setup}\nexec \"$@\""))
            .arg("sh")
            .arg(inner.get_program())
            .args(inner.get_args())
            .args(["bash", "-c", script])
            .current_dir(&self.home)
            .stdin(Stdio::null());
        let out = c.output().expect("running unshare");
        assert!(
            out.status.success(),
            "script failed with {:?}: {setup} / {script}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Like `sh`, but panics unless the script succeeds; returns stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "script failed with {:?}: {script}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Full reference of a fixture on the plain registry, e.g. "localhost:5000/alpine".
    pub fn image(&self, name: &str) -> String {
        format!("{}/{}", world().registry(), name)
    }

    /// The entries of a subdir of this Env's store, sorted, listed as root
    /// (layer dirs belong to subuids the test user can't read).
    pub fn store_entries(&self, sub: &str) -> Vec<String> {
        let dir = self.home.join(".local/share/rpod").join(sub);
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Processes of the test user whose environment points into this Env
    /// (monitors, containers, fuse-overlayfs, network helpers): for leak checks.
    pub fn leftover_processes(&self) -> Vec<String> {
        let needle = format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display());
        let mut found = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return found;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            let hit = environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes());
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            // With the slash: /tmp/rt/x1-1 is not a prefix of /tmp/rt/x1-12's paths.
            let mentions_dir = cmdline.contains(&format!("{}/", self.dir.display()));
            if hit || mentions_dir {
                found.push(format!("{pid}: {cmdline}"));
            }
        }
        found
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("keeping {}", self.dir.display());
            return;
        }
        for p in self.leftover_processes() {
            if let Some(pid) = p.split(':').next() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Build an image on the fly and push it to the plain registry as
/// `localhost:5000/attack-NAME:latest`; returns that reference. `py` is
/// Python run after `from build_fixtures import *` (tests/world): it may set
/// `layers`, a list of layers each a list of entries (`D`, `F`, `L`, `H`,
/// `WH`, `OPQ`, `Entry`), added on top of the alpine layer, and `config`, the
/// image config's `config` object (default: alpine's). Security tests use it
/// to write the hostile image next to the attack that uses it.
pub fn push_image(name: &str, py: &str) -> String {
    let tmp = tempfile::Builder::new()
        .prefix(&format!("rpod-harness-img-{name}-"))
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let script = dir.join("build.py");
    let worlddir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/world");
    let body: String = py.lines().map(|l| format!("{l}\n")).collect();
    std::fs::write(
        &script,
        format!(
            "import sys\nsys.path.insert(0, {worlddir:?})\nfrom build_fixtures import *\n\
             layers = []\nconfig = dict(ALPINE_CONFIG)\n{body}\n\
             lay = Layout(sys.argv[1])\n\
             add_image(lay, [alpine_layer(lay)] + [add_layer(lay, l) for l in layers], config)\n\
             lay.close()\n"
        ),
    )
    .unwrap();
    let layout = dir.join("layout");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&layout)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "building image {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = format!("{}/attack-{name}:latest", world().registry());
    let out = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--preserve-digests",
        ])
        .arg(format!("oci:{}:latest", layout.display()))
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "pushing {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    reference
}

// The container tests' helpers (containers.rs, monitor.rs, reliability.rs, …).

pub fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh environment (the harness installs the small monitor beside rpod).
pub fn new_env(name: &str) -> Env {
    Env::new(name)
}

/// A fresh environment with `alpine` already pulled.
pub fn env_with_alpine(name: &str) -> Env {
    let env = new_env(name);
    env.rpod_ok(&["pull", "-q", "alpine"]);
    env
}

pub fn store_root(env: &Env) -> PathBuf {
    env.home.join(".local/share/rpod")
}

pub fn run_root(env: &Env) -> PathBuf {
    env.runtime_dir.join("rpod")
}

fn entries(dir: PathBuf) -> Vec<String> {
    std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// `{{.Field}}` of one container through `container inspect`.
pub fn field(env: &Env, ctr: &str, tmpl: &str) -> String {
    env.rpod_ok(&["container", "inspect", "--format", tmpl, ctr])
        .trim()
        .to_string()
}

/// Poll `f` until it returns true or `secs` pass.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Host processes whose command line contains `marker` (containers' own
/// processes: tests give them a unique argument, e.g. `sleep 4242017`).
pub fn procs_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = state
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().starts_with('Z'))
            .unwrap_or(false);
        if cmd.contains(marker) && !zombie {
            found.push(format!("{pid}: {cmd}"));
        }
    }
    found
}

/// Nothing of this environment's containers is left: no containers in
/// `ps -a`, no container or runtime dirs, no names, no monitor, fuse or
/// container process (`markers`), no host mount under the env.
pub fn assert_clean(env: &Env, markers: &[&str]) {
    let ps = env.rpod_ok(&["ps", "-a", "-q"]);
    assert_eq!(ps.trim(), "", "containers left in ps -a");
    let ok = eventually(10, || {
        env.leftover_processes().is_empty() && markers.iter().all(|m| procs_with(m).is_empty())
    });
    assert!(
        ok,
        "processes left: {:?} {:?}",
        env.leftover_processes(),
        markers
            .iter()
            .flat_map(|m| procs_with(m))
            .collect::<Vec<_>>()
    );
    // A --rm monitor deletes the files just after its client returned.
    let all = |d: PathBuf| -> Vec<String> {
        std::fs::read_dir(&d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    eventually(10, || {
        all(store_root(env).join("containers")).is_empty()
            && all(run_root(env).join("containers")).is_empty()
    });
    let ctrs = all(store_root(env).join("containers"));
    assert!(ctrs.is_empty(), "container dirs left: {ctrs:?}");
    let run = all(run_root(env).join("containers"));
    assert!(run.is_empty(), "runtime dirs left: {run:?}");
    let names = entries(store_root(env).join("container-names"));
    assert!(names.is_empty(), "names left: {names:?}");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let dir = env.dir.to_string_lossy().to_string();
    assert!(
        !mounts.lines().any(|l| l.contains(&dir)),
        "mounts left under {dir}"
    );
}

/// Removes every container of `env` when dropped, so a failing test does
/// not leave container processes behind (Env's own drop only knows the
/// processes whose environment points into it).
pub struct Reaper<'a>(pub &'a Env);

impl Drop for Reaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.rpod(&["rm", "-a", "-f", "-t", "0"]);
    }
}

/// Pids of all processes below `pid`.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut parents = std::collections::HashMap::<i32, Vec<i32>>::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The ppid is the second field after the ")" that ends the name.
        let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|x| x.parse().ok()) {
            parents.entry(ppid).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in parents.get(&p).cloned().unwrap_or_default() {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

/// SIGKILL every process below `pid` (only this test's: never by name,
/// which would hit a parallel test's processes).
pub fn kill_descendants(pid: i32) {
    for p in descendants(pid) {
        let _ = nix_kill(p);
    }
}

/// Spawn `c` (an [`Env::cmd`]) in a process group of its own, for [`kill9`].
pub fn spawn_killable(mut c: Command) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    c.spawn().expect("spawning rpod")
}

/// kill -9 a child of [`spawn_killable`] and everything below it. The child
/// is runuser, which forks rpod: looking for its children alone misses an rpod
/// forked just after the look, which then runs on beside the test. A signal
/// to the process group reaches it wherever it is (the kernel lets no fork
/// escape a group kill); the walk below then ends what left the group
/// (monitors).
pub fn kill9(child: &mut std::process::Child) {
    let pg = child.id() as i32;
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pg}")])
        .status();
    kill_descendants(pg);
    let _ = child.kill();
    let _ = child.wait();
    // A signal is delivered, not yet acted on: wait until the group holds
    // only zombies (which do nothing more).
    for _ in 0..500 {
        let left = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let Ok(st) = std::fs::read_to_string(e.path().join("stat")) else {
                return false;
            };
            let Some((_, rest)) = st.rsplit_once(')') else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.len() > 3 && f[0] != "Z" && f[3] == pg.to_string()
        });
        if !left {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn nix_kill(pid: i32) -> std::io::Result<()> {
    let st = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    if st.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("kill failed"))
    }
}
