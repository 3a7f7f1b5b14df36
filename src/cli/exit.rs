//! The one place that turns a failed command into rpod's exit code and the
//! line it prints.
//!
//! podman's codes: 125 when rpod itself failed, 126 when the container's
//! command can't be invoked, 127 when it does not exist, and a container's
//! own status where the command waits for one (`run`, `start -a`, `wait`…).
//! `rm` and `rmi` say more: 1 for an image that is not known, 2 for a
//! container that is running or an image in use. `rpod oci` follows runc: 1
//! for its own failures. A closed pipe downstream (`rpod images | head`) is a
//! clean exit.

use crate::error::{Error, Kind};
use std::fmt;

/// rpod itself failed (podman's and docker's convention).
pub const EXIT_RPOD: i32 = 125;
/// The container's command exists but could not be invoked.
pub const EXIT_CANNOT_INVOKE: i32 = 126;
/// The container's command was not found.
pub const EXIT_COMMAND_NOT_FOUND: i32 = 127;
/// rm/rmi: an image that is not known.
pub const EXIT_NO_SUCH: i32 = 1;
/// rm/rmi: a container running or an image in use.
pub const EXIT_IN_USE: i32 = 2;
/// runc's code for its own failures.
pub const EXIT_RUNC: i32 = 1;
/// podman's `exec` of a container that does not run.
pub const EXIT_EXEC_STATE: i32 = 255;

/// Whose exit codes a command follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    /// Every podman command: 125/126/127.
    Podman,
    /// podman's `rm` and `rmi`: also 1 and 2.
    Remove,
    /// `rpod oci`: runc's 1 instead of 125.
    Runc,
    /// podman's `exec`: a container that does not run is 255 (podman 4.3
    /// measured: "can only create exec sessions on running containers").
    Exec,
}

/// A command's failure, and whose codes to use for it.
#[derive(Debug)]
pub struct Failure {
    pub error: anyhow::Error,
    pub convention: Convention,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure {
            error,
            convention: Convention::Podman,
        }
    }
}

impl Failure {
    pub fn with(convention: Convention) -> impl FnOnce(anyhow::Error) -> Failure {
        move |error| Failure { error, convention }
    }
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

/// Several failures of one command over several objects (`rmi a b c`): each
/// is reported, the last as the result, and the exit code weighs them all.
#[derive(Debug)]
pub struct Several(pub Vec<anyhow::Error>);

impl fmt::Display for Several {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.last() {
            Some(e) => write!(f, "{e:#}"),
            None => f.write_str("no error"),
        }
    }
}

impl std::error::Error for Several {}

/// The exit code of one error.
fn code_of(err: &anyhow::Error, convention: Convention) -> i32 {
    if let Some(ExitStatus(code)) = err.downcast_ref::<ExitStatus>() {
        return *code;
    }
    let typed = crate::error::find(err);
    match (typed, convention) {
        (Some(Error::CommandNotFound(_)), _) => EXIT_COMMAND_NOT_FOUND,
        (Some(Error::CannotInvoke(_)), _) => EXIT_CANNOT_INVOKE,
        (
            Some(Error::NotFound {
                kind: Kind::Image | Kind::Container | Kind::Volume | Kind::Network,
                ..
            }),
            Convention::Remove,
        ) => EXIT_NO_SUCH,
        (Some(Error::InUse { .. } | Error::ContainerState(_)), Convention::Remove) => EXIT_IN_USE,
        (Some(Error::ContainerState(_)), Convention::Exec) => EXIT_EXEC_STATE,
        (_, Convention::Runc) => EXIT_RUNC,
        _ => EXIT_RPOD,
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// What `main` does with a failure: the exit code, and the lines to print
/// on stderr, if any.
pub fn outcome(f: &Failure) -> (i32, Option<String>) {
    let err = &f.error;
    if let Some(ExitStatus(code)) = err.downcast_ref::<ExitStatus>() {
        return (*code, None);
    }
    if let Some(Several(all)) = err.downcast_ref::<Several>() {
        // podman rmi: 2 if any was in use, else 1 if all were not known,
        // else the other failure's code.
        let codes: Vec<i32> = all.iter().map(|e| code_of(e, f.convention)).collect();
        let code = if codes.contains(&EXIT_IN_USE) {
            EXIT_IN_USE
        } else {
            codes
                .iter()
                .rev()
                .copied()
                .find(|c| *c != EXIT_NO_SUCH)
                .unwrap_or(EXIT_NO_SUCH)
        };
        let lines: Vec<String> = all.iter().map(|e| format!("Error: {e:#}")).collect();
        return (code, Some(lines.join("\n")));
    }
    if is_broken_pipe(err) {
        return (0, None);
    }
    (code_of(err, f.convention), Some(format!("Error: {err:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn podman(e: anyhow::Error) -> (i32, Option<String>) {
        outcome(&Failure::from(e))
    }

    fn with(c: Convention, e: anyhow::Error) -> i32 {
        outcome(&Failure {
            error: e,
            convention: c,
        })
        .0
    }

    #[test]
    fn plain_errors_exit_125_with_context_on_one_line() {
        let e = anyhow::anyhow!("digest mismatch").context("pulling alpine");
        assert_eq!(
            podman(e),
            (125, Some("Error: pulling alpine: digest mismatch".into()))
        );
    }

    #[test]
    fn the_container_command_gives_126_and_127_under_context() {
        let e = Err::<(), _>(anyhow::Error::new(Error::CommandNotFound(
            "executable file `sh2` not found in $PATH".into(),
        )))
        .context("starting container")
        .unwrap_err();
        assert_eq!(podman(e).0, 127);
        let e = anyhow::Error::new(Error::CannotInvoke("/etc: is a directory".into()));
        assert_eq!(podman(e), (126, Some("Error: /etc: is a directory".into())));
        // Also when it came over the wire from the container's init.
        let e = crate::error::from_wire(&crate::error::to_wire(&anyhow::Error::new(
            Error::CannotInvoke("x".into()),
        )));
        assert_eq!(with(Convention::Runc, e), 126);
    }

    #[test]
    fn exit_status_is_silent_in_every_convention() {
        assert_eq!(podman(exit_status(3)), (3, None));
        assert_eq!(with(Convention::Runc, exit_status(0)), 0);
        assert_eq!(with(Convention::Remove, exit_status(7)), 7);
    }

    #[test]
    fn broken_pipe_is_clean() {
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing image list");
        assert_eq!(podman(e), (0, None));
    }

    #[test]
    fn rm_and_rmi_say_1_and_2_others_do_not() {
        let missing = || Error::not_found(Kind::Image, "nosuch");
        let running = || {
            anyhow::Error::new(Error::ContainerState(
                "cannot remove container x as it is running".into(),
            ))
        };
        let in_use = || {
            anyhow::Error::new(Error::InUse {
                kind: Kind::Image,
                name: "alpine".into(),
                users: vec!["c0ffee".into()],
            })
        };
        assert_eq!(with(Convention::Remove, missing()), 1);
        assert_eq!(with(Convention::Remove, running()), 2);
        assert_eq!(with(Convention::Remove, in_use()), 2);
        // podman tag/kill: the same errors are rpod's 125.
        assert_eq!(with(Convention::Podman, missing()), 125);
        assert_eq!(with(Convention::Podman, running()), 125);
        // podman 4.3.1: `rm nosuch` exits 1, like `rmi nosuch`.
        let ctr = Error::not_found(Kind::Container, "web");
        assert_eq!(with(Convention::Remove, ctr), 1);
    }

    #[test]
    fn several_failures_weigh_all_and_print_each() {
        let several = |v: Vec<anyhow::Error>| anyhow::Error::new(Several(v));
        let missing = |n: &str| Error::not_found(Kind::Image, n);
        let in_use = || {
            anyhow::Error::new(Error::InUse {
                kind: Kind::Image,
                name: "a".into(),
                users: vec!["c".into()],
            })
        };
        let (code, lines) = outcome(&Failure {
            error: several(vec![missing("a"), missing("b")]),
            convention: Convention::Remove,
        });
        assert_eq!(code, 1);
        assert_eq!(
            lines.unwrap(),
            "Error: a: image not known\nError: b: image not known"
        );
        let code = |v| with(Convention::Remove, several(v));
        assert_eq!(code(vec![in_use(), missing("b")]), 2);
        assert_eq!(code(vec![missing("b"), in_use()]), 2);
        assert_eq!(code(vec![missing("b"), anyhow::anyhow!("disk full")]), 125);
        assert_eq!(code(vec![anyhow::anyhow!("disk full"), missing("b")]), 125);
    }

    #[test]
    fn runc_says_1_for_its_own_failures() {
        assert_eq!(with(Convention::Runc, anyhow::anyhow!("bad bundle")), 1);
        let gone = Error::not_found(Kind::OciContainer, "x");
        assert_eq!(with(Convention::Runc, gone), 1);
    }
}
