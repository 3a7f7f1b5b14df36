//! `update`: change a container's resource limits (podman 4.3's flags) and
//! its restart policy. The limits are written into the container's bundle
//! (`config.json`'s `linux.resources`), which every later start uses, and
//! applied at once to a running container that has a cgroup of its own.
//! Where there is none (cgroup v1 or an undelegated v2: rootless podman
//! refuses `update` there) the values are kept and rpod warns that they
//! are not enforced, as `run --memory` does.

use super::record::{self, Paths, RestartPolicy};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// What to change (None or empty: leave it).
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// Memory plus swap; -1: unlimited.
    pub memory_swap: Option<i64>,
    /// 0..=100 (-1: the system's, i.e. unchanged).
    pub memory_swappiness: Option<i64>,
    pub cpus: Option<f64>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub blkio_weight: Option<u16>,
    /// DEVICE:WEIGHT.
    pub blkio_weight_device: Vec<String>,
    /// DEVICE:RATE (bytes per second, with units; or IO per second).
    pub device_read_bps: Vec<String>,
    pub device_write_bps: Vec<String>,
    pub device_read_iops: Vec<String>,
    pub device_write_iops: Vec<String>,
    /// A new restart policy.
    pub restart: Option<RestartPolicy>,
}

/// What `update` did.
#[derive(Debug, Clone)]
pub struct Updated {
    pub id: String,
    /// The limits changed (a restart policy alone changes none).
    pub limits: bool,
    /// Applied to the running container's cgroup now.
    pub enforced: bool,
}

/// A block device's major and minor numbers, for its throttle entries.
fn device_numbers(path: &str) -> Result<(i64, i64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(path).with_context(|| format!("looking at device {path}"))?;
    if !m.file_type().is_block_device() {
        bail!("{path} is not a block device");
    }
    let rdev = m.rdev();
    Ok((
        nix::sys::stat::major(rdev) as i64,
        nix::sys::stat::minor(rdev) as i64,
    ))
}

fn split_device<'a>(flag: &str, s: &'a str) -> Result<(&'a str, &'a str)> {
    s.rsplit_once(':')
        .filter(|(d, v)| d.starts_with('/') && !v.is_empty())
        .with_context(|| format!("invalid {flag} {s:?}: expected DEVICE:VALUE, e.g. /dev/sda:1mb"))
}

fn throttle(flag: &str, list: &[String], bytes: bool) -> Result<Vec<Value>> {
    list.iter()
        .map(|s| {
            let (dev, v) = split_device(flag, s)?;
            let rate: u64 = if bytes {
                let n = super::opts::parse_bytes(v)
                    .with_context(|| format!("invalid {flag} rate {v:?}"))?;
                u64::try_from(n).with_context(|| format!("invalid {flag} rate {v:?}"))?
            } else {
                v.parse()
                    .with_context(|| format!("invalid {flag} rate {v:?}: expected a number"))?
            };
            let (major, minor) = device_numbers(dev)?;
            Ok(json!({"major": major, "minor": minor, "rate": rate}))
        })
        .collect()
}

fn set(obj: &mut Value, path: &[&str], v: Value) {
    let mut cur = obj;
    for k in &path[..path.len() - 1] {
        if !cur.get(*k).is_some_and(Value::is_object) {
            cur[*k] = json!({});
        }
        cur = &mut cur[*k];
    }
    cur[path[path.len() - 1]] = v;
}

/// Fold the options into `resources` (the bundle's `linux.resources`).
/// Whether anything changed.
fn merge(res: &mut Value, o: &UpdateOptions) -> Result<bool> {
    if o.cpus.is_some() && (o.cpu_period.is_some() || o.cpu_quota.is_some()) {
        bail!("--cpus and --cpu-period/--cpu-quota cannot be set together");
    }
    if o.cpus.is_some_and(|c| c < 0.0) {
        bail!("invalid --cpus: it must be 0 or more");
    }
    if o.blkio_weight
        .is_some_and(|w| w != 0 && !(10..=1000).contains(&w))
    {
        bail!("invalid --blkio-weight: it must be between 10 and 1000");
    }
    if let Some(s) = o.memory_swappiness {
        if !(-1..=100).contains(&s) {
            bail!("invalid value: {s}, valid memory swappiness range is 0-100");
        }
    }
    if let (Some(m), Some(s)) = (o.memory, o.memory_swap) {
        if s != -1 && s < m {
            bail!("--memory-swap must be larger than or equal to --memory");
        }
    }
    let before = res.clone();
    if let Some(m) = o.memory {
        set(res, &["memory", "limit"], json!(m));
    }
    if let Some(m) = o.memory_reservation {
        set(res, &["memory", "reservation"], json!(m));
    }
    if let Some(m) = o.memory_swap {
        set(res, &["memory", "swap"], json!(m));
    }
    if let Some(s) = o.memory_swappiness.filter(|s| *s >= 0) {
        set(res, &["memory", "swappiness"], json!(s));
    }
    if let Some(c) = o.cpus {
        let period = 100_000u64;
        set(res, &["cpu", "period"], json!(period));
        set(
            res,
            &["cpu", "quota"],
            json!((c * period as f64).round() as i64),
        );
    }
    if let Some(p) = o.cpu_period {
        set(res, &["cpu", "period"], json!(p));
    }
    if let Some(q) = o.cpu_quota {
        set(res, &["cpu", "quota"], json!(q));
    }
    if let Some(s) = o.cpu_shares {
        set(res, &["cpu", "shares"], json!(s));
    }
    if let Some(p) = o.cpu_rt_period {
        set(res, &["cpu", "realtimePeriod"], json!(p));
    }
    if let Some(r) = o.cpu_rt_runtime {
        set(res, &["cpu", "realtimeRuntime"], json!(r));
    }
    if let Some(c) = &o.cpuset_cpus {
        set(res, &["cpu", "cpus"], json!(c));
    }
    if let Some(m) = &o.cpuset_mems {
        set(res, &["cpu", "mems"], json!(m));
    }
    if let Some(w) = o.blkio_weight {
        set(res, &["blockIO", "weight"], json!(w));
    }
    if !o.blkio_weight_device.is_empty() {
        let devs: Vec<Value> = o
            .blkio_weight_device
            .iter()
            .map(|s| {
                let (dev, w) = split_device("--blkio-weight-device", s)?;
                let w: u16 = w
                    .parse()
                    .ok()
                    .filter(|w| (10..=1000).contains(w))
                    .with_context(|| {
                        format!("invalid --blkio-weight-device weight {w:?}: between 10 and 1000")
                    })?;
                let (major, minor) = device_numbers(dev)?;
                Ok(json!({"major": major, "minor": minor, "weight": w}))
            })
            .collect::<Result<_>>()?;
        set(res, &["blockIO", "weightDevice"], json!(devs));
    }
    for (flag, list, key, bytes) in [
        (
            "--device-read-bps",
            &o.device_read_bps,
            "throttleReadBpsDevice",
            true,
        ),
        (
            "--device-write-bps",
            &o.device_write_bps,
            "throttleWriteBpsDevice",
            true,
        ),
        (
            "--device-read-iops",
            &o.device_read_iops,
            "throttleReadIOPSDevice",
            false,
        ),
        (
            "--device-write-iops",
            &o.device_write_iops,
            "throttleWriteIOPSDevice",
            false,
        ),
    ] {
        if !list.is_empty() {
            set(res, &["blockIO", key], json!(throttle(flag, list, bytes)?));
        }
    }
    Ok(*res != before)
}

/// The resources recorded in the container's bundle (null: none).
pub fn resources(paths: &Paths, id: &str) -> Value {
    std::fs::read(paths.ctr_dir(id).join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.pointer("/linux/resources").cloned())
        .unwrap_or(Value::Null)
}

/// Update container `name`. The new limits are kept in its bundle under its
/// lock, then applied to its cgroup when it runs and has one; otherwise
/// rpod warns once that they are not enforced.
pub fn update(paths: &Paths, name: &str, o: &UpdateOptions) -> Result<Updated> {
    let id = record::resolve(paths, name)?;
    let _l = record::lock_existing(paths, &id)?;
    let cfg_path = paths.ctr_dir(&id).join("config.json");
    let mut spec: Value = serde_json::from_slice(
        &std::fs::read(&cfg_path).with_context(|| format!("reading {}", cfg_path.display()))?,
    )
    .with_context(|| format!("parsing {}", cfg_path.display()))?;
    let mut res = spec
        .pointer("/linux/resources")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let limits = merge(&mut res, o)?;
    let mut enforced = false;
    if limits {
        let typed: oci_spec::runtime::LinuxResources = serde_json::from_value(res.clone())
            .context("the updated resources are not a valid OCI linux.resources")?;
        set(&mut spec, &["linux", "resources"], res);
        record::write_atomic(&cfg_path, &serde_json::to_vec_pretty(&spec)?, true)
            .with_context(|| format!("updating container {name}"))?;
        let st = record::observe_locked(paths, &id);
        if st.is_running() {
            let state_root = paths.run_dir(&id).join("runtime");
            match crate::runtime::update(&state_root, &id, &typed) {
                Ok(()) => enforced = true,
                Err(e) => warn!(
                    "resource limits are recorded but not enforced for container {name}: {e:#}"
                ),
            }
        } else if let crate::runtime::cgroups::Support::Unsupported(why) =
            crate::runtime::cgroups::detect()
        {
            warn!("resource limits are recorded but will not be enforced when container {name} starts: {why}");
        }
    }
    if let Some(p) = o.restart {
        set_restart(paths, &id, p)?;
    }
    Ok(Updated {
        id,
        limits,
        enforced,
    })
}

/// A new restart policy: the monitor reads it when the container next exits.
fn set_restart(paths: &Paths, id: &str, p: RestartPolicy) -> Result<()> {
    let mut rec = record::load(paths, id)?;
    rec.restart_policy = p.name().to_string();
    rec.restart_retries = match p {
        RestartPolicy::OnFailure(n) => n,
        _ => 0,
    };
    record::save(paths, &rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_into_oci_resources() {
        let mut r = json!({"pids": {"limit": 5}});
        let o = UpdateOptions {
            memory: Some(64 << 20),
            cpus: Some(1.5),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            blkio_weight: Some(300),
            memory_swappiness: Some(-1),
            ..Default::default()
        };
        assert!(merge(&mut r, &o).unwrap());
        assert_eq!(r["memory"]["limit"], 64 << 20);
        assert!(r["memory"].get("swappiness").is_none());
        assert_eq!(r["cpu"]["quota"], 150_000);
        assert_eq!(r["cpu"]["period"], 100_000);
        assert_eq!(r["cpu"]["shares"], 512);
        assert_eq!(r["cpu"]["cpus"], "0");
        assert_eq!(r["blockIO"]["weight"], 300);
        assert_eq!(r["pids"]["limit"], 5, "what is not asked for stays");
        let typed: oci_spec::runtime::LinuxResources = serde_json::from_value(r.clone()).unwrap();
        assert_eq!(typed.memory().unwrap().limit(), Some(64 << 20));
        // Nothing asked: nothing changes.
        assert!(!merge(&mut r, &UpdateOptions::default()).unwrap());
        let e = |o: UpdateOptions| merge(&mut json!({}), &o).unwrap_err().to_string();
        assert!(e(UpdateOptions {
            cpus: Some(1.0),
            cpu_quota: Some(1),
            ..Default::default()
        })
        .contains("cannot be set together"));
        assert!(e(UpdateOptions {
            blkio_weight: Some(5),
            ..Default::default()
        })
        .contains("between 10 and 1000"));
        assert!(e(UpdateOptions {
            memory_swappiness: Some(101),
            ..Default::default()
        })
        .contains("swappiness"));
        assert!(e(UpdateOptions {
            device_read_bps: vec!["sda:1mb".into()],
            ..Default::default()
        })
        .contains("DEVICE:VALUE"));
    }
}
