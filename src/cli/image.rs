//! Flags of the image and registry commands (`pull`, `images`, `rmi`, `tag`,
//! `login`, …). One definition per flag drives `--help`, the man pages and
//! the shell completions. The handlers live in `image_cmds`, the work in
//! `crate::image`.

use clap::{ArgAction, Args};
use std::path::PathBuf;

/// How to reach registries: shared by pull, login, run, create.
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryOpts {
    /// Path of the authentication file (default: ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Directory with certificates (*.crt, *.cert, *.key) to talk to the registry
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Require HTTPS and verify certificates (default: true, or as registries.conf says)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Credentials (USERNAME[:PASSWORD]) to use for the registry
    #[arg(long, value_name = "USER[:PASS]", hide_env_values = true)]
    pub creds: Option<String>,
}

/// Which image of a multi-platform index to pick.
#[derive(Args, Debug, Clone, Default)]
pub struct PlatformOpts {
    /// Platform of the image, OS/ARCH[/VARIANT] (default: this host's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    #[command(flatten)]
    pub parts: PlatformParts,
}

/// A platform's parts, one flag each (pull/run/create's and build's).
#[derive(Args, Debug, Clone, Default)]
pub struct PlatformParts {
    /// Architecture of the image (default: this host's)
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Operating system of the image (default: linux)
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Variant of the architecture (e.g. v8 for arm64)
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct PullArgs {
    /// Image references to pull (e.g. alpine, quay.io/ns/name:tag, name@sha256:…)
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// This is a Docker specific option and is a NOOP
    #[arg(long)]
    pub disable_content_trust: bool,
    /// Pull every tagged image in the repository (not supported yet: refused)
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
    #[command(flatten)]
    pub platform: PlatformOpts,
}

#[derive(Args, Debug, Clone)]
pub struct ImagesArgs {
    /// Only show images whose name matches (e.g. alpine, localhost:5000/*)
    #[arg(value_name = "IMAGE")]
    pub filter_name: Option<String>,
    /// Show all images, including intermediate and untagged ones
    #[arg(short, long)]
    pub all: bool,
    /// Print only image ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Show the manifest digests
    #[arg(long)]
    pub digests: bool,
    /// Do not truncate ids
    #[arg(long)]
    pub no_trunc: bool,
    /// Do not print the column headings
    #[arg(short, long)]
    pub noheading: bool,
    /// Output format: table, json, or a template such as '{{.Repository}}:{{.Tag}}'
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Filter output (dangling=true|false, reference=PATTERN, label=KEY[=VALUE])
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Display the image name history (the names the image has)
    #[arg(long)]
    pub history: bool,
    /// Sort by created (newest first), id, repository, size or tag
    #[arg(long, default_value = "created", value_name = "FIELD")]
    pub sort: String,
}

#[derive(Args, Debug, Clone)]
pub struct RmiArgs {
    /// Images to remove, by name, id or id prefix
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Remove all images
    #[arg(short, long)]
    pub all: bool,
    /// Remove the image even when it has several names, and the containers using it
    #[arg(short, long)]
    pub force: bool,
    /// Do not fail when an image does not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Do not remove dangling parent images (the step images of a build,
    /// removed with the image they were built for by default)
    #[arg(long)]
    pub no_prune: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TagArgs {
    /// The image to tag
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// New names for it
    #[arg(required = true, value_name = "TARGET_NAME")]
    pub targets: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UntagArgs {
    /// The image to untag
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Names to remove (default: all of them)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ImageInspectArgs {
    /// Images to inspect
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Format the output with a template (e.g. '{{.Id}}') or 'json'
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    /// Registry to log in to (default: the first unqualified-search registry)
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (visible in the process list: prefer --password-stdin)
    #[arg(short, long, hide_env_values = true)]
    pub password: Option<crate::image::auth::Secret>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
    /// Check whether credentials for the registry are stored, without logging in
    #[arg(long)]
    pub get_login: bool,
    /// Print the auth file used
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub registry_opts: RegistryOpts,
}

#[derive(Args, Debug, Clone)]
pub struct LogoutArgs {
    /// Registry to log out of
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// Remove the credentials of every registry
    #[arg(short, long)]
    pub all: bool,
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
}
