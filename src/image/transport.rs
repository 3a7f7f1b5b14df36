//! How rpod reaches a registry: the one place that decides between HTTPS
//! and plain HTTP, and whether certificates are verified.
//!
//! As containers/image (`docker_client.go`, `detectPropertiesHelper`):
//! certificate verification is skipped when `--tls-verify=false` is given, or
//! when registries.conf marks the registry `insecure = true` and no
//! `--tls-verify` was given (an explicit `--tls-verify=true` wins). A registry
//! is always pinged over HTTPS first; only when that fails *and*
//! verification is skipped is plain HTTP tried. So a registry that speaks
//! TLS is always spoken to over TLS, and credentials never go out in clear
//! text to it; with verification on, a failure is an error, never a
//! fallback.

use super::tls;
use crate::storage::human_size;
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;
use std::time::Duration;

/// Whether certificate verification is skipped (and plain HTTP allowed as
/// a fallback) for a registry: an explicit `--tls-verify` wins over
/// registries.conf's `insecure`.
pub fn skip_verify(insecure: bool, tls_verify: Option<bool>) -> bool {
    match tls_verify {
        Some(v) => !v,
        None => insecure,
    }
}

/// Where a note that `registry` answered plain HTTP is kept: in the runtime
/// dir (gone at reboot). None for a name that is no plain host[:port].
fn plain_http_note(registry: &str) -> Option<std::path::PathBuf> {
    let ok = !registry.is_empty()
        && !registry.starts_with('.')
        && registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    // Unit tests run as whoever builds: they leave the user's dir alone.
    if cfg!(test) {
        return None;
    }
    let dir = crate::xdg::runtime_dir()?;
    ok.then(|| dir.join("rpod/plain-http").join(registry))
}

/// Every HTTP client starts here: reqwest on rustls with ring, the crypto
/// provider installed once per process.
pub fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Err: one is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// Where requests for `registry` go ("registry-1.docker.io" for docker.io).
pub fn api_host(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_string(),
        r => r.to_string(),
    }
}

/// A registry reached and pinged: the scheme that answered, and an HTTP
/// client set up for it.
pub struct Transport {
    /// What the user called it (for messages).
    pub registry: String,
    /// Where requests go.
    pub host: String,
    /// "https", or "http" after the fallback.
    pub scheme: &'static str,
    /// Whether server certificates are verified.
    pub verify: bool,
    pub client: reqwest::Client,
    /// For uploads: the same set-up without the read timeout, whose clock
    /// runs from the start of a request, upload included (the uploader
    /// watches for stalls itself). Built when first needed.
    upload: std::sync::Mutex<std::result::Result<reqwest::Client, reqwest::ClientBuilder>>,
}

impl Transport {
    /// Set up the client for `registry` and ping `/v2/` (no credentials):
    /// HTTPS first, then plain HTTP only when verification is skipped.
    /// Returns the ping's response (200 or 401) for its challenges.
    pub async fn connect(
        registry: &str,
        insecure: bool,
        tls_verify: Option<bool>,
        cert_dir: Option<&Path>,
    ) -> Result<(Transport, reqwest::Response)> {
        let skip = skip_verify(insecure, tls_verify);
        let ca_pems = tls::ca_certs(registry, cert_dir)?;
        let identity = tls::client_identity(registry, cert_dir)?;
        let builder = || -> Result<reqwest::ClientBuilder> {
            let mut b = client_builder()
                .user_agent(concat!("rpod/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30));
            if skip {
                b = b.tls_danger_accept_invalid_certs(true);
            } else {
                let mut roots = Vec::new();
                for pem in &ca_pems {
                    roots.push(reqwest::Certificate::from_pem(pem).with_context(|| {
                        format!("a CA certificate for {registry} is not valid PEM")
                    })?);
                }
                b = b.tls_certs_merge(roots);
            }
            if let Some(pem) = &identity {
                let id = reqwest::Identity::from_pem(pem).with_context(|| {
                    format!("the client certificate for {registry} is not usable")
                })?;
                b = b.identity(id);
            }
            Ok(b)
        };
        let client = builder()?
            .read_timeout(Duration::from_secs(60))
            .build()
            .context("setting up the HTTP client")?;
        let mut t = Transport {
            registry: registry.to_string(),
            host: api_host(registry),
            scheme: "https",
            verify: !skip,
            client,
            upload: std::sync::Mutex::new(Err(builder()?)),
        };
        // A registry that answered only plain HTTP before (this boot) is
        // asked that way first: an HTTPS attempt at a plain port costs a
        // round of waiting for its refusal (40-60 ms with Go's registry).
        // Should it speak TLS now, the plain ping fails and the usual order
        // follows.
        let note = if skip {
            plain_http_note(registry)
        } else {
            None
        };
        if let Some(n) = note.as_ref().filter(|n| n.exists()) {
            t.scheme = "http";
            match t.ping().await {
                Ok(resp) => return Ok((t, resp)),
                Err(e) => {
                    debug!("{registry} no longer answers plain HTTP ({e:#})");
                    let _ = std::fs::remove_file(n);
                    t.scheme = "https";
                }
            }
        }
        let https_err = match t.ping().await {
            Ok(resp) => return Ok((t, resp)),
            Err(e) => e,
        };
        if !skip {
            return Err(https_err.context(format!("pinging container registry {registry}")));
        }
        debug!("HTTPS to {registry} failed ({https_err:#}), trying plain HTTP");
        t.scheme = "http";
        match t.ping().await {
            Ok(resp) => {
                debug!("{registry} speaks plain HTTP");
                if let Some(n) = &note {
                    let _ = n
                        .parent()
                        .map(std::fs::create_dir_all)
                        .and_then(|_| std::fs::File::create(n).ok());
                }
                Ok((t, resp))
            }
            Err(e) => Err(e).with_context(|| {
                format!("pinging container registry {registry} (HTTPS failed too: {https_err:#})")
            }),
        }
    }

    /// The client for requests whose body takes long to send (blob uploads).
    pub fn upload_client(&self) -> Result<reqwest::Client> {
        let mut u = self.upload.lock().unwrap_or_else(|e| e.into_inner());
        let b = match std::mem::replace(&mut *u, Ok(self.client.clone())) {
            Ok(c) => {
                *u = Ok(c.clone());
                return Ok(c);
            }
            Err(b) => b,
        };
        let c = b
            .build()
            .context("setting up the HTTP client for uploads")?;
        *u = Ok(c.clone());
        Ok(c)
    }

    /// "https://host" or "http://host".
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// GET /v2/ without credentials; 200 and 401 mean a registry is there.
    async fn ping(&self) -> Result<reqwest::Response> {
        let url = format!("{}/v2/", self.base());
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| describe(e, &self.registry, self.scheme == "https" && self.verify))?;
        match resp.status().as_u16() {
            200..=299 | 401 => Ok(resp),
            s => bail!("unexpected status {s} from {url} (is it a registry?)"),
        }
    }
}

/// Read a response's body, at most `max` bytes. Over that, with `cut` the
/// rest is dropped (for error answers), else it is an error naming `what`,
/// found from Content-Length before reading or while reading. A network
/// error is returned as a bare `reqwest::Error`.
pub async fn read_bounded(
    mut resp: reqwest::Response,
    max: u64,
    what: &str,
    cut: bool,
) -> Result<Vec<u8>> {
    if let Some(len) = resp.content_length().filter(|&l| l > max && !cut) {
        bail!("{what}: {len} bytes is over the {} limit", human_size(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(anyhow::Error::new)? {
        if body.len() as u64 + chunk.len() as u64 > max {
            if cut {
                let room = max as usize - body.len();
                body.extend_from_slice(&chunk[..room]);
                break;
            }
            bail!(
                "{what}: more than {max} bytes arrived: over the {} limit",
                human_size(max)
            );
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One line for a transport error, with its causes (the TLS reason is deep
/// in the chain) and a hint for certificate problems. `verifying`: the
/// request was HTTPS with certificate verification on.
pub fn describe(e: reqwest::Error, registry: &str, verifying: bool) -> anyhow::Error {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        src = s.source();
    }
    match crate::error::cause::<rustls::Error>(&e) {
        // No hint: certificate trouble can't be the reason.
        _ if !verifying => {}
        // What a plain-HTTP server's answer to a ClientHello looks like.
        Some(rustls::Error::InvalidMessage(_)) => msg.push_str(
            " (the registry seems to speak plain HTTP, which rpod uses only with \
             --tls-verify=false or insecure = true in registries.conf, and never with \
             --tls-verify=true)",
        ),
        Some(rustls::Error::InvalidCertificate(_)) => msg.push_str(&format!(
            " (to trust a private CA put it in ~/.config/containers/certs.d/{registry}/ca.crt, \
             or use --tls-verify=false for a test registry)"
        )),
        _ => {}
    }
    anyhow!(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_tls_verify_wins_over_insecure() {
        assert!(!skip_verify(false, None));
        assert!(skip_verify(true, None));
        assert!(skip_verify(false, Some(false)));
        assert!(!skip_verify(true, Some(true)));
    }

    /// A plain-HTTP server on loopback that answers every request with 200
    /// and counts the requests: HTTPS to it fails at the handshake.
    fn plain_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let n2 = n.clone();
        std::thread::spawn(move || {
            for s in l.incoming().take(8) {
                let Ok(mut s) = s else { continue };
                let mut buf = [0u8; 4096];
                let k = s.read(&mut buf).unwrap_or(0);
                if buf[..k].starts_with(b"GET ") {
                    n2.fetch_add(1, Ordering::SeqCst);
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                    );
                } else {
                    // What a plain-HTTP server says to a TLS ClientHello.
                    let _ = s.write_all(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        });
        (port, n)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn plain_http_only_as_a_fallback_when_verification_is_skipped() {
        use std::sync::atomic::Ordering;
        let (port, n) = plain_server();
        let reg = format!("127.0.0.1:{port}");
        let (t, _) = rt()
            .block_on(Transport::connect(&reg, false, Some(false), None))
            .unwrap();
        assert_eq!((t.scheme, t.verify), ("http", false));
        assert_eq!(n.load(Ordering::SeqCst), 1, "one plain GET");
        // insecure = true, overridden by --tls-verify=true: no plain request at all.
        let e = rt()
            .block_on(Transport::connect(&reg, true, Some(true), None))
            .err()
            .unwrap();
        let e = format!("{e:#}");
        assert!(e.contains(&reg) && e.contains("plain HTTP"), "{e}");
        assert_eq!(n.load(Ordering::SeqCst), 1, "no plain GET: {e}");
    }
}
