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

use event_loop::Args;
use rpod::monitor::{attach, event_loop};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

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
    let code = lp.run();

    // Hand the end back to rpod, with the clients still waiting for EXIT.
    lp.out = None;
    lp.err = None;
    lp.stdin = None;
    let mut keep: Vec<i32> = lp.clients.iter().map(|c| c.as_raw_fd()).collect();
    let clients = keep
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",");
    keep.push(lp.listener.as_raw_fd());
    for fd in keep {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        );
    }
    let mut args: Vec<String> = kv
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "out" | "err" | "in" | "hold_ms"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    args.extend([
        "out=-1".to_string(),
        "err=-1".to_string(),
        "in=-1".to_string(),
        "hold_ms=0".to_string(),
        format!("code={code}"),
        format!("clients={clients}"),
    ]);
    let rpod = a.get("rpod").unwrap_or("rpod").to_string();
    let err = std::process::Command::new(&rpod)
        .arg("__monitor-finish")
        .args(&args)
        .exec();
    // rpod is gone (upgraded or removed): the clients still learn the code;
    // `rpod ps` reconciles the state.
    eprintln!("rpod-monitor: exec {rpod}: {err}");
    for c in &lp.clients {
        let _ = event_loop::send_blocking(c, attach::EXIT, &attach::i32_payload(code));
    }
}
