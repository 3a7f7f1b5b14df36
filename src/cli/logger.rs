//! rpod's `log::Log`: leveled lines on stderr, set from `--log-level`.
//!
//! Lines look like podman's (`WARN[0000] message`) so that users who grep
//! podman's output find the same shapes here. rpod's own records pass from
//! the level `--log-level` names up; other crates' (the HTTP stack's) only
//! when that level is debug or trace, each line naming its target.

use log::{Level, LevelFilter, Log, Metadata, Record};
struct Logger;

static LOGGER: Logger = Logger;

/// Install the logger at podman's default level (warn); `set_level` moves it.
/// Installing twice (tests calling `cli::run` again) keeps the first.
pub(super) fn init() {
    let _ = log::set_logger(&LOGGER);
    set_level("warn");
}

/// Apply a `--log-level` value: podman's trace, debug, info, warn, error,
/// fatal, panic; anything else means warn. rpod logs nothing at trace, so
/// trace shows its debug lines (and other crates' trace lines).
pub(super) fn set_level(name: &str) {
    log::set_max_level(filter(name));
}

fn filter(name: &str) -> LevelFilter {
    match name {
        "trace" => LevelFilter::Trace,
        "debug" => LevelFilter::Debug,
        "info" => LevelFilter::Info,
        "error" | "fatal" | "panic" => LevelFilter::Error,
        _ => LevelFilter::Warn,
    }
}

fn is_own(target: &str) -> bool {
    target == "rpod" || target.starts_with("rpod::")
}

/// Whether a record shows at `max` (the level `--log-level` set): rpod's
/// from that level up, the rest only when debugging.
fn shown(level: Level, target: &str, max: LevelFilter) -> bool {
    level <= max && (is_own(target) || max >= LevelFilter::Debug)
}

fn tag(level: Level) -> &'static str {
    match level {
        Level::Trace => "TRAC",
        Level::Debug => "DEBU",
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERRO",
    }
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        shown(m.level(), m.target(), log::max_level())
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let tag = tag(r.level());
        if is_own(r.target()) {
            eprintln!("{tag}[0000] {}", r.args());
        } else {
            eprintln!("{tag}[0000] {}: {}", r.target(), r.args());
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_records_from_the_named_level_up() {
        let max = filter("warn");
        assert!(shown(Level::Warn, "rpod::image::auth", max));
        assert!(shown(Level::Error, "rpod", max));
        assert!(!shown(Level::Info, "rpod::storage", max));
        assert!(!shown(Level::Debug, "rpod::storage", max));
        let max = filter("info");
        assert!(shown(Level::Info, "rpod::storage", max));
        assert!(!shown(Level::Debug, "rpod::storage", max));
        for name in ["error", "fatal", "panic"] {
            assert!(!shown(Level::Warn, "rpod::storage", filter(name)));
        }
        // An unknown level means podman's default.
        assert_eq!(filter("loud"), LevelFilter::Warn);
        assert!(!is_own("rpodder"));
    }

    #[test]
    fn other_crates_only_when_debugging() {
        for name in ["warn", "info", "error"] {
            assert!(
                !shown(Level::Warn, "reqwest::connect", filter(name)),
                "{name}"
            );
            assert!(!shown(Level::Error, "rustls::conn", filter(name)), "{name}");
        }
        let max = filter("debug");
        assert!(shown(Level::Debug, "reqwest::connect", max));
        assert!(!shown(Level::Trace, "reqwest::connect", max));
        let max = filter("trace");
        assert!(shown(Level::Trace, "reqwest::connect", max));
        assert!(shown(Level::Debug, "rpod::storage", max));
    }

    #[test]
    fn podman_level_tags() {
        assert_eq!(tag(Level::Warn), "WARN");
        assert_eq!(tag(Level::Debug), "DEBU");
        assert_eq!(tag(Level::Info), "INFO");
        assert_eq!(tag(Level::Error), "ERRO");
        assert_eq!(tag(Level::Trace), "TRAC");
    }
}
