//! `rpod login` / `rpod logout` as the unprivileged test user against the
//! TLS + htpasswd registry on loopback: credentials are checked before they
//! are stored, stored privately, and the password never shows up.

use crate::common;
use crate::common::{world, Env};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const WRONG: &str = "wrong-Pa55word-zq";

fn user() -> &'static str {
    world().get("REG_USER")
}
fn pass() -> &'static str {
    world().get("REG_PASS")
}
fn tls() -> &'static str {
    world().tls_registry()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn auth_json(env: &Env) -> PathBuf {
    env.runtime_dir.join("containers/auth.json")
}

/// `rpod login -u USER --password-stdin ARGS… REGISTRY` with `password` on stdin.
fn login(env: &Env, password: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["login", "-u", user(), "--password-stdin"];
    args.extend_from_slice(extra);
    args.push(tls());
    env.rpod_stdin(&args, format!("{password}\n").as_bytes())
}

fn stored_auth(path: &Path, key: &str) -> Option<String> {
    use base64::Engine;
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).unwrap();
    let b = doc["auths"][key]["auth"].as_str()?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
    Some(String::from_utf8(raw).unwrap())
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn login_writes_private_auth_json_and_get_login_reads_it() {
    let env = Env::new("loginok");
    let out = login(&env, pass(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "Login Succeeded!");
    assert!(!text(&out.stderr).contains(pass()));

    let f = auth_json(&env);
    assert_eq!(mode(&f), 0o600, "{} must be private", f.display());
    let uid: u32 = world().get("TEST_UID").parse().unwrap();
    assert_eq!(std::fs::metadata(&f).unwrap().uid(), uid);
    assert_eq!(mode(f.parent().unwrap()), 0o700);
    assert_eq!(
        stored_auth(&f, tls()).as_deref(),
        Some(format!("{}:{}", user(), pass()).as_str())
    );

    let got = env.rpod_ok(&["login", "--get-login", tls()]);
    assert_eq!(got.trim(), user());

    // Without -u, the stored credentials are checked, not prompted for.
    let again = env.rpod_ok(&["login", tls()]);
    assert!(again.contains("Existing credentials are valid"), "{again}");
}

#[test]
fn wrong_password_is_refused_names_the_registry_and_stores_nothing() {
    let env = Env::new("loginbad");
    let out = login(&env, WRONG, &["--log-level", "debug"]);
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(err.contains(tls()), "{err}");
    assert!(err.contains("invalid username/password"), "{err}");
    assert!(!err.contains(WRONG), "password echoed: {err}");
    assert!(!text(&out.stdout).contains(WRONG));
    assert!(
        !auth_json(&env).exists(),
        "nothing may be stored on a failed login"
    );

    // Also with -p (podman allows it; the password is then in our own argv only).
    let (code, err) = env.rpod_fail(&["login", "-u", user(), "-p", WRONG, tls()]);
    assert_eq!(code, 125);
    assert!(!err.contains(WRONG), "{err}");
    let (code, err) = env.rpod_fail(&["login", "--get-login", tls()]);
    assert_eq!(code, 125);
    assert!(err.contains(&format!("not logged into {}", tls())), "{err}");
}

#[test]
fn password_flag_and_debug_log_never_show_the_password() {
    let env = Env::new("loginpw");
    let out = env.rpod(&[
        "--log-level",
        "debug",
        "login",
        "-u",
        user(),
        "-p",
        pass(),
        tls(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains(pass()), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(pass()));
}

#[test]
fn logout_removes_one_or_all() {
    let env = Env::new("logout");
    assert!(login(&env, pass(), &[]).status.success());
    let f = auth_json(&env);
    // Another key of the file survives a logout of the first.
    let doc = std::fs::read_to_string(&f).unwrap();
    let doc = doc.replacen(
        "\"auths\": {",
        "\"auths\": {\"other.example:1\": {\"auth\": \"dTpw\"},",
        1,
    );
    std::fs::write(&f, doc).unwrap();

    let out = env.rpod_ok(&["logout", tls()]);
    assert_eq!(
        out.trim(),
        format!("Removed login credentials for {}", tls())
    );
    assert_eq!(stored_auth(&f, tls()), None);
    assert_eq!(stored_auth(&f, "other.example:1").as_deref(), Some("u:p"));
    assert_eq!(mode(&f), 0o600);

    let (code, err) = env.rpod_fail(&["logout", tls()]);
    assert_eq!(code, 125);
    assert!(err.contains(&format!("not logged into {}", tls())), "{err}");

    let out = env.rpod_ok(&["logout", "--all"]);
    assert_eq!(out.trim(), "Removed login credentials for all registries");
    assert_eq!(stored_auth(&f, "other.example:1"), None);
}

#[test]
fn authfile_flag_and_env_choose_the_file() {
    let mut env = Env::new("authfile");
    let custom = env.home.join("my-auth.json");
    let out = login(&env, pass(), &["--authfile", custom.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stored_auth(&custom, tls()).is_some());
    assert_eq!(mode(&custom), 0o600);
    assert!(!auth_json(&env).exists());

    let via_env = env.home.join("env-auth.json");
    env.set_env("REGISTRY_AUTH_FILE", via_env.to_str().unwrap());
    let out = login(&env, pass(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stored_auth(&via_env, tls()).is_some());
    assert!(!auth_json(&env).exists());
    let out = env.rpod_ok(&["logout", tls()]);
    assert!(out.contains("Removed login credentials"));
    assert_eq!(stored_auth(&via_env, tls()), None);
}

#[test]
fn corrupt_auth_json_is_named_with_its_line() {
    let env = Env::new("authbad");
    let f = auth_json(&env);
    env.sh_ok(&format!(
        "mkdir -p {0} && printf '{{\\n  \"auths\": {{\\n    oops\\n' > {1}",
        f.parent().unwrap().display(),
        f.display()
    ));
    let (code, err) = env.rpod_fail(&["login", "--get-login", tls()]);
    assert_eq!(code, 125);
    assert!(
        err.contains(&f.display().to_string()) && err.contains("line 3"),
        "{err}"
    );
    // Login refuses to overwrite it.
    let out = login(&env, pass(), &[]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&f).unwrap().contains("oops"));
}

#[test]
fn wrong_ca_is_a_clear_tls_error_and_tls_verify_false_gets_past_it() {
    let env = Env::new("wrongca");
    let ca = env
        .home
        .join(format!(".config/containers/certs.d/{}/ca.crt", tls()));
    std::fs::copy(world().get("OTHER_CA_CERT"), &ca).unwrap();
    let out = login(&env, pass(), &[]);
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(err.contains(tls()), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!auth_json(&env).exists());

    let out = login(&env, pass(), &["--tls-verify=false"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stored_auth(&auth_json(&env), tls()).is_some());
}

#[test]
fn tls_verify_false_without_any_ca_logs_in_over_tls() {
    let env = Env::new("noca");
    std::fs::remove_dir_all(
        env.home
            .join(format!(".config/containers/certs.d/{}", tls())),
    )
    .unwrap();
    let out = login(&env, pass(), &[]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    // The registry speaks only TLS: success means the password went over TLS.
    let out = login(&env, pass(), &["--tls-verify=false"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stored_auth(&auth_json(&env), tls()).is_some());
}

#[test]
fn cert_dir_replaces_the_default_dirs() {
    let env = Env::new("certdir");
    let d = env
        .home
        .join(format!(".config/containers/certs.d/{}", tls()));
    std::fs::remove_dir_all(&d).unwrap();
    // No CA anywhere: the system roots don't know the test CA.
    let out = login(&env, pass(), &[]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    let dir = format!("{}/{}", world().get("CERTS_D"), tls());
    let out = login(&env, pass(), &["--cert-dir", &dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn insecure_registry_is_reached_over_http_unless_tls_verify_is_forced() {
    let env = Env::new("insecure");
    let plain = world().registry();
    // localhost:5000 is insecure in the test registries.conf and needs no auth.
    let out = env.rpod_stdin(&["login", "-u", "x", "--password-stdin", plain], b"y\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = env.rpod_stdin(
        &[
            "login",
            "-u",
            "x",
            "--password-stdin",
            "--tls-verify=true",
            plain,
        ],
        b"y\n",
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains(plain), "{}", text(&out.stderr));
}

#[test]
fn bad_invocations_are_clear_errors() {
    let env = Env::new("loginargs");
    // No username and no terminal to ask on.
    let (code, err) = env.rpod_fail(&["login", tls()]);
    assert_eq!(code, 125);
    assert!(err.contains("username"), "{err}");
    let (code, err) = env.rpod_fail(&["login", "--password-stdin", tls()]);
    assert_eq!(code, 125);
    assert!(err.contains("--username"), "{err}");
    let (code, err) = env.rpod_fail(&["login", "-u", "a", "-p", "b", "--password-stdin", tls()]);
    assert_eq!(code, 125);
    assert!(err.contains("--password-stdin"), "{err}");
    let (code, err) = env.rpod_fail(&["login", "--get-login", "localhost:5443/ns/img:tag"]);
    assert_eq!(code, 125);
    assert!(err.contains("tag or digest"), "{err}");
    // Connection refused names the registry.
    let out = env.rpod_stdin(
        &["login", "-u", "a", "--password-stdin", "localhost:1"],
        b"b\n",
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("localhost:1"),
        "{}",
        text(&out.stderr)
    );
}

/// Run `rpod ARGS` as the test user on a pseudo-terminal (script(1)), feeding
/// each answer only once its prompt has appeared. Returns the transcript.
fn on_tty(env: &Env, args: &str, dialogue: &[(&str, &str)]) -> (bool, String) {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let bin = common::rpod_bin();
    let mut c = Command::new("runuser");
    c.args(["-u", &env.user, "--", "env", "-i"])
        .arg(format!("HOME={}", env.home.display()))
        .arg(format!("XDG_RUNTIME_DIR={}", env.runtime_dir.display()))
        .arg(format!("XDG_CONFIG_HOME={}/.config", env.home.display()))
        .arg("PATH=/usr/bin:/bin")
        .arg("TERM=dumb")
        .args(["script", "-q", "-e", "-c"])
        .arg(format!("{} {args}", bin.display()))
        .arg("/dev/null")
        .current_dir(&env.home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("script");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b2 = buf.clone();
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 1024];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b2.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    let mut seen = 0;
    for (prompt, answer) in dialogue {
        let start = Instant::now();
        loop {
            let t = text(&buf.lock().unwrap());
            if let Some(i) = t[seen..].find(prompt) {
                seen += i + prompt.len();
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no prompt {prompt:?}; transcript: {t}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let t = text(&buf.lock().unwrap());
    (status.success(), t)
}

#[test]
fn prompts_on_a_terminal_without_echoing_the_password() {
    let env = Env::new("logintty");
    let (ok, t) = on_tty(
        &env,
        &format!("login {}", tls()),
        &[("Username: ", user()), ("Password: ", pass())],
    );
    assert!(ok, "{t}");
    assert!(t.contains("Login Succeeded!"), "{t}");
    assert!(t.contains(user()), "the username is echoed: {t}");
    assert!(!t.contains(pass()), "the password must not be echoed: {t}");
    assert!(stored_auth(&auth_json(&env), tls()).is_some());

    // -u given: only the password is asked for; a wrong one is refused.
    let (ok, t) = on_tty(
        &env,
        &format!("login -u {} {}", user(), tls()),
        &[("Password: ", WRONG)],
    );
    assert!(!ok, "{t}");
    assert!(
        t.contains("invalid username/password") && !t.contains(WRONG),
        "{t}"
    );
}

#[test]
fn credentials_are_read_in_podmans_order() {
    use base64::Engine;
    let env = Env::new("authorder");
    let entry = |u: &str| {
        format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
            tls(),
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:pw"))
        )
    };
    let docker = env.home.join(".docker/config.json");
    let xdg = env.home.join(".config/containers/auth.json");
    let custom = env.home.join("custom.json");
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    std::fs::write(&docker, entry("from-docker")).unwrap();
    std::fs::write(&custom, entry("from-authfile")).unwrap();
    let get = |extra: &[&str]| {
        let mut args = vec!["login", "--get-login"];
        args.extend_from_slice(extra);
        args.push(tls());
        env.rpod_ok(&args).trim().to_string()
    };
    assert_eq!(get(&[]), "from-docker");
    std::fs::write(&xdg, entry("from-xdg-config")).unwrap();
    assert_eq!(get(&[]), "from-xdg-config");
    assert!(login(&env, pass(), &[]).status.success());
    assert_eq!(get(&[]), user());
    // An explicit auth file is the only one read.
    assert_eq!(
        get(&["--authfile", custom.to_str().unwrap()]),
        "from-authfile"
    );
    let empty = env.home.join("empty.json");
    let (code, _) = env.rpod_fail(&[
        "login",
        "--get-login",
        "--authfile",
        empty.to_str().unwrap(),
        tls(),
    ]);
    assert_eq!(code, 125);

    // Logout only touches rpod's own file, and says where other credentials live.
    env.rpod_ok(&["logout", tls()]);
    let (code, err) = env.rpod_fail(&["logout", tls()]);
    assert_eq!(code, 125);
    assert!(err.contains(&xdg.display().to_string()), "{err}");
    assert_eq!(get(&[]), "from-xdg-config");
}
