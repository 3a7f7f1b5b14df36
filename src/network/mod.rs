//! Container networking: the `--network` modes and the name files
//! (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`) a container gets.
//!
//! [`NetworkMode::parse`] reads `--network`; the default comes from
//! containers.conf ([`config`]). The monitor calls [`NetworkMode::setup`]
//! between the runtime's create and start (the init's pid names the
//! namespace): [`slirp4netns`] (with [`portfwd`] for published ports) or
//! [`pasta`], whose pids it records so that every cleanup path stops them
//! ([`helper`]). [`setup`] also joins a `container:NAME` target's user
//! namespace. [`ports`] parses `-p`/`-P` and prints them for `ps`, `port`
//! ([`port_cmd`]) and `inspect`; [`names`] writes `/etc/hosts` and
//! `/etc/resolv.conf` as podman does.

// Rootless helper networking (issue 4): see each module's header.
pub mod bridge;
pub mod config;
pub mod helper;
pub mod keep;
pub mod names;
pub mod netconf;
pub mod pasta;
pub mod port_cmd;
pub mod portfwd;
pub mod ports;
pub mod rootless;
pub mod setup;
pub mod slirp4netns;
pub mod warm;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What `--network` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "options", rename_all = "lowercase")]
pub enum NetworkMode {
    /// A new network namespace with only `lo`.
    None,
    /// The host's network namespace.
    Host,
    /// slirp4netns with its options (the rootless default).
    Slirp4netns(Vec<String>),
    /// pasta with its arguments.
    Pasta(Vec<String>),
    /// Another container's network namespace.
    Container(String),
    /// User-defined (netavark) networks, joined through the rootless
    /// network namespace ([`bridge`]).
    Bridge(Vec<bridge::Attach>),
}

impl Default for NetworkMode {
    fn default() -> Self {
        NetworkMode::default_rootless()
    }
}

impl NetworkMode {
    /// Parse a `--network` value; `None` means the rootless default.
    pub fn parse(value: Option<&str>) -> Result<NetworkMode> {
        let Some(v) = value else {
            return Ok(Self::default_rootless());
        };
        let (name, opts) = match v.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (v, None),
        };
        let list = |o: Option<&str>| -> Vec<String> {
            o.map(|o| {
                o.split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
        };
        Ok(match name {
            "none" if opts.is_none() => NetworkMode::None,
            "host" if opts.is_none() => NetworkMode::Host,
            "slirp4netns" => NetworkMode::Slirp4netns(list(opts)),
            "pasta" => NetworkMode::Pasta(list(opts)),
            "container" => match opts {
                Some(c) if !c.is_empty() => NetworkMode::Container(c.to_string()),
                _ => bail!("invalid network mode {v:?}: container: needs a container name or id"),
            },
            "private" | "" => Self::default_rootless(),
            _ => NetworkMode::Bridge(vec![bridge::Attach::parse(v)?]),
        })
    }

    /// All `--network` values with `--network-alias`, `--ip`, `--ip6` and
    /// `--mac-address`: several values must all name networks.
    pub fn parse_all(values: &[String], extra: &bridge::Extra) -> Result<NetworkMode> {
        let mut mode = match values {
            [] => NetworkMode::parse(None)?,
            [one] => NetworkMode::parse(Some(one))?,
            many => {
                let mut nets = Vec::new();
                for v in many {
                    match NetworkMode::parse(Some(v))? {
                        NetworkMode::Bridge(a) => nets.extend(a),
                        _ => bail!(
                            "--network {v}: only networks can be given more than once (not none, host, slirp4netns, pasta or container:)"
                        ),
                    }
                }
                NetworkMode::Bridge(nets)
            }
        };
        if !extra.is_empty() {
            match &mut mode {
                NetworkMode::Bridge(nets) => extra.apply(nets)?,
                _ if extra.aliases.is_empty() => bail!(
                    "--ip, --ip6 and --mac-address need --network with a network name (or bridge)"
                ),
                // podman ignores aliases outside networks.
                _ => {}
            }
        }
        Ok(mode)
    }

    /// The rootless default: containers.conf's `[network]
    /// default_rootless_network_cmd`, else slirp4netns (podman 4's default).
    pub fn default_rootless() -> NetworkMode {
        match config::load() {
            Ok(c) if c.default_rootless_network_cmd.as_deref() == Some("pasta") => {
                NetworkMode::Pasta(Vec::new())
            }
            Ok(_) => NetworkMode::Slirp4netns(Vec::new()),
            Err(e) => {
                warn!("{e:#}; using slirp4netns");
                NetworkMode::Slirp4netns(Vec::new())
            }
        }
    }

    /// Whether a helper process (slirp4netns, pasta) must be started between
    /// the runtime's create and start.
    pub fn needs_helper(&self) -> bool {
        matches!(
            self,
            NetworkMode::Slirp4netns(_) | NetworkMode::Pasta(_) | NetworkMode::Bridge(_)
        )
    }

    /// Whether the container gets a network namespace of its own.
    #[allow(dead_code)] // part of the mode's API; the spec builder matches modes itself
    pub fn needs_netns(&self) -> bool {
        !matches!(self, NetworkMode::Host | NetworkMode::Container(_))
    }

    /// The name podman shows in `inspect` (`HostConfig.NetworkMode`).
    pub fn name(&self) -> String {
        match self {
            NetworkMode::None => "none".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::Slirp4netns(_) => "slirp4netns".into(),
            NetworkMode::Pasta(_) => "pasta".into(),
            NetworkMode::Container(c) => format!("container:{c}"),
            NetworkMode::Bridge(_) => "bridge".into(),
        }
    }

    /// Check the mode's options before anything is created.
    pub fn check_supported(&self) -> Result<()> {
        setup::check(self)
    }

    /// Start what the mode needs once the container's init `pid` exists
    /// (created, not started). The monitor keeps the returned helper for the
    /// container's lifetime and records its pid in the container's state.
    pub fn setup(
        &self,
        pid: i32,
        run_dir: &Path,
        ports: &[String],
    ) -> Result<Option<helper::Helper>> {
        setup::setup(self, pid, run_dir, ports)
    }
}

/// Inputs for the generated name files.
#[derive(Debug, Clone, Default)]
pub struct NameFiles<'a> {
    pub hostname: &'a str,
    /// `--add-host` values, `HOST:IP`.
    pub add_hosts: &'a [String],
    pub dns: &'a [String],
    pub dns_search: &'a [String],
    pub dns_options: &'a [String],
}

/// Check `--add-host` values before anything is created.
pub fn validate_add_hosts(add_hosts: &[String]) -> Result<()> {
    for h in add_hosts {
        parse_add_host(h)?;
    }
    Ok(())
}

fn parse_add_host(h: &str) -> Result<(&str, &str)> {
    // The IP may be IPv6 (contains ':'), so split at the first ':'.
    let (name, ip) = h
        .split_once(':')
        .with_context(|| format!("invalid --add-host {h:?}: expected HOST:IP"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || ip.parse::<std::net::IpAddr>().is_err() {
        bail!("invalid --add-host {h:?}: expected HOST:IP with a valid IP address");
    }
    Ok((name, ip))
}

/// `/etc/hosts` for a container (see [`names::hosts`] for podman's rules).
pub fn hosts_file(mode: &NetworkMode, f: &NameFiles) -> String {
    names::hosts(mode, &f.flags(), &names::HostFacts::read())
}

/// `/etc/resolv.conf` (see [`names::resolv`]), with `--dns*` overriding.
pub fn resolv_conf(mode: &NetworkMode, f: &NameFiles) -> String {
    names::resolv(mode, &f.flags(), &names::HostFacts::read())
}

impl NameFiles<'_> {
    fn flags(&self) -> names::NameFlags<'_> {
        names::NameFlags {
            hostname: self.hostname,
            add_hosts: self.add_hosts,
            dns: self.dns,
            dns_search: self.dns_search,
            dns_options: self.dns_options,
        }
    }
}

/// Write `hosts`, `hostname` and `resolv.conf` into the container directory
/// `dir`; the spec bind-mounts them over the image's.
pub fn write_name_files(dir: &Path, mode: &NetworkMode, f: &NameFiles) -> Result<()> {
    let files = [
        ("hosts", hosts_file(mode, f)),
        ("hostname", format!("{}\n", f.hostname)),
        ("resolv.conf", resolv_conf(mode, f)),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        assert_eq!(NetworkMode::parse(Some("none")).unwrap(), NetworkMode::None);
        assert_eq!(NetworkMode::parse(Some("host")).unwrap(), NetworkMode::Host);
        assert_eq!(
            NetworkMode::parse(Some("slirp4netns:allow_host_loopback=true,mtu=1500")).unwrap(),
            NetworkMode::Slirp4netns(vec!["allow_host_loopback=true".into(), "mtu=1500".into()])
        );
        assert_eq!(
            NetworkMode::parse(Some("container:web")).unwrap(),
            NetworkMode::Container("web".into())
        );
        assert!(NetworkMode::parse(Some("bad/net")).is_err());
        assert!(matches!(
            NetworkMode::parse(Some("mynet")).unwrap(),
            NetworkMode::Bridge(_)
        ));
        assert!(NetworkMode::parse(Some("container:")).is_err());
        assert!(NetworkMode::parse(Some("host:x")).is_err());
        assert!(NetworkMode::Host.check_supported().is_ok());
        assert!(!NetworkMode::Host.needs_netns());
        assert!(NetworkMode::None.needs_netns());
    }

    #[test]
    fn hosts_has_localhost_hostname_and_add_hosts() {
        let add = vec!["db:10.1.2.3".to_string(), "v6:[::2]".to_string()];
        let f = NameFiles {
            hostname: "abc123",
            add_hosts: &add,
            ..Default::default()
        };
        let h = hosts_file(&NetworkMode::None, &f);
        assert!(h.contains("127.0.0.1\tlocalhost"));
        assert!(h.contains("10.1.2.3\tdb\n"));
        assert!(h.contains("::2\tv6\n"));
        assert!(h.contains("\tabc123\n"));
        assert!(validate_add_hosts(&["nocolon".into()]).is_err());
        assert!(validate_add_hosts(&["h:notanip".into()]).is_err());
    }

    #[test]
    fn dns_flags_override() {
        let dns = vec!["9.9.9.9".to_string()];
        let search = vec!["example.org".to_string()];
        let opts = vec!["ndots:2".to_string()];
        let f = NameFiles {
            hostname: "h",
            dns: &dns,
            dns_search: &search,
            dns_options: &opts,
            ..Default::default()
        };
        let r = resolv_conf(&NetworkMode::None, &f);
        assert_eq!(
            r,
            "search example.org\nnameserver 9.9.9.9\noptions ndots:2\n"
        );
    }
}
