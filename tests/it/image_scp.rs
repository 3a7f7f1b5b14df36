//! `rpod image scp`: an image copied to, from and between hosts over ssh (a
//! real sshd of the test's own on a random loopback port, whose sessions
//! are a second test environment of the same user), renamed on the way,
//! within one user's storage (`USER@localhost::`), and the failures:
//! podman's argument errors, an unreachable host, another user's storage
//! without root; and hostile SOURCE/DESTINATION strings that try to become
//! ssh options or shell code, refused with nothing run.

use crate::common::{env_with_alpine, new_env, rpod_bin, Env};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SYS_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn write(p: &Path, text: &str, mode: u32) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(env: &Env, p: &Path) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:", env.user))
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(st.success());
}

/// Make `client` reach ssh through a wrapper on its PATH that logs every
/// invocation to `DIR/ssh.log` and uses `DIR/ssh_config` (ssh reads the
/// config of the password database's home, not of $HOME). Returns DIR.
fn ssh_wrapper(client: &mut Env, config: &str) -> PathBuf {
    let dir = client.dir.join("ssh");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("ssh.log");
    write(&dir.join("ssh_config"), config, 0o600);
    write(
        &dir.join("ssh"),
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexec /usr/bin/ssh -F {} \"$@\"\n",
            log.display(),
            dir.join("ssh_config").display()
        ),
        0o755,
    );
    chown(client, &dir);
    let bin = rpod_bin().parent().unwrap().display().to_string();
    client.set_env("PATH", &format!("{}:{bin}:{SYS_PATH}", dir.display()));
    dir
}

/// An sshd of this test's own on 127.0.0.1: it accepts the test user with
/// a key made here, and its sessions run as the environment `remote` (its
/// HOME, XDG directories, and rpod first on PATH). Killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// The client key, readable by the test user.
    key: PathBuf,
}

impl Sshd {
    fn start(remote: &Env, client: &Env) -> Sshd {
        let bin = rpod_bin().parent().unwrap().display().to_string();
        Sshd::start_with_path(remote, client, &format!("{bin}:{SYS_PATH}"))
    }

    /// With this PATH in the sessions.
    fn start_with_path(remote: &Env, client: &Env, path: &str) -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "no /usr/sbin/sshd: run tests/world/setup.sh (it installs openssh-server)"
        );
        let dir = remote.dir.with_extension("sshd");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        keygen(&dir.join("hostkey"));
        let key = client.dir.join("id");
        keygen(&key);
        chown(client, &key);
        chown(client, &key.with_extension("pub"));
        std::fs::copy(key.with_extension("pub"), dir.join("authorized_keys")).unwrap();
        // The privilege separation directory sshd insists on.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let h = remote.home.display();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nUsePAM yes\nStrictModes no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nAllowUsers {user}\n\
             X11Forwarding no\nAllowTcpForwarding no\nPrintMotd no\n\
             SetEnv HOME={h} XDG_RUNTIME_DIR={r} XDG_DATA_HOME={h}/.local/share \
             XDG_CONFIG_HOME={h}/.config PATH={path}\n",
            d = dir.display(),
            user = remote.user,
            r = remote.runtime_dir.display(),
        );
        write(&dir.join("sshd_config"), &config, 0o600);
        let child = Command::new(sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .expect("starting sshd");
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "sshd did not listen on {port}: {}",
                std::fs::read_to_string(dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            child,
            port,
            dir,
            key,
        }
    }

    /// The client's ssh_config for this server.
    fn client_config(&self) -> String {
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  \
             UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n  ConnectTimeout 10\n",
            self.key.display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Our own child, by its pid; its session processes end with their
        // connections.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn id_of(env: &Env, image: &str) -> String {
    env.rpod_ok(&["image", "inspect", "--format", "{{.Id}}", image])
        .trim()
        .to_string()
}

#[test]
fn copies_to_and_from_another_host_over_ssh_with_the_same_id() {
    let mut here = env_with_alpine("scpssh");
    let there = new_env("scpremote");
    let sshd = Sshd::start(&there, &here);
    ssh_wrapper(&mut here, &sshd.client_config());
    let id = id_of(&here, "alpine");
    let host = format!("{}@127.0.0.1:{}", here.user, sshd.port);

    // Here to there.
    let out = here.rpod_ok(&["image", "scp", "alpine", &format!("{host}::")]);
    assert!(out.starts_with("Loaded image: "), "{out}");
    assert_eq!(id_of(&there, "alpine"), id, "the id on the other host");

    // Renamed on the way (podman's IMAGE HOST::NAME).
    here.rpod_ok(&[
        "image",
        "scp",
        "-q",
        "alpine",
        &format!("{host}::copied:v1"),
    ]);
    assert_eq!(id_of(&there, "copied:v1"), id);

    // There to here: gone here first, back with the same id.
    here.rpod_ok(&["rmi", "alpine"]);
    assert!(!here.rpod(&["image", "exists", "alpine"]).status.success());
    let out = here.rpod_ok(&["image", "scp", &format!("{host}::copied:v1")]);
    assert!(out.contains("copied:v1"), "{out}");
    assert_eq!(id_of(&here, "copied:v1"), id, "the id back here");

    // From one host to another (here the same one), renamed.
    here.rpod_ok(&[
        "image",
        "scp",
        &format!("{host}::copied:v1"),
        &format!("{host}::twice:v2"),
    ]);
    assert_eq!(id_of(&there, "twice:v2"), id, "the id after host to host");
    // No archive left behind.
    let left: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("rpod-scp-"))
        .collect();
    assert!(left.is_empty(), "{left:?} left in /tmp");
}

#[test]
fn a_remote_host_without_rpod_gets_podman() {
    let mut here = env_with_alpine("scppodman");
    let there = new_env("scppodmant");
    // A stand-in podman on the remote PATH, and no rpod there (an
    // installed one may be in /usr/local/bin: not on this PATH).
    let fake = there.dir.join("fakebin");
    std::fs::create_dir_all(&fake).unwrap();
    let log = there.dir.join("podman.log");
    write(
        &fake.join("podman"),
        &format!(
            "#!/bin/sh\nn=$(wc -c | tr -d ' ')\necho \"podman $* ($n bytes)\" >> {}\n\
             echo 'Loaded image: localhost/fake:latest'\n",
            log.display()
        ),
        0o755,
    );
    chown(&there, &fake);
    let sshd = Sshd::start_with_path(&there, &here, &format!("{}:/usr/bin:/bin", fake.display()));
    ssh_wrapper(&mut here, &sshd.client_config());
    let host = format!("{}@127.0.0.1:{}", here.user, sshd.port);
    let out = here.rpod_ok(&["image", "scp", "-q", "alpine", &format!("{host}::")]);
    assert_eq!(out, "Loaded image: localhost/fake:latest\n");
    let ran = std::fs::read_to_string(&log).unwrap();
    assert!(ran.starts_with("podman load -q ("), "{ran}");
    // The whole archive went in.
    let n: u64 = ran
        .split('(')
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 100_000, "{ran}");
}

#[test]
fn an_image_missing_on_the_remote_host_is_one_error() {
    let mut here = new_env("scpmissing");
    let there = new_env("scpmisst");
    let sshd = Sshd::start(&there, &here);
    ssh_wrapper(&mut here, &sshd.client_config());
    let host = format!("{}@127.0.0.1:{}", here.user, sshd.port);
    let (code, err) = here.rpod_fail(&["image", "scp", &format!("{host}::nosuchimage")]);
    assert_eq!(code, 125, "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Error: saving nosuchimage on ssh://")
            && last.ends_with("exit status 125"),
        "{err}"
    );
    assert!(
        err.contains("nosuchimage"),
        "the remote rpod's own reason: {err}"
    );
}

#[test]
fn an_unreachable_host_fails_after_one_ssh_attempt() {
    let mut here = env_with_alpine("scpunreach");
    let dir = ssh_wrapper(
        &mut here,
        "Host *\n  BatchMode yes\n  StrictHostKeyChecking no\n  ConnectTimeout 5\n",
    );
    // A loopback port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A bare HOST (podman's connection name): the user is ours, with a warning.
    let dest = format!("127.0.0.1:{port}::");
    let (code, err) = here.rpod_fail(&["image", "scp", "-q", "alpine", &dest]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains(&format!(
            "Unknown connection name given: using ssh://{}@127.0.0.1:{port}",
            here.user
        )),
        "{err}"
    );
    let errs: Vec<_> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errs.len(), 1, "{err}");
    assert!(
        errs[0].contains(&format!(
            "loading alpine on ssh://{}@127.0.0.1:{port}",
            here.user
        )),
        "{err}"
    );
    let log = std::fs::read_to_string(dir.join("ssh.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains(&format!("-T -l {} -p {port} -- 127.0.0.1 sh -c", here.user)),
        "{log}"
    );
}

#[test]
fn hostile_sources_and_destinations_run_nothing() {
    let mut here = env_with_alpine("scphostile");
    let dir = ssh_wrapper(&mut here, "Host *\n  BatchMode yes\n");
    let marker = here.dir.join("pwned");
    let m = marker.display().to_string();
    let hostile = [
        format!("-oProxyCommand=touch {m}::alpine"),
        format!("-oProxyCommand=touch${{IFS}}{m}::"),
        format!("x@-oProxyCommand=touch${{IFS}}{m}::"),
        format!("rpodtest@127.0.0.1::alpine;touch {m}"),
        format!("rpodtest@127.0.0.1::$(touch {m})"),
        format!("rpodtest@127.0.0.1::`touch {m}`"),
        format!("rpodtest;touch {m}@127.0.0.1::"),
        format!("127.0.0.1:22;touch {m}::"),
        format!("rpodtest@127.0.0.1 -oProxyCommand=touch {m}::"),
        format!("x;touch {m}@localhost::"),
        "-l@localhost::".to_string(),
    ];
    for arg in &hostile {
        // After `--` every string reaches rpod's own checks.
        for args in [
            vec!["image", "scp", "--", "alpine", arg.as_str()],
            vec!["image", "scp", "--", arg.as_str()],
        ] {
            let (code, err) = here.rpod_fail(&args);
            assert_eq!(code, 125, "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "one line for {args:?}: {err}");
            assert!(err.contains("invalid argument"), "{args:?}: {err}");
        }
        // Without it, one that starts with '-' is an unknown flag to clap.
        here.rpod_fail(&["image", "scp", "alpine", arg.as_str()]);
    }
    assert!(!marker.exists(), "a hostile argument ran a command");
    assert!(!dir.join("ssh.log").exists(), "ssh was run");
}

#[test]
fn podman_argument_errors() {
    let here = new_env("scpargs");
    for (args, want) in [
        (
            vec!["alpine"],
            "Error: must specify a destination: invalid argument",
        ),
        (
            vec!["host::"],
            "Error: no source image specified: invalid argument",
        ),
        (
            vec!["host::", "other::"],
            "Error: a source image must be specified: invalid argument",
        ),
    ] {
        let mut a = vec!["image", "scp"];
        a.extend(args);
        let (code, err) = here.rpod_fail(&a);
        assert_eq!(code, 125, "{a:?}");
        assert_eq!(err.trim_end(), want, "{a:?}");
    }
}

#[test]
fn within_one_users_storage_renames_with_the_same_id() {
    let here = env_with_alpine("scpself");
    let id = id_of(&here, "alpine");
    let me = format!("{}@localhost::", here.user);
    let out = here.rpod_ok(&[
        "image",
        "scp",
        &format!("{me}alpine"),
        &format!("{me}mine:copy"),
    ]);
    assert!(out.starts_with("Loaded image: "), "{out}");
    assert_eq!(id_of(&here, "mine:copy"), id);
}

#[test]
fn another_users_storage_without_root_is_refused() {
    let here = env_with_alpine("scpother");
    // Without root, root's storage is reached through sudo (as podman
    // does); other users' not at all.
    let (code, err) = here.rpod_fail(&["image", "scp", "alpine", "nobody@localhost::"]);
    assert_eq!(code, 125, "{err}");
    assert_eq!(
        err.trim_end(),
        "Error: copying to or from nobody's storage needs root: run rpod image scp as root, \
         or use nobody@HOST:: over ssh"
    );
    let (code, err) = here.rpod_fail(&["image", "scp", "nosuchuser@localhost::alpine"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("no such user \"nosuchuser\""), "{err}");
}
