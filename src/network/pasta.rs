//! `--network pasta[:ARGS]`: pasta (package `passt`) connects the
//! container's network namespace with the host's, copying the host's
//! addresses and routes; it forwards published ports itself, keeping the
//! client's source address.
//!
//! The arguments are podman's (4.4, where pasta arrived): `--config-net`,
//! `-t`/`-u` per published port, the user's arguments, `-t none -u none
//! -T none -U none` for the kinds the user did not set, `--no-map-gw`
//! unless `--map-gw`, then `--netns`. pasta forks into the background once
//! the namespace is configured; rpod adds `--pid` to know the daemon.

use super::helper::{self, Helper};
use super::ports::PortMapping;
use anyhow::{bail, Context, Result};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::process::{Command, Stdio};

/// pasta's command line for `netns` (without `--pid`).
pub fn args(user: &[String], ports: &[PortMapping], netns: &str) -> Result<Vec<String>> {
    let mut a = vec!["--config-net".to_string()];
    for m in ports {
        a.push(if m.protocol == "udp" { "-u" } else { "-t" }.into());
        let ip = if m.host_ip.is_empty() {
            String::new()
        } else {
            format!("{}/", m.host_ip)
        };
        a.push(format!(
            "{ip}{}-{}:{}-{}",
            m.host_port,
            m.host_port + m.range - 1,
            m.container_port,
            m.container_port + m.range - 1
        ));
    }
    let mut map_gw = false;
    for u in user {
        if u == "--map-gw" {
            // Not a pasta option: podman's way to drop --no-map-gw.
            map_gw = true;
            continue;
        }
        if matches!(
            u.as_str(),
            "--netns" | "--pid" | "-P" | "-f" | "--foreground"
        ) {
            bail!("pasta option {u:?} is set by rpod and can't be given in --network pasta:");
        }
        a.push(u.clone());
    }
    let has = |short: &str, long: &str| a.iter().any(|x| x == short || x == long);
    let mut extra = Vec::new();
    for (short, long) in [
        ("-t", "--tcp-ports"),
        ("-u", "--udp-ports"),
        ("-T", "--tcp-ns"),
        ("-U", "--udp-ns"),
    ] {
        if !has(short, long) {
            extra.push(short.to_string());
            extra.push("none".to_string());
        }
    }
    a.extend(extra);
    if !map_gw {
        a.push("--no-map-gw".into());
    }
    a.push("--netns".into());
    a.push(netns.into());
    Ok(a)
}

/// Start pasta for the network namespace of `pid`; returns once the
/// namespace is configured and the ports are bound.
pub fn start(user: &[String], pid: i32, run_dir: &Path, ports: &[PortMapping]) -> Result<Helper> {
    let bin = helper::find_binary("pasta", "passt")?;
    helper::check_tun("pasta")?;
    // pasta's own bind errors are terse: name a taken port first.
    for m in ports {
        for i in 0..m.range {
            super::slirp4netns::probe_port(m, m.host_port + i)?;
        }
    }
    let pid_file = run_dir.join("pasta.pid");
    let _ = std::fs::remove_file(&pid_file);
    // pasta drops capabilities before opening the namespace, which then
    // fails for /proc/PID (the container's init has more): hand it an fd.
    let ns_path = format!("/proc/{pid}/ns/net");
    let ns = std::fs::File::open(&ns_path).with_context(|| format!("opening {ns_path}"))?;
    let mut argv = args(user, ports, &format!("/proc/self/fd/{}", ns.as_raw_fd()))?;
    argv.insert(0, pid_file.to_string_lossy().into_owned());
    argv.insert(0, "--pid".into());
    let log_path = run_dir.join("pasta.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    debug!("pasta {}", argv.join(" "));
    // A log file, not a pipe: the daemon may keep its stdio open.
    let st = helper::spawn_with_fds(
        Command::new(&bin)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log),
        &[ns.as_fd()],
    )
    .with_context(|| format!("starting {}", bin.display()))?
    .wait()?;
    drop(ns);
    let daemon = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    if !st.success() {
        if let Some(p) = daemon {
            helper::stop(p, crate::sys::pidfd::start_time(p).unwrap_or(0));
        }
        bail!(
            "pasta failed with exit code {}{}",
            st.code().unwrap_or(-1),
            helper::log_tail(&log_path)
        );
    }
    let p = daemon
        .with_context(|| format!("pasta started but wrote no pid to {}", pid_file.display()))?;
    Ok(Helper::detached(p, "pasta"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_arguments() {
        let a = args(&[], &[], "/proc/1/ns/net").unwrap();
        assert_eq!(
            a.join(" "),
            "--config-net -t none -u none -T none -U none --no-map-gw --netns /proc/1/ns/net"
        );
        let ports = vec![
            PortMapping {
                host_ip: String::new(),
                host_port: 8080,
                container_port: 80,
                range: 1,
                protocol: "tcp".into(),
            },
            PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 5353,
                container_port: 53,
                range: 2,
                protocol: "udp".into(),
            },
        ];
        let a = args(
            &["--map-gw".into(), "-T".into(), "8000".into()],
            &ports,
            "/n",
        )
        .unwrap();
        assert_eq!(
            a.join(" "),
            "--config-net -t 8080-8080:80-80 -u 127.0.0.1/5353-5354:53-54 -T 8000 -U none --netns /n"
        );
        assert!(args(&["--netns".into()], &[], "/n").is_err());
    }
}
