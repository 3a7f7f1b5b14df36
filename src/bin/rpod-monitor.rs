//! rpod-monitor: the long-lived half of rpod's per-container monitor.
//!
//! `rpod __monitor` sets a container up (user and mount namespaces, rootfs,
//! runtime, network) and then execs this small binary, which only moves the
//! container's output to its log and attach clients and waits for its exit.
//! It carries none of rpod's setup code, so a running container costs less
//! memory here than rpod itself would (the target is conmon's). When the
//! container has exited it execs rpod back (`__monitor-finish`) to record
//! the exit and clean up. rpod runs the same loop itself when this binary
//! is not installed beside it. Both run `rpod::monitor::event_loop`.
//!
//! An initialized container's monitor (`rpod init`) waits here too
//! (`init_listen=`): for `start` on the init socket, when it execs rpod
//! (`__monitor-start`) to start the program and then this binary again for
//! the loop; or for the init's death (`stop`, `rm`), then as after a run.

use event_loop::{Args, Waited};
use rpod::monitor::{attach, event_loop, FINISH_ARG, START_ARG};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::time::Instant;

fn main() {
    let kv: Vec<(String, String)> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let a = Args(&kv);
    let (root, id) = match (a.get("root"), a.get("id")) {
        (Ok(r), Ok(i)) => (r.to_string(), i.to_string()),
        _ => {
            eprintln!("rpod-monitor: started by rpod only (missing root= or id=)");
            std::process::exit(125);
        }
    };
    let began = Instant::now();
    let log = std::path::Path::new(&root)
        .join("containers")
        .join(&id)
        .join("ctr.log");
    let mut lp = match a.to_loop(&log) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rpod-monitor: {e:#}");
            std::process::exit(125);
        }
    };
    let _ = nix::sys::prctl::set_child_subreaper(true);
    if a.get("init_listen").is_ok() {
        wait_for_start(&a, &kv, lp, began);
        return;
    }
    let code = lp.run();
    finish(&a, &kv, lp, code);
}

/// An initialized container (`rpod init`): wait for `start` or the init's
/// death with the init socket (`init_listen=`, at `init_sock=`) and the
/// container's fds, then exec rpod back for the step that needs the library:
/// `__monitor-start` (it answers the `start`, then execs this binary again
/// for the loop) or `__monitor-finish`.
fn wait_for_start(a: &Args, kv: &[(String, String)], lp: event_loop::Loop, began: Instant) {
    let listener = match a.fd("init_listen") {
        Ok(Some(fd)) => std::os::unix::net::UnixListener::from(fd),
        _ => {
            eprintln!("rpod-monitor: bad init_listen=");
            std::process::exit(125);
        }
    };
    let sock = std::path::PathBuf::from(a.get("init_sock").unwrap_or_default());
    match event_loop::wait_for_start(listener, &sock, lp.pid, lp.pid_start) {
        Waited::Died(code) => finish(a, kv, lp, code),
        Waited::Start { mut conn, attach } => {
            // `--timeout` counts from the setup, as it does without this binary.
            let timeout_ms = match a.num("timeout_ms").unwrap_or(0) {
                0 => 0,
                ms => (ms - began.elapsed().as_millis() as i64).max(1),
            };
            let mut keep: Vec<RawFd> = [&lp.out, &lp.err, &lp.stdin]
                .into_iter()
                .flatten()
                .map(|f| f.as_raw_fd())
                .collect();
            keep.extend([lp.listener.as_raw_fd(), conn.as_raw_fd()]);
            let err = exec_rpod(
                a,
                START_ARG,
                kv,
                &["timeout_ms"],
                vec![
                    format!("timeout_ms={timeout_ms}"),
                    format!("conn={}", conn.as_raw_fd()),
                    format!("attach={}", attach as u8),
                ],
                &keep,
            );
            // rpod is gone: nothing can run the program. End the init (the
            // state is reconciled as a dead monitor's) and say why.
            eprintln!("rpod-monitor: exec rpod: {err}");
            use std::io::Write;
            let _ = writeln!(conn, "E- starting the container: exec rpod: {err}");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(lp.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(lp.pid), None);
        }
    }
}

/// Hand the end back to rpod (`__monitor-finish`), with the clients still
/// waiting for EXIT.
fn finish(a: &Args, kv: &[(String, String)], mut lp: event_loop::Loop, code: i32) {
    lp.out = None;
    lp.err = None;
    lp.stdin = None;
    let mut keep: Vec<RawFd> = lp.clients.iter().map(|c| c.as_raw_fd()).collect();
    let clients = keep
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",");
    keep.push(lp.listener.as_raw_fd());
    let err = exec_rpod(
        a,
        FINISH_ARG,
        kv,
        &["out", "err", "in"],
        vec![
            "out=-1".to_string(),
            "err=-1".to_string(),
            "in=-1".to_string(),
            format!("code={code}"),
            format!("clients={clients}"),
        ],
        &keep,
    );
    // rpod is gone (upgraded or removed): the clients still learn the code;
    // `rpod ps` reconciles the state.
    eprintln!("rpod-monitor: exec rpod: {err}");
    for c in &lp.clients {
        let _ = event_loop::send_blocking(c, attach::EXIT, &attach::i32_payload(code));
    }
}

/// Exec rpod (`rpod=`) in `mode` with our arguments, less `drop` and the
/// ones that describe this image only, plus `extra`; `keep` survive the
/// exec. Returns only if the exec failed.
fn exec_rpod(
    a: &Args,
    mode: &str,
    kv: &[(String, String)],
    drop: &[&str],
    extra: Vec<String>,
    keep: &[RawFd],
) -> std::io::Error {
    for fd in keep {
        let _ = nix::fcntl::fcntl(
            *fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        );
    }
    let mut args: Vec<String> = kv
        .iter()
        .filter(|(k, _)| {
            !drop.contains(&k.as_str())
                && !matches!(k.as_str(), "hold_ms" | "init_listen" | "init_sock")
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    args.push("hold_ms=0".to_string());
    args.extend(extra);
    let rpod = a.get("rpod").unwrap_or("rpod").to_string();
    let err = std::process::Command::new(&rpod)
        .arg(mode)
        .args(&args)
        .exec();
    std::io::Error::new(err.kind(), format!("{rpod}: {err}"))
}
