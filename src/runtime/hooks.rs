//! OCI hooks: each runs with the container's state JSON on stdin, with only
//! the env the spec gives it, and is killed at its timeout.

use super::state::State;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `hooks` in order; the first failure stops and fails the whole step.
pub fn run(kind: &str, hooks: &[Hook], state: &State) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_vec(state)?;
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, &json).with_context(|| format!("{kind} hook #{i} ({})", h.path().display()))?;
    }
    Ok(())
}

/// Poststop hooks: a failure is worth a warning, never a failed delete.
pub fn run_warn(kind: &str, hooks: &[Hook], state: &State) {
    if let Err(e) = run(kind, hooks, state) {
        warn!("{e:#}");
    }
}

fn run_one(h: &Hook, state_json: &[u8]) -> Result<()> {
    let args = h.args().as_deref().unwrap_or(&[]);
    let mut cmd = Command::new(h.path());
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or(&[]) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        cmd.env(k, v);
    }
    // A hook's output is diagnostics: keep it off our stdout, which callers
    // of `state`/`list` parse.
    let err = std::io::stderr().as_fd().try_clone_to_owned().ok();
    cmd.stdin(Stdio::piped())
        .stdout(err.map_or(Stdio::inherit(), Stdio::from))
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().context("starting the hook")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin; that is not an error.
        let _ = stdin.write_all(state_json);
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut nap = Duration::from_millis(1);
    let status = loop {
        if let Some(st) = child.try_wait().context("waiting for the hook")? {
            break st;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {} s", h.timeout().unwrap_or(0));
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(c), _) => bail!("exited with status {c}"),
        (_, Some(s)) => bail!("killed by signal {s}"),
        _ => bail!("failed: {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::Status;
    use super::*;

    fn state() -> State {
        State {
            oci_version: "1.0.2".into(),
            id: "hooked".into(),
            pid: 1,
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "x".into(),
            owner: String::new(),
            annotations: Default::default(),
        }
    }

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn hooks_get_state_on_stdin_args_and_env() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let h = hook(&format!(
            r#"{{"path": "/bin/sh", "args": ["sh", "-c", "cat > {0}; echo \"$0 $FOO\" >> {0}", "a1"],
                "env": ["FOO=bar"]}}"#,
            out.display()
        ));
        run("prestart", &[h], &state()).unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        assert!(
            got.starts_with(r#"{"ociVersion":"1.0.2","id":"hooked""#),
            "{got}"
        );
        assert!(got.ends_with("}a1 bar\n"), "{got}");
    }

    #[test]
    fn failing_and_slow_hooks_fail_with_names() {
        let fail = hook(r#"{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}"#);
        let e = run("createRuntime", &[fail], &state()).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "createRuntime hook #0 (/bin/sh): exited with status 3"
        );
        let slow = hook(r#"{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}"#);
        let t = Instant::now();
        let e = run("poststart", &[slow], &state()).unwrap_err();
        assert!(format!("{e:#}").ends_with("timed out after 1 s"));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
