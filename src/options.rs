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
    /// Where events go (`--events-backend`). `Journald` is accepted on the
    /// command line; the events code refuses it ("no journal on this host")
    /// only when an event would be written.
    pub events_backend: EventsBackend,
    /// podman's `--tmpdir`: the directory for run-time state such as the
    /// events log (None: the events code's default under the runroot).
    pub tmpdir: Option<PathBuf>,
    /// Where named volumes live (`--volumepath`; None: `<root>/volumes`).
    pub volume_path: Option<PathBuf>,
    /// OCI hooks directories (`--hooks-dir`). rpod runs no hooks from them:
    /// the CLI warns when one holds hook files.
    pub hooks_dirs: Vec<PathBuf>,
}

/// podman's `--events-backend` / containers.conf `events_logger`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventsBackend {
    /// A log file (podman's rootless default here: there is no journald).
    #[default]
    File,
    /// Write no events.
    None,
    /// The systemd journal.
    Journald,
}

impl EventsBackend {
    /// The flag's word, for the command lines rpod spawns.
    pub fn as_str(self) -> &'static str {
        match self {
            EventsBackend::File => "file",
            EventsBackend::None => "none",
            EventsBackend::Journald => "journald",
        }
    }
}

impl std::str::FromStr for EventsBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "file" => Ok(EventsBackend::File),
            "none" => Ok(EventsBackend::None),
            "journald" => Ok(EventsBackend::Journald),
            _ => Err(format!(
                "unsupported events backend {s:?}: use file, none or journald"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_backend_words_round_trip() {
        for b in [
            EventsBackend::File,
            EventsBackend::None,
            EventsBackend::Journald,
        ] {
            assert_eq!(b.as_str().parse::<EventsBackend>(), Ok(b));
        }
        assert!("syslog".parse::<EventsBackend>().is_err());
        assert_eq!(EventsBackend::default(), EventsBackend::File);
    }
}
