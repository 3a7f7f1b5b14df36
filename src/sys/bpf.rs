//! bpf(2) for the cgroup v2 device filter: load a BPF_PROG_TYPE_CGROUP_DEVICE
//! program and attach it to a cgroup directory (BPF_F_ALLOW_MULTI), taking
//! away the programs attached there before, as runc does on create and
//! update. The program itself is made in `runtime::devfilter`.

use anyhow::{bail, Context, Result};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// `struct bpf_insn`: opcode, dst (low nibble) and src (high nibble)
/// registers, offset, immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: attr is a live, initialised #[repr(C)] prefix of union
    // bpf_attr of the given size; the kernel zero-extends the rest. Any
    // pointers inside it point at buffers the caller keeps alive.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_long,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

fn fd_from(r: libc::c_long) -> OwnedFd {
    // SAFETY: r is a new file descriptor the kernel returned to us.
    unsafe { OwnedFd::from_raw_fd(r as i32) }
}

/// Load `insns` as a cgroup device program; on a verifier refusal the
/// error carries the verifier's log.
pub fn load_device_program(insns: &[Insn]) -> Result<OwnedFd> {
    let license = c"Apache";
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"rpod_devices");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(fd_from(fd)),
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::EACCES) =>
        {
            // Again with the verifier's log, to say why.
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let again = bpf(BPF_PROG_LOAD, &mut attr);
            if let Ok(fd) = again {
                return Ok(fd_from(fd));
            }
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            Err(e).with_context(|| format!("loading the device filter (verifier: {})", text.trim()))
        }
        Err(e) => Err(e).context("loading the device filter (bpf BPF_PROG_LOAD)"),
    }
}

/// The ids of the device programs attached to the cgroup at `dir_fd` itself.
fn attached(dir_fd: &OwnedFd) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    for _ in 0..10 {
        let mut q = QueryAttr {
            target_fd: dir_fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut q) {
            Ok(_) => {
                ids.truncate(q.prog_cnt as usize);
                return Ok(ids);
            }
            // More than we had room for: prog_cnt says how many.
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                ids = vec![0u32; q.prog_cnt as usize + 8];
            }
            Err(e) => return Err(e).context("listing the device filters (bpf BPF_PROG_QUERY)"),
        }
    }
    bail!("listing the device filters: the list keeps changing")
}

/// Attach `prog` to the cgroup directory `dir` and detach every device
/// program attached there before. Between the two both apply, so access
/// is never wider than either list allows.
pub fn attach_device_program(dir: &Path, prog: &OwnedFd) -> Result<()> {
    let dir_fd: OwnedFd = std::fs::File::open(dir)
        .with_context(|| format!("opening cgroup {}", dir.display()))?
        .into();
    let old = attached(&dir_fd)?;
    let mut old_fds = Vec::new();
    for id in old {
        let mut a = GetFdAttr {
            prog_id: id,
            ..Default::default()
        };
        match bpf(BPF_PROG_GET_FD_BY_ID, &mut a) {
            Ok(fd) => old_fds.push(fd_from(fd)),
            // Gone meanwhile, or not ours to see (an LSM): it only ever
            // restricts, so it may stay.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT) | Some(libc::EPERM) | Some(libc::EACCES)
                ) => {}
            Err(e) => return Err(e).context("opening an old device filter"),
        }
    }
    let mut at = AttachAttr {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut at).with_context(|| {
        format!(
            "attaching the device filter to {} (bpf BPF_PROG_ATTACH)",
            dir.display()
        )
    })?;
    for fd in old_fds {
        let mut d = AttachAttr {
            target_fd: dir_fd.as_raw_fd() as u32,
            attach_bpf_fd: fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        match bpf(BPF_PROG_DETACH, &mut d) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("detaching the old device filter from {}", dir.display())
                })
            }
        }
    }
    Ok(())
}

/// How many device programs are attached to the cgroup `dir` itself.
pub fn device_programs_attached(dir: &Path) -> Result<usize> {
    let dir_fd: OwnedFd = std::fs::File::open(dir)
        .with_context(|| format!("opening cgroup {}", dir.display()))?
        .into();
    Ok(attached(&dir_fd)?.len())
}
