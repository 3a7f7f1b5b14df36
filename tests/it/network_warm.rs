//! The warm path of bridge networking (src/network/warm.rs): once a
//! network's bridge is kept, containers on it are set up and torn down
//! without netavark. They must come out as netavark makes them (addresses,
//! MTU, MAC, default route, names in aardvark-dns) and leave nothing (no
//! veth, no aardvark-dns line). As the unprivileged test user; traffic stays
//! between the test's containers.

use crate::common::*;
use crate::network_bridge::assert_netns_gone;
use serde_json::Value;

/// `CMD...` inside the rootless network namespace (as root, from outside).
fn in_netns(env: &Env, cmd: &[&str]) -> String {
    let text = std::fs::read_to_string(run_root(env).join("rootless-netns/state.json")).unwrap();
    let inner = serde_json::from_str::<Value>(&text).unwrap()["inner_pid"]
        .as_i64()
        .unwrap();
    let o = std::process::Command::new("nsenter")
        .args(["-t", &inner.to_string(), "-n"])
        .args(cmd)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn aardvark_lines(env: &Env, net: &str) -> Vec<String> {
    std::fs::read_to_string(
        run_root(env).join(format!("rootless-netns/netavark/aardvark-dns/{net}")),
    )
    .unwrap_or_default()
    .lines()
    .map(String::from)
    .collect()
}

#[test]
fn containers_on_a_kept_bridge_come_out_as_netavark_makes_them_and_leave_nothing() {
    let mut env = env_with_alpine("netwarm");
    env.set_env("RPOD_NETNS_LINGER", "120");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "network",
        "create",
        "--subnet",
        "10.94.0.0/24",
        "-o",
        "mtu=1400",
        "w",
    ]);
    env.rpod_ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.94.1.0/24",
        "wi",
    ]);
    // The first container has netavark make the bridges; they are kept after it.
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "w",
        "--network",
        "wi",
        "alpine",
        "true",
    ]);
    assert!(eventually(5, || {
        run_root(&env).join("rootless-netns/kept/w").exists()
            && run_root(&env).join("rootless-netns/kept/wi").exists()
    }));

    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "w",
        "--network-alias",
        "web",
        "alpine",
        "sh",
        "-c",
        "echo hi-warm > /tmp/i; while true; do nc -l -p 80 < /tmp/i; done",
    ]);
    // Its peers find it by alias at once, and it is in aardvark-dns as
    // netavark writes it: ID, IPv4s, (no) IPv6s, name and aliases.
    let srv_id = env.rpod_ok(&["inspect", "--format", "{{.Id}}", "srv"]);
    let srv_id = srv_id.trim();
    // Set up by the warm path (its run-time record says so).
    let live: Value = serde_json::from_slice(
        &std::fs::read(run_root(&env).join(format!("containers/{srv_id}/bridge.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(live["warm"], true, "{live}");
    assert_eq!(
        aardvark_lines(&env, "w"),
        [
            "10.94.0.1".to_string(),
            format!("{srv_id} 10.94.0.2  srv,{},web", &srv_id[..12])
        ]
    );
    let o = env.rpod_ok(&[
        "run", "--rm", "--network", "w", "--mac-address", "02:00:00:00:00:42", "alpine", "sh",
        "-c",
        "cat /sys/class/net/eth0/mtu /sys/class/net/eth0/address /proc/sys/net/ipv6/conf/eth0/autoconf; \
         ip -4 addr show eth0; ip route; cat /etc/resolv.conf; \
         for i in $(seq 50); do nc -w 2 web 80 | grep hi-warm && break; sleep 0.2; done",
    ]);
    assert!(o.starts_with("1400\n02:00:00:00:00:42\n0\n"), "{o}");
    assert!(o.contains("inet 10.94.0.3/24 brd 10.94.0.255"), "{o}");
    assert!(o.contains("default via 10.94.0.1 dev eth0"), "{o}");
    assert!(o.contains("nameserver 10.94.0.1\n"), "{o}");
    assert!(o.contains("search dns.podman"), "{o}");
    assert!(o.contains("hi-warm"), "{o}");
    // inspect shows the MAC the container has.
    let nets: Value = serde_json::from_str(&env.rpod_ok(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Networks}}",
        "srv",
    ]))
    .unwrap();
    let mac = env.rpod_ok(&["exec", "srv", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(nets["w"]["MacAddress"], mac.trim(), "{nets}");
    assert_eq!(nets["w"]["IPAddress"], "10.94.0.2", "{nets}");
    // An internal network gives no default route.
    let o = env.rpod_ok(&["run", "--rm", "--network", "wi", "alpine", "ip", "route"]);
    assert!(o.contains("10.94.1.0/24 dev eth0"), "{o}");
    assert!(!o.contains("default"), "{o}");
    // Two networks: an interface each, the default route only through the
    // one with a way out.
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "w",
        "--network",
        "wi",
        "alpine",
        "sh",
        "-c",
        "ip -4 -o addr; ip route",
    ]);
    assert!(
        o.contains("inet 10.94.0.3/24") && o.contains("inet 10.94.1.2/24"),
        "{o}"
    );
    assert_eq!(o.matches("default via").count(), 1, "{o}");
    assert!(o.contains("default via 10.94.0.1"), "{o}");

    // The client's line went with it; srv's goes with srv, and so do
    // their veths (only the kept spare ports stay on the bridges).
    assert_eq!(aardvark_lines(&env, "w").len(), 2);
    env.rpod_ok(&["rm", "-f", "-t", "0", "srv"]);
    assert_eq!(aardvark_lines(&env, "w"), ["10.94.0.1"]);
    assert!(
        eventually(5, || !in_netns(&env, &["ip", "-o", "link"])
            .contains("veth")),
        "{}",
        in_netns(&env, &["ip", "-o", "link"])
    );
    assert!(
        std::fs::read_dir(run_root(&env).join("rootless-netns/ipam/w"))
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    );

    env.rpod_ok(&["network", "rm", "w", "wi"]);
    assert_netns_gone(&env, 10, "after network rm");
    assert_clean(&env, &["hi-warm"]);
}
