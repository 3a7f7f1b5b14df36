//! `exec` (a new process in a running container, through the runtime) and
//! `top` (its processes, read from /proc). The exec'd process talks through
//! our own stdio, as an attached container does; `top` returns its rows.

use super::opts;
use super::record::{self, Paths};
use crate::error::Error;
use crate::options::Options;
use crate::runtime::{Console, Stdio};
use crate::sys::{pump, tty};
use anyhow::{bail, Context, Result};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned().context("duplicating stdio")
}

/// How to run a process in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The container (name or id prefix).
    pub container: String,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Start it and return at once.
    pub detach: bool,
    /// Give it our stdin.
    pub interactive: bool,
    /// Give it a pseudo-terminal.
    pub tty: bool,
    /// KEY[=VALUE] variables to set (KEY alone: the host's value).
    pub env: Vec<String>,
    /// Files of such variables.
    pub env_file: Vec<PathBuf>,
    /// USER[:GROUP] to run as, looked up in the image (None: the container's).
    pub user: Option<String>,
    /// The working directory, absolute (None: the container's).
    pub workdir: Option<String>,
    /// The keys that detach from a terminal session (None: ctrl-p,ctrl-q).
    pub detach_keys: Option<String>,
}

/// How an exec'd process ended: None when detached, else its exit code
/// (128+N for a process killed by signal N).
pub type ExecEnd = Option<i32>;

/// No `userns::enter()` here: every rpod process that enters makes its own
/// namespace (same mappings), and a container's processes are only
/// reachable from the one its monitor made. The runtime joins that one
/// (we own it, so we may), so exec starts from the host's namespace.
pub fn exec(g: &Options, a: &ExecOptions) -> Result<ExecEnd> {
    // The helper we fork joins the container: it must not be running the
    // rpod binary itself, which a process inside could reach through
    // /proc/PID/exe (CVE-2019-5736).
    crate::sys::exe::reexec_sealed().context("re-executing rpod from a sealed copy of itself")?;
    let paths = Paths::new(g)?;
    let id = record::resolve(&paths, &a.container)?;
    let rec = record::load(&paths, &id)?;
    let st = record::observe(&paths, &id);
    if !st.is_running() {
        return Err(Error::ContainerState(
            "can only create exec sessions on running containers".into(),
        )
        .into());
    }
    let cfg_path = paths.ctr_dir(&id).join("config.json");
    let spec: oci_spec::runtime::Spec = serde_json::from_slice(
        &std::fs::read(&cfg_path).with_context(|| format!("reading {}", cfg_path.display()))?,
    )
    .with_context(|| format!("parsing {}", cfg_path.display()))?;
    let mut p = spec
        .process()
        .clone()
        .context("config.json has no process")?;

    let host_env = |k: &str| std::env::var(k).ok();
    let mut env = p.env().clone().unwrap_or_default();
    for kv in opts::build_env(&[], false, &a.env_file, &a.env, &host_env)? {
        // build_env adds a default PATH; keep the container's unless -e set one.
        if kv.starts_with("PATH=") && !a.env.iter().any(|e| e.starts_with("PATH=")) {
            continue;
        }
        opts::env_set(&mut env, kv);
    }
    if a.tty && !opts::env_has(&env, "TERM") {
        opts::env_set(&mut env, "TERM=xterm".into());
    }
    p.set_env(Some(env));
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(w) = &a.workdir {
        if !w.starts_with('/') {
            bail!("invalid --workdir {w:?}: it must be an absolute path");
        }
        p.set_cwd(w.into());
    }
    if let Some(u) = &a.user {
        let store = crate::storage::Store::open(g)?;
        let image = store
            .image_by_id(&rec.image_id)?
            .context("the container's image is no longer in local storage")?;
        let passwd = crate::rootfs::read_image_file(&store, &image, "/etc/passwd")?;
        let group = crate::rootfs::read_image_file(&store, &image, "/etc/group")?;
        let r = crate::runtime::user::resolve(u, &[], passwd.as_deref(), group.as_deref())?;
        let mut user = p.user().clone();
        user.set_uid(r.uid);
        user.set_gid(r.gid);
        user.set_additional_gids(Some(r.additional_gids.clone()));
        p.set_user(user);
    }
    let state_root = paths.run_dir(&id).join("runtime");
    let stdin_fd = if a.interactive {
        dup(std::io::stdin().as_fd())?
    } else {
        std::fs::File::open("/dev/null")?.into()
    };

    if a.tty {
        let size = tty::terminal_size();
        let ws = nix::pty::Winsize {
            ws_row: size.map(|s| s.rows).unwrap_or(24),
            ws_col: size.map(|s| s.cols).unwrap_or(80),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&ws, None).context("allocating a pseudo-terminal")?;
        // openpty sets no close-on-exec: no other child of ours may hold them.
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .context("setting close-on-exec on the pty")?;
        }
        let pid = crate::runtime::exec(
            &state_root,
            &id,
            &p,
            Stdio::default(),
            Console::PtySlave(pty.slave),
            a.detach,
        )?;
        if a.detach {
            return Ok(None);
        }
        let keys = pump::parse_detach_keys(a.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))?;
        proxy_pty(&pty.master, a.interactive, keys)?;
        return finish(pid).map(Some);
    }
    let stdio = Stdio {
        stdin: Some(stdin_fd),
        stdout: Some(dup(std::io::stdout().as_fd())?),
        stderr: Some(dup(std::io::stderr().as_fd())?),
    };
    let pid = crate::runtime::exec(&state_root, &id, &p, stdio, Console::None, a.detach)?;
    if a.detach {
        return Ok(None);
    }
    finish(pid).map(Some)
}

/// Wait for the process; its exit code.
fn finish(pid: i32) -> Result<i32> {
    loop {
        match nix::sys::wait::waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting for the exec'd process"),
        }
    }
}

/// Copy between our terminal and the pty master until the process closes
/// it or the user detaches.
fn proxy_pty(master: &OwnedFd, interactive: bool, keys: Vec<u8>) -> Result<()> {
    let s = pump::Session {
        stdin: interactive,
        raw: interactive && tty::stdin_is_tty(),
        detach_keys: keys,
        proxy: Vec::new(),
        tick: None,
        buf_size: 32 * 1024,
        input_max: 0,
    };
    pump::run(&s, &mut pump::PtyMaster::new(master.as_fd(), true))?;
    Ok(())
}

/// One `top` column (podman's ps(1)-style descriptors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopDescriptor {
    User,
    Pid,
    Ppid,
    /// pcpu or %cpu.
    Pcpu,
    Etime,
    Tty,
    Time,
    Args,
    Comm,
    Hpid,
    Huser,
    Group,
    Nice,
    Vsz,
    Rss,
}

impl TopDescriptor {
    /// The columns `top` shows without descriptors.
    pub const DEFAULT: [TopDescriptor; 8] = [
        TopDescriptor::User,
        TopDescriptor::Pid,
        TopDescriptor::Ppid,
        TopDescriptor::Pcpu,
        TopDescriptor::Etime,
        TopDescriptor::Tty,
        TopDescriptor::Time,
        TopDescriptor::Args,
    ];
}

fn fmt_dur(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}.0s")
    } else {
        format!("{s}.0s")
    }
}

/// A running container whose processes `top` lists.
pub struct TopTarget {
    id: String,
    st: record::State,
    state_root: PathBuf,
}

/// The running container `name` names.
pub fn top_target(g: &Options, name: &str) -> Result<TopTarget> {
    let paths = Paths::new(g)?;
    let id = record::resolve(&paths, name)?;
    let st = record::observe(&paths, &id);
    if !st.is_running() {
        return Err(
            Error::ContainerState("top can only be used on running containers".into()).into(),
        );
    }
    let state_root = paths.run_dir(&id).join("runtime");
    Ok(TopTarget { id, st, state_root })
}

/// The container's processes: one row per process, one value per descriptor.
pub fn top(t: &TopTarget, descs: &[TopDescriptor]) -> Vec<Vec<String>> {
    let (id, st, state_root) = (&t.id, &t.st, &t.state_root);
    let pids = crate::runtime::ps(state_root, id).unwrap_or_else(|_| vec![st.pid]);
    let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    // Host ids to the container's, through the init's maps as we see them.
    let map = |file: &str, host: &str| -> String {
        let Ok(h) = host.parse::<u64>() else {
            return host.to_string();
        };
        let text = std::fs::read_to_string(format!("/proc/{}/{file}", st.pid)).unwrap_or_default();
        for l in text.lines() {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if f.len() == 3 && h >= f[1] && h < f[1] + f[2] {
                return (f[0] + h - f[1]).to_string();
            }
        }
        host.to_string()
    };
    let mut rows = Vec::new();
    let all_pids = pids.clone();
    for pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let close = stat.rfind(')').unwrap_or(0);
        let comm = stat
            .get(stat.find('(').map(|i| i + 1).unwrap_or(0)..close)
            .unwrap_or("");
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let nspid = field("NSpid:")
            .last()
            .cloned()
            .unwrap_or_else(|| pid.to_string());
        let nsppid = {
            let pp = num(1);
            // The init's parent is the monitor, outside the container.
            if !all_pids.contains(&(pp as i32)) {
                "0".to_string()
            } else {
                std::fs::read_to_string(format!("/proc/{pp}/status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("NSpid:"))
                            .map(|v| v.split_whitespace().last().unwrap_or("0").to_string())
                    })
                    .filter(|_| pp > 0)
                    .unwrap_or_else(|| "0".into())
            }
        };
        let huid = field("Uid:").get(1).cloned().unwrap_or_default();
        let uid = map("uid_map", &huid);
        let gid = map(
            "gid_map",
            &field("Gid:").get(1).cloned().unwrap_or_default(),
        );
        let name_of = |id: &str| {
            if id == "0" {
                "root".to_string()
            } else {
                id.to_string()
            }
        };
        let cpu_secs = (num(11) + num(12)) as f64 / tick;
        let elapsed = (uptime - num(19) as f64 / tick).max(0.0);
        let args = if cmdline.is_empty() {
            format!("[{comm}]")
        } else {
            String::from_utf8_lossy(&cmdline)
                .trim_end_matches('\0')
                .replace('\0', " ")
        };
        let tty_nr = num(4);
        let row: Vec<String> = descs
            .iter()
            .map(|d| match d {
                TopDescriptor::User => name_of(&uid),
                TopDescriptor::Huser => huid.clone(),
                TopDescriptor::Group => name_of(&gid),
                TopDescriptor::Pid => nspid.clone(),
                TopDescriptor::Hpid => pid.to_string(),
                TopDescriptor::Ppid => nsppid.clone(),
                TopDescriptor::Pcpu => format!(
                    "{:.3}",
                    if elapsed > 0.0 {
                        cpu_secs * 100.0 / elapsed
                    } else {
                        0.0
                    }
                ),
                TopDescriptor::Etime => fmt_dur(elapsed as u64),
                TopDescriptor::Time => fmt_dur(cpu_secs as u64),
                TopDescriptor::Tty => {
                    if tty_nr == 0 {
                        "?".into()
                    } else {
                        format!("pts/{}", (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00))
                    }
                }
                TopDescriptor::Args => args.clone(),
                TopDescriptor::Comm => comm.to_string(),
                TopDescriptor::Nice => num(16).to_string(),
                TopDescriptor::Vsz => (num(20) / 1024).to_string(),
                TopDescriptor::Rss => (num(21) * 4).to_string(),
            })
            .collect();
        rows.push(row);
    }
    rows
}
