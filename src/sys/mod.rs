//! The one place for `unsafe` and raw syscalls. Everything else in rpod calls
//! through these safe wrappers (the crate denies `unsafe_code` elsewhere).
#![allow(unsafe_code)]
pub mod userns;
pub mod pidfd;
pub mod tty;
pub mod xattr;
pub mod fsx;
pub mod seccomp;
pub mod sock;
pub mod runtime;
pub mod netfd;
