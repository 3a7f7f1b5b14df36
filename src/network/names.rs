//! The name files a container gets, per network mode, as podman 4 writes
//! them: `/etc/hosts` (the `--add-host` entries, the host's own entries,
//! localhost, `host.containers.internal`, then the container's hostname at
//! its address) and `/etc/resolv.conf` (slirp4netns's DNS forwarder first,
//! then the host's resolvers; loopback resolvers only where the host's
//! loopback is the container's, i.e. `--network host`).

use super::slirp4netns::SlirpOpts;
use super::NetworkMode;

/// The name the host answers to from inside a container.
pub const HOST_CONTAINERS_INTERNAL: &str = "host.containers.internal";
/// podman's fallback resolvers when the host has none a container can use.
const DEFAULT_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// What the name files are made from, besides the flags.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// The host's /etc/hosts.
    pub hosts: String,
    /// The host's /etc/resolv.conf.
    pub resolv: String,
    /// systemd-resolved's upstream file, used when the host only lists a
    /// loopback stub resolver.
    pub resolved_upstream: Option<String>,
    /// The host's first non-loopback IPv4 address.
    pub ip: Option<String>,
}

impl HostFacts {
    pub fn read() -> HostFacts {
        HostFacts {
            hosts: std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            resolv: std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            resolved_upstream: std::fs::read_to_string("/run/systemd/resolve/resolv.conf").ok(),
            ip: local_ip(&std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default()),
        }
    }
}

/// The first local, non-loopback IPv4 address in /proc/net/fib_trie
/// (podman uses the host's first such address for host.containers.internal).
pub fn local_ip(fib_trie: &str) -> Option<String> {
    let mut last: Option<&str> = None;
    for line in fib_trie.lines() {
        let t = line.trim();
        if let Some(ip) = t.strip_prefix("|-- ") {
            last = Some(ip);
        } else if t.ends_with("host LOCAL") {
            if let Some(ip) = last {
                if !ip.starts_with("127.") {
                    return Some(ip.to_string());
                }
            }
        }
    }
    None
}

/// The flags that shape the name files.
#[derive(Debug, Clone, Default)]
pub struct NameFlags<'a> {
    pub hostname: &'a str,
    /// `--add-host` values, `HOST:IP`.
    pub add_hosts: &'a [String],
    pub dns: &'a [String],
    pub dns_search: &'a [String],
    pub dns_options: &'a [String],
}

fn slirp_opts(mode: &NetworkMode) -> Option<SlirpOpts> {
    match mode {
        NetworkMode::Slirp4netns(o) => {
            let defaults = super::config::load()
                .map(|c| c.network_cmd_options)
                .unwrap_or_default();
            Some(super::slirp4netns::parse_opts(&defaults, o).unwrap_or_default())
        }
        _ => None,
    }
}

fn parse_hosts(text: &str) -> Vec<(String, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap_or("");
            let mut it = l.split_whitespace();
            let ip = it.next()?;
            let names: Vec<String> = it.map(String::from).collect();
            (!names.is_empty()).then(|| (ip.to_string(), names))
        })
        .collect()
}

/// `/etc/hosts` for a container, as podman 4.3 writes it: the `--add-host`
/// entries, the host's own entries, localhost when nothing names it,
/// `host.containers.internal`, then the hostname at the container's address
/// (none with `--network host`). The container's name joins the hostname
/// once it is known ([`add_name`]).
pub fn hosts(mode: &NetworkMode, f: &NameFlags, host: &HostFacts) -> String {
    let mut entries: Vec<(String, Vec<String>)> = Vec::new();
    for h in f.add_hosts {
        if let Some((name, ip)) = h.split_once(':') {
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            entries.push((ip.to_string(), vec![name.to_string()]));
        }
    }
    entries.extend(parse_hosts(&host.hosts));
    let named = |entries: &[(String, Vec<String>)], name: &str| {
        entries.iter().any(|(_, n)| n.iter().any(|x| x == name))
    };
    let mut extra: Vec<(String, Vec<String>)> = Vec::new();
    if !named(&entries, "localhost") {
        for ip in ["127.0.0.1", "::1"] {
            extra.push((ip.to_string(), vec!["localhost".into()]));
        }
    }
    let slirp = slirp_opts(mode);
    // podman 4.3 always names the host's first address; with the host's
    // loopback allowed, 10.0.2.2 reaches strictly more of the host.
    let hci = match (mode, &slirp) {
        (NetworkMode::Container(_), _) => None,
        (_, Some(o)) if o.allow_host_loopback => Some(o.gateway().to_string()),
        _ => host.ip.clone(),
    };
    if let Some(ip) = hci {
        if !named(&entries, HOST_CONTAINERS_INTERNAL) {
            extra.push((ip, vec![HOST_CONTAINERS_INTERNAL.into()]));
        }
    }
    let own_ip = match (mode, &slirp) {
        (_, Some(o)) => Some(o.guest_ip().to_string()),
        // pasta copies the host's address into the namespace.
        (NetworkMode::Pasta(_), _) => Some(host.ip.clone().unwrap_or_else(|| "127.0.0.1".into())),
        (NetworkMode::None, _) => Some("127.0.0.1".into()),
        _ => None,
    };
    if let (Some(ip), false) = (own_ip, f.hostname.is_empty()) {
        extra.push((ip, vec![f.hostname.to_string()]));
    }
    let mut s = String::new();
    for (ip, names) in entries.iter().chain(extra.iter()) {
        s.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    s
}

/// Put the container's `name` beside its hostname on the hostname's line
/// (the last one that starts with it), replacing an older name: the name is
/// chosen after the file is first written, and may change with `rename`.
pub fn add_name(hosts: &str, hostname: &str, name: &str) -> String {
    let lines: Vec<&str> = hosts.lines().collect();
    let own = lines.iter().rposition(|l| {
        let mut it = l.split_whitespace();
        it.next().is_some() && it.next() == Some(hostname)
    });
    let mut s = String::new();
    for (i, l) in lines.iter().enumerate() {
        if Some(i) == own {
            let ip = l.split_whitespace().next().unwrap_or_default();
            if name.is_empty() || name == hostname {
                s.push_str(&format!("{ip}\t{hostname}\n"));
            } else {
                s.push_str(&format!("{ip}\t{hostname} {name}\n"));
            }
        } else {
            s.push_str(l);
            s.push('\n');
        }
    }
    s
}

fn is_loopback(ip: &str) -> bool {
    ip.starts_with("127.") || ip == "::1"
}

/// `/etc/resolv.conf` for a container.
pub fn resolv(mode: &NetworkMode, f: &NameFlags, host: &HostFacts) -> String {
    let parse = |text: &str| {
        let (mut servers, mut search, mut options) = (Vec::new(), Vec::new(), Vec::new());
        for line in text.lines() {
            let mut it = line.split_whitespace();
            match it.next() {
                Some("nameserver") => servers.extend(it.next().map(String::from)),
                Some("search") | Some("domain") => search = it.map(String::from).collect(),
                Some("options") => options.extend(it.map(String::from)),
                _ => {}
            }
        }
        (servers, search, options)
    };
    let (mut servers, mut search, mut options) = parse(&host.resolv);
    let own_loopback = *mode == NetworkMode::Host;
    if !own_loopback {
        if servers.iter().all(|s| is_loopback(s)) {
            if let Some(up) = &host.resolved_upstream {
                servers = parse(up).0;
            }
        }
        servers.retain(|s| !is_loopback(s));
    }
    let slirp = slirp_opts(mode);
    if let Some(o) = &slirp {
        if !o.enable_ipv6 {
            servers.retain(|s| !s.contains(':'));
        }
        servers.insert(0, o.dns().to_string());
    }
    if servers.is_empty() && !own_loopback {
        servers = DEFAULT_DNS.iter().map(|s| s.to_string()).collect();
    }
    if !f.dns.is_empty() {
        servers = f.dns.to_vec();
    }
    if !f.dns_search.is_empty() {
        search = f
            .dns_search
            .iter()
            .filter(|s| s.as_str() != ".")
            .cloned()
            .collect();
    }
    if !f.dns_options.is_empty() {
        options = f.dns_options.to_vec();
    }
    let mut s = String::new();
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    for ns in servers {
        s.push_str(&format!("nameserver {ns}\n"));
    }
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> HostFacts {
        HostFacts {
            hosts: "127.0.0.1 localhost\n# c\n10.9.9.9 nas nas.lan\n".into(),
            resolv: "search lan\nnameserver 127.0.0.53\noptions edns0\n".into(),
            resolved_upstream: Some("nameserver 192.168.1.1\nnameserver fd00::1\n".into()),
            ip: Some("192.168.1.20".into()),
        }
    }

    #[test]
    fn fib_trie_first_local_address() {
        let t = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 127.0.0.1\n        /32 host LOCAL\n     |-- 192.0.2.2\n        /32 host LOCAL\n";
        assert_eq!(local_ip(t).as_deref(), Some("192.0.2.2"));
        assert_eq!(local_ip(""), None);
    }

    #[test]
    fn hosts_as_podman_writes_them() {
        let add = vec!["db:10.1.2.3".to_string()];
        let f = NameFlags {
            hostname: "abc",
            add_hosts: &add,
            ..Default::default()
        };
        // The host names localhost: no second localhost line, as podman 4.3.
        let h = hosts(&NetworkMode::Slirp4netns(vec![]), &f, &facts());
        assert_eq!(
            h,
            "10.1.2.3\tdb\n127.0.0.1\tlocalhost\n10.9.9.9\tnas nas.lan\n\
             192.168.1.20\thost.containers.internal\n10.0.2.100\tabc\n"
        );
        let h = hosts(
            &NetworkMode::Slirp4netns(vec!["allow_host_loopback=true".into()]),
            &f,
            &facts(),
        );
        assert!(h.contains("10.0.2.2\thost.containers.internal\n"), "{h}");
        let h = hosts(&NetworkMode::None, &f, &HostFacts::default());
        assert_eq!(
            h,
            "10.1.2.3\tdb\n127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\tabc\n"
        );
        let h = hosts(&NetworkMode::Host, &f, &facts());
        assert!(
            !h.contains("\tabc") && h.contains("host.containers.internal"),
            "{h}"
        );
        let h = hosts(&NetworkMode::Slirp4netns(vec![]), &f, &facts());
        let named = add_name(&h, "abc", "web");
        assert!(named.ends_with("10.0.2.100\tabc web\n"), "{named}");
        assert_eq!(add_name(&named, "abc", "db2"), add_name(&h, "abc", "db2"));
        assert_eq!(add_name(&h, "abc", "abc"), h);
    }

    #[test]
    fn resolvers_per_mode() {
        let f = NameFlags::default();
        assert_eq!(
            resolv(&NetworkMode::Slirp4netns(vec![]), &f, &facts()),
            "search lan\nnameserver 10.0.2.3\nnameserver 192.168.1.1\noptions edns0\n"
        );
        assert_eq!(
            resolv(&NetworkMode::Pasta(vec![]), &f, &facts()),
            "search lan\nnameserver 192.168.1.1\nnameserver fd00::1\noptions edns0\n"
        );
        assert_eq!(
            resolv(&NetworkMode::Host, &f, &facts()),
            "search lan\nnameserver 127.0.0.53\noptions edns0\n"
        );
        let bare = HostFacts::default();
        assert!(resolv(&NetworkMode::None, &f, &bare).contains("nameserver 8.8.8.8\n"));
        let dns = vec!["9.9.9.9".to_string()];
        let search = vec![".".to_string()];
        let opts = vec!["ndots:2".to_string()];
        let f = NameFlags {
            dns: &dns,
            dns_search: &search,
            dns_options: &opts,
            ..Default::default()
        };
        assert_eq!(
            resolv(&NetworkMode::Slirp4netns(vec![]), &f, &facts()),
            "nameserver 9.9.9.9\noptions ndots:2\n"
        );
    }
}
