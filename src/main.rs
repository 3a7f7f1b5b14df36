//! rpod: rootless, daemonless containers.
//!
//! `main` only parses the command line, runs the command and turns the result
//! into an exit code. Each concept lives in its own module; see README.md
//! ("Where things live").

#![deny(unsafe_code)]

#[macro_use]
mod log;

mod cli;
mod container;
mod error;
mod image;
mod monitor;
mod network;
mod options;
mod rootfs;
mod runtime;
mod storage;
mod sys;
mod systemd;
mod time;
mod userns;

fn main() {
    let code = match cli::run() {
        Ok(()) => 0,
        Err(err) => {
            let (code, line) = error::classify(&err);
            if let Some(line) = line {
                eprintln!("{line}");
            }
            code
        }
    };
    std::process::exit(code);
}
