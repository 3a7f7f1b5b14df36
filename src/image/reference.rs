//! Image references, parsed and normalised the way docker and podman do it.
//!
//! Grammar (distribution/reference):
//!   reference := name [ ":" tag ] [ "@" digest ]
//!   name      := [ domain "/" ] path-component ( "/" path-component )*
//!   domain    := host [ ":" port ]          (host: dns labels, or "[ipv6]")
//!   path-comp := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//!   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//!   digest    := "sha256:" 64 hex | "sha384:" 96 hex | "sha512:" 128 hex
//!
//! The first component is a registry only if it contains '.' or ':' or is
//! "localhost"; otherwise the name lives on docker.io, and a one-component
//! docker.io name gets "library/".

use anyhow::Result;
use std::fmt;

pub const DOCKER_IO: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parse and normalise as docker does. Errors name the input.
    pub fn parse(s: &str) -> Result<Reference> {
        parse_inner(s).map_err(|why| anyhow::anyhow!("invalid reference {s:?}: {why}"))
    }

    /// Tag "latest" when neither tag nor digest was given.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".into());
        }
        self
    }

    /// "registry/repository", without tag or digest.
    pub fn repo_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Reference::parse(s)
    }
}

/// True when `s` names no registry: its first '/'-separated component has no
/// '.' or ':' and isn't "localhost" (or there is no '/' at all).
pub fn is_short_name(s: &str) -> bool {
    split_domain(s).0.is_none()
}

/// The registry part of `name` if it has one (docker's splitDockerDomain rule).
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            if first.contains(['.', ':']) || first == "localhost" {
                (Some(first), &name[i + 1..])
            } else {
                (None, name)
            }
        }
        None => (None, name),
    }
}

fn parse_inner(s: &str) -> std::result::Result<Reference, String> {
    if s.is_empty() {
        return Err("empty reference".into());
    }
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(validate_digest(d)?)),
        None => (s, None),
    };
    // A ':' after the last '/' starts the tag; one before it is a port.
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].find(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name_tag[..at], Some(validate_tag(&name_tag[at + 1..])?))
        }
        None => (name_tag, None),
    };
    if name.is_empty() {
        return Err("missing repository name".into());
    }
    let (domain, path) = split_domain(name);
    if domain.is_none() && is_hex64(name) {
        return Err("a 64-character hexadecimal string is an image id, not a name".into());
    }
    if let Some(d) = domain {
        validate_domain(d)?;
    }
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("repository name {path:?} must be lowercase"));
    }
    validate_path(path)?;
    let registry = match domain {
        None | Some("index.docker.io") => DOCKER_IO,
        Some(d) => d,
    };
    let repository = if registry == DOCKER_IO && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
        return Err(format!(
            "repository name must not be more than {MAX_NAME_LEN} characters"
        ));
    }
    Ok(Reference {
        registry: registry.to_string(),
        repository,
        tag,
        digest,
    })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn validate_tag(t: &str) -> std::result::Result<String, String> {
    if t.is_empty() {
        return Err("empty tag".into());
    }
    if t.len() > MAX_TAG_LEN {
        return Err(format!(
            "tag is {} characters long, at most {MAX_TAG_LEN} are allowed",
            t.len()
        ));
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    let ok = chars.next().is_some_and(word) && chars.all(|c| word(c) || c == '.' || c == '-');
    if !ok {
        return Err(format!(
            "tag {t:?} may only hold letters, digits, '_', '.' and '-', and must not start with '.' or '-'"
        ));
    }
    Ok(t.to_string())
}

fn validate_digest(d: &str) -> std::result::Result<String, String> {
    let Some((algo, hex)) = d.split_once(':') else {
        return Err(format!("digest {d:?} is not of the form ALGORITHM:HEX"));
    };
    let want = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(format!("digest {d:?}: unsupported algorithm {algo:?}")),
    };
    if hex.len() != want || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "digest {d:?}: {algo} needs exactly {want} lowercase hex characters"
        ));
    }
    Ok(d.to_string())
}

fn validate_domain(d: &str) -> std::result::Result<(), String> {
    let bad = || Err(format!("registry {d:?} is not a valid host[:port]"));
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        // [ipv6]:port
        let Some(end) = rest.find(']') else {
            return bad();
        };
        let (ip, after) = (&rest[..end], &rest[end + 1..]);
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return bad();
        }
        match after {
            "" => return Ok(()),
            p => match p.strip_prefix(':') {
                Some(p) => ("", Some(p)),
                None => return bad(),
            },
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return bad();
        }
    }
    if host.is_empty() && port.is_some() && d.starts_with('[') {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.split('.').all(label_ok) {
        Ok(())
    } else {
        bad()
    }
}

fn validate_path(path: &str) -> std::result::Result<(), String> {
    for comp in path.split('/') {
        if !path_component_ok(comp) {
            return Err(if comp.is_empty() {
                format!("repository name {path:?} has an empty path component")
            } else {
                format!(
                    "repository path component {comp:?} may only hold a-z, 0-9 and single '.', '_', \"__\" or '-' separators between them"
                )
            });
        }
    }
    Ok(())
}

fn path_component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more '-'.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        match &c[start..i] {
            "." | "_" | "__" => {}
            s if s.bytes().all(|x| x == b'-') => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().with_default_tag().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("alpine:3.19", "docker.io/library/alpine:3.19"),
            ("library/alpine", "docker.io/library/alpine:latest"),
            ("docker.io/alpine", "docker.io/library/alpine:latest"),
            ("index.docker.io/alpine", "docker.io/library/alpine:latest"),
            (
                "docker.io/library/alpine",
                "docker.io/library/alpine:latest",
            ),
            ("user/repo", "docker.io/user/repo:latest"),
            ("test_com", "docker.io/library/test_com:latest"),
            ("test.com:tag", "docker.io/library/test.com:tag"),
            ("test.com:5000", "docker.io/library/test.com:5000"),
            ("test.com/repo:tag", "test.com/repo:tag"),
            ("test:5000/repo", "test:5000/repo:latest"),
            ("test:5000/repo:tag", "test:5000/repo:tag"),
            ("foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com:8080"),
            ("localhost/foo", "localhost/foo:latest"),
            ("localhost:5000/ns/name:v1", "localhost:5000/ns/name:v1"),
            (
                "sub-dom1.foo.com/bar/baz/quux",
                "sub-dom1.foo.com/bar/baz/quux:latest",
            ),
            ("a.b/c__d/e--f/g.h_i", "a.b/c__d/e--f/g.h_i:latest"),
            (
                "lowercase:Uppercase",
                "docker.io/library/lowercase:Uppercase",
            ),
            ("Example.com/foo", "Example.com/foo:latest"),
            ("[::1]:5000/foo", "[::1]:5000/foo:latest"),
            ("127.0.0.1:5000/foo", "127.0.0.1:5000/foo:latest"),
        ];
        for (input, want) in cases {
            assert_eq!(full(input), want, "input {input}");
        }
    }

    #[test]
    fn digests() {
        let r = Reference::parse(&format!("test:5000/repo@{D}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.tag, None);
        assert_eq!(r.clone().with_default_tag().tag, None);
        assert_eq!(r.to_string(), format!("test:5000/repo@{D}"));

        let r = Reference::parse(&format!("alpine:3@{D}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("3"));
        assert_eq!(r.to_string(), format!("docker.io/library/alpine:3@{D}"));
    }

    #[test]
    fn fields_and_repo_name() {
        let r = Reference::parse("localhost:5000/ns/name:v1").unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "ns/name");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.repo_name(), "localhost:5000/ns/name");
        assert_eq!(Reference::parse("alpine").unwrap().tag, None);
    }

    #[test]
    fn rejects_bad_references_naming_the_input() {
        let long_tag = format!("a:{}", "t".repeat(129));
        let long_name = format!("{}a:tag", "a/".repeat(128));
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "empty"),
            (":justtag".into(), "missing repository"),
            (format!("@{D}"), "missing repository"),
            ("Uppercase:tag".into(), "lowercase"),
            ("test:5000/Uppercase/lowercase:tag".into(), "lowercase"),
            ("Foo/bar".into(), "lowercase"),
            (
                "validname@invaliddigest:ffff".into(),
                "unsupported algorithm",
            ),
            ("repo@sha256:abc".into(), "64"),
            (format!("repo@sha256:{}", "F".repeat(64)), "lowercase hex"),
            ("repo@sha256".into(), "ALGORITHM:HEX"),
            (long_tag, "at most 128"),
            ("a:-tag".into(), "must not start"),
            ("a:ta$g".into(), "tag"),
            ("a:".into(), "empty tag"),
            (long_name, "255"),
            ("aa/asdf$$^/aa".into(), "path component"),
            ("a//b".into(), "empty path component"),
            ("foo/".into(), "empty path component"),
            ("a..b".into(), "path component"),
            ("-a".into(), "path component"),
            ("a___b".into(), "path component"),
            ("host:po/rt/x".into(), "host[:port]"),
            ("-host.com/x".into(), "host[:port]"),
            (
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff".into(),
                "image id",
            ),
        ];
        for (input, why) in cases {
            let err = format!("{:#}", Reference::parse(&input).unwrap_err());
            assert!(err.contains(why), "{input:?}: {err}");
            assert!(err.contains(&format!("{input:?}")), "{input:?}: {err}");
        }
        // 128 characters is the limit, not over it.
        assert!(Reference::parse(&format!("a:{}", "t".repeat(128))).is_ok());
    }

    #[test]
    fn short_names() {
        for s in ["alpine", "library/alpine", "ns/name:tag", "foo", "foo@x"] {
            assert!(is_short_name(s), "{s}");
        }
        for s in [
            "docker.io/alpine",
            "localhost/foo",
            "localhost:5000/foo",
            "quay.io/ns/name",
            "host:5000/x",
        ] {
            assert!(!is_short_name(s), "{s}");
        }
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "docker.io/library/alpine:latest",
            "localhost:5000/a/b/c:v",
            &format!("quay.io/x@{D}"),
        ] {
            assert_eq!(Reference::parse(s).unwrap().to_string(), s);
        }
    }
}
