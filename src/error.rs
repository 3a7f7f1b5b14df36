//! Exit codes and the errors that carry them.
//!
//! Everything inside rpod returns `anyhow::Result`, with `.context(...)` at each
//! layer so that a failure reads as one line: "pulling docker.io/library/alpine:
//! layer sha256:…: digest mismatch". `main` turns the error into an exit code:
//! 125 for rpod's own failures unless the chain carries a [`Coded`] error or an
//! [`ExitStatus`].

use std::fmt;

/// rpod itself failed (podman's and docker's convention).
pub const EXIT_RPOD: i32 = 125;
/// The container command exists but could not be invoked.
pub const EXIT_CANNOT_INVOKE: i32 = 126;
/// The container command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// An error that must end the process with a specific exit code (126, 127, …).
#[derive(Debug)]
pub struct Coded {
    pub code: i32,
    pub msg: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Coded {}

/// Build an error that exits with `code`.
pub fn coded(code: i32, msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        msg: msg.into(),
    })
}

/// Not a failure: the process should exit quietly with this status, e.g. the
/// status of a container that `rpod run` waited for.
#[derive(Debug)]
pub struct ExitStatus(pub i32);

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for ExitStatus {}

/// Shorthand for returning a container's exit status through `main`.
pub fn exit_status(code: i32) -> anyhow::Error {
    anyhow::Error::new(ExitStatus(code))
}

/// What `main` does with an error: the exit code and the line to print, if any.
pub fn classify(err: &anyhow::Error) -> (i32, Option<String>) {
    if let Some(ExitStatus(code)) = err.downcast_ref::<ExitStatus>() {
        return (*code, None);
    }
    for cause in err.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            // A closed pipe downstream (`rpod images | head`) is a clean exit.
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return (0, None);
            }
        }
    }
    let code = err
        .chain()
        .find_map(|c| c.downcast_ref::<Coded>().map(|c| c.code))
        .unwrap_or(EXIT_RPOD);
    (code, Some(format!("Error: {err:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn plain_errors_exit_125_with_context_on_one_line() {
        let e = anyhow::anyhow!("digest mismatch").context("pulling alpine");
        assert_eq!(
            classify(&e),
            (125, Some("Error: pulling alpine: digest mismatch".into()))
        );
    }

    #[test]
    fn coded_errors_keep_their_code_under_context() {
        let e = Err::<(), _>(coded(127, "sh2: executable file not found in $PATH"))
            .context("starting container")
            .unwrap_err();
        assert_eq!(classify(&e).0, 127);
    }

    #[test]
    fn exit_status_is_silent() {
        assert_eq!(classify(&exit_status(3)), (3, None));
    }

    #[test]
    fn broken_pipe_is_clean() {
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing image list");
        assert_eq!(classify(&e), (0, None));
    }
}
