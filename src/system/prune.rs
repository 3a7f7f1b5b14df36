//! `system prune`: stopped containers, then (with `--volumes`) unused
//! volumes, then dangling (with `all`: unused) images, again until a round
//! removes nothing, as podman does. Built on `container prune` and `image
//! prune`; the caller is in rpod's user namespace.

use crate::container::record::{self, ContainerRecord, Paths};
use crate::storage::{ImageRecord, Store};
use anyhow::{bail, Result};
use std::collections::HashMap;

/// podman's `--filter` of `system prune`: on containers and images.
#[derive(Debug, Clone, PartialEq)]
pub enum PruneFilter {
    /// `label=KEY[=VALUE]` (true) or `label!=KEY[=VALUE]` (false).
    Label(String, Option<String>, bool),
    /// `until=TIME`: created before this (epoch seconds).
    Until(i64),
}

impl PruneFilter {
    /// Parse `KEY=VALUE` as podman does; `now` (epoch seconds) anchors
    /// durations such as `until=10m`.
    pub fn parse(f: &str, now: i64) -> Result<PruneFilter> {
        let Some((k, v)) = f.split_once('=') else {
            bail!("{f} is an invalid filter");
        };
        let (k, neg) = match k.strip_suffix('!') {
            Some(k) => (k, true),
            None => (k, false),
        };
        match k {
            "label" => {
                let (key, val) = match v.split_once('=') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (v.to_string(), None),
                };
                Ok(PruneFilter::Label(key, val, !neg))
            }
            "until" if !neg => Ok(PruneFilter::Until(parse_until(v, now)?)),
            _ => bail!("{k} is an invalid filter"),
        }
    }

    fn accepts(&self, labels: &dyn Fn(&str) -> Option<String>, created_secs: i64) -> bool {
        match self {
            PruneFilter::Label(k, v, want) => {
                let has = match (labels(k), v) {
                    (Some(_), None) => true,
                    (Some(got), Some(v)) => &got == v,
                    (None, _) => false,
                };
                has == *want
            }
            PruneFilter::Until(t) => created_secs < *t,
        }
    }
}

/// podman's `until`: a Unix time (with fraction), an RFC 3339 time or
/// date, or a Go duration before now; epoch seconds.
fn parse_until(v: &str, now: i64) -> Result<i64> {
    if let Some((s, _)) = crate::time::parse_rfc3339_secs(&format!("{v}T00:00:00Z")) {
        return Ok(s);
    }
    let ns = crate::time::parse_time_arg(v, now.saturating_mul(1_000_000_000))?;
    Ok(ns.div_euclid(1_000_000_000))
}

#[derive(Debug, Clone, Default)]
pub struct SystemPruneOptions {
    /// Every image no container uses, not only the dangling ones.
    pub all: bool,
    /// Unused volumes too.
    pub volumes: bool,
    pub filters: Vec<PruneFilter>,
}

/// What `system prune` removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    /// Container ids and the bytes their changes took.
    pub containers: Vec<(String, u64)>,
    /// Containers that could not be removed.
    pub container_errors: Vec<(String, anyhow::Error)>,
    /// Volume names and their sizes.
    pub volumes: Vec<(String, u64)>,
    /// Image ids and their sizes.
    pub images: Vec<(String, u64)>,
}

impl PruneReport {
    /// "Total reclaimed space".
    pub fn reclaimed(&self) -> u64 {
        let c: u64 = self.containers.iter().map(|x| x.1).sum();
        let v: u64 = self.volumes.iter().map(|x| x.1).sum();
        let i: u64 = self.images.iter().map(|x| x.1).sum();
        c + v + i
    }
}

fn container_matches(filters: &[PruneFilter], rec: &ContainerRecord) -> bool {
    let labels = |k: &str| rec.labels.get(k).cloned();
    let created = rec.created.div_euclid(1_000_000_000);
    filters.iter().all(|f| f.accepts(&labels, created))
}

fn image_matches(store: &Store, filters: &[PruneFilter], rec: &ImageRecord) -> bool {
    if filters.is_empty() {
        return true;
    }
    let labels = crate::image::labels(store, rec);
    let get = |k: &str| {
        labels.get(k).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let created = crate::image::created_secs(rec);
    filters.iter().all(|f| f.accepts(&get, created))
}

/// Remove what nothing uses; see the module doc.
pub fn system_prune(store: &Store, paths: &Paths, o: &SystemPruneOptions) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    // podman stops after 50 rounds.
    for _ in 0..50 {
        let before = report.containers.len() + report.images.len() + report.volumes.len();
        let sizes: HashMap<String, u64> = crate::container::lifecycle::all_ids(paths)?
            .into_iter()
            .map(|(id, _)| {
                let st = record::observe(paths, &id);
                let size = if st.is_running() {
                    0
                } else {
                    super::df::rw_size(paths, &id, &st)
                };
                (id, size)
            })
            .collect();
        crate::container::ops::prune_matching(
            paths,
            |rec| container_matches(&o.filters, rec),
            |id, r| {
                match r {
                    Ok(()) => report
                        .containers
                        .push((id.to_string(), sizes.get(id).copied().unwrap_or(0))),
                    Err(e) => report.container_errors.push((id.to_string(), e)),
                }
                Ok(())
            },
        )?;
        if o.volumes {
            report.volumes.extend(prune_volumes(store, &o.filters)?);
        }
        let image_sizes: HashMap<String, u64> = store
            .images()?
            .into_iter()
            .map(|r| (r.id, r.size))
            .collect();
        crate::image::prune_images_matching(
            store,
            &crate::image::PruneOptions { all: o.all },
            &|rec| image_matches(store, &o.filters, rec),
            &mut |id| {
                report
                    .images
                    .push((id.to_string(), image_sizes.get(id).copied().unwrap_or(0)));
                Ok(())
            },
        )?;
        let after = report.containers.len() + report.images.len() + report.volumes.len();
        if after == before {
            break;
        }
    }
    Ok(report)
}

/// Unused volumes that match the filters, removed: (name, size).
fn prune_volumes(store: &Store, filters: &[PruneFilter]) -> Result<Vec<(String, u64)>> {
    use crate::volume::{Filter, Volumes};
    let vols = Volumes::new(store);
    let vf: Vec<Filter> = filters
        .iter()
        .map(|f| match f {
            PruneFilter::Label(k, v, want) => Filter::Label(k.clone(), v.clone(), !want),
            PruneFilter::Until(secs) => Filter::Until(secs.saturating_mul(1_000_000_000)),
        })
        .collect();
    let sizes: HashMap<String, u64> = vols
        .list()?
        .into_iter()
        .map(|v| {
            let size = super::df::tree_size(&vols.mountpoint(&v.name)).0;
            (v.name, size)
        })
        .collect();
    Ok(vols
        .prune(&vf)?
        .into_iter()
        .map(|n| {
            let size = sizes.get(&n).copied().unwrap_or(0);
            (n, size)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_podman_names_them() {
        let now = 1_000_000;
        assert_eq!(
            PruneFilter::parse("label=a=b", now).unwrap(),
            PruneFilter::Label("a".into(), Some("b".into()), true)
        );
        assert_eq!(
            PruneFilter::parse("label!=a", now).unwrap(),
            PruneFilter::Label("a".into(), None, false)
        );
        assert_eq!(
            PruneFilter::parse("until=10m", now).unwrap(),
            PruneFilter::Until(now - 600)
        );
        assert_eq!(
            PruneFilter::parse("until=1700000000", now).unwrap(),
            PruneFilter::Until(1_700_000_000)
        );
        assert_eq!(
            PruneFilter::parse("until=2024-01-02T00:00:00Z", now).unwrap(),
            PruneFilter::Until(1_704_153_600)
        );
        let e = PruneFilter::parse("bogus=1", now).unwrap_err();
        assert_eq!(e.to_string(), "bogus is an invalid filter");
        assert!(PruneFilter::parse("label", now).is_err());
    }

    #[test]
    fn label_filters_match_and_negate() {
        let rec = ContainerRecord {
            labels: [("app".to_string(), "web".to_string())].into(),
            created: 5_000_000_000,
            ..Default::default()
        };
        let f = |s: &str| vec![PruneFilter::parse(s, 100).unwrap()];
        assert!(container_matches(&f("label=app"), &rec));
        assert!(container_matches(&f("label=app=web"), &rec));
        assert!(!container_matches(&f("label=app=db"), &rec));
        assert!(!container_matches(&f("label!=app"), &rec));
        assert!(container_matches(&f("label!=other"), &rec));
        assert!(container_matches(&f("until=6"), &rec));
        assert!(!container_matches(&f("until=5"), &rec));
    }
}
