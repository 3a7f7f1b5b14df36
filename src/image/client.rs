//! The registry side of a pull: authorisation (Basic, or a Bearer token
//! from the realm the registry names) and bounded GETs of manifests and
//! blobs over the transport `transport.rs` chose. Nothing a registry sends
//! is read whole without a bound: manifests, configs, tokens and error
//! bodies are capped, and blobs are streamed to the caller.

use super::login::{challenges_of, Challenge};
use super::transport::{describe, read_bounded, Transport};
use anyhow::{anyhow, Result};
use serde::Deserialize;
use tokio::sync::Mutex;

/// The most of an error answer or a token response that is read.
const MAX_SMALL_BODY: u64 = 1 << 20;

/// One registry, pinged, for pulls from one repository.
pub struct RegistryClient {
    pub transport: Transport,
    pub registry: String,
    repository: String,
    creds: Option<(String, String)>,
    /// The ping's challenge, when it answered 401.
    challenge: Option<Challenge>,
    token: Mutex<Option<String>>,
}

/// What went wrong with a request, for the retry logic.
#[derive(Debug)]
pub enum FetchError {
    /// Worth another try: the network, a 5xx or a 429.
    Transient(anyhow::Error),
    /// Not worth one: what the registry said, or what it sent.
    Fatal(anyhow::Error),
}

impl FetchError {
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            FetchError::Transient(e) | FetchError::Fatal(e) => e,
        }
    }
}

impl RegistryClient {
    pub async fn connect(
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
            token: Mutex::new(None),
        })
    }

    pub fn had_creds(&self) -> bool {
        self.creds.is_some()
    }

    /// "https://host/v2/REPO/KIND/REF".
    fn url(&self, kind: &str, reference: &str) -> String {
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
        let mut refreshed = false;
        loop {
            let mut req = self.transport.client.get(&url);
            if let Some(a) = accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            req = self.authorize(req).await?;
            let resp = req.send().await.map_err(|e| self.network(e))?;
            let bearer = matches!(&self.challenge, Some(c) if c.scheme == "bearer");
            if resp.status().as_u16() == 401 && bearer && !refreshed {
                debug!("{url}: 401, getting a fresh token");
                *self.token.lock().await = None;
                refreshed = true;
                continue;
            }
            return Ok(resp);
        }
    }

    fn network(&self, e: reqwest::Error) -> FetchError {
        let transient = e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
        let e = describe(e, &self.registry, self.transport.verify);
        if transient {
            FetchError::Transient(e)
        } else {
            FetchError::Fatal(e)
        }
    }

    async fn authorize(
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
            *token = Some(self.fetch_token(c).await?);
        }
        Ok(req.bearer_auth(token.as_deref().unwrap_or_default()))
    }

    /// The Bearer token flow: GET realm?service=…&scope=repository:REPO:pull,
    /// with Basic credentials when there are any.
    async fn fetch_token(&self, c: &Challenge) -> std::result::Result<String, FetchError> {
        let realm = c.param("realm").ok_or_else(|| {
            FetchError::Fatal(anyhow!(
                "{}: Bearer challenge without a realm",
                self.registry
            ))
        })?;
        let scope = format!("repository:{}:pull", self.repository);
        let mut query: Vec<(&str, &str)> = vec![("scope", &scope)];
        if let Some(s) = c.param("service") {
            query.push(("service", s));
        }
        let mut req = self.transport.client.get(realm).query(&query);
        if let Some((u, p)) = &self.creds {
            req = req.query(&[("account", u)]).basic_auth(u, Some(p));
        }
        let resp = req.send().await.map_err(|e| self.network(e))?;
        let status = resp.status().as_u16();
        let body = read_bounded(resp, MAX_SMALL_BODY, "the token", true)
            .await
            .map_err(|e| {
                FetchError::Transient(e.context(format!("getting a token from {realm}")))
            })?;
        if !(200..300).contains(&status) {
            return Err(self.status_error(status, &body, realm));
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

    /// A registry's error answer as one line (and whether to retry).
    pub fn status_error(&self, code: u16, body: &[u8], url: &str) -> FetchError {
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
        let registry = &self.registry;
        let e = match code {
            401 | 403 if self.had_creds() => {
                anyhow!("{registry}: invalid username/password ({detail})")
            }
            401 | 403 => anyhow!(
                "{registry}: authentication required: log in with `rpod login {registry}` ({detail})"
            ),
            _ => anyhow!("{detail}"),
        };
        if code >= 500 || code == 429 {
            FetchError::Transient(crate::error::Error::Transient(format!("{e}")).into())
        } else {
            FetchError::Fatal(e)
        }
    }

    /// GET something small (a manifest, a config) whole, refusing it over
    /// `max` bytes before reading it (Content-Length) or while reading it.
    pub async fn get_small(
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
    pub async fn get_blob(
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

impl Challenge {
    /// A Basic challenge (also what a 401 without a usable header means).
    pub fn basic() -> Challenge {
        Challenge {
            scheme: "basic".into(),
            params: vec![],
        }
    }
}

/// Retry `f` up to `tries` times on transient failures.
pub async fn with_retries<T, F, Fut>(what: &str, tries: u32, mut f: F) -> Result<T>
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
