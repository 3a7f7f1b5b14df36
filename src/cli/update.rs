//! `update`, `container update`: podman 4.3's resource flags (and
//! `--restart`), mapped onto `container::update`. Prints the container's id.

use super::GlobalOpts;
use crate::container::record::{Paths, RestartPolicy};
use crate::container::update::{self, UpdateOptions};
use anyhow::Result;
use clap::Args;
use std::io::Write;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Block IO weight (relative weight): 10 to 1000
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    /// Block IO weight of a device (relative device weight)
    #[arg(long, value_name = "DEVICE_NAME:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_period: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "MICROSECONDS", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_rt_period: Option<u64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long, value_name = "MICROSECONDS", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// Number of CPUs (0: no limit)
    #[arg(long, value_name = "N")]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "NODES")]
    pub cpuset_mems: Option<String>,
    /// Limit read rate (bytes per second) from a device (e.g. /dev/sda:1mb)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device (e.g. /dev/sda:1000)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (bytes per second) to a device (e.g. /dev/sda:1mb)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_bps: Vec<String>,
    /// Limit write rate (IO per second) to a device (e.g. /dev/sda:1000)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_iops: Vec<String>,
    /// Memory limit: NUMBER[UNIT], unit b, k, m or g
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Memory soft limit: NUMBER[UNIT]
    #[arg(long, value_name = "SIZE")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 for unlimited swap
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory swappiness: 0 to 100, or -1 for the system's default
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub memory_swappiness: Option<i64>,
    /// A new restart policy: no, on-failure[:MAX], always, unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// The container (name or id)
    pub container: String,
}

fn bytes(s: &Option<String>) -> Result<Option<i64>> {
    s.as_deref()
        .map(|v| {
            if v == "-1" {
                Ok(-1)
            } else {
                crate::container::opts::parse_bytes(v)
            }
        })
        .transpose()
}

pub fn update_cmd(g: &GlobalOpts, a: &UpdateArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    let o = UpdateOptions {
        memory: bytes(&a.memory)?,
        memory_reservation: bytes(&a.memory_reservation)?,
        memory_swap: bytes(&a.memory_swap)?,
        memory_swappiness: a.memory_swappiness,
        cpus: a.cpus,
        cpu_period: a.cpu_period,
        cpu_quota: a.cpu_quota,
        cpu_shares: a.cpu_shares,
        cpu_rt_period: a.cpu_rt_period,
        cpu_rt_runtime: a.cpu_rt_runtime,
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
        blkio_weight: a.blkio_weight,
        blkio_weight_device: a.blkio_weight_device.clone(),
        device_read_bps: a.device_read_bps.clone(),
        device_write_bps: a.device_write_bps.clone(),
        device_read_iops: a.device_read_iops.clone(),
        device_write_iops: a.device_write_iops.clone(),
        restart: a.restart.as_deref().map(RestartPolicy::parse).transpose()?,
    };
    let u = update::update(&paths, &a.container, &o)?;
    writeln!(std::io::stdout().lock(), "{}", u.id)?;
    Ok(())
}
