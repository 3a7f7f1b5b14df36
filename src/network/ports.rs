//! Published ports: `-p [ip:][hostPort:]containerPort[/tcp|udp]` with
//! ranges, `-P` from the image's ExposedPorts, and the forms `ps`, `port`
//! and `inspect` print.
//!
//! A container record keeps its mappings as `ps` shows them
//! (`0.0.0.0:8080->80/tcp`, `0.0.0.0:8080-8081->80-81/udp`), with random
//! host ports already chosen at create time, as podman does, so every
//! later command reads the same ports without asking a live helper.

use anyhow::{bail, Context, Result};
use std::net::IpAddr;

/// One `-p` after parsing: `range` consecutive ports from each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Empty: every host address (shown as 0.0.0.0).
    pub host_ip: String,
    /// 0 until a random port is chosen.
    pub host_port: u16,
    pub container_port: u16,
    pub range: u16,
    /// "tcp" or "udp".
    pub protocol: String,
}

fn parse_range(s: &str, what: &str, spec: &str) -> Result<(u16, u16)> {
    let num = |x: &str| -> Result<u16> {
        match x.trim().parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("invalid {what} {x:?} in port mapping {spec:?}: must be 1-65535"),
        }
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                bail!("invalid {what} range {s:?} in port mapping {spec:?}: the end is before the start");
            }
            Ok((a, b - a + 1))
        }
        None => Ok((num(s)?, 1)),
    }
}

/// Parse one `-p` value; may expand to one mapping per protocol.
pub fn parse(spec: &str) -> Result<Vec<PortMapping>> {
    let (addr, protos) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (spec, "tcp"),
    };
    let mut protocols = Vec::new();
    for p in protos.split(',') {
        match p.to_ascii_lowercase().as_str() {
            "tcp" | "udp" => protocols.push(p.to_ascii_lowercase()),
            "sctp" => bail!(
                "invalid port mapping {spec:?}: sctp cannot be forwarded by rootless networking"
            ),
            _ => bail!("invalid protocol {p:?} in port mapping {spec:?}: use tcp or udp"),
        }
    }
    // An IPv6 host address comes in brackets: [::1]:8080:80.
    let (host_ip, rest) = if let Some(r) = addr.strip_prefix('[') {
        let (ip, rest) = r
            .split_once(']')
            .with_context(|| format!("invalid port mapping {spec:?}: missing ']'"))?;
        let rest = rest.strip_prefix(':').with_context(|| {
            format!("invalid port mapping {spec:?}: expected [IP]:HOSTPORT:PORT")
        })?;
        (Some(ip.to_string()), rest)
    } else {
        let parts: Vec<&str> = addr.split(':').collect();
        match parts.len() {
            1 | 2 => (None, addr),
            3 => (Some(parts[0].to_string()), &addr[parts[0].len() + 1..]),
            _ => bail!("invalid port mapping {spec:?}: expected [IP:][HOSTPORT:]PORT[/PROTOCOL]"),
        }
    };
    let host_ip = match host_ip {
        Some(ip) if !ip.is_empty() => {
            ip.parse::<IpAddr>()
                .map_err(|_| anyhow::anyhow!("invalid host IP {ip:?} in port mapping {spec:?}"))?;
            ip
        }
        _ => String::new(),
    };
    let (host, ctr) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    let (container_port, range) = parse_range(ctr, "container port", spec)?;
    let host_port = if host.is_empty() {
        0
    } else {
        let (hp, hr) = parse_range(host, "host port", spec)?;
        if hr != range {
            bail!(
                "invalid port mapping {spec:?}: host and container port ranges have different lengths ({hr} vs {range})"
            );
        }
        hp
    };
    if container_port as u32 + range as u32 - 1 > 65535
        || (host_port != 0 && host_port as u32 + range as u32 - 1 > 65535)
    {
        bail!("invalid port mapping {spec:?}: the range passes 65535");
    }
    Ok(protocols
        .into_iter()
        .map(|protocol| PortMapping {
            host_ip: host_ip.clone(),
            host_port,
            container_port,
            range,
            protocol,
        })
        .collect())
}

/// Parse every `-p`, add `-P`'s ExposedPorts (e.g. "80/tcp") that no `-p`
/// covers, and choose free host ports where none was given. Two mappings
/// of the same host port and protocol are refused.
pub fn resolve(
    publish: &[String],
    publish_all: bool,
    exposed: &[String],
) -> Result<Vec<PortMapping>> {
    let mut v = Vec::new();
    for p in publish {
        v.extend(parse(p)?);
    }
    if publish_all {
        for e in exposed {
            let (port, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
            let Ok(port) = port.parse::<u16>() else {
                warn!("ignoring exposed port {e:?} of the image: not a port number");
                continue;
            };
            let covered = v.iter().any(|m: &PortMapping| {
                m.protocol == proto
                    && (m.container_port..m.container_port + m.range).contains(&port)
            });
            if !covered && matches!(proto, "tcp" | "udp") {
                v.push(PortMapping {
                    host_ip: String::new(),
                    host_port: 0,
                    container_port: port,
                    range: 1,
                    protocol: proto.to_string(),
                });
            }
        }
    }
    for i in 0..v.len() {
        if v[i].host_port == 0 {
            v[i].host_port = free_port(&v[i].host_ip, &v[i].protocol, v[i].range, &v)?;
        }
    }
    for (i, a) in v.iter().enumerate() {
        for b in &v[i + 1..] {
            let overlap =
                a.host_port < b.host_port + b.range && b.host_port < a.host_port + a.range;
            let same_ip = a.host_ip == b.host_ip || a.host_ip.is_empty() || b.host_ip.is_empty();
            if a.protocol == b.protocol && overlap && same_ip {
                bail!(
                    "host port {}/{} is published twice ({} and {})",
                    a.host_port.max(b.host_port),
                    a.protocol,
                    show(a),
                    show(b)
                );
            }
        }
    }
    Ok(v)
}

/// A free host port (or `range` consecutive ones), as the kernel hands out
/// for port 0, skipping ports other mappings of this container already use.
fn free_port(ip: &str, proto: &str, range: u16, taken: &[PortMapping]) -> Result<u16> {
    let bind_ip = if ip.is_empty() { "0.0.0.0" } else { ip };
    let addr = |port: u16| -> std::net::SocketAddr {
        let ip: IpAddr = bind_ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        std::net::SocketAddr::new(ip, port)
    };
    let can_bind = |port: u16| -> bool {
        if proto == "udp" {
            std::net::UdpSocket::bind(addr(port)).is_ok()
        } else {
            std::net::TcpListener::bind(addr(port)).is_ok()
        }
    };
    let used = |port: u16| {
        taken.iter().any(|m| {
            m.host_port != 0
                && m.protocol == proto
                && (m.host_port..m.host_port + m.range).contains(&port)
        })
    };
    for _ in 0..200 {
        let base = if proto == "udp" {
            std::net::UdpSocket::bind(addr(0))?.local_addr()?.port()
        } else {
            std::net::TcpListener::bind(addr(0))?.local_addr()?.port()
        };
        if base as u32 + range as u32 - 1 > 65535 {
            continue;
        }
        if (base..base + range).all(|p| !used(p) && (p == base || can_bind(p))) && !used(base) {
            return Ok(base);
        }
    }
    bail!("could not find {range} free {proto} host port(s) on {bind_ip}")
}

/// `ps` form of one mapping: `0.0.0.0:8080->80/tcp`.
pub fn show(m: &PortMapping) -> String {
    let ip = if m.host_ip.is_empty() {
        "0.0.0.0".to_string()
    } else if m.host_ip.contains(':') {
        format!("[{}]", m.host_ip)
    } else {
        m.host_ip.clone()
    };
    if m.range > 1 {
        format!(
            "{ip}:{}-{}->{}-{}/{}",
            m.host_port,
            m.host_port + m.range - 1,
            m.container_port,
            m.container_port + m.range - 1,
            m.protocol
        )
    } else {
        format!("{ip}:{}->{}/{}", m.host_port, m.container_port, m.protocol)
    }
}

/// Parse the `ps` form back (what container records hold).
pub fn parse_shown(s: &str) -> Result<PortMapping> {
    let bad = || anyhow::anyhow!("invalid recorded port mapping {s:?}");
    let (host, ctr) = s.split_once("->").ok_or_else(bad)?;
    let (ctr, protocol) = ctr.split_once('/').ok_or_else(bad)?;
    let (ip, hport) = host.rsplit_once(':').ok_or_else(bad)?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let (container_port, range) = parse_range(ctr, "container port", s)?;
    let (host_port, _) = parse_range(hport, "host port", s)?;
    Ok(PortMapping {
        host_ip: if ip == "0.0.0.0" {
            String::new()
        } else {
            ip.to_string()
        },
        host_port,
        container_port,
        range,
        protocol: protocol.to_string(),
    })
}

/// The recorded mappings of a container (unparsable entries are skipped).
pub fn from_record(ports: &[String]) -> Vec<PortMapping> {
    ports.iter().filter_map(|p| parse_shown(p).ok()).collect()
}

/// `rpod port` lines for a container: `80/tcp -> 0.0.0.0:8080`, one per
/// port, optionally only those matching `filter` ("80" or "80/udp").
pub fn port_lines(maps: &[PortMapping], filter: Option<&str>) -> Result<Vec<String>> {
    let want = match filter {
        None => None,
        Some(f) => {
            let (p, proto) = f.split_once('/').unwrap_or((f, "tcp"));
            let port: u16 = p
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid port {f:?}: expected PORT[/PROTOCOL]"))?;
            Some((port, proto.to_string()))
        }
    };
    let mut out = Vec::new();
    for m in maps {
        let ip = if m.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &m.host_ip
        };
        for i in 0..m.range {
            let cp = m.container_port + i;
            let hp = m.host_port + i;
            match &want {
                None => out.push(format!("{cp}/{} -> {ip}:{hp}", m.protocol)),
                Some((p, proto)) if *p == cp && *proto == m.protocol => {
                    out.push(format!("{ip}:{hp}"))
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// `ps --format json`'s Ports: podman's PortMapping objects, null if none.
pub fn ps_json(maps: &[PortMapping]) -> serde_json::Value {
    if maps.is_empty() {
        return serde_json::Value::Null;
    }
    maps.iter()
        .map(|m| {
            serde_json::json!({
                "host_ip": m.host_ip,
                "container_port": m.container_port,
                "host_port": m.host_port,
                "range": m.range,
                "protocol": m.protocol,
            })
        })
        .collect()
}

/// `inspect`'s NetworkSettings.Ports: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`.
pub fn inspect_json(maps: &[PortMapping]) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    for m in maps {
        for i in 0..m.range {
            let key = format!("{}/{}", m.container_port + i, m.protocol);
            let entry = serde_json::json!({ "HostIp": m.host_ip, "HostPort": (m.host_port + i).to_string() });
            match o.get_mut(&key) {
                Some(serde_json::Value::Array(a)) => a.push(entry),
                _ => {
                    o.insert(key, serde_json::Value::Array(vec![entry]));
                }
            }
        }
    }
    serde_json::Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(ip: &str, h: u16, c: u16, r: u16, p: &str) -> PortMapping {
        PortMapping {
            host_ip: ip.into(),
            host_port: h,
            container_port: c,
            range: r,
            protocol: p.into(),
        }
    }

    #[test]
    fn parses_podman_forms() {
        assert_eq!(parse("80").unwrap(), vec![pm("", 0, 80, 1, "tcp")]);
        assert_eq!(parse("8080:80").unwrap(), vec![pm("", 8080, 80, 1, "tcp")]);
        assert_eq!(
            parse("127.0.0.1:8080:80/udp").unwrap(),
            vec![pm("127.0.0.1", 8080, 80, 1, "udp")]
        );
        assert_eq!(
            parse("127.0.0.1::80").unwrap(),
            vec![pm("127.0.0.1", 0, 80, 1, "tcp")]
        );
        assert_eq!(
            parse("[::1]:8080:80").unwrap(),
            vec![pm("::1", 8080, 80, 1, "tcp")]
        );
        assert_eq!(
            parse("8000-8002:80-82").unwrap(),
            vec![pm("", 8000, 80, 3, "tcp")]
        );
        assert_eq!(
            parse("53:53/tcp,udp").unwrap(),
            vec![pm("", 53, 53, 1, "tcp"), pm("", 53, 53, 1, "udp")]
        );
        for bad in [
            "",
            "0",
            "70000",
            "x:80",
            "1.2.3:80:80",
            "8000-8001:80",
            "80/icmp",
            "80/sctp",
            "a:b:c:d",
            "90-80",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should fail");
        }
        let e = parse("8000-8001:80").unwrap_err().to_string();
        assert!(e.contains("8000-8001:80"), "{e}");
    }

    #[test]
    fn shown_form_round_trips() {
        for m in [
            pm("", 8080, 80, 1, "tcp"),
            pm("127.0.0.1", 9000, 90, 3, "udp"),
            pm("::1", 1, 2, 1, "tcp"),
        ] {
            assert_eq!(parse_shown(&show(&m)).unwrap(), m);
        }
        assert_eq!(show(&pm("", 8080, 80, 1, "tcp")), "0.0.0.0:8080->80/tcp");
        assert_eq!(
            show(&pm("", 8080, 80, 2, "udp")),
            "0.0.0.0:8080-8081->80-81/udp"
        );
    }

    #[test]
    fn port_command_lines() {
        let maps = vec![
            pm("", 8080, 80, 1, "tcp"),
            pm("127.0.0.1", 9000, 53, 2, "udp"),
        ];
        assert_eq!(
            port_lines(&maps, None).unwrap(),
            vec![
                "80/tcp -> 0.0.0.0:8080",
                "53/udp -> 127.0.0.1:9000",
                "54/udp -> 127.0.0.1:9001"
            ]
        );
        assert_eq!(port_lines(&maps, Some("80")).unwrap(), vec!["0.0.0.0:8080"]);
        assert_eq!(
            port_lines(&maps, Some("54/udp")).unwrap(),
            vec!["127.0.0.1:9001"]
        );
        assert!(port_lines(&maps, Some("81")).unwrap().is_empty());
        let j = inspect_json(&maps);
        assert_eq!(j["80/tcp"][0]["HostPort"], "8080");
        assert_eq!(j["54/udp"][0]["HostIp"], "127.0.0.1");
    }

    #[test]
    fn publish_all_and_random_ports() {
        let v = resolve(
            &["8080:80".into()],
            true,
            &["80/tcp".into(), "53/udp".into()],
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].container_port, 53);
        assert_ne!(v[1].host_port, 0);
        let r = resolve(&["127.0.0.1::80-81".into()], false, &[]).unwrap();
        assert_ne!(r[0].host_port, 0);
        assert_eq!(r[0].range, 2);
        let e = resolve(&["8080:80".into(), "8080:81".into()], false, &[]).unwrap_err();
        assert!(e.to_string().contains("8080"), "{e}");
        assert!(resolve(&["8080:80".into(), "8080:81/udp".into()], false, &[]).is_ok());
    }
}
