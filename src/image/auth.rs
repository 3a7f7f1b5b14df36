//! Registry credentials in auth.json files (containers-auth.json(5)).
//!
//! Read order, as containers/image's getAuthFilePaths:
//! - `--authfile` / `REGISTRY_AUTH_FILE` given: that file only;
//! - else `$XDG_RUNTIME_DIR/containers/auth.json` (or /run/containers/UID/auth.json
//!   when XDG_RUNTIME_DIR is unset), `$XDG_CONFIG_HOME/containers/auth.json`,
//!   `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, and `~/.dockercfg`.
//!
//! The first file with credentials for the name wins. Within a file, keys are
//! tried from the most specific ("host/ns/repo", "host/ns", "host"), then
//! legacy keys ("https://host/v1/", "index.docker.io") after normalising.
//! Writes go to the explicit file or the first of the list, atomically, 0600.
//! Credential helpers (`credHelpers`, `credsStore`) are not run: rpod never
//! spawns a process with a secret; such entries are skipped with a debug note.

use crate::xdg::{config_home, home as home_dir};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use serde_json::{Map, Value};
use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The `auth` value of auth.json: base64("user:pass").
    fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }
}

/// A secret from the command line (`login -p`): its Debug shows no value,
/// so printing the parsed arguments can't leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct AuthPath {
    path: PathBuf,
    /// ~/.dockercfg: the top level is the map of keys, without "auths".
    legacy: bool,
}

/// --authfile, else REGISTRY_AUTH_FILE (clap binds it for most commands;
/// this covers callers that pass None).
fn explicit(authfile: Option<&Path>) -> Option<PathBuf> {
    match authfile {
        Some(p) if !p.as_os_str().is_empty() => Some(p.to_path_buf()),
        _ => std::env::var_os("REGISTRY_AUTH_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    }
}

/// The read/write file: explicit, or under XDG_RUNTIME_DIR.
pub fn write_path(authfile: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit(authfile) {
        return Ok(p);
    }
    match crate::xdg::runtime_dir() {
        Some(d) => {
            if !d.exists() {
                bail!(
                    "{:?} directory set by $XDG_RUNTIME_DIR does not exist: create it or unset $XDG_RUNTIME_DIR",
                    d.display().to_string()
                );
            }
            Ok(d.join("containers/auth.json"))
        }
        None => Ok(PathBuf::from(format!(
            "/run/containers/{}/auth.json",
            nix::unistd::getuid()
        ))),
    }
}

fn read_paths(authfile: Option<&Path>) -> Vec<AuthPath> {
    let plain = |path: PathBuf| AuthPath {
        path,
        legacy: false,
    };
    if let Some(p) = explicit(authfile) {
        return vec![plain(p)];
    }
    let mut v = Vec::new();
    match write_path(None) {
        Ok(p) => v.push(plain(p)),
        Err(e) => warn!("{e:#}: trying without its credentials"),
    }
    if let Some(c) = config_home() {
        v.push(plain(c.join("containers/auth.json")));
    }
    let home = home_dir();
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => v.push(plain(PathBuf::from(d).join("config.json"))),
        None => v.extend(home.as_ref().map(|h| plain(h.join(".docker/config.json")))),
    }
    v.extend(home.map(|h| AuthPath {
        path: h.join(".dockercfg"),
        legacy: true,
    }));
    v
}

/// The file's JSON object, or None if it doesn't exist. Errors name the file
/// and, for syntax errors, the line.
fn read_json(path: &Path) -> Result<Option<Map<String, Value>>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let v: Value = serde_json::from_slice(&text).map_err(|e| {
        anyhow!(
            "{}: invalid JSON at line {}, column {}: {}",
            path.display(),
            e.line(),
            e.column(),
            json_error_message(&e)
        )
    })?;
    match v {
        Value::Object(m) => Ok(Some(m)),
        _ => bail!(
            "{}: expected a JSON object at the top level",
            path.display()
        ),
    }
}

/// serde_json's message without its own " at line L column C" suffix.
fn json_error_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The map of keys to entries in a parsed file.
fn auths_of<'a>(
    doc: &'a Map<String, Value>,
    ap: &AuthPath,
) -> Result<Option<&'a Map<String, Value>>> {
    if ap.legacy {
        return Ok(Some(doc));
    }
    match doc.get("auths") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => bail!("{}: \"auths\" must be a JSON object", ap.path.display()),
    }
}

fn decode_entry(path: &Path, key: &str, v: &Value) -> Result<Option<Credentials>> {
    let bad = |why: &str| anyhow!("{}: entry {key:?}: {why}", path.display());
    let Value::Object(e) = v else {
        return Err(bad("must be a JSON object"));
    };
    let auth = match e.get("auth") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(bad("\"auth\" must be a string")),
    };
    if auth.is_empty() {
        if e.contains_key("identitytoken") {
            debug!(
                "{}: {key}: identity tokens are not supported, skipped",
                path.display()
            );
        }
        return Ok(None);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(auth.trim()))
        .map_err(|_| bad("\"auth\" is not valid base64"))?;
    let raw = String::from_utf8(raw).map_err(|_| bad("\"auth\" is not UTF-8"))?;
    let Some((user, pass)) = raw.split_once(':') else {
        return Err(bad("\"auth\" does not decode to USERNAME:PASSWORD"));
    };
    if user.is_empty() || pass.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: user.to_string(),
        password: pass.trim_end_matches('\n').to_string(),
    }))
}

/// "registry-1.docker.io", "index.docker.io" and "docker.io" are one registry.
fn normalize_registry(r: &str) -> &str {
    match r {
        "registry-1.docker.io" | "docker.io" | "index.docker.io" => "docker.io",
        other => other,
    }
}

/// Legacy keys: "https://host/v1/" -> "host"; URL-less keys stay as they are
/// (except for the legacy ~/.dockercfg, where any path is dropped).
fn normalize_key(key: &str, legacy: bool) -> String {
    let stripped = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"));
    let host = match stripped {
        Some(s) => s.split('/').next().unwrap_or(s),
        None if legacy => key.split('/').next().unwrap_or(key),
        None => key,
    };
    normalize_registry(host).to_string()
}

/// "host/ns/repo" -> ["host/ns/repo", "host/ns", "host"].
fn auth_keys(key: &str) -> Vec<&str> {
    let mut v = vec![key];
    let mut k = key;
    while let Some(i) = k.rfind('/') {
        k = &k[..i];
        v.push(k);
    }
    v
}

fn find_in(doc: &Map<String, Value>, ap: &AuthPath, key: &str) -> Result<Option<Credentials>> {
    let registry = key.split('/').next().unwrap_or(key);
    if let Some(Value::Object(h)) = doc.get("credHelpers") {
        if h.contains_key(registry) {
            debug!(
                "{}: credential helper for {registry} not supported, skipped",
                ap.path.display()
            );
        }
    }
    let Some(auths) = auths_of(doc, ap)? else {
        return Ok(None);
    };
    for k in auth_keys(key) {
        if let Some(v) = auths.get(k) {
            if let Some(c) = decode_entry(&ap.path, k, v)? {
                return Ok(Some(c));
            }
        }
    }
    let want = normalize_registry(registry);
    for (k, v) in auths {
        if normalize_key(k, ap.legacy) == want {
            if let Some(c) = decode_entry(&ap.path, k, v)? {
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

/// Credentials for `registry`: "host[:port]", or a repository name
/// ("host/ns/repo", e.g. `Reference::repo_name()`) to honour per-namespace
/// entries. None when no file has any.
pub fn lookup(registry: &str, authfile: Option<&Path>) -> Result<Option<Credentials>> {
    lookup_in(registry, &read_paths(authfile)).map(|o| o.map(|(c, _)| c))
}

fn lookup_in(key: &str, paths: &[AuthPath]) -> Result<Option<(Credentials, PathBuf)>> {
    for ap in paths {
        let Some(doc) = read_json(&ap.path)? else {
            continue;
        };
        if let Some(c) = find_in(&doc, ap, key)? {
            debug!("credentials for {key} found in {}", ap.path.display());
            return Ok(Some((c, ap.path.clone())));
        }
    }
    Ok(None)
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Create `dir` (and parents) as 0700 if it is missing.
fn ensure_private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// Write `bytes` to `path` atomically with mode 0600: temp file in the same
/// dir, fsync, rename, fsync the dir.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    ensure_private_dir(dir)?;
    crate::storage::write_atomic_mode(path, bytes, 0o600)
        .with_context(|| format!("writing {}", path.display()))
}

/// Read-modify-write the write file. `edit` returns whether it changed anything.
fn modify(path: &Path, edit: impl FnOnce(&mut Map<String, Value>) -> Result<bool>) -> Result<()> {
    if path.is_dir() {
        bail!("{}: is a directory, not an auth file", path.display());
    }
    // Two logins at once must not lose one's entry: serialise the
    // read-modify-write on the directory (no stray lock file next to it).
    let dir = parent_dir(path);
    ensure_private_dir(dir)?;
    let dirf = std::fs::File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let _lock = crate::storage::Lock::exclusive_on(dirf, dir)?;
    let mut doc = read_json(path)?.unwrap_or_default();
    if !matches!(
        doc.get("auths"),
        None | Some(Value::Object(_)) | Some(Value::Null)
    ) {
        bail!("{}: \"auths\" must be a JSON object", path.display());
    }
    if edit(&mut doc)? {
        let mut text = serde_json::to_vec_pretty(&Value::Object(doc))?;
        text.push(b'\n');
        write_private(path, &text)?;
    }
    Ok(())
}

fn auths_mut(doc: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let v = doc
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("just made an object")
}

/// Store credentials for `registry` (a "host[:port]" or "host/ns" key) in
/// the write file; other keys of the file are kept. Returns the file.
pub fn store(registry: &str, creds: &Credentials, authfile: Option<&Path>) -> Result<PathBuf> {
    let path = write_path(authfile)?;
    modify(&path, |doc| {
        let mut entry = Map::new();
        entry.insert("auth".into(), Value::String(creds.encode()));
        auths_mut(doc).insert(registry.to_string(), Value::Object(entry));
        Ok(true)
    })?;
    Ok(path)
}

/// Remove the credentials of `registry`, or of every registry with `all`,
/// from the write file. Not being logged in is an error (as podman); if the
/// credentials come from another file (e.g. docker's), the error says which.
pub fn remove(registry: Option<&str>, all: bool, authfile: Option<&Path>) -> Result<()> {
    let path = write_path(authfile)?;
    if all {
        return modify(&path, |doc| {
            let had = doc
                .get("auths")
                .is_some_and(|a| a.as_object().is_some_and(|m| !m.is_empty()));
            if had {
                auths_mut(doc).clear();
            }
            Ok(had)
        });
    }
    let Some(key) = registry else {
        bail!("no registry given: name one, or use --all");
    };
    let mut found = false;
    modify(&path, |doc| {
        let auths = auths_mut(doc);
        if auths.remove(key).is_some() {
            found = true;
        } else if !key.contains('/') {
            // Keys written by other tools: "https://host/v1/", "index.docker.io".
            let want = normalize_registry(key);
            let legacy: Vec<String> = auths
                .keys()
                .filter(|k| normalize_key(k, false) == want)
                .cloned()
                .collect();
            for k in legacy {
                auths.remove(&k);
                found = true;
            }
        }
        Ok(found)
    })?;
    if found {
        return Ok(());
    }
    if explicit(authfile).is_none() {
        let others: Vec<AuthPath> = read_paths(None)
            .into_iter()
            .filter(|p| p.path != path)
            .collect();
        if let Some((_, from)) = lookup_in(key, &others)? {
            bail!(
                "not logged into {key} with rpod: its credentials come from {} (remove them with the tool that wrote them, e.g. docker logout)",
                from.display()
            );
        }
    }
    bail!("not logged into {key}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn write(p: &Path, s: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    }

    fn ap(p: &Path) -> AuthPath {
        AuthPath {
            path: p.into(),
            legacy: false,
        }
    }

    fn user_of(key: &str, paths: &[AuthPath]) -> Option<String> {
        lookup_in(key, paths).unwrap().map(|(c, _)| c.username)
    }

    #[test]
    fn debug_hides_the_password() {
        let c = Credentials {
            username: "u".into(),
            password: "s3cret-pw".into(),
        };
        let d = format!("{c:?} {:#?} {:?}", Some(&c), Secret("s3cret-pw".into()));
        assert!(
            !d.contains("s3cret-pw") && d.contains("redacted") && d.contains("\"u\""),
            "{d}"
        );
    }

    #[test]
    fn first_file_with_credentials_wins() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a.json");
        let b = t.path().join("b.json");
        write(
            &a,
            &format!(r#"{{"auths":{{"one.io":{{"auth":"{}"}}}}}}"#, b64("ua:pa")),
        );
        write(
            &b,
            &format!(
                r#"{{"auths":{{"one.io":{{"auth":"{}"}},"two.io":{{"auth":"{}"}}}}}}"#,
                b64("ub:pb"),
                b64("ub2:pb2")
            ),
        );
        let missing = t.path().join("none.json");
        let paths = [ap(&missing), ap(&a), ap(&b)];
        assert_eq!(user_of("one.io", &paths).as_deref(), Some("ua"));
        assert_eq!(user_of("two.io", &paths).as_deref(), Some("ub2"));
        assert_eq!(user_of("three.io", &paths), None);
        let (c, from) = lookup_in("two.io", &paths).unwrap().unwrap();
        assert_eq!((c.password.as_str(), from), ("pb2", b.clone()));
    }

    #[test]
    fn namespaced_and_legacy_keys() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("auth.json");
        write(
            &f,
            &format!(
                r#"{{"auths":{{
                    "reg.io/ns/repo":{{"auth":"{}"}},
                    "reg.io/ns":{{"auth":"{}"}},
                    "reg.io":{{"auth":"{}"}},
                    "https://index.docker.io/v1/":{{"auth":"{}"}},
                    "http://old.io:5000/v1/":{{"auth":"{}"}},
                    "port.io:5000":{{"auth":"{}"}}
                }}}}"#,
                b64("repo:p"),
                b64("ns:p"),
                b64("host:p"),
                b64("hub:p"),
                b64("old:p"),
                b64("port:p")
            ),
        );
        let p = [ap(&f)];
        assert_eq!(user_of("reg.io/ns/repo", &p).as_deref(), Some("repo"));
        assert_eq!(user_of("reg.io/ns/other", &p).as_deref(), Some("ns"));
        assert_eq!(user_of("reg.io/other/x", &p).as_deref(), Some("host"));
        assert_eq!(user_of("reg.io", &p).as_deref(), Some("host"));
        assert_eq!(user_of("docker.io", &p).as_deref(), Some("hub"));
        assert_eq!(
            user_of("docker.io/library/alpine", &p).as_deref(),
            Some("hub")
        );
        assert_eq!(user_of("old.io:5000", &p).as_deref(), Some("old"));
        assert_eq!(user_of("port.io:5000", &p).as_deref(), Some("port"));
        // A port is part of the registry's name.
        assert_eq!(user_of("port.io", &p), None);
        assert_eq!(user_of("port.io:5001", &p), None);
    }

    #[test]
    fn legacy_dockercfg() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join(".dockercfg");
        write(
            &f,
            &format!(
                r#"{{"https://legacy.io/v1/":{{"auth":"{}","email":"x"}}}}"#,
                b64("l:p")
            ),
        );
        let p = [AuthPath {
            path: f,
            legacy: true,
        }];
        assert_eq!(user_of("legacy.io", &p).as_deref(), Some("l"));
    }

    #[test]
    fn passwords_may_hold_colons_and_bad_entries_are_named() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("auth.json");
        write(
            &f,
            &format!(r#"{{"auths":{{"a.io":{{"auth":"{}"}}}}}}"#, b64("u:p:q")),
        );
        let (c, _) = lookup_in("a.io", &[ap(&f)]).unwrap().unwrap();
        assert_eq!(c.password, "p:q");
        write(&f, r#"{"auths":{"a.io":{"auth":"!!notbase64"}}}"#);
        let e = format!("{:#}", lookup_in("a.io", &[ap(&f)]).unwrap_err());
        assert!(
            e.contains(&f.display().to_string()) && e.contains("base64"),
            "{e}"
        );
        write(
            &f,
            &format!(r#"{{"auths":{{"a.io":{{"auth":"{}"}}}}}}"#, b64("nocolon")),
        );
        assert!(lookup_in("a.io", &[ap(&f)]).is_err());
        // Empty entries and identity tokens are no credentials: keep looking.
        write(
            &f,
            r#"{"auths":{"a.io":{"identitytoken":"tok"}, "b.io":{}}}"#,
        );
        assert_eq!(user_of("a.io", &[ap(&f)]), None);
        assert_eq!(user_of("b.io", &[ap(&f)]), None);
    }

    #[test]
    fn corrupt_file_names_file_and_line() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("auth.json");
        write(
            &f,
            "{\n  \"auths\": {\n    \"a.io\": { \"auth\": \"x\" ,}\n  }\n}\n",
        );
        let e = format!("{:#}", lookup_in("a.io", &[ap(&f)]).unwrap_err());
        assert!(
            e.starts_with(&format!("{}: invalid JSON at line 3", f.display())),
            "{e}"
        );
        write(&f, "[]");
        assert!(format!("{:#}", lookup_in("a.io", &[ap(&f)]).unwrap_err()).contains("object"));
        write(&f, r#"{"auths": []}"#);
        assert!(format!("{:#}", lookup_in("a.io", &[ap(&f)]).unwrap_err()).contains("\"auths\""));
        // A corrupt file stops the search: silently skipping it could use the wrong account.
        let ok = t.path().join("ok.json");
        write(
            &ok,
            &format!(r#"{{"auths":{{"a.io":{{"auth":"{}"}}}}}}"#, b64("u:p")),
        );
        write(&f, "{");
        assert!(lookup_in("a.io", &[ap(&f), ap(&ok)]).is_err());
    }

    #[test]
    fn store_keeps_other_keys_and_is_private() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("sub/dir/auth.json");
        write(
            &f,
            &format!(
                r#"{{"auths":{{"other.io":{{"auth":"{}"}}}},"credHelpers":{{"x.io":"pass"}},"psFormat":"table"}}"#,
                b64("o:p")
            ),
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let creds = Credentials {
            username: "me".into(),
            password: "pw".into(),
        };
        let out = store("localhost:5443", &creds, Some(&f)).unwrap();
        assert_eq!(out, f);
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let doc: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert_eq!(doc["psFormat"], "table");
        assert_eq!(doc["credHelpers"]["x.io"], "pass");
        assert_eq!(doc["auths"]["other.io"]["auth"], b64("o:p"));
        assert_eq!(doc["auths"]["localhost:5443"]["auth"], b64("me:pw"));
        assert_eq!(
            lookup("localhost:5443", Some(&f)).unwrap(),
            Some(creds.clone())
        );
        // No temp files left behind.
        let n = std::fs::read_dir(f.parent().unwrap()).unwrap().count();
        assert_eq!(n, 1);

        // A fresh file (and its directories) are created private.
        let g = t.path().join("new/auth.json");
        store("a.io", &creds, Some(&g)).unwrap();
        assert_eq!(
            std::fs::metadata(&g).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(g.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        // A corrupt file is not overwritten.
        write(&g, "{oops");
        assert!(store("a.io", &creds, Some(&g)).is_err());
        assert_eq!(std::fs::read_to_string(&g).unwrap(), "{oops");
    }

    #[test]
    fn remove_one_and_all() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("auth.json");
        let c = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        store("a.io", &c, Some(&f)).unwrap();
        store("b.io", &c, Some(&f)).unwrap();
        remove(Some("a.io"), false, Some(&f)).unwrap();
        assert_eq!(lookup("a.io", Some(&f)).unwrap(), None);
        assert!(lookup("b.io", Some(&f)).unwrap().is_some());
        let e = format!("{:#}", remove(Some("a.io"), false, Some(&f)).unwrap_err());
        assert_eq!(e, "not logged into a.io");
        remove(None, true, Some(&f)).unwrap();
        assert_eq!(lookup("b.io", Some(&f)).unwrap(), None);
        // Docker's key for Docker Hub is removed by its normal name.
        write(
            &f,
            &format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
                b64("u:p")
            ),
        );
        remove(Some("docker.io"), false, Some(&f)).unwrap();
        assert_eq!(lookup("docker.io", Some(&f)).unwrap(), None);
    }

    #[test]
    fn key_helpers() {
        assert_eq!(auth_keys("a.io/b/c"), ["a.io/b/c", "a.io/b", "a.io"]);
        assert_eq!(auth_keys("a.io:5000"), ["a.io:5000"]);
        assert_eq!(
            normalize_key("https://index.docker.io/v1/", false),
            "docker.io"
        );
        assert_eq!(normalize_key("registry-1.docker.io", false), "docker.io");
        assert_eq!(normalize_key("http://h:1/x", false), "h:1");
        assert_eq!(normalize_key("h/ns", false), "h/ns");
        assert_eq!(normalize_key("h/ns", true), "h");
    }

    #[test]
    fn concurrent_stores_lose_nothing() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("auth.json");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let f = f.clone();
                std::thread::spawn(move || {
                    let c = Credentials {
                        username: format!("u{i}"),
                        password: "p".into(),
                    };
                    store(&format!("r{i}.io"), &c, Some(&f)).unwrap();
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        for i in 0..8 {
            let c = lookup(&format!("r{i}.io"), Some(&f)).unwrap().unwrap();
            assert_eq!(c.username, format!("u{i}"));
        }
    }
}
