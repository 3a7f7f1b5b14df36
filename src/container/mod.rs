//! Containers as the user sees them: records, names, and the operations on
//! them (create, start, stop, kill, rm, wait, attach, …; see `ops`).
//!
//! A container is a directory of small files (see `record`), a detached
//! monitor while it runs (see `crate::monitor`), and nothing else: every
//! command reads the files, so state survives the command that started it.

pub mod attach;
pub mod autoupdate;
pub mod cp;
pub mod create;
pub mod exec;
pub mod health;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod more;
pub mod names;
pub mod ops;
pub mod opts;
pub mod pause;
pub mod ps;
pub mod record;
pub mod spec;
pub mod specgen;
pub mod stats;
pub mod top;
pub mod update;
pub(crate) use crate::time;

pub use ops::*;
