//! `rpod oci spec [--rootless]` against the installed runc's `runc spec`,
//! both run as the unprivileged test user, compared as JSON.

use crate::common;
use serde_json::Value;

/// Capability lists are sets; compare them sorted.
fn normalise(mut v: Value) -> Value {
    if let Some(caps) = v["process"]["capabilities"].as_object_mut() {
        for set in caps.values_mut() {
            if let Some(a) = set.as_array_mut() {
                a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            }
        }
    }
    v
}

#[test]
fn oci_spec_matches_runc_spec() {
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("runc is not installed; skipping");
        return;
    }
    let env = common::Env::new("ocispec");
    for flag in ["", "--rootless"] {
        let out = env.sh_ok(&format!(
            "set -e; a=$(mktemp -d -p \"$HOME\"); b=$(mktemp -d -p \"$HOME\")
             (cd \"$a\" && runc spec {flag}) && rpod oci spec {flag} --bundle \"$b\"
             cat \"$a/config.json\"; echo; echo '--8<--'; cat \"$b/config.json\""
        ));
        let (theirs, ours) = out.split_once("--8<--").expect("both specs printed");
        let theirs: Value = serde_json::from_str(theirs).expect("runc's spec is JSON");
        let ours: Value = serde_json::from_str(ours).expect("rpod's spec is JSON");
        assert_eq!(normalise(ours), normalise(theirs), "rpod oci spec {flag}");
    }
    // Like runc, an existing config.json is never overwritten (and, as runc,
    // the oci front end may exit 1 rather than 125).
    let out = env.sh(
        "cd \"$HOME\" && echo keep > config.json && rpod oci spec; echo \"rc=$?\"; cat config.json",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("rc=0"), "{text}");
    assert!(text.trim_end().ends_with("keep"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.json"));
}
