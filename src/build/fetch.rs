//! `ADD URL`: the file fetched over HTTP(S) with the registries' TLS
//! settings (`certs.d` CAs for the host, `--tls-verify`), into a temp dir
//! the copy then reads as its source. Redirects are followed (at most 10)
//! only where they keep to the first URL's kind of host: from a loopback
//! host never elsewhere, and never from HTTPS down to HTTP.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// The most a URL may send.
const MAX_DOWNLOAD: u64 = 8 << 30;

/// Whether `host` (as in a URL, IPv6 in brackets) is a loopback one.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    h.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// The file name a URL's download gets (its last path part, else "download").
pub(crate) fn file_name(url: &str) -> String {
    let path = url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(url)
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let name = path
        .split_once('/')
        .map(|(_, p)| p)
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("");
    if name.is_empty() || name == "." || name == ".." {
        "download".into()
    } else {
        name.to_string()
    }
}

/// Fetch `url` into the new file `dest` (mode 0600, as Docker's ADD);
/// its Last-Modified time (seconds) if the server sent one.
pub(crate) fn fetch(
    url: &str,
    dest: &Path,
    tls_verify: Option<bool>,
    cert_dir: Option<&Path>,
) -> Result<Option<i64>> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
    let scheme = parsed.scheme().to_string();
    if scheme != "http" && scheme != "https" {
        bail!("ADD of {url}: only http and https URLs are fetched");
    }
    let host = parsed
        .host_str()
        .context("a URL without a host")?
        .to_string();
    let loopback = is_loopback_host(&host);
    let hostport = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let policy = reqwest::redirect::Policy::custom(move |a| {
        let u = a.url();
        let to_loop = u.host_str().map(is_loopback_host).unwrap_or(false);
        if a.previous().len() >= 10 {
            a.error("stopped after 10 redirects")
        } else if loopback && !to_loop {
            let to = u.to_string();
            a.error(format!("refusing a redirect from a loopback host to {to}"))
        } else if !loopback && to_loop {
            let to = u.to_string();
            a.error(format!("refusing a redirect to a loopback host: {to}"))
        } else if scheme == "https" && u.scheme() != "https" {
            let to = u.to_string();
            a.error(format!("refusing a redirect from HTTPS to {to}"))
        } else {
            a.follow()
        }
    });
    let mut b = crate::image::transport::client_builder()
        .user_agent(concat!("rpod/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .redirect(policy);
    if tls_verify == Some(false) {
        b = b.tls_danger_accept_invalid_certs(true);
    } else {
        let mut roots = Vec::new();
        for pem in crate::image::tls::ca_certs(&hostport, cert_dir)? {
            roots
                .push(reqwest::Certificate::from_pem(&pem).with_context(|| {
                    format!("a CA certificate for {hostport} is not valid PEM")
                })?);
        }
        b = b.tls_certs_merge(roots);
    }
    let client = b.build().context("setting up the HTTP client")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .with_context(|| format!("creating {}", dest.display()))?
    };
    rt.block_on(async {
        let mut resp = client.get(parsed).send().await.map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            anyhow::anyhow!("fetching {url}: {msg}")
        })?;
        let status = resp.status();
        if !status.is_success() {
            bail!("fetching {url}: {status}");
        }
        let modified = resp
            .headers()
            .get(reqwest::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(http_date);
        let mut n: u64 = 0;
        while let Some(chunk) = resp
            .chunk()
            .await
            .with_context(|| format!("fetching {url}"))?
        {
            n += chunk.len() as u64;
            if n > MAX_DOWNLOAD {
                bail!("fetching {url}: more than {MAX_DOWNLOAD} bytes");
            }
            f.write_all(&chunk)
                .with_context(|| format!("writing {}", dest.display()))?;
        }
        f.sync_all()?;
        Ok(modified)
    })
}

/// An HTTP date (IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT") in seconds.
fn http_date(s: &str) -> Option<i64> {
    let p: Vec<&str> = s.split_whitespace().collect();
    let [_, d, mon, y, hms, "GMT"] = p.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x == mon)? as u32 + 1;
    let t: Vec<i64> = hms.split(':').filter_map(|x| x.parse().ok()).collect();
    let [h, mi, sec] = t.as_slice() else {
        return None;
    };
    let days = crate::time::days_from_civil(y.parse().ok()?, m, d.parse().ok()?);
    Some(days * 86400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_and_file_names() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("127.9.8.7"));
        assert!(is_loopback_host("[::1]"));
        assert!(is_loopback_host("localhost"));
        assert!(!is_loopback_host("10.0.0.1"));
        assert!(!is_loopback_host("example.com"));
        assert!(!is_loopback_host("127.0.0.1.example.com"));
        assert_eq!(file_name("http://h:1/a/b.txt?x=1"), "b.txt");
        assert_eq!(file_name("http://h:1/"), "download");
        assert_eq!(file_name("http://h"), "download");
        assert_eq!(http_date("Thu, 01 Jan 1970 00:01:40 GMT"), Some(100));
    }
}
