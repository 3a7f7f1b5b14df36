//! Images and registries: references, short-name resolution, credentials,
//! TLS, pulling, login, and the operations on local images. Operations take
//! typed options and return data; the CLI parses flags and prints.

pub mod archive;
mod archive_gzip;
mod archive_history;
mod archive_read;
pub(crate) mod archive_tar;
pub mod auth;
mod client;
pub mod commit;
mod local;
mod login;
pub mod manifest;
pub mod manifest_list;
pub mod mount;
mod pull;
mod push;
pub mod reference;
pub mod registries;
pub mod scp;
mod search;
pub mod tls;
pub mod transport;

use anyhow::Result;
use std::path::PathBuf;

pub use archive_history::{history, tree, what_requires, HistoryRow, TreeLayer};
pub use local::prune_images_matching;
pub use local::{
    created_rfc3339, created_secs, find_image, inspect_data, labels, list_images,
    normalize_local_name, prune_images, remove_images, remove_images_and_parents, repo_digests,
    tag_image, untag_image, ImageFilter, ImageSummary, PruneOptions, Removal, RemoveOptions,
};
pub use login::{
    login, logout, stored_login, LoginEvent, LoginOptions, LoginPrompt, LoginReport, LogoutOptions,
    LogoutReport,
};
pub use manifest::host_arch;
pub use pull::{ensure_image, pull, remote_digest, BlobProgress, PullProgress, PullStep};
pub use push::{
    needs_userns as push_needs_userns, push, BlobOutcome, Destination, LayerCompression,
    PushFormat, PushOptions, PushProgress, PushReport, PushStep,
};
pub use search::{search, SearchOptions, SearchResult};

/// A username and, maybe, a password given for a registry (`--creds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPass {
    pub username: String,
    pub password: Option<auth::Secret>,
}

/// How to reach registries: shared by pull, login, run, create.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// The authentication file (None: the default ones).
    pub authfile: Option<PathBuf>,
    /// A directory with certificates (*.crt, *.cert, *.key) for the registry.
    pub cert_dir: Option<PathBuf>,
    /// Require HTTPS and verify certificates (None: as registries.conf says).
    pub tls_verify: Option<bool>,
    /// Credentials to use instead of the stored ones.
    pub creds: Option<UserPass>,
}

/// Which image of a multi-platform index to pick. Each part not given is
/// this host's (os: linux); the parts override `spec`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Platform {
    /// OS/ARCH[/VARIANT], checked when a pull needs it.
    pub spec: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub variant: Option<String>,
}

/// What a pull needs besides the name.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub registry: RegistryOptions,
    pub platform: Platform,
}

/// When `run`/`create` pull the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    /// Only when there is no local image of that name.
    Missing,
    /// Never: the local image or an error.
    Never,
    /// When the registry has a newer one (rpod: always).
    Newer,
}

/// The docker-like JSON of one image, as `image inspect` prints it.
pub fn inspect_value(
    store: &crate::storage::Store,
    rec: &crate::storage::ImageRecord,
) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(local::inspect_data(store, rec))?)
}
