//! Capabilities, seccomp profiles, --user/--group-add and --ulimit as seen from
//! inside a container, run as the unprivileged test user. The values are
//! podman 4.3's (checked with rootless podman on the same machine).

use crate::common::Env;

fn env(name: &str) -> Env {
    let env = Env::new(name);
    env.rpod_ok(&["pull", "-q", "alpine"]);
    env
}

/// The named fields of /proc/self/status inside a container run with `flags`.
fn status(env: &Env, flags: &[&str], fields: &[&str]) -> Vec<String> {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["alpine", "cat", "/proc/self/status"]);
    let out = env.rpod_ok(&args);
    fields
        .iter()
        .map(|f| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{f}:")))
                .unwrap_or_else(|| panic!("no {f} in {out}"))
                .trim()
                .to_string()
        })
        .collect()
}

const CAPS: &[&str] = &["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];
/// podman's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
/// SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP.
const DEFAULT: &str = "00000000800405fb";
const NONE: &str = "0000000000000000";

#[test]
fn capability_sets_as_podman() {
    let env = env("caps");
    // root: bounding, permitted and effective are the default set.
    assert_eq!(
        status(&env, &[], CAPS),
        [NONE, DEFAULT, DEFAULT, DEFAULT, NONE]
    );
    // A non-root user keeps only the bounding set.
    assert_eq!(
        status(&env, &["--user", "nobody"], CAPS),
        [NONE, NONE, NONE, DEFAULT, NONE]
    );
    // ...and what --cap-add asked for, in all four sets (NET_RAW is bit 13).
    assert_eq!(
        status(&env, &["--user", "nobody", "--cap-add", "net_raw"], CAPS),
        [
            "0000000000002000",
            "0000000000002000",
            "0000000000002000",
            "00000000800425fb",
            "0000000000002000"
        ]
    );
    // --cap-drop takes from the default (CHOWN is bit 0).
    let c = status(&env, &["--cap-drop", "CAP_CHOWN"], &["CapEff"]);
    assert_eq!(c, ["00000000800405fa"]);
    // --privileged: every capability the kernel has, no seccomp.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let all = format!("{:016x}", (1u64 << (last + 1)) - 1);
    let p = status(&env, &["--privileged"], &["CapEff", "CapBnd", "Seccomp"]);
    assert_eq!(p, [all.as_str(), all.as_str(), "0"]);
    // A misspelt capability is rpod's error, naming it.
    let (code, e) = env.rpod_fail(&["run", "--rm", "--cap-add", "CAP_NOPE", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("CAP_NOPE"), "{e}");
}

#[test]
fn seccomp_profiles() {
    let env = env("seccomp");
    // The default profile follows the capabilities: a new mount namespace
    // needs CAP_SYS_ADMIN, which only --cap-add gives.
    let script =
        "mkdir /tmp/d && echo mkdir-ok; unshare -m true 2>/dev/null && echo unshare-ok; true";
    let plain = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(plain, "mkdir-ok\n");
    let admin = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cap-add",
        "sys_admin",
        "alpine",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(admin, "mkdir-ok\nunshare-ok\n");
    // A profile file of our own: mkdir refused with EPERM, the rest allowed.
    let profile = env.dir.join("deny-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["644", profile.to_str().unwrap()])
        .status()
        .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let o = env.rpod(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &opt,
        "alpine",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; echo done",
    ]);
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("Seccomp:\t2"), "{text}");
    assert!(text.contains("Operation not permitted"), "{text}");
    assert!(text.contains("done"), "{text}");
    // A missing or broken profile is rpod's error, naming the file.
    let missing = format!("seccomp={}", env.dir.join("nope.json").display());
    let (code, e) = env.rpod_fail(&["run", "--rm", "--security-opt", &missing, "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("nope.json"), "{e}");
    std::fs::write(&profile, "{ not json").unwrap();
    let (code, e) = env.rpod_fail(&["run", "--rm", "--security-opt", &opt, "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("deny-mkdir.json"), "{e}");
}

#[test]
fn users_groups_and_ulimits() {
    let env = env("users");
    let run = |flags: &[&str], cmd: &str| {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["alpine", "sh", "-c", cmd]);
        env.rpod_ok(&args)
    };
    assert_eq!(
        run(&["--user", "1234:5678"], "id -u; id -g"),
        "1234\n5678\n"
    );
    // A numeric uid without a passwd entry gets gid 0 and HOME=/, as podman.
    assert_eq!(
        run(&["--user", "4321"], "id -g; echo \"[$HOME]\""),
        "0\n[/]\n"
    );
    let home = home_of_nobody(&env);
    assert_eq!(
        run(&["--user", "nobody"], "echo $HOME"),
        format!("{home}\n")
    );
    let groups = run(
        &[
            "--user",
            "nobody",
            "--group-add",
            "wheel",
            "--group-add",
            "4242",
        ],
        "id -G",
    );
    let mut g: Vec<&str> = groups.split_whitespace().collect();
    g.sort();
    assert_eq!(g, ["10", "4242", "65534"], "{groups}");
    for (flag, what) in [("--user", "mallory"), ("--group-add", "nosuchgroup")] {
        let (code, e) = env.rpod_fail(&["run", "--rm", flag, what, "alpine", "true"]);
        assert_eq!(code, 125, "{flag} {what}");
        assert!(e.contains(what) && e.contains("/etc/"), "{e}");
    }
    assert_eq!(
        run(&["--ulimit", "nofile=100:200"], "ulimit -n; ulimit -Hn"),
        "100\n200\n"
    );
    assert_eq!(run(&["--ulimit", "core=-1"], "ulimit -c"), "unlimited\n");
    let (code, e) = env.rpod_fail(&["run", "--rm", "--ulimit", "nofile=20:10", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("nofile=20:10"), "{e}");
}

/// nobody's home in the fixture image's /etc/passwd.
fn home_of_nobody(env: &Env) -> String {
    let passwd = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "alpine",
        "cat",
        "/etc/passwd",
    ]);
    passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .and_then(|l| l.split(':').nth(5))
        .unwrap_or("/")
        .to_string()
}

/// Build tests/seccomp_probe.c statically into the env (the busybox image
/// has no strace and no libc of its own) and run it in a container with
/// `flags`: NAME -> errno of each probed call (0 = it succeeded).
#[cfg(target_arch = "x86_64")]
fn seccomp_probe(env: &Env, flags: &[&str]) -> std::collections::BTreeMap<String, i32> {
    let bin = env.dir.join("seccomp-probe");
    if !bin.exists() {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seccomp_probe.c");
        let st = std::process::Command::new("cc")
            .args(["-static", "-O2", "-o", bin.to_str().unwrap(), src])
            .status()
            .expect("running cc");
        assert!(st.success(), "building the seccomp probe");
        std::process::Command::new("chmod")
            .args(["755", bin.to_str().unwrap()])
            .status()
            .unwrap();
    }
    let vol = format!("{}:/probe:ro", bin.display());
    let mut args = vec!["run", "--rm", "--network", "none", "-v", &vol];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["alpine", "/probe"]);
    env.rpod_ok(&args)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().parse().unwrap()))
        .collect()
}

/// The built-in profile (containers/common's current seccomp.json) in force
/// inside a container, against the kernel's own answers (the probe run on
/// the host, unfiltered, gets 0/EBADF/ESRCH/EAFNOSUPPORT for these).
#[cfg(target_arch = "x86_64")]
#[test]
fn builtin_seccomp_profile_in_force() {
    let env = env("seccomp-builtin");
    let (eperm, enosys, esrch) = (1, 38, 3);
    let d = seccomp_probe(&env, &[]);
    let expect = [
        // gated on CAP_SYS_PTRACE
        ("kcmp", eperm),
        ("process_madvise", eperm),
        // denied outright
        ("move_pages", eperm),
        ("cachestat", eperm),
        ("socket_vsock", eperm),
        ("socket_alg", eperm),
        // unknown to the profile: its default action
        ("mseal", enosys),
        // allowed by the current upstream profile (issue 9 expected these
        // gated; containers/common no longer gates them)
        ("ptrace", esrch),
        ("process_vm_readv", 0),
        ("membarrier", 0),
        ("get_mempolicy", 0),
        ("socket_unix", 0),
    ];
    for (name, errno) in expect {
        assert_eq!(d.get(name), Some(&errno), "{name} in {d:?}");
    }
    // --cap-add SYS_PTRACE lifts the gate: the kernel answers kcmp (0:
    // the same file) and process_madvise (EBADF for pidfd -1).
    let p = seccomp_probe(&env, &["--cap-add", "SYS_PTRACE"]);
    assert_eq!(p.get("kcmp"), Some(&0), "{p:?}");
    assert_eq!(p.get("process_madvise"), Some(&9), "{p:?}");
    assert_eq!(p.get("socket_vsock"), Some(&eperm), "{p:?}");
    // --security-opt seccomp=unconfined: no filter, the kernel decides.
    let u = seccomp_probe(&env, &["--security-opt", "seccomp=unconfined"]);
    assert_ne!(u.get("mseal"), Some(&enosys), "{u:?}");
    assert_ne!(u.get("socket_alg"), Some(&eperm), "{u:?}");
}

#[test]
fn info_names_the_seccomp_profile_version() {
    let env = Env::new("seccomp-info");
    let out = env.rpod_ok(&["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sec = &v["host"]["security"];
    assert_eq!(sec["seccompEnabled"], true, "{sec}");
    assert_eq!(sec["seccompProfilePath"], "(built-in)", "{sec}");
    let version = sec["seccompProfileVersion"].as_str().unwrap_or_default();
    assert!(
        version.contains("containers/common")
            && version.contains("7a5bc89e215cde796e6e25c8a6d37362e81b8be0"),
        "{sec}"
    );
    let digest = sec["seccompProfileDigest"].as_str().unwrap_or_default();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{sec}");
    // The YAML form carries it too.
    let yaml = env.rpod_ok(&["info"]);
    assert!(
        yaml.contains("seccompProfileVersion: containers/common"),
        "{yaml}"
    );
}
