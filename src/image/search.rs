//! `search`: which repositories a registry has whose name contains a term
//! (the registry's `/v2/_catalog`, or Docker Hub's `/v1/search`), and which
//! tags a repository has (`/v2/REPO/tags/list`), as podman lists them.

use super::client::{with_retries, FetchError, RegistryClient};
use super::reference::{Reference, DOCKER_IO};
use super::registries::RegistriesConf;
use super::transport::read_bounded;
use super::RegistryOptions;
use crate::options::Options;
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

const TRIES: u32 = 3;
/// The most of a catalog or tags page that is read.
const MAX_PAGE: u64 = 8 << 20;
/// Catalog pages followed at most (of up to 1000 names each).
const MAX_PAGES: usize = 20;

/// What `search` needs besides the term.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    pub registry: RegistryOptions,
    /// Results per registry (podman's default: 25).
    pub limit: usize,
    /// List the tags of one repository instead.
    pub list_tags: bool,
}

/// One result, with podman's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResult {
    /// The registry.
    pub index: String,
    /// "registry/repository".
    pub name: String,
    pub description: String,
    pub stars: u64,
    pub official: bool,
    pub automated: bool,
    /// With `list_tags`: one result per tag.
    pub tag: String,
}

/// Search `term`: "registry/part" searches that registry for repositories
/// containing "part" ("registry/" lists them all); a term without a
/// registry searches each unqualified-search registry. Errors only when
/// every registry failed.
pub fn search(opts: &Options, term: &str, so: &SearchOptions) -> Result<Vec<SearchResult>> {
    let conf = RegistriesConf::load(opts)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")?;
    if so.list_tags {
        let r = Reference::parse(term)?;
        if super::reference::is_short_name(term) {
            bail!("{term}: --list-tags needs a fully qualified image name (registry/repository)");
        }
        if r.tag.is_some() || r.digest.is_some() {
            bail!("{term}: --list-tags takes a repository without a tag or digest");
        }
        return rt
            .block_on(list_tags(&conf, &r, so))
            .with_context(|| format!("listing the tags of {}", r.repo_name()));
    }
    let (registries, query) = split_term(term, &conf)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for reg in &registries {
        match rt.block_on(search_registry(&conf, reg, &query, so)) {
            Ok(mut r) => out.append(&mut r),
            Err(e) => {
                let e = format!("{e:#}");
                errors.push(if e.starts_with(reg.as_str()) {
                    e
                } else {
                    format!("{reg}: {e}")
                });
            }
        }
    }
    if out.is_empty() && !errors.is_empty() {
        bail!("searching {term:?}: {}", errors.join("; "));
    }
    for e in &errors {
        warn!("searching {e}");
    }
    Ok(out)
}

/// The registries to search and what to look for in their names.
fn split_term(term: &str, conf: &RegistriesConf) -> Result<(Vec<String>, String)> {
    let term = term.trim();
    if let Some((first, rest)) = term.split_once('/') {
        if first.contains(['.', ':']) || first == "localhost" {
            return Ok((vec![first.to_string()], rest.to_string()));
        }
    }
    let regs = conf.search_registries().to_vec();
    if regs.is_empty() {
        bail!("no registry in the term {term:?} and no unqualified-search-registries in registries.conf");
    }
    Ok((regs, term.to_string()))
}

async fn connect(
    conf: &RegistriesConf,
    registry: &str,
    repository: &str,
    ro: &RegistryOptions,
) -> Result<RegistryClient> {
    let settings = conf.registry(registry);
    if settings.blocked {
        bail!("registry {registry} is blocked in registries.conf");
    }
    let key = if repository.is_empty() {
        registry.to_string()
    } else {
        format!("{registry}/{repository}")
    };
    let creds = match &ro.creds {
        Some(c) => Some((
            c.username.clone(),
            c.password.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
        )),
        None => {
            super::auth::lookup(&key, ro.authfile.as_deref())?.map(|c| (c.username, c.password))
        }
    };
    RegistryClient::connect(
        registry,
        repository,
        settings.insecure,
        ro.tls_verify,
        ro.cert_dir.as_deref(),
        creds,
    )
    .await
}

/// GET a JSON page (bounded), with the `Link` of the next one if any.
async fn get_page(client: &RegistryClient, url: &str) -> Result<(Vec<u8>, Option<String>)> {
    with_retries(url, TRIES, || async {
        let resp = client.send(|| client.transport.client.get(url)).await?;
        let status = resp.status().as_u16();
        let next = resp
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        let u = resp.url().clone();
        let body = read_bounded(resp, MAX_PAGE, url, status >= 300)
            .await
            .map_err(|e| {
                if e.is::<reqwest::Error>() {
                    FetchError::Transient(e)
                } else {
                    FetchError::Fatal(e)
                }
            })?;
        if !(200..300).contains(&status) {
            return Err(client.status_error(status, &body, u.as_str()));
        }
        let next = next.and_then(|n| u.join(&n).ok()).map(|u| u.to_string());
        Ok((body, next))
    })
    .await
}

/// `<URL>; rel="next"` of a Link header.
fn next_link(h: &str) -> Option<String> {
    h.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

async fn search_registry(
    conf: &RegistriesConf,
    registry: &str,
    query: &str,
    so: &SearchOptions,
) -> Result<Vec<SearchResult>> {
    let mut client = connect(conf, registry, "", &so.registry).await?;
    if registry == DOCKER_IO {
        return docker_hub(&client, query, so.limit).await;
    }
    client.set_scopes(vec!["registry:catalog:*".to_string()]);
    #[derive(Deserialize)]
    struct Catalog {
        #[serde(default)]
        repositories: Vec<String>,
    }
    let mut url = Some(format!("{}/v2/_catalog?n=1000", client.transport.base()));
    let mut out = Vec::new();
    let mut pages = 0;
    while let Some(u) = url.take() {
        let (body, next) = get_page(&client, &u).await?;
        let c: Catalog = serde_json::from_slice(&body)
            .map_err(|e| anyhow!("{registry}: malformed catalog: {e}"))?;
        for repo in c.repositories {
            if out.len() >= so.limit {
                return Ok(out);
            }
            if repo.contains(query) {
                out.push(SearchResult {
                    index: registry.to_string(),
                    name: format!("{registry}/{repo}"),
                    ..Default::default()
                });
            }
        }
        pages += 1;
        if pages < MAX_PAGES {
            url = next;
        }
    }
    Ok(out)
}

/// Docker Hub has no catalog: its v1 search API.
async fn docker_hub(
    client: &RegistryClient,
    query: &str,
    limit: usize,
) -> Result<Vec<SearchResult>> {
    #[derive(Deserialize)]
    struct Hit {
        #[serde(default)]
        name: String,
        #[serde(default)]
        description: String,
        #[serde(default)]
        star_count: u64,
        #[serde(default)]
        is_official: bool,
        #[serde(default)]
        is_automated: bool,
    }
    #[derive(Deserialize)]
    struct Hits {
        #[serde(default)]
        results: Vec<Hit>,
    }
    let url = format!(
        "https://index.docker.io/v1/search?q={}&n={limit}",
        url_escape(query)
    );
    let (body, _) = get_page(client, &url).await?;
    let h: Hits = serde_json::from_slice(&body)
        .map_err(|e| anyhow!("docker.io: malformed search answer: {e}"))?;
    Ok(h.results
        .into_iter()
        .take(limit)
        .map(|h| SearchResult {
            index: DOCKER_IO.to_string(),
            name: format!("{DOCKER_IO}/{}", h.name),
            description: h.description,
            stars: h.star_count,
            official: h.is_official,
            automated: h.is_automated,
            tag: String::new(),
        })
        .collect())
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn list_tags(
    conf: &RegistriesConf,
    r: &Reference,
    so: &SearchOptions,
) -> Result<Vec<SearchResult>> {
    let client = connect(conf, &r.registry, &r.repository, &so.registry).await?;
    #[derive(Deserialize)]
    struct Tags {
        #[serde(default)]
        tags: Option<Vec<String>>,
    }
    let mut url = Some(client.url("tags", "list"));
    let mut out = Vec::new();
    let mut pages = 0;
    while let Some(u) = url.take() {
        let (body, next) = get_page(&client, &u).await?;
        let t: Tags =
            serde_json::from_slice(&body).map_err(|e| anyhow!("malformed tags list: {e}"))?;
        for tag in t.tags.unwrap_or_default() {
            if out.len() >= so.limit {
                return Ok(out);
            }
            out.push(SearchResult {
                index: r.registry.clone(),
                name: r.repo_name(),
                tag,
                ..Default::default()
            });
        }
        pages += 1;
        if pages < MAX_PAGES {
            url = next;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_links() {
        let conf = RegistriesConf::default();
        assert_eq!(
            split_term("localhost:5000/alp", &conf).unwrap(),
            (vec!["localhost:5000".to_string()], "alp".to_string())
        );
        assert_eq!(
            split_term("quay.io/", &conf).unwrap(),
            (vec!["quay.io".to_string()], String::new())
        );
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(next_link(r#"<x>; rel="prev""#), None);
        assert_eq!(url_escape("a b/c"), "a%20b%2Fc");
    }
}
