//! `kube play` of Secrets (env, envFrom, secret volumes), DaemonSets,
//! NodePort Services and `volumeMounts[].subPath` as the unprivileged test
//! user (issue 15), with the subPath attacks: a `..`, absolute and relative
//! symlinks in a volume, and a container of the pod that could swap a
//! directory above a subPath for a symlink.

use crate::common::*;

fn image() -> String {
    format!("{}/alpine:latest", world().registry())
}

fn yaml_file(env: &Env, name: &str, text: &str) -> String {
    let p = env.dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn secret_yaml(img: &str, pass: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: kubesec
type: Opaque
data:
  user: YWRtaW4=
stringData:
  pass: {pass}
---
apiVersion: v1
kind: Pod
metadata:
  name: sp
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: {img}
    command: [sleep, "1000"]
    env:
    - name: U
      valueFrom:
        secretKeyRef: {{name: kubesec, key: user}}
    - name: FROMSTORE
      valueFrom:
        secretKeyRef: {{name: jsonsec, key: token}}
    - name: MISSING
      valueFrom:
        secretKeyRef: {{name: nosuch, key: k, optional: true}}
    envFrom:
    - secretRef: {{name: kubesec}}
      prefix: S_
    volumeMounts:
    - {{name: all, mountPath: /s}}
    - {{name: some, mountPath: /t}}
  volumes:
  - name: all
    secret:
      secretName: kubesec
  - name: some
    secret:
      secretName: jsonsec
      defaultMode: 0400
      items:
      - {{key: token, path: sub/tok}}
"#
    )
}

#[test]
fn secrets_feed_env_and_volumes_and_kube_down_removes_them() {
    let env = env_with_alpine("kubesecret");
    let _r = Reaper(&env);
    let img = image();
    // A secret made by `secret create` whose data is podman's JSON form.
    env.sh_ok(r#"printf '{"token":"czNjcjN0"}' | rpod secret create jsonsec -"#);
    let f = yaml_file(&env, "sec.yaml", &secret_yaml(&img, "hunter2"));
    let out = env.rpod_ok(&["kube", "play", &f]);
    assert!(out.starts_with("Pod:\n"), "{out}");
    // The Secret became an rpod secret of its name.
    let ls = env.rpod_ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert!(ls.contains("kubesec") && ls.contains("jsonsec"), "{ls}");
    let e = env.rpod_ok(&["exec", "sp-c", "env"]);
    for want in [
        "U=admin",
        "S_user=admin",
        "S_pass=hunter2",
        "FROMSTORE=s3cr3t",
    ] {
        assert!(e.lines().any(|l| l == want), "missing {want} in\n{e}");
    }
    assert!(!e.contains("MISSING="), "{e}");
    assert_eq!(env.rpod_ok(&["exec", "sp-c", "cat", "/s/user"]), "admin");
    assert_eq!(env.rpod_ok(&["exec", "sp-c", "cat", "/s/pass"]), "hunter2");
    assert_eq!(
        env.rpod_ok(&["exec", "sp-c", "cat", "/t/sub/tok"]),
        "s3cr3t"
    );
    assert_eq!(
        env.rpod_ok(&["exec", "sp-c", "stat", "-c", "%a", "/t/sub/tok"])
            .trim(),
        "400"
    );
    // Secret volumes are read-only.
    env.rpod_fail(&["exec", "sp-c", "sh", "-c", "echo x > /s/user"]);
    // A replay with a new value: the secret and its volume's file change.
    let f2 = yaml_file(&env, "sec2.yaml", &secret_yaml(&img, "rotated"));
    env.rpod_ok(&["kube", "play", "--replace", &f2]);
    assert_eq!(env.rpod_ok(&["exec", "sp-c", "cat", "/s/pass"]), "rotated");
    let e = env.rpod_ok(&["exec", "sp-c", "env"]);
    assert!(e.lines().any(|l| l == "S_pass=rotated"), "{e}");
    // kube down: the pod and the YAML's secret go; the store's own stays.
    let down = env.rpod_ok(&["kube", "down", &f2]);
    assert!(down.contains("Pods removed:\n"), "{down}");
    assert!(down.contains("Secrets removed:\n"), "{down}");
    let ls = env.rpod_ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert!(!ls.contains("kubesec") && ls.contains("jsonsec"), "{ls}");
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]).trim(), "");
}

#[test]
fn a_missing_secret_or_bad_secret_is_refused_before_anything_is_made() {
    let env = env_with_alpine("kubesecbad");
    let _r = Reaper(&env);
    let img = image();
    let y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: c\n    image: {img}\n    env:\n    - name: X\n      valueFrom:\n        secretKeyRef: {{name: absent, key: k}}\n"
    );
    let f = yaml_file(&env, "p.yaml", &y);
    let (code, err) = env.rpod_fail(&["kube", "play", &f]);
    assert_eq!(code, 125);
    assert!(
        err.contains("env[0] (X)") && err.contains("no key \"k\" in secret \"absent\""),
        "{err}"
    );
    let y = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  k: '!!notbase64'\n";
    let f = yaml_file(&env, "s.yaml", y);
    let (_, err) = env.rpod_fail(&["kube", "play", &f]);
    assert!(
        err.contains("document 1 (Secret \"s\")") && err.contains("data.k: not base64"),
        "{err}"
    );
    let y = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  ../k: eA==\n";
    let f = yaml_file(&env, "s2.yaml", y);
    let (_, err) = env.rpod_fail(&["kube", "play", &f]);
    assert!(err.contains("not a valid Secret key"), "{err}");
    // A volume of the secret's name that the user made is not written to.
    env.rpod_ok(&["volume", "create", "uservol"]);
    let y = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: uservol}}\nstringData: {{k: v}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: c\n    image: {img}\n    volumeMounts:\n    - {{name: s, mountPath: /s}}\n  volumes:\n  - name: s\n    secret: {{secretName: uservol}}\n"
    );
    let f = yaml_file(&env, "uv.yaml", &y);
    let (_, err) = env.rpod_fail(&["kube", "play", &f]);
    assert!(
        err.contains("refusing to write the secret's files into it"),
        "{err}"
    );
    let mp = env.rpod_ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        "uservol",
    ]);
    assert!(!std::path::Path::new(mp.trim()).join("k").exists());
    env.rpod_ok(&["secret", "rm", "uservol"]);
    assert_eq!(env.rpod_ok(&["secret", "ls", "-q"]).trim(), "");
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]).trim(), "");
}

#[test]
fn daemonsets_run_one_pod_and_nodeport_services_publish() {
    let env = env_with_alpine("kubeds");
    let _r = Reaper(&env);
    let img = image();
    let y = format!(
        r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    app: d
  ports:
  - port: 80
    targetPort: http
    nodePort: 42611
  - port: 81
    nodePort: 42612
    protocol: UDP
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: dset
spec:
  selector:
    matchLabels: {{app: d}}
  template:
    metadata:
      labels: {{app: d}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: {img}
        command: [sleep, "1000"]
        ports:
        - name: http
          containerPort: 8080
        - containerPort: 81
          hostPort: 42613
          protocol: UDP
"#
    );
    let f = yaml_file(&env, "ds.yaml", &y);
    // --userns: host (rpod's own) is what a pod's containers share.
    let (_, err) = env.rpod_fail(&["kube", "play", "--userns", "keep-id", &f]);
    assert!(err.contains("--userns keep-id: not supported"), "{err}");
    env.rpod_ok(&["kube", "play", "--userns", "host", &f]);
    let pods = env.rpod_ok(&["pod", "ps", "--format", "{{.Name}}"]);
    assert_eq!(pods.trim(), "dset-pod");
    let ports = env.rpod_ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    // The named targetPort is the container's 8080; the YAML's own
    // hostPort wins over the Service's nodePort for 81/udp.
    assert!(ports.contains("0.0.0.0:42611->8080/tcp"), "{ports}");
    assert!(ports.contains("0.0.0.0:42613->81/udp"), "{ports}");
    assert!(!ports.contains("42612"), "{ports}");
    let down = env.rpod_ok(&["kube", "down", &f]);
    assert!(down.contains("Pods removed:"), "{down}");
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]).trim(), "");
    // A targetPort naming no container port is refused, naming the Service.
    let bad = y.replace("targetPort: http", "targetPort: nosuch");
    let f = yaml_file(&env, "bad.yaml", &bad);
    let (_, err) = env.rpod_fail(&["kube", "play", &f]);
    assert!(
        err.contains("document 1 (Service \"web\"): spec.ports[0].targetPort \"nosuch\""),
        "{err}"
    );
}

#[test]
fn subpaths_mount_parts_of_volumes() {
    let env = env_with_alpine("kubesubpath");
    let _r = Reaper(&env);
    let img = image();
    let host = env.dir.join("hostvol");
    env.sh_ok(&format!(
        "mkdir -p {0}/conf && echo from-host > {0}/conf/app.txt",
        host.display()
    ));
    let y = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: subcm
data:
  one.conf: "1"
  two.conf: "2"
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: subpvc
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: sub
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: a
    image: {img}
    command: [sleep, "1000"]
    volumeMounts:
    - {{name: data, mountPath: /data, subPath: a/data}}
    - {{name: cm, mountPath: /etc/one.conf, subPath: one.conf}}
    - {{name: host, mountPath: /conf, subPath: conf, readOnly: true}}
  - name: b
    image: {img}
    command: [sleep, "1000"]
    volumeMounts:
    - {{name: data, mountPath: /data, subPath: b}}
    - {{name: data, mountPath: /all, readOnly: true}}
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: subpvc
  - name: cm
    configMap:
      name: subcm
  - name: host
    hostPath:
      path: {}
"#,
        host.display()
    );
    let f = yaml_file(&env, "sub.yaml", &y);
    env.rpod_ok(&["kube", "play", &f]);
    // The missing subPath directories were made inside the volume.
    env.rpod_ok(&["exec", "sub-a", "sh", "-c", "echo A > /data/f"]);
    env.rpod_ok(&["exec", "sub-b", "sh", "-c", "echo B > /data/f"]);
    assert_eq!(
        env.rpod_ok(&["exec", "sub-b", "cat", "/all/a/data/f"]),
        "A\n"
    );
    assert_eq!(env.rpod_ok(&["exec", "sub-b", "cat", "/all/b/f"]), "B\n");
    // A file of a configMap as a file; a host directory's part.
    assert_eq!(env.rpod_ok(&["exec", "sub-a", "cat", "/etc/one.conf"]), "1");
    assert_eq!(
        env.rpod_ok(&["exec", "sub-a", "cat", "/conf/app.txt"]),
        "from-host\n"
    );
    env.rpod_fail(&["exec", "sub-a", "touch", "/conf/new"]);
    env.rpod_ok(&["kube", "down", &f]);
}

/// The attack: a volume whose content points out of it (an absolute
/// symlink, a relative one climbing with `..`), a subPath spelled with
/// `..`, and a container of the pod that mounts the volume writable at
/// its root (an init container could swap a directory on the subPath's
/// way for a symlink before the other container starts). Nothing outside
/// the volume is mounted, read or written.
#[test]
fn attack_subpaths_stay_inside_their_volume() {
    let env = env_with_alpine("kubesubattack");
    let _r = Reaper(&env);
    let img = image();
    let outside = env.dir.join("outside");
    let vol = env.dir.join("vol");
    env.sh_ok(&format!(
        "mkdir -p {o} {v} && echo TOPSECRET > {o}/secret.txt && \
         ln -s {o} {v}/abs && ln -s ../../../../../../../../outside {v}/rel && \
         ln -s /etc/hostname {v}/file",
        o = outside.display(),
        v = vol.display()
    ));
    let pod = |mounts: &str, extra: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: atk}}\nspec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 0\n{extra}  containers:\n  - name: c\n    image: {img}\n    command: [sleep, \"1000\"]\n    volumeMounts:\n{mounts}  volumes:\n  - name: v\n    hostPath:\n      path: {}\n",
            vol.display()
        )
    };
    // `..` in the subPath itself: refused by name, nothing made.
    let f = yaml_file(
        &env,
        "dots.yaml",
        &pod("    - {name: v, mountPath: /m, subPath: ../outside}\n", ""),
    );
    let (code, err) = env.rpod_fail(&["kube", "play", &f]);
    assert_eq!(code, 125);
    assert!(
        err.contains("volumeMounts[0]: subPath") && err.contains("without \"..\""),
        "{err}"
    );
    // subPathExpr is not expanded: refused rather than mounting it all.
    let f = yaml_file(
        &env,
        "expr.yaml",
        &pod("    - {name: v, mountPath: /m, subPathExpr: $(POD)}\n", ""),
    );
    let (_, err) = env.rpod_fail(&["kube", "play", &f]);
    assert!(err.contains("subPathExpr is not supported"), "{err}");
    // A writable mount of the whole volume beside a subPath of it (here
    // an init container's): refused, naming both.
    let init = format!(
        "  initContainers:\n  - name: swap\n    image: {img}\n    command: [sh, -c, \"rm -rf /v/d && ln -s / /v/d\"]\n    volumeMounts:\n    - {{name: v, mountPath: /v}}\n"
    );
    let f = yaml_file(
        &env,
        "swap.yaml",
        &pod("    - {name: v, mountPath: /m, subPath: d}\n", &init),
    );
    let (_, err) = env.rpod_fail(&["kube", "play", &f]);
    assert!(
        err.contains("subPath \"d\": container \"swap\" mounts volume \"v\" writable whole"),
        "{err}"
    );
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]).trim(), "");
    assert!(!vol.join("d").exists());
    // Symlinks resolve inside the volume: each subPath is a new, empty
    // directory in it, never the outside one (nor the host's file).
    let f = yaml_file(
        &env,
        "links.yaml",
        &pod(
            "    - {name: v, mountPath: /abs, subPath: abs}\n    - {name: v, mountPath: /rel, subPath: rel/x}\n    - {name: v, mountPath: /file, subPath: file}\n",
            "",
        ),
    );
    env.rpod_ok(&["kube", "play", &f]);
    for m in ["/abs", "/rel", "/file"] {
        let found = env.rpod_ok(&[
            "exec",
            "atk-c",
            "sh",
            "-c",
            &format!("test -d {m} && ls -A {m} && echo empty"),
        ]);
        assert_eq!(found, "empty\n", "{m}");
        env.rpod_ok(&[
            "exec",
            "atk-c",
            "sh",
            "-c",
            &format!("echo planted > {m}/planted"),
        ]);
    }
    // What was written is inside the volume; outside is as it was.
    let outside_now: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(outside_now, vec!["secret.txt".to_string()]);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "TOPSECRET\n"
    );
    let inside = env.sh_ok(&format!("find {} -name planted | wc -l", vol.display()));
    assert_eq!(inside.trim(), "3");
    env.rpod_ok(&["kube", "down", &f]);
}

/// kill -9 of `kube play` at points through its work: every pod left has
/// its infra, no container is outside a pod, and the next `kube play
/// --replace` and `kube down` of the same YAML work and leave nothing (no
/// pod, container or emptyDir volume).
#[test]
fn kill_9_during_kube_play_leaves_nothing_the_next_play_or_down_trips_on() {
    let env = env_with_alpine("kubekill");
    let _r = Reaper(&env);
    let img = image();
    let y = format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: killsec
stringData:
  k: v
---
apiVersion: v1
kind: Pod
metadata:
  name: kk
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: i
    image: {img}
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "echo ok > /e/init"]
    volumeMounts:
    - {{name: e, mountPath: /e}}
  containers:
  - name: a
    image: {img}
    imagePullPolicy: IfNotPresent
    command: [sleep, "4242107"]
    env:
    - name: K
      valueFrom:
        secretKeyRef: {{name: killsec, key: k}}
    volumeMounts:
    - {{name: e, mountPath: /e}}
    - {{name: s, mountPath: /s}}
  - name: b
    image: {img}
    imagePullPolicy: IfNotPresent
    command: [sleep, "4242107"]
  volumes:
  - name: e
    emptyDir: {{}}
  - name: s
    secret:
      secretName: killsec
"#
    );
    let f = yaml_file(&env, "kill.yaml", &y);
    let anon = |env: &Env| -> Vec<String> {
        env.rpod_ok(&["volume", "ls", "-q"])
            .lines()
            .filter(|v| v.len() == 64)
            .map(String::from)
            .collect()
    };
    for delay in [
        10u64, 40, 80, 120, 160, 200, 250, 300, 350, 400, 500, 650, 800,
    ] {
        let mut child = crate::common::spawn_killable(env.cmd(&["kube", "play", &f]));
        std::thread::sleep(std::time::Duration::from_millis(delay));
        crate::common::kill9(&mut child);
        // Every pod has its infra; every container is in a pod.
        let pods = env.rpod_ok(&[
            "pod",
            "ps",
            "--no-trunc",
            "--format",
            "{{.Id}} {{.InfraId}}",
        ]);
        let ps = env.rpod_ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Pod}}"]);
        for l in pods.lines() {
            let (_, infra) = l.split_once(' ').unwrap();
            assert!(
                ps.contains(infra),
                "{delay} ms: pod without its infra: {l}\n{ps}"
            );
        }
        for l in ps.lines() {
            let (_, pod) = l.split_once(' ').unwrap_or((l, ""));
            assert!(
                !pod.is_empty() && pods.contains(pod),
                "{delay} ms: container outside a pod {l}\n{pods}"
            );
        }
        // The next play (replacing whatever was made) and down work.
        env.rpod_ok(&["kube", "play", "--replace", &f]);
        assert_eq!(
            env.rpod_ok(&["exec", "kk-a", "cat", "/e/init"]),
            "ok\n",
            "{delay} ms"
        );
        env.rpod_ok(&["kube", "down", &f]);
        assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]), "", "{delay} ms");
        assert_eq!(env.rpod_ok(&["ps", "-aq"]), "", "{delay} ms");
        assert_eq!(anon(&env), Vec::<String>::new(), "{delay} ms");
    }
}

/// An image with a build directory (DIR/NAME/Containerfile) is built
/// when it is not in the store, used from the store next time, and built
/// again with --build; --build=false never builds.
#[test]
fn play_builds_images_from_their_build_directory() {
    let env = env_with_alpine("kubebuild");
    let _r = Reaper(&env);
    let ctx = env.dir.join("ctx");
    env.sh_ok(&format!(
        "mkdir -p {c}/kbimg && printf 'FROM {reg}/alpine:latest\\nENV BUILT=yes\\nCOPY hello.txt /hello.txt\\nRUN cat /hello.txt > /ran.txt\\n' > {c}/kbimg/Containerfile && echo hi-from-build > {c}/kbimg/hello.txt",
        c = ctx.display(),
        reg = world().registry()
    ));
    let y = "apiVersion: v1\nkind: Pod\nmetadata: {name: kb}\nspec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: kbimg\n    command: [sleep, \"1000\"]\n";
    let f = yaml_file(&env, "kb.yaml", y);
    // From the current directory: built, as it is not in the store.
    let play = |flags: &str| {
        env.sh(&format!(
            "cd {} && rpod kube play {flags} {f}",
            ctx.display()
        ))
    };
    let o = play("");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("STEP 1/4: FROM"), "{err}");
    assert_eq!(
        env.rpod_ok(&["exec", "kb-c", "cat", "/hello.txt"]),
        "hi-from-build\n"
    );
    // A RUN step ran (in the build's own mount namespace).
    assert_eq!(
        env.rpod_ok(&["exec", "kb-c", "cat", "/ran.txt"]),
        "hi-from-build\n"
    );
    let e = env.rpod_ok(&["exec", "kb-c", "env"]);
    assert!(e.lines().any(|l| l == "BUILT=yes"), "{e}");
    let images = env.rpod_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.contains("localhost/kbimg:latest"), "{images}");
    // In the store now: not built again (nor pulled) ...
    let o = play("--replace");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("STEP"), "{err}");
    // ... unless --build says so (here from --context-dir, which needs it).
    env.sh_ok(&format!("echo changed > {}/kbimg/hello.txt", ctx.display()));
    let ctx_s = ctx.to_str().unwrap();
    let (_, err) = env.rpod_fail(&["kube", "play", "--replace", "--context-dir", ctx_s, &f]);
    assert!(
        err.contains("--build must be specified when using --context-dir option"),
        "{err}"
    );
    let o = env.rpod(&[
        "kube",
        "play",
        "--replace",
        "--build",
        "--context-dir",
        ctx_s,
        &f,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("STEP 1/4: FROM"), "{err}");
    assert_eq!(
        env.rpod_ok(&["exec", "kb-c", "cat", "/hello.txt"]),
        "changed\n"
    );
    env.rpod_ok(&["kube", "down", &f]);
    // --build=false: an image not in the store is pulled, never built.
    env.rpod_ok(&["rmi", "-f", "localhost/kbimg:latest"]);
    let o = play("--build=false");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        !err.contains("STEP") && err.contains("image kbimg"),
        "{err}"
    );
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]), "");
}

/// A one-file HTTP server on 127.0.0.1: `path` answers `body`, anything
/// else 404. Serves `n` requests.
fn serve(path: &'static str, body: String, n: usize) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let mut s = s.unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let want = line.split(' ').nth(1) == Some(path);
            let (status, b) = if want {
                ("200 OK", body.as_str())
            } else {
                ("404 Not Found", "")
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            );
        }
    });
    (base, h)
}

#[test]
fn play_and_down_read_the_yaml_from_a_url() {
    let env = env_with_alpine("kubeurl");
    let _r = Reaper(&env);
    let img = image();
    let y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: fromurl}}\nspec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: {img}\n    imagePullPolicy: IfNotPresent\n    command: [sleep, \"1000\"]\n"
    );
    let (base, h) = serve("/pod.yaml", y, 3);
    let url = format!("{base}/pod.yaml");
    env.rpod_ok(&["kube", "play", &url]);
    assert_eq!(
        env.rpod_ok(&["pod", "ps", "--format", "{{.Name}}"]).trim(),
        "fromurl"
    );
    let down = env.rpod_ok(&["play", "kube", "--down", &url]);
    assert!(down.contains("Pods removed:"), "{down}");
    let (code, err) = env.rpod_fail(&["kube", "play", &format!("{base}/nosuch.yaml")]);
    assert_eq!(code, 125);
    assert!(
        err.contains(&format!("downloading {base}/nosuch.yaml: 404 Not Found")),
        "{err}"
    );
    h.join().unwrap();
    assert_eq!(env.rpod_ok(&["pod", "ps", "-q"]), "");
}

/// The kubelet subPath CVE (2017-1002101) across pods: a pod that mounts
/// a claim writable swaps a directory another pod mounts by subPath for a
/// symlink to the host, and waits for that container's next start. The
/// runtime resolves the subPath inside the volume at every start, so the
/// restart finds no such directory there instead of the host's.
#[test]
fn attack_a_subpath_swapped_for_a_symlink_by_another_pod_stays_in_its_volume() {
    let env = env_with_alpine("kubesubswap");
    let _r = Reaper(&env);
    let img = image();
    let outside = env.dir.join("outside");
    env.sh_ok(&format!(
        "mkdir -p {o} && echo TOPSECRET > {o}/secret.txt",
        o = outside.display()
    ));
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: writer}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: {img}\n    command: [sleep, \"1000\"]\n    volumeMounts:\n    - {{name: v, mountPath: /v}}\n  volumes:\n  - name: v\n    persistentVolumeClaim: {{claimName: shared}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: reader}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: {img}\n    command: [sleep, \"1000\"]\n    volumeMounts:\n    - {{name: v, mountPath: /part, subPath: d}}\n  volumes:\n  - name: v\n    persistentVolumeClaim: {{claimName: shared}}\n"
    );
    let f = yaml_file(&env, "two.yaml", &yaml);
    env.rpod_ok(&["kube", "play", &f]);
    // The subPath is recorded as a part of the volume, not a host path.
    let mounts = field(&env, "reader-c", "{{json .Mounts}}");
    assert!(mounts.contains("\"Name\":\"shared\""), "{mounts}");
    assert!(mounts.contains("subpath=d"), "{mounts}");
    env.rpod_ok(&["exec", "reader-c", "sh", "-c", "echo mine > /part/f"]);
    // The other pod swaps d for a symlink to the host directory.
    env.rpod_ok(&[
        "exec",
        "writer-c",
        "sh",
        "-c",
        &format!("rm -rf /v/d && ln -s {} /v/d", outside.display()),
    ]);
    env.rpod_ok(&["stop", "-t", "0", "reader-c"]);
    let started = env.rpod(&["start", "reader-c"]);
    if started.status.success() {
        let seen = env.rpod_ok(&[
            "exec",
            "reader-c",
            "sh",
            "-c",
            "ls -A /part; echo planted > /part/p || true",
        ]);
        assert!(!seen.contains("secret.txt"), "{seen}");
    } else {
        assert!(err(&started).contains("subpath d"), "{}", err(&started));
    }
    // Nothing of the host directory was read into or written from it.
    let names: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["secret.txt".to_string()]);
    env.rpod_ok(&["kube", "down", &f]);
}
