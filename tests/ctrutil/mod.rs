//! Helpers shared by the container tests (containers.rs, monitor.rs,
//! reliability.rs): output decoding, state probes and the leak check that
//! follows every scenario.
#![allow(dead_code)]

use crate::common::Env;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh environment (the harness installs the small monitor beside rpod).
pub fn new_env(name: &str) -> Env {
    Env::new(name)
}

/// A fresh environment with `alpine` already pulled.
pub fn env_with_alpine(name: &str) -> Env {
    let env = new_env(name);
    env.rpod_ok(&["pull", "-q", "alpine"]);
    env
}

pub fn store_root(env: &Env) -> PathBuf {
    env.home.join(".local/share/rpod")
}

pub fn run_root(env: &Env) -> PathBuf {
    env.runtime_dir.join("rpod")
}

fn entries(dir: PathBuf) -> Vec<String> {
    std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// `{{.Field}}` of one container through `container inspect`.
pub fn field(env: &Env, ctr: &str, tmpl: &str) -> String {
    env.rpod_ok(&["container", "inspect", "--format", tmpl, ctr])
        .trim()
        .to_string()
}

/// Poll `f` until it returns true or `secs` pass.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Host processes whose command line contains `marker` (containers' own
/// processes: tests give them a unique argument, e.g. `sleep 4242017`).
pub fn procs_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = state
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().starts_with('Z'))
            .unwrap_or(false);
        if cmd.contains(marker) && !zombie {
            found.push(format!("{pid}: {cmd}"));
        }
    }
    found
}

/// Nothing of this environment's containers is left: no containers in
/// `ps -a`, no container or runtime dirs, no names, no monitor, fuse or
/// container process (`markers`), no host mount under the env.
pub fn assert_clean(env: &Env, markers: &[&str]) {
    let ps = env.rpod_ok(&["ps", "-a", "-q"]);
    assert_eq!(ps.trim(), "", "containers left in ps -a");
    let ok = eventually(10, || {
        env.leftover_processes().is_empty() && markers.iter().all(|m| procs_with(m).is_empty())
    });
    assert!(
        ok,
        "processes left: {:?} {:?}",
        env.leftover_processes(),
        markers
            .iter()
            .flat_map(|m| procs_with(m))
            .collect::<Vec<_>>()
    );
    // A --rm monitor deletes the files just after its client returned.
    let all = |d: PathBuf| -> Vec<String> {
        std::fs::read_dir(&d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    eventually(10, || {
        all(store_root(env).join("containers")).is_empty()
            && all(run_root(env).join("containers")).is_empty()
    });
    let ctrs = all(store_root(env).join("containers"));
    assert!(ctrs.is_empty(), "container dirs left: {ctrs:?}");
    let run = all(run_root(env).join("containers"));
    assert!(run.is_empty(), "runtime dirs left: {run:?}");
    let names = entries(store_root(env).join("container-names"));
    assert!(names.is_empty(), "names left: {names:?}");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let dir = env.dir.to_string_lossy().to_string();
    assert!(
        !mounts.lines().any(|l| l.contains(&dir)),
        "mounts left under {dir}"
    );
}

/// Removes every container of `env` when dropped, so a failing test does
/// not leave container processes behind (Env's own drop only knows the
/// processes whose environment points into it).
pub struct Reaper<'a>(pub &'a Env);

impl Drop for Reaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.rpod(&["rm", "-a", "-f", "-t", "0"]);
    }
}
