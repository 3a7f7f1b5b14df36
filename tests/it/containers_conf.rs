//! containers.conf's `[containers]` and `[engine]` defaults under `run` and
//! `create`: each key the file sets shows in the container, a flag given on
//! the command line wins, and a broken file is one line naming it.

use crate::common::*;

const CONF: &str = r#"
[containers]
env = ["FROMCONF=1"]
default_capabilities = ["CHOWN", "NET_RAW"]
default_sysctls = ["net.ipv4.ip_unprivileged_port_start=80"]
default_ulimits = ["nofile=500:600"]
dns_servers = ["192.0.2.53"]
dns_searches = ["conf.example"]
init = true
tz = "Asia/Tokyo"
umask = "0077"
volumes = ["VOLDIR:/confvol:ro"]
annotations = ["conf.anno=yes"]
log_size_max = 9000
log_tag = "conftag"
read_only = true
shm_size = "32m"
unknown_key_podman_may_add = "ignored"

[engine]
stop_timeout = 4

[machine]
cpus = 4
"#;

fn conf_path(env: &Env) -> std::path::PathBuf {
    env.home.join(".config/containers/containers.conf")
}

#[test]
fn containers_conf_defaults_reach_the_container_and_flags_win() {
    let env = env_with_alpine("ctconf");
    let _reaper = Reaper(&env);
    let voldir = env.dir.join("confvol");
    env.sh_ok(&format!(
        "mkdir -p {0} && echo in-vol > {0}/f",
        voldir.display()
    ));
    std::fs::write(
        conf_path(&env),
        CONF.replace("VOLDIR", &voldir.to_string_lossy()),
    )
    .unwrap();

    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "alpine",
        "sh",
        "-c",
        "echo env=$FROMCONF term=$TERM; grep CapEff /proc/self/status; ulimit -n; \
         cat /proc/sys/net/ipv4/ip_unprivileged_port_start; cat /etc/resolv.conf; \
         date +%Z; umask; cat /confvol/f; touch /x 2>&1; \
         df -k /dev/shm | tail -1 | awk '{print \"shm=\" $2}'; cat /proc/1/comm",
    ]);
    assert!(o.contains("env=1 term=xterm\n"), "{o}");
    // CHOWN (bit 0) and NET_RAW (bit 13) only.
    assert!(o.contains("CapEff:\t0000000000002001\n"), "{o}");
    assert!(o.contains("\n500\n80\n"), "{o}");
    assert!(o.contains("search conf.example\n"), "{o}");
    assert!(o.contains("nameserver 192.0.2.53\n"), "{o}");
    assert!(o.contains("JST\n0077\nin-vol\n"), "{o}");
    assert!(o.contains("Read-only file system"), "{o}");
    assert!(o.contains("shm=32768\n"), "{o}");
    // init = true: catatonit is pid 1.
    assert!(
        o.ends_with("podman-init\n") || o.ends_with("catatonit\n"),
        "{o}"
    );

    env.rpod_ok(&["create", "--name", "c", "alpine", "true"]);
    assert_eq!(
        field(
            &env,
            "c",
            "{{.Config.StopTimeout}} {{.HostConfig.LogConfig.Tag}} {{.HostConfig.LogConfig.Size}} {{index .Config.Annotations \"conf.anno\"}}"
        ),
        "4 conftag 9kB yes"
    );
    env.rpod_ok(&["rm", "c"]);

    // Flags win over the file; lists add to its entries.
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--tz",
        "UTC",
        "--read-only=false",
        "--dns",
        "192.0.2.99",
        "-e",
        "FROMCONF=2",
        "--stop-timeout",
        "9",
        "--name",
        "f",
        "alpine",
        "sh",
        "-c",
        "echo $FROMCONF; date +%Z; grep -c nameserver /etc/resolv.conf; touch /x && echo wrote",
    ]);
    assert_eq!(o, "2\nUTC\n2\nwrote\n");
    assert_clean(&env, &[]);
}

#[test]
fn a_broken_containers_conf_is_one_line_naming_the_file() {
    let env = env_with_alpine("ctconfbad");
    let conf = conf_path(&env);
    std::fs::write(&conf, "[containers]\ninit = true\ntz = \n").unwrap();
    let (code, e) = env.rpod_fail(&["run", "--rm", "alpine", "true"]);
    assert_eq!(code, 125);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(e.contains(&format!("{}: line 3:", conf.display())), "{e}");
    // A value of the wrong type names the file and the table.
    std::fs::write(&conf, "[containers]\ninit = \"yes\"\n").unwrap();
    let (code, e) = env.rpod_fail(&["create", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains(&conf.display().to_string()) && e.contains("[containers]"),
        "{e}"
    );
    // podman's own limit on log_size_max, in its words.
    std::fs::write(&conf, "[containers]\nlog_size_max = 100\n").unwrap();
    let (_, e) = env.rpod_fail(&["create", "alpine", "true"]);
    assert!(
        e.contains("log size max should be negative or >= 8192"),
        "{e}"
    );
    std::fs::remove_file(&conf).unwrap();
    env.rpod_ok(&["run", "--rm", "alpine", "true"]);
}
