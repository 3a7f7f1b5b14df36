//! `update`, `container update`: podman 4.3's resource flags (and
//! `--restart`), mapped onto `container::update`. Prints the container's id.

use super::container::{IopsOpts, ResourceOpts};
use super::GlobalOpts;
use crate::container::record::{Paths, RestartPolicy};
use crate::container::update::{self, UpdateOptions};
use anyhow::Result;
use clap::Args;
use std::io::Write;

/// podman 4.3's `update` flags: run's resource flags, one definition
/// (`ResourceOpts`, `IopsOpts`), and rpod's `--restart`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub res: ResourceOpts,
    #[command(flatten)]
    pub iops: IopsOpts,
    /// A new restart policy: no, on-failure[:MAX], always, unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// The container (name or id)
    #[arg(value_name = "CONTAINER")]
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
    let (r, i) = (&a.res, &a.iops);
    let o = UpdateOptions {
        memory: bytes(&r.memory)?,
        memory_reservation: bytes(&r.memory_reservation)?,
        memory_swap: bytes(&r.memory_swap)?,
        memory_swappiness: r.memory_swappiness,
        cpus: r.cpus,
        cpu_period: r.cpu_period,
        cpu_quota: r.cpu_quota,
        cpu_shares: r.cpu_shares,
        cpu_rt_period: r.cpu_rt_period,
        cpu_rt_runtime: r.cpu_rt_runtime,
        cpuset_cpus: r.cpuset_cpus.clone(),
        cpuset_mems: r.cpuset_mems.clone(),
        blkio_weight: r.blkio_weight,
        blkio_weight_device: r.blkio_weight_device.clone(),
        device_read_bps: r.device_read_bps.clone(),
        device_write_bps: r.device_write_bps.clone(),
        device_read_iops: i.device_read_iops.clone(),
        device_write_iops: i.device_write_iops.clone(),
        restart: a.restart.as_deref().map(RestartPolicy::parse).transpose()?,
    };
    let u = update::update(&paths, &a.container, &o)?;
    writeln!(std::io::stdout().lock(), "{}", u.id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// update's resource flags are run's (one definition): the same
    /// names, value names and help in both commands' --help, and podman
    /// 4.3's update flags are all there.
    #[test]
    fn update_and_run_share_their_resource_flags() {
        let cli = super::super::Cli::command();
        let run = cli.find_subcommand("run").unwrap();
        let update = cli.find_subcommand("update").unwrap();
        let of = |c: &clap::Command, long: &str| {
            let a = c
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .unwrap_or_else(|| panic!("{} has no --{long}", c.get_name()));
            (
                a.get_short(),
                a.get_value_names().map(|v| v.to_vec()),
                a.get_help().map(|h| h.to_string()),
            )
        };
        // `podman update --help`, podman 4.3.1.
        for long in [
            "blkio-weight",
            "blkio-weight-device",
            "cpu-period",
            "cpu-quota",
            "cpu-rt-period",
            "cpu-rt-runtime",
            "cpu-shares",
            "cpus",
            "cpuset-cpus",
            "cpuset-mems",
            "device-read-bps",
            "device-read-iops",
            "device-write-bps",
            "device-write-iops",
            "memory",
            "memory-reservation",
            "memory-swap",
            "memory-swappiness",
        ] {
            assert_eq!(of(run, long), of(update, long), "--{long}");
        }
        assert_eq!(
            of(update, "memory").2.as_deref(),
            Some(
                "Memory limit (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), \
                 m (mebibytes), or g (gibibytes))"
            )
        );
    }
}
