//! `--network slirp4netns[:OPTS]`: user-mode networking for the container's
//! network namespace, started by the monitor between the runtime's create
//! and start, with podman's arguments.
//!
//! slirp4netns gets two pipes: `--ready-fd` (it writes one byte once tap0 is
//! configured) and `--exit-fd` (it quits when the monitor's end closes, so
//! even a `kill -9` of the monitor takes it along). Published ports are
//! added through its API socket (`add_hostfwd`); each host port is probed
//! first so that a taken one is an error that names it.

use super::helper::{self, Helper};
use super::ports::PortMapping;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// slirp4netns's API socket, in the container's run dir.
const API_SOCKET: &str = "slirp4netns.sock";
/// podman's default MTU for slirp4netns.
pub const DEFAULT_MTU: u32 = 65520;
const DEFAULT_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 0, 2, 0), 24);

/// The slirp4netns options podman accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlirpOpts {
    pub allow_host_loopback: bool,
    pub mtu: u32,
    /// Network address and prefix length.
    pub cidr: Option<(Ipv4Addr, u8)>,
    pub enable_ipv6: bool,
    /// `rootlesskit` (podman's default; rpod's own forwarder plays
    /// rootlessport's part) or `slirp4netns` (its `add_hostfwd` API).
    pub port_handler: String,
    pub outbound_addr: Option<String>,
    pub outbound_addr6: Option<String>,
}

impl Default for SlirpOpts {
    fn default() -> Self {
        SlirpOpts {
            allow_host_loopback: false,
            mtu: DEFAULT_MTU,
            cidr: None,
            enable_ipv6: false,
            port_handler: "rootlesskit".into(),
            outbound_addr: None,
            outbound_addr6: None,
        }
    }
}

fn parse_bool(k: &str, v: &str) -> Result<bool> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => bail!("invalid value of {k} for slirp4netns: {v:?} (use true or false)"),
    }
}

fn parse_cidr(v: &str) -> Result<(Ipv4Addr, u8)> {
    let bad = || {
        anyhow::anyhow!(
            "invalid cidr {v:?} for slirp4netns: expected an IPv4 CIDR such as 10.0.2.0/24"
        )
    };
    let (ip, len) = v.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    // Room for .100 (the guest), as slirp4netns needs.
    if !(1..=25).contains(&len) {
        return Err(bad());
    }
    let mask = u32::MAX << (32 - len as u32);
    Ok((Ipv4Addr::from(u32::from(ip) & mask), len))
}

/// Parse `containers.conf` defaults then the `--network slirp4netns:` options.
pub fn parse_opts(defaults: &[String], opts: &[String]) -> Result<SlirpOpts> {
    let mut o = SlirpOpts::default();
    for item in defaults.iter().chain(opts) {
        let (k, v) = item.split_once('=').with_context(|| {
            format!("unknown option for slirp4netns: {item:?} (expected KEY=VALUE)")
        })?;
        match k {
            "allow_host_loopback" => o.allow_host_loopback = parse_bool(k, v)?,
            "enable_ipv6" => o.enable_ipv6 = parse_bool(k, v)?,
            "mtu" => {
                o.mtu = match v.parse::<u32>() {
                    Ok(m) if (68..=65521).contains(&m) => m,
                    _ => bail!("invalid mtu {v:?} for slirp4netns: must be 68-65521"),
                }
            }
            "cidr" => o.cidr = Some(parse_cidr(v)?),
            "port_handler" => match v {
                "slirp4netns" | "rootlesskit" => o.port_handler = v.into(),
                _ => bail!("unknown port_handler for slirp4netns: {v:?}"),
            },
            "outbound_addr" => o.outbound_addr = Some(v.into()),
            "outbound_addr6" => o.outbound_addr6 = Some(v.into()),
            _ => bail!("unknown option for slirp4netns: {item:?}"),
        }
    }
    if o.outbound_addr6.is_some() && !o.enable_ipv6 {
        bail!("slirp4netns option outbound_addr6 needs enable_ipv6=true");
    }
    Ok(o)
}

impl SlirpOpts {
    fn nth(&self, n: u32) -> Ipv4Addr {
        let (net, _) = self.cidr.unwrap_or(DEFAULT_CIDR);
        Ipv4Addr::from(u32::from(net) + n)
    }
    /// The container's address (network + 100).
    pub fn guest_ip(&self) -> Ipv4Addr {
        self.nth(100)
    }
    /// The gateway, which is the host's loopback when allowed (network + 2).
    pub fn gateway(&self) -> Ipv4Addr {
        self.nth(2)
    }
    /// slirp4netns's DNS forwarder (network + 3).
    pub fn dns(&self) -> Ipv4Addr {
        self.nth(3)
    }
}

/// What `slirp4netns --help` says the binary supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Features {
    disable_host_loopback: bool,
    mtu: bool,
    sandbox: bool,
    seccomp: bool,
    cidr: bool,
    ipv6: bool,
    outbound: bool,
}

impl Features {
    fn from_help(h: &str) -> Features {
        Features {
            disable_host_loopback: h.contains("--disable-host-loopback"),
            mtu: h.contains("--mtu"),
            sandbox: h.contains("--enable-sandbox"),
            seccomp: h.contains("--enable-seccomp"),
            cidr: h.contains("--cidr"),
            ipv6: h.contains("--enable-ipv6"),
            outbound: h.contains("--outbound-addr"),
        }
    }
    fn encode(&self) -> String {
        [
            self.disable_host_loopback,
            self.mtu,
            self.sandbox,
            self.seccomp,
            self.cidr,
            self.ipv6,
            self.outbound,
        ]
        .iter()
        .map(|b| if *b { '1' } else { '0' })
        .collect()
    }
    fn decode(s: &str) -> Option<Features> {
        let b: Vec<bool> = s.chars().map(|c| c == '1').collect();
        (b.len() == 7).then(|| Features {
            disable_host_loopback: b[0],
            mtu: b[1],
            sandbox: b[2],
            seccomp: b[3],
            cidr: b[4],
            ipv6: b[5],
            outbound: b[6],
        })
    }
}

/// Run `--help` once per binary version: the answer is cached in the
/// runroot, keyed by the binary's path, size and mtime.
fn features(bin: &Path, cache_dir: &Path) -> Result<Features> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(bin).with_context(|| format!("stat {}", bin.display()))?;
    let key = format!(
        "{} {} {}",
        bin.display(),
        meta.size(),
        meta.mtime_nsec() + meta.mtime() * 1_000_000_000
    );
    let cache = cache_dir.join("slirp4netns-features");
    if let Ok(text) = std::fs::read_to_string(&cache) {
        if let Some((k, f)) = text.trim_end().rsplit_once(' ') {
            if k == key {
                if let Some(f) = Features::decode(f) {
                    return Ok(f);
                }
            }
        }
    }
    let out = Command::new(bin)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} --help", bin.display()))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!(
            "checking {}: `--help` failed: {}",
            bin.display(),
            text.trim()
        );
    }
    let f = Features::from_help(&text);
    let _ = helper::write_small(&cache, format!("{key} {}\n", f.encode()).as_bytes());
    Ok(f)
}

/// The command line, podman's order; `ready`/`exit` are fd numbers.
fn args(
    o: &SlirpOpts,
    f: &Features,
    netns: &str,
    api: Option<&Path>,
    exit: i32,
    ready: i32,
) -> Result<Vec<String>> {
    let mut a = Vec::new();
    if !o.allow_host_loopback && f.disable_host_loopback {
        a.push("--disable-host-loopback".to_string());
    }
    if f.mtu {
        a.push(format!("--mtu={}", o.mtu));
    }
    if f.sandbox {
        a.push("--enable-sandbox".into());
    }
    if f.seccomp {
        a.push("--enable-seccomp".into());
    }
    if let Some((net, len)) = o.cidr {
        if !f.cidr {
            bail!("this slirp4netns does not support the cidr option (--cidr)");
        }
        a.push(format!("--cidr={net}/{len}"));
    }
    if o.enable_ipv6 {
        if !f.ipv6 {
            bail!("this slirp4netns does not support enable_ipv6 (--enable-ipv6)");
        }
        a.push("--enable-ipv6".into());
    }
    for (v, flag) in [
        (&o.outbound_addr, "--outbound-addr"),
        (&o.outbound_addr6, "--outbound-addr6"),
    ] {
        if let Some(v) = v {
            if !f.outbound {
                bail!("this slirp4netns does not support {flag}");
            }
            a.push(format!("{flag}={v}"));
        }
    }
    a.extend([
        "-c".into(),
        "-e".into(),
        exit.to_string(),
        "-r".into(),
        ready.to_string(),
    ]);
    if let Some(api) = api {
        a.push("--api-socket".into());
        a.push(api.to_string_lossy().into_owned());
    }
    a.push("--netns-type=path".into());
    a.push(netns.into());
    a.push("tap0".into());
    Ok(a)
}

/// Start slirp4netns for the network namespace of `pid` and publish `ports`.
/// On any error nothing is left running.
pub fn start(
    o: &SlirpOpts,
    bin: Option<&str>,
    pid: i32,
    run_dir: &Path,
    ports: &[PortMapping],
) -> Result<Helper> {
    let bin: PathBuf = match bin {
        Some(b) if !Path::new(b).is_file() => bail!(
            "slirp4netns not found at {b} (network_cmd_path in containers.conf): install the \"slirp4netns\" package or fix the path"
        ),
        Some(b) => PathBuf::from(b),
        None => helper::find_binary("slirp4netns", "slirp4netns")?,
    };
    helper::check_tun("slirp4netns")?;
    let hostfwd = !ports.is_empty() && o.port_handler == "slirp4netns";
    if hostfwd && ports.iter().any(|p| p.host_ip.contains(':')) && !o.enable_ipv6 {
        bail!("publishing on an IPv6 host address with port_handler=slirp4netns needs enable_ipv6=true");
    }
    let cache_dir = run_dir.parent().and_then(Path::parent).unwrap_or(run_dir);
    let feats = features(&bin, cache_dir)?;
    // The forwarder binds the host ports first: a taken one fails before
    // slirp4netns is even started.
    let mut fwd = if !ports.is_empty() && !hostfwd {
        Some(super::portfwd::start(
            pid,
            o.guest_ip().into(),
            ports,
            run_dir,
        )?)
    } else {
        None
    };
    let r = spawn(o, &bin, &feats, pid, run_dir, hostfwd);
    let (mut h, ready_r, api, log_path) = match r {
        Ok(x) => x,
        Err(e) => {
            if let Some(f) = &mut fwd {
                f.kill();
            }
            return Err(e);
        }
    };
    h.companions.extend(fwd);
    let r = (|| -> Result<()> {
        wait_ready(ready_r, &h, &log_path)?;
        if let Some(api) = &api {
            // Through the directory's fd, for the same 108-byte limit.
            let dir = std::fs::File::open(run_dir)
                .with_context(|| format!("opening {}", run_dir.display()))?;
            let short = PathBuf::from(format!("/proc/self/fd/{}/{API_SOCKET}", dir.as_raw_fd()));
            for m in ports {
                add_hostfwd(&short, api, m)?;
            }
        }
        Ok(())
    })();
    match r {
        Ok(()) => Ok(h),
        Err(e) => {
            h.kill();
            Err(e)
        }
    }
}

/// Start the process; returns it with the read end of its ready pipe, the
/// API socket (with `hostfwd`) and its log.
fn spawn(
    o: &SlirpOpts,
    bin: &Path,
    feats: &Features,
    pid: i32,
    run_dir: &Path,
    hostfwd: bool,
) -> Result<(Helper, OwnedFd, Option<PathBuf>, PathBuf)> {
    let (exit_r, exit_w) = helper::pipe()?;
    let (ready_r, ready_w) = helper::pipe()?;
    let api = hostfwd.then(|| run_dir.join(API_SOCKET));
    if let Some(a) = &api {
        let _ = std::fs::remove_file(a);
    }
    let netns = format!("/proc/{pid}/ns/net");
    // Relative to its working directory: a socket path is limited to 108
    // bytes, and the run dir's can be longer.
    let argv = args(
        o,
        feats,
        &netns,
        api.as_ref().map(|_| Path::new(API_SOCKET)),
        exit_r.as_raw_fd(),
        ready_w.as_raw_fd(),
    )?;
    let log_path = run_dir.join("slirp4netns.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    debug!("slirp4netns {}", argv.join(" "));
    let child = helper::spawn_with_fds(
        Command::new(bin)
            .args(&argv)
            .current_dir(run_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log),
        &[exit_r.as_fd(), ready_w.as_fd()],
    )
    .with_context(|| format!("starting {}", bin.display()))?;
    Ok((
        Helper::new(child, Some(exit_w), "slirp4netns"),
        ready_r,
        api,
        log_path,
    ))
}

fn wait_ready(ready: OwnedFd, h: &Helper, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut f = std::fs::File::from(ready);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "slirp4netns did not get ready within 10 s{}",
                helper::log_tail(log)
            );
        }
        let mut fds = [nix::poll::PollFd::new(
            f.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = left.as_millis().min(1000) as u16;
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e).context("waiting for slirp4netns"),
        }
        let mut b = [0u8; 1];
        return match f.read(&mut b) {
            Ok(1) => Ok(()),
            _ => {
                let status = h.wait_exited(Duration::from_millis(500));
                bail!("slirp4netns failed{}{}", status, helper::log_tail(log))
            }
        };
    }
}

/// Fail like rootlessport does when a host port is taken, naming it.
pub fn probe_port(m: &PortMapping, port: u16) -> Result<()> {
    let ip = if m.host_ip.is_empty() {
        "0.0.0.0"
    } else {
        &m.host_ip
    };
    let addr = std::net::SocketAddr::new(ip.parse().context("host ip")?, port);
    let r = if m.protocol == "udp" {
        std::net::UdpSocket::bind(addr).map(drop)
    } else {
        std::net::TcpListener::bind(addr).map(drop)
    };
    r.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (ports below net.ipv4.ip_unprivileged_port_start need root)"
                    .to_string()
            }
            _ => e.to_string(),
        };
        let shown = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        anyhow::anyhow!(
            "cannot publish port {port}/{}: listen {} {shown}:{port}: bind: {why}",
            m.protocol,
            m.protocol
        )
    })
}

fn add_hostfwd(api: &Path, shown: &Path, m: &PortMapping) -> Result<()> {
    for i in 0..m.range {
        let (hp, cp) = (m.host_port + i, m.container_port + i);
        probe_port(m, hp)?;
        let host_addr = if m.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &m.host_ip
        };
        let req = serde_json::json!({
            "execute": "add_hostfwd",
            "arguments": { "proto": m.protocol, "host_addr": host_addr, "host_port": hp, "guest_port": cp }
        });
        let mut s = std::os::unix::net::UnixStream::connect(api).with_context(|| {
            format!("connecting to slirp4netns's API socket {}", shown.display())
        })?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(format!("{req}\n").as_bytes())?;
        s.shutdown(std::net::Shutdown::Write)?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)
            .context("reading slirp4netns's API answer")?;
        let v: serde_json::Value = serde_json::from_str(resp.trim())
            .with_context(|| format!("slirp4netns's API answered {resp:?}"))?;
        if let Some(e) = v.get("error") {
            let desc = e.get("desc").and_then(|d| d.as_str()).unwrap_or("failed");
            bail!(
                "cannot publish port {hp}/{} on {host_addr} (container port {cp}): slirp4netns: {desc}",
                m.protocol
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = parse_opts(&[], &[]).unwrap();
        assert_eq!(o, SlirpOpts::default());
        assert_eq!(o.guest_ip(), Ipv4Addr::new(10, 0, 2, 100));
        assert_eq!(o.dns(), Ipv4Addr::new(10, 0, 2, 3));
        let o = parse_opts(
            &["mtu=1500".into()],
            &[
                "allow_host_loopback=true".into(),
                "cidr=10.5.3.7/24".into(),
                "enable_ipv6=true".into(),
            ],
        )
        .unwrap();
        assert!(o.allow_host_loopback && o.enable_ipv6);
        assert_eq!(o.mtu, 1500);
        assert_eq!(o.gateway(), Ipv4Addr::new(10, 5, 3, 2));
        assert_eq!(o.guest_ip(), Ipv4Addr::new(10, 5, 3, 100));
        for bad in [
            "mtu=5",
            "mtu=x",
            "cidr=10.0.0.0/30",
            "cidr=::1/64",
            "allow_host_loopback=yes",
            "nope=1",
            "nope",
            "port_handler=x",
        ] {
            assert!(parse_opts(&[], &[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_line_as_podman() {
        let f = Features::from_help(
            "--disable-host-loopback --mtu --enable-sandbox --enable-seccomp --cidr --enable-ipv6",
        );
        assert_eq!(Features::decode(&f.encode()), Some(f));
        let a = args(&SlirpOpts::default(), &f, "/proc/7/ns/net", None, 3, 4).unwrap();
        assert_eq!(
            a.join(" "),
            "--disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp -c -e 3 -r 4 --netns-type=path /proc/7/ns/net tap0"
        );
        let o = SlirpOpts {
            allow_host_loopback: true,
            ..Default::default()
        };
        let a = args(&o, &f, "/p", Some(Path::new("/s")), 5, 6).unwrap();
        assert!(!a.contains(&"--disable-host-loopback".to_string()));
        assert!(a.windows(2).any(|w| w[0] == "--api-socket" && w[1] == "/s"));
        let old = Features::from_help("--mtu");
        assert!(!args(&SlirpOpts::default(), &old, "/p", None, 3, 4)
            .unwrap()
            .contains(&"--enable-sandbox".to_string()));
        let v6 = SlirpOpts {
            enable_ipv6: true,
            ..Default::default()
        };
        assert!(args(&v6, &old, "/p", None, 3, 4).is_err());
    }

    #[test]
    fn taken_port_is_named() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let m = PortMapping {
            host_ip: "127.0.0.1".into(),
            host_port: port,
            container_port: 80,
            range: 1,
            protocol: "tcp".into(),
        };
        let e = probe_port(&m, port).unwrap_err().to_string();
        assert!(
            e.contains(&format!("127.0.0.1:{port}: bind: address already in use")),
            "{e}"
        );
    }
}
