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
    // podman's shape: the user as 0, the range from 1.
    let uid = common::world().get("TEST_UID").parse::<u64>().ok();
    let map = &v["host"]["idMappings"]["uidmap"];
    assert_eq!(map[0]["container_id"], 0, "{map}");
    if let Some(uid) = uid {
        assert_eq!(map[0]["host_id"], uid, "{map}");
    }
    assert_eq!(map[1]["container_id"], 1, "{map}");
    assert_eq!(map[1]["host_id"], start, "{map}");
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
        out.contains("\n    - container_id: 1\n      host_id: "),
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

/// podman's Go-template fields on `info` and `version`, with rpod's values;
/// `--format json` keeps podman's JSON keys.
#[test]
fn info_and_version_take_podmans_go_templates() {
    let env = Env::new("infotmpl");
    let t = |f: &str| env.rpod_ok(&["info", "--format", f]).trim_end().to_string();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    assert_eq!(t("{{.Host.Arch}}"), arch);
    assert_eq!(t("{{.Host.OS}}/{{.Host.OCIRuntime.Name}}"), "linux/rpod");
    let root = env.home.join(".local/share/rpod");
    assert_eq!(t("{{.Store.GraphRoot}}"), root.to_str().unwrap());
    assert_eq!(
        t("{{.Store.VolumePath}}"),
        root.join("volumes").to_str().unwrap()
    );
    assert!(t("{{.Store.RunRoot}}").starts_with(env.runtime_dir.to_str().unwrap()));
    assert_eq!(
        t("{{.Host.LogDriver}} {{.Host.NetworkBackend}} {{.Host.EventLogger}}"),
        "k8s-file netavark file"
    );
    assert_eq!(t("{{.Host.Security.Rootless}}"), "true");
    // This machine: cgroup v1 hybrid.
    assert_eq!(t("{{.Host.CgroupsVersion}}"), "v1");
    assert_eq!(
        t("{{.Store.ImageStore.Number}} {{.Store.ContainerStore.Number}}"),
        "0 0"
    );
    let start = common::world().get("SUBID_START");
    let maps = t("{{json .Host.IDMappings.UIDMap}}");
    // podman's JSON keys (container_id, host_id, size), as podman 4.3 prints them.
    assert!(maps.contains(&format!("\"host_id\":{start}")), "{maps}");
    assert!(t("{{.Registries}}").contains(common::world().registry()));
    assert!(t("{{.Host.Slirp4NetNS.Executable}}").ends_with("slirp4netns"));
    let mem: u64 = t("{{.Host.MemTotal}}").parse().unwrap();
    assert!(mem > 0);
    assert_eq!(t("{{.Version.Version}}"), env!("CARGO_PKG_VERSION"));
    let (code, e) = env.rpod_fail(&["info", "--format", "{{.Host.Nope}}"]);
    assert_eq!(code, 125);
    assert!(e.contains(".Host.Nope"), "{e}");
    // JSON keeps podman's keys.
    let v: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["info", "--format", "json"])).unwrap();
    for k in ["host", "store", "registries", "plugins", "version"] {
        assert!(v.get(k).is_some(), "{k} missing");
    }
    for k in [
        "ociRuntime",
        "cgroupVersion",
        "logDriver",
        "networkBackend",
        "idMappings",
        "memTotal",
        "eventLogger",
    ] {
        assert!(v["host"].get(k).is_some(), "host.{k} missing");
    }
    assert_eq!(v["host"]["ociRuntime"]["name"], "rpod");
    assert_eq!(v["store"]["imageStore"]["number"], 0);
    // version: podman's Client fields, as a template and as JSON.
    let out = env.rpod_ok(&["version", "--format", "{{.Client.Version}} {{.Client.Os}}"]);
    assert_eq!(out, format!("{} linux\n", env!("CARGO_PKG_VERSION")));
    let v: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["version", "--format", "json"])).unwrap();
    assert_eq!(v["Client"]["Version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["Client"]["OsArch"], format!("linux/{arch}"));
}
