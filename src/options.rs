//! What every operation needs to know about where and how rpod works, in the
//! library's own terms: the CLI builds it from its global flags (see
//! `cli::GlobalOpts`), the monitor from its command line. No clap here, so
//! the domain modules never depend on the command line's shape.

use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The log level, passed on to the processes rpod spawns (the monitor).
    pub log_level: String,
    /// The storage root (None: `$XDG_DATA_HOME/rpod`).
    pub root: Option<PathBuf>,
    /// The runtime state dir (None: `$XDG_RUNTIME_DIR/rpod`).
    pub runroot: Option<PathBuf>,
    /// overlay, fuse-overlayfs or vfs (None: overlay where the kernel allows it).
    pub storage_driver: Option<String>,
    /// A registries.conf to use instead of the user's and the system's.
    pub registries_conf: Option<PathBuf>,
}
