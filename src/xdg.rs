//! The user's base directories (XDG Base Directory spec), read one way for
//! all of rpod: a variable counts when it holds an absolute path (the spec
//! says to ignore a relative one), and the home directory falls back to the
//! password database when $HOME is unusable (a systemd generator may run
//! with a bare environment).

use std::path::PathBuf;

/// `$NAME` when it is set to an absolute path.
pub fn var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// The home directory: $HOME, else our password database entry.
pub fn home() -> Option<PathBuf> {
    var("HOME").or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.dir)
            .filter(|d| d.is_absolute())
    })
}

/// $XDG_CONFIG_HOME, else ~/.config.
pub fn config_home() -> Option<PathBuf> {
    var("XDG_CONFIG_HOME").or_else(|| Some(home()?.join(".config")))
}

/// $XDG_CACHE_HOME, else ~/.cache.
pub fn cache_home() -> Option<PathBuf> {
    var("XDG_CACHE_HOME").or_else(|| Some(home()?.join(".cache")))
}

/// $XDG_RUNTIME_DIR (no default: each caller has its own fallback).
pub fn runtime_dir() -> Option<PathBuf> {
    var("XDG_RUNTIME_DIR")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_values_do_not_count() {
        // Read-only on the process environment: names nobody sets.
        assert_eq!(var("RPOD_XDG_TEST_UNSET_VARIABLE"), None);
        assert!(home().is_some_and(|h| h.is_absolute()));
        assert!(config_home().is_some_and(|c| c.is_absolute()));
    }
}
