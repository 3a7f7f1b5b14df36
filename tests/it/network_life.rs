//! User-defined networks, continued (issue 14): how long the rootless
//! network namespace lives (a short linger after the last container, ended
//! at once by `network rm` and `system reset`), restart policies of the only
//! container on a network, `network reload`, and `network ls` filters. As
//! the unprivileged test user; all traffic stays inside the machine.

use crate::common::*;
use crate::network_bridge::{assert_netns_gone, netns_procs};
use serde_json::Value;

fn holder_pid(env: &Env) -> Option<i64> {
    let text = std::fs::read_to_string(run_root(env).join("rootless-netns/state.json")).ok()?;
    serde_json::from_str::<Value>(&text).ok()?["holder_pid"].as_i64()
}

fn addr(env: &Env, net: &str) -> String {
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        net,
        "alpine",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ])
}

#[test]
fn the_netns_lingers_after_the_last_container_and_rm_or_reset_end_it() {
    let mut env = env_with_alpine("netlinger");
    env.set_env("RPOD_NETNS_LINGER", "120");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "--subnet", "10.93.0.0/24", "n"]);
    assert!(addr(&env, "n").contains("10.93.0.2/24"));
    // Still there after its last container: the next one reuses it (and
    // the first one's address is free again).
    let first = holder_pid(&env).expect("the namespace lingers");
    assert!(!netns_procs(&env).is_empty());
    assert!(addr(&env, "n").contains("10.93.0.2/24"));
    assert_eq!(holder_pid(&env), Some(first), "a new namespace was started");
    // Names still resolve in a reused namespace.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "n",
        "alpine",
        "sleep",
        "4242031",
    ]);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "n",
        "alpine",
        "sh",
        "-c",
        "nslookup srv",
    ]);
    assert!(o.contains("10.93.0."), "{o}");
    assert_eq!(holder_pid(&env), Some(first));
    // A container gone from a kept network is gone from its names too.
    env.rpod_ok(&[
        "run",
        "--rm",
        "--name",
        "gone",
        "--network",
        "n",
        "alpine",
        "true",
    ]);
    let o = env.rpod_ok(&[
        "run", "--rm", "--network", "n", "alpine", "sh", "-c",
        "nslookup srv >/dev/null && echo SRV-FOUND; nslookup gone >/dev/null 2>&1 && echo GONE-FOUND; true",
    ]);
    assert!(o.contains("SRV-FOUND") && !o.contains("GONE-FOUND"), "{o}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "srv"]);
    // Idle now, aardvark-dns keeps running with the namespace.
    assert!(
        eventually(5, || run_root(&env).join("rootless-netns/kept/n").exists()),
        "no kept bridge"
    );
    assert!(
        netns_procs(&env).iter().any(|p| p.contains("aardvark-dns")),
        "{:?}",
        netns_procs(&env)
    );
    // `network rm` takes an idle namespace down at once.
    env.rpod_ok(&["network", "rm", "n"]);
    assert_netns_gone(&env, 5, "after network rm");
    assert!(!run_root(&env).join("rootless-netns/state.json").exists());
    // So does `system reset`, with a container still running on it.
    env.rpod_ok(&["network", "create", "m"]);
    env.rpod_ok(&["run", "--rm", "--network", "m", "alpine", "true"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--network",
        "m",
        "alpine",
        "sleep",
        "4242031",
    ]);
    assert!(holder_pid(&env).is_some());
    env.rpod_ok(&["system", "reset", "-f"]);
    assert_netns_gone(&env, 5, "after system reset");
    assert_clean(&env, &["4242031"]);
}

#[test]
fn a_network_replaced_while_its_bridge_was_kept_gets_a_fresh_netns() {
    let mut env = env_with_alpine("netkept");
    env.set_env("RPOD_NETNS_LINGER", "120");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "--subnet", "10.94.0.0/24", "n"]);
    assert!(addr(&env, "n").contains("10.94.0.2/24"));
    let first = holder_pid(&env).expect("the namespace lingers");
    // (The monitor tears down after its client heard the exit.)
    assert!(eventually(5, || run_root(&env)
        .join("rootless-netns/kept/n")
        .exists()));
    // ... and gone: a namespace still in use is reused whatever it keeps.
    assert!(eventually(5, || std::fs::read_dir(
        run_root(&env).join("rootless-netns/users")
    )
    .map(|d| d.count() == 0)
    .unwrap_or(true)));
    // Replaced behind rpod's back (as `podman network rm` + `create` would):
    // the kept bridge has the old subnet, so the namespace is not reused.
    std::fs::remove_file(
        env.home
            .join(".local/share/containers/storage/networks/n.json"),
    )
    .unwrap();
    env.rpod_ok(&["network", "create", "--subnet", "10.95.0.0/24", "n"]);
    let o = addr(&env, "n");
    assert!(o.contains("10.95.0.2/24"), "{o}");
    assert_ne!(holder_pid(&env), Some(first));
    // Name resolution works on the fresh one.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "n",
        "alpine",
        "sleep",
        "4242032",
    ]);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "n",
        "alpine",
        "sh",
        "-c",
        "nslookup srv",
    ]);
    assert!(o.contains("10.95.0."), "{o}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "srv"]);
    env.rpod_ok(&["network", "rm", "n"]);
    assert_netns_gone(&env, 5, "");
    assert_clean(&env, &["4242032"]);
}

#[test]
fn without_a_linger_the_netns_goes_with_the_last_container() {
    let mut env = env_with_alpine("netnolinger");
    env.set_env("RPOD_NETNS_LINGER", "0");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "n"]);
    assert!(addr(&env, "n").contains("10.89.0.2/24"));
    assert_netns_gone(&env, 3, "");
    assert_clean(&env, &[]);
}

#[test]
fn a_restart_policy_restarts_the_only_container_on_a_network() {
    let mut env = env_with_alpine("netrestart");
    // No linger: the monitor itself must keep the namespace over its
    // back-off (100, 200, 400, 800 ms, ...), longer than the holder's look.
    env.set_env("RPOD_NETNS_LINGER", "0");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "n"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "r",
        "--restart",
        "always",
        "--network",
        "n",
        "alpine",
        "sh",
        "-c",
        "ip -o -4 addr show eth0 | grep -o 'inet [0-9.]*'; sleep 0.3; exit 3",
    ]);
    let restarts = || -> i64 {
        env.rpod_ok(&["inspect", "-f", "{{.RestartCount}}", "r"])
            .trim()
            .parse()
            .unwrap_or(0)
    };
    assert!(
        eventually(20, || restarts() >= 4),
        "restarts: {}, logs: {}",
        restarts(),
        env.rpod_ok(&["logs", "r"])
    );
    // Every run had its address on the network.
    let logs = env.rpod_ok(&["logs", "r"]);
    assert!(
        logs.lines().filter(|l| l.contains("inet 10.89.0.")).count() >= 4,
        "{logs}"
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "r"]);
    assert_netns_gone(&env, 10, "");
    assert_clean(&env, &[]);
}

#[test]
fn ls_name_filters_are_regular_expressions() {
    let env = new_env("netlsre");
    for n in ["web1", "web2", "db", "xweb"] {
        env.rpod_ok(&["network", "create", n]);
    }
    let ls = |f: &str| -> Vec<String> {
        env.rpod_ok(&["network", "ls", "-q", "--filter", f])
            .lines()
            .map(String::from)
            .collect()
    };
    assert_eq!(ls("name=^web"), ["web1", "web2"]);
    assert_eq!(ls("name=web"), ["web1", "web2", "xweb"]);
    assert_eq!(ls("name=^w.b2$"), ["web2"]);
    assert_eq!(ls("name=db"), ["db"]);
    assert!(ls("name=^eb").is_empty());
    // Same key ORs.
    let mut two = env
        .rpod_ok(&[
            "network",
            "ls",
            "-q",
            "--filter",
            "name=^db$",
            "--filter",
            "name=2$",
        ])
        .lines()
        .map(String::from)
        .collect::<Vec<_>>();
    two.sort();
    assert_eq!(two, ["db", "web2"]);
}

/// `iptables -t nat ARG POSTROUTING` inside the rootless network namespace
/// (as root, from outside, as a firewall reload would).
fn nat(env: &Env, arg: &str) -> String {
    let text = std::fs::read_to_string(run_root(env).join("rootless-netns/state.json")).unwrap();
    let inner = serde_json::from_str::<Value>(&text).unwrap()["inner_pid"]
        .as_i64()
        .unwrap();
    let o = std::process::Command::new("nsenter")
        .args([
            "-t",
            &inner.to_string(),
            "-n",
            "iptables",
            "-t",
            "nat",
            arg,
            "POSTROUTING",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn nat_rules(env: &Env) -> String {
    nat(env, "-S")
}

#[test]
fn network_reload_puts_back_the_firewall_rules_of_running_containers() {
    let env = env_with_alpine("netreload");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "--subnet", "10.96.0.0/24", "n"]);
    let id = env
        .rpod_ok(&[
            "run",
            "-d",
            "--name",
            "a",
            "--network",
            "n",
            "alpine",
            "sleep",
            "4242041",
        ])
        .trim()
        .to_string();
    env.rpod_ok(&["run", "-d", "--name", "s", "alpine", "sleep", "4242041"]);
    env.rpod_ok(&["create", "--name", "c", "--network", "n", "alpine", "true"]);
    assert!(
        nat_rules(&env).contains("10.96.0.0/24"),
        "{}",
        nat_rules(&env)
    );
    // A firewall reload wipes them.
    nat(&env, "-F");
    assert!(
        !nat_rules(&env).contains("10.96.0.0/24"),
        "{}",
        nat_rules(&env)
    );
    assert_eq!(env.rpod_ok(&["network", "reload", "a"]).trim(), id);
    assert!(
        nat_rules(&env).contains("10.96.0.0/24"),
        "{}",
        nat_rules(&env)
    );
    // Same address, and its name still resolves.
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "n",
        "alpine",
        "sh",
        "-c",
        "for i in $(seq 20); do nslookup a && exit 0; sleep 0.2; done; exit 1",
    ]);
    assert!(o.contains("10.96.0.2"), "{o}");
    let o = env.rpod_ok(&["exec", "a", "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(o.contains("10.96.0.2/24"), "{o}");
    // --all: the running containers on networks only.
    assert_eq!(env.rpod_ok(&["network", "reload", "--all"]).trim(), id);
    // podman's errors.
    let (code, e) = env.rpod_fail(&["network", "reload", "s"]);
    assert_eq!(code, 125);
    assert!(e.contains("invalid network mode"), "{e}");
    let (code, e) = env.rpod_fail(&["network", "reload", "c"]);
    assert_eq!(code, 125);
    assert!(e.contains("container state improper"), "{e}");
    let (_, e) = env.rpod_fail(&["network", "reload"]);
    assert!(e.contains("at least one name or id"), "{e}");
    let (_, e) = env.rpod_fail(&["network", "reload", "--all", "a"]);
    assert!(e.contains("no arguments are needed with --all"), "{e}");
    let (code, e) = env.rpod_fail(&["network", "reload", "nosuch"]);
    assert_eq!(code, 125);
    assert!(e.contains("nosuch"), "{e}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "-a"]);
    assert_netns_gone(&env, 10, "");
    assert_clean(&env, &["4242041"]);
}

#[test]
fn network_names_complete_for_network_flags_and_arguments() {
    let env = new_env("netcomplete");
    for n in ["web1", "db"] {
        env.rpod_ok(&["network", "create", n]);
    }
    let complete = |words: &[&str]| -> Vec<String> {
        let mut args = vec!["__complete", "--"];
        args.extend_from_slice(words);
        env.rpod_ok(&args).lines().map(String::from).collect()
    };
    assert_eq!(complete(&["run", "--network", "w"]), ["web1"]);
    let all = complete(&["run", "--network", ""]);
    for want in ["db", "podman", "web1", "slirp4netns", "container:"] {
        assert!(all.iter().any(|c| c == want), "{want} missing: {all:?}");
    }
    assert_eq!(complete(&["create", "--network=d"]), ["--network=db"]);
    assert_eq!(complete(&["network", "rm", "w"]), ["web1"]);
    assert_eq!(complete(&["network", "connect", "d"]), ["db"]);
    assert_eq!(
        complete(&["network", "inspect", ""]),
        ["db", "podman", "web1"]
    );
}

#[test]
fn network_rm_of_a_kept_network_while_others_run_takes_its_bridge_away() {
    let mut env = env_with_alpine("netforget");
    env.set_env("RPOD_NETNS_LINGER", "120");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["network", "create", "--subnet", "10.97.0.0/24", "n"]);
    env.rpod_ok(&["network", "create", "--subnet", "10.98.0.0/24", "m"]);
    let bridge = |name: &str| -> String {
        let v: Value = serde_json::from_str(&env.rpod_ok(&["network", "inspect", name])).unwrap();
        v[0]["network_interface"].as_str().unwrap().to_string()
    };
    let nbr = bridge("n");
    assert!(addr(&env, "n").contains("10.97.0.2/24"));
    assert!(eventually(5, || run_root(&env)
        .join("rootless-netns/kept/n")
        .exists()));
    let links = || -> String {
        let text =
            std::fs::read_to_string(run_root(&env).join("rootless-netns/state.json")).unwrap();
        let inner = serde_json::from_str::<Value>(&text).unwrap()["inner_pid"]
            .as_i64()
            .unwrap();
        let o = std::process::Command::new("nsenter")
            .args(["-t", &inner.to_string(), "-n", "ip", "-o", "link"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(links().contains(&format!(" {nbr}:")), "{}", links());
    // Busy on another network, then n goes: its bridge goes with it.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "other",
        "--network",
        "m",
        "alpine",
        "sleep",
        "4242051",
    ]);
    env.rpod_ok(&["network", "rm", "n"]);
    assert!(!links().contains(&format!(" {nbr}:")), "{}", links());
    assert!(!run_root(&env).join("rootless-netns/kept/n").exists());
    // A new network on the same subnet works in the same namespace.
    env.rpod_ok(&["network", "create", "--subnet", "10.97.0.0/24", "n2"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "n2",
        "alpine",
        "sleep",
        "4242051",
    ]);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "n2",
        "alpine",
        "sh",
        "-c",
        "ip -o -4 addr show eth0; nslookup srv",
    ]);
    assert!(o.contains("10.97.0.3/24") && o.contains("10.97.0.2"), "{o}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "-a"]);
    env.rpod_ok(&["network", "rm", "n2", "m"]);
    assert_netns_gone(&env, 5, "");
    assert_clean(&env, &["4242051"]);
}
