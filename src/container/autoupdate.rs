//! `auto-update`: containers labelled `io.containers.autoupdate=registry`
//! (the registry has a newer manifest for the image's name) or `=local`
//! (the name now points at another local image) are recreated with the new
//! image. podman 4.3 only restarts their systemd units (and needs them);
//! rpod needs none: it removes the container and runs its create command
//! again (as a unit made by `generate systemd --new` would), and starts it
//! when it was running. With `rollback` (podman's default), a new
//! container that does not run, or turns unhealthy, is replaced by one from
//! the previous image again ("rolled back").

use super::record::{self, Paths};
use crate::options::Options;
use anyhow::{bail, Context, Result};

/// The label that asks for updates, and its values.
pub const LABEL: &str = "io.containers.autoupdate";

/// One container's line of the report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Its PODMAN_SYSTEMD_UNIT label ("" without one).
    pub unit: String,
    pub id: String,
    pub name: String,
    pub image: String,
    pub policy: String,
    /// "true" (updated), "false" (up to date), "pending" (--dry-run),
    /// "rolled back" or "failed".
    pub updated: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// Check every labelled container and (unless `dry_run`) update the ones
/// with a newer image. A failure is one report's, never the whole run's.
pub fn auto_update(
    opts: &Options,
    paths: &Paths,
    dry_run: bool,
    rollback: bool,
    pull: &crate::image::PullOptions,
    progress: &dyn crate::image::PullProgress,
) -> Result<Vec<Report>> {
    let store = crate::storage::Store::open(opts)?;
    let mut out = Vec::new();
    let mut ids = record::list_ids(paths)?;
    ids.sort();
    for id in ids {
        let Ok(rec) = record::load(paths, &id) else {
            continue;
        };
        let Some(policy) = rec.labels.get(LABEL).cloned() else {
            continue;
        };
        let mut r = Report {
            unit: rec
                .labels
                .get("PODMAN_SYSTEMD_UNIT")
                .cloned()
                .unwrap_or_default(),
            id: rec.id.clone(),
            name: rec.name.clone(),
            image: rec.image_name.clone(),
            policy: policy.clone(),
            updated: "false".into(),
            error: None,
        };
        let mut rolled_back = false;
        let res = (|| -> Result<bool> {
            let newer = match policy.as_str() {
                "registry" => {
                    let local = store
                        .image_by_id(&rec.image_id)?
                        .with_context(|| format!("image of container {} is gone", rec.name))?;
                    let remote = crate::image::remote_digest(opts, &rec.image_name, pull)?;
                    remote != local.digest
                }
                "local" => store
                    .find_image(&rec.image_name)?
                    .is_some_and(|i| i.id != rec.image_id),
                other => bail!(
                    "invalid auto-update policy {other:?} of container {}: use registry or local",
                    rec.name
                ),
            };
            if !newer || dry_run {
                return Ok(newer);
            }
            crate::userns::enter()?;
            if policy == "registry" {
                crate::image::pull(opts, &store, &rec.image_name, pull, progress)?;
            }
            let was_running = record::observe(paths, &rec.id).is_running();
            let failed = match recreate(paths, &rec, was_running) {
                Ok(()) => verify(paths, &rec.name, was_running).err(),
                Err(e) => Some(e),
            };
            let Some(failed) = failed else {
                return Ok(true);
            };
            if !rollback {
                return Err(failed);
            }
            // podman: the previous image gets the name back, and the
            // container is made from it again.
            crate::image::tag_image(
                &store,
                &rec.image_id,
                &[crate::image::normalize_local_name(&rec.image_name)?],
            )
            .with_context(|| format!("rolling back after: {failed:#}"))?;
            let still = record::resolve(paths, &rec.name).is_ok();
            let again = if still {
                record::resolve(paths, &rec.name)
                    .and_then(|id| record::load(paths, &id))
                    .and_then(|new| recreate(paths, &new, was_running))
            } else {
                recreate_from(paths, &rec, was_running)
            };
            again
                .with_context(|| format!("rolling back to the previous image after: {failed:#}"))?;
            log::warn!("container {}: rolled back: {failed:#}", rec.name);
            rolled_back = true;
            Ok(true)
        })();
        match res {
            Ok(true) if dry_run => r.updated = "pending".into(),
            Ok(true) if rolled_back => r.updated = "rolled back".into(),
            Ok(true) => r.updated = "true".into(),
            Ok(false) => {}
            Err(e) => {
                r.updated = "failed".into();
                r.error = Some(format!("{e:#}"));
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// A new container that should run must run, and one with a healthcheck
/// must turn healthy (waiting out its start period, retries and timeouts).
fn verify(paths: &Paths, name: &str, should_run: bool) -> Result<()> {
    let id = record::resolve(paths, name)?;
    let rec = record::load(paths, &id)?;
    if !should_run {
        return Ok(());
    }
    let running = |id: &str| record::observe(paths, id).is_running();
    let Some(hc) = rec.healthcheck.clone() else {
        // A container that fails at once has exited by now or soon.
        std::thread::sleep(std::time::Duration::from_millis(500));
        if !running(&id) {
            bail!("the new container {name} does not run");
        }
        return Ok(());
    };
    let per_run = hc.interval.max(1_000_000_000) + hc.timeout.max(1_000_000_000);
    let wait_ns = hc.start_period.max(0) + per_run * i64::from(hc.retries.max(1) + 1);
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_nanos(wait_ns.min(300_000_000_000) as u64);
    loop {
        if !running(&id) {
            bail!("the new container {name} does not run");
        }
        match super::health::status(paths, &rec).as_deref() {
            Some(super::health::HEALTHY) => return Ok(()),
            Some(super::health::UNHEALTHY) => bail!("the new container {name} is unhealthy"),
            _ => {}
        }
        if std::time::Instant::now() >= deadline {
            bail!("the new container {name} did not turn healthy");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Replace the container by a new one from its create command (which now
/// resolves to the new image), started when `start`.
fn recreate(paths: &Paths, rec: &record::ContainerRecord, start: bool) -> Result<()> {
    let argv = &rec.create_command;
    let verb = argv
        .iter()
        .skip(1)
        .find(|a| matches!(a.as_str(), "run" | "create"))
        .cloned();
    if argv.len() < 2 || verb.is_none() {
        bail!(
            "container {} has no create command to recreate it from",
            rec.name
        );
    }
    // A foreground `run` would wait for the new container to end.
    let detached = verb.as_deref() == Some("create")
        || argv.iter().any(|a| {
            a == "--detach"
                || a == "--detach=true"
                || (a.starts_with('-') && !a.starts_with("--") && a.contains('d'))
        });
    if !detached {
        bail!(
            "container {} was made by a foreground run: recreate it yourself",
            rec.name
        );
    }
    let sel = super::ops::Selection {
        names: vec![rec.id.clone()],
        ..Default::default()
    };
    if let Some(Err(e)) = super::ops::rm(
        paths,
        &sel,
        super::ops::RmOptions {
            force: true,
            ..Default::default()
        },
    )?
    .into_iter()
    .next()
    {
        return Err(e.context(format!("removing container {}", rec.name)));
    }
    recreate_from(paths, rec, start)
}

/// Run `rec`'s create command (its container is gone), and start the new
/// one when `start` and the command was `create`.
fn recreate_from(_paths: &Paths, rec: &record::ContainerRecord, start: bool) -> Result<()> {
    let argv = &rec.create_command;
    let verb = argv
        .iter()
        .skip(1)
        .find(|a| matches!(a.as_str(), "run" | "create"))
        .cloned();
    let me = crate::sys::exe::real_exe();
    let out = std::process::Command::new(&me)
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {}", me.display()))?;
    if !out.status.success() {
        bail!(
            "recreating container {}: {}",
            rec.name,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    if verb.as_deref() == Some("create") && start {
        let st = std::process::Command::new(&me)
            .args(["start", &rec.name])
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("running {}", me.display()))?;
        if !st.status.success() {
            bail!(
                "starting container {}: {}",
                rec.name,
                String::from_utf8_lossy(&st.stderr).trim()
            );
        }
    }
    Ok(())
}
