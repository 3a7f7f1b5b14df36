//! seccomp: podman's default profile, docker/OCI profile files
//! ([`profile`]), and our own compiler from the spec's `linux.seccomp` to
//! classic BPF ([`bpf`]).

mod bpf;
mod profile;

pub use bpf::{compile, filter_flags, install, install_program};
pub use profile::{default_profile, load_profile, DEFAULT_PROFILE_SHA256, DEFAULT_PROFILE_VERSION};
