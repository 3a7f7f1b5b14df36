//! `inspect` for containers: podman's JSON shape (the fields people script
//! against), plus the OCI spec path. Printing it (JSON, templates) is the
//! CLI's (`cli::ctr_views`).

use super::record::{self, ContainerRecord, Paths, State};
use super::time;
use anyhow::Result;
use serde_json::{json, Value};

const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn ts(ns: i64) -> String {
    if ns > 0 {
        time::rfc3339_nano(ns)
    } else {
        GO_ZERO_TIME.into()
    }
}

/// One field of the container's config.json (`--annotation`, `--umask`).
fn spec_field(dir: &std::path::Path, pointer: &str) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.pointer(pointer).cloned()
}

/// podman's inspect object for one container.
pub fn container_json(paths: &Paths, rec: &ContainerRecord, st: &State) -> Value {
    let dir = paths.ctr_dir(&rec.id);
    let x = &rec.extras;
    let running = st.is_running();
    let paused = st.is_paused();
    let binds: Vec<String> = rec
        .mounts
        .iter()
        .filter(|m| m.kind == "bind" || m.kind == "volume")
        .map(|m| {
            format!(
                "{}:{}:{}",
                if m.kind == "volume" {
                    &m.name
                } else {
                    &m.source
                },
                m.destination,
                if m.rw { "rw" } else { "ro" }
            )
        })
        .collect();
    let tmpfs: serde_json::Map<String, Value> = rec
        .mounts
        .iter()
        .filter(|m| m.kind == "tmpfs")
        .map(|m| (m.destination.clone(), json!(m.options.join(","))))
        .collect();
    let mounts: Vec<Value> = rec
        .mounts
        .iter()
        .map(|m| {
            let mut v = json!({
                "Type": m.kind, "Source": m.source, "Destination": m.destination,
                "Driver": "", "Mode": "", "Options": m.options, "RW": m.rw, "Propagation": "rprivate",
            });
            if m.kind == "volume" {
                v["Name"] = json!(m.name);
                v["Driver"] = json!("local");
            }
            v
        })
        .collect();
    let path = rec.command.first().cloned().unwrap_or_default();
    let args: Vec<String> = rec.command.iter().skip(1).cloned().collect();
    let mut state_v = json!({
        "OciVersion": "1.0.2-dev",
        "Status": st.status.as_str(),
        "Running": st.program_runs() && !paused,
        "Paused": paused,
        // Exited, and its monitor waits to restart it (see `monitor`).
        "Restarting": st.status == record::Status::Exited && st.monitor_alive(),
        "OOMKilled": false,
        "Dead": false,
        "Pid": if running { st.pid } else { 0 },
        "ConmonPid": if running { st.monitor_pid } else { 0 },
        "ExitCode": st.exit_code,
        "Error": st.error,
        "StartedAt": ts(st.started_at),
        "FinishedAt": ts(st.finished_at),
        "CheckpointedAt": GO_ZERO_TIME,
        "RestoredAt": GO_ZERO_TIME,
    });
    // A healthcheck's record: podman 4.3 shows it as both.
    if rec.healthcheck.is_some() {
        let h = json!(super::health::load(paths, &rec.id).unwrap_or_default());
        state_v["Health"] = h.clone();
        state_v["Healthcheck"] = h;
    }
    let mut config_v = json!({
        "Hostname": rec.hostname,
        "Domainname": "",
        "User": rec.user,
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": rec.tty,
        "OpenStdin": rec.interactive,
        "StdinOnce": false,
        "Env": rec.env,
        "Cmd": rec.cmd,
        "Image": rec.image_name,
        "Volumes": null,
        "WorkingDir": rec.workdir,
        "Entrypoint": rec.entrypoint.join(" "),
        "OnBuild": null,
        "Labels": rec.labels,
        "Annotations": spec_field(&dir, "/annotations").unwrap_or_else(|| json!({})),
        "StopSignal": rec.stop_signal,
        "StopTimeout": rec.stop_timeout,
        "CreateCommand": [],
        "Umask": spec_field(&dir, "/process/user/umask")
            .and_then(|u| u.as_u64())
            .map_or_else(|| "0022".to_string(), |u| format!("{u:04o}")),
        "Timeout": x.timeout,
        "Passwd": true,
        "sdNotifyMode": rec.sdnotify,
    });
    if let Some(hc) = &rec.healthcheck {
        config_v["Healthcheck"] = json!(hc);
        config_v["HealthcheckOnFailureAction"] = json!(if rec.health_on_failure.is_empty() {
            "none"
        } else {
            rec.health_on_failure.as_str()
        });
    }
    if let Some(s) = crate::secret::inspect_container(&dir) {
        config_v["Secrets"] = s;
    }
    let hostconfig_v = json!({
        "Binds": binds,
        "NetworkMode": rec.network.name(),
        "AutoRemove": rec.rm,
        "CapAdd": rec.cap_add,
        "CapDrop": rec.cap_drop,
        "Privileged": rec.privileged,
        "ReadonlyRootfs": rec.read_only,
        "SecurityOpt": rec.security_opt,
        "Tmpfs": tmpfs,
        "UsernsMode": rec.userns,
        "Init": rec.init,
        "RestartPolicy": {
            "Name": rec.restart_policy,
            "MaximumRetryCount": rec.restart_retries,
        },
        // network: published ports as podman shows them.
        "PortBindings": crate::network::ports::inspect_json(&crate::network::ports::from_record(&rec.ports)),
        "LogConfig": {
            "Type": if x.log_driver.is_empty() { "k8s-file" } else { x.log_driver.as_str() },
            "Config": null,
            "Path": if x.log_driver == "none" {
                String::new()
            } else {
                crate::monitor::log_path(rec, &dir).display().to_string()
            },
            "Tag": x.log_tag,
            "Size": if x.log_max_size > 0 {
                crate::units::human_size(x.log_max_size as u64)
            } else {
                "0B".to_string()
            },
        },
    });
    // Resource limits as the bundle records them (create's flags, update).
    let mut hostconfig_v = hostconfig_v;
    let res = super::update::resources(paths, &rec.id);
    let num = |p: &str| res.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let text = |p: &str| {
        res.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (quota, period) = (num("/cpu/quota"), num("/cpu/period"));
    for (k, v) in [
        ("Memory", json!(num("/memory/limit"))),
        ("MemoryReservation", json!(num("/memory/reservation"))),
        ("MemorySwap", json!(num("/memory/swap"))),
        (
            "MemorySwappiness",
            json!(res
                .pointer("/memory/swappiness")
                .and_then(Value::as_i64)
                .unwrap_or(-1)),
        ),
        (
            "NanoCpus",
            json!(if quota > 0 && period > 0 {
                quota * 1_000_000_000 / period
            } else {
                0
            }),
        ),
        ("CpuPeriod", json!(period)),
        ("CpuQuota", json!(quota)),
        ("CpuShares", json!(num("/cpu/shares"))),
        ("CpuRealtimePeriod", json!(num("/cpu/realtimePeriod"))),
        ("CpuRealtimeRuntime", json!(num("/cpu/realtimeRuntime"))),
        ("CpusetCpus", json!(text("/cpu/cpus"))),
        ("CpusetMems", json!(text("/cpu/mems"))),
        ("BlkioWeight", json!(num("/blockIO/weight"))),
        ("PidsLimit", json!(num("/pids/limit"))),
    ] {
        hostconfig_v[k] = v;
    }
    json!({
        "Id": rec.id,
        "Created": time::rfc3339_nano(rec.created),
        "Path": path,
        "Args": args,
        "State": state_v,
        "Image": rec.image_id,
        "ImageName": rec.image_name,
        "Rootfs": x.rootfs.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "Pod": "",
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "StaticDir": dir,
        "OCIConfigPath": dir.join("config.json"),
        "OCIRuntime": "rpod",
        "ConmonPidFile": x.conmon_pidfile.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "PidFile": x.pidfile.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "Name": rec.name,
        "RestartCount": st.restart_count,
        "Driver": rec.storage_driver.clone().unwrap_or_else(|| "overlay".into()),
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": [],
        "GraphDriver": {
            "Name": rec.storage_driver.clone().unwrap_or_else(|| "overlay".into()),
            "Data": {
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
                "MergedDir": dir.join("merged"),
            },
        },
        "Mounts": mounts,
        "Dependencies": x.requires,
        "NetworkSettings": {
            "Ports": crate::network::ports::inspect_json(&crate::network::ports::from_record(&rec.ports)),
            "SandboxKey": ""
        },
        "Namespace": "",
        "IsInfra": false,
        "IsService": false,
        "Config": config_v,
        "HostConfig": hostconfig_v,
    })
}

/// The inspect object of the container with this id.
pub fn by_id(paths: &Paths, id: &str) -> Result<Value> {
    let rec = record::load(paths, id)?;
    let mut v = container_json(paths, &rec, &record::observe(paths, id));
    // network: NetworkSettings.Networks for containers on networks.
    crate::network::bridge::inspect_networks(paths, &rec, &mut v["NetworkSettings"]);
    Ok(v)
}

/// What `container inspect` found.
pub struct InspectReport {
    /// One object per container found, in the order asked.
    pub values: Vec<Value>,
    /// Why the last name that names no container failed to resolve.
    pub missing: Option<anyhow::Error>,
}

/// Inspect the named containers. A name that names no container is
/// reported in `missing`, after the others; any other error fails it all.
pub fn inspect(paths: &Paths, names: &[String]) -> Result<InspectReport> {
    let mut values = Vec::new();
    let mut missing = None;
    for name in names {
        match record::resolve(paths, name) {
            Ok(id) => values.push(by_id(paths, &id)?),
            Err(e) => missing = Some(e),
        }
    }
    Ok(InspectReport { values, missing })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::record::Status;

    #[test]
    fn shape_has_podman_fields() {
        let paths = Paths {
            root: "/r".into(),
            runroot: "/rr".into(),
        };
        let rec = ContainerRecord {
            id: "ab".repeat(32),
            name: "web".into(),
            command: vec!["sleep".into(), "9".into()],
            created: 1,
            ..Default::default()
        };
        let st = State {
            status: Status::Exited,
            exit_code: 3,
            finished_at: 2,
            ..Default::default()
        };
        let v = container_json(&paths, &rec, &st);
        assert_eq!(v["State"]["Status"], "exited");
        assert_eq!(v["State"]["ExitCode"], 3);
        assert_eq!(v["State"]["StartedAt"], GO_ZERO_TIME);
        assert_eq!(v["Path"], "sleep");
        assert_eq!(v["Args"][0], "9");
        assert_eq!(v["Name"], "web");
        assert!(v["OCIConfigPath"]
            .as_str()
            .unwrap()
            .ends_with("/config.json"));
    }
}
