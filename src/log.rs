//! A tiny leveled logger on stderr, set from `--log-level`.
//!
//! Lines look like podman's (`WARN[0000] message`) so that users who grep
//! podman's output find the same shapes here.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

pub fn set_level(name: &str) {
    let level = match name {
        "debug" | "trace" => Level::Debug,
        "info" => Level::Info,
        "error" | "fatal" | "panic" => Level::Error,
        _ => Level::Warn,
    };
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

#[doc(hidden)]
pub fn emit(level: Level, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let tag = match level {
        Level::Debug => "DEBU",
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERRO",
    };
    eprintln!("{tag}[0000] {args}");
}

#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => { $crate::log::emit($crate::log::Level::Debug, format_args!($($t)*)) };
}
#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::log::emit($crate::log::Level::Info, format_args!($($t)*)) };
}
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::log::emit($crate::log::Level::Warn, format_args!($($t)*)) };
}
