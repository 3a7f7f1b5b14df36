//! `rpod login` and `rpod logout`, as podman does them.
//!
//! Login checks the credentials against the registry's `/v2/` endpoint
//! before storing anything: Basic auth directly, or the Bearer token flow
//! through the realm named in `WWW-Authenticate`. `--tls-verify=false`, or a
//! registry marked insecure in registries.conf, means HTTPS without
//! certificate verification, falling back to plain HTTP only when HTTPS
//! fails (see `transport`).
//! The password is only ever in memory: never in an error, a log line or
//! the arguments of a process.

use super::auth::{self, Credentials, Secret};
use super::reference::Reference;
use super::registries::RegistriesConf;
use super::transport::{describe, Transport};
use super::RegistryOptions;
use crate::error::Error;
use crate::options::Options;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};

/// What `login` is given.
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// The registry (or "host/ns/repo" key); None: the first search registry.
    pub registry: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The password is to be read from standard input (`LoginPrompt::password_stdin`).
    pub password_stdin: bool,
    /// The authfile, TLS settings and `--creds` (USER[:PASS]).
    pub registry_opts: RegistryOptions,
}

/// What `login` tells on its way, before it asks or concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginEvent<'a> {
    /// Stored credentials for this key are being checked.
    CheckingExisting(&'a str),
    /// They are valid: the user is already logged in to this registry.
    ExistingValid(&'a str),
    /// They are not: new ones are asked for.
    ExistingInvalid,
}

/// How `login` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReport {
    /// The stored credentials were valid; nothing was stored.
    AlreadyLoggedIn,
    /// The credentials were checked and stored.
    LoggedIn,
}

/// The user's side of `login`: what it is told, and what it is asked for
/// when the options don't say.
pub trait LoginPrompt {
    fn event(&mut self, e: LoginEvent<'_>) -> Result<()>;
    /// Ask for the username.
    fn username(&mut self) -> Result<String>;
    /// Ask for the password (without echo).
    fn password(&mut self) -> Result<String>;
    /// Read the password from standard input (`--password-stdin`).
    fn password_stdin(&mut self) -> Result<String>;
}

/// The username stored for the registry (`login --get-login`); an error
/// when none is.
pub fn stored_login(
    opts: &Options,
    registry: Option<&str>,
    authfile: Option<&Path>,
) -> Result<String> {
    check_authfile(authfile)?;
    let conf = RegistriesConf::load(opts)?;
    let arg = registry_arg(registry, &conf)?;
    let (key, _) = parse_credentials_key(&arg)?;
    match auth::lookup(&key, authfile)? {
        Some(c) => Ok(c.username),
        None => bail!("not logged into {key}"),
    }
}

/// Check credentials against the registry and store them, as podman: with
/// none given, the stored ones are tried first.
pub fn login(opts: &Options, a: &LoginOptions, ui: &mut dyn LoginPrompt) -> Result<LoginReport> {
    let ro = &a.registry_opts;
    let authfile = ro.authfile.as_deref();
    check_authfile(authfile)?;
    let conf = RegistriesConf::load(opts)?;
    let arg = registry_arg(a.registry.as_deref(), &conf)?;
    let (key, registry) = parse_credentials_key(&arg)?;

    if a.password_stdin && a.password.is_some() {
        bail!("--password and --password-stdin cannot be used together");
    }
    let (creds_user, creds_pass) = match &ro.creds {
        Some(c) => (
            Some(c.username.clone()),
            c.password.as_ref().map(|p| p.0.clone()),
        ),
        None => (None, None),
    };
    let username = a.username.clone().or(creds_user);
    if a.password_stdin && username.is_none() {
        bail!("--password-stdin needs --username");
    }

    let conn = Conn::new(&conf, &registry, ro.tls_verify, ro.cert_dir.as_deref())?;

    // No credentials given: podman first checks the stored ones.
    if username.is_none() && a.password.is_none() && !a.password_stdin && creds_pass.is_none() {
        if let Some(existing) = auth::lookup(&key, authfile)? {
            ui.event(LoginEvent::CheckingExisting(&key))?;
            match conn.check(&existing) {
                Ok(()) => {
                    ui.event(LoginEvent::ExistingValid(&registry))?;
                    return Ok(LoginReport::AlreadyLoggedIn);
                }
                Err(e) if is_unauthorized(&e) => {
                    ui.event(LoginEvent::ExistingInvalid)?;
                }
                Err(e) => return Err(e).with_context(|| format!("logging into {key:?}")),
            }
        }
    }

    let username = match username {
        Some(u) => u,
        None => ui.username()?,
    };
    if username.is_empty() {
        bail!("username can't be empty");
    }
    let password = if let Some(p) = a.password.as_ref().map(|s| s.0.clone()).or(creds_pass) {
        p
    } else if a.password_stdin {
        ui.password_stdin()?
    } else {
        ui.password()?
    };
    if password.is_empty() {
        bail!("password can't be empty");
    }
    let creds = Credentials { username, password };
    conn.check(&creds)
        .with_context(|| format!("logging into {key:?}"))?;
    let path = auth::store(&key, &creds, authfile)?;
    debug!("stored credentials for {key} in {}", path.display());
    Ok(LoginReport::LoggedIn)
}

/// What `logout` is given.
#[derive(Debug, Clone, Default)]
pub struct LogoutOptions {
    /// The registry (or key); None: the first search registry.
    pub registry: Option<String>,
    /// The credentials of every registry.
    pub all: bool,
    pub authfile: Option<PathBuf>,
}

/// Whose credentials `logout` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutReport {
    All,
    /// Those of this auth.json key.
    Key(String),
}

/// Remove stored credentials.
pub fn logout(opts: &Options, a: &LogoutOptions) -> Result<LogoutReport> {
    let authfile = a.authfile.as_deref();
    check_authfile(authfile)?;
    if a.all {
        if a.registry.is_some() {
            bail!("--all takes no registry");
        }
        auth::remove(None, true, authfile)?;
        return Ok(LogoutReport::All);
    }
    let arg = match a.registry.as_deref() {
        Some(r) => r.to_string(),
        None => registry_arg(None, &RegistriesConf::load(opts)?)?,
    };
    let (key, _) = parse_credentials_key(&arg)?;
    auth::remove(Some(&key), false, authfile)?;
    Ok(LogoutReport::Key(key))
}

fn check_authfile(authfile: Option<&Path>) -> Result<()> {
    if let Some(p) = authfile {
        if p.is_dir() {
            bail!("--authfile {}: is a directory, not a file", p.display());
        }
    }
    Ok(())
}

/// The registry argument, or podman's default: the first search registry.
fn registry_arg(arg: Option<&str>, conf: &RegistriesConf) -> Result<String> {
    match arg {
        Some(a) if !a.is_empty() => Ok(a.to_string()),
        _ => conf.search_registries().first().cloned().ok_or_else(|| {
            anyhow!("no registry given, and registries.conf has no unqualified-search-registries")
        }),
    }
}

/// The auth.json key and the registry host for a login/logout argument, as
/// podman: URLs become their host[:port]; "host/ns/repo" keys are allowed
/// but must be fully qualified names without tag or digest.
fn parse_credentials_key(arg: &str) -> Result<(String, String)> {
    let key = match arg
        .strip_prefix("https://")
        .or_else(|| arg.strip_prefix("http://"))
    {
        Some(rest) => rest.split('/').next().unwrap_or("").to_string(),
        None => arg.trim_end_matches('/').to_string(),
    };
    if key.is_empty() {
        bail!("invalid registry {arg:?}");
    }
    let registry = key.split('/').next().unwrap_or(&key).to_string();
    if key != registry {
        let r = Reference::parse(&key)
            .with_context(|| format!("invalid registry or repository {arg:?}"))?;
        if r.tag.is_some() || r.digest.is_some() {
            bail!("{arg:?}: a login key must not carry a tag or digest");
        }
        if r.registry != registry {
            bail!("{arg:?}: {registry:?} is not a registry host (it needs a '.' or a ':port', or is localhost)");
        }
    } else if registry.contains(['@', ' ']) {
        bail!("invalid registry {arg:?}");
    }
    Ok((key, registry))
}

/// The registry refused the credentials (401/403): distinct from network
/// and TLS failures so that `login` can re-prompt.
fn is_unauthorized(e: &anyhow::Error) -> bool {
    matches!(crate::error::find(e), Some(Error::Unauthorized { .. }))
}

/// How to reach one registry (the transport is decided when it is pinged).
struct Conn {
    /// What the user called it (for messages).
    registry: String,
    insecure: bool,
    tls_verify: Option<bool>,
    cert_dir: Option<std::path::PathBuf>,
    rt: tokio::runtime::Runtime,
}

impl Conn {
    fn unauthorized(&self) -> anyhow::Error {
        Error::unauthorized(self.registry.clone())
    }

    fn new(
        conf: &RegistriesConf,
        registry: &str,
        tls_verify: Option<bool>,
        cert_dir: Option<&Path>,
    ) -> Result<Conn> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        Ok(Conn {
            registry: registry.to_string(),
            insecure: conf.registry(registry).insecure,
            tls_verify,
            cert_dir: cert_dir.map(Path::to_path_buf),
            rt,
        })
    }

    /// Ok if the registry accepts `creds` (or needs none).
    fn check(&self, creds: &Credentials) -> Result<()> {
        self.rt.block_on(self.check_async(creds))
    }

    async fn check_async(&self, creds: &Credentials) -> Result<()> {
        let (t, ping) = Transport::connect(
            &self.registry,
            self.insecure,
            self.tls_verify,
            self.cert_dir.as_deref(),
        )
        .await?;
        let status = ping.status();
        if status.is_success() {
            debug!("{} needs no authentication", self.registry);
            return Ok(());
        }
        let challenges = challenges_of(&ping);
        let v2 = format!("{}/v2/", t.base());
        let bearer = challenges.iter().find(|c| c.scheme == "bearer");
        let req = if let Some(c) = bearer {
            let token = self.token(&t, c, creds).await?;
            t.client.get(&v2).bearer_auth(token)
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            t.client
                .get(&v2)
                .basic_auth(&creds.username, Some(&creds.password))
        } else {
            bail!(
                "{} answered 401 without a supported WWW-Authenticate challenge",
                self.registry
            );
        };
        let resp = req
            .send()
            .await
            .map_err(|e| describe(e, &self.registry, t.verify))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            401 | 403 => Err(self.unauthorized()),
            s => bail!("{} answered {s} to {v2}", self.registry),
        }
    }

    /// A token for `/v2/` through the one Bearer flow (`client::fetch_token`),
    /// asking for the scope the challenge names, if any.
    async fn token(&self, t: &Transport, c: &Challenge, creds: &Credentials) -> Result<String> {
        let scopes: Vec<String> = c.param("scope").map(str::to_string).into_iter().collect();
        let pair = Some((creds.username.as_str(), creds.password.as_str()));
        match super::client::fetch_token(t, c, pair, &scopes).await {
            Ok(t) => Ok(t),
            Err(e) => {
                let e = e.into_anyhow();
                if is_unauthorized(&e) {
                    Err(self.unauthorized())
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// One WWW-Authenticate challenge: `Bearer realm="…",service="…"`.
#[derive(Debug, PartialEq)]
pub(super) struct Challenge {
    pub(super) scheme: String,
    pub(super) params: Vec<(String, String)>,
}

impl Challenge {
    pub(super) fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

/// Every challenge a registry's 401 answer offers, in its order.
pub(super) fn challenges_of(resp: &reqwest::Response) -> Vec<Challenge> {
    resp.headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        .collect()
}

pub(super) fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = match h.find(' ') {
        Some(i) => (&h[..i], h[i + 1..].trim()),
        None => (h, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = rest[ks..i].trim().to_string();
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        i += 1;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let mut val = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                let ch = rest[i..].chars().next()?;
                val.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            val = rest[vs..i].trim().to_string();
        }
        if !key.is_empty() {
            params.push((key, val));
        }
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.param("Realm"), Some("Registry Realm"));
        let c = parse_challenge("Basic").unwrap();
        assert!(c.params.is_empty());
        let c = parse_challenge(r#"Bearer realm=http://x/t, service = "a\"b""#).unwrap();
        assert_eq!(c.param("realm"), Some("http://x/t"));
        assert_eq!(c.param("service"), Some("a\"b"));
    }

    #[test]
    fn credentials_keys() {
        let ok = |a: &str| parse_credentials_key(a).unwrap();
        assert_eq!(
            ok("localhost:5443"),
            ("localhost:5443".into(), "localhost:5443".into())
        );
        assert_eq!(
            ok("https://quay.io/v1/"),
            ("quay.io".into(), "quay.io".into())
        );
        assert_eq!(
            ok("quay.io/ns/repo"),
            ("quay.io/ns/repo".into(), "quay.io".into())
        );
        assert_eq!(ok("docker.io"), ("docker.io".into(), "docker.io".into()));
        for bad in ["quay.io/ns/repo:tag", "ns/repo", "quay.io/Upper", ""] {
            assert!(parse_credentials_key(bad).is_err(), "{bad}");
        }
    }

    /// A one-thread HTTP/1.1 stub on loopback. TLS hellos (the HTTPS attempt
    /// that comes first) are dropped; each plain request is answered by
    /// `reply(request head)` and logged.
    fn stub(
        reply: impl Fn(&str, u16) -> String + Send + 'static,
    ) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { break };
                let mut buf = Vec::new();
                let mut b = [0u8; 4096];
                loop {
                    match c.read(&mut b) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&b[..n]),
                    }
                    if buf.first() == Some(&0x16) || buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                if buf.first() == Some(&0x16) || buf.is_empty() {
                    continue;
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let resp = reply(&head, port);
                log2.lock().unwrap().push(head);
                let _ = c.write_all(resp.as_bytes());
            }
        });
        (port, log)
    }

    fn resp(status: &str, extra: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    }

    fn basic(u: &str, p: &str) -> String {
        use base64::Engine;
        format!(
            "authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    }

    fn conn(port: u16) -> Conn {
        Conn::new(
            &RegistriesConf::default(),
            &format!("127.0.0.1:{port}"),
            Some(false),
            None,
        )
        .unwrap()
    }

    fn creds(p: &str) -> Credentials {
        Credentials {
            username: "alice".into(),
            password: p.into(),
        }
    }

    #[test]
    fn bearer_token_flow() {
        let (port, log) = stub(|head, port| {
            let h = head.to_lowercase();
            if head.starts_with("GET /token") {
                if h.contains(&basic("alice", "s3cret").to_lowercase()) {
                    resp("200 OK", "", r#"{"token":"T0K"}"#)
                } else {
                    resp("401 Unauthorized", "", "")
                }
            } else if h.contains("authorization: bearer t0k") {
                resp("200 OK", "", "{}")
            } else {
                resp(
                    "401 Unauthorized",
                    &format!(
                        "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"stub\",scope=\"registry:catalog:*\"\r\n"
                    ),
                    "",
                )
            }
        });
        let c = conn(port);
        c.check(&creds("s3cret")).unwrap();
        let e = c.check(&creds("wrong")).unwrap_err();
        assert!(is_unauthorized(&e), "{e:#}");
        let log = log.lock().unwrap();
        let token_req = log.iter().find(|h| h.starts_with("GET /token")).unwrap();
        let first_line = token_req.lines().next().unwrap();
        assert!(
            first_line.contains("service=stub") && first_line.contains("account=alice"),
            "{first_line}"
        );
        assert!(
            first_line.contains("scope=registry%3Acatalog%3A*"),
            "{first_line}"
        );
        // The password travels only in the Authorization header.
        assert!(log
            .iter()
            .all(|h| !h.lines().next().unwrap().contains("s3cret")));
    }

    #[test]
    fn basic_flow_and_no_auth_registry() {
        let (port, _) = stub(|head, _| {
            if head
                .to_lowercase()
                .contains(&basic("alice", "pw").to_lowercase())
            {
                resp("200 OK", "", "{}")
            } else {
                resp(
                    "401 Unauthorized",
                    "WWW-Authenticate: Basic realm=\"r\"\r\n",
                    "",
                )
            }
        });
        let c = conn(port);
        c.check(&creds("pw")).unwrap();
        let e = c.check(&creds("nope")).unwrap_err();
        assert_eq!(format!("{e:#}"), "invalid username/password");

        // A registry that needs no credentials accepts any (as podman).
        let (port, _) = stub(|_, _| resp("200 OK", "", "{}"));
        conn(port).check(&creds("x")).unwrap();
        // Something that isn't a registry is named as such.
        let (port, _) = stub(|_, _| resp("404 Not Found", "", ""));
        let e = format!("{:#}", conn(port).check(&creds("x")).unwrap_err());
        assert!(
            e.contains(&format!("127.0.0.1:{port}")) && e.contains("404"),
            "{e}"
        );
    }
}
