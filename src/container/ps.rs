//! `ps`: which containers to list, filtered as podman filters them. Reads
//! only the small per-container files (and /proc for the ones that claim to
//! run), so a hundred containers list in a few milliseconds. The columns,
//! templates and JSON are the CLI's (`cli::ctr_views`).

use super::record::{self, ContainerRecord, Paths, State, Status};
use anyhow::Result;

/// One container as `ps` sees it: its record and its observed state hold
/// every column and template field.
pub struct ContainerSummary {
    pub rec: ContainerRecord,
    pub st: State,
    /// Its healthcheck's status while it runs (starting, healthy,
    /// unhealthy); None without a check or when it does not run.
    pub health: Option<String>,
}

/// The states `--filter status=` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Created,
    /// Set up by `init`, not started.
    Initialized,
    Running,
    Exited,
    /// podman's name for exited.
    Stopped,
    Paused,
    Stopping,
    Unknown,
    Configured,
    Removing,
}

/// One `--filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// podman matches names as regular expressions; we support the common
    /// forms: a substring, or one anchored with ^ and/or $.
    Name(String),
    /// An id prefix.
    Id(String),
    Status(StatusFilter),
    /// A label's key, and the value it must have (None: any value).
    Label(String, Option<String>),
    /// An image id prefix or an image name.
    Ancestor(String),
    /// Exited with this code (None: a value that is no number, which no
    /// container matches).
    Exited(Option<i32>),
    /// `restart-policy=`: a `--restart` policy name ("none": none given).
    RestartPolicy(String),
    /// `health=`: starting, healthy, unhealthy, or none (no healthcheck).
    Health(String),
    /// `since=CONTAINER`: created after that container.
    Since(String),
    /// `before=CONTAINER`: created before that container.
    Before(String),
    /// `network=`: on this network (its name).
    Network(String),
}

/// What `ps` lists.
#[derive(Debug, Clone, Default)]
pub struct PsOptions {
    /// Stopped containers too (running ones only by default).
    pub all: bool,
    /// Every filter must match.
    pub filters: Vec<Filter>,
    /// Only the newest container (of any state).
    pub latest: bool,
    /// Only the newest N containers (of any state).
    pub last: Option<usize>,
}

fn name_matches(name: &str, pat: &str) -> bool {
    let (start, p) = match pat.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pat),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

fn status_matches(st: Status, f: StatusFilter) -> bool {
    match f {
        StatusFilter::Created => st == Status::Created,
        StatusFilter::Initialized => st == Status::Initialized,
        StatusFilter::Running => st == Status::Running,
        StatusFilter::Exited | StatusFilter::Stopped => st == Status::Exited,
        StatusFilter::Stopping => st == Status::Stopping,
        StatusFilter::Paused => st == Status::Paused,
        StatusFilter::Unknown | StatusFilter::Configured | StatusFilter::Removing => false,
    }
}

fn matches(row: &ContainerSummary, f: &Filter) -> bool {
    match f {
        // Resolved to a creation time by `ps` (see `created_of`).
        Filter::Since(t) => t.parse::<i64>().is_ok_and(|t| row.rec.created > t),
        Filter::Before(t) => t.parse::<i64>().is_ok_and(|t| row.rec.created < t),
        Filter::Name(v) => name_matches(&row.rec.name, v),
        Filter::Id(v) => row.rec.id.starts_with(v.as_str()),
        Filter::Status(s) => status_matches(row.st.status, *s),
        Filter::Label(k, Some(val)) => row.rec.labels.get(k).map(|x| x == val).unwrap_or(false),
        Filter::Label(k, None) => row.rec.labels.contains_key(k),
        Filter::Ancestor(v) => {
            let v = v.as_str();
            row.rec.image_id.starts_with(v)
                || row.rec.image_name == v
                || row.rec.image_name.ends_with(&format!("/{v}"))
                || row.rec.image_name.ends_with(&format!("/{v}:latest"))
                || row.rec.image_name.strip_suffix(":latest") == Some(v)
        }
        Filter::Exited(code) => row.st.status == Status::Exited && *code == Some(row.st.exit_code),
        Filter::RestartPolicy(p) => {
            row.rec.restart_policy == *p || (p == "none" && row.rec.restart_policy.is_empty())
        }
        Filter::Health(h) => match &row.health {
            Some(s) => s == h,
            None => h == "none" && row.rec.healthcheck.is_none(),
        },
        Filter::Network(n) => crate::network::bridge::networks_of(&row.rec.network)
            .iter()
            .any(|a| a.network == *n),
    }
}

/// Every container, reconciled, newest first.
pub fn rows(paths: &Paths) -> Result<Vec<ContainerSummary>> {
    let mut out = Vec::new();
    for id in record::list_ids(paths)? {
        let Ok(rec) = record::load(paths, &id) else {
            continue;
        };
        let st = record::observe(paths, &id);
        let health = if st.is_running() {
            super::health::status(paths, &rec)
        } else {
            None
        };
        out.push(ContainerSummary { rec, st, health });
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.rec.created));
    Ok(out)
}

/// The id of the newest container (`--latest`).
pub fn latest(paths: &Paths) -> Result<String> {
    rows(paths)?
        .into_iter()
        .next()
        .map(|r| r.rec.id)
        .ok_or_else(|| anyhow::anyhow!("no containers to act on with --latest"))
}

/// `since=`/`before=` name a container: its creation time (ns) instead.
fn created_of(paths: &Paths, f: &Filter) -> Result<Filter> {
    let t = |name: &str| -> Result<String> {
        let id = record::resolve(paths, name)?;
        Ok(record::load(paths, &id)?.created.to_string())
    };
    Ok(match f {
        Filter::Since(n) => Filter::Since(t(n)?),
        Filter::Before(n) => Filter::Before(t(n)?),
        other => other.clone(),
    })
}

/// The containers `ps` lists, newest first.
pub fn ps(paths: &Paths, o: &PsOptions) -> Result<Vec<ContainerSummary>> {
    let filters: Vec<Filter> = o
        .filters
        .iter()
        .map(|f| created_of(paths, f))
        .collect::<Result<_>>()?;
    let o = &PsOptions {
        filters,
        ..o.clone()
    };
    // Asking for a state, or an exit code, looks at stopped containers too.
    let all = o.all
        || o.filters
            .iter()
            .any(|f| matches!(f, Filter::Status(_) | Filter::Exited(_)));
    let mut rows: Vec<ContainerSummary> = rows(paths)?
        .into_iter()
        .filter(|r| {
            all || o.latest || o.last.is_some() || (r.st.program_runs() && !r.st.is_paused())
        })
        .filter(|r| o.filters.iter().all(|f| matches(r, f)))
        .collect();
    if o.latest {
        rows.truncate(1);
    }
    if let Some(n) = o.last {
        rows.truncate(n);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let row = ContainerSummary {
            rec: ContainerRecord {
                id: "ab".repeat(32),
                name: "web-1".into(),
                image_name: "localhost:5000/alpine:latest".into(),
                image_id: "cd".repeat(32),
                labels: [("app".to_string(), "x".to_string())].into_iter().collect(),
                ..Default::default()
            },
            st: State::default(),
            health: None,
        };
        let name = |s: &str| Filter::Name(s.into());
        assert!(matches(&row, &name("web")));
        assert!(matches(&row, &name("^web-1$")));
        assert!(!matches(&row, &name("^eb")));
        assert!(matches(&row, &Filter::Status(StatusFilter::Created)));
        assert!(!matches(&row, &Filter::Status(StatusFilter::Running)));
        assert!(matches(&row, &Filter::Label("app".into(), None)));
        assert!(matches(
            &row,
            &Filter::Label("app".into(), Some("x".into()))
        ));
        assert!(!matches(
            &row,
            &Filter::Label("app".into(), Some("y".into()))
        ));
        assert!(matches(&row, &Filter::Id("abab".into())));
        assert!(matches(&row, &Filter::Ancestor("alpine".into())));
        assert!(matches(&row, &Filter::Ancestor("cdcd".into())));
        assert!(!matches(&row, &Filter::Exited(Some(0))));
        assert!(matches(&row, &Filter::Health("none".into())));
        assert!(!matches(&row, &Filter::Health("healthy".into())));
    }
}
