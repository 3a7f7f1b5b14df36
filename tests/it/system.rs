//! `rpod version`, `rpod info` and the top-level `rpod inspect`, as the test user.

use crate::common;
use crate::common::Env;

#[test]
fn info_reports_the_rootless_setup() {
    let env = Env::new("info");
    let out = env.rpod_ok(&["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("info prints JSON");
    assert_eq!(v["host"]["rootless"], true);
    let root = v["store"]["graphRoot"].as_str().unwrap();
    assert_eq!(root, env.home.join(".local/share/rpod").to_str().unwrap());
    let run = v["store"]["runRoot"].as_str().unwrap();
    assert!(run.starts_with(env.runtime_dir.to_str().unwrap()), "{run}");
    // The subordinate range of the test user, as /etc/subuid has it.
    let start = common::world().get("SUBID_START").parse::<u64>().unwrap();
    assert_eq!(v["host"]["idMappings"]["uidmap"][0]["host_id"], start);
    for tool in ["newuidmap", "newgidmap", "slirp4netns", "fuse-overlayfs"] {
        assert!(
            v["binaries"][tool]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with(tool)),
            "{tool}: {}",
            v["binaries"][tool]
        );
    }
    // This machine: cgroup v1 hybrid, so limits are not enforced.
    let cg = &v["host"]["cgroups"];
    assert_eq!(cg["limits"], "not enforced", "{cg}");
    assert!(cg["reason"].as_str().unwrap().contains("v1"), "{cg}");
    let search = v["registries"]["search"].as_array().unwrap();
    assert_eq!(search[0], common::world().registry());
}

#[test]
fn info_speaks_yaml_by_default() {
    let env = Env::new("infoyaml");
    let out = env.rpod_ok(&["info"]);
    assert!(out.contains("host:\n"), "{out}");
    assert!(out.contains("\n  rootless: true\n"), "{out}");
    let root = env.home.join(".local/share/rpod");
    assert!(
        out.contains(&format!("  graphRoot: {}\n", root.display())),
        "{out}"
    );
    assert!(
        out.contains("\n    - host_id: "),
        "uid ranges as a YAML list: {out}"
    );
}

#[test]
fn version_names_the_version() {
    let env = Env::new("version");
    let out = env.rpod_ok(&["version"]);
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    assert!(out.contains("linux/"), "{out}");
}

#[test]
fn inspect_finds_containers_then_images() {
    let env = Env::new("inspect");
    let img_id = env.rpod_ok(&["pull", "-q", "alpine"]).trim().to_string();
    let id = env
        .rpod_ok(&["create", "--name", "box", "alpine", "true"])
        .trim()
        .to_string();
    assert_eq!(
        env.rpod_ok(&["inspect", "--format", "{{.Id}}", "box"])
            .trim(),
        id
    );
    assert_eq!(
        env.rpod_ok(&["inspect", "--format", "{{.Id}}", "alpine"])
            .trim(),
        img_id
    );
    assert_eq!(
        env.rpod_ok(&["inspect", "--type", "image", "--format", "{{.Id}}", "alpine"])
            .trim(),
        img_id
    );
    let both = env.rpod_ok(&["inspect", "box", "alpine"]);
    let v: serde_json::Value = serde_json::from_str(&both).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let (code, err) = env.rpod_fail(&["inspect", "nothing-by-this-name"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("no such object: \"nothing-by-this-name\""),
        "{err}"
    );
    let (code, _) = env.rpod_fail(&["inspect", "--type", "container", "alpine"]);
    assert_eq!(code, 125);
    env.rpod_ok(&["rm", "box"]);
}
