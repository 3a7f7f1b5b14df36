//! The errors the library reports by what went wrong.
//!
//! Everything inside rpod returns `anyhow::Result`, with `.context(...)` at each
//! layer so that a failure reads as one line: "pulling docker.io/library/alpine:
//! layer sha256:…: digest mismatch". Where a caller must tell one failure from
//! another (a missing container that `--ignore` skips, a transient network
//! error worth a retry, a command the container can't run), the failure at the
//! bottom of the chain is an [`Error`]; [`find`] digs it out from under any
//! context. No error is ever recognised by its text.
//!
//! The library never picks a process exit code: the CLI maps these errors to
//! podman's codes in one place (`src/cli/exit.rs`). The only exit statuses the
//! library makes are the container process's own
//! (`runtime::process::failed_status`).

use std::error::Error as StdError;

/// What kind of object was not found or is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A container of rpod's store (podman's "no such container").
    Container,
    /// An image in the local store.
    Image,
    /// A container of the OCI runtime (`rpod oci`, runc's state).
    OciContainer,
    /// A named volume.
    Volume,
    /// A pod.
    Pod,
    /// A network (`rpod network`).
    Network,
}

/// A failure a caller may need to tell from others. The texts are podman's
/// (or runc's), as the user sees them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such container, image, ….
    #[error("{}", not_found_text(*.kind, .name))]
    NotFound { kind: Kind, name: String },

    /// The object is used by others and can't be removed without force.
    #[error("{}", in_use_text(*.kind, .name, .users))]
    InUse {
        kind: Kind,
        name: String,
        /// Who uses it (container ids).
        users: Vec<String>,
    },

    /// The container is not in a state that allows the operation (podman's
    /// ErrCtrStateInvalid): the text says what was asked and the state.
    #[error("{0}: container state improper")]
    ContainerState(String),

    /// The container's command does not exist (runc's and podman's 127
    /// case). The text names it. Its fields do not survive the trip from the
    /// container's init to rpod (the sync socket carries text), so it is text.
    #[error("{0}")]
    CommandNotFound(String),

    /// The container's process can't be started: its command is not
    /// executable, or setting its root up was refused (a mount target
    /// swapped for a symlink, a cwd outside the root): podman's 126 case.
    #[error("{0}")]
    CannotInvoke(String),

    /// The registry refused the credentials or wants some (401/403).
    /// `message` is the one line the user sees: podman's "invalid
    /// username/password" for `login` ([`Error::unauthorized`]); for pull,
    /// push and search it names the registry and the registry's own words.
    #[error("{message}")]
    Unauthorized { registry: String, message: String },

    /// The network, a registry's 5xx or 429, a short read: worth another try.
    #[error("{0}")]
    Transient(String),

    /// Content that is wrong (a digest mismatch, more bytes than declared, a
    /// registry's refusal): never worth a retry.
    #[error("{0}")]
    BadContent(String),
}

fn not_found_text(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Container => {
            format!("no container with name or ID \"{name}\" found: no such container")
        }
        Kind::Image => format!("{name}: image not known"),
        Kind::OciContainer => format!("container \"{name}\" does not exist"),
        Kind::Volume => format!("no volume with name {name:?} found: no such volume"),
        Kind::Pod => format!("no pod with name or ID {name} found: no such pod"),
        Kind::Network => {
            format!("unable to find network with name or ID {name}: network not found")
        }
    }
}

fn in_use_text(kind: Kind, name: &str, users: &[String]) -> String {
    let users = users.join(", ");
    match kind {
        Kind::Image => format!(
            "image used by {users}: image is in use by a container: consider listing external \
             containers and force-removing image"
        ),
        Kind::Container | Kind::OciContainer | Kind::Pod => {
            format!("container {name} is in use by {users}")
        }
        Kind::Volume => format!(
            "volume {name} is being used by the following container(s): {users}: volume is being used"
        ),
        Kind::Network => format!(
            "\"{name}\" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used"
        ),
    }
}

impl Error {
    /// A missing `kind` named `name`, as an `anyhow::Error`.
    pub fn not_found(kind: Kind, name: impl Into<String>) -> anyhow::Error {
        Error::NotFound {
            kind,
            name: name.into(),
        }
        .into()
    }

    /// `registry` refused the credentials, in podman's words for `login`.
    pub fn unauthorized(registry: impl Into<String>) -> anyhow::Error {
        Error::Unauthorized {
            registry: registry.into(),
            message: "invalid username/password".into(),
        }
        .into()
    }

    /// Whether this is a missing object of `kind`.
    pub fn is_not_found(&self, kind: Kind) -> bool {
        matches!(self, Error::NotFound { kind: k, .. } if *k == kind)
    }

    /// Worth another try.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient(_))
    }
}

/// The [`Error`] in `e`'s chain, under any context, also inside an
/// `std::io::Error` (a reader's error that went through a decompressor or a
/// tar parser). The outermost one if there are several.
pub fn find(e: &anyhow::Error) -> Option<&Error> {
    e.chain().find_map(cause::<Error>)
}

/// The first `T` in the chain that starts at `e`, looking also inside the
/// payload of each `std::io::Error` (whose `source()` skips it), e.g. a
/// TLS error under a connector's io::Error under an HTTP client's error.
pub fn cause<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(x) = c.downcast_ref::<T>() {
            return Some(x);
        }
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(x) = inner.and_then(|i| cause::<T>(i)) {
            return Some(x);
        }
        cur = c.source();
    }
    None
}

/// Whether `e` is (or wraps) a missing object of `kind`: what `--ignore` skips.
pub fn is_not_found(e: &anyhow::Error, kind: Kind) -> bool {
    find(e).is_some_and(|x| x.is_not_found(kind))
}

/// An error as one line for another rpod process: the container's init to
/// rpod over the sync socket, the monitor to the `start` that spawned it.
/// "E<tag> <text>": the text is the whole chain; the tag keeps the variant
/// that must survive the trip (what the container's command did).
pub fn to_wire(e: &anyhow::Error) -> String {
    let tag = match find(e) {
        Some(Error::CommandNotFound(_)) => "command-not-found",
        Some(Error::CannotInvoke(_)) => "cannot-invoke",
        _ => "-",
    };
    format!("E{tag} {e:#}").replace('\n', " ")
}

/// The error [`to_wire`] sent.
pub fn from_wire(line: &str) -> anyhow::Error {
    let Some(rest) = line.strip_prefix('E') else {
        return anyhow::anyhow!("unexpected message from another rpod process: {line}");
    };
    let (tag, msg) = rest.split_once(' ').unwrap_or((rest, ""));
    let msg = msg.to_string();
    match tag {
        "command-not-found" => Error::CommandNotFound(msg).into(),
        "cannot-invoke" => Error::CannotInvoke(msg).into(),
        _ => anyhow::Error::msg(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn texts_are_podmans() {
        assert_eq!(
            Error::not_found(Kind::Container, "web").to_string(),
            "no container with name or ID \"web\" found: no such container"
        );
        assert_eq!(
            Error::not_found(Kind::Image, "nosuch").to_string(),
            "nosuch: image not known"
        );
        let e = Error::ContainerState("cannot remove container x as it is running".into());
        assert_eq!(
            e.to_string(),
            "cannot remove container x as it is running: container state improper"
        );
    }

    #[test]
    fn found_under_context_and_inside_io_errors() {
        let e = Err::<(), _>(Error::not_found(Kind::Container, "nope"))
            .context("stopping nope")
            .unwrap_err();
        assert!(is_not_found(&e, Kind::Container));
        assert!(!is_not_found(&e, Kind::Image));
        assert!(!is_not_found(
            &anyhow::anyhow!("no such container"),
            Kind::Container
        ));
        // A reader's typed error, wrapped by a parser into another io::Error.
        let inner = std::io::Error::other(Error::Transient("truncated".into()));
        let outer = std::io::Error::new(inner.kind(), inner);
        let e = anyhow::Error::new(outer).context("unpacking");
        assert!(find(&e).is_some_and(Error::is_transient));
    }

    #[test]
    fn the_wire_keeps_what_the_command_did() {
        let e = anyhow::Error::new(Error::CommandNotFound(
            "executable file `nope` not found in $PATH".into(),
        ))
        .context("starting the container process");
        let back = from_wire(&to_wire(&e));
        assert!(matches!(find(&back), Some(Error::CommandNotFound(_))));
        assert_eq!(format!("{back:#}"), format!("{e:#}"));
        let back = from_wire(&to_wire(&anyhow::anyhow!("mount failed\nsecond")));
        assert!(find(&back).is_none());
        assert_eq!(back.to_string(), "mount failed second");
    }
}
