//! macvlan networks (issue 14) as the unprivileged test user, the way
//! rootless podman 4.3.1 with netavark runs them: the macvlan interface is
//! made inside the rootless network namespace, on a parent found there
//! (by default its way out, slirp4netns' tap0). A parent that only exists
//! on the host fails at run with netavark's words and podman's code 126;
//! `ipvlan` is refused at create, as podman 4.3.1 refuses it. Traffic stays
//! between containers in namespaces the test made.

use crate::common::*;
use crate::network_bridge::{assert_netns_gone, netns_procs};
use serde_json::Value;

#[test]
fn macvlan_create_inspect_as_podman_and_refusals() {
    let env = new_env("netmvcmd");
    assert_eq!(
        env.rpod_ok(&[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            "10.97.0.0/24",
            "-o",
            "mode=vepa",
            "-o",
            "mtu=1400",
            "mv",
        ])
        .trim(),
        "mv"
    );
    let ins: Value = serde_json::from_str(&env.rpod_ok(&["network", "inspect", "mv"])).unwrap();
    let n = &ins[0];
    assert_eq!(n["driver"], "macvlan");
    // No parent given: no network_interface key (netavark picks one at run).
    assert!(n.get("network_interface").is_none(), "{n}");
    // podman 4.3.1 writes a gateway and dns_enabled for macvlan too.
    assert_eq!(n["subnets"][0]["subnet"], "10.97.0.0/24");
    assert_eq!(n["subnets"][0]["gateway"], "10.97.0.1");
    assert_eq!(n["dns_enabled"], true);
    assert_eq!(n["options"]["mode"], "vepa");
    assert_eq!(n["options"]["mtu"], "1400");
    assert_eq!(n["ipam_options"]["driver"], "host-local");
    // A parent is checked against the host's interfaces; an overlapping
    // subnet is fine for macvlan (it is not routed through the host).
    env.rpod_ok(&[
        "network",
        "create",
        "--driver",
        "macvlan",
        "-o",
        "parent=lo",
        "--subnet",
        "10.97.0.0/24",
        "onlo",
    ]);
    assert_eq!(
        env.rpod_ok(&[
            "network",
            "inspect",
            "--format",
            "{{.NetworkInterface}}",
            "onlo"
        ]),
        "lo\n"
    );
    let ls = env.rpod_ok(&[
        "network",
        "ls",
        "--filter",
        "driver=macvlan",
        "--format",
        "{{.Name}} {{.Driver}}",
    ]);
    assert_eq!(ls, "mv macvlan\nonlo macvlan\n");

    for (args, msg) in [
        (
            vec!["-d", "macvlan", "-o", "parent=nosuch-if0", "--subnet", "10.98.0.0/24", "x"],
            "parent interface nosuch-if0 does not exist",
        ),
        (
            vec!["-d", "ipvlan", "--subnet", "10.98.0.0/24", "x"],
            "unsupported driver ipvlan: invalid argument",
        ),
        (
            vec!["-d", "macvlan", "x"],
            "macvlan driver needs at least one subnet specified, DHCP is not yet supported with netavark",
        ),
        (
            vec!["-d", "macvlan", "--ipam-driver", "dhcp", "x"],
            "dhcp ipam driver is not yet supported with netavark",
        ),
        (
            vec!["-d", "macvlan", "-o", "isolate=true", "--subnet", "10.98.0.0/24", "x"],
            "unsupported macvlan network option isolate",
        ),
        (
            vec!["-d", "macvlan", "-o", "mode=l3", "--subnet", "10.98.0.0/24", "x"],
            "unknown macvlan mode \"l3\"",
        ),
    ] {
        let mut a = vec!["network", "create"];
        a.extend(args);
        let (code, e) = env.rpod_fail(&a);
        assert_eq!(code, 125, "{a:?}: {e}");
        assert_eq!(e.trim(), format!("Error: {msg}"), "{a:?}");
    }
    assert_eq!(env.rpod_ok(&["network", "ls", "-q"]), "mv\nonlo\npodman\n");
}

#[test]
fn containers_on_a_macvlan_network_talk_and_a_host_parent_fails_as_podman() {
    let env = env_with_alpine("netmvrun");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        "10.97.1.0/24",
        "mv",
    ]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "mv",
        "alpine",
        "sh",
        "-c",
        "echo hello-mv > /tmp/i; while true; do nc -l -p 5000 < /tmp/i; done",
    ]);
    let nets: Value = serde_json::from_str(&env.rpod_ok(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Networks}}",
        "srv",
    ]))
    .unwrap();
    // The first address after the gateway, as podman's IPAM gives it.
    assert_eq!(nets["mv"]["IPAddress"], "10.97.1.2", "{nets}");
    assert_eq!(nets["mv"]["Gateway"], "10.97.1.1", "{nets}");
    assert_eq!(nets["mv"]["IPPrefixLen"], 24, "{nets}");
    // A macvlan of the namespace's way out (slirp4netns' tap0: its MTU,
    // where a bridge's veth has 1500), with the container's address; TCP
    // to its sibling by address (netavark runs no aardvark-dns for macvlan).
    let o = env.rpod(&[
        "run", "--rm", "--network", "mv", "alpine", "sh", "-c",
        "grep -qx 65520 /sys/class/net/eth0/mtu || exit 3; ip -4 addr show eth0 | grep -q 10.97.1.3/24 || exit 4; \
         for i in $(seq 50); do nc -w 2 10.97.1.2 5000 | grep hello-mv && exit 0; sleep 0.2; done; exit 1",
    ]);
    assert!(o.status.success(), "{}{}", out(&o), err(&o));
    assert_eq!(
        env.rpod_ok(&["ps", "--filter", "network=mv", "--format", "{{.Names}}"]),
        "srv\n"
    );

    // connect/disconnect a running container on a bridge to the macvlan.
    env.rpod_ok(&["network", "create", "--subnet", "10.97.3.0/24", "nb"]);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "nb",
        "alpine",
        "sleep",
        "4242077",
    ]);
    env.rpod_ok(&["network", "connect", "mv", "c2"]);
    let o = env.rpod_ok(&["exec", "c2", "ip", "-4", "-o", "addr"]);
    assert!(o.contains("eth1    inet 10.97.1.3/24"), "{o}");
    env.rpod_ok(&["network", "disconnect", "mv", "c2"]);
    let o = env.rpod_ok(&["exec", "c2", "ip", "-4", "-o", "addr"]);
    assert!(!o.contains("10.97.1.") && o.contains("10.97.3.2/24"), "{o}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "c2"]);

    // A parent the rootless namespace can't use: netavark's error, podman's
    // code 126, nothing left behind.
    env.rpod_ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        "parent=lo",
        "--subnet",
        "10.97.2.0/24",
        "onlo",
    ]);
    let (code, e) = env.rpod_fail(&["run", "--rm", "--network", "onlo", "alpine", "true"]);
    assert_eq!(code, 126, "{e}");
    assert_eq!(
        e.trim(),
        "Error: netavark: create macvlan interface: Netlink error: Invalid argument (os error 22)"
    );

    env.rpod_ok(&["rm", "-f", "-t", "0", "srv"]);
    assert_netns_gone(&env, 10, "");
    assert!(netns_procs(&env).is_empty());
    assert_clean(&env, &["4242077"]);
}
