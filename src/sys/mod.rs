//! The one place for `unsafe` and raw syscalls. Everything else in rpod calls
//! through these safe wrappers (the crate denies `unsafe_code` elsewhere).
#![allow(unsafe_code)]
pub mod bpf;
pub mod exe;
pub mod fds;
pub mod fsx;
pub mod inroot;
pub mod netfd;
pub mod pidfd;
pub mod pump;
pub mod runtime;
pub mod seccomp;
pub mod sock;
pub mod tty;
pub mod userns;
pub mod xattr;
