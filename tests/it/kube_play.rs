//! `kube play` / `play kube` and `kube down` as the unprivileged test user
//! (issue 15): Pods, Deployments, PersistentVolumeClaims and ConfigMaps run
//! as rpod pods; hostile YAML (alias bombs, deep nesting, names that climb
//! out of the store, huge replicas) refused or bounded with nothing written
//! outside what was asked; and the round trip through `kube generate`.

use crate::common::*;
use std::path::Path;

fn image() -> String {
    format!("{}/alpine:latest", world().registry())
}

/// Write `text` where the test user can read it.
fn yaml_file(env: &Env, name: &str, text: &str) -> String {
    let p = env.dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// The ids under a `Pod:` / `Container(s):` block of kube play's output.
fn play_ids(out: &str) -> (Vec<String>, Vec<String>) {
    let (mut pods, mut ctrs) = (Vec::new(), Vec::new());
    let mut section = "";
    for l in out.lines() {
        match l {
            "Pod:" | "Container:" | "Containers:" | "Volumes:" => section = l,
            "" => section = "",
            id if section == "Pod:" => pods.push(id.to_string()),
            id if section.starts_with("Container") => ctrs.push(id.to_string()),
            _ => {}
        }
    }
    (pods, ctrs)
}

fn nothing_made(env: &Env) {
    assert_eq!(
        env.rpod_ok(&["pod", "ps", "-q"]).trim(),
        "",
        "a pod was made"
    );
    assert_eq!(
        env.rpod_ok(&["ps", "-aq"]).trim(),
        "",
        "a container was made"
    );
}

#[test]
fn play_runs_a_pod_with_configmaps_volumes_and_an_init_container() {
    let env = env_with_alpine("kubeplay");
    let _r = Reaper(&env);
    let img = image();
    let hostdir = env.dir.join("made-by-play");
    let cm_file = yaml_file(
        &env,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  FROM_FILE: filevalue\n",
    );
    let y = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  GREETING: hello world
  app.conf: "port=8080"
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: kpdata
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  initContainers:
  - name: prep
    image: {img}
    command: ["sh", "-c", "echo prepared > /shared/init.txt"]
    volumeMounts:
    - name: shared
      mountPath: /shared
  containers:
  - name: srv
    image: {img}
    command: ["sleep"]
    args: ["1000"]
    workingDir: /tmp
    envFrom:
    - configMapRef:
        name: settings
      prefix: S_
    env:
    - name: PLAIN
      value: "1"
    - name: PICKED
      valueFrom:
        configMapKeyRef:
          name: extra
          key: FROM_FILE
    - name: PODNAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    ports:
    - containerPort: 80
      hostPort: 42511
    volumeMounts:
    - name: shared
      mountPath: /shared
    - name: conf
      mountPath: /etc/app
    - name: data
      mountPath: /data
    - name: host
      mountPath: /host
  - name: side
    image: {img}
    command: ["sleep", "1000"]
    securityContext:
      runAsUser: 1000
      runAsGroup: 1000
      readOnlyRootFilesystem: true
      capabilities:
        drop: [NET_RAW]
    volumeMounts:
    - name: shared
      mountPath: /shared
      readOnly: true
  volumes:
  - name: shared
    emptyDir: {{}}
  - name: conf
    configMap:
      name: settings
      items:
      - key: app.conf
        path: sub/app.conf
  - name: data
    persistentVolumeClaim:
      claimName: kpdata
  - name: host
    hostPath:
      path: {}
      type: DirectoryOrCreate
"#,
        hostdir.display()
    );
    let f = yaml_file(&env, "web.yaml", &y);
    let out = env.rpod_ok(&["kube", "play", "--configmap", &cm_file, &f]);
    // podman's layout: the claim's volume, then the pod and its containers.
    assert!(out.starts_with("Volumes:\nkpdata\nPod:\n"), "{out}");
    assert!(out.contains("\nContainers:\n"), "{out}");
    let (pods, ctrs) = play_ids(&out);
    assert_eq!(pods.len(), 1, "{out}");
    assert_eq!(ctrs.len(), 2, "{out}");
    // Containers are named POD-NAME; the init container ran and is gone.
    let names = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        names.contains("web-srv") && names.contains("web-side"),
        "{names}"
    );
    assert!(!names.contains("web-prep"), "{names}");
    assert_eq!(field(&env, "web-srv", "{{.State.Status}}"), "running");
    let in_pod = env.rpod_ok(&["ps", "--format", "{{.Names}} {{.Pod}}"]);
    assert!(
        in_pod.contains(&format!("web-srv {}", &pods[0][..12])),
        "{in_pod}"
    );
    let e = env.rpod_ok(&["exec", "web-srv", "env"]);
    for want in [
        "S_GREETING=hello world",
        "PLAIN=1",
        "PICKED=filevalue",
        "PODNAME=web",
    ] {
        assert!(e.contains(want), "missing {want} in\n{e}");
    }
    assert_eq!(env.rpod_ok(&["exec", "web-srv", "pwd"]).trim(), "/tmp");
    assert_eq!(
        env.rpod_ok(&["exec", "web-srv", "cat", "/shared/init.txt"])
            .trim(),
        "prepared"
    );
    assert_eq!(
        env.rpod_ok(&["exec", "web-srv", "cat", "/etc/app/sub/app.conf"])
            .trim(),
        "port=8080"
    );
    // The configMap volume is read-only; the emptyDir is shared.
    env.rpod_fail(&["exec", "web-srv", "sh", "-c", "echo x > /etc/app/new"]);
    env.rpod_ok(&["exec", "web-srv", "sh", "-c", "echo hi > /shared/from-srv"]);
    assert_eq!(
        env.rpod_ok(&["exec", "web-side", "cat", "/shared/from-srv"])
            .trim(),
        "hi"
    );
    assert_eq!(
        env.rpod_ok(&["exec", "web-side", "id", "-u"]).trim(),
        "1000"
    );
    env.rpod_fail(&["exec", "web-side", "touch", "/rootfs-is-ro"]);
    // The hostPath DirectoryOrCreate was made, and is the container's /host.
    assert!(hostdir.is_dir());
    env.rpod_ok(&["exec", "web-srv", "touch", "/host/through"]);
    assert!(hostdir.join("through").exists());
    // The hostPort is published on the pod.
    let ports = env.rpod_ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(ports.contains("0.0.0.0:42511->80/tcp"), "{ports}");
    let labels = env.rpod_ok(&["pod", "inspect", "--format", "{{.Labels}}", "web"]);
    assert!(labels.contains("app:web"), "{labels}");
    // Playing it again is refused without --replace, before anything is made.
    let (code, err) = env.rpod_fail(&["kube", "play", "--configmap", &cm_file, &f]);
    assert_eq!(code, 125);
    assert!(err.contains("name \"web\" is in use"), "{err}");
    let anon_before: Vec<String> = env
        .rpod_ok(&["volume", "ls", "-q"])
        .lines()
        .filter(|v| v.len() == 64)
        .map(String::from)
        .collect();
    assert_eq!(anon_before.len(), 1, "{anon_before:?}");
    // kube down: podman's report; the pod, its containers and its
    // emptyDir go, the claim's and the ConfigMap's named volumes stay.
    let down = env.rpod_ok(&["kube", "down", &f]);
    assert_eq!(
        down,
        format!("Pods stopped:\n{0}\nPods removed:\n{0}\n", pods[0])
    );
    nothing_made(&env);
    let vols = env.rpod_ok(&["volume", "ls", "-q"]);
    assert!(
        vols.contains("kpdata") && vols.contains("settings"),
        "{vols}"
    );
    assert!(!vols.contains(&anon_before[0]), "{vols}");
    let (code, err) = env.rpod_fail(&["kube", "down", &f]);
    assert_eq!(code, 125);
    assert!(
        err.contains("no pod with name or ID web found: no such pod"),
        "{err}"
    );
}

#[test]
fn deployments_run_one_replica_and_unknown_kinds_are_refused() {
    let env = env_with_alpine("kubedep");
    let _r = Reaper(&env);
    let img = image();
    let y = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dep\nspec:\n  replicas: 1000000000\n  selector:\n    matchLabels: {{app: dep}}\n  template:\n    metadata:\n      labels: {{app: dep}}\n    spec:\n      terminationGracePeriodSeconds: 0\n      containers:\n      - name: c\n        image: {img}\n        imagePullPolicy: IfNotPresent\n        command: [sleep, \"1000\"]\n"
    );
    // From standard input, podman 4.3's spelling, not started.
    let o = env.rpod_stdin(&["play", "kube", "--start=false", "-"], y.as_bytes());
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains("limiting replica count to 1"),
        "{}",
        err(&o)
    );
    let (pods, ctrs) = play_ids(&out(&o));
    assert_eq!((pods.len(), ctrs.len()), (1, 1), "{}", out(&o));
    let ps = env.rpod_ok(&["pod", "ps", "--format", "{{.Name}} {{.Status}}"]);
    assert_eq!(ps.trim(), "dep-pod-0 Created");
    assert_eq!(field(&env, "dep-pod-0-c", "{{.State.Status}}"), "created");
    // --replace makes it anew (and --start, the default, starts it).
    let f = yaml_file(&env, "dep.yaml", &y);
    let (code, e) = env.rpod_fail(&["kube", "play", "--replace", "--log-driver", "journald", &f]);
    assert_eq!(code, 125);
    assert!(e.contains("--log-driver journald"), "{e}");
    let again = env.rpod_ok(&[
        "kube",
        "play",
        "--replace",
        "--log-driver",
        "k8s-file",
        "--publish",
        "42513:80",
        &f,
    ]);
    let (pods2, _) = play_ids(&again);
    assert_ne!(pods2, pods);
    assert_eq!(field(&env, "dep-pod-0-c", "{{.State.Status}}"), "running");
    let ports = env.rpod_ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ports.contains("0.0.0.0:42513->80/tcp"), "{ports}");
    let ps = env.rpod_ok(&["pod", "ps", "-q"]);
    assert_eq!(ps.lines().count(), 1, "{ps}");
    // play kube --down is kube down.
    let down = env.rpod_ok(&["play", "kube", "--down", &f]);
    assert!(down.starts_with("Pods stopped:\n"), "{down}");
    nothing_made(&env);

    // A kind rpod doesn't play: one line naming it and its document; the
    // Pod before it in the file is not made either.
    let y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: first}}\nspec:\n  containers:\n  - {{name: c, image: {img}}}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: s}}\nspec: {{}}\n"
    );
    let f = yaml_file(&env, "statefulset.yaml", &y);
    let (code, e) = env.rpod_fail(&["kube", "play", &f]);
    assert_eq!(code, 125);
    assert!(
        e.contains("document 2") && e.contains("kind \"StatefulSet\" is not supported"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    // A field of the wrong type: the document, the object and the field.
    let y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: typo}}\nspec:\n  containers:\n  - name: c\n    image: {img}\n    ports:\n    - containerPort: eighty\n"
    );
    let f = yaml_file(&env, "typo.yaml", &y);
    let (code, e) = env.rpod_fail(&["kube", "play", &f]);
    assert_eq!(code, 125);
    assert!(
        e.contains("document 1 (Pod \"typo\")")
            && e.contains("spec.containers[0].ports[0].containerPort"),
        "{e}"
    );
    // hostNetwork: the pod's containers see the host's interfaces.
    let y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: hostnet}}\nspec:\n  hostNetwork: true\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: {img}\n    imagePullPolicy: IfNotPresent\n    command: [sleep, \"1000\"]\n    livenessProbe:\n      exec: {{command: [\"true\"]}}\n      periodSeconds: 7\n"
    );
    let f = yaml_file(&env, "hostnet.yaml", &y);
    env.rpod_ok(&["kube", "play", &f]);
    // The livenessProbe is the healthcheck (with restartPolicy Always, a
    // failure kills the container's init so that it restarts, as podman).
    let hc = field(&env, "hostnet-c", "{{.Config.Healthcheck}}");
    assert!(
        hc.contains("CMD-SHELL")
            && hc.contains("'true' || kill 1")
            && hc.contains("Interval:7000000000"),
        "{hc}"
    );
    env.rpod_ok(&["healthcheck", "run", "hostnet-c"]);
    let inside = env.rpod_ok(&["exec", "hostnet-c", "cat", "/proc/net/dev"]);
    let host = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert_eq!(inside.lines().count(), host.lines().count(), "{inside}");
    env.rpod_ok(&["kube", "down", &f]);
    // A failing init container: the pod's containers are not started.
    let y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: badinit}}\nspec:\n  terminationGracePeriodSeconds: 0\n  initContainers:\n  - {{name: i, image: {img}, imagePullPolicy: IfNotPresent, command: [sh, -c, \"exit 3\"]}}\n  containers:\n  - {{name: c, image: {img}, imagePullPolicy: IfNotPresent, command: [sleep, \"1000\"]}}\n"
    );
    let f = yaml_file(&env, "badinit.yaml", &y);
    let (code, e) = env.rpod_fail(&["kube", "play", &f]);
    assert_eq!(code, 125);
    assert!(
        e.contains("init container badinit-i exited with code 3")
            && e.contains("failed to start 1 containers"),
        "{e}"
    );
    assert_eq!(field(&env, "badinit-c", "{{.State.Status}}"), "created");
    env.rpod_ok(&["kube", "down", &f]);
    // A missing image: nothing half-made.
    let y = "apiVersion: v1\nkind: Pod\nmetadata: {name: noimg}\nspec:\n  containers:\n  - {name: c, image: localhost:5000/no-such-image:v1}\n";
    let f = yaml_file(&env, "noimg.yaml", y);
    let (code, e) = env.rpod_fail(&["kube", "play", &f]);
    assert_eq!(code, 125);
    assert!(e.contains("no-such-image"), "{e}");
    nothing_made(&env);
}

#[test]
fn hostile_yaml_is_refused_before_anything_is_made() {
    let env = env_with_alpine("kubehostile");
    let _r = Reaper(&env);
    let img = image();
    let marker = env.dir.join("escaped-marker");
    let store_before = env.store_entries("volumes");

    // A billion laughs: refused quickly, without the memory it asks for.
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\nx0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n");
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "x{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n"
        ));
    }
    let t = std::time::Instant::now();
    let f = yaml_file(&env, "bomb.yaml", &bomb);
    let (code, e) = env.rpod_fail(&["kube", "play", &f]);
    assert_eq!(code, 125);
    assert!(e.contains("alias bomb"), "{e}");
    assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());

    // Nesting without end, and more than 16 MiB on standard input.
    let deep: String = (0..5000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let f = yaml_file(&env, "deep.yaml", &deep);
    let (_, e) = env.rpod_fail(&["kube", "play", &f]);
    assert!(e.contains("nested deeper than"), "{e}");
    let big = vec![b'#'; (16 << 20) + 10];
    let o = env.rpod_stdin(&["kube", "play", "-"], &big);
    assert!(!o.status.success());
    assert!(err(&o).contains("larger than 16 MiB"), "{}", err(&o));

    // Names and paths that climb out of rpod's store.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: pwned}\n---\n";
    let rel = format!("../../../../../../../..{}", marker.display());
    let pod = |name: &str, ctr: &str, vol: &str| {
        format!("{cm}apiVersion: v1\nkind: Pod\nmetadata: {{name: \"{name}\"}}\nspec:\n  containers:\n  - name: \"{ctr}\"\n    image: {img}\n    volumeMounts:\n    - {{name: v, mountPath: /m}}\n  volumes:\n  - name: v\n    {vol}\n")
    };
    let cases = [
        (
            pod("p", "c", &format!("configMap: {{name: cm, items: [{{key: k, path: \"{rel}\"}}]}}")),
            "must be relative",
        ),
        (
            pod("p", "c", &format!("configMap: {{name: cm, items: [{{key: k, path: \"{}\"}}]}}", marker.display())),
            "must be relative",
        ),
        (
            pod("p", "c", "persistentVolumeClaim: {claimName: \"../../../x\"}"),
            "invalid volume name",
        ),
        (pod("../../p", "c", "emptyDir: {}"), "the pod's name"),
        (pod("p", "../../c", "emptyDir: {}"), "name"),
        (
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm2}}\ndata: {{\"../../{}\": x}}\n", marker.display()),
            "not a valid ConfigMap key",
        ),
    ];
    for (y, want) in &cases {
        let f = yaml_file(&env, "hostile.yaml", y);
        let (code, e) = env.rpod_fail(&["kube", "play", &f]);
        assert_eq!(code, 125, "{y}");
        assert!(e.contains(want), "want {want:?} for\n{y}\ngot {e}");
    }
    // Nothing was written outside, nor made inside.
    assert!(!marker.exists());
    nothing_made(&env);
    assert_eq!(env.store_entries("volumes"), store_before);
}

#[test]
fn privileged_with_the_host_root_gets_no_more_than_the_user_has() {
    let env = env_with_alpine("kubepriv");
    let _r = Reaper(&env);
    let img = image();
    // podman allows both: the host path and the privilege are the user's
    // own choice, and rootless, privileged is the user's privilege.
    let y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: priv}}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: {img}\n    command: [sleep, \"1000\"]\n    securityContext: {{privileged: true}}\n    volumeMounts:\n    - {{name: root, mountPath: /host}}\n  volumes:\n  - name: root\n    hostPath: {{path: /, type: Directory}}\n"
    );
    let f = yaml_file(&env, "priv.yaml", &y);
    env.rpod_ok(&["kube", "play", &f]);
    assert_eq!(field(&env, "priv-c", "{{.HostConfig.Privileged}}"), "true");
    // The user's own files are there; root's are not readable or writable.
    let mine = env.dir.join("mine.txt");
    std::fs::write(&mine, "mine").unwrap();
    std::process::Command::new("chown")
        .arg(format!("{}:", world().user()))
        .arg(&mine)
        .status()
        .unwrap();
    let inside = format!("/host{}", mine.display());
    assert_eq!(env.rpod_ok(&["exec", "priv-c", "cat", &inside]), "mine");
    env.rpod_fail(&["exec", "priv-c", "cat", "/host/etc/shadow"]);
    env.rpod_fail(&[
        "exec",
        "priv-c",
        "sh",
        "-c",
        "echo x > /host/etc/rpod-kube-priv",
    ]);
    assert!(!Path::new("/etc/rpod-kube-priv").exists());
    env.rpod_ok(&["kube", "down", &f]);
}

#[test]
fn generate_then_play_recreates_the_pod() {
    let env = env_with_alpine("kuberound");
    let _r = Reaper(&env);
    env.rpod_ok(&["pod", "create", "--name", "rt", "-p", "42512:80"]);
    env.rpod_ok(&["volume", "create", "rtdata"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--pod",
        "rt",
        "--name",
        "srv",
        "-e",
        "A=1",
        "-e",
        "B=x: y",
        "-w",
        "/tmp",
        "-v",
        "rtdata:/data",
        "--tmpfs",
        "/scratch",
        "--cap-drop",
        "net_raw",
        "alpine",
        "sleep",
        "1000",
    ]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--pod",
        "rt",
        "--name",
        "helper",
        "-u",
        "1000:1000",
        "alpine",
        "sleep",
        "1001",
    ]);
    let y1 = env.rpod_ok(&["kube", "generate", "rt"]);
    let f = yaml_file(&env, "rt.yaml", &y1);
    let before = |what: &str| {
        field(
            &env,
            what,
            "{{.ImageName}} {{.Path}} {{.Args}} {{.Config.WorkingDir}} {{.Config.User}}",
        )
    };
    let srv = before("srv");
    let helper = before("helper");
    let srv_env = env.rpod_ok(&["exec", "srv", "env"]);
    // (`pod rm -f` alone can't signal a member running as another uid.)
    env.rpod_ok(&["pod", "stop", "-t", "0", "rt"]);
    env.rpod_ok(&["pod", "rm", "-f", "rt"]);
    nothing_made(&env);

    let out = env.rpod_ok(&["kube", "play", &f]);
    let (pods, ctrs) = play_ids(&out);
    assert_eq!((pods.len(), ctrs.len()), (1, 2), "{out}");
    // The same containers (named POD-NAME, as podman names them), images,
    // commands, working dirs, users, environment, volumes and ports.
    assert_eq!(before("rt-srv"), srv);
    assert_eq!(before("rt-helper"), helper);
    let e = env.rpod_ok(&["exec", "rt-srv", "env"]);
    for want in ["A=1", "B=x: y"] {
        assert!(srv_env.contains(want) && e.contains(want), "{want}: {e}");
    }
    env.rpod_ok(&["exec", "rt-srv", "sh", "-c", "echo kept > /data/f"]);
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "-v", "rtdata:/d", "alpine", "cat", "/d/f"])
            .trim(),
        "kept"
    );
    let js: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["container", "inspect", "rt-srv"])).unwrap();
    let mounts: Vec<String> = js[0]["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["Type"].as_str().unwrap(),
                m["Destination"].as_str().unwrap()
            )
        })
        .collect();
    assert!(mounts.contains(&"volume:/data".to_string()), "{mounts:?}");
    let ports = env.rpod_ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ports.contains("0.0.0.0:42512->80/tcp"), "{ports}");
    // And generating it again gives the same YAML: the round trip is stable.
    let y2 = env.rpod_ok(&["kube", "generate", "rt"]);
    assert_eq!(y1, y2);
    env.rpod_ok(&["kube", "down", &f]);
}

#[test]
fn concurrent_replace_leaves_one_copy() {
    let env = env_with_alpine("kubeconc");
    let _r = Reaper(&env);
    let img = image();
    let y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: conc}}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - {{name: a, image: {img}, imagePullPolicy: IfNotPresent, command: [sleep, \"1000\"]}}\n  - {{name: b, image: {img}, imagePullPolicy: IfNotPresent, command: [sleep, \"1000\"]}}\n"
    );
    let f = yaml_file(&env, "conc.yaml", &y);
    env.rpod_ok(&["kube", "play", &f]);
    let kids: Vec<_> = (0..2)
        .map(|_| {
            env.cmd(&["kube", "play", "--replace", &f])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = kids
        .into_iter()
        .map(|k| k.wait_with_output().unwrap())
        .collect();
    assert!(
        outs.iter().any(|o| o.status.success()),
        "{:?}",
        outs.iter().map(err).collect::<Vec<_>>()
    );
    // One pod, with its infra and its two containers, all running.
    let pods = env.rpod_ok(&["pod", "ps", "-q"]);
    assert_eq!(pods.lines().count(), 1, "{pods}");
    let ps = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert_eq!(ps.lines().count(), 3, "{ps}");
    assert!(ps.lines().all(|l| l.contains(" Up ")), "{ps}");
    env.rpod_ok(&["kube", "down", &f]);
    nothing_made(&env);
}
