//! Containers as the user sees them: records, names, and the operations on
//! them (create, start, stop, kill, rm, wait, attach, …; see `ops`).
//!
//! A container is a directory of small files (see `record`), a detached
//! monitor while it runs (see `crate::monitor`), and nothing else: every
//! command reads the files, so state survives the command that started it.

pub mod attach;
pub mod create;
pub mod exec;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod names;
pub mod ops;
pub mod opts;
pub mod ps;
pub mod record;
pub mod spec;
pub(crate) use crate::time;

pub use ops::*;

use crate::cli::container::*;
use crate::cli::GlobalOpts;
use anyhow::Result;
use record::Paths;

pub fn ps_cmd(g: &GlobalOpts, a: &PsArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    ps::ps(&paths, a)
}

pub fn exec_cmd(g: &GlobalOpts, a: &ExecArgs) -> Result<()> {
    exec::exec(g, a)
}

pub fn logs_cmd(g: &GlobalOpts, a: &LogsArgs) -> Result<()> {
    let paths = Paths::new(&g.into())?;
    logs::logs(&paths, a)
}

pub fn top_cmd(g: &GlobalOpts, a: &TopArgs) -> Result<()> {
    exec::top(g, a)
}

pub fn inspect_cmd(g: &GlobalOpts, a: &InspectArgs) -> Result<()> {
    inspect::inspect_cmd(g, a)
}
