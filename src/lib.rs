//! rpod: rootless, daemonless containers.
//!
//! The library: every concept lives in its own module (see README.md,
//! "Where things live"). `src/main.rs` only calls [`cli::run`] and turns a
//! failure into an exit code with [`cli::exit`]; `src/bin/rpod-monitor.rs`
//! runs the monitor loop from [`monitor`]. `unsafe` is denied crate-wide
//! (`[lints]` in Cargo.toml) and allowed in [`sys`] only.

// rpod's records go through the `log` facade, like its dependencies'; the CLI
// installs the logger (src/cli/logger.rs).
#[macro_use]
extern crate log;

pub mod build;
pub mod cli;
pub mod conf;
pub mod container;
pub mod error;
pub mod events;
pub mod image;
pub mod kube;
pub mod monitor;
pub mod network;
pub mod options;
pub mod pod;
pub mod rootfs;
pub mod runtime;
pub mod secret;
pub mod storage;
pub mod sys;
pub mod system;
pub mod systemd;
pub mod time;
pub mod units;
pub mod userns;
pub mod volume;
pub mod xdg;

pub use error::Error;
