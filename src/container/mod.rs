//! Containers as the user sees them: records, names, and the container
//! commands (run, create, start, stop, kill, rm, ps, exec, logs, …).

use crate::cli::container::*;
use crate::cli::GlobalOpts;
use anyhow::{bail, Result};

macro_rules! todo_cmd {
    ($($name:ident($t:ty)),* $(,)?) => {
        $(pub fn $name(_g: &GlobalOpts, _a: $t) -> Result<()> {
            bail!(concat!(stringify!($name), ": not implemented yet"))
        })*
    };
}

todo_cmd!(
    run_cmd(RunArgs),
    create_cmd(CreateArgs),
    start_cmd(&StartArgs),
    stop_cmd(&StopArgs),
    kill_cmd(&KillArgs),
    rm_cmd(&RmArgs),
    ps_cmd(&PsArgs),
    wait_cmd(&WaitArgs),
    exec_cmd(&ExecArgs),
    logs_cmd(&LogsArgs),
    top_cmd(&TopArgs),
    attach_cmd(&AttachArgs),
    rename_cmd(&RenameArgs),
    cleanup_cmd(&CleanupArgs),
    prune_cmd(&ContainerPruneArgs),
    mount_cmd(&MountArgs),
    unmount_cmd(&UnmountArgs),
);
