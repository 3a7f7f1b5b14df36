//! Our in-process OCI runtime: the runtime-spec lifecycle (create, start,
//! state, kill, delete, exec, ps, pause, resume, update) on nix/libc, driven by
//! a config.json.

pub mod capabilities;
pub mod seccomp;
pub mod spec;
pub mod user;
