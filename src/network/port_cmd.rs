//! `rpod port`'s query: the published ports of running containers, in the
//! lines podman prints (`80/tcp -> 0.0.0.0:8080`, or `0.0.0.0:8080` for
//! one port).

use super::ports;
use crate::container::record::{self, Paths};
use crate::options::Options;
use anyhow::Result;

/// Whose ports to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortTarget {
    /// One container, by name or id.
    Container(String),
    /// The most recently created container.
    Latest,
    /// Every container.
    All,
}

/// The published ports of one running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPorts {
    pub id: String,
    /// One line per port: `80/tcp -> 0.0.0.0:8080`, or with a port filter
    /// only the host side, `0.0.0.0:8080`.
    pub lines: Vec<String>,
}

/// The containers' published ports.
pub struct PortLister {
    paths: Paths,
}

impl PortLister {
    pub fn open(opts: &Options) -> Result<PortLister> {
        Ok(PortLister {
            paths: Paths::new(opts)?,
        })
    }

    /// The ports of the running containers among `target` (podman lists
    /// those of running containers only), newest first; with `filter`
    /// (`PORT[/PROTOCOL]`) only that port. Each container is read when the
    /// iterator reaches it.
    pub fn list(
        &self,
        target: &PortTarget,
        filter: Option<&str>,
    ) -> Result<impl Iterator<Item = Result<ContainerPorts>> + '_> {
        let paths = &self.paths;
        let ids: Vec<String> = match target {
            PortTarget::Container(name) => vec![record::resolve(paths, name)?],
            PortTarget::Latest | PortTarget::All => {
                let mut all: Vec<(i64, String)> = record::list_ids(paths)?
                    .into_iter()
                    .filter_map(|id| record::load(paths, &id).ok().map(|r| (r.created, id)))
                    .collect();
                all.sort_by_key(|x| std::cmp::Reverse(x.0));
                if *target == PortTarget::Latest {
                    all.truncate(1);
                }
                all.into_iter().map(|(_, id)| id).collect()
            }
        };
        let filter = filter.map(str::to_string);
        Ok(ids
            .into_iter()
            .filter(|id| record::observe(paths, id).is_running())
            .map(move |id| {
                let rec = record::load(paths, &id)?;
                let lines = ports::port_lines(&ports::from_record(&rec.ports), filter.as_deref())?;
                Ok(ContainerPorts { id, lines })
            }))
    }
}
