//! containers.conf's container defaults under `run` and `create` flags, as
//! podman takes its flag defaults from containers.conf: a flag given on
//! the command line wins; a list from the file comes before the flags'
//! entries, so the flags' later ones override it.

use super::container::ContainerOpts;
use crate::conf::Defaults;
use std::path::PathBuf;

pub(super) fn apply(o: &ContainerOpts, d: &Defaults) -> ContainerOpts {
    let mut o = o.clone();
    let c = &d.containers;
    let before = |v: &mut Vec<String>, first: &Option<Vec<String>>| {
        if let Some(f) = first {
            let mut n = f.clone();
            n.append(v);
            *v = n;
        }
    };
    before(&mut o.volume, &c.volumes);
    before(&mut o.mount, &c.mounts);
    before(&mut o.ulimit, &c.default_ulimits);
    before(&mut o.more.device, &c.devices);
    before(&mut o.more.annotation, &c.annotations);
    // podman 4.3 keeps the file's DNS servers beside --dns ones.
    before(&mut o.dns, &c.dns_servers);
    before(&mut o.dns_search, &c.dns_searches);
    before(&mut o.dns_option, &c.dns_options);
    // Booleans: the file can turn on what the flag would (and
    // --init=false / --read-only=false turn it off again).
    o.env_host |= c.env_host == Some(true);
    o.init = o.init.or(c.init);
    o.read_only = o.read_only.or(c.read_only);
    o.more.no_hosts |= c.no_hosts == Some(true);
    let m = &mut o.more;
    m.init_path = m
        .init_path
        .take()
        .or_else(|| c.init_path.clone().map(PathBuf::from));
    m.ipc = m.ipc.take().or_else(|| ns(&c.ipcns));
    m.pid = m.pid.take().or_else(|| ns(&c.pidns));
    m.uts = m.uts.take().or_else(|| ns(&c.utsns));
    m.cgroupns = m.cgroupns.take().or_else(|| ns(&c.cgroupns));
    m.log_driver = m.log_driver.take().or_else(|| c.log_driver.clone());
    m.oom_score_adj = m.oom_score_adj.or(c.oom_score_adj);
    m.shm_size = m.shm_size.take().or_else(|| c.shm_size.clone());
    m.tz =
        m.tz.take()
            .or_else(|| c.tz.clone().filter(|t| !t.is_empty()));
    m.umask = m.umask.take().or_else(|| c.umask.clone());
    let mut log_opts = Vec::new();
    // log_size_max: -1 (podman's default) is no limit.
    if let Some(n) = c.log_size_max.filter(|n| *n > 0) {
        log_opts.push(format!("max-size={n}"));
    }
    if let Some(t) = c.log_tag.as_ref().filter(|t| !t.is_empty()) {
        log_opts.push(format!("tag={t}"));
    }
    log_opts.append(&mut m.run2.log_opt);
    m.run2.log_opt = log_opts;
    o.userns = o
        .userns
        .take()
        .or_else(|| c.userns.clone().filter(|u| !u.is_empty()));
    // pids_limit: 0 and -1 are no limit.
    o.pids_limit = o.pids_limit.or(c.pids_limit.filter(|n| *n > 0));
    if let Some(p) = c.seccomp_profile.as_ref().filter(|p| !p.is_empty()) {
        if !o.security_opt.iter().any(|s| s.starts_with("seccomp")) {
            o.security_opt.insert(0, format!("seccomp={p}"));
        }
    }
    o.stop_timeout = o.stop_timeout.or(d.engine.stop_timeout);
    o
}

/// A namespace key: "" leaves the flag's default.
fn ns(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::{Containers, Engine};

    #[test]
    fn flags_win_and_lists_come_first() {
        let d = Defaults {
            containers: Containers {
                volumes: Some(vec!["/conf:/conf".into()]),
                dns_servers: Some(vec!["10.0.0.1".into()]),
                init: Some(true),
                tz: Some("UTC".into()),
                log_size_max: Some(2048),
                log_tag: Some("ctag".into()),
                pids_limit: Some(-1),
                ..Default::default()
            },
            engine: Engine {
                stop_timeout: Some(3),
            },
        };
        let mut o = ContainerOpts {
            volume: vec!["/mine:/mine".into()],
            dns: vec!["10.0.0.2".into()],
            stop_timeout: Some(7),
            ..Default::default()
        };
        o.more.run2.log_opt = vec!["tag=mine".into()];
        let a = apply(&o, &d);
        assert_eq!(a.volume, ["/conf:/conf", "/mine:/mine"]);
        assert_eq!(a.dns, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(a.init, Some(true));
        assert_eq!(a.more.tz.as_deref(), Some("UTC"));
        assert_eq!(
            a.more.run2.log_opt,
            ["max-size=2048", "tag=ctag", "tag=mine"]
        );
        assert_eq!(a.pids_limit, None);
        assert_eq!(a.stop_timeout, Some(7));
        let a = apply(&ContainerOpts::default(), &d);
        assert_eq!(a.stop_timeout, Some(3));
        assert_eq!(a.dns, ["10.0.0.1"]);
    }
}
