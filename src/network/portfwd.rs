//! rpod's own port forwarder for slirp4netns containers, in the role of
//! podman's rootlessport (the default `port_handler=rootlesskit`).
//!
//! The monitor binds every published host port itself, so a taken port is
//! an error naming it before the container starts, then passes the
//! listeners to `rpod __portfwd`, which enters the container's network
//! namespace: every socket it creates from then on is inside, while the
//! inherited listeners stay on the host. TCP is moved with splice(2)
//! (no copy through user space); UDP gets one socket per client, dropped
//! after a minute of silence. It exits when the monitor's end of its exit
//! pipe closes, and is recorded in the container's state like slirp4netns.
//!
//! Compared with slirp4netns's own `add_hostfwd` this is much faster, and
//! UDP replies work with `--disable-host-loopback` (slirp drops them).

use super::helper::{self, Helper};
use super::ports::PortMapping;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A UDP client's session ends after this much silence (rootlessport: 60 s).
const UDP_IDLE: Duration = Duration::from_secs(60);
const THREAD_STACK: usize = 128 * 1024;

const ARGV1: &str = "__portfwd";

/// `rpod __portfwd --netns PATH --target IP --exit-fd N --ready-fd N
/// [--map FD:PROTO:PORT]...`, written by [`start`] only.
#[derive(Debug, Default)]
pub struct PortFwdArgs {
    /// The network namespace to connect in (/proc/PID/ns/net).
    pub netns: String,
    /// The container address to connect to.
    pub target: Option<IpAddr>,
    /// Quit when this inherited fd reaches end of file.
    pub exit_fd: i32,
    /// Write one byte to this inherited fd once ready.
    pub ready_fd: i32,
    /// FD:PROTO:CONTAINER_PORT for each inherited listening socket.
    pub maps: Vec<String>,
}

impl PortFwdArgs {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<PortFwdArgs> {
        let mut a = PortFwdArgs::default();
        while let Some(k) = args.next() {
            let v = args
                .next()
                .with_context(|| format!("__portfwd: {k} needs a value"))?;
            match k.as_str() {
                "--netns" => a.netns = v,
                "--target" => a.target = Some(v.parse().context("__portfwd --target")?),
                "--exit-fd" => a.exit_fd = v.parse().context("__portfwd --exit-fd")?,
                "--ready-fd" => a.ready_fd = v.parse().context("__portfwd --ready-fd")?,
                "--map" => a.maps.push(v),
                _ => bail!("__portfwd: unknown argument {k:?}"),
            }
        }
        if a.netns.is_empty() || a.target.is_none() {
            bail!("__portfwd needs --netns and --target");
        }
        Ok(a)
    }
}

/// The forwarder's entry, checked before clap: parsing rpod's whole
/// command line would cost more memory than the forwarder itself.
pub fn from_argv() -> Option<Result<()>> {
    let mut args = std::env::args();
    args.next();
    if args.next()? != ARGV1 {
        return None;
    }
    let r = PortFwdArgs::parse(args).and_then(main);
    if let Err(e) = &r {
        eprintln!("portfwd: {e:#}");
    }
    Some(r)
}

fn host_addr(m: &PortMapping, port: u16) -> Result<SocketAddr> {
    let ip = if m.host_ip.is_empty() {
        "0.0.0.0"
    } else {
        &m.host_ip
    };
    Ok(SocketAddr::new(ip.parse().context("host ip")?, port))
}

/// podman's wording (rootlessport's), naming the port.
fn bind_error(proto: &str, addr: &SocketAddr, e: &std::io::Error) -> anyhow::Error {
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below net.ipv4.ip_unprivileged_port_start need root)".into()
        }
        _ => e.to_string(),
    };
    anyhow::anyhow!("rootlessport listen {proto} {addr}: bind: {why}")
}

/// Bind the host side of `maps` and start the forwarder into the network
/// namespace of `pid`, connecting to `target` there.
pub fn start(pid: i32, target: IpAddr, maps: &[PortMapping], run_dir: &Path) -> Result<Helper> {
    let fds = bind(maps)?;
    spawn(pid, target, fds, run_dir)
}

/// Host listeners bound by [`bind`], for [`spawn`]: (socket, protocol,
/// container port).
pub type Bound = Vec<(OwnedFd, String, u16)>;

/// Bind every published host port in the caller's network namespace (a
/// taken port is an error naming it). Split from [`spawn`] for bridge
/// containers, whose monitor binds on the host, then moves into the
/// rootless network namespace before the container's address is known.
pub fn bind(maps: &[PortMapping]) -> Result<Bound> {
    let mut fds: Bound = Vec::new();
    for m in maps {
        for i in 0..m.range {
            let addr = host_addr(m, m.host_port + i)?;
            let fd: OwnedFd = if m.protocol == "udp" {
                UdpSocket::bind(addr)
                    .map_err(|e| bind_error("udp", &addr, &e))?
                    .into()
            } else {
                TcpListener::bind(addr)
                    .map_err(|e| bind_error("tcp", &addr, &e))?
                    .into()
            };
            fds.push((fd, m.protocol.clone(), m.container_port + i));
        }
    }
    Ok(fds)
}

/// Start the forwarder for listeners from [`bind`]: it enters the network
/// namespace of `pid` and connects to `target` there.
pub fn spawn(pid: i32, target: IpAddr, fds: Bound, run_dir: &Path) -> Result<Helper> {
    let (exit_r, exit_w) = helper::pipe()?;
    let (ready_r, ready_w) = helper::pipe()?;
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg(ARGV1)
        .arg("--netns")
        .arg(format!("/proc/{pid}/ns/net"))
        .arg("--target")
        .arg(target.to_string())
        .arg("--exit-fd")
        .arg(exit_r.as_raw_fd().to_string())
        .arg("--ready-fd")
        .arg(ready_w.as_raw_fd().to_string());
    for (fd, proto, port) in &fds {
        cmd.arg("--map")
            .arg(format!("{}:{proto}:{port}", fd.as_raw_fd()));
    }
    let log_path = run_dir.join("portfwd.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut pass: Vec<std::os::fd::BorrowedFd> = vec![exit_r.as_fd(), ready_w.as_fd()];
    pass.extend(fds.iter().map(|(f, _, _)| f.as_fd()));
    let child =
        helper::spawn_with_fds(&mut cmd, &pass).context("starting rpod's port forwarder")?;
    drop(pass);
    drop(fds);
    drop(exit_r);
    drop(ready_w);
    let mut h = Helper::new(child, Some(exit_w), "rootlessport");
    let mut ready = std::fs::File::from(ready_r);
    let mut b = [0u8; 1];
    // The forwarder only enters a namespace and spawns threads: quick, or broken.
    match ready.read(&mut b) {
        Ok(1) => Ok(h),
        _ => {
            let why = h.wait_exited(Duration::from_millis(500));
            h.kill();
            bail!(
                "rpod's port forwarder failed{why}{}",
                helper::log_tail(&log_path)
            )
        }
    }
}

/// `rpod __portfwd`: the forwarder process.
pub fn main(a: PortFwdArgs) -> Result<()> {
    let exit = crate::sys::netfd::inherited(a.exit_fd).context("the exit fd")?;
    let ready = crate::sys::netfd::inherited(a.ready_fd).context("the ready fd")?;
    let mut listeners = Vec::new();
    for m in &a.maps {
        let mut it = m.splitn(3, ':');
        let (Some(fd), Some(proto), Some(port)) = (it.next(), it.next(), it.next()) else {
            bail!("invalid --map {m:?}: expected FD:PROTO:PORT");
        };
        let fd = crate::sys::netfd::inherited(fd.parse().context("--map fd")?)
            .with_context(|| format!("--map {m}"))?;
        let port: u16 = port.parse().context("--map port")?;
        let target = a.target.context("__portfwd --target")?;
        listeners.push((fd, proto.to_string(), SocketAddr::new(target, port)));
    }
    let ns = std::fs::File::open(&a.netns).with_context(|| format!("opening {}", a.netns))?;
    nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering the network namespace {}", a.netns))?;
    drop(ns);
    for (fd, proto, target) in listeners {
        let b = std::thread::Builder::new().stack_size(THREAD_STACK);
        if proto == "udp" {
            let sock = Arc::new(UdpSocket::from(fd));
            b.spawn(move || udp_loop(sock, target))?;
        } else {
            let l = TcpListener::from(fd);
            b.spawn(move || tcp_loop(l, target))?;
        }
    }
    std::fs::File::from(ready).write_all(b"1")?;
    // Until the monitor's end closes (it exited, or stopped the container).
    let mut exit = std::fs::File::from(exit);
    let mut b = [0u8; 16];
    while let Ok(n) = exit.read(&mut b) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}

fn tcp_loop(l: TcpListener, target: SocketAddr) {
    loop {
        match l.accept() {
            Ok((client, _)) => {
                let _ = std::thread::Builder::new()
                    .stack_size(THREAD_STACK)
                    .spawn(move || tcp_conn(client, target));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("portfwd: accept on {target}: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn tcp_conn(client: TcpStream, target: SocketAddr) {
    let server = match TcpStream::connect_timeout(&target, Duration::from_secs(10)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portfwd: connecting to {target}: {e}");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let back = std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(move || pump(&s2, &c2));
    pump(&client, &server);
    if let Ok(h) = back {
        let _ = h.join();
    }
}

/// Copy `from` to `to` until end of input, then pass the end on.
///
/// Not `sys::pump`: that one is a terminal session (raw mode, window sizes,
/// detach keys, signals) polled on one thread; this moves one direction of
/// a socket pair with blocking splice(2) on a thread of its own, and its
/// half-close is a TCP shutdown, which a terminal has no counterpart for.
fn pump(from: &TcpStream, to: &TcpStream) {
    if splice_pump(from, to).is_err() {
        // splice refused (or the peer reset): try plain copies once more,
        // which also reports a reset the same way.
        let _ = copy_pump(from, to);
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
    let _ = from.shutdown(std::net::Shutdown::Read);
}

fn splice_pump(from: &TcpStream, to: &TcpStream) -> std::io::Result<()> {
    use crate::sys::netfd::splice;
    let (pr, pw) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let _ = nix::fcntl::fcntl(pw.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
    loop {
        let n = splice(from.as_fd(), pw.as_fd(), 1 << 20)?;
        if n == 0 {
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            let m = splice(pr.as_fd(), to.as_fd(), left)?;
            if m == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            left -= m;
        }
    }
}

fn copy_pump(mut from: &TcpStream, mut to: &TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

type Sessions = Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>;

fn udp_loop(host: Arc<UdpSocket>, target: SocketAddr) {
    let sessions: Sessions = Arc::new(Mutex::new(HashMap::new()));
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, client) = match host.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("portfwd: udp receive: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let existing = sessions.lock().unwrap().get(&client).cloned();
        let sock = match existing {
            Some(s) => s,
            None => match udp_session(&host, target, client, &sessions) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("portfwd: udp session for {client}: {e}");
                    continue;
                }
            },
        };
        let _ = sock.send(&buf[..n]);
    }
}

/// A socket in the container for one client, and a thread that carries
/// the container's replies back to it.
fn udp_session(
    host: &Arc<UdpSocket>,
    target: SocketAddr,
    client: SocketAddr,
    sessions: &Sessions,
) -> std::io::Result<Arc<UdpSocket>> {
    let any: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let s = UdpSocket::bind(any)?;
    s.connect(target)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let s = Arc::new(s);
    sessions.lock().unwrap().insert(client, s.clone());
    let (host, s2, sessions) = (host.clone(), s.clone(), sessions.clone());
    std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut last = Instant::now();
            loop {
                match s2.recv(&mut buf) {
                    Ok(n) => {
                        last = Instant::now();
                        let _ = host.send_to(&buf[..n], client);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        if last.elapsed() >= UDP_IDLE {
                            break;
                        }
                    }
                    // ICMP port unreachable from the container: keep the session.
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            sessions.lock().unwrap().remove(&client);
        })?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() {
        let argv = [
            "--netns",
            "/proc/7/ns/net",
            "--target",
            "10.0.2.100",
            "--exit-fd",
            "5",
            "--ready-fd",
            "6",
            "--map",
            "7:tcp:80",
            "--map",
            "8:udp:53",
        ];
        let a = PortFwdArgs::parse(argv.iter().map(|s| s.to_string())).unwrap();
        assert_eq!(a.netns, "/proc/7/ns/net");
        assert_eq!(a.target, Some("10.0.2.100".parse().unwrap()));
        assert_eq!((a.exit_fd, a.ready_fd), (5, 6));
        assert_eq!(a.maps, vec!["7:tcp:80", "8:udp:53"]);
        assert!(PortFwdArgs::parse(["--netns".to_string()].into_iter()).is_err());
        assert!(PortFwdArgs::parse(["--bogus".to_string(), "1".to_string()].into_iter()).is_err());
        assert!(PortFwdArgs::parse(std::iter::empty()).is_err());
    }

    #[test]
    fn a_taken_port_is_named_like_rootlessport() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let m = PortMapping {
            host_ip: "127.0.0.1".into(),
            host_port: port,
            container_port: 80,
            range: 1,
            protocol: "tcp".into(),
        };
        let e = start(
            1,
            "10.0.2.100".parse().unwrap(),
            &[m],
            Path::new("/nonexistent"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!("rootlessport listen tcp 127.0.0.1:{port}: bind: address already in use")
        );
    }
}
