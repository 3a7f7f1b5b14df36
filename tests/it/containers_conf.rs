//! containers.conf's `[containers]` and `[engine]` defaults for new
//! containers (issue 12): each key rpod honours, set in the user's file, and
//! its effect seen inside the container or in inspect; a flag given on the
//! command line wins. (The `[engine]` events keys and `[network]` keys have
//! their tests in `events` and `network`.)

use crate::common::*;

fn write_conf(env: &Env, text: &str) {
    let p = env.home.join(".config/containers/containers.conf");
    std::fs::write(&p, text).unwrap();
}

const CONF: &str = r#"
[containers]
env = ["FROMCONF=conf", "PATH=/conf/only"]
tz = "Asia/Tokyo"
umask = "0077"
init = true
no_hosts = true
read_only = true
shm_size = "32m"
log_size_max = 4096
annotations = ["conf.anno=conf"]
volumes = ["/etc/hostname:/conf-vol:ro"]
dns_servers = ["10.9.8.7"]
dns_searches = ["conf.example"]
dns_options = ["ndots:3"]
a_key_rpod_does_not_know = "ignored"

[engine]
stop_timeout = 3
num_locks = 2048
"#;

#[test]
fn containers_keys_are_defaults_for_new_containers() {
    let env = env_with_alpine("cconf");
    write_conf(&env, CONF);
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "alpine",
        "sh",
        "-c",
        "echo env=$FROMCONF path=$PATH; echo umask=$(umask); echo tz=$(date +%Z); \
         cat /etc/resolv.conf; echo shm=$(df -k /dev/shm | tail -1 | awk '{print $2}'); \
         echo pid1=$(cat /proc/1/cmdline | tr '\\0' ' '); \
         touch /x 2>/dev/null && echo rw || echo ro; \
         test -f /conf-vol && echo vol=yes; \
         grep -c conf.example /etc/hosts || true",
    ]);
    // env: below the image's (alpine's PATH wins over the file's).
    assert!(out.contains("env=conf path=/usr/local/sbin"), "{out}");
    assert!(out.contains("umask=0077"), "{out}");
    assert!(out.contains("tz=JST"), "{out}");
    assert!(out.contains("nameserver 10.9.8.7"), "{out}");
    assert!(out.contains("search conf.example"), "{out}");
    assert!(out.contains("options ndots:3"), "{out}");
    assert!(out.contains("shm=32768"), "{out}");
    assert!(out.contains("pid1=/run/podman-init"), "init: {out}");
    assert!(out.contains("\nro\n"), "read_only: {out}");
    assert!(out.contains("vol=yes"), "{out}");
    env.rpod_ok(&["create", "--name", "c", "alpine", "true"]);
    assert_eq!(field(&env, "c", "{{.Config.StopTimeout}}"), "3");
    assert_eq!(
        field(&env, "c", "{{index .Config.Annotations \"conf.anno\"}}"),
        "conf"
    );
    assert_eq!(
        field(&env, "c", "{{.HostConfig.LogConfig.Size}}"),
        "4.096kB"
    );
    assert_eq!(field(&env, "c", "{{.HostConfig.Init}}"), "true");
    env.rpod_ok(&["rm", "c"]);
}

#[test]
fn flags_win_over_the_file() {
    let env = env_with_alpine("cconff");
    write_conf(&env, CONF);
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "-e",
        "FROMCONF=flag",
        "--umask",
        "0022",
        "--tz",
        "UTC",
        "--dns",
        "10.1.1.1",
        "--shm-size",
        "16m",
        "alpine",
        "sh",
        "-c",
        "echo env=$FROMCONF umask=$(umask) tz=$(date +%Z) shm=$(df -k /dev/shm | tail -1 | awk '{print $2}'); \
         grep nameserver /etc/resolv.conf",
    ]);
    assert!(
        out.contains("env=flag umask=0022 tz=UTC shm=16384"),
        "{out}"
    );
    assert!(
        out.contains("nameserver 10.1.1.1") && !out.contains("10.9.8.7"),
        "{out}"
    );
    env.rpod_ok(&[
        "create",
        "--name",
        "c",
        "--stop-timeout",
        "7",
        "--annotation",
        "conf.anno=flag",
        "alpine",
        "true",
    ]);
    assert_eq!(field(&env, "c", "{{.Config.StopTimeout}}"), "7");
    assert_eq!(
        field(&env, "c", "{{index .Config.Annotations \"conf.anno\"}}"),
        "flag"
    );
    env.rpod_ok(&["rm", "c"]);
}

#[test]
fn a_bad_file_is_named() {
    let env = env_with_alpine("cconfb");
    write_conf(&env, "[containers]\ninit = \"yes\"\n");
    let (code, err) = env.rpod_fail(&["create", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("containers.conf") && err.contains("[containers] init must be true or false"),
        "{err}"
    );
    write_conf(&env, "[containers\nenv = [\n");
    let (code, err) = env.rpod_fail(&["run", "--rm", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("containers.conf") && err.contains("line"),
        "{err}"
    );
    // Nothing was made.
    write_conf(&env, "");
    assert_eq!(env.rpod_ok(&["ps", "-a", "-q"]), "");
}
