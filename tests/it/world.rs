//! The test world itself: if these fail, every other integration test's
//! failure is noise. Re-run `tests/world/setup.sh` as root.

use crate::common;
use crate::common::{world, Env};

#[test]
fn env_file_is_complete() {
    let w = world();
    for key in [
        "TEST_USER",
        "REGISTRY",
        "TLS_REGISTRY",
        "BAD_REGISTRY",
        "REG_USER",
        "REG_PASS",
        "CA_CERT",
        "OTHER_CA_CERT",
        "CERTS_D",
        "SUBID_START",
        "SUBID_COUNT",
        "DEBIAN_OK",
    ] {
        assert!(
            !w.get(key).is_empty(),
            "{key} is empty in {}",
            common::WORLD_ENV
        );
    }
    for key in ["CA_CERT", "OTHER_CA_CERT"] {
        let pem = std::fs::read_to_string(w.get(key)).unwrap();
        assert!(
            pem.contains("BEGIN CERTIFICATE"),
            "{key} is not a PEM certificate"
        );
    }
    assert!(matches!(w.get("DEBIAN_OK"), "0" | "1"));
}

#[test]
fn test_user_has_its_subordinate_ranges() {
    let w = world();
    let user = w.user();
    let want = format!("{user}:{}:{}", w.get("SUBID_START"), w.get("SUBID_COUNT"));
    for f in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(f).unwrap();
        let ours: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{user}:")))
            .collect();
        assert_eq!(ours, [want.as_str()], "{f}");
    }
    // Not root, and newuidmap is usable: the whole point of the user.
    let env = Env::new("world-user");
    let out = env.sh_ok("id -u; test -u \"$(command -v newuidmap)\" && echo setuid");
    let mut lines = out.lines();
    assert_ne!(lines.next(), Some("0"), "the test user must not be root");
    assert_eq!(lines.next(), Some("setuid"), "newuidmap is not setuid");
}

#[test]
fn registries_answer_on_loopback() {
    let w = world();
    let env = Env::new("world-reg");
    let code = |url: &str, extra: &str| -> String {
        env.sh_ok(&format!(
            "curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 {extra} {url}"
        ))
    };
    let plain = w.registry();
    let tls = w.tls_registry();
    let bad = w.bad_registry();
    let ca = w.get("CA_CERT");
    assert_eq!(code(&format!("http://{plain}/v2/"), ""), "200");
    assert_eq!(code(&format!("http://{bad}/v2/"), ""), "200");
    let tls_url = format!("https://{tls}/v2/");
    assert_eq!(code(&tls_url, &format!("--cacert {ca}")), "401");
    // Credentials through a netrc file, never in argv.
    env.sh_ok(&format!(
        "umask 077; printf 'machine localhost login %s password %s\\n' '{}' '{}' > ~/.netrc",
        w.get("REG_USER"),
        w.get("REG_PASS")
    ));
    assert_eq!(code(&tls_url, &format!("--cacert {ca} --netrc")), "200");
    // The wrong CA must not verify the server: curl's exit 60 is "peer
    // certificate cannot be authenticated with given CA certificates".
    let other = w.get("OTHER_CA_CERT");
    let out = env.sh(&format!(
        "curl -s -o /dev/null --max-time 5 --cacert {other} {tls_url}"
    ));
    assert_eq!(out.status.code(), Some(60), "TLS with the wrong CA");
    // The fixtures everyone relies on are served.
    let accept = "-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
                  -H 'Accept: application/vnd.oci.image.index.v1+json' \
                  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
                  -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json'";
    for name in [
        "alpine:latest",
        "alpine:3",
        "library/alpine:latest",
        "layers:latest",
        "config:latest",
        "multiarch:latest",
        "schema2:latest",
        "large:latest",
    ] {
        let (repo, tag) = name.split_once(':').unwrap();
        let url = format!("http://{plain}/v2/{repo}/manifests/{tag}");
        assert_eq!(code(&url, accept), "200", "{plain}/{name}");
    }
}
