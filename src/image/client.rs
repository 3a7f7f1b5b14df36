//! The registry side of pulls and pushes: authorisation (Basic, or a Bearer
//! token from the realm the registry names, for the scopes the operation
//! needs: the one token flow of pull, push and login) and bounded requests
//! over the transport `transport.rs` chose. Nothing a registry sends is read
//! whole without a bound: manifests, configs, tokens and error bodies are
//! capped, and blobs are streamed to the caller.

use super::login::{challenges_of, Challenge};
use super::transport::{describe, read_bounded, Transport};
use crate::error::Error;
use anyhow::{anyhow, Result};
use serde::Deserialize;
use tokio::sync::Mutex;

/// The most of an error answer or a token response that is read.
const MAX_SMALL_BODY: u64 = 1 << 20;

/// One registry, pinged, for pulls from (or pushes to) one repository.
pub(super) struct RegistryClient {
    pub transport: Transport,
    pub registry: String,
    pub repository: String,
    creds: Option<(String, String)>,
    /// The ping's challenge, when it answered 401.
    challenge: Option<Challenge>,
    /// What a Bearer token is asked for (`repository:REPO:pull` by default).
    scopes: Vec<String>,
    token: Mutex<Option<String>>,
}

/// What went wrong with a request, for the retry logic.
#[derive(Debug)]
pub(super) enum FetchError {
    /// Worth another try: the network, a 5xx or a 429.
    Transient(anyhow::Error),
    /// Not worth one: what the registry said, or what it sent.
    Fatal(anyhow::Error),
}

impl FetchError {
    pub(super) fn into_anyhow(self) -> anyhow::Error {
        match self {
            FetchError::Transient(e) | FetchError::Fatal(e) => e,
        }
    }
}

impl RegistryClient {
    pub(super) async fn connect(
        registry: &str,
        repository: &str,
        insecure: bool,
        tls_verify: Option<bool>,
        cert_dir: Option<&std::path::Path>,
        creds: Option<(String, String)>,
    ) -> Result<RegistryClient> {
        let (transport, ping) =
            Transport::connect(registry, insecure, tls_verify, cert_dir).await?;
        let challenge = if ping.status().as_u16() == 401 {
            challenges_of(&ping)
                .into_iter()
                .find(|c| c.scheme == "bearer")
                .or_else(|| Some(Challenge::basic()))
        } else {
            None
        };
        Ok(RegistryClient {
            transport,
            registry: registry.to_string(),
            repository: repository.to_string(),
            creds,
            challenge,
            scopes: vec![format!("repository:{repository}:pull")],
            token: Mutex::new(None),
        })
    }

    /// Ask Bearer tokens for these scopes instead (e.g. a push's
    /// `repository:REPO:pull,push` and `repository:FROM:pull` for mounts).
    pub(super) fn set_scopes(&mut self, scopes: Vec<String>) {
        self.scopes = scopes;
        *self.token.get_mut() = None;
    }

    pub(super) fn had_creds(&self) -> bool {
        self.creds.is_some()
    }

    /// "https://host/v2/REPO/KIND/REF".
    pub(super) fn url(&self, kind: &str, reference: &str) -> String {
        format!(
            "{}/v2/{}/{kind}/{reference}",
            self.transport.base(),
            self.repository
        )
    }

    /// GET `kind/reference` with authorisation; a 401 with a Bearer
    /// challenge gets one fresh token and one more try (tokens expire).
    async fn get(
        &self,
        kind: &str,
        reference: &str,
        accept: Option<&str>,
    ) -> std::result::Result<reqwest::Response, FetchError> {
        let url = self.url(kind, reference);
        self.send(|| {
            let req = self.transport.client.get(&url);
            match accept {
                Some(a) => req.header(reqwest::header::ACCEPT, a),
                None => req,
            }
        })
        .await
    }

    /// Send a request built by `build` with authorisation; a 401 with a
    /// Bearer challenge gets one fresh token and one more try. `build` must
    /// give a request whose body can be sent twice (or none).
    pub(super) async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> std::result::Result<reqwest::Response, FetchError> {
        let mut refreshed = false;
        loop {
            let req = self.authorize(build()).await?;
            let resp = req.send().await.map_err(|e| self.network(e))?;
            let bearer = matches!(&self.challenge, Some(c) if c.scheme == "bearer");
            if resp.status().as_u16() == 401 && bearer && !refreshed {
                debug!("{}: 401, getting a fresh token", resp.url());
                *self.token.lock().await = None;
                refreshed = true;
                continue;
            }
            return Ok(resp);
        }
    }

    pub(super) fn network(&self, e: reqwest::Error) -> FetchError {
        network_error(e, &self.registry, self.transport.verify)
    }

    /// Add the credentials (Basic) or the token (Bearer, fetched once) the
    /// registry asked for.
    pub(super) async fn authorize(
        &self,
        req: reqwest::RequestBuilder,
    ) -> std::result::Result<reqwest::RequestBuilder, FetchError> {
        let Some(c) = &self.challenge else {
            return Ok(req);
        };
        if c.scheme != "bearer" {
            return Ok(match &self.creds {
                Some((u, p)) => req.basic_auth(u, Some(p)),
                None => req,
            });
        }
        let mut token = self.token.lock().await;
        if token.is_none() {
            let creds = self.creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
            *token = Some(fetch_token(&self.transport, c, creds, &self.scopes).await?);
        }
        Ok(req.bearer_auth(token.as_deref().unwrap_or_default()))
    }

    /// A registry's error answer as one line (and whether to retry).
    pub(super) fn status_error(&self, code: u16, body: &[u8], url: &str) -> FetchError {
        status_error(&self.registry, self.had_creds(), code, body, url)
    }

    /// GET something small (a manifest, a config) whole, refusing it over
    /// `max` bytes before reading it (Content-Length) or while reading it.
    pub(super) async fn get_small(
        &self,
        kind: &str,
        reference: &str,
        accept: Option<&str>,
        what: &str,
        max: u64,
    ) -> std::result::Result<Vec<u8>, FetchError> {
        let resp = self.get(kind, reference, accept).await?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let url = resp.url().to_string();
            let body = read_bounded(resp, MAX_SMALL_BODY, what, true)
                .await
                .map_err(FetchError::Transient)?;
            return Err(self.status_error(status, &body, &url));
        }
        read_bounded(resp, max, what, false).await.map_err(|e| {
            if e.is::<reqwest::Error>() {
                FetchError::Transient(e)
            } else {
                FetchError::Fatal(e)
            }
        })
    }

    /// GET a blob for streaming: the response once its status is a success
    /// and its Content-Length (if any) isn't over `size`.
    pub(super) async fn get_blob(
        &self,
        digest: &str,
        size: u64,
    ) -> std::result::Result<reqwest::Response, FetchError> {
        let resp = self.get("blobs", digest, None).await?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let url = resp.url().to_string();
            let body = read_bounded(resp, MAX_SMALL_BODY, "an error answer", true)
                .await
                .map_err(FetchError::Transient)?;
            return Err(self.status_error(status, &body, &url));
        }
        if let Some(len) = resp.content_length().filter(|&l| l > size) {
            return Err(FetchError::Fatal(anyhow!(
                "the registry sends {len} bytes, the descriptor says {size}"
            )));
        }
        Ok(resp)
    }
}

fn network_error(e: reqwest::Error, registry: &str, verify: bool) -> FetchError {
    let transient = e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
    let e = describe(e, registry, verify);
    if transient {
        FetchError::Transient(e)
    } else {
        FetchError::Fatal(e)
    }
}

/// The Bearer token flow, the one of pull, push and login: GET
/// realm?scope=…&service=…[&account=USER] with Basic credentials when there
/// are any. A refusal (401/403) is an [`Error::Unauthorized`].
pub(super) async fn fetch_token(
    t: &Transport,
    c: &Challenge,
    creds: Option<(&str, &str)>,
    scopes: &[String],
) -> std::result::Result<String, FetchError> {
    let registry = &t.registry;
    let realm = c.param("realm").ok_or_else(|| {
        FetchError::Fatal(anyhow!("{registry}: Bearer challenge without a realm"))
    })?;
    let mut query: Vec<(&str, &str)> = scopes.iter().map(|s| ("scope", s.as_str())).collect();
    if let Some(s) = c.param("service") {
        query.push(("service", s));
    }
    let mut req = t.client.get(realm).query(&query);
    if let Some((u, p)) = creds {
        req = req.query(&[("account", u)]).basic_auth(u, Some(p));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| network_error(e, registry, t.verify))
        .map_err(|e| match e {
            FetchError::Transient(e) => {
                FetchError::Transient(e.context(format!("getting a token from {realm}")))
            }
            FetchError::Fatal(e) => {
                FetchError::Fatal(e.context(format!("getting a token from {realm}")))
            }
        })?;
    let status = resp.status().as_u16();
    let body = read_bounded(resp, MAX_SMALL_BODY, "the token", true)
        .await
        .map_err(|e| FetchError::Transient(e.context(format!("getting a token from {realm}"))))?;
    if !(200..300).contains(&status) {
        return Err(status_error(
            registry,
            creds.is_some(),
            status,
            &body,
            realm,
        ));
    }
    #[derive(Deserialize)]
    struct Token {
        #[serde(default)]
        token: String,
        #[serde(default)]
        access_token: String,
    }
    let t: Token = serde_json::from_slice(&body)
        .map_err(|e| FetchError::Fatal(anyhow!("{realm} returned no usable token: {e}")))?;
    let t = if t.token.is_empty() {
        t.access_token
    } else {
        t.token
    };
    if t.is_empty() {
        return Err(FetchError::Fatal(anyhow!("{realm} returned no token")));
    }
    Ok(t)
}

/// A registry's error answer as one line (and whether to retry): the
/// messages of its JSON error envelope, else the status. 401 and 403 are
/// [`Error::Unauthorized`], worded for whether credentials were given;
/// 5xx (but 501 and 505) and 429 are [`Error::Transient`].
pub(super) fn status_error(
    registry: &str,
    had_creds: bool,
    code: u16,
    body: &[u8],
    url: &str,
) -> FetchError {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default)]
        errors: Vec<RegErr>,
    }
    #[derive(Deserialize)]
    struct RegErr {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let msgs: Vec<String> = serde_json::from_slice::<Envelope>(body)
        .map(|e| {
            e.errors
                .into_iter()
                .map(|x| {
                    if x.message.is_empty() {
                        x.code
                    } else {
                        x.message
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let detail = if msgs.is_empty() {
        format!("status {code} from {url}")
    } else {
        msgs.join("; ")
    };
    match code {
        401 | 403 => {
            let message = if had_creds {
                format!("{registry}: invalid username/password ({detail})")
            } else {
                format!(
                    "{registry}: authentication required: log in with `rpod login {registry}` ({detail})"
                )
            };
            FetchError::Fatal(
                Error::Unauthorized {
                    registry: registry.to_string(),
                    message,
                }
                .into(),
            )
        }
        // Not Implemented, HTTP Version Not Supported: asking again won't help.
        501 | 505 => FetchError::Fatal(anyhow!("{detail}")),
        _ if code >= 500 || code == 429 => FetchError::Transient(Error::Transient(detail).into()),
        _ => FetchError::Fatal(anyhow!("{detail}")),
    }
}

impl Challenge {
    /// A Basic challenge (also what a 401 without a usable header means).
    pub(super) fn basic() -> Challenge {
        Challenge {
            scheme: "basic".into(),
            params: vec![],
        }
    }
}

/// Retry `f` up to `tries` times on transient failures.
pub(super) async fn with_retries<T, F, Fut>(what: &str, tries: u32, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, FetchError>>,
{
    let mut attempt = 1;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(FetchError::Transient(e)) if attempt < tries => {
                debug!("{what}: {e:#}; retrying ({attempt}/{tries})");
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into_anyhow()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    /// A plain-HTTP Bearer registry stub on loopback: `/v2/` answers 401
    /// with a challenge, `/token` gives a token to alice:pw only; every
    /// request line is logged. TLS hellos (tried first) are dropped.
    fn bearer_stub() -> (String, Arc<Mutex<Vec<String>>>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { break };
                let mut buf = Vec::new();
                let mut b = [0u8; 4096];
                while let Ok(n) = c.read(&mut b) {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&b[..n]);
                    if buf[0] == 0x16 || buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                if buf.is_empty() || buf[0] == 0x16 {
                    continue;
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let line = head.lines().next().unwrap_or_default().to_string();
                use base64::Engine;
                let alice = base64::engine::general_purpose::STANDARD.encode("alice:pw");
                let (status, extra, body) = if line.starts_with("GET /token") {
                    if head.contains(&alice) {
                        ("200 OK", String::new(), r#"{"access_token":"T0K"}"#)
                    } else {
                        ("401 Unauthorized", String::new(), "")
                    }
                } else {
                    (
                        "401 Unauthorized",
                        format!("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"stub\"\r\n"),
                        "",
                    )
                };
                log2.lock().unwrap().push(line);
                let _ = c.write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        (format!("127.0.0.1:{port}"), log)
    }

    #[test]
    fn one_token_for_every_scope_a_push_needs() {
        let (reg, log) = bearer_stub();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (t, ping) = rt
            .block_on(Transport::connect(&reg, false, Some(false), None))
            .unwrap();
        let c = challenges_of(&ping).into_iter().next().unwrap();
        let scopes = vec![
            "repository:team/app:pull,push".to_string(),
            "repository:library/alpine:pull".to_string(),
        ];
        let tok = rt
            .block_on(fetch_token(&t, &c, Some(("alice", "pw")), &scopes))
            .unwrap();
        assert_eq!(tok, "T0K");
        let line = log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.starts_with("GET /token"))
            .cloned()
            .unwrap();
        assert!(
            line.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush&scope=repository%3Alibrary%2Falpine%3Apull")
                && line.contains("service=stub")
                && line.contains("account=alice")
                && !line.contains("pw"),
            "{line}"
        );
        // Refused credentials are an Unauthorized naming the registry.
        let e = rt
            .block_on(fetch_token(&t, &c, Some(("alice", "nope")), &scopes))
            .unwrap_err()
            .into_anyhow();
        let Some(Error::Unauthorized { registry, message }) = crate::error::find(&e) else {
            panic!("not Unauthorized: {e:#}");
        };
        assert!(
            registry == &reg
                && message.contains(&reg)
                && message.contains("invalid username/password"),
            "{message}"
        );
    }
}
