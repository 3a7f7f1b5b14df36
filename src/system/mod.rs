//! rpod as a whole: what the store holds and uses (`df`), removing what
//! nothing uses (`prune`), removing everything rpod owns (`reset`) and
//! checking and repairing the store after crashes (`check`). Typed results
//! out; the CLI (`cli::system_data`) prints them.

pub mod check;
pub mod df;
pub mod prune;
pub mod reset;

pub use check::{check, CheckOptions, CheckReport, Finding};
pub use df::{disk_usage, ContainerUsage, DiskUsage, ImageUsage, VolumeUsage};
pub use prune::{system_prune, PruneFilter, PruneReport, SystemPruneOptions};
pub use reset::reset;
