//! Rootless networking as the unprivileged test user (issue 4): slirp4netns
//! by default, pasta, none/host, container:, published ports (TCP and UDP),
//! the name files, and no helper outliving its container. All traffic stays
//! on 127.0.0.1: the host side is a server or client started by the test.

use crate::common;
use crate::common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// A port nothing listens on right now (TCP and UDP).
fn free_port() -> u16 {
    loop {
        let p = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if UdpSocket::bind(("0.0.0.0", p)).is_ok() && TcpListener::bind(("0.0.0.0", p)).is_ok() {
            return p;
        }
    }
}

/// A one-line HTTP server on the host's 127.0.0.1, serving `body`.
fn host_http_server(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// GET `path` from 127.0.0.1:`port`, retrying while the server starts.
fn http_get(port: u16, path: &str) -> Option<String> {
    for _ in 0..50 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = write!(s, "GET {path} HTTP/1.0\r\n\r\n");
            let mut out = String::new();
            if s.read_to_string(&mut out).is_ok() && out.starts_with("HTTP/") {
                return Some(out);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Can the host bind `port` again (TCP on all addresses)?
fn port_free(port: u16) -> bool {
    eventually(5, || TcpListener::bind(("0.0.0.0", port)).is_ok())
}

/// Helper processes (slirp4netns, pasta, the port forwarder) of this env.
fn helpers(env: &Env) -> Vec<String> {
    env.leftover_processes()
        .into_iter()
        .filter(|p| p.contains("slirp4netns") || p.contains("pasta") || p.contains("__portfwd"))
        .collect()
}

fn has_pasta() -> bool {
    ["/usr/bin/pasta", "/usr/local/bin/pasta", "/bin/pasta"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}

/// A detached busybox httpd serving /etc on the container's port 80,
/// published with `spec` (`-p`), on `network`.
fn publish_httpd(env: &Env, name: &str, network: &str, spec: &str) {
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        network,
        "-p",
        spec,
        "alpine",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
}

#[test]
fn slirp_is_the_default_with_podmans_name_files() {
    let env = env_with_alpine("netslirp");
    let _reaper = Reaper(&env);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--hostname",
        "web1",
        "alpine",
        "sh",
        "-c",
        "ip -4 addr show tap0; ip route; echo ==; cat /etc/resolv.conf; echo ==; cat /etc/hosts; echo ==; cat /etc/hostname; ls /sys/class/net",
    ]);
    let parts: Vec<&str> = o.split("==\n").collect();
    assert_eq!(parts.len(), 4, "{o}");
    assert!(parts[0].contains("inet 10.0.2.100/24"), "{o}");
    assert!(parts[0].contains("default via 10.0.2.2 dev tap0"), "{o}");
    assert!(parts[0].contains("mtu 65520") || o.contains("tap0"), "{o}");
    // slirp's DNS forwarder first, then the host's non-loopback resolvers.
    let ns: Vec<&str> = parts[1]
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .collect();
    assert_eq!(ns.first(), Some(&"10.0.2.3"), "{}", parts[1]);
    assert!(!ns.iter().any(|n| n.starts_with("127.")), "{}", parts[1]);
    let hosts = parts[2];
    assert!(hosts.contains("127.0.0.1\tlocalhost"), "{hosts}");
    // The hostname and the container's name, at its address (podman 4.3's last line).
    let last = hosts.lines().last().unwrap();
    assert!(
        last.starts_with("10.0.2.100\tweb1 ") && last.split_whitespace().count() == 3,
        "{hosts}"
    );
    // Host loopback not allowed: host.containers.internal is not 10.0.2.2.
    assert!(
        !hosts.contains("10.0.2.2\thost.containers.internal"),
        "{hosts}"
    );
    assert!(parts[3].starts_with("web1\n"), "{o}");
    assert!(parts[3].contains("tap0"), "{o}");

    // --dns* replace the generated lines; --add-host comes first in hosts.
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:3",
        "--add-host",
        "db.test:192.0.2.7",
        "--network",
        "slirp4netns:allow_host_loopback=true",
        "alpine",
        "sh",
        "-c",
        "cat /etc/resolv.conf; echo ==; cat /etc/hosts",
    ]);
    let (resolv, hosts) = o.split_once("==\n").unwrap();
    assert_eq!(
        resolv,
        "search example.test\nnameserver 192.0.2.53\noptions ndots:3\n"
    );
    assert!(hosts.starts_with("192.0.2.7\tdb.test\n"), "{hosts}");
    assert!(
        hosts.contains("10.0.2.2\thost.containers.internal\n"),
        "{hosts}"
    );

    // The default hostname is the short id, in /etc/hostname and /etc/hosts.
    let id = env.rpod_ok(&[
        "run",
        "-d",
        "alpine",
        "sh",
        "-c",
        "cat /etc/hostname /etc/hosts",
    ]);
    let id = id.trim();
    env.rpod_ok(&["wait", id]);
    let logs = env.rpod_ok(&["logs", id]);
    assert!(logs.starts_with(&format!("{}\n", &id[..12])), "{logs}");
    assert!(
        logs.contains(&format!("10.0.2.100\t{} ", &id[..12])),
        "{logs}"
    );
    env.rpod_ok(&["rm", id]);
    assert_clean(&env, &[]);
}

#[test]
fn host_loopback_only_when_allowed() {
    let env = env_with_alpine("netloop");
    let _reaper = Reaper(&env);
    let port = host_http_server("hello-from-host");
    let url = format!("http://10.0.2.2:{port}/");
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "slirp4netns:allow_host_loopback=true",
        "alpine",
        "timeout",
        "10",
        "wget",
        "-q",
        "-O",
        "-",
        &url,
    ]);
    assert_eq!(o, "hello-from-host");
    let o = env.rpod(&[
        "run", "--rm", "alpine", "timeout", "10", "wget", "-q", "-O", "-", &url,
    ]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "reached the host's loopback without allow_host_loopback"
    );
    assert!(!out(&o).contains("hello-from-host"));
    assert_clean(&env, &[]);
}

#[test]
fn published_tcp_port_answers_and_shows_in_ps_port_inspect() {
    let env = env_with_alpine("netpub");
    let _reaper = Reaper(&env);
    let port = free_port();
    let spec = format!("{port}:80");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &spec,
        "alpine",
        "sh",
        "-c",
        "mkdir /www && echo published-ok > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let r = http_get(port, "/").expect("no answer through the published port");
    assert!(r.contains("published-ok"), "{r}");
    let ps = env.rpod_ok(&["ps"]);
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    assert_eq!(
        env.rpod_ok(&["port", "web"]),
        format!("80/tcp -> 0.0.0.0:{port}\n")
    );
    assert_eq!(
        env.rpod_ok(&["port", "web", "80"]),
        format!("0.0.0.0:{port}\n")
    );
    let all = env.rpod_ok(&["port", "--all"]);
    assert!(
        all.ends_with(&format!("\t80/tcp -> 0.0.0.0:{port}\n")),
        "{all}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["ps", "--format", "json"])).unwrap();
    assert_eq!(j[0]["Ports"][0]["host_port"], port);
    assert_eq!(j[0]["Ports"][0]["container_port"], 80);
    assert_eq!(
        env.rpod_ok(&["ps", "--format", "{{.Ports}}"]),
        format!("0.0.0.0:{port}->80/tcp\n")
    );
    let (code, e) = env.rpod_fail(&["port", "web", "81"]);
    assert_eq!(code, 125);
    assert!(e.contains("81"), "{e}");
    let p = field(&env, "web", "{{json .NetworkSettings.Ports}}");
    assert_eq!(
        p,
        format!("{{\"80/tcp\":[{{\"HostIp\":\"\",\"HostPort\":\"{port}\"}}]}}")
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "web"]);
    assert!(port_free(port), "port {port} still bound after rm");
    assert!(helpers(&env).is_empty(), "{:?}", helpers(&env));

    // slirp4netns's own forwarder (port_handler=slirp4netns) works too.
    let port = free_port();
    let spec = format!("127.0.0.1:{port}:80");
    publish_httpd(&env, "web2", "slirp4netns:port_handler=slirp4netns", &spec);
    let r = http_get(port, "/hostname").expect("no answer through slirp4netns's hostfwd");
    assert!(r.contains(" 200 OK"), "{r}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "web2"]);
    assert!(port_free(port));

    // -P publishes the image's ExposedPorts on free host ports.
    env.rpod_ok(&["pull", "-q", "config"]);
    env.rpod_ok(&["create", "--name", "exposed", "-P", "config"]);
    let b = field(&env, "exposed", "{{json .HostConfig.PortBindings}}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    for k in ["80/tcp", "53/udp"] {
        let hp: u32 = v[k][0]["HostPort"].as_str().unwrap().parse().unwrap();
        assert!(hp > 0, "{b}");
    }
    env.rpod_ok(&["rm", "exposed"]);
    // Bad -p values are errors naming them.
    let (code, e) = env.rpod_fail(&["run", "--rm", "-p", "8000-8001:80", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("8000-8001:80"), "{e}");
    assert_clean(&env, &[]);
}

#[test]
fn published_udp_port_answers() {
    let w = common::world();
    if !w.debian_ok() {
        eprintln!("skipped: no debian fixture (perl is the UDP echo server)");
        return;
    }
    let env = env_with_alpine("netudp");
    let _reaper = Reaper(&env);
    env.rpod_ok(&["pull", "-q", "debian"]);
    let port = free_port();
    let spec = format!("{port}:5353/udp");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "echo",
        "-p",
        &spec,
        "debian",
        "perl",
        "-MIO::Socket::INET",
        "-e",
        "$s=IO::Socket::INET->new(LocalPort=>5353,Proto=>'udp') or die $!; while($s->recv($m,1500)){ $s->send(\"echo:$m\") }",
    ]);
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut got = None;
    for _ in 0..20 {
        c.send_to(b"ping", ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = c.recv_from(&mut buf) {
            got = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            break;
        }
    }
    assert_eq!(got.as_deref(), Some("echo:ping"));
    assert_eq!(
        env.rpod_ok(&["port", "echo"]),
        format!("5353/udp -> 0.0.0.0:{port}\n")
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "echo"]);
    assert!(eventually(5, || UdpSocket::bind(("0.0.0.0", port)).is_ok()));
    assert_clean(&env, &[]);
}

#[test]
fn a_taken_host_port_is_named_and_leaves_nothing() {
    let env = env_with_alpine("netbusy");
    let _reaper = Reaper(&env);
    let port = free_port();
    let spec = format!("{port}:80");
    env.rpod_ok(&[
        "run", "-d", "--name", "first", "-p", &spec, "alpine", "httpd", "-f", "-p", "80", "-h",
        "/etc",
    ]);
    let before = helpers(&env).len();
    let (code, e) = env.rpod_fail(&["run", "--rm", "-p", &spec, "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains(&format!("0.0.0.0:{port}")) && e.contains("address already in use"),
        "{e}"
    );
    // Without --rm the container stays created, as podman's does, holding nothing.
    let (code, _) = env.rpod_fail(&[
        "run", "-d", "--name", "second", "-p", &spec, "alpine", "true",
    ]);
    assert_eq!(code, 125);
    assert_eq!(helpers(&env).len(), before, "{:?}", helpers(&env));
    let ps = env.rpod_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("second Created"), "{ps}");
    assert!(!ps.contains("second Up"), "{ps}");
    // The first still answers.
    assert!(http_get(port, "/hostname").is_some());
    env.rpod_ok(&["rm", "-f", "-t", "0", "first", "second"]);
    assert!(port_free(port));
    assert_clean(&env, &[]);
}

#[test]
fn none_host_and_container_modes() {
    let env = env_with_alpine("netmodes");
    let _reaper = Reaper(&env);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "alpine",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(o.split_whitespace().collect::<Vec<_>>(), vec!["lo"]);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--net",
        "host",
        "alpine",
        "ls",
        "/sys/class/net",
    ]);
    for e in std::fs::read_dir("/sys/class/net").unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(o.split_whitespace().any(|x| x == n), "{n} missing from {o}");
    }
    let (code, e) = env.rpod_fail(&["run", "--rm", "--network", "bogus", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(e.contains("bogus"), "{e}");
    // -p means nothing without a helper: podman warns and drops it.
    let o = env.rpod(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-p",
        "8080:80",
        "alpine",
        "true",
    ]);
    assert!(o.status.success());
    assert!(
        err(&o).contains("Port mappings have been discarded"),
        "{}",
        err(&o)
    );

    // container:NAME shares NAME's namespace: its loopback and its tap0.
    env.rpod_ok(&[
        "run", "-d", "--name", "owner", "alpine", "httpd", "-f", "-p", "8080", "-h", "/etc",
    ]);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "container:owner",
        "alpine",
        "sh",
        "-c",
        "ip -4 addr show tap0 | grep -o 'inet [0-9./]*'; for i in 1 2 3 4 5; do timeout 5 wget -q -O - http://127.0.0.1:8080/hostname && break; sleep 0.2; done",
    ]);
    let owner_host = field(&env, "owner", "{{.Config.Hostname}}");
    assert_eq!(o, format!("inet 10.0.2.100/24\n{owner_host}\n"));
    let id = env.rpod_ok(&[
        "create",
        "--network",
        "container:owner",
        "alpine",
        "ls",
        "/sys/class/net",
    ]);
    let id = id.trim();
    let net = field(&env, id, "{{.HostConfig.NetworkMode}}");
    assert!(
        net.starts_with("container:") && net.len() == "container:".len() + 64,
        "{net}"
    );
    let o = env.rpod_ok(&["start", "-a", id]);
    assert_eq!(o.split_whitespace().collect::<Vec<_>>(), vec!["lo", "tap0"]);
    env.rpod_ok(&["rm", id]);
    env.rpod_ok(&["stop", "-t", "0", "owner"]);
    let (code, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--network",
        "container:owner",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(e.contains("not running"), "{e}");
    let (_, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--network",
        "container:nosuch",
        "alpine",
        "true",
    ]);
    assert!(e.contains("nosuch"), "{e}");
    env.rpod_ok(&["rm", "owner"]);
    // Bad options are errors naming them, before anything is created.
    let (code, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--network",
        "slirp4netns:mtu=10",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(e.contains("mtu"), "{e}");
    let (_, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--network",
        "slirp4netns:bogus=1",
        "alpine",
        "true",
    ]);
    assert!(e.contains("bogus"), "{e}");
    // A missing helper binary names its package.
    let conf = env.home.join(".config/containers/containers.conf");
    std::fs::write(
        &conf,
        "[engine]\nnetwork_cmd_path = \"/nonexistent/slirp4netns\"\n",
    )
    .unwrap();
    let (code, e) = env.rpod_fail(&["run", "--rm", "alpine", "true"]);
    assert_eq!(code, 125);
    assert!(
        e.contains("/nonexistent/slirp4netns") && e.contains("\"slirp4netns\" package"),
        "{e}"
    );
    std::fs::remove_file(&conf).unwrap();
    assert_clean(&env, &[]);
}

#[test]
fn pasta_mode_and_containers_conf_default() {
    if !has_pasta() {
        eprintln!("skipped: pasta (package passt) is not installed");
        return;
    }
    let env = env_with_alpine("netpasta");
    let _reaper = Reaper(&env);
    let o = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "pasta",
        "alpine",
        "sh",
        "-c",
        "ls /sys/class/net; ip -4 route",
    ]);
    assert!(!o.contains("tap0") && o.contains("default via"), "{o}");
    // Ports are forwarded by pasta itself.
    let port = free_port();
    let spec = format!("{port}:80");
    publish_httpd(&env, "pweb", "pasta", &spec);
    let r = http_get(port, "/hostname").expect("no answer through pasta");
    assert!(r.contains(" 200 OK"), "{r}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "pweb"]);
    assert!(port_free(port));
    assert!(helpers(&env).is_empty(), "{:?}", helpers(&env));

    // containers.conf picks the default.
    let conf = env.home.join(".config/containers/containers.conf");
    std::fs::write(
        &conf,
        "[network]\ndefault_rootless_network_cmd = \"pasta\"\n",
    )
    .unwrap();
    std::process::Command::new("chown")
        .args([&format!("{}:", env.user), conf.to_str().unwrap()])
        .status()
        .unwrap();
    let id = env.rpod_ok(&["create", "alpine", "true"]);
    assert_eq!(
        field(&env, id.trim(), "{{.HostConfig.NetworkMode}}"),
        "pasta"
    );
    env.rpod_ok(&["rm", id.trim()]);
    std::fs::write(
        &conf,
        "[network]\ndefault_rootless_network_cmd = \"vpnkit\"\n",
    )
    .unwrap();
    let o = env.rpod(&["create", "alpine", "true"]);
    assert!(err(&o).contains("vpnkit"), "{}", err(&o));
    if o.status.success() {
        env.rpod_ok(&["rm", out(&o).trim()]);
    }
    assert_clean(&env, &[]);
}

#[test]
fn no_helper_outlives_its_container() {
    let env = env_with_alpine("nethelp");
    let _reaper = Reaper(&env);
    let run = |name: &str, port: u16, cmd: &[&str]| {
        let spec = format!("{port}:80");
        let mut args = vec!["run", "-d", "--name", name, "-p", &spec, "alpine"];
        args.extend_from_slice(cmd);
        env.rpod_ok(&args);
        assert!(
            eventually(5, || helpers(&env).len() >= 2),
            "slirp4netns and the forwarder should run: {:?}",
            env.leftover_processes()
        );
    };
    let gone = |what: &str, port: u16| {
        assert!(
            eventually(10, || helpers(&env).is_empty()),
            "after {what}: {:?}",
            helpers(&env)
        );
        assert!(port_free(port), "after {what}: port {port} still bound");
    };
    let httpd = ["httpd", "-f", "-p", "80", "-h", "/etc"];
    // rm -f
    let p = free_port();
    run("a", p, &httpd);
    env.rpod_ok(&["rm", "-f", "-t", "0", "a"]);
    gone("rm -f", p);
    // stop
    let p = free_port();
    run("b", p, &httpd);
    env.rpod_ok(&["stop", "-t", "0", "b"]);
    gone("stop", p);
    env.rpod_ok(&["rm", "b"]);
    // kill
    let p = free_port();
    run("c", p, &httpd);
    env.rpod_ok(&["kill", "c"]);
    env.rpod_ok(&["wait", "c"]);
    gone("kill", p);
    env.rpod_ok(&["rm", "c"]);
    // its own exit
    let p = free_port();
    run("d", p, &["sleep", "1"]);
    env.rpod_ok(&["wait", "d"]);
    gone("exit", p);
    env.rpod_ok(&["rm", "d"]);
    // --rm, in the foreground
    let p = free_port();
    let spec = format!("{p}:80");
    env.rpod_ok(&["run", "--rm", "-p", &spec, "alpine", "true"]);
    gone("run --rm", p);
    // kill -9 of the monitor: the helpers go with it, the next ps/rm cleans up.
    let p = free_port();
    run("e", p, &["sleep", "4242404"]);
    let pid = field(&env, "e", "{{.State.ConmonPid}}");
    assert!(pid.parse::<u32>().unwrap_or(0) > 0, "monitor pid {pid:?}");
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    gone("kill -9 of the monitor", p);
    env.rpod_ok(&["ps", "-a"]);
    env.rpod_ok(&["rm", "-f", "-t", "0", "e"]);
    assert!(helpers(&env).is_empty());
    assert_clean(&env, &["4242404"]);
}

#[test]
fn an_unusable_tun_device_is_named() {
    let env = env_with_alpine("nettun");
    let _reaper = Reaper(&env);
    // /dev/net/tun as it ships on some systems (0600 root), in a mount
    // namespace of this test only.
    let fake = env.dir.join("tun");
    std::fs::write(&fake, "").unwrap();
    let inner = env.cmd(&["run", "--rm", "alpine", "true"]);
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "chmod 600 {f} && mount --bind {f} /dev/net/tun && exec \"$@\"",
            f = fake.display()
        ))
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args());
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains("slirp4netns needs /dev/net/tun: open /dev/net/tun: Permission denied"),
        "{e}"
    );
    assert!(helpers(&env).is_empty());
    assert_clean(&env, &[]);
}
