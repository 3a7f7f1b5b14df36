//! Per-registry TLS material from certs.d directories (containers-certs.d(5)).
//!
//! As containers/image: `--cert-dir` names the directory to use; otherwise the
//! first existing one of `$XDG_CONFIG_HOME/containers/certs.d/HOST[:PORT]`,
//! `/etc/containers/certs.d/HOST[:PORT]` and `/etc/docker/certs.d/HOST[:PORT]`.
//! In it, `*.crt` are extra CAs (trusted besides the system's), and a
//! `NAME.cert` + `NAME.key` pair is a client certificate.

use crate::xdg::config_home;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

const SYSTEM_DIRS: [&str; 2] = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// The certs.d directory that applies to `registry`, if any exists.
pub fn cert_dir(registry: &str, cert_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(d) = cert_dir {
        return Some(d.to_path_buf());
    }
    let mut bases: Vec<PathBuf> = config_home()
        .map(|c| c.join("containers/certs.d"))
        .into_iter()
        .collect();
    bases.extend(SYSTEM_DIRS.iter().map(PathBuf::from));
    bases
        .into_iter()
        .map(|b| b.join(registry))
        .find(|d| d.is_dir())
}

/// Entries of `dir` with extension `ext`, sorted. A missing dir is empty
/// unless it was named explicitly.
fn files_with(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    Ok(v)
}

/// Split a PEM bundle into one PEM text per certificate.
fn split_pem_certs(text: &str) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(b) = rest.find(BEGIN) {
        let after = &rest[b..];
        let Some(e) = after.find(END) else { break };
        out.push(format!("{}\n", &after[..e + END.len()]).into_bytes());
        rest = &after[e + END.len()..];
    }
    out
}

/// PEM CA certificates to trust for "host[:port]", one certificate per
/// element. Empty when no certs.d directory applies. A `.crt` that holds no
/// certificate is an error naming the file.
pub fn ca_certs(registry: &str, cert_dir_override: Option<&Path>) -> Result<Vec<Vec<u8>>> {
    let Some(dir) = cert_dir(registry, cert_dir_override) else {
        return Ok(vec![]);
    };
    if cert_dir_override.is_none() {
        debug!("using certificates of {registry} from {}", dir.display());
    }
    let mut out = Vec::new();
    for f in files_with(&dir, "crt")? {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let certs = split_pem_certs(&text);
        if certs.is_empty() {
            bail!("{}: no PEM certificate in it", f.display());
        }
        out.extend(certs);
    }
    Ok(out)
}

/// The client certificate and key (PEM, concatenated, as reqwest's
/// `Identity::from_pem` wants) for "host[:port]", if certs.d has a
/// `NAME.cert` + `NAME.key` pair. A half pair is an error naming the file.
pub fn client_identity(
    registry: &str,
    cert_dir_override: Option<&Path>,
) -> Result<Option<Vec<u8>>> {
    let Some(dir) = cert_dir(registry, cert_dir_override) else {
        return Ok(None);
    };
    let certs = files_with(&dir, "cert")?;
    let keys = files_with(&dir, "key")?;
    for k in &keys {
        if !certs.contains(&k.with_extension("cert")) {
            bail!(
                "missing client certificate {} for key {}",
                k.with_extension("cert").display(),
                k.display()
            );
        }
    }
    let Some(cert) = certs.first() else {
        return Ok(None);
    };
    let key = cert.with_extension("key");
    if !keys.contains(&key) {
        bail!(
            "missing key {} for client certificate {}",
            key.display(),
            cert.display()
        );
    }
    if certs.len() > 1 {
        warn!(
            "{}: several client certificates, using {}",
            dir.display(),
            cert.display()
        );
    }
    let mut pem = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
    pem.push(b'\n');
    pem.extend(std::fs::read(&key).with_context(|| format!("reading {}", key.display()))?);
    Ok(Some(pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn reads_crt_files_and_splits_bundles() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("a.crt"), format!("junk\n{CERT}{CERT}")).unwrap();
        std::fs::write(d.join("b.crt"), CERT).unwrap();
        std::fs::write(d.join("readme.txt"), "x").unwrap();
        let v = ca_certs("whatever:1", Some(d)).unwrap();
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|c| c == CERT.as_bytes()));
        assert_eq!(client_identity("whatever:1", Some(d)).unwrap(), None);
    }

    #[test]
    fn a_crt_without_certificate_is_named() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("bad.crt"), "not pem").unwrap();
        let e = format!("{:#}", ca_certs("r", Some(t.path())).unwrap_err());
        assert!(e.contains("bad.crt"), "{e}");
    }

    #[test]
    fn explicit_missing_dir_is_an_error_and_unknown_registry_has_none() {
        let t = tempfile::tempdir().unwrap();
        assert!(ca_certs("r", Some(&t.path().join("nope"))).is_err());
        assert!(ca_certs("no-such-registry.invalid:1", None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn client_pairs() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("c.key"), "KEY\n").unwrap();
        let e = format!("{:#}", client_identity("r", Some(d)).unwrap_err());
        assert!(e.contains("c.cert"), "{e}");
        std::fs::write(d.join("c.cert"), CERT).unwrap();
        let pem = client_identity("r", Some(d)).unwrap().unwrap();
        let s = String::from_utf8(pem).unwrap();
        assert!(s.starts_with(CERT) && s.ends_with("KEY\n"));
        std::fs::remove_file(d.join("c.key")).unwrap();
        let e = format!("{:#}", client_identity("r", Some(d)).unwrap_err());
        assert!(e.contains("c.key"), "{e}");
    }
}
