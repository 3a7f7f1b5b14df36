//! Image references and short-name resolution through registries.conf, as the
//! unprivileged test user: bad names are refused before any network traffic,
//! aliases and search registries pick the image, blocked registries stay
//! blocked, and a broken registries.conf is named with its line.

use crate::common::{world, Env};
use std::path::PathBuf;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn conf_dir(env: &Env) -> PathBuf {
    env.home.join(".config/containers")
}

fn write_conf(env: &Env, body: &str) {
    std::fs::write(conf_dir(env).join("registries.conf"), body).unwrap();
}

fn names(env: &Env) -> String {
    env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
}

#[test]
fn bad_references_exit_125_naming_the_input() {
    let env = Env::new("badrefs");
    let long_tag = format!("alpine:{}", "t".repeat(129));
    let cases: Vec<(String, &str)> = vec![
        ("Alpine".into(), "lowercase"),
        (format!("{}/Alpine", world().registry()), "lowercase"),
        ("alpine@sha256:abc".into(), "64"),
        (
            "alpine@md5:0123456789abcdef0123456789abcdef".into(),
            "unsupported",
        ),
        (long_tag.clone(), "128"),
        ("alpine:ta$g".into(), "tag"),
        ("alp//ine".into(), "empty path component"),
    ];
    for (input, why) in cases {
        let (code, err) = env.rpod_fail(&["pull", &input]);
        assert_eq!(code, 125, "{input}: {err}");
        assert!(err.contains(why), "{input}: {err}");
        assert!(
            err.contains(&format!("{input:?}")),
            "the error must name {input:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
    let (code, err) = env.rpod_fail(&["pull", ""]);
    assert_eq!(code, 125);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn aliases_and_drop_ins_resolve_short_names() {
    let env = Env::new("aliases");
    let reg = world().registry();
    let d = conf_dir(&env).join("registries.conf.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("50-alias.conf"),
        format!("[aliases]\n\"myalpine\" = \"{reg}/alpine\"\n"),
    )
    .unwrap();
    let out = env.rpod(&["pull", "myalpine"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n = names(&env);
    assert!(
        n.lines().any(|l| l == format!("{reg}/alpine:latest")),
        "{n}"
    );
}

#[test]
fn several_search_registries_are_tried_in_turn() {
    let env = Env::new("search2");
    let reg = world().registry();
    // The first search registry refuses connections; the second has the image.
    write_conf(
        &env,
        &format!(
            "unqualified-search-registries = [\"localhost:1\", \"{reg}\"]\n\
             [[registry]]\nlocation = \"{reg}\"\ninsecure = true\n\
             [[registry]]\nlocation = \"localhost:1\"\ninsecure = true\n"
        ),
    );
    let out = env.rpod(&["pull", "alpine"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n = names(&env);
    assert!(
        n.lines().any(|l| l == format!("{reg}/alpine:latest")),
        "{n}"
    );
}

#[test]
fn enforcing_mode_without_a_terminal_refuses_ambiguous_names() {
    let env = Env::new("enforcing");
    let reg = world().registry();
    write_conf(
        &env,
        &format!(
            "unqualified-search-registries = [\"{reg}\", \"localhost:1\"]\n\
             short-name-mode = \"enforcing\"\n"
        ),
    );
    let (code, err) = env.rpod_fail(&["pull", "alpine"]);
    assert_eq!(code, 125);
    assert!(err.contains("cannot prompt without a TTY"), "{err}");
    assert!(err.contains("\"alpine\""), "{err}");
}

#[test]
fn blocked_registries_are_refused_by_name() {
    let env = Env::new("blocked");
    let reg = world().registry();
    write_conf(
        &env,
        &format!("[[registry]]\nlocation = \"{reg}\"\ninsecure = true\nblocked = true\n"),
    );
    let (code, err) = env.rpod_fail(&["pull", &format!("{reg}/alpine")]);
    assert_eq!(code, 125);
    assert!(err.contains(&format!("registry {reg} is blocked")), "{err}");
}

#[test]
fn a_registry_not_marked_insecure_needs_tls() {
    let env = Env::new("notinsec");
    write_conf(&env, "unqualified-search-registries = []\n");
    let reg = world().registry();
    let (code, err) = env.rpod_fail(&["pull", &format!("{reg}/alpine")]);
    assert_eq!(code, 125);
    assert!(err.contains(reg), "{err}");
    // --tls-verify=false allows plain HTTP for this one pull.
    let out = env.rpod(&["pull", "--tls-verify=false", &format!("{reg}/alpine")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn broken_registries_conf_is_named_with_its_line() {
    let mut env = Env::new("badconf");
    let f = conf_dir(&env).join("registries.conf");
    write_conf(
        &env,
        "unqualified-search-registries = [\"x.io\"]\n\n[[registry]\nlocation = \"a\"\n",
    );
    let (code, err) = env.rpod_fail(&["pull", "alpine"]);
    assert_eq!(code, 125);
    assert!(err.contains(&format!("{}: line 3", f.display())), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");

    // --registries-conf and CONTAINERS_REGISTRIES_CONF name their own file.
    let other = env.home.join("other.conf");
    std::fs::write(&other, "short-name-mode = 7\n").unwrap();
    let (code, err) = env.rpod_fail(&[
        "pull",
        "--registries-conf",
        other.to_str().unwrap(),
        "alpine",
    ]);
    assert_eq!(code, 125);
    assert!(
        err.contains(&format!("{}: line 1", other.display())),
        "{err}"
    );
    env.set_env("CONTAINERS_REGISTRIES_CONF", other.to_str().unwrap());
    let (code, err) = env.rpod_fail(&["pull", "alpine"]);
    assert_eq!(code, 125);
    assert!(err.contains(&other.display().to_string()), "{err}");
}
