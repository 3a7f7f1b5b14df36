//! The integration tests, one module per area, linked into one test binary
//! (`cargo test --test it`; one file, e.g. `cargo test --test it pull::`):
//! each runs the real `rpod` binary as the unprivileged test user against
//! the loopback registries of the test world (`tests/world/`). `common` is
//! the harness they share.

#![allow(unreachable_pub)] // the test modules share helpers with `pub`, not an API

mod common;

mod archives;
mod attack_devnodes;
mod attack_images;
mod attack_paths;
mod attack_runtime;
mod attack_state;
mod build;
mod build_cache;
mod build_flags;
mod build_jobs;
mod build_podman;
mod completions;
mod compose;
mod containers;
mod containers_conf;
mod ctr_init;
mod ctr_more;
mod data;
mod events;
mod exec_flags;
mod flag_parity;
mod flags_more;
mod generate_spec;
mod global_flags;
mod health;
mod image_mount;
mod image_scp;
mod images;
mod init_ctr;
mod kube;
mod kube_more;
mod kube_play;
mod login;
mod man;
mod manifest;
mod monitor;
mod network;
mod network_bridge;
mod network_life;
mod network_macvlan;
mod network_warm;
mod oci_conformance;
mod oci_spec;
mod packaging;
mod parity_small;
mod pod;
mod pod_more;
mod ps_flags;
mod pull;
mod push;
mod references;
mod reliability;
mod reliability_data;
mod restart;
mod run_flags;
mod run_flags2;
mod runtime;
mod secret;
mod security;
mod stats;
mod store;
mod system;
mod system_data;
mod systemd;
mod update;
mod volumes;
mod world;
