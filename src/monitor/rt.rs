//! The monitor's calls into our OCI runtime (`crate::runtime`), in one place.

use crate::runtime::{self, Console, CreateOptions, Stdio};
use anyhow::Result;
use std::os::fd::OwnedFd;
use std::path::Path;

/// The container's stdio.
pub(super) enum Io {
    Pipes {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// A pty made inside the container (so it is in the container's
    /// /dev/pts), its master sent over this connected socket.
    Console(std::os::unix::net::UnixStream),
}

/// Create the container from `bundle` (config.json, rootfs `merged`); its
/// init is our child. With `start`, it runs the user's program at once;
/// otherwise it waits for [`start`].
pub(super) fn create(
    id: &str,
    bundle: &Path,
    state_root: &Path,
    io: Io,
    start: bool,
    preserve_fds: u32,
) -> Result<i32> {
    let (stdio, console) = match io {
        Io::Pipes {
            stdin,
            stdout,
            stderr,
        } => (
            Stdio {
                stdin: Some(stdin),
                stdout: Some(stdout),
                stderr: Some(stderr),
            },
            Console::None,
        ),
        Io::Console(s) => (Stdio::default(), Console::Connected(s)),
    };
    let opts = CreateOptions {
        id,
        bundle,
        state_root,
        stdio,
        console,
        pid_file: None,
        no_pivot: false,
        preserve_fds,
    };
    if start {
        runtime::run(opts)
    } else {
        runtime::create(opts)
    }
}

pub(super) fn start(state_root: &Path, id: &str) -> Result<()> {
    runtime::start(state_root, id)
}

/// Forget the runtime's state of a stopped container (poststop hooks run).
pub(super) fn delete(state_root: &Path, id: &str) {
    if let Err(e) = runtime::delete(state_root, id, true) {
        debug!("runtime delete {id}: {e:#}");
    }
    let _ = std::fs::remove_dir_all(state_root.join(id));
}
