//! `kube generate` (and `generate kube`) as the unprivileged test user
//! (issue 15): the YAML of pods, containers and volumes is checked against
//! the official Kubernetes schemas with `kubernetes-validate --strict` (set
//! up by tests/world/setup.sh), and for what it says.

use crate::common::*;
use std::path::PathBuf;

/// The schema validator the test world installed.
fn validator() -> PathBuf {
    let w = world();
    if let Some(v) = w.vars.get("KUBE_VALIDATE").filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    let p = PathBuf::from(w.get("STATE_DIR")).join("kv/bin/kubernetes-validate");
    assert!(
        p.exists(),
        "kubernetes-validate is not installed: re-run tests/world/setup.sh"
    );
    p
}

/// Validate `yaml` strictly against the Kubernetes schemas; returns the
/// validator's report.
fn validate(env: &Env, yaml: &str) -> String {
    let f = env.dir.join(format!("gen-{}.yaml", yaml.len()));
    std::fs::write(&f, yaml).unwrap();
    let o = std::process::Command::new(validator())
        .arg("--strict")
        .arg(&f)
        .output()
        .unwrap();
    let text = format!("{}{}", out(&o), err(&o));
    assert!(
        o.status.success(),
        "kubernetes-validate refused:\n{text}\n{yaml}"
    );
    text
}

#[test]
fn generate_of_a_pod_with_service_and_volume_is_valid_kubernetes() {
    let env = env_with_alpine("kubegen");
    let _r = Reaper(&env);
    env.rpod_ok(&["pod", "create", "--name", "web", "-p", "8089:80"]);
    env.rpod_ok(&["volume", "create", "data"]);
    env.rpod_ok(&[
        "create",
        "--pod",
        "web",
        "--name",
        "srv",
        "-e",
        "A=1",
        "-e",
        "B=x: y",
        "-w",
        "/tmp",
        "-v",
        "data:/data",
        "--tmpfs",
        "/scratch",
        "--cap-drop",
        "net_raw",
        "-u",
        "1000:1000",
        "alpine",
        "sleep",
        "100",
    ]);
    let y = env.rpod_ok(&["kube", "generate", "--service", "web", "data"]);
    let report = validate(&env, &y);
    assert!(report.contains("service/web"), "{report}");
    assert!(report.contains("pod/web"), "{report}");
    assert!(report.contains("persistentvolumeclaim/data"), "{report}");
    for want in [
        "kind: Service\n",
        "  type: NodePort\n",
        "  hostname: web\n",
        "    - containerPort: 80\n      hostPort: 8089\n",
        "    - name: A\n      value: \"1\"\n",
        "    - name: B\n      value: \"x: y\"\n",
        "    workingDir: /tmp\n",
        "      claimName: data\n",
        "      medium: Memory\n",
        "        - NET_RAW\n",
        "      runAsUser: 1000\n",
        "    image: localhost:5000/alpine:latest\n",
        "    - sleep\n    - \"100\"\n",
    ] {
        assert!(y.contains(want), "missing {want:?} in\n{y}");
    }
    // The infra is not a container of the generated pod.
    assert!(!y.contains("-infra"), "{y}");
    // podman 4.3's spelling prints the same objects.
    let y2 = env.rpod_ok(&["generate", "kube", "--service", "web", "data"]);
    assert_eq!(y, y2);
    // -f writes a file, and refuses to overwrite one.
    let f = env.home.join("web.yaml");
    env.rpod_ok(&["kube", "generate", "-f", f.to_str().unwrap(), "web"]);
    assert!(std::fs::read_to_string(&f).unwrap().contains("kind: Pod"));
    let (code, e) = env.rpod_fail(&["kube", "generate", "-f", f.to_str().unwrap(), "web"]);
    assert_eq!(code, 125);
    assert!(e.contains("file exists"), "{e}");
    env.rpod_ok(&["pod", "rm", "-f", "-t", "0", "web"]);
}

#[test]
fn generate_of_containers_is_one_valid_pod() {
    let env = env_with_alpine("kubectr");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "create",
        "--name",
        "solo",
        "-p",
        "8090:80",
        "-p",
        "5353:53/udp",
        "--read-only",
        "alpine",
        "sleep",
        "100",
    ]);
    env.rpod_ok(&[
        "create",
        "--name",
        "two",
        "-v",
        "/tmp:/hosttmp:ro",
        "alpine",
        "true",
    ]);
    let y = env.rpod_ok(&["kube", "generate", "solo", "two"]);
    validate(&env, &y);
    assert!(y.contains("  name: solo-pod\n"), "{y}");
    assert!(
        y.contains("    name: solo\n") && y.contains("    name: two\n"),
        "{y}"
    );
    assert!(y.contains("      hostPort: 8090\n"), "{y}");
    assert!(y.contains("      protocol: UDP\n"), "{y}");
    assert!(y.contains("      readOnlyRootFilesystem: true\n"), "{y}");
    assert!(
        y.contains("  - hostPath:\n      path: /tmp\n      type: Directory\n"),
        "{y}"
    );
    assert!(y.contains("      readOnly: true\n"), "{y}");
    let (code, e) = env.rpod_fail(&["kube", "generate", "nosuchthing"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("nosuchthing does not refer to a container, pod or volume"),
        "{e}"
    );
}

/// podman's `io.podman.annotations.*/NAME` and a container's own
/// annotations (`KEY/NAME`) go into the pod's metadata (valid Kubernetes),
/// and `kube play` of that YAML gives them back: `--init` and the
/// annotation on the new container.
#[test]
fn annotations_round_trip_through_generate_and_play() {
    let env = env_with_alpine("kubeanno");
    let _r = Reaper(&env);
    env.rpod_ok(&["pod", "create", "--name", "an"]);
    env.rpod_ok(&[
        "create",
        "--pod",
        "an",
        "--name",
        "an-c",
        "--init",
        "--annotation",
        "team=blue",
        "alpine",
        "sleep",
        "1000",
    ]);
    let y = env.rpod_ok(&["kube", "generate", "an"]);
    validate(&env, &y);
    assert!(y.contains("io.podman.annotations.init/c: \"TRUE\""), "{y}");
    assert!(y.contains("team/c: blue"), "{y}");
    env.rpod_ok(&["pod", "rm", "-f", "an"]);
    let f = env.dir.join("an.yaml");
    std::fs::write(&f, &y).unwrap();
    env.rpod_ok(&["kube", "play", f.to_str().unwrap()]);
    let ann = field(&env, "an-c", "{{json .Config.Annotations}}");
    assert!(ann.contains("\"team/c\":\"blue\""), "{ann}");
    assert!(
        ann.contains("\"io.podman.annotations.init\":\"TRUE\""),
        "{ann}"
    );
    // Generated again: the same annotations, not suffixed twice.
    let again = env.rpod_ok(&["kube", "generate", "an"]);
    assert!(
        again.contains("io.podman.annotations.init/c: \"TRUE\""),
        "{again}"
    );
    assert!(
        again.contains("team/c: blue") && !again.contains("/c/c"),
        "{again}"
    );
    env.rpod_ok(&["kube", "down", f.to_str().unwrap()]);
    // A value that is no boolean is refused, naming the annotation.
    let bad = y.replace(
        "io.podman.annotations.init/c: \"TRUE\"",
        "io.podman.annotations.init/c: maybe",
    );
    std::fs::write(&f, bad).unwrap();
    let (code, err) = env.rpod_fail(&["kube", "play", f.to_str().unwrap()]);
    assert_eq!(code, 125);
    assert!(
        err.contains("metadata.annotations: io.podman.annotations.init/c"),
        "{err}"
    );
}

/// A volume mounted with `--mount ...,subpath=SUB` is generated as a
/// volumeMount with `subPath: SUB` (as Kubernetes and podman 5 write it),
/// valid Kubernetes, and `kube play` of that YAML mounts only that part of
/// the volume again.
#[test]
fn volume_subpath_round_trips_through_generate_and_play() {
    let env = env_with_alpine("kubesubgen");
    let _r = Reaper(&env);
    env.rpod_ok(&["volume", "create", "subv"]);
    env.rpod_ok(&[
        "run",
        "--rm",
        "-v",
        "subv:/v",
        "alpine",
        "sh",
        "-c",
        "mkdir -p /v/sub && echo inside > /v/sub/in && echo top > /v/top",
    ]);
    env.rpod_ok(&[
        "create",
        "--name",
        "sp",
        "--mount",
        "type=volume,src=subv,dst=/d,subpath=sub",
        "alpine",
        "sleep",
        "1000",
    ]);
    let y = env.rpod_ok(&["kube", "generate", "sp", "subv"]);
    validate(&env, &y);
    assert!(
        y.contains("    - mountPath: /d\n      name: subv-pvc\n      subPath: sub\n"),
        "{y}"
    );
    assert!(y.contains("      claimName: subv\n"), "{y}");
    env.rpod_ok(&["rm", "-f", "sp"]);
    let f = env.dir.join("sp.yaml");
    std::fs::write(&f, &y).unwrap();
    let played = env.rpod_ok(&["kube", "play", f.to_str().unwrap()]);
    assert!(played.contains("Pod:"), "{played}");
    // Only the subdirectory is at /d: its file, not the volume's top.
    assert_eq!(env.rpod_ok(&["exec", "sp-pod-sp", "ls", "/d"]), "in\n");
    assert_eq!(
        env.rpod_ok(&["exec", "sp-pod-sp", "cat", "/d/in"]),
        "inside\n"
    );
    // Generated again from what play made: the same subPath.
    let again = env.rpod_ok(&["kube", "generate", "sp-pod"]);
    assert!(again.contains("      subPath: sub\n"), "{again}");
    env.rpod_ok(&["kube", "down", f.to_str().unwrap()]);
    env.rpod_ok(&["volume", "rm", "subv"]);
}
