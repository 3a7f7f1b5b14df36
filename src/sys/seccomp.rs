//! seccomp(2) filter installation, and a fork helper to try filters in a
//! throwaway child (a filter can never be removed from a process).

use std::io;

/// SECCOMP_FILTER_FLAG_* values accepted by [`install_filter`].
pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;

/// Install a classic-BPF seccomp filter on the calling thread (all threads
/// with `FLAG_TSYNC`). Without no_new_privs this needs CAP_SYS_ADMIN in the
/// current user namespace.
pub fn install_filter(prog: &[seccompiler::sock_filter], flags: u32) -> io::Result<()> {
    let insns: Vec<libc::sock_filter> = prog
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(insns.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp filter too long"))?;
    let fprog = libc::sock_fprog {
        len,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fprog points at `insns`, which outlives the call; the kernel
    // copies the program before returning.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Run `f` in a forked child and return its exit code (128+N if killed by
/// signal N). For tests of filters that must not touch the caller.
#[cfg(test)]
pub fn run_in_child<F: FnOnce() -> i32>(f: F) -> io::Result<i32> {
    // SAFETY: the child only runs `f` and then _exit()s; it never returns into
    // the caller's frames.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: _exit is async-signal-safe and skips the parent's atexit work.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    loop {
        // SAFETY: plain waitpid on our own child with a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Ok(128 + libc::WTERMSIG(status))
    }
}

/// Test probe: syscall `nr` with all-zero arguments, returning its errno (0 on
/// success). Only for syscalls where zero arguments are harmless.
#[cfg(test)]
pub fn zero_arg_syscall_errno(nr: i64) -> i32 {
    // SAFETY: callers pass syscalls for which all-zero args touch no memory
    // of ours (they fail with EBADF/EINVAL or are denied by a filter).
    let rc = unsafe { libc::syscall(nr, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize) };
    if rc < 0 {
        io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// Test probe: syscall `nr` with integer arguments `a`, returning its errno
/// (0 on success). Only for calls whose arguments are no pointers into our
/// memory (or null ones the kernel checks before use).
#[cfg(test)]
pub fn syscall_errno(nr: i64, a: [usize; 6]) -> i32 {
    // SAFETY: callers pass integer (or null pointer) arguments only, so the
    // kernel reads or writes none of our memory.
    let rc = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if rc < 0 {
        io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// Test probe: a 32-bit (i386 ABI) syscall through `int 0x80`, which the
/// kernel reports to seccomp as AUDIT_ARCH_I386. Returns the errno or 0.
#[cfg(all(test, target_arch = "x86_64"))]
pub fn int80_syscall_errno(nr: u32, a0: u32) -> i32 {
    let mut ret: i64 = nr as i64;
    // SAFETY: only used with syscalls that take at most one integer argument;
    // int 0x80 clobbers nothing but eax (r8-r11 are preserved by the kernel).
    unsafe {
        // rbx is reserved by LLVM: swap the argument in and out around the call.
        std::arch::asm!("xchg rbx, {a0}", "int 0x80", "xchg rbx, {a0}",
            a0 = inout(reg) a0 as u64 => _, inlateout("rax") ret,
            in("rcx") 0u64, in("rdx") 0u64, options(nostack));
    }
    let r = ret as i32;
    if (-4095..0).contains(&r) {
        -r
    } else {
        0
    }
}
